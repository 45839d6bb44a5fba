"""A catalog of bad scenarios: each must fail `siting run` cleanly.

Every case copies the tiny test scenario (tests/data/scenarios/tiny) to a temporary folder, breaks
one thing (the YAML, a layer file, or the command line) and runs ``siting run`` in-process. Each must
exit with code 1, print one ``error:`` message on stderr (a single line, or one block listing every
problem) that names the file, the field or the offending ids, and the fix, with no traceback, and
leave no output folder (nor any temporary folder) behind.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from paths import DATA
from shapely.affinity import translate
from shapely.geometry import Polygon
from typer.testing import CliRunner

from siting.cli import app

TINY = DATA / "scenarios" / "tiny"
runner = CliRunner()


@dataclass
class Case:
    """One bad scenario: how to break the copy, and what the message must contain."""

    id: str
    breaks: Callable[[Path, dict[str, Any]], None]
    expect: list[str]
    args: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ breakers
def yaml_set(path: str, value: Any) -> Callable[[Path, dict[str, Any]], None]:
    """Set a dotted key of the scenario document."""

    def apply(_folder: Path, doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return apply


def yaml_del(path: str) -> Callable[[Path, dict[str, Any]], None]:
    def apply(_folder: Path, doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[p]
        del node[last]

    return apply


def both(*fns: Callable[[Path, dict[str, Any]], None]) -> Callable[[Path, dict[str, Any]], None]:
    def apply(folder: Path, doc: dict[str, Any]) -> None:
        for fn in fns:
            fn(folder, doc)

    return apply


def edit_demand(fn: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Callable[[Path, dict[str, Any]], None]:
    def apply(folder: Path, _doc: dict[str, Any]) -> None:
        df = pd.read_csv(folder / "demand.csv", dtype={"block_id": str})
        out = fn(df)
        (out if out is not None else df).to_csv(folder / "demand.csv", index=False)

    return apply


def set_cell(block: str, column: str, value: Any) -> Callable[[Path, dict[str, Any]], None]:
    def change(df: pd.DataFrame) -> None:
        if df[column].dtype != object:
            df[column] = df[column].astype(object)
        df.loc[df["block_id"] == block, column] = value

    return edit_demand(change)


def edit_sites(fn: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame | None]) -> Callable[[Path, dict[str, Any]], None]:
    """Rewrite the candidate sites into a one-layer GeoPackage and point the scenario to it."""

    def apply(folder: Path, doc: dict[str, Any]) -> None:
        gdf = gpd.read_file(folder / "sites.gpkg", layer="candidate_sites")
        out = fn(gdf)
        (out if out is not None else gdf).to_file(folder / "sites_edited.gpkg", layer="candidate_sites")
        doc["layers"]["sites"]["path"] = "sites_edited.gpkg"

    return apply


def replace_geometry(site: str, geom: Any) -> Callable[[gpd.GeoDataFrame], None]:
    def change(gdf: gpd.GeoDataFrame) -> None:
        gdf.loc[gdf["site_id"] == site, "geometry"] = geom

    return change


def bowtie(gdf: gpd.GeoDataFrame) -> None:
    x0, y0, x1, y1 = gdf.geometry.iloc[1].bounds
    gdf.loc[gdf.index[1], "geometry"] = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])  # self-intersecting


def duplicate_site_id(gdf: gpd.GeoDataFrame) -> None:
    gdf.loc[gdf.index[4], "site_id"] = "s03"


def projected_demand_without_crs(folder: Path, _doc: dict[str, Any]) -> None:
    df = pd.read_csv(folder / "demand.csv")
    pts = gpd.GeoSeries(gpd.points_from_xy(df.lon, df.lat), crs=4326).to_crs(32648)
    df = df.drop(columns=["lon", "lat"]).assign(x=pts.x.round(2), y=pts.y.round(2))
    df.to_csv(folder / "demand.csv", index=False)


def swap_lonlat(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={"lon": "lat", "lat": "lon"})


def move_streets(dx: float, dy: float) -> Callable[[Path, dict[str, Any]], None]:
    def apply(folder: Path, doc: dict[str, Any]) -> None:
        streets = gpd.read_file(folder / "streets.gpkg", layer="streets")
        streets["geometry"] = streets.geometry.apply(lambda g: translate(g, dx, dy))
        streets.to_file(folder / "streets_moved.gpkg", layer="streets")
        doc["layers"]["streets"]["path"] = "streets_moved.gpkg"

    return apply


def move_existing(dlon: float) -> Callable[[Path, dict[str, Any]], None]:
    def apply(folder: Path, _doc: dict[str, Any]) -> None:
        ex = gpd.read_file(folder / "existing.geojson")
        ex["geometry"] = ex.geometry.apply(lambda g: translate(g, dlon, 0.0))
        (folder / "existing.geojson").unlink()
        ex.to_file(folder / "existing.geojson", driver="GeoJSON")

    return apply


def write_text(name: str, text: str) -> Callable[[Path, dict[str, Any]], None]:
    def apply(folder: Path, _doc: dict[str, Any]) -> None:
        (folder / name).write_text(text, encoding="utf-8")

    return apply


def broken_yaml(folder: Path, _doc: dict[str, Any]) -> None:
    text = (folder / "scenario.yaml").read_text(encoding="utf-8")
    # a mapping value where a sequence of keys is expected: bad indentation
    text = text.replace("    reach_m: 400\n", "    reach_m: 400\n  - oops: 1\n", 1)
    (folder / "scenario.yaml").write_text(text, encoding="utf-8")
    raise _RawText  # tells the runner not to rewrite the YAML


class _RawText(Exception):
    pass


# the line of the inserted "  - oops: 1" (1-based): right after the first "reach_m: 400" line
BROKEN_LINE = (TINY / "scenario.yaml").read_text(encoding="utf-8").splitlines().index("    reach_m: 400") + 2


# --------------------------------------------------------------------------------- catalog
CASES = [
    Case(
        "missing_file",
        yaml_set("layers.demand.path", "blocks.csv"),
        ["scenario.yaml", "layers.demand.path", "'blocks.csv' not found", "fix the path"],
    ),
    Case(
        "wrong_layer_name",
        yaml_set("layers.sites.layer", "candidate_site"),
        ["layers.sites", "sites.gpkg", "no layer 'candidate_site'", "did you mean 'candidate_sites'", "layers found"],
    ),
    Case(
        "layer_name_needed",
        yaml_del("layers.sites.layer"),
        ["sites.gpkg", "holds 2 layers", "candidate_sites, notes", "layer:"],
    ),
    Case(
        "unknown_column",
        yaml_set("layers.demand.groups.elderly", "age_60plus"),
        [
            "demand.csv",
            "layers.demand.groups.elderly",
            "'age_60plus' not found",
            "did you mean 'age_60_plus'",
            "columns found",
        ],
    ),
    Case(
        "unknown_id_column",
        yaml_set("layers.sites.id", "SITE_ID"),
        ["layers.sites.id", "'SITE_ID' not found", "did you mean 'site_id'"],
    ),
    Case(
        "unknown_key",
        both(yaml_set("services.childcare.max_site", 2), yaml_del("services.childcare.max_sites")),
        ["scenario.yaml line", "services.childcare.max_site", "unknown key 'max_site'", "did you mean 'max_sites'"],
    ),
    Case(
        "yaml_syntax_error",
        broken_yaml,
        [f"scenario.yaml line {BROKEN_LINE}, column 3", "YAML syntax error", "fix the indentation"],
    ),
    Case(
        "negative_population",
        set_cell("b07", "residents", -40),
        ["demand.csv", "layers.demand.groups.residents", "negative at ids b07", "must be >= 0"],
    ),
    Case(
        "nan_population",
        set_cell("b03", "age_0_3", None),
        ["demand.csv", "layers.demand.groups.infants", "'age_0_3' is empty (NaN) at ids b03", "give a number"],
    ),
    Case(
        "text_population",
        set_cell("b11", "age_60_plus", "many"),
        ["layers.demand.groups.elderly", "holds text ('many') at ids b11", "plain numbers"],
    ),
    Case(
        "empty_geometry",
        set_cell("b05", "lon", None),
        ["demand.csv", "empty geometries (no coordinates) at ids b05", "give them coordinates or delete"],
    ),
    Case(
        "invalid_geometry",
        edit_sites(bowtie),
        ["sites_edited.gpkg", "invalid geometries at ids s02", "Self-intersection", "repair_geometries: true"],
    ),
    Case(
        "duplicate_site_ids",
        edit_sites(duplicate_site_id),
        ["layers.sites", "duplicate ids in column 'site_id': s03", "unique id"],
    ),
    Case(
        "duplicate_demand_ids",
        set_cell("b09", "block_id", "b08"),
        ["demand.csv", "duplicate ids in column 'block_id': b08"],
    ),
    Case(
        "no_crs",
        projected_demand_without_crs,
        ["layers.demand (demand.csv)", "has no CRS", "add crs: EPSG:NNNN under layers.demand"],
    ),
    Case(
        "lonlat_swapped",
        edit_demand(swap_lonlat),
        ["layers.demand (demand.csv)", "longitude and latitude look swapped", "x: lat and y: lon"],
    ),
    Case(
        "crs_conflict",
        yaml_set("layers.sites.crs", "EPSG:3857"),
        ["layers.sites.crs says EPSG:3857", "the file carries EPSG:4490", "remove crs:"],
    ),
    Case(
        "scenario_crs_not_metric",
        yaml_set("crs", "EPSG:4326"),
        ["scenario.yaml: crs: EPSG:4326 is not a projected CRS in metres", "UTM zone"],
    ),
    Case(
        "layer_far_away",
        move_existing(3.0),
        ["layers.existing (existing.geojson) lies", "km from the demand layer", "crs:"],
    ),
    Case(
        "far_outside_street_network",
        move_streets(3000.0, 0.0),
        ["data far outside the street network", "distance.max_snap_m = 100", "layers.streets"],
    ),
    Case(
        "network_without_streets",
        yaml_del("layers.streets"),
        ["distance.method is network but layers.streets is missing", "method: euclidean"],
    ),
    Case(
        "streets_not_lines",
        yaml_set("layers.streets", {"path": "existing.geojson"}),
        ["layers.streets (existing.geojson)", "Point geometries at ids", "needs lines"],
    ),
    Case(
        "reach_zero",
        yaml_set("services.elderly_care.reach_m", 0),
        ["scenario.yaml line", "services.elderly_care.reach_m", "greater than 0", "(got 0)"],
    ),
    Case(
        "reach_covers_no_demand",
        both(yaml_set("services.childcare.reach_minutes", 0.001)),
        ["services.childcare", "reach_minutes = 0.001", "covers no demand of group 'infants'", "raise"],
    ),
    Case(
        "no_eligible_site",
        yaml_set("services.childcare.cost_by_land_type", {"castle": 1000}),
        [
            "services.childcare: no candidate site is eligible",
            "accepts land types castle",
            "idle_land (3)",
            "cost_by_land_type",
        ],
    ),
    Case(
        "min_area_too_large",
        yaml_set("services.elderly_care.min_area_m2", 5000),
        [
            "services.elderly_care: no candidate site is eligible",
            "smaller than min_area_m2 = 5000",
            "lower min_area_m2",
        ],
    ),
    Case(
        "budget_below_cheapest_site",
        yaml_set("budget.per_service.elderly_care", 1000),
        [
            "services.elderly_care",
            "budget 1,000 (budget.per_service.elderly_care)",
            "below the cheapest eligible site (s04",
            "raise the budget",
        ],
    ),
    Case(
        "no_cost_with_budget",
        both(
            yaml_set("services.childcare.eligible_land_types", ["factory"]),
            yaml_set("services.childcare.cost_by_land_type", {"warehouse": 1}),
        ),
        ["services.childcare: no cost for land types factory", "default_cost"],
    ),
    Case(
        "per_service_over_total",
        yaml_set("budget.per_service.public_toilet", 9_000_000),
        ["budget.per_service adds up to 11,500,000", "more than budget.total 6,000,000"],
    ),
    Case(
        "unknown_demand_group",
        yaml_set("services.childcare.demand_group", "infant"),
        [
            "scenario.yaml",
            "services.childcare.demand_group",
            "'infant' is not a demand group",
            "did you mean 'infants'",
        ],
    ),
    Case(
        "demand_group_all_zero",
        edit_demand(lambda df: df.assign(age_0_3=0)),
        ["services.childcare.demand_group", "group 'infants' (column 'age_0_3') is 0 for every demand point"],
    ),
    Case(
        "unknown_override",
        lambda f, d: None,
        ["scenario.yaml: no scenario named 'low_budgt'", "did you mean 'low_budget'"],
        ["--scenario", "low_budgt"],
    ),
    Case(
        "min_sites_above_max_sites",
        yaml_set("services.public_toilet.min_sites", 5),
        ["services.public_toilet", "min_sites = 5 is larger than max_sites = 3"],
    ),
    Case(
        "wrong_type",
        yaml_set("services.public_toilet.max_sites", "three"),
        ["scenario.yaml line", "services.public_toilet.max_sites", "valid integer", "'three'"],
    ),
    Case(
        "unknown_solver_in_file",
        yaml_set("solver.name", "hihgs"),
        ["scenario.yaml: solver.name", "unknown solver 'hihgs'", "did you mean 'highs'", "siting solvers"],
    ),
    Case(
        "unknown_solver_option",
        lambda f, d: None,
        ["--solver", "unknown solver 'gurobi_x'", "siting solvers"],
        ["--solver", "gurobi_x"],
    ),
    Case(
        "joint_objective_split",
        yaml_set("objective", "complete_circle"),
        ["scenario.yaml", "objective: complete_circle needs the joint multi-service model", "run without --split"],
        args=["--split"],
    ),
    Case(
        "no_limit",
        both(yaml_del("budget"), yaml_del("services.public_toilet.max_sites")),
        ["services.public_toilet: objective max_coverage needs a limit", "max_sites", "budget.total"],
    ),
    Case(
        "unknown_file_type",
        both(write_text("blocks.xlsx", "not a spreadsheet"), yaml_set("layers.demand.path", "blocks.xlsx")),
        ["layers.demand (blocks.xlsx)", "unknown file type '.xlsx'", "use .gpkg, .geojson"],
    ),
    Case(
        "budget_for_unknown_service",
        yaml_set("budget.per_service.toilets", 1000),
        ["budget.per_service.toilets: no service of that name", "public_toilet"],
    ),
    Case(
        "several_problems_at_once",
        both(set_cell("b02", "residents", -1), yaml_set("layers.sites.land_type", "landtype")),
        ["scenario.yaml: 2 problems:", "negative at ids b02", "layers.sites.land_type: column 'landtype' not found"],
    ),
]


@pytest.fixture(scope="module")
def ids_unique() -> None:
    names = [c.id for c in CASES]
    assert len(names) == len(set(names))


def _prepare(tmp_path: Path, case: Case) -> Path:
    folder = tmp_path / "scenario"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    path = folder / "scenario.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        case.breaks(folder, doc)
    except _RawText:
        return path
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_catalog_is_large_and_unique(ids_unique: None) -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_scenario_fails_cleanly(tmp_path: Path, case: Case) -> None:
    path = _prepare(tmp_path, case)
    out = tmp_path / "results" / "plan"
    result = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet", *case.args])
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    err = result.stderr
    assert "Traceback" not in result.output
    assert err.startswith("error: ") and sum(line.startswith("error: ") for line in err.splitlines()) == 1, err
    for text in case.expect:
        assert text in err, f"{text!r} not in:\n{err}"
    assert result.stdout == ""
    assert not out.exists()
    assert not (tmp_path / "results").exists(), "a parent folder created for the output was left behind"
    leftovers = [p.name for p in tmp_path.rglob("*.partial")]
    assert leftovers == []


def test_failed_run_keeps_previous_outputs(tmp_path: Path) -> None:
    """An existing output folder is replaced only by a successful run."""
    case = next(c for c in CASES if c.id == "negative_population")
    good = tmp_path / "good"
    shutil.copytree(TINY, good, ignore=shutil.ignore_patterns("out", ".*"))
    out = tmp_path / "plan"
    ok = runner.invoke(
        app, ["run", str(good / "scenario.yaml"), "--out", str(out), "--quiet", "--scenario", "euclidean"]
    )
    assert ok.exit_code == 0, ok.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = _prepare(tmp_path, case)
    result = runner.invoke(app, ["run", str(bad), "--out", str(out), "--quiet"])
    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_validate_reports_the_same_problems(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "no_eligible_site")
    path = _prepare(tmp_path, case)
    result = runner.invoke(app, ["validate", str(path), "--quiet"])
    assert result.exit_code == 1
    assert "services.childcare: no candidate site is eligible" in result.stderr
