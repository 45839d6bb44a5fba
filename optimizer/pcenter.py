"""p-center by search over the sorted distinct distances, one set-covering MILP per step.

The p-center value ``min_{S} max_{i: w_i > 0} d(i, S)`` (S: the existing facilities plus at most p
new eligible sites) is one of the instance's distances, and "some plan reaches every weighted
demand point within R" is monotone in R: it holds iff the set covering problem LSCP(R) needs at
most p new sites. So the optimum is the smallest distinct distance R with ``LSCP_count(R) <= p``,
found by binary search between

* ``lower = max_i min_j d_ij`` (no plan does better than each demand point's nearest eligible or
  existing site), and
* ``upper`` = the max distance (recomputed by :func:`models.evaluate.evaluate`) of a greedy
  farthest-point plan, which is feasible.
"""

from __future__ import annotations

import math
import time
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import InfeasibleError, NoSolutionError
from siting.models.evaluate import evaluate, nearest_open
from siting.models.formulations.lscp import lscp, new_eligible, uncoverable
from siting.models.formulations.mclp import check_site_limits
from siting.models.formulations.pmedian import eligible_pairs
from siting.models.instance import SitingInstance
from siting.optimizer.result import Backend, Limit, SolveParams, SolveResult, Status, relative_gap

_TOL = 1e-6


def greedy_pcenter(instance: SitingInstance, p: int) -> NDArray[np.bool_]:
    """Farthest-point greedy (Gonzalez 1985 style): a feasible plan with at most p new sites.

    Starting from the existing facilities, repeat p times: take the weighted demand point farthest
    from the open sites and open the closed new eligible site nearest to it. Stops early when
    that point cannot get closer (its nearer sites are all open), since then the current max
    distance equals that point's nearest-site distance, a lower bound.
    """
    open_ = instance.existing.copy()
    can_open = new_eligible(instance)
    pos = np.flatnonzero(instance.weights > 0)
    if pos.size == 0:
        return open_
    for _ in range(p):
        _, dist = nearest_open(instance, open_)
        far = pos[np.argmax(dist[pos])]  # first maximum: lowest index among ties
        if instance.is_sparse:
            row = cast(sp.csr_array, instance.distances)[[far], :]
            drow = np.full(instance.m, np.inf)
            drow[row.indices] = row.data
        else:
            drow = np.asarray(instance.distances[far], dtype=np.float64).copy()
        drow[~can_open | open_] = np.inf
        j = int(np.argmin(drow))
        if not drow[j] < dist[far]:
            break
        open_[j] = True
    return open_


def _decide(
    instance: SitingInstance, p: int, radius: float, backend: Backend, params: SolveParams
) -> tuple[str, NDArray[np.bool_] | None, SolveResult | None]:
    """Is there a plan with <= p new sites reaching all weighted demand within ``radius``?

    Returns ``("yes", open_mask, result)``, ``("no", None, result)`` when proven impossible, or
    ``("unknown", None, result)`` when the solver stopped without deciding.
    """
    weighted = instance.weights > 0
    if (uncoverable(instance, radius) & weighted).any():
        return "no", None, None
    problem = lscp(instance, radius, objective="count")
    if problem.num_rows == 0:  # existing facilities already reach everyone
        return "yes", instance.existing.copy(), None
    res = backend.solve(problem, params)
    if res.status.has_solution and res.x is not None:
        mask = problem.open_sites(res.x)
        metrics = evaluate(instance, mask, p=p)
        if metrics.n_new <= p and metrics.max_distance <= radius + _TOL and not metrics.violations:
            return "yes", mask, res
    if res.status == Status.INFEASIBLE:
        return "no", None, res
    if res.bound is not None and math.isfinite(res.bound) and math.ceil(res.bound - _TOL) > p:
        return "no", None, res
    if res.status == Status.OPTIMAL and res.objective is not None and res.objective > p + _TOL:
        return "no", None, res
    return "unknown", None, res


