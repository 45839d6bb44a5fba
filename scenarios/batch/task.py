"""One variant, one task: build, solve, evaluate, and turn the outcome into a results row.

:func:`run_variant` is what every engine runs (in-process, on a Dask worker): it takes a plain
dict (picklable, small) and returns a plain dict: the row and the plan as CSV text. It solves
through the same library calls as ``siting run`` (:mod:`scenarios.pipeline.solving`: the joint
solve or the per-service solves, ranked and re-checked by the independent evaluator) and builds
the summary with :mod:`scenarios.pipeline.summary`; it writes nothing. The heavy inputs come from
the worker's cache (:mod:`scenarios.batch.inputs`).

A variant that cannot be solved (bad data for these settings, infeasible, no solution within the
time limit) is a row with its status and error, never an exception. Anything else (a bug, memory)
is raised, so that the engine retries it once and then records it as ``CRASHED``.

Row fields: ``variant_id``, the settings (one column per key), ``status`` (the solver's, or
``INFEASIBLE`` / ``NO_SOLUTION`` / ``ERROR`` / ``CRASHED``), ``objective``, ``bound``, ``gap``
(split mode: the sums over services, the worst status), ``cost``, ``new_sites``, per service
``covered.<s>`` (people of its group within reach) and ``coverage.<s>`` (their share), ``sites``
(``service:site`` of every new facility, sorted, ``;``-separated), ``seconds`` (the task, wall),
``solve_seconds``, ``peak_mb`` (the worker process's peak resident memory so far), ``worker`` (host:pid), ``error``,
``scenario_sha256`` (the file the row was solved from; a changed file makes the row stale).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from siting.models.errors import InfeasibleError, NoSolutionError, SitingError

#: Statuses of rows that a re-run solves again.
FAILED = ("ERROR", "CRASHED")


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def run_variant(spec: dict[str, Any]) -> dict[str, Any]:
    """Solve one variant. ``spec``: ``id``, ``settings``, ``file``, ``index``, ``time_limit``, ``threads``.

    Returns ``{"row": {...}, "plan": the plan as CSV bytes (as ``siting run``'s plan.csv), or None}``.
    """
    started = time.perf_counter()
    settings = dict(spec["settings"])
    row: dict[str, Any] = {"variant_id": spec["id"], **settings}
    plan_csv: bytes | None = None
    try:
        outcome = _solve(spec)
        row.update(outcome["fields"])
        plan_csv = outcome["plan"]
    except InfeasibleError as exc:
        row.update(status="INFEASIBLE", error=str(exc))
    except NoSolutionError as exc:
        row.update(status="NO_SOLUTION", error=str(exc))
    except SitingError as exc:
        row.update(status="ERROR", error=str(exc))
    row["seconds"] = round(time.perf_counter() - started, 4)
    row["peak_mb"] = peak_mb()
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    row.setdefault("error", "")
    row["scenario_sha256"] = spec.get("sha256", "")
    return {"row": row, "plan": plan_csv}


def _solve(spec: dict[str, Any]) -> dict[str, Any]:
    from siting.scenarios.batch.grid import id_list, resolve
    from siting.scenarios.batch.inputs import VariantInputs
    from siting.scenarios.batch.whatif import forced_budget, opened_pairs
    from siting.scenarios.build import build
    from siting.scenarios.joint_build import build_joint
    from siting.scenarios.pipeline.progress import NullProgress
    from siting.scenarios.pipeline.solving import check_solver, solve_joint_scenario, solve_mode, solve_params
    from siting.scenarios.pipeline.summary import plan_checks, summary_dict
    from siting.scenarios.pipeline.tables import csv_bytes, joint_outcomes, plan_table

    settings = spec["settings"]
    where = f"variant {spec['id']}"
    path = Path(spec["file"])
    body, base_dir = resolve(path, settings, where)
    if spec.get("threads") is not None and "solver.threads" not in settings:
        body = body.model_copy(update={"solver": body.solver.model_copy(update={"threads": spec["threads"]})})
    opened = opened_pairs(body, settings, where)
    inputs = VariantInputs(
        population_seed=settings.get("population_seed"),
        population_spread=float(settings.get("population_spread", 0.15)),
        close=tuple(id_list(settings.get("close"))),
        open=tuple(opened),
    )
    progress = NullProgress()
    if settings.get("force"):
        body = forced_budget(body, base_dir, inputs, settings, where)
    solver = check_solver(body.solver.name, f"{where}: solver.name")
    mode = solve_mode(body, source=where)
    params = solve_params(body, spec.get("time_limit"))
    override = settings.get("scenario")
    # one path for every variant, as `siting run`: the joint model (--split divides the budget in advance)
    built = (build if mode == "split" else build_joint)(body, base_dir, progress, source=where, inputs=inputs)
    params = params.started()
    t0 = time.perf_counter()
    joint = solve_joint_scenario(built, solver, params, progress, split=mode == "split")
    outcomes = joint_outcomes(built, joint.inst, joint.mapping, joint.rows)
    joint.checks = plan_checks(joint.inst, joint.mapping, joint.metrics, joint.rows, outcomes)
    plan = plan_table(joint.inst, joint.mapping, joint.rows)
    warnings = list(built.warnings)
    seconds = {**built.seconds, "solve": time.perf_counter() - t0}
    summary = summary_dict(built, joint, outcomes, path, override, solver, params, warnings, seconds, mode=mode)
    solve = summary["solve"]
    fields = {
        "status": solve["status"],
        "objective": solve["objective"],
        "bound": solve["bound"],
        "gap": solve["gap"],
        "solve_seconds": solve["seconds"],
        "cost": summary["joint"]["total_cost"],
        "new_sites": summary["joint"]["new_sites"],
    }
    for name, svc in summary["services"].items():
        fields[f"covered.{name}"] = svc["coverage"]["after"]
        fields[f"coverage.{name}"] = svc["coverage"]["share_after"]
    fields["sites"] = ";".join(sorted(f"{s}:{i}" for s, i in zip(plan["service"], plan["site_id"], strict=True)))
    fields["warnings"] = len(warnings)
    return {"fields": fields, "plan": csv_bytes(plan)}
