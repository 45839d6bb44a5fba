"""The Benders p-median's shortcuts keep the optimum: the start's proven bound and Lagrangian levels, the
dual cutoff of the probes, cuts rewritten without closed columns. Checked against enumeration and the
classic form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from oracles import brute_optimum, classic_value, graph_like
from strategies import instances

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.benders_highs import PROOF_OPTIONS
from siting.optimizer.benders_pmedian import solve_pmedian_benders
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(inst=instances(n=(2, 9), m=(2, 7)), frac=st.floats(0.1, 0.9), probe=st.sampled_from([0, 3]))
def test_start_bound_and_probing_keep_the_brute_force_optimum(inst: SitingInstance, frac: float, probe: int) -> None:
    free = int((inst.eligible & ~inst.existing).sum())
    p = max(1, min(free, round(frac * free)))
    best = brute_optimum(inst, "pmedian", p=p).value
    heur = run_heuristic(inst, "pmedian", p=p, method="auto")
    res, mask = solve_pmedian_benders(
        inst,
        p,
        SolveParams(mip_gap=0.0),
        start_mask=heur.open_mask,
        start_bound=heur.bound,
        start_multipliers=heur.multipliers,
        probe_passes=probe,
    )
    assert res.status == Status.OPTIMAL
    assert mask is not None
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.bound is not None and res.bound <= best + 1e-6
    assert evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert int(np.sum(mask & ~inst.existing)) <= p


def test_a_start_proven_optimal_skips_the_lp() -> None:
    """A start whose proven bound meets its value is optimal at once: no LP round, same plan."""
    inst = graph_like(3, 60)
    best = classic_value(inst, 4)
    heur = run_heuristic(inst, "pmedian", p=4, method="auto")
    res, mask = solve_pmedian_benders(
        inst, 4, SolveParams(mip_gap=0.0), start_mask=heur.open_mask, start_bound=heur.objective
    )
    assert res.status == Status.OPTIMAL and res.stats["lp_rounds"] == 0
    assert mask is not None and np.array_equal(mask, heur.open_mask)
    # the control: the same start with a weaker bound runs the LP and lands on the classic optimum
    weak, _ = solve_pmedian_benders(
        inst, 4, SolveParams(mip_gap=0.0), start_mask=heur.open_mask, start_bound=heur.objective - 10.0
    )
    assert weak.status == Status.OPTIMAL and weak.stats["lp_rounds"] > 0
    assert weak.objective == pytest.approx(best) and heur.objective == pytest.approx(best)


@pytest.mark.parametrize("seed,n,p", [(0, 120, 3), (1, 150, 5), (2, 150, 8)])
def test_rewritten_cuts_keep_the_classic_optimum(seed: int, n: int, p: int) -> None:
    """Enough sites close by reduced costs that the cuts are rewritten; the optimum is the classic one."""
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    start = run_heuristic(inst, "pmedian", p=p, method="interchange").open_mask
    for probe in (0, 3):
        res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), start_mask=start, probe_passes=probe)
        assert res.status == Status.OPTIMAL
        assert res.stats["refreshed"] >= 1
        assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
        assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed,n,p,width", [(4, 150, 4, None), (5, 150, 6, None), (6, 120, 5, 6)])
def test_lagrangian_levels_start_the_lp_at_the_lagrangian_bound(seed: int, n: int, p: int, width: int | None) -> None:
    """Cuts at the levels u_i / w_i make the first master LP worth at least the Lagrangian bound (the
    master LP over those cuts is the Lagrangian subproblem's LP); the optimum stays the classic one,
    with a truncated separator too (levels capped at the stored sites)."""
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    heur = run_heuristic(inst, "pmedian", p=p, method="auto")
    assert heur.multipliers is not None and heur.bound is not None
    notes: list[str] = []
    res, mask = solve_pmedian_benders(
        inst,
        p,
        SolveParams(mip_gap=0.0),
        start_mask=heur.open_mask,
        start_multipliers=heur.multipliers,
        max_width=width,
        progress=notes.append,
    )
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)
    assert any("Lagrangian levels" in note for note in notes)
    if width is None:  # uncapped levels: the first LP round is at least the Lagrangian bound
        first = next(note for note in notes if note.startswith("benders LP round 1:"))
        lp1 = float(first.split("LP ")[2].split(",")[0])
        # the heuristic reports its bound rounded up (whole-number costs): the LP meets it up to that
        assert lp1 > heur.bound - 1.0


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (2, 150, 8)])
def test_a_capped_first_milp_attempt_does_not_stop_the_later_milp(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """The short MILP attempt is capped at once (no time at all); the interrupt it raised must not
    carry over to the MILP phase, which still proves the classic optimum within an ample limit."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "MIN_ATTEMPT_SECONDS", 0.0)
    monkeypatch.setattr(bp, "rounded_plans", lambda *_a, **_k: [])  # else the polished LP roundings settle it
    monkeypatch.setattr(bp, "FIRST_ROUND_SHARE", 0.0)
    monkeypatch.setattr(bp, "GUIDED_GAP", np.inf)  # the weak start would take the LP-guided MILP first
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    start = run_heuristic(inst, "pmedian", p=p, method="greedy").open_mask
    res, mask = solve_pmedian_benders(
        inst, p, SolveParams(mip_gap=0.0, time_limit=120.0), start_mask=start, probe_passes=1, enum_budget=0.0
    )
    assert res.stats.get("first_milp") == "capped"  # the case under test did happen
    assert res.status == Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)


