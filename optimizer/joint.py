"""Solve the joint multi-service model: lexicographic stages, a greedy warm start, alternatives.

:func:`solve_joint` builds :func:`models.formulations.joint.joint_milp`, warm-starts it from
:func:`greedy_plan`, and, for the maximising objectives with ``tie_break``, solves a sequence of
MILPs, each warm-started from the previous stage's plan:

1. the primary objective (coverage, complete circles, phased coverage, cost or walking distance);
2. least total cost, the primary objective held at ``best - 1e-6 * max(1, |best|)`` (``best`` is
   the proven optimum, or the incumbent if the stage was stopped by a limit);
3. least walking distance of covered demand, primary objective and cost held (needs distances for
   every service; skipped otherwise).

With a time limit, each stage gets a share of what is left when it starts (:data:`STAGE_SHARES`:
the primary stage 70 %, the cost stage two thirds of the rest, the distance stage the remainder), so
the tie-breaks cannot eat the primary stage's time nor it theirs; the record keeps the primary stage's
bound and gap. Phases that cannot bind (carry-over, an objective that values only the end state) are
dropped from the model, and a large maximising model gets its LP bound, LP-guided starts (a greedy
completion, then the MILP over the binaries the LP leaves fractional) and reduced-cost fixing before
the MILP (:mod:`optimizer.joint_bound`).

The plan is read from the ``y`` columns (``x > 0.5``) and evaluated by
:func:`models.multiservice.evaluate_joint`; ``verified`` says the evaluator agrees with every
stage's solver objective and found no violation. The status is OPTIMAL only if every stage was
proven; a stage stopped by a limit (or skipped for lack of time) makes it FEASIBLE.

:func:`alternatives` finds K distinct plans (different sets of open (service, plot) pairs) within a
relative tolerance of the best, with no-good cuts; :func:`site_frequency` counts how often each
(service, plot) appears among them: which choices are firm and which are interchangeable.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import InfeasibleError, NoSolutionError, ScenarioError
from siting.models.evaluate_joint_options import OptionMetrics, evaluate_joint_options
from siting.models.formulations.joint import JointLayout, check_objective, joint_milp
from siting.models.formulations.joint_capacity import JointOptions
from siting.models.milp import MilpProblem
from siting.models.multiservice import (
    OBJECTIVE_SENSE,
    JointMetrics,
    MultiServiceInstance,
    evaluate_joint,
    objective_value,
    open_pairs,
)
from siting.optimizer.joint_bound import (
    GUIDED_MAX_FREE,
    GUIDED_SHARE,
    LP_FIRST_NONZEROS,
    LP_SHARE,
    combined_bound,
    fix_by_reduced_cost,
    last_phase,
    lp_guided_milp,
    lp_relaxation,
    phase_free,
)
from siting.optimizer.joint_fit import PairBudget
from siting.optimizer.registry import get_backend
from siting.optimizer.result import Backend, Limit, SolveParams, SolveResult, Status, relative_gap

#: Relative slack with which an earlier stage's objective (or cost) is held by the next stage.
HOLD_RTOL = 1e-6
#: Relative tolerance of the solver-vs-evaluator comparison.
VERIFY_RTOL = 1e-6
#: Largest row violation accepted in a warm start.
START_TOL = 1e-7


@dataclass(frozen=True, eq=False)
class JointResult:
    """A joint plan, its evaluation and its solve record.

    ``objective`` is the primary objective of the plan as :func:`evaluate_joint` computes it;
    ``bound`` and ``gap`` are those of the primary stage. ``stages`` holds one record per
    lexicographic stage (name, status, objective, bound, gap, seconds, limit, rows, cols, nonzeros).
    """

    open_phase: NDArray[np.int8]
    status: Status
    objective: float
    bound: float | None
    gap: float | None
    seconds: float
    solver: str
    solver_version: str
    stages: list[dict[str, Any]]
    metrics: JointMetrics
    verified: bool
    objective_name: str = "max_coverage"
    message: str = ""
    notes: list[str] = field(default_factory=list)
    service_names: tuple[str, ...] = ()
    site_ids: NDArray[Any] | None = None
    #: with services' capacities / equity rules: the evaluator's capacity use and group shares
    #: (``objective`` is then its recount of the served / covered demand)
    option_metrics: OptionMetrics | None = None
    #: extra records of the option solve (the max-min stage, the unconstrained reference, ...)
    option_stats: dict[str, Any] = field(default_factory=dict)

    @property
    def pairs(self) -> frozenset[tuple[int, int]]:
        """Opened (service index, plot index) pairs."""
        return open_pairs(self.open_phase)


# --------------------------------------------------------------------------- greedy
def greedy_plan(inst: MultiServiceInstance, layout: JointLayout, objective: str) -> NDArray[np.int8]:
    """The plan of :func:`greedy_plan_full`, computed lazily where gains only fall
    (:mod:`optimizer.joint_greedy`: the same plan, far fewer gain evaluations at city scale)."""
    from siting.optimizer.joint_greedy import LAZY_OBJECTIVES, lazy_greedy_plan

    if objective in LAZY_OBJECTIVES:
        return lazy_greedy_plan(inst, layout, objective)
    return greedy_plan_full(inst, layout, objective)


def greedy_plan_full(inst: MultiServiceInstance, layout: JointLayout, objective: str) -> NDArray[np.int8]:
    """A feasible-if-possible joint plan by greedy insertion.

    Repeatedly adds the pair (s, j) with the best gain per unit cost that still fits the plot's room,
    the count limit and every budget (in the earliest phase whose budget allows it), until no pair
    gains anything. Gains (computed with sparse products over the coverage matrices):

    * max_coverage, phased, min_cost: ``weight_s`` x the uncovered people (min_cost: demand points)
      that j covers, times the value of the phases it is in force for (phased);
    * complete_circle: residents that j covers for s and every service can reach, counted more where
      other services already cover them;
    * pmedian: the saved weighted walking distance (reaching unreached demand counts most).

    Then each service short of ``min_sites`` gets its cheapest fitting pairs. Only the pairs of
    ``layout`` are used.
    """
    S, Tm = inst.S, layout.n_phases
    budget = PairBudget(inst, layout)
    ps, pj, P, pcost, tol = budget.ps, budget.pj, budget.P, budget.pcost, budget.tol
    if P == 0:
        return budget.plan
    pw = inst.phase_weight_vector if objective == "phased" else np.ones(Tm)
    factor = np.cumsum(pw[::-1])[::-1] if objective == "phased" else np.ones(Tm)

    cov_csc = [sp.csc_array(s.coverage_float) for s in inst.services]
    covered = np.stack([s.existing_covered.copy() for s in inst.services])
    base = np.stack([s.weight * s.weights for s in inst.services])
    if objective == "min_cost":
        base = np.stack([(s.weights > 0).astype(np.float64) for s in inst.services])
    if objective == "complete_circle":
        reach = np.ones(inst.n, dtype=bool)
        for s, svc in enumerate(inst.services):
            reach &= svc.existing_covered | (np.asarray(svc.coverage_float @ layout_keep(layout, s)) > 0)
        base = np.tile(inst.resident_weights * reach, (S, 1))
    dist_csc: list[sp.csc_array] = []
    cur = np.zeros((S, inst.n))
    need = np.zeros((S, inst.n), dtype=bool)
    big = 1.0
    if objective == "pmedian":
        for s, svc in enumerate(inst.services):
            assert svc.distances is not None
            dist_csc.append(sp.csc_array(svc.distances))
            need[s] = (svc.weights > 0) & svc.reachable
            fin = svc.distances.data
            big = max(big, 10.0 * (float(fin.max(initial=0.0)) + 1.0))
        for s, svc in enumerate(inst.services):
            e = svc.existing_distance
            cur[s] = np.where(np.isfinite(e), e, big)

    def gains() -> NDArray[np.float64]:
        g = np.zeros(P)
        for s, svc in enumerate(inst.services):  # loop over services
            mine = ps == s
            if objective == "pmedian":
                d = dist_csc[s]
                rows = d.indices
                cols = np.repeat(np.arange(inst.m), np.diff(d.indptr))
                sav = np.where(
                    need[s][rows], svc.weight * svc.weights[rows] * np.maximum(cur[s][rows] - d.data, 0.0), 0
                )
                gs = np.bincount(cols, weights=sav, minlength=inst.m)
            else:
                u = base[s] * ~covered[s]
                if objective == "complete_circle":
                    others = covered.sum(axis=0) - covered[s]
                    u = u * (1.0 + others) ** 2
                gs = np.asarray(u @ svc.coverage_float)
            g[mine] = gs[pj[mine]]
        return g

    def take(k: int, t: int) -> None:
        s, j = budget.take(k, t)
        col = slice(cov_csc[s].indptr[j], cov_csc[s].indptr[j + 1])
        covered[s, cov_csc[s].indices[col]] = True
        if objective == "pmedian":
            d = dist_csc[s]
            sl = slice(d.indptr[j], d.indptr[j + 1])
            cur[s, d.indices[sl]] = np.minimum(cur[s, d.indices[sl]], d.data[sl])

    for _ in range(P):  # loop over insertions
        ok, ph = budget.fits()
        g = gains() * factor[np.maximum(ph, 0)]
        cand = ok & (g > 1e-12)
        if not cand.any():
            break
        score = np.where(cand, g / np.maximum(pcost, tol), -np.inf)
        k = int(np.argmax(score))
        take(k, int(ph[k]))
    budget.fill_min_sites(take)
    return budget.plan


def layout_keep(layout: JointLayout, s: int) -> NDArray[np.float64]:
    """(m,) 1.0 on the plots where service s has a column in ``layout``."""
    out = np.zeros(layout.m)
    out[layout.pair_site[layout.pair_service == s]] = 1.0
    return out


def _warm_start(problem: MilpProblem, layout: JointLayout, plan: NDArray[np.int8]) -> NDArray[np.float64] | None:
    """The full column vector of ``plan`` if it satisfies every row of ``problem``, else None."""
    x = layout.start(plan)
    if x is None or problem.max_violation(x) > START_TOL:
        return None
    return x


# --------------------------------------------------------------------------- solve
def _params_left(params: SolveParams, deadline: float | None) -> SolveParams:
    if deadline is None:
        return params
    return dataclasses.replace(params, time_limit=max(deadline - time.perf_counter(), 0.01))


def _solve(
    be: Backend, problem: MilpProblem, params: SolveParams, deadline: float | None, ws: NDArray[np.float64] | None
) -> tuple[SolveResult, bool]:
    """Solve with a warm start; if the run claims OPTIMAL but the solution it returns is far from
    its own bound, solve again without the start.

    HiGHS 1.16 can return the user's start vector itself (with the optimum's objective value in
    its log) when presolve maps the start to a better point of the reduced space; the backend
    then reports the start's objective. Returns the result and whether it was re-solved.
    """
    r = be.solve(problem, _params_left(params, deadline), ws)
    if ws is None or r.status != Status.OPTIMAL or r.objective is None or r.bound is None:
        return r, False
    scale = max(1.0, abs(r.objective))
    if abs(r.objective - r.bound) <= 10 * max(params.mip_gap, 1e-6) * scale:
        return r, False
    cold = be.solve(problem, _params_left(params, deadline), None)
    if not cold.status.has_solution or cold.objective is None:
        return r, True
    better = cold.objective > r.objective if problem.sense == "max" else cold.objective < r.objective
    return (cold if better or cold.status == Status.OPTIMAL else r), True


def _record(name: str, r: SolveResult, problem: MilpProblem, held: dict[str, float] | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": name,
        "status": r.status.value,
        "objective": r.objective,
        "bound": r.bound,
        "gap": r.gap,
        "seconds": r.seconds,
        "limit": r.limit.value,
        "rows": problem.num_rows,
        "cols": problem.num_vars,
        "nonzeros": int(problem.A.nnz),
        "message": r.message,
    }
    if held:
        rec["held"] = held
    return rec


def _stage_line(name: str, r: SolveResult) -> str:
    """One progress line for a finished stage: status, objective, bound, gap, seconds."""

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:,.8g}"

    gap = "-" if r.gap is None else f"{100 * r.gap:.3g} %"
    return f"{name} stage: {r.status.value}, objective {num(r.objective)}, bound {num(r.bound)}, gap {gap}, {r.seconds:.1f} s"


def _hold_slack(value: float) -> float:
    return HOLD_RTOL * max(1.0, abs(value))


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return False
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= VERIFY_RTOL * max(1.0, abs(a), abs(b)) + 1e-9


def _option_metrics(
    inst: MultiServiceInstance,
    options: JointOptions | None,
    layout: JointLayout,
    x: NDArray[np.float64],
    plan: NDArray[np.int8],
    objective: str,
) -> OptionMetrics | None:
    """The evaluator's recount of capacity use, group shares and objective (None without options)."""
    if not options or layout.options is None:
        return None
    return evaluate_joint_options(inst, options, plan, layout.options.named_assignment(x), objective)


