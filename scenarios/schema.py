"""The scenario language: what a planner writes in ``scenario.yaml``, as pydantic v2 models.

A scenario names its layers (demand, candidate sites, existing facilities, streets), the services
with their reach, costs by land type and eligibility, the budget, the objective and the solver
settings. Named overrides (``scenarios:``) are merged on top of the base, then validated.
Every model forbids unknown keys; ``siting schema`` writes the JSON Schema generated from them.

Validation collects every problem at once and reports each with the file, the YAML line, the field
path and a fix (``did you mean ...?`` for misspelt keys).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from siting.models.errors import ScenarioError

SCHEMA_FILE = "scenario.schema.json"
KNOWN_SERVICES = ("elderly_care", "childcare", "ev_charging", "public_toilet")


class _Strict(BaseModel):
    # inf and nan are refused in every number of a scenario (reach_m: .inf would otherwise pass gt=0)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------------- layers
class LayerRef(_Strict):
    """Where a layer lives and which columns mean what."""

    path: str = Field(description="File path, relative to the scenario file: .gpkg, .geojson, .shp, .parquet or .csv.")
    layer: str | None = Field(
        default=None, description="Layer name inside a GeoPackage (required when it holds several)."
    )
    id: str | None = Field(default=None, description="Column with a unique id per feature; default: the row number.")
    x: str | None = Field(default=None, description="CSV only: column with x or longitude.")
    y: str | None = Field(default=None, description="CSV only: column with y or latitude.")
    crs: str | None = Field(
        default=None,
        description="CRS of the layer when the file does not carry one (e.g. EPSG:4326, EPSG:4490 for CGCS2000).",
    )
    coordinates: Literal["wgs84", "gcj02", "bd09"] = Field(
        default="wgs84",
        description="Lon/lat points copied from Chinese web maps are offset: gcj02 (Amap, Tencent) or bd09 (Baidu) "
        "are converted to WGS 84 before use.",
    )
    repair_geometries: bool = Field(
        default=False,
        description="Repair invalid geometries (self-intersecting or degenerate polygons) with shapely's make_valid "
        "instead of reporting them as errors; the repaired ids are listed in the run's warnings.",
    )


class DemandLayer(LayerRef):
    """Where people live: points or polygons (polygons are used through their centroid)."""

    groups: dict[str, str] = Field(
        description="Demand groups: group name -> column with the number of people, e.g. "
        "{residents: population, elderly: age_60_plus, infants: age_0_3}.",
        min_length=1,
    )


class SitesLayer(LayerRef):
    """Candidate plots and buildings where a new facility could go."""

    land_type: str | None = Field(
        default=None,
        description="Column with the land type (idle_land, warehouse, factory, commercial, demolition_site, ...).",
    )
    default_land_type: str = Field(default="idle_land", description="Land type of sites without a land_type value.")
    area: str | None = Field(default=None, description="Column with the usable area in m²; default: the polygon area.")
    cost: str | None = Field(
        default=None, description="Column with a per-site cost that overrides the service's cost by land type."
    )


class ExistingLayer(LayerRef):
    """Facilities that already exist: they cover from the start and cost nothing."""

    service: str = Field(description="Column naming the service each facility provides (e.g. public_toilet).")
    service_values: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Map a service to the values of the service column that mean it, e.g. "
        "{public_toilet: [toilets]}; default: the value equals the service name.",
    )


class StreetsLayer(LayerRef):
    """Walkable streets and paths (lines), or an OpenStreetMap .osm.pbf extract."""

    length: str | None = Field(
        default=None, description="Column with the length in metres; default: the geometry length."
    )


class BackgroundLayer(LayerRef):
    """Areas drawn under the streets on the map, the report's interactive map and plan.gpkg (never solved on)."""


class Layers(_Strict):
    demand: DemandLayer = Field(description="Residential demand with one column per demand group.")
    sites: SitesLayer = Field(description="Candidate sites.")
    existing: ExistingLayer | None = Field(default=None, description="Existing facilities, by service.")
    streets: StreetsLayer | None = Field(default=None, description="Street network for walking distances.")
    water: BackgroundLayer | None = Field(
        default=None,
        description="Water (sea, lakes, rivers): polygons or lines drawn pale blue under the streets on map.png, "
        "in the report's interactive map and as a styled layer of plan.gpkg; `siting prepare osm` writes it.",
    )
    green: BackgroundLayer | None = Field(
        default=None,
        description="Parks, woods and grass: polygons or lines drawn pale green under the streets on map.png, "
        "in the report's interactive map and as a styled layer of plan.gpkg; `siting prepare osm` writes it.",
    )


