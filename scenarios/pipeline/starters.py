"""Starting points: ``siting init`` (a copy of an example), ``siting prepare osm`` (scenario YAML from OSM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from siting.models.errors import ScenarioError
from siting.scenarios.pipeline.output_folder import claimed
from siting.scenarios.pipeline.progress import NullProgress

#: Services written by ``siting prepare osm``, with reaches from GB 50180-2018 and the domain notes
#: (minutes of walking at 4 km/h), illustrative costs in yuan by land type of
#: :data:`scenarios.geodata.osm.LAND_TYPES`, a cost for any other land type, a minimum plot area and a count limit.
OSM_SERVICES: dict[str, dict[str, Any]] = {
    "public_toilet": {
        "reach_minutes": 5,
        "cost_by_land_type": {
            "parking_lot": 300_000,
            "idle_land": 350_000,
            "construction_site": 350_000,
            "disused_building": 250_000,
            "warehouse": 250_000,
        },
        "default_cost": 400_000,
        "min_area_m2": 30,
        "max_sites": 5,
    },
    "elderly_care": {
        "reach_minutes": 15,
        "cost_by_land_type": {
            "warehouse": 1_200_000,
            "factory": 1_500_000,
            "disused_building": 1_000_000,
            "idle_land": 2_000_000,
        },
        "default_cost": 2_500_000,
        "min_area_m2": 200,
        "max_sites": 3,
    },
    "childcare": {
        "reach_minutes": 10,
        "cost_by_land_type": {
            "warehouse": 800_000,
            "disused_building": 700_000,
            "factory": 1_000_000,
            "idle_land": 1_200_000,
        },
        "default_cost": 1_500_000,
        "min_area_m2": 100,
        "max_sites": 3,
    },
    "ev_charging": {
        "reach_minutes": 10,
        "cost_by_land_type": {
            "parking_lot": 150_000,
            "idle_land": 200_000,
            "industrial_land": 200_000,
            "construction_site": 200_000,
        },
        "default_cost": 300_000,
        "min_area_m2": 30,
        "max_sites": 5,
    },
}


#: The demand group each service of :data:`OSM_SERVICES` serves (a column of demand.gpkg; see
#: :data:`scenarios.geodata.osm.CENSUS_SHARES`); a group absent from the shares falls back to ``residents``.
OSM_SERVICE_GROUPS = {
    "public_toilet": "residents",
    "elderly_care": "elderly_60plus",
    "childcare": "infants_0_3",
    "ev_charging": "ev_households",
}
#: Room one facility takes on a shared plot (m² of floor or plot), per service: a small public toilet,
#: a community elderly-care station and a childcare room (the project's Wuhai example), four charging bays.
OSM_ROOM_M2 = {"public_toilet": 50, "elderly_care": 300, "childcare": 200, "ev_charging": 60}
#: Phases of the placeholder budget, in build order, and each one's share of the total.
OSM_PHASES = {"phase_1": 0.4, "phase_2": 0.3, "phase_3": 0.3}
#: Marker written next to every value a planner must replace.
PLACEHOLDER = "PLACEHOLDER"


def placeholder_budget(services: dict[str, Any]) -> int:
    """A budget that buys about half of the sites the services allow, at their default costs.

    .. math:: B = \\tfrac12 \\sum_s \\text{max\\_sites}_s \\cdot \\text{default\\_cost}_s,

    rounded to 100,000: enough for a plan, too little for everything, so the ranking matters. It is a
    placeholder, marked as such in the file.
    """
    total = 0.5 * sum(float(v.get("max_sites") or 1) * float(v.get("default_cost") or 0.0) for v in services.values())
    return int(round(total / 100_000.0) * 100_000)


def group_weights(totals: dict[str, float], services: dict[str, str]) -> dict[str, float]:
    """Weight per service so that each service's whole group is worth as much as all residents.

    ``weight_s = residents / people of s's group`` (two significant digits; 1 when the group is empty),
    the rule of the project's examples: a covered child then counts as much, in the joint objective,
    as the share of residents it stands for.
    """
    base = float(totals.get("residents", 0.0))
    out: dict[str, float] = {}
    for svc, group in services.items():
        people = float(totals.get(group, 0.0))
        w = base / people if people > 0 and base > 0 else 1.0
        out[svc] = float(f"{w:.2g}")
    return out


def osm_scenario_yaml(name: str, prepared: Any, schema_ref: str) -> str:
    """The text of a scenario.yaml for the layers :func:`scenarios.geodata.osm.prepare_osm` wrote.

    Each service serves its own demand group (:data:`OSM_SERVICE_GROUPS`, from the census shares of
    the demand layer), takes :data:`OSM_ROOM_M2` of room on a shared plot, and is weighted by
    :func:`group_weights`; a budget with phases (:func:`placeholder_budget`, :data:`OSM_PHASES`) is
    written with every placeholder marked. A minimum plot area no candidate meets is dropped (with a
    comment) so that the scenario runs as written.
    """
    import geopandas as gpd
    import yaml

    sites = gpd.read_file(prepared.sites.path, layer=prepared.sites.layer) if prepared.sites.count else None
    areas = sites["area_m2"].to_numpy(dtype=float) if sites is not None else np.zeros(0)
    shares = dict((getattr(prepared, "assumptions", None) or {}).get("shares") or {})
    groups = {"residents": "residents", **{g: g for g in shares}}
    total_res = float(getattr(prepared, "total_residents", 0.0) or 0.0)
    totals = {"residents": total_res, **{g: total_res * float(v) for g, v in shares.items()}}
    served = {svc: (g if g in groups else "residents") for svc, g in OSM_SERVICE_GROUPS.items()}
    weights = group_weights(totals, served)
    services: dict[str, Any] = {}
    comments: list[str] = []
    present = {t for t, c in getattr(prepared, "land_type_counts", {}).items() if c}
    for svc, spec in OSM_SERVICES.items():
        room = OSM_ROOM_M2[svc]
        entry = {"demand_group": served[svc], **spec, "area_m2": room, "weight": weights[svc]}
        entry["min_area_m2"] = max(spec["min_area_m2"], room)  # a plot smaller than the room cannot host it
        if present:  # list only the land types the extract has; default_cost prices any other
            entry["cost_by_land_type"] = {t: c for t, c in spec["cost_by_land_type"].items() if t in present}
        if not (areas >= entry["min_area_m2"]).any():
            comments.append(
                f"# {svc}: no candidate plot has {entry['min_area_m2']} m² or more, so min_area_m2 and area_m2 are 0"
            )
            entry["min_area_m2"] = 0
            entry["area_m2"] = 0
        services[svc] = entry
    total = placeholder_budget(OSM_SERVICES)
    phases = {k: int(round(total * f / 100_000.0) * 100_000) for k, f in OSM_PHASES.items()}
    last = list(phases)[-1]
    phases[last] = total - sum(v for k, v in phases.items() if k != last)
    doc = {
        "name": name,
        "description": (
            f"Generated by `siting prepare osm` from {prepared.source.name}. Residents are estimated from "
            "building footprints x levels (see README.md); demand groups are census shares of residents; the "
            f"budget and costs are {PLACEHOLDER}S: replace them with local figures."
        ),
        "layers": {
            "demand": {
                "path": prepared.demand.path.name,
                "layer": prepared.demand.layer,
                "id": "id",
                "groups": groups,
                "repair_geometries": True,
            },
            "sites": {
                "path": prepared.sites.path.name,
                "layer": prepared.sites.layer,
                "id": "id",
                "land_type": "land_type",
                "area": "area_m2",
                "repair_geometries": True,
            },
            "existing": {
                "path": prepared.existing.path.name,
                "layer": prepared.existing.layer,
                "id": "id",
                "service": "service",
            },
            "streets": {"path": prepared.streets.path.name, "layer": prepared.streets.layer, "length": "length_m"},
            **{  # water and green areas: the map's background, when the extract has them
                role: {"path": lay.path.name, "layer": lay.layer, "id": "id", "repair_geometries": True}
                for role, lay in (getattr(prepared, "background", None) or {}).items()
            },
        },
        "distance": {"method": "network", "walking_speed_kmh": 4.0, "max_snap_m": 250},
        "services": services,
        "budget": {"total": total, "phases": phases, "carry_over": True},
        "objective": "max_coverage",
        "solver": {"name": "highs", "time_limit": 60},
        "output": {"folder": "out"},
    }
    share_text = ", ".join(f"{g} {v:.4g}" for g, v in shares.items()) or "none"
    head = [
        f"# yaml-language-server: $schema={schema_ref}",
        f"# Scenario written by `siting prepare osm` from {prepared.source.name} (© OpenStreetMap contributors, ODbL 1.0).",
        "# Run it with: siting run scenario.yaml",
        f"# Residents: {total_res:,.0f}, estimated from building footprints x levels / floor area per person (README.md).",
        f"# Demand groups are shares of residents ({share_text}; China's 7th census, 2020, by default):",
        "# replace them with your district's census figures (siting prepare osm --share NAME=VALUE).",
        f"# {PLACEHOLDER}: budget.total, budget.phases and every cost are illustrative figures, not prices;",
        "# replace them with the real budget and costs before deciding anything.",
        *comments,
    ]
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    marked = []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith(("total:", "phase_", "default_cost:")) or (
            line.startswith("    ")
            and stripped.split(":")[0] in {t for s in OSM_SERVICES.values() for t in s["cost_by_land_type"]}
        ):
            line += f"  # {PLACEHOLDER}"
        marked.append(line)
    return "\n".join(head) + "\n" + "\n".join(marked) + "\n"


def prepare_osm_scenario(
    pbf: str | Path,
    out: str | Path,
    bbox: tuple[float, float, float, float] | None = None,
    progress: Any = None,
    shares: dict[str, float] | None = None,
) -> Path:
    """``siting prepare osm``: layers from an OSM extract plus a scenario.yaml that runs, written atomically.

    The layers are written by :func:`scenarios.geodata.osm.prepare_osm` into a staging folder inside
    ``out``, the scenario.yaml is added, and the files are moved into place; ``out`` must not exist
    or be empty. Returns the scenario file.
    """
    from siting.scenarios.geodata.osm import prepare_osm

    progress = progress or NullProgress()
    pbf = Path(pbf)
    target = Path(out).expanduser().resolve()
    if not pbf.exists():
        raise ScenarioError(f"OpenStreetMap extract {pbf} not found; check the path")
    with claimed(target, "prepare osm", manifest=False) as folder:  # a new or empty folder only
        tmp = folder.staging
        with progress.step(f"reading {pbf.name}"):
            prepared = prepare_osm(pbf, tmp, bbox=bbox, shares=shares)
        if prepared.demand.count == 0:
            raise ScenarioError(
                f"{pbf.name}: no residential buildings found, so there is no demand; choose a larger --bbox or an "
                "extract with buildings, or supply a population layer by hand"
            )
        if prepared.sites.count == 0:
            raise ScenarioError(
                f"{pbf.name}: no candidate sites (idle or industrial land, warehouses, disused buildings, parking) "
                "found; choose a larger --bbox or add candidate plots by hand"
            )
        name = pbf.name.split(".")[0]
        (tmp / "scenario.yaml").write_text(osm_scenario_yaml(name, prepared, SCHEMA_NAME), encoding="utf-8")
        (tmp / SCHEMA_NAME).write_bytes(schema_bytes())
        folder.commit()
    return target / "scenario.yaml"


#: The examples ``siting init --example NAME`` copies (folders of ``scenarios/examples``).
EXAMPLES = ("helsinki", "wuhai", "kotka")


def retarget_text(text: str, example: str, target: Path) -> str:
    """An example's text with its repository path (``scenarios/examples/NAME/``) replaced by ``target``,
    so the copy's comments and README commands name the copy (``siting run <target>/scenario.yaml``)."""
    return text.replace(f"scenarios/examples/{example}/", f"{target.as_posix()}/")


