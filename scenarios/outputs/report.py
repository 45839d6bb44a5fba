"""``report.html``: one self-contained page an official can open offline, in English or Chinese.

Printed (``@media print``), it fits A4: each section on a new page, the ranked plan on landscape
pages with its header repeated, wide tables wrapped instead of scrolled, the static map sized to the
page and the interactive one left out.

Sections: headline figures (coverage before and after per service and per demand group; cost
against each budget; what each phase buys), the map (``map.png`` inlined as a ``data:`` URI), the
ranked plan table, the residents still uncovered by area, the assumptions (reach, walking speed,
costs, population estimates) and the solve record (solver, version, status, objective, bound, gap,
time), then the input hashes, package versions and warnings.

The page makes no request: the style sheet is inline, the only image is a ``data:`` URI, the only
script is the interactive map's own (:mod:`.svgmap`: an inline SVG of the scenario's layers), there is
no web font (the CSS font stack names fonts installed with the system, Noto Sans CJK SC
first, so Chinese renders without a download; the page stays small: embedding a CJK font would add
megabytes, and the machines officials read it on have a Chinese system font). Every value comes from
the run's files (``plan.csv``, ``uncovered.csv``, ``summary.json`` and the ``demand`` layer of
``plan.gpkg``), read by column name, so columns added to the plan later show up in the table without
a change here; each is HTML-escaped where it is embedded, in text, attributes and ids alike.
"""

from __future__ import annotations

import base64
import html
import math
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.excel import currency_of
from siting.scenarios.outputs.lonlat import coordinate_system
from siting.scenarios.outputs.report_extras import extras_section
from siting.scenarios.outputs.svgmap import CSS as SVG_CSS
from siting.scenarios.outputs.svgmap import interactive_map

#: Plan columns not shown in the report's table (the map shows where the sites are).
HIDDEN_PLAN_COLUMNS = ("lon", "lat", "x", "y", "geometry")
#: Plan columns holding money, people and shares (formatted accordingly).
MONEY_COLUMNS = ("cost", "cumulative_cost", "substitute_cost")
PEOPLE_COLUMNS = (
    "covered",
    "cumulative_covered",
    "covered_after",
    "drop_one_loss",
    "substitute_recovers",
    "weighted_gain",
)
SHARE_COLUMNS = ("coverage_share", "cumulative_coverage_share")
UNCOVERED_TOP = 15

CSS = """
:root { --ink: #1d2733; --muted: #5b6773; --line: #d5dbe1; --band: #f3f6f9; --accent: #1f5f99; }
* { box-sizing: border-box; }
body { font-family: FONTS; color: var(--ink); margin: 0; background: #ffffff; line-height: 1.5; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 28px; margin: 0 0 4px; color: var(--accent); }
h2 { font-size: 21px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--accent); }
h3 { font-size: 16px; margin: 20px 0 6px; }
p.sub { color: var(--muted); margin: 0 0 14px; }
p.note, p.caption { color: var(--muted); font-size: 13px; margin: 4px 0 8px; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13.5px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: var(--band); text-align: left; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 210px; background: var(--band); }
.card .k { font-size: 13px; color: var(--muted); }
.card .v { font-size: 22px; font-weight: 700; }
.card .d { font-size: 13px; }
figure { margin: 8px 0; }
figure img { width: 100%; max-width: 1200px; height: auto; border: 1px solid var(--line); }
code, .mono { font-family: "DejaVu Sans Mono", "Noto Sans Mono CJK SC", monospace; font-size: 12px; word-break: break-all; }
.wide { overflow-x: auto; }
.wide table { font-size: 12.5px; width: max-content; }
.wide th { max-width: 9em; }
div.long { width: 24em; white-space: normal; }
ul { margin: 4px 0 10px; padding-left: 22px; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
/* Print: A4 portrait; the ranked plan on landscape pages (page "plan"); every section on a new page;
   table headers repeated on each page; wide tables wrap inside the page width instead of scrolling (a
   scroll box prints cut); the map fits one page; the interactive map (needs a screen) is left out. */
@page { size: A4 portrait; margin: 12mm 10mm; }
@page plan { size: A4 landscape; margin: 10mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 20pt; }
  h2 { break-before: page; break-after: avoid; font-size: 15pt; margin-top: 0; }
  #headline { break-before: avoid; }
  h3 { break-after: avoid; }
  thead { display: table-header-group; }
  tr, .card, figure { break-inside: avoid; }
  table { font-size: 8.5pt; max-width: 100%; }
  th, td { overflow-wrap: anywhere; padding: 2px 4px; }
  td.num { white-space: normal; }
  .wide { overflow: visible; }
  .wide table { width: 100%; font-size: 7pt; }
  .wide th { max-width: none; }
  div.long { width: auto; }
  section.plan-section { page: plan; }
  figure img { width: auto; max-width: 100%; max-height: 235mm; object-fit: contain; }
  .screen-only { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
"""


