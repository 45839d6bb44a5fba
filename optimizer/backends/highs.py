"""HiGHS through highspy's bulk model API: the default exact backend.

The whole :class:`~models.milp.MilpProblem` goes to HiGHS in one ``passModel`` call with the CSC
arrays (no row or column at a time). A fresh HiGHS object is made per solve, silenced before it
does anything unless ``params.verbose``.

Parameter mapping (:func:`configure`):

==================  ==========================================================
SolveParams         HiGHS option
==================  ==========================================================
``time_limit``      ``time_limit`` (seconds; unset means HiGHS's default, none)
``mip_gap``         ``mip_rel_gap``; with ``mip_gap == 0`` also ``mip_abs_gap = 1e-9``
``threads``         ``threads``
``seed``            ``random_seed``
``verbose``         ``output_flag`` and ``log_to_console``
``options["highs"]`` each ``name: value`` through ``setOptionValue`` (applied last)
==================  ==========================================================

Status mapping (:data:`STATUS_MAP`): a run stopped by a limit is FEASIBLE when HiGHS holds a
feasible solution and NO_SOLUTION otherwise, never OPTIMAL. ``kUnboundedOrInfeasible`` (HiGHS's
presolve found an unbounded ray but did not check feasibility) is settled by
:func:`~optimizer.backends.common.settle_unbounded`: a second solve of the same constraints with a
zero objective; feasible means unbounded, infeasible means infeasible.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import time
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.models.milp import MilpProblem
from siting.optimizer.backends.common import (
    abandoned_run,
    check_warm_start,
    finish,
    limit_status,
    out_of_time,
    settle_unbounded,
)
from siting.optimizer.deadline import run_bounded
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status

try:  # the solver library is optional at import time: available() says whether it is there
    import highspy

    _HAVE_HIGHSPY = True
except ImportError:  # pragma: no cover - exercised only without highspy
    highspy = None  # type: ignore[assignment]
    _HAVE_HIGHSPY = False

#: Absolute MIP gap used when the user asks for a proof (``mip_gap == 0``); HiGHS's default 1e-6
#: would let a run stop short of it on objectives with fractional values.
PROOF_ABS_GAP = 1e-9

#: HiGHS model status -> (Status, Limit) for every status that does not depend on whether a
#: solution exists. Limit statuses are in :data:`LIMIT_MAP`.
STATUS_MAP: dict[str, tuple[Status, Limit]] = {
    "kOptimal": (Status.OPTIMAL, Limit.NONE),
    "kModelEmpty": (Status.OPTIMAL, Limit.NONE),  # no columns: checked against the rows below
    "kInfeasible": (Status.INFEASIBLE, Limit.NONE),
    "kUnbounded": (Status.UNBOUNDED, Limit.NONE),
    "kUnboundedOrInfeasible": (Status.UNBOUNDED, Limit.NONE),  # settled by a feasibility solve
    "kNotset": (Status.ERROR, Limit.NONE),
    "kLoadError": (Status.ERROR, Limit.NONE),
    "kModelError": (Status.ERROR, Limit.NONE),
    "kPresolveError": (Status.ERROR, Limit.NONE),
    "kSolveError": (Status.ERROR, Limit.NONE),
    "kPostsolveError": (Status.ERROR, Limit.NONE),
    "kUnknown": (Status.ERROR, Limit.NONE),
}

#: HiGHS model statuses that mean "a limit stopped the run" -> which limit.
#: ``kSolutionLimit`` is also what HiGHS reports for ``mip_max_nodes`` / ``mip_max_leaves``.
LIMIT_MAP: dict[str, Limit] = {
    "kTimeLimit": Limit.TIME,
    "kIterationLimit": Limit.ITERATIONS,
    "kSolutionLimit": Limit.SOLUTIONS,
    "kInterrupt": Limit.INTERRUPTED,
    "kMemoryLimit": Limit.OTHER,
    "kObjectiveBound": Limit.OTHER,
    "kObjectiveTarget": Limit.OTHER,
}

_SOLUTION_FEASIBLE = 2  # HiGHS kSolutionStatusFeasible


def _highs_class() -> Any:
    """The HiGHS class to instantiate.

    highspy's Python subclass ``highspy.Highs`` prints the "Running HiGHS" banner from its
    constructor (before any option can be set); its compiled base class ``_Highs`` does not and
    has every method used here. Fall back to ``highspy.Highs`` on versions without it.
    """
    try:
        from highspy._core import _Highs

        return _Highs
    except ImportError:  # pragma: no cover - older highspy layouts
        return highspy.Highs


def new_highs() -> Any:
    """A fresh, silent HiGHS object (``output_flag`` off until :func:`configure` says otherwise)."""
    h = _highs_class()()
    h.setOptionValue("output_flag", False)
    return h


def option_value(h: Any, name: str) -> Any:
    """Read an option back from a HiGHS object (highspy returns ``(status, value)`` or ``value``)."""
    out = h.getOptionValue(name)
    if isinstance(out, tuple):
        return out[1]
    return out


def _set(h: Any, name: str, value: Any, origin: str) -> None:
    """``setOptionValue`` that turns HiGHS's refusal into a ScenarioError naming the option."""
    status = h.setOptionValue(name, value)
    if status == highspy.HighsStatus.kError:
        raise ScenarioError(
            f"HiGHS rejected option {name!r} = {value!r} ({origin}); check its name and type against "
            "https://ergo-code.github.io/HiGHS/stable/options/definitions/"
        )


