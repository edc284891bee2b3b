"""Pick between contact-network configs by their family-held-out CV only (issue #16).

    python benchmarks/proteins/cv_select.py --base results/bench_proteins_heldout_predict_base \
        --candidates results/bench_proteins_heldout_predict_epochs40 results/bench_proteins_heldout_predict_blocks12 \
        --margin 0.010 --out benchmarks/proteins/network_capacity_select.json

Each argument is a run's ``results_dir``; its ``proteins/cross_validate/metrics.json`` gives the ensemble mean
long-range top-L/5 over the CV families and each member's own mean. The rule (written before the runs in
``benchmarks/proteins/network_capacity_select.md``): the best candidate replaces the base if it beats the base's
figure by at least ``--margin``. No held-out family is read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEY = "long_L/5"


def cv_summary(results_dir: str | Path) -> dict:
    """Ensemble and per-member mean precisions of one CV run, and the families it scored."""
    m = json.loads((Path(results_dir) / "proteins" / "cross_validate" / "metrics.json").read_text())
    return {"results_dir": str(results_dir), "families": sorted(m["per_family"]),
            "network": m["mean"]["network"], "potts": m["mean"]["potts"],
            "members": [mm[KEY] for mm in m.get("member_means") or []]}


def select(base: dict, candidates: list[dict], margin: float) -> dict:
    """The rule: the candidate with the highest ensemble mean wins if it beats ``base`` by >= ``margin``."""
    for c in candidates:
        if c["families"] != base["families"]:
            raise ValueError(f"{c['results_dir']}: its CV scored other families than {base['results_dir']}")
    best = max(candidates, key=lambda c: c["network"][KEY]) if candidates else None
    adopt = best is not None and best["network"][KEY] >= base["network"][KEY] + margin
    return {"base": base, "candidates": candidates, "margin": margin, "metric": KEY,
            "threshold": base["network"][KEY] + margin, "chosen": best["results_dir"] if adopt else base["results_dir"]}


def main(argv: list[str] | None = None) -> int:
    from sciml.io import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--candidates", nargs="+", required=True)
    ap.add_argument("--margin", type=float, default=0.010)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rec = select(cv_summary(args.base), [cv_summary(c) for c in args.candidates], args.margin)
    for r in [rec["base"], *rec["candidates"]]:
        print(f"{r['results_dir']}: network {r['network'][KEY]:.4f} (members "
              + ", ".join(f"{v:.4f}" for v in r["members"]) + f"), Potts {r['potts'][KEY]:.4f}, "
              f"{len(r['families'])} families")
    print(f"threshold {rec['threshold']:.4f}; chosen: {rec['chosen']}")
    if args.out:
        write_json_atomic(args.out, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
