"""Solving the equity models: a floor on every group's covered share, or the max-min share.

Both are MCLPs (:mod:`models.formulations.equity`). Next to the plan the solve reports, per group,
its covered share in the unconstrained MCLP optimum ("before") and in the equity plan ("after"),
the worst group, and the *cost of the floor*: the coverage the unconstrained optimum has and the
equity plan gives up.

* Floor: one solve. If it is infeasible, :func:`best_alone` finds, for every group, the best share
  it could reach if the plan served it alone (an MCLP on that group's weights with the same p,
  budget and radius); the error names the groups that cannot reach the floor even so, or says
  that each can alone but not all at once.
* Max-min: two solves, lexicographically. First the largest worst-group share ``t*``; then, with
  every group held at ``t*`` or more, the most coverage. ``t*`` is recounted by the evaluator from
  the first plan, so the second stage holds what the plan really achieves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.evaluate import evaluate
from siting.models.formulations.equity import best_share_alone, equity_mclp, group_codes, group_shares
from siting.models.formulations.lscp import coverage_matrix, new_eligible
from siting.models.formulations.mclp import mclp
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.result import Backend, SolveParams, SolveResult, Status


def check_equity(instance: SitingInstance, maxmin: bool, backend_name: str) -> None:
    """Refuse what the equity models cannot honour, naming the fix."""
    group_codes(instance)  # a DataError when the demand has no groups
    if maxmin and backend_name == "cpsat":
        raise ScenarioError(
            "the max-min share is a continuous variable, which CP-SAT cannot solve: "
            "use --solver highs (or cbc, scip), or --min-group-share instead"
        )


def _covered(instance: SitingInstance, mask: NDArray[np.bool_], radius: float) -> NDArray[np.bool_]:
    met = evaluate(instance, mask, radius=radius)
    assert met.covered is not None
    return met.covered


def best_alone(
    instance: SitingInstance,
    radius: float,
    p: int | None,
    budget: float | None,
    backend: Backend,
    params: SolveParams,
) -> dict[str, float]:
    """Per group label, the largest covered share it reaches when the plan serves it alone."""
    labels, code = group_codes(instance)
    out: dict[str, float] = {}
    for g, label in enumerate(labels):
        w = np.where(code == g, instance.weights, 0.0)
        total = float(w.sum())
        if total <= 0:
            out[str(label)] = 1.0
            continue
        alone = replace(instance, weights=w)
        try:
            res = backend.solve(mclp(alone, radius, p=p, budget=budget), params)
        except ScenarioError:  # nothing of this group is within reach of any site
            res = None
        if res is None or res.x is None:
            out[str(label)] = float(np.dot(w, _covered(alone, alone.existing, radius))) / total
            continue
        mask = res.x[: instance.m] > 0.5
        out[str(label)] = float(np.dot(w, _covered(alone, mask, radius))) / total
    return out


def start_vector(
    problem: MilpProblem, instance: SitingInstance, mask: NDArray[np.bool_], radius: float
) -> NDArray[np.float64] | None:
    """A complete point of an :func:`equity_mclp` problem for the plan ``mask`` (None if it breaks a row).

    ``z_r = min(1, open sites covering row r)`` and, in the max-min model, ``t`` = the plan's worst
    group share: the point a solver should start from, or read a stopped plan's objective at.
    """
    m = instance.m
    z0, z1 = problem.blocks["z"]
    x = np.zeros(problem.num_vars)
    x[:m] = mask
    # rows (1) come first: z_r - sum_{j in N_r} y_j <= 0, one per z column
    x[z0:z1] = np.minimum(1.0, -(problem.A[: z1 - z0, :m] @ x[:m]))
    if "t" in problem.blocks:  # the plain MCLP (the unconstrained reference) has no t
        t0, _ = problem.blocks["t"]
        worst = float(group_shares(instance, _covered(instance, mask, radius)).min())
        x[t0] = np.clip(worst - 1e-12, problem.col_lower[t0], problem.col_upper[t0])
    return x if problem.max_violation(x) <= 1e-6 else None


def _polished(res: SolveResult, problem: MilpProblem, instance: SitingInstance, radius: float) -> SolveResult:
    """A stopped solve's point made consistent with its plan (every covered row counted), so the
    solver's objective and the evaluator's agree; a proven optimum is left as it is."""
    if res.x is None or res.status == Status.OPTIMAL:
        return res
    x = start_vector(problem, instance, problem.open_sites(res.x), radius)
    return res if x is None else replace(res, x=x, objective=problem.objective_value(x))


def floor_greedy(
    instance: SitingInstance, radius: float, p: int | None, budget: float | None, min_share: float
) -> NDArray[np.bool_]:
    """A plan aimed at the floor: add sites one at a time, scoring each by the people it newly covers
    in groups still below the floor (by total new coverage once every group is above it). A start
    for the floor MILP when the unconstrained plan misses the floor; no guarantee it meets it."""
    _, code = group_codes(instance)
    w = instance.weights
    n_groups = int(code.max()) + 1
    total = np.bincount(code, weights=w, minlength=n_groups)
    cov = coverage_matrix(instance, radius)
    cov_t = sp.csr_array(cov.T)  # site x demand
    rows = np.repeat(np.arange(instance.n), np.diff(cov.indptr))
    mask = instance.existing.copy()
    covered = np.bincount(rows[mask[cov.indices]], minlength=instance.n) > 0
    new = new_eligible(instance)
    spent, count = 0.0, 0
    while p is None or count < p:
        have = np.bincount(code, weights=w * covered, minlength=n_groups)
        short = have < min_share * total - 1e-9
        value = w * ~covered * (short[code] if short.any() else 1.0)
        gain = cov_t @ value
        ok = new & ~mask
        if budget is not None:
            ok &= instance.cost <= budget - spent + 1e-9
        if not ok.any():
            break
        best = int(np.argmax(np.where(ok, gain, -1.0)))
        if gain[best] <= 0:
            break
        mask[best] = True
        spent += float(instance.cost[best])
        count += 1
        covered[cov_t.indices[cov_t.indptr[best] : cov_t.indptr[best + 1]]] = True
    return mask


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def floor_infeasible(min_share: float, alone: dict[str, float]) -> InfeasibleError:
    """The error of a floor no plan meets: the groups that cannot reach it even alone, and the best
    share each group reaches alone (``alone``: label -> share)."""
    short = {g: s for g, s in alone.items() if s < min_share - 1e-9}
    shown = ", ".join(f"{g} {_pct(s)}" for g, s in alone.items())
    why = (
        f"groups {', '.join(short)} cannot reach it even if the plan served them alone "
        f"(best share each group reaches alone: {shown})"
        if short
        else f"each group can reach it alone (best share alone: {shown}) but not all at once"
    )
    return InfeasibleError(
        f"the floor of {_pct(min_share)} covered for every group is infeasible: {why}; "
        "lower the floor (min_share, --min-group-share), raise the budget or the number of sites, or widen the reach"
    )


def equity_record(
    instance: SitingInstance,
    min_share: float | None,
    before: NDArray[np.float64],
    after: NDArray[np.float64],
    *,
    unconstrained: float,
    achieved: float,
    reference_status: Status,
    reference_bound: float | None,
    maxmin: bool = False,
) -> dict[str, Any]:
    """The per-group report of an equity solve: shares before (the plan without the rule) and after,
    the worst group, and the floor's cost (``unconstrained - achieved``, in the model's own measure:
    covered, served or decayed demand)."""
    labels, _ = group_codes(instance)
    worst = int(np.argmin(after))
    return {
        "objective": "maxmin" if maxmin else "floor",
        "min_share": min_share,
        "groups": [
            {"group": str(g), "share_before": float(b), "share_after": float(a)}
            for g, b, a in zip(labels, before, after, strict=True)
        ],
        "worst_group": str(labels[worst]),
        "worst_share_before": float(before.min()),
        "worst_share_after": float(after[worst]),
        "unconstrained_objective": unconstrained,
        "unconstrained_status": reference_status.value,
        "unconstrained_bound": reference_bound,
        "floor_cost": unconstrained - achieved,
    }


def credit_shares(instance: SitingInstance, credit: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each group's share of its demand credited (``credit`` per point in [0, 1]: covered, served or decayed)."""
    return group_shares(instance, np.clip(credit, 0.0, 1.0))  # type: ignore[arg-type]


