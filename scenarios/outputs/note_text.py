"""The notes and warnings a run records, in Chinese: one catalogue of English patterns and their translations.

The code writes its notes in English (summary.json keeps them as written, for scripts and for
``siting report`` of older runs). Each common note has an entry here: an English pattern whose named
parts (numbers, ids, field names) are captured and put, unchanged, into the Chinese sentence. A
message of several notes joined by ``"; "`` is translated part by part; a note without an entry is
shown as written (a new note without one is a gap in this catalogue, not an error).

:func:`translated` is what :func:`siting.scenarios.outputs.i18n.note` falls back to, and what the run
uses to write the ``*_zh`` fields of summary.json (:func:`chinese_fields`).
"""

from __future__ import annotations

import re
from typing import Any

#: key -> (English pattern, Chinese sentence). The pattern must match the whole note; the Chinese
#: sentence names every captured part, so no number or id is lost in translation.
PATTERNS: dict[str, tuple[str, str]] = {
    # how the plan was phased (summary.json ``phasing``)
    "phasing_rephased": (
        (
            r"each site opens in the earliest phase whose budgets allow it, most valuable first \(the objective "
            r"values only the end state, so the solver's phases were arbitrary\)"
        ),
        "每处设施安排在预算允许的最早阶段，价值高者优先（目标只看最终状态，求解器给出的阶段没有意义）",
    ),
    "phasing_as_solved": (r"as solved", "按求解结果"),
    # a service solved with gradual reach (``solve.notes``): its rule
    "decay_rule": (
        r"(?P<service>\S+): gradual reach by (?P<rule>step table|linear): (?P<levels>.+) \(metres\)",
        "{service}：按距离递减计覆盖（{rule}）：{levels}（米）",
    ),
    # where a service's budget came from (``budget_source``)
    "budget_shared": (r"none \(shared budgets only\)", "无（只用共享预算）"),
    "budget_own": (r"budget\.per_service\.(?P<name>\S+)", "专项预算 budget.per_service.{name}"),
    "budget_none": (r"none", "无"),
    "budget_split_share": (
        (
            r"(?P<pct>[\d.]+) % of budget\.total (?P<total>[\d,.]+) after the per-service budgets "
            r"\(split in proportion to weight x people served\)"
        ),
        "扣除专项预算后总预算 budget.total {total} 的 {pct}%（按权重 × 服务人数分配）",
    ),
    "budget_share": (
        r"(?P<pct>[\d.]+) % of budget\.total (?P<total>[\d,.]+) \(split in proportion to weight x people served\)",
        "总预算 budget.total {total} 的 {pct}%（按权重 × 服务人数分配）",
    ),
    # per-service notes
    "max_sites_zero": (r"max_sites is 0: no new site is planned", "max_sites 为 0：不规划新设施"),
    "needs_more_sites": (
        r"covering everything coverable needs (?P<n>\d+) new sites, more than max_sites = (?P<limit>\d+)",
        "覆盖全部可覆盖居民需要新增 {n} 处设施，超过 max_sites = {limit}",
    ),
    "costs_more_than_own": (
        r"covering everything coverable costs (?P<cost>[\d,.]+), more than budget\.per_service (?P<own>[\d,.]+)",
        "覆盖全部可覆盖居民需投资 {cost}，超过专项预算 budget.per_service {own}",
    ),
    "costs_more_than_share": (
        r"covering everything coverable costs (?P<cost>[\d,.]+), more than its share of budget\.total (?P<own>[\d,.]+)",
        "覆盖全部可覆盖居民需投资 {cost}，超过其在总预算 budget.total 中的份额 {own}",
    ),
    "no_cost_min_cost": (
        r"some eligible sites have no cost: costs are not reported; min_cost finds the fewest sites instead",
        "部分可选地块没有造价：不报告投资；min_cost 改为求最少设施数",
    ),
    "no_cost": (r"some eligible sites have no cost: costs are not reported", "部分可选地块没有造价：不报告投资"),
    "max_sites_capped": (
        r"max_sites = (?P<m>\d+) exceeds the (?P<n>\d+) eligible sites: at most (?P<k>\d+)",
        "max_sites = {m} 超过可选地块数 {n}：最多 {k} 处",
    ),
    "capacity_ignored": (
        r"capacity is used by the pmedian objective only; ignored",
        "capacity 只用于 pmedian 目标；此处忽略",
    ),
    # the plan as a whole, alternatives
    "least_cost_short": (
        r"least cost of covering everyone coverable is (?P<cost>[\d,.]+); budget\.total is (?P<b>[\d,.]+) \(not enough\)",
        "覆盖全部可覆盖居民的最低投资为 {cost}；总预算 budget.total 为 {b}（不足）",
    ),
    "least_cost": (
        r"least cost of covering everyone coverable is (?P<cost>[\d,.]+); budget\.total is (?P<b>[\d,.]+)",
        "覆盖全部可覆盖居民的最低投资为 {cost}；总预算 budget.total 为 {b}",
    ),
    "few_alternatives": (
        r"only (?P<n>\d+) distinct plans lie within the tolerance",
        "容差范围内只有 {n} 个不同方案",
    ),
    # the solver
    "gap_open": (r"stopped before the gap closed", "求解在间隙闭合前停止"),
    "not_proven": (r"stopped before optimality was proven", "求解在证明最优前停止"),
    "no_time_to_build": (
        r"the time limit was used up before the model could be built",
        "模型建立完成前时间上限已用完",
    ),
    "greedy_kept": (
        r"the time limit stopped the solver; the greedy start is kept",
        "时间上限使求解器停止；保留贪心初始方案",
    ),
    "highs_warm_start": (r"HiGHS refused the warm start", "HiGHS 未接受初始解"),
    # warnings about the scenario and its layers
    "phases_ignored": (
        r"budget\.phases is used by the joint multi-service model \(siting run without --split\); it is ignored here",
        "budget.phases 只用于联合多设施模型（siting run 不加 --split）；此处忽略",
    ),
    "unknown_service_value": (
        r"layers\.existing\.service_values\.(?P<key>\S+): no service of that name; it is ignored",
        "layers.existing.service_values.{key}：没有这一名称的服务设施；已忽略",
    ),
    "no_existing_match": (
        (
            r"layers\.existing: no facility matches a service \(values of column (?P<col>.+) found: (?P<found>.+)\); "
            r"name them like the services or map them with service_values"
        ),
        (
            "layers.existing：没有现有设施与任一服务设施对应（列 {col} 的取值：{found}）；"
            "请按服务设施命名，或用 service_values 对应"
        ),
    ),
    "unknown_cost_types": (
        (
            r"services\.(?P<name>[^.\s]+)\.cost_by_land_type: land types (?P<types>.+) do not occur in the sites layer "
            r"\(land types there: (?P<there>.+)\)"
        ),
        "services.{name}.cost_by_land_type：用地类型 {types} 不在地块图层中（图层中的用地类型：{there}）",
    ),
    "unknown_eligible_types": (
        r"services\.(?P<name>[^.\s]+)\.eligible_land_types: (?P<types>.+) do not occur in the sites layer",
        "services.{name}.eligible_land_types：{types} 不在地块图层中",
    ),
    "repaired_geometries": (
        r"layers\.(?P<role>\w+) \((?P<file>.+)\): repaired invalid geometries at ids (?P<ids>.+)",
        "layers.{role}（{file}）：已修复编号为 {ids} 的无效几何",
    ),
    "converted_crs": (
        r"layers\.(?P<role>\w+) \((?P<file>.+)\): converted (?P<n>\d+) features from (?P<src>.+) to WGS 84",
        "layers.{role}（{file}）：已将 {n} 个要素从 {src} 转换为 WGS 84",
    ),
    "demand_off_streets": (
        (
            r"(?P<n>\d+) demand points are farther than (?P<m>[\d.,]+) m from any street and count as unreachable: "
            r"(?P<ids>.+)"
        ),
        "{n} 个需求点距最近道路超过 {m} 米，按不可达计：{ids}",
    ),
    "sites_off_streets": (
        r"(?P<n>\d+) sites are farther than (?P<m>[\d.,]+) m from any street and cannot serve anyone: (?P<ids>.+)",
        "{n} 个地块距最近道路超过 {m} 米，不能服务任何人：{ids}",
    ),
    "empty_geometries": (r"(?P<n>\d+) empty or missing geometries skipped", "已跳过 {n} 个空的或缺失的几何"),
    # warnings about the outputs
    "labels_dropped": (
        r"map\.png: no free place for the rank label\(s\) (?P<ranks>.+); see the plan table for every rank",
        "map.png：排序标注 {ranks} 没有空位，未画出；全部排序见方案表",
    ),
    "no_cjk_font": (
        (
            r"map\.png: no CJK font found \(reinstall siting with its dependencies, which bring the font "
            r"pylopdf-fonts-zh-cn, or install fonts-noto-cjk\); the map's labels are written in English"
        ),
        (
            "map.png：未找到中文字体（请连同依赖重新安装 siting，其依赖 pylopdf-fonts-zh-cn 带有字体，"
            "或安装 fonts-noto-cjk）；地图标注改用英文"
        ),
    ),
    "gpkg_no_geometry": (
        r"plan\.gpkg: chosen sites without a geometry in the sites layer: (?P<ids>.+)",
        "plan.gpkg：以下选中地块在地块图层中没有几何：{ids}",
    ),
    "gpkg_pbf_streets": (
        r"plan\.gpkg: the streets come from an \.osm\.pbf extract and are not copied into the streets layer",
        "plan.gpkg：道路来自 .osm.pbf 数据，未复制到道路图层",
    ),
    "gpkg_missing": (
        r"(?P<path>.+) not found: the map shows the chosen sites only; rerun `siting run` for the full map",
        "未找到 {path}：地图只显示选中的地块；重新运行 `siting run` 可得完整地图",
    ),
    # progress lines of a run (step names and the news from inside long steps)
    "step_reading_layers": (r"reading layers", "读取图层"),
    "step_network": (r"building the street network", "构建步行道路网络"),
    "step_walking": (r"walking distances", "计算步行距离"),
    "step_straight": (r"straight-line distances", "计算直线距离"),
    "step_ranking": (r"ranking the plan", "方案排序"),
    "step_reading_extract": (r"reading (?P<file>\S+\.pbf)", "读取 {file}"),
    "step_solving_alts": (
        (
            r"solving (?P<how>jointly|each service on its own) \((?P<objective>\w+), (?P<s>\d+) services, "
            r"(?P<n>\d+) demand x (?P<m>\d+) plots(?:, phases (?P<phases>[^)]+))?\) and (?P<k>\d+) alternatives "
            r"within (?P<tol>[\d.]+) %"
        ),
        "{how}（{objective}，{s} 类设施，{n} 个需求点 × {m} 个地块{phases}），另求 {k} 个差距在 {tol}% 以内的备选方案",
    ),
    "step_solving": (
        (
            r"solving (?P<how>jointly|each service on its own) \((?P<objective>\w+), (?P<s>\d+) services, "
            r"(?P<n>\d+) demand x (?P<m>\d+) plots(?:, phases (?P<phases>[^)]+))?\)"
        ),
        "{how}（{objective}，{s} 类设施，{n} 个需求点 × {m} 个地块{phases}）",
    ),
    "step_solving_alone": (
        r"solving (?P<service>\S+) alone \((?P<options>.+), (?P<n>\d+) demand x (?P<m>\d+) sites\)",
        "单独求解{service}（{options}，{n} 个需求点 × {m} 个地块）",
    ),
    "step_solving_rest": (
        r"solving the other (?P<k>\d+) service\(s\) \((?P<objective>\w+), (?P<n>\d+) demand x (?P<m>\d+) plots\)",
        "联合求解其余 {k} 类设施（{objective}，{n} 个需求点 × {m} 个地块）",
    ),
    "status_joint_model": (
        r"joint model: (?P<r>[\d,]+) rows, (?P<c>[\d,]+) columns, (?P<nz>[\d,]+) nonzeros",
        "联合模型：{r} 行，{c} 列，{nz} 个非零元",
    ),
    "status_greedy": (
        r"greedy start: (?P<objective>\w+) (?P<v>\S+) in (?P<sec>[\d.]+) s",
        "贪心初始方案：{objective} {v}，用时 {sec} 秒",
    ),
    "status_stage": (
        (
            r"(?P<stage>primary|cost|distance) stage: (?P<status>[A-Z_]+), objective (?P<obj>\S+), "
            r"bound (?P<bound>\S+), gap (?P<gap>\S+(?: %)?), (?P<sec>[\d.]+) s"
        ),
        "{stage} —— {status}，目标值 {obj}，界 {bound}，间隙 {gap}，{sec} 秒",
    ),
    # how the stages of a joint solve ended (``solve.message``)
    "stage_stopped": (
        r"(?P<stage>primary|cost|distance) stage stopped by the (?P<limit>\w+) limit",
        "{stage}：因达到{limit}上限而停止",
    ),
    "stage_ended": (
        r"(?P<stage>primary|cost|distance) stage ended (?P<status>[A-Z_]+) \((?P<limit>\w+) limit\)",
        "{stage}：结束时为{status}（{limit}上限）",
    ),
    "stage_skipped": (r"(?P<stage>cost|distance) stage skipped: time limit reached", "{stage}：未运行，已达时间上限"),
    "stage_skipped_unproven": (
        (
            r"(?:(?P<stage>distance) stage skipped: )?the cost stage stopped before its proof, and the "
            r"walking-distance model is larger still"
        ),
        "{stage}未运行：投资最省一步未能证明最优，而步行距离模型更大",
    ),
    # a solver stopped at the deadline because it overran its own time limit (``solve.message``)
    "solver_overran_presolve": (
        r"(?P<solver>HiGHS) did not stop at its time limit \(it checks the clock rarely in presolve\)",
        "{solver} 未在时间上限时停止（它在预处理中很少检查时钟）",
    ),
    "solver_overran": (r"(?P<solver>HiGHS|SCIP|CP-SAT) did not stop at its time limit", "{solver} 未在时间上限时停止"),
    "run_abandoned": (r"its run was abandoned", "该次求解已放弃"),
    "start_kept": (r"the plan kept is the start it was given", "保留其初始方案"),
    "status_tiles": (
        (
            r"walking distances: (?P<t>[\d,]+) of (?P<n>[\d,]+) tiles, (?P<p>[\d,]+) pairs within "
            r"(?P<m>[\d,]+) m"
        ),
        "步行距离：已完成 {t} / {n} 个分块，{m} 米内 {p} 对",
    ),
    # warnings GDAL / pyogrio give while a layer is read, re-worded (unknown ones are quoted as GDAL wrote them)
    "gdal_while_reading": (
        r"(?P<where>.+): reading the file: (?P<gdal>.+)",
        "{where}：读取文件时 GDAL 提示：{gdal}",
    ),
}

