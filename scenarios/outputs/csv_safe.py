"""CSV files that a spreadsheet opens safely: no text cell can start a formula.

Excel, LibreOffice Calc and WPS read a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return as a formula, so a site name such as ``=cmd|' /C calc'!A0`` taken from someone's GIS
layer would run when an official opens ``plan.csv``. Following OWASP's rule against CSV injection,
every CSV file siting writes goes through this module: a *text* cell (header names included) that
starts with one of those characters gets a leading single quote, which spreadsheets show as text.
Numbers are never touched: a cost of ``-2`` stays ``-2``; only the text ``"-2"`` becomes ``'-2``.

The quoting can be undone exactly. A text cell that already starts with one or more quotes followed
by a trigger character gets one more quote too, so :func:`restore` (drop one quote where quotes
precede a trigger) returns the original text for every cell; ``siting report`` reads ``plan.csv``
back through it, so the report shows the names as the data gave them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: First characters that make a spreadsheet cell a formula (OWASP: CSV injection).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")  # matched at the start of the text
_QUOTED = re.compile(r"'+[=+\-@\t\r]")
#: The UTF-8 byte-order mark a CSV for spreadsheets starts with (see :func:`frame_to_csv`).
BOM = b"\xef\xbb\xbf"


def neutralise(value: Any) -> Any:
    """``value`` with a single quote in front when it is text that a spreadsheet would run; else as is."""
    if isinstance(value, str) and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def restore(value: Any) -> Any:
    """The inverse of :func:`neutralise`: one leading quote removed where quotes precede a trigger."""
    if isinstance(value, str) and _QUOTED.match(value):
        return value[1:]
    return value


def _text_columns(df: pd.DataFrame) -> list[Any]:
    return [
        c
        for c, dtype in df.dtypes.items()
        if pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ]


def _matches(col: pd.Series, pattern: re.Pattern[str]) -> Any:
    """Boolean mask of the text cells of ``col`` that match ``pattern`` at their start."""
    try:
        return col.str.match(pattern, na=False).to_numpy(dtype=bool)
    except AttributeError:  # an object column with no text at all (pandas refuses ``.str`` there)
        return np.zeros(len(col), dtype=bool)


def _has_cr(col: pd.Series) -> bool:
    try:
        return bool(col.str.contains("\r", regex=False, na=False).any())
    except AttributeError:  # no text in the column
        return False


def _map_frame(df: pd.DataFrame, pattern: re.Pattern[str], change: Any) -> pd.DataFrame:
    """``df`` with ``change`` applied to the text cells and column names that match ``pattern``.

    Vectorised per column (``Series.str.match``); cells that are not text (numbers, booleans, missing
    values in a text column) never match. ``df`` itself is not modified.
    """
    out = df
    for c in _text_columns(df):
        col = df[c].astype(object) if isinstance(df[c].dtype, pd.CategoricalDtype) else df[c]
        hit = _matches(col, pattern)
        if hit.any():
            if out is df:
                out = df.copy()
            values = col.to_numpy(dtype=object, copy=True)
            values[hit] = [change(v) for v in values[hit]]  # only the matching cells (few)
            out[c] = pd.Series(values, index=df.index, dtype=object)
    names = [change(c) if isinstance(c, str) and pattern.match(c) else c for c in df.columns]
    if names != list(df.columns):
        out = out.set_axis(names, axis=1) if out is not df else df.set_axis(names, axis=1)
    return out


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell and column name passed through :func:`neutralise` (numbers unchanged)."""
    return _map_frame(df, _NEEDS_QUOTE, lambda v: "'" + v)


def restore_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (as read from a CSV siting wrote) with every text cell and column name passed through :func:`restore`."""
    return _map_frame(df, _QUOTED, lambda v: v[1:])


def _line_end(has_cr: bool, lineterminator: str) -> str:
    # Python's csv writer quotes a field holding a line break only when that character is part of the
    # line terminator: with "\n" a bare CR inside a name would be written unquoted and split the row
    # for every reader. Such a file is written with CRLF line ends (RFC 4180), which quotes it.
    return "\r\n" if has_cr and "\r" not in lineterminator else lineterminator


def frame_to_csv(df: pd.DataFrame, float_format: str = "%.10g", bom: bool = False) -> bytes:
    """The CSV bytes (UTF-8, ``\\n`` line ends, no index) of ``df`` with its text neutralised.

    Numbers are written with ``float_format``; a file with a carriage return inside a text cell gets
    CRLF line ends so that the cell is quoted and the row stays whole. With ``bom`` the bytes start
    with the UTF-8 byte-order mark (EF BB BF): Excel on a Chinese Windows reads a CSV without it in
    the system code page (GBK) and garbles every Chinese cell; with it, Excel, WPS and LibreOffice
    read UTF-8. Readers: ``pd.read_csv(..., encoding="utf-8-sig")``, ``open(..., encoding="utf-8-sig")``.
    """
    safe = neutralise_frame(df)
    has_cr = any(_has_cr(safe[c]) for c in _text_columns(safe)) or any(
        isinstance(c, str) and "\r" in c for c in safe.columns
    )
    text = safe.to_csv(index=False, float_format=float_format, lineterminator=_line_end(has_cr, "\n"))
    return (BOM if bom else b"") + text.encode("utf-8")


def rows_to_csv(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    cell: Callable[[Any], Any] = lambda v: v,
    lineterminator: str = "\n",
) -> str:
    """CSV text of ``rows`` (dicts; a missing key is an empty cell), header first, text neutralised.

    ``cell`` formats each value after it was neutralised (e.g. numbers to fixed digits): formatting
    first would turn a negative number into text and quote it.
    """
    table = [[neutralise(c) for c in columns]]
    table += [[cell(neutralise(r.get(c, ""))) for c in columns] for r in rows]
    has_cr = any(isinstance(v, str) and "\r" in v for row in table for v in row)
    buf = io.StringIO()
    csv.writer(buf, lineterminator=_line_end(has_cr, lineterminator)).writerows(table)
    return buf.getvalue()


__all__ = [
    "BOM",
    "TRIGGERS",
    "frame_to_csv",
    "neutralise",
    "neutralise_frame",
    "restore",
    "restore_frame",
    "rows_to_csv",
]
