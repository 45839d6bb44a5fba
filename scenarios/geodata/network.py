"""Walking-network distances over a street graph, sparse and cut off at the service reach.

The street network is a plain undirected graph held in numpy arrays and a scipy.sparse CSR matrix
(:class:`StreetNetwork`). Every edge is a straight segment between two nodes: lines are split at
every vertex, so points snap to the true street geometry, not to the nearest node.

Walking distance between a demand point ``i`` and a site ``j`` (the quantity the siting models use) is

.. math::

    d_{ij} = s_i + \\operatorname{net}(\\pi_i, \\pi_j) + s_j

where ``pi_i`` is the point of the network nearest to ``i`` (its *snap point*, on the nearest segment),
``s_i = |i - pi_i|`` the straight-line snap distance, and ``net`` the shortest path along the streets
between the two snap points, including the direct walk along a shared segment when both snap onto
the same one. :func:`network_distances` keeps only pairs with ``d_ij <= cutoff`` (the reach), in a
sparse (n, m) matrix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import connected_components, dijkstra

from siting.models.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

__all__ = [
    "DEFAULT_WALKING_SPEED_KMH",
    "NODE_MERGE_DECIMALS",
    "NetworkDistances",
    "Snap",
    "StreetNetwork",
    "network_distances",
    "walk_radius",
    "walking_minutes_to_metres",
]

#: Default walking speed, km/h (a common planning value for all ages; 4 km/h = 66.7 m/min).
DEFAULT_WALKING_SPEED_KMH = 4.0
#: Node coordinates (metres) are rounded to this many decimals before equal ones are merged, so line
#: ends and vertices closer than about 1e-6 m become one node.
NODE_MERGE_DECIMALS = 6
#: Seconds between progress lines of :func:`network_distances`.
PROGRESS_SECONDS = 5.0
#: Memory budget (bytes) of one block of Dijkstra output in :func:`network_distances`.
DEFAULT_CHUNK_BYTES = 200_000_000


def walking_minutes_to_metres(minutes: ArrayLike, speed_kmh: float = DEFAULT_WALKING_SPEED_KMH) -> Any:
    """Convert a walking time to a distance: ``metres = minutes * speed_kmh * 1000 / 60``.

    15 minutes at the default 4 km/h is 1,000 m; 5 minutes is 333.3 m.

    Parameters
    ----------
    minutes : float or array_like
        Walking time in minutes, >= 0.
    speed_kmh : float
        Walking speed in km/h, > 0.

    Returns
    -------
    float or ndarray
        Metres, same shape as ``minutes``.
    """
    speed = float(speed_kmh)
    if not np.isfinite(speed) or speed <= 0.0:
        raise DataError(f"walking speed must be a positive number of km/h, got {speed_kmh!r}; a typical value is 4.0")
    arr = np.asarray(minutes, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0.0):
        raise DataError(f"walking time must be a finite number of minutes >= 0, got {minutes!r}")
    metres = arr * speed * 1000.0 / 60.0
    return float(metres) if metres.ndim == 0 else metres


@dataclass(frozen=True)
class Snap:
    """Where points meet the street network.

    Attributes
    ----------
    edge : ndarray of int64, shape (n,)
        Index of the nearest edge (segment) of the network.
    t : ndarray of float64, shape (n,)
        Position of the snap point along that edge, 0 at node ``u[edge]`` and 1 at ``v[edge]``:
        ``point = xy[u] + t * (xy[v] - xy[u])``.
    snap_distance : ndarray of float64, shape (n,)
        Straight-line distance from the point to its snap point, metres.
    point : ndarray of float64, shape (n, 2)
        The snap points.
    """

    edge: NDArray[np.int64]
    t: NDArray[np.float64]
    snap_distance: NDArray[np.float64]
    point: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.edge.shape[0])


@dataclass(frozen=True)
class NetworkDistances:
    """Walking distances within a cutoff, with what could not be snapped.

    Attributes
    ----------
    distances : scipy.sparse.csr_array, shape (n, m), float32
        ``d_ij`` for every pair with ``d_ij <= cutoff``, and only those. Explicit zeros are stored
        pairs (a demand point on top of a site), not missing ones.
    unsnapped_demand : ndarray of bool, shape (n,)
        Demand points farther than ``max_snap`` from every street; their rows are empty.
    unsnapped_sites : ndarray of bool, shape (m,)
        Sites farther than ``max_snap`` from every street; their columns are empty.
    snap_demand, snap_sites : Snap
        The snaps of all points (also of the unsnapped ones, so a message can say how far they are).
    cutoff : float
        The cutoff used, metres.
    max_snap : float or None
        The snap limit used, metres.
    """

    distances: sp.csr_array
    unsnapped_demand: NDArray[np.bool_]
    unsnapped_sites: NDArray[np.bool_]
    snap_demand: Snap
    snap_sites: Snap
    cutoff: float
    max_snap: float | None = None


def _check_metric_crs(crs: Any, what: str) -> pyproj.CRS | None:
    if crs is None:
        return None
    crs = pyproj.CRS.from_user_input(crs)
    if not crs.is_projected:
        raise DataError(
            f"{what} is in {crs.to_string()}, a geographic CRS (degrees): walking distances need metres. "
            "Project it first, e.g. gdf.to_crs(scenarios.geodata.coords.utm_crs_for(lon, lat)) or to your national grid"
        )
    units = {ax.unit_name.lower() for ax in crs.axis_info[:2]}
    if not units <= {"metre", "meter", "m"}:
        raise DataError(
            f"{what} is in {crs.to_string()} whose axis unit is {sorted(units)}, not metres: "
            "project it to a metric CRS (e.g. the UTM zone, scenarios.geodata.coords.utm_crs_for)"
        )
    return crs


def _as_points(points_xy: ArrayLike, what: str) -> NDArray[np.float64]:
    pts = np.asarray(points_xy, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise DataError(f"{what} must be an (n, 2) array of x, y coordinates, got shape {pts.shape}")
    bad = np.flatnonzero(~np.isfinite(pts).all(axis=1))
    if bad.size:
        raise DataError(
            f"{what} has {bad.size} point(s) with missing or infinite coordinates (positions {bad[:10].tolist()}): "
            "drop them or fix their geometry"
        )
    return pts


@dataclass(frozen=True)
class StreetNetwork:
    """An undirected street graph in a metric CRS, every edge a straight segment.

    Attributes
    ----------
    xy : ndarray of float64, shape (k, 2)
        Node coordinates, metres.
    u, v : ndarray of int32, shape (e,)
        End nodes of each edge; ``u != v`` and each unordered pair occurs once.
    length : ndarray of float64, shape (e,)
        Edge lengths, metres (the segment's Euclidean length, or a given length apportioned).
    crs : pyproj.CRS or None
        The CRS of ``xy``.
    graph : scipy.sparse.csr_array, shape (k, k)
        Symmetric weighted adjacency: ``graph[u, v] = graph[v, u] = length`` (the shortest of
        parallel edges). Explicit zeros are zero-length edges.
    edge_line : ndarray of int64, shape (e,), optional
        Row position (0-based) in the source layer of the line each edge was cut from, to join
        attributes back; None when built from arrays.
    n_dropped_components : int
        Connected components removed (all but the largest) when built with ``keep="largest"``.
    n_dropped_edges : int
        Edges removed with them.
    notes : tuple of str
        What was cleaned on the way (skipped empty geometries, merged parallel edges, ...).

    Notes
    -----
    Edge geometry is implicit: edge ``e`` is the segment ``xy[u[e]] -> xy[v[e]]``, because lines are
    split at every vertex when the network is built.
    """

    xy: NDArray[np.float64]
    u: NDArray[np.int32]
    v: NDArray[np.int32]
    length: NDArray[np.float64]
    crs: pyproj.CRS | None
    graph: sp.csr_array = field(repr=False)
    edge_line: NDArray[np.int64] | None = field(default=None, repr=False)
    n_dropped_components: int = 0
    n_dropped_edges: int = 0
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ properties
    @property
    def n_nodes(self) -> int:
        """Number of nodes k."""
        return int(self.xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges e."""
        return int(self.u.shape[0])

    @property
    def total_length(self) -> float:
        """Sum of edge lengths, metres."""
        return float(self.length.sum())

    @property
    def segments(self) -> NDArray[np.float64]:
        """Edge geometry as an (e, 2, 2) array: ``segments[e] = [xy[u[e]], xy[v[e]]]``."""
        return np.stack([self.xy[self.u], self.xy[self.v]], axis=1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the nodes, metres."""
        lo = self.xy.min(axis=0)
        hi = self.xy.max(axis=0)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(shapely.linestrings(self.segments))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        xy: ArrayLike,
        u: ArrayLike,
        v: ArrayLike,
        length: ArrayLike | None = None,
        *,
        crs: Any = None,
        keep: Literal["largest", "all"] = "largest",
        edge_line: ArrayLike | None = None,
        notes: Sequence[str] = (),
    ) -> StreetNetwork:
        """Build a network from node coordinates and an edge list.

        Self-loops are dropped; of parallel edges (same unordered pair) the shortest is kept. With
        ``keep="largest"`` only the largest connected component (by number of nodes) stays, and the
        number of components and edges dropped is recorded; nodes not on any kept edge are removed
        and the rest renumbered in their original order.

        Parameters
        ----------
        xy : array_like, shape (k, 2)
            Node coordinates in metres.
        u, v : array_like of int, shape (e,)
            Edge end nodes (indices into ``xy``).
        length : array_like, shape (e,), optional
            Edge lengths >= 0 in metres; default the Euclidean length of each segment.
        crs : optional
            Anything :class:`pyproj.CRS` accepts; must be projected in metres.
        keep : {"largest", "all"}
            Keep only the largest connected component, or everything.
        edge_line : array_like of int, shape (e,), optional
            Source line of each edge, carried along.
        notes : sequence of str
            Notes to carry along.
        """
        if keep not in ("largest", "all"):
            raise DataError(f'keep must be "largest" or "all", got {keep!r}')
        crs_m = _check_metric_crs(crs, "the street network")
        nodes: NDArray[np.float64] = np.asarray(xy, dtype=np.float64)
        if nodes.ndim != 2 or nodes.shape[1] != 2:
            raise DataError(f"node coordinates must be a (k, 2) array, got shape {nodes.shape}")
        if not np.isfinite(nodes).all():
            raise DataError("node coordinates contain NaN or infinite values: fix the street geometry")
        uu: NDArray[np.int64] = np.asarray(u, dtype=np.int64).ravel()
        vv: NDArray[np.int64] = np.asarray(v, dtype=np.int64).ravel()
        if uu.shape != vv.shape:
            raise DataError(f"edge arrays u and v differ in length ({uu.size} and {vv.size})")
        k = nodes.shape[0]
        if uu.size and (min(uu.min(), vv.min()) < 0 or max(uu.max(), vv.max()) >= k):
            raise DataError(
                f"edge end nodes must be in [0, {k}); got values from {min(uu.min(), vv.min())} "
                f"to {max(uu.max(), vv.max())}"
            )
        ll: NDArray[np.float64]
        if length is None:
            ll = np.hypot(*(nodes[vv] - nodes[uu]).T) if uu.size else np.zeros(0)
        else:
            ll = np.asarray(length, dtype=np.float64).ravel()
        if ll.shape != uu.shape:
            raise DataError(f"length has {ll.size} values for {uu.size} edges")
        bad = np.flatnonzero(~np.isfinite(ll) | (ll < 0.0))
        if bad.size:
            raise DataError(
                f"{bad.size} edge length(s) are negative or not finite (edges {bad[:10].tolist()}, "
                f"values {ll[bad[:5]].tolist()}): street lengths must be metres >= 0"
            )
        line = None if edge_line is None else np.asarray(edge_line, dtype=np.int64).ravel()
        notes_l = list(notes)

        # Drop self-loops; keep the shortest of parallel edges (sort by pair, then by length).
        keep_e = uu != vv
        uu, vv, ll = uu[keep_e], vv[keep_e], ll[keep_e]
        line = None if line is None else line[keep_e]
        lo, hi = np.minimum(uu, vv), np.maximum(uu, vv)
        order = np.lexsort((ll, hi, lo))
        pair = lo[order] * np.int64(k) + hi[order]
        first = np.ones(pair.size, dtype=bool)
        first[1:] = pair[1:] != pair[:-1]
        n_parallel = int(pair.size - first.sum())
        sel = np.sort(order[first])  # keep the original edge order
        if n_parallel:
            notes_l.append(f"{n_parallel} parallel duplicate edge(s) merged (shortest kept)")
        uu, vv, ll = uu[sel], vv[sel], ll[sel]
        line = None if line is None else line[sel]
        if uu.size == 0:
            raise DataError(
                "the street network has no edges (no line with two distinct points): check the streets layer "
                "and its extent"
            )

        graph = _symmetric_csr(uu, vv, ll, k)
        n_comp, labels = connected_components(graph, directed=False)
        used = np.zeros(k, dtype=bool)
        used[uu] = True
        used[vv] = True
        n_dropped_components = 0
        n_dropped_edges = 0
        if keep == "largest":
            sizes = np.bincount(labels[used], minlength=n_comp)
            biggest = int(np.argmax(sizes))
            n_dropped_components = int(np.count_nonzero(sizes)) - 1
            in_big = labels[uu] == biggest
            n_dropped_edges = int(uu.size - in_big.sum())
            if n_dropped_components:
                notes_l.append(
                    f"kept the largest connected component ({int(sizes[biggest])} nodes); dropped "
                    f"{n_dropped_components} smaller component(s) with {n_dropped_edges} edge(s)"
                )
            uu, vv, ll = uu[in_big], vv[in_big], ll[in_big]
            line = None if line is None else line[in_big]
            used = np.zeros(k, dtype=bool)
            used[uu] = True
            used[vv] = True
        # Renumber the nodes that are used, in their original order.
        new_id = np.cumsum(used) - 1
        nodes = nodes[used]
        uu = new_id[uu]
        vv = new_id[vv]
        k = nodes.shape[0]
        graph = _symmetric_csr(uu, vv, ll, k)
        return cls(
            xy=np.ascontiguousarray(nodes),
            u=uu.astype(np.int32),
            v=vv.astype(np.int32),
            length=ll,
            crs=crs_m,
            graph=graph,
            edge_line=line,
            n_dropped_components=n_dropped_components,
            n_dropped_edges=n_dropped_edges,
            notes=tuple(notes_l),
        )

    @classmethod
    def from_lines(
        cls,
        gdf_lines: gpd.GeoDataFrame | gpd.GeoSeries,
        length_column: str | None = None,
        *,
        keep: Literal["largest", "all"] = "largest",
        name: str = "the streets layer",
    ) -> StreetNetwork:
        """Build a network from a layer of LineStrings / MultiLineStrings in a metric CRS.

        Every line (every part of a MultiLineString) is cut into its segments, one per pair of
        consecutive vertices; segment end points become nodes, and points whose coordinates agree
        after rounding to :data:`NODE_MERGE_DECIMALS` decimals (about 1e-6 m) are one node. So lines
        that share a vertex are connected there, while lines that merely cross (a bridge over a road)
        are not. Segment length is its Euclidean length ``|b - a|``; with ``length_column`` the line's
        given length ``L`` is apportioned to its segments: ``len_s = |b_s - a_s| * L / sum_s |b_s - a_s|``.

        Parameters
        ----------
        gdf_lines : GeoDataFrame or GeoSeries
            Lines in a projected CRS with metre units. Empty and missing geometries are skipped.
        length_column : str, optional
            Column of line lengths in metres to use instead of the geometric length.
        keep : {"largest", "all"}
            Keep only the largest connected component (default), or everything.
        name : str
            How to call the layer in error messages.

        Raises
        ------
        DataError
            No CRS, a geographic CRS, geometries that are not lines, bad lengths, or no edges.
        """
        geo = gdf_lines.geometry if hasattr(gdf_lines, "geometry") else gdf_lines
        if gdf_lines.crs is None:
            raise DataError(
                f"{name} has no CRS: set it (e.g. gdf.set_crs('EPSG:4326') for lon/lat), then project to metres"
            )
        crs = _check_metric_crs(gdf_lines.crs, name)
        geoms = np.asarray(geo.array if hasattr(geo, "array") else geo, dtype=object)
        labels = np.asarray(gdf_lines.index)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        type_id = shapely.get_type_id(geoms)
        # 1 LineString, 2 LinearRing, 5 MultiLineString
        not_line = ~missing & ~np.isin(type_id, (1, 2, 5))
        if not_line.any():
            bad = np.flatnonzero(not_line)
            kinds = sorted(set(shapely.get_type_id(geoms[bad]).tolist()))
            names = {0: "Point", 3: "Polygon", 4: "MultiPoint", 6: "MultiPolygon", 7: "GeometryCollection"}
            raise DataError(
                f"{name} must hold LineStrings or MultiLineStrings; {bad.size} feature(s) are "
                f"{', '.join(names.get(t, str(t)) for t in kinds)} (ids {labels[bad[:10]].tolist()}): "
                "keep only the street lines"
            )
        rows = np.flatnonzero(~missing)
        notes: list[str] = []
        if missing.any():
            notes.append(f"{int(missing.sum())} empty or missing geometries skipped")
        parts, part_of = shapely.get_parts(geoms[rows], return_index=True)
        part_row = rows[part_of]
        coords, coord_part = shapely.get_coordinates(parts, return_index=True)
        if not np.isfinite(coords).all():
            raise DataError(f"{name} has NaN or infinite coordinates: repair the geometry")
        same = coord_part[1:] == coord_part[:-1]
        a = coords[:-1][same]
        b = coords[1:][same]
        seg_row = part_row[coord_part[:-1][same]]
        seg_len = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])

        if length_column is not None:
            if length_column not in getattr(gdf_lines, "columns", ()):
                raise DataError(
                    f"{name} has no column {length_column!r}; columns are {list(gdf_lines.columns)}: "
                    "name an existing length column or leave it out to use the geometric length"
                )
            given = np.asarray(gdf_lines[length_column], dtype=np.float64)
            bad = np.flatnonzero(~missing & (~np.isfinite(given) | (given < 0.0)))
            if bad.size:
                raise DataError(
                    f"{name} column {length_column!r} has {bad.size} negative or missing value(s) "
                    f"(ids {labels[bad[:10]].tolist()}, values {given[bad[:5]].tolist()}): lengths must be metres >= 0"
                )
            geom_len = np.bincount(seg_row, weights=seg_len, minlength=len(geoms))
            factor = np.divide(given, geom_len, out=np.zeros_like(given), where=geom_len > 0)
            seg_len = seg_len * factor[seg_row]

        ends = np.round(np.concatenate([a, b]), NODE_MERGE_DECIMALS)
        ends[ends == 0.0] = 0.0  # -0.0 and 0.0 must be one key
        node_xy, inverse = np.unique(ends, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        ns = a.shape[0]
        return cls.from_arrays(
            node_xy,
            inverse[:ns],
            inverse[ns:],
            seg_len,
            crs=crs,
            keep=keep,
            edge_line=seg_row,
            notes=notes,
        )

    @classmethod
    def from_osm_pbf(
        cls,
        path: str | os.PathLike[str],
        bbox: Sequence[float] | None = None,
        crs: Any = None,
        *,
        keep: Literal["largest", "all"] = "largest",
    ) -> StreetNetwork:
        """Build the walking network of an OpenStreetMap .osm.pbf extract (read with pyrosm).

        Ways are those of pyrosm's ``network_type="walking"`` filter (footways, paths, steps,
        pedestrian streets and the roads people may walk along), projected to ``crs`` or, by
        default, the UTM zone of the centre of the network (:func:`scenarios.geodata.coords.utm_crs_for`),
        then passed to :meth:`from_lines`. OSM ways share nodes at junctions, so shared vertices
        become graph nodes.

        Parameters
        ----------
        path : path-like
            The .osm.pbf file.
        bbox : (west, south, east, north), optional
            Degrees; read only this box.
        crs : optional
            Target metric CRS.
        keep : {"largest", "all"}
            As in :meth:`from_lines`.
        """
        from siting.scenarios.geodata.osm import read_walking_ways  # pyrosm is imported only when needed

        ways = read_walking_ways(path, bbox=bbox, crs=crs)
        return cls.from_lines(ways, keep=keep, name=f"the walking ways of {os.fspath(path)}")

    # ------------------------------------------------------------------ queries
    def snap(self, points_xy: ArrayLike) -> Snap:
        """Snap points to the nearest point on the nearest edge segment.

        The nearest segment is found with a shapely STRtree over the segment LineStrings
        (``query_nearest``); the snap point is the orthogonal projection clamped to the segment:

        .. math:: t = \\operatorname{clip}\\left(\\frac{(p - a)\\cdot(b - a)}{|b - a|^2}, 0, 1\\right),
                  \\quad \\pi = a + t\\,(b - a), \\quad s = |p - \\pi|

        with ``a = xy[u]``, ``b = xy[v]``. Ties between equally near segments are broken arbitrarily
        (any of them gives the same snap distance).

        Parameters
        ----------
        points_xy : array_like, shape (n, 2)
            Points in the network's CRS.
        """
        pts = _as_points(points_xy, "points to snap")
        n = pts.shape[0]
        if n == 0:
            return Snap(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros((0, 2)))
        idx = self._tree.query_nearest(shapely.points(pts), all_matches=False)
        edge = np.empty(n, dtype=np.int64)
        edge[idx[0]] = idx[1]
        a = self.xy[self.u[edge]]
        d = self.xy[self.v[edge]] - a
        d2 = np.einsum("ij,ij->i", d, d)
        t = np.divide(np.einsum("ij,ij->i", pts - a, d), d2, out=np.zeros(n), where=d2 > 0)
        t = np.clip(t, 0.0, 1.0)
        point = a + t[:, None] * d
        dist = np.hypot(pts[:, 0] - point[:, 0], pts[:, 1] - point[:, 1])
        return Snap(edge=edge, t=t, snap_distance=dist, point=point)


def _symmetric_csr(u: NDArray[np.int64], v: NDArray[np.int64], w: NDArray[np.float64], k: int) -> sp.csr_array:
    """CSR (k, k) with w at (u, v) and (v, u); pairs must be unique (explicit zeros are kept)."""
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    g = sp.csr_array((np.concatenate([w, w]), (rows, cols)), shape=(k, k))
    g.sort_indices()
    return g


def network_distances(
    net: StreetNetwork,
    demand_xy: ArrayLike,
    site_xy: ArrayLike,
    cutoff: float,
    max_snap: float | None = None,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: Callable[[str], None] | None = None,
) -> NetworkDistances:
    """Sparse walking distances ``d_ij = s_i + net(pi_i, pi_j) + s_j`` for all pairs within ``cutoff``.

    Method (all vectorized; one Dijkstra per source point, in chunks):

    1. Snap demand and sites (:meth:`StreetNetwork.snap`). Points with ``s > max_snap`` are
       *unsnapped*: they get no pairs and are flagged so the caller can report them by id.
    2. Augment the graph. For each snapped point ``p`` add a node ``S_p`` at its snap point and a
       node ``Q_p`` for the point itself, joined by an edge of length ``s_p``. On every edge
       ``(u, v)`` of length ``L`` that has snapped points, sorted by ``t`` as ``p_1..p_r``, add the
       chain ``u - S_{p_1} - ... - S_{p_r} - v`` with lengths ``t_1 L``, ``(t_{q+1} - t_q) L`` and
       ``(1 - t_r) L`` (the original edge stays; the chain has the same total length). The chain
       makes the direct walk along a shared edge, ``|t_i - t_j| L``, available to two points on the
       same edge, and ``Q_p`` is a leaf, so no path passes through another point's snap leg.
       Zero-length edges (a point on a node, or on the street) are stored explicitly.
    3. Run ``scipy.sparse.csgraph.dijkstra`` from the ``Q`` nodes of the smaller side (usually the
       sites) with ``limit=cutoff`` (inclusive) and keep the entries ``<= cutoff`` at the other side's
       ``Q`` nodes as COO pieces. No (n, m) dense array is built, and no (sources, K) one either:
       sources are grouped in square tiles and each tile runs on the subgraph of the nodes within
       the box of its sources widened by the walk radius ``R`` (:func:`walk_radius`). Every edge is
       at least ``rho`` times as long as the straight line between its ends, so a walk of length
       ``<= cutoff`` never leaves the disc of radius ``R = cutoff / rho`` around its start: the
       subgraph holds every such walk and its distances ``<= cutoff`` are the whole graph's
       (shorter paths cannot appear in a subgraph). Within a tile, ``chunk`` sources at a time with
       ``chunk * K_tile * 8 bytes <= chunk_bytes``.

    Parameters
    ----------
    net : StreetNetwork
    demand_xy : array_like, shape (n, 2)
        Demand points in the network's CRS.
    site_xy : array_like, shape (m, 2)
        Candidate (and existing) site points in the network's CRS.
    cutoff : float
        Largest walking distance kept, metres (>= 0; ``inf`` keeps every reachable pair).
    max_snap : float, optional
        Largest snap distance, metres; default no limit.
    chunk_bytes : int
        Memory budget of one block of Dijkstra output.
    progress : callable, optional
        Receives a line now and then while the searches run (tiles done, pairs found).

    Returns
    -------
    NetworkDistances
        ``distances`` is a float32 CSR (n, m). A value that rounds above ``cutoff`` in float32 is
        stored as the next float32 below, so every stored value is ``<= cutoff``.
    """
    cutoff = float(cutoff)
    if np.isnan(cutoff) or cutoff < 0.0:
        raise DataError(f"the distance cutoff must be a number of metres >= 0, got {cutoff!r}")
    if max_snap is not None:
        max_snap = float(max_snap)
        if np.isnan(max_snap) or max_snap < 0.0:
            raise DataError(f"max_snap must be a number of metres >= 0, got {max_snap!r}")
    dem = _as_points(demand_xy, "demand points")
    sit = _as_points(site_xy, "site points")
    n, m = dem.shape[0], sit.shape[0]
    snap_d = net.snap(dem)
    snap_s = net.snap(sit)
    limit = np.inf if max_snap is None else max_snap
    unsnapped_d = snap_d.snap_distance > limit
    unsnapped_s = snap_s.snap_distance > limit
    d_idx = np.flatnonzero(~unsnapped_d)
    s_idx = np.flatnonzero(~unsnapped_s)

    def result(matrix: sp.csr_array) -> NetworkDistances:
        return NetworkDistances(
            distances=matrix,
            unsnapped_demand=unsnapped_d,
            unsnapped_sites=unsnapped_s,
            snap_demand=snap_d,
            snap_sites=snap_s,
            cutoff=cutoff,
            max_snap=max_snap,
        )

    if d_idx.size == 0 or s_idx.size == 0:
        return result(sp.csr_array((n, m), dtype=np.float32))

    # 2. augmented graph. Points 0..q-1: snapped demand, then snapped sites.
    k = net.n_nodes
    edge = np.concatenate([snap_d.edge[d_idx], snap_s.edge[s_idx]])
    t = np.concatenate([snap_d.t[d_idx], snap_s.t[s_idx]])
    s = np.concatenate([snap_d.snap_distance[d_idx], snap_s.snap_distance[s_idx]])
    q = edge.size
    node_s = k + np.arange(q, dtype=np.int64)  # snap points S_p
    node_q = k + q + np.arange(q, dtype=np.int64)  # the points Q_p

    order = np.lexsort((t, edge))
    e_sorted = edge[order]
    t_sorted = t[order]
    s_sorted = node_s[order]
    length_e = net.length[e_sorted]
    pos = t_sorted * length_e  # distance of each snap point from u along its edge
    first = np.ones(q, dtype=bool)
    first[1:] = e_sorted[1:] != e_sorted[:-1]
    last = np.ones(q, dtype=bool)
    last[:-1] = e_sorted[1:] != e_sorted[:-1]
    inner = ~last  # p_q -> p_{q+1} on the same edge
    src = np.concatenate(
        [
            net.u[e_sorted[first]].astype(np.int64),  # u -> S_first
            s_sorted[inner],  # S_q -> S_{q+1}
            s_sorted[last],  # S_last -> v
            node_q,  # Q_p -> S_p
        ]
    )
    dst = np.concatenate(
        [
            s_sorted[first],
            s_sorted[1:][inner[:-1]],
            net.v[e_sorted[last]].astype(np.int64),
            node_s,
        ]
    )
    w = np.concatenate(
        [
            pos[first],
            (pos[1:] - pos[:-1])[inner[:-1]],
            (length_e - pos)[last],
            s,
        ]
    )
    base = net.graph.tocoo()
    n_aug = k + 2 * q
    graph = sp.csr_array(
        (
            np.concatenate([base.data, w, w]),
            (np.concatenate([base.row, src, dst]), np.concatenate([base.col, dst, src])),
        ),
        shape=(n_aug, n_aug),
    )

    # 3. Dijkstra from the smaller side, tile by tile on the part of the graph a walk can reach.
    q_dem = node_q[: d_idx.size]
    q_sit = node_q[d_idx.size :]
    from_sites = s_idx.size <= d_idx.size
    sources, targets = (q_sit, q_dem) if from_sites else (q_dem, q_sit)
    aug_xy = np.concatenate(
        [net.xy, np.concatenate([snap_d.point[d_idx], snap_s.point[s_idx]]), np.concatenate([dem[d_idx], sit[s_idx]])]
    )
    reach = walk_radius(net, cutoff)
    src_pos, tgt_pos, vals = _tiled_dijkstra(graph, aug_xy, sources, targets, cutoff, reach, chunk_bytes, progress)
    if from_sites:
        i_pos, j_pos = d_idx[tgt_pos], s_idx[src_pos]
    else:
        i_pos, j_pos = d_idx[src_pos], s_idx[tgt_pos]
    v32 = vals.astype(np.float32)
    over = v32.astype(np.float64) > cutoff
    v32[over] = np.nextafter(v32[over], np.float32(-np.inf))
    matrix = sp.coo_array((v32, (i_pos, j_pos)), shape=(n, m)).tocsr()
    matrix.sort_indices()
    return result(matrix)


def walk_radius(net: StreetNetwork, cutoff: float) -> float:
    """Straight-line radius ``R`` that no walk of length ``<= cutoff`` leaves.

    With ``rho = min_e length_e / |xy[v_e] - xy[u_e]|`` over the edges of positive straight length
    (1 when lengths are the geometry's own, less when a length column makes some streets shorter
    than they are drawn), every walk of length ``L`` moves at most ``L / rho`` in a straight line,
    so ``R = cutoff / rho``. Snap legs and edge pieces are straight segments (``rho = 1``). ``inf``
    when an edge of positive straight length has length 0 (no bound: the whole graph is searched).
    """
    if not np.isfinite(cutoff):
        return float("inf")
    straight = np.hypot(*(net.xy[net.v] - net.xy[net.u]).T)
    pos = straight > 0
    if not pos.any():
        return float(cutoff)
    rho = min(1.0, float(np.min(net.length[pos] / straight[pos])))
    # a relative 1e-9 allowance for rounding in lengths computed from the same coordinates
    return float(cutoff) / rho * (1.0 + 1e-9) + 1e-6 if rho > 0 else float("inf")


def _tiled_dijkstra(
    graph: sp.csr_array,
    xy: NDArray[np.float64],
    sources: NDArray[np.int64],
    targets: NDArray[np.int64],
    cutoff: float,
    reach: float,
    chunk_bytes: int,
    progress: Callable[[str], None] | None,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Pairs (source position, target position, distance) with distance ``<= cutoff``, tile by tile.

    Tiles are squares of side ``max(reach, 1)`` (all sources in one tile when ``reach`` is inf); a
    tile's subgraph is the nodes in its sources' bounding box widened by ``reach`` on every side
    (the Chebyshev ball of a KD-tree query), so each Dijkstra sees a few thousand nodes instead of
    the whole city.
    """
    from scipy.spatial import cKDTree

    n_all = graph.shape[0]
    if np.isfinite(reach):
        side = max(float(reach), 1.0)
        cell = np.floor((xy[sources] - xy[sources].min(axis=0)) / side).astype(np.int64)
        key = cell[:, 0] * (int(cell[:, 1].max()) + 1) + cell[:, 1]
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        tiles = np.split(order, bounds)
        tree = cKDTree(xy)
    else:
        tiles = [np.arange(sources.size)]
        tree = None
    local = np.full(n_all, -1, dtype=np.int64)
    rows_l: list[NDArray[np.int64]] = []
    cols_l: list[NDArray[np.int64]] = []
    vals_l: list[NDArray[np.float64]] = []
    last_report = time.perf_counter()
    found = 0
    for t_no, tile in enumerate(tiles):
        if tree is not None:
            pts = xy[sources[tile]]
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            centre = (lo + hi) / 2
            half = float(np.max(hi - lo)) / 2 + reach
            nodes = np.sort(np.asarray(tree.query_ball_point(centre, half, p=np.inf), dtype=np.int64))
            local[nodes] = np.arange(nodes.size)
            rows = graph[nodes]
            cols = local[rows.indices]
            keep = cols >= 0
            row_of = np.repeat(np.arange(nodes.size), np.diff(rows.indptr))
            sub = sp.csr_array((rows.data[keep], (row_of[keep], cols[keep])), shape=(nodes.size, nodes.size))
            tgt_local = local[targets]
            present = np.flatnonzero(tgt_local >= 0)
            tgt_sub = tgt_local[present]
            src_sub = local[sources[tile]]
            local[nodes] = -1
        else:
            nodes = np.arange(n_all)
            sub = graph
            present = np.arange(targets.size)
            tgt_sub = targets
            src_sub = sources[tile]
        chunk = max(1, int(chunk_bytes // (max(nodes.size, 1) * 8)))
        for start in range(0, tile.size, chunk):
            dist = dijkstra(sub, directed=True, indices=src_sub[start : start + chunk], limit=cutoff)
            part = dist[:, tgt_sub]
            del dist
            r, c = np.nonzero(part <= cutoff)
            rows_l.append(tile[start + r])
            cols_l.append(present[c])
            vals_l.append(part[r, c])
            found += r.size
        if progress is not None and time.perf_counter() - last_report > PROGRESS_SECONDS:
            last_report = time.perf_counter()
            progress(f"walking distances: {t_no + 1:,} of {len(tiles):,} tiles, {found:,} pairs within {cutoff:,.0f} m")
    if not rows_l:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(rows_l), np.concatenate(cols_l), np.concatenate(vals_l)
