"""Words of the report and the map, in English and Chinese.

Names the scenario gives (services, demand groups, land types) are translated when they are among
the common ones below and shown as written otherwise. Chinese terms follow the programme's own
wording (一刻钟社区生活圈, 养老服务站, 托育点, 充电设施, 公共厕所) and GB 50180-2018.
"""

from __future__ import annotations

import math
from typing import Any

LANGS = ("en", "zh")

#: CSS font stack that renders Chinese on Linux (fonts-noto-cjk), macOS and Windows without any web font.
FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "PingFang SC", '
    '"Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", "Noto Sans", "DejaVu Sans", Arial, sans-serif'
)

SERVICES = {
    "en": {
        "elderly_care": "Elderly-care station",
        "childcare": "Childcare room",
        "ev_charging": "EV / e-bike charging",
        "public_toilet": "Public toilet",
    },
    "zh": {
        "elderly_care": "养老服务站",
        "childcare": "托育点",
        "ev_charging": "充电设施",
        "public_toilet": "公共厕所",
    },
}

GROUPS = {
    "en": {
        "residents": "residents",
        "elderly": "residents aged 60+",
        "elderly_60plus": "residents aged 60+",
        "infants": "children aged 0-3",
        "infants_0_3": "children aged 0-3",
        "ev_households": "EV-owning households",
    },
    "zh": {
        "residents": "常住居民",
        "elderly": "60岁及以上老人",
        "elderly_60plus": "60岁及以上老人",
        "infants": "0-3岁婴幼儿",
        "infants_0_3": "0-3岁婴幼儿",
        "ev_households": "电动汽车家庭",
    },
}

LAND_TYPES = {
    "en": {
        "idle_land": "idle land",
        "warehouse": "warehouse",
        "factory": "old factory",
        "commercial": "commercial space",
        "demolition_site": "cleared demolition site",
        "parking_lot": "parking lot",
        "construction_site": "construction site",
        "disused_building": "disused building",
        "industrial_land": "industrial land",
        "greenfield": "greenfield",
        "existing": "existing facility",
    },
    "zh": {
        "idle_land": "闲置土地",
        "warehouse": "仓库",
        "factory": "旧厂房",
        "commercial": "商业综合体",
        "demolition_site": "违法建筑拆后空地",
        "parking_lot": "停车场",
        "construction_site": "在建用地",
        "disused_building": "闲置建筑",
        "industrial_land": "工业用地",
        "greenfield": "未开发用地",
        "existing": "既有设施",
    },
}

REASONS = {
    "en": {
        "off_network": "farther than the snapping distance from every street",
        "no_site_in_reach": "no eligible or existing site within reach",
        "not_chosen": "a site within reach exists but was not chosen (budget or site limit)",
    },
    "zh": {
        "off_network": "距离所有道路过远，无法接入步行网络",
        "no_site_in_reach": "步行范围内没有可用地块或既有设施",
        "not_chosen": "步行范围内有可用地块，但受预算或数量限制未被选中",
    },
}

STATUS = {
    "en": {
        "OPTIMAL": "OPTIMAL (proven)",
        "FEASIBLE": "FEASIBLE (optimality not proven)",
        "NO_SOLUTION": "NO_SOLUTION (no plan found)",
        "INFEASIBLE": "INFEASIBLE",
        "UNBOUNDED": "UNBOUNDED",
        "ERROR": "ERROR",
    },
    "zh": {
        "OPTIMAL": "最优（已证明）",
        "FEASIBLE": "可行（未证明最优）",
        "NO_SOLUTION": "无解",
        "INFEASIBLE": "不可行",
        "UNBOUNDED": "无界",
        "ERROR": "错误",
    },
}

