"""Helpers of the exact p-median: whole-number costs, and the best plan over a few free sites by enumeration.

Used by :mod:`optimizer.benders_pmedian` once fixing and probing leave a small residual problem.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["best_completion", "enumerable", "integral_costs"]


def integral_costs(w: NDArray[np.float64], d: NDArray[np.floating]) -> bool:
    """Whether every ``w_i d_ij`` is an integer (checked in row blocks, no (n, k) float64 copy)."""
    rows = max(1, 4_000_000 // max(1, d.shape[1]))
    for r0 in range(0, d.shape[0], rows):
        wd = w[r0 : r0 + rows, None] * d[r0 : r0 + rows]
        if not np.all(np.abs(wd - np.round(wd)) < 1e-9):
            return False
    return True


def enumerable(n_free: int, slots: int, n: int, budget: float) -> bool:
    """Whether enumerating the plans over ``n_free`` sites with ``slots`` slots fits the budget."""
    r = max(0, min(slots, n_free))
    return math.comb(n_free, r) * max(r, 1) * n <= budget


def best_completion(
    d: NDArray[np.floating],
    w: NDArray[np.float64],
    open_now: NDArray[np.bool_],
    free: NDArray[np.int64],
    slots: int,
    budget: float,
) -> tuple[float, NDArray[np.int64]] | None:
    """Best plan opening ``min(slots, len(free))`` of the ``free`` columns next to ``open_now``.

    Distances are nonnegative, so opening a further site never hurts and only plans using every
    slot need to be evaluated: ``C(f, r)`` plans, valued in vectorized chunks as
    ``sum_i w_i min(b_i, min_{j in S} d_ij)`` with ``b_i`` the distance to the sites already open.
    Returns None when that costs more than ``budget`` distance look-ups.
    """
    r = max(0, min(slots, len(free)))
    if not enumerable(len(free), slots, d.shape[0], budget):
        return None
    base = d[:, open_now].min(axis=1) if open_now.any() else np.full(d.shape[0], np.inf)
    if r == 0:
        return float(np.dot(w, base)), free[:0]
    plans = np.array(list(itertools.combinations(range(len(free)), r)), dtype=np.int64).reshape(-1, r)
    dfree = d[:, free]
    chunk = max(1, int(4_000_000 // (d.shape[0] * r)))
    best_value, best_plan = np.inf, plans[0]
    for lo in range(0, len(plans), chunk):
        part = plans[lo : lo + chunk]
        near = np.minimum(base[:, None], dfree[:, part].min(axis=2))  # (n, plans in chunk)
        values = w @ near
        at = int(np.argmin(values))
        if values[at] < best_value:
            best_value, best_plan = float(values[at]), part[at]
    return best_value, free[best_plan]