def solve_floor(
    instance: SitingInstance,
    build: Callable[[SitingInstance, float | None], MilpProblem],
    point_credit: Callable[[MilpProblem, NDArray[np.float64]], NDArray[np.float64]],
    min_share: float,
    backend: Backend,
    params: SolveParams,
    *,
    alone: Callable[[], dict[str, float]] | None = None,
    warm: Callable[[MilpProblem], NDArray[np.float64] | None] | None = None,
) -> tuple[SolveResult, MilpProblem, dict[str, Any]]:
    """A floor on every group's credited share, added to another coverage model (capacity: served
    demand; gradual reach: decayed credit; robust: nominal coverage). ``build(instance, share)``
    returns the model with the floor rows (``share=None``: without them), ``point_credit(problem, x)``
    each demand point's credit in [0, 1] at a solution ``x``.

    First the model without the floor, in a quarter of the time (the "before" shares and the
    floor's cost), then with it. An infeasible floor raises :func:`floor_infeasible` with the best
    share each group reaches alone (``alone()``, by default the model without the floor solved on
    each group's demand alone).
    """
    w = instance.weights
    check_equity(instance, False, backend.name)
    free_problem = build(instance, None)
    left = params.remaining()
    free_warm = warm(free_problem) if warm is not None else None
    free = backend.solve(free_problem, params.within(None if left is None else 0.25 * left), warm_start=free_warm)
    problem = build(instance, min_share)
    start = warm(problem) if warm is not None else None
    res = backend.solve(problem, params, warm_start=start)
    if res.status == Status.INFEASIBLE:

        def alone_value(part: SitingInstance) -> float:
            try:
                model = build(part, None)
            except ScenarioError:  # nothing of this group within reach
                return 0.0
            got = backend.solve(model, params.within(None))
            return float(np.dot(part.weights, point_credit(model, got.x))) if got.x is not None else 0.0

        shares = alone() if alone is not None else best_share_alone(instance, alone_value)
        raise floor_infeasible(min_share, shares)
    stats: dict[str, Any] = {}
    if res.x is not None:
        after_credit = point_credit(problem, res.x)
        before_credit = point_credit(free_problem, free.x) if free.x is not None else np.zeros(instance.n)
        stats["equity"] = equity_record(
            instance, min_share, credit_shares(instance, before_credit), credit_shares(instance, after_credit),
            unconstrained=float(free.objective) if free.objective is not None else float(np.dot(w, before_credit)),
            achieved=float(res.objective) if res.objective is not None else float(np.dot(w, after_credit)),
            reference_status=free.status, reference_bound=free.bound,
        )  # fmt: skip
    return res, problem, stats


