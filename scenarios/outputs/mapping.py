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
from pathlib import Path
from typing import Any

import numpy as np

from siting.scenarios.outputs import i18n

WIDTH_IN = 12.0
DPI = 100
#: Marker and colour of the common services; other services take the next free pair.
SERVICE_STYLE = {
    "elderly_care": ("o", "#7b3294"),
    "childcare": ("^", "#e66101"),
    "ev_charging": ("s", "#0571b0"),
    "public_toilet": ("D", "#1a9641"),
}
_SPARE_STYLE = [("P", "#a6761d"), ("X", "#e7298a"), ("v", "#66a61e"), ("h", "#1b9e77"), ("*", "#d95f02"), ("p", "#666666")]
#: CJK fonts to look for, in order.
CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK JP",
    "Noto Serif CJK SC",
)


def service_styles(services: list[str]) -> dict[str, tuple[str, str]]:
    """Marker and colour per service: fixed for the common four, then from a spare list, in order."""
    out: dict[str, tuple[str, str]] = {}
    spare = iter(_SPARE_STYLE)
    for s in services:
        out[s] = SERVICE_STYLE.get(s) or next(spare, ("o", "#444444"))
    return out


def bundled_cjk_font() -> Path | None:
    """The Noto Sans SC file shipped by the ``pylopdf-fonts-zh-cn`` dependency, or None when it is absent."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    sans_path = getattr(pylopdf_fonts_zh_cn, "sans_path", None)
    if sans_path is not None:
        path = Path(sans_path())
        return path if path.is_file() else None
    # a later release without sans_path(): the file itself, beside the package
    return next(iter(sorted(Path(pylopdf_fonts_zh_cn.__file__).parent.glob("NotoSansSC*.otf"))), None)


def register_font(path: str | Path) -> str | None:
    """Add a font file to matplotlib's font manager (once per process) and return its family name.

    None when matplotlib cannot read the file. Registration lives in memory only: nothing is written
    to matplotlib's font cache, so a later change of the dependency cannot leave a stale entry.
    """
    from matplotlib import font_manager as fm

    fname = str(path)
    known = next((f.name for f in fm.fontManager.ttflist if f.fname == fname), None)
    if known is not None:
        return known
    try:
        fm.fontManager.addfont(fname)
    except (OSError, RuntimeError, ValueError):
        return None
    return next((f.name for f in fm.fontManager.ttflist if f.fname == fname), None)


def find_cjk_font() -> str | None:
    """The family name of a CJK font matplotlib can use, or None.

    The bundled Noto Sans SC first (the same map on every machine); else matplotlib's font list;
    when its cache predates the fonts (installed later), the system's ``*CJK*`` / ``*SC*`` font
    files are added to the font manager and the list is looked at again.
    """
    from matplotlib import font_manager as fm

    bundled = bundled_cjk_font()
    if bundled is not None:
        name = register_font(bundled)
        if name is not None:
            return name

    def lookup() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        return next((n for n in CJK_FONTS if n in names), None)

    found = lookup()
    if found is not None:
        return found
    for path in fm.findSystemFonts():
        low = path.lower()
        if "cjk" in low or "wqy" in low or "sourcehansans" in low or "notosanssc" in low:
            try:
                fm.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    return lookup()


def _nice_length(span: float) -> float:
    target = span / 5.0
    for v in (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000):
        if v >= target:
            return float(v)
    return float(10 ** math.ceil(math.log10(max(target, 1.0))))


# ------------------------------------------------------------------------------ far-apart clusters
def _point_layers(layers: dict[str, Any]) -> list[str]:
    return [k for k in ("demand", "candidates", "existing", "chosen_sites") if k in layers and len(layers[k])]


def _cluster_label(demand: Any, mask: Any) -> str:
    """The area names of a cluster's demand points (the coarsest area column with two or more values)."""
    from siting.scenarios.outputs.gpkg import AREA_COLUMNS

    if demand is None or not mask.any():
        return ""
    lower = {str(c).lower(): c for c in demand.columns}
    cols = [lower[c.lower()] for c in AREA_COLUMNS if c.lower() in lower]
    cols = [c for c in cols if demand[c].astype(str).nunique() >= 2]
    if not cols:
        return ""
    col = min(cols, key=lambda c: (demand[c].astype(str).nunique(), cols.index(c)))
    values = sorted(set(demand[col].astype(str).to_numpy()[mask]) - {""})
    return ", ".join(values[:3]) + (" …" if len(values) > 3 else "")


