"""Heuristics: feasibility and proven bounds against brute force, and OR-Library pmed1.

On small random instances (n <= 8, m <= 6) every feasible plan is enumerated and evaluated with
``models.evaluate``; the optimum OPT must then satisfy

    p-median:  bound <= OPT <= objective        MCLP:  objective <= OPT <= bound

for every method, and every returned plan must be feasible.
"""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import brute_optimum
from paths import DATA
from scipy.sparse.csgraph import shortest_path

import siting.optimizer.heuristics.greedy as greedy_module
from siting.models.errors import ScenarioError
from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics import (
    greedy_mclp,
    greedy_pmedian,
    interchange_mclp,
    interchange_pmedian,
    lagrangian_mclp,
    lagrangian_pmedian,
    run_heuristic,
    trivial_bound,
)

DATA = DATA / "orlib"
METHODS = ("greedy", "interchange", "lagrangian", "auto")
HYP = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- instances
def random_instance(seed: int, n: int, m: int, sparse: bool, integral: bool, p_inf: float) -> SitingInstance:
    """A small seeded instance: distances with some unreachable pairs, weights with zeros,
    costs, existing and forbidden sites."""
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 20, size=(n, m)).astype(float)
    if not integral:
        d = d + rng.random((n, m))
    d[rng.random((n, m)) < p_inf] = np.inf
    w = rng.integers(0, 5, size=n).astype(float)
    if not integral:
        w = w * rng.random(n)
    cost = rng.integers(1, 6, size=m).astype(float)
    role = rng.random(m)
    existing = role < 0.15
    forbidden = (role > 0.85) & ~existing
    dist: np.ndarray | sp.csr_array = d
    if sparse:
        fin = np.isfinite(d)
        rows, cols = np.nonzero(fin)
        dist = sp.csr_array((d[rows, cols], (rows, cols)), shape=(n, m))
    return SitingInstance(distances=dist, weights=w, cost=cost, existing=existing, forbidden=forbidden)


@st.composite
def cases(draw: st.DrawFn) -> tuple[SitingInstance, int | None, float | None, float]:
    """An instance drawn entry by entry (some pairs unreachable, zero weights, fractional values,
    dense or CSR), its limits and a radius among its distances: a failure shrinks to a small case."""
    inst = draw(
        strategies.instances(
            n=(1, 8),
            m=(1, 6),
            weights=(0, 4),
            costs=(1, 5),
            unreachable=draw(st.booleans()),
            sparse=None,
            fractional=draw(st.booleans()),
        )
    )
    p, budget = draw(strategies.limits(inst))
    radius = draw(strategies.radii(inst))
    return inst, p, budget, radius


def brute_force(inst: SitingInstance, model: str, p: int | None, budget: float | None, radius: float) -> float:
    """The optimum by enumeration (within p and the budget; ``radius`` is for MCLP)."""
    return brute_optimum(inst, model, p=p, budget=budget, radius=radius if model == "mclp" else None).value


def tol(x: float) -> float:
    return 1e-6 * (1.0 + abs(x)) if math.isfinite(x) else 0.0


def assert_min_sandwich(bound: float, opt: float, obj: float) -> None:
    assert bound <= opt + tol(opt), (bound, opt)
    assert opt <= obj + tol(obj), (opt, obj)


# --------------------------------------------------------------------------- brute force: run_heuristic
@HYP
@given(cases())
def test_run_heuristic_pmedian_bounds_and_feasibility(case) -> None:
    inst, p, budget, _ = case
    opt = brute_force(inst, "pmedian", p, budget, 0.0)
    for method in METHODS:
        out = run_heuristic(inst, "pmedian", p=p, budget=budget, method=method)
        met = evaluate(inst, out.open_mask, p=p, budget=budget)
        assert met.violations == [], (method, met.violations)
        assert out.objective == met.weighted_distance
        assert_min_sandwich(out.bound, opt, out.objective)


@HYP
@given(cases())
def test_run_heuristic_mclp_bounds_and_feasibility(case) -> None:
    inst, p, budget, radius = case
    opt = brute_force(inst, "mclp", p, budget, radius)
    for method in METHODS:
        out = run_heuristic(inst, "mclp", p=p, radius=radius, budget=budget, method=method)
        met = evaluate(inst, out.open_mask, radius=radius, p=p, budget=budget)
        assert met.violations == [], (method, met.violations)
        assert out.objective == met.covered_weight
        assert out.objective <= opt + tol(opt)
        assert opt <= out.bound + tol(out.bound), (method, opt, out.bound)


