"""Window search for the MCLP: re-optimise a few neighbouring sites of a plan exactly, by a small MILP.

The swap search of the heuristic moves one site at a time and stops where no single swap helps.
On city instances the better plans differ from it by moving two or three neighbouring sites
together (one cluster re-arranged). A *window* around an open site s is

* G: the open sites whose coverage overlaps that of s (s included): the sites to re-place;
* W: every allowed site whose coverage overlaps that of a site in G: where they may go;
* R: the demand rows some site of W covers and no open site outside G covers.

With the other open sites F = plan - G held open, the best re-placement of G is the MCLP::

    max  sum_{r in R} w_r z_r   s.t.  z_r <= sum_{j in N_r ∩ W} y_j,  sum_{j in W} y_j <= |G|,
         (budget: sum_{j in W} c_j y_j <= B - c(F)),  y binary,  0 <= z <= 1

whose value plus the weight F covers is the value of the plan F + (the chosen sites); its size is
a few hundred rows and sites, so HiGHS solves it in well under a second. Windows are visited
around every open site in turn; a pass that improves nothing ends the search (a plan no window
improves), as does the time given. After the first pass a site's windows are solved again only
when a move changed a site within three overlaps of it (its window reaches that far; the others
would be solved on the same sites again, the one-more-site variant aside, whose closed site is
chosen over the whole plan). Each accepted plan is recounted on the whole instance.

This finds plans, not bounds. (A kernel search, the MILP on the ~200 sites of the LP support, was
tried first and found nothing in 30 CPU s at 10,000 x 1,000: the restricted MILP keeps the whole
LP gap, and HiGHS spent the time on root cuts.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.progress import PROGRESS_SECONDS, Every
from siting.optimizer.result import SolveParams

Progress = Callable[[str], None]

#: at most this many candidate sites in one window (the farthest-reaching overlaps are dropped)
_MAX_WINDOW = 250
#: at most this many open sites re-placed together
_MAX_GROUP = 7


def mclp_start(problem: MilpProblem, mask: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    """The complete start vector of :func:`models.formulations.mclp` for an open-site mask:
    ``y = mask`` held within the site bounds (a closed site is left out: that only frees p and
    budget) and ``z_r = min(1, sum_{j in N_r} y_j)`` (the best z for that y), no LP needed.
    None when the point breaks a row (a plan over p or the budget)."""
    m = problem.site_cols.size
    z0, z1 = problem.blocks["z"]
    y = np.clip(np.asarray(mask, dtype=np.float64)[:m], problem.col_lower[:m], problem.col_upper[:m])
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


def _left(params: SolveParams) -> float:
    """Seconds ``params`` has left (inf without a limit; 0 when spent, which is not "no limit")."""
    left = params.remaining()
    return math.inf if left is None else left


def _overlapping(cov: sp.csr_array, csc: sp.csc_array, sites: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sites covering some row that one of ``sites`` covers, with the number of such rows, most first."""
    if sites.size == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.unique(np.concatenate([csc.indices[csc.indptr[s] : csc.indptr[s + 1]] for s in sites]))
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    hits = np.bincount(cov[rows].indices, minlength=cov.shape[1])
    near = np.flatnonzero(hits)
    return near[np.argsort(-hits[near], kind="stable")].astype(np.int64)


