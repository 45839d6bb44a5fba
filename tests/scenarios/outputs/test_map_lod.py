"""Level of detail at city scale: compound paths, demand grid cells, the street picture, and the
interactive map that uses them (chosen sites are never aggregated)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.path import Path as MplPath

from siting.scenarios.outputs import map_lod


def test_compound_path_moves_at_each_part_and_closes_rings() -> None:
    coords = np.array([[0, 0], [1, 0], [1, 1], [5, 5], [6, 5], [7, 7], [7, 8], [8, 8], [7, 7]], dtype=float)
    index = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    lines = map_lod.compound_path(coords, index, closed=False)
    assert lines.codes.tolist() == [MplPath.MOVETO, 2, 2, MplPath.MOVETO, 2, MplPath.MOVETO, 2, 2, 2]
    rings = map_lod.compound_path(coords, index, closed=True)
    assert rings.codes.tolist() == [1, 2, MplPath.CLOSEPOLY, 1, MplPath.CLOSEPOLY, 1, 2, 2, MplPath.CLOSEPOLY]
    np.testing.assert_array_equal(rings.vertices, coords)


def test_grid_cells_leave_few_points_alone() -> None:
    x = np.arange(10.0)
    assert map_lod.grid_cells(x, x, np.zeros(10, dtype=np.int64), np.ones(10), 3) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_cells_hold_every_point_and_take_the_state_of_most_people(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(map_lod, "MAX_SVG_POINTS", 60)
    rng = np.random.default_rng(seed)
    n = 900
    x, y = rng.uniform(0, 300, n), rng.uniform(0, 500, n)
    state = rng.integers(0, 3, n)
    people = rng.integers(0, 30, n).astype(float)
    side, cx, cy, cls = map_lod.grid_cells(x, y, state, people, 3)
    assert len(cx) <= 60 and side >= map_lod.FIRST_CELL
    corners = {(a, b): c for a, b, c in zip(cx.tolist(), cy.tolist(), cls.tolist())}
    assert len(corners) == len(cx)  # one cell per corner
    px, py = np.floor(x / side) * side, np.floor(y / side) * side
    for (a, b), c in corners.items():  # brute force: the people of each state in each cell
        inside = (px == a) & (py == b)
        assert inside.any()
        per_state = [people[inside & (state == k)].sum() for k in range(3)]
        counts = [int((inside & (state == k)).sum()) for k in range(3)]
        best = max(per_state)
        if best > 0:
            assert per_state[c] == best and c == per_state.index(best)
        else:
            assert c == counts.index(max(counts))
    assert all((a, b) in corners for a, b in zip(px.tolist(), py.tolist()))  # no point left out
    # the side is the smallest power-of-two multiple that fits
    if side > map_lod.FIRST_CELL:
        half = side / 2
        assert len({(a, b) for a, b in zip(np.floor(x / half).tolist(), np.floor(y / half).tolist())}) > 60


def test_street_image_only_above_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    coords = np.array([[0, 0], [100, 0], [0, 50], [100, 50]], dtype=float)
    index = np.array([0, 0, 1, 1])
    assert map_lod.street_image(coords, index, 100.0, 60.0) is None
    monkeypatch.setattr(map_lod, "MAX_SVG_STREET_VERTICES", 2)
    uri = map_lod.street_image(coords, index, 100.0, 60.0)
    assert uri is not None and uri.startswith("data:image/png;base64,")
    import base64
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    ppu = map_lod.STREET_PIXELS_PER_UNIT
    assert img.size == (round(100 * ppu), round(60 * ppu))
    alpha = np.asarray(img.convert("RGBA"))[:, :, 3]
    top, gap = alpha[0:3, :], alpha[int(10 * ppu) : int(45 * ppu), int(50 * ppu)]
    assert top.max() > 0 and gap.max() == 0  # a street along the top (y = 0 is up), nothing below it until y = 50


def test_interactive_map_at_city_scale_draws_cells_a_picture_and_every_site(monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    from siting.scenarios.outputs import i18n
    from siting.scenarios.outputs.svgmap import interactive_map

    monkeypatch.setattr(map_lod, "MAX_SVG_POINTS", 50)
    monkeypatch.setattr(map_lod, "MAX_SVG_STREET_VERTICES", 10)
    crs = "EPSG:3067"
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2000, (600, 2))
    demand = gpd.GeoDataFrame(
        {"residents": rng.integers(1, 50, 600).astype(float), "covered_toilet": rng.integers(0, 2, 600)},
        geometry=[Point(a, b) for a, b in xy],
        crs=crs,
    )
    streets = gpd.GeoDataFrame(geometry=[LineString([(0, k * 100.0), (2000, k * 100.0)]) for k in range(21)], crs=crs)
    sites = rng.uniform(0, 2000, (40, 2))
    plan = pd.DataFrame(
        {"rank": np.arange(1, 41), "site_id": [f"s{k}" for k in range(40)], "service": "toilet", "cost": 1.0}
    )
    chosen = gpd.GeoDataFrame(plan.copy(), geometry=[Point(a, b) for a, b in sites], crs=crs)
    summary = {"services": {"toilet": {"reach_m": 300.0}}}
    block = interactive_map({"demand": demand, "streets": streets, "chosen_sites": chosen}, plan, summary, "en")
    assert block.count('class="site"') == 40  # every chosen site, one by one
    assert "<circle cx=" not in block  # no demand dot: cells instead
    assert re.search(r'<path d="M[^"]+h[0-9.]+v[0-9.]+h-[0-9.]+z', block)
    assert '<image href="data:image/png;base64,' in block and 'stroke="#c8c8c8"' not in block
    note = i18n.text("en", "imap_cells", points="600", side="X").split("X")[0]
    assert note in block
