"""Benchmark runner: p-median on OR-Library and TSPLIB instances, each run in its own process.

One row per (instance, p, solver) with columns :data:`COLUMNS`. Every run is a fresh ``spawn``
process that reads the file itself, so ``peak_mb`` is that run's own peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss`` in the child, which includes the interpreter and the solver
libraries, about 100 MB), and a crash or a hung solver costs one row, not the whole benchmark.

Runs against published optima use ``SolveParams(time_limit=..., mip_gap=0.0)``: a positive relative
gap lets a solver stop short of the optimum (HiGHS's default 1e-4 stops pmed35 one unit short).

``matches`` is ``yes`` when the objective equals the known value and the run proved it optimal,
``value`` when the value is equal but not proven, ``no`` otherwise, and empty when no value is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from siting.models.errors import (
    BackendUnavailableError,
    DataError,
    ScenarioError,
)
from siting.scenarios.files import existing_file, write_atomic
from siting.scenarios.research.child import failure_row, peak_mb, run_in_child
from siting.scenarios.research.readers import read_optimal_values, read_orlib_pmed, read_tsplib, read_tsplib_points
from siting.scenarios.research.readers.optima import KnownValue

COLUMNS = (
    "instance",
    "n",
    "p",
    "solver",
    "status",
    "objective",
    "bound",
    "gap",
    "seconds",
    "peak_mb",
    "known_optimum",
    "matches",
    "message",
)
KNOWN_VALUES_FILE = "optimal_values.csv"

Row = dict[str, Any]
ProgressFn = Callable[[Row, int, int], None]


# ------------------------------------------------------------------------------ solver entries
def parse_solver_entry(entry: str) -> tuple[str, str]:
    """``"NAME"`` or ``"NAME/FORMULATION"`` -> (solver name, formulation).

    ``highs`` is the default path (formulation ``auto``); ``cbc/classic`` is the classic assignment
    formulation on PuLP/CBC, as pysal/spopt builds it. Unknown names or formulations raise.
    """
    from siting.optimizer.registry import get_solver, solver_kind
    from siting.optimizer.solve import FORMULATIONS

    text = entry.strip()
    name, formulation = text, "auto"
    if "/" in text:
        name, formulation = (s.strip() for s in text.rsplit("/", 1))
    if formulation not in FORMULATIONS:
        raise ScenarioError(
            f"solver entry {entry!r}: unknown formulation {formulation!r}; write NAME or NAME/FORMULATION "
            f"with FORMULATION one of {', '.join(FORMULATIONS)}"
        )
    try:
        get_solver(name)  # unknown or not installed: fails here, before any run
    except ImportError as exc:
        raise BackendUnavailableError(f"solver {name!r} is not available here ({exc}); run `siting solvers`") from None
    if solver_kind(name) == "heuristic":
        return name.strip().lower(), formulation
    return name, formulation


def _child(
    kind: str, path: str, p: int | None, solver: str, formulation: str, time_limit: float | None, conn: Any
) -> None:
    """Read the instance, solve the p-median, send back one row (runs in a spawned process)."""
    from siting.optimizer.result import SolveParams
    from siting.optimizer.solve import ModelSpec, solve

    row: Row = {}
    try:
        if kind == "orlib":
            instance, p_file = read_orlib_pmed(path)
            p = p_file if p is None else p
        else:
            instance = read_tsplib(path)
        row.update(n=instance.n, p=p)
        result = solve(
            instance,
            ModelSpec("pmedian", p=p, formulation=formulation),  # type: ignore[arg-type]
            solver=solver,
            # An explicit formulation is the textbook model as a peer builds it: no heuristic
            # warm start. The default path ("auto") uses everything siting has.
            params=SolveParams(
                time_limit=time_limit, mip_gap=0.0, options={"siting": {"warm_start": formulation == "auto"}}
            ),
        )
        row.update(
            status=result.status.value,
            objective=result.objective,
            bound=result.bound,
            gap=result.gap,
            seconds=round(result.seconds, 3),
            message=result.message,
        )
    except Exception as exc:  # noqa: BLE001 - a bug or solver failure is reported in the row; the benchmark goes on
        row.update(failure_row(exc))
    row["peak_mb"] = peak_mb()
    conn.send(row)
    conn.close()


def _run_isolated(kind: str, path: Path, p: int | None, solver: str, formulation: str, time_limit: float | None) -> Row:
    """One benchmark run in a fresh spawned process (see :func:`run_in_child`)."""
    return run_in_child(_child, (kind, str(path), p, solver, formulation, time_limit), time_limit)


# ------------------------------------------------------------------------------ rows and checks
def match_known(status: str, objective: float | None, known: float | None) -> str:
    """``yes`` (equal and proven optimal), ``value`` (equal, not proven), ``no``, or ``""`` (no known value).

    Equal means ``|objective - known| <= max(1e-6, 1e-9 |known|)``: the published values are integers,
    and the relative part only absorbs float rounding of sums in the millions.
    """
    if known is None:
        return ""
    if objective is None or abs(objective - known) > max(1e-6, 1e-9 * abs(known)):
        return "no"
    return "yes" if status == "OPTIMAL" else "value"


def _row(
    instance: str, n: int | None, p: int | None, entry: str, known: dict[tuple[str, int], KnownValue], child: Row
) -> Row:
    row: Row = {c: "" for c in COLUMNS}
    row.update(instance=instance, n=n if n is not None else "", p=p if p is not None else "", solver=entry)
    row.update({k: v for k, v in child.items() if k in COLUMNS and v is not None})
    p_final = row["p"]
    kv = known.get((instance, int(p_final))) if p_final != "" else None
    row["known_optimum"] = (int(kv.value) if kv.value.is_integer() else kv.value) if kv is not None else ""
    row["matches"] = match_known(row["status"], child.get("objective"), kv.value if kv else None)
    return row


def write_csv(rows: Iterable[Row], out: str | Path) -> Path:
    """Write rows (columns :data:`COLUMNS`) to ``out``, atomically: a temporary file moved into place."""
    from siting.scenarios.outputs.csv_safe import rows_to_csv

    # text cells cannot start a spreadsheet formula; CRLF line ends as csv.DictWriter wrote them
    return write_atomic(out, rows_to_csv(COLUMNS, rows, lineterminator="\r\n"))


def _known_values(folder: Path) -> dict[tuple[str, int], KnownValue]:
    table = folder / KNOWN_VALUES_FILE
    return read_optimal_values(table) if table.is_file() else {}


def _parse_solvers(solvers: Sequence[str]) -> dict[str, tuple[str, str]]:
    if not solvers:
        raise ScenarioError("no solver given: name at least one, e.g. --solver highs")
    return {entry: parse_solver_entry(entry) for entry in dict.fromkeys(solvers)}


def _run_all(
    tasks: Sequence[tuple[str, Path, str, int | None, int | None, str]],
    parsed: dict[str, tuple[str, str]],
    time_limit: float | None,
    known: dict[tuple[str, int], KnownValue],
    progress: ProgressFn | None,
) -> list[Row]:
    rows: list[Row] = []
    for k, (kind, path, instance, n, p, entry) in enumerate(tasks):  # one process per run
        solver, formulation = parsed[entry]
        child = _run_isolated(kind, path, p if kind == "tsplib" else None, solver, formulation, time_limit)
        row = _row(instance, child.get("n", n), child.get("p", p), entry, known, child)
        rows.append(row)
        if progress is not None:
            progress(row, k + 1, len(tasks))
    return rows


# ------------------------------------------------------------------------------ public runners
_PMED = re.compile(r"^pmed(\d+)\.txt$")


def _check_orlib(path: Path) -> tuple[int, int]:
    """Read the file once in the parent: a malformed file fails the benchmark before any run."""
    instance, p = read_orlib_pmed(path)
    return instance.n, p


def run_orlib(
    directory: str | Path,
    instances: Sequence[str] | None = None,
    solvers: Sequence[str] = ("highs",),
    time_limit: float | None = None,
    progress: ProgressFn | None = None,
    out: str | Path | None = None,
) -> list[Row]:
    """Solve OR-Library p-median instances with each solver; one row per (instance, solver).

    Parameters
    ----------
    directory : folder of ``pmedN.txt`` files; its ``optimal_values.csv`` (if present) gives the
        known optima.
    instances : names such as ``["pmed1", "pmed7"]``; default every ``pmedN.txt`` in the folder.
    solvers : entries ``NAME`` or ``NAME/FORMULATION`` (``highs``, ``cbc/classic``, ``greedy``, ...).
    time_limit : seconds per run (``None``: no limit).
    progress : called as ``progress(row, done, total)`` after each run.
    out : if given, the rows are written there as CSV.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise DataError(f"benchmark folder not found: {folder}; give the folder holding pmed1.txt ... pmed40.txt")
    found = {m.group(0)[:-4]: f for f in folder.iterdir() if (m := _PMED.match(f.name))}
    if instances:
        names = [s.strip().removesuffix(".txt") for s in instances if s.strip()]
        missing = [s for s in names if s not in found]
        if missing:
            raise DataError(
                f"no file {missing[0]}.txt in {folder}; instances found: "
                f"{', '.join(sorted(found, key=lambda s: int(s[4:]))[:10]) or '(none)'}"
                + (" ..." if len(found) > 10 else "")
            )
    else:
        names = sorted(found, key=lambda s: int(s[4:]))
        if not names:
            raise DataError(f"{folder} holds no pmedN.txt files")
    parsed = _parse_solvers(solvers)
    known = _known_values(folder)
    checked = {name: _check_orlib(found[name]) for name in names}
    tasks = [("orlib", found[name], name, *checked[name], entry) for name in names for entry in parsed]
    rows = _run_all(tasks, parsed, time_limit, known, progress)
    if out is not None:
        write_csv(rows, out)
    return rows


