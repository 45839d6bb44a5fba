"""The budget frontier: one optimal joint plan per budget, and where returns diminish.

:func:`budget_sweep` solves the joint model (:func:`optimizer.joint.solve_joint`) once per budget
``B_1 <= B_2 <= ...``. The budget ``B`` replaces the instance's total budget; phase budgets, when
the instance has them, are scaled by the same factor (``b_t B / B_0`` with ``B_0`` the instance's
total, or the sum of its phase budgets when it has no total), so that every budget grows with
``B``. Per-service budgets and count limits are kept as they are.

Monotone by construction: the plan of budget ``B_k`` stays feasible at ``B_{k+1} >= B_k`` (every
budget only grows), so the solve at ``B_{k+1}`` is asked for an objective of at least the previous
plan's (``primary_bound``; the previous plan is also handed over as a warm start when the solver
takes one), and when the solver still returns a worse plan, or none (a time limit hit, or an optimum
within the relative gap that happens to lie below the previous plan), the previous plan is kept and
its objective reported against the new bound. Coverage therefore never decreases along the sweep.
A point is ``OPTIMAL`` when its solve was proven (within ``mip_gap``); otherwise its
``gap = |objective - bound| / |objective|`` is reported. A budget too small for any plan (e.g. below
what ``min_sites`` costs) gives an ``INFEASIBLE`` point with a NaN objective.

The knee (:func:`knee_index`): with the points sorted by budget, the average slope is
``a = (f_K - f_1) / (B_K - B_1)`` and the slope of segment k is ``s_k = (f_k - f_{k-1}) / (B_k - B_{k-1})``.
The knee is the first point k after which every later segment is flatter than half the average,
``s_l < a / 2`` for all ``l > k``: past it, each extra unit of money buys less than half of what an
average unit bought. There is no knee when the curve is flat (``a = 0``: the first point already
covers what any budget covers, it is the knee), or when the last segment is still steep
(``s_K >= a / 2``: returns have not diminished within the range swept).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import InfeasibleError, NoSolutionError, ScenarioError
from siting.models.multiservice import JointMetrics, MultiServiceInstance, evaluate_joint, objective_value
from siting.optimizer.result import SolveParams, Status, relative_gap

#: Objectives a budget sweep supports (coverage objectives, maximised).
SWEEP_OBJECTIVES = ("max_coverage", "complete_circle", "phased")
#: Fraction of the average slope below which returns count as diminished.
KNEE_RATIO = 0.5


@dataclass(frozen=True, eq=False)
class SweepPoint:
    """One budget of the frontier.

    Attributes
    ----------
    budget : the total budget B of this point.
    objective : the plan's objective, evaluated by ``evaluate_joint``.
    bound : the solver's proven bound (None if none).
    gap : relative gap between objective and bound (None without a bound).
    status : OPTIMAL when proven within the solver's gap, else FEASIBLE (or the solver's status).
    cost : total cost of the plan.
    open_phase : (S, m) the plan.
    covered_people : (S,) people of each service's group within reach.
    seconds : solve time.
    kept_previous : the previous budget's plan was better than the solver's and was kept.
    verified : the evaluator found no violation in the plan.
    """

    budget: float
    objective: float
    bound: float | None
    gap: float | None
    status: Status
    cost: float
    open_phase: NDArray[np.int8]
    covered_people: NDArray[np.float64]
    seconds: float = 0.0
    kept_previous: bool = False
    verified: bool = True


def objective_of(metrics: JointMetrics, objective: str) -> float:
    """The evaluated value of a coverage objective (:func:`models.multiservice.objective_value`)."""
    if objective not in SWEEP_OBJECTIVES:
        raise ScenarioError(f"objective {objective!r} has no budget frontier; use one of {', '.join(SWEEP_OBJECTIVES)}")
    return objective_value(metrics, objective)


def with_budget(inst: MultiServiceInstance, budget: float) -> MultiServiceInstance:
    """The instance with total budget ``budget`` and its phase budgets scaled alike (module docstring)."""
    phase_budgets = inst.phase_budgets
    if phase_budgets is not None:
        pb = np.asarray(phase_budgets, dtype=np.float64)
        base = inst.total_budget if inst.total_budget is not None else float(pb.sum())
        phase_budgets = pb * (budget / base) if base > 0 else np.full_like(pb, budget / len(pb))
    return dataclasses.replace(inst, total_budget=float(budget), phase_budgets=phase_budgets)


def _takes_warm_start(fn: object) -> bool:
    try:
        return "warm_start" in inspect.signature(fn).parameters  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def budget_sweep(
    inst: MultiServiceInstance,
    budgets: Sequence[float],
    objective: str = "max_coverage",
    solver: str = "highs",
    params: SolveParams | None = None,
) -> list[SweepPoint]:
    """One joint plan per budget, in increasing budget order, coverage never decreasing (module docstring).

    Parameters
    ----------
    inst : the joint instance (its total and phase budgets are replaced per point).
    budgets : the budgets to solve (sorted ascending here; duplicates are kept).
    objective : ``max_coverage``, ``complete_circle`` or ``phased``.
    solver : exact backend for :func:`optimizer.joint.solve_joint`.
    params : solve parameters (gap, threads, seed, and one time budget shared by all points: once
        it is spent, the remaining points keep the previous plan, FEASIBLE, or have none).

    Returns
    -------
    list[SweepPoint]
        One point per budget, ascending.
    """
    from siting.optimizer.joint import solve_joint

    if objective not in SWEEP_OBJECTIVES:
        raise ScenarioError(
            f"objective {objective!r} has no coverage-vs-budget frontier; a sweep needs one of {', '.join(SWEEP_OBJECTIVES)}"
        )
    values = sorted(float(b) for b in budgets)
    if not values:
        raise ScenarioError("the budget sweep needs at least one budget, e.g. --budget 1e6:1e7:10")
    bad = [b for b in values if not (math.isfinite(b) and b >= 0)]
    if bad:
        raise ScenarioError(f"budgets must be finite numbers >= 0, got {bad[0]!r}")
    params = params.started() if params is not None else None
    warm = _takes_warm_start(solve_joint)
    S, m = inst.S, inst.m
    points: list[SweepPoint] = []
    prev: NDArray[np.int8] | None = None
    prev_value = -math.inf
    for b in values:
        sub = with_budget(inst, b)
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if prev is not None:
            # the previous plan stays feasible: ask for at least its value (and hand it over if the solver takes it)
            kwargs["primary_bound"] = prev_value - 1e-6 * max(1.0, abs(prev_value))
            if warm:
                kwargs["warm_start"] = prev
        res = None
        status = Status.NO_SOLUTION
        try:
            if params is not None and params.expired():
                raise NoSolutionError("the time limit was used up by the earlier budgets")
            res = solve_joint(sub, objective=objective, solver=solver, params=params, **kwargs)
            status = res.status
        except InfeasibleError:
            status = Status.INFEASIBLE
        except NoSolutionError:
            status = Status.NO_SOLUTION
        seconds = time.perf_counter() - t0
        plan: NDArray[np.int8] | None = None
        metrics: JointMetrics | None = None
        value = math.nan
        bound: float | None = None
        if res is not None:
            plan = np.asarray(res.open_phase, dtype=np.int8)
            metrics = evaluate_joint(sub, plan)
            value = objective_of(metrics, objective)
            bound = res.bound
        kept = False
        if prev is not None:
            before = evaluate_joint(sub, prev)
            before_value = objective_of(before, objective)
            if not before.violations and (plan is None or before_value > value + 1e-9 * max(1.0, abs(value))):
                plan, metrics, value, kept = prev, before, before_value, True
                if status != Status.OPTIMAL:
                    status = Status.FEASIBLE
        if plan is None or metrics is None:
            points.append(
                SweepPoint(
                    budget=b,
                    objective=math.nan,
                    bound=None,
                    gap=None,
                    status=status,
                    cost=math.nan,
                    open_phase=np.full((S, m), -1, dtype=np.int8),
                    covered_people=np.full(S, np.nan),
                    seconds=seconds,
                    verified=False,
                )
            )
            continue
        if bound is not None and bound < value:  # a bound below a feasible plan's value is no bound
            bound = value
        gap = relative_gap(value, bound) if bound is not None else None
        if (
            status == Status.OPTIMAL
            and kept
            and gap is not None
            and params is not None
            and gap > max(params.mip_gap, 1e-9)
        ):
            status = Status.FEASIBLE
        points.append(
            SweepPoint(
                budget=b,
                objective=value,
                bound=bound,
                gap=gap,
                status=status,
                cost=float(metrics.total_cost),
                open_phase=plan,
                covered_people=np.asarray(metrics.covered_people, dtype=np.float64),
                seconds=seconds,
                kept_previous=kept,
                verified=not metrics.violations,
            )
        )
        prev, prev_value = plan, value
    return points


def knee_index(budgets: Sequence[float], values: Sequence[float], ratio: float = KNEE_RATIO) -> int | None:
    """Index of the point of diminishing returns (module docstring), or None.

    Parameters
    ----------
    budgets, values : the frontier, sorted by budget; points with a NaN value (no plan) are skipped.
    ratio : a segment is flat when its slope is below ``ratio`` times the average slope.
    """
    b_all = np.asarray(budgets, dtype=np.float64)
    f_all = np.asarray(values, dtype=np.float64)
    keep = np.flatnonzero(np.isfinite(f_all))
    b, f = b_all[keep], f_all[keep]
    if b.size < 2 or b[-1] <= b[0]:
        return None
    avg = (f[-1] - f[0]) / (b[-1] - b[0])
    if avg <= 0:
        return int(keep[0])
    db = np.diff(b)
    slope = np.where(db > 0, np.diff(f) / np.where(db > 0, db, 1.0), 0.0)  # slope[l - 1]: segment l
    flat = slope < ratio * avg
    if not flat[-1]:
        return None
    # the first k such that every segment l > k is flat: one past the last steep segment
    steep = np.flatnonzero(~flat)
    return int(keep[steep[-1] + 1]) if steep.size else int(keep[0])


__all__ = ["KNEE_RATIO", "SWEEP_OBJECTIVES", "SweepPoint", "budget_sweep", "knee_index", "objective_of", "with_budget"]
