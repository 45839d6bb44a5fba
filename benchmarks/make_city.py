"""Write a SYNTHETIC whole-city scenario (scenario.yaml + city.gpkg) for ``siting run`` at city scale.

Everything this script writes is invented. It imitates the *shape* of a mid-sized Chinese city of
Wuhai's size (about 560,000 residents along a river) so that the whole pipeline (layers, walking
distances, the joint four-service model, ranking, outputs) can be measured at the scale a city
bureau works at; no building, plot, street or facility in it exists. Every layer carries a
``synthetic`` column (always true), a layer description starting with ``SYNTHETIC`` and the layer
metadata ``synthetic=true``, and the scenario's name and description say so.

Run from the repository root::

    python benchmarks/make_city.py --residents 560000 --plots 2000 --seed 1 --out /tmp/city
    siting run /tmp/city/scenario.yaml --time-limit 300

How the city is made (metres, in the CGCS2000 3-degree Gauss-Krüger plane ``EPSG:4545``, central
meridian 108°E, the frame's south-west corner near Wuhai). All steps are vectorized numpy; one seeded
generator; the same arguments give the same files.

* **Size.** The street grid has about ``residents * 100,000 / 560,000`` nodes at a spacing of
  ``SPACING = 40 m`` (every street vertex is a node), on a frame 1.6 times as tall as it is wide
  (the city runs north-south along the river).
* **Streets.** A perturbed grid: node ``(i, j)`` sits at ``(i s, j s) + N(0, (0.12 s)^2)`` per
  axis; an edge joins each node to its east and north neighbour. Then, in this order: a river
  (``x_r(y) = W (0.3 + 0.04 sin(3 pi y / H))``, ``RIVER_WIDTH_M`` wide) removes every node inside
  it except on a few bridge rows (one every ~2.5 km, at least two), so the two banks meet only at
  the bridges; parks and rail yards (rectangles of 6-20 cells covering ~4 % of the frame) remove
  every node inside them; gated compounds (superblocks of 6-12 cells, ~10 % of the frame) remove
  their interior streets except one north-south footpath; and 6 % of the remaining edges are
  dropped at random (dead ends). Every 12th grid row and column is a ``primary`` arterial, the
  footpaths ``footway``, the rest ``residential``. Each edge is one straight LineString.
* **Buildings (demand).** One building footprint (10-28 m rectangle) in each of
  ``residents / 11.2`` grid cells, drawn without replacement (Gumbel top-k) with weight
  ``0.25 + sum_c share_c exp(-|x - centre_c|^2 / (2 sigma_c^2))`` over three urban cores (an old
  centre, a northern district and a southern one across the river), never in the river or a park.
  Residents are ``1 + Multinomial(residents - buildings, lognormal(0, 0.8) weights)``; the groups
  follow the Wuhai pilot (Inner Mongolia, 2020 census): ``elderly_60plus = round(r s_e)``,
  ``s_e ~ N(0.1978, 0.03)`` clipped to [0.10, 0.32]; ``infants_0_3 = round(r s_i)``,
  ``s_i ~ N(0.024, 0.006)`` clipped to [0.01, 0.04]; ``ev_households = round(r / 2.35 s_v)``,
  ``s_v ~ N(0.06, 0.015)`` clipped to [0.02, 0.12].
* **Candidate plots.** ``--plots`` rectangles in cells without a building: idle land 30 %, warehouses
  20 %, factories 15 %, commercial 20 %, demolition sites 15 %; commercial and demolition sites
  near the cores, warehouses and factories near the river and the frame's edge, idle land anywhere.
  Area log-uniform in the land type's range (as in the pilot, 100-3,000 m²).
* **Existing facilities.** About one per 400 buildings for toilets and fewer for the other
  services, at street-side points drawn by the same density.
* **Budget.** 240 yuan a resident in all (the pilot's 12 million for 50,000), a third for each of
  the phases 2022, 2023 and 2024, unspent money carried over.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from numpy.typing import NDArray

CRS = "EPSG:4545"  # CGCS2000 / 3-degree Gauss-Kruger CM 108E (Wuhai lies at about 106.8°E)
ORIGIN_LONLAT = (106.76, 39.40)  # south-west corner of the frame, near Wuhai (rounded)
FILE_NAME = "city.gpkg"
GPKG_DATE = "2022-01-01T00:00:00Z"  # pinned GeoPackage timestamp, for byte-stable output
LABEL = "SYNTHETIC data (invented, not surveyed) for the siting city-scale benchmark"
SPACING = 40.0  # metres between grid nodes
NODES_PER_RESIDENT = 100_000 / 560_000
RESIDENTS_PER_BUILDING = 11.2
ASPECT = 1.6  # frame height / width
RIVER_WIDTH_M = 150.0
BRIDGE_EVERY_M = 2_500.0
ARTERIAL_EVERY = 12
#: Three urban cores: (x, y) as fractions of the frame, sigma as a fraction of the width, share.
CORES = ((0.62, 0.55, 0.16, 0.45), (0.55, 0.85, 0.12, 0.30), (0.15, 0.20, 0.10, 0.25))
#: Land types: share of the plots and area range (m², log-uniform), as in the Wuhai pilot.
LAND_TYPES = {
    "idle_land": (0.30, 300.0, 3000.0),
    "warehouse": (0.20, 200.0, 2500.0),
    "factory": (0.15, 600.0, 3000.0),
    "commercial": (0.20, 100.0, 1200.0),
    "demolition_site": (0.15, 100.0, 1500.0),
}
#: Existing facilities per building, by service.
EXISTING_PER_BUILDING = {
    "elderly_care": 1 / 1500,
    "childcare": 1 / 2000,
    "ev_charging": 1 / 2500,
    "public_toilet": 1 / 400,
}
BUDGET_PER_RESIDENT = 240.0
MIN_BUDGET = 4_800_000.0
PHASES = ("2022", "2023", "2024")

SCENARIO_YAML = """\
# SYNTHETIC DATA. A whole city of about {residents:,} residents for the siting city-scale benchmark.
# Every building, plot, facility and street in {file} is INVENTED by benchmarks/make_city.py
# (seed {seed}); costs are illustrative, in yuan (CNY). Only the shape follows a real city.
# Regenerate: python benchmarks/make_city.py --residents {residents} --plots {plots} --seed {seed} --out DIR

