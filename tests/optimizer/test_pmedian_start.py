"""The truncated heuristic start of very large p-median instances: each client keeps exactly its
nearest eligible sites, and a solve that starts from it still proves the optimum (its heuristic
bound, which bounds another problem, is never used)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from oracles import brute_optimum, classic_value
from strategies import instances

from siting.models.instance import SitingInstance
from siting.optimizer import pmedian_start
from siting.optimizer import solve as solve_module
from siting.optimizer.pmedian_start import truncated_instance
from siting.optimizer.result import SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve


def clustered(seed: int, n: int, m: int) -> SitingInstance:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 100, (n, 2))
    sites = pts[rng.choice(n, m, replace=False)]
    d = np.floor(np.linalg.norm(pts[:, None, :] - sites[None, :, :], axis=2)).astype(np.float32)
    forbidden = np.zeros(m, dtype=bool)
    forbidden[rng.choice(m, 3, replace=False)] = True
    return SitingInstance(d, weights=rng.integers(1, 9, n).astype(float), forbidden=forbidden)


@pytest.mark.parametrize("width", [1, 4, 17, 1000])
def test_each_client_keeps_its_nearest_eligible_sites(width: int) -> None:
    inst = clustered(5, 60, 30)
    out = truncated_instance(inst, width)
    assert out.is_sparse
    d = inst.dense_distances()
    eligible = np.flatnonzero(inst.eligible)
    kept = min(width, eligible.size)
    csr = out.distances
    for i in range(inst.n):
        cols = csr.indices[csr.indptr[i] : csr.indptr[i + 1]]
        vals = csr.data[csr.indptr[i] : csr.indptr[i + 1]]
        assert cols.size == kept
        assert inst.eligible[cols].all()
        np.testing.assert_array_equal(vals, d[i, cols])
        # nothing left out is nearer than what was kept
        rest = np.setdiff1d(eligible, cols)
        if rest.size:
            assert d[i, rest].min() >= vals.max()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(n=(2, 9), m=(2, 7)), frac=st.floats(0.1, 0.9))
def test_a_solve_from_the_truncated_start_proves_the_brute_force_optimum(
    inst: SitingInstance, frac: float, monkeypatch_module: pytest.MonkeyPatch
) -> None:
    free = int((inst.eligible & ~inst.existing).sum())
    p = max(1, min(free, round(frac * free)))
    best = brute_optimum(inst, "pmedian", p=p).value
    res = solve(inst, ModelSpec("pmedian", p=p), solver="highs", params=SolveParams(mip_gap=0.0))
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.bound is not None and res.bound <= best + 1e-6


@pytest.fixture(scope="module")
def monkeypatch_module():  # type: ignore[no-untyped-def]
    """Every instance counts as very large, so each solve takes the truncated start (width 1-2)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(solve_module, "PMEDIAN_START_ENTRIES", 0)
    mp.setattr(pmedian_start, "START_MIN_WIDTH", 1)
    mp.setattr(pmedian_start, "START_WIDTH", 0.3)
    yield mp
    mp.undo()


