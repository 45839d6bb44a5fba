"""Exact p-median by Benders decomposition of the radius formulation, on HiGHS.

The radius formulation of Elloumi (2010) projects, client by client, onto the site variables
``y``. For client i with weight w_i and any distance level L, the inequality

    theta_i >= L - sum_{j : d_ij < L} (L - d_ij) y_j                                  (B)

is valid for every 0/1 ``y`` with at least one open site (if the nearest open site is closer
than L, the sum subtracts at least ``L - d_i*``; otherwise the right side is at most L). For a
fractional ``y`` the deepest cut is at the level where the cumulative open mass of i's sites,
sorted by distance, first reaches 1 (Duran-Mateluna, Ales & Elloumi, EJOR 2023): the right side
then equals the LP assignment cost of client i, so the separation is closed-form and vectorized,
and ``V(y) = sum_i w_i * rhs_i(y)`` is the exact value of the LP relaxation at ``y``.

Master problem (M):

    min  sum_i w_i theta_i
    s.t. sum_{j new} y_j <= p                                                          (1)
         cuts (B) generated so far                                                     (2)
         y_j = 1 for existing sites, y_j = 0 for forbidden ones, 0 <= y <= 1           (3)
         theta_i >= min_j d_ij                                                         (4)

Let UB be the value of the incumbent and ``delta = 1`` when every w_i d_ij is an integer (an
improving plan is then worth at most UB - 1), a tiny tolerance otherwise. A site may be fixed
(to 0 or 1) as soon as every plan with the opposite value is proven to be worth more than
UB - delta: every improving plan then agrees with the fixing, and the incumbent is kept.

Algorithm:

1. LP phase: Kelley's cutting planes on the LP relaxation of (M), stabilised by in-out
   separation (Ben-Ameur & Neto 2007): cuts are separated at a point between the LP optimum and
   a core point; ``V`` at any separated point is an upper bound of the LP, so the phase ends
   with a certified LP gap.
   On a very large instance (a truncated separator) with many medians the plan rounded from the
   LP is then improved by the window search (:mod:`optimizer.pmedian_windows`: a few neighbouring
   medians re-placed exactly at a time, around the sites the LP leaves fractional).
2. Reduced-cost fixing: with the LP bound LB and the reduced cost r_j of y_j, the LP with y_j
   moved to its other bound is worth at least ``LB + |r_j|``; if that exceeds UB - delta, y_j is
   fixed where the LP has it. Cuts slack at the LP optimum are dropped. When that leaves at most
   3p sites free it is applied at every LP round (each round's LP is a relaxation of (M)), and a
   tailing LP phase then stops early; a MILP attempt capped after such a stop gets a second one
   once the LP has converged, and so does a capped attempt that closed a quarter of the gap it started from.
3. Probing: for each free site j, the master LP is solved with y_j fixed to 1 (and, for sites
   fractional or open in the LP, to 0), with cut rounds. Every LP value of the probe (with any
   subset of the valid cuts (B)) is a lower bound on all plans with that value of y_j, so
   ``LB_probe > UB - delta`` fixes y_j to the opposite value for good. A probe stops early when
   ``V(y_probe) <= UB - delta`` (its LP optimum cannot reach the threshold). Cuts found while
   probing are valid for (M) and kept (they make the node LPs of step 5 tight). A probe is
   skipped when ``V`` at a cheap point of its LP (the global LP optimum with y_j moved and the
   other free mass rescaled to the slots left) is already <= UB - delta. After a pass the global
   LP is re-solved, reduced-cost fixing is applied again, and passes repeat while they raise the
   global bound by a tenth of the gap. With small p this leaves only a handful of free sites.
   Columns fixed to 0 are then dropped from the separator (they add nothing to any cut). Within a
   pass the global LP, with the probes' cuts and fixings so far, is also re-solved now and then: its
   bound rises with them and its reduced costs close many sites at once (``PROBE_REFRESH``).
   A pass that, at its recent pace, would end long after the deadline is stopped and leaves the
   time to step 5 (:mod:`optimizer.probe_forecast`); with more than ``PROBE_MAX_FREE`` sites free
   no pass starts (nor the short MILP attempt before it): step 5 takes the time.
4. Enumeration: if the plans over the free sites are few (C(f, r) plans for f free sites and r
   slots left; distances are nonnegative, so only plans using every slot count), they are all
   valued in vectorized chunks; the best of them and the incumbent is optimal.
5. MILP phase: HiGHS solves (M) with integer y, warm-started from the incumbent; cuts (B) are
   separated at its integer solution (and at every other integer point it reports through the
   solution callback) and the MILP is solved again until it adds none. The master optimum is a
   valid lower bound at every round; the last integer y is optimal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray

from siting.models.errors import DataError
from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.benders_highs import (
    FEASIBLE,
    highs_version,
    interrupt_watch,
    mip_progress_watch,
    new_master_highs,
    use_proof_options,
)
from siting.optimizer.pmedian_enumerate import best_completion, enumerable, integral_costs
from siting.optimizer.pmedian_kernel import KernelSearch
from siting.optimizer.pmedian_master import Loop, Master
from siting.optimizer.pmedian_polish import POLISH_PLANS, Polisher, rounded_plans
from siting.optimizer.pmedian_separator import RadiusSeparator
from siting.optimizer.pmedian_windows import WindowSearch
from siting.optimizer.probe_forecast import PassForecast
from siting.optimizer.progress import PROGRESS_SECONDS, Every
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status, relative_gap

Progress = Callable[[str], None]
#: Clients x sites above which the separator stores only each client's nearest sites.
TRUNCATE_ENTRIES = 40_000_000
#: Stored sites per client when truncated: WIDTH_PER_MEDIAN * sites / p, at least MIN_WIDTH.
WIDTH_PER_MEDIAN = 6.0
MIN_WIDTH = 64
#: After a start without a proven bound (truncated, or none), an LP gap above this share sends the LP-guided MILP
#: looking for a better plan, with this share of the time left
GUIDED_GAP, GUIDED_SHARE = 1e-3, 0.3
#: The first MILP attempt's first round may take this share of the LP phase's CPU time.
FIRST_ROUND_SHARE = 0.75
#: The short MILP attempt (and its first round) may always run at least this many seconds.
MIN_ATTEMPT_SECONDS = 1.0
#: A capped MILP attempt that closed a quarter of its starting gap (left at most this share) gets another attempt
#: instead of probing.
CLOSING_SHARE = 0.75
#: The LP phase stops ("stalled") when STALL_ROUNDS rounds raised its bound by less than this share of the gap.
STALL_SHARE = 0.02
STALL_ROUNDS = 10
#: ... and at most this many free sites per median are left.
STALL_FREE_PER_MEDIAN = 3


#: After the LP phase, for p >= LP_KERNEL_MIN_P, the kernel search runs over the incumbent's sites
#: and the sites the LP opens at least LP_SUPPORT: on pcb3038, p = 200 it took the incumbent from
#: 237,426 to 237,400 in 12 s (the optimum is 237,399), so that reduced-cost fixing closed 928 sites
#: instead of 636; p = 500: 134,814 to 134,800 in 2.4 s. With few medians the swap search's plan is
#: hard to beat and the restricted MILP is slow: p = 20 (109 sites) found nothing in 29 s.
LP_KERNEL_MIN_P = 50
LP_SUPPORT = 0.05
#: On a very large instance (a truncated separator) with at least LP_KERNEL_MIN_P medians, the window
#: search (:mod:`optimizer.pmedian_windows`) runs after the LP phase around the sites the LP leaves
#: fractional, with this share of the time left and windows of this many medians and nearest sites:
#: at usa13509, p = 2000 it took the plan rounded from the LP from 18,232,844 to 18,231,440 in 20 s
#: (the optimum is 18,230,856; measured before the windows' LP test, at 29 s for this size: 8 medians
#: and 10 sites gave 18,232,118 in 7 s, 12 and 12 18,231,618 in 21 s, 25 and 20 the same plan in 87 s).
WINDOW_SHARE = 0.1
WINDOW_MEDIANS, WINDOW_NEAR = 16, 15
#: During a probing pass the global LP (with the probes' cuts and fixings so far) is solved again,
#: with reduced-cost fixing, once the pass has probed PROBE_REFRESH times as long as the last such
#: LP took and at least REFRESH_MIN_SECONDS (twice that after each one that gained nothing).
#: Measured side by side, one process, on against off: pcb3038, p = 100: OPTIMAL in 178.4 s against
#: FEASIBLE (bound 351,415, optimum 351,500) at 300 s: probes cost 0.12 s instead of 0.68 s from the
#: better LP point; p = 200: bound 237,354 against 237,348 at 300 s; rl1304, p = 10: 302 probes
#: against 392, 15.8 s against 16.8 s. An earlier form (re-solving only after a probe had fixed a
#: site, no back-off): pcb3038, p = 20: 84.7 s against 98.4 s; a floor of 0.25-0.5 s refreshed
#: 13-25 times on rl1304, p = 10 and saved less.
PROBE_REFRESH = 4.0
REFRESH_MIN_SECONDS = 1.0
#: With more sites than this left free after reduced-cost fixing, neither the short MILP attempt nor
#: probing runs: a pass (one LP cut loop per free site) cannot end in time, and the MILP rounds
#: take the time. usa13509, p = 2000 (12,382 free sites after the window search), one process
#: each: the attempt and 948 of 12,584 probes spent 122 s and the run ended at a gap of 0.0064 %;
#: without them it was proven optimal in 377 s. pcb3038 and rl1304 have fewer sites than this.
PROBE_MAX_FREE = 5000
#: A probe is given up (no fixing; the pass goes on) once it has run PROBE_CAP_RATIO times as long
#: as the probes before it on average, and at least PROBE_CAP_SECONDS. One pcb3038, p = 100 run
#: (600 s limit) reported nothing from 51 s into its probing pass to the limit, and ended unproven,
#: where three runs of the same code were proven in 183-191 s. Which step hung was not caught; one
#: probe's LP is the step of the pass with no limit of its own (the LP re-solves took 0.06-6.4 s).
PROBE_CAP_RATIO = 20.0
PROBE_CAP_SECONDS = 10.0


def stalled(bound_before: float, bound_after: float) -> bool:
    """Whether a finished MILP round left the bound where it was: then the kernel search
    (:mod:`optimizer.pmedian_kernel`) runs. While the bound rises the gap is the bound's: searching
    after every round cost rl1304, p = 10 and 100, 13 s in total. On pcb3038, p = 500, whose bound is
    at the optimum from 30 s on while the rounds cut off plans one unit above it, the search after
    the LP phase and after the first stalled round proved it in 37.5 s against 92 s."""
    return bound_after <= bound_before


def solve_pmedian_benders(
    instance: SitingInstance,
    p: int,
    params: SolveParams,
    start_mask: NDArray[np.bool_] | None = None,
    progress: Progress | None = None,
    lp_tol: float = 1e-7,
    ladder_max: int = 0,
    probe_passes: int = 3,
    enum_budget: float = 2e8,
    max_width: int | None = None,
    probe_refresh: float | None = None,
    start_bound: float | None = None,
    start_multipliers: NDArray[np.float64] | None = None,
) -> tuple[SolveResult, NDArray[np.bool_] | None]:
    """Solve the uncapacitated p-median exactly by Benders decomposition on HiGHS.

    Parameters
    ----------
    instance : the sites and demand; existing sites are open, forbidden ones closed.
    p : number of new sites.
    params : time limit, gap, threads, seed, verbosity and ``options["highs"]``.
    start_mask : an incumbent plan (m,) bool, e.g. from a heuristic.
    progress : callback receiving progress messages.
    lp_tol : relative violation below which a cut is not added in the LP phases.
    ladder_max : per client, at most this many extra cuts at the distinct distance levels
        between its LP level and its incumbent level, added before the MILP phase (0: none).
    probe_passes : at most this many probing passes (0: no probing).
    probe_refresh : re-solve the global LP during a pass after this many times its last cost in
        probing (see ``PROBE_REFRESH``, the default; 0: only at the end of each pass).
    enum_budget : enumerate the plans left free by the fixings when that costs at most this many
        distance look-ups (clients x slots x plans); 0 disables it.
    max_width : store only each client's this many nearest sites in the separator (see
        :class:`RadiusSeparator`: the optimum is unaffected). Default: all of them, unless clients x
        sites exceeds ``TRUNCATE_ENTRIES``; then ``max(MIN_WIDTH, WIDTH_PER_MEDIAN * k / p)``.
    start_bound : a proven lower bound that came with ``start_mask`` (the heuristic's Lagrangian
        bound); when it meets the start's value the start is optimal and no LP is solved.
    start_multipliers : (n,) Lagrangian multipliers ``u_i`` of the assignment rows (the heuristic's,
        in units of ``w_i d_ij``). The master starts with one cut (B) per client at the level
        ``u_i / w_i`` (any level gives a valid cut); with them alone the master LP is worth at
        least the Lagrangian bound of ``u``, so the LP phase starts there instead of from nothing.

    Returns
    -------
    The solve record (objective, proven bound, gap, time, limit) and the open-site mask.
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    c0 = time.process_time()
    probe_refresh = PROBE_REFRESH if probe_refresh is None else probe_refresh
    left = params.remaining()  # the shared budget: the heuristic start may have used some of it
    deadline = t0 + left if left is not None else np.inf
    version = highs_version()

    # ---- data: clients with positive weight, candidate sites (not forbidden)
    cand = np.flatnonzero(instance.eligible)
    clients = np.flatnonzero(instance.weights > 0)
    w = instance.weights[clients].astype(np.float64)
    # the instance's own float32 matrix when every row and column is used: no copy (dense_distances()
    # is a float64 copy, 1.46 GB at 13,509 x 13,509)
    dense = instance.dense_distances() if instance.is_sparse else instance.distances
    if clients.size == dense.shape[0] and cand.size == dense.shape[1]:
        d = dense
    else:
        d = dense[np.ix_(clients, cand)]
    finite = np.isfinite(d)
    unreachable = ~finite.any(axis=1)
    if unreachable.any():
        ids = instance.demand_ids[clients[unreachable]][:5]
        raise DataError(
            f"demand points {', '.join(map(str, ids))} cannot reach any eligible site; remove them or add sites"
        )
    if not finite.all():
        big = float(np.max(d[finite])) * 2 + 1.0
        d = np.where(finite, d, big).astype(d.dtype)
    del finite
    existing = instance.existing[cand]
    integral = integral_costs(w, d)
    delta = 1.0 - 1e-6 if integral else 1e-9
    n, k = d.shape
    if max_width is None and n * k > TRUNCATE_ENTRIES:
        max_width = max(MIN_WIDTH, math.ceil(WIDTH_PER_MEDIAN * k / max(p, 1)))
    sep = RadiusSeparator(d, width=max_width)
    say(
        f"benders: {n} clients x {k} candidate sites, p = {p}"
        + (f"; the {sep.width} nearest sites of each client stored" if sep.truncated else "")
    )

    def true_value(y: NDArray[np.float64]) -> float:
        """p-median objective of an integer y (nearest open candidate per client); inf if none is open
        (HiGHS's solution callback can hand over such a point while it is interrupted)."""
        open_cols = y > 0.5
        if not open_cols.any():
            return float("inf")
        return float(np.dot(w, d[:, open_cols].min(axis=1)))

    # ---- incumbent
    if start_mask is not None:
        y_inc = start_mask[cand].astype(np.float64)
    else:
        y_inc = existing.astype(np.float64)
        by_total = np.argsort(d.sum(axis=0), kind="stable")
        y_inc[by_total[~existing[by_total]][:p]] = 1.0
    ub = true_value(y_inc)
    say(f"benders: the start plan's value {ub:.10g}")

    h = new_master_highs(params)
    master = Master(h, sep, w, existing, p, lp_tol)
    master.cut_at(y_inc)
    if start_multipliers is not None and len(start_multipliers) == instance.n:
        # client i's level u_i / w_i, kept within its stored sites (a level above cap_i would
        # need the columns a truncated separator left out) and above its nearest distance
        lvl = np.asarray(start_multipliers, dtype=np.float64)[clients] / w
        lvl = np.minimum(lvl, master.sep.cap.astype(np.float64))
        useful = np.flatnonzero(np.isfinite(lvl) & (lvl > master.sep.dist[:, 0]))
        master.add_cuts(useful.astype(np.int64), lvl[useful])
        say(f"benders: {useful.size} cuts at the start's Lagrangian levels")
    stats: dict[str, Any] = {
        "fixed_closed": 0,
        "fixed_open": 0,
        "probed": 0,
        "screened": 0,
        "probe_rounds": 0,
        "refreshed": 0,
    }
    bound = -np.inf
    if start_mask is not None and start_bound is not None and np.isfinite(start_bound):
        bound = min(ub, float(start_bound))
    limit = Limit.NONE

    def proven() -> bool:
        return ub - bound <= (delta if integral else max(params.mip_gap * abs(ub), 1e-9))

    def tidy(loop: Loop, drop: bool = True) -> None:
        """Reduced-cost fixing (and cut clean-up) after an LP loop that ended at an LP optimum."""
        stats["fixed_closed"] += loop.fixed_closed  # fixed during the loop's rounds
        stats["fixed_open"] += loop.fixed_open
        if loop.status in ("converged", "stalled"):
            z, o = master.tidy(loop.bound, ub - delta, drop)
            stats["fixed_closed"] += z
            stats["fixed_open"] += o
            master.compact()
            stats["refreshed"] += int(master.refresh())

    free_cols = np.flatnonzero(~existing).astype(np.int32)
    # swap local search from the master's plans, on the sites the separator stores
    polisher = Polisher(instance, p, cand, width=sep.width if sep.truncated else None)
    kernel = KernelSearch(d, w, existing, p, params)
    pool: dict[bytes, NDArray[np.bool_]] = {}
    milp_rounds = 0
    y_best = y_inc
    certified = False

    def polish(y: NDArray[np.float64]) -> bool:
        """Swap local search from the plan ``y``; True, with the new incumbent, when it found a better plan."""
        nonlocal ub, y_best
        better = polisher.improve(y, deadline)
        value = np.inf if better is None else true_value(better)
        if better is None or value >= ub - 1e-9:
            return False
        ub, y_best = value, better
        kernel.see(better)
        return True

    def kernel_search() -> None:
        """The restricted MILP over the sites of the plans seen (pmedian_kernel); its plan becomes the
        incumbent when its true value is better."""
        nonlocal ub, y_best
        better = kernel.improve(y_best, deadline)
        if better is None:
            return
        value = true_value(better)
        if value < ub - 1e-9:
            ub, y_best = value, better
            master.cut_at(y_best)
            stats["kernel_found"] = stats.get("kernel_found", 0) + 1
            say(f"benders: kernel search over {int(kernel.kernel.sum())} sites: incumbent {ub:.8g}")

    def on_solution(e: object) -> None:
        sol_ = np.asarray(e.data_out.mip_solution)  # type: ignore[attr-defined]
        if sol_.size >= k:
            yb = sol_[:k] > 0.5
            pool.setdefault(np.packbits(yb).tobytes(), yb)

    stop_at = [np.inf]  # when the MILP solve under way must stop (read by on_interrupt) ...
    work_at = [np.inf]  # ... or the CPU time at which it must (a capped attempt)
    on_interrupt = interrupt_watch(stop_at, work_at)

    def take_plans(first: NDArray[np.float64] | None, bound_stalled: bool = False) -> tuple[int, int]:
        """The plans of the last MILP round: its optimum ``first`` (None when the round stopped
        early) and every integer point HiGHS reported. The best becomes the incumbent when it is
        better and the best few are polished. After a finished round each point other than
        ``first`` is cut off (the next round must not visit it again); after a stopped one, whose
        rounds are over, not: rl1304, p = 10 then probed with 3,300 more cuts, 32.7 s against 20.3
        s. After a round that left the bound where it was (``bound_stalled``, see :func:`stalled`)
        the kernel search runs. Returns the cuts added and the points read."""
        nonlocal ub, y_best
        extra = 0
        plans = [] if first is None else [(true_value(first), first)]
        for yb in pool.values():
            if not yb.any() or (first is not None and np.array_equal(yb, first > 0.5)):
                continue  # not a plan (see true_value), or the optimum itself
            yv = yb.astype(np.float64)
            plans.append((true_value(yv), yv))
            if first is not None:
                extra += master.cut_at(yv)
        plans.sort(key=lambda vy: vy[0])
        for _value, yv in plans:
            kernel.see(yv)
        if plans and plans[0][0] < ub - 1e-9:
            ub, y_best = plans[0]
        for _value, yv in plans[:POLISH_PLANS]:
            if polish(yv):
                master.cut_at(y_best)
        if bound_stalled:
            kernel_search()
        return extra, len(pool)

    def milp_line(round_no: int, restricted: bool) -> Callable[[Any], None]:
        """The progress line of a MILP round under way: its nodes and, on the whole master (not a
        restricted one, whose bound says nothing of the problem), its bound."""
        t_round = time.perf_counter()

        def line(out: Any) -> None:
            what = "restricted MILP" if restricted else "MILP"
            shown = "" if restricted else f", bound {min(ub, max(bound, float(out.mip_dual_bound))):.8g}"
            say(
                f"benders {what} round {round_no}: {int(out.mip_node_count)} nodes{shown}, "
                f"incumbent {ub:.8g}, {time.perf_counter() - t_round:.0f} s"
            )

        return line

    def milp(until: float, restricted: bool = False, work: tuple[float, float] | None = None) -> str:
        """MILP rounds over the master until proven, certified, or the clock reads ``until``.

        ``work = (all_rounds, first_round)``: caps on the process's CPU time
        (:func:`time.process_time`) for the rounds and, tighter, for the first of them (a first
        round that is slow predicts slow rounds).

        ``restricted``: the master carries temporary fixings (see the LP-guided search below), so
        its bounds and its optimum say nothing of the whole problem: only the plans found count.

        Each round runs on a fresh copy of the master (:meth:`Master.integer_copy` says why); a
        round stopped early still gives up the plans HiGHS found, each measured at its true value
        (the master's value understates a plan where cuts are missing: on a 5,000 x 1,000
        instance, p = 30, a plan HiGHS valued 0.26 % below the incumbent was 0.21 % above it).

        Returns "done" (proven or certified), "capped" (a cap came before the deadline),
        "time" (the deadline), or "other". The master's own object stays an LP, so that probing can
        follow a capped attempt; every cut added stays valid.
        """
        nonlocal bound, certified, milp_rounds
        milp_rounds_before = milp_rounds
        outcome = "done"
        mh: highspy.Highs | None = None
        while not proven():
            # each round's copy holds every cut: let the last one go before the next is built
            mh = None
            mh = master.integer_copy(new_master_highs(params), free_cols)
            mh.setOptionValue("mip_rel_gap", float(params.mip_gap) if params.mip_gap > 0 and not integral else 0.0)
            mh.setOptionValue("mip_abs_gap", delta * 0.999 if integral else 1e-9)
            if start_mask is not None:
                # the incumbent comes from a strong heuristic: spend the MILP effort on the proof
                use_proof_options(mh, params)
            if "presolve" not in params.options_for("highs"):
                mh.setOptionValue("presolve", "off")  # measured: presolve of the master costs more than it saves
            mh.cbMipSolution.subscribe(on_solution)
            # HiGHS's MIP ran 177-245 s past its time_limit (random 5,000 x 1,000): the callbacks watch too
            mh.cbMipInterrupt.subscribe(on_interrupt)
            mh.cbSimplexInterrupt.subscribe(on_interrupt)
            mh.cbMipInterrupt.subscribe(mip_progress_watch(milp_line(milp_rounds + 1, restricted), PROGRESS_SECONDS))
            # warm start from the incumbent, theta at its true distances
            hs = highspy.HighsSolution()
            hs.col_value = list(np.concatenate([y_best, d[:, y_best > 0.5].min(axis=1)]))
            hs.value_valid = True
            mh.setSolution(hs)
            milp_rounds += 1
            pool.clear()
            first = milp_rounds == milp_rounds_before + 1
            stop_at[0] = min(until, deadline)
            work_at[0] = np.inf if work is None else (min(work[0], work[1]) if first else work[0])
            bound_before = bound
            # a cap already passed stops the round before it starts, as a clock past stop_at does
            st = "time" if time.process_time() >= work_at[0] else master.solve(stop_at[0], on=mh)
            mb = mh.getInfo().mip_dual_bound
            if np.isfinite(mb) and not restricted:
                bound = max(bound, min(ub, float(np.ceil(mb - 1e-6)) if integral else float(mb)))
            if st == "infeasible":  # the fixings exclude every plan: none improves on UB
                bound = bound if restricted else ub
                break
            if st != "optimal":
                if mh.getInfo().primal_solution_status == FEASIBLE:  # the round's incumbent, also when stopped
                    yb = np.asarray(mh.getSolution().col_value)[:k] > 0.5
                    pool.setdefault(np.packbits(yb).tobytes(), yb)
                extra, points = take_plans(None)
                say(f"benders MILP round {milp_rounds} stopped: incumbent {ub:.8g} ({points} points read)")
                if st == "time":
                    outcome = "capped" if time.perf_counter() < deadline - 1e-3 else "time"
                else:
                    outcome = "other"
                break
            y_int = (master.y > 0.5).astype(np.float64)
            level = master.sep.levels(y_int)
            rhs = master.sep.rhs(level, y_int)
            viol = np.flatnonzero(rhs > master.theta + 1e-7 * np.maximum(1.0, np.abs(rhs)))
            # every integer point HiGHS visited: improve the incumbent and cut it off too
            extra, points = take_plans(y_int, bound_stalled=not restricted and stalled(bound_before, bound))
            say(
                f"benders MILP round {milp_rounds}: master {master.obj:.8g}, bound {bound:.8g}, "
                f"incumbent {ub:.8g}, new cuts {viol.size} (+{extra} from {points} pool points)"
            )
            if viol.size == 0 and master.sep.truncated:
                # a capped cut can leave theta below the true distance: only a master optimum
                # that equals its plan's true value certifies; else widen and cut again
                # (no site open: every client is beyond its stored sites)
                near = d[:, y_int > 0.5].min(axis=1) if (y_int > 0.5).any() else np.full(n, np.inf)
                capped = near > master.sep.cap
                if capped.any():
                    master.sep = master.sep.widen()
                    master.cut_at(y_int)
                    say(
                        f"benders: {int(capped.sum())} clients beyond their stored sites; "
                        f"now the {master.sep.width} nearest are stored"
                    )
                    continue
            if viol.size == 0:
                # HiGHS solved the master to the gap and its optimum is attained by a plan
                # (theta = true distances): no plan is better by more than the gap
                certified = certified or not restricted
                break
            master.add_cuts(viol, level[viol])
        return outcome

    # ---- 1. LP phase with in-out stabilisation
    core = np.where(existing, 1.0, p / max(1, int((~existing).sum())))
    core = 0.5 * core + 0.5 * y_inc
    loop = (
        master.cut_loop(
            deadline,
            core=core,
            report=say,
            fix_at=ub - delta,
            stall_rounds=STALL_ROUNDS,
            stall_free=STALL_FREE_PER_MEDIAN * p,
            stall_share=STALL_SHARE,
        )
        if not proven()
        else Loop(bound, ub, 0, "proven")
    )
    stats["lp_rounds"] = loop.rounds
    stats["lp_status"] = loop.status
    if loop.status == "error":
        message = f"master LP ended with {h.modelStatusToString(h.getModelStatus())}"
        return SolveResult(
            status=Status.ERROR,
            solver="highs",
            solver_version=version,
            message=message,
            seconds=time.perf_counter() - t0,
        ), None
    if loop.status != "proven" and loop.bound > -np.inf:
        # the last master LP solved to optimality holds a subset of valid cuts: its value bounds
        # every plan, also when the clock stopped the LP phase (the solve it interrupted is not read)
        stats["lp_bound"] = min(ub, loop.bound)
        bound = max(bound, stats["lp_bound"])
    if loop.status == "proven":
        say(f"benders: the start's proven bound meets its value {ub:.8g}; no LP needed")
    elif loop.status != "time":
        say(
            f"benders LP phase: {loop.rounds} rounds, LP bound {loop.bound:.8g}, incumbent {ub:.8g}, cuts {master.n_cuts}"
        )
        # plans rounded from the LP and polished: a better incumbent fixes more sites below
        for y_round in rounded_plans(master.y, existing, p, params.seed):
            if polish(y_round):
                say(f"benders: a plan rounded from the LP and polished: incumbent {ub:.8g}")
        if sep.truncated and p >= LP_KERNEL_MIN_P and not proven():
            # many medians on a very large instance: re-place a few neighbouring medians at a time
            # exactly, around the sites the LP leaves fractional (optimizer.pmedian_windows)
            y_lp = master.y
            focus = ((y_lp > 1e-6) & (y_lp < 1 - 1e-6)) | ((y_best > 0.5) & (y_lp < 1 - 1e-6))
            windows = WindowSearch(
                d, w, sep.order, existing, ~existing, params, medians=WINDOW_MEDIANS, near=WINDOW_NEAR
            )
            now = time.perf_counter()
            y_win, value = windows.improve(y_best, now + WINDOW_SHARE * max(0.0, deadline - now), say, focus=focus)
            stats.update(windows.stats)
            if value < ub - 1e-9:
                ub, y_best = value, y_win
                master.cut_at(y_best)
                kernel.see(y_best)
        if p >= LP_KERNEL_MIN_P:  # the kernel search over the incumbent's sites and the LP's support
            kernel.see(master.y, level=LP_SUPPORT)
            kernel_search()
        # ---- 2. reduced-cost fixing and cut clean-up
        tidy(loop)
        say(f"benders: fixed {stats['fixed_closed']} sites closed and {stats['fixed_open']} open by reduced costs")
        if start_bound is None and not proven() and ub - bound > GUIDED_GAP * abs(ub):
            # a start without a proven bound (a truncated start, or none) is weak: the MILP over the sites
            # the LP leaves fractional, the others held where the LP has them, finds the plan the nearly
            # integral LP points to. (After a strong start the gap is the LP's own: rl1304, p = 10 spent
            # 85 s here for nothing, and 60 s more even with the LP phase's time as its cap.)
            y_lp, free_now = master.y.copy(), master.free
            held = np.flatnonzero(free_now & ((y_lp < 1e-6) | (y_lp > 1 - 1e-6)))
            master.set_bounds(held, np.round(y_lp[held]), np.round(y_lp[held]), keep=False)
            now = time.perf_counter()
            stats["guided"] = milp(now + GUIDED_SHARE * max(0.0, deadline - now), restricted=True)
            master.set_bounds(held, master.lo[held], master.hi[held], keep=False)
            say(
                f"benders: the MILP over the {int(free_now.sum()) - held.size} sites the LP leaves fractional: incumbent {ub:.8g}"
            )
            loop = master.cut_loop(deadline, fix_at=ub - delta)  # back to the LP optimum, for fixing and probing
            if loop.status == "time":
                limit = Limit.TIME
            elif loop.status == "converged":
                bound = max(bound, min(ub, loop.bound))
                tidy(loop, drop=False)
                say(
                    f"benders: fixed {stats['fixed_closed']} sites closed and {stats['fixed_open']} open by reduced costs"
                )
    else:
        limit = Limit.TIME
        if "lp_bound" in stats:
            say(
                f"benders LP phase stopped by the time limit after {loop.rounds - 1} rounds: bound {bound:.8g}, "
                f"incumbent {ub:.8g}"
            )

    def global_lp() -> bool:
        """The master LP over the fixings and cuts so far (back to an LP optimum), then reduced-cost
        fixing; the cuts stay (they tighten the MILP's node LPs). The LP bounds every improving plan
        and the incumbent the rest. False when the clock stopped it (limit TIME) or no improving plan
        exists (the bound is then UB)."""
        nonlocal bound, limit
        loop = master.cut_loop(deadline, fix_at=ub - delta)
        if loop.status == "time":
            limit = Limit.TIME
            return False
        if loop.status == "infeasible":  # no improving plan exists: the incumbent is optimal
            bound = ub
            return False
        bound = max(bound, min(ub, loop.bound))
        tidy(loop, drop=False)
        return True

    # ---- 3. a short MILP attempt, then probing
    # When the LP bound is tight the MILP over the fixed master finishes in moments, and probing
    # (one LP cut loop per free site) would cost far more (rl1304, p = 500: 0.2 s against 25 s).
    # So try the MILP first, capped at 1.5 times the LP phase (at least 1 s); probe only if it did not finish.
    # The caps count CPU seconds, the LP phase's and the attempt's: counted on the clock, a machine
    # busy with other work during one of them and not the other moved where an attempt stopped, and
    # with it the path (pcb3038, p = 50 and 100 were proven in some runs and not in others).
    # Its first round alone is capped at FIRST_ROUND_SHARE of the LP phase: when that round does not finish, neither
    # do the next (rl1304, p = 10 and 100: the whole 1.5 was spent for nothing; p = 300-500: the
    # first round takes a fifth to a half of the LP phase and the rounds that follow are shorter).
    # After a stalled LP phase a capped attempt gets a second chance once the LP has converged
    # (rl1304, p = 300: the short first attempt was capped, and probing then cost 30 CPU s against 8).
    # A capped attempt that closed a quarter of its gap gets another one too: probing then costs one LP cut loop
    # for each of thousands of free sites (pcb3038, p = 500: the first attempt took the gap from 40
    # to 17 in 7 s, and probing 2,800 free sites ran out the 300 s).
    attempts = 2 if loop.status == "stalled" else 1
    n_free = int(master.free.sum())
    if probe_passes > 0 and n_free > PROBE_MAX_FREE and limit == Limit.NONE and not proven():
        say(f"benders: {n_free} sites left free, too many to probe one by one; the MILP rounds take the time")
        stats["probing_skipped"] = n_free
        probe_passes = 0
    attempt_no = -1
    while attempt_no + 1 < (attempts if probe_passes > 0 else 0):
        attempt_no += 1
        if limit != Limit.NONE or proven():
            break
        gap_before = ub - bound
        c_now = time.process_time()
        c_lp = c_now - c0
        attempt = milp(
            deadline,
            work=(
                c_now + max(MIN_ATTEMPT_SECONDS, 1.5 * c_lp),
                c_now + max(MIN_ATTEMPT_SECONDS, FIRST_ROUND_SHARE * c_lp),
            ),
        )
        stats["first_milp" if attempt_no == 0 else "second_milp"] = attempt
        say(f"benders: MILP attempt {attempt_no + 1} {attempt}, bound {bound:.8g}, incumbent {ub:.8g}")
        if attempt == "time":
            limit = Limit.TIME
        elif attempt == "other":
            limit = Limit.OTHER
        elif attempt == "capped":
            if ub - bound <= CLOSING_SHARE * gap_before:
                attempts = max(attempts, attempt_no + 2)
            # back to the LP optimum (with the attempt's cuts) for probing and reduced-cost fixing
            if global_lp():
                continue
        break
    t_probe, probe_seconds = time.perf_counter(), 0.0
    for pass_ in range(probe_passes if limit == Limit.NONE and not (proven() or certified) else 0):
        if proven():
            break
        bound_before = bound
        y_lp = master.y.copy()
        free = np.flatnonzero(master.free)
        # up-probes (y_j = 1) for sites the LP leaves below 1, then down-probes (y_j = 0) for
        # sites the LP opens (fully or partly); a down-probe of a site at 0 is the LP itself
        ups = free[y_lp[free] < 1 - 1e-9]
        downs = free[y_lp[free] > 1e-9]
        tests = [(j, 1.0) for j in ups] + [(j, 0.0) for j in downs]
        ticks = Every(PROGRESS_SECONDS)
        t_refreshed, refresh_cost, backoff = time.perf_counter(), 0.0, 1.0
        sites_to_probe = np.concatenate([ups, downs]).astype(np.int64)  # the sites of `tests`, in order
        forecast = PassForecast(t_refreshed, deadline, len(tests))
        cut_short = False
        for done, (j, value) in enumerate(tests):
            if ticks.due():  # a pass over thousands of sites runs for minutes
                say(
                    f"benders probing pass {pass_ + 1}: {done} of {len(tests)} probes, "
                    f"{int(master.free.sum())} free sites left, bound {bound:.8g}, {time.perf_counter() - t_probe:.0f} s"
                )
                # a pass that cannot end before the deadline leaves the time to the MILP rounds
                if forecast.outlasts(time.perf_counter(), int(np.count_nonzero(master.free[sites_to_probe[done:]]))):
                    stats["probing_cut_short"], cut_short = done, True
                    say(
                        f"benders probing pass {pass_ + 1} stopped after {done} of {len(tests)} probes: at its "
                        "pace it would end after the time limit; the MILP rounds take the time left"
                    )
                    break
            if not master.free[j]:
                continue
            # screen: V at a point of the probe's LP (the LP optimum with y_j moved and the
            # other free mass rescaled to the p slots left) bounds the probe LP from above
            y_try = np.where(master.closed, 0.0, y_lp)
            y_try[j] = value
            others = master.free.copy()
            others[j] = False
            slots = p - float(np.sum(master.lo[~existing])) - value
            mass = float(y_try[others].sum())
            if mass > 0:
                y_try[others] = np.minimum(1.0, y_try[others] * max(slots, 0.0) / mass)
            if master.value(y_try) <= ub - delta:
                stats["screened"] += 1
                continue
            master.set_bounds(np.array([j]), value, value, keep=False)
            t_this = time.perf_counter()
            # a probe only ever helps: one far slower than those before it is given up, not waited for
            cap = max(PROBE_CAP_SECONDS, PROBE_CAP_RATIO * probe_seconds / max(1, stats["probed"]))
            probe = master.cut_loop(min(deadline, t_this + cap), above=ub - delta, below=ub - delta, max_rounds=100)
            master.set_bounds(np.array([j]), master.lo[j], master.hi[j], keep=False)
            probe_seconds += time.perf_counter() - t_this
            stats["probed"] += 1
            stats["probe_rounds"] += probe.rounds
            if probe.status == "time" and time.perf_counter() < deadline - 1e-3:
                stats["probes_given_up"] = stats.get("probes_given_up", 0) + 1
                say(f"benders: a probe given up after {time.perf_counter() - t_this:.0f} s (it fixes nothing)")
                continue
            if probe.status == "time":
                limit = Limit.TIME
                break
            if probe.status in ("above", "infeasible") or (probe.status == "converged" and probe.bound > ub - delta):
                # every plan with y_j = value is worth more than UB - delta
                master.set_bounds(np.array([j]), 1.0 - value, 1.0 - value)
                stats["fixed_closed" if value == 1.0 else "fixed_open"] += 1
                master.compact()
            now = time.perf_counter()
            if probe_refresh > 0 and now - t_refreshed >= backoff * max(
                REFRESH_MIN_SECONDS, probe_refresh * refresh_cost
            ):
                # the global LP with the probes' cuts and fixings so far: its bound rises with them, and
                # its reduced costs close at once sites the pass would otherwise probe one by one
                before = (bound, stats["fixed_closed"] + stats["fixed_open"])
                if not global_lp():
                    break
                y_lp = master.y.copy()
                stats["probe_refreshes"] = stats.get("probe_refreshes", 0) + 1
                t_refreshed = time.perf_counter()
                refresh_cost = t_refreshed - now
                stats["refresh_seconds"] = stats.get("refresh_seconds", 0.0) + refresh_cost
                # one that gained nothing makes the next wait twice as long (pcb3038, p = 200: the bound
                # stood still through 48 refreshes while probes closed sites the LP left at 0)
                gained = (bound, stats["fixed_closed"] + stats["fixed_open"]) != before
                backoff = 1.0 if gained else 2.0 * backoff
                if proven():
                    break
        if limit == Limit.TIME or proven():
            break
        if master.closed.all():  # every site is excluded from improving plans: none exists
            bound = ub
            break
        # global LP with the new fixings and cuts, then reduced-cost fixing again
        if not global_lp():
            break
        say(
            f"benders probing pass {pass_ + 1}: bound {bound:.8g}, {int(master.free.sum())} free sites left, "
            f"{stats['fixed_closed']} closed, {stats['fixed_open']} open, {h.getNumRow() - 1} cuts kept"
        )
        if cut_short:
            break
        n_free = int(master.free.sum())
        if bound - bound_before <= 0.1 * (ub - bound_before) or enumerable(
            n_free, p - int(np.sum(master.lo[~existing])), n, enum_budget
        ):
            break  # another pass would fix little, or the residual problem is small enough
    stats["probe_seconds"] = round(time.perf_counter() - t_probe, 3)
    if "refresh_seconds" in stats:
        stats["refresh_seconds"] = round(stats["refresh_seconds"], 3)

    # ---- 4. enumeration of a small residual problem
    enumerated = False
    if limit == Limit.NONE and not (proven() or certified):
        open_now = master.lo > 0.5
        free = np.flatnonzero(master.free)
        slots = p - int((open_now & ~existing).sum())
        best = best_completion(d, w, open_now, free, slots, enum_budget)
        if best is not None:
            value, cols = best
            enumerated = True
            say(f"benders: enumerated the {len(free)} free sites ({slots} slots): best {value:.8g}")
            if value < ub - 1e-9:
                ub = value
                y_inc = open_now.astype(np.float64)
                y_inc[cols] = 1.0
                y_best = y_inc
            bound = ub  # every plan agreeing with the fixings was evaluated; the others are worse

    # ladder: for every client, cuts at each distinct distance level (to sites not closed)
    # between its LP level and its level in the incumbent
    if ladder_max > 0 and limit == Limit.NONE and not (proven() or certified):
        sep = master.sep
        lvl_lp, lvl_inc = sep.levels(master.y), sep.levels(y_inc)
        dfree = np.where(master.closed[sep.order], np.inf, sep.dist)
        dfree.sort(axis=1)
        new_level = np.ones_like(dfree, dtype=bool)
        new_level[:, 1:] = dfree[:, 1:] > dfree[:, :-1]
        band = (
            new_level & (dfree > np.minimum(lvl_lp, lvl_inc)[:, None]) & (dfree <= np.maximum(lvl_lp, lvl_inc)[:, None])
        )
        band &= np.cumsum(band, axis=1) <= ladder_max
        rr, cc = np.nonzero(band)
        added = master.add_cuts(rr.astype(np.int64), dfree[rr, cc])
        say(f"benders: ladder added {added} cuts")

    # ---- 5. MILP phase
    if limit == Limit.NONE and not (proven() or certified):
        outcome = milp(deadline)
        if outcome == "time":
            limit = Limit.TIME
        elif outcome == "other":
            limit = Limit.OTHER
    status = Status.FEASIBLE
    if proven() or certified:
        status = Status.OPTIMAL
    elif limit == Limit.NONE:
        limit = Limit.TIME if time.perf_counter() >= deadline else Limit.OTHER

    mask = np.zeros(instance.m, dtype=bool)
    mask[cand[y_best > 0.5]] = True
    mask |= instance.existing
    obj = float(evaluate(instance, mask).weighted_distance)
    bound = min(bound, obj) if status == Status.OPTIMAL else bound
    stats.update(milp_rounds=milp_rounds, cuts=master.n_cuts, enumerated=enumerated)
    stats.update(polished=polisher.polished, polish_seconds=round(polisher.seconds, 3))
    stats.update(kernel_runs=kernel.runs, kernel_seconds=round(kernel.seconds, 3))
    return (
        SolveResult(
            status=status,
            solver="highs",
            solver_version=version,
            objective=obj,
            bound=float(bound) if np.isfinite(bound) else None,
            gap=relative_gap(obj, float(bound)),
            seconds=time.perf_counter() - t0,
            limit=Limit.NONE if status == Status.OPTIMAL else limit,
            x=None,
            message="" if status == Status.OPTIMAL else "stopped before optimality was proven",
            stats=stats,
        ),
        mask,
    )
