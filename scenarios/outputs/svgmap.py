"""The interactive map of ``report.html``: an inline SVG of the scenario's own layers, with a few lines of script.

Drawn from the layers of ``plan.gpkg`` (streets, demand points, existing facilities, candidate plots,
the chosen sites), in their metric CRS, so the page needs no tile server and makes no request. The
script (written here, no library) lets the reader

* pan (drag) and zoom (wheel, or the + / − buttons; double-click resets), by changing the SVG's
  ``viewBox``;
* hover a chosen site for its ranks and services (the SVG ``<title>``), and click it to show its
  rows of the ranked plan (rank, service, phase, cost, reason) under the map.

At city scale the demand points become grid cells and the streets one picture under the vector layers
(:mod:`scenarios.outputs.map_lod`); the chosen sites are always drawn one by one.

Small on purpose: coordinates are scaled to a 1000-unit-wide box and rounded to 0.1 unit (at most
a thousandth of the map's width); streets are simplified with the same tolerance (Douglas-Peucker,
shapely) and drawn as one ``<path>``; demand polygons are drawn as their representative points. A
printed page shows the static ``map.png`` instead (the block has class ``screen-only``).

Every text from the data is HTML-escaped; the site rows travel as JSON inside a
``<script type="application/json">`` whose ``<`` are written as ``\\u003c``, so no value can close
the script element.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np

from siting.scenarios.outputs import i18n, palette
from siting.scenarios.outputs.map_clusters import compact_clusters

#: Width of the SVG's coordinate box; the height follows the data's aspect ratio.
WIDTH = 1000.0
#: Decimals kept in the SVG (0.1 unit: 1/10,000 of the width).
DECIMALS = 1
#: Colour-blind-safe colours per service (Okabe-Ito), in service order.
SERVICE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: Demand points: every service within reach / some / none.
COVER_COLOURS = {"all": "#1a9641", "some": "#fdae61", "none": "#d7191c"}

SCRIPT = """
(function () {
  var box = document.getElementById("imap");
  if (!box) return;
  var svg = box.querySelector("svg"), info = document.getElementById("imap-info");
  var rows = JSON.parse(document.getElementById("imap-data").textContent);
  var v0 = svg.getAttribute("viewBox").split(" ").map(Number), v = v0.slice();
  function set() { svg.setAttribute("viewBox", v.join(" ")); }
  function zoom(f, cx, cy) {
    var nw = Math.min(Math.max(v[2] * f, v0[2] / 200), v0[2] * 4), k = nw / v[2];
    v = [cx - (cx - v[0]) * k, cy - (cy - v[1]) * k, nw, v[3] * k]; set();
  }
  function at(e) {
    var r = svg.getBoundingClientRect();
    return [v[0] + (e.clientX - r.left) / r.width * v[2], v[1] + (e.clientY - r.top) / r.height * v[3]];
  }
  svg.addEventListener("wheel", function (e) {
    e.preventDefault(); var p = at(e); zoom(e.deltaY > 0 ? 1.25 : 0.8, p[0], p[1]);
  }, {passive: false});
  var drag = null;
  svg.addEventListener("pointerdown", function (e) { drag = [e.clientX, e.clientY, v[0], v[1]]; });
  window.addEventListener("pointerup", function () { drag = null; });
  svg.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var r = svg.getBoundingClientRect();
    v[0] = drag[2] - (e.clientX - drag[0]) / r.width * v[2];
    v[1] = drag[3] - (e.clientY - drag[1]) / r.height * v[3]; set();
  });
  svg.addEventListener("dblclick", function () { v = v0.slice(); set(); });
  box.querySelectorAll("button[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var f = Number(b.getAttribute("data-zoom"));
      if (f === 0) { v = v0.slice(); set(); } else { zoom(f, v[0] + v[2] / 2, v[1] + v[3] / 2); }
    });
  });
  function show(id) {
    var list = rows[id] || [];
    var t = info.querySelector("table"), body = t.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    list.forEach(function (r) {
      var tr = document.createElement("tr");
      r.forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      body.appendChild(tr);
    });
    info.querySelector(".imap-site").textContent = id;
    info.hidden = false;
    svg.querySelectorAll(".site.on").forEach(function (n) { n.classList.remove("on"); });
    svg.querySelectorAll('.site[data-site="' + CSS.escape(id) + '"]').forEach(function (n) { n.classList.add("on"); });
  }
  svg.addEventListener("click", function (e) {
    var n = e.target.closest(".site");
    if (n) show(n.getAttribute("data-site"));
  });
})();
"""

CSS = """
#imap { margin: 8px 0 4px; }
#imap svg { width: 100%; height: auto; max-height: 720px; border: 1px solid var(--line); background: #fbfbf8;
  touch-action: none; cursor: grab; }
