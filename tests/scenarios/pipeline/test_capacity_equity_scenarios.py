"""Capacity, equity, gradual reach and robust plans in scenario files (``siting run --split``).

The tiny test neighbourhood (tests/data/scenarios/tiny) is copied to a temporary folder, its demand
table given a synthetic ``district`` column, and its scenario edited per test; distances are
straight-line so each run takes seconds. What a mode cannot honour must be an error naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from paths import REPO
from tiny_scenarios import tiny

from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.evaluate_capacity import evaluate_capacity
from siting.scenarios.pipeline.run import run_scenario, validate_scenario

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"


def summary(path: Path) -> dict[str, Any]:
    run_scenario(path, out=path.parent / "out", split=True)
    return json.loads((path.parent / "out" / "summary.json").read_text(encoding="utf-8"))


def test_capacity_by_land_type_is_honoured_and_recorded(tmp_path: Path) -> None:
    caps = {"warehouse": 40, "factory": 60, "commercial": 30, "existing": 25}
    s = summary(tiny(tmp_path, {"elderly_care": {"capacity_by_land_type": caps}}))
    solve = s["services"]["elderly_care"]["solve"]
    cap = solve["capacity"]
    assert solve["checks"]["capacity"]["ok"] and solve["verified"]
    assert cap["facilities"] and solve["objective"] == pytest.approx(cap["served_weight"])
    for f in cap["facilities"]:
        assert f["load"] <= f["capacity"] + 1e-6
        assert f["capacity"] in caps.values()
    # a service without a capacity keeps the plain model
    assert "capacity" not in s["services"]["public_toilet"]["solve"]
    report = (tmp_path / "tiny" / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="extras"' in report and "capacity use" in report


def test_split_joint_record_is_the_sum_of_its_parts(tmp_path: Path) -> None:
    """With one service solved alone (capacity) and the others jointly, the run's objective and bound
    are the parts' sums; the plan's plain coverage is still the evaluator's recount."""
    caps = {"warehouse": 40, "factory": 60, "commercial": 30, "existing": 25}
    s = summary(tiny(tmp_path, {"elderly_care": {"capacity_by_land_type": caps}}))
    part = s["services"]["elderly_care"]["solve"]
    assert part["mode"] == "service" and part["model"] == "mclp"
    others = [st for st in s["solve"]["stages"] if st["name"].startswith("others:")]
    assert others, "the services without options are solved jointly"
    weight = s["scenario"]["services"]["elderly_care"]["weight"]
    assert s["solve"]["objective"] == pytest.approx(weight * part["objective"] + others[0]["objective"])
    assert s["solve"]["status"] != "OPTIMAL" or part["status"] == "OPTIMAL"
    assert s["solve"]["verified"] and s["checks"]["all_ok"]
    # the capacitated service's new facilities are its rows of the joint plan
    plan = pd.read_csv(tmp_path / "tiny" / "out" / "plan.csv", dtype=str)
    mine = set(plan.loc[plan["service"] == "elderly_care", "site_id"])
    assert mine == {f["site_id"] for f in part["capacity"]["facilities"] if not f["site_id"].startswith("existing")}


def test_wuhai_capacity_split_keeps_every_facility_within_capacity(tmp_path: Path) -> None:
    """The Wuhai ``capacity`` override with --split: the recorded assignment, recounted by the
    capacity evaluator on the service's instance, loads no facility beyond 100 %."""
    res = run_scenario(WUHAI, "capacity", out=tmp_path / "out", split=True)
    capped = [n for n, svc in res.built.scenario.services.items() if svc.capacitated]
    assert capped
    for name in capped:
        solve = res.summary["services"][name]["solve"]
        rec = solve["capacity"]
        pb = res.built.services[name]
        inst = pb.instance
        col = pd.Index(inst.site_ids.astype(str))
        row = pd.Index(inst.demand_ids.astype(str))
        served = rec["served_by"]
        i = row.get_indexer([str(x["demand_id"]) for x in served])
        j = col.get_indexer([str(x["site_id"]) for x in served])
        share = np.array([x["share"] for x in served], dtype=np.float64)
        assert (i >= 0).all() and (j >= 0).all()
        assignment = sp.csr_array((share, (i, j)), shape=(inst.n, inst.m))
        open_sites = np.zeros(inst.m, dtype=bool)
        open_sites[col.get_indexer([str(f["site_id"]) for f in rec["facilities"]])] = True
        assert open_sites[inst.existing].all()
        check = evaluate_capacity(
            inst, open_sites, assignment, pb.reach_m, split_allowed=res.built.scenario.services[name].allow_split
        )
        assert not check.violations
        used = check.utilisation[open_sites & np.isfinite(inst.capacity)]
        assert used.size and (used <= 1.0 + 1e-9).all()
        assert check.served_weight == pytest.approx(solve["objective"]) == pytest.approx(rec["served_weight"])
        assert solve["verified"] and solve["checks"]["capacity"]["ok"]
    assert res.summary["solve"]["verified"]


