"""``plan.gpkg``: the plan as GIS layers that open directly in QGIS.

Layers (all in the scenario's metric CRS, every one with its CRS set):

``chosen_sites``
    The rows of ``plan.csv`` (every column, in the plan's order) joined to the site's point.
``candidates``
    Every candidate site: ``site_id``, ``land_type``, ``area_m2``, ``chosen`` (1 if chosen for any
    service), ``chosen_for`` (services, comma-separated), one ``why_<service>`` column per service
    and ``why_not`` (the ``service=reason`` pairs of the services it was not chosen for). Reasons:

    * ``chosen``;
    * ``ineligible_land_type``: the service does not accept the site's land type;
    * ``too_small``: the site's area is below the service's ``min_area_m2`` (or unknown);
    * ``off_network``: the site is farther than ``distance.max_snap_m`` from every street;
    * ``not_needed``: every person of the group the site reaches is already within reach of the plan;
    * ``over_budget``: it would add people but costs more than the budget left
      (``budget - sum of the chosen sites' costs``, per service and in total);
    * ``site_limit``: it would add people and fits the budget, but ``max_sites`` new sites are chosen;
    * ``not_chosen``: it would add people and fits every limit, yet another combination scored
      better under the scenario's objective (p-median, least cost, or a solve stopped by its limit).
``demand``
    Every demand point: ``demand_id``, area columns found in the demand file (``community_id``,
    ``district``, ``grid_id``, ... if present), the people of every demand group, and per service
    ``covered_before_<service>`` (1 if within the service's reach of an existing facility),
    ``covered_<service>`` (1 if within the service's reach of an open facility, existing or new)
    and ``dist_<service>_m``: the walking (or straight-line) distance to the nearest open facility of
    the service, blank when it is farther than the distances the run measured (the largest reach).
``existing``
    Existing facilities: ``facility_id``, ``service`` (the layer's value) and ``counts_for`` (the
    scenario services it counts for).
``streets``
    The street lines the walking network was built from (only when ``layers.streets`` is a lines
    layer; an ``.osm.pbf`` extract is not copied).
``chosen_plots``
    The chosen sites as the plots (polygons) of the sites layer, one row per plot: ``site_id``,
    ``name`` (when the data have names), ``services`` (comma-separated), ``service`` (the first, for
    styling), ``rank`` (the best rank on the plot), ``land_type``, ``area_m2``. Only when the sites
    layer has polygons.
``catchments``, ``served_by``
    The walking reach of every open facility, and a line from each covered demand point to its
    nearest facility per service (:mod:`scenarios.outputs.reach_layers`).
``demand_areas``
    The demand layer's polygons (buildings, residential blocks) with ``demand_id``, when the demand
    file has polygons: the map's background.
``water``, ``green``
    The scenario's ``layers.water`` and ``layers.green`` (sea, lakes, rivers; parks, woods, grass) with
    ``area_id``, when the scenario names them: the map's background, pale blue and pale green.
``layer_styles``
    A table (no geometry) with a QGIS style (QML and SLD) for every layer above, which QGIS applies
    when a layer is opened (:mod:`scenarios.outputs.gis_styles`).

Site names: ``chosen_sites`` and ``candidates`` carry a ``name`` column when the sites layer has one
(:data:`NAME_COLUMNS`, first found).

Attribute tables are deterministic: rows sorted (plan order; ids in natural order), a fixed column
order and fixed dtypes. GDAL's ``OGR_CURRENT_DATE`` is pinned while writing, so the GeoPackage's
``last_change`` stamps do not vary either and two runs give byte-identical files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.scenarios.geodata.layers import natural_key

LAYERS = (
    "chosen_sites",
    "chosen_plots",
    "catchments",
    "served_by",
    "candidates",
    "demand",
    "existing",
    "streets",
    "demand_areas",
    "water",
    "green",
)
#: Columns of the sites layer that name a site, first found wins.
NAME_COLUMNS = ("name", "name_zh", "name_en", "site_name", "名称")
#: Columns of the demand file that name an area, finest first; the report groups uncovered people by them.
AREA_COLUMNS = (
    "community_id",
    "community",
    "community_name",
    "neighbourhood",
    "neighborhood",
    "residential_area",
    "subdistrict",
    "street_office",
    "grid_id",
    "district",
    "area_id",
    "area_name",
    "zone",
    "社区",
    "小区",
    "街道",
    "片区",
    "区",
)
#: The GeoPackage ``last_change`` stamp written while :func:`write_gpkg` runs (see the module docstring).
FIXED_GPKG_DATE = "2000-01-01T00:00:00.000Z"
REASON_CODES = (
    "chosen",
    "ineligible_land_type",
    "too_small",
    "off_network",
    "not_needed",
    "over_budget",
    "site_limit",
    "not_chosen",
    "ineligible",
    "service_not_solved",
)


# ------------------------------------------------------------------------------ helpers
def _natural_order(ids: Any) -> NDArray[np.int64]:
    keys = [natural_key(v) for v in ids]
    return np.asarray(sorted(range(len(keys)), key=lambda k: keys[k]), dtype=np.int64)


def row_min(d: Any, cols: NDArray[np.int64]) -> NDArray[np.float64]:
    """``min_{j in cols} d_ij`` per row; ``inf`` where no pair is stored (sparse) or all are inf (dense).

    Sparse ``d`` holds only the measured pairs (explicit zeros are real zero distances), so the
    minimum runs over stored entries only, with ``numpy.minimum.reduceat`` on the CSR rows.
    """
    n = d.shape[0]
    out = np.full(n, np.inf)
    if cols.size == 0 or n == 0:
        return out
    if sp.issparse(d):
        sub = sp.csr_array(d)[:, cols]
        sub = sp.csr_array(sub)
        counts = np.diff(sub.indptr)
        full = counts > 0
        if full.any():
            out[full] = np.minimum.reduceat(np.asarray(sub.data, dtype=np.float64), sub.indptr[:-1][full])
        return out
    dense = np.asarray(d, dtype=np.float64)[:, cols]
    return dense.min(axis=1)


def _accepts(svc: Any, land: NDArray[Any]) -> NDArray[np.bool_]:
    """Land types a service accepts (the rule of :func:`scenarios.build.build`)."""
    if svc.eligible_land_types is not None:
        return np.isin(land, list(svc.eligible_land_types))
    if svc.default_cost is not None:
        return np.ones(len(land), dtype=bool)
    return np.isin(land, list(svc.cost_by_land_type))


def _plan_sites(plan: pd.DataFrame, service: str) -> list[str]:
    if plan is None or plan.empty or "service" not in plan.columns or "site_id" not in plan.columns:
        return []
    rows = plan[plan["service"].astype(str) == service]
    return [str(v) for v in rows["site_id"].tolist()]


def service_state(pb: Any, chosen_ids: list[str]) -> dict[str, Any]:
    """Coverage of one service under the plan, from its built instance.

    Columns of the instance are the eligible candidate sites, then the service's existing facilities;
    the open set is the existing facilities plus the chosen sites. Returns ``covered`` (n,) (within
    ``reach_m`` of an open column), ``covered_before`` (n,) (within reach of an existing facility),
    ``nearest`` (n,) (distance to the nearest open column, inf if
    none was measured), ``gain`` (m,) (people of the group each column would add to ``covered``),
    ``open`` (m,) and ``cost`` (m,).
    """
    inst = pb.instance
    ids = np.asarray([str(v) for v in inst.site_ids], dtype=object)
    col_of = {v: j for j, v in enumerate(ids)}
    chosen_cols = [col_of[s] for s in chosen_ids if s in col_of]
    is_open = np.asarray(inst.existing, dtype=bool).copy()
    is_open[np.asarray(chosen_cols, dtype=np.int64)] = True
    cols = np.flatnonzero(is_open).astype(np.int64)
    cover = sp.csc_array(inst.coverage(pb.reach_m))
    covered = np.zeros(inst.n, dtype=bool)
    if cols.size:
        covered = np.asarray(cover[:, cols].sum(axis=1)).ravel() > 0
    before = np.zeros(inst.n, dtype=bool)
    ex_cols = np.flatnonzero(np.asarray(inst.existing, dtype=bool))
    if ex_cols.size:
        before = np.asarray(cover[:, ex_cols].sum(axis=1)).ravel() > 0
    nearest = row_min(inst.distances, cols)
    w = np.asarray(inst.weights, dtype=np.float64)
    gain = np.asarray(cover.T @ np.where(covered, 0.0, w), dtype=np.float64).ravel()
    return {
        "covered": covered,
        "covered_before": before,
        "nearest": nearest,
        "gain": gain,
        "open": is_open,
        "cost": np.asarray(inst.cost, float),
        "col_of": col_of,
    }


# ------------------------------------------------------------------------------ the layers
def area_columns(built: Any) -> pd.DataFrame:
    """Area columns (:data:`AREA_COLUMNS`) of the demand file, indexed by demand id, as text; may be empty."""
    from siting.models.errors import SitingError
    from siting.scenarios.geodata.layers import read_layer

    ids = pd.Index(built.layers.demand.index.astype(str), name="id")
    try:
        raw = read_layer(built.scenario.layers.demand, built.base_dir, "demand", built.source)
    except (SitingError, OSError, ValueError):
        return pd.DataFrame(index=ids)
    lower = {str(c).lower(): c for c in raw.columns if c != raw.geometry.name}
    found = [lower[c.lower()] for c in AREA_COLUMNS if c.lower() in lower]
    out = pd.DataFrame(index=ids)
    raw_ids = pd.Index(raw.index.astype(str))
    for col in found[:2]:
        values = pd.Series(raw[col].to_numpy(), index=raw_ids).reindex(ids)
        out[str(col)] = [("" if pd.isna(v) else str(v)) for v in values]
    return out


def site_shapes(built: Any) -> tuple[Any, pd.Series]:
    """The sites layer's polygons in the run's CRS (a GeoSeries by site id, or None when it has no
    polygons) and site names (:data:`NAME_COLUMNS`, text by site id; empty when there are none)."""
    from siting.models.errors import SitingError
    from siting.scenarios.geodata.layers import read_layer

    ids = pd.Index(built.layers.sites.index.astype(str))
    names = pd.Series("", index=ids, dtype=object)
    try:
        raw = read_layer(built.scenario.layers.sites, built.base_dir, "sites", built.source)
    except (SitingError, OSError, ValueError):
        return None, names
    raw_ids = pd.Index(raw.index.astype(str))
    lower = {str(c).lower(): c for c in raw.columns if c != raw.geometry.name}
    found = next((lower[c.lower()] for c in NAME_COLUMNS if c.lower() in lower), None)
    if found is not None:
        values = pd.Series(raw[found].to_numpy(), index=raw_ids)
        values = values[~values.index.duplicated()].reindex(ids)
        names = pd.Series([("" if pd.isna(v) else str(v)) for v in values], index=ids, dtype=object)
    polys = raw.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not polys.any() or raw.crs is None:
        return None, names
    import shapely

    shapes = raw.geometry[polys].to_crs(built.layers.crs)
    series = pd.Series(shapely.make_valid(np.asarray(shapes.values)), index=raw_ids[polys])
    return series[~series.index.duplicated()], names


def demand_shapes(built: Any) -> Any:
    """The demand file's polygons (buildings, blocks) in the run's CRS, as a GeoDataFrame with
    ``demand_id`` in natural order; None when the demand layer has points only."""
    import geopandas as gpd
    import shapely

    from siting.models.errors import SitingError
    from siting.scenarios.geodata.layers import read_layer

    try:
        raw = read_layer(built.scenario.layers.demand, built.base_dir, "demand", built.source)
    except (SitingError, OSError, ValueError):
        return None
    polys = raw.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not polys.any() or raw.crs is None:
        return None
    shapes = raw.geometry[polys].to_crs(built.layers.crs)
    ids = np.asarray(raw.index.astype(str), dtype=object)[polys]
    order = _natural_order(ids)
    return gpd.GeoDataFrame(
        {"demand_id": ids[order].astype(str)},
        geometry=gpd.GeoSeries(shapely.make_valid(np.asarray(shapes.values)[order]), crs=built.layers.crs),
        crs=built.layers.crs,
    )


def plan_layers(built: Any, plan: pd.DataFrame) -> tuple[dict[str, Any], list[str]]:
    """The GIS layers of a finished run (see the module docstring).

    Parameters
    ----------
    built : the :class:`scenarios.build.BuiltScenario` the run solved.
    plan : the plan table as written to ``plan.csv`` (columns are read by name; extra ones are kept).

    Returns
    -------
    layers : layer name -> GeoDataFrame, in :data:`LAYERS` order (``existing`` and ``streets`` only when present).
    notes : what could not be written, for the run's warnings.
    """
    import geopandas as gpd

    crs = built.layers.crs
    sites = built.layers.sites
    demand = built.layers.demand
    body = built.scenario
    services = [s for s in body.services]
    notes: list[str] = []
    site_ids = np.asarray(sites.index.astype(str), dtype=object)
    land = sites["land_type"].to_numpy().astype(str)
    area = sites["area_m2"].to_numpy(dtype=np.float64)
    unsnapped = set(built.unsnapped_sites)
    states = {name: service_state(pb, _plan_sites(plan, name)) for name, pb in built.services.items()}

    # ---- chosen sites: plan rows (their own columns and order) + the site's point
    plan_df = plan.copy() if plan is not None else pd.DataFrame(columns=["service", "rank", "site_id"])
    plan_df = plan_df.reset_index(drop=True)
    if "site_id" in plan_df.columns:
        plan_df["site_id"] = plan_df["site_id"].astype(str)
    geom_of = pd.Series(sites.geometry.values, index=site_ids)
    missing = [s for s in plan_df.get("site_id", pd.Series(dtype=str)) if s not in geom_of.index]
    if missing:
        notes.append(f"plan.gpkg: chosen sites without a geometry in the sites layer: {', '.join(missing[:10])}")
    chosen_geom = [geom_of.get(s) for s in plan_df.get("site_id", pd.Series(dtype=str))]
    shapes, site_names = site_shapes(built)
    if (site_names != "").any() and "site_id" in plan_df.columns and "name" not in plan_df.columns:
        plan_df.insert(plan_df.columns.get_loc("site_id") + 1, "name", plan_df["site_id"].map(site_names).fillna(""))
    chosen = gpd.GeoDataFrame(plan_df, geometry=gpd.GeoSeries(chosen_geom, crs=crs), crs=crs)

    # ---- candidates: why each site was (not) chosen, per service
    n_sites = len(site_ids)
    why: dict[str, NDArray[Any]] = {}
    plan_cost_total = 0.0
    if "cost" in plan_df.columns and len(plan_df):
        plan_cost_total = float(pd.to_numeric(plan_df["cost"], errors="coerce").fillna(0.0).sum())
    total_left = None if body.budget.total is None else float(body.budget.total) - plan_cost_total
    for name in services:
        svc = body.services[name]
        reason = np.full(n_sites, "service_not_solved", dtype=object)
        pb = built.services.get(name)
        if pb is not None:
            st = states[name]
            accepted = _accepts(svc, land)
            big = (area >= svc.min_area_m2) if svc.min_area_m2 > 0 else np.ones(n_sites, dtype=bool)
            reason[:] = "ineligible"
            reason[~accepted] = "ineligible_land_type"
            reason[accepted & ~big] = "too_small"
            off = np.isin(site_ids, list(unsnapped)) if unsnapped else np.zeros(n_sites, dtype=bool)
            reason[accepted & big & off] = "off_network"
            chosen_ids = set(_plan_sites(plan, name))
            spent = float(st["cost"][[st["col_of"][s] for s in chosen_ids if s in st["col_of"]]].sum())
            left = None if pb.budget is None else float(pb.budget) - spent
            n_new = len(chosen_ids)
            for k, sid in enumerate(site_ids):  # a loop over sites (not pairs)
                j = st["col_of"].get(sid)
                if j is None:
                    continue
                if sid in chosen_ids:
                    reason[k] = "chosen"
                elif st["gain"][j] <= 1e-9:
                    reason[k] = "not_needed"
                elif (left is not None and st["cost"][j] > left + 1e-9) or (
                    total_left is not None and st["cost"][j] > total_left + 1e-9
                ):
                    reason[k] = "over_budget"
                elif pb.max_sites is not None and n_new >= pb.max_sites:
                    reason[k] = "site_limit"
                else:
                    reason[k] = "not_chosen"
        why[name] = reason
    chosen_for = [",".join(s for s in services if why[s][k] == "chosen") for k in range(n_sites)]
    why_not = ["; ".join(f"{s}={why[s][k]}" for s in services if why[s][k] != "chosen") for k in range(n_sites)]
    cand_cols: dict[str, Any] = {
        "site_id": site_ids.astype(str),
        "land_type": land,
        "area_m2": area,
        **({"name": site_names.reindex(pd.Index(site_ids)).fillna("").to_numpy()} if (site_names != "").any() else {}),
        "chosen": np.array([1 if c else 0 for c in chosen_for], dtype=np.int32),
        "chosen_for": np.asarray(chosen_for, dtype=object),
    }
    for name in services:
        cand_cols[f"why_{name}"] = why[name].astype(str)
    cand_cols["why_not"] = np.asarray(why_not, dtype=object)
    order = _natural_order(site_ids)
    candidates = gpd.GeoDataFrame(
        {k: np.asarray(v)[order] for k, v in cand_cols.items()},
        geometry=gpd.GeoSeries(sites.geometry.values[order], crs=crs),
        crs=crs,
    )

    # ---- demand: people, coverage and distance to the nearest facility per service
    d_ids = np.asarray(demand.index.astype(str), dtype=object)
    dem_cols: dict[str, Any] = {"demand_id": d_ids.astype(str)}
    areas = area_columns(built)
    for col in areas.columns:
        dem_cols[col] = areas[col].reindex(pd.Index(d_ids)).fillna("").to_numpy().astype(str)
    for group in body.layers.demand.groups:
        dem_cols[group] = demand[group].to_numpy(dtype=np.float64)
    for name in services:
        if name not in states:
            continue
        st = states[name]
        dem_cols[f"covered_before_{name}"] = st["covered_before"].astype(np.int32)
        dem_cols[f"covered_{name}"] = st["covered"].astype(np.int32)
        near = st["nearest"]
        dem_cols[f"dist_{name}_m"] = np.where(np.isfinite(near), np.round(near, 1), np.nan)
    order = _natural_order(d_ids)
    demand_layer = gpd.GeoDataFrame(
        {k: np.asarray(v)[order] for k, v in dem_cols.items()},
        geometry=gpd.GeoSeries(demand.geometry.values[order], crs=crs),
        crs=crs,
    )

    layers: dict[str, Any] = {"chosen_sites": chosen}
    plots = chosen_plots(chosen, shapes, crs)
    if plots is not None:
        layers["chosen_plots"] = plots
    from siting.scenarios.outputs.reach_layers import reach_layers

    ranks: dict[tuple[str, str], Any] = {}
    if {"service", "site_id", "rank"} <= set(plan_df.columns):
        ranks = dict(zip(zip(plan_df["service"].astype(str), plan_df["site_id"].astype(str)), plan_df["rank"]))
    layers["catchments"], layers["served_by"] = reach_layers(built, states, ranks)
    layers.update({"candidates": candidates, "demand": demand_layer})

    # ---- existing facilities
    ex = built.layers.existing
    if ex is not None and len(ex):
        ex_ids = np.asarray(ex.index.astype(str), dtype=object)
        counts_for = []
        members = {name: {str(v) for v in pb.existing_ids} for name, pb in built.services.items()}
        for fid in ex_ids:
            counts_for.append(",".join(s for s in services if fid in members.get(s, set())))
        order = _natural_order(ex_ids)
        layers["existing"] = gpd.GeoDataFrame(
            {
                "facility_id": ex_ids.astype(str)[order],
                "service": ex["service"].to_numpy().astype(str)[order],
                "counts_for": np.asarray(counts_for, dtype=object)[order].astype(str),
            },
            geometry=gpd.GeoSeries(ex.geometry.values[order], crs=crs),
            crs=crs,
        )

    # ---- streets
    st_layer = built.layers.streets
    if st_layer is not None and len(st_layer):
        length = (
            st_layer["length_m"].to_numpy(dtype=np.float64)
            if "length_m" in st_layer
            else np.full(len(st_layer), np.nan)
        )
        length = np.where(np.isnan(length), st_layer.geometry.length.to_numpy(dtype=np.float64), length)
        layers["streets"] = gpd.GeoDataFrame(
            {"street_id": np.asarray(st_layer.index.astype(str)), "length_m": np.round(length, 2)},
            geometry=gpd.GeoSeries(st_layer.geometry.values, crs=crs),
            crs=crs,
        )
    elif built.layers.streets_pbf is not None:
        notes.append("plan.gpkg: the streets come from an .osm.pbf extract and are not copied into the streets layer")
    areas = demand_shapes(built)
    if areas is not None and len(areas):
        layers["demand_areas"] = areas
    for name, shapes in sorted(getattr(built.layers, "background", {}).items(), key=lambda kv: LAYERS.index(kv[0])):
        order = _natural_order(np.asarray(shapes.index.astype(str)))
        layers[name] = gpd.GeoDataFrame(
            {"area_id": np.asarray(shapes.index.astype(str))[order]},
            geometry=gpd.GeoSeries(shapes.geometry.values[order], crs=crs),
            crs=crs,
        )
    return layers, notes


def chosen_plots(chosen: Any, shapes: Any, crs: Any) -> Any:
    """One polygon per chosen plot (module docstring), or None when the sites layer has no polygons."""
    import geopandas as gpd

    if shapes is None or not len(chosen) or "site_id" not in chosen.columns:
        return None
    frame = pd.DataFrame(chosen.drop(columns=chosen.geometry.name))
    frame = frame[frame["site_id"].isin(shapes.index)]
    if frame.empty:
        return None
    rank = (
        pd.to_numeric(frame["rank"], errors="coerce")
        if "rank" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    frame = frame.assign(_rank=rank)
    rows = []
    for sid, grp in frame.groupby("site_id", sort=False):  # a loop over chosen plots
        grp = grp.sort_values("_rank", kind="stable")
        services = [str(v) for v in grp["service"]] if "service" in grp.columns else []
        rows.append(
            {
                "site_id": str(sid),
                **({"name": str(grp["name"].iloc[0])} if "name" in grp.columns else {}),
                "services": ",".join(dict.fromkeys(services)),
                "service": services[0] if services else "",
                "rank": float(grp["_rank"].min()),
                **({"land_type": str(grp["land_type"].iloc[0])} if "land_type" in grp.columns else {}),
                **(
                    {"area_m2": float(pd.to_numeric(grp["area_m2"], errors="coerce").iloc[0])}
                    if "area_m2" in grp.columns
                    else {}
                ),
            }
        )
    table = pd.DataFrame(rows)
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(shapes.reindex(table["site_id"]).values, crs=crs), crs=crs)


# ------------------------------------------------------------------------------ reading / writing
def layer_services(layers: dict[str, Any]) -> list[str]:
    """The run's services, in order, from the demand layer's ``covered_<service>`` columns (else the plan)."""
    demand = layers.get("demand")
    if demand is not None:
        found = [
            c[len("covered_") :]
            for c in demand.columns
            if c.startswith("covered_") and not c.startswith("covered_before_")
        ]
        if found:
            return found
    chosen = layers.get("chosen_sites")
    if chosen is not None and "service" in chosen.columns:
        return list(dict.fromkeys(str(v) for v in chosen["service"]))
    return []


def write_gpkg(layers: dict[str, Any], path: str | Path | None = None) -> bytes:
    """Write ``layers`` into one GeoPackage and return its bytes (also left at ``path`` when given).

    The QGIS styles of every layer follow in the ``layer_styles`` table
    (:func:`scenarios.outputs.gis_styles.styles_table`). ``OGR_CURRENT_DATE`` is pinned to
    :data:`FIXED_GPKG_DATE` while writing (and restored after), so the file does not depend on the clock.
    """
    import pyogrio

    from siting.scenarios.outputs.gis_styles import STYLE_TABLE, styles_table

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    with tempfile.TemporaryDirectory(prefix="siting-gpkg-") as tmp:
        target = Path(path) if path is not None else Path(tmp) / "plan.gpkg"
        if target.exists():
            target.unlink()
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_GPKG_DATE})
        try:
            for name, gdf in layers.items():
                frame = gdf
                if frame.crs is None:
                    raise ValueError(f"plan.gpkg: layer {name} has no CRS")
                pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG")
            table = styles_table(layers, layer_services(layers))
            pyogrio.write_dataframe(table, target, layer=STYLE_TABLE, driver="GPKG", layer_options={"FID": "id"})
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
        return target.read_bytes()


def read_gpkg(path: str | Path) -> dict[str, Any]:
    """Every spatial layer of a ``plan.gpkg``, as GeoDataFrames in :data:`LAYERS` order (not ``layer_styles``)."""
    import pyogrio

    names = [str(n) for n, kind in pyogrio.list_layers(path) if kind is not None]  # not the layer_styles table
    ordered = [n for n in LAYERS if n in names] + [n for n in names if n not in LAYERS]
    return {n: pyogrio.read_dataframe(path, layer=n) for n in ordered}


__all__ = [
    "AREA_COLUMNS",
    "LAYERS",
    "NAME_COLUMNS",
    "REASON_CODES",
    "area_columns",
    "chosen_plots",
    "demand_shapes",
    "layer_services",
    "plan_layers",
    "read_gpkg",
    "row_min",
    "service_state",
    "site_shapes",
    "write_gpkg",
]
