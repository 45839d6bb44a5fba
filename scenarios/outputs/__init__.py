"""What a run leaves for officials and GIS users: ``plan.gpkg``, ``map.png`` and ``report.html``.

:func:`render_outputs` is called by :func:`scenarios.pipeline.run.run_scenario` with the files it is about
to write; its result joins them, so the whole output folder still appears at once.
:func:`rerender` is ``siting report OUTDIR``: it redraws ``map.png``, ``report.html`` and ``plan.xlsx``
from a finished run's files alone (``plan.csv``, ``uncovered.csv``, ``summary.json``, ``plan.gpkg``).

Modules: :mod:`.gpkg` (the GIS layers), :mod:`.mapping` (the map), :mod:`.report` (the HTML page),
:mod:`.svgmap` (its interactive map), :mod:`.excel` (``plan.xlsx``), :mod:`.lonlat` (``output.coordinates``),
:mod:`.console` (what ``siting run`` prints), :mod:`.i18n` (English and Chinese words), :mod:`.csv_safe`
(CSV cells a spreadsheet cannot run).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from siting.models.errors import DataError
from siting.scenarios.outputs.csv_safe import restore_frame
from siting.scenarios.outputs.i18n import LANGS, check_lang
from siting.scenarios.outputs.lonlat import coordinate_system, plan_in_system, to_wgs84

if TYPE_CHECKING:
    from siting.scenarios.pipeline.record import RunRecord

__all__ = ["OUTPUT_FILES", "read_run", "render_outputs", "rerender", "rerender_in", "resolve_lang"]

OUTPUT_FILES = ("plan.gpkg", "map.png", "report.html", "plan.xlsx")


def resolve_lang(lang: str | None, summary: dict[str, Any]) -> str:
    """``lang`` when given, else the scenario's ``output.lang``, else ``en``."""
    if lang is not None:
        return check_lang(lang)
    scenario_lang = ((summary.get("scenario") or {}).get("output") or {}).get("lang")
    return check_lang(scenario_lang or "en")


def render_outputs(
    built: Any,
    plan: pd.DataFrame,
    uncovered: pd.DataFrame,
    summary: dict[str, Any],
    lang: str | None = None,
    stability: Any = None,
) -> dict[str, bytes]:
    """``plan.gpkg``, ``map.png``, ``report.html`` and ``plan.xlsx`` of a finished solve, as file name -> bytes.

    Parameters
    ----------
    built : the :class:`scenarios.build.BuiltScenario` that was solved (geometry, distances).
    plan, uncovered : the tables written to ``plan.csv`` and ``uncovered.csv``.
    summary : the dict written to ``summary.json``.
    lang : ``en`` or ``zh``; default the scenario's ``output.lang``.
    stability : a :class:`scenarios.outputs.stability.Stability` shown in the report's ranked plan, or None.
    """
    from siting.scenarios.outputs.excel import plan_workbook
    from siting.scenarios.outputs.gpkg import plan_layers, write_gpkg
    from siting.scenarios.outputs.mapping import render_map
    from siting.scenarios.outputs.report import render_report

    lang = resolve_lang(lang, summary)
    layers, notes = plan_layers(built, plan)
    gpkg = write_gpkg(layers)
    png, map_notes = render_map(layers, summary, lang)
    page = render_report(
        plan, uncovered, summary, png, layers.get("demand"), lang, notes + map_notes, layers=layers, stability=stability
    )
    xlsx = plan_workbook(plan_in_system(plan, coordinate_system(summary)), uncovered, summary, lang)
    return {"plan.gpkg": gpkg, "map.png": png, "report.html": page.encode("utf-8"), "plan.xlsx": xlsx}


