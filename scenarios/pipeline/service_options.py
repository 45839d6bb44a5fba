"""A service's capacity, equity, gradual-reach and robust settings: checked, turned into model
options, and recorded in summary.json.

* :func:`check_service_options`: what the chosen mode and objective cannot honour is an error
  naming the field and the fix, never ignored. The joint multi-service model takes capacities and
  equity rules (floors, and the max-min share of one service) with the max_coverage or phased
  objective (:mod:`models.formulations.joint_capacity`); gradual reach and robust plans need
  ``siting run --split``, where the service is solved alone with the max_coverage objective.
* :func:`site_capacities`: one capacity per column of a service's instance (by land type, the
  service's ``capacity`` otherwise, unlimited without one).
* :func:`coverage_spec`: the MCLP / LSCP ``ModelSpec`` with the service's options.
* :func:`extras_record`: capacity use, group shares and the robust comparison of a solve, with
  their checks, for summary.json.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.scenarios.schema import ScenarioBody, Service


def extra_options(svc: Service) -> list[str]:
    """The names of the service's options beyond plain coverage that are set."""
    names = [k for k in ("equity", "decay", "robust") if getattr(svc, k) is not None]
    return (["capacity"] if svc.capacitated else []) + names


def check_service_options(body: ScenarioBody, mode: str, source: str = "") -> None:
    """Raise one ScenarioError listing every service option the mode or objective cannot honour."""
    where = source + ": " if source else ""
    problems: list[str] = []
    for name, svc in body.services.items():
        extras = extra_options(svc)
        if svc.allow_split and not svc.capacitated:
            problems.append(f"services.{name}.allow_split needs a capacity: set capacity or capacity_by_land_type")
        if not extras:
            continue
        if mode == "joint":
            problems += joint_option_problems(body, name, extras)
            continue
        beyond = [e for e in extras if e != "capacity"]
        if beyond and body.objective != "max_coverage":
            problems.append(f"services.{name}.{beyond[0]} needs objective: max_coverage (not {body.objective})")
        elif "capacity" in extras and body.objective not in ("max_coverage", "min_cost", "pmedian"):
            problems.append(f"services.{name}.capacity does not apply to objective {body.objective}")
        if len(extras) > 1 and body.objective != "pmedian" and not floor_combination(svc, extras):
            problems.append(
                f"services.{name}: {' and '.join(extras)} do not combine; an equity floor (min_share, not max_min) "
                "combines with one of capacity, decay or robust; keep one of the others"
            )
    max_min = [name for name, svc in body.services.items() if svc.equity is not None and svc.equity.max_min]
    if mode == "joint" and len(max_min) > 1:
        problems.append(
            f"services.{max_min[1]}.equity.max_min: the joint model raises one service's worst group first, "
            f"and {', '.join(max_min)} all ask for it; keep max_min on one service and give the others a "
            "min_share floor, or run with --split"
        )
    if problems:
        raise ScenarioError(where + "; ".join(problems))


def floor_combination(svc: Service, extras: list[str]) -> bool:
    """True when the service's options are one of capacity / decay / robust plus an equity floor:
    the floor is one linear row per group on the served, decayed or nominal covered demand, exact
    on top of the other model (:func:`optimizer.equity.solve_floor`)."""
    eq = svc.equity
    return len(extras) == 2 and eq is not None and eq.min_share is not None and not eq.max_min


#: The joint objectives that take capacities and equity rules.
JOINT_OPTION_OBJECTIVES = ("max_coverage", "phased")


def joint_option_problems(body: ScenarioBody, name: str, extras: list[str]) -> list[str]:
    """What the joint multi-service model cannot honour of a service's options, each with its fix."""
    out: list[str] = []
    for opt in extras:
        if opt in ("decay", "robust"):
            out.append(
                f"services.{name}.{opt}: the joint multi-service model (shared budgets and plots) does not take "
                f"{'gradual reach' if opt == 'decay' else 'robust plans'} yet; run with siting run --split (the "
                "budget divided per service in advance, the service solved alone), or solve it with siting solve"
            )
        elif body.objective not in JOINT_OPTION_OBJECTIVES:
            out.append(
                f"services.{name}.{opt}: the joint model takes {opt} with objective max_coverage or phased, not "
                f"{body.objective}; change the objective, or run with siting run --split"
                + (
                    " (a capacitated min_cost is solved there)"
                    if opt == "capacity" and body.objective == "min_cost"
                    else ""
                )
            )
    return out


