"""Run a scenario file end to end: read, check, measure, solve each service, write the plan.

:func:`run_scenario` is what ``siting run scenario.yaml`` calls. Per service it solves

* ``max_coverage``: a maximal covering model (MCLP): at most ``max_sites`` new sites and / or new
  sites costing at most the service's budget, maximising the people of its demand group within
  reach (existing facilities count from the start);
* ``pmedian``: a p-median with ``p = max_sites`` (and the budget, if any): least total walking
  distance ``sum_i w_i d(i, nearest facility)``; capacitated when the service has a ``capacity``;
* ``min_cost``: a set covering model (LSCP): the least-cost set of new sites that covers every
  person who can be covered at all (the fewest sites when costs are unknown); who cannot is reported.

Services are solved one after another, each on its own budget (``budget.per_service``, or a fixed
share of ``budget.total``: see :func:`scenarios.build.resolve_budgets`). Choosing the split
optimally, sharing plots between services and phasing come with the joint model of issue 4.

Outputs, written into a temporary folder beside the target and moved into place only when complete
(an existing output folder is replaced only on success, and nothing is left behind on error):

* ``plan.csv``: one row per chosen (site, service), ranked within the service by marginal coverage
  (ties by id), with cost and coverage, each also cumulative;
* ``uncovered.csv``: per service, the demand points with people of its group that are not within reach
  of any open facility, and why;
* ``summary.json``: the resolved scenario, each service's solve record and coverage, warnings,
  SHA-256 of every input file, package versions.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from models.errors import BackendUnavailableError, ScenarioError
from models.evaluate import evaluate
from optimizer.result import SolveParams
from scenarios.build import BuiltScenario, NullProgress, ServiceProblem, build
from scenarios.layers import natural_key
from scenarios.schema import ScenarioBody, load_scenario

PLAN_COLUMNS = (
    "service", "rank", "site_id", "land_type", "area_m2", "cost", "cumulative_cost", "demand_group",
    "covered", "cumulative_covered", "coverage_share", "lon", "lat",
)
UNCOVERED_COLUMNS = ("service", "demand_id", "demand_group", "people", "reason", "nearest_open_m")
VERSION_PACKAGES = (
    "siting", "numpy", "scipy", "pandas", "geopandas", "pyogrio", "shapely", "pyproj", "pydantic", "highspy",
    "pulp", "ortools",
)
#: Why a demand point is uncovered, as written to uncovered.csv.
REASONS = {
    "off_network": "farther than distance.max_snap_m from every street",
    "no_site_in_reach": "no eligible or existing site within reach",
    "not_chosen": "coverable, but no site within reach was chosen (budget or max_sites)",
}


# ------------------------------------------------------------------------------ progress
class RichProgress(NullProgress):
    """Progress on stderr: rich spinners and bars on a terminal, plain status lines otherwise."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True, soft_wrap=True)

    @contextmanager
    def step(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        started = time.perf_counter()
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}")]
            if total:
                columns += [BarColumn(), MofNCompleteColumn()]
            columns.append(TimeElapsedColumn())
            with Progress(*columns, console=self.console, transient=True) as bar:
                task = bar.add_task(label, total=total)
                yield lambda k=1: bar.advance(task, k)
            self.console.print(f"[green]✓[/green] {label} ({time.perf_counter() - started:.1f} s)", highlight=False)
        else:
            yield lambda k=1: None
            self.console.print(f"{label}: done in {time.perf_counter() - started:.1f} s", highlight=False, markup=False)

    def note(self, text: str) -> None:
        self.console.print(f"note: {text}", highlight=False, markup=False)


# ------------------------------------------------------------------------------- results
@dataclass(eq=False)
class ServiceOutcome:
    """What one service's solve produced.

    Attributes
    ----------
    problem : the service's problem.
    result : the solver's result (``optimizer.solve.SitingResult``), None when ``max_sites`` is 0.
    order : column indices of the plan's new sites, in rank order.
    gains : people newly covered by each, in that order.
    covered_before : people of the group within reach of an existing facility.
    covered_after : people within reach of the plan (existing + new).
    covered : (n,) demand points within reach after the plan.
    coverable : (n,) demand points some eligible or existing site reaches.
    check : the evaluator's recount of the final plan (``models.evaluate.PlanMetrics``).
    notes : what happened (sites dropped because they add nothing, limits not binding, ...).
    """

    problem: ServiceProblem
    result: Any
    order: NDArray[np.int64]
    gains: NDArray[np.float64]
    covered_before: float
    covered_after: float
    covered: NDArray[np.bool_]
    coverable: NDArray[np.bool_]
    check: Any
    notes: list[str] = field(default_factory=list)


