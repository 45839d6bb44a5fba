"""The tables of a run: the ranked plan, what stays uncovered and why, alternative plans and site frequency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from siting.models.evaluate import evaluate
from siting.scenarios.build import BuiltScenario
from siting.scenarios.pipeline.solving import COMPARABLE_TOL, ServiceOutcome, coverage_matrix, rephase

UNCOVERED_COLUMNS = ("service", "demand_id", "demand_group", "people", "reason", "nearest_open_m")


#: Why a demand point is uncovered, as written to uncovered.csv.
REASONS = {
    "off_network": "farther than distance.max_snap_m from every street",
    "no_site_in_reach": "no eligible or existing site within reach",
    "not_chosen": "coverable, but no site within reach was chosen (budget or max_sites)",
}


def uncovered_table(built: BuiltScenario, outcomes: dict[str, ServiceOutcome]) -> pd.DataFrame:
    """Per service, the demand points with people of its group outside the reach of every open facility."""
    from siting.models.evaluate import nearest_open

    off = set(built.unsnapped_demand)
    frames: list[pd.DataFrame] = []
    for name, oc in outcomes.items():
        pb = oc.problem
        inst = pb.instance
        w = inst.weights
        # p-median leaves out demand that reaches no site: count its people from the layer
        people = built.layers.demand[pb.demand_group].to_numpy(dtype=np.float64)
        miss = ~oc.covered & (people > 0)
        if not miss.any():
            continue
        ids = pb.demand_ids.to_numpy()[miss]
        reason = np.where(oc.coverable[miss], "not_chosen", "no_site_in_reach").astype(object)
        if off:
            reason[np.isin(ids, list(off))] = "off_network"
        _, dist = nearest_open(inst, oc.check.open_sites)
        near = dist[miss]
        frames.append(
            pd.DataFrame(
                {
                    "service": name,
                    "demand_id": ids,
                    "demand_group": pb.demand_group,
                    "people": people[miss],
                    "reason": reason,
                    "nearest_open_m": np.where(np.isfinite(near), near, np.nan),
                }
            )
        )
        del w
    if not frames:
        return pd.DataFrame(columns=list(UNCOVERED_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    # service in scenario order, most people first, then ids in natural order (numbers numerically)
    service_rank = out["service"].map({s: k for k, s in enumerate(outcomes)}).to_numpy()
    ids = out["demand_id"].astype(str)
    as_number = pd.to_numeric(ids, errors="coerce").to_numpy(dtype=np.float64)
    is_text = ~np.isfinite(as_number)
    order = np.lexsort(
        (ids.to_numpy(), np.where(is_text, 0.0, as_number), is_text, -out["people"].to_numpy(), service_rank)
    )
    return out.iloc[order].reset_index(drop=True)


def csv_bytes(df: pd.DataFrame) -> bytes:
    """A run's CSV file: text cells cannot start a spreadsheet formula, and the UTF-8 byte-order mark
    comes first so that Excel on a Chinese Windows reads the Chinese cells as UTF-8, not GBK."""
    from siting.scenarios.outputs.csv_safe import frame_to_csv

    return frame_to_csv(df, bom=True)


#: First columns of the joint ranked plan; then ``new_<group>`` per demand group, then :data:`JOINT_PLAN_TAIL`.
JOINT_PLAN_HEAD = (
    "rank",
    "phase",
    "site_id",
    "land_type",
    "area_m2",
    "service",
    "demand_group",
    "cost",
    "cumulative_cost",
)


JOINT_PLAN_TAIL = (
    "weighted_gain",
    "covered_after",
    "cumulative_coverage_share",
    "drop_one_loss",
    "best_substitute",
    "substitute_phase",
    "substitute_recovers",
    "substitute_cost",
    "reason",
    "reason_zh",
    "lon",
    "lat",
)


ALTERNATIVE_COLUMNS = ("plan", "objective", "below_best", "cost", "new_sites", "status", "verified", "sites")


FREQUENCY_COLUMNS = ("service", "site_id", "land_type", "plans", "share", "role")


def _fmt_people(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or float(x).is_integer() else f"{x:,.1f}"


def plan_reason(row: Any, inst: Any, mapping: Any, lang: str = "en") -> str:
    """The one-line reason of a ranked row, from the figures ``rank_plan`` computed (``en`` or ``zh``)."""
    from siting.scenarios.outputs import i18n

    zh = lang == "zh"
    svc = inst.services[row.service]
    group = i18n.group_name(lang, mapping.demand_group[svc.name]) if zh else mapping.demand_group[svc.name]
    service = i18n.service_name(lang, svc.name) if zh else svc.name
    reach = mapping.reach_m[svc.name]
    people = _fmt_people(row.gain_people)
    if getattr(row, "basis", "coverage") == "served":
        return served_reason(row, group, reach, zh)
    if row.gain_people <= 0:
        why = f"步行范围内未新增{group}" if zh else f"adds no {group} not already within reach"
        if svc.min_sites:
            why += (
                f"；因方案要求至少 {svc.min_sites} 处{service}（min_sites）而保留"
                if zh
                else f"; kept because the plan needs at least {svc.min_sites} {svc.name} sites (min_sites)"
            )
        return why
    sep = "；" if zh else "; "
    text = (
        f"新覆盖 {reach:,.0f} 米内原未覆盖的{group} {people} 人"
        if zh
        else f"covers {people} {group} within {reach:,.0f} m not reached before"
    )
    tol = f"{100 * COMPARABLE_TOL:.0f} %"
    n = row.n_comparable
    if n <= 1:
        text += sep + (
            f"其他合格地块的新增覆盖均相差 {tol} 以上" if zh else f"no other eligible plot comes within {tol} of that"
        )
    elif row.cheapest_comparable and mapping.cost_known[svc.name]:
        text += sep + (f"在 {n} 处相近地块中造价最低" if zh else f"cheapest of {n} comparable plots")
    elif row.largest_gain:
        text += sep + (f"在 {n} 处相近地块中覆盖人数最多" if zh else f"reaches the most of {n} comparable plots")
    else:
        text += sep + (
            f"{n} 处相近地块之一，与其余选址一起满足用地与预算"
            if zh
            else f"one of {n} comparable plots, the one that fits room and budget with the rest"
        )
    if row.drop_one_loss > 0 and row.substitute is None:
        loss = _fmt_people(row.drop_one_loss)
        if row.n_recovering == 0:
            text += sep + (
                f"没有未用地块能覆盖仅由它服务的 {loss} 人"
                if zh
                else f"no unused plot reaches the {loss} it alone serves"
            )
        elif row.n_recovering > 1:
            text += sep + (
                f"能覆盖这些居民的 {row.n_recovering} 处未用地块不满足预算或用地"
                if zh
                else f"the {row.n_recovering} unused plots that would reach its people do not fit the budgets or room"
            )
        else:
            text += sep + (
                "唯一能覆盖这些居民的未用地块不满足预算或用地"
                if zh
                else "the one unused plot that would reach its people does not fit the budgets or room"
            )
    return text


def served_reason(row: Any, group: str, reach: float, zh: bool) -> str:
    """The reason of a capacitated service's row: the demand the site takes within its capacity out of
    the demand within its reach, whether that fills it, and what is lost if it falls through."""
    gain, within = _fmt_people(row.gain_people), _fmt_people(float(row.within_reach or 0.0))
    if zh:
        text = f"在 {reach:,.0f} 米内的{group} {within} 人中新增服务 {gain} 人（按容量计）"
        text += "；已满" if row.full else ""
        if row.drop_one_loss > 0:
            text += f"；若落空，服务人数减少 {_fmt_people(row.drop_one_loss)} 人"
        return text
    text = f"serves {gain} more of the {within} {group} within {reach:,.0f} m, within its capacity"
    text += "; full" if row.full else ""
    if row.drop_one_loss > 0:
        text += f"; {_fmt_people(row.drop_one_loss)} fewer served if it falls through"
    return text


def plan_table(inst: Any, mapping: Any, rows: list[Any]) -> pd.DataFrame:
    """The ranked site plan of DESIGN.md: one row per chosen (site, service), in rank order.

    ``new_<group>``: people of each demand group at the demand points this row newly brings within
    reach of its service; ``cumulative_cost`` over all rows so far (costs of services without costs
    count 0 and show as empty); ``covered_after`` / ``cumulative_coverage_share``: people of the
    service's own group within reach after this row (existing facilities included), and its share.
    """
    group_cols = [f"new_{g}" for g in mapping.groups]
    records: list[dict[str, Any]] = []
    cum = 0.0
    for r in rows:
        name = inst.services[r.service].name
        known = mapping.cost_known[name]
        cost = float(r.cost) if known else float("nan")
        cum += cost if known else 0.0
        sub = r.substitute
        rec: dict[str, Any] = {
            "rank": r.rank,
            "phase": mapping.phases[r.phase],
            "site_id": str(mapping.site_ids[r.site]),
            "land_type": mapping.land_types[r.site],
            "area_m2": mapping.area_m2[r.site],
            "service": name,
            "demand_group": mapping.demand_group[name],
            "cost": cost,
            "cumulative_cost": cum if any(mapping.cost_known.values()) else float("nan"),
        }
        for col, v in zip(group_cols, r.new_by_group):
            rec[col] = float(v)
        rec.update(
            {
                "weighted_gain": r.gain_weighted,
                "covered_after": r.covered_after,
                "cumulative_coverage_share": r.coverage_share,
                "drop_one_loss": r.drop_one_loss,
                "best_substitute": "" if sub is None else str(mapping.site_ids[sub]),
                "substitute_phase": "" if sub is None else mapping.phases[r.substitute_phase],
                "substitute_recovers": r.substitute_recovers,
                "substitute_cost": (r.substitute_cost if (sub is not None and known) else float("nan")),
                "reason": plan_reason(r, inst, mapping),
                "reason_zh": plan_reason(r, inst, mapping, lang="zh"),
                "lon": mapping.lon[r.site],
                "lat": mapping.lat[r.site],
            }
        )
        records.append(rec)
    return pd.DataFrame(records, columns=[*JOINT_PLAN_HEAD, *group_cols, *JOINT_PLAN_TAIL])


def joint_outcomes(built: BuiltScenario, inst: Any, mapping: Any, rows: list[Any]) -> dict[str, ServiceOutcome]:
    """Per service: the plan on its own instance, recounted by :func:`models.evaluate.evaluate`."""
    out: dict[str, ServiceOutcome] = {}
    for s, svc in enumerate(inst.services):
        pb = built.services[svc.name]
        cols = pd.Index(pb.site_ids.astype(str))
        mine = [r for r in rows if r.service == s]
        order = cols.get_indexer([str(mapping.site_ids[r.site]) for r in mine]).astype(np.int64)
        gains = np.array([r.gain_people for r in mine], dtype=np.float64)
        final = pb.instance.existing.copy()
        final[order] = True
        check = evaluate(pb.instance, final, radius=pb.reach_m)
        cover = coverage_matrix(pb)
        coverable = np.zeros(pb.instance.n, dtype=bool)
        coverable[cover.tocoo().row] = True
        notes: list[str] = []
        if svc.max_sites == 0:
            notes.append("max_sites is 0: no new site is planned")
        notes += list(pb.notes)
        body = built.scenario
        if body.objective == "min_cost":
            limit = body.services[svc.name].max_sites
            if limit is not None and order.size > limit:
                notes.append(
                    f"covering everything coverable needs {order.size} new sites, more than max_sites = {limit}"
                )
            cost = float(pb.instance.cost[order].sum())
            own = pb.budget  # budget.per_service, or (split) the service's share of budget.total
            if own is not None and pb.cost_known and cost > own:
                where = "budget.per_service" if svc.name in body.budget.per_service else "its share of budget.total"
                notes.append(f"covering everything coverable costs {cost:,.0f}, more than {where} {own:,.0f}")
        before = float(pb.instance.weights[svc.existing_covered].sum())
        out[svc.name] = ServiceOutcome(
            problem=pb,
            order=order,
            gains=gains,
            covered_before=before,
            covered_after=float(check.covered_weight or 0.0),
            covered=np.asarray(check.covered, dtype=bool),
            coverable=coverable,
            check=check,
            notes=notes,
        )
    return out


def plan_text(inst: Any, mapping: Any, open_phase: NDArray[np.integer]) -> str:
    """``service:site[@phase]; ...`` in service order, sites in natural order."""
    op = np.asarray(open_phase)
    parts: list[str] = []
    for s, svc in enumerate(inst.services):
        js = sorted(np.flatnonzero(op[s] >= 0), key=lambda j: mapping.site_order[j])
        for j in js:
            ph = f"@{mapping.phases[op[s, j]]}" if inst.T > 1 else ""
            parts.append(f"{svc.name}:{mapping.site_ids[j]}{ph}")
    return "; ".join(parts)


def alternatives_tables(inst: Any, mapping: Any, plans: list[Any], objective: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``alternatives.csv`` and ``site_frequency.csv`` of K alternative plans.

    ``below_best`` is the relative shortfall ``(best - objective) / |best|`` for maximised objectives
    (``(objective - best) / |best|`` for minimised ones). In ``site_frequency``, every eligible
    (service, site) pair with ``plans`` = how many of the K plans open it; ``role`` is ``firm`` (in
    every plan), ``interchangeable`` (in some) or ``unused`` (in none).
    """
    from siting.models.multiservice import OBJECTIVE_SENSE, evaluate_joint, objective_value
    from siting.optimizer.ranking import earliest_phases

    sense = OBJECTIVE_SENSE.get(objective, "max")
    values = []
    recs: list[dict[str, Any]] = []
    ops = [
        earliest_phases(inst, res.open_phase, mapping.site_order) if rephase(objective, inst) else res.open_phase
        for res in plans
    ]
    for op in ops:
        values.append(objective_value(evaluate_joint(inst, op), objective))
    best = max(values) if sense == "max" else min(values)
    for k, (res, op, v) in enumerate(zip(plans, ops, values), start=1):
        met = evaluate_joint(inst, op)
        below = (best - v) if sense == "max" else (v - best)
        recs.append(
            {
                "plan": k,
                "objective": v,
                "below_best": below / abs(best) if best else 0.0,
                "cost": float(met.total_cost),
                "new_sites": int((np.asarray(res.open_phase) >= 0).sum()),
                "status": res.status.value,
                "verified": bool(res.verified) and not met.violations,
                "sites": plan_text(inst, mapping, op),
            }
        )
    alt = pd.DataFrame(recs, columns=list(ALTERNATIVE_COLUMNS))
    K = len(plans)
    use = np.zeros((inst.S, inst.m), dtype=np.int64)
    for res in plans:
        use += (np.asarray(res.open_phase) >= 0).astype(np.int64)
    freq_rows: list[dict[str, Any]] = []
    for s, svc in enumerate(inst.services):
        js = np.flatnonzero(svc.eligible | (use[s] > 0))
        for j in sorted(js, key=lambda j: (-use[s, j], mapping.site_order[j])):
            c = int(use[s, j])
            freq_rows.append(
                {
                    "service": svc.name,
                    "site_id": str(mapping.site_ids[j]),
                    "land_type": mapping.land_types[j],
                    "plans": c,
                    "share": c / K if K else 0.0,
                    "role": "firm" if c == K and K else ("interchangeable" if c else "unused"),
                }
            )
    return alt, pd.DataFrame(freq_rows, columns=list(FREQUENCY_COLUMNS))