#imap .tools { margin: 0 0 4px; }
#imap .tools button { font: inherit; padding: 0 10px; margin-right: 4px; }
#imap .site { cursor: pointer; stroke: #ffffff; stroke-width: 1.2; vector-effect: non-scaling-stroke; }
#imap .site.on { stroke: #000000; stroke-width: 3; }
#imap .areas text { fill: #555555; stroke: none; font-size: 12px; }
#imap .legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
#imap .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; }
#imap-info { margin: 6px 0 10px; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _points(gdf: Any) -> tuple[np.ndarray, np.ndarray]:
    """x, y of each feature (points as they are; lines and polygons by a point inside)."""
    geom = gdf.geometry
    if len(geom) and not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    return geom.x.to_numpy(dtype=float), geom.y.to_numpy(dtype=float)


def _fmt(v: float) -> str:
    text = f"{v:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _fmt_all(values: np.ndarray) -> np.ndarray:
    """:func:`_fmt` of every value at once (numpy string ops, no Python loop per coordinate)."""
    text = np.char.mod(f"%.{DECIMALS}f", np.round(np.asarray(values, dtype=float), DECIMALS) + 0.0)
    text = np.char.rstrip(np.char.rstrip(text, "0"), ".")
    return np.where(np.isin(text, ("-0", "")), "0", text)


def _street_path(streets: Any, to_svg: Any, tolerance: float) -> str:
    """One SVG path of every street line, simplified by ``tolerance`` (data units), in SVG units.

    Each line is ``M x0 y0 x1 y1 ...`` (pairs after the move are line-to); all coordinates are
    transformed and formatted at once.
    """
    import shapely

    if streets is None or not len(streets):
        return ""
    geoms = shapely.simplify(np.asarray(streets.geometry.to_numpy()), tolerance, preserve_topology=False)
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]  # LineString, LinearRing
    if not len(parts):
        return ""
    xy, line = shapely.get_coordinates(parts, return_index=True)
    keep = np.bincount(line, minlength=len(parts))[line] >= 2  # a line needs two points
    xy, line = xy[keep], line[keep]
    if not len(xy):
        return ""
    sx, sy = to_svg(xy[:, 0], xy[:, 1])
    pairs = np.char.add(np.char.add(_fmt_all(sx), " "), _fmt_all(sy))
    first = np.ones(len(line), dtype=bool)
    first[1:] = line[1:] != line[:-1]
    # a line that starts where the previous one ended continues it: no move, no repeated point
    joined = np.zeros(len(line), dtype=bool)
    joined[1:] = first[1:] & (pairs[1:] == pairs[:-1])
    pairs = np.where(first & ~joined, np.char.add("M", pairs), pairs)
    return " ".join(pairs[~joined].tolist())


def _area_path(gdf: Any, to_svg: Any, tolerance: float, view: tuple[float, float, float, float]) -> tuple[str, str]:
    """(polygons, lines) of a background layer as two SVG paths, clipped to ``view`` and simplified.

    Polygons are their rings, each ``M x0 y0 x1 y1 ... Z``, filled with the even-odd rule so that a
    hole (an island in a lake) stays open; lines as in :func:`_street_path`.
    """
    import shapely

    if gdf is None or not len(gdf):
        return "", ""
    geoms = shapely.clip_by_rect(np.asarray(gdf.geometry.to_numpy()), *view)
    geoms = shapely.simplify(geoms[~shapely.is_empty(geoms)], tolerance, preserve_topology=True)
    parts = shapely.get_parts(geoms)
    kinds = shapely.get_type_id(parts)
    lines = ""
    if np.isin(kinds, (1, 2)).any():
        import geopandas as gpd

        lines = _street_path(gpd.GeoDataFrame(geometry=list(parts[np.isin(kinds, (1, 2))])), to_svg, tolerance)
    rings = shapely.get_rings(parts[kinds == 3])
    if not len(rings):
        return "", lines
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    sx, sy = to_svg(xy[:, 0], xy[:, 1])
    pairs = np.char.add(np.char.add(_fmt_all(sx), " "), _fmt_all(sy))
    first = np.ones(len(ring), dtype=bool)
    first[1:] = ring[1:] != ring[:-1]
    last = np.append(first[1:], True)
    pairs = np.where(first, np.char.add("M", pairs), pairs)
    pairs = np.where(last, np.char.add(pairs, "Z"), pairs)
    return " ".join(pairs.tolist()), lines


