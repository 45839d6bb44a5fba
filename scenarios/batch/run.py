"""``siting batch``: many variants of one scenario, solved on an engine, one row each, resumable.

:func:`run_batch` makes the variants (:mod:`.grid`), resolves every one of them before anything
is solved (all problems in one error), claims the output folder (:mod:`.results`), skips the
variants already solved there, runs the rest on the chosen engine (:mod:`.engine`) and journals
each row as its task finishes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from siting.models.errors import ScenarioError
from siting.scenarios.batch.engine import ENGINES, Bar, connect, run_dask, run_serial
from siting.scenarios.batch.grid import Variant, make_variants, validate_all
from siting.scenarios.batch.results import open_batch


@dataclass(eq=False)
class BatchResult:
    """A finished batch: its folder, the table of this command's variants, and what was done."""

    out_dir: Path
    table: pd.DataFrame
    solved: int
    skipped: int
    failed: int
    seconds: float
    engine: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """What the command prints: counts, the first variants without a plan, where the results are."""
        t = self.table
        bad = t[t["status"].isin(["ERROR", "CRASHED", "INFEASIBLE", "NO_SOLUTION"])]
        head = f"{len(t)} variants: {self.solved} solved now, {self.skipped} already in the folder, "
        lines = [head + f"{len(bad)} without a plan ({self.seconds:.1f} s)"]
        lines += [
            f"  {r['variant_id']} {r['status']}: {str(r.get('error', ''))[:200]}" for _, r in bad.head(10).iterrows()
        ]
        lines.append(f"results written to {self.out_dir / 'results.parquet'}")
        return "\n".join(lines)


def run_batch(
    file: str | Path,
    out: str | Path,
    grids: list[str] | None = None,
    variants_csv: str | Path | None = None,
    *,
    variants: list[Variant] | None = None,
    engine: str = "dask",
    scheduler: str | None = None,
    workers: int | None = None,
    time_limit: float | None = None,
    quiet: bool = True,
    kind: str = "batch",
    extra_names: tuple[str, ...] = (),
    on_folder: Any = None,
) -> BatchResult:
    """Solve every variant of ``file`` into ``out`` (module docstring); returns the table of this batch.

    ``variants`` may be given directly (``siting sensitivity``, ``siting whatif``) instead of
    ``grids`` / ``variants_csv``. ``on_folder(folder, table)``, if given, runs before the folder
    is released (to add more files).
    """
    from siting.scenarios.files import sha256_file, user_file

    started = time.perf_counter()
    path = user_file(file, "scenario", ScenarioError)
    if engine not in ENGINES:
        raise ScenarioError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if scheduler and engine != "dask":
        raise ScenarioError("--scheduler needs --engine dask (the local engine runs in this process)")
    if workers is not None and (workers < 1 or scheduler):
        raise ScenarioError(
            "--workers must be at least 1"
            if workers < 1
            else "--workers applies to the local cluster only; a cluster given with --scheduler has its own workers"
        )
    if time_limit is not None and not time_limit > 0:
        raise ScenarioError(f"--time-limit {time_limit} must be a positive number of seconds")
    vs = variants if variants is not None else make_variants(list(grids or []), variants_csv)
    validate_all(path, vs)
    sha = sha256_file(path)
    if scheduler:  # a wrong address fails before the folder is made
        connect(scheduler).close()
    meta = {
        "scenario_file": str(path.resolve()),
        "scenario_sha256": sha,
        "engine": engine,
        "scheduler": scheduler,
        "workers": workers,
        "time_limit": time_limit,
        "grid": list(grids or []),
        "variants_file": str(variants_csv) if variants_csv is not None else None,
        "variants": [{"variant_id": v.id, **v.settings} for v in vs],
    }
    with open_batch(out, kind, meta, extra_names) as folder:
        folder.order = [v.id for v in vs]
        done = folder.done(sha)
        todo = [v for v in vs if v.id not in done]
        specs = [
            {
                "id": v.id,
                "settings": v.settings,
                "file": str(path.resolve()),
                "sha256": sha,
                "time_limit": time_limit,
                "threads": 1,
            }
            for v in todo
        ]
        failed = 0

        def handle(result: dict[str, Any]) -> None:
            nonlocal failed
            failed += result["row"]["status"] in ("ERROR", "CRASHED")
            folder.record(result)
            folder.write_results()

        bar = Bar(quiet)
        info: dict[str, Any] = {"engine": engine}
        try:
            if engine == "local" or not specs:
                run_serial(specs, handle, bar)
            else:
                info.update(run_dask(specs, handle, bar, workers=workers, scheduler=scheduler))
        finally:
            bar.stop()
            if folder.rows:
                folder.write_results(force=True)
        table = folder.table()
        table = table[table["variant_id"].isin(set(folder.order))].reset_index(drop=True)
        if on_folder is not None:
            on_folder(folder, table)
        return BatchResult(
            out_dir=folder.path,
            table=table,
            solved=len(specs),
            skipped=len(vs) - len(specs),
            failed=failed,
            seconds=time.perf_counter() - started,
            engine=info,
        )
