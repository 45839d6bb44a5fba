"""Solving the gradual-reach MCLP (linear fall or step table), alone or with an equity floor.

The model is :func:`models.formulations.decay.decay_mclp`, one MILP. With a floor on every
group's decayed credit (``min_share``) the solve goes through :func:`optimizer.equity.solve_floor`:
the model without the floor first (the "before" shares and the floor's cost), then with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siting.models.evaluate import evaluate
from siting.models.formulations.decay import Steps, credit, decay_mclp, describe_steps
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.result import Backend, SolveParams, SolveResult


def decay_text(reach_full: float | None, reach_max: float | None, steps: Steps | None) -> str:
    """The decay rule in words, for summaries: the step table, or the linear fall."""
    if steps is not None:
        return "step table: " + describe_steps(steps)
    return f"linear: 1 within {float(reach_full or 0.0):g}, falling to 0 at {float(reach_max or 0.0):g}"


def solve_decay(
    instance: SitingInstance,
    *,
    reach_full: float | None,
    reach_max: float | None,
    steps: Steps | None,
    p: int | None,
    budget: float | None,
    min_share: float | None,
    backend: Backend,
    params: SolveParams,
    progress: Callable[[str], None] | None = None,
) -> tuple[SolveResult, NDArray[np.bool_] | None, dict[str, Any]]:
    """Solve the gradual-reach MCLP; ``stats["decay"]`` names the rule, ``stats["equity"]`` the floor's report."""
    say = progress or (lambda _msg: None)

    def build(inst: SitingInstance, share: float | None) -> MilpProblem:
        return decay_mclp(inst, reach_full, reach_max, p=p, budget=budget, steps=steps, min_share=share)

    def point_credit(problem: MilpProblem, x: NDArray[np.float64]) -> NDArray[np.float64]:
        near = evaluate(instance, problem.open_sites(x)).nearest_distance
        return credit(near, reach_full, reach_max, steps)

    stats: dict[str, Any] = {
        "formulation": "mclp-decay",
        "decay": {
            "kind": "steps" if steps is not None else "linear",
            "steps": [list(s) for s in steps] if steps is not None else None,
            "reach_full": reach_full,
            "reach_max": reach_max,
            "text": decay_text(reach_full, reach_max, steps),
        },
    }
    if min_share is None:
        problem = build(instance, None)
        say(f"MCLP with gradual reach: {problem.num_vars} columns, {problem.num_rows} rows, {problem.A.nnz} nonzeros")
        res = backend.solve(problem, params)
    else:
        from siting.optimizer.equity import solve_floor

        say(f"MCLP with gradual reach and a group floor of {min_share:g}")
        res, problem, extra = solve_floor(instance, build, point_credit, min_share, backend, params)
        stats |= extra
    mask = problem.open_sites(res.x) if res.x is not None else None
    return res, mask, stats
