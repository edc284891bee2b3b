"""Means over families say over how many: a family with no scorable pair in a range (a chain too
short for long-range pairs) drops out of that range's mean, and the mean-precision table of the
proteins section, the cross-validation means and the psicov150 block record it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sciml.config import domain_section
from sciml.proteins import metrics
from tests.proteins.test_family_readers import scored_family

KEYS = [f"{r}_{t}" for r in metrics.RANGES for t in metrics.TOPS]


def _precisions(L: int, seed: int = 0) -> dict[str, float | None]:
    rng = np.random.default_rng(seed)
    nat = np.triu((rng.random((L, L)) < 0.1).astype(float), 1)
    nat += nat.T
    s = rng.random((L, L))
    return metrics.casp_precision((s + s.T) / 2, nat)


def test_mean_counts_and_left_out() -> None:
    long_, short = _precisions(60), _precisions(20, seed=1)
    assert short["long_L/5"] is None and short["short_L/5"] is not None
    counts = metrics.mean_counts([long_, short])
    assert counts == {k: (1 if k.startswith("long") else 2) for k in KEYS}
    assert metrics.left_out({"famA": long_, "famB": short}) == {k: ["famB"] for k in KEYS if k.startswith("long")}
    nan = {**long_, "short_L": float("nan")}
    assert metrics.mean_counts([nan])["short_L"] == 0 and metrics.left_out({"x": nan}) == {"short_L": ["x"]}
    assert metrics.mean_counts([]) == {} and metrics.left_out({}) == {}
    # the means themselves are unchanged
    assert metrics.mean_metrics([long_, short])["long_L/5"] == long_["long_L/5"]


def test_cv_summary_records_the_counts_beside_unchanged_means() -> None:
    from sciml.proteins import train

    per = {"famA": _precisions(60), "famB": _precisions(20, seed=1), "famC": _precisions(50, seed=2)}
    cv = {"per_family": {n: {"network": p, "potts": p, "meanfield": p, "network_members": [p, p]}
                         for n, p in per.items()}}
    out = train.summarise(cv, 2)
    assert out["mean"]["network"] == metrics.mean_metrics([per[n] for n in sorted(per)])
    for m in ("network", "potts", "meanfield"):
        assert out["mean_counts"][m]["long_L/5"] == 2 and out["mean_counts"][m]["short_L"] == 3
        assert out["mean_left_out"][m]["long_L"] == ["famB"] and "short_L" not in out["mean_left_out"][m]
    assert [c["long_L/2"] for c in out["member_mean_counts"]] == [2, 2]
    json.dumps(out)  # still JSON (metrics.json)


def test_section_mean_table_says_which_means_cover_fewer_families(tmp_path: Path) -> None:
    from sciml.proteins.steps import section

    fams = [scored_family(tmp_path / "pfam", "famA", 60), scored_family(tmp_path / "pfam", "famB", 20, seed=1),
            scored_family(tmp_path / "pfam", "famC", 50, seed=2)]
    # the cross-validation held out famA and famB only
    rec = {n: {"network": _precisions(L, seed=7), "potts": {}, "meanfield": {}}
           for n, L in (("famA", 60), ("famB", 20))}
    (tmp_path / "cv").mkdir()
    (tmp_path / "cv/metrics.json").write_text(json.dumps({"per_family": rec, "folds": [{}]}))
    out = section(domain_section("proteins"), fams, tmp_path / "out", cv_dir=tmp_path / "cv")
    assert out["families"] == 3
    counts = out["mean_counts"]
    assert counts["Potts (plm)"]["long_L/5"] == 2 and counts["Potts (plm)"]["short_L/5"] == 3
    assert counts["network (held out)"]["long_L"] == 1 and counts["network (held out)"]["short_L"] == 2

    sec = json.loads((tmp_path / "out/section.json").read_text())
    assert sec["summary"].startswith("3 families scored")
    table = next(t for t in sec["tables"] if t["title"] == "Mean precision over families (all ranges)")
    note = table["note"]
    assert "Potts (plm): long_L/5, long_L/2, long_L over 2 of 3 families (left out: famB)" in note
    assert "mean-field DCA: long_L/5, long_L/2, long_L over 2 of 3 families (left out: famB)" in note
    assert ("network (held out): short_L/5, short_L/2, short_L, medium_L/5, medium_L/2, medium_L over 2 of 3 "
            "families (left out: famC)") in note
    assert "network (held out): long_L/5, long_L/2, long_L over 1 of 3 families (left out: famB, famC)" in note
    # the means themselves are unchanged: famA's long-range precision alone
    potts = next(r for r in table["rows"] if r[0] == "Potts (plm)")
    famA = json.loads((fams[0] / "metrics.json").read_text())["potts"]
    famC = json.loads((fams[2] / "metrics.json").read_text())["potts"]
    assert potts[1 + KEYS.index("long_L/5")] == metrics.mean_metrics([famA, famC])["long_L/5"]


def test_section_note_is_unchanged_when_every_mean_covers_all_families(tmp_path: Path) -> None:
    from sciml.proteins.steps import section

    fams = [scored_family(tmp_path / "pfam", n, 60, seed=i) for i, n in enumerate(("famA", "famB"))]
    out = section(domain_section("proteins"), fams, tmp_path / "out")
    assert all(n == 2 for c in out["mean_counts"].values() for n in c.values())
    sec = json.loads((tmp_path / "out/section.json").read_text())
    table = next(t for t in sec["tables"] if t["title"] == "Mean precision over families (all ranges)")
    assert table["note"] == "short 6-11, medium 12-23, long >= 24 residues of separation"


def test_psicov150_block_counts_each_mean(tmp_path: Path, monkeypatch) -> None:
    """The sequence model's PSICOV150 means (``n`` proteins) carry ``mean_counts``: a chain too short for
    long-range pairs is not in the long-range means. Training and the data are stubbed (no CGDMS)."""
    import types

    import torch

    import sciml.data
    import sciml.proteins.structures as structures
    from sciml.proteins import sequence_model as sm

    pdir = tmp_path / "psicov150" / "pdb_clean_chainA"
    pdir.mkdir(parents=True)
    lengths = {"p1": 60, "p2": 20, "p3": 40}
    for name in lengths:
        (pdir / f"{name}.pdb").write_text("")
    rng = np.random.default_rng(0)

    def fake_structure(path: Path) -> object:
        L = lengths[Path(path).stem]
        return types.SimpleNamespace(cb=rng.random((L, 3)) * 10 * np.arange(L)[:, None] ** 0.3, length=L,
                                     sequence="A" * L)

    def module(x: torch.Tensor) -> torch.Tensor:
        L = x.shape[-1]
        return torch.as_tensor(rng.random((1, L, L)))

    fit = types.SimpleNamespace(module=module, epochs_trained=1)
    monkeypatch.setattr(sciml.data, "resolve", lambda name, root=None: tmp_path / "psicov150")
    monkeypatch.setattr(structures, "read_structure", fake_structure)
    monkeypatch.setattr(sm, "train_sequence_model", lambda *a, **k: {"fit": fit, "train": [], "n_train": 0,
                                                                     "n_val": 0, "skipped": []})
    monkeypatch.setattr(sm, "separation_prior", lambda train: np.linspace(1.0, 0.0, 1000))
    res = sm.train_and_evaluate({}, None, tmp_path / "out", tmp_path / "ckpt", log=lambda m: None)
    block = res["psicov150"]
    assert block["n"] == 3
    per = res["per_protein"]["sequence_network"]
    assert block["sequence_network"] == metrics.mean_metrics(list(per.values()))  # unchanged
    for method in ("sequence_network", "separation_baseline"):
        counts = block["mean_counts"][method]
        assert counts["long_L/5"] == 2 and counts["short_L/5"] == 3, counts


def test_a_fold_validated_on_its_training_families_is_warned(tmp_path: Path) -> None:
    """4 families in 2 folds leave nothing to hold out for validation (fold_split then validates on the training
    families): the best epoch is picked on data the model trained on, and the report says so."""
    from sciml.proteins.steps import section
    from sciml.proteins.train import fold_split

    names = ["famA", "famB", "famC", "famD"]
    test, val, train = fold_split(names, 0, 2, 3)
    assert set(val) <= set(train)
    fams = [scored_family(tmp_path / "pfam", n, 40, seed=i) for i, n in enumerate(names)]
    rec = {n: {"network": _precisions(40, seed=7), "potts": {}, "meanfield": {}} for n in names}
    folds = [{"fold": 0, "test": test, "val": val, "train": train},
             {"fold": 1, "test": ["famB", "famD"], "val": ["famA"], "train": ["famC"]}]
    (tmp_path / "cv").mkdir()
    (tmp_path / "cv/metrics.json").write_text(json.dumps({"per_family": rec, "folds": folds}))
    section(domain_section("proteins"), fams, tmp_path / "out", cv_dir=tmp_path / "cv")
    warnings = json.loads((tmp_path / "out/section.json").read_text())["warnings"]
    assert any(w.startswith("cross-validation fold(s) [0]: too few families") for w in warnings), warnings


def test_the_family_table_shows_each_alignment_s_depth_and_warns_on_a_very_shallow_one(tmp_path: Path) -> None:
    """A target's section showed its alignment's depth; a training family's did not, nor warned when shallow."""
    from sciml.proteins.steps import section

    fams = [scored_family(tmp_path / "pfam", n, 60, seed=i) for i, n in enumerate(("deep", "thin"))]
    for d, n_seqs, n_eff in ((fams[0], 5000, 900.5), (fams[1], 12, 9.3)):
        m = json.loads((d / "metrics.json").read_text())
        (d / "metrics.json").write_text(json.dumps({**m, "n_seqs": n_seqs, "n_eff": n_eff}))
    section(domain_section("proteins"), fams, tmp_path / "out")
    sec = json.loads((tmp_path / "out/section.json").read_text())
    table = next(t for t in sec["tables"] if t["title"].startswith("Long-range (>= 24) precision per family"))
    assert table["columns"][:4] == ["family", "L", "sequences", "N_eff"]
    assert [r[:4] for r in table["rows"]] == [["deep", 60, 5000, 900.5], ["thin", 60, 12, 9.3]]
    shallow = [w for w in sec["warnings"] if "very shallow" in w]
    assert len(shallow) == 1 and "family thin" in shallow[0] and "N_eff 9.3 for L = 60" in shallow[0]
