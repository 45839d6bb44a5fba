"""Benders decomposition in the site space for the MCLP (after Cordeau, Furini & Ljubić, EJOR 2019).

The compact MCLP over demand rows i (weights w_i, covering sets N(i)) and sites j::

    max  sum_i w_i z_i   s.t.  z_i <= sum_{j in N(i)} y_j,  z_i <= 1,  sum_j y_j <= p,  cost y <= B

has, for fixed site variables y, a subproblem in the z_i that separates by row with the closed-form
optimum ``z_i = min(1, a_i y)`` (``a_i`` the 0/1 covering row). Projecting z out leaves the
concave piecewise-linear function ``f(y) = sum_i w_i min(1, a_i y)`` to maximise over the site
polytope. Rows are grouped (group g(i) = the first site that covers i, so a group's rows lie
around one site and its cuts stay sparse) and one variable theta_g bounds each group's covered
weight. For any point y* in [0, 1]^m let ``U = {i : a_i y* < 1}``; since ``min(1, t) <= 1`` and
``min(1, t) <= t`` for every t::

    theta_g <= sum_{i in g \\ U} w_i + sum_j y_j * sum_{i in g ∩ U, j in N(i)} w_i          (cut)

is valid for every y and tight at y* (it is a supergradient of the group's part of f at y*): the
Benders optimality cut of the paper, with the normalised choice for fractional y*. The master::

    max  sum_g theta_g   s.t.  the cuts generated so far,  0 <= theta_g <= W_g,  site limits

is a relaxation: its optimum (LP or MILP) is an upper bound at every round.

0. **PDLP inside the LP phase (masters of 20,000 merged rows or more).** A third of the LP phase
   goes to the Kelley rounds of step 1 (their point guides the plans of step 2), then half of the
   rest to HiGHS's first-order solver on the compact LP (:mod:`optimizer.coverage_lp_bound`): its
   multipliers, clipped and evaluated exactly, are a rigorous upper bound and give one cut per
   group (:meth:`CoverageMaster.lagrangian_cuts`) that holds the master LP below that bound; the cut
   at its point starts the stabilisation there, and the Kelley rounds continue to the end of the
   phase. The least of the bounds is kept; the per-site bounds of the multipliers fix sites.
1. **LP phase (Kelley cutting planes with in-out stabilisation).** The LP master is solved, cuts
   are separated at ``y_sep = alpha y* + (1 - alpha) y_core`` (the core point starts at the
   incumbent and moves towards each y*), and at y* itself when y_sep yields none. The LP master
   value is an upper bound; ``f(y*)`` is the value of the LP relaxation at a feasible point, so
   the loop stops when both agree (the LP bound of the compact model is reached) or stall.
2. **LP-guided incumbent and reduced-cost fixing.** With a cardinality limit only, the p sites of
   largest y* are improved by swap search (a share of the time left) and replace the incumbent
   when better. The rigorous Lagrangian bound of :func:`coverage_exact.lagrangian_bound`
   on the LP master then gives, per site, a bound with y_j forced to 0 or 1; a site whose forced bound
   is below the incumbent + delta is fixed the other way.
3. **Integer phase (iterated master MILP).** The master MILP with every cut found is solved by
   HiGHS, warm-started from the best plan. Its optimum ``theta*`` is an upper bound; at its
   integer solution ŷ, ``f(ŷ)`` is the true coverage (a plan). If ``theta*`` exceeds ``f(ŷ)``
   cuts violated at ŷ are added and the master re-solved; otherwise ŷ is optimal. Stops when the
   gap closes or the deadline passes (then FEASIBLE with limit TIME, the bound being the last
   master's proven bound).

The master has m + K columns and only the cuts (not the n demand rows), so its size does not grow
with the number of demand points: cut separation is two sparse matrix products over the merged
covering matrix.

What measured best (``benchmarks/bench_city_scale.py``, a loaded 2-core machine, 60 / 120 s): at
10,000 x 1,000 (73,000 pairs) the compact MILP's branch and bound tightens the bound more than the
master MILP rounds do (gap 1.12 % against 1.27 %), so ``--formulation auto`` keeps the compact model
there; at 100,000 x 2,000 (3.9 million pairs) the compact LP does not even finish (its bound stays the
heuristic's, gap 7.0 %) while this LP phase converges (gap 4.4 %), so ``auto`` switches to Benders
from ``optimizer.coverage_choice.COVERAGE_AUTO_PAIRS`` pairs on. Neither closes those gaps.

Time shares (100,000 x 2,000, p = 50, 120 s, a quiet moment of the shared machine): the incumbent is
the heuristic with its Lagrangian and the swaps from its plans (54 s: 9,478,314, bound 9,798,075),
the LP rounds take at most 60 % of the time left (16 rounds in 38 s: bound 9,764,169, while the LP
point value f(y*) reached 9,605,757, so the LP optimum lies between the two), the LP-guided starts
lift the plan to 9,486,707, and one master MILP round in the last 19 s improves neither: gap
2.92 %. The LP optimum is therefore 1.3-2.9 % above the best plan known; closing to 2 % needs the LP
rounds to converge and, if the LP gap stays above 2 %, branching on the master (each node an LP of
about 2,500 cuts). At 1,000,000 x 5,000, p = 100 the swap search covers every coverable point and
the coverable weight proves it before any master is built.

The LP optimum itself (``bench_city_scale.py --methods lp``, PDLP run long): seed 1 lies between
9,695,836 (an evaluated LP point) and 9,721,852 (the dual bound (L)), 2.3-2.6 % above the best plan
known (9,478,314); seed 2 between 9,742,652 and 9,744,696 against plans of 9,496,543. So no LP bound,
however well converged, proves 2 % on these cities: that needs better plans (an optimum more than
0.5 % above the heuristic's) or a bound below the LP (branching on the master, or cuts), and the
HiGHS root of the 10,000-point case alone (LP gap 0.89 %) already takes minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.milp import MilpProblem
from siting.optimizer.coverage_lp_bound import CompactMclp
from siting.optimizer.result import SolveParams

Progress = Callable[[str], None]

# stop the LP phase when the master bound and f(y*) agree to this relative tolerance
_LP_TOL = 1e-6
_LP_ROUNDS = 200
# a cut is added when it is violated by more than this share of the group's weight
_VIOLATION = 1e-7
_ALPHA = 0.5
# share of the time left that the LP phase may take
_LP_SHARE = 0.6
# LP-guided starts (shares of p taken from the LP ranking) and their share of the time left
_GUIDED_STARTS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
_GUIDED_SHARE = 0.5
# share of the LP phase's time given first to PDLP on the compact LP (coverage_lp_bound), and when
# it runs: only on masters of many merged rows (below, the Kelley rounds converge on their own)
_PDLP_SHARE = 0.5
# share of the LP phase's time for the Kelley rounds before PDLP (their point guides the plans)
_KELLEY_FIRST = 1.0 / 3.0
_PDLP_MIN_SECONDS = 5.0
_PDLP_MIN_ROWS = 20_000
_PDLP_MAX_NNZ = 10_000_000


@dataclass(frozen=True)
class Cut:
    """``theta_group <= const + sum_k coef_k y_{sites_k}`` (stored as a master row ``<= const``)."""

    group: int
    sites: NDArray[np.int64]
    coef: NDArray[np.float64]
    const: float

    def row(self, m: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Columns and values of ``theta_g - coef y`` in the master (y first, then theta)."""
        return np.concatenate([self.sites, [m + self.group]]), np.concatenate([-self.coef, [1.0]])


