"""Row generation for covering problems (LSCP at city scale): LP bound and exact MILP on few rows.

A set-covering problem ``min c y  s.t.  a_r y >= 1 (every row r),  y in {0,1}^m`` over 10^5
merged demand rows needs very few of its rows at an optimum: most rows are covered "for free"
by the sites that the scarce rows force open. Any subset S of the rows gives a relaxation::

    P(S):  min c y  s.t.  a_r y >= 1 (r in S),  lo <= y <= hi

so the value of P(S) (LP or MILP, or a MILP's proven dual bound) is a valid lower bound on the
whole problem for *every* S.

1. **LP phase.** Start from the rows of smallest degree (the hardest to cover) and solve the LP of
   P(S) with HiGHS; add the rows the LP point leaves uncovered (``a_r y* < 1``), most violated
   first, and re-solve with the basis kept; stop when no row is violated (the full LP optimum) or
   the deadline passes. The duals of S, with zero for the other rows, feed the rigorous
   Lagrangian bound and the reduced-cost fixing of :mod:`optimizer.coverage_exact`.
2. **Integer phase.** Solve the MILP of P(S), warm-started from the incumbent; its proven bound is
   a lower bound. If its plan covers every row it is optimal for the whole problem; otherwise the
   rows it leaves uncovered join S, the plan is repaired into a cover (greedy by cost per newly
   covered row, then redundant sites dropped) as a candidate incumbent, and the MILP re-solved.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.milp import MilpProblem
from siting.optimizer.result import SolveParams, Status

Progress = Callable[[str], None]

# rows added per LP round: at most this many times the number of columns
_ADD_PER_COLUMN = 2
_LP_ROUNDS = 100
_TOL = 1e-6


def _covering_rows(problem: MilpProblem) -> NDArray[np.bool_]:
    """Rows of the form ``a y >= lower`` (finite lower, no upper): the ones generated lazily."""
    return np.isfinite(problem.row_lower) & ~np.isfinite(problem.row_upper)


def _violated(A: sp.csr_array, lower: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row, how far ``a_r x`` falls short of its lower bound (<= 0: satisfied)."""
    return np.asarray(lower - A @ x)


def _subproblem(problem: MilpProblem, rows: NDArray[np.int64], integer: bool) -> MilpProblem:
    A = sp.csc_array(sp.csr_array(problem.A)[rows])
    integrality = problem.integrality if integer else np.zeros(problem.num_vars, dtype=bool)
    return replace(
        problem,
        A=A,
        row_lower=problem.row_lower[rows],
        row_upper=problem.row_upper[rows],
        integrality=integrality,
    )


def initial_rows(problem: MilpProblem) -> NDArray[np.int64]:
    """Every non-covering row, and the covering rows of smallest degree (ties by index)."""
    cov = _covering_rows(problem)
    A = sp.csr_array(problem.A)
    deg = np.diff(A.indptr)
    always = np.flatnonzero(~cov)
    cand = np.flatnonzero(cov)
    take = min(cand.size, max(_ADD_PER_COLUMN * problem.num_vars, 1))
    chosen = cand[np.argsort(deg[cand], kind="stable")[:take]]
    return np.sort(np.concatenate([always, chosen])).astype(np.int64)


def _most_violated(short: NDArray[np.float64], in_s: NDArray[np.bool_], cap: int) -> NDArray[np.int64]:
    bad = np.flatnonzero((short > _TOL) & ~in_s)
    if bad.size > cap:
        bad = bad[np.argsort(-short[bad], kind="stable")[:cap]]
    return np.sort(bad).astype(np.int64)


