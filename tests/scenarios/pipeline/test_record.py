"""summary.json as one typed record: written from ``RunRecord``, read back into it, its schema shipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from paths import DATA, REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.pipeline.record import (
    RECORD_SCHEMA_FILE,
    RunRecord,
    make_record,
    read_record,
    record_bytes,
    record_schema_text,
)
from siting.scenarios.pipeline.run import RunResult, run_scenario

ROOT = REPO
TINY = DATA / "scenarios" / "tiny"
runner = CliRunner()


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One run of the tiny scenario (straight-line distances: fast)."""
    folder = tmp_path_factory.mktemp("record") / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    return run_scenario(folder / "scenario.yaml", "euclidean", out=folder.parent / "out")


def test_summary_json_round_trips_through_the_record(finished: RunResult) -> None:
    path = finished.out_dir / "summary.json"
    record = read_record(path)
    assert isinstance(record, RunRecord) and record == finished.record
    # written from the record, byte for byte; its data is the run's summary
    assert record_bytes(record) == path.read_bytes()
    assert record.to_dict() == finished.summary == json.loads(path.read_text(encoding="utf-8"))
    # typed access, not dict lookups
    name = next(iter(record.services))
    svc = record.services[name]
    assert svc.coverage.after == finished.summary["services"][name]["coverage"]["after"]
    assert record.checks is not None and record.checks.all_ok is finished.summary["checks"]["all_ok"]
    assert record.solve is not None and record.solve.status == finished.summary["solve"]["status"]
    assert set(record.seconds) >= {"solve", "total"}
    # an integer stays an integer, a float a float (the bytes cannot change on the way through)
    assert isinstance(svc.demand_points, int) and type(svc.reach_m) is type(
        finished.summary["services"][name]["reach_m"]
    )


def test_unknown_keys_survive_the_round_trip(finished: RunResult) -> None:
    data = dict(finished.summary, added_by_a_newer_siting={"x": [1, 2.5]})
    again = read_record_from(data)
    assert again.to_dict() == data
    assert make_record(data) == again


def read_record_from(data: dict) -> RunRecord:
    return RunRecord.model_validate_json(json.dumps(data))


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = ROOT / "scenarios" / "pipeline" / RECORD_SCHEMA_FILE
    assert shipped.read_text(encoding="utf-8") == record_schema_text(), (
        "run `siting schema --run-record --out scenarios/pipeline/run_record.schema.json`"
    )
    result = runner.invoke(app, ["schema", "--run-record"])
    assert result.exit_code == 0 and result.stdout == shipped.read_text(encoding="utf-8")
    schema = json.loads(shipped.read_text(encoding="utf-8"))
    assert {"scenario", "mode", "services", "inputs_sha256", "versions", "seconds"} <= set(schema["required"])


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d["services"][next(iter(d["services"]))].__setitem__("people", "many"), "services."),
        (lambda d: d.pop("inputs_sha256"), "inputs_sha256"),
        (lambda d: d["checks"].__setitem__("all_ok", "perhaps"), "checks.all_ok"),
        (lambda d: d.__setitem__("mode", "sideways"), "mode"),
    ],
)
def test_report_on_a_summary_that_does_not_validate_is_one_line(
    finished: RunResult, tmp_path: Path, edit: object, field: str
) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished.out_dir, out)
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    edit(data)  # type: ignore[operator]
    (out / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = runner.invoke(app, ["report", str(out)])
    err = result.stderr.strip()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert "summary.json: field " in err and field in err and "rerun `siting run`" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written


def test_report_redraws_from_the_record(finished: RunResult, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished.out_dir, out)
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").read_bytes().startswith(b"<!DOCTYPE html>") or b"<html" in (
        out / "report.html"
    ).read_bytes()
