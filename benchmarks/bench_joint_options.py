"""Capacities and equity floors inside the joint model on a city-like instance (time, gap, size).

On demand, not part of the test suite (the machine is shared: compare figures of one run)::

    python benchmarks/bench_joint_options.py
    python benchmarks/bench_joint_options.py --n 10000 --m 1000 --time-limit 60

Two services on the plots of :func:`city_instances.city_instance` (seed 1, reach 500 m): ``care``
(all residents, capacities drawn uniformly from 4,000-12,000 residents, seeded, so they bind; a
capacity is synthetic) and ``toilet`` (the same residents, 16 communities: the cells of a 4 x 4
grid), at most ``--p`` (20) new sites each and a shared budget of ``1.5 p`` (every site costs 1).

Cases: ``plain`` (no option), ``cap_strong`` / ``cap_weak`` (care capacitated, unsplit, with the
per-pair linking (C3) at every plot or only at unlimited plots), ``cap_split`` (split, strong),
``floor`` (toilet: every community at least ``--floor`` covered), ``cap_floor`` (both). Wall and
CPU seconds (``os.times``: this process and its solver child processes) per case; results go to
benchmarks/results/joint_options.csv.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from city_instances import city_instance, city_points

from siting.models.errors import SitingError
from siting.models.formulations.joint_capacity import CapacityData, EquityData, JointOptions
from siting.models.multiservice import MultiServiceInstance, ServiceData
from siting.optimizer.joint_options import solve_joint_options
from siting.optimizer.result import SolveParams

SEED, RADIUS = 1, 500.0
CASES = ("plain", "cap_strong", "cap_weak", "cap_split", "floor", "cap_floor")


def instance(n: int, m: int, p: int) -> tuple[MultiServiceInstance, CapacityData, EquityData]:
    single = city_instance(n, m, SEED, RADIUS)
    pairs = sp.csr_array(single.reachable_pairs(RADIUS))
    cov = sp.csr_array((np.ones(pairs.nnz, dtype=bool), pairs.indices, pairs.indptr), shape=pairs.shape)

    def service(name: str) -> ServiceData:
        return ServiceData(
            name=name, weights=np.asarray(single.weights, dtype=np.float64), coverage=cov,
            distances=sp.csr_array(pairs, dtype=np.float64), cost=np.ones(m), eligible=np.ones(m, dtype=bool),
            area=0.0, existing_covered=np.zeros(n, dtype=bool), existing_distance=np.full(n, np.inf), max_sites=p,
        )  # fmt: skip

    inst = MultiServiceInstance(
        demand_ids=np.arange(n), site_ids=np.array([f"s{j}" for j in range(m)], dtype=object),
        room=np.full(m, np.inf), services=(service("care"), service("toilet")), total_budget=1.5 * p,
        name=f"city{n}x{m}",
    )  # fmt: skip
    rng = np.random.default_rng(SEED + 100)
    cap = CapacityData(
        plot_capacity=rng.uniform(4_000, 12_000, size=m).round(), existing_cover=sp.csr_array((n, 0), dtype=bool),
        existing_capacity=np.zeros(0), existing_ids=np.zeros(0, dtype=object),
    )  # fmt: skip
    xy = city_points(n, m, SEED).demand_xy
    cell = np.minimum((xy // 2_500).astype(int), 3)
    code = cell[:, 0] * 4 + cell[:, 1]
    eq = EquityData(code=code, labels=np.array([f"c{k // 4}{k % 4}" for k in range(16)]), min_share=0.0)
    return inst, cap, eq


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the solver may run in a child process)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def options_for(case: str, cap: CapacityData, eq: EquityData, floor: float) -> JointOptions:
    from dataclasses import replace

    fl = EquityData(eq.code, eq.labels, min_share=floor)
    return {
        "plain": JointOptions(),
        "cap_strong": JointOptions(capacity={"care": cap}, strong=True),
        "cap_weak": JointOptions(capacity={"care": cap}, strong=False),
        "cap_split": JointOptions(capacity={"care": replace(cap, allow_split=True)}, strong=True),
        "floor": JointOptions(equity={"toilet": fl}),
        "cap_floor": JointOptions(capacity={"care": cap}, equity={"toilet": fl}),
    }[case]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--n", type=int, default=3_000)
    ap.add_argument("--m", type=int, default=300)
    ap.add_argument("--p", type=int, default=20)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--floor", type=float, default=0.1)
    ap.add_argument("--out", default=str(HERE / "results" / "joint_options.csv"))
    args = ap.parse_args()
    inst, cap, eq = instance(args.n, args.m, args.p)
    rows = []
    for case in args.cases.split(","):
        opts = options_for(case, cap, eq, args.floor)
        params = SolveParams(time_limit=args.time_limit, mip_gap=1e-4)
        w0, c0 = time.perf_counter(), _cpu()
        try:
            if opts:
                r = solve_joint_options(inst, opts, "max_coverage", "highs", params, tie_break=False, reference=False)
            else:
                from siting.optimizer.joint import solve_joint

                r = solve_joint(inst, "max_coverage", "highs", params, tie_break=False)
        except SitingError as exc:  # a case that finds no plan is a row, not the end of the run
            rows.append({"case": case, "status": "ERROR", "note": str(exc)})
            print(rows[-1], flush=True)
            continue
        wall, cpu = time.perf_counter() - w0, _cpu() - c0
        note: list[str] = []
        om = r.option_metrics
        if om is not None and "care" in om.capacity:
            use = om.capacity["care"]
            util = use.utilisation[use.is_open]
            note.append(f"care served {use.served_weight:.0f}, median utilisation {np.nanmedian(util):.2f}")
        if om is not None and "toilet" in om.equity:
            note.append(f"toilet worst community {om.equity['toilet'].worst:.3f}")
        prim = next(st for st in r.stages if st["name"] == "primary")
        row: dict[str, Any] = {
            "case": case, "n": args.n, "m": args.m, "p": args.p, "time_limit": args.time_limit,
            "status": r.status.value, "objective": r.objective, "bound": r.bound, "gap": r.gap,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "rows": prim["rows"], "cols": prim["cols"],
            "nonzeros": prim["nonzeros"], "verified": r.verified, "note": "; ".join(note),
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
