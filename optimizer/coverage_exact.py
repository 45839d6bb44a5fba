"""Exact MCLP and LSCP at city scale: reduce, bound, fix, then branch on what is left (HiGHS).

The compact covering MILPs (:func:`models.formulations.mclp`, :func:`models.formulations.lscp`,
rows with identical covering sets merged) are solved after reductions that never cut off an
improving plan. Let UB be the value of the incumbent (the best plan known) written as a
maximisation (LSCP is negated) and ``delta = 1`` when every plan's value is an integer (integral
weights for MCLP, integral costs for LSCP), a tiny tolerance otherwise.

1. **Incumbent.** MCLP: greedy + swap local search + Lagrangian (``run_heuristic("auto")``, with
   incremental coverage counts on CSR/CSC). LSCP: greedy by cost per newly covered row, then
   dropping redundant sites (most expensive first).
   Then, on the compact (``reduced``) path only, **window search** (:mod:`optimizer.coverage_windows`):
   a few neighbouring open sites re-placed together by a small exact MILP (LSCP: closed and their
   rows covered again at least cost), around every open site in turn (up to 30 % of the time left). At 10,000 x 1,000, p = 50 it lifts the swap search's 647,117 to 648,731 in 3 CPU s
   (the optimum is 649,573, proven by the compact MILP in 310 CPU s).
2. **Dominated sites.** Site j is dominated by site k when ``N^-1(j) ⊆ N^-1(k)`` (k covers every
   open demand row j covers) and ``cost_k <= cost_j`` (the cost test is skipped when cost plays
   no part: MCLP with p only, LSCP by count); identical sites are ordered by index. This is a
   strict partial order, so every dominated site has an undominated dominator and swapping j for
   it keeps a plan feasible (same count, no more cost) and no worse: dominated sites are closed.
3. **LP bound and reduced-cost fixing.** The LP relaxation is solved and its row duals ``λ`` are
   turned into a *rigorous* Lagrangian bound (whatever their accuracy): for ``max c x`` s.t.
   ``l_r <= A_r x <= u_r``, ``lo <= x <= hi`` and any ``λ`` with ``λ_r > 0`` only where ``u_r`` is
   finite and ``λ_r < 0`` only where ``l_r`` is::

       L(λ) = sum_r (λ_r u_r if λ_r > 0 else λ_r l_r) + sum_k max(d_k lo_k, d_k hi_k),
       d = c - A^T λ                                                                      (L)

   is at least the value of every feasible x. Forcing ``x_j = v`` changes only the j term:
   ``L_j(v) = L(λ) - max(d_j lo_j, d_j hi_j) + d_j v``. If ``L_j(v) < UB + delta`` no plan with
   ``x_j = v`` beats the incumbent, so ``x_j`` is fixed to ``1 - v``. Fixed-open sites become
   existing facilities of a working instance (p and budget reduced by them), fixed-closed ones
   forbidden; rows are merged again and the step repeats while it fixes sites.
4. **Branch and bound** on the reduced compact MILP with HiGHS, warm-started from the incumbent
   (MCLP: the complete start ``z_r = min(1, a_r y)`` without an LP, fixed-closed sites left out;
   LSCP: when it agrees with the fixings), within the time left.

What limits this path (measured at 10,000 x 1,000, p = 50, r = 500 m): the LP bound is 1.28 %
above the optimum and its reduced costs are all below that gap (the LP spreads y over about 200
sites at 1/2 ... 1/9), so fixing closes no site; the proof is HiGHS's branch and bound.

The global bound is ``max(UB, bound of the reduced MILP)``: plans that disagree with a fixing are
worth at most UB. The answer is the better of the incumbent and the reduced MILP's plan, so the
default path never returns a plan worse than its own heuristic; status OPTIMAL only when the gap
is within ``mip_gap``, FEASIBLE with limit TIME otherwise.
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

from siting.models.formulations.lscp import covering_rows, lscp, merge_identical_rows, new_eligible
from siting.models.formulations.mclp import mclp
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.coverage_choice import PROVERS, one_thread_note
from siting.optimizer.result import Limit, SolveParams, SolveResult, Status, relative_gap

Progress = Callable[[str], None]

# Skip the dominance test when cover^T cover would cost more than this many multiply-adds.
_DOMINANCE_WORK = 4e8
# Merge rows for the dominance test only when the unmerged work is at most this multiple of the limit.
_MERGE_FOR_DOMINANCE = 20
# Benders path: the heuristic's Lagrangian phase up to this many stored pairs.
_LAGRANGIAN_PAIRS = 20_000_000
# Rounds of LP + reduced-cost fixing before branching.
_FIX_ROUNDS = 4
# Share of the time left that the MCLP window search may take after the heuristic.
_WINDOW_SHARE = 0.3


@dataclass
class _Working:
    """The instance with fixings applied: fixed-open sites existing, fixed-closed ones forbidden."""

    base: SitingInstance
    fixed_open: NDArray[np.bool_]
    fixed_closed: NDArray[np.bool_]
    p: int | None
    budget: float | None
    stats: dict[str, Any] = field(default_factory=dict)

    def instance(self) -> SitingInstance:
        b = self.base
        return SitingInstance(
            distances=b.distances,
            weights=b.weights,
            demand_ids=b.demand_ids,
            site_ids=b.site_ids,
            cost=b.cost,
            capacity=b.capacity,
            existing=b.existing | self.fixed_open,
            forbidden=b.forbidden | self.fixed_closed,
            name=b.name,
        )

    def limits(self) -> tuple[int | None, float | None]:
        p = None if self.p is None else self.p - int(self.fixed_open[~self.base.existing].sum())
        budget = (
            None
            if self.budget is None
            else self.budget - float(self.base.cost[self.fixed_open & ~self.base.existing].sum())
        )
        return p, budget


# ------------------------------------------------------------------------------- reductions
def dominated_sites(
    cover: sp.csr_array, cost: NDArray[np.float64] | None, candidates: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """(m,) mask of candidate sites dominated by another candidate (see the module docstring).

    ``cover`` is the boolean (rows, m) covering matrix of the rows that matter; ``cost`` None
    means cost plays no part. Returns all False when the overlap product would be too costly.
    """
    m = cover.shape[1]
    a = sp.csc_array(cover.astype(np.float32))
    deg = np.diff(sp.csr_array(cover).indptr).astype(np.float64)
    if float((deg * deg).sum()) > _DOMINANCE_WORK:
        return np.zeros(m, dtype=bool)
    size = np.diff(a.indptr).astype(np.int64)
    overlap = sp.coo_array(a.T @ a)  # (m, m): rows covered by both j and k
    j, k, both = overlap.row, overlap.col, np.rint(overlap.data).astype(np.int64)
    ok = (j != k) & candidates[j] & candidates[k] & (both == size[j]) & (size[j] > 0)
    if cost is not None:
        ok &= cost[k] <= cost[j]
        strict = (size[k] > size[j]) | (cost[k] < cost[j]) | (k < j)
    else:
        strict = (size[k] > size[j]) | (k < j)
    ok &= strict
    out = np.zeros(m, dtype=bool)
    out[j[ok]] = True
    # sites covering no row that matters are useless to every plan (MCLP: no gain; LSCP: cost only)
    out |= candidates & (size == 0)
    return out


def lagrangian_bound(
    problem: MilpProblem, row_dual: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Bound (L) of the module docstring in max form, and per column the bound with x_j at 0 / 1.

    Returns ``(L, L_j(0), L_j(1))``; the per-column values are meaningful for binary columns.
    Both signs of the given duals are tried (solvers differ in their convention) and the tighter
    valid bound is kept.
    """
    sign = 1.0 if problem.sense == "max" else -1.0
    c = sign * problem.c
    lo_r, up_r = problem.row_lower, problem.row_upper
    lo_c, up_c = problem.col_lower, problem.col_upper
    A = sp.csr_array(problem.A)
    best: tuple[float, NDArray[np.float64], NDArray[np.float64]] | None = None
    for s in (1.0, -1.0):
        lam = s * np.asarray(row_dual, dtype=np.float64)
        lam = np.where((lam > 0) & ~np.isfinite(up_r), 0.0, lam)
        lam = np.where((lam < 0) & ~np.isfinite(lo_r), 0.0, lam)
        rows_term = np.where(
            lam > 0, lam * np.where(np.isfinite(up_r), up_r, 0.0), lam * np.where(np.isfinite(lo_r), lo_r, 0.0)
        )
        d = c - A.T @ lam
        col_term = np.maximum(d * lo_c, d * up_c)
        total = float(rows_term.sum() + col_term.sum()) + sign * problem.offset
        at0 = total - col_term
        at1 = total - col_term + d
        if best is None or total < best[0]:
            best = (total, at0, at1)
    assert best is not None
    return best


