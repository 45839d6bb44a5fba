"""The ``siting`` command line: parse, call one library function, print.

Every :class:`models.errors.SitingError` becomes one line ``error: <message>`` on stderr and the
error's exit code (1 bad input, 3 infeasible or no solution); usage errors exit 2. ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from siting.models.errors import SitingError

EXAMPLE = "scenarios/examples/helsinki_csv"
HELP = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="siting",
    help=(
        "Facility siting for 15-minute community life circles: MCLP, set covering (LSCP), p-median and "
        "p-center on several solvers, every plan re-checked by an independent evaluator.\n\n"
        f"Example: siting solve --demand {EXAMPLE}/demand.csv --sites {EXAMPLE}/sites.csv --model mclp --radius 400 --p 5"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings=HELP,
)
benchmark_app = typer.Typer(
    help=(
        "Run p-median benchmarks with published optima, each run in its own process.\n\n"
        "Example: siting benchmark orlib-pmed tests/data/orlib --instances pmed1 --solver highs"
    ),
    no_args_is_help=True,
    context_settings=HELP,
)
app.add_typer(benchmark_app, name="benchmark")
prepare_app = typer.Typer(
    help=(
        "Turn open data into a scenario folder.\n\n"
        "Example: siting prepare osm city.osm.pbf --bbox 24.93,60.16,24.96,60.18 --out my_city"
    ),
    no_args_is_help=True,
    context_settings=HELP,
)
app.add_typer(prepare_app, name="prepare")

_state = {"debug": False}


class Model(str, Enum):
    mclp = "mclp"
    lscp = "lscp"
    pmedian = "pmedian"
    pcenter = "pcenter"


class LscpObjective(Enum):
    cost = "cost"
    count = "count"


class Lang(str, Enum):
    en = "en"
    zh = "zh"


class Formulation(str, Enum):
    auto = "auto"
    classic = "classic"
    radius = "radius"
    benders = "benders"
    compact = "compact"
    reduced = "reduced"


def _print_version(value: bool) -> None:
    if value:
        from siting import __version__

        typer.echo(f"siting {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback when an error occurs.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    """Facility siting: choose sites, prove how good the choice is."""
    _state["debug"] = debug


class Terminated(BaseException):
    """SIGTERM, raised where the program is, so that every ``with`` block cleans up as for Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(signum)


@contextmanager
def _errors() -> Iterator[None]:
    """SitingError -> ``error: message`` on stderr and its exit code (traceback with --debug).

    SIGINT (Ctrl-C) and SIGTERM unwind the command (staged outputs are removed, the previous
    output stays) and print one line saying what was kept; exit code 130 or 143.
    """
    import signal

    from siting.scenarios.pipeline.output_folder import kept_note, reset_note

    reset_note()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        yield
    except SitingError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except (KeyboardInterrupt, Terminated) as exc:
        if _state["debug"]:
            raise
        typer.echo(f"interrupted: {kept_note()}", err=True)
        raise typer.Exit(130 if isinstance(exc, KeyboardInterrupt) else 143) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _UsageProblem(SitingError):
    """Options that do not fit together (exit 2, like any other usage error)."""

    exit_code = 2


def _json_status(exc: BaseException) -> str:
    from siting.models.errors import InfeasibleError, NoSolutionError

    if isinstance(exc, InfeasibleError):
        return "INFEASIBLE"
    if isinstance(exc, NoSolutionError):
        return "NO_SOLUTION"
    return "ERROR"


def _failure_record(exc: BaseException, exit_code: int, **context: Any) -> dict[str, Any]:
    """The JSON record of a run that produced no plan: the same keys as a result, values null."""
    record: dict[str, Any] = {
        "status": _json_status(exc),
        "exit_code": exit_code,
        "message": str(exc) if not hasattr(exc, "format_message") else exc.format_message(),
        "objective": None,
        "bound": None,
        "gap": None,
        "open_site_ids": [],
        "new_site_ids": [],
        "existing_site_ids": [],
    }
    record.update(context)
    return record


