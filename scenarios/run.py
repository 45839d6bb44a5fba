"""Run a scenario file end to end: read, check, measure, solve, write the plan.

:func:`run_scenario` is what ``siting run scenario.yaml`` calls. It solves in one of two modes.

**Joint** (issue 4), whenever the scenario has more than one service, or its objective is
``complete_circle`` or ``phased``, or it sets ``budget.phases`` (or alternatives are asked for):
every service on the shared candidate plots in one model (:func:`optimizer.joint.solve_joint`,
instance from :func:`scenarios.joint_build.to_multiservice`): one total budget, per-service and
per-phase budgets (with carry-over), plot room, eligibility and count limits, under the scenario's
objective. The plan is ranked (:func:`optimizer.ranking.rank_plan`) and re-checked by
:func:`models.multiservice.evaluate_joint` and, per service, by :func:`models.evaluate.evaluate`.

**Split** (a single service, or ``--split``): each service on its own, one after another, each on
its own budget (``budget.per_service``, or a fixed share of ``budget.total``: see
:func:`scenarios.build.resolve_budgets`):

* ``max_coverage``: a maximal covering model (MCLP): at most ``max_sites`` new sites and / or new
  sites costing at most the service's budget, maximising the people of its demand group within
  reach (existing facilities count from the start);
* ``pmedian``: a p-median with ``p = max_sites`` (and the budget, if any): least total walking
  distance ``sum_i w_i d(i, nearest facility)``; capacitated when the service has a ``capacity``;
* ``min_cost``: a set covering model (LSCP): the least-cost set of new sites that covers every
  person who can be covered at all (the fewest sites when costs are unknown); who cannot is reported.

Outputs, staged inside the output folder and moved into place only when complete, under the rule of
:mod:`scenarios.output_folder` (a new or empty folder, or an earlier run's: only the files listed in its
manifest are replaced; anything else is refused before solving; nothing is left behind on error):

* ``plan.csv``: joint mode: the ranked site plan (one row per chosen (site, service): rank, phase,
  cost and cumulative cost, people newly covered per demand group, coverage share, drop-one loss,
  best substitute, reason; see :data:`JOINT_PLAN_HEAD`); split mode: one row per chosen (site,
  service), ranked within the service by marginal coverage (ties by id), with cost and coverage,
  each also cumulative;
* ``uncovered.csv``: per service, the demand points with people of its group that are not within reach
  of any open facility, and why;
* ``summary.json``: the resolved scenario, the solve record(s), each service's coverage, the plan's
  checks (joint mode: budgets total / per service / per phase, room, eligibility, counts, the ranked
  table adding up), warnings, SHA-256 of every input file, package versions;
* with ``alternatives=K`` (joint mode): ``alternatives.csv`` (K distinct plans within the tolerance)
  and ``site_frequency.csv`` (how many of them use each (service, site): firm or interchangeable).
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import BackendUnavailableError, InfeasibleError, NoSolutionError, ScenarioError
from siting.models.evaluate import evaluate
from siting.optimizer.result import SolveParams
from siting.scenarios.build import JOINT_OBJECTIVES, BuiltScenario, NullProgress, ServiceProblem, build
from siting.scenarios.layers import natural_key
from siting.scenarios.output_folder import claimed, write_folder
from siting.scenarios.readers._common import sha256_file
from siting.scenarios.schema import ScenarioBody, load_scenario

PLAN_COLUMNS = (
    "service", "rank", "site_id", "land_type", "area_m2", "cost", "cumulative_cost", "demand_group",
    "covered", "cumulative_covered", "coverage_share", "lon", "lat",
)
UNCOVERED_COLUMNS = ("service", "demand_id", "demand_group", "people", "reason", "nearest_open_m")
VERSION_PACKAGES = (
    "siting", "numpy", "scipy", "pandas", "geopandas", "pyogrio", "shapely", "pyproj", "pydantic", "highspy",
    "pulp", "ortools", "matplotlib", "pyrosm", "pyarrow",
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
class JointOutcome:
    """What the joint solve produced.

    Attributes
    ----------
    inst : the joint instance.
    mapping : ids and names behind its arrays.
    result : the solver's ``optimizer.joint.JointResult``.
    metrics : ``evaluate_joint``'s recount of the plan.
    rows : the ranked plan (``optimizer.ranking.RankedRow``, in rank order).
    checks : the plan's checks as written to summary.json (budgets, room, eligibility, counts, table).
    alternatives : the alternative plans (``JointResult``), when asked for.
    rephased : the solver's phases were re-assigned, earliest affordable first (:func:`rephase`).
    """

    inst: Any
    mapping: Any
    result: Any
    metrics: Any
    rows: list[Any]
    checks: dict[str, Any]
    alternatives: list[Any] = field(default_factory=list)
    rephased: bool = False

    @property
    def open_phase(self) -> NDArray[np.int8]:
        """The plan written out (the solver's, re-phased when :func:`rephase` applies)."""
        return np.asarray(self.metrics.open_phase, dtype=np.int8)


@dataclass(eq=False)
class RunResult:
    """A finished run: where its outputs are, and what they say.

    ``mode`` is ``joint`` or ``split``; ``joint`` holds the joint solve (joint mode), ``outcomes``
    one entry per service in both modes (in joint mode its ``result`` is None: the solve is joint).
    """

    out_dir: Path
    built: BuiltScenario
    outcomes: dict[str, ServiceOutcome]
    plan: pd.DataFrame
    uncovered: pd.DataFrame
    summary: dict[str, Any]
    warnings: list[str]
    mode: str = "split"
    joint: JointOutcome | None = None
    alternatives: pd.DataFrame | None = None
    site_frequency: pd.DataFrame | None = None


# -------------------------------------------------------------------------------- solving
def check_solver(name: str, where: str) -> str:
    """The solver name, checked: a heuristic, or an installed exact backend."""
    from siting.optimizer.registry import get_backend
    from siting.optimizer.solve import HEURISTIC_SOLVERS

    clean = name.strip()
    if clean.lower() in HEURISTIC_SOLVERS:
        return clean.lower()
    try:
        get_backend(clean)
    except BackendUnavailableError as exc:
        raise BackendUnavailableError(f"{where}: {exc}") from None
    return clean


def solve_params(body: ScenarioBody, time_limit: float | None = None) -> SolveParams:
    """The scenario's solver settings as SolveParams; a command-line ``--time-limit`` overrides its own."""
    return SolveParams(
        time_limit=time_limit if time_limit is not None else body.solver.time_limit,
        mip_gap=body.solver.mip_gap,
        threads=body.solver.threads,
        seed=body.solver.seed,
    )


def model_spec(built: BuiltScenario, problem: ServiceProblem) -> Any:
    """The ``optimizer.solve.ModelSpec`` of a service under the scenario's objective."""
    from siting.optimizer.solve import ModelSpec

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
    from siting.optimizer.solve import solve

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
    from siting.models.evaluate import nearest_open

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
    from siting.scenarios.outputs.csv_safe import frame_to_csv  # text cells cannot start a spreadsheet formula

    return frame_to_csv(df)


# ------------------------------------------------------------------------------- summary
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


def json_safe(value: Any) -> Any:
    from enum import Enum

    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
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


def _input_hashes(built: BuiltScenario, scenario_path: Path) -> dict[str, str]:
    """SHA-256 of the scenario file and every input layer, keyed by path relative to the scenario."""
    base = built.base_dir
    inputs: dict[str, str] = {}
    for f in [scenario_path.resolve(), *built.input_files]:
        try:
            key = str(f.resolve().relative_to(base))
        except ValueError:
            key = str(f.resolve())
        inputs[key] = sha256_file(f)
    return inputs


def _distance_record(built: BuiltScenario) -> dict[str, Any]:
    body = built.scenario
    return {
        "method": built.distance_method,
        "walking_speed_kmh": body.distance.walking_speed_kmh,
        "max_snap_m": body.distance.max_snap_m,
        "network": built.network,
        "unsnapped_demand": built.unsnapped_demand,
        "unsnapped_sites": built.unsnapped_sites,
    }


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
    body = built.scenario
    split = body.budget.total is not None and any(
        s not in body.budget.per_service for s in body.services
    )
    return json_safe({
        "scenario": body.model_dump(mode="json"),
        "scenario_file": scenario_path.name,
        "override": override,
        "mode": "split",
        "crs": built.layers.crs.to_string(),
        "distance": _distance_record(built),
        "objective": body.objective,
        "budget_split": (
            "budget.total is split across services in advance, in proportion to weight x people served; "
            "the joint multi-service model of issue 4 (siting run without --split) optimises the split"
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
        "inputs_sha256": _input_hashes(built, scenario_path),
        "versions": versions(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    })


# ----------------------------------------------------------------------------- joint mode
#: Objective of the joint model -> the per-service model family it generalises (summary.json "model").
JOINT_MODEL_OF = {
    "max_coverage": "mclp",
    "complete_circle": "complete_circle",
    "pmedian": "pmedian",
    "min_cost": "lscp",
    "phased": "mclp_phased",
}
#: First columns of the joint ranked plan; then ``new_<group>`` per demand group, then :data:`JOINT_PLAN_TAIL`.
JOINT_PLAN_HEAD = (
    "rank", "phase", "site_id", "land_type", "area_m2", "service", "demand_group", "cost", "cumulative_cost",
)
JOINT_PLAN_TAIL = (
    "weighted_gain", "covered_after", "cumulative_coverage_share", "drop_one_loss", "best_substitute",
    "substitute_phase", "substitute_recovers", "substitute_cost", "reason", "reason_zh", "lon", "lat",
)
ALTERNATIVE_COLUMNS = ("plan", "objective", "below_best", "cost", "new_sites", "status", "verified", "sites")
FREQUENCY_COLUMNS = ("service", "site_id", "land_type", "plans", "share", "role")
#: A plot within this fraction of a chosen plot's gain counts as comparable in the plan's reasons.
COMPARABLE_TOL = 0.1


def solve_mode(body: ScenarioBody, split: bool = False, alternatives: int = 0, source: str = "") -> str:
    """``joint`` or ``split`` (module docstring); raises when ``--split`` cannot do what is asked."""
    if split:
        if body.objective in JOINT_OBJECTIVES:
            raise ScenarioError(
                f"{source + ': ' if source else ''}objective: {body.objective} needs the joint multi-service model; "
                "run without --split (or choose max_coverage, pmedian or min_cost)"
            )
        if alternatives:
            raise ScenarioError("--alternatives needs the joint multi-service model; run without --split")
        return "split"
    joint = len(body.services) > 1 or body.objective in JOINT_OBJECTIVES or bool(body.budget.phases) or alternatives > 0
    return "joint" if joint else "split"


def _joint_solver(name: str, where: str) -> str:
    from siting.optimizer.solve import HEURISTIC_SOLVERS

    if name in HEURISTIC_SOLVERS:
        raise ScenarioError(
            f"{where}: {name} is a single-service heuristic; the joint multi-service model needs an exact "
            "solver (highs, cbc, cpsat, scip, pulp:NAME), or run each service on its own with --split"
        )
    return name


def _fmt_people(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 10 or float(x).is_integer() else f"{x:,.1f}"


def plan_reason(row: Any, inst: Any, mapping: Any, lang: str = "en") -> str:
    """The one-line reason of a ranked row, from the figures ``rank_plan`` computed (``en`` or ``zh``)."""
    from siting.scenarios.outputs import i18n

    zh = lang == "zh"
    svc = inst.services[row.service]
    group = i18n.group_name(lang, mapping.demand_group[svc.name]) if zh else mapping.demand_group[svc.name]
    service = i18n.service_name(lang, svc.name) if zh else svc.name
    reach = mapping.reach_m[svc.name]
    people = _fmt_people(row.gain_people)
    if row.gain_people <= 0:
        why = f"步行范围内未新增{group}" if zh else f"adds no {group} not already within reach"
        if svc.min_sites:
            why += (
                f"；因方案要求至少 {svc.min_sites} 处{service}（min_sites）而保留" if zh
                else f"; kept because the plan needs at least {svc.min_sites} {svc.name} sites (min_sites)"
            )
        return why
    sep = "；" if zh else "; "
    text = (
        f"新覆盖 {reach:,.0f} 米内原未覆盖的{group} {people} 人" if zh
        else f"covers {people} {group} within {reach:,.0f} m not reached before"
    )
    tol = f"{100 * COMPARABLE_TOL:.0f} %"
    n = row.n_comparable
    if n <= 1:
        text += sep + (f"其他合格地块的新增覆盖均相差 {tol} 以上" if zh else f"no other eligible plot comes within {tol} of that")
    elif row.cheapest_comparable and mapping.cost_known[svc.name]:
        text += sep + (f"在 {n} 处相近地块中造价最低" if zh else f"cheapest of {n} comparable plots")
    elif row.largest_gain:
        text += sep + (f"在 {n} 处相近地块中覆盖人数最多" if zh else f"reaches the most of {n} comparable plots")
    else:
        text += sep + (
            f"{n} 处相近地块之一，与其余选址一起满足用地与预算" if zh
            else f"one of {n} comparable plots, the one that fits room and budget with the rest"
        )
    if row.drop_one_loss > 0 and row.substitute is None:
        loss = _fmt_people(row.drop_one_loss)
        if row.n_recovering == 0:
            text += sep + (f"没有未用地块能覆盖仅由它服务的 {loss} 人" if zh
                           else f"no unused plot reaches the {loss} it alone serves")
        elif row.n_recovering > 1:
            text += sep + (f"能覆盖这些居民的 {row.n_recovering} 处未用地块不满足预算或用地" if zh
                           else f"the {row.n_recovering} unused plots that would reach its people do not fit the budgets or room")
        else:
            text += sep + ("唯一能覆盖这些居民的未用地块不满足预算或用地" if zh
                           else "the one unused plot that would reach its people does not fit the budgets or room")
    return text


def joint_plan_table(inst: Any, mapping: Any, rows: list[Any]) -> pd.DataFrame:
    """The ranked site plan of DESIGN.md: one row per chosen (site, service), in rank order.

    ``new_<group>``: people of each demand group at the demand points this row newly brings within
    reach of its service; ``cumulative_cost`` over all rows so far (costs of services without costs
    count 0 and show as empty); ``covered_after`` / ``cumulative_coverage_share``: people of the
    service's own group within reach after this row (existing facilities included), and its share.
    """
    group_cols = [f"new_{g}" for g in mapping.groups]
    records: list[dict[str, Any]] = []
    cum = 0.0
    for r in rows:
        name = inst.services[r.service].name
        known = mapping.cost_known[name]
        cost = float(r.cost) if known else float("nan")
        cum += cost if known else 0.0
        sub = r.substitute
        rec: dict[str, Any] = {
            "rank": r.rank,
            "phase": mapping.phases[r.phase],
            "site_id": str(mapping.site_ids[r.site]),
            "land_type": mapping.land_types[r.site],
            "area_m2": mapping.area_m2[r.site],
            "service": name,
            "demand_group": mapping.demand_group[name],
            "cost": cost,
            "cumulative_cost": cum if any(mapping.cost_known.values()) else float("nan"),
        }
        for col, v in zip(group_cols, r.new_by_group):
            rec[col] = float(v)
        rec.update({
            "weighted_gain": r.gain_weighted,
            "covered_after": r.covered_after,
            "cumulative_coverage_share": r.coverage_share,
            "drop_one_loss": r.drop_one_loss,
            "best_substitute": "" if sub is None else str(mapping.site_ids[sub]),
            "substitute_phase": "" if sub is None else mapping.phases[r.substitute_phase],
            "substitute_recovers": r.substitute_recovers,
            "substitute_cost": (r.substitute_cost if (sub is not None and known) else float("nan")),
            "reason": plan_reason(r, inst, mapping),
            "reason_zh": plan_reason(r, inst, mapping, lang="zh"),
            "lon": mapping.lon[r.site],
            "lat": mapping.lat[r.site],
        })
        records.append(rec)
    return pd.DataFrame(records, columns=[*JOINT_PLAN_HEAD, *group_cols, *JOINT_PLAN_TAIL])


def joint_outcomes(built: BuiltScenario, inst: Any, mapping: Any, rows: list[Any]) -> dict[str, ServiceOutcome]:
    """Per service: the plan on its own instance, recounted by :func:`models.evaluate.evaluate`."""
    out: dict[str, ServiceOutcome] = {}
    for s, svc in enumerate(inst.services):
        pb = built.services[svc.name]
        cols = pd.Index(pb.site_ids.astype(str))
        mine = [r for r in rows if r.service == s]
        order = cols.get_indexer([str(mapping.site_ids[r.site]) for r in mine]).astype(np.int64)
        gains = np.array([r.gain_people for r in mine], dtype=np.float64)
        final = pb.instance.existing.copy()
        final[order] = True
        check = evaluate(pb.instance, final, radius=pb.reach_m)
        cover = coverage_matrix(pb)
        coverable = np.zeros(pb.instance.n, dtype=bool)
        coverable[cover.tocoo().row] = True
        notes: list[str] = []
        if svc.max_sites == 0:
            notes.append("max_sites is 0: no new site is planned")
        notes += list(pb.notes)
        body = built.scenario
        if body.objective == "min_cost":
            limit = body.services[svc.name].max_sites
            if limit is not None and order.size > limit:
                notes.append(f"covering everything coverable needs {order.size} new sites, more than max_sites = {limit}")
            cost = float(pb.instance.cost[order].sum())
            own = body.budget.per_service.get(svc.name)
            if own is not None and pb.cost_known and cost > own:
                notes.append(f"covering everything coverable costs {cost:,.0f}, more than budget.per_service {own:,.0f}")
        before = float(pb.instance.weights[svc.existing_covered].sum())
        out[svc.name] = ServiceOutcome(
            problem=pb,
            result=None,
            order=order,
            gains=gains,
            covered_before=before,
            covered_after=float(check.covered_weight or 0.0),
            covered=np.asarray(check.covered, dtype=bool),
            coverable=coverable,
            check=check,
            notes=notes,
        )
    return out


def _ok(spent: float, limit: float | None) -> bool:
    return limit is None or not math.isfinite(limit) or spent <= limit + 1e-6 * max(1.0, abs(limit))


def plan_checks(
    inst: Any, mapping: Any, metrics: Any, rows: list[Any], outcomes: dict[str, ServiceOutcome]
) -> dict[str, Any]:
    """Re-check a joint plan from the raw arrays, independently of the solver, for summary.json.

    Budgets (total, per service, per phase: with carry-over, the spending up to each phase may not
    exceed the phase budgets up to it), room on every plot, eligibility of every pair, count limits,
    ``evaluate_joint``'s own verdict, and whether the ranked table adds up: per service, existing
    coverage plus the rows' newly covered people equals the evaluator's coverage, the last
    ``covered_after`` equals it too, the per-service evaluator (``models.evaluate``) agrees, and the
    last cumulative cost equals the plan's total cost.
    """
    op = np.asarray(metrics.open_phase)
    opened = op >= 0
    S = inst.S
    names = [svc.name for svc in inst.services]
    cost = np.stack([np.where(svc.eligible, svc.cost, 0.0) for svc in inst.services])
    by_service = np.where(opened, cost, 0.0).sum(axis=1)
    by_phase = np.bincount(op[opened].astype(np.int64), weights=cost[opened], minlength=inst.T)
    total = float(by_service.sum())
    checks: dict[str, Any] = {}
    checks["budget_total"] = {"limit": inst.total_budget, "spent": total, "ok": _ok(total, inst.total_budget)}
    checks["budget_per_service"] = {
        names[s]: {"limit": inst.services[s].budget, "spent": float(by_service[s]),
                   "ok": _ok(float(by_service[s]), inst.services[s].budget)}
        for s in range(S)
    }
    phases: list[dict[str, Any]] = []
    if inst.phase_budgets is not None:
        pb = np.asarray(inst.phase_budgets, dtype=np.float64)
        cum_b, cum_s = np.cumsum(pb), np.cumsum(by_phase)
        for t, name in enumerate(inst.phases):
            carried = float(cum_b[t - 1] - cum_s[t - 1]) if (t and inst.carry_over) else 0.0
            ok = _ok(float(cum_s[t]), float(cum_b[t])) if inst.carry_over else _ok(float(by_phase[t]), float(pb[t]))
            phases.append({"phase": name, "budget": float(pb[t]), "carried_in": carried,
                           "available": float(pb[t]) + carried, "spent": float(by_phase[t]), "ok": ok})
    else:
        for t, name in enumerate(inst.phases):
            phases.append({"phase": name, "budget": None, "spent": float(by_phase[t]), "ok": True})
    checks["budget_per_phase"] = phases
    area = np.array([svc.area for svc in inst.services])
    used = area @ opened.astype(np.float64)
    room = np.asarray(inst.room, dtype=np.float64)
    over = used > room + 1e-6 * np.maximum(1.0, np.where(np.isfinite(room), room, 0.0))
    shared = np.flatnonzero(opened.sum(axis=0) > 1)
    checks["room"] = {
        "ok": not over.any(),
        "over": [{"site_id": str(mapping.site_ids[j]), "room": room[j], "used": used[j]} for j in np.flatnonzero(over)],
        "shared_plots": [
            {"site_id": str(mapping.site_ids[j]), "services": [names[s] for s in np.flatnonzero(opened[:, j])],
             "used": used[j], "room": room[j]}
            for j in shared
        ],
    }
    elig = np.stack([svc.eligible for svc in inst.services])
    bad = np.argwhere(opened & ~elig)
    checks["eligibility"] = {"ok": bad.size == 0,
                             "ineligible": [f"{names[s]}:{mapping.site_ids[j]}" for s, j in bad]}
    counts = {}
    for s, svc in enumerate(inst.services):
        k = int(opened[s].sum())
        counts[names[s]] = {"new": k, "min": svc.min_sites, "max": svc.max_sites,
                            "ok": k >= svc.min_sites and (svc.max_sites is None or k <= svc.max_sites)}
    checks["counts"] = counts
    checks["evaluator"] = {"ok": not metrics.violations, "violations": list(metrics.violations)}
    problems: list[str] = []
    for s, svc in enumerate(inst.services):
        mine = [r for r in rows if r.service == s]
        before = float(svc.weights[svc.existing_covered].sum())
        added = float(sum(r.gain_people for r in mine))
        want = float(metrics.covered_people[s])
        tol = 1e-6 * max(1.0, want)
        if abs(before + added - want) > tol:
            problems.append(f"{svc.name}: existing {before:.10g} + newly covered {added:.10g} != covered {want:.10g}")
        if mine and abs(mine[-1].covered_after - want) > tol:
            problems.append(f"{svc.name}: last covered_after {mine[-1].covered_after:.10g} != covered {want:.10g}")
        old = outcomes[svc.name].covered_after
        if abs(old - want) > tol:
            problems.append(f"{svc.name}: models.evaluate counts {old:.10g}, evaluate_joint {want:.10g}")
    if rows and abs(rows[-1].cumulative_cost - float(metrics.total_cost)) > 1e-6 * max(1.0, total):
        problems.append(f"last cumulative_cost {rows[-1].cumulative_cost:.10g} != total cost {metrics.total_cost:.10g}")
    if len(rows) != int(opened.sum()):
        problems.append(f"{len(rows)} ranked rows for {int(opened.sum())} opened pairs")
    checks["ranked_table"] = {"ok": not problems, "problems": problems}
    checks["all_ok"] = bool(
        checks["budget_total"]["ok"]
        and all(v["ok"] for v in checks["budget_per_service"].values())
        and all(p["ok"] for p in phases)
        and checks["room"]["ok"]
        and checks["eligibility"]["ok"]
        and all(v["ok"] for v in counts.values())
        and checks["evaluator"]["ok"]
        and checks["ranked_table"]["ok"]
    )
    return checks


def _joint_record(res: Any, objective: str, checks: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "joint",
        "model": JOINT_MODEL_OF.get(objective, objective),
        "objective_name": objective,
        "status": res.status.value,
        "objective": res.objective,
        "bound": res.bound,
        "gap": res.gap,
        "seconds": round(float(res.seconds), 4),
        "solver": res.solver,
        "solver_version": res.solver_version,
        "verified": bool(res.verified) and bool(checks["all_ok"]),
        "stages": list(res.stages),
    }


def _plan_text(inst: Any, mapping: Any, open_phase: NDArray[np.integer]) -> str:
    """``service:site[@phase]; ...`` in service order, sites in natural order."""
    op = np.asarray(open_phase)
    parts: list[str] = []
    for s, svc in enumerate(inst.services):
        js = sorted(np.flatnonzero(op[s] >= 0), key=lambda j: mapping.site_order[j])
        for j in js:
            ph = f"@{mapping.phases[op[s, j]]}" if inst.T > 1 else ""
            parts.append(f"{svc.name}:{mapping.site_ids[j]}{ph}")
    return "; ".join(parts)


def alternatives_tables(inst: Any, mapping: Any, plans: list[Any], objective: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``alternatives.csv`` and ``site_frequency.csv`` of K alternative plans.

    ``below_best`` is the relative shortfall ``(best - objective) / |best|`` for maximised objectives
    (``(objective - best) / |best|`` for minimised ones). In ``site_frequency``, every eligible
    (service, site) pair with ``plans`` = how many of the K plans open it; ``role`` is ``firm`` (in
    every plan), ``interchangeable`` (in some) or ``unused`` (in none).
    """
    from siting.models.multiservice import OBJECTIVE_SENSE, evaluate_joint, objective_value
    from siting.optimizer.ranking import earliest_phases

    sense = OBJECTIVE_SENSE.get(objective, "max")
    values = []
    recs: list[dict[str, Any]] = []
    ops = [
        earliest_phases(inst, res.open_phase, mapping.site_order) if rephase(objective, inst) else res.open_phase
        for res in plans
    ]
    for op in ops:
        values.append(objective_value(evaluate_joint(inst, op), objective))
    best = max(values) if sense == "max" else min(values)
    for k, (res, op, v) in enumerate(zip(plans, ops, values), start=1):
        met = evaluate_joint(inst, op)
        below = (best - v) if sense == "max" else (v - best)
        recs.append({
            "plan": k,
            "objective": v,
            "below_best": below / abs(best) if best else 0.0,
            "cost": float(met.total_cost),
            "new_sites": int((np.asarray(res.open_phase) >= 0).sum()),
            "status": res.status.value,
            "verified": bool(res.verified) and not met.violations,
            "sites": _plan_text(inst, mapping, op),
        })
    alt = pd.DataFrame(recs, columns=list(ALTERNATIVE_COLUMNS))
    K = len(plans)
    use = np.zeros((inst.S, inst.m), dtype=np.int64)
    for res in plans:
        use += (np.asarray(res.open_phase) >= 0).astype(np.int64)
    freq_rows: list[dict[str, Any]] = []
    for s, svc in enumerate(inst.services):
        js = np.flatnonzero(svc.eligible | (use[s] > 0))
        js = sorted(js, key=lambda j: (-use[s, j], mapping.site_order[j]))
        for j in js:
            c = int(use[s, j])
            freq_rows.append({
                "service": svc.name,
                "site_id": str(mapping.site_ids[j]),
                "land_type": mapping.land_types[j],
                "plans": c,
                "share": c / K if K else 0.0,
                "role": "firm" if c == K and K else ("interchangeable" if c else "unused"),
            })
    return alt, pd.DataFrame(freq_rows, columns=list(FREQUENCY_COLUMNS))


def _joint_service_summary(
    inst: Any, mapping: Any, s: int, oc: ServiceOutcome, metrics: Any, record: dict[str, Any], checks: dict[str, Any]
) -> dict[str, Any]:
    svc = inst.services[s]
    pb = oc.problem
    total = float(svc.weights.sum())
    people = pb.group_total
    violations = [v for v in oc.check.violations]
    if not checks["budget_per_service"][svc.name]["ok"]:
        violations.append(f"budget.per_service.{svc.name} exceeded")
    if not checks["counts"][svc.name]["ok"]:
        violations.append(f"count limits of {svc.name} broken")
    violations += [v for v in metrics.violations if repr(svc.name) in v]
    covered_phase = np.asarray(metrics.covered_by_phase)[:, s, :].astype(np.float64) @ svc.weights
    op = np.asarray(metrics.open_phase)[s]
    return {
        "demand_group": pb.demand_group,
        "reach_m": pb.reach_m,
        "demand_points": pb.instance.n,
        "candidate_sites": pb.n_candidates,
        "existing_facilities": pb.n_existing,
        "budget": svc.budget,
        "budget_source": mapping.budget_source[svc.name],
        "max_sites": svc.max_sites,
        "min_sites": svc.min_sites,
        "weight": svc.weight,
        "area_m2": svc.area,
        "people": people,
        "coverage": {
            "before": oc.covered_before,
            "after": oc.covered_after,
            "share_before": oc.covered_before / total if total > 0 else None,
            "share_after": oc.covered_after / total if total > 0 else None,
            "by_phase": {mapping.phases[t]: float(covered_phase[t]) for t in range(inst.T)},
        },
        "new_sites": int((op >= 0).sum()),
        "new_sites_by_phase": {mapping.phases[t]: int((op == t).sum()) for t in range(inst.T)},
        "cost": float(metrics.cost_by_service[s]) if mapping.cost_known[svc.name] else None,
        "plan_check": {
            "covered_weight": oc.check.covered_weight,
            "joint_covered_people": float(metrics.covered_people[s]),
            "weighted_distance_m": oc.check.weighted_distance,
            "violations": violations,
        },
        "solve": record,
        "notes": list(oc.notes),
    }


def joint_summary_dict(
    built: BuiltScenario,
    joint: JointOutcome,
    outcomes: dict[str, ServiceOutcome],
    scenario_path: Path,
    override: str | None,
    solver: str,
    params: SolveParams,
    warnings: list[str],
    seconds: dict[str, float],
    tolerance: float | None = None,
    requested: int = 0,
) -> dict[str, Any]:
    body = built.scenario
    inst, mapping, res, metrics = joint.inst, joint.mapping, joint.result, joint.metrics
    record = _joint_record(res, body.objective, joint.checks)
    record["notes"] = list(getattr(res, "notes", []))
    record["message"] = getattr(res, "message", "")
    op = np.asarray(metrics.open_phase)
    phase_rows = []
    for t, name in enumerate(inst.phases):
        covered_t = np.asarray(metrics.covered_by_phase)[t]
        phase_rows.append({
            "phase": name,
            "new_sites": int((op == t).sum()),
            "cost": float(metrics.cost_by_phase[t]),
            "covered_people": {svc.name: float(covered_t[s].astype(np.float64) @ svc.weights)
                               for s, svc in enumerate(inst.services)},
        })
    summary: dict[str, Any] = {
        "scenario": body.model_dump(mode="json"),
        "scenario_file": scenario_path.name,
        "override": override,
        "mode": "joint",
        "crs": built.layers.crs.to_string(),
        "distance": _distance_record(built),
        "objective": body.objective,
        "budget_split": (
            "none: the joint multi-service model (issue 4) shares budget.total"
            + (", the phase budgets" if body.budget.phases else "")
            + " and the plots between the services; nothing is split in advance"
        ),
        "solver": {
            "name": solver,
            "time_limit": params.time_limit,
            "mip_gap": params.mip_gap,
            "threads": params.threads,
        },
        "seed": params.seed,
        "solve": record,
        "phasing": (
            "each site opens in the earliest phase whose budgets allow it, most valuable first (the objective "
            "values only the end state, so the solver's phases were arbitrary)"
            if joint.rephased
            else ("as solved" if inst.T > 1 else None)
        ),
        "joint": {
            "objective": body.objective,
            "value": res.objective,
            "weighted_coverage": metrics.weighted_coverage,
            "complete_circle_people": metrics.complete_people,
            "complete_circle_group": mapping.residents_group,
            "phased_value": metrics.phased_value,
            "total_cost": metrics.total_cost,
            "new_sites": int((op >= 0).sum()),
            "plots_used": int((op >= 0).any(axis=0).sum()),
            "total_distance_m": metrics.total_distance,
            "note": (
                f"least cost of covering everyone coverable is {metrics.total_cost:,.0f}; budget.total is "
                f"{body.budget.total:,.0f}" + (" (not enough)" if metrics.total_cost > body.budget.total else "")
                if body.objective == "min_cost" and body.budget.total is not None
                else None
            ),
        },
        "phases": phase_rows,
        "checks": joint.checks,
        "services": {
            svc.name: _joint_service_summary(
                inst, mapping, s, outcomes[svc.name], metrics,
                {k: v for k, v in record.items() if k not in ("stages", "notes")}, joint.checks,
            )
            for s, svc in enumerate(inst.services)
        },
        "warnings": warnings,
        "inputs_sha256": _input_hashes(built, scenario_path),
        "versions": versions(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    if requested:
        summary["alternatives"] = {
            "requested": requested,
            "found": len(joint.alternatives),
            "tolerance": tolerance,
            "note": (
                f"only {len(joint.alternatives)} distinct plans lie within the tolerance"
                if len(joint.alternatives) < requested
                else None
            ),
        }
    return json_safe(summary)


def solve_joint_scenario(
    built: BuiltScenario, solver: str, params: SolveParams, progress: Any, *, alternatives: int = 0, tolerance: float = 0.02
) -> JointOutcome:
    """Solve a built scenario jointly, rank and re-check the plan (and find alternatives).

    Raises
    ------
    InfeasibleError : no plan meets the limits (e.g. min_sites that the budgets cannot pay for).
    NoSolutionError : the solver stopped without a plan.
    """
    from siting.models.multiservice import evaluate_joint
    from siting.optimizer import joint as joint_api
    from siting.optimizer.ranking import earliest_phases, rank_plan
    from siting.scenarios.joint_build import to_multiservice

    body = built.scenario
    inst, mapping = to_multiservice(built)
    phases = f", phases {', '.join(inst.phases)}" if inst.T > 1 else ""
    label = f"solving jointly ({body.objective}, {inst.S} services, {inst.n} demand x {inst.m} plots{phases})"
    plans: list[Any] = []
    try:
        if alternatives:
            # the first alternative is the best plan itself: one solve less
            label += f" and {alternatives - 1} alternatives within {100 * tolerance:g} %" if alternatives > 1 else ""
            with progress.step(label):
                plans = list(joint_api.alternatives(
                    inst, alternatives, tolerance, objective=body.objective, solver=solver, params=params
                ))
            res = plans[0]
        else:
            with progress.step(label):
                res = joint_api.solve_joint(inst, objective=body.objective, solver=solver, params=params)
    except (InfeasibleError, NoSolutionError) as exc:
        raise type(exc)(f"{built.source}: {exc}") from None
    plan = np.asarray(res.open_phase, dtype=np.int8)
    rephased = False
    if rephase(body.objective, inst):
        plan = earliest_phases(inst, plan, mapping.site_order)
        rephased = bool((plan != res.open_phase).any())
    metrics = evaluate_joint(inst, plan)
    with progress.step("ranking the plan"):
        rows = rank_plan(
            inst, plan, groups=mapping.group_people, site_order=mapping.site_order, comparable_tol=COMPARABLE_TOL,
        )
    return JointOutcome(
        inst=inst, mapping=mapping, result=res, metrics=metrics, rows=rows, checks={}, alternatives=plans,
        rephased=rephased,
    )


def rephase(objective: str, inst: Any) -> bool:
    """Whether a plan's phases are re-assigned by :func:`optimizer.ranking.earliest_phases`: with
    several phases, for every objective but ``phased`` (the others value only the end state, so the
    solver's phases are arbitrary)."""
    return inst.T > 1 and objective != "phased"


# --------------------------------------------------------------------------------- output
#: Every file ``siting run`` may write (see :mod:`scenarios.output_folder` for how they replace an earlier run's).
RUN_FILES = (
    "plan.csv", "uncovered.csv", "summary.json", "alternatives.csv", "site_frequency.csv", "plan.gpkg", "map.png",
    "report.html",
)


def output_dir(body: ScenarioBody, base_dir: Path, out: str | Path | None, source: str = "scenario file") -> Path:
    """Where the outputs go: ``out`` (relative to the working directory), else ``output.folder``
    relative to the scenario file.

    A scenario file may only aim inside its own folder: an ``output.folder`` that is absolute or
    leaves the scenario's folder (``../victim``) is refused unless the user gives ``out``.
    """
    if out is not None:
        return Path(out).expanduser().resolve()
    folder = Path(body.output.folder)
    base = base_dir.resolve()
    target = (base / folder).resolve()
    if folder.is_absolute() or body.output.folder.startswith("~") or not target.is_relative_to(base):
        raise ScenarioError(
            f"{source}: output.folder {body.output.folder!r} is outside the scenario's folder {base}; a scenario "
            "file may only write inside its own folder: use a relative folder such as 'out', or give --out"
        )
    return target


def write_atomically(target: Path, files: dict[str, bytes], kind: str = "files") -> None:
    """Write ``files`` into ``target`` all at once, under the rules of :mod:`scenarios.output_folder`."""
    write_folder(target, kind, files)


# ------------------------------------------------------------------------------------ run
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
    split : solve each service on its own with the budget split in advance, even when the
        scenario would be solved jointly (see the module docstring).
    alternatives : also find this many distinct plans within ``tolerance`` of the best (joint mode).
    tolerance : relative shortfall from the best objective an alternative may have.
    lang : language of report.html and map.png, ``en`` or ``zh`` (default: the scenario's ``output.lang``).

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
    if mode == "joint":
        _joint_solver(chosen_solver, where)
    target = output_dir(body, base_dir, out, source)
    params = solve_params(body, time_limit)
    # claimed before any layer is read: someone else's folder or a bad path fails in the first second
    with claimed(target, "run", RUN_FILES) as folder:
        if mode == "joint":
            built = build_joint(body, base_dir, progress, source=source)
        else:
            built = build(body, base_dir, progress, source=source)
        warnings = list(built.warnings)
        for w in warnings:
            progress.note(w)
        params = params.started()  # the input is read: from here every stage shares one time budget
        t0 = time.perf_counter()
        joint: JointOutcome | None = None
        alt_table = freq_table = None
        if mode == "joint":
            joint = solve_joint_scenario(built, chosen_solver, params, progress, alternatives=alternatives, tolerance=tolerance)
            outcomes = joint_outcomes(built, joint.inst, joint.mapping, joint.rows)
            joint.checks = plan_checks(joint.inst, joint.mapping, joint.metrics, joint.rows, outcomes)
            plan = joint_plan_table(joint.inst, joint.mapping, joint.rows)
            if alternatives:
                alt_table, freq_table = alternatives_tables(joint.inst, joint.mapping, joint.alternatives, body.objective)
        else:
            outcomes = {}
            for name, problem in built.services.items():
                outcomes[name] = solve_service(built, problem, chosen_solver, params, progress)
            plan = plan_table(built, outcomes)
        seconds = dict(built.seconds)
        seconds["solve"] = time.perf_counter() - t0
        uncovered = uncovered_table(built, outcomes)
        seconds["total"] = time.perf_counter() - started
        if joint is not None:
            summary = joint_summary_dict(
                built, joint, outcomes, path, scenario, chosen_solver, params, warnings, seconds,
                tolerance=tolerance if alternatives else None, requested=alternatives,
            )
        else:
            summary = summary_dict(built, outcomes, path, scenario, chosen_solver, params, warnings, seconds)
        files = {
            "plan.csv": _csv(plan),
            "uncovered.csv": _csv(uncovered),
            "summary.json": (json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"),
        }
        if alt_table is not None and freq_table is not None:
            files["alternatives.csv"] = _csv(alt_table)
            files["site_frequency.csv"] = _csv(freq_table)
        # plan.gpkg, map.png, report.html (lang: en / zh, default output.lang)
        from siting.scenarios.outputs import render_outputs

        files.update(render_outputs(built, plan, uncovered, summary, lang=lang))
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
        )


def validate_scenario(
    path: str | Path, scenario: str | None = None, progress: Any = None, *, split: bool = False
) -> BuiltScenario:
    """Schema, layers and data checks of a scenario file, without solving (``siting validate``).

    A scenario that ``siting run`` solves jointly is checked for the joint model (no advance budget split).
    """
    from siting.scenarios.joint_build import build_joint

    path = Path(path)
    body, base_dir = load_scenario(path, scenario)
    name = check_solver(body.solver.name, f"{path.name}: solver.name")
    if solve_mode(body, split, source=path.name) == "joint":
        _joint_solver(name, f"{path.name}: solver.name")
        return build_joint(body, base_dir, progress or NullProgress(), source=path.name)
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
    budget = body.budget
    if solve_mode(body) == "joint":
        shared = []
        if budget.total is not None:
            shared.append(f"total budget {budget.total:,.0f}")
        if budget.phases:
            shared.append(
                "phases " + ", ".join(f"{k} {v:,.0f}" for k, v in budget.phases.items())
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

    The layers are written by :func:`scenarios.osm.prepare_osm` into a staging folder inside
    ``out``, the scenario.yaml is added, and the files are moved into place; ``out`` must not exist
    or be empty. Returns the scenario file.
    """
    from siting.scenarios.osm import prepare_osm

    progress = progress or NullProgress()
    pbf = Path(pbf)
    target = Path(out).expanduser().resolve()
    if not pbf.exists():
        raise ScenarioError(f"OpenStreetMap extract {pbf} not found; check the path")
    with claimed(target, "prepare osm", manifest=False) as folder:  # a new or empty folder only
        tmp = folder.staging
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
        name = pbf.name.split(".")[0]
        (tmp / "scenario.yaml").write_text(osm_scenario_yaml(name, prepared, SCHEMA_NAME), encoding="utf-8")
        (tmp / SCHEMA_NAME).write_bytes(schema_bytes())
        folder.commit()
    return target / "scenario.yaml"


__all__ = [
    "JointOutcome",
    "RichProgress",
    "RunResult",
    "ServiceOutcome",
    "alternatives_tables",
    "describe",
    "joint_plan_table",
    "osm_scenario_yaml",
    "plan_checks",
    "prepare_osm_scenario",
    "rank_sites",
    "run_scenario",
    "solve_joint_scenario",
    "solve_mode",
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
    files: dict[str, bytes] = {}
    for f in sorted(source.rglob("*")):
        rel = f.relative_to(source)
        if f.is_file() and not any(part.startswith((".", "out", "__pycache__")) for part in rel.parts):
            files[str(rel)] = f.read_bytes()
    text = files.get("scenario.yaml", b"").decode("utf-8")
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# yaml-language-server: $schema="):
        lines[0] = f"# yaml-language-server: $schema={SCHEMA_NAME}\n"
        files["scenario.yaml"] = "".join(lines).encode("utf-8")
    files[SCHEMA_NAME] = schema_bytes()
    with claimed(target, "init", manifest=False) as folder:  # a new or empty folder only
        for name, data in files.items():
            dest = folder.staging / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        folder.commit()
    return source, target


SCHEMA_NAME = "scenario.schema.json"


def schema_bytes() -> bytes:
    """The JSON Schema of scenario files, as generated from the models (what ``siting schema`` writes).

    ``siting init`` and ``siting prepare osm`` put a copy beside the scenario.yaml they write, so
    that the folder is self-contained and editors validate it with a relative ``$schema``.
    """
    from siting.scenarios.schema import schema_text

    return schema_text().encode("utf-8")