def _from_the_greedy_plan(
    inst: SitingInstance, p: int, probe_passes: int
) -> tuple[SolveResult, NDArray[np.bool_] | None, list[str]]:
    """The Benders p-median from the greedy plan, no enumeration, with its progress lines."""
    start = run_heuristic(inst, "pmedian", p=p, method="greedy").open_mask
    notes: list[str] = []
    res, mask = solve_pmedian_benders(
        inst,
        p,
        SolveParams(mip_gap=0.0, time_limit=120.0),
        start_mask=start,
        probe_passes=probe_passes,
        enum_budget=0.0,
        progress=notes.append,
    )
    return res, mask, notes


def _straight_to_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    """From the greedy plan straight to probing: the short MILP attempt capped at once, no plans
    rounded from the LP, no LP-guided MILP."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "MIN_ATTEMPT_SECONDS", 0.0)
    monkeypatch.setattr(bp, "FIRST_ROUND_SHARE", 0.0)
    monkeypatch.setattr(bp, "rounded_plans", lambda *_a, **_k: [])
    monkeypatch.setattr(bp, "GUIDED_GAP", np.inf)


def test_a_probing_pass_reports_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probing pass over thousands of sites runs for minutes: it says how far it is (here at every
    probe) and still ends at the classic optimum."""
    import siting.optimizer.benders_pmedian as bp

    _straight_to_probing(monkeypatch)
    monkeypatch.setattr(bp, "PROGRESS_SECONDS", 0.0)
    inst = graph_like(0, 150)
    res, mask, notes = _from_the_greedy_plan(inst, 5, probe_passes=1)
    assert res.stats["probed"] > 0  # the case under test did happen
    lines = [note for note in notes if " probes, " in note]
    assert len(lines) >= res.stats["probed"]
    assert lines[0].startswith("benders probing pass 1: 0 of ")
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(classic_value(inst, 5), rel=1e-9)
    assert mask is not None