# ------------------------------------------------- equity, gradual reach, robust plans (per service)
class Equity(_Strict):
    """Every demand group (community, district, ...) gets its share of coverage."""

    group: str = Field(description="Demand layer column naming each block's group, e.g. community_id.")
    min_share: float | None = Field(
        default=None, ge=0, le=1, description="Floor: every group has at least this share of its people covered."
    )
    max_min: bool = Field(
        default=False, description="Instead of a floor: raise the worst-covered group's share first, then coverage."
    )

    @model_validator(mode="after")
    def _one_rule(self) -> Equity:
        if (self.min_share is None) == (not self.max_min):
            raise ValueError("give exactly one of min_share (a floor) or max_min: true")
        return self


class Decay(_Strict):
    """Gradual reach: coverage 1 within the service's reach, falling linearly to 0 at reach_max; or a
    step table of (minutes, credit), e.g. the GB 50180-2018 levels [[5, 1.0], [10, 0.6], [15, 0.3]]."""

    reach_max_minutes: float | None = Field(default=None, gt=0, description="Where coverage reaches 0, in minutes.")
    reach_max_m: float | None = Field(default=None, gt=0, description="Where coverage reaches 0, in metres.")
    steps: list[tuple[float, float]] | None = Field(
        default=None,
        description="Step table instead of the linear fall: [minutes, credit] pairs, minutes strictly increasing, "
        "credits in (0, 1] not increasing; credit c within each step's minutes, 0 beyond the last.",
    )
    steps_m: list[tuple[float, float]] | None = Field(
        default=None, description="The step table with distances in metres instead of minutes."
    )

    @model_validator(mode="after")
    def _one_reach(self) -> Decay:
        given = [self.reach_max_minutes, self.reach_max_m, self.steps, self.steps_m]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of reach_max_minutes, reach_max_m, steps or steps_m")
        table = self.steps if self.steps is not None else self.steps_m
        if table is not None:
            from siting.models.errors import ScenarioError
            from siting.models.formulations.decay import check_steps

            try:
                check_steps(table)
            except ScenarioError as exc:
                raise ValueError(str(exc).replace(" (e.g. 500:1,1000:0.6,1500:0.3)", "")) from None
        return self

    def step_table(self, walking_speed_kmh: float) -> tuple[tuple[float, float], ...] | None:
        """The step table in metres, or None for the linear fall."""
        if self.steps_m is not None:
            return tuple((float(r), float(c)) for r, c in self.steps_m)
        if self.steps is not None:
            per_minute = walking_speed_kmh * 1000.0 / 60.0
            return tuple((float(r) * per_minute, float(c)) for r, c in self.steps)
        return None

    def metres(self, walking_speed_kmh: float) -> float:
        """The farthest distance that earns any credit (reach_max, or the last step)."""
        table = self.step_table(walking_speed_kmh)
        if table is not None:
            return table[-1][0]
        if self.reach_max_m is not None:
            return float(self.reach_max_m)
        assert self.reach_max_minutes is not None
        return float(self.reach_max_minutes) * walking_speed_kmh * 1000.0 / 60.0

    def spec_fields(self, reach_m: float | None, walking_speed_kmh: float) -> dict[str, Any]:
        """The ``ModelSpec`` fields of this rule on a service with reach ``reach_m``: the step table,
        or the linear fall from the service's reach to reach_max (the radius is replaced either way)."""
        table = self.step_table(walking_speed_kmh)
        if table is not None:
            return {"radius": None, "decay_steps": table}
        return {"radius": None, "reach_full": reach_m, "reach_max": self.metres(walking_speed_kmh)}


class Robust(_Strict):
    """Plan for uncertain population: K sampled demand scenarios, weights x (1 + noise x N(0, 1))."""

    samples: int = Field(ge=1, le=1000, description="Number of sampled demand scenarios K.")
    population_noise: float = Field(default=0.15, ge=0, le=2, description="Relative standard deviation of each weight.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seed of the scenario sampling.")
    objective: Literal["worst", "mean"] = Field(default="worst", description="Maximise the worst or the mean case.")


