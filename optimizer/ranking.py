"""Rank a joint multi-service plan: the data behind the ranked site plan table (DESIGN.md).

A plan of a :class:`models.multiservice.MultiServiceInstance` is ``open_phase`` (S, m): the phase
in which service s opens on site j (-1 = not opened). :func:`rank_plan` turns it into one
:class:`RankedRow` per opened pair (s, j), in rank order, with

* **rank**: phases in build order; within a phase, greedily by marginal weighted coverage given
  every pair ranked before (the pair with the largest gain ``g_sj`` comes next):

  .. math:: g_{sj} = \\omega_s \\sum_{i \\notin \\mathrm{Cov}_s} w_{si} a^s_{ij}

  where ``Cov_s`` is the demand already within reach of service s (its existing facilities and
  the pairs of s ranked so far), ``w_si`` the people of s's demand group at i, ``a^s_ij`` its
  coverage and ``omega_s`` its weight. Ties (``|g - g'| <= 1e-9 max(1, |g|)``) go to the smaller
  service name, then the smaller site in ``site_order``. Because coverage is submodular, the
  people each service gains never increase down the list within a phase, and the gains of a
  service add up (with its existing coverage) to what the whole plan covers for it;
* **cost / cumulative cost** (over the whole plan, in rank order);
* **newly covered** people of s's group (and, given ``groups``, of every demand group: the people
  of that group at the demand points this pair newly brings within reach of service s);
* **coverage after** this row: people of s's group within reach (existing included), and its share;
* **drop-one loss**: the people of s's group who lose coverage if this pair falls through with every
  other opened pair (and the existing facilities) kept:

  .. math:: L_{sj} = \\sum_i w_{si} a^s_{ij} [\\, c_{si} = 1 \\,] [\\, i \\notin E_s \\,],
            \\qquad c_{si} = \\sum_{j' \\text{ opened for } s} a^s_{ij'}

  (``E_s``: demand covered by an existing facility of s);
* **best substitute**: the unopened eligible site j' for s that recovers most of that loss,
  ``R_{sj'} = sum_i w_si a^s_ij' [i lost]``, among those that fit: j' has room left for s, and the
  plan with (s, j) replaced by (s, j') opened in this row's phase or a later one keeps every budget
  (total, per service, per phase with or without carry-over; the earliest such phase is reported).
  Ties go to the cheaper site, the earlier phase, then ``site_order``. A substitute is only named
  when it recovers somebody; the swap is confirmed with :func:`models.multiservice.plan_violations`
  (a candidate the evaluator rejects is skipped);
* **comparable plots** at the moment of ranking: this site and the eligible sites the plan does not
  use for s whose marginal gain is at least ``(1 - comparable_tol)`` of this pair's, with flags
  whether this pair is the cheapest of them and whether no unused site would have gained more (the
  scenarios layer writes the one-line reason from these).

:func:`earliest_phases` re-phases a plan whose objective values only the end state
(``max_coverage``, ``complete_circle``, ``min_cost``, ``pmedian`` are indifferent to when a site
opens): each pair, in the order of marginal weighted coverage, opens in the earliest phase whose
budgets still allow it, so that the most valuable sites come first.

Every step is a sparse matrix-vector product; the only Python loops run over ranked pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.multiservice import MultiServiceInstance, evaluate_joint, plan_violations

#: Relative tolerance under which two gains count as tied.
TIE_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class RankedRow:
    """One opened (service, site) pair of a plan, in rank order.

    Attributes
    ----------
    rank : 1-based position in the plan.
    phase : 0-based phase the pair opens in.
    service : service index s.
    site : site index j (of the shared site axis).
    cost : cost of the pair ``cost_s[j]``.
    cumulative_cost : cost of this and every earlier row.
    gain_people : people of s's group newly within reach of s thanks to this pair (in rank order).
    gain_weighted : ``weight_s * gain_people``.
    new_by_group : (G,) people of each demand group at the newly covered points (None without ``groups``).
    covered_after : people of s's group within reach of s after this row (existing facilities included).
    coverage_share : ``covered_after`` / people of s's group (NaN when the group is empty).
    drop_one_loss : people of s's group who lose coverage if this pair falls through, all others kept.
    substitute : the best substitute site index, or None.
    substitute_phase : the earliest phase (>= this row's) in which the substitute fits the budgets.
    n_recovering : unused eligible sites of s that would cover some of the loss (fitting or not).
    substitute_recovers : people of the loss it would cover again (0 without a substitute).
    substitute_cost : its cost for s, or None.
    n_comparable : this site and the unused eligible sites of s whose gain is within the tolerance.
    cheapest_comparable : this pair costs the least of them.
    largest_gain : no unused eligible site of s had a larger gain at this point.
    basis, within_reach, full : see the fields; gain, covered_after and drop_one_loss count served
        demand when ``basis == "served"``.
    """

    rank: int
    phase: int
    service: int
    site: int
    cost: float
    cumulative_cost: float
    gain_people: float
    gain_weighted: float
    new_by_group: NDArray[np.float64] | None
    covered_after: float
    coverage_share: float
    drop_one_loss: float
    substitute: int | None
    substitute_phase: int | None
    n_recovering: int
    substitute_recovers: float
    substitute_cost: float | None
    n_comparable: int
    cheapest_comparable: bool
    largest_gain: bool
    #: ``coverage`` (people newly within reach) or ``served`` (a capacitated service: people the
    #: site takes within its capacity, :mod:`optimizer.capacity_ranking`)
    basis: str = "coverage"
    #: a capacitated service: demand within reach of the site, and whether the plan fills it
    within_reach: float | None = None
    full: bool | None = None


def _tied(a: NDArray[np.float64], best: float) -> NDArray[np.bool_]:
    return np.abs(a - best) <= TIE_TOL * max(1.0, abs(best))


def _budget_ok_after_swap(
    inst: MultiServiceInstance,
    spend_total: float,
    spend_service: NDArray[np.float64],
    spend_phase: NDArray[np.float64],
    s: int,
    t: int,
    u: int,
    old_cost: float,
    new_cost: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Which candidate costs ``new_cost`` keep every budget when pair (s, j) of phase t, costing
    ``old_cost``, is replaced by (s, j') opened in phase ``u >= t``.

    Checks (1) the total, (2) service s's own budget, and (3) the phase budgets: with carry-over,
    the spending of phases ``0..v`` may not exceed their budgets summed, for every v; without, each
    phase on its own.
    """
    tol = 1e-6
    delta = new_cost - old_cost
    ok = np.ones(new_cost.shape, dtype=bool)
    # (1) total budget
    if inst.total_budget is not None:
        ok &= spend_total + delta <= inst.total_budget + tol * max(1.0, abs(inst.total_budget))
    # (2) per-service budget
    b = inst.services[s].budget
    if b is not None:
        ok &= spend_service[s] + delta <= b + tol * max(1.0, abs(b))
    # (3) per-phase budgets
    if inst.phase_budgets is not None:
        pb = np.asarray(inst.phase_budgets, dtype=np.float64)
        after = np.asarray(spend_phase, dtype=np.float64).copy()
        after[t] -= old_cost
        if inst.carry_over:
            cum_spend = np.cumsum(after)
            cum_budget = np.cumsum(pb)
            for v in range(len(pb)):
                add = new_cost if v >= u else 0.0
                ok &= cum_spend[v] + add <= cum_budget[v] + tol * max(1.0, abs(cum_budget[v]))
        else:
            ok &= after[u] + new_cost <= pb[u] + tol * max(1.0, abs(pb[u]))
    return ok


def rank_plan(
    inst: MultiServiceInstance,
    open_phase: NDArray[np.integer],
    *,
    groups: NDArray[np.float64] | None = None,
    site_order: NDArray[np.integer] | None = None,
    comparable_tol: float = 0.1,
    confirm: bool = True,
    substitutes: bool = True,
) -> list[RankedRow]:
    """Rank the opened pairs of a plan and compute the ranked table's figures (see the module docstring).

    Parameters
    ----------
    inst : the joint instance.
    open_phase : (S, m) plan; -1 = not opened, t >= 0 = opened in phase t.
    groups : optional (n, G) people of every demand group, for the per-group newly covered figures.
    site_order : optional (m,) tie-break rank of each site (smaller first); default: the order of
        ``str(site_id)``.
    comparable_tol : a plot is comparable when its gain is at least ``1 - comparable_tol`` of this pair's.
    confirm : check each named substitute with the evaluator (skip one it rejects).
    substitutes : look for substitutes at all (off: only the order and the gains are needed).

    Returns
    -------
    list[RankedRow]
        One row per opened pair, in rank order.
    """
    S, m, n = inst.S, inst.m, inst.n
    op = np.asarray(open_phase)
    if op.shape != (S, m):
        raise ValueError(f"open_phase has shape {op.shape}, expected (S, m) = ({S}, {m})")
    if site_order is None:
        site_order = np.argsort(np.argsort(np.asarray([str(v) for v in inst.site_ids]), kind="stable"), kind="stable")
    site_order = np.asarray(site_order, dtype=np.int64)
    names = [svc.name for svc in inst.services]
    service_rank = np.argsort(np.argsort(np.asarray(names, dtype=object).astype(str), kind="stable"), kind="stable")

    cov_t: list[sp.csr_array] = []  # (m, n) float: row j = demand service s reaches from site j
    for svc in inst.services:
        cov_t.append(sp.csr_array(sp.csr_array(svc.coverage).T.astype(np.float64)))
    w = np.stack([np.asarray(svc.weights, dtype=np.float64) for svc in inst.services])  # (S, n)
    omega = np.array([svc.weight for svc in inst.services], dtype=np.float64)
    existing = np.stack([np.asarray(svc.existing_covered, dtype=bool) for svc in inst.services])  # (S, n)
    cost = np.stack(
        [np.where(np.asarray(svc.eligible), np.asarray(svc.cost, dtype=np.float64), np.nan) for svc in inst.services]
    )
    eligible = np.stack([np.asarray(svc.eligible, dtype=bool) for svc in inst.services])
    totals = w.sum(axis=1)

    pair_s, pair_j = np.nonzero(op >= 0)
    K = pair_s.size
    if K == 0:
        return []
    pair_t = op[pair_s, pair_j].astype(np.int64)
    pair_cost = np.nan_to_num(cost[pair_s, pair_j])

    C = _lifted(inst, pair_s, pair_j)  # (S*n, K): column k = demand rows s*n + i that pair k reaches
    w_big = w.ravel()
    covered = existing.ravel().copy()

    # drop-one loss on the final plan: demand reached by exactly one opened pair of its service, not by an existing facility
    count = np.asarray(C.sum(axis=1)).ravel()
    lost_mask = (count == 1) & ~existing.ravel()
    loss = np.asarray(C.T @ (w_big * lost_mask)).ravel()

    # spending of the plan, for the substitute's budget checks
    spend_total = float(pair_cost.sum())
    spend_service = np.bincount(pair_s, weights=pair_cost, minlength=S).astype(np.float64)
    spend_phase = np.bincount(pair_t, weights=pair_cost, minlength=inst.T).astype(np.float64)
    room = np.asarray(inst.room, dtype=np.float64)
    area = np.array([svc.area for svc in inst.services], dtype=np.float64)
    room_used = (np.where(op >= 0, 1.0, 0.0) * area[:, None]).sum(axis=0)
    base_ok = True
    if confirm:
        base_ok = not plan_violations(inst, op.astype(np.int8))

    rows: list[RankedRow] = []
    ranked_for = np.zeros((S, m), dtype=bool)  # (s, j) already ranked
    covered_people = (w * existing).sum(axis=1)
    cum_cost = 0.0
    rank = 0
    for t in sorted(set(pair_t.tolist())):
        left = list(np.flatnonzero(pair_t == t))
        while left:
            sub = C[:, left]
            open_w = np.where(covered, 0.0, w_big)
            g_people = np.asarray(sub.T @ open_w).ravel()
            g = omega[pair_s[left]] * g_people
            tied = np.flatnonzero(_tied(g, float(g.max())))
            keys = [(int(service_rank[pair_s[left[q]]]), int(site_order[pair_j[left[q]]])) for q in tied]
            q = int(tied[min(range(len(tied)), key=lambda z: keys[z])])
            k = int(left[q])
            s, j = int(pair_s[k]), int(pair_j[k])
            col = C[:, [k]].tocoo().row
            newly = col[~covered[col]]
            gain = float(w_big[newly].sum())

            # comparable plots for service s at this point
            g_all = np.asarray(cov_t[s] @ np.where(covered[s * n : (s + 1) * n], 0.0, w[s])).ravel()
            cand = eligible[s] & (op[s] < 0)
            cand[j] = True
            if gain > 0:
                comp = cand & (g_all >= (1.0 - comparable_tol) * gain - TIE_TOL * max(1.0, gain))
            else:
                comp = cand & (g_all <= TIE_TOL)
            n_comp = int(comp.sum())
            cheapest = bool(pair_cost[k] <= np.nanmin(np.where(comp, cost[s], np.inf)) + 1e-9)
            largest = bool(gain >= float(np.max(np.where(cand, g_all, -np.inf))) - TIE_TOL * max(1.0, gain))

            # best substitute: recovers most of the drop-one loss, fits room and budgets
            sub_site: int | None = None
            sub_phase: int | None = None
            rec_val = 0.0
            sub_cost: float | None = None
            n_recovering = 0
            if substitutes and loss[k] > 0:
                lost_i = col[lost_mask[col]] - s * n
                v = np.zeros(n)
                v[lost_i] = w[s, lost_i]
                rec = np.asarray(cov_t[s] @ v).ravel()
                usable = eligible[s] & (op[s] < 0) & (rec > 0)
                usable[j] = False
                n_recovering = int(usable.sum())
                fits = usable & (
                    room_used + area[s] <= room + 1e-9 * np.maximum(1.0, np.where(np.isfinite(room), room, 0.0))
                )
                # the earliest phase u >= t in which each candidate fits the budgets
                when = np.full(m, -1, dtype=np.int64)
                for u in range(int(pair_t[k]), inst.T):
                    ok_u = (
                        fits
                        & (when < 0)
                        & _budget_ok_after_swap(
                            inst,
                            spend_total,
                            spend_service,
                            spend_phase,
                            s,
                            int(pair_t[k]),
                            u,
                            float(pair_cost[k]),
                            np.nan_to_num(cost[s]),
                        )
                    )
                    when[ok_u] = u
                cands = np.flatnonzero(when >= 0)
                if cands.size:
                    order = np.lexsort((site_order[cands], when[cands], np.nan_to_num(cost[s, cands]), -rec[cands]))
                    for c in cands[order]:
                        if confirm and base_ok:
                            trial = op.astype(np.int8).copy()
                            trial[s, j] = -1
                            trial[s, c] = when[c]
                            if plan_violations(inst, trial):
                                continue
                        sub_site, sub_phase = int(c), int(when[c])
                        rec_val, sub_cost = float(rec[c]), float(cost[s, c])
                        break

            covered[col] = True
            ranked_for[s, j] = True
            rank += 1
            cum_cost += float(pair_cost[k])
            covered_people[s] += gain
            rows.append(
                RankedRow(
                    rank=rank,
                    phase=int(pair_t[k]),
                    service=s,
                    site=j,
                    cost=float(pair_cost[k]),
                    cumulative_cost=cum_cost,
                    gain_people=gain,
                    gain_weighted=float(omega[s] * gain),
                    new_by_group=None
                    if groups is None
                    else np.asarray(groups, dtype=np.float64)[newly - s * n].sum(axis=0),
                    covered_after=float(covered_people[s]),
                    coverage_share=float(covered_people[s] / totals[s]) if totals[s] > 0 else float("nan"),
                    drop_one_loss=float(loss[k]),
                    substitute=sub_site,
                    substitute_phase=sub_phase,
                    n_recovering=n_recovering,
                    substitute_recovers=rec_val,
                    substitute_cost=sub_cost,
                    n_comparable=n_comp,
                    cheapest_comparable=cheapest,
                    largest_gain=largest,
                )
            )
            left.pop(q)
    return rows


def _lifted(inst: MultiServiceInstance, pair_s: NDArray[np.int64], pair_j: NDArray[np.int64]) -> sp.csc_array:
    """(S*n, K) 0/1: column k holds the demand rows ``s*n + i`` that pair k = (s, j) covers."""
    n = inst.n
    rows_l: list[NDArray[np.int64]] = []
    cols_l: list[NDArray[np.int64]] = []
    for s, svc in enumerate(inst.services):
        ks = np.flatnonzero(pair_s == s)
        if ks.size == 0:
            continue
        sub = sp.csc_array(svc.coverage)[:, pair_j[ks]].tocoo()  # (n, |ks|)
        rows_l.append(sub.row.astype(np.int64) + s * n)
        cols_l.append(ks[sub.col])
    rr = np.concatenate(rows_l) if rows_l else np.zeros(0, dtype=np.int64)
    cc = np.concatenate(cols_l) if cols_l else np.zeros(0, dtype=np.int64)
    C = sp.csc_array((np.ones(rr.size), (rr, cc)), shape=(inst.S * n, pair_s.size))
    C.sum_duplicates()
    C.data[:] = 1.0
    return C


def greedy_order(
    inst: MultiServiceInstance, open_phase: NDArray[np.integer], site_order: NDArray[np.integer] | None = None
) -> NDArray[np.int64]:
    """The opened pairs (as flat indices ``s * m + j``) in greedy order of marginal weighted coverage,
    phases ignored; ties to the smaller service name, then the smaller ``site_order``."""
    op = np.asarray(open_phase)
    return np.asarray(
        [
            r.service * inst.m + r.site
            for r in rank_plan(
                inst, np.where(op >= 0, 0, -1).astype(np.int8), site_order=site_order, confirm=False, substitutes=False
            )
        ],
        dtype=np.int64,
    )


def earliest_phases(
    inst: MultiServiceInstance, open_phase: NDArray[np.integer], site_order: NDArray[np.integer] | None = None
) -> NDArray[np.int8]:
    """Re-phase a plan: each opened pair, in greedy order (:func:`greedy_order`), opens in the earliest
    phase whose budgets still allow it.

    With carry-over, phase t can take a pair of cost c when ``S_u + c <= B_0 + ... + B_u`` for every
    ``u >= t`` (``S_u``: spending up to phase u so far); without, when ``s_t + c <= B_t``. The last
    phase always fits with carry-over (the plan as a whole keeps the budgets). Which pairs open, the
    cost and the final coverage are unchanged. Returns the original plan when the instance has no
    phase budgets to respect and one phase, when some pair fits no phase (possible without
    carry-over), when the evaluator objects, or when the re-phased plan's phased value
    (coverage in force, earlier phases weighted more) would be lower.
    """
    op = np.asarray(open_phase).astype(np.int8)
    T = inst.T
    if T == 1 or not (op >= 0).any():
        return op
    order = greedy_order(inst, op, site_order)
    cost = inst.cost_matrix.ravel()
    pb = None if inst.phase_budgets is None else np.asarray(inst.phase_budgets, dtype=np.float64)
    spend = np.zeros(T)
    out = np.full(op.shape, -1, dtype=np.int8)
    flat = out.reshape(-1)
    for q in order:
        c = float(cost[q])
        placed = False
        for t in range(T):
            trial = spend.copy()
            trial[t] += c
            if pb is None:
                ok = True
            elif inst.carry_over:
                ok = bool(np.all(_over_ok(np.cumsum(trial), np.cumsum(pb))))
            else:
                ok = bool(_over_ok(trial[t], pb[t]))
            if ok:
                spend = trial
                flat[q] = t
                placed = True
                break
        if not placed:
            return op
    new = evaluate_joint(inst, out)
    old = evaluate_joint(inst, op)
    if new.violations or new.phased_value < old.phased_value - 1e-9 * max(1.0, abs(old.phased_value)):
        return op
    return out


def _over_ok(spent: NDArray[np.float64] | float, limit: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    lim = np.asarray(limit, dtype=np.float64)
    return np.asarray(spent) <= lim + 1e-6 * np.maximum(1.0, np.abs(np.where(np.isfinite(lim), lim, 0.0)))


__all__ = ["RankedRow", "earliest_phases", "greedy_order", "rank_plan"]
