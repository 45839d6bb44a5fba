"""OpenStreetMap import: turn any .osm.pbf extract into the layers of a siting scenario.

:func:`prepare_osm` reads an extract with pyrosm and writes four GeoPackages and a README:

* ``streets.gpkg`` - the walkable ways (pyrosm's ``network_type="walking"``);
* ``demand.gpkg`` - residential buildings (footprints) with estimated ``residents``;
* ``sites.gpkg`` - candidate plots (idle / brownfield / industrial land, warehouses, factories,
  disused buildings, surface parking) with ``land_type`` and ``area_m2``;
* ``existing.gpkg`` - existing facilities (points) with their ``service``;
* ``water.gpkg``, ``green.gpkg`` - water (the sea too) and green areas for the map's background,
  when the extract has them (:mod:`.osm_background`).

It does not write ``scenario.yaml`` (that belongs to the scenario schema); it returns a
:class:`PreparedOsm` describing files, layer names, counts and the assumptions used, so a caller can
write one. All layers are in one local metric CRS (the UTM zone by default). OSM data is
© OpenStreetMap contributors, ODbL 1.0: the README written next to the layers says so.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyproj
import shapely

from siting.models.errors import DataError
from siting.scenarios.files import move_into_place, sha256_file, staged_files
from siting.scenarios.geodata.census import CENSUS_SHARES, check_shares
from siting.scenarios.geodata.coords import looks_swapped, utm_crs_for

__all__ = [
    "CENSUS_SHARES",
    "DEFAULT_FLOOR_AREA_PER_RESIDENT_M2",
    "DEFAULT_LEVELS",
    "FALLBACK_LEVELS",
    "LAND_TYPES",
    "METRES_PER_LEVEL",
    "MIN_TAGGED_FOR_MEDIAN",
    "MIN_UNTYPED_FOOTPRINT_M2",
    "OSM_ATTRIBUTION",
    "RESIDENTIAL_BUILDINGS",
    "SERVICES",
    "PreparedLayer",
    "PreparedOsm",
    "check_shares",
    "prepare_osm",
    "quiet_read",
    "read_walking_ways",
]

OSM_ATTRIBUTION = (
    "© OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright). "
    "These layers are a Derivative Database of OpenStreetMap: keep this attribution and share changes "
    "to the data under the ODbL."
)

#: Gross floor area per resident (m²) used to estimate residents: 1 resident per 40 m² of floor.
#: Sources: Finland about 41 m² of dwelling floor area per person (Statistics Finland, dwellings and
#: housing conditions 2022); China 41.76 m² of housing floor area per person (7th national census,
#: 2020). The project's Kotka example uses the same 40 m²; override it for your city.
DEFAULT_FLOOR_AREA_PER_RESIDENT_M2 = 40.0
#: An untyped ``building=yes`` with a smaller footprint (m²) is taken as an outbuilding (shed, sauna,
#: garage), not a dwelling: the Kotka extract has 982 of them, median footprint 37 m².
MIN_UNTYPED_FOOTPRINT_M2 = 50.0
#: With at least this many residential buildings tagged with levels (or height) in the extract, an
#: untagged one gets their median levels (its neighbours are the best guide); else the type default.
MIN_TAGGED_FOR_MEDIAN = 5
#: Levels assumed for a building whose ``building:levels`` and ``height`` are both missing, by type.
DEFAULT_LEVELS: dict[str, float] = {
    "apartments": 4.0,
    "residential": 3.0,
    "dormitory": 4.0,
    "terrace": 2.0,
    "house": 2.0,
    "detached": 2.0,
    "semidetached_house": 2.0,
    "farm": 2.0,
    "bungalow": 1.0,
    "cabin": 1.0,
    "static_caravan": 1.0,
    "houseboat": 1.0,
    "yes": 2.0,
}
#: Levels for a building type not in :data:`DEFAULT_LEVELS`.
FALLBACK_LEVELS = 2.0
#: Storey height (m) used to turn a ``height`` tag into levels: ``levels = max(1, round(height / 3))``.
METRES_PER_LEVEL = 3.0
#: ``building=*`` values taken as residential.
RESIDENTIAL_BUILDINGS = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "dormitory",
        "bungalow",
        "cabin",
        "farm",
        "static_caravan",
        "houseboat",
    }
)
#: Candidate land types and the OSM tags they come from (first match wins, in this order).
LAND_TYPES: dict[str, str] = {
    "disused_building": "building=ruins/abandoned/disused, disused:building=*, abandoned:building=*, "
    "or a building with disused/abandoned/vacant=yes",
    "warehouse": "building=warehouse",
    "factory": "building=industrial/factory/manufacture",
    "idle_land": "landuse=brownfield",
    "greenfield": "landuse=greenfield",
    "construction_site": "landuse=construction",
    "industrial_land": "landuse=industrial",
    "parking_lot": "amenity=parking (not parking=underground/rooftop)",
}
#: Existing-facility services and the OSM tags they come from.
SERVICES: dict[str, str] = {
    "public_toilet": "amenity=toilets",
    "elderly_care": "amenity=nursing_home; amenity=social_facility with social_facility=nursing_home/"
    "assisted_living or social_facility:for=senior/elderly",
    "childcare": "amenity=kindergarten/childcare; amenity=social_facility with social_facility=day_care "
    "and social_facility:for=child/children",
    "ev_charging": "amenity=charging_station",
}

_STREET_COLUMNS = ["id", "osm_id", "highway", "name", "footway", "sidewalk", "foot", "access", "surface", "length_m"]
_DEMAND_COLUMNS = [
    "id",
    "osm_id",
    "osm_type",
    "building",
    "name",
    "levels",
    "levels_source",
    "footprint_m2",
    "floor_area_m2",
    "residents",
]
_SITE_COLUMNS = ["id", "osm_id", "osm_type", "land_type", "source_tag", "name", "area_m2"]
_EXISTING_COLUMNS = ["id", "osm_id", "osm_type", "service", "source_tag", "name", "operator", "capacity"]
_NUMERIC = {"levels", "footprint_m2", "floor_area_m2", "residents", "area_m2", "length_m"}


@dataclass(frozen=True)
class PreparedLayer:
    """One written layer: file, layer name inside it, feature count, geometry type, columns."""

    path: Path
    layer: str
    count: int
    geometry_type: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class PreparedOsm:
    """What :func:`prepare_osm` wrote.

    Attributes
    ----------
    out_dir : Path
        The scenario folder.
    source : Path
        The .osm.pbf read.
    source_sha256 : str
        Its checksum, for provenance.
    bbox : (west, south, east, north) or None
        The box read, degrees.
    crs : str
        CRS of every layer (e.g. "EPSG:32635").
    streets, demand, sites, existing : PreparedLayer
        The four layers (files ``streets.gpkg``, ``demand.gpkg``, ``sites.gpkg``, ``existing.gpkg``;
        layer names ``streets``, ``demand``, ``sites``, ``existing``).
    readme : Path
        The README.md with attribution and assumptions.
    total_residents : float
        Sum of ``residents`` in the demand layer.
    land_type_counts, service_counts : dict
        Candidate sites per land type, existing facilities per service (every known one, zeros included).
    assumptions : dict
        The parameters of the resident estimate and the tag rules used.
    notes : tuple of str
        What was missing or skipped (e.g. "no elderly_care facilities in the extract").
    """

    out_dir: Path
    source: Path
    source_sha256: str
    bbox: tuple[float, float, float, float] | None
    crs: str
    streets: PreparedLayer
    demand: PreparedLayer
    sites: PreparedLayer
    existing: PreparedLayer
    readme: Path
    total_residents: float
    land_type_counts: dict[str, int] = field(default_factory=dict)
    service_counts: dict[str, int] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    #: ``water`` and ``green`` background layers, when the extract has them.
    background: dict[str, PreparedLayer] = field(default_factory=dict)

    @property
    def layers(self) -> dict[str, PreparedLayer]:
        """The four layers by role."""
        return {"streets": self.streets, "demand": self.demand, "sites": self.sites, "existing": self.existing}

    @property
    def counts(self) -> dict[str, int]:
        """Feature count per layer role."""
        return {k: v.count for k, v in self.layers.items()}


# ---------------------------------------------------------------------------- reading
def _check_bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    if bbox is None:
        return None
    try:
        vals = tuple(float(x) for x in bbox)
    except (TypeError, ValueError) as exc:
        raise DataError(f"bbox must be four numbers west,south,east,north in degrees, got {bbox!r}") from exc
    if len(vals) != 4 or not np.isfinite(vals).all():
        raise DataError(f"bbox must be four finite numbers west,south,east,north in degrees, got {bbox!r}")
    w, s, e, n = vals
    hint = ""
    if looks_swapped([w, e], [s, n]):
        hint = f" It looks like latitude and longitude are swapped: try {s},{w},{n},{e}."
    if not (-180.0 <= w < e <= 180.0 and -90.0 <= s < n <= 90.0):
        raise DataError(
            f"bbox {w},{s},{e},{n} is not west,south,east,north in degrees (need -180 <= west < east <= 180 "
            f"and -90 <= south < north <= 90).{hint}"
        )
    return (w, s, e, n)


def _open_osm(path: str | os.PathLike[str], bbox: tuple[float, float, float, float] | None) -> Any:
    from siting.scenarios.files import user_file

    p = Path(path)
    if not p.exists():
        raise DataError(f"OpenStreetMap extract {str(p)!r} does not exist: give the path of an .osm.pbf file")
    p = user_file(p, "OpenStreetMap extract")  # a folder, FIFO or device is refused, not read
    if not p.name.endswith(".pbf"):
        raise DataError(
            f"{str(p)!r} is not an .osm.pbf file: convert .osm XML with osmium (osmium cat in.osm -o out.osm.pbf)"
        )
    try:
        import pyrosm
    except ImportError as exc:  # pragma: no cover - pyrosm is a dependency
        raise DataError("reading OpenStreetMap needs pyrosm: pip install pyrosm") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pyrosm.OSM(str(p), bounding_box=list(bbox) if bbox is not None else None)
        except Exception as exc:  # noqa: BLE001 - pyrosm raises a variety of errors on corrupt input
            _clear_pyrosm_cache(p)
            raise DataError(f"cannot read OpenStreetMap extract {str(p)!r}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).rstrip(".")
    return text or type(exc).__name__


def _clear_pyrosm_cache(path: str | os.PathLike[str] | None) -> None:
    """Remove what pyrosm cached for ``path`` (and its cache folders when that leaves them empty).

    pyrosm keeps per-layer results under ``$TMPDIR/pyrosm/cache``; a read that failed half-way must
    not leave them behind.
    """
    try:
        from pyrosm.engine import cache
    except ImportError:  # pragma: no cover - older pyrosm without a result cache
        return
    try:
        if path is not None:
            cache.clear(os.fspath(path))
        folder = Path(tempfile.gettempdir()) / "pyrosm" / "cache"
        for d in (folder, folder.parent):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
    except OSError:  # another process may be using the cache: leave it
        pass


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a pyrosm reader with its warnings silenced; a damaged extract becomes one DataError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt blocks surface only when a layer is decoded
            path = getattr(getattr(fn, "__self__", None), "filepath", None)
            _clear_pyrosm_cache(path)
            raise DataError(
                f"cannot read OpenStreetMap extract {str(path or '')!r}: {_first_line(exc)}; the file is damaged or "
                "truncated: download it again (or check it with osmium fileinfo)"
            ) from None


#: :func:`_quiet` for the other OSM readers (:mod:`.osm_background`).
quiet_read = _quiet


def _local_crs(crs: Any, bounds: Sequence[float]) -> pyproj.CRS:
    if crs is not None:
        out = pyproj.CRS.from_user_input(crs)
        if not out.is_projected:
            raise DataError(
                f"crs {out.to_string()} is geographic: give a projected CRS in metres (or leave it out "
                "to use the UTM zone)"
            )
        return out
    w, s, e, n = bounds
    return utm_crs_for((w + e) / 2.0, (s + n) / 2.0)


def _ways_to_frame(ways: Any) -> Any:
    import geopandas as gpd

    if ways is None or len(ways) == 0:
        return gpd.GeoDataFrame({c: [] for c in _STREET_COLUMNS}, geometry=[], crs="EPSG:4326")
    ways = ways[~(ways.geometry.is_empty | ways.geometry.isna())]
    out = ways.reindex(columns=["id", "highway", "name", "footway", "sidewalk", "foot", "access", "surface"])
    out = out.rename(columns={"id": "osm_id"})
    out.insert(0, "id", "way/" + out["osm_id"].astype("int64").astype(str))
    return gpd.GeoDataFrame(out, geometry=ways.geometry.values, crs=ways.crs)


def read_walking_ways(
    path: str | os.PathLike[str],
    bbox: Sequence[float] | None = None,
    crs: Any = None,
) -> Any:
    """The walkable ways of an .osm.pbf extract as a GeoDataFrame in a metric CRS.

    Ways are pyrosm's ``network_type="walking"`` selection, projected to ``crs`` or by default to the
    UTM zone of the centre of their extent. Columns: ``id`` ("way/<osm id>"), ``osm_id``, ``highway``,
    ``name``, ``footway``, ``sidewalk``, ``foot``, ``access``, ``surface``, ``length_m`` (projected).

    Raises
    ------
    DataError
        Missing or unreadable file, a bad bbox, or no walkable way in the extract (or box).
    """
    box = _check_bbox(bbox)
    osm = _open_osm(path, box)
    return _read_ways(osm, path, box, crs)[0]


def _read_ways(osm: Any, path: Any, box: Any, crs: Any) -> tuple[Any, pyproj.CRS]:
    ways = _quiet(osm.get_network, network_type="walking")
    frame = _ways_to_frame(ways)
    if len(frame) == 0:
        where = f" inside bbox {box}" if box else ""
        raise DataError(
            f"OpenStreetMap extract {os.fspath(path)!r} has no walkable ways{where}: check the bbox "
            "(west,south,east,north in degrees) or use a larger extract"
        )
    target = _local_crs(crs, box if box is not None else frame.total_bounds)
    frame = frame.to_crs(target)
    frame["length_m"] = frame.geometry.length
    return frame, target


# ---------------------------------------------------------------------------- classification
def _col(df: Any, name: str) -> pd.Series:
    if name in df.columns:
        return df[name].astype(object).where(df[name].notna(), None)
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _first_number(values: pd.Series) -> pd.Series:
    """First decimal number in each string ("4", "3;4" -> 3, "12.5 m" -> 12.5); NaN if none."""
    text = values.astype("string")
    return pd.to_numeric(
        text.str.extract(r"(\d+(?:[.,]\d+)?)", expand=False).str.replace(",", "."), errors="coerce"
    ).astype(float)


def _ids(df: Any) -> pd.Series:
    return df["osm_type"].astype(str) + "/" + df["id"].astype("int64").astype(str)


def _estimate_residents(
    b: Any,
    floor_area_per_resident: float,
    levels_table: Mapping[str, float],
    fallback_levels: float,
) -> Any:
    """Add levels, levels_source, footprint_m2, floor_area_m2 and residents to projected buildings."""
    tagged = _first_number(_col(b, "building:levels"))
    tagged = tagged.where((tagged > 0) & (tagged <= 200))
    height = _first_number(_col(b, "height"))
    from_height = np.maximum(1.0, np.round(height / METRES_PER_LEVEL)).where((height > 0) & (height <= 1000))
    btype = _col(b, "building").fillna("yes").astype(str)
    default = btype.map(lambda v: float(levels_table.get(v, fallback_levels)))
    known = tagged.fillna(from_height)
    source = np.where(tagged.notna(), "building:levels", np.where(from_height.notna(), "height", "default"))
    if int(known.notna().sum()) >= MIN_TAGGED_FOR_MEDIAN:
        default = pd.Series(float(known.median()), index=known.index)
        source = np.where(known.notna(), source, "extract_median")
    levels = known.fillna(default)
    out = b.copy()
    out["levels"] = levels.to_numpy(dtype=float)
    out["levels_source"] = source
    out["footprint_m2"] = out.geometry.area.to_numpy()
    out["floor_area_m2"] = out["footprint_m2"] * out["levels"]
    out["residents"] = out["floor_area_m2"] / floor_area_per_resident
    return out


def _first_match(rules: list[tuple[pd.Series, str, pd.Series]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Label each of ``n`` features by the first rule whose mask holds: ``(label, source tag)``,
    both ``""`` where no rule matches (rules are ordered, most specific first)."""
    label = np.full(n, "", dtype=object)
    source_tag = np.full(n, "", dtype=object)
    for mask, name, tag in rules:
        m = mask.fillna(False).to_numpy(dtype=bool) & (label == "")
        label[m] = name
        source_tag[m] = tag.to_numpy(dtype=object)[m]
    return label, source_tag


