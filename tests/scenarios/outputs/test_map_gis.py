"""map.png labels that never hide one another, and a GIS-ready plan.gpkg, on real runs of the examples.

The three bundled examples (Helsinki, Wuhai in Chinese, Kotka) are run once through the CLI; their
maps are redrawn with :func:`label_boxes` (the boxes measured from the drawn text) and their
GeoPackages are opened with GDAL (pyogrio).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import scipy.sparse as sp
import shapely
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.outputs import read_run
from siting.scenarios.outputs.labels import PAD_PX, LabelPlacer, overlaps
from siting.scenarios.outputs.mapping import label_boxes
from siting.scenarios.outputs.reach_layers import nearest_open

ROOT = REPO
EXAMPLES = ("helsinki", "wuhai", "kotka")
runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    base = tmp_path_factory.mktemp("examples")
    for name in EXAMPLES:
        folder = base / name
        res = runner.invoke(
            app, ["run", str(ROOT / "scenarios" / "examples" / name / "scenario.yaml"), "--out", str(folder), "--quiet"]
        )
        assert res.exit_code == 0, res.output
        out[name] = folder
    return out


# ------------------------------------------------------------------------------ map.png
@pytest.mark.parametrize("name", EXAMPLES)
def test_no_two_rank_labels_overlap(runs: dict[str, Path], name: str) -> None:
    plan, _unc, record, layers = read_run(runs[name])
    summary = record.to_dict()  # summary.json as the map reads it
    assert layers is not None
    lang = "zh" if name == "wuhai" else "en"
    panels = label_boxes(layers, summary, lang)
    assert len(panels) == 1 + len(summary["services"])
    for k, boxes in enumerate(panels):
        clashes = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if overlaps(a, b)]
        assert not clashes, (name, k, clashes)
    # every chosen plot is labelled on the overview (a plot chosen for several services: one label),
    # and every new site of a service on its own panel: nothing was left out to avoid a clash
    assert len(panels[0]) == plan["site_id"].nunique()
    for k, service in enumerate(summary["services"], start=1):
        assert len(panels[k]) == int((plan["service"] == service).sum()), service


def test_placer_spreads_labels_of_one_point() -> None:
    placer = LabelPlacer((0.0, 0.0, 400.0, 400.0))
    for k in range(12):  # twelve labels on the same point
        assert placer.place(str(k), (200.0, 200.0), (20.0, 10.0), 100.0) is not None
    boxes = [p.box for p in placer.placed]
    assert all(not overlaps(a, b, PAD_PX) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert placer.placed[0].leader is False and any(p.leader for p in placer.placed)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= 400 and 0 <= y0 < y1 <= 400


def test_placer_leaves_out_what_cannot_fit() -> None:
    placer = LabelPlacer((0.0, 0.0, 30.0, 30.0))
    assert placer.place("a", (15.0, 15.0), (12.0, 8.0), 72.0) is not None
    placed = sum(placer.place(str(k), (15.0, 15.0), (12.0, 8.0), 72.0) is not None for k in range(20))
    assert placed < 20 and len(placer.dropped) == 20 - placed
    boxes = [p.box for p in placer.placed]
    assert all(not overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


# ------------------------------------------------------------------------------ plan.gpkg
@pytest.mark.parametrize("name", EXAMPLES)
def test_gpkg_opens_in_gdal_with_styles_catchments_and_served_by(runs: dict[str, Path], name: str) -> None:
    path = runs[name] / "plan.gpkg"
    listed = {str(n): kind for n, kind in pyogrio.list_layers(path)}
    assert {"catchments", "served_by", "layer_styles", "chosen_sites", "demand"} <= set(listed)
    assert listed["layer_styles"] is None
    spatial = [n for n, kind in listed.items() if kind is not None]
    for layer in spatial:
        assert pyogrio.read_info(path, layer=layer)["crs"], layer
    styles = pyogrio.read_dataframe(path, layer="layer_styles")
    assert sorted(styles["f_table_name"]) == sorted(spatial)
    assert (styles["useAsDefault"].astype(int) == 1).all()
    for qml, sld in zip(styles["styleQML"], styles["styleSLD"]):
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        assert root.tag == "qgis" and root.find("renderer-v2") is not None
        assert ET.fromstring(sld.encode("utf-8")).tag.endswith("StyledLayerDescriptor")
    chosen_style = styles.set_index("f_table_name").loc["chosen_sites", "styleQML"]
    plan = pd.read_csv(runs[name] / "plan.csv", encoding="utf-8-sig", dtype={"service": str})
    for service in plan["service"].unique():  # one category per service the plan uses
        assert f'value="{service}"' in chosen_style


@pytest.mark.parametrize("name", EXAMPLES)
def test_served_by_and_catchments_agree_with_the_demand_layer(runs: dict[str, Path], name: str) -> None:
    path = runs[name] / "plan.gpkg"
    demand = gpd.read_file(path, layer="demand").set_index("demand_id")
    served = gpd.read_file(path, layer="served_by")
    catch = gpd.read_file(path, layer="catchments")
    summary_services = read_run(runs[name])[2].to_dict()["services"]
    for service, rec in summary_services.items():
        mine = served[served["service"] == service]
        covered = set(demand.index[demand[f"covered_{service}"] == 1])
        assert set(mine["demand_id"]) == covered, service
        assert (mine["distance_m"] <= rec["reach_m"] + 0.05).all()
        # each line starts at its demand point
        start = shapely.get_point(np.asarray(mine.geometry.values), 0)
        pts = np.asarray(demand.loc[mine["demand_id"]].geometry.values)
        assert shapely.equals_exact(start, pts, tolerance=1e-6).all()
        # and ends at a facility whose catchment holds the demand point
        zones = catch[catch["service"] == service].set_index("facility_id")
        assert set(mine["facility_id"]) <= set(zones.index)
        inside = shapely.covers(np.asarray(zones.loc[mine["facility_id"]].geometry.values), pts)
        assert inside.all(), service
        people = mine.groupby("facility_id")["people"].sum()
        assert (zones.loc[people.index, "people"] >= people.to_numpy() - 0.01).all()


@pytest.mark.parametrize("name", ["wuhai", "kotka"])
def test_chosen_plots_are_polygons_holding_their_sites(runs: dict[str, Path], name: str) -> None:
    path = runs[name] / "plan.gpkg"
    plots = gpd.read_file(path, layer="chosen_plots")
    chosen = gpd.read_file(path, layer="chosen_sites")
    assert set(plots.geom_type) <= {"Polygon", "MultiPolygon"}
    assert sorted(plots["site_id"]) == sorted(chosen["site_id"].unique())
    site_point = chosen.drop_duplicates("site_id").set_index("site_id").geometry
    assert shapely.covers(np.asarray(plots.geometry.values), np.asarray(site_point.loc[plots["site_id"]].values)).all()


def test_nearest_open_matches_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m = int(rng.integers(1, 30)), int(rng.integers(1, 12))
        dense = np.round(rng.uniform(0, 100, (n, m)), 0)
        dense[rng.random((n, m)) < 0.4] = np.inf  # pairs never measured
        stored = np.where(np.isfinite(dense), dense, 0.0)
        mask = np.isfinite(dense)
        d = sp.csr_array((stored[mask], np.nonzero(mask)), shape=(n, m))
        open_cols = np.flatnonzero(rng.random(m) < 0.5).astype(np.int64)
        reach = float(rng.uniform(10, 90))
        best, dist = nearest_open(d, open_cols, reach)
        for i in range(n):  # brute force
            cand = [(dense[i, j], j) for j in open_cols if dense[i, j] <= reach]
            if not cand:
                assert best[i] == -1 and np.isinf(dist[i])
            else:
                want = min(cand)
                assert (dist[i], best[i]) == (want[0], want[1])
