"""Where the variants run: in this process one after another, or on Dask.

* ``local``: :func:`run_serial`, in this process (the cache of :mod:`scenarios.batch.inputs`
  lives here). A task that raises is retried once, then recorded as ``CRASHED``.
* ``dask``: :func:`run_dask`. Without ``scheduler`` siting starts a
  ``distributed.LocalCluster(n_workers=workers, processes=True, threads_per_worker=1)`` and closes
  it at the end; with ``scheduler="tcp://host:8786"`` it connects a ``distributed.Client`` to a
  running cluster (``dask scheduler`` + ``dask worker``, whose workers must import the same
  ``siting``). Each variant is one task (``client.map(run_variant, ..., retries=1)``); a task
  whose worker dies is retried once (the local cluster's ``allowed-failures`` is 1), then recorded as
  ``CRASHED``. Results are handled as they finish (``distributed.as_completed``).

Every engine calls :func:`scenarios.batch.task.run_variant` with the same specs (same seed, same
solver settings, one solver thread per task), so the rows agree whatever the engine and the
number of workers, up to the seconds and memory columns.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from siting.models.errors import ScenarioError
from siting.scenarios.batch.task import run_variant

Handler = Callable[[dict[str, Any]], None]
ENGINES = ("local", "dask")


def crashed(spec: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """The row of a variant whose task failed twice (an exception, or its worker died)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if type(exc).__name__ == "KilledWorker":
        text = "the worker running it died twice (out of memory, or killed); " + text
    row = {"variant_id": spec["id"], **spec["settings"], "status": "CRASHED", "error": text[:2000]}
    row["scenario_sha256"] = spec.get("sha256", "")
    return {"row": row, "plan": None}


def run_serial(specs: list[dict[str, Any]], handle: Handler, bar: Any) -> None:
    """Every variant in this process, in order."""
    bar.start(len(specs), running=1)
    for spec in specs:
        try:
            try:
                result = run_variant(spec)
            except Exception:  # noqa: BLE001 - any failure of a variant is retried once, then recorded
                result = run_variant(spec)  # retried once, as on Dask
        except Exception as exc:  # noqa: BLE001 - recorded as CRASHED, the batch goes on
            result = crashed(spec, exc)
        handle(result)
        bar.advance(result["row"]["status"], running=1)


def connect(scheduler: str) -> Any:
    """A ``distributed.Client`` of the cluster at ``scheduler``, or one clear error."""
    from distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError(
            f"--scheduler {scheduler}: cannot connect ({exc}); start one with `dask scheduler` and "
            "`dask worker ADDRESS`, or leave --scheduler out to run on this machine"
        ) from None


def run_dask(
    specs: list[dict[str, Any]],
    handle: Handler,
    bar: Any,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    fn: Callable[[dict[str, Any]], dict[str, Any]] = run_variant,
) -> dict[str, Any]:
    """Every variant as one Dask task (``fn``, default :func:`run_variant`); returns what the engine was."""
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler:
            client = connect(scheduler)
        else:
            with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
                cluster = LocalCluster(
                    n_workers=workers or 2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            client = Client(cluster)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    info: dict[str, Any] = {}
    try:
        nthreads = client.nthreads()
        info = {"workers": len(nthreads), "threads": sum(nthreads.values()), "scheduler": client.scheduler.address}
        if scheduler and not nthreads:
            client.wait_for_workers(1, timeout=30)
            nthreads = client.nthreads()
        token = uuid.uuid4().hex[:8]
        keys = [f"siting-variant-{s['id']}-{token}" for s in specs]
        by_key = dict(zip(keys, specs, strict=True))
        futures = client.map(fn, specs, key=keys, retries=1, pure=False)
        slots = max(sum(client.nthreads().values()), 1)
        bar.start(len(specs), running=min(slots, len(specs)))
        left = len(specs)
        try:
            for fut in as_completed(futures):
                spec = by_key[fut.key]
                try:
                    result = fut.result()
                except Exception as exc:  # noqa: BLE001 - recorded as CRASHED, the batch goes on
                    result = crashed(spec, exc)
                fut.release()
                left -= 1
                handle(result)
                bar.advance(result["row"]["status"], running=min(slots, left))
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return info


class Bar:
    """Progress of a batch on stderr: done / failed / running, a bar and the time left (rich)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.done = self.failed = self.running = 0
        self.total = 0
        self._progress: Any = None
        self._task: Any = None
        self.started = time.perf_counter()

    def start(self, total: int, running: int) -> None:
        self.total, self.running = total, running
        self.started = time.perf_counter()
        if self.quiet or total == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._text(), total=total)

    def _text(self) -> str:
        return f"done {self.done}  failed {self.failed}  running {self.running}"

    def advance(self, status: str, running: int) -> None:
        self.done += 1
        self.running = running
        if status in ("ERROR", "CRASHED", "INFEASIBLE", "NO_SOLUTION"):
            self.failed += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=self._text())

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
