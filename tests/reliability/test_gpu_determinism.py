"""GPU reproducibility and the cost of ``deterministic: true`` (runs only where CUDA is available).

Trains one materials CV fold (default-size CGCNN, 400 embedded structures, 5 epochs) twice with
``deterministic: false`` and twice with ``deterministic: true`` on the GPU, and prints a JSON
summary: whether the two runs of each setting gave identical metrics, and their wall times.
With ``deterministic: true`` the two runs must be identical (or torch names the operation that
has no deterministic CUDA kernel, which fails the test with that message).

    CUBLAS_WORKSPACE_CONFIG=:4096:8 python -m pytest tests/reliability/test_gpu_determinism.py -s -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .tiny import REPO_ROOT, landed

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(not landed("materials"), reason="materials domain not landed"),
    pytest.mark.timeout(3000),
]


def _cfg(deterministic: bool) -> dict:
    return {"dataset": {"limit": 400}, "cv": {"n_splits": 5, "folds": [0]},
            "train": {"max_epochs": 5, "accelerator": "gpu", "devices": 1, "deterministic": deterministic}}


def _sciml(*argv: str) -> float:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    start = time.perf_counter()
    proc = subprocess.run(["sciml", "materials", *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return elapsed


def test_gpu_runs_and_deterministic_cost(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _sciml("prepare", "--config-json", json.dumps(_cfg(False)), "--data-root", "data",
           "--out-dir", str(tmp_path / "prepared"), "--cache-dir", str(cache))
    summary = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for det in (False, True):
        metrics, times = [], []
        for run in range(2):
            out = tmp_path / f"det{int(det)}_run{run}"
            times.append(_sciml("train", "--config-json", json.dumps(_cfg(det)), "--data-root", "data", "--fold", "0",
                                "--out-dir", str(out), "--checkpoint-dir", str(out / "ckpt"),
                                "--cache-dir", str(cache)))
            metrics.append((out / "metrics.json").read_bytes())
        m0 = json.loads(metrics[0])
        summary[f"deterministic={det}"] = {
            "identical_metrics": metrics[0] == metrics[1],
            "train_wall_s": [round(t, 1) for t in times],
            "test_mae": [json.loads(m)["test"]["mae"] for m in metrics],
            "epochs": m0.get("epochs_trained"),
        }
    print("\nGPU_DETERMINISM " + json.dumps(summary))
    out_dir = os.environ.get("OUT")
    if out_dir:
        Path(out_dir, "gpu_determinism.json").write_text(json.dumps(summary, indent=2) + "\n")
    assert summary["deterministic=True"]["identical_metrics"], summary