def solve_pcenter(
    instance: SitingInstance, p: int, backend: Backend, params: SolveParams
) -> tuple[float, NDArray[np.bool_], SolveResult, dict[str, Any]]:
    """Solve the p-center problem by binary search over the distinct distances.

    Each step solves LSCP(R, objective="count") with ``backend``; a step that finds a cover with
    at most p new sites moves the upper end down, a step that proves more than p are needed
    (solver bound > p, or infeasible) moves the lower end up. A step that decides neither (a limit
    hit) is treated as "no" and the result is then only FEASIBLE, with the proven lower bound.
    ``params``' time budget (its deadline) bounds the whole search; each step gets what is left.

    Parameters
    ----------
    instance : the instance; only demand with weight > 0 counts.
    p : maximum number of new sites (existing facilities are always open).
    backend : the MILP backend for the LSCP steps.
    params : solve parameters passed to every step.

    Returns
    -------
    radius : the optimal (or best found) p-center value R.
    open_sites : (m,) mask of the plan reaching every weighted demand point within R.
    result : combined result: status OPTIMAL iff every step that decided the search was proven;
        objective = R, bound = the smallest radius not proven infeasible, seconds = wall time of
        the search, ``x`` = the open mask as floats (m,).
    stats : ``steps``, ``radii`` tried, ``decisions`` (one dict per step), ``lower``, ``upper``
        (greedy), ``greedy_new``, ``solver_seconds`` (sum over the steps).

    Raises
    ------
    ScenarioError : p < 1 or above the number of new eligible sites.
    DataError : a demand point with weight > 0 reaches no eligible site.
    InfeasibleError : no plan with p new sites reaches every weighted demand point.
    NoSolutionError : the search stopped (limits) before any plan was found.
    """
    t0 = time.perf_counter()
    params = params.started()
    ip = check_site_limits(instance, p, None, min_p=1, strict_p=True)
    assert ip is not None
    rows, _, dist = eligible_pairs(instance, weighted_only=True)
    version = backend.version()
    stats: dict[str, Any] = {"steps": 0, "radii": [], "decisions": []}

    def finish(
        radius: float, mask: NDArray[np.bool_], status: Status, bound: float, limit: Limit, msg: str = ""
    ) -> tuple[float, NDArray[np.bool_], SolveResult, dict[str, Any]]:
        stats["solver_seconds"] = float(sum(d["seconds"] for d in stats["decisions"]))
        result = SolveResult(
            status=status,
            solver=backend.name,
            solver_version=version,
            objective=radius,
            bound=bound,
            gap=relative_gap(radius, bound),
            seconds=time.perf_counter() - t0,
            limit=limit,
            x=mask.astype(np.float64),
            message=msg,
            stats=dict(stats),
        )
        return radius, mask, result, stats

    if rows.size == 0:  # no weighted demand: any plan has max distance 0
        stats.update(lower=0.0, upper=0.0, greedy_new=0)
        return finish(0.0, instance.existing.copy(), Status.OPTIMAL, 0.0, Limit.NONE)

    nearest = np.full(instance.n, np.inf)
    np.minimum.at(nearest, rows, dist)
    lower = float(nearest[np.unique(rows)].max())  # max_i min_j d_ij
    cand = np.unique(dist)
    greedy = greedy_pcenter(instance, ip)
    gm = evaluate(instance, greedy, p=ip)
    upper = gm.max_distance
    stats.update(lower=lower, upper=upper, greedy_new=gm.n_new)

    lo = int(np.searchsorted(cand, lower - _TOL))
    best: tuple[int, NDArray[np.bool_]] | None = None
    if math.isfinite(upper) and not gm.violations:
        hi = int(np.searchsorted(cand, upper - _TOL))
        best = (hi, greedy)
    else:
        hi = cand.size - 1
    proven_lo = lo  # every radius below cand[proven_lo] is proven infeasible
    undecided = False
    step_limit = Limit.NONE

    def run(idx: int) -> str:
        nonlocal undecided, step_limit
        if params.expired():  # each step gets what is left of the shared budget
            undecided, step_limit = True, Limit.TIME
            return "stop"
        radius = float(cand[idx])
        verdict, mask, res = _decide(instance, ip, radius, backend, params)
        stats["steps"] += 1
        stats["radii"].append(radius)
        stats["decisions"].append(
            {
                "radius": radius,
                "verdict": verdict,
                "status": None if res is None else res.status.value,
                "objective": None if res is None else res.objective,
                "bound": None if res is None else res.bound,
                "seconds": 0.0 if res is None else res.seconds,
            }
        )
        if verdict == "yes":
            assert mask is not None
            nonlocal best
            best = (idx, mask)
        elif verdict == "unknown":
            undecided = True
            if res is not None and res.limit != Limit.NONE:
                step_limit = res.limit
        return verdict

    stopped = False
    while lo < hi:
        mid = (lo + hi) // 2
        verdict = run(mid)
        if verdict == "stop":
            stopped = True
            break
        if verdict == "yes":
            hi = mid
        else:
            if verdict == "no":
                proven_lo = max(proven_lo, mid + 1)
            lo = mid + 1
    if not stopped and best is None:  # the greedy plan missed someone: hi = the largest distance, unchecked
        verdict = run(hi)
        if verdict == "no":
            raise InfeasibleError(
                f"no plan with p = {ip} new sites reaches every demand point with weight > 0 "
                f"(even within {cand[hi]:g}): raise --p or add reachable candidate sites"
            )
        stopped = verdict == "stop"
    if best is None:
        raise NoSolutionError(
            f"the p-center search stopped after {stats['steps']} steps without a plan "
            f"(limit {step_limit.value}): give a longer --time-limit"
        )
    idx, mask = best
    radius = float(evaluate(instance, mask).max_distance)
    proven = not undecided and not stopped
    bound = radius if proven else float(cand[min(proven_lo, idx)])
    if proven:
        return finish(radius, mask, Status.OPTIMAL, bound, Limit.NONE)
    limit = step_limit if step_limit != Limit.NONE else Limit.OTHER
    return finish(radius, mask, Status.FEASIBLE, bound, limit, "some search steps were not decided")
