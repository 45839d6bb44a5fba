"""Greedy construction for p-median and maximal covering, plus the working distance table.

Both greedy rules add one site at a time, the one with the largest marginal gain (or gain per
unit cost under a budget), until ``p`` new sites are open or nothing affordable is left:

* p-median: ``gain_j = sum_i w_i max(0, d_i - d_ij)`` where ``d_i`` is the distance from demand
  ``i`` to its nearest open site (existing facilities are open from the start);
* MCLP: ``gain_j = sum_{i uncovered, d_ij <= R} w_i``.

The gain of every candidate is kept in one vector and, after a site ``s`` opens, updated only
from the demand rows whose nearest distance (coverage) changed, so a step costs
``O(|changed rows| * m)`` instead of ``O(n m)``.

:class:`DistanceTable` is the p-median working copy of the distances shared by the greedy,
interchange and Lagrangian code: only demand with positive weight that some eligible site can
reach, as a dense float64 array when ``n * m <= DENSE_LIMIT`` (float32 above that) or as CSR
for large sparse instances. Unreachable pairs get a large finite penalty ``U`` (see
:attr:`DistanceTable.big`) so that gains stay finite: reaching an unreached demand point is
worth ``w_i (U - d_ij)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import check_limits, check_radius
from siting.models.csr import csr_rows
from siting.models.instance import SitingInstance

# Above this many (demand x site) entries a dense instance is kept in float32 and a sparse one
# stays sparse; at or below it the heuristics work on a dense float64 copy.
DENSE_LIMIT = 4_000_000

# Entries of the table sorted at once by DistanceTable.sorted_rows.
SORT_BLOCK = 2_000_000

# Pairs gathered at once by DistanceTable.pairs_below (each of its index arrays is 8 bytes a pair).
PAIR_CHUNK = 1_000_000

# Relative tolerance used when comparing costs with a budget.
BUDGET_TOL = 1e-9


# --------------------------------------------------------------------------- argument checks
def affordable(cost: NDArray[np.float64], slack: float) -> NDArray[np.bool_]:
    """Sites whose cost fits in the remaining budget ``slack`` (with a relative tolerance)."""
    if not np.isfinite(slack):
        return np.ones(cost.shape, dtype=bool)
    return cost <= slack + BUDGET_TOL * max(1.0, abs(slack))


def pick_best(score: NDArray[np.float64], allowed: NDArray[np.bool_]) -> int:
    """Index of the largest ``score`` among ``allowed`` (lowest index on ties), -1 if none."""
    if not allowed.any():
        return -1
    masked = np.where(allowed, score, -np.inf)
    j = int(np.argmax(masked))
    return j if allowed[j] else -1


def ratio_score(gain: NDArray[np.float64], cost: NDArray[np.float64]) -> NDArray[np.float64]:
    """Gain per unit cost; a free site with positive gain scores ``+inf``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = gain / cost
    r = np.where(cost > 0, r, np.where(gain > 0, np.inf, 0.0))
    return r


# --------------------------------------------------------------------------- sorted rows
def count_below(vals: NDArray[np.floating], indptr: NDArray[np.int64], thr: NDArray[np.float64]) -> NDArray[np.int64]:
    """How many entries ``vals[t] < thr_i`` each row ``i`` of a ragged array sorted ascending per
    row has (they are a prefix of the row): a vectorized binary search, ``O(n log m)``."""
    lo = indptr[:-1].copy()
    hi = indptr[1:].copy()
    last = max(vals.size - 1, 0)
    while True:
        act = lo < hi
        if not act.any():
            break
        mid = (lo + hi) // 2
        go = act & (vals[np.minimum(mid, last)] < thr)
        lo = np.where(go, mid + 1, lo)
        hi = np.where(act & ~go, mid, hi)
    return np.asarray(lo - indptr[:-1], dtype=np.int64)