@dataclass
class CoverageMaster(CompactMclp):
    """The covering structure the master works on: the compact MCLP over merged rows
    (:class:`optimizer.coverage_lp_bound.CompactMclp`: ``A``, ``w``, site bounds, the p and budget
    rows, ``offset``), each row in one group, and the cuts found so far.

    Attributes (beyond the compact MCLP's)
    --------------------------------------
    group : (R,) group of each row, in 0..K-1.
    K : number of groups.
    cuts : the cuts stored in the master.
    """

    group: NDArray[np.int64]
    K: int
    cuts: list[Cut] = field(default_factory=list)

    @property
    def m(self) -> int:
        return int(self.A.shape[1])

    def group_weight(self) -> NDArray[np.float64]:
        return np.asarray(np.bincount(self.group, weights=self.w, minlength=self.K), dtype=np.float64)

    def value(self, y: NDArray[np.float64]) -> float:
        """f(y) + offset: the covered weight at y (fractional y: the LP value at y)."""
        s = self.A @ y
        return float(self.w @ np.minimum(s, 1.0)) + self.offset

    def separate(
        self, y: NDArray[np.float64], check: NDArray[np.float64] | None = None, theta: NDArray[np.float64] | None = None
    ) -> list[Cut]:
        """The cuts of the module docstring at y, for the groups where they cut off the master point
        ``(check, theta)`` (every group when theta is None)."""
        s = self.A @ y
        unc = s < 1.0 - 1e-9
        const = np.bincount(self.group[~unc], weights=self.w[~unc], minlength=self.K)
        rows = np.flatnonzero(unc)
        pick = sp.csr_array((self.w[rows], (self.group[rows], np.arange(rows.size))), shape=(self.K, rows.size))
        coef = sp.csr_array(pick @ self.A[rows])
        coef.sum_duplicates()
        at = const + coef @ (y if check is None else check)
        gw = self.group_weight()
        if theta is None:
            want = np.ones(self.K, dtype=bool)
        else:
            want = theta > at + _VIOLATION * np.maximum(gw, 1.0)
        out = []
        for g in np.flatnonzero(want):
            lo, hi = coef.indptr[g], coef.indptr[g + 1]
            out.append(
                Cut(int(g), coef.indices[lo:hi].astype(np.int64), coef.data[lo:hi].astype(np.float64), float(const[g]))
            )
        return out

    def lagrangian_cuts(self, lam: NDArray[np.float64]) -> list[Cut]:
        """One cut per group from multipliers ``lam`` (clipped to [0, w]) of the coverage rows::

            theta_g <= sum_{i in g} (w_i - lam_i) + sum_j y_j sum_{i in g, j in N(i)} lam_i

        valid for every y in [0, 1]^m since ``w min(1, t) <= (w - lam) + lam t`` for t >= 0 and
        0 <= lam <= w. With these cuts the master LP is at most the bound (L) of
        :mod:`optimizer.coverage_lp_bound` at ``lam``: the Kelley rounds start below it."""
        lam = np.clip(np.asarray(lam, dtype=np.float64), 0.0, self.w)
        const = np.bincount(self.group, weights=self.w - lam, minlength=self.K)
        pick = sp.csr_array((lam, (self.group, np.arange(lam.size))), shape=(self.K, lam.size))
        coef = sp.csr_array(pick @ self.A)
        coef.sum_duplicates()
        coef.eliminate_zeros()
        out = []
        for g in range(self.K):
            lo, hi = coef.indptr[g], coef.indptr[g + 1]
            out.append(
                Cut(g, coef.indices[lo:hi].astype(np.int64), coef.data[lo:hi].astype(np.float64), float(const[g]))
            )
        return out

    def problem(self, integer: bool) -> MilpProblem:
        """The master with every stored cut, as a MilpProblem (columns: y then theta)."""
        m, K = self.m, self.K
        rows_i: list[NDArray[np.int64]] = []
        cols_i: list[NDArray[np.int64]] = []
        vals: list[NDArray[np.float64]] = []
        lo: list[float] = []
        up: list[float] = []
        r = 0
        free = self.counted  # the sites the p and budget rows count
        if self.p is not None:
            idx = np.flatnonzero(free)
            rows_i.append(np.full(idx.size, r))
            cols_i.append(idx)
            vals.append(np.ones(idx.size))
            lo.append(-math.inf)
            up.append(float(self.p))
            r += 1
        if self.budget is not None:
            idx = np.flatnonzero(free)
            rows_i.append(np.full(idx.size, r))
            cols_i.append(idx)
            vals.append(self.cost[idx].astype(np.float64))
            lo.append(-math.inf)
            up.append(float(self.budget))
            r += 1
        for cut in self.cuts:
            sites, vals_c = cut.row(m)
            rows_i.append(np.full(sites.size, r))
            cols_i.append(sites)
            vals.append(vals_c)
            lo.append(-math.inf)
            up.append(cut.const)
            r += 1
        A = sp.csc_array((np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))), shape=(r, m + K))
        c = np.concatenate([np.zeros(m), np.ones(K)])
        integrality = np.concatenate([np.full(m, integer), np.zeros(K, dtype=bool)])
        return MilpProblem(
            c=c,
            A=A,
            row_lower=np.asarray(lo, dtype=np.float64),
            row_upper=np.asarray(up, dtype=np.float64),
            col_lower=np.concatenate([self.lower, np.zeros(K)]),
            col_upper=np.concatenate([self.upper, self.group_weight()]),
            integrality=integrality,
            sense="max",
            offset=self.offset,
            site_cols=np.arange(m, dtype=np.int64),
            name="mclp-benders-master",
        )