@dataclass(eq=False)
class RunResult:
    """A finished run: where its outputs are, and what they say."""

    out_dir: Path
    built: BuiltScenario
    outcomes: dict[str, ServiceOutcome]
    plan: pd.DataFrame
    uncovered: pd.DataFrame
    summary: dict[str, Any]
    warnings: list[str]


# -------------------------------------------------------------------------------- solving
def check_solver(name: str, where: str) -> str:
    """The solver name, checked: a heuristic, or an installed exact backend."""
    from optimizer.registry import get_backend
    from optimizer.solve import HEURISTIC_SOLVERS

    clean = name.strip()
    if clean.lower() in HEURISTIC_SOLVERS:
        return clean.lower()
    try:
        get_backend(clean)
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(f"{where}: {exc}") from None
    return clean


def model_spec(built: BuiltScenario, problem: ServiceProblem) -> Any:
    """The ``optimizer.solve.ModelSpec`` of a service under the scenario's objective."""
    from optimizer.solve import ModelSpec

    objective = built.scenario.objective
    if objective == "max_coverage":
        return ModelSpec("mclp", p=problem.max_sites, radius=problem.reach_m, budget=problem.budget)
    if objective == "pmedian":
        return ModelSpec(
            "pmedian", p=problem.max_sites, budget=problem.budget, capacitated=problem.service.capacity is not None
        )
    if objective == "min_cost":
        return ModelSpec("lscp", radius=problem.reach_m, lscp_objective="cost" if problem.cost_known else "count")
    raise ScenarioError(  # build() already refuses these; kept for direct callers
        f"objective {objective} arrives with the joint multi-service model (issue 4); use max_coverage, pmedian or min_cost"
    )


def coverage_matrix(problem: ServiceProblem) -> sp.csc_array:
    """Bool (n, m) CSC: ``a_ij = 1`` iff column j is within the service's reach of demand i."""
    return sp.csc_array(problem.instance.coverage(problem.reach_m))


def rank_sites(
    cover: sp.csc_array, weights: NDArray[np.float64], start: NDArray[np.bool_], chosen: NDArray[np.int64], ids: NDArray[Any]
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.bool_]]:
    """Order chosen sites by marginal coverage, greedily.

    Starting from the demand ``start`` already covered (by existing facilities), repeatedly take the
    chosen site j with the largest gain ``g_j = sum_{i not yet covered} w_i a_ij`` (ties: the smaller
    id in natural order), then mark its demand covered. Gains are non-increasing down the list and
    add up to the coverage of the whole plan.

    Returns
    -------
    order : the chosen columns in rank order.
    gains : people newly covered by each.
    covered : (n,) covered after all of them.
    """
    covered = start.copy()
    left = list(chosen)
    tie = {int(j): natural_key(ids[j]) for j in chosen}
    order: list[int] = []
    gains: list[float] = []
    sub = cover[:, np.asarray(left, dtype=np.int64)] if left else None
    while left:
        assert sub is not None
        open_weight = np.where(covered, 0.0, weights)
        g = np.asarray(sub.T @ open_weight, dtype=np.float64).ravel()
        best_gain = g.max()
        ties = [k for k in range(len(left)) if abs(g[k] - best_gain) <= 1e-9 * max(1.0, abs(best_gain))]
        k = min(ties, key=lambda t: tie[int(left[t])])
        j = int(left[k])
        order.append(j)
        gains.append(float(g[k]))
        col = cover[:, [j]]
        covered[col.indices] = True
        keep = [t for t in range(len(left)) if t != k]
        left = [left[t] for t in keep]
        sub = sub[:, keep] if left else None
    return np.asarray(order, dtype=np.int64), np.asarray(gains, dtype=np.float64), covered


