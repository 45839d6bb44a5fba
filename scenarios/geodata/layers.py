"""Reading a scenario's GIS layers: files in, checked GeoDataFrames in one metric CRS out.

:func:`read_layer` reads one layer (GeoPackage, GeoJSON, Shapefile, GeoParquet through pyogrio or
geopandas; CSV with lon/lat or x/y columns through pandas), gives it a CRS, converts points copied
from Chinese web maps (GCJ-02, BD-09) to WGS 84 and checks it. :func:`load_layers` reads every
layer of a scenario, picks one metric CRS (the scenario's ``crs`` or the UTM zone of the demand
layer's centre), projects everything to it and turns demand and site polygons into points.

Every problem is collected and reported at once, each naming the scenario file, the layer's field
path and file, the column or the offending ids, and the fix: a planner fixes a layer in one pass
instead of one error per run.

The returned frames are indexed by the feature id as text (``id`` column, or the row number), so
that geometry is joined back to plans by id.
"""

from __future__ import annotations

import difflib
import math
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from siting.models import checks
from siting.models.errors import DataError, ScenarioError
from siting.scenarios.files import user_file, user_path
from siting.scenarios.geodata.problems import Problems, problems_of
from siting.scenarios.schema import DemandLayer, ExistingLayer, LayerRef, ScenarioBody, SitesLayer, StreetsLayer

Role = Literal["demand", "sites", "existing", "streets", "water", "green"]

#: Suffixes read through pyogrio (GDAL).
OGR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml", ".kml", ".sqlite")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PBF_SUFFIXES = (".pbf",)

#: Column pairs recognised as coordinates in a CSV (case-insensitive), most specific first. The
#: first three name longitude/latitude and imply EPSG:4326 when the layer gives no ``crs``.
XY_CANDIDATES = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"))
LONLAT_NAMES = {("lon", "lat"), ("longitude", "latitude"), ("lng", "lat")}

#: A layer whose extent lies farther than this from the demand layer's extent is reported as
#: misplaced (wrong CRS, swapped lon/lat): no walk of a life circle spans 50 km.
FAR_FROM_DEMAND_M = 50_000.0

_POINTLIKE = {"Point", "MultiPoint", "Polygon", "MultiPolygon"}
_LINES = {"LineString", "MultiLineString"}
_GEOM_TYPES = {
    "demand": _POINTLIKE,
    "sites": _POINTLIKE,
    "existing": _POINTLIKE,
    "streets": _LINES,
    "water": _LINES | {"Polygon", "MultiPolygon"},
    "green": _LINES | {"Polygon", "MultiPolygon"},
}
#: Layers drawn under the data only (map background): read and checked like the others, never solved on.
BACKGROUND_ROLES: tuple[Role, ...] = ("water", "green")

#: A missing geometry in an object array (``np.where(mask, geoms, NO_GEOMETRY)``).
NO_GEOMETRY = np.array(None, dtype=object)


def show_ids(ids: Any, limit: int = 8) -> str:
    """``'a, b, c (and 4 more)'`` for messages about a layer: up to 8 ids (:func:`models.checks.show_ids`)."""
    return checks.show_ids(ids, limit)


def natural_key(value: Any) -> tuple[int, float, str]:
    """Sort key that orders numeric ids numerically (2 < 10) and text ids alphabetically after them."""
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return (1, 0.0, text)
    if math.isfinite(number):
        return (0, number, text)
    return (1, 0.0, text)


# ------------------------------------------------------------------------------ one layer
@dataclass
class _Ctx:
    """Where a layer comes from, for messages."""

    scenario: str
    role: Role
    path: Path
    shown: str

    @property
    def where(self) -> str:
        return f"{self.scenario}: layers.{self.role} ({self.shown})"


def _shown_path(path: Path, base_dir: Path) -> str:
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)


def resolve_path(ref: LayerRef, base_dir: Path) -> Path:
    """The layer's file, relative paths taken from the scenario file's folder."""
    p = user_path(ref.path, "layer file")
    return p if p.is_absolute() else (base_dir / p)


def _column_refs(ref: LayerRef, role: Role) -> list[tuple[str, str]]:
    """(field path, column name) of every column the scenario names for this layer."""
    out: list[tuple[str, str]] = []
    if ref.id is not None:
        out.append(("id", ref.id))
    if isinstance(ref, DemandLayer):
        out.extend((f"groups.{g}", c) for g, c in ref.groups.items())
    if isinstance(ref, SitesLayer):
        for name in ("land_type", "area", "cost"):
            col = getattr(ref, name)
            if col is not None:
                out.append((name, col))
    if isinstance(ref, ExistingLayer):
        out.append(("service", ref.service))
    if isinstance(ref, StreetsLayer) and ref.length is not None:
        out.append(("length", ref.length))
    return out


