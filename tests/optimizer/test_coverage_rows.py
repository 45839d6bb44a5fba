"""Dominated rows and sites of a covering matrix (optimizer.coverage_rows) and the LSCP path on the
reduced rows (optimizer.coverage_lscp).

Brute force on hypothesis matrices and instances (the minimal rows by pairwise subset tests, the
least-cost cover by enumeration), agreement with the compact MILP on seeded medium cities, and
an honest stop when the budget is spent.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from paths import REPO

from siting.models.evaluate import evaluate
from siting.models.formulations.lscp import uncoverable
from siting.optimizer.coverage_lscp import core_sites, solve_lscp_rows, value_grid
from siting.optimizer.coverage_rows import minimal_rows, reduce_cover
from siting.optimizer.result import Limit, SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve

sys.path.insert(0, str(REPO / "benchmarks"))
from city_instances import city_instance
from clocks import spent
from oracles import brute_lscp, cover_problem
from strategies import coverage_instances

PROVE = SolveParams(mip_gap=0.0, time_limit=30)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

matrices = st.integers(1, 14).flatmap(
    lambda m: hnp.arrays(bool, st.tuples(st.integers(1, 30), st.just(m)), elements=st.booleans())
)


def _distinct_rows(b: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return np.unique(b, axis=0)


def _least_cost(b: NDArray[np.bool_], cost: NDArray[np.float64], allowed: NDArray[np.bool_]) -> float:
    """The least-cost cover of every row of b with allowed sites, by enumeration (inf if none)."""
    best = np.inf
    sites = np.flatnonzero(allowed)
    for size in range(sites.size + 1):
        for pick in itertools.combinations(sites, size):
            y = np.zeros(b.shape[1], dtype=bool)
            y[list(pick)] = True
            if (b[:, y].any(axis=1)).all():
                best = min(best, float(cost[y].sum()))
    return best


@SETTINGS
@given(b=matrices)
def test_minimal_rows_are_those_without_a_strict_subset(b: NDArray[np.bool_]) -> None:
    b = _distinct_rows(b)
    keep = minimal_rows(sp.csr_array(b))
    deg = b.sum(axis=1)
    subset = (b[:, None, :] <= b[None, :, :]).all(axis=2)  # subset[r, s]: N(r) ⊆ N(s)
    strict = subset & (deg[:, None] < deg[None, :]) & (deg[:, None] > 0)
    np.testing.assert_array_equal(keep, ~strict.any(axis=0))


@SETTINGS
@given(b=matrices, data=st.data())
def test_reduce_cover_keeps_the_least_cost(b: NDArray[np.bool_], data: st.DataObject) -> None:
    b = _distinct_rows(b)
    m = b.shape[1]
    if m > 10:
        b = b[:, :10]
        b = _distinct_rows(b)
        m = 10
    b = b[b.any(axis=1)]
    if b.shape[0] == 0:
        return
    cost = np.asarray(data.draw(st.lists(st.integers(1, 5), min_size=m, max_size=m)), dtype=np.float64)
    by_count = data.draw(st.booleans())
    min_share = data.draw(st.sampled_from([0.0, 0.3, 1.0]))  # rounds stopped early stay exact
    allowed = np.ones(m, dtype=bool)
    red = reduce_cover(sp.csr_array(b), None if by_count else cost, allowed, min_share=min_share)
    f = np.ones(m) if by_count else cost
    before = _least_cost(b, f, allowed)
    reduced = red.cover.toarray()
    assert reduced.shape[0] <= b.shape[0]
    assert _least_cost(reduced, f, red.sites) == pytest.approx(before)
    # every kept row is an input row restricted to the sites left
    np.testing.assert_array_equal(reduced, b[red.rows] & red.sites[None, :])


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(inst=coverage_instances(), radius=st.integers(1, 15), objective=st.sampled_from(["cost", "count"]))
@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_lscp_rows_equals_brute_force(inst, radius: int, objective: str, solver: str) -> None:  # type: ignore[no-untyped-def]
    res = solve(inst, ModelSpec("lscp", radius=radius, lscp_objective=objective, formulation="reduced"), solver, PROVE)  # type: ignore[arg-type]
    assert res.stats["formulation"] == "lscp-reduced" and res.stats["prover"] == solver
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(brute_lscp(inst, radius, objective))
    assert res.bound is not None and res.bound <= res.objective + 1e-9


@pytest.mark.parametrize("solver", ["highs", "scip"])
@pytest.mark.parametrize(("n", "m", "seed", "radius"), [(3_000, 300, 5, 700.0), (4_000, 250, 9, 800.0)])
def test_lscp_rows_equals_compact_on_medium_cities(n: int, m: int, seed: int, radius: float, solver: str) -> None:
    inst = city_instance(n, m, seed=seed, cutoff=radius)
    new = solve(inst, ModelSpec("lscp", radius=radius, formulation="reduced"), solver, PROVE)
    old = solve(inst, ModelSpec("lscp", radius=radius, formulation="compact"), "highs", PROVE)
    assert new.status == old.status == Status.OPTIMAL
    assert new.objective == pytest.approx(old.objective)
    assert new.verified and new.objective <= new.stats["heuristic_objective"] + 1e-9
    assert new.stats["rows_reduced"] < new.stats["rows_merged"]  # the row dominance did something
    assert new.stats["prover"] == solver and new.stats.get("milp_bound") is not None  # its branch and bound ran


def test_scip_takes_the_reduced_lscp_from_the_threshold_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from siting.models.errors import ScenarioError
    from siting.optimizer import coverage_choice

    inst = city_instance(1_500, 120, seed=4, cutoff=500.0)
    small = solve(inst, ModelSpec("lscp", radius=500.0), "scip", PROVE)
    assert small.stats["formulation"] == "lscp"  # below the threshold: the compact MILP
    monkeypatch.setattr(coverage_choice, "LSCP_REDUCED_PAIRS", 10)
    big = solve(inst, ModelSpec("lscp", radius=500.0), "scip", PROVE)
    assert big.stats["formulation"] == "lscp-reduced" and big.stats["prover"] == "scip"
    assert big.solver == "scip" and "HiGHS" in big.solver_version  # named after its branch and bound
    assert big.status == Status.OPTIMAL and big.objective == pytest.approx(small.objective)
    with pytest.raises(ScenarioError, match="highs or scip solver"):
        solve(inst, ModelSpec("lscp", radius=500.0, formulation="reduced"), "cbc", PROVE)
    with pytest.raises(ScenarioError, match="highs solver only"):  # the decompositions are HiGHS's
        solve(inst, ModelSpec("mclp", p=5, radius=500.0, formulation="benders"), "scip", PROVE)


def test_a_spent_budget_returns_the_greedy_cover_with_a_valid_bound() -> None:
    """The budget is spent before the search starts (a fake clock past the deadline): the greedy
    cover comes back FEASIBLE on the time limit. The control, with time, is proven optimal."""
    inst = city_instance(3_000, 300, seed=3, cutoff=600.0)
    exact = solve(inst, ModelSpec("lscp", radius=600.0, formulation="compact"), "highs", PROVE)
    assert exact.status == Status.OPTIMAL
    res, mask, stats = solve_lscp_rows(inst, 600.0, "cost", params=spent(mip_gap=0.0))
    assert (res.status, res.limit) == (Status.FEASIBLE, Limit.TIME), res.message
    assert res.objective == pytest.approx(stats["heuristic_objective"])
    assert res.objective >= exact.objective - 1e-9
    assert res.bound is not None and res.bound <= exact.objective + 1e-9
    metrics = evaluate(inst, mask, radius=600.0)
    assert metrics.cost == pytest.approx(res.objective)
    assert metrics.uncovered_weight == pytest.approx(float(inst.weights[uncoverable(inst, 600.0)].sum()))


def test_core_sites_give_every_row_a_site() -> None:
    rng = np.random.default_rng(4)
    b = rng.random((60, 20)) < 0.2
    b[:, 0] |= ~b.any(axis=1)
    d = rng.uniform(0.0, 2.0, size=20)
    core = core_sites(sp.csr_array(b), d, np.ones(20, dtype=bool), 0.3, np.zeros(20, dtype=bool))
    assert b[:, core].any(axis=1).all()
    assert core[d <= 0.3].all()
    # each row's own cheapest site is in the core
    cheapest = np.array([np.flatnonzero(r)[np.argmin(d[r])] for r in b])
    assert core[cheapest].all()


def test_value_grid_is_the_coarsest_step_of_the_costs() -> None:
    assert value_grid(np.array([1.0, 3.0, 0.0])) == 1.0
    assert value_grid(np.array([0.5, 1.25])) == 0.01
    assert value_grid(np.array([0.5, 1.237])) == 0.001
    assert value_grid(np.array([np.pi])) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", [2, 4])
def test_block_bound_lies_between_the_lp_and_the_optimum(seed: int, size: int) -> None:
    from siting.optimizer.coverage_blocks import block_cuts
    from siting.optimizer.coverage_lscp import lp_solve

    rng = np.random.default_rng(seed)
    # a band of sites along a line, each covering the rows near it: local, like coverage on a map
    m, k = 10, 40
    pos = np.sort(rng.uniform(0, 10, size=m))
    rows = rng.uniform(0, 10, size=k)
    b = np.abs(rows[:, None] - pos[None, :]) <= rng.uniform(1.0, 2.5)
    b = _distinct_rows(b[b.any(axis=1)])
    cost = rng.integers(1, 6, size=m).astype(np.float64)
    problem = cover_problem(b, cost)
    lp = lp_solve(problem, SolveParams(time_limit=10))
    assert lp is not None
    y, duals = lp
    lp_value = float(cost @ y)
    bound = block_cuts(
        problem, duals, np.ones(m, dtype=bool), SolveParams(time_limit=10), lambda _m: None, size=size
    ).bound
    assert lp_value - 1e-6 <= bound <= _least_cost(b, cost, np.ones(m, dtype=bool)) + 1e-6


@pytest.mark.parametrize("seed", [3, 4])
def test_region_search_never_loses_and_keeps_a_cover(seed: int) -> None:
    from siting.optimizer.coverage_blocks import region_search

    rng = np.random.default_rng(seed)
    m, k = 12, 50
    pos = np.sort(rng.uniform(0, 10, size=m))
    b = np.abs(rng.uniform(0, 10, size=k)[:, None] - pos[None, :]) <= 1.8
    b = _distinct_rows(b[b.any(axis=1)])
    cost = rng.integers(1, 6, size=m).astype(np.float64)
    start = np.ones(m, dtype=bool)  # every site: a cover, rarely the cheapest
    got = region_search(cover_problem(b, cost), np.ones(m, dtype=bool), start, SolveParams(time_limit=10), print, 4)
    assert b[:, got].any(axis=1).all()
    assert cost[got].sum() < cost.sum()  # all sites open is never the cheapest cover here
    assert cost[got].sum() >= _least_cost(b, cost, np.ones(m, dtype=bool)) - 1e-9


def test_scip_proves_without_its_primal_heuristics_unless_the_user_asks_for_them() -> None:
    """The SCIP prover's parameters switch its heuristics off, a user's SCIP option wins, SCIP
    accepts every name (a renamed heuristic would be rejected as an invalid parameter), and the
    HiGHS options are left alone."""
    from siting.optimizer.backends.ortools_backend import parameter_text
    from siting.optimizer.coverage_lscp import SCIP_PROVING_OPTIONS, proving_params

    user = SolveParams(time_limit=50, options={"scip": {"heuristics/rins/freq": 25}, "highs": {"x": 1}})
    got = proving_params(user, "scip")
    assert got.options["highs"] == {"x": 1} and got.time_limit == 50
    text = parameter_text("scip", got)
    assert "heuristics/rins/freq = 25" in text and "heuristics/rens/freq = -1" in text
    assert all(name in text for name in SCIP_PROVING_OPTIONS)
    problem = cover_problem(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=bool), np.array([2.0, 3.0, 4.0]))
    from siting.optimizer.registry import get_backend

    res = get_backend("scip").solve(problem, replace(got, time_limit=10, mip_gap=0.0))
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(5.0)  # sites 0 and 1 cover all three


def test_the_proof_runs_without_primal_heuristics_unless_the_user_asks_for_them() -> None:
    """The last branch and bound's HiGHS object has the proving settings; an option the user sets
    for HiGHS keeps the user's value; the other solver options and the time stay as they were."""
    from siting.optimizer.backends.highs import configure, new_highs, option_value
    from siting.optimizer.coverage_lscp import PROVING_OPTIONS, proving_params

    user = SolveParams(time_limit=50, options={"highs": {"mip_heuristic_run_rins": True}, "siting": {"x": 1}})
    got = proving_params(user)
    assert got.options["siting"] == {"x": 1} and got.time_limit == 50
    h = new_highs()
    configure(h, got)
    for name, value in PROVING_OPTIONS.items():
        expected = True if name == "mip_heuristic_run_rins" else value
        assert option_value(h, name) == expected, name
    plain = new_highs()
    configure(plain, SolveParams())
    assert option_value(plain, "mip_heuristic_run_rens") is True  # HiGHS's default, untouched elsewhere


