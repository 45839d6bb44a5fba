"""Build ``helsinki.gpkg`` of the Helsinki city-centre example from the shared GeoPackage.

Run from the repository root (needs geopandas and pyogrio)::

    python scenarios/examples/helsinki/make_data.py [path/to/helsinki_centre.gpkg]

What it writes (every layer in EPSG:3067, ETRS89 / TM35FIN, metres):

``demand`` (points)
    Residents of the HSY 2021 population grid (250 m x 250 m cells), spread over the residential
    buildings inside each cell in proportion to their footprint area (dasymetric mapping):
    ``residents_b = inhabitants_cell * footprint_b / sum(footprint in the cell)``. A building counts
    as residential when its ``building`` tag is one of ``RESIDENTIAL_TAGS`` and it has no
    ``amenity`` tag (universities, churches, theatres, ... are left out); it belongs to the cell that
    holds its representative point. A cell whose residential footprint is below
    ``MIN_FOOTPRINT_M2`` (the OSM building layer is incomplete there) keeps all its inhabitants at
    its centroid. The derived groups are fixed shares of ``residents`` (``SHARES``, illustrative
    assumptions, see README.md).
``population_grid`` (polygons)
    The 29 grid cells with the same demand-group columns (used by the ``grid_cells`` override).
``candidate_sites`` (polygons)
    The OSM candidate sites with a ``land_type`` column mapped from ``source_tag``
    (``LAND_TYPES``); the two degenerate polygons of area 0 are dropped and one self-intersecting
    polygon is repaired with ``make_valid``.
``facilities`` (points)
    Existing public toilets, EV charging stations and the childcare point (``category``).
``walk_edges`` (lines)
    The walking network's largest connected component (``in_lcc``), with a few descriptive columns.
``water``, ``green`` (polygons)
    The map's background, from the OpenStreetMap extract the shared GeoPackage was built from
    (``helsinki_centre.osm.pbf`` beside it) by siting's own ``siting prepare osm`` rules
    (:mod:`siting.scenarios.geodata.osm_background`): lakes, basins and the harbour's sea cut along the
    coastline; parks, grass, woods. Clipped to the extent of the walking network.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/work/shared/data/helsinki_centre/helsinki_centre.gpkg")
OUT = HERE / "helsinki.gpkg"
CRS = "EPSG:3067"

#: OSM ``building`` values that may hold homes (``yes`` is most of the centre's apartment blocks).
RESIDENTIAL_TAGS = ("yes", "apartments", "residential", "block", "house", "terrace", "detached")
#: Below this much residential footprint in a cell, its inhabitants stay at the cell centroid.
MIN_FOOTPRINT_M2 = 1000.0
#: Demand groups as shares of residents (illustrative assumptions, documented in README.md).
SHARES = {
    "elderly_60plus": 0.22,  # Helsinki: 16.9 % aged 65+ (start of 2018) plus ~5 points for ages 60-64
    "infants_0_3": 0.03,  # children under 3, about three birth cohorts of ~6,000 in a city of ~650,000
    "ev_households": 0.042,  # 1 household per 1.9 residents x 8 % of households with a plug-in car
}
#: OSM source tag -> land type of the scenario.
LAND_TYPES = {
    "amenity=parking": "parking_lot",
    "landuse=construction": "demolition_site",
    "landuse=railway": "idle_land",
    "building=shed": "warehouse",
}
#: Facility categories kept as existing facilities.
FACILITY_CATEGORIES = ("public_toilet", "ev_charging", "childcare")


def _groups(residents: pd.Series) -> pd.DataFrame:
    """Demand-group columns: residents and the shares of ``SHARES``, rounded to 0.01 person."""
    out = pd.DataFrame({"residents": residents.round(2)})
    for name, share in SHARES.items():
        out[name] = (residents * share).round(2)
    return out


def build_demand(grid: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Spread each cell's inhabitants over its residential buildings by footprint area."""
    res = buildings[buildings["building"].isin(RESIDENTIAL_TAGS) & buildings["amenity"].isna()].copy()
    res["footprint"] = res.geometry.area
    pts = res.set_geometry(res.geometry.representative_point())
    joined = gpd.sjoin(
        pts[["osm_id", "osm_type", "footprint", "geometry"]],
        grid[["grid_id", "inhabitants", "geometry"]],
        predicate="within",
    )
    cell_fp = joined.groupby("grid_id")["footprint"].sum()
    dense = cell_fp[cell_fp >= MIN_FOOTPRINT_M2].index
    in_dense = joined[joined["grid_id"].isin(dense)].copy()
    in_dense["residents"] = in_dense["inhabitants"] * in_dense["footprint"] / in_dense["grid_id"].map(cell_fp)
    in_dense = in_dense[in_dense["residents"].round(2) > 0]  # drops buildings with < 0.005 residents
    b = gpd.GeoDataFrame(
        {
            "demand_id": in_dense["osm_type"] + "/" + in_dense["osm_id"].astype(str),
            "source": "building",
            "grid_id": in_dense["grid_id"].to_numpy(),
            "footprint_m2": in_dense["footprint"].round(1).to_numpy(),
        },
        geometry=in_dense.geometry.to_numpy(),
        crs=grid.crs,
    )
    b = pd.concat([b.reset_index(drop=True), _groups(in_dense["residents"]).reset_index(drop=True)], axis=1)
    sparse = grid[~grid["grid_id"].isin(dense) & (grid["inhabitants"] > 0)]
    c = gpd.GeoDataFrame(
        {
            "demand_id": "cell/" + sparse["grid_id"].str.rsplit(".", n=1).str[-1],
            "source": "grid_cell",
            "grid_id": sparse["grid_id"].to_numpy(),
            "footprint_m2": np.nan,
        },
        geometry=sparse.geometry.centroid.to_numpy(),
        crs=grid.crs,
    )
    c = pd.concat(
        [c.reset_index(drop=True), _groups(sparse["inhabitants"].astype(float)).reset_index(drop=True)], axis=1
    )
    demand = gpd.GeoDataFrame(pd.concat([b, c], ignore_index=True), crs=grid.crs)
    return demand.sort_values("demand_id", kind="stable").reset_index(drop=True)


