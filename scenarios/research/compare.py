"""``siting compare``: one scenario on several solvers, side by side.

For a scenario file and a list of solvers (exact backends and heuristics), every model the scenario
poses is solved once per solver, each run in its own spawned process (as :mod:`scenarios.research.benchmark`
does), so that ``peak_mb`` is that run's own peak resident memory (the process's ``VmHWM`` on
Linux, else ``ru_maxrss``; or that of a solver it ran as a subprocess, e.g. CBC through PuLP,
whichever is larger) and a crash or a hung solver costs one row:

* ``split`` rows: each service's own model (MCLP, p-median or least-cost covering, as the scenario's
  objective says) with the budget split across services in advance: the instance ``siting run
  --split`` solves (:func:`scenarios.pipeline.solving.scenario_instance`), one service at a time
  through its single-service view (:meth:`models.multiservice.MultiServiceInstance.service`), so
  heuristics can take part. One extra row per solver, service ``all``, sums the
  seconds, takes the largest memory and the worst status, and compares the whole plan;
* ``joint`` rows: the joint multi-service model (shared budgets, shared plots, phases) that ``siting
  run`` solves when the scenario has several services, phases or a joint objective; exact backends
  only (a heuristic gets a ``NOT_APPLICABLE`` row).

Per row: status, objective, bound, gap, seconds, peak memory, the number of new sites (for a
coverage model, without sites that add nobody once the others are open: ``siting run`` leaves them
out too), and the overlap of the plan with the best plan of the same model and service: the Jaccard index
``|A ∩ B| / |A ∪ B|`` of the sets of chosen (service, site) pairs (1 when both are empty). The best
plan is the one with the best objective (max for coverage, min for cost and distance), ties going
to a proven optimum, then to the earlier solver in the list.

Engines: by default (``--engine local``) the solves run one after another, each in its own
process. With ``--engine dask`` each solve is one task of the batch engine
(:func:`scenarios.batch.engine.run_dask`: siting's ``LocalCluster``, or ``--scheduler``), built
inputs shipped with the task (:func:`compare_task`). What does not move to the batch machinery,
and why: the per-(model, service, solver) rows are not scenario variants (a split row solves one
service's view of the ``--split`` instance, which heuristics can take, not a ``siting run``), so the
tasks are compare's own, not :func:`scenarios.batch.task.run_variant`; and there is no resuming
(no ``results.parquet`` journal), because the table compares seconds and memory measured in one
run, which rows from an earlier run on another load would not be.

Outputs, written atomically into one folder: ``compare.csv`` (the rows), ``compare.md`` (the same
as a Markdown table, with the settings) and ``compare.png`` (bar charts of time, memory and overlap).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from siting.models.errors import ScenarioError
from siting.scenarios.research.child import failure_row, peak_mb

#: The files ``siting compare`` writes.
COMPARE_FILES = ("compare.csv", "compare.md", "compare.png")
COLUMNS = (
    "model",
    "service",
    "solver",
    "status",
    "objective",
    "bound",
    "gap",
    "seconds",
    "peak_mb",
    "new_sites",
    "overlap_with_best",
    "best",
    "verified",
    "solver_version",
    "message",
)
NOT_APPLICABLE = "NOT_APPLICABLE"
#: Worst first wins when statuses are combined (the ``all`` rows).
_STATUS_ORDER = ("OPTIMAL", "FEASIBLE", "NO_SOLUTION", "INFEASIBLE", "UNBOUNDED", NOT_APPLICABLE, "ERROR")

Row = dict[str, Any]
ProgressFn = Callable[[Row, int, int], None]


@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare_solvers` produced: the rows and where they were written."""

    rows: list[Row]
    out_dir: Path
    tolerance: float


