"""Running one solve in a child process: its own peak memory, and a crash or a hung solver costs one row.

Used by ``siting benchmark`` and ``siting compare`` (and the city-scale benchmark): :func:`run_in_child`
spawns a fresh process (killed by the kernel when its parent dies), waits for the one row it sends,
and turns a crash, or a run still going ``KILL_GRACE_SECONDS`` after its time limit, into an ERROR row.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from siting.models.errors import InfeasibleError, NoSolutionError, SitingError

Row = dict[str, Any]
# Without a time limit a run may take as long as it needs; with one, a child still running this
# long after the limit (reading, model building, a solver ignoring its limit) is killed.
KILL_GRACE_SECONDS = 120.0


def own_peak_mb() -> float:
    """Peak resident memory of this process since it started its program.

    On Linux ``ru_maxrss`` keeps the high-water mark of the parent at the moment of the fork across
    the ``exec`` of a spawned child (the kernel saves the old address space's mark), so a child
    spawned by a 250 MB parent reports at least 250 MB. ``VmHWM`` in ``/proc/self/status`` belongs to
    the new address space only; it is used where it exists, ``ru_maxrss`` elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KB on Linux


def peak_mb() -> float:
    """Peak resident memory of this process or of a waited-for child (a solver run as a subprocess,
    e.g. CBC through PuLP), whichever is larger."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    kids_mb = kids / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return round(max(own_peak_mb(), kids_mb), 1)


def kill_tree(pid: int | None) -> None:
    """Kill a process and all its descendants (a solver subprocess would outlive its parent)."""
    import psutil

    if pid is None:
        return
    try:
        root = psutil.Process(pid)
        family = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def failure_row(exc: BaseException) -> Row:
    """The status and message of a run that raised: INFEASIBLE, NO_SOLUTION or ERROR."""
    if isinstance(exc, InfeasibleError):
        return {"status": "INFEASIBLE", "message": str(exc)}
    if isinstance(exc, NoSolutionError):
        return {"status": "NO_SOLUTION", "message": str(exc)}
    if isinstance(exc, SitingError):
        return {"status": "ERROR", "message": str(exc)}
    return {"status": "ERROR", "message": f"{type(exc).__name__}: {exc}"}


def _guarded(child: Callable[..., None], *args: Any) -> None:
    """Run ``child`` in a spawned process that the kernel kills when its parent dies (SIGKILL of
    ``siting compare`` included); the solver it starts dies with it (see optimizer.processes)."""
    from siting.optimizer.processes import die_with_parent

    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    child(*args)


def run_in_child(child: Callable[..., None], args: tuple[Any, ...], time_limit: float | None) -> Row:
    """Run ``child(*args, conn)`` in a fresh spawned process and return the row it sends.

    A fresh process gives each run its own peak memory and isolates crashes: a child that dies
    without answering, or is still running ``KILL_GRACE_SECONDS`` after its time limit, becomes an
    ERROR row and the caller goes on.
    """
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_guarded, args=(child, *args, send), daemon=True)
    started = time.perf_counter()
    proc.start()
    send.close()
    deadline = None if time_limit is None else time_limit + KILL_GRACE_SECONDS
    row: Row
    try:
        if recv.poll(deadline):
            row = recv.recv()
        else:
            kill_tree(proc.pid)  # the run and any solver it started (CBC runs as its own process)
            row = {
                "status": "ERROR",
                "message": f"killed after {time.perf_counter() - started:.0f} s "
                f"(time limit {time_limit} s + {KILL_GRACE_SECONDS:.0f} s grace)",
            }
    except EOFError:  # the child died without answering
        proc.join()
        row = {
            "status": "ERROR",
            "message": f"the run crashed (exit code {proc.exitcode}); it may have run out of memory",
        }
    except BaseException:  # Ctrl-C, SIGTERM turned into an exception: the run and its solver go too
        kill_tree(proc.pid)
        raise
    finally:
        recv.close()
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return row
