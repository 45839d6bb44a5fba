"""Build demand.csv and sites.csv of the Helsinki city-centre example from the shared GeoPackage.

Run from the repository root (needs geopandas, which is not a runtime dependency of siting)::

    python scenarios/examples/helsinki_csv/make_csv.py [path/to/helsinki_centre.gpkg]

Demand: the 29 population-grid cells (250 m x 250 m, HSY 2021), one point per cell at its centroid,
weighted by ``inhabitants``. Sites: the 39 candidate sites ("idle land": surface car parks,
construction and railway land, sheds) at their centroids, cost 1 each, plus the 18 existing public
toilets (``facilities`` with category ``public_toilet``) as existing sites (existing = 1, cost 0).
Everything is projected to EPSG:3067 (ETRS89 / TM35FIN) metres and rounded to 0.1 m.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import geopandas as gpd

HERE = Path(__file__).resolve().parent
DEFAULT_GPKG = Path("/work/shared/data/helsinki_centre/helsinki_centre.gpkg")
CRS = "EPSG:3067"


def main(gpkg: Path) -> None:
    grid = gpd.read_file(gpkg, layer="population_grid").to_crs(CRS)
    cells = grid.geometry.centroid  # centroid in metres, after projecting
    demand = [
        {
            "id": "cell_" + str(gid).rsplit(".", 1)[-1],
            "x": round(pt.x, 1),
            "y": round(pt.y, 1),
            "weight": int(w),
        }
        for gid, pt, w in zip(grid["grid_id"], cells, grid["inhabitants"])
    ]

    cand = gpd.read_file(gpkg, layer="candidate_sites")
    # The layer's own centroids (computed before one polygon degenerated to zero area), projected.
    cand_pts = gpd.GeoSeries(gpd.points_from_xy(cand["centroid_lon"], cand["centroid_lat"]), crs="EPSG:4326").to_crs(
        CRS
    )
    sites = [
        {
            "id": f"{t}/{oid}",
            "x": round(pt.x, 1),
            "y": round(pt.y, 1),
            "cost": 1,
            "existing": 0,
            "kind": "candidate",
            "source_tag": tag,
            "area_m2": area,
        }
        for t, oid, pt, tag, area in zip(
            cand["osm_type"], cand["osm_id"], cand_pts, cand["source_tag"], cand["area_m2"]
        )
    ]
    fac = gpd.read_file(gpkg, layer="facilities")
    toilets = fac[fac["category"] == "public_toilet"].to_crs(CRS)
    sites += [
        {
            "id": f"{t}/{oid}",
            "x": round(pt.x, 1),
            "y": round(pt.y, 1),
            "cost": 0,
            "existing": 1,
            "kind": "public_toilet",
            "source_tag": "amenity=toilets",
            "area_m2": "",
        }
        for t, oid, pt in zip(toilets["osm_type"], toilets["osm_id"], toilets.geometry)
    ]
    for name, rows in (("demand.csv", demand), ("sites.csv", sites)):
        with (HERE / name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {HERE / name}: {len(rows)} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_GPKG)
