"""Regression and binary-classification scores of a set of predictions, rounded for byte-stable JSON."""

from __future__ import annotations

import numpy as np

from sciml.rounding import round_fixed


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """MAE, RMSE, R^2 and max abs error of predictions ``p`` against targets ``y`` (both (n,), target units).

    Rounded to six decimals (:func:`sciml.rounding.round_fixed`); R^2 is None for a constant target.
    """
    err = p - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {
        "mae": round_fixed(np.abs(err).mean()),
        "rmse": round_fixed(np.sqrt((err**2).mean())),
        "r2": round_fixed(1.0 - float((err**2).sum()) / ss_tot) if ss_tot > 0 else None,
        "max_abs_error": round_fixed(np.abs(err).max()),
    }


#: Matbench's threshold: a probability above it is class 1 (``matbench.constants.CLF_THRESH``, strict ``>``).
MATBENCH_THRESHOLD = 0.5


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | int | None]:
    """Scores of predicted probabilities ``p`` of class 1 against labels ``y`` (both (n,); labels 0/1), rounded
    like :func:`regression_metrics`.

    ``roc_auc`` is Matbench's: its ``score_array`` turns float predictions into labels (``p > 0.5``) before
    ``accuracy`` and scores ``rocauc`` on those labels, so the leaderboard's ROC-AUC of a binary task is the
    balanced accuracy of the thresholded predictions. ``roc_auc_probability`` is sklearn's ROC-AUC of the
    probabilities themselves (the threshold-free ranking score most papers mean). Both are None when the
    labels hold one class only. ``accuracy``, ``balanced_accuracy`` and ``f1`` use the same ``p > 0.5``;
    ``log_loss`` (natural log, probabilities clipped to [1e-7, 1 - 1e-7]), ``brier``, ``n_positive``."""
    from sklearn.metrics import balanced_accuracy_score, brier_score_loss, f1_score, log_loss, roc_auc_score

    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    labels = (y > 0.5).astype(int)
    hard = (p > MATBENCH_THRESHOLD).astype(int)
    both = len(np.unique(labels)) == 2
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return {
        "roc_auc": round_fixed(roc_auc_score(labels, hard)) if both else None,
        "roc_auc_probability": round_fixed(roc_auc_score(labels, p)) if both else None,
        "accuracy": round_fixed(float((hard == labels).mean())),
        "balanced_accuracy": round_fixed(balanced_accuracy_score(labels, hard)) if both else None,
        "f1": round_fixed(f1_score(labels, hard, zero_division=0.0)),
        "log_loss": round_fixed(log_loss(labels, q, labels=[0, 1])),
        "brier": round_fixed(brier_score_loss(labels, p, pos_label=1)),
        "n_positive": int(labels.sum()),
    }


def score_predictions(y: np.ndarray, p: np.ndarray, classification: bool) -> dict[str, float | int | None]:
    """:func:`classification_metrics` or :func:`regression_metrics` of ``p`` against ``y``."""
    return classification_metrics(y, p) if classification else regression_metrics(y, p)


def headline(metrics: dict, prefix: str = "") -> str:
    """One line of a fold's (``prefix`` "") or the section's (``prefix`` "mean ") metrics dict: the test MAE
    with its unit, or a classifier's ROC-AUC (Matbench's, of the thresholded predictions)."""
    if metrics.get("task") == "classification":
        value = metrics["roc_auc_mean"] if prefix else metrics["test"]["roc_auc"]
        spread = f" ± {metrics['roc_auc_std']}" if prefix else ""
        return f"{prefix}ROC-AUC {value}{spread}"
    value = metrics["mae_mean"] if prefix else metrics["test"]["mae"]
    spread = f" ± {metrics['mae_std']}" if prefix else ""
    return f"{prefix}MAE {value}{spread} {metrics['unit']}"
