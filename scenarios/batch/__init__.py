"""Batches of scenario variants on one machine or a Dask cluster (``siting batch``, ``sensitivity``, ``whatif``).

* :mod:`.grid` - variants: ``--grid`` cross products, ``--variants`` CSV, stable ids, validation;
* :mod:`.inputs` - layers and walking distances built once per worker process and shared;
* :mod:`.task` - one variant: build, solve, evaluate -> one results row and its plan;
* :mod:`.engine` - the serial engine and the Dask engine (LocalCluster or ``--scheduler``), progress;
* :mod:`.results` - the batch folder: journal of rows, plans, results.parquet; resuming;
* :mod:`.run` - :func:`run_batch`, the orchestration;
* :mod:`.sensitivity` - reaches, populations and costs perturbed: sensitivity.csv, stability.csv;
* :mod:`.whatif` - closing facilities, adding or forcing plots, against the base plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.scenarios.lazy import lazy_exports

if TYPE_CHECKING:
    from siting.scenarios.batch.grid import Variant, make_variants
    from siting.scenarios.batch.run import BatchResult, run_batch
    from siting.scenarios.batch.sensitivity import run_sensitivity
    from siting.scenarios.batch.whatif import run_whatif

_EXPORTS = {
    "Variant": "siting.scenarios.batch.grid",
    "make_variants": "siting.scenarios.batch.grid",
    "BatchResult": "siting.scenarios.batch.run",
    "run_batch": "siting.scenarios.batch.run",
    "run_sensitivity": "siting.scenarios.batch.sensitivity",
    "run_whatif": "siting.scenarios.batch.whatif",
}
__all__ = ["BatchResult", "Variant", "make_variants", "run_batch", "run_sensitivity", "run_whatif"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
