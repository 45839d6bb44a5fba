"""The joint greedy start, lazily: the same plan as :func:`optimizer.joint.greedy_plan_full`, in a
fraction of the work at city scale.

The full greedy recomputes the gain of every (service, plot) pair at each insertion (a sparse
product over every coverage matrix: ``O(insertions x nonzeros)``; 430 insertions over 1 M pairs at
city scale). For the objectives whose gains only fall as the plan grows, a pair's last computed
score is an upper bound on its score now, so only the top of a priority queue needs a fresh value
(the *lazy greedy* of Minoux, 1978):

* ``max_coverage``, ``min_cost``, ``phased``: the gain of (s, j) is
  ``g_sj = sum_{i in N_j, i not yet covered for s} base_si``; covering more rows only removes terms.
  ``phased`` multiplies it by the value of the earliest phase the pair still fits in,
  ``factor_t = sum_{t' >= t} pw_t'``, and the earliest phase only moves later as money is spent.
* ``pmedian``: the saving ``sum_i w_i max(cur_i - d_ij, 0)`` falls as ``cur`` (distance to the
  nearest open facility) falls.

So the score ``g x factor / cost`` never rises, and a pair that stops fitting (room, counts,
budgets, phases all only tighten) never fits again. The queue is keyed by ``(-score, pair)``; a
popped pair whose score was computed after the last insertion is the argmax of the full greedy,
ties going to the lowest pair number as in ``numpy.argmax``: every other entry either has a lower
bound, hence a lower score, or the same bound and a higher pair number.

Identical plans, not just equal values: each gain is summed over the same entries in the same order
as the full greedy's sparse product (``numpy.bincount`` over the plot's CSC column, rows ascending),
and floating-point addition of non-negative terms is monotone, so the stored bounds stay bounds in
floating point too. ``complete_circle`` gains can rise (a resident covered by another service
counts more), so that objective keeps the full greedy.
"""

from __future__ import annotations

import heapq

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.formulations.joint import JointLayout
from siting.models.multiservice import MultiServiceInstance
from siting.optimizer.joint_fit import PairBudget

#: Objectives whose gains never rise as the plan grows (module docstring).
LAZY_OBJECTIVES = ("max_coverage", "min_cost", "phased", "pmedian")
#: Gains at or below this are no gain (as in the full greedy).
GAIN_EPS = 1e-12


def lazy_greedy_plan(
    inst: MultiServiceInstance, layout: JointLayout, objective: str, first: NDArray[np.int64] | None = None
) -> NDArray[np.int8]:
    """The plan of :func:`optimizer.joint.greedy_plan_full` for the objectives of :data:`LAZY_OBJECTIVES`.

    ``first``: pair numbers (of ``layout``) opened before the greedy starts, in order, each where it
    still fits (e.g. the pairs an LP solution opens fully); the greedy then completes the plan.
    Returns the (S, m) phase of every opened pair (-1: closed).
    """
    if objective not in LAZY_OBJECTIVES:
        raise ValueError(f"the lazy greedy needs gains that only fall; {objective!r} is not one of {LAZY_OBJECTIVES}")
    S, Tm = inst.S, layout.n_phases
    budget = PairBudget(inst, layout)
    ps, pj, P, pcost, tol = budget.ps, budget.pj, budget.P, budget.pcost, budget.tol
    if P == 0:
        return budget.plan
    pw = inst.phase_weight_vector if objective == "phased" else np.ones(Tm)
    factor = np.cumsum(pw[::-1])[::-1] if objective == "phased" else np.ones(Tm)

    pmedian = objective == "pmedian"
    covered = np.stack([s.existing_covered.copy() for s in inst.services])
    if objective == "min_cost":
        base = np.stack([(s.weights > 0).astype(np.float64) for s in inst.services])
    else:
        base = np.stack([s.weight * s.weights for s in inst.services])
    cols: list[sp.csc_array] = []  # coverage (or distances for p-median) by plot
    cur = np.zeros((S, inst.n))
    need = np.zeros((S, inst.n), dtype=bool)
    big = 1.0
    for s, svc in enumerate(inst.services):
        if pmedian:
            assert svc.distances is not None
            mat = sp.csc_array(svc.distances)
            need[s] = (svc.weights > 0) & svc.reachable
            big = max(big, 10.0 * (float(svc.distances.data.max(initial=0.0)) + 1.0))
        else:
            mat = sp.csc_array(svc.coverage_float)
        mat.sort_indices()  # rows ascending in each column: the order of the full greedy's product
        cols.append(mat)
    if pmedian:
        for s, svc in enumerate(inst.services):
            e = svc.existing_distance
            cur[s] = np.where(np.isfinite(e), e, big)

    def gains_of(s: int, sites: NDArray[np.int64]) -> NDArray[np.float64]:
        """Current gains of service s at ``sites``, summed as the full greedy sums them."""
        mat = cols[s]
        lo, hi = mat.indptr[sites], mat.indptr[sites + 1]
        lens = hi - lo
        if not lens.sum():
            return np.zeros(sites.size)
        label = np.repeat(np.arange(sites.size), lens)
        idx = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        rows = mat.indices[idx]
        if pmedian:
            svc = inst.services[s]
            term = np.where(
                need[s][rows], svc.weight * svc.weights[rows] * np.maximum(cur[s][rows] - mat.data[idx], 0.0), 0
            )
        else:
            term = base[s][rows] * ~covered[s][rows] * mat.data[idx]
        return np.asarray(np.bincount(label, weights=term, minlength=sites.size), dtype=np.float64)

    def take(k: int, t: int) -> None:
        s, j = budget.take(k, t)
        mat = cols[s]
        sl = slice(mat.indptr[j], mat.indptr[j + 1])
        if pmedian:
            cur[s, mat.indices[sl]] = np.minimum(cur[s, mat.indices[sl]], mat.data[sl])
        else:
            covered[s, mat.indices[sl]] = True

    every = np.arange(P, dtype=np.int64)
    fits = budget.fits
    for k in [] if first is None else np.asarray(first, dtype=np.int64).tolist():  # a loop over given pairs
        ok, ph = fits(every)
        if ok[k]:
            take(k, int(ph[k]))
    # the first scores, all at once
    g = np.zeros(P)
    for s in range(S):
        mine = every[ps == s]
        g[mine] = gains_of(s, pj[mine])
    ok, ph = fits(every)  # for every pair, refreshed after each insertion (O(P), cheap)
    gf = g * factor[np.maximum(ph, 0)]
    start = ok & (gf > GAIN_EPS)
    score = gf / np.maximum(pcost, tol)
    heap = [(-float(score[k]), int(k)) for k in np.flatnonzero(start)]
    heapq.heapify(heap)
    fresh = np.zeros(P, dtype=np.int64)  # insertion count at which each stored score was computed
    taken = 0
    while heap:  # loop over queue pops: one per insertion plus one per stale score
        _, k = heapq.heappop(heap)
        if not ok[k]:
            continue  # never fits again
        if fresh[k] == taken:
            take(k, int(ph[k]))
            taken += 1
            ok, ph = fits(every)
            continue
        kk = np.array([k], dtype=np.int64)
        gk = gains_of(int(ps[k]), pj[kk]) * factor[np.maximum(ph[kk], 0)]
        if not gk[0] > GAIN_EPS:
            continue  # gains only fall
        fresh[k] = taken
        heapq.heappush(heap, (-float((gk / np.maximum(pcost[kk], tol))[0]), k))
    budget.fill_min_sites(take)
    return budget.plan


__all__ = ["LAZY_OBJECTIVES", "lazy_greedy_plan"]
