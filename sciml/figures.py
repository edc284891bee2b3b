"""Figures for reports: matplotlib's object API, written atomically.

``new_figure`` builds a :class:`matplotlib.figure.Figure` on its own Agg canvas, so
no pyplot state is used and the global backend is never switched (a notebook that
imports a plotting module keeps its inline backend). ``save_figure`` renders it to a
temporary file beside ``path`` and renames it into place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (6.0, 4.0),
               squeeze: bool = True, **subplot_kw: Any) -> tuple[Any, Any]:
    """``(figure, axes)`` like ``plt.subplots`` but headless and without global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=squeeze, **subplot_kw)
    return fig, axes


def save_figure(fig: Any, path: str | Path, *, dpi: int = 110, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; return the path."""
    from sciml.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight" if tight else None, format=path.suffix.lstrip(".") or "png")
    return path
