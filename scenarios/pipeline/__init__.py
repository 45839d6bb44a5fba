"""The run pipeline: load, build, solve, tables, write (``siting run`` / ``siting validate``).

* :mod:`.run` - the orchestration (:func:`run_scenario`, :func:`validate_scenario`, :func:`describe`);
* :mod:`.solving` - solver checks, the mode, the one joint solve (``--split``: budgets divided in advance);
* :mod:`.tables` - plan, uncovered, alternatives and site-frequency tables, and each row's reason;
* :mod:`.summary` - summary.json's content: solve record, checks, input hashes, versions;
* :mod:`.record` - :class:`RunRecord`: summary.json written from and read back into one model, its schema;
* :mod:`.progress` - the progress protocol (:class:`NullProgress`, :class:`RichProgress`);
* :mod:`.output_folder` - the one writer of output folders (manifest, staging, atomic replace);
* :mod:`.starters` - ``siting init`` and ``siting prepare osm``'s scenario file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.scenarios.lazy import lazy_exports

if TYPE_CHECKING:
    from siting.scenarios.pipeline.output_folder import OutputFolderError, claimed, output_dir, write_folder
    from siting.scenarios.pipeline.progress import NullProgress, RichProgress
    from siting.scenarios.pipeline.record import RunRecord, make_record, read_record, record_bytes, record_schema_text
    from siting.scenarios.pipeline.run import (
        RUN_FILES,
        RunResult,
        describe,
        run_scenario,
        validate_scenario,
    )
    from siting.scenarios.pipeline.solving import (
        JointOutcome,
        ServiceOutcome,
        check_solver,
        scenario_instance,
        solve_joint_scenario,
        solve_mode,
        solve_params,
    )
    from siting.scenarios.pipeline.starters import init_example, prepare_osm_scenario, schema_bytes
    from siting.scenarios.pipeline.summary import json_safe, summary_dict, versions
    from siting.scenarios.pipeline.tables import alternatives_tables, plan_table, uncovered_table

# name -> module: resolved on first use (PEP 562), so importing one submodule does not import them all
_EXPORTS = {
    "JointOutcome": "siting.scenarios.pipeline.solving",
    "NullProgress": "siting.scenarios.pipeline.progress",
    "OutputFolderError": "siting.scenarios.pipeline.output_folder",
    "RUN_FILES": "siting.scenarios.pipeline.run",
    "RichProgress": "siting.scenarios.pipeline.progress",
    "RunRecord": "siting.scenarios.pipeline.record",
    "RunResult": "siting.scenarios.pipeline.run",
    "ServiceOutcome": "siting.scenarios.pipeline.solving",
    "alternatives_tables": "siting.scenarios.pipeline.tables",
    "check_solver": "siting.scenarios.pipeline.solving",
    "claimed": "siting.scenarios.pipeline.output_folder",
    "describe": "siting.scenarios.pipeline.run",
    "init_example": "siting.scenarios.pipeline.starters",
    "json_safe": "siting.scenarios.pipeline.summary",
    "make_record": "siting.scenarios.pipeline.record",
    "scenario_instance": "siting.scenarios.pipeline.solving",
    "output_dir": "siting.scenarios.pipeline.output_folder",
    "plan_table": "siting.scenarios.pipeline.tables",
    "prepare_osm_scenario": "siting.scenarios.pipeline.starters",
    "read_record": "siting.scenarios.pipeline.record",
    "record_bytes": "siting.scenarios.pipeline.record",
    "record_schema_text": "siting.scenarios.pipeline.record",
    "run_scenario": "siting.scenarios.pipeline.run",
    "schema_bytes": "siting.scenarios.pipeline.starters",
    "solve_joint_scenario": "siting.scenarios.pipeline.solving",
    "solve_mode": "siting.scenarios.pipeline.solving",
    "solve_params": "siting.scenarios.pipeline.solving",
    "summary_dict": "siting.scenarios.pipeline.summary",
    "uncovered_table": "siting.scenarios.pipeline.tables",
    "validate_scenario": "siting.scenarios.pipeline.run",
    "versions": "siting.scenarios.pipeline.summary",
    "write_folder": "siting.scenarios.pipeline.output_folder",
}

__all__ = [
    "RUN_FILES",
    "JointOutcome",
    "NullProgress",
    "OutputFolderError",
    "RichProgress",
    "RunRecord",
    "RunResult",
    "ServiceOutcome",
    "alternatives_tables",
    "check_solver",
    "claimed",
    "describe",
    "init_example",
    "json_safe",
    "make_record",
    "output_dir",
    "plan_table",
    "prepare_osm_scenario",
    "read_record",
    "record_bytes",
    "record_schema_text",
    "run_scenario",
    "scenario_instance",
    "schema_bytes",
    "solve_joint_scenario",
    "solve_mode",
    "solve_params",
    "summary_dict",
    "uncovered_table",
    "validate_scenario",
    "versions",
    "write_folder",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