# ------------------------------------------------------------------------------ the child runs
def _child(kind: str, payload: tuple[Any, ...], solver: str, params: Any, conn: Any) -> None:
    """Solve one model and send back one row with the chosen (service, site) pairs (spawned process)."""
    row: Row = {}
    try:
        if kind == "split":
            from siting.optimizer.solve import solve

            service, instance, spec = payload
            res = solve(instance, spec, solver=solver, params=params)
            existing = instance.existing
            ids = [str(v) for v in instance.site_ids]
            chosen = [[service, ids[j]] for j in range(instance.m) if res.open_sites[j] and not existing[j]]
            row.update(
                status=res.status.value,
                objective=res.objective,
                bound=res.bound,
                gap=res.gap,
                seconds=round(res.seconds, 4),
                solver_version=res.solver_version,
                verified=bool(res.verified),
                message=res.message,
                chosen=chosen,
            )
        else:
            from siting.optimizer.joint import solve_joint

            inst, objective, services, site_ids = payload
            jres = solve_joint(inst, objective=objective, solver=solver, params=params)
            op = jres.open_phase
            chosen = [
                [services[s], str(site_ids[j])] for s in range(op.shape[0]) for j in range(op.shape[1]) if op[s, j] >= 0
            ]
            row.update(
                status=jres.status.value,
                objective=jres.objective,
                bound=jres.bound,
                gap=jres.gap,
                seconds=round(jres.seconds, 4),
                solver_version=jres.solver_version,
                verified=bool(jres.verified),
                message=jres.message,
                chosen=chosen,
            )
    except Exception as exc:  # noqa: BLE001 - a solver failure is reported in its row; the comparison goes on
        row.update(failure_row(exc))
    row["peak_mb"] = peak_mb()
    conn.send(row)
    conn.close()


def run_isolated(kind: str, payload: tuple[Any, ...], solver: str, params: Any) -> Row:
    """One solve in a fresh spawned process; a crash or a hang becomes an ERROR row."""
    from siting.scenarios.research.child import run_in_child

    return run_in_child(_child, (kind, payload, solver, params), params.time_limit)


class _Answer:
    """Stands in for the pipe end of :func:`_child` when it runs in this process."""

    def __init__(self) -> None:
        self.row: Row = {}

    def send(self, row: Row) -> None:
        self.row = row

    def close(self) -> None:
        pass


def compare_task(spec: dict[str, Any]) -> dict[str, Any]:
    """One solve of the comparison as a batch-engine task (:func:`scenarios.batch.engine.run_dask`).

    On a worker that may start processes (siting's local cluster starts its workers so), the solve
    runs in its own spawned process as in the serial comparison (its own peak memory, a crash costs
    one row). A daemonic worker (the default of ``dask worker``) cannot start one: the solve then runs
    in the worker itself and ``peak_mb`` is the worker's peak, which the row's message says.
    """
    import multiprocessing as mp

    kind, payload, solver, params = spec["job"]
    if mp.current_process().daemon:
        answer = _Answer()
        _child(kind, payload, solver, params, answer)
        child = answer.row
        note = "solved in the Dask worker's own process: peak_mb is the worker's"
        child["message"] = f"{child['message']}; {note}" if child.get("message") else note
    else:
        child = run_isolated(kind, payload, solver, params)
    return {"row": {"variant_id": spec["id"], **spec["settings"], **child}, "plan": None}


# ------------------------------------------------------------------------------ comparing
def _useful(split: Any, service: str, chosen: list[list[str]], objective: str) -> list[list[str]]:
    """For a coverage model, the chosen sites without those that add nobody once the others are open.

    The MCLP is indifferent to such sites and solvers differ in whether they open them; the ranked
    plan of ``siting run`` (:func:`optimizer.ranking.rank_plan`) shows what each adds, and the
    comparison leaves them out, so that the overlap measures different decisions, not different leftovers.
    """
    import numpy as np

    from siting.optimizer.ranking import rank_plan

    if objective != "max_coverage" or not chosen:
        return chosen
    s = split.service_index(service)
    col = {str(v): j for j, v in enumerate(split.site_ids)}
    plan = np.full((split.S, split.m), -1, dtype=np.int8)
    plan[s, [col[site] for _svc, site in chosen if site in col]] = 0
    rows = rank_plan(split, plan, confirm=False, substitutes=False)
    keep = {str(split.site_ids[r.site]) for r in rows if r.gain_people > 0}
    return [[svc, site] for svc, site in chosen if site in keep]