def _coerce(h: Any, name: str, value: Any) -> Any:
    """Cast a user value to the option's HiGHS type (an int for a double option would be refused)."""
    out = h.getOptionType(name)
    if isinstance(out, tuple):
        if out[0] == highspy.HighsStatus.kError:
            return value  # unknown name: setOptionValue reports it
        out = out[1]
    kind = getattr(out, "name", str(out))
    if kind == "kDouble" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "kInt" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def configure(h: Any, params: SolveParams) -> dict[str, Any]:
    """Set every :class:`SolveParams` field (and the ``"highs"`` options) on a HiGHS object.

    Returns the ``{option: value}`` pairs that were set, in order; tests read them back with
    :func:`option_value`.

    Raises
    ------
    ScenarioError
        If HiGHS refuses an option (unknown name, wrong type, out of range).
    """
    values: dict[str, Any] = {
        "output_flag": bool(params.verbose),
        "log_to_console": bool(params.verbose),
        "mip_rel_gap": float(params.mip_gap),
        "threads": int(params.threads),
        "random_seed": int(params.seed),
    }
    if params.mip_gap == 0:
        values["mip_abs_gap"] = PROOF_ABS_GAP
    left = params.remaining()  # what is left of the shared budget, not the original limit
    if left is not None:
        values["time_limit"] = float(left)
    for name, value in values.items():
        _set(h, name, value, "from SolveParams")
    for name, value in params.options_for("highs").items():
        value = _coerce(h, name, value)
        _set(h, name, value, "from solver options 'highs'")
        values[name] = value
    return values


def pass_problem(h: Any, problem: MilpProblem, cost: NDArray[np.float64] | None = None) -> None:
    """Load ``problem`` into ``h`` with one bulk ``passModel`` call (CSC arrays, copied by HiGHS).

    ``cost`` replaces the objective coefficients (used by the feasibility check); the problem is
    only read.
    """
    A = problem.A.tocsc(copy=True)
    A.sum_duplicates()  # on the copy: the problem stays untouched
    n, m = problem.num_vars, problem.num_rows
    sense = highspy.ObjSense.kMaximize if problem.sense == "max" else highspy.ObjSense.kMinimize
    c = problem.c if cost is None else cost
    status = h.passModel(
        n,
        m,
        int(A.nnz),
        int(highspy.MatrixFormat.kColwise),
        int(sense),
        float(problem.offset),
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(problem.col_lower, dtype=np.float64),
        np.ascontiguousarray(problem.col_upper, dtype=np.float64),
        np.ascontiguousarray(problem.row_lower, dtype=np.float64),
        np.ascontiguousarray(problem.row_upper, dtype=np.float64),
        np.ascontiguousarray(A.indptr, dtype=np.int32),
        np.ascontiguousarray(A.indices, dtype=np.int32),
        np.ascontiguousarray(A.data, dtype=np.float64),
        np.ascontiguousarray(problem.integrality, dtype=np.int32),  # 1 = kInteger, 0 = kContinuous
    )
    if status == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS refused problem {problem.name!r} in passModel (bounds or matrix invalid)")


def run_highs(h: Any) -> None:
    # HiGHS keeps one task scheduler per thread, sized by the first run on that thread; a later
    # run asking for another `threads` value fails unless the old scheduler is dropped first.
    reset = getattr(_highs_class(), "resetThreadScheduler", None)
    if reset is not None:
        reset(False)
    h.run()


def run_within(h: Any, params: SolveParams) -> bool:
    """``h.run()`` that returns by the deadline (see :func:`optimizer.deadline.run_bounded`);
    False when HiGHS overran it and the run was abandoned.

    HiGHS checks its ``time_limit`` only at some points: its presolve ran 20 s past a 15 s limit on
    a 100,000 x 2,000 MCLP, and a MIP given 20 s ran 33 s. The compiled ``_Highs`` used here has
    no interrupt callbacks, so an overrunning run is abandoned (its own limit ends it later).
    """
    cancel = getattr(h, "cancelSolve", None)
    return run_bounded(lambda: run_highs(h), params.remaining(), cancel)


