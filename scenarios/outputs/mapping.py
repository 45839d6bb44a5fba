"""``map.png``: streets, existing facilities, chosen sites by service and rank, covered and uncovered residents.

The map is drawn from the layers of ``plan.gpkg`` (:mod:`scenarios.outputs.gpkg`) alone, so
``siting report OUTDIR`` redraws it from a finished run. It has an overview panel (every service's
new sites, a marker and a colour per service, numbered by rank; residents coloured by how many
services reach them) and one panel per service (its existing and new facilities, and its group's
people covered or not).

Output is deterministic: matplotlib's Agg canvas, a fixed width and dpi, a height that depends only
on the data's extent and the number of services, and no software or date stamp in the PNG.
With ``lang="zh"`` the labels are Chinese in Noto Sans SC, the font file shipped by the
``pylopdf-fonts-zh-cn`` dependency (SIL Open Font License 1.1; Noto Sans CJK's Simplified Chinese
subset) and registered with matplotlib at render time, so the map is the same on every machine
whatever fonts the system has. Only when that package is missing (an install without dependencies)
is a system CJK font looked for; with none, the labels fall back to English and a warning says so.
In either language the CJK font stands behind DejaVu Sans, so Chinese names in the data (areas)
are drawn, not boxes; any character no font has is reported as a warning, not dropped silently.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import warnings as _warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from siting.scenarios.outputs import i18n, palette
from siting.scenarios.outputs.fonts import find_cjk_font
from siting.scenarios.outputs.labels import draw_labels
from siting.scenarios.outputs.map_clusters import compact_clusters
from siting.scenarios.outputs.map_lod import compound_path
from siting.scenarios.outputs.palette import SERVICE_STYLE, service_styles

WIDTH_IN = 12.0
DPI = 100


def _nice_length(span: float) -> float:
    target = span / 5.0
    for v in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if v >= target:
            return float(v)
    return float(10 ** math.ceil(math.log10(max(target, 1.0))))


#: Title padding (points) of a panel whose far-apart areas are boxed: the area names sit above the boxes.
TITLE_PAD_BOXES = 14.0


def _draw_boxes(ax: Any, boxes: list[tuple[tuple[float, float, float, float], str]]) -> None:
    from matplotlib.patches import Rectangle

    for (x0, y0, x1, y1), label in boxes:
        ax.add_patch(
            Rectangle(
                (x0, y0),
                x1 - x0,
                y1 - y0,
                fill=False,
                edgecolor="#888888",
                linewidth=0.8,
                linestyle=(0, (4, 3)),
                zorder=0.5,
            )
        )
        if label:
            ax.text(x0, y1, " " + label, ha="left", va="bottom", fontsize=8, color="#444444", zorder=6)


def _extent(layers: dict[str, Any]) -> tuple[float, float, float, float]:
    boxes = [
        layers[k].total_bounds
        for k in ("demand", "candidates", "chosen_sites", "existing")
        if k in layers and len(layers[k]) and not layers[k].geometry.isna().all()
    ]
    if not boxes:
        return (0.0, 0.0, 1.0, 1.0)
    b = np.vstack(boxes)
    x0, y0 = float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1]))
    x1, y1 = float(np.nanmax(b[:, 2])), float(np.nanmax(b[:, 3]))
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pad = 0.05 * max(w, h)
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _lines(ax: Any, gdf: Any, colour: str, width: float, z: float) -> None:
    """Lines of a layer as one path (:func:`compound_path`): one artist however many streets."""
    import shapely
    from matplotlib.patches import PathPatch

    if gdf is None or not len(gdf):
        return
    parts = shapely.get_parts(np.asarray(gdf.geometry.values))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return
    path = compound_path(coords, index, closed=False)
    ax.add_artist(PathPatch(path, facecolor="none", edgecolor=colour, linewidth=width, zorder=z, capstyle="butt"))


#: From this many polygons of one colour, :func:`_polygons` draws one compound path.
COMPOUND_FROM = 500


def _polygons(ax: Any, gdf: Any, face: Any, edge: Any, width: float, z: float, alpha: float = 1.0) -> None:
    """Polygons (exteriors) of a layer as one PolyCollection; ``face`` one colour or one per row."""
    import shapely
    from matplotlib.collections import PolyCollection

    if gdf is None or not len(gdf):
        return
    geoms = np.asarray(gdf.geometry.values)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polys = shapely.get_type_id(parts) == 3
    parts, owner = parts[polys], owner[polys]
    if not len(parts):
        return
    rings = shapely.get_exterior_ring(parts)
    coords, index = shapely.get_coordinates(rings, return_index=True)
    if isinstance(face, str) and len(parts) > COMPOUND_FROM:
        # many polygons of one colour (buildings): one compound path, one artist
        from matplotlib.patches import PathPatch

        path = compound_path(coords, index, closed=True)
        ax.add_artist(PathPatch(path, facecolor=face, edgecolor=edge, linewidth=width, alpha=alpha, zorder=z))
        return
    cuts = np.flatnonzero(np.diff(index)) + 1
    faces = face if isinstance(face, str) else list(np.asarray(face, dtype=object)[owner])
    ax.add_collection(
        PolyCollection(
            np.split(coords, cuts), facecolors=faces, edgecolors=edge, linewidths=width, alpha=alpha, zorder=z
        )
    )


def _areas(ax: Any, gdf: Any, colour: str, z: float) -> None:
    """Polygons with their holes (an island in the sea stays land) as one compound path; lines as lines."""
    import shapely
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    if gdf is None or not len(gdf):
        return
    parts = shapely.get_parts(np.asarray(gdf.geometry.values))
    kinds = shapely.get_type_id(parts)
    lines = parts[np.isin(kinds, (1, 2))]
    if len(lines):
        import geopandas as gpd

        _lines(ax, gpd.GeoDataFrame(geometry=list(lines)), colour, 0.8, z)
    polys = shapely.orient_polygons(parts[kinds == 3])  # exteriors one way, holes the other: holes stay open
    if not len(polys):
        return
    coords, ring = shapely.get_coordinates(shapely.get_rings(polys), return_index=True)
    codes = np.full(len(coords), MplPath.LINETO, dtype=np.uint8)
    start = np.ones(len(ring), dtype=bool)
    start[1:] = ring[1:] != ring[:-1]
    codes[start] = MplPath.MOVETO
    end = np.append(start[1:], True)
    codes[end] = MplPath.CLOSEPOLY
    ax.add_patch(PathPatch(MplPath(coords, codes), facecolor=colour, edgecolor="none", linewidth=0, zorder=z))


def _background(ax: Any, layers: dict[str, Any]) -> None:
    """The scenario's own layers under the data: water, green, buildings or blocks, streets (offline, no tiles)."""
    _areas(ax, layers.get("water"), palette.WATER, 0.2)
    _areas(ax, layers.get("green"), palette.GREEN, 0.3)
    _polygons(ax, layers.get("demand_areas"), palette.BUILDING, "none", 0.0, 0.6)
    _lines(ax, layers.get("streets"), palette.STREET, 0.5, 1.0)


