"""Regression scores of a set of predictions (target units), rounded for byte-stable JSON."""

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
