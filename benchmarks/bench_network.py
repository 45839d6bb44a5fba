"""Time walking-network distances on the real Helsinki street network (run on demand).

    python benchmarks/bench_network.py [--repeat 5]

Loads ``scenarios/examples/helsinki/helsinki.gpkg`` (OSM walking network, ODbL), builds the street
graph once, then times :func:`scenarios.geodata.network.network_distances` for

* the example's real demand points x candidate sites at a 1,200 m cutoff (a 15-minute walk), and
* seeded random loads on the same streets (5,000 x 500 at 1,200 m; 20,000 x 2,000 at 500 m),

printing the median of ``--repeat`` runs and the number of stored pairs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from siting.scenarios.geodata.network import StreetNetwork, network_distances

GPKG = ROOT / "scenarios" / "examples" / "helsinki" / "helsinki.gpkg"


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return np.column_stack([gdf.geometry.representative_point().x, gdf.geometry.representative_point().y])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    layers = {name: gpd.read_file(GPKG, layer=name) for name in ("walk_edges", "demand", "candidate_sites")}
    t_build, net = timed(lambda: StreetNetwork.from_lines(layers["walk_edges"]), args.repeat)
    print(
        f"street network: {len(layers['walk_edges'])} lines -> {len(net.xy)} nodes, {len(net.u)} edges; "
        f"built in {t_build:.3f} s (median of {args.repeat})"
    )
    demand, sites = points(layers["demand"]), points(layers["candidate_sites"])
    rng = np.random.default_rng(0)
    lo, hi = net.xy.min(axis=0), net.xy.max(axis=0)
    loads = [
        ("example demand x sites", demand, sites, 1200.0),
        ("random 5,000 x 500", rng.uniform(lo, hi, (5000, 2)), rng.uniform(lo, hi, (500, 2)), 1200.0),
        ("random 20,000 x 2,000", rng.uniform(lo, hi, (20000, 2)), rng.uniform(lo, hi, (2000, 2)), 500.0),
    ]
    for label, dxy, sxy, cutoff in loads:
        seconds, nd = timed(
            lambda dxy=dxy, sxy=sxy, cutoff=cutoff: network_distances(net, dxy, sxy, cutoff, max_snap=300.0),
            args.repeat,
        )
        print(
            f"{label:24s} cutoff {cutoff:6.0f} m: {seconds:7.3f} s, {nd.distances.nnz:>10,} pairs stored, "
            f"{int(nd.unsnapped_demand.sum())} demand and {int(nd.unsnapped_sites.sum())} sites off the network"
        )


if __name__ == "__main__":
    main()
