"""Extra lines of `siting solve`'s text summary: capacity use and the equity report."""

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
