"""Figures on the Agg canvas, without pyplot: headless-safe and free of global state.

pyplot keeps every figure it makes alive until it is closed and picks a backend from the
environment (a display, a notebook); a server, a CI job or a loop that draws a figure per
epoch wants neither. A :class:`~matplotlib.figure.Figure` given its own
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg` renders to PNG anywhere and is
freed like any object. Jupyter displays a returned figure once its inline backend is on
(``%matplotlib inline``, or any earlier ``import matplotlib.pyplot``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DPI", "new_figure", "save_figure"]

DPI = 100
"""Pixels per inch of every figure: a ``w x h`` inch figure saves as ``100w x 100h`` pixels."""


def new_figure(width: float, height: float):
    """An empty ``width x height``-inch Figure on an Agg canvas, laid out by matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Write ``figure`` as a PNG of exactly its size in pixels (inches times :data:`DPI`).

    No ``bbox_inches="tight"``: it would crop to the drawn content, so the size of the file
    would depend on the labels; the layout engine already keeps everything inside.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path
