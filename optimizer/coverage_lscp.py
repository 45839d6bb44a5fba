"""Exact LSCP at city scale on the reduced rows: reduce, LP bound, core MILP, fixing, branch and bound.

The least-cost set cover ``min c y  s.t.  sum_{j in N(r)} y_j >= 1 (merged rows r),  y in {0,1}``
(:func:`models.formulations.lscp`) is solved in five steps, each exact or a source of incumbents:

1. **Incumbent.** Greedy by cost per newly covered row, redundant sites dropped
   (:func:`optimizer.coverage_exact.greedy_lscp`).
2. **Reductions.** Dominated rows and dominated sites to a fixed point
   (:func:`optimizer.coverage_rows.reduce_cover`): same optimal value, about a quarter of the
   merged rows at 100,000 x 2,000, r = 800 m.
3. **LP bound.** The LP of the reduced problem (HiGHS dual simplex, within the deadline); its row
   duals ``u`` give the rigorous Lagrangian bound ``L(u)`` of
   :func:`optimizer.coverage_exact.lagrangian_bound` (valid whatever the duals' accuracy) and the
   reduced costs ``d_j = c_j - sum_{r ∋ j} u_r``.
4. **Better incumbents.** LP-guided greedy covers (:func:`optimizer.coverage_rowgen.lp_guided_covers`)
   and a **core MILP**: the problem restricted to the sites of small reduced cost (plus the
   incumbent's sites and, for every row, its site of least reduced cost, so the core is feasible),
   solved by HiGHS for a share of the time. Any core plan is a cover of the whole problem.
   Then a **region search** (:func:`optimizer.coverage_blocks.region_search`): regions of about 700
   neighbouring sites are re-covered exactly with every other site fixed, until two passes in a row
   lower the cost no more.
   Last, the **block bound** (:func:`optimizer.coverage_blocks.block_cuts`): blocks of rows solved
   exactly with each site's cost split by its LP prices; never below the LP bound. The sites that
   step 5's reduced-cost fixing closes are left out of the blocks (smaller MILPs; the bound is then
   one on the plans cheaper than UB, the others cost at least UB, so ``min(UB, B)`` is global).
   Each solved block gives a valid cut ``c^b y >= z_b`` (every cover satisfies it); the cuts are
   left out of step 5 (with them its tree ends later) and only the bound is kept.
5. **Reduced-cost fixing and branch and bound.** With UB the incumbent's cost and q the grid of
   plan values (every cost a multiple of q, else q = 0), a site with ``L + d_j > UB - q`` cannot be
   in a plan cheaper than UB and is closed; one with ``L - d_j > UB - q`` (``d_j < 0``) is in every
   such plan and is opened. Rows covered by opened sites are dropped, the reductions of step 2 run
   again, and the rest goes to HiGHS warm-started from the incumbent, with its primal heuristics
   off (:data:`PROVING_OPTIONS`: what is left is the proof). Its bound plus the opened sites' cost
   is a bound on the plans that agree with the fixings; the others cost at least UB, so the global
   bound is ``min(UB, that)``, never below ``L``. With ``prover="scip"`` (``--solver scip``) SCIP
   runs this branch and bound, its primal heuristics off too (:data:`SCIP_PROVING_OPTIONS`), and
   step 4c is skipped: its time goes to SCIP, whose root cuts lift the bound of these covers past
   the block bound (:data:`optimizer.coverage_choice.PROVERS`). HiGHS solves the LPs and the core and region MILPs either way.

**Rigour.** The LP bound is a Lagrangian bound computed from the duals (valid whatever their
accuracy). A MILP dual bound from HiGHS (a block's z_b, the branch and bound's) is used less
:func:`optimizer.coverage_blocks.bound_margin` (1e-7 per column: HiGHS's dual feasibility
tolerance times ``y <= 1``). Every plan's cost is a multiple of the cost grid q
(:func:`value_grid`), so the final bound is raised to the grid (:func:`on_grid`).

**Time.** Each phase runs on a clock of its own (:func:`stage`): its share of the time left
counts down while it runs and never passes the shared deadline.

The answer is the best cover found (never worse than the greedy's); OPTIMAL only when the gap is
within ``mip_gap``, FEASIBLE with the limit that stopped it otherwise.
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
from siting.optimizer.coverage_choice import PROVERS, one_thread_note
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status

Progress = Callable[[str], None]

# Share of the time left after the LP that the core MILP may take. At 100,000 x 2,000, r = 800 m,
# seed 1 it finds its best cover (63.86, which the region search then takes to 63.771) within 14 s
# as within 35 s (shares 0.12 and 0.3 of 116 s); the time saved goes to the branch and bound.
_CORE_SHARE = 0.12
# Shares of the time left for the region search (a cap: it stops by itself after _REGION_PATIENCE
# passes without a better cover; each pass took 2-7 CPU s at 100,000 x 2,000) and then the block bound. Before
# the phases had clocks of their own the search ran past its share until it stopped improving,
# which gave its second pass (63.897 to 63.771) but left the block bound what remained.
_SEARCH_SHARE = 0.45
_BLOCK_SHARE = 0.85
# Region-search passes in a row without a cheaper cover before the search stops (each pass draws a
# new partition). At 100,000 x 2,000, r = 800 m, seed 2 the second pass found nothing and the third
# and fourth took 64.664 to 64.191, the optimum (proven in a 900 s run); each pass takes 2-7 s.
_REGION_PATIENCE = 2
# Reduction rounds stop once a round drops fewer than this share of the rows (and no site).
_REDUCE_MIN_SHARE = 0.005
# Reduce again after the fixing only with at least this many seconds left.
_REDUCE_AGAIN_SECONDS = 15.0
# Core sites: reduced cost at most this share of the median cost of the sites left.
_CORE_REDUCED_COST = 0.17
# Grids tried for the plan values (every cost a multiple of q).
_GRIDS = (1.0, 0.1, 0.01, 0.001)


def value_grid(cost: NDArray[np.float64]) -> float:
    """The largest q of ``_GRIDS`` with every cost a multiple of q (so is every plan's cost), else 0."""
    for q in _GRIDS:
        scaled = cost / q
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return q
    return 0.0


def reduced_problem(base: MilpProblem, cover: sp.csr_array, sites: NDArray[np.bool_]) -> MilpProblem:
    """The LSCP ``base`` (all m columns) with its rows replaced by ``cover`` and only ``sites`` free:
    every other new site closed, existing ones (lower bound 1) kept."""
    upper = np.where(sites | (base.col_lower > 0.5), base.col_upper, 0.0)
    k = cover.shape[0]
    return replace(
        base,
        A=sp.csc_array(cover.astype(np.float64)),
        row_lower=np.ones(k),
        row_upper=np.full(k, np.inf),
        col_upper=upper,
    )


def lp_solve(problem: MilpProblem, params: SolveParams) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """LP point and row duals of ``problem`` by HiGHS (dual simplex) within the deadline, or None."""
    from siting.optimizer.backends.highs import configure, new_highs, pass_problem, run_within

    if params.expired():
        return None
    h = new_highs()
    configure(h, SolveParams(time_limit=params.remaining(), threads=params.threads, seed=params.seed))
    pass_problem(h, replace(problem, integrality=np.zeros(problem.num_vars, dtype=bool)))
    if not run_within(h, params) or str(h.getModelStatus()).split(".")[-1] != "kOptimal":
        return None
    sol = h.getSolution()
    return np.asarray(sol.col_value, dtype=np.float64), np.asarray(sol.row_dual, dtype=np.float64)


def core_sites(
    cover: sp.csr_array, d: NDArray[np.float64], sites: NDArray[np.bool_], threshold: float, must: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Sites with reduced cost ``d_j <= threshold``, the ``must`` sites, and each row's site of
    least reduced cost (ties by index), so that every row of ``cover`` has a core site."""
    a = sp.csr_array(cover, dtype=bool)
    a.sort_indices()
    core = sites & ((d <= threshold) | must)
    deg = np.diff(a.indptr)
    live = np.flatnonzero(deg > 0)
    if live.size:
        # rank of d per column, so that min over a row's entries names its cheapest site exactly
        rank = np.empty(d.size, dtype=np.int64)
        rank[np.lexsort((np.arange(d.size), d))] = np.arange(d.size)
        best = np.minimum.reduceat(rank[a.indices], a.indptr[live])
        inv = np.empty(d.size, dtype=np.int64)
        inv[rank] = np.arange(d.size)
        core[inv[best]] = True
    return core


def on_grid(bound: float, q: float) -> float:
    """A lower bound on plan values that are multiples of ``q`` (> 0), raised to the grid: the
    least multiple of q not below ``bound`` (less a millionth of q for rounding)."""
    return math.ceil(bound / q - 1e-6) * q


def solve_lscp_rows(
    instance: SitingInstance,
    radius: float,
    objective: str = "cost",
    params: SolveParams | None = None,
    progress: Progress | None = None,
    prover: str = "highs",
) -> tuple[SolveResult, NDArray[np.bool_], dict[str, Any]]:
    """The LSCP by the steps of the module docstring.

    ``prover`` (``highs`` or ``scip``) runs step 5's branch and bound; HiGHS solves the LPs and the
    core and region MILPs either way. With ``scip`` the block bound is skipped and its time goes to
    SCIP, whose root cuts pass it (:data:`optimizer.coverage_choice.PROVERS`).

    Returns the result (objective = cost or count of new sites, bound, status, limit), the open-site
    mask of the best plan (existing sites included), and statistics per step.
    """
    from siting.models.formulations.lscp import lscp
    from siting.optimizer.coverage_blocks import REGION_SITES, block_cuts, bound_margin, region_search
    from siting.optimizer.coverage_exact import greedy_lscp, lagrangian_bound
    from siting.optimizer.coverage_rowgen import lp_guided_covers
    from siting.optimizer.coverage_rows import reduce_cover

    params = (params or SolveParams()).started()
    say = progress or (lambda _m: None)
    t0 = time.monotonic()
    cpu0 = time.process_time()
    if prover not in PROVERS:
        raise ValueError(f"prover must be one of {sorted(PROVERS)}, not {prover!r}")
    stats: dict[str, Any] = {"formulation": "lscp-reduced", "prover": prover}
    if note := one_thread_note(prover, params.threads):
        stats["note"] = note
        say(note)

    def clock() -> str:
        return f"{time.monotonic() - t0:.1f} s"

    base = lscp(instance, radius, objective=objective)  # type: ignore[arg-type]
    f = base.c
    existing = instance.existing.copy()
    q = value_grid(f)
    integral = q == 1.0

    def cost_of(mask: NDArray[np.bool_]) -> float:
        return float(f[mask & ~existing].sum())

    # 1. incumbent
    inc_mask = greedy_lscp(instance, radius, objective) | existing
    ub = cost_of(inc_mask)
    stats["heuristic_objective"] = ub
    say(f"greedy cover {ub:.10g} ({int((inc_mask & ~existing).sum())} sites), {clock()}")
    lower_bound = 0.0  # every plan costs at least 0
    if base.num_rows == 0:
        return _done(instance, radius, objective, params, t0, inc_mask, ub, ub, integral, stats, say)

    # 2. reductions
    free = (base.col_upper > 0.5) & (base.col_lower < 0.5)
    cover = sp.csr_array(base.A, dtype=bool)
    red = reduce_cover(cover, f if objective == "cost" else None, free, say, params.expired, _REDUCE_MIN_SHARE)
    stats["rows_merged"] = int(base.num_rows)
    stats["rows_reduced"] = int(red.cover.shape[0])
    stats["sites_reduced"] = int(red.sites.sum())
    say(
        f"reduced to {red.cover.shape[0]} of {base.num_rows} merged rows and {int(red.sites.sum())} of "
        f"{int(free.sum())} sites, {clock()}"
    )
    problem = reduced_problem(base, red.cover, red.sites)

    # 3. LP bound
    lp = lp_solve(problem, params)
    if lp is None:
        say(f"no LP bound within the time limit, {clock()}")
        return _done(instance, radius, objective, params, t0, inc_mask, ub, lower_bound, integral, stats, say)
    y, duals = lp
    big_l, at0, at1 = lagrangian_bound(problem, duals)  # max form: minus the cost
    lower_bound = max(lower_bound, -big_l)
    d = -(at1 - big_l)  # reduced cost of opening j, in cost units (0 for closed columns)
    stats["lp_bound"] = lower_bound
    say(f"LP bound {lower_bound:.10g}, gap {_gap(ub, lower_bound):.2%}, {clock()}")

    # 4. better incumbents: LP-guided covers, then the core MILP
    for cand in lp_guided_covers(problem, y):
        mask = cand | existing
        if cost_of(mask) < ub - 1e-9:
            inc_mask, ub = mask, cost_of(mask)
    say(f"LP-guided cover {ub:.10g}, {clock()}")
    left = params.remaining()
    if left is None or left > 2.0:
        threshold = _CORE_REDUCED_COST * float(np.median(f[red.sites])) if red.sites.any() else 0.0
        core = core_sites(red.cover, d, red.sites, threshold, inc_mask & red.sites)
        sub = reduced_problem(base, red.cover, core)
        share = None if left is None else _CORE_SHARE * left
        say(f"core MILP on {int(core.sum())} sites for up to {'no limit' if share is None else f'{share:.0f} s'}")
        got = _milp(sub, inc_mask, params.within(share), params)
        stats["core_sites"] = int(core.sum())
        if got is not None and got[0] is not None:
            mask = sub.open_sites(got[0]) | existing
            if _covers(problem, mask) and cost_of(mask) < ub - 1e-9:
                inc_mask, ub = mask, cost_of(mask)
        say(f"core MILP: best cover {ub:.10g}, gap {_gap(ub, lower_bound):.2%}, {clock()}")

    # 4b. regions of the map re-covered at least cost around the incumbent (large-neighbourhood search)
    left = params.remaining()
    if (left is None or left > 2.0) and red.sites.any():
        share = None if left is None else _SEARCH_SHARE * left
        start = inc_mask & ~existing
        found = region_search(problem, red.sites, start, params.within(share), say, patience=_REGION_PATIENCE)
        mask = found | existing
        if _covers(problem, mask) and cost_of(mask) < ub - 1e-9:
            inc_mask, ub = mask, cost_of(mask)
        say(f"region search: best cover {ub:.10g}, gap {_gap(ub, lower_bound):.2%}, {clock()}")

    # 4c. the block bound: the LP bound plus what blocks of rows prove beyond their LP share, kept
    # whatever the branch and bound below proves
    left = params.remaining()
    blocks = None
    if prover == "highs" and (left is None or left > 2.0):
        share = None if left is None else _BLOCK_SHARE * left
        # sites that reduced-cost fixing closes (step 5) cannot be in a plan cheaper than UB: the
        # blocks leave them out, which makes them smaller and their bound a bound on those plans
        # (the others cost at least UB, hence min(UB, block bound) below)
        kept = red.sites & ~(at1 < -ub + q - 1e-7 * max(1.0, ub))
        size = REGION_SITES
        say(
            f"block bound on {int(kept.sum())} sites ({int((red.sites & ~kept).sum())} closed by reduced costs), "
            f"regions of {size} sites, up to {'no limit' if share is None else f'{share:.0f} s'}"
        )
        blocks = block_cuts(problem, duals, red.sites, params.within(share), say, size, None, ~kept)
        stats["block_bound"] = float(blocks.bound)
        lower_bound = max(lower_bound, min(ub, blocks.bound))
        say(f"block bound {blocks.bound:.10g}, gap {_gap(ub, lower_bound):.2%}, {clock()}")

    # 5. reduced-cost fixing, reductions again, branch and bound
    tol = 1e-7 * max(1.0, ub)
    cut = -ub + q  # max form: a plan better than UB has value >= -UB + q
    close = red.sites & (at1 < cut - tol)
    open_ = red.sites & (at0 < cut - tol)
    if (close & open_).any():
        stats["fixing"] = "no better plan"
        return _done(instance, radius, objective, params, t0, inc_mask, ub, ub, integral, stats, say)
    stats["fixed_closed"], stats["fixed_open"] = int(close.sum()), int(open_.sum())
    sites = red.sites & ~close & ~open_
    covered = (red.cover @ open_.astype(np.int32)) > 0
    left_rows = sp.csr_array(red.cover[np.flatnonzero(~covered)])
    say(f"reduced-cost fixing: {int(close.sum())} sites closed, {int(open_.sum())} opened, {clock()}")
    if left_rows.shape[0] and (np.diff(sp.csr_array(left_rows.multiply(sites[None, :])).indptr) == 0).any():
        # a row no free site covers: no plan agreeing with the fixings exists, none beats UB
        return _done(instance, radius, objective, params, t0, inc_mask, ub, ub, integral, stats, say)
    left = params.remaining()
    if left is not None and left < _REDUCE_AGAIN_SECONDS:
        # a reduction round takes seconds at city scale: with little time left the deadline
        # would pass inside it, and the branch and bound could not use the smaller problem anyway
        red2 = reduce_cover(left_rows, None, sites, say, lambda: True)
    else:
        red2 = reduce_cover(
            left_rows, f if objective == "cost" else None, sites, say, params.expired, _REDUCE_MIN_SHARE
        )
    final = reduced_problem(base, red2.cover, red2.sites)
    final = replace(
        final, col_lower=np.where(open_, 1.0, final.col_lower), col_upper=np.where(open_, 1.0, final.col_upper)
    )
    stats["rows_final"], stats["sites_final"] = int(red2.cover.shape[0]), int(red2.sites.sum())
    # The block cuts are valid (tests/optimizer/test_coverage_lscp_cuts.py) but stay out of the
    # branch and bound: with them its root LP starts at the block bound, yet the tree then keeps
    # that bound flat and ends later. Measured at 100,000 x 2,000, r = 800 m, seed 1, one thread,
    # from the optimal cover: 164 s with the cuts, 99 s without. The block bound itself is kept below (the larger of the two bounds).
    if red2.cover.shape[0] == 0:
        mask = open_ | existing
        if cost_of(mask) < ub - 1e-9:
            inc_mask, ub = mask, cost_of(mask)
        return _done(instance, radius, objective, params, t0, inc_mask, ub, ub, integral, stats, say)
    agrees = not (inc_mask & (close | (free & ~red.sites))).any() and bool((inc_mask | ~open_).all())
    say(
        f"branch and bound ({PROVERS[prover]}): {int(red2.sites.sum())} sites, {red2.cover.shape[0]} rows, "
        f"{_left_text(params)} left"
    )
    got = _milp(final, inc_mask if agrees else None, params, proving_params(params, prover), engine=prover)
    if got is not None:
        x, bound, _ = got
        if x is not None:
            mask = final.open_sites(x) | existing
            if _covers(problem, mask) and cost_of(mask) < ub - 1e-9:
                inc_mask, ub = mask, cost_of(mask)
        if bound is not None:  # fixed-open sites are columns at 1 of `final`: their cost is in it
            bound -= bound_margin(bound, int(red2.sites.sum()))
            lower_bound = max(lower_bound, min(ub, bound))
        stats["milp_bound"] = bound
    if q > 0:
        lower_bound = min(ub, max(lower_bound, on_grid(lower_bound, q)))
    stats["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    return _done(instance, radius, objective, params, t0, inc_mask, ub, lower_bound, integral, stats, say)


# HiGHS settings for the last branch and bound, which starts from a cover the core MILP and the
# region search have already improved: its primal heuristics (the root's sub-MIPs, feasibility
# jump) rarely beat that cover, and the bound is what is left to prove. Measured at 100,000 x 2,000,
# r = 800 m, seed 1, the branch and bound alone from the optimal cover 63.771, two threads: 88.4 s
# with the default heuristics (18 s of them at the root), 72.0 s without (with the block cuts as
# rows: 92.6 s and 79.9 s).
# Options the user sets for "highs" win over these.
PROVING_OPTIONS: dict[str, Any] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}


# SCIP's primal heuristics switched off for the same reason (each ``heuristics/<name>/freq = -1``;
# names of SCIP 8 and later). At 100,000 x 2,000, r = 800 m, seed 2, on the problem left after
# fixing, from the optimal cover 64.191, one thread: the root bound reached 63.14 in 41 s against
# 63.10 in 74 s with them, and the proof took 243 s against 312 s.
# Options the user sets for "scip" win over these.
SCIP_PROVING_OPTIONS: dict[str, Any] = {
    f"heuristics/{name}/freq": -1
    for name in (
        "rens", "rins", "alns", "crossover", "dins", "gins", "localbranching", "mutation", "lpface",
        "feaspump", "locks", "shiftandpropagate", "clique", "vbounds", "zeroobj", "conflictdiving",
        "farkasdiving", "fracdiving", "distributiondiving", "adaptivediving",
    )
}  # fmt: skip


def proving_params(params: SolveParams, prover: str = "highs") -> SolveParams:
    """``params`` with the prover's proving settings (:data:`PROVING_OPTIONS` for HiGHS,
    :data:`SCIP_PROVING_OPTIONS` for SCIP) under the user's own options for that solver."""
    own = {"highs": PROVING_OPTIONS, "scip": SCIP_PROVING_OPTIONS}[prover]
    options = dict(params.options)
    options[prover] = {**own, **params.options_for(prover)}
    return replace(params, options=options)


def _milp(
    problem: MilpProblem,
    start: NDArray[np.bool_] | None,
    sub: SolveParams,
    params: SolveParams,
    engine: str = "highs",
) -> tuple[NDArray[np.float64] | None, float | None, bool] | None:
    """``engine`` (HiGHS or SCIP) on ``problem`` within ``sub``'s time: (x, bound, optimal), or None
    when out of time. ``params`` gives the gap, threads, seed and solver options."""
    from siting.optimizer.registry import get_backend

    if sub.expired():
        return None
    warm = None
    if start is not None:
        x0 = np.clip(start.astype(np.float64), problem.col_lower, problem.col_upper)
        if problem.max_violation(x0) <= 1e-9:
            warm = x0
    res = get_backend(engine).solve(
        problem,
        SolveParams(
            time_limit=sub.remaining(),
            mip_gap=params.mip_gap,
            threads=params.threads,
            seed=params.seed,
            deadline=params.deadline,
            options=params.options,
        ),
        warm_start=warm,
    )
    x: NDArray[np.float64] | None = None
    if res.x is not None:
        x = np.round(np.asarray(res.x, dtype=np.float64)).astype(np.float64)
    bound = res.bound if res.bound is not None and math.isfinite(res.bound) else None
    return x, bound, res.status == Status.OPTIMAL


def _covers(problem: MilpProblem, mask: NDArray[np.bool_]) -> bool:
    """Whether the plan covers every row of the reduced problem (hence every coverable demand)."""
    return bool(np.all(problem.A @ mask.astype(np.float64) >= 1.0 - 1e-9))


def _left_text(params: SolveParams) -> str:
    left = params.remaining()
    return "no limit" if left is None else f"{max(left, 0.0):.0f} s"


def _gap(ub: float, lb: float) -> float:
    return max(ub - lb, 0.0) / max(abs(ub), 1e-9)


def _done(
    instance: SitingInstance,
    radius: float,
    objective: str,
    params: SolveParams,
    t0: float,
    mask: NDArray[np.bool_],
    ub: float,
    lb: float,
    integral: bool,
    stats: dict[str, Any],
    say: Progress,
) -> tuple[SolveResult, NDArray[np.bool_], dict[str, Any]]:
    """The result through the shared accounting of :mod:`optimizer.coverage_exact` (max form),
    named after the solver of the branch and bound."""
    from siting.optimizer.coverage_exact import finish_coverage

    return finish_coverage(
        instance, "lscp", radius, objective, params, t0, mask, -ub, mask, -ub, -lb, Status.FEASIBLE,
        Limit.TIME if params.expired() else Limit.OTHER, integral, stats, say, prover=stats["prover"],
        note=stats.get("note", ""),
    )  # fmt: skip
