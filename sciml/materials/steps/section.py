"""The ``section`` step: aggregate the folds into Matbench-style scores, figures and the report section.

Matbench scores a regression task by the test MAE of each fold and their mean and population std
(``np.std``, ddof=0). Those are computed here from the per-fold ``predictions.csv``,
beside predict-the-training-fold-mean and -median baselines (the median one only for folds whose
metrics.json records it: older folds show "not recorded") and, when ``dataset.matbench_task``
is set, the published leaderboard. A classification task (``dataset.task: classification``) is scored as
Matbench scores its classification tasks: the ROC-AUC of each fold, mean and population std, with accuracy,
balanced accuracy, F1, log loss and Brier score beside the positive-rate and majority-class baselines.

Reads ``prepared_dir/summary.json`` and, in each fold folder, ``metrics.json``,
``predictions.csv`` and the learning curve ``logs/version_0/metrics.csv``. Writes into
``out_dir``: ``metrics.json`` (the aggregated scores), ``predictions.csv`` (every test
prediction, sorted by id), ``parity.png`` (a classification: ``roc.png``), ``learning_curves.png``, ``provenance.json``
and ``section.json`` (figure and provenance paths relative to ``out_dir``).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sciml.errors import DataError
from sciml.io import write_csv_atomic, write_json_atomic
from sciml.materials.folds import MATBENCH_SEED
from sciml.materials.steps.train import LEARNING_CURVE, PREDICTION_COLUMNS
from sciml.rounding import round_fixed
from sciml.steps import run_step

#: Display names of the models in the section's tables.
MODEL_LABELS = {"cgcnn": "CGCNN (ours)", "cogn": "coGN-style GN (ours)"}
#: How a pretrained backbone was trained, by its ``freeze`` setting.
FREEZE_LABELS = {"head": "frozen + new head", "last_blocks": "last blocks fine-tuned", "none": "fine-tuned"}


def model_label(cfg: dict[str, Any]) -> str:
    """The model's name in the section's tables: :data:`MODEL_LABELS`, or a pretrained backbone with its
    weights (CHGNet version, SevenNet checkpoint) and what was trained (:data:`FREEZE_LABELS`)."""
    name = cfg["model"]["name"]
    if name not in ("chgnet", "sevennet"):
        return MODEL_LABELS[name]
    sub = cfg["model"][name]
    weights = (f"CHGNet {sub.get('pretrained', '0.3.0')}" if name == "chgnet"
               else f"SevenNet {sub.get('checkpoint', '7net-0')}")
    return f"{weights} {FREEZE_LABELS.get(sub.get('freeze', 'head'), sub.get('freeze'))} (ours)"


def _read_predictions(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise DataError(path, "fold predictions missing (did 'sciml materials train' finish?)")
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def section(cfg: dict[str, Any], prepared_dir: str | Path, fold_dirs: list[str | Path],
            out_dir: str | Path) -> dict[str, Any]:
    """Aggregate the fold folders written by ``train`` (and the ``prepare`` folder's
    summary) into ``out_dir``; returns the aggregated metrics (MAE in target units; ROC-AUC and the other
    scores of predicted probabilities for a classification task)."""
    from sciml.materials.dataset import is_classification, target_labels, value_label
    from sciml.materials.plots import parity_per_fold, read_learning_curve, roc_per_fold
    from sciml.report import write_section

    out_dir = Path(out_dir)
    prepared_dir = Path(prepared_dir)
    fold_dirs = [Path(d) for d in fold_dirs]
    summary_path = prepared_dir / "summary.json"
    from sciml.materials.workflow import without_screening

    with run_step("materials.section", cfg, out_dir, inputs=[summary_path],
                  provenance_config=without_screening(cfg)) as step:
        if not summary_path.is_file():
            raise DataError(summary_path, "prepare summary missing (did 'sciml materials prepare' finish?)")
        summary_prep = json.loads(summary_path.read_text(encoding="utf-8"))
        dataset = prepared_dataset(cfg["dataset"], summary_prep)
        classification = is_classification(dataset)
        target_name, unit = target_labels(dataset)
        per_fold, scored, curves, all_rows = [], {}, {}, []
        for d in fold_dirs:
            mpath = d / "metrics.json"
            if not mpath.is_file():
                raise DataError(mpath, "fold metrics missing (did 'sciml materials train' finish?)")
            m = json.loads(mpath.read_text(encoding="utf-8"))
            rows = _read_predictions(d / "predictions.csv")
            step.add_inputs([mpath, d / "predictions.csv"])
            t = np.array([float(r["target"]) for r in rows])
            p = np.array([float(r["prediction"]) for r in rows])
            # the fold's own score (from unrounded predictions), not one of the 6-digit CSV values:
            # a regression's MAE, a classifier's ROC-AUC of the probabilities its ROC curve draws (None with one
            # class in the fold)
            score = m["test"].get("roc_auc_probability") if classification else m["test"]["mae"]
            scored[m["fold"]] = (t, p, float("nan") if score is None else float(score))
            all_rows += rows
            lc = d / LEARNING_CURVE
            if lc.is_file():
                step.add_inputs([lc])
                curves[m["fold"]] = read_learning_curve(lc)
            per_fold.append(classification_row(m) if classification else regression_row(m))
        per_fold.sort(key=lambda r: r["fold"])
        common = {"dataset": cfg["dataset"]["path"], "matbench_task": cfg["dataset"]["matbench_task"],
                  "model": cfg["model"]["name"], "target": target_name, "target_unit": unit,
                  "per_fold": per_fold, "folds_run": [r["fold"] for r in per_fold],
                  "all_folds": sorted(r["fold"] for r in per_fold) == list(range(cfg["cv"]["n_splits"])),
                  **_prepared_counts(summary_prep)}
        if classification:
            metrics = classification_summary(cfg, common)
            score_png = roc_per_fold(scored, target_name, step.output("roc.png"))
        else:
            metrics = regression_summary(cfg, dataset, common)
            score_png = parity_per_fold(scored, value_label(dataset), step.output("parity.png"))
        for w in metrics.get("matbench_task_mismatch", []):
            print(f"materials section: WARNING: {w}", file=sys.stderr)
        section_path, content = _finish(step, cfg, metrics, all_rows, score_png, curves, dataset, prepared_dir,
                                        fold_dirs)
    # the section lists this step's provenance too, so write it once that file exists
    write_section(section_path, content)
    return metrics


def regression_row(m: dict[str, Any]) -> dict[str, Any]:
    """A regression fold's row of the section's metrics, from its ``metrics.json`` ``m``."""
    return {
        "fold": m["fold"], "n_test": m["n_test"], "mae": round_fixed(float(m["test"]["mae"])),
        "rmse": m["test"]["rmse"], "r2": m["test"]["r2"], "baseline_mae": m["baseline_train_mean"]["mae"],
        "baseline_median_mae": (m.get("baseline_train_median") or {}).get("mae"),
        "epochs": m["epochs_trained"], **_test_record_counts(m),
    }


def _test_record_counts(m: dict[str, Any]) -> dict[str, int]:
    """A fold's quarantined, fallback-scored and unscorable test-record counts."""
    return {"test_records_quarantined": len(m["test_records_quarantined"]),
            "test_records_fallback": m.get("n_test_fallback", 0),
            "test_records_unscorable": len(m.get("test_records_unscorable", m["test_records_quarantined"]))}


