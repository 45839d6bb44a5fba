"""Distances within a cutoff from planar coordinates, built with a KD-tree: never the dense matrix.

Coverage models (MCLP, LSCP) only ever ask whether ``d_ij <= R``; every pair farther than the
service radius is irrelevant to them, so the instance needs only the pairs within ``R``. For
100,000 demand points x 2,000 sites the dense float32 matrix is 800 MB while the pairs within 800 m
on a 10 km square are about 2 % of it; for 1,000,000 x 5,000 the dense matrix would be 20 GB.

:func:`within_radius` answers with a CSR (n, m) float32 of ``d_ij`` for the pairs with
``d_ij <= cutoff``; a pair that is not stored is unreachable (the :class:`SitingInstance` rule).
The tree is built over the sites (m points) and queried with the demand points in blocks, so the
peak memory is the output plus one block of pairs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from siting.models.errors import DataError
from siting.models.instance import RADIUS_TOL

# Demand points per KD-tree query block: bounds the temporary per-block pair lists.
_BLOCK = 100_000
# Default ceiling on the memory of the stored pairs (CSR float32 values + int32 columns, and the
# int64 row indices and float64 distances of the build): 8 GB, and never more than the share
# _AVAILABLE_SHARE of the memory the machine has available when the build starts.
MAX_BYTES = 8e9
_AVAILABLE_SHARE = 0.6
# Bytes per stored pair at the build's peak (float32 + int32 kept, int64 row + float64 temporary).
_BYTES_PER_PAIR = 24
# Demand points sampled to estimate the number of pairs before building them.
_SAMPLE = 2_000


def within_radius(
    demand_xy: NDArray[np.float64],
    site_xy: NDArray[np.float64],
    cutoff: float,
    *,
    max_bytes: float | None = None,
) -> sp.csr_array:
    """CSR (n, m) float32 of Euclidean ``d_ij`` for every pair with ``d_ij <= cutoff``.

    ``d_ij = sqrt((x_i - x_j)^2 + (y_i - y_j)^2)``, computed in float64 and stored as float32, the
    value the dense path stores. The tree is queried with a hair of slack (``RADIUS_TOL`` and a
    relative 1e-9) so that a pair the dense float32 path would count within ``cutoff`` is never
    dropped; the instance's own radius test then decides exactly as for a dense matrix.

    Raises
    ------
    DataError : non-finite coordinates, a cutoff that is not a positive number, coordinates that
        look like degrees (longitude / latitude) with a cutoff in metres, or pairs whose build
        would need more than ``max_bytes`` (estimated from a sample before anything is built;
        default: :func:`build_memory_ceiling`).
    """
    a = np.asarray(demand_xy, dtype=np.float64)
    b = np.asarray(site_xy, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2 or b.ndim != 2 or b.shape[1] != 2:
        raise DataError(f"coordinates must be (n, 2) and (m, 2) arrays, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("coordinates must be finite numbers (x, y) for every demand point and site")
    c = float(cutoff)
    if not np.isfinite(c) or c <= 0:
        raise DataError(f"cutoff = {cutoff} is not a positive distance: give a positive radius")
    n, m = len(a), len(b)
    _check_degrees(a, b, c)
    slack = c + 2 * RADIUS_TOL + 1e-9 * c
    tree = cKDTree(b)
    sample = a[np.random.default_rng(0).choice(n, size=min(n, _SAMPLE), replace=False)]
    pairs_est = float(tree.query_ball_point(sample, r=slack, return_length=True).sum()) * n / len(sample)
    need = pairs_est * _BYTES_PER_PAIR
    ceiling = build_memory_ceiling() if max_bytes is None else float(max_bytes)
    if need > ceiling:
        raise DataError(
            f"the distances within {c:g} of {n:,} demand points to {m:,} sites would hold about "
            f"{pairs_est:,.0f} pairs and need about {_gb(need)}, over the {_gb(ceiling)} available to the build: "
            "reduce the radius, use fewer demand points (aggregate them, e.g. per building block) or split the "
            "area into districts, and check the coordinate units (--input-crs for lon, lat columns)"
        )
    rows_l: list[NDArray[np.int64]] = []
    cols_l: list[NDArray[np.int32]] = []
    vals_l: list[NDArray[np.float32]] = []
    limit = np.float32(c + 2 * RADIUS_TOL + 1e-7 * c)
    for start in range(0, n, _BLOCK):  # loop over blocks of demand points, each block vectorized
        block = cKDTree(a[start : start + _BLOCK])
        pairs = block.sparse_distance_matrix(tree, slack, output_type="ndarray")
        d = pairs["v"].astype(np.float32)
        keep = d <= limit
        rows_l.append(pairs["i"][keep].astype(np.int64) + start)
        cols_l.append(pairs["j"][keep].astype(np.int32))
        vals_l.append(d[keep])
        del pairs
    rows = np.concatenate(rows_l) if rows_l else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(cols_l) if cols_l else np.zeros(0, dtype=np.int32)
    vals = np.concatenate(vals_l) if vals_l else np.zeros(0, dtype=np.float32)
    out = sp.csr_array((vals, (rows, cols)), shape=(n, m), dtype=np.float32)
    out.sort_indices()
    return out


def build_memory_ceiling() -> float:
    """Bytes a distance build may use: :data:`MAX_BYTES`, capped by a share of the memory available."""
    try:
        import psutil

        available = float(psutil.virtual_memory().available)
    except (ImportError, OSError):  # pragma: no cover - psutil is a dependency; be safe without it
        return MAX_BYTES
    return min(MAX_BYTES, _AVAILABLE_SHARE * available)


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.1f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.1f} MB"


def _check_degrees(a: NDArray[np.float64], b: NDArray[np.float64], cutoff: float) -> None:
    """Refuse longitude / latitude coordinates with a cutoff that is clearly in metres.

    Every point inside ``[-180, 180] x [-90, 90]``, an extent of a few units and a cutoff of 50 or
    more (longer than the whole extent) means every pair would be "within reach": the coordinates
    are degrees of a city-sized area and the radius is metres.
    """
    xy = np.vstack([a, b])
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    in_degrees = lo[0] >= -180 and hi[0] <= 180 and lo[1] >= -90 and hi[1] <= 90
    diagonal = float(np.hypot(*(hi - lo)))
    if in_degrees and cutoff >= 50.0 and diagonal < 5.0 and cutoff > diagonal:
        raise DataError(
            f"the coordinates look like degrees (x {lo[0]:g}..{hi[0]:g}, y {lo[1]:g}..{hi[1]:g}) but the radius "
            f"{cutoff:g} is in metres: project the points to a metric CRS (e.g. the local UTM zone) first"
        )