def rowgen_lp(
    problem: MilpProblem, params: SolveParams, say: Progress
) -> tuple[float, NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]] | None:
    """Step 1: the LP value of the last P(S) (a lower bound in min form), full-length row duals
    (zero outside S), S, and the LP point. None when no LP was solved in time."""
    from siting.optimizer.backends.highs import configure, new_highs, pass_problem, run_within

    A = sp.csr_array(problem.A)
    rows = initial_rows(problem)
    in_s = np.zeros(problem.num_rows, dtype=bool)
    in_s[rows] = True
    h = new_highs()
    configure(h, SolveParams(time_limit=params.remaining(), threads=params.threads, seed=params.seed))
    pass_problem(h, _subproblem(problem, rows, integer=False))
    order = list(rows)
    out = None
    t0 = time.monotonic()
    cap = max(_ADD_PER_COLUMN * problem.num_vars, 100)
    for rnd in range(_LP_ROUNDS):
        left = params.remaining()
        if left is not None:
            # HiGHS measures time_limit against its run clock, which keeps running over every run()
            # of the object: the limit for this round is the clock so far plus the time left
            h.setOptionValue("time_limit", float(h.getRunTime()) + max(left, 0.05))
        if params.expired() or not run_within(h, params):
            break
        if str(h.getModelStatus()).split(".")[-1] != "kOptimal":
            break
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        duals = np.zeros(problem.num_rows)
        duals[np.asarray(order)] = np.asarray(sol.row_dual)
        value = float(h.getInfo().objective_function_value)
        out = (value, duals, np.asarray(order, dtype=np.int64), x)
        new = _most_violated(_violated(A, problem.row_lower, x), in_s, cap)
        say(
            f"row generation LP round {rnd + 1}: bound {value:.10g}, {in_s.sum()} of {problem.num_rows} rows, "
            f"{new.size} violated, {time.monotonic() - t0:.1f} s"
        )
        if new.size == 0:
            break
        sub = A[new]
        h.addRows(
            int(new.size),
            problem.row_lower[new].astype(np.float64),
            problem.row_upper[new].astype(np.float64),
            int(sub.nnz),
            sub.indptr[:-1].astype(np.int32),
            sub.indices.astype(np.int32),
            sub.data.astype(np.float64),
        )
        in_s[new] = True
        order.extend(new.tolist())
    return out


def greedy_cover(
    A: sp.csr_array,
    cost: NDArray[np.float64],
    start: NDArray[np.bool_],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
) -> NDArray[np.bool_] | None:
    """Complete ``start`` to a cover of every row of the 0/1 matrix A (greedy by cost per newly
    covered row, incremental gains through CSR/CSC), then drop redundant sites, most expensive
    first (sites with ``lower = 1`` stay). None if some row has no allowed site."""
    rows = sp.csr_array(A, dtype=np.int32)
    cols = sp.csc_array(rows)
    _, m = rows.shape
    allowed = upper > 0.5
    mask = (start & allowed) | (lower > 0.5)
    covered = (rows @ mask.astype(np.int32)) > 0
    live = rows[np.flatnonzero(~covered)]
    gain = np.bincount(live.indices, minlength=m).astype(np.float64)
    gain[~allowed | mask] = 0.0
    f = np.maximum(cost, 1e-12)
    left = int((~covered).sum())
    while left > 0:  # one iteration per opened site
        score = np.where(gain > 0, f / np.maximum(gain, 1), np.inf)
        j = int(np.argmin(score))
        if not np.isfinite(score[j]):
            return None
        mask[j] = True
        r = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        r = r[~covered[r]]
        covered[r] = True
        left -= r.size
        gain -= np.bincount(rows[r].indices, minlength=m)
        gain[j] = 0.0
    count = rows @ mask.astype(np.int32)
    for j in np.flatnonzero(mask & (lower < 0.5))[np.argsort(-f[mask & (lower < 0.5)], kind="stable")]:
        r = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        if (count[r] >= 2).all():
            mask[j] = False
            count[r] -= 1
    return mask


@dataclass
class RowgenOutcome:
    """Best cover found (x over the problem's columns, or None), its value, the proven lower bound,
    whether the gap closed, and statistics."""

    x: NDArray[np.float64] | None
    value: float
    bound: float
    closed: bool
    stats: dict[str, Any] = field(default_factory=dict)


