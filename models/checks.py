"""Checks every model shares, in one place: ids in messages, and the service radius, p and budget.

Each ``*_problem`` function returns one plain sentence naming the value and the fix (or None when
the value is fine), so a caller can collect every problem into one error (``check_spec``); each
``check_*`` function raises :class:`models.errors.ScenarioError` with that sentence at once. The
sentences speak to a planner at the command line (``--radius``, ``--p``, ``--budget``); ``what``
prefixes them with the function or model that refused the value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from siting.models.errors import ScenarioError


def show_ids(ids: Iterable[Any], limit: int = 5) -> str:
    """``'a, b, c (and 4 more)'``: the first ``limit`` ids of ``ids`` for a message, and how many more."""
    shown = [str(v) for v in ids]
    text = ", ".join(shown[:limit])
    return text + (f" (and {len(shown) - limit} more)" if len(shown) > limit else "")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def radius_problem(radius: Any, *, allow_zero: bool = False, finite: bool = False) -> str | None:
    """Why ``radius`` is not a service radius (a number, positive unless ``allow_zero``, finite if
    ``finite``), or None."""
    r = _number(radius)
    if r is not None and not math.isnan(r) and (r > 0 or (allow_zero and r == 0)) and (math.isfinite(r) or not finite):
        return None
    if finite and r is not None and math.isinf(r) and r > 0:
        return f"radius = {radius} must be a finite distance: give --radius a number"
    if allow_zero:
        return f"radius = {radius} must be a number >= 0 (a distance): give --radius >= 0"
    return f"radius = {radius} must be a positive number (a distance): give --radius > 0"


def p_problem(p: Any, *, min_p: int = 0) -> str | None:
    """Why ``p`` is not a number of new sites (a whole number >= ``min_p``), or None."""
    v = _number(p)
    if v is None or not math.isfinite(v) or v != int(v):
        return f"p = {p} is not a whole number of sites: give an integer --p"
    if v < min_p:
        return f"p = {int(v)} is too small: give --p {min_p} or more"
    return None


def budget_problem(budget: Any, *, finite: bool = False) -> str | None:
    """Why ``budget`` is not a budget (a number >= 0, finite if ``finite``), or None."""
    b = _number(budget)
    if b is not None and b >= 0 and (math.isfinite(b) or not finite):
        return None
    return f"budget = {budget} must be a {'finite ' if finite else ''}number >= 0: give --budget >= 0"


def _raise(problem: str | None, what: str) -> None:
    if problem is not None:
        raise ScenarioError(f"{what}: {problem}" if what else problem)


def check_radius(radius: Any, *, allow_zero: bool = False, what: str = "") -> float:
    """``radius`` as a float, or :class:`ScenarioError` from :func:`radius_problem`."""
    _raise(radius_problem(radius, allow_zero=allow_zero), what)
    return float(radius)


def check_limits(p: Any, budget: Any, *, min_p: int = 0, what: str = "") -> None:
    """:class:`ScenarioError` for a ``p`` or ``budget`` that is given but not valid (None passes)."""
    if p is not None:
        _raise(p_problem(p, min_p=min_p), what)
    if budget is not None:
        _raise(budget_problem(budget), what)