def window_search(
    instance: SitingInstance,
    radius: float,
    p: int | None,
    budget: float | None,
    allowed: NDArray[np.bool_],
    inc_mask: NDArray[np.bool_],
    inc: float,
    params: SolveParams,
    seconds: float | None,
    say: Progress,
) -> tuple[NDArray[np.bool_], float, dict[str, Any]]:
    """Improve the plan ``inc_mask`` (value ``inc``) by window re-optimisation (module docstring).

    ``allowed`` are the sites a plan may open (new, eligible, not fixed closed). Spends at most
    ``seconds`` (never more than ``params`` has left). Returns the best plan, its value (recounted
    on the instance) and statistics.
    """
    from siting.optimizer.registry import get_backend

    t0 = time.monotonic()
    stop = math.inf if seconds is None else t0 + max(seconds, 0.0)
    cov = sp.csr_array(instance.coverage(radius), dtype=np.int8)
    csc = sp.csc_array(cov)
    w = instance.weights
    best_mask, best = np.asarray(inc_mask, dtype=bool).copy(), float(inc)
    solve = get_backend("highs").solve
    stats: dict[str, Any] = {"windows": 0, "window_moves": 0, "windows_unchanged": 0}
    # an open site whose windows were solved without a move stays clean until a move changes a site
    # within three overlaps of it (its window reaches that far); a pass visits the dirty ones only
    dirty = np.ones(instance.m, dtype=bool)
    improved = True
    ticks = Every(PROGRESS_SECONDS)
    while improved:
        improved = False
        for s in np.flatnonzero(best_mask & allowed):
            if not dirty[s]:
                stats["windows_unchanged"] += 1
                continue
            left = min(stop - time.monotonic(), _left(params))
            if left <= 0.05:
                improved = False
                break
            if ticks.due():  # windows of a large city take seconds each
                say(
                    f"window search: {stats['windows']} windows solved, best {best:.10g}, {time.monotonic() - t0:.1f} s"
                )
            if not best_mask[s]:
                continue  # moved by an earlier window of this pass
            # two hops: the open sites overlapping a site that overlaps s (within about 4 radii)
            near = _overlapping(cov, csc, _overlapping(cov, csc, np.array([s]))[:_MAX_WINDOW])
            group = np.concatenate([[s], near[best_mask[near] & allowed[near] & (near != s)][: _MAX_GROUP - 1]])
            window = _overlapping(cov, csc, group)
            window = np.union1d(window[allowed[window]][:_MAX_WINDOW], group)
            moved = False
            for extra in (0, 1) if p is not None and budget is None else (0,):
                fixed = best_mask.copy()
                fixed[group] = False
                if extra:  # one more site here, the open site losing least elsewhere closed
                    cnt = cov @ best_mask.astype(np.int8)
                    only = np.flatnonzero(cnt == 1)
                    who = csr_rows_owner(cov, only, best_mask)
                    loss = np.bincount(who, weights=w[only], minlength=instance.m)
                    out = np.flatnonzero(fixed & allowed)
                    if out.size == 0:
                        continue
                    fixed[out[np.argmin(loss[out])]] = False
                trial = _solve_window(instance, radius, cov, csc, window, group, fixed, p, budget, extra, solve, params)
                stats["windows"] += 1
                if trial is None or (p is not None and int((trial & ~instance.existing).sum()) > p):
                    continue
                if np.array_equal(trial, best_mask):
                    continue  # the window's sites are already placed best
                val = covered_weight(instance, radius, trial)
                if val > best + 1e-9 * max(1.0, abs(best)):
                    changed = np.flatnonzero(trial != best_mask)
                    dirty[_overlapping(cov, csc, _overlapping(cov, csc, _overlapping(cov, csc, changed)))] = True
                    best_mask, best = trial, val
                    improved = moved = True
                    stats["window_moves"] += 1
                    say(
                        f"window search: {best:.10g} ({int(group.size)}+{extra} sites re-placed), {time.monotonic() - t0:.1f} s"
                    )
                    break
            if not moved:
                dirty[s] = False
    stats["window_seconds"] = round(time.monotonic() - t0, 3)
    say(f"window search done: {stats['windows']} windows solved, best {best:.10g}, {stats['window_seconds']:.1f} s")
    return best_mask, best, stats


