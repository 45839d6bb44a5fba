"""Size and solve time of the joint multi-service MILP on a synthetic life-circle district.

On demand, not part of the test suite::

    PYTHONPATH=. python benchmarks/bench_joint_core.py                   # n=300, m=40, S=4, T=3
    PYTHONPATH=. python benchmarks/bench_joint_core.py --n 1000 --m 80 --seed 2 --time-limit 120

The district (seeded): demand points and candidate plots uniform in a 3 km x 3 km square, walking
distance = 1.3 x straight line, stored up to 1,000 m. Four services (elderly care 500 m, childcare
400 m, EV charging 600 m, toilets 300 m) with their own demand groups, areas, land-type costs
and eligibility, two existing facilities each; plots of 100-1,500 m2 on four land types; total,
per-service and per-phase budgets (3 phases, carry-over). For every objective it prints each
lexicographic stage's rows, columns, nonzeros, status and seconds, and the greedy start's value
against the optimum.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import scipy.sparse as sp

from siting.models.errors import InfeasibleError
from siting.models.formulations.joint import joint_milp
from siting.models.multiservice import OBJECTIVES, MultiServiceInstance, ServiceData, evaluate_joint, objective_value
from siting.optimizer.joint import greedy_plan, solve_joint
from siting.optimizer.result import SolveParams

#: name, reach (m), area (m2), share of the residents in its demand group, cost by land type
#: (idle land, old factory, warehouse, commercial), land types allowed, minimum plot area
SERVICES = [
    ("elderly_care", 500.0, 300.0, 0.18, [60.0, 45.0, 40.0, 80.0], [0, 1, 2, 3], 300.0),
    ("childcare", 400.0, 150.0, 0.04, [40.0, 35.0, 30.0, 50.0], [0, 2, 3], 150.0),
    ("ev_charging", 600.0, 50.0, 0.25, [15.0, 10.0, 10.0, 20.0], [0, 1, 2], 0.0),
    ("toilet", 300.0, 40.0, 1.00, [12.0, 10.0, 10.0, 15.0], [0, 1, 2, 3], 0.0),
]
CUTOFF = 1000.0


def synthetic(n: int, m: int, T: int, seed: int) -> MultiServiceInstance:
    rng = np.random.default_rng(seed)
    dem = rng.uniform(0, 3000, size=(n, 2))
    plots = rng.uniform(0, 3000, size=(m, 2))
    residents = rng.integers(50, 600, size=n).astype(float)
    land = rng.integers(0, 4, size=m)
    plot_area = rng.uniform(100, 1500, size=m)
    D = 1.3 * np.linalg.norm(dem[:, None, :] - plots[None, :, :], axis=2)
    services = []
    for name, reach, area, share, costs, allowed, min_area in SERVICES:
        stored = D <= CUTOFF
        r, c = np.nonzero(stored)
        dist = sp.csr_array((D[r, c], (r, c)), shape=(n, m))
        cov = sp.csr_array(D <= reach)
        existing = rng.uniform(0, 3000, size=(2, 2))
        ed = (1.3 * np.linalg.norm(dem[:, None, :] - existing[None, :, :], axis=2)).min(axis=1)
        eligible = np.isin(land, allowed) & (plot_area >= min_area)
        cost = np.where(eligible, np.asarray(costs)[land] * rng.uniform(0.8, 1.2, size=m), np.nan)
        w = np.round(residents * share * rng.uniform(0.7, 1.3, size=n))
        services.append(
            ServiceData(
                name=name,
                weights=w,
                coverage=cov,
                distances=dist,
                cost=cost,
                eligible=eligible,
                area=area,
                existing_covered=ed <= reach,
                existing_distance=ed,
                max_sites=8,
                weight={"elderly_care": 2.0, "childcare": 2.0}.get(name, 1.0),
                budget=float(np.nanmedian(cost) * 5),
                group=name,
            )
        )
    total = float(sum(np.nanmedian(s.cost) for s in services) * 4)
    return MultiServiceInstance(
        demand_ids=np.arange(n),
        site_ids=np.array([f"plot{j:03d}" for j in range(m)]),
        room=plot_area,
        services=tuple(services),
        total_budget=total,
        phases=tuple(str(2022 + t) for t in range(T)),
        phase_budgets=np.full(T, total / T),
        carry_over=True,
        residents=residents,
        name=f"synthetic-{seed}",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--m", type=int, default=40)
    ap.add_argument("--phases", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--gap", type=float, default=0.0)
    ap.add_argument("--objectives", nargs="*", default=list(OBJECTIVES))
    a = ap.parse_args()
    inst = synthetic(a.n, a.m, a.phases, a.seed)
    pairs = int(np.stack([s.eligible for s in inst.services]).sum())
    print(f"instance {inst.name}: n={inst.n} m={inst.m} S={inst.S} T={inst.T}, eligible pairs {pairs}")
    params = SolveParams(time_limit=a.time_limit, mip_gap=a.gap)
    for objective in a.objectives:
        t0 = time.perf_counter()
        _, layout = joint_milp(inst, objective)
        build = time.perf_counter() - t0
        g = evaluate_joint(inst, greedy_plan(inst, layout, objective))
        usable = not g.violations and (objective != "min_cost" or g.covers_all_coverable)
        gval = objective_value(g, objective) if usable else float("nan")
        try:
            res = solve_joint(inst, objective, params=params)
        except InfeasibleError as exc:
            print(f"{objective:16s} build {build:.3f}s  -> {type(exc).__name__}: {exc}")
            if objective != "min_cost":
                continue
            # what full coverage costs: the same district without budgets, count limits and room
            # sharing (covering everyone may need more services on one plot than it has room for)
            free = dataclasses.replace(
                inst,
                total_budget=None,
                phase_budgets=None,
                room=np.full(inst.m, np.inf),
                services=tuple(dataclasses.replace(s, budget=None, max_sites=None) for s in inst.services),
            )
            res = solve_joint(free, objective, params=params)
            print(f"{'':16s} without budgets, count limits and room limits:")
        print(
            f"{objective:16s} build {build:.3f}s  greedy {gval:.6g}  best {res.objective:.6g}  status "
            f"{res.status.value}  verified {res.verified}  total {res.seconds:.2f}s  cost {res.metrics.total_cost:.6g}"
        )
        for st in res.stages:
            if st["status"] == "skipped":
                print(f"    {st['name']:9s} skipped: {st['message']}")
                continue
            print(
                f"    {st['name']:9s} rows {st['rows']:6d} cols {st['cols']:6d} nnz {st['nonzeros']:7d}  "
                f"{st['status']:8s} {st['seconds']:7.2f}s  obj {st['objective']:.6g}  gap {st['gap']}"
            )


if __name__ == "__main__":
    main()
