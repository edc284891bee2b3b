"""Multi-process training (Lightning DDP, 2 CPU processes over gloo), launched as a user would:
the ``sciml`` CLI with a config JSON, in a subprocess.

For a materials fold and the proteins network cross-validation it checks that a DDP run

- finishes (subprocess timeout) with a seed ensemble of 2 (every rank fits every member: no deadlock);
- writes each output once: rank 1 opens nothing for writing under the output or checkpoint
  folders (a ``sitecustomize`` audit hook on ``open``/``os.rename``/``os.replace`` logs every
  write of every process, keyed by the ``LOCAL_RANK`` Lightning's launcher gives rank 1);
- resumes after a SIGKILL of the whole process group ("Restored all states", same metrics);
- agrees with the single-process run of the same GLOBAL batch.

Tolerance of the agreement: the samplers make step k of the two ranks cover exactly the
samples of step k of one process with twice the batch (n_fit = 32 is a multiple of the global
batch 8, so no padding duplicates), and DDP averages the two ranks' mean-loss gradients, which
is the one-process mean gradient; the proteins model (one protein per batch) compares against
one process with ``accumulate_grad_batches: 2``. What is left is float32 summation order (the
gradient all-reduce, per-rank partial sums), ~1e-7 relative per step; measured over these
runs the learning curves agree to ~2e-7 relative. The test allows rtol 1e-4 on every logged
validation loss (a wrong schedule length, an unsharded or unshuffled sampler, a missing
gradient sync or an ensemble member skipped moves them by 1e-2 or more), and compares test
metrics (rounded to 6 significant digits by the step) to 1e-4 absolute.

The materials model is coGN (LayerNorm, per-sample statistics): CGCNN's BatchNorm takes its
statistics per rank, and torch's SyncBatchNorm runs on GPU only, so CGCNN under CPU DDP is
close to, not equal to, the one-process run (``train.sync_batchnorm`` fixes that on GPUs).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import venv_env

from .tiny import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

RTOL = 1e-4
RUN_TIMEOUT = 300  # seconds per CLI run; a deadlocked ensemble hits it

#: Logs every write-open/rename of the process into $SCIML_WRITE_LOG/writes-<rank>-<pid>.txt.
SITECUSTOMIZE = '''
import os, sys
_dir = os.environ.get("SCIML_WRITE_LOG")
if _dir:
    _rank = os.environ.get("LOCAL_RANK", "0")
    _log = open(os.path.join(_dir, "writes-%s-%d.txt" % (_rank, os.getpid())), "a", buffering=1)
    _W = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    def _hook(event, args):
        try:
            if event == "open":
                path, mode, flags = args
                if isinstance(path, (str, bytes, os.PathLike)) and (
                        (isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & _W):
                    _log.write(os.path.abspath(os.fsdecode(path)) + "\\n")
            elif event in ("os.rename", "os.replace"):
                _log.write(os.path.abspath(os.fsdecode(args[1])) + "\\n")
        except Exception:
            pass
    sys.addaudithook(_hook)
'''


def _env(tmp: Path) -> dict[str, str]:
    hook_dir = tmp / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)
    writes = tmp / "writes"
    writes.mkdir(exist_ok=True)
    env = venv_env()
    env["PYTHONPATH"] = os.pathsep.join([str(hook_dir), str(REPO_ROOT), env.get("PYTHONPATH", "")])
    env["SCIML_WRITE_LOG"] = str(writes)
    env["OMP_NUM_THREADS"] = "1"
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "MASTER_PORT"):
        env.pop(key, None)  # a run inside a SLURM job must not look like one of its tasks
    return env


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "sciml.cli", *args]


def _run(args: list[str], tmp: Path, log: Path) -> str:
    with open(log, "w") as fh:
        proc = subprocess.run(_cli(args), cwd=REPO_ROOT, env=_env(tmp), stdout=fh, stderr=subprocess.STDOUT,
                              timeout=RUN_TIMEOUT, start_new_session=True)
    out = log.read_text()
    assert proc.returncode == 0, out[-4000:]
    return out


def _writes(tmp: Path) -> dict[str, list[str]]:
    """rank -> paths written (all processes of all runs so far)."""
    by_rank: dict[str, list[str]] = {}
    for f in (tmp / "writes").glob("writes-*.txt"):
        rank = f.name.split("-")[1]
        by_rank.setdefault(rank, []).extend(f.read_text().splitlines())
    return by_rank


def _assert_rank1_wrote_nothing(tmp: Path, *folders: Path) -> None:
    by_rank = _writes(tmp)
    assert "1" in by_rank, f"no write log of a rank-1 process (was DDP started?): {sorted(by_rank)}"
    roots = [str(f.resolve()) for f in folders]
    bad = [p for p in by_rank["1"] if any(p == r or p.startswith(r + os.sep) for r in roots)]
    assert not bad, f"rank 1 wrote {bad[:10]}"
    assert any(any(p.startswith(r + os.sep) for r in roots) for p in by_rank["0"]), "rank 0 wrote no output?"


def _val_losses(curve: Path) -> list[float]:
    with open(curve) as fh:
        return [float(r["val_loss"]) for r in csv.DictReader(fh) if r.get("val_loss")]


def _assert_close_curves(a: Path, b: Path) -> None:
    """Validation losses of ``a`` equal those of ``b`` within RTOL, epoch by epoch (a resumed
    run's curve holds every epoch too: the rows before the checkpoint come with it)."""
    va, vb = _val_losses(a), _val_losses(b)
    assert len(va) == len(vb) > 0, (va, vb)
    for x, y in zip(va, vb):
        assert x == pytest.approx(y, rel=RTOL), (va, vb)


def _kill_at_first_checkpoint(args: list[str], tmp: Path, ckpt_root: Path, log: Path) -> None:
    """Start the CLI in its own process group; SIGKILL the group once a last.ckpt exists."""
    with open(log, "w") as fh:
        proc = subprocess.Popen(_cli(args), cwd=REPO_ROOT, env=_env(tmp), stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.time() + RUN_TIMEOUT
        try:
            while time.time() < deadline and proc.poll() is None:
                if any(ckpt_root.rglob("last.ckpt")):
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill (rc {proc.returncode})"
    assert any(ckpt_root.rglob("last.ckpt"))


# --------------------------------------------------------------------------- materials

def _materials_cfg(devices: int, batch: int, ensemble: int, epochs: int = 4) -> str:
    train = {"max_epochs": epochs, "batch_size": batch, "accelerator": "cpu", "devices": devices,
             "strategy": "ddp" if devices > 1 else "auto", "ensemble": ensemble}
    return json.dumps({
        "dataset": {"limit": 72},  # fold 0 of 2: 32 fit, 4 validation, 36 test structures
        "cv": {"n_splits": 2, "folds": [0]},
        "model": {"name": "cogn", "cogn": {"hidden": 16, "n_blocks": 1, "num_basis": 16}},
        "train": train, "threads": 1,
    })


def _materials_args(cfg: str, out: Path, ckpt: Path, cache: Path) -> list[str]:
    return ["materials", "train", "--config-json", cfg, "--data-root", "data", "--fold", "0",
            "--out-dir", str(out), "--checkpoint-dir", str(ckpt), "--cache-dir", str(cache), "--threads", "1"]


@pytest.fixture(scope="module")
def materials_single(tmp_path_factory):
    """One process, batch 8, ensemble of 2 (also builds the graph cache the DDP runs reuse)."""
    tmp = tmp_path_factory.mktemp("ddp_materials")
    out = tmp / "single"
    _run(_materials_args(_materials_cfg(1, 8, 2), out, tmp / "ck_single", tmp / "cache"), tmp, tmp / "single.log")
    return tmp, out


def test_materials_ddp_ensemble_matches_single_process_and_writes_once(materials_single) -> None:
    tmp, single = materials_single
    out, ckpt = tmp / "ddp", tmp / "ck_ddp"
    log = _run(_materials_args(_materials_cfg(2, 4, 2), out, ckpt, tmp / "cache"), tmp, tmp / "ddp.log")
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in log  # really two processes
    m_ddp = json.loads((out / "metrics.json").read_text())
    m_one = json.loads((single / "metrics.json").read_text())
    assert m_ddp["n_fit"] == 32 and m_ddp["ensemble"]["size"] == 2
    for member_ddp, member_one in zip(m_ddp["ensemble"]["members"], m_one["ensemble"]["members"]):
        assert member_ddp["seed"] == member_one["seed"]
        assert member_ddp["epochs_trained"] == member_one["epochs_trained"] == 4
        assert member_ddp["test_mae"] == pytest.approx(member_one["test_mae"], abs=1e-4)
        assert member_ddp["best_val_loss"] == pytest.approx(member_one["best_val_loss"], rel=RTOL)
    for key in ("mae", "rmse", "r2"):
        assert m_ddp["test"][key] == pytest.approx(m_one["test"][key], abs=1e-4)
    for rel in ("logs/version_0/metrics.csv", "members/member_1/logs/version_0/metrics.csv"):
        _assert_close_curves(out / rel, single / rel)
    # the same outputs as one process, each written once (by rank 0 only)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(single).as_posix() for p in single.rglob("*") if p.is_file())
    _assert_rank1_wrote_nothing(tmp, out, ckpt)


def test_materials_ddp_resumes_after_sigkill(materials_single) -> None:
    tmp, single = materials_single
    out, ckpt = tmp / "killed", tmp / "ck_killed"
    args = _materials_args(_materials_cfg(2, 4, 1), out, ckpt, tmp / "cache")
    _kill_at_first_checkpoint(args, tmp, ckpt, tmp / "killed_1.log")
    assert not (out / "metrics.json").exists()
    log = _run(args, tmp, tmp / "killed_2.log")
    assert "Restored all states from the checkpoint" in log
    m = json.loads((out / "metrics.json").read_text())
    m_one = json.loads((single / "metrics.json").read_text())["ensemble"]["members"][0]
    assert m["epochs_trained"] == 4
    assert m["test"]["mae"] == pytest.approx(m_one["test_mae"], abs=1e-4)
    _assert_close_curves(out / "logs/version_0/metrics.csv", single / "logs/version_0/metrics.csv")


# --------------------------------------------------------------------------- proteins

PROTEINS = {
    "threads": 1,
    "potts": {"epochs": 1, "max_sequences": 200, "max_iter": 10},
    "meanfield": {"max_sequences": 200},
}


def _proteins_cfg(devices: int, accumulate: int, ensemble: int) -> str:
    net = {"channels": 6, "blocks": 1, "max_epochs": 3, "folds": 2, "val_families": 2, "accelerator": "cpu",
           "devices": devices, "strategy": "ddp" if devices > 1 else "auto", "ensemble": ensemble,
           "accumulate_grad_batches": accumulate}
    return json.dumps({**PROTEINS, "network": net})


@pytest.fixture(scope="module")
def protein_families(tmp_path_factory):
    """Coevolution folders of the four shipped families (tiny Potts fits)."""
    tmp = tmp_path_factory.mktemp("ddp_proteins")
    from sciml.config import domain_section

    names = [f["name"] for f in domain_section("proteins", json.dumps(PROTEINS))["families"]]
    dirs = []
    for name in names:
        d = tmp / "families" / name
        _run(["proteins", "coevolution", "--config-json", json.dumps(PROTEINS), "--data-root", "data",
              "--family", name, "--threads", "1", "--out-dir", str(d)], tmp, tmp / f"coev_{name}.log")
        dirs.append(str(d))
    return tmp, dirs


def _cv_args(cfg: str, dirs: list[str], out: Path, ckpt: Path) -> list[str]:
    return ["proteins", "cross-validate", "--config-json", cfg, "--family-dirs", *dirs, "--threads", "1",
            "--checkpoint-dir", str(ckpt), "--out-dir", str(out)]


def test_proteins_ddp_ensemble_matches_accumulated_single_process(protein_families) -> None:
    tmp, dirs = protein_families
    single, ddp, ckpt = tmp / "cv_single", tmp / "cv_ddp", tmp / "ck_ddp"
    _run(_cv_args(_proteins_cfg(1, 2, 2), dirs, single, tmp / "ck_single"), tmp, tmp / "cv_single.log")
    log = _run(_cv_args(_proteins_cfg(2, 1, 2), dirs, ddp, ckpt), tmp, tmp / "cv_ddp.log")
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in log
    a = json.loads((ddp / "metrics.json").read_text())
    b = json.loads((single / "metrics.json").read_text())
    assert sorted(a["per_family"]) == sorted(b["per_family"]) and len(a["per_family"]) == 4
    assert [f["members"] for f in a["folds"]] == [f["members"] for f in b["folds"]]
    for k in range(2):
        for rel in (f"folds/fold{k}/logs/version_0/metrics.csv",
                    f"folds/fold{k}/members/member_1/logs/version_0/metrics.csv"):
            _assert_close_curves(ddp / rel, single / rel)
    # precisions are counts of true contacts among the top pairs: near-equal probabilities could
    # swap a pair at the cut, so they may differ by at most one pair in L/5 (L >= 50 here)
    for name, rec in a["per_family"].items():
        for key, value in rec["network"].items():
            assert abs(value - b["per_family"][name]["network"][key]) <= 0.1, (name, key)
    _assert_rank1_wrote_nothing(tmp, ddp, ckpt)


def test_proteins_ddp_resumes_after_sigkill(protein_families) -> None:
    tmp, dirs = protein_families
    out, ckpt = tmp / "cv_killed", tmp / "ck_killed"
    args = _cv_args(_proteins_cfg(2, 1, 1), dirs, out, ckpt)
    _kill_at_first_checkpoint(args, tmp, ckpt, tmp / "cv_killed_1.log")
    log = _run(args, tmp, tmp / "cv_killed_2.log")
    assert "Restored all states from the checkpoint" in log
    ref = tmp / "cv_ref"
    _run(_cv_args(_proteins_cfg(2, 1, 1), dirs, ref, tmp / "ck_ref"), tmp, tmp / "cv_ref.log")
    assert json.loads((out / "metrics.json").read_text())["per_family"] == \
        json.loads((ref / "metrics.json").read_text())["per_family"]


def test_materials_ddp_classification_matches_single_process(tmp_path) -> None:
    """A classification fold (binary cross-entropy, stratified folds and validation rows) trains in 2 DDP
    processes as in one: the same ROC-AUC and log loss, the same validation curve."""
    from tests.materials.test_classification import _labelled_csv

    _labelled_csv(tmp_path / "labels.csv", n=72)

    def cfg(devices: int, batch: int) -> str:
        c = json.loads(_materials_cfg(devices, batch, 1))
        c["dataset"] = {"path": "labels.csv", "target_column": "stable", "task": "classification", "limit": 72}
        return json.dumps(c)

    def args(c: str, name: str) -> list[str]:
        a = _materials_args(c, tmp_path / name, tmp_path / f"ck_{name}", tmp_path / "cache")
        a[a.index("--data-root") + 1] = str(tmp_path)
        return a

    _run(args(cfg(1, 8), "single"), tmp_path, tmp_path / "single.log")
    log = _run(args(cfg(2, 4), "ddp"), tmp_path, tmp_path / "ddp.log")
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in log
    one, ddp = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("single", "ddp"))
    assert ddp["task"] == "classification" and ddp["test"]["n_positive"] == one["test"]["n_positive"] > 0
    for key in ("roc_auc", "log_loss", "brier"):
        assert ddp["test"][key] == pytest.approx(one["test"][key], abs=1e-4)
    _assert_close_curves(tmp_path / "ddp/logs/version_0/metrics.csv", tmp_path / "single/logs/version_0/metrics.csv")
