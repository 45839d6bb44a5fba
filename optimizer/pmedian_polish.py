"""Swap local search from the p-median Benders master's plans (the exact path's primal side).

The plans of a master MILP round (its optimum and the integer points HiGHS visited) are plans of
the whole problem whose cuts may still understate their true cost; they are often a few swaps
from a better plan than the incumbent. On pcb3038, p = 500 the heuristic start stayed 16 above
the optimum while the master bound reached the optimum: the proof then waits for a plan, not for
a bound. :class:`Polisher` runs the fast interchange
(:func:`optimizer.heuristics.interchange.interchange_pmedian`) from the best of them.

It keeps the distance table of the heuristics: dense where it fits, and where the Benders
separator stores only each client's ``width`` nearest sites (usa13509: 13,509 x 13,509) on the
instance truncated the same way (:func:`optimizer.pmedian_start.truncated_instance`), whose plans
are plans of the whole instance (their true value is measured there). It spends at most
``share`` of the time elapsed, and polishes each plan once.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from siting.models.instance import SitingInstance
from siting.optimizer.deadline import ElapsedShare
from siting.optimizer.heuristics.greedy import DistanceTable
from siting.optimizer.heuristics.interchange import interchange_pmedian
from siting.optimizer.pmedian_start import truncated_instance

#: The polisher may spend this share of the exact solve's elapsed time ...
POLISH_SHARE = 0.2
#: ... on at most this many of each MILP round's plans (the best by their true value).
POLISH_PLANS = 3


class Polisher:
    """Local search from master plans of ``instance`` (p new sites), within a time share.

    ``cand`` are the instance's columns the master's ``y`` refers to (its candidate sites); with a
    ``width`` the search runs on each client's ``width`` nearest sites (built at the first call).
    """

    def __init__(
        self,
        instance: SitingInstance,
        p: int,
        cand: NDArray[np.int64],
        share: float | None = None,
        width: int | None = None,
    ) -> None:
        self.instance, self.p, self.cand, self.width = instance, p, cand, width
        self.budget = ElapsedShare(POLISH_SHARE if share is None else share)
        self.polished = 0
        self._seen: set[bytes] = set()
        self._table: DistanceTable | None = None

    @property
    def seconds(self) -> float:
        """Seconds spent polishing so far."""
        return self.budget.seconds

    def improve(self, y: NDArray[np.float64], deadline: float) -> NDArray[np.float64] | None:
        """A local optimum reached from the integer plan ``y`` (over ``cand``), or None when this plan
        was polished before, the time share is spent or the deadline is near. Existing sites stay
        open and at most ``p`` new sites are open, as in ``y``."""
        key = np.packbits(y > 0.5).tobytes()
        now = time.perf_counter()
        allowed = self.budget.allowed()
        if key in self._seen or allowed < 0.0 or deadline - now < 1.0:
            return None
        self._seen.add(key)
        mask = np.zeros(self.instance.m, dtype=bool)
        mask[self.cand[y > 0.5]] = True
        if self._table is None:
            if self.width is not None:
                self.instance = truncated_instance(self.instance, self.width)
            self._table = DistanceTable(self.instance)
        out = interchange_pmedian(
            self.instance,
            mask,
            p=self.p,
            # the share left (at least a second), and never more than half the time left
            time_limit=max(0.0, min(deadline - now - 0.5, 0.5 * (deadline - now), max(1.0, allowed))),
            table=self._table,
        )
        self.budget.charge(now)
        self.polished += 1
        return out[self.cand].astype(np.float64)


def rounded_plans(
    y_lp: NDArray[np.float64], held: NDArray[np.bool_], p: int, seed: int, count: int = POLISH_PLANS
) -> list[NDArray[np.float64]]:
    """Integer plans read off an LP point: the ``p`` sites the LP opens most, then ``count - 1``
    random roundings (``p`` sites drawn without replacement, each with probability proportional to
    its LP value). Sites in ``held`` (existing ones) stay open. After a weak start they lead the
    polisher to a plan good enough for reduced-cost fixing (from the worst start on the tests'
    120-150 point instances, to within 0.1 % of the LP bound); after a strong start they rarely improve it (pcb3038,
    p = 50: the start stayed best), and cost a polish or three."""
    y = np.clip(np.where(held, 0.0, y_lp), 0.0, 1.0)
    free = np.flatnonzero(~held)
    p = min(p, free.size)
    plans = []
    top = np.zeros(y.size)
    top[held] = 1.0
    top[free[np.argsort(-y[free], kind="stable")[:p]]] = 1.0
    plans.append(top)
    rng = np.random.default_rng(seed)
    weight = y[free] + 1e-12  # every free site may be drawn: the LP may open fewer than p in full
    for _ in range(count - 1):
        plan = np.zeros(y.size)
        plan[held] = 1.0
        plan[rng.choice(free, size=p, replace=False, p=weight / weight.sum())] = 1.0
        plans.append(plan)
    return plans