def gather_prefixes(starts: NDArray[np.int64], cnt: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row (0-based within ``starts``) and position of the first ``cnt_i`` entries of each row
    that begins at ``starts_i``, row by row, in ``O(#entries)``."""
    total = int(cnt.sum())
    prow = np.repeat(np.arange(cnt.size), cnt)
    offset = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return prow, starts[prow] + offset


def prefix_below(
    vals: NDArray[np.floating], indptr: NDArray[np.int64], thr: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Entries ``vals[t] < thr_i`` of every row ``i`` of a ragged array sorted ascending per row.

    Row ``i`` owns ``vals[indptr[i]:indptr[i+1]]``; its qualifying entries are a prefix, found by
    a vectorized binary search (``O(n log m)``) and gathered in ``O(#entries)``. Returns the row
    and the position (into ``vals``) of each entry, row by row.
    """
    return gather_prefixes(indptr[:-1], count_below(vals, indptr, thr))


def row_chunks(cnt: NDArray[np.int64], max_entries: int) -> list[tuple[int, int]]:
    """Consecutive row ranges ``[a, b)`` holding at most ``max_entries`` entries each (a single
    row with more is a range of its own): the rows' entries are gathered a range at a time, so
    the temporaries of a large gather stay bounded."""
    n = int(cnt.size)
    if n == 0:
        return []
    ends = np.cumsum(cnt)
    if int(ends[-1]) <= max_entries:
        return [(0, n)]
    out: list[tuple[int, int]] = []
    a = 0
    while a < n:
        base = int(ends[a - 1]) if a else 0
        b = int(np.searchsorted(ends, base + max_entries, side="right"))
        b = max(b, a + 1)
        out.append((a, b))
        a = b
    return out


def unreachable_penalty(dmax: float, w: NDArray[np.float64]) -> float:
    """The penalty ``U = (d_max + 1) (1 + W / w_min)`` of an unreachable pair, capped at
    ``1e7 (d_max + 1)`` (see :class:`DistanceTable`); ``w`` the active rows' weights."""
    wsum = float(w.sum()) if w.size else 0.0
    wmin = float(w.min()) if w.size else 1.0
    return (dmax + 1.0) * min(1.0 + wsum / wmin, 1e7)


# --------------------------------------------------------------------------- distance table
class DistanceTable:
    """Working distances of a p-median instance (internal to the heuristics).

    Rows are the *active* demand points: weight ``w_i > 0`` and at least one eligible
    (non-forbidden) site with a finite distance. Demand with positive weight that no eligible
    site reaches makes every plan's objective infinite; it is dropped here and flagged by
    :attr:`unreachable_weight`.

    Unreachable pairs carry the penalty ``U = (d_max + 1) (1 + W / w_min)`` (``d_max`` the
    largest finite distance of an active row, ``W`` the active weight), capped at
    ``1e7 (d_max + 1)``: one unreached demand point then costs more than every reachable
    assignment together, so local search first reaches everyone it can.

    Attributes
    ----------
    rows : (n_a,) indices of the active demand rows in the instance.
    w : (n_a,) their weights.
    big : the penalty ``U``.
    dense : (n_a, m) distances with ``U`` for unreachable pairs, or None when sparse.
    csr, csc : (n_a, m) stored (reachable) distances in float64 when sparse, else None.
    """

    def __init__(self, instance: SitingInstance, dense_limit: int | None = None) -> None:
        limit = DENSE_LIMIT if dense_limit is None else dense_limit
        self.m = instance.m
        allowed = instance.eligible
        w_all = instance.weights
        d = instance.distances
        make_dense = (not instance.is_sparse) or instance.n * instance.m <= limit
        if instance.is_sparse:
            csr = sp.csr_array(d)
            rows_all = csr_rows(csr)
            ok = allowed[csr.indices] & np.isfinite(csr.data)
            reach = np.bincount(rows_all[ok], minlength=instance.n) > 0
        else:
            reach = np.asarray(np.isfinite(d[:, allowed]).any(axis=1), dtype=bool)
        pos = w_all > 0
        self.unreachable_weight = float(w_all[pos & ~reach].sum())
        self.rows = np.flatnonzero(pos & reach)
        self.w = w_all[self.rows].astype(np.float64)
        self.n = int(self.rows.size)
        self.dense: NDArray[np.floating] | None = None
        self.csr: sp.csr_array | None = None
        self.csc: sp.csc_array | None = None
        if instance.is_sparse:
            sub = sp.csr_array(sp.csr_array(d)[self.rows], dtype=np.float64)
            sub.sort_indices()
            dmax = float(sub.data.max()) if sub.nnz else 0.0
        else:
            sub = None
            block = d[self.rows]
            fin = np.isfinite(block)
            dmax = float(block[fin].max()) if fin.any() else 0.0
        self.big = unreachable_penalty(dmax, self.w)
        if make_dense:
            dtype = np.float64 if instance.n * instance.m <= limit else np.float32
            if sub is not None:
                arr = np.full((self.n, self.m), self.big, dtype=dtype)
                r = csr_rows(sub)
                arr[r, sub.indices] = sub.data
            else:
                arr = np.asarray(d[self.rows], dtype=dtype)
                arr[~np.isfinite(arr)] = self.big
            self.dense = arr
        else:
            self.csr = sub
            self.csc = sp.csc_array(sub)
            self.csc.sort_indices()
        self._sorted: tuple[NDArray[np.floating], NDArray[np.int32], NDArray[np.int64]] | None = None

    def sorted_rows(self) -> tuple[NDArray[np.floating], NDArray[np.int32], NDArray[np.int64]]:
        """Each row's distances ascending (ties by site index) as a ragged array.

        Returns ``vals, cols, indptr``: row ``i`` owns ``vals[indptr[i]:indptr[i+1]]``. Dense
        rows hold all m sites (``U`` entries last); sparse rows only the stored pairs. Built once,
        on first use, a block of rows at a time (the sort's int64 positions never exist for the
        whole table), with 32-bit site numbers: on pcb3038 (3,038 x 3,038) the table is kept
        through the exact solve, and this saves 37 MB there and 74 MB more while it is built.
        """
        if self._sorted is None:
            if self.dense is not None:
                vals = np.empty(self.dense.shape, dtype=self.dense.dtype)
                cols = np.empty(self.dense.shape, dtype=np.int32)
                rows = max(1, SORT_BLOCK // max(1, self.m))
                for r0 in range(0, self.n, rows):
                    block = self.dense[r0 : r0 + rows]
                    order = np.argsort(block, axis=1, kind="stable")
                    cols[r0 : r0 + rows] = order
                    vals[r0 : r0 + rows] = np.take_along_axis(block, order, axis=1)
                indptr = np.arange(self.n + 1, dtype=np.int64) * self.m
                self._sorted = (vals.ravel(), cols.ravel(), indptr)
            else:
                assert self.csr is not None
                r = csr_rows(self.csr)
                order = np.lexsort((self.csr.indices, self.csr.data, r))
                self._sorted = (
                    self.csr.data[order],
                    self.csr.indices[order].astype(np.int32),
                    self.csr.indptr.astype(np.int64),
                )
        return self._sorted

    # ------------------------------------------------------------------ queries
    def gain_rows(self, rows: NDArray[np.int64] | None, d1: NDArray[np.float64]) -> NDArray[np.float64]:
        """``g_j = sum_{i in rows} w_i max(0, d1_i - d_ij)`` for every site j.

        ``rows`` None means every active row (then ``d1`` has length n_a).
        """
        w = self.w if rows is None else self.w[rows]
        if rows is not None and rows.size == 0:
            return np.zeros(self.m)
        if self.dense is not None:
            block = self.dense if rows is None else self.dense[rows]
            diff = d1[:, None] - block
            np.maximum(diff, 0.0, out=diff)
            return np.asarray(w @ diff, dtype=np.float64)
        assert self.csr is not None
        sub = self.csr if rows is None else self.csr[rows]
        r = csr_rows(sub)
        vals = w[r] * np.maximum(d1[r] - sub.data, 0.0)
        return np.bincount(sub.indices, weights=vals, minlength=self.m).astype(np.float64)

    def column(self, j: int) -> NDArray[np.float64]:
        """Distances from every active row to site ``j`` (``U`` where unreachable)."""
        if self.dense is not None:
            return np.asarray(self.dense[:, j], dtype=np.float64)
        assert self.csc is not None
        out = np.full(self.n, self.big)
        lo, hi = self.csc.indptr[j], self.csc.indptr[j + 1]
        out[self.csc.indices[lo:hi]] = self.csc.data[lo:hi]
        return out

    def pairs_below(
        self, thr: NDArray[np.float64], max_pairs: int | None = None
    ) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
        """All pairs (i, j) with ``d_ij < thr_i`` (via :meth:`sorted_rows`): rows, columns and
        distances, in chunks of consecutive rows of at most ``max_pairs`` pairs each (default
        :data:`PAIR_CHUNK`).

        With few open sites almost every pair lies below a row's second-nearest distance (pcb3038,
        p = 5: about half of 9.2 million); gathering them at once put 160 MB on that solve's peak.
        """
        vals, cols, indptr = self.sorted_rows()
        cnt = count_below(vals, indptr, thr)
        for a, b in row_chunks(cnt, PAIR_CHUNK if max_pairs is None else max_pairs):
            prow, ppos = gather_prefixes(indptr[a:b], cnt[a:b])
            yield prow + a, cols[ppos].astype(np.int64), vals[ppos].astype(np.float64)

    def nearest(self, open_mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Distance from every active row to its nearest open site (``U`` if none)."""
        return self.top2(np.arange(self.n), open_mask)[0]

    def top2(
        self, rows: NDArray[np.int64], open_mask: NDArray[np.bool_]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
        """Nearest and second-nearest open site of the given rows.

        Returns ``d1, phi1, d2, phi2``; a missing site has index -1 and distance ``U``. Ties go
        to the lowest site index.
        """
        k = rows.size
        cols = np.flatnonzero(open_mask)
        d1 = np.full(k, self.big)
        d2 = np.full(k, self.big)
        p1 = np.full(k, -1, dtype=np.int64)
        p2 = np.full(k, -1, dtype=np.int64)
        if k == 0 or cols.size == 0:
            return d1, p1, d2, p2
        if self.dense is not None:
            sub = np.asarray(self.dense[np.ix_(rows, cols)], dtype=np.float64)
            ar = np.arange(k)
            a1 = np.argmin(sub, axis=1)
            d1 = sub[ar, a1]
            p1 = cols[a1]
            if cols.size > 1:
                sub[ar, a1] = np.inf
                a2 = np.argmin(sub, axis=1)
                d2 = sub[ar, a2]
                p2 = cols[a2]
            return d1, p1, d2, p2
        assert self.csr is not None
        sub = self.csr[rows]
        r = csr_rows(sub)
        keep = open_mask[sub.indices]
        r, c, v = r[keep], sub.indices[keep].astype(np.int64), sub.data[keep]
        order = np.lexsort((c, v, r))
        r, c, v = r[order], c[order], v[order]
        cnt = np.bincount(r, minlength=k)
        start = np.searchsorted(r, np.arange(k))
        has1 = cnt >= 1
        d1[has1], p1[has1] = v[start[has1]], c[start[has1]]
        has2 = cnt >= 2
        d2[has2], p2[has2] = v[start[has2] + 1], c[start[has2] + 1]
        return d1, p1, d2, p2


# --------------------------------------------------------------------------- greedy p-median
def greedy_pmedian(instance: SitingInstance, p: int | None = None, budget: float | None = None) -> NDArray[np.bool_]:
    """Greedy (add) heuristic for the p-median problem.

    Starting from the existing facilities, repeatedly open the candidate ``j`` (eligible, not
    yet open) with the largest gain

    ``g_j = sum_i w_i max(0, d_i - d_ij)``,  ``d_i = min_{k open} d_ik``

    (or, with a budget, the largest ``g_j / c_j`` among sites with ``c_j <= budget - spent``;
    a free site with positive gain comes first). Ties go to the lowest site index.

    Stops after ``p`` new sites; with a budget also when nothing affordable is left or the best
    gain is 0. With neither ``p`` nor ``budget``, every eligible site is opened (which is then
    optimal). Unreachable pairs count with the penalty ``U`` of :class:`DistanceTable`.

    Parameters
    ----------
    instance : the instance.
    p : maximum number of new sites.
    budget : maximum total cost of new sites.

    Returns
    -------
    (m,) bool mask of open sites (existing included).
    """
    check_limits(p, budget, what="greedy_pmedian")
    open_mask = instance.existing.copy()
    cand = instance.eligible & ~instance.existing
    if p is None and budget is None:
        return open_mask | cand
    tab = DistanceTable(instance)
    d1 = tab.nearest(open_mask)
    gain = tab.gain_rows(None, d1)
    cost = instance.cost
    spent = 0.0
    limit = int(cand.sum()) if p is None else int(min(p, cand.sum()))
    for _ in range(limit):
        if budget is None:
            j = pick_best(gain, cand)
        else:
            ok = cand & affordable(cost, budget - spent)
            j = pick_best(ratio_score(gain, cost), ok)
            if j >= 0 and gain[j] <= 0:
                j = -1
        if j < 0:
            break
        open_mask[j] = True
        cand[j] = False
        spent += float(cost[j])
        col = tab.column(j)
        changed = np.flatnonzero(col < d1)
        if changed.size:
            old = d1[changed]
            new = col[changed]
            gain -= tab.gain_rows(changed, old)
            gain += tab.gain_rows(changed, new)
            d1[changed] = new
    return open_mask


# --------------------------------------------------------------------------- greedy MCLP
def coverage_float(instance: SitingInstance, radius: float) -> tuple[sp.csr_array, sp.csc_array]:
    """The coverage matrix ``a_ij = [d_ij <= R]`` as float64 CSR and CSC."""
    a = instance.coverage(radius)
    # float64 ones on the pattern's own index arrays (astype would copy them too)
    csr = sp.csr_array((np.ones(a.nnz), a.indices, a.indptr), shape=a.shape)
    csc = sp.csc_array(csr)
    return csr, csc


def greedy_mclp(
    instance: SitingInstance, radius: float, p: int | None = None, budget: float | None = None
) -> NDArray[np.bool_]:
    """Greedy heuristic for the maximal covering location problem.

    Starting from the existing facilities (their coverage counts), repeatedly open the
    candidate with the largest newly covered weight ``g_j = sum_{i uncovered, d_ij <= R} w_i``;
    with a budget the largest ``g_j / c_j`` among affordable sites. Stops after ``p`` new sites,
    when nothing affordable is left, or when no site adds coverage. Ties go to the lowest index.

    With a budget the result is the better of the ratio-greedy plan and the best single
    affordable site (the rule of Khuller, Moss & Naor 1999 that keeps the ratio greedy within a
    constant factor of the optimum).

    Returns
    -------
    (m,) bool mask of open sites (existing included).
    """
    check_limits(p, budget, what="greedy_mclp")
    check_radius(radius, allow_zero=True, what="greedy_mclp")
    a_csr, a_csc = coverage_float(instance, radius)
    w = instance.weights
    open_mask = instance.existing.copy()
    covered = (a_csr @ open_mask.astype(np.float64)) > 0
    gain = a_csr.T @ (w * ~covered)
    single_gain = gain.copy()
    cand = instance.eligible & ~instance.existing
    cost = instance.cost
    spent = 0.0
    steps = int(cand.sum()) if p is None else int(min(p, cand.sum()))
    for _ in range(steps):
        if budget is None:
            j = pick_best(gain, cand)
        else:
            j = pick_best(ratio_score(gain, cost), cand & affordable(cost, budget - spent))
        if j < 0 or gain[j] <= 0:
            break
        open_mask[j] = True
        cand[j] = False
        spent += float(cost[j])
        lo, hi = a_csc.indptr[j], a_csc.indptr[j + 1]
        rows = a_csc.indices[lo:hi]
        new = rows[~covered[rows]]
        if new.size:
            covered[new] = True
            gain -= a_csr[new].T @ w[new]
    if budget is not None and (p is None or p >= 1):
        base = instance.eligible & ~instance.existing
        j = pick_best(single_gain, base & affordable(cost, budget))
        if j >= 0:
            greedy_value = float(w[covered].sum())
            start_cov = (a_csr @ instance.existing.astype(np.float64)) > 0
            single_value = float(w[start_cov].sum()) + float(single_gain[j])
            if single_value > greedy_value:
                open_mask = instance.existing.copy()
                open_mask[j] = True
    return open_mask