def _lp_duals(problem: MilpProblem, params: SolveParams, seconds: float) -> tuple[float, NDArray[np.float64]] | None:
    """LP relaxation value and row duals by HiGHS, or None if it did not solve in time."""
    from siting.optimizer.backends.highs import configure, new_highs, pass_problem, run_highs

    h = new_highs()
    configure(h, SolveParams(time_limit=max(seconds, 0.1), threads=params.threads, seed=params.seed))
    # primal simplex: on covering LPs (degenerate, many more rows than site columns) measured
    # about 7x faster than HiGHS's default dual simplex (2.5 s against 17.6 s at 10,000 x 1,000)
    h.setOptionValue("simplex_strategy", 4)
    from dataclasses import replace

    pass_problem(h, replace(problem, integrality=np.zeros(problem.num_vars, dtype=bool)))
    run_highs(h)
    if str(h.getModelStatus()).split(".")[-1] != "kOptimal":
        return None
    sol = h.getSolution()
    return float(h.getInfo().objective_function_value), np.asarray(sol.row_dual, dtype=np.float64)


# ------------------------------------------------------------------------------- incumbents
def greedy_lscp(instance: SitingInstance, radius: float, objective: str) -> NDArray[np.bool_]:
    """A set cover: repeatedly open the site of least cost per newly covered row, then drop
    redundant sites (most expensive first). Existing sites stay open; covers every coverable row.

    The gain of every site is kept as a count of its uncovered rows and updated incrementally
    through the CSR/CSC covering matrix when a site opens.
    """
    cover, _, _, _ = covering_rows(instance, radius)
    _, first = merge_identical_rows(cover)
    rows = sp.csr_array(cover[first]).astype(np.int32)
    cols = sp.csc_array(rows)
    k, m = rows.shape
    f = np.where(new_eligible(instance), instance.cost if objective == "cost" else 1.0, np.inf).astype(np.float64)
    f = np.maximum(f, 1e-12)
    gain = np.diff(cols.indptr).astype(np.float64)
    covered = np.zeros(k, dtype=bool)
    open_mask = instance.existing.copy()
    left = k
    while left > 0:  # one iteration per opened site
        score = np.where(gain > 0, f / np.maximum(gain, 1), np.inf)
        j = int(np.argmin(score))
        if not np.isfinite(score[j]):
            break
        open_mask[j] = True
        new_rows = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        new_rows = new_rows[~covered[new_rows]]
        covered[new_rows] = True
        left -= new_rows.size
        sub = rows[new_rows]
        gain -= np.bincount(sub.indices, minlength=m)
    # redundancy: drop open new sites whose rows are all covered twice, most expensive first
    count = rows @ open_mask.astype(np.int32)
    for j in np.flatnonzero(open_mask & ~instance.existing)[
        np.argsort(-f[open_mask & ~instance.existing], kind="stable")
    ]:
        r = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        if r.size == 0 or (count[r] >= 2).all():
            open_mask[j] = False
            count[r] -= 1
    return open_mask


