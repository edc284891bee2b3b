"""How numbers are rounded before they go into metrics JSON.

Metrics files must be byte-identical for the same seed on the same machine and
thread count, so float noise far below a figure's meaning must not reach the file.
Two forms of the one rule "keep six digits of meaning":

- :func:`round_fixed`: six *decimals*, for figures on a fixed scale (precisions in
  [0, 1], MAE in target units, losses);
- :func:`round_sig`: six *significant* digits, for figures that span decades
  (relative L2 errors from 1e-1 to 1e-6), where fixed decimals would erase them.

Non-finite values become ``None`` (JSON has no NaN).
"""

from __future__ import annotations

import math

#: Digits kept by both forms.
DIGITS = 6


def round_fixed(value: float | None, decimals: int = DIGITS) -> float | None:
    """``value`` rounded to ``decimals`` decimal places; None for None/NaN/inf."""
    if value is None:
        return None
    value = float(value)
    return round(value, decimals) if math.isfinite(value) else None


def round_sig(value: float | None, digits: int = DIGITS) -> float | None:
    """``value`` rounded to ``digits`` significant digits; 0 stays 0; None for None/NaN/inf."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    if value == 0:
        return value
    return float(f"{value:.{digits}g}")
