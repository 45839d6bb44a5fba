"""The Lagrangian bound on every site of a dense p-median (small p, very large instances)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import brute_optimum, classic_value, graph_like
from strategies import instances

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.pmedian_dense_bound import dense_lagrangian


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("p", [2, 5])
def test_the_bound_is_below_the_optimum_and_close_to_it(seed: int, p: int) -> None:
    """Never above the classic optimum, and within 1 % of it on these instances (their LP gap is
    small); its best relaxed plan is measured as it is."""
    inst = graph_like(seed, 60)
    best = classic_value(inst, p)
    out = dense_lagrangian(inst, p, np.zeros(inst.n), 1.5 * best, None)
    assert out is not None
    assert out.bound <= best + 1e-9 * best
    assert out.bound >= 0.99 * best
    assert int(out.plan.sum()) <= p and out.value == pytest.approx(evaluate(inst, out.plan).weighted_distance)
    assert out.value >= best - 1e-9 * best


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(n=(1, 10), m=(2, 7), unreachable=True, weights=(0, 9)), p=st.integers(1, 3))
def test_the_bound_never_exceeds_the_brute_force_optimum(inst: SitingInstance, p: int) -> None:
    """Existing, forbidden and unreachable sites, rows of weight 0: the bound holds whatever the
    multipliers the search stops at (here from random ones)."""
    best = brute_optimum(inst, "pmedian", p=p).value
    u = np.random.default_rng(p).uniform(0.0, 50.0, inst.n)
    out = dense_lagrangian(inst, p, u, best if np.isfinite(best) else 1e6, None)
    if out is None:
        assert not (np.asarray(inst.weights) > 0).any()
        return
    assert out.bound <= best + 1e-9 * max(1.0, abs(best))
    assert not (out.plan & ~inst.eligible).any() and out.plan[inst.existing].all()


def test_no_time_left_gives_no_bound() -> None:
    inst = graph_like(0, 30)
    assert dense_lagrangian(inst, 3, np.zeros(inst.n), 1e9, time.monotonic() - 1.0) is None


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(n=(1, 9), m=(2, 7), weights=(0, 9)), frac=st.floats(0.0, 1.0), worse=st.integers(0, 6))
def test_a_closed_site_is_in_no_better_plan(inst: SitingInstance, frac: float, worse: int) -> None:
    """Reduced-cost fixing by the Lagrangian: against every plan by enumeration, no plan better than
    the reference plan opens a closed site, and the reference plan's own sites stay open."""
    from oracles import all_plans, plan_value

    from siting.optimizer.pmedian_dense_bound import dense_lagrangian, lagrangian_closed

    free = int((inst.eligible & ~inst.existing).sum())
    p = max(1, min(free, round(frac * free)))
    scored = [(v[0], mask) for mask in all_plans(inst) if (v := plan_value(inst, mask, "pmedian", p=p)) is not None]
    scored.sort(key=lambda vm: vm[0])
    upper, plan = scored[min(worse, len(scored) - 1)]  # the optimum or a worse plan as the reference
    if not np.isfinite(upper):
        return
    lag = dense_lagrangian(inst, p, np.zeros(inst.n), upper, None)
    if lag is None:
        return
    closed = lagrangian_closed(inst, p, lag.multipliers, upper, plan)
    assert not (closed & plan).any()
    assert not (closed & (inst.existing | inst.forbidden)).any()
    for value, mask in scored:
        if value < upper - 1e-9 * max(1.0, abs(upper)):
            assert not (mask & closed).any(), (value, upper)