def site_capacities(svc: Service, land_types: NDArray[Any], n_existing: int) -> NDArray[np.float64]:
    """Capacity of each candidate (by its land type) followed by the ``n_existing`` existing facilities."""
    default = np.inf if svc.capacity is None else float(svc.capacity)
    by_land = svc.capacity_by_land_type
    cand = np.array([by_land.get(str(t), default) for t in land_types], dtype=np.float64)
    return np.concatenate([cand, np.full(n_existing, float(by_land.get("existing", default)))])


def coverage_spec(spec: Any, svc: Service, walking_speed_kmh: float) -> Any:
    """The service's options on an MCLP or LSCP ``ModelSpec`` (unchanged when none is set)."""
    if svc.capacitated and spec.model in ("mclp", "lscp"):
        spec = replace(spec, capacitated=True, allow_split=svc.allow_split)
    if spec.model != "mclp":
        return spec
    if svc.equity is not None:
        spec = replace(spec, min_group_share=svc.equity.min_share, maxmin_groups=svc.equity.max_min)
    if svc.decay is not None:  # the step table, or the linear fall from the reach to reach_max
        spec = replace(spec, **svc.decay.spec_fields(spec.radius, walking_speed_kmh))
    if svc.robust is not None:
        rb = svc.robust
        spec = replace(
            spec,
            robust_samples=rb.samples,
            robust_noise=rb.population_noise,
            robust_seed=rb.seed,
            robust_objective=rb.objective,
        )
    return spec


def plain_spec(spec: Any) -> bool:
    """True for the plain MCLP / LSCP / p-median (no capacity on a covering model, equity, decay or robust)."""
    covering_cap = spec.capacitated and spec.model in ("mclp", "lscp")
    return not (
        covering_cap or spec.min_group_share is not None or spec.maxmin_groups
        or spec.reach_max is not None or spec.decay_steps is not None or spec.robust_samples is not None
    )  # fmt: skip


def extras_record(res: Any) -> dict[str, Any]:
    """summary.json's record of a solve's capacity use, group shares and robust comparison, with checks."""
    if res is None:
        return {}
    out: dict[str, Any] = {}
    full = res.to_dict()
    if "capacity" in full:
        cap = full["capacity"]
        out["capacity"] = cap
        out.setdefault("checks", {})["capacity"] = {"ok": not cap["violations"], "violations": cap["violations"]}
    if "equity" in full:
        eq = full["equity"]
        out["equity"] = eq
        floor = eq.get("min_share")
        low = [g["group"] for g in eq["groups"] if floor is not None and g["share_after"] < floor - 1e-6]
        out.setdefault("checks", {})["equity_floor"] = {"ok": not low, "min_share": floor, "below": low}
    if "robust" in full:
        out["robust"] = full["robust"]
        out.setdefault("checks", {})["robust"] = {"ok": bool(res.verified), "objective": res.objective}
    if "decay" in full:
        out["decay"] = full["decay"]
    if "decayed_coverage" in res.stats:
        out["decayed_coverage"] = res.stats["decayed_coverage"]
    return out


def joint_option_records(res: Any, inst: Any) -> dict[str, dict[str, Any]]:
    """Per service with a capacity or an equity rule in the joint model: :func:`extras_record`'s
    capacity use (the evaluator's recount: loads, utilisation, who is served by whom) and group
    shares (before = the joint optimum without the equity rules), with their checks."""
    om = getattr(res, "option_metrics", None)
    if om is None:
        return {}
    equity = (getattr(res, "option_stats", None) or {}).get("equity", {})
    out: dict[str, dict[str, Any]] = {}
    for name in [s.name for s in inst.services if s.name in om.capacity or s.name in equity]:
        full: dict[str, Any] = {}
        if name in om.capacity:
            full["capacity"] = om.capacity[name].to_dict(np.asarray(inst.demand_ids))
        if name in equity:
            full["equity"] = equity[name]
        view = SimpleNamespace(to_dict=lambda full=full: full, stats={}, verified=res.verified, objective=res.objective)
        out[name] = extras_record(view)
    return out


def part_record(res: Any) -> dict[str, Any]:
    """summary.json's ``services.NAME.solve`` of a service solved alone with its options (``--split``):
    its own status, objective, bound, gap and the evaluator's verdict, with :func:`extras_record`."""
    out: dict[str, Any] = {
        "mode": "service",  # solved alone: the budget was divided in advance, nothing links it to the others
        "model": res.spec.model,
        "objective_name": res.spec.model,
        "status": res.status.value,
        "objective": res.objective,
        "bound": res.bound,
        "gap": res.gap,
        "seconds": round(float(res.seconds), 4),
        "solver": res.solver,
        "solver_version": res.solver_version,
        "verified": bool(res.verified),
        "message": res.message,
    }
    out.update(extras_record(res))
    return out
