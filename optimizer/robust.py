"""Solving the robust MCLP and comparing it with the nominal plan over the same scenarios.

:func:`solve_robust` draws the K demand scenarios (seeded), solves the worst-case or mean MCLP
(:mod:`models.formulations.robust`) as one MILP, and also solves the nominal MCLP (the plan made
for the point estimates) so the report can say what robustness buys: the nominal plan's worst
case against the robust plan's, and what the robust plan gives up on the point estimates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.models.evaluate import evaluate
from siting.models.formulations.mclp import mclp
from siting.models.formulations.robust import robust_mclp, sample_weights, scenario_coverage
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.result import Backend, SolveParams, SolveResult


def robust_value(
    instance: SitingInstance, covered: NDArray[np.bool_], samples: int, noise: float, seed: int, objective: str
) -> float:
    """The robust objective of a plan, recounted: worst or mean scenario coverage of its covered mask."""
    cov = scenario_coverage(sample_weights(instance.weights, samples, noise, seed), covered)
    return float(cov.min() if objective == "worst" else cov.mean())


def _covered(instance: SitingInstance, mask: NDArray[np.bool_], radius: float) -> NDArray[np.bool_]:
    met = evaluate(instance, mask, radius=radius)
    assert met.covered is not None
    return met.covered


def solve_robust(
    instance: SitingInstance,
    radius: float,
    *,
    p: int | None,
    budget: float | None,
    samples: int,
    noise: float,
    seed: int,
    objective: Literal["worst", "mean"],
    backend: Backend,
    params: SolveParams,
    progress: Callable[[str], None] | None = None,
    min_share: float | None = None,
) -> tuple[SolveResult, NDArray[np.bool_] | None, dict[str, Any]]:
    """Solve the robust MCLP; ``stats["robust"]`` compares it with the nominal plan.

    ``min_share``: every demand group keeps that share of its nominal demand covered (through
    :func:`optimizer.equity.solve_floor`; ``stats["equity"]`` reports the shares before and after).
    """
    say = progress or (lambda _msg: None)
    if objective == "worst" and backend.name == "cpsat":
        raise ScenarioError(
            "the worst case is a continuous variable, which CP-SAT cannot solve: "
            "use --solver highs (or cbc, scip), or the mean objective"
        )
    scenarios = sample_weights(instance.weights, samples, noise, seed)
    extra: dict[str, Any] = {}
    left = params.remaining()  # the nominal reference solve below gets the last quarter of the time
    if min_share is None:
        problem = robust_mclp(instance, radius, scenarios, p=p, budget=budget, objective=objective)
        say(f"robust MCLP ({objective} of {samples} scenarios): {problem.num_vars} columns, {problem.num_rows} rows")
        res = backend.solve(problem, params.within(None if left is None else 0.75 * left))
    else:
        from siting.optimizer.equity import best_alone, solve_floor

        def build(inst: SitingInstance, share: float | None) -> MilpProblem:
            return robust_mclp(inst, radius, scenarios, p=p, budget=budget, objective=objective, min_share=share)

        def point_credit(pr: MilpProblem, x: NDArray[np.float64]) -> NDArray[np.float64]:
            return _covered(instance, pr.open_sites(x), radius).astype(np.float64)

        say(f"robust MCLP ({objective} of {samples} scenarios) with a group floor of {min_share:g} on nominal demand")
        res, problem, extra = solve_floor(
            instance, build, point_credit, min_share, backend, params.within(None if left is None else 0.75 * left),
            alone=lambda: best_alone(instance, radius, p, budget, backend, params.within(None)),
        )  # fmt: skip
    if res.x is None:
        return res, None, {"formulation": "mclp-robust"}
    mask = problem.open_sites(res.x)
    nominal = mclp(instance, radius, p=p, budget=budget)
    nres = backend.solve(nominal, params)
    nmask = nominal.open_sites(nres.x) if nres.x is not None else instance.existing.copy()
    w = instance.weights
    cov_r, cov_n = _covered(instance, mask, radius), _covered(instance, nmask, radius)
    sc_r, sc_n = scenario_coverage(scenarios, cov_r), scenario_coverage(scenarios, cov_n)
    robust = {
        "samples": samples,
        "population_noise": noise,
        "seed": seed,
        "objective": objective,
        "robust_worst_case": float(sc_r.min()),
        "robust_mean": float(sc_r.mean()),
        "robust_nominal": float(np.dot(w, cov_r)),
        "nominal_worst_case": float(sc_n.min()),
        "nominal_mean": float(sc_n.mean()),
        "nominal_nominal": float(np.dot(w, cov_n)),
        "nominal_status": nres.status.value,
    }
    return res, mask, {"formulation": "mclp-robust", "robust": robust, **extra}
