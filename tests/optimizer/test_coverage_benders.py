"""Benders in the site space (MCLP) and row generation (LSCP): optimizer.coverage_benders / _rowgen.

Brute force on hypothesis instances through ``solve(..., formulation="benders")`` and through the
decomposition alone (no incumbent, no fixing: the iterated master must close by itself), validity
and tightness of the cuts at random points, agreement with the compact formulation on a seeded
medium city, and honest FEASIBLE answers under a short time limit.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import REPO

from siting.models.evaluate import evaluate
from siting.models.formulations.lscp import lscp
from siting.models.instance import SitingInstance
from siting.optimizer import coverage_choice
from siting.optimizer.coverage_benders import mclp_master, solve_mclp_benders
from siting.optimizer.coverage_exact import solve_coverage
from siting.optimizer.coverage_rowgen import greedy_cover, rowgen_lp, rowgen_milp
from siting.optimizer.result import SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve

sys.path.insert(0, str(REPO / "benchmarks"))
from city_instances import city_instance
from oracles import brute_lscp, brute_mclp
from strategies import coverage_instances

PROVE = SolveParams(mip_gap=0.0, time_limit=30)
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def _quiet(_msg: str) -> None:
    pass


def _has_rows(inst: SitingInstance, radius: float) -> bool:
    return bool(((inst.dense_distances()[:, inst.eligible & ~inst.existing] <= radius).any(axis=1)).any())


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), p=st.integers(1, 3), use_budget=st.booleans())
def test_mclp_benders_equals_brute_force(inst: SitingInstance, radius: int, p: int, use_budget: bool) -> None:
    budget = 6.0 if use_budget else None
    n_new = int((inst.eligible & ~inst.existing).sum())
    if n_new == 0 or not _has_rows(inst, radius):
        return
    spec = ModelSpec("mclp", p=min(p, n_new), radius=radius, budget=budget, formulation="benders")
    res = solve(inst, spec, "highs", PROVE)
    assert res.stats["formulation"] == "mclp-benders"
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(brute_mclp(inst, radius, min(p, n_new), budget))
    assert res.bound is not None and res.bound >= res.objective - 1e-9


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), p=st.integers(1, 3), use_budget=st.booleans())
def test_iterated_master_alone_is_exact(inst: SitingInstance, radius: int, p: int, use_budget: bool) -> None:
    """From the empty plan, with no slack for fixing (delta 0), the master's own rounds find the optimum."""
    budget = 6.0 if use_budget else None
    n_new = int((inst.eligible & ~inst.existing).sum())
    if n_new == 0 or not _has_rows(inst, radius):
        return
    p = min(p, n_new)
    empty = inst.existing.copy()
    base = float(inst.weights[(inst.dense_distances()[:, empty] <= radius).any(axis=1)].sum())
    closed = np.zeros(inst.m, dtype=bool)
    out = solve_mclp_benders(inst, radius, p, budget, closed, empty, base, 0.0, PROVE.started(), _quiet)
    want = brute_mclp(inst, radius, p, budget)
    assert out.closed
    assert out.value == pytest.approx(want)
    assert out.bound >= want - 1e-6
    new = out.mask & ~inst.existing
    assert new.sum() <= p and (budget is None or inst.cost[new].sum() <= budget + 1e-9)
    assert evaluate(inst, out.mask, radius=radius).covered_weight == pytest.approx(want)


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), seed=st.integers(0, 10_000))
def test_cuts_are_valid_everywhere_and_tight_where_made(inst: SitingInstance, radius: int, seed: int) -> None:
    if not _has_rows(inst, radius):
        return
    master = mclp_master(inst, radius, None, None, np.zeros(inst.m, dtype=bool))
    rng = np.random.default_rng(seed)
    at = rng.random(inst.m) * (rng.random(inst.m) < 0.7)
    cuts = master.separate(at)
    per_group = np.bincount(master.group, weights=master.w * np.minimum(master.A @ at, 1.0), minlength=master.K)
    for _ in range(5):
        y = rng.random(inst.m) * (rng.random(inst.m) < 0.5)
        true = np.bincount(master.group, weights=master.w * np.minimum(master.A @ y, 1.0), minlength=master.K)
        for cut in cuts:
            assert cut.const + cut.coef @ y[cut.sites] >= true[cut.group] - 1e-9  # valid at every y
    for cut in cuts:
        assert cut.const + cut.coef @ at[cut.sites] == pytest.approx(per_group[cut.group])  # tight at its point


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(1, 15), objective=st.sampled_from(["cost", "count"]))
def test_lscp_row_generation_equals_brute_force(inst: SitingInstance, radius: int, objective: str) -> None:
    if not _has_rows(inst, radius) and not (inst.dense_distances()[:, inst.existing] <= radius).any():
        return
    spec = ModelSpec("lscp", radius=radius, lscp_objective=objective, formulation="benders")  # type: ignore[arg-type]
    res = solve(inst, spec, "highs", PROVE)
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(brute_lscp(inst, radius, objective))


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(1, 15))
def test_row_generation_alone_is_exact(inst: SitingInstance, radius: int) -> None:
    """From one generated row and no incumbent, the LP bound is valid and the MILP rounds close."""
    problem = lscp(inst, radius)
    if problem.num_rows == 0:
        return
    want = brute_lscp(inst, radius, "cost")
    lp = rowgen_lp(problem, PROVE.started(), _quiet)
    assert lp is not None and lp[0] <= want + 1e-7
    out = rowgen_milp(problem, np.array([0]), None, -np.inf, PROVE.started(), _quiet)
    assert out.closed and out.x is not None
    assert out.value == pytest.approx(want) and out.bound <= want + 1e-7
    mask = problem.open_sites(out.x)
    assert ((problem.A @ mask.astype(float)) >= 1 - 1e-9).all()


