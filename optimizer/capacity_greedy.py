"""A capacity-aware greedy plan for the capacitated MCLP: the MILP's warm start, and its fallback.

On a city-sized instance the capacitated MILP has a binary per pair within reach (73,000 on the
10,000 x 1,000 benchmark): the solver may need minutes to find its first plan. The greedy gives
one at once:

1. existing facilities take the demand within their reach first (they are open anyway);
2. then, while p and the budget allow, open the new site with the largest estimated gain
   ``min(room_j, unserved weight within reach of j)`` (per unit of cost when only a budget limits),
   and let it take unserved points within reach: unsplit, the heaviest points that fit (a prefix
   by descending weight), then the lightest that still fit; split, by descending weight with the
   last point taken in part.

Every step is a vectorized pass over the pairs (``np.bincount``, sorting one site's pairs); the
loop runs over opened sites only. The result is a feasible point of
:func:`models.formulations.capacitated_cover.capacitated_mclp` (same pair order).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from siting.models.formulations.capacitated_cover import effective_capacity, serving_pairs
from siting.models.formulations.lscp import new_eligible
from siting.models.instance import SitingInstance


def _take(weight: NDArray[np.float64], room: float, allow_split: bool) -> NDArray[np.float64]:
    """Shares (0..1) of the candidate points (``weight``, any order) that fit in ``room``."""
    out = np.zeros(weight.size)
    if weight.size == 0 or room <= 0:
        return out
    order = np.argsort(-weight, kind="stable")
    cum = np.cumsum(weight[order])
    fits = cum <= room + 1e-9
    out[order[fits]] = 1.0
    left = room - (cum[fits][-1] if fits.any() else 0.0)
    rest = order[~fits]
    if rest.size == 0 or left <= 0:
        return out
    if allow_split:
        out[rest[0]] = min(1.0, left / weight[rest[0]]) if weight[rest[0]] > 0 else 1.0
        return out
    small = rest[np.argsort(weight[rest], kind="stable")]  # then the lightest that still fit
    cum2 = np.cumsum(weight[small])
    out[small[cum2 <= left + 1e-9]] = 1.0
    return out


def greedy_capacitated(
    instance: SitingInstance, radius: float, p: int | None, budget: float | None, allow_split: bool
) -> tuple[NDArray[np.bool_], NDArray[np.float64], float]:
    """Open sites, the share of every pair (in :func:`serving_pairs` order) and the served weight."""
    rows, cols = serving_pairs(instance, radius)
    w = instance.weights
    pw = w[rows]
    cap = effective_capacity(instance, rows, cols)
    by_site = np.argsort(cols, kind="stable")
    start = np.searchsorted(cols[by_site], np.arange(instance.m + 1))
    share = np.zeros(rows.size)
    served = np.zeros(instance.n)  # share of each point served so far
    load = np.zeros(instance.m)
    is_open = instance.existing.copy()

    def fill(j: int) -> None:
        idx = by_site[start[j] : start[j + 1]]
        free = 1.0 - served[rows[idx]]
        idx = idx[free > (1e-9 if allow_split else 1.0 - 1e-9)]
        amount = pw[idx] * (1.0 - served[rows[idx]])
        got = _take(amount, cap[j] - load[j], allow_split)
        part = got * (1.0 - served[rows[idx]])
        share[idx] += part
        served[rows[idx]] += part
        load[j] += float(np.dot(amount, got))

    for ex in np.flatnonzero(instance.existing):
        fill(int(ex))
    new = new_eligible(instance)
    spent, count = 0.0, 0
    while p is None or count < p:
        todo = (1.0 - served[rows]) * pw if allow_split else np.where(served[rows] > 0, 0.0, pw)
        gain = np.minimum(np.bincount(cols, weights=todo, minlength=instance.m), cap - load)
        ok = new & ~is_open
        if budget is not None:
            ok &= instance.cost <= budget - spent + 1e-9
        score = np.where(ok, gain, -1.0)
        if p is None and budget is not None:
            score = np.where(ok, gain / np.maximum(instance.cost, 1e-12), -1.0)
        best = int(np.argmax(score))
        if score[best] <= 0 or gain[best] <= 0:
            break
        is_open[best] = True
        spent += float(instance.cost[best])
        count += 1
        fill(best)
    return is_open, share, float(np.dot(w, served))