def _classify_sites(d: Any) -> tuple[np.ndarray, np.ndarray]:
    """land_type and source_tag per row ("" when the row is no candidate)."""
    building = _col(d, "building")
    landuse = _col(d, "landuse")
    amenity = _col(d, "amenity")
    parking = _col(d, "parking")
    yes = {"yes", "true", "1"}
    flag = _col(d, "disused").isin(yes) | _col(d, "abandoned").isin(yes) | _col(d, "vacant").isin(yes)
    disused = (
        building.isin({"ruins", "abandoned", "disused"})
        | _col(d, "disused:building").notna()
        | _col(d, "abandoned:building").notna()
        | (building.notna() & flag)
    )
    rules: list[tuple[pd.Series, str, pd.Series]] = [
        (disused, "disused_building", "building=" + building.fillna("?").astype(str)),
        (building == "warehouse", "warehouse", pd.Series("building=warehouse", index=d.index)),
        (building.isin({"industrial", "factory", "manufacture"}), "factory", "building=" + building.astype(str)),
        (landuse == "brownfield", "idle_land", pd.Series("landuse=brownfield", index=d.index)),
        (landuse == "greenfield", "greenfield", pd.Series("landuse=greenfield", index=d.index)),
        (landuse == "construction", "construction_site", pd.Series("landuse=construction", index=d.index)),
        (landuse == "industrial", "industrial_land", pd.Series("landuse=industrial", index=d.index)),
        (
            (amenity == "parking") & ~parking.isin({"underground", "rooftop"}),
            "parking_lot",
            pd.Series("amenity=parking", index=d.index),
        ),
    ]
    return _first_match(rules, len(d))


