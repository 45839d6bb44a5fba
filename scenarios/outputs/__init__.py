"""What a run leaves for officials and GIS users: ``plan.gpkg``, ``map.png`` and ``report.html``.

:func:`render_outputs` is called by :func:`scenarios.run.run_scenario` with the files it is about
to write; its result joins them, so the whole output folder still appears at once.
:func:`rerender` is ``siting report OUTDIR``: it redraws ``map.png`` and ``report.html`` from a
finished run's files alone (``plan.csv``, ``uncovered.csv``, ``summary.json``, ``plan.gpkg``).

Modules: :mod:`.gpkg` (the GIS layers), :mod:`.mapping` (the map), :mod:`.report` (the HTML page),
:mod:`.i18n` (English and Chinese words).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from siting.models.errors import DataError
from siting.scenarios.outputs.i18n import LANGS, check_lang

OUTPUT_FILES = ("plan.gpkg", "map.png", "report.html")


def resolve_lang(lang: str | None, summary: dict[str, Any]) -> str:
    """``lang`` when given, else the scenario's ``output.lang``, else ``en``."""
    if lang is not None:
        return check_lang(lang)
    scenario_lang = ((summary.get("scenario") or {}).get("output") or {}).get("lang")
    return check_lang(scenario_lang or "en")


def render_outputs(
    built: Any, plan: pd.DataFrame, uncovered: pd.DataFrame, summary: dict[str, Any], lang: str | None = None
) -> dict[str, bytes]:
    """``plan.gpkg``, ``map.png`` and ``report.html`` of a finished solve, as file name -> bytes.

    Parameters
    ----------
    built : the :class:`scenarios.build.BuiltScenario` that was solved (geometry, distances).
    plan, uncovered : the tables written to ``plan.csv`` and ``uncovered.csv``.
    summary : the dict written to ``summary.json``.
    lang : ``en`` or ``zh``; default the scenario's ``output.lang``.
    """
    from siting.scenarios.outputs.gpkg import plan_layers, write_gpkg
    from siting.scenarios.outputs.mapping import render_map
    from siting.scenarios.outputs.report import render_report

    lang = resolve_lang(lang, summary)
    layers, notes = plan_layers(built, plan)
    gpkg = write_gpkg(layers)
    png, map_notes = render_map(layers, summary, lang)
    page = render_report(plan, uncovered, summary, png, layers.get("demand"), lang, notes + map_notes)
    return {"plan.gpkg": gpkg, "map.png": png, "report.html": page.encode("utf-8")}


def read_run(out_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, Any] | None]:
    """A finished run's plan, uncovered table, summary and ``plan.gpkg`` layers (None when absent)."""
    folder = Path(out_dir)
    if not folder.is_dir():
        raise DataError(f"output folder {folder} not found; give the folder a `siting run` wrote (its --out)")
    missing = [f for f in ("plan.csv", "summary.json") if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"{folder} holds no {' or '.join(missing)}: it is not the output of `siting run`; give the run's output folder"
        )
    plan = pd.read_csv(folder / "plan.csv", dtype={"site_id": str, "service": str})
    unc_path = folder / "uncovered.csv"
    uncovered = (
        pd.read_csv(unc_path, dtype={"demand_id": str, "service": str}) if unc_path.is_file()
        else pd.DataFrame(columns=["service", "demand_id", "people", "reason"])
    )
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{folder / 'summary.json'} is not valid JSON ({exc}); rerun `siting run`") from None
    layers = None
    if (folder / "plan.gpkg").is_file():
        from siting.scenarios.outputs.gpkg import read_gpkg

        layers = read_gpkg(folder / "plan.gpkg")
    return plan, uncovered, summary, layers


def _layers_from_plan(plan: pd.DataFrame) -> dict[str, Any]:
    """Without plan.gpkg: the chosen sites from plan.csv's lon/lat only."""
    import geopandas as gpd

    if not {"lon", "lat"} <= set(plan.columns):
        return {}
    pts = gpd.points_from_xy(plan["lon"], plan["lat"], crs=4326)
    return {"chosen_sites": gpd.GeoDataFrame(plan.copy(), geometry=pts, crs=4326)}


def rerender(out_dir: str | Path, lang: str | None = None) -> tuple[list[Path], list[str]]:
    """``siting report OUTDIR``: redraw ``map.png`` and ``report.html`` from a finished run's files.

    The two files replace those of the run's manifest (see :mod:`scenarios.output_folder`); a
    folder without one is refused. Returns the files written and the warnings (e.g. no
    ``plan.gpkg``: the map shows the chosen sites only).
    """
    from siting.scenarios.output_folder import claimed

    folder = Path(out_dir)
    plan, uncovered, summary, layers = read_run(folder)
    with claimed(folder, "run", ("map.png", "report.html"), update=True) as out:  # only siting's own files
        return _rerender(out, plan, uncovered, summary, layers, lang)


def _rerender(
    out: Any, plan: Any, uncovered: Any, summary: dict[str, Any], layers: Any, lang: str | None
) -> tuple[list[Path], list[str]]:
    from siting.scenarios.outputs.mapping import render_map
    from siting.scenarios.outputs.report import render_report

    folder = out.path
    lang = resolve_lang(lang, summary)
    notes: list[str] = []
    if layers is None:
        notes.append(f"{folder / 'plan.gpkg'} not found: the map shows the chosen sites only; rerun `siting run` for the full map")
        layers = _layers_from_plan(plan)
    png, map_notes = render_map(layers, summary, lang)
    notes += map_notes
    page = render_report(plan, uncovered, summary, png, layers.get("demand"), lang, notes)
    out.commit({"map.png": png, "report.html": page.encode("utf-8")})
    return [folder / "map.png", folder / "report.html"], notes


__all__ = ["LANGS", "OUTPUT_FILES", "read_run", "render_outputs", "rerender", "resolve_lang"]