def regression_summary(cfg: dict[str, Any], dataset: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """The aggregated metrics of a regression's folds, as Matbench scores a task: the folds' MAE, their mean
    and population std, beside the constant baselines and, for a ``matbench_task``, the leaderboard."""
    from sciml.materials.anchors import leaderboard, protocol_mismatch, task_mismatch, task_type_mismatch
    from sciml.materials.dataset import error_unit

    per_fold = common["per_fold"]
    maes = np.array([r["mae"] for r in per_fold])
    base = np.array([r["baseline_mae"] for r in per_fold])
    task = cfg["dataset"]["matbench_task"]
    board = leaderboard(task) if task else None
    mismatch = task_type_mismatch(task, False) + protocol_mismatch(task, cfg["cv"])
    mismatch += task_mismatch(task, board, common["n_records"], cfg["dataset"]) if board else []
    metrics = {
        **common,
        # unit: of the MAE/RMSE (= error_unit, dex for a log10 target); target_unit: of the raw target
        "unit": error_unit(dataset), "transform": cfg["dataset"]["transform"], "error_unit": error_unit(dataset),
        "mae_mean": round_fixed(maes.mean()), "mae_std": round_fixed(maes.std()),
        "baseline_mae_mean": round_fixed(base.mean()), "baseline_mae_std": round_fixed(base.std()),
        **median_baseline(per_fold),
    }
    if board:
        metrics["leaderboard"] = board
    if board or mismatch:
        metrics["matbench_task_mismatch"] = mismatch
    return metrics


def _prepared_counts(summary_prep: dict[str, Any]) -> dict[str, Any]:
    """The prepare summary's record, quarantine and parser-warning counts, for the section's metrics."""
    counts = {"n_records": summary_prep["n_records"], "n_quarantined": summary_prep["n_quarantined"],
              "quarantine_by_reason": summary_prep["quarantine_by_reason"],
              # a summary written before parser warnings were recorded has neither key
              "n_records_with_parser_warnings": summary_prep.get("n_records_with_parser_warnings"),
              "parser_warnings": summary_prep.get("parser_warnings", {})}
    if summary_prep.get("warnings"):  # prepare's: 0/1 targets in a regression, a rare class, ...
        counts["prepare_warnings"] = summary_prep["warnings"]
    return counts


def _finish(step: Any, cfg: dict[str, Any], metrics: dict[str, Any], all_rows: list[dict[str, str]], score_png: Path,
            curves: dict[int, Any], dataset: dict[str, Any], prepared_dir: Path, fold_dirs: list[Path]
            ) -> tuple[Path, Any]:
    """Write the section step's metrics, predictions, figures and section (``score_png``: the parity plot of a
    regression, the ROC curves of a classification); returns the section file's path and the section, which
    the caller writes once the step's provenance exists."""
    from sciml.materials.dataset import error_unit, value_label
    from sciml.materials.plots import learning_curves
    from sciml.report import Figure

    classification = metrics.get("task") == "classification"
    write_json_atomic(step.output("metrics.json"), metrics)
    write_csv_atomic(step.output("predictions.csv"), PREDICTION_COLUMNS,
                     [[r.get(c, "0") for c in PREDICTION_COLUMNS] for r in sorted(all_rows, key=lambda r: r["id"])])
    if classification:
        figures = [Figure("ROC curve per fold", step.rel(score_png),
                          f"True vs false positive rate of the predicted {value_label(dataset)} on each test fold "
                          "(the probabilities' AUC in the legend, not Matbench's thresholded one); diagonal = a random "
                          "ranking.")]
    else:
        label = value_label(dataset)
        figures = [Figure("Parity plot per fold", step.rel(score_png),
                          f"Predicted vs true {label} on each test fold; line = perfect prediction.")]
    if curves:
        lc_png = learning_curves(curves, error_unit(dataset), step.output("learning_curves.png"),
                                 loss_label="binary cross-entropy" if classification else None)
        figures.append(Figure("Learning curves", step.rel(lc_png),
                              "Training and validation loss ("
                              + ("binary cross-entropy" if classification else "normalised target")
                              + ") and validation " + ("mean |probability - label|" if classification else "MAE")
                              + " per epoch."))
    provenance = [prepared_dir / "provenance.json"] + [d / "provenance.json" for d in fold_dirs]
    complete = metrics["all_folds"]
    build = build_classification_section if classification else build_section
    content = build(cfg, metrics, figures, [step.rel(p) for p in provenance] + ["provenance.json"], complete)
    return step.output("section.json"), content


#: A classification fold's scores shown per fold and averaged over the folds (``roc_auc`` is Matbench's, of the
#: predictions thresholded at 0.5; ``roc_auc_probability`` ranks the probabilities).
CLASSIFICATION_SCORES = ("roc_auc", "roc_auc_probability", "accuracy", "balanced_accuracy", "f1", "log_loss", "brier")


def classification_row(m: dict[str, Any]) -> dict[str, Any]:
    """A classification fold's row of the section's metrics, from its ``metrics.json`` ``m``: its scores,
    the positive-rate baseline's log loss and Brier score, the majority class's accuracy."""
    rate, majority = m["baseline_train_mean"], m["baseline_train_median"]
    return {"fold": m["fold"], "n_test": m["n_test"], "n_positive": m["test"]["n_positive"],
            **{k: m["test"].get(k) for k in CLASSIFICATION_SCORES},  # a fold scored before a key existed: None
            "baseline_log_loss": rate["log_loss"], "baseline_brier": rate["brier"],
            "baseline_accuracy": majority["accuracy"], "epochs": m["epochs_trained"], **_test_record_counts(m)}


def fold_means(per_fold: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    """``<key>_mean`` / ``<key>_std`` (population std, as Matbench) over the folds for each of ``keys``. A fold
    without a value (the ROC-AUC of a test fold holding one class) is left out of that key's mean, and
    ``<key>_undefined_folds`` lists it (None for a key no fold has)."""
    out: dict[str, Any] = {}
    for key in keys:
        values = [r.get(key) for r in per_fold if r.get(key) is not None]
        arr = np.array(values, dtype=float)
        out[f"{key}_mean"] = round_fixed(arr.mean()) if len(arr) else None
        out[f"{key}_std"] = round_fixed(arr.std()) if len(arr) else None
        missing = [r["fold"] for r in per_fold if r.get(key) is None]
        if missing:
            out[f"{key}_undefined_folds"] = missing
    return out


def classification_summary(cfg: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    """The aggregated metrics of a classification's folds, as Matbench scores its classification tasks: the
    folds' ROC-AUC, mean and population std (and the other scores alike), beside the constant baselines."""
    from sciml.materials.anchors import protocol_mismatch, task_type_mismatch

    task = cfg["dataset"]["matbench_task"]
    return {**common, "task": "classification", "unit": "probability", "error_unit": "probability",
            "transform": "none",
            **fold_means(common["per_fold"], CLASSIFICATION_SCORES + ("baseline_log_loss", "baseline_accuracy")),
            "matbench_task_mismatch": task_type_mismatch(task, True)
            + protocol_mismatch(task, cfg["cv"], common["n_records"])}


def build_classification_section(cfg: dict[str, Any], metrics: dict[str, Any], figures: list[Any],
                                 provenance: list[str], complete: bool):
    """The report section of a classification task: ROC-AUC and the other scores per fold and over the
    folds beside the constant baselines, the dataset and its quarantine."""
    from sciml.report import Section, Table

    model = model_label(cfg)
    fold_table = Table(
        "Test scores per fold (predicted probability of class 1)",
        ["fold", "n test", "positives", "of which fallback", "ROC-AUC (Matbench)", "ROC-AUC of probabilities",
         "accuracy", "balanced accuracy", "F1", "log loss", "log loss predict-train-rate", "accuracy majority class",
         "Brier", "epochs"],
        [[r["fold"], r["n_test"], r["n_positive"], r["test_records_fallback"], _shown(r["roc_auc"]),
          _shown(r.get("roc_auc_probability")), r["accuracy"], _shown(r["balanced_accuracy"]), r["f1"], r["log_loss"], r["baseline_log_loss"],
          r["baseline_accuracy"], r["brier"], r["epochs"]] for r in metrics["per_fold"]],
        note=f"Folds: sklearn StratifiedKFold({cfg['cv']['n_splits']}, shuffle=True, "
             f"random_state={cfg['cv']['split_seed']}) over the labels of the records in file order"
             + (" (the Matbench recipe for classification tasks)"
                if (cfg["cv"]["n_splits"], cfg["cv"]["split_seed"]) == (5, MATBENCH_SEED)
                else " (Matbench uses StratifiedKFold(5, shuffle=True, random_state=18012019))")
             + "; validation carved from each training fold only. ROC-AUC (Matbench) is scored as Matbench's "
               "score_array does: on the predictions thresholded at probability > 0.5 (for a binary task it equals "
               "the balanced accuracy); the ROC-AUC of probabilities ranks them without a threshold. Accuracy, F1 "
               "at probability > 0.5. A constant prediction (the training fold's positive rate) has ROC-AUC 0.5.",
    )
    rows = [[name, _shown(metrics.get(f"{key}_mean")), _shown(metrics.get(f"{key}_std"))]
            for name, key in (("ROC-AUC (Matbench: of the labels at p > 0.5)", "roc_auc"),
                              ("ROC-AUC of probabilities", "roc_auc_probability"), ("accuracy", "accuracy"),
                              ("balanced accuracy", "balanced_accuracy"), ("F1", "f1"), ("log loss", "log_loss"),
                              ("log loss, predict training positive rate", "baseline_log_loss"),
                              ("accuracy, predict majority class", "baseline_accuracy"), ("Brier", "brier"))]
    score_table = Table(f"Mean test scores over folds: {model}", ["score", "mean", "std (ddof=0)"], rows,
                        note="Matbench ranks its classification tasks by the fold-mean ROC-AUC, computed on the "
                             "thresholded predictions (the first row).")
    scored = [f for f in metrics["folds_run"] if f not in metrics.get("roc_auc_undefined_folds", [])]
    summary = (f"{model} classifying {metrics['target']} on {metrics['dataset']}: test ROC-AUC "
               f"{_shown(metrics['roc_auc_mean'])} ± {_shown(metrics['roc_auc_std'])} over folds "
               f"{scored} as Matbench scores it (of the predictions at p > 0.5; 0.5 = no better than chance), "
               f"{_shown(metrics.get('roc_auc_probability_mean'))} of the probabilities; log loss {metrics['log_loss_mean']} vs "
               f"{metrics['baseline_log_loss_mean']} for predicting the training positive rate.")
    return Section(
        domain="materials", title="Materials: crystal graph networks (classification)", summary=summary,
        tables=[score_table, fold_table, _data_table(metrics)], figures=figures,
        warnings=classification_warnings(metrics) + _data_warnings(cfg, metrics, complete, "positive rate"),
        provenance=provenance,
    )


def classification_warnings(metrics: dict[str, Any]) -> list[str]:
    """What a scientist must know before trusting a classification's scores: folds whose ROC-AUC is
    undefined (one class in the test fold), test folds with few records of a class, a model that (nearly)
    never predicts class 1 at the 0.5 threshold."""
    per_fold = metrics["per_fold"]
    warnings = []
    undefined = metrics.get("roc_auc_undefined_folds")
    if undefined:
        defined = [r["fold"] for r in per_fold if r["fold"] not in undefined]
        warnings.append(f"ROC-AUC is undefined on folds {undefined} (their test records hold one class); the mean "
                        + (f"is over folds {defined} only" if defined else "cannot be given"))
    # the rarer class's count in the folds that hold both (a fold with none is said above)
    fewest = min((c for c in (min(r["n_positive"], r["n_test"] - r["n_positive"]) for r in per_fold) if c > 0),
                 default=0)
    if 0 < fewest < 10:
        warnings.append(f"a test fold holds only {fewest} record(s) of one class: its ROC-AUC rests on them and "
                        "moves a lot with one record")
    if per_fold and all((r.get("f1") or 0) == 0 for r in per_fold):
        warnings.append("F1 is 0 on every fold: at the 0.5 threshold the model predicts class 0 for every "
                        "positive record (the accuracy is the majority class's) and Matbench's ROC-AUC is 0.5; the "
                        "ROC-AUC of probabilities ranks without the threshold")
    return warnings


NOT_RECORDED = "not recorded"


def prepared_dataset(dataset_cfg: dict[str, Any], summary_prep: dict[str, Any]) -> dict[str, Any]:
    """``dataset_cfg`` whose ``target_column`` is null with the column ``prepare`` read instead (its summary's
    ``target_column``: a Matbench file's only non-structure column), so the labels name it."""
    if dataset_cfg.get("target_column") is not None or "target_column" not in summary_prep:
        return dataset_cfg  # set in the config, or a summary written before it was recorded
    return {**dataset_cfg, "target_column": summary_prep["target_column"]}


def median_baseline(per_fold: list[dict[str, Any]]) -> dict[str, float | None]:
    """``baseline_median_mae_mean`` / ``_std`` (ddof=0) over the folds, None unless every fold recorded
    ``baseline_train_median`` (folds trained before it existed): a mean over fewer folds than the model's
    would not compare."""
    values = [r.get("baseline_median_mae") for r in per_fold]
    if not values or any(v is None for v in values):
        return {"baseline_median_mae_mean": None, "baseline_median_mae_std": None}
    arr = np.array(values, dtype=float)
    return {"baseline_median_mae_mean": round_fixed(arr.mean()), "baseline_median_mae_std": round_fixed(arr.std())}


def _shown(value: Any) -> Any:
    """A score for a table cell: "not recorded" for None."""
    return NOT_RECORDED if value is None else value


def build_section(cfg: dict[str, Any], metrics: dict[str, Any], figures: list[Any], provenance: list[str],
                  complete: bool):
    """The report section (:class:`sciml.report.Section`): scores per fold, leaderboard,
    dataset and quarantine; ``provenance`` are paths relative to the section file."""
    from sciml.report import Section, Table

    unit = metrics.get("error_unit", metrics["unit"])  # of the MAE: dex for a log10 target
    model = model_label(cfg)
    fold_table = Table(
        f"Test MAE per fold ({unit})",
        ["fold", "n test", "of which fallback", f"MAE {model}", "MAE predict-train-mean", "MAE predict-train-median",
         "RMSE", "R2", "epochs"],
        [[r["fold"], r["n_test"], r["test_records_fallback"], r["mae"], r["baseline_mae"],
          _shown(r.get("baseline_median_mae")), r["rmse"], r["r2"], r["epochs"]] for r in metrics["per_fold"]],
        note=f"Folds: sklearn KFold({cfg['cv']['n_splits']}, shuffle=True, random_state={cfg['cv']['split_seed']}) "
             "over the records in file order"
             + (" (the Matbench recipe)" if (cfg["cv"]["n_splits"], cfg["cv"]["split_seed"]) == (5, MATBENCH_SEED)
                else " (Matbench uses KFold(5, shuffle=True, random_state=18012019))")
             + "; validation carved from each training fold only.",
    )
    rows = [[model, metrics["mae_mean"], metrics["mae_std"], "this run"],
            ["predict training-fold mean", metrics["baseline_mae_mean"], metrics["baseline_mae_std"], "this run"],
            ["predict training-fold median", _shown(metrics.get("baseline_median_mae_mean")),
             _shown(metrics.get("baseline_median_mae_std")), "this run"]]
    board = metrics.get("leaderboard")
    if board:
        rows.append([f"best: {board['best_model']}", board["best_mae"], board["best_std"], "Matbench leaderboard"])
        rows += [[name, mae, None, "Matbench leaderboard"] for name, mae in board["models"].items()]
    score_table = Table(
        f"Mean test MAE over folds ({unit})", ["model", "MAE mean", "MAE std (ddof=0)", "source"], rows,
        note=("Leaderboard: materialsproject/matbench @936176db (MIT), fold-mean MAE."
              if board else "No published leaderboard for this dataset; compare with the baseline."),
    )
    warnings = _data_warnings(cfg, metrics, complete, "mean")
    summary = (f"{model} on {metrics['dataset']} ({metrics['target']}, {metrics.get('target_unit', metrics['unit'])}"
               + (", fitted as log10" if metrics.get("transform") == "log10" else "") + f"): test MAE ({unit}) "
               f"{metrics['mae_mean']} ± {metrics['mae_std']} over folds {metrics['folds_run']} "
               f"vs {metrics['baseline_mae_mean']} for predicting the training mean"
               + (f" and {metrics['baseline_median_mae_mean']} for predicting the training median"
                  if metrics.get("baseline_median_mae_mean") is not None else "") + ".")
    if board:
        summary += f" Published: CGCNN {board['models'].get('CGCNN')}, best {board['best_model']} {board['best_mae']}."
    return Section(
        domain="materials", title="Materials: crystal graph networks", summary=summary,
        tables=[score_table, fold_table, _data_table(metrics)], figures=figures, warnings=warnings,
        provenance=provenance,
    )


def _data_table(metrics: dict[str, Any]):
    """The section's table of the dataset, its quarantine and parser warnings."""
    from sciml.report import Table

    quarantine = metrics["quarantine_by_reason"]
    n_warned = metrics.get("n_records_with_parser_warnings")
    return Table(
        "Dataset and quarantine", ["dataset", "records", "quarantined", "by reason", "parser warnings"],
        [[metrics["dataset"], metrics["n_records"], metrics["n_quarantined"],
          ", ".join(f"{k}: {v}" for k, v in quarantine.items()) or "none",
          "not recorded" if n_warned is None else n_warned]],
        note="Quarantined records are listed with their reason and line in prepared/quarantine.csv; records "
             "whose structure parsed with warnings (e.g. coordinates rounded, sites merged) are listed in "
             "prepared/parser_warnings.csv; a warning alone does not quarantine a record.",
    )


def _data_warnings(cfg: dict[str, Any], metrics: dict[str, Any], complete: bool, fallback_value: str) -> list[str]:
    """The section's warnings: Matbench-task mismatch, quarantine, parser warnings, folds not run, test
    records scored by the fallback (the training fold's ``fallback_value``) or not scorable."""
    from sciml.materials.validation import describe_parser_warnings

    quarantine = metrics["quarantine_by_reason"]
    warnings = list(metrics.get("matbench_task_mismatch", []))
    warnings += [w for w in metrics.get("prepare_warnings", []) if w not in warnings]
    if metrics["n_quarantined"]:
        warnings.append(f"{metrics['n_quarantined']} of {metrics['n_records']} records quarantined "
                        f"({', '.join(f'{k}: {v}' for k, v in quarantine.items())}); see prepared/quarantine.csv")
    parser_note = describe_parser_warnings(metrics, metrics["n_records"], "prepared/parser_warnings.csv")
    if parser_note:
        warnings.append(parser_note)
    if not complete:
        warnings.append(f"only folds {metrics['folds_run']} of {cfg['cv']['n_splits']} were run: the mean is not "
                        + ("comparable with the Matbench leaderboard" if cfg["dataset"].get("matbench_task")
                           else "a full cross-validation estimate"))
    fallback = sum(r["test_records_fallback"] for r in metrics["per_fold"])
    if fallback:
        score = "the MAE" if fallback_value == "mean" else "the scores"
        warnings.append(f"{fallback} test-fold records were quarantined (their reasons in prepared/quarantine.csv); "
                        f"as Matbench scores every test record, each is predicted by its training-fold "
                        f"{fallback_value} (fallback = 1 in predictions.csv) and counted in {score}")
    lost = sum(r["test_records_unscorable"] for r in metrics["per_fold"])
    if lost:
        warnings.append(f"{lost} quarantined test-fold records could not be scored: no usable target, or a row "
                        "repeating the id of a record kept elsewhere (duplicate_id)")
    return warnings