def service_spec(objective: str, svc: Any, reach_m: float, cost_known: bool) -> Any:
    """The ``optimizer.solve.ModelSpec`` of one service of a split instance under the scenario's objective."""
    from siting.optimizer.solve import ModelSpec

    if objective == "max_coverage":
        return ModelSpec("mclp", p=svc.max_sites, radius=reach_m, budget=svc.budget)
    if objective == "pmedian":
        return ModelSpec("pmedian", p=svc.max_sites, budget=svc.budget)
    return ModelSpec("lscp", radius=reach_m, lscp_objective="cost" if cost_known else "count")


def jaccard(a: set[Any], b: set[Any]) -> float:
    """``|A ∩ B| / |A ∪ B|``, 1 when both are empty."""
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def _better(sense: str, a: float, b: float) -> bool:
    return a > b if sense == "max" else a < b


def _mark_best(rows: list[Row], sense: str, tolerance: float) -> None:
    """Set ``best`` and ``overlap_with_best`` on rows of one (model, service)."""
    solved = [r for r in rows if r.get("objective") is not None and r["status"] in ("OPTIMAL", "FEASIBLE")]
    if not solved:
        for r in rows:
            r["overlap_with_best"], r["best"] = None, ""
        return
    best = solved[0]
    for r in solved[1:]:  # strictly better beyond tolerance, or equal and proven where the best is not
        close = abs(r["objective"] - best["objective"]) <= tolerance * max(1.0, abs(best["objective"]))
        if (not close and _better(sense, r["objective"], best["objective"])) or (
            close and r["status"] == "OPTIMAL" and best["status"] != "OPTIMAL"
        ):
            best = r
    ref = {tuple(p) for p in best.get("chosen") or []}
    for r in rows:
        has_plan = r.get("chosen") is not None and r["status"] in ("OPTIMAL", "FEASIBLE")
        r["overlap_with_best"] = round(jaccard({tuple(p) for p in r["chosen"]}, ref), 4) if has_plan else None
        r["best"] = "yes" if r is best else ""


def _all_row(solver: str, rows: list[Row], best_sets: dict[str, set[tuple[str, str]]]) -> Row:
    statuses = [r["status"] for r in rows]
    worst = max(statuses, key=lambda s: _STATUS_ORDER.index(s) if s in _STATUS_ORDER else len(_STATUS_ORDER))
    chosen = {tuple(p) for r in rows for p in (r.get("chosen") or [])}
    ref = set().union(*best_sets.values()) if best_sets else set()
    ok = all(r.get("chosen") is not None for r in rows)
    return {
        "model": "split",
        "service": "all",
        "solver": solver,
        "status": worst,
        "objective": None,
        "bound": None,
        "gap": None,
        "seconds": round(sum(float(r.get("seconds") or 0.0) for r in rows), 4),
        "peak_mb": max((float(r["peak_mb"]) for r in rows if r.get("peak_mb") is not None), default=None),
        "new_sites": len(chosen),
        "overlap_with_best": round(jaccard(chosen, ref), 4) if ok else None,
        "best": "",
        "verified": all(bool(r.get("verified")) for r in rows),
        "solver_version": rows[0].get("solver_version", "") if rows else "",
        "message": "; ".join(f"{r['service']}: {r['message']}" for r in rows if r.get("message")),
        "chosen": sorted(chosen),
    }


