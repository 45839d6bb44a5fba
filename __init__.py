"""siting: facility siting for 15-minute community life circles.

The installed package maps this repository's top-level folders to ``siting.models`` (the
solver-neutral models and the evaluator), ``siting.optimizer`` (backends, heuristics, the one
``solve`` entry point), ``siting.scenarios`` (scenario files, geodata, outputs) and ``siting.cli``
(the ``siting`` command). This module is the small public facade::

    import siting
    inst = siting.SitingInstance(distances, weights=people, cost=cost)
    res = siting.solve(inst, siting.ModelSpec("mclp", p=5, radius=400.0), solver="highs",
                       params=siting.SolveParams(time_limit=60))

    body, base_dir = siting.load_scenario("scenario.yaml")
    siting.validate_scenario("scenario.yaml")
    siting.run_scenario("scenario.yaml", out="plan")
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.result import SolveParams, SolveResult
from siting.optimizer.solve import ModelSpec, solve
from siting.scenarios.lazy import lazy_exports

if TYPE_CHECKING:
    from siting.scenarios.pipeline.run import run_scenario, validate_scenario
    from siting.scenarios.schema import load_scenario

# The scenario functions load on first use: the scenario layer (pandas, geopandas, pyproj,
# pydantic) is about 140 MB resident, which a process that only solves models (a benchmark, a
# batch worker) need not carry.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "run_scenario": "siting.scenarios.pipeline.run",
        "validate_scenario": "siting.scenarios.pipeline.run",
        "load_scenario": "siting.scenarios.schema",
    },
)

try:
    __version__ = _metadata.version("siting")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "ModelSpec",
    "SitingInstance",
    "SolveParams",
    "SolveResult",
    "__version__",
    "evaluate",
    "load_scenario",
    "run_scenario",
    "solve",
    "validate_scenario",
]
