"""``siting sweep --engine local|dask``: the budget frontier as a batch, one variant per budget.

Each budget ``B_k`` is the variant ``budget.total = B_k`` of the scenario (with ``scenario`` and
``solver.name`` when given), solved by :func:`scenarios.batch.run.run_batch` on the chosen engine,
so the budgets run in parallel, each row lands in ``DIR/results.parquet`` as it finishes and a
re-run into the same folder solves only the budgets that are missing or failed. sweep.csv and
sweep.png are then made from the rows (:func:`frontier_rows`), with the same columns as the serial
sweep (:mod:`scenarios.outputs.sweep`).

What differs from the serial sweep (``siting sweep`` without ``--engine``), and why:

* no warm start: the budgets are independent tasks, so a solve cannot start from the previous
  budget's plan nor be told to beat it. Monotonicity is restored afterwards instead: the plan of
  ``B_{k-1}`` stays feasible at ``B_k >= B_{k-1}`` (only the total budget grows and a coverage
  objective does not depend on the budget), so when the best plan of a smaller budget has a higher
  objective than the plan solved at ``B_k`` (or ``B_k`` has none), that plan is reported at ``B_k``
  (``kept_previous``), its status ``FEASIBLE`` unless the bound of ``B_k`` proves it optimal;
* ``--time-limit`` is per budget (each is its own task), not one budget for the whole sweep;
* phase budgets scale with the total as in the serial sweep, each set as its own setting
  (``budget.phases.<name>``) of the variant.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.models.errors import ScenarioError
from siting.scenarios.batch.grid import Variant, canonical, variant_id

SOLVED = ("OPTIMAL", "FEASIBLE")


def budget_variants(
    budgets: list[float],
    scenario: str | None,
    solver: str | None,
    phases: dict[str, float] | None = None,
    base_total: float | None = None,
) -> list[Variant]:
    """One variant per distinct budget, in increasing order.

    With budget ``phases`` ``b_t``, each variant also sets ``budget.phases.<t> = b_t B / B_0``
    (``B_0``: ``base_total``, or the sum of the phase budgets), as the serial sweep scales them.
    """
    out: list[Variant] = []
    phases = phases or {}
    base = base_total if base_total is not None else float(sum(phases.values()))
    for b in sorted({float(x) for x in budgets}):
        settings: dict[str, Any] = {"budget.total": canonical(b)}
        for name, pb in phases.items():
            settings[f"budget.phases.{name}"] = canonical(pb * b / base if base > 0 else b / len(phases))
        if scenario is not None:
            settings["scenario"] = scenario
        if solver is not None:
            settings["solver.name"] = solver
        out.append(Variant(variant_id(settings), settings))
    return out


def plan_sites(plan_csv: Path, services: list[str], phased: bool) -> str | None:
    """``service:site[@phase]; ...`` of a variant's plan.csv, as the serial sweep writes it; None without the file."""
    from siting.scenarios.geodata.layers import natural_key

    try:
        plan = pd.read_csv(plan_csv, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (OSError, ValueError):
        return None
    rank = {s: k for k, s in enumerate(services)}
    entries = sorted(
        zip(plan["service"], plan["site_id"], plan.get("phase", [""] * len(plan)), strict=True),
        key=lambda e: (rank.get(e[0], len(rank)), natural_key(e[1])),
    )
    return "; ".join(f"{s}:{i}" + (f"@{p}" if phased and p else "") for s, i, p in entries)


def frontier_rows(
    table: pd.DataFrame, services: list[str], mip_gap: float, sites: dict[str, str | None] | None = None
) -> tuple[pd.DataFrame, int | None]:
    """The sweep table (columns of :data:`scenarios.outputs.sweep.SWEEP_COLUMNS`) of a batch's rows, and the knee.

    ``table`` has one batch row per budget (column ``budget.total``). Rows are sorted by budget and
    made monotone as the module docstring says. ``sites`` maps a variant id to its plan's text
    (:func:`plan_sites`); without an entry the row's own ``sites`` is used.
    """
    from siting.optimizer.result import relative_gap
    from siting.optimizer.sweep import knee_index
    from siting.scenarios.outputs.sweep import SWEEP_COLUMNS

    t = table.assign(_b=pd.to_numeric(table["budget.total"])).sort_values("_b").reset_index(drop=True)
    recs: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None  # the best plan of the smaller budgets so far
    for _, r in t.iterrows():
        status = str(r["status"])
        has_plan = status in SOLVED and _num(r.get("objective")) is not None
        rec: dict[str, Any] = {
            "budget": float(r["_b"]),
            "status": status,
            "objective": _num(r.get("objective")) if has_plan else math.nan,
            "bound": _num(r.get("bound")) if has_plan else None,
            "cost": _num(r.get("cost")) if has_plan else math.nan,
            "new_sites": int(r["new_sites"]) if has_plan else 0,
            "kept_previous": False,
            "verified": has_plan,
            "seconds": round(float(r.get("seconds") or 0.0), 3),
            "sites": "",
        }
        if has_plan:
            own = (sites or {}).get(str(r["variant_id"]))
            rec["sites"] = own if own is not None else "; ".join(filter(None, str(r.get("sites") or "").split(";")))
        for s in services:
            rec[f"covered_{s}"] = _num(r.get(f"covered.{s}")) if has_plan else math.nan
            rec[f"share_{s}"] = _num(r.get(f"coverage.{s}")) if has_plan else math.nan
        if best is not None and (
            not has_plan or best["objective"] > rec["objective"] + 1e-9 * max(1.0, abs(rec["objective"]))
        ):
            for key in (
                "objective",
                "cost",
                "new_sites",
                "sites",
                *[c for c in best if c.startswith(("covered_", "share_"))],
            ):
                rec[key] = best[key]
            rec["kept_previous"], rec["verified"] = True, best["verified"]
            if rec["status"] not in SOLVED:
                rec["status"], rec["bound"] = "FEASIBLE", None
        value, bound = rec["objective"], rec["bound"]
        if bound is not None and math.isfinite(value) and bound < value:  # a bound below a plan's value is no bound
            bound = value
        gap = relative_gap(value, bound) if bound is not None and math.isfinite(value) else None
        if rec["kept_previous"] and rec["status"] == "OPTIMAL" and (gap is None or gap > max(mip_gap, 1e-9)):
            rec["status"] = "FEASIBLE"
        rec["bound"] = bound if bound is not None else math.nan
        rec["gap"] = gap if gap is not None else math.nan
        rec["unspent"] = rec["budget"] - rec["cost"]
        if math.isfinite(rec["objective"]):
            best = rec
        recs.append(rec)
    budgets = [x["budget"] for x in recs]
    objectives = [x["objective"] for x in recs]
    for k, x in enumerate(recs):
        db = budgets[k] - budgets[k - 1] if k else 0.0
        x["slope"] = (objectives[k] - objectives[k - 1]) / db if k and db > 0 else math.nan
    knee = knee_index(budgets, objectives)
    for k, x in enumerate(recs):
        x["knee"] = knee == k
    cols = [*SWEEP_COLUMNS, *[c for s in services for c in (f"covered_{s}", f"share_{s}")], "sites"]
    return pd.DataFrame(recs, columns=cols), knee


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def sweep_on_engine(
    path: str | Path,
    budgets: str | list[float],
    scenario: str | None = None,
    out: str | Path | None = None,
    solver: str | None = None,
    time_limit: float | None = None,
    *,
    engine: str = "dask",
    scheduler: str | None = None,
    workers: int | None = None,
    quiet: bool = True,
) -> Any:
    """``siting sweep --engine``: the frontier as a batch into ``out`` (module docstring); a :class:`SweepRun`."""
    from siting.optimizer.sweep import SWEEP_OBJECTIVES
    from siting.scenarios.batch.run import run_batch
    from siting.scenarios.files import user_file
    from siting.scenarios.outputs.csv_safe import frame_to_csv
    from siting.scenarios.outputs.sweep import SWEEP_FILES, YLABEL, SweepRun, parse_budget_range, sweep_chart
    from siting.scenarios.pipeline.output_folder import output_dir
    from siting.scenarios.pipeline.solving import check_solver, joint_solver
    from siting.scenarios.schema import load_scenario

    path = user_file(path, "scenario", ScenarioError)
    values = parse_budget_range(budgets) if isinstance(budgets, str) else [float(b) for b in budgets]
    body, base_dir = load_scenario(path, scenario)
    source = path.name
    if body.objective not in SWEEP_OBJECTIVES:
        raise ScenarioError(
            f"{source}: objective: {body.objective} has no coverage-vs-budget frontier; sweep a scenario "
            f"whose objective is one of {', '.join(SWEEP_OBJECTIVES)}"
        )
    dotted = [p for p in body.budget.phases if "." in p]
    if dotted:
        raise ScenarioError(
            f"{source}: budget.phases: --engine cannot set the phase {dotted[0]!r} (its name has a '.'); "
            "leave out --engine or rename the phase"
        )
    where = "--solver" if solver is not None else f"{source}: solver.name"
    joint_solver(check_solver(solver if solver is not None else body.solver.name, where), where)
    if out is not None:
        target = Path(out).expanduser().resolve()
    else:
        run_dir = output_dir(body, base_dir, None, source)
        target = run_dir.parent / f"{run_dir.name}_sweep"
    services = list(body.services)
    made: dict[str, Any] = {}

    def finish(folder: Any, table: pd.DataFrame) -> None:
        plans = {
            v: plan_sites(folder.plans_dir.path / f"{v}.csv", services, bool(body.budget.phases))
            for v in table["variant_id"]
        }
        frame, knee = frontier_rows(table, services, float(body.solver.mip_gap), plans)
        title = f"{body.name}: {body.objective} against budget" + (
            " (phases scaled alike)" if body.budget.phases else ""
        )
        png = sweep_chart(frame, services, knee, title, YLABEL[body.objective])
        folder.add_files({"sweep.csv": frame_to_csv(frame), "sweep.png": png})
        made.update(table=frame, knee=knee)

    res = run_batch(
        path,
        target,
        variants=budget_variants(values, scenario, solver, dict(body.budget.phases), body.budget.total),
        engine=engine,
        scheduler=scheduler,
        workers=workers,
        time_limit=time_limit,
        quiet=quiet,
        kind="sweep",
        extra_names=SWEEP_FILES,
        on_folder=finish,
    )
    return SweepRun(
        out_dir=res.out_dir,
        table=made["table"],
        knee=made["knee"],
        points=[],
        objective=body.objective,
        seconds=res.seconds,
    )


def run_sweep(
    path: str | Path,
    budgets: str,
    scenario: str | None,
    out: str | Path | None,
    solver: str | None,
    time_limit: float | None,
    *,
    engine: str | None,
    scheduler: str | None,
    workers: int | None,
    quiet: bool,
    progress: Any = None,
) -> Any:
    """``siting sweep``: the serial warm-started sweep without ``engine``, else :func:`sweep_on_engine`."""
    from siting.scenarios.outputs.sweep import sweep_scenario

    if engine is None:
        if scheduler or workers:
            raise ScenarioError("--scheduler and --workers need --engine dask")
        return sweep_scenario(
            path, budgets, scenario=scenario, out=out, solver=solver, time_limit=time_limit, progress=progress
        )
    return sweep_on_engine(
        path,
        budgets,
        scenario,
        out,
        solver,
        time_limit,
        engine=engine,
        scheduler=scheduler,
        workers=workers,
        quiet=quiet,
    )


def sweep_text(res: Any) -> str:
    """What ``siting sweep`` prints (:func:`scenarios.outputs.sweep.sweep_text`)."""
    from siting.scenarios.outputs.sweep import sweep_text as text

    return str(text(res))


__all__ = ["budget_variants", "frontier_rows", "run_sweep", "sweep_on_engine", "sweep_text"]