def test_the_lscp_proof_is_the_optimum_with_the_proving_settings() -> None:
    """On a medium city the reduced path (its last branch and bound with the proving settings)
    still proves the compact model's optimum, with the user's HiGHS options passed through."""
    inst = city_instance(3_000, 300, seed=9, cutoff=800.0)
    old = solve(inst, ModelSpec("lscp", radius=800.0, formulation="compact"), "highs", PROVE)
    with_user = SolveParams(mip_gap=0.0, time_limit=30, options={"highs": {"mip_heuristic_effort": 0.05}})
    new = solve(inst, ModelSpec("lscp", radius=800.0, formulation="reduced"), "highs", with_user)
    assert new.stats["milp_bound"] is not None  # the last branch and bound ran (no fixing closed it first)
    assert new.status == old.status == Status.OPTIMAL and new.verified
    assert new.objective == pytest.approx(old.objective)


def _band(seed: int, m: int, k: int, reach: float) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Sites along a line, each covering the rows near it (local, like coverage on a map)."""
    rng = np.random.default_rng(seed)
    pos = np.sort(rng.uniform(0, 10, size=m))
    b = np.abs(rng.uniform(0, 10, size=k)[:, None] - pos[None, :]) <= reach
    return _distinct_rows(b[b.any(axis=1)]), rng.integers(1, 6, size=m).astype(np.float64)


@pytest.mark.parametrize("patience", [1, 3])
def test_region_search_stops_after_its_patience_of_passes_without_gain(patience: int) -> None:
    """The search ends with the pass that found the final cost and then exactly ``patience``
    passes without gain; no pass ever raises the cost."""
    from siting.optimizer.coverage_blocks import region_search

    b, cost = _band(5, 16, 60, 1.5)
    m = b.shape[1]
    said: list[str] = []
    got = region_search(
        cover_problem(b, cost),
        np.ones(m, dtype=bool),
        np.ones(m, dtype=bool),
        SolveParams(time_limit=20),
        said.append,
        4,
        patience,
    )
    values = [float(s.rsplit(" ", 1)[1]) for s in said if s.startswith("region search pass")]
    assert values == sorted(values, reverse=True)
    assert values[0] < cost.sum()  # the first pass lowers the all-open start
    assert values[-patience - 1 :] == [cost[got].sum()] * (patience + 1)
    assert len(values) == patience + 1 or values[-patience - 2] > values[-1]


def test_each_block_gets_time_in_proportion_to_its_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a time limit, each block's MILP is given the time left times its share of the rows
    still to solve (largest block first): the slowest block is not cut off by an even split."""
    import siting.optimizer.coverage_blocks as blocks
    from siting.optimizer.coverage_lscp import lp_solve

    b, cost = _band(7, 30, 400, 1.2)
    problem = cover_problem(b, cost)
    lp = lp_solve(problem, SolveParams(time_limit=10))
    assert lp is not None
    given: list[tuple[int, float]] = []

    def record(sub, params, seconds, start=None):  # type: ignore[no-untyped-def]
        # no proof (None): each block's bound stays its LP share
        given.append((sub.num_rows, seconds))

    monkeypatch.setattr(blocks, "_highs_bound", record)
    monkeypatch.setattr(SolveParams, "remaining", lambda self: 90.0)  # a clock that does not move
    blocks.block_cuts(problem, lp[1], np.ones(b.shape[1], dtype=bool), SolveParams(time_limit=90), lambda _m: None, 8)
    assert len(given) >= 2
    rows = [r for r, _ in given]
    assert rows == sorted(rows, reverse=True)
    left = sum(rows)
    for r, seconds in given:
        assert seconds == pytest.approx(90.0 * r / left)
        left -= r


