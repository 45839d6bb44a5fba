"""The siting instance: demand, candidate sites and the distances between them, as arrays only.

Distances are either a dense ``float32`` (n, m) array, where ``inf`` marks an unreachable pair,
or a sparse CSR (n, m) array that stores only the pairs that matter (within a service cutoff, or
the k nearest); a pair that is not stored is unreachable. Stored zeros are real zero distances
(a demand point standing on a site), so the sparse structure, not the value, says which pairs
exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import show_ids
from siting.models.csr import csr_rows
from siting.models.errors import DataError

# Distances are compared against a radius with this absolute slack, so that a radius typed as
# 400 covers a pair stored as float32(400.00001).
RADIUS_TOL = 1e-6


def _ids(values: Any, size: int, what: str) -> NDArray[Any]:
    if values is None:
        return np.arange(size, dtype=np.int64)
    arr = np.asarray(values)
    if arr.shape != (size,):
        raise DataError(f"{what} ids have shape {arr.shape}, expected ({size},): give one id per {what}")
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        dup = [str(v) for v in uniq[counts > 1][:5]]
        raise DataError(f"duplicate {what} ids: {', '.join(dup)}; every {what} needs a unique id")
    return arr


def _vector(values: Any, size: int, default: float, what: str) -> NDArray[np.float64]:
    if values is None:
        return np.full(size, default, dtype=np.float64)
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (size,):
        raise DataError(f"{what} has shape {arr.shape}, expected ({size},)")
    return arr


def _mask(values: Any, size: int, what: str) -> NDArray[np.bool_]:
    if values is None:
        return np.zeros(size, dtype=bool)
    arr = np.asarray(values, dtype=bool)
    if arr.shape != (size,):
        raise DataError(f"{what} has shape {arr.shape}, expected ({size},)")
    return arr


@dataclass(frozen=True, eq=False)
class SitingInstance:
    """Demand points, candidate sites and distances; arrays only.

    Parameters
    ----------
    distances : (n, m) dense float array (``inf`` = unreachable) or scipy sparse CSR
        (only stored pairs are reachable).
    weights : (n,) demand weights (residents); default 1.
    demand_ids, site_ids : ids, default ``0..n-1`` and ``0..m-1``.
    cost : (m,) cost of opening each site; default 1.
    capacity : (m,) capacity of each site; default ``inf``.
    existing : (m,) bool, already open: fixed open, counts toward coverage, costs nothing.
    forbidden : (m,) bool, may not be opened.
    name : a label.
    groups : (n,) optional demand group labels (community, district, ...) for equity floors and
        the max-min objective; None when the demand has no groups.
    """

    # dense float32 ndarray or scipy CSR: typed Any because ``is_sparse`` (not isinstance) decides
    distances: Any
    weights: NDArray[np.float64] = field(default=None)  # type: ignore[arg-type]
    demand_ids: NDArray[Any] = field(default=None)  # type: ignore[arg-type]
    site_ids: NDArray[Any] = field(default=None)  # type: ignore[arg-type]
    cost: NDArray[np.float64] = field(default=None)  # type: ignore[arg-type]
    capacity: NDArray[np.float64] = field(default=None)  # type: ignore[arg-type]
    existing: NDArray[np.bool_] = field(default=None)  # type: ignore[arg-type]
    forbidden: NDArray[np.bool_] = field(default=None)  # type: ignore[arg-type]
    name: str = "instance"
    groups: NDArray[Any] | None = None

    def __post_init__(self) -> None:
        d = self.distances
        if sp.issparse(d):
            d = sp.csr_array(d, dtype=np.float32)
            d.sort_indices()
            data = d.data
        else:
            d = np.asarray(d, dtype=np.float32)
            if d.ndim != 2:
                raise DataError(f"distances must be a 2-D (demand x sites) matrix, got shape {d.shape}")
            data = d
        n, m = d.shape
        if n == 0 or m == 0:
            raise DataError(f"the instance is empty: {n} demand points and {m} candidate sites")
        if np.isnan(data).any():
            raise DataError("distances contain NaN: give a number for every pair (inf = unreachable)")
        if (data < 0).any():
            raise DataError(f"distances contain negative values (min {float(data.min())}): distances must be >= 0")
        set_ = object.__setattr__
        set_(self, "distances", d)
        set_(self, "demand_ids", _ids(self.demand_ids, n, "demand"))
        set_(self, "site_ids", _ids(self.site_ids, m, "site"))
        w = _vector(self.weights, n, 1.0, "weights")
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            raise DataError(
                f"demand weights must be finite and >= 0; bad weight at demand ids {show_ids(self.demand_ids[bad])}"
            )
        set_(self, "weights", w)
        cost = _vector(self.cost, m, 1.0, "cost")
        bad = ~np.isfinite(cost) | (cost < 0)
        if bad.any():
            raise DataError(f"site costs must be finite and >= 0; bad cost at site ids {show_ids(self.site_ids[bad])}")
        set_(self, "cost", cost)
        cap = _vector(self.capacity, m, np.inf, "capacity")
        bad = np.isnan(cap) | (cap < 0)
        if bad.any():
            raise DataError(f"site capacities must be >= 0; bad capacity at site ids {show_ids(self.site_ids[bad])}")
        set_(self, "capacity", cap)
        ex = _mask(self.existing, m, "existing")
        fb = _mask(self.forbidden, m, "forbidden")
        both = ex & fb
        if both.any():
            raise DataError(
                f"sites {show_ids(self.site_ids[both])} are both existing and forbidden: an existing facility is open"
            )
        set_(self, "existing", ex)
        set_(self, "forbidden", fb)
        if self.groups is not None:
            g = np.asarray(self.groups)
            if g.shape != (n,):
                raise DataError(f"demand groups have shape {g.shape}, expected ({n},): give one group per demand point")
            set_(self, "groups", g)

    # ----------------------------------------------------------------- shape
    @property
    def n(self) -> int:
        """Number of demand points."""
        return int(self.distances.shape[0])

    @property
    def m(self) -> int:
        """Number of candidate sites."""
        return int(self.distances.shape[1])

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.distances)

    @property
    def eligible(self) -> NDArray[np.bool_]:
        """Sites that may be open (not forbidden)."""
        return ~self.forbidden

    @property
    def total_weight(self) -> float:
        return float(self.weights.sum())

    # ------------------------------------------------------------ distances
    def dense_distances(self) -> NDArray[np.float64]:
        """(n, m) float64 distances, ``inf`` where unreachable. Allocates n*m: small instances only."""
        if self.is_sparse:
            d = self.distances
            out = np.full((self.n, self.m), np.inf)
            rows = csr_rows(d)
            out[rows, d.indices] = d.data
            return out
        return np.asarray(self.distances, dtype=np.float64)

    def reachable_pairs(self, radius: float = np.inf) -> sp.csr_array:
        """CSR (n, m) of distances for pairs with ``d_ij <= radius`` (explicit zeros kept).

        This is the sparse "which site can serve whom" structure every formulation starts from.
        """
        limit = radius + RADIUS_TOL if np.isfinite(radius) else np.inf
        if self.is_sparse:
            d = self.distances
            keep = d.data <= limit
            rows = csr_rows(d)[keep]
            cols, vals = d.indices[keep], d.data[keep]
        else:
            rows, cols = np.nonzero(np.isfinite(self.distances) & (self.distances <= limit))
            vals = self.distances[rows, cols]
        out = sp.csr_array((vals.astype(np.float64), (rows, cols)), shape=(self.n, self.m))
        # csr from coo sums duplicates and keeps explicit zeros; make sure the order is canonical.
        out.sort_indices()
        return out

    def pair_distances(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float64]:
        """``d_ij`` for the given pairs (``inf`` where unreachable), without densifying."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        if not self.is_sparse:
            return np.asarray(self.distances[rows, cols], dtype=np.float64)
        d = self.distances
        # CSR with sorted indices is sorted by the key row * m + col: look the pairs up by bisection
        stored = csr_rows(d) * self.m + d.indices
        want = rows * self.m + cols
        pos = np.searchsorted(stored, want)
        pos_ok = np.minimum(pos, max(len(stored) - 1, 0))
        found = (pos < len(stored)) & (stored[pos_ok] == want) if len(stored) else np.zeros(len(want), dtype=bool)
        out = np.full(len(want), np.inf)
        out[found] = d.data[pos_ok[found]]
        return out

    def coverage(self, radius: float) -> sp.csr_array:
        """Boolean CSR (n, m): ``a_ij = 1`` iff site j is within ``radius`` of demand i."""
        if self.is_sparse:
            # the stored pattern itself, filtered in place: no int64 row index or float64 copy per pair
            # (at 1,000,000 x 5,000 those copies took 4.7 GB of a 5.7 GB peak)
            d = self.distances
            limit = radius + RADIUS_TOL if np.isfinite(radius) else np.inf
            keep = d.data <= limit
            if keep.all():
                return sp.csr_array((np.ones(d.nnz, dtype=bool), d.indices, d.indptr), shape=d.shape)
            counts = np.concatenate([[0], np.cumsum(keep, dtype=d.indptr.dtype)])
            return sp.csr_array(
                (np.ones(int(counts[-1]), dtype=bool), d.indices[keep], counts[d.indptr]), shape=d.shape
            )
        pairs = self.reachable_pairs(radius)
        return sp.csr_array((np.ones(pairs.nnz, dtype=bool), pairs.indices, pairs.indptr), shape=pairs.shape)

    def distinct_distances(self) -> NDArray[np.float64]:
        """Sorted distinct finite distances over all stored pairs."""
        data = self.distances.data if self.is_sparse else self.distances.ravel()
        data = data[np.isfinite(data)]
        return np.unique(data.astype(np.float64))

    def subset_sites(self, keep: NDArray[np.bool_]) -> SitingInstance:
        """The same instance restricted to the sites in ``keep``."""
        d = self.distances[:, keep] if not self.is_sparse else sp.csr_array(self.distances[:, np.flatnonzero(keep)])
        return SitingInstance(
            distances=d,
            weights=self.weights,
            demand_ids=self.demand_ids,
            site_ids=self.site_ids[keep],
            cost=self.cost[keep],
            capacity=self.capacity[keep],
            existing=self.existing[keep],
            forbidden=self.forbidden[keep],
            name=self.name,
            groups=self.groups,
        )
