"""What a run leaves behind for officials and GIS users: plan.gpkg, map.png, report.html.

The Helsinki example (real walking network, four services, solved jointly) is run twice into
separate folders; the checks read only what the runs wrote:

* plan.gpkg reads back with geopandas, every layer has a CRS, the chosen sites are plan.csv's rows,
  and the demand layer's coverage flags agree with uncovered.csv and with the reach;
* every candidate's ``why_<service>`` reason agrees with the scenario's eligibility rules;
* two runs give byte-identical plan.csv, plan.gpkg (so identical attribute tables) and map.png, a
  summary.json that differs only in ``seconds`` fields, and a report.html that differs only in its
  solve-record table (the solve times);
* report.html is self-contained (no reference that would fetch anything: no http(s) or
  protocol-relative src / href / url(), no external script or style sheet), inlines the map as a PNG
  ``data:`` URI and holds one plan-table row per plan.csv row; ``--lang zh`` writes it in Chinese;
* ``siting report`` re-renders it from the files alone, also without plan.gpkg.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import scipy.sparse as sp
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.outputs import rerender, resolve_lang
from siting.scenarios.outputs.csv_safe import TRIGGERS, restore_frame
from siting.scenarios.outputs.gpkg import LAYERS, REASON_CODES, row_min
from siting.scenarios.outputs.mapping import render_map
from siting.scenarios.outputs.svgmap import SCRIPT as SVG_SCRIPT
from siting.scenarios.pipeline.run import run_scenario

ROOT = REPO
HELSINKI = ROOT / "scenarios" / "examples" / "helsinki" / "scenario.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two runs of the Helsinki example, in two folders."""
    base = tmp_path_factory.mktemp("outputs")
    a = run_scenario(HELSINKI, out=base / "a").out_dir
    b = run_scenario(HELSINKI, out=base / "b").out_dir
    return a, b