def test_the_default_solver_proves_a_city_sized_lscp_on_scip_and_the_rest_on_highs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from siting.optimizer import coverage_choice
    from siting.optimizer.registry import DEFAULT_SOLVER

    assert DEFAULT_SOLVER == "auto"
    inst = city_instance(1_500, 120, seed=4, cutoff=500.0)
    small = solve(inst, ModelSpec("lscp", radius=500.0), params=PROVE)
    assert small.stats["formulation"] == "lscp" and small.solver == "highs"  # below the threshold: HiGHS alone
    mclp = solve(inst, ModelSpec("mclp", p=5, radius=500.0), params=PROVE)
    assert mclp.stats["formulation"] == "mclp" and mclp.solver == "highs"  # the compact MILP: HiGHS
    monkeypatch.setattr(coverage_choice, "COVERAGE_REDUCED_PAIRS", 10)
    city = city_instance(3_000, 500, seed=1, cutoff=500.0)  # a branch and bound is left to run here
    reduced = solve(city, ModelSpec("mclp", p=40, radius=500.0), params=PROVE)
    assert reduced.stats["formulation"] == "mclp-reduced" and reduced.stats["prover"] == "scip"
    assert reduced.solver == "scip" and reduced.status == Status.OPTIMAL and reduced.verified
    named = solve(city, ModelSpec("mclp", p=40, radius=500.0), "highs", PROVE)
    assert named.stats["prover"] == "highs" and named.objective == pytest.approx(reduced.objective)
    monkeypatch.setattr(coverage_choice, "LSCP_REDUCED_PAIRS", 10)
    big = solve(inst, ModelSpec("lscp", radius=500.0), params=PROVE)
    assert big.stats["formulation"] == "lscp-reduced" and big.stats["prover"] == "scip"
    assert big.solver == "scip" and "HiGHS" in big.solver_version
    assert big.status == Status.OPTIMAL and big.objective == pytest.approx(small.objective) and big.verified
    named = solve(inst, ModelSpec("lscp", radius=500.0), "highs", PROVE)  # a solver the user names is the one that runs
    assert named.stats["prover"] == "highs" and named.solver == "highs"
    assert named.objective == pytest.approx(small.objective)


