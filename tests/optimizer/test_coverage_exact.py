"""The reduced exact path for MCLP / LSCP (optimizer.coverage_exact) and the KD-tree distances.

Brute force on hypothesis instances (n <= 10, m <= 7), agreement with the compact formulation on
a seeded medium instance, honest bounds under a time limit, and the sparse cutoff build against
dense Euclidean distances.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import REPO

from siting.models.evaluate import evaluate
from siting.models.formulations.lscp import covering_rows, new_eligible
from siting.models.formulations.mclp import mclp
from siting.models.instance import SitingInstance
from siting.models.sparse_distances import within_radius
from siting.optimizer.coverage_exact import dominated_sites, lagrangian_bound, solve_coverage
from siting.optimizer.result import Limit, SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve

sys.path.insert(0, str(REPO / "benchmarks"))
from city_instances import city_instance, city_points, write_city_csv
from clocks import spent
from oracles import brute_lscp, brute_mclp
from strategies import coverage_instances

PROVE = SolveParams(mip_gap=0.0, time_limit=30)
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("solver", ["highs", "scip"])  # scip: the last branch and bound on SCIP
@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), p=st.integers(1, 3), use_budget=st.booleans())
def test_mclp_reduced_equals_brute_force(
    inst: SitingInstance, radius: int, p: int, use_budget: bool, solver: str
) -> None:
    budget = 6.0 if use_budget else None
    n_new = int((inst.eligible & ~inst.existing).sum())
    if n_new == 0 or not covering_rows(inst, radius)[3].__invert__().any():
        return
    res = solve(
        inst, ModelSpec("mclp", p=min(p, n_new), radius=radius, budget=budget, formulation="reduced"), solver, PROVE
    )
    assert res.stats["formulation"] == "mclp-reduced"
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(brute_mclp(inst, radius, min(p, n_new), budget))
    assert res.bound is not None and res.bound >= res.objective - 1e-9


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(1, 15), objective=st.sampled_from(["cost", "count"]))
def test_lscp_reduced_equals_brute_force(inst: SitingInstance, radius: int, objective: str) -> None:
    res = solve(inst, ModelSpec("lscp", radius=radius, lscp_objective=objective, formulation="reduced"), "highs", PROVE)  # type: ignore[arg-type]
    assert res.status == Status.OPTIMAL and res.verified
    assert res.objective == pytest.approx(brute_lscp(inst, radius, objective))


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), use_cost=st.booleans())
def test_dominated_sites_keep_an_optimal_plan(inst: SitingInstance, radius: int, use_cost: bool) -> None:
    """Closing every dominated site never lowers the MCLP optimum (p and budget)."""
    cover, _, _, _ = covering_rows(inst, radius)
    dom = dominated_sites(cover, inst.cost if use_cost else None, new_eligible(inst))
    if dom.all() or not (new_eligible(inst) & ~dom).any():
        return
    reduced = SitingInstance(
        inst.distances, weights=inst.weights, cost=inst.cost, existing=inst.existing, forbidden=inst.forbidden | dom
    )
    budget = 5.0 if use_cost else None
    assert brute_mclp(reduced, radius, 2, budget) == brute_mclp(inst, radius, 2, budget)


@SETTINGS
@given(inst=coverage_instances(), radius=st.integers(3, 15), seed=st.integers(0, 1000))
def test_lagrangian_bound_is_valid_for_any_duals(inst: SitingInstance, radius: int, seed: int) -> None:
    """Bound (L) with arbitrary multipliers is never below the optimum, also with a site forced."""
    if not (~covering_rows(inst, radius)[3]).any() or not new_eligible(inst).any():
        return
    problem = mclp(inst, radius, p=2)
    duals = np.random.default_rng(seed).uniform(-3, 3, size=problem.num_rows)
    bound, at0, at1 = lagrangian_bound(problem, duals)
    assert bound >= brute_mclp(inst, radius, 2, None) - 1e-9
    j = int(np.flatnonzero(new_eligible(inst))[0])
    forced = SitingInstance(
        inst.distances,
        weights=inst.weights,
        cost=inst.cost,
        existing=inst.existing | (np.arange(inst.m) == j),
        forbidden=inst.forbidden,
    )
    assert at1[j] >= brute_mclp(forced, radius, 1, None) - 1e-9
    closed = SitingInstance(
        inst.distances,
        weights=inst.weights,
        cost=inst.cost,
        existing=inst.existing,
        forbidden=inst.forbidden | (np.arange(inst.m) == j),
    )
    assert at0[j] >= brute_mclp(closed, radius, 2, None) - 1e-9


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_reduced_equals_compact_on_a_medium_city(solver: str) -> None:
    inst = city_instance(2_000, 200, seed=7, cutoff=600.0)
    spec = ModelSpec("mclp", p=8, radius=600.0, formulation="reduced")
    new = solve(inst, spec, solver, PROVE)
    old = solve(inst, ModelSpec("mclp", p=8, radius=600.0, formulation="compact"), "highs", PROVE)
    heur = solve(inst, ModelSpec("mclp", p=8, radius=600.0), "heuristic", PROVE)
    assert new.status == old.status == Status.OPTIMAL
    assert new.objective == pytest.approx(old.objective)
    assert heur.objective <= new.objective + 1e-9
    assert new.verified and new.stats["heuristic_objective"] <= new.objective
    assert new.solver == new.stats.get("prover", "highs")  # named after the solver of its branch and bound, if any
    lnew = solve(inst, ModelSpec("lscp", radius=600.0, formulation="reduced"), solver, PROVE)
    lold = solve(inst, ModelSpec("lscp", radius=600.0, formulation="compact"), "highs", PROVE)
    assert lnew.status == lold.status == Status.OPTIMAL
    assert lnew.objective == pytest.approx(lold.objective)


@pytest.mark.parametrize("solver", ["highs", "scip"])
def test_the_reduced_mclp_proves_by_branch_and_bound_on_either_solver(solver: str) -> None:
    """A city where the LP and the fixing leave a branch and bound to run (3,000 x 500, p = 40)."""
    inst = city_instance(3_000, 500, seed=1, cutoff=500.0)
    new = solve(inst, ModelSpec("mclp", p=40, radius=500.0, formulation="reduced"), solver, PROVE)
    old = solve(inst, ModelSpec("mclp", p=40, radius=500.0, formulation="compact"), "highs", PROVE)
    assert new.status == old.status == Status.OPTIMAL and new.verified
    assert new.objective == pytest.approx(old.objective)
    assert new.stats["prover"] == solver and new.stats["milp"]["status"] == "OPTIMAL"  # its branch and bound ran
    assert new.solver == solver


def test_a_spent_budget_stops_the_reduced_path_with_a_valid_bound() -> None:
    """The shared budget is spent before the search starts (a fake clock past the deadline): the
    greedy start comes back FEASIBLE on the time limit, with a bound that holds. The control, the
    same model with time, is proven optimal, so the stop is the deadline's doing: this cannot pass
    vacuously on a fast machine."""
    inst = city_instance(3_000, 300, seed=3, cutoff=500.0)
    exact = solve(inst, ModelSpec("mclp", p=12, radius=500.0, formulation="compact"), "highs", PROVE)
    assert exact.status == Status.OPTIMAL
    res, mask, stats = solve_coverage(inst, "mclp", 500.0, p=12, params=spent(mip_gap=0.0))
    assert (res.status, res.limit) == (Status.FEASIBLE, Limit.TIME), res.message
    assert res.objective == stats["heuristic_objective"]  # nothing ran after the start
    assert res.objective <= exact.objective + 1e-9
    assert res.bound >= exact.objective - 1e-6
    assert evaluate(inst, mask, radius=500.0).covered_weight == pytest.approx(res.objective)


def test_within_radius_matches_dense_euclidean() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.uniform(0, 3000, size=(700, 2)), rng.uniform(0, 3000, size=(90, 2))
    b[0] = a[0] + [400.0, 0.0]  # a pair exactly on the radius
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)).astype(np.float32)
    got = within_radius(a, b, 400.0)
    assert sp.issparse(got) and got.dtype == np.float32
    dense_cov = d <= 400.0 + 1e-6
    got_cov = np.zeros_like(dense_cov)
    coo = sp.coo_array(got)
    got_cov[coo.row, coo.col] = coo.data <= 400.0 + 1e-6
    assert (got_cov == dense_cov).all()
    np.testing.assert_allclose(coo.data, d[coo.row, coo.col], rtol=1e-6)


def test_csv_solve_uses_the_cutoff_and_agrees_with_dense(tmp_path: Path) -> None:
    from siting.scenarios.research.readers import read_csv_instance

    dpath, spath = write_city_csv(1_500, 120, seed=5, out=tmp_path)
    dense = read_csv_instance(dpath, spath)
    sparse = read_csv_instance(dpath, spath, cutoff=700.0)
    assert sparse.is_sparse and not dense.is_sparse
    assert sparse.distances.nnz < 0.2 * sparse.n * sparse.m
    spec = ModelSpec("mclp", p=5, radius=700.0, formulation="reduced")
    assert solve(sparse, spec, "highs", PROVE).objective == pytest.approx(solve(dense, spec, "highs", PROVE).objective)


def test_city_generator_is_seeded_and_shaped() -> None:
    a, b, c = city_points(5_000, 100, 1), city_points(5_000, 100, 1), city_points(5_000, 100, 2)
    np.testing.assert_array_equal(a.demand_xy, b.demand_xy)
    assert not np.array_equal(a.demand_xy, c.demand_xy)
    assert a.demand_xy.min() >= 0 and a.demand_xy.max() <= 10_000
    assert a.weights.min() >= 1 and a.weights.max() <= 200 and (a.weights == np.round(a.weights)).all()
    assert a.cost.min() >= 0.5 and a.cost.max() <= 3.0


def test_within_radius_refuses_degrees_and_oversized_builds() -> None:
    from siting.models.errors import DataError

    rng = np.random.default_rng(4)
    lonlat = rng.uniform([109.7, 39.6], [109.9, 39.8], size=(200, 2))
    with pytest.raises(DataError, match=r"look like degrees .* project the points to a metric CRS"):
        within_radius(lonlat, lonlat[:20], 500.0)
    metres = rng.uniform(0, 10_000, size=(5_000, 2))
    with pytest.raises(
        DataError, match=r"about [\d,]+ pairs and need about .* [GM]B, over the 0\.1 MB .*reduce the radius"
    ):
        within_radius(metres, metres[:300], 800.0, max_bytes=1e5)


def test_cli_radius_covering_nothing_is_one_clear_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from siting.cli import app

    dpath, spath = write_city_csv(300, 20, seed=2, out=tmp_path)
    args = ["solve", "--demand", str(dpath), "--sites", str(spath), "--model", "mclp", "--radius", "0.001", "--p", "2"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 1
    assert "covers no demand point" in out.output and "Traceback" not in out.output


def test_within_radius_in_many_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few points each, and a pair estimate far too small (the output grows): the
    same CSR as the build in one block, int32 indices, columns sorted in every row."""
    import siting.models.sparse_distances as sd

    rng = np.random.default_rng(3)
    a, b = rng.uniform(0, 4000, size=(2_500, 2)), rng.uniform(0, 4000, size=(120, 2))
    whole = within_radius(a, b, 600.0)
    monkeypatch.setattr(sd, "_BLOCK_PAIRS", 50)
    monkeypatch.setattr(sd, "_SAMPLE", 3)  # a tiny sample: the estimate misses, the buffers grow
    parts = within_radius(a, b, 600.0)
    assert parts.indices.dtype == np.int32 and parts.has_sorted_indices
    assert (parts != whole).nnz == 0 and parts.nnz == whole.nnz
    np.testing.assert_array_equal(parts.indptr, whole.indptr)
    np.testing.assert_array_equal(parts.indices, whole.indices)
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2))
    assert parts.nnz == int((d <= 600.0).sum())