def _tasks(
    path: Path, scenario: str | None, progress: Any
) -> tuple[Any, Path, list[tuple[str, str, tuple[Any, ...], str]]]:
    """(body, base folder, [(model, service, payload, sense)]) for the scenario."""
    from siting.models.multiservice import OBJECTIVE_SENSE
    from siting.scenarios.build import JOINT_OBJECTIVES, build
    from siting.scenarios.pipeline.solving import scenario_instance, solve_mode
    from siting.scenarios.schema import load_scenario

    body, base_dir = load_scenario(path, scenario)
    solve_mode(body, source=path.name)  # what the scenario model cannot honour is refused here too
    from siting.scenarios.pipeline.service_options import extra_options

    with_options = [name for name, svc in body.services.items() if extra_options(svc)]
    if with_options:  # siting compare solves the plain models only: an option is refused, never ignored
        raise ScenarioError(
            f"{path.name}: services.{with_options[0]}.{extra_options(body.services[with_options[0]])[0]}: siting "
            "compare solves the plain models only; remove the service's capacity / equity / decay / robust "
            "settings, or compare them with siting run on each solver"
        )
    tasks: list[tuple[str, str, tuple[Any, ...], str]] = []
    if body.objective not in JOINT_OBJECTIVES:
        split, mapping = scenario_instance(build(body, base_dir, progress, source=path.name), split=True)
        for svc in split.services:
            if svc.max_sites == 0 and body.objective != "min_cost":
                continue
            spec = service_spec(body.objective, svc, mapping.reach_m[svc.name], mapping.cost_known[svc.name])
            sense = "max" if spec.model == "mclp" else "min"
            tasks.append(("split", svc.name, (svc.name, split.service(svc.name), spec, split), sense))
    if len(body.services) > 1 or body.objective in JOINT_OBJECTIVES or body.budget.phases:
        from siting.scenarios.joint_build import build_joint, to_multiservice

        built_j = build_joint(body, base_dir, progress, source=path.name)
        inst, mapping = to_multiservice(built_j)
        payload = (inst, body.objective, tuple(mapping.services), tuple(str(v) for v in mapping.site_ids))
        tasks.append(("joint", "all", payload, OBJECTIVE_SENSE[body.objective]))
    if not tasks:
        raise ScenarioError(f"{path.name}: nothing to compare: every service has max_sites 0")
    return body, base_dir, tasks


def compare_solvers(
    path: str | Path,
    solvers: Sequence[str],
    scenario: str | None = None,
    time_limit: float | None = None,
    out: str | Path | None = None,
    progress: ProgressFn | None = None,
    build_progress: Any = None,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
) -> CompareResult:
    """Solve a scenario with each solver and write ``compare.csv``, ``compare.md`` and ``compare.png``.

    Parameters
    ----------
    path : the scenario file.
    solvers : solver names (``highs``, ``cbc``, ``cpsat``, ``scip``, ``pulp:NAME``, ``heuristic``,
        ``greedy``, ...; ``NAME/FORMULATION`` picks a p-median formulation).
    scenario : a named override to merge first.
    time_limit : seconds per solve (default: the scenario's ``solver.time_limit``).
    out : output folder (default: the scenario's output folder with ``-compare`` appended).
    progress : called as ``progress(row, done, total)`` after each solve.
    build_progress : progress reporter for reading the scenario (:class:`scenarios.build.NullProgress` interface).
    engine, scheduler, workers : ``local`` (default): one solve after another, each in its own
        process; ``dask``: every solve one task of the batch engine (:func:`scenarios.batch.engine.run_dask`)
        on a local cluster of ``workers`` processes or the cluster at ``scheduler``
        (:func:`compare_task`). The solves of a comparison share nothing but the inputs built
        once here and shipped with each task; running them side by side makes their seconds
        compete for the same cores, so timing comparisons are fairest with ``--workers 1``. Not
        resumable: the table compares solves of one run (same machine, same load), and
        compare.csv/md/png are written together at the end.

    Returns
    -------
    CompareResult
        The rows (columns :data:`COLUMNS` plus ``chosen``), the folder written, and the relative
        tolerance within which two objectives count as equal (the scenario's ``solver.mip_gap``).
    """
    from siting.scenarios.pipeline.output_folder import claimed, output_dir
    from siting.scenarios.pipeline.progress import NullProgress
    from siting.scenarios.pipeline.solving import solve_params
    from siting.scenarios.research.benchmark import parse_solver_entry
    from siting.scenarios.schema import load_scenario

    path = Path(path)
    if not solvers:
        raise ScenarioError("no solver given: name at least one, e.g. --solvers highs,cbc,heuristic")
    if time_limit is not None and not time_limit > 0:
        raise ScenarioError(f"--time-limit {time_limit} must be a positive number of seconds")
    _check_engine(engine, scheduler, workers)
    parsed = {entry: parse_solver_entry(entry) for entry in dict.fromkeys(s.strip() for s in solvers if s.strip())}
    body, base_dir = load_scenario(path, scenario)
    params = solve_params(body, time_limit)
    target = (
        Path(out).expanduser().resolve()
        if out is not None
        else _default_out(output_dir(body, base_dir, None, path.name))
    )
    with claimed(target, "compare", COMPARE_FILES) as folder:  # before any layer is read
        run = _Runner(engine, scheduler, workers)
        return _compare(path, scenario, parsed, params, folder, progress, build_progress or NullProgress(), run)


