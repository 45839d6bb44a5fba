"""``siting compare``: the Helsinki example on every installed solver and the heuristic.

Every installed solver appears, every model/service has one best row (overlap 1 with itself), and
every row that claims OPTIMAL agrees with every other OPTIMAL row of the same model and service
within the scenario's relative gap: a run stops as OPTIMAL once ``|bound - obj| <= gap |obj|``, and
for a maximisation ``obj <= OPT <= bound``, so two such objectives differ by at most
``gap * max(|obj|)`` (plus float rounding).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.optimizer.solve import solver_table
from siting.scenarios.research.compare import COLUMNS, NOT_APPLICABLE, jaccard
from siting.scenarios.schema import load_scenario

ROOT = REPO
HELSINKI = ROOT / "scenarios" / "examples" / "helsinki" / "scenario.yaml"
runner = CliRunner()
INSTALLED = [r["name"] for r in solver_table() if r["available"] and r["kind"] == "exact" and ":" not in r["name"]]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, str]:
    out = tmp_path_factory.mktemp("compare") / "cmp"
    solvers = ",".join([*INSTALLED, "heuristic"])
    result = runner.invoke(
        app, ["compare", str(HELSINKI), "--solvers", solvers, "--time-limit", "30", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(
        out / "compare.csv",
        dtype={"solver": str, "service": str, "best": str},
        keep_default_na=False,
        na_values={
            "objective": [""],
            "bound": [""],
            "gap": [""],
            "seconds": [""],
            "peak_mb": [""],
            "overlap_with_best": [""],
            "new_sites": [""],
        },
    )
    return out, rows, result.output


def test_files_and_columns(compared: tuple[Path, pd.DataFrame, str]) -> None:
    out, rows, output = compared
    assert {p.name for p in out.iterdir()} == {".siting-manifest.json", "compare.csv", "compare.md", "compare.png"}
    assert list(rows.columns) == list(COLUMNS)
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "| model | service | solver | status |" in md
    assert "comparison written to" in output


def test_every_installed_solver_is_listed(compared: tuple[Path, pd.DataFrame, str]) -> None:
    _, rows, _ = compared
    assert {"highs", "cbc", "cpsat", "scip"} & set(INSTALLED)  # the test would be vacuous otherwise
    assert set(rows["solver"]) == set(INSTALLED) | {"heuristic"}
    body, _ = load_scenario(HELSINKI)
    # the split models (one per service, plus "all") and the joint model, each on every solver
    for service in [*body.services, "all"]:
        assert set(rows.loc[(rows["model"] == "split") & (rows["service"] == service), "solver"]) == set(rows["solver"])
    joint = rows[rows["model"] == "joint"]
    assert set(joint["solver"]) == set(rows["solver"])
    assert joint.loc[joint["solver"] == "heuristic", "status"].tolist() == [NOT_APPLICABLE]
    for solver in INSTALLED:  # the exact solvers all solve this small example
        assert set(rows.loc[rows["solver"] == solver, "status"]) == {"OPTIMAL"}, solver


def test_optimal_rows_agree(compared: tuple[Path, pd.DataFrame, str]) -> None:
    _, rows, _ = compared
    body, _ = load_scenario(HELSINKI)
    gap = body.solver.mip_gap
    checked = 0
    per_model = rows[
        ~((rows["model"] == "split") & (rows["service"] == "all"))
    ]  # split/all sums services: no objective
    for (model, service), group in per_model.groupby(["model", "service"]):
        optimal = group.loc[group["status"] == "OPTIMAL", "objective"].astype(float)
        assert len(optimal) >= 2, (model, service)
        spread = optimal.max() - optimal.min()
        assert spread <= gap * optimal.abs().max() + 1e-6, (model, service, optimal.tolist())
        # the best row's objective is at least as good as every proven one (all objectives here are maximised)
        best = group[group["best"] == "yes"]
        assert len(best) == 1 and float(best["overlap_with_best"].iloc[0]) == 1.0
        assert float(best["objective"].iloc[0]) >= optimal.max() - gap * optimal.abs().max() - 1e-6
        checked += 1
    assert checked == len(body.services) + 1


def test_rows_carry_time_memory_and_overlap(compared: tuple[Path, pd.DataFrame, str]) -> None:
    _, rows, _ = compared
    solved = rows[rows["status"].isin(["OPTIMAL", "FEASIBLE"])]
    assert (solved["seconds"].astype(float) >= 0).all()
    # a spawned Python with numpy/scipy: tens of MB, not the parent's hundreds (VmHWM, see scenarios.research.compare)
    assert solved["peak_mb"].astype(float).between(10, 2000).all()
    assert solved["overlap_with_best"].astype(float).between(0, 1).all()
    assert (solved["new_sites"].astype(float) >= 1).all()


def test_jaccard() -> None:
    assert jaccard(set(), set()) == 1.0
    assert jaccard({("a", "1")}, set()) == 0.0
    assert jaccard({("a", "1"), ("a", "2")}, {("a", "2"), ("b", "2")}) == pytest.approx(1 / 3)


def test_compare_rejects_an_unknown_solver(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(HELSINKI), "--solvers", "highs,nosuch", "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "unknown solver 'nosuch'" in result.output
    assert not (tmp_path / "x").exists()
