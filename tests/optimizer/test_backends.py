"""Conformance suite for the MILP backends (HiGHS, CBC via PuLP, CP-SAT, SCIP via OR-Tools).

Every test of the suite runs on every installed backend; a solver that is not installed drops
out. Expected optima are hand-checked; the reasoning is in the comment above each problem.
"""

from __future__ import annotations

import subprocess
import time
import types
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from siting.models.errors import BackendUnavailableError, DataError, ScenarioError
from siting.models.milp import MilpProblem
from siting.optimizer.backends import highs as highs_mod
from siting.optimizer.backends import ortools_backend as ort_mod
from siting.optimizer.backends import pulp_backend as pulp_mod
from siting.optimizer.registry import get_backend, installed_backends
from siting.optimizer.result import Backend, Limit, SolveParams, SolveResult, Status

INF = np.inf


# ---------------------------------------------------------------------------------------------
# backends under test
# ---------------------------------------------------------------------------------------------
def _backend_names() -> list[str]:
    names = [b.name for b in installed_backends()]
    # PuLP's own HiGHS interface exercises the generic (non-CBC) PuLP path; it is left out of
    # installed_backends() because it duplicates the native highs backend.
    if pulp_mod.PulpBackend("HiGHS").available():
        names.append("pulp:HiGHS")
    return names


BACKENDS = _backend_names()
#: Backends that solve problems with continuous columns (CP-SAT does not).
LP_BACKENDS = [n for n in BACKENDS if n != "cpsat"]


def backend(name: str) -> Backend:
    return pulp_mod.PulpBackend("HiGHS") if name == "pulp:HiGHS" else get_backend(name)


def problem(
    c: list[float],
    A: list[list[float]],
    row_lower: list[float],
    row_upper: list[float],
    col_lower: list[float],
    col_upper: list[float],
    integer: list[bool],
    sense: str = "min",
    offset: float = 0.0,
    implied: list[bool] | None = None,
    site_cols: list[int] | None = None,
) -> MilpProblem:
    n = len(c)
    return MilpProblem(
        c=np.array(c, dtype=np.float64),
        A=sp.csc_array(np.array(A, dtype=np.float64).reshape(-1, n)),
        row_lower=np.array(row_lower, dtype=np.float64),
        row_upper=np.array(row_upper, dtype=np.float64),
        col_lower=np.array(col_lower, dtype=np.float64),
        col_upper=np.array(col_upper, dtype=np.float64),
        integrality=np.array(integer, dtype=bool),
        sense=sense,  # type: ignore[arg-type]
        offset=offset,
        implied_integer=None if implied is None else np.array(implied, dtype=bool),
        site_cols=np.array(site_cols or [], dtype=np.int64),
    )


def knapsack() -> MilpProblem:
    # max 5a + 4b + 3c + 10  s.t.  2a + 3b + c <= 5, a, b, c binary.
    # Feasible sets: {a,b} w=5 v=9, {a,c} w=3 v=8, {b,c} w=4 v=7, {a,b,c} w=6 too heavy.
    # Optimum 9 + offset 10 = 19 at (1, 1, 0).
    return problem([5, 4, 3], [[2, 3, 1]], [-INF], [5], [0] * 3, [1] * 3, [True] * 3, "max", 10.0)


def set_cover() -> MilpProblem:
    # Elements 0..3, sets S0={0,1} c3, S1={1,2} c3, S2={2,3} c3, S3={0,1,2,3} c7, S4={0,3} c2.
    # Covers: S3 alone (7); pairs S0+S2 (6), S1+S4 (5); every other pair misses an element.
    # Optimum 5 with S1 and S4.
    A = [
        [1, 0, 0, 1, 1],  # element 0
        [1, 1, 0, 1, 0],  # element 1
        [0, 1, 1, 1, 0],  # element 2
        [0, 0, 1, 1, 1],  # element 3
    ]
    return problem([3, 3, 3, 7, 2], A, [1] * 4, [INF] * 4, [0] * 5, [1] * 5, [True] * 5, site_cols=[0, 1, 2, 3, 4])