def test_both_paths_start_on_the_truncated_instance_and_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = clustered(11, 80, 40)
    seen: list[bool] = []
    from siting.optimizer.heuristics import lagrangian

    original = lagrangian.lagrangian_pmedian

    def spy(instance, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(bool(instance.is_sparse))
        return original(instance, *args, **kwargs)

    monkeypatch.setattr(lagrangian, "lagrangian_pmedian", spy)
    monkeypatch.setattr(solve_module, "PMEDIAN_START_ENTRIES", 1000)
    exact = SolveParams(mip_gap=0.0)
    res = solve(inst, ModelSpec("pmedian", p=5), solver="highs", params=exact)
    classic = solve(inst, ModelSpec("pmedian", p=5, formulation="classic"), solver="highs", params=exact)
    assert seen == [True, True]  # both starts ran on the truncated instance
    assert res.status == Status.OPTIMAL and classic.status == Status.OPTIMAL
    assert res.objective == pytest.approx(classic.objective, rel=1e-9)


def test_the_start_keeps_the_lagrangian_plan_best_on_every_site(monkeypatch: pytest.MonkeyPatch) -> None:
    """On one nearest site per client every plan but one that opens each client's nearest site is
    infinite; the start measures the Lagrangian's plans (and, at small p, the greedy's) on the whole
    instance, keeps the best there and (small p) improves it by swaps on every site: never worse
    than any of those plans, and no single swap improves it."""
    from siting.models.evaluate import evaluate
    from siting.optimizer.heuristics import lagrangian
    from siting.optimizer.pmedian_start import dense_greedy, truncated_start

    inst = clustered(4, 70, 35)
    monkeypatch.setattr(pmedian_start, "START_MIN_WIDTH", 1)
    monkeypatch.setattr(pmedian_start, "START_WIDTH", 0.1)  # one nearest site per client at p = 4
    kept: dict[str, object] = {}
    original = lagrangian.lagrangian_pmedian

    def keep(*args, **kwargs):  # type: ignore[no-untyped-def]
        kept["out"] = out = original(*args, **kwargs)
        return out

    monkeypatch.setattr(lagrangian, "lagrangian_pmedian", keep)
    lines: list[str] = []
    mask, multipliers, bound = truncated_start(inst, 4, None, SolveParams(), 0.25, lines.append)
    lag = kept["out"]
    values = [evaluate(inst, m).weighted_distance for m in (lag.best_mask, *lag.plans)]  # type: ignore[attr-defined]
    greedy = evaluate(inst, dense_greedy(inst, 4)).weighted_distance  # small p: the greedy is a candidate too
    value = evaluate(inst, mask).weighted_distance
    assert value <= min([*values, greedy]) + 1e-9 * abs(value)
    assert value == _swap_local_optimum(inst, mask)
    assert int((mask & ~inst.existing).sum()) <= 4 and not (mask & inst.forbidden).any()
    assert multipliers.shape == (inst.n,)
    # small p: a bound on every site, never above the optimum
    assert bound is not None and bound <= classic_value(inst, 4) + 1e-9 * value
    assert lines and lines[-1].startswith("heuristic start:")


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    inst=instances(n=(1, 12), m=(2, 8), unreachable=True, weights=(0, 9)), p=st.integers(1, 4), rows=st.integers(1, 9)
)
def test_the_block_greedy_opens_the_greedy_plan(inst: SitingInstance, p: int, rows: int) -> None:
    """The greedy read in row blocks of the dense matrix opens exactly the sites of the greedy on
    its working copies: same gains, same penalty for unreachable pairs, same ties."""
    from unittest import mock

    from siting.optimizer import pmedian_start
    from siting.optimizer.heuristics.greedy import greedy_pmedian

    with mock.patch.object(pmedian_start, "ROW_BLOCK", rows):
        got = pmedian_start.dense_greedy(inst, p)
    np.testing.assert_array_equal(got, greedy_pmedian(inst, p))