def _polished(r: SolveResult, problem: MilpProblem, layout: JointLayout) -> SolveResult:
    """A stopped solve's point made consistent with its plan: every covered row counted (``z`` at its
    best for the open pairs; a stopped MILP's incumbent may leave some below, 457,514 against the
    plan's 457,845 on a four-service district stopped at 10 s), the solver's own capacity assignment
    and max-min share kept, so the solver's objective and the evaluator's agree; a proven optimum, or a
    point the rows refuse, is kept."""
    if r.x is None or r.status == Status.OPTIMAL:
        return r
    x = layout.start(layout.open_phase(r.x))
    if x is None:
        return r
    if layout.options is not None:
        for blk in layout.options.capacity.values():
            x[blk.cols] = r.x[blk.cols]
        if layout.options.tau_col >= 0:
            x[layout.options.tau_col] = r.x[layout.options.tau_col]
    if problem.max_violation(x) > START_TOL:
        return r
    value = problem.objective_value(x)
    worse = value < (r.objective or -math.inf) if problem.sense == "max" else value > (r.objective or math.inf)
    return r if worse else dataclasses.replace(r, x=x, objective=value)


def _infeasible_message(
    inst: MultiServiceInstance,
    objective: str,
    layout: JointLayout,
    r: SolveResult,
    diagnosis: dict[str, Any] | None = None,
) -> str:
    why = "; ".join(layout.notes) if layout.notes else ""
    base = f"the joint {objective} model of {inst.name!r} has no feasible plan"
    if objective == "min_cost" and diagnosis and diagnosis.get("text"):
        fix = {
            "budget": "raise the budget",
            "plot room": "add plots or lower the services' area",
            "count limits": "relax min_sites / max_sites",
        }
        fixes = [fix[b] for b in diagnosis["binding"]] or ["relax them"]
        return (
            base
            + f": covering every coverable demand point is blocked; {diagnosis['text']}"
            + (f" ({why})" if why else "")
            + f": {' or '.join(fixes)}"
        )
    hint = (
        "check min_sites against the eligible plots, their room and the budgets"
        if objective != "min_cost"
        else "covering every coverable demand point does not fit the budgets, room or count limits; "
        "drop the budgets and count limits to see what full coverage would cost"
    )
    return base + (f" ({why})" if why else "") + f": {hint}"


