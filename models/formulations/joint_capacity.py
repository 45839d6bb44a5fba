"""Capacity and equity floors inside the joint multi-service model: the constraint blocks.

Notation of :mod:`models.formulations.joint` (services s, plots j, demand i, model phases t, pair
columns ``y_sjt``, merged coverage rows ``z_srt``). The options are given per service by
:class:`JointOptions`; :func:`models.formulations.joint.joint_milp` calls the builders below.

Capacity (service s with :class:`CapacityData`). The pairs ``K_s`` are the (demand, plot) pairs
within reach of a plot where s has a column, and the (demand, existing facility e) pairs within
reach of e, both for demand with weight ``w_si > 0``. With ``Tz`` = 1 (the plan at the end) or T
(the phased objective), variables ``x_skt`` in {0, 1} (``allow_split``: in [0, 1])::

    sum_{k in K_s(i)} x_skt <= 1                                    every demand i, phase t   (C1)
    sum_{k in K_s(j)} w_si x_skt - cap_sj sum_{t'<=t} y_sjt' <= 0   plots with a finite cap    (C2)
    sum_{k in K_s(e)} w_si x_skt <= cap_se                          existing, finite cap       (C2)
    x_skt - sum_{t'<=t} y_sjt' <= 0                                 pairs of a plot            (C3)

(C3), the strong linking, is built for every pair when ``strong`` (the default below
:data:`STRONG_PAIRS` pairs), otherwise only at plots with unlimited capacity: at a finite cap (C2)
already closes a plot's pairs, more weakly in the LP. The served demand
``served_st = sum_k w_si x_skt`` replaces the coverage term of s in the objective
(``weight_s sum_t pw_t served_st``); the existing facilities' demand is no longer a constant of the
objective: they have a capacity too (unlimited when none is given).

Equity (service s with :class:`EquityData`, groups g by a demand column). ``W_sg = sum_{i in g} w_si``
is the group's whole demand (the definition of :mod:`models.formulations.equity`), the covered
demand at the end of the plan is::

    cov_sg = E_sg + sum_r w_srg z_r      E_sg = sum_{i in g, ex_si} w_si,  w_srg = sum_{i in r, i in g} w_si

without a capacity (a merged row r may hold points of several groups: z_r is one variable for all of
them, so splitting its weight by group is exact), and ``cov_sg = sum_{k: g(i_k) = g} w_si x_sk`` (the
served demand) with one. The floor with share ``phi``::

    cov_sg >= phi W_sg - slack                                      every group with W_sg > 0  (F)

and the first stage of the max-min share (column ``tau`` in [0, 1], objective ``max tau``)::

    cov_sg - W_sg tau >= 0                                          every group with W_sg > 0  (M)

after which the primary model holds the floor (F) at the worst share the evaluator recounts from
the first stage's plan (:mod:`optimizer.joint_options`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.csr import csr_rows
from siting.models.errors import DataError

#: Slack on a floor row, so a floor met exactly in floating point is not cut off (as in the split path).
FLOOR_SLACK = 1e-7
#: Up to this many assignment columns the strong linking (C3) is built at every plot.
STRONG_PAIRS = 200_000


@dataclass(frozen=True, eq=False)
class CapacityData:
    """One service's capacities in the joint model.

    Attributes
    ----------
    plot_capacity : (m,) capacity of a facility of this service on each plot (inf = unlimited).
    existing_cover : (n, E) bool CSR: demand within reach of each existing facility of the service.
    existing_capacity : (E,) capacity of each existing facility (inf = unlimited).
    existing_ids : (E,) their ids, for reports.
    allow_split : a demand point may be served by several facilities (shares in [0, 1]).
    """

    plot_capacity: NDArray[np.float64]
    existing_cover: sp.csr_array
    existing_capacity: NDArray[np.float64]
    existing_ids: NDArray[Any]
    allow_split: bool = False

    def __post_init__(self) -> None:
        cap = np.asarray(self.plot_capacity, dtype=np.float64)
        ecap = np.asarray(self.existing_capacity, dtype=np.float64)
        cov = sp.csr_array(self.existing_cover, dtype=bool)
        cov.sort_indices()
        if cov.shape[1] != ecap.size or np.asarray(self.existing_ids).size != ecap.size:
            raise DataError(
                f"existing_cover has {cov.shape[1]} facilities, existing_capacity {ecap.size}, "
                f"existing_ids {np.asarray(self.existing_ids).size}; give one of each per existing facility"
            )
        for what, v in (("plot_capacity", cap), ("existing_capacity", ecap)):
            if np.isnan(v).any() or (v < 0).any():
                raise DataError(f"{what} must be >= 0 (inf for unlimited), not NaN or negative")
        object.__setattr__(self, "plot_capacity", cap)
        object.__setattr__(self, "existing_capacity", ecap)
        object.__setattr__(self, "existing_cover", cov)
        object.__setattr__(self, "existing_ids", np.asarray(self.existing_ids, dtype=object))

    @property
    def E(self) -> int:
        return int(self.existing_capacity.size)


@dataclass(frozen=True, eq=False)
class EquityData:
    """One service's equity rule: a floor ``min_share`` on every group's covered share, or max-min.

    ``code`` (n,) is each demand point's group index into ``labels``.
    """

    code: NDArray[np.int64]
    labels: NDArray[Any]
    min_share: float | None = None
    max_min: bool = False

    def __post_init__(self) -> None:
        if (self.min_share is None) == (not self.max_min):
            raise DataError("give exactly one of min_share (a floor) or max_min")
        code = np.asarray(self.code, dtype=np.int64)
        if code.size and (code.min() < 0 or code.max() >= len(self.labels)):
            raise DataError("group codes must index the group labels")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "labels", np.asarray(self.labels, dtype=object))

    @property
    def G(self) -> int:
        return len(self.labels)

    def totals(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """``W_g``: every person of each group."""
        return np.bincount(self.code, weights=weights, minlength=self.G).astype(np.float64)


@dataclass(frozen=True, eq=False)
class JointOptions:
    """Capacity and equity by service name; ``worst_stage`` builds the max-min first stage (M)."""

    capacity: Mapping[str, CapacityData] = field(default_factory=dict)
    equity: Mapping[str, EquityData] = field(default_factory=dict)
    worst_stage: bool = False
    strong: bool | None = None

    def __bool__(self) -> bool:
        return bool(self.capacity) or bool(self.equity)

    @property
    def max_min_service(self) -> str | None:
        names = [k for k, e in self.equity.items() if e.max_min]
        if len(names) > 1:
            raise DataError(f"only one service can take the max-min share in one model, not {', '.join(names)}")
        return names[0] if names else None


@dataclass(frozen=True, eq=False)
class CapacityBlock:
    """Assignment columns of one capacitated service: ``cols[k, t]`` for pair k.

    ``facility`` < m is a plot, ``m + e`` the existing facility e.
    """

    service: int
    demand: NDArray[np.int64]
    facility: NDArray[np.int64]
    cols: NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class FloorBlock:
    """One service's group coverage: ``cov_g = base_g + sum val * x[col]`` over entries of group g."""

    service: int
    group: NDArray[np.int64]
    col: NDArray[np.int64]
    val: NDArray[np.float64]
    base: NDArray[np.float64]
    total: NDArray[np.float64]

    def covered(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.base + np.bincount(self.group, weights=self.val * x[self.col], minlength=self.base.size)

    def worst(self, x: NDArray[np.float64]) -> float:
        live = self.total > 0
        if not live.any():
            return 1.0
        return float(np.min(self.covered(x)[live] / self.total[live]))


@dataclass(eq=False)
class OptionLayout:
    """Where the option blocks sit in the joint MILP's columns."""

    capacity: dict[int, CapacityBlock] = field(default_factory=dict)
    floors: dict[int, FloorBlock] = field(default_factory=dict)
    tau_col: int = -1
    inst: Any = None  # the joint instance and the options the blocks were built from
    settings: JointOptions | None = None

    def assignment(self, x: NDArray[np.float64]) -> dict[int, tuple[NDArray[np.int64], NDArray[np.int64], Any]]:
        """Per capacitated service: the pairs (demand, facility) and their shares (K, Tz) in ``x``."""
        return {s: (blk.demand, blk.facility, np.asarray(x)[blk.cols]) for s, blk in self.capacity.items()}

    def named_assignment(
        self, x: NDArray[np.float64]
    ) -> dict[str, tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]]:
        """:meth:`assignment` by service name (what :func:`models.evaluate_joint_options.evaluate_joint_options` takes)."""
        return {self.inst.services[s].name: a for s, a in self.assignment(x).items()}

    def fill_start(self, x: NDArray[np.float64], op: NDArray[np.int64]) -> None:
        """Complete a start vector for the plan ``op`` (phase per (s, j), -1 closed): a greedy assignment
        within the capacities (each open facility, in order, takes its unserved demand, smallest first),
        and ``tau`` = the worst group share that assignment gives."""
        inst, options = self.inst, self.settings
        assert options is not None
        for s, blk in self.capacity.items():
            svc = inst.services[s]
            cap = options.capacity[svc.name]
            m = inst.m
            room_all = np.concatenate([cap.plot_capacity, cap.existing_capacity])
            w = svc.weights[blk.demand]
            Tz = blk.cols.shape[1]
            order = np.lexsort((blk.demand, w, blk.facility))
            fac_sorted = blk.facility[order]
            starts = np.searchsorted(fac_sorted, np.arange(m + cap.E + 1))
            for t in range(Tz):  # loop over phases
                share = np.zeros(blk.demand.size)
                left = np.ones(inst.n)
                for f in np.flatnonzero(np.diff(starts) > 0):  # loop over facilities, not pairs
                    if f < m:
                        ph = op[s, f]
                        if ph < 0 or (Tz > 1 and ph > t):
                            continue
                    ks = order[starts[f] : starts[f + 1]]
                    need = w[ks] * left[blk.demand[ks]]
                    room = room_all[f]
                    if cap.allow_split:
                        before = np.concatenate([[0.0], np.cumsum(need)[:-1]])
                        take = np.clip((room - before) / np.where(need > 0, need, 1.0), 0.0, 1.0)
                        take = np.where(need > 0, take, 0.0) * left[blk.demand[ks]]
                    else:
                        fits = (left[blk.demand[ks]] >= 1.0) & (np.cumsum(need * (left[blk.demand[ks]] >= 1.0)) <= room)
                        take = fits.astype(np.float64)
                    share[ks] = take
                    np.subtract.at(left, blk.demand[ks], take)
                    left = np.maximum(left, 0.0)
                x[blk.cols[:, t]] = share
        if self.tau_col >= 0:
            x[self.tau_col] = max(0.0, min(fb.worst(x) for fb in self.floors.values()) - 1e-12)