def solve_service(
    built: BuiltScenario, problem: ServiceProblem, solver: str, params: SolveParams, progress: Any
) -> ServiceOutcome:
    """Solve one service, rank its plan and recount it with the evaluator."""
    from optimizer.solve import solve

    inst = problem.instance
    notes: list[str] = []
    cover = coverage_matrix(problem)
    w = inst.weights
    existing_cols = np.flatnonzero(inst.existing)
    before_mask = np.zeros(inst.n, dtype=bool)
    if existing_cols.size:
        before_mask[cover[:, existing_cols].tocoo().row] = True
    coverable = np.zeros(inst.n, dtype=bool)
    coverable[cover.tocoo().row] = True
    spec = model_spec(built, problem)
    result = None
    if problem.max_sites == 0 and built.scenario.objective != "min_cost":
        notes.append("max_sites is 0: no new site is planned")
        chosen = np.zeros(0, dtype=np.int64)
    else:
        label = {"mclp": "maximal covering", "pmedian": "p-median", "lscp": "least-cost covering"}[spec.model]
        with progress.step(f"solving {problem.name} ({label}, {inst.n} demand x {inst.m} sites)"):
            result = solve(inst, spec, solver=solver, params=params)
        chosen = np.flatnonzero(result.open_sites & ~inst.existing)
    order, gains, covered = rank_sites(cover, w, before_mask, chosen, inst.site_ids)
    if built.scenario.objective == "max_coverage" and gains.size and (gains <= 0).any():
        # the MCLP is indifferent to sites that add nobody once the others are open: do not build them
        useless = order[gains <= 0]
        notes.append(
            f"{useless.size} site(s) the solver opened add no coverage after the others and are left out: "
            + ", ".join(str(inst.site_ids[j]) for j in useless)
        )
        keep = gains > 0
        order, gains = order[keep], gains[keep]
    final = np.zeros(inst.m, dtype=bool)
    final[existing_cols] = True
    final[order] = True
    p_check = spec.p if spec.model in ("mclp", "pmedian") else None
    check = evaluate(inst, final, radius=problem.reach_m, p=p_check, budget=spec.budget)
    before = float(w[before_mask].sum())
    after = float(check.covered_weight or 0.0)
    if not math.isclose(before + float(gains.sum()), after, rel_tol=1e-9, abs_tol=1e-6):
        notes.append(f"ranked gains add up to {before + gains.sum():.10g}, the evaluator counts {after:.10g}")
    svc = problem.service
    cost = float(inst.cost[order].sum())
    if spec.model == "lscp":
        if problem.max_sites is not None and order.size > problem.max_sites:
            notes.append(f"covering everything coverable needs {order.size} new sites, more than max_sites = {problem.max_sites}")
        if problem.budget is not None and cost > problem.budget:
            notes.append(f"covering everything coverable costs {cost:,.0f}, more than the budget {problem.budget:,.0f}")
    if svc.min_sites and order.size < svc.min_sites:
        notes.append(
            f"the plan opens {order.size} new sites, fewer than min_sites = {svc.min_sites} (min_sites is enforced "
            "by the joint model of issue 4; here more sites would add no coverage or break a limit)"
        )
    return ServiceOutcome(
        problem=problem,
        result=result,
        order=order,
        gains=gains,
        covered_before=before,
        covered_after=after,
        covered=np.asarray(check.covered, dtype=bool) if check.covered is not None else covered,
        coverable=coverable,
        check=check,
        notes=notes,
    )