def grouped_master(mclp: CompactMclp) -> CoverageMaster:
    """The master over the merged rows of ``mclp``, each row grouped by its first covering site
    (every row has one)."""
    A = sp.csr_array(mclp.A, dtype=np.float64)
    A.sort_indices()
    # group = the row's first covering site: every row of a group lies within the radius of one
    # site (sparse cuts), and the groups are few (low site indices take most rows). One group per
    # covering site drawn at random (about m groups) made the LP master degenerate: its first LP at
    # 100,000 x 2,000 did not solve in 100 s, against 2 s with these ~200 groups.
    first = A.indices[A.indptr[:-1]]
    used, group = np.unique(first, return_inverse=True)
    return CoverageMaster(
        A=A,
        w=np.asarray(mclp.w, dtype=np.float64),
        lower=mclp.lower,
        upper=mclp.upper,
        p=mclp.p,
        cost=np.asarray(mclp.cost, dtype=np.float64),
        budget=mclp.budget,
        offset=mclp.offset,
        group=group.astype(np.int64),
        K=int(used.size),
    )


def _new_lp(params: SolveParams) -> Any:
    from siting.optimizer.backends.highs import configure, new_highs

    h = new_highs()
    configure(h, SolveParams(time_limit=params.remaining(), threads=params.threads, seed=params.seed))
    return h


