"""Brute-force oracles shared by the tests: every plan of a tiny instance enumerated and scored by
the independent evaluator (``models.evaluate``), never by a solver.

* :func:`all_plans` - every plan of a :class:`SitingInstance` (existing open, any subset of the new
  eligible sites);
* :func:`feasible_plans` - those within a limit on the number and the cost of new sites;
* :func:`brute_optimum` - the optimum of a single-service model over those plans, and the least
  cost among the optimal plans (what the tie-break stage must find);
* :func:`joint_plans` - every plan of a :class:`MultiServiceInstance` (each eligible pair closed or
  opened in one of the phases) with its :class:`JointMetrics`; :func:`best_joint_coverage` the best
  weighted coverage among the feasible ones.

The tests import these directly (``from oracles import ...``; conftest.py puts this folder on the
path) or through the ``oracle`` fixture of conftest.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.evaluate import PlanMetrics, evaluate
from siting.models.formulations.pmedian import pmedian_classic
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.models.multiservice import JointMetrics, MultiServiceInstance, evaluate_joint
from siting.optimizer.registry import get_backend
from siting.optimizer.result import SolveParams, Status

MAXIMISED = ("mclp",)


def all_plans(inst: SitingInstance) -> Iterator[NDArray[np.bool_]]:
    """Every plan: the existing sites plus any subset of the new eligible sites (2^m at most)."""
    free = np.flatnonzero(inst.eligible & ~inst.existing)
    for r in range(len(free) + 1):
        for combo in itertools.combinations(free, r):
            mask = inst.existing.copy()
            mask[list(combo)] = True
            yield mask


def feasible_plans(
    inst: SitingInstance, p: int | None = None, budget: float | None = None, tol: float = 1e-6
) -> Iterator[NDArray[np.bool_]]:
    """The plans of :func:`all_plans` with at most ``p`` new sites costing at most ``budget``."""
    for mask in all_plans(inst):
        new = mask & ~inst.existing
        if p is not None and int(new.sum()) > p:
            continue
        if budget is not None and float(inst.cost[new].sum()) > budget + tol:
            continue
        yield mask


@dataclass(frozen=True)
class Optimum:
    """What enumeration found: the optimal value, the least cost among the optimal plans, one such
    plan, and how many plans were feasible."""

    value: float
    cost: float
    plan: NDArray[np.bool_]
    feasible: int


def plan_value(
    inst: SitingInstance,
    mask: NDArray[np.bool_],
    model: str,
    *,
    p: int | None = None,
    budget: float | None = None,
    radius: float | None = None,
    lscp_objective: str = "cost",
    exact_p: bool = False,
) -> tuple[float, PlanMetrics] | None:
    """The model's objective for one plan, or None when the model does not admit the plan.

    The rules are the models' own: p and budget limit the new sites (with ``exact_p``, p-median
    plans open exactly ``min(p, new eligible sites)``, as the model does, which matters for the
    cheapest optimal plan; without it, at most ``p``, which gives the same optimum value when there
    is no budget; the p-center's cheapest stage takes at most ``p``); LSCP must cover every
    demand point of positive weight that some eligible site can cover within the radius.
    """
    met = evaluate(inst, mask, radius=radius, p=p, budget=budget)
    if met.violations:
        return None
    if model == "mclp":
        return float(met.covered_weight or 0.0), met
    if model == "lscp":
        coverable = evaluate(inst, inst.eligible | inst.existing, radius=radius).covered
        assert coverable is not None and met.covered is not None
        if (coverable & (inst.weights > 0) & ~met.covered).any():
            return None
        return float(met.cost if lscp_objective == "cost" else met.n_new), met
    if model == "pcenter":
        return float(met.max_distance), met
    free = int((inst.eligible & ~inst.existing).sum())
    if exact_p and p is not None and met.n_new != min(p, free):
        return None
    return float(met.weighted_distance), met


def brute_optimum(
    inst: SitingInstance,
    model: str,
    *,
    p: int | None = None,
    budget: float | None = None,
    radius: float | None = None,
    lscp_objective: str = "cost",
    exact_p: bool = False,
    rel: float = 1e-9,
) -> Optimum:
    """The optimum of ``model`` on ``inst`` by enumeration (see :func:`plan_value` for the rules);
    among plans within ``rel`` of the optimum, the cheapest. Raises if no plan is feasible."""
    sign = -1.0 if model in MAXIMISED else 1.0
    best: tuple[float, float, NDArray[np.bool_]] | None = None
    count = 0
    for mask in all_plans(inst):
        scored = plan_value(
            inst, mask, model, p=p, budget=budget, radius=radius, lscp_objective=lscp_objective, exact_p=exact_p
        )
        if scored is None:
            continue
        count += 1
        value, met = scored
        if best is None:
            best = (value, met.cost, mask)
            continue
        # an infinite value (demand no open site reaches) is close only to another infinite one
        close = value == best[0] or abs(value - best[0]) <= rel * max(1.0, abs(value))
        close = close and math.isfinite(value) == math.isfinite(best[0])
        if (not close and sign * value < sign * best[0]) or (close and met.cost < best[1]):
            best = (value, met.cost, mask)
    assert best is not None, f"no feasible plan for {model} (p={p}, budget={budget}, radius={radius})"
    return Optimum(value=best[0], cost=best[1], plan=best[2], feasible=count)


def joint_plans(inst: MultiServiceInstance) -> list[tuple[NDArray[np.int8], JointMetrics]]:
    """Every plan over the eligible (service, site) pairs, each closed (-1) or opened in one of the
    phases, with its evaluation: (T + 1)^(eligible pairs) plans."""
    pairs = np.argwhere(np.stack([s.eligible for s in inst.services]))
    out = []
    for choice in itertools.product(range(-1, inst.T), repeat=len(pairs)):
        plan = np.full((inst.S, inst.m), -1, dtype=np.int8)
        if len(pairs):
            plan[pairs[:, 0], pairs[:, 1]] = choice
        out.append((plan, evaluate_joint(inst, plan)))
    return out


def best_joint_coverage(inst: MultiServiceInstance) -> float:
    """The best weighted coverage among the feasible plans of :func:`joint_plans`."""
    return max((met.weighted_coverage for _, met in joint_plans(inst) if not met.violations), default=0.0)


def brute_mclp(inst: SitingInstance, radius: float, p: int | None, budget: float | None) -> float:
    """The MCLP optimum by enumeration."""
    return brute_optimum(inst, "mclp", p=p, budget=budget, radius=radius).value


def brute_lscp(inst: SitingInstance, radius: float, objective: str) -> float:
    """The LSCP optimum (``cost`` or ``count``) by enumeration."""
    return brute_optimum(inst, "lscp", radius=radius, lscp_objective=objective).value


def best_served_load(inst: SitingInstance, ok: NDArray[np.bool_], split: bool) -> tuple[float, NDArray[np.float64]]:
    """Most demand weight the pairs ``ok`` (n, m: point i may be served by site j) can serve within
    the sites' capacities, and one optimal load per site.

    Unsplit: every point served whole by one site or none, by enumeration. Split: shares in [0, 1],
    by a dense LP written from the definition (``scipy.optimize.linprog``).
    """
    from scipy.optimize import linprog

    w = inst.weights
    if not split:
        best, best_load = 0.0, np.zeros(inst.m)
        for pick in itertools.product(*[[-1, *np.flatnonzero(ok[i])] for i in range(inst.n)]):
            load = np.zeros(inst.m)
            for i, j in enumerate(pick):
                if j >= 0:
                    load[j] += w[i]
            if (load <= inst.capacity + 1e-9).all() and load.sum() > best:
                best, best_load = float(load.sum()), load
        return best, best_load
    pairs = np.argwhere(ok)
    if pairs.size == 0:
        return 0.0, np.zeros(inst.m)
    k = len(pairs)
    a_rows = np.zeros((inst.n, k))
    a_rows[pairs[:, 0], np.arange(k)] = 1.0
    a_cap = np.zeros((inst.m, k))
    a_cap[pairs[:, 1], np.arange(k)] = w[pairs[:, 0]]
    cap = np.where(np.isfinite(inst.capacity), inst.capacity, 1e9)
    res = linprog(
        -w[pairs[:, 0]], A_ub=np.vstack([a_rows, a_cap]), b_ub=np.concatenate([np.ones(inst.n), cap]), bounds=(0, 1)
    )
    assert res.status == 0
    return float(-res.fun), a_cap @ res.x


def cover_problem(b: NDArray[np.bool_], cost: NDArray[np.float64]) -> MilpProblem:
    """The plain set-cover MILP ``min c y  s.t.  B y >= 1,  y binary`` of a (rows x sites) bool matrix,
    the form the LSCP's row and block helpers work on."""
    k, m = b.shape
    return MilpProblem(
        c=cost.astype(np.float64),
        A=sp.csc_array(b.astype(np.float64)),
        row_lower=np.ones(k),
        row_upper=np.full(k, np.inf),
        col_lower=np.zeros(m),
        col_upper=np.ones(m),
        integrality=np.ones(m, dtype=bool),
        sense="min",
        offset=0.0,
        site_cols=np.arange(m, dtype=np.int64),
        name="cover",
        blocks={"y": (0, m)},
    )


def graph_like(seed: int, n: int) -> SitingInstance:
    """Points in clusters with whole-number distances: LP gaps, so fixing and probing have work to do."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 100, (6, 2))
    pts = centres[rng.integers(0, 6, n)] + rng.normal(0, 12, (n, 2))
    d = np.floor(np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)).astype(np.float32)
    return SitingInstance(d, weights=rng.integers(1, 5, n).astype(float))


def classic_value(inst: SitingInstance, p: int) -> float:
    """The p-median optimum by the classic formulation on HiGHS (the reference for the exact paths)."""
    problem = pmedian_classic(inst, p=p)
    res = get_backend("highs").solve(problem, SolveParams(mip_gap=0.0))
    assert res.status == Status.OPTIMAL
    return float(res.objective)
