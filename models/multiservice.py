"""Several services on one shared set of candidate plots: the joint instance and its evaluator.

A :class:`MultiServiceInstance` holds S services (elderly care, childcare, EV charging, toilets, or
any user-defined one) that compete for the same m candidate plots and draw on shared budgets over
T build phases (e.g. 2022, 2023, 2024). Each :class:`ServiceData` carries its own demand group
(weights), reach (the boolean coverage matrix), walking distances, cost per plot, eligibility and
the room one facility takes on a plot.

A *plan* is an ``open_phase`` array of shape (S, m), dtype int8: ``-1`` means service s is not
opened on plot j, ``t >= 0`` means it is opened in phase t (0-based). Without phases T = 1.

:func:`evaluate_joint` recomputes everything a plan achieves and every constraint it breaks, from
the raw arrays and without any solver; every joint result that leaves the engine passes through
it. With ``Y_sj = [open_phase_sj >= 0]``, ``Y_sjt = [0 <= open_phase_sj <= t]`` and ``a^s_ij`` the
coverage of service s:

* covered at the end:  ``cov_si = ex_si or sum_j a^s_ij Y_sj > 0``; by phase t with ``Y_sjt``,
* weighted coverage (max_coverage):  ``sum_s weight_s sum_i w_si cov_si``,
* complete circle:  ``sum_i r_i prod_s cov_si`` (r = residents, or service 0's weights),
* phased value:  ``sum_t pw_t sum_s weight_s sum_i w_si cov_sit``,
* cost:  ``sum_{s,j} c_sj Y_sj`` (by service, by phase),
* total walking distance of covered demand:  ``sum_s weight_s sum_{i: cov_si} w_si dnear_si`` with
  ``dnear_si = min(e_si if ex_si, min_{j open, a^s_ij = 1} d^s_ij)``,
* p-median value:  ``sum_s weight_s sum_{i in R_s} w_si min(e_si, min_{j open, (i,j) stored} d^s_ij)``
  over the demand ``R_s`` (weight > 0) that some eligible plot or an existing facility reaches
  (``inf`` if the plan leaves some of it unreached),

and lists violations: an ineligible plot used, a plot's room exceeded, the total, per-service or
per-phase budget exceeded (cumulatively when unspent money carries over), count limits broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.checks import show_ids
from siting.models.csr import csr_rows
from siting.models.errors import DataError
from siting.models.instance import SitingInstance

#: The joint objectives and their sense.
OBJECTIVE_SENSE: dict[str, str] = {
    "max_coverage": "max",
    "complete_circle": "max",
    "phased": "max",
    "min_cost": "min",
    "pmedian": "min",
}
OBJECTIVES: tuple[str, ...] = tuple(OBJECTIVE_SENSE)

#: Relative (and absolute, below 1) slack when a budget or a room is checked.
CHECK_TOL = 1e-6


def _over(value: float | NDArray[np.float64], limit: float | NDArray[np.float64]) -> Any:
    """``value`` exceeds ``limit`` by more than the check tolerance (``inf`` limits never)."""
    lim = np.asarray(limit, dtype=np.float64)
    slack = CHECK_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(lim), lim, 0.0)))
    return np.asarray(value) > lim + slack


def _row_min(a: sp.csr_array, keep: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Row-wise minimum of the stored entries of ``a`` flagged in ``keep`` (inf for none)."""
    out = np.full(a.shape[0], np.inf)
    if a.nnz:
        # one reduceat over the CSR rows (np.minimum.at is unbuffered and ~50x slower at city scale)
        vals = np.where(keep, np.asarray(a.data, dtype=np.float64), np.inf)
        nonempty = np.flatnonzero(np.diff(a.indptr) > 0)
        out[nonempty] = np.minimum.reduceat(vals, a.indptr[nonempty])
    return out


