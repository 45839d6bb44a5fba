"""The text `siting solve` prints for one solved instance (the --json record is built in cli.py)."""

from __future__ import annotations

from typing import Any

from siting.models.checks import show_ids
from siting.scenarios.outputs.solve_extras import capacity_lines, equity_lines, robust_lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value + 0.0:.10g}"


def _ids(ids: list[Any], limit: int = 20) -> str:
    return show_ids(ids, limit) or "(none)"


def solve_summary(result: Any, instance: Any) -> str:
    """What `siting solve` prints: the model, status, objective, bound and gap, the plan, the evaluator's recount."""
    spec, metrics = result.spec, result.metrics
    n_existing = int(instance.existing.sum())
    new_ids = result.new_site_ids
    lines = [
        (
            f"model       {spec.model} on {instance.name}: {result.n or instance.n} demand points, "
            f"{result.m or instance.m} candidate sites ({n_existing} existing)"
        ),
        f"status      {result.status.value}"
        + (f" (limit: {result.limit.value})" if result.limit.value != "none" else ""),
        f"objective   {_num(result.objective)}   bound {_num(result.bound)}   gap {_num(result.gap)}",
        f"solver      {result.solver} {result.solver_version}, {result.seconds:.2f} s",
        (
            f"new sites   {len(new_ids)}: {_ids(new_ids)}"
            if new_ids
            else "new sites   0: nothing to build (the plan opens no new site)"
        ),
        f"existing    {len(result.existing_site_ids)} open: {_ids(result.existing_site_ids)}",
    ]
    if metrics is not None:
        total = float(instance.weights.sum())
        if spec.model == "mclp" and getattr(spec, "decay_steps", None) is not None:
            from siting.models.formulations.decay import describe_steps

            share = 100 * (result.objective or 0.0) / total if total > 0 else 0.0
            check = (
                f"gradual coverage {result.objective:.10g} of {total:.10g} ({share:.1f} %), "
                f"step table: credit {describe_steps(spec.decay_steps)}"
            )
        elif spec.model == "mclp" and getattr(spec, "reach_max", None) is not None:
            share = 100 * (result.objective or 0.0) / total if total > 0 else 0.0
            check = (
                f"gradual coverage {result.objective:.10g} of {total:.10g} ({share:.1f} %), full within "
                f"{spec.reach_full:g}, none beyond {spec.reach_max:g}"
            )
        elif spec.model == "mclp" and getattr(result, "capacity", None) is not None:
            share = 100 * result.capacity.served_weight / total if total > 0 else 0.0
            check = (
                f"served weight {result.capacity.served_weight:.10g} of {total:.10g} ({share:.1f} %) "
                f"within {spec.radius:g} and the capacities"
            )
        elif spec.model == "mclp" and metrics.covered_weight is not None:
            share = 100 * metrics.covered_weight / total if total > 0 else 0.0
            check = (
                f"covered weight {metrics.covered_weight:.10g} of {total:.10g} ({share:.1f} %) within {spec.radius:g}"
            )
        elif spec.model == "lscp":
            check = f"{metrics.n_new} new sites costing {metrics.cost:.10g}; uncovered weight {_num(metrics.uncovered_weight)}"
        elif spec.model == "pcenter":
            check = f"largest distance to the nearest open site {metrics.max_distance:.10g}"
        else:
            check = f"total weighted distance {metrics.weighted_distance:.10g}, largest {metrics.max_distance:.10g}"
        verdict = "matches the solver" if getattr(result, "verified", True) else "DOES NOT match the solver"
        lines.append(f"evaluator   {check}: {verdict}")
        if metrics.violations:
            lines.append(f"violations  {'; '.join(metrics.violations)}")
    lines += capacity_lines(result, instance) + equity_lines(result) + robust_lines(result)
    if result.uncoverable_ids:
        lines.append(
            f"uncoverable {len(result.uncoverable_ids)} demand points no site can reach: {_ids(result.uncoverable_ids)}"
        )
    message = getattr(result, "message", "")
    if message:
        lines.append(f"note        {message}")
    return "\n".join(lines)
