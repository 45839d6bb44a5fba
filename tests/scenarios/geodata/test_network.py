"""Walking-network distances checked against networkx on a small real graph (Helsinki centre).

The fixture tests/data/network/helsinki_walk_edges_clip.geojson is a clip of the real OSM walking
network (see tests/data/network/README.md). Every expected value here is computed independently in
the test (networkx on a graph the test builds itself from the raw line geometry, brute-force
snapping with shapely), or checked by hand (toy networks, comments say so).
"""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from paths import DATA
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from siting.models.errors import DataError
from siting.scenarios.geodata.network import StreetNetwork, network_distances, walking_minutes_to_metres

DATA = DATA / "network"
METRIC = "EPSG:3067"  # ETRS89 / TM35FIN, the Finnish national grid


@pytest.fixture(scope="module")
def lines() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "helsinki_walk_edges_clip.geojson").to_crs(METRIC)


@pytest.fixture(scope="module")
def net(lines: gpd.GeoDataFrame) -> StreetNetwork:
    return StreetNetwork.from_lines(lines)


@pytest.fixture(scope="module")
def reference(lines: gpd.GeoDataFrame) -> tuple[nx.Graph, list[tuple[tuple[float, float], tuple[float, float]]]]:
    """The largest component of a networkx graph built from the raw line vertices, and its segments."""
    g = nx.Graph()
    for geom in lines.geometry:
        pts = [tuple(c) for c in geom.coords]
        for a, b in itertools.pairwise(pts):
            if a == b:
                continue
            w = math.dist(a, b)
            if not g.has_edge(a, b) or g[a][b]["weight"] > w:
                g.add_edge(a, b, weight=w)
    lcc = max(nx.connected_components(g), key=len)
    g = g.subgraph(lcc).copy()
    return g, list(g.edges())


def test_graph_matches_networkx_node_to_node(net, reference) -> None:
    g, _ = reference
    # same largest component: same nodes and edges
    assert net.n_nodes == g.number_of_nodes()
    assert net.n_edges == g.number_of_edges()
    assert net.n_dropped_components >= 1  # the clip cuts pieces off at its border
    nodes = list(g.nodes)
    dist, idx = cKDTree(net.xy).query(np.array(nodes))
    assert dist.max() < 1e-5 and np.unique(idx).size == len(nodes)  # one network node per graph node
    to_net = dict(zip(nodes, idx.tolist()))
    rng = np.random.default_rng(7)
    sources = [nodes[i] for i in rng.choice(len(nodes), size=5, replace=False)]
    ours = dijkstra(net.graph, directed=False, indices=[to_net[s] for s in sources])
    for row, s in enumerate(sources):
        expected = nx.single_source_dijkstra_path_length(g, s, weight="weight")
        idx = np.array([to_net[p] for p in expected])
        np.testing.assert_allclose(ours[row, idx], np.array(list(expected.values())), rtol=1e-12, atol=1e-6)
    assert net.graph.shape == (net.n_nodes, net.n_nodes)
    assert abs(net.graph - net.graph.T).max() == 0.0


def test_length_column_is_apportioned(lines) -> None:
    net = StreetNetwork.from_lines(lines, length_column="length_m", keep="all")
    # every line is kept whole (keep="all", no parallel duplicates in this clip), so the lengths add up
    assert not any("parallel" in n for n in net.notes)
    assert net.total_length == pytest.approx(float(lines["length_m"].sum()), rel=1e-9)
    per_line = np.bincount(net.edge_line, weights=net.length, minlength=len(lines))
    np.testing.assert_allclose(per_line, lines["length_m"].to_numpy(), rtol=1e-9)