def _check_engine(engine: str, scheduler: str | None, workers: int | None) -> None:
    from siting.scenarios.batch.engine import ENGINES, connect

    if engine not in ENGINES:
        raise ScenarioError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if (scheduler or workers is not None) and engine != "dask":
        raise ScenarioError("--scheduler and --workers need --engine dask")
    if workers is not None and (workers < 1 or scheduler):
        raise ScenarioError(
            "--workers must be at least 1, and applies to the local cluster only (not with --scheduler)"
        )
    if scheduler:  # a wrong address fails before the folder is made
        connect(scheduler).close()


@dataclass(frozen=True)
class _Runner:
    """Where the solves run: ``local`` one after another in child processes (in :func:`_compare`), or Dask."""

    engine: str
    scheduler: str | None
    workers: int | None

    def __call__(self, jobs: list[tuple[str, tuple[Any, ...], str, Any]], done: Callable[[int, Row], None]) -> None:
        """Run ``jobs`` (kind, payload, solver, params) on Dask; ``done(k, row)`` as each finishes."""
        import dask

        from siting.scenarios.batch.engine import Bar, run_dask

        specs = [
            {"id": f"{k:04d}", "settings": {"kind": kind, "solver": solver}, "job": (kind, payload, solver, prm)}
            for k, (kind, payload, solver, prm) in enumerate(jobs)
        ]

        def handle(result: dict[str, Any]) -> None:
            row = dict(result["row"])
            k = int(row.pop("variant_id"))
            if row.get("status") == "CRASHED":
                row["status"], row["message"] = "ERROR", row.pop("error", "")
            done(k, {key: v for key, v in row.items() if key not in ("kind", "solver", "scenario_sha256")})

        # workers that may start processes: each solve keeps its own process (compare_task)
        with dask.config.set({"distributed.worker.daemon": False}):
            run_dask(specs, handle, Bar(quiet=True), workers=self.workers, scheduler=self.scheduler, fn=compare_task)