def csr_rows_owner(cov: sp.csr_array, rows: NDArray[np.int64], open_mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """For rows covered by exactly one open site, that site."""
    sub = sp.csr_array(cov[rows])
    lengths = np.diff(sub.indptr)
    owner_row = np.repeat(np.arange(rows.size), lengths)
    hit = open_mask[sub.indices]
    out = np.zeros(rows.size, dtype=np.int64)
    out[owner_row[hit]] = sub.indices[hit]
    return out


def _solve_window(
    instance: SitingInstance,
    radius: float,
    cov: sp.csr_array,
    csc: sp.csc_array,
    window: NDArray[np.int64],
    group: NDArray[np.int64],
    fixed: NDArray[np.bool_],
    p: int | None,
    budget: float | None,
    extra: int,
    solve: Any,
    params: SolveParams,
) -> NDArray[np.bool_] | None:
    """The plan ``fixed`` + the best ``|group| + extra`` sites of ``window`` (None if no answer)."""
    from siting.models.formulations.mclp import mclp

    # rows some window site covers, not covered by the sites staying open
    rows = np.unique(np.concatenate([csc.indices[csc.indptr[j] : csc.indptr[j + 1]] for j in window]))
    rows = rows[(cov[rows] @ fixed.astype(np.int8)) == 0]
    if rows.size == 0:
        return None
    keep = np.zeros(instance.m, dtype=bool)
    keep[window] = True
    sub = replace(
        instance,
        distances=sp.csr_array(instance.distances[rows]) if instance.is_sparse else instance.distances[rows],
        weights=instance.weights[rows],
        demand_ids=np.arange(rows.size),
        existing=np.zeros(instance.m, dtype=bool),
        forbidden=~keep,
        groups=None,
    )
    sub_budget = None if budget is None else float(budget) - float(instance.cost[fixed & ~instance.existing].sum())
    problem = mclp(sub, radius, p=None if p is None else int(group.size) + extra, budget=sub_budget)
    start = np.zeros(instance.m, dtype=bool)
    start[group] = True
    left = params.remaining()
    sub_params = replace(params.within(5.0 if left is None else min(left, 5.0)), mip_gap=0.0)
    res = solve(problem, sub_params, mclp_start(problem, start))
    if res.x is None:
        return None
    return fixed | problem.open_sites(res.x)


def lscp_window_search(
    instance: SitingInstance,
    radius: float,
    objective: str,
    allowed: NDArray[np.bool_],
    inc_mask: NDArray[np.bool_],
    params: SolveParams,
    seconds: float | None,
    say: Progress,
) -> tuple[NDArray[np.bool_], dict[str, Any]]:
    """The window search for a cover (LSCP): the group G of neighbouring open sites is closed and
    the rows only G covered are covered again, at least cost (``objective``: cost or count), by the
    sites of the window W (a small set-covering MILP warm-started from G itself). A pass over every
    open site that lowers nothing ends it. Returns the cheaper cover and statistics."""
    from siting.models.formulations.lscp import lscp
    from siting.optimizer.registry import get_backend

    t0 = time.monotonic()
    stop = math.inf if seconds is None else t0 + max(seconds, 0.0)
    cov = sp.csr_array(instance.coverage(radius), dtype=np.int8)
    csc = sp.csc_array(cov)
    f = instance.cost if objective == "cost" else np.ones(instance.m)
    best = np.asarray(inc_mask, dtype=bool).copy()
    solve = get_backend("highs").solve
    stats: dict[str, Any] = {"windows": 0, "window_moves": 0}
    improved = True
    ticks = Every(PROGRESS_SECONDS)
    while improved:
        improved = False
        for s in np.flatnonzero(best & allowed):
            left = min(stop - time.monotonic(), _left(params))
            if left <= 0.05:
                improved = False
                break
            if ticks.due():
                cost_now = float(f[best & ~instance.existing].sum())
                say(
                    f"window search: {stats['windows']} windows solved, cover {cost_now:.10g}, {time.monotonic() - t0:.1f} s"
                )
            if not best[s]:
                continue
            near = _overlapping(cov, csc, np.array([s]))
            group = np.concatenate([[s], near[best[near] & allowed[near] & (near != s)][: _MAX_GROUP - 1]])
            window = _overlapping(cov, csc, group)
            window = np.union1d(window[allowed[window]][:_MAX_WINDOW], group)
            fixed = best.copy()
            fixed[group] = False
            rows = np.unique(np.concatenate([csc.indices[csc.indptr[j] : csc.indptr[j + 1]] for j in group]))
            rows = rows[((cov[rows] @ fixed.astype(np.int8)) == 0) & (instance.weights[rows] > 0)]
            if rows.size == 0:  # the group is redundant: close it
                trial = fixed
            else:
                keep = np.zeros(instance.m, dtype=bool)
                keep[window] = True
                sub = replace(
                    instance,
                    distances=sp.csr_array(instance.distances[rows])
                    if instance.is_sparse
                    else instance.distances[rows],
                    weights=instance.weights[rows],
                    demand_ids=np.arange(rows.size),
                    existing=np.zeros(instance.m, dtype=bool),
                    forbidden=~keep,
                    groups=None,
                )
                problem = lscp(sub, radius, objective=objective)  # type: ignore[arg-type]
                start = np.zeros(instance.m)
                start[group] = 1.0
                start = np.clip(start, problem.col_lower, problem.col_upper)
                sub_params = replace(params.within(min(left, 5.0)), mip_gap=0.0)
                res = solve(problem, sub_params, start if problem.max_violation(start) <= 1e-9 else None)
                stats["windows"] += 1
                if res.x is None:
                    continue
                trial = fixed | problem.open_sites(res.x)
            new_cost, old_cost = float(f[trial & ~instance.existing].sum()), float(f[best & ~instance.existing].sum())
            covered = (cov @ trial.astype(np.int8)) > 0
            needed = ((cov @ best.astype(np.int8)) > 0) & (instance.weights > 0)
            if new_cost < old_cost - 1e-9 * max(1.0, old_cost) and bool(covered[needed].all()):
                best, improved = trial, True
                stats["window_moves"] += 1
                say(f"window search: cover of {new_cost:.10g} (was {old_cost:.10g}), {time.monotonic() - t0:.1f} s")
    stats["window_seconds"] = round(time.monotonic() - t0, 3)
    return best, stats
