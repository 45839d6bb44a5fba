"""p-median at scale: TSPLIB rl1304 (nine p), pcb3038 (ten p), usa13509 (p = 10, 2000), random 5,000 x 1,000.

Every run is the default path of ``siting solve`` for the p-median (heuristic start, Benders on the
radius formulation, gap 0) in its own spawned process, so each row has its own peak memory; rows
are appended to the CSV as they finish, so a long run can be stopped and its rows kept. Known
optima come from ``optimal_values.csv`` next to the TSPLIB files (Duran-Mateluna, Ales & Elloumi,
EJOR 2023, Tables 2-4, with the paper's times in ``paper_seconds``).

    nice -n 5 python benchmarks/bench_pmedian_scale.py --out benchmarks/results/pmedian_scale.csv
    python benchmarks/bench_pmedian_scale.py --only rl1304            # one group
    python benchmarks/bench_pmedian_scale.py --only random --time-limit 300

The random instance: 5,000 demand points and 1,000 sites uniform on a 10 km square (seeded),
integer weights 1-200, floored Euclidean distances (metres), p = 30.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from siting.scenarios.research.child import failure_row, peak_mb, run_in_child

TSPLIB = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "tsplib-pmedian"
GROUPS: dict[str, tuple[str, list[int]]] = {
    "rl1304": ("rl1304.tsp", [5, 10, 20, 50, 100, 200, 300, 400, 500]),
    "pcb3038": ("pcb3038.tsp", [5, 10, 20, 50, 100, 150, 200, 300, 400, 500]),
    "usa13509": ("usa13509.tsp", [2000, 10]),
    "random": ("", [30]),
}
FIELDS = [
    "instance", "n", "m", "p", "status", "objective", "bound", "gap", "seconds", "peak_mb",
    "known_optimum", "matches", "paper_seconds", "stored_width", "message", "cpu_seconds",
]  # fmt: skip


def random_instance(seed: int = 1, n: int = 5000, m: int = 1000) -> Any:
    """5,000 x 1,000 uniform points on a 10 km square, weights 1-200, floored Euclidean distances."""
    from siting.models.instance import SitingInstance

    rng = np.random.default_rng(seed)
    demand = rng.uniform(0.0, 10_000.0, (n, 2))
    sites = rng.uniform(0.0, 10_000.0, (m, 2))
    d = np.empty((n, m), dtype=np.float32)
    for r0 in range(0, n, 1000):  # in row blocks: no (n, m, 2) temporary
        diff = demand[r0 : r0 + 1000, None, :] - sites[None, :, :]
        d[r0 : r0 + 1000] = np.floor(np.sqrt((diff**2).sum(axis=2)))
    return SitingInstance(d, weights=rng.integers(1, 201, n).astype(float), name=f"random{n}x{m}")


def _child(group: str, p: int, time_limit: float | None, progress: bool, conn: Any) -> None:
    """Read (or make) the instance, solve the p-median on the default path, send one row; with
    ``progress`` the solve's progress lines go to stderr (elapsed seconds in front)."""
    from siting.optimizer.result import SolveParams
    from siting.optimizer.solve import ModelSpec, solve
    from siting.scenarios.research.readers import read_tsplib

    row: dict[str, Any] = {}
    widths: list[str] = []
    try:
        instance = random_instance() if group == "random" else read_tsplib(TSPLIB / GROUPS[group][0])
        row.update(n=instance.n, m=instance.m)

        t_start = time.perf_counter()

        def say(msg: str) -> None:
            # the Benders separator's width (the heuristic start's own lines name nearest sites too)
            if msg.startswith("benders") and ("nearest sites" in msg or "nearest are stored" in msg):
                widths.append(msg.rsplit("the ", 1)[-1].split(" ")[0])
            if progress:
                print(f"  [{group} p={p} {time.perf_counter() - t_start:7.1f} s] {msg}", file=sys.stderr, flush=True)

        cpu0 = time.process_time()
        result = solve(
            instance, ModelSpec("pmedian", p=p), solver="highs",
            params=SolveParams(time_limit=time_limit, mip_gap=0.0), progress=say,
        )  # fmt: skip
        row.update(
            status=result.status.value, objective=result.objective, bound=result.bound, gap=result.gap,
            seconds=round(result.seconds, 3), message=result.message,
            cpu_seconds=round(time.process_time() - cpu0, 3),
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - a failure is one row; the benchmark goes on
        row.update(failure_row(exc))
    row["stored_width"] = widths[-1] if widths else ""
    row["peak_mb"] = peak_mb()
    conn.send(row)
    conn.close()


def _known() -> dict[tuple[str, int], tuple[float, str]]:
    out: dict[tuple[str, int], tuple[float, str]] = {}
    path = TSPLIB / "optimal_values.csv"
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                out[(r["instance"], int(r["p"]))] = (float(r["optimal_value"]), r.get("paper_benders_time_s", ""))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pmedian_scale.csv")
    parser.add_argument("--only", action="append", choices=sorted(GROUPS), help="run only these groups (repeatable)")
    parser.add_argument("--p", type=int, action="append", help="only these p (repeatable)")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds per run (default 1800)")
    parser.add_argument("--progress", action="store_true", help="print each solve's progress lines to stderr")
    args = parser.parse_args()
    known = _known()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.out.exists()
    if not new_file:
        with args.out.open(encoding="utf-8") as fh:
            header = fh.readline().strip().split(",")
        if header != FIELDS:
            raise SystemExit(f"error: {args.out} has other columns than this benchmark writes; give --out NEW.csv")
    with args.out.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        for group in args.only or list(GROUPS):
            for p in GROUPS[group][1]:
                if args.p and p not in args.p:
                    continue
                t0 = time.perf_counter()
                row = run_in_child(_child, (group, p, args.time_limit, args.progress), args.time_limit)
                row.update(instance=group if group != "random" else "random5000x1000", p=p)
                value, paper = known.get((group, p), (None, ""))
                row["known_optimum"] = value if value is not None else ""
                row["paper_seconds"] = paper
                if value is not None:
                    same = row.get("objective") is not None and abs(float(row["objective"]) - value) < 1e-6
                    row["matches"] = ("yes" if row.get("status") == "OPTIMAL" else "value") if same else "no"
                writer.writerow(row)
                fh.flush()
                print(
                    f"{row['instance']} p={p}: {row.get('status')} {row.get('objective')} gap {row.get('gap')} "
                    f"{row.get('seconds')} s ({row.get('cpu_seconds')} CPU s), {row.get('peak_mb')} MB, "
                    f"matches {row.get('matches', '')} "
                    f"(wall {time.perf_counter() - t0:.0f} s, parent {peak_mb():.0f} MB)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
