"""Formulations (MCLP, LSCP, p-median classic / radius / capacitated, p-center) against brute force.

Every instance is small (n <= 8 demand points, m <= 6 sites, integer distances 0..20, some pairs
unreachable, random weights, costs, existing and forbidden sites) and drawn entry by entry by
hypothesis (``tests/strategies.py``, derandomized), so a failing case shrinks to a small one. The
brute force (``tests/oracles.py``) enumerates every set of new sites and scores it with the
independent evaluator, so it shares no code with the formulations. Every solve is also re-checked: ``evaluate`` of the solver's plan gives the solver's
objective.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import time
from typing import Any
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import strategies
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from oracles import feasible_plans
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from siting.models.errors import BackendUnavailableError, DataError, InfeasibleError, ScenarioError
from siting.models.evaluate import evaluate
from siting.models.formulations.lscp import lscp, merge_identical_rows, uncoverable
from siting.models.formulations.mclp import mclp
from siting.models.formulations.pmedian import pmedian_capacitated, pmedian_classic, pmedian_radius
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.pcenter import solve_pcenter
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status

INF = np.inf
TOL = 1e-6
PARAMS = SolveParams(mip_gap=0.0)
FAST = settings(max_examples=40, deadline=None, derandomize=True)


# --------------------------------------------------------------------------- solver for the tests
class _ScipyBackend:
    """Fallback backend (scipy.optimize.milp, which is HiGHS) if the project's one is missing."""

    name = "scipy-milp"

    def available(self) -> bool:
        return True

    def version(self) -> str:
        import scipy

        return scipy.__version__

    def solve(self, problem: MilpProblem, params: SolveParams, warm_start: Any = None) -> SolveResult:
        t0 = time.perf_counter()
        sign = 1.0 if problem.sense == "min" else -1.0
        cons = [LinearConstraint(problem.A, problem.row_lower, problem.row_upper)] if problem.num_rows else []
        res = milp(
            sign * problem.c,
            constraints=cons,
            integrality=problem.integrality.astype(int),
            bounds=Bounds(problem.col_lower, problem.col_upper),
            options={"mip_rel_gap": params.mip_gap, "time_limit": params.time_limit or 1e9},
        )
        if res.status == 2:
            return SolveResult(Status.INFEASIBLE, self.name, seconds=time.perf_counter() - t0)
        assert res.status == 0, res.message
        x = np.asarray(res.x, dtype=np.float64)
        x[problem.integrality] = np.round(x[problem.integrality])
        obj = problem.objective_value(x)
        return SolveResult(
            Status.OPTIMAL, self.name, objective=obj, bound=obj, gap=0.0, x=x, seconds=time.perf_counter() - t0
        )


def _backend() -> Any:
    try:
        from siting.optimizer.registry import get_backend

        return get_backend("highs")
    except (ImportError, BackendUnavailableError):  # scipy's milp runs HiGHS too
        return _ScipyBackend()


BACKEND = _backend()


def solve(problem: MilpProblem) -> SolveResult:
    res = BACKEND.solve(problem, PARAMS)
    if res.status.has_solution:
        assert res.status == Status.OPTIMAL
        assert problem.max_violation(res.x) < 1e-6
        assert res.objective == pytest.approx(problem.objective_value(res.x), abs=TOL)
    return res


# --------------------------------------------------------------------------------- instances
def instances(
    n_max: int = 8, m_max: int = 6, min_weight: int = 0, capacity: bool = False
) -> st.SearchStrategy[SitingInstance]:
    """Small instances drawn entry by entry (tests/strategies.py): integer distances 0..20, some
    pairs unreachable, dense or CSR (only finite pairs, zeros kept), weights ``min_weight``..5,
    costs 1..5, some sites existing or forbidden (possibly none new), capacities 3..15 or none."""
    return strategies.instances(
        n=(1, n_max),
        m=(1, m_max),
        weights=(min_weight, 5),
        costs=(1, 5),
        min_new=0,
        unreachable=True,
        sparse=None,
        capacities=(3, 15) if capacity else None,
    )


def new_sites(inst: SitingInstance) -> NDArray[np.int64]:
    return np.flatnonzero(~inst.existing & ~inst.forbidden)


