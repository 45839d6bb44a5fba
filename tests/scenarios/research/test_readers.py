"""Readers: OR-Library pmed, TSPLIB, known-value tables, generic CSV instances and distance matrices.

Every malformed input must raise DataError naming the file and what is wrong; the messages are
pinned with ``match``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from paths import DATA, REPO

from siting.models.errors import DataError
from siting.scenarios.research.readers import (
    read_csv_instance,
    read_optimal_values,
    read_orlib_pmed,
    read_tsplib,
)

EXAMPLE = REPO / "scenarios" / "examples" / "helsinki_csv"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ OR-Library
# A 4-vertex graph where edge {1,2} appears twice: "1 2 3" then "2 1 20". The last occurrence wins,
# so c(1,2) = 20, not min = 3. Shortest paths, checked by hand:
#   d12 = min(20, 1-4-3-2 = 30+7+5) = 20     d13 = min(1-2-3 = 25, 1-4-3 = 37) = 25
#   d14 = min(30, 1-2-3-4 = 32) = 30         d23 = 5, d34 = 7, d24 = 2-3-4 = 12
TINY_PMED = "4 5 2\n1 2 3\n2 3 5\n3 4 7\n1 4 30\n2 1 20\n"
TINY_DIST = np.array([[0, 20, 25, 30], [20, 0, 5, 12], [25, 5, 0, 7], [30, 12, 7, 0]], dtype=np.float32)


def test_orlib_last_occurrence_wins(tmp_path: Path) -> None:
    inst, p = read_orlib_pmed(write(tmp_path, "tiny.txt", TINY_PMED))
    assert p == 2
    assert inst.distances.dtype == np.float32
    np.testing.assert_array_equal(inst.distances, TINY_DIST)
    np.testing.assert_array_equal(inst.demand_ids, [1, 2, 3, 4])
    np.testing.assert_array_equal(inst.site_ids, [1, 2, 3, 4])
    np.testing.assert_array_equal(inst.weights, np.ones(4))
    assert inst.name == "tiny"


def test_orlib_original_layout_with_spaces_and_crlf(tmp_path: Path) -> None:
    # OR-Library's own files have leading spaces, trailing blanks and CRLF line ends
    text = "".join(f" {line} \r\n" for line in TINY_PMED.splitlines()) + "\r\n"
    inst, _ = read_orlib_pmed(write(tmp_path, "tiny.txt", text))
    np.testing.assert_array_equal(inst.distances, TINY_DIST)


def _floyd_last_wins(path: Path) -> tuple[np.ndarray, int]:
    """Independent reference: dict assignment (last wins) + Floyd-Warshall, loops over k only."""
    lines = path.read_text().split("\n")
    n, m, p = (int(t) for t in lines[0].split())
    cost: dict[tuple[int, int], float] = {}
    for line in lines[1 : m + 1]:
        i, j, c = (int(t) for t in line.split())
        cost[(min(i, j) - 1, max(i, j) - 1)] = c
    d = np.full((n, n), np.inf)
    np.fill_diagonal(d, 0)
    for (i, j), c in cost.items():
        d[i, j] = d[j, i] = c
    for k in range(n):
        d = np.minimum(d, d[:, k, None] + d[None, k, :])
    return d, p


def test_orlib_pmed1_matches_floyd_reference() -> None:
    inst, p = read_orlib_pmed(DATA / "orlib" / "pmed1.txt")
    ref, p_ref = _floyd_last_wins(DATA / "orlib" / "pmed1.txt")
    assert (inst.n, inst.m, p) == (100, 100, p_ref)
    np.testing.assert_array_equal(inst.distances, ref.astype(np.float32))


def test_orlib_pmed1_published_optimum_with_scipy_milp() -> None:
    """The distances give OR-Library's optimum 5819 (min over duplicates would give 5718).

    Solved with scipy's own MILP (classic assignment formulation), independent of siting's solvers.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    inst, p = read_orlib_pmed(DATA / "orlib" / "pmed1.txt")
    n = inst.n
    c = np.concatenate([inst.dense_distances().ravel(), np.zeros(n)])
    eye = sp.identity(n, format="csr")
    assign = sp.hstack([sp.kron(eye, np.ones((1, n))), sp.csr_array((n, n))])  # sum_j x_ij = 1
    link = sp.hstack([sp.identity(n * n), -sp.kron(np.ones((n, 1)), eye)])  # x_ij <= y_j
    count = sp.hstack([sp.csr_array((1, n * n)), np.ones((1, n))])  # sum_j y_j = p
    res = milp(
        c,
        constraints=[LinearConstraint(assign, 1, 1), LinearConstraint(link, -np.inf, 0), LinearConstraint(count, p, p)],
        integrality=np.concatenate([np.zeros(n * n), np.ones(n)]),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0},
    )
    assert res.status == 0
    known = read_optimal_values(DATA / "orlib" / "optimal_values.csv")[("pmed1", 5)]
    assert res.fun == pytest.approx(known.value, abs=1e-6)
    assert known.value == 5819 and known.proven


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"bad\.txt is empty"),
        ("4 5\n", r"bad\.txt line 1: expected 3 integers 'n m p'.*got '4 5'"),
        ("4 5 2\n1 2 3\n2 3 5\n3 4 7\nx y\n2 1 20\n", r"bad\.txt line 5: expected 3 integers 'i j cost', got 'x y'"),
        (
            "4 5 2\n1 2 3\n2 3 5\n3 4 7\n1 4 3.5\n2 1 20\n",
            r"bad\.txt line 5: expected 3 integers 'i j cost', got '1 4 3\.5'",
        ),
        (
            "4 5 2\n1 2 3\n2 3 5\n3 9 7\n1 4 30\n2 1 20\n",
            r"bad\.txt line 4: edge \(3, 9\) names a vertex outside 1\.\.4",
        ),
        (
            "4 5 2\n1 2 3\n2 3 5\n0 4 7\n1 4 30\n2 1 20\n",
            r"line 4: edge \(0, 4\) names a vertex outside 1\.\.4; vertex ids are 1-based",
        ),
        ("4 5 2\n1 2 3\n2 3 -5\n3 4 7\n1 4 30\n2 1 20\n", r"line 3: edge \(2, 3\) has negative cost -5"),
        ("4 5 2\n1 2 3\n2 3 5\n3 4 7\n1 4 30\n", r"declares m = 5 edges but the file has 4 edge lines"),
        ("4 5 2\n1 2 3\n2 3 5\n3 4 7\n1 4 30\n2 1 20\n1 3 4\n", r"declares m = 5 edges but the file has 6 edge lines"),
        ("4 5 7\n1 2 3\n2 3 5\n3 4 7\n1 4 30\n2 1 20\n", r"line 1: p = 7 medians is not between 1 and n = 4"),
        ("5 5 2\n1 2 3\n2 3 5\n3 4 7\n1 4 30\n2 1 20\n", r"disconnected \(2 components\); vertices 5 cannot reach"),
    ],
)
def test_orlib_malformed(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_orlib_pmed(write(tmp_path, "bad.txt", text))


def test_orlib_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"OR-Library p-median file not found: .*nope\.txt"):
        read_orlib_pmed(tmp_path / "nope.txt")


