"""summary.json's content: the solve record, per-service records, the plan's checks, input hashes and package versions."""

from __future__ import annotations

import math
import platform
from pathlib import Path
from typing import Any

import numpy as np

from siting.optimizer.result import SolveParams
from siting.scenarios.build import BuiltScenario
from siting.scenarios.files import sha256_file
from siting.scenarios.outputs.note_text import chinese_fields
from siting.scenarios.pipeline.service_options import joint_option_records, part_record
from siting.scenarios.pipeline.solving import JointOutcome, ServiceOutcome
from siting.scenarios.research.child import peak_mb

VERSION_PACKAGES = (
    "siting",
    "numpy",
    "scipy",
    "pandas",
    "geopandas",
    "pyogrio",
    "shapely",
    "pyproj",
    "pydantic",
    "highspy",
    "pulp",
    "ortools",
    "matplotlib",
    "pyrosm",
    "pyarrow",
)


def versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in VERSION_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def json_safe(value: Any) -> Any:
    from enum import Enum

    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _input_hashes(built: BuiltScenario, scenario_path: Path) -> dict[str, str]:
    """SHA-256 of the scenario file and every input layer, keyed by path relative to the scenario."""
    base = built.base_dir
    inputs: dict[str, str] = {}
    for f in [scenario_path.resolve(), *built.input_files]:
        try:
            key = str(f.resolve().relative_to(base))
        except ValueError:
            key = str(f.resolve())
        inputs[key] = sha256_file(f)
    return inputs


def _distance_record(built: BuiltScenario) -> dict[str, Any]:
    body = built.scenario
    return {
        "method": built.distance_method,
        "walking_speed_kmh": body.distance.walking_speed_kmh,
        "max_snap_m": body.distance.max_snap_m,
        "network": built.network,
        "unsnapped_demand": built.unsnapped_demand,
        "unsnapped_sites": built.unsnapped_sites,
    }


#: Objective of the joint model -> the per-service model family it generalises (summary.json "model").
JOINT_MODEL_OF = {
    "max_coverage": "mclp",
    "complete_circle": "complete_circle",
    "pmedian": "pmedian",
    "min_cost": "lscp",
    "phased": "mclp_phased",
}


def _ok(spent: float, limit: float | None) -> bool:
    return limit is None or not math.isfinite(limit) or spent <= limit + 1e-6 * max(1.0, abs(limit))


def served_rows_problems(name: str, mine: list[Any], covered: float) -> list[str]:
    """A capacitated service's ranked rows (served demand) add up: the served demand before the first
    row plus every gain is the last row's cumulative served demand, and no more than is covered."""
    base = mine[0].covered_after - mine[0].gain_people
    last = mine[-1].covered_after
    tol = 1e-6 * max(1.0, abs(last))
    out = []
    if abs(base + sum(r.gain_people for r in mine) - last) > tol:
        out.append(f"{name}: served rows do not add up to the last served figure {last:.10g}")
    if last > covered + tol:
        out.append(f"{name}: served {last:.10g} exceeds covered {covered:.10g}")
    return out


