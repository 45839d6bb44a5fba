"""Capacitated coverage: a demand point counts as served only by an open facility within reach that
has room for it. Capacitated MCLP (most demand served) and capacitated LSCP (least cost serving
every coverable point).

Notation. ``E`` is the set of *pairs* ``(i, j)`` with ``d_ij <= R``, ``w_i > 0`` and site ``j``
eligible (new or existing; a forbidden site has no pair). Only these pairs get a column, read from
the instance's sparse coverage structure: the model never holds an (n, m) dense array. ``y_j`` is
1 when site j is open (existing facilities fixed open, they carry their capacities too), ``x_ij``
the share of demand point i served by site j. Unsplit (the default) ``x_ij in {0, 1}``: a point is
served by one facility or not at all. Split: ``x_ij in [0, 1]``.

``cap_j`` is the site's capacity in demand units; an unlimited site (``inf``) is given the
effective capacity ``W_j = sum_{i: (i,j) in E} w_i`` (everything it could ever serve), so every
site gets one capacity row and no per-pair ``x_ij <= y_j`` rows are needed: with ``y_j = 0`` row
(2) forces ``x_ij = 0`` because ``w_i > 0``.

Capacitated MCLP::

    max   sum_{(i,j) in E} w_i x_ij
    s.t.  sum_{j: (i,j) in E} x_ij <= 1                      every demand point i with a pair  (1)
          sum_{i: (i,j) in E} w_i x_ij - c_j y_j <= 0        every site j with a pair          (2)
          sum_{j new} y_j <= p                               if p is given                     (3)
          sum_{j new} cost_j y_j <= budget                   if budget is given                (4)
          c_j = min(cap_j, W_j); y_j = 1 existing, 0 forbidden, binary

Capacitated LSCP (``f_j = cost_j`` or ``1``)::

    min   sum_{j new} f_j y_j
    s.t.  sum_{j: (i,j) in E} x_ij = 1                       every coverable demand point i    (1')
          (2) as above

Equity floor on served demand (capacitated MCLP with ``min_share = s``, demand groups ``g(i)``,
``W_g`` a group's whole demand; existing facilities are among the sites, so all service is in x)::

    sum_{(i,j) in E: g(i) = g} w_i x_ij >= s W_g           every group g with W_g > 0        (5)

A point no eligible site reaches is left out (reported as uncoverable, as in the plain LSCP);
when the capacities cannot serve every coverable point the model is infeasible, and
:mod:`optimizer.capacity` names the points and full facilities.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.models.formulations.lscp import check_radius, coverage_matrix, csr_rows, new_eligible, site_bounds
from siting.models.formulations.mclp import check_site_limits, site_limit_rows
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem, stack_rows


def serving_pairs(instance: SitingInstance, radius: float) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The pairs ``E``: (demand index, site index) with ``d_ij <= radius``, ``w_i > 0``, j eligible.

    Pairs come in CSR order (by demand, then site).
    """
    cov = coverage_matrix(instance, radius)
    rows = csr_rows(cov)
    cols = cov.indices.astype(np.int64)
    keep = instance.eligible[cols] & (instance.weights[rows] > 0)
    return rows[keep], cols[keep]


def effective_capacity(
    instance: SitingInstance, rows: NDArray[np.int64], cols: NDArray[np.int64]
) -> NDArray[np.float64]:
    """``c_j = min(cap_j, W_j)``, with ``W_j`` the total weight site j can reach (finite for every site)."""
    reach = np.bincount(cols, weights=instance.weights[rows], minlength=instance.m)
    return np.minimum(instance.capacity, reach)


def _capacity_model(
    instance: SitingInstance,
    radius: float,
    allow_split: bool,
    *,
    sense: Literal["min", "max"],
    limits: tuple[int | None, float | None],
    site_cost: NDArray[np.float64] | None,
    name: str,
    min_share: float | None = None,
) -> MilpProblem:
    rows, cols = serving_pairs(instance, radius)
    m = instance.m
    e = rows.size
    if e == 0:
        raise ScenarioError(
            f"radius {radius:g} reaches no demand point with weight > 0 from any eligible site: increase the radius"
        )
    nvar = m + e
    xcol = m + np.arange(e, dtype=np.int64)
    w = instance.weights
    lower, upper = site_bounds(instance)
    used = np.bincount(cols, minlength=m) > 0
    upper[new_eligible(instance) & ~used] = 0.0  # a site that serves no one only adds cost

    # (1) / (1') one row per demand point that has a pair
    demand, drow = np.unique(rows, return_inverse=True)
    a1 = sp.csr_array((np.ones(e), (drow, xcol)), shape=(demand.size, nvar))
    lo1 = np.ones(demand.size) if sense == "min" else np.full(demand.size, -np.inf)
    blocks = [(a1, lo1, np.ones(demand.size))]
    # (2) sum_i w_i x_ij - c_j y_j <= 0, one row per site with a pair
    sites = np.flatnonzero(used)
    srow = np.full(m, -1, dtype=np.int64)
    srow[sites] = np.arange(sites.size)
    cap = effective_capacity(instance, rows, cols)
    a2 = sp.csr_array(
        (
            np.concatenate([w[rows], -cap[sites]]),
            (np.concatenate([srow[cols], np.arange(sites.size)]), np.concatenate([xcol, sites])),
        ),
        shape=(sites.size, nvar),
    )
    blocks.append((a2, np.full(sites.size, -np.inf), np.zeros(sites.size)))
    # (3) p and (4) budget
    blocks += site_limit_rows(instance, nvar, limits[0], limits[1])
    if min_share is not None:  # (5) the floor on each group's served demand
        from siting.models.formulations.equity import floor_rows

        blocks.append(floor_rows(instance, min_share, xcol, rows, w[rows], nvar))
    A, row_lower, row_upper = stack_rows(blocks, nvar)

    if sense == "max":
        c = np.concatenate([np.zeros(m), w[rows]])
    else:
        f = site_cost if site_cost is not None else instance.cost
        c = np.concatenate([np.where(new_eligible(instance), f, 0.0), np.zeros(e)])
    int_x = np.full(e, not allow_split)
    return MilpProblem(
        c=c.astype(np.float64),
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.concatenate([lower, np.zeros(e)]),
        col_upper=np.concatenate([upper, np.ones(e)]),
        integrality=np.concatenate([np.ones(m, dtype=bool), int_x]),
        sense=sense,
        offset=0.0,
        site_cols=np.arange(m, dtype=np.int64),
        name=name,
        blocks={"y": (0, m), "x": (m, nvar)},
        assignment=(rows, cols, xcol),
    )