# --------------------------------------------------------------------------- brute force: building blocks
@HYP
@given(cases())
def test_pmedian_blocks_dense_and_sparse_paths(case) -> None:
    """greedy, interchange and the Lagrangian bound, once on dense and once on CSR work arrays."""
    inst, p, budget, _ = case
    opt = brute_force(inst, "pmedian", p, budget, 0.0)
    for limit in (greedy_module.DENSE_LIMIT, 0):
        with mock.patch.object(greedy_module, "DENSE_LIMIT", limit):
            start = greedy_pmedian(inst, p, budget)
            assert evaluate(inst, start, p=p, budget=budget).violations == []
            best = interchange_pmedian(inst, start, p, budget)
            assert evaluate(inst, best, p=p, budget=budget).violations == []
            before = evaluate(inst, start).weighted_distance
            after = evaluate(inst, best).weighted_distance
            assert after <= before + tol(before)
            assert_min_sandwich(-math.inf, opt, after)
            if p is not None or budget is not None:
                lag = lagrangian_pmedian(inst, p, upper_bound=after, budget=budget)
                assert_min_sandwich(lag.lower_bound, opt, lag.best_value)
                assert lag.best_value == evaluate(inst, lag.best_mask).weighted_distance
                assert evaluate(inst, lag.best_mask, p=p, budget=budget).violations == []


@HYP
@given(cases())
def test_mclp_blocks(case) -> None:
    inst, p, budget, radius = case
    opt = brute_force(inst, "mclp", p, budget, radius)
    start = greedy_mclp(inst, radius, p, budget)
    assert evaluate(inst, start, p=p, budget=budget).violations == []
    best = interchange_mclp(inst, radius, start, p, budget)
    assert evaluate(inst, best, p=p, budget=budget).violations == []
    v0 = evaluate(inst, start, radius=radius).covered_weight
    v1 = evaluate(inst, best, radius=radius).covered_weight
    assert v0 <= v1 + tol(v1) and v1 <= opt + tol(opt)
    assert opt <= trivial_bound(inst, "mclp", p=p, radius=radius, budget=budget) + tol(opt)
    if p is not None or budget is not None:
        lag = lagrangian_mclp(inst, radius, p, budget=budget)
        assert lag.best_value <= opt + tol(opt) <= lag.upper_bound + 2 * tol(opt)


def improving_single_moves(
    inst: SitingInstance, plan: np.ndarray, p: int | None, budget: float | None, model: str, radius: float
) -> list[tuple[int, int]]:
    """Every feasible swap (j in, k out) or add (k = -1) that improves the plan, by enumeration."""

    def val(mask: np.ndarray) -> float:
        met = evaluate(inst, mask, radius=radius)
        return met.weighted_distance if model == "pmedian" else -met.covered_weight

    base = val(plan)
    found = []
    for j in np.flatnonzero(inst.eligible & ~plan):
        for k in [*np.flatnonzero(plan & ~inst.existing), -1]:
            trial = plan.copy()
            trial[j] = True
            if k >= 0:
                trial[k] = False
            if evaluate(inst, trial, p=p, budget=budget).violations:
                continue
            if val(trial) < base - 1e-7 * (1 + abs(base)):
                found.append((int(j), int(k)))
    return found


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("limit", ["p", "budget"])
def test_interchange_reaches_a_local_optimum(seed: int, limit: str) -> None:
    """No single swap or add improves the result (dense and CSR work arrays, p-median and MCLP)."""
    inst = random_instance(seed, 30, 12, sparse=seed % 2 == 1, integral=seed % 3 == 0, p_inf=0.3 * (seed % 2))
    p, budget = (3 + seed % 3, None) if limit == "p" else (None, 6.0 + seed)
    # dense and CSR tables; the swap pairs gathered at once or a few rows at a time
    for dense_limit, chunk in ((greedy_module.DENSE_LIMIT, greedy_module.PAIR_CHUNK), (0, 1), (10**9, 7)):
        with (
            mock.patch.object(greedy_module, "DENSE_LIMIT", dense_limit),
            mock.patch.object(greedy_module, "PAIR_CHUNK", chunk),
        ):
            plan = interchange_pmedian(inst, greedy_pmedian(inst, p, budget), p, budget)
        assert improving_single_moves(inst, plan, p, budget, "pmedian", 0.0) == []
    radius = float(np.quantile(inst.distinct_distances(), 0.3))
    plan = interchange_mclp(inst, radius, greedy_mclp(inst, radius, p, budget), p, budget)
    assert improving_single_moves(inst, plan, p, budget, "mclp", radius) == []