@dataclass(frozen=True, eq=False)
class ServiceData:
    """One service of a joint instance (see the module docstring for the symbols).

    Attributes
    ----------
    name : service name (unique within the instance).
    weights : (n,) people of this service's demand group at each demand point ``w_si``.
    coverage : (n, m) bool CSR, ``a^s_ij``: plot j is within this service's reach of demand i.
    distances : (n, m) float CSR of walking distances ``d^s_ij`` of (at least) every covered
        pair, explicit zeros kept; or None (then walking-distance figures are not available).
    cost : (m,) cost ``c_sj`` of hosting this service on plot j (nan where not eligible).
    eligible : (m,) the plot's land type and size allow this service.
    area : room one facility of this service takes on a plot (m2 or slots).
    existing_covered : (n,) ``ex_si``: demand already within reach of an existing facility.
    existing_distance : (n,) ``e_si``: distance to the nearest existing facility (inf if none).
    min_sites, max_sites : limits on the number of NEW facilities of this service.
    weight : objective weight of this service's covered people.
    budget : budget of this service, or None.
    group : name of the demand group, for reports.
    """

    name: str
    weights: NDArray[np.float64]
    coverage: sp.csr_array
    distances: sp.csr_array | None
    cost: NDArray[np.float64]
    eligible: NDArray[np.bool_]
    area: float
    existing_covered: NDArray[np.bool_]
    existing_distance: NDArray[np.float64]
    min_sites: int = 0
    max_sites: int | None = None
    weight: float = 1.0
    budget: float | None = None
    group: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        who = f"service {self.name!r}"
        w = np.asarray(self.weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0:
            raise DataError(f"{who}: weights have shape {w.shape}; give one weight per demand point")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise DataError(f"{who}: weights must be finite and >= 0 (min {np.nanmin(w):g}); fix the demand layer")
        n = w.size
        cost = np.asarray(self.cost, dtype=np.float64)
        if cost.ndim != 1 or cost.size == 0:
            raise DataError(f"{who}: cost has shape {cost.shape}; give one cost per candidate plot")
        m = cost.size
        elig = np.asarray(self.eligible, dtype=bool)
        if elig.shape != (m,):
            raise DataError(f"{who}: eligible has shape {elig.shape}, expected ({m},) like cost")
        bad = elig & (~np.isfinite(cost) | (cost < 0))
        if bad.any():
            raise DataError(
                f"{who}: cost must be finite and >= 0 on eligible plots; bad at plot positions "
                f"{np.flatnonzero(bad)[:5].tolist()}: give a cost or mark the plot ineligible"
            )
        cost = np.where(elig, cost, np.nan)
        cov = self.coverage
        if not sp.issparse(cov):
            cov = sp.csr_array(np.asarray(cov, dtype=bool))
        cov = sp.csr_array(cov, dtype=bool)
        cov.sum_duplicates()
        cov.eliminate_zeros()
        cov.sort_indices()
        if cov.shape != (n, m):
            raise DataError(f"{who}: coverage has shape {cov.shape}, expected ({n}, {m}) (demand x plots)")
        dist = self.distances
        if dist is not None:
            if not sp.issparse(dist):
                raise DataError(f"{who}: distances must be a scipy sparse CSR array of the stored pairs, or None")
            dist = sp.csr_array(dist, dtype=np.float64)
            dist.sum_duplicates()
            dist.sort_indices()
            if dist.shape != (n, m):
                raise DataError(f"{who}: distances have shape {dist.shape}, expected ({n}, {m})")
            if not np.all(np.isfinite(dist.data)) or (dist.data < 0).any():
                raise DataError(f"{who}: stored distances must be finite and >= 0; leave unreachable pairs unstored")
        ex = np.zeros(n, dtype=bool) if self.existing_covered is None else np.asarray(self.existing_covered, dtype=bool)
        if ex.shape != (n,):
            raise DataError(f"{who}: existing_covered has shape {ex.shape}, expected ({n},)")
        ed = (
            np.full(n, np.inf)
            if self.existing_distance is None
            else np.asarray(self.existing_distance, dtype=np.float64)
        )
        if ed.shape != (n,):
            raise DataError(f"{who}: existing_distance has shape {ed.shape}, expected ({n},)")
        if np.isnan(ed).any() or (ed < 0).any():
            raise DataError(f"{who}: existing_distance must be >= 0 (inf where no existing facility), not NaN")
        if dist is not None and (ex & ~np.isfinite(ed)).any():
            raise DataError(
                f"{who}: {int((ex & ~np.isfinite(ed)).sum())} demand points are covered by an existing "
                "facility but have no existing_distance; give the distance to the nearest existing facility"
            )
        area = float(self.area)
        if not np.isfinite(area) or area < 0:
            raise DataError(f"{who}: area = {self.area} must be a finite number >= 0 (m2 or slots)")
        if int(self.min_sites) != self.min_sites or self.min_sites < 0:
            raise DataError(f"{who}: min_sites = {self.min_sites} must be a whole number >= 0")
        if self.max_sites is not None:
            if int(self.max_sites) != self.max_sites or self.max_sites < 0:
                raise DataError(f"{who}: max_sites = {self.max_sites} must be a whole number >= 0 or None")
            if self.max_sites < self.min_sites:
                raise DataError(f"{who}: max_sites = {self.max_sites} is below min_sites = {self.min_sites}")
            set_(self, "max_sites", int(self.max_sites))
        if not np.isfinite(self.weight) or self.weight < 0:
            raise DataError(f"{who}: weight = {self.weight} must be finite and >= 0")
        if self.budget is not None and (np.isnan(self.budget) or self.budget < 0):
            raise DataError(f"{who}: budget = {self.budget} must be >= 0 or None")
        set_(self, "min_sites", int(self.min_sites))
        set_(self, "weight", float(self.weight))
        set_(self, "area", area)
        set_(self, "weights", w)
        set_(self, "cost", cost)
        set_(self, "eligible", elig)
        set_(self, "coverage", cov)
        set_(self, "distances", dist)
        set_(self, "existing_covered", ex)
        set_(self, "existing_distance", ed)
        if dist is not None:
            self.cover_distances  # noqa: B018 - checks that every covered pair has a distance

    # ----------------------------------------------------------------- shape
    @property
    def n(self) -> int:
        return int(self.weights.size)

    @property
    def m(self) -> int:
        return int(self.cost.size)

    @cached_property
    def cost0(self) -> NDArray[np.float64]:
        """(m,) cost with 0 on ineligible plots (used where an ineligible plot is a violation anyway)."""
        return np.where(self.eligible, self.cost, 0.0)

    @cached_property
    def coverage_float(self) -> sp.csr_array:
        return sp.csr_array(self.coverage, dtype=np.float64)

    @cached_property
    def coverable(self) -> NDArray[np.bool_]:
        """(n,) demand that an eligible plot or an existing facility of this service covers."""
        hit = (self.coverage_float @ self.eligible.astype(np.float64)) > 0
        return np.asarray(hit | self.existing_covered)

    @cached_property
    def reachable(self) -> NDArray[np.bool_]:
        """(n,) demand that a stored distance to an eligible plot, or an existing facility, reaches."""
        if self.distances is None:
            return self.coverable
        d = self.distances
        hit = np.bincount(csr_rows(d)[self.eligible[d.indices]], minlength=self.n) > 0
        return np.asarray(hit | np.isfinite(self.existing_distance))

    @cached_property
    def cover_distances(self) -> sp.csr_array:
        """(n, m) CSR with exactly the coverage pattern holding the distance of each covered pair."""
        if self.distances is None:
            raise DataError(f"service {self.name!r} has no walking distances; give distances to compute them")
        cov, d = self.coverage, self.distances
        m = self.m
        want = csr_rows(cov) * m + cov.indices
        stored = csr_rows(d) * m + d.indices
        pos = np.searchsorted(stored, want)
        ok = pos < stored.size
        ok[ok] = stored[pos[ok]] == want[ok]
        if not ok.all():
            raise DataError(
                f"service {self.name!r}: {int((~ok).sum())} covered (demand, plot) pairs have no stored "
                "distance; store the walking distance of every pair within reach"
            )
        return sp.csr_array((np.asarray(d.data)[pos], cov.indices.copy(), cov.indptr.copy()), shape=cov.shape)


@dataclass(frozen=True, eq=False)
class MultiServiceInstance:
    """Services sharing candidate plots, room and budgets over build phases.

    Attributes
    ----------
    demand_ids : (n,) demand point ids.
    site_ids : (m,) ids of the shared candidate plots.
    room : (m,) room of each plot (inf = unlimited), in the unit of the services' ``area``.
    services : the services, at least one, unique names.
    total_budget : budget over all services and phases, or None.
    phases : names of the build phases in order, e.g. ``("2022", "2023", "2024")``.
    phase_budgets : (T,) money available in each phase (inf = no limit), or None.
    carry_over : unspent money of a phase carries to the next (cumulative budgets).
    phase_weights : (T,) value of coverage in force during phase t (phased objective). Default
        ``T, T-1, ..., 1`` normalised to sum 1 (so with T = 1 the phased value is the weighted
        coverage).
    residents : (n,) residents counted by the complete-circle objective; None = service 0's weights.
    name : a label.
    """

    demand_ids: NDArray[Any]
    site_ids: NDArray[Any]
    room: NDArray[np.float64]
    services: tuple[ServiceData, ...]
    total_budget: float | None = None
    phases: tuple[str, ...] = ("all",)
    phase_budgets: NDArray[np.float64] | None = None
    carry_over: bool = True
    phase_weights: NDArray[np.float64] | None = None
    residents: NDArray[np.float64] | None = None
    name: str = "joint"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        services = tuple(self.services)
        if not services:
            raise DataError(f"joint instance {self.name!r} has no services: give at least one")
        names = [s.name for s in services]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise DataError(f"service names must be unique; duplicated: {', '.join(map(str, dup))}")
        did = np.asarray(self.demand_ids)
        sid = np.asarray(self.site_ids)
        if did.ndim != 1 or sid.ndim != 1 or did.size == 0 or sid.size == 0:
            raise DataError(
                f"joint instance {self.name!r} needs 1-D demand ids and site ids, got shapes {did.shape}, {sid.shape}"
            )
        for what, ids in (("demand", did), ("site", sid)):
            uniq, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                raise DataError(
                    f"duplicate {what} ids: {', '.join(map(str, uniq[counts > 1][:5]))}; every {what} needs a unique id"
                )
        n, m = did.size, sid.size
        for s in services:
            if s.n != n or s.m != m:
                raise DataError(
                    f"service {s.name!r} has {s.n} demand points and {s.m} plots, but the instance has {n} "
                    f"demand ids and {m} site ids; build every service on the same demand and plot axes"
                )
        room = np.asarray(self.room, dtype=np.float64)
        if room.shape != (m,):
            raise DataError(f"room has shape {room.shape}, expected ({m},): one room value per plot (inf = unlimited)")
        if np.isnan(room).any() or (room < 0).any():
            raise DataError(
                f"room must be >= 0 (inf = unlimited); bad at plots {show_ids(np.asarray(sid)[np.isnan(room) | (room < 0)])}"
            )
        if self.total_budget is not None and (np.isnan(self.total_budget) or self.total_budget < 0):
            raise DataError(f"total_budget = {self.total_budget} must be >= 0 or None")
        phases = tuple(str(p) for p in self.phases)
        if not phases or len(set(phases)) != len(phases):
            raise DataError(f"phases {phases} must be a non-empty tuple of distinct names")
        T = len(phases)
        pb = None
        if self.phase_budgets is not None:
            pb = np.asarray(self.phase_budgets, dtype=np.float64)
            if pb.shape != (T,):
                raise DataError(f"phase_budgets has shape {pb.shape}, expected ({T},): one budget per phase {phases}")
            if np.isnan(pb).any() or (pb < 0).any():
                raise DataError(f"phase_budgets {pb.tolist()} must be >= 0 (inf = no limit)")
        if self.phase_weights is None:
            pw = np.arange(T, 0, -1, dtype=np.float64)
            pw /= pw.sum()
        else:
            pw = np.asarray(self.phase_weights, dtype=np.float64)
            if pw.shape != (T,):
                raise DataError(f"phase_weights has shape {pw.shape}, expected ({T},)")
            if not np.all(np.isfinite(pw)) or (pw < 0).any():
                raise DataError(f"phase_weights {pw.tolist()} must be finite and >= 0")
        res = None
        if self.residents is not None:
            res = np.asarray(self.residents, dtype=np.float64)
            if res.shape != (n,):
                raise DataError(f"residents has shape {res.shape}, expected ({n},)")
            if not np.all(np.isfinite(res)) or (res < 0).any():
                raise DataError("residents must be finite and >= 0")
        set_(self, "demand_ids", did)
        set_(self, "site_ids", sid)
        set_(self, "room", room)
        set_(self, "services", services)
        set_(self, "phases", phases)
        set_(self, "phase_budgets", pb)
        set_(self, "phase_weights", pw)
        set_(self, "residents", res)
        set_(self, "carry_over", bool(self.carry_over))

    @property
    def n(self) -> int:
        return int(self.demand_ids.size)

    @property
    def m(self) -> int:
        return int(self.site_ids.size)

    @property
    def S(self) -> int:
        return len(self.services)

    @property
    def T(self) -> int:
        return len(self.phases)

    def service_index(self, name: str) -> int:
        """Position of the service called ``name``."""
        for k, s in enumerate(self.services):
            if s.name == name:
                return k
        raise DataError(f"no service called {name!r}; the services are {', '.join(s.name for s in self.services)}")

    @property
    def phase_weight_vector(self) -> NDArray[np.float64]:
        """(T,) phase weights (the default is filled in at construction)."""
        assert self.phase_weights is not None
        return self.phase_weights

    @property
    def resident_weights(self) -> NDArray[np.float64]:
        """(n,) residents for the complete-circle objective (service 0's weights if not given)."""
        return self.services[0].weights if self.residents is None else self.residents

    @cached_property
    def cost_matrix(self) -> NDArray[np.float64]:
        """(S, m) cost, 0 on ineligible plots."""
        return np.stack([s.cost0 for s in self.services])

    @cached_property
    def eligible_matrix(self) -> NDArray[np.bool_]:
        """(S, m) eligibility."""
        return np.stack([s.eligible for s in self.services])

    @cached_property
    def areas(self) -> NDArray[np.float64]:
        """(S,) room one facility of each service takes."""
        return np.array([s.area for s in self.services], dtype=np.float64)

    @property
    def has_distances(self) -> bool:
        """Every service has walking distances."""
        return all(s.distances is not None for s in self.services)

    def split(self, budgets: Mapping[str, float | None]) -> MultiServiceInstance:
        """Every service on its own, each with a budget fixed in advance (``siting run --split``).

        Service s keeps its demand, reach, costs, eligibility and count limits and gets
        ``B_s = budgets[s]`` (None: no budget; a service not named keeps its own) as its only budget.
        Nothing is shared: no total budget, one phase without a phase budget, unlimited room on
        every plot. No constraint of the joint model then links two services, so the joint MILP
        separates into S independent models and its optimum is the sum of the per-service optima
        (for every objective that adds up over services: max_coverage, pmedian, min_cost).
        """
        import dataclasses

        services = tuple(
            dataclasses.replace(s, budget=budgets[s.name]) if s.name in budgets else s for s in self.services
        )
        return dataclasses.replace(
            self,
            services=services,
            room=np.full(self.m, np.inf),
            total_budget=None,
            phases=("all",),
            phase_budgets=None,
            phase_weights=None,
        )

    def service(self, name: str) -> SitingInstance:
        """Service ``name`` alone as a single-service :class:`SitingInstance`.

        Columns: the m plots in order (ineligible plots ``forbidden``, cost ``c_sj``, 0 where
        ineligible), with the service's stored distances ``d^s_ij`` (its coverage pattern at
        distance 0 when it has none); then, when some demand point has an existing facility of the
        service (``e_si`` finite, or ``ex_si``), one more column, open and free, at distance
        ``e_si`` from demand i (0 where ``ex_si`` without a distance). Only the nearest existing
        facility counts for coverage and for the p-median, so this one column stands for all of
        them: ``a_i,existing = [e_si <= r]`` equals ``ex_si`` at the service's reach r.
        """
        svc = self.services[self.service_index(name)]
        cov = svc.coverage
        d = (
            sp.csr_array(svc.distances, dtype=np.float64)
            if svc.distances is not None
            else sp.csr_array((np.zeros(cov.nnz), cov.indices, cov.indptr), shape=cov.shape)
        )
        ed = np.where(svc.existing_covered & ~np.isfinite(svc.existing_distance), 0.0, svc.existing_distance)
        has_existing = bool(np.isfinite(ed).any())
        site_ids = np.asarray(self.site_ids, dtype=object)
        if has_existing:
            rows = np.flatnonzero(np.isfinite(ed))
            col = sp.csr_array((ed[rows], (rows, np.zeros(rows.size, dtype=np.int64))), shape=(self.n, 1))
            d = sp.csr_array(sp.hstack([d, col], format="csr"))
            label = "(existing)"
            while label in set(site_ids.tolist()):
                label = f"({label})"
            site_ids = np.append(site_ids, np.array([label], dtype=object))
        extra = 1 if has_existing else 0
        return SitingInstance(
            distances=d,
            weights=svc.weights,
            demand_ids=self.demand_ids,
            site_ids=site_ids,
            cost=np.append(svc.cost0, np.zeros(extra)),
            existing=np.append(np.zeros(self.m, dtype=bool), np.ones(extra, dtype=bool)),
            forbidden=np.append(~svc.eligible, np.zeros(extra, dtype=bool)),
            name=f"{self.name}/{svc.name}",
        )


@dataclass(frozen=True, eq=False)
class JointMetrics:
    """What a joint plan achieves, recomputed from the instance (see the module docstring)."""

    open_phase: NDArray[np.int8]
    covered: NDArray[np.bool_]
    covered_by_phase: NDArray[np.bool_]
    covered_people: NDArray[np.float64]
    weighted_coverage: float
    complete_people: float
    phased_value: float
    cost_by_service: NDArray[np.float64]
    cost_by_phase: NDArray[np.float64]
    total_cost: float
    room_used: NDArray[np.float64]
    total_distance: float
    violations: list[str]
    #: p-median value (see the module docstring); inf if the plan leaves reachable demand unreached,
    #: nan if a service has no distances.
    pmedian_value: float = float("nan")
    #: (S, n) demand that no eligible plot and no existing facility of service s covers.
    uncoverable: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    #: (S, n) demand that no stored distance to an eligible plot and no existing facility reaches
    #: (left out of the p-median value).
    unreachable: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    #: (S, n) distance from each demand point to its nearest open or existing facility of service
    #: s among the covering pairs (inf if not covered; nan rows for services without distances).
    nearest_distance: NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    #: (S,) number of new facilities of each service.
    n_open: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    #: (S, n) demand points with weight > 0 for each service.
    positive: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def covers_all_coverable(self) -> bool:
        """Every demand point with weight > 0 that could be covered is covered (min_cost's requirement)."""
        return bool(np.all(self.covered | self.uncoverable | ~self.positive))

    def objective(self, name: str) -> float:
        """The value of joint objective ``name`` for this plan."""
        return objective_value(self, name)


def objective_value(metrics: JointMetrics, objective: str) -> float:
    """The evaluated value of a joint objective (see :data:`OBJECTIVES`)."""
    if objective == "max_coverage":
        return float(metrics.weighted_coverage)
    if objective == "complete_circle":
        return float(metrics.complete_people)
    if objective == "phased":
        return float(metrics.phased_value)
    if objective == "min_cost":
        return float(metrics.total_cost)
    if objective == "pmedian":
        return float(metrics.pmedian_value)
    raise DataError(f"unknown joint objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def check_plan(inst: MultiServiceInstance, open_phase: Any) -> NDArray[np.int8]:
    """Validate a plan array and return it as int8 (S, m)."""
    op = np.asarray(open_phase)
    if op.shape != (inst.S, inst.m):
        raise DataError(f"plan has shape {op.shape}, expected ({inst.S}, {inst.m}) (services x plots)")
    if op.size and (op.dtype.kind not in "iub" and not np.all(op == np.round(op))):
        raise DataError("plan entries must be whole numbers: -1 (not opened) or a phase 0..T-1")
    opi = op.astype(np.int64)
    if op.size and (opi.min() < -1 or opi.max() > inst.T - 1):
        raise DataError(f"plan entries must be -1 or a phase 0..{inst.T - 1}; got {opi.min()}..{opi.max()}")
    return opi.astype(np.int8)


def open_pairs(open_phase: NDArray[np.int8]) -> frozenset[tuple[int, int]]:
    """The set of opened (service index, plot index) pairs of a plan."""
    s, j = np.nonzero(np.asarray(open_phase) >= 0)
    return frozenset(zip(s.tolist(), j.tolist()))


def plan_violations(inst: MultiServiceInstance, open_phase: NDArray[np.int8]) -> list[str]:
    """The constraints a joint plan breaks (eligibility, room, budgets, phase budgets, site counts).

    The same list :func:`evaluate_joint` reports, without the coverage and distance figures: a few
    O(S m) sums, cheap enough to test many candidate swaps of a plan at city scale.
    """
    op = check_plan(inst, open_phase)
    opened = op >= 0
    C = inst.cost_matrix
    cost_by_service = np.where(opened, C, 0.0).sum(axis=1)
    cost_by_phase = np.bincount(op[opened].astype(np.int64), weights=C[opened], minlength=inst.T).astype(np.float64)
    room_used = inst.areas @ opened.astype(np.float64)
    n_open = opened.sum(axis=1).astype(np.int64)
    return _violations(
        inst, op, opened, cost_by_service, cost_by_phase, float(cost_by_service.sum()), room_used, n_open
    )


def _violations(
    inst: MultiServiceInstance,
    op: NDArray[np.int8],
    opened: NDArray[np.bool_],
    cost_by_service: NDArray[np.float64],
    cost_by_phase: NDArray[np.float64],
    total_cost: float,
    room_used: NDArray[np.float64],
    n_open: NDArray[np.int64],
) -> list[str]:
    """Each broken constraint as one line, from the plan's sums (shared by both checks above and below)."""
    violations: list[str] = []
    inel = opened & ~inst.eligible_matrix
    for si in np.flatnonzero(inel.any(axis=1)).tolist():
        violations.append(
            f"service {inst.services[si].name!r} placed on ineligible plots {show_ids(inst.site_ids[inel[si]])}"
        )
    over = _over(room_used, inst.room)
    if over.any():
        violations.append(f"room exceeded on plots {show_ids(inst.site_ids[over])}")
    if inst.total_budget is not None and _over(total_cost, inst.total_budget):
        violations.append(f"total cost {total_cost:g} exceeds the total budget {inst.total_budget:g}")
    for s, svc in enumerate(inst.services):
        if svc.budget is not None and _over(cost_by_service[s], svc.budget):
            violations.append(f"service {svc.name!r} costs {cost_by_service[s]:g}, over its budget {svc.budget:g}")
        if n_open[s] < svc.min_sites:
            violations.append(f"service {svc.name!r} has {n_open[s]} new sites, fewer than min_sites = {svc.min_sites}")
        if svc.max_sites is not None and n_open[s] > svc.max_sites:
            violations.append(f"service {svc.name!r} has {n_open[s]} new sites, more than max_sites = {svc.max_sites}")
    if inst.phase_budgets is not None:
        if inst.carry_over:
            spent, limit, how = np.cumsum(cost_by_phase), np.cumsum(inst.phase_budgets), "cumulative spending"
        else:
            spent, limit, how = cost_by_phase, inst.phase_budgets, "spending"
        bad = _over(spent, limit)
        for t in np.flatnonzero(bad):
            violations.append(
                f"{how} {spent[t]:g} up to phase {inst.phases[t]!r} exceeds its budget {limit[t]:g}"
                if inst.carry_over
                else f"{how} {spent[t]:g} in phase {inst.phases[t]!r} exceeds its budget {limit[t]:g}"
            )
    return violations


def evaluate_joint(inst: MultiServiceInstance, open_phase: NDArray[np.int8]) -> JointMetrics:
    """Recompute what a joint plan achieves and list every violated constraint.

    Parameters
    ----------
    inst : the joint instance.
    open_phase : (S, m) int, -1 = not opened, t = opened in phase t.

    Returns
    -------
    JointMetrics, with the formulas of the module docstring. Sparse matrix-vector products over the
    coverage matrices; loops run over services only.
    """
    op = check_plan(inst, open_phase)
    S, n, T = inst.S, inst.n, inst.T
    opened = op >= 0
    phase_idx = np.arange(T)
    covered_by_phase = np.zeros((T, S, n), dtype=bool)
    covered_people = np.zeros(S)
    phased_people = np.zeros((T, S))
    total_distance = 0.0
    pmedian = 0.0
    nearest = np.full((S, n), np.inf)
    uncoverable = np.zeros((S, n), dtype=bool)
    unreachable = np.zeros((S, n), dtype=bool)
    positive = np.zeros((S, n), dtype=bool)
    for s, svc in enumerate(inst.services):
        by_t = opened[s][:, None] & (op[s][:, None] <= phase_idx[None, :])  # (m, T)
        hits = svc.coverage_float @ by_t.astype(np.float64)  # (n, T)
        cov_t = (np.asarray(hits) > 0).T | svc.existing_covered[None, :]
        covered_by_phase[:, s, :] = cov_t
        w = svc.weights
        phased_people[:, s] = cov_t.astype(np.float64) @ w
        covered_people[s] = phased_people[T - 1, s]
        uncoverable[s] = ~svc.coverable
        unreachable[s] = ~svc.reachable
        positive[s] = w > 0
        cov_end = cov_t[T - 1]
        if svc.distances is None:
            nearest[s] = np.nan
            total_distance = float("nan")
            pmedian = float("nan")
            continue
        cd = svc.cover_distances
        dn = np.minimum(
            _row_min(cd, opened[s][cd.indices]),
            np.where(svc.existing_covered, svc.existing_distance, np.inf),
        )
        nearest[s] = dn
        sel = cov_end & (w > 0)
        total_distance += svc.weight * float(np.dot(w[sel], dn[sel]))
        d = svc.distances
        dp = np.minimum(_row_min(d, opened[s][d.indices]), svc.existing_distance)
        need = svc.reachable & (w > 0)
        if not np.all(np.isfinite(dp[need])):
            pmedian = float("inf")
        elif np.isfinite(pmedian):
            pmedian += svc.weight * float(np.dot(w[need], dp[need]))

    sw = np.array([s.weight for s in inst.services])
    weighted = float(sw @ covered_people)
    resid = inst.resident_weights
    complete = float(resid @ covered_by_phase[T - 1].all(axis=0))
    phased = float(inst.phase_weight_vector @ (phased_people @ sw))

    C = inst.cost_matrix
    cost_by_service = np.where(opened, C, 0.0).sum(axis=1)
    cost_by_phase = np.bincount(op[opened].astype(np.int64), weights=C[opened], minlength=T).astype(np.float64)
    total_cost = float(cost_by_service.sum())
    room_used = inst.areas @ opened.astype(np.float64)
    n_open = opened.sum(axis=1).astype(np.int64)

    violations = _violations(inst, op, opened, cost_by_service, cost_by_phase, total_cost, room_used, n_open)

    return JointMetrics(
        open_phase=op,
        covered=covered_by_phase[T - 1].copy(),
        covered_by_phase=covered_by_phase,
        covered_people=covered_people,
        weighted_coverage=weighted,
        complete_people=complete,
        phased_value=phased,
        cost_by_service=cost_by_service,
        cost_by_phase=cost_by_phase,
        total_cost=total_cost,
        room_used=room_used,
        total_distance=float(total_distance),
        violations=violations,
        pmedian_value=float(pmedian),
        uncoverable=uncoverable,
        unreachable=unreachable,
        nearest_distance=nearest,
        n_open=n_open,
        positive=positive,
    )
