"""Equity in coverage: a floor on every demand group's covered share, and the max-min objective.

Demand point i belongs to group ``g(i)`` (a community, a district). ``W_g = sum_{i in g} w_i`` is
the group's whole demand (including points no site can reach: a floor is a promise about the
group, not about its reachable part), ``E_g`` the weight of group g already covered by an existing
facility. The MCLP of :mod:`models.formulations.mclp` is built with rows merged *within* a group
only (two points with the same covering set but different groups stay apart), row r of group
``g(r)`` with weight ``w_r`` and coverage variable ``z_r``.

Equity floor (share ``s``), the MCLP rows (1)-(3) plus::

    E_g + sum_{r in g} w_r z_r >= s W_g                      every group g with W_g > 0  (5)

Max-min share, first stage (``t`` = the worst group's covered share)::

    max   t
    s.t.  E_g + sum_{r in g} w_r z_r - W_g t >= 0            every group g with W_g > 0  (6)
          MCLP rows (1)-(3), 0 <= t <= 1

second stage: (6) with ``t >= t*`` (the first stage's worst share, as the evaluator recounts it)
and the MCLP objective ``W_0 + sum_r w_r z_r``: the most coverage among the fairest plans.
Lexicographic: two solves, see :mod:`optimizer.equity`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import DataError, ScenarioError
from siting.models.formulations.lscp import check_radius, covering_rows, merge_identical_rows, new_eligible, site_bounds
from siting.models.formulations.mclp import check_site_limits, site_limit_rows, smallest_eligible_distance
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem, stack_rows

#: Slack on a floor row, so a floor met exactly in floating point is not cut off.
FLOOR_SLACK = 1e-7


def group_codes(instance: SitingInstance) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """The distinct group labels (sorted) and each demand point's group index."""
    if instance.groups is None:
        raise DataError(
            f"{instance.name} has no demand groups: add a 'group' column to the demand file (community, district, ...)"
        )
    labels, code = np.unique(np.asarray(instance.groups).astype(str), return_inverse=True)
    return labels, code.astype(np.int64)


def group_shares(instance: SitingInstance, covered: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Covered share of each group's demand, ``(E_g + covered new) / W_g`` (1 for an empty group)."""
    _, code = group_codes(instance)
    g = int(code.max()) + 1
    total = np.bincount(code, weights=instance.weights, minlength=g)
    cov = np.bincount(code, weights=instance.weights * covered, minlength=g)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, cov / total, 1.0)


def check_share(min_share: float) -> float:
    """A floor share must lie in [0, 1]."""
    if not (0.0 <= min_share <= 1.0):
        raise ScenarioError(f"min group share {min_share} must be between 0 and 1 (e.g. --min-group-share 0.4)")
    return float(min_share)


def floor_rows(
    instance: SitingInstance,
    min_share: float,
    cols: NDArray[np.int64],
    points: NDArray[np.int64],
    coeffs: NDArray[np.float64],
    nvar: int,
    base: NDArray[np.float64] | None = None,
) -> tuple[sp.csr_array, NDArray[np.float64], NDArray[np.float64]]:
    """The floor rows (5) of any coverage model whose covered (served, decayed) demand is linear:
    column ``cols[e]`` adds ``coeffs[e]`` to the covered demand of point ``points[e]``'s group::

        base_g + sum_{e: g(points_e) = g} coeffs_e x_{cols_e} >= s W_g      every group with W_g > 0

    ``base`` is the demand of each group already covered outside these columns (0 by default).
    Returns a ``(rows, lower, upper)`` block for :func:`models.milp.stack_rows`.
    """
    s = check_share(min_share)
    labels, code = group_codes(instance)
    total = np.bincount(code, weights=instance.weights, minlength=labels.size)
    live = np.flatnonzero(total > 0)
    gpos = np.full(labels.size, -1, dtype=np.int64)
    gpos[live] = np.arange(live.size)
    g = gpos[code[points]]
    keep = g >= 0
    rows = sp.csr_array((coeffs[keep], (g[keep], cols[keep])), shape=(live.size, nvar))
    have = np.zeros(labels.size) if base is None else base
    need = s * total[live] - have[live] - FLOOR_SLACK * np.maximum(1.0, total[live])
    return rows, need, np.full(live.size, np.inf)


def best_share_alone(instance: SitingInstance, solve_alone: Any) -> dict[str, float]:
    """Per group label, the largest share it reaches when the plan serves it alone: ``solve_alone``
    takes the instance with every other group's weight set to 0 and returns the best covered
    (served, decayed) weight it finds."""
    labels, code = group_codes(instance)
    out: dict[str, float] = {}
    for g, label in enumerate(labels):
        w = np.where(code == g, instance.weights, 0.0)
        total = float(w.sum())
        out[str(label)] = 1.0 if total <= 0 else float(solve_alone(replace(instance, weights=w))) / total
    return out


