"""The step-table gradual reach in scenario files: schema checks, and ``siting run --split``.

The tiny neighbourhood (tests/data/scenarios/tiny), straight-line distances, walking 4 km/h: one
minute is 200/3 m. A one-step table (credit 1 within the service's reach) is the plain coverage
model, so its decayed coverage must equal the plain run's coverage; a table with a second step adds
credit, so its optimum cannot be lower.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from paths import DATA

from siting.models.errors import ScenarioError
from siting.scenarios.pipeline.run import run_scenario, validate_scenario
from siting.scenarios.schema import Decay

TINY = DATA / "scenarios" / "tiny"


def tiny(tmp_path: Path, name: str, childcare: dict[str, Any]) -> Path:
    folder = tmp_path / name
    shutil.copytree(TINY, folder)
    doc = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    doc["distance"] = {"method": "euclidean"}
    doc["services"]["childcare"].update(childcare)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def child_solve(path: Path) -> dict[str, Any]:
    run_scenario(path, out=path.parent / "out", split=True)
    s = json.loads((path.parent / "out" / "summary.json").read_text(encoding="utf-8"))
    return s["services"]["childcare"]


def test_step_table_in_minutes_becomes_metres() -> None:
    d = Decay(steps=[(5, 1.0), (10, 0.6), (15, 0.3)])
    table = d.step_table(4.0)
    assert table is not None
    assert [r for r, _ in table] == pytest.approx([5 * 200 / 3, 10 * 200 / 3, 15 * 200 / 3])
    assert d.metres(4.0) == pytest.approx(1000.0)
    assert d.spec_fields(300.0, 4.0) == {"radius": None, "decay_steps": table}
    linear = Decay(reach_max_m=600)
    assert linear.spec_fields(300.0, 4.0) == {"radius": None, "reach_full": 300.0, "reach_max": 600.0}


@pytest.mark.parametrize(
    ("decay", "match"),
    [
        ({"steps": [[10, 1.0], [5, 0.5]]}, "strictly increasing"),
        ({"steps": [[5, 0.5], [10, 0.8]]}, "not increase"),
        ({"steps": [[5, 1.5]]}, r"\(0, 1\]"),
        ({"steps": [[5, 1.0]], "reach_max_m": 500}, "exactly one of"),
    ],
    ids=["minutes-decrease", "credit-rises", "credit-above-1", "two-rules"],
)
def test_bad_step_tables_name_the_field(tmp_path: Path, decay: dict[str, Any], match: str) -> None:
    with pytest.raises(ScenarioError, match=match) as err:
        validate_scenario(tiny(tmp_path, "bad", {"decay": decay}), split=True)
    assert "childcare" in str(err.value) and "decay" in str(err.value)


def test_step_table_runs_and_is_recorded(tmp_path: Path) -> None:
    plain = child_solve(tiny(tmp_path, "plain", {}))
    reach_min = 6  # the tiny scenario's childcare reach, minutes
    one = child_solve(tiny(tmp_path, "one", {"decay": {"steps": [[reach_min, 1.0]]}}))["solve"]
    two = child_solve(tiny(tmp_path, "two", {"decay": {"steps": [[reach_min, 1.0], [2 * reach_min, 0.5]]}}))["solve"]
    assert one["verified"] and two["verified"]
    assert one["decayed_coverage"] == pytest.approx(plain["coverage"]["after"], rel=1e-9)
    assert two["decayed_coverage"] >= one["decayed_coverage"] - 1e-9
    assert two["objective"] == pytest.approx(two["decayed_coverage"])
    # the report names the table (6 and 12 minutes at 4 km/h: 400 and 800 m)
    report = (tmp_path / "two" / "out" / "report.html").read_text(encoding="utf-8")
    assert "step table: 1 within 400, 0.5 within 800, 0 beyond" in report
