"""LSCP at city scale, step by step: rows after merging and after dominance, sites left, LP bound,
block bound, objective, bound, gap, wall / CPU seconds and peak memory, per seed and method.

On demand, not part of the test suite (the machine is shared: compare figures of one run)::

    python benchmarks/bench_lscp_rows.py --seeds 1,2 --methods auto,benders --out benchmarks/results/lscp_rows.csv

The instance is ``lscp100k`` of :mod:`bench_city_scale` (100,000 demand points x 2,000 sites,
r = 800 m, least cost, 120 s; :mod:`city_instances`). ``auto`` is the default path on highs (the
reduced rows of :mod:`optimizer.coverage_lscp` at this size); ``benders`` is the row generation of
:mod:`optimizer.coverage_rowgen` (the default before). Each run is a spawned process of its own.

On a loaded machine, ``--cpu-clock --time-limit 120`` gives each run 120 s of its own CPU time
(``--note`` records the conditions in the CSV, ``--append`` adds to it).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

COLUMNS = (
    "seed", "method", "time_limit", "status", "objective", "bound", "gap", "seconds", "cpu_s", "peak_mb",
    "verified", "rows_merged", "rows_reduced", "sites_reduced", "lp_bound", "block_bound", "heuristic_objective",
    "formulation", "note",
)  # fmt: skip


def _child(seed: int, method: str, time_limit: float, cpu_clock: bool, conn: Any) -> None:
    row: dict[str, Any] = {"seed": seed, "method": method, "time_limit": time_limit}
    try:
        from city_instances import city_instance

        from siting.optimizer.result import SolveParams
        from siting.optimizer.solve import ModelSpec, solve
        from siting.scenarios.research.child import peak_mb

        cpu0 = time.process_time()
        inst = city_instance(100_000, 2_000, seed, 800.0)
        spec = ModelSpec("lscp", radius=800.0, formulation=method)  # type: ignore[arg-type]
        params = SolveParams(time_limit=time_limit, mip_gap=1e-6)
        if cpu_clock:  # the budget counted in this process's CPU seconds (a loaded machine)
            from siting.optimizer.deadline import Deadline

            params = replace(params, deadline=Deadline.after(time_limit, clock=time.process_time))
        res = solve(inst, spec, solver="highs", params=params)
        row.update(
            status=res.status.value,
            objective=res.objective,
            bound=res.bound,
            gap=res.gap,
            seconds=round(res.seconds, 2),
            cpu_s=round(time.process_time() - cpu0, 1),
            verified=res.verified,
        )
        row.update({k: res.stats.get(k) for k in COLUMNS if k in res.stats})
        row["peak_mb"] = peak_mb()
    except Exception as exc:  # noqa: BLE001 - a failed run is a row
        row.update(status="ERROR", formulation=f"{type(exc).__name__}: {exc}"[:300])
    conn.send(row)
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--methods", default="auto,benders", help="auto, reduced, benders or compact")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--out", default=str(HERE / "results" / "lscp_rows.csv"))
    ap.add_argument("--note", default="", help="text for the note column (say whether the machine was loaded)")
    ap.add_argument(
        "--cpu-clock",
        action="store_true",
        help="count the time limit in the solving process's CPU seconds, not wall seconds: on a loaded "
        "machine this approximates a quiet run (HiGHS's own time_limit still reads the wall clock, so "
        "its phases get less than their share)",
    )
    ap.add_argument("--append", action="store_true", help="add the rows to --out instead of replacing it")
    args = ap.parse_args()
    from siting.scenarios.research.child import run_in_child

    rows = []
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        for method in [m.strip() for m in args.methods.split(",") if m.strip()]:
            row = run_in_child(_child, (seed, method, args.time_limit, args.cpu_clock), args.time_limit * 6 + 180.0)
            row.update(seed=seed, method=method, time_limit=args.time_limit, note=args.note)
            rows.append(row)
            print(", ".join(f"{k}={row.get(k)}" for k in COLUMNS), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = out.exists() and out.stat().st_size > 0
    with out.open("a" if args.append else "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
        if not (args.append and old):
            w.writeheader()
        w.writerows(rows)
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