def _brute_snap(points: np.ndarray, segments: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest segment (index), distance along it, and snap distance, by checking every segment."""
    seg_lines = shapely.linestrings(np.array(segments, dtype=float))
    seg = np.empty(len(points), dtype=int)
    along = np.empty(len(points))
    dist = np.empty(len(points))
    for i, p in enumerate(shapely.points(points)):
        d = shapely.distance(p, seg_lines)
        seg[i] = int(np.argmin(d))
        dist[i] = d[seg[i]]
        along[i] = shapely.line_locate_point(seg_lines[seg[i]], p)
    return seg, along, dist


def _expected_matrix(g: nx.Graph, segments: list, demand: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Walking distances by networkx after inserting the snapped points into the graph by hand."""
    g = g.copy()
    pts = np.vstack([demand, sites])
    seg, along, dist = _brute_snap(pts, segments)
    by_edge: dict[int, list[int]] = {}
    for i, e in enumerate(seg):
        by_edge.setdefault(int(e), []).append(i)
    for e, members in by_edge.items():
        a, b = segments[e]
        g.remove_edge(a, b)
        chain = [a] + [("snap", i) for i in sorted(members, key=lambda i: along[i])] + [b]
        pos = [0.0] + [along[i] for i in sorted(members, key=lambda i: along[i])] + [math.dist(a, b)]
        for k in range(len(chain) - 1):
            g.add_edge(chain[k], chain[k + 1], weight=pos[k + 1] - pos[k])
    for i in range(len(pts)):
        g.add_edge(("point", i), ("snap", i), weight=dist[i])
    n = len(demand)
    out = np.full((n, len(sites)), np.inf)
    for j in range(len(sites)):
        lengths = nx.single_source_dijkstra_path_length(g, ("point", n + j), weight="weight")
        for i in range(n):
            out[i, j] = lengths.get(("point", i), np.inf)
    return out


@pytest.fixture(scope="module")
def random_points(net) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    x0, y0, x1, y1 = net.bounds
    demand = rng.uniform([x0, y0], [x1, y1], size=(40, 2))
    sites = rng.uniform([x0, y0], [x1, y1], size=(8, 2))
    return demand, sites


@pytest.fixture(scope="module")
def expected(reference, random_points) -> np.ndarray:
    g, segments = reference
    return _expected_matrix(g, segments, *random_points)


def test_snap_is_nearest_point_on_nearest_segment(net, reference, random_points) -> None:
    _, segments = reference
    pts = np.vstack(random_points)
    snap = net.snap(pts)
    _, _, dist = _brute_snap(pts, segments)
    np.testing.assert_allclose(snap.snap_distance, dist, atol=1e-6)
    np.testing.assert_allclose(np.hypot(*(pts - snap.point).T), snap.snap_distance, atol=1e-9)
    assert np.all((snap.t >= 0) & (snap.t <= 1))
    a, b = net.xy[net.u[snap.edge]], net.xy[net.v[snap.edge]]
    np.testing.assert_allclose(a + snap.t[:, None] * (b - a), snap.point, atol=1e-9)


@pytest.mark.parametrize("chunk_bytes", [200_000_000, 1])  # 1 byte: one source per Dijkstra call
def test_distances_equal_networkx_and_respect_cutoff(net, random_points, expected, chunk_bytes) -> None:
    demand, sites = random_points
    cutoff = 350.0
    res = network_distances(net, demand, sites, cutoff, chunk_bytes=chunk_bytes)
    d = res.distances
    assert isinstance(d, sp.csr_array) and d.dtype == np.float32 and d.shape == (40, 8)
    assert not res.unsnapped_demand.any() and not res.unsnapped_sites.any()
    stored = d.toarray() if d.nnz else np.zeros(d.shape)
    mask = np.zeros(d.shape, dtype=bool)
    rows = np.repeat(np.arange(d.shape[0]), np.diff(d.indptr))
    mask[rows, d.indices] = True
    # (b) nothing beyond the cutoff, everything within it (a 1 mm band at the cutoff is ambiguous)
    assert d.data.max() <= cutoff
    assert np.all(expected[mask] <= cutoff + 1e-3)
    assert np.all(mask[expected <= cutoff - 1e-3])
    assert 0 < mask.sum() < mask.size  # the cutoff really cuts
    np.testing.assert_allclose(stored[mask], expected[mask], rtol=1e-6, atol=1e-3)


def test_more_sites_than_demand_runs_from_demand(net, random_points, expected) -> None:
    demand, sites = random_points
    # swap roles: 8 "demand", 40 "sites": Dijkstra now starts from the demand side
    res = network_distances(net, sites, demand, 350.0)
    ref = network_distances(net, demand, sites, 350.0).distances
    assert (res.distances != ref.T).nnz == 0
    full = network_distances(net, demand, sites, np.inf).distances.toarray()
    np.testing.assert_allclose(full, expected, rtol=1e-6, atol=1e-3)


def test_unsnapped_points_are_flagged_and_get_no_pairs(net, random_points) -> None:
    demand, sites = random_points
    x0, y0, x1, y1 = net.bounds
    far = np.array([[x1 + 5000.0, y1], [x0, y0 - 2000.0]])
    dem = np.vstack([demand[:5], far])
    sit = np.vstack([sites[:3], far[:1]])
    res = network_distances(net, dem, sit, 10_000.0, max_snap=100.0)
    assert res.unsnapped_demand.tolist() == [False] * 5 + [True, True]
    assert res.unsnapped_sites.tolist() == [False] * 3 + [True]
    d = res.distances.tocsr()
    assert d[[5, 6], :].nnz == 0 and d[:, [3]].nnz == 0
    assert d[:5, :3].nnz == 15  # the whole clip is within 10 km
    # how far they are is still reported, for the error message
    assert res.snap_demand.snap_distance[5] >= 5000.0 - 1e-6
    assert res.snap_sites.snap_distance[3] >= 5000.0 - 1e-6
    # nothing snapped at all: an empty matrix of the right shape
    none = network_distances(net, far, far, 10_000.0, max_snap=100.0)
    assert none.distances.shape == (2, 2) and none.distances.nnz == 0


@pytest.fixture()
def square() -> StreetNetwork:
    """A 1000 m x 500 m rectangle of streets: A(0,0) B(1000,0) C(1000,500) D(0,500)."""
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [1000.0, 500.0], [0.0, 500.0]])
    return StreetNetwork.from_arrays(xy, [0, 1, 2, 3], [1, 2, 3, 0], crs=METRIC)


