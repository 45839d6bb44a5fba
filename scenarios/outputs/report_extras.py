"""report.html's section on capacity use, equity between groups and robust plans, from summary.json.

Each service solved with a capacity, an equity rule or sampled demand scenarios gets a short table:
utilisation per facility and the demand covered but not served for lack of room; each group's
covered share before (the unconstrained optimum) and after, the worst group and the coverage given
up for it; the robust plan's worst case and mean against the nominal plan's. Drawn from
summary.json alone, so ``siting report`` redraws it.
"""

from __future__ import annotations

import html
from typing import Any

from siting.scenarios.outputs import i18n

WORDS = {
    "en": {
        "title": "Capacity, equity and robustness",
        "capacity": "{svc}: capacity use",
        "facility": "facility",
        "cap": "capacity",
        "load": "load",
        "util": "utilisation",
        "served": "served {served:,.0f}; covered but not served for lack of room {unserved:,.0f}",
        "equity": "{svc}: covered share by group",
        "group": "group",
        "before": "before (unconstrained optimum)",
        "after": "after",
        "worst": "worst group {group}: {after} (was {before}); coverage given up for the rule: {cost:,.0f}",
        "robust": "{svc}: {k} demand scenarios (noise {noise:g}, seed {seed})",
        "decay": "{svc}: gradual reach",
        "decay_text": "decayed coverage {value:,.0f} people",
        "plan": "plan",
        "worst_case": "worst case",
        "mean": "mean",
        "nominal": "on the estimates",
        "robust_plan": "robust plan ({objective} case)",
        "nominal_plan": "nominal plan",
        "unlimited": "unlimited",
        "obj_worst": "worst",
        "obj_mean": "mean",
    },
    "zh": {
        "title": "容量、公平与稳健性",
        "capacity": "{svc}：设施容量使用",
        "facility": "设施",
        "cap": "容量",
        "load": "服务量",
        "util": "利用率",
        "served": "已服务 {served:,.0f}；在服务范围内但因容量不足未获服务 {unserved:,.0f}",
        "equity": "{svc}：各组覆盖比例",
        "group": "组",
        "before": "约束前（无约束最优）",
        "after": "约束后",
        "worst": "覆盖最低的组 {group}：{after}（原为 {before}）；为此放弃的覆盖人数：{cost:,.0f}",
        "robust": "{svc}：{k} 个人口情景（波动 {noise:g}，种子 {seed}）",
        "plan": "方案",
        "worst_case": "最差情景",
        "mean": "平均",
        "nominal": "按估计人口",
        "robust_plan": "稳健方案（{objective}）",
        "nominal_plan": "名义方案",
        "unlimited": "不限",
        "obj_worst": "最差情景",
        "obj_mean": "平均情景",
        "decay": "{svc}：按距离递减计覆盖",
        "decay_text": "按距离递减计入的覆盖 {value:,.0f} 人",
    },
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f} %"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="extras"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def extras_section(summary: dict[str, Any], lang: str) -> str:
    """The section's HTML, or "" when no service used a capacity, an equity rule or robust plans."""
    w = WORDS.get(lang, WORDS["en"])
    parts: list[str] = []
    for name, rec in (summary.get("services") or {}).items():
        svc = i18n.service_name(lang, name)
        solve = (rec or {}).get("solve") or {}
        cap = solve.get("capacity")
        if cap:
            parts.append(f"<h3>{_e(w['capacity'].format(svc=svc))}</h3>")
            rows = [
                [
                    str(f["site_id"]),
                    w["unlimited"] if f["capacity"] is None else f"{f['capacity']:,.0f}",
                    f"{f['load']:,.0f}",
                    _pct(f["utilisation"]),
                ]
                for f in cap["facilities"]
            ]
            parts.append(_table([w["facility"], w["cap"], w["load"], w["util"]], rows))
            text = w["served"].format(served=cap["served_weight"], unserved=cap["covered_unserved_weight"])
            parts.append(f'<p class="note">{_e(text)}</p>')
        eq = solve.get("equity")
        if eq:
            parts.append(f"<h3>{_e(w['equity'].format(svc=svc))}</h3>")
            rows = [[g["group"], _pct(g["share_before"]), _pct(g["share_after"])] for g in eq["groups"]]
            parts.append(_table([w["group"], w["before"], w["after"]], rows))
            text = w["worst"].format(
                group=eq["worst_group"],
                after=_pct(eq["worst_share_after"]),
                before=_pct(eq["worst_share_before"]),
                cost=eq["floor_cost"] if eq.get("floor_cost") is not None else float("nan"),
            )
            parts.append(f'<p class="note">{_e(text)}</p>')
        if solve.get("decayed_coverage") is not None:
            parts.append(f"<h3>{_e(w['decay'].format(svc=svc))}</h3>")
            text = w["decay_text"].format(value=float(solve["decayed_coverage"]))
            rule = (solve.get("decay") or {}).get("text") or _decay_rule(summary, name)
            if rule:
                text += (
                    "; " + rule if lang == "en" else "；" + i18n.note(lang, f"{name}: gradual reach by {rule} (metres)")
                )
            parts.append(f'<p class="note">{_e(text)}</p>')
        rb = solve.get("robust")
        if rb:
            head = w["robust"].format(svc=svc, k=rb["samples"], noise=rb["population_noise"], seed=rb["seed"])
            parts.append(f"<h3>{_e(head)}</h3>")
            rows = [
                [
                    w["robust_plan"].format(objective=w["obj_" + rb["objective"]]),
                    f"{rb['robust_worst_case']:,.0f}",
                    f"{rb['robust_mean']:,.0f}",
                    f"{rb['robust_nominal']:,.0f}",
                ],
                [
                    w["nominal_plan"],
                    f"{rb['nominal_worst_case']:,.0f}",
                    f"{rb['nominal_mean']:,.0f}",
                    f"{rb['nominal_nominal']:,.0f}",
                ],
            ]
            parts.append(_table([w["plan"], w["worst_case"], w["mean"], w["nominal"]], rows))
    if not parts:
        return ""
    return f'<h2 id="extras">{_e(w["title"])}</h2>\n' + "\n".join(parts)


def _decay_rule(summary: dict[str, Any], name: str) -> str | None:
    """A service's gradual-reach rule as the run's note names it (``NAME: gradual reach by RULE (metres)``)."""
    head = f"{name}: gradual reach by "
    for note in (summary.get("solve") or {}).get("notes") or []:
        if str(note).startswith(head) and str(note).endswith(" (metres)"):
            return str(note)[len(head) : -len(" (metres)")]
    return None
