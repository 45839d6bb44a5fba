"""What officials receive from the Chinese Wuhai run: plan.csv with a BOM, plan.xlsx in Chinese with
numeric cells and currency formats, lon/lat in GCJ-02 when the scenario asks, and the words of the
report all in Chinese.

One run of the Wuhai example (``output.lang: zh``, ``output.coordinates: gcj02``) serves every test.
None of these outputs depends on a system font (the CSV and the workbook are bytes; the report names
a font stack), so they hold on a machine with no CJK font too.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio
import pytest
from paths import REPO

from siting.scenarios.geodata.coords import gcj02_to_bd09, wgs84_to_gcj02
from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.csv_safe import BOM
from siting.scenarios.outputs.excel import plan_workbook
from siting.scenarios.outputs.lonlat import from_wgs84, plan_in_system, to_wgs84
from siting.scenarios.pipeline.run import run_scenario

ROOT = REPO
WUHAI = ROOT / "scenarios" / "examples" / "wuhai"


@pytest.fixture(scope="module")
def wuhai(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Wuhai example run in Chinese with GCJ-02 coordinates; returns the output folder."""
    base = tmp_path_factory.mktemp("wuhai")
    shutil.copy(WUHAI / "wuhai.gpkg", base / "wuhai.gpkg")
    text = (WUHAI / "scenario.yaml").read_text(encoding="utf-8")
    assert "\n  lang: zh\n" in text
    text = text.replace("\n  lang: zh\n", "\n  lang: zh\n  coordinates: gcj02\n")
    (base / "scenario.yaml").write_text(text, encoding="utf-8")
    return run_scenario(base / "scenario.yaml", out=base / "out").out_dir


def _workbook(out: Path) -> Any:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO((out / "plan.xlsx").read_bytes()))


# ------------------------------------------------------------------------------ CSV with a BOM
def test_csv_files_start_with_the_bom_and_read_back(wuhai: Path) -> None:
    for name in ("plan.csv", "uncovered.csv"):
        raw = (wuhai / name).read_bytes()
        assert raw.startswith(BOM), name
        assert not raw[3:].startswith(BOM), name  # once
        table = pd.read_csv(wuhai / name, encoding="utf-8-sig")
        assert table.columns[0] in ("rank", "service"), table.columns[0]
    plan = pd.read_csv(wuhai / "plan.csv", encoding="utf-8-sig")
    # the Chinese reasons survive the round trip as written by the run
    assert plan["reason_zh"].str.contains("覆盖").all()
    # Excel on Chinese Windows decodes a BOM file as UTF-8: the bytes after it are valid UTF-8
    raw = (wuhai / "plan.csv").read_bytes()[len(BOM) :].decode("utf-8")
    assert "新覆盖" in raw


# ------------------------------------------------------------------------------ plan.xlsx
def test_xlsx_round_trip_has_chinese_headers_and_numeric_cells(wuhai: Path) -> None:
    plan = pd.read_csv(wuhai / "plan.csv", encoding="utf-8-sig", dtype={"site_id": str, "phase": str})
    wb = _workbook(wuhai)
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == len(plan)
    columns = list(plan.columns.drop("reason_zh"))
    assert list(header) == [
        i18n.text("zh", "lon_in", system=i18n.coordinates_name("zh", "gcj02"))
        if c == "lon"
        else i18n.text("zh", "lat_in", system=i18n.coordinates_name("zh", "gcj02"))
        if c == "lat"
        else f"新增覆盖: {i18n.group_name('zh', c[4:])}"
        if c.startswith("new_")
        else i18n.column_name("zh", c)
        for c in columns
    ]
    assert "地块编号" in header and "投资" in header and "选址理由" in header
    col = {c: k for k, c in enumerate(columns)}
    for k, rec in enumerate(plan.to_dict("records")):
        for c in ("cost", "cumulative_cost", "rank", "cumulative_coverage_share", "lon", "lat"):
            cell = body[k][col[c]]
            assert isinstance(cell, (int, float)) and not isinstance(cell, bool), (c, cell)
            assert cell == pytest.approx(rec[c], rel=1e-9), (c, cell, rec[c])
        assert body[k][col["site_id"]] == rec["site_id"]
        assert body[k][col["reason"]] == rec["reason_zh"]
        assert body[k][col["service"]] == i18n.service_name("zh", rec["service"])
    # costs carry the currency; shares are percentages
    cost_cell = ws.cell(row=2, column=col["cost"] + 1)
    assert "元" in cost_cell.number_format
    assert "%" in ws.cell(row=2, column=col["cumulative_coverage_share"] + 1).number_format
    phases = list(dict.fromkeys(plan["phase"]))
    services = list(dict.fromkeys(plan["service"]))
    names = wb.sheetnames
    assert names[0] == "选址方案"
    for ph in phases:
        assert f"{ph} 阶段" in names
        n = sum(1 for _ in wb[f"{ph} 阶段"].iter_rows()) - 1
        assert n == int((plan["phase"] == ph).sum())
    for s in services:
        sheet = wb[i18n.service_name("zh", s)]
        assert sum(1 for _ in sheet.iter_rows()) - 1 == int((plan["service"] == s).sum())
    unc = pd.read_csv(wuhai / "uncovered.csv", encoding="utf-8-sig")
    assert sum(1 for _ in wb["未覆盖居民"].iter_rows()) - 1 == len(unc)
    about = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True)}
    assert about["经纬度列的坐标系"] == i18n.coordinates_name("zh", "gcj02")
    assert about["投资货币单位"] == "元"


