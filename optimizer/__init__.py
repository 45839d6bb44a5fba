"""How a problem is solved: one ``solve`` entry point, backends, heuristics, decomposition, ranking.

* :mod:`.solve` - :func:`solve` (a :class:`models.instance.SitingInstance` and a :class:`ModelSpec`
  on an exact backend or a heuristic) -> :class:`SitingResult`, verified by the evaluator;
* :mod:`.joint` - :func:`solve_joint` and :func:`alternatives` for the multi-service model;
* :mod:`.result` - the result contract (:class:`SolveParams`, :class:`SolveResult`, :class:`Status`,
  the :class:`Backend` protocol); :mod:`.registry` - every solver by name, exact and heuristic; :mod:`.backends` - one per solver;
* :mod:`.heuristics` - greedy, interchange and Lagrangian with proven bounds;
* :mod:`.benders_pmedian`, :mod:`.coverage_exact`, :mod:`.pcenter` - exact methods for scale;
* :mod:`.ranking` - the ranked plan; :mod:`.sweep` - budget sweeps; :mod:`.tiebreak` - cheapest optimum;
* :mod:`.deadline`, :mod:`.processes` - one time budget, solver processes that die with siting.

The entry point is ``siting.solve`` (or ``siting.optimizer.solve.solve``): a name here cannot shadow
the submodule of the same name. This package imports numpy, scipy and solver libraries only: never the scenarios, pandas or geopandas.
"""

from siting.optimizer.joint import JointResult, alternatives, solve_joint
from siting.optimizer.ranking import RankedRow, earliest_phases, rank_plan
from siting.optimizer.registry import (
    DEFAULT_SOLVER,
    EXACT_SOLVERS,
    HEURISTIC_SOLVERS,
    get_backend,
    get_solver,
    installed_backends,
    solver_kind,
    solver_table,
)
from siting.optimizer.result import Backend, Limit, SolveParams, SolveResult, Status
from siting.optimizer.solve import ModelSpec, SitingResult
from siting.optimizer.sweep import budget_sweep, knee_index

__all__ = [
    "DEFAULT_SOLVER",
    "EXACT_SOLVERS",
    "HEURISTIC_SOLVERS",
    "Backend",
    "JointResult",
    "Limit",
    "ModelSpec",
    "RankedRow",
    "SitingResult",
    "SolveParams",
    "SolveResult",
    "Status",
    "alternatives",
    "budget_sweep",
    "earliest_phases",
    "get_backend",
    "get_solver",
    "installed_backends",
    "knee_index",
    "rank_plan",
    "solve_joint",
    "solver_kind",
    "solver_table",
]
