"""Level of detail for maps at city scale: many features drawn as few.

A city run has 50,000 buildings and 160,000 street segments; drawn one object each they cost
minutes in ``map.png`` and megabytes in ``report.html``. What is drawn is the same data at a
coarser grain; the plan itself (chosen sites, their ranks) is never aggregated.

* :func:`compound_path`: many lines or polygon rings as *one* matplotlib ``Path`` (a MOVETO code
  at each part's first vertex, CLOSEPOLY at a ring's last), so the map draws streets and buildings
  with one artist instead of one ``Path`` object per segment. It is added with ``add_artist``, not
  ``add_patch``: the latter walks every segment in Python to update the data limits, which the map
  sets itself.
* :func:`grid_cells`: above :data:`MAX_SVG_POINTS` demand points, the interactive map shows square
  cells instead of one dot per point. The cell side is the smallest of 1, 2, 4, ... times
  :data:`FIRST_CELL` (in SVG units) that leaves at most :data:`MAX_SVG_POINTS` occupied cells; each
  cell takes the coverage state (every service / some / none) that holds the most people in it.
* :func:`street_image`: above :data:`MAX_SVG_STREET_VERTICES` street vertices, the interactive map
  draws the streets as one two-colour PNG (1 bit a pixel) laid under the vector layers, its size set
  by the picture, not the number of streets, instead of one vector path.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Most demand points the interactive map draws one by one; more are drawn as grid cells.
MAX_SVG_POINTS = 4_000
#: Smallest cell side (SVG units; the map is 1,000 units wide).
FIRST_CELL = 4.0
#: Most street vertices drawn as a vector path in the interactive map; more become one picture.
MAX_SVG_STREET_VERTICES = 150_000
#: Pixels per SVG unit of the street picture.
STREET_PIXELS_PER_UNIT = 1.25


def compound_path(coords: Any, index: Any, closed: bool) -> Any:
    """One matplotlib ``Path`` of many lines (``closed=False``) or rings (``closed=True``).

    ``coords`` (k, 2) are the vertices and ``index`` (k,) the part each belongs to, as
    ``shapely.get_coordinates(..., return_index=True)`` gives them (parts contiguous).
    """
    from matplotlib.path import Path

    coords = np.asarray(coords, dtype=np.float64)
    index = np.asarray(index)
    codes = np.full(len(coords), Path.LINETO, dtype=Path.code_type)
    first = np.ones(len(coords), dtype=bool)
    first[1:] = index[1:] != index[:-1]
    codes[first] = Path.MOVETO
    if closed:
        last = np.ones(len(coords), dtype=bool)
        last[:-1] = first[1:]
        codes[last & ~first] = Path.CLOSEPOLY
    return Path(coords, codes)


def grid_cells(
    x: NDArray[np.float64], y: NDArray[np.float64], state: NDArray[np.int64], people: NDArray[np.float64], states: int
) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]] | None:
    """Demand points (SVG units) as grid cells (module docstring); None when few enough to draw one by one.

    ``state`` (n,) is each point's class in ``0 .. states-1`` and ``people`` its weight. Returns the
    cell side, the cells' lower-left corners (x, y) and each cell's class (the one with the most
    people; ties to the lower class; a cell without people takes its points' most common class).
    """
    n = len(x)
    if n <= MAX_SVG_POINTS:
        return None
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    side = FIRST_CELL
    while True:  # doubling: a handful of rounds
        ix, iy = np.floor(x / side).astype(np.int64), np.floor(y / side).astype(np.int64)
        key = (ix - ix.min()) * (iy.max() - iy.min() + 1) + (iy - iy.min())
        cells, cell_of = np.unique(key, return_inverse=True)
        if len(cells) <= MAX_SVG_POINTS:
            break
        side *= 2.0
    k = len(cells)
    w = np.asarray(people, dtype=np.float64)
    slot = cell_of * states + np.asarray(state, dtype=np.int64)
    by_people = np.bincount(slot, weights=w, minlength=k * states).reshape(k, states)
    by_count = np.bincount(slot, minlength=k * states).reshape(k, states)
    empty = by_people.sum(axis=1) <= 0
    cls = np.where(empty, np.argmax(by_count, axis=1), np.argmax(by_people, axis=1)).astype(np.int64)
    first = np.zeros(k, dtype=np.int64)
    first[cell_of[::-1]] = np.arange(n)[::-1]  # a point of each cell, for its corner
    cx = np.floor(x[first] / side) * side
    cy = np.floor(y[first] / side) * side
    return side, cx, cy, cls


def street_image(coords: NDArray[np.float64], index: NDArray[np.int64], width: float, height: float) -> str | None:
    """The streets (SVG units, y down) as a transparent PNG data URI of ``width x height`` units at
    :data:`STREET_PIXELS_PER_UNIT`; None when few enough vertices to draw as a vector path."""
    if len(coords) <= MAX_SVG_STREET_VERTICES:
        return None
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch

    dpi = 100.0
    fig = Figure(figsize=(width * STREET_PIXELS_PER_UNIT / dpi, height * STREET_PIXELS_PER_UNIT / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_xlim(0.0, width)
    ax.set_ylim(height, 0.0)  # SVG: y grows downwards
    ax.add_artist(PathPatch(compound_path(coords, index, closed=False), facecolor="none", edgecolor="black", lw=0.6))
    with matplotlib.rc_context({"agg.path.chunksize": 20_000, "path.simplify": True}):
        fig.patch.set_alpha(0.0)
        canvas.draw()
    # two colours (transparent, street grey) in a 1-bit palette PNG: anti-aliased greys do not compress
    ink = np.asarray(canvas.buffer_rgba())[:, :, 3] >= 96
    from PIL import Image

    img = Image.frombytes("P", (ink.shape[1], ink.shape[0]), ink.astype(np.uint8).tobytes())
    img.putpalette([255, 255, 255, 0xC8, 0xC8, 0xC8] + [0, 0, 0] * 254)
    buf = io.BytesIO()
    img.save(buf, format="PNG", transparency=0, bits=1, optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


__all__ = [
    "FIRST_CELL",
    "MAX_SVG_POINTS",
    "MAX_SVG_STREET_VERTICES",
    "STREET_PIXELS_PER_UNIT",
    "compound_path",
    "grid_cells",
    "street_image",
]