def test_xlsx_text_from_the_data_is_never_a_formula() -> None:
    from openpyxl import load_workbook

    plan = pd.DataFrame(
        {"rank": [1, 2], "site_id": ["=cmd|' /C calc'!A0", "+1\x07"], "service": ["@x", "-2"], "cost": [1.5e6, -2.0]}
    )
    unc = pd.DataFrame(columns=["service", "demand_id", "people", "reason"])
    data = plan_workbook(plan, unc, {"scenario": {"output": {"currency": "EUR"}}}, "en")
    ws = load_workbook(io.BytesIO(data)).worksheets[0]
    cells = [[c for c in r] for r in ws.iter_rows(min_row=2)]
    assert [c.value for c in cells[0]][:3] == [1, "=cmd|' /C calc'!A0", "@x"]
    assert cells[1][1].value == "+1"  # the control character is dropped (XML cannot hold it)
    assert all(c.data_type != "f" for r in cells for c in r)
    assert cells[1][3].value == -2 and '" EUR"' in cells[1][3].number_format


def test_money_reads_yuan_and_wan_yuan() -> None:
    assert i18n.money("zh", 2_400_000, "CNY") == "240 万元"
    assert i18n.money("zh", 1_234_567, "CNY") == "123.46 万元"
    assert i18n.money("zh", 800, "CNY") == "800 元"
    assert i18n.money("en", 2_400_000, "CNY") == "2,400,000 CNY"
    assert i18n.money("en", 1000, "EUR") == "1,000 EUR"
    assert i18n.money("zh", float("nan")) == "-"


# ------------------------------------------------------------------------------ coordinates
def test_plan_lonlat_is_in_the_chosen_system(wuhai: Path) -> None:
    """plan.csv's lon/lat are GCJ-02: the WGS 84 site points of plan.gpkg moved by the GCJ-02 offset."""
    plan = pd.read_csv(wuhai / "plan.csv", encoding="utf-8-sig", dtype={"site_id": str})
    sites = pyogrio.read_dataframe(wuhai / "plan.gpkg", layer="chosen_sites").to_crs(4326)
    where = sites.drop_duplicates("site_id").set_index(sites.drop_duplicates("site_id")["site_id"].astype(str))
    pts = where.geometry.reindex(plan["site_id"])
    if pts.geom_type.iloc[0] != "Point":
        pts = pts.centroid
    glon, glat = wgs84_to_gcj02(pts.x.to_numpy(), pts.y.to_numpy())
    wlon, wlat = plan["lon"].to_numpy(), plan["lat"].to_numpy()
    # the written columns follow GCJ-02 (the offset is a few hundred metres in China; 1e-6 deg ~ 0.1 m)
    offset_m = np.hypot((wlon - pts.x.to_numpy()) * 85_000, (wlat - pts.y.to_numpy()) * 111_000)
    assert (offset_m > 50).all() and (offset_m < 1500).all(), offset_m
    assert np.allclose(wlon, glon, atol=2e-6) and np.allclose(wlat, glat, atol=2e-6)
    summary = json.loads((wuhai / "summary.json").read_text(encoding="utf-8"))
    assert summary["scenario"]["output"]["coordinates"] == "gcj02"
    page = (wuhai / "report.html").read_text(encoding="utf-8")
    assert i18n.text("zh", "coords_note", system=i18n.coordinates_name("zh", "gcj02")) in page