def run_tsplib(
    file: str | Path,
    p_values: Sequence[int],
    solvers: Sequence[str] = ("highs",),
    time_limit: float | None = None,
    progress: ProgressFn | None = None,
    out: str | Path | None = None,
) -> list[Row]:
    """Solve a TSPLIB p-median instance for each p with each solver; one row per (p, solver).

    Distances are floor(Euclidean) (see :func:`scenarios.research.readers.read_tsplib`); known values come
    from ``optimal_values.csv`` next to the file, if present (best-known values count as known:
    ``matches`` is ``yes`` only when the run proves optimality).
    """
    path = existing_file(file, "TSPLIB")
    if not p_values:
        raise ScenarioError("no p given: name at least one, e.g. --p 5")
    parsed = _parse_solvers(solvers)
    ids, _ = read_tsplib_points(path)  # a malformed or too large file fails before any run
    bad = [p for p in p_values if not 1 <= int(p) <= len(ids)]
    if bad:
        raise ScenarioError(f"p = {bad[0]} is not between 1 and the {len(ids)} points of {path.name}")
    known = _known_values(path.parent)
    tasks = [("tsplib", path, path.stem, len(ids), int(p), entry) for p in p_values for entry in parsed]
    rows = _run_all(tasks, parsed, time_limit, known, progress)
    if out is not None:
        write_csv(rows, out)
    return rows