# ------------------------------------------------------------------------------ formatting
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _float(value: Any) -> float:
    """``float(value)`` for a value checked with :func:`_finite`."""
    return float(value)


def _int(value: Any) -> str:
    return f"{float(value):,.0f}" if _finite(value) else "-"


def _num(value: Any, digits: int = 6) -> str:
    if not _finite(value):
        return "-"
    v = float(value)
    if v.is_integer() and abs(v) < 1e15:
        return f"{v:,.0f}"
    return f"{v:,.{digits}g}" if abs(v) < 1e6 else f"{v:,.2f}"


def _pct(value: Any, lang: str) -> str:
    if not _finite(value):
        return "-"
    return f"{100 * float(value):.1f}%" if lang == "zh" else f"{100 * float(value):.1f} %"


def _table(
    headers: list[str], rows: list[list[tuple[str, bool]]], table_id: str | None = None, caption: str | None = None
) -> str:
    """An HTML table; each cell is (escaped html, numeric?). The id is escaped too: it may hold a
    service key from the scenario (``uncovered-<service>``)."""
    out = [f'<table id="{_e(table_id)}">' if table_id else "<table>"]
    if caption:
        out.append(f'<caption class="note">{_e(caption)}</caption>')
    out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for row in rows:
        out.append(
            "<tr>" + "".join(f'<td class="num">{c}</td>' if num else f"<td>{c}</td>" for c, num in row) + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _services(summary: dict[str, Any]) -> list[str]:
    svc = summary.get("services") or {}
    if svc:
        return list(svc)
    return list((summary.get("scenario") or {}).get("services") or {})


def _scenario_service(summary: dict[str, Any], name: str) -> dict[str, Any]:
    return ((summary.get("scenario") or {}).get("services") or {}).get(name) or {}


def _group_of(summary: dict[str, Any], name: str) -> str:
    rec = (summary.get("services") or {}).get(name) or {}
    return str(rec.get("demand_group") or _scenario_service(summary, name).get("demand_group") or "")


def _reach_m(summary: dict[str, Any], name: str) -> float | None:
    rec = (summary.get("services") or {}).get(name) or {}
    if _finite(rec.get("reach_m")):
        return float(rec["reach_m"])
    svc = _scenario_service(summary, name)
    if _finite(svc.get("reach_m")):
        return float(svc["reach_m"])
    speed = ((summary.get("scenario") or {}).get("distance") or {}).get("walking_speed_kmh") or 4.0
    if _finite(svc.get("reach_minutes")):
        return float(svc["reach_minutes"]) * float(speed) * 1000.0 / 60.0
    return None


# ------------------------------------------------------------------------------ sections
def _headline(plan: pd.DataFrame, summary: dict[str, Any], demand: Any, lang: str) -> str:
    t = partial(i18n.text, lang)
    services = _services(summary)
    recs = summary.get("services") or {}
    parts = [f'<h2 id="headline">{_e(t("headline"))}</h2>']
    speed = float(((summary.get("scenario") or {}).get("distance") or {}).get("walking_speed_kmh") or 4.0)

    # cards: coverage after per service
    cards = []
    for s in services:
        cov = (recs.get(s) or {}).get("coverage") or {}
        cards.append(
            '<div class="card">'
            f'<div class="k">{_e(i18n.service_name(lang, s))} · {_e(i18n.group_name(lang, _group_of(summary, s)))}</div>'
            f'<div class="v">{_e(_pct(cov.get("share_after"), lang))}</div>'
            f'<div class="d">{_e(t("share_before"))} {_e(_pct(cov.get("share_before"), lang))}</div></div>'
        )
    joint = summary.get("joint") or {}
    if _finite(joint.get("complete_circle_people")):
        group = joint.get("complete_circle_group") or "residents"
        total = None
        if demand is not None and group in getattr(demand, "columns", []):
            total = float(np.nansum(demand[group].to_numpy(dtype=float)))
        share = float(joint["complete_circle_people"]) / total if total else None
        cards.append(
            '<div class="card">'
            f'<div class="k">{_e(t("complete_circle", group=i18n.group_name(lang, group)))}</div>'
            f'<div class="v">{_e(_int(joint["complete_circle_people"]))}</div>'
            f'<div class="d">{_e(_pct(share, lang))}</div></div>'
        )
    parts.append('<div class="cards">' + "".join(cards) + "</div>")

    headers = [
        t("service"),
        t("group"),
        t("reach"),
        t("people"),
        t("before"),
        t("after"),
        t("share_before"),
        t("share_after"),
        t("new_sites"),
        t("cost"),
    ]
    rows = []
    for s in services:
        rec = recs.get(s) or {}
        cov = rec.get("coverage") or {}
        reach = _reach_m(summary, s)
        reach_txt = (
            "-" if reach is None else f"{reach:,.0f} {t('metres')} ≈ {reach / (speed * 1000 / 60):.0f} {t('minutes')}"
        )
        rows.append(
            [
                (_e(i18n.service_name(lang, s)), False),
                (_e(i18n.group_name(lang, _group_of(summary, s))), False),
                (_e(reach_txt), True),
                (_int(rec.get("people")), True),
                (_int(cov.get("before")), True),
                (_int(cov.get("after")), True),
                (_pct(cov.get("share_before"), lang), True),
                (_pct(cov.get("share_after"), lang), True),
                (_int(rec.get("new_sites")), True),
                (_e(i18n.money(lang, rec.get("cost"), currency_of(summary))), True),
            ]
        )
    parts.append(f'<p class="caption">{_e(t("coverage_caption"))}</p>')
    parts.append(_table(headers, rows, table_id="coverage-table"))

    # per service x demand group, from the demand layer
    groups = list(((summary.get("scenario") or {}).get("layers") or {}).get("demand", {}).get("groups") or {})
    if demand is not None and len(demand) and groups:
        present = [g for g in groups if g in demand.columns]
        g_rows = []
        for s in services:
            after_col, before_col = f"covered_{s}", f"covered_before_{s}"
            if after_col not in demand.columns:
                continue
            after = demand[after_col].fillna(0).to_numpy(dtype=int) > 0
            before = demand[before_col].fillna(0).to_numpy(dtype=int) > 0 if before_col in demand.columns else None
            row = [(_e(i18n.service_name(lang, s)), False)]
            for g in present:
                people = demand[g].to_numpy(dtype=float)
                total = float(np.nansum(people))
                a = float(np.nansum(people[after])) / total if total > 0 else None
                b = float(np.nansum(people[before])) / total if (total > 0 and before is not None) else None
                row.append((_e(f"{_pct(b, lang)} → {_pct(a, lang)}"), True))
            g_rows.append(row)
        if g_rows:
            headers = [t("service")] + [i18n.group_name(lang, g) for g in present]
            parts.append(f"<h3>{_e(t('group_caption'))}</h3>")
            parts.append(_table(headers, g_rows, table_id="group-coverage-table"))

    # budgets
    parts.append(f"<h3>{_e(t('budget_caption'))}</h3>")
    b_rows = _budget_rows(plan, summary, lang)
    if b_rows:
        parts.append(
            _table(
                [t("budget_name"), t("budget"), t("spent"), t("left"), t("budget_used")],
                b_rows,
                table_id="budget-table",
            )
        )
    else:
        parts.append(f'<p class="note">{_e(t("budget"))}: {_e(t("no_limit"))}</p>')

    # phases
    parts.append(f"<h3>{_e(t('phases'))}</h3>")
    ph_headers, ph_rows = _phase_rows(plan, summary, lang)
    if ph_rows:
        parts.append(_table(ph_headers, ph_rows, table_id="phase-table"))
    else:
        parts.append(f'<p class="note">{_e(t("no_phases"))}</p>')
    return "\n".join(parts)


def _budget_row(label: str, amount: Any, spent: Any, lang: str, currency: str = "CNY") -> list[tuple[str, bool]]:
    spent_v = float(spent) if _finite(spent) else None
    left = float(amount) - spent_v if _finite(amount) and spent_v is not None else None
    used = spent_v / float(amount) if _finite(amount) and float(amount) > 0 and spent_v is not None else None
    m = partial(i18n.money, lang, currency=currency)
    return [
        (_e(label), False),
        (_e(m(amount)), True),
        (_e(m(spent_v)), True),
        (_e(m(left)), True),
        (_pct(used, lang), True),
    ]


def _budget_rows(plan: pd.DataFrame, summary: dict[str, Any], lang: str) -> list[list[tuple[str, bool]]]:
    """Each budget with what the plan spends of it: from the run's own budget checks when the summary
    has them (``checks``: total, per service, per phase with the money carried over), else from the
    scenario's budgets and the plan's costs."""
    t = partial(i18n.text, lang)
    cur = currency_of(summary)
    rows: list[list[tuple[str, bool]]] = []
    checks = summary.get("checks") or {}
    recs = summary.get("services") or {}
    budget = (summary.get("scenario") or {}).get("budget") or {}
    cost_col = pd.to_numeric(plan["cost"], errors="coerce") if "cost" in plan.columns else pd.Series(dtype=float)
    if checks.get("budget_total") or checks.get("budget_per_service") or checks.get("budget_per_phase"):
        total = checks.get("budget_total") or {}
        if _finite(total.get("limit")):
            rows.append(_budget_row(t("total_budget"), total.get("limit"), total.get("spent"), lang, cur))
        for s, rec in (checks.get("budget_per_service") or {}).items():
            if _finite((rec or {}).get("limit")):
                rows.append(_budget_row(i18n.service_name(lang, s), rec.get("limit"), rec.get("spent"), lang, cur))
        for rec in checks.get("budget_per_phase") or []:
            label = t("phase_budget", phase=rec.get("phase", ""))
            amount = rec.get("available", rec.get("budget"))
            if not _finite(amount):
                continue
            if _finite(rec.get("carried_in")) and float(rec["carried_in"]) > 0:
                label += f" ({_int(rec.get('budget'))} + {_int(rec.get('carried_in'))})"
            rows.append(_budget_row(label, amount, rec.get("spent"), lang, cur))
        return rows
    total_cost = float(np.nansum(cost_col.to_numpy(dtype=float))) if len(cost_col) else 0.0
    if _finite(budget.get("total")):
        rows.append(_budget_row(t("total_budget"), budget.get("total"), total_cost, lang, cur))
    for s, rec in recs.items():
        if _finite((rec or {}).get("budget")):
            rows.append(_budget_row(i18n.service_name(lang, s), rec.get("budget"), rec.get("cost") or 0.0, lang, cur))
    for ph, amount in (budget.get("phases") or {}).items():
        spent = None
        if "phase" in plan.columns:
            spent = float(np.nansum(cost_col[plan["phase"].astype(str) == str(ph)].to_numpy(dtype=float)))
        rows.append(_budget_row(t("phase_budget", phase=ph), amount, spent, lang, cur))
    return rows


def _gain_column(plan: pd.DataFrame, group: str) -> str | None:
    """The plan column holding the people of ``group`` a row newly covers."""
    for c in (f"new_{group}", "covered", "weighted_gain"):
        if c in plan.columns:
            return c
    return None


def _phase_rows(
    plan: pd.DataFrame, summary: dict[str, Any], lang: str
) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """What each phase buys: new sites, cost and, per service, the people within reach once it is done
    (with the increase over the phase before). Empty when the plan has a single phase."""
    t = partial(i18n.text, lang)
    services = _services(summary)
    recs = summary.get("services") or {}
    headers = [t("phase"), t("new_sites"), t("cost")] + [
        f"{i18n.service_name(lang, s)}: {t('after')}" for s in services
    ]
    rows: list[list[tuple[str, bool]]] = []
    phases = [p for p in (summary.get("phases") or []) if isinstance(p, dict)]
    if len(phases) > 1:
        previous = {s: ((recs.get(s) or {}).get("coverage") or {}).get("before") for s in services}
        for p in phases:
            row = [
                (_e(p.get("phase", "")), False),
                (_int(p.get("new_sites")), True),
                (_e(i18n.money(lang, p.get("cost"), currency_of(summary))), True),
            ]
            covered = p.get("covered_people") or {}
            for s in services:
                now = covered.get(s)
                people = (recs.get(s) or {}).get("people")
                share = (
                    _float(now) / _float(people) if _finite(now) and _finite(people) and _float(people) > 0 else None
                )
                delta = _float(now) - _float(previous[s]) if _finite(now) and _finite(previous.get(s)) else None
                text = f"{_int(now)} ({_pct(share, lang)})" + (
                    f", +{_int(delta)}" if delta is not None and delta > 0 else ""
                )
                row.append((_e(text), True))
                previous[s] = now
            rows.append(row)
        return headers, rows
    if "phase" not in plan.columns or plan["phase"].astype(str).nunique() < 2:
        return headers, rows
    headers = [t("phase"), t("new_sites"), t("cost")] + [
        f"{i18n.service_name(lang, s)}: {t('newly_covered')}" for s in services
    ]
    for ph in dict.fromkeys(plan["phase"].astype(str).tolist()):
        sub = plan[plan["phase"].astype(str) == ph]
        cost = np.nansum(pd.to_numeric(sub["cost"], errors="coerce")) if "cost" in sub.columns else None
        row = [(_e(ph), False), (_int(len(sub)), True), (_e(i18n.money(lang, cost, currency_of(summary))), True)]
        for s in services:
            part = sub[sub["service"].astype(str) == s] if "service" in sub.columns else sub.iloc[0:0]
            col = _gain_column(plan, _group_of(summary, s))
            row.append((_int(np.nansum(pd.to_numeric(part[col], errors="coerce"))) if col and len(part) else "-", True))
        rows.append(row)
    return headers, rows


def _plan_table(plan: pd.DataFrame, lang: str, currency: str = "CNY", stability: Any = None) -> str:
    t = partial(i18n.text, lang)
    parts = [f"<h2>{_e(t('plan'))}</h2>", f'<p class="caption">{_e(t("plan_caption"))}</p>']
    if stability is not None:  # the share of a sensitivity run's variants choosing each row's site
        from siting.scenarios.outputs.stability import with_stability

        plan = with_stability(plan, stability)
        caption = t("stability_caption", n=stability.solved, folder=stability.folder.name)
        parts.append(f'<p class="caption">{_e(caption)}</p>')
    if lang == "zh" and "reason_zh" in plan.columns:
        plan = plan.assign(reason=plan["reason_zh"])  # the same reason, written in Chinese by the run
    hidden = (*HIDDEN_PLAN_COLUMNS, "reason_zh", "stability_variants", "stability_of")
    cols = [c for c in plan.columns if c not in hidden]
    if "phase" in cols and plan["phase"].astype(str).nunique() <= 1 and (plan["phase"].astype(str) == "all").all():
        cols.remove("phase")  # no phases: the column says "all" on every row
        if "substitute_phase" in cols:
            cols.remove("substitute_phase")  # likewise "all" (or blank: no substitute)
    rows = []
    for rec in plan.to_dict("records"):  # a loop over plan rows
        row = []
        for c in cols:
            v = rec.get(c)
            if c == "service":
                row.append((_e(i18n.service_name(lang, v)), False))
            elif c == "demand_group":
                row.append((_e(i18n.group_name(lang, v)), False))
            elif c == "land_type":
                row.append((_e(i18n.land_type_name(lang, v)), False))
            elif c in SHARE_COLUMNS:
                row.append((_pct(v, lang), True))
            elif c == "stability":
                row.append((f"{_pct(v, lang)} ({_int(rec['stability_variants'])}/{_int(rec['stability_of'])})", True))
            elif c in MONEY_COLUMNS:
                row.append((_e(i18n.money(lang, v, currency)), True))
            elif c in PEOPLE_COLUMNS or c.startswith("new_"):
                row.append((_int(v), True))
            elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                row.append((_num(v), True))
            else:
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                row.append((f'<div class="long">{_e(text)}</div>' if len(text) > 40 else _e(text), False))
        rows.append(row)
    if not rows:
        parts.append(f'<p class="note">{_e(t("no_plan"))}</p>')
    headers = [
        f"{i18n.text(lang, 'newly_covered')}: {i18n.group_name(lang, c[4:])}"
        if c.startswith("new_")
        else i18n.column_name(lang, c)
        for c in cols
    ]
    parts.append('<div class="wide">' + _table(headers, rows, table_id="plan-table") + "</div>")
    return '<section class="plan-section">' + "\n".join(parts) + "</section>"


def _uncovered(uncovered: pd.DataFrame, summary: dict[str, Any], demand: Any, lang: str) -> str:
    t = partial(i18n.text, lang)
    parts = [f"<h2>{_e(t('uncovered'))}</h2>"]
    area_col = None
    if demand is not None and len(demand):
        from siting.scenarios.outputs.gpkg import AREA_COLUMNS

        lower = {str(c).lower(): c for c in demand.columns}
        area_col = next((lower[c.lower()] for c in AREA_COLUMNS if c.lower() in lower), None)
    unc = uncovered.copy()
    if "demand_id" in unc.columns:
        unc["demand_id"] = unc["demand_id"].astype(str)
    if area_col is not None and "demand_id" in unc.columns:
        areas = pd.Series(demand[area_col].astype(str).to_numpy(), index=demand["demand_id"].astype(str).to_numpy())
        unc["area"] = unc["demand_id"].map(areas).fillna("")
        area_label = area_col
    else:
        unc["area"] = unc.get("demand_id", pd.Series(dtype=str))
        area_label = t("demand_point")
    parts.append(f'<p class="caption">{_e(t("uncovered_caption", area=area_label))}</p>')
    for s in _services(summary):
        parts.append(f"<h3>{_e(i18n.service_name(lang, s))} · {_e(i18n.group_name(lang, _group_of(summary, s)))}</h3>")
        sub = unc[unc["service"].astype(str) == s] if "service" in unc.columns else unc.iloc[0:0]
        if sub.empty:
            parts.append(f'<p class="note">{_e(t("all_covered"))}</p>')
            continue
        people = pd.to_numeric(sub.get("people"), errors="coerce").fillna(0.0)
        sub = sub.assign(people=people)
        grouped = sub.groupby("area", sort=False).agg(points=("people", "size"), people=("people", "sum"))
        if "reason" in sub.columns:
            main = (
                sub.sort_values(["people"], ascending=False, kind="stable")
                .groupby("area", sort=False)["reason"]
                .first()
            )
            grouped["reason"] = main
        grouped = grouped.reset_index()
        grouped["key"] = grouped["area"].astype(str)
        grouped = grouped.sort_values(["people", "key"], ascending=[False, True], kind="stable")
        rows = []
        for rec in grouped.head(UNCOVERED_TOP).to_dict("records"):
            rows.append(
                [
                    (_e(rec["area"]), False),
                    (_int(rec["points"]), True),
                    (_int(rec["people"]), True),
                    (_e(i18n.reason_name(lang, rec.get("reason", ""))), False),
                ]
            )
        rest = grouped.iloc[UNCOVERED_TOP:]
        parts.append(
            _table([t("area"), t("demand_points"), t("people"), t("main_reason")], rows, table_id=f"uncovered-{s}")
        )
        if len(rest):
            parts.append(f'<p class="note">{_e(t("more_areas", k=len(rest), people=_int(rest["people"].sum())))}</p>')
    return "\n".join(parts)


def _assumptions(summary: dict[str, Any], demand: Any, lang: str) -> str:
    t = partial(i18n.text, lang)
    sc = summary.get("scenario") or {}
    dist = summary.get("distance") or {}
    sdist = sc.get("distance") or {}
    speed = float(sdist.get("walking_speed_kmh") or dist.get("walking_speed_kmh") or 4.0)
    method = dist.get("method") or sdist.get("method") or "euclidean"
    parts = [f"<h2>{_e(t('assumptions'))}</h2>", "<ul>"]
    parts.append(
        f"<li>{_e(t('distance'))}: {_e(t('distance_network' if method == 'network' else 'distance_euclidean'))}"
        + (f" ({_e(summary.get('crs'))})" if summary.get("crs") else "")
        + "</li>"
    )
    parts.append(f"<li>{_e(t('walking_speed'))}: {speed:g} {_e(t('kmh'))}</li>")
    parts.append(f"<li>{_e(t('coords_note', system=i18n.coordinates_name(lang, coordinate_system(summary))))}</li>")
    unit = i18n.currency_unit(lang, currency_of(summary))
    if lang == "zh" and currency_of(summary) == "CNY":
        unit = f"{unit}、{i18n.currency_unit(lang, 'CNY_10K')}"
    parts.append(f"<li>{_e(t('cost_unit', unit=unit))}</li>")
    if method == "network" and _finite(sdist.get("max_snap_m")):
        parts.append(f"<li>{_e(t('max_snap', m=_num(sdist.get('max_snap_m'))))}</li>")
    for s in _services(summary):
        reach = _reach_m(summary, s)
        if reach is not None:
            parts.append(
                "<li>"
                + _e(
                    t(
                        "reach_row",
                        service=i18n.service_name(lang, s),
                        group=i18n.group_name(lang, _group_of(summary, s)),
                        metres=f"{reach:,.0f}",
                        minutes=f"{reach / (speed * 1000 / 60):.0f}",
                    )
                )
                + "</li>"
            )
    parts.append("</ul>")

    # costs by land type
    services = _services(summary)
    lands: list[str] = []
    for s in services:
        for land in _scenario_service(summary, s).get("cost_by_land_type") or {}:
            if land not in lands:
                lands.append(land)
    cur = currency_of(summary)
    if lands or any(_scenario_service(summary, s).get("default_cost") is not None for s in services):
        headers = [t("service")] + [i18n.land_type_name(lang, x) for x in lands] + [t("default_cost"), t("min_area")]
        rows = []
        for s in services:
            svc = _scenario_service(summary, s)
            costs = svc.get("cost_by_land_type") or {}
            rows.append(
                [(_e(i18n.service_name(lang, s)), False)]
                + [(_e(i18n.money(lang, costs.get(x), cur)), True) for x in lands]
                + [
                    (_e(i18n.money(lang, svc.get("default_cost"), cur)), True),
                    (_e(f"{_num(svc.get('min_area_m2', 0))} m²"), True),
                ]
            )
        parts.append(f"<h3>{_e(t('costs'))}</h3>")
        parts.append(_table(headers, rows, table_id="cost-table"))

    # population estimates
    groups = ((sc.get("layers") or {}).get("demand") or {}).get("groups") or {}
    if groups:
        parts.append(f"<h3>{_e(t('population'))}</h3><ul>")
        for g, col in groups.items():
            total = (
                float(np.nansum(demand[g].to_numpy(dtype=float)))
                if demand is not None and g in getattr(demand, "columns", [])
                else None
            )
            parts.append(
                "<li>"
                + _e(t("population_row", group=i18n.group_name(lang, g), column=col, people=_int(total)))
                + "</li>"
            )
        parts.append("</ul>")
    if sc.get("description"):
        parts.append(f'<h3>{_e(t("scenario_notes"))}</h3><p class="note prose">{_e(sc.get("description"))}</p>')
    return "\n".join(parts)


def solve_records(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, record) for every solve record in a summary: the joint one (top-level ``solve`` and its
    ``stages``, when present) and each service's own (a copy of the joint record is not repeated)."""
    out: list[tuple[str, dict[str, Any]]] = []
    top = summary.get("solve")
    if isinstance(top, dict):
        out.append(("all", top))
        for k, stage in enumerate(top.get("stages") or []):
            if isinstance(stage, dict):
                out.append((f"stage {stage.get('name', k + 1)}", stage))
    for s, rec in (summary.get("services") or {}).items():
        solve = (rec or {}).get("solve")
        if isinstance(solve, dict) and not (isinstance(top, dict) and (solve == top or solve.get("mode") == "joint")):
            out.append((s, solve))
    return out


def _status(lang: str, rec: dict[str, Any]) -> str:
    """A solve record's status in ``lang``; a skipped stage says why."""
    status = str(rec.get("status", ""))
    if status == "skipped":
        why = rec.get("message")
        return i18n.text(lang, "skipped") + (f" ({i18n.note(lang, why)})" if why else "")
    return i18n.status_name(lang, status)


def _solve(summary: dict[str, Any], lang: str) -> str:
    t = partial(i18n.text, lang)
    parts = [f"<h2>{_e(t('solve'))}</h2>"]
    rows = []
    for label, rec in solve_records(summary):
        name = (
            i18n.text(lang, "joint_model")
            if label == "all"
            else (
                i18n.stage_name(lang, label[len("stage ") :])
                if label.startswith("stage ")
                else i18n.service_name(lang, label)
            )
        )
        verified = rec.get("verified")
        rows.append(
            [
                (_e(name), False),
                (_e(i18n.model_name(lang, rec.get("model", ""))), False),
                (_e(rec.get("solver", "")), False),
                (_e(rec.get("solver_version", "")), False),
                (_e(_status(lang, rec)), False),
                (_num(rec.get("objective"), 10), True),
                (_num(rec.get("bound"), 10), True),
                (_e(f"{float(rec['gap']):.2e}") if _finite(rec.get("gap")) else "-", True),
                (_e(f"{float(rec['seconds']):.3f}") if _finite(rec.get("seconds")) else "-", True),
                (_e("" if verified is None else t("yes") if verified else t("no")), False),
            ]
        )
    for s, rec in (summary.get("services") or {}).items():
        if not isinstance((rec or {}).get("solve"), dict) and summary.get("solve") is None:
            rows.append(
                [(_e(i18n.service_name(lang, s)), False)]
                + [("", False)] * 3
                + [(_e(t("not_solved")), False)]
                + [("-", True)] * 4
                + [("", False)]
            )
    parts.append(
        _table(
            [
                t("service"),
                t("model"),
                t("solver"),
                t("version"),
                t("status"),
                t("objective"),
                t("bound"),
                t("gap"),
                t("time"),
                t("verified"),
            ],
            rows,
            table_id="solve-table",
        )
    )
    solver = summary.get("solver") or {}
    limit = solver.get("time_limit")
    parts.append(
        '<p class="note">'
        + _e(
            t(
                "settings",
                limit=f"{_float(limit):g} {t('seconds')}" if _finite(limit) else t("no_limit"),
                gap=_num(solver.get("mip_gap")),
                threads=solver.get("threads", "-"),
                seed=summary.get("seed", solver.get("seed", "-")),
            )
        )
        + "</p>"
    )
    inputs = summary.get("inputs_sha256") or {}
    if inputs:
        parts.append(f"<h3>{_e(t('inputs'))}</h3>")
        parts.append(
            _table(
                [t("file"), "SHA-256"],
                [[(_e(k), False), (f'<span class="mono">{_e(v)}</span>', False)] for k, v in inputs.items()],
                table_id="inputs-table",
            )
        )
    versions = summary.get("versions") or {}
    if versions:
        parts.append(f"<h3>{_e(t('versions'))}</h3>")
        parts.append('<p class="note versions">' + ", ".join(f"{_e(k)} {_e(v)}" for k, v in versions.items()) + "</p>")
    return "\n".join(parts)


def _warnings(summary: dict[str, Any], extra: list[str], lang: str) -> str:
    items = [i18n.note(lang, w) for w in (summary.get("warnings") or [])]
    for s, rec in (summary.get("services") or {}).items():
        label = s if lang == "en" else i18n.service_name(lang, s)
        items.extend(f"{label}: {i18n.note(lang, n)}" for n in (rec or {}).get("notes") or [])
    items.extend(i18n.note(lang, w) for w in extra)  # the map's and the GeoPackage's notes
    if summary.get("budget_split"):
        items.append(i18n.note(lang, summary["budget_split"]))
    if not items:
        return ""
    return f"<h2>{_e(i18n.text(lang, 'warnings'))}</h2><ul>" + "".join(f"<li>{_e(w)}</li>" for w in items) + "</ul>"


# ------------------------------------------------------------------------------ the page
def render_report(
    plan: pd.DataFrame,
    uncovered: pd.DataFrame,
    summary: dict[str, Any],
    map_png: bytes | None,
    demand: Any = None,
    lang: str = "en",
    notes: list[str] | None = None,
    layers: dict[str, Any] | None = None,
    stability: Any = None,
) -> str:
    """The text of ``report.html``.

    Parameters
    ----------
    plan, uncovered : the run's ``plan.csv`` and ``uncovered.csv`` (columns read by name).
    summary : the run's ``summary.json``.
    map_png : the map's PNG bytes, inlined as a ``data:`` URI (None: no map section image).
    demand : the ``demand`` layer of ``plan.gpkg`` (areas, people per group, coverage flags), or None.
    lang : ``en`` or ``zh``.
    notes : more warnings to list (e.g. from drawing the map).
    layers : the layers of ``plan.gpkg``, for the interactive map (:mod:`.svgmap`); None: no interactive map.
    stability : a :class:`scenarios.outputs.stability.Stability` (``--stability DIR``): the ranked plan
        then shows each site's share of the sensitivity variants choosing it; None: no such column.
    """
    lang = i18n.check_lang(lang)
    t = partial(i18n.text, lang)
    sc = summary.get("scenario") or {}
    name = sc.get("name") or summary.get("scenario_file") or ""
    if summary.get("override"):
        name = f"{name} / {summary['override']}"
    version = (summary.get("versions") or {}).get("siting", "")
    body = [
        f"<h1>{_e(t('title'))}</h1>",
        f'<p class="sub">{_e(t("subtitle", name=name))}</p>',
        _headline(plan, summary, demand, lang),
        f"<h2>{_e(t('map'))}</h2>",
    ]
    if map_png:
        data = base64.b64encode(map_png).decode("ascii")
        body.append(f'<figure><img id="plan-map" alt="{_e(t("map_alt"))}" src="data:image/png;base64,{data}"></figure>')
    body.append(interactive_map(layers, plan, summary, lang))  # on screen only; print keeps map.png
    body += [
        _plan_table(plan, lang, currency_of(summary), stability),
        _uncovered(uncovered, summary, demand, lang),
        _assumptions(summary, demand, lang),
        extras_section(summary, lang),
        _solve(summary, lang),
        _warnings(summary, list(notes or []), lang),
        f"<footer>{_e(t('generated', version=version))}</footer>",
    ]
    html_lang = "zh-CN" if lang == "zh" else "en"
    css = CSS.replace("FONTS", i18n.FONT_STACK) + SVG_CSS
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(t('title'))} · {_e(name)}</title>\n<style>{css}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(b for b in body if b)
        + "\n</main>\n</body>\n</html>\n"
    )


__all__ = ["render_report", "solve_records"]
