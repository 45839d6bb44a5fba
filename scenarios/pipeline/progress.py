"""Progress reporting of a run: the silent default (:class:`NullProgress`) and rich output on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def ignore(k: int = 1) -> None:
    """An ``advance(k)`` that shows nothing."""


class NullProgress:
    """Progress reporting that shows nothing (the library default, and ``--quiet``)."""

    @contextmanager
    def step(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A step that may take a while; yields ``advance(k)`` for steps with a known ``total``."""
        yield ignore

    def note(self, text: str) -> None:
        """A one-line remark (a warning, what was decided)."""

    def status(self, text: str) -> None:
        """A line of news from inside a long step (tiles done, a bound, a round's gap)."""


class NotesOnlyProgress(NullProgress):
    """``--quiet``: no steps and no news, but the notes (warnings) still reach stderr."""

    def note_line(self, text: str) -> str:
        """``note: text`` (a subclass may say it in another language)."""
        return f"note: {text}"

    def note(self, text: str) -> None:
        print(self.note_line(text), file=sys.stderr, flush=True)


class RichProgress(NullProgress):
    """Progress on stderr: rich spinners and bars on a terminal, plain status lines otherwise."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, soft_wrap=True)

    @contextmanager
    def step(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        started = time.perf_counter()
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
            if total:
                columns += [BarColumn(), MofNCompleteColumn()]
            columns.append(TimeElapsedColumn())
            with Progress(*columns, console=self.console, transient=True) as bar:
                task = bar.add_task(label, total=total)

                def advance(k: int = 1) -> None:
                    bar.advance(task, k)

                yield advance
            self.console.print(
                f"[green]✓[/green] {self.seconds_text(label, time.perf_counter() - started)}", highlight=False
            )
        else:
            yield ignore
            self.console.print(self.done_line(label, time.perf_counter() - started), highlight=False, markup=False)

    def seconds_text(self, label: str, seconds: float) -> str:
        """``label (1.2 s)``: a finished step on a terminal (a subclass may say it in another language)."""
        return f"{label} ({seconds:.1f} s)"

    def done_line(self, label: str, seconds: float) -> str:
        """``label: done in 1.2 s``: a finished step in plain output."""
        return f"{label}: done in {seconds:.1f} s"

    def note_line(self, text: str) -> str:
        """``note: text``: a remark (a warning, what was decided)."""
        return f"note: {text}"

    def note(self, text: str) -> None:
        self.console.print(self.note_line(text), highlight=False, markup=False)

    def status(self, text: str) -> None:
        self.console.print(f"  {text}", highlight=False, markup=False)


def status_callback(progress: Any) -> Callable[[str], None] | None:
    """``progress.status`` as a plain callback for the library layers, or None when it has none."""
    fn = getattr(progress, "status", None)
    return fn if callable(fn) else None
