"""Run a scenario file end to end: read, check, measure, solve, write the plan.

:func:`run_scenario` is what ``siting run scenario.yaml`` calls. Every run solves one model, the
joint multi-service model (:func:`optimizer.joint.solve_joint`, instance from
:func:`scenarios.joint_build.to_multiservice`; a scenario with one service is a joint model with one
service), under the scenario's objective: ``max_coverage`` (people within reach, weighted per
service), ``pmedian`` (least total walking distance), ``min_cost`` (the least-cost plan covering
everyone who can be covered; who cannot is reported), ``complete_circle`` or ``phased``. The plan is
ranked (:func:`optimizer.ranking.rank_plan`) and re-checked by
:func:`models.multiservice.evaluate_joint` and, per service, by :func:`models.evaluate.evaluate`.

* **joint** (the default): every service on the shared candidate plots; one total budget,
  per-service and per-phase budgets (with carry-over), plot room, eligibility and count limits.
* **split** (``--split``): the same model with the budget divided per service in advance
  (``budget.per_service``, or a fixed share of ``budget.total``: see
  :func:`scenarios.build.resolve_budgets`) and nothing shared: no total or phase budget, no
  shared plot room (:meth:`models.multiservice.MultiServiceInstance.split`), so each service is
  solved as if on its own.

Outputs, staged inside the output folder and moved into place only when complete, under the rule of
:mod:`scenarios.pipeline.output_folder` (a new or empty folder, or an earlier run's: only the files listed in its
manifest are replaced; anything else is refused before solving; nothing is left behind on error):

* ``plan.csv``: the ranked site plan (one row per chosen (site, service): rank, phase, cost and
  cumulative cost, people newly covered per demand group, coverage share, drop-one loss, best
  substitute, reason; see :data:`scenarios.pipeline.tables.JOINT_PLAN_HEAD`);
* ``uncovered.csv``: per service, the demand points with people of its group that are not within reach
  of any open facility, and why;
* ``summary.json``: the run record (:class:`scenarios.pipeline.record.RunRecord`): the resolved
  scenario, the solve record, each service's coverage, the plan's checks (budgets total / per
  service / per phase, room, eligibility, counts, the ranked table adding up), warnings, SHA-256 of
  every input file, package versions, timings;
* with ``alternatives=K`` (joint mode only): ``alternatives.csv`` (K distinct plans within the tolerance)
  and ``site_frequency.csv`` (how many of them use each (service, site): firm or interchangeable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from siting.models.errors import ScenarioError
from siting.scenarios.build import JOINT_OBJECTIVES, BuiltScenario, build
from siting.scenarios.outputs.lonlat import plan_in_system
from siting.scenarios.pipeline.output_folder import claimed, output_dir
from siting.scenarios.pipeline.progress import NullProgress
from siting.scenarios.pipeline.record import RunRecord, make_record, record_bytes
from siting.scenarios.pipeline.solving import (
    JointOutcome,
    ServiceOutcome,
    check_solver,
    joint_solver,
    solve_joint_scenario,
    solve_mode,
    solve_params,
)
from siting.scenarios.pipeline.summary import plan_checks, summary_dict
from siting.scenarios.pipeline.tables import (
    alternatives_tables,
    csv_bytes,
    joint_outcomes,
    plan_table,
    uncovered_table,
)
from siting.scenarios.schema import load_scenario


@dataclass(eq=False)
class RunResult:
    """A finished run: where its outputs are, and what they say.

    ``mode`` is ``joint`` or ``split`` (``--split``); ``joint`` holds the solve (one model in both
    modes), ``outcomes`` each service's part of the plan, recounted on its own instance; ``record``
    is summary.json as written (``summary`` the same as plain data).
    """

    out_dir: Path
    built: BuiltScenario
    outcomes: dict[str, ServiceOutcome]
    plan: pd.DataFrame
    uncovered: pd.DataFrame
    summary: dict[str, Any]
    warnings: list[str]
    mode: str = "joint"
    joint: JointOutcome | None = None
    alternatives: pd.DataFrame | None = None
    site_frequency: pd.DataFrame | None = None
    record: RunRecord | None = None


#: Every file ``siting run`` may write (see :mod:`scenarios.pipeline.output_folder` for how they replace an earlier run's).
RUN_FILES = (
    "plan.csv",
    "uncovered.csv",
    "summary.json",
    "alternatives.csv",
    "site_frequency.csv",
    "plan.gpkg",
    "map.png",
    "report.html",
    "plan.xlsx",
)


#: Most alternative plans one run may ask for: each is another full solve.
MAX_ALTERNATIVES = 50


def run_scenario(
    path: str | Path,
    scenario: str | None = None,
    out: str | Path | None = None,
    solver: str | None = None,
    time_limit: float | None = None,
    progress: Any = None,
    *,
    split: bool = False,
    alternatives: int = 0,
    tolerance: float = 0.02,
    lang: str | None = None,
    stability: str | Path | None = None,
) -> RunResult:
    """Run a scenario file and write its plan.

    Parameters
    ----------
    path : the scenario YAML file.
    scenario : name of an override under ``scenarios:`` to merge on top of the base.
    out : output folder (default: the scenario's ``output.folder``, relative to the file).
    solver : solver name overriding ``solver.name``.
    time_limit : seconds for everything after the input is read (every service, stage and
        alternative shares them), overriding ``solver.time_limit``.
    progress : progress reporter (:class:`RichProgress`, or silent by default).
    split : divide the budget per service in advance and share nothing between the services
        (see the module docstring).
    alternatives : also find this many distinct plans within ``tolerance`` of the best (joint mode).
    tolerance : relative shortfall from the best objective an alternative may have.
    lang : language of report.html and map.png, ``en`` or ``zh`` (default: the scenario's ``output.lang``).
    stability : a ``siting sensitivity`` output folder: report.html's ranked plan shows each site's
        share of its variants choosing it (:mod:`scenarios.outputs.stability`); read before solving.

    Returns
    -------
    RunResult
        Where the outputs went, the plan and uncovered tables, and the summary written.

    Raises
    ------
    ScenarioError, DataError : bad scenario or data (nothing is written).
    BackendUnavailableError : unknown or missing solver.
    InfeasibleError, NoSolutionError : a service (or the joint model) could not be solved.
    """
    from siting.scenarios.joint_build import build_joint

    started = time.perf_counter()
    progress = progress or NullProgress()
    path = Path(path)
    body, base_dir = load_scenario(path, scenario)
    from siting.scenarios.outputs.progress_text import speaking

    progress = speaking(progress, lang if lang is not None else body.output.lang)  # every line in the run's language
    source = path.name
    where = "--solver" if solver is not None else f"{source}: solver.name"
    chosen_solver = check_solver(solver if solver is not None else body.solver.name, where)
    if time_limit is not None and not (time_limit > 0):
        raise ScenarioError(f"--time-limit {time_limit} must be a positive number of seconds")
    if not 0 <= alternatives <= MAX_ALTERNATIVES:
        raise ScenarioError(
            f"--alternatives {alternatives} must be a whole number from 0 to {MAX_ALTERNATIVES} "
            "(each alternative is one more solve)"
        )
    if not (0 <= tolerance < 1):
        raise ScenarioError(f"--tolerance {tolerance} must be a fraction in [0, 1), e.g. 0.02 for 2 %")
    mode = solve_mode(body, split, alternatives, source)
    joint_solver(chosen_solver, where)
    from siting.scenarios.outputs.stability import read_stability

    stable = read_stability(stability) if stability is not None else None
    target = output_dir(body, base_dir, out, source)
    params = solve_params(body, time_limit)
    # claimed before any layer is read: someone else's folder or a bad path fails in the first second
    with claimed(target, "run", RUN_FILES) as folder:
        # --split: build() fixes each service's budget in advance; build_joint() leaves them shared
        built = (build if mode == "split" else build_joint)(body, base_dir, progress, source=source)
        warnings = list(built.warnings)
        for w in warnings:
            progress.note(w)
        params = params.started()  # the input is read: from here every stage shares one time budget
        t0 = time.perf_counter()
        joint = solve_joint_scenario(
            built,
            chosen_solver,
            params,
            progress,
            alternatives=alternatives,
            tolerance=tolerance,
            split=mode == "split",
        )
        outcomes = joint_outcomes(built, joint.inst, joint.mapping, joint.rows)
        joint.checks = plan_checks(joint.inst, joint.mapping, joint.metrics, joint.rows, outcomes)
        plan = plan_table(joint.inst, joint.mapping, joint.rows)
        alt_table = freq_table = None
        if alternatives:
            alt_table, freq_table = alternatives_tables(joint.inst, joint.mapping, joint.alternatives, body.objective)
        seconds = dict(built.seconds)
        seconds["solve"] = time.perf_counter() - t0
        uncovered = uncovered_table(built, outcomes)
        seconds["total"] = time.perf_counter() - started
        summary = summary_dict(
            built,
            joint,
            outcomes,
            path,
            scenario,
            chosen_solver,
            params,
            warnings,
            seconds,
            tolerance=tolerance if alternatives else None,
            requested=alternatives,
            mode=mode,
        )
        record = make_record(summary)  # summary.json is written from (and read back into) the typed record
        files = {
            "plan.csv": csv_bytes(plan_in_system(plan, body.output.coordinates)),  # lon/lat as output.coordinates
            "uncovered.csv": csv_bytes(uncovered),
            "summary.json": record_bytes(record),
        }
        if alt_table is not None and freq_table is not None:
            files["alternatives.csv"] = csv_bytes(alt_table)
            files["site_frequency.csv"] = csv_bytes(freq_table)
        # plan.gpkg, map.png, report.html (lang: en / zh, default output.lang)
        from siting.scenarios.outputs import render_outputs

        files.update(render_outputs(built, plan, uncovered, summary, lang=lang, stability=stable))
        folder.commit(files)
        return RunResult(
            out_dir=target,
            built=built,
            outcomes=outcomes,
            plan=plan,
            uncovered=uncovered,
            summary=summary,
            warnings=warnings,
            mode=mode,
            joint=joint,
            alternatives=alt_table,
            site_frequency=freq_table,
            record=record,
        )


def validate_scenario(
    path: str | Path, scenario: str | None = None, progress: Any = None, *, split: bool = False
) -> BuiltScenario:
    """Schema, layers and data checks of a scenario file, without solving (``siting validate``).

    Checked as ``siting run`` would build it: for the joint model, or with ``split`` with the budget
    divided per service in advance.
    """
    from siting.scenarios.joint_build import build_joint

    path = Path(path)
    body, base_dir = load_scenario(path, scenario)
    name = check_solver(body.solver.name, f"{path.name}: solver.name")
    joint_solver(name, f"{path.name}: solver.name")
    if solve_mode(body, split, source=path.name) == "split":
        return build(body, base_dir, progress or NullProgress(), source=path.name)
    return build_joint(body, base_dir, progress or NullProgress(), source=path.name)


def describe(built: BuiltScenario) -> str:
    """A short text summary of a built scenario (``siting validate``)."""
    body = built.scenario
    d = built.layers.demand
    groups = ", ".join(f"{g} {d[g].sum():,.0f}" for g in body.layers.demand.groups)
    lines = [
        f"scenario    {body.name}: objective {body.objective}, CRS {built.layers.crs.to_string()}",
        f"demand      {len(d)} points; people by group: {groups}",
        f"sites       {len(built.layers.sites)} candidate sites"
        + (f", {len(built.layers.existing)} existing facilities" if built.layers.existing is not None else ""),
        "distances   "
        + (
            f"walking over the street network ({built.network['nodes']} nodes, {built.network['km']:g} km)"
            if built.network
            else "straight line"
        ),
    ]
    budget = body.budget
    if len(body.services) > 1 or body.objective in JOINT_OBJECTIVES or bool(budget.phases):
        shared = []
        if budget.total is not None:
            shared.append(f"total budget {budget.total:,.0f}")
        if budget.phases:
            shared.append(
                "phases "
                + ", ".join(f"{k} {v:,.0f}" for k, v in budget.phases.items())
                + (" (unspent money carries over)" if budget.carry_over else "")
            )
        lines.append(
            "mode        joint: all services on the shared plots in one model"
            + (f"; {'; '.join(shared)}" if shared else "")
        )
    for name, pb in built.services.items():
        limit = []
        max_sites = body.services[name].max_sites
        if max_sites is not None:
            limit.append(f"at most {min(max_sites, pb.n_candidates)} new")
        if pb.budget is not None:
            limit.append(f"budget {pb.budget:,.0f}")
        lines.append(
            f"service     {name}: {pb.demand_group} within {pb.reach_m:,.0f} m; {pb.n_candidates} eligible sites, "
            f"{pb.n_existing} existing" + (f"; {', '.join(limit)}" if limit else "")
        )
    for w in built.warnings:
        lines.append(f"warning     {w}")
    return "\n".join(lines)