# ---------------------------------------------------------------------------------- solving
def _value(instance: SitingInstance, mask: NDArray[np.bool_], model: str, radius: float, objective: str) -> float:
    """Plan value in max form: covered weight (MCLP) or minus cost / count (LSCP)."""
    cov = instance.coverage(radius)
    hit = np.asarray(cov @ mask.astype(np.int8)) > 0
    if model == "mclp":
        return float(instance.weights[hit].sum())
    new = mask & ~instance.existing
    return -float(instance.cost[new].sum() if objective == "cost" else new.sum())


def _build(work: _Working, model: str, radius: float, objective: str) -> MilpProblem | None:
    inst = work.instance()
    if model == "mclp":
        p, budget = work.limits()
        cover, _, _, _ = covering_rows(inst, radius)
        if cover.shape[0] == 0:
            return None
        return mclp(inst, radius, p=p, budget=budget)
    prob = lscp(inst, radius, objective=objective)  # type: ignore[arg-type]
    return prob if prob.num_rows > 0 else None


def solve_coverage(
    instance: SitingInstance,
    model: str,
    radius: float,
    *,
    p: int | None = None,
    budget: float | None = None,
    objective: str = "cost",
    params: SolveParams | None = None,
    start_mask: NDArray[np.bool_] | None = None,
    progress: Progress | None = None,
    engine: str = "compact",
    prover: str = "highs",
) -> tuple[SolveResult, NDArray[np.bool_], dict[str, Any]]:
    """Solve MCLP (``model="mclp"``) or LSCP (``"lscp"``) by the steps of the module docstring.

    ``engine="compact"`` runs steps 3-4 on the compact MILP; ``"benders"`` replaces them by the
    decompositions whose size does not grow with the demand rows: Benders in the site space for
    the MCLP (:mod:`optimizer.coverage_benders`), row generation for the LSCP
    (:mod:`optimizer.coverage_rowgen`). Steps 1-2 and the final accounting are shared.
    ``prover`` (``highs`` or ``scip``) solves the compact engine's last MILP (step 4); HiGHS runs
    everything else, and the decompositions are HiGHS's alone.

    Returns the result (objective in the model's own sense, bound, status, limit), the open-site
    mask of the best plan, and statistics per step.
    """
    from siting.optimizer.registry import get_backend

    # one budget for every step, shared with whatever ran before in the same command
    params = (params or SolveParams()).started()
    say = progress or (lambda _m: None)
    t0 = time.monotonic()

    def left() -> float:
        remaining = params.remaining()
        return math.inf if remaining is None else remaining

    if prover not in PROVERS or (engine == "benders" and prover != "highs"):
        raise ValueError(f"the {engine} engine cannot hand its branch and bound to {prover!r}")
    note = one_thread_note(prover, params.threads)
    if model == "mclp":
        _check_mclp(instance, radius, p, budget)
    stats: dict[str, Any] = {"formulation": f"{model}-{'benders' if engine == 'benders' else 'reduced'}"}
    sign = 1.0 if model == "mclp" else -1.0

    # 1. incumbent
    if start_mask is not None:
        inc_mask = np.asarray(start_mask, dtype=bool)
    elif model == "mclp":
        from siting.optimizer.heuristics import run_heuristic

        # half the time for the Benders incumbent: it finishes in seconds at 100,000 x 2,000, and at
        # 1,000,000 x 5,000 (a greedy of 100 steps over 96 million pairs, then the swaps) it is the
        # plan; a quarter cut its swap search off before the first move on a loaded machine
        h_share = 0.5 if engine == "benders" else 0.25
        tl = None if params.time_limit is None else max(h_share * left(), 0.0)
        # The Lagrangian and the swaps from its plans (method auto) find the best plan known at
        # 100,000 x 2,000 (9,478,314, in 47 s on its own; the LP-guided starts reach 9,449,160-9,467,341),
        # so the default path keeps them and never returns less than its heuristic. Above
        # _LAGRANGIAN_PAIRS stored pairs their copies of the covering matrix cost gigabytes: greedy +
        # swap only there (the coverable-weight bound proves the 1,000,000 x 5,000, p = 100 case).
        pairs = int(instance.distances.nnz) if instance.is_sparse else instance.n * instance.m
        method = "interchange" if engine == "benders" and pairs > _LAGRANGIAN_PAIRS else "auto"
        h = run_heuristic(
            instance, "mclp", p=p, radius=radius, budget=budget, method=method, time_limit=tl, progress=say
        )
        inc_mask = np.asarray(h.open_mask, dtype=bool)
        stats["heuristic_bound"] = h.bound
        stats["greedy_seconds"] = float(h.stats.get("greedy", {}).get("seconds", 0.0))
    else:
        inc_mask = greedy_lscp(instance, radius, objective)
    inc = _value(instance, inc_mask, model, radius, objective)
    stats["heuristic_objective"] = sign * inc
    stats["heuristic_seconds"] = round(time.monotonic() - t0, 3)
    say(f"heuristic plan {sign * inc:.10g} in {time.monotonic() - t0:.1f} s")
    heuristic_bound = stats.get("heuristic_bound")
    if heuristic_bound is not None and _closed_by(
        inc, float(heuristic_bound), 1.0 if _integral_weights(instance) else 0.0, params.mip_gap
    ):
        # the heuristic's own bound (the coverable weight, or its Lagrangian bound) already proves
        # the plan: at 1,000,000 x 5,000 with p = 100 every coverable point is covered, and the
        # reductions and the LP after this point would only spend time and memory
        say(f"the heuristic's bound {float(heuristic_bound):.10g} proves the plan: no LP needed")
        return _finish_coverage(
            instance, model, radius, objective, params, t0, inc_mask, inc, inc_mask, inc, float(heuristic_bound),
            Status.OPTIMAL, Limit.NONE, _integral_weights(instance), stats, say,
        )  # fmt: skip

    # 1b only on the compact path: at 100,000 x 2,000 the windows are large MILPs; measured there, the
    # MCLP windows found nothing in 99 CPU s and the LSCP ones took the time the row generation needs
    windows = engine != "benders" and left() > 0
    if model == "mclp" and windows:
        # 1b. neighbouring open sites re-placed together by small MILPs (coverage_windows): the
        # swap search's local optimum is 0.4 % below the optimum at 10,000 x 1,000
        from siting.optimizer.coverage_windows import window_search

        share = None if not math.isfinite(left()) else _WINDOW_SHARE * left()
        allowed = new_eligible(instance)
        w_mask, w_val, w_stats = window_search(
            instance, radius, p, budget, allowed, inc_mask | instance.existing, inc, params, share, say
        )
        stats.update(w_stats)
        if w_val > inc:
            inc_mask, inc = w_mask, w_val
    elif model == "lscp" and windows:
        from siting.optimizer.coverage_windows import lscp_window_search

        share = None if not math.isfinite(left()) else _WINDOW_SHARE * left()
        c_mask, w_stats = lscp_window_search(
            instance, radius, objective, new_eligible(instance), inc_mask, params, share, say
        )
        stats.update(w_stats)
        c_val = _value(instance, c_mask, model, radius, objective)
        if c_val > inc:
            inc_mask, inc = c_mask, c_val

    if model == "mclp":
        integral = _integral_weights(instance)
    else:
        f = instance.cost if objective == "cost" else np.ones(instance.m)
        integral = bool(np.all(f == np.round(f)))
    delta = 1.0 if integral else 0.0
    tol = 1e-7 * max(1.0, abs(inc))

    # 2. dominated sites
    work = _Working(instance, np.zeros(instance.m, dtype=bool), np.zeros(instance.m, dtype=bool), p, budget)
    cover, _, _, _ = covering_rows(instance, radius)
    deg = np.diff(cover.indptr).astype(np.float64)
    if float((deg * deg).sum()) <= _MERGE_FOR_DOMINANCE * _DOMINANCE_WORK:
        cover = sp.csr_array(cover[merge_identical_rows(cover)[1]])  # same inclusions, half the work at city scale
    # else (1,000,000 x 5,000: 9.6e9) the merged rows would still be far over the work limit: no merging
    uses_cost = (model == "mclp" and budget is not None) or (model == "lscp" and objective == "cost")
    dom = dominated_sites(cover, instance.cost if uses_cost else None, new_eligible(instance))
    work.fixed_closed |= dom
    stats["dominated_sites"] = int(dom.sum())
    say(f"{int(dom.sum())} of {int(new_eligible(instance).sum())} candidate sites dominated")

    # 3. LP bound + reduced-cost fixing; until the LP answers, the heuristic's Lagrangian bound holds
    heuristic_bound = stats.get("heuristic_bound")
    global_bound = float(heuristic_bound) if heuristic_bound is not None else math.inf
    if engine == "benders" and model == "mclp":
        from siting.optimizer.coverage_benders import solve_mclp_benders

        if left() < 2.0 * float(stats.get("greedy_seconds", 0.0)):
            # building the master (rows merged, grouped) costs about two of the greedy's passes over
            # the pairs: at 1,000,000 x 5,000 it would run past the limit before its first LP
            say(f"{left():.0f} s left, less than twice the greedy took: no Benders rounds")
            return _finish_coverage(
                instance, model, radius, objective, params, t0, inc_mask, inc, inc_mask, inc, global_bound,
                Status.FEASIBLE, Limit.TIME, integral, stats, say,
            )  # fmt: skip
        out = solve_mclp_benders(instance, radius, p, budget, work.fixed_closed, inc_mask, inc, delta, params, say)
        stats.update(out.rounds)
        return _finish_coverage(
            instance, model, radius, objective, params, t0, inc_mask, inc, out.mask, out.value,
            min(global_bound, out.bound), Status.OPTIMAL if out.closed else Status.FEASIBLE, Limit.NONE,
            integral, stats, say,
        )  # fmt: skip
    rowgen_rows = None
    for rnd in range(_FIX_ROUNDS):
        problem = _build(work, model, radius, objective)
        if problem is None or left() <= 0:
            break
        if engine == "benders":  # LSCP: the LP of a few generated rows, duals zero elsewhere
            from siting.optimizer.coverage_rowgen import rowgen_lp

            got = rowgen_lp(problem, params, say)
            lp = None if got is None else (got[0], got[1])
            rowgen_rows = None if got is None else (problem, got[2])
            if got is not None:  # a better incumbent makes the fixing below stronger
                inc_mask, inc = _better_cover(
                    instance, work.instance().existing, problem, got[3], inc_mask, inc, radius, objective, say
                )
                tol = 1e-7 * max(1.0, abs(inc))
        else:
            lp = _lp_duals(problem, params, left())
        if lp is None:
            break
        _, duals = lp
        bound, at0, at1 = lagrangian_bound(problem, duals)
        global_bound = min(global_bound, max(bound, inc))
        free = np.flatnonzero(problem.col_upper[problem.site_cols] > problem.col_lower[problem.site_cols])
        sites = problem.site_cols[free]
        kill1 = at1[sites] < inc + delta - tol  # no plan opening j beats the incumbent
        kill0 = at0[sites] < inc + delta - tol  # no plan closing j beats the incumbent
        work.fixed_closed[sites[kill1 & ~kill0]] = True
        work.fixed_open[sites[kill0 & ~kill1]] = True
        if (kill0 & kill1).any():
            # no plan agreeing with the fixings beats the incumbent: it is optimal
            global_bound = inc
        fixed = int((kill0 | kill1).sum())
        say(
            f"LP round {rnd + 1}: bound {sign * global_bound:.10g}, gap "
            f"{_gap(inc, global_bound):.4%}, fixed {int(kill1.sum())} closed and {int(kill0.sum())} open, "
            f"{free.size - fixed} free"
        )
        stats[f"lp_round_{rnd + 1}"] = {"bound": sign * bound, "fixed": fixed, "free": int(free.size - fixed)}
        if fixed == 0 or global_bound <= inc + delta - tol:
            break

    # 4. branch and bound on what is left
    best_mask, best = inc_mask, inc
    res_status, limit = Status.OPTIMAL, Limit.NONE
    if global_bound > inc + delta - tol:
        problem = _build(work, model, radius, objective)
        # the working LSCP prices fixed-open sites as existing (cost 0): its values miss their cost
        shift = (
            0.0 if model == "mclp" else -_value(instance, work.fixed_open | instance.existing, model, radius, objective)
        )
        if problem is None:
            global_bound = inc
        elif left() <= 0:
            res_status, limit = Status.FEASIBLE, Limit.TIME
        elif engine == "benders":  # LSCP: iterated MILP on the generated rows
            from siting.optimizer.coverage_rowgen import initial_rows, rowgen_milp

            same = rowgen_rows is not None and _same_rows(rowgen_rows[0], problem)
            rows = rowgen_rows[1] if same and rowgen_rows is not None else initial_rows(problem)
            agrees = not (inc_mask & work.fixed_closed).any() and (inc_mask | ~work.fixed_open).all()
            warm = inc_mask.astype(np.float64) if agrees else None
            rg = rowgen_milp(problem, rows, warm, -global_bound - shift, params, say)
            stats.update(rg.stats)
            if rg.x is not None:
                mask = problem.open_sites(rg.x) | work.instance().existing
                val = _value(instance, mask, model, radius, objective)
                if val > best:
                    best_mask, best = mask, val
            if math.isfinite(rg.bound):
                global_bound = min(global_bound, max(inc, -(rg.bound + shift)))
            if not rg.closed:
                res_status, limit = Status.FEASIBLE, Limit.TIME if left() <= 0 else Limit.OTHER
        else:
            winst = work.instance()
            warm = None
            agrees = not (inc_mask & work.fixed_closed).any() and (inc_mask | ~work.fixed_open).all()
            # the warm vector costs an LP of its own (up to 30 s): only when the time left affords it
            if model == "mclp":  # the complete start costs one product, no LP; closed sites left out
                from siting.optimizer.coverage_windows import mclp_start

                warm = mclp_start(problem, (inc_mask & ~work.fixed_closed) | winst.existing)
            elif agrees and left() > 45:
                from siting.optimizer.solve import ModelSpec, warm_vector

                warm = warm_vector(problem, winst, ModelSpec(model), inc_mask)  # type: ignore[arg-type]
            say(
                f"branch and bound ({PROVERS[prover]}): {problem.num_vars} columns, {problem.num_rows} rows, "
                f"{left():.0f} s left"
            )
            sub = SolveParams(
                time_limit=None if not math.isfinite(left()) else max(left(), 0.1),
                mip_gap=params.mip_gap,
                threads=params.threads,
                seed=params.seed,
                options=params.options,
            )
            if note:
                say(note)
            res = get_backend(prover).solve(problem, sub, warm_start=warm)
            stats["prover"] = prover
            stats["milp"] = {
                "status": res.status.value,
                "nodes": res.stats.get("mip_node_count"),
                "seconds": round(res.seconds, 3),
            }
            if res.x is not None:
                mask = problem.open_sites(res.x) | instance.existing
                val = _value(instance, mask, model, radius, objective)
                if val > best:
                    best_mask, best = mask, val
            if res.bound is not None and math.isfinite(res.bound):
                global_bound = min(global_bound, max(inc, sign * (res.bound + shift)))
            if res.status != Status.OPTIMAL:
                res_status, limit = Status.FEASIBLE, res.limit if res.limit != Limit.NONE else Limit.OTHER
    return _finish_coverage(
        instance, model, radius, objective, params, t0, inc_mask, inc, best_mask, best, global_bound, res_status,
        limit, integral, stats, say, prover=stats.get("prover", "highs"), note=note if "prover" in stats else "",
    )  # fmt: skip


