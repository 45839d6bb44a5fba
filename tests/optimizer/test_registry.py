"""The solver registry: exact backends and heuristics in one table, dispatched by kind."""

from __future__ import annotations

import numpy as np
import pytest

from siting.models.errors import BackendUnavailableError, ScenarioError
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics import run_heuristic
from siting.optimizer.heuristics.backend import HeuristicBackend
from siting.optimizer.registry import (
    EXACT_SOLVERS,
    HEURISTIC_SOLVERS,
    SOLVERS,
    get_backend,
    get_solver,
    make_backend,
    solver_kind,
    solver_table,
)
from siting.optimizer.result import Backend, SolveParams, Status
from siting.optimizer.solve import ModelSpec, solve


def line(n: int = 7) -> SitingInstance:
    xs = np.arange(n, dtype=float) * 3.0
    return SitingInstance(np.abs(xs[:, None] - xs[None, :]), weights=np.arange(1, n + 1, dtype=float))


def test_every_name_has_one_kind() -> None:
    assert set(EXACT_SOLVERS) | set(HEURISTIC_SOLVERS) == set(SOLVERS)
    assert not set(EXACT_SOLVERS) & set(HEURISTIC_SOLVERS)
    assert [solver_kind(n) for n in EXACT_SOLVERS] == ["exact"] * len(EXACT_SOLVERS)
    assert [solver_kind(n) for n in HEURISTIC_SOLVERS] == ["heuristic"] * len(HEURISTIC_SOLVERS)
    assert solver_kind(" Greedy ") == "heuristic" and solver_kind("pulp:GLPK_CMD") == "exact"
    assert solver_kind("gurobi") is None


def test_get_solver_makes_either_kind_and_get_backend_only_exact() -> None:
    assert isinstance(get_solver("interchange"), HeuristicBackend)
    highs = get_solver("HiGHS")
    assert isinstance(highs, Backend) and highs.name == "highs"
    with pytest.raises(BackendUnavailableError, match="'greedy' is a heuristic, not a MILP solver"):
        get_backend("greedy")
    with pytest.raises(BackendUnavailableError, match=r"unknown solver 'lagrangean' \(did you mean 'lagrangian'\?\)"):
        make_backend("lagrangean")


def test_the_table_lists_every_registered_solver_with_its_kind() -> None:
    rows = solver_table()
    by_name = {r["name"]: r for r in rows}
    assert set(SOLVERS) <= set(by_name)
    assert all(by_name[n]["kind"] == SOLVERS[n].kind for n in SOLVERS)
    kinds = [r["kind"] for r in rows]
    assert kinds == sorted(kinds), "exact solvers first, heuristics last"
    assert all(by_name[n]["available"] and by_name[n]["version"] == "siting" for n in HEURISTIC_SOLVERS)


@pytest.mark.parametrize("name, method", [("greedy", "greedy"), ("interchange", "interchange"), ("heuristic", "auto")])
def test_solve_runs_a_heuristic_through_its_registered_backend(name: str, method: str) -> None:
    inst = line()
    res = solve(inst, ModelSpec("pmedian", p=2), solver=name, params=SolveParams(seed=3))
    direct = run_heuristic(inst, "pmedian", p=2, method=method, seed=3)
    assert res.solver == name and res.stats["formulation"] == "heuristic"
    assert np.array_equal(res.open_sites, direct.open_mask)
    assert res.objective == pytest.approx(direct.objective)
    assert res.status in (Status.OPTIMAL, Status.FEASIBLE) and res.verified


def test_a_heuristic_refuses_a_model_it_cannot_solve() -> None:
    with pytest.raises(ScenarioError, match="heuristic solver 'greedy' handles the uncapacitated pmedian and mclp"):
        solve(line(), ModelSpec("pcenter", p=2), solver="greedy")
    with pytest.raises(ScenarioError, match="--formulation applies to exact solvers, not to the heuristic"):
        solve(line(), ModelSpec("pmedian", p=2, formulation="radius"), solver="lagrangian")
