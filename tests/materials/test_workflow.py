"""End to end: the Snakemake materials pipeline on a slice of the embedded data, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
@pytest.mark.e2e
def test_tiny_materials_workflow(workflow_runner, tmp_path):
    cfg = {
        "domains": ["materials"],
        "materials": {
            "dataset": {"limit": 100},
            "cv": {"folds": [0, 1]},
            "model": {"cgcnn": {"atom_fea_len": 16, "n_conv": 1, "h_fea_len": 16}},
            "train": {"max_epochs": 2, "batch_size": 32},
        },
    }
    workflow_runner(cfg)
    res = tmp_path / "results"
    sec_dir = res / "materials" / "section"
    section = json.loads((sec_dir / "section.json").read_text())
    assert section["domain"] == "materials" and len(section["figures"]) == 2
    for fig in section["figures"]:
        assert (sec_dir / fig["path"]).is_file()
    assert "provenance.json" in section["provenance"] and len(section["provenance"]) == 4  # prepare, 2 folds, section
    for prov in section["provenance"]:
        assert (sec_dir / prov).is_file()
    metrics = json.loads((sec_dir / "metrics.json").read_text())
    assert metrics["folds_run"] == [0, 1] and metrics["mae_mean"] > 0
    assert any("only folds [0, 1]" in w for w in section["warnings"])
    assert (res / "report.html").is_file()
    assert (res / "benchmarks" / "materials_train_fold_0.tsv").is_file()
    # the checkpoints live outside the declared outputs
    assert list((res / ".checkpoints" / "materials").rglob("last.ckpt"))
    # a screening setting is not read by prepare / train / section: editing it reruns none of them
    cfg["materials"]["screening"] = {"top_k": 7}
    proc = workflow_runner(cfg, extra_args=("-n",))
    planned = proc.stdout + proc.stderr
    assert "materials_train" not in planned and "materials_prepare" not in planned, planned[-3000:]
    cfg["materials"]["train"]["max_epochs"] = 3  # a training setting does, and not prepare, which never reads it
    planned = (lambda p: p.stdout + p.stderr)(workflow_runner(cfg, extra_args=("-n",)))
    assert "materials_train" in planned and "materials_prepare" not in planned, planned[-3000:]


@pytest.mark.slow
def test_editing_a_file_of_a_folder_dataset_reruns_prepare(workflow_runner, tmp_path, jdft2d_records):
    """Snakemake sees a folder's own mtime only; an id_prop.csv edited in place must still rerun prepare."""
    from pymatgen.io.cif import CifWriter

    folder = tmp_path / "data" / "mine"
    folder.mkdir(parents=True)
    rows = []
    for r in jdft2d_records[:12]:
        CifWriter(r.structure).write_file(folder / f"{r.id}.cif")
        rows.append(f"{r.id},{r.target}")
    (folder / "id_prop.csv").write_text("\n".join(rows) + "\n")
    cfg = {"data_root": str(tmp_path / "data"), "domains": ["materials"],
           "materials": {"dataset": {"path": "mine"}}}
    target = (str(tmp_path / "results" / "materials" / "prepared" / "summary.json"),)
    workflow_runner(cfg, targets=target)
    planned = workflow_runner(cfg, targets=target, extra_args=("-n",))
    assert "materials_prepare" not in planned.stdout + planned.stderr
    before = os.stat(folder).st_mtime_ns
    time.sleep(1.1)
    with open(folder / "id_prop.csv", "r+") as fh:  # one target changed in place: the folder's mtime stays
        text = fh.read()
        fh.seek(0)
        fh.write(text.replace(rows[0], rows[0].split(",")[0] + ",1234.5", 1))
    assert os.stat(folder).st_mtime_ns == before
    planned = workflow_runner(cfg, targets=target, extra_args=("-n",))
    assert "materials_prepare" in planned.stdout + planned.stderr


def test_dry_run_lists_one_job_per_fold(workflow_runner):
    proc = workflow_runner({"domains": ["materials"]}, extra_args=("-n",))
    out = proc.stdout + proc.stderr
    assert "materials_train_fold" in out and "materials_section" in out


