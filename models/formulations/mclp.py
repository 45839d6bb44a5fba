"""Maximal covering (MCLP) and the p / budget limits that every siting model shares."""

from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import budget_problem, check_radius, p_problem
from siting.models.errors import ScenarioError
from siting.models.formulations.lscp import covering_rows, merge_identical_rows, new_eligible, site_bounds
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem, stack_rows


def check_site_limits(
    instance: SitingInstance, p: int | None, budget: float | None, *, min_p: int = 0, strict_p: bool = False
) -> int | None:
    """Validate the limits on new sites and return ``p`` as an int (or None).

    Parameters
    ----------
    p : maximum number of new sites, or None.
    budget : maximum total cost of new sites, or None.
    min_p : smallest acceptable p.
    strict_p : also reject a p larger than the number of new eligible sites (models that open
        exactly p sites, p-median and p-center).
    """
    if p is None and budget is None:
        raise ScenarioError("no limit on the number or cost of new sites: give --p or --budget")
    problem = budget_problem(budget) if budget is not None else None
    problem = problem or (p_problem(p, min_p=min_p) if p is not None else None)
    if problem:
        raise ScenarioError(problem)
    if p is None:
        return None
    ip = int(p)
    n_new = int(new_eligible(instance).sum())
    if strict_p and ip > n_new:
        raise ScenarioError(f"p = {ip} but only {n_new} sites are eligible: lower --p")
    return ip


def site_limit_rows(
    instance: SitingInstance, nvar: int, p: int | None, budget: float | None, *, p_equal: bool = False
) -> list[tuple[sp.csr_array, NDArray[np.float64], NDArray[np.float64]]]:
    """Row blocks of the p and budget limits over the site columns ``0..m-1``.

    ``sum_{j new} y_j <= p`` (``== p`` if ``p_equal``) and ``sum_{j new} cost_j y_j <= budget``,
    where "new" means eligible and not existing (existing facilities are free and uncounted).
    """
    new = np.flatnonzero(new_eligible(instance))
    blocks: list[tuple[sp.csr_array, NDArray[np.float64], NDArray[np.float64]]] = []
    if p is not None:
        row = sp.csr_array((np.ones(new.size), (np.zeros(new.size, dtype=np.int64), new)), shape=(1, nvar))
        blocks.append((row, np.array([float(p) if p_equal else -np.inf]), np.array([float(p)])))
    if budget is not None:
        cost = instance.cost[new]
        row = sp.csr_array((cost, (np.zeros(new.size, dtype=np.int64), new)), shape=(1, nvar))
        blocks.append((row, np.array([-np.inf]), np.array([float(budget)])))
    return blocks


def smallest_eligible_distance(instance: SitingInstance) -> float:
    """The smallest finite distance between any demand point and any eligible site (inf if none)."""
    elig = instance.eligible
    if instance.is_sparse:
        d = cast(sp.csr_array, instance.distances)
        vals = np.asarray(d.data)[elig[d.indices]]
    else:
        vals = np.asarray(instance.distances)[:, elig].ravel()
    vals = vals[np.isfinite(vals)]
    return float(vals.min()) if vals.size else float("inf")


def mclp(instance: SitingInstance, radius: float, p: int | None = None, budget: float | None = None) -> MilpProblem:
    """Maximal covering location problem (Church and ReVelle 1974), with rows merged.

    Demand covered by an existing facility is counted in the offset ``W_0``; the remaining demand
    with weight > 0 that some new eligible site covers is grouped by covering set ``N_r``
    (the new eligible sites within ``radius``), weights summed into ``w_r``; demand no eligible
    site covers gets no row. Variables ``y_j`` (site j open, binary) and ``z_r`` (row r covered,
    continuous in [0, 1], integral at an optimum)::

        max   W_0 + sum_r w_r z_r
        s.t.  z_r <= sum_{j in N_r} y_j                       for every merged row r   (1)
              sum_{j new} y_j <= p                            if p is given            (2)
              sum_{j new} cost_j y_j <= budget                if budget is given       (3)
              y_j = 1 existing, y_j = 0 forbidden, y_j in {0, 1}, 0 <= z_r <= 1

    Reductions (exact): identical covering sets merged; new sites that cover no row are fixed
    closed (they cannot add coverage).

    Raises
    ------
    ScenarioError : neither p nor budget, radius <= 0, or the radius covers no demand point from
        any eligible site.
    """
    r = check_radius(radius, allow_zero=False)
    ip = check_site_limits(instance, p, budget, min_p=0)
    m = instance.m
    cover, demand, by_existing, no_site = covering_rows(instance, r)
    if no_site.all():
        dmin = smallest_eligible_distance(instance)
        raise ScenarioError(
            f"radius {r:g} covers no demand point from any eligible site; the smallest demand-site "
            f"distance is {dmin:g}: increase the radius"
        )
    offset = float(instance.weights[by_existing].sum())
    group, first = merge_identical_rows(cover)
    w_r = np.bincount(group, weights=instance.weights[demand], minlength=first.size)
    merged = sp.csr_array(cover[first])
    k = merged.shape[0]
    nvar = m + k

    lower, upper = site_bounds(instance)
    used = np.bincount(merged.indices, minlength=m) > 0
    upper[new_eligible(instance) & ~used] = 0.0

    # (1) z_r - sum_{j in N_r} y_j <= 0
    cov_block = sp.hstack([-merged.astype(np.float64), sp.eye_array(k, format="csr")], format="csr")
    blocks = [(cov_block, np.full(k, -np.inf), np.zeros(k))]
    # (2) p and (3) budget
    blocks += site_limit_rows(instance, nvar, ip, budget)
    A, row_lower, row_upper = stack_rows(blocks, nvar)

    c = np.concatenate([np.zeros(m), w_r])
    return MilpProblem(
        c=c,
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.concatenate([lower, np.zeros(k)]),
        col_upper=np.concatenate([upper, np.ones(k)]),
        integrality=np.concatenate([np.ones(m, dtype=bool), np.zeros(k, dtype=bool)]),
        sense="max",
        offset=offset,
        site_cols=np.arange(m, dtype=np.int64),
        name=f"mclp R={r:g}",
        blocks={"y": (0, m), "z": (m, nvar)},
        implied_integer=np.concatenate([np.zeros(m, dtype=bool), np.ones(k, dtype=bool)]),
    )