def _better_cover(
    instance: SitingInstance,
    open_already: NDArray[np.bool_],
    problem: MilpProblem,
    y: NDArray[np.float64],
    inc_mask: NDArray[np.bool_],
    inc: float,
    radius: float,
    objective: str,
    say: Progress,
) -> tuple[NDArray[np.bool_], float]:
    """The best of the incumbent and the LP-guided covers of :func:`coverage_rowgen.lp_guided_covers`
    (``problem`` is on the working instance, whose existing sites ``open_already`` complete a cover)."""
    from siting.optimizer.coverage_rowgen import lp_guided_covers

    for cover in lp_guided_covers(problem, y):
        mask = cover | open_already
        val = _value(instance, mask, "lscp", radius, objective)
        if val > inc + 1e-9 * max(1.0, abs(inc)):
            inc_mask, inc = mask, val
            say(f"LP-guided cover {-inc:.10g}")
    return inc_mask, inc


def _same_rows(a: MilpProblem, b: MilpProblem) -> bool:
    """Whether two covering problems have the same rows and columns (no fixing in between)."""
    return bool(
        a.A.shape == b.A.shape
        and a.A.nnz == b.A.nnz
        and np.array_equal(a.col_upper, b.col_upper)
        and np.array_equal(a.col_lower, b.col_lower)
    )


