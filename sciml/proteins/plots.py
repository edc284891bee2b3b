"""Figures: predicted (upper triangle) vs native (lower triangle) contact maps.

Axes count residues from 1, as the RR files do (:func:`residue_axes`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def residue_axes(ax: Any, L: int) -> None:
    """Axes of an L-residue map numbered 1..L (as the RR files number residues), row 1 at the top;
    plot pair (i, j) of 0-based arrays at (j + 1, i + 1)."""
    ax.set_xlim(0.5, L + 0.5)
    ax.set_ylim(L + 0.5, 0.5)
    ax.set_xlabel("residue", fontsize=7)
    ax.set_ylabel("residue", fontsize=7)


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
        ax.scatter(jj + 1, ii + 1, s=3, c="0.6", marker="s", linewidths=0)
        s = np.asarray(p["scores"], dtype=float)
        mask = range_mask(L, 6, None) & np.isfinite(s) & np.isfinite(nat)
        pairs = top_pairs(s, mask, L)
        ok = nat[pairs[:, 0], pairs[:, 1]] == 1.0
        ax.scatter(pairs[ok, 1] + 1, pairs[ok, 0] + 1, s=5, c="tab:blue", marker="o", linewidths=0, label="true")
        ax.scatter(pairs[~ok, 1] + 1, pairs[~ok, 0] + 1, s=5, c="tab:red", marker="x", linewidths=0.8, label="false")
        residue_axes(ax, L)
        ax.set_aspect("equal")
        ax.set_title(f"{p['name']} ({p['method']}, L={L})", fontsize=8)
        ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)


def predicted_map_points(probs: Any, native: Any | None = None) -> dict[str, Any]:
    """The points :func:`predicted_map` draws in its lower triangle, as (K, 2) arrays of 0-based
    (i, j) pairs: ``native`` (grey, |i-j| >= 6), ``true`` and ``false`` (the top-L predictions,
    ranked, as the CASP precisions are, among the pairs whose native contact is known), or
    ``top`` without a structure. Pairs with a residue missing from the structure (NaN native)
    are neither true nor false: they are left out, as in the precision table."""
    import numpy as np

    from sciml.proteins.metrics import range_mask, top_pairs

    p = np.asarray(probs, dtype=float)
    L = p.shape[0]
    mask = range_mask(L, 6, None) & np.isfinite(p)
    if native is None:
        return {"top": top_pairs(p, mask, L)}
    nat = np.asarray(native, dtype=float)
    pairs = top_pairs(p, mask & np.isfinite(nat), L)
    ok = nat[pairs[:, 0], pairs[:, 1]] == 1.0
    ii, jj = np.nonzero(np.tril(np.nan_to_num(nat) == 1.0, k=-6))
    return {"native": np.stack([ii, jj], axis=1), "true": pairs[ok], "false": pairs[~ok]}


def predicted_map(path: str | Path, name: str, probs: Any, native: Any | None = None, title: str = "") -> Path:
    """A predicted contact map: probabilities as a heat map in the upper triangle; in the lower
    triangle the native contacts (grey) when a structure was given, with the top-L predictions
    (|i-j| >= 6) marked blue = true, red = false (pairs of residues missing from the structure
    are left out, see :func:`predicted_map_points`); without one, the top-L predictions in black."""
    import numpy as np

    from sciml.figures import new_figure, save_figure

    p = np.asarray(probs, dtype=float)
    L = p.shape[0]
    fig, axes = new_figure(1, 1, figsize=(4.6, 4.0), squeeze=False)
    ax = axes[0][0]
    upper = np.where(np.triu(np.ones((L, L), dtype=bool), k=1), p, np.nan)
    im = ax.imshow(upper, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest",
                   extent=(0.5, L + 0.5, L + 0.5, 0.5))  # pixel (i, j) centred on residues i + 1, j + 1
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="contact probability")
    pts = predicted_map_points(p, native)
    if native is not None:
        nat, ok, bad = pts["native"], pts["true"], pts["false"]
        ax.scatter(nat[:, 1] + 1, nat[:, 0] + 1, s=3, c="0.6", marker="s", linewidths=0)
        ax.scatter(ok[:, 0] + 1, ok[:, 1] + 1, s=5, c="tab:blue", marker="o", linewidths=0, label="true")
        ax.scatter(bad[:, 0] + 1, bad[:, 1] + 1, s=5, c="tab:red", marker="x", linewidths=0.8, label="false")
    else:
        ax.scatter(pts["top"][:, 0] + 1, pts["top"][:, 1] + 1, s=4, c="k", marker="o", linewidths=0, label="top L")
    residue_axes(ax, L)
    ax.set_title(title or f"{name} (L={L})", fontsize=8)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110, tight=False)