def test_a_probe_that_runs_too_long_is_given_up_and_the_solve_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe past its cap fixes nothing and does not end the solve as a time limit would: with a
    cap of 0 s every probe is given up, and the MILP phase still proves the classic optimum."""
    import siting.optimizer.benders_pmedian as bp

    _straight_to_probing(monkeypatch)
    monkeypatch.setattr(bp, "PROBE_REFRESH", 0.0)
    inst = graph_like(0, 150)
    monkeypatch.setattr(bp, "PROBE_CAP_SECONDS", 0.0)
    monkeypatch.setattr(bp, "PROBE_CAP_RATIO", 0.0)
    res, mask, notes = _from_the_greedy_plan(inst, 5, probe_passes=1)
    assert res.stats["probed"] > 0 and res.stats.get("probes_given_up", 0) == res.stats["probed"]
    assert any("given up" in note for note in notes)
    assert res.status == Status.OPTIMAL and res.limit == Limit.NONE
    assert res.objective == pytest.approx(classic_value(inst, 5), rel=1e-9)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(res.objective, rel=1e-9)


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (3, 150, 4), (5, 120, 6)])
def test_refreshing_the_lp_within_a_probing_pass_keeps_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """With the global LP re-solved after every probe, its bound counts and its reduced costs close
    sites mid-pass; every bound the pass reports is below the classic optimum, and the answer is that
    optimum, as without the refreshes."""
    import siting.optimizer.benders_pmedian as bp

    _straight_to_probing(monkeypatch)
    monkeypatch.setattr(bp, "REFRESH_MIN_SECONDS", 0.0)
    monkeypatch.setattr(bp, "PROGRESS_SECONDS", 0.0)  # a progress line, with the bound, at every probe
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    monkeypatch.setattr(bp, "PROBE_REFRESH", 0.0)
    plain, _, _ = _from_the_greedy_plan(inst, p, probe_passes=1)
    monkeypatch.setattr(bp, "PROBE_REFRESH", 1e-9)
    res, mask, notes = _from_the_greedy_plan(inst, p, probe_passes=1)
    assert plain.stats["probed"] > 0 and res.stats.get("probe_refreshes", 0) > 0  # the case under test
    lines = [note for note in notes if " probes, " in note]
    bounds = [float(line.split(" bound ")[1].split(",")[0]) for line in lines]
    assert bounds and max(bounds) <= best + 1e-6
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(best, rel=1e-9)
    assert plain.status == Status.OPTIMAL and plain.objective == pytest.approx(best, rel=1e-9)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)


def test_a_milp_round_reports_its_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """A master MILP runs for minutes inside HiGHS: its round says how many nodes it has explored
    and its bound (here at every callback), a bound never above the classic optimum."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "rounded_plans", lambda *_a, **_k: [])
    monkeypatch.setattr(bp, "GUIDED_GAP", np.inf)
    monkeypatch.setattr(bp, "PROGRESS_SECONDS", 0.0)
    inst = graph_like(2, 150)
    best = classic_value(inst, 8)
    res, _, notes = _from_the_greedy_plan(inst, 8, probe_passes=0)
    lines = [note for note in notes if note.startswith("benders MILP round ") and " nodes, bound " in note]
    assert res.stats["milp_rounds"] > 0 and lines  # the case under test did happen
    bounds = [float(line.split(" nodes, bound ")[1].split(",")[0]) for line in lines]
    assert max(bounds) <= best + 1e-6
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (2, 150, 8), (4, 120, 20)])
def test_the_lp_guided_milp_after_a_weak_start_keeps_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """From the worst start (the p sites of largest total distance) the LP-guided MILP runs on the
    master with temporary fixings; its bounds must not leak into the proof, and the plan it finds
    must lead to the classic optimum."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "rounded_plans", lambda *_a, **_k: [])  # else the polished LP roundings mend the start
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    total = inst.dense_distances().sum(axis=0)
    start = np.zeros(inst.m, dtype=bool)
    start[np.argsort(-total, kind="stable")[:p]] = True
    res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0, time_limit=120.0), start_mask=start)
    assert "guided" in res.stats  # the case under test did happen
    assert res.status == Status.OPTIMAL, res.message
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.bound is not None and res.bound <= best + 1e-6
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (2, 150, 8)])
def test_a_milp_round_stopped_early_keeps_the_plans_it_found(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """Every MILP round is made to report "time" after HiGHS has run it: the plans it found must
    still replace a bad start (the polisher and the LP roundings are off, so only the MILP's
    plans can), each measured at its true value; the rounds' dual bounds stay valid."""
    import siting.optimizer.benders_pmedian as bp
    from siting.optimizer.pmedian_master import Master

    monkeypatch.setattr(bp, "rounded_plans", lambda *_a, **_k: [])
    monkeypatch.setattr(bp, "GUIDED_GAP", np.inf)
    monkeypatch.setattr(bp.Polisher, "improve", lambda *_a, **_k: None)
    real_solve = Master.solve

    def stopped(self: Master, deadline: float, cutoff: float = np.inf, on: object = None) -> str:
        status = real_solve(self, deadline, cutoff, on)  # type: ignore[arg-type]
        return "time" if on is not None else status

    monkeypatch.setattr(Master, "solve", stopped)
    inst = graph_like(seed, n)
    total = inst.dense_distances().sum(axis=0)
    start = np.zeros(inst.m, dtype=bool)
    start[np.argsort(-total, kind="stable")[:p]] = True
    start_value = evaluate(inst, start).weighted_distance
    notes: list[str] = []
    res, mask = solve_pmedian_benders(
        inst,
        p,
        SolveParams(mip_gap=0.0, time_limit=60.0),
        start_mask=start,
        probe_passes=0,
        enum_budget=0.0,
        progress=notes.append,
    )
    assert any("stopped: incumbent" in note for note in notes)  # the case under test did happen
    assert mask is not None and res.objective is not None
    assert res.objective < start_value - 1e-6
    assert evaluate(inst, mask).weighted_distance == pytest.approx(res.objective, rel=1e-9)
    best = classic_value(inst, p)
    assert res.objective >= best - 1e-6
    assert res.bound is not None and res.bound <= best + 1e-6
    if res.status == Status.OPTIMAL:
        assert res.objective == pytest.approx(best, rel=1e-9)


