"""City-scale coverage benchmark: MCLP and LSCP on seeded city instances, side by side in one run.

On demand, not part of the test suite (the machine is shared: compare figures of one run)::

    python benchmarks/bench_city_scale.py                              # every case, every method
    python benchmarks/bench_city_scale.py --cases mclp10k --methods auto,benders,compact,cbc
    python benchmarks/bench_city_scale.py --cases mclp100k,lscp100k --out benchmarks/results/city_scale.csv
    python benchmarks/bench_city_scale.py --everything   # + p-median and the whole city, then the target table

Cases (instances from :mod:`city_instances`, Euclidean distances within the radius, KD-tree):

========== ============================== ===== ====== ==========
case       size                           p     radius time limit
========== ============================== ===== ====== ==========
mclp10k    10,000 demand x 1,000 sites    50    500 m  60 s
mclp100k   100,000 x 2,000                50    800 m  120 s
lscp100k   100,000 x 2,000 (least cost)   -     800 m  120 s
mclp1m     1,000,000 x 5,000              100   800 m  300 s
mclp1m40   1,000,000 x 5,000              40    800 m  300 s
========== ============================== ===== ====== ==========

Methods: ``auto`` is the default ``solve(..., solver="auto")``: HiGHS, except that the reduced
paths (the LSCP's, and the MCLP's at mclp10k) hand their last branch and bound to SCIP; ``highs`` is
``auto`` on ``solver="highs"`` (HiGHS throughout; skipped where it is the same run). Both pick ``benders`` from
``coverage_choice.COVERAGE_AUTO_PAIRS`` pairs within the radius on, for the MCLP ``reduced`` from
``COVERAGE_REDUCED_PAIRS``, ``compact`` below; the ``formulation`` column says which ran); ``benders`` is Benders in the site space for the MCLP and row generation for the
LSCP (:mod:`optimizer.coverage_benders`, :mod:`optimizer.coverage_rowgen`); ``reduced`` is the
compact LP bound with reduced-cost fixing then the compact MILP (:mod:`optimizer.coverage_exact`);
``compact`` is the merged-row compact MILP handed to HiGHS (with its heuristic warm start);
``cbc`` is the classic covering MILP on PuLP/CBC without merging or warm start (as pysal/spopt
builds it; only on cases up to 10,000 demand points); ``heuristic`` is greedy + swap + Lagrangian
with its proven bound (MCLP only); ``lp`` brackets the MCLP's LP optimum (PDLP for the case's time
limit: ``objective`` = a value the LP attains, ``bound`` = its rigorous dual bound; only when named
in ``--methods``); ``scip`` (LSCP cases) is ``auto`` on ``--solver scip``: the reduced path with
SCIP for its last branch and bound (the same run as ``auto`` on the LSCP cases).

Every (case, method) runs in its own spawned process, so ``peak_mb`` (``VmHWM``) is that run's
own peak memory, including the instance build; ``build_s`` / ``build_cpu_s`` are the KD-tree
distance build (outside the solve's time limit), ``seconds`` / ``cpu_s`` the solve. Progress lines
(each phase, with elapsed wall, CPU and resident memory) go to stderr. ``--time-limit S`` replaces
every case's own limit (the table's limits are the cases' own). ``--threads T`` (default 1,
as ``siting solve``) is the solver threads of every run; ``seed`` and ``threads`` are columns.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CASES: dict[str, dict[str, Any]] = {
    "mclp10k": {"model": "mclp", "n": 10_000, "m": 1_000, "p": 50, "radius": 500.0, "time_limit": 60.0},
    "mclp100k": {"model": "mclp", "n": 100_000, "m": 2_000, "p": 50, "radius": 800.0, "time_limit": 120.0},
    "lscp100k": {"model": "lscp", "n": 100_000, "m": 2_000, "p": None, "radius": 800.0, "time_limit": 120.0},
    "mclp1m": {"model": "mclp", "n": 1_000_000, "m": 5_000, "p": 100, "radius": 800.0, "time_limit": 300.0},
    # the same city with too few sites to cover it: the Benders path itself at 10^6 points
    "mclp1m40": {"model": "mclp", "n": 1_000_000, "m": 5_000, "p": 40, "radius": 800.0, "time_limit": 300.0},
}
METHODS = ("auto", "highs", "scip", "benders", "reduced", "compact", "cbc", "heuristic", "lp")
#: the classic PuLP/CBC model is built pair by pair: only on instances it can finish
CBC_MAX_N = 10_000
COLUMNS = (
    "case", "method", "n", "m", "p", "radius", "time_limit", "status", "limit", "objective", "bound", "gap",
    "seconds", "cpu_s", "build_s", "build_cpu_s", "peak_mb", "verified", "pairs", "formulation", "message",
    "seed", "threads",
)  # fmt: skip


def _child(case: str, method: str, seed: int, threads: int, time_limit: float, conn: Any) -> None:
    """One run in a spawned process: build the instance, solve with ``threads`` solver threads, send
    the row."""
    row: dict[str, Any] = {"case": case, "method": method, "seed": seed, "threads": threads}
    try:
        from city_instances import city_instance

        from siting.optimizer.result import SolveParams
        from siting.optimizer.solve import ModelSpec, solve
        from siting.scenarios.research.child import peak_mb

        c = CASES[case]
        cpu0 = time.process_time()
        t0 = time.perf_counter()

        def say(msg: str) -> None:  # progress on stderr: elapsed wall, CPU and resident memory
            print(
                f"  [{case} {method} {time.perf_counter() - t0:6.1f} s, CPU {time.process_time() - cpu0:6.1f} s, "
                f"{_rss_mb():,.0f} MB] {msg}",
                file=sys.stderr,
                flush=True,
            )

        inst = city_instance(c["n"], c["m"], seed, c["radius"])
        row["build_s"] = round(time.perf_counter() - t0, 2)
        row["build_cpu_s"] = round(time.process_time() - cpu0, 1)
        say(f"built {inst.distances.nnz:,} pairs within {c['radius']:g} in {row['build_s']} s")
        row["pairs"] = int(inst.distances.nnz)
        if method == "lp":
            row.update(_lp_row(inst, c, time_limit, say))
            row["peak_mb"] = peak_mb()
            conn.send(row)
            conn.close()
            return
        formulation = {"cbc": "classic", "heuristic": "auto", "scip": "auto", "highs": "auto"}.get(method, method)
        spec = ModelSpec(c["model"], p=c["p"], radius=c["radius"], formulation=formulation)  # type: ignore[arg-type]
        solver = {"cbc": "cbc", "heuristic": "heuristic", "scip": "scip", "auto": "auto"}.get(method, "highs")
        options = {"siting": {"warm_start": method != "cbc"}}
        params = SolveParams(time_limit=time_limit, mip_gap=1e-6, threads=threads, options=options)
        cpu1 = time.process_time()
        res = solve(inst, spec, solver=solver, params=params, progress=say)
        row.update(
            status=res.status.value,
            limit=res.limit.value,
            objective=res.objective,
            bound=res.bound,
            gap=res.gap,
            seconds=round(res.seconds, 2),
            verified=res.verified,
            message=res.message[:200],
            formulation=res.stats.get("formulation", ""),
            cpu_s=round(time.process_time() - cpu1, 1),  # the solve's CPU next to its wall (a shared machine)
        )
        row["peak_mb"] = peak_mb()
    except Exception as exc:  # noqa: BLE001 - a failed run is a row, the benchmark goes on
        row.update(status="ERROR", message=f"{type(exc).__name__}: {exc}"[:300])
    conn.send(row)
    conn.close()


def _lp_row(inst: Any, c: dict[str, Any], time_limit: float, say: Any) -> dict[str, Any]:
    """The MCLP's LP optimum bracketed (method ``lp``): PDLP on the merged compact LP for the case's
    time limit (:mod:`optimizer.coverage_lp_bound`); ``objective`` is the value the LP attains at
    its clipped point, ``bound`` the rigorous Lagrangian bound (L) at its multipliers."""
    import numpy as np

    from siting.optimizer.coverage_benders import mclp_master
    from siting.optimizer.coverage_lp_bound import coverage_lp
    from siting.optimizer.result import SolveParams

    if c["model"] != "mclp":
        return {"status": "SKIPPED", "message": "the LP bracket is for the MCLP"}
    cpu1 = time.process_time()
    master = mclp_master(inst, c["radius"], c["p"], None, np.zeros(inst.m, dtype=bool))
    out = coverage_lp(master, seconds=time_limit, params=SolveParams(threads=1).started())
    say(f"LP between {out.point:.10g} and {out.bound:.10g} ({out.status}) in {out.seconds:.1f} s")
    return {
        "status": "LP",
        "limit": out.status,
        "objective": out.point,
        "bound": out.bound,
        "gap": (out.bound - out.point) / max(abs(out.point), 1e-9),
        "seconds": round(out.seconds, 2),
        "cpu_s": round(time.process_time() - cpu1, 1),
        "verified": "",
        "formulation": "lp-pdlp",
    }


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    ap.add_argument(
        "--methods",
        # the LP bracket only on request; scip is auto's run on the LSCP cases
        default=",".join(m for m in METHODS if m not in ("lp", "scip")),
        help=f"comma-separated, from {', '.join(METHODS)}",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per solve (default: each case's own)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="solver threads (siting's default is 1; HiGHS's branch and bound uses 2 workers with 2)",
    )
    ap.add_argument("--out", default=str(HERE / "results" / "city_scale.csv"))
    ap.add_argument("--append", action="store_true", help="add the rows to --out instead of replacing it")
    ap.add_argument(
        "--everything",
        action="store_true",
        help="the whole target table: these cases, then bench_pmedian_scale.py and bench_city_run.py "
        "(their CSVs beside --out), then the table of scale_targets.py",
    )
    args = ap.parse_args()
    from siting.scenarios.research.child import run_in_child

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [c for c in cases if c not in CASES] + [m for m in methods if m not in METHODS]
    if bad:
        sys.exit(
            f"error: unknown case or method {', '.join(bad)}; cases: {', '.join(CASES)}; methods: {', '.join(METHODS)}"
        )
    rows = []
    for case in cases:
        c = CASES[case]
        for method in methods:
            if method == "cbc" and c["n"] > CBC_MAX_N:
                continue
            if method in ("heuristic", "lp") and c["model"] != "mclp":
                continue
            if method == "highs" and c["model"] == "mclp" and c["n"] >= 100_000:
                continue  # auto runs the decomposition there, all on HiGHS: the same run
            if method == "scip" and c["model"] != "lscp":  # SCIP's reduced path is the LSCP's
                continue
            # the watchdog also covers the instance build outside the time limit (~140 s at 1,000,000 points)
            limit = args.time_limit if args.time_limit is not None else c["time_limit"]
            row = run_in_child(
                _child, (case, method, args.seed, args.threads, limit), limit + 120.0 + 300.0 * c["n"] / 1e6
            )
            row.update(case=case, method=method, n=c["n"], m=c["m"], p=c["p"], radius=c["radius"])
            row["time_limit"] = limit
            rows.append(row)
            print(
                f"{case:9s} {method:9s} {row.get('status', ''):11s} obj {row.get('objective')} bound {row.get('bound')} "
                f"gap {row.get('gap')} {row.get('seconds')} s build {row.get('build_s')} s {row.get('peak_mb')} MB",
                flush=True,
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (args.append and out.exists())
    with out.open("w" if fresh else "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
        if fresh:
            w.writeheader()
        w.writerows(rows)
    print(f"results written to {out}")
    if args.everything:
        _everything(out.parent)


def _everything(results: Path) -> None:
    """Run the p-median and whole-city benchmarks into ``results`` and print the target table."""
    import subprocess

    from scale_targets import markdown, table

    for script, out in (("bench_pmedian_scale.py", "pmedian_scale.csv"), ("bench_city_run.py", "city_run.csv")):
        cmd = [sys.executable, str(HERE / script), "--out", str(results / out)]
        print("running", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=False)
    print(markdown(table(results)))


if __name__ == "__main__":
    main()
