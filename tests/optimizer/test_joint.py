"""The joint multi-service model against brute-force enumeration.

Instances are tiny (n <= 6 demand points, m <= 4 plots, S <= 2 services, T <= 2 phases) with random
room and areas, costs (zeros included), eligibility, total / per-service / per-phase budgets with
and without carry-over, count limits, existing coverage, service weights, residents, and walking
distances stored for a superset of the covered pairs. The property tests draw every choice with
hypothesis (``instances``, derandomized), so a failure shrinks; fixed examples come from a seed
through the same generator (``random_instance``).

The brute force assigns every eligible (service, plot) pair to "closed" or one of the phases, in all
combinations, and scores each plan with :func:`evaluate_joint` alone (feasible = no violations), so
it shares no code with the formulation or the solver.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from oracles import joint_plans
from strategies import DrawSource, NumpySource

from siting.models.errors import DataError, InfeasibleError, ScenarioError
from siting.models.formulations.joint import joint_milp
from siting.models.multiservice import (
    OBJECTIVE_SENSE,
    OBJECTIVES,
    JointMetrics,
    MultiServiceInstance,
    ServiceData,
    evaluate_joint,
    objective_value,
    open_pairs,
)
from siting.optimizer.backends.common import abandoned_run
from siting.optimizer.backends.highs import HighsBackend
from siting.optimizer.joint import alternatives, greedy_plan, site_frequency, solve_joint, tolerance_bound
from siting.optimizer.result import Limit, SolveParams, Status

PARAMS = SolveParams(mip_gap=0.0)
FAST = settings(max_examples=25, deadline=None, derandomize=True)
TOL = 1e-6


# --------------------------------------------------------------------------- instances
def random_instance(seed: int, *, distances: bool = True) -> MultiServiceInstance:
    """A tiny random joint instance (sizes and every feature drawn from ``seed``)."""
    return build_instance(NumpySource(seed), distances=distances, name=f"random{seed}")


@st.composite
def instances(draw: st.DrawFn, *, distances: bool = True) -> MultiServiceInstance:
    """The same tiny joint instances, every choice drawn by hypothesis (a failure shrinks)."""
    return build_instance(DrawSource(draw), distances=distances, name="drawn")


def build_instance(rng: NumpySource | DrawSource, *, distances: bool, name: str) -> MultiServiceInstance:
    """A tiny joint instance: 1-6 demand points, 1-4 plots, 1-2 services, 1-2 phases, with every
    feature (stored pairs, reach, existing facilities, eligibility, costs, site limits, budgets,
    room, carry-over, residents) chosen by ``rng``."""
    n = int(rng.choice([1, 3, 4, 5, 6, 6]))
    m = int(rng.choice([1, 2, 3, 4, 4]))
    S = int(rng.choice([1, 2, 2]))
    T = int(rng.choice([1, 2, 2]))
    services = []
    for s in range(S):
        D = rng.ints(0, 11, size=(n, m)).astype(float)
        stored = rng.mask((n, m), 0.8) & (D <= 8)  # the "network cutoff": stored pairs
        reach = float(rng.ints(2, 8))
        cov = stored & (D <= reach)
        r, c = np.nonzero(stored)
        dist = sp.csr_array((D[r, c], (r, c)), shape=(n, m))  # explicit zeros kept
        ex_d = np.where(rng.mask(n, 0.3), rng.ints(0, 10, size=n).astype(float), np.inf)
        elig = rng.mask(m, 0.8)
        cost = np.where(elig, rng.ints(0, 6, size=m).astype(float), np.nan)
        max_sites = None if rng.chance(0.5) else int(rng.ints(1, 4))
        services.append(
            ServiceData(
                name=f"svc{s}",
                weights=rng.ints(0, 6, size=n).astype(float),
                coverage=sp.csr_array(cov),
                distances=dist if distances else None,
                cost=cost,
                eligible=elig,
                area=float(rng.ints(1, 3)),
                existing_covered=ex_d <= reach,
                existing_distance=ex_d,
                min_sites=int(rng.chance(0.15)),
                max_sites=max_sites,
                weight=float(rng.choice([1.0, 2.0, 1.5])),
                budget=None if rng.chance(0.6) else float(rng.ints(2, 10)),
                group=f"group{s}",
            )
        )
    pb = rng.ints(1, 8, size=T).astype(float) if rng.chance(0.6) else None
    if pb is not None and rng.chance(0.2):
        pb[0] = np.inf
    return MultiServiceInstance(
        demand_ids=np.arange(100, 100 + n),
        site_ids=np.array([f"p{j}" for j in range(m)]),
        room=rng.choice([np.inf, 0.0, 1.0, 2.0, 3.0], size=m),
        services=tuple(services),
        total_budget=None if rng.chance(0.5) else float(rng.ints(3, 15)),
        phases=tuple(str(2022 + t) for t in range(T)),
        phase_budgets=pb,
        carry_over=bool(rng.chance(0.5)),
        residents=rng.ints(0, 8, size=n).astype(float) if rng.chance(0.5) else None,
        name=name,
    )


def feasible_values(
    plans: list[tuple[NDArray[np.int8], JointMetrics]], objective: str
) -> list[tuple[float, JointMetrics]]:
    """(value, metrics) of every plan the objective admits (min_cost must cover all coverable
    demand, p-median must reach all reachable demand)."""
    out = []
    for _, met in plans:
        if met.violations:
            continue
        if objective == "min_cost" and not met.covers_all_coverable:
            continue
        v = objective_value(met, objective)
        if not np.isfinite(v):
            continue
        out.append((v, met))
    return out


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def assert_plan_sound(inst: MultiServiceInstance, met: JointMetrics) -> None:
    """The plan keeps room, eligibility and every budget (checked directly, not via violations)."""
    opened = met.open_phase >= 0
    assert not met.violations, met.violations
    assert np.all(met.room_used <= inst.room + 1e-9)
    assert not (opened & ~np.stack([s.eligible for s in inst.services])).any()
    if inst.total_budget is not None:
        assert met.total_cost <= inst.total_budget + 1e-9
    for s, svc in enumerate(inst.services):
        if svc.budget is not None:
            assert met.cost_by_service[s] <= svc.budget + 1e-9
        assert svc.min_sites <= opened[s].sum() <= (svc.max_sites if svc.max_sites is not None else inst.m)
    if inst.phase_budgets is not None:
        spent = np.cumsum(met.cost_by_phase) if inst.carry_over else met.cost_by_phase
        limit = np.cumsum(inst.phase_budgets) if inst.carry_over else inst.phase_budgets
        assert np.all(spent <= limit + 1e-9)


# --------------------------------------------------------------------------- brute force
@FAST
@given(inst=instances())
def test_every_objective_matches_brute_force(inst: MultiServiceInstance) -> None:
    plans = joint_plans(inst)
    for objective in OBJECTIVES:
        cands = feasible_values(plans, objective)
        sense = OBJECTIVE_SENSE[objective]
        if not cands:
            with pytest.raises(InfeasibleError, match="no feasible plan"):
                solve_joint(inst, objective, params=PARAMS)
            continue
        res = solve_joint(inst, objective, params=PARAMS)
        values = [v for v, _ in cands]
        best = max(values) if sense == "max" else min(values)
        assert res.status == Status.OPTIMAL, (objective, res.message)
        assert res.verified, (objective, res.message)
        assert close(res.objective, best), (objective, res.objective, best)
        assert close(objective_value(evaluate_joint(inst, res.open_phase), objective), res.objective)
        assert_plan_sound(inst, res.metrics)
        if objective == "min_cost":
            assert res.metrics.covers_all_coverable
        if sense == "max":
            # lexicographic: least cost among the optimal plans, then least walking distance
            top = [met for v, met in cands if v >= best - TOL * max(1.0, abs(best))]
            cmin = min(met.total_cost for met in top)
            assert close(res.metrics.total_cost, cmin), (objective, res.metrics.total_cost, cmin)
            cheap = [met for met in top if met.total_cost <= cmin + TOL * max(1.0, cmin)]
            dmin = min(met.total_distance for met in cheap)
            assert close(res.metrics.total_distance, dmin), (objective, res.metrics.total_distance, dmin)
            assert [st["name"] for st in res.stages] == ["primary", "cost", "distance"]


@FAST
@given(inst=instances(distances=False))
def test_without_tie_break_only_the_primary_objective_is_optimal(inst: MultiServiceInstance) -> None:
    plans = joint_plans(inst)
    for objective in ("max_coverage", "complete_circle", "phased", "min_cost"):
        cands = feasible_values(plans, objective)
        if not cands:
            continue
        values = [v for v, _ in cands]
        best = max(values) if OBJECTIVE_SENSE[objective] == "max" else min(values)
        res = solve_joint(inst, objective, params=PARAMS, tie_break=False)
        assert res.verified and close(res.objective, best)
        assert [st["name"] for st in res.stages] == ["primary"]
        assert np.isnan(res.metrics.total_distance)  # no distances: not computable


# --------------------------------------------------------------------------- alternatives
@settings(max_examples=20, deadline=None, derandomize=True)
@given(inst=instances(), which=st.sampled_from(OBJECTIVES), tie_break=st.booleans())
def test_alternatives_match_brute_force(inst: MultiServiceInstance, which: str, tie_break: bool) -> None:
    tolerance = 0.1234  # not a round number, so no plan value sits exactly on the threshold
    sense = OBJECTIVE_SENSE[which]
    cands = feasible_values(joint_plans(inst), which)
    if not cands:
        with pytest.raises(InfeasibleError):
            alternatives(inst, 3, tolerance, which, params=PARAMS)
        return
    best_by_set: dict[frozenset[tuple[int, int]], float] = {}
    for v, met in cands:
        key = open_pairs(met.open_phase)
        old = best_by_set.get(key)
        best_by_set[key] = v if old is None else (max(old, v) if sense == "max" else min(old, v))
    best = max(best_by_set.values()) if sense == "max" else min(best_by_set.values())
    limit = tolerance_bound(best, tolerance, sense)
    within = {key for key, v in best_by_set.items() if (v >= limit if sense == "max" else v <= limit)}
    k = len(within) + 1 if len(within) <= 12 else 5
    found = alternatives(inst, k, tolerance, which, params=PARAMS, tie_break=tie_break)
    keys = [r.pairs for r in found]
    assert len(set(keys)) == len(keys), "alternatives must differ in their open (service, plot) pairs"
    assert close(found[0].objective, best)
    for r in found:
        assert r.verified, r.message
        assert_plan_sound(inst, r.metrics)
        assert (r.objective >= limit) if sense == "max" else (r.objective <= limit)
        assert r.pairs in within
    vals = [r.objective for r in found]
    order = sorted(vals, reverse=(sense == "max"))
    assert all(close(a, b) for a, b in zip(vals, order)), "alternatives come best first"
    if k > len(within):
        assert set(keys) == within
    else:
        assert len(found) == k
    freq = site_frequency(found)
    assert sum(freq.values()) == sum(len(key) for key in keys)
    for (name, site), count in freq.items():
        s, j = inst.service_index(name), list(inst.site_ids).index(site)
        assert count == sum((s, j) in key for key in keys)


# --------------------------------------------------------------------------- greedy and layout
@FAST
@given(inst=instances())
def test_greedy_plan_keeps_room_budgets_and_eligibility(inst: MultiServiceInstance) -> None:
    for objective in OBJECTIVES:
        _, layout = joint_milp(inst, objective)
        met = evaluate_joint(inst, greedy_plan(inst, layout, objective))
        # greedy may fall short of min_sites, never anything else
        assert all("min_sites" in v for v in met.violations), met.violations


def test_phases_collapse_without_phase_budgets() -> None:
    inst = dataclasses.replace(
        random_instance(7), phases=("2022", "2023", "2024"), phase_budgets=None, phase_weights=None
    )
    _, layout = joint_milp(inst, "max_coverage")
    assert layout.n_phases == 1  # phases cannot matter: every plan is built in phase 0
    _, layout_phased = joint_milp(inst, "phased")
    assert layout_phased.n_phases == 3
    res = solve_joint(inst, "max_coverage", params=PARAMS)
    assert set(np.unique(res.open_phase)) <= {-1, 0}


def test_phased_objective_prefers_early_coverage() -> None:
    """Hand-checked: one service, two plots each covering one demand point of 10 people, cost 1, phase
    budgets 1 and 1 (no carry-over). Both plots open, one per phase; default phase weights (2/3, 1/3):
    value = 2/3 * 10 + 1/3 * 20 = 13.33; the larger group (20 people at plot 1) must come first:
    2/3 * 20 + 1/3 * 30 = 23.33 beats 2/3 * 10 + 1/3 * 30 = 16.67."""
    svc = ServiceData(
        name="care",
        weights=np.array([10.0, 20.0]),
        coverage=sp.csr_array(np.eye(2, dtype=bool)),
        distances=sp.csr_array(np.eye(2)),
        cost=np.array([1.0, 1.0]),
        eligible=np.array([True, True]),
        area=1.0,
        existing_covered=np.zeros(2, dtype=bool),
        existing_distance=np.full(2, np.inf),
    )
    inst = MultiServiceInstance(
        demand_ids=np.arange(2),
        site_ids=np.array(["a", "b"]),
        room=np.array([1.0, 1.0]),
        services=(svc,),
        phases=("2022", "2023"),
        phase_budgets=np.array([1.0, 1.0]),
        carry_over=False,
    )
    res = solve_joint(inst, "phased", params=PARAMS)
    assert res.open_phase.tolist() == [[1, 0]]
    assert res.objective == pytest.approx(2 / 3 * 20 + 1 / 3 * 30)


def test_evaluate_joint_hand_checked() -> None:
    """Two services on two plots of room 2; hand-computed figures in the comments."""
    cov = sp.csr_array(np.array([[1, 0], [1, 1], [0, 1]], dtype=bool))
    dist = sp.csr_array(([0.0, 3.0, 2.0, 4.0], ([0, 1, 1, 2], [0, 0, 1, 1])), shape=(3, 2))  # explicit zero at (0,0)
    a = ServiceData(
        name="care",
        weights=np.array([1.0, 2.0, 3.0]),
        coverage=cov,
        distances=dist,
        cost=np.array([5.0, 7.0]),
        eligible=np.array([True, True]),
        area=2.0,
        existing_covered=np.array([False, False, True]),
        existing_distance=np.array([np.inf, np.inf, 1.0]),
        weight=2.0,
        budget=4.0,
    )
    b = ServiceData(
        name="kids",
        weights=np.array([4.0, 0.0, 1.0]),
        coverage=cov,
        distances=dist,
        cost=np.array([np.nan, 1.0]),
        eligible=np.array([False, True]),
        area=1.0,
        existing_covered=np.zeros(3, dtype=bool),
        existing_distance=np.full(3, np.inf),
        max_sites=0,
    )
    inst = MultiServiceInstance(
        demand_ids=np.array([10, 11, 12]),
        site_ids=np.array(["a", "b"]),
        room=np.array([2.0, 2.0]),
        services=(a, b),
        total_budget=100.0,
        phases=("p0", "p1"),
        phase_budgets=np.array([5.0, 100.0]),
        carry_over=False,
        phase_weights=np.array([0.5, 0.5]),
        residents=np.array([1.0, 1.0, 1.0]),
    )
    plan = np.array([[0, 1], [-1, 1]], dtype=np.int8)  # care on a (phase 0) and b (phase 1), kids on b (phase 1)
    met = evaluate_joint(inst, plan)
    # care covers 0,1 (plot a) and 1,2 (plot b) plus existing 2: all -> 6 people; kids: 1,2 via b -> 0 + 1 = 1
    assert met.covered_people.tolist() == [6.0, 1.0]
    assert met.weighted_coverage == 2.0 * 6.0 + 1.0
    # phase 0: care covers 0,1 (a) and 2 (existing) = 6; kids none -> 2*6 = 12; phase 1: 13 -> 0.5*12 + 0.5*13
    assert met.phased_value == pytest.approx(12.5)
    # complete: demand 1 and 2 are covered by both services -> residents 2
    assert met.complete_people == 2.0
    assert met.cost_by_service.tolist() == [12.0, 1.0] and met.cost_by_phase.tolist() == [5.0, 8.0]
    # room: plot b hosts care (2) + kids (1) = 3 > 2
    assert met.room_used.tolist() == [2.0, 3.0]
    # care distances: 0 (a), min(3, 2) = 2 (b), min(existing 1, 4) = 1 -> 2 * (1*0 + 2*2 + 3*1) = 14;
    # kids: demand 2 at 4 (demand 1 has weight 0) -> 4. Total 18.
    assert met.total_distance == pytest.approx(18.0)
    joined = " | ".join(met.violations)
    assert "room exceeded on plots b" in joined
    assert "'care' costs 12, over its budget 4" in joined
    assert "'kids' has 1 new sites, more than max_sites = 0" in joined
    assert "phase 'p0'" not in joined and "phase 'p1'" not in joined  # 5 <= 5, 8 <= 100
    # kids on the ineligible plot a
    met2 = evaluate_joint(inst, np.array([[-1, -1], [0, -1]], dtype=np.int8))
    assert any("ineligible plots a" in v for v in met2.violations)


def test_merged_rows_and_columns_only_for_eligible_pairs() -> None:
    inst = random_instance(3)
    prob, layout = joint_milp(inst, "max_coverage")
    elig = np.stack([s.eligible for s in inst.services])
    assert elig[layout.pair_service, layout.pair_site].all()
    assert prob.num_vars == layout.num_vars
    # identical covering sets share one row: four demand points with the same covering set -> 1 z
    cov = sp.csr_array(np.array([[1, 1, 0]] * 4 + [[0, 1, 1]], dtype=bool))
    svc = ServiceData(
        name="wc",
        weights=np.ones(5),
        coverage=cov,
        distances=None,
        cost=np.ones(3),
        eligible=np.ones(3, dtype=bool),
        area=1.0,
        existing_covered=np.zeros(5, dtype=bool),
        existing_distance=np.full(5, np.inf),
    )
    small = MultiServiceInstance(
        demand_ids=np.arange(5), site_ids=np.arange(3), room=np.full(3, np.inf), services=(svc,), total_budget=1.0
    )
    prob, layout = joint_milp(small, "max_coverage")
    assert layout.cover_blocks[0].cols.shape == (2, 1)
    assert layout.cover_blocks[0].weight.tolist() == [4.0, 1.0]
    res = solve_joint(small, "max_coverage", params=PARAMS)
    # plot 1 covers both covering sets (all 5 points) within the budget of one site
    assert res.objective == 5.0 and res.open_phase.tolist() == [[-1, 0, -1]]


def test_forbid_excludes_a_plan() -> None:
    tried = 0
    for seed in range(100):  # the first instances with at least two distinct feasible plans
        inst = random_instance(seed)
        sets = {open_pairs(met.open_phase) for _, met in feasible_values(joint_plans(inst), "max_coverage")}
        if len(sets) < 2:
            continue
        tried += 1
        if tried > 3:
            break
        first = solve_joint(inst, "max_coverage", params=PARAMS)
        second = solve_joint(inst, "max_coverage", params=PARAMS, forbid=[first.open_phase])
        assert second.pairs != first.pairs and second.pairs in sets
        if len(sets) == 2:
            with pytest.raises(InfeasibleError):
                solve_joint(inst, "max_coverage", params=PARAMS, forbid=[first.open_phase, second.open_phase])
    assert tried, "no instance with two feasible plans among the first 100 seeds"


class _StopSecondStage:
    """HiGHS, but the second solve is reported as stopped by the time limit."""

    name = "highs"

    def __init__(self) -> None:
        self.inner = HighsBackend()
        self.calls = 0

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return self.inner.version()

    def solve(self, problem: Any, params: SolveParams, warm_start: Any = None) -> Any:
        self.calls += 1
        r = self.inner.solve(problem, params, warm_start)
        if self.calls == 2:
            return dataclasses.replace(r, status=Status.FEASIBLE, limit=Limit.TIME)
        return r


class _AbandonsSecondStage(_StopSecondStage):
    """HiGHS, but the second solve overruns its time and is abandoned (what the backend then returns)."""

    def solve(self, problem: Any, params: SolveParams, warm_start: Any = None) -> Any:
        self.calls += 1
        if self.calls == 2:
            return abandoned_run(problem, "highs", self.version(), 1.0, "HiGHS was abandoned", warm_start)
        return self.inner.solve(problem, params, warm_start)


class _StopsWithSlackCoverage(_StopSecondStage):
    """HiGHS, but the first solve comes back stopped by the time limit with every continuous column
    (the coverage ``z``) at its lower bound: a plan whose solver objective undercounts it, as a
    stopped MILP's incumbent can."""

    def solve(self, problem: Any, params: SolveParams, warm_start: Any = None) -> Any:
        self.calls += 1
        r = self.inner.solve(problem, params, warm_start)
        if self.calls == 1 and r.x is not None:
            x = np.where(problem.integrality, r.x, problem.col_lower)
            if problem.max_violation(x) <= 1e-9:
                return dataclasses.replace(
                    r, status=Status.FEASIBLE, limit=Limit.TIME, x=x, objective=problem.objective_value(x)
                )
        return r


