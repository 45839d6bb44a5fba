"""CBC runs die with siting and leave nothing in $TMPDIR (optimizer.processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import scipy.sparse as sp

from siting.models.milp import MilpProblem
from siting.optimizer.backends import pulp_backend as pulp_mod
from siting.optimizer.processes import TEMP_PREFIX, clean_stale
from siting.optimizer.registry import get_backend
from siting.optimizer.result import Limit, SolveParams, Status

pytestmark = pytest.mark.skipif(
    not get_backend("cbc").available(), reason="CBC (PuLP's bundled binary) is not installed"
)


def hard_knapsack(n: int, k: int, seed: int = 1) -> MilpProblem:
    """A seeded multi-dimensional knapsack CBC cannot prove quickly."""
    rng = np.random.default_rng(seed)
    W = rng.integers(1, 1000, size=(k, n)).astype(np.float64)
    value = (W.sum(axis=0) // k + rng.integers(0, 50, size=n)).astype(np.float64)
    return MilpProblem(
        c=value,
        A=sp.csc_array(W),
        row_lower=np.full(k, -np.inf),
        row_upper=W.sum(axis=1) // 2,
        col_lower=np.zeros(n),
        col_upper=np.ones(n),
        integrality=np.ones(n, dtype=bool),
        sense="max",
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(TEMP_PREFIX) or p.suffix in (".mps", ".sol", ".mst", ".lp")
    )


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return tmp_path


def test_no_temp_files_after_normal_timed_out_and_killed_cbc_runs(
    tmpdir_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cbc = get_backend("cbc")
    r = cbc.solve(hard_knapsack(8, 2), SolveParams())
    assert r.status == Status.OPTIMAL
    assert leftovers(tmpdir_env) == []
    r = cbc.solve(hard_knapsack(300, 30), SolveParams(time_limit=0.3, mip_gap=0.0))
    assert r.limit == Limit.TIME and r.status in (Status.FEASIBLE, Status.NO_SOLUTION)
    assert leftovers(tmpdir_env) == []
    # CBC still running past its limit is killed (no grace here), and its files go with it
    monkeypatch.setattr(pulp_mod, "_KILL_GRACE", -0.25)
    r = cbc.solve(hard_knapsack(300, 30), SolveParams(time_limit=0.3, mip_gap=0.0))
    assert (r.status, r.limit) == (Status.NO_SOLUTION, Limit.TIME), r.message
    assert "was stopped" in r.message
    assert leftovers(tmpdir_env) == []


def test_stale_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / f"{TEMP_PREFIX}999999999-abc"  # above any Linux pid: no such process
    alive = tmp_path / f"{TEMP_PREFIX}{os.getppid()}-def"
    mine = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-ghi"
    other = tmp_path / "siting-pulp-notes"  # not ours by name: left alone
    for folder in (dead, alive, mine, other):
        folder.mkdir()
        (folder / "model.mps").write_text("x")
    assert clean_stale(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (alive, mine, other))


SNIPPET = textwrap.dedent(
    """
    import numpy as np, scipy.sparse as sp
    from siting.models.milp import MilpProblem
    from siting.optimizer.registry import get_backend
    from siting.optimizer.result import SolveParams
    rng = np.random.default_rng(1)
    n, k = 400, 40
    W = rng.integers(1, 1000, size=(k, n)).astype(float)
    value = (W.sum(axis=0) // k + rng.integers(0, 50, size=n)).astype(float)
    p = MilpProblem(c=value, A=sp.csc_array(W), row_lower=np.full(k, -np.inf), row_upper=W.sum(axis=1) // 2,
                    col_lower=np.zeros(n), col_upper=np.ones(n), integrality=np.ones(n, dtype=bool), sense="max")
    get_backend("cbc").solve(p, SolveParams(mip_gap=0.0))  # no time limit: hours
    """
)


def _cbc_children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [c for c in proc.children(recursive=True) if "cbc" in c.name().lower()]
    except psutil.NoSuchProcess:
        return []


def _gone(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE or not p.is_running()
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killing_siting_kills_cbc_and_removes_its_files(tmp_path: Path, sig: signal.Signals) -> None:
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", SNIPPET], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    parent = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while not children and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            children = _cbc_children(parent)
        assert children, f"CBC never started: {proc.stderr.read().decode() if proc.poll() is not None else ''}"
        assert leftovers(tmp_path), "the run should hold its model files while CBC runs"
        proc.send_signal(sig)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not all(_gone(c) for c in children) or leftovers(tmp_path)):
            time.sleep(0.1)
        assert all(_gone(c) for c in children), "CBC outlived siting"
        assert leftovers(tmp_path) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for c in _cbc_children(parent) if proc.poll() is None else []:
            c.kill()
