"""Solving the capacitated coverage models, and saying who cannot be served when they are infeasible.

:func:`solve_capacitated_cover` builds the capacitated MCLP or LSCP
(:mod:`models.formulations.capacitated_cover`), solves it on one backend and reads back the open
sites and the assignment; :mod:`optimizer.solve` then re-checks the plan with
:func:`models.evaluate_capacity.evaluate_capacity`.

When the capacitated LSCP is infeasible, :func:`capacity_shortfall` finds out why by solving the
capacitated MCLP with *every* eligible site open: the points it still cannot serve are the ones no
plan can serve; the error names them and the facilities within their reach with their load
against their capacity (full, or with room too small for one unsplit point).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.formulations.capacitated_cover import (
    capacitated_lscp,
    capacitated_mclp,
    serving_pairs,
    with_pair_rows,
)
from siting.models.formulations.lscp import new_eligible
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.registry import get_backend
from siting.optimizer.result import Backend, Limit, SolveParams, SolveResult, Status


def check_capacitated(instance: SitingInstance, model: str, allow_split: bool, backend_name: str) -> None:
    """Refuse what the capacitated coverage models cannot honour, naming the fix."""
    if not np.isfinite(instance.capacity[instance.eligible]).any():
        raise ScenarioError(
            f"--capacitated {model} needs site capacities, but no eligible site of {instance.name} has one: "
            "add a capacity column to the sites file (demand units per facility) or remove --capacitated"
        )
    if allow_split and backend_name == "cpsat":
        raise ScenarioError(
            "--allow-split makes the assignment continuous, which CP-SAT cannot solve: "
            "use --solver highs (or cbc, scip), or remove --allow-split"
        )


def _ids(values: NDArray[Any], limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f" (and {values.size - limit} more)" if values.size > limit else "")


def capacity_shortfall(
    instance: SitingInstance, radius: float, allow_split: bool, backend: Backend, params: SolveParams
) -> str:
    """Why no plan serves every coverable point: the unservable points and the full facilities near them.

    Solves the capacitated MCLP with every eligible site allowed (p = the number of new eligible
    sites), so what it leaves unserved no plan can serve.
    """
    n_new = int(new_eligible(instance).sum())
    problem = capacitated_mclp(instance, radius, p=n_new, allow_split=allow_split)
    res = backend.solve(problem, params)
    rows, cols = serving_pairs(instance, radius)
    w = instance.weights
    coverable = np.unique(rows)
    if res.x is None:
        total = float(w[coverable].sum())
        return f"the capacities cannot serve all {coverable.size} coverable demand points (weight {total:g})"
    a = problem.assignment_matrix(res.x, (instance.n, instance.m))
    assert a is not None
    share = np.asarray(a.sum(axis=1)).ravel()
    short = coverable[share[coverable] < 1 - 1e-6]
    near = np.isin(rows, short)
    full_sites = np.unique(cols[near])
    served = float(np.dot(w, np.clip(share, 0, 1)))
    load = np.bincount(
        a.indices, weights=w[np.repeat(np.arange(instance.n), np.diff(a.indptr))] * a.data, minlength=instance.m
    )
    total = float(w[coverable].sum())
    too_big = short[w[short] > _largest_reach_capacity(instance, rows, cols)[short]]
    parts = [
        f"with every eligible site open the capacities serve at most {served:g} of the {total:g} coverable demand",
        f"demand points left unserved even then: {_ids(instance.demand_ids[short])}",
        "facilities within their reach (load / capacity): "
        + _ids(np.array([f"{instance.site_ids[j]} ({load[j]:g} / {instance.capacity[j]:g})" for j in full_sites])),
    ]
    if too_big.size and not allow_split:
        parts.append(f"larger than any facility within reach (unsplit): {_ids(instance.demand_ids[too_big])}")
    return "; ".join(parts)


def _largest_reach_capacity(
    instance: SitingInstance, rows: NDArray[np.int64], cols: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per demand point, the largest capacity among the eligible sites within reach (0 if none)."""
    best = np.zeros(instance.n)
    np.maximum.at(best, rows, instance.capacity[cols])
    return best