def test_equity_max_min_raises_the_worst_district(tmp_path: Path) -> None:
    s = summary(tiny(tmp_path, {"public_toilet": {"max_sites": 1, "equity": {"group": "district", "max_min": True}}}))
    eq = s["services"]["public_toilet"]["solve"]["equity"]
    assert {g["group"] for g in eq["groups"]} == {"north", "south"}
    assert eq["worst_share_after"] >= eq["worst_share_before"] - 1e-9
    assert eq["floor_cost"] >= -1e-9


def test_an_infeasible_floor_names_the_groups_and_writes_nothing(tmp_path: Path) -> None:
    path = tiny(tmp_path, {"public_toilet": {"max_sites": 1, "equity": {"group": "district", "min_share": 0.99}}})
    with pytest.raises(InfeasibleError, match=r"services\.public_toilet\.equity: .*groups north, south"):
        run_scenario(path, out=tmp_path / "out", split=True)
    assert not (tmp_path / "out").exists()


def test_robust_and_decay_run_and_are_recorded(tmp_path: Path) -> None:
    robust = {"samples": 5, "population_noise": 0.2, "seed": 3}
    s = summary(tiny(tmp_path, {"public_toilet": {"robust": robust}, "childcare": {"decay": {"reach_max_m": 600}}}))
    rb = s["services"]["public_toilet"]["solve"]["robust"]
    assert rb["samples"] == 5 and rb["robust_worst_case"] >= rb["nominal_worst_case"] - 1e-6
    assert s["services"]["childcare"]["solve"]["decayed_coverage"] > 0


@pytest.mark.parametrize(
    ("services", "split", "match"),
    [
        ({"public_toilet": {"robust": {"samples": 3}}}, False, "run with siting run --split"),
        (
            {"childcare": {"decay": {"reach_max_m": 600}}},
            False,
            "services.childcare.decay: the joint multi-service model",
        ),
        ({"public_toilet": {"equity": {"group": "ward", "min_share": 0.3}}}, True, "no column 'ward'"),
        ({"public_toilet": {"allow_split": True}}, True, "allow_split needs a capacity"),
        (
            {"public_toilet": {"robust": {"samples": 3}, "decay": {"reach_max_m": 500}}},
            True,
            "do not combine;",
        ),
    ],
    ids=["robust-joint", "decay-joint", "missing-column", "split-without-capacity", "two-options"],
)
def test_what_cannot_be_honoured_is_an_error(
    tmp_path: Path, services: dict[str, dict[str, Any]], split: bool, match: str
) -> None:
    with pytest.raises(ScenarioError, match=match):
        validate_scenario(tiny(tmp_path, services), split=split)


def test_capacity_with_an_equity_floor_holds_both_in_split_mode(tmp_path: Path) -> None:
    """capacity + min_share: the floor holds on served demand, every facility within its capacity."""
    caps = {"warehouse": 40, "factory": 60, "commercial": 30, "existing": 25}
    services = {"elderly_care": {"capacity_by_land_type": caps, "equity": {"group": "district", "min_share": 0.01}}}
    s = summary(tiny(tmp_path, services))
    solve = s["services"]["elderly_care"]["solve"]
    assert solve["checks"]["capacity"]["ok"] and solve["checks"]["equity_floor"]["ok"] and solve["verified"]
    for f in solve["capacity"]["facilities"]:
        assert f["load"] <= f["capacity"] + 1e-6
    assert all(g["share_after"] >= 0.01 - 1e-6 for g in solve["equity"]["groups"])
    # max-min does not combine with a capacity: still an error naming both
    services["elderly_care"]["equity"] = {"group": "district", "max_min": True}
    with pytest.raises(ScenarioError, match="capacity and equity do not combine"):
        validate_scenario(tiny(tmp_path / "again", services), split=True)
