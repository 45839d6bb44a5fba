"""Every exact backend and every heuristic, through the public ``solve`` API, against brute force.

Instances are tiny (n <= 8 demand points, m <= 6 sites) so that enumerating every subset of
sites gives the true optimum. For each solve the plan is re-evaluated independently and the
reported objective must equal the evaluated one.
"""

from __future__ import annotations

import numpy as np
import pytest
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import Optimum, brute_optimum

from siting.models.errors import BackendUnavailableError, ScenarioError
from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.registry import EXACT_SOLVERS, get_backend
from siting.optimizer.result import SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve

INSTALLED = []
for _name in EXACT_SOLVERS:
    try:
        get_backend(_name)
        INSTALLED.append(_name)
    except BackendUnavailableError:
        pass

PARAMS = SolveParams(mip_gap=0.0, time_limit=30)
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def instances() -> st.SearchStrategy[SitingInstance]:
    """2-8 demand points, 2-6 sites, distances 0-20, weights 1-9, costs 1-5, some sites existing or
    forbidden; every entry drawn by hypothesis (tests/strategies.py), so a failure shrinks."""
    return strategies.instances(n=(2, 8), m=(2, 6), weights=(1, 9), costs=(1, 5))


def brute(inst: SitingInstance, spec: ModelSpec) -> Optimum:
    return brute_optimum(
        inst, spec.model, p=spec.p, budget=spec.budget, radius=spec.radius, lscp_objective=spec.lscp_objective
    )


def check(inst: SitingInstance, spec: ModelSpec, solver: str) -> None:
    res = solve(inst, spec, solver=solver, params=PARAMS)
    expected = brute(inst, spec).value
    assert res.status == Status.OPTIMAL, (solver, res.message)
    assert res.verified, res.message
    assert res.objective == pytest.approx(expected, abs=1e-6), (solver, spec)
    # the evaluator, called again here, agrees with what the engine reported
    met = evaluate(inst, res.open_sites, radius=spec.radius, p=spec.p, budget=spec.budget)
    assert not met.violations
    assert res.result.objective is None or res.result.objective == pytest.approx(res.objective, abs=1e-6)


def p_for(inst: SitingInstance, frac: float) -> int:
    free = int((inst.eligible & ~inst.existing).sum())
    return max(1, min(free, round(frac * free)))


@pytest.mark.parametrize("solver", INSTALLED)
@SETTINGS
@given(inst=instances(), frac=st.floats(0.1, 0.9))
def test_pmedian_equals_brute_force(solver: str, inst: SitingInstance, frac: float) -> None:
    formulations = ["classic", "radius"] + (["benders"] if solver == "highs" else [])
    for form in formulations:
        check(inst, ModelSpec("pmedian", p=p_for(inst, frac), formulation=form), solver)


@pytest.mark.parametrize("solver", INSTALLED)
@SETTINGS
@given(inst=instances(), frac=st.floats(0.1, 0.9), radius=st.integers(1, 15))
def test_mclp_equals_brute_force(solver: str, inst: SitingInstance, frac: float, radius: int) -> None:
    if not (inst.dense_distances()[:, inst.eligible & ~inst.existing] <= radius).any():
        return  # a radius covering nothing is a user error, tested in test_errors
    check(inst, ModelSpec("mclp", p=p_for(inst, frac), radius=float(radius)), solver)
    budget = float(inst.cost.max()) + 1.0
    check(inst, ModelSpec("mclp", budget=budget, radius=float(radius)), solver)


@pytest.mark.parametrize("solver", INSTALLED)
@SETTINGS
@given(inst=instances(), radius=st.integers(3, 15), objective=st.sampled_from(["cost", "count"]))
def test_lscp_equals_brute_force(solver: str, inst: SitingInstance, radius: int, objective: str) -> None:
    if not (inst.dense_distances()[:, inst.eligible & ~inst.existing] <= radius).any():
        return
    check(inst, ModelSpec("lscp", radius=float(radius), lscp_objective=objective), solver)  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", INSTALLED)
@SETTINGS
@given(inst=instances(), frac=st.floats(0.1, 0.9))
def test_pcenter_equals_brute_force(solver: str, inst: SitingInstance, frac: float) -> None:
    check(inst, ModelSpec("pcenter", p=p_for(inst, frac)), solver)