# ---------------------------------------------------------------------------------------- TSPLIB
# Points (0,0), (3,4), (1,1): Euclidean 5, 3.6056 and 1.4142 -> floors 5, 3 and 1 (by hand).
TINY_TSP = """NAME : tiny
COMMENT : three points
TYPE : TSP
DIMENSION : 3
EDGE_WEIGHT_TYPE : {wtype}
NODE_COORD_SECTION
1 0 0
2 3.0e+00 4.0e+00
3 1 1
EOF
"""


@pytest.mark.parametrize("wtype", ["EUC_2D", "CEIL_2D"])
def test_tsplib_floor_rule(tmp_path: Path, wtype: str) -> None:
    inst = read_tsplib(write(tmp_path, "tiny.tsp", TINY_TSP.format(wtype=wtype)))
    expected = np.array([[0, 5, 1], [5, 0, 3], [1, 3, 0]], dtype=np.float32)  # floor even for CEIL_2D
    np.testing.assert_array_equal(inst.distances, expected)
    np.testing.assert_array_equal(inst.demand_ids, [1, 2, 3])
    assert inst.name == "tiny"


def test_tsplib_stops_at_a_following_section(tmp_path: Path) -> None:
    text = TINY_TSP.format(wtype="EUC_2D").replace("EOF\n", "DISPLAY_DATA_SECTION\n1 0 0\nEOF\n")
    assert read_tsplib(write(tmp_path, "tiny.tsp", text)).n == 3


