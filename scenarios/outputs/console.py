"""The lines ``siting run`` prints when it is done, in the run's language (``en`` or ``zh``).

One line per service (new sites, cost, people within reach before -> after, status), then for a joint
run the plan as a whole and each phase, the alternatives, whether every check passed, and where the
plan went. Every word comes from the catalogue :mod:`.i18n` (keys ``con_*``); the English lines are
the ones ``siting run`` has always printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.excel import currency_of


def _money(lang: str, value: Any, summary: dict[str, Any]) -> str:
    # English keeps the bare number (as before); Chinese gives 万元 / 元
    return f"{float(value):,.0f}" if lang == "en" else i18n.money(lang, value, currency_of(summary))


def _served_text(t: Any, capacity: dict[str, Any] | None) -> str:
    """A capacitated service's demand served within capacity (and covered but without room)."""
    if not capacity:
        return ""
    return t(
        "con_served",
        served=f"{capacity['served_weight']:,.0f}",
        unserved=f"{capacity.get('covered_unserved_weight', 0.0):,.0f}",
    )


def run_lines(
    summary: dict[str, Any], mode: str, out_dir: str | Path, failed: list[str], lang: str | None = "en"
) -> list[str]:
    """The console summary of a finished run.

    Parameters
    ----------
    summary : the run's summary.json.
    mode : ``joint`` or ``split``.
    out_dir : where the plan was written.
    failed : the checks that did not pass (empty: all passed).
    lang : ``en`` or ``zh``; None: the scenario's ``output.lang`` (as the report), else ``en``.
    """
    if lang is None:
        lang = ((summary.get("scenario") or {}).get("output") or {}).get("lang")
    lang = i18n.check_lang(lang)

    def t(key: str, **fields: Any) -> str:
        return i18n.text(lang, key, **fields)

    lines: list[str] = []
    for name, svc in summary["services"].items():
        cov = svc["coverage"]
        share = cov["share_after"]
        solve_rec = svc["solve"] or {}
        status = solve_rec.get("status")
        status_txt = t("not_solved") if status is None else (status if lang == "en" else i18n.status_name(lang, status))
        verified = t("con_verified") if solve_rec.get("verified", True) else t("con_not_verified")
        n = int(svc["new_sites"] or 0)
        cost = t("con_cost", cost=_money(lang, svc["cost"], summary)) if svc["cost"] is not None else ""
        label = name if lang == "en" else i18n.service_name(lang, name)
        group = svc["demand_group"] if lang == "en" else i18n.group_name(lang, svc["demand_group"])
        lines.append(
            t(
                "con_service",
                service=label,
                sites=t("con_site_one" if n == 1 else "con_site_many", n=n),
                cost=cost,
                group=group,
                reach=f"{svc['reach_m']:,.0f}",
                before=f"{cov['before']:,.0f}",
                after=f"{cov['after']:,.0f}",
            )
            + (t("con_share", share=f"{100 * share:.1f}") if share is not None else "")
            + _served_text(t, solve_rec.get("capacity"))
            + t("con_status", status=status_txt, verified=verified)
        )
    if mode == "joint":
        rec, joint, checks = summary["solve"], summary["joint"], summary["checks"]
        budget = checks["budget_total"]["limit"]
        status = rec["status"] if lang == "en" else i18n.status_name(lang, rec["status"])
        lines.append(
            t(
                "con_joint",
                n=joint["new_sites"],
                plots=joint["plots_used"],
                cost=_money(lang, joint["total_cost"], summary),
            )
            + (t("con_of_budget", budget=_money(lang, budget, summary)) if budget is not None else "")
            + t(
                "con_objective",
                objective=i18n.objective_name(lang, summary["objective"]),
                value=f"{joint['value']:,.6g}",
                status=status,
            )
            + (t("con_gap", gap=f"{rec['gap']:.2g}") if rec.get("gap") else "")
            + t("con_close")
        )
        for ph in summary["phases"] if len(summary["phases"]) > 1 else []:
            lines.append(t("con_phase", phase=ph["phase"], n=ph["new_sites"], cost=_money(lang, ph["cost"], summary)))
        if "alternatives" in summary:
            alt = summary["alternatives"]
            lines.append(
                t("con_alternatives", found=alt["found"], tolerance=f"{100 * alt['tolerance']:g}")
                + (f" ({i18n.note(lang, alt['note'])})" if alt.get("note") else "")
            )
    if "checks" in summary or failed:
        lines.append(t("con_checks_passed") if not failed else t("con_checks_failed", failed=", ".join(failed)))
    if sum(int(svc.get("new_sites") or 0) for svc in summary["services"].values()) == 0:
        lines.append(t("con_nothing"))
    if summary.get("peak_memory_mb") is not None:
        lines.append(t("con_peak_memory", mb=f"{summary['peak_memory_mb']:,.0f}"))
    lines.append(t("con_written", out=out_dir))
    return lines


__all__ = ["run_lines"]
