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

# Demand points per KD-tree query block (at most): bounds the temporary per-block pair lists.
_BLOCK = 100_000
# Pairs per block (about): 24 bytes each in the tree's answer, so about 100 MB of temporaries.
_BLOCK_PAIRS = 4_000_000
# Default ceiling on the memory of the stored pairs (CSR float32 values + int32 columns, and the
# int64 row indices and float64 distances of the build): 8 GB, and never more than the share
# _AVAILABLE_SHARE of the memory the machine has available when the build starts.
MAX_BYTES = 8e9
_AVAILABLE_SHARE = 0.6
# Bytes per stored pair a run needs: float32 + int32 kept by the build (its block temporaries are
# bounded), and the covering pattern and working copies the solve makes of it.
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
    limit = np.float32(c + 2 * RADIUS_TOL + 1e-7 * c)
    per_point = max(pairs_est / max(n, 1), 1.0)
    block = int(min(max(_BLOCK_PAIRS / per_point, 1_000), _BLOCK))
    idx_t = np.int32 if pairs_est * 1.2 + 2 * block * m < np.iinfo(np.int32).max else np.int64
    # the output is filled in place, block after block: no list of pieces concatenated at the end
    # (that doubled the peak at 1,000,000 x 5,000) and no int64 row index per pair
    cap = int(pairs_est * 1.05) + block * 4
    indices = np.empty(cap, dtype=idx_t)
    data = np.empty(cap, dtype=np.float32)
    indptr = np.zeros(n + 1, dtype=idx_t)
    nnz = 0
    for start in range(0, n, block):  # loop over blocks of demand points, each block vectorized
        stop = min(start + block, n)
        part = _block_pairs(a[start:stop], tree, slack, limit, m)
        k = part.nnz
        if nnz + k > indices.size:  # the sample underestimated: grow by a quarter (rare)
            grow = max(nnz + k, int(indices.size * 1.25))
            if indices.dtype == np.int32 and grow >= np.iinfo(np.int32).max:
                indptr = indptr.astype(np.int64)
                indices = indices.astype(np.int64)
            indices = np.resize(indices, grow)
            data = np.resize(data, grow)
        indices[nnz : nnz + k] = part.indices
        data[nnz : nnz + k] = part.data
        indptr[start + 1 : stop + 1] = nnz + part.indptr[1:]
        nnz += k
        del part
    out = sp.csr_array((data[:nnz], indices[:nnz], indptr), shape=(n, m), copy=False)
    out.has_sorted_indices = True  # every block's rows are sorted by column
    return out


def _block_pairs(a: NDArray[np.float64], tree: cKDTree, slack: float, limit: np.float32, m: int) -> sp.csr_array:
    """The pairs of one block of demand points within ``slack`` of the sites' tree, CSR with
    sorted columns (float32 distances; the block's own rows)."""
    pairs = cKDTree(a).sparse_distance_matrix(tree, slack, output_type="ndarray")
    d = pairs["v"].astype(np.float32)
    keep = d <= limit
    part = sp.csr_array(
        (d[keep], (pairs["i"][keep].astype(np.int32), pairs["j"][keep].astype(np.int32))), shape=(len(a), m)
    )
    part.sort_indices()
    return part


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