def test_tsplib_plain_euclidean(tmp_path: Path) -> None:
    inst = read_tsplib(write(tmp_path, "tiny.tsp", TINY_TSP.format(wtype="EUC_2D")), rounding="none")
    assert inst.distances[0, 2] == pytest.approx(math.sqrt(2), rel=1e-6)
    assert inst.distances[1, 2] == pytest.approx(math.sqrt(13), rel=1e-6)


def test_tsplib_rl1304_blockwise_matches_pointwise() -> None:
    path = DATA / "tsplib" / "rl1304.tsp"
    inst = read_tsplib(path)
    assert inst.n == inst.m == 1304
    lines = path.read_text().splitlines()
    start = lines.index("NODE_COORD_SECTION") + 1
    xy = [tuple(float(t) for t in line.split()[1:]) for line in lines[start : start + 1304]]
    rng = np.random.default_rng(7)
    for i, j in rng.integers(0, 1304, size=(200, 2)):
        assert inst.distances[i, j] == math.floor(math.dist(xy[i], xy[j]))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (TINY_TSP.format(wtype="GEO"), r"EDGE_WEIGHT_TYPE GEO is not supported; only CEIL_2D and EUC_2D"),
        (TINY_TSP.format(wtype="EUC_2D").replace("DIMENSION : 3\n", ""), r"no 'DIMENSION : n' line"),
        (
            TINY_TSP.format(wtype="EUC_2D").replace("DIMENSION : 3", "DIMENSION : 4"),
            r"DIMENSION is 4 but NODE_COORD_SECTION has 3 points",
        ),
        (
            TINY_TSP.format(wtype="EUC_2D").replace("DIMENSION : 3", "DIMENSION : 2"),
            r"line 9: more coordinate lines than DIMENSION = 2",
        ),
        (
            TINY_TSP.format(wtype="EUC_2D").replace("3 1 1", "3 1 one"),
            r"bad\.tsp line 9: expected an integer id and two numbers",
        ),
        (TINY_TSP.format(wtype="EUC_2D").replace("3 1 1", "3 1"), r"bad\.tsp line 9: expected 'id x y', got '3 1'"),
        (TINY_TSP.format(wtype="EUC_2D").replace("3 1 1", "2 1 1"), r"duplicate point ids 2"),
        (
            TINY_TSP.format(wtype="EUC_2D").replace("NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION"),
            r"line 6: expected a header line",
        ),
        ("NAME : x\nDIMENSION : 3\n", r"no NODE_COORD_SECTION"),
    ],
)
def test_tsplib_malformed(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_tsplib(write(tmp_path, "bad.tsp", text))


def test_tsplib_refuses_too_large_dense_matrix(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.tsp", TINY_TSP.format(wtype="EUC_2D"))
    with pytest.raises(
        DataError, match=r"tiny\.tsp: a dense 3 x 3 float32 distance matrix needs .* GB, more than .*max_bytes"
    ):
        read_tsplib(path, max_bytes=20)


# -------------------------------------------------------------------------------- known values
def test_optimal_values_tsplib_best_known(tmp_path: Path) -> None:
    known = read_optimal_values(DATA / "tsplib" / "optimal_values.csv")
    assert len(known) == 9 and all(v.proven for v in known.values())
    assert known[("rl1304", 500)].value == 97024
    path = write(
        tmp_path,
        "opt.csv",
        'instance,n,p,optimal_value,status\nfl1400,1400,500,3764,"best_known(gap_0,09%_at_10h)"\n',
    )
    kv = read_optimal_values(path)[("fl1400", 500)]
    assert kv.value == 3764 and not kv.proven


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("instance,n,value\npmed1,100,5\n", r"missing column\(s\) p, optimal_value; columns found: instance, n, value"),
        ("instance,p,optimal_value\npmed1,five,5819\n", r"opt\.csv line 2: p 'five' must be an integer"),
        ("instance,p,optimal_value\npmed1,5,5819\npmed1,5,5819\n", r"line 3: pmed1 with p = 5 appears twice"),
    ],
)
def test_optimal_values_malformed(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_optimal_values(write(tmp_path, "opt.csv", text))


# ------------------------------------------------------------------------------------------- CSV
DEMAND = "id,x,y,weight\nd1,0,0,10\nd2,30,40,5\nd3,100,0,0\n"
SITES = "id,x,y,cost,capacity,existing\ns1,0,0,2,,0\ns2,30,0,1.5,7,true\n"


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path, "demand.csv", DEMAND), write(tmp_path, "sites.csv", SITES)


