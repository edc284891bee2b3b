"""Figures: predicted (upper triangle) vs native (lower triangle) contact maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def contact_map_panels(path: str | Path, panels: list[dict[str, Any]], title: str = "") -> Path:
    """One panel per protein: native contacts grey (lower), top-L predictions (upper) blue = true, red = false.

    ``panels``: dicts with ``name``, ``native`` (L, L) and ``scores`` (L, L), ``method``.
    """
    import numpy as np

    from sciml.figures import new_figure, save_figure
    from sciml.proteins.metrics import range_mask, top_pairs

    n = len(panels)
    fig, axes = new_figure(1, n, figsize=(3.2 * n, 3.4), squeeze=False)
    for ax, p in zip(axes[0], panels):
        nat = np.asarray(p["native"], dtype=float)
        L = nat.shape[0]
        ii, jj = np.nonzero(np.tril(np.nan_to_num(nat) == 1.0, k=-6))
        ax.scatter(jj, ii, s=3, c="0.6", marker="s", linewidths=0)
        s = np.asarray(p["scores"], dtype=float)
        mask = range_mask(L, 6, None) & np.isfinite(s) & np.isfinite(nat)
        pairs = top_pairs(s, mask, L)
        ok = nat[pairs[:, 0], pairs[:, 1]] == 1.0
        ax.scatter(pairs[ok, 1], pairs[ok, 0], s=5, c="tab:blue", marker="o", linewidths=0, label="true")
        ax.scatter(pairs[~ok, 1], pairs[~ok, 0], s=5, c="tab:red", marker="x", linewidths=0.8, label="false")
        ax.set_xlim(-1, L)
        ax.set_ylim(L, -1)
        ax.set_aspect("equal")
        ax.set_title(f"{p['name']} ({p['method']}, L={L})", fontsize=8)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)
