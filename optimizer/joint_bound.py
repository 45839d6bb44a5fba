"""Bounds for the joint model at city scale: phases that cannot matter, the LP relaxation, fixing.

A city's joint model (50,000 buildings, 2,000 plots, four services, three phases) has about a
million nonzeros; HiGHS's branch and bound can spend a whole 300 s limit before it reports any
bound. Three steps make the gap known and small, and a fourth finds the plans:

1. **Phases that cannot matter** (:func:`phase_free`). With carry-over and an objective that values
   only the end state (every objective but ``phased``), a plan that keeps the total budget keeps
   every phase budget once all its pairs open in the last phase: spending up to phase t < T-1 is
   0 and up to T-1 it is the plan's cost ``<= sum_t B_t``. So the model with the phase rows (5)
   replaced by the one budget ``min(B, sum_t B_t)`` has the same optimum, and its plans are the
   original's with every pair in the last phase (:func:`last_phase`); the pipeline then moves
   each pair to its earliest phase (:func:`optimizer.ranking.earliest_phases`). Its MILP has one
   ``y`` per pair instead of T, so the coverage rows (7) are T times shorter.
2. **The LP relaxation** (:func:`lp_relaxation`): HiGHS (interior point, then crossover) on the
   model with integrality dropped, within a share of the time limit. Its optimum ``U`` bounds the MILP (max: ``opt <= U``).
3. **Reduced-cost fixing** (:func:`fix_by_reduced_cost`). At an LP optimum with reduced costs
   ``d_j``, every feasible ``x`` has ``c x <= U - sum_j |d_j| |x_j - x*_j|`` over the columns at a
   bound (LP duality). So a binary at 0 with ``U - |d_j| < L`` (``L``: the incumbent's value) is 0
   in every plan better than the incumbent, and one at 1 with ``U - |d_j| < L`` is 1. The MILP on
   the fixed model then searches only where a better plan can be; its bound ``U'`` gives
   ``opt <= max(L, U')`` for the original, and the incumbent itself stays feasible (it has value
   ``L``, so it breaks no fixing).

4. **The LP-guided MILP** (:func:`lp_guided_milp`), for plans, not bounds. The LP optimum of a
   city's model is nearly integral: on the whole city (7,298 binaries) it leaves 226 fractional,
   334 at 1 and the rest at 0. The MILP with every binary the LP has integral held at its LP value
   and only the fractional ones free is a *restriction* of the model (its bounds are tighter, its
   rows the same), so each of its solutions is a plan of the model; with a few hundred free
   binaries HiGHS solves it in seconds. On the whole city it gave 205,473.8 in 9 s, where the
   LP-guided greedy gave 204,781.4 and the full MILP had not improved on it after 198 s.

Everything here is for maximising objectives (``max_coverage``, ``complete_circle``, ``phased``);
the minimising ones mirror it and are left to HiGHS.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from siting.models.milp import MilpProblem
from siting.models.multiservice import MultiServiceInstance
from siting.optimizer.result import SolveParams

#: Models from this many nonzeros get the LP bound and reduced-cost fixing before the MILP.
LP_FIRST_NONZEROS = 250_000
#: Share of the primary stage's time the LP relaxation may use.
LP_SHARE = 0.5
#: HiGHS's LP method for the relaxation: its interior point method with crossover (reduced costs at a
#: vertex). On the city's LP (35,000 rows, 41,000 columns, 460,000 nonzeros) it took 17 CPU s where
#: the dual simplex had not finished after 46.
LP_METHOD = "ipm"
#: The LP-guided MILP runs when the LP leaves at most this many binaries fractional ...
GUIDED_MAX_FREE = 5_000
#: ... within this share of the primary stage's time left after the LP.
GUIDED_SHARE = 0.25
#: A binary whose LP value is within this of an integer is held there by the LP-guided MILP.
INTEGRAL_TOL = 1e-6
#: Relative margin of the fixing test (``U - |d_j| < L - margin``): round-off in the LP duals.
FIX_RTOL = 1e-7


def phase_free(inst: MultiServiceInstance, objective: str) -> MultiServiceInstance | None:
    """The same model without phase budgets when they cannot bind (module docstring, step 1), else None."""
    if objective == "phased" or inst.phase_budgets is None or not inst.carry_over or inst.T < 2:
        return None
    pb = np.asarray(inst.phase_budgets, dtype=np.float64)
    total = math.inf if inst.total_budget is None else float(inst.total_budget)
    budget = min(total, float(pb.sum()))
    return dataclasses.replace(inst, phase_budgets=None, total_budget=None if math.isinf(budget) else budget)


def last_phase(plan: NDArray[np.int8], inst: MultiServiceInstance) -> NDArray[np.int8]:
    """A plan of the :func:`phase_free` model as a plan of ``inst``: every opened pair in the last phase."""
    out = np.asarray(plan, dtype=np.int8).copy()
    out[out >= 0] = inst.T - 1
    return out


@dataclass(frozen=True)
class LpBound:
    """The LP relaxation's optimum: ``value`` (with the offset), the point ``x``, the reduced costs
    ``d`` and the seconds it took."""

    value: float
    x: NDArray[np.float64]
    d: NDArray[np.float64]
    seconds: float


def lp_relaxation(problem: MilpProblem, params: SolveParams) -> LpBound | None:
    """The LP relaxation of ``problem`` solved by HiGHS within ``params``' time; None if it was not
    solved to optimality (a stopped simplex gives no bound)."""
    from siting.optimizer.backends.highs import configure, new_highs, pass_problem, run_within

    t0 = time.perf_counter()
    if params.expired():
        return None
    lp = dataclasses.replace(problem, integrality=np.zeros(problem.num_vars, dtype=bool))
    h = new_highs()
    h.setOptionValue("solver", LP_METHOD)  # before configure: a user's "highs" options still win
    configure(h, params)
    pass_problem(h, lp)
    if not run_within(h, params):
        return None
    if str(getattr(h.getModelStatus(), "name", h.getModelStatus())).split(".")[-1] != "kOptimal":
        return None
    sol = h.getSolution()
    x = np.array(sol.col_value, dtype=np.float64)
    d = np.array(sol.col_dual, dtype=np.float64)
    return LpBound(value=problem.objective_value(x), x=x, d=d, seconds=time.perf_counter() - t0)


def lp_guided_milp(
    problem: MilpProblem, lp: LpBound, params: SolveParams, start: NDArray[np.float64] | None
) -> tuple[NDArray[np.float64] | None, int]:
    """The MILP over the integer columns the LP leaves fractional, the others held at their LP
    value (module docstring, step 4), solved by HiGHS within ``params``' time.

    ``start`` (a plan of ``problem``) warm-starts it when it agrees with the held values. Returns the
    best solution found (a feasible point of ``problem``; None when the LP left nothing or too much
    free, or HiGHS found nothing) and the number of free integer columns.
    """
    from siting.optimizer.backends.highs import HighsBackend

    ints = np.flatnonzero(problem.integrality)
    value = lp.x[ints]
    held = np.abs(value - np.round(value)) <= INTEGRAL_TOL
    free = int((~held).sum())
    if free == 0 or free > GUIDED_MAX_FREE or params.expired():
        return None, free
    lo, hi = problem.col_lower.copy(), problem.col_upper.copy()
    cols, at = ints[held], np.round(value[held])
    lo[cols], hi[cols] = at, at
    restricted = dataclasses.replace(problem, col_lower=lo, col_upper=hi, name=f"{problem.name}-lp-guided")
    warm = start if start is not None and restricted.max_violation(start) <= INTEGRAL_TOL else None
    out = HighsBackend().solve(restricted, params, warm)
    if not out.status.has_solution or out.x is None:
        return None, free
    return out.x, free


def fix_by_reduced_cost(problem: MilpProblem, lp: LpBound, incumbent: float) -> tuple[MilpProblem, int, int]:
    """``problem`` with the binaries that no plan better than ``incumbent`` can change fixed at their
    LP value (module docstring, step 3; ``problem.sense`` must be ``"max"``).

    Returns the fixed problem and how many columns were fixed at 0 and at 1.
    """
    if problem.sense != "max":
        raise ValueError("reduced-cost fixing is written for maximising models")
    margin = FIX_RTOL * max(1.0, abs(incumbent), abs(lp.value))
    binary = problem.integrality & (problem.col_lower == 0.0) & (problem.col_upper == 1.0)
    at0 = binary & (lp.x <= 1e-9)
    at1 = binary & (lp.x >= 1.0 - 1e-9)
    loss = np.abs(lp.d)
    cut = lp.value - loss < incumbent - margin
    zero, one = at0 & cut, at1 & cut
    lo, up = problem.col_lower.copy(), problem.col_upper.copy()
    up[zero] = 0.0
    lo[one] = 1.0
    fixed = dataclasses.replace(problem, col_lower=lo, col_upper=up)
    return fixed, int(zero.sum()), int(one.sum())


def combined_bound(incumbent: float, lp_value: float | None, milp_bound: float | None) -> float | None:
    """The original model's bound (max) from the LP optimum and the fixed MILP's bound:
    ``min(U, max(L, U'))``, the smaller of those that are known."""
    known = [v for v in (lp_value, None if milp_bound is None else max(incumbent, milp_bound)) if v is not None]
    return min(known) if known else None


__all__ = [
    "FIX_RTOL",
    "GUIDED_MAX_FREE",
    "GUIDED_SHARE",
    "INTEGRAL_TOL",
    "LP_FIRST_NONZEROS",
    "LP_METHOD",
    "LP_SHARE",
    "LpBound",
    "combined_bound",
    "fix_by_reduced_cost",
    "last_phase",
    "lp_guided_milp",
    "lp_relaxation",
    "phase_free",
]