def infeasible() -> MilpProblem:
    # x0 + x1 >= 3 with two binaries: at most 2. Infeasible.
    return problem([1, 1], [[1, 1]], [3], [INF], [0, 0], [1, 1], [True, True])


def unbounded_lp() -> MilpProblem:
    # max x + y  s.t. x - y <= 1, x, y >= 0: (t, t) is feasible for every t. Unbounded.
    return problem([1, 1], [[1, -1]], [-INF], [1], [0, 0], [INF, INF], [False, False], "max")


def unbounded_mip() -> MilpProblem:
    # Same with x, y integer: (t, t) for every integer t. Unbounded.
    return problem([1, 1], [[1, -1]], [-INF], [1], [0, 0], [INF, INF], [True, True], "max")


def infeasible_unbounded_relaxation() -> MilpProblem:
    # max x + y, x - y <= 1 (unbounded ray) and 0.2 <= z <= 0.8 with z integer: no integer z.
    # The LP relaxation is unbounded but the MILP is infeasible (CBC alone says "unbounded").
    return problem([1, 1, 0], [[1, -1, 0], [0, 0, 1]], [-INF, 0.2], [1, 0.8], [0] * 3, [INF] * 3, [True] * 3, "max")


def small_lp() -> MilpProblem:
    # min -x - 2y  s.t. x + y <= 4, x + 3y <= 6, x, y >= 0. Vertices: (0,0) 0, (4,0) -4,
    # (0,2) -4, and x+y=4 & x+3y=6 -> (3,1) -5. Optimum -5 at (3, 1).
    return problem([-1, -2], [[1, 1], [1, 3]], [-INF, -INF], [4, 6], [0, 0], [INF, INF], [False, False])


def mixed_rows() -> MilpProblem:
    # min 3x + 2y + z, x integer >= 0, y, z continuous >= 0, with every kind of row:
    #   (1) x + y >= 2.5   (2) y <= 1.2   (3) 0 <= x - y <= 1.4 (ranged)   (4) z - y = 1.
    # With z = y + 1 the objective is 3(x + y) + 1. x=2: y >= max(0.5, 0.6) -> y=0.6, obj 8.8;
    # x=3 needs y >= 1.6 > 1.2; x=1 needs y >= 1.5 but (3) gives y <= 1. Optimum 8.8 at (2, 0.6, 1.6).
    return problem(
        [3, 2, 1],
        [[1, 1, 0], [0, 1, 0], [1, -1, 0], [0, -1, 1]],
        [2.5, -INF, 0, 1],
        [INF, 1.2, 1.4, 1],
        [0, 0, 0],
        [INF, INF, INF],
        [True, False, False],
    )


def coverage() -> MilpProblem:
    # A tiny maximal covering model: sites y0..y2 binary, coverage z0..z3 continuous in [0, 1]
    # marked implied integer; z_i <= sum of y_j covering i; y0 + y1 + y2 <= 1.
    # Weights 4.5, 3.25, 2.0, 5.1; site 0 covers {0,1}, site 1 covers {1,2,3}, site 2 covers {0,3}.
    # Covered weight: site 0 7.75, site 1 3.25+2+5.1 = 10.35, site 2 4.5+5.1 = 9.6. Optimum 10.35, site 1.
    cover = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1]], dtype=float)
    A = np.zeros((5, 7))
    A[:4, :3] = -cover
    A[:4, 3:] = np.eye(4)
    A[4, :3] = 1
    return problem(
        [0, 0, 0, 4.5, 3.25, 2.0, 5.1],
        A.tolist(),
        [-INF] * 5,
        [0, 0, 0, 0, 1],
        [0] * 7,
        [1] * 7,
        [True] * 3 + [False] * 4,
        "max",
        implied=[False] * 3 + [True] * 4,
        site_cols=[0, 1, 2],
    )