@pytest.mark.parametrize("method", ["greedy", "interchange", "lagrangian", "heuristic"])
@SETTINGS
@given(inst=instances(), frac=st.floats(0.1, 0.9), radius=st.integers(1, 15))
def test_heuristic_bounds_bracket_the_optimum(method: str, inst: SitingInstance, frac: float, radius: int) -> None:
    spec = ModelSpec("pmedian", p=p_for(inst, frac))
    opt = brute(inst, spec).value
    res = solve(inst, spec, solver=method)
    assert res.verified and res.objective is not None
    assert res.objective >= opt - 1e-6
    if res.bound is not None:
        assert res.bound <= opt + 1e-6
    if res.status == Status.OPTIMAL:
        assert res.objective == pytest.approx(opt)
    if not (inst.dense_distances()[:, inst.eligible & ~inst.existing] <= radius).any():
        return
    spec = ModelSpec("mclp", p=p_for(inst, frac), radius=float(radius))
    opt = brute(inst, spec).value
    res = solve(inst, spec, solver=method)
    assert res.verified and res.objective is not None
    assert res.objective <= opt + 1e-6
    if res.bound is not None:
        assert res.bound >= opt - 1e-6


def test_unknown_solver_is_a_clear_error() -> None:
    inst = SitingInstance(np.array([[0, 1], [1, 0]], dtype=np.float32))
    with pytest.raises(BackendUnavailableError, match="unknown solver 'hihgs'.*did you mean 'highs'"):
        solve(inst, ModelSpec("pmedian", p=1), solver="hihgs")


def test_p_larger_than_eligible_sites_is_a_clear_error() -> None:
    inst = SitingInstance(np.array([[0, 1], [1, 0]], dtype=np.float32), forbidden=np.array([False, True]))
    with pytest.raises(ScenarioError, match="p = 2 but only 1 new sites are eligible"):
        solve(inst, ModelSpec("pmedian", p=2))


def test_benders_matches_classic_on_a_seeded_medium_instance() -> None:
    """A 60 x 60 Euclidean instance: the default path and the classic form agree, both proven."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 1000, size=(60, 2))
    d = np.floor(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.float32)
    inst = SitingInstance(d, weights=rng.integers(1, 5, size=60).astype(float))
    for p in (3, 8):
        a = solve(inst, ModelSpec("pmedian", p=p), params=PARAMS)
        b = solve(inst, ModelSpec("pmedian", p=p, formulation="classic"), params=PARAMS)
        assert a.status == b.status == Status.OPTIMAL
        assert a.stats["formulation"] == "benders"
        assert a.objective == pytest.approx(b.objective)
        assert a.bound == pytest.approx(a.objective)


@pytest.mark.parametrize("model", ["mclp", "pmedian"])
def test_warm_start_is_a_complete_consistent_point(model: str) -> None:
    """The start handed to a MILP solver has the plan's own objective (regression: HiGHS once
    returned a start that set only the site columns, unchanged, as its optimum)."""
    from siting.models.formulations.mclp import mclp
    from siting.models.formulations.pmedian import pmedian_classic
    from siting.optimizer.solve import _heuristic_start, warm_vector

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, size=(80, 2))
    sites = rng.uniform(0, 2000, size=(25, 2))
    d = np.hypot(*(xy[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)).astype(np.float32)
    existing = np.zeros(25, dtype=bool)
    existing[:3] = True
    inst = SitingInstance(d, weights=rng.integers(1, 50, size=80).astype(float), existing=existing)
    spec = ModelSpec(model, p=4, radius=400.0 if model == "mclp" else None)  # type: ignore[arg-type]
    problem = mclp(inst, 400.0, p=4) if model == "mclp" else pmedian_classic(inst, p=4)
    start = _heuristic_start(inst, spec, None)
    assert start is not None
    x = warm_vector(problem, inst, spec, start)
    assert x is not None and problem.max_violation(x) <= 1e-6
    met = evaluate(inst, start, radius=spec.radius)
    expected = met.covered_weight if model == "mclp" else met.weighted_distance
    assert problem.objective_value(x) == pytest.approx(expected)
    warm = solve(inst, spec, params=PARAMS)
    cold = solve(inst, spec, params=SolveParams(mip_gap=0.0, options={"siting": {"warm_start": False}}))
    assert warm.status == cold.status == Status.OPTIMAL and warm.verified and cold.verified
    assert warm.objective == pytest.approx(cold.objective)


def test_default_pmedian_path_rejects_a_bad_highs_option() -> None:
    """The Benders master is configured by the highs backend's own code: same options, same checks."""
    inst = SitingInstance(np.random.default_rng(0).integers(0, 50, (20, 20)).astype(np.float32))
    with pytest.raises(ScenarioError, match="HiGHS rejected option 'no_such_option'"):
        solve(inst, ModelSpec("pmedian", p=3), params=SolveParams(options={"highs": {"no_such_option": 1}}))
