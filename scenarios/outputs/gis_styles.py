"""QGIS styles for every layer of plan.gpkg: the ``layer_styles`` table, with QML and SLD text.

QGIS looks for a table named ``layer_styles`` in a GeoPackage and applies the row marked
``useAsDefault`` of a layer when the layer is opened, so officials see the plan's colours (the
palette of :mod:`scenarios.outputs.palette`, the same as map.png) without styling anything. Each row
carries the style twice: ``styleQML`` (QGIS' own format: a single-symbol or categorized renderer,
and rank labels on the new sites) and ``styleSLD`` (OGC Styled Layer Descriptor 1.1, one rule per
category, for other GIS software). The text is generated here, from the layer's geometry type and
the run's services; the table has QGIS' columns and a fixed ``update_time`` so the file stays
byte-identical between runs.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from siting.scenarios.outputs import palette

STYLE_TABLE = "layer_styles"
#: Column of the GeoPackage geometry (pyogrio's default for GPKG).
GEOMETRY_COLUMN = "geom"
FIXED_UPDATE_TIME = "2000-01-01T00:00:00Z"
_QGIS_MARKER = {
    "o": "circle",
    "^": "triangle",
    "s": "square",
    "D": "diamond",
    "P": "cross_fill",
    "X": "cross2",
    "v": "triangle",
    "h": "hexagon",
    "*": "star",
    "p": "pentagon",
}
_SLD_MARKER = {
    "o": "circle",
    "^": "triangle",
    "s": "square",
    "D": "square",
    "P": "cross",
    "X": "x",
    "v": "triangle",
    "h": "circle",
    "*": "star",
    "p": "circle",
}


# ------------------------------------------------------------------------------ what each layer looks like
def layer_look(name: str, geom_type: str, services: list[str]) -> dict[str, Any]:
    """The style of one layer as plain data: ``kind`` (marker / line / fill), ``attr`` (categorized by
    this column, or None), ``classes`` [(value, label, colour, shape)], ``default`` (colour, shape),
    ``size``, ``fill_alpha`` and ``label`` (a column to label with, or None)."""
    styles = palette.service_styles(services)
    kind = "marker" if "Point" in geom_type else ("line" if "Line" in geom_type else "fill")
    look: dict[str, Any] = {
        "kind": kind,
        "attr": None,
        "classes": [],
        "default": ("#777777", "o"),
        "size": 2.0,
        "fill_alpha": 255,
        "label": None,
        "width": 0.4,
    }
    by_service = [(s, s.replace("_", " "), styles[s][1], styles[s][0]) for s in services]
    if name in ("chosen_sites", "chosen_plots", "catchments", "served_by"):
        look.update(attr="service", classes=by_service)
    if name == "chosen_sites":
        look.update(size=4.0, label="rank")
    elif name == "chosen_plots":
        look.update(fill_alpha=150, width=0.6)
    elif name == "catchments":
        look.update(fill_alpha=40, width=0.6)
    elif name == "served_by":
        look.update(width=0.25)
    elif name == "demand":
        look.update(default=(palette.COVERED, "o"), size=1.6)
    elif name == "existing":
        look.update(default=("#000000", "o"), size=3.0, fill_alpha=0)
    elif name == "candidates":
        look.update(default=("#9e9e9e", "s"), size=1.8)
    elif name == "demand_areas":
        look.update(default=(palette.BUILDING, "o"), width=0.1)
    elif name == "streets":
        look.update(default=(palette.STREET, "o"), width=0.3)
    elif name == "water":
        look.update(default=(palette.WATER, "o"), width=0.1 if kind == "fill" else 0.8)
    elif name == "green":
        look.update(default=(palette.GREEN, "o"), width=0.1 if kind == "fill" else 0.8)
    return look


# ------------------------------------------------------------------------------ QML
def _qml_symbol(index: int, look: dict[str, Any], colour: str, shape: str) -> str:
    kind = look["kind"]
    if kind == "marker":
        fill = palette.rgb(colour, look["fill_alpha"])
        outline = palette.rgb("#ffffff") if look["fill_alpha"] else palette.rgb(colour)
        opts = {
            "name": _QGIS_MARKER.get(shape, "circle"),
            "color": fill,
            "outline_color": outline,
            "outline_width": "0.3",
            "size": f"{look['size']:g}",
            "size_unit": "MM",
        }
        layer_class = "SimpleMarker"
    elif kind == "line":
        opts = {
            "line_color": palette.rgb(colour),
            "line_width": f"{look['width']:g}",
            "line_width_unit": "MM",
            "capstyle": "round",
            "joinstyle": "round",
        }
        layer_class = "SimpleLine"
    else:
        opts = {
            "color": palette.rgb(colour, look["fill_alpha"]),
            "outline_color": palette.rgb(colour),
            "outline_width": f"{look['width']:g}",
            "outline_width_unit": "MM",
            "style": "solid",
        }
        layer_class = "SimpleFill"
    options = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>' for k, v in opts.items())
    return (
        f'<symbol type="{kind}" name="{index}" alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class="{layer_class}" pass="0" locked="0" enabled="1"><Option type="Map">{options}</Option>'
        "</layer></symbol>"
    )


def _qml_labels(column: str) -> str:
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(column)} isExpression="0" fontSize="9" fontWeight="75" '
        'textColor="0,0,0,255" fontFamily="DejaVu Sans" namedStyle="Bold">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferColor="255,255,255,255" bufferSizeUnits="MM"/>'
        "</text-style>"
        '<placement placement="6" dist="1.5" distUnits="MM" priority="8"/>'
        '<rendering obstacle="1" displayAll="0" labelPerPart="0" limitNumLabels="0"/>'
        "</settings></labeling>"
    )


def qml(look: dict[str, Any]) -> str:
    """The QML document of one layer's :func:`layer_look`."""
    if look["attr"] and look["classes"]:
        cats = "".join(
            f'<category symbol="{k}" value={quoteattr(v)} label={quoteattr(lab)} render="true"/>'
            for k, (v, lab, _c, _s) in enumerate(look["classes"])
        )
        symbols = "".join(_qml_symbol(k, look, c, s) for k, (_v, _l, c, s) in enumerate(look["classes"]))
        renderer = (
            f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(look["attr"])} symbollevels="0" '
            f'enableorderby="0" forceraster="0"><categories>{cats}</categories>'
            f"<symbols>{symbols}</symbols></renderer-v2>"
        )
    else:
        colour, shape = look["default"]
        renderer = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<symbols>{_qml_symbol(0, look, colour, shape)}</symbols></renderer-v2>"
        )
    labels = _qml_labels(look["label"]) if look["label"] else ""
    enabled = "1" if look["label"] else "0"
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="3.28.0" styleCategories="Symbology|Labeling" labelsEnabled="{enabled}">'
        f"{renderer}{labels}</qgis>\n"
    )


