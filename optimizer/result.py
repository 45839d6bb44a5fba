"""The solve contract shared by every backend and heuristic: parameters in, result out.

Gap definition (as python-mip): ``gap = |objective - bound| / max(|objective|, 1e-9)``, and 0 when
both are equal. A run stopped by any limit is never OPTIMAL, whatever the solver printed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import NoSolutionError
from siting.models.milp import MilpProblem
from siting.optimizer.deadline import Deadline


class Status(str, Enum):
    """How a solve ended."""

    OPTIMAL = "OPTIMAL"  # proven optimal within the requested gap
    FEASIBLE = "FEASIBLE"  # a solution exists, optimality not proven (a limit was hit)
    NO_SOLUTION = "NO_SOLUTION"  # a limit was hit before any solution was found
    INFEASIBLE = "INFEASIBLE"
    UNBOUNDED = "UNBOUNDED"
    ERROR = "ERROR"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


class Limit(str, Enum):
    """What stopped a solve that did not finish."""

    NONE = "none"
    TIME = "time"
    NODES = "nodes"
    ITERATIONS = "iterations"
    SOLUTIONS = "solutions"
    INTERRUPTED = "interrupted"
    OTHER = "other"


@dataclass(frozen=True)
class SolveParams:
    """Parameters every backend honours.

    Attributes
    ----------
    time_limit : wall-clock seconds, ``None`` for no limit.
    mip_gap : relative gap at which the search stops and reports OPTIMAL. 0 means prove it.
    threads : worker threads.
    seed : random seed.
    verbose : let the solver print its log.
    options : per-backend options, namespaced by backend name: ``{"highs": {"presolve": "off"}}``.
    deadline : the shared wall-clock budget of the whole command (see :mod:`optimizer.deadline`),
        set once by :meth:`started` when the input has been read. Stages and backends read
        :meth:`remaining`, never ``time_limit`` itself, so that their times add up to the limit.
    """

    time_limit: float | None = None
    mip_gap: float = 1e-6
    threads: int = 1
    seed: int = 0
    verbose: bool = False
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deadline: Deadline | None = None

    def started(self) -> SolveParams:
        """These parameters with the clock running: the deadline is ``time_limit`` from now.

        Idempotent: parameters that already carry a deadline are returned unchanged, so an inner
        stage calling it again does not restart the budget.
        """
        if self.deadline is not None or self.time_limit is None:
            return self
        return replace(self, deadline=Deadline.after(self.time_limit))

    def remaining(self) -> float | None:
        """Seconds left for the next stage: the smaller of the shared deadline's remaining time and
        ``time_limit`` (a stage may be given a share of the budget); ``None`` for no limit."""
        left = self.deadline.remaining() if self.deadline is not None else None
        if self.time_limit is None:
            return left
        return float(self.time_limit) if left is None else min(left, float(self.time_limit))

    def expired(self) -> bool:
        """True once there is no time left."""
        left = self.remaining()
        return left is not None and left <= 0.0

    def within(self, seconds: float | None) -> SolveParams:
        """These parameters for a stage that may take at most ``seconds`` (and never more than is left).

        The stage gets a clock of its own: its :meth:`remaining` counts down from the share, so a
        stage made of many solves spends the share once, not once per solve, and it never passes
        the shared deadline. ``time_limit`` is set to the share, so the stage reads as limited.
        """
        if seconds is None:
            return self
        left = self.remaining()
        share = float(seconds) if left is None else min(float(seconds), left)
        clock = self.deadline.clock if self.deadline is not None else time.monotonic
        return replace(self, time_limit=share, deadline=Deadline.after(share, clock))

    def options_for(self, backend: str) -> Mapping[str, Any]:
        return self.options.get(backend, {})


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|objective - bound| / max(|objective|, 1e-9)``; None if either is unknown."""
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    diff = abs(objective - bound)
    if diff <= 1e-12 * max(1.0, abs(objective)):  # floating-point noise, not a gap
        return 0.0
    return diff / max(abs(objective), 1e-9)


@dataclass(frozen=True, eq=False)
class SolveResult:
    """What a backend or heuristic found.

    ``objective`` and ``bound`` are in the problem's own sense (including its offset); for a
    minimisation ``bound <= objective``.
    """

    status: Status
    solver: str
    solver_version: str = ""
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    seconds: float = 0.0
    limit: Limit = Limit.NONE
    x: NDArray[np.float64] | None = None
    message: str = ""
    stats: Mapping[str, Any] = field(default_factory=dict)

    def require_solution(self) -> NDArray[np.float64]:
        """The solution vector, or NoSolutionError saying why there is none."""
        if self.x is None or not self.status.has_solution:
            raise NoSolutionError(
                f"solver {self.solver} found no solution (status {self.status.value}, limit {self.limit.value})"
                + (f": {self.message}" if self.message else "")
                + "; try a longer --time-limit or another --solver"
            )
        return self.x

    def with_note(self, note: str) -> SolveResult:
        """This result with ``note`` appended to its message."""
        return replace(self, message="; ".join(filter(None, [self.message, note])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "limit": self.limit.value,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
            "solver": self.solver,
            "solver_version": self.solver_version,
            "message": self.message,
        }


@runtime_checkable
class Backend(Protocol):
    """A MILP solver. It never mutates the problem."""

    name: str

    def available(self) -> bool: ...

    def version(self) -> str: ...

    def solve(
        self,
        problem: MilpProblem,
        params: SolveParams,
        warm_start: NDArray[np.float64] | None = None,
    ) -> SolveResult: ...
