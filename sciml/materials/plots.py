"""Figures of the materials section (matplotlib object API via :mod:`sciml.figures`, PNG, 110 dpi)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from sciml.figures import new_figure, save_figure

#: Resolution of the section's figures.
DPI = 110


def parity_per_fold(folds: dict[int, tuple[np.ndarray, np.ndarray, float]], label: str, path: str | Path) -> Path:
    """One parity panel per fold: ``folds[k] = (target, prediction, mae)`` in target units; ``label``
    names the values, unit included (:func:`~sciml.materials.dataset.value_label`)."""
    n = len(folds)
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(rows, cols, figsize=(3.0 * cols, 3.0 * rows), squeeze=False)
    all_v = np.concatenate([np.concatenate([t, p]) for t, p, _ in folds.values()])
    lo, hi = float(all_v.min()), float(all_v.max())
    pad = 0.03 * (hi - lo or 1.0)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (k, (t, p, mae)) in zip(axes.flat, sorted(folds.items())):
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1)
        ax.scatter(t, p, s=6, alpha=0.6)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_title(f"fold {k}: MAE {mae:.4g}", fontsize=9)
        ax.set_xlabel(f"true {label}", fontsize=8)
        ax.set_ylabel(f"predicted {label}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def read_learning_curve(metrics_csv: str | Path) -> dict[str, list[tuple[int, float]]]:
    """``{"train_loss": [(epoch, value)], "val_loss": [...], "val_mae": [...]}`` from a Lightning CSVLogger file."""
    curves: dict[str, dict[int, float]] = {"train_loss": {}, "val_loss": {}, "val_mae": {}}
    with open(metrics_csv, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for key in curves:
                v = row.get(key)
                if v not in (None, ""):
                    curves[key][int(row["epoch"])] = float(v)
    return {k: sorted(v.items()) for k, v in curves.items()}


def roc_per_fold(folds: dict[int, tuple[np.ndarray, np.ndarray, float]], label: str, path: str | Path) -> Path:
    """ROC curves of a classification, one line per fold: ``folds[k] = (labels 0/1, predicted probability of
    class 1, ROC-AUC)``; ``label`` names the class. A fold holding one class has no curve (noted in the legend)."""
    from sklearn.metrics import roc_curve

    fig, ax = new_figure(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    for k, (t, p, auc) in sorted(folds.items()):
        if len(np.unique(t)) < 2:
            ax.plot([], [], lw=1.2, label=f"fold {k}: one class, no curve")
            continue
        fpr, tpr, _ = roc_curve(t > 0.5, p)
        ax.plot(fpr, tpr, lw=1.2, label=f"fold {k}: AUC {auc:.4g}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate", fontsize=9)
    ax.set_ylabel("true positive rate", fontsize=9)
    ax.set_title(f"ROC: {label}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)


def learning_curves(curves: dict[int, dict[str, list[tuple[int, float]]]], unit: str, path: str | Path,
                    loss_label: str | None = None) -> Path:
    """Training/validation loss (normalised; a classifier's: ``loss_label``, binary cross-entropy) and validation
    MAE (target units; a classifier's mean |probability - label|) per epoch, one line per fold."""
    fig, (a1, a2) = new_figure(1, 2, figsize=(10, 3.6))
    for k, c in sorted(curves.items()):
        if c["train_loss"]:
            e, v = zip(*c["train_loss"])
            a1.plot(e, v, lw=1, label=f"fold {k} train")
        if c["val_loss"]:
            e, v = zip(*c["val_loss"])
            a1.plot(e, v, lw=1, ls="--", label=f"fold {k} val")
        if c["val_mae"]:
            e, v = zip(*c["val_mae"])
            a2.plot(e, v, lw=1, label=f"fold {k}")
    a1.set_xlabel("epoch")
    a1.set_ylabel(loss_label or "loss (normalised target)")
    a1.set_yscale("log")
    a1.legend(fontsize=6, ncol=2)
    a2.set_xlabel("epoch")
    a2.set_ylabel("validation mean |probability - label|" if loss_label else f"validation MAE ({unit})")
    a2.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)
