"""From a built scenario to the joint multi-service instance.

:func:`build_joint` reads and checks a scenario for the joint model: it runs
:func:`scenarios.build.build` with ``shared=True`` (a service's own budget is
``budget.per_service`` only: the joint model shares ``budget.total`` and ``budget.phases`` between
the services instead of splitting them in advance) and checks the shared budgets itself.

:func:`to_multiservice` lays every service on one shared site axis: all candidate sites of the
sites layer, in the layer's order. For service s (its :class:`scenarios.build.ServiceProblem`,
whose columns are its eligible candidate sites, then its existing facilities):

* ``weights``: people of its demand group at each demand point;
* ``coverage[i, j]``: candidate site j within its reach of demand i (eligible sites only; the others
  have empty columns), ``distances`` the walking (or straight-line) distances of those pairs;
* ``existing_covered[i]`` / ``existing_distance[i]``: demand within reach of one of its existing
  facilities / distance to the nearest one (inf if none stored);
* ``cost[j]``: its cost on site j (NaN where not eligible; 1 per site where the scenario gives no
  costs and the objective is ``min_cost``: the fewest sites), ``eligible[j]``;
* ``area``: ``services.s.area_m2``, the room one facility takes on a plot; ``min_sites``,
  ``max_sites`` (clamped to the eligible sites), ``weight``, ``budget = budget.per_service.s``
  (no advance split).

Plot room is the site's area in m² (``layers.sites.area`` or the polygon's area), unlimited where
unknown. Total budget, phases (the keys of ``budget.phases`` in order) with their budgets and
``carry_over`` come from ``budget``; residents (for ``complete_circle``) are the demand group named
``residents``, else the first group.

For ``objective: min_cost`` (what covering everyone who can be covered would cost) no budget and no
``max_sites`` binds: the run reports how the least cost compares with them instead (as the split
path does). Plot room, eligibility and ``min_sites`` still hold.

:func:`joint_options` gives the joint model the services' capacities and equity rules
(:mod:`models.formulations.joint_capacity`): a candidate's capacity by its land type (the
service's ``capacity`` otherwise, unlimited without one), each existing facility with its own
capacity and reach (``capacity_by_land_type.existing``), the demand's group column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import ScenarioError
from siting.models.formulations.equity import group_codes
from siting.models.formulations.joint_capacity import CapacityData, EquityData, JointOptions
from siting.models.multiservice import MultiServiceInstance, ServiceData
from siting.scenarios.build import BuiltScenario, build
from siting.scenarios.geodata.layers import natural_key, show_ids
from siting.scenarios.geodata.problems import Problems
from siting.scenarios.schema import ScenarioBody


@dataclass(frozen=True, eq=False)
class JointMapping:
    """How the joint instance's arrays map back to the scenario's ids and names.

    Attributes
    ----------
    site_ids : (m,) ids of the shared candidate sites (text).
    land_types : (m,) their land types.
    area_m2 : (m,) their areas (NaN unknown).
    lon, lat : (m,) WGS 84 coordinates of the sites.
    site_order : (m,) tie-break rank of each site (natural order of the ids).
    demand_ids : (n,) ids of the demand points.
    groups : names of the demand groups, in the scenario's order.
    group_people : (n, G) people of every group at every demand point.
    services : service names, in the scenario's (and the instance's) order.
    demand_group, reach_m, cost_known, budget_source : per service name.
    phases : phase names (``("all",)`` without phases).
    residents_group : the group counted by ``complete_circle``.
    """

    site_ids: NDArray[Any]
    land_types: NDArray[Any]
    area_m2: NDArray[np.float64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    site_order: NDArray[np.int64]
    demand_ids: NDArray[Any]
    groups: tuple[str, ...]
    group_people: NDArray[np.float64]
    services: tuple[str, ...]
    demand_group: dict[str, str]
    reach_m: dict[str, float]
    cost_known: dict[str, bool]
    budget_source: dict[str, str]
    phases: tuple[str, ...]
    residents_group: str

    def site_index(self) -> pd.Index:
        return pd.Index(self.site_ids)


def _budget_problems(body: ScenarioBody, source: str) -> list[str]:
    """Budget problems that need no data."""
    out: list[str] = []
    b = body.budget
    if b.total is not None and sum(b.per_service.values()) > b.total:
        out.append(
            f"{source}: budget.per_service adds up to {sum(b.per_service.values()):,.0f}, more than "
            f"budget.total {b.total:,.0f}; lower the per-service budgets or raise the total"
        )
    for phase, value in b.phases.items():
        if not (math.isfinite(value) and value >= 0):
            out.append(
                f"{source}: budget.phases.{phase} = {value!r} must be a number >= 0; give the money of that phase"
            )
    return out


def build_joint(
    scenario: ScenarioBody,
    base_dir: str | Path,
    progress: Any = None,
    *,
    source: str | None = None,
    inputs: Any = None,
) -> BuiltScenario:
    """Read, check and measure a scenario for the joint model (module docstring).

    ``inputs`` is passed to :func:`scenarios.build.build` (shared layers and distances of a batch).

    The returned :class:`BuiltScenario` carries the scenario as written (``built.scenario``); its
    service problems were built without the advance budget split (their ``budget`` is
    ``budget.per_service`` or None).

    Raises
    ------
    DataError, ScenarioError : every problem found, at once.
    """
    source = source or f"scenario {scenario.name!r}"
    pre = _budget_problems(scenario, source)
    if pre:
        problems = Problems()
        problems.extend(pre)
        problems.raise_if_any(source, ScenarioError)
    built = build(scenario, base_dir, progress, source=source, shared=True, inputs=inputs)
    problems = Problems()
    shared = scenario.budget.total is not None or bool(scenario.budget.phases)
    sites = built.layers.sites
    land = sites["land_type"].to_numpy().astype(str)
    site_cost = sites["site_cost"].to_numpy(dtype=np.float64)
    where = "budget.total" if scenario.budget.total is not None else "budget.phases"
    for name, pb in built.services.items():
        svc = scenario.services[name]
        if shared and not pb.cost_known:
            idx = pd.Index(sites.index.astype(str)).get_indexer(pb.site_ids)
            priced = np.array(
                [svc.cost_by_land_type.get(t, svc.default_cost) is not None for t in land[idx]]
            ) | np.isfinite(site_cost[idx])
            unknown = ~priced
            problems.add(
                f"{source}: services.{name}: no cost for land types {', '.join(sorted(set(land[idx][unknown])))} "
                f"(sites {show_ids(pb.site_ids[unknown])}), but a budget applies ({where}, shared by the joint "
                f"model); add them to services.{name}.cost_by_land_type, set default_cost, or give layers.sites.cost"
            )
        if scenario.budget.total is not None and pb.cost_known and pb.n_candidates:
            cheapest = float(pb.instance.cost[: pb.n_candidates].min())
            if cheapest > scenario.budget.total:
                text = (
                    f"services.{name}: even its cheapest eligible site costs {cheapest:,.0f}, more than "
                    f"budget.total {scenario.budget.total:,.0f}"
                )
                if svc.min_sites > 0:
                    problems.add(
                        f"{source}: {text}, but min_sites = {svc.min_sites}; raise the budget or lower min_sites"
                    )
                else:
                    built.warnings.append(f"{text}: no {name} site can be built")
    problems.raise_if_any(source, ScenarioError)
    return built


def _row_min(d: sp.csr_array) -> NDArray[np.float64]:
    """Smallest stored value of each row of a CSR (explicit zeros count), inf for empty rows."""
    d = sp.csr_array(d)
    out = np.full(d.shape[0], np.inf)
    counts = np.diff(d.indptr)
    rows = np.flatnonzero(counts > 0)
    if rows.size:
        out[rows] = np.minimum.reduceat(np.asarray(d.data, dtype=np.float64), d.indptr[rows])
    return out


def _columns(m: sp.csr_array, cols: NDArray[np.int64], new_cols: NDArray[np.int64], width: int) -> sp.csr_array:
    """Columns ``cols`` of ``m`` placed at ``new_cols`` of an (n, width) CSR (explicit zeros kept)."""
    coo = sp.csr_array(m)[:, cols].tocoo()
    out = sp.coo_array((coo.data, (coo.row, new_cols[coo.col])), shape=(m.shape[0], width)).tocsr()
    out.sort_indices()
    return out


def to_multiservice(built: BuiltScenario) -> tuple[MultiServiceInstance, JointMapping]:
    """The joint instance of a built scenario, and the mapping back to ids (module docstring).

    Parameters
    ----------
    built : a scenario built by :func:`build_joint` (or :func:`scenarios.build.build`: its advance
        budget split is ignored either way; only ``budget.per_service`` becomes a service budget).
    """
    body = built.scenario
    sites = built.layers.sites
    site_ids = sites.index.to_numpy().astype(str)
    m = site_ids.size
    index = pd.Index(site_ids)
    area = sites["area_m2"].to_numpy(dtype=np.float64)
    room = np.where(np.isfinite(area) & (area >= 0), area, np.inf)
    services: list[ServiceData] = []
    demand_ids: NDArray[Any] | None = None
    cost_known: dict[str, bool] = {}
    for name, pb in built.services.items():
        svc = body.services[name]
        inst = pb.instance
        k = pb.n_candidates
        glob = index.get_indexer(pb.site_ids).astype(np.int64)
        if (glob < 0).any():
            raise ScenarioError(f"services.{name}: sites {show_ids(pb.site_ids[glob < 0])} are not in the sites layer")
        if demand_ids is None:
            demand_ids = pb.demand_ids.to_numpy()
        cand = np.arange(k, dtype=np.int64)
        ex = np.arange(k, inst.m, dtype=np.int64)
        within = sp.csr_array(inst.reachable_pairs(pb.reach_m))
        stored = within if math.isfinite(pb.cutoff_m) and pb.cutoff_m <= pb.reach_m else sp.csr_array(inst.distances)
        cover = _columns(within, cand, glob, m)
        cover = sp.csr_array((np.ones(cover.nnz, dtype=bool), cover.indices, cover.indptr), shape=cover.shape)
        dist = _columns(stored, cand, glob, m).astype(np.float64)
        ex_within = within[:, ex] if ex.size else sp.csr_array((inst.n, 0))
        existing_covered = np.diff(sp.csr_array(ex_within).indptr) > 0
        existing_distance = _row_min(stored[:, ex]) if ex.size else np.full(inst.n, np.inf)
        eligible = np.zeros(m, dtype=bool)
        eligible[glob] = True
        cost = np.full(m, np.nan)
        cost[glob] = inst.cost[:k]
        if not pb.cost_known and body.objective == "min_cost":
            cost[glob] = 1.0  # no costs: the fewest sites
        cost_known[name] = pb.cost_known
        max_sites = svc.max_sites if svc.max_sites is None else min(int(svc.max_sites), k)
        if body.objective == "min_cost":
            max_sites = None  # what full coverage costs: neither budgets nor count limits bind (reported instead)
        services.append(
            ServiceData(
                name=name,
                weights=np.asarray(inst.weights, dtype=np.float64),
                coverage=cover,
                distances=dist,
                cost=cost,
                eligible=eligible,
                area=float(svc.area_m2),
                existing_covered=existing_covered,
                existing_distance=existing_distance,
                min_sites=int(svc.min_sites),
                max_sites=max_sites,
                weight=float(svc.weight),
                budget=(
                    float(body.budget.per_service[name])
                    if name in body.budget.per_service and body.objective != "min_cost"
                    else None
                ),
                group=svc.demand_group,
            )
        )
    demand = built.layers.demand
    groups = tuple(body.layers.demand.groups)
    residents_group = "residents" if "residents" in groups else groups[0]
    phases = tuple(body.budget.phases) or ("all",)
    phase_budgets = np.array([float(v) for v in body.budget.phases.values()]) if body.budget.phases else None
    total_budget = float(body.budget.total) if body.budget.total is not None else None
    if body.objective == "min_cost":
        total_budget = phase_budgets = None
    inst_all = MultiServiceInstance(
        demand_ids=np.asarray(
            demand_ids if demand_ids is not None else demand.index.to_numpy().astype(str), dtype=object
        ),
        site_ids=site_ids.astype(object),
        room=room,
        services=tuple(services),
        total_budget=total_budget,
        phases=phases,
        phase_budgets=phase_budgets,
        carry_over=bool(body.budget.carry_over),
        residents=demand[residents_group].to_numpy(dtype=np.float64),
        name=body.name,
    )
    ll = sites.geometry.to_crs(4326)
    order = sorted(range(m), key=lambda j: natural_key(site_ids[j]))
    site_order = np.empty(m, dtype=np.int64)
    site_order[order] = np.arange(m)
    mapping = JointMapping(
        site_ids=site_ids.astype(object),
        land_types=sites["land_type"].to_numpy().astype(str),
        area_m2=area,
        lon=ll.x.to_numpy(dtype=np.float64),
        lat=ll.y.to_numpy(dtype=np.float64),
        site_order=site_order,
        demand_ids=np.asarray(inst_all.demand_ids),
        groups=groups,
        group_people=np.stack([demand[g].to_numpy(dtype=np.float64) for g in groups], axis=1),
        services=tuple(built.services),
        demand_group={name: pb.demand_group for name, pb in built.services.items()},
        reach_m={name: pb.reach_m for name, pb in built.services.items()},
        cost_known=cost_known,
        budget_source={
            name: (f"budget.per_service.{name}" if name in body.budget.per_service else "none (shared budgets only)")
            for name in built.services
        },
        phases=phases,
        residents_group=residents_group,
    )
    return inst_all, mapping


def joint_options(built: BuiltScenario, inst: MultiServiceInstance) -> JointOptions | None:
    """The services' capacities and equity rules on the joint instance's axes (None when no service has one).

    For service s (its :class:`scenarios.build.ServiceProblem` ``pb``: eligible candidates, then
    existing facilities): ``plot_capacity[j]`` = the capacity of pb's column for plot j (inf on the
    plots it cannot use: they have no pairs), ``existing_cover`` = pb's existing columns within
    reach, ``existing_capacity`` their capacities; equity groups from the demand column named by
    ``equity.group`` (:func:`models.formulations.equity.group_codes`).
    """
    body = built.scenario
    index = pd.Index(np.asarray(inst.site_ids).astype(str))
    caps: dict[str, CapacityData] = {}
    eqs: dict[str, EquityData] = {}
    for name, pb in built.services.items():
        svc = body.services[name]
        pi = pb.instance
        k = pb.n_candidates
        if svc.capacitated:
            glob = index.get_indexer(np.asarray(pb.site_ids).astype(str))
            plot_cap = np.full(inst.m, np.inf)
            plot_cap[glob] = pi.capacity[:k]
            within = sp.csr_array(pi.reachable_pairs(pb.reach_m))
            ex_cover = sp.csr_array(within[:, np.arange(k, pi.m)]) if pi.m > k else sp.csr_array((pi.n, 0), dtype=bool)
            caps[name] = CapacityData(
                plot_capacity=plot_cap,
                existing_cover=sp.csr_array(ex_cover, dtype=bool),
                existing_capacity=np.asarray(pi.capacity[k:], dtype=np.float64),
                existing_ids=np.asarray(pi.site_ids, dtype=object)[k:],
                allow_split=bool(svc.allow_split),
            )
        if svc.equity is not None:
            labels, code = group_codes(pi)
            eqs[name] = EquityData(
                code=code, labels=labels, min_share=svc.equity.min_share, max_min=bool(svc.equity.max_min)
            )
    if not caps and not eqs:
        return None
    return JointOptions(capacity=caps, equity=eqs)


__all__ = ["JointMapping", "build_joint", "joint_options", "to_multiservice"]