def init_example(directory: str | Path, example: str = "helsinki") -> tuple[Path, Path]:
    """``siting init [--example NAME]``: copy a working example scenario folder into ``directory``.

    ``example`` is one of :data:`EXAMPLES` (default the Helsinki example); the tiny test scenario of
    the source tree stands in when the examples are not installed. ``directory`` must not exist or be
    empty; output folders of earlier runs are not copied. In the copied ``scenario.yaml`` and text
    files, the example's repository path is replaced by the new folder's (:func:`retarget_text`), and
    the ``$schema`` line points at the schema copied beside it.
    """
    if example not in EXAMPLES:
        raise ScenarioError(f"--example {example!r} is not a bundled example; choose one of {', '.join(EXAMPLES)}")
    scenarios = Path(__file__).resolve().parents[1]  # the siting.scenarios package, which ships the examples
    candidates = [scenarios / "examples" / example]
    if example == "helsinki":
        candidates.append(scenarios.parent / "tests" / "data" / "scenarios" / "tiny")
    source = next((c for c in candidates if (c / "scenario.yaml").is_file()), None)
    if source is None:
        raise ScenarioError(
            f"the {example} example is not installed with siting; see the README's Scenario files section"
        )
    target = Path(directory).expanduser().resolve()
    files: dict[str, bytes] = {}
    for f in sorted(source.rglob("*")):
        rel = f.relative_to(source)
        if f.is_file() and not any(part.startswith((".", "out", "__pycache__")) for part in rel.parts):
            data = f.read_bytes()
            if f.suffix in (".yaml", ".yml", ".md"):
                data = retarget_text(data.decode("utf-8"), example, target).encode("utf-8")
            files[str(rel)] = data
    text = files.get("scenario.yaml", b"").decode("utf-8")
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# yaml-language-server: $schema="):
        lines[0] = f"# yaml-language-server: $schema={SCHEMA_NAME}\n"
        files["scenario.yaml"] = "".join(lines).encode("utf-8")
    files[SCHEMA_NAME] = schema_bytes()
    with claimed(target, "init", manifest=False) as folder:  # a new or empty folder only
        for name, data in files.items():
            dest = folder.staging / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        folder.commit()
    return source, target


SCHEMA_NAME = "scenario.schema.json"


def schema_bytes() -> bytes:
    """The JSON Schema of scenario files, as generated from the models (what ``siting schema`` writes).

    ``siting init`` and ``siting prepare osm`` put a copy beside the scenario.yaml they write, so
    that the folder is self-contained and editors validate it with a relative ``$schema``.
    """
    from siting.scenarios.schema import schema_text

    return schema_text().encode("utf-8")
