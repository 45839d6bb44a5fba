"""Kernel search: the p-median restricted to the sites of the plans seen so far (the exact path's primal side).

In the Benders MILP rounds the master's bound can reach the optimum long before a plan does: on
pcb3038, p = 500 the bound was 134,798 (the optimum) after 30 s, and the rounds that followed each
cut off a few plans of master value 134,797.1 and true value 134,799 or more, for 62 s, until one
of them was the optimum. The plans the rounds visit share most of their sites, so the optimum is
usually a *combination* of sites they open, a few swaps from each: out of reach of the swap
search from any single plan (:mod:`optimizer.pmedian_polish`), within reach of a small exact MILP.

Let K (the *kernel*) be the candidate sites open in some plan seen so far (existing sites always
open; after the LP phase also the sites the LP opens in part), and N_i the ``near`` sites of K nearest to client i, plus the site of K that serves i in the
incumbent. The restricted problem is the classic formulation over K::

    min  sum_i w_i sum_{j in N_i} d_ij x_ij
    s.t. sum_{j in N_i} x_ij = 1            for every client i
         x_ij <= y_j                         for every i and j in N_i
         sum_{j in K, new} y_j <= p,  y_j = 1 for existing j,  y binary, x >= 0.

Every solution is a plan of the whole problem, and its objective is at least the plan's true value
(a client served by a listed open site is served at least as well by its nearest open one), so the
plan is measured at its true value before it is used. The incumbent is feasible (its serving
sites are listed), and is the MILP's start. Nothing here is a bound: only plans come out.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.optimizer.benders_highs import FEASIBLE, interrupt_watch, new_master_highs, use_proof_options
from siting.optimizer.deadline import ElapsedShare
from siting.optimizer.pmedian_enumerate import best_completion
from siting.optimizer.result import SolveParams

#: sites of the kernel listed for each client (its nearest ones; the incumbent's is added)
NEAR = 10
#: one search stops after this many seconds (pcb3038, p = 200: 12 s found the plan one unit above
#: the optimum; p = 20: 29 s found nothing)
KERNEL_SECONDS = 12.0
#: the kernel search may spend this share of the exact solve's elapsed time
KERNEL_SHARE = 0.5
#: at most this many pairs (clients x listed sites) in one restricted MILP: at usa13509, p = 2000
#: (148,599 pairs over 2,123 sites) the MILP found nothing in 35 s, and peaked 300 MB higher
MAX_PAIRS = 100_000
#: a kernel whose plans cost at most this many distance look-ups is enumerated instead: at pcb3038,
#: p = 5 (17 sites) the MILP took 12 s, where the start was already the optimum
ENUM_BUDGET = 2e8
#: distances (clients x kernel sites) read at a time to list each client's nearest
CHUNK_ENTRIES = 4_000_000
#: a kernel search is not started with less than this many seconds of its share left
MIN_SECONDS = 1.0


class KernelSearch:
    """Restricted MILPs over the sites of the plans seen (module docstring), within a time share.

    ``d`` (n, k) are the distances of the n clients (weights ``w``) to the k candidate sites that
    the master's ``y`` refers to; ``existing`` (k,) the candidates open already; ``p`` new sites.
    """

    def __init__(
        self,
        d: NDArray[np.floating],
        w: NDArray[np.float64],
        existing: NDArray[np.bool_],
        p: int,
        params: SolveParams,
        near: int = NEAR,
        share: float | None = None,
    ) -> None:
        self.d, self.w, self.existing, self.p = d, w, existing, p
        self.params, self.near = params, near
        self.budget = ElapsedShare(KERNEL_SHARE if share is None else share)
        self.runs = 0
        self.kernel = existing.copy()  # the sites open in some plan seen
        self._searched = np.zeros_like(existing)  # the last kernel searched

    @property
    def seconds(self) -> float:
        """Seconds spent searching so far."""
        return self.budget.seconds

    def see(self, y: NDArray[np.float64], level: float = 0.5) -> None:
        """Add the sites ``y`` opens (above ``level``: a plan's, or an LP point's support) to the kernel."""
        self.kernel |= y > level

    def fresh(self) -> bool:
        """Whether the kernel holds sites the last search did not have."""
        return bool((self.kernel & ~self._searched).any())

    def improve(self, y_inc: NDArray[np.float64], deadline: float) -> NDArray[np.float64] | None:
        """The restricted MILP's plan over the kernel (with the incumbent ``y_inc`` in it), or None
        when the kernel has not grown since the last search, is too large, or the time share is
        spent. A kernel small enough to enumerate gives its best plan at true distances instead.
        The plan is not measured here: the caller measures it at its true value."""
        self.see(y_inc)
        now = time.perf_counter()
        allowed = min(self.budget.allowed(), 0.5 * (deadline - now), KERNEL_SECONDS)
        cols = np.flatnonzero(self.kernel)
        near = min(self.near, cols.size)
        n = self.d.shape[0]
        if not self.fresh() or allowed < MIN_SECONDS or n * (near + 1) > MAX_PAIRS:
            return None
        self._searched = self.kernel.copy()
        try:
            free = np.flatnonzero(self.kernel & ~self.existing)
            got = best_completion(self.d, self.w, self.existing, free, self.p, ENUM_BUDGET)
            if got is not None:  # a small kernel: every plan over it, at its true value
                out = self.existing.astype(np.float64)
                out[got[1]] = 1.0
                return out
            return self._solve(cols, near, y_inc, now + allowed)
        finally:
            self.budget.charge(now)
            self.runs += 1

    def _solve(
        self, cols: NDArray[np.int64], near: int, y_inc: NDArray[np.float64], stop: float
    ) -> NDArray[np.float64] | None:
        n, s = self.d.shape[0], cols.size
        open_k = np.flatnonzero(y_inc[cols] > 0.5)
        listed = np.empty((n, near + 1), dtype=np.int64)
        dist = np.empty((n, near + 1), dtype=np.float64)
        step = max(1, CHUNK_ENTRIES // s)
        for lo in range(0, n, step):  # clients in chunks: at most CHUNK_ENTRIES distances at a time
            rows = np.arange(lo, min(n, lo + step))
            dk = self.d[np.ix_(rows, cols)]  # (chunk, s): clients x kernel sites
            nearest = (
                np.argpartition(dk, near - 1, axis=1)[:, :near]
                if near < s
                else np.broadcast_to(np.arange(s), (rows.size, s))
            )
            # the kernel site serving each client in the incumbent, listed too (the start is feasible)
            serving = open_k[np.argmin(dk[:, open_k], axis=1)]
            listed[rows] = np.column_stack([nearest, serving])
            dist[rows] = np.take_along_axis(dk, listed[rows], axis=1)
        serving = listed[:, -1].copy()
        order = np.argsort(listed, axis=1, kind="stable")
        listed = np.take_along_axis(listed, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        keep = np.ones(listed.shape, dtype=bool)
        keep[:, 1:] = listed[:, 1:] != listed[:, :-1]  # the serving site may be among the nearest
        client = np.broadcast_to(np.arange(n)[:, None], listed.shape)[keep]
        site = listed[keep]
        pair_cost = self.w[client] * dist[keep]
        npair = client.size
        new = ~self.existing[cols]
        lp = assignment_lp(n, s, client, site, pair_cost, new, self.p, y_lower=(~new).astype(np.float64))
        lp.integrality_ = [highspy.HighsVarType.kInteger] * s + [highspy.HighsVarType.kContinuous] * npair
        h = new_master_highs(self.params)
        h.passModel(lp)
        h.setOptionValue("mip_rel_gap", 0.0)
        use_proof_options(h, self.params)  # it starts from the incumbent (pcb3038, p = 50: see PROOF_OPTIONS)
        stop_at = [stop]
        watch = interrupt_watch(stop_at)
        h.cbMipInterrupt.subscribe(watch)
        h.cbSimplexInterrupt.subscribe(watch)
        h.setOptionValue("time_limit", max(0.1, stop - time.perf_counter()))
        # the incumbent as the start: its sites, each client at its serving site
        start = np.zeros(s + npair)
        start[:s] = y_inc[cols] > 0.5
        start[s + np.flatnonzero(site == serving[client])] = 1.0
        hs = highspy.HighsSolution()
        hs.col_value = list(start)
        hs.value_valid = True
        h.setSolution(hs)
        h.run()
        if h.getInfo().primal_solution_status != FEASIBLE:  # no plan (stopped before reading the start)
            return None
        y_k = np.asarray(h.getSolution().col_value)[:s] > 0.5
        out = self.existing.astype(np.float64)
        out[cols[y_k]] = 1.0
        return out


def assignment_lp(
    n: int,
    s: int,
    client: NDArray[np.int64],
    site: NDArray[np.int64],
    pair_cost: NDArray[np.float64],
    counted: NDArray[np.bool_],
    limit: int,
    y_lower: NDArray[np.float64] | None = None,
    outside_cost: NDArray[np.float64] | None = None,
) -> highspy.HighsLp:
    """The classic p-median over listed pairs, as a HiGHS LP (integrality left to the caller)::

        min  sum_pairs c_ij x_ij + sum_i o_i x_i0
        s.t. sum_{j listed for i} x_ij + x_i0 = 1     (each client i < n)
             x_ij <= y_j                               (each listed pair)
             sum_{j counted} y_j <= limit
             y_lower <= y <= 1,  x >= 0

    Columns: the s site variables y, one x per pair (``client``, ``site``, ``pair_cost``, in that
    order), then one outside option x_i0 per client with a finite ``outside_cost`` (none without it).
    """
    npair = client.size
    outs = np.zeros(0, dtype=np.int64) if outside_cost is None else np.flatnonzero(np.isfinite(outside_cost))
    nvar = s + npair + outs.size
    cost = np.concatenate([np.zeros(s), pair_cost, np.zeros(0) if outside_cost is None else outside_cost[outs]])
    assign = sp.csr_array(
        (np.ones(npair + outs.size), (np.concatenate([client, outs]), s + np.arange(npair + outs.size))),
        shape=(n, nvar),
    )
    link = sp.csr_array(
        (np.concatenate([np.ones(npair), -np.ones(npair)]),
         (np.tile(np.arange(npair), 2), np.concatenate([s + np.arange(npair), site]))),
        shape=(npair, nvar),
    )  # fmt: skip
    count = sp.csr_array(
        (np.ones(int(counted.sum())), (np.zeros(int(counted.sum()), dtype=np.int64), np.flatnonzero(counted))),
        shape=(1, nvar),
    )
    a = sp.vstack([assign, link, count]).tocsc()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nvar, n + npair + 1
    lp.col_cost_ = cost
    lp.col_lower_ = np.concatenate([np.zeros(s) if y_lower is None else y_lower, np.zeros(npair + outs.size)])
    lp.col_upper_ = np.ones(nvar)
    lp.row_lower_ = np.concatenate([np.ones(n), np.full(npair, -inf), [-inf]])
    lp.row_upper_ = np.concatenate([np.ones(n), np.zeros(npair), [float(limit)]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    return lp