def test_csv_euclidean_instance(tables: tuple[Path, Path]) -> None:
    inst = read_csv_instance(*tables)
    # hand-checked: d2-s1 = 50 (3-4-5 triangle), d2-s2 = 40, d3-s2 = 70
    np.testing.assert_allclose(inst.distances, [[0, 30], [50, 40], [100, 70]])
    assert inst.distances.dtype == np.float32
    np.testing.assert_array_equal(inst.weights, [10, 5, 0])
    assert list(inst.demand_ids) == ["d1", "d2", "d3"] and list(inst.site_ids) == ["s1", "s2"]
    np.testing.assert_array_equal(inst.cost, [2, 1.5])
    np.testing.assert_array_equal(inst.capacity, [np.inf, 7])
    np.testing.assert_array_equal(inst.existing, [False, True])


def test_csv_defaults_and_integer_ids(tmp_path: Path) -> None:
    inst = read_csv_instance(
        write(tmp_path, "d.csv", " ID , X , Y \n1,0,0\n2,3,4\n"), write(tmp_path, "s.csv", "id,x,y\n10,0,0\n")
    )
    assert inst.demand_ids.dtype == np.int64 and list(inst.site_ids) == [10]
    np.testing.assert_array_equal(inst.weights, [1, 1])
    np.testing.assert_array_equal(inst.cost, [1])
    assert not inst.existing.any() and not inst.forbidden.any()


def test_csv_ids_with_leading_zeros_stay_strings(tmp_path: Path) -> None:
    inst = read_csv_instance(write(tmp_path, "d.csv", "id,x,y\n007,0,0\n"), write(tmp_path, "s.csv", "id,x,y\n1,0,0\n"))
    assert list(inst.demand_ids) == ["007"]


def test_csv_dense_npz_with_ids_reordered(tables: tuple[Path, Path], tmp_path: Path) -> None:
    d = np.array([[5, 1], [6, 2], [7, np.inf]])
    np.savez(tmp_path / "m.npz", distances=d[[2, 0, 1]][:, ::-1], demand_ids=["d3", "d1", "d2"], site_ids=["s2", "s1"])
    inst = read_csv_instance(*tables, distances=tmp_path / "m.npz")
    np.testing.assert_array_equal(inst.distances, d.astype(np.float32))


def test_csv_sparse_npz(tables: tuple[Path, Path], tmp_path: Path) -> None:
    m = sp.csr_array(([0.0, 4.0, np.inf], ([0, 1, 2], [0, 1, 1])), shape=(3, 2))
    sp.save_npz(tmp_path / "m.npz", m)
    inst = read_csv_instance(*tables, distances=tmp_path / "m.npz")
    assert inst.is_sparse
    # the explicit zero is a reachable pair, the stored inf is dropped (unreachable)
    np.testing.assert_array_equal(inst.dense_distances(), [[0, np.inf], [np.inf, 4], [np.inf, np.inf]])


