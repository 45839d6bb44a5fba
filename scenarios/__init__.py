"""The planner's world: scenario files, geodata, the run pipeline, outputs, research harness.

* :mod:`.schema` - the scenario file's pydantic models and JSON Schema (:func:`load_scenario`);
* :mod:`.build` - scenario -> per-service problems (:func:`build`); :mod:`.joint_build` - the joint
  :class:`models.multiservice.MultiServiceInstance` and its id mapping (:func:`build_joint`);
* :mod:`.files` - user input files checked before they are opened, ids in messages, hashes;
* :mod:`.geodata` - layers, coordinate systems, walking networks, OSM import;
* :mod:`.pipeline` - ``siting run``: load, build, solve, tables, write;
* :mod:`.outputs` - plan.gpkg, map.png, report.html, budget sweeps;
* :mod:`.research` - benchmark readers, ``siting benchmark``, ``siting compare``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.scenarios.lazy import lazy_exports

if TYPE_CHECKING:
    from siting.scenarios.build import BuiltScenario, ServiceProblem
    from siting.scenarios.joint_build import JointMapping, build_joint, to_multiservice
    from siting.scenarios.outputs import render_outputs, rerender
    from siting.scenarios.outputs.sweep import sweep_scenario
    from siting.scenarios.pipeline.progress import NullProgress, RichProgress
    from siting.scenarios.pipeline.run import RunResult, describe, run_scenario, validate_scenario
    from siting.scenarios.pipeline.starters import init_example, prepare_osm_scenario
    from siting.scenarios.research.compare import compare_solvers
    from siting.scenarios.schema import ScenarioBody, load_scenario, schema_text

# name -> module: resolved on first use (PEP 562), so importing one submodule does not import them all
_EXPORTS = {
    "BuiltScenario": "siting.scenarios.build",
    "JointMapping": "siting.scenarios.joint_build",
    "NullProgress": "siting.scenarios.pipeline.progress",
    "RichProgress": "siting.scenarios.pipeline.progress",
    "RunResult": "siting.scenarios.pipeline.run",
    "ScenarioBody": "siting.scenarios.schema",
    "ServiceProblem": "siting.scenarios.build",
    "build_joint": "siting.scenarios.joint_build",
    "compare_solvers": "siting.scenarios.research.compare",
    "describe": "siting.scenarios.pipeline.run",
    "init_example": "siting.scenarios.pipeline.starters",
    "load_scenario": "siting.scenarios.schema",
    "prepare_osm_scenario": "siting.scenarios.pipeline.starters",
    "render_outputs": "siting.scenarios.outputs",
    "rerender": "siting.scenarios.outputs",
    "run_scenario": "siting.scenarios.pipeline.run",
    "schema_text": "siting.scenarios.schema",
    "sweep_scenario": "siting.scenarios.outputs.sweep",
    "to_multiservice": "siting.scenarios.joint_build",
    "validate_scenario": "siting.scenarios.pipeline.run",
}

__all__ = [
    "BuiltScenario",
    "JointMapping",
    "NullProgress",
    "RichProgress",
    "RunResult",
    "ScenarioBody",
    "ServiceProblem",
    "build_joint",
    "compare_solvers",
    "describe",
    "init_example",
    "load_scenario",
    "prepare_osm_scenario",
    "render_outputs",
    "rerender",
    "run_scenario",
    "schema_text",
    "sweep_scenario",
    "to_multiservice",
    "validate_scenario",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
