"""A whole (tiny) synthetic city through ``siting run``, tiled walking distances, peak memory, progress.

The full-size city (560,000 residents, 2,000 plots) is a benchmark (benchmarks/make_city.py); here the
same generator makes a 3,000-resident town that runs in seconds.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
from paths import REPO
from typer.testing import CliRunner

import siting.scenarios.geodata.network as network_mod
from siting.cli import app
from siting.scenarios.geodata.network import StreetNetwork, network_distances
from siting.scenarios.pipeline.summary import failed_checks

ROOT = REPO
HELSINKI_CSV = ROOT / "scenarios" / "examples" / "helsinki_csv"
runner = CliRunner()


def _make_city_module():
    spec = importlib.util.spec_from_file_location("make_city", ROOT / "benchmarks" / "make_city.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("town")
    counts = _make_city_module().make_city(3000, 40, 7, out)
    return out, counts


def test_make_city_writes_a_labelled_seeded_city(town: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    out, counts = town
    gpkg = out / "city.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"buildings", "candidate_sites", "facilities", "streets"}
    b = pyogrio.read_dataframe(gpkg, layer="buildings")
    assert len(b) == counts["buildings"] and int(b["residents"].sum()) == 3000
    assert b["synthetic"].all()
    assert (b["elderly_60plus"] <= b["residents"]).all() and (b["infants_0_3"] <= b["residents"]).all()
    sites = pyogrio.read_dataframe(gpkg, layer="candidate_sites")
    assert len(sites) == 40 and sites["site_id"].is_unique
    assert set(sites["land_type"]) == {"idle_land", "warehouse", "factory", "commercial", "demolition_site"}
    assert pyogrio.read_info(gpkg, layer="streets")["crs"].endswith("4545")
    text = (out / "scenario.yaml").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and "2022" in text and "2024" in text
    # the same seed writes the same city; another seed another one
    again = _make_city_module().make_city(3000, 40, 7, tmp_path / "again")
    assert again == counts
    b2 = pyogrio.read_dataframe(tmp_path / "again" / "city.gpkg", layer="buildings")
    assert b2["residents"].tolist() == b["residents"].tolist()
    other = _make_city_module().make_city(3000, 40, 8, tmp_path / "other")
    b3 = pyogrio.read_dataframe(tmp_path / "other" / "city.gpkg", layer="buildings")
    assert len(b3) != len(b) or b3["residents"].tolist() != b["residents"].tolist() or other != counts


def test_make_city_runs_end_to_end_with_peak_memory(town: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    out, _ = town
    dest = tmp_path / "run"
    result = runner.invoke(app, ["run", str(out / "scenario.yaml"), "--out", str(dest), "--time-limit", "30"])
    assert result.exit_code == 0, result.output
    summary = json.loads((dest / "summary.json").read_text(encoding="utf-8"))
    assert summary["distance"]["method"] == "network"
    assert failed_checks(summary) == []
    assert summary["peak_memory_mb"] > 0
    assert "peak memory" in result.stdout
    # progress lines from inside the joint solve: the greedy start and the primary stage's gap
    assert "greedy start:" in result.stderr and "primary stage:" in result.stderr and "gap" in result.stderr


def _grid_network(rng: np.random.Generator, side: int, spacing: float, shrink: float = 1.0) -> StreetNetwork:
    """A perturbed grid with 10 % of its edges removed; ``shrink`` < 1 makes some lengths shorter than drawn."""
    gx, gy = np.meshgrid(np.arange(side) * spacing, np.arange(side) * spacing)
    xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.normal(0.0, 0.1 * spacing, (side * side, 2))
    ids = np.arange(side * side).reshape(side, side)
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    keep = rng.random(u.size) > 0.1
    u, v = u[keep], v[keep]
    length = np.hypot(*(xy[v] - xy[u]).T)
    length = np.where(rng.random(u.size) < 0.2, length * shrink, length)
    return StreetNetwork.from_arrays(xy, u, v, length, crs="EPSG:3067")


@pytest.mark.parametrize("shrink", [1.0, 0.6])
def test_tiled_walking_distances_equal_the_whole_graph_search(shrink: float, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    net = _grid_network(rng, 40, 50.0, shrink)
    demand = rng.uniform(0, 39 * 50.0, (400, 2))
    sites = rng.uniform(0, 39 * 50.0, (60, 2))
    assert network_mod.walk_radius(net, 300.0) == pytest.approx(300.0 / min(1.0, shrink), rel=1e-6)
    lines: list[str] = []
    monkeypatch.setattr(network_mod, "PROGRESS_SECONDS", -1.0)
    tiled = network_distances(net, demand, sites, 300.0, max_snap=100.0, progress=lines.append)
    monkeypatch.setattr(network_mod, "walk_radius", lambda _net, _cutoff: float("inf"))
    whole = network_distances(net, demand, sites, 300.0, max_snap=100.0)
    assert tiled.distances.nnz == whole.distances.nnz > 0
    assert np.array_equal(tiled.distances.indptr, whole.distances.indptr)
    assert np.array_equal(tiled.distances.indices, whole.distances.indices)
    assert np.array_equal(tiled.distances.data, whole.distances.data)
    assert lines and "tiles" in lines[-1]


def test_solve_reports_peak_memory() -> None:
    args = ["solve", "--demand", str(HELSINKI_CSV / "demand.csv"), "--sites", str(HELSINKI_CSV / "sites.csv")]
    args += ["--model", "mclp", "--radius", "400", "--p", "3"]
    as_json = runner.invoke(app, [*args, "--json", "--quiet"])
    assert as_json.exit_code == 0, as_json.output
    record = json.loads(as_json.stdout)
    assert record["peak_memory_mb"] > 0
    plain = runner.invoke(app, [*args, "--quiet"])
    assert plain.exit_code == 0 and "peak" in plain.stdout


def test_map_links_clusters_along_delaunay_edges_like_all_pairs() -> None:
    """The map's grouping of a city's points (Delaunay edges) equals the grouping by all pairs within reach."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    from siting.scenarios.outputs.map_clusters import link_pairs

    rng = np.random.default_rng(5)
    for _ in range(10):
        centres = rng.uniform(0, 3000, (5, 2))
        pts = np.vstack([rng.normal(c, 50, (int(rng.integers(2, 400)), 2)) for c in centres])
        pts = np.vstack([pts, pts[:7]])  # duplicates
        link = float(rng.uniform(20, 300))

        def groups(pairs: np.ndarray, n: int) -> tuple[int, np.ndarray]:
            graph = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
            return connected_components(graph, directed=False)

        k_all, lab_all = groups(cKDTree(pts).query_pairs(r=link, output_type="ndarray"), len(pts))
        k_tri, lab_tri = groups(link_pairs(pts, link), len(pts))
        assert k_all == k_tri and len(set(zip(lab_all.tolist(), lab_tri.tolist()))) == k_all
