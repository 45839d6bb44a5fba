"""The research harness: benchmark readers, ``siting benchmark``, ``siting compare``, child runs.

* :mod:`.readers` - OR-Library, TSPLIB, known optima, CSV / npz instances;
* :mod:`.benchmark` - p-median on public benchmark instances against their known optima;
* :mod:`.compare` - one scenario's model on several solvers and heuristics, side by side;
* :mod:`.child` - one solve in a child process (own peak memory, a crash costs one row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.scenarios.lazy import lazy_exports

if TYPE_CHECKING:
    from siting.scenarios.research.benchmark import run_orlib, run_tsplib, summarize
    from siting.scenarios.research.child import run_in_child
    from siting.scenarios.research.compare import CompareResult, compare_solvers
    from siting.scenarios.research.readers import read_csv_instance, read_optimal_values, read_orlib_pmed, read_tsplib

# name -> module: resolved on first use (PEP 562), so importing one submodule does not import them all
_EXPORTS = {
    "CompareResult": "siting.scenarios.research.compare",
    "compare_solvers": "siting.scenarios.research.compare",
    "read_csv_instance": "siting.scenarios.research.readers",
    "read_optimal_values": "siting.scenarios.research.readers",
    "read_orlib_pmed": "siting.scenarios.research.readers",
    "read_tsplib": "siting.scenarios.research.readers",
    "run_in_child": "siting.scenarios.research.child",
    "run_orlib": "siting.scenarios.research.benchmark",
    "run_tsplib": "siting.scenarios.research.benchmark",
    "summarize": "siting.scenarios.research.benchmark",
}

__all__ = [
    "CompareResult",
    "compare_solvers",
    "read_csv_instance",
    "read_optimal_values",
    "read_orlib_pmed",
    "read_tsplib",
    "run_in_child",
    "run_orlib",
    "run_tsplib",
    "summarize",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