#: GDAL / pyogrio warnings siting re-words (the ``gdal`` part of a reading note), English -> Chinese.
GDAL_PATTERNS: dict[str, tuple[str, str]] = {
    "unclosed_ring": (r"Non closed ring detected\..*", "检测到未闭合的环（已自动闭合）"),
    "measured": (
        r"Measured \(M\) geometry types are not supported\. Original type '(?P<t>[^']+)' is converted to '(?P<u>[^']+)'",
        "不支持带 M 值的几何类型：{t} 已转换为 {u}",
    ),
    "no_features": (r"Layer '(?P<layer>[^']+)' does not have any features to read", "图层 {layer} 没有要素"),
    "several_fids": (
        r"Several features with id = (?P<fid>\S+) have been found\..*",
        "发现多个 id = {fid} 的要素，读取时已改用新的编号",
    ),
    "organize_polygons": (
        r"organizePolygons\(\) received .*",
        "多边形的环较多或嵌套异常，GDAL 已按默认规则组合",
    ),
    "geom_type_mismatch": (
        r"A geometry of type (?P<got>\w+) is inserted into layer (?P<layer>\S+) of geometry type (?P<want>\w+).*",
        "类型为 {got} 的几何写入几何类型为 {want} 的图层 {layer}",
    ),
    "cpg_encoding": (
        r"One or several characters couldn't be converted correctly from (?P<src>\S+) to (?P<dst>\S+)\..*",
        "部分字符无法从 {src} 转换为 {dst}（请检查 .cpg 编码文件）",
    ),
}

