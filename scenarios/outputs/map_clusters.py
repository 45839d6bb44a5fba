"""Far-apart areas of a map drawn side by side: :func:`compact_clusters` for map.png.

Pilot communities kilometres apart would leave a map of empty space with specks of data; their
groups of features are boxed and laid next to each other instead (each box to scale), and the map
shows an inset of where the boxes really lie.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _point_layers(layers: dict[str, Any]) -> list[str]:
    return [k for k in ("demand", "candidates", "existing", "chosen_sites") if k in layers and len(layers[k])]


def _cluster_label(demand: Any, mask: Any) -> str:
    """The area names of a cluster's demand points (the coarsest area column with two or more values)."""
    from siting.scenarios.outputs.gpkg import AREA_COLUMNS

    if demand is None or not mask.any():
        return ""
    lower = {str(c).lower(): c for c in demand.columns}
    cols = [lower[c.lower()] for c in AREA_COLUMNS if c.lower() in lower]
    cols = [c for c in cols if demand[c].astype(str).nunique() >= 2]
    if not cols:
        return ""
    col = min(cols, key=lambda c: (demand[c].astype(str).nunique(), cols.index(c)))
    values = sorted(set(demand[col].astype(str).to_numpy()[mask]) - {""})
    return ", ".join(values[:3]) + (" …" if len(values) > 3 else "")


Box = tuple[float, float, float, float]


#: Above this many points, :func:`compact_clusters` links them along Delaunay edges (a city's
#: buildings have millions of pairs within two reaches; a triangulation has three edges a point).
LINK_DELAUNAY_POINTS = 5_000


def link_pairs(pts: np.ndarray, link: float) -> np.ndarray:
    """Pairs of points along Delaunay edges no longer than ``link``: the same connected groups as
    all pairs within ``link`` (the Euclidean minimum spanning tree is a subgraph of the Delaunay
    triangulation, and two groups closer than ``link`` are joined by one of its edges). Points Qhull
    leaves out (duplicates) are linked to their nearest vertex."""
    from scipy.spatial import Delaunay, QhullError

    try:
        tri = Delaunay(pts)
    except (QhullError, ValueError):  # all points on a line: every pair is a candidate, few points
        from scipy.spatial import cKDTree

        return np.asarray(cKDTree(pts).query_pairs(r=link, output_type="ndarray"))
    s = tri.simplices
    edges = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    if len(tri.coplanar):
        edges = np.concatenate([edges, tri.coplanar[:, [0, 2]]])
    length = np.hypot(*(pts[edges[:, 0]] - pts[edges[:, 1]]).T)
    return np.asarray(edges[length <= link])