#: Above this many points, :func:`compact_clusters` links them along Delaunay edges (a city's
#: buildings have millions of pairs within two reaches; a triangulation has three edges a point).
LINK_DELAUNAY_POINTS = 5_000


def _link_pairs(pts: np.ndarray, link: float) -> np.ndarray:
    """Pairs of points along Delaunay edges no longer than ``link``: the same connected groups as
    all pairs within ``link`` (the Euclidean minimum spanning tree is a subgraph of the Delaunay
    triangulation, and two groups closer than ``link`` are joined by one of its edges). Points Qhull
    leaves out (duplicates) are linked to their nearest vertex."""
    from scipy.spatial import Delaunay, QhullError

    try:
        tri = Delaunay(pts)
    except (QhullError, ValueError):  # all points on a line: every pair is a candidate, few points
        from scipy.spatial import cKDTree

        return cKDTree(pts).query_pairs(r=link, output_type="ndarray")
    s = tri.simplices
    edges = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    if len(tri.coplanar):
        edges = np.concatenate([edges, tri.coplanar[:, [0, 2]]])
    length = np.hypot(*(pts[edges[:, 0]] - pts[edges[:, 1]]).T)
    return edges[length <= link]


def compact_clusters(layers: dict[str, Any], link: float) -> tuple[dict[str, Any], list[tuple[tuple[float, float, float, float], str]]] | None:
    """Move far-apart groups of features next to each other, for a readable map.

    Points (demand, sites, facilities) closer than ``link`` (twice the largest reach: no facility
    serves two points farther apart) are linked; the connected groups are boxed, and when there are
    2 to 12 groups whose boxes fill less than a fifth of the whole extent (pilot communities kilometres
    apart), the boxes are laid side by side, west to east in rows, and every layer is moved with its
    box (streets are clipped to the boxes). Distances inside a box keep their scale; distances between
    boxes do not. Returns the moved layers and (box, label) per group, or None when nothing is moved.
    """
    import shapely
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    names = _point_layers(layers)
    xy_parts, owner = [], []
    for name in names:
        g = layers[name].geometry
        ok = ~(g.isna() | g.is_empty).to_numpy()
        xy = np.column_stack([g.x.to_numpy(), g.y.to_numpy()])
        xy_parts.append(np.where(ok[:, None], xy, np.nan))
        owner.append(len(g))
    if not xy_parts:
        return None
    xy = np.vstack(xy_parts)
    good = np.isfinite(xy).all(axis=1)
    pts = xy[good]
    if len(pts) < 2 or not (link > 0):
        return None
    pairs = _link_pairs(pts, link) if len(pts) > LINK_DELAUNAY_POINTS else cKDTree(pts).query_pairs(r=link, output_type="ndarray")
    graph = coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(pts), len(pts)))
    k, lab = connected_components(graph, directed=False)
    if not 2 <= k <= 12:
        return None
    pad = 0.15 * link
    boxes = np.array([[pts[lab == c, 0].min() - pad, pts[lab == c, 1].min() - pad,
                       pts[lab == c, 0].max() + pad, pts[lab == c, 1].max() + pad] for c in range(k)])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    full = (boxes[:, 2].max() - boxes[:, 0].min()) * (boxes[:, 3].max() - boxes[:, 1].min())
    if (w * h).sum() >= 0.2 * full:
        return None
    # shelf packing, west to east
    gap = 0.3 * float(np.median(np.maximum(w, h)))
    row_width = max(float(w.max()), math.sqrt(float((w * h).sum())) * 1.6)
    order = np.argsort((boxes[:, 0] + boxes[:, 2]) / 2.0, kind="stable")
    shift = np.zeros((k, 2))
    x, y, row_h = 0.0, 0.0, 0.0
    for c in order:  # a loop over clusters
        if x > 0 and x + w[c] > row_width:
            x, y, row_h = 0.0, y - row_h - gap, 0.0
        shift[c] = (x - boxes[c, 0], y - h[c] - boxes[c, 1])
        x += w[c] + gap
        row_h = max(row_h, h[c])
    labels_all = np.full(len(xy), -1)
    labels_all[good] = lab
    moved: dict[str, Any] = {}
    start = 0
    for name, count in zip(names, owner):
        part = labels_all[start:start + count]
        start += count
        gdf = layers[name].copy()
        dx = np.where(part >= 0, shift[np.clip(part, 0, None), 0], 0.0)
        dy = np.where(part >= 0, shift[np.clip(part, 0, None), 1], 0.0)
        geoms = np.asarray(gdf.geometry.values)
        ok = part >= 0
        new = geoms.copy()
        new[ok] = shapely.transform(geoms[ok], lambda c, dx=dx[ok], dy=dy[ok]: c + np.column_stack([dx, dy]))
        gdf = gdf.set_geometry(list(new), crs=gdf.crs)
        moved[name] = gdf
    if "streets" in layers and len(layers["streets"]):
        st = layers["streets"]
        pieces, keep_rows = [], []
        geoms = np.asarray(st.geometry.values)
        for c in range(k):
            clipped = shapely.clip_by_rect(geoms, *boxes[c])
            hit = ~shapely.is_empty(clipped)
            pieces.extend(shapely.transform(clipped[hit], lambda a, c=c: a + shift[c]))
            keep_rows.extend(np.flatnonzero(hit).tolist())
        streets = st.iloc[keep_rows].copy()
        moved["streets"] = streets.set_geometry(list(pieces), crs=st.crs)
    for name, layer in layers.items():
        moved.setdefault(name, layer)
    demand = layers.get("demand")
    d_lab = labels_all[: owner[0]] if names and names[0] == "demand" else None
    out_boxes = []
    for c in range(k):
        b = boxes[c] + np.array([shift[c, 0], shift[c, 1], shift[c, 0], shift[c, 1]])
        label = _cluster_label(demand, d_lab == c) if d_lab is not None else ""
        out_boxes.append(((float(b[0]), float(b[1]), float(b[2]), float(b[3])), label))
    return moved, out_boxes