def plan_checks(
    inst: Any, mapping: Any, metrics: Any, rows: list[Any], outcomes: dict[str, ServiceOutcome]
) -> dict[str, Any]:
    """Re-check a joint plan from the raw arrays, independently of the solver, for summary.json.

    Budgets (total, per service, per phase: with carry-over, the spending up to each phase may not
    exceed the phase budgets up to it), room on every plot, eligibility of every pair, count limits,
    ``evaluate_joint``'s own verdict, and whether the ranked table adds up: per service, existing
    coverage plus the rows' newly covered people equals the evaluator's coverage, the last
    ``covered_after`` equals it too, the per-service evaluator (``models.evaluate``) agrees, and the
    last cumulative cost equals the plan's total cost.
    """
    op = np.asarray(metrics.open_phase)
    opened = op >= 0
    S = inst.S
    names = [svc.name for svc in inst.services]
    cost = np.stack([np.where(svc.eligible, svc.cost, 0.0) for svc in inst.services])
    by_service = np.where(opened, cost, 0.0).sum(axis=1)
    by_phase = np.bincount(op[opened].astype(np.int64), weights=cost[opened], minlength=inst.T)
    total = float(by_service.sum())
    checks: dict[str, Any] = {}
    checks["budget_total"] = {"limit": inst.total_budget, "spent": total, "ok": _ok(total, inst.total_budget)}
    checks["budget_per_service"] = {
        names[s]: {
            "limit": inst.services[s].budget,
            "spent": float(by_service[s]),
            "ok": _ok(float(by_service[s]), inst.services[s].budget),
        }
        for s in range(S)
    }
    phases: list[dict[str, Any]] = []
    if inst.phase_budgets is not None:
        pb = np.asarray(inst.phase_budgets, dtype=np.float64)
        cum_b, cum_s = np.cumsum(pb), np.cumsum(by_phase)
        for t, name in enumerate(inst.phases):
            carried = float(cum_b[t - 1] - cum_s[t - 1]) if (t and inst.carry_over) else 0.0
            ok = _ok(float(cum_s[t]), float(cum_b[t])) if inst.carry_over else _ok(float(by_phase[t]), float(pb[t]))
            phases.append(
                {
                    "phase": name,
                    "budget": float(pb[t]),
                    "carried_in": carried,
                    "available": float(pb[t]) + carried,
                    "spent": float(by_phase[t]),
                    "ok": ok,
                }
            )
    else:
        for t, name in enumerate(inst.phases):
            phases.append({"phase": name, "budget": None, "spent": float(by_phase[t]), "ok": True})
    checks["budget_per_phase"] = phases
    area = np.array([svc.area for svc in inst.services])
    used = area @ opened.astype(np.float64)
    room = np.asarray(inst.room, dtype=np.float64)
    over = used > room + 1e-6 * np.maximum(1.0, np.where(np.isfinite(room), room, 0.0))
    shared = np.flatnonzero(opened.sum(axis=0) > 1)
    checks["room"] = {
        "ok": not over.any(),
        "over": [{"site_id": str(mapping.site_ids[j]), "room": room[j], "used": used[j]} for j in np.flatnonzero(over)],
        "shared_plots": [
            {
                "site_id": str(mapping.site_ids[j]),
                "services": [names[s] for s in np.flatnonzero(opened[:, j])],
                "used": used[j],
                "room": room[j],
            }
            for j in shared
        ],
    }
    elig = np.stack([svc.eligible for svc in inst.services])
    bad = np.argwhere(opened & ~elig)
    checks["eligibility"] = {"ok": bad.size == 0, "ineligible": [f"{names[s]}:{mapping.site_ids[j]}" for s, j in bad]}
    counts = {}
    for s, svc in enumerate(inst.services):
        k = int(opened[s].sum())
        counts[names[s]] = {
            "new": k,
            "min": svc.min_sites,
            "max": svc.max_sites,
            "ok": k >= svc.min_sites and (svc.max_sites is None or k <= svc.max_sites),
        }
    checks["counts"] = counts
    checks["evaluator"] = {"ok": not metrics.violations, "violations": list(metrics.violations)}
    problems: list[str] = []
    for s, svc in enumerate(inst.services):
        mine = [r for r in rows if r.service == s]
        before = float(svc.weights[svc.existing_covered].sum())
        added = float(sum(r.gain_people for r in mine))
        want = float(metrics.covered_people[s])
        tol = 1e-6 * max(1.0, want)
        if mine and getattr(mine[0], "basis", "coverage") == "served":
            problems += served_rows_problems(svc.name, mine, want)
            continue
        if abs(before + added - want) > tol:
            problems.append(f"{svc.name}: existing {before:.10g} + newly covered {added:.10g} != covered {want:.10g}")
        if mine and abs(mine[-1].covered_after - want) > tol:
            problems.append(f"{svc.name}: last covered_after {mine[-1].covered_after:.10g} != covered {want:.10g}")
        old = outcomes[svc.name].covered_after
        if abs(old - want) > tol:
            problems.append(f"{svc.name}: models.evaluate counts {old:.10g}, evaluate_joint {want:.10g}")
    if rows and abs(rows[-1].cumulative_cost - float(metrics.total_cost)) > 1e-6 * max(1.0, total):
        problems.append(f"last cumulative_cost {rows[-1].cumulative_cost:.10g} != total cost {metrics.total_cost:.10g}")
    if len(rows) != int(opened.sum()):
        problems.append(f"{len(rows)} ranked rows for {int(opened.sum())} opened pairs")
    checks["ranked_table"] = {"ok": not problems, "problems": problems}
    checks["all_ok"] = bool(
        checks["budget_total"]["ok"]
        and all(v["ok"] for v in checks["budget_per_service"].values())
        and all(p["ok"] for p in phases)
        and checks["room"]["ok"]
        and checks["eligibility"]["ok"]
        and all(v["ok"] for v in counts.values())
        and checks["evaluator"]["ok"]
        and checks["ranked_table"]["ok"]
    )
    return checks