class _ReturnsTheStart:
    """HiGHS, but a warm-started run hands back the start vector with the optimum's bound, as
    HiGHS 1.16 does when presolve maps the start to a better point of the reduced space."""

    name = "highs"

    def __init__(self) -> None:
        self.inner = HighsBackend()

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return self.inner.version()

    def solve(self, problem: Any, params: SolveParams, warm_start: Any = None) -> Any:
        r = self.inner.solve(problem, params, warm_start)
        if warm_start is None:
            return r
        return dataclasses.replace(
            r, x=np.asarray(warm_start, dtype=float), objective=problem.objective_value(warm_start)
        )


def test_a_start_returned_as_the_optimum_is_solved_again() -> None:
    for seed in range(200):  # an instance where the greedy start is not optimal
        inst = random_instance(seed)
        cands = feasible_values(joint_plans(inst), "max_coverage")
        if not cands:
            continue
        best = max(v for v, _ in cands)
        _, layout = joint_milp(inst, "max_coverage")
        start = evaluate_joint(inst, greedy_plan(inst, layout, "max_coverage"))
        if start.violations or start.weighted_coverage >= best - 1e-9:
            continue
        res = solve_joint(inst, "max_coverage", params=PARAMS, backend=_ReturnsTheStart(), tie_break=False)
        assert res.stages[0]["resolved_cold"] and close(res.objective, best) and res.verified
        return
    pytest.fail("no instance with a sub-optimal greedy start among the first 200 seeds")


