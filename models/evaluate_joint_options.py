"""Capacity use and group shares of a joint plan, recomputed without a solver.

The joint model with options (:mod:`models.formulations.joint_capacity`) returns a plan
``open_phase`` (S, m) and, for every capacitated service s, an assignment: pairs ``(i_k, f_k)``
(``f_k < m`` a plot, ``m + e`` the existing facility e) with shares ``a_kt`` for ``Tz`` = 1 (the plan
at the end) or T (phase by phase) columns. From these and the raw instance alone::

    open_sft     = f existing, or 0 <= open_phase_sf <= t (t = the end for Tz = 1)
    load_sft     = sum_{k: f_k = f} w_{s,i_k} a_kt                (utilisation_sf = load_sf / cap_sf)
    served_st    = sum_k w_{s,i_k} a_kt
    covered_sit  = ex_si or sum_j a^s_ij [0 <= open_phase_sj <= t]  (plain coverage)
    group share  = (served or covered people of group g at the end) / W_sg

and the objective (max_coverage: ``sum_s weight_s value_s``; phased: ``sum_t pw_t sum_s weight_s
value_st``) with ``value`` the served demand of a capacitated service and the covered demand of the
others. Violations in plain words: a share outside [0, 1] or split although splitting is not
allowed, a pair out of reach, a facility not open (yet), a point served more than once over, a
capacity exceeded, a group below its floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.csr import csr_rows
from siting.models.evaluate_capacity import utilisation
from siting.models.formulations.joint_capacity import JointOptions

#: Tolerance of the share, load and floor checks.
TOL = 1e-6


@dataclass(frozen=True, eq=False)
class CapacityUse:
    """One capacitated service's facilities at the end of the plan (plots, then existing facilities)."""

    facility_ids: NDArray[Any]
    is_open: NDArray[np.bool_]
    load: NDArray[np.float64]
    capacity: NDArray[np.float64]
    served_share: NDArray[np.float64]  # (n,) at the end
    served_by: NDArray[np.int64]  # (n,) facility serving the largest share, -1 none
    served_weight: float
    served_by_phase: NDArray[np.float64]  # (Tz,)
    covered_unserved_weight: float
    violations: list[str] = field(default_factory=list)

    @property
    def utilisation(self) -> NDArray[np.float64]:
        return utilisation(self.load, self.capacity)

    def to_dict(self, demand_ids: NDArray[Any]) -> dict[str, Any]:
        """The record of the split path's capacity use (``CapacityMetrics.to_dict``): open facilities, who is served by whom."""
        util = self.utilisation
        served = np.flatnonzero(self.served_by >= 0)
        return {
            "served_weight": self.served_weight,
            "covered_unserved_weight": self.covered_unserved_weight,
            "facilities": [
                {
                    "site_id": str(self.facility_ids[f]),
                    "capacity": None if not np.isfinite(self.capacity[f]) else float(self.capacity[f]),
                    "load": float(self.load[f]),
                    "utilisation": None if np.isnan(util[f]) else float(util[f]),
                }
                for f in np.flatnonzero(self.is_open)
            ],
            "served_by": [
                {
                    "demand_id": str(demand_ids[i]),
                    "site_id": str(self.facility_ids[self.served_by[i]]),
                    "share": float(self.served_share[i]),
                }
                for i in served
            ],
            "violations": list(self.violations),
        }


@dataclass(frozen=True, eq=False)
class GroupShares:
    """One service's covered (or served, with a capacity) share of every group at the end of the plan."""

    labels: NDArray[Any]
    total: NDArray[np.float64]
    covered: NDArray[np.float64]
    min_share: float | None
    served: bool

    @property
    def shares(self) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.total > 0, self.covered / self.total, 1.0)

    @property
    def worst(self) -> float:
        return float(self.shares.min()) if self.shares.size else 1.0

    def below(self, floor: float | None = None) -> list[str]:
        f = self.min_share if floor is None else floor
        if f is None:
            return []
        return [str(g) for g, sh in zip(self.labels, self.shares, strict=True) if sh < f - TOL]


