"""The p-median Benders master (M) on one HiGHS object: its cuts, bounds and Kelley cut loop.

(M) is ``min sum_i w_i theta_i`` over ``y`` in [0, 1]^k with ``sum_j y_j <= p`` (1), existing
sites fixed open, and the radius cuts (B) ``theta_i >= l - sum_{j: d_ij < l} (l - d_ij) y_j`` of
client ``i`` at a level ``l`` (one of its distinct distances); ``theta_i >= d_i1`` (4). The cuts are
found by :class:`~optimizer.pmedian_separator.RadiusSeparator`; this module keeps them in the
HiGHS model, fixes sites by reduced costs (``tidy``), drops closed columns (``compact``,
``refresh``) and runs the cutting-plane loop of the LP (``cut_loop``). The solve itself is
:func:`optimizer.benders_pmedian.solve_pmedian_benders`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
from numpy.typing import NDArray

from siting.optimizer.pmedian_separator import RadiusSeparator

Progress = Callable[[str], None]
_INF = highspy.kHighsInf
_MS = highspy.HighsModelStatus


@dataclass
class Loop:
    """Outcome of a cutting-plane loop: LP bound, best V at a feasible point, rounds, status."""

    bound: float
    upper: float
    rounds: int
    status: str  # "converged", "stalled", "above", "below", "rounds", "time", "infeasible", "error", "proven"
    fixed_closed: int = 0  # sites fixed by reduced costs during the loop (``fix_at``)
    fixed_open: int = 0


class Master:
    """The master problem (M) on one Highs object, with the bookkeeping of its cuts.

    Columns 0..k-1 are y, k..k+n-1 are theta; row 0 is the cardinality row (1), every other row
    a cut (B) identified by ``client * D + rank of its level among the D distinct distances``.
    """

    def __init__(
        self,
        h: highspy.Highs,
        sep: RadiusSeparator,
        w: NDArray[np.float64],
        existing: NDArray[np.bool_],
        p: int,
        lp_tol: float,
    ) -> None:
        self.h, self.sep, self.w, self.lp_tol = h, sep, w, lp_tol
        self.n, self.k = sep.dist.shape[0], sep.k
        n, k = self.n, self.k
        empty_i, empty_f = np.zeros(0, dtype=np.int32), np.zeros(0)
        h.addCols(k, np.zeros(k), np.where(existing, 1.0, 0.0), np.ones(k), 0, empty_i, empty_i, empty_f)  # (3)
        h.addCols(n, w, sep.dist[:, 0].copy(), np.full(n, _INF), 0, empty_i, empty_i, empty_f)  # (4)
        new_cols = np.flatnonzero(~existing).astype(np.int32)
        h.addRow(-_INF, float(p), len(new_cols), new_cols, np.ones(len(new_cols)))  # (1)
        self.lo = np.where(existing, 1.0, 0.0)
        self.hi = np.ones(k)
        # a cut is identified by its client and its level: keys[r] is that of row r + 1
        self.keys: list[tuple[int, float]] = []
        self.seen: set[tuple[int, float]] = set()
        self.n_cuts = 0
        self.closed_written = 0  # closed columns when the cuts were last written (see refresh)
        self.y = np.zeros(k)
        self.theta = np.zeros(n)
        self.obj = -np.inf

    @property
    def closed(self) -> NDArray[np.bool_]:
        return self.hi < 0.5

    @property
    def free(self) -> NDArray[np.bool_]:
        return self.lo < self.hi

    def set_bounds(
        self,
        cols: NDArray[np.int64],
        lo: NDArray[np.float64] | float,
        hi: NDArray[np.float64] | float,
        keep: bool = True,
    ) -> None:
        """Change y bounds in HiGHS; ``keep`` records them as the fixings of (M)."""
        cols = np.asarray(cols, dtype=np.int32)
        lo_, hi_ = np.broadcast_to(lo, cols.shape).astype(float), np.broadcast_to(hi, cols.shape).astype(float)
        self.h.changeColsBounds(len(cols), cols, lo_, hi_)
        if keep:
            self.lo[cols], self.hi[cols] = lo_, hi_

    def add_cuts(self, clients: NDArray[np.int64], level: NDArray[np.float64]) -> int:
        """Add cuts (B) for these clients at these levels, skipping cuts already in (M)."""
        pairs = list(zip(clients.tolist(), np.asarray(level, dtype=np.float64).tolist()))
        fresh_at: dict[tuple[int, float], int] = {}
        for at, key in enumerate(pairs):
            if key not in self.seen and key not in fresh_at:
                fresh_at[key] = at
        if not fresh_at:
            return 0
        pick = np.fromiter(fresh_at.values(), dtype=np.int64, count=len(fresh_at))
        keys = list(fresh_at)
        clients, level = clients[pick], np.asarray(level, dtype=np.float64)[pick]
        starts, cols, vals = self.sep.cut_rows(clients, level, self.closed)
        # theta_i + sum_{d_ij < L} (L - d_ij) y_j >= L                                   (2)
        self.h.addRows(len(clients), level, np.full(len(clients), _INF), len(cols), starts, cols, vals)
        self.keys += keys
        self.seen.update(keys)
        self.n_cuts += len(clients)
        return len(clients)

    def value(self, y: NDArray[np.float64]) -> float:
        """``V(y) = sum_i w_i rhs_i(y)`` at the deepest cuts: the LP relaxation value at ``y``."""
        return float(np.dot(self.w, self.sep.rhs(self.sep.levels(y), y)))

    def compact(self) -> None:
        """Drop the closed columns from the separator once they are a quarter of it."""
        if self.closed[self.sep.order[0]].sum() * 4 >= self.sep.order.shape[1] and not self.closed.all():
            self.sep = self.sep.restrict(~self.closed)

    def refresh(self) -> bool:
        """Rewrite every cut without the columns closed since it was written, once they are a quarter.

        A closed column adds nothing to a cut (y_j = 0), but it stays in the cut's row and every
        simplex iteration pays for it; rewritten from its key (client, level) the cut is the same
        inequality on the columns still open. The basis is lost, so only when it pays.
        """
        closed = int(self.closed.sum())
        if (closed - self.closed_written) * 4 < self.k - self.closed_written or self.h.getNumRow() <= 1:
            return False
        keys = self.keys
        self.h.deleteRows(len(keys), np.arange(1, len(keys) + 1, dtype=np.int32))
        self.keys, self.seen = [], set()
        n_cuts = self.n_cuts
        self.add_cuts(np.array([c for c, _ in keys], dtype=np.int64), np.array([lv for _, lv in keys]))
        self.n_cuts = n_cuts
        self.closed_written = closed
        return True

    def cut_at(self, y: NDArray[np.float64]) -> int:
        """Add the deepest cut (B) of every client at an integer ``y``."""
        return self.add_cuts(np.arange(self.n), self.sep.levels(y))

    def tidy(self, bound: float, threshold: float, drop: bool = True, max_free: float = np.inf) -> tuple[int, int]:
        """Reduced-cost fixing and cut clean-up at the last LP optimum (of value ``bound``).

        Moving y_j from the bound where the LP has it costs at least its reduced cost |r_j|:
        y_j is fixed there when ``bound + |r_j| > threshold``. Cuts slack at the LP optimum
        are deleted if ``drop``. Nothing is fixed when more than ``max_free`` sites would stay
        free. Returns the numbers of sites fixed to 0 and to 1.
        """
        sol = self.h.getSolution()
        rc = np.asarray(sol.col_dual)[: self.k]
        slack = np.zeros(0, dtype=np.int64)
        if drop:  # (getLp copies the whole LP: only when cuts are to be dropped)
            act = np.asarray(sol.row_value)[1:]
            lower = np.asarray(self.h.getLp().row_lower_)[1:]
            slack = np.flatnonzero(act > lower + 1e-6 * np.maximum(1.0, np.abs(lower)))
        if slack.size:
            self.h.deleteRows(len(slack), (slack + 1).astype(np.int32))
            gone = set(slack.tolist())
            self.seen.difference_update(self.keys[r] for r in gone)
            self.keys = [key for r, key in enumerate(self.keys) if r not in gone]
        free = self.free
        zero = free & (self.y < 1e-9) & (bound + rc > threshold)
        one = free & (self.y > 1 - 1e-9) & (bound - rc > threshold)
        if int(free.sum() - zero.sum() - one.sum()) > max_free:
            return 0, 0
        if zero.any():
            self.set_bounds(np.flatnonzero(zero), 0.0, 0.0)
        if one.any():
            self.set_bounds(np.flatnonzero(one), 1.0, 1.0)
        return int(zero.sum()), int(one.sum())

    def solve(self, deadline: float, cutoff: float = np.inf, on: highspy.Highs | None = None) -> str:
        """Solve the current master; "optimal", "infeasible", "above", "time" or "error".

        With a finite ``cutoff`` (LP only) the dual simplex stops as soon as its dual objective,
        a valid lower bound of the LP at a dual feasible basis, exceeds it: "above". ``on``: solve
        on that HiGHS object (a copy of the master, see :meth:`integer_copy`) instead of the LP's.
        """
        h = self.h if on is None else on
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return "time"
        # always set both: an earlier capped or cut-off solve must not leave its limit behind. HiGHS
        # (before 2.0) compares time_limit with its run clock summed over every run() of this object:
        # a bare ``remaining`` stopped the LP phase of a 5,000 x 1,000 instance at half its time.
        limit = h.getRunTime() + float(remaining) if np.isfinite(remaining) else _INF
        h.setOptionValue("time_limit", limit)
        h.setOptionValue("objective_bound", float(cutoff) if np.isfinite(cutoff) else _INF)
        h.run()
        ms = h.getModelStatus()
        if ms == _MS.kObjectiveBound:
            return "above"
        if ms == _MS.kOptimal:
            x = np.asarray(h.getSolution().col_value)
            self.y, self.theta = x[: self.k], x[self.k :]
            self.obj = float(h.getInfo().objective_function_value)
            return "optimal"
        if ms == _MS.kInfeasible:
            return "infeasible"
        # an interrupt comes only from the MILP's own clock watch (see solve_pmedian_benders)
        return "time" if ms in (_MS.kTimeLimit, _MS.kInterrupt) else "error"

    def integer_copy(self, h: highspy.Highs, cols: NDArray[np.int32]) -> highspy.Highs:
        """The master as it stands (cuts and bounds) passed to the fresh HiGHS object ``h``, with the
        sites ``cols`` integer.

        A MILP runs on a copy whose run clock starts at 0. HiGHS gives each sub-MIP of its primal
        heuristics the time limit less the MIP's own solve clock, so on the LP's object (whose run
        clock, and so its limit, sums every earlier run) a sub-MIP was allowed all of that time: it
        overran the deadline by 10-17 s on a 5,000 x 1,000 instance, where the interrupt callback
        does not reach it. The LP's object keeps its basis for the cut loops that follow.
        """
        h.passModel(self.h.getLp())
        basis = self.h.getBasis()
        if basis.valid:  # the LP's last basis, for the MILP's root LP
            h.setBasis(basis)
        h.changeColsIntegrality(len(cols), cols, np.full(len(cols), highspy.HighsVarType.kInteger))
        return h

    def cut_loop(
        self,
        deadline: float,
        above: float = np.inf,
        below: float = -np.inf,
        core: NDArray[np.float64] | None = None,
        alpha: float = 0.5,
        max_rounds: int = 2000,
        report: Progress | None = None,
        fix_at: float = np.inf,
        stall_rounds: int = 0,
        stall_free: int = 0,
        stall_share: float = 0.02,
    ) -> Loop:
        """Kelley rounds on the LP of (M) until no cut is violated (or a stop rule fires).

        Stops with "above" once the LP bound exceeds ``above`` and with "below" once ``V`` at
        an LP-feasible point is at most ``below``. With a ``core`` point (feasible for the
        current bounds), cuts are separated in-out at ``alpha * core + (1 - alpha) * y_lp``;
        when none of them cuts off the LP point the separation point becomes the new core and
        the LP point itself is separated.

        With a finite ``fix_at`` (only for the master over its own fixings, never inside a probe),
        reduced-cost fixing runs at every round's LP optimum, not only at the last, as soon as it
        leaves at most ``stall_free`` sites free: the master with the cuts so far is a relaxation
        of (M), so its value plus ``|r_j|`` bounds every plan
        with y_j moved, and a site whose bound exceeds ``fix_at`` (UB - delta) is fixed where the
        LP has it. The LP point stays optimal (it agrees with the fixings). Measured on rl1304,
        p = 200: the first LP is 2.6 below the optimum and closes in 128 rounds of a few cuts each,
        while the first round's reduced costs already fix all but a few sites. While many sites
        would stay free the LP path is left as it was: fixing early there moved the LP to other
        optima whose final reduced costs fixed fewer sites (p = 10: 867 against 930, 51 CPU s
        against 39 side by side).

        With ``stall_rounds`` > 0 the loop stops with "stalled" (an LP optimum, as "converged")
        when the bound rose by less than ``stall_share`` of the gap to ``fix_at`` over that many rounds
        and at most ``stall_free`` sites are still free: a tailing LP is left to the MILP, which
        closes a small gap over a few free sites faster (rl1304, p = 200: 12 rounds instead of
        128). With many free sites (p = 100: 620) the LP's cuts are what the MILP needs, so it goes on.
        """
        bound, upper = -np.inf, np.inf
        history: list[float] = []
        fixed = [0, 0]
        for rounds in range(1, max_rounds + 1):
            st = self.solve(deadline, cutoff=above)
            if st == "above":  # the dual simplex proved the LP worth more than ``above``
                return Loop(above, upper, rounds, "above")
            if st != "optimal":
                return Loop(np.inf if st == "infeasible" else bound, upper, rounds, st)
            bound = max(bound, self.obj)
            if np.isfinite(fix_at):
                z, o = self.tidy(self.obj, fix_at, drop=False, max_free=stall_free)
                fixed[0] += z
                fixed[1] += o
                if core is not None and z:
                    core = np.where(self.closed, 0.0, core)  # the core stays feasible for the fixings
            if report is not None:  # upper: the best V so far (from the rounds before)
                report(
                    f"benders LP round {rounds}: LP {bound:.8g}, upper {upper:.8g}, cuts {self.h.getNumRow() - 1}"
                    + (f", {int(self.free.sum())} free sites" if np.isfinite(fix_at) else "")
                )
            if bound > above:
                return Loop(bound, upper, rounds, "above", *fixed)
            history.append(bound)
            if (
                stall_rounds > 0
                and np.isfinite(fix_at)
                and len(history) > stall_rounds
                and int(self.free.sum()) <= stall_free
                and bound - history[-1 - stall_rounds] < stall_share * max(fix_at - bound, 0.0)
            ):
                return Loop(bound, upper, rounds, "stalled", *fixed)
            found = 0
            points = [self.y] if core is None else [alpha * core + (1 - alpha) * self.y, self.y]
            for y_sep in points:
                level = self.sep.levels(y_sep)
                upper = min(upper, float(np.dot(self.w, self.sep.rhs(level, y_sep))))
                # stop rules are checked before any row is added: the LP solution stays valid
                if upper <= below:
                    return Loop(bound, upper, rounds, "below", *fixed)
                if upper - bound <= self.lp_tol * max(1.0, abs(upper)):
                    return Loop(bound, upper, rounds, "converged", *fixed)
                at_lp = self.sep.rhs(level, self.y)
                viol = np.flatnonzero(at_lp > self.theta + self.lp_tol * np.maximum(1.0, np.abs(at_lp)))
                if viol.size:
                    found = self.add_cuts(viol, level[viol])
                    break
                if core is not None:
                    core = y_sep  # in-out rule: a mis-priced separation point moves the core
            if not found:
                return Loop(bound, upper, rounds, "converged", *fixed)
        return Loop(bound, upper, max_rounds, "rounds", *fixed)
