"""``plan.xlsx``: the ranked plan as a workbook an official opens in Excel or WPS, in the report's language.

Sheets, in order:

1. the ranked plan (every row of ``plan.csv``, in rank order);
2. one sheet per phase, when the plan has more than one (the rows built in that phase);
3. one sheet per service (its rows, in rank order);
4. the uncovered demand points (``uncovered.csv``, reasons in the report's language);
5. an "about" sheet: the scenario, the coordinate system of the lon/lat columns, the currency.

Headers come from :mod:`.i18n` (``zh``: 地块编号, 投资, ...). Numbers are numeric cells, never text:
costs carry a number format with the currency (``#,##0" 元"`` in Chinese for CNY, ``#,##0" CNY"`` in
English), shares a percent format, people whole numbers. Text is always a text cell: a site name that
starts with ``=`` is shown as written, never run as a formula (the CSV files quote such cells, see
:mod:`.csv_safe`; a workbook can mark the cell type instead, so the text needs no quote). Characters
that XML 1.0 cannot hold (control characters other than tab, line feed, carriage return) are dropped.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.lonlat import coordinate_system

#: Plan columns holding money, people and shares (formatted accordingly).
MONEY_COLUMNS = ("cost", "cumulative_cost", "substitute_cost")
SHARE_COLUMNS = ("coverage_share", "cumulative_coverage_share")
#: Columns whose codes are translated in the cells (service keys, groups, land types, reasons).
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_ILLEGAL = re.compile(r"[\[\]:*?/\\]")


def currency_of(summary: dict[str, Any]) -> str:
    """The scenario's ``output.currency`` recorded in a run's summary (``CNY`` when absent)."""
    return str(((summary.get("scenario") or {}).get("output") or {}).get("currency") or "CNY")


def _money_format(lang: str, currency: str) -> str:
    unit = i18n.currency_unit(lang, currency).replace('"', "")
    return f'#,##0" {unit}"'


def _header(lang: str, column: str, system: str) -> str:
    if column.startswith("new_") and column != "new_sites":
        return f"{i18n.text(lang, 'newly_covered')}: {i18n.group_name(lang, column[4:])}"
    if column in ("lon", "lat"):
        return i18n.text(lang, f"{column}_in", system=i18n.coordinates_name(lang, system))
    return i18n.column_name(lang, column)


def _cell_value(lang: str, column: str, value: Any) -> Any:
    """The value a cell holds: numbers as Python numbers, codes translated, missing values empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return i18n.text(lang, "yes" if value else "no")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    text = str(value)
    if column == "service":
        text = i18n.service_name(lang, text)
    elif column == "demand_group":
        text = i18n.group_name(lang, text)
    elif column == "land_type":
        text = i18n.land_type_name(lang, text)
    elif column == "reason" and text in i18n.REASONS["en"]:
        text = i18n.reason_name(lang, text)
    return _XML_ILLEGAL.sub("", text)


def _sheet_name(title: str, taken: set[str]) -> str:
    """An Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, unique (case-insensitive)."""
    base = _SHEET_ILLEGAL.sub("_", _XML_ILLEGAL.sub("", title)).strip("'") or "sheet"
    base = base[:31]
    name, k = base, 2
    while name.lower() in taken:
        suffix = f" ({k})"
        name, k = base[: 31 - len(suffix)] + suffix, k + 1
    taken.add(name.lower())
    return name