# -------------------------------------------------------------------------------- tables
def plan_table(built: BuiltScenario, outcomes: dict[str, ServiceOutcome]) -> pd.DataFrame:
    """One row per chosen (site, service), ranked within each service."""
    sites_ll = built.layers.sites.geometry.to_crs(4326)
    lon = pd.Series(sites_ll.x.to_numpy(), index=built.layers.sites.index)
    lat = pd.Series(sites_ll.y.to_numpy(), index=built.layers.sites.index)
    rows: list[dict[str, Any]] = []
    for name, oc in outcomes.items():
        pb = oc.problem
        inst = pb.instance
        total = pb.group_total
        cum_cost = 0.0
        cum_cov = 0.0
        for rank, (j, gain) in enumerate(zip(oc.order, oc.gains), start=1):
            sid = str(inst.site_ids[j])
            c = float(inst.cost[j])
            cum_cost += c
            cum_cov += float(gain)
            rows.append({
                "service": name,
                "rank": rank,
                "site_id": sid,
                "land_type": pb.land_types[j],
                "area_m2": pb.area_m2[j],
                "cost": c if pb.cost_known else np.nan,
                "cumulative_cost": cum_cost if pb.cost_known else np.nan,
                "demand_group": pb.demand_group,
                "covered": float(gain),
                "cumulative_covered": cum_cov,
                "coverage_share": (oc.covered_before + cum_cov) / total if total > 0 else np.nan,
                "lon": float(lon[sid]),
                "lat": float(lat[sid]),
            })
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


