"""Coordinate handling: local metric CRS, Chinese web-map offsets, swapped lon/lat detection.

Three small jobs that every layer reader needs before distances mean anything:

* :func:`utm_crs_for` picks the UTM zone (a metric CRS) for a lon/lat location;
* :func:`wgs84_to_gcj02`, :func:`gcj02_to_wgs84`, :func:`bd09_to_gcj02`, :func:`gcj02_to_bd09`,
  :func:`bd09_to_wgs84` undo (or apply) the offsets of Chinese web maps: GCJ-02 ("Mars coordinates",
  used by AMap/Gaode, Tencent and Google China) and BD-09 (Baidu, a second offset on top of GCJ-02);
* :func:`looks_like_lonlat` and :func:`looks_swapped` are heuristics used to build error messages when
  a layer's coordinates are not what the scenario says they are.

All conversions are vectorized numpy: scalars or arrays in, float64 arrays (0-d for scalars) out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyproj
from numpy.typing import ArrayLike, NDArray

from siting.models.errors import DataError

__all__ = [
    "CHINA_BBOX",
    "KRASOVSKY_A",
    "KRASOVSKY_EE",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "looks_like_lonlat",
    "looks_swapped",
    "utm_crs_for",
    "wgs84_to_gcj02",
]

#: Semi-major axis (m) of the Krasovsky 1940 ellipsoid used by the GCJ-02 formulas.
KRASOVSKY_A = 6378245.0
#: First eccentricity squared of the Krasovsky 1940 ellipsoid.
KRASOVSKY_EE = 0.00669342162296594323
#: The rectangle (W, S, E, N, degrees) inside which the GCJ-02 offset is applied; outside it the
#: offset is zero. This is the usual rough test used by the published implementations: it contains
#: all of mainland China but also parts of its neighbours.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

# BD-09 constant: pi * 3000 / 180.
_X_PI = np.pi * 3000.0 / 180.0


def _as_float_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError as exc:
        raise DataError(
            f"longitudes and latitudes have incompatible shapes {x.shape} and {y.shape}: give one latitude per longitude"
        ) from exc
    return x, y


def utm_crs_for(lon: float, lat: float) -> pyproj.CRS:
    """The WGS 84 / UTM zone CRS (EPSG:326zz north, EPSG:327zz south) that contains a lon/lat point.

    The zone is ``zz = floor((lon + 180) / 6) + 1`` (1..60), with the two standard exceptions:
    south-west Norway (56 <= lat < 64, 3 <= lon < 12) is zone 32, and Svalbard (72 <= lat < 84)
    uses zones 31, 33, 35 and 37 only. Latitudes >= 0 are northern zones.

    Parameters
    ----------
    lon, lat : float
        Longitude in [-180, 180] and latitude in [-80, 84] (the range UTM is defined on), degrees.

    Returns
    -------
    pyproj.CRS
        A metric, conformal CRS whose scale error is below 0.1 % within its zone.

    Raises
    ------
    DataError
        If the point is not a finite lon/lat inside UTM's range.
    """
    lon = float(lon)
    lat = float(lat)
    if not (np.isfinite(lon) and np.isfinite(lat)) or not (-180.0 <= lon <= 180.0) or not (-90.0 <= lat <= 90.0):
        raise DataError(
            f"cannot choose a UTM zone for lon={lon}, lat={lat}: this is not a longitude/latitude in degrees "
            "(lon in [-180, 180], lat in [-90, 90]); check the CRS of the layer, or whether lon and lat are swapped"
        )
    if not (-80.0 <= lat <= 84.0):
        raise DataError(
            f"lat={lat} is outside the UTM range [-80, 84]: give an explicit metric CRS (e.g. a polar stereographic one)"
        )
    zone = int(np.floor((lon + 180.0) / 6.0)) + 1
    zone = min(max(zone, 1), 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32
    elif 72.0 <= lat < 84.0 and 0.0 <= lon < 42.0:
        zone = 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37
    return pyproj.CRS.from_epsg((32600 if lat >= 0.0 else 32700) + zone)


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where (lon, lat) lies inside :data:`CHINA_BBOX` (where the GCJ-02 offset applies)."""
    x, y = _as_float_arrays(lon, lat)
    w, s, e, n = CHINA_BBOX
    return (x >= w) & (x <= e) & (y >= s) & (y <= n)


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS 84 point (lon, lat); zero outside China.

    With ``x = lon - 105`` and ``y = lat - 35`` (degrees) the published formulas are, in metres on
    the Krasovsky ellipsoid,

    .. math::

        T_{lat} &= -100 + 2x + 3y + 0.2y^2 + 0.1xy + 0.2\\sqrt{|x|}
                 + \\tfrac23 (20\\sin 6\\pi x + 20\\sin 2\\pi x)
                 + \\tfrac23 (20\\sin \\pi y + 40\\sin \\tfrac{\\pi y}{3})
                 + \\tfrac23 (160\\sin \\tfrac{\\pi y}{12} + 320\\sin \\tfrac{\\pi y}{30}) \\\\
        T_{lon} &= 300 + x + 2y + 0.1x^2 + 0.1xy + 0.1\\sqrt{|x|}
                 + \\tfrac23 (20\\sin 6\\pi x + 20\\sin 2\\pi x)
                 + \\tfrac23 (20\\sin \\pi x + 40\\sin \\tfrac{\\pi x}{3})
                 + \\tfrac23 (150\\sin \\tfrac{\\pi x}{12} + 300\\sin \\tfrac{\\pi x}{30})

    and these metres become degrees with the meridian radius of curvature
    ``M = a (1 - e^2) / W^3`` and the prime-vertical radius ``N = a / W``, ``W = sqrt(1 - e^2 sin^2 phi)``:
    ``dlat = T_lat * 180 / (pi M)``, ``dlon = T_lon * 180 / (pi N cos phi)``.
    """
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    periodic_x = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    t_lat = t_lat + periodic_x
    t_lat = t_lat + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    t_lat = t_lat + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y / 30.0 * pi)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    t_lon = t_lon + periodic_x
    t_lon = t_lon + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    t_lon = t_lon + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0

    phi = lat / 180.0 * pi
    w2 = 1.0 - KRASOVSKY_EE * np.sin(phi) ** 2
    w = np.sqrt(w2)
    meridian = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w2 * w)
    prime_vertical = KRASOVSKY_A / w
    dlat = t_lat * 180.0 / (meridian * pi)
    dlon = t_lon * 180.0 / (prime_vertical * np.cos(phi) * pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS 84 lon/lat to GCJ-02 (the offset coordinates of Gaode/AMap, Tencent, Google China).

    ``gcj = wgs + offset(wgs)`` with the offset of :func:`_gcj_offset` (Krasovsky 1940 ellipsoid,
    ``a = 6378245.0``, ``e^2 = 0.00669342162296594323``); outside :data:`CHINA_BBOX` the offset is zero
    and the points are returned unchanged. The offset is a few hundred metres in China.

    Parameters
    ----------
    lon, lat : array_like
        WGS 84 degrees; broadcast together.

    Returns
    -------
    (lon, lat) : tuple of float64 arrays
    """
    x, y = _as_float_arrays(lon, lat)
    dlon, dlat = _gcj_offset(x, y)
    return x + dlon, y + dlat


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 lon/lat back to WGS 84, by fixed-point iteration on the forward transform.

    GCJ-02 has no closed-form inverse. Starting from ``w_0 = g`` we iterate

    .. math:: w_{k+1} = w_k - (F(w_k) - g), \\qquad F = \\text{wgs84\\_to\\_gcj02},

    which converges because ``F - I`` (the offset) varies slowly: its Jacobian is of order 1e-5, so
    each step gains about five digits. We stop when ``max |F(w_k) - g| < tol_deg`` (1e-10 degrees,
    about 0.01 mm) for every point, or after ``max_iter`` steps (in practice 3). The result is
    accurate to well below 0.5 m (tests check round trips). Outside :data:`CHINA_BBOX` the offset is
    zero and the points are returned unchanged.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees; broadcast together.
    tol_deg : float
        Stopping tolerance on the forward residual, degrees.
    max_iter : int
        Upper bound on the number of iterations.

    Returns
    -------
    (lon, lat) : tuple of float64 arrays
    """
    gx, gy = _as_float_arrays(lon, lat)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(max_iter):
        fx, fy = wgs84_to_gcj02(wx, wy)
        rx, ry = fx - gx, fy - gy
        wx = wx - rx
        wy = wy - ry
        resid = np.maximum(np.abs(rx), np.abs(ry))
        if not np.any(resid[np.isfinite(resid)] >= tol_deg):
            break
    return wx, wy


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 (Baidu) lon/lat to GCJ-02.

    With ``x = lon - 0.0065``, ``y = lat - 0.006`` and ``x_pi = pi * 3000 / 180``:

    .. math::

        z &= \\sqrt{x^2 + y^2} - 2\\cdot 10^{-5} \\sin(y\\,x_{\\pi}) \\\\
        \\theta &= \\operatorname{atan2}(y, x) - 3\\cdot 10^{-6} \\cos(x\\,x_{\\pi}) \\\\
        \\text{gcj} &= (z \\cos\\theta,\\; z \\sin\\theta)

    This is Baidu's published approximate inverse of :func:`gcj02_to_bd09` (error of a few
    centimetres); it is applied everywhere (BD-09 is only used for China).
    """
    x, y = _as_float_arrays(lon, lat)
    x = x - 0.0065
    y = y - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """GCJ-02 lon/lat to BD-09 (Baidu).

    .. math::

        z &= \\sqrt{x^2 + y^2} + 2\\cdot 10^{-5} \\sin(y\\,x_{\\pi}) \\\\
        \\theta &= \\operatorname{atan2}(y, x) + 3\\cdot 10^{-6} \\cos(x\\,x_{\\pi}) \\\\
        \\text{bd} &= (z \\cos\\theta + 0.0065,\\; z \\sin\\theta + 0.006)

    with ``(x, y)`` the GCJ-02 lon/lat and ``x_pi = pi * 3000 / 180``.
    """
    x, y = _as_float_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BD-09 (Baidu) lon/lat to WGS 84: :func:`bd09_to_gcj02` then :func:`gcj02_to_wgs84`."""
    gx, gy = bd09_to_gcj02(lon, lat)
    return gcj02_to_wgs84(gx, gy)


def looks_like_lonlat(x: ArrayLike, y: ArrayLike) -> bool:
    """Whether coordinates could be degrees of longitude (x) and latitude (y).

    True when at least one finite value is given and every finite value has ``|x| <= 180`` and
    ``|y| <= 90``. Projected coordinates in metres almost never pass (they are far larger than 180
    except within 180 m of the false origin). Non-finite values are ignored.
    """
    xa, ya = _as_float_arrays(x, y)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if not ok.any():
        return False
    return bool(np.all(np.abs(xa[ok]) <= 180.0) and np.all(np.abs(ya[ok]) <= 90.0))


def looks_swapped(
    lon: ArrayLike,
    lat: ArrayLike,
    expected_bbox: Sequence[float] | None = None,
) -> bool:
    """Whether lon/lat values look like they were given the other way round (lat, lon).

    Two tests, used to turn a confusing downstream failure into a clear error message:

    * without ``expected_bbox``: the "latitudes" are not all valid (some ``|lat| > 90``) while every
      "longitude" is a valid latitude (``|lon| <= 90``) and every "latitude" a valid longitude
      (``|lat| <= 180``): only the swapped reading is valid. When both readings are valid (e.g.
      Europe, where lon and lat are both below 90) this test cannot tell and returns False;
    * with ``expected_bbox = (W, S, E, N)`` (degrees, e.g. the extent of the street network or of the
      city): more than half of the points fall inside it when swapped, and fewer than half as given.

    Parameters
    ----------
    lon, lat : array_like
        The values as labelled by the user ("lon" column, "lat" column). Non-finite values are ignored.
    expected_bbox : sequence of 4 floats, optional
        Where the points should be, as (west, south, east, north) degrees.

    Returns
    -------
    bool
        True only when swapping makes the data plausible and the given order does not.
    """
    xa, ya = _as_float_arrays(lon, lat)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if not ok.any():
        return False
    xa, ya = xa[ok], ya[ok]
    if expected_bbox is not None:
        if len(expected_bbox) != 4:
            raise DataError(f"expected_bbox must be (west, south, east, north), got {tuple(expected_bbox)!r}")
        w, s, e, n = (float(v) for v in expected_bbox)

        def share_inside(px: NDArray[np.float64], py: NDArray[np.float64]) -> float:
            return float(np.mean((px >= w) & (px <= e) & (py >= s) & (py <= n)))

        return share_inside(ya, xa) > 0.5 and share_inside(xa, ya) < 0.5
    given_valid = bool(np.all(np.abs(xa) <= 180.0) and np.all(np.abs(ya) <= 90.0))
    swapped_valid = bool(np.all(np.abs(ya) <= 180.0) and np.all(np.abs(xa) <= 90.0))
    return swapped_valid and not given_valid
