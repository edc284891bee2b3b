"""Accuracy of a solution against a reference: relative L2 on the reference grid, masked
points (outside the domain) excluded.

The norm is the plain one over the reference's points, each point weight 1 (no area or time-step
weights), as PINNacle and DeepXDE score their benchmarks: where a reference's points are dense (a
mesh graded towards a corner, many early time slices) they weigh more. A time-dependent problem is
scored in one space-time norm over every slice, the initial one included (:func:`after_initial_time`
gives the figure without it)."""

from __future__ import annotations

import numpy as np

from sciml.pde.references import Reference

#: What ``rel_l2`` in metrics.json is, written beside it.
REL_L2_NORM = ("||pred - ref|| / ||ref|| over the reference's points, each weight 1 (no area or time-step weights, "
               "as PINNacle and DeepXDE score); one space-time norm over every time slice, the initial one included "
               "(rel_l2_after_initial_time leaves it out); several fields: summed over fields (rel_l2_per_field for "
               "each); a field fixed up to a constant: ||ref|| about its mean")


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


def joint_relative_l2(preds: dict[str, np.ndarray], ref: Reference, names: tuple[str, ...] | list[str],
                      centered: tuple[str, ...] | list[str] = (), where: np.ndarray | None = None) -> float:
    """Relative L2 of several fields together: sqrt(sum_f ||pred_f - ref_f||^2 / sum_f ||ref_f||^2)
    over the points where the reference is defined; ``preds`` maps field -> values (``ref.size`` each).
    A field in ``centered`` is fixed only up to an additive constant (its prediction already shifted
    to the reference's mean): its ||ref_f|| is taken about the reference's mean, so the constant the
    reference file happens to use (p = 0 at a node, a gauge pressure) does not shrink or inflate the
    error. ``where``: a boolean mask (``ref.shape``) of the points to score, within the reference's own.
    NaN when the reference of ``names`` is identically zero (e.g. a velocity component of a shear flow):
    a relative error is undefined there, :func:`rms_error` measures it."""
    mask = ref.mask if where is None else ref.mask & where
    num = den = 0.0
    for f in names:
        r = ref.field(f)[mask]
        num += float(np.sum((np.asarray(preds[f], dtype=float).reshape(ref.shape)[mask] - r) ** 2))
        den += float(np.sum((r - r.mean()) ** 2 if f in centered and r.size else r ** 2))
    return float(np.sqrt(num / den)) if den > 0 else float("nan")


def after_initial_time(ref: Reference, t0: float, rtol: float = 1e-9) -> np.ndarray | None:
    """Boolean mask (``ref.shape``) of the reference points later than the initial time ``t0`` (the
    last input, ``t``), or None when the reference has no point at ``t0``. A hard-constrained network
    meets the initial condition exactly there, and a decaying solution keeps most of its norm there,
    so the space-time figure can hide the error at later times."""
    t = ref.points()[:, -1].reshape(ref.shape)
    scale = max(1.0, float(np.nanmax(np.abs(t))))
    later = t > t0 + rtol * scale
    return None if later[ref.mask].all() else later


def max_abs_errors(preds: dict[str, np.ndarray], ref: Reference, names: tuple[str, ...] | list[str]) -> dict[str, float]:
    """Largest |pred - ref| of each field over the points where the reference is defined (the field's units)."""
    return {f: float(np.max(np.abs(np.asarray(preds[f], dtype=float).reshape(ref.shape)[ref.mask]
                                   - ref.field(f)[ref.mask]))) for f in names}


def rms_error(pred: np.ndarray, ref: Reference, name: str) -> float:
    """Root-mean-square of pred - ref for field ``name`` over the points where the reference is defined
    (the field's units)."""
    diff = np.asarray(pred, dtype=float).reshape(ref.shape)[ref.mask] - ref.field(name)[ref.mask]
    return float(np.sqrt(np.mean(diff ** 2)))
