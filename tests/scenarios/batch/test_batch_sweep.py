"""``siting sweep --engine``: the budget frontier as a batch, against the serial warm-started sweep."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.batch.sweep import budget_variants, frontier_rows, sweep_on_engine
from siting.scenarios.outputs.sweep import SWEEP_COLUMNS, sweep_scenario

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"
runner = CliRunner()


def _rows(spec: list[tuple[float, str, float | None, float | None, str]]) -> pd.DataFrame:
    """Batch rows (budget, status, objective, bound, sites) of a one-service scenario ``a``."""
    recs = []
    for k, (b, status, obj, bound, sites) in enumerate(spec):
        recs.append(
            {
                "variant_id": f"v{k}",
                "budget.total": b,
                "status": status,
                "objective": obj,
                "bound": bound,
                "cost": b / 2 if obj is not None else None,
                "new_sites": len(sites.split(";")) if sites else 0,
                "covered.a": obj,
                "coverage.a": obj / 100 if obj is not None else None,
                "sites": sites,
                "seconds": 1.0,
            }
        )
    return pd.DataFrame(recs).sample(frac=1.0, random_state=3)  # the engine gives rows in any order


def test_frontier_keeps_the_better_plan_of_a_smaller_budget() -> None:
    table = _rows(
        [
            (10.0, "OPTIMAL", 40.0, 40.0, "a:1"),
            (20.0, "FEASIBLE", 60.0, 70.0, "a:1;a:2"),
            (30.0, "FEASIBLE", 55.0, 75.0, "a:3;a:4"),  # worse than the 20's plan, which is still feasible
            (40.0, "NO_SOLUTION", None, None, ""),  # no plan: the best smaller one is reported
            (50.0, "OPTIMAL", 80.0, 80.0, "a:1;a:2;a:5"),
        ]
    )
    frame, knee = frontier_rows(table, ["a"], mip_gap=1e-4)
    assert list(frame.columns) == [*SWEEP_COLUMNS, "covered_a", "share_a", "sites"]
    assert frame["budget"].tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]
    obj = frame["objective"].tolist()
    assert obj == sorted(obj)  # never decreasing
    assert obj == [40.0, 60.0, 60.0, 60.0, 80.0]
    assert frame["kept_previous"].tolist() == [False, False, True, True, False]
    assert frame.loc[2, "sites"] == frame.loc[1, "sites"] == "a:1; a:2"
    assert frame.loc[2, "status"] == "FEASIBLE" and frame.loc[2, "bound"] == 75.0
    assert math.isclose(frame.loc[2, "gap"], (75.0 - 60.0) / 60.0)
    assert frame.loc[3, "status"] == "FEASIBLE" and math.isnan(frame.loc[3, "bound"])
    assert frame.loc[4, "unspent"] == 50.0 - frame.loc[4, "cost"]
    slopes = frame["slope"].tolist()
    assert math.isnan(slopes[0]) and slopes[1] == (60.0 - 40.0) / 10.0
    assert frame["knee"].sum() == (knee is not None)


def test_budget_variants_scale_the_phase_budgets() -> None:
    vs = budget_variants([8e6, 4e6, 8e6], "low", None, {"y1": 3e6, "y2": 1e6}, None)
    assert [v.settings["budget.total"] for v in vs] == [4000000, 8000000]  # sorted, once each
    assert vs[0].settings["budget.phases.y1"] == 3000000 and vs[1].settings["budget.phases.y2"] == 2000000
    assert all(v.settings["scenario"] == "low" and "solver.name" not in v.settings for v in vs)
    assert len({v.id for v in vs}) == 2


def test_engine_sweep_agrees_with_the_serial_sweep_and_resumes(tmp_path: Path) -> None:
    budgets = [2e6, 8e6, 1.4e7]
    serial = sweep_scenario(WUHAI, budgets, out=tmp_path / "serial")
    batch = sweep_on_engine(WUHAI, budgets, out=tmp_path / "batch", engine="local")
    cols = ["budget", "status", "objective", "cost", "new_sites", "knee", "covered_public_toilet"]
    pd.testing.assert_frame_equal(serial.table[cols], batch.table[cols])
    written = pd.read_csv(tmp_path / "batch" / "sweep.csv")
    assert written["objective"].tolist() == pytest.approx(batch.table["objective"].tolist())
    assert (tmp_path / "batch" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    # the same command again solves nothing: every budget is in the folder already
    r = runner.invoke(
        app,
        [
            "sweep",
            str(WUHAI),
            "--budget",
            "2e6:1.4e7:3",
            "--engine",
            "local",
            "--quiet",
            "--out",
            str(tmp_path / "batch"),
        ],
    )
    assert r.exit_code == 0, r.output
    parquet = pd.read_parquet(tmp_path / "batch" / "results.parquet")
    assert len(parquet) == 3 and "sweep written to" in r.output
    assert pd.read_csv(tmp_path / "batch" / "sweep.csv")["objective"].tolist() == written["objective"].tolist()


def test_scheduler_without_engine_is_one_line(tmp_path: Path) -> None:
    r = runner.invoke(
        app, ["sweep", str(WUHAI), "--budget", "2e6:4e6:2", "--workers", "2", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 1 and r.output.strip().splitlines() == ["error: --scheduler and --workers need --engine dask"]
    assert not (tmp_path / "o").exists()
