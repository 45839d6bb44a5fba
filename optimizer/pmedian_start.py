"""The heuristic start of a very large dense p-median, on each client's nearest sites only.

The heuristics keep dense (n, m) working copies (sorted rows, gains), fine up to a few thousand
points but not at 13,509 x 13,509 (usa13509), where they peaked at 11 GB. The start only has to
give the Benders path a plan and Lagrangian multipliers (levels for its first cuts), so it runs
on a *truncated* instance: client ``i`` keeps its ``width`` nearest eligible sites, and every
other pair is treated as unreachable.

What stays valid: the plan is a plan of the full instance (its true value is measured there);
any multiplier is a valid cut level for the Benders master (the master caps levels at each
client's stored sites). What does not: the heuristic's Lagrangian *bound* on the truncated
instance bounds a different problem (unstored pairs cost more there than in truth), so it is
never used as a bound.

Which plan: a plan that leaves some client without an open site among its stored ones is
infinite on the truncated instance, however good it is in truth; at small p (usa13509, p = 10,
1,850 sites per client) the Lagrangian's own best plan was then its greedy start, 581 million
against an optimum of 399 million. So :func:`truncated_start` measures the Lagrangian's last
primal plans on the whole instance and keeps the best of them there. Those plans (the p sites of
most negative reduced cost) were still no better there, so at small p the start adds the greedy
on every site (:func:`dense_greedy`, row blocks of the instance's own matrix: seconds, no copy)
and the exact optima of random samples of the instance (:mod:`optimizer.pmedian_sample`), and
improves the best plan by the swap search on every site (:func:`dense_swap`, the same row blocks).
At usa13509, p = 10 the swap search took the greedy's 427.7 million to a local optimum, 401.9
million, in 34 swaps and 90 s; from the best sample's plan (404.7 million) it reached the optimum,
398,561,730, in 31 swaps and 112 s. The Lagrangian on every site
(:mod:`optimizer.pmedian_dense_bound`) then bounds the whole problem, and with that bound and the
start's value :func:`optimizer.solve` leaves out the sites no better plan opens.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics.greedy import unreachable_penalty
from siting.optimizer.pmedian_separator import RadiusSeparator
from siting.optimizer.progress import PROGRESS_SECONDS, Every
from siting.optimizer.result import SolveParams

#: each client keeps its nearest max(START_MIN_WIDTH, START_WIDTH * sites / p) sites ...
START_WIDTH, START_MIN_WIDTH = 6.0, 64
#: ... and at most this many pairs are kept in all: at usa13509, p = 10 the width above (8,106 sites
#: per client, 110 million pairs) made the start's sorted working copies peak at 11.6 GB and take 180 s
START_PAIRS = 25_000_000
#: the greedy on every site is tried while p x clients x sites stays below this (usa13509, p = 10:
#: 1.8e9, under 17 s with the plans' values; p = 2000 would be 200 times that)
GREEDY_WORK = 5e9
#: rows of the distance matrix read at once by :func:`dense_greedy`, :func:`dense_swap` and the
#: Lagrangian on every site (:mod:`optimizer.pmedian_dense_bound`)
ROW_BLOCK = 512


def truncated_instance(instance: SitingInstance, width: int) -> SitingInstance:
    """The instance with only each client's ``width`` nearest eligible sites stored (sparse CSR).

    Forbidden sites are dropped from the stored pairs (they can never open), as are unreachable
    ones. The nearest sites come from the Benders path's own selection
    (:class:`~siting.optimizer.pmedian_separator.RadiusSeparator`, built in row blocks: no (n, m)
    temporary); the result holds at most ``n * width`` pairs.
    """
    # the instance's own float32 matrix (dense_distances() would be a float64 copy of it)
    d = instance.dense_distances() if instance.is_sparse else instance.distances
    sep = RadiusSeparator(d, active=instance.eligible, width=max(1, int(width)))
    keep = np.isfinite(sep.dist)
    # straight into CSR (each row's pairs are a row of sep.order): no (row, column) coordinate
    # arrays, which cost 0.9 GB and a sort of 109 million pairs at usa13509, p = 10
    indptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1), dtype=np.int64)])
    index = np.int32 if indptr[-1] < np.iinfo(np.int32).max else np.int64  # one index type, no upcast copy
    csr = sp.csr_array(
        (sep.dist[keep].astype(np.float32, copy=False), sep.order[keep].astype(index), indptr.astype(index)),
        shape=d.shape,
    )
    csr.sort_indices()  # in place, row by row
    return dataclasses.replace(instance, distances=csr)


def start_width(n: int, m: int, p: int | None) -> int:
    """How many nearest sites each of ``n`` clients keeps for the start (of ``m``, with ``p``)."""
    width = max(START_MIN_WIDTH, math.ceil(START_WIDTH * m / max(1, p or 1)))
    return min(width, max(START_MIN_WIDTH, START_PAIRS // max(1, n)))


def truncated_start(
    instance: SitingInstance,
    p: int | None,
    budget: float | None,
    params: SolveParams,
    share: float,
    progress: Callable[[str], None] | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.float64], float | None]:
    """The start plan, Lagrangian multipliers and (at small p) a proven lower bound of a very
    large p-median ``instance``: the subgradient method on its :func:`truncated_instance`
    (:func:`start_width` sites per client) within ``share`` of the time ``params`` leave after the
    truncation, then the best of its primal plans (its best plan on the nearest sites and the plans
    of its last improving iterations, with the greedy on every site at small p) measured on
    ``instance`` (see the module docstring). At small p the plan is then improved by swaps on every
    site, and the Lagrangian on every site (:mod:`optimizer.pmedian_dense_bound`, a share of the
    time each) gives the bound and the multipliers; otherwise the bound is None (the truncated
    instance's bound bounds another problem).

    The Lagrangian alone, without the swap searches: at usa13509, p = 2000 it took 28 s of a 94 s
    share, and its multipliers make the Benders LP converge fast.
    """
    from siting.optimizer.heuristics.lagrangian import lagrangian_pmedian

    say = progress or (lambda _msg: None)
    width = start_width(instance.n, instance.m, p)
    t0 = time.monotonic()
    near = truncated_instance(instance, width)
    say(
        f"heuristic start on each demand point's {min(width, instance.m):,} nearest sites "
        f"({near.distances.nnz:,} pairs) in {time.monotonic() - t0:.1f} s"
    )
    left = params.remaining()
    lag = lagrangian_pmedian(
        near, p, time_limit=None if left is None else share * left, budget=budget, progress=progress
    )
    plans = [lag.best_mask, *lag.plans]
    small = budget is None and p is not None and not instance.is_sparse and p * instance.n * instance.m <= GREEDY_WORK

    def stop_at() -> float | None:
        left = params.remaining()
        return None if left is None else time.monotonic() + share * left

    if small and p is not None:
        from siting.optimizer.pmedian_sample import SAMPLE_SIZE, sample_plans

        plans.append(dense_greedy(instance, p))
        if instance.n > SAMPLE_SIZE:  # (a sample's own solve then never samples again)
            # the exact optima of random samples: the swap search from the greedy plan stops in a
            # local optimum (usa13509, p = 10: 0.83 % above the optimum), from a sample's plan it
            # reached the optimum (optimizer.pmedian_sample)
            plans.extend(sample_plans(instance, p, stop_at(), params.seed, progress, size=SAMPLE_SIZE))
    values = [float(evaluate(instance, mask).weighted_distance) for mask in plans]
    best = int(np.argmin(values))
    mask, how = np.asarray(plans[best], dtype=bool), f"the best of {len(plans)} plans measured on every site"
    value = values[best]
    multipliers, bound = np.asarray(lag.multipliers, dtype=np.float64), None
    if small and p is not None:
        from siting.optimizer.pmedian_dense_bound import dense_lagrangian

        # the best plan so far is far from a swap-local optimum (usa13509, p = 10: the greedy's is
        # 7.3 % above the optimum, the best sample's 1.5 %); the swap search on every site took them
        # to 0.8 % and to the optimum
        mask = dense_swap(instance, mask, stop_at(), progress)
        value = float(evaluate(instance, mask).weighted_distance)
        how += ", then swaps on every site"
        # a bound on every site, from the truncated run's multipliers; its relaxed plans are plans too
        dense = dense_lagrangian(instance, p, multipliers, value, stop_at(), progress)
        if dense is not None:
            bound, multipliers = dense.bound, dense.multipliers
            say(f"Lagrangian on every site: bound {bound:.10g} after {dense.iterations} iterations")
            if dense.value < value:
                mask = dense_swap(instance, dense.plan | instance.existing, stop_at(), progress)
                value = float(evaluate(instance, mask).weighted_distance)
                how = f"the Lagrangian's best plan on every site, then swaps (of {len(plans) + 2} plans)"
    say(f"heuristic start: {value:.10g}, {how} ({lag.iterations} Lagrangian iterations on the nearest sites)")
    return mask, multipliers, bound


def _weights_and_penalty(instance: SitingInstance) -> tuple[NDArray[np.float64], float]:
    """The weights of the *active* rows (positive weight, some eligible site reachable; 0 for the
    others, which gain nothing) and the penalty ``U`` of
    :class:`optimizer.heuristics.greedy.DistanceTable` for unreachable pairs over those rows, read
    ``ROW_BLOCK`` rows of the dense matrix at a time."""
    d = instance.distances
    n = d.shape[0]
    w_all = np.asarray(instance.weights, dtype=np.float64)
    eligible = instance.eligible
    active = np.zeros(n, dtype=bool)
    dmax = 0.0
    for lo in range(0, n, ROW_BLOCK):
        fin = np.isfinite(np.asarray(d[lo : lo + ROW_BLOCK]))
        rows = (w_all[lo : lo + ROW_BLOCK] > 0) & (fin & eligible[None, :]).any(axis=1)
        active[lo : lo + ROW_BLOCK] = rows
        if rows.any():
            block = np.asarray(d[lo : lo + ROW_BLOCK])[rows]
            dmax = max(dmax, float(block[fin[rows]].max()))
    w = np.where(active, w_all, 0.0)
    return w, unreachable_penalty(dmax, w[active])


def dense_greedy(instance: SitingInstance, p: int) -> NDArray[np.bool_]:
    """The plan of :func:`optimizer.heuristics.greedy.greedy_pmedian` (budget None) without its
    working copies: from the existing sites, open the eligible site of largest gain
    ``g_j = sum_i w_i max(0, d_i - d_ij)`` (``d_i`` the distance to the nearest open site, ties to
    the lowest index) p times, each gain summed over ``ROW_BLOCK`` rows of the instance's
    own dense matrix at a time. Unreachable pairs cost the penalty ``U`` of
    :class:`optimizer.heuristics.greedy.DistanceTable`, over the same active rows (positive weight,
    some eligible site reachable)."""
    d = instance.distances
    n, m = d.shape
    eligible = instance.eligible
    w, big = _weights_and_penalty(instance)

    def column(j: int) -> NDArray[np.float64]:
        col = np.asarray(d[:, j], dtype=np.float64)
        return np.where(np.isfinite(col), col, big)

    open_mask = instance.existing.copy()
    d1 = np.full(n, big)
    for site in np.flatnonzero(open_mask).tolist():
        d1 = np.minimum(d1, column(site))
    cand = eligible & ~instance.existing
    for _ in range(int(min(p, cand.sum()))):
        gain = np.zeros(m)
        for lo in range(0, n, ROW_BLOCK):
            block = np.asarray(d[lo : lo + ROW_BLOCK], dtype=np.float64)
            diff = d1[lo : lo + ROW_BLOCK, None] - np.where(np.isfinite(block), block, big)
            np.maximum(diff, 0.0, out=diff)
            gain += w[lo : lo + ROW_BLOCK] @ diff
        j = int(np.argmax(np.where(cand, gain, -np.inf)))  # the first largest: the lowest index among ties
        open_mask[j] = True
        cand[j] = False
        d1 = np.minimum(d1, column(j))
    return open_mask


def _open_columns(instance: SitingInstance, open_mask: NDArray[np.bool_], big: float) -> NDArray[np.float64]:
    """The (n, k) distances to the k open sites, unreachable pairs at ``big``."""
    cols = np.asarray(instance.distances[:, np.flatnonzero(open_mask)], dtype=np.float64)
    return np.where(np.isfinite(cols), cols, big)


def dense_swap(
    instance: SitingInstance,
    start: NDArray[np.bool_],
    stop_at: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> NDArray[np.bool_]:
    """The swap search (fast interchange) from the plan ``start`` on the instance's own dense matrix,
    a block of ``ROW_BLOCK`` rows at a time (no working copies), until no swap of one open
    new site r for one closed eligible site j lowers the cost, or the clock passes ``stop_at``.

    With ``d1_i`` / ``d2_i`` the distances from client i to its nearest and second-nearest open
    sites and ``c_i`` the nearest one, the change of swapping r out and j in is
    ``delta(r, j) = loss(r) - gain(j) - extra(r, j)`` where::

        gain(j)     = sum_i w_i max(0, d1_i - d_ij)                         (j added alone)
        loss(r)     = sum_{i: c_i = r} w_i (d2_i - d1_i)                      (r removed alone)
        extra(r, j) = sum_{i: c_i = r, d_ij < d2_i} w_i (d2_i - max(d_ij, d1_i))

    (a client of r moves to j or to its second site, whichever is nearer; any other client to j
    if nearer). Each pass costs about ``(k + 3) n m`` operations for k open sites (the extra
    matrix is a product of the clients' one-hot site rows with a row block), so it is meant for
    small p; the best swap of each pass is made. Unreachable pairs cost the penalty of
    :func:`dense_greedy`. The result is never costlier than ``start``."""
    d = instance.distances
    n, m = d.shape
    say = progress or (lambda _msg: None)
    w, big = _weights_and_penalty(instance)
    fixed = instance.existing
    cand = instance.eligible & ~fixed
    plan = np.asarray(start, dtype=bool).copy()
    t0, swaps = time.monotonic(), 0
    ticks = Every(PROGRESS_SECONDS)
    while True:
        sites = np.flatnonzero(plan)
        if sites.size == 0 or (stop_at is not None and time.monotonic() >= stop_at):
            break
        cols = _open_columns(instance, plan, big)
        order = np.argsort(cols, axis=1, kind="stable")
        d1 = np.take_along_axis(cols, order[:, :1], axis=1)[:, 0]
        d2 = np.take_along_axis(cols, order[:, 1:2], axis=1)[:, 0] if sites.size > 1 else np.full(n, big)
        nearest = order[:, 0]  # position among `sites`
        cost = float(w @ d1)
        loss = np.bincount(nearest, weights=w * (d2 - d1), minlength=sites.size)
        gain = np.zeros(m)
        extra = np.zeros((sites.size, m))
        for lo in range(0, n, ROW_BLOCK):
            hi = min(n, lo + ROW_BLOCK)
            block = np.asarray(d[lo:hi], dtype=np.float64)
            block = np.where(np.isfinite(block), block, big)
            wb, d1b, d2b = w[lo:hi, None], d1[lo:hi, None], d2[lo:hi, None]
            gain += (wb * np.maximum(d1b - block, 0.0)).sum(axis=0)
            moved = np.where(block < d2b, wb * (d2b - np.maximum(block, d1b)), 0.0)
            onehot = sp.csr_array((np.ones(hi - lo), (nearest[lo:hi], np.arange(hi - lo))), shape=(sites.size, hi - lo))
            extra += onehot @ moved
        delta = loss[:, None] - gain[None, :] - extra
        delta[:, ~cand | plan] = np.inf  # j must be a closed eligible new site
        delta[fixed[sites], :] = np.inf  # an existing site stays open
        r, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[r, j] < -1e-9 * max(1.0, abs(cost)):
            break
        plan[sites[r]] = False
        plan[j] = True
        swaps += 1
        if ticks.due():
            say(
                f"swap search on every site: {cost + float(delta[r, j]):.10g} after {swaps} swaps, {time.monotonic() - t0:.0f} s"
            )
    return plan
