"""The command line, driven in-process: results on the bundled example, and bad inputs.

Every bad input must end with exit code 1 (bad input) or 2 (usage), one ``error:`` line on stderr
and no traceback.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from paths import DATA, REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import DataError

ROOT = REPO
EXAMPLE = ROOT / "scenarios" / "examples" / "helsinki_csv"
DEMAND, SITES = str(EXAMPLE / "demand.csv"), str(EXAMPLE / "sites.csv")
ORLIB = DATA / "orlib"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, code: int, match: str) -> None:
    """Exit ``code``, exactly one line ``error: ...`` on stderr containing ``match``, no traceback."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and match in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _table(path: str) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh)}


# ------------------------------------------------------------------------------- solve: results
def test_solve_example_json_matches_independent_recount() -> None:
    result = run("solve", "--demand", DEMAND, "--sites", SITES, "--model", "mclp", "--radius", 400, "--p", 5, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "OPTIMAL"
    assert data["model"] == "mclp" and data["p"] == 5 and data["radius"] == 400
    assert data["evaluated"]["covered_weight"] == pytest.approx(data["objective"], abs=1e-6)
    # Recount the covered residents straight from the two CSV files, without siting's code.
    demand, sites = _table(DEMAND), _table(SITES)
    open_ids = [str(v) for v in data["open_site_ids"]]
    existing = {k for k, row in sites.items() if row["existing"] == "1"}
    assert existing <= set(open_ids)
    assert len(set(open_ids) - existing) <= 5
    dxy = np.array([[float(r["x"]), float(r["y"])] for r in demand.values()])
    sxy = np.array([[float(sites[k]["x"]), float(sites[k]["y"])] for k in open_ids])
    w = np.array([float(r["weight"]) for r in demand.values()])
    dist = np.sqrt(((dxy[:, None, :] - sxy[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    assert float(w[dist <= 400 + 1e-6].sum()) == pytest.approx(data["objective"], abs=1e-6)


def test_solve_example_summary() -> None:
    result = run("solve", "--demand", DEMAND, "--sites", SITES, "--model", "mclp", "--radius", 400, "--p", 5)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for word in ("status      OPTIMAL", "objective", "bound", "gap", "solver      highs", "new sites", "evaluator"):
        assert word in out
    assert "matches the solver" in out


def test_solvers_table() -> None:
    result = run("solvers")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["name", "kind", "installed", "version"]
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert "highs" in names and "greedy" in names
    auto = next(line for line in result.stdout.splitlines() if line.startswith("auto "))
    assert names[0] == "auto" and "scip" in auto  # the default is listed first, with what it runs


@pytest.mark.parametrize("command", [["solve"], ["solvers"], ["benchmark", "orlib-pmed"], ["benchmark", "tsplib"], []])
def test_help_has_a_runnable_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example: siting" in " ".join(result.stdout.split())


# ------------------------------------------------------------------------------ solve: bad input
@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    return (
        write(tmp_path, "demand.csv", "id,x,y,weight\nd1,0,0,10\nd2,30,40,5\nd3,100,0,1\n"),
        write(tmp_path, "sites.csv", "id,x,y\ns1,0,0\ns2,30,0\n"),
    )


def _solve_small(small: tuple[Path, Path], *extra: str):
    return run("solve", "--demand", small[0], "--sites", small[1], *extra)


def test_error_wrongly_shaped_distance_matrix(small: tuple[Path, Path], tmp_path: Path) -> None:
    m = write(tmp_path, "m.csv", "x,d1,d2,d3\ns1,1,2,3\ns2,1,2,3\n")
    result = _solve_small(small, "--distances", m, "--model", "pmedian", "--p", 1)
    assert_clean_error(result, 1, "m.csv: the matrix has 2 rows and 3 site columns")


def test_error_negative_distances(small: tuple[Path, Path], tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", distances=np.array([[0.0, 1.0], [2.0, -3.0], [1.0, 1.0]]))
    result = _solve_small(small, "--distances", tmp_path / "m.npz", "--model", "pmedian", "--p", 1)
    assert_clean_error(result, 1, "m.npz: 1 negative distance(s), at (demand, site) (d2, s2) = -3")


def test_error_p_larger_than_eligible_sites() -> None:
    result = run("solve", "--demand", DEMAND, "--sites", SITES, "--model", "mclp", "--radius", 400, "--p", 100)
    assert_clean_error(result, 1, "p = 100")


def test_error_nan_weight(small: tuple[Path, Path], tmp_path: Path) -> None:
    demand = write(tmp_path, "demand.csv", "id,x,y,weight\nd1,0,0,10\nd2,30,40,NaN\n")
    result = run("solve", "--demand", demand, "--sites", small[1], "--model", "pmedian", "--p", 1)
    assert_clean_error(result, 1, "demand.csv: column 'weight' must be a finite number >= 0; bad at id(s) d2")


def test_error_radius_covers_nothing(small: tuple[Path, Path]) -> None:
    # the nearest demand-site pair is (d3, s1): sqrt(400^2 + 500^2) = 640.3, far beyond radius 1
    sites = write(small[1].parent, "far.csv", "id,x,y\ns1,500,500\ns2,600,500\n")
    result = run("solve", "--demand", small[0], "--sites", sites, "--model", "mclp", "--radius", 1, "--p", 1)
    assert_clean_error(result, 1, "radius 1 covers no demand point")


def test_error_unknown_solver(small: tuple[Path, Path]) -> None:
    result = _solve_small(small, "--model", "pmedian", "--p", 1, "--solver", "hihgs")
    assert_clean_error(result, 1, "unknown solver 'hihgs'")


def test_error_missing_file(small: tuple[Path, Path], tmp_path: Path) -> None:
    result = run("solve", "--demand", tmp_path / "nope.csv", "--sites", small[1], "--model", "pmedian", "--p", 1)
    assert_clean_error(result, 1, "demand file not found")


def test_error_missing_column(small: tuple[Path, Path], tmp_path: Path) -> None:
    sites = write(tmp_path, "s.csv", "id,lon,lat\ns1,0,0\n")
    result = run("solve", "--demand", small[0], "--sites", sites, "--model", "pmedian", "--p", 1)
    assert_clean_error(result, 1, "demand.csv gives x, y but s.csv gives lon, lat: use the same kind of coordinates")


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "median", "--p", "1"],  # not a model
        ["--p", "1"],  # --model missing
        ["--model", "pmedian", "--p", "one"],  # not an integer
        ["--model", "pmedian", "--p", "1", "--threads", "0"],  # below the minimum
        ["--model", "pmedian", "--p", "1", "--objective", "area"],
    ],
)
def test_usage_errors_exit_2(small: tuple[Path, Path], args: list[str]) -> None:
    result = _solve_small(small, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(small: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(
        "--debug", "solve", "--demand", tmp_path / "nope.csv", "--sites", small[1], "--model", "pmedian", "--p", 1
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, DataError)


# ------------------------------------------------------------------------------------ benchmark
def test_benchmark_orlib_pmed1_highs(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    result = run("benchmark", "orlib-pmed", ORLIB, "--instances", "pmed1", "--solver", "highs", "--out", out)
    assert result.exit_code == 0, result.output
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    row = rows[0]
    assert (row["instance"], row["n"], row["p"], row["solver"]) == ("pmed1", "100", "5", "highs")
    assert row["status"] == "OPTIMAL" and row["matches"] == "yes"
    assert float(row["objective"]) == float(row["known_optimum"]) == 5819
    assert float(row["peak_mb"]) > 0
    progress = result.stderr.splitlines()
    assert progress[0].startswith("[1/1] pmed1 p=5 highs: OPTIMAL 5819 (known 5819: yes)")
    assert "1 run(s): 1 proven equal to the known optimum" in progress[-1]


def test_benchmark_tsplib_tiny_to_stdout(tmp_path: Path) -> None:
    # Points (0,0), (3,4), (1,1); floor distances d12 = 5, d13 = 1, d23 = 3. With p = 1 the best
    # median is point 3: 1 + 3 + 0 = 4 (point 1 gives 6, point 2 gives 8). Checked by hand.
    tsp = write(
        tmp_path,
        "tiny.tsp",
        "NAME : tiny\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 1 1\nEOF\n",
    )
    write(tmp_path, "optimal_values.csv", "instance,n,p,optimal_value,status\ntiny,3,1,4,optimal\n")
    result = run("benchmark", "tsplib", tsp, "--p", 1, "--solver", "highs")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert len(rows) == 1
    assert rows[0]["status"] == "OPTIMAL" and float(rows[0]["objective"]) == 4 and rows[0]["matches"] == "yes"


def test_benchmark_malformed_pmed_file(tmp_path: Path) -> None:
    shutil.copy(ORLIB / "pmed1.txt", tmp_path / "pmed1.txt")
    write(tmp_path, "pmed2.txt", "4 2 1\n1 2 3\n2 x 5\n")
    result = run("benchmark", "orlib-pmed", tmp_path, "--solver", "highs")
    assert_clean_error(result, 1, "pmed2.txt line 3: expected 3 integers 'i j cost', got '2 x 5'")


def test_benchmark_unknown_solver_fails_before_any_run() -> None:
    result = run("benchmark", "orlib-pmed", ORLIB, "--instances", "pmed1", "--solver", "highs/fancy")
    assert_clean_error(result, 1, "unknown formulation 'fancy'")
    result = run("benchmark", "orlib-pmed", ORLIB, "--instances", "pmed1", "--solver", "gurobi")
    assert_clean_error(result, 1, "unknown solver 'gurobi'")


def test_benchmark_missing_instance_and_folder(tmp_path: Path) -> None:
    result = run("benchmark", "orlib-pmed", ORLIB, "--instances", "pmed99")
    assert_clean_error(result, 1, "no file pmed99.txt in")
    result = run("benchmark", "orlib-pmed", tmp_path / "nowhere")
    assert_clean_error(result, 1, "benchmark folder not found")


def test_benchmark_tsplib_p_out_of_range(tmp_path: Path) -> None:
    tsp = write(tmp_path, "t.tsp", "DIMENSION : 2\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n")
    result = run("benchmark", "tsplib", tsp, "--p", 3)
    assert_clean_error(result, 1, "p = 3 is not between 1 and the 2 points of t.tsp")


def test_benchmark_hung_run_is_killed_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A run still going after time limit + grace is killed; its row says so and the rest goes on."""
    import siting.scenarios.research.benchmark as bench
    from siting.scenarios.research import child

    monkeypatch.setattr(child, "KILL_GRACE_SECONDS", 0.0)
    rows = bench.run_orlib(ORLIB, ["pmed1"], ["highs"], time_limit=1e-3, out=tmp_path / "r.csv")
    assert len(rows) == 1
    # the spawned child cannot even import numpy within 1 ms, so the parent kills it
    assert rows[0]["status"] == "ERROR" and rows[0]["message"].startswith("killed after")
    assert rows[0]["matches"] == "no" and rows[0]["n"] == 100 and rows[0]["p"] == 5
    assert (tmp_path / "r.csv").read_text().count("\n") == 2


def test_killing_a_run_also_kills_the_solver_it_started() -> None:
    """A hung run is killed with its whole process tree: a solver subprocess (CBC runs as one)
    would otherwise outlive it and keep a core busy."""
    import subprocess
    import sys

    import psutil

    from siting.scenarios.research.child import kill_tree

    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"]
    )
    try:
        for _ in range(100):  # wait until the grandchild exists
            kids = psutil.Process(parent.pid).children(recursive=True)
            if kids:
                break
            time.sleep(0.05)
        assert kids, "the test's child did not start its own subprocess"
        kill_tree(parent.pid)
        parent.wait(timeout=10)
        _gone, alive = psutil.wait_procs(kids, timeout=10)
        assert not alive
    finally:
        if parent.poll() is None:
            parent.kill()