#: Column headers of the plan table (columns not listed are shown by their name).
COLUMNS = {
    "en": {
        "service": "service",
        "rank": "rank",
        "phase": "phase",
        "site_id": "site",
        "land_type": "land type",
        "area_m2": "area (m²)",
        "cost": "cost",
        "cumulative_cost": "cumulative cost",
        "demand_group": "serves",
        "covered": "newly covered",
        "cumulative_covered": "cumulative newly covered",
        "coverage_share": "coverage after",
        "drop_one_loss": "lost if dropped",
        "substitute": "best substitute",
        "best_substitute": "best substitute",
        "reason": "why",
        "weighted_gain": "weighted gain",
        "covered_after": "covered after",
        "cumulative_coverage_share": "coverage after",
        "substitute_recovers": "substitute recovers",
        "substitute_cost": "substitute cost",
        "substitute_phase": "substitute's phase",
        "new_sites": "new sites",
        "demand_id": "demand point",
        "people": "people",
        "nearest_open_m": "nearest open facility (m)",
        "lon": "longitude",
        "lat": "latitude",
        "stability": "stability (share of variants)",
    },
    "zh": {
        "service": "服务设施",
        "rank": "排序",
        "phase": "实施阶段",
        "site_id": "地块编号",
        "land_type": "用地类型",
        "area_m2": "面积（平方米）",
        "cost": "投资",
        "cumulative_cost": "累计投资",
        "demand_group": "服务人群",
        "covered": "新增覆盖人数",
        "cumulative_covered": "累计新增覆盖",
        "coverage_share": "覆盖率（累计）",
        "drop_one_loss": "若取消损失人数",
        "substitute": "最佳替代地块",
        "best_substitute": "最佳替代地块",
        "reason": "选址理由",
        "weighted_gain": "加权新增覆盖",
        "covered_after": "累计覆盖人数",
        "cumulative_coverage_share": "覆盖率（累计）",
        "substitute_recovers": "替代地块可挽回",
        "substitute_cost": "替代地块投资",
        "substitute_phase": "替代地块阶段",
        "new_sites": "新增设施",
        "demand_id": "需求点",
        "people": "人数",
        "nearest_open_m": "最近设施距离（米）",
        "lon": "经度",
        "lat": "纬度",
        "stability": "稳定性（选中的方案比例）",
    },
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Facility siting plan: 15-minute community life circle",
        "subtitle": "Scenario {name}",
        "headline": "Headline figures",
        "coverage_caption": "People of each service's group within reach, before and after the plan",
        "service": "Service",
        "group": "Serves",
        "reach": "Reach",
        "people": "People",
        "before": "Covered before",
        "after": "Covered after",
        "share_before": "Coverage before",
        "share_after": "Coverage after",
        "new_sites": "New sites",
        "cost": "Cost",
        "budget": "Budget",
        "budget_used": "Budget used",
        "budget_caption": "Cost against each budget",
        "budget_name": "Budget",
        "total_budget": "Total budget (all services)",
        "service_budget": "{service}",
        "phase_budget": "Phase {phase}",
        "spent": "Spent",
        "left": "Left",
        "phases": "What each phase buys",
        "phase": "Phase",
        "sites": "Sites",
        "newly_covered": "Newly covered",
        "no_phases": "The plan has no phases: every site is built in one go.",
        "map": "Map",
        "joint_model": "all services (joint model)",
        "complete_circle": "People ({group}) with every service within reach",
        "group_caption": "Coverage of every demand group by each service (before → after)",
        "map_alt": "Map of the plan: streets, existing facilities, chosen sites by service and rank, covered and uncovered residents",
        "plan": "Ranked site plan",
        "plan_caption": "One row per chosen (site, service), in the plan's rank order; every column of plan.csv but the coordinates",
        "no_plan": "The plan opens no new site.",
        "stability_caption": "Stability: the share of the {n} solved variants of the sensitivity analysis in {folder} "
        "(reaches, populations and costs perturbed) whose plan chooses the same site for the same service",
        "uncovered": "Residents still uncovered",
        "uncovered_caption": "People outside the reach of every facility of the service after the plan, by {area}",
        "area": "Area",
        "demand_point": "demand point",
        "demand_points": "Demand points",
        "main_reason": "Main reason",
        "all_covered": "Everyone with a need for this service is within reach after the plan.",
        "more_areas": "{k} more areas with {people} people",
        "assumptions": "Assumptions",
        "distance": "Distances",
        "distance_network": "walking distance over the street network",
        "distance_euclidean": "straight line",
        "walking_speed": "Walking speed",
        "max_snap": "Points farther than {m} m from every street count as unreachable",
        "reach_row": "{service}: {group} within {metres} m ({minutes} min walk)",
        "costs": "Costs by land type",
        "default_cost": "any other land type",
        "min_area": "smallest plot",
        "population": "Population estimates",
        "population_row": "{group}: column {column} of the demand layer, {people} in all",
        "scenario_notes": "Scenario description",
        "solve": "Solve record",
        "solver": "Solver",
        "model": "Model",
        "file": "File",
        "version": "Version",
        "status": "Status",
        "objective": "Objective",
        "bound": "Bound",
        "gap": "Gap",
        "time": "Time (s)",
        "verified": "Checked by the evaluator",
        "yes": "yes",
        "no": "no",
        "settings": "Solver settings: time limit {limit}, relative gap {gap}, threads {threads}, seed {seed}",
        "no_limit": "none",
        "inputs": "Input files (SHA-256)",
        "versions": "Software versions",
        "warnings": "Warnings and notes",
        "generated": "Written by siting {version}. Opens offline: every image and style is inside this file.",
        "unit_people": "people",
        "minutes": "min",
        "metres": "m",
        "n_a": "-",
        "not_solved": "not solved",
        # map
        "map_overview": "All services: chosen sites (numbers = rank) and residents by services within reach",
        "map_all": "all services",
        "map_some": "some services",
        "map_none": "no service",
        "map_covered": "covered",
        "map_uncovered": "not covered",
        "map_existing": "existing",
        "map_chosen": "new",
        "map_street": "streets",
        "map_compact": "Far-apart areas are drawn side by side (dashed boxes): each box is to scale, the distances between boxes are not",
        "map_service_title": "{service}: coverage {before} → {after}",
        "map_buildings": "buildings / blocks",
        "map_water": "water",
        "map_green": "parks / green",
        "map_plot": "chosen plot",
        "map_inset": "where the areas lie",
        # plan.xlsx and the coordinate note
        "sheet_plan": "Plan",
        "sheet_phase": "Phase {phase}",
        "sheet_uncovered": "Uncovered",
        "sheet_about": "About",
        "about_item": "Item",
        "about_value": "Value",
        "about_scenario": "Scenario",
        "about_coordinates": "Coordinates of the lon/lat columns",
        "about_currency": "Currency of costs",
        "about_sheets": "Sheets: the ranked plan, one per phase, one per service, the uncovered demand points",
        "coords_note": "Longitude and latitude in plan.csv and plan.xlsx are {system}.",
        "lon_in": "longitude ({system})",
        "lat_in": "latitude ({system})",
        "cost_unit": "Costs in {unit}.",
        "kmh": "km/h",
        "seconds": "s",
        "skipped": "skipped",
        # interactive map of report.html
        "imap_caption": "Drag to move, wheel or +/− to zoom, double-click to reset; hover a site for its "
        "rank, click it for its rows of the plan. Drawn from the scenario's own layers: works offline.",
        "imap_cells": "{points} demand points are drawn as {side} m squares, each in the colour of most of its "
        "residents; the chosen sites are drawn one by one.",
        "imap_zoom_in": "zoom in",
        "imap_zoom_out": "zoom out",
        "imap_reset": "whole area",
        "imap_site": "Site",
        "imap_rank": "Rank",
        "imap_reason": "Why",
        # console summary of `siting run`
        "con_service": "{service}: {sites}{cost}; {group} within {reach} m: {before} -> {after}",
        "con_site_one": "{n} new site",
        "con_site_many": "{n} new sites",
        "con_cost": ", cost {cost}",
        "con_share": " ({share} %)",
        "con_served": "; served within capacity {served} ({unserved} within reach but without room)",
        "con_status": "; {status}, {verified}",
        "con_verified": "verified",
        "con_not_verified": "NOT verified",
        "con_joint": "joint plan: {n} new facilities on {plots} plots, cost {cost}",
        "con_of_budget": " of {budget}",
        "con_objective": "; {objective} = {value} ({status}",
        "con_gap": ", gap {gap}",
        "con_close": ")",
        "con_phase": "  phase {phase}: {n} new facilities, cost {cost}",
        "con_alternatives": "alternatives: {found} distinct plans within {tolerance} % of the best",
        "con_checks_passed": "checks passed",
        "con_checks_failed": "checks FAILED: {failed} (see summary.json)",
        "con_nothing": "nothing to build: the plan opens no new facility (the existing ones give this coverage)",
        "con_peak_memory": "peak memory {mb} MB (this process and any solver subprocess)",
        "con_written": "plan written to {out}",
        "prog_done": "{label}: done in {seconds} s",
        "prog_seconds": "{label} ({seconds} s)",
        "prog_note": "note: {text}",
        "rep_written": "written: {files}",
    },
    "zh": {
        "title": "一刻钟社区生活圈 设施选址方案",
        "subtitle": "情景：{name}",
        "headline": "主要指标",
        "coverage_caption": "规划前后，各类设施步行范围内覆盖的服务人群",
        "service": "服务设施",
        "group": "服务人群",
        "reach": "步行范围",
        "people": "人数",
        "before": "规划前覆盖",
        "after": "规划后覆盖",
        "share_before": "规划前覆盖率",
        "share_after": "规划后覆盖率",
        "new_sites": "新增设施",
        "cost": "投资",
        "budget": "预算",
        "budget_used": "预算使用",
        "budget_caption": "投资与各项预算",
        "budget_name": "预算",
        "total_budget": "总预算（全部设施）",
        "service_budget": "{service}",
        "phase_budget": "{phase} 阶段",
        "spent": "已用",
        "left": "结余",
        "phases": "各阶段建设内容",
        "phase": "阶段",
        "sites": "地块",
        "newly_covered": "新增覆盖",
        "no_phases": "方案未分阶段：所有地块一次建成。",
        "map": "地图",
        "joint_model": "全部设施（联合模型）",
        "complete_circle": "各类设施均可步行到达的{group}（完整生活圈）",
        "group_caption": "各类设施对各类人群的覆盖率（规划前 → 规划后）",
        "map_alt": "方案地图：道路、既有设施、按设施类型和排序标注的新选地块、已覆盖与未覆盖居民",
        "plan": "选址方案（按优先级排序）",
        "plan_caption": "每行为一个选中的（地块，设施），按方案排序列出；除坐标外包含 plan.csv 的全部字段",
        "no_plan": "方案未新增任何设施。",
        "stability_caption": "稳定性：{folder} 中敏感性分析（步行范围、人口与造价扰动）的 {n} 个已求解方案里，"
        "为同一设施选中同一地块的方案所占比例",
        "uncovered": "仍未覆盖的居民",
        "uncovered_caption": "规划后仍在该类设施步行范围之外的人数，按{area}统计",
        "area": "片区",
        "demand_point": "需求点",
        "demand_points": "需求点数",
        "main_reason": "主要原因",
        "all_covered": "规划后，该设施的服务人群全部在步行范围之内。",
        "more_areas": "另有 {k} 个片区，共 {people} 人",
        "assumptions": "基本假设",
        "distance": "距离计算",
        "distance_network": "沿道路网络的步行距离",
        "distance_euclidean": "直线距离",
        "walking_speed": "步行速度",
        "max_snap": "距离最近道路超过 {m} 米的点视为不可达",
        "reach_row": "{service}：{group}，{metres} 米以内（步行约 {minutes} 分钟）",
        "costs": "各用地类型的投资",
        "default_cost": "其他用地类型",
        "min_area": "最小地块面积",
        "population": "人口估算",
        "population_row": "{group}：需求图层的 {column} 字段，合计 {people} 人",
        "scenario_notes": "情景说明",
        "solve": "求解记录",
        "solver": "求解器",
        "model": "模型",
        "file": "文件",
        "version": "版本",
        "status": "状态",
        "objective": "目标值",
        "bound": "界",
        "gap": "间隙",
        "time": "用时（秒）",
        "verified": "独立核验",
        "yes": "是",
        "no": "否",
        "settings": "求解设置：时间上限 {limit}，相对间隙 {gap}，线程 {threads}，随机种子 {seed}",
        "no_limit": "无",
        "inputs": "输入文件（SHA-256）",
        "versions": "软件版本",
        "warnings": "提示与说明",
        "generated": "由 siting {version} 生成。本文件离线可读：所有图片与样式均内嵌于文件中。",
        "unit_people": "人",
        "minutes": "分钟",
        "metres": "米",
        "n_a": "-",
        "not_solved": "未求解",
        # map
        "map_overview": "全部设施：新选地块（数字为排序）与居民可步行到达的设施类型",
        "map_all": "全部设施可达",
        "map_some": "部分设施可达",
        "map_none": "均不可达",
        "map_covered": "已覆盖",
        "map_uncovered": "未覆盖",
        "map_existing": "既有",
        "map_chosen": "新增",
        "map_street": "道路",
        "map_compact": "相距较远的片区并排绘制（虚线框）：框内按比例，框间距离不按比例",
        "map_service_title": "{service}：覆盖率 {before} → {after}",
        "map_buildings": "建筑 / 街坊",
        "map_water": "水域",
        "map_green": "公园 / 绿地",
        "map_plot": "选中地块",
        "map_inset": "各片区位置",
        # plan.xlsx and the coordinate note
        "sheet_plan": "选址方案",
        "sheet_phase": "{phase} 阶段",
        "sheet_uncovered": "未覆盖居民",
        "sheet_about": "说明",
        "about_item": "项目",
        "about_value": "内容",
        "about_scenario": "情景",
        "about_coordinates": "经纬度列的坐标系",
        "about_currency": "投资货币单位",
        "about_sheets": "工作表：排序后的选址方案、各阶段、各类设施、未覆盖需求点",
        "coords_note": "plan.csv 与 plan.xlsx 中的经纬度采用{system}。",
        "lon_in": "经度（{system}）",
        "lat_in": "纬度（{system}）",
        "cost_unit": "投资单位：{unit}。",
        "kmh": "公里/小时",
        "seconds": "秒",
        "skipped": "跳过",
        # interactive map of report.html
        "imap_caption": "拖动平移，滚轮或 +/− 缩放，双击复原；鼠标悬停地块可见排序，点击可见其在方案中的各行。"
        "地图由情景自身的图层绘制，离线可用。",
        "imap_cells": "{points} 个需求点按 {side} 米方格显示，每格取其多数居民的颜色；选中的地块逐一显示。",
        "imap_zoom_in": "放大",
        "imap_zoom_out": "缩小",
        "imap_reset": "全图",
        "imap_site": "地块",
        "imap_rank": "排序",
        "imap_reason": "选址理由",
        # console summary of `siting run`
        "con_service": "{service}：{sites}{cost}；{reach} 米内的{group}：{before} -> {after}",
        "con_site_one": "新增 {n} 处",
        "con_site_many": "新增 {n} 处",
        "con_cost": "，投资 {cost}",
        "con_share": "（{share}%）",
        "con_served": "；容量内实际服务 {served}（另有 {unserved} 在服务范围内但设施已满）",
        "con_status": "；{status}，{verified}",
        "con_verified": "已独立核验",
        "con_not_verified": "未通过核验",
        "con_joint": "联合方案：在 {plots} 个地块上新增 {n} 处设施，投资 {cost}",
        "con_of_budget": "（预算 {budget}）",
        "con_objective": "；{objective} = {value}（{status}",
        "con_gap": "，间隙 {gap}",
        "con_close": "）",
        "con_phase": "  {phase} 阶段：新增 {n} 处设施，投资 {cost}",
        "con_alternatives": "备选方案：与最优相差 {tolerance}% 以内的不同方案 {found} 个",
        "con_checks_passed": "全部检查通过",
        "con_checks_failed": "检查未通过：{failed}（见 summary.json）",
        "con_nothing": "无需新建：方案未新增设施（既有设施已达到此覆盖）",
        "con_peak_memory": "内存峰值 {mb} MB（本进程及求解器子进程）",
        "con_written": "方案已写入 {out}",
        "prog_done": "{label}：完成，用时 {seconds} 秒",
        "prog_seconds": "{label}（{seconds} 秒）",
        "prog_note": "提示：{text}",
        "rep_written": "已写入：{files}",
    },
}