def test_more_folds_rerun_neither_prepare_nor_the_folds_already_trained(workflow_runner):
    """Every fold's job and prepare got the whole cv.folds list: running all five folds after fold 0 as a
    trial reran prepare and fold 0. Now each gets the folds it serves; a fold outside the split is refused
    when the workflow reads the config, naming the key."""
    import shlex

    prefix = "Shell command: "
    commands = {}
    for folds in ([0], [0, 1, 2, 3, 4]):
        proc = workflow_runner({"domains": ["materials"], "materials": {"cv": {"folds": folds}}}, extra_args=("-n", "-p"))
        for line in proc.stdout.splitlines():
            if line.startswith(prefix) and line[len(prefix):].lstrip().startswith("sciml materials "):  # no launcher
                words = shlex.split(line[len(prefix):])
                step = words[2] + ("" if "--fold" not in words else words[words.index("--fold") + 1])
                commands.setdefault(step, []).append(json.loads(words[words.index("--config-json") + 1]))
    assert commands["prepare"][0] == commands["prepare"][1] and commands["prepare"][0]["cv"]["folds"] == [0, 1, 2, 3, 4]
    assert commands["train0"][0] == commands["train0"][1] and commands["train0"][0]["cv"]["folds"] == [0]
    assert [c["cv"]["folds"] for c in commands["section"]] == [[0], [0, 1, 2, 3, 4]]
    assert "screening" not in commands["train0"][0] and "predict" not in commands["prepare"][0]
    proc = workflow_runner({"domains": ["materials"], "materials": {"cv": {"n_splits": 3, "folds": [0, 4]}}},
                           extra_args=("-n",), check=False)
    assert proc.returncode != 0 and "materials.cv.folds" in proc.stdout + proc.stderr


def _sciml(*args):
    return subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True)


def test_cli_help_and_config_errors(tmp_path):
    assert _sciml("materials", "--help").returncode == 0
    proc = _sciml("materials", "prepare", "--config-json", '{"model": {"name": "alignn"}}', "--out-dir", str(tmp_path))
    assert proc.returncode == 2 and "materials.model.name" in proc.stderr
    proc = _sciml("materials", "prepare", "--config-json", '{"dataset": {"path": "nope.csv"}}',
                  "--data-root", str(tmp_path), "--out-dir", str(tmp_path))
    assert proc.returncode == 2 and "nope.csv" in proc.stderr and "not found" in proc.stderr


def test_provenance_records_the_config_the_steps_read(tmp_path, trained_fold):
    """prepare and the folds recorded the schema's predict/screening defaults (their rules do not pass those
    keys: the report showed predict.batch_size 512 beside the user's 64) and a Matbench file's target column
    as null instead of the column read."""
    from tests.materials.conftest import REPO, tiny_config

    from sciml.materials.steps import prepare

    cfg = tiny_config()
    assert cfg["dataset"]["target_column"] is None  # the file's only other column is read
    summary = prepare(cfg, REPO / "data", tmp_path / "prepared", tmp_path / "cache", threads=1)
    for path in (tmp_path / "prepared" / "provenance.json", trained_fold[1] / "provenance.json"):
        recorded = json.loads(path.read_text())["config"]
        assert "predict" not in recorded and "screening" not in recorded, path
        assert recorded["dataset"]["target_column"] == summary["target_column"] is not None, path
    prepared = json.loads((tmp_path / "prepared" / "provenance.json").read_text())["config"]
    assert "max_epochs" not in prepared["train"] and "lr" not in prepared["train"]  # prepare reads neither


def test_an_absolute_dataset_path_is_refused_naming_the_key(workflow_runner, tmp_path):
    """It failed as a missing input 'data//tmp/...' naming no key."""
    proc = workflow_runner({"domains": ["materials"], "materials": {"dataset": {"path": str(tmp_path / "my data.csv")}}},
                           extra_args=("-n",), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "materials.dataset.path" in out and "relative to the data root" in out
