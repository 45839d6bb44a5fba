"""The lon/lat columns of ``plan.csv`` and ``plan.xlsx`` in the system the scenario asks for.

``output.coordinates`` is ``wgs84`` (GPS, OpenStreetMap, the default), ``gcj02`` (Gaode/AMap, Tencent,
the offset the Chinese mapping rules require) or ``bd09`` (Baidu, GCJ-02 with Baidu's own second
offset). The engine computes in WGS 84; only the written lon/lat columns change:

* ``gcj02 = wgs84 + offset(wgs84)`` inside China, unchanged elsewhere
  (:func:`scenarios.geodata.coords.wgs84_to_gcj02`);
* ``bd09 = gcj02_to_bd09(gcj02)`` (:func:`scenarios.geodata.coords.gcj02_to_bd09`).

``siting report`` reads ``plan.csv`` back and turns the columns into WGS 84 again
(:func:`to_wgs84`) before it draws anything, so a map drawn from it stays on the streets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

SYSTEMS = ("wgs84", "gcj02", "bd09")


def coordinate_system(summary: dict[str, Any]) -> str:
    """The scenario's ``output.coordinates`` recorded in a run's summary (``wgs84`` when absent)."""
    value = ((summary.get("scenario") or {}).get("output") or {}).get("coordinates") or "wgs84"
    return str(value) if str(value) in SYSTEMS else "wgs84"


def from_wgs84(lon: Any, lat: Any, system: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS 84 lon/lat in ``system`` (vectorised; NaN stays NaN)."""
    from siting.scenarios.geodata.coords import gcj02_to_bd09, wgs84_to_gcj02

    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if system == "wgs84":
        return x, y
    gx, gy = wgs84_to_gcj02(x, y)
    return (gx, gy) if system == "gcj02" else gcj02_to_bd09(gx, gy)


def to_wgs84(lon: Any, lat: Any, system: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The inverse of :func:`from_wgs84` (GCJ-02 by fixed-point iteration, below 0.5 m)."""
    from siting.scenarios.geodata.coords import bd09_to_wgs84, gcj02_to_wgs84

    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if system == "wgs84":
        return x, y
    return gcj02_to_wgs84(x, y) if system == "gcj02" else bd09_to_wgs84(x, y)


def plan_in_system(plan: pd.DataFrame, system: str) -> pd.DataFrame:
    """``plan`` with its ``lon``/``lat`` columns (WGS 84) given in ``system``; ``plan`` is not modified."""
    if system == "wgs84" or not {"lon", "lat"} <= set(plan.columns) or plan.empty:
        return plan
    lon, lat = from_wgs84(plan["lon"].to_numpy(dtype=float), plan["lat"].to_numpy(dtype=float), system)
    return plan.assign(lon=lon, lat=lat)


__all__ = ["SYSTEMS", "coordinate_system", "from_wgs84", "plan_in_system", "to_wgs84"]