def _run(h: Any, params: SolveParams) -> bool:
    from siting.optimizer.backends.highs import run_within

    # HiGHS measures time_limit against the object's run time summed over every run() so far: a
    # limit of "the time left" stopped the LP rounds after about half of it
    h.setOptionValue("time_limit", float(h.getRunTime()) + max(float(params.remaining() or 1e9), 0.05))
    return bool(run_within(h, params))


def _status(h: Any) -> str:
    return str(h.getModelStatus()).split(".")[-1]


@dataclass
class BendersOutcome:
    """Best plan found (site mask and value), the proven bound, and whether the gap closed."""

    mask: NDArray[np.bool_]
    value: float
    bound: float
    closed: bool
    rounds: dict[str, Any] = field(default_factory=dict)


def _add_cuts(h: Any, master: CoverageMaster, cuts: list[Cut]) -> None:
    """Append ``cuts`` to the master and to the live HiGHS LP ``h`` (the basis is kept)."""
    if not cuts:
        return
    m = master.m
    starts, idx, val = [0], [], []
    for cut in cuts:
        c, v = cut.row(m)
        idx.append(c)
        val.append(v)
        starts.append(starts[-1] + c.size)
    h.addRows(
        len(cuts),
        np.full(len(cuts), -math.inf),
        np.array([c.const for c in cuts], dtype=np.float64),
        int(starts[-1]),
        np.asarray(starts[:-1], dtype=np.int32),
        np.concatenate(idx).astype(np.int32),
        np.concatenate(val).astype(np.float64),
    )
    master.cuts.extend(cuts)