#: Models of the solve record (summary.json ``model``).
MODELS = {
    "en": {
        "mclp": "maximal covering (MCLP)",
        "lscp": "set covering (LSCP)",
        "pmedian": "p-median",
        "pcenter": "p-center",
    },
    "zh": {
        "mclp": "最大覆盖模型（MCLP）",
        "lscp": "集合覆盖模型（LSCP）",
        "pmedian": "p-中位模型",
        "pcenter": "p-中心模型",
    },
}

#: Objectives of a scenario (``objective``).
OBJECTIVES = {
    "en": {
        "max_coverage": "max_coverage",
        "complete_circle": "complete_circle",
        "pmedian": "pmedian",
        "min_cost": "min_cost",
        "phased": "phased",
    },
    "zh": {
        "max_coverage": "最大覆盖人数",
        "complete_circle": "完整生活圈人数",
        "pmedian": "总步行距离最短",
        "min_cost": "投资最省",
        "phased": "分阶段覆盖",
    },
}

#: Stages of a joint solve (summary.json ``solve.stages[].name``): best plan, then the cheapest and the
#: shortest-walk plan among the equally good ones.
STAGES = {
    "en": {
        "primary": "stage 1: the best plan",
        "cost": "stage 2: the cheapest of the best plans",
        "distance": "stage 3: the shortest walks among them",
    },
    "zh": {
        "primary": "第 1 步：求最优方案",
        "cost": "第 2 步：同等效果中投资最省",
        "distance": "第 3 步：其中步行距离最短",
    },
}

