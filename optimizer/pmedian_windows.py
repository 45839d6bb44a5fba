"""Window search for the p-median: re-place a few neighbouring medians of a plan exactly, by a small MILP.

With many medians (usa13509, p = 2000: about seven clients per median) the plan rounded from the
Benders LP and polished by swaps differs from the optimum in a few places, each a handful of
neighbouring medians arranged a little worse; no single swap mends that, and the restricted MILP
over all the plans' sites (:mod:`optimizer.pmedian_kernel`) is too large to finish. A *window*
re-optimises one such place: for an open new site s of the plan S,

* G: the open new sites serving the R clients nearest to s (s first; at most ``medians``), with
  R = ``medians`` times the clients per median;
* C: the clients served by a site of G;
* W: the ``near`` nearest candidate sites of each client of C, and G (sites not allowed left out);
* o_i: for each client of C, its distance to the nearest open site outside G (the sites that stay).

The best re-placement of G is the p-median over C and W with an outside option::

    min  sum_{i in C} w_i ( sum_{j in W_i} d_ij x_ij + o_i x_i0 )
    s.t. sum_{j in W_i} x_ij + x_i0 = 1     (i in C)
         x_ij <= y_j,   sum_{j in W} y_j <= |G|,   y binary,  x >= 0

where W_i lists the sites of W nearer to i than o_i (a farther one never serves i). Its optimum is
never worse than G itself (G is a solution), and a solution of value V gives the plan
(S - G) + chosen sites, whose value is at most V plus what the clients outside C pay now: the
clients outside C are served by sites outside G, which stay open. So a window whose optimum is
below the clients' current cost is a better plan; each is recounted exactly before it is taken.

Windows are visited around every open new site; after the first pass a site's window is solved
again only when a move changed a site near it (its window's clients reach that far). The search
finds plans, not bounds. (Taillard's POPMUSIC for the p-median works this way; the sub-problems
here are solved exactly by HiGHS.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
from numpy.typing import NDArray

from siting.optimizer.benders_highs import FEASIBLE, new_master_highs
from siting.optimizer.pmedian_kernel import assignment_lp
from siting.optimizer.progress import PROGRESS_SECONDS, Every
from siting.optimizer.result import SolveParams

Progress = Callable[[str], None]

#: open sites re-placed together in one window
MEDIANS = 8
#: each client's nearest candidate sites offered to the window
NEAR = 10
#: one window's MILP stops after this many seconds (its plan, if better, is still taken)
WINDOW_SECONDS = 2.0


class WindowSearch:
    """Window re-optimisation of p-median plans (module docstring).

    ``d`` (n, k): distances of the n clients (weights ``w``) to the k candidate sites; ``nearest``
    (n, >= near) each client's candidate sites by distance (the Benders separator's ``order``);
    ``existing`` (k,) sites always open; ``allowed`` (k,) new sites a plan may open.
    """

    def __init__(
        self,
        d: NDArray[np.floating],
        w: NDArray[np.float64],
        nearest: NDArray[np.integer],
        existing: NDArray[np.bool_],
        allowed: NDArray[np.bool_],
        params: SolveParams,
        medians: int = MEDIANS,
        near: int = NEAR,
    ) -> None:
        self.d, self.w, self.existing, self.allowed = d, w, existing, allowed & ~existing
        self.nearest = nearest[:, : max(1, min(near, nearest.shape[1]))]
        self.params, self.medians = params, max(2, int(medians))
        self.stats: dict[str, Any] = {"windows": 0, "window_moves": 0, "window_lp_closed": 0, "window_seconds": 0.0}

    def _serving(self, open_cols: NDArray[np.int64], rows: NDArray[np.int64] | None = None) -> tuple[Any, Any]:
        """Each client's (of ``rows``, all by default) nearest open site and its distance, in row blocks."""
        n = self.d.shape[0]
        rows = np.arange(n) if rows is None else rows
        site = np.empty(rows.size, dtype=np.int64)
        dist = np.empty(rows.size, dtype=np.float64)
        step = max(1, 4_000_000 // max(1, open_cols.size))
        for lo in range(0, rows.size, step):
            blk = self.d[np.ix_(rows[lo : lo + step], open_cols)]
            at = np.argmin(blk, axis=1)
            site[lo : lo + step] = open_cols[at]
            dist[lo : lo + step] = blk[np.arange(at.size), at]
        return site, dist

    def improve(
        self,
        y: NDArray[np.float64],
        deadline: float,
        say: Progress | None = None,
        focus: NDArray[np.bool_] | None = None,
    ) -> tuple[NDArray[np.float64], float]:
        """The best plan the windows reach from the plan ``y`` (k,) by ``deadline``, and its value.

        ``focus`` (k,): candidate sites where a better plan is likely (those an LP leaves
        fractional); the first pass then visits only the windows around them, the open sites serving
        their nearest clients. Default: every open new site."""
        t0 = time.perf_counter()
        say = say or (lambda _m: None)
        plan = (y > 0.5) | self.existing
        site, dist = self._serving(np.flatnonzero(plan))
        value = float(np.dot(self.w, dist))
        start_value = value
        n = self.d.shape[0]
        per_median = n / max(1, int((plan & ~self.existing).sum()))
        reach = max(self.medians, math.ceil(self.medians * per_median))
        dirty = plan & ~self.existing
        if focus is not None:
            near_focus = np.zeros_like(dirty)
            for f in np.flatnonzero(focus):
                near_focus[site[self._clients_near(int(f), max(1, math.ceil(per_median)))]] = True
            dirty &= near_focus
        ticks = Every(PROGRESS_SECONDS)
        passes = 0
        while dirty.any() and time.perf_counter() < deadline:
            passes += 1
            for s in map(int, np.flatnonzero(dirty)):
                if time.perf_counter() >= deadline:
                    break
                if not plan[s] or not dirty[s]:
                    continue
                if ticks.due():
                    say(
                        f"window search: {self.stats['windows']} windows solved, best {value:.10g}, "
                        f"{time.perf_counter() - t0:.0f} s"
                    )
                close = self._clients_near(s, reach)
                group = self._group(s, site[close])
                moved = self._window(group, plan, site, dist, deadline)
                self.stats["windows"] += 1
                if moved is None:
                    dirty[s] = False
                    continue
                gone, came = moved
                trial = plan.copy()
                trial[gone] = False
                trial[came] = True
                # clients served by a closed site, and those a new site is nearer to, change
                hit = np.isin(site, gone)
                if came.size:
                    hit |= np.min(self.d[:, came], axis=1) < dist
                rows = np.flatnonzero(hit)
                new_site, new_dist = site.copy(), dist.copy()
                new_site[rows], new_dist[rows] = self._serving(np.flatnonzero(trial), rows)
                new_value = float(np.dot(self.w, new_dist))
                if new_value >= value:  # the window's optimum is exact; this guards rounding only
                    dirty[s] = False
                    continue
                plan, site, dist, value = trial, new_site, new_dist, new_value
                self.stats["window_moves"] += 1
                # the windows of sites near a change are worth solving again
                for c in came:
                    dirty[np.unique(site[self._clients_near(int(c), reach)])] = True
                dirty &= plan & ~self.existing
        self.stats["window_seconds"] = round(self.stats["window_seconds"] + time.perf_counter() - t0, 3)
        self.stats["window_passes"] = passes
        if value < start_value:
            say(
                f"window search: {start_value:.10g} to {value:.10g} in {self.stats['window_moves']} moves, "
                f"{self.stats['windows']} windows, {time.perf_counter() - t0:.1f} s"
            )
        return plan.astype(np.float64), value

    def _clients_near(self, s: int, reach: int) -> NDArray[np.int64]:
        """The ``reach`` clients nearest to candidate site ``s``."""
        col = np.asarray(self.d[:, s], dtype=np.float64)
        reach = min(reach, col.size)
        return np.argpartition(col, reach - 1)[:reach].astype(np.int64)

    def _group(self, s: int, serving: NDArray[np.int64]) -> NDArray[np.int64]:
        """``s`` and the open new sites serving most of the clients near it, at most ``medians``."""
        sites, counts = np.unique(serving, return_counts=True)
        keep = ~self.existing[sites] & (sites != s)
        sites, counts = sites[keep], counts[keep]
        ranked = sites[np.argsort(-counts, kind="stable")][: self.medians - 1]
        return np.concatenate([[s], ranked]).astype(np.int64)

    def _window(
        self,
        group: NDArray[np.int64],
        plan: NDArray[np.bool_],
        site: NDArray[np.int64],
        dist: NDArray[np.float64],
        deadline: float,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
        """Solve the window of ``group``; (sites closed, sites opened) when that betters the plan."""
        clients = np.flatnonzero(np.isin(site, group))
        if clients.size == 0:
            return None
        stay = plan.copy()
        stay[group] = False
        stay_cols = np.flatnonzero(stay)
        if stay_cols.size:
            _, outside = self._serving(stay_cols, clients)
        else:
            outside = np.full(clients.size, np.inf)
        cand = np.union1d(np.unique(self.nearest[clients]), group)
        cand = cand[self.allowed[cand] & ~stay[cand]]
        now_cost = float(np.dot(self.w[clients], dist[clients]))
        best = self._solve(clients, cand, outside, group, now_cost, deadline)
        if best is None:
            return None
        chosen = cand[best]
        if np.array_equal(np.sort(chosen), np.sort(group)):
            return None
        return np.setdiff1d(group, chosen), np.setdiff1d(chosen, group)

    def _solve(
        self,
        clients: NDArray[np.int64],
        cand: NDArray[np.int64],
        outside: NDArray[np.float64],
        group: NDArray[np.int64],
        now_cost: float,
        deadline: float,
    ) -> NDArray[np.bool_] | None:
        """The window's MILP (module docstring); the chosen ``cand`` when its optimum beats ``now_cost``."""
        c, s = clients.size, cand.size
        dw = np.asarray(self.d[np.ix_(clients, cand)], dtype=np.float64)
        useful = dw < outside[:, None]
        ci, sj = np.nonzero(useful)
        npair = ci.size
        outs = np.flatnonzero(np.isfinite(outside))
        wc = self.w[clients]
        # columns: y (s), x pairs (npair), outside options (outs.size)
        lp = assignment_lp(
            c, s, ci, sj, wc[ci] * dw[ci, sj], np.ones(s, dtype=bool), group.size, outside_cost=wc * outside
        )
        h = new_master_highs(self.params)
        h.passModel(lp)
        # the LP relaxation first: most windows cannot improve, and their LP (usually tight) says so
        # in a fraction of the MILP's time (usa13509, p = 2000: 29 s for the search's 263 windows with
        # the MILP alone)
        h.setOptionValue("time_limit", max(0.05, min(WINDOW_SECONDS, deadline - time.perf_counter())))
        h.run()
        if h.getModelStatus() == highspy.HighsModelStatus.kOptimal and (
            h.getInfo().objective_function_value >= now_cost - 1e-9 * max(1.0, abs(now_cost))
        ):
            self.stats["window_lp_closed"] += 1
            return None
        h.changeColsIntegrality(s, np.arange(s, dtype=np.int32), np.full(s, highspy.HighsVarType.kInteger))
        h.setOptionValue("mip_rel_gap", 0.0)
        # the object's run clock counts the LP's run too
        h.setOptionValue("time_limit", h.getRunTime() + max(0.05, min(WINDOW_SECONDS, deadline - time.perf_counter())))
        # the group itself as the start: each client at its nearest site of the group or outside
        y0 = np.isin(cand, group).astype(np.float64)
        x0 = np.zeros(npair + outs.size)
        d_in = np.where(np.isin(cand, group)[None, :] & useful, dw, np.inf)
        at = np.argmin(d_in, axis=1)
        inside = np.isfinite(d_in[np.arange(c), at])
        pair_of = np.full((c, s), -1, dtype=np.int64)
        pair_of[ci, sj] = np.arange(npair)
        x0[pair_of[np.flatnonzero(inside), at[inside]]] = 1.0
        out_pos = np.full(c, -1, dtype=np.int64)
        out_pos[outs] = npair + np.arange(outs.size)
        x0[out_pos[~inside]] = 1.0  # a client no group site serves nearer has its outside site
        if (out_pos[~inside] >= 0).all():
            hs = highspy.HighsSolution()
            hs.col_value = list(np.concatenate([y0, x0]))
            hs.value_valid = True
            h.setSolution(hs)
        h.run()
        if h.getInfo().primal_solution_status != FEASIBLE:
            return None
        if h.getInfo().objective_function_value >= now_cost - 1e-9 * max(1.0, abs(now_cost)):
            return None
        return np.asarray(h.getSolution().col_value)[:s] > 0.5
