"""Accuracy of a solution against a reference: relative L2 on the reference grid, masked
points (outside the domain) excluded."""

from __future__ import annotations

import numpy as np

from sciml.pde.references import Reference


def relative_l2(pred: np.ndarray, ref: Reference) -> float:
    """||pred - ref|| / ||ref|| (dimensionless) over the points where the reference is defined;
    ``pred`` has ``ref.size`` values in any shape (reshaped to ``ref.shape``)."""
    mask = ref.mask
    diff = np.asarray(pred, dtype=float).reshape(ref.shape)[mask] - ref.values[mask]
    return float(np.linalg.norm(diff) / np.linalg.norm(ref.values[mask]))


def masked_like(values: np.ndarray, ref: Reference, source: str) -> Reference:
    """``values`` on ``ref``'s grid as a Reference, NaN (masked) where ``ref`` is, so errors
    against it are measured on the same points (e.g. the finest solve as a second yardstick)."""
    return Reference(ref.dims, ref.coords, np.where(ref.mask, np.asarray(values, dtype=float).reshape(ref.shape), np.nan),
                     source, ref.inputs)


def joint_relative_l2(preds: dict[str, np.ndarray], ref: Reference, names: tuple[str, ...] | list[str]) -> float:
    """Relative L2 of several fields together: sqrt(sum_f ||pred_f - ref_f||^2 / sum_f ||ref_f||^2)
    over the points where the reference is defined; ``preds`` maps field -> values (``ref.size`` each).
    NaN when the reference of ``names`` is identically zero (e.g. a velocity component of a shear flow):
    a relative error is undefined there, :func:`rms_error` measures it."""
    mask = ref.mask
    num = den = 0.0
    for f in names:
        r = ref.field(f)[mask]
        num += float(np.sum((np.asarray(preds[f], dtype=float).reshape(ref.shape)[mask] - r) ** 2))
        den += float(np.sum(r ** 2))
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def rms_error(pred: np.ndarray, ref: Reference, name: str) -> float:
    """Root-mean-square of pred - ref for field ``name`` over the points where the reference is defined
    (the field's units)."""
    diff = np.asarray(pred, dtype=float).reshape(ref.shape)[ref.mask] - ref.field(name)[ref.mask]
    return float(np.sqrt(np.mean(diff ** 2)))
