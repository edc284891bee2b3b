"""`sciml proteins predict` on a large alignment: wall time and peak memory.

    python benchmarks/proteins/predict_large.py --length 500 --rows 20000 --threads 2 \
        --work /tmp/predict_large --out benchmarks/proteins/predict_large.json

Writes a synthetic PSICOV-format alignment (seeded): each column draws from its own residue
distribution (Dirichlet, 0.5), and ``length // 5`` planted residue pairs co-vary (with probability
0.7 the second residue is a fixed permutation of the first), then runs ``sciml proteins predict``
on it (the packaged contact network; its Potts settings subsample 3000 rows) under
``/usr/bin/time -v`` and reports wall seconds, peak RSS and the Potts fit's log line. Only the
size matters here: the alignment is not a real protein's.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

AMINO = "ARNDCQEGHILKMFPSTWYV"


def write_alignment(path: Path, length: int, rows: int, seed: int) -> None:
    """Synthetic alignment with planted co-varying pairs, one sequence per line (PSICOV .aln)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(20, 0.5), size=length)
    cum = probs.cumsum(1)
    X = (rng.random((rows, length, 1)) > cum[None]).sum(2).clip(0, 19)
    for _ in range(length // 5):
        i, j = rng.choice(length, 2, replace=False)
        perm = rng.permutation(20)
        follow = rng.random(rows) < 0.7
        X[follow, j] = perm[X[follow, i]]
    letters = np.array(list(AMINO))
    path.write_text("\n".join("".join(r) for r in letters[X]) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", type=int, default=500)
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/predict_large"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    aln = args.work / f"synthetic_L{args.length}_N{args.rows}.aln"
    if not aln.is_file():
        write_alignment(aln, args.length, args.rows, args.seed)
    out = args.work / "predict"
    cmd = ["/usr/bin/time", "-v", "sciml", "proteins", "predict", "--alignment", str(aln), "--out-dir", str(out),
           "--threads", str(args.threads)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    potts = re.findall(r"potts [^\n]*", proc.stderr)
    res = {"length": args.length, "rows": args.rows, "threads": args.threads, "returncode": proc.returncode,
           "wall_s": round(wall, 1), "peak_rss_gib": round(int(peak.group(1)) / 2**20, 2) if peak else None,
           "potts_log": potts[-1] if potts else None}
    if proc.returncode != 0:
        res["stderr_tail"] = proc.stderr[-1500:]
    print(json.dumps(res, indent=1))
    if args.out:
        args.out.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
