"""A run's progress lines in its language: step names, news from inside a step and notes, from the catalogue.

The code names its steps and writes its notes in English (summary.json keeps them so). In a ``zh``
run, :func:`speaking` wraps the progress reporter so that every line it prints is said in Chinese:
the step names, the status lines of the solver and the walking-distance tiles, the ``note:`` lines
(warnings the run records, GDAL / pyogrio warnings siting caught while reading a layer) and the
frame around them (``done in``, ``note:``). Sentences come from :func:`siting.scenarios.outputs.i18n.note`
(patterns in :mod:`.note_text`), the frame from :data:`siting.scenarios.outputs.i18n.TEXT`; ids,
numbers and file paths are kept as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from siting.scenarios.outputs import i18n
from siting.scenarios.pipeline.progress import NotesOnlyProgress, NullProgress, RichProgress


class SpokenRichProgress(RichProgress):
    """:class:`RichProgress` on the same console, every line in ``lang``."""

    def __init__(self, console: Any, lang: str) -> None:
        self.console = console
        self.lang = lang

    def seconds_text(self, label: str, seconds: float) -> str:
        return i18n.text(self.lang, "prog_seconds", label=label, seconds=f"{seconds:.1f}")

    def done_line(self, label: str, seconds: float) -> str:
        return i18n.text(self.lang, "prog_done", label=label, seconds=f"{seconds:.1f}")

    def note_line(self, text: str) -> str:
        return i18n.text(self.lang, "prog_note", text=text)

    @contextmanager
    def step(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        with super().step(i18n.note(self.lang, label), total) as advance:
            yield advance

    def note(self, text: str) -> None:
        super().note(i18n.note(self.lang, text))

    def status(self, text: str) -> None:
        super().status(i18n.note(self.lang, text))


class SpokenNotesOnly(NotesOnlyProgress):
    """``--quiet``'s notes in ``lang``, the ``note:`` frame included."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def note_line(self, text: str) -> str:
        return i18n.text(self.lang, "prog_note", text=text)

    def note(self, text: str) -> None:
        super().note(i18n.note(self.lang, text))


class SpokenProgress(NullProgress):
    """Any other reporter (``--quiet``'s notes only, a caller's own): its texts translated, its frame kept."""

    def __init__(self, inner: Any, lang: str) -> None:
        self.inner = inner
        self.lang = lang

    @contextmanager
    def step(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        with self.inner.step(i18n.note(self.lang, label), total) as advance:
            yield advance

    def note(self, text: str) -> None:
        self.inner.note(i18n.note(self.lang, text))

    def status(self, text: str) -> None:
        fn = getattr(self.inner, "status", None)
        if callable(fn):
            fn(i18n.note(self.lang, text))


def speaking(progress: Any, lang: str | None) -> Any:
    """``progress`` saying its lines in ``lang`` (unchanged for English, for the silent reporter and for None)."""
    lang = i18n.check_lang(lang)
    if lang == "en" or progress is None or type(progress) is NullProgress:
        return progress
    if isinstance(progress, (SpokenRichProgress, SpokenProgress, SpokenNotesOnly)):
        return progress
    if type(progress) is RichProgress:
        return SpokenRichProgress(progress.console, lang)
    if type(progress) is NotesOnlyProgress:
        return SpokenNotesOnly(lang)
    return SpokenProgress(progress, lang)


def report_lines(written: list[Any], notes: list[str], lang: str) -> tuple[list[str], list[str]]:
    """What ``siting report`` prints: (lines for stderr: its notes, lines for stdout: the files written)."""
    errs = [i18n.text(lang, "prog_note", text=i18n.note(lang, n)) for n in notes]
    outs = [i18n.text(lang, "rep_written", files=", ".join(str(p) for p in written))]
    return errs, outs


__all__ = ["SpokenProgress", "SpokenRichProgress", "report_lines", "speaking"]
