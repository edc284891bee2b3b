"""Memory under load: `sciml materials predict` on 10k / 50k / 100k structures.

The input is Matbench jdft2d (636 structures, from the data root) repeated to N rows in a
gzipped CSV (structure column = pymatgen dict as JSON), streamed by `predict` in batches.
Each size runs `sciml materials predict` in its own process under ``/usr/bin/time -v``
(peak RSS = "Maximum resident set size" of that process) and records wall time and
throughput. The model is a default-size CGCNN (config defaults) trained for one epoch on 48
embedded structures: only its size matters here, not its accuracy.

    python benchmarks/materials_predict_memory.py --data-root ../shared/data \
        --work /tmp/predict_bench --sizes 10000 50000 100000 --threads 2

With ``--model-dir`` an existing model folder is screened instead (e.g. a fold of a pretrained
CHGNet run, ``results/bench_materials_dielectric_chgnet_frozen/materials/folds/fold_0``).

Prints one JSON line per size and writes ``<work>/results.json``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def make_input(jdft2d: Path, n: int, out: Path) -> Path:
    """CSV.gz with ``n`` rows cycling through the jdft2d structures (ids made unique)."""
    if out.exists():
        return out
    with gzip.open(jdft2d, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    s_col = doc["columns"].index("structure")
    structures = [json.dumps(row[s_col], separators=(",", ":")) for row in doc["data"]]
    tmp = out.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8", newline="", compresslevel=1) as fh:
        w = csv.writer(fh)
        w.writerow(["id", "structure"])
        for i, s in zip(range(n), itertools.cycle(structures)):
            w.writerow([f"s{i:07d}", s])
    tmp.rename(out)
    return out


def train_model(work: Path, data_root: str, env: dict[str, str]) -> Path:
    """A default-size model (one epoch on 48 embedded structures) in ``work/model``."""
    model = work / "model"
    if (model / "model.pt").is_file():
        return model
    cfg = json.dumps({"dataset": {"limit": 48}, "cv": {"n_splits": 2, "folds": [0]},
                      "train": {"max_epochs": 1, "accelerator": "cpu", "devices": 1}})
    prep = work / "prepared"
    for argv in (
        ["prepare", "--config-json", cfg, "--data-root", data_root, "--out-dir", str(prep),
         "--cache-dir", str(work / "cache")],
        ["train", "--config-json", cfg, "--data-root", data_root, "--fold", "0", "--out-dir", str(model),
         "--checkpoint-dir", str(work / "ckpt"), "--cache-dir", str(work / "cache"), "--threads", "1"],
    ):
        subprocess.run(["sciml", "materials", *argv], check=True, env=env)
    return model


def run_predict(model: Path, inp: Path, out: Path, batch_size: int, threads: int,
                env: dict[str, str]) -> dict[str, float]:
    cmd = ["/usr/bin/time", "-v", "sciml", "materials", "predict", "--model-dir", str(model), "--input", str(inp),
           "--out-dir", str(out), "--batch-size", str(batch_size), "--threads", str(threads), "--no-progress"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"predict failed:\n{proc.stdout}\n{proc.stderr[-4000:]}")
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    # the counts and the tool's own rate from the step's provenance (its summary line's wording may change)
    stats = json.loads((out / "provenance.json").read_text())["extra"]
    n_all = int(stats["n_predicted"]) + int(stats["n_skipped"])
    return {
        "peak_rss_mib": round(peak_kb / 1024, 1),
        "wall_s": round(wall, 1),
        "n_predicted": int(stats["n_predicted"]),
        "n_skipped": int(stats["n_skipped"]),
        "structures_per_s_reported": float(stats["structures_per_s"]),
        "structures_per_s_wall": round(n_all / wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--embedded-root", default="data", help="data root of the embedded training data")
    ap.add_argument("--work", type=Path, default=Path("/tmp/sciml_predict_bench"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-dir", type=Path, default=None, help="screen with this model folder instead of training one")
    args = ap.parse_args()

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["OMP_NUM_THREADS"] = str(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    jdft2d = Path(args.data_root) / "materials" / "matbench_jdft2d.json.gz"
    model = args.model_dir or train_model(args.work, args.embedded_root, env)
    results = []
    for n in args.sizes:
        inp = make_input(jdft2d, n, args.work / f"jdft2d_x{n}.csv.gz")
        row = {"model_dir": str(model), "n_structures": n, "input_mib": round(inp.stat().st_size / 2**20, 1), "batch_size": args.batch_size,
               "threads": args.threads,
               **run_predict(model, inp, args.work / f"pred_{n}", args.batch_size, args.threads, env)}
        print(json.dumps(row), flush=True)
        results.append(row)
    (args.work / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
