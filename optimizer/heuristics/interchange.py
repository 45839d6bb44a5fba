"""Fast interchange (vertex substitution) local search for p-median and maximal covering.

A move closes an open new site ``k`` and opens a closed eligible site ``j`` (a *swap*), or only
opens ``j`` (an *add*, allowed while fewer than ``p`` new sites are open and the budget allows).
Existing facilities are never closed, forbidden sites never opened, and under a budget a swap
must keep ``cost(open new) - c_k + c_j <= budget``. Every iteration takes the best improving move
over *all* pairs (best improvement, Whitaker 1983; Resende & Werneck 2003 for the bookkeeping)
and stops at a local optimum, after ``max_iter`` moves or at ``time_limit``. The search is
deterministic.

p-median bookkeeping (Resende & Werneck). Per demand ``i`` keep its nearest open site
``phi1_i`` at distance ``d1_i`` and its second nearest at ``d2_i``. The decrease of
``sum_i w_i d_i`` when ``j`` enters and ``k`` leaves is

    profit(j, k) = gain_j - loss_k + extra_jk
    gain_j   = sum_i w_i max(0, d1_i - d_ij)
    loss_k   = sum_{i: phi1_i = k} w_i (d2_i - d1_i)
    extra_jk = sum_{i: phi1_i = k, d_ij < d2_i} w_i (d2_i - max(d_ij, d1_i))

``extra`` is non-zero only on the pairs with ``d_ij < d2_i`` - a prefix of each row's sorted
distances, found by a vectorized binary search (few pairs when p is large) - so it is built as a
sparse matrix, never as an m x p array. The best move is the larger of (a) the best pair with a
stored ``extra`` entry and (b) ``max_j gain_j - min_k loss_k`` over all pairs (a lower estimate
of the profit of the pairs in (a), exact for the others). Under a budget, (b) is the best pair
with ``c_j - c_k <= slack``, found by sorting the outgoing sites by cost. ``gain`` is updated only
from the rows whose ``d1`` changed, ``loss`` and ``extra`` are recomputed, so a move costs
``O(n log m + #pairs + |changed rows| m)`` rather than ``O(n m)``. Each move is verified by the
exact new objective; if round-off ever made an estimate wrong, the move is undone, ``gain`` is
recomputed from scratch and the search goes on (it stops if that happens twice in a row).

MCLP bookkeeping. Per demand the number ``c_i`` of open sites covering it, and its only coverer
when ``c_i = 1``; then ``gain_j`` = uncovered weight ``j`` covers, ``loss_k`` = weight only ``k``
covers, ``extra_jk`` = weight only ``k`` covers that ``j`` also covers.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import check_limits, check_radius
from siting.models.csr import csr_rows
from siting.models.errors import ScenarioError
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics.greedy import (
    BUDGET_TOL,
    DistanceTable,
    affordable,
)

DEFAULT_MAX_ITER = 100_000
# The incremental MCLP swap search keeps an (m, p) array of extras: used up to this many cells.
_SWAP_CELLS = 50_000_000


def check_start(
    instance: SitingInstance, start_mask: NDArray[np.bool_], p: int | None, budget: float | None, what: str
) -> NDArray[np.bool_]:
    """Validate a start plan: existing open, forbidden closed, within ``p`` and the budget."""
    mask = np.asarray(start_mask, dtype=bool)
    if mask.shape != (instance.m,):
        raise ScenarioError(f"{what}: start_mask has shape {mask.shape}, expected ({instance.m},): one flag per site")
    if (instance.existing & ~mask).any():
        ids = instance.site_ids[instance.existing & ~mask][:5]
        raise ScenarioError(
            f"{what}: start_mask closes existing facilities {', '.join(map(str, ids))}; "
            "existing facilities stay open (start from greedy_pmedian / greedy_mclp)"
        )
    if (instance.forbidden & mask).any():
        ids = instance.site_ids[instance.forbidden & mask][:5]
        raise ScenarioError(f"{what}: start_mask opens forbidden sites {', '.join(map(str, ids))}; close them")
    new = mask & ~instance.existing
    if p is not None and int(new.sum()) > p:
        raise ScenarioError(f"{what}: start_mask opens {int(new.sum())} new sites, more than p = {p}")
    spent = float(instance.cost[new].sum())
    if budget is not None and not affordable(np.array([spent]), float(budget))[0]:
        raise ScenarioError(f"{what}: start_mask costs {spent:g}, more than the budget {budget:g}")
    return mask.copy()


def best_move(
    gain: NDArray[np.float64],
    loss: NDArray[np.float64],
    pair_in: NDArray[np.int64],
    pair_out: NDArray[np.int64],
    pair_extra: NDArray[np.float64],
    can_in: NDArray[np.bool_],
    can_out: NDArray[np.bool_],
    cost: NDArray[np.float64],
    slack: float,
    can_add: bool,
) -> tuple[float, int, int]:
    """The best move: ``(profit, j_in, k_out)``, ``k_out = -1`` for an add, ``j_in = -1`` if none.

    ``pair_*`` are the aggregated non-zero ``extra_jk`` entries (already restricted to
    ``can_in`` x ``can_out``). ``slack`` = budget minus current cost (``inf`` without budget).
    The profit of (b) is a lower estimate for pairs with an extra entry, exact otherwise.
    """
    best = (-np.inf, -1, -1)
    ins = np.flatnonzero(can_in)
    outs = np.flatnonzero(can_out)
    tol = BUDGET_TOL * max(1.0, abs(slack)) if np.isfinite(slack) else 0.0
    # adds
    if can_add and ins.size:
        ok = ins[cost[ins] <= slack + tol]
        if ok.size:
            j = int(ok[np.argmax(gain[ok])])
            best = (float(gain[j]), j, -1)
    if ins.size == 0 or outs.size == 0:
        return best
    # (a) pairs with an extra entry
    if pair_in.size:
        prof = gain[pair_in] - loss[pair_out] + pair_extra
        if np.isfinite(slack):
            prof = np.where(cost[pair_in] - cost[pair_out] <= slack + tol, prof, -np.inf)
        t = int(np.argmax(prof))
        if prof[t] > best[0]:
            best = (float(prof[t]), int(pair_in[t]), int(pair_out[t]))
    # (b) all pairs, extra ignored
    if not np.isfinite(slack):
        j = int(ins[np.argmax(gain[ins])])
        k = int(outs[np.argmin(loss[outs])])
        val = float(gain[j] - loss[k])
    else:
        order = outs[np.lexsort((outs, cost[outs]))]
        oc = cost[order]
        suffix = np.minimum.accumulate(loss[order][::-1])[::-1]
        first = np.searchsorted(oc, cost[ins] - slack - tol, side="left")
        has = first < order.size
        if not has.any():
            return best
        vals = np.full(ins.size, -np.inf)
        vals[has] = gain[ins[has]] - suffix[first[has]]
        t = int(np.argmax(vals))
        j = int(ins[t])
        seg = order[first[t] :]
        k = int(seg[np.argmin(loss[seg])])
        val = float(vals[t])
    if val > best[0]:
        best = (val, j, k)
    return best


def _aggregate(
    j: NDArray[np.int64], k: NDArray[np.int64], v: NDArray[np.float64], m: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Sum duplicate (j, k) entries; returns the distinct pairs and their sums."""
    if j.size == 0:
        return j, k, v
    mat = sp.coo_array((v, (j, k)), shape=(m, m)).tocsr()
    mat.sum_duplicates()
    coo = mat.tocoo()
    return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data