def _plan(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "plan.csv", dtype={"site_id": str, "service": str})


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ plan.gpkg
def test_run_writes_every_output(runs: tuple[Path, Path]) -> None:
    a, _ = runs
    assert {"plan.csv", "uncovered.csv", "summary.json", "plan.gpkg", "map.png", "report.html"} <= {
        p.name for p in a.iterdir()
    }
    assert (a / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gpkg_layers_have_a_crs_and_match_the_plan(runs: tuple[Path, Path]) -> None:
    a, _ = runs
    listed = [(str(n), kind) for n, kind in pyogrio.list_layers(a / "plan.gpkg")]
    assert listed[-1] == ("layer_styles", None)  # the QGIS styles table, without geometry
    names = [n for n, _ in listed[:-1]]
    assert names == [n for n in LAYERS if n in names]
    assert {"chosen_sites", "catchments", "served_by", "candidates", "demand", "existing", "streets"} <= set(names)
    layers = {n: gpd.read_file(a / "plan.gpkg", layer=n) for n in names}
    for name, gdf in layers.items():
        assert gdf.crs is not None, name
        assert gdf.crs.to_epsg() == 3067, name  # the scenario's crs: EPSG:3067
        assert len(gdf) > 0, name
    plan = _plan(a)
    chosen = layers["chosen_sites"]
    key = ["service", "site_id", "rank"]
    assert chosen[key].astype(str).values.tolist() == plan[key].astype(str).values.tolist()
    # plan.csv's columns (and the site's name where the data have names), then the geometry
    assert [c for c in chosen.columns[:-1] if c != "name"] == list(plan.columns)
    assert not chosen.geometry.is_empty.any()
    # candidates: chosen_for lists exactly the services plan.csv chose each site for
    cand = layers["candidates"].set_index("site_id")
    expect = plan.groupby("site_id")["service"].apply(set).to_dict()
    for sid, row in cand.iterrows():
        got = set(filter(None, str(row["chosen_for"] or "").split(",")))
        assert got == expect.get(sid, set()), sid
        assert row["chosen"] == (1 if got else 0)
    services = list(_summary(a)["services"])
    for s in services:
        assert set(cand[f"why_{s}"]) <= set(REASON_CODES), s
        assert (
            (cand[f"why_{s}"] == "chosen") == cand["chosen_for"].fillna("").str.split(",").apply(lambda v, s=s: s in v)
        ).all()


def test_demand_layer_agrees_with_uncovered_csv_and_the_reach(runs: tuple[Path, Path]) -> None:
    a, _ = runs
    demand = gpd.read_file(a / "plan.gpkg", layer="demand")
    summary = _summary(a)
    unc = pd.read_csv(a / "uncovered.csv", dtype={"demand_id": str, "service": str})
    assert demand["demand_id"].is_unique
    for s, rec in summary["services"].items():
        group, reach = rec["demand_group"], rec["reach_m"]
        covered = demand[f"covered_{s}"].to_numpy() == 1
        people = demand[group].to_numpy(dtype=float)
        missing = set(demand.loc[~covered & (people > 0), "demand_id"])
        assert missing == set(unc.loc[unc["service"] == s, "demand_id"]), s
        # people covered after the plan = the summary's figure (an independent recount)
        assert people[covered].sum() == pytest.approx(rec["coverage"]["after"], rel=1e-9)
        before = demand[f"covered_before_{s}"].to_numpy() == 1
        assert people[before].sum() == pytest.approx(rec["coverage"]["before"], rel=1e-9)
        assert not (before & ~covered).any()
        dist = demand[f"dist_{s}_m"].to_numpy(dtype=float)
        # within reach iff covered (distances are rounded to 0.1 m in the layer)
        assert (dist[covered] <= reach + 0.05).all(), s
        assert not (np.nan_to_num(dist[~covered], nan=np.inf) < reach - 0.05).any(), s


def test_why_not_reasons_follow_the_scenario_rules(runs: tuple[Path, Path]) -> None:
    a, _ = runs
    cand = gpd.read_file(a / "plan.gpkg", layer="candidates")
    scenario = _summary(a)["scenario"]
    for s, svc in scenario["services"].items():
        accepted = cand["land_type"].isin(list(svc["cost_by_land_type"]))  # the example sets no eligible_land_types
        big = cand["area_m2"] >= svc["min_area_m2"]
        why = cand[f"why_{s}"]
        assert ((why == "ineligible_land_type") == ~accepted).all(), s
        assert ((why == "too_small") == (accepted & ~big)).all(), s
        # every eligible site is either chosen or given a reason about the plan
        eligible = why[accepted & big]
        assert set(eligible) <= {"chosen", "not_needed", "over_budget", "site_limit", "not_chosen", "off_network"}
    assert (cand["why_not"].str.len() > 0).any()


# ------------------------------------------------------------------------------ reproducibility
def _drop_seconds(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_drop_seconds(v) for v in value]
    return value


def _without_solve_table(text: str) -> str:
    return re.sub(r'<table id="solve-table">.*?</table>', "", text, flags=re.DOTALL)


def test_two_runs_give_identical_files(runs: tuple[Path, Path]) -> None:
    a, b = runs
    assert (a / "plan.csv").read_bytes() == (b / "plan.csv").read_bytes()
    assert (a / "uncovered.csv").read_bytes() == (b / "uncovered.csv").read_bytes()
    for name in ("chosen_sites", "candidates", "demand", "existing", "streets"):
        ta = pyogrio.read_dataframe(a / "plan.gpkg", layer=name)
        tb = pyogrio.read_dataframe(b / "plan.gpkg", layer=name)
        attrs_a = pd.DataFrame(ta.drop(columns="geometry")).to_csv(index=False)
        attrs_b = pd.DataFrame(tb.drop(columns="geometry")).to_csv(index=False)
        assert attrs_a == attrs_b, name
        assert ta.geometry.to_wkb().tolist() == tb.geometry.to_wkb().tolist(), name
    # the GeoPackage's own time stamps are pinned, so the whole file is identical too
    assert (a / "plan.gpkg").read_bytes() == (b / "plan.gpkg").read_bytes()
    assert (a / "map.png").read_bytes() == (b / "map.png").read_bytes()
    assert _drop_seconds(_summary(a)) == _drop_seconds(_summary(b))
    ra, rb = (p.read_text(encoding="utf-8") for p in (a / "report.html", b / "report.html"))
    assert _without_solve_table(ra) == _without_solve_table(rb)


def test_summary_carries_the_record(runs: tuple[Path, Path]) -> None:
    s = _summary(runs[0])
    for key in ("scenario", "solver", "seed", "inputs_sha256", "versions", "services"):
        assert key in s, key
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in s["inputs_sha256"].values())
    assert any(k.endswith("helsinki.gpkg") for k in s["inputs_sha256"])
    records = [rec["solve"] for rec in s["services"].values()] + (
        [s["solve"]] if isinstance(s.get("solve"), dict) else []
    )
    for rec in records:
        for key in ("solver", "solver_version", "status", "objective", "bound", "gap", "seconds"):
            assert key in rec, key


