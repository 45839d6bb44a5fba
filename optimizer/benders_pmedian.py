"""Exact p-median by Benders decomposition of the radius formulation, on HiGHS.

The radius formulation of Elloumi (2010) projects, client by client, onto the site variables
``y``. For client i with weight w_i and any distance level L, the inequality

    theta_i >= L - sum_{j : d_ij < L} (L - d_ij) y_j                                  (B)

is valid for every 0/1 ``y`` with at least one open site (if the nearest open site is closer
than L, the sum subtracts at least ``L - d_i*``; otherwise the right side is at most L). For a
fractional ``y`` the deepest cut is at the level where the cumulative open mass of i's sites,
sorted by distance, first reaches 1 (Duran-Mateluna, Ales & Elloumi, EJOR 2023): the right side
then equals the LP assignment cost of client i, so the separation is closed-form and vectorized.

Master problem (M):

    min  sum_i w_i theta_i
    s.t. sum_{j new} y_j <= p                                                          (1)
         cuts (B) generated so far                                                     (2)
         y_j = 1 for existing sites, y_j = 0 for forbidden ones, 0 <= y <= 1           (3)
         theta_i >= min_j d_ij                                                         (4)

Algorithm:

1. LP phase: Kelley's cutting planes on the LP relaxation of (M), stabilised by in-out
   separation (Ben-Ameur & Neto 2007): cuts are separated at a point between the LP optimum and
   a core point; the LP relaxation value of any separated point is an upper bound of the LP,
   so the phase ends with a certified LP gap.
2. Reduced-cost fixing: with the LP bound LB, the reduced cost r_j of y_j and an incumbent of
   value UB, ``LB + r_j > UB - delta`` proves y_j = 0 in every improving solution (and
   ``LB - r_j > UB - delta`` for y_j = 1), where delta = 1 when all w_i d_ij are integers.
   Slack cuts are dropped.
3. MILP phase: HiGHS solves (M) with integer y, warm-started from the incumbent; cuts (B) are
   separated at its integer solution and the MILP is solved again until it adds none. The
   master optimum is a valid lower bound at every round; the last integer y is optimal.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import highspy
import numpy as np
from numpy.typing import NDArray

from models.errors import DataError
from models.evaluate import evaluate
from models.instance import SitingInstance
from optimizer.result import Limit, SolveParams, SolveResult, Status, relative_gap

Progress = Callable[[str], None]
_INF = highspy.kHighsInf


@contextmanager
def _quiet_fd1() -> Iterator[None]:
    """Silence C-level stdout (HiGHS prints a banner when the first Highs object is made)."""
    try:
        fd = os.dup(1)
    except OSError:  # no real stdout (some test runners); nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(fd, 1)
        os.close(fd)


def _new_highs(params: SolveParams) -> highspy.Highs:
    with _quiet_fd1():
        h = highspy.Highs()
    h.setOptionValue("output_flag", bool(params.verbose))
    h.setOptionValue("threads", int(params.threads))
    h.setOptionValue("random_seed", int(params.seed))
    for key, value in params.options_for("highs").items():
        h.setOptionValue(key, value)
    return h


class _Separator:
    """Closed-form separation of cuts (B) for all clients at once.

    Holds, for each client, its candidate sites sorted by distance (``order``) and the sorted
    distances (``dist``), both (n, k) arrays; ``k`` is the number of candidate columns.
    """

    def __init__(self, d: NDArray[np.float64]) -> None:
        self.order = np.argsort(d, axis=1, kind="stable").astype(np.int32)
        self.dist = np.take_along_axis(d, self.order, axis=1)

    def levels(self, y: NDArray[np.float64], rows: NDArray[np.int64] | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per client: the level L_i of the deepest cut at y, and the cut's right side at y."""
        order = self.order if rows is None else self.order[rows]
        dist = self.dist if rows is None else self.dist[rows]
        mass = np.cumsum(y[order], axis=1)
        # first sorted position whose cumulative open mass reaches 1
        t = np.argmax(mass >= 1.0 - 1e-9, axis=1)
        unreached = mass[:, -1] < 1.0 - 1e-9
        t[unreached] = dist.shape[1] - 1
        level = dist[np.arange(dist.shape[0]), t]
        below = dist < level[:, None]
        value = level - np.sum(np.where(below, (level[:, None] - dist) * y[order], 0.0), axis=1)
        return level, value

    def cut_rows(self, clients: NDArray[np.int64], level: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """CSR pieces (starts, site columns, coefficients) of cuts (B) for ``clients`` at ``level``."""
        dist = self.dist[clients]
        below = dist < level[:, None]
        r, k = np.nonzero(below)
        cols = self.order[clients][r, k].astype(np.int64)
        vals = level[r] - dist[r, k]
        counts = below.sum(axis=1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return starts, cols, vals


def solve_pmedian_benders(
    instance: SitingInstance,
    p: int,
    params: SolveParams,
    start_mask: NDArray[np.bool_] | None = None,
    progress: Progress | None = None,
    lp_tol: float = 1e-7,
    ladder_max: int = 8,
) -> tuple[SolveResult, NDArray[np.bool_] | None]:
    """Solve the uncapacitated p-median exactly by Benders decomposition on HiGHS.

    Returns the solve record (objective, proven bound, gap, time, limit) and the open-site mask.
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    deadline = t0 + params.time_limit if params.time_limit is not None else np.inf
    version = _highs_version()

    # ---- data: clients with positive weight, candidate sites (not forbidden)
    cand = np.flatnonzero(instance.eligible)
    clients = np.flatnonzero(instance.weights > 0)
    w = instance.weights[clients]
    d = instance.dense_distances()[np.ix_(clients, cand)]
    unreachable = ~np.isfinite(d).any(axis=1)
    if unreachable.any():
        ids = instance.demand_ids[clients[unreachable]][:5]
        raise DataError(f"demand points {', '.join(map(str, ids))} cannot reach any eligible site; remove them or add sites")
    big = float(np.max(d[np.isfinite(d)])) * 2 + 1.0
    d = np.where(np.isfinite(d), d, big)
    existing = instance.existing[cand]
    integral = bool(np.all(np.abs(w[:, None] * d - np.round(w[:, None] * d)) < 1e-9)) if d.size < 50_000_000 else False
    delta = 1.0 - 1e-6 if integral else 1e-9
    n, k = d.shape
    sep = _Separator(d)
    say(f"benders: {n} clients x {k} candidate sites, p = {p}")

    def true_value(y: NDArray[np.float64]) -> float:
        """p-median objective of an integer y (nearest open candidate per client)."""
        open_cols = np.flatnonzero(y > 0.5)
        return float(np.dot(w, d[:, open_cols].min(axis=1)))

    # ---- incumbent
    if start_mask is not None:
        y_inc = start_mask[cand].astype(np.float64)
    else:
        y_inc = existing.astype(np.float64)
        order = np.argsort(d.sum(axis=0))
        free = [j for j in order if not existing[j]][:p]
        y_inc[free] = 1.0
    ub = true_value(y_inc)

    # ---- master LP: columns y_0..y_{k-1}, theta_0..theta_{n-1}
    h = _new_highs(params)
    lower = np.where(existing, 1.0, 0.0)
    h.addCols(k, np.zeros(k), lower, np.ones(k), 0, np.zeros(k + 1, dtype=np.int32)[:0], np.zeros(0, dtype=np.int32), np.zeros(0))
    h.addCols(n, w.astype(np.float64), d.min(axis=1), np.full(n, _INF), 0, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))  # (4)
    new_cols = np.flatnonzero(~existing).astype(np.int32)
    h.addRow(-_INF, float(p), len(new_cols), new_cols, np.ones(len(new_cols)))  # (1)
    n_cuts = 0
    closed = np.zeros(k, dtype=bool)

    have: set[int] = set()
    row_keys: list[int] = []  # key of cut row r + 1 (row 0 is constraint (1))

    def add_cuts(clients_: NDArray[np.int64], level: NDArray[np.float64]) -> int:
        """Add cuts (B) for these clients at these levels, skipping cuts already in (M)."""
        nonlocal n_cuts
        pos = (sep.dist[clients_] < level[:, None]).sum(axis=1)
        keys = clients_.astype(np.int64) * (k + 1) + pos
        fresh = np.array([int(kk) not in have for kk in keys], dtype=bool)
        have.update(int(kk) for kk in keys[fresh])
        row_keys.extend(int(kk) for kk in keys[fresh])
        clients_, level = clients_[fresh], level[fresh]
        if clients_.size == 0:
            return 0
        starts, cols, vals = sep.cut_rows(clients_, level)
        if closed.any():
            # columns fixed to 0 contribute nothing: leave them out of the row
            keep = ~closed[cols]
            row_of = np.repeat(np.arange(len(clients_)), np.diff(np.append(starts, len(cols))))[keep]
            cols, vals = cols[keep], vals[keep]
            starts = np.searchsorted(row_of, np.arange(len(clients_))).astype(np.int64)
        # theta_i + sum (L - d_ij) y_j >= L                                             (2)
        counts = np.diff(np.append(starts, len(cols)))
        new_starts = starts + np.arange(len(clients_))
        idx = np.empty(len(cols) + len(clients_), dtype=np.int32)
        val = np.empty(len(cols) + len(clients_))
        theta_pos = new_starts
        mask = np.ones(len(idx), dtype=bool)
        mask[theta_pos] = False
        idx[theta_pos] = k + clients_
        val[theta_pos] = 1.0
        idx[mask] = cols
        val[mask] = vals
        del counts
        h.addRows(len(clients_), level, np.full(len(clients_), _INF), len(idx), new_starts.astype(np.int32), idx, val)
        n_cuts += len(clients_)
        return len(clients_)

    all_clients = np.arange(n)
    lvl, _ = sep.levels(y_inc)
    add_cuts(all_clients, lvl)

    # ---- 1. LP phase with in-out stabilisation
    core = np.where(existing, 1.0, 0.0)
    core[~existing] = p / max(1, (~existing).sum())
    core = 0.5 * core + 0.5 * y_inc
    alpha = 0.5
    lp_ub = np.inf
    lb = -np.inf
    it = 0
    y_lp = y_inc
    theta = np.zeros(n)
    while True:
        it += 1
        if time.perf_counter() > deadline:
            break
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            h.clear()
            return SolveResult(status=Status.ERROR, solver="highs", solver_version=version,
                               message=f"master LP ended with {h.modelStatusToString(h.getModelStatus())}",
                               seconds=time.perf_counter() - t0), None
        sol = np.asarray(h.getSolution().col_value)
        y_lp, theta = sol[:k], sol[k:]
        lb = max(lb, h.getInfo().objective_function_value)
        found = 0
        for _try in range(2):
            y_sep = alpha * core + (1 - alpha) * y_lp if _try == 0 else y_lp
            lvl, val = sep.levels(y_sep)
            lp_ub = min(lp_ub, float(np.dot(w, val)))
            th_sep = alpha * 0 + theta if _try == 1 else None
            # violated at the LP point itself? (the cut at y_sep's level, evaluated at y_lp)
            _, val_at_lp = _cut_value_at(sep, lvl, y_lp)
            viol = np.flatnonzero(val_at_lp > theta + lp_tol * np.maximum(1.0, np.abs(val_at_lp)))
            if viol.size:
                found = add_cuts(viol, lvl[viol])
                break
            if _try == 0:
                core = y_sep  # the separation point becomes the new core (in-out rule)
        if it % 10 == 0:
            say(f"benders LP round {it}: bound {lb:.6g}, LP upper {lp_ub:.6g}, cuts {n_cuts}")
        if not found or (lp_ub - lb) <= lp_tol * max(1.0, abs(lp_ub)):
            break
        if it > 2000:
            break
    lp_rounds = it
    lp_bound = lb
    # improve the incumbent by rounding the LP: open the p largest y (a cheap primal try)
    say(f"benders LP phase: {lp_rounds} rounds, LP bound {lp_bound:.8g}, incumbent {ub:.8g}, cuts {n_cuts}")

    # ---- 2. reduced-cost fixing and cut clean-up
    fixed0 = fixed1 = 0
    sol = h.getSolution()
    rc = np.asarray(sol.col_dual)[:k]
    if np.isfinite(lb):
        at0 = (y_lp < 1e-9) & ~existing
        zero = at0 & (lb + rc > ub - delta)
        at1 = (y_lp > 1 - 1e-9) & ~existing
        one = at1 & (lb - rc > ub - delta)
        fixed0, fixed1 = int(zero.sum()), int(one.sum())
        if fixed0:
            closed |= zero
            cols = np.flatnonzero(zero).astype(np.int32)
            h.changeColsBounds(len(cols), cols, np.zeros(len(cols)), np.zeros(len(cols)))
        if fixed1:
            cols = np.flatnonzero(one).astype(np.int32)
            h.changeColsBounds(len(cols), cols, np.ones(len(cols)), np.ones(len(cols)))
    row_act = np.asarray(sol.row_value)
    slack_rows = np.flatnonzero(row_act[1:] > np.asarray(_row_lower(h))[1:] + 1e-6) + 1
    if slack_rows.size:
        h.deleteRows(len(slack_rows), slack_rows.astype(np.int32))
        gone = set(slack_rows.tolist())
        for r in gone:
            have.discard(row_keys[r - 1])
        row_keys[:] = [kk for r, kk in enumerate(row_keys, start=1) if r not in gone]
    # ladder: for every client, cuts at each distinct distance level (to open sites) between its
    # LP level and its level in the incumbent. Improving plans serve most clients in that band,
    # so the master sees the exact cost of the moves it will consider, and MILP rounds are few.
    ladder = 0
    if ladder_max > 0:
        lvl_lp, _ = sep.levels(y_lp)
        lvl_inc, _ = sep.levels(y_inc)
        dfree = np.where(closed[sep.order], np.inf, sep.dist)
        dfree.sort(axis=1)
        new_level = np.ones_like(dfree, dtype=bool)
        new_level[:, 1:] = dfree[:, 1:] > dfree[:, :-1]
        band = new_level & (dfree > np.minimum(lvl_lp, lvl_inc)[:, None]) & (dfree <= np.maximum(lvl_lp, lvl_inc)[:, None])
        band &= np.cumsum(band, axis=1) <= ladder_max
        rr, cc = np.nonzero(band)
        for chunk in range(0, len(rr), 4000):
            ladder += add_cuts(rr[chunk:chunk + 4000].astype(np.int64), dfree[rr[chunk:chunk + 4000], cc[chunk:chunk + 4000]])
    say(f"benders: ladder added {ladder} cuts")
    say(f"benders: fixed {fixed0} sites closed and {fixed1} open by reduced costs; kept {h.getNumRow() - 1} cuts")

    # ---- 3. MILP phase
    free = np.flatnonzero(~existing).astype(np.int32)
    h.changeColsIntegrality(len(free), free, np.full(len(free), highspy.HighsVarType.kInteger))
    h.setOptionValue("mip_rel_gap", 0.0)
    if start_mask is not None:
        # the incumbent comes from a strong heuristic: spend the MILP effort on the proof
        h.setOptionValue("mip_heuristic_effort", float(params.options_for("highs").get("mip_heuristic_effort", 0.0)))
    h.setOptionValue("mip_abs_gap", delta * 0.999 if integral else 1e-9)
    status = Status.FEASIBLE
    limit = Limit.NONE
    bound = lp_bound
    milp_rounds = 0
    y_best = y_inc
    pool: dict[bytes, NDArray[np.bool_]] = {}

    def on_solution(e: object) -> None:
        sol_ = np.asarray(e.data_out.mip_solution)  # type: ignore[attr-defined]
        if sol_.size >= k:
            yb = sol_[:k] > 0.5
            pool.setdefault(np.packbits(yb).tobytes(), yb)

    h.cbMipSolution.subscribe(on_solution)
    while True:
        if ub - bound <= (delta if integral else max(params.mip_gap * abs(ub), 1e-9)):
            status = Status.OPTIMAL
            break
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            limit = Limit.TIME
            break
        if np.isfinite(remaining):
            h.setOptionValue("time_limit", float(remaining))
        if params.mip_gap > 0 and not integral:
            h.setOptionValue("mip_rel_gap", float(params.mip_gap))
        # warm start from the incumbent, theta at its true distances
        x0 = np.concatenate([y_best, d[np.arange(n), _nearest(d, y_best)]])
        hs = highspy.HighsSolution()
        hs.col_value = list(x0)
        hs.value_valid = True
        h.setSolution(hs)
        milp_rounds += 1
        pool.clear()
        h.run()
        ms = h.getModelStatus()
        info = h.getInfo()
        mb = info.mip_dual_bound
        if np.isfinite(mb):
            bound = max(bound, float(np.ceil(mb - 1e-6)) if integral else float(mb))
        if ms not in (highspy.HighsModelStatus.kOptimal, highspy.HighsModelStatus.kTimeLimit):
            break
        x = np.asarray(h.getSolution().col_value)
        y_int = (x[:k] > 0.5).astype(np.float64)
        lvl, rhs = sep.levels(y_int)
        viol = np.flatnonzero(rhs > x[k:] + 1e-7 * np.maximum(1.0, np.abs(rhs)))
        # every integer point HiGHS visited: improve the incumbent and cut it off too
        extra = 0
        for yb in [y_int > 0.5, *pool.values()]:
            yv = yb.astype(np.float64)
            val = true_value(yv)
            if val < ub - 1e-9:
                ub, y_best = val, yv
            if not np.array_equal(yb, y_int > 0.5):
                lv2, _ = sep.levels(yv)
                extra += add_cuts(np.arange(n), lv2)
        say(f"benders MILP round {milp_rounds}: master {info.objective_function_value:.8g}, bound {bound:.8g}, "
            f"incumbent {ub:.8g}, new cuts {viol.size} (+{extra} from {len(pool)} pool points)")
        if ms == highspy.HighsModelStatus.kTimeLimit:
            limit = Limit.TIME
            break
        if viol.size == 0:
            # master optimum is attained by a feasible y: its value is optimal
            bound = max(bound, float(info.objective_function_value))
            status = Status.OPTIMAL if ub - bound <= max(1e-9, 1e-9 * abs(ub)) or integral and ub - bound < 1 else Status.FEASIBLE
            if status == Status.FEASIBLE and ub - bound <= max(params.mip_gap * abs(ub), 1e-9):
                status = Status.OPTIMAL
            if status == Status.OPTIMAL:
                break
        add_cuts(viol, lvl[viol])

    mask = np.zeros(instance.m, dtype=bool)
    mask[cand[y_best > 0.5]] = True
    mask |= instance.existing
    obj = float(evaluate(instance, mask).weighted_distance)
    bound = min(bound, obj) if status == Status.OPTIMAL else bound
    seconds = time.perf_counter() - t0
    return (
        SolveResult(
            status=status,
            solver="highs",
            solver_version=version,
            objective=obj,
            bound=float(bound),
            gap=relative_gap(obj, float(bound)),
            seconds=seconds,
            limit=limit if status != Status.OPTIMAL else Limit.NONE,
            x=None,
            message="" if status == Status.OPTIMAL else "stopped before optimality was proven",
            stats={
                "lp_rounds": lp_rounds,
                "lp_bound": lp_bound,
                "milp_rounds": milp_rounds,
                "cuts": n_cuts,
                "fixed_closed": fixed0,
                "fixed_open": fixed1,
            },
        ),
        mask,
    )


def _cut_value_at(sep: _Separator, level: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Right side of the cuts at ``level`` (one per client) evaluated at ``y``."""
    below = sep.dist < level[:, None]
    val = level - np.sum(np.where(below, (level[:, None] - sep.dist) * y[sep.order], 0.0), axis=1)
    return level, val


def _nearest(d: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
    cols = np.flatnonzero(y > 0.5)
    return cols[np.argmin(d[:, cols], axis=1)]


def _row_lower(h: highspy.Highs) -> NDArray[np.float64]:
    lp = h.getLp()
    return np.asarray(lp.row_lower_)


def _highs_version() -> str:
    try:
        from importlib.metadata import version

        return f"highspy {version('highspy')}"
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return "highspy"