def test_a_stage_stopped_by_a_limit_is_not_optimal() -> None:
    inst = random_instance(5)
    res = solve_joint(inst, "max_coverage", params=PARAMS, backend=_StopSecondStage())
    assert res.status == Status.FEASIBLE
    assert res.stages[1]["status"] == "FEASIBLE" and "cost stage" in res.message
    assert res.verified


def test_a_tie_break_stage_abandoned_keeps_the_plan_and_skips_the_rest() -> None:
    # The cost stage overruns and is abandoned with its start (the primary plan): the plan is the
    # primary stage's, the (larger) distance model is not solved after an unproven cost stage, and the
    # message says why.
    for seed in range(40):
        inst = random_instance(seed)
        if inst.has_distances and len(solve_joint(inst, "max_coverage", params=PARAMS).stages) == 3:
            break
    else:
        pytest.fail("no instance with three stages among the first 40 seeds")
    primary_only = solve_joint(inst, "max_coverage", params=PARAMS, tie_break=False)
    backend = _AbandonsSecondStage()
    res = solve_joint(inst, "max_coverage", params=PARAMS, backend=backend)
    assert backend.calls == 2 and [s["name"] for s in res.stages] == ["primary", "cost", "distance"]
    assert res.stages[1]["status"] == "FEASIBLE" and "abandoned" in res.stages[1]["message"]
    assert res.stages[2]["status"] == "skipped" and "before its proof" in res.stages[2]["message"]
    assert np.array_equal(res.open_phase, primary_only.open_phase) and res.status == Status.FEASIBLE
    assert "distance stage skipped" in res.message and res.verified