def rowgen_milp(
    problem: MilpProblem,
    rows: NDArray[np.int64],
    incumbent: NDArray[np.float64] | None,
    bound: float,
    params: SolveParams,
    say: Progress,
) -> RowgenOutcome:
    """Step 2 in min form: iterated MILP on P(S), S growing by the rows its plans leave uncovered."""
    from siting.optimizer.registry import get_backend

    A = sp.csr_array(problem.A)
    in_s = np.zeros(problem.num_rows, dtype=bool)
    in_s[rows] = True
    best_x = incumbent
    best = math.inf if incumbent is None else problem.objective_value(incumbent)
    rounds = 0
    t0 = time.monotonic()
    while not params.expired():
        if _closed(best, bound, params.mip_gap):
            break
        rounds += 1
        sub = _subproblem(problem, np.flatnonzero(in_s), integer=True)
        res = get_backend("highs").solve(
            sub,
            SolveParams(
                time_limit=params.remaining(),
                mip_gap=params.mip_gap,
                threads=params.threads,
                seed=params.seed,
                deadline=params.deadline,
            ),
            warm_start=best_x,
        )
        if res.bound is not None and math.isfinite(res.bound):
            bound = max(bound, min(res.bound, best))
        if res.x is None:
            say(f"row generation round {rounds}: no plan from the MILP ({res.status.value}), bound {bound:.10g}")
            break
        x: NDArray[np.float64] = np.round(np.asarray(res.x, dtype=np.float64)).astype(np.float64)
        new = _most_violated(_violated(A, problem.row_lower, x), in_s, problem.num_rows)
        if new.size == 0:
            val = problem.objective_value(x)
            if val < best:
                best_x, best = x, val
            if res.status == Status.OPTIMAL:
                bound = max(bound, min(val, best))
        else:
            cov = _covering_rows(problem)
            fixed = greedy_cover(A[np.flatnonzero(cov)], problem.c, x > 0.5, problem.col_lower, problem.col_upper)
            if fixed is not None:
                xr = fixed.astype(np.float64)
                if np.all(_violated(A, problem.row_lower, xr) <= _TOL) and problem.objective_value(xr) < best:
                    best_x, best = xr, problem.objective_value(xr)
            in_s[new] = True
        say(
            f"row generation round {rounds}: bound {bound:.10g}, best {best:.10g}, {new.size} rows added, "
            f"{int(in_s.sum())} rows, {time.monotonic() - t0:.1f} s"
        )
        if res.status != Status.OPTIMAL and new.size == 0:
            break  # stopped by the deadline with a true cover: nothing more to learn
    closed = _closed(best, bound, params.mip_gap)
    return RowgenOutcome(best_x, best, bound, closed, {"rowgen_rounds": rounds, "rows_used": int(in_s.sum())})


def _closed(best: float, bound: float, mip_gap: float) -> bool:
    """Whether a cover of value ``best`` is proven within ``mip_gap`` of the lower ``bound``."""
    if not (math.isfinite(best) and math.isfinite(bound)):
        return False
    return best - bound <= max(mip_gap, 1e-9) * max(abs(best), 1e-9)


def lp_guided_covers(problem: MilpProblem, y: NDArray[np.float64]) -> list[NDArray[np.bool_]]:
    """Covers built from an LP point y (the incumbent step of the LSCP): greedy completion of the
    sites with ``y_j >= t`` for a few thresholds t, and greedy with costs discounted by ``1 - y_j``
    (sites the LP likes look cheaper); each ends with redundant sites dropped at their true cost."""
    A = sp.csr_array(problem.A)[np.flatnonzero(_covering_rows(problem))]
    out = []
    for t in (0.9, 0.5, 0.25):
        got = greedy_cover(A, problem.c, y >= t, problem.col_lower, problem.col_upper)
        if got is not None:
            out.append(got)
    discounted = problem.c * np.clip(1.0 - y, 0.05, 1.0)
    got = greedy_cover(A, discounted, np.zeros(problem.num_vars, dtype=bool), problem.col_lower, problem.col_upper)
    if got is not None:
        out.append(_drop_redundant(A, problem.c, got, problem.col_lower))
    return out


def _drop_redundant(
    A: sp.csr_array, cost: NDArray[np.float64], mask: NDArray[np.bool_], lower: NDArray[np.float64]
) -> NDArray[np.bool_]:
    rows = sp.csr_array(A, dtype=np.int32)
    cols = sp.csc_array(rows)
    mask = mask.copy()
    count = rows @ mask.astype(np.int32)
    for j in np.flatnonzero(mask & (lower < 0.5))[np.argsort(-cost[mask & (lower < 0.5)], kind="stable")]:
        r = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        if (count[r] >= 2).all():
            mask[j] = False
            count[r] -= 1
    return mask