def _draw_boxes(ax: Any, boxes: list[tuple[tuple[float, float, float, float], str]]) -> None:
    from matplotlib.patches import Rectangle

    for (x0, y0, x1, y1), label in boxes:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="#888888", linewidth=0.8,
                               linestyle=(0, (4, 3)), zorder=0.5))
        if label:
            ax.text(x0, y1, " " + label, ha="left", va="bottom", fontsize=8, color="#444444", zorder=6)


def _extent(layers: dict[str, Any]) -> tuple[float, float, float, float]:
    boxes = [layers[k].total_bounds for k in ("demand", "candidates", "chosen_sites", "existing")
             if k in layers and len(layers[k]) and not layers[k].geometry.isna().all()]
    if not boxes:
        return (0.0, 0.0, 1.0, 1.0)
    b = np.vstack(boxes)
    x0, y0, x1, y1 = float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])), float(np.nanmax(b[:, 3]))
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    pad = 0.05 * max(w, h)
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _streets(ax: Any, layers: dict[str, Any]) -> None:
    import shapely
    from matplotlib.collections import LineCollection

    st = layers.get("streets")
    if st is None or not len(st):
        return
    parts = shapely.get_parts(np.asarray(st.geometry.values))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return
    cuts = np.flatnonzero(np.diff(index)) + 1
    segments = np.split(coords, cuts)
    ax.add_collection(LineCollection(segments, colors="#c8c8c8", linewidths=0.5, zorder=1))


def _decorate(ax: Any, box: tuple[float, float, float, float], geographic: bool, lang: str) -> None:
    x0, y0, x1, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("#999999")
    if geographic:
        return
    length = _nice_length(x1 - x0)
    sx, sy = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([sx, sx + length], [sy, sy], color="black", linewidth=2.5, solid_capstyle="butt", zorder=6)
    unit = i18n.text(lang, "metres")
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} {unit}"
    ax.text(sx + length / 2, sy + 0.012 * (y1 - y0), label, ha="center", va="bottom", fontsize=8, zorder=6)
    nx, ny = x1 - 0.04 * (x1 - x0), y1 - 0.10 * (y1 - y0)
    ax.annotate("N", xy=(nx, ny + 0.06 * (y1 - y0)), xytext=(nx, ny), ha="center", va="top", fontsize=9,
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2}, zorder=6)


def _sizes(values: Any, top: float) -> Any:
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    return 4.0 + 70.0 * np.sqrt(np.clip(v, 0.0, None) / top) if top > 0 else np.full(len(v), 6.0)


