"""Lagrangian relaxation with subgradient optimization: proven bounds plus primal plans.

p-median (min). With ``x_ij`` the share of demand ``i`` served by site ``j``::

    min  sum_ij w_i d_ij x_ij
    s.t. sum_j x_ij = 1            (1) every demand is served       <- relaxed with u_i
         x_ij <= y_j               (2) only by an open site
         sum_{j new} y_j <= p      (3)   and/or   sum_{j new} c_j y_j <= budget   (3')
         y_j = 1 (existing), y_j = 0 (forbidden), x, y binary

Relaxing (1) with free multipliers ``u`` gives, for every ``u``,

    L(u) = sum_i u_i + sum_{j existing} rho_j + min { sum_j rho_j y_j : y satisfies (3)/(3') }
    rho_j = sum_i min(0, w_i d_ij - u_i)   (pairs with d_ij = inf contribute 0)

and ``L(u) <= OPT`` (weak duality): with (3) the inner minimum takes the ``p`` most negative
``rho_j``; with (3') and with both it is bounded below by the LP value of the knapsack (see
:func:`knapsack_select`). The multipliers follow the subgradient ``g_i = 1 - sum_j x_ij`` with
the Held-Karp step ``t = f (UB - L(u)) / ||g||^2``; ``f`` starts at 2 and halves after
``patience`` iterations without a bound better by a relative ``MIN_PROGRESS``; the run stops
when ``f < min_step``, at ``max_iter``, at the time limit, or when the bound meets ``UB``. The
sites chosen at an iteration form a feasible plan; those of the iterations that improve the bound
are evaluated exactly, and the best value is the upper bound ``UB`` (with the caller's).

MCLP (max). With ``z_i`` = demand ``i`` is covered and ``N_i`` the sites within the radius::

    max  sum_i w_i z_i
    s.t. z_i <= sum_{j in N_i} y_j   (1) covered only by an open site  <- relaxed with lambda_i >= 0
         (3) and/or (3') as above, existing open, forbidden closed, z <= 1

    L(lambda) = sum_i max(0, w_i - lambda_i) + sum_{j existing} sigma_j
                + max { sum_j sigma_j y_j : (3)/(3') },   sigma_j = sum_{i: j in N_i} lambda_i

``L(lambda) >= OPT`` for every ``lambda >= 0``; demand covered by an existing facility is a
constant and removed first. The subgradient is ``s_i = sum_{j in N_i} y_j - z_i``.

Every reported bound is the best over all iterations, shaved by a relative 1e-9 against
round-off, and rounded to the integer in the safe direction when all data are integers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import check_limits, check_radius
from siting.models.errors import ScenarioError
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics.greedy import (
    DistanceTable,
    affordable,
    coverage_float,
    greedy_mclp,
    greedy_pmedian,
    prefix_below,
    ratio_score,
)
from siting.optimizer.progress import PROGRESS_SECONDS, Every

ROUND_OFF = 1e-9
# A bound better by less than this (relative) does not reset the step-size patience.
MIN_PROGRESS = 1e-6


@dataclass(frozen=True, eq=False)
class LagrangianResult:
    """Outcome of a Lagrangian run: ``lower_bound <= OPT <= upper_bound``, both proven.

    Attributes
    ----------
    lower_bound : p-median: the Lagrangian lower bound; MCLP: ``best_value`` (a feasible plan).
    multipliers : (n,) the multipliers that gave the best bound (0 for rows not in the problem).
    best_mask : (m,) the best plan found (the start plan or an iteration's primal plan).
    best_value : its exact objective.
    iterations : subgradient iterations done.
    upper_bound : MCLP: the Lagrangian upper bound; p-median: ``best_value``.
    plans : the distinct primal plans of the last iterations that improved the bound, newest
        first (good starts for a local search).
    """

    lower_bound: float
    multipliers: NDArray[np.float64]
    best_mask: NDArray[np.bool_]
    best_value: float
    iterations: int
    upper_bound: float = math.inf
    plans: tuple[NDArray[np.bool_], ...] = ()


def knapsack_select(
    profit: NDArray[np.float64], cost: NDArray[np.float64], p: int | None, budget: float | None
) -> tuple[float, NDArray[np.float64], NDArray[np.bool_]]:
    """Bound, LP direction and plan for ``max sum_j profit_j y_j`` within ``p`` and/or ``budget``.

    ``profit >= 0``; the constraints are ``sum_j y_j <= p`` and ``sum_j c_j y_j <= budget``.

    Returns ``(value, y, mask)``:

    * ``value`` is at least the integer optimum: with ``p`` only the exact top-p sum; with a
      budget only the fractional-knapsack (LP) value; with both the smallest of those two and of
      ``F(mu) = mu * budget + (sum of the p largest max(0, profit_j - mu c_j))`` at the ``mu >= 0``
      found by golden-section search on the convex ``F`` (every ``F(mu)`` is an upper bound: the
      budget row relaxed with multiplier ``mu``; its minimum is the LP value).
    * ``y`` in [0, 1] is the maximizer behind ``value`` (fractional for the knapsack), used as
      the subgradient direction.
    * ``mask`` is a feasible selection: top-p, or the ratio-order prefixes that fit.
    """
    k = profit.size
    mask = np.zeros(k, dtype=bool)
    y = np.zeros(k)
    if k == 0:
        return 0.0, y, mask
    options: list[tuple[float, NDArray[np.float64]]] = []
    if p is not None:
        q = int(min(p, k))
        top = np.argsort(-profit, kind="stable")[:q]
        yc = np.zeros(k)
        yc[top] = 1.0
        options.append((float(profit[top].sum()), yc))
        if budget is None:
            mask[top] = True
    if budget is not None:
        order = np.lexsort((np.arange(k), -ratio_score(profit, cost)))
        order = order[profit[order] > 0]
        c = cost[order]
        cum = np.cumsum(c)
        full = cum <= budget * (1 + 1e-12)
        nfull = int(full.sum()) if full.all() else int(np.argmin(full))
        yb = np.zeros(k)
        yb[order[:nfull]] = 1.0
        value = float(profit[order[:nfull]].sum())
        if nfull < order.size and c[nfull] > 0:
            frac = max(0.0, budget - (cum[nfull - 1] if nfull else 0.0)) / float(c[nfull])
            value += float(profit[order[nfull]]) * frac
            yb[order[nfull]] = frac
        options.append((value, yb))
        # feasible plan: the longest ratio-order prefix that fits, then again among the items
        # that still fit in what is left (a few passes), at most p items in all
        left, room = order, budget
        limit = k if p is None else int(p)
        for _ in range(3):
            left = left[affordable(cost[left], room)]
            if left.size == 0 or limit <= 0:
                break
            fits = affordable(np.cumsum(cost[left]), room)
            take = left[: min(int(np.argmin(fits)) if not fits.all() else left.size, limit)]
            mask[take] = True
            room -= float(cost[take].sum())
            limit -= take.size
            left = left[take.size :]
        if p is not None and p > 0:
            options.append(_budget_dual(profit, cost, int(p), float(budget)))
    value, y = min(options, key=lambda t: t[0])
    return value, y, mask


def _top(values: NDArray[np.float64], q: int) -> NDArray[np.int64]:
    """Indices of the q largest values (any order)."""
    if q >= values.size:
        return np.arange(values.size)
    return np.argpartition(values, values.size - q)[values.size - q :]


def _budget_dual(
    profit: NDArray[np.float64], cost: NDArray[np.float64], p: int, budget: float, steps: int = 40
) -> tuple[float, NDArray[np.float64]]:
    """``min_{mu >= 0} F(mu)`` (see :func:`knapsack_select`) by golden-section search, and the
    top-p selection at that ``mu``."""

    def f(mu: float) -> float:
        v = np.maximum(profit - mu * cost, 0.0)
        return mu * budget + float(v[_top(v, p)].sum())

    pos = cost > 0
    lo, hi = 0.0, float((profit[pos] / cost[pos]).max()) if pos.any() else 0.0
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(steps if hi > lo else 0):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = f(b)
    cands = [(f(0.0), 0.0), (f(hi), hi), (fa, a), (fb, b)]
    val, mu = min(cands)
    v = profit - mu * cost
    y = np.zeros(profit.size)
    top = _top(np.maximum(v, 0.0), p)
    y[top[v[top] > 0]] = 1.0
    return val, y


def _integral(values: NDArray[np.floating]) -> bool:
    fin = values[np.isfinite(values)]
    return bool(np.all(fin == np.round(fin)))


# --------------------------------------------------------------------------- p-median
class SortedCosts:
    """Assignment costs ``c_ij = w_i d_ij`` of every active demand row, ascending, as a ragged array.

    Built from the sorted rows of a :class:`DistanceTable` (same order, since ``w_i > 0`` is a
    row constant), keeping only reachable pairs to eligible sites. Row ``i`` owns
    ``vals[indptr[i]:indptr[i+1]]``; the pairs with ``c_ij < u_i`` - the only ones in ``rho`` and
    in the subgradient - are a prefix of each row (:func:`prefix_below`).
    """

    def __init__(self, instance: SitingInstance, table: DistanceTable) -> None:
        d, c, ip = table.sorted_rows()
        rowid = np.repeat(np.arange(table.n), np.diff(ip))
        keep = (d < table.big) & instance.eligible[c]
        self.rowid = rowid[keep]
        d = np.asarray(d[keep], dtype=np.float64)
        self.integral = _integral(d) and _integral(table.w)
        self.vals = table.w[self.rowid] * d
        self.cols = c[keep]
        counts = np.bincount(self.rowid, minlength=table.n)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n = table.n

    def below(self, u: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Rows and positions (into ``vals`` / ``cols``) of all pairs with ``c_ij < u_i``."""
        return prefix_below(self.vals, self.indptr, u)

    def nearest_cost(self, mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        """``min_{j in mask} c_ij`` per row (inf if none): the first selected entry of each row."""
        out = np.full(self.n, np.inf)
        idx = np.flatnonzero(mask[self.cols])
        if idx.size:
            r = self.rowid[idx]
            first = np.concatenate([[True], r[1:] != r[:-1]])
            out[r[first]] = self.vals[idx[first]]
        return out

    def plan_value(self, mask: NDArray[np.bool_]) -> float:
        """``sum_i min_{j in mask} w_i d_ij`` (inf if a row is not served)."""
        return float(self.nearest_cost(mask).sum())


def lagrangian_pmedian(
    instance: SitingInstance,
    p: int | None,
    upper_bound: float | None = None,
    max_iter: int = 2000,
    time_limit: float | None = None,
    *,
    budget: float | None = None,
    start_mask: NDArray[np.bool_] | None = None,
    patience: int = 20,
    min_step: float = 1e-3,
    table: DistanceTable | None = None,
    progress: Callable[[str], None] | None = None,
) -> LagrangianResult:
    """Lagrangian lower bound for the p-median problem (see the module docstring).

    Parameters
    ----------
    instance : the instance.
    p : maximum number of new sites (``None`` with a budget).
    upper_bound : a known plan value (e.g. from greedy + interchange); sets the step size and
        lets the run stop once the bound meets it.
    max_iter, time_limit : limits of the subgradient loop.
    budget : maximum total cost of new sites.
    start_mask : a plan whose distances ``u_i = w_i d_i`` start the multipliers (default:
        :func:`greedy_pmedian`).
    patience : iterations without a better bound before the step factor halves.
    min_step : stop when the step factor falls below this.
    table : a prepared :class:`DistanceTable` of the instance (to share work).
    progress : called with the bound and the best plan every ``PROGRESS_SECONDS`` (a long run:
        13,509 clients with 8,106 sites each take seconds per iteration).

    Returns
    -------
    LagrangianResult with ``lower_bound`` (``inf`` when some demand with positive weight is
    out of reach of every eligible site, since every plan is then infinite).
    """
    t0 = time.perf_counter()
    check_limits(p, budget, what="lagrangian_pmedian")
    if p is None and budget is None:
        raise ScenarioError("lagrangian_pmedian: give p or a budget (with neither, open every eligible site)")
    deadline = math.inf if time_limit is None else t0 + float(time_limit)
    n, m = instance.n, instance.m
    existing = instance.existing
    cand = np.flatnonzero(instance.eligible & ~existing)
    ex_idx = np.flatnonzero(existing)
    if start_mask is None:
        start_mask = greedy_pmedian(instance, p, budget)
    start_mask = np.asarray(start_mask, dtype=bool)

    tab = table if table is not None else DistanceTable(instance)
    rows = SortedCosts(instance, tab)
    integral = rows.integral
    pos, w = tab.rows, tab.w
    dense_d = None if instance.is_sparse else (instance.distances if pos.size == n else instance.distances[pos])

    def plan_value(mask: NDArray[np.bool_]) -> float:
        cols = np.flatnonzero(mask)
        if pos.size == 0:
            return 0.0
        if cols.size == 0:
            return math.inf
        if dense_d is not None:
            return float(w @ dense_d[:, cols].min(axis=1).astype(np.float64))
        return rows.plan_value(mask)

    best_mask = start_mask.copy()
    best_value = plan_value(best_mask)
    mult = np.zeros(n)
    if tab.unreachable_weight > 0:  # every plan leaves some demand unserved
        return LagrangianResult(math.inf, mult, best_mask, math.inf, 0, upper_bound=math.inf)
    ub = best_value if upper_bound is None else min(float(upper_bound), best_value)

    # u_i = w_i d_i(start): the start plan's own assignment prices
    u = rows.nearest_cost(start_mask)
    u = np.where(np.isfinite(u), u, 0.0)

    lb = -math.inf
    best_u = u.copy()
    f = 2.0
    stall = 0
    it = 0
    seen: set[bytes] = set()
    plans: list[NDArray[np.bool_]] = []
    cost = instance.cost
    ticks = Every(PROGRESS_SECONDS, start=t0)
    for it in range(1, max_iter + 1):
        if progress is not None and ticks.due():
            progress(f"Lagrangian: bound {lb:.10g}, best plan {best_value:.10g} after {it - 1} iterations")
        # (1) relaxed, (2) folded into rho: rho_j = sum_i min(0, w_i d_ij - u_i); only the pairs
        # with w_i d_ij < u_i count
        prow, ppos = rows.below(u)
        pcol = rows.cols[ppos]
        rho = np.bincount(pcol, weights=rows.vals[ppos] - u[prow], minlength=m).astype(np.float64)
        # (3)/(3') kept: choose the new sites; existing ones are always in
        inner, ydir, pick = knapsack_select(-rho[cand], cost[cand], p, budget)
        value = float(u.sum() + rho[ex_idx].sum() - inner)
        slack = ROUND_OFF * (float(np.abs(u).sum()) + float(np.abs(rho).sum()) + 1.0)
        chosen = np.zeros(m, dtype=bool)
        chosen[ex_idx] = True
        chosen[cand[pick]] = True
        improved = value - slack > lb
        # a better bound resets the patience counter only if it is better by a relative 1e-6
        significant = value - slack > lb + MIN_PROGRESS * max(1.0, abs(lb)) if math.isfinite(lb) else True
        if improved:
            lb = value - slack
            best_u = u.copy()
            _remember(plans, chosen)
        if significant:
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                f *= 0.5
                stall = 0
        if improved:
            key = np.packbits(chosen).tobytes()
            if key not in seen:
                seen.add(key)
                val = plan_value(chosen)
                if val < best_value:
                    best_value, best_mask = val, chosen
                    ub = min(ub, val)
        # x_ij = y_j where c_ij < u_i (y fractional for a knapsack LP): served_i = sum_j x_ij
        yfull = np.zeros(m)
        yfull[ex_idx] = 1.0
        yfull[cand] = ydir
        served = np.bincount(prow, weights=yfull[pcol], minlength=pos.size)
        g = 1.0 - served
        norm = float(g @ g)
        if _closed(lb, ub, integral) or norm == 0.0 or f < min_step or time.perf_counter() > deadline:
            break
        target = ub if math.isfinite(ub) else value + max(1.0, 0.1 * abs(value))
        step = f * max(target - value, 1e-12 * max(1.0, abs(value))) / norm
        u = u + step * g
    bound = math.ceil(lb - 1e-6) if integral and math.isfinite(lb) else lb
    mult[pos] = best_u
    return LagrangianResult(
        float(bound), mult, best_mask, best_value, it, upper_bound=best_value, plans=tuple(plans[::-1])
    )


PLANS_KEPT = 5


def _remember(plans: list[NDArray[np.bool_]], chosen: NDArray[np.bool_]) -> None:
    """Keep the last PLANS_KEPT distinct plans (oldest first)."""
    for k, old in enumerate(plans):
        if np.array_equal(old, chosen):
            del plans[k]
            break
    plans.append(chosen.copy())
    if len(plans) > PLANS_KEPT:
        del plans[0]


def _closed(lb: float, ub: float, integral: bool) -> bool:
    if not math.isfinite(ub):
        return False
    if integral:
        return math.ceil(lb - 1e-6) >= ub - 1e-9
    return ub - lb <= 1e-9 * max(1.0, abs(ub))


# --------------------------------------------------------------------------- MCLP
def lagrangian_mclp(
    instance: SitingInstance,
    radius: float,
    p: int | None,
    lower_bound: float | None = None,
    max_iter: int = 1000,
    time_limit: float | None = None,
    *,
    budget: float | None = None,
    start_mask: NDArray[np.bool_] | None = None,
    patience: int = 20,
    min_step: float = 1e-3,
) -> LagrangianResult:
    """Lagrangian upper bound for maximal covering (see the module docstring).

    Parameters
    ----------
    instance, radius : the instance and the service radius.
    p : maximum number of new sites (``None`` with a budget).
    lower_bound : a known plan value (e.g. greedy + interchange) for the step size.
    max_iter, time_limit, patience, min_step : as :func:`lagrangian_pmedian`.
    budget : maximum total cost of new sites.
    start_mask : a feasible plan to start from (default :func:`greedy_mclp`).

    Returns
    -------
    LagrangianResult with ``upper_bound`` (proven) and the best plan found.
    """
    t0 = time.perf_counter()
    check_limits(p, budget, what="lagrangian_mclp")
    check_radius(radius, allow_zero=True, what="lagrangian_mclp")
    if p is None and budget is None:
        raise ScenarioError("lagrangian_mclp: give p or a budget (with neither, open every eligible site)")
    deadline = math.inf if time_limit is None else t0 + float(time_limit)
    n = instance.n
    a_csr, _ = coverage_float(instance, radius)
    w_all = instance.weights
    existing = instance.existing
    cand = np.flatnonzero(instance.eligible & ~existing)
    by_existing = (a_csr @ existing.astype(np.float64)) > 0
    coverable = (a_csr[:, cand] @ np.ones(cand.size)) > 0 if cand.size else np.zeros(n, dtype=bool)
    rows = np.flatnonzero(~by_existing & coverable & (w_all > 0))
    const = float(w_all[by_existing].sum())
    a = sp.csr_array(a_csr[rows][:, cand])  # (n_a, |cand|)
    w = w_all[rows]
    integral = _integral(w_all)
    cost = instance.cost[cand]

    def plan_value(mask: NDArray[np.bool_]) -> float:
        cov = (a_csr @ mask.astype(np.float64)) > 0
        return float(w_all[cov].sum())

    start = greedy_mclp(instance, radius, p, budget) if start_mask is None else np.asarray(start_mask, dtype=bool)
    best_mask, best_value = start.copy(), plan_value(start)
    lb = best_value if lower_bound is None else max(best_value, float(lower_bound))
    lam = w.copy()
    ub = math.inf
    best_lam = lam.copy()
    f, stall, it = 2.0, 0, 0
    seen: set[bytes] = set()
    plans: list[NDArray[np.bool_]] = []
    for it in range(1, max_iter + 1):
        sigma = a.T @ lam
        # (1) relaxed: sigma_j = sum_{i: j in N_i} lambda_i; (3)/(3') kept in the site choice
        inner, ydir, pick = knapsack_select(sigma, cost, p, budget)
        value = const + float(np.maximum(w - lam, 0.0).sum()) + inner
        slack = ROUND_OFF * (const + float(w.sum()) + inner + 1.0)
        chosen = existing.copy()
        chosen[cand[pick]] = True
        significant = value + slack < ub - MIN_PROGRESS * max(1.0, abs(ub)) if math.isfinite(ub) else True
        if value + slack < ub:
            ub = value + slack
            best_lam = lam.copy()
            _remember(plans, chosen)
        if significant:
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                f *= 0.5
                stall = 0
        key = np.packbits(chosen).tobytes()
        if key not in seen:
            seen.add(key)
            val = plan_value(chosen)
            if val > best_value:
                best_value, best_mask = val, chosen
                lb = max(lb, val)
        z = (w - lam) > 0
        s = a @ ydir - z
        norm = float(s @ s)
        done = (math.floor(ub + 1e-6) <= lb + 1e-9) if integral else (ub - lb <= 1e-9 * max(1.0, abs(ub)))
        if done or norm == 0.0 or f < min_step or time.perf_counter() > deadline:
            break
        step = f * max(value - lb, 1e-12 * max(1.0, value)) / norm
        lam = np.clip(lam - step * s, 0.0, w)
    bound = math.floor(ub + 1e-6) if integral and math.isfinite(ub) else ub
    total = float(w_all[by_existing | coverable].sum())
    bound = min(bound, total)
    mult = np.zeros(n)
    mult[rows] = best_lam
    return LagrangianResult(
        best_value, mult, best_mask, best_value, it, upper_bound=float(bound), plans=tuple(plans[::-1])
    )
