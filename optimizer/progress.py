"""When a long phase says how far it is: one line every ``PROGRESS_SECONDS`` at most.

Subgradient runs, probing passes, window searches and the master MILPs run for minutes at city
scale; each asks an :class:`Every` whether a progress line is due, so the period is one setting.
"""

from __future__ import annotations

import time

#: seconds between two progress lines of one long phase
PROGRESS_SECONDS = 10.0


class Every:
    """``due()`` is True at most once every ``period`` seconds, the first time ``period`` seconds
    after ``start`` (default: now)."""

    def __init__(self, period: float, start: float | None = None) -> None:
        self.period = period
        self.next_at = (time.perf_counter() if start is None else start) + period

    def due(self) -> bool:
        now = time.perf_counter()
        if now < self.next_at:
            return False
        self.next_at = now + self.period
        return True
