"""Heuristics with proven bounds for p-median and maximal covering, on the raw instance (no MILP).

:func:`run_heuristic` is the one entry point; the building blocks are

* :mod:`.greedy` - greedy construction (:func:`greedy_pmedian`, :func:`greedy_mclp`);
* :mod:`.interchange` - fast best-improvement swap search (:func:`interchange_pmedian`,
  :func:`interchange_mclp`);
* :mod:`.lagrangian` - Lagrangian relaxation with subgradient optimization, the source of the
  proven bounds (:func:`lagrangian_pmedian`, :func:`lagrangian_mclp`).

Bounds reported by :func:`run_heuristic` (always proven, never estimates):

* p-median (minimize): a lower bound. ``"greedy"`` and ``"interchange"`` give the cheap
  all-sites-open bound ``sum_i w_i min_{j eligible} d_ij``; ``"lagrangian"`` and ``"auto"`` the
  Lagrangian bound (at least as good in practice; the larger of the two is reported).
* MCLP (maximize): an upper bound. ``"greedy"`` and ``"interchange"`` give the submodularity
  bound ``f(E) + max { sum_{j in S} (f(E + j) - f(E)) : S within p / budget }`` (``E`` the
  existing facilities), capped by the total coverable weight; ``"lagrangian"`` and ``"auto"``
  the Lagrangian bound (the smaller of the two is reported).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.checks import check_limits, check_radius
from siting.models.errors import ScenarioError
from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance
from siting.optimizer.heuristics.greedy import (
    DistanceTable,
    coverage_float,
    greedy_mclp,
    greedy_pmedian,
)
from siting.optimizer.heuristics.interchange import interchange_mclp, interchange_pmedian
from siting.optimizer.heuristics.lagrangian import (
    LagrangianResult,
    knapsack_select,
    lagrangian_mclp,
    lagrangian_pmedian,
)

__all__ = [
    "HeuristicOutcome",
    "LagrangianResult",
    "greedy_mclp",
    "greedy_pmedian",
    "interchange_mclp",
    "interchange_pmedian",
    "lagrangian_mclp",
    "lagrangian_pmedian",
    "run_heuristic",
    "trivial_bound",
]

MODELS = ("pmedian", "mclp")
METHODS = ("greedy", "interchange", "lagrangian", "auto")


@dataclass(frozen=True, eq=False)
class HeuristicOutcome:
    """What a heuristic run produced.

    Attributes
    ----------
    open_mask : (m,) bool, the plan (existing included).
    objective : its value recomputed by :func:`models.evaluate.evaluate` (weighted distance for
        p-median, covered weight for MCLP).
    bound : proven bound on the optimum: lower for p-median, upper for MCLP.
    seconds : wall-clock time.
    method : the method run.
    iterations : local-search moves plus subgradient iterations.
    stats : per-phase details (objective after each phase, seconds, moves).
    multipliers : p-median with a Lagrangian phase: (n,) the multipliers ``u_i`` of the best bound
        (in units of ``w_i d_ij``); None otherwise. ``u_i / w_i`` is client i's level in the
        radius formulation: the exact Benders p-median starts its cuts there.
    """

    open_mask: NDArray[np.bool_]
    objective: float
    bound: float | None
    seconds: float
    method: str
    iterations: int
    stats: dict[str, Any] = field(default_factory=dict)
    multipliers: NDArray[np.float64] | None = None


def trivial_bound(
    instance: SitingInstance,
    model: str,
    *,
    p: int | None = None,
    radius: float | None = None,
    budget: float | None = None,
) -> float:
    """The cheap proven bound of the module docstring (lower for p-median, upper for MCLP)."""
    everything = instance.eligible.copy()
    if model == "pmedian":
        return float(evaluate(instance, everything).weighted_distance)
    assert radius is not None
    a_csr, _ = coverage_float(instance, radius)
    w = instance.weights
    covered0 = (a_csr @ instance.existing.astype(np.float64)) > 0
    base = float(w[covered0].sum())
    cand = np.flatnonzero(instance.eligible & ~instance.existing)
    total = float(w[(a_csr @ everything.astype(np.float64)) > 0].sum())
    if p is None and budget is None:
        return total
    gains = (a_csr.T @ (w * ~covered0))[cand]
    inner, _, _ = knapsack_select(gains, instance.cost[cand], p, budget)
    return min(total, base + inner)


def run_heuristic(
    instance: SitingInstance,
    model: str,
    *,
    p: int | None = None,
    radius: float | None = None,
    budget: float | None = None,
    method: str = "auto",
    time_limit: float | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> HeuristicOutcome:
    """Run a heuristic for p-median or MCLP and return the plan with a proven bound.

    Parameters
    ----------
    instance : the instance.
    model : ``"pmedian"`` (minimize ``sum_i w_i d_i``) or ``"mclp"`` (maximize covered weight).
    p : maximum number of new sites.
    radius : service radius (MCLP only, required there).
    budget : maximum total cost of new sites.
    method : ``"greedy"``; ``"interchange"`` (greedy, then swap search); ``"lagrangian"``
        (subgradient optimization, its best primal plan); ``"auto"`` (greedy, interchange,
        Lagrangian bound, then interchange again from the Lagrangian plans; the best plan).
    time_limit : wall-clock seconds shared by the phases (greedy always completes).
    seed : accepted for a uniform interface; every method here is deterministic.
    progress : called with one line after each phase (greedy, swap search, Lagrangian bound).

    Returns
    -------
    HeuristicOutcome. With neither ``p`` nor ``budget`` every eligible site is opened, which is
    optimal for both models (bound = objective).
    """
    del seed  # deterministic
    t0 = time.perf_counter()
    if model not in MODELS:
        raise ScenarioError(f"run_heuristic: model {model!r} is not one of {', '.join(MODELS)}")
    if method not in METHODS:
        raise ScenarioError(f"run_heuristic: method {method!r} is not one of {', '.join(METHODS)}")
    check_limits(p, budget, what="run_heuristic")
    if model == "mclp":
        if radius is None:
            raise ScenarioError("run_heuristic: model 'mclp' needs a radius (the service distance)")
        check_radius(radius, allow_zero=True, what="run_heuristic")
    deadline = math.inf if time_limit is None else t0 + float(time_limit)

    def left() -> float | None:
        return None if time_limit is None else max(0.0, deadline - time.perf_counter())

    def value(mask: NDArray[np.bool_]) -> float:
        met = evaluate(instance, mask, radius=radius)
        if model == "pmedian":
            return float(met.weighted_distance)
        assert met.covered_weight is not None  # a radius was given
        return float(met.covered_weight)

    def better(a: float, b: float) -> bool:
        return a < b if model == "pmedian" else a > b

    stats: dict[str, Any] = {}
    iterations = 0
    if p is None and budget is None:
        mask = instance.eligible.copy()
        obj = value(mask)
        return _finish(instance, model, mask, obj, obj, t0, method, 0, stats, radius, p, budget)

    bound = trivial_bound(instance, model, p=p, radius=radius, budget=budget)
    table = DistanceTable(instance) if model == "pmedian" else None

    def local(start: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], int]:
        info: dict[str, float] = {}
        if model == "pmedian":
            out = interchange_pmedian(instance, start, p, budget, time_limit=left(), table=table, stats=info)
        else:
            assert radius is not None
            out = interchange_mclp(instance, radius, start, p, budget, time_limit=left(), stats=info)
        return out, int(info.get("moves", 0))

    say = progress or (lambda _msg: None)
    if method == "lagrangian":
        lag = _lagrangian(instance, model, p, radius, budget, None, None, left(), table, say)
        mask = lag.best_mask
        iterations += lag.iterations
        bound = _tighter(model, bound, lag)
        obj = value(mask)
        stats["lagrangian"] = {"iterations": lag.iterations, "objective": obj}
        say(
            f"Lagrangian plan {obj:.10g}, bound {bound:.10g} after {lag.iterations} iterations, {time.perf_counter() - t0:.1f} s"
        )
        out = _finish(instance, model, mask, obj, bound, t0, method, iterations, stats, radius, p, budget)
        return _with_multipliers(out, model, lag)

    if model == "pmedian":
        mask = greedy_pmedian(instance, p, budget)
    else:
        assert radius is not None
        mask = greedy_mclp(instance, radius, p, budget)
    obj = value(mask)
    stats["greedy"] = {"objective": obj, "seconds": time.perf_counter() - t0}
    say(f"greedy plan {obj:.10g} in {time.perf_counter() - t0:.1f} s")
    if method in ("interchange", "auto"):
        mask, moves = local(mask)
        iterations += moves
        obj = value(mask)
        stats["interchange"] = {"objective": obj, "moves": moves, "seconds": time.perf_counter() - t0}
        say(f"swap search: {obj:.10g} after {moves} moves, {time.perf_counter() - t0:.1f} s")
    if method == "auto" and _gap_open(model, obj, bound):
        lag = _lagrangian(instance, model, p, radius, budget, obj, mask, left(), table, say)
        iterations += lag.iterations
        bound = _tighter(model, bound, lag)
        stats["lagrangian"] = {"iterations": lag.iterations, "bound": bound, "seconds": time.perf_counter() - t0}
        say(f"Lagrangian bound {bound:.10g} after {lag.iterations} iterations, {time.perf_counter() - t0:.1f} s")
        starts = [lag.best_mask, *lag.plans]
        tried: set[bytes] = {np.packbits(mask).tobytes()}
        for start in starts:
            key = np.packbits(start).tobytes()
            if key in tried or not _gap_open(model, obj, bound) or time.perf_counter() >= deadline:
                continue
            tried.add(key)
            cand, moves = local(start)
            iterations += moves
            cv = value(cand)
            if better(cv, obj):
                mask, obj = cand, cv
        stats["polish"] = {"objective": obj, "starts": len(tried) - 1, "seconds": time.perf_counter() - t0}
        out = _finish(instance, model, mask, obj, bound, t0, method, iterations, stats, radius, p, budget)
        return _with_multipliers(out, model, lag)
    return _finish(instance, model, mask, obj, bound, t0, method, iterations, stats, radius, p, budget)


def _with_multipliers(out: HeuristicOutcome, model: str, lag: LagrangianResult) -> HeuristicOutcome:
    """The outcome carrying the p-median Lagrangian multipliers (MCLP: unchanged)."""
    if model != "pmedian":
        return out
    return dataclasses.replace(out, multipliers=np.asarray(lag.multipliers, dtype=np.float64))


def _lagrangian(
    instance: SitingInstance,
    model: str,
    p: int | None,
    radius: float | None,
    budget: float | None,
    incumbent: float | None,
    start: NDArray[np.bool_] | None,
    time_limit: float | None,
    table: DistanceTable | None,
    progress: Callable[[str], None],
) -> LagrangianResult:
    if model == "pmedian":
        return lagrangian_pmedian(
            instance, p, upper_bound=incumbent, time_limit=time_limit, budget=budget, start_mask=start, table=table,
            progress=progress,
        )  # fmt: skip
    assert radius is not None
    return lagrangian_mclp(
        instance, radius, p, lower_bound=incumbent, time_limit=time_limit, budget=budget, start_mask=start
    )


def _tighter(model: str, bound: float, lag: LagrangianResult) -> float:
    if model == "pmedian":
        return max(bound, lag.lower_bound)
    return min(bound, lag.upper_bound)


def _gap_open(model: str, obj: float, bound: float) -> bool:
    if not (math.isfinite(obj) and math.isfinite(bound)):
        return True
    tol = 1e-9 * max(1.0, abs(obj))
    return obj - bound > tol if model == "pmedian" else bound - obj > tol


def _finish(
    instance: SitingInstance,
    model: str,
    mask: NDArray[np.bool_],
    obj: float,
    bound: float,
    t0: float,
    method: str,
    iterations: int,
    stats: dict[str, Any],
    radius: float | None,
    p: int | None,
    budget: float | None,
) -> HeuristicOutcome:
    met = evaluate(instance, mask, radius=radius, p=p, budget=budget)
    if met.violations:  # a bug, not a user error: every heuristic keeps its plan feasible
        raise RuntimeError(f"run_heuristic({model}, {method}) produced an infeasible plan: {met.violations}")
    return HeuristicOutcome(
        open_mask=mask.copy(),
        objective=obj,
        bound=bound,
        seconds=time.perf_counter() - t0,
        method=method,
        iterations=iterations,
        stats=stats,
    )
