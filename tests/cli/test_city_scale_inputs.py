"""Bad input at city scale through ``siting solve``: one clear ``error:`` line and exit 1.

A radius that covers nothing (MCLP and LSCP), longitude / latitude written into x, y columns
with a radius in metres, and a distance build larger than the memory available (which must say
how much it would need and how to reduce it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from paths import REPO
from typer.testing import CliRunner

from siting.cli import app

sys.path.insert(0, str(REPO / "benchmarks"))
from city_instances import city_points, write_city_csv

runner = CliRunner()


def one_error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def solve(demand: Path, sites: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["solve", "--demand", str(demand), "--sites", str(sites), *extra])


@pytest.mark.parametrize(
    "extra",
    [("--model", "mclp", "--p", "3"), ("--model", "lscp"), ("--model", "mclp", "--p", "3", "--formulation", "compact")],
)
def test_radius_covering_nothing(tmp_path: Path, extra: tuple[str, ...]) -> None:
    d, s = write_city_csv(400, 30, seed=5, out=tmp_path)
    line = one_error_line(solve(d, s, "--radius", "0.01", *extra))
    assert "radius" in line and ("covers no demand point" in line or "no eligible site" in line)


def test_degrees_given_as_metres(tmp_path: Path) -> None:
    pts = city_points(500, 40, seed=6)
    # a 10 km city squeezed into 0.1 degree around Wuhai: lon, lat written as x, y
    lon = 106.8 + pts.demand_xy / 1e5
    site = 106.8 + pts.site_xy / 1e5
    d = tmp_path / "demand.csv"
    s = tmp_path / "sites.csv"
    d.write_text("id,x,y,weight\n" + "".join(f"{i},{x:.6f},{y - 67.1:.6f},1\n" for i, (x, y) in enumerate(lon)))
    s.write_text("id,x,y,cost\n" + "".join(f"s{j},{x:.6f},{y - 67.1:.6f},1\n" for j, (x, y) in enumerate(site)))
    line = one_error_line(solve(d, s, "--model", "mclp", "--radius", "800", "--p", "3"))
    assert "look like degrees" in line and "metric CRS" in line


def test_distance_build_over_the_memory_available(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import siting.models.sparse_distances as sd

    d, s = write_city_csv(3_000, 200, seed=7, out=tmp_path)
    monkeypatch.setattr(sd, "MAX_BYTES", 2e5)  # a machine with 0.2 MB to spare
    line = one_error_line(solve(d, s, "--model", "mclp", "--radius", "800", "--p", "3"))
    assert "pairs and need about" in line and "over the 0.2 MB available" in line
    for remedy in ("reduce the radius", "fewer demand points", "--input-crs"):
        assert remedy in line
    out = tmp_path / "out"
    assert not out.exists()


def test_memory_ceiling_follows_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    import siting.models.sparse_distances as sd

    ceiling = sd.build_memory_ceiling()
    assert 0 < ceiling <= sd.MAX_BYTES
    monkeypatch.setattr(sd, "MAX_BYTES", 1e3)
    assert sd.build_memory_ceiling() == 1e3