def uncovered_table(built: BuiltScenario, outcomes: dict[str, ServiceOutcome]) -> pd.DataFrame:
    """Per service, the demand points with people of its group outside the reach of every open facility."""
    from models.evaluate import nearest_open

    off = set(built.unsnapped_demand)
    frames: list[pd.DataFrame] = []
    for name, oc in outcomes.items():
        pb = oc.problem
        inst = pb.instance
        w = inst.weights
        # p-median leaves out demand that reaches no site: count its people from the layer
        people = built.layers.demand[pb.demand_group].to_numpy(dtype=np.float64)
        miss = ~oc.covered & (people > 0)
        if not miss.any():
            continue
        ids = pb.demand_ids.to_numpy()[miss]
        reason = np.where(oc.coverable[miss], "not_chosen", "no_site_in_reach").astype(object)
        if off:
            reason[np.isin(ids, list(off))] = "off_network"
        _, dist = nearest_open(inst, oc.check.open_sites)
        near = dist[miss]
        frames.append(pd.DataFrame({
            "service": name,
            "demand_id": ids,
            "demand_group": pb.demand_group,
            "people": people[miss],
            "reason": reason,
            "nearest_open_m": np.where(np.isfinite(near), near, np.nan),
        }))
        del w
    if not frames:
        return pd.DataFrame(columns=list(UNCOVERED_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    # service in scenario order, most people first, then ids in natural order (numbers numerically)
    service_rank = out["service"].map({s: k for k, s in enumerate(outcomes)}).to_numpy()
    ids = out["demand_id"].astype(str)
    as_number = pd.to_numeric(ids, errors="coerce").to_numpy(dtype=np.float64)
    is_text = ~np.isfinite(as_number)
    order = np.lexsort((ids.to_numpy(), np.where(is_text, 0.0, as_number), is_text, -out["people"].to_numpy(), service_rank))
    return out.iloc[order].reset_index(drop=True)


def _csv(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    return buf.getvalue().encode("utf-8")


# ------------------------------------------------------------------------------- summary
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in VERSION_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _service_summary(built: BuiltScenario, oc: ServiceOutcome) -> dict[str, Any]:
    pb = oc.problem
    res = oc.result
    total = pb.group_total
    record: dict[str, Any] = {
        "demand_group": pb.demand_group,
        "reach_m": pb.reach_m,
        "demand_points": pb.instance.n,
        "candidate_sites": pb.n_candidates,
        "existing_facilities": pb.n_existing,
        "budget": pb.budget,
        "budget_source": pb.budget_source,
        "max_sites": pb.max_sites,
        "people": total,
        "coverage": {
            "before": oc.covered_before,
            "after": oc.covered_after,
            "share_before": oc.covered_before / total if total > 0 else None,
            "share_after": oc.covered_after / total if total > 0 else None,
        },
        "new_sites": int(oc.order.size),
        "cost": float(pb.instance.cost[oc.order].sum()) if pb.cost_known else None,
        "plan_check": {
            "covered_weight": oc.check.covered_weight,
            "weighted_distance_m": oc.check.weighted_distance,
            "violations": list(oc.check.violations),
        },
        "notes": list(pb.notes) + list(oc.notes),
    }
    if res is None:
        record["solve"] = None
    else:
        record["solve"] = {
            "model": res.spec.model,
            "status": res.status.value,
            "limit": res.limit.value,
            "objective": res.objective,
            "bound": res.bound,
            "gap": res.gap,
            "seconds": round(res.seconds, 4),
            "solver": res.solver,
            "solver_version": res.solver_version,
            "verified": bool(res.verified) and not oc.check.violations,
            "message": res.message,
        }
    return record


def summary_dict(
    built: BuiltScenario,
    outcomes: dict[str, ServiceOutcome],
    scenario_path: Path,
    override: str | None,
    solver: str,
    params: SolveParams,
    warnings: list[str],
    seconds: dict[str, float],
) -> dict[str, Any]:
    base = built.base_dir
    files = [scenario_path.resolve(), *built.input_files]
    inputs: dict[str, str] = {}
    for f in files:
        try:
            key = str(f.resolve().relative_to(base))
        except ValueError:
            key = str(f.resolve())
        inputs[key] = sha256(f)
    body = built.scenario
    split = body.budget.total is not None and any(
        s not in body.budget.per_service for s in body.services
    )
    return _plain({
        "scenario": body.model_dump(mode="json"),
        "scenario_file": scenario_path.name,
        "override": override,
        "crs": built.layers.crs.to_string(),
        "distance": {
            "method": built.distance_method,
            "walking_speed_kmh": body.distance.walking_speed_kmh,
            "max_snap_m": body.distance.max_snap_m,
            "network": built.network,
            "unsnapped_demand": built.unsnapped_demand,
            "unsnapped_sites": built.unsnapped_sites,
        },
        "objective": body.objective,
        "budget_split": (
            "budget.total is split across services in advance, in proportion to weight x people served; "
            "the joint multi-service model that optimises the split comes in issue 4"
            if split
            else None
        ),
        "solver": {
            "name": solver,
            "time_limit": params.time_limit,
            "mip_gap": params.mip_gap,
            "threads": params.threads,
        },
        "seed": params.seed,
        "services": {name: _service_summary(built, oc) for name, oc in outcomes.items()},
        "warnings": warnings,
        "inputs_sha256": inputs,
        "versions": versions(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    })


# --------------------------------------------------------------------------------- output
def output_dir(body: ScenarioBody, base_dir: Path, out: str | Path | None) -> Path:
    """Where the outputs go: ``out`` (relative to the working directory), else ``output.folder``
    relative to the scenario file."""
    if out is not None:
        return Path(out).expanduser().resolve()
    folder = Path(body.output.folder).expanduser()
    return (folder if folder.is_absolute() else base_dir / folder).resolve()


def write_atomically(target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into a temporary folder beside ``target``, then move it into place.

    An existing ``target`` folder is replaced only once the new one is complete; on any error the
    temporary folder (and any parent folder created for it) is removed and ``target`` is untouched.
    """
    if target.exists() and not target.is_dir():
        raise ScenarioError(f"output folder {target} is a file; give a folder with --out or output.folder")
    parent = target.parent
    created: list[Path] = []
    p = parent
    while not p.exists():
        created.append(p)
        p = p.parent
    tmp: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if target.exists():
            old = parent / f".{target.name}.{uuid.uuid4().hex[:8]}.old"
            target.rename(old)
            try:
                tmp.rename(target)
            except BaseException:
                old.rename(target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
        _usual_mode(target)
        tmp = None
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        for c in created:  # deepest first
            try:
                c.rmdir()
            except OSError:
                break
        raise


# ------------------------------------------------------------------------------------ run
def run_scenario(
    path: str | Path,
    scenario: str | None = None,
    out: str | Path | None = None,
    solver: str | None = None,
    time_limit: float | None = None,
    progress: Any = None,
) -> RunResult:
    """Run a scenario file and write its plan.

    Parameters
    ----------
    path : the scenario YAML file.
    scenario : name of an override under ``scenarios:`` to merge on top of the base.
    out : output folder (default: the scenario's ``output.folder``, relative to the file).
    solver : solver name overriding ``solver.name``.
    time_limit : seconds per solve, overriding ``solver.time_limit``.
    progress : progress reporter (:class:`RichProgress`, or silent by default).

    Returns
    -------
    RunResult
        Where the outputs went, the plan and uncovered tables, and the summary written.

    Raises
    ------
    ScenarioError, DataError : bad scenario or data (nothing is written).
    BackendUnavailableError : unknown or missing solver.
    InfeasibleError, NoSolutionError : a service could not be solved.
    """
    started = time.perf_counter()
    progress = progress or NullProgress()
    path = Path(path)
    body, base_dir = load_scenario(path, scenario)
    source = path.name
    chosen_solver = check_solver(
        solver if solver is not None else body.solver.name, "--solver" if solver is not None else f"{source}: solver.name"
    )
    if time_limit is not None and not (time_limit > 0):
        raise ScenarioError(f"--time-limit {time_limit} must be a positive number of seconds")
    target = output_dir(body, base_dir, out)
    if target.exists() and not target.is_dir():
        raise ScenarioError(f"output folder {target} is a file; give a folder with --out or output.folder")
    params = SolveParams(
        time_limit=time_limit if time_limit is not None else body.solver.time_limit,
        mip_gap=body.solver.mip_gap,
        threads=body.solver.threads,
        seed=body.solver.seed,
    )
    built = build(body, base_dir, progress, source=source)
    warnings = list(built.warnings)
    for w in warnings:
        progress.note(w)
    outcomes: dict[str, ServiceOutcome] = {}
    t0 = time.perf_counter()
    for name, problem in built.services.items():
        outcomes[name] = solve_service(built, problem, chosen_solver, params, progress)
    seconds = dict(built.seconds)
    seconds["solve"] = time.perf_counter() - t0
    plan = plan_table(built, outcomes)
    uncovered = uncovered_table(built, outcomes)
    seconds["total"] = time.perf_counter() - started
    summary = summary_dict(built, outcomes, path, scenario, chosen_solver, params, warnings, seconds)
    files = {
        "plan.csv": _csv(plan),
        "uncovered.csv": _csv(uncovered),
        "summary.json": (json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"),
    }
    write_atomically(target, files)
    return RunResult(
        out_dir=target,
        built=built,
        outcomes=outcomes,
        plan=plan,
        uncovered=uncovered,
        summary=summary,
        warnings=warnings,
    )


def validate_scenario(path: str | Path, scenario: str | None = None, progress: Any = None) -> BuiltScenario:
    """Schema, layers and data checks of a scenario file, without solving (``siting validate``)."""
    path = Path(path)
    body, base_dir = load_scenario(path, scenario)
    check_solver(body.solver.name, f"{path.name}: solver.name")
    return build(body, base_dir, progress or NullProgress(), source=path.name)


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
        "distances   " + (
            f"walking over the street network ({built.network['nodes']} nodes, {built.network['km']:g} km)"
            if built.network
            else "straight line"
        ),
    ]
    for name, pb in built.services.items():
        limit = []
        if pb.max_sites is not None:
            limit.append(f"at most {pb.max_sites} new")
        if pb.budget is not None:
            limit.append(f"budget {pb.budget:,.0f}")
        lines.append(
            f"service     {name}: {pb.demand_group} within {pb.reach_m:,.0f} m; {pb.n_candidates} eligible sites, "
            f"{pb.n_existing} existing" + (f"; {', '.join(limit)}" if limit else "")
        )
    for w in built.warnings:
        lines.append(f"warning     {w}")
    return "\n".join(lines)


# ------------------------------------------------------------------------ OSM -> scenario
#: Services written by ``siting prepare osm``, with reaches from GB 50180-2018 and the domain notes
#: (minutes of walking at 4 km/h), illustrative costs in yuan by land type of
#: :data:`scenarios.osm.LAND_TYPES`, a cost for any other land type, a minimum plot area and a count limit.
OSM_SERVICES: dict[str, dict[str, Any]] = {
    "public_toilet": {
        "reach_minutes": 5,
        "cost_by_land_type": {"parking_lot": 300_000, "idle_land": 350_000, "construction_site": 350_000,
                              "disused_building": 250_000, "warehouse": 250_000},
        "default_cost": 400_000,
        "min_area_m2": 30,
        "max_sites": 5,
    },
    "elderly_care": {
        "reach_minutes": 15,
        "cost_by_land_type": {"warehouse": 1_200_000, "factory": 1_500_000, "disused_building": 1_000_000,
                              "idle_land": 2_000_000},
        "default_cost": 2_500_000,
        "min_area_m2": 200,
        "max_sites": 3,
    },
    "childcare": {
        "reach_minutes": 10,
        "cost_by_land_type": {"warehouse": 800_000, "disused_building": 700_000, "factory": 1_000_000,
                              "idle_land": 1_200_000},
        "default_cost": 1_500_000,
        "min_area_m2": 100,
        "max_sites": 3,
    },
    "ev_charging": {
        "reach_minutes": 10,
        "cost_by_land_type": {"parking_lot": 150_000, "idle_land": 200_000, "industrial_land": 200_000,
                              "construction_site": 200_000},
        "default_cost": 300_000,
        "min_area_m2": 30,
        "max_sites": 5,
    },
}


def osm_scenario_yaml(name: str, prepared: Any, schema_ref: str) -> str:
    """The text of a scenario.yaml for the layers :func:`scenarios.osm.prepare_osm` wrote.

    Every service serves ``residents`` (the only demand group an OSM extract gives); a minimum plot
    area no candidate meets is dropped (with a comment) so that the scenario runs as written.
    """
    import geopandas as gpd
    import yaml

    sites = gpd.read_file(prepared.sites.path, layer=prepared.sites.layer) if prepared.sites.count else None
    areas = sites["area_m2"].to_numpy(dtype=float) if sites is not None else np.zeros(0)
    services: dict[str, Any] = {}
    comments: list[str] = []
    present = {t for t, c in getattr(prepared, "land_type_counts", {}).items() if c}
    for svc, spec in OSM_SERVICES.items():
        entry = {"demand_group": "residents", **spec}
        if present:  # list only the land types the extract has; default_cost prices any other
            entry["cost_by_land_type"] = {t: c for t, c in spec["cost_by_land_type"].items() if t in present}
        if not (areas >= spec["min_area_m2"]).any():
            entry["min_area_m2"] = 0
            comments.append(f"# {svc}: no candidate plot has {spec['min_area_m2']} m² or more, so min_area_m2 is 0")
        services[svc] = entry
    doc = {
        "name": name,
        "description": (
            f"Generated by `siting prepare osm` from {prepared.source.name}. Residents are estimated from "
            "building footprints x levels (see README.md); costs are illustrative: replace them with local figures."
        ),
        "layers": {
            "demand": {"path": prepared.demand.path.name, "layer": prepared.demand.layer, "id": "id",
                       "groups": {"residents": "residents"}, "repair_geometries": True},
            "sites": {"path": prepared.sites.path.name, "layer": prepared.sites.layer, "id": "id",
                      "land_type": "land_type", "area": "area_m2", "repair_geometries": True},
            "existing": {"path": prepared.existing.path.name, "layer": prepared.existing.layer, "id": "id",
                         "service": "service"},
            "streets": {"path": prepared.streets.path.name, "layer": prepared.streets.layer, "length": "length_m"},
        },
        "distance": {"method": "network", "walking_speed_kmh": 4.0, "max_snap_m": 250},
        "services": services,
        "objective": "max_coverage",
        "solver": {"name": "highs", "time_limit": 60},
        "output": {"folder": "out"},
    }
    head = [
        f"# yaml-language-server: $schema={schema_ref}",
        f"# Scenario written by `siting prepare osm` from {prepared.source.name} (© OpenStreetMap contributors, ODbL 1.0).",
        "# Run it with: siting run scenario.yaml",
        "# Add columns for elderly (60+), infants (0-3) or EV households to demand.gpkg and list them under",
        "# layers.demand.groups to let each service serve its own group.",
        *comments,
    ]
    return "\n".join(head) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def prepare_osm_scenario(
    pbf: str | Path, out: str | Path, bbox: tuple[float, float, float, float] | None = None, progress: Any = None
) -> Path:
    """``siting prepare osm``: layers from an OSM extract plus a scenario.yaml that runs, written atomically.

    The layers are written by :func:`scenarios.osm.prepare_osm` into a temporary folder beside
    ``out``, the scenario.yaml is added, and the folder is moved into place; ``out`` must not exist
    or be empty. Returns the scenario file.
    """
    from scenarios.osm import prepare_osm

    progress = progress or NullProgress()
    pbf = Path(pbf)
    target = Path(out).expanduser().resolve()
    if not pbf.exists():
        raise ScenarioError(f"OpenStreetMap extract {pbf} not found; check the path")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScenarioError(f"{target} exists and is not an empty folder; give a new folder with --out")
    parent = target.parent
    created: list[Path] = []
    p = parent
    while not p.exists():
        created.append(p)
        p = p.parent
    tmp: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
        with progress.step(f"reading {pbf.name}"):
            prepared = prepare_osm(pbf, tmp, bbox=bbox)
        if prepared.demand.count == 0:
            raise ScenarioError(
                f"{pbf.name}: no residential buildings found, so there is no demand; choose a larger --bbox or an "
                "extract with buildings, or supply a population layer by hand"
            )
        if prepared.sites.count == 0:
            raise ScenarioError(
                f"{pbf.name}: no candidate sites (idle or industrial land, warehouses, disused buildings, parking) "
                "found; choose a larger --bbox or add candidate plots by hand"
            )

        schema_ref = schema_reference(target)
        name = pbf.name.split(".")[0]
        (tmp / "scenario.yaml").write_text(osm_scenario_yaml(name, prepared, schema_ref), encoding="utf-8")
        if target.exists():
            target.rmdir()  # empty, checked above
        tmp.rename(target)
        _usual_mode(target)
        tmp = None
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        for c in created:
            try:
                c.rmdir()
            except OSError:
                break
        raise
    return target / "scenario.yaml"


__all__ = [
    "RichProgress",
    "RunResult",
    "ServiceOutcome",
    "describe",
    "osm_scenario_yaml",
    "prepare_osm_scenario",
    "rank_sites",
    "run_scenario",
    "validate_scenario",
    "write_atomically",
]


def init_example(directory: str | Path) -> tuple[Path, Path]:
    """``siting init``: copy a working example scenario folder into ``directory``.

    The bundled Helsinki example (``scenarios/examples/helsinki``) when it is there, else the tiny
    test scenario of the source tree. ``directory`` must not exist or be empty; output folders of
    earlier runs are not copied.
    """
    here = Path(__file__).resolve().parent
    candidates = [here / "examples" / "helsinki", here.parent / "tests" / "data" / "scenarios" / "tiny"]
    source = next((c for c in candidates if (c / "scenario.yaml").is_file()), None)
    if source is None:
        raise ScenarioError("no example scenario is installed with siting; see the README's Scenario files section")
    target = Path(directory).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScenarioError(f"{target} exists and is not an empty folder; give a new folder")
    files: dict[str, bytes] = {}
    for f in sorted(source.rglob("*")):
        rel = f.relative_to(source)
        if f.is_file() and not any(part.startswith((".", "out", "__pycache__")) for part in rel.parts):
            files[str(rel)] = f.read_bytes()
    text = files.get("scenario.yaml", b"").decode("utf-8")
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# yaml-language-server: $schema="):

        lines[0] = f"# yaml-language-server: $schema={schema_reference(target)}\n"
        files["scenario.yaml"] = "".join(lines).encode("utf-8")
    if target.exists():
        target.rmdir()
    _write_tree(target, files)
    return source, target


def _write_tree(target: Path, files: dict[str, bytes]) -> None:
    """:func:`write_atomically` for a new folder whose files may sit in sub-folders."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    try:
        for name, data in files.items():
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        tmp.rename(target)
        _usual_mode(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _usual_mode(folder: Path) -> None:
    """Give a folder made by ``tempfile.mkdtemp`` (mode 0700) the permissions of a normal new folder."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    folder.chmod(0o777 & ~mask)


def schema_reference(folder: Path) -> str:
    """How a scenario.yaml in ``folder`` refers to the installed JSON Schema: a relative path inside
    the same tree, an absolute one otherwise."""
    import os

    schema = Path(__file__).resolve().parent / "scenario.schema.json"
    folder = folder.resolve()
    if os.path.commonpath([folder, schema.parent.parent]) == str(schema.parent.parent):
        return os.path.relpath(schema, folder)
    return str(schema)