def _classify_services(f: Any) -> tuple[np.ndarray, np.ndarray]:
    amenity = _col(f, "amenity")
    kind = _col(f, "social_facility")
    for_ = _col(f, "social_facility:for").fillna("").astype(str).str.lower()
    social = amenity == "social_facility"
    senior = for_.str.contains(r"\b(?:senior|elderly|aged)\b", regex=True)
    child = for_.str.contains(r"\b(?:child|children)\b", regex=True)

    def tag(text: str | pd.Series) -> pd.Series:
        return text if isinstance(text, pd.Series) else pd.Series(text, index=f.index)

    rules: list[tuple[pd.Series, str, pd.Series]] = [
        (amenity == "toilets", "public_toilet", tag("amenity=toilets")),
        (amenity == "charging_station", "ev_charging", tag("amenity=charging_station")),
        (amenity == "nursing_home", "elderly_care", tag("amenity=nursing_home")),
        (
            social & (kind.isin({"nursing_home", "assisted_living"}) | senior),
            "elderly_care",
            "amenity=social_facility;social_facility=" + kind.fillna("?").astype(str),
        ),
        (amenity.isin({"kindergarten", "childcare"}), "childcare", "amenity=" + amenity.astype(str)),
        (social & (kind == "day_care") & child, "childcare", tag("amenity=social_facility;social_facility=day_care")),
    ]
    return _first_match(rules, len(f))


