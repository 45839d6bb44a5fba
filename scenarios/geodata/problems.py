"""Problems found while checking a scenario's inputs, collected and raised together as one error."""

from __future__ import annotations

from siting.models.errors import DataError


class Problems:
    """Problems found while checking inputs, raised together as one error."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def extend(self, messages: list[str]) -> None:
        self.items.extend(messages)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, source: str, error: type[Exception] = DataError) -> None:
        """Raise ``error`` with every problem (one line if there is one, else a list)."""
        if not self.items:
            return
        raise error(join_problems(source, self.items))


def join_problems(source: str, items: list[str]) -> str:
    """One message for several problems: ``file: N problems:`` then one indented line each."""
    if len(items) == 1:
        return items[0]
    return f"{source}: {len(items)} problems:\n" + "\n".join(f"  - {p}" for p in items)


def problems_of(exc: Exception) -> list[str]:
    """The individual problems of an error raised by :meth:`Problems.raise_if_any`."""
    text = str(exc)
    lines = text.splitlines()
    if len(lines) > 1 and lines[0].endswith("problems:"):
        return [ln.strip()[2:] for ln in lines[1:] if ln.strip().startswith("- ")]
    return [text]
