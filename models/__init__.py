"""What is optimized: the instances (arrays only), the formulations as sparse MILPs, the evaluator.

* :mod:`.instance` - :class:`SitingInstance`, one service's demand x sites (dense or CSR distances);
* :mod:`.multiservice` - :class:`MultiServiceInstance`, several services on one site axis, and
  :func:`evaluate_joint`;
* :mod:`.milp` - :class:`MilpProblem`, the solver-neutral sparse MILP every formulation returns;
* :mod:`.formulations` - MCLP, LSCP, p-median (classic, radius, capacitated), the joint model;
* :mod:`.evaluate` - :func:`evaluate`, a plan recounted from the raw instance, without a solver;
* :mod:`.sparse_distances` - :func:`within_radius`, the demand-site pairs within a cutoff;
* :mod:`.errors` - the exception hierarchy (:class:`SitingError` and its kinds).

The evaluator is ``siting.evaluate`` (or ``siting.models.evaluate.evaluate``): a name here cannot
shadow the submodule of the same name. This package imports numpy and scipy only: never the optimizer, the scenarios, pandas or geopandas.
"""

from siting.models.errors import (
    BackendUnavailableError,
    DataError,
    InfeasibleError,
    NoSolutionError,
    ScenarioError,
    SitingError,
)
from siting.models.evaluate import PlanMetrics, nearest_open
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.models.multiservice import JointMetrics, MultiServiceInstance, ServiceData, evaluate_joint
from siting.models.sparse_distances import within_radius

__all__ = [
    "BackendUnavailableError",
    "DataError",
    "InfeasibleError",
    "JointMetrics",
    "MilpProblem",
    "MultiServiceInstance",
    "NoSolutionError",
    "PlanMetrics",
    "ScenarioError",
    "ServiceData",
    "SitingError",
    "SitingInstance",
    "evaluate_joint",
    "nearest_open",
    "within_radius",
]