@pytest.mark.parametrize("sparse", [False, True])
def test_pairs_below_in_chunks_are_the_pairs_below(sparse: bool) -> None:
    inst = random_instance(5, 40, 15, sparse=sparse, integral=False, p_inf=0.3 * sparse)
    tab = greedy_module.DistanceTable(inst, dense_limit=10**9 if not sparse else 0)
    thr = np.random.default_rng(5).uniform(0.0, 1.2 * float(np.nanmax(inst.distinct_distances())), tab.n)
    # every stored pair below its row's threshold, straight from the table
    if tab.dense is not None:
        r, c = np.nonzero(tab.dense < thr[:, None])
        d = tab.dense[r, c]
    else:
        coo = tab.csr.tocoo()
        keep = coo.data < thr[coo.row]
        r, c, d = coo.row[keep], coo.col[keep], coo.data[keep]
    want = sorted(zip(r.tolist(), c.tolist(), d.tolist(), strict=True))
    assert want
    for chunk in (1, 4, 37, 10**6):
        parts = list(tab.pairs_below(thr, max_pairs=chunk))
        got = sorted(
            t for rows, cols, vals in parts for t in zip(rows.tolist(), cols.tolist(), vals.tolist(), strict=True)
        )
        assert got == want
        # a chunk holds at most `chunk` pairs unless it is one row
        assert all(rows.size <= chunk or np.unique(rows).size == 1 for rows, _, _ in parts)


@pytest.mark.parametrize("model", ["pmedian", "mclp"])
def test_runs_are_deterministic(model: str) -> None:
    inst = random_instance(11, 60, 25, sparse=False, integral=False, p_inf=0.1)
    radius = float(np.quantile(inst.distinct_distances(), 0.2))
    runs = [run_heuristic(inst, model, p=4, radius=radius, budget=9.0, method="auto", seed=s) for s in (0, 1)]
    assert np.array_equal(runs[0].open_mask, runs[1].open_mask)
    assert runs[0].objective == runs[1].objective and runs[0].bound == runs[1].bound


def test_unreachable_demand_is_reached_when_possible() -> None:
    """Demand 2 is only reachable from site 2: greedy must not leave it infinitely far."""
    d = np.array([[0.0, 1.0, np.inf], [1.0, 0.0, np.inf], [np.inf, np.inf, 50.0]])
    inst = SitingInstance(distances=d)
    out = run_heuristic(inst, "pmedian", p=2, method="auto")
    assert out.open_mask[2]
    assert out.objective == 51.0  # hand-checked: sites {0 or 1, 2} give 0 + 1 + 50
    assert out.bound == 51.0


def test_demand_out_of_every_reach_gives_infinite_bound() -> None:
    d = np.array([[0.0, np.inf], [np.inf, np.inf]])
    inst = SitingInstance(distances=d, forbidden=[False, True])
    out = run_heuristic(inst, "pmedian", p=1, method="auto")
    assert math.isinf(out.objective) and math.isinf(out.bound)


# --------------------------------------------------------------------------- errors
def test_errors_name_the_problem() -> None:
    inst = random_instance(1, 5, 4, sparse=False, integral=True, p_inf=0.0)
    with pytest.raises(ScenarioError, match="model 'pcenter'"):
        run_heuristic(inst, "pcenter", p=1)
    with pytest.raises(ScenarioError, match="method 'tabu'"):
        run_heuristic(inst, "pmedian", p=1, method="tabu")
    with pytest.raises(ScenarioError, match="needs a radius"):
        run_heuristic(inst, "mclp", p=1)
    with pytest.raises(ScenarioError, match="p = -1"):
        greedy_pmedian(inst, -1)
    with pytest.raises(ScenarioError, match="budget = -2"):
        greedy_mclp(inst, 5.0, budget=-2.0)
    too_many = np.ones(inst.m, dtype=bool) & inst.eligible
    with pytest.raises(ScenarioError, match="more than p = 1"):
        interchange_pmedian(inst, too_many, p=1)


