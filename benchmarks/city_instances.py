"""Seeded city-shaped coverage instances: the shape of the city-scale targets.

Demand on a 10 km x 10 km square: 60 % of the points in 12 Gaussian clusters (sigma 700 m,
centres at least 1 km inside the edge; points falling outside the square are clipped to it) and
40 % uniform; integer weights 1-200 (residents per building). Candidate sites uniform on the
square; costs uniform in 0.5-3 (million). Seeded: the same seed gives the same instance.

Two forms: :func:`city_points` (arrays, in memory) with :func:`city_instance` (a sparse
:class:`SitingInstance` holding only the pairs within the cutoff, built with a KD-tree), and
:func:`write_city_csv` (demand.csv and sites.csv for ``siting solve``)::

    python benchmarks/city_instances.py --n 100000 --m 2000 --seed 1 --out /tmp/city100k
    siting solve --demand /tmp/city100k/demand.csv --sites /tmp/city100k/sites.csv --model mclp --radius 800 --p 50
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from siting.models.instance import SitingInstance
from siting.models.sparse_distances import within_radius

SIDE = 10_000.0
CLUSTERS = 12
SIGMA = 700.0
EDGE = 1_000.0
CLUSTERED_SHARE = 0.6


@dataclass(frozen=True)
class CityPoints:
    """Coordinates (metres), weights and costs of one generated city."""

    demand_xy: NDArray[np.float64]
    weights: NDArray[np.float64]
    site_xy: NDArray[np.float64]
    cost: NDArray[np.float64]


def city_points(n: int, m: int, seed: int) -> CityPoints:
    """Demand points and sites of the module docstring's shape (seeded)."""
    rng = np.random.default_rng(seed)
    n_cl = round(CLUSTERED_SHARE * n)
    centres = rng.uniform(EDGE, SIDE - EDGE, size=(CLUSTERS, 2))
    which = rng.integers(0, CLUSTERS, size=n_cl)
    clustered = centres[which] + rng.normal(0.0, SIGMA, size=(n_cl, 2))
    uniform = rng.uniform(0.0, SIDE, size=(n - n_cl, 2))
    demand = np.clip(np.vstack([clustered, uniform]), 0.0, SIDE)
    weights = rng.integers(1, 201, size=n).astype(np.float64)
    sites = rng.uniform(0.0, SIDE, size=(m, 2))
    cost = np.round(rng.uniform(0.5, 3.0, size=m), 3)
    return CityPoints(demand, weights, sites, cost)


def city_instance(n: int, m: int, seed: int, cutoff: float) -> SitingInstance:
    """The city as a sparse instance storing only the pairs within ``cutoff`` (the service radius)."""
    pts = city_points(n, m, seed)
    dist = within_radius(pts.demand_xy, pts.site_xy, cutoff)
    return SitingInstance(distances=dist, weights=pts.weights, cost=pts.cost, name=f"city{n}x{m}s{seed}")


def write_city_csv(n: int, m: int, seed: int, out: str | Path) -> tuple[Path, Path]:
    """Write ``demand.csv`` (id, x, y, weight) and ``sites.csv`` (id, x, y, cost) into ``out``."""
    pts = city_points(n, m, seed)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    demand_path, sites_path = folder / "demand.csv", folder / "sites.csv"
    ids = np.arange(n)
    np.savetxt(
        demand_path,
        np.column_stack([ids, pts.demand_xy, pts.weights]),
        fmt=["%d", "%.2f", "%.2f", "%d"],
        delimiter=",",
        header="id,x,y,weight",
        comments="",
    )
    np.savetxt(
        sites_path,
        np.column_stack([np.arange(m), pts.site_xy, pts.cost]),
        fmt=["%d", "%.2f", "%.2f", "%.3f"],
        delimiter=",",
        header="id,x,y,cost",
        comments="",
    )
    return demand_path, sites_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="demand points")
    ap.add_argument("--m", type=int, default=1_000, help="candidate sites")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="folder for demand.csv and sites.csv")
    args = ap.parse_args()
    d, s = write_city_csv(args.n, args.m, args.seed, args.out)
    print(f"wrote {d} and {s}")


if __name__ == "__main__":
    main()