#: Share of the time left that the MILP of a capacitated MCLP may take when the greedy start exists;
#: the rest is kept for the tighter LP bound should the MILP stop at its limit (see :func:`_lp_bound`).
MILP_SHARE = 0.65


def _lp_bound(
    problem: MilpProblem, params: SolveParams, instance: SitingInstance | None = None, *, tight: bool = False
) -> float | None:
    """An upper bound on the capacitated MCLP from an LP relaxation on HiGHS, within ``params``'
    time; None when it does not finish. A city-sized capacitated MILP can keep HiGHS past its time
    limit without a plan, and the greedy plan returned then needs a bound.

    ``tight``: the LP with the pair rows (6) of
    :func:`models.formulations.capacitated_cover.with_pair_rows` (tighter, about ten times slower:
    1.5 % lower on the 10,000 x 1,000 benchmark), solved only after a MILP stopped at its limit."""
    lp = replace(problem, integrality=np.zeros(problem.num_vars, dtype=bool))
    if tight and instance is not None:
        lp = with_pair_rows(lp, instance)
    res = get_backend("highs").solve(lp, params)
    return float(res.objective) if res.status == Status.OPTIMAL and res.objective is not None else None


def solve_capacitated_cover(
    instance: SitingInstance,
    model: Literal["mclp", "lscp"],
    radius: float,
    *,
    p: int | None,
    budget: float | None,
    objective: Literal["cost", "count"],
    allow_split: bool,
    backend: Backend,
    params: SolveParams,
    progress: Callable[[str], None] | None = None,
    min_share: float | None = None,
) -> tuple[SolveResult, NDArray[np.bool_] | None, sp.csr_array | None, dict[str, Any]]:
    """Solve the capacitated MCLP or LSCP; return the result, open sites, assignment and stats.

    ``min_share`` (MCLP): every demand group has at least this share of its demand *served*
    (:func:`solve_floor_capacitated`).

    Raises
    ------
    ScenarioError : no finite capacity, or a split model on CP-SAT (:func:`check_capacitated`).
    InfeasibleError : the capacitated LSCP cannot serve every coverable point; the message names
        the points and the full facilities (:func:`capacity_shortfall`).
    """
    say = progress or (lambda _msg: None)
    check_capacitated(instance, model, allow_split, backend.name)
    if model == "mclp" and min_share is not None:
        return solve_floor_capacitated(instance, radius, p, budget, allow_split, min_share, backend, params, say)
    if model == "mclp":
        problem = capacitated_mclp(instance, radius, p=p, budget=budget, allow_split=allow_split)
    else:
        problem = capacitated_lscp(instance, radius, objective=objective, allow_split=allow_split)
    say(f"capacitated {model}: {problem.num_vars} columns, {problem.num_rows} rows, {problem.A.nnz} nonzeros")
    stats: dict[str, Any] = {"formulation": "capacitated", "allow_split": allow_split}
    warm = None
    if model == "mclp":
        from siting.optimizer.capacity_greedy import greedy_capacitated

        g_mask, g_share, g_value = greedy_capacitated(instance, radius, p, budget, allow_split)
        assert problem.assignment is not None
        warm = np.zeros(problem.num_vars)
        warm[problem.site_cols] = g_mask
        warm[problem.assignment[2]] = g_share
        stats["greedy_objective"] = g_value
        if problem.max_violation(warm) > 1e-6:  # never hand a solver an infeasible start
            warm = None
    lp_bound = None
    milp_params = params
    if warm is not None:
        left = params.remaining()
        lp_bound = _lp_bound(problem, params.within(None if left is None else 0.1 * left))  # seconds
        left = params.remaining()
        milp_params = params.within(None if left is None else MILP_SHARE * left)
    res = backend.solve(problem, milp_params, warm_start=warm)
    if warm is not None and res.status != Status.OPTIMAL and not params.expired():
        # stopped at its share: the rest of the time goes to the tighter LP bound
        tight = _lp_bound(problem, params.within(params.remaining()), instance, tight=True)
        if tight is not None:
            lp_bound = tight if lp_bound is None else min(lp_bound, tight)
    if warm is not None and not res.status.has_solution and res.limit == Limit.TIME:
        # the time limit stopped the solver before it had a plan: the greedy plan is the answer
        note = "the time limit stopped the solver before it had a plan; the capacity-aware greedy plan is returned"
        res = replace(res, status=Status.FEASIBLE, objective=None, x=warm, bound=lp_bound).with_note(note)
    elif lp_bound is not None and res.status == Status.FEASIBLE:
        res = replace(res, bound=lp_bound if res.bound is None else min(res.bound, lp_bound))
    if res.status == Status.INFEASIBLE and model == "lscp":
        why = capacity_shortfall(instance, radius, allow_split, backend, params)
        raise InfeasibleError(
            f"capacitated lscp is infeasible: {why}; add capacity, raise the radius or allow splitting"
        )
    if res.x is None:
        return res, None, None, stats
    mask = problem.open_sites(res.x)
    a = problem.assignment_matrix(res.x, (instance.n, instance.m))
    if a is not None and not allow_split:
        a = sp.csr_array((np.round(a.data), a.indices, a.indptr), shape=a.shape)
    return res, mask, a, stats