def test_csv_matrix_csv_with_columns_reordered(tables: tuple[Path, Path], tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "demand,s2,s1\nd1,1,5\nd2,2,6\nd3,inf,7\n")
    inst = read_csv_instance(*tables, distances=path)
    np.testing.assert_array_equal(inst.distances, np.array([[5, 1], [6, 2], [7, np.inf]], dtype=np.float32))


def test_csv_without_coordinates_when_a_matrix_is_given(tmp_path: Path) -> None:
    inst = read_csv_instance(
        write(tmp_path, "d.csv", "id,weight\na,2\nb,3\n"),
        write(tmp_path, "s.csv", "id\nq\n"),
        distances=write(tmp_path, "m.csv", ",q\na,1\nb,2\n"),
    )
    np.testing.assert_array_equal(inst.distances, [[1], [2]])


def test_bundled_helsinki_example() -> None:
    inst = read_csv_instance(EXAMPLE / "demand.csv", EXAMPLE / "sites.csv")
    assert (inst.n, inst.m) == (29, 57)
    assert inst.weights.sum() == 10448  # README of the source data: 10,448 inhabitants
    assert inst.existing.sum() == 18  # the 18 public toilets
    assert (inst.cost[inst.existing] == 0).all() and (inst.cost[~inst.existing] == 1).all()
    # the study area is about 1.0 x 1.7 km: every pair is within 3 km
    assert float(inst.distances.max()) < 3000