def lp_phase(
    master: CoverageMaster, core: NDArray[np.float64], params: SolveParams, say: Progress
) -> tuple[float, NDArray[np.float64] | None, NDArray[np.float64] | None]:
    """Kelley cutting planes with in-out stabilisation on the LP master (step 1 of the module
    docstring). Returns the LP upper bound (inf if no LP was solved), the row duals of the last
    LP master (None if none; its rows are the cardinality/budget rows then ``master.cuts``) and
    its site values y*."""
    from siting.optimizer.backends.highs import pass_problem

    m = master.m
    # seed: the cuts at y = 0 (theta_g <= the group's weight reachable through a y) and at the core
    master.cuts.extend(master.separate(np.zeros(m)))
    master.cuts.extend(master.separate(core))
    h = _new_lp(params)
    pass_problem(h, master.problem(integer=False))
    bound, duals, y_last = math.inf, None, None
    best_point = -math.inf
    t0 = time.monotonic()
    why = f"{_LP_ROUNDS} rounds"
    for rnd in range(_LP_ROUNDS):
        if params.expired() or not _run(h, params):
            why = "out of time"
            break
        if _status(h) != "kOptimal":
            why = f"LP master {_status(h)}"
            break
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        y, theta = np.clip(x[:m], 0.0, 1.0), x[m:]
        bound = min(bound, float(h.getInfo().objective_function_value))
        duals = np.asarray(sol.row_dual, dtype=np.float64)
        y_last = y
        best_point = max(best_point, master.value(y))
        gap = (bound - best_point) / max(abs(bound), 1e-9)
        if rnd % 5 == 0 or gap <= _LP_TOL:
            say(
                f"Benders LP round {rnd + 1}: bound {bound:.10g}, LP point {best_point:.10g}, "
                f"{len(master.cuts)} cuts, {time.monotonic() - t0:.1f} s"
            )
        if gap <= _LP_TOL:
            why = "converged"
            break
        sep = _ALPHA * y + (1.0 - _ALPHA) * core
        cuts = master.separate(sep, y, theta)
        if not cuts:
            cuts = master.separate(y, y, theta)
        if not cuts:
            why = "no violated cut"
            break
        _add_cuts(h, master, cuts)
        core = 0.5 * core + 0.5 * y
    say(f"Benders LP phase: {why}, bound {bound:.10g}, {len(master.cuts)} cuts, {time.monotonic() - t0:.1f} s")
    return bound, duals, y_last


def fix_by_reduced_costs(
    master: CoverageMaster, duals: NDArray[np.float64], incumbent: float, delta: float
) -> tuple[float, int, int]:
    """Step 2: fix sites whose forced bound cannot beat ``incumbent + delta``. Returns the rigorous
    Lagrangian bound of the LP master and the numbers of sites fixed closed / open."""
    from siting.optimizer.coverage_exact import lagrangian_bound

    problem = master.problem(integer=False)
    # cuts added after the LP that gave the duals carry a zero multiplier (still a valid bound)
    lam = np.zeros(problem.num_rows)
    lam[: duals.size] = duals
    bound, at0, at1 = lagrangian_bound(problem, lam)
    tol = 1e-7 * max(1.0, abs(incumbent))
    free = np.flatnonzero(master.upper > master.lower)
    kill1 = at1[free] < incumbent + delta - tol
    kill0 = at0[free] < incumbent + delta - tol
    close, open_ = free[kill1 & ~kill0], free[kill0 & ~kill1]
    master.upper[close] = 0.0
    master.lower[open_] = 1.0
    if (kill0 & kill1).any():
        bound = min(bound, incumbent)  # no plan agreeing with the fixings beats the incumbent
    return bound, int(close.size), int(open_.size)


