"""Scenario files end to end: the tiny test scenario, run on walking and straight-line distances.

The tiny scenario (tests/data/scenarios/tiny, rebuilt by make_tiny.py) mixes a lon/lat CSV, a
CGCS2000 GeoPackage with two layers, a GeoJSON and a UTM street layer, so one run exercises the
readers, the CRS handling, the network and every output.
"""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
from paths import DATA, REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import DataError, ScenarioError
from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.scenarios.build import build, euclidean_pairs, resolve_budgets
from siting.scenarios.geodata.layers import read_layer
from siting.scenarios.pipeline.output_folder import write_atomically
from siting.scenarios.pipeline.run import run_scenario
from siting.scenarios.schema import DemandLayer, load_scenario, schema_text

ROOT = REPO
TINY = DATA / "scenarios" / "tiny"
SCHEMA_FILE = ROOT / "scenarios" / "scenario.schema.json"
runner = CliRunner()


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    """A private copy of the tiny scenario folder; returns its scenario.yaml."""
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    return folder / "scenario.yaml"


def _read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    plan = pd.read_csv(out / "plan.csv", dtype={"site_id": str})
    unc = pd.read_csv(out / "uncovered.csv", dtype={"demand_id": str})
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return plan, unc, summary


# ------------------------------------------------------------------------------ end to end
@pytest.mark.parametrize("override", [None, "euclidean"])
def test_run_end_to_end(tiny: Path, override: str | None) -> None:
    out = tiny.parent / "result"
    # --split: the joint model with the budget divided per service in advance (the joint path has
    # its own end-to-end tests in test_joint_run.py)
    args = ["run", str(tiny), "--out", str(out), "--quiet", "--split"] + (["--scenario", override] if override else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "public_toilet:" in result.stdout and "verified" in result.stdout
    plan, unc, summary = _read(out)
    assert {"plan.csv", "summary.json", "uncovered.csv"} <= {p.name for p in out.iterdir()}
    assert summary["mode"] == "split"
    assert summary["distance"]["method"] == ("euclidean" if override else "network")
    assert summary["scenario"]["name"] == ("tiny/euclidean" if override else "tiny")
    assert summary["override"] == override
    assert set(summary["inputs_sha256"]) >= {"scenario.yaml", "demand.csv", "sites.gpkg", "existing.geojson"}
    assert summary["versions"]["numpy"] == np.__version__
    assert "joint multi-service model (siting run without --split)" in summary["budget_split"]
    assert summary["checks"]["all_ok"] and summary["solve"]["status"] == "OPTIMAL" and summary["solve"]["verified"]
    # one ranked table over all services; cumulative cost adds up in rank order
    assert list(plan["rank"]) == list(range(1, len(plan) + 1))
    np.testing.assert_allclose(plan["cumulative_cost"], plan["cost"].cumsum())

    built = build(*load_scenario(tiny, override), source=tiny.name)
    for name, svc in summary["services"].items():
        rows = plan[plan.service == name].sort_values("rank")
        gain = rows[f"new_{svc['demand_group']}"]
        assert (np.diff(gain) <= 1e-9).all(), "ranked by marginal coverage"
        cov = svc["coverage"]
        assert cov["before"] + gain.sum() == pytest.approx(cov["after"])
        if len(rows):
            assert rows["cumulative_coverage_share"].iloc[-1] == pytest.approx(cov["share_after"])
        # the plan, re-evaluated from the service's own instance, keeps its advance budget and limits
        pb = built.services[name]
        assert svc["budget"] == pytest.approx(pb.budget) if pb.budget is not None else svc["budget"] is None
        inst = pb.instance
        open_mask = inst.existing | np.isin(inst.site_ids.astype(str), rows["site_id"].to_numpy())
        m = evaluate(inst, open_mask, radius=pb.reach_m, p=pb.max_sites, budget=pb.budget)
        assert m.violations == []
        assert m.covered_weight == pytest.approx(cov["after"])
        assert svc["plan_check"]["covered_weight"] == pytest.approx(cov["after"])
        # uncovered.csv lists exactly the people not covered
        missing = unc[unc.service == name]["people"].sum()
        assert cov["after"] + missing == pytest.approx(svc["people"])


def test_euclidean_coverage_matches_a_recount_from_the_raw_files(tiny: Path) -> None:
    """Independent recount: project the raw files with pyproj, measure with numpy, count covered people."""
    out = tiny.parent / "result"
    res = run_scenario(tiny, "euclidean", out=out)
    demand = pd.read_csv(TINY / "demand.csv", dtype={"block_id": str}).set_index("block_id")
    to_utm = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
    dx, dy = to_utm.transform(demand.lon.to_numpy(), demand.lat.to_numpy())
    sites = gpd.read_file(TINY / "sites.gpkg", layer="candidate_sites").to_crs(32648).set_index("site_id")
    existing = gpd.read_file(TINY / "existing.geojson").to_crs(32648).set_index("fid")
    plan = res.plan
    for name, svc in res.built.scenario.services.items():
        reach = svc.reach_metres(4.0)
        chosen = plan[plan.service == name].site_id.tolist()
        pts = sites.loc[chosen].geometry.representative_point()
        ex = existing[existing.service == name].geometry
        xs = np.concatenate([pts.x.to_numpy(), ex.x.to_numpy()])
        ys = np.concatenate([pts.y.to_numpy(), ex.y.to_numpy()])
        d = np.hypot(dx[:, None] - xs[None, :], dy[:, None] - ys[None, :])
        covered = (d <= reach + 1e-6).any(axis=1) if xs.size else np.zeros(len(dx), dtype=bool)
        column = res.built.scenario.layers.demand.groups[svc.demand_group]
        people = demand[column].to_numpy()
        assert res.summary["services"][name]["coverage"]["after"] == pytest.approx(people[covered].sum(), abs=1e-6)


def test_network_distances_are_longer_than_straight_lines(tiny: Path) -> None:
    body, base = load_scenario(tiny)
    net = build(body, base)
    eu = build(*load_scenario(tiny, "euclidean"))
    for name in net.services:
        a = net.services[name].instance
        b = eu.services[name].instance
        # same columns in both (every site snaps in the tiny grid), network pairs are a subset
        assert list(a.site_ids) == list(b.site_ids)
        da, db = a.dense_distances(), b.dense_distances()
        both = np.isfinite(da)
        assert (da[both] >= db[both] - 1e-3).all()
        assert not (np.isfinite(da) & ~np.isfinite(db)).any()


def test_plan_is_reproducible_byte_for_byte(tiny: Path) -> None:
    a, b = tiny.parent / "a", tiny.parent / "b"
    run_scenario(tiny, out=a)
    run_scenario(tiny, out=b)
    assert (a / "plan.csv").read_bytes() == (b / "plan.csv").read_bytes()
    assert (a / "uncovered.csv").read_bytes() == (b / "uncovered.csv").read_bytes()


@pytest.mark.parametrize("override, model", [("pmedian", "pmedian"), ("min_cost", "lscp")])
def test_other_objectives(tiny: Path, override: str, model: str) -> None:
    res = run_scenario(tiny, override, out=tiny.parent / "o")
    for svc in res.summary["services"].values():
        assert svc["solve"]["model"] == model
        assert svc["solve"]["verified"]
        assert svc["plan_check"]["violations"] == []
    if model == "lscp":
        # everything coverable is covered: every uncovered point is out of reach of every site
        assert set(res.uncovered["reason"]) <= {"no_site_in_reach", "off_network"}


def test_override_merges_and_default_output_folder(tiny: Path) -> None:
    res = run_scenario(tiny, "toilets_only")
    assert res.out_dir == (tiny.parent / "out").resolve()
    assert res.summary["services"]["elderly_care"]["new_sites"] == 0
    assert "max_sites is 0" in res.summary["services"]["elderly_care"]["notes"][0]
    # the override changed one field and kept the rest of the service
    assert res.built.scenario.services["elderly_care"].min_area_m2 == 100
    assert res.built.scenario.services["elderly_care"].max_sites == 0


def test_low_budget_override_spends_within_each_share(tiny: Path) -> None:
    res = run_scenario(tiny, "low_budget", out=tiny.parent / "o", split=True)
    for svc in res.summary["services"].values():
        if svc["budget"] is not None:
            assert svc["cost"] <= svc["budget"] + 1e-6
    total = sum(s["budget"] for s in res.summary["services"].values())
    assert total == pytest.approx(3_000_000)


def test_validate_and_init(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(TINY / "scenario.yaml"), "--scenario", "euclidean", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "36 points" in result.stdout and "14 candidate sites, 3 existing facilities" in result.stdout
    assert "ok: the scenario is valid" in result.stdout
    target = tmp_path / "mine"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "scenario.yaml").is_file()
    # the folder is self-contained: the schema sits beside the scenario and is referenced relatively
    assert (
        (target / "scenario.yaml")
        .read_text(encoding="utf-8")
        .startswith("# yaml-language-server: $schema=scenario.schema.json\n")
    )
    assert (target / "scenario.schema.json").read_bytes() == SCHEMA_FILE.read_bytes()
    assert runner.invoke(app, ["validate", str(target / "scenario.yaml"), "--quiet"]).exit_code == 0
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1 and "not an empty folder" in again.stderr


# --------------------------------------------------------------------------------- schema
def test_committed_schema_is_fresh() -> None:
    fresh = schema_text()
    committed = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    if committed != fresh:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(True),
                fresh.splitlines(True),
                "committed",
                "generated",
                n=1,
            )
        )
        pytest.fail(
            "scenarios/scenario.schema.json is stale: regenerate it with\n"
            "    siting schema --out scenarios/scenario.schema.json\n" + diff[:4000]
        )


