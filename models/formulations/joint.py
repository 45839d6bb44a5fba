"""Joint multi-service siting on shared plots under shared, phased budgets, as one sparse MILP.

Notation (see :mod:`models.multiservice`): services s = 1..S, plots j = 1..m, demand i = 1..n,
model phases t = 0..T'-1. The (s, j) *pairs* are those with j eligible for s, ``area_s <= room_j``
and ``c_sj`` within every budget that applies (an exact reduction: other pairs can never open).
``T' = T`` for the phased objective or when phase budgets exist; otherwise phases do not matter and
``T' = 1`` (every plan is built in phase 0), which removes a T-fold symmetry.

Variables
---------
``y_sjt`` in {0, 1}   pair (s, j) opened in phase t;  ``Y_sj = sum_t y_sjt``.
``z_sr`` / ``z_srt`` in [0, 1]   merged demand row r of service s covered (at the end / by phase t).
``c_q`` in [0, 1]     merged resident group q has every service (complete circle).
``x_sij``, ``x_si0`` in [0, 1]   demand i of service s served by plot j / by its nearest existing
facility (the "existing" pseudo-site at distance ``e_si``): p-median and the distance tie-break.

Demand rows. For service s, demand covered by an existing facility goes to the objective offset;
the rest with weight > 0 that some pair covers is grouped by covering set ``N_sr`` (the pair
plots within reach), weights summed into ``w_sr`` (exact, as in MCLP).

Constraints shared by every objective::

    sum_t y_sjt <= 1                                               every pair            (1)
    sum_s area_s Y_sj <= room_j                                    plots that can overflow (2)
    sum_{s,j} c_sj Y_sj <= B                                       total budget          (3)
    sum_j c_sj Y_sj <= B_s                                         per-service budget    (4)
    sum_{t'<=t} sum_{s,j} c_sj y_sjt' <= sum_{t'<=t} B_t'          carry-over, every t   (5)
        (without carry-over:  sum_{s,j} c_sj y_sjt <= B_t)
    min_s <= sum_j Y_sj <= max_s                                   count limits          (6)

Objectives::

    max_coverage:     max  sum_s weight_s (W0_s + sum_r w_sr z_sr)
                      z_sr <= sum_{j in N_sr} Y_sj                                         (7)
    phased:           max  sum_t pw_t sum_s weight_s (W0_s + sum_r w_sr z_srt)
                      z_srt <= sum_{j in N_sr} sum_{t'<=t} y_sjt'                          (7)
    complete_circle:  max  R0 + sum_q r_q c_q,  c_q <= z_{s,r_s(q)} for every service s
                      not already covering q (8), z as in (7); a group q is a set of
                      residents (r > 0) every service can reach, with the same covering
                      rows r_s(q) in every service; residents every service already covers
                      are the offset R0
    min_cost:         min  sum_{s,j} c_sj Y_sj,  sum_{j in N_sr} Y_sj >= 1 for every row    (9)
                      of every demand point with weight > 0 that an eligible plot covers
                      (demand covered by nothing eligible is reported, not made infeasible)
    pmedian:          min  sum_s weight_s sum_{i in R_s} w_si (sum_j d_sij x_sij + e_si x_si0)
                      sum_j x_sij + x_si0 = 1   for i in R_s                              (10)
                      x_sij <= Y_sj                                                       (11)
                      over stored pairs with d_sij < e_si (others never beat the existing
                      facility); R_s = demand with weight > 0 reachable by an eligible plot
                      or an existing facility (the rest is reported, weight 0)

Lexicographic stages (``stage``): ``"cost"`` minimises total cost with the primary objective held,
``"distance"`` minimises the walking distance of covered demand with the primary objective and the
cost held::

    primary objective >= fix_primary  (<= for min objectives)                             (12)
    sum c_sj Y_sj <= fix_cost                                                             (13)
    z_sr >= Y_sj for j in N_sr  (z_sr is then exactly "row r covered")                    (14)
    sum_j x_sij = z_{s,r(i)}  (uncovered before), sum_j x_sij + x_si0 = 1 (existing)      (14)
    x_sij <= Y_sj                                                                         (11)
    min  sum_s weight_s sum_i w_si (sum_j d_sij x_sij + e_si x_si0)

Capacities and equity floors of a service (``options``) replace its coverage term by the served
demand and add group floors (max_coverage and phased): :mod:`models.formulations.joint_capacity`.

``forbid`` adds a no-good cut for every listed plan P (set of open pairs)::

    sum_{(s,j) in P} Y_sj - sum_{(s,j) not in P} Y_sj <= |P| - 1                          (15)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.csr import csr_rows
from siting.models.errors import ScenarioError
from siting.models.formulations.joint_capacity import JointOptions, OptionLayout, build_options, phase_entries
from siting.models.formulations.lscp import merge_identical_rows, submatrix
from siting.models.milp import MilpProblem
from siting.models.multiservice import OBJECTIVE_SENSE, OBJECTIVES, MultiServiceInstance, check_plan

Stage = Literal["primary", "cost", "distance"]
STAGES: tuple[str, ...] = ("primary", "cost", "distance")


# --------------------------------------------------------------------------- layout
@dataclass(frozen=True, eq=False)
class CoverBlock:
    """Coverage variables of one service: ``z[r, t]`` for merged rows r (columns ``cols[r, t]``)."""

    service: int
    cover: sp.csr_array  # (k, m) bool: pair plots covering each merged row
    weight: NDArray[np.float64]  # (k,) summed weights of the merged rows
    group: NDArray[np.int64]  # (n,) merged row of each demand point, -1 if none
    cols: NDArray[np.int64]  # (k, Tz) columns; Tz = 1 (at the end) or T (phased)
    role: str  # "objective", "complete" or "distance"


@dataclass(frozen=True, eq=False)
class AssignBlock:
    """Assignment variables of one service: ``x`` for (demand, plot) with plot -1 = existing facility."""

    service: int
    demand: NDArray[np.int64]
    site: NDArray[np.int64]
    dist: NDArray[np.float64]
    cols: NDArray[np.int64]
    link: int  # -1: every listed demand is served (p-median); else index of the CoverBlock whose z it equals


@dataclass(frozen=True, eq=False)
class JointLayout:
    """Maps the columns of a joint MILP back to the plan and the objectives.

    Attributes
    ----------
    objective, stage : what was built.
    n_phases : phases in the model (1 when phases cannot matter, see the module docstring).
    pair_service, pair_site : (P,) the (s, j) pairs that have columns.
    y_cols : (P, n_phases) column of ``y_sjt``.
    primary_c, primary_offset : the primary objective ``primary_c @ x + primary_offset``.
    cost_c : total cost ``cost_c @ x``.
    distance_c, distance_offset : walking distance of covered demand (stage "distance" only).
    sense : sense of the primary objective.
    uncoverable : (S, n) demand with weight > 0 that nothing eligible covers (min_cost) or reaches
        (pmedian); reported, not made infeasible.
    notes : plain-language remarks (e.g. demand only reachable through plots that cannot open).
    """

    objective: str
    stage: str
    S: int
    m: int
    n_phases: int
    pair_service: NDArray[np.int64]
    pair_site: NDArray[np.int64]
    y_cols: NDArray[np.int64]
    primary_c: NDArray[np.float64]
    primary_offset: float
    cost_c: NDArray[np.float64]
    sense: str
    uncoverable: NDArray[np.bool_]
    distance_c: NDArray[np.float64] | None = None
    distance_offset: float = 0.0
    cover_blocks: list[CoverBlock] = field(default_factory=list)
    complete_key: NDArray[np.int64] | None = None  # (Q, S) cover-block row of each group, -1 = already covered
    complete_cols: NDArray[np.int64] | None = None
    complete_blocks: list[int] = field(default_factory=list)  # cover block index per service for complete
    assign_blocks: list[AssignBlock] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    num_vars: int = 0
    #: capacity and equity blocks (:mod:`models.formulations.joint_capacity`), None without options
    options: OptionLayout | None = None

    @property
    def P(self) -> int:
        return int(self.pair_service.size)

    def pair_index(self) -> NDArray[np.int64]:
        """(S, m) pair number of each (s, j), -1 where the pair has no column."""
        out = np.full((self.S, self.m), -1, dtype=np.int64)
        out[self.pair_service, self.pair_site] = np.arange(self.P)
        return out

    def open_phase(self, x: NDArray[np.float64]) -> NDArray[np.int8]:
        """The plan read from a solution (binaries read as ``x > 0.5``; the first phase if several)."""
        plan = np.full((self.S, self.m), -1, dtype=np.int8)
        if self.P == 0:
            return plan
        on = np.asarray(x)[self.y_cols] > 0.5  # (P, T')
        any_on = on.any(axis=1)
        phase = np.argmax(on, axis=1)
        plan[self.pair_service[any_on], self.pair_site[any_on]] = phase[any_on]
        return plan

    def primary_value(self, x: NDArray[np.float64]) -> float:
        return float(self.primary_c @ x + self.primary_offset)

    def cost_value(self, x: NDArray[np.float64]) -> float:
        return float(self.cost_c @ x)

    def distance_value(self, x: NDArray[np.float64]) -> float | None:
        if self.distance_c is None:
            return None
        return float(self.distance_c @ x + self.distance_offset)

    def start(self, open_phase: NDArray[np.int8]) -> NDArray[np.float64] | None:
        """A complete solution vector for a plan: ``y`` from the plan, ``z``, ``c`` and ``x`` set to
        their best values given ``y`` (z = row covered, c = all services cover, x = nearest server).

        Returns None when the plan opens a pair that has no column (it cannot be represented).
        Whether the vector satisfies the rows (budgets, cuts) is for the caller to check.
        """
        op = np.asarray(open_phase).astype(np.int64)
        x = np.zeros(self.num_vars)
        opened = op >= 0
        if (opened & (self.pair_index() < 0)).any():
            return None
        if self.P:
            ph = op[self.pair_service, self.pair_site]
            on = ph >= 0
            tcol = np.minimum(ph[on], self.n_phases - 1)
            x[self.y_cols[np.flatnonzero(on), tcol]] = 1.0
        zval: list[NDArray[np.float64]] = []
        for blk in self.cover_blocks:
            s = blk.service
            Tz = blk.cols.shape[1]
            if Tz == 1:
                by_t = opened[s][:, None]
            else:
                by_t = opened[s][:, None] & (op[s][:, None] <= np.arange(Tz)[None, :])
            val = np.minimum(1.0, np.asarray(sp.csr_array(blk.cover, dtype=np.float64) @ by_t.astype(np.float64)))
            x[blk.cols] = val
            zval.append(val)
        if self.complete_key is not None and self.complete_cols is not None:
            key = self.complete_key
            cval = np.ones(key.shape[0])
            for s, b in enumerate(self.complete_blocks):
                has = key[:, s] >= 0
                cval[has] = np.minimum(cval[has], zval[b][key[has, s], 0])
            x[self.complete_cols] = cval
        for ab in self.assign_blocks:
            s = ab.service
            avail = (ab.site < 0) | opened[s][np.maximum(ab.site, 0)]
            cand = np.flatnonzero(avail)
            if cand.size == 0:
                continue
            order = cand[np.lexsort((ab.dist[cand], ab.demand[cand]))]
            _, first = np.unique(ab.demand[order], return_index=True)
            pick = order[first]
            if ab.link >= 0:
                blk = self.cover_blocks[ab.link]
                g = blk.group[ab.demand[pick]]
                served = np.ones(g.size)
                served[g >= 0] = zval[ab.link][g[g >= 0], -1]
                pick = pick[served > 0.5]
            x[ab.cols[pick]] = 1.0
        if self.options is not None:
            self.options.fill_start(x, op)
        return x


# --------------------------------------------------------------------------- builder
class _Builder:
    """Collects columns and row blocks (COO triplets) and assembles one CSC matrix."""

    def __init__(self) -> None:
        self.ncol = 0
        self.lo: list[NDArray[np.float64]] = []
        self.up: list[NDArray[np.float64]] = []
        self.integer: list[NDArray[np.bool_]] = []
        self.implied: list[NDArray[np.bool_]] = []
        self.blocks: dict[str, tuple[int, int]] = {}
        self.nrow = 0
        self.r: list[NDArray[np.int64]] = []
        self.c: list[NDArray[np.int64]] = []
        self.v: list[NDArray[np.float64]] = []
        self.rlo: list[NDArray[np.float64]] = []
        self.rup: list[NDArray[np.float64]] = []

    def cols(self, k: int, name: str, *, integer: bool, upper: float = 1.0) -> NDArray[np.int64]:
        start = self.ncol
        self.ncol += k
        self.lo.append(np.zeros(k))
        self.up.append(np.full(k, upper))
        self.integer.append(np.full(k, integer))
        self.implied.append(np.full(k, not integer))
        if k:
            self.blocks[name] = (start, self.ncol)
        return np.arange(start, self.ncol, dtype=np.int64)

    def rows(
        self,
        nrows: int,
        r: NDArray[np.int64],
        c: NDArray[np.int64],
        v: NDArray[np.float64] | float,
        lo: NDArray[np.float64] | float,
        up: NDArray[np.float64] | float,
    ) -> None:
        if nrows == 0:
            return
        r = np.asarray(r, dtype=np.int64)
        self.r.append(r + self.nrow)
        self.c.append(np.asarray(c, dtype=np.int64))
        self.v.append(np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape).copy())
        self.rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (nrows,)).copy())
        self.rup.append(np.broadcast_to(np.asarray(up, dtype=np.float64), (nrows,)).copy())
        self.nrow += nrows

    def matrix(self) -> tuple[sp.csc_array, NDArray[np.float64], NDArray[np.float64]]:
        cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dtype=dt)
        A = sp.csc_array(
            (cat(self.v, np.float64), (cat(self.r, np.int64), cat(self.c, np.int64))), shape=(self.nrow, self.ncol)
        )
        A.sum_duplicates()
        return A, cat(self.rlo, np.float64), cat(self.rup, np.float64)


def _merged_rows(
    cov: sp.csr_array, rows_mask: NDArray[np.bool_], sites_mask: NDArray[np.bool_], weights: NDArray[np.float64]
) -> tuple[sp.csr_array, NDArray[np.float64], NDArray[np.int64]]:
    """Merge the rows ``rows_mask`` of ``cov`` (restricted to ``sites_mask``) by covering set.

    Returns the merged (k, m) covering matrix, the summed weights and the (n,) group of each demand
    point (-1 for rows not selected).
    """
    n = cov.shape[0]
    sel = submatrix(cov, rows_mask, sites_mask)
    demand = np.flatnonzero(rows_mask)
    group_full = np.full(n, -1, dtype=np.int64)
    if demand.size == 0:
        return sp.csr_array((0, cov.shape[1]), dtype=bool), np.zeros(0), group_full
    group, first = merge_identical_rows(sel)
    w = np.bincount(group, weights=weights[demand], minlength=first.size).astype(np.float64)
    group_full[demand] = group
    return sp.csr_array(sel[first]), w, group_full


def _phase_caps(inst: MultiServiceInstance) -> float:
    """The most one pair may cost under the phase budgets (inf if none)."""
    if inst.phase_budgets is None:
        return float("inf")
    return float(inst.phase_budgets.sum() if inst.carry_over else inst.phase_budgets.max())


def check_objective(objective: str, stage: str = "primary") -> None:
    if objective not in OBJECTIVE_SENSE:
        raise ScenarioError(f"unknown joint objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if stage not in STAGES:
        raise ScenarioError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")


def joint_milp(
    inst: MultiServiceInstance,
    objective: str = "max_coverage",
    *,
    fix_primary: float | None = None,
    stage: Stage | str = "primary",
    forbid: list[NDArray[np.int8]] | None = None,
    fix_cost: float | None = None,
    options: JointOptions | None = None,
) -> tuple[MilpProblem, JointLayout]:
    """Build the joint MILP (the math is in the module docstring).

    Parameters
    ----------
    inst : the joint instance.
    objective : one of :data:`models.multiservice.OBJECTIVES`.
    fix_primary : hold the primary objective at least (max) / at most (min) this value (12). Required
        for the stages "cost" and "distance"; with stage "primary" it bounds the search (alternatives).
    stage : "primary" (optimise the objective), "cost" (min cost, primary held), "distance" (min
        walking distance of covered demand, primary and cost held).
    forbid : plans whose set of open pairs is cut off (15).
    fix_cost : the cost held in stage "distance" (13).
    options : services' capacities and equity rules (:mod:`models.formulations.joint_capacity`);
        ``options.worst_stage`` maximises the max-min service's worst group share instead.

    Returns
    -------
    (MilpProblem, JointLayout)

    Raises
    ------
    ScenarioError : unknown objective or stage; a stage without the value it must hold; p-median or
        the distance stage on a service without walking distances.
    """
    check_objective(objective, stage)
    if stage in ("cost", "distance") and fix_primary is None:
        raise ScenarioError(f"stage {stage!r} holds the primary objective: give fix_primary")
    if stage == "distance" and fix_cost is None:
        raise ScenarioError("stage 'distance' holds the cost: give fix_cost")
    need_dist = objective == "pmedian" or stage == "distance"
    if need_dist:
        missing = [s.name for s in inst.services if s.distances is None]
        if missing:
            what = "the p-median objective" if objective == "pmedian" else "the walking-distance tie-break"
            raise ScenarioError(
                f"{what} needs walking distances, but services {', '.join(missing)} have none; "
                "give distances for every service"
            )
    S, m, n = inst.S, inst.m, inst.n
    sense = OBJECTIVE_SENSE[objective]
    Tm = inst.T if (objective == "phased" or inst.phase_budgets is not None) else 1
    notes: list[str] = []

    # ---- pairs: eligible, fit on the plot, affordable under every budget (exact reduction)
    tb = float("inf") if inst.total_budget is None else float(inst.total_budget)
    cap = min(tb, _phase_caps(inst))
    C = inst.cost_matrix
    keep = inst.eligible_matrix & (inst.areas[:, None] <= inst.room[None, :] + 1e-9)
    for s, svc in enumerate(inst.services):
        cap_s = min(cap, float("inf") if svc.budget is None else float(svc.budget))
        keep[s] &= C[s] <= cap_s * (1 + 1e-12) + 1e-12
        if svc.max_sites == 0:
            keep[s] = False
    pair_s, pair_j = np.nonzero(keep)
    pair_s = pair_s.astype(np.int64)
    pair_j = pair_j.astype(np.int64)
    P = pair_s.size
    pidx = np.full((S, m), -1, dtype=np.int64)
    pidx[pair_s, pair_j] = np.arange(P)
    pcost = C[pair_s, pair_j]

    b = _Builder()
    y_cols = b.cols(P * Tm, "y", integer=True).reshape(P, Tm)
    allp = np.arange(P, dtype=np.int64)

    # (1) each pair opened at most once over the phases
    if Tm > 1:
        b.rows(P, *phase_entries(y_cols, allp, allp, 1.0), -np.inf, 1.0)
    # (2) room: only plots whose pairs could overflow it
    load = np.bincount(pair_j, weights=inst.areas[pair_s], minlength=m)
    tight = load > inst.room + 1e-9
    if tight.any():
        plots = np.flatnonzero(tight)
        row_of = np.full(m, -1, dtype=np.int64)
        row_of[plots] = np.arange(plots.size)
        sel = tight[pair_j]
        b.rows(
            plots.size,
            *phase_entries(y_cols, row_of[pair_j[sel]], allp[sel], inst.areas[pair_s[sel]]),
            -np.inf,
            inst.room[plots],
        )
    # (3) total budget
    if np.isfinite(tb) and pcost.sum() > tb:
        b.rows(1, *phase_entries(y_cols, np.zeros(P, dtype=np.int64), allp, pcost), -np.inf, tb)
    # (4) per-service budgets
    for s, svc in enumerate(inst.services):
        mine = pair_s == s
        if svc.budget is not None and pcost[mine].sum() > svc.budget:
            b.rows(
                1,
                *phase_entries(y_cols, np.zeros(int(mine.sum()), dtype=np.int64), allp[mine], pcost[mine]),
                -np.inf,
                float(svc.budget),
            )
    # (5) per-phase budgets (cumulative with carry-over)
    if inst.phase_budgets is not None and P:
        pb = inst.phase_budgets
        limit = np.cumsum(pb) if inst.carry_over else pb
        for t in range(Tm):  # loop over phases
            if not np.isfinite(limit[t]):
                continue
            ts = np.arange(t + 1) if inst.carry_over else np.array([t])
            rr = np.zeros(P * ts.size, dtype=np.int64)
            cc = y_cols[:, ts].ravel()
            vv = np.repeat(pcost, ts.size)
            b.rows(1, rr, cc, vv, -np.inf, float(limit[t]))
    # (6) count limits per service
    for s, svc in enumerate(inst.services):
        mine = allp[pair_s == s]
        hi = float("inf") if svc.max_sites is None or svc.max_sites >= mine.size else float(svc.max_sites)
        lo = float(svc.min_sites)
        if lo > mine.size:
            notes.append(
                f"service {svc.name!r} needs min_sites = {svc.min_sites} new sites but only {mine.size} "
                "plots are eligible, large enough and affordable"
            )
        if lo > 0 or np.isfinite(hi):
            b.rows(1, *phase_entries(y_cols, np.zeros(mine.size, dtype=np.int64), mine, 1.0), lo, hi)

    obj = np.zeros(0)
    obj_parts: list[tuple[NDArray[np.int64], NDArray[np.float64]]] = []
    offset = 0.0
    cover_blocks: list[CoverBlock] = []
    assign_blocks: list[AssignBlock] = []
    uncoverable = np.zeros((S, n), dtype=bool)
    complete_key = complete_cols = None
    complete_blocks: list[int] = []

    def add_cover_block(s: int, rows_mask: NDArray[np.bool_], weights: NDArray[np.float64], Tz: int, role: str) -> int:
        """z columns for the merged rows of service s and their rows (7); returns the block index."""
        svc = inst.services[s]
        cover, w, group = _merged_rows(svc.coverage, rows_mask, keep[s], weights)
        k = cover.shape[0]
        cols = b.cols(k * Tz, f"z[{svc.name}]" + ("" if role == "objective" else f"/{role}"), integer=False)
        cols = cols.reshape(k, Tz)
        re = csr_rows(cover)
        pe = pidx[s, cover.indices]
        for t in range(Tz):  # loop over phases
            # (7) z_srt - sum_{j in N_sr} sum_{t' <= t} y_sjt' <= 0   (Tz = 1: all phases)
            rr, cc, vv = phase_entries(y_cols, re, pe, -1.0, upto=t if Tz > 1 else None)
            b.rows(
                k,
                np.concatenate([np.arange(k), rr]),
                np.concatenate([cols[:, t], cc]),
                np.concatenate([np.ones(k), vv]),
                -np.inf,
                0.0,
            )
        cover_blocks.append(CoverBlock(s, cover, w, group, cols, role))
        return len(cover_blocks) - 1

    def coverable_by_pairs(s: int) -> NDArray[np.bool_]:
        svc = inst.services[s]
        return np.asarray((svc.coverage_float @ keep[s].astype(np.float64)) > 0)

    opt_layout = None
    if options:

        def cover_block(s: int) -> CoverBlock:
            w = inst.services[s].weights
            rows_mask = (w > 0) & ~inst.services[s].existing_covered & coverable_by_pairs(s)
            k_ = add_cover_block(s, rows_mask, w, inst.T if objective == "phased" else 1, "objective")
            pw_ = inst.phase_weight_vector if objective == "phased" else np.ones(1)
            blk = cover_blocks[k_]
            obj_parts.append((blk.cols.ravel(), (inst.services[s].weight * blk.weight[:, None] * pw_[None, :]).ravel()))
            return blk

        assert options is not None
        opt_layout, offset = build_options(b, inst, options, objective, keep, pidx, y_cols, cover_block, obj_parts)
    elif objective in ("max_coverage", "phased"):
        Tz = inst.T if objective == "phased" else 1
        pw = inst.phase_weight_vector if objective == "phased" else np.ones(1)
        for s, svc in enumerate(inst.services):
            w = svc.weights
            offset += float(pw.sum()) * svc.weight * float(w[svc.existing_covered].sum())
            rows_mask = (w > 0) & ~svc.existing_covered & coverable_by_pairs(s)
            k_ = add_cover_block(s, rows_mask, w, Tz, "objective")
            blk = cover_blocks[k_]
            obj_parts.append((blk.cols.ravel(), (svc.weight * blk.weight[:, None] * pw[None, :]).ravel()))
    elif objective == "complete_circle":
        resid = inst.resident_weights
        reach = np.ones(n, dtype=bool)
        done = np.ones(n, dtype=bool)
        for s, svc in enumerate(inst.services):
            reach &= svc.existing_covered | coverable_by_pairs(s)
            done &= svc.existing_covered
        D = (resid > 0) & reach
        offset += float(resid[D & done].sum())
        rest = D & ~done
        keys = []
        for s, svc in enumerate(inst.services):
            k_ = add_cover_block(s, rest & ~svc.existing_covered, resid, 1, "complete")
            complete_blocks.append(k_)
            keys.append(cover_blocks[k_].group[rest])
        idx = np.flatnonzero(rest)
        if idx.size:
            key = np.stack(keys, axis=1)
            complete_key, inv = np.unique(key, axis=0, return_inverse=True)
            inv = np.asarray(inv).ravel()
            r_q = np.bincount(inv, weights=resid[idx], minlength=complete_key.shape[0]).astype(np.float64)
            Q = complete_key.shape[0]
            complete_cols = b.cols(Q, "c", integer=False)
            obj_parts.append((complete_cols, r_q))
            # (8) c_q - z_{s, r_s(q)} <= 0 for every service s that does not already cover q
            for s in range(S):  # loop over services
                qs = np.flatnonzero(complete_key[:, s] >= 0)
                zc = cover_blocks[complete_blocks[s]].cols[complete_key[qs, s], 0]
                nr = qs.size
                b.rows(
                    nr,
                    np.concatenate([np.arange(nr), np.arange(nr)]),
                    np.concatenate([complete_cols[qs], zc]),
                    np.concatenate([np.ones(nr), -np.ones(nr)]),
                    -np.inf,
                    0.0,
                )
        else:
            complete_key = np.zeros((0, S), dtype=np.int64)
            complete_cols = np.zeros(0, dtype=np.int64)
    elif objective == "min_cost":
        for s, svc in enumerate(inst.services):
            w = svc.weights
            need = (w > 0) & ~svc.existing_covered & svc.coverable
            uncoverable[s] = (w > 0) & ~svc.coverable
            stuck = need & ~coverable_by_pairs(s)
            if stuck.any():
                notes.append(
                    f"service {svc.name!r}: {int(stuck.sum())} demand points can only be covered through plots "
                    "that are too small or too costly for it, so covering everyone is impossible"
                )
            cover, _, _ = _merged_rows(svc.coverage, need, keep[s], w)
            k = cover.shape[0]
            # (9) sum_{j in N_sr} Y_sj >= 1 (an empty row makes the model infeasible, see the notes)
            rr, cc, vv = phase_entries(y_cols, csr_rows(cover), pidx[s, cover.indices], 1.0)
            b.rows(k, rr, cc, vv, 1.0, np.inf)
    elif objective == "pmedian":
        for s, svc in enumerate(inst.services):
            blk_, off_, n_stuck = _assignment(
                b,
                inst,
                s,
                keep[s],
                pidx,
                y_cols,
                need=(svc.weights > 0) & svc.reachable,
                e=svc.existing_distance,
                pairs=svc.distances,
                link=-1,
                z_cols=None,
            )
            uncoverable[s] = (svc.weights > 0) & ~svc.reachable
            offset += off_
            if n_stuck:
                notes.append(
                    f"service {svc.name!r}: {n_stuck} demand points can only be reached through plots that "
                    "are too small or too costly for it"
                )
            assign_blocks.append(blk_)
            obj_parts.append((blk_.cols, svc.weight * svc.weights[blk_.demand] * blk_.dist))

    obj = np.zeros(b.ncol)
    for cols, vals in obj_parts:
        obj[cols] += vals
    cost_vec = np.zeros(b.ncol)
    cost_vec[y_cols.ravel()] = np.repeat(pcost, Tm)
    if objective == "min_cost":
        obj = cost_vec.copy()
    if opt_layout is not None and opt_layout.tau_col >= 0:
        obj = np.zeros(b.ncol)  # the max-min first stage: max tau (joint_capacity, (M))
        obj[opt_layout.tau_col] = 1.0
        offset = 0.0

    # (12) hold the primary objective
    if fix_primary is not None:
        nz = np.flatnonzero(obj)
        lo, up = (float(fix_primary) - offset, np.inf) if sense == "max" else (-np.inf, float(fix_primary) - offset)
        b.rows(1, np.zeros(nz.size, dtype=np.int64), nz, obj[nz], lo, up)
    # (13) hold the cost
    if stage == "distance" and fix_cost is not None:
        nz = np.flatnonzero(cost_vec)
        b.rows(1, np.zeros(nz.size, dtype=np.int64), nz, cost_vec[nz], -np.inf, float(fix_cost))

    dist_c = None
    dist_off = 0.0
    if stage == "distance":
        dist_parts: list[tuple[NDArray[np.int64], NDArray[np.float64]]] = []
        if objective == "pmedian":
            for ab in assign_blocks:
                svc = inst.services[ab.service]
                dist_parts.append((ab.cols, svc.weight * svc.weights[ab.demand] * ab.dist))
            dist_off = offset
        else:
            for s, svc in enumerate(inst.services):
                w = svc.weights
                rows_mask = (w > 0) & ~svc.existing_covered & coverable_by_pairs(s)
                reuse = [k for k, cb in enumerate(cover_blocks) if cb.service == s and cb.role == "objective"]
                k_ = reuse[0] if reuse else add_cover_block(s, rows_mask, w, 1, "distance")
                cb = cover_blocks[k_]
                zend = cb.cols[:, -1]
                # (14) z_sr - Y_sj >= 0 for j in N_sr: z is exactly "row covered"
                re = csr_rows(cb.cover)
                nr = cb.cover.nnz
                rr, cc, vv = phase_entries(y_cols, np.arange(nr), pidx[s, cb.cover.indices], -1.0)
                b.rows(
                    nr,
                    np.concatenate([np.arange(nr), rr]),
                    np.concatenate([zend[re], cc]),
                    np.concatenate([np.ones(nr), vv]),
                    0.0,
                    np.inf,
                )
                e_cov = np.where(svc.existing_covered, svc.existing_distance, np.inf)
                blk_, off_, _ = _assignment(
                    b,
                    inst,
                    s,
                    keep[s],
                    pidx,
                    y_cols,
                    need=(w > 0) & (svc.existing_covered | (cb.group >= 0)),
                    e=e_cov,
                    pairs=svc.cover_distances,
                    link=k_,
                    z_cols=(cb.group, zend),
                )
                assign_blocks.append(blk_)
                dist_off += off_
                dist_parts.append((blk_.cols, svc.weight * w[blk_.demand] * blk_.dist))
        dist_c = np.zeros(b.ncol)
        for cols, vals in dist_parts:
            dist_c[cols] += vals

    # (15) no-good cuts
    for plan in forbid or []:
        op = check_plan(inst, plan)
        inP = op >= 0
        if (inP & (pidx < 0)).any():
            continue  # the plan uses a pair the model cannot open: already excluded
        coef = np.where(inP[pair_s, pair_j], 1.0, -1.0)
        b.rows(1, *phase_entries(y_cols, np.zeros(P, dtype=np.int64), allp, coef), -np.inf, float(inP.sum()) - 1.0)

    nvar = b.ncol
    pad = lambda v: np.concatenate([v, np.zeros(nvar - v.size)])
    obj, cost_vec = pad(obj), pad(cost_vec)
    if dist_c is not None:
        dist_c = pad(dist_c)
    A, rlo, rup = b.matrix()
    if stage == "primary":
        c, msense, moff = obj, sense, offset
    elif stage == "cost":
        c, msense, moff = cost_vec, "min", 0.0
    else:
        assert dist_c is not None
        c, msense, moff = dist_c, "min", dist_off
    integ = np.concatenate(b.integer) if b.integer else np.zeros(0, dtype=bool)
    problem = MilpProblem(
        c=c,
        A=A,
        row_lower=rlo,
        row_upper=rup,
        col_lower=np.concatenate(b.lo) if b.lo else np.zeros(0),
        col_upper=np.concatenate(b.up) if b.up else np.zeros(0),
        integrality=integ,
        sense=msense,  # type: ignore[arg-type]
        offset=moff,
        name=f"joint[{objective}/{stage}] S={S} m={m} T={Tm}",
        blocks=dict(b.blocks),
        implied_integer=np.concatenate(b.implied) if b.implied else np.zeros(0, dtype=bool),
    )
    layout = JointLayout(
        objective=objective,
        stage=stage,
        S=S,
        m=m,
        n_phases=Tm,
        pair_service=pair_s,
        pair_site=pair_j,
        y_cols=y_cols,
        primary_c=obj,
        primary_offset=offset,
        cost_c=cost_vec,
        sense=sense,
        uncoverable=uncoverable,
        distance_c=dist_c,
        distance_offset=dist_off,
        cover_blocks=cover_blocks,
        complete_key=complete_key,
        complete_cols=complete_cols,
        complete_blocks=complete_blocks,
        assign_blocks=assign_blocks,
        notes=notes,
        num_vars=nvar,
        options=opt_layout,
    )
    if opt_layout is not None:
        opt_layout.inst, opt_layout.settings = inst, options
    return problem, layout


def _assignment(
    b: _Builder,
    inst: MultiServiceInstance,
    s: int,
    keep_s: NDArray[np.bool_],
    pidx: NDArray[np.int64],
    y_cols: NDArray[np.int64],
    *,
    need: NDArray[np.bool_],
    e: NDArray[np.float64],
    pairs: sp.csr_array | None,
    link: int,
    z_cols: tuple[NDArray[np.int64], NDArray[np.int64]] | None,
) -> tuple[AssignBlock, float, int]:
    """Assignment columns ``x_sij`` (pairs with ``d < e_i``) and ``x_si0`` (existing facility at e_i).

    Rows: (10) ``sum_j x_sij + x_si0 = 1`` for demand ``need`` (p-median; link -1), or (14)
    ``sum_j x_sij = z_{s,r(i)}`` for demand not yet covered and ``= 1`` for demand an existing
    facility covers (distance stage); (11) ``x_sij <= Y_sj``.

    Returns the block, the constant distance of demand that only the existing facility serves, and
    the number of demand points left with no column at all (their row makes the model infeasible).
    """
    svc = inst.services[s]
    assert pairs is not None
    n = inst.n
    d = pairs
    rows = csr_rows(d)
    dd = np.asarray(d.data, dtype=np.float64)
    ok = need[rows] & keep_s[d.indices] & (dd < e[rows])
    pi, pj, pd = rows[ok], d.indices[ok].astype(np.int64), dd[ok]
    has_pair = np.bincount(pi, minlength=n) > 0
    fin = np.isfinite(e)
    only_ex = need & fin & ~has_pair
    const = svc.weight * float(np.dot(svc.weights[only_ex], e[only_ex]))
    ex_dem = np.flatnonzero(need & fin & has_pair)
    demand = np.concatenate([pi, ex_dem])
    site = np.concatenate([pj, np.full(ex_dem.size, -1, dtype=np.int64)])
    dist = np.concatenate([pd, e[ex_dem]])
    cols = b.cols(demand.size, f"x[{svc.name}]" + ("" if link < 0 else "/distance"), integer=False)
    # rows of (10) / (14): one per demand point that has columns or must be served
    if link < 0:
        row_dem = np.flatnonzero(need & ~only_ex)  # includes demand with no column at all (infeasible)
    else:
        row_dem = np.flatnonzero(need & has_pair)
    stuck = int((need & ~only_ex & ~has_pair & ~fin).sum()) if link < 0 else 0
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[row_dem] = np.arange(row_dem.size)
    nr = row_dem.size
    if link < 0:
        b.rows(nr, row_of[demand], cols, 1.0, 1.0, 1.0)
    else:
        assert z_cols is not None
        group, zend = z_cols
        exc = svc.existing_covered[row_dem]
        lo = np.where(exc, 1.0, 0.0)
        # uncovered-before demand: sum_j x_sij - z_{s,r(i)} = 0; existing-covered: sum = 1
        zr = np.flatnonzero(~exc)
        b.rows(
            nr,
            np.concatenate([row_of[demand], zr]),
            np.concatenate([cols, zend[group[row_dem[zr]]]]),
            np.concatenate([np.ones(demand.size), -np.ones(zr.size)]),
            lo,
            lo,
        )
    # (11) x_sij - sum_t y_sjt <= 0
    npair = pi.size
    rr, cc, vv = phase_entries(y_cols, np.arange(npair), pidx[s, pj], -1.0)
    b.rows(
        npair,
        np.concatenate([np.arange(npair), rr]),
        np.concatenate([cols[:npair], cc]),
        np.concatenate([np.ones(npair), vv]),
        -np.inf,
        0.0,
    )
    return AssignBlock(s, demand, site, dist, cols, link), const, stuck
