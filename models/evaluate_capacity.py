"""Capacity use of a plan, recomputed from the instance and the assignment alone (no solver).

Given the open sites and the assignment ``a_ij`` (share of demand point i served by site j), with
``s_i = sum_j a_ij`` the served share of point i::

    load_j          = sum_i w_i a_ij                        (demand units taken by facility j)
    utilisation_j   = load_j / cap_j                        (nan for an unlimited facility)
    served weight   = sum_i w_i s_i                         (capacitated MCLP objective)
    covered-but-unserved = sum_{i covered} w_i (1 - s_i)    (within reach of an open facility, no room)

and lists every violated rule in plain words: a share outside [0, 1], a point served more than
once over, a facility closed or out of reach (farther than the radius), a capacity exceeded, a
split point when splitting is not allowed, and (``require_all``, the capacitated LSCP) a
coverable point left unserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.instance import RADIUS_TOL, SitingInstance


def utilisation(load: NDArray[np.float64], capacity: NDArray[np.float64]) -> NDArray[np.float64]:
    """``load / capacity`` per facility (nan where the capacity is unlimited or 0 with no load)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = load / capacity
    return np.where(np.isfinite(capacity), u, np.nan)


@dataclass(frozen=True, eq=False)
class CapacityMetrics:
    """How a capacitated plan uses its facilities."""

    load: NDArray[np.float64]  # (m,) demand units served by each site
    capacity: NDArray[np.float64]  # (m,) the instance's capacities (inf = unlimited)
    served_share: NDArray[np.float64]  # (n,) share of each demand point served
    served_by: NDArray[np.int64]  # (n,) site serving the largest share of each point, -1 if none
    served_weight: float
    covered_unserved_weight: float
    violations: list[str] = field(default_factory=list)

    @property
    def utilisation(self) -> NDArray[np.float64]:
        """``load / capacity`` per site (nan where the capacity is unlimited or 0 with no load)."""
        return utilisation(self.load, self.capacity)

    def to_dict(self, instance: SitingInstance, open_sites: NDArray[np.bool_]) -> dict[str, Any]:
        """A JSON-ready record: one row per open facility, and who is served by whom."""
        util = self.utilisation
        facilities = [
            {
                "site_id": instance.site_ids[j],
                "capacity": None if not np.isfinite(self.capacity[j]) else float(self.capacity[j]),
                "load": float(self.load[j]),
                "utilisation": None if np.isnan(util[j]) else float(util[j]),
            }
            for j in np.flatnonzero(open_sites)
        ]
        served = np.flatnonzero(self.served_by >= 0)
        return {
            "served_weight": self.served_weight,
            "covered_unserved_weight": self.covered_unserved_weight,
            "facilities": facilities,
            "served_by": [
                {
                    "demand_id": instance.demand_ids[i],
                    "site_id": instance.site_ids[self.served_by[i]],
                    "share": float(self.served_share[i]),
                }
                for i in served
            ],
            "violations": list(self.violations),
        }


def evaluate_capacity(
    instance: SitingInstance,
    open_sites: NDArray[np.bool_],
    assignment: sp.sparray | NDArray[np.float64],
    radius: float,
    *,
    split_allowed: bool = False,
    require_all: bool = False,
    tol: float = 1e-6,
) -> CapacityMetrics:
    """Recompute capacity use and served demand of a plan; see the module docstring.

    Parameters
    ----------
    open_sites : (m,) bool mask of the open sites (existing included).
    assignment : (n, m) shares ``a_ij``.
    radius : the service radius; serving a point from farther away is a violation.
    split_allowed : if False, every share must be 0 or 1.
    require_all : every point with weight > 0 that an eligible site reaches must be fully served.
    """
    n, m = instance.n, instance.m
    mask = np.asarray(open_sites, dtype=bool)
    a = sp.csr_array(assignment, dtype=np.float64)
    if a.shape != (n, m):
        raise ValueError(f"assignment has shape {a.shape}, expected ({n}, {m})")
    a = sp.csr_array(a.multiply(np.abs(a) > tol))
    a.sort_indices()
    rows = np.repeat(np.arange(n), np.diff(a.indptr))
    cols, vals = a.indices, a.data
    w = instance.weights
    violations: list[str] = []

    def ids(kind: str, idx: NDArray[np.int64]) -> str:
        arr = instance.demand_ids if kind == "demand" else instance.site_ids
        shown = ", ".join(map(str, arr[idx][:5]))
        return shown + (f" (and {idx.size - 5} more)" if idx.size > 5 else "")

    if ((vals < -tol) | (vals > 1 + tol)).any():
        violations.append("some assignment share is outside [0, 1]")
    dd = instance.pair_distances(rows, cols)
    far = dd > radius + RADIUS_TOL
    if far.any():
        violations.append(f"demand {ids('demand', np.unique(rows[far]))} is served from beyond the radius {radius:g}")
    shut = ~mask[cols]
    if shut.any():
        violations.append(f"demand is assigned to closed sites {ids('site', np.unique(cols[shut]))}")
    share = np.asarray(np.bincount(rows, weights=vals, minlength=n), dtype=np.float64)
    over_served = share > 1 + tol
    if over_served.any():
        violations.append(f"demand {ids('demand', np.flatnonzero(over_served))} is served more than once over")
    load = np.asarray(np.bincount(cols, weights=w[rows] * vals, minlength=m), dtype=np.float64)
    cap = instance.capacity
    full = load > cap * (1 + tol) + tol
    if full.any():
        violations.append(f"capacity exceeded at sites {ids('site', np.flatnonzero(full))}")
    if not split_allowed and (np.abs(vals - np.round(vals)) > 1e-5).any():
        violations.append("demand is split between sites although splitting is not allowed")

    share = np.clip(share, 0.0, 1.0)
    # covered: some open site within the radius (the plain coverage definition)
    pairs = instance.reachable_pairs(radius)
    prow = np.repeat(np.arange(n), np.diff(pairs.indptr))
    fin = np.isfinite(pairs.data)
    covered = np.bincount(prow[fin & mask[pairs.indices]], minlength=n) > 0
    if require_all:
        coverable = np.bincount(prow[fin & instance.eligible[pairs.indices]], minlength=n) > 0
        short = coverable & (w > 0) & (share < 1 - 1e-5)
        if short.any():
            violations.append(f"coverable demand {ids('demand', np.flatnonzero(short))} is not fully served")
    # the site serving the largest share of each point (lowest site index among ties)
    served_by = np.full(n, -1, dtype=np.int64)
    if vals.size:
        order = np.lexsort((cols, -vals, rows))
        first = np.ones(order.size, dtype=bool)
        first[1:] = rows[order][1:] != rows[order][:-1]
        served_by[rows[order][first]] = cols[order][first]
    return CapacityMetrics(
        load=load,
        capacity=cap.copy(),
        served_share=share,
        served_by=served_by,
        served_weight=float(np.dot(w, share)),
        covered_unserved_weight=float(np.dot(w[covered], 1.0 - share[covered])),
        violations=violations,
    )