#: Captured parts named like this are codes the catalogue of :mod:`.i18n` says in words.
FIELD_WORDS = ("status", "stage", "objective", "service", "how", "phases", "gdal", "options", "limit")
#: A service's own options (``solving NAME alone (capacity, equity, ...)``) in Chinese.
OPTION_WORDS = {"capacity": "容量", "equity": "公平", "decay": "渐变可达", "robust": "稳健"}

#: What stopped a solve (``Limit`` values) in Chinese.
LIMIT_WORDS = {
    "time": "时间",
    "nodes": "节点数",
    "iterations": "迭代次数",
    "solutions": "解的个数",
    "interrupted": "中断",
    "other": "其他",
}

_COMPILED = [(re.compile(en), zh) for en, zh in PATTERNS.values()]
_GDAL = [(re.compile(en), zh) for en, zh in GDAL_PATTERNS.values()]


def _gdal(text: str) -> str:
    for pattern, zh in _GDAL:
        hit = pattern.fullmatch(text)
        if hit:
            return zh.format(**hit.groupdict())
    return f"（原文）{text}"


def field_text(name: str, value: str | None) -> str:
    """A captured part in Chinese: codes the catalogue knows in words, the rest unchanged."""
    from siting.scenarios.outputs import i18n

    if value is None:
        return ""
    if name == "status":
        return i18n.status_name("zh", value)
    if name == "stage":
        return i18n.stage_name("zh", value)
    if name == "objective":
        return i18n.objective_name("zh", value)
    if name == "service":
        return i18n.service_name("zh", value)
    if name == "how":
        return "联合求解" if value == "jointly" else "各类设施分别求解"
    if name == "phases":
        return f"，阶段 {value}"
    if name == "gdal":
        return _gdal(value)
    if name == "options":
        return "、".join(OPTION_WORDS.get(v, v) for v in value.split(", "))
    if name == "limit":
        return LIMIT_WORDS.get(value, value)
    return value


