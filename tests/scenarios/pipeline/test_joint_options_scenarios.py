"""Capacity and equity rules inside the joint multi-service model (``siting run`` without ``--split``).

The Wuhai example's ``capacity`` and ``equity`` overrides run jointly; what summary.json records
(who is served by which facility, the group shares) is recounted here by the independent evaluator
(:func:`models.evaluate_joint_options.evaluate_joint_options`) on the joint instance rebuilt from the
run's scenario. The tiny scenario gives the infeasible floor and the combinations still refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from paths import REPO
from tiny_scenarios import tiny
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.evaluate_joint_options import evaluate_joint_options
from siting.scenarios.joint_build import joint_options, to_multiservice
from siting.scenarios.pipeline.run import run_scenario, validate_scenario

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"


def _plan_of(res: Any, inst: Any) -> np.ndarray:
    """The joint plan as recorded (the run's outcome, re-phased or not: the end state is what counts)."""
    assert res.joint is not None
    plan = np.asarray(res.joint.open_phase)
    assert plan.shape == (inst.S, inst.m)
    return plan


def test_wuhai_capacity_runs_jointly_and_the_evaluator_agrees(tmp_path: Path) -> None:
    res = run_scenario(WUHAI, "capacity", out=tmp_path / "out")
    assert res.mode == "joint"
    inst, _ = to_multiservice(res.built)
    options = joint_options(res.built, inst)
    assert options is not None and options.capacity
    plan = _plan_of(res, inst)
    m = inst.m
    assignment = {}
    for name, cap in options.capacity.items():
        rec = res.summary["services"][name]["solve"]["capacity"]
        fac_ids = pd.Index(np.concatenate([np.asarray(inst.site_ids).astype(str), cap.existing_ids.astype(str)]))
        rows = pd.Index(np.asarray(inst.demand_ids).astype(str))
        i = rows.get_indexer([str(x["demand_id"]) for x in rec["served_by"]])
        f = fac_ids.get_indexer([str(x["site_id"]) for x in rec["served_by"]])
        assert (i >= 0).all() and (f >= 0).all()
        assert not cap.allow_split  # unsplit: served_by is the whole assignment
        assignment[name] = (i, f, np.array([x["share"] for x in rec["served_by"]]))
    om = evaluate_joint_options(inst, options, plan, assignment, res.built.scenario.objective)
    assert not om.violations
    for name, use in om.capacity.items():
        rec = res.summary["services"][name]["solve"]
        assert use.served_weight == pytest.approx(rec["capacity"]["served_weight"])
        util = use.utilisation[use.is_open & np.isfinite(use.capacity)]
        assert util.size and (util <= 1 + 1e-9).all()
        assert rec["checks"]["capacity"]["ok"] and rec["verified"]
        # every open facility is reported, new ones on open plots
        reported = {f["site_id"] for f in rec["capacity"]["facilities"]}
        s = inst.service_index(name)
        assert {str(inst.site_ids[j]) for j in np.flatnonzero(plan[s] >= 0)} <= reported
        assert len(reported) == int(use.is_open.sum()) and int(use.is_open[:m].sum()) == int((plan[s] >= 0).sum())
    # the run's objective is the evaluator's: served demand for the capacitated service, coverage for the rest
    assert om.value == pytest.approx(res.summary["solve"]["objective"], rel=1e-6)
    assert res.summary["solve"]["verified"]
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="extras"' in report


def test_wuhai_equity_max_min_runs_jointly(tmp_path: Path) -> None:
    res = run_scenario(WUHAI, "equity", out=tmp_path / "out")
    assert res.mode == "joint"
    inst, _ = to_multiservice(res.built)
    options = joint_options(res.built, inst)
    assert options is not None
    name = options.max_min_service
    assert name is not None
    plan = _plan_of(res, inst)
    om = evaluate_joint_options(inst, options, plan, {}, res.built.scenario.objective)
    eq = res.summary["services"][name]["solve"]["equity"]
    recount = dict(zip(map(str, om.equity[name].labels), om.equity[name].shares, strict=True))
    for g in eq["groups"]:
        assert g["share_after"] == pytest.approx(recount[g["group"]])
    assert eq["objective"] == "maxmin"
    assert eq["worst_share_after"] == pytest.approx(om.equity[name].worst)
    assert eq["worst_share_after"] >= eq["worst_share_before"] - 1e-9
    stages = res.summary["solve"]["stages"]
    assert stages[0]["name"] == "worst share" and stages[0]["worst_share_evaluated"] == pytest.approx(
        eq["worst_share_after"]
    )
    assert om.value == pytest.approx(res.summary["solve"]["objective"], rel=1e-6)
    assert res.summary["solve"]["verified"]


def test_a_joint_floor_is_met_by_the_recorded_plan(tmp_path: Path) -> None:
    path = tiny(tmp_path, {"public_toilet": {"equity": {"group": "district", "min_share": 0.3}}})
    run_scenario(path, out=path.parent / "out")
    s = json.loads((path.parent / "out" / "summary.json").read_text(encoding="utf-8"))
    solve = s["services"]["public_toilet"]["solve"]
    assert solve["checks"]["equity_floor"]["ok"] and solve["verified"]
    assert all(g["share_after"] >= 0.3 - 1e-6 for g in solve["equity"]["groups"])


def test_an_infeasible_joint_floor_names_the_groups_and_writes_nothing(tmp_path: Path) -> None:
    path = tiny(tmp_path, {"public_toilet": {"max_sites": 1, "equity": {"group": "district", "min_share": 0.99}}})
    with pytest.raises(InfeasibleError, match=r"services\.public_toilet\.equity: groups .*north.*best share"):
        run_scenario(path, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # the command: one error line, exit code 3
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out"), "--quiet"])
    assert res.exit_code == 3
    assert res.stderr.startswith("error: ") and "services.public_toilet.equity" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("services", "top", "match"),
    [
        ({"childcare": {"decay": {"reach_max_m": 600}}}, {}, r"services\.childcare\.decay: the joint multi-service"),
        ({"public_toilet": {"robust": {"samples": 3}}}, {}, r"services\.public_toilet\.robust: .*--split"),
        (
            {"elderly_care": {"capacity": 50}},
            {"objective": "complete_circle"},
            r"services\.elderly_care\.capacity: the joint model takes capacity with objective max_coverage",
        ),
        (
            {
                "public_toilet": {"equity": {"group": "district", "max_min": True}},
                "childcare": {"equity": {"group": "district", "max_min": True}},
            },
            {},
            r"equity\.max_min: the joint model raises one service's worst group",
        ),
    ],
    ids=["decay", "robust", "capacity-complete-circle", "two-max-min"],
)
def test_what_the_joint_model_cannot_honour_is_an_error(
    tmp_path: Path, services: dict[str, dict[str, Any]], top: dict[str, Any], match: str
) -> None:
    with pytest.raises(ScenarioError, match=match):
        validate_scenario(tiny(tmp_path, services, **top))


def test_alternatives_with_service_options_is_an_error(tmp_path: Path) -> None:
    path = tiny(tmp_path, {"elderly_care": {"capacity": 50}})
    with pytest.raises(ScenarioError, match="--alternatives does not take services' capacity or equity"):
        run_scenario(path, out=tmp_path / "out", alternatives=2)
    assert not (tmp_path / "out").exists()