def _finish_coverage(
    instance: SitingInstance,
    model: str,
    radius: float,
    objective: str,
    params: SolveParams,
    t0: float,
    inc_mask: NDArray[np.bool_],
    inc: float,
    best_mask: NDArray[np.bool_],
    best: float,
    global_bound: float,
    res_status: Status,
    limit: Limit,
    integral: bool,
    stats: dict[str, Any],
    say: Progress,
    prover: str = "highs",
    note: str = "",
) -> tuple[SolveResult, NDArray[np.bool_], dict[str, Any]]:
    """The result in the model's own sense from max-form values: never worse than the incumbent,
    OPTIMAL only within ``mip_gap``, FEASIBLE with limit TIME when the deadline stopped it. It is
    named after ``prover``, the solver of the last branch and bound (HiGHS solved the LPs either way);
    ``note`` (what the user should know about how it ran) joins the result's message."""
    sign = 1.0 if model == "mclp" else -1.0
    # the plan is re-valued on the instance itself: the answer is never worse than the incumbent
    best = _value(instance, best_mask, model, radius, objective)
    if best < inc:
        best_mask, best = inc_mask, inc
    tol = 1e-7 * max(1.0, abs(best))
    global_bound = max(global_bound, best)
    if integral and global_bound < best + 1 - tol:
        global_bound = best  # no integral plan value lies strictly between them
    if _gap(best, global_bound) <= max(params.mip_gap, 1e-9):
        res_status, limit = Status.OPTIMAL, Limit.NONE
    elif res_status == Status.OPTIMAL or limit == Limit.NONE:
        res_status, limit = Status.FEASIBLE, Limit.TIME if params.expired() else Limit.OTHER
    say(f"done: {sign * best:.10g}, bound {sign * global_bound:.10g}, status {res_status.value}")
    result = SolveResult(
        status=res_status,
        solver=prover,
        solver_version=highs_version() if prover == "highs" else f"{_version(prover)}, LPs on HiGHS {highs_version()}",
        objective=sign * best,
        bound=sign * global_bound if math.isfinite(global_bound) else None,
        gap=relative_gap(sign * best, sign * global_bound) if math.isfinite(global_bound) else None,
        seconds=time.monotonic() - t0,
        limit=limit,
        x=None,
        message="; ".join(
            t for t in ("" if res_status == Status.OPTIMAL else "stopped before the gap closed", note) if t
        ),
        stats={},
    )
    return result, best_mask, stats