# --------------------------------------------------------------------------------- services
class Service(_Strict):
    """One kind of facility to site."""

    demand_group: str = Field(description="Which demand group this service serves (a key of layers.demand.groups).")
    reach_minutes: float | None = Field(default=None, gt=0, description="Reach as minutes of walking.")
    reach_m: float | None = Field(default=None, gt=0, description="Reach in metres (instead of minutes).")
    cost_by_land_type: dict[str, float] = Field(
        default_factory=dict, description="Cost of one facility by land type (yuan); a site column can override it."
    )
    default_cost: float | None = Field(
        default=None, ge=0, description="Cost on land types not listed in cost_by_land_type."
    )
    eligible_land_types: list[str] | None = Field(
        default=None, description="Land types that may host this service; default: those with a cost."
    )
    min_area_m2: float = Field(default=0.0, ge=0, description="Smallest plot area (m²) that can host it.")
    area_m2: float = Field(
        default=0.0, ge=0, description="Floor or plot area one facility takes (m²), for shared plots."
    )
    capacity: float | None = Field(
        default=None,
        gt=0,
        description="People one facility can serve: pmedian is capacitated, and max_coverage / min_cost count "
        "a person only where a facility within reach has room (siting run --split).",
    )
    capacity_by_land_type: dict[str, float] = Field(
        default_factory=dict,
        description="Capacity by land type (key 'existing' for existing facilities); other land types use capacity.",
    )
    allow_split: bool = Field(
        default=False, description="With a capacity: a block may be served by several facilities."
    )
    equity: Equity | None = Field(default=None, description="A floor or max-min rule on every group's covered share.")
    decay: Decay | None = Field(default=None, description="Gradual reach beyond reach_minutes / reach_m.")
    robust: Robust | None = Field(default=None, description="Plan for K sampled demand scenarios.")
    max_sites: int | None = Field(default=None, ge=0, description="At most this many new facilities.")
    min_sites: int = Field(default=0, ge=0, description="At least this many new facilities.")
    weight: float = Field(default=1.0, ge=0, description="Weight of this service's covered people in the objective.")

    @model_validator(mode="after")
    def _one_reach(self) -> Service:
        if (self.reach_minutes is None) == (self.reach_m is None):
            raise ValueError("give exactly one of reach_minutes or reach_m")
        if self.max_sites is not None and self.min_sites > self.max_sites:
            raise ValueError(f"min_sites = {self.min_sites} is larger than max_sites = {self.max_sites}")
        for land, c in self.cost_by_land_type.items():
            if not c >= 0:
                raise ValueError(f"cost_by_land_type.{land} = {c} must be a number >= 0")
        for land, c in self.capacity_by_land_type.items():
            if not c >= 0:
                raise ValueError(f"capacity_by_land_type.{land} = {c} must be a number >= 0")
        return self

    @property
    def capacitated(self) -> bool:
        """A capacity is set, as one number or by land type."""
        return self.capacity is not None or bool(self.capacity_by_land_type)

    def reach_metres(self, walking_speed_kmh: float) -> float:
        """Reach in metres: minutes x speed (4 km/h walks 1,000 m in 15 minutes)."""
        if self.reach_m is not None:
            return float(self.reach_m)
        assert self.reach_minutes is not None
        return float(self.reach_minutes) * walking_speed_kmh * 1000.0 / 60.0


def machine_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


# ----------------------------------------------------------------------------- other blocks
class Budget(_Strict):
    total: float | None = Field(default=None, ge=0, description="Total budget for all new facilities (yuan).")
    per_service: dict[str, float] = Field(default_factory=dict, description="Budget per service (yuan).")
    phases: dict[str, float] = Field(
        default_factory=dict, description="Budget per phase, in build order, e.g. {'2022': 4e6, '2023': 4e6}."
    )
    carry_over: bool = Field(default=True, description="Unspent money of a phase carries to the next.")


class Distance(_Strict):
    method: Literal["network", "euclidean"] = Field(
        default="network", description="Walking distance over the streets layer, or straight line (projected)."
    )
    walking_speed_kmh: float = Field(default=4.0, gt=0, le=10, description="Walking speed turning minutes into metres.")
    max_snap_m: float = Field(
        default=250.0, gt=0, description="Points farther than this from any street are reported as unreachable."
    )


