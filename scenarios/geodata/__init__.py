"""Geodata: layers (read, check, reproject), coordinate systems, walking networks, OSM import.

* :mod:`.layers` - the scenario's layers read and checked (:func:`load_layers` -> :class:`LoadedLayers`);
* :mod:`.coords` - UTM zones, China's GCJ-02 / BD-09 offsets, swapped-axis detection;
* :mod:`.network` - walking distances over a street network (:class:`StreetNetwork`);
* :mod:`.osm` - an OpenStreetMap extract turned into scenario layers (:func:`prepare_osm`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.scenarios.lazy import lazy_exports

if TYPE_CHECKING:
    from siting.scenarios.geodata.coords import (
        bd09_to_wgs84,
        gcj02_to_wgs84,
        looks_swapped,
        utm_crs_for,
        wgs84_to_gcj02,
    )
    from siting.scenarios.geodata.layers import (
        LoadedLayers,
        load_layers,
        natural_key,
        read_layer,
        resolve_path,
        xy,
    )
    from siting.scenarios.geodata.network import (
        NetworkDistances,
        StreetNetwork,
        network_distances,
        walking_minutes_to_metres,
    )
    from siting.scenarios.geodata.osm import PreparedOsm, prepare_osm, read_walking_ways
    from siting.scenarios.geodata.problems import Problems

# name -> module: resolved on first use (PEP 562), so importing one submodule does not import them all
_EXPORTS = {
    "LoadedLayers": "siting.scenarios.geodata.layers",
    "NetworkDistances": "siting.scenarios.geodata.network",
    "PreparedOsm": "siting.scenarios.geodata.osm",
    "Problems": "siting.scenarios.geodata.problems",
    "StreetNetwork": "siting.scenarios.geodata.network",
    "bd09_to_wgs84": "siting.scenarios.geodata.coords",
    "gcj02_to_wgs84": "siting.scenarios.geodata.coords",
    "load_layers": "siting.scenarios.geodata.layers",
    "looks_swapped": "siting.scenarios.geodata.coords",
    "natural_key": "siting.scenarios.geodata.layers",
    "network_distances": "siting.scenarios.geodata.network",
    "prepare_osm": "siting.scenarios.geodata.osm",
    "read_layer": "siting.scenarios.geodata.layers",
    "read_walking_ways": "siting.scenarios.geodata.osm",
    "resolve_path": "siting.scenarios.geodata.layers",
    "utm_crs_for": "siting.scenarios.geodata.coords",
    "walking_minutes_to_metres": "siting.scenarios.geodata.network",
    "wgs84_to_gcj02": "siting.scenarios.geodata.coords",
    "xy": "siting.scenarios.geodata.layers",
}

__all__ = [
    "LoadedLayers",
    "NetworkDistances",
    "PreparedOsm",
    "Problems",
    "StreetNetwork",
    "bd09_to_wgs84",
    "gcj02_to_wgs84",
    "load_layers",
    "looks_swapped",
    "natural_key",
    "network_distances",
    "prepare_osm",
    "read_layer",
    "read_walking_ways",
    "resolve_path",
    "utm_crs_for",
    "walking_minutes_to_metres",
    "wgs84_to_gcj02",
    "xy",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