def test_the_interrupt_watch_lowers_a_flag_left_from_an_earlier_run() -> None:
    """HiGHS keeps the callback input between runs: before the stop time the watch must clear it."""
    from types import SimpleNamespace

    import highspy

    from siting.optimizer.benders_highs import interrupt_watch

    data_in = SimpleNamespace(user_interrupt=True)  # raised by an earlier, capped run
    event = highspy.highs.HighsCallbackEvent(None, "", None, data_in, None)  # type: ignore[arg-type]
    stop_at = [float("inf")]
    watch = interrupt_watch(stop_at)
    watch(event)
    assert data_in.user_interrupt is False
    stop_at[0] = float("-inf")
    watch(event)
    assert data_in.user_interrupt is True


def test_the_interrupt_watch_stops_a_run_at_a_cpu_time_cap() -> None:
    """A capped MILP attempt stops on the process's CPU time, not on the clock: the watch raises the
    flag once ``work_at`` is passed, with the clock's stop still ahead, and lowers it before."""
    import time
    from types import SimpleNamespace

    import highspy

    from siting.optimizer.benders_highs import interrupt_watch

    data_in = SimpleNamespace(user_interrupt=False)
    event = highspy.highs.HighsCallbackEvent(None, "", None, data_in, None)  # type: ignore[arg-type]
    stop_at, work_at = [float("inf")], [time.process_time() + 3600.0]
    watch = interrupt_watch(stop_at, work_at)
    watch(event)
    assert data_in.user_interrupt is False
    work_at[0] = time.process_time() - 1e-3
    watch(event)
    assert data_in.user_interrupt is True
    work_at[0] = float("inf")
    watch(event)
    assert data_in.user_interrupt is False


@pytest.mark.parametrize("seed,n,p", [(0, 150, 5), (7, 150, 12)])
def test_fixing_at_every_lp_round_keeps_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """Reduced-cost fixing runs at every LP round of the master (each round's LP is a relaxation),
    here with any number of sites left free: sites leave the free set during the LP phase, and the
    optimum stays the classic one."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "STALL_FREE_PER_MEDIAN", n)
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    heur = run_heuristic(inst, "pmedian", p=p, method="interchange")
    notes: list[str] = []
    res, mask = solve_pmedian_benders(
        inst, p, SolveParams(mip_gap=0.0), start_mask=heur.open_mask, probe_passes=0, progress=notes.append
    )
    free = [int(note.split(", ")[-1].split(" ")[0]) for note in notes if note.startswith("benders LP round")]
    assert free and min(free) < n  # sites were fixed during the rounds (every site starts free)
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("seed,n,p", [(1, 150, 5), (2, 150, 8)])
def test_a_stalled_lp_phase_keeps_the_classic_optimum(
    monkeypatch: pytest.MonkeyPatch, seed: int, n: int, p: int
) -> None:
    """The LP phase is made to stall after its second round, with any number of free sites: the
    MILP (and probing) that follow still prove the classic optimum."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "STALL_ROUNDS", 1)
    monkeypatch.setattr(bp, "STALL_SHARE", 2.0)  # every round counts as a stall
    monkeypatch.setattr(bp, "STALL_FREE_PER_MEDIAN", n)
    inst = graph_like(seed, n)
    best = classic_value(inst, p)
    start = run_heuristic(inst, "pmedian", p=p, method="greedy").open_mask
    for probe in (0, 3):
        res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), start_mask=start, probe_passes=probe)
        assert res.stats["lp_status"] == "stalled" and res.stats["lp_rounds"] == 2
        assert res.status == Status.OPTIMAL
        assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
        assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(inst=instances(n=(2, 9), m=(2, 7)), frac=st.floats(0.1, 0.9), probe=st.sampled_from([0, 3]))