def test_start_plan_must_keep_existing_open() -> None:
    d = np.arange(12, dtype=float).reshape(3, 4)
    inst = SitingInstance(distances=d, existing=[True, False, False, False], site_ids=["a", "b", "c", "d"])
    with pytest.raises(ScenarioError, match="closes existing facilities a"):
        interchange_pmedian(inst, np.array([False, True, False, False]), p=1)


# --------------------------------------------------------------------------- OR-Library pmed1
def read_orlib_pmedian(path: Path) -> tuple[SitingInstance, int]:
    """OR-Library pmed file: header ``n m p``, then m undirected edges ``i j c`` (1-based);
    for a duplicated edge the LAST line wins; distances are all-pairs shortest paths."""
    tokens = path.read_text().split()
    n, m, p = (int(t) for t in tokens[:3])
    edges = np.array(tokens[3 : 3 + 3 * m], dtype=np.int64).reshape(m, 3)
    a = np.minimum(edges[:, 0], edges[:, 1]) - 1
    b = np.maximum(edges[:, 0], edges[:, 1]) - 1
    _, first_in_reversed = np.unique((a * n + b)[::-1], return_index=True)
    last = m - 1 - first_in_reversed
    graph = sp.csr_array((edges[last, 2].astype(float), (a[last], b[last])), shape=(n, n))
    dist = shortest_path(graph, directed=False)
    return SitingInstance(distances=dist, name=path.stem), p


PMED1_OPT = 5819.0  # published optimum (OR-Library pmedopt; tests/data/orlib/optimal_values.csv)


def test_pmed1_greedy_interchange_and_lagrangian() -> None:
    inst, p = read_orlib_pmedian(DATA / "pmed1.txt")
    assert (inst.n, p) == (100, 5)
    plan = interchange_pmedian(inst, greedy_pmedian(inst, p), p)
    value = evaluate(inst, plan, p=p).weighted_distance
    assert evaluate(inst, plan, p=p).violations == []
    assert value <= PMED1_OPT * 1.01
    lag = lagrangian_pmedian(inst, p, upper_bound=value)
    assert 0.95 * PMED1_OPT <= lag.lower_bound <= PMED1_OPT
    out = run_heuristic(inst, "pmedian", p=p, method="auto")
    assert out.bound <= PMED1_OPT <= out.objective <= PMED1_OPT * 1.01


def test_a_long_lagrangian_reports_its_bound_as_it_goes() -> None:
    """With a line due at every iteration, each line carries the bound so far, never falling, and
    the last one is at most the returned bound."""
    import siting.optimizer.heuristics.lagrangian as lagrangian_module

    rng = np.random.default_rng(7)
    pts = rng.uniform(0, 100, (40, 2))
    inst = SitingInstance(np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)), rng.integers(1, 9, 40))
    lines: list[str] = []
    with mock.patch.object(lagrangian_module, "PROGRESS_SECONDS", 0.0):
        out = lagrangian_pmedian(inst, 4, max_iter=30, progress=lines.append)
    assert len(lines) >= min(out.iterations - 1, 29)
    bounds = [float(line.split("bound ")[1].split(",")[0]) for line in lines[1:]]  # the first: none yet
    assert bounds == sorted(bounds) and bounds[-1] <= out.lower_bound + 1e-6


def test_the_exact_p_median_reports_its_heuristic_start() -> None:
    """The heuristic start's phases (greedy, swaps, Lagrangian) reach the caller's progress lines."""
    from siting.optimizer.solve import ModelSpec, solve

    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 100, (30, 2))
    inst = SitingInstance(np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)), rng.integers(1, 9, 30))
    lines: list[str] = []
    solve(inst, ModelSpec("pmedian", p=3), solver="highs", progress=lines.append)
    assert any(line.startswith("greedy plan") for line in lines)
    assert any(line.startswith("swap search") for line in lines)
