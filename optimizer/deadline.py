"""One wall-clock budget shared by every stage of a command.

``--time-limit`` is a limit on everything that happens after the input is read: model building,
heuristics, warm starts, every solver call, Benders rounds, tie-break stages, alternatives and
sweep points. A :class:`Deadline` is created once (when the input has been read) and travels in
:class:`~optimizer.result.SolveParams`; each stage asks it how much time is left instead of
reading the original limit, so stages never add up to more than the budget.

The clock is monotonic (``time.monotonic``): a change of the system clock does not move it.

Inside one solve, a side task (a primal step of the exact p-median) keeps to a share of the time
the solve has run so far: :class:`ElapsedShare`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


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


class ElapsedShare:
    """The allowance of a side task inside a longer solve: ``share`` of the time elapsed since it was
    created, less what it has spent so far.

    A primal step (swap search from the master's plans, the kernel search) that may take, say, a fifth
    of the solve keeps to it whatever the solve's length: after t seconds it has spent at most
    ``share * t`` plus its last call's overrun. ``clock`` is ``time.perf_counter`` (tests pass a fake one).
    """

    def __init__(self, share: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.share, self.clock = share, clock
        self.t0 = clock()
        self.seconds = 0.0  # spent so far

    def allowed(self) -> float:
        """Seconds the task may spend now (negative once it is ahead of its share)."""
        return self.share * (self.clock() - self.t0) - self.seconds

    def charge(self, since: float) -> None:
        """Count the time from the clock reading ``since`` to now as spent."""
        self.seconds += self.clock() - since


def run_bounded(
    target: Callable[[], object],
    remaining: float | None,
    interrupt: Callable[[], object] | None = None,
    grace: float = 1.0,
) -> bool:
    """Run ``target()`` (a solver call that releases the GIL) and return by the deadline.

    In-process solvers check their own time limit only now and then: HiGHS's presolve ran 20 s
    past a 15 s limit on a 100,000-point MCLP, SCIP 30 % over. The call runs in a daemon thread;
    when ``remaining`` seconds have passed, ``interrupt()`` asks the solver to stop, and if it has
    not stopped ``grace`` seconds later the call is abandoned: the thread finishes on its own (the
    solver's own time limit is set, so it does) and its result is ignored.

    Returns True when ``target`` finished (its exception, if any, is raised here), False when it
    was abandoned.
    """
    import threading

    if remaining is None:
        target()
        return True
    error: list[BaseException] = []

    def body() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            error.append(exc)

    worker = threading.Thread(target=body, name="siting-solver", daemon=True)
    worker.start()
    worker.join(max(remaining, 0.0))
    if worker.is_alive() and interrupt is not None:
        interrupt()
    worker.join(grace)
    if worker.is_alive():
        _abandon(worker)
        return False
    if error:
        raise error[0]
    return True


_ABANDONED: list[Any] = []


def _abandon(worker: Any) -> None:
    """Remember a solver thread left running, and make the process exit without waiting for it.

    A daemon thread still inside C++ when the interpreter finalises aborts the process
    ("terminate called without an active exception", exit code 134) after the results were
    written. While such a thread is alive, ``sys.exit`` and the end of the program leave through
    ``os._exit`` with the intended exit code instead (stdout and stderr flushed first).
    """
    import atexit
    import sys

    _ABANDONED.append(worker)
    if len(_ABANDONED) > 1:
        return
    plain_exit = sys.exit

    def exit_now(code: Any = None) -> None:
        if not any(t.is_alive() for t in _ABANDONED):
            plain_exit(code)
        _leave(code)

    sys.exit = exit_now  # type: ignore[assignment]
    atexit.register(lambda: _leave(1 if hasattr(sys, "last_value") else 0, only_if_alive=True))


def _leave(code: Any, only_if_alive: bool = False) -> None:
    import os
    import sys

    if only_if_alive and not any(t.is_alive() for t in _ABANDONED):
        return
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(status)