def with_pair_rows(problem: MilpProblem, instance: SitingInstance) -> MilpProblem:
    """``problem`` (a capacitated model of this module) with the pair rows ``x_ij - y_j <= 0``
    (6) for every pair whose point is lighter than the site's effective capacity (``w_i < c_j``;
    for the others (2) already implies (6)).

    Valid for every integer solution (``y_j = 0`` forces ``x_ij = 0`` through (2), and ``x_ij <= 1``),
    so the model's optimum is unchanged; its LP relaxation is tighter: without (6) the LP may open
    a site in part (``y_j = load_j / c_j``) and still serve a light point in full. Used for the LP
    bound of a stopped city-sized solve (:mod:`optimizer.capacity`); one row and two nonzeros per pair.
    """
    assert problem.assignment is not None
    rows, cols, xcol = problem.assignment
    cap = effective_capacity(instance, rows, cols)
    k = np.flatnonzero(instance.weights[rows] < cap[cols] - 1e-12)
    if k.size == 0:
        return problem
    idx = np.arange(k.size)
    a6 = sp.csr_array(
        (
            np.concatenate([np.ones(k.size), -np.ones(k.size)]),
            (np.concatenate([idx, idx]), np.concatenate([xcol[k], cols[k]])),
        ),
        shape=(k.size, problem.num_vars),
    )
    A, lo, up = stack_rows(
        [(problem.A, problem.row_lower, problem.row_upper), (a6, np.full(k.size, -np.inf), np.zeros(k.size))],
        problem.num_vars,
    )
    return replace(problem, A=A, row_lower=lo, row_upper=up, name=problem.name + " +pair rows")


def capacitated_mclp(
    instance: SitingInstance,
    radius: float,
    p: int | None = None,
    budget: float | None = None,
    allow_split: bool = False,
    min_share: float | None = None,
) -> MilpProblem:
    """Capacitated maximal covering: most demand served within ``radius`` and the site capacities.

    See the module docstring for the model, rows (1)-(4), and the floor (5) with ``min_share``. The objective is the *served* weight;
    read the assignment back with ``problem.assignment_matrix(x, (n, m))``.

    Raises
    ------
    ScenarioError : no p and no budget, a bad radius, or no pair within the radius.
    """
    r = check_radius(radius, allow_zero=False)
    ip = check_site_limits(instance, p, budget, min_p=0)
    split = "split" if allow_split else "unsplit"
    floor = f" floor {min_share:g}" if min_share is not None else ""
    return _capacity_model(
        instance, r, allow_split, sense="max", limits=(ip, budget), site_cost=None,
        name=f"cap-mclp[{split}] R={r:g}{floor}", min_share=min_share,
    )  # fmt: skip


def capacitated_lscp(
    instance: SitingInstance,
    radius: float,
    objective: Literal["cost", "count"] = "cost",
    allow_split: bool = False,
) -> MilpProblem:
    """Capacitated set covering: the cheapest (or fewest) new sites that serve every coverable point.

    Rows (1') and (2) of the module docstring. Infeasible when the capacities within reach cannot
    take every coverable point (see :func:`optimizer.capacity.capacity_shortfall` for who is left).
    """
    r = check_radius(radius, allow_zero=True)
    if objective not in ("cost", "count"):
        raise ScenarioError(f"LSCP objective {objective!r} is unknown: give 'cost' or 'count'")
    f = instance.cost if objective == "cost" else np.ones(instance.m)
    split = "split" if allow_split else "unsplit"
    return _capacity_model(
        instance,
        r,
        allow_split,
        sense="min",
        limits=(None, None),
        site_cost=f,
        name=f"cap-lscp[{objective},{split}] R={r:g}",
    )
