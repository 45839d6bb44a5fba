"""CP-SAT and SCIP through OR-Tools' model builder (numpy / scipy bulk API).

The :class:`~models.milp.MilpProblem` goes to OR-Tools in one
``ModelBuilderHelper.fill_model_from_sparse_data`` call (bounds, costs and the CSR matrix);
integer columns are then flagged one by one (that API has no bulk call) and the model is solved
by ``ModelSolverHelper("sat" | "scip")``. No pandas, no per-element expressions.

CP-SAT solves integer programs only:

* a continuous column marked ``implied_integer`` (coverage and assignment variables, which are
  integral at an optimum once the integer columns are) is declared integer;
* any other continuous column makes the backend return ERROR, suggesting ``highs``;
* non-integral coefficients are scaled to integers by OR-Tools' MIP-to-CP-SAT conversion
  (relative precision ``mip_wanted_precision``, 1e-6 by default); the objective returned here is
  always recomputed as ``c @ x + offset`` from the returned solution, and the solution is checked
  against the unscaled rows (a violation is reported in ``message``);
* integer columns with an infinite bound are clamped by CP-SAT to ``mip_max_bound`` (1e7).

Parameter mapping (:func:`parameter_text` and :func:`configure`):

=================== ===================================== ==================================
SolveParams         CP-SAT (SatParameters)                SCIP
=================== ===================================== ==================================
``time_limit``      ``set_time_limit_in_seconds``         ``set_time_limit_in_seconds``
``mip_gap``         ``relative_gap_limit``                ``limits/gap``
``threads``         ``num_workers``                       ignored (SCIP here is sequential)
``seed``            ``random_seed``                       ``randomization/randomseedshift``
``verbose``         ``enable_output``,                    ``enable_output``
                    ``log_search_progress``
``options[name]``   ``key: value`` appended               ``key = value`` appended
=================== ===================================== ==================================

Status mapping: :data:`STATUS_MAP`; FEASIBLE and NOT_SOLVED mean a limit stopped the run.
"Infeasible or unbounded" answers (CP-SAT presolve, SCIP's INFORUNBD) are settled by
:func:`~optimizer.backends.common.settle_unbounded`.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import BackendUnavailableError, ScenarioError
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

#: |bound| at or above this is a solver's infinity, not a bound (SCIP uses 1e20).
_NO_BOUND = 1e20

try:
    import ortools
    from ortools.linear_solver.python import model_builder_helper as mbh

    _HAVE_ORTOOLS = True
except ImportError:  # pragma: no cover - exercised only without OR-Tools
    ortools = None  # type: ignore[assignment]
    mbh = None  # type: ignore[assignment]
    _HAVE_ORTOOLS = False

Kind = Literal["cpsat", "scip"]
SOLVER_IDS: dict[str, str] = {"cpsat": "sat", "scip": "scip"}
LABELS: dict[str, str] = {"cpsat": "CP-SAT", "scip": "SCIP"}

#: OR-Tools SolveStatus name -> (Status, Limit). "limit" rows are refined by whether a solution
#: exists and whether a time limit was set; statuses not listed are an ERROR.
STATUS_MAP: dict[str, tuple[Status, Limit]] = {
    "OPTIMAL": (Status.OPTIMAL, Limit.NONE),
    "FEASIBLE": (Status.FEASIBLE, Limit.TIME),  # a solution, optimality not proven: a limit hit
    "NOT_SOLVED": (Status.NO_SOLUTION, Limit.TIME),  # stopped before any solution
    "INFEASIBLE": (Status.INFEASIBLE, Limit.NONE),
    "UNBOUNDED": (Status.UNBOUNDED, Limit.NONE),
    "CANCELLED_BY_USER": (Status.NO_SOLUTION, Limit.INTERRUPTED),
    "ABNORMAL": (Status.ERROR, Limit.NONE),
    "MODEL_INVALID": (Status.ERROR, Limit.NONE),
    "INVALID_SOLVER_PARAMETERS": (Status.ERROR, Limit.NONE),
    "SOLVER_TYPE_UNAVAILABLE": (Status.ERROR, Limit.NONE),
    "INCOMPATIBLE_OPTIONS": (Status.ERROR, Limit.NONE),
    "MODEL_IS_VALID": (Status.ERROR, Limit.NONE),
    "UNKNOWN_STATUS": (Status.ERROR, Limit.NONE),
}


def _fmt(value: Any, kind: str) -> str:
    if isinstance(value, bool):
        if kind == "scip":
            return "TRUE" if value else "FALSE"
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parameter_text(kind: str, params: SolveParams) -> str:
    """The solver-specific parameter string OR-Tools hands to CP-SAT or SCIP.

    CP-SAT reads a ``SatParameters`` text proto (``name: value`` pairs), SCIP reads
    ``name = value`` lines. User options (``params.options[kind]``) come last, so they override.
    """
    user = params.options_for(kind)
    if kind == "cpsat":
        pairs: dict[str, Any] = {
            "num_workers": max(int(params.threads), 1),
            "random_seed": int(params.seed),
            "relative_gap_limit": float(params.mip_gap),
            "log_search_progress": bool(params.verbose),
        }
        if params.mip_gap == 0:
            pairs["absolute_gap_limit"] = 0.0
        pairs.update(user)
        return " ".join(f"{k}: {_fmt(v, kind)}" for k, v in pairs.items())
    pairs = {
        "limits/gap": float(params.mip_gap),
        "randomization/randomseedshift": int(params.seed),
    }
    if params.mip_gap == 0:
        pairs["limits/absgap"] = 0.0
    pairs.update(user)
    return "\n".join(f"{k} = {_fmt(v, kind)}" for k, v in pairs.items())


def configure(solver: Any, kind: str, params: SolveParams) -> str:
    """Apply ``params`` to an OR-Tools ``ModelSolverHelper`` (or anything with its three setters).

    Returns the solver-specific parameter string that was set.
    """
    text = parameter_text(kind, params)
    solver.set_solver_specific_parameters(text)
    solver.enable_output(bool(params.verbose))
    left = params.remaining()  # what is left of the shared budget, not the original limit
    if left is not None:
        solver.set_time_limit_in_seconds(float(left))
    return text


def cpsat_integrality(problem: MilpProblem) -> tuple[NDArray[np.bool_], str | None]:
    """Columns CP-SAT will treat as integer, or a reason the problem is not an integer program."""
    implied = problem.implied_integer if problem.implied_integer is not None else np.zeros(problem.num_vars, bool)
    integer = problem.integrality | implied
    bad = np.flatnonzero(~integer)
    if bad.size:
        return integer, (
            f"CP-SAT needs an integer model, but problem {problem.name!r} has {bad.size} continuous "
            f"column(s) that are not implied integer (first: {bad[:5].tolist()}); "
            "solve it with --solver highs (or cbc, scip)"
        )
    return integer, None


class OrToolsBackend:
    """CP-SAT (``kind="cpsat"``) or SCIP (``kind="scip"``) through OR-Tools."""

    def __init__(self, kind: str) -> None:
        if kind not in SOLVER_IDS:
            raise BackendUnavailableError(f"unknown OR-Tools solver {kind!r}; choose 'cpsat' or 'scip'")
        self.kind: Kind = kind  # type: ignore[assignment]
        self.name = kind

    def available(self) -> bool:
        """True if OR-Tools is installed and was built with this solver."""
        if not _HAVE_ORTOOLS:
            return False
        return bool(mbh.ModelSolverHelper(SOLVER_IDS[self.kind]).solver_is_supported())

    def version(self) -> str:
        """``"OR-Tools 9.15.6755 (CP-SAT)"`` and the like."""
        if not _HAVE_ORTOOLS:
            return ""
        return f"OR-Tools {getattr(ortools, '__version__', '?')} ({LABELS[self.kind]})"

    def build(self, problem: MilpProblem, integer: NDArray[np.bool_]) -> Any:
        """An OR-Tools ``ModelBuilderHelper`` holding ``problem`` (which is only read)."""
        model = mbh.ModelBuilderHelper()
        A = sp.csr_matrix(problem.A.tocsr(copy=True), dtype=np.float64)
        A.sum_duplicates()

        def vec(v: NDArray[Any]) -> Any:  # a copy: the problem's arrays never reach the solver
            return np.array(v, dtype=np.float64)

        model.fill_model_from_sparse_data(
            vec(problem.col_lower),
            vec(problem.col_upper),
            vec(problem.c),
            vec(problem.row_lower),
            vec(problem.row_upper),
            A,
        )
        for j in np.flatnonzero(integer).tolist():
            model.set_var_integrality(j, True)
        model.set_maximize(problem.sense == "max")
        model.set_objective_offset(float(problem.offset))
        model.set_name(problem.name)
        return model

    def solve(
        self,
        problem: MilpProblem,
        params: SolveParams,
        warm_start: NDArray[np.float64] | None = None,
    ) -> SolveResult:
        """Solve ``problem`` with CP-SAT or SCIP; see the module docstring for the mappings.

        Raises
        ------
        ScenarioError
            If the solver rejects the user's options for this backend.
        """
        t0 = time.perf_counter()
        ws = check_warm_start(problem, warm_start, self.name)
        if params.expired():
            return out_of_time(problem, self.name, self.version())
        notes: list[str] = []
        if self.kind == "cpsat":
            integer, reason = cpsat_integrality(problem)
            if reason is not None:
                return finish(
                    problem,
                    solver=self.name,
                    version=self.version(),
                    status=Status.ERROR,
                    seconds=time.perf_counter() - t0,
                    message=reason,
                )
            if (integer & ~problem.integrality).any():
                notes.append(
                    f"{int((integer & ~problem.integrality).sum())} implied-integer column(s) declared integer"
                )
        else:
            integer = problem.integrality.copy()
            if params.threads != 1:
                notes.append(f"SCIP in OR-Tools runs on one thread; threads={params.threads} ignored")
        model = self.build(problem, integer)
        if params.expired():  # building a large model can take a while
            return out_of_time(problem, self.name, self.version(), time.perf_counter() - t0)
        if ws is not None and integer.any():
            for j, value in enumerate(np.where(integer, np.round(ws), ws).tolist()):
                model.add_hint(j, value)
        solver = mbh.ModelSolverHelper(SOLVER_IDS[self.kind])
        configure(solver, self.kind, params)
        # SCIP overran its limit by 30 % on a large MCLP: interrupt it at the deadline
        if not run_bounded(lambda: solver.solve(model), params.remaining(), solver.interrupt_solve):
            return abandoned_run(
                problem,
                self.name,
                self.version(),
                time.perf_counter() - t0,
                f"{LABELS[self.kind]} did not stop at its time limit; its run was abandoned",
                ws,
            )

        name = str(getattr(solver.status(), "name", solver.status())).split(".")[-1]
        detail = solver.status_string()
        has_solution = bool(solver.has_solution())
        if name == "INVALID_SOLVER_PARAMETERS":
            raise ScenarioError(
                f"{LABELS[self.kind]} rejected its parameters: {detail}; check options for '{self.name}' "
                f"(sent: {parameter_text(self.kind, params)!r})"
            )
        status, limit = STATUS_MAP.get(name, (Status.ERROR, Limit.NONE))
        if status in (Status.FEASIBLE, Status.NO_SOLUTION) and limit == Limit.TIME:
            status, limit = limit_status(has_solution, Limit.TIME if params.remaining() is not None else Limit.OTHER)
        if name in ("UNKNOWN_STATUS", "INFEASIBLE") and "unbounded" in detail.lower():
            # CP-SAT presolve's "proven infeasible or unbounded", SCIP's INFORUNBD: settle it.
            status, why = settle_unbounded(self, problem, params, time.perf_counter() - t0)
            notes.append(why)
        elif status == Status.ERROR:
            notes.append(
                f"{LABELS[self.kind]} ended with {name}"
                + (f": {detail}" if detail else "")
                + "; try verbose=True or --solver highs"
            )
        elif detail:
            notes.append(detail)
        x = np.asarray(solver.variable_values(), dtype=np.float64) if status.has_solution and has_solution else None
        reported = float(solver.objective_value()) if x is not None else None
        bound: float | None = None
        if has_solution and status.has_solution:
            bound = float(solver.best_objective_bound())
            if abs(bound) >= _NO_BOUND:  # SCIP's "no bound yet" (seen as -1e20 after a time limit)
                bound = None
            if not problem.is_mip and self.kind == "scip" and status == Status.OPTIMAL and x is not None:
                bound = problem.objective_value(x)
        return finish(
            problem,
            solver=self.name,
            version=self.version(),
            status=status,
            limit=limit,
            x=x,
            reported_objective=reported,
            bound=bound,
            seconds=time.perf_counter() - t0,
            message="; ".join(notes),
            stats={"or_tools_status": name, "wall_time": float(solver.wall_time())},
        )
