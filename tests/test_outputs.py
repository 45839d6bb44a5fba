"""What a run leaves behind for officials and GIS users: plan.gpkg, map.png, report.html (issue 5).

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
import json
import re
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.outputs import rerender, resolve_lang
from siting.scenarios.outputs.gpkg import REASON_CODES, row_min
from siting.scenarios.outputs.mapping import render_map
from siting.scenarios.run import run_scenario

ROOT = Path(__file__).resolve().parents[1]
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
    names = [str(n) for n, _ in pyogrio.list_layers(a / "plan.gpkg")]
    assert names == ["chosen_sites", "candidates", "demand", "existing", "streets"]
    layers = {n: gpd.read_file(a / "plan.gpkg", layer=n) for n in names}
    for name, gdf in layers.items():
        assert gdf.crs is not None, name
        assert gdf.crs.to_epsg() == 3067, name  # the scenario's crs: EPSG:3067
        assert len(gdf) > 0, name
    plan = _plan(a)
    chosen = layers["chosen_sites"]
    key = ["service", "site_id", "rank"]
    assert chosen[key].astype(str).values.tolist() == plan[key].astype(str).values.tolist()
    assert list(chosen.columns[:-1]) == list(plan.columns)  # plan.csv's columns, then the geometry
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
        assert ((cand[f"why_{s}"] == "chosen") == cand["chosen_for"].fillna("").str.split(",").apply(lambda v, s=s: s in v)).all()


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
    records = [rec["solve"] for rec in s["services"].values()] + ([s["solve"]] if isinstance(s.get("solve"), dict) else [])
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
    assert {p.name for p in written} == {"map.png", "report.html"}
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