# ---------------------------------------------------------------------------- writing
def _empty_frame(columns: Sequence[str], crs: pyproj.CRS) -> Any:
    import geopandas as gpd

    data = {c: pd.Series([], dtype="Int64" if c == "osm_id" else float if c in _NUMERIC else object) for c in columns}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _write_layer(
    gdf: Any, columns: Sequence[str], path: Path, layer: str, geometry_type: str, crs: pyproj.CRS
) -> PreparedLayer:
    import geopandas as gpd
    import pyogrio

    if len(gdf) == 0:
        frame = _empty_frame(columns, crs)
    else:
        frame = gpd.GeoDataFrame(
            gdf[list(columns)].reset_index(drop=True), geometry=gdf.geometry.reset_index(drop=True).values, crs=crs
        )
        for c in columns:
            if c == "osm_id":
                frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("Int64")
            elif c in _NUMERIC or pd.api.types.is_float_dtype(frame[c]):
                frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
            else:
                frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    if frame.crs is None:
        frame = frame.set_crs(crs)
    pyogrio.write_dataframe(
        frame,
        path,
        layer=layer,
        driver="GPKG",
        geometry_type=geometry_type,
        promote_to_multi=geometry_type.startswith("Multi"),
    )
    return PreparedLayer(path=path, layer=layer, count=len(frame), geometry_type=geometry_type, columns=tuple(columns))


