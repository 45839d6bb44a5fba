"""The ranked plan of a capacitated service in a run (joint, and ``siting run --split``): gains, cumulative
and drop-one loss in served demand, and the reason says how much of the demand within reach the
site takes and whether it is full."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from paths import DATA

from siting.scenarios.outputs.console import run_lines
from siting.scenarios.pipeline.run import run_scenario

TINY = DATA / "scenarios" / "tiny"


@pytest.mark.parametrize("split", [True, False], ids=["split", "joint"])
def test_capacitated_rows_count_served_demand(tmp_path: Path, split: bool) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    doc = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    doc["distance"] = {"method": "euclidean"}
    doc["services"]["elderly_care"]["capacity_by_land_type"] = {"warehouse": 40, "factory": 60, "commercial": 30}
    (folder / "scenario.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    res = run_scenario(folder / "scenario.yaml", out=folder / "out", split=split)
    assert res.mode == ("split" if split else "joint")
    plan = pd.read_csv(folder / "out" / "plan.csv", encoding="utf-8-sig")
    summary = json.loads((folder / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["checks"]["all_ok"], summary["checks"].get("ranked_table")
    cap = summary["services"]["elderly_care"]["solve"]["capacity"]
    load = {str(f["site_id"]): f for f in cap["facilities"]}
    rows = plan[plan["service"] == "elderly_care"]
    assert not rows.empty
    weight = float(doc["services"]["elderly_care"].get("weight", 1.0))
    for _, r in rows.iterrows():
        fac = load[str(r["site_id"])]
        assert "within its capacity" in r["reason"]
        # the gain is served demand: never more than the site's capacity
        assert r["weighted_gain"] / weight <= fac["capacity"] + 1e-6
        assert ("; full" in r["reason"]) == (fac["load"] >= fac["capacity"] - 1e-6)
    # served demand after the last row (existing facilities included) is the plan's, as the evaluator counts it
    assert rows["covered_after"].iloc[-1] == pytest.approx(cap["served_weight"])
    # the other services keep the coverage reason
    assert not plan[plan["service"] != "elderly_care"]["reason"].str.contains("within its capacity").any()
    # the console line of the capacitated service says how many are served within capacity
    line = next(x for x in run_lines(summary, res.mode, folder / "out", [], "en") if x.startswith("elderly_care:"))
    assert f"served within capacity {cap['served_weight']:,.0f}" in line
    other = next(x for x in run_lines(summary, res.mode, folder / "out", [], "en") if x.startswith("childcare:"))
    assert "served within capacity" not in other