def test_same_edge_points_walk_directly(square) -> None:
    # Hand-checked: all points snap to edge A-B (y = 0).
    demand = np.array([[300.0, 10.0], [350.0, -2.0], [990.0, 1.0]])
    sites = np.array([[400.0, -5.0]])
    res = network_distances(square, demand, sites, 2000.0)
    d = res.distances.toarray()[:, 0]
    # 10 + |300 - 400| + 5; 2 + 50 + 5; 1 + 590 + 5 (along the edge, not around the rectangle)
    np.testing.assert_allclose(d, [115.0, 57.0, 596.0], atol=1e-4)
    # site on the opposite edge C-D at x=400: 400 + 500 + 400 via A, or 600 + 500 + 600 via B
    far = network_distances(square, demand[:1], np.array([[400.0, 500.0]]), 5000.0)
    assert far.distances.toarray()[0, 0] == pytest.approx(10.0 + 300.0 + 500.0 + 400.0, abs=1e-4)


def test_points_on_nodes_and_coincident_points_keep_zero_distances(square) -> None:
    # Hand-checked: demand 0 sits on node A; demand 1 on top of the site; cutoff is inclusive.
    demand = np.array([[0.0, 0.0], [400.0, 0.0], [300.0, 0.0]])
    sites = np.array([[400.0, 0.0]])
    res = network_distances(square, demand, sites, 100.0)
    d = res.distances
    assert d.nnz == 2  # A is 400 m away (> 100); the point at x=300 is exactly 100 m away
    dense = d.toarray()[:, 0]
    assert dense[1] == 0.0 and dense[2] == pytest.approx(100.0)
    assert int((d.data == 0.0).sum()) == 1  # the zero is a stored pair, not a missing one
    res = network_distances(square, demand, sites, 400.0)
    assert res.distances.toarray()[0, 0] == pytest.approx(400.0)


def test_float32_rounding_never_exceeds_cutoff(square) -> None:
    cutoff = 1000.0 / 3.0  # not representable in float32
    demand = np.array([[cutoff, 0.0]])
    res = network_distances(square, demand, np.array([[0.0, 0.0]]), cutoff)
    assert res.distances.nnz == 1
    assert float(res.distances.data[0]) <= cutoff