#: Share of the time left that each lexicographic stage may use when it starts (the rest is kept for
#: the stages after it; time a stage does not use passes on). "last": a stage with none after it.
STAGE_SHARES = {"primary": 0.7, "cost": 0.67, "distance": 1.0, "last": 1.0}


def _stage_deadline(deadline: float | None, stage: str) -> float | None:
    """The clock reading by which ``stage`` must end: its share (:data:`STAGE_SHARES`) of what is left."""
    if deadline is None:
        return None
    now = time.perf_counter()
    return now + STAGE_SHARES[stage] * max(deadline - now, 0.0)


def _lp_first(
    problem: MilpProblem,
    ws: NDArray[np.float64] | None,
    params: SolveParams,
    deadline: float | None,
    say: Callable[[str], None],
    model: tuple[MultiServiceInstance, JointLayout, str],
) -> tuple[MilpProblem, dict[str, Any], NDArray[np.float64] | None]:
    """For a large maximising model with a start: the LP bound, an LP-guided greedy plan, the
    LP-guided MILP and reduced-cost fixing (:mod:`optimizer.joint_bound`); the LP within
    :data:`LP_SHARE` of the stage's time, the MILP within :data:`GUIDED_SHARE` of what is left.

    The LP-guided plan opens the pairs the LP opens fully, then completes the plan greedily; the
    LP-guided MILP frees only the binaries the LP leaves fractional. Each replaces the start when it
    is better. Returns the model the MILP should solve, what was done (``incumbent``, ``lp_bound``,
    ``lp_seconds``, ``fixed``, ``lp_guided``, ``lp_guided_milp``, ``lp_fractional``; empty if
    nothing) and the start.
    """
    if problem.sense != "max" or ws is None or problem.A.nnz < LP_FIRST_NONZEROS:
        return problem, {}, ws
    left = None if deadline is None else max(deadline - time.perf_counter(), 0.01)
    lp = lp_relaxation(problem, params.within(None if left is None else LP_SHARE * left))
    incumbent = problem.objective_value(ws)
    if lp is None:
        say("LP bound: not reached within its share of the time limit")
        return problem, {}, ws
    from siting.optimizer.joint_greedy import LAZY_OBJECTIVES, lazy_greedy_plan

    inst, layout, objective = model
    guided = None
    if objective in LAZY_OBJECTIVES:
        y = lp.x[layout.y_cols].sum(axis=1)  # (P,) how much of each pair the LP opens
        full = np.flatnonzero(y >= 1.0 - 1e-6)
        guided = _warm_start(
            problem, layout, lazy_greedy_plan(inst, layout, objective, full[np.argsort(-y[full], kind="stable")])
        )
    lp_guided = guided is not None and problem.objective_value(guided) > incumbent
    if lp_guided:
        assert guided is not None
        ws, incumbent = guided, problem.objective_value(guided)
    start = "LP-guided greedy" if lp_guided else "greedy start"
    say(
        f"LP bound: {lp.value:,.8g} in {lp.seconds:.1f} s ({start} {incumbent:,.8g}, "
        f"within {100 * (relative_gap(incumbent, lp.value) or 0.0):.3g} %)"
    )
    # the MILP over what the LP leaves fractional: a better plan makes the fixing below bite
    t_milp = time.perf_counter()
    left = None if deadline is None else max(deadline - t_milp, 0.0)
    x_milp, free = lp_guided_milp(problem, lp, params.within(None if left is None else GUIDED_SHARE * left), ws)
    milp_value = -math.inf if x_milp is None else problem.objective_value(x_milp)
    milp_better = milp_value > incumbent
    if milp_better:
        ws, incumbent = x_milp, milp_value
    if 0 < free <= GUIDED_MAX_FREE:
        found = f"{incumbent:,.8g}" if milp_better else "no better plan"
        say(
            f"LP-guided MILP over the {free:,} binaries the LP leaves fractional: {found} in "
            f"{time.perf_counter() - t_milp:.1f} s"
        )
    fixed, n0, n1 = fix_by_reduced_cost(problem, lp, incumbent)
    say(
        f"reduced costs fix {n0:,} columns at 0 and {n1:,} at 1 (gap to the LP bound "
        f"{100 * (relative_gap(incumbent, lp.value) or 0.0):.3g} %)"
    )
    info = {
        "incumbent": incumbent,
        "lp_bound": lp.value,
        "lp_seconds": lp.seconds,
        "fixed": n0 + n1,
        "lp_guided": lp_guided,
        "lp_guided_milp": milp_better,
        "lp_fractional": free,
    }
    return fixed, info, ws