# --------------------------------------------------------------------------- builders
def phase_entries(
    y_cols: NDArray[np.int64], rows: NDArray[np.int64], pairs: NDArray[np.int64], vals: Any, upto: int | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Entries ``(row, y_{pair,t'}, val)`` for the phases ``t' <= upto`` (all for None)."""
    T = y_cols.shape[1] if upto is None else upto + 1
    rr = np.repeat(np.asarray(rows, dtype=np.int64), T)
    cc = y_cols[np.asarray(pairs, dtype=np.int64)][:, :T].ravel()
    vv = np.repeat(np.broadcast_to(np.asarray(vals, dtype=np.float64), np.shape(rows)), T)
    return rr, cc, vv


def add_capacity_block(
    b: Any,
    svc: Any,
    s: int,
    cap: CapacityData,
    keep_s: NDArray[np.bool_],
    pidx_s: NDArray[np.int64],
    y_cols: NDArray[np.int64],
    Tz: int,
    strong: bool | None,
) -> CapacityBlock:
    """Columns ``x_skt`` and rows (C1)-(C3) of one service (module docstring); ``b`` is the joint builder."""
    w = svc.weights
    m = int(keep_s.size)
    cov = svc.coverage
    rows, cols = csr_rows(cov), cov.indices.astype(np.int64)
    ok = keep_s[cols] & (w[rows] > 0)
    ecov = cap.existing_cover
    er, ee = csr_rows(ecov), ecov.indices.astype(np.int64)
    oke = w[er] > 0
    demand = np.concatenate([rows[ok], er[oke]])
    facility = np.concatenate([cols[ok], m + ee[oke]])
    K = demand.size
    x = b.cols(K * Tz, f"x[{svc.name}]/capacity", integer=not cap.allow_split).reshape(K, Tz)
    if strong is None:
        strong = K * Tz <= STRONG_PAIRS
    caps = np.concatenate([cap.plot_capacity, cap.existing_capacity])[facility]
    is_plot = facility < m
    dem_u, dem_row = np.unique(demand, return_inverse=True)
    fin = np.isfinite(caps)
    fac_u, fac_row = np.unique(facility[fin], return_inverse=True)
    fac_cap = np.concatenate([cap.plot_capacity, cap.existing_capacity])[fac_u]
    fac_plot = fac_u < m
    link = np.flatnonzero(is_plot & (~fin | strong))
    for t in range(Tz):  # loop over phases
        upto = t if Tz > 1 else None
        # (C1) sum_k x_skt <= 1 per demand point
        b.rows(dem_u.size, dem_row, x[:, t], 1.0, -np.inf, 1.0)
        # (C2) sum_k w x_skt - cap_j sum_{t'<=t} y_sjt' <= 0 (plots), <= cap_e (existing)
        plots = np.flatnonzero(fac_plot)
        rr, cc, vv = phase_entries(y_cols, plots, pidx_s[fac_u[plots]], -fac_cap[plots], upto)
        b.rows(
            fac_u.size,
            np.concatenate([fac_row, rr]),
            np.concatenate([x[fin, t], cc]),
            np.concatenate([w[demand[fin]], vv]),
            -np.inf,
            np.where(fac_plot, 0.0, fac_cap),
        )
        # (C3) x_skt - sum_{t'<=t} y_sjt' <= 0
        nl = link.size
        rr, cc, vv = phase_entries(y_cols, np.arange(nl), pidx_s[facility[link]], -1.0, upto)
        b.rows(
            nl,
            np.concatenate([np.arange(nl), rr]),
            np.concatenate([x[link, t], cc]),
            np.concatenate([np.ones(nl), vv]),
            -np.inf,
            0.0,
        )
    return CapacityBlock(s, demand, facility, x)


def floor_block(
    svc: Any, s: int, eq: EquityData, cover: Any | None = None, capacity: CapacityBlock | None = None
) -> FloorBlock:
    """The group coverage of a service at the end of the plan, from its coverage block (``group``:
    merged row of each demand point, ``cols``) or from its capacity block (module docstring)."""
    w = svc.weights
    total = eq.totals(w)
    if capacity is not None:
        return FloorBlock(s, eq.code[capacity.demand], capacity.cols[:, -1], w[capacity.demand], np.zeros(eq.G), total)
    assert cover is not None
    dem = np.flatnonzero(cover.group >= 0)
    ex = svc.existing_covered
    base = np.bincount(eq.code[ex], weights=w[ex], minlength=eq.G).astype(np.float64)
    return FloorBlock(s, eq.code[dem], cover.cols[cover.group[dem], -1], w[dem], base, total)


def add_floor_rows(b: Any, fb: FloorBlock, share: float | None, tau_col: int = -1) -> None:
    """Rows (F) with ``share``, or (M) with the column ``tau_col``; groups with no people have none."""
    live = np.flatnonzero(fb.total > 0)
    row_of = np.full(fb.total.size, -1, dtype=np.int64)
    row_of[live] = np.arange(live.size)
    keep = row_of[fb.group] >= 0
    r, c, v = row_of[fb.group[keep]], fb.col[keep], fb.val[keep]
    if tau_col >= 0:
        # (M) cov_g - W_g tau >= 0
        r = np.concatenate([r, np.arange(live.size)])
        c = np.concatenate([c, np.full(live.size, tau_col, dtype=np.int64)])
        v = np.concatenate([v, -fb.total[live]])
        lo = -fb.base[live]
    else:
        # (F) cov_g >= share W_g (a hair of slack)
        assert share is not None
        lo = share * fb.total[live] - fb.base[live] - FLOOR_SLACK * np.maximum(1.0, fb.total[live])
    b.rows(live.size, r, c, v, lo, np.inf)


def build_options(
    b: Any,
    inst: Any,
    options: JointOptions,
    objective: str,
    keep: NDArray[np.bool_],
    pidx: NDArray[np.int64],
    y_cols: NDArray[np.int64],
    add_cover_block: Callable[[int], Any],
    obj_parts: list[tuple[NDArray[np.int64], NDArray[np.float64]]],
) -> tuple[OptionLayout, float]:
    """Every option block of a ``max_coverage`` / ``phased`` joint model.

    For a capacitated service the objective gets ``weight_s pw_t w_si`` on ``x_skt``; every other
    service's coverage block comes from ``add_cover_block(s)`` (which also puts it in the objective).
    Returns the layout and the objective offset of the services without a capacity (their demand
    an existing facility already covers).
    """
    if objective not in ("max_coverage", "phased"):
        raise DataError(
            f"capacity and equity in the joint model need objective max_coverage or phased, not {objective}"
        )
    lay = OptionLayout()
    Tz = inst.T if objective == "phased" else 1
    pw = inst.phase_weight_vector if objective == "phased" else np.ones(1)
    offset = 0.0
    covers: dict[int, Any] = {}
    for s, svc in enumerate(inst.services):  # loop over services
        cap = options.capacity.get(svc.name)
        if cap is None:
            offset += float(pw.sum()) * svc.weight * float(svc.weights[svc.existing_covered].sum())
            covers[s] = add_cover_block(s)
            continue
        if cap.existing_cover.shape[0] != inst.n:
            raise DataError(
                f"service {svc.name!r}: existing_cover has {cap.existing_cover.shape[0]} rows, not {inst.n}"
            )
        if cap.plot_capacity.size != inst.m:
            raise DataError(f"service {svc.name!r}: plot_capacity has {cap.plot_capacity.size} plots, not {inst.m}")
        blk = add_capacity_block(b, svc, s, cap, keep[s], pidx[s], y_cols, Tz, options.strong)
        lay.capacity[s] = blk
        wk = svc.weights[blk.demand]
        obj_parts.append((blk.cols.ravel(), (svc.weight * wk[:, None] * pw[None, :]).ravel()))
    worst = options.max_min_service if options.worst_stage else None
    if options.worst_stage and worst is None:
        raise DataError("the max-min stage needs a service with equity max_min")
    if worst is not None:
        lay.tau_col = int(b.cols(1, "tau", integer=False)[0])
    for name, eq in options.equity.items():
        if eq.max_min and name != worst:
            raise DataError(
                f"service {name!r}: the max-min share is solved in two stages (optimizer.joint_options); "
                "give the worst share found as a floor"
            )
        s = inst.service_index(name)
        svc = inst.services[s]
        if eq.code.size != inst.n:
            raise DataError(f"service {name!r}: {eq.code.size} group codes for {inst.n} demand points")
        fb = floor_block(svc, s, eq, cover=covers.get(s), capacity=lay.capacity.get(s))
        lay.floors[s] = fb
        if name == worst:
            add_floor_rows(b, fb, None, lay.tau_col)
        elif eq.min_share is not None:
            add_floor_rows(b, fb, float(eq.min_share))
    return lay, offset


__all__ = [
    "FLOOR_SLACK",
    "STRONG_PAIRS",
    "CapacityBlock",
    "CapacityData",
    "EquityData",
    "FloorBlock",
    "JointOptions",
    "OptionLayout",
    "add_capacity_block",
    "add_floor_rows",
    "build_options",
    "floor_block",
    "phase_entries",
]
