"""The independent plan evaluator: recompute every objective and constraint from raw data.

No solver and no formulation is involved: given the instance and the set of open sites (and, for
capacitated plans, the assignment), it recomputes

* the distance from each demand point to its nearest open site ``d_i = min_{j open} d_ij``,
* total weighted distance ``sum_i w_i d_i`` (p-median objective),
* maximum distance ``max_{i: w_i > 0} d_i`` (p-center objective),
* covered weight ``sum_i w_i [d_i <= R]`` (MCLP objective) for a radius R,
* cost of the newly opened sites and the number opened (LSCP objectives),

and lists every violated constraint in plain words. Every result that leaves the engine passes
through here, and its evaluated objective must equal the solver's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.csr import csr_rows
from siting.models.instance import RADIUS_TOL, SitingInstance


@dataclass(frozen=True, eq=False)
class PlanMetrics:
    """What a plan achieves, recomputed from the instance."""

    open_sites: NDArray[np.bool_]
    n_open: int
    n_new: int
    cost: float
    nearest_site: NDArray[np.int64]
    nearest_distance: NDArray[np.float64]
    weighted_distance: float
    max_distance: float
    radius: float | None
    covered_weight: float | None
    covered: NDArray[np.bool_] | None
    uncovered_weight: float | None
    assigned_distance: float | None
    violations: list[str] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_open": self.n_open,
            "n_new": self.n_new,
            "cost": self.cost,
            "weighted_distance": self.weighted_distance,
            "max_distance": self.max_distance,
            "radius": self.radius,
            "covered_weight": self.covered_weight,
            "uncovered_weight": self.uncovered_weight,
            "assigned_distance": self.assigned_distance,
            "violations": list(self.violations),
        }


def nearest_open(
    instance: SitingInstance, open_sites: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For each demand point, the nearest open site (index, -1 if none) and its distance (inf)."""
    n = instance.n
    cols = np.flatnonzero(open_sites)
    best = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    if cols.size == 0:
        return best, dist
    if instance.is_sparse:
        mask = np.zeros(instance.m, dtype=bool)
        mask[cols] = True
        _nearest_stored(sp.csr_array(instance.distances), mask, best, dist)
    else:
        d = np.asarray(instance.distances[:, cols], dtype=np.float64)
        k = np.argmin(d, axis=1)  # first minimum = lowest site index among ties
        dist = d[np.arange(n), k]
        best = np.where(np.isfinite(dist), cols[k], -1)
    return best, dist


#: stored pairs read at once by :func:`_nearest_stored` (its temporaries stay a few times this)
NEAREST_BLOCK = 4_000_000


def _nearest_stored(
    D: sp.csr_array, mask: NDArray[np.bool_], best: NDArray[np.int64], dist: NDArray[np.float64]
) -> None:
    """Fill ``best`` / ``dist`` with each row's nearest stored site in ``mask`` (ties: the lowest
    site index); rows with none keep -1 / inf.

    Two segment minima per block of rows (``np.minimum.reduceat``): the least distance of each row,
    then the least site index among the entries at that distance. No sort and no copy of the
    matrix: a truncated 13,509 x 8,106 p-median table (109 million pairs) with every site open is
    read in blocks of ``NEAREST_BLOCK`` pairs.
    """
    indptr = D.indptr
    m = D.shape[1]
    r0 = 0
    while r0 < D.shape[0]:
        # as many rows as fit in one block (at least one)
        r1 = int(np.searchsorted(indptr, indptr[r0] + NEAREST_BLOCK, side="right")) - 1
        r1 = min(max(r1, r0 + 1), D.shape[0])
        lo, hi = int(indptr[r0]), int(indptr[r1])
        site = D.indices[lo:hi]
        keep = mask[site]
        site = site[keep]
        data = D.data[lo:hi][keep]
        kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        bounds = indptr[r0 : r1 + 1] - lo
        counts = kept[bounds[1:]] - kept[bounds[:-1]]
        has = counts > 0
        if has.any():
            starts = (np.cumsum(counts) - counts)[has]
            near = np.minimum.reduceat(data, starts)
            at_min = data == np.repeat(near, counts[has])
            first = np.minimum.reduceat(np.where(at_min, site, m), starts)
            rows = np.arange(r0, r1)[has]
            best[rows] = first
            dist[rows] = near
        r0 = r1