# ------------------------------------------------------------------------------ reporting
def _num(v: Any) -> str:
    return f"{v:.10g}" if isinstance(v, float) else str(v)


def format_progress(row: Row, done: int, total: int) -> str:
    """One line per finished run, e.g. ``[1/3] pmed1 p=5 highs: OPTIMAL 5819 (known 5819: yes) 0.4 s 110 MB``."""
    obj = _num(row["objective"]) if row["objective"] != "" else "-"
    known = f" (known {_num(row['known_optimum'])}: {row['matches']})" if row["known_optimum"] != "" else ""
    seconds = f" {row['seconds']:.1f} s" if isinstance(row["seconds"], (int, float)) else ""
    mem = f" {row['peak_mb']:.0f} MB" if isinstance(row["peak_mb"], (int, float)) else ""
    msg = f" - {row['message']}" if row["status"] not in ("OPTIMAL",) and row["message"] else ""
    return f"[{done}/{total}] {row['instance']} p={row['p']} {row['solver']}: {row['status']} {obj}{known}{seconds}{mem}{msg}"


def summarize(rows: Sequence[Row]) -> str:
    """The total line: runs, how many match the known values, errors and solver time."""
    count = {k: sum(1 for r in rows if r["matches"] == k) for k in ("yes", "value", "no")}
    errors = sum(1 for r in rows if r["status"] in ("ERROR", "NO_SOLUTION", "INFEASIBLE"))
    seconds = sum(r["seconds"] for r in rows if isinstance(r["seconds"], (int, float)))
    return (
        f"{len(rows)} run(s): {count['yes']} proven equal to the known optimum, {count['value']} equal but not "
        f"proven, {count['no']} different; {errors} without a solution; {seconds:.1f} s solving in total"
    )