def _pdlp_wanted(master: CoverageMaster, seconds: float) -> bool:
    # the compact LP copies the covering matrix several times (ours, HiGHS's, PDLP's scaled one
    # and its transpose): 110 MB more at 2.1 million nonzeros; above the cap it is not tried
    return seconds >= _PDLP_MIN_SECONDS and master.A.shape[0] >= _PDLP_MIN_ROWS and master.A.nnz <= _PDLP_MAX_NNZ


def _pdlp_start(master: CoverageMaster, params: SolveParams, say: Progress) -> Any:
    """The compact LP by PDLP for ``_PDLP_SHARE`` of the LP phase's time left (see
    :mod:`optimizer.coverage_lp_bound`): a rigorous bound and a point near the LP optimum."""
    from siting.optimizer.coverage_lp_bound import coverage_lp

    left = max(float(params.remaining() or 0.0), 0.0)
    pd = coverage_lp(master, seconds=_PDLP_SHARE * left, params=params)
    say(f"PDLP: LP bound {pd.bound:.10g}, LP point {pd.point:.10g} ({pd.status}), {pd.seconds:.1f} s")
    return pd


def fix_by_dual_bound(master: CoverageMaster, dual: Any, incumbent: float, delta: float) -> tuple[int, int, bool]:
    """Reduced-cost fixing with the per-site bounds of a rigorous :class:`coverage_lp_bound.DualBound`
    (same rule as :func:`fix_by_reduced_costs`). Returns the numbers of sites fixed closed / open and
    whether some site can be neither (then no plan beats the incumbent by delta)."""
    tol = 1e-7 * max(1.0, abs(incumbent))
    free = np.flatnonzero(master.upper > master.lower)
    kill1 = dual.at1[free] < incumbent + delta - tol
    kill0 = dual.at0[free] < incumbent + delta - tol
    close, open_ = free[kill1 & ~kill0], free[kill0 & ~kill1]
    master.upper[close] = 0.0
    master.lower[open_] = 1.0
    return int(close.size), int(open_.size), bool((kill0 & kill1).any())


def integer_phase(
    master: CoverageMaster,
    best_mask: NDArray[np.bool_],
    best: float,
    bound: float,
    delta: float,
    params: SolveParams,
    say: Progress,
) -> BendersOutcome:
    """Step 3: iterated master MILP until the gap closes or the deadline passes. ``best_mask`` is
    the incumbent plan (value ``best``); its sites held at 0 by the master are dropped only in the
    warm start, never from the plan returned when nothing better is found."""
    from siting.optimizer.registry import get_backend

    m = master.m
    tol = 1e-7 * max(1.0, abs(best))
    rounds = 0
    t0 = time.monotonic()
    while bound > best + delta - tol and not params.expired():
        if _gap(best, bound) <= max(params.mip_gap, 1e-9):
            break
        rounds += 1
        problem = master.problem(integer=True)
        y0 = best_mask.astype(np.float64)
        y0 = np.clip(y0, master.lower, master.upper)
        theta0 = np.bincount(master.group, weights=master.w * np.minimum(master.A @ y0, 1.0), minlength=master.K)
        warm = np.concatenate([y0, theta0])
        sub = SolveParams(
            time_limit=params.remaining(),
            mip_gap=params.mip_gap,
            threads=params.threads,
            seed=params.seed,
            deadline=params.deadline,
        )
        res = get_backend("highs").solve(problem, sub, warm_start=warm)
        if res.bound is not None and math.isfinite(res.bound):
            bound = min(bound, max(res.bound, best))
        if res.x is None:
            break
        y = (np.asarray(res.x)[:m] > 0.5).astype(np.float64)
        val = master.value(y)
        if val > best:
            best_mask, best = y > 0.5, val
        say(
            f"Benders round {rounds}: master bound {bound:.10g}, plan {val:.10g}, best {best:.10g}, "
            f"gap {_gap(best, bound):.4%}, {len(master.cuts)} cuts, {time.monotonic() - t0:.1f} s"
        )
        cuts = master.separate(y, y, np.asarray(res.x)[m:])
        if not cuts:
            if res.status.value == "optimal":
                bound = min(bound, max(val, best))  # the master's optimum is a true plan value
            break
        master.cuts.extend(cuts)
    closed = bound <= best + delta - tol or _gap(best, bound) <= max(params.mip_gap, 1e-9)
    return BendersOutcome(best_mask, best, max(bound, best), closed, {"integer_rounds": rounds})