def served_share(problem: MilpProblem, x: NDArray[np.float64], n: int, m: int) -> NDArray[np.float64]:
    """Each demand point's served share at a solution ``x`` of a capacitated model (0..1)."""
    a = problem.assignment_matrix(x, (n, m))
    assert a is not None
    return np.clip(np.asarray(a.sum(axis=1)).ravel(), 0.0, 1.0)


def solve_floor_capacitated(
    instance: SitingInstance,
    radius: float,
    p: int | None,
    budget: float | None,
    allow_split: bool,
    min_share: float,
    backend: Backend,
    params: SolveParams,
    say: Callable[[str], None],
) -> tuple[SolveResult, NDArray[np.bool_] | None, sp.csr_array | None, dict[str, Any]]:
    """The capacitated MCLP with a floor on every group's served share (row (5) of
    :mod:`models.formulations.capacitated_cover`), through :func:`optimizer.equity.solve_floor`;
    the capacity-aware greedy plan is the start of both solves when it meets their rows."""
    from siting.optimizer.capacity_greedy import greedy_capacitated
    from siting.optimizer.equity import solve_floor

    def build(inst: SitingInstance, share: float | None) -> MilpProblem:
        return capacitated_mclp(inst, radius, p=p, budget=budget, allow_split=allow_split, min_share=share)

    g_mask, g_share, g_value = greedy_capacitated(instance, radius, p, budget, allow_split)

    def warm(problem: MilpProblem) -> NDArray[np.float64] | None:
        assert problem.assignment is not None
        x = np.zeros(problem.num_vars)
        x[problem.site_cols] = g_mask
        x[problem.assignment[2]] = g_share
        return x if problem.max_violation(x) <= 1e-6 else None  # never hand a solver an infeasible start

    say(f"capacitated mclp with a group floor of {min_share:g} on served demand")
    res, problem, stats = solve_floor(
        instance,
        build,
        lambda pr, x: served_share(pr, x, instance.n, instance.m),
        min_share,
        backend,
        params,
        warm=warm,
    )
    stats |= {"formulation": "capacitated-floor", "allow_split": allow_split, "greedy_objective": g_value}
    if res.x is None:
        return res, None, None, stats
    a = problem.assignment_matrix(res.x, (instance.n, instance.m))
    if a is not None and not allow_split:
        a = sp.csr_array((np.round(a.data), a.indices, a.indptr), shape=a.shape)
    return res, problem.open_sites(res.x), a, stats
