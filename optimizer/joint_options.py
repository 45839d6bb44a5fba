"""The joint multi-service model with services' capacities and equity rules, solved and reported.

:func:`solve_joint_options` wraps :func:`optimizer.joint.solve_joint` (which builds the capacity and
floor blocks of :mod:`models.formulations.joint_capacity` and re-checks the plan with
:func:`models.evaluate_joint_options.evaluate_joint_options`):

1. with an equity rule, the *reference*: the same joint model without the equity rules (capacities
   kept), in a quarter of the time, for each group's share "before" and the coverage the rule costs;
2. with a max-min service, the first stage: ``max tau`` (rows (M)); ``tau*`` is the worst share the
   evaluator recounts from that stage's plan and assignment;
3. the joint model with every floor (the max-min service's at ``tau*``), tie-breaks as usual.

A floor no plan can meet raises :class:`InfeasibleError` naming, per group, the best share it can
reach if the service's plan served that group alone (:func:`optimizer.equity.best_alone` on the
service alone with its count limit and budget, capacities aside), as the split path does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import InfeasibleError, NoSolutionError
from siting.models.evaluate_joint_options import evaluate_joint_options
from siting.models.formulations.joint import joint_milp
from siting.models.formulations.joint_capacity import EquityData, JointOptions
from siting.models.instance import SitingInstance
from siting.models.multiservice import MultiServiceInstance
from siting.optimizer.equity import best_alone
from siting.optimizer.joint import JointResult, greedy_plan, solve_joint
from siting.optimizer.registry import get_backend
from siting.optimizer.result import Backend, SolveParams, Status

#: Seconds each group's "best share alone" solve of an infeasible floor's diagnosis may take.
DIAGNOSIS_SECONDS = 10.0
#: Largest row violation accepted in the max-min stage's start.
START_TOL = 1e-7


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _end_people(res: JointResult, inst: MultiServiceInstance, s: int) -> NDArray[np.float64]:
    """(n,) people of service s covered (served, with a capacity) at the end of a result's plan."""
    svc = inst.services[s]
    om = res.option_metrics
    if om is not None and svc.name in om.capacity:
        return svc.weights * om.capacity[svc.name].served_share
    return svc.weights * np.asarray(res.metrics.covered)[s]


def group_shares_of(res: JointResult, inst: MultiServiceInstance, name: str, eq: EquityData) -> NDArray[np.float64]:
    """Each group's covered (served) share of service ``name`` in a result's plan."""
    s = inst.service_index(name)
    total = eq.totals(inst.services[s].weights)
    cov = np.bincount(eq.code, weights=_end_people(res, inst, s), minlength=eq.G)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, cov / total, 1.0)


def service_alone(inst: MultiServiceInstance, name: str, eq: EquityData) -> tuple[SitingInstance, float]:
    """Service ``name`` as a single-service instance on its coverage pattern (distance 1 within reach,
    radius 1; one free existing column for the demand existing facilities cover), with its groups."""
    svc = inst.services[inst.service_index(name)]
    cov = svc.coverage
    d = sp.csr_array((np.ones(cov.nnz), cov.indices, cov.indptr), shape=cov.shape)
    ex = np.flatnonzero(svc.existing_covered)
    col = sp.csr_array((np.ones(ex.size), (ex, np.zeros(ex.size, dtype=np.int64))), shape=(inst.n, 1))
    d = sp.csr_array(sp.hstack([d, col], format="csr"))
    return (
        SitingInstance(
            distances=d,
            weights=svc.weights,
            demand_ids=inst.demand_ids,
            site_ids=np.append(np.asarray(inst.site_ids, dtype=object), "(existing)"),
            cost=np.append(svc.cost0, 0.0),
            existing=np.append(np.zeros(inst.m, dtype=bool), True),
            forbidden=np.append(~svc.eligible, False),
            groups=np.asarray(eq.labels)[eq.code],
            name=f"{inst.name}/{name}",
        ),
        1.0,
    )