def _budget_split(body: Any, mode: str) -> str | None:
    """How the money was shared between the services, in words."""
    if mode == "joint":
        return (
            "none: the joint multi-service model shares budget.total"
            + (", the phase budgets" if body.budget.phases else "")
            + " and the plots between the services; nothing is split in advance"
        )
    if body.budget.total is not None and any(s not in body.budget.per_service for s in body.services):
        return (
            "budget.total is split across services in advance, in proportion to weight x people served; "
            "the joint multi-service model (siting run without --split) optimises the split"
        )
    return None


def _joint_record(res: Any, objective: str, checks: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "joint",  # the model solved (both run modes solve the joint model)
        "model": JOINT_MODEL_OF.get(objective, objective),
        "objective_name": objective,
        "status": res.status.value,
        "objective": res.objective,
        "bound": res.bound,
        "gap": res.gap,
        "seconds": round(float(res.seconds), 4),
        "solver": res.solver,
        "solver_version": res.solver_version,
        "verified": bool(res.verified) and bool(checks["all_ok"]),
        "stages": list(res.stages),
    }


def _joint_service_summary(
    inst: Any, mapping: Any, s: int, oc: ServiceOutcome, metrics: Any, record: dict[str, Any], checks: dict[str, Any]
) -> dict[str, Any]:
    svc = inst.services[s]
    pb = oc.problem
    total = float(svc.weights.sum())
    people = pb.group_total
    violations = [v for v in oc.check.violations]
    if not checks["budget_per_service"][svc.name]["ok"]:
        violations.append(f"budget.per_service.{svc.name} exceeded")
    if not checks["counts"][svc.name]["ok"]:
        violations.append(f"count limits of {svc.name} broken")
    violations += [v for v in metrics.violations if repr(svc.name) in v]
    covered_phase = np.asarray(metrics.covered_by_phase)[:, s, :].astype(np.float64) @ svc.weights
    op = np.asarray(metrics.open_phase)[s]
    return {
        "demand_group": pb.demand_group,
        "reach_m": pb.reach_m,
        "demand_points": pb.instance.n,
        "candidate_sites": pb.n_candidates,
        "existing_facilities": pb.n_existing,
        "budget": svc.budget,
        "budget_source": mapping.budget_source[svc.name],
        "max_sites": svc.max_sites,
        "min_sites": svc.min_sites,
        "weight": svc.weight,
        "area_m2": svc.area,
        "people": people,
        "coverage": {
            "before": oc.covered_before,
            "after": oc.covered_after,
            "share_before": oc.covered_before / total if total > 0 else None,
            "share_after": oc.covered_after / total if total > 0 else None,
            "by_phase": {mapping.phases[t]: float(covered_phase[t]) for t in range(inst.T)},
        },
        "new_sites": int((op >= 0).sum()),
        "new_sites_by_phase": {mapping.phases[t]: int((op == t).sum()) for t in range(inst.T)},
        "cost": float(metrics.cost_by_service[s]) if mapping.cost_known[svc.name] else None,
        "plan_check": {
            "covered_weight": oc.check.covered_weight,
            "joint_covered_people": float(metrics.covered_people[s]),
            "weighted_distance_m": oc.check.weighted_distance,
            "violations": violations,
        },
        "solve": record,
        "notes": list(oc.notes),
    }


