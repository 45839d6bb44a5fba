"""CBC, and any other solver PuLP can drive (GLPK, Gurobi, CPLEX, ...), through PuLP.

The :class:`~models.milp.MilpProblem` is translated into a ``pulp.LpProblem``: one ``LpVariable``
per column, one ``LpConstraint`` per finite side of each CSR row (an equality row is one
constraint, a ranged row two), built from ``zip(variables, values)`` of the row. This
per-row loop is the translation into PuLP's object model, which has no bulk call.

Parameter mapping (:meth:`PulpBackend.make_solver`):

=================== ================================================================
SolveParams         PuLP solver argument
=================== ================================================================
``time_limit``      ``timeLimit`` (CBC counts wall-clock time: ``timeMode elapsed``)
``mip_gap``         ``gapRel``
``threads``         ``threads``
``seed``            per solver, :data:`SEED_SETTINGS`: CBC ``randomCbcSeed N`` and
                    ``randomSeed N`` (seed 0 keeps CBC's fixed default seed, because CBC
                    reads 0 as "seed from the clock"), HiGHS ``random_seed``, Gurobi ``Seed``;
                    other solvers: not passed, said in ``message``
``verbose``         ``msg`` (for CBC the log goes to a file, see below, and is echoed)
``options[name]``   each ``key: value`` passed as a keyword to the PuLP solver class;
                    the key ``"options"`` (a list of strings) extends the option list
=================== ================================================================

Status: PuLP reports "Optimal" for a CBC run stopped by its time limit; its ``sol_status`` then
says ``LpSolutionIntegerFeasible``. Both are read (:data:`STATUS_MAP`) and such a run is FEASIBLE,
never OPTIMAL. CBC's log (written to a temporary file via ``logPath``) is parsed for the reason
it stopped and for its best bound ("Lower bound:" / "Upper bound:", which exclude the objective
offset). "Unbounded" from CBC means its LP relaxation is unbounded; the MIP may be infeasible,
so it is settled by :func:`~optimizer.backends.common.settle_unbounded`. For other PuLP solvers
the bound is only known when the run is OPTIMAL (bound = objective), and a run that reports
"Optimal" after using up its time limit is reported FEASIBLE: PuLP does not say whether the
limit stopped it. A "solution" that violates the rows is never passed on (ERROR if the solver
called it optimal, NO_SOLUTION if a limit stopped it).

Time and processes: ``time_limit`` is what is left of the shared budget (``params.remaining()``).
PuLP's model building checks the deadline every 20,000 columns and 2,000 rows and stops
(NO_SOLUTION, limit time) when it is spent; the MPS file is not written when less time is left
than writing it takes. CBC itself runs under :class:`_CbcGuard` instead of PuLP's ``solve_CBC``:
the same command line, with the remaining budget as ``-sec``, its files in a siting-owned
``siting-pulp-<pid>-*`` folder, CBC in its own process group with a parent-death signal and a
watchdog (:mod:`optimizer.processes`), killed ``_KILL_GRACE`` seconds after the limit.

Solvers that duplicate a native backend are left out of :func:`extra_pulp_solvers`:
``PULP_CBC_CMD`` and ``COIN_CMD`` (the ``cbc`` backend), and PuLP's ``HiGHS`` / ``HiGHS_CMD``
(the faster ``highs`` backend). They remain reachable by name, e.g. ``pulp:HiGHS``.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import inspect
import math
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import BackendUnavailableError, ScenarioError
from siting.models.milp import MilpProblem
from siting.optimizer.backends.common import (
    VIOLATION_TOL,
    check_warm_start,
    finish,
    limit_status,
    out_of_time,
    settle_unbounded,
)
from siting.optimizer.processes import Workspace
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status

try:
    import pulp

    _HAVE_PULP = True
except ImportError:  # pragma: no cover - exercised only without PuLP
    pulp = None  # type: ignore[assignment]
    _HAVE_PULP = False

CBC_SOLVERS = ("PULP_CBC_CMD", "COIN_CMD")
#: PuLP solvers that duplicate a native backend; not listed by :func:`extra_pulp_solvers`.
DUPLICATES = frozenset(CBC_SOLVERS + ("HiGHS", "HiGHS_CMD"))

#: How the seed reaches each PuLP solver: ``("options", fmt)`` adds ``fmt.format(seed)`` to the
#: option list, ``("kwarg", name)`` passes ``name=seed`` to the solver class.
SEED_SETTINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "PULP_CBC_CMD": (("options", "randomCbcSeed {}"), ("options", "randomSeed {}")),
    "COIN_CMD": (("options", "randomCbcSeed {}"), ("options", "randomSeed {}")),
    "HiGHS": (("kwarg", "random_seed"),),
    "HiGHS_CMD": (("options", "random_seed={}"),),
    "GUROBI": (("kwarg", "Seed"),),
}

#: (PuLP status, PuLP sol_status) -> (Status, Limit). A pair not listed is an ERROR. The limit
#: of FEASIBLE / NO_SOLUTION rows is refined from CBC's log when there is one.
STATUS_MAP: dict[tuple[int, int], tuple[Status, Limit]] = {
    (1, 1): (Status.OPTIMAL, Limit.NONE),  # Optimal / LpSolutionOptimal
    (1, 2): (Status.FEASIBLE, Limit.TIME),  # "Optimal" / LpSolutionIntegerFeasible: a limit hit
    (0, 0): (Status.NO_SOLUTION, Limit.TIME),  # Not Solved / no solution found
    (0, -1): (Status.NO_SOLUTION, Limit.OTHER),  # Not Solved (status only, sol_status defaulted)
    (-1, -1): (Status.INFEASIBLE, Limit.NONE),
    (-1, 0): (Status.INFEASIBLE, Limit.NONE),
    (-2, -2): (Status.UNBOUNDED, Limit.NONE),
    (-2, 0): (Status.UNBOUNDED, Limit.NONE),
}

#: CBC's "Result - ..." line -> the limit that stopped the run.
CBC_RESULT_LIMITS: dict[str, Limit] = {
    "Stopped on time limit": Limit.TIME,
    "Stopped on node limit": Limit.NODES,
    "Stopped on iteration limit": Limit.ITERATIONS,
    "Stopped on solution limit": Limit.SOLUTIONS,
    "Stopped on ctrl-c": Limit.INTERRUPTED,
    "Stopped on difficulties": Limit.OTHER,
}

#: Columns (and terms of one row) built between two deadline checks; rows between two checks.
_BUILD_CHUNK = 20_000
_ROW_CHUNK = 2_000
#: Seconds CBC may run past its ``sec`` limit (it checks the clock between nodes, and a root LP
#: can be long) before siting kills it and reports no solution.
_KILL_GRACE = 1.0
#: Writing the MPS file takes PuLP up to this multiple of the model-building time (measured 0.7).
_WRITE_SHARE = 0.9


class OutOfTime(Exception):
    """The shared time budget ran out while the model was being built or written."""


def _deadline_check(params: SolveParams | None) -> Any:
    def check() -> None:
        if params is not None and params.expired():
            raise OutOfTime

    return check


class _CbcGuard:
    """Runs CBC in place of PuLP's ``solve_CBC``: same command line and solution reading, but with
    the remaining budget as ``-sec``, CBC in its own process group that dies with siting (see
    :mod:`optimizer.processes`), and a hard stop ``_KILL_GRACE`` seconds after the limit."""

    def __init__(self, work: Workspace, params: SolveParams, build_seconds: float = 0.0) -> None:
        self.work = work
        self.params = params
        self.build_seconds = build_seconds
        self.killed = False

    def solve_cbc(self, solver: Any, lp: Any, use_mps: bool = True) -> int:
        if not solver.executable(solver.path):
            raise pulp.PulpSolverError(f"cannot execute CBC at {solver.path}")
        tmp_mps, tmp_sol, tmp_mst = solver.create_tmp_files(lp.name, "mps", "sol", "mst")
        left = self.params.remaining()
        if left is not None and left < _WRITE_SHARE * self.build_seconds:
            # PuLP writes the MPS file at about 0.7 x the time it took to build the model, and
            # cannot be stopped while it does: there is no time to write it, let alone solve
            raise OutOfTime(
                f"{left:.1f} s were left after PuLP built the model in {self.build_seconds:.1f} s: not enough "
                "to write it for CBC and solve it"
            )
        vs, var_names, con_names, _ = lp.writeMPS(tmp_mps, rename=1)
        args = [solver.path, tmp_mps] + (["-max"] if lp.sense == pulp.LpMaximize else [])
        if solver.optionsDict.get("warmStart", False):
            solver.writesol(tmp_mst, lp, vs, var_names, con_names)
            args += ["-mips", tmp_mst]
        left = self.params.remaining()
        if left is not None:
            if left <= 0.0:
                raise OutOfTime
            args += ["-sec", f"{left:.3f}"]
        presolve = solver.optionsDict.get("presolve")
        if presolve is not None:
            args += ["-presolve", "on" if presolve else "off"]
        cuts = solver.optionsDict.get("cuts")
        if cuts is not None:
            args += ["-gomory", "on", "knapsack", "on", "probing", "on"] if cuts else ["-cuts", "off"]
        for option in [*solver.options, *solver.getOptions()]:
            args += f"-{option}".split()
        args += ["-solve" if solver.mip else "-initialSolve", "-printingOptions", "all", "-solution", tmp_sol]
        log_path = solver.optionsDict.get("logPath")
        with open(log_path or os.devnull, "w") as pipe:
            proc = self.work.start(args, stdout=pipe, stderr=pipe, stdin=subprocess.DEVNULL)
            left = self.params.remaining()
            try:
                code = proc.wait(timeout=None if left is None else left + _KILL_GRACE)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.work.close_child()
                lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
                return int(pulp.LpStatusNotSolved)
        if code != 0 or not os.path.exists(tmp_sol):
            raise pulp.PulpSolverError(f"CBC ended with exit code {code} and wrote no solution")
        status, values, reduced, shadow, slacks, sol_status = solver.readsol_MPS(tmp_sol, lp, vs, var_names, con_names)
        lp.assignVarsVals(values)
        lp.assignVarsDj(reduced)
        lp.assignConsPi(shadow)
        lp.assignConsSlack(slacks, activity=True)
        lp.assignStatus(status, sol_status)
        return int(status)


_BOUND_RE = re.compile(r"^(?:Lower|Upper) bound:\s+(\S+)", re.MULTILINE)
_RESULT_RE = re.compile(r"^Result - (.+?)\s*$", re.MULTILINE)
_VERSION_RE = re.compile(r"^Version:\s*(\S+)", re.MULTILINE)
_SEC_RE = re.compile(r"^command line - .* -sec (\S+)", re.MULTILINE)
_WALL_RE = re.compile(r"\(Wallclock seconds\):\s*(\S+)")


def _all_pulp_solvers() -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return list(dict.fromkeys(pulp.listSolvers(onlyAvailable=False)))


def extra_pulp_solvers() -> list[str]:
    """Installed PuLP solvers other than the ones that duplicate a native backend.

    Left out: ``PULP_CBC_CMD``/``COIN_CMD`` (that is the ``cbc`` backend) and
    ``HiGHS``/``HiGHS_CMD`` (the ``highs`` backend does the same, without PuLP's per-element
    model building). Returns an empty list without PuLP.
    """
    if not _HAVE_PULP:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        names = pulp.listSolvers(onlyAvailable=True)
    return [s for s in dict.fromkeys(names) if s not in DUPLICATES]


def parse_cbc_log(text: str) -> dict[str, Any]:
    """Read CBC's result line, best bound and version from its log.

    Returns a dict with ``result`` (e.g. ``"Stopped on time limit"``), ``bound`` (float, in the
    problem's sense but WITHOUT the objective offset, as CBC prints it), ``version``, ``sec`` (the
    time limit CBC was given) and ``wall`` (the wall seconds it reports at its end); keys are absent
    when the log does not say.
    """
    out: dict[str, Any] = {}
    for key, pattern in (("sec", _SEC_RE), ("wall", _WALL_RE)):
        if m := pattern.search(text):
            try:
                out[key] = float(m.group(1))
            except ValueError:
                pass
    if m := _RESULT_RE.search(text):
        out["result"] = m.group(1)
    if m := _BOUND_RE.search(text):
        try:
            out["bound"] = float(m.group(1))
        except ValueError:
            pass
    if m := _VERSION_RE.search(text):
        out["version"] = m.group(1)
    return out


def _suggest(name: str, known: list[str]) -> str | None:
    """The known solver name closest to ``name``: a prefix match first, then by similarity."""
    low = name.lower()
    prefixed = [k for k in known if k.lower().startswith(low)]
    if prefixed:
        return min(prefixed, key=len)
    lookup = {k.lower(): k for k in known}
    close = difflib.get_close_matches(low, list(lookup), n=1, cutoff=0.4)
    return lookup[close[0]] if close else None


@functools.lru_cache(maxsize=8)
def _cbc_banner_version(path: str) -> str:
    """CBC's version from the banner it prints on start (``cbc -quit``), once per binary."""
    try:
        out = subprocess.run([path, "-quit"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return str(parse_cbc_log(out.stdout).get("version", ""))


def _bound(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


@contextlib.contextmanager
def _quiet_deprecations() -> Iterator[None]:
    # PuLP 3.x warns about its 4.0 API (PULP_CBC_CMD, LpVariable(...)); not the user's concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


class PulpBackend:
    """A PuLP solver, named by its PuLP class name (``"PULP_CBC_CMD"``, ``"GLPK_CMD"``, ...).

    Parameters
    ----------
    solver_name : PuLP solver class name, matched case-insensitively.

    Raises
    ------
    BackendUnavailableError
        If PuLP has no solver of that name (the message suggests the closest).
    """

    def __init__(self, solver_name: str) -> None:
        name = solver_name.strip()
        if _HAVE_PULP:
            known = _all_pulp_solvers()
            lookup = {k.lower(): k for k in known}
            if name.lower() not in lookup:
                hint = _suggest(name, known)
                raise BackendUnavailableError(
                    f"PuLP has no solver {name!r}"
                    + (f" (did you mean 'pulp:{hint}'?)" if hint else "")
                    + f"; PuLP knows {', '.join(known)}; run `siting solvers` to see which are installed"
                )
            name = lookup[name.lower()]
        self.solver_name = name
        self.name = "cbc" if name == "PULP_CBC_CMD" else f"pulp:{name}"
        self._version: str | None = None

    @property
    def is_cbc(self) -> bool:
        return self.solver_name in CBC_SOLVERS

    def available(self) -> bool:
        """True if PuLP is installed and its solver reports itself available."""
        if not _HAVE_PULP:
            return False
        try:
            with _quiet_deprecations():
                return bool(pulp.getSolver(self.solver_name, msg=False).available())
        except (pulp.PulpSolverError, OSError):
            return False

    def version(self) -> str:
        """``"CBC 2.10.3 (PuLP 3.3.2)"`` for CBC (from its banner), ``"PuLP 3.3.2"`` otherwise."""
        if not _HAVE_PULP:
            return ""
        if self._version is None:
            self._version = f"PuLP {pulp.__version__}"
            if self.is_cbc:
                cbc = self._cbc_version()
                if cbc:
                    self._version = f"CBC {cbc} (PuLP {pulp.__version__})"
        return self._version

    def _cbc_version(self) -> str:
        try:
            with _quiet_deprecations():
                path = pulp.getSolver(self.solver_name, msg=False).path
        except (pulp.PulpSolverError, OSError, AttributeError):
            return ""
        return _cbc_banner_version(str(path))

    # ---------------------------------------------------------------- solver configuration
    def make_solver(
        self, params: SolveParams, *, log_path: str | None = None, warm_start: bool = False
    ) -> tuple[Any, list[str]]:
        """The configured PuLP solver object and notes on parameters it could not take.

        Tests inspect the returned object (``timeLimit``, ``optionsDict``, ``options``, ``msg``).
        Common arguments (``timeLimit``, ``gapRel``, ``threads``, ``warmStart``, ``logPath``,
        ``options``) are passed when the solver class names them, or when it forwards ``**kwargs``
        to PuLP's ``LpSolver`` (which reads them); not when it forwards ``**solverParams``
        straight to the solver library (PuLP's ``HiGHS`` would reject ``warmStart`` as an option).
        The seed keyword and user options are passed to either.

        Raises
        ------
        ScenarioError
            If ``options[<backend name>]`` holds a keyword the PuLP solver class does not accept.
        """
        notes: list[str] = []
        common: dict[str, Any] = {
            "msg": bool(params.verbose) and log_path is None,
            "timeLimit": params.remaining(),
            "gapRel": float(params.mip_gap),
            "threads": int(params.threads),
        }
        if warm_start:
            common["warmStart"] = True
        if log_path is not None:
            common["logPath"] = log_path
        options: list[str] = []
        specific: dict[str, Any] = {}
        for kind, key in SEED_SETTINGS.get(self.solver_name, ()):
            if self.is_cbc and params.seed == 0:
                continue  # CBC's default seed is fixed; 0 would mean "seed from the clock"
            if kind == "options":
                options.append(key.format(int(params.seed)))
            else:
                specific[key] = int(params.seed)
        if self.solver_name not in SEED_SETTINGS and params.seed != 0:
            notes.append(f"seed {params.seed} not passed: no seed setting known for PuLP's {self.solver_name}")
        user = dict(params.options_for(self.name))
        options.extend(str(o) for o in user.pop("options", []))
        if options:
            common["options"] = options

        with _quiet_deprecations():
            cls = type(pulp.getSolver(self.solver_name, msg=False))
        sig = inspect.signature(cls.__init__)
        named = {p for p in sig.parameters if p != "self"}
        var_kw = [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
        lp_solver_kwargs = var_kw == ["kwargs"]  # PuLP's LpSolver convention: stored in optionsDict
        kwargs: dict[str, Any] = {}
        skip_silently = {"timeLimit": None, "threads": 1, "logPath": None}
        for key, value in common.items():
            if key in named or lp_solver_kwargs:
                kwargs[key] = value
            elif skip_silently.get(key, object()) != value and key != "logPath":
                notes.append(f"PuLP's {self.solver_name} takes no {key!r}; {key}={value!r} not passed")
        for key, value in list(specific.items()) + list(user.items()):
            if key in named or var_kw:
                kwargs[key] = value
            elif key in user:
                raise ScenarioError(
                    f"solver option {key!r} = {value!r} (options for '{self.name}') is not an argument of "
                    f"PuLP's {self.solver_name}; it accepts {', '.join(sorted(named))}"
                )
            else:
                notes.append(f"PuLP's {self.solver_name} takes no {key!r}; not passed")
        with _quiet_deprecations():
            solver = cls(**kwargs)
        return solver, notes

    # ---------------------------------------------------------------- model translation
    def build(self, problem: MilpProblem, params: SolveParams | None = None) -> tuple[Any, list[Any], str | None]:
        """Translate ``problem`` into a ``pulp.LpProblem`` (the problem itself is only read).

        Returns the LpProblem, its variables in column order, and a reason when the problem is
        infeasible on its face (an empty row whose bounds exclude 0), else None.

        PuLP builds one Python object per column and per term (about a second per million
        nonzeros): a large model can take longer than the time limit. Columns and rows are made in
        chunks and ``params``' deadline is checked between chunks; :class:`OutOfTime` stops the
        build when the budget is spent, instead of finishing a model there is no time to solve.
        """
        check = _deadline_check(params)
        check()
        sense = pulp.LpMaximize if problem.sense == "max" else pulp.LpMinimize
        lp = pulp.LpProblem(re.sub(r"\W", "_", problem.name) or "siting", sense)
        lo = [None if not math.isfinite(v) else float(v) for v in problem.col_lower]
        up = [None if not math.isfinite(v) else float(v) for v in problem.col_upper]
        cats = np.where(problem.integrality, pulp.LpInteger, pulp.LpContinuous)
        with _quiet_deprecations():
            make = getattr(lp, "add_variable", None) or pulp.LpVariable
            variables: list[Any] = []
            for first in range(0, problem.num_vars, _BUILD_CHUNK):
                check()
                last = min(first + _BUILD_CHUNK, problem.num_vars)
                variables.extend(make(f"x{j}", lo[j], up[j], str(cats[j])) for j in range(first, last))
        V = np.empty(problem.num_vars, dtype=object)
        V[:] = variables

        nz = np.flatnonzero(problem.c)
        lp += pulp.LpAffineExpression(list(zip(V[nz], problem.c[nz].tolist())), constant=float(problem.offset))

        A = sp.csr_array(problem.A.tocsr(copy=True))
        A.sum_duplicates()  # on the copy
        for i in range(problem.num_rows):
            if i % _ROW_CHUNK == 0 or A.indptr[i + 1] - A.indptr[i] > _BUILD_CHUNK:
                check()
            start, end = A.indptr[i], A.indptr[i + 1]
            keep = A.data[start:end] != 0
            cols, vals = A.indices[start:end][keep], A.data[start:end][keep]
            rlo, rup = float(problem.row_lower[i]), float(problem.row_upper[i])
            if cols.size == 0:
                if rlo > 0 or rup < 0:
                    return lp, variables, f"row {i} has no coefficients but bounds [{rlo}, {rup}] exclude 0"
                continue
            terms = list(zip(V[cols], vals.tolist()))
            if math.isfinite(rlo) and rlo == rup:
                lp += pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintEQ, f"r{i}", rlo)
                continue
            if math.isfinite(rlo):
                lp += pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintGE, f"r{i}_lo", rlo)
            if math.isfinite(rup):
                lp += pulp.LpConstraint(pulp.LpAffineExpression(terms), pulp.LpConstraintLE, f"r{i}_up", rup)
        check()
        return lp, variables, None

    # ---------------------------------------------------------------- solve
    def solve(
        self,
        problem: MilpProblem,
        params: SolveParams,
        warm_start: NDArray[np.float64] | None = None,
    ) -> SolveResult:
        """Solve ``problem`` with the PuLP solver; see the module docstring for the mappings."""
        t0 = time.perf_counter()
        params = params.started()  # a direct call (no shared deadline yet) starts its own clock
        ws = check_warm_start(problem, warm_start, self.name)
        try:
            lp, variables, infeasible_reason = self.build(problem, params)
            build_seconds = time.perf_counter() - t0
        except OutOfTime:
            return out_of_time(
                problem,
                self.name,
                self.version(),
                time.perf_counter() - t0,
                f"PuLP had not finished building the {problem.num_vars}-column model when the time limit "
                "ran out; the highs backend needs no such model building",
            )
        if infeasible_reason is not None:
            return finish(
                problem,
                solver=self.name,
                version=self.version(),
                status=Status.INFEASIBLE,
                seconds=time.perf_counter() - t0,
                message=infeasible_reason,
            )
        use_ws = ws is not None and problem.is_mip
        if use_ws and ws is not None:
            for v, value in zip(variables, ws.tolist(), strict=True):
                v.setInitialValue(value, check=False)
        with Workspace() as work:
            tmp = work.path
            log_path = os.path.join(tmp, "cbc.log") if self.is_cbc else None
            solver, notes = self.make_solver(params, log_path=log_path, warm_start=use_ws)
            if hasattr(solver, "tmpDir"):
                solver.tmpDir = tmp  # PuLP's own .mps/.lp/.sol/.mst files go in our folder too
            guard = _CbcGuard(work, params, build_seconds) if self.is_cbc else None
            if guard is not None:
                solver.solve_CBC = functools.partial(guard.solve_cbc, solver)
            try:
                with _quiet_deprecations():
                    lp.solve(solver)
            except OutOfTime as exc:
                seconds = time.perf_counter() - t0
                if str(exc):
                    return out_of_time(problem, self.name, self.version(), seconds, str(exc))
                return out_of_time(problem, self.name, self.version(), seconds)
            except (
                pulp.PulpSolverError,
                OSError,
                subprocess.SubprocessError,
            ) as exc:  # report, do not crash a comparison
                return finish(
                    problem,
                    solver=self.name,
                    version=self.version(),
                    status=Status.ERROR,
                    seconds=time.perf_counter() - t0,
                    message=f"{self.solver_name} failed: {exc}; try verbose=True or another solver (e.g. highs)",
                )
            log = ""
            if log_path is not None and os.path.exists(log_path):
                with open(log_path, encoding="utf-8", errors="replace") as fh:
                    log = fh.read()
                if params.verbose:
                    sys.stdout.write(log)
            if guard is not None and guard.killed:
                notes.append(
                    f"CBC was still running {_KILL_GRACE:g} s after the time limit and was stopped; "
                    "its incumbent, if any, is lost"
                )
        elapsed = time.perf_counter() - t0
        return self._result(problem, params, lp, variables, log, notes, t0, elapsed)

    def _result(
        self,
        problem: MilpProblem,
        params: SolveParams,
        lp: Any,
        variables: list[Any],
        log: str,
        notes: list[str],
        t0: float,
        elapsed: float,
    ) -> SolveResult:
        status_code, sol_code = int(lp.status), int(lp.sol_status)
        status, limit = STATUS_MAP.get((status_code, sol_code), (Status.ERROR, Limit.NONE))
        cbc = parse_cbc_log(log) if log else {}
        stats: dict[str, Any] = {"pulp_status": status_code, "pulp_sol_status": sol_code}
        if "result" in cbc:
            stats["cbc_result"] = cbc["result"]
            stopped = CBC_RESULT_LIMITS.get(cbc["result"])
            if stopped is not None:
                # CBC says a limit stopped it: never OPTIMAL, whatever PuLP made of it.
                if status == Status.OPTIMAL:
                    status = Status.FEASIBLE
                limit = stopped
        # CBC's cut generators, stopped by the clock part-way, can say "found to be infeasible" of a
        # feasible problem ("Pre-processing says infeasible or unbounded" on a knapsack whose empty
        # plan is feasible, with 0.011 s to run): a claim made once the time was spent is no proof
        spent = "sec" in cbc and "wall" in cbc and cbc["wall"] >= cbc["sec"]
        if (
            self.is_cbc
            and status == Status.INFEASIBLE
            and problem.is_mip
            and params.remaining() is not None
            and (str(cbc.get("result", "")) in CBC_RESULT_LIMITS or "infeasible" not in log.lower() or spent)
        ):
            # CBC stopped by a short time limit before its first LP writes "Infeasible" to the
            # solution file; a proof shows in its log ("Problem proven infeasible", "Pre-processing
            # says infeasible") within its time, a limit in its result line
            status, limit = Status.NO_SOLUTION, CBC_RESULT_LIMITS.get(str(cbc.get("result", "")), Limit.TIME)
            notes.append("CBC stopped before it found a solution or proved there is none")
        left = params.remaining()
        if status in (Status.FEASIBLE, Status.NO_SOLUTION) and "result" not in cbc:
            limit = Limit.TIME if left is not None else Limit.OTHER
        # the solver was given elapsed + left seconds; "optimal" after 98 % of them may be a stop
        if status == Status.OPTIMAL and not self.is_cbc and left is not None and left <= 0.02 * (elapsed + left):
            status, limit = Status.FEASIBLE, Limit.TIME
            notes.append(
                f"{self.solver_name} said optimal after using its whole time limit; PuLP cannot tell "
                "whether the limit stopped it, so the run is reported FEASIBLE"
            )
        if status == Status.UNBOUNDED:
            # CBC says "unbounded" when the LP relaxation is, even if the MIP is infeasible.
            status, why = settle_unbounded(self, problem, params, elapsed)
            notes.append(why)
        if status == Status.ERROR:
            notes.append(
                f"PuLP status {pulp.LpStatus.get(status_code, status_code)!r} with solution status "
                f"{pulp.LpSolution.get(sol_code, sol_code)!r}; try verbose=True or another solver"
            )

        x = None
        if status.has_solution:
            x = np.array([np.nan if v.varValue is None else float(v.varValue) for v in variables])
            missing = np.isnan(x)
            if missing.any():
                # Columns in no row and with zero cost never reach the solver: any value in their
                # bounds is optimal; take the one closest to 0.
                x[missing] = np.clip(0.0, problem.col_lower[missing], problem.col_upper[missing])
            if problem.max_violation(x) > max(VIOLATION_TOL, 1e-6 * float(np.abs(x).max(initial=1.0))):
                # Some PuLP solvers report a limit hit with no incumbent as a "solution".
                notes.append(
                    f"{self.solver_name} returned values violating the constraints by "
                    f"{problem.max_violation(x):.3g}; treated as no solution"
                )
                if status == Status.OPTIMAL:
                    status, limit = Status.ERROR, Limit.NONE
                else:
                    status, limit = limit_status(False, limit)
                x = None
        reported = None
        if x is not None:
            with _quiet_deprecations():
                obj = pulp.value(lp.objective)
            reported = None if obj is None else float(obj)
        bound = None
        if "bound" in cbc and problem.is_mip and status in (Status.FEASIBLE, Status.NO_SOLUTION, Status.OPTIMAL):
            bound = _bound(cbc["bound"] + problem.offset)
        if status == Status.OPTIMAL and x is not None and (bound is None or not problem.is_mip):
            bound = problem.objective_value(np.where(problem.integrality, np.round(x), x))
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
            stats=stats,
        )
