"""Exactness of the Benders p-median solver against the classic formulation on HiGHS."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from clocks import spent
from scipy.sparse.csgraph import shortest_path

from siting.models.evaluate import evaluate
from siting.models.formulations.pmedian import pmedian_classic
from siting.models.instance import SitingInstance
from siting.optimizer.benders_pmedian import solve_pmedian_benders
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.registry import get_backend
from siting.optimizer.result import Limit, SolveParams, Status


def random_instance(seed: int, n: int, m: int, integral: bool = True, special: bool = True) -> SitingInstance:
    """n demand points and m candidate sites in a 100 x 100 square, floored Euclidean distances."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 100, size=(n, 2))
    sites = rng.uniform(0, 100, size=(m, 2))
    d = np.floor(np.linalg.norm(pts[:, None, :] - sites[None, :, :], axis=2)).astype(np.float32)
    weights = rng.integers(1, 10, size=n).astype(float) if integral else rng.uniform(0.5, 3.0, size=n)
    weights[rng.random(n) < 0.05] = 0.0  # a few clients without weight
    existing = np.zeros(m, dtype=bool)
    forbidden = np.zeros(m, dtype=bool)
    if special:
        pick = rng.permutation(m)
        existing[pick[:1]] = True
        forbidden[pick[1:4]] = True
    return SitingInstance(d, weights=weights, existing=existing, forbidden=forbidden)


def graph_instance(seed: int, n: int, special: bool = True) -> SitingInstance:
    """Shortest-path distances on a random connected graph (as OR-Library pmed): LP gaps occur."""
    rng = np.random.default_rng(seed)
    tail = np.r_[np.arange(1, n), rng.integers(0, n, 2 * n)]
    head = np.r_[rng.integers(0, np.arange(1, n)), rng.integers(0, n, 2 * n)]  # a random tree plus 2n edges
    keep = tail != head
    cost = rng.integers(1, 100, int(keep.sum())).astype(float)
    graph = sp.coo_array((cost, (tail[keep], head[keep])), shape=(n, n)).tocsr()
    d = shortest_path(graph, directed=False).astype(np.float32)
    existing = np.zeros(n, dtype=bool)
    forbidden = np.zeros(n, dtype=bool)
    if special:
        forbidden[rng.permutation(n)[:5]] = True
    return SitingInstance(d, weights=rng.integers(1, 4, n).astype(float), existing=existing, forbidden=forbidden)


def classic_optimum(instance: SitingInstance, p: int) -> tuple[float, np.ndarray]:
    """Optimal value and open-site mask from the classic formulation on HiGHS."""
    problem = pmedian_classic(instance, p=p)
    res = get_backend("highs").solve(problem, SolveParams(mip_gap=0.0))
    assert res.status == Status.OPTIMAL
    return float(res.objective), problem.open_sites(res.x)


CASES = [
    # seed, n, m, p, integral weights, existing/forbidden sites
    (1, 40, 30, 2, True, True),
    (2, 60, 40, 3, True, False),
    (3, 80, 50, 5, True, True),
    (4, 70, 45, 8, False, True),
    (5, 80, 60, 5, False, False),
    (6, 50, 50, 3, True, True),
]
GRAPH_CASES = [(0, 60, 3), (0, 60, 5), (2, 60, 5), (2, 60, 8), (4, 60, 5), (0, 80, 5), (2, 80, 5)]


@functools.cache
def graph_optimum(seed: int, n: int, p: int) -> tuple[float, np.ndarray]:
    """The classic optimum of a graph case, solved once for all its variants."""
    return classic_optimum(graph_instance(seed, n), p)


# each case once with the full algorithm and once without probing and enumeration (MILP path)
VARIANTS = [{}, {"probe_passes": 0, "enum_budget": 0}]


@pytest.mark.parametrize("seed,n,m,p,integral,special", CASES)
@pytest.mark.parametrize("variant", VARIANTS, ids=["full", "milp"])
@pytest.mark.parametrize("start_kind", ["none", "poor", "optimal"])
def test_benders_equals_classic(
    seed: int, n: int, m: int, p: int, integral: bool, special: bool, variant: dict, start_kind: str
) -> None:
    inst = random_instance(seed, n, m, integral, special)
    best, best_mask = classic_optimum(inst, p)
    start = None
    if start_kind == "poor":
        # a feasible start: the existing site plus the p lowest-index eligible new sites
        start = inst.existing.copy()
        start[np.flatnonzero(inst.eligible & ~inst.existing)[:p]] = True
    elif start_kind == "optimal":
        # the fixings then exclude every plan but the incumbent's ties: the proof must still close
        start = best_mask
    res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), start_mask=start, **variant)
    assert res.status == Status.OPTIMAL
    assert mask is not None
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.bound == pytest.approx(best, rel=1e-9, abs=1e-6)
    # the plan respects the instance: existing open, forbidden closed, at most p new sites
    assert np.all(mask[inst.existing]) and not np.any(mask[inst.forbidden])
    assert int(np.sum(mask & ~inst.existing)) <= p
    assert res.objective == pytest.approx(evaluate(inst, mask).weighted_distance)


