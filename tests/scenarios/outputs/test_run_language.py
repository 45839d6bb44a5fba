"""A Chinese run speaks Chinese on the console, and ``siting report --lang`` redraws plan.xlsx too.

One run of the Wuhai example (``output.lang: zh``) through the CLI serves every test: every line it
prints on stdout and stderr (progress, ``note:`` lines, the console summary) must hold no English
sentence; ids, numbers, file paths and units may stay as written. Then ``siting report --lang en``
turns plan.xlsx's headers English while every number stays the run's.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.note_text import translated
from siting.scenarios.outputs.progress_text import SpokenProgress, SpokenRichProgress, report_lines, speaking
from siting.scenarios.pipeline.progress import NotesOnlyProgress, NullProgress, RichProgress

WUHAI = REPO / "scenarios" / "examples" / "wuhai"
runner = CliRunner()

#: Tokens that are not words of a sentence: paths, file names, ids with _ . : / digits, numbers.
_NOT_A_WORD = re.compile(r"[/\\_.:=\d]|^-+$")
_WORD = re.compile(r"^[A-Za-z]{2,}[,;:)]*$")


def english_sentences(line: str) -> list[str]:
    """Runs of two or more plain English words in ``line`` (ids, paths, numbers and lone units do not count)."""
    found: list[str] = []
    run: list[str] = []
    for token in re.split(r"[\s（）()，；：、]+", line):
        if token and _WORD.match(token) and not _NOT_A_WORD.search(token.rstrip(",;:)")):
            run.append(token)
            continue
        if len(run) >= 2:
            found.append(" ".join(run))
        run = []
    if len(run) >= 2:
        found.append(" ".join(run))
    return found


def test_the_sentence_finder_can_fail() -> None:
    assert english_sentences("reading layers: done in 0.5 s") == ["reading layers: done in"]
    assert english_sentences("note: x.yaml: layers.demand (a.gpkg): reading the file: Non closed ring") != []
    assert english_sentences("读取图层：完成，用时 0.5 秒") == []
    assert english_sentences("联合模型：224 行，490 列；max_coverage 37,401；/tmp/out/plan.csv；WGS 84；257 MB") == []


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The Wuhai example (output.lang: zh) run through the CLI; returns the output folder and the CLI result."""
    base = tmp_path_factory.mktemp("wuhai_lang")
    shutil.copy(WUHAI / "wuhai.gpkg", base / "wuhai.gpkg")
    text = (WUHAI / "scenario.yaml").read_text(encoding="utf-8")
    assert "\n  lang: zh\n" in text
    (base / "scenario.yaml").write_text(text, encoding="utf-8")
    out = base / "out"
    result = runner.invoke(app, ["run", str(base / "scenario.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result


def test_zh_run_prints_no_english_sentence(zh_run: tuple[Path, Any]) -> None:
    _, result = zh_run
    lines = [ln for ln in (result.stdout + "\n" + result.stderr).splitlines() if ln.strip()]
    assert any("完成" in ln for ln in result.stderr.splitlines())  # the progress lines are there, in Chinese
    assert any("第 1 步" in ln for ln in result.stderr.splitlines())  # the solver's stage lines too
    assert any("方案已写入" in ln for ln in result.stdout.splitlines())
    english = {ln: english_sentences(ln) for ln in lines if english_sentences(ln)}
    assert not english, english


def test_report_lang_en_redraws_the_workbook_with_the_same_numbers(zh_run: tuple[Path, Any], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    src, _ = zh_run
    out = tmp_path / "again"
    shutil.copytree(src, out)
    before = load_workbook(io.BytesIO((out / "plan.xlsx").read_bytes()))
    csv_before = (out / "plan.csv").read_bytes()
    result = runner.invoke(app, ["report", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "plan.xlsx" in result.stdout and "written:" in result.stdout
    after = load_workbook(io.BytesIO((out / "plan.xlsx").read_bytes()))
    assert (out / "plan.csv").read_bytes() == csv_before  # plan.csv's headers are codes in every language
    assert len(before.worksheets) == len(after.worksheets)
    zh_first = [c.value for c in before.worksheets[0][1]]
    en_first = [c.value for c in after.worksheets[0][1]]
    assert i18n.column_name("zh", "site_id") in zh_first and i18n.column_name("en", "site_id") in en_first
    assert all(not re.search(r"[\u4e00-\u9fff]", str(v)) for v in en_first), en_first
    for ws_zh, ws_en in zip(before.worksheets, after.worksheets, strict=True):
        rows_zh = list(ws_zh.iter_rows(min_row=2, values_only=True))
        rows_en = list(ws_en.iter_rows(min_row=2, values_only=True))
        assert len(rows_zh) == len(rows_en), ws_en.title
        nums_zh = [v for row in rows_zh for v in row if isinstance(v, int | float) and not isinstance(v, bool)]
        nums_en = [v for row in rows_en for v in row if isinstance(v, int | float) and not isinstance(v, bool)]
        # plan.csv keeps 10 significant digits of a share or a coordinate; whole numbers are exact
        assert nums_en == pytest.approx(nums_zh, rel=1e-9, abs=1e-9), ws_en.title
        assert [v for v in nums_en if isinstance(v, int)] == [v for v in nums_zh if isinstance(v, int)], ws_en.title
    # the manifest lists plan.xlsx: a second report replaces it again, in Chinese
    result = runner.invoke(app, ["report", str(out), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert "已写入" in result.stdout
    again = load_workbook(io.BytesIO((out / "plan.xlsx").read_bytes()))
    assert [c.value for c in again.worksheets[0][1]] == zh_first


def test_speaking_wraps_only_what_prints() -> None:
    assert speaking(None, "zh") is None
    quiet = NullProgress()
    assert speaking(quiet, "zh") is quiet
    rich = RichProgress()
    assert speaking(rich, "en") is rich
    assert isinstance(speaking(rich, "zh"), SpokenRichProgress)

    class Notes(NullProgress):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def note(self, text: str) -> None:
            self.seen.append(text)

    inner = Notes()
    spoken = speaking(inner, "zh")
    assert isinstance(spoken, SpokenProgress)
    spoken.note("3 empty or missing geometries skipped")
    assert inner.seen == ["已跳过 3 个空的或缺失的几何"]


def test_gdal_warnings_are_reworded_and_unknown_ones_marked() -> None:
    where = "s.yaml: layers.demand (blocks.gpkg)"
    known = translated("zh", f"{where}: reading the file: Non closed ring detected. To avoid accepting it, set X to NO")
    assert known == f"{where}：读取文件时 GDAL 提示：检测到未闭合的环（已自动闭合）"
    other = translated("zh", f"{where}: reading the file: Something new from GDAL")
    assert other.endswith("（原文）Something new from GDAL")  # quoted, never passed off as translated


def test_report_lines_follow_the_language() -> None:
    errs, outs = report_lines([Path("a/map.png")], ["3 empty or missing geometries skipped"], "zh")
    assert errs == ["提示：已跳过 3 个空的或缺失的几何"] and outs == ["已写入：a/map.png"]
    errs, outs = report_lines([Path("a/map.png")], ["x"], "en")
    assert errs == ["note: x"] and outs == ["written: a/map.png"]


def test_quiet_notes_carry_their_frame_in_the_run_language(capsys: pytest.CaptureFixture[str]) -> None:
    text = "the plan opens no new facility"
    speaking(NotesOnlyProgress(), "zh").note(text)
    speaking(NotesOnlyProgress(), "en").note(text)
    zh_line, en_line = capsys.readouterr().err.splitlines()
    assert zh_line == i18n.text("zh", "prog_note", text=i18n.note("zh", text))
    assert zh_line.startswith("提示") and "note:" not in zh_line
    assert en_line == f"note: {text}"
