"""CSV injection: every CSV file siting writes quotes text that a spreadsheet would run as a formula.

OWASP's rule: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
leading single quote. Numbers are not text: a negative cost stays a number. The quoting is undone
exactly by :func:`restore` (``siting report`` reads plan.csv back through it). Each writer (run,
sweep, compare, benchmark) is checked through its own function, and a scan of the package's source
finds no CSV writer that bypasses the helper.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import REPO

from siting.scenarios.outputs.csv_safe import TRIGGERS, frame_to_csv, neutralise, restore, restore_frame, rows_to_csv

ROOT = REPO
HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "'=already", "ok", "a=b", "-"]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_text_cells_are_quoted_and_numbers_are_not() -> None:
    rng = np.random.default_rng(8)
    numbers = rng.normal(0.0, 1000.0, len(HOSTILE))
    numbers[:3] = [-2.0, -0.5, 1e-12]
    df = pd.DataFrame(
        {
            "site_id": HOSTILE,
            "cost": numbers,
            "rank": np.arange(len(HOSTILE)) - 3,  # negative integers
            "mixed": pd.Series([-7, "-7", 2.5, None, "=x", "ok", 1, "+", np.nan, True], dtype=object),
        }
    )
    text = frame_to_csv(df).decode("utf-8")
    rows = _cells(text)
    assert len(rows) == len(df) + 1  # the carriage return inside a cell did not split a row
    body = rows[1:]
    for raw, cell in zip(HOSTILE, (r[0] for r in body)):
        if raw.startswith(TRIGGERS) or re.match(r"'+[=+\-@\t\r]", raw):
            assert cell == "'" + raw
        else:
            assert cell == raw
        assert not cell.startswith(TRIGGERS)
    # numbers are written as numbers and read back equal (negative ones included)
    back = pd.read_csv(io.StringIO(text, newline=""))
    assert back["cost"].dtype.kind == "f" and back["rank"].dtype.kind == "i"
    np.testing.assert_allclose(back["cost"].to_numpy(), df["cost"].to_numpy(), rtol=1e-9)
    np.testing.assert_array_equal(back["rank"].to_numpy(), df["rank"].to_numpy())
    # in a mixed column only the text is quoted: the number -7 stays -7, the text "-7" does not
    assert [r[3] for r in body[:5]] == ["-7", "'-7", "2.5", "", "'=x"]
    assert df["site_id"].tolist() == HOSTILE  # the caller's frame is not modified


def test_header_names_are_text_too() -> None:
    text = frame_to_csv(pd.DataFrame({'=HYPERLINK("x")': [1], "new_-2": ["a"]})).decode()
    assert _cells(text)[0] == ['\'=HYPERLINK("x")', "new_-2"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="'=+-@\t\r\n ,\"a1<&", max_size=6), min_size=1, max_size=8))
def test_reading_back_and_restoring_gives_the_original_text(values: list[str]) -> None:
    df = pd.DataFrame({"name": values, "n": range(len(values))})
    data = frame_to_csv(df)
    back = pd.read_csv(io.BytesIO(data), dtype={"name": str}, keep_default_na=False)
    assert len(back) == len(values)
    for cell in back["name"]:
        assert not cell.startswith(TRIGGERS)
    assert restore_frame(back)["name"].tolist() == values
    assert [restore(neutralise(v)) for v in values] == values


def test_compare_csv_quotes_text_and_keeps_numbers() -> None:
    from siting.scenarios.research.compare import COLUMNS, to_csv

    row = {
        "model": "split",
        "service": "=cmd|' /C calc'!A0",
        "solver": "+highs",
        "status": "OPTIMAL",
        "objective": -2.5,
        "bound": -2.5,
        "gap": 0.0,
        "message": "-no",
        "verified": True,
    }
    rows = _cells(to_csv([row]))
    got = dict(zip(rows[0], rows[1]))
    assert rows[0] == list(COLUMNS)
    assert got["service"] == "'=cmd|' /C calc'!A0" and got["solver"] == "'+highs" and got["message"] == "'-no"
    assert got["objective"] == "-2.5" and got["bound"] == "-2.5" and got["verified"] == "yes"


def test_benchmark_csv_quotes_text_and_keeps_numbers(tmp_path: Path) -> None:
    from siting.scenarios.research.benchmark import COLUMNS, write_csv

    path = write_csv(
        [{"instance": "@pmed1", "n": 100, "p": 5, "solver": "-x", "objective": -3, "message": "\tm"}],
        tmp_path / "b.csv",
    )
    data = path.read_bytes()
    assert data.endswith(b"\r\n")  # the line ends csv.DictWriter always gave this file
    rows = _cells(data.decode("utf-8"))
    got = dict(zip(rows[0], rows[1]))
    assert rows[0] == list(COLUMNS)
    assert (got["instance"], got["solver"], got["message"]) == ("'@pmed1", "'-x", "'\tm")
    assert (got["n"], got["p"], got["objective"]) == ("100", "5", "-3")


def test_rows_to_csv_formats_after_quoting() -> None:
    text = rows_to_csv(["a", "b"], [{"a": -1.25, "b": "-1.25"}, {"a": "x"}], cell=lambda v: f"<{v}>")
    assert _cells(text) == [["a", "b"], ["<-1.25>", "<'-1.25>"], ["<x>", "<>"]]


WRITER = re.compile(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(|\.to_excel\(")


@pytest.mark.parametrize("folder", ["scenarios", "models", "optimizer"])
def test_every_csv_writer_goes_through_the_helper(folder: str) -> None:
    """No module of the package writes CSV (or xlsx) but the helper; the examples' data makers are not
    outputs of siting."""
    offenders = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if path.name == "csv_safe.py" or "examples" in path.relative_to(ROOT).parts:
            continue
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if WRITER.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()}")
    if folder == "scenarios":
        cli = (ROOT / "cli.py").read_text(encoding="utf-8")
        offenders += [f"cli.py: {m.group(0)}" for m in WRITER.finditer(cli)]
    assert not offenders, "\n".join(offenders)