@pytest.mark.parametrize(
    ("demand", "sites", "match"),
    [
        ("id,x\nd1,0\n", SITES, r"demand file demand\.csv: missing column\(s\) 'y'; columns found: 'id', 'x'"),
        (
            DEMAND,
            "name,x,y\ns1,0,0\n",
            r"sites file sites\.csv: missing column\(s\) 'id'; columns found: 'name', 'x', 'y'",
        ),
        (
            DEMAND.replace("d2,30,40,5", "d2,30,forty,5"),
            SITES,
            r"demand\.csv line 3 \(id 'd2'\): column 'y' is 'forty', not a number",
        ),
        (DEMAND.replace("d2,30,40,5", "d2,30,,5"), SITES, r"demand\.csv line 3 \(id 'd2'\): column 'y' is empty"),
        (
            DEMAND.replace("d2,30,40,5", "d2,30,40,nan"),
            SITES,
            r"demand\.csv: column 'weight' must be a finite number >= 0; bad at id\(s\) d2 \(nan\)",
        ),
        (
            DEMAND.replace("d2,30,40,5", "d2,30,40,-5"),
            SITES,
            r"column 'weight' must be a finite number >= 0; bad at id\(s\) d2 \(-5\)",
        ),
        (DEMAND.replace("d3,", "d1,"), SITES, r"demand\.csv: duplicate id\(s\) 'd1' \(lines 2, 4\)"),
        (DEMAND.replace("d2,30,40,5", "d2,30,40"), SITES, r"demand\.csv line 3: 3 fields but the header has 4"),
        ("id,x,y\n", SITES, r"demand file demand\.csv has a header but no rows"),
        ("", SITES, r"demand file demand\.csv is empty"),
        (
            DEMAND,
            SITES.replace(",true", ",maybe"),
            r"sites\.csv line 3 \(id 's2'\): column 'existing' is 'maybe'; use 1/0",
        ),
        (
            DEMAND,
            SITES.replace("s1,0,0,2", "s1,0,0,-2"),
            r"column 'cost' must be a finite number >= 0; bad at id\(s\) s1 \(-2\)",
        ),
        (
            DEMAND,
            SITES.replace("s1,0,0,", "s1,0,inf,"),
            r"sites\.csv: x and y must be finite numbers; bad at id\(s\) s1 \(0, inf\)",
        ),
        (DEMAND.replace("d1,0", ",0"), SITES, r"demand\.csv: empty id on line\(s\) 2"),
    ],
)
def test_csv_malformed(tmp_path: Path, demand: str, sites: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_csv_instance(write(tmp_path, "demand.csv", demand), write(tmp_path, "sites.csv", sites))


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"demand file not found: .*missing\.csv; check the path"):
        read_csv_instance(tmp_path / "missing.csv", write(tmp_path, "s.csv", SITES))


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (
            "x,s1,s2\nd1,1,2\nd2,1,2\n",
            r"m\.csv: the matrix has 2 rows and 2 site columns but there are 3 demand points",
        ),
        ("x,d1,d2,d3\ns1,1,2,3\ns2,1,2,3\n", r"has 2 rows and 3 site columns.*it looks transposed"),
        ("x,s1,s2\nd1,1,2\nd2,1\nd3,1,2\n", r"m\.csv line 3: 1 distances but the header names 2 sites"),
        ("x,s1,s2\nd1,1,2\nd2,1,far\nd3,1,2\n", r"m\.csv line 3 \(demand 'd2', site 's2'\): 'far' is not a number"),
        (
            "x,s1,s2\nd1,1,2\nd2,1,-4\nd3,1,2\n",
            r"m\.csv: 1 negative distance\(s\), at \(demand, site\) \(d2, s2\) = -4",
        ),
        ("x,s1,s2\nd1,1,2\nd2,1,nan\nd3,1,2\n", r"m\.csv: 1 NaN distance\(s\), at \(demand, site\) \(d2, s2\) = nan"),
        (
            "x,s1,s9\nd1,1,2\nd2,1,2\nd3,1,2\n",
            r"column \(site\) ids do not match the sites file; ids missing from the matrix: s2; ids not in the sites file: s9",
        ),
        (
            "x,s1,s2\nd1,1,2\nd2,1,2\nd7,1,2\n",
            r"row \(demand\) ids do not match the demand file; ids missing from the matrix: d3",
        ),
    ],
)
def test_csv_matrix_malformed(tables: tuple[Path, Path], tmp_path: Path, matrix: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_csv_instance(*tables, distances=write(tmp_path, "m.csv", matrix))


def test_npz_matrix_malformed(tables: tuple[Path, Path], tmp_path: Path) -> None:
    np.savez(tmp_path / "t.npz", distances=np.ones((2, 3)))
    with pytest.raises(
        DataError, match=r"t\.npz: the distance matrix has shape 2 x 3 .* it must be 3 x 2 \(it looks transposed"
    ):
        read_csv_instance(*tables, distances=tmp_path / "t.npz")
    np.savez(tmp_path / "neg.npz", distances=np.array([[1, 2], [3, -1], [-2, 0]]))
    with pytest.raises(
        DataError, match=r"neg\.npz: 2 negative distance\(s\), at \(demand, site\) \(d2, s2\) = -1, \(d3, s1\) = -2"
    ):
        read_csv_instance(*tables, distances=tmp_path / "neg.npz")
    np.savez(tmp_path / "other.npz", dist=np.ones((3, 2)))
    with pytest.raises(DataError, match=r"other\.npz: expected an array named 'distances'.*arrays found: dist"):
        read_csv_instance(*tables, distances=tmp_path / "other.npz")
    sp.save_npz(tmp_path / "sparse.npz", sp.csr_array(np.ones((3, 3))))
    with pytest.raises(
        DataError, match=r"sparse\.npz: the distance matrix has shape 3 x 3 but there are 3 demand points and 2 sites"
    ):
        read_csv_instance(*tables, distances=tmp_path / "sparse.npz")
    sp.save_npz(tmp_path / "sneg.npz", sp.csr_array(([-1.0], ([2], [1])), shape=(3, 2)))
    with pytest.raises(DataError, match=r"sneg\.npz: 1 negative distance\(s\), at \(demand, site\) \(d3, s2\) = -1"):
        read_csv_instance(*tables, distances=tmp_path / "sneg.npz")
    write(tmp_path, "m.txt", "1 2\n")
    with pytest.raises(DataError, match=r"m\.txt: unknown format '\.txt'; use \.npz or \.csv"):
        read_csv_instance(*tables, distances=tmp_path / "m.txt")
    write(tmp_path, "broken.npz", "not a zip")
    with pytest.raises(DataError, match=r"broken\.npz: not a readable \.npz file"):
        read_csv_instance(*tables, distances=tmp_path / "broken.npz")
