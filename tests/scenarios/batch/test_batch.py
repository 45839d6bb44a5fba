"""siting batch: variants, engines (serial and a real Dask LocalCluster), resuming, failing variants.

The solves are the Wuhai example's joint model (about 1-5 s each on a loaded machine), so the tests
that solve keep to a few variants; the 14-variant engine comparison is the slow one (~1-2 min).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import ScenarioError
from siting.scenarios.batch.grid import make_variants, parse_grid, resolve, variant_id
from siting.scenarios.batch.run import run_batch
from siting.scenarios.batch.sensitivity import stability_table
from siting.scenarios.batch.whatif import compare_table
from siting.scenarios.pipeline.output_folder import MANIFEST, OutputFolderError, claim, read_manifest

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"
runner = CliRunner()


# ------------------------------------------------------------------------------ variants
def test_grid_values_and_cross_product() -> None:
    assert parse_grid("budget.total=6e6:1.2e7:3") == ("budget.total", [6_000_000, 9_000_000, 12_000_000])
    assert parse_grid("solver.name=highs,cbc") == ("solver.name", ["highs", "cbc"])
    vs = make_variants(["budget.total=1e6,2e6,3e6", "services.public_toilet.reach_minutes=5,10"])
    assert len(vs) == 6
    # the last key varies fastest; every combination once
    assert [v.settings["services.public_toilet.reach_minutes"] for v in vs] == [5, 10] * 3
    assert len({v.id for v in vs}) == 6
    # the id depends on the settings only: 8e6 and 8000000 are one setting; key order does not matter
    assert variant_id({"budget.total": 8e6, "a": 1}) == variant_id({"a": 1, "budget.total": 8_000_000})
    assert variant_id({"budget.total": 8e6}) != variant_id({"budget.total": 9e6})


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ("budget.total", "KEY=a,b,c"),
        ("budget.total=1:2:x", "start:stop:count"),
        ("budget.total=1,1", "repeated"),
    ],
)
def test_bad_grid_options(grid: str, match: str) -> None:
    with pytest.raises(ScenarioError, match=match):
        make_variants([grid])


def test_variants_csv(tmp_path: Path) -> None:
    f = tmp_path / "variants.csv"
    f.write_text("budget.total,services.childcare.weight\n6e6,8\n9e6,\n", encoding="utf-8")
    vs = make_variants([], f)
    assert [v.settings for v in vs] == [
        {"budget.total": 6_000_000, "services.childcare.weight": 8},
        {"budget.total": 9_000_000},
    ]


def test_settings_reach_the_scenario() -> None:
    body, _ = resolve(WUHAI, {"budget.total": 7e6, "services.*.weight": 2, "services.childcare.reach_m": 500}, "v")
    assert body.budget.total == 7e6
    assert {s.weight for s in body.services.values()} == {2}
    # one reach per service: setting reach_m clears reach_minutes
    assert body.services["childcare"].reach_m == 500 and body.services["childcare"].reach_minutes is None
    low, _ = resolve(WUHAI, {"scenario": "low_budget", "reach_factor": 2}, "v")
    assert low.budget.total == 8_000_000
    assert low.services["public_toilet"].reach_minutes == 10


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"budget.totl": 1}, r"variant 1 \(.*budget\.totl"),
        ({"services.nope.weight": 1}, r"services\.nope.*no section"),
        ({"budget.total": "lots"}, r"budget\.total"),
        ({"scenario": "nope"}, "no scenario named 'nope'"),
        ({"reach_factor": -1}, "positive"),
    ],
)
def test_every_variant_checked_before_solving(tmp_path: Path, settings: dict, match: str) -> None:
    from siting.scenarios.batch.grid import Variant

    vs = [Variant(variant_id(settings), settings), Variant(variant_id({}), {})]
    with pytest.raises(ScenarioError, match=match):
        run_batch(WUHAI, tmp_path / "out", variants=vs, engine="local")
    assert not (tmp_path / "out").exists()  # nothing solved, nothing written


def test_cli_bad_input_is_one_line(tmp_path: Path) -> None:
    r = runner.invoke(
        app, ["batch", str(WUHAI), "--grid", "budget.totl=1,2", "--engine", "local", "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 1
    assert "error:" in r.output and "budget.totl" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["batch", str(WUHAI), "--engine", "spark", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "--engine 'spark'" in r.output


# ------------------------------------------------------------------------------ the folder
def test_output_folder_add_grows_and_refuses_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "b"
    with claim(out, "batch") as folder:
        folder.add({"a.json": b"1"})
        folder.add({"b.json": b"2"})
        folder.add({"a.json": b"3"})  # siting's own file: replaced
    doc = read_manifest(out)
    assert doc is not None and sorted(doc["files"]) == ["a.json", "b.json"]
    assert (out / "a.json").read_bytes() == b"3"
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "a.json", "b.json"])  # no staging left
    (out / "c.json").write_bytes(b"mine")
    with claim(out, "batch") as folder, pytest.raises(OutputFolderError, match="not siting's"):
        folder.add({"c.json": b"x"})
    assert (out / "c.json").read_bytes() == b"mine"
    (out / "b.json").write_bytes(b"edited")
    with pytest.raises(OutputFolderError, match="changed after siting wrote it"):
        claim(out, "batch")


def test_stability_and_whatif_tables() -> None:
    table = pd.DataFrame(
        {
            "variant_id": ["base", "v1", "v2", "v3"],
            "status": ["OPTIMAL", "OPTIMAL", "FEASIBLE", "INFEASIBLE"],
            "sites": ["t:A;t:B", "t:A", "t:A;t:C", None],
        }
    )
    st = stability_table(table, "base")
    got = {(r.service, r.site_id): (r.share, r.in_base_plan) for r in st.itertuples()}
    assert got == {("t", "A"): (1.0, True), ("t", "B"): (1 / 3, True), ("t", "C"): (1 / 3, False)}
    cmp = compare_table(
        {"status": "OPTIMAL", "objective": 10.0, "cost": 5.0, "new_sites": 2, "covered.t": 7.0, "sites": "t:A;t:B"},
        {"status": "OPTIMAL", "objective": 8.0, "cost": 5.0, "new_sites": 2, "covered.t": 6.0, "sites": "t:A;t:C"},
    )
    by = cmp.set_index("measure")
    assert by.loc["objective", "change"] == -2.0 and by.loc["covered.t", "change"] == -1.0
    assert by.loc["sites added", "what_if"] == "t:C" and by.loc["sites dropped", "base"] == "t:B"


def test_population_draws_are_seeded_and_within_the_spread() -> None:
    from siting.scenarios.batch.inputs import VariantInputs
    from siting.scenarios.schema import load_scenario

    body, base = load_scenario(WUHAI)
    a = VariantInputs(population_seed=3, population_spread=0.15).layers(body, base, "t", None)
    b = VariantInputs(population_seed=3, population_spread=0.15).layers(body, base, "t", None)
    orig = VariantInputs().layers(body, base, "t", None)
    r = a.demand["residents"].to_numpy() / orig.demand["residents"].to_numpy()
    assert np.array_equal(a.demand["residents"].to_numpy(), b.demand["residents"].to_numpy())
    assert r.min() >= 0.85 - 1e-12 and r.max() <= 1.15 + 1e-12 and r.std() > 0
    # the same factor for every group of a point; the cached layers are untouched
    r2 = a.demand["elderly_60plus"].to_numpy() / orig.demand["elderly_60plus"].to_numpy()
    ok = np.isfinite(r2)
    assert np.allclose(r[ok], r2[ok])
    with pytest.raises(ScenarioError, match="no existing facility"):
        VariantInputs(close=("nope",)).layers(body, base, "t", None)


# ------------------------------------------------------------------------------ solving
def test_infeasible_variant_is_a_row_and_the_others_finish(tmp_path: Path) -> None:
    res = run_batch(WUHAI, tmp_path / "b", ["budget.total=2e6", "services.elderly_care.min_sites=0,8"], engine="local")
    t = res.table.set_index("services.elderly_care.min_sites")
    assert t.loc[8, "status"] == "INFEASIBLE" and "no feasible plan" in t.loc[8, "error"]
    assert t.loc[0, "status"] == "OPTIMAL" and t.loc[0, "objective"] > 0
    assert (tmp_path / "b" / "plans" / f"{t.loc[0, 'variant_id']}.csv").is_file()
    assert not (tmp_path / "b" / "plans" / f"{t.loc[8, 'variant_id']}.csv").exists()
    # the parquet file holds the same rows (pandas reads it back)
    back = pd.read_parquet(tmp_path / "b" / "results.parquet")
    assert sorted(back["status"]) == ["INFEASIBLE", "OPTIMAL"]
    # an infeasible row is a result, not a failure: a re-run solves nothing
    again = run_batch(
        WUHAI, tmp_path / "b", ["budget.total=2e6", "services.elderly_care.min_sites=0,8"], engine="local"
    )
    assert again.solved == 0 and again.skipped == 2


def _rows(folder: Path) -> list[Path]:
    """The journal's row files (not the manifest)."""
    return [p for p in folder.glob("*.json") if not p.name.startswith(".")]