def test_a_stopped_plan_is_valued_in_full_before_it_is_checked() -> None:
    # The stopped primary stage's point leaves covered rows uncounted (z = 0): the plan is recounted
    # (z at its best for the open pairs), so the solver's objective and the evaluator's agree.
    for seed in range(40):
        inst = random_instance(seed)
        plain = solve_joint(inst, "max_coverage", params=PARAMS, tie_break=False)
        backend = _StopsWithSlackCoverage()
        res = solve_joint(inst, "max_coverage", params=PARAMS, backend=backend, tie_break=False)
        if res.stages[0]["status"] == "FEASIBLE" and plain.objective > 0:
            break
    else:
        pytest.fail("no instance whose stopped point undercounts its plan among the first 40 seeds")
    assert res.verified and "solver" not in res.message, res.message
    assert res.objective == pytest.approx(plain.objective) and res.stages[0]["objective"] == pytest.approx(
        res.objective
    )


def test_min_cost_and_pmedian_report_what_cannot_be_served() -> None:
    """Hand-checked: demand 1 is within reach of no plot and of no existing facility."""
    cov = sp.csr_array(np.array([[1], [0]], dtype=bool))
    svc = ServiceData(
        name="ev",
        weights=np.array([3.0, 5.0]),
        coverage=cov,
        distances=sp.csr_array(np.array([[2.0], [0.0]])),
        cost=np.array([4.0]),
        eligible=np.array([True]),
        area=1.0,
        existing_covered=np.zeros(2, dtype=bool),
        existing_distance=np.full(2, np.inf),
    )
    inst = MultiServiceInstance(
        demand_ids=np.arange(2), site_ids=np.array(["x"]), room=np.array([1.0]), services=(svc,)
    )
    res = solve_joint(inst, "min_cost", params=PARAMS)
    assert res.objective == 4.0 and res.metrics.uncoverable[0].tolist() == [False, True]
    res = solve_joint(inst, "pmedian", params=PARAMS)
    assert res.objective == 3.0 * 2.0 and res.metrics.unreachable[0].tolist() == [False, True]