class SolverSettings(_Strict):
    name: str = Field(
        default="auto",
        description="auto (HiGHS; SCIP proves city-sized covers), highs, cbc, cpsat, scip, pulp:NAME, or a heuristic.",
    )
    time_limit: float | None = Field(
        default=60.0,
        gt=0,
        description="Seconds for everything after the input is read (every service, stage and alternative shares them).",
    )
    mip_gap: float = Field(default=1e-4, ge=0, lt=1, description="Relative gap at which a solve counts as optimal.")
    threads: int = Field(default=1, ge=1, description="Solver threads (at most the machine's cores).")
    seed: int = Field(
        default=0, ge=0, le=2**31 - 1, description="Random seed (0 to 2147483647, as every solver takes)."
    )

    @field_validator("threads")
    @classmethod
    def _at_most_cores(cls, v: int) -> int:
        cores = machine_cores()
        if v > cores:  # a million threads once took 4.8 GB before the solver started
            raise ValueError(f"{v} threads is more than the {cores} cores of this machine; use at most {cores}")
        return v


class Output(_Strict):
    folder: str = Field(default="out", description="Output folder, relative to the scenario file.")
    lang: Literal["en", "zh"] = Field(default="en", description="Language of the report.")
    currency: str = Field(
        default="CNY",
        pattern=r"^[A-Z]{3}$",
        description="Currency of every cost, an ISO 4217 code (CNY, EUR, USD, ...); CNY reads 元 / 万元 in Chinese.",
    )
    coordinates: Literal["wgs84", "gcj02", "bd09"] = Field(
        default="wgs84",
        description="System of the lon/lat columns of plan.csv and plan.xlsx: wgs84 (GPS, OpenStreetMap), "
        "gcj02 (Gaode/AMap, Tencent) or bd09 (Baidu).",
    )


Objective = Literal["max_coverage", "complete_circle", "pmedian", "min_cost", "phased"]


class ScenarioBody(_Strict):
    """Everything a scenario (or a merged override) sets."""

    name: str = Field(description="Short name of the scenario.")
    description: str = Field(default="", description="What this scenario is about.")
    crs: str | None = Field(
        default=None, description="Metric CRS for distances and areas; default: the data's UTM zone."
    )
    layers: Layers = Field(description="The input layers.")
    distance: Distance = Field(default_factory=Distance, description="How distances are measured.")
    services: dict[str, Service] = Field(min_length=1, description="The services to site, by name.")
    budget: Budget = Field(default_factory=Budget, description="Budgets.")
    objective: Objective = Field(default="max_coverage", description="What the plan optimises.")
    solver: SolverSettings = Field(default_factory=SolverSettings, description="Solver settings.")
    output: Output = Field(default_factory=Output, description="Where and how results are written.")

    @model_validator(mode="after")
    def _cross_checks(self) -> ScenarioBody:
        problems: list[str] = []
        groups = set(self.layers.demand.groups)
        for name, svc in self.services.items():
            if svc.demand_group not in groups:
                hint = difflib.get_close_matches(svc.demand_group, sorted(groups), n=1)
                problems.append(
                    f"services.{name}.demand_group: {svc.demand_group!r} is not a demand group; "
                    + (f"did you mean {hint[0]!r}? " if hint else "")
                    + f"groups are {', '.join(sorted(groups))} (layers.demand.groups)"
                )
        for name in self.budget.per_service:
            if name not in self.services:
                problems.append(
                    f"budget.per_service.{name}: no service of that name; services are {', '.join(self.services)}"
                )
        if problems:
            # one problem per line: _format_errors reports each with the YAML line of its field
            raise ValueError("\n".join(problems))
        return self