# ------------------------------------------------------------------------------------- MCLP
@FAST
@given(data=st.data())
def test_mclp_matches_brute_force(data: st.DataObject) -> None:
    inst = data.draw(instances(), label="instance")
    radius = float(data.draw(st.integers(1, 20), label="radius"))
    p, budget = data.draw(strategies.limits(inst))
    if uncoverable(inst, radius).all():
        event("no coverage")
        with pytest.raises(ScenarioError, match="covers no demand point"):
            mclp(inst, radius, p=p, budget=budget)
        return
    problem = mclp(inst, radius, p=p, budget=budget)
    event(f"solved, {int(inst.existing.any())} existing, rows merged: {problem.num_vars - inst.m < inst.n}")
    res = solve(problem)
    best = max(evaluate(inst, mask, radius=radius).covered_weight for mask in feasible_plans(inst, p, budget))
    assert res.objective == pytest.approx(best, abs=TOL)
    metrics = evaluate(inst, problem.open_sites(res.x), radius=radius, p=p, budget=budget)
    assert metrics.violations == []
    assert metrics.covered_weight == pytest.approx(res.objective, abs=TOL)


@FAST
@given(data=st.data())
def test_mclp_merging_keeps_objective(data: st.DataObject) -> None:
    """Duplicating every demand point (weights split) leaves the rows and the optimum unchanged."""
    inst = data.draw(instances(), label="instance")
    radius = float(data.draw(st.integers(5, 20), label="radius"))
    if uncoverable(inst, radius).all():
        return
    d = inst.dense_distances()
    share = data.draw(hnp.arrays(np.float64, inst.n, elements=st.floats(0.0, 1.0, width=16)), label="share")
    twin = SitingInstance(
        np.vstack([d, d]),
        weights=np.concatenate([inst.weights * share, inst.weights * (1 - share)]),
        cost=inst.cost,
        existing=inst.existing,
        forbidden=inst.forbidden,
    )
    p = data.draw(st.integers(0, inst.m), label="p")
    a, b = mclp(inst, radius, p=p), mclp(twin, radius, p=p)
    assert (a.num_vars, a.num_rows) == (b.num_vars, b.num_rows)
    assert solve(a).objective == pytest.approx(solve(b).objective, abs=1e-6)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_merge_identical_rows_matches_python_reference(data: st.DataObject) -> None:
    k, m = data.draw(st.integers(0, 29), label="rows"), data.draw(st.integers(1, 5), label="columns")
    a = sp.csr_array(data.draw(hnp.arrays(np.bool_, (k, m)), label="matrix"))
    group, first = merge_identical_rows(a)
    dense = a.toarray()
    seen: dict[tuple[bool, ...], int] = {}
    expected = [seen.setdefault(tuple(row), len(seen)) for row in dense]  # first-appearance numbering
    assert group.tolist() == expected
    assert first.tolist() == [expected.index(g) for g in range(len(seen))]


# ------------------------------------------------------------------------------------- LSCP
@FAST
@given(data=st.data())
def test_lscp_matches_brute_force(data: st.DataObject) -> None:
    inst = data.draw(instances(), label="instance")
    radius = float(data.draw(st.integers(0, 13), label="radius"))
    objective = data.draw(st.sampled_from(["cost", "count"]), label="objective")
    # uncoverable: no eligible site (all of them open) reaches the point within R
    everything = evaluate(inst, ~inst.forbidden, radius=radius)
    unc = uncoverable(inst, radius)
    assert np.array_equal(unc, ~everything.covered)
    must = (inst.weights > 0) & ~unc
    problem = lscp(inst, radius, objective=objective)
    event(f"{problem.num_rows} rows, {int(unc.any())} uncoverable, {int(inst.existing.any())} existing")
    res = solve(problem)

    def score(mt: Any) -> float:
        return mt.cost if objective == "cost" else float(mt.n_new)

    best = min(
        score(mt)
        for mt in (evaluate(inst, mask, radius=radius) for mask in feasible_plans(inst))
        if mt.covered[must].all()
    )
    assert res.objective == pytest.approx(best, abs=TOL)
    metrics = evaluate(inst, problem.open_sites(res.x), radius=radius)
    assert metrics.violations == []
    assert metrics.covered[must].all()
    assert score(metrics) == pytest.approx(res.objective, abs=TOL)


