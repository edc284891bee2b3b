"""Contact-network training throughput (contact maps / s) with 1 vs N processes (Lightning DDP).

Runs the pipeline's own steps: `sciml proteins coevolution` once per family of the config
(kept in --work and reused), then `sciml proteins cross-validate` with fresh checkpoints for a
short and a long epoch count per process count; the throughput is

    maps per epoch * (epochs_long - epochs_short) / (wall_long - wall_short)   [maps / s]

where maps per epoch is the sum over folds of the training families (from metrics.json's
`folds`), so start-up, feature loading and held-out scoring cancel out. One protein per batch
per process (the network's batch), 1 thread per process.

    python benchmarks/proteins/ddp_throughput.py --config config/benchmarks/proteins_msa_pairs.yaml \
        --accelerator gpu --processes 1 2 --work /tmp/proteins_ddp --out proteins_ddp.json

With --accelerator gpu each row also holds the peak GPU memory per rank (MiB). No setting here is
chosen by a test score: the network is the config's own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from sciml.provenance import cpu_model

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks" / "materials"))
from ddp_throughput import _env, peak_memory, rate  # noqa: E402  (same helpers as materials)


def _cli(args: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, "-m", "sciml.cli", *args], cwd=REPO, env=_env(), stdout=fh,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"failed (rc {proc.returncode}); see {log}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config/benchmarks/proteins_msa_pairs.yaml")
    ap.add_argument("--epochs", type=int, nargs=2, default=[1, 4], metavar=("SHORT", "LONG"))
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--accelerator", default="cpu")
    ap.add_argument("--work", type=Path, default=Path("/tmp/proteins_ddp"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from sciml.config import load_config

    cfg = load_config(REPO / args.config)
    base = cfg["proteins"]
    root = cfg["data_root"]
    data_root = root if os.path.isabs(root) else str((REPO / root).resolve())
    args.work.mkdir(parents=True, exist_ok=True)
    dirs = []
    for fam in base["families"]:
        d = args.work / "families" / fam["name"]
        if not (d / "metrics.json").exists():
            _cli(["proteins", "coevolution", "--config-json", json.dumps(base), "--data-root", data_root,
                  "--family", fam["name"], "--threads", "1", "--allow-skip", "--out-dir", str(d)], args.work / f"coev_{fam['name']}.log")
        dirs.append(str(d))
    rows = []
    for p in args.processes:
        walls, folds = {}, []
        for epochs in args.epochs:
            net = {**base["network"], "accelerator": args.accelerator, "devices": p,
                   "strategy": "ddp" if p > 1 else "auto", "max_epochs": epochs, "patience": None, "ensemble": 1}
            tag = f"p{p}_e{epochs}"
            shutil.rmtree(args.work / tag, ignore_errors=True)
            walls[epochs] = _cli(["proteins", "cross-validate", "--config-json", json.dumps({**base, "network": net}),
                                  "--family-dirs", *dirs, "--threads", "1",
                                  "--checkpoint-dir", str(args.work / tag / "ckpt"),
                                  "--out-dir", str(args.work / tag / "cv")], args.work / f"{tag}.log")
            folds = json.loads((args.work / tag / "cv" / "metrics.json").read_text()).get("folds", [])
        maps_per_epoch = sum(len(f["train"]) for f in folds)
        short, long_ = args.epochs
        row = {"processes": p, "maps_per_epoch": maps_per_epoch, "wall_s": {str(k): round(v, 2) for k, v in walls.items()},
               "maps_per_s": rate(maps_per_epoch * (long_ - short), walls[long_] - walls[short]),
               "load_after": round(os.getloadavg()[0], 2)}
        peaks = peak_memory(args.work / f"p{p}_e{long_}.log")
        if peaks:
            row["peak_gpu_memory_mib_per_rank"] = peaks
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        from sciml.io import write_json_atomic

        write_json_atomic(args.out, {"config": args.config, "epochs": args.epochs, "accelerator": args.accelerator,
                                     "cpu": cpu_model(), "rows": rows})


if __name__ == "__main__":
    main()
