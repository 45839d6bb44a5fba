"""From a validated scenario to one siting instance per service.

:func:`build` reads the layers (:mod:`scenarios.geodata.layers`), measures distances once (straight line
in the scenario's metric CRS, or walking distance over the street network,
:mod:`scenarios.geodata.network`) and cuts, for every service, a :class:`ServiceProblem`:

* demand: every demand point, weighted by the service's demand group (``w_i`` = people of that group);
* sites: the candidate sites whose land type the service accepts (``eligible_land_types``, else the
  land types in ``cost_by_land_type``, else every land type when ``default_cost`` is set) and whose
  area is at least ``min_area_m2``, followed by the existing facilities of that service (fixed open,
  cost 0);
* cost of site j: its ``layers.sites.cost`` value where given, else ``cost_by_land_type[land type]``,
  else ``default_cost``;
* distances: the pairs with ``d_ij <= reach`` only (sparse; explicit zeros are real zero distances),
  the reach being ``reach_m`` or ``reach_minutes x walking speed``. Distances are computed once for
  the largest reach and filtered per service (p-median keeps every pair: its objective needs the
  distance to the nearest facility even beyond the reach).

Budgets (``budget.per_service`` or a share of ``budget.total``) are resolved here too, so that every
data-level problem (no eligible site, a budget below the cheapest site, a reach that covers no
demand, a demand group of zeros, ...) is found by ``siting validate`` without solving, collected,
and raised as one :class:`ScenarioError`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import DataError, ScenarioError
from siting.models.instance import SitingInstance
from siting.scenarios.geodata.layers import (
    EQUITY_PREFIX,
    LoadedLayers,
    load_layers,
    natural_key,
    resolve_path,
    show_ids,
    xy,
)
from siting.scenarios.geodata.problems import Problems
from siting.scenarios.pipeline.progress import NullProgress, status_callback
from siting.scenarios.pipeline.service_options import site_capacities
from siting.scenarios.schema import ScenarioBody, Service

#: Objectives that need the joint multi-service model (:mod:`scenarios.joint_build`).
JOINT_OBJECTIVES = ("complete_circle", "phased")
#: Prefix of existing facilities' ids in an instance (they share the site axis with candidate sites).
EXISTING_PREFIX = "existing:"


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class ServiceProblem:
    """One service's siting problem, ready to solve.

    Attributes
    ----------
    name : the service's key in ``services``.
    service : its scenario entry.
    demand_group : which demand group it serves; ``instance.weights`` are that group's people.
    reach_m : reach in metres.
    instance : the siting instance: demand x (eligible candidate sites, then existing facilities).
    demand_ids : ids of the demand points (rows of the instance).
    site_ids : ids of the eligible candidate sites (the first ``n_candidates`` columns).
    existing_ids : ids of this service's existing facilities (the last ``n_existing`` columns).
    land_types : land type of every column (``existing`` for existing facilities).
    area_m2 : area of every column (NaN unknown).
    cost_known : whether every eligible site has a cost (else costs are 0 and not reported).
    budget : the money this service may spend, or None.
    budget_source : where ``budget`` came from, in words.
    max_sites : at most this many new sites (None = no count limit), clamped to the eligible sites.
    group_total : people of the group in the demand layer.
    cutoff_m : the largest distance stored in the instance (the reach, or inf for p-median).
    notes : what was decided for this service (clamped limits, ignored fields).
    """

    name: str
    service: Service
    demand_group: str
    reach_m: float
    instance: SitingInstance
    demand_ids: pd.Index
    site_ids: NDArray[Any]
    existing_ids: NDArray[Any]
    land_types: NDArray[Any]
    area_m2: NDArray[np.float64]
    cost_known: bool
    budget: float | None
    budget_source: str
    max_sites: int | None
    group_total: float
    cutoff_m: float
    notes: list[str] = field(default_factory=list)

    @property
    def n_candidates(self) -> int:
        return len(self.site_ids)

    @property
    def n_existing(self) -> int:
        return len(self.existing_ids)


@dataclass(eq=False)
class BuiltScenario:
    """A scenario turned into arrays: layers, distances and one problem per service.

    Attributes
    ----------
    scenario : the resolved scenario.
    base_dir : folder of the scenario file.
    source : the scenario file's name (for messages).
    layers : the projected layers.
    services : one :class:`ServiceProblem` per service, in the scenario's order.
    distance_method : ``euclidean`` or ``network``.
    unsnapped_demand, unsnapped_sites : ids farther than ``distance.max_snap_m`` from every street.
    warnings : everything worth a planner's attention that is not an error.
    seconds : time spent per step.
    network : summary of the street network (nodes, edges, km), or None.
    """

    scenario: ScenarioBody
    base_dir: Path
    source: str
    layers: LoadedLayers
    services: dict[str, ServiceProblem]
    distance_method: str
    unsnapped_demand: list[str]
    unsnapped_sites: list[str]
    warnings: list[str]
    seconds: dict[str, float]
    network: dict[str, Any] | None = None

    @property
    def input_files(self) -> list[Path]:
        return list(self.layers.files)


# ----------------------------------------------------------------------------- distances
def euclidean_pairs(demand_xy: NDArray[np.float64], site_xy: NDArray[np.float64], cutoff: float) -> sp.csr_array:
    """Straight-line distances ``d_ij = |p_i - q_j|`` for all pairs with ``d_ij <= cutoff``, as CSR (n, m).

    Uses two KD-trees (``scipy.spatial.cKDTree.sparse_distance_matrix``); pairs at distance 0 are
    stored as explicit zeros (a demand point on a site is covered).
    """
    from scipy.spatial import cKDTree

    n, m = len(demand_xy), len(site_xy)
    if n == 0 or m == 0:
        return sp.csr_array((n, m), dtype=np.float32)
    limit = cutoff if math.isfinite(cutoff) else np.inf
    rec = cKDTree(demand_xy).sparse_distance_matrix(cKDTree(site_xy), max_distance=limit, output_type="ndarray")
    vals = rec["v"].astype(np.float32)
    # float32 rounding must not push a pair past the cutoff it was kept for
    over = vals.astype(np.float64) > cutoff
    vals[over] = np.nextafter(vals[over], np.float32(-np.inf))
    out = sp.coo_array((vals, (rec["i"], rec["j"])), shape=(n, m)).tocsr()
    out.sort_indices()
    return out


def select_pairs(d: sp.csr_array, cols: NDArray[np.int64], cutoff: float) -> sp.csr_array:
    """Columns ``cols`` of ``d`` (in that order), keeping stored pairs with ``d_ij <= cutoff`` and explicit zeros."""
    coo = d.tocoo()
    new_col = np.full(d.shape[1], -1, dtype=np.int64)
    new_col[cols] = np.arange(len(cols))
    c = new_col[coo.col]
    keep = (c >= 0) & (coo.data <= cutoff)
    out = sp.coo_array((coo.data[keep], (coo.row[keep], c[keep])), shape=(d.shape[0], len(cols))).tocsr()
    out.sort_indices()
    return out


# -------------------------------------------------------------------------------- budgets
def resolve_budgets(body: ScenarioBody, group_totals: dict[str, float]) -> dict[str, tuple[float | None, str]]:
    """The budget of each service and where it came from.

    ``budget.per_service[s]`` when given. Otherwise, when ``budget.total`` is given, what is left of
    the total after the per-service budgets is split in advance across the remaining services in
    proportion to ``weight_s x people_s`` (the service's weight times the total of its demand
    group; equal shares if every product is 0):

    .. math:: B_s = (B - \\sum_{t \\in P} B_t) \\frac{w_s N_s}{\\sum_{r \\notin P} w_r N_r}

    This fixed split is a heuristic: the joint multi-service model optimises it.
    Otherwise None.
    """
    budget = body.budget
    out: dict[str, tuple[float | None, str]] = {}
    rest = [s for s in body.services if s not in budget.per_service]
    for s, value in budget.per_service.items():
        out[s] = (float(value), f"budget.per_service.{s}")
    if budget.total is not None and rest:
        left = float(budget.total) - float(sum(budget.per_service.values()))
        score = np.array([body.services[s].weight * group_totals.get(body.services[s].demand_group, 0.0) for s in rest])
        share = score / score.sum() if score.sum() > 0 else np.full(len(rest), 1.0 / len(rest))
        for s, frac in zip(rest, share):
            out[s] = (
                max(left, 0.0) * float(frac),
                f"{100 * frac:.1f} % of budget.total {budget.total:,.0f}"
                + (" after the per-service budgets" if budget.per_service else "")
                + " (split in proportion to weight x people served)",
            )
    for s in body.services:
        out.setdefault(s, (None, "none"))
    return out


# ----------------------------------------------------------------------------------- build
def _eligible_types(svc: Service, present: set[str]) -> set[str]:
    if svc.eligible_land_types is not None:
        return set(svc.eligible_land_types)
    types = set(svc.cost_by_land_type)
    if svc.default_cost is not None:
        types |= present
    return types


def _counts(values: NDArray[Any]) -> str:
    kinds, counts = np.unique(values.astype(str), return_counts=True)
    order = sorted(range(len(kinds)), key=lambda k: (-counts[k], kinds[k]))
    return ", ".join(f"{kinds[k]} ({counts[k]})" for k in order) or "(none)"


def _network(built_layers: LoadedLayers, body: ScenarioBody, cutoff: float, source: str) -> Any:
    """The street network (lines layer or .pbf extract)."""
    from siting.scenarios.geodata.network import StreetNetwork

    if built_layers.streets_pbf is not None:
        w, s, e, n = built_layers.lonlat_bbox
        pad_m = (cutoff if math.isfinite(cutoff) else 2000.0) + body.distance.max_snap_m
        lat = math.radians((s + n) / 2.0)
        dlat = pad_m / 111_320.0
        dlon = pad_m / (111_320.0 * max(math.cos(lat), 0.01))
        return StreetNetwork.from_osm_pbf(
            built_layers.streets_pbf, bbox=(w - dlon, s - dlat, e + dlon, n + dlat), crs=built_layers.crs
        )
    streets = built_layers.streets
    length_col = None
    if body.layers.streets is not None and body.layers.streets.length is not None:
        assert streets is not None  # a streets layer is named, so load_layers read it
        streets = streets.copy()
        streets["length_m"] = streets["length_m"].fillna(streets.geometry.length)
        length_col = "length_m"
    return StreetNetwork.from_lines(streets, length_column=length_col, name=f"{source}: layers.streets")


def build(
    scenario: ScenarioBody,
    base_dir: str | Path,
    progress: Any = None,
    *,
    source: str | None = None,
    shared: bool = False,
    inputs: Any = None,
) -> BuiltScenario:
    """Read, check and measure a scenario: one :class:`ServiceProblem` per service.

    Parameters
    ----------
    scenario : the resolved scenario (``scenarios.schema.load_scenario``).
    base_dir : folder that relative layer paths are taken from.
    progress : a progress reporter (:class:`NullProgress` interface); default silent.
    source : the scenario file's name, for messages.
    shared : for the joint model (:func:`scenarios.joint_build.build_joint`): nothing is split in
        advance (a service's budget is ``budget.per_service`` or None), ``budget.total`` and
        ``budget.phases`` count as limits, and the joint objectives are accepted.
    inputs : where the heavy inputs come from when many variants share them (``siting batch``):
        an object with ``layers(body, base_dir, source, progress) -> LoadedLayers`` and
        ``network(body, cutoff, measure) -> (net, distances)`` that returns ``measure()``'s result,
        computed once per distinct geometry and reach. None: read and measure here.

    Raises
    ------
    DataError : problems in the layers (all of them at once).
    ScenarioError : problems of the scenario against its data (all of them at once).
    """
    progress = progress or NullProgress()
    base_dir = Path(base_dir)
    source = source or f"scenario {scenario.name!r}"
    body = scenario
    seconds: dict[str, float] = {}
    warnings: list[str] = []
    problems = Problems()

    if body.objective in JOINT_OBJECTIVES and not shared:
        raise ScenarioError(
            f"{source}: objective: {body.objective} needs the joint multi-service model (siting run without --split); "
            "use max_coverage, pmedian or min_cost"
        )
    if body.distance.method == "network" and body.layers.streets is None:
        raise ScenarioError(
            f"{source}: distance.method is network but layers.streets is missing; add a streets layer "
            "(lines or an .osm.pbf extract) or set distance: {method: euclidean}"
        )

    t0 = time.perf_counter()
    if inputs is None:
        layers = load_layers(body, base_dir, source, progress)
    else:
        layers = inputs.layers(body, base_dir, source, progress)
    seconds["layers"] = time.perf_counter() - t0
    warnings.extend(layers.warnings)
    demand, sites, existing = layers.demand, layers.sites, layers.existing

    # ---- checks that need no distances
    group_totals = {g: float(demand[g].sum()) for g in body.layers.demand.groups}
    for name, svc in body.services.items():
        if group_totals[svc.demand_group] <= 0:
            col = body.layers.demand.groups[svc.demand_group]
            problems.add(
                f"{source}: services.{name}.demand_group: group {svc.demand_group!r} (column {col!r}) is 0 for every "
                "demand point, so the service has nobody to serve; check the column or choose another group"
            )
    budgets = resolve_budgets(body, group_totals)
    if shared:  # the joint model shares budget.total and budget.phases: only budget.per_service is a service's own
        own = body.budget.per_service
        budgets = {
            s: ((float(own[s]), f"budget.per_service.{s}") if s in own else (None, "none")) for s in body.services
        }
    shared_limit = shared and (body.budget.total is not None or bool(body.budget.phases))
    if body.budget.total is not None and sum(body.budget.per_service.values()) > body.budget.total:
        problems.add(
            f"{source}: budget.per_service adds up to {sum(body.budget.per_service.values()):,.0f}, more than "
            f"budget.total {body.budget.total:,.0f}; lower the per-service budgets or raise the total"
        )
    if body.budget.phases and not shared:
        warnings.append(
            "budget.phases is used by the joint multi-service model (siting run without --split); it is ignored here"
        )

    land = sites["land_type"].to_numpy().astype(str)
    present = set(land.tolist())
    area = sites["area_m2"].to_numpy(dtype=np.float64)
    site_cost = sites["site_cost"].to_numpy(dtype=np.float64)
    site_ids = sites.index.to_numpy().astype(str)
    existing_service = existing["service"].to_numpy().astype(str) if existing is not None else np.zeros(0, dtype=str)
    existing_ids = existing.index.to_numpy().astype(str) if existing is not None else np.zeros(0, dtype=str)

    # existing facilities of each service
    ex_masks: dict[str, NDArray[np.bool_]] = {}
    values_map = body.layers.existing.service_values if body.layers.existing is not None else {}
    for key in values_map:
        if key not in body.services:
            warnings.append(f"layers.existing.service_values.{key}: no service of that name; it is ignored")
    for name in body.services:
        accepted = set(values_map.get(name, [name]))
        ex_masks[name] = np.isin(existing_service, list(accepted))
    if existing is not None and len(existing) and not any(m.any() for m in ex_masks.values()):
        warnings.append(
            f"layers.existing: no facility matches a service (values of column {body.layers.existing.service!r} "  # type: ignore[union-attr]
            f"found: {_counts(existing_service)}); name them like the services or map them with service_values"
        )

    # eligibility, cost, limits per service
    plans: dict[str, dict[str, Any]] = {}
    overspent = body.budget.total is not None and sum(body.budget.per_service.values()) > body.budget.total
    for name, svc in body.services.items():
        notes: list[str] = []
        if group_totals[svc.demand_group] <= 0:
            continue  # reported above; its budget share and coverage mean nothing
        types = _eligible_types(svc, present)
        unknown = sorted(set(svc.cost_by_land_type) - present)
        if unknown:
            warnings.append(
                f"services.{name}.cost_by_land_type: land types {', '.join(unknown)} do not occur in the sites layer "
                f"(land types there: {_counts(land)})"
            )
        if svc.eligible_land_types is not None:
            unknown_el = sorted(set(svc.eligible_land_types) - present)
            if unknown_el:
                warnings.append(
                    f"services.{name}.eligible_land_types: {', '.join(unknown_el)} do not occur in the sites layer"
                )
        type_ok = np.isin(land, list(types))
        if svc.min_area_m2 > 0:
            no_area = type_ok & np.isnan(area)
            if no_area.any():
                problems.add(
                    f"{source}: services.{name}.min_area_m2: sites {show_ids(site_ids[no_area])} have no area "
                    "(points without an area column); add area: to layers.sites or set min_area_m2: 0"
                )
            area_ok = area >= svc.min_area_m2
        else:
            area_ok = np.ones(len(land), dtype=bool)
        eligible = type_ok & area_ok
        if not eligible.any():
            accepts = ", ".join(sorted(types)) or "(none: give cost_by_land_type, eligible_land_types or default_cost)"
            why = (
                f"; {int(type_ok.sum())} sites of those types are smaller than min_area_m2 = {svc.min_area_m2:g}"
                if type_ok.any()
                else ""
            )
            problems.add(
                f"{source}: services.{name}: no candidate site is eligible: the service accepts land types {accepts}, "
                f"the sites layer has {_counts(land)}{why}; add the layer's land types to "
                f"services.{name}.cost_by_land_type (or eligible_land_types), or lower min_area_m2"
            )
            continue
        by_type = np.array(
            [svc.cost_by_land_type.get(t, np.nan if svc.default_cost is None else svc.default_cost) for t in land]
        )
        cost = np.where(np.isnan(site_cost), by_type, site_cost)
        budget, budget_source = budgets[name]
        unknown_cost = eligible & np.isnan(cost)
        cost_known = not unknown_cost.any()
        if unknown_cost.any() and budget is not None:
            problems.add(
                f"{source}: services.{name}: no cost for land types {', '.join(sorted(set(land[unknown_cost])))} "
                f"(sites {show_ids(site_ids[unknown_cost])}), but a budget applies ({budget_source}); add them to "
                f"services.{name}.cost_by_land_type, set default_cost, or give layers.sites.cost"
            )
            continue
        if not cost_known:
            notes.append(
                "some eligible sites have no cost: costs are not reported"
                + ("; min_cost finds the fewest sites instead" if body.objective == "min_cost" else "")
            )
        n_eligible = int(eligible.sum())
        max_sites = svc.max_sites
        needs_limit = body.objective in ("max_coverage", "pmedian") or (shared and body.objective in JOINT_OBJECTIVES)
        if needs_limit and max_sites is None and budget is None and not shared_limit:
            problems.add(
                f"{source}: services.{name}: objective {body.objective} needs a limit: give services.{name}.max_sites, "
                f"budget.per_service.{name} or budget.total"
            )
            continue
        if svc.min_sites > n_eligible:
            problems.add(
                f"{source}: services.{name}.min_sites = {svc.min_sites} but only {n_eligible} candidate sites are "
                "eligible; lower min_sites or accept more land types"
            )
        if max_sites is not None and max_sites > n_eligible:
            notes.append(f"max_sites = {max_sites} exceeds the {n_eligible} eligible sites: at most {n_eligible}")
            max_sites = n_eligible
        if budget is not None and cost_known and not (overspent and name not in body.budget.per_service):
            cheapest = int(np.argmin(np.where(eligible, cost, np.inf)))
            if cost[cheapest] > budget:
                problems.add(
                    f"{source}: services.{name}: the budget {budget:,.0f} ({budget_source}) is below the cheapest "
                    f"eligible site ({site_ids[cheapest]}, {land[cheapest]}, cost {cost[cheapest]:,.0f}); raise the "
                    "budget or make cheaper land types eligible"
                )
                continue
        plans[name] = {
            "eligible": eligible,
            "cost": np.where(np.isnan(cost), 0.0, cost),
            "cost_known": cost_known,
            "budget": budget,
            "budget_source": budget_source,
            "max_sites": max_sites,
            "notes": notes,
        }

    # ---- distances, once, for the largest reach
    speed = body.distance.walking_speed_kmh
    reach = {name: svc.reach_metres(speed) for name, svc in body.services.items()}
    # gradual reach keeps the pairs out to where coverage reaches 0
    stored = {n: max(reach[n], s.decay.metres(speed)) if s.decay else reach[n] for n, s in body.services.items()}
    cutoff = math.inf if body.objective == "pmedian" else max(stored.values())
    all_xy = np.vstack([xy(sites), xy(existing)]) if existing is not None else xy(sites)
    demand_xy = xy(demand)
    n_sites = len(sites)
    unsnapped_demand: list[str] = []
    unsnapped_sites: list[str] = []
    network_info = None
    off_network = False
    t0 = time.perf_counter()
    if body.distance.method == "euclidean":
        with progress.step("straight-line distances"):
            dist = euclidean_pairs(demand_xy, all_xy, cutoff)
    else:

        def measure() -> tuple[Any, Any]:
            with progress.step("building the street network"):
                net = _network(layers, body, cutoff, source)
            from siting.scenarios.geodata.network import network_distances

            with progress.step("walking distances"):
                nd = network_distances(
                    net,
                    demand_xy,
                    all_xy,
                    cutoff,
                    max_snap=body.distance.max_snap_m,
                    progress=status_callback(progress),
                )
            return net, nd

        try:
            net, nd = measure() if inputs is None else inputs.network(body, cutoff, measure)
            seconds["network"] = time.perf_counter() - t0
            network_info = {
                "nodes": net.n_nodes,
                "edges": net.n_edges,
                "km": round(net.total_length / 1000.0, 3),
                "notes": list(net.notes),
            }
        except DataError as exc:
            raise DataError(str(exc) if str(exc).startswith(source) else f"{source}: {exc}") from None
        dist = nd.distances
        d_ids = demand.index.to_numpy().astype(str)
        all_ids = np.concatenate(
            [site_ids, np.array([EXISTING_PREFIX + i for i in existing_ids], dtype=object).astype(str)]
        )
        snap_limit = body.distance.max_snap_m
        if nd.unsnapped_demand.all():
            off_network = True
            problems.add(
                f"{source}: data far outside the street network: none of the {len(d_ids)} demand points is within "
                f"distance.max_snap_m = {snap_limit:g} m of a street (the nearest is "
                f"{float(nd.snap_demand.snap_distance.min()):,.0f} m away); check that layers.streets covers the "
                "study area and that every layer has the right CRS, or raise distance.max_snap_m"
            )
        elif nd.unsnapped_demand.any():
            unsnapped_demand = sorted(d_ids[nd.unsnapped_demand].tolist(), key=natural_key)
            warnings.append(
                f"{len(unsnapped_demand)} demand points are farther than {snap_limit:g} m from any street and count as "
                f"unreachable: {show_ids(unsnapped_demand, 20)}"
            )
        cand_unsnapped = nd.unsnapped_sites[:n_sites]
        if cand_unsnapped.all():
            off_network = True
            problems.add(
                f"{source}: data far outside the street network: none of the {n_sites} candidate sites is within "
                f"distance.max_snap_m = {snap_limit:g} m of a street (the nearest is "
                f"{float(nd.snap_sites.snap_distance[:n_sites].min()):,.0f} m away); check that layers.streets covers "
                "the sites and that every layer has the right CRS, or raise distance.max_snap_m"
            )
        elif nd.unsnapped_sites.any():
            unsnapped_sites = sorted(all_ids[nd.unsnapped_sites].tolist(), key=natural_key)
            warnings.append(
                f"{len(unsnapped_sites)} sites are farther than {snap_limit:g} m from any street and cannot serve anyone: "
                f"{show_ids(unsnapped_sites, 20)}"
            )
        for name, plan in plans.items():
            plan["eligible"] = plan["eligible"] & ~cand_unsnapped
    seconds["distances"] = time.perf_counter() - t0

    # ---- one instance per service
    services: dict[str, ServiceProblem] = {}
    if off_network:
        problems.raise_if_any(source, ScenarioError)
    demand_ids = pd.Index(demand.index.to_numpy().astype(str), name="id")
    for name, svc in body.services.items():
        if name not in plans:
            continue
        plan = plans[name]
        eligible = plan["eligible"]
        cand = np.flatnonzero(eligible)
        ex = np.flatnonzero(ex_masks[name])
        if cand.size == 0:
            problems.add(
                f"{source}: services.{name}: every eligible candidate site is off the street network "
                f"(farther than distance.max_snap_m = {body.distance.max_snap_m:g} m from a street); raise max_snap_m "
                "or extend layers.streets"
            )
            continue
        cols = np.concatenate([cand, n_sites + ex]).astype(np.int64)
        r = reach[name]
        keep_cut = math.inf if body.objective == "pmedian" else stored[name]
        d = select_pairs(dist, cols, keep_cut)
        weights = demand[svc.demand_group].to_numpy(dtype=np.float64)
        within = select_pairs(dist, cols, r) if keep_cut != r else d
        covered_rows = np.unique(within.tocoo().row)
        if group_totals[svc.demand_group] > 0 and not (weights[covered_rows] > 0).any():
            sub = dist.tocoo()
            mask = np.isin(sub.col, cols) & (weights[sub.row] > 0)
            nearest = float(sub.data[mask].min()) if mask.any() else None
            how = (
                f"reach_minutes = {svc.reach_minutes:g} ({r:,.0f} m)"
                if svc.reach_minutes is not None
                else f"reach_m = {r:g}"
            )
            problems.add(
                f"{source}: services.{name}: {how} covers no demand of group {svc.demand_group!r} from any site"
                + (
                    f" (the nearest pair is {nearest:,.0f} m apart)"
                    if nearest is not None
                    else f" (no site is within {cutoff:,.0f} m of that demand)"
                )
                + f"; raise services.{name}.reach_m / reach_minutes or add sites near the demand"
            )
            continue
        n_ex = ex.size
        notes = list(plan["notes"])
        if body.objective == "pmedian":
            # p-median assigns every weighted demand point: one that reaches no site at all (cut off
            # from the network) is left out of the objective, and said so.
            lost = (np.diff(d.indptr) == 0) & (weights > 0)
            if lost.any():
                weights = np.where(lost, 0.0, weights)
                notes.append(f"demand reaching no site at any distance is left out: {show_ids(demand_ids[lost], 20)}")
        cost = np.concatenate([plan["cost"][cand], np.zeros(n_ex)])
        ids = np.concatenate(
            [site_ids[cand], np.array([EXISTING_PREFIX + i for i in existing_ids[ex]], dtype=object)]
        ).astype(str)
        cap = site_capacities(svc, land[cand], n_ex)
        groups = None
        if svc.equity is not None:
            col = EQUITY_PREFIX + svc.equity.group
            if col not in demand.columns:
                found = demand.attrs.get("source_columns", [])
                problems.add(
                    f"{source}: services.{name}.equity.group: the demand layer has no column {svc.equity.group!r}; "
                    f"columns are {', '.join(map(str, found[:20]))}"
                )
                continue
            groups = demand[col].to_numpy(dtype=object)
        is_existing = np.concatenate([np.zeros(cand.size, dtype=bool), np.ones(n_ex, dtype=bool)])
        try:
            inst = SitingInstance(
                distances=d,
                weights=weights,
                demand_ids=demand_ids.to_numpy().astype(object),
                site_ids=ids.astype(object),
                cost=cost,
                capacity=cap,
                existing=is_existing,
                name=f"{body.name}/{name}",
                groups=groups,
            )
        except DataError as exc:
            problems.add(f"{source}: services.{name}: {exc}")
            continue
        services[name] = ServiceProblem(
            name=name,
            service=svc,
            demand_group=svc.demand_group,
            reach_m=r,
            instance=inst,
            demand_ids=demand_ids,
            site_ids=site_ids[cand],
            existing_ids=existing_ids[ex],
            land_types=np.concatenate([land[cand], np.full(n_ex, "existing", dtype=object)]).astype(str),
            area_m2=np.concatenate([area[cand], np.full(n_ex, np.nan)]),
            cost_known=plan["cost_known"],
            budget=plan["budget"],
            budget_source=plan["budget_source"],
            max_sites=plan["max_sites"],
            group_total=group_totals[svc.demand_group],
            cutoff_m=keep_cut,
            notes=notes,
        )
    problems.raise_if_any(source, ScenarioError)
    return BuiltScenario(
        scenario=body,
        base_dir=base_dir,
        source=source,
        layers=layers,
        services=services,
        distance_method=body.distance.method,
        unsnapped_demand=unsnapped_demand,
        unsnapped_sites=unsnapped_sites,
        warnings=warnings,
        seconds=seconds,
        network=network_info,
    )


def streets_path(body: ScenarioBody, base_dir: Path) -> Path | None:
    """The streets file of a scenario, if any."""
    return resolve_path(body.layers.streets, base_dir) if body.layers.streets is not None else None
