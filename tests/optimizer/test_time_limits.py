"""The time limit is one budget for every stage (optimizer.deadline).

Most tests hand a stage a budget that is already spent (a fake clock past the deadline): without
the deadline the stage would solve these small models to optimality, so none of them can pass
vacuously, and none depends on the speed of the machine. One test runs a real 0.5 s limit on a
model that takes far longer to build and solve, and checks the wall clock.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp
from clocks import FakeClock, spent

from siting.models.errors import NoSolutionError
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.models.multiservice import MultiServiceInstance, ServiceData
from siting.optimizer.backends import pulp_backend as pulp_mod
from siting.optimizer.deadline import Deadline, ElapsedShare
from siting.optimizer.registry import get_backend, installed_backends
from siting.optimizer.result import Limit, SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve

BACKENDS = [b.name for b in installed_backends()]


def instance(n: int = 60, m: int = 15, seed: int = 3) -> SitingInstance:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 1000, size=(n, 2))
    s = rng.uniform(0, 1000, size=(m, 2))
    dist = np.linalg.norm(d[:, None] - s[None], axis=2)
    return SitingInstance(dist, weights=rng.integers(1, 50, size=n).astype(float), cost=rng.uniform(1, 5, size=m))


def knapsack() -> MilpProblem:
    return MilpProblem(
        c=np.array([8.0, 11.0, 6.0, 4.0]),
        A=sp.csc_array(np.array([[5.0, 7.0, 4.0, 3.0]])),
        row_lower=np.array([-np.inf]),
        row_upper=np.array([14.0]),
        col_lower=np.zeros(4),
        col_upper=np.ones(4),
        integrality=np.ones(4, dtype=bool),
        sense="max",
    )


# ------------------------------------------------------------------------------ the object
def test_deadline_counts_down_on_its_clock() -> None:
    clock = FakeClock(10.0)
    d = Deadline.after(5.0, clock)
    assert d.remaining() == 5.0 and not d.expired()
    clock.now = 13.5
    assert d.remaining() == pytest.approx(1.5) and d.share(0.5) == pytest.approx(0.75)
    clock.now = 16.0
    assert d.remaining() == 0.0 and d.expired()
    assert Deadline.after(None).remaining() is None and not Deadline.after(None).expired()


def test_a_side_task_keeps_to_its_share_of_the_elapsed_time() -> None:
    clock = FakeClock(0.0)
    budget = ElapsedShare(0.25, clock)
    assert budget.allowed() == 0.0
    clock.now = 8.0
    assert budget.allowed() == pytest.approx(2.0)  # a quarter of 8 s, nothing spent yet
    budget.charge(5.0)  # ran from t = 5 to t = 8
    assert budget.seconds == pytest.approx(3.0) and budget.allowed() == pytest.approx(-1.0)
    clock.now = 20.0
    assert budget.allowed() == pytest.approx(2.0)  # 5 s earned, 3 s spent


def test_params_share_one_budget() -> None:
    clock = FakeClock(0.0)
    params = SolveParams(time_limit=10.0, deadline=Deadline.after(10.0, clock))
    assert params.started() is params  # an inner stage does not restart the clock
    clock.now = 7.0
    assert params.remaining() == pytest.approx(3.0)
    assert params.within(2.0).remaining() == pytest.approx(2.0)  # a share of what is left
    assert params.within(5.0).remaining() == pytest.approx(3.0)  # never more than is left
    clock.now = 11.0
    assert params.expired() and params.remaining() == 0.0
    fresh = SolveParams(time_limit=4.0).started()
    assert fresh.deadline is not None and 3.5 < (fresh.remaining() or 0) <= 4.0
    assert SolveParams().started().remaining() is None


def test_a_stage_clock_counts_down_and_stops_at_the_shared_deadline() -> None:
    """A stage of many solves spends its share once: a fixed share would read 20 s on every call."""
    clock = FakeClock(100.0)
    params = SolveParams(time_limit=60.0, deadline=Deadline(at=160.0, clock=clock))
    sub = params.within(20.0)
    assert sub.remaining() == pytest.approx(20.0) and sub.time_limit == pytest.approx(20.0)
    clock.now += 15.0
    assert sub.remaining() == pytest.approx(5.0)
    assert sub.within(10.0).remaining() == pytest.approx(5.0)  # a stage inside a stage: the outer share caps it
    clock.now += 6.0
    assert sub.expired() and not params.expired()
    late = params.within(100.0)  # a share longer than what is left ends with the shared budget
    assert late.remaining() == pytest.approx(params.remaining())
    assert params.within(None) is params
    unlimited = SolveParams().within(3.0)  # no budget at all: the share is the limit, counted from now
    assert unlimited.deadline is not None and 2.5 < (unlimited.remaining() or 0.0) <= 3.0


# ------------------------------------------------------------------------------ each stage
@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_stops_when_the_budget_is_spent(name: str) -> None:
    assert get_backend(name).solve(knapsack(), SolveParams()).status == Status.OPTIMAL  # the control
    r = get_backend(name).solve(knapsack(), spent())
    assert (r.status, r.limit) == (Status.NO_SOLUTION, Limit.TIME), r.message


@pytest.mark.parametrize(
    ("name", "module", "runner"),
    [
        ("highs", "siting.optimizer.backends.highs", "run_within"),
        ("scip", "siting.optimizer.backends.ortools_backend", "run_bounded"),
    ],
)
def test_a_run_abandoned_at_the_deadline_keeps_a_feasible_start(
    name: str, module: str, runner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The solver overruns its own limit and is abandoned (simulated: the runner reports it never
    # returned). A start that keeps every row is still a plan; a start that breaks one, or none, is not.
    if name not in BACKENDS:
        pytest.skip(f"{name} is not installed")
    import importlib

    monkeypatch.setattr(importlib.import_module(module), runner, lambda *a, **k: False)
    backend, problem = get_backend(name), knapsack()
    start = np.array([1.0, 1.0, 0.0, 0.0])  # weight 12 <= 14, value 19 (the optimum is 21)
    r = backend.solve(problem, SolveParams(time_limit=5.0), start)
    assert (r.status, r.limit) == (Status.FEASIBLE, Limit.TIME), r.message
    assert r.x is not None and np.array_equal(r.x, start)
    assert r.objective == pytest.approx(problem.objective_value(start)) and r.bound is None
    assert "abandoned" in r.message and "start" in r.message
    over = np.array([1.0, 1.0, 1.0, 0.0])  # weight 16 > 14: not a plan
    for bad in (over, None):
        r = backend.solve(problem, SolveParams(time_limit=5.0), bad)
        assert (r.status, r.limit, r.x) == (Status.NO_SOLUTION, Limit.TIME, None), r.message


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec("mclp", p=3, radius=250.0),
        ModelSpec("lscp", radius=400.0),
        ModelSpec("pmedian", p=3, formulation="radius"),
        ModelSpec("pmedian", p=3, formulation="classic"),
        ModelSpec("pmedian", p=3, capacitated=False, budget=6.0),
    ],
    ids=["mclp", "lscp", "pmedian-radius", "pmedian-classic", "pmedian-budget"],
)
def test_a_model_on_a_spent_budget_is_never_optimal(spec: ModelSpec) -> None:
    inst = instance()
    assert solve(inst, spec, "highs").status == Status.OPTIMAL  # the control: solvable in no time
    with pytest.raises(NoSolutionError, match="limit time"):
        solve(inst, spec, "highs", spent())


def test_benders_pcenter_and_heuristics_stop_at_the_deadline() -> None:
    inst = instance()
    for spec, solver in [
        (ModelSpec("pmedian", p=3, formulation="benders"), "highs"),
        (ModelSpec("pcenter", p=3), "highs"),
        (ModelSpec("pmedian", p=3), "heuristic"),
        (ModelSpec("mclp", p=2, radius=200.0), "lagrangian"),
    ]:
        assert solve(inst, spec, solver).status == Status.OPTIMAL, (spec, solver)  # the control
        try:
            r = solve(inst, spec, solver, spent())
        except NoSolutionError as exc:
            assert "limit time" in str(exc)
            continue
        # a plan found before the first check (a greedy start) is kept, but never called optimal
        assert (r.status, r.limit) == (Status.FEASIBLE, Limit.TIME), (spec, solver, r.status, r.limit)


def joint_instance(seed: int = 2) -> MultiServiceInstance:
    rng = np.random.default_rng(seed)
    n, m = 10, 5
    services = tuple(
        ServiceData(
            name=f"svc{s}",
            weights=rng.integers(1, 20, n).astype(float),
            coverage=sp.csr_array(rng.random((n, m)) < 0.35),
            distances=None,
            cost=rng.integers(1, 5, m).astype(float),
            eligible=np.ones(m, dtype=bool),
            area=1.0,
            existing_covered=np.zeros(n, dtype=bool),
            existing_distance=np.full(n, np.inf),
            weight=1.0,
        )
        for s in range(2)
    )
    return MultiServiceInstance(
        demand_ids=np.arange(n),
        site_ids=np.array([f"p{j}" for j in range(m)], dtype=object),
        room=np.full(m, 2.0),
        services=services,
        total_budget=8.0,
    )


def test_joint_stages_alternatives_and_sweep_share_the_budget() -> None:
    from siting.optimizer.joint import alternatives, solve_joint
    from siting.optimizer.sweep import budget_sweep

    inst = joint_instance()
    assert solve_joint(inst, "max_coverage").status == Status.OPTIMAL  # the control
    # the solver gets no time; the greedy start is the best plan found, and no stage is proven
    r = solve_joint(inst, "max_coverage", params=spent())
    assert r.status == Status.FEASIBLE
    assert r.stages[0]["status"] == Status.FEASIBLE.value
    assert [s["status"] for s in r.stages[1:]] == ["skipped"]
    plans = alternatives(inst, 3, 0.5, params=spent())
    assert len(plans) == 1 and plans[0].status == Status.FEASIBLE  # no time for the others
    points = budget_sweep(inst, [4.0, 8.0], params=spent())
    assert [p.status for p in points] == [Status.NO_SOLUTION, Status.NO_SOLUTION]


def test_pulp_stops_building_a_model_it_has_no_time_for() -> None:
    # Every deadline check moves the clock 1 s: a 3 s budget is spent after a few of the
    # 20,000-column chunks of a 150,000-column model, long before the model is complete.
    ticks = itertools.count()
    clock = lambda: float(next(ticks))
    n = 150_000
    problem = MilpProblem(
        c=np.ones(n),
        A=sp.csc_array(np.ones((1, n))),
        row_lower=np.array([1.0]),
        row_upper=np.array([np.inf]),
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integrality=np.ones(n, dtype=bool),
        sense="min",
    )
    params = SolveParams(time_limit=3.0, deadline=Deadline.after(3.0, clock))
    with pytest.raises(pulp_mod.OutOfTime):
        pulp_mod.PulpBackend("PULP_CBC_CMD").build(problem, params)
    used = next(ticks)
    assert used < 10  # stopped after a few chunks: the whole build would check 9 times plus per row
    r = pulp_mod.PulpBackend("PULP_CBC_CMD").solve(
        problem, SolveParams(time_limit=3.0, deadline=Deadline.after(3.0, clock))
    )
    assert (r.status, r.limit) == (Status.NO_SOLUTION, Limit.TIME)
    assert "had not finished building" in r.message


def test_a_real_half_second_limit_on_cbc_is_kept() -> None:
    # 2,000 x 200 classic p-median: 400,000 columns that PuLP alone needs seconds to build.
    rng = np.random.default_rng(5)
    d = np.linalg.norm(rng.uniform(0, 5000, (2000, 1, 2)) - rng.uniform(0, 5000, (1, 200, 2)), axis=2)
    inst = SitingInstance(d, weights=rng.integers(1, 100, 2000).astype(float))
    limit = 0.5
    t0 = time.monotonic()
    try:
        r = solve(inst, ModelSpec("pmedian", p=8, formulation="classic"), "cbc", SolveParams(time_limit=limit))
    except NoSolutionError as exc:
        assert "limit time" in str(exc)
    else:
        assert (r.status, r.limit) == (Status.FEASIBLE, Limit.TIME), r.message
        assert r.metrics is not None and not r.metrics.violations
    assert time.monotonic() - t0 < 1.05 * limit + 2.0


def test_a_stopped_solve_keeps_the_better_proven_bound() -> None:
    """A run cut short keeps the tighter of the solver's bound and the heuristic start's proven
    Lagrangian bound: the larger lower bound for p-median, the smaller upper bound for MCLP; a
    proven-optimal result is left alone."""
    from siting.optimizer.result import Limit, SolveResult, Status
    from siting.optimizer.solve import ModelSpec, _tighter_bound

    stopped = SolveResult(status=Status.FEASIBLE, solver="highs", objective=100.0, bound=None, limit=Limit.TIME)
    pmed, mclp = ModelSpec("pmedian", p=2), ModelSpec("mclp", p=2, radius=1.0)
    assert _tighter_bound(stopped, pmed, {"bound": 90.0}).bound == 90.0
    from dataclasses import replace

    assert _tighter_bound(replace(stopped, bound=95.0), pmed, {"bound": 90.0}).bound == 95.0
    assert _tighter_bound(replace(stopped, bound=80.0), pmed, {"bound": 90.0}).bound == 90.0
    assert _tighter_bound(replace(stopped, bound=130.0), mclp, {"bound": 120.0}).bound == 120.0
    assert _tighter_bound(replace(stopped, bound=110.0), mclp, {"bound": 120.0}).bound == 110.0
    assert _tighter_bound(stopped, pmed, {}).bound is None
    done = replace(stopped, status=Status.OPTIMAL, bound=100.0, limit=Limit.NONE)
    assert _tighter_bound(done, pmed, {"bound": 90.0}).bound == 100.0
