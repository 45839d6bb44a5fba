"""Window search for the MCLP (optimizer.coverage_windows) and its MILP start vector.

Brute force on hypothesis instances: the plan is feasible, recounted, never worse than its start,
and optimal when one window holds every site (a demand point every site covers); the start
vector's objective is the plan's covered weight; a seeded city where it improves the heuristic.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import REPO

from siting.models.evaluate import evaluate
from siting.models.formulations.lscp import covering_rows, new_eligible
from siting.models.formulations.mclp import mclp
from siting.models.instance import SitingInstance
from siting.optimizer.coverage_windows import covered_weight, mclp_start, window_search
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.result import SolveParams

sys.path.insert(0, str(REPO / "benchmarks"))
from city_instances import city_instance
from oracles import brute_lscp, brute_mclp
from strategies import coverage_instances

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _quiet(_msg: str) -> None:
    pass


def _with_hub(inst: SitingInstance) -> SitingInstance:
    """The instance plus one demand point (weight 1) at distance 0 from every site: every site
    overlaps every other, so one window holds them all."""
    d = np.vstack([np.asarray(inst.distances, dtype=np.float64), np.zeros((1, inst.m))])
    return SitingInstance(
        distances=d,
        weights=np.append(inst.weights, 1.0),
        cost=inst.cost,
        existing=inst.existing,
        forbidden=inst.forbidden,
    )


def _start(inst: SitingInstance, k: int, seed: int) -> np.ndarray:
    """Existing sites plus k new eligible sites drawn at random (seeded)."""
    new = np.flatnonzero(new_eligible(inst))
    rng = np.random.default_rng(seed)
    mask = inst.existing.copy()
    mask[rng.choice(new, size=min(k, new.size), replace=False)] = True
    return mask


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(1, 15), p=st.integers(1, 4), seed=st.integers(0, 99))
def test_one_window_holding_every_site_is_optimal(inst: SitingInstance, radius: int, p: int, seed: int) -> None:
    inst = _with_hub(inst)
    if not new_eligible(inst).any():
        return
    start = _start(inst, p, seed)
    value = covered_weight(inst, radius, start)
    mask, best, _ = window_search(inst, radius, p, None, new_eligible(inst), start, value, SolveParams(), None, _quiet)
    met = evaluate(inst, mask, radius=radius, p=p)
    assert not met.violations
    assert best == pytest.approx(met.covered_weight) and best >= value
    assert best == pytest.approx(brute_mclp(inst, radius, p, None))


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(1, 15), p=st.integers(1, 3), seed=st.integers(0, 99))
def test_window_search_keeps_the_limits_and_never_loses(inst: SitingInstance, radius: int, p: int, seed: int) -> None:
    if not new_eligible(inst).any():
        return
    budget = 6.0
    start = _start(inst, 1, seed)  # one new site: within p and (costs <= 5) within the budget
    value = covered_weight(inst, radius, start)
    mask, best, _ = window_search(
        inst, radius, p, budget, new_eligible(inst), start, value, SolveParams(), None, _quiet
    )
    met = evaluate(inst, mask, radius=radius, p=p, budget=budget)
    assert not met.violations and inst.existing[mask].sum() == inst.existing.sum()
    assert best == pytest.approx(met.covered_weight) and best >= value - 1e-9
    assert best <= brute_mclp(inst, radius, p, budget) + 1e-9


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(1, 15), p=st.integers(1, 4), seed=st.integers(0, 99))
def test_start_vector_is_feasible_and_worth_the_plan(inst: SitingInstance, radius: int, p: int, seed: int) -> None:
    if not new_eligible(inst).any() or covering_rows(inst, radius)[3].all():
        return  # no model: nothing any site covers
    problem = mclp(inst, radius, p=p)
    start = _start(inst, p, seed)
    x = mclp_start(problem, start)
    assert x is not None and problem.max_violation(x) <= 1e-9
    assert problem.objective_value(x) == pytest.approx(covered_weight(inst, radius, start))
    forbidden = np.flatnonzero(inst.forbidden & ~inst.existing)
    if forbidden.size:  # a forbidden site in the plan is left out of the start
        bad = start.copy()
        bad[forbidden[0]] = True
        xb = mclp_start(problem, bad)
        assert xb is not None and xb[forbidden[0]] == 0.0
        assert problem.objective_value(xb) == pytest.approx(covered_weight(inst, radius, bad & ~inst.forbidden))


def test_window_search_improves_the_heuristic_on_a_city() -> None:
    inst = city_instance(3_000, 300, seed=11, cutoff=500.0)
    h = run_heuristic(inst, "mclp", p=15, radius=500.0, method="auto")
    mask, best, stats = window_search(
        inst, 500.0, 15, None, new_eligible(inst), h.open_mask, h.objective, SolveParams(time_limit=20), None, _quiet
    )
    met = evaluate(inst, mask, radius=500.0, p=15)
    assert not met.violations and best == pytest.approx(met.covered_weight)
    assert best >= h.objective and stats["windows"] > 0


def test_after_a_move_only_the_windows_near_it_are_solved_again() -> None:
    inst = city_instance(3_000, 300, seed=2, cutoff=500.0)  # the swap search leaves a move here
    h = run_heuristic(inst, "mclp", p=25, radius=500.0, method="auto")
    mask, best, stats = window_search(
        inst, 500.0, 25, None, new_eligible(inst), h.open_mask, h.objective, SolveParams(time_limit=20), None, _quiet
    )
    assert best > h.objective and stats["window_moves"] > 0
    # the last pass skipped the open sites no move came near (two windows each otherwise)
    assert stats["windows_unchanged"] > 0
    assert stats["windows"] < 2 * 25 * (stats["window_moves"] + 1)
    assert evaluate(inst, mask, radius=500.0, p=25).covered_weight == pytest.approx(best)


def test_auto_takes_the_reduced_path_for_city_sized_mclp(monkeypatch: pytest.MonkeyPatch) -> None:
    from siting.optimizer import coverage_choice
    from siting.optimizer.result import Status
    from siting.optimizer.solve import ModelSpec, solve

    inst = city_instance(1_500, 120, seed=4, cutoff=500.0)
    prove = SolveParams(mip_gap=0.0, time_limit=30)
    small = solve(inst, ModelSpec("mclp", p=5, radius=500.0), "highs", prove)
    assert small.stats["formulation"] == "mclp"
    monkeypatch.setattr(coverage_choice, "COVERAGE_REDUCED_PAIRS", 10)
    city = solve(inst, ModelSpec("mclp", p=5, radius=500.0), "highs", prove)
    assert city.stats["formulation"] == "mclp-reduced" and city.status == Status.OPTIMAL and city.verified
    assert city.objective == pytest.approx(small.objective)
    lscp = solve(inst, ModelSpec("lscp", radius=500.0), "highs", prove)  # LSCP keeps the compact model
    assert lscp.stats["formulation"] == "lscp"


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(0, 15), objective=st.sampled_from(["cost", "count"]))
def test_lscp_window_holding_every_site_is_optimal(inst: SitingInstance, radius: int, objective: str) -> None:
    from siting.optimizer.coverage_exact import greedy_lscp
    from siting.optimizer.coverage_windows import lscp_window_search

    inst = _with_hub(inst)
    start = greedy_lscp(inst, radius, objective)
    mask, _ = lscp_window_search(inst, radius, objective, new_eligible(inst), start, SolveParams(), None, _quiet)
    cov = inst.coverage(radius)
    need = (inst.weights > 0) & ((cov @ new_eligible(inst).astype(np.int8) + cov @ inst.existing.astype(np.int8)) > 0)
    assert ((cov @ mask.astype(np.int8))[need] > 0).all()  # still a cover
    assert (mask[inst.existing]).all()
    f = inst.cost if objective == "cost" else np.ones(inst.m)
    value = float(f[mask & ~inst.existing].sum())
    assert value <= float(f[start & ~inst.existing].sum()) + 1e-9
    assert value == pytest.approx(brute_lscp(inst, radius, objective))


def test_a_spent_budget_stops_the_window_search_at_once() -> None:
    from siting.optimizer.coverage_exact import greedy_lscp
    from siting.optimizer.coverage_windows import lscp_window_search

    inst = city_instance(3_000, 300, seed=11, cutoff=500.0)
    spent = SolveParams(time_limit=0.0).started()  # 0 s left is a spent budget, not "no limit"
    h = run_heuristic(inst, "mclp", p=15, radius=500.0, method="greedy")
    mask, best, stats = window_search(
        inst, 500.0, 15, None, new_eligible(inst), h.open_mask, h.objective, spent, None, _quiet
    )
    assert stats["windows"] == 0 and best == h.objective and np.array_equal(mask, h.open_mask)
    start = greedy_lscp(inst, 500.0, "cost")
    cover, lstats = lscp_window_search(inst, 500.0, "cost", new_eligible(inst), start, spent, None, _quiet)
    assert lstats["windows"] == 0 and np.array_equal(cover, start)


def test_the_window_searches_report_their_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of a large city take seconds each: both searches say how many they solved (here at
    every window) and what the plan is worth then."""
    import siting.optimizer.coverage_windows as cw
    from siting.optimizer.coverage_exact import greedy_lscp
    from siting.optimizer.coverage_windows import lscp_window_search

    monkeypatch.setattr(cw, "PROGRESS_SECONDS", 0.0)
    inst = city_instance(3_000, 300, seed=11, cutoff=500.0)
    h = run_heuristic(inst, "mclp", p=15, radius=500.0, method="greedy")
    notes: list[str] = []
    _, _, stats = window_search(
        inst,
        500.0,
        15,
        None,
        new_eligible(inst),
        h.open_mask,
        h.objective,
        SolveParams(time_limit=20),
        None,
        notes.append,
    )
    lines = [note for note in notes if "windows solved, best " in note]
    counts = [int(line.split(": ")[1].split(" ")[0]) for line in lines]
    assert stats["windows"] > 0 and len(lines) > 1  # a line per open site visited
    assert counts[0] == 0 and counts == sorted(counts) and counts[-1] <= stats["windows"]
    notes.clear()
    start = greedy_lscp(inst, 500.0, "cost")
    _, lstats = lscp_window_search(
        inst, 500.0, "cost", new_eligible(inst), start, SolveParams(time_limit=20), None, notes.append
    )
    lines = [note for note in notes if "windows solved, cover " in note]
    assert lstats["windows"] > 0 and len(lines) >= lstats["windows"]
