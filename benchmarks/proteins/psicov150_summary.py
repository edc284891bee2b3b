"""Mean CASP precisions over the prediction targets of a benchmark run (one folder per target).

    python benchmarks/proteins/psicov150_summary.py results/bench_proteins_psicov150_sequence/proteins/targets

Prints the number of scored and skipped targets and the mean of every precision of the
model (``network``) and of the separation-only baseline, as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    from sciml.proteins.metrics import mean_metrics

    root = Path(sys.argv[1])
    scored, skipped = {}, {}
    for f in sorted(root.glob("*/metrics.json")):
        m = json.loads(f.read_text())
        (skipped if "skipped" in m else scored)[f.parent.name] = m
    out = {"n_scored": len(scored), "n_skipped": len(skipped), "skipped": {k: v["skipped"] for k, v in skipped.items()}}
    for key in ("network", "coevolution", "separation_baseline"):
        rows = [m[key] for m in scored.values() if key in m]
        if rows:
            out[key] = mean_metrics(rows)
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