def _plots(ax: Any, layers: dict[str, Any], styles: dict[str, tuple[str, str]], only: str | None = None) -> None:
    """Chosen plots as their polygons, filled with the (first) service's colour."""
    plots = layers.get("chosen_plots")
    if plots is None or not len(plots) or "services" not in plots.columns:
        return
    if only is not None:
        plots = plots[plots["services"].fillna("").str.split(",").apply(lambda v: only in v)]
        if not len(plots):
            return
    first = [str(v).split(",")[0] if only is None else only for v in plots["services"].fillna("")]
    faces = [styles.get(s, ("o", "#777777"))[1] for s in first]
    _polygons(ax, plots, faces, palette.PLOT_EDGE, 0.6, 3.0, alpha=0.45)


def _frame(ax: Any, box: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")


#: Corners in the order they are preferred for the scale bar: lower left, lower right, upper left, upper right.
CORNERS = ("ll", "lr", "ul", "ur")


def corner_load(ax: Any, xy: Any, size: tuple[float, float]) -> dict[str, int]:
    """How many data points fall in each corner region of ``size`` (axes fractions) of ``ax``."""
    if xy is None or not len(xy):
        return dict.fromkeys(CORNERS, 0)
    frac = ax.transAxes.inverted().transform(ax.transData.transform(np.asarray(xy, dtype=float)))
    w, h = size
    left, right = frac[:, 0] <= w, frac[:, 0] >= 1 - w
    low, high = frac[:, 1] <= h, frac[:, 1] >= 1 - h
    return {
        "ll": int((left & low).sum()),
        "lr": int((right & low).sum()),
        "ul": int((left & high).sum()),
        "ur": int((right & high).sum()),
    }


def _emptiest(load: dict[str, int], taken: set[str]) -> str:
    free = [c for c in CORNERS if c not in taken]
    return min(free, key=lambda c: (load[c], CORNERS.index(c)))


def _scale_and_north(ax: Any, box: tuple[float, float, float, float], xy: Any, lang: str) -> tuple[list[Any], set[str]]:
    """Scale bar and north arrow, each in the corner with the fewest data points; returns their artists."""
    x0, _y0, x1, _y1 = box
    artists: list[Any] = []
    bar_corner = _emptiest(corner_load(ax, xy, (0.3, 0.12)), set())
    north_corner = _emptiest(corner_load(ax, xy, (0.08, 0.2)), {bar_corner})
    length = _nice_length(x1 - x0)
    frac = length / (x1 - x0)
    bx = 0.04 if bar_corner in ("ll", "ul") else 0.96 - frac
    by = 0.04 if bar_corner in ("ll", "lr") else 0.92
    tr = ax.transAxes
    artists += ax.plot(
        [bx, bx + frac], [by, by], color="black", linewidth=2.5, solid_capstyle="butt", zorder=6, transform=tr
    )
    unit = i18n.text(lang, "metres")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} {unit}"
    artists.append(
        ax.text(
            bx + frac / 2,
            by + 0.012,
            label,
            ha="center",
            va="bottom",
            fontsize=8,
            zorder=6,
            transform=tr,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1},
        )
    )
    nx = 0.04 if north_corner in ("ll", "ul") else 0.96
    ny = 0.05 if north_corner in ("ll", "lr") else 0.82
    artists.append(
        ax.annotate(
            "N",
            xy=(nx, ny + 0.12),
            xytext=(nx, ny),
            xycoords=tr,
            textcoords=tr,
            ha="center",
            va="bottom",
            fontsize=9,
            zorder=6,
            arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2},
        )
    )
    return artists, {bar_corner, north_corner}


