"""``train-model`` then ``predict``: a family the network never saw, from its alignment alone.

The network trains on three embedded families (3a4rA, 2cviA, 2xcjA) and predicts 1lpbA,
which none of its training or validation families is; its native is used only afterwards,
to score the prediction, and by the runs that are given the structure on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sciml.config import domain_section
from tests.conftest import venv_env

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
TRAIN_FAMS = [
    {"name": "3a4rA", "alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/3a4rA.pdb.gz"},
    {"name": "2cviA", "alignment": "proteins/alignments/2cviA.a3m", "structure": "proteins/structures/2cviA.pdb.gz"},
    {"name": "2xcjA", "alignment": "proteins/alignments/2xcjA.fasta", "structure": "proteins/structures/2xcjA.pdb.gz"},
]
UNSEEN_ALN = DATA / "proteins/alignments/1lpbA.aln"
UNSEEN_PDB = DATA / "proteins/structures/1lpbA.pdb.gz"
TINY = {
    "families": TRAIN_FAMS, "threads": 1,
    "potts": {"epochs": 2, "max_sequences": 200, "batch_size": 100},
    "meanfield": {"max_sequences": 200},
    "network": {"max_epochs": 4, "channels": 6, "blocks": 1, "folds": 3, "accelerator": "cpu", "val_families": 1},
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def family_dirs(tmp_path_factory):
    """Coevolution folders of TRAIN_FAMS (the TINY settings), shared by the networks below."""
    from sciml.proteins.steps import coevolution

    tmp = tmp_path_factory.mktemp("proteins_families")
    cfg = domain_section("proteins", json.dumps(TINY))
    for f in TRAIN_FAMS:
        coevolution(cfg, f["name"], tmp / f["name"], data_root=DATA, threads=1, log=lambda m: None)
    return [tmp / f["name"] for f in TRAIN_FAMS]


def _train(tmp: Path, family_dirs: list[Path], features: str) -> tuple[dict, Path]:
    from sciml.proteins.steps import train_model

    cfg = domain_section("proteins", json.dumps({**TINY, "network": {**TINY["network"], "features": features}}))
    meta = train_model(cfg, family_dirs, tmp / "model", tmp / "ckpt", threads=1, log=lambda m: None)
    assert sorted(meta["training"]["train_families"] + meta["training"]["val_families"]) == sorted(
        f["name"] for f in TRAIN_FAMS)
    return cfg, tmp / "model"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, family_dirs):
    """(cfg, model folder) of a tiny network trained on TRAIN_FAMS through the steps."""
    return _train(tmp_path_factory.mktemp("proteins_model"), family_dirs, "alignment")


@pytest.fixture(scope="module")
def trained_scores(tmp_path_factory, family_dirs):
    """The same network on the ``scores`` feature set (one coevolution matrix + the sequence)."""
    return _train(tmp_path_factory.mktemp("proteins_model_scores"), family_dirs, "scores")


def _native(length: int) -> np.ndarray:
    from sciml.proteins.query import load_query

    fam = load_query(UNSEEN_ALN, structure=UNSEEN_PDB)
    assert len(fam.sequence) == length
    return fam.native


def test_model_folder_loads_weights_only_and_records_its_training(trained):
    from sciml.proteins import saved_model

    _, model_dir = trained
    members, meta = saved_model.load_model(model_dir)
    assert len(members) == 1 and meta["format_version"] == saved_model.FORMAT_VERSION
    assert set(meta["training"]["scores_sha256"]) == {f["name"] for f in TRAIN_FAMS}
    assert all(len(v) == 64 for v in meta["training"]["scores_sha256"].values())
    assert meta["features"]["potts"]["max_sequences"] == 200  # the settings predict must reuse
    assert meta["features"]["potts"]["centered"] is True  # recorded, so predict refits in the same coordinates
    assert meta["features"]["potts"]["preconditioned"] is True
    assert "symmetric" in meta["features"]["potts"]  # recorded, so predict refits the same coupling model


def test_models_saved_before_centered_fields_refit_in_plain_coordinates(trained, monkeypatch):
    """A model.json without potts.centered / preconditioned (the shipped score refiner's) was trained on
    plain-coordinate fits from the identity start; one without potts.symmetric on asymmetric fits."""
    from sciml.proteins import family as fam_io
    from sciml.proteins import predict as predict_mod
    from sciml.proteins import saved_model
    from sciml.proteins.query import load_query

    _, model_dir = trained
    members, meta = saved_model.load_model(model_dir)
    seen = []

    def fake_coevolution(fam, cfg, log=None):
        seen.append((cfg["potts"]["centered"], cfg["potts"]["preconditioned"], cfg["potts"]["symmetric"]))
        raise RuntimeError("stop here")

    monkeypatch.setattr(fam_io, "coevolution", fake_coevolution)
    fam = load_query(UNSEEN_ALN)
    old = {**meta, "features": {**meta["features"], "potts": {k: v for k, v in meta["features"]["potts"].items()
                                                             if k not in ("centered", "preconditioned", "symmetric")}}}
    flipped = {**meta, "features": {**meta["features"], "potts": {**meta["features"]["potts"],
                                                                  "symmetric": not meta["features"]["potts"]["symmetric"]}}}
    for m in (meta, old, flipped):
        with pytest.raises(RuntimeError, match="stop here"):
            predict_mod.predict_target(fam, members, m)
    sym = meta["features"]["potts"]["symmetric"]
    assert seen == [(True, True, sym), (False, False, False), (True, True, not sym)]
    assert (model_dir / "logs" / "version_0" / "metrics.csv").is_file()


def test_predict_unseen_family_from_alignment_alone_beats_separation_baseline(trained, tmp_path):
    from sciml.proteins.metrics import casp_precision, read_casp_rr
    from sciml.proteins.steps import predict
    from sciml.proteins.steps.predict import separation_baseline

    cfg, model_dir = trained
    m = predict(cfg, model_dir, {"name": "new", "alignment": str(UNSEEN_ALN)}, tmp_path / "new", threads=1,
                log=lambda s: None)
    assert m["structure"] is False and "network" not in m
    L = m["length"]
    assert m["depth"]["n_seqs"] == 500 and m["depth"]["n_eff"] > 1 and 0 < m["depth"]["coverage"] <= 1
    rr = tmp_path / "new/prediction/new.rr"
    text = rr.read_text().splitlines()
    assert text[0] == "PFRMAT RR" and text[-1] == "END"
    probs_rr = read_casp_rr(rr, L)
    listed = probs_rr[np.isfinite(probs_rr)]
    assert len(listed) == 2 * 5 * L and listed.min() >= 0.0 and listed.max() <= 1.0
    with np.load(tmp_path / "new/prediction/new.contacts.npz") as z:
        probs = z["probs"]
        assert str(z["sequence"]) and probs.shape == (L, L)
    assert np.allclose(probs, probs.T, equal_nan=True) and 0.0 <= np.nanmin(probs) and np.nanmax(probs) <= 1.0
    # no network trains on pairs closer than 6: the array gives no probability there, only beyond
    sep = np.abs(np.subtract.outer(np.arange(L), np.arange(L)))
    assert np.isnan(probs[sep < 6]).all() and np.isfinite(probs[sep >= 6]).all()
    # the RR lists the array's values (5 decimals), not a rescaling of them
    i, j = np.argwhere(np.isfinite(np.triu(probs_rr)))[0]
    assert probs_rr[i, j] == pytest.approx(probs[i, j], abs=1e-5)
    assert (tmp_path / "new/prediction/new.contact_map.png").stat().st_size > 5000
    section = json.loads((tmp_path / "new/section.json").read_text())
    assert section["figures"] and section["tables"][0]["title"] == "Alignment depth"
    # scored afterwards against the native nobody gave predict
    native = _native(L)
    net, base = casp_precision(probs, native), casp_precision(separation_baseline(L), native)
    assert net["long_L/5"] >= base["long_L/5"] + 0.2, (net, base)
    assert net["long_L"] > base["long_L"] and net["medium_L/5"] > base["medium_L/5"], (net, base)


def test_predict_with_structure_adds_casp_metrics(trained, tmp_path):
    from sciml.proteins.steps import predict

    cfg, model_dir = trained
    m = predict(cfg, model_dir, {"name": "1lpbA", "alignment": str(UNSEEN_ALN), "structure": str(UNSEEN_PDB)},
                tmp_path / "st", threads=1, log=lambda s: None)
    assert m["structure"] is True and m["identity"] == 1.0
    assert m["network"]["long_L/5"] > m["separation_baseline"]["long_L/5"]
    section = json.loads((tmp_path / "st/section.json").read_text())
    assert [t["title"] for t in section["tables"]][1] == "CASP precision against the given structure"


def test_a_query_the_model_was_trained_on_is_flagged(trained, tmp_path):
    """A training protein predicted again (here under a new name, from a copy of its alignment) is a warning,
    not a silent 'held-out' score; a protein the model never saw is not flagged."""
    import shutil

    from sciml.proteins.steps import predict
    from sciml.proteins.steps.predict import check_training_overlap

    cfg, model_dir = trained
    meta = json.loads((model_dir / "model.json").read_text())
    assert sorted(meta["training"]["sequences"]) == sorted(f["name"] for f in TRAIN_FAMS)
    copy = tmp_path / "renamed_protein.aln"
    shutil.copy(DATA / TRAIN_FAMS[0]["alignment"], copy)
    m = predict(cfg, model_dir, {"name": "renamed", "alignment": str(copy)}, tmp_path / "again", threads=1,
                log=lambda s: None)
    assert m["training_overlap"]["family"] == TRAIN_FAMS[0]["name"] and m["training_overlap"]["identity"] == 1.0
    assert any("a training protein of this model" in w for w in m["warnings"])
    section = json.loads((tmp_path / "again/section.json").read_text())
    assert any(TRAIN_FAMS[0]["name"] in w and "not a held-out estimate" in w for w in section["warnings"])
    new = predict(cfg, model_dir, {"name": "new", "alignment": str(UNSEEN_ALN)}, tmp_path / "new", threads=1,
                  log=lambda s: None)
    assert new["training_overlap"] == {"checked": True, "threshold": 0.4, "family": None}
    assert not any("training protein" in w for w in new["warnings"])
    # a model saved without its training sequences (the packaged one) says it was not checked
    assert check_training_overlap("ACDEF", {"training": {"train_families": ["x"]}})["checked"] is False


def test_section_shows_the_trained_model_once_with_its_training_record(trained, family_dirs, tmp_path):
    """Targets predicted with the network train-model wrote: the proteins section shows it once, with the
    sha256 of model.pt, the training families with the sha256 of the scores.npz they were trained on (the
    train step's provenance records the same), the seed and the train step's provenance.json; each
    target's own section names the model only."""
    from sciml.io import sha256_file
    from sciml.proteins.steps import predict, section

    cfg, model_dir = trained
    for name in ("a", "b"):
        m = predict(cfg, model_dir, {"name": name, "alignment": str(UNSEEN_ALN)}, tmp_path / name, threads=1,
                    log=lambda s: None)
        assert m["model"]["packaged"] is False and m["model"]["meta_sha256"] == sha256_file(model_dir / "model.json")
        own = json.loads((tmp_path / name / "section.json").read_text())
        assert [t["rows"] for t in own["tables"] if t["title"] == "Model"] == [
            [["contact network", str(model_dir), sha256_file(model_dir / "model.pt")]]]
        assert not any(t["title"].startswith("Training families") for t in own["tables"])
    out = section(cfg, family_dirs, tmp_path / "section", target_dirs=[tmp_path / "a", tmp_path / "b"])
    assert out["models"] == 1
    sec = json.loads((tmp_path / "section/section.json").read_text())
    (models,) = [t for t in sec["tables"] if t["title"] == "Models used by the prediction targets"]
    row = dict(zip(models["columns"], models["rows"][0]))
    sha = sha256_file(model_dir / "model.pt")
    assert len(models["rows"]) == 1 and row["model.pt sha256"] == sha and row["targets"] == "a, b"
    assert row["source"] == f"model folder {model_dir}" and row["seeds"] == "0" and row["training families"] == 3
    (fams,) = [t for t in sec["tables"] if t["title"] == f"Training families of model {sha[:12]}"]
    scores = {d.name: sha256_file(d / "scores.npz") for d in family_dirs}
    assert {r[0]: r[2] for r in fams["rows"]} == scores
    train_prov = json.loads((model_dir / "provenance.json").read_text())
    assert set(scores.values()) <= set(train_prov["inputs_sha256"].values())
    assert any(p for p in sec["provenance"] if (tmp_path / "section" / p).resolve() == (model_dir / "provenance.json"))
    # trained without --cv-dir: no cross-validation to show, and the section says so
    assert any(f"model {sha[:12]}: no cross-validation recorded" in w for w in sec["warnings"])


def test_external_score_matrix_replaces_the_potts_fit(trained, tmp_path):
    """A CCMpred-style plain L x L matrix (here the APC scores of a mean-field fit written as text)."""
    from sciml.proteins import meanfield
    from sciml.proteins.query import load_query
    from sciml.proteins.steps import predict

    cfg, model_dir = trained
    fam = load_query(UNSEEN_ALN)
    s = meanfield.fit(fam.X, max_sequences=200)["scores"]
    mat = tmp_path / "ext.mat"
    np.savetxt(mat, np.nan_to_num(s, nan=0.0), fmt="%.6f")
    m = predict(cfg, model_dir, {"name": "ext", "alignment": str(UNSEEN_ALN), "scores": str(mat),
                                 "structure": str(UNSEEN_PDB)}, tmp_path / "ext", threads=1, log=lambda s: None)
    assert m["coevolution_source"] == "external score matrix"
    assert m["network"]["long_L/5"] > m["separation_baseline"]["long_L/5"]
    with np.load(tmp_path / "ext/prediction/ext.contacts.npz") as z:
        assert np.allclose(np.nan_to_num(z["coevolution"]), np.nan_to_num(s), atol=1e-5)


def test_scores_network_refines_an_external_matrix_from_the_sequence_alone(trained_scores, tmp_path):
    """A GREMLIN-style use: only the query's sequence (a one-row FASTA) and an L x L matrix computed
    elsewhere (here the unseen family's Potts fit, written as text); no alignment, no structure."""
    from sciml.proteins import family as fam_io
    from sciml.proteins import saved_model
    from sciml.proteins.metrics import casp_precision, read_casp_rr
    from sciml.proteins.query import load_query
    from sciml.proteins.steps import predict
    from sciml.proteins.steps.predict import separation_baseline

    cfg, model_dir = trained_scores
    members, meta = saved_model.load_model(model_dir)
    assert meta["features"]["name"] == saved_model.SCORE_FEATURES and meta["features"]["channels"] == 47
    assert saved_model.feature_set(meta) == "scores"
    fam = load_query(UNSEEN_ALN)
    scores = fam_io.coevolution(fam, {"potts": cfg["potts"], "meanfield": cfg["meanfield"], "seed": 0})["potts"]
    mat = tmp_path / "ext.gremlin"
    np.savetxt(mat, np.nan_to_num(scores, nan=0.0), fmt="%.6f")
    fasta = tmp_path / "query.fasta"
    fasta.write_text(f">query\n{fam.sequence}\n")
    m = predict(cfg, model_dir, {"name": "q", "alignment": str(fasta), "scores": str(mat)}, tmp_path / "q",
                threads=1, log=lambda s: None)
    assert "skipped" not in m, m
    assert m["model"]["kind"] == "contact network" and m["coevolution_source"] == "external score matrix"
    assert m["depth"]["n_seqs"] == 1 and any("only the sequence was given" in w for w in m["warnings"])
    L = m["length"]
    listed = read_casp_rr(tmp_path / "q/prediction/q.rr", L)
    listed = listed[np.isfinite(listed)]
    assert listed.min() >= 0.0 and listed.max() <= 1.0
    with np.load(tmp_path / "q/prediction/q.contacts.npz") as z:
        probs = z["probs"]
        assert "meanfield" not in z.files
    native = _native(L)
    net, base = casp_precision(probs, native), casp_precision(separation_baseline(L), native)
    assert net["long_L/5"] >= base["long_L/5"] + 0.2, (net, base)
    # the refinement reads the matrix: shuffling it destroys the prediction
    rng = np.random.default_rng(0)
    perm = rng.permutation(L)
    np.savetxt(mat, np.nan_to_num(scores, nan=0.0)[np.ix_(perm, perm)], fmt="%.6f")
    m2 = predict(cfg, model_dir, {"name": "s", "alignment": str(fasta), "scores": str(mat)}, tmp_path / "s",
                 threads=1, log=lambda s: None)
    with np.load(tmp_path / "s/prediction/s.contacts.npz") as z:
        shuffled = casp_precision(z["probs"], native)
    assert shuffled["long_L/5"] < net["long_L/5"] - 0.2, (shuffled, net)
    assert m2["length"] == L


def test_single_sequence_with_scores_needs_a_scores_network(trained, tmp_path):
    """The alignment network cannot refine a matrix from one sequence: the target is skipped, and the
    reason points at the scores feature set."""
    from sciml.proteins.steps import predict

    cfg, model_dir = trained
    fasta, mat = tmp_path / "q.fasta", tmp_path / "q.mat"
    seq = "ACDEFGHIKLMNPQRSTVWY"
    fasta.write_text(f">q\n{seq}\n")
    np.savetxt(mat, np.random.default_rng(0).random((len(seq), len(seq))))
    m = predict(cfg, model_dir, {"name": "q", "alignment": str(fasta), "scores": str(mat)}, tmp_path / "q",
                threads=1, log=lambda s: None)
    assert "single sequence with external scores" in m["skipped"] and "features: scores" in m["skipped"]
    assert str(fasta) in m["skipped"]


def test_memory_estimate_counts_the_lbfgs_copies():
    """The planned memory grows as (6 + 2 history) (21 L)^2 float32 for the Potts fit; without a fit
    (external scores) only the features and the interpreter remain."""
    from sciml.proteins.predict import memory_estimate_gb

    P = (21 * 500) ** 2 + 21 * 500
    with_fit, without = memory_estimate_gb(500, 5, True), memory_estimate_gb(500, 5, False)
    assert with_fit - without == pytest.approx(16 * P * 4 / 2**30)
    assert 7.0 < with_fit < 8.0 and without < 1.1
    assert memory_estimate_gb(500, 3, True) < with_fit
    # symmetric couplings: the start W and two full-size scratch vectors, the other 5 + 2 history at half size
    assert memory_estimate_gb(500, 5, True, symmetric=True) - without == pytest.approx(10.5 * P * 4 / 2**30)


def test_score_list_formats(tmp_path):
    from sciml.errors import DataError
    from sciml.proteins.predict import read_score_matrix

    (tmp_path / "a.txt").write_text("# i j score\n1 3 0.5\n2 4 0.25\n")
    m = read_score_matrix(tmp_path / "a.txt", 4)
    assert m[0, 2] == m[2, 0] == 0.5 and m[1, 3] == 0.25 and np.isnan(m[0, 1])
    (tmp_path / "plmc.txt").write_text("1 A 4 C 0 0.75\n")
    assert read_score_matrix(tmp_path / "plmc.txt", 4)[0, 3] == 0.75
    (tmp_path / "bad.txt").write_text("1 9 0.5\n")
    with pytest.raises(DataError, match=r"bad.txt \(record line 1\): residue index 9 outside 1..4"):
        read_score_matrix(tmp_path / "bad.txt", 4)
    (tmp_path / "wide.txt").write_text("0 1 2 3 4\n" * 5)
    with pytest.raises(DataError, match="not a 4 x 4 .*matrix"):
        read_score_matrix(tmp_path / "wide.txt", 4)


def test_score_files_from_other_tools_as_users_write_them(tmp_path):
    """A CCMpred matrix over every alignment column, plmc numbered from its focus start, CSV with a BOM."""
    from sciml.errors import DataError
    from sciml.proteins.predict import read_score_matrix

    full = np.arange(36, dtype=float).reshape(6, 6)
    full = full + full.T
    (tmp_path / "all.mat").write_text("\n".join(" ".join(f"{v:g}" for v in row) for row in full) + "\n")
    cols = np.array([0, 2, 3, 5])  # the query has gaps in alignment columns 1 and 4
    notes: list[str] = []
    m = read_score_matrix(tmp_path / "all.mat", 4, alignment_columns=cols, alignment_length=6, notes=notes)
    assert m[0, 1] == full[0, 2] and m[2, 3] == full[3, 5] and np.isnan(m[1, 1])
    assert "all 6 alignment columns" in notes[0]
    with pytest.raises(DataError, match=r"not a 4 x 4 .* or 7 x 7 .* matrix"):
        read_score_matrix(tmp_path / "all.mat", 4, alignment_columns=cols, alignment_length=7)
    # plmc numbers from the focus sequence's start (here 101): the letters show the offset
    (tmp_path / "plmc.txt").write_text("101 M 103 K 0 0.5\n102 A 104 W 0 0.25\n")
    notes = []
    m = read_score_matrix(tmp_path / "plmc.txt", 4, sequence="MAKW", notes=notes)
    assert m[0, 2] == 0.5 and m[1, 3] == 0.25 and "from 101" in notes[0]
    with pytest.raises(DataError, match=r"residue 1 is 'M' in the file but 'G' in the query"):
        (tmp_path / "wrong.txt").write_text("1 M 3 K 0 0.5\n")
        read_score_matrix(tmp_path / "wrong.txt", 4, sequence="GAKW")
    # a CSV matrix saved with a byte-order mark
    (tmp_path / "m.csv").write_text("\ufeff0,1,2\n1,0,3\n2,3,0\n", encoding="utf-8")
    assert read_score_matrix(tmp_path / "m.csv", 3)[1, 2] == 3.0


def test_bad_targets_are_skipped_with_a_clear_reason(trained, tmp_path):
    from sciml.proteins.steps import predict

    cfg, model_dir = trained
    cases = {
        "noquery": ({"query": "no_such_row"}, "no alignment row named 'no_such_row'"),
        "wrongpdb": ({"structure": str(DATA / "proteins/structures/2cviA.pdb.gz")},
                     "does not match the query of .*identity"),
        "toolong": ({"max_length": 50}, "query length 85 is above the limit of 50"),
        "toobig": ({"max_length": 5000}, "query length 85 needs about .* GiB, above proteins.max_memory_gb = 0.5"),
        "missing": ({"alignment": str(tmp_path / "nope.aln")}, "nope.aln: file not found"),
    }
    for name, (extra, message) in cases.items():
        run_cfg = {**cfg, "max_memory_gb": 0.5} if name == "toobig" else cfg
        m = predict(run_cfg, model_dir, {"name": name, "alignment": str(UNSEEN_ALN), **extra}, tmp_path / name,
                    threads=1, log=lambda s: None)
        assert "skipped" in m, name
        import re
        assert re.search(message, m["skipped"]), (name, m["skipped"])
        assert not any((tmp_path / name / "prediction").iterdir())
        section = json.loads((tmp_path / name / "section.json").read_text())
        assert any(name in w and "skipped" in w for w in section["warnings"])


def test_single_sequence_without_a_sequence_model_is_refused_clearly(trained, tmp_path):
    """One sequence carries no coevolution: without a sequence-only model the target is
    skipped with the reason and what to do."""
    from sciml.proteins.steps import predict

    cfg, model_dir = trained
    seq = UNSEEN_ALN.read_text().splitlines()[0]
    one = tmp_path / "one.fasta"
    one.write_text(f">q\n{seq}\n")
    m = predict(cfg, model_dir, {"name": "one", "alignment": str(one)}, tmp_path / "one", threads=1, log=lambda s: None)
    assert "one.fasta" in m["skipped"] and "only a single sequence" in m["skipped"]
    assert "--sequence-model-dir" in m["skipped"]


SEQ_TINY = {"threads": 1, "sequence_model": {"max_train": 150, "max_val": 25, "max_epochs": 2, "channels": 8,
                                              "blocks": 2, "accelerator": "cpu"}}


@pytest.fixture(scope="module")
def sequence_model(tmp_path_factory, shared_data):
    """(cfg, model folder) of a small sequence-only model trained on cgdms chains through the step."""
    from sciml.proteins.steps import train_sequence_model

    tmp = tmp_path_factory.mktemp("proteins_sequence_model")
    cfg = domain_section("proteins", json.dumps(SEQ_TINY))
    meta = train_sequence_model(cfg, tmp / "model", tmp / "ckpt", data_root=shared_data, threads=1,
                                log=lambda m: None)
    assert meta["training"]["n_train"] == 150 and meta["training"]["n_val"] == 25
    return cfg, tmp / "model"


def test_sequence_model_saves_and_loads_weights_only(sequence_model):
    from sciml.proteins import saved_model

    _, model_dir = sequence_model
    members, meta = saved_model.load_model(model_dir)
    assert saved_model.is_sequence_model(meta) and len(members) == 1
    assert meta["features"]["channels"] == 45 and set(meta["training"]["split_sha256"]) == {"train.txt", "val.txt"}
    assert meta["training"]["pos_weight"] > 0
    # provenance records what the training read, not the network's or the families' schema defaults
    prov = json.loads((model_dir / "provenance.json").read_text())
    assert set(prov["config"]) == {"seed", "threads", "sequence_model"}


def test_sequence_model_keeps_its_training_sequences_for_the_overlap_check(sequence_model, tmp_path):
    """train-sequence-model stores its chains' sequences as train-model does: a training chain given to
    predict is flagged, not reported as 'not compared'."""
    from sciml.proteins import saved_model
    from sciml.proteins.steps import predict

    cfg, model_dir = sequence_model
    _, meta = saved_model.load_model(model_dir)
    seqs = meta["training"]["sequences"]
    assert len(seqs) == 175 and all(set(s) <= set("ACDEFGHIKLMNPQRSTVWY") for s in seqs.values())
    pid, seq = sorted(seqs.items())[0]
    (tmp_path / "one.fasta").write_text(f">{pid}\n{seq}\n")
    m = predict(cfg, None, {"name": "one", "alignment": str(tmp_path / "one.fasta")}, tmp_path / "out",
                sequence_model_dir=model_dir, threads=1, log=lambda _: None)
    assert m["training_overlap"]["checked"] and m["training_overlap"]["family"] == pid
    assert m["training_overlap"]["identity"] == 1.0
    assert any(f"identical over {len(seq)} residues to {pid}" in w for w in m["warnings"])


def test_single_sequences_are_predicted_by_the_sequence_model(trained, sequence_model, tmp_path):
    """Plain FASTA of one sequence each (embedded families the model never trained on: cgdms
    chains only): RR in [0, 1], the section says the sequence model was used, and summed over
    the four proteins its top pairs at |i-j| >= 12 beat the separation-only ranking."""
    from sciml.proteins.metrics import read_casp_rr
    from sciml.proteins.steps import predict

    cfg, model_dir = trained
    _, seq_dir = sequence_model
    net_hits = sep_hits = 0.0
    for name, aln, pdb in [(f["name"], f["alignment"], f["structure"]) for f in TRAIN_FAMS] + [
            ("1lpbA", "proteins/alignments/1lpbA.aln", "proteins/structures/1lpbA.pdb.gz")]:
        from sciml.proteins.query import load_query

        seq = load_query(DATA / aln).sequence
        fasta = tmp_path / f"{name}.fasta"
        fasta.write_text(f">{name}\n{seq}\n")
        m = predict(cfg, model_dir, {"name": name, "alignment": str(fasta), "structure": str(DATA / pdb),
                                     "min_identity": 0.5}, tmp_path / name, sequence_model_dir=seq_dir, threads=1,
                    log=lambda s: None)
        assert "skipped" not in m, m
        assert m["model"]["kind"] == "sequence-only" and "coevolution" not in m
        assert any("sequence-only model" in w for w in m["warnings"])
        L = m["length"]
        rr = read_casp_rr(tmp_path / name / "prediction" / f"{name}.rr", L)
        probs = rr[np.isfinite(rr)]
        assert len(probs) > 0 and ((probs >= 0) & (probs <= 1)).all()
        for key in ("medium_L/5", "long_L/5"):
            net_hits += m["network"][key] * max(1, L // 5)
            sep_hits += m["separation_baseline"][key] * max(1, L // 5)
    assert net_hits > sep_hits, (net_hits, sep_hits)
    # the proteins section shows the sequence-only model once, with the sha256 of its split lists
    from sciml.io import sha256_file
    from sciml.proteins.steps import section

    names = [f["name"] for f in TRAIN_FAMS] + ["1lpbA"]
    assert section(cfg, [], tmp_path / "section", target_dirs=[tmp_path / n for n in names])["models"] == 1
    sec = json.loads((tmp_path / "section/section.json").read_text())
    (models,) = [t for t in sec["tables"] if t["title"] == "Models used by the prediction targets"]
    sha = sha256_file(seq_dir / "model.pt")
    assert models["rows"][0][1] == "sequence-only" and models["rows"][0][3] == sha
    (data,) = [t for t in sec["tables"] if t["title"] == f"Training data of model {sha[:12]}"]
    meta = json.loads((seq_dir / "model.json").read_text())
    assert dict(data["rows"]) == meta["training"]["split_sha256"]


def test_sequence_model_given_as_network_is_refused(sequence_model, tmp_path):
    from sciml.errors import DataError
    from sciml.proteins.steps import predict

    cfg, seq_dir = sequence_model
    with pytest.raises(DataError, match="sequence-only model but was given as the contact network"):
        predict(cfg, seq_dir, {"name": "x", "alignment": str(UNSEEN_ALN)}, tmp_path / "x", threads=1, log=lambda s: None)


def test_cli_predict_exit_codes(trained, tmp_path):
    cfg, model_dir = trained

    def run(*args):
        return subprocess.run([sys.executable, "-m", "sciml.cli", "proteins", "predict", "--config-json",
                               json.dumps(TINY), "--model-dir", str(model_dir), "--threads", "1", *args],
                              capture_output=True, text=True, env=venv_env(), cwd=tmp_path, timeout=600)

    ok = run("--alignment", str(UNSEEN_ALN), "--out-dir", "out")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert (tmp_path / "out/prediction/1lpbA.rr").is_file()
    bad = run("--alignment", str(UNSEEN_ALN), "--query", "nope", "--out-dir", "bad")
    assert bad.returncode == 3 and "no alignment row named 'nope'" in bad.stderr
    nomodel = subprocess.run([sys.executable, "-m", "sciml.cli", "proteins", "predict", "--model-dir", str(tmp_path),
                              "--alignment", str(UNSEEN_ALN), "--out-dir", "x"], capture_output=True, text=True,
                             env=venv_env(), cwd=tmp_path, timeout=600)
    assert nomodel.returncode != 0 and "no model.json" in nomodel.stderr