@pytest.mark.parametrize("system", ["wgs84", "gcj02", "bd09"])
def test_lonlat_round_trip(system: str) -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(100, 120, 50), rng.uniform(25, 45, 50)
    x, y = from_wgs84(lon, lat, system)
    if system == "bd09":
        gx, gy = wgs84_to_gcj02(lon, lat)
        bx, by = gcj02_to_bd09(gx, gy)
        assert np.allclose(x, bx) and np.allclose(y, by)
    back = to_wgs84(x, y, system)
    assert np.allclose(back[0], lon, atol=1e-6) and np.allclose(back[1], lat, atol=1e-6)
    plan = pd.DataFrame({"site_id": ["a"] * 50, "lon": lon, "lat": lat})
    moved = plan_in_system(plan, system)
    assert np.allclose(moved["lon"], x) and plan["lon"].to_numpy() is not moved["lon"].to_numpy() or system == "wgs84"


# ------------------------------------------------------------------------------ one catalogue, two languages
CATALOGUES = (
    "SERVICES",
    "GROUPS",
    "LAND_TYPES",
    "REASONS",
    "STATUS",
    "COLUMNS",
    "TEXT",
    "MODELS",
    "OBJECTIVES",
    "STAGES",
    "NOTES",
    "COORDINATES",
)


def _fields(template: str) -> set[str]:
    import string

    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("name", CATALOGUES)
def test_every_catalogue_entry_exists_in_both_languages(name: str) -> None:
    table = getattr(i18n, name)
    assert set(table) == set(i18n.LANGS), name
    assert set(table["en"]) == set(table["zh"]), (name, set(table["en"]) ^ set(table["zh"]))
    for key, en in table["en"].items():
        zh = table["zh"][key]
        assert en.strip() and zh.strip(), (name, key)
        assert _fields(en) == _fields(zh), (name, key)  # the same blanks to fill in
        # a Chinese entry is Chinese (a few carry only digits, codes and punctuation)
        bare = re.sub(r"\{[a-z_]*\}", "", zh)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in bare) or not any(ch.isalpha() for ch in bare), (name, key, zh)


