"""Backend look-up by name: ``highs`` (default), ``cbc``, ``pulp:NAME``, ``cpsat``, ``scip``."""

from __future__ import annotations

import difflib

from siting.models.errors import BackendUnavailableError
from siting.optimizer.result import Backend

DEFAULT_SOLVER = "highs"
EXACT_SOLVERS = ("highs", "cbc", "cpsat", "scip")


def make_backend(name: str) -> Backend:
    if name == "highs":
        from siting.optimizer.backends.highs import HighsBackend

        return HighsBackend()
    if name == "cbc":
        from siting.optimizer.backends.pulp_backend import PulpBackend

        return PulpBackend("PULP_CBC_CMD")
    if name.startswith("pulp:"):
        from siting.optimizer.backends.pulp_backend import PulpBackend

        return PulpBackend(name.split(":", 1)[1])
    if name in ("cpsat", "scip"):
        from siting.optimizer.backends.ortools_backend import OrToolsBackend

        return OrToolsBackend(name)
    known = list(EXACT_SOLVERS) + ["pulp:NAME"]
    hint = difflib.get_close_matches(name, EXACT_SOLVERS, n=1)
    raise BackendUnavailableError(
        f"unknown solver {name!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
        + f"; choose one of {', '.join(known)}, or run `siting solvers` to list what is installed"
    )


def get_backend(name: str) -> Backend:
    """The backend called ``name``, checked to be installed."""
    backend = make_backend(name.strip().lower() if not name.startswith("pulp:") else name.strip())
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
        except BackendUnavailableError:
            continue
    try:
        from siting.optimizer.backends.pulp_backend import extra_pulp_solvers

        for solver_name in extra_pulp_solvers():
            out.append(make_backend(f"pulp:{solver_name}"))
    except ImportError:
        pass
    return out