#: The files ``siting report`` redraws (through the output folder's manifest rules).
RERENDER_FILES = ("map.png", "report.html", "plan.xlsx")
#: plan.csv columns read back as text, as the run held them (a phase is a name such as "2022", not a number).
PLAN_TEXT: dict[str, type] = {c: str for c in ("site_id", "service", "phase", "best_substitute", "substitute_phase")}
#: Columns ``siting report`` needs in each table (a run writes more).
PLAN_COLUMNS = ("site_id", "service")
UNCOVERED_COLUMNS = ("service", "demand_id")


def _run_file(folder: Path, name: str, required: bool) -> Path | None:
    """``folder/name`` when it is a regular file; None when absent and optional; else a DataError."""
    from siting.scenarios.files import user_file

    path = folder / name
    if not os.path.lexists(path):
        if required:
            raise DataError(
                f"{folder} holds no {name}: it is not the output of `siting run`; give the run's output folder"
            )
        return None
    return user_file(path, f"{name} of the run")  # a folder, FIFO or device in its place is refused


def _read_table(path: Path, text_columns: dict[str, type], required: tuple[str, ...]) -> pd.DataFrame:
    """A CSV a run wrote, or a DataError saying what is wrong with it and how to get it back."""
    fix = "rerun `siting run` to write it again"
    try:
        table = pd.read_csv(path, dtype=text_columns, encoding="utf-8-sig")  # a run writes a BOM
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); {fix}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty (not even a header row); {fix}") from None
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        raise DataError(f"{path}: not a readable CSV ({' '.join(str(exc).split())}); {fix}") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, table.columns)) or 'none'}); "
            f"it is not the {path.name} `siting run` writes: {fix}"
        )
    return table


def read_run(out_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, RunRecord, dict[str, Any] | None]:
    """A finished run's plan, uncovered table, run record (summary.json) and ``plan.gpkg`` layers (None when absent).

    Every file is checked before use: present (``plan.csv``, ``summary.json``), a regular file,
    UTF-8, parseable, with the columns the report needs; summary.json is read into its typed
    :class:`scenarios.pipeline.record.RunRecord`. A problem is a DataError naming the file (and the
    field) and the fix, never a traceback; library warnings raised while reading are captured.
    """
    from siting.scenarios.files import user_path
    from siting.scenarios.pipeline.record import read_record

    folder = user_path(out_dir, "output folder")
    if not folder.exists():
        raise DataError(f"output folder {folder} not found; give the folder a `siting run` wrote (its --out)")
    if not folder.is_dir():
        raise DataError(f"{folder} is a file, not a folder; give the folder a `siting run` wrote (its --out)")
    plan_path = _run_file(folder, "plan.csv", True)
    summary_path = _run_file(folder, "summary.json", True)
    unc_path = _run_file(folder, "uncovered.csv", False)
    gpkg_path = _run_file(folder, "plan.gpkg", False)
    assert plan_path is not None and summary_path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas / pyogrio chatter must not precede an error line
        summary = read_record(summary_path)
        plan = _read_table(plan_path, PLAN_TEXT, PLAN_COLUMNS)
        uncovered = (
            _read_table(unc_path, {"demand_id": str, "service": str}, UNCOVERED_COLUMNS)
            if unc_path is not None
            else pd.DataFrame(columns=["service", "demand_id", "people", "reason"])
        )
        # the text as the data gave it (the CSV files carry a quote before text a spreadsheet would run)
        plan, uncovered = restore_frame(plan), restore_frame(uncovered)
        layers = None
        if gpkg_path is not None:
            from siting.scenarios.outputs.gpkg import read_gpkg

            try:
                layers = read_gpkg(gpkg_path)
            except (RuntimeError, OSError, ValueError, TypeError) as exc:  # pyogrio errors derive from RuntimeError
                raise DataError(
                    f"{gpkg_path}: not a readable GeoPackage ({' '.join(str(exc).split()[:30])}); rerun `siting run` "
                    "to write it again, or delete it to draw the map from plan.csv alone"
                ) from None
    return plan, uncovered, summary, layers


