"""Foundation benchmark: wall time of `sciml --help`, of the default pipeline, and of a
no-op rerun (everything up to date).

    python benchmarks/foundation.py [--skip-pipeline] [--results DIR]

Prints one line per figure; run it from the repository root inside the venv.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--results", default="results/bench_default")
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()

    sciml = str(Path(sys.executable).parent / "sciml")
    help_times = [timed([sciml, "--help"]) for _ in range(10)]
    print(f"sciml --help: median {statistics.median(help_times):.3f} s, max {max(help_times):.3f} s (10 runs)")
    if args.skip_pipeline:
        return 0
    shutil.rmtree(args.results, ignore_errors=True)
    snake = [sys.executable, "-m", "snakemake", "--cores", args.cores, "--config", f"results_dir={args.results}"]
    full = timed(snake)
    print(f"default pipeline (fresh, --cores {args.cores}): {full:.1f} s")
    noop = timed(snake)
    print(f"no-op rerun (everything up to date): {noop:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