# ----------------------------------------------------------------------------------- p-median
def _weighted_unreachable(inst: SitingInstance) -> bool:
    return bool((~np.isfinite(evaluate(inst, ~inst.forbidden).nearest_distance) & (inst.weights > 0)).any())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_pmedian_classic_and_radius_match_brute_force(data: st.DataObject) -> None:
    inst = data.draw(instances(), label="instance")
    if new_sites(inst).size == 0:
        event("no new site")
        with pytest.raises(ScenarioError, match="only 0 sites are eligible"):
            pmedian_classic(inst, p=1)
        return
    p, budget = data.draw(strategies.limits(inst, min_p=1))
    if _weighted_unreachable(inst):
        event("unreachable demand")
        with pytest.raises(DataError, match="can reach no eligible or existing site"):
            pmedian_radius(inst, p=p, budget=budget)
        return
    best = min(evaluate(inst, mask).weighted_distance for mask in feasible_plans(inst, p, budget))
    problems = [pmedian_classic(inst, p, budget)] + [
        pmedian_radius(inst, p, budget, form=f) for f in ("chained", "cumulative")
    ]
    for problem in problems:
        res = solve(problem)
        if not np.isfinite(best):  # no plan within the limits reaches every weighted point
            event("infeasible limits")
            assert res.status == Status.INFEASIBLE, problem.name
            continue
        assert res.objective == pytest.approx(best, abs=TOL), problem.name
        event(f"{problem.name.split()[0]} solved, p={p is not None}, budget={budget is not None}")
        metrics = evaluate(inst, problem.open_sites(res.x), p=p, budget=budget)
        assert metrics.violations == []
        assert metrics.weighted_distance == pytest.approx(res.objective, abs=TOL)
        if problem.assignment is not None and inst.total_weight > 0:  # (an empty assignment trips evaluate)
            assign = problem.assignment_matrix(res.x, (inst.n, inst.m))
            assert evaluate(inst, metrics.open_sites, assignment=assign).assigned_distance == pytest.approx(
                res.objective, abs=TOL
            )


@FAST
@given(data=st.data())
def test_radius_forms_have_the_same_lp_bound(data: st.DataObject) -> None:
    """Cumulative and chained (1) give the same LP relaxation (the docstring's claim)."""
    inst = data.draw(instances(), label="instance")
    if new_sites(inst).size == 0 or _weighted_unreachable(inst):
        return
    p, budget = data.draw(strategies.limits(inst, min_p=1))
    values = [_lp(pmedian_radius(inst, p, budget, form=form)) for form in ("chained", "cumulative")]
    if values[0] is None:
        assert values[1] is None
    else:
        assert values[0] == pytest.approx(values[1], abs=1e-7)


def _lp(problem: MilpProblem) -> float | None:
    relaxed = dataclasses.replace(problem, integrality=np.zeros(problem.num_vars, dtype=bool))
    res = BACKEND.solve(relaxed, PARAMS)
    return None if res.status == Status.INFEASIBLE else res.objective


def _best_capacitated(inst: SitingInstance, mask: NDArray[np.bool_], split: bool) -> float:
    """Exact cheapest assignment of the demand to the open sites of ``mask`` under capacities."""
    d = inst.dense_distances()
    w = inst.weights
    sites = np.flatnonzero(mask)
    if split:  # transportation LP: x_ij >= 0 on reachable open pairs, rows sum to 1, loads <= cap
        pairs = [(i, j) for i in range(inst.n) for j in sites if np.isfinite(d[i, j])]
        if not pairs:
            return INF
        c = np.array([w[i] * d[i, j] for i, j in pairs])
        a_eq = np.array([[1.0 if i == k else 0.0 for i, _ in pairs] for k in range(inst.n)])
        a_ub = np.array([[w[i] if j == s else 0.0 for i, j in pairs] for s in sites])
        caps = np.where(np.isfinite(inst.capacity[sites]), inst.capacity[sites], 1e9)
        res = linprog(c, A_ub=a_ub, b_ub=caps, A_eq=a_eq, b_eq=np.ones(inst.n), bounds=(0, 1))
        return float(res.fun) if res.status == 0 else INF
    best = INF
    options = [[j for j in sites if np.isfinite(d[i, j])] for i in range(inst.n)]
    for choice in itertools.product(*options):
        load = np.bincount(choice, weights=w, minlength=inst.m) if choice else np.zeros(inst.m)
        if (load <= inst.capacity + TOL).all():
            best = min(best, float(sum(w[i] * d[i, j] for i, j in enumerate(choice))))
    return best


