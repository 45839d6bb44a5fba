"""Whether a probing pass of the p-median Benders can finish before the deadline.

A probing pass (:mod:`optimizer.benders_pmedian`, step 3) runs one LP cut loop per free site. On a
large instance it can need far more time than is left: usa13509, p = 2,000 has 13,234 free sites at
about 0.1 s a probe, about 1,300 s, with 340 s left, and none of the probes it made fixed a site.
The time is better spent in the master MILP rounds: the same run with no probing ended with the gap
0.004 % against 0.018 % (one run each, 375 s limit), and with this forecast (the pass stopped after
80 s and 1,220 probes) with 0.005 %. On the random 5,000 x 1,000, p = 30, the probes take about 4 s
each and 1,080 were to run, with 77 s left (there the MILP round moved nothing either).

The pace of a pass is not steady, though: the re-solves of the global LP within it close many
sites at once. On pcb3038, p = 20 a pass made 13 probes in its first 11 s, then the free sites fell
from 549 to 83 in 21 s and the pass ended at 88 s. So the work left is counted as the sites still
free among the probes not yet reached, and the pace as the fall of that count per second over the
later half of the pass so far (which sees the refreshes once they start to pay). A pass is cut
short only once it has run PASS_MIN_SHARE of the time it had, and only when, at that pace, it would
need PASS_OVERRUN times the time left.
"""

from __future__ import annotations

import math

#: A pass is judged only after it has run this share of the time left when it started.
PASS_MIN_SHARE = 0.25
#: ... and cut short when, at its recent pace, it would need this many times the time left.
PASS_OVERRUN = 2.0


class PassForecast:
    """The projection of one probing pass: call :meth:`outlasts` now and then with the work left.

    ``started``, ``deadline`` and the times given to :meth:`outlasts` are on one clock
    (``time.perf_counter``); ``remaining`` is the number of probes still to make at the start.
    """

    def __init__(self, started: float, deadline: float, remaining: int) -> None:
        self.started = started
        self.deadline = deadline
        self.samples: list[tuple[float, int]] = [(started, remaining)]

    def pace(self, now: float, remaining: int) -> float:
        """Probes done (or made needless) per second over the later half of the pass so far: from
        the latest sample at or before its midpoint to (now, remaining)."""
        mid = self.started + (now - self.started) / 2.0
        t_half, r_half = self.samples[0]
        for t, r in self.samples:
            if t > mid:
                break
            t_half, r_half = t, r
        if now <= t_half:
            return math.inf
        return (r_half - remaining) / (now - t_half)

    def outlasts(self, now: float, remaining: int) -> bool:
        """Record ``remaining`` probes at ``now``; True when the pass should stop (module docstring)."""
        rate = self.pace(now, remaining)
        self.samples.append((now, remaining))
        if remaining <= 0 or not math.isfinite(self.deadline):
            return False
        if now - self.started < PASS_MIN_SHARE * (self.deadline - self.started):
            return False
        left = self.deadline - now
        if rate <= 0.0:
            return True  # nothing moved in half the pass: it cannot finish at this pace
        return remaining / rate > PASS_OVERRUN * left