def _layers_from_plan(plan: pd.DataFrame, summary: dict[str, Any]) -> dict[str, Any]:
    """Without plan.gpkg: the chosen sites from plan.csv's lon/lat only."""
    import geopandas as gpd

    if not {"lon", "lat"} <= set(plan.columns):
        return {}
    # plan.csv gives lon/lat in output.coordinates (e.g. GCJ-02): back to WGS 84 before drawing
    lon, lat = to_wgs84(plan["lon"], plan["lat"], coordinate_system(summary))
    pts = gpd.points_from_xy(lon, lat, crs=4326)
    return {"chosen_sites": gpd.GeoDataFrame(plan.copy(), geometry=pts, crs=4326)}


def rerender(out_dir: str | Path, lang: str | None = None, stability: Any = None) -> tuple[list[Path], list[str]]:
    """``siting report OUTDIR``: redraw ``map.png``, ``report.html`` and ``plan.xlsx`` from a finished run's files.

    plan.xlsx is redrawn in the report's language (headers, codes, currency format); its numbers are
    plan.csv's, whose lon/lat are already in the run's ``output.coordinates``. plan.csv's own
    headers are column codes in every language, so it is left as the run wrote it.
    The files replace those of the run's manifest (see :mod:`scenarios.pipeline.output_folder`); a
    folder without one is refused. Returns the files written and the warnings (e.g. no
    ``plan.gpkg``: the map shows the chosen sites only).
    """
    files, notes, _ = rerender_in(out_dir, lang, stability)
    return files, notes


def rerender_in(
    out_dir: str | Path, lang: str | None = None, stability: Any = None
) -> tuple[list[Path], list[str], str]:
    """:func:`rerender`, also returning the language it used (``--lang``, else the scenario's ``output.lang``)."""
    from siting.scenarios.pipeline.output_folder import claimed

    folder = Path(out_dir)
    plan, uncovered, record, layers = read_run(folder)
    used = resolve_lang(lang, record.to_dict())
    with claimed(folder, "run", RERENDER_FILES, update=True) as out:  # only siting's own files
        files, notes = _rerender(out, plan, uncovered, record, layers, used, stability)
    return files, notes, used


def _rerender(
    out: Any, plan: Any, uncovered: Any, record: RunRecord, layers: Any, lang: str | None, stability: Any = None
) -> tuple[list[Path], list[str]]:
    from siting.scenarios.outputs.excel import plan_workbook
    from siting.scenarios.outputs.mapping import render_map
    from siting.scenarios.outputs.report import render_report

    folder = out.path
    summary = record.to_dict()  # the map and the report draw from the validated record's data
    lang = resolve_lang(lang, summary)
    notes: list[str] = []
    if layers is None:
        notes.append(
            f"{folder / 'plan.gpkg'} not found: the map shows the chosen sites only; rerun `siting run` for the full map"
        )
        layers = _layers_from_plan(plan, summary)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            png, map_notes = render_map(layers, summary, lang)
            notes += map_notes
            page = render_report(
                plan, uncovered, summary, png, layers.get("demand"), lang, notes, layers=layers, stability=stability
            )
            xlsx = plan_workbook(plan, uncovered, summary, lang)  # plan.csv's lon/lat: already as output.coordinates
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        # files edited by hand (or by another version) that parse but do not fit together
        raise DataError(
            f"{folder}: plan.csv, uncovered.csv, summary.json and plan.gpkg do not fit together as one run's output "
            f"({type(exc).__name__}: {' '.join(str(exc).split()[:20])}); rerun `siting run` to write them again"
        ) from exc
    out.commit({"map.png": png, "report.html": page.encode("utf-8"), "plan.xlsx": xlsx})
    return [folder / name for name in RERENDER_FILES], notes


__all__ = ["LANGS", "OUTPUT_FILES", "read_run", "render_outputs", "rerender", "rerender_in", "resolve_lang"]
