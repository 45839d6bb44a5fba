"""Kernel search (optimizer.pmedian_kernel.KernelSearch): with every kernel site listed its MILP,
and on a small kernel its enumeration, finds the best plan over the kernel (brute force over its
p-subsets); with few sites listed it never returns a plan worse than the incumbent it starts from;
it searches a kernel once; and a Benders solve that runs it after every MILP round still proves
the classic optimum, taking its plans only at their true value."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from oracles import classic_value, graph_like

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.benders_highs import PROOF_OPTIONS
from siting.optimizer.benders_pmedian import solve_pmedian_benders
from siting.optimizer.pmedian_kernel import KernelSearch
from siting.optimizer.result import SolveParams, Status


def value(d: np.ndarray, w: np.ndarray, y: np.ndarray) -> float:
    return float(w @ d[:, y > 0.5].min(axis=1))


def plan(k: int, sites: list[int] | np.ndarray) -> np.ndarray:
    y = np.zeros(k)
    y[np.asarray(sites)] = 1.0
    return y


@pytest.mark.parametrize("how", ["milp", "enumeration"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_every_kernel_site_listed_the_search_finds_the_best_plan_over_the_kernel(
    monkeypatch: pytest.MonkeyPatch, seed: int, how: str
) -> None:
    import siting.optimizer.pmedian_kernel as pk

    if how == "milp":  # no kernel is small enough to enumerate
        monkeypatch.setattr(pk, "ENUM_BUDGET", 0.0)
    inst = graph_like(seed, 40)
    d = inst.dense_distances().astype(np.float64)
    w = np.asarray(inst.weights, dtype=np.float64)
    k, p = d.shape[1], 3
    existing = np.zeros(k, dtype=bool)
    existing[0] = True
    rng = np.random.default_rng(seed)
    pool = rng.choice(np.arange(1, k), 9, replace=False)
    search = KernelSearch(d, w, existing, p, SolveParams(), near=k, share=np.inf)
    for sites in (pool[:3], pool[3:6], pool[6:]):
        search.see(plan(k, sites))
    start = plan(k, [0, *pool[:3]])
    out = search.improve(start, time.perf_counter() + 60.0)
    assert out is not None
    assert out[0] == 1.0 and int((out[1:] > 0.5).sum()) <= p  # the existing site stays, at most p new
    assert set(np.flatnonzero(out > 0.5)) <= {0, *pool.tolist()}  # only kernel sites
    best = min(value(d, w, plan(k, [0, *c])) for c in itertools.combinations(pool, p))
    assert value(d, w, out) == pytest.approx(best, rel=1e-9)
    assert search.improve(out, time.perf_counter() + 60.0) is None  # the same kernel: searched once
    assert search.runs == 1


@pytest.mark.parametrize("seed", [3, 4])
def test_with_few_sites_listed_the_plan_is_never_worse_than_the_incumbent(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Each client may use only its 2 nearest kernel sites (and its site in the incumbent): a
    restriction whose optimum is worth at least its plan's true value, and at most the incumbent's."""
    import siting.optimizer.pmedian_kernel as pk

    monkeypatch.setattr(pk, "ENUM_BUDGET", 0.0)  # the restricted MILP, not the enumeration
    inst = graph_like(seed, 60)
    d = inst.dense_distances().astype(np.float64)
    w = np.asarray(inst.weights, dtype=np.float64)
    k, p = d.shape[1], 5
    rng = np.random.default_rng(seed)
    search = KernelSearch(d, w, np.zeros(k, dtype=bool), p, SolveParams(), near=2, share=np.inf)
    for _ in range(4):
        search.see(plan(k, rng.choice(k, p, replace=False)))
    start = plan(k, rng.choice(k, p, replace=False))
    made: list[object] = []
    real = pk.new_master_highs
    monkeypatch.setattr(pk, "new_master_highs", lambda params: made.append(real(params)) or made[-1])
    out = search.improve(start, time.perf_counter() + 60.0)
    assert out is not None and int((out > 0.5).sum()) <= p
    assert value(d, w, out) <= value(d, w, start) + 1e-9
    # it starts from the incumbent: no primal heuristics in its MILP (see PROOF_OPTIONS)
    assert len(made) == 1
    for name, default in PROOF_OPTIONS.items():
        got = made[0].getOptionValue(name)  # type: ignore[attr-defined]
        assert (got[1] if isinstance(got, tuple) else got) == default


def _solve_from_the_worst_plan(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> tuple[SitingInstance, object, np.ndarray | None, list[bool]]:
    """A Benders solve from the worst plan in which every finished MILP round counts as stalled (so
    the kernel search runs after each) and no LP-guided restricted MILP, with the swap search and the LP roundings off and no limit
    on the kernel search's time. Returns the instance, the result, its plan and, per kernel search
    called, whether it returned a plan."""
    import siting.optimizer.benders_pmedian as bp
    import siting.optimizer.pmedian_kernel as pk

    monkeypatch.setattr(bp, "stalled", lambda _before, _after: True)
    monkeypatch.setattr(bp, "GUIDED_GAP", np.inf)  # no restricted rounds: the search follows whole-master ones
    monkeypatch.setattr(pk, "KERNEL_SHARE", np.inf)
    monkeypatch.setattr(bp.Polisher, "improve", lambda *_a, **_k: None)
    monkeypatch.setattr(bp, "rounded_plans", lambda *_a, **_k: [])
    calls: list[bool] = []
    real_improve = pk.KernelSearch.improve

    def counted(self: pk.KernelSearch, y: np.ndarray, deadline: float) -> np.ndarray | None:
        out = real_improve(self, y, deadline)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(pk.KernelSearch, "improve", counted)
    inst = graph_like(seed, n)
    total = inst.dense_distances().sum(axis=0)
    start = np.zeros(inst.m, dtype=bool)
    start[np.argsort(-total, kind="stable")[:p]] = True
    res, mask = solve_pmedian_benders(
        inst, p, SolveParams(mip_gap=0.0, time_limit=60.0), start_mask=start, probe_passes=0, enum_budget=0.0
    )
    return inst, res, mask, calls


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (2, 150, 8)])
def test_a_benders_solve_that_searches_the_kernel_proves_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    inst, res, mask, calls = _solve_from_the_worst_plan(monkeypatch, seed, n, p)
    assert any(calls)  # the search ran and returned a plan
    best = classic_value(inst, p)
    assert res.status == Status.OPTIMAL  # type: ignore[attr-defined]
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)
    assert res.objective == pytest.approx(best, rel=1e-9)  # type: ignore[attr-defined]
    assert res.bound is not None and res.bound <= best + 1e-6  # type: ignore[attr-defined]


def test_a_kernel_plan_is_taken_at_its_true_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search made to return random plans (whatever their restricted value): each becomes the
    incumbent only when its true value is better, so the answer is still the classic optimum."""
    import siting.optimizer.pmedian_kernel as pk

    rng = np.random.default_rng(7)

    def random_plan(self: pk.KernelSearch, cols: np.ndarray, near: int, y: np.ndarray, stop: float) -> np.ndarray:
        return plan(self.d.shape[1], rng.choice(self.d.shape[1], self.p, replace=False))

    monkeypatch.setattr(pk.KernelSearch, "_solve", random_plan)
    inst, res, mask, calls = _solve_from_the_worst_plan(monkeypatch, 1, 150, 6)
    assert any(calls)
    best = classic_value(inst, 6)
    assert mask is not None and res.objective == pytest.approx(best, rel=1e-9)  # type: ignore[attr-defined]
    assert evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)