#: The tail of a shortened list of ids (``show_ids``): ``a, b (and 7 more)``.
_MORE = re.compile(r" \(and (\d+) more\)")


def _one(note: str) -> str | None:
    for pattern, zh in _COMPILED:
        hit = pattern.fullmatch(note)
        if hit:
            parts = {k: field_text(k, v) if k in FIELD_WORDS else (v or "") for k, v in hit.groupdict().items()}
            return _MORE.sub(r"（另有 \1 个）", zh.format(**parts))
    return None


def translated(lang: str, message: Any) -> str:
    """``message`` in ``lang``: a whole note, or notes joined by ``"; "`` part by part; unknown parts as written."""
    msg = str(message)
    if lang == "en" or not msg:
        return msg
    whole = _one(msg)
    if whole is not None:
        return whole
    parts = msg.split("; ")
    return "；".join(_one(p) or p for p in parts) if len(parts) > 1 else msg


#: summary.json's human-readable fields, by the path of the record holding them ("*": every key).
_FIELDS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    ((), ("budget_split", "phasing", "warnings")),
    (("solve",), ("notes", "message")),
    (("joint",), ("note",)),
    (("alternatives",), ("note",)),
    (("distance", "network"), ("notes",)),
    (("services", "*"), ("budget_source", "notes")),
    (("services", "*", "solve"), ("notes", "message")),
)


def _records(data: Any, path: tuple[str, ...]) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        return []
    if not path:
        return [data]
    head, rest = path[0], path[1:]
    if head == "*":
        return [r for v in data.values() for r in _records(v, rest)]
    return _records(data.get(head), rest)


def chinese_fields(summary: dict[str, Any]) -> dict[str, Any]:
    """Add ``<field>_zh`` beside each human-readable field of a run's summary (in place; also returned).

    A text becomes its Chinese sentence; a list of notes a list of the same length. Fields that are
    absent or ``None`` get no ``_zh`` twin; the English fields are left exactly as they were.
    """
    from siting.scenarios.outputs.i18n import note

    for path, fields in _FIELDS:
        for rec in _records(summary, path):
            for field in fields:
                value = rec.get(field)
                if isinstance(value, str):
                    rec[f"{field}_zh"] = note("zh", value)
                elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                    rec[f"{field}_zh"] = [note("zh", v) for v in value]
    return summary


__all__ = ["FIELD_WORDS", "GDAL_PATTERNS", "OPTION_WORDS", "PATTERNS", "chinese_fields", "field_text", "translated"]
