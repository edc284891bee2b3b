"""Calibration of contact probabilities: do predicted probabilities match observed contact rates?

Pooled over proteins, over the pairs CASP scores (separation >= 6, native known). Reports the
Brier score beside that of the base rate (a constant prediction of the pooled contact rate, the
climatology a useful forecast must beat), the expected calibration error over equal-width bins,
and the reliability table (per bin: mean predicted probability, observed contact rate, pairs).
The Brier score is scikit-learn's; the bins are computed here because scikit-learn's
``calibration_curve`` does not return the pair count per bin that the ECE is weighted by.
"""

from __future__ import annotations

from typing import Any

#: Smallest sequence separation of a scored pair (CASP's short range starts at 6).
MIN_SEPARATION = 6


def scored_pairs(probs: Any, native: Any, top: int | None = None) -> tuple[Any, Any]:
    """(predicted probabilities, 0/1 native contacts) of the pairs i < j with j - i >= 6 and a known native;
    with ``top``, of those among the ``top`` most probable pairs with j - i >= 6 (the pairs a CASP RR file of
    ``top`` contacts lists, chosen before the native is looked at)."""
    import numpy as np

    probs = np.asarray(probs, dtype=float)
    native = np.asarray(native, dtype=float)
    i, j = np.triu_indices(native.shape[0], k=MIN_SEPARATION)
    finite = np.isfinite(probs[i, j])
    i, j = i[finite], j[finite]
    if top is not None:
        order = np.argsort(-probs[i, j], kind="stable")[:top]
        i, j = i[order], j[order]
    keep = ~np.isnan(native[i, j])
    return probs[i[keep], j[keep]], native[i[keep], j[keep]].astype(int)


def calibration(pairs: list[tuple[Any, Any]], n_bins: int = 10, top_per_residue: int | None = None) -> dict[str, Any]:
    """Calibration of ``pairs`` = [(probs (L, L), native (L, L) 0/1 with NaN unknown)] pooled; with
    ``top_per_residue`` k, over each protein's k L most probable pairs only (``predict``'s RR file lists 5 L):
    the pooled figure is dominated by the many improbable pairs, this one by the pairs a user reads.

    Returns ``{"pairs", "contact_rate", "brier", "brier_base_rate", "brier_skill", "ece",
    "reliability": [{"bin": [lo, hi], "mean_predicted", "observed", "pairs"}]}``; bins without
    pairs are left out.
    """
    import numpy as np
    from sklearn.metrics import brier_score_loss

    from sciml.rounding import round_sig

    ps, ys = zip(*(scored_pairs(p, n, None if top_per_residue is None else top_per_residue * len(n))
                   for p, n in pairs)) if pairs else ((), ())
    p = np.concatenate(ps) if ps else np.zeros(0)
    y = np.concatenate(ys) if ys else np.zeros(0, dtype=int)
    if len(p) == 0:
        return {"pairs": 0}
    p = np.clip(p, 0.0, 1.0)
    rate = float(y.mean())
    brier = float(brier_score_loss(y, p))
    base = float(brier_score_loss(y, np.full_like(p, rate)))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    table, ece = [], 0.0
    for b in range(n_bins):
        sel = which == b
        if not sel.any():
            continue
        conf, obs = float(p[sel].mean()), float(y[sel].mean())
        ece += sel.mean() * abs(conf - obs)
        table.append({"bin": [round(float(edges[b]), 2), round(float(edges[b + 1]), 2)],
                      "mean_predicted": round_sig(conf), "observed": round_sig(obs), "pairs": int(sel.sum())})
    return {"pairs": int(len(p)), "contact_rate": round_sig(rate), "brier": round_sig(brier),
            "brier_base_rate": round_sig(base), "brier_skill": round_sig(1.0 - brier / base) if base > 0 else None,
            "ece": round_sig(float(ece)), "reliability": table}
