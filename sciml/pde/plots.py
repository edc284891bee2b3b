"""Figures: reference / prediction / |error| maps and loss curves (through :mod:`sciml.figures`:
matplotlib's object API, headless, written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


_TITLES = {"reference": "reference", "prediction": "prediction", "abs_error": "|error| vs reference",
           "abs_error_vs_solver": "|error| vs finest solver"}


def plot_fields(ds, path: str | Path, title: str, fields: tuple[str, ...] | None = None) -> Path:
    """Maps of an evaluation Dataset: reference, prediction, |error| and, where the Dataset has
    it, |error| against the finest classical solve; PNG written atomically. A parametric
    Dataset (e.g. dims nu, x, t) gets one row of maps per value of its first dim; a Dataset of
    several ``fields`` (variables ``reference_<f>`` ...) one row per field."""
    from sciml.figures import new_figure, save_figure

    if fields:
        return _plot_field_rows(ds, path, title, fields)
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
            names_ = [c for c in sub.coords if c != "node"]
            if scattered and len(names_) == 1:  # scattered points of a 1D problem: values against x
                ax.scatter(sub[names_[0]].values, sub[var].values, s=6)
                ax.set_xlabel(names_[0])
                ax.set_title(_TITLES[var] + label)
                continue
            if scattered:  # unstructured reference nodes (COMSOL export): coloured points, x right, y up
                cx, cy = names_[:2]
                im = ax.scatter(sub[cx].values, sub[cy].values, c=sub[var].values, s=9, linewidths=0, **kw)
                ax.set_aspect("equal")
                ax.set_xlabel(cx)
                ax.set_ylabel(cy)
            elif len(sub["reference"].dims) == 1:  # a 1D problem: curves
                d = sub["reference"].dims[0]
                ax.plot(sub[d].values, sub[var].values)
                ax.set_xlabel(d)
                ax.set_title(_TITLES[var] + label)
                continue
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


def _plot_field_rows(ds, path: str | Path, title: str, fields: tuple[str, ...]) -> Path:
    """One row (reference, prediction, |error|) per field, own colour scale per field."""
    from sciml.figures import new_figure, save_figure

    dims = ds[f"reference_{fields[0]}"].dims
    scattered = dims == ("node",)
    fig, axes = new_figure(len(fields), 3, figsize=(4.35 * 3, 3.6 * len(fields)), squeeze=False)
    fig.set_layout_engine("constrained")
    coords = [c for c in ds.coords if c != "node"][:2] if scattered else None
    for row_axes, f in zip(axes, fields):
        both = np.concatenate([ds[f"reference_{f}"].values.ravel(), ds[f"prediction_{f}"].values.ravel()])
        vmin, vmax = float(np.nanmin(both)), float(np.nanmax(both))
        for ax, var, kw in zip(row_axes, ("reference", "prediction", "abs_error"),
                               ({"vmin": vmin, "vmax": vmax, "cmap": "RdBu_r"},) * 2 + ({"cmap": "magma"},)):
            v = ds[f"{var}_{f}"]
            if scattered and len(coords) == 1:  # scattered points of a 1D problem: values against x
                ax.scatter(ds[coords[0]].values, v.values, s=6)
                ax.set_xlabel(coords[0])
                im = None
            elif scattered:
                im = ax.scatter(ds[coords[0]].values, ds[coords[1]].values, c=v.values, s=9, linewidths=0, **kw)
                ax.set_xlabel(coords[0])
                ax.set_ylabel(coords[1])
            elif len(dims) == 1:
                ax.plot(ds[dims[0]].values, v.values)
                ax.set_xlabel(dims[0])
                im = None
            else:
                xd, yd = dims[:2]
                vals = v.values if len(dims) == 2 else v.isel({d: -1 for d in dims[2:]}).values
                im = ax.pcolormesh(ds[yd].values, ds[xd].values, vals, shading="auto", **kw)
                ax.set_xlabel(yd)
                ax.set_ylabel(xd)
            ax.set_title(f"{f}: {_TITLES[var]}")
            if im is not None:
                fig.colorbar(im, ax=ax)
    fig.suptitle(title)
    return save_figure(fig, path, dpi=110, tight=False)