def _compare(
    path: Path,
    scenario: str | None,
    parsed: dict[str, Any],
    params: Any,
    folder: Any,
    progress: Any,
    build_progress: Any,
    run: _Runner | None = None,
) -> CompareResult:
    from siting.optimizer.registry import solver_kind

    target = folder.path
    body, _base_dir, tasks = _tasks(path, scenario, build_progress)
    total = len(tasks) * len(parsed)
    slots: list[tuple[str, str, str, tuple[Any, ...]]] = []  # (model, service, solver entry, payload) per row
    jobs: list[tuple[str, tuple[Any, ...], str, Any]] = []
    job_slot: list[int] = []
    children: dict[int, Row] = {}
    for model, service, payload, _sense in tasks:
        for entry, (solver, formulation) in parsed.items():
            slots.append((model, service, entry, payload))
            if model == "joint" and solver_kind(solver) == "heuristic":
                msg = "heuristics solve the per-service models only; the joint model needs an exact solver"
                children[len(slots) - 1] = {"status": NOT_APPLICABLE, "message": msg}
                continue
            run_payload = payload
            if model == "split":  # the child needs the service's own instance only
                name, inst, spec, _split = payload
                formulated = replace(spec, formulation=formulation) if formulation != "auto" else spec
                run_payload = (name, inst, formulated)
            jobs.append((model, run_payload, solver, params))
            job_slot.append(len(slots) - 1)
    rows_at: dict[int, Row] = {}

    def finish(at: int, child: Row) -> None:
        model, service, entry, payload = slots[at]
        if model == "split" and child.get("chosen") is not None:
            child["chosen"] = _useful(payload[3], service, child["chosen"], body.objective)
        row: Row = {c: None for c in COLUMNS}
        row.update(model=model, service=service, solver=entry, best="", message="", solver_version="")
        row.update({k: v for k, v in child.items() if k in COLUMNS or k == "chosen"})
        row["new_sites"] = len(child["chosen"]) if child.get("chosen") is not None else None
        row.setdefault("chosen", None)
        rows_at[at] = row
        if progress is not None:
            progress(row, len(rows_at), total)

    if run is None or run.engine == "local":  # in order, each solve in its own process
        todo = iter(jobs)
        for at in range(len(slots)):
            kind, run_payload, solver, prm = next(todo) if at not in children else ("", (), "", None)
            finish(at, children[at] if at in children else run_isolated(kind, run_payload, solver, prm))
    else:
        for at in sorted(children):  # the rows without a solve first
            finish(at, children[at])
        run(jobs, lambda k, child: finish(job_slot[k], child))
    rows: list[Row] = [rows_at[at] for at in range(len(slots))]
    tolerance = max(float(body.solver.mip_gap), 1e-9)
    for model, service, _payload, sense in tasks:
        _mark_best([r for r in rows if r["model"] == model and r["service"] == service], sense, tolerance)
    # one "all" row per solver for the split models
    split_services = [s for m, s, _p, _x in tasks if m == "split"]
    if len(split_services) > 1:
        best_sets = {
            s: {
                tuple(p)
                for r in rows
                if r["model"] == "split" and r["service"] == s and r["best"]
                for p in r["chosen"] or []
            }
            for s in split_services
        }
        extra = [
            _all_row(entry, [r for r in rows if r["model"] == "split" and r["solver"] == entry], best_sets)
            for entry in parsed
        ]
        at = max(k for k, r in enumerate(rows) if r["model"] == "split") + 1
        rows[at:at] = extra
    files = {
        "compare.csv": to_csv(rows).encode("utf-8"),
        "compare.md": to_markdown(rows, body, path, scenario, params).encode("utf-8"),
        "compare.png": chart(rows),
    }
    folder.commit(files)
    return CompareResult(rows=rows, out_dir=target, tolerance=tolerance)


def _default_out(run_out: Path) -> Path:
    return run_out.with_name(run_out.name + "-compare")


# ------------------------------------------------------------------------------ writing
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.10g}"
    return str(value)


def to_csv(rows: Sequence[Row]) -> str:
    """The rows as CSV text, columns :data:`COLUMNS` (text cells cannot start a spreadsheet formula)."""
    from siting.scenarios.outputs.csv_safe import rows_to_csv

    return rows_to_csv(COLUMNS, rows, cell=_cell)


