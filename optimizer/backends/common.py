"""What every MILP backend does the same way: check a warm start, finish a result honestly.

A backend translates a :class:`~models.milp.MilpProblem` into its solver's API, runs it and maps
the solver's status; :func:`finish` then turns the raw answer into a :class:`SolveResult` with the
same rules for every solver:

* ``x`` is a fresh float64 array of length ``num_vars``; integer columns are rounded to the
  nearest integer (solvers return values such as ``0.9999999``; the evaluator reads binaries as
  ``x > 0.5`` anyway, so rounding makes the objective agree with the evaluator's).
* the objective is recomputed as ``problem.objective_value(x) = c @ x + offset`` and compared
  with the solver's own value; a relative difference above ``1e-6`` is reported in ``message``.
* the gap is :func:`optimizer.result.relative_gap` of the objective and the solver's bound.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import DataError
from siting.models.milp import MilpProblem
from siting.optimizer.result import Backend, Limit, SolveParams, SolveResult, Status, relative_gap

#: Relative difference above which the solver's objective and the recomputed one are reported.
OBJECTIVE_RTOL = 1e-6
#: Largest row/column/integrality violation reported as harmless solver round-off.
VIOLATION_TOL = 1e-5


def check_warm_start(
    problem: MilpProblem, warm_start: NDArray[np.float64] | None, solver: str
) -> NDArray[np.float64] | None:
    """Validate a warm start and return it as a fresh float64 array (or None).

    Raises
    ------
    DataError
        If ``warm_start`` does not have one finite value per column of ``problem``.
    """
    if warm_start is None:
        return None
    ws = np.array(warm_start, dtype=np.float64, copy=True).ravel()
    if ws.shape != (problem.num_vars,):
        raise DataError(
            f"warm start for solver {solver!r} has {ws.size} values but problem {problem.name!r} has "
            f"{problem.num_vars} columns; pass one value per column (e.g. the x of an earlier SolveResult)"
        )
    if not np.all(np.isfinite(ws)):
        bad = np.flatnonzero(~np.isfinite(ws))[:5].tolist()
        raise DataError(
            f"warm start for solver {solver!r} has non-finite values at columns {bad}; "
            "replace them with values inside the column bounds"
        )
    return ws


def clean_solution(problem: MilpProblem, x: Any) -> NDArray[np.float64]:
    """A fresh float64 copy of ``x`` with integer columns rounded to the nearest integer."""
    out = np.array(x, dtype=np.float64, copy=True).ravel()
    if out.shape != (problem.num_vars,):
        raise RuntimeError(f"solver returned {out.size} values for {problem.num_vars} columns")
    if problem.integrality.any():
        out[problem.integrality] = np.round(out[problem.integrality])
    out[out == 0.0] = 0.0  # turn -0.0 into 0.0 for tidy output
    return out


def finish(
    problem: MilpProblem,
    *,
    solver: str,
    version: str,
    status: Status,
    limit: Limit = Limit.NONE,
    x: Any = None,
    reported_objective: float | None = None,
    bound: float | None = None,
    seconds: float = 0.0,
    message: str = "",
    stats: Mapping[str, Any] | None = None,
) -> SolveResult:
    """Assemble a :class:`SolveResult` with the shared honesty rules.

    Parameters
    ----------
    problem : the problem that was solved (only read).
    solver, version : backend name and solver version.
    status, limit : the mapped status and the limit that stopped the run.
    x : the solver's solution or None; ignored unless ``status`` has a solution.
    reported_objective : the solver's own objective value (problem sense, offset included), only
        compared with the recomputed one.
    bound : the solver's proven bound in the problem's sense, or None when unknown.
    seconds : wall-clock seconds of the whole backend call.
    message : notes for the user; mismatches found here are appended.
    stats : extra numbers (nodes, iterations, ...).
    """
    notes = [message] if message else []
    st: dict[str, Any] = dict(stats or {})
    objective: float | None = None
    xs: NDArray[np.float64] | None = None
    if status.has_solution and x is not None:
        xs = clean_solution(problem, x)
        objective = problem.objective_value(xs)
        if reported_objective is not None and math.isfinite(reported_objective):
            scale = max(1.0, abs(objective), abs(reported_objective))
            if abs(objective - reported_objective) > OBJECTIVE_RTOL * scale:
                notes.append(
                    f"{solver} reported objective {reported_objective:.10g} but c @ x + offset = "
                    f"{objective:.10g}; the recomputed value is kept"
                )
        viol = problem.max_violation(xs)
        st["max_violation"] = viol
        if viol > VIOLATION_TOL:
            notes.append(
                f"the solution violates a bound, row or integrality by {viol:.3g} (tolerance {VIOLATION_TOL:g})"
            )
    elif status.has_solution:
        # A solver claimed a solution but gave none: that is an error, not a result.
        notes.append(f"{solver} reported status {status.value} without a solution vector")
        status = Status.ERROR
    if bound is not None and not math.isfinite(bound):
        bound = None
    if objective is None:
        gap = None
    else:
        gap = relative_gap(objective, bound)
    return SolveResult(
        status=status,
        solver=solver,
        solver_version=version,
        objective=objective,
        bound=bound,
        gap=gap,
        seconds=float(seconds),
        limit=limit,
        x=xs,
        message="; ".join(notes),
        stats=st,
    )


def limit_status(has_solution: bool, limit: Limit) -> tuple[Status, Limit]:
    """FEASIBLE when a limit stopped a run that holds a solution, else NO_SOLUTION."""
    return (Status.FEASIBLE if has_solution else Status.NO_SOLUTION), limit


def settle_unbounded(backend: Backend, problem: MilpProblem, params: SolveParams, elapsed: float) -> tuple[Status, str]:
    """Tell "unbounded" from "infeasible" when a solver could not (it found an unbounded ray of
    the relaxation but did not check feasibility).

    The same backend solves the same constraints with a zero objective: a feasible point plus
    an unbounded ray (rational data) means UNBOUNDED; no feasible point means INFEASIBLE. If the
    check hits the remaining time limit, the answer stays UNBOUNDED and the note says so.
    """
    if not np.any(problem.c):  # a zero objective cannot be unbounded: nothing to settle
        return Status.INFEASIBLE, f"{backend.name} reported 'unbounded or infeasible' for a zero objective"
    feasibility = dataclasses.replace(
        problem, c=np.zeros(problem.num_vars), offset=0.0, name=f"{problem.name}-feasibility"
    )
    check = backend.solve(feasibility, params)  # within what is left of the shared budget
    if check.status.has_solution:
        return Status.UNBOUNDED, (
            f"{backend.name} found an unbounded ray and a feasibility solve found a feasible point: "
            "the problem is unbounded"
        )
    if check.status == Status.INFEASIBLE:
        return Status.INFEASIBLE, (
            f"{backend.name} reported 'unbounded or infeasible'; a feasibility solve proved the problem infeasible"
        )
    return Status.UNBOUNDED, (
        f"{backend.name} reported 'unbounded or infeasible' and the feasibility check ended {check.status.value}: "
        "the problem may be infeasible instead"
    )


def abandoned_run(
    problem: MilpProblem,
    solver: str,
    version: str,
    seconds: float,
    message: str,
    warm_start: NDArray[np.float64] | None,
) -> SolveResult:
    """The result of a run abandoned at the deadline (the solver overran its own time limit).

    Its incumbent is lost with it, but the start it was handed is a plan all the same: when the
    start keeps every row, bound and integrality (within :data:`VIOLATION_TOL`) the result is
    FEASIBLE with that start and no bound, limit time, and the message says so. A long lexicographic
    stage whose root work ran past its share (a 33,693-row joint tie-break, 1.5 s past 60 s) then
    keeps the plan it started from instead of reporting no plan. Otherwise NO_SOLUTION, limit time.
    """
    if warm_start is not None and problem.max_violation(warm_start) <= VIOLATION_TOL:
        return finish(
            problem,
            solver=solver,
            version=version,
            status=Status.FEASIBLE,
            limit=Limit.TIME,
            x=warm_start,
            seconds=seconds,
            message=f"{message}; the plan kept is the start it was given",
        )
    return out_of_time(problem, solver, version, seconds, message)


def out_of_time(
    problem: MilpProblem,
    solver: str,
    version: str,
    seconds: float = 0.0,
    message: str = "the time limit was used up before this solve could start",
) -> SolveResult:
    """NO_SOLUTION, limit time: the shared time budget was spent before the solver could run."""
    return finish(
        problem,
        solver=solver,
        version=version,
        status=Status.NO_SOLUTION,
        limit=Limit.TIME,
        seconds=seconds,
        message=message,
    )