@functools.lru_cache(maxsize=1)
def highs_version() -> str:
    h = _highs_class()()
    version = getattr(h, "version", None)
    return str(version()) if version is not None else importlib.metadata.version("highspy")


def _status_name(model_status: Any) -> str:
    return str(getattr(model_status, "name", model_status)).split(".")[-1]


class HighsBackend:
    """HiGHS (MIP and LP) through highspy."""

    name = "highs"

    def available(self) -> bool:
        """True if highspy can be imported."""
        return _HAVE_HIGHSPY

    def version(self) -> str:
        """HiGHS version string, e.g. ``"1.16.0"``."""
        if not _HAVE_HIGHSPY:
            return ""
        return highs_version()

    def solve(
        self,
        problem: MilpProblem,
        params: SolveParams,
        warm_start: NDArray[np.float64] | None = None,
    ) -> SolveResult:
        """Solve ``problem`` with HiGHS; see the module docstring for the mappings.

        Returns OPTIMAL (within ``mip_gap``), FEASIBLE (a limit hit with a solution), NO_SOLUTION,
        INFEASIBLE, UNBOUNDED or ERROR. ``bound`` is HiGHS's ``mip_dual_bound`` for a MIP and the
        objective itself for an LP solved to optimality.
        """
        t0 = time.perf_counter()
        ws = check_warm_start(problem, warm_start, self.name)
        if params.expired():
            return out_of_time(problem, self.name, self.version())
        h = new_highs()
        configure(h, params)
        pass_problem(h, problem)
        notes: list[str] = []
        if ws is not None and problem.is_mip:
            sol = highspy.HighsSolution()
            sol.col_value = ws
            sol.value_valid = True
            if h.setSolution(sol) == highspy.HighsStatus.kError:
                notes.append("HiGHS refused the warm start")
        if not run_within(h, params):
            return abandoned_run(
                problem,
                self.name,
                self.version(),
                time.perf_counter() - t0,
                "HiGHS did not stop at its time limit (it checks the clock rarely in presolve); its run was abandoned",
                ws if problem.is_mip else None,
            )
        info = h.getInfo()
        model_status = h.getModelStatus()
        name = _status_name(model_status)
        has_solution = int(info.primal_solution_status) == _SOLUTION_FEASIBLE
        stats = {
            "model_status": name,
            "mip_node_count": int(info.mip_node_count),
            "simplex_iteration_count": int(info.simplex_iteration_count),
        }
        x = None
        if name in LIMIT_MAP:
            status, limit = limit_status(has_solution, LIMIT_MAP[name])
        else:
            status, limit = STATUS_MAP.get(name, (Status.ERROR, Limit.NONE))
        if status.has_solution:
            x = np.array(h.getSolution().col_value, dtype=np.float64)
        if name == "kModelEmpty":
            x = np.zeros(0)
            if problem.max_violation(x) > 0:
                status = Status.INFEASIBLE
        if name == "kUnboundedOrInfeasible":
            status, why = settle_unbounded(self, problem, params, time.perf_counter() - t0)
            notes.append(why)
        if status == Status.ERROR:
            notes.append(f"HiGHS ended with model status {name}; try verbose=True or another solver (e.g. cbc)")
        if status in (Status.INFEASIBLE, Status.UNBOUNDED):
            x = None

        # HiGHS leaves the offset out of an empty model's objective: nothing to compare there.
        reported = float(info.objective_function_value) if status.has_solution and name != "kModelEmpty" else None
        if ws is not None and x is not None and reported is not None:
            # HiGHS 1.16 has been seen to return the warm start itself while reporting the better
            # optimum it found (its presolve maps the start, the postsolved point is lost). The
            # start is then not what the objective says: solve again without it.
            own = problem.objective_value(np.where(problem.integrality, np.round(x), x))
            if abs(own - reported) > 1e-6 * max(1.0, abs(reported)):
                again = self.solve(problem, params, None)
                note = f"HiGHS returned the warm start ({own:.10g}) for its optimum ({reported:.10g}); solved again without it"
                return replace(
                    again, seconds=time.perf_counter() - t0, message="; ".join(filter(None, [again.message, note]))
                )
        bound: float | None = None
        if problem.is_mip:
            if status.has_solution or status == Status.NO_SOLUTION:
                bound = float(info.mip_dual_bound)
        elif status == Status.OPTIMAL and x is not None:
            bound = problem.objective_value(x)  # an LP optimum is its own bound (x is not rounded)
        return finish(
            problem,
            solver=self.name,
            version=self.version(),
            status=status,
            limit=limit,
            x=x,
            reported_objective=reported,
            bound=bound if bound is not None and math.isfinite(bound) else None,
            seconds=time.perf_counter() - t0,
            message="; ".join(notes),
            stats=stats,
        )