def floor_diagnosis(
    inst: MultiServiceInstance, options: JointOptions, floors: dict[str, float], backend: Backend, params: SolveParams
) -> str:
    """Why the floors cannot all be met: per service, the groups short even alone and each group's best share alone."""
    parts: list[str] = []
    for name, floor in floors.items():
        eq = options.equity[name]
        svc = inst.services[inst.service_index(name)]
        alone, radius = service_alone(inst, name, eq)
        budgets = [b for b in (svc.budget, inst.total_budget) if b is not None]
        best = best_alone(alone, radius, svc.max_sites, min(budgets) if budgets else None, backend, params)
        short = {g: v for g, v in best.items() if v < floor - 1e-9}
        shown = ", ".join(f"{g} {_pct(v)}" for g, v in best.items())
        if short:
            parts.append(
                f"services.{name}.equity: groups {', '.join(short)} cannot reach {_pct(floor)} even if the plan "
                f"served them alone (best share each group reaches alone: {shown})"
            )
        else:
            parts.append(
                f"services.{name}.equity: each group can reach {_pct(floor)} alone (best share alone: {shown}) "
                "but not all at once within the shared budgets, count limits, plots"
                + (" and capacities" if name in options.capacity else "")
            )
    return "; ".join(parts)


def _worst_stage(
    inst: MultiServiceInstance,
    options: JointOptions,
    objective: str,
    backend: Backend,
    params: SolveParams,
    say: Callable[[str], None],
) -> tuple[float, dict[str, Any]]:
    """The max-min first stage: the largest worst-group share, recounted by the evaluator."""
    name = options.max_min_service
    assert name is not None
    p0, l0 = joint_milp(inst, objective, options=dataclasses.replace(options, worst_stage=True))
    say(f"max-min share of {name}, stage 1: {p0.num_vars:,} columns, {p0.num_rows:,} rows")
    x0 = l0.start(greedy_plan(inst, l0, objective))
    ws = x0 if x0 is not None and p0.max_violation(x0) <= START_TOL else None
    left = params.remaining()
    r0 = backend.solve(p0, params.within(None if left is None else 0.5 * left), ws)
    if r0.x is None:
        if ws is None:
            raise NoSolutionError(
                f"the max-min stage of {name} stopped without a plan ({r0.status.value}); try a longer time limit"
            )
        r0 = dataclasses.replace(r0, x=ws, objective=p0.objective_value(ws), status=Status.FEASIBLE)
    assert l0.options is not None and r0.x is not None
    plan0 = l0.open_phase(r0.x)
    om0 = evaluate_joint_options(inst, options, plan0, l0.options.named_assignment(r0.x), objective)
    t_star = om0.equity[name].worst
    ok = not om0.violations and t_star >= float(r0.objective or 0.0) - 1e-6
    record = {
        "name": "worst share",
        "status": r0.status.value,
        "objective": r0.objective,
        "bound": r0.bound,
        "gap": r0.gap,
        "seconds": r0.seconds,
        "limit": r0.limit.value,
        "rows": p0.num_rows,
        "cols": p0.num_vars,
        "nonzeros": int(p0.A.nnz),
        "worst_share_evaluated": t_star,
        "verified": ok,
    }
    bound = "-" if r0.bound is None else _pct(min(1.0, float(r0.bound)))
    say(f"worst share stage: {r0.status.value}, {_pct(t_star)} (bound {bound}), {r0.seconds:.1f} s")
    return t_star, record


