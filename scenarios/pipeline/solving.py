"""Solving a built scenario: solver and parameter checks, and the one joint solve (``--split`` divides the budget first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import BackendUnavailableError, InfeasibleError, NoSolutionError, ScenarioError
from siting.optimizer.result import SolveParams
from siting.scenarios.build import JOINT_OBJECTIVES, BuiltScenario, ServiceProblem
from siting.scenarios.pipeline.progress import status_callback
from siting.scenarios.pipeline.service_options import check_service_options, coverage_spec, extra_options
from siting.scenarios.schema import ScenarioBody


@dataclass(eq=False)
class ServiceOutcome:
    """One service's part of the plan, recounted on its own instance by :func:`models.evaluate.evaluate`.

    Attributes
    ----------
    problem : the service's problem.
    order : column indices (of ``problem.instance``) of the plan's new sites, in rank order.
    gains : people newly covered by each, in that order.
    covered_before : people of the group within reach of an existing facility.
    covered_after : people within reach of the plan (existing + new).
    covered : (n,) demand points within reach after the plan.
    coverable : (n,) demand points some eligible or existing site reaches.
    check : the evaluator's recount of the final plan (``models.evaluate.PlanMetrics``).
    notes : what happened (limits not binding, ...).
    """

    problem: ServiceProblem
    order: NDArray[np.int64]
    gains: NDArray[np.float64]
    covered_before: float
    covered_after: float
    covered: NDArray[np.bool_]
    coverable: NDArray[np.bool_]
    check: Any
    notes: list[str] = field(default_factory=list)


@dataclass(eq=False)
class JointOutcome:
    """What the joint solve produced.

    Attributes
    ----------
    inst : the joint instance.
    mapping : ids and names behind its arrays.
    result : the solver's ``optimizer.joint.JointResult``.
    metrics : ``evaluate_joint``'s recount of the plan.
    rows : the ranked plan (``optimizer.ranking.RankedRow``, in rank order).
    checks : the plan's checks as written to summary.json (budgets, room, eligibility, counts, table).
    alternatives : the alternative plans (``JointResult``), when asked for.
    rephased : the solver's phases were re-assigned, earliest affordable first (:func:`rephase`).
    """

    inst: Any
    mapping: Any
    result: Any
    metrics: Any
    rows: list[Any]
    checks: dict[str, Any]
    alternatives: list[Any] = field(default_factory=list)
    rephased: bool = False
    #: ``--split``: services with a capacity, equity, decay or robust option, each solved alone on its
    #: own instance (``optimizer.solve.SitingResult`` by service name; see :func:`solve_option_services`).
    parts: dict[str, Any] = field(default_factory=dict)

    @property
    def open_phase(self) -> NDArray[np.int8]:
        """The plan written out (the solver's, re-phased when :func:`rephase` applies)."""
        return np.asarray(self.metrics.open_phase, dtype=np.int8)


def check_solver(name: str, where: str) -> str:
    """The solver name, checked: a heuristic, or an installed exact backend."""
    from siting.optimizer.registry import get_backend, solver_kind

    clean = name.strip()
    if solver_kind(clean) == "heuristic":
        return clean.lower()
    try:
        get_backend(clean)
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(f"{where}: {exc}") from None
    return clean


def solve_params(body: ScenarioBody, time_limit: float | None = None) -> SolveParams:
    """The scenario's solver settings as SolveParams; a command-line ``--time-limit`` overrides its own."""
    return SolveParams(
        time_limit=time_limit if time_limit is not None else body.solver.time_limit,
        mip_gap=body.solver.mip_gap,
        threads=body.solver.threads,
        seed=body.solver.seed,
    )


def coverage_matrix(problem: ServiceProblem) -> sp.csc_array:
    """Bool (n, m) CSC: ``a_ij = 1`` iff column j is within the service's reach of demand i."""
    return sp.csc_array(problem.instance.coverage(problem.reach_m))


#: A plot within this fraction of a chosen plot's gain counts as comparable in the plan's reasons.
COMPARABLE_TOL = 0.1


def solve_mode(body: ScenarioBody, split: bool = False, alternatives: int = 0, source: str = "") -> str:
    """``split`` with ``--split`` (budget divided per service in advance), else ``joint``.

    Both modes solve the same joint model (:func:`solve_joint_scenario`); a scenario with one
    service is a joint model with one service. Raises when ``--split`` cannot do what is asked.
    """
    where = source + ": " if source else ""
    capped = [name for name, svc in body.services.items() if svc.capacity is not None]
    if capped and body.objective == "pmedian":
        raise ScenarioError(
            f"{where}services.{capped[0]}.capacity: the scenario model has no facility capacities, so a capacity "
            "cannot be honoured; remove capacity (siting solve --capacitated solves a capacitated p-median of one "
            "instance)"
        )
    check_service_options(body, "split" if split else "joint", source)
    if alternatives and not split and any(extra_options(svc) for svc in body.services.values()):
        raise ScenarioError(
            f"{where}--alternatives does not take services' capacity or equity rules yet; run without --alternatives"
        )
    if split:
        if body.objective in JOINT_OBJECTIVES:
            raise ScenarioError(
                f"{source + ': ' if source else ''}objective: {body.objective} needs the joint multi-service model; "
                "run without --split (or choose max_coverage, pmedian or min_cost)"
            )
        if alternatives:
            raise ScenarioError("--alternatives needs the joint multi-service model; run without --split")
        return "split"
    return "joint"


def joint_solver(name: str, where: str) -> str:
    """The solver name, refused when it is a single-service heuristic (``siting run`` solves the joint model)."""
    from siting.optimizer.registry import solver_kind

    if solver_kind(name) == "heuristic":
        raise ScenarioError(
            f"{where}: {name} is a single-service heuristic; siting run solves the joint multi-service model, "
            "which needs an exact solver (highs, cbc, cpsat, scip, pulp:NAME); heuristics run in siting solve "
            "and siting compare"
        )
    return name


def scenario_instance(built: BuiltScenario, split: bool = False) -> tuple[Any, Any]:
    """The joint instance of a built scenario and its id mapping; with ``split``, divided per service.

    ``split`` (``siting run --split``; ``built`` from :func:`scenarios.build.build`, which fixed each
    service's budget in advance: ``budget.per_service``, or its share of ``budget.total``, see
    :func:`scenarios.build.resolve_budgets`): every service on its own with that budget
    (:meth:`models.multiservice.MultiServiceInstance.split`: no shared total or phase budget,
    plots not shared). ``min_cost`` keeps no budget either way: it reports what full coverage costs.
    """
    import dataclasses

    from siting.scenarios.joint_build import to_multiservice

    inst, mapping = to_multiservice(built)
    if not split:
        return inst, mapping
    body = built.scenario
    budgets = {name: (pb.budget if body.objective != "min_cost" else None) for name, pb in built.services.items()}
    mapping = dataclasses.replace(
        mapping,
        phases=("all",),
        budget_source={name: pb.budget_source for name, pb in built.services.items()},
    )
    return inst.split(budgets), mapping


def solve_joint_scenario(
    built: BuiltScenario,
    solver: str,
    params: SolveParams,
    progress: Any,
    *,
    alternatives: int = 0,
    tolerance: float = 0.02,
    split: bool = False,
) -> JointOutcome:
    """Solve a built scenario jointly, rank and re-check the plan (and find alternatives).

    ``split``: the budget divided per service in advance (:func:`scenario_instance`); the same
    model, solver call and ranking otherwise.

    Raises
    ------
    InfeasibleError : no plan meets the limits (e.g. min_sites that the budgets cannot pay for).
    NoSolutionError : the solver stopped without a plan.
    """
    from siting.models.multiservice import evaluate_joint
    from siting.optimizer import joint as joint_api
    from siting.optimizer.ranking import earliest_phases, rank_plan

    body = built.scenario
    inst, mapping = scenario_instance(built, split)
    phases = f", phases {', '.join(inst.phases)}" if inst.T > 1 else ""
    label = f"solving {'each service on its own' if split else 'jointly'} ({body.objective}, {inst.S} services, {inst.n} demand x {inst.m} plots{phases})"
    plans: list[Any] = []
    parts: dict[str, Any] = {}
    try:
        if alternatives:
            # the first alternative is the best plan itself: one solve less
            label += f" and {alternatives - 1} alternatives within {100 * tolerance:g} %" if alternatives > 1 else ""
            with progress.step(label):
                plans = list(
                    joint_api.alternatives(
                        inst, alternatives, tolerance, objective=body.objective, solver=solver, params=params
                    )
                )
            res = plans[0]
        elif split and option_services(built):
            res, parts = solve_option_services(built, inst, mapping, solver, params, progress)
        elif not split and (options := joint_options_of(built, inst)) is not None:
            # services' capacities / equity rules inside the one joint model
            from siting.optimizer.joint_options import solve_joint_options

            with progress.step(label + f" with {', '.join(option_services(built))}'s capacity / equity"):
                res = solve_joint_options(
                    inst, options, body.objective, solver, params, progress=status_callback(progress)
                )
        else:
            with progress.step(label):
                res = joint_api.solve_joint(
                    inst, objective=body.objective, solver=solver, params=params, progress=status_callback(progress)
                )
    except (InfeasibleError, NoSolutionError) as exc:
        raise type(exc)(f"{built.source}: {exc}") from None
    plan = np.asarray(res.open_phase, dtype=np.int8)
    rephased = False
    if rephase(body.objective, inst):
        plan = earliest_phases(inst, plan, mapping.site_order)
        rephased = bool((plan != res.open_phase).any())
    metrics = evaluate_joint(inst, plan)
    with progress.step("ranking the plan"):
        rows = rank_plan(
            inst,
            plan,
            groups=mapping.group_people,
            site_order=mapping.site_order,
            comparable_tol=COMPARABLE_TOL,
        )
        rows = served_ranking(built, inst, mapping, rows, parts)
    return JointOutcome(
        inst=inst,
        mapping=mapping,
        result=res,
        metrics=metrics,
        rows=rows,
        checks={},
        alternatives=plans,
        rephased=rephased,
        parts=parts,
    )


def served_ranking(built: BuiltScenario, inst: Any, mapping: Any, rows: list[Any], parts: dict[str, Any]) -> list[Any]:
    """The ranked rows of every capacitated covering service recounted in served demand
    (:func:`optimizer.capacity_ranking.served_rows`): gain, cumulative and drop-one loss are what
    each site takes within its capacity, not the people it reaches. A service solved alone
    (``--split``) takes its reach from its model; one inside the joint model from its problem."""
    from siting.optimizer.capacity_ranking import served_rows

    covering = built.scenario.objective in ("max_coverage", "phased", "min_cost")
    for name, svc in built.scenario.services.items():
        part = parts.get(name)
        if part is not None:
            spec = part.spec
            if not (spec.capacitated and spec.model in ("mclp", "lscp")):
                continue
            radius, allow_split = float(spec.radius or 0.0), spec.allow_split
        elif svc.capacitated and covering and not parts:
            radius, allow_split = float(built.services[name].reach_m or 0.0), svc.allow_split
        else:
            continue
        pi = built.services[name].instance
        s = inst.service_index(name)
        column = {str(pi.site_ids[c]): c for c in np.flatnonzero(~np.asarray(pi.existing, dtype=bool))}
        ids = np.asarray(mapping.site_ids)
        cols = np.array([column[str(ids[r.site])] for r in rows if r.service == s], dtype=np.int64)
        rows = served_rows(rows, s, cols, pi, radius, allow_split, float(svc.weight))
    return rows


def decay_notes(parts: dict[str, Any]) -> list[str]:
    """One note per service solved with gradual reach, naming its rule (the step table, or the linear fall)."""
    return [
        f"{name}: gradual reach by {part.stats['decay']['text']} (metres)"
        for name, part in parts.items()
        if "decay" in part.stats
    ]


def joint_options_of(built: BuiltScenario, inst: Any) -> Any:
    """The services' capacities and equity rules for the joint model (None without any)."""
    from siting.scenarios.joint_build import joint_options

    return joint_options(built, inst)


def rephase(objective: str, inst: Any) -> bool:
    """Whether a plan's phases are re-assigned by :func:`optimizer.ranking.earliest_phases`: with
    several phases, for every objective but ``phased`` (the others value only the end state, so the
    solver's phases are arbitrary)."""
    return inst.T > 1 and objective != "phased"


def option_services(built: BuiltScenario) -> list[str]:
    """The services with a capacity, equity, gradual-reach or robust option, in scenario order."""
    body = built.scenario
    return [name for name in built.services if extra_options(body.services[name])]


def service_spec(built: BuiltScenario, problem: ServiceProblem) -> Any:
    """The single-service ``optimizer.solve.ModelSpec`` of a service with options (``--split``).

    ``max_coverage`` is the MCLP with the service's budget and ``max_sites``; ``min_cost`` the LSCP
    (least cost, or fewest sites without costs). :func:`coverage_spec` adds the capacities, the
    equity rule, gradual reach or the sampled demand scenarios.
    """
    from siting.optimizer.solve import ModelSpec

    body = built.scenario
    if body.objective == "max_coverage":
        spec = ModelSpec("mclp", p=problem.max_sites, radius=problem.reach_m, budget=problem.budget)
    elif body.objective == "min_cost":
        spec = ModelSpec("lscp", radius=problem.reach_m, lscp_objective="cost" if problem.cost_known else "count")
    else:  # check_service_options refuses the options for the other objectives first
        raise ScenarioError(
            f"services.{problem.name}: capacity, equity, decay and robust need objective max_coverage "
            f"(capacity also min_cost), not {body.objective}"
        )
    return coverage_spec(spec, problem.service, body.distance.walking_speed_kmh)


def solve_option_services(
    built: BuiltScenario, inst: Any, mapping: Any, solver: str, params: SolveParams, progress: Any
) -> tuple[Any, dict[str, Any]]:
    """``--split`` with options: the services that carry them solved alone, the others jointly.

    With the budget divided in advance no constraint links two services (see
    :meth:`models.multiservice.MultiServiceInstance.split`), so the plan is the union of independent
    parts: each service with options is solved by :func:`optimizer.solve.solve` on its own
    instance (``ServiceProblem.instance``: its eligible candidates, then each existing facility
    as its own column with its own capacity) with :func:`service_spec`; the services without
    options are one joint model on the rest (:func:`optimizer.joint.solve_joint`). Its chosen
    candidates become the service's row of the joint plan (phase 0).

    The joint record is the sum of the parts: ``objective = sum_s f_s`` and ``bound = sum_s b_s``
    (None when a part has no bound), where a service with options contributes its own model's
    objective times the service ``weight`` (people served within capacities, covered with the
    floor, decayed coverage, worst-case or mean coverage; for ``min_cost`` its cost unweighted)
    and the rest its joint objective. The status is OPTIMAL only if every part is.
    """
    import dataclasses

    import pandas as pd

    from siting.models.multiservice import evaluate_joint
    from siting.optimizer import joint as joint_api
    from siting.optimizer.result import Status, relative_gap
    from siting.optimizer.solve import solve

    body = built.scenario
    names = option_services(built)
    plan = np.full((inst.S, inst.m), -1, dtype=np.int8)
    sites = pd.Index(np.asarray(mapping.site_ids).astype(str))
    parts: dict[str, Any] = {}
    pieces: list[tuple[str, Any, float]] = []  # (label, result, factor on its objective and bound)
    stages: list[dict[str, Any]] = []
    for name in names:
        pb = built.services[name]
        spec = service_spec(built, pb)
        pi = pb.instance
        with progress.step(
            f"solving {name} alone ({', '.join(extra_options(pb.service))}, {pi.n} demand x {pi.m} sites)"
        ):
            try:
                part = solve(pi, spec, solver=solver, params=params)
            except (InfeasibleError, NoSolutionError) as exc:  # name the service's option behind it
                raise type(exc)(f"services.{name}.{extra_options(pb.service)[0]}: {exc}") from None
        if not part.status.has_solution:
            raise NoSolutionError(
                f"services.{name}: the solver stopped without a plan ({part.status.value}) {part.message}"
            )
        parts[name] = part
        chosen = np.flatnonzero(np.asarray(part.open_sites, dtype=bool) & ~np.asarray(pi.existing, dtype=bool))
        glob = sites.get_indexer(np.asarray(pi.site_ids)[chosen].astype(str))
        if (glob < 0).any():  # every candidate column of a service is a plot of the sites layer
            raise ScenarioError(f"services.{name}: chosen sites missing from the sites layer")
        plan[inst.service_index(name), glob] = 0
        factor = 1.0 if body.objective == "min_cost" else float(pb.service.weight)
        pieces.append((name, part, factor))
        stages.append(
            {
                "name": f"{name} alone ({spec.model}, {', '.join(extra_options(pb.service))})",
                "status": part.status.value,
                "objective": part.objective,
                "bound": part.bound,
                "gap": part.gap,
                "seconds": round(float(part.seconds), 4),
            }
        )
    rest = [s for s in inst.services if s.name not in names]
    rest_res = None
    if rest:
        sub = dataclasses.replace(inst, services=tuple(rest))
        with progress.step(
            f"solving the other {len(rest)} service(s) ({body.objective}, {inst.n} demand x {inst.m} plots)"
        ):
            rest_res = joint_api.solve_joint(sub, objective=body.objective, solver=solver, params=params)
        for k, svc in enumerate(rest):
            plan[inst.service_index(svc.name)] = rest_res.open_phase[k]
        pieces.append(("the other services", rest_res, 1.0))
        stages += [dict(st, name=f"others: {st.get('name', '')}") for st in rest_res.stages]
    metrics = evaluate_joint(inst, plan)
    objective = float(sum(f * float(r.objective) for _, r, f in pieces))
    bounds = [None if r.bound is None else f * float(r.bound) for _, r, f in pieces]
    bound = None if any(b is None for b in bounds) else float(sum(b for b in bounds if b is not None))
    optimal = all(r.status == Status.OPTIMAL for _, r, _ in pieces)
    note = (
        "--split with service options: "
        + ", ".join(f"{n} solved alone ({', '.join(extra_options(body.services[n]))})" for n in names)
        + (", the other services jointly" if rest else "")
        + "; objective and bound are the sums of the parts' objectives and bounds"
        + ("" if body.objective == "min_cost" else " (each service's own model objective times its weight)")
        + "; joint.weighted_coverage is the plan's plain coverage, recounted by the evaluator"
    )
    res = joint_api.JointResult(
        open_phase=plan,
        status=Status.OPTIMAL if optimal else Status.FEASIBLE,
        objective=objective,
        bound=bound,
        gap=relative_gap(objective, bound),
        seconds=float(sum(float(r.seconds) for _, r, _ in pieces)),
        solver=solver,
        solver_version=next((str(r.solver_version) for _, r, _ in pieces if r.solver_version), ""),
        stages=stages,
        metrics=metrics,
        verified=all(bool(r.verified) for _, r, _ in pieces) and metrics.feasible,
        objective_name=body.objective,
        message="; ".join(m for m in (getattr(r, "message", "") for _, r, _ in pieces) if m),
        notes=[note, *decay_notes(parts), *(rest_res.notes if rest_res is not None else [])],
        service_names=tuple(s.name for s in inst.services),
        site_ids=np.asarray(inst.site_ids),
    )
    return res, parts