def solve_joint(
    inst: MultiServiceInstance,
    objective: str = "max_coverage",
    solver: str = "highs",
    params: SolveParams | None = None,
    *,
    tie_break: bool = True,
    forbid: list[NDArray[np.int8]] | None = None,
    primary_bound: float | None = None,
    backend: Backend | None = None,
    progress: Callable[[str], None] | None = None,
    options: JointOptions | None = None,
) -> JointResult:
    """Solve the joint model (see the module docstring for the stages).

    Parameters
    ----------
    inst : the joint instance.
    objective : "max_coverage", "complete_circle", "pmedian", "min_cost" or "phased".
    solver : backend name (:func:`optimizer.registry.get_backend`).
    params : solve parameters; the time limit covers all stages together (and is shared with the
        caller's other stages when ``params`` already carries a deadline).
    tie_break : for the maximising objectives, break ties by cost, then walking distance.
    forbid : plans whose set of open (service, plot) pairs may not be returned again.
    primary_bound : the primary objective must be at least (max) / at most (min) this value.
    backend : a backend object to use instead of ``solver`` (tests, heuristics).
    progress : receives a line after the greedy start and after each stage (status, bound, gap).
    options : services' capacities and equity floors (:mod:`models.formulations.joint_capacity`);
        the objective is then the served / covered demand recounted by
        :func:`models.evaluate_joint_options.evaluate_joint_options` (max-min: :mod:`optimizer.joint_options`).

    Raises
    ------
    InfeasibleError : no plan satisfies the budgets, room, count limits (and cuts).
    NoSolutionError : the solver stopped without a plan.
    """
    t0 = time.perf_counter()
    check_objective(objective)
    params = (params or SolveParams()).started()  # one budget for every stage (and every alternative)
    be = backend if backend is not None else get_backend(solver)
    sense = OBJECTIVE_SENSE[objective]
    left = params.remaining()
    deadline = None if left is None else t0 + left
    stages: list[dict[str, Any]] = []
    checks: list[tuple[str, float | None, float]] = []
    notes: list[str] = []

    # phases that cannot bind are dropped (optimizer.joint_bound.phase_free); `work` is the model solved,
    # `lift` turns its plans back into plans of `inst`. Capacities and floors count from the phase a
    # facility opens in, so a model with options keeps its phases.
    free = phase_free(inst, objective) if not options else None
    work = inst if free is None else free
    lift = (lambda op: op) if free is None else (lambda op: last_phase(op, inst))
    p1, l1 = joint_milp(work, objective, fix_primary=primary_bound, forbid=forbid, options=options)
    notes += l1.notes
    say = progress or (lambda _m: None)
    say(f"joint model: {p1.A.shape[0]:,} rows, {p1.A.shape[1]:,} columns, {p1.A.nnz:,} nonzeros")
    t_greedy = time.perf_counter()
    start = greedy_plan(work, l1, objective)
    ws = _warm_start(p1, l1, start)
    if ws is not None:
        say(f"greedy start: {objective} {p1.objective_value(ws):,.6g} in {time.perf_counter() - t_greedy:.1f} s")
    primary_deadline = _stage_deadline(deadline, "primary" if tie_break and sense == "max" else "last")
    solved, lp_info, ws = (
        _lp_first(p1, ws, params, primary_deadline, say, (work, l1, objective)) if not options else (p1, {}, ws)
    )
    r1, again = _solve(be, solved, params, primary_deadline, ws)
    if lp_info:
        bound = combined_bound(lp_info["incumbent"], lp_info["lp_bound"], r1.bound)
        r1 = dataclasses.replace(r1, bound=bound)  # the gap follows once the plan is settled
    if not r1.status.has_solution and r1.limit == Limit.TIME and ws is not None:
        # the budget ran out before the solver had a plan (CBC may still be building the model):
        # the greedy start is the best plan found so far
        r1 = dataclasses.replace(
            r1,
            status=Status.FEASIBLE,
            x=ws,
            objective=p1.objective_value(ws),
            message="; ".join(
                filter(None, [r1.message, "the time limit stopped the solver; the greedy start is kept"])
            ),
        )
    r1 = _polished(r1, p1, l1)
    if lp_info:
        r1 = dataclasses.replace(r1, gap=relative_gap(r1.objective, r1.bound))
    say(_stage_line("primary", r1))
    stages.append(_record("primary", r1, p1))
    stages[-1].update(lp_info)
    stages[-1]["warm_start"] = ws is not None
    stages[-1]["resolved_cold"] = again
    if r1.status == Status.INFEASIBLE:
        diagnosis = None
        if objective == "min_cost" and primary_bound is None and not forbid:
            from siting.optimizer.joint_diagnose import min_cost_causes

            diagnosis = min_cost_causes(inst, be, params, deadline)
        raise InfeasibleError(_infeasible_message(inst, objective, l1, r1, diagnosis))
    if not r1.status.has_solution or r1.x is None:
        raise NoSolutionError(
            f"solver {be.name} found no joint plan (status {r1.status.value}, limit {r1.limit.value})"
            + (f": {r1.message}" if r1.message else "")
            + "; try a longer time limit or another solver"
        )
    plan = l1.open_phase(r1.x)
    metrics = evaluate_joint(inst, lift(plan))
    om = _option_metrics(inst, options, l1, r1.x, plan, objective)
    best = objective_value(metrics, objective) if om is None else om.value
    checks.append(("primary objective", l1.primary_value(r1.x), best))
    proven = [r1.status == Status.OPTIMAL]
    messages = [f"primary stage stopped by the {r1.limit.value} limit"] if r1.status != Status.OPTIMAL else []

    if tie_break and sense == "max":
        held = min(best, r1.objective if r1.objective is not None else best) - _hold_slack(best)
        if primary_bound is not None:
            held = max(held, float(primary_bound))
        for name in ("cost", "distance"):
            if name == "distance" and not inst.has_distances:
                stages.append({"name": name, "status": "skipped", "message": "a service has no walking distances"})
                break
            if name == "distance" and not proven[-1]:
                # the distance model assigns every resident to a site: on the whole city 1.4 million rows
                # against the cost stage's 33,693. After a cost stage stopped by its limit it cannot
                # finish in what is left, and a run of it stopped at the deadline raised the whole
                # city's peak memory to 4.5 GB while the outputs were written
                why = "the cost stage stopped before its proof, and the walking-distance model is larger still"
                stages.append({"name": name, "status": "skipped", "message": why})
                proven.append(False)
                messages.append(f"{name} stage skipped: {why}")
                break
            if deadline is not None and time.perf_counter() >= deadline:
                stages.append({"name": name, "status": "skipped", "message": "time limit reached"})
                proven.append(False)
                messages.append(f"{name} stage skipped: time limit reached")
                break
            fix_cost = None
            if name == "distance":
                fix_cost = metrics.total_cost + _hold_slack(metrics.total_cost)
            pk, lk = joint_milp(
                work, objective, fix_primary=held, stage=name, forbid=forbid, fix_cost=fix_cost, options=options
            )
            wk = _warm_start(pk, lk, plan)
            rk, again = _solve(be, pk, params, _stage_deadline(deadline, name), wk)
            say(_stage_line(name, rk))
            stages.append(_record(name, rk, pk, {"primary": held} | ({"cost": fix_cost} if fix_cost else {})))
            stages[-1]["warm_start"] = wk is not None
            stages[-1]["resolved_cold"] = again
            proven.append(rk.status == Status.OPTIMAL)
            if rk.status != Status.OPTIMAL:
                messages.append(f"{name} stage ended {rk.status.value} ({rk.limit.value} limit)")
            if not rk.status.has_solution or rk.x is None:
                break
            plan = lk.open_phase(rk.x)
            metrics = evaluate_joint(inst, lift(plan))
            om = _option_metrics(inst, options, lk, rk.x, plan, objective)
            if name == "cost":
                checks.append(("cost", lk.cost_value(rk.x), metrics.total_cost))
            else:
                checks.append(("walking distance", lk.distance_value(rk.x), metrics.total_distance))
            checks.append(
                ("primary objective held", None, objective_value(metrics, objective) if om is None else om.value)
            )

    value = objective_value(metrics, objective) if om is None else om.value
    ok = not metrics.violations and (om is None or not om.violations)
    for what, milp_value, evaluated in checks:
        if milp_value is None:
            # the plan of a later stage must keep the primary objective within the hold slack
            good = evaluated >= best - 2 * _hold_slack(best) if sense == "max" else True
        else:
            good = _close(milp_value, evaluated)
        if not good:
            ok = False
            messages.append(f"{what}: solver {milp_value} vs evaluator {evaluated}")
    if metrics.violations:
        messages.append("plan violates: " + "; ".join(metrics.violations))
    if om is not None and om.violations:
        messages.append("capacity / equity check: " + "; ".join(om.violations))
    status = Status.OPTIMAL if all(proven) else Status.FEASIBLE
    bound = r1.bound
    return JointResult(
        open_phase=lift(plan),
        status=status,
        objective=value,
        bound=bound,
        gap=relative_gap(value, bound),
        seconds=time.perf_counter() - t0,
        solver=be.name,
        solver_version=be.version(),
        stages=stages,
        metrics=metrics,
        verified=ok,
        objective_name=objective,
        message="; ".join(messages),
        notes=notes,
        service_names=tuple(s.name for s in inst.services),
        site_ids=inst.site_ids,
        option_metrics=om,
    )


