"""Training throughput of one Matbench fold with 1 vs 2 CPU processes (Lightning DDP, gloo).

Each setting runs `sciml materials train` (the pipeline's own step) twice with fresh
checkpoints, for a short and a long epoch count; the throughput is

    n_fit * (epochs_long - epochs_short) / (wall_long - wall_short)   [training samples / s]

so process start, imports, the graph-cache load, validation of the last epoch and test scoring
cancel out. Every process gets 1 thread (`--threads 1`, OMP_NUM_THREADS=1). The global batch is
the same in both settings: 2 processes use half the per-rank batch, as in
tests/reliability/test_ddp.py, so the learning problem is the same one.

    python benchmarks/materials/ddp_throughput.py --config config/benchmarks/materials_jdft2d_cogn24.yaml \
        --work /tmp/ddp_bench --out benchmarks/materials/ddp_throughput_jdft2d.json

On a GPU machine: `--accelerator gpu --processes 1 <n GPUs>` (benchmarks/gpu_check.py does
that); each row then also holds the peak GPU memory per rank (MiB, `torch.cuda.max_memory_allocated`
as the training step prints it).

No setting here is chosen by a test score: model and batch are the benchmark config's own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sciml.provenance import cpu_model

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS"):
        env.pop(key, None)
    return env


PEAK_RE = re.compile(r"sciml: rank (\d+) peak_gpu_memory_mib=(\d+)")


def peak_memory(log: Path) -> dict[str, int]:
    """rank -> the largest peak GPU memory (MiB) the training step printed into ``log``."""
    peaks: dict[str, int] = {}
    for rank, mib in PEAK_RE.findall(log.read_text()):
        peaks[rank] = max(peaks.get(rank, 0), int(mib))
    return peaks


def rate(samples: int, seconds: float) -> float | None:
    """samples / seconds, or None (with a message) when the extra epochs took no measurable time."""
    if seconds <= 0.5:
        print(f"extra epochs took {seconds:.2f} s: too short to measure, raise --epochs", file=sys.stderr)
        return None
    return round(samples / seconds, 2)


def run_fold(section: dict, data_root: str, fold: int, work: Path, tag: str) -> tuple[float, dict]:
    """Run one fold with fresh outputs and checkpoints; return (wall seconds, metrics.json);
    the step's output goes to ``work/<tag>.log``."""
    out, ckpt = work / tag / "out", work / tag / "ckpt"
    shutil.rmtree(work / tag, ignore_errors=True)
    cmd = [sys.executable, "-m", "sciml.cli", "materials", "train", "--config-json", json.dumps(section),
           "--data-root", data_root, "--fold", str(fold), "--out-dir", str(out), "--checkpoint-dir", str(ckpt),
           "--cache-dir", str(work / "cache"), "--threads", "1"]
    log = work / f"{tag}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{tag} failed (rc {proc.returncode}); see {log}")
    return wall, json.loads((out / "metrics.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/benchmarks/materials_jdft2d_cogn24.yaml")
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--epochs", type=int, nargs=2, default=[1, 4], metavar=("SHORT", "LONG"))
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--accelerator", default="cpu", help="cpu, or gpu on a machine with GPUs")
    ap.add_argument("--work", type=Path, default=Path("/tmp/ddp_bench"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from sciml.config import load_config

    cfg = load_config(REPO / args.config)
    base = cfg["materials"]
    global_batch = int(base["train"]["batch_size"])
    data_root = str((REPO / cfg["data_root"]).resolve()) if not os.path.isabs(cfg["data_root"]) else cfg["data_root"]
    args.work.mkdir(parents=True, exist_ok=True)
    # warm-up: builds the graph cache every later run reads
    run_fold({**base, "train": {**base["train"], "max_epochs": 1, "ensemble": 1}}, data_root, args.fold,
             args.work, "warmup")
    rows = []
    for p in args.processes:
        if global_batch % p:
            raise SystemExit(f"batch_size {global_batch} is not divisible by {p} processes")
        train = {**base["train"], "ensemble": 1, "accelerator": args.accelerator, "devices": p,
                 "strategy": "ddp" if p > 1 else "auto", "batch_size": global_batch // p, "patience": None}
        walls = {}
        for epochs in args.epochs:
            walls[epochs], metrics = run_fold({**base, "train": {**train, "max_epochs": epochs}}, data_root,
                                              args.fold, args.work, f"p{p}_e{epochs}")
        short, long_ = args.epochs
        n_fit = int(metrics["n_fit"])
        row = {"processes": p, "batch_per_process": global_batch // p, "global_batch": global_batch,
               "n_fit": n_fit, "wall_s": {str(k): round(v, 2) for k, v in walls.items()},
               "samples_per_s": rate(n_fit * (long_ - short), walls[long_] - walls[short]), "load_after": round(os.getloadavg()[0], 2)}
        peaks = peak_memory(args.work / f"p{p}_e{long_}.log")
        if peaks:
            row["peak_gpu_memory_mib_per_rank"] = peaks
        rows.append(row)
        print(json.dumps(row), flush=True)
    if len(rows) > 1 and rows[0]["samples_per_s"] and rows[-1]["samples_per_s"]:
        print(f"speed-up {rows[-1]['processes']} vs {rows[0]['processes']} processes: "
              f"{rows[-1]['samples_per_s'] / rows[0]['samples_per_s']:.2f}x")
    if args.out:
        from sciml.io import write_json_atomic

        write_json_atomic(args.out, {"config": args.config, "fold": args.fold, "epochs": args.epochs,
                                     "accelerator": args.accelerator, "cpu": cpu_model(), "rows": rows})


if __name__ == "__main__":
    main()
