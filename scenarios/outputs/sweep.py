"""The budget frontier of a scenario: ``siting sweep FILE --budget FROM:TO:STEPS``.

:func:`sweep_scenario` builds the scenario for the joint model (:mod:`scenarios.joint_build`),
solves it at every budget of the range with :func:`optimizer.sweep.budget_sweep` (the swept budget
is the total; phase budgets scale with it; coverage never decreases; each point proven or its gap
shown), marks the knee (:func:`optimizer.sweep.knee_index`: the first budget after which every
further unit of money buys less than half the average coverage per unit) and writes, atomically,

* ``sweep.csv``: one row per budget: status, objective, bound, gap, cost, unspent money, new sites,
  the slope from the previous point (objective per unit of budget), ``knee``, and per service the
  people covered and their share; the plan of each point in ``sites``;
* ``sweep.png``: coverage against budget, unproven points drawn hollow with a bar up to their
  bound, the knee marked; below it each service's coverage share.

The chart is drawn with matplotlib's Agg canvas (no display, no global pyplot state).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from siting.models.errors import ScenarioError
from siting.optimizer.result import Status
from siting.scenarios.pipeline.progress import NullProgress
from siting.scenarios.schema import load_scenario

#: The files ``siting sweep`` writes.
SWEEP_FILES = ("sweep.csv", "sweep.png")

SWEEP_COLUMNS = (
    "budget",
    "status",
    "objective",
    "bound",
    "gap",
    "cost",
    "unspent",
    "new_sites",
    "slope",
    "knee",
    "kept_previous",
    "verified",
    "seconds",
)


@dataclass(eq=False)
class SweepRun:
    """A finished sweep: where its outputs are, the table and the knee."""

    out_dir: Path
    table: pd.DataFrame
    knee: int | None
    points: list[Any]
    objective: str
    seconds: float


def parse_budget_range(text: str) -> list[float]:
    """``FROM:TO:STEPS`` -> STEPS evenly spaced budgets from FROM to TO (both included).

    ``1e6:1.2e7:12`` gives 12 budgets, 1,000,000 to 12,000,000. STEPS >= 2 (1 gives FROM alone
    when FROM = TO). Raises :class:`ScenarioError` naming the bad part.
    """
    parts = [p.strip().replace("_", "") for p in str(text).split(":")]
    if len(parts) != 3:
        raise ScenarioError(f"--budget {text!r} must be FROM:TO:STEPS, e.g. 2e6:1.2e7:11")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise ScenarioError(f"--budget {text!r}: FROM and TO must be numbers, e.g. 2e6:1.2e7:11") from None
    try:
        steps = int(parts[2])
    except ValueError:
        raise ScenarioError(f"--budget {text!r}: STEPS must be a whole number of budgets, e.g. 11") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi < lo:
        raise ScenarioError(f"--budget {text!r}: need 0 <= FROM <= TO")
    if steps < 1 or (steps == 1 and hi != lo) or steps > 1000:
        raise ScenarioError(f"--budget {text!r}: STEPS must be between 2 and 1000 (1 only when FROM = TO)")
    return np.linspace(lo, hi, steps).tolist() if steps > 1 else [lo]


def sweep_table(points: list[Any], inst: Any, mapping: Any, knee: int | None) -> pd.DataFrame:
    """One row per budget (module docstring)."""
    from siting.scenarios.pipeline.tables import plan_text

    recs: list[dict[str, Any]] = []
    for k, p in enumerate(points):
        slope = float("nan")
        if k:
            db = p.budget - points[k - 1].budget
            slope = (p.objective - points[k - 1].objective) / db if db > 0 else float("nan")
        rec: dict[str, Any] = {
            "budget": p.budget,
            "status": p.status.value,
            "objective": p.objective,
            "bound": p.bound if p.bound is not None else float("nan"),
            "gap": p.gap if p.gap is not None else float("nan"),
            "cost": p.cost,
            "unspent": p.budget - p.cost,
            "new_sites": int((np.asarray(p.open_phase) >= 0).sum()),
            "slope": slope,
            "knee": knee == k,
            "kept_previous": bool(p.kept_previous),
            "verified": bool(p.verified),
            "seconds": round(float(p.seconds), 3),
        }
        for s, svc in enumerate(inst.services):
            total = float(svc.weights.sum())
            rec[f"covered_{svc.name}"] = float(p.covered_people[s])
            rec[f"share_{svc.name}"] = float(p.covered_people[s]) / total if total > 0 else float("nan")
        rec["sites"] = plan_text(inst, mapping, p.open_phase)
        recs.append(rec)
    cols = list(SWEEP_COLUMNS)
    for svc in inst.services:
        cols += [f"covered_{svc.name}", f"share_{svc.name}"]
    return pd.DataFrame(recs, columns=[*cols, "sites"])


def _money(x: float, _pos: Any = None) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:g} M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:g} k"
    return f"{x:g}"


def sweep_chart(table: pd.DataFrame, services: list[str], knee: int | None, title: str, ylabel: str) -> bytes:
    """The PNG of the frontier (module docstring)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(8.0, 6.4), dpi=110)
    FigureCanvasAgg(fig)
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    b = table["budget"].to_numpy(dtype=float)
    f = table["objective"].to_numpy(dtype=float)
    proven = (table["status"] == Status.OPTIMAL.value).to_numpy()
    ax.plot(b, f, "-", color="tab:blue", lw=1.6, zorder=2)
    ax.plot(b[proven], f[proven], "o", color="tab:blue", ms=6, zorder=3, label="proven optimal")
    if (~proven).any():
        bound = table["bound"].to_numpy(dtype=float)
        ax.plot(
            b[~proven], f[~proven], "o", mfc="white", mec="tab:blue", ms=6, zorder=3, label="not proven (bar: bound)"
        )
        up = np.where(np.isfinite(bound), bound - f, 0.0)[~proven]
        ax.errorbar(b[~proven], f[~proven], yerr=[np.zeros_like(up), up], fmt="none", ecolor="tab:gray", capsize=3)
    if knee is not None:
        ax.axvline(b[knee], color="tab:red", ls="--", lw=1.2, zorder=1)
        ax.plot([b[knee]], [f[knee]], "D", color="tab:red", ms=8, zorder=4, label="knee (diminishing returns)")
        right = b[knee] > (b[0] + b[-1]) / 2
        ax.annotate(
            f"knee: budget {_money(b[knee])}, {f[knee]:,.0f}",
            xy=(b[knee], f[knee]),
            xytext=(-10 if right else 10, -28),
            textcoords="offset points",
            color="tab:red",
            fontsize=9,
            ha="right" if right else "left",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    for name in services:
        ax2.plot(b, 100 * table[f"share_{name}"].to_numpy(dtype=float), "-o", ms=3, lw=1.2, label=name)
    if knee is not None:
        ax2.axvline(b[knee], color="tab:red", ls="--", lw=1.2)
    ax2.set_ylabel("group within reach (%)")
    ax2.set_xlabel("budget")
    ax2.set_ylim(0, 100)
    ax2.grid(True, alpha=0.3)
    ax2.legend(loc="lower right", fontsize=8, ncol=2)
    ax2.xaxis.set_major_formatter(FuncFormatter(_money))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


YLABEL = {
    "max_coverage": "weighted people within reach",
    "complete_circle": "residents reaching every service",
    "phased": "phased coverage value",
}


def sweep_scenario(
    path: str | Path,
    budgets: str | list[float],
    scenario: str | None = None,
    out: str | Path | None = None,
    solver: str | None = None,
    time_limit: float | None = None,
    progress: Any = None,
) -> SweepRun:
    """``siting sweep``: the budget frontier of a scenario, written as sweep.csv and sweep.png.

    Parameters
    ----------
    path : the scenario YAML file.
    budgets : ``FROM:TO:STEPS`` or a list of budgets.
    scenario : a named override to merge first.
    out : output folder (default: the run's output folder with ``_sweep`` appended).
    solver, time_limit : override ``solver.name`` / ``solver.time_limit`` (seconds for the whole sweep,
        counted from when the scenario has been read).
    progress : progress reporter.

    Raises
    ------
    ScenarioError, DataError : bad scenario, data or budget range (nothing is written).
    """
    from siting.optimizer.sweep import SWEEP_OBJECTIVES
    from siting.scenarios.pipeline.output_folder import claimed, output_dir
    from siting.scenarios.pipeline.solving import check_solver, joint_solver, solve_params

    started = time.perf_counter()
    progress = progress or NullProgress()
    path = Path(path)
    values = parse_budget_range(budgets) if isinstance(budgets, str) else [float(b) for b in budgets]
    body, base_dir = load_scenario(path, scenario)
    source = path.name
    if body.objective not in SWEEP_OBJECTIVES:
        raise ScenarioError(
            f"{source}: objective: {body.objective} has no coverage-vs-budget frontier; sweep a scenario "
            f"whose objective is one of {', '.join(SWEEP_OBJECTIVES)} (e.g. --scenario with objective: max_coverage)"
        )
    where = "--solver" if solver is not None else f"{source}: solver.name"
    name = joint_solver(check_solver(solver if solver is not None else body.solver.name, where), where)
    if time_limit is not None and not (time_limit > 0):
        raise ScenarioError(f"--time-limit {time_limit} must be a positive number of seconds")
    if out is not None:
        target = Path(out).expanduser().resolve()
    else:
        run_dir = output_dir(body, base_dir, None, source)
        target = run_dir.parent / f"{run_dir.name}_sweep"
    params = solve_params(body, time_limit)
    with claimed(target, "sweep", SWEEP_FILES) as folder:  # before any layer is read
        return _sweep(body, base_dir, source, values, name, params, folder, progress, started)


def _sweep(
    body: Any,
    base_dir: Path,
    source: str,
    values: list[float],
    name: str,
    params: Any,
    folder: Any,
    progress: Any,
    started: float,
) -> SweepRun:
    from siting.optimizer.sweep import budget_sweep, knee_index
    from siting.scenarios.joint_build import build_joint, to_multiservice

    target = folder.path
    built = build_joint(body, base_dir, progress, source=source)
    for w in built.warnings:
        progress.note(w)
    inst, mapping = to_multiservice(built)
    params = params.started()  # the input is read: one time budget for every budget point
    with progress.step(f"solving {len(values)} budgets ({body.objective})", total=len(values)):
        points = budget_sweep(inst, values, objective=body.objective, solver=name, params=params)
    knee = knee_index([p.budget for p in points], [p.objective for p in points])
    table = sweep_table(points, inst, mapping, knee)
    title = f"{body.name}: {body.objective} against budget" + (
        f" (phases {', '.join(inst.phases)} scaled alike)" if inst.T > 1 else ""
    )
    png = sweep_chart(table, [svc.name for svc in inst.services], knee, title, YLABEL[body.objective])
    from siting.scenarios.outputs.csv_safe import frame_to_csv  # text cells cannot start a spreadsheet formula

    folder.commit({"sweep.csv": frame_to_csv(table), "sweep.png": png})
    return SweepRun(
        out_dir=target,
        table=table,
        knee=knee,
        points=points,
        objective=body.objective,
        seconds=time.perf_counter() - started,
    )


def sweep_text(res: SweepRun) -> str:
    """What ``siting sweep`` prints: one line per budget, the knee, where the files are."""
    t = res.table
    lines = [f"{'budget':>14} {'objective':>14} {'cost':>14} {'sites':>5}  status"]
    for k, row in t.iterrows():
        gap = f" (gap {row['gap']:.2g})" if row["status"] != "OPTIMAL" and math.isfinite(row["gap"]) else ""
        mark = "  <- knee" if res.knee == k else ""
        lines.append(
            f"{row['budget']:>14,.0f} {row['objective']:>14,.1f} {row['cost']:>14,.0f} {row['new_sites']:>5}  "
            f"{row['status']}{gap}{mark}"
        )
    if res.knee is None:
        lines.append("no knee: returns do not diminish within this range (or too few budgets)")
    lines.append(f"sweep written to {res.out_dir} (sweep.csv, sweep.png)")
    return "\n".join(lines)


__all__ = ["YLABEL", "SweepRun", "parse_budget_range", "sweep_chart", "sweep_scenario", "sweep_table", "sweep_text"]