# ------------------------------------------------------------------------------ SLD
def _sld_symbolizer(look: dict[str, Any], colour: str, shape: str) -> str:
    kind = look["kind"]
    opacity = f"{look['fill_alpha'] / 255:.2f}"
    if kind == "marker":
        return (
            "<se:PointSymbolizer><se:Graphic><se:Mark>"
            f"<se:WellKnownName>{_SLD_MARKER.get(shape, 'circle')}</se:WellKnownName>"
            f'<se:Fill><se:SvgParameter name="fill">{colour}</se:SvgParameter>'
            f'<se:SvgParameter name="fill-opacity">{opacity}</se:SvgParameter></se:Fill>'
            f'<se:Stroke><se:SvgParameter name="stroke">{colour if look["fill_alpha"] == 0 else "#ffffff"}'
            "</se:SvgParameter></se:Stroke>"
            f"</se:Mark><se:Size>{look['size'] * 3.78:.1f}</se:Size></se:Graphic></se:PointSymbolizer>"
        )
    stroke = (
        f'<se:Stroke><se:SvgParameter name="stroke">{colour}</se:SvgParameter>'
        f'<se:SvgParameter name="stroke-width">{look["width"] * 3.78:.1f}</se:SvgParameter></se:Stroke>'
    )
    if kind == "line":
        return f"<se:LineSymbolizer>{stroke}</se:LineSymbolizer>"
    return (
        f'<se:PolygonSymbolizer><se:Fill><se:SvgParameter name="fill">{colour}</se:SvgParameter>'
        f'<se:SvgParameter name="fill-opacity">{opacity}</se:SvgParameter></se:Fill>{stroke}</se:PolygonSymbolizer>'
    )


def sld(layer: str, look: dict[str, Any]) -> str:
    """The SLD 1.1 document of one layer's :func:`layer_look`: one rule per category (or one rule)."""
    rules = []
    if look["attr"] and look["classes"]:
        for value, label, colour, shape in look["classes"]:
            flt = (
                f'<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"><ogc:PropertyIsEqualTo>'
                f"<ogc:PropertyName>{escape(look['attr'])}</ogc:PropertyName>"
                f"<ogc:Literal>{escape(value)}</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter>"
            )
            rules.append(
                f"<se:Rule><se:Name>{escape(label)}</se:Name>{flt}{_sld_symbolizer(look, colour, shape)}</se:Rule>"
            )
    else:
        colour, shape = look["default"]
        rules.append(f"<se:Rule><se:Name>{escape(layer)}</se:Name>{_sld_symbolizer(look, colour, shape)}</se:Rule>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" xmlns:se="http://www.opengis.net/se" '
        'xmlns:ogc="http://www.opengis.net/ogc" version="1.1.0">'
        f"<NamedLayer><se:Name>{escape(layer)}</se:Name><UserStyle><se:Name>{escape(layer)}</se:Name>"
        f"<se:FeatureTypeStyle>{''.join(rules)}</se:FeatureTypeStyle></UserStyle></NamedLayer>"
        "</StyledLayerDescriptor>\n"
    )


# ------------------------------------------------------------------------------ the table
def styles_table(layers: dict[str, Any], services: list[str]) -> pd.DataFrame:
    """One row per layer of plan.gpkg, in QGIS' ``layer_styles`` columns (the style is each layer's default)."""
    rows = []
    for name, gdf in layers.items():
        # a layer of several kinds (water: areas and rivers as lines) is styled as its widest kind
        types = sorted({str(t) for t in gdf.geom_type.dropna().unique()}, key=lambda t: ("Polygon" not in t, t))
        types = types if len(gdf) else []
        geom_type = (
            types[0]
            if types
            else {
                "streets": "LineString",
                "served_by": "LineString",
                "catchments": "Polygon",
                "chosen_plots": "Polygon",
                "demand_areas": "Polygon",
                "water": "Polygon",
                "green": "Polygon",
            }.get(name, "Point")
        )
        look = layer_look(name, geom_type, services)
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": GEOMETRY_COLUMN,
                "styleName": f"siting {name}",
                "styleQML": qml(look),
                "styleSLD": sld(name, look),
                "useAsDefault": 1,
                "description": f"siting's style for {name}",
                "owner": "siting",
                "ui": "",
                "update_time": FIXED_UPDATE_TIME,
            }
        )
    return pd.DataFrame(rows)


__all__ = ["FIXED_UPDATE_TIME", "GEOMETRY_COLUMN", "STYLE_TABLE", "layer_look", "qml", "sld", "styles_table"]