@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_pmedian_capacitated_matches_brute_force(data: st.DataObject) -> None:
    inst = data.draw(instances(n_max=5, m_max=4, min_weight=1, capacity=True), label="instance")
    split = data.draw(st.booleans(), label="split")
    if new_sites(inst).size == 0 or _weighted_unreachable(inst):
        return
    p, budget = data.draw(strategies.limits(inst, min_p=1))
    if inst.capacity[~inst.forbidden].sum() < inst.total_weight:
        event("capacity below demand")
        with pytest.raises(InfeasibleError, match="total capacity"):
            pmedian_capacitated(inst, p, budget, allow_split=split)
        return
    best = min(_best_capacitated(inst, mask, split) for mask in feasible_plans(inst, p, budget))
    problem = pmedian_capacitated(inst, p, budget, allow_split=split)
    res = solve(problem)
    if not np.isfinite(best):
        event("infeasible")
        assert res.status == Status.INFEASIBLE
        return
    event(f"solved, split={split}")
    assert res.objective == pytest.approx(best, abs=1e-5)
    assign = problem.assignment_matrix(res.x, (inst.n, inst.m))
    metrics = evaluate(inst, problem.open_sites(res.x), p=p, budget=budget, assignment=assign, split_allowed=split)
    assert metrics.violations == []
    assert metrics.assigned_distance == pytest.approx(res.objective, abs=1e-5)


# ----------------------------------------------------------------------------------- p-center
@FAST
@given(data=st.data())
def test_pcenter_matches_brute_force(data: st.DataObject) -> None:
    inst = data.draw(instances(n_max=10, m_max=7), label="instance")
    n_new = new_sites(inst).size
    if n_new == 0 or _weighted_unreachable(inst):
        return
    p = data.draw(st.integers(1, n_new), label="p")
    best = min(evaluate(inst, mask).max_distance for mask in feasible_plans(inst, p))
    if not np.isfinite(best):
        event("infeasible")
        with pytest.raises(InfeasibleError, match=f"p = {p} new sites"):
            solve_pcenter(inst, p, BACKEND, PARAMS)
        return
    # the real greedy start, and a useless one (existing sites only) that makes the search walk
    for start in (None, lambda instance, p: instance.existing.copy()):
        with contextlib.ExitStack() as stack:
            if start is not None:
                stack.enter_context(mock.patch("siting.optimizer.pcenter.greedy_pcenter", start))
            radius, open_sites, res, stats = solve_pcenter(inst, p, BACKEND, PARAMS)
        event(f"{'greedy' if start is None else 'no greedy'}: solved in {min(stats['steps'], 2)}+ steps")
        assert radius == pytest.approx(best, abs=TOL)
        assert res.status == Status.OPTIMAL
        assert res.objective == res.bound == radius
        metrics = evaluate(inst, open_sites, p=p)
        assert metrics.violations == []
        assert metrics.max_distance == pytest.approx(radius, abs=TOL)
        assert stats["steps"] == len(stats["radii"])
        assert stats["lower"] <= radius


class _NoProofBackend:
    """Wraps the test backend and hides every proof: solutions come back FEASIBLE without a bound."""

    name = "no-proof"

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return "0"

    def solve(self, problem: MilpProblem, params: SolveParams, warm_start: Any = None) -> SolveResult:
        res = BACKEND.solve(problem, params)
        return dataclasses.replace(res, status=Status.FEASIBLE, bound=None, gap=None)


def line_instance() -> SitingInstance:
    """Five points on a line at 0, 1, 2, 10, 11, a candidate site at each point."""
    xs = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    return SitingInstance(np.abs(xs[:, None] - xs[None, :]))


def test_pcenter_without_proofs_is_only_feasible() -> None:
    inst = line_instance()
    radius, open_sites, res, stats = solve_pcenter(inst, 2, _NoProofBackend(), PARAMS)
    assert res.status == Status.FEASIBLE and res.message
    assert res.bound is not None and res.bound <= 1.0 <= radius  # 1.0 is the optimum (hand-checked below)
    assert evaluate(inst, open_sites).max_distance == radius
    assert stats["steps"] >= 1


def test_pcenter_time_limit_returns_the_greedy_plan() -> None:
    # Greedy: site 0 for the first point, then site 4 for the farthest (point 11): max distance 2.
    inst = line_instance()
    radius, open_sites, res, stats = solve_pcenter(inst, 2, BACKEND, SolveParams(time_limit=0.0))
    assert (radius, np.flatnonzero(open_sites).tolist(), stats["steps"]) == (2.0, [0, 4], 0)
    assert (res.status, res.limit, res.bound) == (Status.FEASIBLE, Limit.TIME, 0.0)


