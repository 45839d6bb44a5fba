"""Stability in the report: ``siting run --stability DIR`` and ``siting report --stability DIR``."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import ScenarioError
from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.stability import read_stability, with_stability

WUHAI = REPO / "scenarios" / "examples" / "wuhai" / "scenario.yaml"
runner = CliRunner()

STABILITY_CSV = """service,site_id,share,variants,of,in_base_plan
public_toilet,S1,0.75,3,4,True
public_toilet,S2,0.25,1,4,False
childcare,S1,0.5,2,4,True
"""


def _folder(tmp_path: Path, text: str = STABILITY_CSV) -> Path:
    d = tmp_path / "sens"
    d.mkdir()
    (d / "stability.csv").write_text(text, encoding="utf-8")
    return d


def test_with_stability_joins_on_service_and_site(tmp_path: Path) -> None:
    stab = read_stability(_folder(tmp_path))
    assert stab.solved == 4
    plan = pd.DataFrame({"service": ["public_toilet", "childcare", "public_toilet"], "site_id": ["S1", "S1", "S9"]})
    got = with_stability(plan, stab)
    assert got["stability"].tolist() == [0.75, 0.5, 0.0]  # S9 was chosen by no variant
    assert got["stability_variants"].tolist() == [3, 2, 0]
    assert set(got["stability_of"]) == {4}
    assert with_stability(plan, None) is plan


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (None, "no stability.csv there; give the output folder of `siting sensitivity"),
        ("service,site_id,share\na,b,1\n", "no column variants"),
        ("service,site_id,share,variants,of\na,b,x,1,2\n", "must be numbers"),
    ],
)
def test_bad_stability_folder_is_one_clear_error(tmp_path: Path, text: str | None, match: str) -> None:
    folder = _folder(tmp_path, text) if text is not None else tmp_path / "nothing"
    with pytest.raises(ScenarioError, match=re.escape(match)):
        read_stability(folder)


def test_run_and_report_show_each_sites_share(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["run", str(WUHAI), "--out", str(tmp_path / "x"), "--stability", str(tmp_path / "no")])
    assert bad.exit_code == 1 and bad.output.startswith("error: --stability") and len(bad.output.splitlines()) == 1
    assert not (tmp_path / "x").exists()  # refused before anything is written
    out = tmp_path / "run"
    plain = runner.invoke(app, ["run", str(WUHAI), "--out", str(out), "--quiet"])
    assert plain.exit_code == 0, plain.output
    plan = pd.read_csv(out / "plan.csv", dtype=str, encoding="utf-8-sig")
    first, second = plan.iloc[0], plan.iloc[1]
    sens = _folder(
        tmp_path,
        "service,site_id,share,variants,of,in_base_plan\n"
        f"{first['service']},{first['site_id']},0.8,8,10,True\n"
        f"{second['service']},{second['site_id']},0.3,3,10,True\n",
    )
    assert "stability" not in (out / "report.html").read_text(encoding="utf-8")
    r = runner.invoke(app, ["run", str(WUHAI), "--out", str(out), "--quiet", "--lang", "en", "--stability", str(sens)])
    assert r.exit_code == 0, r.output
    page = html.unescape((out / "report.html").read_text(encoding="utf-8"))
    assert i18n.column_name("en", "stability") in page
    assert i18n.text("en", "stability_caption", n=10, folder="sens") in page
    assert "80.0 % (8/10)" in page and "30.0 % (3/10)" in page
    assert page.count("0.0 % (0/10)") == len(plan) - 2  # the rest: chosen by none of the variants
    assert "stability" not in pd.read_csv(out / "plan.csv", encoding="utf-8-sig").columns  # plan.csv unchanged
    # re-rendered in Chinese from the run's files
    r = runner.invoke(app, ["report", str(out), "--lang", "zh", "--stability", str(sens)])
    assert r.exit_code == 0, r.output
    page = html.unescape((out / "report.html").read_text(encoding="utf-8"))
    assert i18n.column_name("zh", "stability") in page and "80.0% (8/10)" in page
    assert i18n.text("zh", "stability_caption", n=10, folder="sens") in page
