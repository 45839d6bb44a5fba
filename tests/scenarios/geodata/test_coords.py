"""Coordinate handling: UTM zones, GCJ-02 / BD-09 offsets, swapped lon/lat detection."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from siting.models.errors import DataError
from siting.scenarios.geodata.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    looks_like_lonlat,
    looks_swapped,
    utm_crs_for,
    wgs84_to_gcj02,
)

GEOD = pyproj.Geod(ellps="WGS84")

# Published reference vectors (wgs_lat, wgs_lon, gcj_lat, gcj_lon): the test table of the
# eviltransform project (github.com/googollee/eviltransform, go/transform_test.go), an independent
# implementation of the same published formulas; the values are widely reused by other ports.
EVILTRANSFORM_VECTORS = np.array(
    [
        (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
        (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
        (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
    ]
)


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def test_wgs84_to_gcj02_matches_published_vectors() -> None:
    lat, lon, glat, glon = EVILTRANSFORM_VECTORS.T
    x, y = wgs84_to_gcj02(lon, lat)
    np.testing.assert_allclose(x, glon, atol=1e-9)
    np.testing.assert_allclose(y, glat, atol=1e-9)
    # the offset is several hundred metres, so getting it right matters
    assert _metres(lon, lat, glon, glat).min() > 100.0


def test_gcj02_to_wgs84_inverts_published_vectors_within_half_a_metre() -> None:
    lat, lon, glat, glon = EVILTRANSFORM_VECTORS.T
    x, y = gcj02_to_wgs84(glon, glat)
    assert _metres(x, y, lon, lat).max() < 0.5


def test_gcj02_round_trip_is_sub_half_metre_everywhere_in_china() -> None:
    rng = np.random.default_rng(42)
    lon = rng.uniform(73.0, 135.0, 20_000)
    lat = rng.uniform(18.0, 53.0, 20_000)
    gx, gy = wgs84_to_gcj02(lon, lat)
    wx, wy = gcj02_to_wgs84(gx, gy)
    assert _metres(wx, wy, lon, lat).max() < 0.5
    assert wx.shape == lon.shape and wx.dtype == np.float64


def test_no_offset_outside_china() -> None:
    # Helsinki, Denver, Brisbane, Rio de Janeiro: outside the box the conversions are the identity.
    lon = np.array([24.94, -104.9903, 153.0251, -43.1729])
    lat = np.array([60.17, 39.7392, -27.4698, -22.9068])
    assert not in_china(lon, lat).any()
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84):
        x, y = fn(lon, lat)
        np.testing.assert_array_equal(x, lon)
        np.testing.assert_array_equal(y, lat)


def test_bd09_matches_published_vectors() -> None:
    # Reference values printed in the test script of the coordtransform project
    # (github.com/wandergis/coordtransform, test/app.js), computed from the published BD-09 formulas.
    x, y = bd09_to_gcj02(116.404, 39.915)
    assert (float(x), float(y)) == pytest.approx((116.39762729119315, 39.90865673957631), abs=1e-9)
    x, y = gcj02_to_bd09(116.404, 39.915)
    assert (float(x), float(y)) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-9)


def test_bd09_round_trip_and_to_wgs84() -> None:
    rng = np.random.default_rng(3)
    lon = rng.uniform(100.0, 125.0, 1000)
    lat = rng.uniform(20.0, 45.0, 1000)
    bx, by = gcj02_to_bd09(lon, lat)
    gx, gy = bd09_to_gcj02(bx, by)
    assert _metres(gx, gy, lon, lat).max() < 0.5  # Baidu's inverse is approximate (centimetres)
    # BD-09 -> WGS 84 is BD-09 -> GCJ-02 -> WGS 84
    wx, wy = bd09_to_wgs84(bx, by)
    ex, ey = gcj02_to_wgs84(gx, gy)
    np.testing.assert_array_equal(wx, ex)
    np.testing.assert_array_equal(wy, ey)


def test_scalars_and_broadcasting() -> None:
    x, y = wgs84_to_gcj02(116.0, 40.0)
    assert np.ndim(x) == 0 and np.ndim(y) == 0
    x, y = gcj02_to_wgs84([[116.0, 117.0]], 40.0)
    assert x.shape == (1, 2) and y.shape == (1, 2)
    with pytest.raises(DataError, match="shapes"):
        wgs84_to_gcj02([1.0, 2.0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        # Hand-checked: zone = floor((lon + 180) / 6) + 1, 326zz north, 327zz south.
        (24.94, 60.17, 32635),  # Helsinki: floor(204.94 / 6) + 1 = 35
        (106.82, 39.67, 32648),  # Wuhai: floor(286.82 / 6) + 1 = 48
        (151.21, -33.87, 32756),  # Sydney: floor(331.21 / 6) + 1 = 56, south
        (-0.13, 51.51, 32630),  # London: floor(179.87 / 6) + 1 = 30
        (5.32, 60.39, 32632),  # Bergen: would be 31, the Norway exception makes it 32
        (15.64, 78.22, 32633),  # Longyearbyen: Svalbard exception, zone 33
        (180.0, 0.0, 32660),  # the antimeridian stays in zone 60
    ],
)
def test_utm_crs_for(lon: float, lat: float, epsg: int) -> None:
    crs = utm_crs_for(lon, lat)
    assert crs.to_epsg() == epsg
    assert crs.is_projected


def test_utm_crs_for_rejects_non_degrees() -> None:
    with pytest.raises(DataError, match="swapped"):
        utm_crs_for(60.17, 124.94)
    with pytest.raises(DataError, match="UTM range"):
        utm_crs_for(10.0, 85.0)
    with pytest.raises(DataError, match="longitude/latitude"):
        utm_crs_for(385000.0, 6672000.0)


def test_looks_like_lonlat() -> None:
    assert looks_like_lonlat([24.94, 24.95], [60.17, 60.18])
    assert looks_like_lonlat([24.94, np.nan], [60.17, 60.18])  # missing values are ignored
    assert not looks_like_lonlat([385000.0], [6672000.0])  # TM35FIN metres
    assert not looks_like_lonlat([np.nan], [np.nan])


def test_looks_swapped() -> None:
    # Wuhai given as (lat, lon): "lat" 106.8 is impossible, the swapped reading is fine.
    assert looks_swapped([39.67, 39.70], [106.82, 106.85])
    assert not looks_swapped([106.82, 106.85], [39.67, 39.70])
    # Helsinki: both readings are valid degrees, so only a known extent can tell.
    assert not looks_swapped([60.17], [24.94])
    helsinki = (24.90, 60.10, 25.00, 60.20)
    assert looks_swapped([60.17, 60.16], [24.94, 24.95], expected_bbox=helsinki)
    assert not looks_swapped([24.94, 24.95], [60.17, 60.16], expected_bbox=helsinki)
    with pytest.raises(DataError, match="west, south, east, north"):
        looks_swapped([1.0], [2.0], expected_bbox=(1.0, 2.0))
