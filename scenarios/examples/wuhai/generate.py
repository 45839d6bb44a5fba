"""Generate the SYNTHETIC Wuhai (乌海) pilot scenario data: ``wuhai.gpkg``.

Everything this script writes is invented. It imitates the shape of Wuhai's 15-minute life-circle
programme (five pilot communities, 3 in Haibowan 海勃湾, 1 in Wuda 乌达, 1 in Hainan 海南, about
10,000 residents each, built out 2022-2024) so that the engine can be shown and tested on a Chinese
case; it is not survey data and no block, plot or facility in it exists. Every layer carries a
``synthetic`` column (always true), a layer description starting with ``SYNTHETIC`` and the layer
metadata ``synthetic=true``.

Run from the repository root (needs numpy, geopandas, pyogrio, pyproj, shapely)::

    python scenarios/examples/wuhai/generate.py            # rewrites scenarios/examples/wuhai/wuhai.gpkg
    python scenarios/examples/wuhai/generate.py --out DIR  # writes DIR/wuhai.gpkg

The output is byte-stable: a seeded ``numpy`` generator per community, coordinates rounded to
1e-7 degrees, rows in a fixed order, and the GeoPackage timestamp pinned (``OGR_CURRENT_DATE``).

How the data are made (lengths in metres, in the local CGCS2000 3-degree Gauss-Krüger plane,
``EPSG:4545``, central meridian 108°E; stored as CGCS2000 lon/lat, ``EPSG:4490``):

* **Communities.** Each is an ``nx x ny`` grid of blocks (3 x 2 or 2 x 3), ``0.22-0.28 km²`` in all,
  rotated by up to ±12°, centred at an approximate real district-centre coordinate plus an
  offset (``COMMUNITIES``).
* **Blocks (demand).** The grid cells inset 10 m from the street centre lines. A community holds
  ``N ~ U(9,600, 11,200)`` residents, split over its 6 blocks with weights ``1 + 0.25 U(-1, 1)``
  (so always 1,029-2,800 residents a block, within the 1,000-3,000 of a GB 50180 residential block).
  ``elderly_60plus = round(residents * s_e)`` with ``s_e ~ N(0.1978, 0.03)`` clipped to
  [0.10, 0.32] (Inner Mongolia, 2020 census: 19.78 % aged 60+); ``infants_0_3 = round(residents *
  s_i)`` with ``s_i ~ N(0.024, 0.006)`` clipped to [0.01, 0.04] (three birth cohorts at roughly
  8 births per 1,000, illustrative); ``ev_households = round(residents / 2.35 * s_v)`` with
  ``s_v ~ N(0.06, 0.015)`` clipped to [0.02, 0.12] (2.35 persons per household, Inner Mongolia
  2020 census; the EV share is illustrative).
* **Streets.** The block grid's centre lines, split at every crossing, an outer ring road 100 m
  outside the community with stubs to it, and straight connectors between the communities (so the
  whole network is one connected component).
* **Candidate sites.** Eight rectangles per community, area log-uniform in the range of their land
  type (``AREA_RANGES``, 100-3,000 m²): commercial, demolition sites and one idle plot inside the
  blocks; warehouses, a factory and one idle plot in the strip between the community and the ring
  road. They keep 5 m from each other and from every street.
* **Existing facilities.** A few points beside the streets (``EXISTING``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
from shapely.geometry import LineString, Point, Polygon

HERE = Path(__file__).resolve().parent
SEED = 2022
LOCAL_CRS = "EPSG:4545"  # CGCS2000 / 3-degree Gauss-Kruger CM 108E (Wuhai lies at about 106.8°E)
STORE_CRS = "EPSG:4490"  # CGCS2000 geographic (lon/lat), the national datum
FILE_NAME = "wuhai.gpkg"
GPKG_DATE = "2022-01-01T00:00:00Z"  # pinned GeoPackage timestamp, for byte-stable output
LABEL = "SYNTHETIC data (invented, not surveyed) for the siting Wuhai pilot example"

#: Approximate district-centre coordinates (lon, lat; WGS 84 ~ CGCS2000), rounded to 0.01°.
DISTRICT_CENTRES = {"haibowan": (106.82, 39.67), "wuda": (106.72, 39.50), "hainan": (106.88, 39.43)}
#: id, district, English name, Chinese name, offset east / north (m) from the district centre.
COMMUNITIES = [
    ("HBW-1", "haibowan", "Haibowan pilot community 1 (synthetic)", "海勃湾试点社区一（合成）", -1200.0, 900.0),
    ("HBW-2", "haibowan", "Haibowan pilot community 2 (synthetic)", "海勃湾试点社区二（合成）", 900.0, -300.0),
    ("HBW-3", "haibowan", "Haibowan pilot community 3 (synthetic)", "海勃湾试点社区三（合成）", -200.0, -1800.0),
    ("WD-1", "wuda", "Wuda pilot community (synthetic)", "乌达试点社区（合成）", 0.0, 0.0),
    ("HN-1", "hainan", "Hainan pilot community (synthetic)", "海南试点社区（合成）", 0.0, 0.0),
]
#: Pairs of communities joined by a straight connector road.
CONNECTORS = [("HBW-1", "HBW-2"), ("HBW-2", "HBW-3"), ("HBW-3", "WD-1"), ("HBW-3", "HN-1")]
#: Land types and their plot areas (m², log-uniform).
AREA_RANGES = {
    "idle_land": (300.0, 3000.0),
    "warehouse": (200.0, 2500.0),
    "factory": (600.0, 3000.0),
    "commercial": (100.0, 1200.0),
    "demolition_site": (100.0, 1500.0),
}
#: Candidate sites of a community: inside the blocks, and in the strip outside them.
SITES_INSIDE = ("commercial", "demolition_site", "demolition_site", "idle_land")
SITES_OUTSIDE = ("warehouse", "warehouse", "factory", "idle_land")
#: Existing facilities by community (service names as in scenario.yaml).
EXISTING = {
    "HBW-1": ("public_toilet", "elderly_care"),
    "HBW-2": ("childcare", "public_toilet"),
    "HBW-3": ("ev_charging",),
    "WD-1": ("childcare", "elderly_care", "public_toilet"),
    "HN-1": ("public_toilet",),
}
INSET_M = 10.0  # block edge to street centre line
RING_M = 100.0  # outer ring road, beyond the community edge
ROUND_DEG = 7  # lon/lat decimals (about 1 cm)


def _rotate(xy: np.ndarray, theta: float) -> np.ndarray:
    """Rotate (k, 2) local coordinates by ``theta`` radians about the origin."""
    c, s = math.cos(theta), math.sin(theta)
    return xy @ np.array([[c, s], [-s, c]])


def _rect(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    """Corners (closed ring, 5 x 2) of an axis-parallel rectangle centred at (cx, cy)."""
    return np.array(
        [
            [cx - w / 2, cy - h / 2],
            [cx + w / 2, cy - h / 2],
            [cx + w / 2, cy + h / 2],
            [cx - w / 2, cy + h / 2],
            [cx - w / 2, cy - h / 2],
        ]
    )


class _Community:
    """One synthetic community in its local frame (metres from its centre, unrotated)."""

    def __init__(
        self, spec: tuple[str, str, str, str, float, float], rng: np.random.Generator, to_local: pyproj.Transformer
    ) -> None:
        self.cid, self.district, self.name_en, self.name_zh, dx, dy = spec
        self.rng = rng
        lon, lat = DISTRICT_CENTRES[self.district]
        x0, y0 = to_local.transform(lon, lat)
        self.origin = np.array([x0 + dx, y0 + dy])
        self.theta = math.radians(float(rng.uniform(-12.0, 12.0)))
        self.nx, self.ny = (3, 2) if rng.random() < 0.5 else (2, 3)
        area = float(rng.uniform(0.22e6, 0.28e6))
        self.bw = float(rng.uniform(150.0, 190.0))
        self.bh = area / (self.nx * self.bw * self.ny)
        self.w, self.h = self.nx * self.bw, self.ny * self.bh
        self.xs = -self.w / 2 + self.bw * np.arange(self.nx + 1)
        self.ys = -self.h / 2 + self.bh * np.arange(self.ny + 1)

    def to_plane(self, xy: np.ndarray) -> np.ndarray:
        """Local (k, 2) -> Gauss-Krüger plane coordinates."""
        return _rotate(np.asarray(xy, dtype=float), self.theta) + self.origin

    # ----------------------------------------------------------------------------- streets
    def streets(self) -> list[tuple[str, str, np.ndarray]]:
        """(id, highway, 2 x 2 local segment) for the block grid, the ring and the stubs."""
        segs: list[tuple[str, np.ndarray]] = []
        last_x, last_y = self.nx, self.ny
        for j, y in enumerate(self.ys):
            kind = "tertiary" if j in (0, last_y) else "residential"
            segs += [(kind, np.array([[self.xs[i], y], [self.xs[i + 1], y]])) for i in range(self.nx)]
        for i, x in enumerate(self.xs):
            kind = "tertiary" if i in (0, last_x) else "residential"
            segs += [(kind, np.array([[x, self.ys[j]], [x, self.ys[j + 1]]])) for j in range(self.ny)]
        hx, hy = self.w / 2 + RING_M, self.h / 2 + RING_M
        for x in self.xs:  # stubs north and south, and the ring split at them
            segs += [
                ("service", np.array([[x, self.h / 2], [x, hy]])),
                ("service", np.array([[x, -self.h / 2], [x, -hy]])),
            ]
        for y in self.ys:
            segs += [
                ("service", np.array([[self.w / 2, y], [hx, y]])),
                ("service", np.array([[-self.w / 2, y], [-hx, y]])),
            ]
        ring_x = np.concatenate([[-hx], self.xs, [hx]])
        ring_y = np.concatenate([[-hy], self.ys, [hy]])
        for y in (-hy, hy):
            segs += [("secondary", np.array([[ring_x[k], y], [ring_x[k + 1], y]])) for k in range(len(ring_x) - 1)]
        for x in (-hx, hx):
            segs += [("secondary", np.array([[x, ring_y[k]], [x, ring_y[k + 1]]])) for k in range(len(ring_y) - 1)]
        return [(f"{self.cid}-E{k + 1:03d}", kind, seg) for k, (kind, seg) in enumerate(segs)]

    def ring_corners(self) -> np.ndarray:
        hx, hy = self.w / 2 + RING_M, self.h / 2 + RING_M
        return self.to_plane(np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]]))

    # ------------------------------------------------------------------------------ blocks
    def blocks(self) -> list[dict]:
        """Block polygons (local) with residents and the derived demand groups."""
        rng = self.rng
        n_blocks = self.nx * self.ny
        total = float(rng.uniform(9600.0, 11200.0))
        w = 1.0 + 0.25 * rng.uniform(-1.0, 1.0, n_blocks)
        residents = np.round(total * w / w.sum())
        s_e = np.clip(rng.normal(0.1978, 0.03, n_blocks), 0.10, 0.32)
        s_i = np.clip(rng.normal(0.024, 0.006, n_blocks), 0.01, 0.04)
        s_v = np.clip(rng.normal(0.06, 0.015, n_blocks), 0.02, 0.12)
        out = []
        for k in range(n_blocks):
            i, j = k % self.nx, k // self.nx
            cx, cy = (self.xs[i] + self.xs[i + 1]) / 2, (self.ys[j] + self.ys[j + 1]) / 2
            out.append(
                {
                    "block_id": f"{self.cid}-B{k + 1:02d}",
                    "residents": int(residents[k]),
                    "elderly_60plus": int(np.rint(residents[k] * s_e[k])),
                    "infants_0_3": int(np.rint(residents[k] * s_i[k])),
                    "ev_households": int(np.rint(residents[k] / 2.35 * s_v[k])),
                    "local": _rect(cx, cy, self.bw - 2 * INSET_M, self.bh - 2 * INSET_M),
                }
            )
        return out

    # ------------------------------------------------------------------------------- sites
    def sites(self) -> list[dict]:
        """Non-overlapping candidate plots (local rectangles) with land type and area."""
        rng = self.rng
        # the street lines (stubs cross the outer strip) are obstacles too, 5 m either side
        obstacles = [LineString(seg).buffer(5.0) for _, _, seg in self.streets()]
        placed: list[Polygon] = []
        out = []
        for k, (land, inside) in enumerate([(t, True) for t in SITES_INSIDE] + [(t, False) for t in SITES_OUTSIDE]):
            lo, hi = AREA_RANGES[land]
            area = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            aspect = float(rng.uniform(1.0, 2.0))
            long_side, short_side = math.sqrt(area * aspect), math.sqrt(area / aspect)
            for _ in range(200):
                if inside:
                    i, j = int(rng.integers(self.nx)), int(rng.integers(self.ny))
                    w, h = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
                    x_lo, x_hi = self.xs[i] + INSET_M + 5 + w / 2, self.xs[i + 1] - INSET_M - 5 - w / 2
                    y_lo, y_hi = self.ys[j] + INSET_M + 5 + h / 2, self.ys[j + 1] - INSET_M - 5 - h / 2
                    cx, cy = float(rng.uniform(x_lo, x_hi)), float(rng.uniform(y_lo, y_hi))
                else:  # the strip between the community edge and the ring road, on one of 4 sides
                    side = int(rng.integers(4))
                    depth = (
                        INSET_M + 5 + short_side / 2 + float(rng.uniform(0.0, RING_M - 2 * INSET_M - 10 - short_side))
                    )
                    if side in (0, 1):  # south / north: long side along x
                        w, h = long_side, short_side
                        cx = float(rng.uniform(-self.w / 2 + w / 2, self.w / 2 - w / 2))
                        cy = (self.h / 2 + depth) * (1 if side else -1)
                    else:  # west / east
                        w, h = short_side, long_side
                        cy = float(rng.uniform(-self.h / 2 + h / 2, self.h / 2 - h / 2))
                        cx = (self.w / 2 + depth) * (1 if side == 3 else -1)
                poly = Polygon(_rect(cx, cy, w, h))
                if not any(poly.buffer(5.0).intersects(p) for p in placed) and not any(
                    poly.intersects(o) for o in obstacles
                ):
                    break
            else:  # pragma: no cover - the layout has plenty of room
                raise RuntimeError(f"{self.cid}: could not place site {k + 1} ({land}, {area:.0f} m²)")
            placed.append(poly)
            out.append({"site_id": f"{self.cid}-S{k + 1:02d}", "land_type": land, "local": _rect(cx, cy, w, h)})
        return out

    # ---------------------------------------------------------------------------- existing
    def existing(self) -> list[dict]:
        """Existing facilities: points 8-20 m beside a random interior street segment."""
        rng = self.rng
        out = []
        for k, service in enumerate(EXISTING.get(self.cid, ())):
            i, j = int(rng.integers(self.nx + 1)), int(rng.integers(self.ny))
            y = float(rng.uniform(self.ys[j], self.ys[j + 1]))
            x = self.xs[i] + float(rng.choice([-1.0, 1.0])) * float(rng.uniform(8.0, 20.0))
            x = float(np.clip(x, -self.w / 2 - 20.0, self.w / 2 + 20.0))
            out.append({"facility_id": f"{self.cid}-F{k + 1:02d}", "service": service, "local": np.array([[x, y]])})
        return out


def generate(out_dir: Path = HERE, seed: int = SEED) -> Path:
    """Write ``out_dir/wuhai.gpkg`` (layers communities, blocks, candidate_sites, facilities, streets).

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created if missing); an existing ``wuhai.gpkg`` there is replaced.
    seed : int
        Seed of the ``numpy`` generators (one child stream per community).

    Returns
    -------
    Path
        The GeoPackage written.
    """
    to_local = pyproj.Transformer.from_crs(STORE_CRS, LOCAL_CRS, always_xy=True)
    to_store = pyproj.Transformer.from_crs(LOCAL_CRS, STORE_CRS, always_xy=True)
    streams = np.random.SeedSequence(seed).spawn(len(COMMUNITIES))
    comms = [_Community(spec, np.random.default_rng(s), to_local) for spec, s in zip(COMMUNITIES, streams)]

    def lonlat(c: _Community | None, local: np.ndarray) -> np.ndarray:
        plane = c.to_plane(local) if c is not None else local
        lon, lat = to_store.transform(plane[:, 0], plane[:, 1])
        return np.round(np.column_stack([lon, lat]), ROUND_DEG)

    rows: dict[str, list[dict]] = {k: [] for k in ("communities", "blocks", "candidate_sites", "facilities", "streets")}
    for c in comms:
        base = {"community_id": c.cid, "district": c.district}
        blocks = c.blocks()  # draw order fixed: blocks, sites, existing (byte-stable output)
        sites = c.sites()
        existing = c.existing()
        rows["communities"].append(
            {
                **base,
                "name_en": c.name_en,
                "name_zh": c.name_zh,
                "residents": int(sum(b["residents"] for b in blocks)),
                "area_m2": round(c.w * c.h, 1),
                "geometry": Polygon(lonlat(c, _rect(0.0, 0.0, c.w, c.h))),
            }
        )
        for b in blocks:
            local = b.pop("local")
            rows["blocks"].append(
                {**base, **b, "area_m2": round(Polygon(local).area, 1), "geometry": Polygon(lonlat(c, local))}
            )
        for s in sites:
            local = s.pop("local")
            rows["candidate_sites"].append(
                {**base, **s, "area_m2": round(Polygon(local).area, 1), "geometry": Polygon(lonlat(c, local))}
            )
        for f in existing:
            local = f.pop("local")
            rows["facilities"].append({**base, **f, "geometry": Point(lonlat(c, local)[0])})
        for sid, kind, seg in c.streets():
            rows["streets"].append({**base, "street_id": sid, "highway": kind, "geometry": LineString(lonlat(c, seg))})

    by_id = {c.cid: c for c in comms}
    for k, (from_id, to_id) in enumerate(CONNECTORS):
        ca, cb = by_id[from_id].ring_corners(), by_id[to_id].ring_corners()
        d = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2)
        ia, ib = np.unravel_index(int(np.argmin(d)), d.shape)
        seg = lonlat(None, np.vstack([ca[ia], cb[ib]]))
        rows["streets"].append(
            {
                "community_id": "",
                "district": "",
                "street_id": f"C{k + 1:02d}",
                "highway": "connector",
                "geometry": LineString(seg),
            }
        )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    if path.exists():
        path.unlink()
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        for layer, records in rows.items():
            frame = gpd.GeoDataFrame(pd.DataFrame(records), geometry="geometry", crs=STORE_CRS)
            frame.insert(len(frame.columns) - 1, "synthetic", True)
            frame.to_file(
                path,
                layer=layer,
                driver="GPKG",
                engine="pyogrio",
                layer_options={"DESCRIPTION": f"{LABEL}: {layer}"},
                metadata={"synthetic": "true", "generator": "scenarios/examples/wuhai/generate.py", "seed": str(seed)},
            )
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the SYNTHETIC Wuhai pilot scenario data (wuhai.gpkg).")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: next to this script)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args()
    path = generate(args.out, args.seed)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    for layer, _ in pyogrio.list_layers(path):
        print(f"  {layer}: {pyogrio.read_info(path, layer=layer)['features']} features")


if __name__ == "__main__":
    main()