def solve_equity(
    instance: SitingInstance,
    radius: float,
    *,
    p: int | None,
    budget: float | None,
    min_share: float | None,
    maxmin: bool,
    backend: Backend,
    params: SolveParams,
    progress: Callable[[str], None] | None = None,
) -> tuple[SolveResult, NDArray[np.bool_] | None, dict[str, Any]]:
    """Solve the floor or the max-min MCLP; return the (second-stage) result, plan and stats.

    ``stats["equity"]`` holds the per-group report. The result's objective is the covered weight.

    Raises
    ------
    InfeasibleError : the floor cannot be met; names the groups and the best share each reaches alone.
    """
    say = progress or (lambda _msg: None)
    check_equity(instance, maxmin, backend.name)
    w = instance.weights
    base = mclp(instance, radius, p=p, budget=budget)
    # the unconstrained reference (for "before" and the floor's cost): the heuristic plan and its
    # proven bound, then the MILP from it, in a quarter of the time
    left = params.remaining()
    heur = run_heuristic(
        instance, "mclp", p=p, radius=radius, budget=budget, time_limit=None if left is None else 0.1 * left,
        seed=params.seed,
    )  # fmt: skip
    left = params.remaining()
    warm0 = start_vector(base, instance, np.asarray(heur.open_mask, dtype=bool), radius)
    free = backend.solve(base, params.within(None if left is None else 0.25 * left), warm_start=warm0)
    free_mask = base.open_sites(free.x) if free.x is not None else np.asarray(heur.open_mask, dtype=bool)
    if float(heur.objective) > float(np.dot(w, _covered(instance, free_mask, radius))):
        free_mask = np.asarray(heur.open_mask, dtype=bool)
    bounds = [b for b in (free.bound, heur.bound) if b is not None and np.isfinite(b)]
    free_bound = min(bounds) if bounds else None
    before = group_shares(instance, _covered(instance, free_mask, radius))
    unconstrained = float(np.dot(w, _covered(instance, free_mask, radius)))
    message = ""
    if maxmin:
        first = equity_mclp(instance, radius, p, budget, maxmin=True)
        say(f"max-min share, stage 1: {first.num_vars} columns, {first.num_rows} rows")
        left = params.remaining()
        # start from the fairest of the unconstrained plan and the floor-aimed greedy plans
        plans = [free_mask] + [floor_greedy(instance, radius, p, budget, s) for s in np.linspace(0.05, 1.0, 20)]
        shares0 = [float(group_shares(instance, _covered(instance, mk, radius)).min()) for mk in plans]
        warm = start_vector(first, instance, plans[int(np.argmax(shares0))], radius)
        res1 = backend.solve(first, params.within(None if left is None else 0.6 * left), warm_start=warm)
        if res1.x is None:
            return res1, None, {"formulation": "mclp-maxmin"}
        mask1 = first.open_sites(res1.x)
        t_star = float(group_shares(instance, _covered(instance, mask1, radius)).min())
        problem = equity_mclp(instance, radius, p, budget, maxmin=True, worst_at_least=t_star)
        # stage 2 starts from the plan covering most among those that keep the worst share
        fair = [mk for mk, t in zip([mask1, *plans], [t_star, *shares0], strict=True) if t >= t_star - 1e-12]
        best = max(fair, key=lambda mk: float(np.dot(w, _covered(instance, mk, radius))))
        warm = start_vector(problem, instance, best, radius)
        res = _polished(backend.solve(problem, params, warm_start=warm), problem, instance, radius)
        if res1.status != Status.OPTIMAL:
            message = "the worst group's share is not proven optimal (first stage stopped early)"
            res = replace(res, status=Status.FEASIBLE if res.status == Status.OPTIMAL else res.status)
    else:
        problem = equity_mclp(instance, radius, p, budget, min_share=min_share)
        say(f"MCLP with a group floor of {min_share}: {problem.num_vars} columns, {problem.num_rows} rows")
        warm = start_vector(problem, instance, free_mask, radius)  # a start if it meets the floor
        if warm is None:
            aimed = floor_greedy(instance, radius, p, budget, float(min_share or 0.0))
            warm = start_vector(problem, instance, aimed, radius)
        res = _polished(backend.solve(problem, params, warm_start=warm), problem, instance, radius)
        if res.status == Status.INFEASIBLE:
            raise floor_infeasible(
                float(min_share or 0.0), best_alone(instance, radius, p, budget, backend, params.within(None))
            )
    if res.x is None:
        return res, None, {"formulation": "mclp-equity"}
    mask = problem.open_sites(res.x)
    if res.status != Status.OPTIMAL and free_bound is not None:
        # a rule can only cost coverage: a bound on the unconstrained optimum bounds the equity plan
        res = replace(res, bound=free_bound if res.bound is None else min(res.bound, free_bound))
    after = group_shares(instance, _covered(instance, mask, radius))
    covered = float(np.dot(w, _covered(instance, mask, radius)))
    equity = equity_record(
        instance, min_share, before, after, unconstrained=unconstrained, achieved=covered,
        reference_status=free.status, reference_bound=free_bound, maxmin=maxmin,
    )  # fmt: skip
    if message:
        res = replace(res, message=(res.message + "; " if res.message else "") + message)
    return res, mask, {"formulation": "mclp-maxmin" if maxmin else "mclp-floor", "equity": equity}