# ------------------------------------------------------------------------------ report.html
EXTERNAL = [
    re.compile(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"@import", re.IGNORECASE),
    re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE),
    re.compile(r"<link\b", re.IGNORECASE),
    re.compile(r"<iframe\b|<object\b|<embed\b", re.IGNORECASE),
]


def _report_checks(out: Path) -> str:
    text = (out / "report.html").read_text(encoding="utf-8")
    for pattern in EXTERNAL:
        assert not pattern.search(text), pattern.pattern
    images = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', text)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    png = base64.b64decode(images[0].split(",", 1)[1])
    assert png == (out / "map.png").read_bytes()
    table = re.search(r'<table id="plan-table">(.*?)</table>', text, flags=re.DOTALL)
    assert table is not None
    body = table.group(1).split("<tbody>", 1)[1]
    assert body.count("<tr>") == len(_plan(out))
    for site in _plan(out)["site_id"]:
        assert f">{site}<" in body
    return text


def test_report_is_self_contained_with_map_and_table(runs: tuple[Path, Path]) -> None:
    text = _report_checks(runs[0])
    assert '<html lang="en">' in text
    for heading in ("Headline figures", "Ranked site plan", "Residents still uncovered", "Assumptions", "Solve record"):
        assert heading in text
    assert 'id="solve-table"' in text and "highs" in text and "OPTIMAL" in text


