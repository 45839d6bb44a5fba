"""Batch throughput: the Wuhai pilot's variants (budgets x reaches x weights) on every engine.

On demand, not part of the test suite::

    python benchmarks/bench_batch.py --variants 1000                     # the full grid
    python benchmarks/bench_batch.py --variants 40 --engines serial,dask1,dask2,scheduler

Engines: ``serial`` (``--engine local``: this process), ``dask1`` / ``dask2`` (a LocalCluster
started by siting with 1 / 2 worker processes, one thread each), ``scheduler`` (``--scheduler``
against a ``dask scheduler`` + ``dask worker --nworkers 2 --nthreads 1`` pair that this script
starts as separate processes and stops at the end).

The grid is 10 budgets x 10 toilet reaches x 10 childcare weights = 1,000 variants; ``--variants N``
takes the first N of them (the same N for every engine). Per engine, one CSV row: wall seconds,
tasks per second, the workers' peak resident memory (max and mean over workers, MB: ``ru_maxrss``
of each worker process), the seconds inside the tasks (sum), inside the solver (sum), and the time
outside solving: ``wall - solve / slots`` (scheduling, serialisation, building, ranking, writing).
Every engine must give the same objectives (checked).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WUHAI = HERE.parent / "scenarios" / "examples" / "wuhai" / "scenario.yaml"


def grid_variants(n: int) -> list[Any]:
    from siting.scenarios.batch.grid import Variant, variant_id

    budgets = [int(3e6 + k * 1e6) for k in range(10)]
    reaches = [4 + k for k in range(10)]
    weights = [4 + k for k in range(10)]
    out = []
    for b, r, w in itertools.product(budgets, reaches, weights):
        s = {"budget.total": b, "services.public_toilet.reach_minutes": r, "services.childcare.weight": w}
        out.append(Variant(variant_id(s), s))
    return out[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_pair(workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """A ``dask scheduler`` and a ``dask worker`` as separate processes; returns the address."""
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched = subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            addr,
            "--nworkers",
            str(workers),
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    from distributed import Client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with Client(addr, timeout="5s") as c:
                c.wait_for_workers(workers, timeout=30)
                break
        except (OSError, TimeoutError):
            time.sleep(1)
    return addr, [worker, sched]


def run(engine: str, variants: list[Any], root: Path, time_limit: float | None) -> tuple[dict[str, Any], Any]:
    from siting.scenarios.batch.inputs import clear_cache
    from siting.scenarios.batch.run import run_batch

    clear_cache()
    out = root / engine
    procs: list[subprocess.Popen[bytes]] = []
    kw: dict[str, Any] = {"engine": "local"} if engine == "serial" else {"engine": "dask"}
    slots = 1
    if engine.startswith("dask"):
        slots = int(engine[4:])
        kw["workers"] = slots
    elif engine == "scheduler":
        slots = 2
        addr, procs = start_pair(slots)
        kw["scheduler"] = addr
    try:
        t0 = time.perf_counter()
        res = run_batch(WUHAI, out, variants=variants, time_limit=time_limit, quiet=True, **kw)
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
    t = res.table
    per_worker = t.groupby("worker")["peak_mb"].max()
    solve = float(t["solve_seconds"].fillna(0).sum())
    row = {
        "engine": engine,
        "variants": len(t),
        "slots": slots,
        "wall_s": round(wall, 2),
        "tasks_per_s": round(len(t) / wall, 3),
        "task_s_sum": round(float(t["seconds"].sum()), 2),
        "solve_s_sum": round(solve, 2),
        "outside_solving_s": round(wall - solve / slots, 2),
        "workers_seen": int(per_worker.size),
        "peak_mb_max": round(float(per_worker.max()), 1),
        "peak_mb_mean": round(float(per_worker.mean()), 1),
        "statuses": ";".join(f"{k}={v}" for k, v in t["status"].value_counts().items()),
    }
    return row, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", type=int, default=1000)
    ap.add_argument("--engines", default="serial,dask1,dask2,scheduler")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--out", default=str(HERE / "results" / "batch.csv"))
    args = ap.parse_args()
    variants = grid_variants(args.variants)
    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    rows, tables = [], {}
    try:
        for engine in args.engines.split(","):
            row, t = run(engine, variants, root, args.time_limit)
            print(row, flush=True)
            rows.append(row)
            tables[engine] = t.set_index("variant_id")["objective"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ref = next(iter(tables.values()))
    for engine, obj in tables.items():
        same = bool((obj.reindex(ref.index) - ref).abs().fillna(0).max() < 1e-6)
        for r in rows:
            if r["engine"] == engine:
                r["same_objectives"] = same
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"written to {args.out} (host {socket.gethostname()}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
