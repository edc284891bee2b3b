"""Compare the default pipeline's metrics files of two results folders, byte for byte.

The check of issue #14 (one skeleton): the refactor must not change a single metrics byte.
Files are paired by role; the right-hand side uses today's layout, the left-hand side may use
the layout before #14 (``--before-layout old``). Timings and provenance are not compared (they
hold wall times); ``fields.nc`` is compared by value (xarray ``identical``), ``model.pt`` by
tensors (the zip member name inside the file differs by folder name).

    python benchmarks/compare_default_metrics.py BEFORE_RESULTS AFTER_RESULTS [--before-layout old]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FOLDS = range(5)
FAMILIES = ("1lpbA", "2cviA", "2xcjA", "3a4rA")
CV_FOLDS = range(4)


def pairs(old_layout: bool) -> list[tuple[str, str]]:
    """(before path, after path) relative to each results folder."""
    out = [(f"materials/prepared/{n}", f"materials/prepared/{n}") for n in ("summary.json", "quarantine.csv")]
    for k in FOLDS:
        for n in ("metrics.json", "predictions.csv", "model.json", "model.pt", "logs/version_0/metrics.csv",
                  "logs/version_0/hparams.yaml"):
            out.append((f"materials/folds/fold_{k}/{n}",) * 2)
    agg = "materials/evaluation" if old_layout else "materials/section"
    out += [(f"{agg}/{n}", f"materials/section/{n}") for n in ("metrics.json", "predictions.csv")]
    out += [(f"pde/heat/{n}",) * 2 for n in ("evaluate/metrics.json", "evaluate/fields.nc", "train/train.json",
                                            "train/loss_history.csv", "train/model.pt")]
    for f in FAMILIES:
        base = f"proteins/families/{f}"
        out += [(f"{base}/{n}",) * 2 for n in ("metrics.json", "scores.npz")]
        for m in ("potts", "meanfield"):
            out.append((f"{base}/{f}.{m}.rr" if old_layout else f"{base}/rr/{f}.{m}.rr", f"{base}/rr/{f}.{m}.rr"))
    cv = "proteins/network" if old_layout else "proteins/cross_validate"
    out.append((f"{cv}/metrics.json", "proteins/cross_validate/metrics.json"))
    for k in CV_FOLDS:
        old = f"{cv}/fold{k}" if old_layout else f"{cv}/folds/fold{k}"
        out.append((f"{old}/logs/version_0/metrics.csv", f"proteins/cross_validate/folds/fold{k}/logs/version_0/metrics.csv"))
    out.append(("proteins/quarantine.csv" if old_layout else "proteins/section/quarantine.csv",
                "proteins/section/quarantine.csv"))
    return out


def same(a: Path, b: Path) -> bool:
    if a.suffix == ".nc":
        import xarray as xr

        with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
            return x.identical(y)
    if a.suffix == ".pt":
        import torch

        x, y = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
        return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    return a.read_bytes() == b.read_bytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--before-layout", choices=["old", "new"], default="new")
    args = ap.parse_args()
    bad = 0
    checked = pairs(args.before_layout == "old")
    for left, right in checked:
        a, b = args.before / left, args.after / right
        if not a.is_file() or not b.is_file():
            print(f"MISSING {a if not a.is_file() else b}")
            bad += 1
        elif not same(a, b):
            print(f"DIFFERS {left} vs {right}")
            bad += 1
    print(f"{len(checked) - bad} of {len(checked)} metrics files identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
