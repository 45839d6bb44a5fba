"""Solving a built scenario: solver and parameter checks, per-service solves (split mode) and the joint solve."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import BackendUnavailableError, InfeasibleError, NoSolutionError, ScenarioError
from siting.models.evaluate import evaluate
from siting.optimizer.result import SolveParams
from siting.scenarios.build import JOINT_OBJECTIVES, BuiltScenario, ServiceProblem
from siting.scenarios.geodata.layers import natural_key
from siting.scenarios.pipeline.progress import status_callback
from siting.scenarios.schema import ScenarioBody


@dataclass(eq=False)
class ServiceOutcome:
    """What one service's solve produced.

    Attributes
    ----------
    problem : the service's problem.
    result : the solver's result (``optimizer.solve.SitingResult``), None when ``max_sites`` is 0.
    order : column indices of the plan's new sites, in rank order.
    gains : people newly covered by each, in that order.
    covered_before : people of the group within reach of an existing facility.
    covered_after : people within reach of the plan (existing + new).
    covered : (n,) demand points within reach after the plan.
    coverable : (n,) demand points some eligible or existing site reaches.
    check : the evaluator's recount of the final plan (``models.evaluate.PlanMetrics``).
    notes : what happened (sites dropped because they add nothing, limits not binding, ...).
    """

    problem: ServiceProblem
    result: Any
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

    @property
    def open_phase(self) -> NDArray[np.int8]:
        """The plan written out (the solver's, re-phased when :func:`rephase` applies)."""
        return np.asarray(self.metrics.open_phase, dtype=np.int8)


def check_solver(name: str, where: str) -> str:
    """The solver name, checked: a heuristic, or an installed exact backend."""
    from siting.optimizer.registry import get_backend
    from siting.optimizer.solve import HEURISTIC_SOLVERS

    clean = name.strip()
    if clean.lower() in HEURISTIC_SOLVERS:
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


def model_spec(built: BuiltScenario, problem: ServiceProblem) -> Any:
    """The ``optimizer.solve.ModelSpec`` of a service under the scenario's objective."""
    from siting.optimizer.solve import ModelSpec

    objective = built.scenario.objective
    if objective == "max_coverage":
        return ModelSpec("mclp", p=problem.max_sites, radius=problem.reach_m, budget=problem.budget)
    if objective == "pmedian":
        return ModelSpec(
            "pmedian", p=problem.max_sites, budget=problem.budget, capacitated=problem.service.capacity is not None
        )
    if objective == "min_cost":
        return ModelSpec("lscp", radius=problem.reach_m, lscp_objective="cost" if problem.cost_known else "count")
    raise ScenarioError(  # build() already refuses these; kept for direct callers
        f"objective {objective} needs the joint multi-service model (siting run without --split); "
        "use max_coverage, pmedian or min_cost"
    )


def coverage_matrix(problem: ServiceProblem) -> sp.csc_array:
    """Bool (n, m) CSC: ``a_ij = 1`` iff column j is within the service's reach of demand i."""
    return sp.csc_array(problem.instance.coverage(problem.reach_m))


def rank_sites(
    cover: sp.csc_array,
    weights: NDArray[np.float64],
    start: NDArray[np.bool_],
    chosen: NDArray[np.int64],
    ids: NDArray[Any],
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
    """Order chosen sites by marginal coverage, greedily.

    Starting from the demand ``start`` already covered (by existing facilities), repeatedly take the
    chosen site j with the largest gain ``g_j = sum_{i not yet covered} w_i a_ij`` (ties: the smaller
    id in natural order), then mark its demand covered. Gains are non-increasing down the list and
    add up to the coverage of the whole plan.

    Returns
    -------
    order : the chosen columns in rank order.
    gains : people newly covered by each.
    covered : (n,) covered after all of them.
    """
    covered = start.copy()
    left = list(chosen)
    tie = {int(j): natural_key(ids[j]) for j in chosen}
    order: list[int] = []
    gains: list[float] = []
    sub = cover[:, np.asarray(left, dtype=np.int64)] if left else None
    while left:
        assert sub is not None
        open_weight = np.where(covered, 0.0, weights)
        g = np.asarray(sub.T @ open_weight, dtype=np.float64).ravel()
        best_gain = g.max()
        ties = [k for k in range(len(left)) if abs(g[k] - best_gain) <= 1e-9 * max(1.0, abs(best_gain))]
        k = min(ties, key=lambda t: tie[int(left[t])])
        j = int(left[k])
        order.append(j)
        gains.append(float(g[k]))
        col = cover[:, [j]]
        covered[col.indices] = True
        keep = [t for t in range(len(left)) if t != k]
        left = [left[t] for t in keep]
        sub = sub[:, keep] if left else None
    return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=np.float64), covered


def solve_service(
    built: BuiltScenario, problem: ServiceProblem, solver: str, params: SolveParams, progress: Any
) -> ServiceOutcome:
    """Solve one service, rank its plan and recount it with the evaluator."""
    from siting.optimizer.solve import solve

    inst = problem.instance
    notes: list[str] = []
    cover = coverage_matrix(problem)
    w = inst.weights
    existing_cols = np.flatnonzero(inst.existing)
    before_mask = np.zeros(inst.n, dtype=bool)
    if existing_cols.size:
        before_mask[cover[:, existing_cols].tocoo().row] = True
    coverable = np.zeros(inst.n, dtype=bool)
    coverable[cover.tocoo().row] = True
    spec = model_spec(built, problem)
    result = None
    if problem.max_sites == 0 and built.scenario.objective != "min_cost":
        notes.append("max_sites is 0: no new site is planned")
        chosen = np.zeros(0, dtype=np.int64)
    else:
        label = {"mclp": "maximal covering", "pmedian": "p-median", "lscp": "least-cost covering"}[spec.model]
        with progress.step(f"solving {problem.name} ({label}, {inst.n} demand x {inst.m} sites)"):
            result = solve(inst, spec, solver=solver, params=params)
        chosen = np.flatnonzero(result.open_sites & ~inst.existing)
    order, gains, covered = rank_sites(cover, w, before_mask, chosen, inst.site_ids)
    if built.scenario.objective == "max_coverage" and gains.size and (gains <= 0).any():
        # the MCLP is indifferent to sites that add nobody once the others are open: do not build them
        useless = order[gains <= 0]
        notes.append(
            f"{useless.size} site(s) the solver opened add no coverage after the others and are left out: "
            + ", ".join(str(inst.site_ids[j]) for j in useless)
        )
        keep = gains > 0
        order, gains = order[keep], gains[keep]
    final = np.zeros(inst.m, dtype=bool)
    final[existing_cols] = True
    final[order] = True
    p_check = spec.p if spec.model in ("mclp", "pmedian") else None
    check = evaluate(inst, final, radius=problem.reach_m, p=p_check, budget=spec.budget)
    before = float(w[before_mask].sum())
    after = float(check.covered_weight or 0.0)
    if not math.isclose(before + float(gains.sum()), after, rel_tol=1e-9, abs_tol=1e-6):
        notes.append(f"ranked gains add up to {before + gains.sum():.10g}, the evaluator counts {after:.10g}")
    svc = problem.service
    cost = float(inst.cost[order].sum())
    if spec.model == "lscp":
        if problem.max_sites is not None and order.size > problem.max_sites:
            notes.append(
                f"covering everything coverable needs {order.size} new sites, more than max_sites = {problem.max_sites}"
            )
        if problem.budget is not None and cost > problem.budget:
            notes.append(f"covering everything coverable costs {cost:,.0f}, more than the budget {problem.budget:,.0f}")
    if svc.min_sites and order.size < svc.min_sites:
        notes.append(
            f"the plan opens {order.size} new sites, fewer than min_sites = {svc.min_sites} (min_sites is enforced "
            "by the joint model, siting run without --split; here more sites would add no coverage or break a limit)"
        )
    return ServiceOutcome(
        problem=problem,
        result=result,
        order=order,
        gains=gains,
        covered_before=before,
        covered_after=after,
        covered=np.asarray(check.covered, dtype=bool) if check.covered is not None else covered,
        coverable=coverable,
        check=check,
        notes=notes,
    )


#: A plot within this fraction of a chosen plot's gain counts as comparable in the plan's reasons.
COMPARABLE_TOL = 0.1


def solve_mode(body: ScenarioBody, split: bool = False, alternatives: int = 0, source: str = "") -> str:
    """``joint`` or ``split`` (module docstring); raises when ``--split`` cannot do what is asked."""
    if split:
        if body.objective in JOINT_OBJECTIVES:
            raise ScenarioError(
                f"{source + ': ' if source else ''}objective: {body.objective} needs the joint multi-service model; "
                "run without --split (or choose max_coverage, pmedian or min_cost)"
            )
        if alternatives:
            raise ScenarioError("--alternatives needs the joint multi-service model; run without --split")
        return "split"
    joint = len(body.services) > 1 or body.objective in JOINT_OBJECTIVES or bool(body.budget.phases) or alternatives > 0
    return "joint" if joint else "split"


def joint_solver(name: str, where: str) -> str:
    from siting.optimizer.solve import HEURISTIC_SOLVERS

    if name in HEURISTIC_SOLVERS:
        raise ScenarioError(
            f"{where}: {name} is a single-service heuristic; the joint multi-service model needs an exact "
            "solver (highs, cbc, cpsat, scip, pulp:NAME), or run each service on its own with --split"
        )
    return name


def solve_joint_scenario(
    built: BuiltScenario,
    solver: str,
    params: SolveParams,
    progress: Any,
    *,
    alternatives: int = 0,
    tolerance: float = 0.02,
) -> JointOutcome:
    """Solve a built scenario jointly, rank and re-check the plan (and find alternatives).

    Raises
    ------
    InfeasibleError : no plan meets the limits (e.g. min_sites that the budgets cannot pay for).
    NoSolutionError : the solver stopped without a plan.
    """
    from siting.models.multiservice import evaluate_joint
    from siting.optimizer import joint as joint_api
    from siting.optimizer.ranking import earliest_phases, rank_plan
    from siting.scenarios.joint_build import to_multiservice

    body = built.scenario
    inst, mapping = to_multiservice(built)
    phases = f", phases {', '.join(inst.phases)}" if inst.T > 1 else ""
    label = f"solving jointly ({body.objective}, {inst.S} services, {inst.n} demand x {inst.m} plots{phases})"
    plans: list[Any] = []
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
    return JointOutcome(
        inst=inst,
        mapping=mapping,
        result=res,
        metrics=metrics,
        rows=rows,
        checks={},
        alternatives=plans,
        rephased=rephased,
    )


def rephase(objective: str, inst: Any) -> bool:
    """Whether a plan's phases are re-assigned by :func:`optimizer.ranking.earliest_phases`: with
    several phases, for every objective but ``phased`` (the others value only the end state, so the
    solver's phases are arbitrary)."""
    return inst.T > 1 and objective != "phased"
