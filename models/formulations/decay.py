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

Step table. Instead of the linear fall, a table of K steps ``(r_1, c_1), ..., (r_K, c_K)`` with
``0 < r_1 < ... < r_K`` and ``1 >= c_1 >= ... >= c_K > 0`` (the GB 50180-2018 levels: 5, 10 and
15 minutes of walking) gives::

    a(d) = c_k          r_{k-1} < d <= r_k   (r_0 = -inf)
         = 0            d > r_K

which telescopes: ``a(d) = sum_k (c_k - c_{k+1}) [d <= r_k]`` with ``c_{K+1} = 0``. A point's
credit is the best open facility's, ``max_j a(d_ij) = sum_k (c_k - c_{k+1}) [some open site within
r_k]``: one coverage variable per point and step. The same ordered-levels MILP above is exactly
that (its levels are the distinct credits ``c_k`` a point can get), so the step table reuses it:
``u_i^k <= sum_{j: d_ij <= r_k} y_j`` after telescoping (1), objective ``sum_k w_i (c_k - c_{k+1})
u_i^k``; at most K levels per point.

Equity floor (``min_share = s``, demand groups ``g(i)``, whole group demand ``W_g``): the decayed
credit of a group is linear in the level variables, so the floor is one row per group::

    sum_{levels (i, k): g(i) = g} w_i (v_i^k - v_i^{k+1}) u_i^k >= s W_g                   (5)

Existing facilities are fixed open among the ``y``, so their credit is inside the sum. Exact: for
fixed ``y`` raising any ``u`` to its bound keeps every row and does not lower the objective.
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


Steps = tuple[tuple[float, float], ...]


def check_steps(steps: object) -> Steps:
    """Validate a step table ``[(distance, credit), ...]``: distances finite, > 0 and strictly
    increasing, credits in (0, 1] and not increasing. Returns it as a tuple of float pairs."""
    try:
        table = tuple((float(r), float(c)) for r, c in steps)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ScenarioError(
            f"decay steps {steps!r} are not a table of (distance, credit) pairs: give e.g. 500:1,1000:0.6,1500:0.3"
        ) from None
    if not table:
        raise ScenarioError("decay steps are empty: give at least one (distance, credit) step, e.g. 500:1")
    r = np.array([t[0] for t in table])
    c = np.array([t[1] for t in table])
    problems = []
    if not np.isfinite(r).all() or (r <= 0).any() or (np.diff(r) <= 0).any():
        problems.append(f"the distances {', '.join(f'{x:g}' for x in r)} must be > 0 and strictly increasing")
    if not np.isfinite(c).all() or (c <= 0).any() or (c > 1).any() or (np.diff(c) > 0).any():
        problems.append(f"the credits {', '.join(f'{x:g}' for x in c)} must lie in (0, 1] and not increase")
    if problems:
        raise ScenarioError("decay steps: " + "; ".join(problems) + " (e.g. 500:1,1000:0.6,1500:0.3)")
    return table


def parse_steps(text: str) -> Steps:
    """``"500:1,1000:0.6,1500:0.3"`` (distance:credit, comma-separated) as a checked step table."""
    pairs = []
    for part in str(text).split(","):
        bits = part.strip().split(":")
        try:
            if len(bits) != 2:
                raise ValueError
            pairs.append((float(bits[0]), float(bits[1])))
        except ValueError:
            raise ScenarioError(
                f"--decay-steps {text!r}: {part.strip()!r} is not distance:credit; give e.g. 500:1,1000:0.6,1500:0.3"
            ) from None
    return check_steps(pairs)


def step_decay(distance: NDArray[np.float64], steps: Steps) -> NDArray[np.float64]:
    """``a(d)`` of the step table (module docstring), elementwise: ``c_k`` for the first step with
    ``d <= r_k``, 0 beyond the last step and for ``inf``."""
    d = np.asarray(distance, dtype=np.float64)
    radii = np.array([r for r, _ in steps])
    credit = np.array([c for _, c in steps] + [0.0])
    k = np.searchsorted(radii, np.where(np.isfinite(d), d, np.inf), side="left")
    return credit[k]


def describe_steps(steps: Steps, unit: str = "") -> str:
    """The table in words, e.g. ``1 within 500 m, 0.6 within 1000 m, 0.3 within 1500 m, 0 beyond``."""
    u = f" {unit}" if unit else ""
    return ", ".join(f"{c:g} within {r:g}{u}" for r, c in steps) + ", 0 beyond"


def credit(
    distance: NDArray[np.float64],
    reach_full: float | None = None,
    reach_max: float | None = None,
    steps: Steps | None = None,
) -> NDArray[np.float64]:
    """Each distance's credit under the step table ``steps`` or, without one, the linear decay."""
    if steps is not None:
        return step_decay(distance, steps)
    return decay(distance, float(reach_full or 0.0), float(reach_max or 0.0))


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
    reach_full: float | None = None,
    reach_max: float | None = None,
    p: int | None = None,
    budget: float | None = None,
    *,
    steps: Steps | None = None,
    min_share: float | None = None,
) -> MilpProblem:
    """MCLP with coverage fading from ``reach_full`` to ``reach_max`` (linear), or by the step table
    ``steps``; with ``min_share``, every demand group keeps that share of its demand as decayed
    credit (row (5)). See the module docstring."""
    if steps is not None:
        table = check_steps(steps)
        mx = table[-1][0]
        label = "steps " + ",".join(f"{r:g}:{c:g}" for r, c in table)
    else:
        f, mx = check_reach(float(reach_full or 0.0), float("nan") if reach_max is None else reach_max)
        table = None
        label = f"F={f:g} M={mx:g}"
    ip = check_site_limits(instance, p, budget, min_p=0)
    m = instance.m
    pairs = coverage_matrix(instance, mx)  # boolean pattern of the pairs within the farthest reach
    rows = csr_rows(pairs)
    cols = pairs.indices.astype(np.int64)
    val = credit(instance.pair_distances(rows, cols), reach_full, reach_max, table)
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
    gain = instance.weights[lev_row] * (lev_val - next_val)
    if min_share is not None:
        from siting.models.formulations.equity import floor_rows

        blocks.append(floor_rows(instance, min_share, ucol, lev_row, gain, nvar))  # (5)
    A, row_lower, row_upper = stack_rows(blocks, nvar)
    c = np.concatenate([np.zeros(m), gain])
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
        name=f"mclp-decay {label}" + (f" floor {min_share:g}" if min_share is not None else ""),
        blocks={"y": (0, m), "u": (m, nvar)},
        implied_integer=np.concatenate([np.zeros(m, dtype=bool), np.ones(n_lev, dtype=bool)]),
    )
