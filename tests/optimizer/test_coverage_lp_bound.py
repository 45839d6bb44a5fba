"""The MCLP's rigorous LP bound by PDLP + the Lagrangian dual: optimizer.coverage_lp_bound.

The bound (L) at any multipliers is checked against enumeration (every plan, and every plan with one
site forced open or closed) on hypothesis instances; the PDLP bound against the simplex LP optimum
and the LP point value below it; the Benders path with PDLP forced on against brute force; and a
seeded medium city against the compact formulation.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import REPO

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer import coverage_benders
from siting.optimizer.coverage_benders import mclp_master, solve_mclp_benders
from siting.optimizer.coverage_lp_bound import clip_to_sites, compact_lp, coverage_lp, dual_bound
from siting.optimizer.result import SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve

sys.path.insert(0, str(REPO / "benchmarks"))
from city_instances import city_instance
from oracles import feasible_plans
from strategies import coverage_instances

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
PROVE = SolveParams(mip_gap=0.0, time_limit=30)


def _quiet(_msg: str) -> None:
    pass


def _master(inst: SitingInstance, radius: float, p: int | None, budget: float | None):  # type: ignore[no-untyped-def]
    return mclp_master(inst, radius, p, budget, np.zeros(inst.m, dtype=bool))


def _plans(inst: SitingInstance, radius: float, p: int | None, budget: float | None) -> list[tuple[np.ndarray, float]]:
    out = []
    for mask in feasible_plans(inst, p, budget):
        out.append((mask, float(evaluate(inst, mask, radius=radius).covered_weight or 0.0)))
    return out


def _simplex_lp(master) -> float:  # type: ignore[no-untyped-def]
    import highspy

    lp, _ = compact_lp(master)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.run()
    return float(h.getInfo().objective_function_value) + master.offset


def _usable(inst: SitingInstance, radius: float) -> bool:
    new = inst.eligible & ~inst.existing
    return bool(new.any()) and bool((inst.dense_distances()[:, new] <= radius).any())


def _usable_master(inst: SitingInstance, radius: float, p: int | None, budget: float | None):  # type: ignore[no-untyped-def]
    """The master of an instance where a new site covers something and some row is left; else None."""
    if not _usable(inst, radius):
        return None
    master = _master(inst, radius, p, budget)
    return master if master.A.shape[0] else None


@SETTINGS
@given(
    inst=coverage_instances(),
    radius=st.integers(3, 15),
    p=st.integers(1, 3),
    use_budget=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_dual_bound_is_above_every_plan_at_any_multipliers(
    inst: SitingInstance, radius: int, p: int, use_budget: bool, seed: int
) -> None:
    """L at random multipliers (some beyond [0, w], negative mu) bounds every plan, and its per-site
    values bound every plan with that site forced open / closed."""
    budget = 6.0 if use_budget else None
    master = _usable_master(inst, radius, p, budget)
    if master is None:
        return
    rng = np.random.default_rng(seed)
    plans = _plans(inst, radius, p, budget)
    for _ in range(4):
        lam = rng.uniform(-0.5, 1.5, master.w.size) * master.w
        mu, nu = rng.uniform(-50, 200), rng.uniform(-50, 200)
        got = dual_bound(master, lam, mu=mu, nu=nu)
        best = max(v for _, v in plans)
        assert got.bound >= best - 1e-7
        for j in np.flatnonzero(master.upper > 0):
            with_j = [v for mask, v in plans if mask[j]]
            without_j = [v for mask, v in plans if not mask[j]]
            if with_j:
                assert got.at1[j] >= max(with_j) - 1e-7
            if without_j:
                assert got.at0[j] >= max(without_j) - 1e-7


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), p=st.integers(1, 3), use_budget=st.booleans())
def test_pdlp_bound_brackets_the_lp_optimum(inst: SitingInstance, radius: int, p: int, use_budget: bool) -> None:
    """f(y) <= LP optimum (simplex) <= L from PDLP's multipliers; and L is above every plan."""
    budget = 6.0 if use_budget else None
    master = _usable_master(inst, radius, p, budget)
    if master is None:
        return
    out = coverage_lp(master, seconds=10.0, params=SolveParams(threads=1).started())
    lp = _simplex_lp(master)
    tol = 1e-6 * max(1.0, lp)
    assert out.dual is not None and out.bound >= lp - tol
    assert out.point <= lp + tol
    assert out.bound >= max(v for _, v in _plans(inst, radius, p, budget)) - 1e-7


def test_clip_to_sites_lands_in_the_site_polytope() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        m = 12
        lower = (rng.random(m) < 0.2).astype(float)
        upper = np.maximum(lower, (rng.random(m) < 0.8).astype(float))
        p = int(rng.integers(0, 6))
        y = clip_to_sites(rng.uniform(-0.5, 1.5, m), lower, upper, p)
        assert (y >= lower - 1e-12).all() and (y <= upper + 1e-12).all()
        fixed = float(lower[upper > 0].sum())
        assert y[(upper > 0)].sum() <= max(p, fixed) + 1e-9