def test_report_in_chinese(runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "zh"
    shutil.copytree(runs[0], out)
    result = runner.invoke(app, ["report", str(out), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    text = _report_checks(out)
    assert '<html lang="zh-CN">' in text
    for word in ("一刻钟社区生活圈", "养老服务站", "托育点", "充电设施", "公共厕所", "覆盖率", "预算", "求解记录"):
        assert word in text, word
    assert '"Noto Sans CJK SC"' in text  # the font stack that renders Chinese without a web font
    plan = pd.read_csv(out / "plan.csv")
    # Helsinki has four services: the joint plan, which carries its reasons in both languages
    assert len(plan) > 0 and plan["reason_zh"].str.contains("新覆盖|未新增").all()
    assert all(r in text for r in plan["reason_zh"]) and not any(r in text for r in plan["reason"])
    assert (out / "map.png").read_bytes() != (runs[0] / "map.png").read_bytes()  # Chinese labels


def test_report_rerenders_without_gpkg(runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "nogpkg"
    shutil.copytree(runs[0], out)
    (out / "plan.gpkg").unlink()
    (out / "report.html").unlink()
    written, notes = rerender(out, lang="en")
    assert {p.name for p in written} == {"map.png", "report.html", "plan.xlsx"}
    assert any("plan.gpkg" in n for n in notes)
    _report_checks(out)


def test_report_cli_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "not found" in result.output
    result = runner.invoke(app, ["report", str(tmp_path), "--lang", "fr"])
    assert result.exit_code == 2


def test_lang_defaults_to_the_scenario() -> None:
    assert resolve_lang(None, {"scenario": {"output": {"lang": "zh"}}}) == "zh"
    assert resolve_lang(None, {}) == "en"
    assert resolve_lang("zh", {"scenario": {"output": {"lang": "en"}}}) == "zh"


def test_map_falls_back_to_english_without_a_cjk_font(runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from siting.scenarios.outputs import gpkg, mapping

    layers = gpkg.read_gpkg(runs[0] / "plan.gpkg")
    summary = _summary(runs[0])
    monkeypatch.setattr(mapping, "find_cjk_font", lambda: None)
    png, warnings = render_map(layers, summary, "zh")
    assert any("CJK font" in w for w in warnings)
    assert png == (runs[0] / "map.png").read_bytes()  # the English map, drawn the same way


# ------------------------------------------------------------------------------ helpers
def test_row_min_matches_a_dense_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        n, m = rng.integers(1, 12), rng.integers(1, 9)
        dense = np.where(rng.random((n, m)) < 0.5, rng.integers(0, 5, (n, m)).astype(float), np.inf)
        cols = np.flatnonzero(rng.random(m) < 0.6)
        finite = np.isfinite(dense)
        sparse = sp.csr_array((dense[finite], np.nonzero(finite)), shape=(n, m))  # explicit zeros kept
        expect = dense[:, cols].min(axis=1) if cols.size else np.full(n, np.inf)
        np.testing.assert_array_equal(row_min(sparse, cols), expect)
        np.testing.assert_array_equal(row_min(dense, cols), expect)


def test_run_cli_lang_option(tmp_path: Path) -> None:
    """``siting run --lang zh`` writes the Chinese report (the tiny test scenario: a CSV demand layer, no area column)."""
    tiny = ROOT / "tests" / "data" / "scenarios" / "tiny"
    folder = tmp_path / "tiny"
    shutil.copytree(tiny, folder, ignore=shutil.ignore_patterns("out", ".*"))
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(folder / "scenario.yaml"), "--out", str(out), "--lang", "zh", "--quiet"])
    assert result.exit_code == 0, result.output
    text = _report_checks(out)
    assert '<html lang="zh-CN">' in text and "按需求点统计" in text
    assert gpd.read_file(out / "plan.gpkg", layer="demand").crs is not None


@pytest.mark.parametrize("command", [["report"], ["compare"], ["run"]])
def test_new_commands_have_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Example: siting" in text
    if command != ["compare"]:
        assert "--lang" in text


# ------------------------------------------------------------------------------ a CJK font on any machine
GLYPH_MISSING = r"Glyph \d+ .*missing from font"
WORD = "养老服务站"


def _glyphs(props: Any) -> list[np.ndarray]:
    """Each character of WORD drawn alone with ``props`` (Agg, 40 pt), as a boolean ink bitmap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = []
    for ch in WORD:
        fig = Figure(figsize=(1, 1), dpi=64)
        canvas = FigureCanvasAgg(fig)
        fig.text(0.5, 0.5, ch, fontproperties=props, fontsize=40, ha="center", va="center")
        canvas.draw()
        out.append(np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=2) < 128)
    return out


def test_bundled_font_draws_chinese_where_dejavu_draws_boxes() -> None:
    """The font shipped as a dependency is registered with matplotlib and draws real glyphs: five
    different characters give five different shapes, none of them the missing-glyph box; DejaVu Sans
    alone (the control) warns and draws the same box five times."""
    from matplotlib import font_manager as fm

    from siting.scenarios.outputs import fonts

    path = fonts.bundled_cjk_font()
    assert path is not None and path.suffix == ".otf"
    name = fonts.find_cjk_font()
    assert name is not None and name == fonts.register_font(path)
    assert Path(fm.findfont(fm.FontProperties(family=name), fallback_to_default=False)) == path
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        cjk = _glyphs(fm.FontProperties(family=name))
    with pytest.warns(UserWarning, match=GLYPH_MISSING):
        boxes = _glyphs(fm.FontProperties(family="DejaVu Sans"))
    assert boxes[0].mean() > 0.01 and all((b == boxes[0]).all() for b in boxes)  # tofu, five times
    differ = [float((a != b).mean()) for i, a in enumerate(cjk) for b in cjk[i + 1 :]]
    assert min(g.mean() for g in cjk) > 0.01
    assert min(differ) > 0.05, differ
    assert min(float((g != boxes[0]).mean()) for g in cjk) > 0.05


def test_bundled_font_is_free_to_ship() -> None:
    """Every font file the dependency installs is Noto (SIL Open Font License 1.1): no SimHei or other
    font whose licence is not free."""
    from importlib import metadata

    files = metadata.files("pylopdf-fonts-zh-cn") or []
    fonts = [f for f in files if f.suffix.lower() in (".otf", ".ttf", ".ttc", ".otc", ".woff", ".woff2")]
    assert fonts and all(f.name.startswith("Noto") for f in fonts), fonts
    licence = next(f for f in files if f.name.upper().startswith("LICENSE"))
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence.read_text(encoding="utf-8")


def test_zh_map_has_chinese_labels_without_system_fonts(runs: tuple[Path, Path]) -> None:
    """The Chinese map is drawn in the bundled font whatever the system has: no fallback to English,
    no character drawn as a box, and it differs from the English map."""
    from siting.scenarios.outputs import gpkg

    layers = gpkg.read_gpkg(runs[0] / "plan.gpkg")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        png, notes = render_map(layers, _summary(runs[0]), "zh")
    assert not [n for n in notes if "CJK font" in n or "no glyph" in n], notes
    assert png != (runs[0] / "map.png").read_bytes()


def test_map_reports_characters_it_cannot_draw(runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A Chinese name in the data (here the scenario's name, in the title) is drawn by the CJK font
    behind DejaVu Sans on the English map too; with no CJK font at all, the map says which characters
    became boxes instead of dropping them silently."""
    from siting.scenarios.outputs import gpkg, mapping

    layers = {k: v for k, v in gpkg.read_gpkg(runs[0] / "plan.gpkg").items() if k == "chosen_sites"}
    summary = _summary(runs[0])
    first = next(iter(summary["services"]))  # one service panel: a small, quick map
    summary["services"] = {first: summary["services"][first]}
    summary["scenario"] = {**summary["scenario"], "name": "五里河街道"}
    _, notes = render_map(layers, summary, "en")
    assert not [n for n in notes if "no glyph" in n], notes
    monkeypatch.setattr(mapping, "find_cjk_font", lambda: None)
    _, notes = render_map(layers, summary, "en")
    assert [n for n in notes if "5 character(s) have no glyph" in n and "五里河街道" in n], notes


# ------------------------------------------------------------------------------ injection
SERVICE_KEY = 'x"><script>alert(1)</script>'
PREFIXES = ["=", "+", "-", "@", "<b>&\"'", "'=", "<img src=x onerror=alert(2)>"]


class _Page(HTMLParser):
    """Tags, id attributes and text of an HTML page, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.ids += [v or "" for k, v in attrs if k == "id"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    """The tiny scenario with a service key, every site id and every demand id built to attack a
    spreadsheet or a browser; run once. Returns the output folder, the site ids and the demand ids."""
    base = tmp_path_factory.mktemp("hostile")
    folder = base / "tiny"
    shutil.copytree(ROOT / "tests" / "data" / "scenarios" / "tiny", folder, ignore=shutil.ignore_patterns("out", ".*"))
    sites = gpd.read_file(folder / "sites.gpkg", layer="candidate_sites")
    site_ids = [f"{PREFIXES[k % len(PREFIXES)]}s{k:02d}" for k in range(len(sites))]
    sites["site_id"] = site_ids
    sites.to_file(folder / "sites.gpkg", layer="candidate_sites", driver="GPKG")
    demand = pd.read_csv(folder / "demand.csv", dtype={"block_id": str})
    demand_ids = [f"{PREFIXES[k % len(PREFIXES)]}b{k:02d}" for k in range(len(demand))]
    demand["block_id"] = demand_ids
    demand.to_csv(folder / "demand.csv", index=False)
    existing = gpd.read_file(folder / "existing.geojson")
    existing["service"] = existing["service"].replace({"public_toilet": SERVICE_KEY})
    existing.to_file(folder / "existing.geojson", driver="GeoJSON")
    text = (folder / "scenario.yaml").read_text(encoding="utf-8")
    assert "\n  public_toilet:\n" in text
    (folder / "scenario.yaml").write_text(
        text.replace("\n  public_toilet:\n", f"\n  '{SERVICE_KEY}':\n"), encoding="utf-8"
    )
    out = base / "out"
    result = runner.invoke(app, ["run", str(folder / "scenario.yaml"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out, site_ids, demand_ids


def test_csv_outputs_quote_text_a_spreadsheet_would_run(hostile: tuple[Path, list[str], list[str]]) -> None:
    import csv

    out, site_ids, demand_ids = hostile
    for name, id_col, ids in (("plan.csv", "site_id", site_ids), ("uncovered.csv", "demand_id", demand_ids)):
        rows = list(csv.reader(io.StringIO((out / name).read_text(encoding="utf-8"), newline="")))
        body = rows[1:]
        assert body, name
        for row in body:
            for cell in row:  # numbers are never quoted: no numeric cell starts with a trigger either
                assert not cell.startswith(TRIGGERS) or re.fullmatch(r"-?[0-9.e+-]+", cell), (name, cell)
        table = restore_frame(pd.read_csv(out / name, dtype={id_col: str, "service": str}))
        assert set(table[id_col]) <= set(ids), name
        assert table[id_col].str.startswith(TRIGGERS).any(), name  # a hostile id made it into the file
        assert SERVICE_KEY in set(table["service"]), name
    plan = pd.read_csv(out / "plan.csv")
    assert plan["cost"].dtype.kind in "if" and plan["rank"].dtype.kind == "i"  # numbers stay numbers


def test_report_escapes_every_value_from_the_data(hostile: tuple[Path, list[str], list[str]], tmp_path: Path) -> None:
    """No tag and no attribute comes from the data: the page parses to the report's own tags only, the
    service key is an id attribute's value (escaped, not breaking out), and the hostile ids are text.
    ``siting report`` re-renders the page from the CSV files with the same ids (the quotes undone)."""
    out, site_ids, demand_ids = hostile
    again = tmp_path / "again"
    shutil.copytree(out, again)
    result = runner.invoke(app, ["report", str(again)])
    assert result.exit_code == 0, result.output
    for folder in (out, again):
        text = (folder / "report.html").read_text(encoding="utf-8")
        assert "<img src=x" not in text and "<b>" not in text
        page = _Page()
        page.feed(text)
        assert page.tags.count("img") == 1 and "b" not in page.tags
        # the only scripts are the interactive map's own: its code and its rows as JSON (no data breaks out)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", text, flags=re.DOTALL | re.IGNORECASE)
        assert text.lower().count("<script") == page.tags.count("script") == len(scripts) <= 2
        for attrs, body in scripts:
            if "application/json" in attrs:
                assert isinstance(json.loads(body), dict)
            else:
                assert body == SVG_SCRIPT
        assert f"uncovered-{SERVICE_KEY}" in page.ids
        words = "".join(page.text)
        chosen = restore_frame(_plan(out))["site_id"].tolist()
        assert chosen and all(s in site_ids and s in words for s in chosen)
        assert any(d in words for d in demand_ids if d.startswith("<img"))
