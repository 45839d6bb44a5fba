"""A service's capacity, equity, gradual-reach and robust settings: checked, turned into model
options, and recorded in summary.json.

* :func:`check_service_options`: what the chosen mode and objective cannot honour is an error
  naming the field and the fix (the joint multi-service model takes none of them yet; each needs
  ``siting run --split``, where the service is solved alone, and, except capacity, the
  max_coverage objective), never ignored.
* :func:`site_capacities`: one capacity per column of a service's instance (by land type, the
  service's ``capacity`` otherwise, unlimited without one).
* :func:`coverage_spec`: the MCLP / LSCP ``ModelSpec`` with the service's options.
* :func:`extras_record`: capacity use, group shares and the robust comparison of a solve, with
  their checks, for summary.json.
"""

from __future__ import annotations

from dataclasses import replace
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
        field = f"services.{name}.{extras[0]}"
        if mode == "joint":
            problems.append(
                f"{field}: the joint multi-service model (shared budgets and plots) does not take "
                f"{', '.join(extras)} yet; run each service on its own with siting run --split (the budget "
                "divided per service in advance), or solve the service alone with siting solve"
            )
            continue
        beyond = [e for e in extras if e != "capacity"]
        if beyond and body.objective != "max_coverage":
            problems.append(f"services.{name}.{beyond[0]} needs objective: max_coverage (not {body.objective})")
        elif "capacity" in extras and body.objective not in ("max_coverage", "min_cost", "pmedian"):
            problems.append(f"services.{name}.capacity does not apply to objective {body.objective}")
        if len(extras) > 1 and body.objective != "pmedian":
            problems.append(f"services.{name}: {' and '.join(extras)} do not combine yet; keep one of them")
    if problems:
        raise ScenarioError(where + "; ".join(problems))


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
    if svc.decay is not None:
        spec = replace(spec, radius=None, reach_full=spec.radius, reach_max=svc.decay.metres(walking_speed_kmh))
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
        or spec.reach_max is not None or spec.robust_samples is not None
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
    if "decayed_coverage" in res.stats:
        out["decayed_coverage"] = res.stats["decayed_coverage"]
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
