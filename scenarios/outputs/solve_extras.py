"""Extra lines of `siting solve`'s text summary: capacity use, the equity report, the robust comparison."""

from __future__ import annotations

from typing import Any

import numpy as np


def capacity_lines(result: Any, instance: Any) -> list[str]:
    """Capacitated coverage: served weight, demand covered but without room, utilisation per facility."""
    cap = getattr(result, "capacity", None)
    if cap is None:
        return []
    lines = [
        f"served      weight {cap.served_weight:.10g}; covered but unserved for lack of room {cap.covered_unserved_weight:.10g}"
    ]
    util = cap.utilisation
    for j in np.flatnonzero(result.open_sites):
        room = "unlimited" if not np.isfinite(cap.capacity[j]) else f"{cap.capacity[j]:g} ({100 * util[j]:.0f} % used)"
        lines.append(f"facility    {instance.site_ids[j]}: load {cap.load[j]:g} of {room}")
    return lines


def equity_lines(result: Any) -> list[str]:
    """Equity models: each group's covered share before (unconstrained optimum) and after, the floor's cost."""
    eq = getattr(result, "stats", {}).get("equity")
    if not eq:
        return []
    lines = [
        f"group       {g['group']}: {100 * g['share_before']:.1f} % covered before, {100 * g['share_after']:.1f} % after"
        for g in eq["groups"]
    ]
    lines.append(
        f"equity      worst group {eq['worst_group']} at {100 * eq['worst_share_after']:.1f} % "
        f"(worst before {100 * eq['worst_share_before']:.1f} %); coverage given up for it {eq['floor_cost']:.10g}"
    )
    return lines


def robust_lines(result: Any) -> list[str]:
    """Robust plans: worst case, mean and nominal coverage of the robust plan against the nominal plan."""
    rb = getattr(result, "stats", {}).get("robust")
    if not rb:
        return []
    head = f"{rb['samples']} demand scenarios, noise {rb['population_noise']:g}, seed {rb['seed']}"
    return [
        f"robust      {head}: the {rb['objective']} case is maximised",
        (
            f"robust plan worst case {rb['robust_worst_case']:.10g}, mean {rb['robust_mean']:.10g}, "
            f"on the estimates {rb['robust_nominal']:.10g}"
        ),
        (
            f"nominal     plan worst case {rb['nominal_worst_case']:.10g}, mean {rb['nominal_mean']:.10g}, "
            f"on the estimates {rb['nominal_nominal']:.10g}"
        ),
    ]
