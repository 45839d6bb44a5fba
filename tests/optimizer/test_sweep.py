"""The budget frontier: optimizer.sweep against brute force, monotonicity, the knee, and ``siting sweep``."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import strategies
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import best_joint_coverage
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import ScenarioError
from siting.models.multiservice import MultiServiceInstance, ServiceData, evaluate_joint
from siting.optimizer.result import SolveParams, Status
from siting.optimizer.sweep import budget_sweep, knee_index, with_budget
from siting.scenarios.outputs.sweep import parse_budget_range

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"
PARAMS = SolveParams(time_limit=30, mip_gap=1e-9)
runner = CliRunner()


def small_instance(seed: int, T: int = 1) -> MultiServiceInstance:
    rng = np.random.default_rng(seed)
    S, m, n = 2, 4, 8
    services = []
    for s in range(S):
        elig = rng.random(m) < 0.85
        elig[s] = True
        services.append(
            ServiceData(
                name=f"svc{s}",
                weights=rng.integers(1, 20, n).astype(float),
                coverage=sp.csr_array(rng.random((n, m)) < 0.35),
                distances=None,
                cost=np.where(elig, rng.integers(1, 5, m).astype(float), np.nan),
                eligible=elig,
                area=1.0,
                existing_covered=np.zeros(n, dtype=bool),
                existing_distance=np.full(n, np.inf),
                weight=float(rng.choice([1.0, 2.0])),
            )
        )
    return MultiServiceInstance(
        demand_ids=np.arange(n),
        site_ids=np.array([f"p{j}" for j in range(m)], dtype=object),
        room=rng.integers(1, 3, m).astype(float),
        services=tuple(services),
        total_budget=10.0,
        phases=tuple(f"t{t}" for t in range(T)),
        phase_budgets=np.full(T, 10.0 / T) if T > 1 else None,
    )


@settings(max_examples=6, deadline=None)
@given(inst=strategies.joint_instances())
def test_sweep_points_are_the_brute_force_optima(inst: MultiServiceInstance) -> None:
    budgets = [0.0, 2.0, 4.0, 7.0, 12.0]
    points = budget_sweep(inst, budgets, "max_coverage", "highs", PARAMS)
    assert [p.budget for p in points] == budgets
    for p in points:
        assert p.status == Status.OPTIMAL and p.verified
        assert p.objective == pytest.approx(best_joint_coverage(with_budget(inst, p.budget)), abs=1e-6)
        assert p.cost <= p.budget + 1e-9
        assert p.gap is not None and p.gap <= 1e-6


@settings(max_examples=8, deadline=None)
@given(data=st.data(), T=st.integers(1, 3))
def test_sweep_is_monotone_and_scales_phase_budgets(data: st.DataObject, T: int) -> None:
    inst = data.draw(strategies.joint_instances(phases=T), label="instance")
    budgets = [9.0, 0.0, 3.0, 3.0, 6.0, 15.0]  # unsorted, with a duplicate
    points = budget_sweep(inst, budgets, "max_coverage", "highs", PARAMS)
    assert [p.budget for p in points] == sorted(budgets)
    values = [p.objective for p in points]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(values)), values
    for p in points:
        met = evaluate_joint(with_budget(inst, p.budget), p.open_phase)
        assert met.violations == [] and met.weighted_coverage == pytest.approx(p.objective)
        assert p.status == Status.OPTIMAL or p.gap is not None
    if T > 1:
        scaled = with_budget(inst, 5.0)
        assert scaled.phase_budgets is not None and scaled.phase_budgets.sum() == pytest.approx(5.0)


def test_a_worse_solve_keeps_the_previous_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver that returns the empty plan at the second budget: the sweep keeps the first plan."""
    import siting.optimizer.joint as joint_mod

    inst = small_instance(7)
    real = joint_mod.solve_joint
    calls = {"k": 0}

    def flaky(sub, objective="max_coverage", solver="highs", params=None, **kw):  # type: ignore[no-untyped-def]
        calls["k"] += 1
        res = real(sub, objective, solver, params, **{k: v for k, v in kw.items() if k != "primary_bound"})
        if calls["k"] == 2:
            empty = np.full((sub.S, sub.m), -1, dtype=np.int8)
            return dataclasses.replace(
                res, open_phase=empty, status=Status.FEASIBLE, metrics=evaluate_joint(sub, empty)
            )
        return res

    monkeypatch.setattr(joint_mod, "solve_joint", flaky)
    points = budget_sweep(inst, [5.0, 8.0], "max_coverage", "highs", PARAMS)
    assert points[0].objective > 0
    assert points[1].kept_previous
    assert points[1].objective == pytest.approx(points[0].objective)
    assert (points[1].open_phase == points[0].open_phase).all()
    assert points[1].status == Status.FEASIBLE


def test_knee_rule_hand_checked() -> None:
    # average slope 22 / 4 = 5.5; segment slopes 10, 10, 1, 1; flat below 2.75: the last two -> knee at index 2
    assert knee_index([0, 1, 2, 3, 4], [0, 10, 20, 21, 22]) == 2
    # a straight line never flattens: no knee
    assert knee_index([0, 1, 2, 3], [0, 1, 2, 3]) is None
    # already flat: the first point is the knee
    assert knee_index([0, 1, 2], [5, 5, 5]) == 0
    # a point without a plan (NaN) is skipped: same knee as without it
    assert knee_index([0, 1, 2, 3, 4, 5], [np.nan, 0, 10, 20, 21, 22]) == 3
    # too few points
    assert knee_index([1.0], [3.0]) is None


def test_parse_budget_range() -> None:
    assert parse_budget_range("1e6:3e6:3") == [1e6, 2e6, 3e6]
    assert parse_budget_range("5:5:1") == [5.0]
    for bad, text in [
        ("1e6:2e6", "FROM:TO:STEPS"),
        ("a:2:3", "numbers"),
        ("3:2:4", "FROM <= TO"),
        ("1:2:x", "whole"),
        ("1:2:1", "STEPS"),
    ]:
        with pytest.raises(ScenarioError, match=text):
            parse_budget_range(bad)


def test_siting_sweep_on_wuhai(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(WUHAI), "--budget", "1e6:1.3e7:5", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".siting-manifest.json", "sweep.csv", "sweep.png"]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(out / "sweep.csv")
    assert table["budget"].tolist() == pytest.approx([1e6, 4e6, 7e6, 1e7, 1.3e7])
    assert (np.diff(table["objective"]) >= -1e-9).all(), "coverage never decreases"
    assert (table["cost"] <= table["budget"] + 1e-6).all()
    assert table["verified"].all()
    proven = table["status"] == "OPTIMAL"
    assert (proven | table["gap"].notna()).all(), "every point proven or its gap shown"
    assert table["knee"].sum() <= 1
    if table["knee"].any():
        assert "<- knee" in result.stdout
    for name in ("elderly_care", "childcare", "ev_charging", "public_toilet"):
        assert (table[f"share_{name}"].between(0, 1)).all()
    # 13 million covers at least what the scenario's own 12 million does in a joint run
    from siting.scenarios.pipeline.run import run_scenario

    res = run_scenario(WUHAI, out=tmp_path / "run")
    assert res.summary["joint"]["value"] <= table["objective"].iloc[-1] + 1e-6
    bad = runner.invoke(app, ["sweep", str(WUHAI), "--budget", "3:2:4", "--out", str(tmp_path / "x"), "--quiet"])
    assert bad.exit_code == 1 and "FROM <= TO" in bad.stderr and not (tmp_path / "x").exists()