# --------------------------------------------------------------------------- alternatives
def tolerance_bound(best: float, tolerance: float, sense: str) -> float:
    """The worst objective value within ``tolerance`` (relative) of ``best``, with a tiny slack for
    round-off: ``(1 - tol) * best`` for max, ``(1 + tol) * best`` for min (best >= 0)."""
    slack = 1e-9 * max(1.0, abs(best))
    if sense == "max":
        return best - tolerance * abs(best) - slack
    return best + tolerance * abs(best) + slack


def alternatives(
    inst: MultiServiceInstance,
    k: int,
    tolerance: float,
    objective: str = "max_coverage",
    solver: str = "highs",
    params: SolveParams | None = None,
    *,
    tie_break: bool = True,
) -> list[JointResult]:
    """Up to ``k`` distinct plans (different sets of open (service, plot) pairs), each within
    ``tolerance`` (relative) of the best objective.

    The best plan is solved first; then, repeatedly, the best plan that differs from every plan
    found so far (no-good cuts (15)) and keeps the objective within :func:`tolerance_bound`, until
    ``k`` plans or none is left. Plans come in order of objective (when every solve is proven).
    ``params``' time limit is one budget for all of them: the search stops when it is spent and
    returns the plans found so far.
    """
    check_objective(objective)
    if int(k) != k or k < 1:
        raise ScenarioError(f"alternatives k = {k} must be a whole number >= 1")
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ScenarioError(f"alternatives tolerance = {tolerance} must be a number >= 0 (e.g. 0.05 for 5 %)")
    be = get_backend(solver)
    sense = OBJECTIVE_SENSE[objective]
    params = (params or SolveParams()).started()
    first = solve_joint(inst, objective, solver, params, tie_break=tie_break, backend=be)
    results = [first]
    bound = tolerance_bound(first.objective, tolerance, sense)
    while len(results) < k and not params.expired():
        try:
            r = solve_joint(
                inst,
                objective,
                solver,
                params,
                tie_break=tie_break,
                backend=be,
                forbid=[x.open_phase for x in results],
                primary_bound=bound,
            )
        except (InfeasibleError, NoSolutionError):
            break
        results.append(r)
    return results


def site_frequency(results: list[JointResult]) -> dict[tuple[str, Any], int]:
    """How many of ``results`` open each (service name, site id); pairs never opened are absent."""
    out: Counter[tuple[str, Any]] = Counter()
    for r in results:
        s_idx, j_idx = np.nonzero(np.asarray(r.open_phase) >= 0)
        for s, j in zip(s_idx.tolist(), j_idx.tolist()):  # loop over the opened pairs of a plan
            name = r.service_names[s] if r.service_names else str(s)
            sid = (
                r.site_ids[j].item()
                if r.site_ids is not None and hasattr(r.site_ids[j], "item")
                else (r.site_ids[j] if r.site_ids is not None else j)
            )
            out[(name, sid)] += 1
    return dict(out)