def _write_table(ws: Any, table: pd.DataFrame, lang: str, currency: str, system: str) -> None:
    """``table`` into worksheet ``ws``: a bold, frozen, filterable header row, then one row per record."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = [str(c) for c in table.columns]
    ws.append([_header(lang, c, system) for c in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    money, share = _money_format(lang, currency), "0.0%"
    formats = [
        money if c in MONEY_COLUMNS else share if c in SHARE_COLUMNS else "0.000000" if c in ("lon", "lat") else None
        for c in columns
    ]
    # a loop over the table's rows (the plan: tens; uncovered: hundreds); rows are counted here, not with
    # ws.max_row, which scans every cell on each call
    for r, values in enumerate(table.itertuples(index=False, name=None), start=2):
        for k, (c, v) in enumerate(zip(columns, values), start=1):
            cell = ws.cell(row=r, column=k, value=_cell_value(lang, c, v))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text is text: "=..." from the data is never a formula
            elif isinstance(cell.value, (int, float)):
                if formats[k - 1] is not None:
                    cell.number_format = formats[k - 1]
                elif isinstance(cell.value, float) and c != "area_m2" and float(cell.value).is_integer():
                    cell.number_format = "#,##0"
    last_row = len(table) + 1
    ws.freeze_panes = "A2"
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{last_row}"
    for k, c in enumerate(columns, start=1):
        head = _header(lang, c, system)
        wide = 40 if c in ("reason", "reason_zh") else min(max(len(head) * (2 if lang == "zh" else 1) + 2, 10), 28)
        ws.column_dimensions[get_column_letter(k)].width = wide


def _plan_for(plan: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The plan's columns for the workbook: in Chinese the reason column carries ``reason_zh``."""
    if "reason_zh" in plan.columns:
        if lang == "zh":
            plan = plan.assign(reason=plan["reason_zh"])
        plan = plan.drop(columns=["reason_zh"])
    return plan


def plan_workbook(plan: pd.DataFrame, uncovered: pd.DataFrame, summary: dict[str, Any], lang: str = "en") -> bytes:
    """The bytes of ``plan.xlsx`` (see the module docstring).

    Parameters
    ----------
    plan : the ranked plan as written to ``plan.csv`` (lon/lat already in ``output.coordinates``).
    uncovered : the ``uncovered.csv`` table.
    summary : the run's ``summary.json`` (scenario name, ``output.currency``, ``output.coordinates``).
    lang : ``en`` or ``zh``.
    """
    from openpyxl import Workbook

    lang = i18n.check_lang(lang)
    currency, system = currency_of(summary), coordinate_system(summary)
    t = i18n.text
    wb = Workbook()
    taken: set[str] = set()
    table = _plan_for(plan, lang)
    ws = wb.active
    ws.title = _sheet_name(t(lang, "sheet_plan"), taken)
    _write_table(ws, table, lang, currency, system)
    if "phase" in table.columns:
        phases = list(dict.fromkeys(table["phase"].astype(str)))
        if len(phases) > 1:
            for ph in phases:
                sub = table[table["phase"].astype(str) == ph]
                _write_table(
                    wb.create_sheet(_sheet_name(t(lang, "sheet_phase", phase=ph), taken)), sub, lang, currency, system
                )
    if "service" in table.columns:
        for svc in dict.fromkeys(table["service"].astype(str)):
            sub = table[table["service"].astype(str) == svc]
            _write_table(wb.create_sheet(_sheet_name(i18n.service_name(lang, svc), taken)), sub, lang, currency, system)
    _write_table(wb.create_sheet(_sheet_name(t(lang, "sheet_uncovered"), taken)), uncovered, lang, currency, system)
    about = wb.create_sheet(_sheet_name(t(lang, "sheet_about"), taken))
    name = (summary.get("scenario") or {}).get("name") or summary.get("scenario_file") or ""
    rows = [
        (t(lang, "about_item"), t(lang, "about_value")),
        (t(lang, "about_scenario"), _XML_ILLEGAL.sub("", str(name))),
        (t(lang, "about_coordinates"), i18n.coordinates_name(lang, system)),
        (t(lang, "about_currency"), i18n.currency_unit(lang, currency)),
        (t(lang, "sheet_about"), t(lang, "about_sheets")),
    ]
    for row in rows:
        about.append(list(row))
        for cell in about[about.max_row]:
            cell.data_type = "s"
    about.column_dimensions["A"].width, about.column_dimensions["B"].width = 30, 70
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


__all__ = ["MONEY_COLUMNS", "currency_of", "plan_workbook"]
