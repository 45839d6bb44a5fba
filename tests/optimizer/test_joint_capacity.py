"""Capacities and equity floors in the joint model against brute-force enumeration.

Tiny seeded instances (n <= 4 demand points, m <= 3 plots, 1-2 services, 0-1 existing facility per
capacitated service) with shared / per-service budgets and count limits. The brute force runs over
every plan of :func:`oracles.joint_plans` (feasible = :func:`evaluate_joint` finds no violation)
and, for a capacitated service, over every assignment of each demand point to one reachable open
facility or none (unsplit) or the assignment LP (split, scipy's ``linprog``); floors filter the
(plan, assignment) pairs; max-min maximises the worst share, then the objective. It shares no code
with the formulation.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray
from oracles import joint_plans
from scipy.optimize import linprog

from siting.models.errors import DataError, InfeasibleError
from siting.models.evaluate_joint_options import evaluate_joint_options
from siting.models.formulations.joint_capacity import CapacityData, EquityData, JointOptions
from siting.models.multiservice import MultiServiceInstance, ServiceData
from siting.optimizer.joint import solve_joint
from siting.optimizer.joint_options import solve_joint_options
from siting.optimizer.registry import make_backend
from siting.optimizer.result import Limit, SolveParams, Status

PARAMS = SolveParams(mip_gap=0.0)
TOL = 1e-6


def _cbc_available() -> bool:
    return bool(make_backend("cbc").available())


def random_case(
    seed: int, *, split: bool, floor: bool, capacity: bool = True
) -> tuple[MultiServiceInstance, JointOptions]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 5))
    m = int(rng.integers(1, 4))
    S = int(rng.integers(1, 3))
    services, caps, eqs = [], {}, {}
    for s in range(S):
        cov = rng.random((n, m)) < 0.6
        ex_cov = rng.random(n) < 0.3
        elig = rng.random(m) < 0.85
        services.append(
            ServiceData(
                name=f"svc{s}",
                weights=rng.integers(0, 6, n).astype(float),
                coverage=sp.csr_array(cov),
                distances=None,
                cost=np.where(elig, rng.integers(1, 4, m).astype(float), np.nan),
                eligible=elig,
                area=1.0,
                existing_covered=ex_cov,
                existing_distance=np.where(ex_cov, 1.0, np.inf),
                max_sites=None if rng.random() < 0.5 else int(rng.integers(1, 3)),
                weight=float(rng.choice([1.0, 2.0])),
                budget=None if rng.random() < 0.7 else float(rng.integers(2, 6)),
            )
        )
        if capacity and (s == 0 or rng.random() < 0.5):
            E = int(ex_cov.any())
            ecov = sp.csr_array(ex_cov[:, None] if E else np.zeros((n, 0), dtype=bool))
            caps[f"svc{s}"] = CapacityData(
                plot_capacity=rng.choice([np.inf, 0.0, 3.0, 5.0, 8.0], size=m),
                existing_cover=ecov,
                existing_capacity=rng.choice([np.inf, 2.0, 4.0], size=E),
                existing_ids=np.array([f"e{s}"] * E, dtype=object),
                allow_split=split,
            )
        if floor and (s == 0 or rng.random() < 0.4):
            G = int(rng.integers(2, 4))
            eqs[f"svc{s}"] = EquityData(
                code=rng.integers(0, G, n), labels=np.array([f"g{g}" for g in range(G)]),
                min_share=float(rng.choice([0.2, 0.4, 0.6])),
            )  # fmt: skip
    inst = MultiServiceInstance(
        demand_ids=np.arange(100, 100 + n),
        site_ids=np.array([f"p{j}" for j in range(m)]),
        room=rng.choice([np.inf, 1.0, 2.0], size=m),
        services=tuple(services),
        total_budget=None if rng.random() < 0.5 else float(rng.integers(2, 8)),
        name=f"cap{seed}",
    )
    return inst, JointOptions(capacity=caps, equity=eqs)


# --------------------------------------------------------------------------- brute force
def _facilities(svc: ServiceData, cap: CapacityData, plan_s: NDArray[Any]) -> tuple[NDArray[np.bool_], NDArray[Any]]:
    """(n, F) reach of each open facility (plots then existing) and the capacities."""
    cov = svc.coverage.toarray() & (plan_s >= 0)[None, :]
    reach = np.hstack([cov, cap.existing_cover.toarray()])
    return reach, np.concatenate([cap.plot_capacity, cap.existing_capacity])


def _service_options(
    svc: ServiceData, cap: CapacityData | None, eq: EquityData | None, plan_s: NDArray[Any], floor: float | None
) -> list[tuple[float, float]]:
    """(served or covered people, worst group share) of every assignment meeting ``floor`` (a best one
    per worst share suffices for the optimum: all of them for unsplit, the LP optimum for split)."""
    w = svc.weights

    def worst(people: NDArray[np.float64]) -> float:
        if eq is None:
            return 1.0
        tot = eq.totals(w)
        cov = np.bincount(eq.code, weights=people, minlength=eq.G)
        return float(np.min(np.where(tot > 0, cov / np.where(tot > 0, tot, 1.0), 1.0)))

    if cap is None:
        covered = svc.existing_covered | (svc.coverage.toarray() & (plan_s >= 0)[None, :]).any(axis=1)
        people = w * covered
        wv = worst(people)
        return [(float(people.sum()), wv)] if floor is None or wv >= floor - TOL else []
    reach, caps = _facilities(svc, cap, plan_s)
    n, F = reach.shape
    if not cap.allow_split:
        out = []
        choices = [[-1, *np.flatnonzero(reach[i]).tolist()] if w[i] > 0 else [-1] for i in range(n)]
        for a in itertools.product(*choices):
            a = np.array(a)
            on = a >= 0
            load = np.bincount(a[on], weights=w[on], minlength=F)
            if (load > caps + TOL).any():
                continue
            people = w * on
            wv = worst(people)
            if floor is None or wv >= floor - TOL:
                out.append((float(people.sum()), wv))
        return out
    # split: the LP max sum w x, sum_j x_ij <= 1, sum_i w_i x_ij <= cap_j, x_ij <= reach, floors
    pi, pf = np.nonzero(reach & (w[:, None] > 0))
    K = pi.size
    if K == 0:
        people = np.zeros(n)
        wv = worst(people)
        return [(0.0, wv)] if floor is None or wv >= floor - TOL else []
    rows, rhs = [], []
    for i in range(n):
        rows.append((pi == i).astype(float))
        rhs.append(1.0)
    for f in range(F):
        if np.isfinite(caps[f]):
            rows.append(np.where(pf == f, w[pi], 0.0))
            rhs.append(caps[f])
    if eq is not None and floor is not None:
        tot = eq.totals(w)
        for g in range(eq.G):
            if tot[g] > 0:
                rows.append(-np.where(eq.code[pi] == g, w[pi], 0.0))
                rhs.append(-floor * tot[g] + 1e-9)
    lp = linprog(-w[pi], A_ub=np.array(rows), b_ub=np.array(rhs), bounds=(0, 1), method="highs")
    if lp.status != 0:
        return []
    people = np.bincount(pi, weights=w[pi] * lp.x, minlength=n)
    return [(float(people.sum()), worst(people))]


def brute(inst: MultiServiceInstance, options: JointOptions, maxmin: str | None = None) -> float | None:
    """The optimum (None if no plan meets the floors); with ``maxmin`` the lexicographic optimum."""
    best: tuple[float, float] | None = None
    for plan, met in joint_plans(inst):
        if met.violations:
            continue
        per: list[list[tuple[float, float]]] = []
        for s, svc in enumerate(inst.services):
            eq = options.equity.get(svc.name)
            floor = None if eq is None or svc.name == maxmin else eq.min_share
            per.append(_service_options(svc, options.capacity.get(svc.name), eq, plan[s], floor))
        if any(not p for p in per):
            continue
        for combo in itertools.product(*per):
            value = sum(inst.services[s].weight * v for s, (v, _) in enumerate(combo))
            key_worst = combo[inst.service_index(maxmin)][1] if maxmin else 0.0
            key = (round(key_worst, 9), value)
            if best is None or key > best:
                best = key
    return None if best is None else best[1]


# --------------------------------------------------------------------------- tests
CASES = [(seed, split, floor) for seed in range(14) for split in (False, True) for floor in (False, True)]


@pytest.mark.parametrize(("seed", "split", "floor"), CASES)
def test_joint_capacity_and_floor_match_brute_force(seed: int, split: bool, floor: bool) -> None:
    inst, options = random_case(seed, split=split, floor=floor)
    want = brute(inst, options)
    if want is None:
        with pytest.raises(InfeasibleError):
            solve_joint_options(inst, options, params=PARAMS, reference=False)
        return
    res = solve_joint_options(inst, options, params=PARAMS)
    assert res.status == Status.OPTIMAL
    assert res.verified, res.message
    assert res.objective == pytest.approx(want, abs=1e-5, rel=1e-5)
    # the evaluator's recount, independently of the solver: loads within capacities, floors met
    om = res.option_metrics
    assert om is not None and not om.violations
    for name, use in om.capacity.items():
        assert np.all(use.load <= use.capacity + 1e-6), name
    for name, eq in options.equity.items():
        assert om.equity[name].worst >= float(eq.min_share or 0.0) - 1e-6


@pytest.mark.parametrize("seed", range(10))
def test_floor_without_capacity_matches_brute_force(seed: int) -> None:
    inst, options = random_case(100 + seed, split=False, floor=True, capacity=False)
    want = brute(inst, options)
    if want is None:
        with pytest.raises(InfeasibleError, match="no plan meeting the equity floors: services.svc0.equity"):
            solve_joint_options(inst, options, params=PARAMS, reference=False)
        return
    res = solve_joint_options(inst, options, params=PARAMS)
    assert res.verified and res.objective == pytest.approx(want, abs=1e-5, rel=1e-5)


@pytest.mark.parametrize(("seed", "capacity"), [(s, c) for s in range(8) for c in (False, True)])
def test_max_min_matches_lexicographic_brute_force(seed: int, capacity: bool) -> None:
    inst, options = random_case(200 + seed, split=False, floor=True, capacity=capacity)
    name = next(iter(options.equity))
    eq = options.equity[name]
    options = JointOptions(capacity=options.capacity, equity={name: EquityData(eq.code, eq.labels, max_min=True)})
    want = brute(inst, options, maxmin=name)
    assert want is not None  # nothing forces a share: the max-min model always has a plan
    res = solve_joint_options(inst, options, params=PARAMS)
    assert res.verified, res.message
    assert res.objective == pytest.approx(want, abs=1e-5, rel=1e-5)
    assert res.stages[0]["name"] == "worst share"


@pytest.mark.skipif(not _cbc_available(), reason="CBC is not installed")
@pytest.mark.parametrize(("seed", "split"), [(s, sp_) for s in range(5) for sp_ in (False, True)])
def test_cbc_equals_brute_force(seed: int, split: bool) -> None:
    inst, options = random_case(300 + seed, split=split, floor=True)
    want = brute(inst, options)
    if want is None:
        with pytest.raises(InfeasibleError):
            solve_joint_options(inst, options, solver="cbc", params=PARAMS, reference=False)
        return
    res = solve_joint_options(inst, options, solver="cbc", params=PARAMS)
    assert res.verified and res.objective == pytest.approx(want, abs=1e-5, rel=1e-5)


def test_evaluator_flags_a_tampered_assignment() -> None:
    inst, options = random_case(3, split=False, floor=False)
    res = solve_joint(inst, params=PARAMS, options=options)
    name = next(iter(options.capacity))
    s = inst.service_index(name)
    n, m = inst.n, inst.m
    # everyone to every plot, open or not, in or out of reach: every rule broken at once
    demand = np.repeat(np.arange(n), m)
    fac = np.tile(np.arange(m), n)
    om = evaluate_joint_options(inst, options, res.open_phase, {name: (demand, fac, np.ones(n * m))})
    closed_or_far = (~inst.services[s].coverage.toarray()).any() or (res.open_phase[s] < 0).any()
    assert om.violations
    if m > 1:
        assert any("more than once" in v for v in om.violations)
    if closed_or_far:
        assert any("reach" in v or "not open" in v for v in om.violations)


def test_options_need_a_coverage_objective() -> None:
    inst, options = random_case(1, split=False, floor=False)
    with pytest.raises(DataError, match="max_coverage or phased"):
        solve_joint(inst, "min_cost", params=PARAMS, options=options)


def brute_phased(inst: MultiServiceInstance, options: JointOptions) -> float | None:
    """The phased optimum: ``sum_t pw_t sum_s weight_s value_s(plan open by t)``; assignments of
    different phases are independent, so each phase takes its best one (floors at the end only)."""
    pw = inst.phase_weight_vector
    best: float | None = None
    for plan, met in joint_plans(inst):
        if met.violations:
            continue
        total = 0.0
        ok = True
        for t in range(inst.T):
            by_t = np.where((plan >= 0) & (plan <= t), 0, -1)
            end = t == inst.T - 1
            for s, svc in enumerate(inst.services):
                eq = options.equity.get(svc.name)
                floor = eq.min_share if eq is not None and end else None
                opts = _service_options(svc, options.capacity.get(svc.name), eq, by_t[s], floor)
                if not opts:
                    ok = False
                    break
                total += pw[t] * svc.weight * max(v for v, _ in opts)
            if not ok:
                break
        if ok and (best is None or total > best):
            best = total
    return best


@pytest.mark.parametrize(
    ("seed", "split", "floor"), [(s, sp_, f) for s in range(6) for sp_ in (False, True) for f in (False, True)]
)
def test_phased_capacity_counts_from_the_opening_phase(seed: int, split: bool, floor: bool) -> None:
    """The phased objective: a facility serves from the phase it opens in; brute force over phases."""
    base, options = random_case(400 + seed, split=split, floor=floor)
    inst = MultiServiceInstance(
        demand_ids=base.demand_ids, site_ids=base.site_ids, room=base.room, services=base.services,
        total_budget=base.total_budget, phases=("2025", "2026"), phase_budgets=np.array([2.0, 3.0]),
        carry_over=bool(seed % 2), phase_weights=np.array([1.0, 2.0]), name=base.name,
    )  # fmt: skip
    want = brute_phased(inst, options)
    if want is None:
        with pytest.raises(InfeasibleError):
            solve_joint_options(inst, options, "phased", params=PARAMS, reference=False)
        return
    res = solve_joint_options(inst, options, "phased", params=PARAMS)
    assert res.verified, res.message
    assert res.objective == pytest.approx(want, abs=1e-5, rel=1e-5)


class _StoppedEarly:
    """HiGHS, then the point made legal but poor (every coverage column z at 0) and called a time stop."""

    name = "stopped-early"

    def __init__(self) -> None:
        self.inner = make_backend("highs")

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return "test"

    def solve(self, problem: Any, params: SolveParams, warm_start: Any = None) -> Any:
        r = self.inner.solve(problem, params, warm_start)
        x = np.array(r.x, dtype=np.float64)
        for name, (a, b) in problem.blocks.items():
            if name.startswith("z["):
                x[a:b] = 0.0
        return dataclasses.replace(
            r, status=Status.FEASIBLE, limit=Limit.TIME, x=x, objective=problem.objective_value(x)
        )


@pytest.mark.parametrize("seed", range(6))
def test_a_stopped_solve_is_polished_so_solver_and_evaluator_agree(seed: int) -> None:
    inst, options = random_case(500 + seed, split=False, floor=False)
    want = brute(inst, options)
    res = solve_joint(inst, params=PARAMS, options=options, backend=_StoppedEarly(), tie_break=False)
    assert res.status == Status.FEASIBLE  # a time-limited stop is never optimal
    assert res.verified, res.message
    assert want is not None and res.objective == pytest.approx(want, abs=1e-5, rel=1e-5)