def _gap(value: float, bound: float) -> float:
    if not math.isfinite(bound):
        return math.inf
    return max(bound - value, 0.0) / max(abs(value), 1e-9)


def mclp_master(
    instance: Any, radius: float, p: int | None, budget: float | None, closed: NDArray[np.bool_]
) -> CoverageMaster:
    """The master of an MCLP instance: merged open-question rows, sites in ``closed`` (dominated or
    fixed) and ineligible ones held at 0."""
    from siting.models.formulations.lscp import covering_rows, merge_identical_rows, new_eligible

    cover, demand, by_existing, _ = covering_rows(instance, radius)
    inverse, first = merge_identical_rows(cover)
    w = np.bincount(inverse, weights=instance.weights[demand], minlength=first.size).astype(np.float64)
    offset = float(instance.weights[by_existing].sum())
    upper = (new_eligible(instance) & ~closed).astype(np.float64)
    return grouped_master(
        CompactMclp(
            A=sp.csr_array(cover[first]),
            w=w,
            lower=np.zeros(instance.m),
            upper=upper,
            p=p,
            cost=instance.cost,
            budget=budget,
            offset=offset,
        )
    )


def solve_mclp_benders(
    instance: Any,
    radius: float,
    p: int | None,
    budget: float | None,
    closed: NDArray[np.bool_],
    inc_mask: NDArray[np.bool_],
    inc: float,
    delta: float,
    params: SolveParams,
    say: Progress,
) -> BendersOutcome:
    """Steps 1-3 of the module docstring from an incumbent plan (``inc_mask`` of value ``inc``)."""
    master = mclp_master(instance, radius, p, budget, closed)
    stats: dict[str, Any] = {"merged_rows": int(master.A.shape[0]), "groups": master.K}
    core = np.clip(inc_mask.astype(np.float64), master.lower, master.upper)
    left = params.remaining()
    # the LP rounds get a share of the time left: at 100,000 x 2,000 they do not converge in 120 s
    # (each round slower than the last), and the LP-guided plan and the master after them need time
    lp_params = (
        params
        if left is None
        else SolveParams(time_limit=_LP_SHARE * left, threads=params.threads, seed=params.seed).started()
    )
    pd = None
    lp_left = lp_params.remaining()
    if lp_left is not None and _pdlp_wanted(master, lp_left):
        # Kelley rounds first: their (still sparse) LP point guides the plans best, measured at
        # 100,000 x 2,000 (9,476,220 and 9,495,801 on seeds 1 and 2 against 9,417,500 and 9,448,916
        # from the point of the rounds after PDLP, which lies near the spread-out LP optimum)
        first = SolveParams(time_limit=_KELLEY_FIRST * lp_left, threads=params.threads, seed=params.seed).started()
        b1, _, y1 = lp_phase(master, core, first, say)
        pd = _pdlp_start(master, lp_params, say)
        stats["pdlp"] = {"bound": pd.bound, "point": pd.point, "seconds": round(pd.seconds, 2), "status": pd.status}
        if pd.dual is not None and pd.y is not None:
            # the cuts of PDLP's multipliers put the LP master below its bound, the cut at its
            # point (near the LP optimum, and the stabilisation centre of the next rounds) adds the
            # primal side: the Kelley rounds refine both from there
            master.cuts.extend(master.lagrangian_cuts(pd.dual.lam))
            master.cuts.extend(master.separate(pd.y))
            core = 0.5 * core + 0.5 * pd.y
        lp_bound, duals, y_lp = lp_phase(master, core, lp_params, say)
        lp_bound = min(lp_bound, b1, pd.bound)
        y_lp = y1 if y1 is not None else y_lp
    else:
        lp_bound, duals, y_lp = lp_phase(master, core, lp_params, say)
    bound = lp_bound
    if y_lp is not None and p is not None and budget is None:
        # an LP-guided incumbent: the p largest y*, improved by swap search (a better incumbent
        # fixes more sites and lets the master rounds stop sooner)
        inc_mask, inc = _lp_guided_plan(instance, radius, p, y_lp, master, inc_mask, inc, params, say)
    stats["lp_bound"] = lp_bound
    stats["lp_cuts"] = len(master.cuts)
    if pd is not None and pd.dual is not None:
        n0, n1, proven = fix_by_dual_bound(master, pd.dual, inc, delta)
        stats.update(pdlp_fixed_closed=n0, pdlp_fixed_open=n1)
        if proven:
            bound = min(bound, inc)
    if duals is not None:
        lag, n0, n1 = fix_by_reduced_costs(master, duals, inc, delta)
        bound = min(bound, max(lag, inc))
        stats.update(fixed_closed=n0, fixed_open=n1)
        say(
            f"Benders LP bound {bound:.10g}, gap {_gap(inc, bound):.4%}: fixed {n0} sites closed and {n1} open, "
            f"{int((master.upper > master.lower).sum())} free"
        )
    out = integer_phase(master, inc_mask, inc, bound, delta, params, say)
    out.mask = out.mask | instance.existing
    out.rounds.update(stats)
    return out