def test_every_key_the_code_asks_for_is_in_the_catalogue() -> None:
    """Every ``text(lang, "key")`` / ``t("key")`` in the output modules names a catalogue entry."""
    import re

    keys: set[str] = set()
    for module in ("report.py", "excel.py", "console.py", "mapping.py", "svgmap.py"):
        path = ROOT / "scenarios" / "outputs" / module
        if path.exists():
            src = path.read_text(encoding="utf-8")
            keys |= set(re.findall(r"""\btext\(\s*lang\s*,\s*["']([a-z0-9_]+)["']\s*[,)]""", src))
            keys |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*[,)]""", src))
            keys |= set(re.findall(r"""\bt\(\s*lang\s*,\s*["']([a-z0-9_]+)["']\s*[,)]""", src))
    assert len(keys) > 50
    missing = sorted(k for k in keys if k not in i18n.TEXT["en"] or k not in i18n.TEXT["zh"])
    assert not missing, missing


def _visible_text(page: str) -> list[str]:
    """Text nodes of the page outside scripts, styles, the scenario's own prose, hashes and versions."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[bool] = []
            self.out: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            cls = set((dict(attrs).get("class") or "").split())
            skip = tag in ("style", "script") or bool(cls & {"mono", "prose", "versions"})
            if tag not in ("br", "img", "meta", "link", "input", "hr"):
                self.stack.append(skip or (bool(self.stack) and self.stack[-1]))

        def handle_endtag(self, tag: str) -> None:
            if tag not in ("br", "img", "meta", "link", "input", "hr") and self.stack:
                self.stack.pop()

        def handle_data(self, data: str) -> None:
            if not (self.stack and self.stack[-1]) and data.strip():
                self.out.append(data)

    parser = Text()
    parser.feed(page)
    return parser.out


def test_chinese_report_has_no_english_interface_words(wuhai: Path) -> None:
    """Every English word left in the zh report is the scenario's own (names, ids, columns, files) or a
    technical name (EPSG, SHA-256, WGS-84, solver and file names); the issue counted 46 before."""
    import re

    summary = json.loads((wuhai / "summary.json").read_text(encoding="utf-8"))
    plan = pd.read_csv(wuhai / "plan.csv", encoding="utf-8-sig", dtype=str)
    unc = pd.read_csv(wuhai / "uncovered.csv", encoding="utf-8-sig", dtype=str)
    demand = pyogrio.read_dataframe(wuhai / "plan.gpkg", layer="demand", read_geometry=False)
    own: set[str] = {str(summary["scenario"]["name"]), str(summary.get("crs") or "")}
    for layer in (summary["scenario"].get("layers") or {}).values():
        if isinstance(layer, dict):
            own |= {str(v) for v in layer.values() if isinstance(v, str)}
            own |= {str(v) for v in (layer.get("groups") or {}).values()}
    own |= set(plan["site_id"].dropna()) | set(plan.get("best_substitute", pd.Series(dtype=str)).dropna())
    own |= set(unc["demand_id"].dropna()) | {str(c) for c in demand.columns}
    own |= {str(v) for c in demand.columns if not pd.api.types.is_numeric_dtype(demand[c]) for v in demand[c].dropna()}
    own |= {str(r.get("solver", "")) for r in [summary.get("solve") or {}]} | {"highs", "cbc", "cpsat", "scip"}
    technical = {"EPSG", "SHA", "WGS", "GPS", "OpenStreetMap", "GCJ", "BD", "MCLP", "LSCP", "siting", "km"}
    words: dict[str, str] = {}
    for chunk in _visible_text((wuhai / "report.html").read_text(encoding="utf-8")):
        rest = re.sub(r"\S+\.(csv|xlsx|gpkg|json|yaml|png|html)\b", " ", chunk)  # file names
        for item in sorted(own, key=len, reverse=True):
            if item:
                rest = rest.replace(item, " ")
        for w in re.findall(r"[A-Za-z]{2,}", rest):
            if w not in technical:
                words.setdefault(w, chunk.strip()[:80])
    assert not words, words


def test_summary_notes_exist_in_chinese_and_the_zh_report_shows_them(wuhai: Path) -> None:
    """summary.json keeps its English notes and writes a ``*_zh`` twin beside each; the zh report shows the Chinese."""
    summary = json.loads((wuhai / "summary.json").read_text(encoding="utf-8"))
    page = (wuhai / "report.html").read_text(encoding="utf-8")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    texts = [(summary["budget_split"], summary["budget_split_zh"]), (summary["phasing"], summary["phasing_zh"])]
    texts += [(rec["budget_source"], rec["budget_source_zh"]) for rec in summary["services"].values()]
    for en, zh in texts:
        assert en and cjk.search(zh) and zh == i18n.note("zh", en), (en, zh)
    assert len(summary["warnings_zh"]) == len(summary["warnings"])
    assert summary["budget_split_zh"] in page and summary["budget_split"] not in page


def test_chinese_labels_use_the_bundled_font_with_no_system_font_config(tmp_path: Path) -> None:
    """In a fresh process with an empty fontconfig and a fresh matplotlib cache (a machine that never saw a
    CJK font), the family the zh map asks for resolves to the Noto Sans SC file of the dependency."""
    import os
    import subprocess
    import sys

    conf = tmp_path / "empty.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>\n')
    (tmp_path / "mpl").mkdir()
    code = (
        "from matplotlib import font_manager as fm\n"
        "from siting.scenarios.outputs.fonts import bundled_cjk_font, find_cjk_font\n"
        "print(fm.findfont(fm.FontProperties(family=find_cjk_font()), fallback_to_default=False))\n"
        "print(bundled_cjk_font())\n"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "MPLCONFIGDIR": str(tmp_path / "mpl")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    resolved, bundled = done.stdout.split()
    assert resolved == bundled and "pylopdf_fonts_zh_cn" in bundled


# ------------------------------------------------------------------------------ interactive map (no browser)
def test_interactive_map_draws_streets_sites_and_rows() -> None:
    """Streets become one path (touching lines chained, every vertex once), every chosen (site, service)
    one marker, and a click's rows carry rank, service, cost and reason; data text is escaped."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    from siting.scenarios.outputs.svgmap import interactive_map

    crs = "EPSG:3067"
    streets = gpd.GeoDataFrame(
        geometry=[LineString([(0, 0), (100, 0)]), LineString([(100, 0), (100, 50)]), LineString([(0, 50), (40, 50)])],
        crs=crs,
    )
    plan = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "site_id": ["a<b>", "a<b>", "c"],
            "service": ["childcare", "public_toilet", "childcare"],
            "cost": [2_000_000.0, 300_000.0, 50_000.0],
            "reason": ["r1 </script>", "r2", "r3"],
        }
    )
    chosen = gpd.GeoDataFrame(plan.copy(), geometry=[Point(10, 10), Point(10, 10), Point(90, 40)], crs=crs)
    block = interactive_map({"streets": streets, "chosen_sites": chosen}, plan, {"services": {}}, "en")
    path = re.search(r'<path d="([^"]+)"', block).group(1)
    moves = path.split("M")[1:]
    assert len(moves) == 2  # the first two lines touch: one polyline; the third is apart
    assert [len(m.split()) // 2 for m in moves] == [3, 2]
    # the view is the data's extent (the sites, x 10..90) plus 3 % of its span on each side; streets may go beyond
    span = 90.0 - 10.0
    scale = 1000.0 / (span * 1.06)
    x0 = float(moves[0].split()[0])
    assert x0 == pytest.approx((0.0 - (10.0 - 0.03 * span)) * scale, abs=0.06)
    assert block.count('class="site"') == 3 and "a&lt;b&gt;" in block and "<b>" not in block
    rows = json.loads(
        re.search(r'<script type="application/json" id="imap-data">(.*?)</script>', block, re.DOTALL).group(1)
    )
    assert rows["a<b>"] == [
        ["1", "Childcare room", "", "2,000,000 CNY", "r1 </script>"],
        ["2", "Public toilet", "", "300,000 CNY", "r2"],
    ]
    assert "</script>" not in block.split('id="imap-data">')[1].split("</script>")[0]


def test_interactive_map_opens_on_far_apart_areas_side_by_side() -> None:
    """Two communities 30 km apart: the map shows both boxes side by side, each wide on the screen, not
    two specks in 30 km of empty space; every site marker lies inside the view."""
    import geopandas as gpd
    from shapely.geometry import Point

    from siting.scenarios.outputs.svgmap import WIDTH, interactive_map

    crs = "EPSG:3067"
    rng = np.random.default_rng(7)
    xy = np.vstack([rng.uniform(0, 800, (20, 2)), rng.uniform(0, 800, (20, 2)) + [30_000.0, 0.0]])
    demand = gpd.GeoDataFrame({"pop": np.ones(40)}, geometry=[Point(x, y) for x, y in xy], crs=crs)
    plan = pd.DataFrame({"rank": [1, 2], "site_id": ["w", "e"], "service": ["toilet", "toilet"], "cost": [1.0, 1.0]})
    chosen = gpd.GeoDataFrame(plan.copy(), geometry=[Point(400, 400), Point(30_400, 400)], crs=crs)
    summary = {"services": {"toilet": {"reach_m": 300.0}}}
    block = interactive_map({"demand": demand, "chosen_sites": chosen}, plan, summary, "en")
    w, h = (float(v) for v in re.search(r'viewBox="0 0 (\S+) (\S+)"', block).group(1, 2))
    areas = re.search(r'<g class="areas"[^>]*>(.*?)</g>', block).group(1)
    widths = [float(v) for v in re.findall(r'<rect [^>]*width="([^"]+)"', areas)]
    # each area fills a third of the width or more (drawn to one scale, each would be under 3 %)
    assert len(widths) == 2 and min(widths) > 0.3 * WIDTH
    assert i18n.text("en", "map_compact") in block
    for cx, cy in re.findall(r'class="site"[^>]* cx="([^"]+)" cy="([^"]+)"', block):
        assert 0 <= float(cx) <= w and 0 <= float(cy) <= h
