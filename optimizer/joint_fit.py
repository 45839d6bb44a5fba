"""What a joint greedy may still open: the budgets, room and count limits of the (service, plot) pairs.

Both greedy starts of the joint model (:func:`optimizer.joint.greedy_plan_full`, which rescores
every pair at each insertion, and :func:`optimizer.joint_greedy.lazy_greedy_plan`, which rescores
lazily) insert pairs under the same limits; :class:`PairBudget` holds that state once.

A pair k = (s, j) fits when the pair is still closed, plot j has room for service s's area, service
s is below its ``max_sites``, its cost keeps service s within its budget and the plan within the
total budget, and some phase t still has budget for it (:func:`earliest_phase`; with carry-over the
unspent budget of earlier phases counts). Opening k in phase t spends its cost in t.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from siting.models.formulations.joint import JointLayout
from siting.models.multiservice import MultiServiceInstance


def earliest_phase(
    pcost: NDArray[np.float64], spent: NDArray[np.float64], inst: MultiServiceInstance, Tm: int
) -> NDArray[np.int64]:
    """Earliest model phase in which each pair still fits the phase budgets (-1: none)."""
    if inst.phase_budgets is None:
        return np.zeros(pcost.size, dtype=np.int64)
    pb = inst.phase_budgets[:Tm]
    tol = 1e-9 * max(1.0, float(np.max(np.where(np.isfinite(pb), pb, 0.0), initial=0.0)))
    if inst.carry_over:
        slack = np.cumsum(pb) - np.cumsum(spent)
        sm = np.minimum.accumulate(slack[::-1])[::-1]  # non-decreasing in t
        t = np.searchsorted(sm, pcost - tol, side="left")
        return np.where(t < Tm, t, -1).astype(np.int64)
    ok = (pb - spent)[None, :] >= pcost[:, None] - tol
    return np.where(ok.any(axis=1), np.argmax(ok, axis=1), -1).astype(np.int64)


class PairBudget:
    """The limits a greedy plan of ``layout``'s pairs must keep, and the plan it has built so far."""

    def __init__(self, inst: MultiServiceInstance, layout: JointLayout) -> None:
        self.inst = inst
        self.Tm = layout.n_phases
        self.ps, self.pj = layout.pair_service, layout.pair_site
        self.P = self.ps.size
        self.plan = np.full((inst.S, inst.m), -1, dtype=np.int8)
        self.pcost = inst.cost_matrix[self.ps, self.pj]
        self.parea = inst.areas[self.ps]
        self.room = inst.room.copy()
        self.count = np.zeros(inst.S)
        self.spend_s = np.zeros(inst.S)
        self.spent = np.zeros(self.Tm)
        self.total = 0.0
        self.B = math.inf if inst.total_budget is None else float(inst.total_budget)
        self.Bs = np.array([math.inf if s.budget is None else float(s.budget) for s in inst.services])
        self.maxs = np.array([math.inf if s.max_sites is None else float(s.max_sites) for s in inst.services])
        self.active = np.ones(self.P, dtype=bool)
        self.tol = 1e-9 * max(1.0, float(self.pcost.max(initial=0.0)))

    def fits(self, k: NDArray[np.int64] | None = None) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """(whether each pair of ``k`` (all pairs: None) fits, its earliest phase)."""
        k = np.arange(self.P, dtype=np.int64) if k is None else k
        s = self.ps[k]
        ok = (
            self.active[k]
            & (self.room[self.pj[k]] >= self.parea[k] - 1e-9)
            & (self.count[s] < self.maxs[s])
            & (self.spend_s[s] + self.pcost[k] <= self.Bs[s] + self.tol)
            & (self.total + self.pcost[k] <= self.B + self.tol)
        )
        ph = earliest_phase(self.pcost[k], self.spent, self.inst, self.Tm)
        return ok & (ph >= 0), ph

    def take(self, k: int, t: int) -> tuple[int, int]:
        """Open pair ``k`` in phase ``t``; returns its (service, plot)."""
        s, j = int(self.ps[k]), int(self.pj[k])
        self.plan[s, j] = t
        self.active[k] = False
        self.room[j] -= self.parea[k]
        self.count[s] += 1
        self.spend_s[s] += self.pcost[k]
        self.spent[t] += self.pcost[k]
        self.total += float(self.pcost[k])
        return s, j

    def fill_min_sites(self, take: Callable[[int, int], object]) -> None:
        """Each service short of its ``min_sites`` gets its cheapest fitting pairs (opened by ``take``)."""
        for s, svc in enumerate(self.inst.services):
            while self.count[s] < svc.min_sites:
                ok, ph = self.fits()
                cand = ok & (self.ps == s)
                if not cand.any():
                    break
                k = int(np.argmin(np.where(cand, self.pcost, np.inf)))
                take(k, int(ph[k]))


__all__ = ["PairBudget", "earliest_phase"]