def _street_picture(streets: Any, to_svg: Any, tolerance: float, height: float) -> str | None:
    """The streets as one PNG under the map when they have too many vertices for a vector path
    (:func:`scenarios.outputs.map_lod.street_image`), else None."""
    import shapely

    from siting.scenarios.outputs.map_lod import MAX_SVG_STREET_VERTICES, street_image

    if int(shapely.get_num_coordinates(np.asarray(streets.geometry.to_numpy())).sum()) <= MAX_SVG_STREET_VERTICES:
        return None
    geoms = shapely.simplify(np.asarray(streets.geometry.to_numpy()), tolerance, preserve_topology=False)
    parts = shapely.get_parts(geoms[~shapely.is_empty(geoms)])
    xy, line = shapely.get_coordinates(parts, return_index=True)
    sx, sy = to_svg(xy[:, 0], xy[:, 1])
    return street_image(np.column_stack([sx, sy]), line, WIDTH, height)


def _demand_cells(demand: Any, dx: np.ndarray, dy: np.ndarray, state: np.ndarray) -> tuple[str, float]:
    """Demand as grid cells when there are too many points to draw one by one
    (:func:`scenarios.outputs.map_lod.grid_cells`): one path per coverage state, and the cell side
    (SVG units); ("", 0) otherwise."""
    from siting.scenarios.outputs.map_lod import grid_cells

    keys = ("none", "some", "all")
    people_col = next((c for c in ("residents",) if c in demand.columns), None)
    people = demand[people_col].fillna(0).to_numpy(dtype=float) if people_col else np.ones(len(demand))
    code = np.select([state == k for k in keys], [0, 1, 2], default=1).astype(np.int64)
    found = grid_cells(dx, dy, code, people, len(keys))
    if found is None:
        return "", 0.0
    side, cx, cy, cls = found
    groups = []
    for c, key in enumerate(keys):  # three colours
        sel = cls == c
        if sel.any():
            d = np.char.add(np.char.add(np.char.add("M", _fmt_all(cx[sel])), " "), _fmt_all(cy[sel]))
            d = np.char.add(d, f"h{_fmt(side)}v{_fmt(side)}h-{_fmt(side)}z")
            groups.append(f'<path d="{"".join(d.tolist())}" fill="{COVER_COLOURS[key]}" fill-opacity="0.6"/>')
    return "".join(groups), side


