"""The bundled example scenarios (scenarios/examples/): they validate, run, and the Wuhai data regenerate.

* every ``scenario.yaml`` (and each of its named overrides) passes the schema, and its layers and
  data pass ``siting validate``'s checks;
* each example folder is small, starts with the schema comment, and says its licence;
* the synthetic Wuhai generator is deterministic and the committed ``wuhai.gpkg`` is what it writes;
* the examples run end to end through the CLI (Helsinki with walking distances in well under 30 s),
  every service's plan re-checked by the evaluator.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import yaml
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.pipeline.run import validate_scenario
from siting.scenarios.schema import load_scenario

ROOT = REPO
EXAMPLES = ROOT / "scenarios" / "examples"
SCENARIO_FILES = sorted(EXAMPLES.glob("*/scenario.yaml"))
WUHAI = EXAMPLES / "wuhai"
SCHEMA_LINE = "# yaml-language-server: $schema=../../scenario.schema.json"

runner = CliRunner()


def _overrides(path: Path) -> list[str | None]:
    """None (the base scenario) and every named override of the file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [None, *sorted(doc.get("scenarios") or {})]


CASES = [(p, o) for p in SCENARIO_FILES for o in _overrides(p)]


def _id(case: tuple[Path, str | None]) -> str:
    return f"{case[0].parent.name}:{case[1] or 'base'}"


def test_the_three_examples_exist() -> None:
    assert {p.parent.name for p in SCENARIO_FILES} >= {"helsinki", "kotka", "wuhai"}


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_example_validates(case: tuple[Path, str | None]) -> None:
    """Schema, layers, distances and per-service checks (``siting validate``), for base and overrides."""
    path, override = case
    body, _ = load_scenario(path, override)
    # gradual reach and robust plans run each service on its own (siting run --split); capacity and
    # equity run in the joint model too
    split = (
        any(svc.decay is not None or svc.robust is not None for svc in body.services.values())
        and len(body.services) > 1
    )
    built = validate_scenario(path, override, split=split)
    body = built.scenario
    assert set(built.services) == set(body.services), f"{_id(case)}: some service was not built"
    for name, problem in built.services.items():
        assert problem.instance.n > 0 and problem.instance.m > 0, name
        assert problem.instance.eligible.any(), f"{_id(case)}: {name} has no eligible site"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.parent.name for p in SCENARIO_FILES])
def test_example_folder_is_small_and_attributed(path: Path) -> None:
    folder = path.parent
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and "out" not in f.relative_to(folder).parts)
    assert size < 3_000_000, f"{folder.name} holds {size / 1e6:.2f} MB; keep an example under 3 MB"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    if folder.name == "wuhai":
        assert "SYNTHETIC" in readme
    else:
        assert "© OpenStreetMap contributors" in readme and "ODbL" in readme
    if folder.name == "helsinki":
        assert "Contains population grid data © HSY 2021, CC BY 4.0" in readme


# --------------------------------------------------------------------------- Wuhai generator
def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wuhai_generate", WUHAI / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tables(path: Path) -> dict[str, pd.DataFrame]:
    """Every layer's attribute table, geometry as WKB, rows in file order."""
    out = {}
    for layer, _ in pyogrio.list_layers(path):
        gdf = gpd.read_file(path, layer=layer)
        frame = pd.DataFrame(gdf.drop(columns="geometry"))
        frame["wkb"] = gdf.geometry.to_wkb()
        out[str(layer)] = frame
    return out


def test_wuhai_generator_is_deterministic(tmp_path: Path) -> None:
    gen = _generator()
    a = gen.generate(tmp_path / "a")
    b = gen.generate(tmp_path / "b")
    ta, tb = _tables(a), _tables(b)
    assert list(ta) == ["communities", "blocks", "candidate_sites", "facilities", "streets"]
    for layer in ta:
        pd.testing.assert_frame_equal(ta[layer], tb[layer], obj=layer)
    assert a.read_bytes() == b.read_bytes(), "same seed, same GDAL: the GeoPackage should be byte-identical"
    # the committed file is what the generator writes (regenerate it when generate.py changes)
    committed = _tables(WUHAI / "wuhai.gpkg")
    for layer in ta:
        pd.testing.assert_frame_equal(ta[layer], committed[layer], obj=f"committed wuhai.gpkg: {layer}")
    # another seed gives other data
    c = _tables(gen.generate(tmp_path / "c", seed=7))
    assert not c["blocks"]["residents"].equals(ta["blocks"]["residents"])


def test_wuhai_data_is_labelled_synthetic_and_shaped_like_the_pilot() -> None:
    path = WUHAI / "wuhai.gpkg"
    tables = _tables(path)
    for layer, frame in tables.items():
        assert frame["synthetic"].astype(bool).all(), layer
        info = pyogrio.read_info(path, layer=layer)
        assert info["layer_metadata"]["synthetic"] == "true", layer
        assert info["layer_metadata"]["DESCRIPTION"].startswith("SYNTHETIC"), layer
    body, _ = load_scenario(WUHAI / "scenario.yaml")
    assert "SYNTHETIC" in body.description
    comm = tables["communities"]
    assert sorted(comm["district"].value_counts().items()) == [("haibowan", 3), ("hainan", 1), ("wuda", 1)]
    assert comm["residents"].between(9_000, 12_000).all()
    assert comm["area_m2"].between(200_000, 300_000).all()
    blocks = tables["blocks"]
    assert blocks["residents"].between(1_000, 3_000).all()
    assert (
        blocks.groupby("community_id")["residents"].sum().to_dict()
        == comm.set_index("community_id")["residents"].to_dict()
    )
    for group in ("elderly_60plus", "infants_0_3", "ev_households"):
        assert (blocks[group] > 0).all() and (blocks[group] < blocks["residents"]).all(), group
    sites = tables["candidate_sites"]
    assert set(sites["land_type"]) == {"idle_land", "warehouse", "factory", "commercial", "demolition_site"}
    assert sites["area_m2"].between(100, 3_000).all()
    assert set(tables["facilities"]["service"]) <= set(body.services)
    assert set(body.services) == {"elderly_care", "childcare", "ev_charging", "public_toilet"}
    assert list(body.budget.phases) == ["2022", "2023", "2024"]
    assert body.budget.total is not None and sum(body.budget.phases.values()) <= body.budget.total


# ------------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("name", ["helsinki", "kotka", "wuhai"])
def test_example_runs_end_to_end(name: str, tmp_path: Path) -> None:
    """``siting run`` on the base scenario (walking distances): exit 0, outputs written, plans verified.

    The Helsinki run is the acceptance case of a city-district plan; its speed is measured in
    benchmarks/bench_helsinki_run.py, not here (a shared machine is noisy).
    """
    scenario = EXAMPLES / name / "scenario.yaml"
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"plan.csv", "uncovered.csv", "summary.json"}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["distance"]["method"] == "network"
    body, _ = load_scenario(scenario)
    assert set(summary["services"]) == set(body.services)
    for service, rec in summary["services"].items():
        assert rec["solve"]["status"] == "OPTIMAL", (service, rec["solve"])
        assert rec["solve"]["verified"], service
        assert rec["plan_check"]["violations"] == [], service
        assert rec["coverage"]["after"] >= rec["coverage"]["before"], service
        assert rec["new_sites"] >= 1, f"{name}: the budget buys no {service} site"
    plan = pd.read_csv(out / "plan.csv")
    assert set(plan["service"]) == set(body.services)
