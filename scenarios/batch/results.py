"""The folder of a batch: one row per variant, written as tasks finish, and resumable.

Layout of ``DIR`` (every file goes through :mod:`scenarios.pipeline.output_folder`: each of the
three folders has its own manifest, so siting never replaces or deletes a file it did not write)::

    DIR/batch.json          what was asked: the scenario file, its SHA-256, the variants
    DIR/results.parquet     one row per variant (pandas, DuckDB, Dask read it); rewritten whole,
                            atomically, every few seconds and at the end
    DIR/rows/<id>.json      the journal: one file per finished variant, in place as soon as the
                            task returns (so a killed batch loses at most the tasks in flight)
    DIR/plans/<id>.csv      each solved variant's plan (the same table as ``siting run``'s plan.csv)

A re-run into the same ``DIR`` reads the journal and solves only the variants whose row is
missing, failed (``ERROR``, ``CRASHED``) or was solved from a different scenario file (its
``scenario_sha256`` differs). Rows of variants that the new command does not ask for stay in the
folder and in results.parquet (a batch folder grows).
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pandas as pd

from siting.scenarios.batch.task import FAILED
from siting.scenarios.pipeline.output_folder import OutputFolder, claim, read_manifest

#: Files a batch writes directly in DIR.
BATCH_FILES = ("batch.json", "results.parquet")
#: Leading columns of results.parquet (settings columns follow ``variant_id``).
HEAD = ("variant_id",)
RESULT = ("status", "objective", "bound", "gap", "cost", "new_sites")
TRAILER = ("seconds", "solve_seconds", "peak_mb", "worker", "warnings", "scenario_sha256")
TAIL = ("error", "sites")


@dataclass(eq=False)
class BatchFolder:
    """A claimed batch folder: the top folder, the journal (``rows/``) and the plans (``plans/``).

    Use as a context manager; :meth:`record` writes one finished variant, :meth:`write_results`
    the merged table.
    """

    top: OutputFolder
    rows_dir: OutputFolder
    plans_dir: OutputFolder
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    last_flush: float = 0.0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for f in (self.plans_dir, self.rows_dir, self.top):
            f.close()

    @property
    def path(self) -> Path:
        return self.top.path

    def done(self, sha256: str) -> set[str]:
        """Ids of the variants that need no new solve: a row that did not fail, from this scenario file."""
        return {
            vid for vid, r in self.rows.items() if r.get("status") not in FAILED and r.get("scenario_sha256") == sha256
        }

    def record(self, result: dict[str, Any]) -> None:
        """Journal one finished variant (its row, and its plan if it has one), at once."""
        row = result["row"]
        vid = row["variant_id"]
        self.rows[vid] = row
        if result.get("plan") is not None:
            self.plans_dir.add({f"{vid}.csv": result["plan"]})
        self.rows_dir.add({f"{vid}.json": (json.dumps(row, default=_json_default) + "\n").encode("utf-8")})

    def table(self) -> pd.DataFrame:
        """Every row in the folder: the current variants in their order, then older ones."""
        ids = [v for v in self.order if v in self.rows] + sorted(v for v in self.rows if v not in set(self.order))
        df = pd.DataFrame([self.rows[v] for v in ids])
        if df.empty:
            return pd.DataFrame(columns=[*HEAD, *RESULT, *TRAILER, *TAIL])
        known = set(HEAD) | set(TAIL) | set(RESULT) | set(TRAILER)
        cover = [c for c in df.columns if c.startswith(("covered.", "coverage."))]
        settings = [c for c in df.columns if c not in known and c not in cover]
        cols = [*HEAD, *settings, *RESULT, *cover, *TRAILER, *TAIL]
        df = df[[c for c in cols if c in df.columns]]
        return _arrow_safe(df)

    def write_results(self, force: bool = False, every: float = 3.0) -> None:
        """Rewrite results.parquet (at most every ``every`` seconds unless ``force``)."""
        now = time.monotonic()
        if not force and now - self.last_flush < every:
            return
        self.last_flush = now
        buf = io.BytesIO()
        self.table().to_parquet(buf, index=False)
        self.top.add({"results.parquet": buf.getvalue()})

    def add_files(self, files: dict[str, bytes]) -> None:
        """More files in DIR (sensitivity.csv, ...)."""
        self.top.add(files)


def open_batch(out: str | Path, kind: str, meta: dict[str, Any], names: Iterable[str] = ()) -> BatchFolder:
    """Claim ``out`` for a batch of ``kind`` and read the rows already there.

    ``meta`` is written to batch.json at once (so the folder is recognisably siting's from its
    first second); ``names`` are further files the command will write in DIR.
    """
    top = claim(out, kind, (*BATCH_FILES, *names))
    try:
        top.add({"batch.json": (json.dumps(meta, indent=2, default=_json_default) + "\n").encode("utf-8")})
        rows_dir = claim(top.path / "rows", f"{kind}-rows")
        try:
            plans_dir = claim(top.path / "plans", f"{kind}-plans")
        except BaseException:
            rows_dir.close()
            raise
    except BaseException:
        top.close()
        raise
    folder = BatchFolder(top=top, rows_dir=rows_dir, plans_dir=plans_dir)
    manifest = read_manifest(rows_dir.path) or {"files": {}}
    for name in sorted(manifest["files"]):
        p = rows_dir.path / name
        if not name.endswith(".json") or not p.is_file():
            continue
        try:
            row = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable: solved again
        if isinstance(row, dict) and isinstance(row.get("variant_id"), str):
            folder.rows[row["variant_id"]] = row
    return folder


def _json_default(v: Any) -> Any:
    try:
        return v.item()  # numpy scalars
    except AttributeError:
        return str(v)


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python types (numbers and text in one setting column) as text, for Parquet."""
    for c in df.columns:
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if not _missing(v)}
            if len(kinds) > 1:
                df[c] = df[c].map(lambda v: None if _missing(v) else str(v))
    return df


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))
