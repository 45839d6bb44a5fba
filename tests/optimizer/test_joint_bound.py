"""Bounds for the joint model at city scale (optimizer/joint_bound.py).

* Phases that cannot matter: with carry-over, a plan of the phase-free model is feasible in the
  original once every pair opens in the last phase, and every feasible plan of the original is
  feasible (same pairs) in the phase-free model: checked by enumerating every plan of tiny instances.
* Reduced-cost fixing keeps the optimum: the fixed model's MILP optimum equals the original's, on
  seeded medium instances with the optimum itself (many fixings) and the greedy plan as incumbent.
* The LP-guided MILP is the best plan that keeps every binary the LP holds at an integer: checked
  against every plan of tiny instances whose LP leaves some binary fractional.
* solve_joint with the LP first reports the same optimum, a bound at least as large as it, and the
  LP bound in the stage record.
"""

from __future__ import annotations

import numpy as np
import pytest
from joint_instances import medium_instance
from oracles import joint_plans

import siting.optimizer.joint as joint_mod
from siting.models.formulations.joint import joint_milp
from siting.models.multiservice import evaluate_joint
from siting.optimizer.backends.highs import HighsBackend
from siting.optimizer.joint import _warm_start, greedy_plan, solve_joint
from siting.optimizer.joint_bound import (
    INTEGRAL_TOL,
    combined_bound,
    fix_by_reduced_cost,
    last_phase,
    lp_guided_milp,
    lp_relaxation,
    phase_free,
)
from siting.optimizer.result import SolveParams, Status

EXACT = SolveParams(mip_gap=0.0)


def tiny_phased(seed: int):
    """A tiny instance with phase budgets and carry-over, with at most 6 (service, plot) pairs (every
    plan enumerable): the first of seeds ``1000 seed, 1000 seed + 1, ...`` that has so few."""
    import dataclasses

    seed = next(s for s in range(1000 * seed, 1000 * seed + 1000) if _pairs(medium_instance(s, tiny=True)) <= 6)
    inst = medium_instance(seed, tiny=True)
    rng = np.random.default_rng(seed + 1000)
    inst = dataclasses.replace(
        inst,
        phases=("2022", "2023"),
        phase_budgets=rng.integers(2, 8, size=2).astype(float),
        carry_over=True,
        phase_weights=None,
    )
    return inst


def _pairs(inst) -> int:
    return sum(int(s.eligible.sum()) for s in inst.services)


@pytest.mark.parametrize("seed", range(8))
def test_phase_free_model_has_the_same_feasible_pair_sets(seed: int) -> None:
    inst = tiny_phased(seed)
    free = phase_free(inst, "max_coverage")
    assert free is not None and free.phase_budgets is None
    seen = 0
    for plan, met in joint_plans(free):
        if plan.max() > 0:
            continue  # phase-free plans open in phase 0
        lifted = last_phase(plan, inst)
        orig = evaluate_joint(inst, lifted)
        assert bool(met.violations) == bool(orig.violations), (met.violations, orig.violations)
        if not met.violations:
            seen += 1
            assert orig.weighted_coverage == pytest.approx(met.weighted_coverage)
    assert seen >= 1
    for plan, met in joint_plans(inst):  # every feasible plan of the original stays feasible
        if not met.violations:
            flat = np.where(plan >= 0, 0, -1).astype(np.int8)
            assert not evaluate_joint(free, flat).violations
    assert phase_free(inst, "phased") is None


@pytest.mark.parametrize("seed", range(6))
def test_reduced_cost_fixing_keeps_the_optimum(seed: int) -> None:
    inst = medium_instance(seed)
    problem, layout = joint_milp(inst, "max_coverage")
    be = HighsBackend()
    full = be.solve(problem, EXACT)
    assert full.status == Status.OPTIMAL
    lp = lp_relaxation(problem, EXACT)
    assert lp is not None and lp.value >= full.objective - 1e-6
    start = layout.start(greedy_plan(inst, layout, "max_coverage"))
    for incumbent in (full.objective, problem.objective_value(start)):
        fixed, n0, n1 = fix_by_reduced_cost(problem, lp, incumbent)
        again = be.solve(fixed, EXACT)
        assert again.status == Status.OPTIMAL
        assert again.objective == pytest.approx(full.objective, rel=1e-9, abs=1e-6)
        assert combined_bound(incumbent, lp.value, again.bound) >= full.objective - 1e-6
        if incumbent == full.objective:
            assert n0 + n1 > 0  # with the optimum as incumbent the test bites
    with pytest.raises(ValueError, match="maximising"):
        import dataclasses

        fix_by_reduced_cost(dataclasses.replace(problem, sense="min"), lp, 0.0)


def _fractional_lp_instances(count: int) -> list[int]:
    """The first ``count`` tiny seeds (at most 7 pairs, every plan enumerable) whose LP optimum
    leaves some binary fractional."""
    seeds: list[int] = []
    for seed in range(1000):
        inst = medium_instance(seed, tiny=True)
        if _pairs(inst) > 7:
            continue
        problem, _ = joint_milp(inst, "max_coverage")
        lp = lp_relaxation(problem, EXACT)
        v = lp.x[problem.integrality] if lp is not None else np.zeros(0)
        if (np.abs(v - np.round(v)) > INTEGRAL_TOL).any():
            seeds.append(seed)
        if len(seeds) == count:
            return seeds
    raise AssertionError("too few tiny instances with a fractional LP")


@pytest.mark.parametrize("seed", _fractional_lp_instances(6))
def test_the_lp_guided_milp_is_the_best_plan_keeping_what_the_lp_holds(seed: int) -> None:
    inst = medium_instance(seed, tiny=True)
    problem, layout = joint_milp(inst, "max_coverage")
    lp = lp_relaxation(problem, EXACT)
    assert lp is not None
    ints = np.flatnonzero(problem.integrality)
    held = np.abs(lp.x[ints] - np.round(lp.x[ints])) <= INTEGRAL_TOL
    x, free = lp_guided_milp(problem, lp, EXACT, None)
    assert free == int((~held).sum()) > 0 and x is not None
    assert problem.max_violation(x) <= 1e-6 and np.array_equal(x[ints[held]], np.round(lp.x[ints[held]]))
    # brute force: every plan of the instance, as the model's columns, that keeps the held binaries
    kept = []
    for plan, met in joint_plans(inst):
        start = _warm_start(problem, layout, plan)
        if not met.violations and start is not None and np.array_equal(start[ints[held]], np.round(lp.x[ints[held]])):
            kept.append(problem.objective_value(start))
    assert kept and problem.objective_value(x) == pytest.approx(max(kept), abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_solve_joint_with_the_lp_first_keeps_the_optimum(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    inst = medium_instance(seed)
    plain = solve_joint(inst, "max_coverage", params=EXACT, tie_break=False)
    monkeypatch.setattr(joint_mod, "LP_FIRST_NONZEROS", 0)
    lines: list[str] = []
    first = solve_joint(inst, "max_coverage", params=EXACT, tie_break=False, progress=lines.append)
    assert first.status == Status.OPTIMAL and first.verified
    assert first.objective == pytest.approx(plain.objective, rel=1e-9)
    assert first.bound is not None and first.bound >= first.objective - 1e-6
    stage = first.stages[0]
    assert stage["lp_bound"] >= first.objective - 1e-6 and stage["fixed"] >= 0
    assert any(line.startswith("LP bound:") for line in lines)
    assert stage["lp_fractional"] >= 0 and isinstance(stage["lp_guided_milp"], bool)
    if 0 < stage["lp_fractional"]:
        assert any(line.startswith("LP-guided MILP over the") for line in lines)
