"""Heavy inputs of a batch, built once per worker process and shared by its variants.

Reading the layers and measuring walking distances over the street network cost more than many
small solves; variants of one scenario mostly share them. :class:`VariantInputs` is the ``inputs``
hook of :func:`scenarios.build.build`: the layers are read once per process for each distinct
``(layers, crs, folder)``; the street network and the walking distances once for each distinct
``(layers, crs, distance settings, cutoff, closed / opened facilities)``. Each worker process
(Dask worker or the serial engine) keeps its own cache (:data:`CACHE`), so nothing large travels
between processes: a task sends a few settings and gets back one row and one plan table.

A variant may also change the layers it is given (never the cached ones):

* ``population_seed`` / ``population_spread``: every demand point's people of every group times
  ``u_i ~ U[1 - spread, 1 + spread]``, drawn from ``numpy.random.default_rng(seed)`` (one draw per
  point, the same for every group: the point's population is uncertain, not its composition);
* ``close``: existing facilities removed; ``open``: a facility of a service put on a candidate plot
  (an existing facility at the plot's position; see :mod:`scenarios.batch.whatif`).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from siting.models.errors import ScenarioError

#: Per-process cache: key -> layers or (network, distances); least recently used dropped beyond CACHE_SIZE.
CACHE: OrderedDict[str, Any] = OrderedDict()
CACHE_SIZE = 16
_lock = threading.Lock()
#: How often each kind was built in this process (tests and the benchmark read it).
BUILDS = {"layers": 0, "network": 0}


def _cached(key: str, make: Callable[[], Any], kind: str) -> Any:
    with _lock:
        if key in CACHE:
            CACHE.move_to_end(key)
            return CACHE[key]
    value = make()
    with _lock:
        BUILDS[kind] += 1
        CACHE[key] = value
        while len(CACHE) > CACHE_SIZE:
            CACHE.popitem(last=False)
    return value


def clear_cache() -> None:
    """Forget every cached input of this process."""
    with _lock:
        CACHE.clear()
        BUILDS.update(layers=0, network=0)


def layers_key(body: Any, base_dir: Path) -> str:
    return json.dumps(
        {"layers": body.layers.model_dump(mode="json"), "crs": body.crs, "dir": str(base_dir)}, sort_keys=True
    )


@dataclass(frozen=True)
class VariantInputs:
    """The ``inputs`` hook of :func:`scenarios.build.build` for one variant (see the module docstring)."""

    population_seed: int | None = None
    population_spread: float = 0.15
    close: tuple[str, ...] = ()
    open: tuple[tuple[str, str], ...] = ()

    def base_layers(self, body: Any, base_dir: Path, source: str, progress: Any) -> Any:
        """The layers as read from the files (cached; never modify them)."""
        from siting.scenarios.geodata.layers import load_layers

        return _cached(layers_key(body, base_dir), lambda: load_layers(body, base_dir, source, progress), "layers")

    def layers(self, body: Any, base_dir: Path, source: str, progress: Any) -> Any:
        layers = self.base_layers(body, base_dir, source, progress)
        if self.population_seed is None and not self.close and not self.open:
            return layers
        demand, existing = layers.demand, layers.existing
        if self.population_seed is not None:
            rng = np.random.default_rng(self.population_seed)
            u = rng.uniform(1.0 - self.population_spread, 1.0 + self.population_spread, size=len(demand))
            demand = demand.copy()
            for g in body.layers.demand.groups:
                demand[g] = demand[g].to_numpy(dtype=np.float64) * u
        if self.close or self.open:
            existing = _changed_existing(layers, self.close, self.open, source)
        return replace(layers, demand=demand, existing=existing)

    def network(self, body: Any, cutoff: float, measure: Callable[[], Any]) -> Any:
        key = json.dumps(
            {
                "layers": body.layers.model_dump(mode="json"),
                "crs": body.crs,
                "distance": body.distance.model_dump(mode="json"),
                "cutoff": cutoff,
                "close": sorted(self.close),
                "open": sorted(self.open),
            },
            sort_keys=True,
            default=str,
        )
        return _cached(key, measure, "network")


def _changed_existing(layers: Any, close: tuple[str, ...], opened: tuple[tuple[str, str], ...], source: str) -> Any:
    """The existing facilities with ``close`` removed and ``opened`` (site, service) added."""
    import geopandas as gpd
    import pandas as pd

    from siting.scenarios.geodata.layers import show_ids

    existing = layers.existing
    if close:
        if existing is None:
            raise ScenarioError(f"{source}: close: the scenario has no existing facilities (layers.existing)")
        ids = existing.index.astype(str)
        unknown = sorted(set(close) - set(ids))
        if unknown:
            raise ScenarioError(
                f"{source}: close: no existing facility {show_ids(unknown)}; existing facilities: {show_ids(sorted(ids), 10)}"
            )
        existing = existing[~ids.isin(list(close))]
    if opened:
        sites = layers.sites
        sids = sites.index.astype(str)
        unknown = sorted({s for s, _ in opened} - set(sids))
        if unknown:
            raise ScenarioError(f"{source}: no candidate site {show_ids(unknown)} in layers.sites")
        pos = sids.get_indexer([s for s, _ in opened])
        add = gpd.GeoDataFrame(
            {"service": [svc for _, svc in opened]},
            geometry=sites.geometry.iloc[pos].to_numpy(),
            index=pd.Index(
                [f"plot:{s}" for s, _ in opened], name=existing.index.name if existing is not None else None
            ),
            crs=sites.crs,
        )
        if existing is not None:
            add = add.reindex(columns=existing.columns)
            add["service"] = [svc for _, svc in opened]
            add = add.set_geometry(existing.geometry.name) if existing.geometry.name in add else add
            existing = pd.concat([existing, add])
        else:
            existing = add
    return existing