def hard_knapsack(n: int = 60, k: int = 10, seed: int = 1) -> MilpProblem:
    """A seeded multi-dimensional knapsack (60 binaries, 10 rows, weakly correlated values) that
    none of the solvers here proves within a second (HiGHS, CBC, CP-SAT, SCIP leave 1-2 % gap)."""
    rng = np.random.default_rng(seed)
    W = rng.integers(1, 1000, size=(k, n)).astype(np.float64)
    value = (W.sum(axis=0) // k + rng.integers(0, 50, size=n)).astype(np.float64)
    return MilpProblem(
        c=value,
        A=sp.csc_array(W),
        row_lower=np.full(k, -INF),
        row_upper=W.sum(axis=1) // 2,
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integrality=np.ones(n, dtype=bool),
        sense="max",
        offset=7.0,
    )


def check_result(p: MilpProblem, r: SolveResult, name: str) -> None:
    """The contract every result with a solution meets, whatever the solver."""
    assert r.solver == name
    assert r.solver_version
    assert r.seconds > 0
    assert r.x is not None and r.x.dtype == np.float64 and r.x.shape == (p.num_vars,)
    assert r.objective == pytest.approx(p.objective_value(r.x), abs=1e-9)
    assert p.max_violation(r.x) <= 1e-6
    if r.bound is not None:
        slack = 1e-6 * max(1.0, abs(r.objective))
        if p.sense == "min":
            assert r.bound <= r.objective + slack
        else:
            assert r.bound >= r.objective - slack
        assert r.gap is not None and r.gap >= 0


# ---------------------------------------------------------------------------------------------
# conformance: hand-checked problems on every backend
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BACKENDS)
def test_knapsack_max_with_offset(name: str) -> None:
    p = knapsack()
    r = backend(name).solve(p, SolveParams())
    assert r.status == Status.OPTIMAL and r.limit == Limit.NONE
    check_result(p, r, name)
    assert r.objective == pytest.approx(19.0)
    assert r.bound == pytest.approx(19.0, rel=1e-6)
    np.testing.assert_array_equal(r.x, [1.0, 1.0, 0.0])


@pytest.mark.parametrize("name", BACKENDS)
def test_set_cover(name: str) -> None:
    p = set_cover()
    r = backend(name).solve(p, SolveParams(mip_gap=0.0))
    assert r.status == Status.OPTIMAL
    check_result(p, r, name)
    assert r.objective == pytest.approx(5.0)
    assert p.open_sites(r.x).tolist() == [False, True, False, False, True]


@pytest.mark.parametrize("name", BACKENDS)
def test_infeasible(name: str) -> None:
    r = backend(name).solve(infeasible(), SolveParams())
    assert r.status == Status.INFEASIBLE
    assert r.x is None and r.objective is None


@pytest.mark.parametrize("name", LP_BACKENDS)
def test_unbounded_lp(name: str) -> None:
    r = backend(name).solve(unbounded_lp(), SolveParams())
    assert r.status == Status.UNBOUNDED
    assert r.x is None and r.objective is None


@pytest.mark.parametrize("name", BACKENDS)
def test_unbounded_mip(name: str) -> None:
    if name == "pulp:HiGHS":
        pytest.skip("PuLP's HiGHS interface maps HiGHS's 'unbounded or infeasible' to Infeasible")
    r = backend(name).solve(unbounded_mip(), SolveParams(time_limit=10))
    assert r.status == Status.UNBOUNDED


@pytest.mark.parametrize("name", BACKENDS)
def test_infeasible_with_unbounded_relaxation(name: str) -> None:
    # CBC reports "unbounded" here (its LP relaxation is); the backend must settle it.
    r = backend(name).solve(infeasible_unbounded_relaxation(), SolveParams(time_limit=10))
    assert r.status == Status.INFEASIBLE