def _did_you_mean(name: str, options: list[str]) -> str:
    lowered = {o.lower(): o for o in options}
    if name.lower() in lowered:
        return f"did you mean {lowered[name.lower()]!r} (column names are case-sensitive)? "
    hint = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f"did you mean {hint[0]!r}? " if hint else ""


def _list_layers(path: Path) -> list[str]:
    import pyogrio

    return [str(name) for name, _geom in pyogrio.list_layers(path)]


def _read_ogr(ref: LayerRef, ctx: _Ctx, problems: Problems) -> Any:
    import geopandas as gpd
    import pyogrio

    try:
        names = _list_layers(ctx.path)
    except (RuntimeError, OSError, ValueError) as exc:  # pyogrio errors derive from RuntimeError
        problems.add(
            f"{ctx.where}: cannot open the file ({_short(exc)}); check that it is a valid {ctx.path.suffix} file"
        )
        return None
    layer = ref.layer
    if layer is not None and layer not in names:
        hint = difflib.get_close_matches(layer, names, n=1, cutoff=0.4)
        problems.add(
            f"{ctx.where}: layers.{ctx.role}.layer: no layer {layer!r} in the file; "
            + (f"did you mean {hint[0]!r}? " if hint else "")
            + f"layers found: {', '.join(names) or '(none)'}; fix layer:"
        )
        return None
    if layer is None:
        if not names:
            problems.add(f"{ctx.where}: the file holds no layer; export the data again")
            return None
        if len(names) > 1:
            problems.add(
                f"{ctx.where}: the file holds {len(names)} layers ({', '.join(names)}); "
                f"say which one with layer: under layers.{ctx.role}"
            )
            return None
        layer = names[0]
    try:
        gdf = pyogrio.read_dataframe(ctx.path, layer=layer)
    except (RuntimeError, OSError, ValueError) as exc:
        problems.add(f"{ctx.where}: cannot read layer {layer!r} ({_short(exc)})")
        return None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        problems.add(f"{ctx.where}: layer {layer!r} has no geometry column; use a spatial layer or a CSV with x/y")
        return None
    return gdf


def _read_parquet(ctx: _Ctx, problems: Problems) -> Any:
    import geopandas as gpd

    try:
        return gpd.read_parquet(ctx.path)
    except ImportError:
        problems.add(
            f"{ctx.where}: reading GeoParquet needs the pyarrow package: pip install pyarrow, "
            "or save the layer as a GeoPackage (.gpkg)"
        )
    except (RuntimeError, OSError, ValueError, TypeError) as exc:
        problems.add(f"{ctx.where}: cannot read the GeoParquet file ({_short(exc)})")
    return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_csv(ref: LayerRef, ctx: _Ctx, problems: Problems) -> tuple[Any, bool]:
    """A CSV as points; returns (GeoDataFrame or None, whether the columns name lon/lat)."""
    import geopandas as gpd

    sep = "\t" if ctx.path.suffix.lower() == ".tsv" else ","
    try:
        header = pd.read_csv(ctx.path, nrows=0, sep=sep, encoding="utf-8-sig")
        text_cols = {c: str for c in header.columns if ref.id is not None and c == ref.id}
        df = pd.read_csv(ctx.path, sep=sep, encoding="utf-8-sig", dtype=text_cols, keep_default_na=True)
    except UnicodeDecodeError as exc:
        problems.add(f"{ctx.where}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the CSV as UTF-8")
        return None, False
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.add(f"{ctx.where}: cannot parse the CSV ({_short(exc)}); check the separator (,) and quoting")
        return None, False
    df.columns = [str(c).strip() for c in df.columns]
    cols = list(df.columns)
    if ref.layer is not None:
        problems.add(f"{ctx.where}: layers.{ctx.role}.layer: a CSV has no layers; remove layer: {ref.layer}")
    lonlat = False
    if ref.x is not None or ref.y is not None:
        xcol, ycol = ref.x, ref.y
        for fname, col in (("x", xcol), ("y", ycol)):
            if col is None:
                problems.add(f"{ctx.where}: layers.{ctx.role}: give both x: and y: (only one is set)")
                return None, False
            if col not in cols:
                problems.add(
                    f"{ctx.where}: layers.{ctx.role}.{fname}: column {col!r} not found; {_did_you_mean(col, cols)}"
                    f"columns found: {', '.join(cols)}"
                )
                return None, False
        lonlat = any((str(xcol).lower(), str(ycol).lower()) == pair for pair in LONLAT_NAMES)
    else:
        lower = {c.lower(): c for c in cols}
        found = next(((lower[a], lower[b]) for a, b in XY_CANDIDATES if a in lower and b in lower), None)
        if found is None:
            problems.add(
                f"{ctx.where}: no coordinate columns: name them lon/lat, longitude/latitude or x/y, "
                f"or say which with x: and y: under layers.{ctx.role}; columns found: {', '.join(cols)}"
            )
            return None, False
        xcol, ycol = found
        lonlat = (xcol.lower(), ycol.lower()) in LONLAT_NAMES
    assert xcol is not None and ycol is not None
    xs = pd.to_numeric(df[xcol], errors="coerce")
    ys = pd.to_numeric(df[ycol], errors="coerce")
    bad_text = (df[xcol].notna() & xs.isna()) | (df[ycol].notna() & ys.isna())
    if bad_text.any():
        rows = [str(i + 2) for i in np.flatnonzero(bad_text.to_numpy())]
        problems.add(
            f"{ctx.where}: columns {xcol!r}/{ycol!r} hold text that is not a number on CSV lines {show_ids(rows)}; "
            "write plain numbers (decimal point, no units)"
        )
        return None, lonlat
    missing = (xs.isna() | ys.isna()).to_numpy()
    geoms = gpd.points_from_xy(xs.fillna(0.0), ys.fillna(0.0))
    geoms = np.asarray(geoms, dtype=object)
    geoms[missing] = None
    gdf = gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=list(geoms))
    gdf.attrs["xy_columns"] = (xcol, ycol)
    return gdf, lonlat