def test_pcenter_search_steps_on_a_line() -> None:
    """Hand-checked: with p = 2 open e.g. {1, 10}: every point is within 1, and R = 0 would need
    5 sites, so R = 1; with p = 1 the best is site 2 (9 to the point at 11) -> R = 9."""
    inst = line_instance()
    r2, open2, res2, _ = solve_pcenter(inst, 2, BACKEND, PARAMS)
    r1, open1, _, _ = solve_pcenter(inst, 1, BACKEND, PARAMS)
    assert (r2, int(open2.sum())) == (1.0, 2) and res2.status == Status.OPTIMAL
    assert (r1, np.flatnonzero(open1).tolist()) == (9.0, [2])


# --------------------------------------------------------------------------------- golden sizes
def tiny() -> SitingInstance:
    """3 demand points, 3 sites (inf = unreachable), weights 1, 2, 3."""
    d = np.array([[0.0, 4.0, 9.0], [3.0, 1.0, INF], [0.0, 5.0, 9.0]])
    return SitingInstance(d, weights=[1.0, 2.0, 3.0])


def test_golden_sizes_pmedian() -> None:
    inst = tiny()
    # classic, p = 1: 8 reachable pairs; 3 y + 8 x columns; 3 assignment + 8 x<=y + 1 p rows.
    classic = pmedian_classic(inst, p=1)
    assert (classic.num_vars, classic.num_rows) == (11, 12)
    # radius, p = 1, no budget: L = 3 - 1 + 1 = 3, so T = (9, inf, 9). Levels: demand 0 {0, 4, 9},
    # demand 1 {1, 3}, demand 2 {0, 5, 9} -> 5 z columns (k >= 2); rows: 5 of (1), 1 of (2) for
    # demand 1 (T infinite), 1 p row. Offset = 1*0 + 2*1 + 3*0 = 2. Cumulative nnz of (1):
    # 2 + 3 + 2 + 2 + 3 = 12, (2): 2, p row: 3 -> 17; chained is the same here (each level has
    # one site). Optimum: site 0 -> 1*0 + 2*3 + 3*0 = 6.
    for form in ("cumulative", "chained"):
        radius = pmedian_radius(inst, p=1, form=form)
        assert (radius.num_vars, radius.num_rows, radius.A.nnz, radius.offset) == (8, 7, 17, 2.0)
        assert solve(radius).objective == pytest.approx(6.0)
    assert solve(classic).objective == pytest.approx(6.0)


def test_golden_sizes_covering() -> None:
    inst = tiny()
    # R = 3: demand 0 -> {0}, demand 1 -> {0, 1}, demand 2 -> {0}; demand 0 and 2 merge (weight 4).
    # MCLP p = 1: 3 y + 2 z columns; 2 coverage rows + 1 p row; optimum site 0 covers all = 6.
    problem = mclp(inst, 3.0, p=1)
    assert (problem.num_vars, problem.num_rows) == (5, 3)
    assert sorted(problem.c[3:].tolist()) == [2.0, 4.0]
    assert solve(problem).objective == pytest.approx(6.0)
    # LSCP R = 3: the same 2 merged rows over 3 y; site 2 covers nothing and is fixed closed.
    cover = lscp(inst, 3.0, objective="count")
    assert (cover.num_vars, cover.num_rows, cover.col_upper[2]) == (3, 2, 0.0)
    assert solve(cover).objective == pytest.approx(1.0)


def test_existing_site_counts_in_offset() -> None:
    """Site 0 existing: demand 0, 1, 2 are covered at R = 3 -> offset 6, no coverage rows."""
    inst = SitingInstance(tiny().distances, weights=[1.0, 2.0, 3.0], existing=[True, False, False])
    problem = mclp(inst, 3.0, p=1)
    assert (problem.offset, problem.num_vars, problem.num_rows) == (6.0, 3, 1)
    assert solve(problem).objective == pytest.approx(6.0)