def test_from_lines_merges_shared_vertices_only(square) -> None:
    # Hand-checked toy layer: a T junction sharing a vertex, a bridge crossing without one,
    # a MultiLineString whose two parts must not be joined end-to-start, and a separate piece.
    geoms = [
        shapely.LineString([(0, 0), (100, 0), (200, 0)]),
        shapely.LineString([(100, 0), (100, 100)]),  # joins at (100, 0)
        shapely.LineString([(150, -50), (150, 50)]),  # crosses (150, 0) without a shared vertex
        shapely.MultiLineString([[(200, 0), (300, 0)], [(300, 50), (400, 50)]]),
        shapely.LineString([(1000, 1000), (1010, 1000)]),
        None,
    ]
    gdf = gpd.GeoDataFrame({"name": list("abcdef")}, geometry=geoms, crs=METRIC)
    everything = StreetNetwork.from_lines(gdf, keep="all")
    assert everything.n_edges == 7
    assert everything.n_nodes == 11
    assert any("1 empty or missing" in n for n in everything.notes)
    largest = StreetNetwork.from_lines(gdf)
    # component of the T and the first part of the MultiLineString: (0,0)-(100,0)-(200,0)-(300,0), (100,100)
    assert largest.n_nodes == 5 and largest.n_edges == 4
    assert largest.n_dropped_components == 3 and largest.n_dropped_edges == 3
    assert largest.total_length == pytest.approx(400.0)
    assert sorted(set(largest.edge_line.tolist())) == [0, 1, 3]


def test_from_lines_rejects_bad_layers(lines) -> None:
    with pytest.raises(DataError, match="geographic CRS"):
        StreetNetwork.from_lines(lines.to_crs("EPSG:4326"))
    with pytest.raises(DataError, match="no CRS"):
        StreetNetwork.from_lines(lines.set_crs(None, allow_override=True))
    polys = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=METRIC)
    with pytest.raises(DataError, match="Polygon"):
        StreetNetwork.from_lines(polys)
    with pytest.raises(DataError, match="no column 'len'"):
        StreetNetwork.from_lines(lines, length_column="len")
    neg = lines.assign(length_m=-1.0)
    with pytest.raises(DataError, match="negative or missing"):
        StreetNetwork.from_lines(neg, length_column="length_m")


def test_network_distances_rejects_bad_input(square) -> None:
    pts = np.array([[0.0, 0.0]])
    with pytest.raises(DataError, match="cutoff"):
        network_distances(square, pts, pts, -1.0)
    with pytest.raises(DataError, match=r"\(n, 2\)"):
        network_distances(square, np.zeros(3), pts, 10.0)
    with pytest.raises(DataError, match="missing or infinite"):
        network_distances(square, np.array([[np.nan, 0.0]]), pts, 10.0)


def test_from_osm_pbf_contains_the_clip(lines) -> None:
    net = StreetNetwork.from_osm_pbf(DATA / "helsinki_centre.osm.pbf")
    assert net.crs.to_epsg() == 32635  # UTM 35N for Helsinki
    clip = StreetNetwork.from_lines(lines.to_crs(net.crs))
    # every node of the clip's street graph lies on the full OSM walking network
    assert net.snap(clip.xy).snap_distance.max() < 1e-6
    assert net.total_length > 3 * clip.total_length
    boxed = StreetNetwork.from_osm_pbf(DATA / "helsinki_centre.osm.pbf", bbox=(24.940, 60.168, 24.948, 60.172))
    assert boxed.total_length < net.total_length


def test_walking_minutes_to_metres() -> None:
    # Hand-checked: 15 min at 4 km/h = 1 km; 5 min at 4.8 km/h = 400 m.
    assert walking_minutes_to_metres(15) == pytest.approx(1000.0)
    assert walking_minutes_to_metres(5, speed_kmh=4.8) == pytest.approx(400.0)
    np.testing.assert_allclose(walking_minutes_to_metres(np.array([0.0, 3.0])), [0.0, 200.0])
    with pytest.raises(DataError, match="speed"):
        walking_minutes_to_metres(10, speed_kmh=0)
    with pytest.raises(DataError, match="minutes"):
        walking_minutes_to_metres(-1)