def _lp_guided_plan(
    instance: Any,
    radius: float,
    p: int,
    y: NDArray[np.float64],
    master: CoverageMaster,
    inc_mask: NDArray[np.bool_],
    inc: float,
    params: SolveParams,
    say: Progress,
) -> tuple[NDArray[np.bool_], float]:
    """Starts from the LP ranking, each improved by swap local search (adds fill a short start up to
    p): the p free sites of largest LP value (ties by index), then the top 90 %, 80 %, ... 50 % of p
    (the swaps place the rest where the plan needs them). All within half the time left (the master
    MILP rounds after them improved neither plan nor bound at 100,000 x 2,000 in 36 s); the best
    plan is returned when it beats the incumbent. At 100,000 x 2,000 the first start lifted the
    swap search's 9,398,427 to 9,459,904 in about 2 CPU s."""
    from siting.optimizer.heuristics.interchange import interchange_mclp

    free = np.flatnonzero(master.upper > 0)
    if free.size == 0:
        return inc_mask, inc
    ranked = free[np.argsort(-y[free], kind="stable")]
    left = params.remaining()
    stop = math.inf if left is None else time.monotonic() + _GUIDED_SHARE * left
    cov = instance.coverage(radius)
    best_mask, best = inc_mask, inc
    for share in _GUIDED_STARTS:
        if time.monotonic() >= stop:
            break
        start = instance.existing.copy()
        start[ranked[: max(1, math.ceil(share * p))]] = True
        seconds = None if not math.isfinite(stop) else max(stop - time.monotonic(), 0.0)
        mask = interchange_mclp(instance, radius, start, p=p, time_limit=seconds)
        hit = np.asarray(cov @ np.asarray(mask, dtype=np.int8)) > 0
        val = float(instance.weights[hit].sum())  # the true value (the plan may use a dominated site)
        if val > best:
            say(f"LP-guided plan {val:.10g} from the top {share:.0%} of p (best was {best:.10g})")
            best_mask, best = np.asarray(mask, dtype=bool), val
    return best_mask, best