# -------------------------------------------------------------------------------------- errors
def test_errors_name_the_value_and_the_fix() -> None:
    inst = tiny()
    with pytest.raises(ScenarioError, match="give --p or --budget"):
        mclp(inst, 3.0)
    with pytest.raises(ScenarioError, match="give --p or --budget"):
        pmedian_classic(inst)
    with pytest.raises(ScenarioError, match=r"radius = 0 .*--radius > 0"):
        mclp(inst, 0, p=1)
    with pytest.raises(ScenarioError, match=r"radius = -1 .*--radius >= 0"):
        lscp(inst, -1)
    far = SitingInstance(np.array([[5.0, 7.0], [6.0, INF]]))
    with pytest.raises(
        ScenarioError,
        match="radius 2 covers no demand point from any eligible site; the smallest demand-site distance is 5: "
        "increase the radius",
    ):
        mclp(far, 2.0, p=1)
    twelve = SitingInstance(np.ones((2, 12)), forbidden=[True, True] + [False] * 10)
    with pytest.raises(ScenarioError, match="p = 12 but only 10 sites are eligible: lower --p"):
        pmedian_radius(twelve, p=12)
    with pytest.raises(ScenarioError, match="p = 12 but only 10 sites are eligible"):
        solve_pcenter(twelve, 12, BACKEND, PARAMS)
    with pytest.raises(ScenarioError, match=r"p = 0 is too small: give --p 1 or more"):
        pmedian_classic(inst, p=0)
    with pytest.raises(ScenarioError, match=r"budget = -1.0 .*--budget >= 0"):
        mclp(inst, 3.0, budget=-1.0)
    with pytest.raises(ScenarioError, match="not a whole number"):
        pmedian_classic(inst, p=1.5)  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match="objective 'area' is unknown"):
        lscp(inst, 3.0, objective="area")  # type: ignore[arg-type]


def test_unreachable_weighted_demand_is_named() -> None:
    d = np.array([[1.0, INF], [INF, INF], [2.0, 3.0], [INF, 4.0]])
    inst = SitingInstance(d, demand_ids=["a", "b", "c", "d"], forbidden=[False, True])
    # b reaches nothing; d reaches only the forbidden site.
    with pytest.raises(DataError, match=r"demand ids b, d \(weight > 0\) can reach no eligible or existing site"):
        pmedian_classic(inst, p=1)
    with pytest.raises(DataError, match="demand ids b, d"):
        pmedian_radius(inst, p=1)
    with pytest.raises(DataError, match="demand ids b, d"):
        solve_pcenter(inst, 1, BACKEND, PARAMS)
    # with weight 0 they do not count
    ok = SitingInstance(d, weights=[1.0, 0.0, 1.0, 0.0], forbidden=[False, True])
    assert solve(pmedian_radius(ok, p=1)).objective == pytest.approx(3.0)
    assert uncoverable(inst, 10.0).tolist() == [False, True, False, True]


def test_unreachable_pairs_never_cover_even_at_infinite_radius() -> None:
    # dense inf = unreachable; the zero distances are real (demand standing on a site)
    inst = SitingInstance(np.array([[0.0, INF], [INF, INF], [0.0, 3.0]]))
    assert uncoverable(inst, INF).tolist() == [False, True, False]
    assert uncoverable(inst, 0.0).tolist() == [False, True, False]
    problem = mclp(inst, INF, p=1)
    # demand 0 and 2 share the covering set {0} at R = 1 but not at R = inf ({0} vs {0, 1})
    assert problem.num_rows - 1 == 2 and mclp(inst, 1.0, p=1).num_rows - 1 == 1
    assert solve(problem).objective == pytest.approx(2.0)


def test_capacity_below_demand_is_infeasible() -> None:
    inst = SitingInstance(np.ones((3, 2)), weights=[2.0, 2.0, 2.0], capacity=[2.0, 3.0])
    with pytest.raises(InfeasibleError, match="total capacity 5 is below the total demand weight 6"):
        pmedian_capacitated(inst, p=2)


def test_pcenter_infeasible_when_p_sites_cannot_reach_everyone() -> None:
    # demand 0 only reaches site 0, demand 1 only site 1: one new site cannot serve both.
    inst = SitingInstance(sp.csr_array((np.array([1.0, 2.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2)))
    with pytest.raises(InfeasibleError, match="no plan with p = 1 new sites reaches every demand point"):
        solve_pcenter(inst, 1, BACKEND, PARAMS)
    radius, open_sites, res, _ = solve_pcenter(inst, 2, BACKEND, PARAMS)
    assert (radius, open_sites.tolist(), res.status) == (2.0, [True, True], Status.OPTIMAL)