def _swap_extras(
    tab: DistanceTable,
    w: NDArray[np.float64],
    d1: NDArray[np.float64],
    d2: NDArray[np.float64],
    p1: NDArray[np.int64],
    can_in: NDArray[np.bool_],
    can_out: NDArray[np.bool_],
    m: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """The aggregated ``extra_jk = sum_{i: phi1_i = k, d_ij < d2_i} w_i (d2_i - max(d_ij, d1_i))``
    over the swaps (j in, k out) allowed, gathered a chunk of pairs at a time (at most m x open
    distinct pairs survive each chunk, so the sum of chunks stays small)."""
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = []
    for r, c, v in tab.pairs_below(d2):
        k = p1[r]
        keep = can_in[c] & (k >= 0)
        keep[keep] = can_out[k[keep]]
        r, c, v, k = r[keep], c[keep], v[keep], k[keep]
        parts.append(_aggregate(c, k, w[r] * (d2[r] - np.maximum(v, d1[r])), m))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    if len(parts) == 1:
        return parts[0]
    j, k, v = (np.concatenate(x) for x in zip(*parts, strict=True))
    return _aggregate(j, k, v, m)


def _deadline(time_limit: float | None) -> float:
    return np.inf if time_limit is None else time.perf_counter() + float(time_limit)


# --------------------------------------------------------------------------- p-median
def interchange_pmedian(
    instance: SitingInstance,
    start_mask: NDArray[np.bool_],
    p: int | None = None,
    budget: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    time_limit: float | None = None,
    *,
    table: DistanceTable | None = None,
    stats: dict[str, float] | None = None,
) -> NDArray[np.bool_]:
    """Best-improvement swap local search for the p-median problem (see the module docstring).

    Parameters
    ----------
    instance : the instance.
    start_mask : (m,) feasible start plan (existing open, forbidden closed, within p / budget).
    p : maximum number of new sites; with ``p`` given and fewer new sites open, adds are tried.
    budget : maximum total cost of new sites.
    max_iter : maximum number of moves.
    time_limit : wall-clock seconds.
    table : a prepared :class:`DistanceTable` of the instance (to share work).
    stats : if given, receives ``moves`` and ``seconds``.

    Returns
    -------
    (m,) bool mask, a local optimum of ``sum_i w_i d_i`` for swaps and adds (unless stopped by a
    limit), never worse than ``start_mask``.
    """
    t0 = time.perf_counter()
    check_limits(p, budget, what="interchange_pmedian")
    open_mask = check_start(instance, start_mask, p, budget, "interchange_pmedian")
    deadline = _deadline(time_limit)
    tab = table if table is not None else DistanceTable(instance)
    moves = 0
    if tab.n == 0:
        if stats is not None:
            stats.update(moves=0, seconds=time.perf_counter() - t0)
        return open_mask
    w, cost, m = tab.w, instance.cost, instance.m
    eligible_new = instance.eligible & ~instance.existing
    d1, p1, d2, p2 = tab.top2(np.arange(tab.n), open_mask)
    gain = tab.gain_rows(None, d1)
    obj = float(w @ d1)
    scale = float(w.sum()) * max(1.0, float(np.max(d1[d1 < tab.big], initial=0.0)))
    tol = 1e-9 * max(1.0, scale)
    resynced = False
    while moves < max_iter and time.perf_counter() < deadline:
        new_mask = open_mask & ~instance.existing
        n_new = int(new_mask.sum())
        spent = float(cost[new_mask].sum())
        slack = np.inf if budget is None else float(budget) - spent
        can_in = eligible_new & ~open_mask
        can_out = new_mask
        can_add = p is None or n_new < p
        loss = _loss(p1, w, d1, d2, m)
        pj, pk, pv = _swap_extras(tab, w, d1, d2, p1, can_in, can_out, m)
        profit, j, kout = best_move(gain, loss, pj, pk, pv, can_in, can_out, cost, slack, can_add)
        if j < 0 or profit <= tol:
            break
        saved = (open_mask.copy(), d1.copy(), p1.copy(), d2.copy(), p2.copy())
        open_mask[j] = True
        if kout >= 0:
            open_mask[kout] = False
        col = tab.column(j)
        redo = (p1 == kout) | (p2 == kout) if kout >= 0 else np.zeros(tab.n, dtype=bool)
        c1 = ~redo & (col < d1)
        c2 = ~redo & ~c1 & (col < d2)
        d2[c1], p2[c1] = d1[c1], p1[c1]
        d1[c1], p1[c1] = col[c1], j
        d2[c2], p2[c2] = col[c2], j
        if redo.any():
            rows = np.flatnonzero(redo)
            d1[rows], p1[rows], d2[rows], p2[rows] = tab.top2(rows, open_mask)
        new_obj = float(w @ d1)
        if new_obj < obj - 0.5 * tol:
            changed = np.flatnonzero(d1 != saved[1])
            gain -= tab.gain_rows(changed, saved[1][changed])
            gain += tab.gain_rows(changed, d1[changed])
            obj = new_obj
            moves += 1
            resynced = False
            continue
        # The estimate drifted (round-off in the incremental gain): undo, resync, retry once.
        open_mask, d1, p1, d2, p2 = saved
        if resynced:
            break
        gain = tab.gain_rows(None, d1)
        resynced = True
    if stats is not None:
        stats.update(moves=moves, seconds=time.perf_counter() - t0)
    return open_mask


def _rows_that_count(instance: SitingInstance, radius: float) -> tuple[sp.csr_array, NDArray[np.bool_]]:
    """Float64 coverage rows of the demand with weight > 0 and a coverer; when every row counts
    (city scale) the pattern's own index arrays are shared rather than copied."""
    a = instance.coverage(radius)
    keep = (instance.weights > 0) & (np.diff(a.indptr) > 0)
    if keep.all():
        return sp.csr_array((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape), keep
    return sp.csr_array(a[np.flatnonzero(keep)], dtype=np.float64), keep


def _loss(
    p1: NDArray[np.int64], w: NDArray[np.float64], d1: NDArray[np.float64], d2: NDArray[np.float64], m: int
) -> NDArray[np.float64]:
    """``loss_k = sum_{i: phi1_i = k} w_i (d2_i - d1_i)`` (rows without an open site skipped)."""
    ok = p1 >= 0
    return np.bincount(p1[ok], weights=(w * (d2 - d1))[ok], minlength=m).astype(np.float64)


# --------------------------------------------------------------------------- MCLP
def interchange_mclp(
    instance: SitingInstance,
    radius: float,
    start_mask: NDArray[np.bool_],
    p: int | None = None,
    budget: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    time_limit: float | None = None,
    *,
    stats: dict[str, float] | None = None,
) -> NDArray[np.bool_]:
    """Best-improvement swap / add local search for the maximal covering problem.

    Maximizes the covered weight ``sum_i w_i [min_{j open} d_ij <= R]``; see the module
    docstring for the move evaluation. Parameters as :func:`interchange_pmedian`.

    Returns
    -------
    (m,) bool mask, never worse than ``start_mask``.
    """
    t0 = time.perf_counter()
    check_limits(p, budget, what="interchange_mclp")
    check_radius(radius, allow_zero=True, what="interchange_mclp")
    open_mask = check_start(instance, start_mask, p, budget, "interchange_mclp")
    deadline = _deadline(time_limit)
    a_csr, keep_rows = _rows_that_count(instance, radius)
    w = instance.weights[keep_rows]
    cost, m = instance.cost, instance.m
    eligible_new = instance.eligible & ~instance.existing
    if p is not None and m * max(p, 1) <= _SWAP_CELLS:
        # the same moves with incremental counts (swap_mclp): a move costs the changed rows only
        from siting.optimizer.heuristics.swap_mclp import swap_search_mclp

        open_mask, moves = swap_search_mclp(
            a_csr, w, open_mask, eligible_new, instance.existing, cost, p, budget, max_iter, deadline
        )
        if stats is not None:
            stats.update(moves=moves, seconds=time.perf_counter() - t0)
        return open_mask
    rows_of = csr_rows(a_csr)
    idx = np.arange(m, dtype=np.float64)
    tol = 1e-9 * max(1.0, float(w.sum()))
    moves = 0
    value = float(w @ ((a_csr @ open_mask.astype(np.float64)) > 0))
    while moves < max_iter and time.perf_counter() < deadline:
        of = open_mask.astype(np.float64)
        cnt = np.rint(a_csr @ of).astype(np.int64)
        who = np.rint(a_csr @ (of * idx)).astype(np.int64)  # the only coverer where cnt == 1
        one = cnt == 1
        gain = a_csr.T @ (w * (cnt == 0))
        loss = np.bincount(who[one], weights=w[one], minlength=m).astype(np.float64)
        new_mask = open_mask & ~instance.existing
        n_new = int(new_mask.sum())
        slack = np.inf if budget is None else float(budget) - float(cost[new_mask].sum())
        can_in = eligible_new & ~open_mask
        can_out = new_mask
        can_add = p is None or n_new < p
        sel = one[rows_of] & can_in[a_csr.indices]
        pr = rows_of[sel]
        pj = a_csr.indices[sel].astype(np.int64)
        pk = who[pr]
        ok = can_out[pk]
        pj, pk, pv = _aggregate(pj[ok], pk[ok], w[pr[ok]], m)
        profit, j, kout = best_move(gain, loss, pj, pk, pv, can_in, can_out, cost, slack, can_add)
        if j < 0 or profit <= tol:
            break
        trial = open_mask.copy()
        trial[j] = True
        if kout >= 0:
            trial[kout] = False
        new_value = float(w @ ((a_csr @ trial.astype(np.float64)) > 0))
        if new_value <= value + 0.5 * tol:
            break
        open_mask, value = trial, new_value
        moves += 1
    if stats is not None:
        stats.update(moves=moves, seconds=time.perf_counter() - t0)
    return open_mask