class _JsonOnUsageError(typer.core.TyperCommand):
    """A command whose ``--json`` record is printed even when its options cannot be parsed."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        wants_json = "--json" in args
        try:
            return super().make_context(info_name, list(args), parent=parent, **extra)
        except typer.TyperException as exc:
            code = getattr(exc, "exit_code", 2)
            if wants_json and code:
                typer.echo(json.dumps(_failure_record(exc, code, command=info_name), indent=2))
            raise


@contextmanager
def _json_errors(as_json: bool, **context: Any) -> Iterator[None]:
    """Like :func:`_errors`, and with ``--json`` also the JSON record of the failure on stdout."""
    try:
        yield
    except SitingError as exc:
        if as_json:
            typer.echo(json.dumps(_failure_record(exc, exc.exit_code, **context), indent=2))
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug: keep the record, then the traceback
        if as_json:
            typer.echo(json.dumps(_failure_record(exc, 1, **context), indent=2))
        raise


@app.command(cls=_JsonOnUsageError)
def solve(
    demand: Annotated[Path, typer.Option("--demand", help="Demand CSV: id, x, y (or lon, lat)[, weight].")],
    sites: Annotated[
        Path,
        typer.Option(
            "--sites", help="Candidate sites CSV: id, x, y (or lon, lat)[, cost, capacity, existing, forbidden]."
        ),
    ],
    model: Annotated[Model, typer.Option("--model", help="Which siting model.")],
    distances: Annotated[
        Path | None,
        typer.Option("--distances", help="Distance matrix (.npz or .csv, demand x sites); default Euclidean from x, y."),
    ] = None,
    p: Annotated[
        int | None,
        typer.Option("--p", help="Maximum number of new sites (mclp, pmedian, pcenter); mclp --p 0 = existing sites only."),
    ] = None,
    radius: Annotated[
        float | None, typer.Option("--radius", help="Service radius, units of the distances (mclp, lscp).")
    ] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="Maximum total cost of new sites (mclp, pmedian).")] = None,
    capacitated: Annotated[
        bool,
        typer.Option(
            "--capacitated",
            help="Use the sites' capacity column (pmedian, mclp, lscp): a point counts only where a facility has room.",
        ),
    ] = False,
    allow_split: Annotated[
        bool, typer.Option("--allow-split", help="With --capacitated: a demand point may be split between sites.")
    ] = False,
    objective: Annotated[
        LscpObjective | None, typer.Option("--objective", help="lscp: least cost (default) or fewest sites.")
    ] = None,
    min_group_share: Annotated[
        float | None,
        typer.Option(
            "--min-group-share",
            min=0.0,
            max=1.0,
            help="mclp: every demand group (the demand file's group column) gets at least this share covered.",
        ),
    ] = None,
    reach_full: Annotated[
        float | None,
        typer.Option("--reach-full", min=0.0, help="mclp with gradual reach: coverage is full up to this distance."),
    ] = None,
    reach_max: Annotated[
        float | None,
        typer.Option("--reach-max", min=0.0, help="mclp with gradual reach: coverage falls linearly to 0 at this distance."),
    ] = None,
    decay_steps: Annotated[
        str | None, typer.Option("--decay-steps", help="mclp with gradual reach by steps: distance:credit,... e.g. 500:1,1000:0.6,1500:0.3.")
    ] = None,
    robust_samples: Annotated[
        int | None, typer.Option("--robust-samples", min=1, help="mclp: plan for K sampled demand scenarios (seeded by --seed).")
    ] = None,
    population_noise: Annotated[
        float | None, typer.Option("--population-noise", min=0.0, help="With --robust-samples: weight noise (default 0.15).")
    ] = None,
    robust_objective: Annotated[
        str | None, typer.Option("--robust-objective", help="With --robust-samples: worst (default) or mean case.")
    ] = None,
    maxmin_groups: Annotated[
        bool,
        typer.Option(
            "--max-min-groups", help="mclp: raise the worst-covered group's share first, then total coverage."
        ),
    ] = False,
    formulation: Annotated[
        Formulation | None, typer.Option("--formulation", help="pmedian (uncapacitated): classic, radius, benders; mclp/lscp: compact, reduced (default auto).")
    ] = None,
    solver: Annotated[
        str, typer.Option("--solver", help="auto (HiGHS; SCIP proves city-sized covers), highs, cbc, cpsat, scip, pulp:NAME or a heuristic.")
    ] = "auto",
    time_limit: Annotated[float | None, typer.Option("--time-limit", min=0.0, help="Seconds for everything after the input is read.")] = None,
    gap: Annotated[float | None, typer.Option("--gap", min=0.0, help="Relative gap at which to stop (0 = prove).")] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Solver threads.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    input_crs: Annotated[
        str | None,
        typer.Option("--input-crs", help="CRS of lon, lat columns (default EPSG:4326, WGS-84); they are projected to UTM."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON record on stdout, also when the run fails (status, message, exit_code).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines on stderr (warnings are still shown).")] = False,
) -> None:
    """Solve one siting model on CSV inputs and print the plan, re-checked by the evaluator.

    Progress (model size, solver rounds, bounds) goes to stderr, so --json output stays clean.
    An option that does not apply to the model (e.g. --capacitated with pcenter) is an error (exit 2).
    Among plans of equal objective, every exact solver returns the cheapest.

    Example: siting solve --demand scenarios/examples/helsinki_csv/demand.csv --sites scenarios/examples/helsinki_csv/sites.csv --model mclp --radius 400 --p 5
    """
    from siting.optimizer.result import SolveParams
    from siting.optimizer.solve import ModelSpec, option_conflicts
    from siting.optimizer.solve import solve as solve_model
    from siting.scenarios.research.readers import read_csv_instance

    given: dict[str, Any] = {
        name: value
        for name, value, set_ in (
            ("p", p, p is not None), ("radius", radius, radius is not None), ("budget", budget, budget is not None),
            ("capacitated", True, capacitated), ("allow_split", True, allow_split),
            ("objective", objective.value if objective else None, objective is not None),
            ("formulation", formulation.value if formulation else None, formulation is not None),
            ("min_group_share", min_group_share, min_group_share is not None),
            ("maxmin_groups", True, maxmin_groups),
            ("reach_full", reach_full, reach_full is not None),
            ("reach_max", reach_max, reach_max is not None),
            ("decay_steps", decay_steps, decay_steps is not None),
            ("robust_samples", robust_samples, robust_samples is not None),
            ("robust_noise", population_noise, population_noise is not None),
            ("robust_objective", robust_objective, robust_objective is not None),
        )
        if set_
    }
    with _json_errors(as_json, command="solve", model=model.value, solver=solver):
        conflicts = option_conflicts(model.value, given, solver)
        if conflicts:
            raise _UsageProblem("; ".join(conflicts))
        if input_crs is not None and distances is not None:
            raise _UsageProblem("--input-crs applies to lon, lat coordinates, not to a --distances matrix: remove it")
        from siting.models.errors import ScenarioError
        from siting.scenarios.schema import machine_cores

        if threads > (cores := machine_cores()):
            raise ScenarioError(f"--threads {threads} is more than the {cores} cores of this machine; use at most {cores}")
        # coverage models need only the pairs within the radius: a KD-tree cutoff, never the dense matrix
        covering = model.value in ("mclp", "lscp") and radius is not None and radius > 0
        cutoff = radius if covering else None
        if model.value == "mclp" and reach_max is not None and reach_max > 0:
            cutoff = reach_max  # gradual reach: the pairs within reach_max
        steps = None
        if decay_steps is not None:
            from siting.models.formulations.decay import parse_steps

            steps = parse_steps(decay_steps)
            cutoff = steps[-1][0]  # the pairs within the last step
        instance = read_csv_instance(demand, sites, distances, input_crs=input_crs, cutoff=cutoff)
        if model.value == "lscp" and covering:
            from siting.optimizer.coverage_exact import check_covers_something

            check_covers_something(instance, float(radius or 0.0))  # an empty "plan" would look like an answer
        spec = ModelSpec(
            model=model.value,  # type: ignore[arg-type]
            p=p,
            radius=radius,
            budget=budget,
            capacitated=capacitated,
            allow_split=allow_split,
            lscp_objective=objective.value if objective else "cost",  # type: ignore[arg-type]
            formulation=formulation.value if formulation else "auto",  # type: ignore[arg-type]
            min_group_share=min_group_share,
            maxmin_groups=maxmin_groups,
            reach_full=reach_full,
            reach_max=reach_max,
            decay_steps=steps,
            robust_samples=robust_samples,
            robust_noise=0.15 if population_noise is None else population_noise,
            robust_seed=seed,
            robust_objective=robust_objective or "worst",  # type: ignore[arg-type]
        )
        params = SolveParams(time_limit=time_limit, threads=threads, seed=seed)
        if gap is not None:
            params = SolveParams(time_limit=time_limit, mip_gap=gap, threads=threads, seed=seed)
        started = time.perf_counter()

        def say(msg: str) -> None:
            typer.echo(f"[{time.perf_counter() - started:7.1f} s] {msg}", err=True)

        result = solve_model(instance, spec, solver=solver, params=params, progress=None if quiet else say)
    from siting.scenarios.research.child import peak_mb

    peak = peak_mb()  # this process and any solver it ran as a subprocess
    if as_json:
        from siting.scenarios.pipeline.summary import json_safe

        typer.echo(json.dumps(json_safe(result.to_dict() | {"peak_memory_mb": peak, "exit_code": 0}), indent=2))
    else:
        from siting.scenarios.outputs.solve_text import solve_summary

        typer.echo(solve_summary(result, instance))
        typer.echo(f"memory      peak {peak:,.0f} MB (this process and any solver subprocess)")


@app.command()
def solvers() -> None:
    """List the solver backends and heuristics: installed or not, and their versions.

    Example: siting solvers
    """
    from siting.optimizer.solve import solver_table

    with _errors():
        rows = solver_table()
    width = max(len(r["name"]) for r in rows) + 2
    typer.echo(f"{'name':<{width}}{'kind':<11}{'installed':<11}version")
    for r in rows:
        installed = "yes" if r["available"] else "no"
        version = r["version"] if r["available"] else ""
        typer.echo(f"{r['name']:<{width}}{r['kind']:<11}{installed:<11}{version}".rstrip())


def _report(rows: list[dict[str, Any]], out: Path | None) -> None:
    from siting.scenarios.research.benchmark import COLUMNS, summarize

    if out is None:
        from siting.scenarios.outputs.csv_safe import rows_to_csv

        typer.echo(rows_to_csv(COLUMNS, rows), nl=False)
    else:
        typer.echo(f"results written to {out}", err=True)
    typer.echo(summarize(rows), err=True)


def _progress(row: dict[str, Any], done: int, total: int) -> None:
    from siting.scenarios.research.benchmark import format_progress

    typer.echo(format_progress(row, done, total), err=True)


def _split(values: list[str]) -> list[str]:
    """Repeated options and comma-separated lists alike: ``--solver a,b --solver c``."""
    return [s.strip() for v in values for s in v.split(",") if s.strip()]


@benchmark_app.command("orlib-pmed")
def benchmark_orlib(
    directory: Annotated[
        Path, typer.Argument(help="Folder holding pmed1.txt ... pmed40.txt (and optimal_values.csv).")
    ],
    instances: Annotated[
        str | None, typer.Option("--instances", help="Comma-separated names, e.g. pmed1,pmed7; default all.")
    ] = None,
    solver: Annotated[
        list[str] | None,
        typer.Option("--solver", help="NAME or NAME/FORMULATION, repeatable: highs (default), cbc/classic, greedy."),
    ] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", min=0.0, help="Seconds per run.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="CSV file for the results (default: stdout).")] = None,
) -> None:
    """OR-Library p-median instances against their published optima (one process per run).

    Example: siting benchmark orlib-pmed tests/data/orlib --instances pmed1 --solver highs --solver greedy
    """
    from siting.scenarios.research.benchmark import run_orlib

    with _errors():
        rows = run_orlib(
            directory,
            instances=_split([instances]) if instances else None,
            solvers=_split(solver or ["highs"]),
            time_limit=time_limit,
            progress=_progress,
            out=out,
        )
    _report(rows, out)


@benchmark_app.command("tsplib")
def benchmark_tsplib(
    file: Annotated[
        Path, typer.Argument(help="A TSPLIB .tsp file (optimal_values.csv next to it gives known optima).")
    ],
    p: Annotated[list[int], typer.Option("--p", min=1, help="Number of medians, repeatable.")],
    solver: Annotated[
        list[str] | None, typer.Option("--solver", help="NAME or NAME/FORMULATION, repeatable; default highs.")
    ] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", min=0.0, help="Seconds per run.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="CSV file for the results (default: stdout).")] = None,
) -> None:
    """A TSPLIB instance as a p-median (floor of Euclidean distances) for each --p.

    Example: siting benchmark tsplib tests/data/tsplib/rl1304.tsp --p 500 --solver highs --time-limit 600
    """
    from siting.scenarios.research.benchmark import run_tsplib

    with _errors():
        rows = run_tsplib(
            file, p_values=p, solvers=_split(solver or ["highs"]), time_limit=time_limit, progress=_progress, out=out
        )
    _report(rows, out)


# ------------------------------------------------------------------------------ scenario files
def _progress_for(quiet: bool) -> Any:
    """Progress on stderr; ``--quiet`` hides the steps but never the notes (warnings)."""
    from siting.scenarios.pipeline.progress import NotesOnlyProgress, RichProgress

    return NotesOnlyProgress() if quiet else RichProgress()


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON Schema to this file instead of stdout.")] = None,
    run_record: Annotated[
        bool, typer.Option("--run-record", help="The schema of summary.json (a run's record) instead.")
    ] = False,
) -> None:
    """Print (or write) the JSON Schema of scenario files, generated from the scenario models.

    Editors validate and complete scenario.yaml files whose first line is
    `# yaml-language-server: $schema=PATH/scenario.schema.json`. With --run-record: the schema of
    the summary.json a run writes.

    Example: siting schema --out scenario.schema.json
    """
    from siting.scenarios.schema import schema_text

    if run_record:
        from siting.scenarios.pipeline.record import record_schema_text

        text = record_schema_text()
    else:
        text = schema_text()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"schema written to {out}", err=True)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="New folder for the example scenario (must not exist or be empty).")],
    example: Annotated[
        str, typer.Option("--example", help="Which example: helsinki, wuhai (Chinese report) or kotka.")
    ] = "helsinki",
) -> None:
    """Copy a working example scenario folder to DIR, to edit and run.

    Example: siting init my_scenario --example wuhai && siting run my_scenario/scenario.yaml
    """
    from siting.scenarios.pipeline.starters import init_example

    with _errors():
        source, target = init_example(directory, example)
    typer.echo(f"example scenario copied from {source} to {target}")
    typer.echo(f"run it with: siting run {target / 'scenario.yaml'}")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The scenario file (YAML).")],
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Name of an override under scenarios: to merge first.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
) -> None:
    """Check a scenario file: schema, layers and data, distances; no solving.

    Prints the counts of demand points and eligible sites per service, and every warning.

    Example: siting validate tests/data/scenarios/tiny/scenario.yaml --scenario euclidean
    """
    from siting.scenarios.pipeline.run import describe, validate_scenario

    with _errors():
        built = validate_scenario(file, scenario, progress=_progress_for(quiet))
    typer.echo(describe(built))
    typer.echo("ok: the scenario is valid")


# options shared by several commands (run, sweep, compare, batch, sensitivity, whatif)
_Engine = Annotated[str, typer.Option("--engine", help="local: in this process; dask: a local Dask cluster (or --scheduler).")]
_Scheduler = Annotated[str | None, typer.Option("--scheduler", help="A running Dask scheduler, e.g. tcp://host:8786.")]
_Workers = Annotated[int | None, typer.Option("--workers", help="Worker processes of the local Dask cluster (default 2).")]
_Limit = Annotated[float | None, typer.Option("--time-limit", help="Seconds per variant, overriding solver.time_limit.")]
_Quiet = Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")]
_File = Annotated[Path, typer.Argument(help="The scenario file (YAML).")]
_Scenario = Annotated[str | None, typer.Option("--scenario", help="Name of an override under scenarios: to merge first.")]
_Stability = Annotated[
    Path | None, typer.Option("--stability", help="A `siting sensitivity` folder: the report shows each site's share of its variants.")
]


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="The scenario file (YAML).")],
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Name of an override under scenarios: to merge first.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: output.folder, relative to the scenario file).")
    ] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver, overriding solver.name.")] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", min=0.0, help="Seconds for the whole run once the input is read, overriding solver.time_limit.")
    ] = None,
    split: Annotated[
        bool,
        typer.Option(
            "--split",
            help="Solve each service on its own with budget.total split in advance (the pre-joint path), "
            "instead of all services jointly on the shared plots.",
        ),
    ] = False,
    alternatives: Annotated[
        int,
        typer.Option(
            "--alternatives", min=0,
            help="Also find K distinct plans within --tolerance of the best: alternatives.csv and site_frequency.csv.",
        ),
    ] = 0,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, max=0.99, help="Relative shortfall from the best an alternative may have."),
    ] = 0.02,
    lang: Annotated[
        Lang | None,
        typer.Option(
            "--lang", help="Language of report.html, map.png, plan.xlsx and this summary (default: output.lang)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
    stability: _Stability = None,
) -> None:
    """Solve a scenario file and write plan.csv, plan.xlsx, uncovered.csv, summary.json, plan.gpkg, map.png, report.html.

    Scenarios with several services, budget.phases or a complete_circle / phased objective are
    solved jointly: all services on the shared plots under one budget (--split solves them one by
    one instead). plan.csv is then the ranked site plan. The output folder must be new, empty or an
    earlier run's: only the files listed in its .siting-manifest.json are replaced, once the new
    output is complete; any other folder is refused before solving.

    Example: siting run scenarios/examples/wuhai/scenario.yaml --out wuhai_plan --alternatives 5
    """
    from siting.scenarios.pipeline.run import run_scenario

    with _errors():
        result = run_scenario(
            file, scenario, out=out, solver=solver, time_limit=time_limit, progress=_progress_for(quiet),
            split=split, alternatives=alternatives, tolerance=tolerance, lang=lang.value if lang else None,
            stability=stability,
        )
    from siting.scenarios.outputs.console import run_lines

    summary = result.summary  # the lines in --lang, else in the scenario's output.lang (like the report)
    from siting.scenarios.pipeline.summary import failed_checks

    for line in run_lines(summary, result.mode, result.out_dir, failed_checks(summary), lang.value if lang else None):
        typer.echo(line)


@app.command()
def sweep(
    file: _File,
    budget: Annotated[str, typer.Option("--budget", help="FROM:TO:STEPS: STEPS evenly spaced total budgets, both ends included.")],
    scenario: _Scenario = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: output.folder with _sweep appended).")] = None,
    solver: Annotated[str | None, typer.Option("--solver", help="Solver, overriding solver.name.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", min=0.0, help="Seconds for the whole sweep once the input is read (with --engine: per budget).")] = None,
    quiet: _Quiet = False,
    engine: Annotated[str | None, typer.Option("--engine", help="local or dask: each budget one batch task (resumable).")] = None,
    scheduler: _Scheduler = None, workers: _Workers = None,
) -> None:
    """The budget frontier: one optimal joint plan per total budget (phase budgets scaled alike), as sweep.csv and
    sweep.png. Coverage never decreases; unproven points show their gap; the knee is where returns diminish.

    Example: siting sweep scenarios/examples/wuhai/scenario.yaml --budget 2e6:1.6e7:8 --out wuhai_sweep
    """
    from siting.scenarios.batch.sweep import run_sweep, sweep_text

    with _errors():
        res = run_sweep(file, budget, scenario, out, solver, time_limit, engine=engine, scheduler=scheduler, workers=workers, quiet=quiet, progress=_progress_for(quiet))
    typer.echo(sweep_text(res))


@app.command()
def report(
    outdir: Annotated[Path, typer.Argument(help="The output folder of a finished `siting run`.")],
    lang: Annotated[Lang | None, typer.Option("--lang", help="Report language (default: the scenario's output.lang).")] = None,
    stability: _Stability = None,
) -> None:
    """Re-render report.html, map.png and plan.xlsx from a finished run's files (plan.csv, summary.json, plan.gpkg).

    Example: siting report out/helsinki --lang zh
    """
    from siting.scenarios.outputs import rerender_in
    from siting.scenarios.outputs.progress_text import report_lines
    from siting.scenarios.outputs.stability import read_stability

    with _errors():
        written, notes, used = rerender_in(outdir, lang.value if lang else None, read_stability(stability) if stability else None)
    errs, outs = report_lines(written, notes, used)  # in the report's language
    for line in errs:
        typer.echo(line, err=True)
    for line in outs:
        typer.echo(line)


@app.command()
def compare(
    file: _File,
    solvers: Annotated[str | None, typer.Option("--solvers", help="Comma-separated solvers; default every installed exact solver and heuristic.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", min=0.0, help="Seconds per solve.")] = None,
    scenario: _Scenario = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: the scenario's output folder + '-compare').")] = None,
    quiet: _Quiet = False,
    engine: Annotated[str, typer.Option("--engine", help="local: one solve after another; dask: side by side.")] = "local",
    scheduler: _Scheduler = None, workers: _Workers = None,
) -> None:
    """Solve the same scenario on several solvers, each in its own process: status, objective, bound,
    gap, seconds, peak memory and overlap with the best plan, in compare.csv, compare.md and compare.png.

    Example: siting compare scenarios/examples/helsinki/scenario.yaml --solvers highs,cbc,cpsat,scip,heuristic --time-limit 60
    """
    from siting.scenarios.research.compare import compare_solvers, default_solvers, stderr_progress

    with _errors():
        result = compare_solvers(
            file, _split([solvers]) if solvers else default_solvers(), scenario=scenario, time_limit=time_limit,
            out=out, progress=stderr_progress(quiet), build_progress=_progress_for(quiet), engine=engine,
            scheduler=scheduler, workers=workers,
        )
    typer.echo((result.out_dir / "compare.md").read_text(encoding="utf-8"), nl=False)
    typer.echo(f"comparison written to {result.out_dir}")


@prepare_app.command("osm")
def prepare_osm_cmd(
    extract: Annotated[Path, typer.Argument(help="An OpenStreetMap extract (.osm.pbf).")],
    out: Annotated[Path, typer.Option("--out", help="New folder for the scenario (must not exist or be empty).")],
    bbox: Annotated[
        str | None, typer.Option("--bbox", help="Read only this box: W,S,E,N in degrees (lon/lat).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
    share: Annotated[
        list[str] | None,
        typer.Option(
            "--share",
            help="A demand group as a share of residents, NAME=VALUE (repeat; replaces the census defaults), "
            "e.g. --share elderly_60plus=0.25 --share infants_0_3=0.02 --share ev_households=0.03.",
        ),
    ] = None,
) -> None:
    """Write a scenario folder from an OpenStreetMap extract: streets, residential buildings with
    estimated residents and demand groups, candidate sites, existing facilities, and a scenario.yaml
    with services, room needs and a placeholder budget with phases that runs.

    Example: siting prepare osm city.osm.pbf --bbox 24.93,60.16,24.96,60.18 --out my_city
    """
    from siting.models.errors import ScenarioError
    from siting.scenarios.pipeline.starters import prepare_osm_scenario

    with _errors():
        box = None
        if bbox is not None:
            try:
                parts = [float(v) for v in bbox.split(",")]
            except ValueError:
                parts = []
            if len(parts) != 4:
                raise ScenarioError(f"--bbox {bbox!r} must be four numbers W,S,E,N in degrees, e.g. 24.93,60.16,24.96,60.18")
            box = (parts[0], parts[1], parts[2], parts[3])
        shares = None
        if share:
            shares = {}
            for item in share:
                key, sep, value = item.partition("=")
                try:
                    shares[key.strip()] = float(value)
                except ValueError:
                    sep = ""
                if not sep:
                    raise ScenarioError(
                        f"--share {item!r} must be NAME=VALUE with VALUE a share from 0 to 1, e.g. elderly_60plus=0.187"
                    )
        path = prepare_osm_scenario(extract, out, bbox=box, progress=_progress_for(quiet), shares=shares)
    typer.echo(f"scenario written to {path}")
    typer.echo(f"run it with: siting run {path}")



# ------------------------------------------------------------------------------ batches (Dask)


@app.command()
def batch(
    file: _File,
    out: Annotated[Path, typer.Option("--out", help="Batch folder (new, or an earlier batch's: resumed).")],
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="KEY=a,b,c or KEY=start:stop:count (KEY: budget.total, services.X.reach_minutes, "
                     "scenario, ...); several make the cross product."),
    ] = None,
    variants: Annotated[Path | None, typer.Option("--variants", help="CSV of variants: one column per KEY.")] = None,
    engine: _Engine = "dask", scheduler: _Scheduler = None, workers: _Workers = None, time_limit: _Limit = None,
    quiet: _Quiet = False,
) -> None:
    """Solve many variants of a scenario, one row each in OUT/results.parquet (plans in OUT/plans/);
    the same command again solves only the variants that are missing or failed.

    Example: siting batch scenarios/examples/wuhai/scenario.yaml --grid budget.total=6e6:1.2e7:4 --grid services.public_toilet.reach_minutes=5,10 --out wuhai_batch
    """
    from siting.scenarios.batch.run import run_batch

    with _errors():
        res = run_batch(file, out, list(grid or []), variants, engine=engine, scheduler=scheduler, workers=workers,
                        time_limit=time_limit, quiet=quiet)
    typer.echo(res.text())


@app.command()
def sensitivity(
    file: _File,
    out: Annotated[Path, typer.Option("--out", help="Output folder (new, or an earlier sensitivity run's).")],
    samples: Annotated[int, typer.Option("--samples", help="Population draws (K).")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the first population draw.")] = 0,
    spread: Annotated[float, typer.Option("--spread", help="Population perturbation (0.15 = ±15 %).")] = 0.15,
    engine: _Engine = "dask", scheduler: _Scheduler = None, workers: _Workers = None, time_limit: _Limit = None,
    quiet: _Quiet = False,
) -> None:
    """How firm is the plan: reaches x0.67 / x1.33, populations ±15 % (K seeded draws), costs ±20 %;
    writes sensitivity.csv, stability.csv (how often each site is chosen) and sensitivity.png.

    Example: siting sensitivity scenarios/examples/wuhai/scenario.yaml --out wuhai_sensitivity
    """
    from siting.scenarios.batch.sensitivity import run_sensitivity, summary_text

    with _errors():
        sens, stab, res = run_sensitivity(file, out, samples=samples, seed=seed, spread=spread, engine=engine,
                                          workers=workers, scheduler=scheduler, time_limit=time_limit, quiet=quiet)
    typer.echo(summary_text(sens, stab, res.out_dir))


@app.command()
def whatif(
    file: _File,
    close: Annotated[list[str] | None, typer.Option("--close", help="An existing facility that closes (id).")] = None,
    add: Annotated[list[str] | None, typer.Option("--add", help="SITE[:SERVICE]: a facility there, outside the budget.")] = None,
    force: Annotated[list[str] | None, typer.Option("--force", help="SITE[:SERVICE]: a facility there, paid from the budget.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: output.folder + '_whatif').")] = None,
    engine: _Engine = "local", time_limit: _Limit = None, quiet: _Quiet = False,
) -> None:
    """What if a facility closes, or a plot gets one? The optimal plan before and after, side by side.

    Example: siting whatif scenarios/examples/helsinki/scenario.yaml --close node/251337995
    """
    from siting.scenarios.batch.whatif import run_whatif

    with _errors():
        table, res = run_whatif(file, out, close=list(close or []), add=list(add or []), force=list(force or []),
                                engine=engine, time_limit=time_limit, quiet=quiet)
    typer.echo(table.to_string(index=False))
    typer.echo(f"written to {res.out_dir} (whatif.csv, results.parquet)")


if __name__ == "__main__":  # pragma: no cover
    app()