def _inset(
    fig: Any,
    ax: Any,
    original: list[tuple[float, float, float, float]],
    labels: list[str],
    xy: Any,
    taken: set[str],
    lang: str,
) -> Any:
    """An overview of where the far-apart areas really lie (their true boxes, numbered), in a free corner."""
    from matplotlib.patches import Rectangle

    corner = _emptiest(corner_load(ax, xy, (0.22, 0.3)), taken)
    w, h = 0.2, 0.28
    x = 0.01 if corner in ("ll", "ul") else 0.99 - w
    y = 0.01 if corner in ("ll", "lr") else 0.99 - h
    inset = ax.inset_axes((x, y, w, h), zorder=7)
    b = np.asarray(original, dtype=float)
    for k, (x0, y0, x1, y1) in enumerate(b):
        inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="#dddddd", edgecolor="#555555", linewidth=0.6))
        inset.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2,
            labels[k] or str(k + 1),
            ha="center",
            va="center",
            fontsize=6,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )  # readable over its box
    span = max(b[:, 2].max() - b[:, 0].min(), b[:, 3].max() - b[:, 1].min())
    pad = 0.08 * span
    cx, cy = (b[:, 0].min() + b[:, 2].max()) / 2, (b[:, 1].min() + b[:, 3].max()) / 2
    inset.set_xlim(cx - span / 2 - pad, cx + span / 2 + pad)
    inset.set_ylim(cy - span / 2 - pad, cy + span / 2 + pad)
    inset.set_aspect("equal")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_facecolor("white")
    inset.set_title(i18n.text(lang, "map_inset"), fontsize=7, pad=2)
    # its box in display pixels (title included), from the axes' frame: the inset is placed at draw time
    (px0, py0), (px1, py1) = ax.transAxes.transform([(x, y), (x + w, y + h + 0.06)])
    return (float(px0), float(py0), float(px1), float(py1))


