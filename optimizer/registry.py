"""Every solver by name, exact and heuristic, in one table.

Exact backends (``auto`` by default, ``highs``, ``cbc``, ``pulp:NAME``, ``cpsat``, ``scip``) solve a
:class:`models.milp.MilpProblem` (the :class:`optimizer.result.Backend` protocol); heuristics
(``greedy``, ``interchange``, ``lagrangian``, ``heuristic``) work on the instance
(:class:`optimizer.heuristics.backend.HeuristicBackend`). Both have a ``name``, a ``kind``,
``available()`` and ``version()``; callers ask :func:`get_solver` for either and dispatch on
``kind``, or :func:`get_backend` when only an exact solver will do. Solver libraries are imported
when a backend is made, not when this module is.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from siting.models.errors import BackendUnavailableError
from siting.optimizer.result import Backend

if TYPE_CHECKING:
    from siting.optimizer.heuristics.backend import HeuristicBackend

Kind = Literal["exact", "heuristic"]
#: The default, ``auto``: HiGHS for every model and size, except that the city-sized coverage paths
#: (the LSCP's and the MCLP's reduced paths) hand their last branch and bound to SCIP when SCIP is
#: installed (:func:`optimizer.coverage_choice.coverage_prover`). Everywhere else ``auto`` *is* the
#: HiGHS backend.
DEFAULT_SOLVER = "auto"


def _highs() -> Backend:
    from siting.optimizer.backends.highs import HighsBackend

    return HighsBackend()


def _cbc() -> Backend:
    from siting.optimizer.backends.pulp_backend import PulpBackend

    return PulpBackend("PULP_CBC_CMD")


def _ortools(name: str) -> Callable[[], Backend]:
    def make() -> Backend:
        from siting.optimizer.backends.ortools_backend import OrToolsBackend

        return OrToolsBackend(name)

    return make


def _heuristic(name: str) -> Callable[[], HeuristicBackend]:
    def make() -> HeuristicBackend:
        from siting.optimizer.heuristics.backend import HeuristicBackend

        return HeuristicBackend(name)

    return make


@dataclass(frozen=True)
class SolverEntry:
    """One registered solver: its name, kind and how to make it."""

    name: str
    kind: Kind
    make: Callable[[], Any]
    #: what ``siting solvers`` shows in place of the version (an alias says what it runs)
    describes: str | None = None


#: The registered solvers, in the order ``siting solvers`` lists them. ``pulp:NAME`` (any solver
#: PuLP knows) is exact and resolved by :func:`make_solver` without an entry of its own.
SOLVERS: dict[str, SolverEntry] = {
    e.name: e
    for e in (
        SolverEntry("auto", "exact", _highs, describes="highs; scip proves city-sized covers (lscp, mclp)"),
        SolverEntry("highs", "exact", _highs),
        SolverEntry("cbc", "exact", _cbc),
        SolverEntry("cpsat", "exact", _ortools("cpsat")),
        SolverEntry("scip", "exact", _ortools("scip")),
        SolverEntry("greedy", "heuristic", _heuristic("greedy")),
        SolverEntry("interchange", "heuristic", _heuristic("interchange")),
        SolverEntry("lagrangian", "heuristic", _heuristic("lagrangian")),
        SolverEntry("heuristic", "heuristic", _heuristic("heuristic")),
    )
}
EXACT_SOLVERS = tuple(n for n, e in SOLVERS.items() if e.kind == "exact")
HEURISTIC_SOLVERS = tuple(n for n, e in SOLVERS.items() if e.kind == "heuristic")
#: Every name a user may give, for messages and choices.
SOLVER_NAMES = (*EXACT_SOLVERS, "pulp:NAME", *HEURISTIC_SOLVERS)


def _clean(name: str) -> str:
    """Registered names are case-blind; a PuLP solver keeps its own spelling after ``pulp:``."""
    text = name.strip()
    return text if text.startswith("pulp:") else text.lower()


def solver_kind(name: str) -> Kind | None:
    """``"exact"`` or ``"heuristic"`` for a known solver name, None for an unknown one."""
    clean = _clean(name)
    if clean.startswith("pulp:"):
        return "exact"
    entry = SOLVERS.get(clean)
    return entry.kind if entry is not None else None


def make_solver(name: str) -> Backend | HeuristicBackend:
    """The solver called ``name``, installed or not; an unknown name is an error with a suggestion."""
    clean = _clean(name)
    if clean.startswith("pulp:"):
        from siting.optimizer.backends.pulp_backend import PulpBackend

        return PulpBackend(clean.split(":", 1)[1])
    entry = SOLVERS.get(clean)
    if entry is not None:
        made: Backend | HeuristicBackend = entry.make()
        return made
    hint = difflib.get_close_matches(clean, list(SOLVERS), n=1)
    raise BackendUnavailableError(
        f"unknown solver {name!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; choose one of {', '.join(SOLVER_NAMES)}, or run `siting solvers` to list what is installed"
    )


def make_backend(name: str) -> Backend:
    """The exact backend called ``name``, installed or not; a heuristic's name is an error here."""
    solver = make_solver(name)
    if solver_kind(name) != "exact":
        raise BackendUnavailableError(
            f"{name!r} is a heuristic, not a MILP solver; choose an exact solver: "
            f"{', '.join(EXACT_SOLVERS)} or pulp:NAME"
        )
    backend: Backend = solver  # type: ignore[assignment]  # exact entries make Backends
    return backend


