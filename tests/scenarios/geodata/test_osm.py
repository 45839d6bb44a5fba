"""OpenStreetMap import on the real Helsinki centre extract (tests/data/network/helsinki_centre.osm.pbf)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from paths import DATA

from siting.models.errors import DataError
from siting.scenarios.geodata.network import StreetNetwork
from siting.scenarios.geodata.osm import (
    DEFAULT_FLOOR_AREA_PER_RESIDENT_M2,
    LAND_TYPES,
    SERVICES,
    PreparedOsm,
    _classify_services,
    _classify_sites,
    _estimate_residents,
    prepare_osm,
    read_walking_ways,
)

PBF = DATA / "network" / "helsinki_centre.osm.pbf"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedOsm:
    return prepare_osm(PBF, tmp_path_factory.mktemp("helsinki") / "scenario")


def test_writes_four_layers_with_crs_and_columns(prepared: PreparedOsm) -> None:
    out = prepared.out_dir
    assert (
        sorted(p.name for p in out.iterdir())
        == [
            "README.md",
            "demand.gpkg",
            "existing.gpkg",
            "green.gpkg",  # the map's background: the extract has parks and water (tests/scenarios/geodata/test_osm_background.py)
            "sites.gpkg",
            "streets.gpkg",
            "water.gpkg",
        ]
    )
    assert sorted(prepared.background) == ["green", "water"]
    assert prepared.crs == "EPSG:32635"  # UTM 35N, Helsinki
    for role, layer in prepared.layers.items():
        assert layer.path == out / f"{role}.gpkg" and layer.layer == role
        assert pyogrio.list_layers(layer.path)[:, 0].tolist() == [role]
        gdf = gpd.read_file(layer.path, layer=role)
        assert gdf.crs.to_epsg() == 32635
        assert list(gdf.columns[:-1]) == list(layer.columns)
        assert len(gdf) == layer.count > 0
        assert gdf["id"].is_unique
    assert prepared.counts == {k: v.count for k, v in prepared.layers.items()}


def test_counts_match_the_dataset_readme(prepared: PreparedOsm) -> None:
    # Independent counts from /work/shared/data/helsinki_centre/README.md (built by another tool from
    # the same PBF): 18 toilets, 4 charging stations, 1 childcare (social_facility=day_care for=child),
    # no elderly care; candidate polygons amenity=parking 30 and landuse=construction 3.
    assert prepared.service_counts == {"public_toilet": 18, "elderly_care": 0, "childcare": 1, "ev_charging": 4}
    assert prepared.land_type_counts["parking_lot"] == 30
    assert prepared.land_type_counts["construction_site"] == 3
    assert any("no elderly_care" in n for n in prepared.notes)


def test_residents_follow_the_documented_formula(prepared: PreparedOsm) -> None:
    demand = gpd.read_file(prepared.demand.path)
    np.testing.assert_allclose(demand["footprint_m2"], demand.geometry.area, rtol=1e-9)
    np.testing.assert_allclose(demand["floor_area_m2"], demand["footprint_m2"] * demand["levels"], rtol=1e-9)
    np.testing.assert_allclose(
        demand["residents"], demand["floor_area_m2"] / DEFAULT_FLOOR_AREA_PER_RESIDENT_M2, rtol=1e-9
    )
    assert (demand["levels"] >= 1).all()
    assert set(demand["levels_source"]) <= {"building:levels", "height", "default", "extract_median"}
    assert prepared.total_residents == pytest.approx(float(demand["residents"].sum()))
    assert prepared.assumptions["floor_area_per_resident_m2"] == DEFAULT_FLOOR_AREA_PER_RESIDENT_M2


def test_sites_and_existing_layers(prepared: PreparedOsm) -> None:
    sites = gpd.read_file(prepared.sites.path)
    assert set(sites["land_type"]) <= set(LAND_TYPES)
    np.testing.assert_allclose(sites["area_m2"], sites.geometry.area, rtol=1e-9)
    assert set(sites.geom_type) == {"MultiPolygon"}
    existing = gpd.read_file(prepared.existing.path)
    assert set(existing["service"]) <= set(SERVICES)
    assert set(existing.geom_type) == {"Point"}


def test_streets_make_a_walking_network(prepared: PreparedOsm) -> None:
    streets = gpd.read_file(prepared.streets.path)
    net = StreetNetwork.from_lines(streets)
    direct = StreetNetwork.from_osm_pbf(PBF)
    assert net.n_edges == direct.n_edges
    assert net.total_length == pytest.approx(direct.total_length, rel=1e-9)


def test_readme_carries_attribution_and_assumptions(prepared: PreparedOsm) -> None:
    text = prepared.readme.read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in text and "ODbL 1.0" in text
    assert "1 resident per 40 m²" in text
    assert prepared.source_sha256 in text


def test_empty_categories_give_empty_layers_with_columns_and_crs(tmp_path: Path) -> None:
    # A 55 m x 55 m box with a few footways and nothing else (checked by looking at the extract).
    res = prepare_osm(PBF, tmp_path / "tiny", bbox=(24.9400, 60.1660, 24.9410, 60.1665))
    assert res.streets.count > 0
    for layer in (res.demand, res.sites, res.existing):
        assert layer.count == 0
        gdf = gpd.read_file(layer.path, layer=layer.layer)
        assert len(gdf) == 0 and gdf.crs.to_epsg() == 32635
        assert list(gdf.columns[:-1]) == list(layer.columns)
    assert any("demand.gpkg is empty" in n for n in res.notes)
    assert any("sites.gpkg is empty" in n for n in res.notes)


def test_refuses_to_overwrite_and_bad_input(tmp_path: Path, prepared: PreparedOsm) -> None:
    with pytest.raises(DataError, match="already has"):
        prepare_osm(PBF, prepared.out_dir)
    with pytest.raises(DataError, match="does not exist"):
        prepare_osm(tmp_path / "nope.osm.pbf", tmp_path / "x")
    with pytest.raises(DataError, match="swapped"):
        prepare_osm(PBF, tmp_path / "x", bbox=(60.16, 124.93, 60.17, 124.95))
    with pytest.raises(DataError, match="west,south,east,north"):
        prepare_osm(PBF, tmp_path / "x", bbox=(24.95, 60.16, 24.93, 60.17))
    with pytest.raises(DataError, match="floor_area_per_resident_m2"):
        prepare_osm(PBF, tmp_path / "x", floor_area_per_resident_m2=0)
    with pytest.raises(DataError, match="no walkable ways"):
        read_walking_ways(PBF, bbox=(10.0, 10.0, 10.001, 10.001))
    assert not (tmp_path / "x").exists()


def _frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cols.items()}, index=range(n))


def test_estimate_residents_by_hand() -> None:
    # Hand-checked: 10 m x 20 m = 200 m² footprints.
    b = gpd.GeoDataFrame(
        {
            "building": ["apartments", "house", "apartments", "church"],
            "building:levels": ["3;4", None, None, None],
            "height": [None, "12.5 m", None, None],
        },
        geometry=[shapely.box(0, 0, 10, 20)] * 4,
        crs="EPSG:3067",
    )
    out = _estimate_residents(b, 40.0, {"apartments": 5.0, "house": 2.0}, 1.0)
    # levels: first number of "3;4" = 3; round(12.5 / 3) = 4; default for apartments 5; fallback 1
    assert out["levels"].tolist() == [3.0, 4.0, 5.0, 1.0]
    assert out["levels_source"].tolist() == ["building:levels", "height", "default", "default"]
    # residents = 200 m² x levels / 40 m² per resident
    np.testing.assert_allclose(out["residents"], [15.0, 20.0, 25.0, 5.0])


def test_untagged_buildings_take_the_median_of_tagged_neighbours() -> None:
    # five tagged buildings (levels 1, 1, 2, 3, 1 -> median 1) and one untagged apartment block:
    # the neighbours, not the type default (5), set its levels
    tags = ["1", "1", "2", "3", "1", None]
    b = gpd.GeoDataFrame(
        {"building": ["residential"] * 5 + ["apartments"], "building:levels": tags, "height": [None] * 6},
        geometry=[shapely.box(0, 0, 10, 20)] * 6,
        crs="EPSG:3067",
    )
    out = _estimate_residents(b, 40.0, {"apartments": 5.0}, 1.0)
    assert out["levels"].tolist()[-1] == float(np.median([1, 1, 2, 3, 1]))
    assert out["levels_source"].tolist()[-1] == "extract_median"


def test_persons_per_100m2_overrides(tmp_path: Path, prepared: PreparedOsm) -> None:
    res = prepare_osm(PBF, tmp_path / "dense", persons_per_100m2=5.0)
    # 5 per 100 m² instead of 1 per 40 m²: every estimate scales by 5 * 40 / 100
    assert res.total_residents == pytest.approx(prepared.total_residents * 5.0 * 40.0 / 100.0, rel=1e-9)
    assert res.assumptions["persons_per_m2_floor"] == pytest.approx(0.05)


def test_site_rules_by_hand() -> None:
    d = _frame(
        building=["warehouse", "warehouse", None, "industrial", None, None, None, "yes", None],
        landuse=[None, None, "brownfield", "industrial", "industrial", None, None, None, "farmland"],
        amenity=[None, None, None, None, None, "parking", "parking", None, None],
        parking=[None, None, None, None, None, "surface", "underground", None, None],
        disused=[None, "yes", None, None, None, None, None, None, None],
        vacant=[None, None, None, None, None, None, None, "yes", None],
    )
    land_type, source = _classify_sites(d)
    # a disused warehouse is a disused building first; an industrial building on industrial land is a
    # factory; underground parking and farmland are no candidates
    assert land_type.tolist() == [
        "warehouse",
        "disused_building",
        "idle_land",
        "factory",
        "industrial_land",
        "parking_lot",
        "",
        "disused_building",
        "",
    ]
    assert source[0] == "building=warehouse" and source[2] == "landuse=brownfield"


def test_service_rules_by_hand() -> None:
    f = _frame(
        amenity=[
            "toilets",
            "social_facility",
            "social_facility",
            "social_facility",
            "kindergarten",
            "charging_station",
            "nursing_home",
        ],
        social_facility=[None, "day_care", "day_care", "outreach", None, None, None],
        **{"social_facility:for": [None, "child", "senior", "diseased", None, None, None]},
    )
    service, source = _classify_services(f)
    assert service.tolist() == [
        "public_toilet",
        "childcare",
        "elderly_care",
        "",
        "childcare",
        "ev_charging",
        "elderly_care",
    ]
    assert source[4] == "amenity=kindergarten"