def _swap_local_optimum(inst: SitingInstance, mask: NDArray[np.bool_]) -> float:
    """The plan's value, after asserting by brute force that no swap of one open new site for one
    closed eligible new site improves it: plans compare by the weight they leave unreachable, then
    by the weighted distance of the rest (as the swap search's penalty orders them)."""
    from siting.models.evaluate import evaluate

    d = np.asarray(inst.distances, dtype=np.float64)
    w = np.maximum(np.asarray(inst.weights, dtype=np.float64), 0.0)

    def key(plan: NDArray[np.bool_]) -> tuple[float, float]:
        near = d[:, plan].min(axis=1) if plan.any() else np.full(d.shape[0], np.inf)
        lost = ~np.isfinite(near)
        return float(w[lost].sum()), float(w[~lost] @ near[~lost])

    base = key(mask)
    for r in np.flatnonzero(mask & ~inst.existing):
        for j in np.flatnonzero(~mask & inst.eligible & ~inst.existing):
            trial = mask.copy()
            trial[r], trial[j] = False, True
            lost, dist = key(trial)
            better = lost < base[0] - 1e-9 or (lost <= base[0] + 1e-9 and dist < base[1] - 1e-9 * max(1.0, base[1]))
            assert not better, (r, j)
    return evaluate(inst, mask).weighted_distance


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(n=(1, 14), m=(2, 9), unreachable=True, weights=(0, 9)), p=st.integers(1, 4), greedy=st.booleans())
def test_the_swap_search_on_every_site_ends_at_a_swap_local_optimum(inst: SitingInstance, p: int, greedy: bool) -> None:
    """From the greedy plan or the last p eligible sites, the swap search read in row blocks ends at a plan no single swap
    improves (checked by brute force over every swap), never costlier than its start, with the
    existing sites open and as many new sites as the start."""
    from unittest import mock

    from siting.models.evaluate import evaluate
    from siting.optimizer.pmedian_start import dense_greedy, dense_swap

    with mock.patch.object(pmedian_start, "ROW_BLOCK", 3):  # several row blocks on tiny instances
        start = dense_greedy(inst, p) if greedy else inst.existing.copy()
        if not greedy:  # the last p eligible new sites: a start the swaps have work on
            start[np.flatnonzero(inst.eligible & ~inst.existing)[::-1][:p]] = True
        plan = dense_swap(inst, start)
    before, after = evaluate(inst, start).weighted_distance, evaluate(inst, plan).weighted_distance
    assert after <= before + 1e-9 * max(1.0, abs(before)) or before == after == np.inf
    assert (plan[inst.existing]).all() and not (plan & ~inst.eligible & ~inst.existing).any()
    assert int((plan & ~inst.existing).sum()) == int((start & ~inst.existing).sum())
    _swap_local_optimum(inst, plan)


def test_the_swap_search_stops_at_its_time() -> None:
    """A stop time already passed: the start comes back unchanged."""
    from siting.optimizer.pmedian_start import dense_greedy, dense_swap

    inst = clustered(2, 60, 30)
    start = dense_greedy(inst, 3)
    assert (dense_swap(inst, start, stop_at=time.monotonic() - 1.0) == start).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_samples_and_the_closed_sites_keep_the_optimum(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """At small p the start adds the exact optima of samples, and the exact path then runs on the
    sites the Lagrangian does not close: the plan (mapped back to every site) is the classic
    formulation's optimum, and the solve says how many sites it left out."""
    from oracles import graph_like

    from siting.optimizer import pmedian_sample

    inst = graph_like(seed, 160)
    monkeypatch.setattr(solve_module, "PMEDIAN_START_ENTRIES", 0)
    monkeypatch.setattr(pmedian_sample, "SAMPLE_SIZE", 60)  # 160 clients: samples of 60 are real samples
    # the start's own widths (the module fixture above narrows them for the tests that ask for it)
    monkeypatch.setattr(pmedian_start, "START_WIDTH", 6.0)
    monkeypatch.setattr(pmedian_start, "START_MIN_WIDTH", 64)
    lines: list[str] = []
    res = solve(inst, ModelSpec("pmedian", p=4), solver="highs", params=SolveParams(mip_gap=0.0), progress=lines.append)
    assert sum(line.startswith("sample ") for line in lines) == pmedian_sample.SAMPLES
    left_out = [line for line in lines if "exact solve runs on the other" in line]
    assert len(left_out) == 1  # the Lagrangian closed at least half of the 160 sites
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(classic_value(inst, 4), rel=1e-9)
    assert int(res.open_sites.sum()) == 4 and res.open_sites.shape == (inst.m,)