class Scenario(ScenarioBody):
    """A scenario file: the base scenario plus named overrides."""

    scenarios: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named overrides merged on top of the base scenario, e.g. {low_budget: {budget: {total: 6e6}}}.",
    )

    @field_validator("scenarios")
    @classmethod
    def _no_nesting(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, body in v.items():
            if isinstance(body, dict) and "scenarios" in body:
                raise ValueError(f"override {name!r} may not define scenarios of its own")
        return v


# ---------------------------------------------------------------------------------- loading
class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key and refuses duplicate or complex keys."""


class _KeyProblem(Exception):
    """A key the scenario language cannot hold: a duplicate, or a list/mapping used as a key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[str, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:  # the keys written in this mapping (merged ``<<`` keys come later)
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise _KeyProblem(f"line {line}: a {kind} is used as a key ('? ' syntax); keys must be plain names")
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _KeyProblem(
                f"line {line}: key {key!r} appears twice in the same block (lines {seen[key]} and {line}); "
                "the second would silently replace the first: merge them into one"
            )
        seen[key] = line
    loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            mapping[key] = loader.construct_object(value_node, deep=deep)
        except TypeError:  # an unhashable key produced by a merge
            raise _KeyProblem(f"line {key_node.start_mark.line + 1}: keys must be plain names") from None
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    mapping_lines[id(mapping)] = lines  # type: ignore[index]
    return mapping


#: A document that expands to more nodes than this (aliases of aliases: a "billion laughs") is refused.
MAX_YAML_NODES = 200_000
#: Deeper nesting than this is refused before PyYAML's recursive builder overflows the stack.
MAX_YAML_DEPTH = 64


def _check_size(root: yaml.Node) -> str | None:
    """Why the composed document is too large once aliases are expanded, or too deep (None when fine).

    The expanded size of a node is 1 + the expanded sizes of its children, memoised per node, so a
    document that reuses anchors is measured in time linear in its distinct nodes.
    """
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:  # iterative post-order walk: no recursion on hostile depth
        node, depth, done = stack.pop()
        if depth > MAX_YAML_DEPTH:
            return f"nested more than {MAX_YAML_DEPTH} levels deep (line {node.start_mark.line + 1})"
        if isinstance(node, yaml.ScalarNode):
            size[id(node)] = 1
            continue
        children = [c for pair in node.value for c in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if done:
            size[id(node)] = 1 + sum(size[id(c)] for c in children)
            if size[id(node)] > MAX_YAML_NODES:
                return f"more than {MAX_YAML_NODES:,} values once its aliases (*name) are expanded"
            continue
        if id(node) in size:
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in size)
    return None


mapping_lines: dict[int, dict[str, int]] = {}
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]


def _line_of(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """The YAML line of the deepest key of ``loc`` found in the raw document."""
    line = None
    node = doc
    for part in loc:
        if isinstance(node, dict):
            lines = mapping_lines.get(id(node), {})
            if part in lines:
                line = lines[part]
            if part not in node:
                break
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at ``loc`` (for "did you mean")."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = _inner_model(field.annotation)
        elif current == "dict":
            current = None
        else:
            return []
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _inner_model(annotation: Any) -> Any:
    """The pydantic model inside ``X | None`` or ``dict[str, X]`` annotations."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict and len(args) == 2:
        inner = _inner_model(args[1])
        return _DictOf(inner) if inner is not None else None
    for a in args:
        found = _inner_model(a)
        if found is not None:
            return found
    return None


class _DictOf:
    def __init__(self, inner: Any) -> None:
        self.inner = inner


def _format_errors(path: Path, doc: Any, err: ValidationError, prefix: tuple[Any, ...] = ()) -> list[str]:
    out: list[str] = []
    for e in err.errors():
        loc = tuple(e["loc"])
        if not loc and e["type"] == "value_error":
            # cross-field checks of the whole scenario: one problem per line, each starting with its field
            for part in str(e["msg"]).removeprefix("Value error, ").split("\n"):
                field_path = part.split(":", 1)[0]
                keys = tuple(field_path.split(".")) if re.fullmatch(r"[\w.]+", field_path) else ()
                line = _line_of(doc, prefix + keys) if keys else None
                out.append(f"{path.name}" + (f" line {line}" if line else "") + f": {part}")
            continue
        # model_validator errors carry no field location; keep them plain
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(doc, prefix + loc) if loc else None
        at = f"{path.name}" + (f" line {line}" if line else "")
        if e["type"] == "extra_forbidden":
            parent = loc[:-1]
            allowed = _allowed_keys(parent)
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            msg = f"unknown key {loc[-1]!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
            if allowed:
                msg += f" (allowed here: {', '.join(allowed)})"
        elif e["type"] == "missing":
            msg = "is required but missing: add it"
        else:
            msg = str(e["msg"]).removeprefix("Value error, ")
            if "input" in e and not isinstance(e["input"], (dict, list)):
                msg += f" (got {e['input']!r})"
        out.append(f"{at}: {where}: {msg}")
    return out


def _allowed_keys(parent: tuple[Any, ...]) -> list[str]:
    """Keys allowed in the mapping at ``parent`` (walks models and dicts of models)."""
    current: Any = Scenario
    for part in parent:
        if isinstance(current, _DictOf):
            current = current.inner
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = _inner_model(field.annotation)
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _flow_depth(text: str) -> int:
    """Deepest nesting of ``[`` / ``{`` in the text (brackets inside quoted strings count too: an upper bound)."""
    codes = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, turning syntax errors into one ScenarioError with the line.

    The file must be a regular file (a folder, a FIFO or a device is refused before it is opened).
    Duplicate keys, lists or mappings used as keys, nesting deeper than :data:`MAX_YAML_DEPTH` and
    alias expansion beyond :data:`MAX_YAML_NODES` values are errors naming the line.
    """
    from siting.scenarios.files import user_file

    if not Path(path).exists() and not str(path).startswith("~"):
        raise ScenarioError(
            f"{path}: scenario file not found; check the path (siting init DIR writes a working example)"
        )
    path = user_file(path, "scenario file", ScenarioError)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc.strerror or exc}); check the file's permissions") from None
    if _flow_depth(text) > 2 * MAX_YAML_DEPTH:  # PyYAML's scanner is quadratic in flow depth: check first
        raise ScenarioError(
            f"{path.name}: the YAML document is nested too deeply to read; a scenario is a short, shallow mapping"
        )
    mapping_lines.clear()  # line maps are keyed by id(): stale ones from an earlier file could be matched by a new dict
    loader = _LineLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        too_big = _check_size(root)
        if too_big:
            raise ScenarioError(f"{path.name}: the YAML document is {too_big}; a scenario is a short, shallow mapping")
        return loader.construct_document(root)
    except _KeyProblem as exc:
        raise ScenarioError(f"{path.name} {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(
            f"{path.name}{where}: YAML syntax error: {exc.problem or exc}; fix the indentation or quoting there"
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path.name}: YAML syntax error: {exc}") from None
    except RecursionError:
        raise ScenarioError(
            f"{path.name}: the YAML document is nested too deeply to read; a scenario is a short, shallow mapping"
        ) from None
    finally:
        loader.dispose()


def load_scenario(path: str | Path, override: str | None = None) -> tuple[ScenarioBody, Path]:
    """Read, merge and validate a scenario file.

    Returns the resolved scenario (base merged with the named override) and the folder that
    relative paths in it are resolved against. Every problem is reported in one ScenarioError.
    """
    path = Path(path)
    doc = read_yaml(path)
    if not isinstance(doc, dict):
        raise ScenarioError(
            f"{path.name}: a scenario file must be a YAML mapping (key: value), got {type(doc).__name__}"
        )
    try:
        base = Scenario.model_validate(doc)
    except ValidationError as err:
        raise ScenarioError(_joined(path, _format_errors(path, doc, err))) from None
    raw = {k: v for k, v in doc.items() if k != "scenarios"}
    if override is not None:
        if override not in base.scenarios:
            names = sorted(base.scenarios)
            hint = difflib.get_close_matches(override, names, n=1)
            raise ScenarioError(
                f"{path.name}: no scenario named {override!r}"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + (f" Defined: {', '.join(names)}" if names else " The file defines no named scenarios (scenarios:)")
            )
        merged = deep_merge(raw, base.scenarios[override])
        merged.setdefault("name", base.name)
        if "name" not in base.scenarios[override]:
            merged["name"] = f"{base.name}/{override}"
        try:
            body = ScenarioBody.model_validate(merged)
        except ValidationError as err:
            over = doc["scenarios"][override]
            lines = _format_errors(path, over, err)
            raise ScenarioError(_joined(path, [f"(scenario {override}) {m}" for m in lines])) from None
        return body, path.parent.resolve()
    return ScenarioBody.model_validate(raw), path.parent.resolve()


def _joined(path: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{path.name}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files, generated from the models."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "siting scenario"
    return schema


def schema_text() -> str:
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
