"""Aggregate the folds: Matbench-style scores, leaderboard comparison, figures, report section.

Matbench scores a task by the test MAE of each fold and their mean and population std
(``np.std``, ddof=0). Those are computed here from the per-fold ``predictions.csv``,
beside a predict-the-training-fold-mean baseline and, when ``dataset.matbench_task``
is set, the published leaderboard.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import DataError
from sciml.io import write_json_atomic, write_text_atomic
from sciml.materials.train import rnd


def _read_predictions(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def evaluate(cfg: dict[str, Any], prepared: str | Path, fold_dirs: list[str | Path], out_dir: str | Path,
             section_path: str | Path) -> dict[str, Any]:
    """Write ``out_dir/{metrics.json, predictions.csv, parity.png, learning_curves.png}`` and the section."""
    from sciml.materials.anchors import leaderboard
    from sciml.materials.plots import learning_curves, parity_per_fold, read_learning_curve
    from sciml.provenance import record_step
    from sciml.report import Figure, write_section

    out_dir = Path(out_dir)
    section_path = Path(section_path)
    prepared = Path(prepared)
    fold_dirs = [Path(d) for d in fold_dirs]
    with record_step("materials.evaluate", out_dir, config=cfg, seed=cfg["seed"],
                     inputs=[prepared] + [d / "metrics.json" for d in fold_dirs]) as rec:
        summary_prep = json.loads(prepared.read_text(encoding="utf-8"))
        unit = cfg["dataset"]["unit"]
        label = cfg["dataset"]["target_name"] + (" (log10)" if cfg["dataset"]["transform"] == "log10" else "")
        per_fold, parity, curves, all_rows = [], {}, {}, []
        for d in fold_dirs:
            mpath = d / "metrics.json"
            if not mpath.is_file():
                raise DataError(mpath, "fold metrics missing (did 'sciml materials train' finish?)")
            m = json.loads(mpath.read_text(encoding="utf-8"))
            rows = _read_predictions(d / "predictions.csv")
            t = np.array([float(r["target"]) for r in rows])
            p = np.array([float(r["prediction"]) for r in rows])
            mae = float(np.abs(p - t).mean())
            parity[m["fold"]] = (t, p, mae)
            all_rows += rows
            lc = d / "logs" / "version_0" / "metrics.csv"
            if lc.is_file():
                curves[m["fold"]] = read_learning_curve(lc)
            per_fold.append({
                "fold": m["fold"], "n_test": m["n_test"], "mae": rnd(mae), "rmse": m["test"]["rmse"],
                "r2": m["test"]["r2"], "baseline_mae": m["baseline_train_mean"]["mae"],
                "epochs": m["epochs_trained"], "test_records_quarantined": len(m["test_records_quarantined"]),
            })
        per_fold.sort(key=lambda r: r["fold"])
        maes = np.array([r["mae"] for r in per_fold])
        base = np.array([r["baseline_mae"] for r in per_fold])
        task = cfg["dataset"]["matbench_task"]
        board = leaderboard(task) if task else None
        folds_run = [r["fold"] for r in per_fold]
        complete = sorted(folds_run) == list(range(cfg["cv"]["n_splits"]))
        metrics = {
            "dataset": cfg["dataset"]["path"], "matbench_task": task, "model": cfg["model"]["name"],
            "target": cfg["dataset"]["target_name"], "unit": unit, "transform": cfg["dataset"]["transform"],
            "per_fold": per_fold, "folds_run": folds_run, "all_folds": complete,
            "mae_mean": rnd(maes.mean()), "mae_std": rnd(maes.std()),
            "baseline_mae_mean": rnd(base.mean()), "baseline_mae_std": rnd(base.std()),
            "n_records": summary_prep["n_records"], "n_quarantined": summary_prep["n_quarantined"],
            "quarantine_by_reason": summary_prep["quarantine_by_reason"],
        }
        if board:
            metrics["leaderboard"] = board
        write_json_atomic(out_dir / "metrics.json", metrics)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["id", "fold", "target", "prediction"])
        for r in sorted(all_rows, key=lambda r: r["id"]):
            w.writerow([r["id"], r["fold"], r["target"], r["prediction"]])
        write_text_atomic(out_dir / "predictions.csv", buf.getvalue())
        parity_png = parity_per_fold(parity, label, out_dir / "parity.png")
        figures = [Figure("Parity plot per fold", _rel(parity_png, section_path),
                          f"Predicted vs true {label} ({unit}) on each test fold; line = perfect prediction.")]
        if curves:
            lc_png = learning_curves(curves, unit, out_dir / "learning_curves.png")
            figures.append(Figure("Learning curves", _rel(lc_png, section_path),
                                  "Training and validation loss (normalised target) and validation MAE per epoch."))
        section = build_section(cfg, metrics, figures, prepared, fold_dirs, out_dir, section_path, complete)
        rec.outputs += [str(out_dir / "metrics.json"), str(out_dir / "predictions.csv"), str(parity_png)]
    # the section lists this step's provenance too, so write it once that file exists
    write_section(section_path, section)
    return metrics


def _rel(path: Path, section_path: Path) -> str:
    return os.path.relpath(Path(path).resolve(), section_path.resolve().parent)


def build_section(cfg, metrics, figures, prepared: Path, fold_dirs, out_dir: Path, section_path: Path,
                  complete: bool):
    """The report section: scores per fold, leaderboard, dataset and quarantine."""
    from sciml.report import Section, Table

    unit = metrics["unit"]
    model = {"cgcnn": "CGCNN (ours)", "cogn": "coGN-style GN (ours)"}[metrics["model"]]
    fold_table = Table(
        f"Test MAE per fold ({unit})",
        ["fold", "n test", f"MAE {model}", "MAE predict-train-mean", "RMSE", "R2", "epochs"],
        [[r["fold"], r["n_test"], r["mae"], r["baseline_mae"], r["rmse"], r["r2"], r["epochs"]] for r in metrics["per_fold"]],
        note="Folds: sklearn KFold(5, shuffle=True, random_state=18012019) over the records in file order "
             "(the Matbench recipe); validation carved from each training fold only.",
    )
    rows = [[model, metrics["mae_mean"], metrics["mae_std"], "this run"],
            ["predict training-fold mean", metrics["baseline_mae_mean"], metrics["baseline_mae_std"], "this run"]]
    board = metrics.get("leaderboard")
    if board:
        rows.append([f"best: {board['best_model']}", board["best_mae"], board["best_std"], "Matbench leaderboard"])
        rows += [[name, mae, None, "Matbench leaderboard"] for name, mae in board["models"].items()]
    score_table = Table(
        f"Mean test MAE over folds ({unit})", ["model", "MAE mean", "MAE std (ddof=0)", "source"], rows,
        note=("Leaderboard: materialsproject/matbench @936176db (MIT), fold-mean MAE."
              if board else "No published leaderboard for this dataset; compare with the baseline."),
    )
    quarantine = metrics["quarantine_by_reason"]
    data_table = Table(
        "Dataset and quarantine", ["dataset", "records", "quarantined", "by reason"],
        [[metrics["dataset"], metrics["n_records"], metrics["n_quarantined"],
          ", ".join(f"{k}: {v}" for k, v in quarantine.items()) or "none"]],
        note="Quarantined records are listed with their reason in prepared/quarantine.csv.",
    )
    warnings = []
    if metrics["n_quarantined"]:
        warnings.append(f"{metrics['n_quarantined']} of {metrics['n_records']} records quarantined "
                        f"({', '.join(f'{k}: {v}' for k, v in quarantine.items())}); see prepared/quarantine.csv")
    if not complete:
        warnings.append(f"only folds {metrics['folds_run']} of {cfg['cv']['n_splits']} were run: the mean is not "
                        "comparable with the Matbench leaderboard")
    lost = sum(r["test_records_quarantined"] for r in metrics["per_fold"])
    if lost:
        warnings.append(f"{lost} test-fold records were quarantined and could not be scored")
    summary = (f"{model} on {metrics['dataset']} ({metrics['target']}, {unit}): test MAE "
               f"{metrics['mae_mean']} ± {metrics['mae_std']} over folds {metrics['folds_run']} "
               f"vs {metrics['baseline_mae_mean']} for predicting the training mean.")
    if board:
        summary += f" Published: CGCNN {board['models'].get('CGCNN')}, best {board['best_model']} {board['best_mae']}."
    prov = [prepared.parent / "provenance.json"] + [Path(d) / "provenance.json" for d in fold_dirs] + [out_dir / "provenance.json"]
    return Section(
        domain="materials", title="Materials: crystal graph networks", summary=summary,
        tables=[score_table, fold_table, data_table], figures=figures, warnings=warnings,
        provenance=[_rel(p, section_path) for p in prov],
    )
