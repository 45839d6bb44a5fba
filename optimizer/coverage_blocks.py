"""Regions of a covering problem: a block bound above the LP, and large-neighbourhood search.

Both work on the sites' *regions*: groups of about S sites grown breadth-first in the graph where
two sites are adjacent when they cover a common row (on geometric instances, compact patches of
the map), so no coordinates are needed.

**Block bound** (Lagrangian decomposition with LP duals). Let ``u >= 0`` be row prices (the LP's
duals), ``d_j = c_j - sum_{r ∋ j} u_r`` the reduced costs, and split the rows into blocks R_b (a
row goes to the region of its rarest site). With ``w_jb = sum_{r in R_b, r ∋ j} u_r`` and shares
``s_jb = w_jb / sum_b w_jb`` (by row counts where j carries no price; ``sum_b s_jb = 1``) give site
j the cost ``c^b_j = w_jb + s_jb d_j`` in block b, so ``sum_b c^b_j = c_j``. Every cover y covers
each R_b, hence::

    c y = sum_b c^b y >= sum_b min { c^b y : y covers R_b, y in {0,1} } =: sum_b z_b        (B)

and any proven lower bound of each block MILP may replace z_b. A block never solved keeps the
bound ``u(R_b) + sum_j s_jb min(d_j, 0)`` (``c^b y >= sum_{r in R_b} u_r a_r y + ...`` with
``y <= 1``), and those add up to the LP bound, so (B) is never below it. Where the LP is
fractional across a whole block, z_b is above its LP share: at 100,000 x 2,000, r = 800 m, blocks
of 700 sites raise the LP bound 62.07 to 62.80 in 35 CPU s (see ``REGION_SITES``).

**Block cuts** (:func:`block_cuts`). Whatever the split, every cover y of the whole problem
covers R_b with its sites that cover a row of R_b, so ``sum_{j covers R_b} c^b_j y_j >= z_b`` is a
valid inequality: it removes no cover. Appended to the covering rows, the cuts of one partition
lift the LP to at least (B) (the cut multipliers 1 and row prices 0 are a dual solution of that
value). Cuts of a second partition, split by the same prices, did not lift the LP further at
100,000 x 2,000 (62.51 both ways): a convex combination of two such bounds is no better than the
larger one.

**Large-neighbourhood search.** For a cover y and a region G, every site outside G is fixed at
its value in y and the rows they leave uncovered are covered at least cost by the sites of G
(a small exact MILP warm-started from y on G); the result replaces y when cheaper. Passes over
fresh random partitions repeat until ``patience`` passes in a row find nothing cheaper (at
100,000 x 2,000: 63.897 to 63.771 on seed 1; on seed 2 a pass without gain came before two with).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.milp import MilpProblem
from siting.optimizer.result import SolveParams

Progress = Callable[[str], None]

#: sites per region. Measured at 100,000 x 2,000, r = 800 m, seed 1 (LP bound 62.07, every block
#: solved): 500 sites (5 blocks) 62.68 in 31 CPU s, 700 sites (3 blocks) 62.80 in 35 CPU s; the
#: region search found its best cover (63.771) with 500 as with 700; 1,000 sites (2 blocks) 62.87,
#: but in 54 CPU s, and stopped early (about 18 CPU s for the blocks, a loaded machine) they proved
#: less than 700-site blocks did
REGION_SITES = 700
# at most this many seconds for one region's MILP
_REGION_SECONDS = 20.0


def site_regions(cover: sp.csr_array, sites: NDArray[np.bool_], size: int, seed: int) -> list[NDArray[np.int64]]:
    """A partition of ``sites`` (those covering some row) into regions of about ``size`` sites,
    each grown breadth-first over shared rows from the first unassigned site (in index order for
    ``seed`` 0, in a random order drawn from ``seed`` otherwise)."""
    a = sp.csr_array(cover, dtype=np.float32)
    m = a.shape[1]
    used = sites & (np.bincount(a.indices, minlength=m) > 0)
    adj = sp.csr_array(a.T @ a)
    region = np.full(m, -1, dtype=np.int64)
    count = 0
    seeds = np.flatnonzero(used)
    if seed:
        seeds = np.random.default_rng(seed).permutation(seeds)
    for s0 in seeds:  # one pass per region, then one step per site added: no loop over pairs
        if region[s0] >= 0:
            continue
        region[s0] = count
        front, grown = [int(s0)], 1
        while front and grown < size:
            nxt: list[int] = []
            for v in front:
                nb = adj.indices[adj.indptr[v] : adj.indptr[v + 1]]
                nb = nb[(region[nb] < 0) & used[nb]][: size - grown]
                region[nb] = count
                grown += nb.size
                nxt.extend(nb.tolist())
                if grown >= size:
                    break
            front = nxt
        count += 1
    order = np.argsort(region, kind="stable")
    bounds = np.searchsorted(region[order], np.arange(count + 1))
    return [order[bounds[b] : bounds[b + 1]].astype(np.int64) for b in range(count)]


def rarest_site(cover: sp.csr_array) -> NDArray[np.int64]:
    """Per row, its site covering the fewest rows (ties by index); -1 for an empty row."""
    a = sp.csr_array(cover, dtype=bool)
    a.sort_indices()
    k, m = a.shape
    col = np.bincount(a.indices, minlength=m).astype(np.int64)
    out = np.full(k, -1, dtype=np.int64)
    live = np.flatnonzero(np.diff(a.indptr) > 0)
    if live.size:
        out[live] = np.minimum.reduceat(col[a.indices] * m + a.indices, a.indptr[live]) % m
    return out


def _block_problem(
    base: MilpProblem, rows: sp.csr_array, cost: NDArray[np.float64], free: NDArray[np.bool_]
) -> MilpProblem:
    k = rows.shape[0]
    return replace(
        base,
        c=np.where(free, cost, 0.0),
        A=sp.csc_array(rows.astype(np.float64)),
        row_lower=np.ones(k),
        row_upper=np.full(k, np.inf),
        col_lower=np.zeros(base.num_vars),
        col_upper=free.astype(np.float64),
        offset=0.0,
    )


def _highs_bound(
    problem: MilpProblem, params: SolveParams, seconds: float | None, start: NDArray[np.bool_] | None = None
) -> float | None:
    """HiGHS's proven lower bound of a (min) block MILP within ``seconds``, or None. ``start`` (a
    cover, when it satisfies the block) is handed to HiGHS as its first incumbent. Measured at
    100,000 x 2,000: 13 % less time on one block of 1,155 sites (seed 1), but on seed 2 a block of
    695 sites then proved nothing above its LP share where the cold start proved 0.18 more in the
    same time; the LSCP path therefore starts the blocks cold."""
    import highspy

    from siting.optimizer.backends.highs import configure, new_highs, pass_problem, run_within

    sub = params.within(seconds)
    if sub.expired():
        return None
    h = new_highs()
    configure(h, replace(sub, mip_gap=0.0, deadline=None, time_limit=sub.remaining()))
    pass_problem(h, problem)
    if start is not None:
        x0 = np.clip(start.astype(np.float64), problem.col_lower, problem.col_upper)
        if problem.max_violation(x0) <= 1e-9:
            sol = highspy.HighsSolution()
            sol.col_value = x0
            sol.value_valid = True
            h.setSolution(sol)
    if not run_within(h, sub):
        return None
    if str(h.getModelStatus()).split(".")[-1] not in ("kOptimal", "kTimeLimit", "kInterrupt"):
        return None  # infeasible (sites closed) or an error: the caller keeps the block's LP share
    bound = float(h.getInfo().mip_dual_bound)
    return bound if math.isfinite(bound) else None


@dataclass(frozen=True)
class BlockCuts:
    """The block bound (B) and the blocks' cuts ``cuts @ y >= rhs``, one row per solved block.

    Each cut is ``sum_{j covers a row of R_b} c^b_j y_j >= z_b``: every cover y of the whole
    problem covers R_b with its sites that cover rows of R_b, so it satisfies the cut, whatever
    the split ``c^b`` (the cuts never remove a cover; they only raise the LP). ``z_b`` is HiGHS's
    proven dual bound of the block MILP minus :func:`bound_margin`.
    """

    bound: float
    cuts: sp.csr_array
    rhs: NDArray[np.float64]


def bound_margin(value: float, columns: int) -> float:
    """What is taken off a MILP dual bound from HiGHS before it is used as a proof.

    HiGHS's bound comes from LPs solved to its dual feasibility tolerance (1e-7): a reduced cost
    may be wrong by up to 1e-7 per column, and with ``0 <= y <= 1`` that moves the LP value by at
    most ``1e-7`` per column; ``1e-9`` relative covers the rounding of the sum."""
    return 1e-7 * columns + 1e-9 * max(1.0, abs(value))


def block_cuts(
    problem: MilpProblem,
    duals: NDArray[np.float64],
    free: NDArray[np.bool_],
    params: SolveParams,
    say: Progress,
    size: int = REGION_SITES,
    start: NDArray[np.bool_] | None = None,
    closed: NDArray[np.bool_] | None = None,
) -> BlockCuts:
    """Bound (B) of the module docstring for the covering ``problem`` (min form, rows ``a y >= 1``,
    ``free`` the sites that may open, others at 0), with prices ``duals`` (either sign convention),
    and the solved blocks' cuts (:class:`BlockCuts`); ``start`` an optional
    cover (mask over the columns) that each block MILP starts from.

    ``closed``: sites (among ``free``) kept out of the block MILPs, e.g. those reduced-cost fixing
    closes. The regions and the cost split stay those of ``free`` (the same blocks); each block's
    value can only rise, and the bound and the cuts then hold for the plans without those sites."""
    a = sp.csr_array(problem.A, dtype=bool)
    a = sp.csr_array(a.multiply(sp.csr_array(free[None, :])), dtype=bool)
    a.sort_indices()
    k, m = a.shape
    u = np.asarray(duals, dtype=np.float64)
    u = np.maximum(u if u.sum() >= 0 else -u, 0.0)
    c = np.where(free, problem.c, 0.0)
    d = c - a.T.astype(np.float64) @ u
    rare = rarest_site(a)
    region = np.full(m, -1, dtype=np.int64)
    regions = site_regions(a, free, size, seed=0)
    for b, reg in enumerate(regions):
        region[reg] = b
    block = np.where(rare >= 0, region[np.maximum(rare, 0)], -1)
    nb = len(regions)
    rows = np.repeat(np.arange(k), np.diff(a.indptr))
    ok = block[rows] >= 0
    w = sp.csr_array((u[rows[ok]], (block[rows[ok]], a.indices[ok])), shape=(nb, m)).toarray()
    n = sp.csr_array((np.ones(int(ok.sum())), (block[rows[ok]], a.indices[ok])), shape=(nb, m)).toarray()
    tot, cnt = w.sum(axis=0), n.sum(axis=0)
    share = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), n / np.maximum(cnt, 1.0))
    cost = w + share * d[None, :]  # (nb, m): c^b_j, adding up to c_j over the blocks
    trivial = np.array([u[block == b].sum() for b in range(nb)]) + (share * np.minimum(d, 0.0)[None, :]).sum(axis=1)
    total = float(trivial.sum())
    rows_left = int((block >= 0).sum())  # rows of the blocks still to solve
    cut_rows: list[NDArray[np.float64]] = []
    rhs: list[float] = []
    for b in np.argsort(-np.bincount(block[block >= 0], minlength=nb), kind="stable"):
        left = params.remaining()
        if left is not None and left <= 1.0:
            break
        mine = np.flatnonzero(block == b)
        if mine.size == 0:
            continue
        sub_rows = sp.csr_array(a[mine])
        cols = np.zeros(m, dtype=bool)
        cols[sub_rows.indices] = True
        if closed is not None:  # a block left without a site for some row is infeasible: no bound
            cols &= ~closed
        # a share of what is left in proportion to the block's rows among the blocks still to
        # solve (a block stopped early keeps HiGHS's bound so far, about its LP share). The largest
        # block goes first and is the slowest: at 100,000 x 2,000, r = 800 m, seed 2 its 5,895 of
        # 13,528 rows took 24 s; an even third of 69 s stopped it at 23 s, 0.77 below its bound.
        seconds = None if left is None else left * mine.size / max(rows_left, 1)
        rows_left -= mine.size
        z = _highs_bound(_block_problem(problem, sub_rows, cost[b], cols), params, seconds, start)
        if z is not None:
            z -= bound_margin(z, int(cols.sum()))
            if z > trivial[b]:
                total += z - trivial[b]
                cut_rows.append(np.where(cols, cost[b], 0.0))
                rhs.append(z)
        say(f"block {b + 1} of {nb}: {mine.size} rows, {int(cols.sum())} sites, bound {total:.10g}")
    cuts = sp.csr_array(np.array(cut_rows) if cut_rows else np.zeros((0, m)))
    return BlockCuts(total, cuts, np.array(rhs, dtype=np.float64))


def region_search(
    problem: MilpProblem,
    free: NDArray[np.bool_],
    start: NDArray[np.bool_],
    params: SolveParams,
    say: Progress,
    size: int = REGION_SITES,
    patience: int = 1,
) -> NDArray[np.bool_]:
    """Large-neighbourhood search of the module docstring from the cover ``start`` (a mask over the
    columns) within ``params``'s time; returns a cover no costlier than ``start``."""
    from siting.optimizer.registry import get_backend

    a = sp.csr_array(problem.A, dtype=bool)
    a = sp.csr_array(a.multiply(sp.csr_array(free[None, :])), dtype=bool)
    best = np.asarray(start, dtype=bool).copy()
    c = problem.c
    value = float(c[best].sum())
    idle = 0  # passes in a row that found nothing cheaper
    for rnd in range(1_000):
        before = value
        for reg in site_regions(a, free, size, seed=rnd):
            left = params.remaining()
            if left is not None and left <= 0.5:
                return best
            fixed = best.copy()
            fixed[reg] = False
            need = np.flatnonzero((a @ fixed.astype(np.int32)) == 0)
            allowed = np.zeros(a.shape[1], dtype=bool)
            allowed[reg] = True
            if need.size == 0:
                trial = fixed
            else:
                sub = _block_problem(problem, sp.csr_array(a[need]), c, allowed)
                x0 = np.where(allowed, best, False).astype(np.float64)
                seconds = _REGION_SECONDS if left is None else min(_REGION_SECONDS, left)
                res = get_backend("highs").solve(
                    sub, replace(params.within(seconds), mip_gap=0.0), x0 if sub.max_violation(x0) <= 1e-9 else None
                )
                if res.x is None:
                    continue
                trial = fixed | (np.asarray(res.x) > 0.5)
            cost = float(c[trial].sum())
            if cost < value - 1e-9 * max(1.0, value) and bool(((a @ trial.astype(np.int32)) > 0).all()):
                best, value = trial, cost
        say(f"region search pass {rnd + 1}: cover {value:.10g}")
        if value < before - 1e-9 * max(1.0, before):
            idle = 0
        else:
            idle += 1
            if idle >= patience:
                break
    return best