def test_the_default_solver_falls_back_to_highs_without_scip(monkeypatch: pytest.MonkeyPatch) -> None:
    from siting.optimizer.backends.ortools_backend import OrToolsBackend
    from siting.optimizer.coverage_choice import coverage_prover

    assert coverage_prover("auto", "highs") == "scip" and coverage_prover(" AUTO ", "highs") == "scip"
    assert coverage_prover("highs", "highs") == "highs" and coverage_prover("scip", "scip") == "scip"
    monkeypatch.setattr(OrToolsBackend, "available", lambda self: False)
    assert coverage_prover("auto", "highs") == "highs"


def test_scip_says_it_proves_on_one_thread_when_more_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from siting.optimizer import coverage_choice

    monkeypatch.setattr(coverage_choice, "LSCP_REDUCED_PAIRS", 10)
    inst = city_instance(1_500, 120, seed=4, cutoff=500.0)
    lines: list[str] = []
    two = solve(inst, ModelSpec("lscp", radius=500.0), "scip", replace(PROVE, threads=2), progress=lines.append)
    assert two.status == Status.OPTIMAL and "one thread" in two.message
    assert any("one thread" in line for line in lines)
    one = solve(inst, ModelSpec("lscp", radius=500.0), "scip", PROVE)
    assert "thread" not in one.message and one.objective == pytest.approx(two.objective)
    city = city_instance(3_000, 500, seed=1, cutoff=500.0)  # the MCLP's reduced path, its branch and bound on SCIP
    spec = ModelSpec("mclp", p=40, radius=500.0, formulation="reduced")
    mclp_two = solve(city, spec, "scip", replace(PROVE, threads=2))
    assert mclp_two.stats["prover"] == "scip" and "one thread" in mclp_two.message
    assert "thread" not in solve(city, spec, "scip", PROVE).message