def evaluate(
    instance: SitingInstance,
    open_sites: NDArray[np.bool_] | NDArray[np.int64] | list[int],
    *,
    radius: float | None = None,
    p: int | None = None,
    budget: float | None = None,
    assignment: sp.sparray | NDArray[np.float64] | None = None,
    split_allowed: bool = True,
    tol: float = 1e-6,
) -> PlanMetrics:
    """Recompute a plan's metrics and list its violations.

    Parameters
    ----------
    open_sites : a boolean mask over sites, or the indices of the open sites. Existing facilities
        must be among them (an existing facility closed is a violation).
    radius : service radius for coverage figures.
    p : the maximum number of open *new* sites (existing ones do not count).
    budget : the maximum total cost of new sites.
    assignment : (n, m) fraction of demand i served by site j, for capacitated plans. Then
        ``assigned_distance = sum_ij w_i d_ij a_ij`` and capacity ``sum_i w_i a_ij <= cap_j`` is
        checked; every row must sum to 1, only open, reachable sites may serve.
    split_allowed : if False, every assignment entry must be 0 or 1.
    """
    mask = np.zeros(instance.m, dtype=bool)
    arr = np.asarray(open_sites)
    if arr.dtype == bool:
        if arr.shape != (instance.m,):
            raise ValueError(f"open_sites mask has shape {arr.shape}, expected ({instance.m},)")
        mask[:] = arr
    else:
        mask[arr.astype(np.int64)] = True
    violations: list[str] = []
    if (mask & instance.forbidden).any():
        ids = instance.site_ids[mask & instance.forbidden]
        violations.append(f"forbidden sites opened: {', '.join(map(str, ids[:5]))}")
    if (instance.existing & ~mask).any():
        ids = instance.site_ids[instance.existing & ~mask]
        violations.append(f"existing facilities closed: {', '.join(map(str, ids[:5]))}")
    new = mask & ~instance.existing
    n_new = int(new.sum())
    cost = float(instance.cost[new].sum())
    if p is not None and n_new > p:
        violations.append(f"{n_new} new sites opened, more than p = {p}")
    if budget is not None and cost > budget * (1 + tol) + tol:
        violations.append(f"cost {cost:g} exceeds the budget {budget:g}")

    best, dist = nearest_open(instance, mask)
    w = instance.weights
    pos = w > 0
    reached = np.isfinite(dist)
    weighted = float(np.dot(w[reached], dist[reached])) if reached[pos].all() else np.inf
    max_d = float(dist[pos].max()) if pos.any() else 0.0

    covered = covered_w = uncovered_w = None
    if radius is not None:
        covered = dist <= radius + RADIUS_TOL
        covered_w = float(w[covered].sum())
        uncovered_w = float(w[~covered].sum())

    assigned = None
    if assignment is not None:
        a = sp.csr_array(assignment, dtype=np.float64)
        if a.shape != (instance.n, instance.m):
            raise ValueError(f"assignment has shape {a.shape}, expected ({instance.n}, {instance.m})")
        a = sp.csr_array(a.multiply(a > tol))
        rows = csr_rows(a)
        cols = a.indices
        dd = instance.pair_distances(rows, cols)
        if not np.isfinite(dd).all():
            violations.append("some demand is assigned to a site that cannot reach it")
        assigned = float(np.sum(w[rows] * a.data * dd))
        row_sum = np.asarray(a.sum(axis=1)).ravel()
        bad = (np.abs(row_sum - 1.0) > 1e-5) & (w > 0)  # weightless demand needs no server
        if bad.any():
            violations.append(f"demand not fully assigned at ids {', '.join(map(str, instance.demand_ids[bad][:5]))}")
        if (~mask[cols]).any():
            violations.append("some demand is assigned to a closed site")
        load = np.bincount(cols, weights=w[rows] * a.data, minlength=instance.m)
        over = load > instance.capacity * (1 + tol) + tol
        if over.any():
            violations.append(f"capacity exceeded at sites {', '.join(map(str, instance.site_ids[over][:5]))}")
        if not split_allowed and (np.abs(a.data - np.round(a.data)) > 1e-5).any():
            violations.append("demand is split between sites although splitting is not allowed")

    return PlanMetrics(
        open_sites=mask,
        n_open=int(mask.sum()),
        n_new=n_new,
        cost=cost,
        nearest_site=best,
        nearest_distance=dist,
        weighted_distance=weighted,
        max_distance=max_d,
        radius=radius,
        covered_weight=covered_w,
        covered=covered,
        uncovered_weight=uncovered_w,
        assigned_distance=assigned,
        violations=violations,
    )