def test_greedy_cover_repairs_any_start() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        A = (rng.random((30, 8)) < 0.3).astype(float)
        A[A.sum(axis=1) == 0, rng.integers(8)] = 1.0
        cost = rng.integers(1, 9, size=8).astype(float)
        start = rng.random(8) < 0.3
        import scipy.sparse as sp

        mask = greedy_cover(sp.csr_array(A), cost, start, np.zeros(8), np.ones(8))
        assert mask is not None and (A @ mask >= 1).all()
        # no open site is redundant
        for j in np.flatnonzero(mask):
            other = mask.copy()
            other[j] = False
            assert not (A @ other >= 1).all()
        best = min(
            cost[m].sum() for m in (np.array(b, dtype=bool) for b in np.ndindex(*(2,) * 8)) if (A @ m >= 1).all()
        )
        assert cost[mask].sum() >= best


def test_benders_equals_compact_on_a_medium_city() -> None:
    inst = city_instance(2_000, 200, seed=7, cutoff=600.0)
    new = solve(inst, ModelSpec("mclp", p=8, radius=600.0, formulation="benders"), "highs", PROVE)
    old = solve(inst, ModelSpec("mclp", p=8, radius=600.0, formulation="compact"), "highs", PROVE)
    assert new.status == old.status == Status.OPTIMAL and new.verified
    assert new.objective == pytest.approx(old.objective)
    assert new.stats["heuristic_objective"] <= new.objective
    lnew = solve(inst, ModelSpec("lscp", radius=600.0, formulation="benders"), "highs", PROVE)
    lold = solve(inst, ModelSpec("lscp", radius=600.0, formulation="compact"), "highs", PROVE)
    assert lnew.status == lold.status == Status.OPTIMAL and lnew.verified
    assert lnew.objective == pytest.approx(lold.objective)


@pytest.mark.parametrize("model", ["mclp", "lscp"])
def test_time_limited_benders_is_feasible_with_a_valid_bound(model: str) -> None:
    inst = city_instance(3_000, 300, seed=3, cutoff=500.0)
    p = 12 if model == "mclp" else None
    exact = solve(inst, ModelSpec(model, p=p, radius=500.0, formulation="compact"), "highs", PROVE)  # type: ignore[arg-type]
    assert exact.status == Status.OPTIMAL
    t0 = time.monotonic()
    params = SolveParams(mip_gap=0.0, time_limit=0.5)
    res, _mask, stats = solve_coverage(inst, model, 500.0, p=p, params=params, engine="benders")
    assert time.monotonic() - t0 < 0.5 + 5.0  # the deadline holds (slack for a loaded machine)
    if res.status == Status.FEASIBLE:
        assert res.limit.value in ("time", "other") and res.message
    else:
        assert res.status == Status.OPTIMAL
    sign = 1.0 if model == "mclp" else -1.0
    assert sign * res.objective <= sign * exact.objective + 1e-6
    if res.bound is not None:
        assert sign * res.bound >= sign * exact.objective - 1e-6
    assert sign * res.objective >= sign * stats["heuristic_objective"] - 1e-9


def test_auto_picks_the_decomposition_on_large_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = city_instance(1_500, 120, seed=4, cutoff=500.0)
    small = solve(inst, ModelSpec("mclp", p=5, radius=500.0), "highs", PROVE)
    assert small.stats["formulation"] == "mclp"
    monkeypatch.setattr(coverage_choice, "COVERAGE_AUTO_PAIRS", 10)
    big = solve(inst, ModelSpec("mclp", p=5, radius=500.0), "highs", PROVE)
    assert big.stats["formulation"] == "mclp-benders" and big.status == Status.OPTIMAL
    assert big.objective == pytest.approx(small.objective)
    with pytest.raises(Exception, match="highs solver only"):
        solve(inst, ModelSpec("mclp", p=5, radius=500.0, formulation="benders"), "cbc", PROVE)


def test_a_heuristic_covering_everything_is_proven_without_an_lp() -> None:
    """Enough sites to cover every coverable point (as at 1,000,000 x 5,000 with p = 100): the
    coverable weight proves the heuristic's plan, no LP or master runs, and the answer is OPTIMAL,
    verified, equal to the compact MILP's optimum."""
    inst = city_instance(3_000, 200, 4, 1_500.0)
    messages: list[str] = []
    spec = ModelSpec("mclp", p=40, radius=1_500.0, formulation="benders")
    res = solve(inst, spec, "highs", PROVE, progress=messages.append)
    assert res.status == Status.OPTIMAL and res.verified and res.gap == 0
    assert any("proves the plan: no LP needed" in m for m in messages)
    assert not any("Benders" in m for m in messages)
    compact = solve(inst, ModelSpec("mclp", p=40, radius=1_500.0, formulation="compact"), "highs", PROVE)
    assert res.objective == pytest.approx(compact.objective)
