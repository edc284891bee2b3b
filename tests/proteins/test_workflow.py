"""Tiny end-to-end workflow, same-seed determinism and resume after a kill."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sciml.io import sha256_file
from tests.conftest import venv_env

REPO = Path(__file__).resolve().parents[2]

FAMS = [
    {"name": "3a4rA", "alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/3a4rA.pdb.gz"},
    {"name": "2cviA", "alignment": "proteins/alignments/2cviA.a3m", "structure": "proteins/structures/2cviA.pdb.gz"},
    {"name": "2xcjA", "alignment": "proteins/alignments/2xcjA.fasta", "structure": "proteins/structures/2xcjA.pdb.gz"},
    # a family whose structure does not match its alignment: skipped with a reason, not a crash
    {"name": "mismatch", "alignment": "proteins/alignments/3a4rA.aln", "structure": "proteins/structures/2cviA.pdb.gz"},
]
TINY = {
    "families": FAMS, "threads": 1,
    "potts": {"epochs": 2, "max_sequences": 200, "batch_size": 100},
    "meanfield": {"max_sequences": 200},
    "network": {"max_epochs": 3, "channels": 6, "blocks": 1, "folds": 3, "accelerator": "cpu"},
}


def _sciml(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True, env=venv_env(),
                          cwd=Path(__file__).resolve().parents[2], timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr[-4000:])
    return proc


@pytest.mark.slow
def test_tiny_workflow_determinism_and_resume(workflow_runner, tmp_path):
    workflow_runner({"domains": ["proteins"], "data_root": "data", "proteins": TINY},
                    targets=(str(tmp_path / "results/proteins/section/section.json"),))
    res = tmp_path / "results/proteins"
    section = json.loads((res / "section/section.json").read_text())
    assert section["domain"] == "proteins" and section["tables"][0]["rows"]
    assert any("mismatch skipped" in w for w in section["warnings"])
    assert "mismatch" in (res / "section/quarantine.csv").read_text()
    assert (res / "section/contact_maps.png").stat().st_size > 1000
    assert (res / "section/provenance.json").is_file()
    assert all((res / "section" / p).resolve().is_file() for p in section["provenance"])
    fam = json.loads((res / "families/3a4rA/metrics.json").read_text())
    assert 0.0 <= fam["potts"]["long_L/5"] <= 1.0
    assert (res / "families/3a4rA/rr/3a4rA.potts.rr").read_text().startswith("PFRMAT RR")
    mismatch = json.loads((res / "families/mismatch/metrics.json").read_text())
    assert mismatch["skipped"]
    # the exact files it was rejected for, with their sha256 (the workflow ran the step with --allow-skip)
    assert mismatch["inputs"]["structure"] == {
        "path": "data/proteins/structures/2cviA.pdb.gz", "sha256": sha256_file(REPO / "data/proteins/structures/2cviA.pdb.gz")}
    net = json.loads((res / "cross_validate/metrics.json").read_text())
    assert set(net["per_family"]) == {"3a4rA", "2cviA", "2xcjA"}
    assert net["skipped_families"] == ["mismatch"]  # left out of the CV, and said so
    assert 0.0 <= net["mean"]["network"]["long_L/5"] <= 1.0
    # calibration of the held-out probabilities, pooled over the families, shown in the report
    cal = net["calibration"]
    assert cal["pairs"] > 1000 and 0.0 < cal["contact_rate"] < 0.2
    assert sum(b["pairs"] for b in cal["reliability"]) == cal["pairs"] and 0.0 <= cal["ece"] <= 1.0
    assert any(t["title"].startswith("Calibration") for t in section["tables"])
    # the Potts/mean-field precisions of the CV and of the section are the coevolution step's numbers
    assert net["per_family"]["3a4rA"]["potts"] == fam["potts"]
    assert net["per_family"]["3a4rA"]["meanfield"] == fam["meanfield"]
    row = next(r for r in section["tables"][0]["rows"] if r[0] == "3a4rA")
    col = section["tables"][0]["columns"].index
    assert row[col("Potts long L/5")] == round(fam["potts"]["long_L/5"], 3)
    assert row[col("network (held out) long L/5")] == round(net["per_family"]["3a4rA"]["network"]["long_L/5"], 3)
    assert row[col("sequences")] == fam["n_seqs"] and row[col("N_eff")] == fam["n_eff"]
    assert (res / "cross_validate/folds/fold0/logs/version_0/metrics.csv").is_file()

    # the Potts fits get only what they read: a network edit reruns the network jobs, not the fits
    prov = json.loads((res / "families/3a4rA/provenance.json").read_text())
    assert set(prov["config"]) == {"seed", "threads", "min_identity", "potts", "meanfield", "families"}
    assert [f["name"] for f in prov["config"]["families"]] == ["3a4rA"]
    # the network's cross-validation records what it read: no target, predict limit or sequence-model default
    cv_prov = json.loads((res / "cross_validate/provenance.json").read_text())
    assert not {"targets", "max_length", "max_memory_gb", "sequence_model"} & set(cv_prov["config"])
    edited = {**TINY, "network": {**TINY["network"], "max_epochs": 4}}
    proc = workflow_runner({"domains": ["proteins"], "data_root": "data", "proteins": edited},
                           targets=(str(tmp_path / "results/proteins/section/section.json"),), extra_args=("-n",))
    planned = proc.stdout + proc.stderr
    assert "proteins_cross_validate" in planned and "proteins_coevolution" not in planned, planned[-3000:]
    # a predict-only limit or the sequence model's settings rerun neither the fits nor the network's training
    for key, value in (("max_length", 900), ("sequence_model", {**TINY.get("sequence_model", {}), "lr": 0.01})):
        proc = workflow_runner({"domains": ["proteins"], "data_root": "data", "proteins": {**TINY, key: value}},
                               targets=(str(tmp_path / "results/proteins/section/section.json"),), extra_args=("-n",))
        planned = proc.stdout + proc.stderr
        assert "proteins_cross_validate" not in planned and "proteins_coevolution" not in planned, (key, planned[-3000:])

    # same seed, fresh checkpoints -> byte-identical metrics; then a killed run resumes to the same metrics
    family_dirs = [str(res / f"families/{f['name']}") for f in FAMS]
    cfg = json.dumps(TINY)
    ref = (res / "cross_validate/metrics.json").read_bytes()

    def cv(config: str, out: str, ckpt: str) -> list[str]:
        return ["proteins", "cross-validate", "--config-json", config, "--family-dirs", *family_dirs,
                "--out-dir", str(tmp_path / out), "--checkpoint-dir", str(tmp_path / ckpt)]

    _sciml(*cv(cfg, "again", "ck_again"))
    assert (tmp_path / "again/metrics.json").read_bytes() == ref

    cmd = [sys.executable, "-m", "sciml.cli", *cv(cfg, "killed", "ck_kill")]
    proc = subprocess.Popen(cmd, env=venv_env(), cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if list((tmp_path / "ck_kill").rglob("fold0/last.ckpt")):
            proc.kill()
            break
        time.sleep(0.2)
    proc.wait()
    assert list((tmp_path / "ck_kill").rglob("fold0/last.ckpt")), "no checkpoint before the kill"
    _sciml(*cmd[3:])
    assert (tmp_path / "killed/metrics.json").read_bytes() == ref

    # seed ensemble of 2: member 0 is the run above (its checkpoints are reused, same metrics);
    # member 1 is exactly the single-model run with seed + 1 (which then finds its checkpoints)
    ens_cfg = json.dumps({**TINY, "network": {**TINY["network"], "ensemble": 2}})
    _sciml(*cv(ens_cfg, "ens", "ck_again"))
    ens = json.loads((tmp_path / "ens/metrics.json").read_text())
    single = json.loads(ref)
    assert ens["member_means"][0] == single["mean"]["network"]
    assert [m["seed"] for m in ens["folds"][0]["members"]] == [0, 1]
    assert [m["seed"] for m in ens["folds"][1]["members"]] == [1, 2]  # the seeds fold 1 trained with (seed + m + k)
    assert (tmp_path / "ens/folds/fold0/members/member_1/logs/version_0/metrics.csv").is_file()
    member_dirs = sorted(p.name for p in (tmp_path / "ck_again/proteins_network").iterdir())
    assert len(member_dirs) == 2
    seed1 = json.dumps({**TINY, "seed": 1})
    _sciml(*cv(seed1, "seed1", "ck_again"))
    assert sorted(p.name for p in (tmp_path / "ck_again/proteins_network").iterdir()) == member_dirs
    assert json.loads((tmp_path / "seed1/metrics.json").read_text())["mean"]["network"] == ens["member_means"][1]
    assert all(len(ens["per_family"][n]["network_members"]) == 2 for n in ens["per_family"])


@pytest.mark.slow
def test_workflow_predicts_configured_targets_with_and_without_structure(workflow_runner, tmp_path):
    """proteins.targets: one predict job per target, through the Snakefile to the report.
    1lpbA is no training family; one target has no structure, one has it, one is broken
    (its query row does not exist) and is skipped without stopping the others."""
    targets = [
        {"name": "new1lpb", "alignment": "proteins/alignments/1lpbA.aln"},
        {"name": "scored1lpb", "alignment": "proteins/alignments/1lpbA.aln",
         "structure": "proteins/structures/1lpbA.pdb.gz"},
        {"name": "broken", "alignment": "proteins/alignments/1lpbA.aln", "query": "no_such_row"},
    ]
    cfg = {**TINY, "families": FAMS[:3], "targets": targets}
    workflow_runner({"domains": ["proteins"], "data_root": "data", "proteins": cfg},
                    targets=(str(tmp_path / "results/report.html"),))
    res = tmp_path / "results/proteins"
    model = json.loads((res / "model/model.json").read_text())
    assert set(model["training"]["train_families"]) | set(model["training"]["val_families"]) == {"2cviA", "2xcjA", "3a4rA"}
    assert model["cross_validation"]["mean"]["network"]["long_L/5"] is not None
    assert model["cross_validation"]["skipped_families"] == []
    new = json.loads((res / "targets/new1lpb/metrics.json").read_text())
    assert new["structure"] is False and (res / "targets/new1lpb/prediction/new1lpb.rr").is_file()
    scored = json.loads((res / "targets/scored1lpb/metrics.json").read_text())
    assert scored["network"]["long_L/5"] > scored["separation_baseline"]["long_L/5"]
    assert "no alignment row named 'no_such_row'" in json.loads((res / "targets/broken/metrics.json").read_text())["skipped"]
    html = (tmp_path / "results/report.html").read_text()
    assert "Contact prediction: new1lpb" in html and "target broken skipped" in html
    # the broken target's record names its file by sha256
    aln = REPO / "data/proteins/alignments/1lpbA.aln"
    broken = json.loads((res / "targets/broken/metrics.json").read_text())
    assert broken["inputs"]["alignment"]["sha256"] == sha256_file(aln)
    # the proteins section shows the model the targets used once: sha256, training families with the sha256
    # of their scores, cross-validation, seed, and the train step's provenance
    section = json.loads((res / "section/section.json").read_text())
    sha = sha256_file(res / "model/model.pt")
    (models,) = [t for t in section["tables"] if t["title"] == "Models used by the prediction targets"]
    assert [r[3] for r in models["rows"]] == [sha] and models["rows"][0][-1] == "new1lpb, scored1lpb"
    (fams,) = [t for t in section["tables"] if t["title"] == f"Training families of model {sha[:12]}"]
    assert {r[0]: r[2] for r in fams["rows"]} == model["training"]["scores_sha256"]
    assert any(t["title"].startswith(f"Cross-validation of model {sha[:12]}") for t in section["tables"])
    assert "../model/provenance.json" in section["provenance"]
    assert html.count(sha) >= 3  # the model table, each target's model row; not the training record per target
    assert model["training"]["scores_sha256"]["3a4rA"] in html
    # a new target is one more predict job: the cross-validation and the network are not retrained
    cfg["targets"] = targets + [{"name": "another1lpb", "alignment": "proteins/alignments/1lpbA.aln"}]
    proc = workflow_runner({"domains": ["proteins"], "data_root": "data", "proteins": cfg},
                           targets=(str(tmp_path / "results/report.html"),), extra_args=("-n",))
    planned = proc.stdout + proc.stderr
    assert "proteins_predict" in planned and "another1lpb" in planned, planned[-3000:]
    assert "proteins_cross_validate" not in planned and "proteins_train_model" not in planned, planned[-3000:]
    # nor are the other targets predicted again: each predict job's config holds its own target only
    assert planned.count("rule proteins_predict:") == 1 and "target=another1lpb" in planned, planned[-3000:]


def test_the_sequence_model_job_gets_only_what_it_reads(workflow_runner, tmp_path):
    """It got the whole section but the targets: a network learning rate or a new family retrained it."""
    import shlex

    prefix = "Shell command: "
    planned = {}
    for lr in (0.002, 0.01):
        cfg = {"domains": ["proteins"], "data_root": "data",
               "proteins": {**TINY, "network": {**TINY["network"], "lr": lr}, "sequence_model": {"enabled": True}}}
        proc = workflow_runner(cfg, targets=(str(tmp_path / "results/proteins/sequence_model/model.pt"),),
                               extra_args=("-n", "-p"))
        (command,) = [line[len(prefix):] for line in proc.stdout.splitlines()  # (no launcher: a leading space)
                      if line.startswith(prefix) and line[len(prefix):].lstrip().startswith("sciml proteins "
                                                                                         "train-sequence-model")]
        words = shlex.split(command)
        planned[lr] = json.loads(words[words.index("--config-json") + 1])
    assert set(planned[0.002]) == {"seed", "threads", "sequence_model"}
    assert planned[0.002] == planned[0.01]


def test_cluster_memory_follows_max_memory_gb_and_grows_on_a_retry():
    """On SLURM the predict job's --mem was a fixed 8000 MB, below the 8 GiB plan the default max_memory_gb admits
    (and raising it never raised --mem); a Potts fit killed for memory was retried with the same memory."""
    from sciml.proteins.predict import memory_estimate_gb
    from sciml.proteins.workflow import coevolution_mem_mb, predict_mem_mb

    assert predict_mem_mb({}) > 8 * 1024 and predict_mem_mb({"max_memory_gb": 12}) > 12 * 1024
    assert predict_mem_mb({"max_memory_gb": 12}, attempt=2) == 2 * predict_mem_mb({"max_memory_gb": 12})
    assert coevolution_mem_mb(1) >= 1024 * memory_estimate_gb(300, 5, True)  # the first attempt holds a 300-residue fit
    assert coevolution_mem_mb(2) >= 1024 * memory_estimate_gb(450, 5, True)  # its retry a 450-residue one
