"""Gradual reach: coverage that fades with distance instead of stopping at a hard radius.

The decay ``a(d)`` is 1 within ``reach_full``, falls linearly to 0 at ``reach_max`` and is 0
beyond::

    a(d) = 1                                          d <= F
         = (M - d) / (M - F)                          F < d < M
         = 0                                          d >= M

(``F = reach_full``, ``M = reach_max``). A demand point's coverage is the best any open facility
gives it, ``c_i = max_{j open} a(d_ij)``; since ``a`` does not increase with distance this is
``a`` of the distance to the nearest open facility, which is how the evaluator counts it.

Exact MILP, ordered levels. For demand point i let ``v_i^1 > v_i^2 > ... > v_i^K > 0`` be the
distinct values ``a(d_ij)`` over eligible sites j (new or existing), ``v_i^{K+1} = 0``, and
``S_i^k = {j : a(d_ij) = v_i^k}``. ``u_i^k`` (continuous in [0, 1], integral at an optimum) is 1
when some open facility gives i at least ``v_i^k``::

    max   sum_i w_i sum_k (v_i^k - v_i^{k+1}) u_i^k
    s.t.  u_i^k - u_i^{k-1} - sum_{j in S_i^k} y_j <= 0       every level, u_i^0 = 0      (1)
          sum_{j new} y_j <= p ;  sum_{j new} cost_j y_j <= budget                         (2), (3)

Chained, (1) telescopes to ``u_i^k <= sum_{j: a(d_ij) >= v_i^k} y_j``, so at an optimum
``u_i^k = 1`` exactly for the levels up to the best open one, and the objective telescopes to
``w_i v_i^{k*}`` = ``w_i c_i``. One nonzero per pair plus two per level; no dense matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.models.formulations.lscp import coverage_matrix, csr_rows, new_eligible, site_bounds
from siting.models.formulations.mclp import check_site_limits, site_limit_rows
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem, stack_rows


def check_reach(reach_full: float, reach_max: float) -> tuple[float, float]:
    """Validate ``0 <= reach_full < reach_max`` (finite), naming the fix."""
    f, m = float(reach_full), float(reach_max)
    if not (np.isfinite(f) and np.isfinite(m)) or f < 0 or m <= f:
        raise ScenarioError(
            f"reach_full = {reach_full:g} and reach_max = {reach_max:g} do not make a decay: "
            "give 0 <= --reach-full < --reach-max"
        )
    return f, m


def decay(distance: NDArray[np.float64], reach_full: float, reach_max: float) -> NDArray[np.float64]:
    """``a(d)`` of the module docstring, elementwise (0 for ``inf``)."""
    d = np.asarray(distance, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = np.clip((reach_max - d) / (reach_max - reach_full), 0.0, 1.0)
    out[d <= reach_full] = 1.0
    out[~np.isfinite(d)] = 0.0
    return out


def decay_mclp(
    instance: SitingInstance,
    reach_full: float,
    reach_max: float,
    p: int | None = None,
    budget: float | None = None,
) -> MilpProblem:
    """MCLP with coverage fading linearly from ``reach_full`` to ``reach_max``; see the module docstring."""
    f, mx = check_reach(reach_full, reach_max)
    ip = check_site_limits(instance, p, budget, min_p=0)
    m = instance.m
    pairs = coverage_matrix(instance, mx)  # boolean pattern of the pairs within reach_max
    rows = csr_rows(pairs)
    cols = pairs.indices.astype(np.int64)
    val = decay(instance.pair_distances(rows, cols), f, mx)
    keep = instance.eligible[cols] & (instance.weights[rows] > 0) & (val > 0)
    rows, cols, val = rows[keep], cols[keep], val[keep]
    if rows.size == 0:
        raise ScenarioError(f"no demand point is within reach_max = {mx:g} of an eligible site: widen --reach-max")
    # levels: distinct (row, value), best value first within each row
    order = np.lexsort((cols, -val, rows))
    rows, cols, val = rows[order], cols[order], val[order]
    new_level = np.ones(rows.size, dtype=bool)
    new_level[1:] = (rows[1:] != rows[:-1]) | (val[1:] != val[:-1])
    level = np.cumsum(new_level) - 1  # level of each pair
    n_lev = int(level[-1]) + 1
    lev_row = rows[new_level]
    lev_val = val[new_level]
    first_of_row = np.ones(n_lev, dtype=bool)
    first_of_row[1:] = lev_row[1:] != lev_row[:-1]
    last_of_row = np.ones(n_lev, dtype=bool)
    last_of_row[:-1] = lev_row[1:] != lev_row[:-1]
    next_val = np.where(last_of_row, 0.0, np.concatenate([lev_val[1:], [0.0]]))
    nvar = m + n_lev
    ucol = m + np.arange(n_lev, dtype=np.int64)

    lower, upper = site_bounds(instance)
    used = np.bincount(cols, minlength=m) > 0
    upper[new_eligible(instance) & ~used] = 0.0
    # (1) u_k - u_{k-1} - sum_{j in S_k} y_j <= 0
    prev = np.flatnonzero(~first_of_row)
    a1 = sp.csr_array(
        (
            np.concatenate([np.ones(n_lev), -np.ones(prev.size), -np.ones(rows.size)]),
            (np.concatenate([np.arange(n_lev), prev, level]), np.concatenate([ucol, ucol[prev - 1], cols])),
        ),
        shape=(n_lev, nvar),
    )
    blocks = [(a1, np.full(n_lev, -np.inf), np.zeros(n_lev))]
    blocks += site_limit_rows(instance, nvar, ip, budget)
    A, row_lower, row_upper = stack_rows(blocks, nvar)
    c = np.concatenate([np.zeros(m), instance.weights[lev_row] * (lev_val - next_val)])
    return MilpProblem(
        c=c,
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.concatenate([lower, np.zeros(n_lev)]),
        col_upper=np.concatenate([upper, np.ones(n_lev)]),
        integrality=np.concatenate([np.ones(m, dtype=bool), np.zeros(n_lev, dtype=bool)]),
        sense="max",
        offset=0.0,
        site_cols=np.arange(m, dtype=np.int64),
        name=f"mclp-decay F={f:g} M={mx:g}",
        blocks={"y": (0, m), "u": (m, nvar)},
        implied_integer=np.concatenate([np.zeros(m, dtype=bool), np.ones(n_lev, dtype=bool)]),
    )
