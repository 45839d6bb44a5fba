"""A proven lower bound for a very large dense p-median at small p: the Lagrangian on every site.

The heuristic start of a very large p-median (:mod:`optimizer.pmedian_start`) runs its Lagrangian
on each client's nearest sites only, and that bound belongs to another problem. At small p the
Benders master's first LP is itself too large to solve (usa13509, p = 10: a cut per client over
thousands of sites each), so the run had no bound at all. This module computes one on the whole
instance, reading the instance's own dense matrix a block of rows at a time.

Relaxing each client's assignment row ``sum_j x_ij = 1`` with a multiplier ``u_i`` (in units of
``w_i d_ij``), every plan (y, x) with at most k new sites satisfies::

    sum_ij w_i d_ij x_ij = sum_i u_i + sum_ij (w_i d_ij - u_i) x_ij
                        >= sum_i u_i + sum_j y_j rho_j,      rho_j = sum_i min(0, w_i d_ij - u_i)

    L(u) = sum_i u_i + sum_{j existing} rho_j + (the k smallest rho_j of the eligible new sites)

since ``x_ij <= y_j`` and every ``rho_j <= 0``. So L(u) is a lower bound for *any* u, whatever the
precision of the search that found it (unreachable pairs have ``min(0, inf) = 0``). The
multipliers follow the subgradient ``g_i = 1 - #{j open in the relaxed plan : w_i d_ij < u_i}``
with Polyak steps ``theta (UB - L) / |g|^2`` (theta halved after STALL iterations without a better
bound). Each relaxed plan (the existing sites and the k sites of least rho) is also measured as a
plan. One iteration is one pass over the matrix: 0.45 s at 13,509 x 13,509 (usa13509, p = 10: 377
iterations in 172 s, to 398,498,911, 0.016 % below the optimum 398,561,730).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siting.models.instance import SitingInstance
from siting.optimizer import pmedian_start
from siting.optimizer.progress import PROGRESS_SECONDS, Every

#: halve the step factor after this many iterations without a better bound
STALL = 20
#: stop when the step factor falls below this
MIN_THETA = 1e-4
#: a bound counts as better when it gains this share of the gap to the best plan (tiny gains would
#: keep the step factor from ever falling)
MIN_GAIN = 1e-4


@dataclass(frozen=True)
class DenseBound:
    """The best bound L(u) found (already less a rounding margin), its multipliers, and the best
    relaxed plan met with its value."""

    bound: float
    multipliers: NDArray[np.float64]
    plan: NDArray[np.bool_]
    value: float
    iterations: int


def _rho(
    d: NDArray[np.floating], rows: NDArray[np.int64], w: NDArray[np.float64], u: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``rho_j = sum_i min(0, w_i d_ij - u_i)`` over ``rows`` (clients of positive weight)."""
    rho = np.zeros(d.shape[1])
    step = pmedian_start.ROW_BLOCK  # read at call time: one setting for every pass over the matrix
    for lo in range(0, rows.size, step):
        idx = rows[lo : lo + step]
        block = np.asarray(d[idx], dtype=np.float64)
        block *= w[idx, None]
        block -= u[idx, None]
        np.minimum(block, 0.0, out=block)  # an unreachable pair (inf) gives 0
        rho += block.sum(axis=0)
    return rho


