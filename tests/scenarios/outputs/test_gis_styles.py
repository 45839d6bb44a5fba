"""The QGIS styles of plan.gpkg have the structure QGIS and SLD readers need (checks in tests/style_checks.py).

QGIS is not installable here; the checks parse every QML and SLD the code writes and hold them to
what QGIS reads and to the SLD 1.1 schema's structure, for every layer plan.gpkg can have, each
geometry type it can take, and the services of a run. The checks themselves are shown to fail on
broken styles.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from style_checks import qml_problems, sld_problems

from siting.scenarios.outputs import palette
from siting.scenarios.outputs.gis_styles import layer_look, qml, sld, styles_table
from siting.scenarios.outputs.gpkg import LAYERS

SERVICES = ["elderly_care", "childcare", "ev_charging", "public_toilet", "library"]  # a spare one too
GEOMETRY = {
    "chosen_sites": shapely.Point(0, 0),
    "chosen_plots": shapely.box(0, 0, 1, 1),
    "catchments": shapely.box(0, 0, 1, 1),
    "served_by": shapely.LineString([(0, 0), (1, 1)]),
    "candidates": shapely.Point(0, 0),
    "demand": shapely.Point(0, 0),
    "existing": shapely.Point(0, 0),
    "streets": shapely.LineString([(0, 0), (1, 1)]),
    "demand_areas": shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),
    "water": shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),
    "green": shapely.box(0, 0, 1, 1),
}
COLUMNS = {"service": "elderly_care", "rank": 1.0, "site_id": "a", "services": "elderly_care"}


def _layers() -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.GeoDataFrame([COLUMNS], geometry=[GEOMETRY[name]], crs=3857) for name in LAYERS}


def test_every_layer_can_be_styled() -> None:
    assert set(GEOMETRY) == set(LAYERS)  # a new layer needs its geometry here, and so its style checked


def test_every_style_has_the_structure_qgis_and_sld_readers_need() -> None:
    layers = _layers()
    table = styles_table(layers, SERVICES)
    assert list(table["f_table_name"]) == list(LAYERS)
    for row in table.itertuples():
        gdf = layers[row.f_table_name]
        columns = set(gdf.columns) - {gdf.geometry.name}
        geom = str(gdf.geom_type.iloc[0])
        assert qml_problems(row.styleQML, geom, columns) == [], row.f_table_name
        assert sld_problems(row.styleSLD, geom, columns) == [], row.f_table_name
        assert row.useAsDefault == 1 and row.f_geometry_column == "geom"


@pytest.mark.parametrize("geom", ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"])
def test_any_geometry_gets_a_symbol_of_its_kind(geom: str) -> None:
    for name in LAYERS:
        look = layer_look(name, geom, SERVICES)
        cols = {"service", "rank"}
        assert qml_problems(qml(look), geom, cols) == [], (name, geom)
        assert sld_problems(sld(name, look), geom, cols) == [], (name, geom)


def test_a_mixed_layer_is_styled_as_areas() -> None:
    water = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 0)]), shapely.box(0, 0, 1, 1)], crs=3857)
    row = styles_table({"water": water}, []).iloc[0]
    assert 'type="fill"' in row.styleQML and palette.rgb(palette.WATER) in row.styleQML


def test_the_checks_can_fail() -> None:
    look = layer_look("chosen_sites", "Point", SERVICES)
    good_qml, good_sld = qml(look), sld("chosen_sites", look)
    cols = {"service", "rank"}
    assert qml_problems(good_qml, "Point", cols) == []
    assert qml_problems(good_qml, "Polygon", cols)  # marker symbols on a polygon layer
    assert qml_problems(good_qml, "Point", {"rank"})  # categorized on a missing column
    assert qml_problems(good_qml, "Point", {"service"})  # labels on a missing column
    assert qml_problems(good_qml.replace('version="3.28.0"', ""), "Point", cols)
    assert qml_problems(good_qml.replace('name="color" value="', 'name="color" value="#'), "Point", cols)
    assert qml_problems(good_qml.replace('symbol="1"', 'symbol="99"'), "Point", cols)
    assert qml_problems(good_qml.replace("SimpleMarker", "SimpleFill"), "Point", cols)
    assert qml_problems("<qgis", "Point", cols)
    assert sld_problems(good_sld, "Point", cols) == []
    assert sld_problems(good_sld, "LineString", cols)  # a point symbolizer on a line layer
    assert sld_problems(good_sld, "Point", {"rank"})  # a filter on a missing column
    assert sld_problems(good_sld.replace('version="1.1.0"', 'version="1.0.0"'), "Point", cols)
    assert sld_problems(good_sld.replace("<se:WellKnownName>circle", "<se:WellKnownName>blob"), "Point", cols)
    assert sld_problems(good_sld.replace('name="fill">#', 'name="fill">'), "Point", cols)
    # the schema's order: a Size before the Mark, or a Filter after the symbolizer
    swapped = good_sld.replace("<se:Graphic><se:Mark>", "<se:Graphic><se:Size>3</se:Size><se:Mark>")
    assert any("order" in p for p in sld_problems(swapped, "Point", cols))
    polygon = sld("chosen_plots", layer_look("chosen_plots", "Polygon", SERVICES))
    assert sld_problems(polygon, "Polygon", cols) == []
    reordered = polygon.replace("<se:PolygonSymbolizer><se:Fill>", "<se:PolygonSymbolizer><se:Stroke/><se:Fill>")
    assert any("order" in p for p in sld_problems(reordered, "Polygon", cols))
