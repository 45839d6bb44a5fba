"""Lexicographic tie-break: among plans of (numerically) equal objective, the cheapest one.

Exact solvers return *an* optimal plan; which one depends on the solver (CP-SAT has been seen to
open a useless second site at equal coverage, HiGHS not). So that every exact backend returns the
same kind of plan, a proven-optimal first stage with objective ``v*`` is followed by a second
stage on the same feasible set::

    min   sum_{j new} cost_j y_j
    s.t.  the first stage's rows and bounds
          c @ x + offset >= v* - tol      (max problems; <= v* + tol for min problems)    (T)

A weighted sum with a tiny cost coefficient would need an epsilon small enough not to change the
primary optimum, which is only safe with integer weights; the second stage is exact in general.
``tol`` is 0.5 when every objective coefficient and the offset are integers (the objective is
then integral at every integral point, so (T) admits exactly the optimal plans; a wide margin
also keeps the row robust to solver tolerances), else ``1e-9 * max(1, |v*|)``.

The second stage is warm-started from the first plan, shares the caller's time budget (and takes
at most ``max_seconds``, by default as long as the first stage took), and its
plan is accepted only if it is strictly cheaper *and* the independent evaluator finds its
objective no worse than the first plan's (within ``tol``). Otherwise the first plan stands, so
the result stays exact whatever the second stage does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.milp import MilpProblem
from siting.optimizer.result import Backend, SolveParams, SolveResult, Status

#: The second stage is skipped when less than this many seconds of the time limit remain.
MIN_SECONDS = 0.05


def objective_tolerance(problem: MilpProblem, value: float) -> float:
    """``tol`` of row (T): 0.5 for an integral objective, else a relative 1e-9 (module docstring)."""
    nz = problem.c != 0
    c = problem.c[nz]
    implied = problem.implied_integer if problem.implied_integer is not None else np.zeros_like(nz)
    integral_cols = bool((problem.integrality | implied)[nz].all())
    if integral_cols and np.all(c == np.round(c)) and float(problem.offset).is_integer():
        return 0.5
    return 1e-9 * max(1.0, abs(value))


def site_cost_vector(problem: MilpProblem, cost: NDArray[np.float64], new: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Objective of the second stage: ``cost_j`` on the column of every new eligible site, else 0."""
    c2 = np.zeros(problem.num_vars)
    c2[problem.site_cols[new]] = cost[new]
    return c2


def hold_objective(problem: MilpProblem, value: float, tol: float, cost_c: NDArray[np.float64]) -> MilpProblem:
    """The second-stage problem: ``problem`` plus row (T), minimising ``cost_c``."""
    nz = np.flatnonzero(problem.c)
    row = sp.csr_array((problem.c[nz], (np.zeros(nz.size, dtype=np.int64), nz)), shape=(1, problem.num_vars))
    A = sp.csc_array(sp.vstack([problem.A, row], format="csc"))
    rhs = value - problem.offset
    lo, up = (rhs - tol, np.inf) if problem.sense == "max" else (-np.inf, rhs + tol)
    return dataclasses.replace(
        problem,
        c=cost_c,
        A=A,
        row_lower=np.append(problem.row_lower, lo),
        row_upper=np.append(problem.row_upper, up),
        sense="min",
        offset=0.0,
        name=problem.name + " /cheapest",
    )


def cheapest_stage(
    stage2: MilpProblem,
    backend: Backend,
    params: SolveParams,
    *,
    started: float,
    plan_cost: float,
    accept: Callable[[NDArray[np.bool_]], bool],
    warm: NDArray[np.float64] | None = None,
    max_seconds: float | None = None,
) -> tuple[NDArray[np.float64] | None, dict[str, Any]]:
    """Solve the second stage; return the cheaper plan's solution (or None to keep the first) and a record.

    Parameters
    ----------
    stage2 : the second-stage problem (cost objective, primary held).
    backend, params : as in the first stage; the stage gets what is left of the shared budget
        (:meth:`SolveParams.remaining`), or of ``params.time_limit`` counted from ``started`` when
        the parameters carry no running deadline.
    plan_cost : cost of the first stage's plan.
    accept : independent check of a candidate mask (its evaluated objective equals the first's).
    warm : a feasible start (the first stage's solution).
    max_seconds : at most this long for the second stage (a tie-break should not cost more than
        the solve itself); ``None`` = only the time limit.
    """
    rec: dict[str, Any] = {"cost_before": plan_cost, "cost_after": plan_cost, "status": "skipped", "seconds": 0.0}
    if plan_cost <= 0:
        rec["message"] = "the plan costs nothing"
        return None, rec
    if params.deadline is not None:
        remaining = params.remaining()
        left = float("inf") if remaining is None else remaining
    else:
        left = float("inf") if params.time_limit is None else float(params.time_limit) - (time.perf_counter() - started)
    if left < MIN_SECONDS:
        rec["message"] = "time limit reached"
        return None, rec
    budget = min(left, float("inf") if max_seconds is None else max_seconds)
    stage_params = params if not np.isfinite(budget) else params.within(budget)
    if warm is not None and stage2.max_violation(warm) > 1e-6:
        warm = None
    res: SolveResult = backend.solve(stage2, stage_params, warm_start=warm)
    rec.update(status=res.status.value, seconds=round(res.seconds, 4), limit=res.limit.value)
    if not res.status.has_solution or res.x is None:
        return None, rec
    mask = stage2.open_sites(res.x)
    cost = float(stage2.c[stage2.site_cols][mask].sum())
    if cost < plan_cost - 1e-9 * max(1.0, plan_cost) and accept(mask):
        rec["cost_after"] = cost
        rec["proven"] = res.status == Status.OPTIMAL
        return res.x, rec
    return None, rec
