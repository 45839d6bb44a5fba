"""Rebuild the tiny synthetic test scenario in ``tiny/`` (seeded; run from anywhere).

A made-up neighbourhood of 6 x 6 residential blocks (120 m apart) near Wuhai, Inner Mongolia, with
a street grid between the blocks, 14 candidate plots of several land types and 3 existing
facilities. The layers deliberately mix formats and CRSs, as real inputs do:

* ``demand.csv``: block centres as lon/lat (WGS 84), columns ``block_id, lon, lat, residents,
  age_60_plus, age_0_3``;
* ``sites.gpkg``: layer ``candidate_sites`` (polygons, CGCS2000 EPSG:4490) with ``site_id, land_type,
  cost`` (cost empty except one override), plus a second layer ``notes`` so the layer name is required;
* ``existing.geojson``: existing facilities (points, WGS 84) with ``fid, service``;
* ``streets.gpkg``: layer ``streets``, the street grid as lines in UTM 48N (EPSG:32648).

Synthetic data: no real place or person is described.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, box

HERE = Path(__file__).resolve().parent / "tiny"
UTM = "EPSG:32648"
X0, Y0 = 660_000.0, 4_392_000.0  # about 106.86 E, 39.66 N
STEP = 120.0
N = 6


def main() -> None:
    rng = np.random.default_rng(20240601)
    HERE.mkdir(exist_ok=True)

    # demand: block centres
    cx, cy = np.meshgrid(X0 + STEP / 2 + STEP * np.arange(N), Y0 + STEP / 2 + STEP * np.arange(N))
    residents = rng.integers(150, 900, size=N * N)
    elderly = np.round(residents * rng.uniform(0.12, 0.3, size=N * N)).astype(int)
    infants = np.round(residents * rng.uniform(0.01, 0.05, size=N * N)).astype(int)
    pts = gpd.GeoSeries([Point(x, y) for x, y in zip(cx.ravel(), cy.ravel())], crs=UTM).to_crs(4326)
    demand = pd.DataFrame(
        {
            "block_id": [f"b{k + 1:02d}" for k in range(N * N)],
            "lon": np.round(pts.x, 7),
            "lat": np.round(pts.y, 7),
            "residents": residents,
            "age_60_plus": elderly,
            "age_0_3": infants,
        }
    )
    demand.to_csv(HERE / "demand.csv", index=False)

    # candidate sites: squares of several sizes placed on street corners and block edges
    kinds = ["idle_land", "warehouse", "factory", "commercial", "demolition_site"]
    rows = []
    for k in range(14):
        gx, gy = rng.integers(0, N + 1, size=2)
        x = X0 + gx * STEP + rng.uniform(-25, 25)
        y = Y0 + gy * STEP + rng.uniform(-25, 25)
        side = float(rng.choice([8.0, 12.0, 18.0, 25.0]))
        rows.append(
            {
                "site_id": f"s{k + 1:02d}",
                "land_type": kinds[k % len(kinds)],
                "cost": np.nan,
                "geometry": box(x - side / 2, y - side / 2, x + side / 2, y + side / 2),
            }
        )
    rows[3]["cost"] = 90_000.0  # a negotiated price overrides the cost by land type
    sites = gpd.GeoDataFrame(rows, crs=UTM).to_crs("EPSG:4490")
    sites.to_file(HERE / "sites.gpkg", layer="candidate_sites", driver="GPKG")
    notes = gpd.GeoDataFrame({"note": ["survey 2023"]}, geometry=[box(X0, Y0, X0 + N * STEP, Y0 + N * STEP)], crs=UTM)
    notes.to_crs("EPSG:4490").to_file(HERE / "sites.gpkg", layer="notes", driver="GPKG")

    # existing facilities
    existing = gpd.GeoDataFrame(
        {
            "fid": ["e1", "e2", "e3"],
            "service": ["public_toilet", "public_toilet", "elderly_care"],
        },
        geometry=[Point(X0 + 5, Y0 + 2), Point(X0 + 4 * STEP + 3, Y0 + 5 * STEP - 4), Point(X0 + 6 * STEP, Y0 + 3)],
        crs=UTM,
    ).to_crs(4326)
    existing.to_file(HERE / "existing.geojson", driver="GeoJSON")

    # streets: the grid between the blocks, one line per street segment between crossings
    lines = []
    for k in range(N + 1):
        for s in range(N):
            lines.append(LineString([(X0 + k * STEP, Y0 + s * STEP), (X0 + k * STEP, Y0 + (s + 1) * STEP)]))
            lines.append(LineString([(X0 + s * STEP, Y0 + k * STEP), (X0 + (s + 1) * STEP, Y0 + k * STEP)]))
    streets = gpd.GeoDataFrame({"name": [f"street {i}" for i in range(len(lines))]}, geometry=lines, crs=UTM)
    streets.to_file(HERE / "streets.gpkg", layer="streets", driver="GPKG")


if __name__ == "__main__":
    main()
