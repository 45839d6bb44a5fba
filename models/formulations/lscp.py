"""Location set covering (LSCP) and the covering-matrix helpers the covering models share.

Given a service radius R, demand point i is *covered* by site j when ``d_ij <= R``; ``N_i`` is the
set of eligible (not forbidden) sites that cover i. The helpers here turn the instance's boolean
coverage CSR into the rows a covering model needs:

* :func:`site_bounds`: bounds of the site variables ``y_j`` (existing fixed open, forbidden fixed
  closed),
* :func:`uncoverable`: demand that no eligible site covers (reported, never made infeasible),
* :func:`covering_rows`: the coverage of the demand not yet covered by an existing facility,
  restricted to the new eligible sites,
* :func:`merge_identical_rows`: groups of demand rows with identical covering sets (an exact
  reduction: such rows are the same constraint).
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import check_radius
from siting.models.csr import csr_rows, row_lengths
from siting.models.errors import ScenarioError
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem

# Fixed seed of the random column keys used to hash rows; the hash is verified exactly, so the
# seed only has to make the result deterministic.
_HASH_SEED = 20100621


def site_bounds(instance: SitingInstance) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bounds of the site variables: existing ``[1, 1]``, forbidden ``[0, 0]``, other ``[0, 1]``."""
    lower = instance.existing.astype(np.float64)
    upper = (~instance.forbidden).astype(np.float64)
    return lower, upper


def new_eligible(instance: SitingInstance) -> NDArray[np.bool_]:
    """Sites that may be newly opened: not forbidden and not already existing."""
    return ~instance.forbidden & ~instance.existing


def submatrix(
    a: sp.csr_array,
    keep_rows: NDArray[np.bool_],
    keep_cols: NDArray[np.bool_],
    keep_entries: NDArray[np.bool_] | None = None,
) -> sp.csr_array:
    """Rows ``keep_rows`` of ``a`` (renumbered 0..), keeping only entries in columns ``keep_cols``
    (and, if given, entries flagged in ``keep_entries``). Explicit zeros are kept.

    The column axis is not renumbered, so column j is still site j.
    """
    if keep_entries is None:
        # rows by CSR row indexing, columns by a running count: no int64 row index per pair (the
        # city-scale path, where the general build below took gigabytes of temporaries)
        b = a if keep_rows.all() else sp.csr_array(a[np.flatnonzero(keep_rows)])
        if keep_cols.all():
            return b
        keep = keep_cols[b.indices]
        counts = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        out = sp.csr_array((b.data[keep], b.indices[keep], counts[b.indptr]), shape=b.shape)
        out.sort_indices()
        return out
    rows = csr_rows(a)
    keep = keep_rows[rows] & keep_cols[a.indices]
    if keep_entries is not None:
        keep &= keep_entries
    new_row = np.cumsum(keep_rows) - 1
    out = sp.csr_array((a.data[keep], (new_row[rows[keep]], a.indices[keep])), shape=(int(keep_rows.sum()), a.shape[1]))
    out.sort_indices()
    return out


def coverage_matrix(instance: SitingInstance, radius: float) -> sp.csr_array:
    """Boolean CSR (n, m): ``a_ij = 1`` iff ``d_ij <= radius`` and the pair is reachable.

    Like ``instance.coverage`` but never counts an unreachable pair (a dense ``inf``, or a stored
    ``inf``) as covered, also for ``radius = inf``.
    """
    if instance.is_sparse and np.isfinite(radius):
        return instance.coverage(radius)  # the stored pattern filtered in place (never an inf pair)
    pairs = instance.reachable_pairs(radius)
    fin = np.isfinite(pairs.data)
    if not fin.all():
        pairs = submatrix(pairs, np.ones(pairs.shape[0], dtype=bool), np.ones(pairs.shape[1], dtype=bool), fin)
    return sp.csr_array((np.ones(pairs.nnz, dtype=bool), pairs.indices, pairs.indptr), shape=pairs.shape)


