"""Swap local search from the Benders master's plans (optimizer.pmedian_polish.Polisher): its plans
are local optima no worse than where they started (every single swap enumerated), each plan is
polished once, and a Benders solve that polishes every MILP round still proves the classic optimum."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from oracles import classic_value, graph_like

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.benders_pmedian import solve_pmedian_benders
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.pmedian_polish import Polisher, rounded_plans
from siting.optimizer.pmedian_start import truncated_instance
from siting.optimizer.result import SolveParams, Status


def value(inst: SitingInstance, mask: np.ndarray) -> float:
    return float(evaluate(inst, mask).weighted_distance)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_polished_plan_is_a_swap_local_optimum_no_worse_than_its_start(seed: int) -> None:
    inst = graph_like(seed, 40)
    existing = np.zeros(inst.m, dtype=bool)
    existing[3] = True
    forbidden = np.zeros(inst.m, dtype=bool)
    forbidden[[5, 7]] = True
    inst = SitingInstance(inst.dense_distances(), weights=inst.weights, existing=existing, forbidden=forbidden)
    cand = np.flatnonzero(inst.eligible)
    rng = np.random.default_rng(seed)
    p = 4
    y = np.zeros(cand.size)
    y[np.flatnonzero(inst.existing[cand])] = 1.0
    y[rng.choice(np.flatnonzero(~inst.existing[cand]), p, replace=False)] = 1.0
    polisher = Polisher(inst, p, cand, share=np.inf)
    out = polisher.improve(y, time.perf_counter() + 60.0)
    assert out is not None
    start_mask = np.zeros(inst.m, dtype=bool)
    start_mask[cand[y > 0.5]] = True
    mask = np.zeros(inst.m, dtype=bool)
    mask[cand[out > 0.5]] = True
    assert mask[3] and not mask[[5, 7]].any()  # existing stays open, forbidden closed
    assert int((mask & ~inst.existing).sum()) == p
    assert value(inst, mask) <= value(inst, start_mask) + 1e-9
    # no single swap of a new open site for a closed eligible one improves it
    opened = np.flatnonzero(mask & ~inst.existing)
    closed = np.flatnonzero(~mask & inst.eligible)
    here = value(inst, mask)
    for k, j in itertools.product(opened, closed):
        trial = mask.copy()
        trial[k], trial[j] = False, True
        assert value(inst, trial) >= here - 1e-6
    assert polisher.improve(y, time.perf_counter() + 60.0) is None  # each plan once
    assert polisher.polished == 1


def test_a_plan_polished_on_the_nearest_sites_is_worth_at_most_its_start_there() -> None:
    """With a ``width`` the search runs on each client's nearest sites (a problem whose value is at
    least the true one at every plan), so the plan found is worth, in truth, at most what the
    start is worth there."""
    inst = graph_like(5, 60)
    cand = np.flatnonzero(inst.eligible)
    p, width = 5, 20
    y = np.zeros(cand.size)
    y[np.random.default_rng(0).choice(cand.size, p, replace=False)] = 1.0
    out = Polisher(inst, p, cand, share=np.inf, width=width).improve(y, time.perf_counter() + 60.0)
    assert out is not None and int((out > 0.5).sum()) == p
    start_mask = np.zeros(inst.m, dtype=bool)
    start_mask[cand[y > 0.5]] = True
    mask = np.zeros(inst.m, dtype=bool)
    mask[cand[out > 0.5]] = True
    on_nearest = value(truncated_instance(inst, width), start_mask)
    assert np.isfinite(on_nearest)  # every client has an open site among its nearest: a real bar
    assert value(inst, start_mask) <= on_nearest + 1e-9  # truncation only adds cost
    assert value(inst, mask) <= on_nearest + 1e-9


def test_the_polisher_keeps_to_its_share_of_the_time() -> None:
    inst = graph_like(3, 30)
    cand = np.flatnonzero(inst.eligible)
    y = np.zeros(cand.size)
    y[:3] = 1.0
    spent = Polisher(inst, 3, cand, share=0.0)
    spent.budget.seconds = 1.0  # more than no share of any elapsed time
    assert spent.improve(y, time.perf_counter() + 60.0) is None
    assert Polisher(inst, 3, cand).improve(y, time.perf_counter() + 0.5) is None  # the deadline is near


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (2, 150, 8), (4, 120, 20)])
def test_benders_with_polished_milp_rounds_keeps_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """From a greedy start, with the LP phase and probing skipped straight to MILP rounds, every
    round's plans are polished: the plans found improve the incumbent and the proof still holds."""
    import siting.optimizer.pmedian_polish as pp

    monkeypatch.setattr(pp, "POLISH_SHARE", np.inf)
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    start = run_heuristic(inst, "pmedian", p=p, method="greedy").open_mask
    res, mask = solve_pmedian_benders(
        inst, p, SolveParams(mip_gap=0.0, time_limit=120.0), start_mask=start, probe_passes=0, enum_budget=0.0
    )
    assert res.stats.get("polished", 0) >= 1  # the case under test did happen
    assert res.status == Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.bound is not None and res.bound <= best + 1e-6
    assert mask is not None and value(inst, mask) == pytest.approx(best, rel=1e-9)


def test_plans_rounded_from_an_lp_point_open_p_sites_and_keep_the_held_ones() -> None:
    rng = np.random.default_rng(4)
    y = rng.uniform(0, 1, 30)
    y[[2, 9, 17]] = 1.0
    held = np.zeros(30, dtype=bool)
    held[[0, 5]] = True
    plans = rounded_plans(y, held, 4, seed=1, count=5)
    assert len(plans) == 5
    for plan in plans:
        assert set(np.unique(plan)) <= {0.0, 1.0}
        assert plan[held].all() and int(plan[~held].sum()) == 4
    # the first opens the sites the LP opens most
    free = np.flatnonzero(~held)
    top = set(free[np.argsort(-y[free])[:4]].tolist())
    assert set(np.flatnonzero(plans[0] > 0.5).tolist()) - {0, 5} == top
    again = rounded_plans(y, held, 4, seed=1, count=5)
    assert all(np.array_equal(a, b) for a, b in zip(plans, again, strict=True))  # seeded
    # a site the LP leaves at 0 is drawn only when the sites above 0 are not enough
    sparse = np.zeros(30)
    sparse[[3, 4, 6, 7, 8]] = 0.8
    for plan in rounded_plans(sparse, held, 4, seed=2, count=20)[1:]:
        assert set(np.flatnonzero(plan > 0.5).tolist()) - {0, 5} <= {3, 4, 6, 7, 8}