#: Human-readable notes a run records (summary.json ``budget_split``, warnings) in both languages: an
#: English note matching a pattern is shown in Chinese with the captured parts filled in.
NOTES: dict[str, dict[str, str]] = {
    "en": {
        "split_joint": "none: the joint multi-service model shares budget.total{phases} and the plots between the "
        "services; nothing is split in advance",
        "split_joint_phases": ", the phase budgets",
        "split_advance": "budget.total is split across services in advance, in proportion to weight x people served; "
        "the joint multi-service model (siting run without --split) optimises the split",
        "stage_skipped_time": "time limit reached",
        "stage_skipped_distance": "a service has no walking distances",
    },
    "zh": {
        "split_joint": "预算不预先分配：联合多设施模型在各类设施之间统筹总预算{phases}和地块",
        "split_joint_phases": "、各阶段预算",
        "split_advance": "总预算按权重 × 服务人数预先分配给各类设施；联合多设施模型（siting run 不加 --split）可优化这一分配",
        "stage_skipped_time": "已达时间上限",
        "stage_skipped_distance": "有设施缺少步行距离",
    },
}


def note(lang: str, message: Any) -> str:
    """A recorded English note in ``lang``: translated when it is one of :data:`NOTES`, else as written."""
    msg = str(message)
    if lang == "en":
        return msg
    en, out = NOTES["en"], NOTES[lang]
    for with_phases in (True, False):
        phases = en["split_joint_phases"] if with_phases else ""
        if msg == en["split_joint"].format(phases=phases):
            return out["split_joint"].format(phases=out["split_joint_phases"] if with_phases else "")
    for key in ("split_advance", "stage_skipped_time", "stage_skipped_distance"):
        if msg == en[key]:
            return out[key]
    from siting.scenarios.outputs.note_text import translated  # the notes and warnings of the code

    return translated(lang, msg)