@pytest.fixture
def pdlp_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """PDLP on every master, however small or short the time (the city-scale path on tiny cases)."""
    monkeypatch.setattr(coverage_benders, "_PDLP_MIN_ROWS", 0)
    monkeypatch.setattr(coverage_benders, "_PDLP_MIN_SECONDS", 0.0)


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), p=st.integers(1, 3), use_budget=st.booleans())
def test_benders_with_pdlp_equals_brute_force(
    pdlp_always: None, inst: SitingInstance, radius: int, p: int, use_budget: bool
) -> None:
    if not _usable(inst, radius):
        return
    budget = 6.0 if use_budget else None
    n_new = int((inst.eligible & ~inst.existing).sum())
    p = min(p, n_new)
    empty = inst.existing.copy()
    base = float(inst.weights[(inst.dense_distances()[:, empty] <= radius).any(axis=1)].sum())
    out = solve_mclp_benders(
        inst, radius, p, budget, np.zeros(inst.m, dtype=bool), empty, base, 0.0, PROVE.started(), _quiet
    )
    want = max(v for _, v in _plans(inst, radius, p, budget))
    assert out.closed
    assert out.value == pytest.approx(want)
    assert out.bound >= want - 1e-6
    assert evaluate(inst, out.mask, radius=radius).covered_weight == pytest.approx(want)


def test_medium_city_benders_with_pdlp_agrees_with_compact(pdlp_always: None) -> None:
    """A seeded 1,500 x 150 city: Benders with the PDLP start, from the empty plan, proves the compact
    MILP's optimum, and the PDLP bound lies above it."""
    inst = city_instance(1_500, 150, seed=5, cutoff=900.0)
    want = solve(inst, ModelSpec("mclp", p=8, radius=900.0, formulation="compact"), "highs", PROVE)
    assert want.status == Status.OPTIMAL
    empty = np.zeros(inst.m, dtype=bool)
    out = solve_mclp_benders(inst, 900.0, 8, None, empty, empty, 0.0, 1.0, PROVE.started(), _quiet)
    assert out.closed and out.value == pytest.approx(want.objective)
    assert out.rounds["pdlp"]["bound"] >= want.objective - 1e-6
    assert out.rounds["pdlp"]["point"] <= out.rounds["pdlp"]["bound"] + 1e-6
    assert evaluate(inst, out.mask, radius=900.0).covered_weight == pytest.approx(want.objective)


@pytest.mark.parametrize("limit", [0.5, 3.0])
def test_time_limited_benders_with_pdlp_keeps_the_limit_and_a_valid_bound(pdlp_always: None, limit: float) -> None:
    """PDLP inside the Benders path under a short limit, from the empty plan: the deadline holds,
    the bound stays above the compact MILP's optimum, the plan below it and never below the start."""
    import time

    inst = city_instance(3_000, 300, seed=6, cutoff=500.0)
    exact = solve(inst, ModelSpec("mclp", p=6, radius=500.0, formulation="compact"), "highs", PROVE)
    assert exact.status == Status.OPTIMAL
    empty = np.zeros(inst.m, dtype=bool)
    t0 = time.monotonic()
    params = SolveParams(mip_gap=0.0, time_limit=limit).started()
    out = solve_mclp_benders(inst, 500.0, 6, None, empty, empty, 0.0, 1.0, params, _quiet)
    assert time.monotonic() - t0 < limit + 5.0  # slack for a loaded machine
    assert 0.0 <= out.value <= exact.objective + 1e-6
    assert out.bound >= exact.objective - 1e-6
    assert evaluate(inst, out.mask, radius=500.0).covered_weight == pytest.approx(out.value)
    if limit >= 3.0:
        assert "pdlp" in out.rounds  # the PDLP start ran


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), p=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_lagrangian_cuts_are_valid_and_hold_the_master_below_the_dual_bound(
    inst: SitingInstance, radius: int, p: int, seed: int
) -> None:
    """The per-group cuts of any multipliers lie above every group's coverage at every y in [0, 1]^m,
    and the master LP with them alone is at most (L) at those multipliers."""
    import highspy

    from siting.optimizer.backends.highs import pass_problem

    master = _usable_master(inst, radius, p, None)
    if master is None:
        return
    rng = np.random.default_rng(seed)
    lam = rng.uniform(-0.3, 1.3, master.w.size) * master.w
    cuts = master.lagrangian_cuts(lam)
    for _ in range(5):
        y = rng.random(inst.m) * (rng.random(inst.m) < 0.6)
        true = np.bincount(master.group, weights=master.w * np.minimum(master.A @ y, 1.0), minlength=master.K)
        for cut in cuts:
            assert cut.const + cut.coef @ y[cut.sites] >= true[cut.group] - 1e-9
    master.cuts.extend(cuts)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    pass_problem(h, master.problem(integer=False))
    h.run()
    lp = float(h.getInfo().objective_function_value)
    got = dual_bound(master, lam)
    assert lp <= got.bound + 1e-6 * max(1.0, got.bound)
