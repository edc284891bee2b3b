"""The contact networks shipped inside the package: small, loadable with ``weights_only=True``,
documented by their model.json, and used by ``sciml proteins predict`` when no model is given.

The prediction checks run on proteins the packaged networks never trained on: the embedded
synthetic family 1lpbA and, with the shared data, the real family 1guuA (held out of their
training because PSICOV150 contains it).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import venv_env

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
GUU_ALN = SHARED / "proteins/msa_pairs/1guuA/1guuA.aln"
GUU_PDB = SHARED / "proteins/msa_pairs/1guuA/native_1guuA_clean.pdb"
GUU_ROW = "row4101"  # the full-length alignment row that is the structure's chain (row 1 is another protein)
SYN_ALN = REPO / "data/proteins/alignments/1lpbA.aln"
SYN_PDB = REPO / "data/proteins/structures/1lpbA.pdb.gz"


@pytest.mark.parametrize("kind", ["alignment", "scores"])
def test_packaged_networks_are_small_and_say_how_they_were_trained(kind):
    from sciml.proteins import saved_model

    d = saved_model.packaged_model_dir(kind)
    size = sum(p.stat().st_size for p in d.iterdir() if p.is_file())
    assert size < 5 * 2**20, size
    members, meta = saved_model.load_model(d)  # weights_only=True inside
    assert saved_model.feature_set(meta) == kind and len(members) == meta["ensemble"] >= 1
    train = meta["training"]["train_families"] + meta["training"]["val_families"]
    assert len(train) >= 20 and set(meta["training"]["scores_sha256"]) == set(train)
    # never trained on a PSICOV150 protein or a close homologue (the families the benchmark excluded)
    assert not {"1guuA", "1a3aA", "5ptpA", "PF00249", "PF00355", "PF00542"} & set(train)
    cv = meta["cross_validation"]["mean"]
    assert cv["network"]["long_L/5"] > cv["potts"]["long_L/5"]
    assert (d / "README.md").read_text().count("snakemake") >= 1


def _run_predict(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sciml", "proteins", "predict", *args, "--threads", "1"],
                          cwd=cwd, env=venv_env(), capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_predict_without_a_model_dir_uses_the_packaged_network(tmp_path):
    """An unseen (synthetic) family from its alignment alone; scored afterwards against its native."""
    from sciml.proteins.metrics import casp_precision
    from sciml.proteins.query import load_query
    from sciml.proteins.steps.predict import separation_baseline

    r = _run_predict(["--alignment", str(SYN_ALN), "--out-dir", str(tmp_path / "out")], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "shipped with sciml" in r.stderr
    m = json.loads((tmp_path / "out/metrics.json").read_text())
    assert m["model"]["kind"] == "contact network" and "pretrained" in m["model"]["dir"]
    assert m["model"]["packaged"] is True  # the section says it is the shipped network and shows its model.json
    # its model.json predates kept training sequences: the query is not compared with them, and it says so
    assert m["training_overlap"]["checked"] is False
    assert any("not compared with the model's training proteins" in w for w in m["warnings"])
    with np.load(tmp_path / "out/prediction/1lpbA.contacts.npz") as z:
        probs = z["probs"]
    native = load_query(SYN_ALN, structure=SYN_PDB).native
    net, base = casp_precision(probs, native), casp_precision(separation_baseline(len(probs)), native)
    assert net["long_L/5"] >= base["long_L/5"] + 0.3, (net, base)


@pytest.mark.slow
@pytest.mark.skipif(not GUU_ALN.is_file(), reason="needs ../shared/data (CI has it)")
def test_packaged_networks_on_a_real_family_they_never_saw(tmp_path):
    """1guuA (real MSA, held out of both networks' training): the alignment network from the alignment,
    and the score refiner from the sequence alone plus the Potts matrix the first run wrote."""
    from sciml.proteins.metrics import casp_precision
    from sciml.proteins.query import load_query
    from sciml.proteins.steps.predict import separation_baseline

    r = _run_predict(["--alignment", str(GUU_ALN), "--query", GUU_ROW, "--out-dir", str(tmp_path / "aln")], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    fam = load_query(GUU_ALN, query=GUU_ROW, structure=GUU_PDB)
    with np.load(tmp_path / "aln/prediction/1guuA.contacts.npz") as z:
        probs, potts = z["probs"], z["coevolution"]
    net = casp_precision(probs, fam.native)
    base = casp_precision(separation_baseline(len(probs)), fam.native)
    assert net["long_L/2"] >= base["long_L/2"] + 0.2, (net, base)
    # the refiner: a one-sequence FASTA and an L x L matrix, no alignment
    mat, fasta = tmp_path / "1guuA.mat", tmp_path / "1guuA.fasta"
    np.savetxt(mat, np.nan_to_num(potts, nan=0.0), fmt="%.6f")
    fasta.write_text(f">1guuA\n{fam.sequence}\n")
    r = _run_predict(["--alignment", str(fasta), "--scores", str(mat), "--out-dir", str(tmp_path / "ref")], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / "ref/metrics.json").read_text())
    assert m["depth"]["n_seqs"] == 1 and "score_refiner" in m["model"]["dir"]
    # what is measured of the packaged refiner's probabilities on another tool's matrices is said
    section = json.loads((tmp_path / "ref/section.json").read_text())
    assert any("over-confident" in w and "PSICOV150" in w for w in section["warnings"])
    with np.load(tmp_path / "ref/prediction/1guuA.contacts.npz") as z:
        refined = casp_precision(z["probs"], fam.native)
    assert refined["long_L/2"] >= base["long_L/2"] + 0.2, (refined, base)