def _sizes(values: Any, top: float) -> Any:
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    return 4.0 + 70.0 * np.sqrt(np.clip(v, 0.0, None) / top) if top > 0 else np.full(len(v), 6.0)


def label_items(
    chosen: Any, styles: dict[str, tuple[str, str]], lang: str, only: str | None = None
) -> list[dict[str, Any]]:
    """One label per chosen plot, in rank order: its rank (coloured as its service) or, on a plot chosen
    for several services, one line per service (``rank service``) in black."""
    if chosen is None or not len(chosen) or "rank" not in chosen.columns or "service" not in chosen.columns:
        return []
    rows = chosen[~(chosen.geometry.isna() | chosen.geometry.is_empty)]
    if only is not None:
        rows = rows[rows["service"].astype(str) == only]
    if not len(rows):
        return []
    rank = np.asarray([_as_rank(v) for v in rows["rank"]], dtype=float)
    xs, ys = rows.geometry.x.to_numpy(dtype=float), rows.geometry.y.to_numpy(dtype=float)
    key = (
        rows["site_id"].astype(str).to_numpy() if "site_id" in rows.columns else np.round(np.column_stack([xs, ys]), 1)
    )
    groups: dict[Any, list[int]] = {}
    for k, g in enumerate(key.tolist() if hasattr(key, "tolist") else key):  # a loop over chosen rows
        groups.setdefault(tuple(g) if isinstance(g, list) else g, []).append(k)
    items = []
    for members in groups.values():
        members = sorted(members, key=lambda k: (rank[k], k))
        services = [str(rows["service"].iloc[k]) for k in members]
        text = [_rank_text(rank[k]) for k in members]
        if len(members) == 1:
            label, colour = text[0], styles.get(services[0], ("o", "#000000"))[1]
        else:
            label = "\n".join(f"{t} {i18n.service_name(lang, s)}" for t, s in zip(text, services))
            colour = "#000000"
        items.append(
            {
                "text": label,
                "xy": (xs[members[0]], ys[members[0]]),
                "colour": colour,
                "rank": rank[members[0]],
                "size": 8 if len(members) == 1 else 7,
            }
        )
    return sorted(items, key=lambda it: (it["rank"], it["text"]))