@dataclass(frozen=True, eq=False)
class OptionMetrics:
    """What the options of a joint plan give, by service name; ``value`` the recomputed objective."""

    capacity: dict[str, CapacityUse]
    equity: dict[str, GroupShares]
    value: float
    violations: list[str]


def _pair_in(pattern: sp.csr_array, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Whether each (row, col) is a stored entry of ``pattern``."""
    if rows.size == 0:
        return np.zeros(0, dtype=bool)
    width = max(pattern.shape[1], 1)
    stored = csr_rows(pattern) * width + pattern.indices
    order = np.argsort(stored, kind="stable")
    stored = stored[order]
    want = rows * width + cols
    pos = np.searchsorted(stored, want)
    ok = pos < stored.size
    ok[ok] = stored[pos[ok]] == want[ok]
    return ok


def evaluate_joint_options(
    inst: Any,
    options: JointOptions,
    open_phase: NDArray[Any],
    assignment: Mapping[str, tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]],
    objective: str = "max_coverage",
) -> OptionMetrics:
    """Recompute capacity use, group shares and the objective of a plan (module docstring).

    ``assignment`` maps each capacitated service's name to ``(demand, facility, shares)`` with
    ``shares`` of shape (K,) or (K, Tz); a capacitated service without an entry serves nobody.
    """
    op = np.asarray(open_phase)
    n, m = inst.n, inst.m
    phased = objective == "phased"
    T = inst.T if phased else 1
    pw = inst.phase_weight_vector if phased else np.ones(1)
    violations: list[str] = []
    uses: dict[str, CapacityUse] = {}
    equity: dict[str, GroupShares] = {}
    value = np.zeros(T)
    for s, svc in enumerate(inst.services):  # loop over services
        w = svc.weights
        # plain coverage by phase t (at the end for T = 1)
        open_t = np.stack([(op[s] >= 0) & (op[s] <= (t if phased else np.iinfo(np.int8).max)) for t in range(T)])
        cov_t = (np.asarray(svc.coverage_float @ open_t.T.astype(np.float64)) > 0) | svc.existing_covered[:, None]
        cap = options.capacity.get(svc.name)
        if cap is None:
            value += svc.weight * (w @ cov_t)
            end_people = w * cov_t[:, -1]
        else:
            use, served_t = _capacity_use(svc, cap, op[s], assignment.get(svc.name), T, phased, m, n, inst)
            uses[svc.name] = use
            violations += [f"service {svc.name!r}: {v}" for v in use.violations]
            value += svc.weight * served_t
            end_people = w * use.served_share
        eq = options.equity.get(svc.name)
        if eq is not None:
            gs = GroupShares(
                labels=eq.labels,
                total=eq.totals(w),
                covered=np.bincount(eq.code, weights=end_people, minlength=eq.G).astype(np.float64),
                min_share=eq.min_share,
                served=cap is not None,
            )
            equity[svc.name] = gs
            low = gs.below()
            if low:
                violations.append(
                    f"service {svc.name!r}: groups {', '.join(low[:10])} below the floor {eq.min_share:g}"
                )
    return OptionMetrics(uses, equity, float(pw @ value), violations)


def _capacity_use(
    svc: Any,
    cap: Any,
    op_s: NDArray[Any],
    given: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]] | None,
    T: int,
    phased: bool,
    m: int,
    n: int,
    inst: Any,
) -> tuple[CapacityUse, NDArray[np.float64]]:
    """One service's loads, served demand and violations from its assignment."""
    w = svc.weights
    F = m + cap.E
    if given is None:
        demand = np.zeros(0, dtype=np.int64)
        fac = np.zeros(0, dtype=np.int64)
        sh = np.zeros((0, T))
    else:
        demand = np.asarray(given[0], dtype=np.int64)
        fac = np.asarray(given[1], dtype=np.int64)
        raw = np.asarray(given[2], dtype=np.float64)
        sh = raw.reshape(demand.size, -1) if demand.size else np.zeros((0, T))
    if sh.shape[1] != T:
        sh = np.repeat(sh[:, -1:], T, axis=1) if sh.shape[1] == 1 or not phased else sh[:, -T:]
    bad: list[str] = []
    cut = np.abs(sh) > TOL
    sh = np.where(cut, sh, 0.0)
    if ((sh < -TOL) | (sh > 1 + TOL)).any():
        bad.append("an assignment share is outside [0, 1]")
    if not cap.allow_split and (np.abs(sh - np.round(sh)) > 1e-5).any():
        bad.append("demand is split between facilities although allow_split is false")
    is_plot = fac < m
    reach = np.ones(demand.size, dtype=bool)
    reach[is_plot] = _pair_in(svc.coverage, demand[is_plot], fac[is_plot])
    reach[~is_plot] = _pair_in(cap.existing_cover, demand[~is_plot], fac[~is_plot] - m)
    used = cut.any(axis=1)
    far = used & ~reach
    if far.any():
        bad.append(f"demand {', '.join(map(str, np.asarray(inst.demand_ids)[demand[far]][:5]))} is served out of reach")
    ph = np.where(is_plot, op_s[np.minimum(fac, m - 1)], 0).astype(np.int64)
    caps = np.concatenate([cap.plot_capacity, cap.existing_capacity])
    ids = np.concatenate([np.asarray(inst.site_ids, dtype=object), cap.existing_ids])
    served_t = np.zeros(T)
    load = np.zeros(F)
    share_end = np.zeros(n)
    for t in range(T):  # loop over phases
        closed = cut[:, t] & is_plot & ((ph < 0) | (phased & (ph > t)))
        if closed.any():
            bad.append(
                f"demand is assigned to facilities not open in phase {t}: {', '.join(map(str, ids[np.unique(fac[closed])][:5]))}"
            )
        share = np.bincount(demand, weights=sh[:, t], minlength=n)
        if (share > 1 + TOL).any():
            bad.append(
                f"demand {', '.join(map(str, np.asarray(inst.demand_ids)[share > 1 + TOL][:5]))} is served more than once over"
            )
        lt = np.bincount(fac, weights=w[demand] * sh[:, t], minlength=F)
        over = lt > caps * (1 + TOL) + TOL
        if over.any():
            bad.append(f"capacity exceeded at {', '.join(map(str, ids[over][:5]))}")
        served_t[t] = float(w @ np.clip(share, 0.0, 1.0))
        load, share_end = lt, np.clip(share, 0.0, 1.0)
    is_open = np.concatenate([op_s >= 0, np.ones(cap.E, dtype=bool)])
    covered = (np.asarray(svc.coverage_float @ (op_s >= 0).astype(np.float64)) > 0) | (
        np.diff(cap.existing_cover.indptr) > 0
    )
    served_by = np.full(n, -1, dtype=np.int64)
    on = sh[:, -1] > TOL
    if on.any():
        k = np.flatnonzero(on)
        order = k[np.lexsort((fac[k], -sh[k, -1], demand[k]))]
        first = np.ones(order.size, dtype=bool)
        first[1:] = demand[order][1:] != demand[order][:-1]
        served_by[demand[order][first]] = fac[order][first]
    use = CapacityUse(
        facility_ids=ids,
        is_open=is_open,
        load=load,
        capacity=caps,
        served_share=share_end,
        served_by=served_by,
        served_weight=float(served_t[-1]),
        served_by_phase=served_t,
        covered_unserved_weight=float(np.dot(w[covered], 1.0 - share_end[covered])),
        violations=list(dict.fromkeys(bad)),
    )
    return use, served_t


__all__ = ["CapacityUse", "GroupShares", "OptionMetrics", "evaluate_joint_options"]
