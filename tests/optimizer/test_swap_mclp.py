"""The incremental MCLP swap search (optimizer/heuristics/swap_mclp.py) against the full recount.

Both bookkeepings make the same best-improvement moves, so on every instance they must return the
same plan; the plan is never worse than the start, feasible, and at most the brute-force optimum.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import brute_mclp

import siting.optimizer.heuristics.interchange as interchange_module
from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics import greedy_mclp, interchange_mclp

HYP = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def both(
    inst: SitingInstance, radius: float, start: np.ndarray, p: int, budget: float | None
) -> tuple[np.ndarray, np.ndarray]:
    fast = interchange_mclp(inst, radius, start, p, budget)
    with mock.patch.object(interchange_module, "_SWAP_CELLS", 0):  # the full recount of every move
        full = interchange_mclp(inst, radius, start, p, budget)
    return fast, full


@st.composite
def cases(draw: st.DrawFn) -> tuple[SitingInstance, int, float | None, float, np.ndarray]:
    inst = draw(strategies.coverage_instances())
    free = np.flatnonzero(inst.eligible & ~inst.existing)
    p = draw(st.integers(1, max(1, free.size)))
    budget = float(draw(st.integers(1, 12))) if draw(st.booleans()) else None
    radius = draw(strategies.radii(inst))
    # a start of up to p new sites within the budget, drawn (not only the greedy's)
    pick = draw(st.lists(st.sampled_from(list(free)), max_size=p, unique=True)) if free.size else []
    start = inst.existing.copy()
    spent = 0.0
    for j in pick:
        if budget is None or spent + inst.cost[j] <= budget:
            start[j] = True
            spent += inst.cost[j]
    return inst, p, budget, radius, start


@HYP
@given(cases())
def test_incremental_swaps_equal_full_recount_and_brute_force(case) -> None:
    inst, p, budget, radius, start = case
    fast, full = both(inst, radius, start, p, budget)
    np.testing.assert_array_equal(fast, full)
    assert evaluate(inst, fast, p=p, budget=budget).violations == []
    v0 = evaluate(inst, start, radius=radius).covered_weight
    v1 = evaluate(inst, fast, radius=radius).covered_weight
    assert v0 <= v1 + 1e-9 and v1 <= brute_mclp(inst, radius, p, budget) + 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_incremental_swaps_on_medium_seeded_instances(seed: int) -> None:
    """3,000 points, 150 sites, fractional weights: the same plan as the full recount, many moves."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 5_000, size=(3_000, 2)), rng.uniform(0, 5_000, size=(150, 2))
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    d[d > 700] = np.inf
    rows, cols = np.nonzero(np.isfinite(d))
    dist = sp.csr_array((d[rows, cols], (rows, cols)), shape=d.shape)
    existing = np.zeros(150, dtype=bool)
    existing[:3] = True
    inst = SitingInstance(dist, weights=rng.uniform(0.5, 20.0, 3_000), cost=rng.uniform(1, 3, 150), existing=existing)
    for p, budget in ((12, None), (10, 18.0)):
        start = greedy_mclp(inst, 600.0, p // 3, budget)  # far from a local optimum: many moves
        fast, full = both(inst, 600.0, start, p, budget)
        np.testing.assert_array_equal(fast, full)
        assert evaluate(inst, fast, radius=600.0).covered_weight > evaluate(inst, start, radius=600.0).covered_weight