# --------------------------------------------------------------------------- errors
def test_bad_data_raises_clear_errors() -> None:
    inst = random_instance(1)
    svc = inst.services[0]
    with pytest.raises(DataError, match="coverage has shape"):
        dataclasses.replace(svc, coverage=sp.csr_array((svc.n + 1, svc.m), dtype=bool))
    with pytest.raises(DataError, match="cost must be finite"):
        dataclasses.replace(svc, cost=np.full(svc.m, -1.0), eligible=np.ones(svc.m, dtype=bool))
    with pytest.raises(DataError, match="room has shape"):
        dataclasses.replace(inst, room=np.ones(inst.m + 1))
    with pytest.raises(DataError, match="service names must be unique"):
        dataclasses.replace(inst, services=(svc, svc))
    with pytest.raises(DataError, match="phase_budgets has shape"):
        dataclasses.replace(inst, phase_budgets=np.ones(inst.T + 1))
    with pytest.raises(DataError, match="plan has shape"):
        evaluate_joint(inst, np.zeros((inst.S + 1, inst.m), dtype=np.int8))
    with pytest.raises(DataError, match="no stored distance"):
        dataclasses.replace(
            svc, distances=sp.csr_array((svc.n, svc.m)), coverage=sp.csr_array(np.ones((svc.n, svc.m), dtype=bool))
        )
    with pytest.raises(ScenarioError, match="unknown joint objective"):
        solve_joint(inst, "max_cover")
    no_dist = random_instance(1, distances=False)
    with pytest.raises(ScenarioError, match="needs walking distances"):
        solve_joint(no_dist, "pmedian")
    with pytest.raises(ScenarioError, match="tolerance"):
        alternatives(inst, 2, -0.1)


@pytest.mark.parametrize("solver", ["highs", "cbc", "scip", "cpsat"])
def test_every_installed_solver_finds_the_brute_force_optimum(solver: str) -> None:
    from siting.models.errors import BackendUnavailableError
    from siting.optimizer.registry import get_backend

    try:
        get_backend(solver)
    except BackendUnavailableError:
        pytest.skip(f"{solver} is not installed")
    inst = random_instance(5)
    plans = joint_plans(inst)
    for objective in ("max_coverage", "phased", "pmedian"):
        cands = feasible_values(plans, objective)
        values = [v for v, _ in cands]
        best = max(values) if OBJECTIVE_SENSE[objective] == "max" else min(values)
        res = solve_joint(inst, objective, solver, PARAMS)
        assert res.status == Status.OPTIMAL and res.verified and close(res.objective, best)