def equity_mclp(
    instance: SitingInstance,
    radius: float,
    p: int | None = None,
    budget: float | None = None,
    *,
    min_share: float | None = None,
    maxmin: bool = False,
    worst_at_least: float | None = None,
) -> MilpProblem:
    """MCLP with a floor ``min_share`` on every group's covered share, or the max-min model.

    ``maxmin=True`` with ``worst_at_least=None`` is the first stage (maximise ``t``); with
    ``worst_at_least=t*`` it is the second stage (``t >= t* - 1e-9``, maximise coverage). The column of
    ``t`` is the last one (``blocks["t"]``). See the module docstring for the rows.
    """
    r = check_radius(radius, allow_zero=False)
    ip = check_site_limits(instance, p, budget, min_p=0)
    if min_share is not None:
        check_share(min_share)
    labels, code = group_codes(instance)
    n_groups = labels.size
    m = instance.m
    w = instance.weights
    cover, demand, by_existing, no_site = covering_rows(instance, r)
    if no_site.all():
        raise ScenarioError(
            f"radius {r:g} covers no demand point from any eligible site; the smallest demand-site "
            f"distance is {smallest_eligible_distance(instance):g}: increase the radius"
        )
    # merge rows with equal covering set *and* group: a group's column makes rows of two groups differ
    k0 = demand.size
    tag = sp.csr_array((np.ones(k0, dtype=bool), (np.arange(k0), code[demand])), shape=(k0, n_groups))
    group, first = merge_identical_rows(sp.hstack([cover, tag], format="csr"))
    w_r = np.bincount(group, weights=w[demand], minlength=first.size)
    g_r = code[demand[first]]
    merged = sp.csr_array(cover[first])
    k = merged.shape[0]
    nvar = m + k + 1  # y, z, t
    total = np.bincount(code, weights=w, minlength=n_groups)
    base = np.bincount(code, weights=w * by_existing, minlength=n_groups)
    live = np.flatnonzero(total > 0)

    lower, upper = site_bounds(instance)
    used = np.bincount(merged.indices, minlength=m) > 0
    upper[new_eligible(instance) & ~used] = 0.0
    # (1) z_r - sum_{j in N_r} y_j <= 0
    cov_block = sp.hstack(
        [-merged.astype(np.float64), sp.eye_array(k, format="csr"), sp.csr_array((k, 1))], format="csr"
    )
    blocks = [(cov_block, np.full(k, -np.inf), np.zeros(k))]
    blocks += site_limit_rows(instance, nvar, ip, budget)  # (2), (3)
    # group rows: sum_{r in g} w_r z_r (- W_g t)
    gpos = np.full(n_groups, -1, dtype=np.int64)
    gpos[live] = np.arange(live.size)
    keep = gpos[g_r] >= 0
    z_part = (gpos[g_r][keep], m + np.flatnonzero(keep), w_r[keep])
    t_col = nvar - 1
    if maxmin:
        rows = np.concatenate([z_part[0], np.arange(live.size)])
        cols = np.concatenate([z_part[1], np.full(live.size, t_col)])
        vals = np.concatenate([z_part[2], -total[live]])
        grp = sp.csr_array((vals, (rows, cols)), shape=(live.size, nvar))
        blocks.append((grp, -base[live], np.full(live.size, np.inf)))  # (6)
    elif min_share is not None:
        grp = sp.csr_array((z_part[2], (z_part[0], z_part[1])), shape=(live.size, nvar))
        # (5), with a hair of slack so a floor met exactly in floating point is not cut off
        need = min_share * total[live] - base[live] - FLOOR_SLACK * np.maximum(1.0, total[live])
        blocks.append((grp, need, np.full(live.size, np.inf)))
    A, row_lower, row_upper = stack_rows(blocks, nvar)

    stage_one = maxmin and worst_at_least is None
    c = np.zeros(nvar)
    if stage_one:
        c[t_col] = 1.0
    else:
        c[m : m + k] = w_r
    t_lo = 0.0 if not maxmin or worst_at_least is None else max(0.0, min(1.0, worst_at_least - 1e-9))
    t_up = 1.0 if maxmin else 0.0
    return MilpProblem(
        c=c,
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.concatenate([lower, np.zeros(k), [t_lo]]),
        col_upper=np.concatenate([upper, np.ones(k), [t_up]]),
        integrality=np.concatenate([np.ones(m, dtype=bool), np.zeros(k + 1, dtype=bool)]),
        sense="max",
        offset=0.0 if stage_one else float(w[by_existing].sum()),
        site_cols=np.arange(m, dtype=np.int64),
        name=f"mclp-equity[{'maxmin' if maxmin else f'floor {min_share}'}] R={r:g}",
        blocks={"y": (0, m), "z": (m, m + k), "t": (t_col, nvar)},
        # t is fixed at 0 outside the max-min model, so only there is it a true continuous column
        implied_integer=np.concatenate([np.zeros(m, dtype=bool), np.ones(k, dtype=bool), [not maxmin]]),
    )