#: the shared accounting of a coverage solve in max form (public for the LSCP path of :mod:`optimizer.coverage_lscp`)
finish_coverage = _finish_coverage


def _check_mclp(instance: SitingInstance, radius: float, p: int | None, budget: float | None) -> None:
    """The checks :func:`models.formulations.mclp` makes, before any heuristic runs."""
    from siting.models.checks import check_radius
    from siting.models.formulations.mclp import check_site_limits

    r = check_radius(radius, allow_zero=False)
    check_site_limits(instance, p, budget, min_p=0)
    check_covers_something(instance, r)


def check_covers_something(instance: SitingInstance, radius: float) -> None:
    """One clear error when no site (new or existing) reaches any demand point within ``radius``:
    every coverage plan would be empty, which is a wrong radius or wrong units, not an answer."""
    from siting.models.errors import ScenarioError
    from siting.models.formulations.mclp import smallest_eligible_distance

    r = float(radius)
    if instance.n == 0:
        return
    _, _, _, no_site = covering_rows(instance, r)
    if no_site.all():
        dmin = smallest_eligible_distance(instance)
        # a sparse instance built with a cutoff stores no pair beyond it: the nearest is farther
        nearest = (
            f"the smallest demand-site distance is {dmin:g}" if math.isfinite(dmin) else "no pair is stored within it"
        )
        raise ScenarioError(
            f"radius {r:g} covers no demand point from any eligible site; {nearest}: increase the radius"
        )


def _integral_weights(instance: SitingInstance) -> bool:
    return bool(np.all(instance.weights == np.round(instance.weights)))


def _closed_by(value: float, bound: float, delta: float, mip_gap: float) -> bool:
    """Whether ``bound`` (max form) proves ``value`` within ``mip_gap`` (or within ``delta`` of an
    integral objective)."""
    if not math.isfinite(bound):
        return False
    tol = 1e-7 * max(1.0, abs(value))
    return bound <= value + delta - tol or _gap(value, bound) <= max(mip_gap, 1e-9)


def _gap(value: float, bound: float) -> float:
    if not math.isfinite(bound):
        return math.inf
    return max(bound - value, 0.0) / max(abs(value), 1e-9)


def _version(solver: str) -> str:
    from siting.optimizer.registry import get_backend

    return str(get_backend(solver).version())


def highs_version() -> str:
    from siting.optimizer.backends.highs import highs_version as v

    return v()
