"""Timed run of the p-median heuristics (greedy + interchange + Lagrangian) on OR-Library pmed1-40.

On demand, not part of the test suite::

    PYTHONPATH=. python benchmarks/bench_heuristics.py                      # all 40 pmed files
    PYTHONPATH=. python benchmarks/bench_heuristics.py --only pmed26 pmed40
    PYTHONPATH=. python benchmarks/bench_heuristics.py \
        --tsplib /work/shared/benchmarks/tsplib-pmedian/rl1304.tsp --p 10 100 500

Per instance it prints the greedy, interchange and final objective, the published optimum, the
proven lower bound, their relative gaps and the seconds of ``run_heuristic(method="auto")``
(reading and shortest paths excluded). The folder's ``optimal_values.csv`` gives the optima.
The small parsers below are local on purpose: the benchmark does not depend on the reader layer.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from siting.models.instance import SitingInstance
from siting.optimizer.heuristics import run_heuristic

DEFAULT_FOLDER = Path("/work/shared/benchmarks/orlib-pmed")


def read_orlib(path: Path) -> tuple[SitingInstance, int]:
    """OR-Library pmed file: ``n m p``, then m undirected edges ``i j c``; last duplicate wins."""
    tokens = path.read_text().split()
    n, m, p = (int(t) for t in tokens[:3])
    e = np.array(tokens[3 : 3 + 3 * m], dtype=np.int64).reshape(m, 3)
    a, b = np.minimum(e[:, 0], e[:, 1]) - 1, np.maximum(e[:, 0], e[:, 1]) - 1
    _, first_rev = np.unique((a * n + b)[::-1], return_index=True)
    last = m - 1 - first_rev
    g = sp.csr_array((e[last, 2].astype(float), (a[last], b[last])), shape=(n, n))
    return SitingInstance(distances=shortest_path(g, directed=False), name=path.stem), p


def read_tsplib(path: Path) -> SitingInstance:
    """TSPLIB coordinates; ``d_ij = floor(Euclidean distance)`` as in the p-median literature."""
    lines = path.read_text().splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith("NODE_COORD_SECTION")) + 1
    pts = []
    for line in lines[start:]:
        if not line.strip() or line.strip() == "EOF":
            break
        pts.append([float(x) for x in line.split()[1:3]])
    xy = np.array(pts)
    diff = xy[:, None, :] - xy[None, :, :]
    return SitingInstance(distances=np.floor(np.sqrt((diff**2).sum(-1))), name=path.stem)


def known_optima(csv_path: Path) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    if csv_path.exists():
        with csv_path.open() as fh:
            for row in csv.DictReader(fh):
                out[(row["instance"], int(row["p"]))] = float(row.get("optimal_value") or row.get("value") or "nan")
    return out


def run_one(name: str, inst: SitingInstance, p: int, opt: float | None, time_limit: float | None) -> dict[str, float]:
    out = run_heuristic(inst, "pmedian", p=p, method="auto", time_limit=time_limit)
    g = out.stats["greedy"]["objective"]
    i = out.stats["interchange"]["objective"]
    opt_gap = (out.objective - opt) / opt if opt else float("nan")
    bound_gap = (opt - out.bound) / opt if opt else (out.objective - out.bound) / out.objective
    gi_sec = out.stats["interchange"]["seconds"]
    print(
        f"{name:>10} {inst.n:5d} {p:4d} {g:10.0f} {i:10.0f} {out.objective:10.0f} "
        f"{(opt if opt else float('nan')):10.0f} {out.bound:10.0f} {100 * opt_gap:7.3f} {100 * bound_gap:7.3f} "
        f"{gi_sec:7.2f} {out.seconds:7.2f}"
    )
    return {
        "obj": out.objective,
        "opt": opt if opt else float("nan"),
        "bound": out.bound,
        "inter": i,
        "seconds": out.seconds,
        "gi_seconds": gi_sec,
        "bound_gap": bound_gap,
        "opt_gap": opt_gap,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="folder with pmed*.txt and optimal_values.csv")
    ap.add_argument("--only", nargs="*", default=None, help="instance names, e.g. pmed1 pmed40")
    ap.add_argument("--tsplib", type=Path, default=None, help="a TSPLIB .tsp file instead of OR-Library")
    ap.add_argument("--p", type=int, nargs="*", default=[10, 100, 500], help="p values for --tsplib")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per instance")
    args = ap.parse_args()

    print(
        f"{'instance':>10} {'n':>5} {'p':>4} {'greedy':>10} {'interch':>10} {'final':>10} {'optimum':>10} "
        f"{'bound':>10} {'obj%':>7} {'bnd%':>7} {'g+i s':>7} {'sec':>7}"
    )
    rows = []
    if args.tsplib is not None:
        inst = read_tsplib(args.tsplib)
        opts = known_optima(args.tsplib.parent / "optimal_values.csv")
        for p in args.p:
            rows.append(run_one(f"{inst.name}", inst, p, opts.get((inst.name, p)), args.time_limit))
    else:
        names = args.only or [f"pmed{k}" for k in range(1, 41)]
        opts = known_optima(args.folder / "optimal_values.csv")
        for name in names:
            inst, p = read_orlib(args.folder / f"{name}.txt")
            rows.append(run_one(name, inst, p, opts.get((name, p)), args.time_limit))
    t = time.strftime("%Y-%m-%d %H:%M")
    reached = sum(1 for r in rows if r["obj"] <= r["opt"] + 1e-6)
    reached_gi = sum(1 for r in rows if r["inter"] <= r["opt"] + 1e-6)
    proven = sum(1 for r in rows if r["obj"] - r["bound"] <= 1e-6)
    gaps = [r["bound_gap"] for r in rows]
    open_gaps = [r["bound_gap"] for r in rows if r["obj"] - r["bound"] > 1e-6] or [0.0]
    print(f"\n[{t}] {len(rows)} instances")
    print(f"  optimum reached: greedy+interchange {reached_gi}/{len(rows)}, auto {reached}/{len(rows)}")
    print(f"  optimality proven by the bound: {proven}/{len(rows)}")
    print(
        f"  seconds: greedy+interchange {sum(r['gi_seconds'] for r in rows):.1f}, "
        f"auto total {sum(r['seconds'] for r in rows):.1f}"
    )
    print(
        f"  bound gap (optimum - bound) / optimum: median {100 * statistics.median(gaps):.3f} %, "
        f"mean {100 * statistics.mean(gaps):.3f} %, median where not proven "
        f"{100 * statistics.median(open_gaps):.3f} %, max {100 * max(gaps):.3f} %"
    )


if __name__ == "__main__":
    main()