@pytest.mark.parametrize("name", LP_BACKENDS)
def test_pure_lp(name: str) -> None:
    p = small_lp()
    r = backend(name).solve(p, SolveParams())
    assert r.status == Status.OPTIMAL
    check_result(p, r, name)
    assert r.objective == pytest.approx(-5.0)
    np.testing.assert_allclose(r.x, [3.0, 1.0], atol=1e-7)
    assert r.bound == pytest.approx(-5.0) and r.gap == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("name", LP_BACKENDS)
def test_mixed_rows_and_continuous_columns(name: str) -> None:
    p = mixed_rows()
    r = backend(name).solve(p, SolveParams(mip_gap=0.0))
    assert r.status == Status.OPTIMAL
    check_result(p, r, name)
    assert r.objective == pytest.approx(8.8)
    np.testing.assert_allclose(r.x, [2.0, 0.6, 1.6], atol=1e-7)


@pytest.mark.parametrize("name", BACKENDS)
def test_implied_integer_coverage_with_fractional_weights(name: str) -> None:
    p = coverage()
    r = backend(name).solve(p, SolveParams(mip_gap=0.0))
    assert r.status == Status.OPTIMAL
    check_result(p, r, name)
    assert r.objective == pytest.approx(10.35)
    assert p.open_sites(r.x).tolist() == [False, True, False]


def test_cpsat_rejects_continuous_columns() -> None:
    if "cpsat" not in BACKENDS:
        pytest.skip("OR-Tools CP-SAT not installed")
    r = get_backend("cpsat").solve(mixed_rows(), SolveParams())
    assert r.status == Status.ERROR and r.x is None
    assert "integer model" in r.message and "highs" in r.message


@pytest.mark.parametrize("name", BACKENDS)
def test_problem_is_not_mutated(name: str) -> None:
    p = coverage() if name == "cpsat" else mixed_rows()
    before = {
        "c": p.c.copy(),
        "data": p.A.data.copy(),
        "indices": p.A.indices.copy(),
        "indptr": p.A.indptr.copy(),
        "row_lower": p.row_lower.copy(),
        "row_upper": p.row_upper.copy(),
        "col_lower": p.col_lower.copy(),
        "col_upper": p.col_upper.copy(),
        "integrality": p.integrality.copy(),
        "implied_integer": np.array(p.implied_integer, copy=True),
    }
    offset, sense = p.offset, p.sense
    r = backend(name).solve(p, SolveParams(), warm_start=np.zeros(p.num_vars))
    assert r.status == Status.OPTIMAL
    after = {
        "c": p.c,
        "data": p.A.data,
        "indices": p.A.indices,
        "indptr": p.A.indptr,
        "row_lower": p.row_lower,
        "row_upper": p.row_upper,
        "col_lower": p.col_lower,
        "col_upper": p.col_upper,
        "integrality": p.integrality,
        "implied_integer": p.implied_integer,
    }
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    assert (p.offset, p.sense) == (offset, sense)
    assert r.x is not None and not np.shares_memory(r.x, p.c)


@pytest.mark.parametrize("name", BACKENDS)
def test_warm_start(name: str) -> None:
    p = knapsack()
    b = backend(name)
    # {a, c} (value 8 + 10) is feasible but not optimal: the solver must still reach 19.
    r = b.solve(p, SolveParams(), warm_start=np.array([1.0, 0.0, 1.0]))
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(19.0)
    with pytest.raises(DataError, match="warm start .* has 2 values but problem .* has 3 columns"):
        b.solve(p, SolveParams(), warm_start=np.zeros(2))


