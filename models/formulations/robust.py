"""Robust coverage: the plan that holds up over K sampled demand scenarios, as one MILP.

Population estimates are uncertain. Scenario k (k = 1..K) draws every demand weight as
``w_ik = max(0, w_i (1 + sigma xi_ik))`` with ``xi_ik ~ N(0, 1)`` independent and seeded
(:func:`sample_weights`). Coverage does not depend on the weights, so the MCLP's rows and
variables are shared: rows merged by covering set as in :mod:`models.formulations.mclp`, merged
row r carrying ``W_rk`` (the sum of its points' weights in scenario k), ``E_k`` the weight of
scenario k already covered by existing facilities.

Worst case (``objective="worst"``)::

    max   theta
    s.t.  z_r - sum_{j in N_r} y_j <= 0                            every merged row r    (1)
          theta - sum_r W_rk z_r <= E_k                            every scenario k      (4)
          p and budget rows (2), (3);  theta >= 0 continuous

Mean (``objective="mean"``): ``max (1/K) sum_k (E_k + sum_r W_rk z_r)``, which is the MCLP with
the mean scenario weights (theta is fixed at 0 and unused).

Equity floor (``min_share = s``) on the *nominal* weights: rows are then merged within a demand
group only, ``w_r`` the nominal weight of merged row r, ``E_g`` group g's nominal demand covered by
existing facilities, ``W_g`` its whole nominal demand::

    E_g + sum_{r in g} w_r z_r >= s W_g                              every group g, W_g > 0  (5)

Exact: raising a ``z_r`` to its bound keeps (4) and (5) and does not lower the objective.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.models.formulations.lscp import check_radius, covering_rows, merge_identical_rows, new_eligible, site_bounds
from siting.models.formulations.mclp import check_site_limits, site_limit_rows, smallest_eligible_distance
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem, stack_rows


def sample_weights(weights: NDArray[np.float64], samples: int, noise: float, seed: int) -> NDArray[np.float64]:
    """(K, n) scenario weights ``max(0, w (1 + noise N(0, 1)))``, seeded."""
    if int(samples) != samples or samples < 1:
        raise ScenarioError(f"robust samples = {samples} must be a whole number >= 1")
    if not np.isfinite(noise) or noise < 0:
        raise ScenarioError(f"population noise = {noise} must be a number >= 0 (0.15 = 15 % standard deviation)")
    rng = np.random.default_rng(seed)
    xi = rng.standard_normal((int(samples), weights.size))
    return np.maximum(0.0, weights[None, :] * (1.0 + noise * xi))


def scenario_coverage(scenarios: NDArray[np.float64], covered: NDArray[np.bool_]) -> NDArray[np.float64]:
    """(K,) covered weight of each scenario for a plan's covered mask."""
    return np.asarray(scenarios @ covered.astype(np.float64))


def robust_mclp(
    instance: SitingInstance,
    radius: float,
    scenarios: NDArray[np.float64],
    p: int | None = None,
    budget: float | None = None,
    objective: Literal["worst", "mean"] = "worst",
    min_share: float | None = None,
) -> MilpProblem:
    """The worst-case or mean-case MCLP over the scenario weights ``scenarios`` (K, n); with
    ``min_share``, every demand group keeps that share of its nominal demand covered (row (5))."""
    r = check_radius(radius, allow_zero=False)
    ip = check_site_limits(instance, p, budget, min_p=0)
    if objective not in ("worst", "mean"):
        raise ScenarioError(f"robust objective {objective!r} is unknown: give 'worst' or 'mean'")
    n_k = scenarios.shape[0]
    m = instance.m
    # rows by covering set only: a point's weight may be 0 nominally but not in a scenario
    nominal = SitingInstance(
        instance.distances, weights=np.ones(instance.n), site_ids=instance.site_ids, cost=instance.cost,
        existing=instance.existing, forbidden=instance.forbidden,
    )  # fmt: skip
    cover, demand, by_existing, no_site = covering_rows(nominal, r)
    if no_site.all():
        raise ScenarioError(
            f"radius {r:g} covers no demand point from any eligible site; the smallest demand-site "
            f"distance is {smallest_eligible_distance(instance):g}: increase the radius"
        )
    if min_share is not None:  # merge within a group only: the floor row sums a group's rows
        from siting.models.formulations.equity import group_codes

        labels, code = group_codes(instance)
        tag = sp.csr_array(
            (np.ones(demand.size, dtype=bool), (np.arange(demand.size), code[demand])), shape=(demand.size, labels.size)
        )
        group, first = merge_identical_rows(sp.hstack([cover, tag], format="csr"))
    else:
        group, first = merge_identical_rows(cover)
    k = first.size
    # W_rk: scenario weights summed per merged row, (K, k)
    w_rk = np.stack([np.bincount(group, weights=scenarios[s, demand], minlength=k) for s in range(n_k)])
    e_k = scenarios[:, by_existing].sum(axis=1)
    merged = sp.csr_array(cover[first])
    nvar = m + k + 1
    t_col = nvar - 1
    lower, upper = site_bounds(instance)
    used = np.bincount(merged.indices, minlength=m) > 0
    upper[new_eligible(instance) & ~used] = 0.0
    cov_block = sp.hstack(
        [-merged.astype(np.float64), sp.eye_array(k, format="csr"), sp.csr_array((k, 1))], format="csr"
    )
    blocks = [(cov_block, np.full(k, -np.inf), np.zeros(k))]  # (1)
    blocks += site_limit_rows(instance, nvar, ip, budget)  # (2), (3)
    if min_share is not None:
        from siting.models.formulations.equity import floor_rows

        w = instance.weights
        w_r = np.bincount(group, weights=w[demand], minlength=k).astype(np.float64)
        base = np.bincount(code, weights=w * by_existing, minlength=labels.size).astype(np.float64)
        zcol = m + np.arange(k, dtype=np.int64)
        blocks.append(floor_rows(instance, min_share, zcol, demand[first], w_r, nvar, base=base))  # (5)
    c = np.zeros(nvar)
    worst = objective == "worst"
    if worst:
        scen = sp.hstack([sp.csr_array((n_k, m)), sp.csr_array(-w_rk), sp.csr_array(np.ones((n_k, 1)))], format="csr")
        blocks.append((scen, np.full(n_k, -np.inf), e_k))  # (4)
        c[t_col] = 1.0
        offset = 0.0
    else:
        c[m : m + k] = w_rk.mean(axis=0)
        offset = float(e_k.mean())
    A, row_lower, row_upper = stack_rows(blocks, nvar)
    return MilpProblem(
        c=c,
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.zeros(nvar) + np.concatenate([lower, np.zeros(k + 1)]),
        col_upper=np.concatenate([upper, np.ones(k), [np.inf if worst else 0.0]]),
        integrality=np.concatenate([np.ones(m, dtype=bool), np.zeros(k + 1, dtype=bool)]),
        sense="max",
        offset=offset,
        site_cols=np.arange(m, dtype=np.int64),
        name=f"mclp-robust[{objective}, K={n_k}] R={r:g}" + (f" floor {min_share:g}" if min_share is not None else ""),
        blocks={"y": (0, m), "z": (m, m + k), "theta": (t_col, nvar)},
        implied_integer=np.concatenate([np.zeros(m, dtype=bool), np.ones(k, dtype=bool), [not worst]]),
    )
