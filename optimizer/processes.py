"""Solver child processes that die with siting, and temporary files that do not outlive it.

A solver run as a separate program (CBC through PuLP) must not keep running, nor leave its model
files in ``$TMPDIR``, when siting stops: normally, on an error, on Ctrl-C (SIGINT), on SIGTERM,
or when siting is killed outright (SIGKILL, the out-of-memory killer). Three layers, each covering
what the one before cannot:

1. :func:`start_child` runs the program in its own process group (``start_new_session``), so a
   terminal's Ctrl-C reaches siting only and siting decides; every exit path of the caller kills
   the whole group (:func:`kill_group`) in a ``finally``.
2. The child asks the kernel for a parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``,
   set between fork and exec): if siting dies without running its ``finally`` (SIGTERM's default
   action, SIGKILL), the kernel kills the child.
3. A tiny watchdog process holds the read end of a pipe whose write end only siting holds. When
   siting dies, for any reason, the kernel closes the pipe; the watchdog then kills the child's
   process group and removes the temporary folder, which nothing else could do after a SIGKILL.

Temporary folders are named ``siting-pulp-<pid>-<random>``; :func:`clean_stale` removes those of
processes that no longer exist (a belt for the watchdog's braces), at the start of each solve.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Self

TEMP_PREFIX = "siting-pulp-"
_STALE_RE = re.compile(rf"^{re.escape(TEMP_PREFIX)}(\d+)-")
_PR_SET_PDEATHSIG = 1

# Runs in a fresh interpreter (-I -S: no site, no user paths; starts in ~20 ms). Reads the child's
# process-group id, then waits for end-of-file: siting closes the pipe when it finishes, and the
# kernel closes it when siting dies. Without "done" first, the child group is killed.
_WATCHDOG = r"""
import os, shutil, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
folder, group, done = sys.argv[1], None, False
for line in sys.stdin:
    line = line.strip()
    if line == "done":
        done = True
    elif line.isdigit():
        group = int(line)
if group is not None and not done:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
shutil.rmtree(folder, ignore_errors=True)
"""


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only).

    Safe in ``preexec_fn`` (between fork and exec). Returns False where it is not supported.
    """
    if _PRCTL is None:
        return False
    return int(_PRCTL(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0


def _load_prctl() -> Any:
    # loaded once, in the parent: between fork and exec only the function pointer is called
    # (no dlopen, which could deadlock on a lock held by another thread at fork time)
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def clean_stale(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove ``siting-pulp-<pid>-*`` folders in ``root`` (``$TMPDIR``) whose process is gone."""
    base = Path(root if root is not None else tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _STALE_RE.match(entry.name)
        if m is None or int(m.group(1)) == os.getpid() or _alive(int(m.group(1))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:
            continue
    return removed


class Workspace:
    """A siting-owned temporary folder for one external solver run, with its watchdog.

    Use as a context manager; the folder and any child started with :meth:`start` are gone when
    the block ends, however it ends.
    """

    def __init__(self) -> None:
        clean_stale()
        self.path = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        self.child: subprocess.Popen[bytes] | None = None
        self._watch: subprocess.Popen[bytes] | None = None
        self._pipe: IO[bytes] | None = None
        try:
            self._watch = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG, self.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._pipe = self._watch.stdin
        except OSError:  # no watchdog: layers 1 and 2 and clean_stale still hold
            self._watch = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, args: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start ``args`` in its own process group, to die with siting (see the module docstring)."""
        self.child = start_child(args, **popen)
        if self._pipe is not None:
            try:
                self._pipe.write(f"{self.child.pid}\n".encode())
                self._pipe.flush()
            except OSError:
                pass
        return self.child

    def close_child(self) -> None:
        """Kill the child's process group now (a solver past its time limit)."""
        if self.child is not None:
            kill_group(self.child)

    def close(self) -> None:
        """Kill the child's group, remove the folder, and let the watchdog go."""
        if self.child is not None:
            kill_group(self.child)
        shutil.rmtree(self.path, ignore_errors=True)
        if self._watch is not None:
            with contextlib.suppress(OSError):
                if self._pipe is not None:
                    self._pipe.write(b"done\n")
                    self._pipe.close()
            try:
                self._watch.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._watch.kill()
                self._watch.wait()
            self._watch = None


def start_child(args: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` in a new process group that receives SIGKILL when siting dies."""
    # preexec_fn is the only way to set the parent-death signal between fork and exec; it calls
    # one preloaded C function and nothing else
    return subprocess.Popen(list(args), start_new_session=True, preexec_fn=die_with_parent, **popen)  # noqa: PLW1509


def kill_group(proc: subprocess.Popen[Any], wait: float = 5.0) -> None:
    """Kill ``proc``'s whole process group (it leads one, see :func:`start_child`) and reap it."""
    if proc.poll() is None:  # once reaped, its id may belong to someone else: leave it
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
        pass