def _as_rank(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.inf


def _rank_text(rank: float) -> str:
    return str(int(rank)) if math.isfinite(rank) else "?"


def _marker_boxes(ax: Any, xy: Any, radius_px: float) -> list[tuple[float, float, float, float]]:
    if xy is None or not len(xy):
        return []
    pts = ax.transData.transform(np.asarray(xy, dtype=float))
    return [(x - radius_px, y - radius_px, x + radius_px, y + radius_px) for x, y in pts]


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{100 * float(value):.1f} %"


def render_map(layers: dict[str, Any], summary: dict[str, Any], lang: str = "en") -> tuple[bytes, list[str]]:
    """Draw the plan's map.

    Parameters
    ----------
    layers : the layers of ``plan.gpkg`` (:func:`scenarios.outputs.gpkg.plan_layers` or ``read_gpkg``).
    summary : the run's ``summary.json`` (service order, groups, coverage figures).
    lang : ``en`` or ``zh``.

    Returns
    -------
    png : the PNG file's bytes.
    warnings : e.g. no CJK font found (the labels are then in English).
    """
    png, warnings, _ = draw_map(layers, summary, lang)
    return png, warnings


def label_boxes(
    layers: dict[str, Any], summary: dict[str, Any], lang: str = "en"
) -> list[list[tuple[float, float, float, float]]]:
    """The rank labels' boxes on map.png, per panel (overview first), in pixels of the PNG, measured
    from the drawn text with the renderer after the map is drawn (what :func:`render_map` writes)."""
    return draw_map(layers, summary, lang)[2]


def draw_map(
    layers: dict[str, Any], summary: dict[str, Any], lang: str = "en"
) -> tuple[bytes, list[str], list[list[tuple[float, float, float, float]]]]:
    """:func:`render_map`'s PNG and warnings, and :func:`label_boxes`' boxes, from one drawing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    warnings: list[str] = []
    lang = i18n.check_lang(lang)
    rc: dict[str, Any] = {"font.family": ["DejaVu Sans"], "svg.hashsalt": "siting", "path.simplify": True}
    rc["agg.path.chunksize"] = 20_000  # the streets are one long path (map_lod.compound_path)
    font = find_cjk_font()
    if lang == "zh" and font is None:
        warnings.append(
            "map.png: no CJK font found (reinstall siting with its dependencies, which bring the font "
            "pylopdf-fonts-zh-cn, or install fonts-noto-cjk); the map's labels are written in English"
        )
        lang = "en"
    if lang == "zh":
        rc["font.family"] = [font, "DejaVu Sans"]
        rc["axes.unicode_minus"] = False
    elif font is not None:
        rc["font.family"] = ["DejaVu Sans", font]  # Chinese names in the data (areas) still get glyphs
    label_family = ["DejaVu Sans", font] if font is not None else ["DejaVu Sans"]

    svc_summary = summary.get("services") or {}
    scenario = summary.get("scenario") or {}
    services = list(svc_summary) or list(scenario.get("services") or {})
    styles = service_styles(services)
    scen_services = scenario.get("services") or {}
    groups = {
        s: (svc_summary.get(s) or {}).get("demand_group") or (scen_services.get(s) or {}).get("demand_group")
        for s in services
    }

    crs = next((g.crs for g in layers.values() if getattr(g, "crs", None) is not None), None)
    geographic = bool(crs is not None and crs.is_geographic)
    reaches = [float(r["reach_m"]) for r in svc_summary.values() if isinstance(r, dict) and r.get("reach_m")]
    compact = None if geographic else compact_clusters(layers, 2.0 * max([*reaches, 500.0]))
    cluster_boxes: list[tuple[tuple[float, float, float, float], str]] = []
    original_boxes: list[tuple[float, float, float, float]] = []
    if compact is not None:
        layers, cluster_boxes, original_boxes = compact
    demand = layers.get("demand")
    chosen = layers.get("chosen_sites")
    existing = layers.get("existing")
    box = _extent(layers)
    aspect = (box[3] - box[1]) / max(box[2] - box[0], 1e-9)
    over_h = float(np.clip(WIDTH_IN * aspect, 0.45 * WIDTH_IN, 0.9 * WIDTH_IN))
    n_rows = math.ceil(len(services) / 2)
    panel_h = float(np.clip(WIDTH_IN / 2 * aspect, 3.0, 6.0)) + 0.6
    height = over_h + 0.9 + n_rows * panel_h
    data_xy = np.vstack(
        [
            np.column_stack([g.geometry.x.to_numpy(dtype=float), g.geometry.y.to_numpy(dtype=float)])
            for g in (demand, chosen, existing)
            if g is not None and len(g)
        ]
        or [np.zeros((0, 2))]
    )
    data_xy = data_xy[np.isfinite(data_xy).all(axis=1)]

    import matplotlib

    with (
        matplotlib.rc_context(rc),  # type: ignore[arg-type]
        _one_weight_only(),
        _warnings.catch_warnings(record=True) as caught,
    ):
        _warnings.simplefilter("always")
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
        canvas = FigureCanvasAgg(fig)
        grid = fig.add_gridspec(1 + n_rows, 2, height_ratios=[over_h + 0.9] + [panel_h] * n_rows)
        name = scenario.get("name") or ""
        fig.suptitle(f"{i18n.text(lang, 'title')} · {name}", fontsize=14, fontweight="bold")
        panels: list[tuple[Any, str | None]] = []

        # ---- overview
        ax = fig.add_subplot(grid[0, :])
        panels.append((ax, None))
        ax.set_title(
            i18n.text(lang, "map_overview") + ("\n" + i18n.text(lang, "map_compact") if cluster_boxes else ""),
            fontsize=10,
            pad=TITLE_PAD_BOXES if cluster_boxes else 6.0,  # clear of the area names above the boxes
        )
        _background(ax, layers)
        _draw_boxes(ax, cluster_boxes)
        _plots(ax, layers, styles)
        handles: list[Any] = [Line2D([], [], color=palette.STREET, linewidth=1.5, label=i18n.text(lang, "map_street"))]
        if "demand_areas" in layers and len(layers["demand_areas"]):
            handles.append(Patch(facecolor=palette.BUILDING, edgecolor="none", label=i18n.text(lang, "map_buildings")))
        for key, fill in (("water", palette.WATER), ("green", palette.GREEN)):
            if key in layers and len(layers[key]):
                handles.append(Patch(facecolor=fill, edgecolor="none", label=i18n.text(lang, f"map_{key}")))
        if "chosen_plots" in layers and len(layers["chosen_plots"]):
            handles.append(Patch(facecolor="#bbbbbb", edgecolor=palette.PLOT_EDGE, label=i18n.text(lang, "map_plot")))
        if demand is not None and len(demand):
            cov_cols = [f"covered_{s}" for s in services if f"covered_{s}" in demand.columns]
            n_cov = (
                demand[cov_cols].fillna(0).astype(int).sum(axis=1).to_numpy()
                if cov_cols
                else np.zeros(len(demand), int)
            )
            first_group = groups[services[0]] if services else None
            people_col = (
                "residents"
                if "residents" in demand.columns
                else (first_group if first_group in demand.columns else None)
            )
            people = demand[people_col].to_numpy(dtype=float) if people_col else np.ones(len(demand))
            colour = np.where(
                n_cov == len(cov_cols), palette.COVERED, np.where(n_cov > 0, palette.PARTLY, palette.UNCOVERED)
            )
            xs, ys = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
            ax.scatter(
                xs,
                ys,
                s=_sizes(people, float(np.nanmax(people)) if len(people) else 0.0),
                c=colour,
                alpha=0.8,
                linewidths=0.3,
                edgecolors="#555555",
                zorder=2,
            )
            for key, c in (("map_all", palette.COVERED), ("map_some", palette.PARTLY), ("map_none", palette.UNCOVERED)):
                handles.append(
                    Line2D(
                        [],
                        [],
                        marker="o",
                        linestyle="",
                        color=c,
                        markeredgecolor="#555555",
                        markersize=7,
                        label=i18n.text(lang, key),
                    )
                )
        for s in services:
            marker, c = styles[s]
            if existing is not None and len(existing) and "counts_for" in existing.columns:
                mine = existing[existing["counts_for"].fillna("").str.split(",").apply(lambda v, s=s: s in v)]
                if len(mine):
                    ax.scatter(
                        mine.geometry.x,
                        mine.geometry.y,
                        marker=marker,
                        s=45,
                        facecolors="none",
                        edgecolors=c,
                        linewidths=1.3,
                        zorder=4,
                    )
            if chosen is not None and len(chosen) and "service" in chosen.columns:
                mine = chosen[chosen["service"].astype(str) == s]
                mine = mine[~mine.geometry.isna()]
                if len(mine):
                    ax.scatter(
                        mine.geometry.x,
                        mine.geometry.y,
                        marker=marker,
                        s=90,
                        color=c,
                        edgecolors="black",
                        linewidths=0.7,
                        zorder=7,
                    )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=marker,
                    linestyle="",
                    color=c,
                    markeredgecolor="black",
                    markersize=8,
                    label=f"{i18n.service_name(lang, s)} ({i18n.text(lang, 'map_chosen')})",
                )
            )
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="none",
                markeredgecolor="#555555",
                markersize=7,
                label=i18n.text(lang, "map_existing"),
            )
        )
        _frame(ax, box)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.005), ncol=4, fontsize=8, frameon=False)

        # ---- one panel per service
        for k, s in enumerate(services):
            ax = fig.add_subplot(grid[1 + k // 2, k % 2])
            panels.append((ax, s))
            marker, c = styles[s]
            cov = (svc_summary.get(s) or {}).get("coverage") or {}
            ax.set_title(
                i18n.text(
                    lang,
                    "map_service_title",
                    service=i18n.service_name(lang, s),
                    before=_pct(cov.get("share_before")),
                    after=_pct(cov.get("share_after")),
                ),
                fontsize=10,
                pad=TITLE_PAD_BOXES if cluster_boxes else 6.0,
            )
            _background(ax, layers)
            _draw_boxes(ax, cluster_boxes)
            _plots(ax, layers, styles, only=s)
            group = groups.get(s)
            if demand is not None and len(demand) and f"covered_{s}" in demand.columns:
                people = demand[group].to_numpy(dtype=float) if group in demand.columns else np.ones(len(demand))
                has = people > 0
                covered = demand[f"covered_{s}"].fillna(0).to_numpy(dtype=int) > 0
                top = float(np.nanmax(people)) if len(people) else 0.0
                for mask, dot in ((has & covered, palette.COVERED), (has & ~covered, palette.UNCOVERED)):
                    if mask.any():
                        ax.scatter(
                            demand.geometry.x.to_numpy()[mask],
                            demand.geometry.y.to_numpy()[mask],
                            s=_sizes(people[mask], top),
                            c=dot,
                            alpha=0.8,
                            linewidths=0,
                            zorder=2,
                        )
            if existing is not None and len(existing) and "counts_for" in existing.columns:
                mine = existing[existing["counts_for"].fillna("").str.split(",").apply(lambda v, s=s: s in v)]
                if len(mine):
                    ax.scatter(
                        mine.geometry.x,
                        mine.geometry.y,
                        marker=marker,
                        s=40,
                        facecolors="none",
                        edgecolors="black",
                        linewidths=1.2,
                        zorder=4,
                    )
            if chosen is not None and len(chosen) and "service" in chosen.columns:
                mine = chosen[chosen["service"].astype(str) == s]
                mine = mine[~mine.geometry.isna()]
                if len(mine):
                    ax.scatter(
                        mine.geometry.x,
                        mine.geometry.y,
                        marker=marker,
                        s=80,
                        color=c,
                        edgecolors="black",
                        linewidths=0.7,
                        zorder=7,
                    )
            _frame(ax, box)
            ax.legend(
                handles=[
                    Line2D(
                        [],
                        [],
                        marker="o",
                        linestyle="",
                        color=palette.COVERED,
                        markersize=6,
                        label=i18n.text(lang, "map_covered"),
                    ),
                    Line2D(
                        [],
                        [],
                        marker="o",
                        linestyle="",
                        color=palette.UNCOVERED,
                        markersize=6,
                        label=i18n.text(lang, "map_uncovered"),
                    ),
                    Line2D(
                        [],
                        [],
                        marker=marker,
                        linestyle="",
                        markerfacecolor="none",
                        markeredgecolor="black",
                        markersize=7,
                        label=i18n.text(lang, "map_existing"),
                    ),
                    Line2D(
                        [],
                        [],
                        marker=marker,
                        linestyle="",
                        color=c,
                        markeredgecolor="black",
                        markersize=7,
                        label=i18n.text(lang, "map_chosen"),
                    ),
                ],
                loc="upper center",
                bbox_to_anchor=(0.5, -0.005),
                ncol=4,
                fontsize=7.5,
                frameon=False,
            )

        # ---- fix the layout, then scale bars, north arrows, the inset and the labels in display pixels
        fig.draw_without_rendering()  # the constrained layout, once
        fig.set_layout_engine("none")
        renderer = canvas.get_renderer()
        chosen_xy = None
        if chosen is not None and len(chosen):
            ok = ~(chosen.geometry.isna() | chosen.geometry.is_empty).to_numpy()
            chosen_xy = np.column_stack(
                [chosen.geometry.x.to_numpy(dtype=float), chosen.geometry.y.to_numpy(dtype=float)]
            )[ok]
        drawn: list[list[Any]] = []
        dropped: list[str] = []
        for ax, only in panels:
            obstacles: list[Any] = []
            if not geographic:
                artists, taken = _scale_and_north(ax, box, data_xy, lang)
                obstacles += artists
                if only is None and original_boxes:
                    obstacles.append(
                        _inset(fig, ax, original_boxes, [lab for _b, lab in cluster_boxes], data_xy, taken, lang)
                    )
            hard = [a if isinstance(a, tuple) else _bbox(a.get_window_extent(renderer)) for a in obstacles]
            items = label_items(chosen, styles, lang, only)
            for it in items:
                it["family"] = label_family
            mine_xy = (
                chosen_xy
                if only is None
                else (
                    None
                    if chosen is None or not len(chosen)
                    else np.column_stack(
                        [chosen.geometry.x.to_numpy(dtype=float), chosen.geometry.y.to_numpy(dtype=float)]
                    )[(chosen["service"].astype(str) == only).to_numpy() & ~chosen.geometry.isna().to_numpy()]
                )
            )
            placer = draw_labels(ax, items, hard, _marker_boxes(ax, mine_xy, 6.0))
            dropped += placer.dropped
            drawn.append(placer.artists)
        if dropped:
            warnings.append(
                f"map.png: no free place for the rank label(s) {', '.join(sorted(set(dropped)))[:200]}; "
                "see the plan table for every rank"
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
        renderer = canvas.get_renderer()
        boxes = [[_bbox(t.get_window_extent(renderer)) for t in panel] for panel in drawn]
    warnings.extend(_glyph_notes(caught))
    return buf.getvalue(), warnings, boxes


def _bbox(b: Any) -> tuple[float, float, float, float]:
    return (float(b.x0), float(b.y0), float(b.x1), float(b.y1))


def _not_weight_notice(record: logging.LogRecord) -> bool:
    return "Failed to find font weight" not in record.getMessage()


@contextlib.contextmanager
def _one_weight_only() -> Iterator[None]:
    """Hide matplotlib's "Failed to find font weight bold" notice while the map is drawn: the bundled
    CJK font has a regular face only, so bold Chinese titles are drawn regular, as intended."""
    log = logging.getLogger("matplotlib.font_manager")
    log.addFilter(_not_weight_notice)
    try:
        yield
    finally:
        log.removeFilter(_not_weight_notice)


_GLYPH_MISSING = re.compile(r"Glyph (\d+) .*missing from font")


def _glyph_notes(caught: list[_warnings.WarningMessage]) -> list[str]:
    """One note for matplotlib's "Glyph N missing from font(s)" warnings (a box was drawn in place of
    a character); any other warning is passed on as it came."""
    missing: dict[int, None] = {}
    for w in caught:
        found = _GLYPH_MISSING.search(str(w.message))
        if found is None:
            _warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        else:
            missing[int(found.group(1))] = None
    if not missing:
        return []
    chars = "".join(chr(c) for c in list(missing)[:20]) + (" …" if len(missing) > 20 else "")
    return [f"map.png: {len(missing)} character(s) have no glyph in the map's fonts and are drawn as boxes: {chars}"]


__all__ = [
    "CORNERS",
    "SERVICE_STYLE",
    "compact_clusters",
    "corner_load",
    "draw_map",
    "find_cjk_font",
    "label_boxes",
    "label_items",
    "render_map",
    "service_styles",
]
