"""``siting sweep`` and ``siting compare`` on a Dask cluster give what they give on the local engine.

One real ``distributed.LocalCluster`` (2 worker processes) serves the module, passed as
``--scheduler``: its workers are daemonic (``dask worker``'s default), so compare's solves run in
the worker itself (:func:`scenarios.research.compare.compare_task`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from paths import REPO

from siting.scenarios.batch.sweep import sweep_on_engine
from siting.scenarios.research.compare import compare_solvers

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_sweep_on_a_cluster_equals_the_local_engine(tmp_path: Path, scheduler: str) -> None:
    budgets = [3e6, 9e6]
    local = sweep_on_engine(WUHAI, budgets, out=tmp_path / "local", engine="local")
    dask = sweep_on_engine(WUHAI, budgets, out=tmp_path / "dask", engine="dask", scheduler=scheduler)
    cols = ["budget", "status", "objective", "cost", "new_sites", "sites"]
    pd.testing.assert_frame_equal(local.table[cols], dask.table[cols])
    workers = pd.read_parquet(tmp_path / "dask" / "results.parquet")["worker"]
    assert workers.notna().all()


def test_compare_on_a_cluster_equals_the_local_engine(tmp_path: Path, scheduler: str) -> None:
    seen: list[int] = []
    local = compare_solvers(WUHAI, ["highs"], scenario="straight_line", out=tmp_path / "local", time_limit=60)
    dask = compare_solvers(
        WUHAI,
        ["highs"],
        scenario="straight_line",
        out=tmp_path / "dask",
        time_limit=60,
        engine="dask",
        scheduler=scheduler,
        progress=lambda row, done, total: seen.append(done),
    )
    combined = [r for r in dask.rows if r["model"] == "split" and r["service"] == "all"]  # made, not solved
    assert sorted(seen) == list(range(1, len(dask.rows) - len(combined) + 1))
    key = ["model", "service", "solver", "status", "objective", "new_sites", "best"]
    a = pd.DataFrame(local.rows)[key]
    b = pd.DataFrame(dask.rows)[key]
    pd.testing.assert_frame_equal(a, b)
    assert set(b["status"]) == {"OPTIMAL"}
    solved = [r for r in dask.rows if r not in combined]
    assert all("peak_mb is the worker's" in r["message"] for r in solved)  # daemonic workers: solved in place
    assert (tmp_path / "dask" / "compare.png").read_bytes()[:4] == b"\x89PNG"
