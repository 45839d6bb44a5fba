"""Walking reach as GIS layers: ``catchments`` (what each facility reaches) and ``served_by`` (who goes where).

Both are computed from the distances the run already measured (each service's instance: demand x
(eligible candidate sites, then existing facilities), walking or straight-line, stored up to the
largest reach), so they agree with the plan's coverage figures exactly.

``catchments``
    One polygon per open facility (existing, or new in the plan) and service: the area its walking
    reach covers, drawn as the concave hull of the facility and every demand point within
    ``reach_m`` of it (``shapely.concave_hull``, ratio :data:`HULL_RATIO`), widened by
    :data:`HULL_BUFFER_M` so that a catchment of one or two points is still an area. Columns:
    ``service``, ``facility_id``, ``kind`` (``new`` / ``existing``), ``rank`` (new sites), ``reach_m``,
    ``demand_points`` and ``people`` (the service's group within reach).
``served_by``
    One line per demand point and service it is covered for, from the point to its nearest open
    facility of the service: ``service``, ``demand_id``, ``facility_id``, ``kind``, ``distance_m``
    (walking or straight-line, as the run measured) and ``people``. Uncovered people have no line
    (they are in ``uncovered.csv`` and the ``demand`` layer).

The nearest facility per row is found on the CSR matrix restricted to the open columns: entries are
sorted by (row, distance, column) with one ``numpy.lexsort`` and the first per row is kept; no
loop over pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

#: Concave-hull ratio (0 = tightest, 1 = convex hull).
HULL_RATIO = 0.4
#: Metres added around a catchment's hull.
HULL_BUFFER_M = 30.0

CATCHMENT_COLUMNS = ("service", "facility_id", "kind", "rank", "reach_m", "demand_points", "people")
SERVED_COLUMNS = ("service", "demand_id", "facility_id", "kind", "distance_m", "people")


def nearest_open(d: Any, open_cols: NDArray[np.int64], reach: float) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For every row, the open column nearest to it within ``reach`` (``-1`` if none) and its distance.

    ``d`` is the (n, m) distance matrix, sparse (stored pairs only; explicit zeros are real zeros) or
    dense. Ties go to the lower column index.
    """
    n = d.shape[0]
    best = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if open_cols.size == 0 or n == 0:
        return best, dist
    sub = sp.coo_array(sp.csr_array(d)[:, open_cols]) if sp.issparse(d) else sp.coo_array(np.asarray(d)[:, open_cols])
    rows, cols, vals = sub.row.astype(np.int64), sub.col.astype(np.int64), np.asarray(sub.data, dtype=np.float64)
    if not sp.issparse(d):  # a dense zero is a real distance too: take every pair
        dense = np.asarray(d, dtype=np.float64)[:, open_cols]
        rows, cols = np.nonzero(np.isfinite(dense))
        vals = dense[rows, cols]
    keep = vals <= reach + 1e-9
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    if not rows.size:
        return best, dist
    order = np.lexsort((cols, vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = rows[1:] != rows[:-1]
    best[rows[first]] = open_cols[cols[first]]
    dist[rows[first]] = vals[first]
    return best, dist


def column_ids(pb: Any) -> NDArray[Any]:
    """The ids of the instance's columns as the layers name them: candidate site ids, then the
    service's existing facility ids (the instance prefixes those; the layers do not)."""
    n_cand = len(pb.site_ids)
    ids = [str(v) for v in pb.instance.site_ids]
    ids[n_cand:] = [str(v) for v in pb.existing_ids][: len(ids) - n_cand]
    return np.asarray(ids, dtype=object)


def _column_points(
    pb: Any, site_xy: dict[str, tuple[float, float]], existing_xy: dict[str, tuple[float, float]]
) -> NDArray[np.float64]:
    """(m, 2) coordinates of the instance's columns: candidate sites, then existing facilities (NaN unknown)."""
    ids = column_ids(pb)
    n_cand = len(pb.site_ids)
    out = np.full((len(ids), 2), np.nan)
    for j, sid in enumerate(ids):  # a loop over columns (sites), not pairs
        xy = site_xy.get(sid) if j < n_cand else existing_xy.get(sid)
        if xy is not None:
            out[j] = xy
    return out


def reach_layers(built: Any, states: dict[str, dict[str, Any]], ranks: dict[tuple[str, str], Any]) -> tuple[Any, Any]:
    """The ``catchments`` and ``served_by`` GeoDataFrames of a run (module docstring).

    Parameters
    ----------
    built : the :class:`scenarios.build.BuiltScenario` that was solved.
    states : per service, :func:`scenarios.outputs.gpkg.service_state` (``open``, ``col_of``, ...).
    ranks : (service, site id) -> the plan's rank of a new site.
    """
    import geopandas as gpd
    import shapely

    crs = built.layers.crs
    sites, demand, ex = built.layers.sites, built.layers.demand, built.layers.existing

    def xy_of(gdf: Any) -> dict[str, tuple[float, float]]:
        if gdf is None or not len(gdf):
            return {}
        g = gdf.geometry
        return dict(zip(gdf.index.astype(str), zip(g.x.to_numpy(dtype=float), g.y.to_numpy(dtype=float))))

    site_xy, existing_xy = xy_of(sites), xy_of(ex)
    d_index = {v: i for i, v in enumerate(demand.index.astype(str))}
    dem_xy = np.column_stack([demand.geometry.x.to_numpy(dtype=float), demand.geometry.y.to_numpy(dtype=float)])
    catch: dict[str, list[Any]] = {c: [] for c in CATCHMENT_COLUMNS}
    catch_geom: list[Any] = []
    served: dict[str, list[Any]] = {c: [] for c in SERVED_COLUMNS}
    served_geom: list[Any] = []
    for name, pb in built.services.items():
        st = states.get(name)
        if st is None:
            continue
        inst = pb.instance
        rows_xy = dem_xy[np.asarray([d_index.get(str(v), -1) for v in pb.demand_ids], dtype=np.int64)]
        cols_xy = _column_points(pb, site_xy, existing_xy)
        ids = column_ids(pb)
        existing = np.asarray(inst.existing, dtype=bool)
        w = np.asarray(inst.weights, dtype=np.float64)
        open_cols = np.flatnonzero(np.asarray(st["open"], dtype=bool)).astype(np.int64)
        kind = np.where(existing, "existing", "new")

        # ---- served_by: each covered row to its nearest open column
        best, dist = nearest_open(inst.distances, open_cols, float(pb.reach_m))
        hit = np.flatnonzero((best >= 0) & np.isfinite(cols_xy[np.clip(best, 0, None), 0]))
        if hit.size:
            a, b = rows_xy[hit], cols_xy[best[hit]]
            served_geom.extend(shapely.linestrings(np.stack([a, b], axis=1)))
            served["service"].extend([name] * hit.size)
            served["demand_id"].extend(np.asarray(pb.demand_ids).astype(str)[hit].tolist())
            served["facility_id"].extend(ids[best[hit]].tolist())
            served["kind"].extend(kind[best[hit]].tolist())
            served["distance_m"].extend(np.round(dist[hit], 1).tolist())
            served["people"].extend(w[hit].tolist())

        # ---- catchments: per open column, the hull of it and the rows within reach (all at once:
        # one multipoint per facility, hulls and buffers computed by shapely over the array)
        cover = sp.csc_array(inst.coverage(pb.reach_m))
        cols = open_cols[np.isfinite(cols_xy[open_cols, 0])]
        if cols.size:
            lo, lens = cover.indptr[cols], np.diff(cover.indptr)[cols]
            owner = np.repeat(np.arange(cols.size), lens)
            rows = cover.indices[np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))]
            which = np.concatenate([np.arange(cols.size), owner])
            order = np.argsort(which, kind="stable")  # each facility itself, then its rows
            pts = np.vstack([cols_xy[cols], rows_xy[rows]])[order]
            hulls = shapely.concave_hull(shapely.multipoints(pts, indices=which[order]), ratio=HULL_RATIO)
            catch_geom.extend(shapely.buffer(hulls, HULL_BUFFER_M))
            people = np.bincount(owner, weights=w[rows], minlength=cols.size)
            catch["service"].extend([name] * cols.size)
            catch["facility_id"].extend(ids[cols].astype(str).tolist())
            catch["kind"].extend(kind[cols].astype(str).tolist())
            for j in cols.tolist():  # a loop over open facilities (hundreds), not pairs
                rank = ranks.get((name, str(ids[j])))
                catch["rank"].append(float(rank) if rank is not None and not existing[j] else np.nan)
            catch["reach_m"].extend([round(float(pb.reach_m), 1)] * cols.size)
            catch["demand_points"].extend(lens.astype(int).tolist())
            catch["people"].extend(np.round(people, 2).tolist())
    catchments = gpd.GeoDataFrame(
        {
            c: np.asarray(
                v, dtype=float if c in ("rank", "reach_m", "people") else (np.int32 if c == "demand_points" else object)
            )
            for c, v in catch.items()
        },
        geometry=gpd.GeoSeries(catch_geom, crs=crs),
        crs=crs,
    )
    served_by = gpd.GeoDataFrame(
        {c: np.asarray(v, dtype=float if c in ("distance_m", "people") else object) for c, v in served.items()},
        geometry=gpd.GeoSeries(served_geom, crs=crs),
        crs=crs,
    )
    return catchments, served_by


__all__ = [
    "CATCHMENT_COLUMNS",
    "HULL_BUFFER_M",
    "HULL_RATIO",
    "SERVED_COLUMNS",
    "column_ids",
    "nearest_open",
    "reach_layers",
]