def get_solver(name: str) -> Backend | HeuristicBackend:
    """The solver (exact or heuristic) called ``name``, checked to be installed."""
    solver = make_solver(name)
    if not solver.available():
        raise BackendUnavailableError(
            f"solver {name!r} is not installed on this machine; run `siting solvers` to see which are"
        )
    return solver


def get_backend(name: str) -> Backend:
    """The exact backend called ``name``, checked to be installed."""
    backend = make_backend(name)
    if not backend.available():
        raise BackendUnavailableError(
            f"solver {name!r} is not installed on this machine; run `siting solvers` to see which are"
        )
    return backend


def installed_backends() -> list[Backend]:
    """Every exact backend that is installed, plus every extra solver PuLP finds."""
    out: list[Backend] = []
    for name in EXACT_SOLVERS:
        try:
            out.append(get_backend(name))
        except (BackendUnavailableError, ImportError):
            continue
    try:
        from siting.optimizer.backends.pulp_backend import extra_pulp_solvers

        for solver_name in extra_pulp_solvers():
            out.append(make_backend(f"pulp:{solver_name}"))
    except ImportError:
        pass
    return out


def solver_table() -> list[dict[str, Any]]:
    """Every registered solver (and every extra PuLP solver) with its kind, whether it is installed,
    and its version (or why it is not available)."""
    rows: list[dict[str, Any]] = []
    for name, entry in SOLVERS.items():
        try:
            solver = entry.make()
            ok = bool(solver.available())
            version = (entry.describes or solver.version()) if ok else ""
            rows.append({"name": name, "kind": entry.kind, "available": ok, "version": version})
        except (BackendUnavailableError, ImportError) as exc:
            rows.append({"name": name, "kind": entry.kind, "available": False, "version": str(exc)})
    try:
        from siting.optimizer.backends.pulp_backend import extra_pulp_solvers

        extras = [make_backend(f"pulp:{extra}") for extra in extra_pulp_solvers()]
    except ImportError:
        extras = []
    # the heuristics are listed last, after every exact solver (as `siting solvers` always showed them)
    first_heuristic = next((i for i, r in enumerate(rows) if r["kind"] == "heuristic"), len(rows))
    extra_rows = [{"name": b.name, "kind": "exact", "available": True, "version": b.version()} for b in extras]
    return rows[:first_heuristic] + extra_rows + rows[first_heuristic:]