def summary_dict(
    built: BuiltScenario,
    joint: JointOutcome,
    outcomes: dict[str, ServiceOutcome],
    scenario_path: Path,
    override: str | None,
    solver: str,
    params: SolveParams,
    warnings: list[str],
    seconds: dict[str, float],
    tolerance: float | None = None,
    requested: int = 0,
    mode: str = "joint",
) -> dict[str, Any]:
    """The run's record as a JSON-safe dict (validated and written by :mod:`scenarios.pipeline.record`).

    ``mode`` is ``joint`` or ``split`` (``--split``: the budget was divided per service in advance).
    """
    body = built.scenario
    inst, mapping, res, metrics = joint.inst, joint.mapping, joint.result, joint.metrics
    record = _joint_record(res, body.objective, joint.checks)
    record["notes"] = list(getattr(res, "notes", []))
    record["message"] = getattr(res, "message", "")
    op = np.asarray(metrics.open_phase)
    phase_rows = []
    for t, name in enumerate(inst.phases):
        covered_t = np.asarray(metrics.covered_by_phase)[t]
        phase_rows.append(
            {
                "phase": name,
                "new_sites": int((op == t).sum()),
                "cost": float(metrics.cost_by_phase[t]),
                "covered_people": {
                    svc.name: float(covered_t[s].astype(np.float64) @ svc.weights)
                    for s, svc in enumerate(inst.services)
                },
            }
        )
    summary: dict[str, Any] = {
        "scenario": body.model_dump(mode="json"),
        "scenario_file": scenario_path.name,
        "override": override,
        "mode": mode,
        "crs": built.layers.crs.to_string(),
        "distance": _distance_record(built),
        "objective": body.objective,
        "budget_split": _budget_split(body, mode),
        "solver": {
            "name": solver,
            "time_limit": params.time_limit,
            "mip_gap": params.mip_gap,
            "threads": params.threads,
        },
        "seed": params.seed,
        "solve": record,
        "phasing": (
            "each site opens in the earliest phase whose budgets allow it, most valuable first (the objective "
            "values only the end state, so the solver's phases were arbitrary)"
            if joint.rephased
            else ("as solved" if inst.T > 1 else None)
        ),
        "joint": {
            "objective": body.objective,
            "value": res.objective,
            "weighted_coverage": metrics.weighted_coverage,
            "complete_circle_people": metrics.complete_people,
            "complete_circle_group": mapping.residents_group,
            "phased_value": metrics.phased_value,
            "total_cost": metrics.total_cost,
            "new_sites": int((op >= 0).sum()),
            "plots_used": int((op >= 0).any(axis=0).sum()),
            "total_distance_m": metrics.total_distance,
            "note": (
                f"least cost of covering everyone coverable is {metrics.total_cost:,.0f}; budget.total is "
                f"{body.budget.total:,.0f}" + (" (not enough)" if metrics.total_cost > body.budget.total else "")
                if body.objective == "min_cost" and body.budget.total is not None
                else None
            ),
        },
        "phases": phase_rows,
        "checks": joint.checks,
        "services": {
            svc.name: _joint_service_summary(
                inst,
                mapping,
                s,
                outcomes[svc.name],
                metrics,
                {k: v for k, v in record.items() if k not in ("stages", "notes")},
                joint.checks,
            )
            for s, svc in enumerate(inst.services)
        },
        "warnings": warnings,
        "inputs_sha256": _input_hashes(built, scenario_path),
        "versions": versions(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "peak_memory_mb": peak_mb(),
    }
    for name, part in joint.parts.items():
        # --split: a service with a capacity, equity, decay or robust option was solved alone
        summary["services"][name]["solve"] = part_record(part)
    for name, extra in joint_option_records(joint.result, inst).items():
        # joint mode: a service's capacity use and group shares inside the one joint model
        summary["services"][name]["solve"] = {**summary["services"][name]["solve"], **extra}
    if requested:
        summary["alternatives"] = {
            "requested": requested,
            "found": len(joint.alternatives),
            "tolerance": tolerance,
            "note": (
                f"only {len(joint.alternatives)} distinct plans lie within the tolerance"
                if len(joint.alternatives) < requested
                else None
            ),
        }
    return chinese_fields(json_safe(summary))  # each note, message and warning also in Chinese (``*_zh``)


def failed_checks(summary: dict[str, Any]) -> list[str]:
    """Every check of a run's summary.json that did not pass, by its path (empty: all passed).

    A check is any entry ``"ok": false`` under ``checks`` (at any depth), ``checks.all_ok``, and
    the solver verification (``verified``) of the joint solve and of every service.
    """
    failed: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("ok") is False:
                failed.append(path)
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for k, value in enumerate(node):
                label = value.get("phase", k) if isinstance(value, dict) else k
                walk(value, f"{path}[{label}]")

    checks = summary.get("checks")
    walk(checks, "checks")
    if isinstance(checks, dict) and checks.get("all_ok") is False and not failed:
        failed.append("checks.all_ok")
    if isinstance(summary.get("solve"), dict) and summary["solve"].get("verified") is False:
        failed.append("solve.verified")
    for name, svc in (summary.get("services") or {}).items():
        if isinstance(svc, dict) and isinstance(svc.get("solve"), dict) and svc["solve"].get("verified") is False:
            failed.append(f"services.{name}.solve.verified")
    return failed