def uncoverable(instance: SitingInstance, radius: float) -> NDArray[np.bool_]:
    """(n,) mask of demand points that no eligible (non-forbidden) site covers at ``radius``.

    Existing facilities count as eligible: demand they cover is coverable.
    """
    cov = coverage_matrix(instance, check_radius(radius, allow_zero=True))
    hit = instance.eligible[cov.indices]
    reach = np.bincount(csr_rows(cov)[hit], minlength=instance.n) > 0
    return np.asarray(~reach)


def covering_rows(
    instance: SitingInstance, radius: float
) -> tuple[sp.csr_array, NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]]:
    """The covering structure shared by MCLP and LSCP.

    Returns
    -------
    cover : bool CSR (k, m): for each *open question* demand row (weight > 0, not covered by an
        existing facility, covered by at least one new eligible site) the new eligible sites that
        cover it. Columns are the original site indices.
    demand : (k,) index of the demand point of each row of ``cover``.
    by_existing : (n,) demand covered by an existing facility.
    no_site : (n,) demand no eligible site covers (see :func:`uncoverable`).
    """
    cov = coverage_matrix(instance, radius)
    rows = csr_rows(cov)
    n = instance.n
    by_existing = np.bincount(rows[instance.existing[cov.indices]], minlength=n) > 0
    new = new_eligible(instance)
    by_new = np.bincount(rows[new[cov.indices]], minlength=n) > 0
    no_site = ~by_existing & ~by_new
    open_q = by_new & ~by_existing & (instance.weights > 0)
    cover = submatrix(cov, open_q, new)
    return cover, np.flatnonzero(open_q).astype(np.int64), by_existing, no_site


