"""Tables of published optimal (or best-known) values of benchmark instances.

Reads ``optimal_values.csv`` of the OR-Library and TSPLIB benchmark folders (and any CSV with
columns ``instance``, ``p`` and a value column, optionally ``status``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from siting.models.errors import DataError
from siting.scenarios.files import existing_file


@dataclass(frozen=True)
class KnownValue:
    """A published value for one (instance, p).

    ``proven`` is False for a best-known value (an upper bound for a minimisation), True for a
    proven optimum. Tables without a ``status`` column hold proven optima only.
    """

    instance: str
    p: int
    value: float
    proven: bool
    status: str
    source: str


def read_optimal_values(csv_path: str | Path, value_column: str = "optimal_value") -> dict[tuple[str, int], KnownValue]:
    """``{(instance, p): KnownValue}`` from a table of known values.

    Parameters
    ----------
    csv_path : e.g. ``orlib-pmed/optimal_values.csv`` (instance, n, m_edges, p, optimal_value, source,
        verified_here) or ``tsplib-pmedian/optimal_values.csv`` (instance, n, p, optimal_value, status,
        source, ...). ``orlib-pmed/pcenter_values.csv`` works with ``value_column="optimal_radius"``.
    value_column : the column holding the value.

    Raises
    ------
    DataError : missing file or column (the columns found are listed), a non-numeric p or value
        (with its line), or the same (instance, p) twice.
    """
    path = existing_file(csv_path, "known-values")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        found = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ("instance", "p", value_column) if c not in found]
        if missing:
            raise DataError(
                f"{path.name}: missing column(s) {', '.join(missing)}; columns found: {', '.join(found) or '(none)'}"
            )
        out: dict[tuple[str, int], KnownValue] = {}
        for line_no, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            try:
                p = int(row["p"])
                value = float(row[value_column])
            except ValueError:
                raise DataError(
                    f"{path.name} line {line_no}: p {row['p']!r} must be an integer and {value_column} "
                    f"{row[value_column]!r} a number"
                ) from None
            key = (row["instance"], p)
            if key in out:
                raise DataError(f"{path.name} line {line_no}: {key[0]} with p = {p} appears twice")
            status = row.get("status", "") or "optimal"
            out[key] = KnownValue(
                instance=key[0],
                p=p,
                value=value,
                proven=status.lower().startswith("optimal"),
                status=status,
                source=row.get("source", ""),
            )
    return out