def test_killed_batch_resumes_with_only_the_missing_variants(tmp_path: Path) -> None:
    out = tmp_path / "b"
    grid = ["budget.total=2e6,3e6,4e6,5e6,6e6"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-c", "from siting.cli import app; app()", "batch", str(WUHAI), "--engine", "local"]
    cmd += ["--quiet", "--out", str(out)] + [a for g in grid for a in ("--grid", g)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = out / "rows"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if rows.is_dir() and len(_rows(rows)) >= 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.read_bytes() for p in _rows(rows)}
    assert 2 <= len(kept) < 5, "the batch finished before it could be killed"
    res = run_batch(WUHAI, out, grid, engine="local")
    assert res.solved == 5 - len(kept) and res.skipped == len(kept)
    assert len(res.table) == 5 and set(res.table["status"]) == {"OPTIMAL"}
    for name, data in kept.items():  # the rows written before the kill were not solved again
        assert (rows / name).read_bytes() == data
    assert not [p for p in out.rglob(".siting-staging-*")]


def test_dask_cluster_gives_the_same_results_as_the_local_engine(tmp_path: Path) -> None:
    grid = ["budget.total=2e6:5e6:7", "services.public_toilet.reach_minutes=5,10"]
    local = run_batch(WUHAI, tmp_path / "local", grid, engine="local")
    dask = run_batch(WUHAI, tmp_path / "dask", grid, engine="dask", workers=2)
    assert len(local.table) == len(dask.table) == 14
    assert dask.engine["workers"] == 2
    assert set(local.table["status"]) == {"OPTIMAL"}
    cols = ["variant_id", "status", "objective", "cost", "sites"]
    pd.testing.assert_frame_equal(local.table[cols], dask.table[cols])
    # the plans agree file by file
    for vid in local.table["variant_id"]:
        a = (tmp_path / "local" / "plans" / f"{vid}.csv").read_bytes()
        assert a == (tmp_path / "dask" / "plans" / f"{vid}.csv").read_bytes()
    meta = json.loads((tmp_path / "dask" / "batch.json").read_text())
    assert len(meta["variants"]) == 14


def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = runner.invoke(app, ["batch", str(WUHAI), "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)])
    assert r.exit_code == 1 and "--scheduler tcp://127.0.0.1:1: cannot connect" in r.output
    assert not out.exists()


def test_a_worker_that_dies_is_retried_once_then_recorded() -> None:
    from siting.scenarios.batch.engine import Bar, run_dask

    def task(spec: dict) -> dict:  # pickled by value: the worker needs no test module
        import os
        import time

        if spec["id"] == "dies":
            time.sleep(1.0)  # "ok" finishes first: a task still queued on a worker that dies twice is recorded too
            os._exit(1)
        return {"row": {"variant_id": spec["id"], "status": "OPTIMAL"}, "plan": None}

    got: list[dict] = []
    specs = [{"id": "ok", "settings": {}}, {"id": "dies", "settings": {"budget.total": 1}}]
    run_dask(specs, got.append, Bar(quiet=True), workers=2, fn=task)  # "ok" need not queue behind "dies"
    rows = {r["row"]["variant_id"]: r["row"] for r in got}
    assert rows["ok"]["status"] == "OPTIMAL"
    assert rows["dies"]["status"] == "CRASHED" and "died" in rows["dies"]["error"]
    assert rows["dies"]["budget.total"] == 1  # the row still says which variant it was
