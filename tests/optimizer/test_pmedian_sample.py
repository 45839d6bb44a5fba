"""Start plans from the exact optima of random samples (optimizer.pmedian_sample): plans of the
whole instance under its rules, and, when the sample is the whole instance, its optimum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import brute_optimum
from strategies import instances

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.pmedian_sample import sample_instance, sample_plans


def scattered(seed: int, n: int, m: int) -> SitingInstance:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1000, (n, 2))
    sites = rng.uniform(0, 1000, (m, 2))
    d = np.floor(np.linalg.norm(pts[:, None, :] - sites[None, :, :], axis=2)).astype(np.float32)
    existing = np.zeros(m, dtype=bool)
    existing[[3, 11]] = True
    forbidden = np.zeros(m, dtype=bool)
    forbidden[20:30] = True
    return SitingInstance(d, weights=rng.integers(0, 9, n).astype(float), existing=existing, forbidden=forbidden)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(n=(1, 9), m=(2, 7), weights=(0, 9)), frac=st.floats(0.0, 1.0))
def test_a_sample_as_large_as_the_instance_gives_its_optimum(inst: SitingInstance, frac: float) -> None:
    free = int((inst.eligible & ~inst.existing).sum())
    p = max(1, min(free, round(frac * free)))
    plans = sample_plans(inst, p, None, seed=0, size=max(inst.n, inst.m), samples=1)
    if not (inst.weights > 0).any():
        assert plans == []  # nothing to sample: no plan is better than another
        return
    best = brute_optimum(inst, "pmedian", p=p).value
    assert len(plans) == 1
    assert evaluate(inst, plans[0]).weighted_distance == pytest.approx(best, rel=1e-9, abs=1e-6)


def test_the_plans_keep_the_rules_of_the_whole_instance() -> None:
    inst = scattered(5, 400, 150)
    plans = sample_plans(inst, 6, None, seed=3, size=60, samples=3)
    assert len(plans) == 3
    values = [evaluate(inst, plan).weighted_distance for plan in plans]
    assert values == sorted(values)  # best measured first
    for plan in plans:
        assert plan.shape == (inst.m,)
        assert plan[inst.existing].all() and not (plan & inst.forbidden).any()
        assert int((plan & ~inst.existing).sum()) == 6


def test_the_sample_is_seeded_and_drawn_from_clients_with_weight() -> None:
    inst = scattered(6, 300, 300)  # as many sites as clients: the sites are the sampled clients' own
    a, cols_a = sample_instance(inst, 50, np.random.default_rng(9))
    b, cols_b = sample_instance(inst, 50, np.random.default_rng(9))
    assert a is not None and b is not None
    assert np.array_equal(cols_a, cols_b) and np.array_equal(a.distances, b.distances)
    assert (a.weights > 0).all() and a.n == 50
    assert set(np.flatnonzero(inst.existing)) <= set(cols_a.tolist())
    assert not inst.forbidden[cols_a].any()


def test_too_few_sampled_sites_give_no_plan() -> None:
    inst = scattered(7, 200, 80)
    assert sample_plans(inst, 20, None, seed=0, size=10, samples=2) == []


def test_no_time_gives_no_plan() -> None:
    import time

    inst = scattered(8, 200, 80)
    assert sample_plans(inst, 3, time.monotonic(), seed=0, size=50) == []