def interactive_map(layers: dict[str, Any] | None, plan: Any, summary: dict[str, Any], lang: str) -> str:
    """The HTML block of the interactive map (empty when there is nothing to draw).

    Parameters
    ----------
    layers : the layers of ``plan.gpkg`` (``streets``, ``demand``, ``existing``, ``candidates``,
        ``chosen_sites``), all in one projected CRS; missing layers are left out.
    plan : the ranked plan (rows shown when a site is clicked).
    summary : the run's summary (services, currency).
    lang : ``en`` or ``zh``.
    """
    from siting.scenarios.outputs.excel import currency_of

    layers = layers or {}
    chosen = layers.get("chosen_sites")
    if chosen is None or not len(chosen) or chosen.crs is None or chosen.crs.is_geographic:
        return ""
    same = {
        k: (g.to_crs(chosen.crs) if g.crs is not None and g.crs != chosen.crs else g)
        for k, g in layers.items()
        if k in ("streets", "demand", "existing", "candidates", "chosen_sites", "water", "green")
        and g is not None
        and len(g)
    }
    # far-apart areas side by side, each to scale, as on map.png: the map opens on the data, not on the
    # empty kilometres between pilot communities
    reaches = [
        float(r["reach_m"])
        for r in (summary.get("services") or {}).values()
        if isinstance(r, dict) and r.get("reach_m")
    ]
    compact = compact_clusters(same, 2.0 * max([*reaches, 500.0]))
    areas: list[tuple[tuple[float, float, float, float], str]] = []
    if compact is not None:
        same, areas, _ = compact
    layers, chosen = same, same["chosen_sites"]
    # the view starts on the data (demand, plots, facilities): streets reaching beyond them are cut off
    drawn = [g for g in (layers.get(k) for k in ("demand", "existing", "candidates")) if g is not None]
    bounds = np.array([g.total_bounds for g in [chosen, *drawn]], dtype=float)
    if areas:  # the dashed boxes and their names are in view too
        bounds = np.vstack([bounds, np.array([box for box, _ in areas], dtype=float)])
    bounds = bounds[np.isfinite(bounds).all(axis=1)]
    x0, y0 = bounds[:, 0].min(), bounds[:, 1].min()
    x1, y1 = bounds[:, 2].max(), bounds[:, 3].max()
    span = max(x1 - x0, y1 - y0, 1.0)
    pad = 0.03 * span
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    scale = WIDTH / (x1 - x0)
    height = max(round((y1 - y0) * scale, DECIMALS), 50.0)

    def to_svg(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(x) - x0) * scale, (y1 - np.asarray(y)) * scale  # north up

    t = i18n.text
    services = list(
        dict.fromkeys([str(s) for s in (summary.get("services") or {})] + [str(s) for s in chosen["service"]])
    )
    colour = {s: SERVICE_COLOURS[k % len(SERVICE_COLOURS)] for k, s in enumerate(services)}
    r_site = 7.0
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_fmt(WIDTH)} {_fmt(height)}" role="img" '
            f'aria-label="{_e(t(lang, "map_alt"))}">'
        )
    ]
    view = (x0, y0, x1, y1)
    for name, fill in (("water", palette.WATER), ("green", palette.GREEN)):  # under the streets, as on map.png
        areas_d, lines_d = _area_path(layers.get(name), to_svg, 0.5 / scale, view)
        if areas_d or lines_d:
            out.append(
                f'<g class="{name}">'
                + (f'<path d="{areas_d}" fill="{fill}" fill-rule="evenodd" stroke="none"/>' if areas_d else "")
                + (
                    f'<path d="{lines_d}" fill="none" stroke="{fill}" stroke-width="2" '
                    'vector-effect="non-scaling-stroke"/>'
                    if lines_d
                    else ""
                )
                + "</g>"
            )
    streets = layers.get("streets")
    if streets is not None and len(streets):
        streets = streets.to_crs(chosen.crs) if streets.crs is not None and streets.crs != chosen.crs else streets
        picture = _street_picture(streets, to_svg, tolerance=0.5 / scale, height=height)
        path = "" if picture else _street_path(streets, to_svg, tolerance=0.5 / scale)  # half an SVG unit
        if picture:
            out.append(
                f'<image href="{picture}" x="0" y="0" width="{_fmt(WIDTH)}" height="{_fmt(height)}" '
                'preserveAspectRatio="none"/>'
            )
        if path:
            out.append(
                f'<path d="{path}" fill="none" stroke="#c8c8c8" stroke-width="1" vector-effect="non-scaling-stroke"/>'
            )
    demand = layers.get("demand")
    cell_note = ""
    if demand is not None and len(demand):
        dx, dy = to_svg(*_points(demand))
        cover = [c for c in (f"covered_{s}" for s in services) if c in demand.columns]
        if cover:
            hits = np.column_stack([demand[c].fillna(0).to_numpy(dtype=float) > 0 for c in cover]).sum(axis=1)
            state = np.where(hits == len(cover), "all", np.where(hits > 0, "some", "none"))
        else:
            state = np.full(len(demand), "some")
        cells, side = _demand_cells(demand, dx, dy, state)
        if cells:
            out.append(cells)
            cell_note = t(lang, "imap_cells", points=f"{len(demand):,}", side=f"{side / scale:,.0f}")
        for key in ("none", "some", "all") if not cells else ():
            sel = state == key
            if sel.any():
                dots = "".join(f'<circle cx="{_fmt(a)}" cy="{_fmt(b)}" r="2.5"/>' for a, b in zip(dx[sel], dy[sel]))
                out.append(f'<g fill="{COVER_COLOURS[key]}" fill-opacity="0.75">{dots}</g>')
    existing = layers.get("existing")
    if existing is not None and len(existing):
        ex, ey = to_svg(*_points(existing.to_crs(chosen.crs) if existing.crs != chosen.crs else existing))
        svc = (
            existing["service"].astype(str).to_numpy() if "service" in existing.columns else np.full(len(existing), "")
        )
        squares = "".join(
            f'<rect x="{_fmt(a - 4)}" y="{_fmt(b - 4)}" width="8" height="8" fill="{colour.get(s, "#555555")}">'
            f"<title>{_e(t(lang, 'map_existing'))}: {_e(i18n.service_name(lang, s))}</title></rect>"
            for a, b, s in zip(ex, ey, svc)
        )
        out.append(f'<g stroke="#333333" stroke-width="1" vector-effect="non-scaling-stroke">{squares}</g>')
    # chosen sites: one marker per (site, service), fanned out around the plot when a plot hosts several
    cx, cy = to_svg(*_points(chosen))
    ids = chosen["site_id"].astype(str).to_numpy()
    svc = chosen["service"].astype(str).to_numpy()
    ranks = chosen["rank"].to_numpy() if "rank" in chosen.columns else np.arange(1, len(chosen) + 1)
    nth = chosen.groupby("site_id").cumcount().to_numpy()
    count = chosen.groupby("site_id")["site_id"].transform("size").to_numpy()
    angle = 2 * math.pi * nth / np.maximum(count, 1)
    off = np.where(count > 1, r_site * 1.1, 0.0)
    mx, my = cx + off * np.sin(angle), cy - off * np.cos(angle)
    marks: list[str] = []
    for k in range(len(chosen)):  # a loop over chosen sites (tens)
        label = f"{ids[k]} · #{ranks[k]} {i18n.service_name(lang, svc[k])}"
        marks.append(
            f'<circle class="site" data-site="{_e(ids[k])}" cx="{_fmt(mx[k])}" cy="{_fmt(my[k])}" r="{_fmt(r_site)}" '
            f'fill="{colour.get(svc[k], "#000000")}"><title>{_e(label)}</title></circle>'
        )
    boxes = []
    for (bx0, by0, bx1, by1), name in areas:  # the areas moved side by side, as on map.png
        (ax0, ax1), (ay1, ay0) = to_svg(np.array([bx0, bx1]), np.array([by0, by1]))
        boxes.append(
            f'<rect x="{_fmt(ax0)}" y="{_fmt(ay0)}" width="{_fmt(ax1 - ax0)}" height="{_fmt(ay1 - ay0)}"/>'
            + (f'<text x="{_fmt(ax0)}" y="{_fmt(ay0 - 4)}">{_e(name)}</text>' if name else "")
        )
    if boxes:
        out.append(
            '<g class="areas" fill="none" stroke="#888888" stroke-dasharray="4 3" vector-effect="non-scaling-stroke">'
            + "".join(boxes)
            + "</g>"
        )
    out.append("<g>" + "".join(marks) + "</g></svg>")

    # the rows shown on click: rank, service, phase, cost, reason (in the report's language)
    currency = currency_of(summary)
    reason_col = "reason_zh" if lang == "zh" and "reason_zh" in plan.columns else "reason"
    rows: dict[str, list[list[str]]] = {}
    for rec in plan.to_dict("records"):  # a loop over plan rows (tens)
        rows.setdefault(str(rec.get("site_id")), []).append(
            [
                str(rec.get("rank", "")),
                i18n.service_name(lang, rec.get("service", "")),
                str(rec.get("phase", "")) if rec.get("phase") is not None else "",
                i18n.money(lang, rec.get("cost"), currency),
                ""
                if rec.get(reason_col) is None or rec.get(reason_col) != rec.get(reason_col)
                else str(rec.get(reason_col)),
            ]
        )
    data = json.dumps(rows, ensure_ascii=False).replace("<", "\\u003c")
    legend = "".join(
        f'<span><i style="background:{colour[s]}"></i>{_e(i18n.service_name(lang, s))}</span>' for s in services
    ) + "".join(
        f'<span><i style="background:{COVER_COLOURS[k]}"></i>{_e(t(lang, "map_" + k))}</span>'
        for k in ("all", "some", "none")
    )
    heads = "".join(
        f"<th>{_e(h)}</th>"
        for h in (t(lang, "imap_rank"), t(lang, "service"), t(lang, "phase"), t(lang, "cost"), t(lang, "imap_reason"))
    )
    return (
        '<div id="imap" class="screen-only">'
        f'<p class="caption">{_e(t(lang, "imap_caption"))}</p>'
        + (f'<p class="caption">{_e(t(lang, "map_compact"))}</p>' if areas else "")
        + (f'<p class="caption">{_e(cell_note)}</p>' if cell_note else "")
        + '<div class="tools">'
        f'<button type="button" data-zoom="0.8" title="{_e(t(lang, "imap_zoom_in"))}">+</button>'
        f'<button type="button" data-zoom="1.25" title="{_e(t(lang, "imap_zoom_out"))}">−</button>'
        f'<button type="button" data-zoom="0">{_e(t(lang, "imap_reset"))}</button></div>'
        + "".join(out)
        + f'<div class="legend">{legend}</div>'
        f'<div id="imap-info" hidden><h3>{_e(t(lang, "imap_site"))} <span class="imap-site"></span></h3>'
        f"<table><thead><tr>{heads}</tr></thead><tbody></tbody></table></div>"
        f'<script type="application/json" id="imap-data">{data}</script>'
        f"<script>{SCRIPT}</script></div>"
    )


__all__ = ["CSS", "SCRIPT", "interactive_map"]
