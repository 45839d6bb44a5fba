"""Water and green background layers: the sea cut along a coastline, `siting prepare osm` writing them,
and a run drawing them on map.png, in the report's interactive map and in plan.gpkg with QGIS styles."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
import yaml
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.geodata.osm_background import SEA_INSET, sea_polygons
from siting.scenarios.outputs import palette

HELSINKI_PBF = Path("/work/shared/data/helsinki_centre/helsinki_centre.osm.pbf")
WUHAI = REPO / "scenarios" / "examples" / "wuhai"
runner = CliRunner()
BOX = (0.0, 0.0, 100.0, 100.0)
INNER = shapely.box(*(np.array(BOX) + SEA_INSET * 100 * np.array([1, 1, -1, -1])))


def _area(polys: list[shapely.Geometry]) -> float:
    return float(shapely.union_all(polys).area) if polys else 0.0


@pytest.mark.parametrize("northwards", [True, False])
def test_the_sea_lies_right_of_the_coastline(northwards: bool) -> None:
    # a straight coast from one edge to the other, ending a hair inside the box as a clipped extract does
    coast = shapely.LineString([(50, 0.2), (50, 99.8)] if northwards else [(50, 99.8), (50, 0.2)])
    sea = sea_polygons([coast], BOX)
    east = shapely.intersection(INNER, shapely.box(50, 0, 100, 100))
    west = shapely.intersection(INNER, shapely.box(0, 0, 50, 100))
    expect = east if northwards else west  # land on the left of the direction of travel
    assert _area(sea) == pytest.approx(expect.area)
    assert shapely.union_all(sea).symmetric_difference(expect).area == pytest.approx(0.0, abs=1e-6)


def test_an_island_is_land_inside_the_sea() -> None:
    island = shapely.LinearRing([(40, 40), (60, 40), (60, 60), (40, 60)])  # counter-clockwise: land inside
    sea = sea_polygons([shapely.LineString(island.coords)], BOX)
    assert _area(sea) == pytest.approx(INNER.area - 400.0)
    assert not shapely.union_all(sea).contains(shapely.Point(50, 50))
    lake_shore = shapely.LineString(list(island.coords)[::-1])  # clockwise: the water is inside
    assert _area(sea_polygons([lake_shore], BOX)) == pytest.approx(400.0)
    assert sea_polygons([], BOX) == []


def test_a_point_layer_as_water_is_one_clear_error(tmp_path: Path) -> None:
    shutil.copy(WUHAI / "wuhai.gpkg", tmp_path / "wuhai.gpkg")
    text = (WUHAI / "scenario.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  streets:\n    path: wuhai.gpkg\n    layer: streets\n",
        "  streets:\n    path: wuhai.gpkg\n    layer: streets\n  water:\n    path: wuhai.gpkg\n    layer: facilities\n",
    )
    assert "  water:\n" in text
    (tmp_path / "scenario.yaml").write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(tmp_path / "scenario.yaml")])
    assert result.exit_code == 1, result.output
    assert "layers.water" in result.output and "polygons or lines" in result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def helsinki_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HELSINKI_PBF.is_file():
        pytest.skip("the shared Helsinki extract is not on this machine")
    folder = tmp_path_factory.mktemp("helsinki_osm") / "scenario"
    made = runner.invoke(app, ["prepare", "osm", str(HELSINKI_PBF), "--out", str(folder), "--quiet"])
    assert made.exit_code == 0, made.output
    ran = runner.invoke(app, ["run", str(folder / "scenario.yaml"), "--out", str(folder / "out"), "--quiet"])
    assert ran.exit_code == 0, ran.output
    return folder


def test_prepared_scenario_names_water_and_green(helsinki_run: Path) -> None:
    scenario = yaml.safe_load((helsinki_run / "scenario.yaml").read_text(encoding="utf-8"))
    for role in ("water", "green"):
        assert scenario["layers"][role]["path"] == f"{role}.gpkg"
    water = pyogrio.read_dataframe(helsinki_run / "water.gpkg")
    green = pyogrio.read_dataframe(helsinki_run / "green.gpkg")
    assert water.crs is not None and green.crs is not None
    assert "natural=coastline" in set(water["kind"])  # Helsinki's harbour: the sea cut along the coastline
    assert {"leisure=park", "landuse=grass"} <= set(green["kind"])
    assert water.geom_type.isin(["Polygon", "MultiPolygon"]).all() and shapely.is_valid(water.geometry.values).all()
    readme = (helsinki_run / "README.md").read_text(encoding="utf-8")
    assert "`water.gpkg`" in readme and "`green.gpkg`" in readme


def test_run_draws_water_and_green_everywhere(helsinki_run: Path) -> None:
    from PIL import Image

    out = helsinki_run / "out"
    layers = dict(pyogrio.list_layers(out / "plan.gpkg"))
    assert layers.get("water") == "MultiPolygon" and layers.get("green") == "MultiPolygon"
    for role in ("water", "green"):
        assert pyogrio.read_info(out / "plan.gpkg", layer=role)["crs"] is not None
    styles = pyogrio.read_dataframe(out / "plan.gpkg", layer="layer_styles")
    rows = styles.set_index("f_table_name")
    assert palette.rgb(palette.WATER) in rows.loc["water", "styleQML"]
    assert palette.rgb(palette.GREEN) in rows.loc["green", "styleQML"]
    assert palette.WATER in rows.loc["water", "styleSLD"] and "PolygonSymbolizer" in rows.loc["water", "styleSLD"]
    page = (out / "report.html").read_text(encoding="utf-8")
    water_at, green_at, streets_at = (
        page.find('<g class="water">'),
        page.find('<g class="green">'),
        page.find("#c8c8c8"),
    )
    assert 0 < water_at < streets_at and 0 < green_at < streets_at  # under the streets
    pixels = np.asarray(Image.open(io.BytesIO((out / "map.png").read_bytes())).convert("RGB")).reshape(-1, 3)
    for colour in (palette.WATER, palette.GREEN):
        rgb = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)])
        assert (pixels == rgb).all(axis=1).sum() > 1000, colour  # filled areas, not a stray pixel


def test_every_style_of_the_run_fits_its_layer(helsinki_run: Path) -> None:
    from style_checks import qml_problems, sld_problems

    gpkg = helsinki_run / "out" / "plan.gpkg"
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles")
    spatial = {str(n): str(t) for n, t in pyogrio.list_layers(gpkg) if t is not None}
    assert set(styles["f_table_name"]) == set(spatial)  # one style per layer, none for a missing layer
    for row in styles.itertuples():
        info = pyogrio.read_info(gpkg, layer=row.f_table_name)
        columns = {str(c) for c in info["fields"]}
        geom = spatial[row.f_table_name]
        assert qml_problems(row.styleQML, geom, columns) == [], row.f_table_name
        assert sld_problems(row.styleSLD, geom, columns) == [], row.f_table_name
