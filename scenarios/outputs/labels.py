"""Rank labels that never hide one another: a small deterministic label placer for map.png.

Each label belongs to a point (a chosen plot; a plot chosen for several services gets one label
listing them). Labels are placed greedily in rank order: for a label, candidate positions are tried
around its point, ring by ring (offsets :data:`RINGS` points), eight directions per ring (:data:`DIRECTIONS`,
north-east first, the cartographic preference); the first position whose box, measured in display
coordinates with the renderer's own text extent, lies inside the axes and overlaps neither an
already placed label nor an obstacle (scale bar, north arrow, inset, and the chosen sites' markers
on the first pass) is taken. A label placed beyond the first ring gets a thin leader line to its point.

Boxes are compared with a margin of :data:`PAD_PX` pixels, so the white halo around the text does not
touch a neighbour either. When no position is free even without the marker obstacles, the label is
left out and named in the map's notes (never drawn over another): the plan table lists every rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Offsets from the point (points, 1/72 inch), tried in order.
RINGS = (5.0, 12.0, 22.0, 34.0, 48.0, 64.0, 84.0, 110.0)
#: Directions (unit x, unit y) tried on every ring, north-east first.
DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
#: Margin between boxes (pixels).
PAD_PX = 2.0

Box = tuple[float, float, float, float]


def overlaps(a: Box, b: Box, pad: float = 0.0) -> bool:
    """Whether two boxes ``(x0, y0, x1, y1)`` intersect once each is grown by ``pad / 2``."""
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def _hits(a: Box, boxes: Any, pad: float) -> bool:
    """:func:`overlaps` of ``a`` with any row of the (k, 4) array ``boxes``."""
    if not len(boxes):
        return False
    b = boxes
    return bool(
        np.any((a[0] < b[:, 2] + pad) & (b[:, 0] < a[2] + pad) & (a[1] < b[:, 3] + pad) & (b[:, 1] < a[3] + pad))
    )


def box_at(anchor: tuple[float, float], size: tuple[float, float], direction: tuple[int, int], offset: float) -> Box:
    """The box of a text of ``size`` (w, h) pixels put ``offset`` pixels from ``anchor`` in ``direction``:
    to the right of the point for dx > 0, left for dx < 0, centred for dx = 0 (likewise up / down)."""
    (x, y), (w, h) = anchor, size
    dx, dy = direction
    diag = offset / np.sqrt(2.0) if dx and dy else offset
    cx = x + dx * diag
    cy = y + dy * diag
    x0 = cx if dx > 0 else (cx - w if dx < 0 else cx - w / 2)
    y0 = cy if dy > 0 else (cy - h if dy < 0 else cy - h / 2)
    return (x0, y0, x0 + w, y0 + h)


@dataclass
class PlacedLabel:
    """One label as drawn: its text, the point it labels (display pixels) and its box (display pixels)."""

    text: str
    anchor: tuple[float, float]
    box: Box
    leader: bool


@dataclass
class LabelPlacer:
    """Greedy placement on one axes; ``placed`` holds the labels drawn so far, ``dropped`` those left out."""

    frame: Box
    obstacles: list[Box] = field(default_factory=list)
    soft: list[Box] = field(default_factory=list)
    placed: list[PlacedLabel] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    artists: list[Any] = field(default_factory=list)

    def free(self, box: Box, use_soft: bool) -> bool:
        f = self.frame
        if box[0] < f[0] or box[1] < f[1] or box[2] > f[2] or box[3] > f[3]:
            return False
        # :func:`overlaps` against every box at once (hundreds of labels at city scale)
        if _hits(box, self._boxes("hard", lambda: [p.box for p in self.placed] + self.obstacles), PAD_PX):
            return False
        return not (use_soft and _hits(box, self._boxes("soft", lambda: self.soft), 0.0))

    def _boxes(self, kind: str, boxes: Any) -> Any:
        """The list ``boxes()`` as an (k, 4) array, rebuilt only when it has grown (labels are only added)."""
        size = len(self.placed) + len(self.obstacles) if kind == "hard" else len(self.soft)
        cache = self.__dict__.setdefault("_arrays", {})
        found = cache.get(kind)
        if found is None or len(found) != size:
            found = np.asarray(boxes(), dtype=np.float64).reshape(-1, 4)
            cache[kind] = found
        return found

    def place(
        self, text: str, anchor: tuple[float, float], size: tuple[float, float], dpi: float
    ) -> PlacedLabel | None:
        """The first free position for a label (module docstring), recorded in ``placed``; None if none."""
        px = dpi / 72.0
        for use_soft in (True, False):
            for k, ring in enumerate(RINGS):
                for direction in DIRECTIONS:
                    box = box_at(anchor, size, direction, ring * px)
                    if self.free(box, use_soft):
                        label = PlacedLabel(text, anchor, box, leader=k > 0)
                        self.placed.append(label)
                        return label
        self.dropped.append(text)
        return None


def draw_labels(ax: Any, items: list[dict[str, Any]], obstacles: list[Box], markers: list[Box]) -> LabelPlacer:
    """Place and draw the labels ``items`` (dicts: ``text``, ``xy`` in data units, ``colour``) on ``ax``.

    The figure's layout must be final (drawn once, layout engine off): boxes are in display pixels.
    Text is drawn in display coordinates at its box, with a white halo, and a leader line when it
    stands off its point.
    """
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placer = LabelPlacer((frame.x0, frame.y0, frame.x1, frame.y1), list(obstacles), list(markers))
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for item in items:  # in rank order
        anchor = tuple(float(v) for v in ax.transData.transform(item["xy"]))
        probe = fig.text(
            0,
            0,
            item["text"],
            fontsize=item.get("size", 8),
            fontweight="bold",
            fontfamily=item.get("family"),
            ha="left",
            va="bottom",
            linespacing=1.1,
        )
        ext = probe.get_window_extent(renderer)
        probe.remove()
        label = placer.place(item["text"], (anchor[0], anchor[1]), (ext.width, ext.height), fig.dpi)
        if label is None:
            continue
        x0, y0, x1, y1 = label.box
        drawn = fig.text(
            x0,
            y0,
            item["text"],
            transform=None,
            fontsize=item.get("size", 8),
            fontweight="bold",
            fontfamily=item.get("family"),
            color=item["colour"],
            ha="left",
            va="bottom",
            linespacing=1.1,
            zorder=9,
            path_effects=halo,
        )
        placer.artists.append(drawn)
        if label.leader:
            tx = min(max(anchor[0], x0), x1)
            ty = min(max(anchor[1], y0), y1)
            fig.add_artist(
                Line2D([anchor[0], tx], [anchor[1], ty], transform=None, color="#333333", linewidth=0.6, zorder=8.5)
            )
    return placer


__all__ = ["DIRECTIONS", "PAD_PX", "RINGS", "LabelPlacer", "PlacedLabel", "box_at", "draw_labels", "overlaps"]
