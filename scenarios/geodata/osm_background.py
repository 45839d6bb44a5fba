"""Water and green areas of an OpenStreetMap extract: the background layers ``water`` and ``green``.

They are drawn under the streets on map.png, in the report's interactive map and in plan.gpkg,
so the map reads like a map without any web tiles. Tags (any one suffices):

* water: ``natural=water|bay``, ``water=*``, ``waterway=riverbank|dock``, ``landuse=reservoir|basin``,
  and the sea: OSM has no sea polygons, only ``natural=coastline`` ways with the land on their left;
  the box read is cut along the coastline and the faces on the sea side are kept (:func:`sea_polygons`);
* green: ``leisure=park|garden|playground|common``, ``landuse=grass|forest|recreation_ground|meadow|
  village_green|cemetery``, ``natural=wood|scrub|grassland``.

Only polygons count (a ``waterway=stream`` line is no area); each is clipped to the box read and
repaired with ``make_valid``. An extract without such tags gives empty layers, which
``siting prepare osm`` does not write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely

WATER_TAGS: dict[str, Any] = {
    "natural": ["water", "bay"],
    "water": True,
    "waterway": ["riverbank", "dock"],
    "landuse": ["reservoir", "basin"],
}
GREEN_TAGS: dict[str, Any] = {
    "leisure": ["park", "garden", "playground", "common"],
    "landuse": ["grass", "forest", "recreation_ground", "meadow", "village_green", "cemetery"],
    "natural": ["wood", "scrub", "grassland"],
}
#: The sea is cut from a box this share of the box's size inside the box read (see :func:`sea_polygons`).
SEA_INSET = 0.005
#: A coastline ending this share of the box's width + height from the cut box's edge is drawn on to it.
SEA_SNAP = 0.01
#: Columns of both layers.
BACKGROUND_COLUMNS = ["id", "osm_id", "kind", "name"]
_TAG_KEYS = ("natural", "water", "waterway", "landuse", "leisure")


def _matches(frame: Any, tags: dict[str, Any]) -> np.ndarray:
    """Rows carrying any of ``tags`` (key -> list of values, or True for any value)."""
    hit = np.zeros(len(frame), dtype=bool)
    for key, values in tags.items():
        if key not in frame.columns:
            continue
        col = frame[key]
        hit |= (col.notna() & (col.astype(str) != "")).to_numpy() if values is True else col.isin(values).to_numpy()
    return hit


def _kind(frame: Any, tags: dict[str, Any]) -> np.ndarray:
    """The first matching ``key=value`` of each row (for the layer's ``kind`` column)."""
    kind = np.full(len(frame), "", dtype=object)
    for key, values in tags.items():
        if key not in frame.columns:
            continue
        col = frame[key]
        hit = (col.notna() & (col.astype(str) != "")).to_numpy() if values is True else col.isin(values).to_numpy()
        new = hit & (kind == "")
        kind[new] = key + "=" + col[new].astype(str).to_numpy()
    return kind


def _reach_edge(line: Any, frame: Any, snap: float) -> Any:
    """``line`` with each end that stops inside ``frame`` within ``snap`` of its edge drawn on past the edge."""
    out = []
    for part in shapely.get_parts(line):  # a loop over the few coastline ways
        xy = shapely.get_coordinates(part)
        if len(xy) < 2:
            continue
        ends = []
        for p in (xy[0], xy[-1]):
            pt = shapely.Point(p)
            edge = frame.exterior
            if shapely.within(pt, frame) and edge.distance(pt) <= snap:
                q = np.asarray(shapely.get_coordinates(edge.interpolate(edge.project(pt)))[0])
                step = q - p
                norm = float(np.hypot(*step)) or 1.0
                ends.append(q + step / norm * max(1e-6 * snap, 0.01))
            else:
                ends.append(None)
        head = [ends[0]] if ends[0] is not None else []
        tail = [ends[1]] if ends[1] is not None else []
        out.append(shapely.LineString(np.vstack([*head, xy, *tail])))
    return shapely.union_all(out) if out else line


def sea_polygons(coastlines: Sequence[Any], box: tuple[float, float, float, float]) -> list[Any]:
    """The sea inside ``box`` (minx, miny, maxx, maxy) from coastline lines in the same CRS.

    OSM draws a coastline with the land on its left. The box (less :data:`SEA_INSET` of its size on
    every side, since an extract's coastline stops just inside it) is cut along the lines into faces
    (``shapely.polygonize`` of the box's boundary and the lines, noded together); a point a hair to
    the right of each coastline segment votes its face as sea, a point to the left as land, and a
    face with more sea votes than land votes is sea.
    """
    lines = [g for g in coastlines if g is not None and not g.is_empty]
    if not lines:
        return []
    # an extract cut to a box ends its coastline a few metres inside the box: cut a box a little
    # smaller, so that the lines cross its edge and close the faces
    inset = SEA_INSET * max(box[2] - box[0], box[3] - box[1])
    frame = shapely.box(box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset)
    coast = shapely.union_all([_reach_edge(g, frame, SEA_SNAP * (box[2] - box[0] + box[3] - box[1])) for g in lines])
    cut = shapely.intersection(coast, frame)
    if cut.is_empty:
        return []
    # the whole lines are noded with the frame (a clipped end would only touch it, within rounding)
    noded = shapely.union_all([coast, frame.boundary])
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))))
    faces = faces[shapely.within(shapely.point_on_surface(faces), frame)] if len(faces) else faces
    if not len(faces):
        return []
    xy, ring = shapely.get_coordinates(shapely.get_parts(cut), return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    ok = length > 0
    a, d, length = a[ok], d[ok], length[ok]
    if not len(a):
        return []
    mid = a + d / 2.0
    eps = min(0.01 * float(np.median(length)), 1e-6 * max(box[2] - box[0], box[3] - box[1]) + 1e-9)
    right = np.column_stack([d[:, 1], -d[:, 0]]) / length[:, None] * eps
    tree = shapely.STRtree(faces)
    votes = np.zeros(len(faces))
    for side, sign in ((mid + right, 1.0), (mid - right, -1.0)):
        pts, face = tree.query(shapely.points(side), predicate="within")
        np.add.at(votes, face, sign * np.ones(len(pts)))
    return list(faces[votes > 0])


def background_layers(osm: Any, target: pyproj.CRS, box_ll: tuple[float, float, float, float]) -> dict[str, Any]:
    """``{"water": GeoDataFrame, "green": GeoDataFrame}`` of an opened pyrosm extract, in ``target``.

    Parameters
    ----------
    osm : a ``pyrosm.OSM`` of the extract (its bounding box, if any, already applied).
    target : the metric CRS of the other layers.
    box_ll : (west, south, east, north) in degrees: the area read; polygons are clipped to it.

    Returns
    -------
    dict of GeoDataFrames with :data:`BACKGROUND_COLUMNS` (``id`` is ``way/<osm id>`` or
    ``relation/<osm id>``, ``sea/<n>`` for the sea), possibly empty.
    """
    import geopandas as gpd

    from siting.scenarios.geodata.osm import quiet_read

    wanted: dict[str, Any] = {}
    for tags in (WATER_TAGS, GREEN_TAGS):
        for key, values in tags.items():
            old = wanted.get(key)
            wanted[key] = True if (values is True or old is True) else sorted(set(old or []) | set(values))
    wanted["natural"] = sorted({*wanted["natural"], "coastline"})
    raw = quiet_read(
        osm.get_data_by_custom_criteria,
        custom_filter=wanted,
        tags_as_columns=[*_TAG_KEYS, "name"],
        keep_nodes=False,
    )
    frame_ll = shapely.box(*box_ll)
    local_box = gpd.GeoSeries([frame_ll], crs=4326).to_crs(target).total_bounds
    out: dict[str, Any] = {}
    empty = gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in BACKGROUND_COLUMNS}, geometry=[], crs=target)
    if raw is None or not len(raw):
        return {"water": empty, "green": empty.copy()}
    raw = raw[raw.geometry.notna() & ~raw.geometry.is_empty].to_crs(target)
    natural = raw["natural"] if "natural" in raw.columns else pd.Series("", index=raw.index)
    coast = (natural == "coastline").to_numpy()
    polygons = raw.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    for name, tags in (("water", WATER_TAGS), ("green", GREEN_TAGS)):
        keep = polygons & _matches(raw, tags) & ~coast
        part = raw[keep]
        geoms = shapely.make_valid(np.asarray(part.geometry.values))
        geoms = shapely.clip_by_rect(geoms, *local_box)
        geoms = np.asarray(
            [shapely.union_all(shapely.get_parts(g)[shapely.get_type_id(shapely.get_parts(g)) == 3]) for g in geoms],
            dtype=object,
        )  # the polygons of each (make_valid and clipping may leave lines or points beside them)
        ok = ~shapely.is_empty(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6))
        osm_type = part["osm_type"].astype(str).to_numpy() if "osm_type" in part.columns else np.full(len(part), "way")
        table = pd.DataFrame(
            {
                "id": np.char.add(
                    np.char.add(osm_type.astype(str), "/"), part["id"].astype("int64").astype(str).to_numpy()
                ),
                "osm_id": part["id"].astype("int64").to_numpy(),
                "kind": _kind(part, tags),
                "name": part["name"].astype(object).where(part["name"].notna(), None).to_numpy()
                if "name" in part.columns
                else None,
            }
        )[ok]
        layer = gpd.GeoDataFrame(table.reset_index(drop=True), geometry=list(geoms[ok]), crs=target)
        if name == "water" and coast.any():
            x0, y0, x1, y1 = (float(v) for v in local_box)
            sea = sea_polygons(list(raw.geometry.values[coast]), (x0, y0, x1, y1))
            if sea:
                rows = gpd.GeoDataFrame(
                    {
                        "id": [f"sea/{k + 1}" for k in range(len(sea))],
                        "osm_id": pd.array([None] * len(sea), dtype="Int64"),
                        "kind": "natural=coastline",
                        "name": None,
                    },
                    geometry=sea,
                    crs=target,
                )
                layer = gpd.GeoDataFrame(pd.concat([rows, layer], ignore_index=True), crs=target)
        out[name] = layer.drop_duplicates(subset="id").reset_index(drop=True)
    return out


__all__ = ["BACKGROUND_COLUMNS", "GREEN_TAGS", "WATER_TAGS", "background_layers", "sea_polygons"]
