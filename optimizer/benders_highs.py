"""HiGHS objects for the Benders p-median master: made quietly, configured like the backend's, watched.

The master needs ``highspy.Highs`` itself (its MIP-solution and interrupt callbacks live in the
Python wrapper), whose constructor prints a banner on C-level stdout: :func:`new_master_highs`
silences it, then applies the ``highs`` backend's options (and its rejection of bad ones).
:func:`interrupt_watch` stops a MILP run at a clock reading the caller may move between runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import highspy

from siting.optimizer.progress import Every
from siting.optimizer.result import SolveParams


@contextmanager
def quiet_stdout() -> Iterator[None]:
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


#: HiGHS's status of a run that holds a feasible point (a MILP's incumbent, also when stopped early)
FEASIBLE = int(highspy.SolutionStatus.kSolutionStatusFeasible)


#: HiGHS options of a MILP that starts from a strong plan (the Benders master rounds after a
#: heuristic start, the kernel search's restricted MILP); a user's own value of any of them wins.
#: No primal heuristics: the plans come from the polisher and the kernel search, and the MILP's time
#: goes to the proof. HiGHS runs feasibility jump, RINS, RENS and its root reduced-cost heuristic even
#: at mip_heuristic_effort 0. Turning them off too, side by side (two processes at once): pcb3038,
#: p = 5: 49.7 s against 97.7 s; p = 50: 146.6 s and 140.4 s against 240.2 s (off in the master rounds
#: only, p = 50 ended unproven at 300 s twice); p = 20 (mostly probing): 189 s against 174 s;
#: p = 100, one run beside p = 50: 288.5 s against 161.2 s off in the master rounds only (p = 50 and
#: 100 sit near the 300 s limit, and single runs vary); rl1304, nine p in one process: 34.4 s
#: against 37.8 s.
PROOF_OPTIONS: dict[str, Any] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
}


def use_proof_options(h: highspy.Highs, params: SolveParams) -> None:
    """Set :data:`PROOF_OPTIONS` on ``h``, each unless the user gave it (``configure`` checked a user's value)."""
    mine = params.options_for("highs")
    for name, value in PROOF_OPTIONS.items():
        chosen = mine.get(name, value)
        h.setOptionValue(name, float(chosen) if isinstance(value, float) else chosen)


def new_master_highs(params: SolveParams) -> highspy.Highs:
    """A HiGHS object configured like the ``highs`` backend's (same options, same checks).

    The master needs ``highspy.Highs`` itself (its MIP-solution callback lives in the Python
    wrapper), whose constructor prints a banner: silence it, then configure.
    """
    from siting.optimizer.backends.highs import configure

    with quiet_stdout():
        h = highspy.Highs()
    configure(h, params)  # rejects a bad option with a ScenarioError naming it
    return h


def interrupt_watch(stop_at: list[float], work_at: list[float] | None = None) -> Callable[[Any], None]:
    """A HiGHS interrupt callback that stops a run once the clock passes ``stop_at[0]``, or the
    process's CPU time passes ``work_at[0]`` (a cap on the work a run may do, whatever else the
    machine runs: see the MILP attempts of :func:`optimizer.benders_pmedian.solve_pmedian_benders`).

    It sets the flag both ways: HiGHS keeps the callback's input between runs of one object, so a
    flag raised when an earlier MILP attempt was capped would otherwise stop later runs at once
    (rl1304, p = 100: the MILP phase after probing ended at once, unproven, with 260 s left).
    """

    def on_interrupt(e: Any) -> None:
        late = time.perf_counter() > stop_at[0]
        e.interrupt(late or (work_at is not None and time.process_time() > work_at[0]))

    return on_interrupt


def mip_progress_watch(report: Callable[[Any], None], period: float) -> Callable[[Any], None]:
    """A HiGHS MIP interrupt callback (it never interrupts) that hands the callback's output (node
    count, dual bound, running time) to ``report`` at most once every ``period`` seconds: a master
    MILP runs for minutes inside one ``run()``, where nothing else reports."""
    ticks = Every(period)

    def on_tick(e: Any) -> None:
        if ticks.due():
            report(e.data_out)

    return on_tick


def highs_version() -> str:
    """The same version string the ``highs`` backend reports."""
    from siting.optimizer.backends.highs import HighsBackend

    return HighsBackend().version()
