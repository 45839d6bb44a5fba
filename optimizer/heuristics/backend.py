"""The heuristics as solvers: ``greedy``, ``interchange``, ``lagrangian`` and ``heuristic`` (all of them).

A :class:`HeuristicBackend` has the shape of an exact backend (``name``, ``kind``, ``available()``,
``version()``, ``solve(...)``) so :mod:`optimizer.registry` lists both kinds in one table and
:func:`optimizer.solve.solve` dispatches on ``kind``, never on a list of names. The difference is
what ``solve`` takes: an exact backend solves a :class:`models.milp.MilpProblem`, a heuristic works
on the instance itself, so it takes the instance and the model specification.

The result follows the contract of :class:`optimizer.result.SolveResult`: ``x`` is the plan as a
0/1 vector over the sites; the status is ``optimal`` only when the proven bound closes the gap to
within ``params.mip_gap``; a run stopped by its time limit says so (``limit = time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from siting.models.errors import ScenarioError
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status, relative_gap

if TYPE_CHECKING:
    from siting.optimizer.solve import ModelSpec

#: Solver name -> the :func:`run_heuristic` method it runs.
HEURISTIC_METHODS = {"greedy": "greedy", "interchange": "interchange", "lagrangian": "lagrangian", "heuristic": "auto"}
#: The models a heuristic handles (uncapacitated).
HEURISTIC_MODELS = ("pmedian", "mclp")


@dataclass(frozen=True)
class HeuristicBackend:
    """One heuristic method behind the backend shape (see the module docstring)."""

    name: str
    kind: Literal["heuristic"] = "heuristic"

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return "siting"

    def check(self, spec: ModelSpec) -> None:
        """Reject a model this heuristic cannot solve, naming the solvers that can."""
        extended = spec.min_group_share is not None or bool(spec.maxmin_groups)
        extended = extended or spec.reach_max is not None or spec.robust_samples is not None
        if spec.model not in HEURISTIC_MODELS or spec.capacitated or extended:
            raise ScenarioError(
                f"heuristic solver {self.name!r} handles the uncapacitated pmedian and mclp models; "
                f"use an exact solver (highs, cbc, cpsat, scip) for {spec.model}"
                + (" (capacitated)" if spec.capacitated else "")
                + (" (with equity, gradual reach or robust plans)" if extended else "")
            )

    def solve(self, instance: SitingInstance, spec: ModelSpec, params: SolveParams) -> SolveResult:
        """Run the method on ``instance`` for ``spec`` within ``params``' time budget.

        ``x`` of the result is the open-site vector (existing sites included), as float 0/1.
        """
        self.check(spec)
        out = run_heuristic(
            instance,
            spec.model,
            p=spec.p,
            radius=spec.radius,
            budget=spec.budget,
            method=HEURISTIC_METHODS[self.name],
            time_limit=params.remaining(),
            seed=params.seed,
        )
        gap = relative_gap(out.objective, out.bound)
        proven = gap is not None and gap <= max(params.mip_gap, 1e-9)
        left = params.remaining()
        # "stopped by the time limit" when (almost) nothing of the budget is left: the methods check
        # their clock between moves, so they return a little before the limit, never exactly on it
        timed_out = left is not None and left <= 0.05 + 0.02 * float(params.time_limit or 0.0)
        note = "" if proven else "heuristic: optimality not proven"
        if timed_out and not proven:
            note = "heuristic: stopped by the time limit, optimality not proven"
        return SolveResult(
            status=Status.OPTIMAL if proven else Status.FEASIBLE,
            solver=self.name,
            solver_version=self.version(),
            objective=float(out.objective),
            bound=None if out.bound is None else float(out.bound),
            gap=gap,
            seconds=float(out.seconds),
            limit=Limit.NONE if proven else (Limit.TIME if timed_out else Limit.OTHER),
            x=np.asarray(out.open_mask, dtype=np.float64),
            message=note,
        )