name: synthetic_city_{residents}_{plots}_s{seed}
description: >-
  SYNTHETIC city (invented data, not a survey): {residents:,} residents in {buildings:,} buildings,
  {nodes:,} street nodes with a river crossed by {bridges} bridges, gated compounds and parks,
  {plots:,} candidate plots of five land types, {existing} existing facilities, four services and a
  2022-2024 budget of {budget:,.0f} yuan.
crs: {crs}

layers:
  demand:
    path: {file}
    layer: buildings
    id: building_id
    groups:
      residents: residents
      elderly_60plus: elderly_60plus
      infants_0_3: infants_0_3
      ev_households: ev_households
  sites:
    path: {file}
    layer: candidate_sites
    id: site_id
    land_type: land_type
    area: area_m2
  existing:
    path: {file}
    layer: facilities
    id: facility_id
    service: service
  streets:
    path: {file}
    layer: streets

distance:
  method: network
  walking_speed_kmh: 4.0
  max_snap_m: 250

services:
  elderly_care:
    demand_group: elderly_60plus
    reach_minutes: 15
    cost_by_land_type: {{warehouse: 800000, factory: 900000, commercial: 1200000, idle_land: 1500000, demolition_site: 1600000}}
    min_area_m2: 300
    area_m2: 300
    weight: 1
  childcare:
    demand_group: infants_0_3
    reach_minutes: 10
    cost_by_land_type: {{warehouse: 600000, factory: 700000, commercial: 800000, idle_land: 1000000, demolition_site: 1100000}}
    min_area_m2: 200
    area_m2: 200
    weight: 8
  ev_charging:
    demand_group: ev_households
    reach_minutes: 10
    cost_by_land_type: {{idle_land: 300000, demolition_site: 350000, commercial: 250000, warehouse: 400000, factory: 380000}}
    min_area_m2: 150
    area_m2: 150
    weight: 8
  public_toilet:
    demand_group: residents
    reach_minutes: 5
    cost_by_land_type: {{commercial: 150000, warehouse: 250000, factory: 280000, idle_land: 300000, demolition_site: 320000}}
    min_area_m2: 50
    area_m2: 50
    weight: 0.2

budget:
  total: {budget:.0f}
  phases: {{{phases}}}
  carry_over: true

objective: max_coverage

solver:
  name: highs
  time_limit: 300

output:
  folder: out
  lang: en