def _parse_crs(text: str, what: str) -> pyproj.CRS | str:
    """A pyproj CRS, or an error message."""
    try:
        return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError:
        return f"{what}: {text!r} is not a CRS pyproj knows; write it as EPSG:NNNN (e.g. EPSG:4326 for lon/lat)"


def _ids_of(gdf: Any, ref: LayerRef, ctx: _Ctx, problems: Problems) -> pd.Index | None:
    """Feature ids as text (from the id column, else the row number), checked unique and present."""
    if ref.id is None:
        return pd.Index([str(i) for i in range(len(gdf))], name="id")
    col = gdf[ref.id]
    null = col.isna().to_numpy()
    if null.any():
        problems.add(
            f"{ctx.where}: layers.{ctx.role}.id: column {ref.id!r} is empty on rows {show_ids(np.flatnonzero(null))} "
            "(0-based); give every feature an id"
        )
        return None
    values = col.to_numpy()
    # whole floats print as integers ("12", not "12.0") only within 2**53, where a float holds every
    # integer exactly; beyond it (a 20-digit id stored as a float) the text of the float is kept
    # rather than overflowing int64 into one repeated bogus id
    if pd.api.types.is_float_dtype(col) and np.all((np.mod(values, 1) == 0) & (np.abs(values) <= 2.0**53)):
        text = col.astype(np.int64).astype(str)
    else:
        text = col.astype(str).str.strip()
    ids = pd.Index(text.to_numpy(), name="id")
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        uniq = sorted(set(dup), key=natural_key)
        problems.add(
            f"{ctx.where}: duplicate ids in column {ref.id!r}: {show_ids(uniq)}; every feature needs a unique id"
        )
        return None
    return ids


def _numeric(
    gdf: Any,
    column: str,
    field_path: str,
    ids: pd.Index,
    ctx: _Ctx,
    problems: Problems,
    *,
    allow_nan: bool,
    what: str,
) -> NDArray[np.float64] | None:
    """A numeric column, checked: text, NaN (unless allowed) and negative values are problems."""
    raw = gdf[column]
    values = pd.to_numeric(raw, errors="coerce")
    text = (raw.notna() & values.isna()).to_numpy()
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    ok = True
    if text.any():
        sample = ", ".join(repr(str(v)) for v in raw[text].head(3))
        problems.add(
            f"{ctx.where}: {field_path}: column {column!r} holds text ({sample}) at ids {show_ids(ids[text])}; "
            f"{what} must be plain numbers"
        )
        ok = False
    nan = np.isnan(arr) & ~text
    if nan.any() and not allow_nan:
        problems.add(
            f"{ctx.where}: {field_path}: column {column!r} is empty (NaN) at ids {show_ids(ids[nan])}; "
            "give a number (0 if there is none)"
        )
        ok = False
    inf = np.isinf(arr)
    if inf.any():
        problems.add(
            f"{ctx.where}: {field_path}: column {column!r} is infinite at ids {show_ids(ids[inf])}; give a finite number"
        )
        ok = False
    neg = arr < 0
    if neg.any():
        problems.add(
            f"{ctx.where}: {field_path}: column {column!r} is negative at ids {show_ids(ids[neg])} "
            f"(e.g. {arr[neg][0]:g}); {what} must be >= 0"
        )
        ok = False
    return arr if ok else None


