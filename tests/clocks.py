"""A clock the tests move by hand, and a time budget already spent on it.

Time-limit tests built on these cannot pass vacuously and do not depend on the machine's speed:
a stage handed a spent budget must stop on its time limit even where, without the deadline, it
would prove optimality in milliseconds.
"""

from __future__ import annotations

from siting.optimizer.deadline import Deadline
from siting.optimizer.result import SolveParams


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def spent(time_limit: float = 60.0, mip_gap: float = 1e-6) -> SolveParams:
    """Parameters whose shared budget (``time_limit`` seconds) was used up by earlier stages."""
    clock = FakeClock()
    return SolveParams(time_limit=time_limit, mip_gap=mip_gap, deadline=Deadline(at=clock.now - 1.0, clock=clock))
