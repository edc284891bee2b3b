"""Per-fold validation MAE of a finished materials benchmark run, at the epoch each fit kept.

Each fold's fit logs ``val_loss`` (what picks the kept epoch) and ``val_mae`` (target units) per epoch in
``materials/folds/fold_<k>/logs/version_*/metrics.csv`` (Lightning's CSVLogger). This reads the kept epoch's
``val_mae`` (the lowest ``val_loss``; the first of ties), so two configs run on the same folds can be compared
on their validation carve-outs without looking at their test figures. Prints one line per fold and the mean;
``--out`` writes them as JSON. For a single-model run (``train.ensemble: 1``), whose one fit is logged there.

    python benchmarks/materials/fold_validation_mae.py results/bench_materials_dielectric_chgnet_lpft_clip
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path


def kept_epoch_val_mae(metrics_csv: Path) -> tuple[int, float]:
    """(epoch, val_mae) of the row with the lowest val_loss in one CSVLogger file."""
    best: tuple[float, int, float] | None = None
    with metrics_csv.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if not row.get("val_loss") or not row.get("val_mae"):
                continue
            loss = float(row["val_loss"])
            if math.isfinite(loss) and (best is None or loss < best[0]):
                best = (loss, int(row["epoch"]), float(row["val_mae"]))
    if best is None:
        raise ValueError(f"{metrics_csv}: no row with both val_loss and val_mae")
    return best[1], best[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results_dir", help="a benchmark config's results_dir")
    ap.add_argument("--out", help="write the figures here as JSON")
    args = ap.parse_args()
    folds = sorted(Path(args.results_dir, "materials", "folds").glob("fold_*"), key=lambda p: int(p.name[5:]))
    if not folds:
        raise SystemExit(f"{args.results_dir}: no materials/folds/fold_* folders")
    per_fold = {}
    for fold in folds:
        logs = sorted(fold.glob("logs/version_*/metrics.csv"))
        if len(logs) != 1:
            raise SystemExit(f"{fold}: expected one logs/version_*/metrics.csv (a single-model run), found {len(logs)}")
        epoch, mae = kept_epoch_val_mae(logs[0])
        per_fold[fold.name[5:]] = {"epoch": epoch, "val_mae": round(mae, 4)}
        print(f"fold {fold.name[5:]}: kept epoch {epoch}, validation MAE {mae:.4f}")
    mean = sum(v["val_mae"] for v in per_fold.values()) / len(per_fold)
    print(f"mean over {len(per_fold)} folds: {mean:.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"results_dir": args.results_dir, "folds": per_fold,
                                              "mean_val_mae": round(mean, 4)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