@pytest.mark.parametrize("seed,n,p", GRAPH_CASES)
@pytest.mark.parametrize("variant", VARIANTS, ids=["full", "milp"])
@pytest.mark.parametrize("start_kind", ["none", "optimal"])
def test_benders_equals_classic_on_graphs(seed: int, n: int, p: int, variant: dict, start_kind: str) -> None:
    inst = graph_instance(seed, n)
    best, best_mask = graph_optimum(seed, n, p)
    start = best_mask if start_kind == "optimal" else None
    res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), start_mask=start, **variant)
    assert res.status == Status.OPTIMAL
    assert mask is not None and not np.any(mask[inst.forbidden])
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.objective == pytest.approx(evaluate(inst, mask).weighted_distance)


@pytest.mark.parametrize("start", ["none", "greedy"])
def test_a_spent_budget_is_never_optimal(start: str) -> None:
    """The shared budget is spent before Benders starts (a fake clock past the deadline): the run
    stops on the time limit with a plan (the start, or the first one it builds), never optimal. The
    control, the same instance with time, is proven optimal: the stop is the deadline's doing, on
    any machine."""
    inst = random_instance(11, 120, 60)
    control, _ = solve_pmedian_benders(inst, 5, SolveParams(mip_gap=0.0))
    assert control.status == Status.OPTIMAL
    start_mask = run_heuristic(inst, "pmedian", p=5, method="greedy").open_mask if start == "greedy" else None
    res, mask = solve_pmedian_benders(inst, 5, spent(mip_gap=0.0), start_mask=start_mask)
    assert (res.status, res.limit) == (Status.FEASIBLE, Limit.TIME), res.message
    assert mask is not None and int(np.sum(mask & ~inst.existing)) <= 5
    assert res.objective == pytest.approx(evaluate(inst, mask).weighted_distance)
    assert res.objective >= control.objective - 1e-9
    assert res.bound is None or res.bound <= control.objective + 1e-9
    if start_mask is not None:
        assert np.array_equal(mask, start_mask)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("width", [1, 3, 8])
def test_truncated_separator_keeps_the_optimum(seed: int, width: int) -> None:
    """Storing only each client's few nearest sites (doubling when a plan needs more) keeps the optimum."""
    inst = graph_instance(seed, 40) if seed == 2 else random_instance(seed, 45, 25)
    for p in (2, 4):
        best, _ = classic_optimum(inst, p)
        res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), max_width=width, probe_passes=seed % 2)
        assert res.status == Status.OPTIMAL
        assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
        assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("solved_rounds", [1, 3])
def test_an_lp_phase_stopped_by_the_clock_keeps_its_last_lp_bound(
    monkeypatch: pytest.MonkeyPatch, solved_rounds: int
) -> None:
    """The master LP stops on the clock after some rounds have solved (the solve is told "time" from
    then on): the run ends FEASIBLE on the time limit with the last solved LP's value as its bound,
    a bound of the classic optimum."""
    from siting.optimizer import pmedian_master

    inst = graph_instance(5, 60)
    best, _ = classic_optimum(inst, 4)
    calls = {"n": 0}
    solve = pmedian_master.Master.solve

    def stops_after(self: pmedian_master.Master, deadline: float, cutoff: float = np.inf) -> str:
        calls["n"] += 1
        return "time" if calls["n"] > solved_rounds else solve(self, deadline, cutoff)

    monkeypatch.setattr(pmedian_master.Master, "solve", stops_after)
    lines: list[str] = []
    res, mask = solve_pmedian_benders(inst, 4, SolveParams(mip_gap=0.0), progress=lines.append)
    assert (res.status, res.limit) == (Status.FEASIBLE, Limit.TIME), res.message
    assert res.bound is not None and res.bound <= best + 1e-9
    assert res.stats["lp_bound"] == pytest.approx(res.bound)
    assert any("stopped by the time limit" in line for line in lines)
    assert mask is not None and res.objective == pytest.approx(evaluate(inst, mask).weighted_distance)