def build_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Candidate sites with ``site_id`` and ``land_type``; drops zero-area and repairs invalid polygons."""
    unknown = sorted(set(sites["source_tag"]) - set(LAND_TYPES))
    if unknown:
        raise SystemExit(f"candidate_sites: no land type for source_tag {unknown}; add them to LAND_TYPES")
    s = sites[sites.geometry.area > 1.0].copy()
    s["geometry"] = shapely.make_valid(s.geometry.to_numpy())
    s["geometry"] = [g if g.geom_type == "Polygon" else max(g.geoms, key=lambda p: p.area) for g in s.geometry]
    out = gpd.GeoDataFrame(
        {
            "site_id": s["osm_type"] + "/" + s["osm_id"].astype(str),
            "land_type": s["source_tag"].map(LAND_TYPES),
            "source_tag": s["source_tag"],
            "name": s["name"],
            "area_m2": s.geometry.area.round(1),
        },
        geometry=s.geometry,
        crs=sites.crs,
    )
    return out.sort_values("site_id").reset_index(drop=True)


def build_background(source: Path, edges: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """``water`` and ``green`` areas from the .osm.pbf beside ``source``, within the walking network's extent."""
    import warnings

    import pyrosm

    from siting.scenarios.geodata.osm_background import background_layers

    pbf = source.with_suffix(".osm.pbf")
    box = tuple(float(v) for v in edges.to_crs(4326).total_bounds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(str(pbf), bounding_box=list(box))
        layers = background_layers(osm, pyproj.CRS(CRS), box)  # type: ignore[arg-type]
    return {k: v.sort_values("id").reset_index(drop=True) for k, v in layers.items()}


def main(source: Path) -> None:
    grid = gpd.read_file(source, layer="population_grid").to_crs(CRS)
    buildings = gpd.read_file(source, layer="buildings").to_crs(CRS)
    sites = gpd.read_file(source, layer="candidate_sites").to_crs(CRS)
    fac = gpd.read_file(source, layer="facilities").to_crs(CRS)
    edges = gpd.read_file(source, layer="walk_edges").to_crs(CRS)

    demand = build_demand(grid, buildings)
    total = grid["inhabitants"].sum()
    assert abs(demand["residents"].sum() - total) < 0.5 + 0.01 * len(demand), (demand["residents"].sum(), total)

    cells = gpd.GeoDataFrame(
        {"grid_id": grid["grid_id"], "occupancy_rate": grid["occupancy_rate"]}, geometry=grid.geometry, crs=CRS
    )
    cells = pd.concat([cells, _groups(grid["inhabitants"].astype(float))], axis=1)

    f = fac[fac["category"].isin(FACILITY_CATEGORIES)]
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": f["osm_type"] + "/" + f["osm_id"].astype(str),
            "category": f["category"],
            "amenity": f["amenity"],
            "name": f["name"],
            "operator": f["operator"],
        },
        geometry=f.geometry,
        crs=CRS,
    ).sort_values("facility_id")

    e = edges[edges["in_lcc"].astype(bool)]
    streets = gpd.GeoDataFrame(
        e[["osm_way_id", "u", "v", "highway", "name"]].assign(length_m=e.geometry.length.round(2)),
        geometry=e.geometry.to_numpy(),
        crs=CRS,
    )

    if OUT.exists():
        OUT.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})  # reproducible file
    for name, layer in [
        ("demand", demand),
        ("population_grid", cells),
        ("candidate_sites", build_sites(sites)),
        ("facilities", facilities),
        ("walk_edges", streets),
        *build_background(source, edges).items(),
    ]:
        layer.to_file(OUT, layer=name, driver="GPKG", engine="pyogrio")
        print(f"{name}: {len(layer)} features")
    print(f"{OUT}: {OUT.stat().st_size / 1e6:.2f} MB, residents {demand['residents'].sum():.0f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
