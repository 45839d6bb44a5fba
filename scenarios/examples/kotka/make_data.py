"""Build ``kotka.gpkg`` of the Kotka (Karhula) example from the shared GeoPackage.

Run from the repository root (needs geopandas and pyogrio)::

    python scenarios/examples/kotka/make_data.py [path/to/kotka_karhula.gpkg]

Layers (kept in EPSG:4326 as in the source; the scenario lets siting project them to the UTM zone):

``demand`` (points, one per residential building)
    Buildings tagged ``building`` = residential, terrace, apartments or house, at their
    representative point. There is no head count in the data, so residents are estimated::

        residents = max(1, round(footprint_m2 * levels / FLOOR_AREA_PER_RESIDENT_M2))

    with ``levels`` = the ``building:levels`` tag where present, else ``DEFAULT_LEVELS``, and the
    derived groups as fixed shares of residents (``SHARES``). All of these are documented,
    illustrative assumptions (README.md).
``candidate_sites`` (polygons)
    The OSM candidate sites with ``land_type`` mapped from ``source_tag`` (``LAND_TYPES``);
    invalid polygons are repaired with ``make_valid``.
``facilities`` (points)
    The two existing childcare facilities (kindergarten "Otsonkallio", "Malmingin päiväkoti").
``walk_edges`` (lines)
    The walking network's largest connected component (``in_lcc``).
``green`` (polygons)
    The map's background: parks, woods, meadows and grass from the OpenStreetMap extract the shared
    GeoPackage was built from (``kotka_karhula.osm.pbf`` beside it), by siting's own ``siting prepare
    osm`` rules (:mod:`siting.scenarios.geodata.osm_background`), clipped to the walking network's
    extent. The extract has no water areas, so there is no ``water`` layer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/work/shared/data/kotka_karhula/kotka_karhula.gpkg")
OUT = HERE / "kotka.gpkg"
METRIC = "EPSG:32635"  # UTM 35N, only to measure footprints here

RESIDENTIAL_TAGS = ("residential", "terrace", "apartments", "house")
FLOOR_AREA_PER_RESIDENT_M2 = 40.0  # Finnish dwellings: roughly 40 m² of floor area per resident
DEFAULT_LEVELS = 1.0  # Karhula's residential buildings are mostly one-storey detached houses
SHARES = {
    "elderly_60plus": 0.33,  # Kotka is older than Finland on average; illustrative
    "children_0_6": 0.06,  # day-care age (Finnish päiväkoti: 1-6 years); illustrative
    "ev_households": 0.03,  # 1 household per 2 residents x 6 % with a plug-in car; illustrative
}
LAND_TYPES = {
    "building=industrial": "factory",
    "landuse=industrial": "idle_land",
    "amenity=parking": "parking_lot",
    "building=garages": "warehouse",
}


def build_demand(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One demand point per residential building with estimated residents and derived groups."""
    b = buildings[buildings["building"].isin(RESIDENTIAL_TAGS)].copy()
    footprint = b.to_crs(METRIC).geometry.area
    levels = pd.to_numeric(b["building:levels"], errors="coerce").fillna(DEFAULT_LEVELS).clip(lower=1)
    residents = np.maximum(1, np.round(footprint * levels / FLOOR_AREA_PER_RESIDENT_M2))
    out = gpd.GeoDataFrame(
        {
            "demand_id": b["osm_type"] + "/" + b["osm_id"].astype(str),
            "building": b["building"],
            "footprint_m2": footprint.round(1),
            "levels": levels,
            "residents": residents.astype(float),
        },
        geometry=b.to_crs(METRIC).geometry.representative_point().to_crs(b.crs),
        crs=b.crs,
    )
    for name, share in SHARES.items():
        out[name] = (out["residents"] * share).round(2)
    return out.sort_values("demand_id").reset_index(drop=True)


def build_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Candidate sites with ``site_id`` and ``land_type``; invalid polygons repaired."""
    unknown = sorted(set(sites["source_tag"]) - set(LAND_TYPES))
    if unknown:
        raise SystemExit(f"candidate_sites: no land type for source_tag {unknown}; add them to LAND_TYPES")
    geoms = shapely.make_valid(sites.geometry.to_numpy())
    geoms = [
        g if g.geom_type == "Polygon" else max((p for p in g.geoms if p.geom_type == "Polygon"), key=lambda p: p.area)
        for g in geoms
    ]
    s = gpd.GeoDataFrame(
        {
            "site_id": sites["osm_type"] + "/" + sites["osm_id"].astype(str),
            "land_type": sites["source_tag"].map(LAND_TYPES),
            "source_tag": sites["source_tag"],
        },
        geometry=geoms,
        crs=sites.crs,
    )
    s["area_m2"] = s.to_crs(METRIC).geometry.area.round(1)
    return s.sort_values("site_id").reset_index(drop=True)


def build_background(source: Path, edges: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Water and green areas (those present) from the .osm.pbf beside ``source``, in EPSG:4326 like the rest."""
    import warnings

    import pyproj
    import pyrosm

    from siting.scenarios.geodata.osm_background import background_layers

    box = tuple(float(v) for v in edges.to_crs(4326).total_bounds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(str(source.with_suffix(".osm.pbf")), bounding_box=list(box))
        layers = background_layers(osm, pyproj.CRS("EPSG:32635"), box)  # type: ignore[arg-type]
    return {k: v.sort_values("id").reset_index(drop=True).to_crs(4326) for k, v in layers.items() if len(v)}


def main(source: Path) -> None:
    buildings = gpd.read_file(source, layer="buildings")
    sites = gpd.read_file(source, layer="candidate_sites")
    fac = gpd.read_file(source, layer="facilities")
    edges = gpd.read_file(source, layer="walk_edges")

    f = fac[fac["category"] == "childcare"]
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": f["osm_type"] + "/" + f["osm_id"].astype(str),
            "category": f["category"],
            "amenity": f["amenity"],
            "name": f["name"],
        },
        geometry=f.geometry,
        crs=fac.crs,
    ).sort_values("facility_id")
    e = edges[edges["in_lcc"].astype(bool)]
    streets = gpd.GeoDataFrame(
        e[["osm_way_id", "u", "v", "length_m", "highway", "name"]], geometry=e.geometry, crs=edges.crs
    )

    if OUT.exists():
        OUT.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00Z"})  # reproducible file
    demand = build_demand(buildings)
    for name, layer in [
        ("demand", demand),
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
