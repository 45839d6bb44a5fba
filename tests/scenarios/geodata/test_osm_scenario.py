"""`siting prepare osm` gives a scenario ready to decide on; `siting init --example NAME`."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.geodata.osm import CENSUS_SHARES
from siting.scenarios.pipeline.starters import EXAMPLES, OSM_ROOM_M2, OSM_SERVICE_GROUPS, group_weights

ROOT = REPO
KOTKA_PBF = Path("/work/shared/data/kotka_karhula/kotka_karhula.osm.pbf")
KOTKA_EXAMPLE = ROOT / "scenarios" / "examples" / "kotka" / "kotka.gpkg"
runner = CliRunner()


@pytest.fixture(scope="module")
def kotka_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not KOTKA_PBF.is_file():
        pytest.skip("the shared Kotka extract is not on this machine")
    folder = tmp_path_factory.mktemp("kotka") / "scenario"
    made = runner.invoke(app, ["prepare", "osm", str(KOTKA_PBF), "--out", str(folder), "--quiet"])
    assert made.exit_code == 0, made.output
    ran = runner.invoke(app, ["run", str(folder / "scenario.yaml"), "--out", str(folder / "out"), "--quiet"])
    assert ran.exit_code == 0, ran.output
    return folder


def test_kotka_residents_are_within_a_fifth_of_the_example(kotka_run: Path) -> None:
    example = float(gpd.read_file(KOTKA_EXAMPLE, layer="demand")["residents"].sum())
    prepared = float(gpd.read_file(kotka_run / "demand.gpkg")["residents"].sum())
    run_demand = gpd.read_file(kotka_run / "out" / "plan.gpkg", layer="demand")
    assert float(run_demand["residents"].sum()) == pytest.approx(prepared, rel=1e-6)
    assert abs(prepared - example) <= 0.2 * example, (prepared, example)


def test_kotka_summary_names_the_budget_and_the_demand_groups(kotka_run: Path) -> None:
    import json

    summary = json.loads((kotka_run / "out" / "summary.json").read_text(encoding="utf-8"))
    budget = summary["scenario"]["budget"]
    assert budget["total"] > 0 and len(budget["phases"]) == 3
    assert sum(budget["phases"].values()) == pytest.approx(budget["total"])
    groups = {s: v["demand_group"] for s, v in summary["services"].items()}
    assert groups == {s: g for s, g in OSM_SERVICE_GROUPS.items()}
    demand = gpd.read_file(kotka_run / "demand.gpkg")
    for group, share in CENSUS_SHARES.items():  # each group is its census share of residents
        assert float(demand[group].sum()) == pytest.approx(share * float(demand["residents"].sum()), rel=1e-9)
    scenario = yaml.safe_load((kotka_run / "scenario.yaml").read_text(encoding="utf-8"))
    for svc, spec in scenario["services"].items():
        assert spec["area_m2"] in (0, OSM_ROOM_M2[svc])
    text = (kotka_run / "scenario.yaml").read_text(encoding="utf-8")
    assert "total: " in text and text.count("# PLACEHOLDER") >= 4


def test_group_weights_make_each_group_worth_all_residents() -> None:
    w = group_weights({"residents": 1000.0, "old": 200.0, "none": 0.0}, {"a": "residents", "b": "old", "c": "none"})
    assert w == {"a": 1.0, "b": 5.0, "c": 1.0}


def test_bad_shares_are_one_line_errors(tmp_path: Path) -> None:
    for share in ("elderly=2", "elderly", "residents=0.1", "x y=0.1"):
        res = runner.invoke(app, ["prepare", "osm", str(KOTKA_PBF), "--out", str(tmp_path / "o"), "--share", share])
        assert res.exit_code == 1 and res.stderr.startswith("error: ") and "share" in res.stderr, res.stderr
        assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("example", EXAMPLES)
def test_init_example_copies_and_names_its_own_path(tmp_path: Path, example: str) -> None:
    target = tmp_path / f"my_{example}"
    res = runner.invoke(app, ["init", str(target), "--example", example])
    assert res.exit_code == 0, res.output
    text = (target / "scenario.yaml").read_text(encoding="utf-8")
    assert "scenarios/examples/" not in text
    assert f"siting run {target.resolve().as_posix()}/scenario.yaml" in text
    assert text.startswith("# yaml-language-server: $schema=scenario.schema.json")
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert f"scenarios/examples/{example}/" not in readme


def test_init_unknown_example_is_an_error(tmp_path: Path) -> None:
    res = runner.invoke(app, ["init", str(tmp_path / "x"), "--example", "paris"])
    assert res.exit_code == 1 and "helsinki, wuhai, kotka" in res.stderr and not (tmp_path / "x").exists()
