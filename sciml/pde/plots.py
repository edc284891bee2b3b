"""Figures: reference / prediction / |error| maps and loss curves (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_TITLES = {"reference": "reference", "prediction": "prediction", "abs_error": "|error| vs reference",
           "abs_error_vs_solver": "|error| vs finest solver"}


def plot_fields(ds, path: str | Path, title: str) -> Path:
    """Maps of an evaluation Dataset: reference, prediction, |error| and, where the Dataset has
    it, |error| against the finest classical solve; PNG written atomically. A parametric
    Dataset (e.g. dims nu, x, t) gets one row of maps per value of its first dim."""
    from sciml.io import atomic_path

    plt = _plt()
    dims = ds["reference"].dims
    if len(dims) == 3:
        par = dims[0]
        rows = [(ds.isel({par: i}), f", {par} = {float(ds[par][i]):.4g}") for i in range(ds.sizes[par])]
    else:
        rows = [(ds, "")]
    scattered = dims == ("node",)
    names = ("reference", "prediction", "abs_error") + (("abs_error_vs_solver",) if "abs_error_vs_solver" in ds else ())
    height = 4 if scattered else (3.6 if len(rows) == 1 else 3.2)
    fig, axes = plt.subplots(len(rows), len(names), figsize=(4.35 * len(names), height * len(rows)),
                             constrained_layout=True, squeeze=False)
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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110 if len(rows) == 1 else 90, format="png")
    plt.close(fig)
    return Path(path)


def plot_loss(history: list[list[Any]], path: str | Path, title: str) -> Path:
    """Training loss (log scale) against iteration, one colour per stage."""
    from sciml.io import atomic_path

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    stages = list(dict.fromkeys(h[1] for h in history))
    for stage in stages:
        pts = [(h[0], h[2]) for h in history if h[1] == stage]
        ax.semilogy([p[0] for p in pts], [p[1] for p in pts], ".-", label=stage)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss")
    ax.set_title(title)
    ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
