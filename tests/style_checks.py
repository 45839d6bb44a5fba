"""Structural checks of the QGIS styles in plan.gpkg's ``layer_styles`` (QGIS itself is not installable here).

:func:`qml_problems` checks what QGIS reads when it applies a QML style (``QgsMapLayer::importNamedStyle``
then the renderer's ``create``): a ``qgis`` root with a ``version``; one ``renderer-v2`` of a known
type; for ``singleSymbol`` a symbol named ``0``, for ``categorizedSymbol`` an ``attr`` that is a column
of the layer and one symbol per category with the name the category points to; every ``symbol``
of the type the geometry needs (marker / line / fill), each with a symbol layer of a class of that
type whose colour properties are ``r,g,b,a`` colours; labels on a column of the layer.

:func:`sld_problems` checks an SLD 1.1 document (OGC 05-078r4, Symbology Encoding 05-077r4) against
the element structure of its XSD: ``StyledLayerDescriptor`` version 1.1.0 -> ``NamedLayer`` (``se:Name``)
-> ``UserStyle`` -> ``se:FeatureTypeStyle`` -> ``se:Rule`` (``se:Name``, an optional ``ogc:Filter``
on a column of the layer, then symbolizers, in the schema's order) -> the symbolizer the geometry
needs, with ``SvgParameter`` names of the SE list and ``#RRGGBB`` colours. No offline SLD 1.1 schema
is installable from PyPI (python-sld fetches the 1.0 XSD over the network at run time), so the
schema's element order is written out here.

Each returns a list of problems (empty: the style has the structure).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SLD = "{http://www.opengis.net/sld}"
SE = "{http://www.opengis.net/se}"
OGC = "{http://www.opengis.net/ogc}"
QGIS_RGBA = re.compile(r"^\d{1,3},\d{1,3},\d{1,3},\d{1,3}$")
HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: Symbol type and symbol layer classes QGIS draws for each geometry.
QGIS_KIND = {"Point": "marker", "Line": "line", "Polygon": "fill"}
QGIS_CLASSES = {
    "marker": {"SimpleMarker", "SvgMarker", "FontMarker", "EllipseMarker"},
    "line": {"SimpleLine", "MarkerLine", "ArrowLine"},
    "fill": {"SimpleFill", "SVGFill", "LinePatternFill", "PointPatternFill", "GradientFill"},
}
#: Colour properties of the simple symbol layers (QgsSimple*SymbolLayer::create).
QGIS_COLOURS = {"SimpleMarker": ("color", "outline_color"), "SimpleLine": ("line_color",), "SimpleFill": ("color",)}
QGIS_RENDERERS = {"singleSymbol", "categorizedSymbol", "graduatedSymbol", "RuleRenderer", "nullSymbol"}
SE_SYMBOLIZER = {"Point": "PointSymbolizer", "Line": "LineSymbolizer", "Polygon": "PolygonSymbolizer"}
SE_MARKS = {"square", "circle", "triangle", "star", "cross", "x"}
SE_PARAMETERS = {
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-opacity",
    "stroke-width",
    "stroke-linejoin",
    "stroke-linecap",
    "stroke-dasharray",
    "stroke-dashoffset",
}
#: Child order of the SE 1.1 elements used (schema sequences; every child optional unless listed in REQUIRED).
SE_ORDER = {
    "Rule": [
        "Name",
        "Description",
        "LegendGraphic",
        "Filter",
        "ElseFilter",
        "MinScaleDenominator",
        "MaxScaleDenominator",
        "PointSymbolizer",
        "LineSymbolizer",
        "PolygonSymbolizer",
        "TextSymbolizer",
        "RasterSymbolizer",
    ],
    "PointSymbolizer": ["Name", "Description", "BaseSymbolizer", "Geometry", "Graphic"],
    "LineSymbolizer": ["Name", "Description", "BaseSymbolizer", "Geometry", "Stroke", "PerpendicularOffset"],
    "PolygonSymbolizer": [
        "Name",
        "Description",
        "BaseSymbolizer",
        "Geometry",
        "Fill",
        "Stroke",
        "Displacement",
        "PerpendicularOffset",
    ],
    "Graphic": ["ExternalGraphic", "Mark", "Opacity", "Size", "Rotation", "AnchorPoint", "Displacement"],
    "Mark": ["WellKnownName", "OnlineResource", "InlineContent", "Format", "MarkIndex", "Fill", "Stroke"],
    "Fill": ["GraphicFill", "SvgParameter"],
    "Stroke": ["GraphicFill", "GraphicStroke", "SvgParameter"],
}
REQUIRED = {"PointSymbolizer": ["Graphic"], "Graphic": ["Size"], "Mark": ["WellKnownName"]}


def base_geometry(geom_type: str) -> str:
    """``Point``, ``Line`` or ``Polygon`` of an OGR geometry type name (``MultiLineString`` -> ``Line``)."""
    return "Point" if "Point" in geom_type else ("Line" if "Line" in geom_type else "Polygon")


def _local(tag: str) -> str:
    return tag.split("}")[-1]


def qml_problems(text: str, geom_type: str, columns: set[str]) -> list[str]:
    """What keeps QGIS from reading ``text`` as the style of a ``geom_type`` layer with ``columns``."""
    out: list[str] = []
    try:
        root = ET.fromstring(text.split("\n", 1)[1] if text.startswith("<!DOCTYPE") else text)
    except (ET.ParseError, IndexError) as exc:
        return [f"not XML: {exc}"]
    if root.tag != "qgis":
        out.append(f"root is <{root.tag}>, not <qgis>")
    if not re.match(r"^\d+\.\d+(\.\d+)?", root.get("version", "")):
        out.append("<qgis> has no version")
    renderers = root.findall("renderer-v2")
    if len(renderers) != 1:
        return [*out, f"{len(renderers)} <renderer-v2> elements"]
    rend = renderers[0]
    kind = rend.get("type", "")
    if kind not in QGIS_RENDERERS:
        out.append(f"renderer type {kind!r} unknown")
    symbols = rend.findall("symbols/symbol")
    names = [s.get("name") for s in symbols]
    if len(set(names)) != len(names):
        out.append("symbol names repeat")
    if kind == "singleSymbol" and names != ["0"]:
        out.append(f"singleSymbol needs one symbol named 0, has {names}")
    if kind == "categorizedSymbol":
        attr = rend.get("attr")
        if attr not in columns:
            out.append(f"categorized on {attr!r}, not a column ({sorted(columns)})")
        cats = rend.findall("categories/category")
        if not cats:
            out.append("categorizedSymbol without categories")
        for cat in cats:
            if cat.get("symbol") not in names:
                out.append(f"category {cat.get('value')!r} points to a missing symbol {cat.get('symbol')!r}")
            if cat.get("value") is None or cat.get("label") is None:
                out.append("a category without value or label")
    want = QGIS_KIND[base_geometry(geom_type)]
    for sym in symbols:
        if sym.get("type") != want:
            out.append(f"symbol {sym.get('name')} is a {sym.get('type')} symbol; a {geom_type} layer needs {want}")
        layers = sym.findall("layer")
        if not layers:
            out.append(f"symbol {sym.get('name')} has no symbol layer")
        for lay in layers:
            cls = lay.get("class", "")
            if cls not in QGIS_CLASSES[want]:
                out.append(f"symbol layer class {cls!r} cannot draw a {want} symbol")
            props = {o.get("name"): o.get("value") for o in lay.findall("Option/Option")}
            props.update({p.get("k"): p.get("v") for p in lay.findall("prop")})  # the QGIS 2 / 3.0 form
            for key in QGIS_COLOURS.get(cls, ()):
                if not QGIS_RGBA.match(props.get(key) or ""):
                    out.append(f"{cls} colour {key} = {props.get(key)!r} is not r,g,b,a")
    if root.get("labelsEnabled") == "1":
        field = root.find("labeling/settings/text-style")
        if field is None or field.get("fieldName") not in columns:
            out.append("labels on a field the layer does not have")
    return out


def _order(el: ET.Element, where: str) -> list[str]:
    name = _local(el.tag)
    order = SE_ORDER.get(name)
    if order is None:
        return []
    out = []
    kids = [_local(c.tag) for c in el]
    unknown = [k for k in kids if k not in order]
    if unknown:
        out.append(f"{where}: <{name}> may not hold {unknown}")
    pos = [order.index(k) for k in kids if k in order]
    if pos != sorted(pos):
        out.append(f"{where}: <{name}> children out of the schema's order: {kids}")
    for need in REQUIRED.get(name, []):
        if need not in kids:
            out.append(f"{where}: <{name}> lacks <{need}>")
    for child in el:
        out += _order(child, where)
    return out


def sld_problems(text: str, geom_type: str, columns: set[str]) -> list[str]:
    """What keeps ``text`` from being an SLD 1.1 style of a ``geom_type`` layer with ``columns``."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        return [f"not XML: {exc}"]
    out: list[str] = []
    if root.tag != SLD + "StyledLayerDescriptor" or root.get("version") != "1.1.0":
        out.append(f"root {root.tag} version {root.get('version')} is not an SLD 1.1.0 StyledLayerDescriptor")
    layers = root.findall(SLD + "NamedLayer")
    if len(layers) != 1 or layers[0].find(SE + "Name") is None:
        return [*out, "needs one NamedLayer with an se:Name"]
    styles = layers[0].findall(SLD + "UserStyle")
    fts = [f for s in styles for f in s.findall(SE + "FeatureTypeStyle")]
    if not styles or not fts:
        return [*out, "needs a UserStyle with an se:FeatureTypeStyle"]
    rules = [r for f in fts for r in f.findall(SE + "Rule")]
    if not rules:
        out.append("no se:Rule")
    want = SE_SYMBOLIZER[base_geometry(geom_type)]
    for k, rule in enumerate(rules):
        where = f"rule {k + 1}"
        out += _order(rule, where)
        symbolizers = [c for c in rule if _local(c.tag).endswith("Symbolizer")]
        if not symbolizers:
            out.append(f"{where}: no symbolizer")
        for sym in symbolizers:
            if _local(sym.tag) != want:
                out.append(f"{where}: {_local(sym.tag)} on a {geom_type} layer (needs {want})")
        flt = rule.find(OGC + "Filter")
        if flt is not None:
            for prop in flt.iter(OGC + "PropertyName"):
                if prop.text not in columns:
                    out.append(f"{where}: filter on {prop.text!r}, not a column")
        for par in rule.iter(SE + "SvgParameter"):
            name = par.get("name")
            if name not in SE_PARAMETERS:
                out.append(f"{where}: SvgParameter {name!r} is not an SE parameter")
            if name in ("fill", "stroke") and not HEX.match(par.text or ""):
                out.append(f"{where}: {name} {par.text!r} is not #RRGGBB")
            if name in ("fill-opacity", "stroke-opacity") and not 0 <= float(par.text or "nan") <= 1:
                out.append(f"{where}: {name} {par.text!r} outside 0..1")
        for mark in rule.iter(SE + "WellKnownName"):
            if mark.text not in SE_MARKS:
                out.append(f"{where}: mark {mark.text!r} is not a well-known name")
    return out