def test_schema_command_prints_the_schema(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "siting scenario"
    out = tmp_path / "s.json"
    assert runner.invoke(app, ["schema", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == schema_text()


def test_tiny_scenario_points_to_the_schema() -> None:
    first = (TINY / "scenario.yaml").read_text(encoding="utf-8").splitlines()[0]
    ref = first.removeprefix("# yaml-language-server: $schema=")
    assert ref != first and (TINY / ref).resolve() == SCHEMA_FILE.resolve()


# --------------------------------------------------------------------------------- layers
def _demand_ref(path: str, **kw: object) -> DemandLayer:
    return DemandLayer(path=path, groups={"residents": "residents"}, **kw)


def test_layer_formats_agree(tmp_path: Path) -> None:
    """The same points as CSV (lon/lat), GeoJSON, Shapefile and GeoPackage read to the same projected points."""
    df = pd.read_csv(TINY / "demand.csv", dtype={"block_id": str})
    gdf = gpd.GeoDataFrame(df[["block_id", "residents"]], geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
    gdf.to_file(tmp_path / "d.geojson", driver="GeoJSON")
    gdf.to_file(tmp_path / "d.shp")
    gdf.to_crs(32648).to_file(tmp_path / "d.gpkg", layer="blocks")
    gdf.to_crs(4490).to_parquet(tmp_path / "d.parquet")  # GeoParquet in CGCS2000
    base = read_layer(_demand_ref("demand.csv", id="block_id"), TINY, "demand", "t.yaml").to_crs(32648)
    for name in ("d.geojson", "d.shp", "d.gpkg", "d.parquet"):
        got = read_layer(_demand_ref(name, id="block_id"), tmp_path, "demand", "t.yaml").to_crs(32648)
        assert list(got.index) == list(base.index)
        np.testing.assert_allclose(got.geometry.x, base.geometry.x, atol=0.01)
        np.testing.assert_allclose(got.geometry.y, base.geometry.y, atol=0.01)
        np.testing.assert_array_equal(got["residents"].to_numpy(), df["residents"].to_numpy())


def test_csv_xy_with_crs_and_geoparquet_without_pyarrow(tmp_path: Path) -> None:
    df = pd.read_csv(TINY / "demand.csv", dtype={"block_id": str})
    e, n = pyproj.Transformer.from_crs(4326, 32648, always_xy=True).transform(df.lon.to_numpy(), df.lat.to_numpy())
    df.drop(columns=["lon", "lat"]).assign(E=e, N=n).to_csv(tmp_path / "xy.csv", index=False)
    got = read_layer(_demand_ref("xy.csv", id="block_id", x="E", y="N", crs="EPSG:32648"), tmp_path, "demand", "t.yaml")
    np.testing.assert_allclose(got.geometry.x, e)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        (tmp_path / "d.parquet").write_bytes(b"PAR1")
        with pytest.raises(DataError, match="pip install pyarrow"):
            read_layer(_demand_ref("d.parquet"), tmp_path, "demand", "t.yaml")


def test_gcj02_points_are_converted(tmp_path: Path) -> None:
    """Points shifted into GCJ-02 and declared so come back within a metre of the WGS 84 originals."""
    from siting.scenarios.geodata.coords import wgs84_to_gcj02

    df = pd.read_csv(TINY / "demand.csv", dtype={"block_id": str})
    glon, glat = wgs84_to_gcj02(df.lon.to_numpy(), df.lat.to_numpy())
    df.assign(lon=glon, lat=glat).to_csv(tmp_path / "gcj.csv", index=False)
    raw = read_layer(_demand_ref("gcj.csv", id="block_id"), tmp_path, "demand", "t.yaml").to_crs(32648)
    conv = read_layer(_demand_ref("gcj.csv", id="block_id", coordinates="gcj02"), tmp_path, "demand", "t.yaml").to_crs(
        32648
    )
    base = read_layer(_demand_ref("demand.csv", id="block_id"), TINY, "demand", "t.yaml").to_crs(32648)
    assert float(raw.distance(base).min()) > 100  # the offset is hundreds of metres
    assert float(conv.distance(base).max()) < 1.0


def test_invalid_geometries_can_be_repaired(tmp_path: Path) -> None:
    from shapely.geometry import Polygon

    gdf = gpd.read_file(TINY / "sites.gpkg", layer="candidate_sites")
    x0, y0, x1, y1 = gdf.geometry.iloc[0].bounds
    gdf.loc[gdf.index[0], "geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    gdf.to_file(tmp_path / "s.gpkg", layer="s")
    from siting.scenarios.schema import SitesLayer

    with pytest.raises(DataError, match="invalid geometries at ids s01"):
        read_layer(SitesLayer(path="s.gpkg", id="site_id"), tmp_path, "sites", "t.yaml")
    fixed = read_layer(SitesLayer(path="s.gpkg", id="site_id", repair_geometries=True), tmp_path, "sites", "t.yaml")
    assert fixed.geometry.is_valid.all()
    assert "repaired invalid geometries at ids s01" in fixed.attrs["warnings"][0]


# ------------------------------------------------------------------------------ the pieces
def test_euclidean_pairs_keep_zeros_and_respect_the_cutoff() -> None:
    demand = np.array([[0.0, 0.0], [3.0, 4.0], [100.0, 0.0]])
    sites = np.array([[0.0, 0.0], [6.0, 8.0]])
    d = euclidean_pairs(demand, sites, 5.0)
    # hand-checked: (0,0)-(0,0) = 0 (explicit zero), (3,4)-(0,0) = 5, (3,4)-(6,8) = 5; the rest > 5
    assert d.nnz == 3
    dense = SitingInstance(distances=d).dense_distances()
    np.testing.assert_array_equal(dense, [[0, np.inf], [5, 5], [np.inf, np.inf]])


def test_budget_split_is_proportional_to_weight_times_people(tiny: Path) -> None:
    body, _ = load_scenario(tiny)
    totals = {"residents": 1000.0, "elderly": 200.0, "infants": 50.0}
    b = resolve_budgets(body, totals)
    # per_service elderly_care = 2.5e6; the other 3.5e6 go to toilets (1 x 1000) and childcare (10 x 50)
    assert b["elderly_care"][0] == 2_500_000
    assert b["public_toilet"][0] == pytest.approx(3_500_000 * 1000 / 1500)
    assert b["childcare"][0] == pytest.approx(3_500_000 * 500 / 1500)


def test_write_atomically_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out"
    with pytest.raises(ValueError, match="plain names"):
        write_atomically(target, {"ok.csv": b"a", "no/such/dir.csv": b"b"})
    assert list(tmp_path.iterdir()) == []
    write_atomically(target, {"a.csv": b"1"})
    write_atomically(target, {"b.csv": b"2"})  # replaces the earlier output (listed in its manifest)
    assert sorted(p.name for p in target.iterdir()) == [".siting-manifest.json", "b.csv"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["out"]


def test_bad_input_errors_are_siting_errors(tiny: Path) -> None:
    body, base = load_scenario(tiny)
    broken = body.model_copy(update={"objective": "phased"})
    with pytest.raises(ScenarioError, match="needs the joint multi-service model"):
        build(broken, base)


# ---------------------------------------------------------------------------- OpenStreetMap
# the repository's own copy (tests/data/network/README.md names its source and licence)
HELSINKI_PBF = DATA / "network" / "helsinki_centre.osm.pbf"


def test_prepare_osm_writes_a_scenario_that_runs(tmp_path: Path) -> None:
    out = tmp_path / "helsinki"
    result = runner.invoke(app, ["prepare", "osm", str(HELSINKI_PBF), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    text = (out / "scenario.yaml").read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    assert {"streets.gpkg", "demand.gpkg", "sites.gpkg", "existing.gpkg", "README.md"} <= {
        p.name for p in out.iterdir()
    }
    res = run_scenario(out / "scenario.yaml")
    assert set(res.summary["services"]) == {"public_toilet", "elderly_care", "childcare", "ev_charging"}
    for svc in res.summary["services"].values():
        assert svc["solve"]["status"] == "OPTIMAL" and svc["solve"]["verified"]
        assert 0 < svc["new_sites"] <= svc["max_sites"]
    again = runner.invoke(app, ["prepare", "osm", str(HELSINKI_PBF), "--out", str(out), "--quiet"])
    assert again.exit_code == 1 and "not an empty folder" in again.stderr
    bad = runner.invoke(app, ["prepare", "osm", str(HELSINKI_PBF), "--bbox", "24.9,60.1", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "W,S,E,N" in bad.stderr and not (tmp_path / "x").exists()


def test_min_cost_without_costs_finds_fewest_sites_and_euclidean_ignores_streets(tiny: Path) -> None:
    import yaml

    doc = yaml.safe_load(tiny.read_text(encoding="utf-8"))
    doc["objective"] = "min_cost"
    del doc["budget"]
    doc["distance"]["method"] = "euclidean"
    doc["layers"]["streets"]["path"] = "no_such_streets.gpkg"  # not needed for straight lines
    doc["services"]["public_toilet"]["cost_by_land_type"] = {}
    doc["services"]["public_toilet"]["eligible_land_types"] = ["idle_land", "demolition_site"]
    tiny.write_text(yaml.safe_dump(doc), encoding="utf-8")
    res = run_scenario(tiny, out=tiny.parent / "o", split=True)
    toilet = res.summary["services"]["public_toilet"]
    assert toilet["cost"] is None and any("fewest sites" in n for n in toilet["notes"])
    # no costs: every eligible plot costs 1 in the model, so the least cost is the fewest sites
    toilets = res.joint.inst.services[res.joint.inst.service_index("public_toilet")]
    assert (toilets.cost[toilets.eligible] == 1).all()
    assert res.plan[res.plan.service == "public_toilet"]["cost"].isna().all()