@pytest.mark.parametrize("name", BACKENDS)
def test_time_limit_is_never_optimal(name: str) -> None:
    # 300 binaries x 30 knapsack rows, to gap 0, in 0.05 s: no solver proves that on any machine,
    # so the run must end on its time limit (and never be called optimal).
    p = hard_knapsack(n=300, k=30)
    limit = 0.05
    r = backend(name).solve(p, SolveParams(time_limit=limit, mip_gap=0.0))
    assert r.status in (Status.FEASIBLE, Status.NO_SOLUTION), (r.status, r.message)
    assert r.limit == Limit.TIME
    assert r.seconds < 1.05 * limit + 2.0
    if r.status == Status.FEASIBLE:
        check_result(p, r, name)
        if r.bound is not None:  # maximisation: the bound is above the incumbent
            assert r.bound > r.objective and r.gap is not None and r.gap > 0


@given(
    hnp.arrays(np.int64, (3, 5), elements=st.integers(-3, 5)),
    hnp.arrays(np.int64, 3, elements=st.integers(2, 8)),
    hnp.arrays(np.int64, 5, elements=st.integers(-5, 9)),
    st.sampled_from(["min", "max"]),
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_binary_programs_match_brute_force(
    a_int: np.ndarray, upper_int: np.ndarray, c_int: np.ndarray, sense: str
) -> None:
    # 5-binary, 3-row programs, every coefficient drawn (a failure shrinks), against enumeration
    # of all 32 points.
    m, n = a_int.shape
    A, upper, c = a_int.astype(float), upper_int.astype(float), c_int.astype(float)
    p = MilpProblem(
        c=c,
        A=sp.csc_array(A),
        row_lower=np.full(m, -INF),
        row_upper=upper,
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integrality=np.ones(n, dtype=bool),
        sense=sense,  # type: ignore[arg-type]
        offset=1.5,
    )
    points = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(float)
    feasible = points[(points @ A.T <= upper).all(axis=1)]
    for name in BACKENDS:
        r = backend(name).solve(p, SolveParams(mip_gap=0.0))
        if feasible.size == 0:
            assert r.status == Status.INFEASIBLE, name
            continue
        values = feasible @ c + 1.5
        best = values.min() if sense == "min" else values.max()
        assert r.status == Status.OPTIMAL, (name, r.message)
        assert r.objective == pytest.approx(best), name


# ---------------------------------------------------------------------------------------------
# every parameter reaches every backend
# ---------------------------------------------------------------------------------------------
PARAMS = SolveParams(time_limit=12.5, mip_gap=0.0, threads=2, seed=7, verbose=False)


def test_highs_configure_sets_every_option() -> None:
    h = highs_mod.new_highs()
    params = SolveParams(
        time_limit=12.5,
        mip_gap=0.0,
        threads=2,
        seed=7,
        verbose=False,
        options={"highs": {"presolve": "off", "mip_max_nodes": 100, "mip_feasibility_tolerance": 1}},
    )
    highs_mod.configure(h, params)

    def read(name: str) -> Any:
        return highs_mod.option_value(h, name)

    assert read("time_limit") == 12.5
    assert read("mip_rel_gap") == 0.0
    assert read("mip_abs_gap") == highs_mod.PROOF_ABS_GAP
    assert read("threads") == 2
    assert read("random_seed") == 7
    assert read("output_flag") is False and read("log_to_console") is False
    assert read("presolve") == "off" and read("mip_max_nodes") == 100
    assert read("mip_feasibility_tolerance") == 1.0  # an int for a double option is converted
    h2 = highs_mod.new_highs()
    highs_mod.configure(h2, SolveParams(mip_gap=0.05, verbose=True))
    assert highs_mod.option_value(h2, "mip_rel_gap") == 0.05
    assert highs_mod.option_value(h2, "output_flag") is True


def test_highs_solve_uses_the_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    original = highs_mod.new_highs

    def spy() -> Any:
        made.append(original())
        return made[-1]

    monkeypatch.setattr(highs_mod, "new_highs", spy)
    r = highs_mod.HighsBackend().solve(knapsack(), PARAMS)
    assert r.status == Status.OPTIMAL
    h = made[0]
    assert [
        highs_mod.option_value(h, k) for k in ("time_limit", "mip_rel_gap", "threads", "random_seed", "output_flag")
    ] == [
        12.5,
        0.0,
        2,
        7,
        False,
    ]


def test_highs_rejects_bad_option() -> None:
    with pytest.raises(ScenarioError, match="HiGHS rejected option 'no_such_option'"):
        highs_mod.HighsBackend().solve(knapsack(), SolveParams(options={"highs": {"no_such_option": 1}}))


def test_cbc_solver_object_carries_every_parameter() -> None:
    b = pulp_mod.PulpBackend("PULP_CBC_CMD")
    solver, notes = b.make_solver(
        SolveParams(
            time_limit=12.5,
            mip_gap=0.01,
            threads=2,
            seed=7,
            verbose=True,
            options={"cbc": {"options": ["cuts off"], "maxNodes": 50}},
        ),
        warm_start=True,
    )
    assert solver.timeLimit == 12.5
    assert solver.optionsDict["gapRel"] == 0.01
    assert solver.optionsDict["threads"] == 2
    assert solver.optionsDict["warmStart"] is True
    assert solver.optionsDict["maxNodes"] == 50
    assert solver.msg is True
    assert solver.options == ["randomCbcSeed 7", "randomSeed 7", "cuts off"]
    assert notes == []
    # Seed 0 keeps CBC's fixed default seed (CBC reads 0 as "seed from the clock").
    solver0, _ = b.make_solver(SolveParams(seed=0))
    assert not any("Seed" in o for o in solver0.options)


def test_cbc_command_line_carries_every_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(args: list[str], *a: Any, **k: Any) -> Any:
        calls.append(list(args))
        return real_popen(args, *a, **k)

    monkeypatch.setattr(pulp_mod.pulp.apis.coin_api.subprocess, "Popen", spy)
    r = get_backend("cbc").solve(
        knapsack(), SolveParams(time_limit=12.5, mip_gap=0.01, threads=2, seed=7), warm_start=np.array([1.0, 0.0, 1.0])
    )
    assert r.status == Status.OPTIMAL
    cmd = next(" ".join(c) for c in calls if "-solve" in c)
    sec = float(cmd.split("-sec ")[1].split()[0])  # what is left of 12.5 s once the model is built
    assert 11.0 < sec <= 12.5
    for part in ("-ratio 0.01", "-threads 2", "-randomCbcSeed 7", "-randomSeed 7", "-mips ", "-max"):
        assert part in cmd, part


def test_other_pulp_solvers_get_seed_and_common_arguments() -> None:
    # PuLP's HiGHS takes named timeLimit/gapRel/threads and forwards **solverParams to HiGHS.
    solver, notes = pulp_mod.PulpBackend("HiGHS").make_solver(PARAMS, warm_start=True)
    assert (solver.timeLimit, solver.gapRel, solver.threads) == (12.5, 0.0, 2)
    assert solver.optionsDict == {"random_seed": 7}  # warmStart is not forwarded as a HiGHS option
    assert any("warmStart" in n for n in notes)
    # Gurobi (class constructible without gurobipy): common arguments through LpSolver **kwargs.
    solver, notes = pulp_mod.PulpBackend("GUROBI").make_solver(PARAMS)
    assert solver.timeLimit == 12.5
    assert solver.optionsDict["Seed"] == 7 and solver.optionsDict["threads"] == 2
    # GLPK has no seed and no threads: said, not silently dropped.
    solver, notes = pulp_mod.PulpBackend("GLPK_CMD").make_solver(PARAMS)
    assert solver.timeLimit == 12.5
    assert any("seed 7 not passed" in n for n in notes) and any("'threads'" in n for n in notes)


def test_pulp_rejects_unknown_option() -> None:
    with pytest.raises(ScenarioError, match="'no_such_arg' = 1 .* not an argument of PuLP's PULP_CBC_CMD"):
        pulp_mod.PulpBackend("PULP_CBC_CMD").make_solver(SolveParams(options={"cbc": {"no_such_arg": 1}}))


def test_cpsat_parameter_text_is_valid_sat_parameters() -> None:
    from google.protobuf import text_format
    from ortools.sat import sat_parameters_pb2

    params = SolveParams(
        time_limit=12.5,
        mip_gap=0.0,
        threads=2,
        seed=7,
        options={"cpsat": {"linearization_level": 2, "cp_model_presolve": False}},
    )
    parsed = text_format.Parse(ort_mod.parameter_text("cpsat", params), sat_parameters_pb2.SatParameters())
    assert parsed.num_workers == 2
    assert parsed.random_seed == 7
    assert parsed.relative_gap_limit == 0.0 and parsed.absolute_gap_limit == 0.0
    assert parsed.log_search_progress is False
    assert parsed.linearization_level == 2 and parsed.cp_model_presolve is False


def test_scip_parameter_text() -> None:
    text = ort_mod.parameter_text(
        "scip", SolveParams(mip_gap=0.01, seed=7, options={"scip": {"presolving/maxrounds": 0}})
    )
    assert text.splitlines() == ["limits/gap = 0.01", "randomization/randomseedshift = 7", "presolving/maxrounds = 0"]


@pytest.mark.parametrize("kind", [k for k in ("cpsat", "scip") if k in BACKENDS])
def test_ortools_solve_uses_the_parameters(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ort_mod.mbh
    calls: dict[str, Any] = {}

    class Recorder:
        def __init__(self, solver_id: str) -> None:
            self._inner = real.ModelSolverHelper(solver_id)
            calls["solver_id"] = solver_id

        def __getattr__(self, attr: str) -> Any:
            target = getattr(self._inner, attr)
            if attr.startswith(("set_", "enable_")):

                def record(*args: Any) -> Any:
                    calls[attr] = args
                    return target(*args)

                return record
            return target

    monkeypatch.setattr(
        ort_mod, "mbh", types.SimpleNamespace(ModelBuilderHelper=real.ModelBuilderHelper, ModelSolverHelper=Recorder)
    )
    r = ort_mod.OrToolsBackend(kind).solve(knapsack(), PARAMS)
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(19.0)
    assert calls["solver_id"] == {"cpsat": "sat", "scip": "scip"}[kind]
    assert calls["set_time_limit_in_seconds"] == (12.5,)
    assert calls["enable_output"] == (False,)
    assert calls["set_solver_specific_parameters"] == (ort_mod.parameter_text(kind, PARAMS),)
    text = calls["set_solver_specific_parameters"][0]
    if kind == "cpsat":
        assert "num_workers: 2" in text and "random_seed: 7" in text and "relative_gap_limit: 0.0" in text
    else:
        assert "limits/gap = 0.0" in text and "randomization/randomseedshift = 7" in text
        assert "threads=2 ignored" in r.message


@pytest.mark.parametrize("kind", [k for k in ("cpsat", "scip") if k in BACKENDS])
def test_ortools_rejects_bad_option(kind: str) -> None:
    bad = {"cpsat": {"no_such_field": 1}, "scip": {"no/such/param": 1}}[kind]
    with pytest.raises(ScenarioError, match="rejected its parameters"):
        get_backend(kind).solve(knapsack(), SolveParams(options={kind: bad}))


# ---------------------------------------------------------------------------------------------
# names, versions, helpers
# ---------------------------------------------------------------------------------------------
def test_unknown_solver_suggests_a_name() -> None:
    with pytest.raises(BackendUnavailableError, match="did you mean 'highs'"):
        get_backend("higs")
    with pytest.raises(BackendUnavailableError, match="did you mean 'pulp:GLPK_CMD'"):
        get_backend("pulp:GLPK")
    with pytest.raises(BackendUnavailableError, match="did you mean 'pulp:PULP_CBC_CMD'"):
        pulp_mod.PulpBackend("PULP_CBC")


def test_names_and_versions() -> None:
    assert pulp_mod.PulpBackend("PULP_CBC_CMD").name == "cbc"
    assert pulp_mod.PulpBackend("glpk_cmd").name == "pulp:GLPK_CMD"  # case-insensitive
    for name in BACKENDS:
        b = backend(name)
        assert b.name == name and b.available() and b.version()
    if "cbc" in BACKENDS:
        assert get_backend("cbc").version().startswith("CBC ")


def test_extra_pulp_solvers_leave_out_duplicates() -> None:
    extra = pulp_mod.extra_pulp_solvers()
    assert not set(extra) & pulp_mod.DUPLICATES
    assert all(pulp_mod.PulpBackend(s).available() for s in extra)


def test_parse_cbc_log() -> None:
    # Lines as CBC 2.10 prints them when its time limit stops a maximisation.
    log = (
        "Welcome to the CBC MILP Solver \nVersion: 2.10.3 \n...\n"
        "Result - Stopped on time limit\n\nObjective value:                15909.00000000\n"
        "Upper bound:                    16130.663\nGap:                            -0.01\n"
    )
    assert pulp_mod.parse_cbc_log(log) == {"result": "Stopped on time limit", "bound": 16130.663, "version": "2.10.3"}
    assert pulp_mod.parse_cbc_log("Result - Optimal solution found\n\nObjective value: 9\n") == {
        "result": "Optimal solution found"
    }


# CBC 2.10.3's log of a feasible 300-binary knapsack given 0.011 s (its cut generators were stopped
# part-way); the same claim made within the time given is a proof
_CBC_SPENT_LOG = """Welcome to the CBC MILP Solver
Version: 2.10.3
command line - cbc /tmp/x-pulp.mps -max -sec {sec} -ratio 0.0 -threads 1 -timeMode elapsed -solve
Problem MODEL has 30 rows, 300 columns and 9000 elements
Continuous objective value is 80635.6 - 0.01 seconds
Cgl0000I Cut generators found to be infeasible! (or unbounded)
Pre-processing says infeasible or unbounded
Total time (CPU seconds):       0.01   (Wallclock seconds):       0.02
"""


@pytest.mark.parametrize("sec,expected", [("0.011", Status.NO_SOLUTION), ("10", Status.INFEASIBLE)])
def test_cbc_infeasible_after_its_time_is_spent_is_no_proof(sec: str, expected: Status) -> None:
    from types import SimpleNamespace

    log = _CBC_SPENT_LOG.format(sec=sec)
    assert pulp_mod.parse_cbc_log(log) == {"sec": float(sec), "wall": 0.02, "version": "2.10.3"}
    b = pulp_mod.PulpBackend("PULP_CBC_CMD")
    params = SolveParams(time_limit=float(sec)).started()
    lp = SimpleNamespace(status=-1, sol_status=0)  # what PuLP read: "Infeasible"
    r = b._result(hard_knapsack(n=300, k=30), params, lp, [], log, [], time.perf_counter(), 0.1)
    assert r.status == expected
    if expected == Status.NO_SOLUTION:
        assert r.limit == Limit.TIME and "stopped before it found a solution" in r.message


def test_pulp_empty_row_with_impossible_bounds_is_infeasible() -> None:
    # Row 0 has no coefficients but asks for 1 <= 0 <= 2: infeasible before any solver runs.
    p = problem([1, 1], [[0, 0], [1, 1]], [1, 0], [2, 2], [0, 0], [1, 1], [True, True])
    r = get_backend("cbc").solve(p, SolveParams())
    assert r.status == Status.INFEASIBLE and "row 0 has no coefficients" in r.message


def test_objective_mismatch_is_reported() -> None:
    from siting.optimizer.backends.common import finish

    p = knapsack()
    r = finish(p, solver="x", version="1", status=Status.OPTIMAL, x=[1, 1, 0], reported_objective=18.0, bound=19.0)
    assert r.objective == 19.0 and "reported objective 18" in r.message and r.gap == 0.0