def read_layer(ref: LayerRef, base_dir: Path, role: Role, scenario_name: str) -> Any:
    """Read and check one layer of a scenario (see :func:`_read_layer`).

    Warnings that GDAL, pyogrio, pandas or numpy emit while reading the user's file never reach the
    console ahead of an ``error:`` line: they are captured; when the layer is read, they join the
    layer's ``attrs["warnings"]`` (reported with the run's warnings), and when it fails the error
    alone is reported.
    """
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        gdf = _read_layer(ref, base_dir, role, scenario_name)
    seen: list[str] = []
    for w in caught:
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else type(w.message).__name__
        if text not in seen:
            seen.append(text)
    if seen:
        where = f"{scenario_name}: layers.{role} ({_shown_path(Path(gdf.attrs.get('path', ref.path)), base_dir)})"
        gdf.attrs["warnings"] = list(gdf.attrs.get("warnings", [])) + [f"{where}: reading the file: {t}" for t in seen]
    return gdf


def _read_layer(ref: LayerRef, base_dir: Path, role: Role, scenario_name: str) -> Any:
    """Read and check one layer of a scenario.

    Parameters
    ----------
    ref : the layer's entry in the scenario (``layers.<role>``).
    base_dir : the scenario file's folder; relative paths are taken from there.
    role : ``demand``, ``sites``, ``existing`` or ``streets``: decides the columns and geometry types checked.
    scenario_name : the scenario file's name, for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        In the layer's own CRS (always set; GCJ-02 / BD-09 already converted to WGS 84), indexed by
        the feature id as text. Numeric columns the scenario names (demand groups, site area and
        cost, street length) are converted to float. ``attrs["warnings"]`` lists repairs made,
        ``attrs["path"]`` is the file read.

    Raises
    ------
    DataError
        With every problem found in the layer: missing file, wrong or missing layer name, unknown
        columns, an empty layer, empty / invalid / wrong-type geometries, missing CRS, coordinates
        out of range or swapped, NaN or negative numbers, duplicate ids.
    """
    path = resolve_path(ref, base_dir)
    ctx = _Ctx(scenario_name, role, path, _shown_path(path, base_dir))
    problems = Problems()
    if not path.exists():
        problems.add(
            f"{scenario_name}: layers.{role}.path: file {ref.path!r} not found (looked for {path}); "
            "fix the path (relative to the scenario file)"
        )
        problems.raise_if_any(scenario_name)
    if path.is_dir():
        problems.add(f"{scenario_name}: layers.{role}.path: {ref.path!r} is a folder; give the file inside it")
        problems.raise_if_any(scenario_name)
    try:  # a FIFO or a device would block or never end: refused before anything opens it
        user_file(path, f"layers.{role}.path:")
    except DataError as exc:
        problems.add(f"{scenario_name}: {exc}")
        problems.raise_if_any(scenario_name)
    suffix = path.suffix.lower()
    lonlat_csv = False
    if suffix in CSV_SUFFIXES:
        gdf, lonlat_csv = _read_csv(ref, ctx, problems)
    elif suffix in PARQUET_SUFFIXES:
        gdf = _read_parquet(ctx, problems)
    elif suffix in PBF_SUFFIXES:
        problems.add(
            f"{ctx.where}: an OpenStreetMap .pbf extract can only be the streets layer; "
            "run `siting prepare osm` to turn it into demand, sites and existing layers"
        )
        gdf = None
    else:
        if suffix not in OGR_SUFFIXES:
            problems.add(
                f"{ctx.where}: unknown file type {suffix or '(none)'!r}; use .gpkg, .geojson, .shp, .parquet or .csv"
            )
            gdf = None
        else:
            gdf = _read_ogr(ref, ctx, problems)
    if gdf is None:
        problems.raise_if_any(scenario_name)
        raise DataError(f"{ctx.where}: cannot read the layer")  # pragma: no cover - defensive
    if len(gdf) == 0:
        problems.add(f"{ctx.where}: the layer is empty (0 features); check the file and layer: name")
        problems.raise_if_any(scenario_name)

    # -- columns the scenario names
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for field_path, column in _column_refs(ref, role):
        if column not in gdf.columns:
            problems.add(
                f"{ctx.where}: layers.{role}.{field_path}: column {column!r} not found; "
                f"{_did_you_mean(column, cols)}columns found: {', '.join(map(str, cols)) or '(none)'}"
            )
    if problems:
        problems.raise_if_any(scenario_name)

    ids = _ids_of(gdf, ref, ctx, problems)
    if ids is None:
        problems.raise_if_any(scenario_name)
    assert ids is not None
    gdf = gdf.copy()
    gdf.index = ids

    # -- CRS
    file_crs = gdf.crs
    ref_crs: pyproj.CRS | None = None
    if ref.crs is not None:
        parsed = _parse_crs(ref.crs, f"{ctx.where}: layers.{role}.crs")
        if isinstance(parsed, str):
            problems.add(parsed)
        else:
            ref_crs = parsed
    if (
        file_crs is not None
        and ref_crs is not None
        and not pyproj.CRS(file_crs).equals(ref_crs, ignore_axis_order=True)
    ):
        problems.add(
            f"{ctx.where}: layers.{role}.crs says {ref.crs} but the file carries {pyproj.CRS(file_crs).to_string()}; "
            "remove crs: (the file's own CRS is used) or reproject the file"
        )
    crs = file_crs if file_crs is not None else ref_crs
    if crs is None and lonlat_csv:
        crs = pyproj.CRS.from_epsg(4326)
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if crs is None and ref.crs is None:
        hint = ""
        finite = np.array([g is not None for g in geoms])
        if finite.any():
            b = shapely.bounds(geoms[finite])
            from siting.scenarios.geodata.coords import looks_like_lonlat

            if looks_like_lonlat(b[:, [0, 2]].ravel(), b[:, [1, 3]].ravel()):
                hint = " (the coordinates look like longitude/latitude: crs: EPSG:4326, or EPSG:4490 for CGCS2000)"
            else:
                hint = (
                    " (the coordinates look like projected metres: give their EPSG code, e.g. the UTM zone "
                    "EPSG:326NN, or a national grid such as a CGCS2000 3-degree Gauss-Kruger zone, EPSG:4534-4554)"
                )
        problems.add(f"{ctx.where}: the layer has no CRS; add crs: EPSG:NNNN under layers.{role}{hint}")
    if crs is not None:
        gdf = gdf.set_crs(crs, allow_override=True)

    # -- geometry
    warnings: list[str] = []
    empty = np.array([g is None for g in geoms]) | shapely.is_empty(
        np.where([g is None for g in geoms], NO_GEOMETRY, geoms)
    )
    if empty.any():
        problems.add(
            f"{ctx.where}: empty geometries (no coordinates) at ids {show_ids(ids[empty])}; "
            "give them coordinates or delete those features"
        )
    present = ~empty
    types = np.array(shapely.get_type_id(np.where(present, geoms, NO_GEOMETRY)))
    type_names = np.array(
        [
            "",
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ],
        dtype=object,
    )[types + 1]
    allowed = _GEOM_TYPES[role]
    wrong = present & ~np.isin(type_names, list(allowed))
    if wrong.any():
        kinds = sorted(set(type_names[wrong]))
        need = {"streets": "lines", "water": "polygons or lines", "green": "polygons or lines"}.get(
            role, "points or polygons"
        )
        problems.add(
            f"{ctx.where}: {', '.join(kinds)} geometries at ids {show_ids(ids[wrong])}; layers.{role} needs {need}"
        )
    bounds = shapely.bounds(np.where(present, geoms, NO_GEOMETRY))
    nonfinite = present & ~np.isfinite(bounds).all(axis=1)
    invalid = present & ~wrong & ~nonfinite & ~shapely.is_valid(np.where(present, geoms, NO_GEOMETRY))
    if nonfinite.any():
        problems.add(
            f"{ctx.where}: geometries with NaN or infinite coordinates at ids {show_ids(ids[nonfinite])}; fix their coordinates"
        )
    if invalid.any():
        if ref.repair_geometries:
            fixed = shapely.make_valid(geoms[invalid])
            geoms = geoms.copy()
            geoms[invalid] = fixed
            gdf = gdf.set_geometry(list(geoms), crs=gdf.crs)
            warnings.append(f"layers.{role} ({ctx.shown}): repaired invalid geometries at ids {show_ids(ids[invalid])}")
        else:
            reasons = shapely.is_valid_reason(geoms[invalid][:1])
            problems.add(
                f"{ctx.where}: invalid geometries at ids {show_ids(ids[invalid])} ({reasons[0]}); repair them "
                f"(QGIS: Fix geometries) or set repair_geometries: true under layers.{role}"
            )

    # -- numbers the scenario names
    if isinstance(ref, DemandLayer):
        for group, column in ref.groups.items():
            arr = _numeric(
                gdf, column, f"layers.demand.groups.{group}", ids, ctx, problems, allow_nan=False, what="people"
            )
            if arr is not None:
                gdf[column] = arr
    if isinstance(ref, SitesLayer):
        if ref.area is not None:
            arr = _numeric(gdf, ref.area, "layers.sites.area", ids, ctx, problems, allow_nan=True, what="area")
            if arr is not None:
                gdf[ref.area] = arr
        if ref.cost is not None:
            arr = _numeric(gdf, ref.cost, "layers.sites.cost", ids, ctx, problems, allow_nan=True, what="cost")
            if arr is not None:
                gdf[ref.cost] = arr
    if isinstance(ref, StreetsLayer) and ref.length is not None:
        arr = _numeric(gdf, ref.length, "layers.streets.length", ids, ctx, problems, allow_nan=True, what="length")
        if arr is not None:
            gdf[ref.length] = arr

    # -- lon/lat: range, swapped, and web-map offsets
    crs_obj = pyproj.CRS(gdf.crs) if gdf.crs is not None else None
    if ref.coordinates != "wgs84" and crs_obj is not None and not crs_obj.is_geographic:
        problems.add(
            f"{ctx.where}: layers.{role}.coordinates: {ref.coordinates} applies to longitude/latitude, "
            f"but the layer's CRS is {crs_obj.to_string()} (projected); remove coordinates: or fix crs:"
        )
    ok_geom = present & ~wrong & ~nonfinite
    if crs_obj is not None and crs_obj.is_geographic and ok_geom.any():
        b = bounds[ok_geom]
        lon = b[:, [0, 2]].ravel()
        lat = b[:, [1, 3]].ravel()
        from siting.scenarios.geodata.coords import looks_swapped

        out_of_range = (np.abs(lat) > 90) | (np.abs(lon) > 180)
        if looks_swapped(lon, lat):
            if "xy_columns" in gdf.attrs:
                xcol, ycol = gdf.attrs["xy_columns"]
                fix = f"swap them: x: {ycol} and y: {xcol} under layers.{role}"
            else:
                fix = "swap the coordinates in the file (QGIS: Swap X and Y coordinates)"
            problems.add(
                f"{ctx.where}: longitude and latitude look swapped: latitudes up to {np.nanmax(np.abs(lat)):g} "
                f"(more than 90) while every longitude is a valid latitude; {fix}"
            )
        elif out_of_range.any():
            problems.add(
                f"{ctx.where}: coordinates out of the longitude/latitude range (lon {np.nanmin(lon):g}..{np.nanmax(lon):g}, "
                f"lat {np.nanmin(lat):g}..{np.nanmax(lat):g}) for CRS {crs_obj.to_string()}; these look like "
                f"projected metres: give the right crs: under layers.{role}"
            )
        elif ref.coordinates != "wgs84":
            from siting.scenarios.geodata import coords

            convert = coords.gcj02_to_wgs84 if ref.coordinates == "gcj02" else coords.bd09_to_wgs84

            def _to_wgs84(xy: NDArray[np.float64]) -> NDArray[np.float64]:
                x, y = convert(xy[:, 0], xy[:, 1])
                return np.column_stack([x, y])

            converted = np.where(ok_geom, geoms, NO_GEOMETRY)
            converted[ok_geom] = shapely.transform(geoms[ok_geom], _to_wgs84)
            converted[~ok_geom] = geoms[~ok_geom]
            gdf = gdf.set_geometry(list(converted), crs=gdf.crs)
            warnings.append(
                f"layers.{role} ({ctx.shown}): converted {int(ok_geom.sum())} features from {ref.coordinates} to WGS 84"
            )

    problems.raise_if_any(scenario_name)
    gdf.attrs["warnings"] = warnings
    gdf.attrs["path"] = str(path)
    return gdf


