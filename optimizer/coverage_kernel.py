"""Kernel search for the MCLP: the covering MILP restricted to the sites an LP points at.

On city instances the heuristic (greedy + swap + Lagrangian) stops in a local optimum: at
10,000 x 1,000, p = 50, r = 500 m it finds 647,117 where plans of 649,519 exist, and neither
reduced-cost fixing (the LP's reduced costs are below the gap for every site, so nothing is
fixed) nor the master rounds close the difference. The LP relaxation knows where good plans
are: its support (the sites with ``y*_j > 0``, about 200 of 1,000) holds nearly every site of
the best plans. Kernel search (Angelelli, Mansini & Speranza 2010) solves the MILP on that
*kernel* K only::

    max  W_0 + sum_r w_r z_r   s.t.  z_r <= sum_{j in N_r ∩ K} y_j,  site limits,  y_j = 0 (j not in K)

which is the same model with every site outside K forbidden, so each of its plans is a plan of
the whole problem (its value is the true coverage). The restricted MILP is far smaller and its
LP far less fractional; HiGHS, warm-started from the incumbent (which lies in K), improves it.
Then *buckets* of further sites, ranked by LP value then reduced cost, join the kernel one at a
time while time is left, each solve warm-started from the best plan so far.

Nothing here is a bound: the restricted MILP's dual bound holds for K only. The proof stays
with the caller (the compact MILP or the Benders master, warm-started from the plan found here).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.result import SolveParams

Progress = Callable[[str], None]

#: LP values above this count as support of the LP point
_SUPPORT = 1e-6
#: sites per bucket, as a multiple of p (at least 20 sites)
_BUCKET_PER_P = 1.0


def mclp_start(problem: MilpProblem, mask: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    """The complete start vector of :func:`models.formulations.mclp` for an open-site mask:
    ``y = mask`` and ``z_r = min(1, sum_{j in N_r} y_j)`` (the best z for that y), no LP needed.
    None when the mask does not fit the problem's site bounds."""
    m = problem.site_cols.size
    z0, z1 = problem.blocks["z"]
    y = np.asarray(mask, dtype=np.float64)[:m]
    if (y < problem.col_lower[:m] - 1e-9).any() or (y > problem.col_upper[:m] + 1e-9).any():
        return None
    k = z1 - z0
    # rows 0..k-1 are  z_r - sum_{j in N_r} y_j <= 0
    cov = -(problem.A.tocsr()[:k, :m] @ y)
    x = np.concatenate([y, np.clip(cov, 0.0, 1.0)])
    if problem.max_violation(x) > 1e-6:
        return None
    return x


def covered_weight(instance: SitingInstance, radius: float, mask: NDArray[np.bool_]) -> float:
    """The weight a plan covers, recounted on the instance itself (the plan's true value)."""
    hit = np.asarray(instance.coverage(radius) @ np.asarray(mask, dtype=np.int8)) > 0
    return float(instance.weights[hit].sum())


def kernel_order(
    y: NDArray[np.float64], score: NDArray[np.float64] | None, allowed: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Allowed sites outside the LP support, best first: by reduced cost ``score`` (larger is
    better) when given, else by index."""
    rest = np.flatnonzero(allowed & (y <= _SUPPORT))
    if score is None:
        return rest
    return rest[np.argsort(-score[rest], kind="stable")]


def kernel_search(
    instance: SitingInstance,
    radius: float,
    p: int | None,
    budget: float | None,
    y: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    inc_mask: NDArray[np.bool_],
    inc: float,
    params: SolveParams,
    seconds: float | None,
    say: Progress,
    score: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.bool_], float, dict[str, Any]]:
    """Improve the incumbent ``inc_mask`` (value ``inc``) by kernel search (module docstring).

    ``y`` is an LP point over the m sites, ``allowed`` the sites a plan may open (new, eligible,
    not fixed closed), ``score`` optional reduced costs ranking the sites outside the support.
    Spends at most ``seconds`` (and never more than ``params`` has left). Returns the best plan,
    its value and statistics; the plan is the incumbent when nothing better was found.
    """
    from siting.models.formulations.mclp import mclp
    from siting.optimizer.registry import get_backend

    t0 = time.monotonic()
    stop = math.inf if seconds is None else t0 + max(seconds, 0.0)
    best_mask, best = np.asarray(inc_mask, dtype=bool).copy(), float(inc)
    kernel = allowed & ((y > _SUPPORT) | best_mask)
    order = kernel_order(y, score, allowed & ~kernel)
    size = max(20, round(_BUCKET_PER_P * (p if p is not None else 20)))
    stats: dict[str, Any] = {"kernel_sites": int(kernel.sum()), "kernel_rounds": 0}
    solve = get_backend("highs").solve
    for at in range(0, order.size + size, size):
        left = min(stop - time.monotonic(), params.remaining() or math.inf)
        if left <= 0.05:
            break
        trial = kernel.copy()
        trial[order[at - size : at] if at else order[:0]] = True  # the kernel, then kernel + one bucket
        problem = mclp(
            replace(instance, forbidden=instance.forbidden | ~(trial | instance.existing)), radius, p, budget
        )
        # the kernel gets most of the time, each bucket half of what is left
        sub = replace(params.within((0.6 if at == 0 else 0.5) * left if at < order.size else left), mip_gap=0.0)
        opts = {"mip_heuristic_effort": 0.05, **sub.options_for("highs")}  # the start is good: search the tree
        res = solve(problem, replace(sub, options={**sub.options, "highs": opts}), mclp_start(problem, best_mask))
        stats["kernel_rounds"] += 1
        if res.x is None:
            continue
        mask = problem.open_sites(res.x) | instance.existing
        val = covered_weight(instance, radius, mask)
        if val > best + 1e-9 * max(1.0, abs(best)):
            say(
                f"kernel search: {val:.10g} on {int(trial.sum())} sites (was {best:.10g}), {time.monotonic() - t0:.1f} s"
            )
            best_mask, best = mask, val
        kernel |= best_mask & allowed  # bucket sites the best plan uses stay in the kernel
    stats["kernel_seconds"] = round(time.monotonic() - t0, 3)
    stats["kernel_objective"] = best
    return best_mask, best, stats