def dense_lagrangian(
    instance: SitingInstance,
    p: int,
    multipliers: NDArray[np.float64],
    upper: float,
    stop_at: float | None,
    progress: Callable[[str], None] | None = None,
) -> DenseBound | None:
    """The subgradient search of the module docstring from ``multipliers`` (units of ``w_i d_ij``)
    until ``stop_at`` (a ``time.monotonic`` value; None: until the step factor is spent), with
    ``upper`` the value of a known plan (for the step). None when the instance has no row of
    positive weight or no time."""
    d = instance.distances
    w = np.maximum(np.asarray(instance.weights, dtype=np.float64), 0.0)
    rows = np.flatnonzero(w > 0).astype(np.int64)
    if rows.size == 0 or (stop_at is not None and time.monotonic() >= stop_at):
        return None
    say = progress or (lambda _msg: None)
    existing = np.flatnonzero(instance.existing)
    free = np.flatnonzero(instance.eligible & ~instance.existing)
    k = int(min(max(p, 0), free.size))
    u = np.where(w > 0, np.asarray(multipliers, dtype=np.float64), 0.0)
    u = np.where(np.isfinite(u), u, 0.0)
    best = DenseBound(-math.inf, u.copy(), instance.existing.copy(), math.inf, 0)
    theta, stall, it = 2.0, 0, 0
    ticks = Every(PROGRESS_SECONDS)
    t0 = time.monotonic()
    while theta >= MIN_THETA and (stop_at is None or time.monotonic() < stop_at):
        it += 1
        rho = _rho(d, rows, w, u)
        chosen = free[np.argsort(rho[free], kind="stable")[:k]] if k else free[:0]
        open_sites = np.concatenate([existing, chosen])
        bound = float(u[rows].sum() + rho[open_sites].sum())
        cols = np.asarray(d[:, open_sites], dtype=np.float64) if open_sites.size else np.full((d.shape[0], 1), np.inf)
        near = cols.min(axis=1)
        value = float(w[rows] @ near[rows])
        plan = np.zeros(instance.m, dtype=bool)
        plan[open_sites] = True
        if value < best.value:
            best = DenseBound(best.bound, best.multipliers, plan, value, it)
        gained = bound - best.bound
        if gained > 0:
            best = DenseBound(bound, u.copy(), best.plan, best.value, it)
        if gained > MIN_GAIN * max(abs(best.value - bound), 1e-12 * max(1.0, abs(bound))):
            stall = 0
        else:
            stall += 1
            if stall >= STALL:
                theta, stall = theta / 2.0, 0
        target = min(upper, best.value)
        g = np.zeros_like(u)
        g[rows] = 1.0 - (cols[rows] * w[rows, None] < u[rows, None]).sum(axis=1)
        norm = float(g @ g)
        if norm == 0.0 or target - bound <= 1e-12 * max(1.0, abs(target)):
            break  # u is optimal for its relaxation, or the bound meets a plan
        u = u + theta * (target - bound) / norm * g
        if ticks.due():
            say(
                f"Lagrangian on every site: bound {best.bound:.10g}, best plan {best.value:.10g}, "
                f"{it} iterations, {time.monotonic() - t0:.0f} s"
            )
    margin = 1e-9 * max(1.0, abs(best.bound))  # the float64 sums of L(u)
    return DenseBound(best.bound - margin, best.multipliers, best.plan, best.value, it)


def lagrangian_closed(
    instance: SitingInstance, p: int, multipliers: NDArray[np.float64], upper: float, plan: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """The eligible new sites that no plan better than ``upper`` opens, by the Lagrangian of the
    module docstring at ``multipliers`` (reduced-cost fixing).

    With ``L(u)`` the bound and ``rho_(k)`` the largest ``rho`` among the k relaxed-open new sites,
    every plan that opens a site ``j`` outside them is worth at least
    ``L_j(u) = L(u) + rho_j - rho_(k)`` (the relaxation with j forced in drops its worst site). A
    site with ``L_j(u) > upper - q`` is in no plan better than ``upper``, where ``q`` is 1 when every
    ``w_i d_ij`` is a whole number (plan values are then whole: a better plan is worth at most
    ``upper - 1``) and 0 otherwise; a float64 margin is kept. The sites of ``plan`` (the plan
    worth ``upper``) are never closed: with them the closed sites leave a problem whose optimum
    is the whole problem's. One pass over the matrix."""
    from siting.optimizer.pmedian_enumerate import integral_costs

    d = instance.distances
    w = np.maximum(np.asarray(instance.weights, dtype=np.float64), 0.0)
    rows = np.flatnonzero(w > 0).astype(np.int64)
    closed = np.zeros(instance.m, dtype=bool)
    free = np.flatnonzero(instance.eligible & ~instance.existing)
    k = int(min(max(p, 0), free.size))
    if rows.size == 0 or k == 0 or k == free.size or not math.isfinite(upper):
        return closed
    u = np.where(w > 0, np.asarray(multipliers, dtype=np.float64), 0.0)
    u = np.where(np.isfinite(u), u, 0.0)
    rho = _rho(d, rows, w, u)
    order = free[np.argsort(rho[free], kind="stable")]
    chosen = order[:k]
    bound = float(u[rows].sum() + rho[np.flatnonzero(instance.existing)].sum() + rho[chosen].sum())
    q = 1.0 if integral_costs(w, d) else 0.0
    margin = 1e-9 * max(1.0, abs(bound)) + 1e-9 * float(np.abs(rho).max(initial=0.0))
    forced_in = bound + rho[order[k:]] - rho[chosen[-1]]
    closed[order[k:][forced_in - margin > upper - q]] = True
    closed &= ~np.asarray(plan, dtype=bool)
    return closed