def test_stalled_lp_and_round_fixing_keep_the_brute_force_optimum(
    monkeypatch: pytest.MonkeyPatch, inst: SitingInstance, frac: float, probe: int
) -> None:
    """Hypothesis instances with the LP phase stalled after two rounds: the brute-force optimum."""
    import siting.optimizer.benders_pmedian as bp

    monkeypatch.setattr(bp, "STALL_ROUNDS", 1)
    monkeypatch.setattr(bp, "STALL_SHARE", 2.0)
    monkeypatch.setattr(bp, "STALL_FREE_PER_MEDIAN", 100)
    free = int((inst.eligible & ~inst.existing).sum())
    p = max(1, min(free, round(frac * free)))
    best = brute_optimum(inst, "pmedian", p=p).value
    start = run_heuristic(inst, "pmedian", p=p, method="greedy").open_mask
    res, mask = solve_pmedian_benders(inst, p, SolveParams(mip_gap=0.0), start_mask=start, probe_passes=probe)
    assert res.status == Status.OPTIMAL
    assert res.objective == pytest.approx(best, rel=1e-9, abs=1e-6)
    assert res.bound is not None and res.bound <= best + 1e-6
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(best, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("mine", [{}, {"mip_heuristic_run_rins": True, "mip_heuristic_effort": 1}])
def test_master_milp_rounds_after_a_heuristic_start_spend_their_effort_on_the_proof(
    monkeypatch: pytest.MonkeyPatch, mine: dict[str, object]
) -> None:
    """After a heuristic start the master MILP runs without HiGHS's primal heuristics (a user's own
    value of any of those options wins), and still proves the classic optimum."""
    import siting.optimizer.benders_pmedian as bp

    made: list[object] = []
    real = bp.new_master_highs

    def recording(params: SolveParams) -> object:
        h = real(params)
        made.append(h)
        return h

    monkeypatch.setattr(bp, "new_master_highs", recording)
    _straight_to_probing(monkeypatch)
    inst = graph_like(2, 150)
    start = run_heuristic(inst, "pmedian", p=8, method="greedy").open_mask
    res, _ = solve_pmedian_benders(
        inst, 8, SolveParams(mip_gap=0.0, options={"highs": mine}), start_mask=start, probe_passes=0, enum_budget=0.0
    )
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(classic_value(inst, 8), rel=1e-9)
    rounds = made[1:]  # the first object is the master LP; the others run MILP rounds
    assert res.stats["milp_rounds"] > 0 and len(rounds) >= res.stats["milp_rounds"]
    for h in rounds:
        for name, default in PROOF_OPTIONS.items():
            got = h.getOptionValue(name)
            got = got[1] if isinstance(got, tuple) else got  # (status, value) in some highspy releases
            assert got == mine.get(name, default)


def test_a_probing_pass_that_cannot_finish_leaves_the_time_to_the_milp(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass projected to end long after the deadline stops at once (here: judged at every probe,
    with no margin) and no further pass starts; the MILP phase still proves the classic optimum."""
    import siting.optimizer.benders_pmedian as bp
    import siting.optimizer.probe_forecast as pf

    _straight_to_probing(monkeypatch)
    monkeypatch.setattr(bp, "PROGRESS_SECONDS", 0.0)
    monkeypatch.setattr(pf, "PASS_MIN_SHARE", 0.0)
    monkeypatch.setattr(pf, "PASS_OVERRUN", 0.0)
    inst = graph_like(0, 150)
    res, mask, notes = _from_the_greedy_plan(inst, 5, probe_passes=3)
    assert res.stats.get("probing_cut_short") == 0  # stopped at the first look, before any probe
    assert res.stats["probed"] == 0
    assert sum("stopped after 0 of" in note for note in notes) == 1
    assert res.status == Status.OPTIMAL and res.limit == Limit.NONE
    assert res.objective == pytest.approx(classic_value(inst, 5), rel=1e-9)
    assert mask is not None and evaluate(inst, mask).weighted_distance == pytest.approx(res.objective, rel=1e-9)
