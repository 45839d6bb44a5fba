"""Window search for the p-median (optimizer.pmedian_windows.WindowSearch): a window over the whole
plan, with every site offered, finds the brute-force optimum; small windows never return a plan
worse than the start, and the value they report is the plan's true value; existing sites stay open
and sites not allowed never open."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from oracles import classic_value, graph_like

import siting.optimizer.benders_pmedian as bp
from siting.models.evaluate import evaluate
from siting.optimizer.benders_pmedian import solve_pmedian_benders
from siting.optimizer.pmedian_windows import WindowSearch
from siting.optimizer.result import SolveParams, Status


def value(d: np.ndarray, w: np.ndarray, y: np.ndarray) -> float:
    return float(w @ d[:, y > 0.5].min(axis=1))


def by_distance(d: np.ndarray) -> np.ndarray:
    return np.argsort(d, axis=1, kind="stable")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_window_over_the_whole_plan_finds_the_brute_force_optimum(seed: int) -> None:
    inst = graph_like(seed, 14)
    d = inst.dense_distances().astype(np.float64)
    w = np.asarray(inst.weights, dtype=np.float64)
    k, p = d.shape[1], 3
    rng = np.random.default_rng(seed)
    start = np.zeros(k)
    start[rng.choice(k, p, replace=False)] = 1.0
    none = np.zeros(k, dtype=bool)
    search = WindowSearch(d, w, by_distance(d), none, ~none, SolveParams(), medians=p, near=k)
    out, val = search.improve(start, time.perf_counter() + 60.0)
    best = min(value(d, w, np.isin(np.arange(k), c)) for c in itertools.combinations(range(k), p))
    assert int((out > 0.5).sum()) <= p
    assert val == pytest.approx(value(d, w, out), rel=1e-12)
    assert val == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_small_windows_never_worsen_the_plan_and_keep_the_fixed_sites(seed: int) -> None:
    inst = graph_like(seed, 60)
    d = inst.dense_distances().astype(np.float64)
    w = np.asarray(inst.weights, dtype=np.float64)
    k, p = d.shape[1], 8
    rng = np.random.default_rng(seed)
    existing = np.zeros(k, dtype=bool)
    existing[rng.choice(k, 2, replace=False)] = True
    allowed = ~existing
    allowed[rng.choice(np.flatnonzero(allowed), 10, replace=False)] = False  # closed to new sites
    start = existing.astype(np.float64)
    start[rng.choice(np.flatnonzero(allowed), p, replace=False)] = 1.0
    search = WindowSearch(d, w, by_distance(d), existing, allowed, SolveParams(), medians=3, near=4)
    out, val = search.improve(start, time.perf_counter() + 60.0)
    mask = out > 0.5
    assert mask[existing].all()
    assert not mask[~allowed & ~existing].any()
    assert int((mask & ~existing).sum()) <= p
    assert val == pytest.approx(value(d, w, out), rel=1e-12)
    assert val <= value(d, w, start) + 1e-9
    assert search.stats["windows"] >= p  # every open new site's window was solved at least once


def test_a_truncated_benders_solve_with_windows_and_no_probing_proves_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The window search after the LP phase (on a truncated separator, many medians) and the MILP
    rounds straight after fixing (too many free sites to probe) still end at the classic optimum,
    with every plan taken at its true value. (An instance on which the LP leaves a gap after fixing
    and a window moves a median: most small ones are proven before.)"""
    monkeypatch.setattr(bp, "LP_KERNEL_MIN_P", 2)  # windows from this many medians
    monkeypatch.setattr(bp, "PROBE_MAX_FREE", 0)  # every instance has too many free sites to probe
    inst = graph_like(13, 150)
    p = 8
    best = classic_value(inst, p)
    notes: list[str] = []
    res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), max_width=10, progress=notes.append)
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.stats["windows"] > 0 and res.stats["window_moves"] > 0
    assert res.stats["probing_skipped"] > 0 and res.stats["probed"] == 0
    assert any("too many to probe" in note for note in notes)