"""


def _gumbel_top(rng: np.random.Generator, weight: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """k distinct indices drawn with probability proportional to ``weight`` (Gumbel top-k), sorted."""
    ok = np.flatnonzero(weight > 0)
    if k > ok.size:
        raise SystemExit(f"error: the frame has room for {ok.size} of the {k} features asked for; ask for fewer")
    keys = np.log(weight[ok]) + rng.gumbel(size=ok.size)
    return np.sort(ok[np.argpartition(-keys, k - 1)[:k]]) if k else np.zeros(0, np.int64)


def _rectangles(cx: NDArray[np.float64], cy: NDArray[np.float64], w: NDArray[np.float64], h: NDArray[np.float64]):
    """Axis-parallel rectangle polygons (vectorized)."""
    xs = np.stack([cx - w / 2, cx + w / 2, cx + w / 2, cx - w / 2, cx - w / 2], axis=1)
    ys = np.stack([cy - h / 2, cy - h / 2, cy + h / 2, cy + h / 2, cy - h / 2], axis=1)
    return shapely.polygons(np.stack([np.round(xs, 2), np.round(ys, 2)], axis=2))


def _boxes(rng: np.random.Generator, nx: int, ny: int, count: int, lo: int, hi: int) -> NDArray[np.bool_]:
    """Mask (ny, nx) of ``count`` random axis-parallel boxes of lo-hi cells a side."""
    mask = np.zeros((ny, nx), dtype=bool)
    w = rng.integers(lo, hi + 1, count)
    h = rng.integers(lo, hi + 1, count)
    x0 = rng.integers(0, np.maximum(1, nx - w))
    y0 = rng.integers(0, np.maximum(1, ny - h))
    for a, b, ww, hh in zip(x0, y0, w, h):  # a few dozen boxes, each a slice
        mask[b : b + hh, a : a + ww] = True
    return mask


def make_city(residents: int, plots: int, seed: int, out: Path) -> dict[str, int]:
    """Write ``out/city.gpkg`` and ``out/scenario.yaml``; return the feature counts."""
    if residents < 1000:
        raise SystemExit("error: --residents must be at least 1000 (a few hundred buildings); e.g. --residents 3000")
    if plots < 5:
        raise SystemExit("error: --plots must be at least 5 (one of each land type)")
    rng = np.random.default_rng(seed)
    s = SPACING
    n_nodes = max(2000.0, residents * NODES_PER_RESIDENT)  # a small city keeps room for its plots
    nx = round(math.sqrt(n_nodes / ASPECT))  # nodes per row
    ny = round(nx * ASPECT)
    width, height = (nx - 1) * s, (ny - 1) * s
    x0, y0 = pyproj.Transformer.from_crs("EPSG:4490", CRS, always_xy=True).transform(*ORIGIN_LONLAT)
    x0, y0 = float(round(x0, -2)), float(round(y0, -2))

    # ------------------------------------------------------------------ nodes
    gx, gy = np.meshgrid(np.arange(nx) * s, np.arange(ny) * s)  # (ny, nx)
    jitter = np.clip(rng.normal(0.0, 0.12 * s, (2, ny, nx)), -0.3 * s, 0.3 * s)
    px, py = gx + jitter[0], gy + jitter[1]
    river_x = width * (0.3 + 0.04 * np.sin(3 * math.pi * gy / max(height, 1.0)))
    half_river = max(RIVER_WIDTH_M, 1.5 * s) / 2
    n_bridges = max(2, int(height // BRIDGE_EVERY_M))
    bridge_rows = np.unique(np.round((np.arange(n_bridges) + 0.5) * (ny - 1) / n_bridges).astype(int))
    on_bridge = np.zeros((ny, nx), dtype=bool)
    on_bridge[bridge_rows, :] = True
    in_river = np.abs(gx - river_x) < half_river
    parks = _boxes(rng, nx, ny, max(1, int(0.04 * nx * ny / 169)), 6, min(20, max(6, nx // 4))) & ~on_bridge
    alive = ~(in_river & ~on_bridge) & ~parks
    # gated compounds: interior nodes lose their streets except the middle north-south footpath
    compound = np.zeros((ny, nx), dtype=bool)
    footpath = np.zeros((ny, nx), dtype=bool)
    n_comp = max(1, int(0.10 * nx * ny / 81))
    cw = rng.integers(6, 13, n_comp)
    ch = rng.integers(6, 13, n_comp)
    cx0 = rng.integers(0, np.maximum(1, nx - cw))
    cy0 = rng.integers(0, np.maximum(1, ny - ch))
    for a, b, ww, hh in zip(cx0, cy0, cw, ch):  # a few hundred boxes, each a slice
        compound[b + 1 : b + hh, a + 1 : a + ww] = True
        footpath[b : b + hh + 1, a + ww // 2] = True
    compound &= ~footpath

    node_id = np.arange(nx * ny).reshape(ny, nx)
    # edges east (i, j) - (i + 1, j) and north (i, j) - (i, j + 1)
    eu = np.concatenate([node_id[:, :-1].ravel(), node_id[:-1, :].ravel()])
    ev = np.concatenate([node_id[:, 1:].ravel(), node_id[1:, :].ravel()])
    is_east = np.zeros(eu.size, dtype=bool)
    is_east[: ny * (nx - 1)] = True
    a_flat, c_flat, f_flat = alive.ravel(), compound.ravel(), footpath.ravel()
    keep = a_flat[eu] & a_flat[ev]
    keep &= ~(c_flat[eu] | c_flat[ev])  # no street into a compound's interior
    crosses = np.sign(px.ravel()[eu] - river_x.ravel()[eu]) != np.sign(px.ravel()[ev] - river_x.ravel()[ev])
    bridge_flat = on_bridge.ravel()
    keep &= ~crosses | (bridge_flat[eu] & bridge_flat[ev] & is_east)
    keep &= rng.random(eu.size) >= 0.06
    eu, ev, is_east = eu[keep], ev[keep], is_east[keep]
    row_u, col_u = np.divmod(eu, nx)
    arterial = np.where(is_east, row_u % ARTERIAL_EVERY == 0, col_u % ARTERIAL_EVERY == 0)
    highway = np.where(arterial, "primary", "residential").astype(object)
    highway[f_flat[eu] & f_flat[ev] & ~is_east] = "footway"
    highway[bridge_flat[eu] & (np.abs(gx.ravel()[eu] - river_x.ravel()[eu]) < half_river + s)] = "primary"
    xy = np.column_stack([px.ravel() + x0, py.ravel() + y0])
    seg = np.stack([xy[eu], xy[ev]], axis=1)
    streets = gpd.GeoDataFrame(
        {
            "street_id": np.char.add("E", np.arange(1, eu.size + 1).astype(str)),
            "highway": highway,
            "geometry": shapely.linestrings(np.round(seg, 2)),
        },
        crs=CRS,
    )

    # ------------------------------------------------------------------ cells and density
    ccx = (gx[:-1, :-1] + gx[1:, 1:]) / 2
    ccy = (gy[:-1, :-1] + gy[1:, 1:]) / 2
    cell_alive = alive[:-1, :-1] & alive[1:, 1:] & alive[:-1, 1:] & alive[1:, :-1]
    cell_river = np.abs(ccx - width * (0.3 + 0.04 * np.sin(3 * math.pi * ccy / max(height, 1.0)))) < half_river + s
    density = np.full(ccx.shape, 0.25)
    for fx, fy, sig, share in CORES:
        sigma = sig * width
        density += share * np.exp(-((ccx - fx * width) ** 2 + (ccy - fy * height) ** 2) / (2 * sigma**2)) / 0.45
    land = (cell_alive & ~cell_river).ravel()
    dens = density.ravel()

    # ------------------------------------------------------------------ buildings
    n_build = round(residents / RESIDENTS_PER_BUILDING)
    cells_b = _gumbel_top(rng, np.where(land, dens, 0.0), n_build)
    bw = rng.uniform(10.0, s - 12.0, n_build)
    bh = rng.uniform(10.0, s - 12.0, n_build)
    bx = ccx.ravel()[cells_b] + x0 + rng.uniform(-1, 1, n_build) * (s - bw) / 2 * 0.3
    by = ccy.ravel()[cells_b] + y0 + rng.uniform(-1, 1, n_build) * (s - bh) / 2 * 0.3
    size = rng.lognormal(0.0, 0.8, n_build)
    people = 1 + rng.multinomial(residents - n_build, size / size.sum())
    s_e = np.clip(rng.normal(0.1978, 0.03, n_build), 0.10, 0.32)
    s_i = np.clip(rng.normal(0.024, 0.006, n_build), 0.01, 0.04)
    s_v = np.clip(rng.normal(0.06, 0.015, n_build), 0.02, 0.12)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": np.char.add("B", np.arange(1, n_build + 1).astype(str)),
            "residents": people.astype(np.int64),
            "elderly_60plus": np.rint(people * s_e).astype(np.int64),
            "infants_0_3": np.rint(people * s_i).astype(np.int64),
            "ev_households": np.rint(people / 2.35 * s_v).astype(np.int64),
            "geometry": _rectangles(bx, by, bw, bh),
        },
        crs=CRS,
    )

    # ------------------------------------------------------------------ candidate plots
    free = land.copy()
    free[cells_b] = False
    edge_dist = np.minimum.reduce([ccx, width - ccx, ccy, height - ccy]).ravel()
    river_dist = np.abs(ccx - width * 0.3).ravel()
    periphery = np.exp(-edge_dist / 1000.0) + np.exp(-river_dist / 600.0)
    weights = {
        "idle_land": np.ones_like(dens),
        "warehouse": periphery,
        "factory": periphery / (0.2 + dens),
        "commercial": dens**2,
        "demolition_site": dens**3,
    }
    shares = np.array([v[0] for v in LAND_TYPES.values()])
    counts = np.floor(shares * plots).astype(int)
    counts[0] += plots - counts.sum()
    frames = []
    for (land_type, (_, lo, hi)), k in zip(LAND_TYPES.items(), counts):
        cells = _gumbel_top(rng, np.where(free, weights[land_type], 0.0), int(k))
        free[cells] = False
        area = np.exp(rng.uniform(math.log(lo), math.log(hi), cells.size))
        aspect = rng.uniform(1.0, 2.0, cells.size)
        w, h = np.sqrt(area * aspect), np.sqrt(area / aspect)
        flip = rng.random(cells.size) < 0.5
        w, h = np.where(flip, h, w), np.where(flip, w, h)
        frames.append(
            pd.DataFrame(
                {
                    "cell": cells,
                    "land_type": land_type,
                    "area_m2": np.round(w * h, 1),
                    "geometry": _rectangles(ccx.ravel()[cells] + x0, ccy.ravel()[cells] + y0, w, h),
                }
            )
        )
    sites_df = pd.concat(frames, ignore_index=True).sort_values("cell", kind="stable").drop(columns="cell")
    sites_df.insert(0, "site_id", np.char.add("P", np.arange(1, plots + 1).astype(str)))
    sites = gpd.GeoDataFrame(sites_df, geometry="geometry", crs=CRS)

    # ------------------------------------------------------------------ existing facilities
    ex_rows = []
    for service, per in EXISTING_PER_BUILDING.items():
        k = max(1, round(n_build * per))
        cells = _gumbel_top(rng, np.where(free, dens, 0.0), k)
        free[cells] = False
        ex_rows.append(
            pd.DataFrame(
                {
                    "service": service,
                    "x": ccx.ravel()[cells] + x0 + s / 2 - 8.0,  # beside the cell's east street
                    "y": ccy.ravel()[cells] + y0,
                }
            )
        )
    ex = pd.concat(ex_rows, ignore_index=True)
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": np.char.add("F", np.arange(1, len(ex) + 1).astype(str)),
            "service": ex["service"].to_numpy(),
            "geometry": shapely.points(np.round(ex[["x", "y"]].to_numpy(), 2)),
        },
        crs=CRS,
    )

    # ------------------------------------------------------------------ write
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAME
    if path.exists():
        path.unlink()
    layers = {"buildings": buildings, "candidate_sites": sites, "facilities": facilities, "streets": streets}
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        for name, frame in layers.items():
            frame.insert(len(frame.columns) - 1, "synthetic", True)
            pyogrio.write_dataframe(
                frame,
                path,
                layer=name,
                driver="GPKG",
                layer_options={"DESCRIPTION": f"{LABEL}: {name}"},
                metadata={"synthetic": "true", "generator": "benchmarks/make_city.py", "seed": str(seed)},
            )
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    budget = max(round(residents * BUDGET_PER_RESIDENT, -5), MIN_BUDGET)  # a small city still builds one of each
    phase = budget / len(PHASES)
    (out / "scenario.yaml").write_text(
        SCENARIO_YAML.format(
            residents=residents,
            plots=plots,
            seed=seed,
            file=FILE_NAME,
            buildings=n_build,
            nodes=int(alive.sum()),
            bridges=len(bridge_rows),
            existing=len(facilities),
            budget=budget,
            crs=CRS,
            phases=", ".join(f'"{p}": {phase:.0f}' for p in PHASES),
        ),
        encoding="utf-8",
    )
    return {
        "buildings": n_build,
        "residents": int(people.sum()),
        "candidate_sites": plots,
        "facilities": len(facilities),
        "street_edges": int(eu.size),
        "street_nodes": int(np.unique(np.concatenate([eu, ev])).size),
        "bridges": len(bridge_rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a SYNTHETIC whole-city scenario (scenario.yaml + city.gpkg).")
    parser.add_argument("--residents", type=int, default=560_000, help="residents in all (default 560,000)")
    parser.add_argument("--plots", type=int, default=2_000, help="candidate plots (default 2,000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    counts = make_city(args.residents, args.plots, args.seed, args.out)
    print(f"wrote {args.out / 'scenario.yaml'} and {args.out / FILE_NAME} in {time.perf_counter() - t0:.1f} s")
    for key, value in counts.items():
        print(f"  {key}: {value:,}")


if __name__ == "__main__":
    main()