def compact_clusters(
    layers: dict[str, Any], link: float
) -> tuple[dict[str, Any], list[tuple[Box, str]], list[Box]] | None:
    """Move far-apart groups of features next to each other, for a readable map.

    Points (demand, sites, facilities) closer than ``link`` (twice the largest reach: no facility
    serves two points farther apart) are linked; the connected groups are boxed, and when there are
    2 to 12 groups whose boxes fill less than a fifth of the whole extent (pilot communities kilometres
    apart), the boxes are laid side by side, west to east in rows, and every layer is moved with its
    box (streets, building and plot polygons are clipped to the boxes). Distances inside a box keep
    their scale; distances between boxes do not. Returns the moved layers, (box, label) per group
    and each group's box where it really lies (for the inset), or None when nothing is moved.
    """
    import shapely
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    names = _point_layers(layers)
    xy_parts, owner = [], []
    for name in names:
        g = layers[name].geometry
        ok = ~(g.isna() | g.is_empty).to_numpy()
        xy = np.column_stack([g.x.to_numpy(), g.y.to_numpy()])
        xy_parts.append(np.where(ok[:, None], xy, np.nan))
        owner.append(len(g))
    if not xy_parts:
        return None
    xy = np.vstack(xy_parts)
    good = np.isfinite(xy).all(axis=1)
    pts = xy[good]
    if len(pts) < 2 or not (link > 0):
        return None
    if len(pts) > LINK_DELAUNAY_POINTS:
        pairs = link_pairs(pts, link)
    else:
        pairs = cKDTree(pts).query_pairs(r=link, output_type="ndarray")
    graph = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(pts), len(pts)))
    k, lab = connected_components(graph, directed=False)
    if not 2 <= k <= 12:
        return None
    pad = 0.15 * link
    boxes = np.array(
        [
            [
                pts[lab == c, 0].min() - pad,
                pts[lab == c, 1].min() - pad,
                pts[lab == c, 0].max() + pad,
                pts[lab == c, 1].max() + pad,
            ]
            for c in range(k)
        ]
    )
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    full = (boxes[:, 2].max() - boxes[:, 0].min()) * (boxes[:, 3].max() - boxes[:, 1].min())
    if (w * h).sum() >= 0.2 * full:
        return None
    # shelf packing, west to east
    gap = 0.3 * float(np.median(np.maximum(w, h)))
    row_width = max(float(w.max()), math.sqrt(float((w * h).sum())) * 1.6)
    order = np.argsort((boxes[:, 0] + boxes[:, 2]) / 2.0, kind="stable")
    shift = np.zeros((k, 2))
    x, y, row_h = 0.0, 0.0, 0.0
    for c in order:  # a loop over clusters
        if x > 0 and x + w[c] > row_width:
            x, y, row_h = 0.0, y - row_h - gap, 0.0
        shift[c] = (x - boxes[c, 0], y - h[c] - boxes[c, 1])
        x += w[c] + gap
        row_h = max(row_h, h[c])
    labels_all = np.full(len(xy), -1)
    labels_all[good] = lab
    moved: dict[str, Any] = {}
    start = 0
    for name, count in zip(names, owner):
        part = labels_all[start : start + count]
        start += count
        gdf = layers[name].copy()
        dx = np.where(part >= 0, shift[np.clip(part, 0, None), 0], 0.0)
        dy = np.where(part >= 0, shift[np.clip(part, 0, None), 1], 0.0)
        geoms = np.asarray(gdf.geometry.values)
        ok = part >= 0
        new = geoms.copy()
        new[ok] = shapely.transform(geoms[ok], lambda c, dx=dx[ok], dy=dy[ok]: c + np.column_stack([dx, dy]))
        gdf = gdf.set_geometry(list(new), crs=gdf.crs)
        moved[name] = gdf
    for name in ("streets", "demand_areas", "chosen_plots", "water", "green"):  # lines, polygons: clipped to each box
        if name not in layers or not len(layers[name]):
            continue
        st = layers[name]
        pieces, keep_rows = [], []
        geoms = np.asarray(st.geometry.values)
        for c in range(k):
            clipped = shapely.clip_by_rect(geoms, *boxes[c])
            hit = ~shapely.is_empty(clipped)
            pieces.extend(shapely.transform(clipped[hit], lambda a, c=c: a + shift[c]))
            keep_rows.extend(np.flatnonzero(hit).tolist())
        part_layer = st.iloc[keep_rows].copy()
        moved[name] = part_layer.set_geometry(list(pieces), crs=st.crs)
    for name, layer in layers.items():
        moved.setdefault(name, layer)
    demand = layers.get("demand")
    d_lab = labels_all[: owner[0]] if names and names[0] == "demand" else None
    out_boxes = []
    for c in range(k):
        b = boxes[c] + np.array([shift[c, 0], shift[c, 1], shift[c, 0], shift[c, 1]])
        label = _cluster_label(demand, d_lab == c) if d_lab is not None else ""
        out_boxes.append(((float(b[0]), float(b[1]), float(b[2]), float(b[3])), label))
    original = [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in boxes]
    return moved, out_boxes, original


__all__ = ["Box", "compact_clusters"]
