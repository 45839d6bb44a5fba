"""One entry point for every siting model and solver: ``solve(instance, spec, solver, params)``.

The result always carries an independent evaluation of the plan (``models.evaluate``); its
objective is the evaluated one, and ``stats["solver_objective"]`` keeps what the solver said.
A mismatch between the two beyond tolerance is reported in ``message`` and flips ``verified``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import budget_problem, p_problem, radius_problem
from siting.models.errors import DataError, InfeasibleError, NoSolutionError, ScenarioError
from siting.models.evaluate import PlanMetrics, evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.coverage_choice import coverage_formulation, coverage_prover
from siting.optimizer.heuristics.backend import HeuristicBackend
from siting.optimizer.model_options import OPTION_FLAGS, OPTION_MODELS, option_conflicts
from siting.optimizer.registry import (
    DEFAULT_SOLVER,
    EXACT_SOLVERS,
    HEURISTIC_SOLVERS,
    SOLVER_NAMES,
    get_backend,
    get_solver,
    solver_table,
)
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status, relative_gap

# the solver names stay importable from here, where callers have always found them
__all__ = [
    "EXACT_SOLVERS",
    "FORMULATIONS",
    "HEURISTIC_SOLVERS",
    "MODELS",
    "OPTION_FLAGS",
    "OPTION_MODELS",
    "SOLVER_NAMES",
    "TIE_BREAK_MIN_SECONDS",
    "ModelSpec",
    "Progress",
    "SitingResult",
    "check_spec",
    "option_conflicts",
    "solve",
    "solver_table",
    "spec_options",
    "warm_vector",
]
MODELS = ("mclp", "lscp", "pmedian", "pcenter")
FORMULATIONS = ("auto", "classic", "radius", "benders", "compact", "reduced")
#: Above this many demand-site pairs the p-median's heuristic start runs on a truncated instance (its
#: dense working copies would exceed the memory a city-sized run may use; optimizer/pmedian_start.py) ...
PMEDIAN_START_ENTRIES = 50_000_000
#: How many sites each client keeps there: optimizer.pmedian_start.start_width.

#: The p-median's exact path leaves out the sites the start's Lagrangian closes when they are at
#: least this share of all (the kept sites' distances are a copy: worth it only when it is small)
CLOSED_SHARE = 0.5

Progress = Callable[[str], None]
#: Nonzeros HiGHS presolves per second, conservatively (measured ~350,000/s on one busy core):
#: a warm-start LP larger than this times its time share is not attempted.
_WARM_NNZ_PER_SECOND = 200_000

#: Least time the cheapest-plan stage may take, whatever the first stage took (see :func:`_cheapest`).
TIE_BREAK_MIN_SECONDS = 5.0


def spec_options(spec: ModelSpec) -> dict[str, Any]:
    """The options of ``spec`` that differ from their defaults (what the caller set)."""
    given: dict[str, Any] = {}
    for name, value, default in (
        ("p", spec.p, None),
        ("radius", spec.radius, None),
        ("budget", spec.budget, None),
        ("capacitated", spec.capacitated, False),
        ("allow_split", spec.allow_split, False),
        ("objective", spec.lscp_objective, "cost"),
        ("formulation", spec.formulation, "auto"),
        ("min_group_share", spec.min_group_share, None),
        ("maxmin_groups", spec.maxmin_groups, False),
        ("reach_full", spec.reach_full, None),
        ("reach_max", spec.reach_max, None),
        ("decay_steps", spec.decay_steps, None),
        ("robust_samples", spec.robust_samples, None),
        ("robust_noise", spec.robust_noise, 0.15),
        ("robust_seed", spec.robust_seed, 0),
        ("robust_objective", spec.robust_objective, "worst"),
    ):
        if value != default:
            given[name] = value
    return given


@dataclass(frozen=True)
class ModelSpec:
    """Which siting model to solve, and its parameters.

    Attributes
    ----------
    model : ``mclp`` (maximise covered weight within ``radius``), ``lscp`` (cover all coverable
        demand within ``radius`` at least cost or with fewest sites), ``pmedian`` (minimise total
        weighted distance), ``pcenter`` (minimise the largest distance).
    p : maximum number of new sites.
    radius : service radius (same unit as the distances).
    budget : maximum total cost of new sites.
    capacitated : site capacities (the sites' ``capacity``): p-median, and the MCLP / LSCP, where a
        point counts only when a facility within reach has room for it.
    allow_split : a capacitated model may split a demand point between sites.
    lscp_objective : ``cost`` (least total cost) or ``count`` (fewest sites).
    formulation : p-median formulation: ``classic`` assignment form, ``radius`` form of Elloumi
        (2010), ``benders`` decomposition of the radius form, or ``auto``. MCLP / LSCP:
        ``compact`` (the merged-row MILP handed to the solver as is) or ``reduced`` (heuristic
        incumbent, dominated sites, LP bound and reduced-cost fixing, then the compact MILP on
        what is left: :mod:`optimizer.coverage_exact`) or ``benders`` (the same incumbent and
        reductions, then Benders in the site space for the MCLP and row generation for the LSCP:
        :mod:`optimizer.coverage_benders`, :mod:`optimizer.coverage_rowgen`); ``auto`` is
        ``benders`` on the highs solver from ``coverage_choice.COVERAGE_AUTO_PAIRS`` demand-site
        pairs within the radius on, ``compact`` below. For the LSCP, ``reduced`` is the reduced-rows
        path of :mod:`optimizer.coverage_lscp` (dominated rows and sites, LP bound, core MILP, region
        search, block bound, fixing), which ``auto`` takes from ``coverage_choice.LSCP_REDUCED_PAIRS``
        pairs on, on highs and on scip. Both reduced paths (the MCLP's and the LSCP's) run on highs
        or scip; SCIP then runs their last branch and bound, as it does under the default solver
        ``auto`` (``coverage_choice.coverage_prover``).
    min_group_share : MCLP: every demand group (the instance's ``groups``) has at least this
        share of its demand covered (:mod:`models.formulations.equity`).
    maxmin_groups : MCLP: maximise the worst group's covered share, then total coverage.
    reach_full, reach_max : MCLP with gradual reach instead of ``radius``: coverage 1 within
        ``reach_full``, falling linearly to 0 at ``reach_max`` (:mod:`models.formulations.decay`).
    decay_steps : MCLP with gradual reach by a step table ``((r_1, c_1), ...)``: credit ``c_k`` within
        ``r_k`` (increasing), 0 beyond the last step; instead of ``radius`` and the linear fall.
    robust_samples, robust_noise, robust_seed, robust_objective : MCLP over K sampled demand
        scenarios, weights ``w (1 + noise N(0, 1))`` clipped at 0: the worst or the mean case
        (:mod:`models.formulations.robust`).
    """

    model: Literal["mclp", "lscp", "pmedian", "pcenter"]
    p: int | None = None
    radius: float | None = None
    budget: float | None = None
    capacitated: bool = False
    allow_split: bool = False
    lscp_objective: Literal["cost", "count"] = "cost"
    formulation: Literal["auto", "classic", "radius", "benders", "compact", "reduced"] = "auto"
    min_group_share: float | None = None
    maxmin_groups: bool = False
    reach_full: float | None = None
    reach_max: float | None = None
    decay_steps: tuple[tuple[float, float], ...] | None = None
    robust_samples: int | None = None
    robust_noise: float = 0.15
    robust_seed: int = 0
    robust_objective: Literal["worst", "mean"] = "worst"


@dataclass(frozen=True, eq=False)
class SitingResult:
    """A solved (or attempted) siting model, with its evaluated plan."""

    spec: ModelSpec
    status: Status
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    solver: str
    solver_version: str
    limit: Limit
    open_sites: NDArray[np.bool_]
    open_site_ids: list[Any]
    metrics: PlanMetrics | None
    uncoverable_ids: list[Any]
    result: SolveResult
    stats: dict[str, Any] = field(default_factory=dict)
    verified: bool = True
    message: str = ""
    n: int = 0
    m: int = 0
    new_site_ids: list[Any] = field(default_factory=list)
    existing_site_ids: list[Any] = field(default_factory=list)
    #: capacitated coverage: facility loads, who is served by whom (``models.evaluate_capacity``)
    capacity: Any = None
    instance: Any = None

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return v.item() if isinstance(v, np.generic) else v

        return (
            {
                "status": self.status.value,
                "objective": self.objective,
                "bound": self.bound,
                "gap": self.gap,
                "seconds": round(self.seconds, 4),
                "solver": self.solver,
                "solver_version": self.solver_version,
                "limit": self.limit.value,
                "model": self.spec.model,
                "formulation": self.stats.get("formulation", self.spec.formulation),
                "p": self.spec.p,
                "radius": self.spec.radius,
                "budget": self.spec.budget,
                "n": self.n,
                "m": self.m,
                "open_site_ids": [plain(v) for v in self.open_site_ids],
                "new_site_ids": [plain(v) for v in self.new_site_ids],
                "existing_site_ids": [plain(v) for v in self.existing_site_ids],
                "uncoverable_ids": [plain(v) for v in self.uncoverable_ids],
                "verified": self.verified,
                "message": self.message,
                "evaluated": self.metrics.to_dict() if self.metrics is not None else None,
            }
            | (
                {"capacity": self.capacity.to_dict(self.instance, self.open_sites)}
                if self.capacity is not None and self.instance is not None
                else {}
            )
            | {k: self.stats[k] for k in ("equity", "robust", "decay") if k in self.stats}
        )


# --------------------------------------------------------------------------------- checking
def check_spec(instance: SitingInstance, spec: ModelSpec) -> None:
    """Reject a model specification that cannot make sense for this instance, naming the fix."""
    problems: list[str] = []
    if spec.model not in MODELS:
        raise ScenarioError(f"unknown model {spec.model!r}; choose one of {', '.join(MODELS)}")
    if spec.formulation not in FORMULATIONS:
        raise ScenarioError(f"unknown formulation {spec.formulation!r}; choose one of {', '.join(FORMULATIONS)}")
    conflicts = option_conflicts(spec.model, spec_options(spec))
    if conflicts:
        raise ScenarioError("; ".join(conflicts))
    new_eligible = int((instance.eligible & ~instance.existing).sum())
    # p = 0 is the "what does the existing network cover" baseline of the covering model; the
    # p-median and p-center open exactly p sites, so they need at least one
    min_p = 0 if spec.model == "mclp" else 1
    if spec.p is not None:
        bad_p = p_problem(spec.p, min_p=min_p)
        if bad_p is not None:
            problems.append(
                bad_p
                + (" (--p 0, the existing network alone, is for --model mclp)" if min_p == 1 and spec.p == 0 else "")
            )
        elif spec.p > new_eligible:
            problems.append(
                f"p = {spec.p} but only {new_eligible} new sites are eligible: lower --p to at most {new_eligible}"
            )
    if spec.budget is not None:
        problems.append(budget_problem(spec.budget, finite=True) or "")
    if spec.radius is not None:
        problems.append(radius_problem(spec.radius, finite=True) or "")
    problems = [text for text in problems if text]
    if spec.model in ("mclp", "lscp") and spec.radius is None and spec.reach_max is None and spec.decay_steps is None:
        problems.append(f"model {spec.model} needs a service radius: give --radius")
    if spec.model in ("mclp", "pmedian") and spec.p is None and spec.budget is None:
        problems.append(f"model {spec.model} needs --p or --budget (or both)")
    if spec.model == "pcenter" and spec.p is None:
        problems.append("model pcenter needs --p")
    if problems:
        raise ScenarioError("; ".join(problems))


# ------------------------------------------------------------------------------ evaluation
def _coverage_radius(spec: ModelSpec) -> float | None:
    """The radius of plain coverage in the evaluator: the service radius, or where gradual reach is full."""
    if spec.decay_steps is not None:
        return spec.decay_steps[0][0]
    return spec.radius if spec.reach_max is None else spec.reach_full


def _evaluated_objective(spec: ModelSpec, metrics: PlanMetrics, capacity: Any = None) -> float:
    if spec.model == "mclp" and capacity is not None:
        return float(capacity.served_weight)
    if spec.model == "mclp":
        return float(metrics.covered_weight or 0.0)
    if spec.model == "lscp":
        return float(metrics.cost if spec.lscp_objective == "cost" else metrics.n_new)
    if spec.model == "pcenter":
        return float(metrics.max_distance)
    if spec.capacitated:
        return float(metrics.assigned_distance if metrics.assigned_distance is not None else np.inf)
    return float(metrics.weighted_distance)


def _finish(
    instance: SitingInstance,
    spec: ModelSpec,
    res: SolveResult,
    open_mask: NDArray[np.bool_] | None,
    started: float,
    *,
    assignment: sp.csr_array | None = None,
    uncoverable: NDArray[np.bool_] | None = None,
    stats: dict[str, Any] | None = None,
) -> SitingResult:
    stats = dict(stats or {})
    stats.update(res.stats)
    uncov_ids = list(instance.demand_ids[uncoverable]) if uncoverable is not None else []
    if open_mask is None or not res.status.has_solution:
        if res.status == Status.INFEASIBLE:
            raise InfeasibleError(
                f"model {spec.model} is infeasible on {instance.name}"
                + (f": {res.message}" if res.message else "")
                + "; relax the budget, p or radius"
            )
        raise NoSolutionError(
            f"{res.solver} found no plan for {spec.model} (status {res.status.value}, limit {res.limit.value})"
            + (f": {res.message}" if res.message else "")
            + "; try a longer --time-limit or another --solver"
        )
    p_check = spec.p if spec.model in ("mclp", "pmedian", "pcenter") else None
    cap_cover = spec.capacitated and spec.model in ("mclp", "lscp")
    metrics = evaluate(
        instance,
        open_mask,
        radius=_coverage_radius(spec),
        p=p_check,
        budget=spec.budget,
        assignment=None if cap_cover else assignment,
        split_allowed=spec.allow_split or not spec.capacitated,
    )
    cap_metrics = None
    if cap_cover:
        from siting.models.evaluate_capacity import evaluate_capacity

        shape = (instance.n, instance.m)
        cap_metrics = evaluate_capacity(
            instance,
            metrics.open_sites,
            assignment if assignment is not None else sp.csr_array(shape),
            float(spec.radius or 0.0),
            split_allowed=spec.allow_split,
            require_all=spec.model == "lscp",
        )
    evaluated = _evaluated_objective(spec, metrics, cap_metrics)
    credited: NDArray[np.float64] | None = None if metrics.covered is None else metrics.covered.astype(np.float64)
    if cap_metrics is not None:
        credited = cap_metrics.served_share  # a floor with capacities holds on served demand
    if spec.reach_max is not None or spec.decay_steps is not None:
        from siting.models.formulations.decay import credit

        gradual = credit(metrics.nearest_distance, spec.reach_full, spec.reach_max, spec.decay_steps)
        credited = gradual
        evaluated = float(np.dot(instance.weights, gradual))
        stats["decayed_coverage"] = evaluated
    if spec.robust_samples is not None and metrics.covered is not None:
        from siting.optimizer.robust import robust_value

        evaluated = robust_value(
            instance, metrics.covered, spec.robust_samples, spec.robust_noise, spec.robust_seed, spec.robust_objective
        )
    message = res.message
    verified = True
    if spec.min_group_share is not None and credited is not None:
        from siting.models.formulations.equity import group_codes, group_shares

        shares = group_shares(instance, credited)  # type: ignore[arg-type]
        low = shares < spec.min_group_share - 1e-6
        if low.any():
            verified = False
            labels = ", ".join(str(g) for g in group_codes(instance)[0][low][:5])
            message = (message + "; " if message else "") + f"groups below the floor: {labels}"
    if cap_metrics is not None and cap_metrics.violations:
        verified = False
        message = (message + "; " if message else "") + "capacity check: " + "; ".join(cap_metrics.violations)
    if res.objective is not None and np.isfinite(evaluated):
        stats["solver_objective"] = res.objective
        if abs(res.objective - evaluated) > 1e-6 * max(1.0, abs(evaluated)):
            verified = False
            message = (message + "; " if message else "") + (
                f"the evaluator recomputed objective {evaluated:.10g}, the solver reported {res.objective:.10g}"
            )
    if metrics.violations:
        verified = False
        message = (message + "; " if message else "") + "plan violates: " + "; ".join(metrics.violations)
    bound = res.bound
    status = res.status
    gap = relative_gap(evaluated, bound)
    if status == Status.OPTIMAL and not verified:
        status = Status.FEASIBLE
    existing = instance.existing
    return SitingResult(
        spec=spec,
        status=status,
        objective=evaluated,
        bound=bound,
        gap=gap,
        seconds=time.perf_counter() - started,
        solver=res.solver,
        solver_version=res.solver_version,
        limit=res.limit,
        open_sites=metrics.open_sites,
        open_site_ids=list(instance.site_ids[metrics.open_sites]),
        metrics=metrics,
        uncoverable_ids=uncov_ids,
        result=res,
        stats=stats,
        verified=verified,
        message=message,
        n=instance.n,
        m=instance.m,
        new_site_ids=list(instance.site_ids[metrics.open_sites & ~existing]),
        existing_site_ids=list(instance.site_ids[metrics.open_sites & existing]),
        capacity=cap_metrics,
        instance=instance if cap_metrics is not None else None,
    )


# ------------------------------------------------------------------------------- tie-break
def _costs_vary(instance: SitingInstance) -> bool:
    new = instance.eligible & ~instance.existing
    c = instance.cost[new]
    return bool(c.size and c.max() > c.min())


def _cheapest(
    instance: SitingInstance,
    spec: ModelSpec,
    problem: Any,
    res: SolveResult,
    backend: Any,
    params: SolveParams,
    started: float,
    stats: dict[str, Any],
    *,
    stage2: Any = None,
) -> NDArray[np.float64] | None:
    """Second stage of the lexicographic objective (see :mod:`optimizer.tiebreak`).

    Returns the solution of a cheaper plan of equal objective, or None to keep the first stage's.
    Runs after a proven-optimal first stage only; with equal costs it only matters where fewer
    sites can tie (MCLP), so it is skipped for the other models then.
    """
    from siting.optimizer import tiebreak

    if res.status != Status.OPTIMAL or res.x is None or res.objective is None or not np.isfinite(res.objective):
        return None
    if spec.model != "mclp" and not _costs_vary(instance):
        return None
    new = instance.eligible & ~instance.existing
    mask = problem.open_sites(res.x) if problem is not None else np.asarray(res.x > 0.5)
    plan_cost = float(instance.cost[mask & new].sum())
    first = evaluate(instance, mask, radius=spec.radius, p=spec.p if spec.model != "lscp" else None, budget=spec.budget)
    v1 = _evaluated_objective(spec, first)
    warm: NDArray[np.float64] | None = res.x
    if stage2 is None:
        tol = tiebreak.objective_tolerance(problem, float(res.objective))
        stage2 = tiebreak.hold_objective(
            problem, float(res.objective), tol, tiebreak.site_cost_vector(problem, instance.cost, new)
        )
    else:
        tol = 1e-9 * max(1.0, abs(v1))
        warm = res.x if res.x.size == stage2.num_vars else None
    sense_max = spec.model == "mclp"

    def accept(cand: NDArray[np.bool_]) -> bool:
        m2 = evaluate(
            instance, cand, radius=spec.radius, p=spec.p if spec.model != "lscp" else None, budget=spec.budget
        )
        if m2.violations:
            return False
        if spec.model == "lscp" and (m2.uncovered_weight or 0.0) > (first.uncovered_weight or 0.0) + 1e-9:
            return False  # LSCP's objective is the count: coverage must be checked on its own
        v2 = _evaluated_objective(spec, m2)
        return v2 >= v1 - tol if sense_max else v2 <= v1 + tol

    # the tie-break may take as long as the first stage did, never more, but at least 5 s: a solver
    # run as a subprocess (CBC through PuLP: model file, process start, watchdog) needs a few
    # seconds even for a tiny model on a busy machine; the shared time limit still bounds it
    cap = max(TIE_BREAK_MIN_SECONDS, float(res.seconds or 0.0))
    x2, rec = tiebreak.cheapest_stage(
        stage2, backend, params, started=started, plan_cost=plan_cost, accept=accept, warm=warm, max_seconds=cap
    )
    stats["tie_break"] = rec
    return x2


# ---------------------------------------------------------------------------------- solving
def _heuristic_start(
    instance: SitingInstance,
    spec: ModelSpec,
    params: SolveParams | None = None,
    record: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> NDArray[np.bool_] | None:
    """Greedy + interchange plan used to warm-start an exact solve (None when not applicable).

    It may use a quarter of what is left of the time budget; the exact solve gets the rest.
    ``record`` receives the heuristic's proven bound (``"bound"``); ``progress`` a line per phase.
    """
    params = params or SolveParams()
    if spec.model not in ("pmedian", "mclp") or spec.capacitated or params.expired():
        return None
    left = params.remaining()
    from siting.optimizer.heuristics import run_heuristic

    truncated = spec.model == "pmedian" and instance.n * instance.m > PMEDIAN_START_ENTRIES
    if truncated:
        # the heuristics hold dense (n, m) working copies: at 13,509 x 13,509 (usa13509) they peaked
        # at 11 GB and the greedy alone took 80 s; on each client's nearest sites they need a fraction
        from siting.optimizer.pmedian_start import truncated_start

        start, multipliers, bound = truncated_start(instance, spec.p, spec.budget, params, 0.25, progress)
        if record is not None:
            # only a bound on every site (small p): one on the truncated instance bounds another problem
            record["bound"] = bound
            record["multipliers"] = multipliers
            if bound is not None and spec.p is not None:
                # with that bound, the sites no better plan opens (the exact path leaves them out)
                from siting.models.evaluate import evaluate
                from siting.optimizer.pmedian_dense_bound import lagrangian_closed

                value = float(evaluate(instance, start).weighted_distance)
                record["closed"] = lagrangian_closed(instance, spec.p, multipliers, value, start)
        return start

    # "auto" = greedy, interchange, Lagrangian, interchange again from the Lagrangian plans: it
    # reaches the optimum of all 40 OR-Library pmed instances in about 10 s in total, and a
    # near-optimal incumbent is what makes reduced-cost fixing in the exact path strong.
    out = run_heuristic(
        instance,
        spec.model,
        p=spec.p,
        radius=spec.radius,
        budget=spec.budget,
        method="auto",
        time_limit=None if left is None else 0.25 * left,
        progress=progress,
    )
    if record is not None:
        record["bound"] = out.bound
        record["multipliers"] = out.multipliers
    return np.asarray(out.open_mask, dtype=bool)


def _spent(solver: str) -> SolveResult:
    return SolveResult(
        status=Status.NO_SOLUTION,
        solver=solver,
        limit=Limit.TIME,
        message="the time limit was used up before the model could be built",
    )


def _or_start(
    res: SolveResult,
    mask: NDArray[np.bool_] | None,
    start: NDArray[np.bool_] | None,
    spec: ModelSpec,
    record: dict[str, Any],
) -> tuple[SolveResult, NDArray[np.bool_] | None]:
    """The heuristic start as the plan when the time limit stopped the solver before it had one.

    The time budget is one for all stages: a solver that ran out of it (or never got to start,
    e.g. PuLP still building the model) leaves the best plan found so far, which is the start.
    Its bound is the better of the solver's and the heuristic's.
    """
    if res.status.has_solution or start is None or res.limit != Limit.TIME:
        return res, mask
    bounds = [b for b in (res.bound, record.get("bound")) if b is not None and np.isfinite(b)]
    bound = None if not bounds else (min(bounds) if spec.model == "mclp" else max(bounds))
    note = "the time limit stopped the solver before it had a plan; the heuristic start is returned"
    return replace(res, status=Status.FEASIBLE, bound=bound, objective=None).with_note(note), start


def _tighter_bound(res: SolveResult, spec: ModelSpec, record: dict[str, Any]) -> SolveResult:
    """A stopped solve keeps the better of its own bound and the heuristic start's proven bound
    (Lagrangian: an upper bound for MCLP, a lower bound for p-median), so a run cut short by the
    time limit still reports how far from optimal its plan can be."""
    heur = record.get("bound")
    if res.status != Status.FEASIBLE or heur is None or not np.isfinite(heur):
        return res
    if res.bound is None or not np.isfinite(res.bound):
        return replace(res, bound=float(heur))
    better = min(res.bound, heur) if spec.model == "mclp" else max(res.bound, heur)
    return replace(res, bound=float(better))


def warm_vector(
    problem: Any, instance: SitingInstance, spec: ModelSpec, mask: NDArray[np.bool_], params: SolveParams | None = None
) -> NDArray[np.float64] | None:
    """A complete MILP start vector from an open-site mask, or None if the mask does not fit.

    The site columns are fixed to the plan and the rest (coverage or assignment columns) is
    completed by one LP solve, so the solver receives a consistent point: a start that only
    sets the site columns is feasible but not optimal for the other columns, and HiGHS has been
    seen to hand back such a start unchanged with the objective of its own optimum.
    """
    lower = problem.col_lower.copy()
    upper = problem.col_upper.copy()
    fixed = mask.astype(np.float64)
    lower[problem.site_cols] = fixed
    upper[problem.site_cols] = fixed
    lp = replace(problem, col_lower=lower, col_upper=upper, integrality=np.zeros(problem.num_vars, dtype=bool))
    # at most 30 s, and at most a quarter of what is left: the start is worth less than the solve
    left = params.remaining() if params is not None else None
    if left is not None and left <= 0:
        return None
    cap = 30.0 if left is None else min(30.0, 0.25 * left)
    if problem.A.nnz > _WARM_NNZ_PER_SECOND * cap:
        # HiGHS does not look at its time limit while it presolves or sets up a large LP (a
        # 3.5 M-nonzero p-median LP took 10 s against a 1 s limit): skip a start there is no time for
        return None
    res = get_backend("highs").solve(lp, SolveParams(time_limit=cap))
    if res.status != Status.OPTIMAL or res.x is None:
        return None
    x = res.x.copy()
    ints = problem.integrality
    x[ints] = np.round(x[ints])
    if problem.max_violation(x) > 1e-6:
        return None
    return x


def solve(
    instance: SitingInstance,
    spec: ModelSpec,
    solver: str = DEFAULT_SOLVER,
    params: SolveParams | None = None,
    progress: Progress | None = None,
) -> SitingResult:
    """Solve ``spec`` on ``instance`` with ``solver`` and evaluate the plan independently.

    ``solver`` is an exact backend (``auto``, the default: HiGHS, with SCIP for the last branch and
    bound of the city-sized coverage paths; ``highs``, ``cbc``, ``cpsat``, ``scip``, ``pulp:NAME``) or a
    heuristic (``greedy``, ``interchange``, ``lagrangian``, ``heuristic``). Heuristics carry a
    proven bound where one is cheap (Lagrangian for p-median and MCLP).
    """
    # The budget starts here unless the caller started it earlier (a scenario run starts it when
    # its input has been read, and every stage after that shares it).
    params = (params or SolveParams()).started()
    say = progress or (lambda _msg: None)
    check_spec(instance, spec)
    conflicts = option_conflicts(spec.model, spec_options(spec), solver)
    if conflicts:
        raise ScenarioError("; ".join(conflicts))
    started = time.perf_counter()
    engine = get_solver(solver)
    if isinstance(engine, HeuristicBackend):
        res = engine.solve(instance, spec, params)
        plan = None if res.x is None else np.asarray(res.x > 0.5)
        return _finish(instance, spec, res, plan, started, stats={"formulation": "heuristic"})
    backend = engine
    warm_ok = bool(params.options_for("siting").get("warm_start", True))

    mask: NDArray[np.bool_] | None
    if spec.model == "pcenter":
        from siting.optimizer.pcenter import solve_pcenter

        radius_star, mask, res, st = solve_pcenter(instance, int(spec.p or 0), backend, params)
        pspec = ModelSpec("pcenter", p=spec.p)
        if res.status == Status.OPTIMAL and _costs_vary(instance):
            stage2 = _pcenter_cheapest_problem(instance, radius_star, int(spec.p or 0))
            x2 = _cheapest(instance, pspec, None, res, backend, params, started, st, stage2=stage2)
            if x2 is not None:
                mask = stage2.open_sites(x2)
        return _finish(instance, pspec, res, mask, started, stats=st)

    # what every option solver below takes alike
    common: dict[str, Any] = {"p": spec.p, "budget": spec.budget, "backend": backend, "params": params, "progress": say}
    if spec.model == "mclp" and (spec.reach_max is not None or spec.decay_steps is not None):
        from siting.optimizer.decay import solve_decay

        res, mask, st = solve_decay(
            instance, reach_full=spec.reach_full, reach_max=spec.reach_max, steps=spec.decay_steps,
            min_share=spec.min_group_share, **common,
        )  # fmt: skip
        return _finish(instance, spec, res, mask, started, stats=st)

    if spec.model == "mclp" and spec.robust_samples is not None:
        from siting.optimizer.robust import solve_robust

        res, mask, st = solve_robust(
            instance,
            float(spec.radius or 0.0),
            samples=spec.robust_samples,
            noise=spec.robust_noise,
            seed=spec.robust_seed,
            objective=spec.robust_objective,
            min_share=spec.min_group_share,
            **common,
        )
        return _finish(instance, spec, res, mask, started, stats=st)

    if spec.model == "mclp" and (spec.min_group_share is not None or spec.maxmin_groups) and not spec.capacitated:
        from siting.optimizer.equity import solve_equity

        res, mask, st = solve_equity(
            instance,
            float(spec.radius or 0.0),
            min_share=spec.min_group_share,
            maxmin=spec.maxmin_groups,
            **common,
        )
        return _finish(instance, spec, res, mask, started, stats=st)

    if spec.model in ("mclp", "lscp") and spec.capacitated:
        from siting.optimizer.capacity import solve_capacitated_cover

        res, mask, assign, st = solve_capacitated_cover(
            instance,
            spec.model,
            float(spec.radius or 0.0),
            objective=spec.lscp_objective,
            allow_split=spec.allow_split,
            min_share=spec.min_group_share,
            **common,
        )
        from siting.models.formulations.lscp import uncoverable

        unc = uncoverable(instance, float(spec.radius or 0.0)) if spec.model == "lscp" else None
        return _finish(instance, spec, res, mask, started, assignment=assign, uncoverable=unc, stats=st)

    if spec.model in ("mclp", "lscp"):
        coverage_form = coverage_formulation(spec, backend.name, instance)
        # the solver of the reduced paths' last branch and bound (the decompositions are HiGHS's alone)
        prover = coverage_prover(solver, backend.name) if coverage_form == "reduced" else "highs"
        if coverage_form == "reduced" and spec.model == "lscp":
            # dominated rows and sites, LP bound, core MILP, fixing, branch and bound (coverage_lscp)
            from siting.models.formulations.lscp import uncoverable
            from siting.optimizer.coverage_lscp import solve_lscp_rows

            unc = uncoverable(instance, float(spec.radius or 0.0))
            res, mask, st = solve_lscp_rows(
                instance, float(spec.radius or 0.0), spec.lscp_objective, params, say, prover
            )
            return _finish(instance, spec, res, mask, started, uncoverable=unc, stats=st)
        if coverage_form in ("reduced", "benders"):
            from siting.models.formulations.lscp import uncoverable
            from siting.optimizer.coverage_exact import solve_coverage

            unc = uncoverable(instance, float(spec.radius or 0.0)) if spec.model == "lscp" else None
            res, mask, st = solve_coverage(
                instance,
                spec.model,
                float(spec.radius or 0.0),
                p=spec.p,
                budget=spec.budget,
                objective=spec.lscp_objective,
                params=params,
                progress=say,
                engine=coverage_form,
                prover=prover,
            )
            return _finish(instance, spec, res, mask, started, uncoverable=unc, stats=st)

    if spec.model == "lscp":
        from siting.models.formulations.lscp import lscp, uncoverable

        unc = uncoverable(instance, float(spec.radius or 0.0))
        problem = lscp(instance, float(spec.radius or 0.0), objective=spec.lscp_objective)
        say(f"LSCP: {problem.num_vars} columns, {problem.num_rows} rows")
        res = backend.solve(problem, params)
        mask = problem.open_sites(res.x) if res.x is not None else None
        st = {"formulation": "lscp"}
        if spec.lscp_objective == "count":
            x2 = _cheapest(instance, spec, problem, res, backend, params, started, st)
            mask = problem.open_sites(x2) if x2 is not None else mask
        return _finish(instance, spec, res, mask, started, uncoverable=unc, stats=st)

    if spec.model == "mclp":
        from siting.models.formulations.mclp import mclp
        from siting.optimizer.coverage_exact import check_covers_something

        check_covers_something(instance, float(spec.radius or 0.0))  # before the start's progress lines
        record: dict[str, Any] = {}
        start = _heuristic_start(instance, spec, params, record, say) if warm_ok else None
        if params.expired():  # no time to build the model: keep the start
            res, mask = _or_start(_spent(backend.name), None, start, spec, record)
            return _finish(instance, spec, res, mask, started, stats={"formulation": "mclp"})
        problem = mclp(instance, float(spec.radius or 0.0), p=spec.p, budget=spec.budget)
        say(f"MCLP: {problem.num_vars} columns, {problem.num_rows} rows")
        warm = warm_vector(problem, instance, spec, start, params) if start is not None else None
        res = backend.solve(problem, params, warm_start=warm)
        mask = problem.open_sites(res.x) if res.x is not None else None
        res, mask = _or_start(res, mask, start, spec, record)
        res = _tighter_bound(res, spec, record)
        st = {"formulation": "mclp"}
        x2 = _cheapest(instance, spec, problem, res, backend, params, started, st)
        mask = problem.open_sites(x2) if x2 is not None else mask
        return _finish(instance, spec, res, mask, started, stats=st)

    # p-median
    from siting.models.formulations import pmedian as pm

    if not (instance.weights > 0).any():  # every plan would be "optimal" at 0: refuse instead of guessing
        raise DataError(
            f"p-median on {instance.name}: every demand weight is 0, so there is no distance to minimise; "
            "give positive weights (the weight column of the demand file)"
        )

    if spec.capacitated:
        problem = pm.pmedian_capacitated(instance, p=spec.p, budget=spec.budget, allow_split=spec.allow_split)
        say(f"capacitated p-median: {problem.num_vars} columns, {problem.num_rows} rows")
        res = backend.solve(problem, params)
        mask = problem.open_sites(res.x) if res.x is not None else None
        assign = problem.assignment_matrix(res.x, (instance.n, instance.m)) if res.x is not None else None
        return _finish(instance, spec, res, mask, started, assignment=assign, stats={"formulation": "capacitated"})

    formulation = spec.formulation
    if formulation in ("compact", "reduced"):
        raise ScenarioError(
            f"formulation {formulation!r} is a covering formulation; pmedian takes auto, classic, radius or benders"
        )
    if formulation == "auto":
        formulation = "benders" if backend.name == "highs" and spec.budget is None else "radius"
    record = {}
    start = _heuristic_start(instance, spec, params, record, say) if warm_ok else None
    if formulation != "benders" and params.expired():  # no time to build the model: keep the start
        res, mask = _or_start(_spent(backend.name), None, start, spec, record)
        return _finish(instance, spec, res, mask, started, stats={"formulation": formulation})
    if formulation == "benders":
        if backend.name != "highs":
            raise ScenarioError(
                f"the benders formulation runs on the highs solver only, not {backend.name!r}; "
                "use --formulation radius or classic with this solver"
            )
        from siting.optimizer.benders_pmedian import solve_pmedian_benders

        closed = record.get("closed")
        if closed is not None and start is not None and closed.sum() >= CLOSED_SHARE * instance.m:
            # every plan better than the start keeps to the other sites: the exact path runs there
            # (usa13509, p = 10: a master over every site did not finish its first LP in 330 s). On
            # a subset instance, not with the closed sites forbidden: that peaked at 5.2 GB, not 3.1
            # (the exact path's helpers still worked on every site)
            keep = ~closed
            say(
                f"p-median: {int(closed.sum()):,} of {instance.m:,} sites are in no plan better than "
                f"the start (by the Lagrangian bound); the exact solve runs on the other {int(keep.sum()):,}"
            )
            res, kept_mask = solve_pmedian_benders(
                instance.subset_sites(keep),
                int(spec.p or 0),
                params,
                start_mask=start[keep],
                progress=say,
                start_bound=record.get("bound"),
                start_multipliers=record.get("multipliers"),
            )
            mask = None
            if kept_mask is not None:
                mask = np.zeros(instance.m, dtype=bool)
                mask[np.flatnonzero(keep)[kept_mask]] = True
            res = dataclasses.replace(res, x=None)  # x indexes the kept sites only; the plan is the mask
        else:
            res, mask = solve_pmedian_benders(
                instance,
                int(spec.p or 0),
                params,
                start_mask=start,
                progress=say,
                start_bound=record.get("bound"),
                start_multipliers=record.get("multipliers"),
            )
        res = _tighter_bound(res, spec, record)
        st = {"formulation": "benders"}
        if res.status == Status.OPTIMAL and mask is not None and _costs_vary(instance):
            # the cheapest stage runs on the radius form (same optimum), warm-started from the plan
            rform = pm.pmedian_radius(instance, p=spec.p, budget=spec.budget)
            warm = warm_vector(rform, instance, spec, mask)
            if warm is not None:
                res1 = dataclasses.replace(res, x=warm, objective=float(rform.c @ warm + rform.offset))
                x2 = _cheapest(instance, spec, rform, res1, backend, params, started, st)
                mask = rform.open_sites(x2) if x2 is not None else mask
        return _finish(instance, spec, res, mask, started, stats=st)
    build = pm.pmedian_classic if formulation == "classic" else pm.pmedian_radius
    problem = build(instance, p=spec.p, budget=spec.budget)
    say(f"p-median ({formulation}): {problem.num_vars} columns, {problem.num_rows} rows, {problem.A.nnz} nonzeros")
    warm = warm_vector(problem, instance, spec, start, params) if start is not None else None
    res = backend.solve(problem, params, warm_start=warm)
    mask = problem.open_sites(res.x) if res.x is not None else None
    res, mask = _or_start(res, mask, start, spec, record)
    res = _tighter_bound(res, spec, record)
    st = {"formulation": formulation}
    x2 = _cheapest(instance, spec, problem, res, backend, params, started, st)
    mask = problem.open_sites(x2) if x2 is not None else mask
    return _finish(instance, spec, res, mask, started, stats=st)


def _pcenter_cheapest_problem(instance: SitingInstance, radius: float, p: int) -> Any:
    """Second stage of the p-center: the cheapest cover within the optimal radius by <= p new sites."""
    from siting.models.formulations.lscp import lscp
    from siting.models.formulations.mclp import site_limit_rows
    from siting.models.milp import stack_rows

    base = lscp(instance, radius, objective="cost")
    blocks = [(base.A, base.row_lower, base.row_upper), *site_limit_rows(instance, base.num_vars, p, None)]
    A, lo, up = stack_rows(blocks, base.num_vars)
    return dataclasses.replace(base, A=A, row_lower=lo, row_upper=up, name=base.name + " /cheapest p-center")
