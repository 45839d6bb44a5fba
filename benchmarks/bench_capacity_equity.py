"""Capacitated and equity MCLP on the 10,000 x 1,000 city-like instance (time, gap).

On demand, not part of the test suite (the machine is shared: compare figures of one run)::

    python benchmarks/bench_capacity_equity.py
    python benchmarks/bench_capacity_equity.py --cases plain,cap_split --time-limit 30

The instance is :func:`city_instances.city_instance` (n = 10,000, m = 1,000, seed 1, radius 500 m,
p = 50, HiGHS). Synthetic additions, seeded: every site gets a capacity drawn uniformly from
4,000-12,000 residents (a typical site within 500 m reaches about 13,000, so capacities bind);
demand points fall into 16 communities, the cells of a 4 x 4 grid over the 10 km square.

Cases: ``plain`` (the uncapacitated MCLP, reference), ``cap_unsplit`` / ``cap_split``
(capacitated MCLP), ``floor`` (every community at least ``--floor`` covered), ``maxmin`` (worst
community first, then coverage; two stages share the time limit). Results go to
benchmarks/results/capacity_equity.csv.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from city_instances import city_instance, city_points

from siting.models.errors import SitingError
from siting.optimizer.result import SolveParams
from siting.optimizer.solve import ModelSpec, solve

N, M, SEED, RADIUS, P = 10_000, 1_000, 1, 500.0, 50
CASES = ("plain", "cap_unsplit", "cap_split", "floor", "maxmin")


def instance() -> Any:
    inst = city_instance(N, M, SEED, RADIUS)
    rng = np.random.default_rng(SEED + 100)
    cap = rng.uniform(4_000, 12_000, size=M).round()
    xy = city_points(N, M, SEED).demand_xy
    cell = np.minimum((xy // 2_500).astype(int), 3)
    groups = np.array([f"c{r}{c}" for r, c in cell])
    return replace(inst, capacity=cap, groups=groups)


def spec_for(case: str, floor: float) -> ModelSpec:
    base = ModelSpec("mclp", radius=RADIUS, p=P)
    return {
        "plain": base,
        "cap_unsplit": replace(base, capacitated=True),
        "cap_split": replace(base, capacitated=True, allow_split=True),
        "floor": replace(base, min_group_share=floor),
        "maxmin": replace(base, maxmin_groups=True),
    }[case]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--floor", type=float, default=0.4)
    ap.add_argument("--out", default=str(HERE / "results" / "capacity_equity.csv"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    inst = instance()
    build = time.perf_counter() - t0
    rows = []
    for case in args.cases.split(","):
        spec = spec_for(case, args.floor)
        params = SolveParams(time_limit=args.time_limit, mip_gap=1e-4)
        try:
            r = solve(inst, spec, "highs", params)
        except SitingError as exc:  # a case that finds no plan is a row, not the end of the run
            rows.append({"case": case, "status": "ERROR", "note": str(exc)})
            print(rows[-1], flush=True)
            continue
        extra = ""
        if r.capacity is not None:
            util = r.capacity.utilisation[r.open_sites]
            extra = (
                f"served {r.capacity.served_weight:.0f}; covered but unserved {r.capacity.covered_unserved_weight:.0f}; "
                f"median utilisation {np.nanmedian(util):.2f}"
            )
        if "equity" in r.stats:
            eq = r.stats["equity"]
            extra = (
                f"worst community {eq['worst_group']} {eq['worst_share_after']:.3f} "
                f"(before {eq['worst_share_before']:.3f}); floor cost {eq['floor_cost']:.0f}"
            )
        row = {
            "case": case, "n": N, "m": M, "p": P, "radius": RADIUS, "time_limit": args.time_limit,
            "status": r.status.value, "limit": r.limit.value, "objective": r.objective, "bound": r.bound,
            "gap": r.gap, "seconds": round(r.seconds, 2), "build_s": round(build, 2), "verified": r.verified,
            "pairs": int(inst.distances.nnz), "note": extra,
        }  # fmt: skip
        print(row, flush=True)
        rows.append(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=max((list(r) for r in rows), key=len))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
