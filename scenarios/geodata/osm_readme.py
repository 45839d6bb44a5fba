"""The README that ``siting prepare osm`` writes beside the layers: sources, counts and every assumption."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from siting.scenarios.geodata.osm import (
    LAND_TYPES,
    METRES_PER_LEVEL,
    MIN_TAGGED_FOR_MEDIAN,
    MIN_UNTYPED_FOOTPRINT_M2,
    OSM_ATTRIBUTION,
    SERVICES,
    PreparedLayer,
)


def readme_text(
    src: Path,
    sha: str,
    box: Any,
    crs_name: str,
    layers: Mapping[str, PreparedLayer],
    total_res: float,
    land_type_counts: Mapping[str, int],
    service_counts: Mapping[str, int],
    assumptions: Mapping[str, Any],
    notes: Sequence[str],
) -> str:
    rows = "\n".join(
        f"| `{lay.path.name}` | `{lay.layer}` | {lay.count:,} | {lay.geometry_type} | "
        f"{', '.join(f'`{c}`' for c in lay.columns)} |"
        for lay in layers.values()
    )
    lt = ", ".join(f"{k} {v}" for k, v in land_type_counts.items())
    sv = ", ".join(f"{k} {v}" for k, v in service_counts.items())
    levels = ", ".join(f"{k} {v:g}" for k, v in assumptions["default_levels"].items())
    land_rules = "\n".join(f"  - `{k}`: {v}" for k, v in LAND_TYPES.items())
    svc_rules = "\n".join(f"  - `{k}`: {v}" for k, v in SERVICES.items())
    note_lines = "\n".join(f"- {n}" for n in notes) or "- none"
    shares_text = ", ".join(f"`{k}` {v:.4g}" for k, v in assumptions["shares"].items()) or "none"
    bbox_text = "the whole extract" if box is None else f"west,south,east,north = {','.join(f'{v:g}' for v in box)}"
    untyped = {
        "in_residential_landuse": "`building=yes` counts when it lies in a `landuse=residential` area and has no "
        "`amenity`, `shop` or `office` tag",
        "all": "every `building=yes` counts",
        "none": "`building=yes` does not count",
    }[assumptions["untyped_buildings"]]
    return f"""# Scenario layers prepared from OpenStreetMap

Prepared by `siting prepare osm` (scenarios.geodata.osm.prepare_osm) from `{src.name}`
(sha256 {sha}), {bbox_text}. Every layer is in **{crs_name}** (metres).

| file | layer | features | geometry | columns |
|---|---|---|---|---|
{rows}

Candidate sites by land type: {lt}.
Existing facilities by service: {sv}.
Estimated residents in total: {total_res:,.0f}.

## Assumptions
- **Residents** = footprint area (m²) × levels × {assumptions["persons_per_m2_floor"]:.4g} persons per m² of floor
  (1 resident per {assumptions["floor_area_per_resident_m2"]:.4g} m² of floor area). Levels come from `building:levels`,
  else `max(1, round(height / {METRES_PER_LEVEL:g} m))`, else the median levels of the extract's tagged
  residential buildings when {MIN_TAGGED_FOR_MEDIAN} or more are tagged (`extract_median`), else a default by building
  type ({levels}; other types {assumptions["fallback_levels"]:g}); column `levels_source` says which. An untyped
  `building=yes` with less than {MIN_UNTYPED_FOOTPRINT_M2:g} m² of footprint is taken as an outbuilding (shed, sauna,
  garage) and left out. Floor area per person: about 41 m² in Finland (Statistics Finland 2022), 41.76 m² in China
  (7th national census, 2020). This is a coarse estimate:
  replace `residents` with census or population-grid figures where you have them.
- **Residential buildings**: `building` in {", ".join(assumptions["residential_buildings"])}; {untyped}.
- **Demand groups** (columns of `demand.gpkg`) = residents × share: {shares_text}. Defaults from China's 7th
  national census (2020): 18.70 % aged 60+; children under 3 about 3 %; EV households one per 2.62 persons × an
  illustrative 6 % of households with an electric car. Replace them with your district's census shares.
- **Candidate land types** (first rule that matches wins):
{land_rules}
- **Existing services**:
{svc_rules}
- **Streets**: ways of pyrosm's `network_type="walking"` filter.

## Notes
{note_lines}

## Licence and attribution
Data {OSM_ATTRIBUTION}
"""


__all__ = ["readme_text"]