def solve_joint_options(
    inst: MultiServiceInstance,
    options: JointOptions,
    objective: str = "max_coverage",
    solver: str = "highs",
    params: SolveParams | None = None,
    *,
    tie_break: bool = True,
    backend: Backend | None = None,
    progress: Callable[[str], None] | None = None,
    reference: bool = True,
) -> JointResult:
    """Solve the joint model with capacities and equity rules (module docstring).

    The result's ``option_stats["equity"]`` holds, per equity service, the record of the split path
    (``groups`` with ``share_before`` / ``share_after``, the worst group, ``floor_cost``); the
    status is OPTIMAL only if the max-min stage and the final model were proven.

    Raises
    ------
    InfeasibleError : the floors cannot be met (groups and their best shares alone named).
    NoSolutionError : a stage stopped without a plan.
    """
    params = (params or SolveParams()).started()
    be = backend if backend is not None else get_backend(solver)
    say = progress or (lambda _m: None)
    refs: JointResult | None = None
    if options.equity and reference:
        free = dataclasses.replace(options, equity={})
        left = params.remaining()
        try:
            refs = solve_joint(
                inst,
                objective,
                solver,
                params.within(None if left is None else 0.25 * left),
                tie_break=False,
                backend=be,
                options=free if free else None,
            )
        except InfeasibleError:  # the model is infeasible without the equity rules: not the floors' doing
            raise
        except NoSolutionError:
            refs = None
    stages: list[dict[str, Any]] = []
    final = options
    worst_name = options.max_min_service
    proven = True
    if worst_name is not None:
        t_star, rec = _worst_stage(inst, options, objective, be, params, say)
        stages.append(rec)
        proven = rec["status"] == Status.OPTIMAL.value
        eq = options.equity[worst_name]
        final = dataclasses.replace(
            options, equity={**options.equity, worst_name: EquityData(eq.code, eq.labels, min_share=t_star)}
        )
    floors = {k: float(e.min_share) for k, e in final.equity.items() if e.min_share is not None}
    try:
        res = solve_joint(
            inst, objective, solver, params, tie_break=tie_break, backend=be, progress=progress, options=final
        )
    except InfeasibleError as exc:  # the floors, or what the model without them already breaks
        if not floors:
            raise
        # the diagnosis gets its own short budget: the run's may be spent by now
        diag = dataclasses.replace(params, deadline=None, time_limit=DIAGNOSIS_SECONDS)
        why = floor_diagnosis(inst, final, floors, be, diag)
        raise InfeasibleError(
            f"the joint {objective} model of {inst.name!r} has no plan meeting the equity floors: {why}; lower the "
            "floor (min_share), raise the budget or max_sites, raise the capacities, or widen the reach"
        ) from exc
    stats: dict[str, Any] = {}
    if final.equity:
        stats["equity"] = {}
        for name, eq in final.equity.items():
            after = group_shares_of(res, inst, name, eq)
            before = group_shares_of(refs, inst, name, eq) if refs is not None else np.full(eq.G, np.nan)
            s = inst.service_index(name)
            worst = int(np.argmin(after)) if after.size else 0
            unconstrained = float(_end_people(refs, inst, s).sum()) if refs is not None else None
            covered = float(_end_people(res, inst, s).sum())
            stats["equity"][name] = {
                "objective": "maxmin" if name == worst_name else "floor",
                "min_share": None if name == worst_name else eq.min_share,
                "groups": [
                    {"group": str(g), "share_before": float(b), "share_after": float(a)}
                    for g, b, a in zip(eq.labels, before, after, strict=True)
                ],
                "worst_group": str(eq.labels[worst]),
                "worst_share_before": float(np.nanmin(before)) if refs is not None else None,
                "worst_share_after": float(after.min()) if after.size else 1.0,
                "unconstrained_objective": unconstrained,
                "unconstrained_status": refs.status.value if refs is not None else None,
                "floor_cost": None if unconstrained is None else unconstrained - covered,
                "served": name in final.capacity,
            }
    if refs is not None:
        stats["reference"] = {"status": refs.status.value, "objective": refs.objective, "bound": refs.bound}
    status = res.status if proven else Status.FEASIBLE
    message = res.message
    if not proven:
        message = "; ".join(
            filter(None, [message, "the worst group's share is not proven optimal (first stage stopped early)"])
        )
    verified = res.verified and all(bool(st.get("verified", True)) for st in stages)
    return dataclasses.replace(
        res,
        status=status,
        stages=stages + list(res.stages),
        message=message,
        verified=verified,
        option_stats=stats,
    )


__all__ = ["floor_diagnosis", "group_shares_of", "service_alone", "solve_joint_options"]