# --------------------------------------------------------------------------- all layers
@dataclass
class LoadedLayers:
    """Every layer of a scenario, projected to one metric CRS.

    Attributes
    ----------
    crs : the metric CRS every layer is in.
    demand : points (polygons reduced to a representative point), indexed by id; one float column per
        demand group, named after the group.
    sites : candidate sites as points, indexed by id, with columns ``land_type`` (text), ``area_m2``
        (column value, else the polygon's area, else NaN for points) and ``site_cost`` (NaN = use
        the service's cost).
    existing : existing facilities as points with a ``service`` column (text), or None.
    streets : street lines (projected) with a ``length_m`` column (NaN = geometry length), or None.
    streets_pbf : path of an OpenStreetMap extract given as the streets layer, or None.
    lonlat_bbox : (W, S, E, N) of the demand layer in degrees.
    files : every input file read (for hashes).
    warnings : repairs and conversions made.
    background : ``water`` and ``green`` areas (projected, geometry only) when the scenario names them.
    """

    crs: pyproj.CRS
    demand: Any
    sites: Any
    existing: Any | None
    streets: Any | None
    streets_pbf: Path | None
    lonlat_bbox: tuple[float, float, float, float]
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    background: dict[str, Any] = field(default_factory=dict)


def _companions(path: Path) -> list[Path]:
    """A Shapefile's side files (.dbf, .shx, .prj, .cpg) next to it, for hashing."""
    if path.suffix.lower() != ".shp":
        return [path]
    return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())


