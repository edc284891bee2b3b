"""Figures: reference / prediction / |error| maps and loss curves (through :mod:`sciml.figures`:
matplotlib's object API, headless, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


_TITLES = {"reference": "reference", "prediction": "prediction", "abs_error": "|error| vs reference",
           "abs_error_vs_solver": "|error| vs finest solver"}


def plot_fields(ds, path: str | Path, title: str) -> Path:
    """Maps of an evaluation Dataset: reference, prediction, |error| and, where the Dataset has
    it, |error| against the finest classical solve; PNG written atomically. A parametric
    Dataset (e.g. dims nu, x, t) gets one row of maps per value of its first dim."""
    from sciml.figures import new_figure, save_figure

    dims = ds["reference"].dims
    if len(dims) == 3:
        par = dims[0]
        rows = [(ds.isel({par: i}), f", {par} = {float(ds[par][i]):.4g}") for i in range(ds.sizes[par])]
    else:
        rows = [(ds, "")]
    scattered = dims == ("node",)
    names = ("reference", "prediction", "abs_error") + (("abs_error_vs_solver",) if "abs_error_vs_solver" in ds else ())
    height = 4 if scattered else (3.6 if len(rows) == 1 else 3.2)
    fig, axes = new_figure(len(rows), len(names), figsize=(4.35 * len(names), height * len(rows)), squeeze=False)
    fig.set_layout_engine("constrained")
    both = np.concatenate([ds["reference"].values.ravel(), ds["prediction"].values.ravel()])
    vmin, vmax = float(np.nanmin(both)), float(np.nanmax(both))
    kws = ({"vmin": vmin, "vmax": vmax, "cmap": "RdBu_r"},) * 2 + ({"cmap": "magma"},) * 2
    for row_axes, (sub, label) in zip(axes, rows):
        for ax, var, kw in zip(row_axes, names, kws):
            if scattered:  # unstructured reference nodes (COMSOL export): coloured points, x right, y up
                im = ax.scatter(sub["x"].values, sub["y"].values, c=sub[var].values, s=9, linewidths=0, **kw)
                ax.set_aspect("equal")
                ax.set_xlabel("x")
                ax.set_ylabel("y")
            else:
                xd, yd = sub["reference"].dims  # first dim on the vertical axis: (x, t) -> x vs t
                im = ax.pcolormesh(sub[yd].values, sub[xd].values, sub[var].values, shading="auto", **kw)
                ax.set_xlabel(yd)
                ax.set_ylabel(xd)
            ax.set_title(_TITLES[var] + label)
            fig.colorbar(im, ax=ax)
    fig.suptitle(title)
    return save_figure(fig, path, dpi=110 if len(rows) == 1 else 90, tight=False)


def plot_loss(history: list[list[Any]], path: str | Path, title: str) -> Path:
    """Training loss (log scale) against iteration, one colour per stage; ``history`` rows are
    ``[iteration, stage, loss]``; PNG written atomically."""
    from sciml.figures import new_figure, save_figure

    fig, ax = new_figure(figsize=(6, 3.6))
    fig.set_layout_engine("constrained")
    stages = list(dict.fromkeys(h[1] for h in history))
    for stage in stages:
        pts = [(h[0], h[2]) for h in history if h[1] == stage]
        ax.semilogy([p[0] for p in pts], [p[1] for p in pts], ".-", label=stage)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path, dpi=110, tight=False)
