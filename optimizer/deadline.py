"""One wall-clock budget shared by every stage of a command.

``--time-limit`` is a limit on everything that happens after the input is read: model building,
heuristics, warm starts, every solver call, Benders rounds, tie-break stages, alternatives and
sweep points. A :class:`Deadline` is created once (when the input has been read) and travels in
:class:`~optimizer.result.SolveParams`; each stage asks it how much time is left instead of
reading the original limit, so stages never add up to more than the budget.

The clock is monotonic (``time.monotonic``): a change of the system clock does not move it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadline:
    """An absolute point in time on a monotonic clock; ``at = inf`` means no limit.

    Attributes
    ----------
    at : the clock reading at which the budget is spent.
    clock : the clock (``time.monotonic``; tests pass a fake one).
    """

    at: float = math.inf
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now (``None``: never)."""
        if seconds is None:
            return cls(math.inf, clock)
        return cls(clock() + max(float(seconds), 0.0), clock)

    @property
    def limited(self) -> bool:
        return math.isfinite(self.at)

    def remaining(self) -> float | None:
        """Seconds left (never negative), or ``None`` without a limit."""
        if not self.limited:
            return None
        return max(self.at - self.clock(), 0.0)

    def expired(self) -> bool:
        """True once the budget is spent."""
        return self.limited and self.clock() >= self.at

    def share(self, fraction: float) -> float | None:
        """``fraction`` of what is left (a stage that must leave time for the ones after it)."""
        left = self.remaining()
        return None if left is None else fraction * left
