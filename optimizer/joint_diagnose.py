"""Why a joint ``min_cost`` plan is infeasible: the binding family of constraints, by relaxation.

``min_cost`` must cover every coverable demand point. When no plan does, three families of
constraints can be to blame: the plots' room (2), the budgets (3)-(5) and the count limits (6)
(see :mod:`models.formulations.joint`). Each family is dropped in turn and the model re-solved:
a family whose removal makes the model feasible is *binding*. Dropping the budgets also gives
the cheapest full-coverage plan under room and counts, which is quoted against the budgets.
If no single family is binding, all three are dropped: if that is feasible the families bind
only together; if not, the coverage itself is impossible (the notes of the model name the
demand that only unusable plots reach).

Every re-solve shares the caller's deadline; a relaxation that is not decided in time is
reported as undecided rather than guessed.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np

from siting.models.formulations.joint import joint_milp
from siting.models.multiservice import MultiServiceInstance
from siting.optimizer.result import Backend, SolveParams, Status


def drop_room(inst: MultiServiceInstance) -> MultiServiceInstance:
    return dataclasses.replace(inst, room=np.full(inst.m, np.inf))


def drop_budgets(inst: MultiServiceInstance) -> MultiServiceInstance:
    services = tuple(dataclasses.replace(s, budget=None) for s in inst.services)
    return dataclasses.replace(inst, services=services, total_budget=None, phase_budgets=None)


def drop_counts(inst: MultiServiceInstance) -> MultiServiceInstance:
    services = tuple(dataclasses.replace(s, min_sites=0, max_sites=None) for s in inst.services)
    return dataclasses.replace(inst, services=services)


def _feasible(
    inst: MultiServiceInstance, be: Backend, params: SolveParams, deadline: float | None
) -> tuple[str, float | None]:
    """``("yes", cost)``, ``("no", None)`` or ``("unknown", None)`` for min_cost on ``inst``."""
    p = params
    if deadline is not None:
        left = deadline - time.perf_counter()
        if left <= 0.05:
            return "unknown", None
        p = dataclasses.replace(params, time_limit=left)
    problem, _ = joint_milp(inst, "min_cost")
    r = be.solve(problem, p)
    if r.status == Status.INFEASIBLE:
        return "no", None
    if r.status.has_solution:
        return "yes", r.objective if r.status == Status.OPTIMAL else None
    return "unknown", None


def _budget_figures(inst: MultiServiceInstance, cheapest: float | None) -> str:
    if cheapest is None or not math.isfinite(cheapest):
        return ""
    parts = [f"covering every coverable demand point costs at least {cheapest:,.0f} (room and counts kept)"]
    if inst.total_budget is not None and inst.total_budget < cheapest:
        parts.append(f"budget.total is {inst.total_budget:,.0f}")
    elif inst.phase_budgets is not None and float(np.sum(inst.phase_budgets)) < cheapest:
        parts.append(f"the phase budgets add up to {float(np.sum(inst.phase_budgets)):,.0f}")
    else:
        tight = [f"{s.name} {s.budget:,.0f}" for s in inst.services if s.budget is not None]
        if tight:
            parts.append("per-service budgets: " + ", ".join(tight))
    return "; ".join(parts)


def min_cost_causes(
    inst: MultiServiceInstance, be: Backend, params: SolveParams, deadline: float | None
) -> dict[str, Any]:
    """Diagnose an infeasible ``min_cost`` model.

    Returns
    -------
    dict with ``binding`` (families whose removal alone makes the model feasible, among
    "plot room", "budget", "count limits"), ``together`` (True if only dropping all of them
    helps), ``undecided`` (families not decided in time) and ``text``, one plain sentence.
    """
    families = []
    if np.isfinite(inst.room).any():
        families.append(("plot room", drop_room))
    has_budget = (
        inst.total_budget is not None
        or inst.phase_budgets is not None
        or any(s.budget is not None for s in inst.services)
    )
    if has_budget:
        families.append(("budget", drop_budgets))
    if any(s.min_sites > 0 or s.max_sites is not None for s in inst.services):
        families.append(("count limits", drop_counts))
    binding: list[str] = []
    undecided: list[str] = []
    cheapest: float | None = None
    for name, relax in families:  # at most three re-solves
        verdict, cost = _feasible(relax(inst), be, params, deadline)
        if verdict == "yes":
            binding.append(name)
            if name == "budget":
                cheapest = cost
        elif verdict == "unknown":
            undecided.append(name)
    together = False
    text = ""
    if binding:
        what = []
        for name in binding:
            if name == "budget":
                figures = _budget_figures(inst, cheapest)
                what.append("the budget" + (f" ({figures})" if figures else ""))
            elif name == "plot room":
                what.append("the plots' room (the services do not fit together on the plots that reach everyone)")
            else:
                limited = [
                    f"{s.name} (min {s.min_sites}" + (f", max {s.max_sites})" if s.max_sites is not None else ")")
                    for s in inst.services
                    if s.min_sites > 0 or s.max_sites is not None
                ]
                what.append("the count limits: " + ", ".join(limited))
        text = ("binding: " if len(binding) == 1 else "each of these alone blocks full coverage: ") + "; ".join(what)
    elif families and not undecided:
        relaxed = inst
        for _, relax in families:
            relaxed = relax(relaxed)
        verdict, _ = _feasible(relaxed, be, params, deadline)
        if verdict == "yes":
            together = True
            text = "no single family binds: " + ", ".join(n for n, _ in families) + " together block full coverage"
        elif verdict == "no":
            text = "full coverage is impossible even without room, budget and count limits"
    if undecided:
        text += ("; " if text else "") + "not decided in the time limit: " + ", ".join(undecided)
    return {"binding": binding, "together": together, "undecided": undecided, "text": text}