def target_crs(body: ScenarioBody, demand: Any, scenario_name: str) -> pyproj.CRS:
    """The metric CRS of a scenario: its ``crs`` (checked projected, in metres) or the demand's UTM zone."""
    from siting.scenarios.geodata.coords import utm_crs_for

    if body.crs is not None:
        parsed = _parse_crs(body.crs, f"{scenario_name}: crs")
        if isinstance(parsed, str):
            raise ScenarioError(parsed + "; or remove crs: to use the UTM zone of the demand layer")
        unit = parsed.axis_info[0].unit_name if parsed.axis_info else ""
        if not parsed.is_projected or unit not in ("metre", "meter"):
            raise ScenarioError(
                f"{scenario_name}: crs: {body.crs} is not a projected CRS in metres (its unit is {unit or 'unknown'}); "
                "give a metric CRS such as a UTM zone (EPSG:326NN) or remove crs: to use the demand layer's UTM zone"
            )
        return parsed
    w, s, e, n = lonlat_bounds(demand)
    return utm_crs_for((w + e) / 2.0, (s + n) / 2.0)


def lonlat_bounds(gdf: Any) -> tuple[float, float, float, float]:
    """(W, S, E, N) in degrees of a layer."""
    crs = pyproj.CRS(gdf.crs)
    b = gdf.total_bounds if crs.is_geographic else gdf.to_crs(4326).total_bounds
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _gap_m(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Distance between two axis-aligned boxes (minx, miny, maxx, maxy); 0 when they overlap."""
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(math.hypot(dx, dy))


def _points(gdf: Any) -> Any:
    """Polygons (and multi-geometries) reduced to a point inside them; points unchanged."""
    geoms = gdf.geometry
    is_point = (geoms.geom_type == "Point").to_numpy()
    if is_point.all():
        return geoms
    return geoms.where(is_point, geoms.representative_point())


#: Prefix of the demand frame's equity-group columns (kept apart from the demand group names).
EQUITY_PREFIX = "equity:"


def load_layers(body: ScenarioBody, base_dir: Path, scenario_name: str, progress: Any = None) -> LoadedLayers:
    """Read every layer of a scenario, check them together, and project them to one metric CRS.

    Problems of all layers are collected and raised as one :class:`DataError`. Polygons of the
    demand and sites layers are used through a representative point (always inside the polygon);
    a site's area is its ``area`` column where given, else its polygon's area in m².
    """
    from siting.scenarios.pipeline.progress import NullProgress

    progress = progress or NullProgress()
    problems = Problems()
    layers = body.layers
    refs: list[tuple[Role, LayerRef]] = [("demand", layers.demand), ("sites", layers.sites)]
    if layers.existing is not None:
        refs.append(("existing", layers.existing))
    streets_pbf: Path | None = None
    if layers.streets is not None and body.distance.method == "network":
        spath = resolve_path(layers.streets, base_dir)
        if spath.suffix.lower() in PBF_SUFFIXES:
            if not spath.exists():
                problems.add(
                    f"{scenario_name}: layers.streets.path: file {layers.streets.path!r} not found (looked for {spath}); "
                    "fix the path (relative to the scenario file)"
                )
            else:
                try:
                    user_file(spath, "layers.streets.path:")
                except DataError as exc:
                    problems.add(f"{scenario_name}: {exc}")
            streets_pbf = spath
        else:
            refs.append(("streets", layers.streets))
    refs += [(r, getattr(layers, r)) for r in BACKGROUND_ROLES if getattr(layers, r) is not None]
    read: dict[str, Any] = {}
    with progress.step("reading layers", total=len(refs)) as advance:
        for role, ref in refs:
            try:
                read[role] = read_layer(ref, base_dir, role, scenario_name)
            except DataError as exc:
                problems.extend(problems_of(exc))
            advance(1)
    problems.raise_if_any(scenario_name)

    demand = read["demand"]
    crs = target_crs(body, demand, scenario_name)
    demand_box_ll = lonlat_bounds(demand)
    projected = {role: gdf.to_crs(crs) for role, gdf in read.items()}
    demand_box = projected["demand"].total_bounds
    for role in ("sites", "existing", "streets", *BACKGROUND_ROLES):
        if role not in projected:
            continue
        box = projected[role].total_bounds
        if not np.isfinite(box).all():
            problems.add(
                f"{scenario_name}: layers.{role}: coordinates cannot be projected to {crs.to_string()}; check crs:"
            )
            continue
        gap = _gap_m(box, demand_box)
        if gap > FAR_FROM_DEMAND_M:
            from siting.scenarios.geodata.coords import looks_swapped

            src = read[role]
            hint = "check the layer's crs: (and coordinates:)"
            if pyproj.CRS(src.crs).is_geographic:
                b = src.geometry.bounds.to_numpy()
                w, s, e, n = demand_box_ll
                pad = 0.5
                if looks_swapped(b[:, [0, 2]].ravel(), b[:, [1, 3]].ravel(), (w - pad, s - pad, e + pad, n + pad)):
                    hint = "longitude and latitude look swapped in this layer: swap them (x:/y: for a CSV)"
            problems.add(
                f"{scenario_name}: layers.{role} ({_shown_path(Path(src.attrs['path']), base_dir)}) lies "
                f"{gap / 1000:,.0f} km from the demand layer; {hint}"
            )
    problems.raise_if_any(scenario_name)

    # demand: points and group columns named after the groups
    d = projected["demand"]
    demand_out = _frame(d, {g: d[c].to_numpy(dtype=np.float64) for g, c in layers.demand.groups.items()}, crs)
    # the columns services name as equity groups (community, district, ...), kept as text
    for svc in body.services.values():
        col = svc.equity.group if svc.equity is not None else None
        if col is not None and col in d.columns:
            demand_out[EQUITY_PREFIX + col] = d[col].astype("string").fillna("").astype(str).to_numpy()
    demand_out.attrs["source_columns"] = [str(c) for c in d.columns if c != d.geometry.name]

    s = projected["sites"]
    sref = layers.sites
    if sref.land_type is not None:
        lt = s[sref.land_type].astype("string").str.strip()
        lt = lt.mask(lt.isna() | (lt == ""), sref.default_land_type)
        land = lt.astype(str).to_numpy()
    else:
        land = np.full(len(s), sref.default_land_type, dtype=object)
    poly_area = np.where(
        s.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy(), s.geometry.area.to_numpy(), np.nan
    )
    area = poly_area
    if sref.area is not None:
        col = s[sref.area].to_numpy(dtype=np.float64)
        area = np.where(np.isnan(col), poly_area, col)
    cost = s[sref.cost].to_numpy(dtype=np.float64) if sref.cost is not None else np.full(len(s), np.nan)
    sites_out = _frame(s, {"land_type": land.astype(str), "area_m2": area, "site_cost": cost}, crs)

    existing_out = None
    if "existing" in projected:
        e = projected["existing"]
        assert layers.existing is not None
        svc = e[layers.existing.service].astype("string").str.strip().fillna("").astype(str).to_numpy()
        existing_out = _frame(e, {"service": svc}, crs)

    streets_out = None
    if "streets" in projected:
        st = projected["streets"]
        length = (
            st[layers.streets.length].to_numpy(dtype=np.float64)  # type: ignore[union-attr]
            if layers.streets is not None and layers.streets.length is not None
            else np.full(len(st), np.nan)
        )
        import geopandas as gpd

        streets_out = gpd.GeoDataFrame({"length_m": length}, geometry=st.geometry.values, crs=crs, index=st.index)

    files: list[Path] = []
    warnings: list[str] = []
    for gdf in read.values():
        files.extend(_companions(Path(gdf.attrs["path"])))
        warnings.extend(gdf.attrs.get("warnings", []))
    if streets_pbf is not None:
        files.append(streets_pbf)
    return LoadedLayers(
        crs=crs,
        demand=demand_out,
        sites=sites_out,
        existing=existing_out,
        streets=streets_out,
        streets_pbf=streets_pbf,
        lonlat_bbox=demand_box_ll,
        files=files,
        warnings=warnings,
        background={r: projected[r][[projected[r].geometry.name]] for r in BACKGROUND_ROLES if r in projected},
    )


def _frame(gdf: Any, columns: dict[str, Any], crs: pyproj.CRS) -> Any:
    import geopandas as gpd

    pts = _points(gdf)
    out = gpd.GeoDataFrame(columns, geometry=pts.values, crs=crs, index=gdf.index.copy())
    return out


def xy(gdf: Any) -> NDArray[np.float64]:
    """(k, 2) coordinates of a point layer."""
    return np.column_stack([gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()]).astype(np.float64)