def to_markdown(rows: Sequence[Row], body: Any, path: Path, scenario: str | None, params: Any) -> str:
    """``compare.md``: the settings, then the rows as a Markdown table."""
    cols = [c for c in COLUMNS if c != "message"]
    lines = [
        f"# Solver comparison: {body.name}" + (f" / {scenario}" if scenario else ""),
        "",
        (
            f"Scenario file `{path.name}`, objective `{body.objective}`; time limit "
            f"{'none' if params.time_limit is None else f'{params.time_limit:g} s'} per solve, relative gap {params.mip_gap:g}, "
            f"{params.threads} thread(s), seed {params.seed}. Each solve ran in its own process; `peak_mb` is its peak "
            "resident memory. `overlap_with_best` is the Jaccard index of the chosen (service, site) pairs against the "
            "best plan of the same model and service. `split` rows solve each service on its own (budget split in "
            "advance, as `siting run --split`); `joint` rows solve all services together (as `siting run`)."
        ),
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(c)).replace("|", "\\|") for c in cols) + " |")
    notes = [f"- {r['model']} / {r['service']} / {r['solver']}: {r['message']}" for r in rows if r.get("message")]
    if notes:
        lines += ["", "Messages:", "", *notes]
    return "\n".join(lines) + "\n"


def chart(rows: Sequence[Row]) -> bytes:
    """``compare.png``: seconds (log scale), peak memory and overlap with the best plan, per model and solver."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = list(dict.fromkeys(f"{r['model']}:{r['service']}" for r in rows))
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    fig = Figure(figsize=(12, 9), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1)
    width = 0.8 / max(len(solvers), 1)
    x = np.arange(len(groups))
    colours = ["#1f5f99", "#e66101", "#1a9641", "#7b3294", "#a6761d", "#d7191c", "#666666", "#0571b0"]
    for key, ax, label in (
        ("seconds", axes[0], "seconds (log scale)"),
        ("peak_mb", axes[1], "peak memory (MB)"),
        ("overlap_with_best", axes[2], "overlap with the best plan (Jaccard)"),
    ):
        for k, s in enumerate(solvers):
            vals = []
            for g in groups:
                match = [r for r in rows if r["solver"] == s and f"{r['model']}:{r['service']}" == g]
                v = match[0].get(key) if match else None
                vals.append(float(v) if v is not None and math.isfinite(float(v)) else np.nan)
            ax.bar(x + (k - (len(solvers) - 1) / 2) * width, vals, width, label=s, color=colours[k % len(colours)])
        ax.set_ylabel(label)
        ax.set_xticks(x, groups, fontsize=8)
        if key == "seconds":
            ax.set_yscale("log")
        if key == "overlap_with_best":
            ax.set_ylim(0, 1.05)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[0].legend(ncol=min(len(solvers), 6), fontsize=8, loc="upper left")
    axes[0].set_title("Solver comparison: the same scenario on each solver")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def default_solvers() -> list[str]:
    """Every installed exact solver and the default heuristic (``siting compare`` without ``--solvers``)."""
    from siting.optimizer.solve import solver_table

    return [r["name"] for r in solver_table() if r["available"] and (r["kind"] == "exact" or r["name"] == "heuristic")]


def stderr_progress(quiet: bool) -> ProgressFn | None:
    """``siting compare``'s progress: one :func:`format_progress` line per finished solve on stderr (None if quiet)."""
    if quiet:
        return None

    def show(row: Row, done: int, total: int) -> None:
        import sys

        print(format_progress(row, done, total), file=sys.stderr, flush=True)

    return show


def format_progress(row: Row, done: int, total: int) -> str:
    """One line per finished solve, e.g. ``[2/10] split public_toilet highs: OPTIMAL 8176 0.1 s 120 MB``."""
    obj = _cell(row.get("objective")) or "-"
    seconds = f" {float(row['seconds']):.2f} s" if row.get("seconds") is not None else ""
    mem = f" {float(row['peak_mb']):.0f} MB" if row.get("peak_mb") is not None else ""
    msg = f" - {row['message']}" if row["status"] != "OPTIMAL" and row.get("message") else ""
    return f"[{done}/{total}] {row['model']} {row['service']} {row['solver']}: {row['status']} {obj}{seconds}{mem}{msg}"


__all__ = [
    "COLUMNS",
    "CompareResult",
    "chart",
    "compare_solvers",
    "compare_task",
    "default_solvers",
    "format_progress",
    "jaccard",
    "run_isolated",
    "stderr_progress",
    "to_csv",
    "to_markdown",
]