def merge_identical_rows(a: sp.csr_array) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Group the rows of a CSR array that have the same sparsity pattern (the same covering set).

    Each row's column set is hashed twice (sum of 64-bit random keys per column, wrapping), rows
    are grouped by (length, hash1, hash2), and every row is then compared entry by entry with its
    group's representative; a row that differs (a hash collision, astronomically rare) is given a
    group of its own, so the grouping is always exact (at worst it misses a merge).

    Returns
    -------
    group : (k,) group of each row, numbered by first appearance.
    first : (g,) the first row of each group (its representative), increasing.
    """
    a = sp.csr_array(a)
    a.sum_duplicates()
    a.sort_indices()
    k, m = a.shape
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(_HASH_SEED)
    top = np.iinfo(np.uint64).max
    keys = rng.integers(0, top, size=(2, m), dtype=np.uint64, endpoint=True)
    length = row_lengths(a)
    hashes = [np.empty(k, dtype=np.uint64) for _ in keys]
    for lo, hi in _row_chunks(a):  # chunks of rows: the per-entry temporaries stay small at city scale
        ptr = a.indptr[lo : hi + 1]
        idx = a.indices[ptr[0] : ptr[-1]]
        for key, out in zip(keys, hashes, strict=True):
            cs = np.concatenate([np.zeros(1, dtype=np.uint64), np.cumsum(key[idx], dtype=np.uint64)])
            local = ptr - ptr[0]
            out[lo:hi] = cs[local[1:]] - cs[local[:-1]]  # uint64 arithmetic wraps: exact mod 2^64
    order = np.lexsort((hashes[1], hashes[0], length))
    sl, s0, s1 = length[order], hashes[0][order], hashes[1][order]
    starts = np.ones(k, dtype=bool)
    starts[1:] = (sl[1:] != sl[:-1]) | (s0[1:] != s0[:-1]) | (s1[1:] != s1[:-1])
    group = np.empty(k, dtype=np.int64)
    group[order] = np.cumsum(starts) - 1
    # representative = lowest row index of each group
    rep = np.full(int(starts.sum()), k, dtype=np.int64)
    np.minimum.at(rep, group, np.arange(k, dtype=np.int64))
    # exact check: entry t of row i must equal entry t of its representative
    bad: list[NDArray[np.int64]] = []
    starts_of = a.indptr[:-1].astype(np.int64)
    for lo, hi in _row_chunks(a):
        length_c = np.diff(a.indptr[lo : hi + 1]).astype(np.int64)
        rows = np.repeat(np.arange(lo, hi, dtype=np.int64), length_c)
        offset = np.arange(rows.size, dtype=np.int64) - np.repeat(np.cumsum(length_c) - length_c, length_c)
        rep_pos = starts_of[rep[group[rows]]] + offset
        own = a.indices[starts_of[lo] : starts_of[lo] + rows.size]
        bad.append(np.unique(rows[own != a.indices[rep_pos]]))
    bad_rows = np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)
    if bad_rows.size:
        group[bad_rows] = rep.size + np.arange(bad_rows.size)
    # renumber groups by first appearance
    _, first, inverse = np.unique(group, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return rank[inverse].astype(np.int64), np.sort(first).astype(np.int64)


def _row_chunks(a: sp.csr_array, entries: int = 8_000_000) -> list[tuple[int, int]]:
    """Consecutive row ranges ``[lo, hi)`` of ``a`` holding about ``entries`` stored entries each."""
    k = a.shape[0]
    if a.nnz <= entries:
        return [(0, k)] if k else []
    cuts = np.searchsorted(a.indptr, np.arange(entries, a.nnz, entries, dtype=np.int64), side="right") - 1
    bounds = np.unique(np.concatenate([[0], cuts, [k]]))
    return [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def lscp(instance: SitingInstance, radius: float, objective: Literal["cost", "count"] = "cost") -> MilpProblem:
    """Location set covering: the cheapest (or fewest) new sites covering every coverable demand.

    With ``N_r`` the new eligible sites covering merged demand row ``r`` (identical covering sets
    merged), ``f_j = cost_j`` (``objective="cost"``) or ``1`` (``"count"``)::

        min   sum_{j new} f_j y_j
        s.t.  sum_{j in N_r} y_j >= 1          for every row r                       (1)
              y_j = 1 for existing j,  y_j = 0 for forbidden j,  y_j in {0, 1}

    Only demand with weight > 0 is required to be covered (a point with no weight represents no
    one; this matches the p-center objective, which ignores it). Demand already covered by an
    existing facility needs no row; demand that no eligible site covers is left out, not made
    infeasible: :func:`uncoverable` reports it. New sites covering no row are fixed closed
    (opening them only adds cost).

    Parameters
    ----------
    instance : the instance.
    radius : service radius R (>= 0; 0 covers only demand standing on a site).
    objective : ``"cost"`` (total cost of new sites) or ``"count"`` (number of new sites).
    """
    r = check_radius(radius, allow_zero=True)
    if objective not in ("cost", "count"):
        raise ScenarioError(f"LSCP objective {objective!r} is unknown: give 'cost' or 'count'")
    m = instance.m
    cover, _, _, _ = covering_rows(instance, r)
    _, first = merge_identical_rows(cover)
    cover = sp.csr_array(cover[first])
    new = new_eligible(instance)
    lower, upper = site_bounds(instance)
    used = np.bincount(cover.indices, minlength=m) > 0
    upper[new & ~used] = 0.0
    c = np.where(new, instance.cost if objective == "cost" else 1.0, 0.0).astype(np.float64)
    # (1) every remaining demand row is covered by an open new site
    A = sp.csc_array(cover.astype(np.float64))
    k = A.shape[0]
    return MilpProblem(
        c=c,
        A=A,
        row_lower=np.ones(k),
        row_upper=np.full(k, np.inf),
        col_lower=lower,
        col_upper=upper,
        integrality=np.ones(m, dtype=bool),
        sense="min",
        offset=0.0,
        site_cols=np.arange(m, dtype=np.int64),
        name=f"lscp[{objective}] R={r:g}",
        blocks={"y": (0, m)},
    )
