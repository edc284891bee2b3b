"""Compare Potts fits of two ``potts_speed.py`` records family by family: precision, iterations, fit time.

    python benchmarks/proteins/potts_compare.py benchmarks/proteins/potts_train30_asymmetric.json \
        benchmarks/proteins/potts_train30_symmetric.json

Prints, per family present in both, long-range top-L/5 / L/2 / L precision, iterations and fit seconds of each
record, then the means of the precisions, the summed fit time and the per-family win/tie/loss count at L/5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METRICS = ("long_L/5", "long_L/2", "long_L")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("a", help="potts_speed.py record (the reference)")
    ap.add_argument("b", help="potts_speed.py record (the candidate)")
    args = ap.parse_args()
    a, b = (json.loads(Path(p).read_text()) for p in (args.a, args.b))
    names = [k for k in a if not k.startswith("_") and "potts" in a[k] and "potts" in b.get(k, {})]
    if not names:
        raise SystemExit("no family has a Potts fit in both records")
    print(f"{'family':10s} " + " ".join(f"{m:>17s}" for m in METRICS) + f" {'iterations':>11s} {'fit s':>13s}")
    wins = ties = losses = 0
    for k in names:
        pa, pb = a[k]["potts"], b[k]["potts"]
        cells = " ".join(f"{pa[m]:8.3f} {pb[m]:8.3f}" for m in METRICS)
        print(f"{k:10s} {cells} {pa['iterations']:5d} {pb['iterations']:5d} {pa['fit_s']:6.1f} {pb['fit_s']:6.1f}")
        d = pb["long_L/5"] - pa["long_L/5"]
        wins, ties, losses = wins + (d > 1e-9), ties + (abs(d) <= 1e-9), losses + (d < -1e-9)
    n = len(names)
    means = " ".join(f"{sum(a[k]['potts'][m] for k in names) / n:8.4f} {sum(b[k]['potts'][m] for k in names) / n:8.4f}"
                     for m in METRICS)
    its = [sum(r[k]["potts"]["iterations"] for k in names) for r in (a, b)]
    secs = [sum(r[k]["potts"]["fit_s"] for k in names) for r in (a, b)]
    print(f"{'mean/sum':10s} {means} {its[0]:5d} {its[1]:5d} {secs[0]:6.1f} {secs[1]:6.1f}")
    print(f"{n} families; candidate at long L/5: better on {wins}, equal on {ties}, worse on {losses}")


if __name__ == "__main__":
    main()
