"""p-median: the classic assignment form, the radius form of Elloumi (2010), and capacitated.

All three minimise ``sum_i w_i * d(i, nearest open site)`` over the reachable pairs only (a pair
the instance does not store, or stores as ``inf``, cannot serve). Forbidden sites are left out of
every pair; existing facilities are fixed open and neither counted in p nor charged.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import show_ids
from siting.models.csr import csr_rows
from siting.models.errors import DataError, InfeasibleError
from siting.models.formulations.lscp import new_eligible, site_bounds
from siting.models.formulations.mclp import check_site_limits, site_limit_rows
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem, stack_rows


def _limits_label(p: int | None, budget: float | None) -> str:
    return (f" p={p}" if p is not None else "") + (f" budget={budget:g}" if budget is not None else "")


def eligible_pairs(
    instance: SitingInstance, weighted_only: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """The reachable (demand, eligible site) pairs, sorted by demand then site.

    Parameters
    ----------
    weighted_only : keep only demand with weight > 0.

    Returns
    -------
    rows, cols, dist : pair arrays.

    Raises
    ------
    DataError : some demand with weight > 0 reaches no eligible site.
    """
    pairs = instance.reachable_pairs()
    rows = csr_rows(pairs)
    cols = pairs.indices.astype(np.int64)
    dist = pairs.data.astype(np.float64)
    keep = instance.eligible[cols] & np.isfinite(dist)
    if weighted_only:
        keep &= instance.weights[rows] > 0
    rows, cols, dist = rows[keep], cols[keep], dist[keep]
    reached = np.bincount(rows, minlength=instance.n) > 0
    lost = ~reached & (instance.weights > 0)
    if lost.any():
        raise DataError(
            f"demand ids {show_ids(instance.demand_ids[lost])} (weight > 0) can reach no eligible or "
            "existing site: add a reachable candidate site, allow a forbidden one, or give that demand weight 0"
        )
    return rows, cols, dist


def _pmedian_checks(instance: SitingInstance, p: int | None, budget: float | None) -> int | None:
    return check_site_limits(instance, p, budget, min_p=1, strict_p=True)


def _assignment_problem(
    instance: SitingInstance,
    p: int | None,
    budget: float | None,
    capacitated: bool,
    allow_split: bool,
) -> MilpProblem:
    ip = _pmedian_checks(instance, p, budget)
    m = instance.m
    w = instance.weights
    # Demand with weight 0 gets no pairs: forcing its assignment would constrain y for nothing.
    rows, cols, dist = eligible_pairs(instance, weighted_only=True)
    npair = rows.size
    nvar = m + npair
    xcol = m + np.arange(npair, dtype=np.int64)

    blocks = []
    # (1) sum_j x_ij = 1 for every demand point with weight > 0
    served = np.unique(rows)
    row_of = np.searchsorted(served, rows)
    a1 = sp.csr_array((np.ones(npair), (row_of, xcol)), shape=(served.size, nvar))
    blocks.append((a1, np.ones(served.size), np.ones(served.size)))
    # (2) x_ij - y_j <= 0 for every pair whose site is not already open (the strong form)
    var = ~instance.existing[cols]
    k = int(var.sum())
    r2 = np.arange(k, dtype=np.int64)
    a2 = sp.csr_array(
        (np.concatenate([np.ones(k), -np.ones(k)]), (np.concatenate([r2, r2]), np.concatenate([xcol[var], cols[var]]))),
        shape=(k, nvar),
    )
    blocks.append((a2, np.full(k, -np.inf), np.zeros(k)))
    # (3) p and (4) budget
    blocks += site_limit_rows(instance, nvar, ip, budget)
    if capacitated:
        cap = instance.capacity
        limited = np.flatnonzero(instance.eligible & np.isfinite(cap))
        total_cap = float(cap[instance.eligible].sum())
        if total_cap < instance.total_weight * (1 - 1e-12):
            raise InfeasibleError(
                f"the eligible sites' total capacity {total_cap:g} is below the total demand weight "
                f"{instance.total_weight:g}: add capacity or candidate sites"
            )
        site_row = np.full(m, -1, dtype=np.int64)
        site_row[limited] = np.arange(limited.size)
        on = site_row[cols] >= 0
        # (5) sum_i w_i x_ij - cap_j y_j <= 0 for every eligible site of finite capacity
        a5 = sp.csr_array(
            (
                np.concatenate([w[rows[on]], -cap[limited]]),
                (np.concatenate([site_row[cols[on]], np.arange(limited.size)]), np.concatenate([xcol[on], limited])),
            ),
            shape=(limited.size, nvar),
        )
        blocks.append((a5, np.full(limited.size, -np.inf), np.zeros(limited.size)))
    A, row_lower, row_upper = stack_rows(blocks, nvar)

    lower, upper = site_bounds(instance)
    x_int = capacitated and not allow_split
    integrality = np.concatenate([np.ones(m, dtype=bool), np.full(npair, x_int)])
    implied = np.concatenate([np.zeros(m, dtype=bool), np.full(npair, not capacitated)])
    kind = "capacitated" if capacitated else "classic"
    return MilpProblem(
        c=np.concatenate([np.zeros(m), w[rows] * dist]),
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.concatenate([lower, np.zeros(npair)]),
        col_upper=np.concatenate([upper, np.ones(npair)]),
        integrality=integrality,
        sense="min",
        offset=0.0,
        site_cols=np.arange(m, dtype=np.int64),
        name=f"pmedian-{kind}" + _limits_label(ip, budget),
        blocks={"y": (0, m), "x": (m, nvar)},
        implied_integer=implied,
        assignment=(rows, cols, xcol),
    )


def pmedian_classic(instance: SitingInstance, p: int | None = None, budget: float | None = None) -> MilpProblem:
    """p-median, classic assignment form (ReVelle and Swain 1970), on reachable pairs only.

    With ``P`` the reachable (demand, eligible site) pairs, ``y_j`` binary (site j open) and
    ``x_ij`` in [0, 1] (share of demand i served by site j; integral at an optimum)::

        min   sum_{(i,j) in P} w_i d_ij x_ij
        s.t.  sum_{j: (i,j) in P} x_ij = 1          for every demand i                 (1)
              x_ij <= y_j                           for every (i,j) in P, j not existing (2)
              sum_{j new} y_j <= p                  if p is given                      (3)
              sum_{j new} cost_j y_j <= budget      if budget is given                 (4)
              y_j = 1 existing, y_j = 0 forbidden

    Demand with weight 0 gets no variables and no row (its distance does not count, and forcing
    its assignment would constrain y). ``<= p`` is equivalent to ``= p`` since distances are
    nonnegative. ``assignment`` maps the x columns back to (demand, site).

    Raises
    ------
    ScenarioError : neither p nor budget, p < 1, or p above the number of new eligible sites.
    DataError : a demand point with weight > 0 reaches no eligible site.
    """
    return _assignment_problem(instance, p, budget, capacitated=False, allow_split=False)


def pmedian_capacitated(
    instance: SitingInstance, p: int | None = None, budget: float | None = None, allow_split: bool = False
) -> MilpProblem:
    """Capacitated p-median: the classic form (1)-(4) plus site capacities.

    ::

        sum_i w_i x_ij <= cap_j y_j                 for every eligible j, cap_j finite  (5)

    ``x_ij`` is binary (each demand point served by one site) unless ``allow_split``, then it is
    continuous in [0, 1] and no longer integral at an optimum. Read the assignment back with
    ``problem.assignment_matrix(x, (n, m))``: the nearest open site need not serve a demand point.
    As in the classic form, demand with weight 0 is not assigned (it uses no capacity).

    Raises
    ------
    InfeasibleError : the eligible sites' total capacity is below the total demand weight.
    """
    return _assignment_problem(instance, p, budget, capacitated=True, allow_split=allow_split)


def _rank_in_row(rows: NDArray[np.int64]) -> NDArray[np.int64]:
    """Position of each entry within its run of equal (sorted) ``rows``: 0, 1, 2, ..."""
    idx = np.arange(rows.size, dtype=np.int64)
    starts = np.ones(rows.size, dtype=bool)
    starts[1:] = rows[1:] != rows[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


def _ragged_arange(starts: NDArray[np.int64], counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])`` without the loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
    return np.repeat(starts, counts) + offsets


def pmedian_radius(
    instance: SitingInstance,
    p: int | None = None,
    budget: float | None = None,
    form: Literal["cumulative", "chained"] = "chained",
) -> MilpProblem:
    """p-median, radius formulation (Elloumi 2010), on reachable pairs only.

    For demand i let ``D_i^1 < D_i^2 < ... < D_i^{K_i}`` be the distinct distances to its eligible
    sites (after the reductions below). ``z_i^k`` (k >= 2, in [0, 1], integral at an optimum)
    is 1 when demand i is farther than ``D_i^{k-1}`` from every open site::

        min   sum_i w_i (D_i^1 + sum_{k>=2} (D_i^k - D_i^{k-1}) z_i^k)
        s.t.  z_i^k + sum_{j: d_ij < D_i^k} y_j >= 1         i, k = 2..K_i       (1, cumulative)
              sum_{j: d_ij <= D_i^{K_i}} y_j >= 1             i, if not implied   (2)
              sum_{j new} y_j <= p   (= p, see below)         if p is given       (3)
              sum_{j new} cost_j y_j <= budget                if budget is given  (4)

    ``form="chained"`` (default) writes (1) in the equivalent telescoped form of Cornuejols,
    Nemhauser and Wolsey (1980), with ``z_i^1 = 1``::

        z_i^k - z_i^{k-1} + sum_{j: d_ij = D_i^{k-1}} y_j >= 0                    (1, chained)

    which has the same LP relaxation (given y, both force ``z_i^k >= max(0, 1 - sum_{d_ij <
    D_i^k} y_j)``) but one nonzero per pair and two per level instead of a triangle per demand.

    Exact reductions, applied per demand point i:

    * only demand with weight > 0 gets levels (the others add nothing);
    * existing facilities are always open, so no level beyond ``E_i``, the distance to i's
      nearest existing facility, is ever needed;
    * with p given and no budget, some optimal plan opens exactly p new sites (distances are
      nonnegative), and then one of any ``L = m_new - p + 1`` new eligible sites is open; so no
      level beyond ``T_i``, the distance of i's L-th nearest new eligible site, is needed. (3) is
      then an equality, so the solver cannot stop at a plan with fewer sites whose truncated
      objective would understate its true one.

    Levels end at ``min(E_i, T_i)``; where that is finite (2) is implied and left out.

    Raises
    ------
    ScenarioError, DataError : as :func:`pmedian_classic`.
    """
    if form not in ("cumulative", "chained"):
        raise ValueError(f"form must be 'cumulative' or 'chained', got {form!r}")
    ip = _pmedian_checks(instance, p, budget)
    m, n = instance.m, instance.n
    w = instance.weights
    rows, cols, dist = eligible_pairs(instance, weighted_only=True)

    # sort the pairs by (demand, distance, site): pairs come sorted by (demand, site), so a stable
    # sort on one integer key (demand, distance bits) does it; nonnegative float32 bit patterns
    # order like the floats (distances are stored as float32, so the cast is exact; + 0.0 clears -0.0)
    bits = (dist + 0.0).astype(np.float32).view(np.uint32).astype(np.uint64)
    o = np.argsort((rows.astype(np.uint64) << np.uint64(32)) | bits, kind="stable")
    rows, cols, dist = rows[o], cols[o], dist[o]

    # --- reductions: the farthest level each demand point can need
    cap = np.full(n, np.inf)
    ex = instance.existing[cols]
    np.minimum.at(cap, rows[ex], dist[ex])  # E_i
    truncate_p = ip is not None and budget is None
    if truncate_p:
        assert ip is not None
        L = int(new_eligible(instance).sum()) - ip + 1
        r_new, d_new = rows[~ex], dist[~ex]  # still sorted by (demand, distance)
        rank = _rank_in_row(r_new)
        at_l = rank == L - 1
        cap[r_new[at_l]] = np.minimum(cap[r_new[at_l]], d_new[at_l])  # min(E_i, T_i); one hit per row
    keep = dist <= cap[rows]
    rows, cols, dist = rows[keep], cols[keep], dist[keep]

    # --- levels: a level starts where the demand point or the distance changes
    npair = rows.size
    new_row = np.ones(npair, dtype=bool)
    new_row[1:] = rows[1:] != rows[:-1]
    new_level = new_row.copy()
    new_level[1:] |= dist[1:] != dist[:-1]
    lev_start = np.flatnonzero(new_level)  # first pair of each level
    lev_row = rows[lev_start]
    lev_d = dist[lev_start]
    lev_first = new_row[lev_start]  # level k = 1 of its demand point
    row_start = np.full(n, -1, dtype=np.int64)
    row_start[rows[new_row]] = np.flatnonzero(new_row)

    zl = np.flatnonzero(~lev_first)  # levels with a z variable (k >= 2); level g-1 is level k-1
    nz = zl.size
    nvar = m + nz
    zcol = m + np.arange(nz, dtype=np.int64)
    # objective: w_i D_i^1 in the offset, w_i (D^k - D^{k-1}) on z_i^k
    offset = float(np.dot(w[lev_row[lev_first]], lev_d[lev_first]))
    cz = w[lev_row[zl]] * (lev_d[zl] - lev_d[zl - 1])

    blocks = []
    zr = np.arange(nz, dtype=np.int64)
    if form == "cumulative":
        # (1) z_i^k + sum_{j: d_ij < D_i^k} y_j >= 1: the pairs of i before level k
        counts = lev_start[zl] - row_start[lev_row[zl]]
        pos = _ragged_arange(row_start[lev_row[zl]], counts)
        r_idx = np.concatenate([zr, np.repeat(zr, counts)])
        c_idx = np.concatenate([zcol, cols[pos]])
        rhs = np.ones(nz)
        vals = np.ones(r_idx.size)
    else:
        # (1) z_i^k - z_i^{k-1} + sum_{j: d_ij = D_i^{k-1}} y_j >= 0  (z_i^1 = 1 moves to the rhs)
        level_end = np.append(lev_start[1:], npair)
        prev = zl - 1
        counts = level_end[prev] - lev_start[prev]
        pos = _ragged_arange(lev_start[prev], counts)
        has_prev_z = ~lev_first[prev]
        # column of z for level g: levels with z are numbered in order, so zcol[searchsorted]
        prev_z = np.searchsorted(zl, prev[has_prev_z])
        r_idx = np.concatenate([zr, zr[has_prev_z], np.repeat(zr, counts)])
        c_idx = np.concatenate([zcol, zcol[prev_z], cols[pos]])
        vals = np.concatenate([np.ones(nz), -np.ones(int(has_prev_z.sum())), np.ones(int(counts.sum()))])
        rhs = np.where(has_prev_z, 0.0, 1.0)
    a1 = sp.csr_array((vals, (r_idx, c_idx)), shape=(nz, nvar))
    blocks.append((a1, rhs, np.full(nz, np.inf)))

    # (2) sum_{j} y_j >= 1 over all kept pairs of i, where no existing or p argument implies it
    need = np.zeros(n, dtype=bool)
    need[rows] = True
    need &= ~np.isfinite(cap)
    need_rows = np.flatnonzero(need)
    on = need[rows]
    r2 = np.searchsorted(need_rows, rows[on])
    a2 = sp.csr_array((np.ones(int(on.sum())), (r2, cols[on])), shape=(need_rows.size, nvar))
    blocks.append((a2, np.ones(need_rows.size), np.full(need_rows.size, np.inf)))

    # (3) p (equality when the p-truncation is used) and (4) budget
    blocks += site_limit_rows(instance, nvar, ip, budget, p_equal=truncate_p)
    A, row_lower, row_upper = stack_rows(blocks, nvar)

    lower, upper = site_bounds(instance)
    return MilpProblem(
        c=np.concatenate([np.zeros(m), cz]),
        A=A,
        row_lower=row_lower,
        row_upper=row_upper,
        col_lower=np.concatenate([lower, np.zeros(nz)]),
        col_upper=np.concatenate([upper, np.ones(nz)]),
        integrality=np.concatenate([np.ones(m, dtype=bool), np.zeros(nz, dtype=bool)]),
        sense="min",
        offset=offset,
        site_cols=np.arange(m, dtype=np.int64),
        name=f"pmedian-radius[{form}]" + _limits_label(ip, budget),
        blocks={"y": (0, m), "z": (m, nvar)},
        implied_integer=np.concatenate([np.zeros(m, dtype=bool), np.ones(nz, dtype=bool)]),
    )