#: Names of the lon/lat systems of ``output.coordinates``.
COORDINATES = {
    "en": {
        "wgs84": "WGS-84 (GPS, OpenStreetMap)",
        "gcj02": "GCJ-02 (Gaode/AMap, Tencent maps)",
        "bd09": "BD-09 (Baidu maps)",
    },
    "zh": {
        "wgs84": "WGS-84 坐标（GPS、OpenStreetMap）",
        "gcj02": "GCJ-02 坐标（高德、腾讯地图）",
        "bd09": "BD-09 坐标（百度地图）",
    },
}

#: Units of money: CNY reads 元 and, from 10,000 up, 万元 in Chinese; other currencies by their code.
CURRENCY_UNITS = {
    "en": {"CNY": "CNY"},
    "zh": {"CNY": "元", "CNY_10K": "万元", "EUR": "欧元", "USD": "美元"},
}


def check_lang(lang: str | None) -> str:
    """``en`` or ``zh``; anything else raises :class:`models.errors.ScenarioError`."""
    from siting.models.errors import ScenarioError

    if lang is None:
        return "en"
    clean = str(lang).strip().lower()
    if clean in ("zh-cn", "zh_cn", "cn", "chinese"):
        clean = "zh"
    if clean not in LANGS:
        raise ScenarioError(f"--lang {lang!r} is not a report language; choose en or zh")
    return clean