def _label_sites(ax: Any, chosen: Any, colour: str) -> None:
    from matplotlib import patheffects

    if "rank" not in chosen.columns:
        return
    for geom, rank in zip(chosen.geometry.values, chosen["rank"].tolist()):  # a loop over chosen sites
        if geom is None or geom.is_empty:
            continue
        try:
            text = str(int(rank))
        except (TypeError, ValueError):
            text = str(rank)
        # rank numbers in DejaVu Sans Bold in both languages (the bundled CJK font has one weight only)
        ax.annotate(text, (geom.x, geom.y), xytext=(5, 5), textcoords="offset points", fontsize=8, color=colour,
                    fontweight="bold", fontfamily="DejaVu Sans", zorder=8,
                    path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])


def _pct(value: Any) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{100 * float(value):.1f} %"


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    warnings: list[str] = []
    lang = i18n.check_lang(lang)
    rc: dict[str, Any] = {"font.family": ["DejaVu Sans"], "svg.hashsalt": "siting", "path.simplify": True}
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

    svc_summary = summary.get("services") or {}
    scenario = summary.get("scenario") or {}
    services = list(svc_summary) or list(scenario.get("services") or {})
    styles = service_styles(services)
    groups = {s: (svc_summary.get(s) or {}).get("demand_group") or ((scenario.get("services") or {}).get(s) or {}).get("demand_group") for s in services}

    crs = next((g.crs for g in layers.values() if g.crs is not None), None)
    geographic = bool(crs is not None and crs.is_geographic)
    reaches = [float(r["reach_m"]) for r in svc_summary.values() if isinstance(r, dict) and r.get("reach_m")]
    compact = None if geographic else compact_clusters(layers, 2.0 * max(reaches + [500.0]))
    cluster_boxes: list[tuple[tuple[float, float, float, float], str]] = []
    if compact is not None:
        layers, cluster_boxes = compact
    demand = layers.get("demand")
    chosen = layers.get("chosen_sites")
    existing = layers.get("existing")
    box = _extent(layers)
    aspect = (box[3] - box[1]) / max(box[2] - box[0], 1e-9)
    over_h = float(np.clip(WIDTH_IN * aspect, 0.45 * WIDTH_IN, 0.9 * WIDTH_IN))
    n_rows = math.ceil(len(services) / 2)
    panel_h = float(np.clip(WIDTH_IN / 2 * aspect, 3.0, 6.0)) + 0.6
    height = over_h + 0.9 + n_rows * panel_h

    import matplotlib

    with (
        matplotlib.rc_context(rc),  # type: ignore[arg-type]
        _one_weight_only(),
        _warnings.catch_warnings(record=True) as caught,
    ):
        _warnings.simplefilter("always")
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(1 + n_rows, 2, height_ratios=[over_h + 0.9] + [panel_h] * n_rows)
        name = scenario.get("name") or ""
        fig.suptitle(f"{i18n.text(lang, 'title')} · {name}", fontsize=14, fontweight="bold")

        # ---- overview
        ax = fig.add_subplot(grid[0, :])
        ax.set_title(i18n.text(lang, "map_overview")
                     + ("\n" + i18n.text(lang, "map_compact") if cluster_boxes else ""), fontsize=10)
        _streets(ax, layers)
        _draw_boxes(ax, cluster_boxes)
        handles: list[Any] = [Line2D([], [], color="#c8c8c8", linewidth=1.5, label=i18n.text(lang, "map_street"))]
        if demand is not None and len(demand):
            cov_cols = [f"covered_{s}" for s in services if f"covered_{s}" in demand.columns]
            n_cov = demand[cov_cols].fillna(0).astype(int).sum(axis=1).to_numpy() if cov_cols else np.zeros(len(demand), int)
            people_col = "residents" if "residents" in demand.columns else (groups[services[0]] if services and groups[services[0]] in demand.columns else None)
            people = demand[people_col].to_numpy(dtype=float) if people_col else np.ones(len(demand))
            colour = np.where(n_cov == len(cov_cols), "#1a9850", np.where(n_cov > 0, "#fdae61", "#d73027"))
            xs, ys = demand.geometry.x.to_numpy(), demand.geometry.y.to_numpy()
            ax.scatter(xs, ys, s=_sizes(people, float(np.nanmax(people)) if len(people) else 0.0), c=colour,
                       alpha=0.75, linewidths=0, zorder=2)
            for key, c in (("map_all", "#1a9850"), ("map_some", "#fdae61"), ("map_none", "#d73027")):
                handles.append(Line2D([], [], marker="o", linestyle="", color=c, markersize=7, label=i18n.text(lang, key)))
        for s in services:
            marker, c = styles[s]
            if existing is not None and len(existing) and "counts_for" in existing.columns:
                mine = existing[existing["counts_for"].fillna("").str.split(",").apply(lambda v, s=s: s in v)]
                if len(mine):
                    ax.scatter(mine.geometry.x, mine.geometry.y, marker=marker, s=45, facecolors="none", edgecolors=c,
                               linewidths=1.3, zorder=4)
            if chosen is not None and len(chosen) and "service" in chosen.columns:
                mine = chosen[chosen["service"].astype(str) == s]
                mine = mine[~mine.geometry.isna()]
                if len(mine):
                    ax.scatter(mine.geometry.x, mine.geometry.y, marker=marker, s=90, color=c, edgecolors="white",
                               linewidths=0.8, zorder=7)
                    _label_sites(ax, mine, c)
            handles.append(Line2D([], [], marker=marker, linestyle="", color=c, markersize=8,
                                  label=f"{i18n.service_name(lang, s)} ({i18n.text(lang, 'map_chosen')})"))
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="#555555",
                              markersize=7, label=i18n.text(lang, "map_existing")))
        _decorate(ax, box, geographic, lang)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.005), ncol=4, fontsize=8, frameon=False)

        # ---- one panel per service
        for k, s in enumerate(services):
            ax = fig.add_subplot(grid[1 + k // 2, k % 2])
            marker, c = styles[s]
            cov = (svc_summary.get(s) or {}).get("coverage") or {}
            ax.set_title(
                i18n.text(lang, "map_service_title", service=i18n.service_name(lang, s),
                          before=_pct(cov.get("share_before")), after=_pct(cov.get("share_after"))),
                fontsize=10,
            )
            _streets(ax, layers)
            _draw_boxes(ax, cluster_boxes)
            group = groups.get(s)
            if demand is not None and len(demand) and f"covered_{s}" in demand.columns:
                people = demand[group].to_numpy(dtype=float) if group in demand.columns else np.ones(len(demand))
                has = people > 0
                covered = demand[f"covered_{s}"].fillna(0).to_numpy(dtype=int) > 0
                top = float(np.nanmax(people)) if len(people) else 0.0
                for mask, dot in ((has & covered, "#2c7bb6"), (has & ~covered, "#d7191c")):
                    if mask.any():
                        ax.scatter(demand.geometry.x.to_numpy()[mask], demand.geometry.y.to_numpy()[mask],
                                   s=_sizes(people[mask], top), c=dot, alpha=0.75, linewidths=0, zorder=2)
            if existing is not None and len(existing) and "counts_for" in existing.columns:
                mine = existing[existing["counts_for"].fillna("").str.split(",").apply(lambda v, s=s: s in v)]
                if len(mine):
                    ax.scatter(mine.geometry.x, mine.geometry.y, marker=marker, s=40, facecolors="none",
                               edgecolors="black", linewidths=1.2, zorder=4)
            if chosen is not None and len(chosen) and "service" in chosen.columns:
                mine = chosen[chosen["service"].astype(str) == s]
                mine = mine[~mine.geometry.isna()]
                if len(mine):
                    ax.scatter(mine.geometry.x, mine.geometry.y, marker=marker, s=80, color=c, edgecolors="white",
                               linewidths=0.8, zorder=7)
                    _label_sites(ax, mine, c)
            _decorate(ax, box, geographic, lang)
            ax.legend(
                handles=[
                    Line2D([], [], marker="o", linestyle="", color="#2c7bb6", markersize=6, label=i18n.text(lang, "map_covered")),
                    Line2D([], [], marker="o", linestyle="", color="#d7191c", markersize=6, label=i18n.text(lang, "map_uncovered")),
                    Line2D([], [], marker=marker, linestyle="", markerfacecolor="none", markeredgecolor="black",
                           markersize=7, label=i18n.text(lang, "map_existing")),
                    Line2D([], [], marker=marker, linestyle="", color=c, markersize=7, label=i18n.text(lang, "map_chosen")),
                ],
                loc="upper center", bbox_to_anchor=(0.5, -0.005), ncol=4, fontsize=7.5, frameon=False,
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    warnings.extend(_glyph_notes(caught))
    return buf.getvalue(), warnings


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
    "CJK_FONTS", "SERVICE_STYLE", "bundled_cjk_font", "find_cjk_font", "register_font", "render_map", "service_styles",
]