def prepare_osm(
    pbf_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    bbox: Sequence[float] | None = None,
    *,
    persons_per_100m2: float | None = None,
    floor_area_per_resident_m2: float = DEFAULT_FLOOR_AREA_PER_RESIDENT_M2,
    default_levels: Mapping[str, float] | None = None,
    fallback_levels: float = FALLBACK_LEVELS,
    untyped_buildings: Literal["in_residential_landuse", "all", "none"] = "in_residential_landuse",
    shares: Mapping[str, float] | None = None,
    crs: Any = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PreparedOsm:
    """Write a scenario folder (four GeoPackages and a README) from an OpenStreetMap extract.

    Demand: residential buildings. A building counts if ``building`` is one of
    :data:`RESIDENTIAL_BUILDINGS`; an untyped ``building=yes`` counts when ``untyped_buildings`` is
    ``"all"``, or (the default) when its representative point lies in a ``landuse=residential`` area
    and it has no ``amenity``, ``shop`` or ``office`` tag. Residents are estimated as

    .. math:: \\text{residents} = \\text{footprint area (m²)} \\times \\text{levels}
              \\times \\text{persons per m² of floor area}

    where levels come from ``building:levels``, else ``max(1, round(height / 3 m))``, else the median
    levels of the extract's tagged residential buildings (when :data:`MIN_TAGGED_FOR_MEDIAN` or more
    are tagged), else :data:`DEFAULT_LEVELS` by building type (``fallback_levels`` for other types),
    and persons per m² is ``persons_per_100m2 / 100`` or, by default,
    ``1 / floor_area_per_resident_m2`` (1 per 40 m²). An untyped ``building=yes`` below
    :data:`MIN_UNTYPED_FOOTPRINT_M2` of footprint is an outbuilding, not a dwelling (unless
    ``untyped_buildings="all"``). On the Kotka extract this gives about 6,000 residents against
    the 5,430 of the Kotka example (which leaves every ``building=yes`` out).
    This is a documented, coarse assumption: replace ``residents`` with census figures where you have them.

    Candidate sites: polygons classified by :data:`LAND_TYPES` (first rule wins), with ``area_m2``.
    Existing facilities: points (polygons reduced to a representative point) classified by
    :data:`SERVICES`. A category absent from the extract yields an empty layer (right columns and
    CRS) or no rows for that service, and a note.

    Parameters
    ----------
    pbf_path : path-like
        The .osm.pbf extract.
    out_dir : path-like
        Folder to write into (created). Existing ``streets.gpkg`` etc. are only replaced with ``overwrite``.
    bbox : (west, south, east, north), optional
        Degrees; read only this box.
    persons_per_100m2 : float, optional
        Residents per 100 m² of floor area; overrides ``floor_area_per_resident_m2``.
    floor_area_per_resident_m2 : float
        Floor area per resident, m² (default 40).
    default_levels : mapping, optional
        Levels by building type, merged over :data:`DEFAULT_LEVELS`.
    fallback_levels : float
        Levels for types not in the table.
    untyped_buildings : {"in_residential_landuse", "all", "none"}
        How to treat ``building=yes``.
    shares : mapping, optional
        Demand groups as shares of residents (group name -> share in [0, 1]); default
        :data:`CENSUS_SHARES`. Each becomes a column ``residents x share`` of demand.gpkg.
    crs : optional
        Output CRS (projected, metres); default the UTM zone of the data.
    overwrite : bool
        Replace existing output files.
    progress : callable, optional
        Called with a short message before each step (for a progress display).

    Returns
    -------
    PreparedOsm
    """
    say = progress or (lambda _msg: None)
    if persons_per_100m2 is not None:
        ppm = float(persons_per_100m2)
        if not np.isfinite(ppm) or ppm <= 0:
            raise DataError(f"persons_per_100m2 must be > 0, got {persons_per_100m2!r} (a typical value is 2.9)")
        per_m2 = ppm / 100.0
    else:
        fa = float(floor_area_per_resident_m2)
        if not np.isfinite(fa) or fa <= 0:
            raise DataError(
                f"floor_area_per_resident_m2 must be > 0, got {floor_area_per_resident_m2!r} (a typical value is 40)"
            )
        per_m2 = 1.0 / fa
    levels_table = dict(DEFAULT_LEVELS)
    if default_levels:
        levels_table.update({str(k): float(v) for k, v in default_levels.items()})
    bad_levels = {k: v for k, v in levels_table.items() if not np.isfinite(v) or v <= 0}
    if bad_levels or not np.isfinite(fallback_levels) or fallback_levels <= 0:
        raise DataError(f"default levels must be > 0, got {bad_levels or fallback_levels!r}")
    if untyped_buildings not in ("in_residential_landuse", "all", "none"):
        raise DataError(
            f'untyped_buildings must be "in_residential_landuse", "all" or "none", got {untyped_buildings!r}'
        )
    group_shares = check_shares(CENSUS_SHARES if shares is None else shares, _DEMAND_COLUMNS)
    demand_columns = _DEMAND_COLUMNS + list(group_shares)
    box = _check_bbox(bbox)
    src = Path(pbf_path)
    out = Path(out_dir)
    names = {
        "streets": "streets.gpkg",
        "demand": "demand.gpkg",
        "sites": "sites.gpkg",
        "existing": "existing.gpkg",
        "readme": "README.md",
    }
    clash_only = ("water.gpkg", "green.gpkg")  # written when the extract has such areas
    if out.exists() and not out.is_dir():
        raise DataError(f"output folder {str(out)!r} is a file: give a folder path")
    clash = [n for n in (*names.values(), *clash_only) if (out / n).exists()]
    if clash and not overwrite:
        raise DataError(
            f"output folder {str(out)!r} already has {', '.join(clash)}: choose another folder or "
            "pass overwrite=True (--overwrite)"
        )

    say("reading OpenStreetMap extract")
    osm = _open_osm(src, box)
    notes: list[str] = []

    say("walkable streets")
    streets, target = _read_ways(osm, src, box, crs)

    say("buildings")
    buildings = _quiet(osm.get_buildings)
    tags = {
        "landuse": ["residential", "brownfield", "greenfield", "construction", "industrial"],
        "building": ["warehouse", "industrial", "factory", "manufacture", "ruins", "abandoned", "disused"],
        "amenity": ["parking"],
        "disused:building": True,
        "abandoned:building": True,
        "disused": ["yes"],
        "abandoned": ["yes"],
        "vacant": ["yes"],
    }
    areas = _quiet(
        osm.get_data_by_custom_criteria,
        custom_filter=tags,
        tags_as_columns=[
            "landuse",
            "building",
            "amenity",
            "parking",
            "disused",
            "abandoned",
            "vacant",
            "disused:building",
            "abandoned:building",
            "name",
        ],
        keep_nodes=False,
    )

    # --- demand
    say("residential buildings and residents")
    if buildings is None or len(buildings) == 0:
        demand = _empty_frame(demand_columns, target)
        notes.append("no buildings in the extract: demand.gpkg is empty; supply a population layer instead")
    else:
        b = buildings[buildings.geometry.notna() & ~buildings.geometry.is_empty]
        b = b[b.geom_type.isin(["Polygon", "MultiPolygon"])].to_crs(target)
        btype = _col(b, "building").fillna("yes").astype(str)
        residential = btype.isin(RESIDENTIAL_BUILDINGS).to_numpy().copy()
        untyped = (btype == "yes").to_numpy()
        non_res_tag = (_col(b, "amenity").notna() | _col(b, "shop").notna() | _col(b, "office").notna()).to_numpy()
        if untyped_buildings == "all":
            residential |= untyped
        elif untyped_buildings == "in_residential_landuse":
            cand = untyped & ~non_res_tag
            if areas is not None and len(areas) and cand.any():
                res_land = areas[_col(areas, "landuse").eq("residential").to_numpy()]
                res_land = res_land[res_land.geom_type.isin(["Polygon", "MultiPolygon"])].to_crs(target)
                if len(res_land):
                    tree = shapely.STRtree(res_land.geometry.values)
                    pts = shapely.point_on_surface(b.geometry.values[cand])
                    hit = tree.query(pts, predicate="within")
                    inside = np.zeros(int(cand.sum()), dtype=bool)
                    inside[hit[0]] = True
                    idx = np.flatnonzero(cand)
                    residential[idx[inside]] = True
        if untyped_buildings != "all":
            small = untyped & (b.geometry.area.to_numpy() < MIN_UNTYPED_FOOTPRINT_M2)
            residential &= ~small
        d = b[residential]
        if len(d) == 0:
            demand = _empty_frame(demand_columns, target)
            notes.append(
                "no residential buildings found (building=residential/apartments/house/..., or building=yes "
                "in landuse=residential): demand.gpkg is empty"
            )
        else:
            demand = _estimate_residents(d, 1.0 / per_m2, levels_table, fallback_levels)
            demand["osm_id"] = demand["id"]
            demand["id"] = _ids(demand)
            demand["building"] = _col(demand, "building")
            demand["name"] = _col(demand, "name")
            for group, share in group_shares.items():
                demand[group] = demand["residents"] * share
            n_default = int((demand["levels_source"] == "default").sum())
            n_median = int((demand["levels_source"] == "extract_median").sum())
            if n_default:
                notes.append(
                    f"{n_default} of {len(demand)} residential buildings have no building:levels or height: "
                    "their levels are the defaults by building type"
                )
            if n_median:
                notes.append(
                    f"{n_median} of {len(demand)} residential buildings have no building:levels or height: "
                    f"their levels are the median of the {len(demand) - n_median} tagged ones "
                    f"({float(demand['levels'][demand['levels_source'] != 'extract_median'].median()):g})"
                )

    # --- candidate sites
    say("candidate sites")
    if areas is None or len(areas) == 0:
        sites = _empty_frame(_SITE_COLUMNS, target)
    else:
        a = areas[areas.geometry.notna() & ~areas.geometry.is_empty]
        a = a[a.geom_type.isin(["Polygon", "MultiPolygon"])]
        land_type, source_tag = _classify_sites(a)
        keep = land_type != ""
        sites = a[keep].to_crs(target).copy()
        sites["land_type"] = land_type[keep]
        sites["source_tag"] = source_tag[keep]
        sites["area_m2"] = sites.geometry.area.to_numpy()
        sites["osm_id"] = sites["id"]
        sites["id"] = _ids(sites)
        sites["name"] = _col(sites, "name")
        sites = sites.drop_duplicates(subset="id")
    land_type_counts = {t: int((sites["land_type"] == t).sum()) if len(sites) else 0 for t in LAND_TYPES}
    if len(sites) == 0:
        notes.append(
            "no candidate sites (idle/industrial land, warehouses, disused buildings, parking) in the "
            "extract: sites.gpkg is empty; add candidate plots by hand"
        )

    # --- existing facilities
    say("existing facilities")
    fac = _quiet(
        osm.get_data_by_custom_criteria,
        custom_filter={
            "amenity": ["toilets", "nursing_home", "kindergarten", "childcare", "charging_station", "social_facility"]
        },
        tags_as_columns=["amenity", "social_facility", "social_facility:for", "name", "operator", "capacity"],
    )
    if fac is None or len(fac) == 0:
        existing = _empty_frame(_EXISTING_COLUMNS, target)
    else:
        f = fac[fac.geometry.notna() & ~fac.geometry.is_empty]
        service, source_tag = _classify_services(f)
        keep = service != ""
        existing = f[keep].to_crs(target).copy()
        existing["service"] = service[keep]
        existing["source_tag"] = source_tag[keep]
        existing["osm_id"] = existing["id"]
        existing["id"] = _ids(existing)
        for c in ("name", "operator", "capacity"):
            existing[c] = _col(existing, c)
        existing = existing.set_geometry(existing.geometry.representative_point()).drop_duplicates(subset="id")
    service_counts = {s: int((existing["service"] == s).sum()) if len(existing) else 0 for s in SERVICES}
    for svc, count in service_counts.items():
        if count == 0:
            notes.append(
                f"no {svc} facilities in the extract ({SERVICES[svc]}): existing.gpkg has none for this service"
            )

    say("water and green areas")
    from siting.scenarios.geodata.osm_background import BACKGROUND_COLUMNS, background_layers

    extent = box if box is not None else tuple(float(v) for v in streets.to_crs(4326).total_bounds)
    background = {k: v for k, v in background_layers(osm, target, extent).items() if len(v)}  # type: ignore[arg-type]

    # --- write into a temporary folder, then move into place
    say("writing layers")
    with staged_files(out, ".prepare-osm-") as tmp:
        multi = bool(len(streets)) and bool((streets.geom_type == "MultiLineString").any())
        streets_l = _write_layer(
            streets,
            _STREET_COLUMNS,
            tmp / names["streets"],
            "streets",
            "MultiLineString" if multi else "LineString",
            target,
        )
        demand_l = _write_layer(demand, demand_columns, tmp / names["demand"], "demand", "MultiPolygon", target)
        sites_l = _write_layer(sites, _SITE_COLUMNS, tmp / names["sites"], "sites", "MultiPolygon", target)
        existing_l = _write_layer(existing, _EXISTING_COLUMNS, tmp / names["existing"], "existing", "Point", target)
        written = {k: f"{k}.gpkg" for k in background}
        back_l = {
            k: _write_layer(g, BACKGROUND_COLUMNS, tmp / written[k], k, "MultiPolygon", target)
            for k, g in background.items()
        }
        total_res = float(demand["residents"].sum()) if len(demand) else 0.0
        sha = sha256_file(src)
        crs_name = target.to_string() if target.to_epsg() is None else f"EPSG:{target.to_epsg()}"
        assumptions: dict[str, Any] = {
            "residents": "footprint_m2 x levels x persons_per_m2",
            "persons_per_m2_floor": per_m2,
            "floor_area_per_resident_m2": 1.0 / per_m2,
            "levels_source_order": [
                "building:levels",
                f"height / {METRES_PER_LEVEL} m",
                "median of the tagged buildings",
                "default by type",
            ],
            "default_levels": levels_table,
            "fallback_levels": float(fallback_levels),
            "residential_buildings": sorted(RESIDENTIAL_BUILDINGS),
            "untyped_buildings": untyped_buildings,
            "shares": dict(group_shares),
            "land_types": dict(LAND_TYPES),
            "services": dict(SERVICES),
            "streets": 'pyrosm network_type="walking"',
        }
        layers = {"streets": streets_l, "demand": demand_l, "sites": sites_l, "existing": existing_l, **back_l}
        from siting.scenarios.geodata.osm_readme import readme_text

        readme_body = readme_text(
            src, sha, box, crs_name, layers, total_res, land_type_counts, service_counts, assumptions, notes
        )
        (tmp / names["readme"]).write_text(readme_body, encoding="utf-8")
        final = move_into_place(tmp, out, {**names, **written})

    def moved(layer: PreparedLayer, role: str) -> PreparedLayer:
        return PreparedLayer(final[role], layer.layer, layer.count, layer.geometry_type, layer.columns)

    return PreparedOsm(
        out_dir=out,
        source=src,
        source_sha256=sha,
        bbox=box,
        crs=crs_name,
        streets=moved(streets_l, "streets"),
        demand=moved(demand_l, "demand"),
        sites=moved(sites_l, "sites"),
        existing=moved(existing_l, "existing"),
        readme=final["readme"],
        total_residents=total_res,
        land_type_counts=land_type_counts,
        service_counts=service_counts,
        assumptions=assumptions,
        notes=tuple(notes),
        background={k: moved(v, k) for k, v in back_l.items()},
    )