def text(lang: str, key: str, **fields: Any) -> str:
    """The sentence ``key`` in ``lang``, with ``fields`` filled in."""
    template = TEXT[lang].get(key, TEXT["en"][key])
    return template.format(**fields) if fields else template


def _lookup(table: dict[str, dict[str, str]], lang: str, key: Any) -> str:
    key = str(key)
    found = table[lang].get(key)
    if found is not None:
        return found
    return key.replace("_", " ") if lang == "en" else key


def service_name(lang: str, key: Any) -> str:
    return _lookup(SERVICES, lang, key)


def group_name(lang: str, key: Any) -> str:
    return _lookup(GROUPS, lang, key)


def land_type_name(lang: str, key: Any) -> str:
    return _lookup(LAND_TYPES, lang, key)


def reason_name(lang: str, key: Any) -> str:
    return REASONS[lang].get(str(key), str(key))


def status_name(lang: str, key: Any) -> str:
    return STATUS[lang].get(str(key), str(key))


def column_name(lang: str, key: Any) -> str:
    return COLUMNS[lang].get(str(key), str(key).replace("_", " "))


def model_name(lang: str, key: Any) -> str:
    return MODELS[lang].get(str(key), str(key))


def objective_name(lang: str, key: Any) -> str:
    return OBJECTIVES[lang].get(str(key), str(key))


def stage_name(lang: str, key: Any) -> str:
    return STAGES[lang].get(str(key), str(key))


def coordinates_name(lang: str, system: Any) -> str:
    return COORDINATES[lang].get(str(system), str(system))


def currency_unit(lang: str, currency: Any) -> str:
    """The unit costs are written in: ``元`` for CNY in Chinese, else the ISO code (``CNY``, ``EUR``)."""
    code = str(currency or "CNY")
    return CURRENCY_UNITS[lang].get(code, code)


def money(lang: str, value: Any, currency: Any = "CNY") -> str:
    """A cost with its currency: ``2,400,000 CNY``; in Chinese ``240 万元`` (from 10,000 元 up) or ``800 元``.

    ``-`` for a missing value. The amount is never rounded to less than 0.01 万元 (100 元).
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(v):
        return "-"
    code = str(currency or "CNY")
    if lang == "zh" and code == "CNY" and abs(v) >= 10_000:
        amount = f"{v / 10_000:,.2f}".rstrip("0").rstrip(".")
        return f"{amount} {CURRENCY_UNITS['zh']['CNY_10K']}"
    return f"{v:,.0f} {currency_unit(lang, code)}"
