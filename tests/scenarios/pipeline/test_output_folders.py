"""An output folder never costs the user a file.

The rule (scenarios/pipeline/output_folder.py): a new or empty folder is written into; a folder holding an
earlier output of the same command (its ``.siting-manifest.json``) has only those files replaced,
once the new output is complete; any other non-empty folder is refused before anything is read or
solved. A failed or interrupted run (error, SIGINT, SIGTERM, SIGKILL) leaves the previous output
and the user's files byte-identical and no staging folder behind (after SIGKILL: once the next
command on the folder has run).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from paths import DATA
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.pipeline.output_folder import (
    LOCK,
    MANIFEST,
    OutputFolderError,
    claim,
    claimed,
    read_manifest,
    write_folder,
)
from siting.scenarios.pipeline.run import RUN_FILES

TINY = DATA / "scenarios" / "tiny"
runner = CliRunner()


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones included): file bytes, None for a folder."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


def leftovers(folder: Path) -> list[str]:
    """Staging folders, lock files and the like that siting must not leave behind."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name.startswith((".siting-staging-", LOCK)) or p.name.endswith((".partial", ".old"))
    )


def one_error(result: object) -> str:
    err = result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    return err


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    folder = tmp_path / "scenario"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    return folder / "scenario.yaml"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real `siting run` of the tiny scenario into a new (nested) folder."""
    base = tmp_path_factory.mktemp("first")
    shutil.copytree(TINY, base / "scenario", ignore=shutil.ignore_patterns("out", ".*"))
    out = base / "results" / "plan"
    result = runner.invoke(app, ["run", str(base / "scenario" / "scenario.yaml"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def previous_output(tmp_path: Path, first_run: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(first_run, out)
    return out


# ------------------------------------------------------------------------------ folder cases
def test_new_folder_gets_the_outputs_and_a_manifest(first_run: Path) -> None:
    doc = read_manifest(first_run)
    assert doc is not None and doc["kind"] == "run"
    names = {p.name for p in first_run.iterdir()}
    assert names == set(doc["files"]) | {MANIFEST}
    assert {"plan.csv", "summary.json", "uncovered.csv", "plan.gpkg", "map.png", "report.html"} <= names
    for name, entry in doc["files"].items():
        data = (first_run / name).read_bytes()
        assert entry["bytes"] == len(data)
    assert leftovers(first_run.parent) == []


def test_empty_folder_is_written_into(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    inode = out.stat().st_ino
    write_folder(out, "run", {"plan.csv": b"a\n", "summary.json": b"{}\n"})
    assert out.stat().st_ino == inode  # the user's folder itself is kept, not replaced
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "plan.csv", "summary.json"]
    assert (out / "plan.csv").read_bytes() == b"a\n"


def test_previous_output_replaced_and_the_users_files_kept(tmp_path: Path, first_run: Path, scenario: Path) -> None:
    out = previous_output(tmp_path, first_run)
    (out / "thesis.docx").write_bytes(b"\x00my thesis\x00")
    (out / "notes").mkdir()
    (out / "notes" / "a.txt").write_text("keep me")
    (out / "report.html").unlink()  # a file of the previous output the user deleted: simply written again
    mine = {k: v for k, v in snapshot(out).items() if k.startswith(("thesis", "notes"))}
    before = read_manifest(out)
    doc = yaml.safe_load(scenario.read_text())
    doc["budget"]["total"] = 3_000_000  # a different plan
    scenario.write_text(yaml.safe_dump(doc))
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    after = read_manifest(out)
    assert after is not None and before is not None
    assert after["files"]["plan.csv"] != before["files"]["plan.csv"]
    assert {k: v for k, v in snapshot(out).items() if k.startswith(("thesis", "notes"))} == mine
    assert (out / "report.html").is_file()
    assert leftovers(tmp_path) == []


def test_previous_output_files_no_longer_written_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"1", "alternatives.csv": b"2"})
    (out / "mine.txt").write_text("x")
    write_folder(out, "run", {"plan.csv": b"3"})
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "mine.txt", "plan.csv"]
    assert (out / "plan.csv").read_bytes() == b"3"
    assert set(read_manifest(out)["files"]) == {"plan.csv"}  # type: ignore[index]


def test_foreign_folder_refused_and_untouched(tmp_path: Path, scenario: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("\\chapter{One}")
    (out / "plan.csv").write_text("my own plan")
    before = snapshot(out)
    err = one_error(runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"]))
    assert str(out) in err and "--out" in err and "never deletes" in err
    assert snapshot(out) == before


def test_scenarios_own_folder_refused(scenario: Path) -> None:
    folder = scenario.parent
    before = snapshot(folder)
    err = one_error(runner.invoke(app, ["run", str(scenario), "--out", str(folder), "--quiet"]))
    assert str(folder) in err
    assert snapshot(folder) == before


def test_current_directory_refused(scenario: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scenario.parent)
    before = snapshot(scenario.parent)
    err = one_error(runner.invoke(app, ["run", "scenario.yaml", "--out", ".", "--quiet"]))
    assert str(scenario.parent) in err
    assert snapshot(scenario.parent) == before


def test_output_of_another_command_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "sweep", {"sweep.csv": b"1"})
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match="output of `siting sweep`"):
        claim(out, "run", RUN_FILES)
    assert snapshot(out) == before


def test_changed_output_file_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"1\n"})
    (out / "plan.csv").write_bytes(b"1\nmy edit\n")
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match=r"plan\.csv was changed after siting wrote it"):
        claim(out, "run", RUN_FILES)
    assert snapshot(out) == before


def test_users_file_with_an_output_name_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"1\n"})
    (out / "map.png").write_bytes(b"the user's own map")
    before = snapshot(out)
    with pytest.raises(OutputFolderError, match=r"holds map\.png, which siting did not write"):
        claim(out, "run", RUN_FILES)
    assert snapshot(out) == before


def test_file_edited_during_the_run_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"1\n"})
    with claimed(out, "run", RUN_FILES) as folder:
        (out / "plan.csv").write_bytes(b"edited while solving")
        with pytest.raises(OutputFolderError, match="changed during the run"):
            folder.commit({"plan.csv": b"2\n"})
    assert (out / "plan.csv").read_bytes() == b"edited while solving"
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------ failures
def test_error_during_the_run_keeps_the_previous_output(tmp_path: Path, first_run: Path, scenario: Path) -> None:
    out = previous_output(tmp_path, first_run)
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    demand = scenario.parent / "demand.csv"
    lines = demand.read_text().splitlines()
    head = lines[0].split(",")
    row = lines[1].split(",")
    row[head.index("residents")] = "-5"  # a data error found while reading the layers, after the claim
    demand.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    one_error(runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"]))
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_error_in_a_new_folder_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "out"
    with pytest.raises(RuntimeError), claimed(target, "run", RUN_FILES):
        assert leftovers(tmp_path) != []  # staging exists while the command runs
        raise RuntimeError("solver crashed")
    assert list(tmp_path.iterdir()) == []


def test_failure_in_the_middle_of_the_commit_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"a.csv": b"old a", "b.csv": b"old b", "c.csv": b"old c"})
    (out / "mine.txt").write_text("mine")
    before = snapshot(out)
    real = os.replace
    calls = {"n": 0}

    def flaky(src: object, dst: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # marker, first file, then the disk is full
            raise OSError(28, "No space left on device")
        real(src, dst)  # type: ignore[arg-type]

    with claimed(out, "run", ("a.csv", "b.csv")) as folder:
        monkeypatch.setattr(os, "replace", flaky)
        with pytest.raises(OutputFolderError, match="No space left on device"):
            folder.commit({"a.csv": b"new a", "b.csv": b"new b"})
        monkeypatch.setattr(os, "replace", real)
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------ signals
_DRIVER = textwrap.dedent(
    """
    import sys, time
    import siting.scenarios.joint_build as jb

    real = jb.build_joint

    def slow(*args, **kwargs):  # a long read of the layers, after the output folder was claimed
        time.sleep(60)
        return real(*args, **kwargs)

    jb.build_joint = slow
    from siting.cli import app

    app(sys.argv[1:], prog_name="siting")
    """
)


def _start_run(tmp_path: Path, scenario: Path, out: Path) -> subprocess.Popen[str]:
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(driver), "run", str(scenario), "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".siting-staging-") for p in out.glob(".*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started staging"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_keeps_the_previous_output(tmp_path: Path, scenario: Path, sig: int, code: int) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"previous plan\n", "summary.json": b"{}\n"})
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    proc = _start_run(tmp_path, scenario, out)
    proc.send_signal(sig)
    _stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines() == [f"interrupted: nothing written; the previous output in {out} is unchanged"]
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_sigkill_keeps_the_previous_output_and_the_next_run_cleans_up(tmp_path: Path, scenario: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"previous plan\n", "summary.json": b"{}\n"})
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    proc = _start_run(tmp_path, scenario, out)
    # another process holds the folder: a second run refuses with one line
    err = one_error(runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"]))
    assert "in use by another siting command" in err
    proc.kill()
    proc.communicate(timeout=30)
    visible = {k: v for k, v in snapshot(out).items() if not k.startswith((".siting-staging-", LOCK))}
    assert visible == before  # the previous output is in place, never only in a hidden copy
    with claimed(out, "run", RUN_FILES):  # what the next command does first
        pass
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


_KILL_MID_COMMIT = textwrap.dedent(
    """
    import os, signal, sys
    from siting.scenarios.pipeline.output_folder import claim

    folder = claim(sys.argv[1], "run", ["a.csv", "b.csv"])
    real, calls = os.replace, [0]

    def dying(src, dst):
        calls[0] += 1
        if calls[0] == 3:  # the marker and the first file are moved: die like a power cut
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)

    os.replace = dying
    folder.commit({"a.csv": b"new a", "b.csv": b"new b"})
    """
)


def test_sigkill_in_the_middle_of_the_commit_is_finished_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"a.csv": b"old a", "b.csv": b"old b", "gone.csv": b"old"})
    (out / "mine.txt").write_text("mine")
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_MID_COMMIT, str(out)], capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert leftovers(tmp_path) != []  # killed with the commit half done
    with claimed(out, "run", RUN_FILES):
        pass
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != MANIFEST} == {
        "a.csv": b"new a",
        "b.csv": b"new b",
        "mine.txt": b"mine",
    }
    assert set(read_manifest(out)["files"]) == {"a.csv", "b.csv"}  # type: ignore[index]
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------ lock
def test_second_run_on_the_same_folder_refuses(tmp_path: Path, scenario: Path) -> None:
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"previous\n"})
    with claimed(out, "run", RUN_FILES):
        before = snapshot(out)
        err = one_error(runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"]))
        assert "in use by another siting command" in err and str(out) in err
        assert snapshot(out) == before
    assert leftovers(tmp_path) == []
    with claimed(out, "run", RUN_FILES):  # released: the next one gets it
        pass


# ------------------------------------------------------------------------------ output.folder
@pytest.mark.parametrize("folder", ["../victim", "/tmp/victim", "out/../../victim", "~/victim"])
def test_output_folder_may_not_leave_the_scenarios_folder(tmp_path: Path, scenario: Path, folder: str) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("do not touch")
    doc = yaml.safe_load(scenario.read_text())
    doc["output"] = {"folder": folder}
    scenario.write_text(yaml.safe_dump(doc))
    err = one_error(runner.invoke(app, ["run", str(scenario), "--quiet"]))
    assert "output.folder" in err and "outside the scenario's folder" in err and "--out" in err
    assert snapshot(victim) == {"precious.txt": b"do not touch"}
    err = one_error(runner.invoke(app, ["sweep", str(scenario), "--budget", "1e6:2e6:2", "--quiet"]))
    assert "outside the scenario's folder" in err


def test_output_folder_inside_the_scenarios_folder_is_fine(scenario: Path) -> None:
    from siting.scenarios.pipeline.output_folder import output_dir
    from siting.scenarios.schema import load_scenario

    body, base = load_scenario(scenario)
    body = body.model_copy(update={"output": body.output.model_copy(update={"folder": "results/../out/x"})})
    assert output_dir(body, base, None) == (scenario.parent / "out" / "x").resolve()
    body = body.model_copy(update={"output": body.output.model_copy(update={"folder": "../victim"})})
    assert output_dir(body, base, "elsewhere") == Path("elsewhere").resolve()  # --out is the user's choice


# ------------------------------------------------------------------------------ path checks
def _missing_layers(scenario: Path) -> Path:
    """The scenario with its demand layer gone: an output error must come first (before any layer is read)."""
    (scenario.parent / "demand.csv").unlink()
    return scenario


@pytest.mark.parametrize("case", ["file_in_the_way", "parent_is_a_file", "name_too_long", "path_too_long"])
def test_bad_output_path_fails_at_once(tmp_path: Path, scenario: Path, case: str) -> None:
    _missing_layers(scenario)
    (tmp_path / "a_file").write_text("x")
    out = {
        "file_in_the_way": tmp_path / "a_file",
        "parent_is_a_file": tmp_path / "a_file" / "out",
        "name_too_long": tmp_path / ("n" * 300),
        "path_too_long": tmp_path.joinpath(*["d" * 200] * 25),
    }[case]
    before = snapshot(tmp_path)
    started = time.perf_counter()
    err = one_error(runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"]))
    assert time.perf_counter() - started < 1.0
    assert "demand" not in err  # refused before the layers are read
    assert snapshot(tmp_path) == before


def test_unwritable_folder_fails_at_once(tmp_path: Path, scenario: Path) -> None:
    _missing_layers(scenario)
    locked = tmp_path / "locked"
    locked.mkdir()
    immutable = subprocess.run(["chattr", "+i", str(locked)], capture_output=True, check=False).returncode == 0
    if not immutable:
        if os.geteuid() == 0:
            pytest.skip("running as root on a file system without chattr +i: every folder is writable")
        locked.chmod(0o555)
    try:
        err = one_error(runner.invoke(app, ["run", str(scenario), "--out", str(locked / "out"), "--quiet"]))
        assert str(locked) in err and ("permission denied" in err.lower() or "not permitted" in err.lower())
        assert list(locked.iterdir()) == []
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(locked)], check=True)
        locked.chmod(0o755)


# ------------------------------------------------------------------------------ other writers
def test_report_updates_only_its_files(tmp_path: Path, first_run: Path) -> None:
    out = previous_output(tmp_path, first_run)
    (out / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["report", str(out), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    doc = read_manifest(out)
    assert doc is not None and set(doc["files"]) == set(read_manifest(first_run)["files"])  # type: ignore[index]
    assert doc["files"]["report.html"]["sha256"] != read_manifest(first_run)["files"]["report.html"]["sha256"]  # type: ignore[index]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "plan.csv").read_bytes() == (first_run / "plan.csv").read_bytes()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["run", "sweep", "compare", "report", "init", "prepare osm"])
def test_every_writer_refuses_a_foreign_folder(tmp_path: Path, scenario: Path, command: str) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.txt").write_text("mine")
    (out / "plan.csv").write_text("my own plan")  # even with an output's name, no manifest: not siting's
    (out / "summary.json").write_text("{}")
    pbf = DATA / "network" / "helsinki_centre.osm.pbf"
    args = {
        "run": ["run", str(scenario), "--out", str(out), "--quiet"],
        "sweep": ["sweep", str(scenario), "--budget", "1e6:2e6:2", "--out", str(out), "--quiet"],
        "compare": ["compare", str(scenario), "--solvers", "highs", "--out", str(out), "--quiet"],
        "report": ["report", str(out)],
        "init": ["init", str(out)],
        "prepare osm": ["prepare", "osm", str(pbf), "--out", str(out), "--quiet"],
    }[command]
    before = snapshot(out)
    started = time.perf_counter()
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert time.perf_counter() - started < 2.0  # refused before reading or solving anything
    assert snapshot(out) == before


def test_init_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.txt").write_text("mine")
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 1 and "never deletes" in result.stderr
    assert snapshot(target) == {"thesis.txt": b"mine"}


def test_manifest_names_stay_inside_the_folder(tmp_path: Path) -> None:
    """A crafted manifest cannot make siting replace or remove a file outside the folder."""
    out = tmp_path / "out"
    write_folder(out, "run", {"plan.csv": b"1"})
    (tmp_path / "victim.txt").write_text("keep")
    doc = json.loads((out / MANIFEST).read_text())
    doc["files"]["../victim.txt"] = {"bytes": 4, "sha256": "0" * 64}
    (out / MANIFEST).write_text(json.dumps(doc))
    with pytest.raises(OutputFolderError, match="not an empty folder nor an earlier `siting run` output"):
        claim(out, "run", RUN_FILES)
    assert (tmp_path / "victim.txt").read_text() == "keep"
