"""Exact backends behind the :class:`optimizer.result.Backend` protocol, one module per solver library.

* :mod:`.highs` - HiGHS through highspy's bulk API (the default);
* :mod:`.pulp_backend` - CBC and any solver PuLP drives (Gurobi, CPLEX, GLPK, ...);
* :mod:`.ortools_backend` - OR-Tools CP-SAT and SCIP;
* :mod:`.common` - what they share: warm starts, the status of a stopped run, the verified result.

Solver libraries are imported when a backend is used, not when this package is imported.
"""

from siting.optimizer.backends.highs import HighsBackend
from siting.optimizer.backends.ortools_backend import OrToolsBackend
from siting.optimizer.backends.pulp_backend import PulpBackend

__all__ = ["HighsBackend", "OrToolsBackend", "PulpBackend"]
