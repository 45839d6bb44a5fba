"""A fuzz catalogue of hostile and broken input: every case must fail cleanly.

Each case writes its inputs into ``tmp_path`` (text, or bytes built by the test), runs one command
of the ``siting`` CLI in-process (``run``, ``validate``, ``sweep``, ``compare``, ``solve``,
``report``, ``prepare osm``) and asserts:

* the exit code (1: bad input);
* exactly one ``error:`` line on stderr, and it names the file, field or key and the fix;
* no traceback, and no library warning (GDAL/pyogrio, numpy overflow) raised on the way;
* no temporary file left in the temporary folder (``tempfile.gettempdir()`` is pointed into
  ``tmp_path`` for the case), and no output folder created;
* every file the user had is byte-identical afterwards.

The classes: files that are not regular files (a folder, a FIFO, a device), ``~user`` paths,
YAML traps (duplicate keys, complex keys, extreme nesting, alias bombs, non-UTF-8, tags), numbers
that are not finite, resource caps (threads, alternatives), crafted ``.npz`` matrices (object
arrays, out-of-range sparse indices, a non-monotone ``indptr``, declared shapes far larger than
the data), broken run folders given to ``siting report`` and damaged ``.osm.pbf`` extracts.
tests/scenarios/pipeline/test_bad_scenarios.py holds the planner's everyday mistakes; nothing here repeats it.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from paths import DATA
from typer.testing import CliRunner

from siting.cli import app
from siting.scenarios.schema import MAX_YAML_DEPTH, machine_cores

TINY = DATA / "scenarios" / "tiny"
PBF = DATA / "network" / "helsinki_centre.osm.pbf"
runner = CliRunner()

Setup = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input: ``setup`` writes it under the folder it gets and returns the CLI arguments."""

    id: str
    setup: Setup
    expect: tuple[str, ...]
    code: int = 1


# ------------------------------------------------------------------------------------ helpers
def scenario(folder: Path, edit: Callable[[str], str] | None = None, name: str = "scenario.yaml") -> Path:
    """A copy of the tiny scenario in ``folder/s``; ``edit`` rewrites the YAML text (keeps duplicates)."""
    target = folder / "s"
    if not target.exists():
        shutil.copytree(TINY, target, ignore=shutil.ignore_patterns("out", ".*"))
    path = target / name
    text = (TINY / "scenario.yaml").read_text(encoding="utf-8")
    path.write_text(edit(text) if edit else text, encoding="utf-8")
    return path


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def run_yaml(edit: Callable[[str], str] | None, *extra: str, command: str = "run") -> Setup:
    """``siting <command> scenario.yaml`` on the tiny scenario with ``edit`` applied to its text."""

    def setup(folder: Path) -> list[str]:
        path = scenario(folder, edit)
        args = [command, str(path), "--quiet"]
        if command in ("run", "sweep", "compare"):
            args += ["--out", str(folder / "out")]
        if command == "sweep":
            args += ["--budget", "1e6:2e6:2"]
        if command == "compare":
            args += ["--solvers", "greedy"]
        return args + list(extra)

    return setup


def raw_yaml(text: str | bytes, command: str = "validate") -> Setup:
    """A scenario file of exactly this text (or bytes), next to the tiny scenario's layers."""

    def setup(folder: Path) -> list[str]:
        path = scenario(folder)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return [command, str(path), "--quiet"]

    return setup


def special_scenario(kind: str, command: str = "run") -> Setup:
    """The scenario argument is a folder, a FIFO or a device instead of a YAML file."""

    def setup(folder: Path) -> list[str]:
        scenario(folder)
        if kind == "folder":
            target = folder / "s"
        elif kind == "fifo":
            target = folder / "s" / "fifo.yaml"
            os.mkfifo(target)
        else:
            target = Path("/dev/zero")
        args = [command, str(target), "--quiet"]
        args += ["--budget", "1e6:2e6:2"] if command == "sweep" else []
        return args + (["--out", str(folder / "out")] if command in ("run", "compare", "sweep") else [])

    return setup


def layer_swap(layer_file: str, make: Callable[[Path], None]) -> Setup:
    """Replace one layer file of the tiny scenario by what ``make`` creates at its path."""

    def setup(folder: Path) -> list[str]:
        path = scenario(folder)
        target = path.parent / layer_file
        target.unlink()
        make(target)
        return ["validate", str(path), "--quiet"]

    return setup


def pbf_streets(make: Callable[[Path], None]) -> Setup:
    """Streets given as an .osm.pbf that ``make`` writes (truncated, a FIFO, ...)."""

    def setup(folder: Path) -> list[str]:
        path = scenario(folder, replace("    path: streets.gpkg\n    layer: streets", "    path: streets.osm.pbf"))
        make(path.parent / "streets.osm.pbf")
        return ["validate", str(path), "--quiet"]

    return setup


def truncated_pbf(path: Path) -> None:
    path.write_bytes(PBF.read_bytes()[:20_000])


def corrupt_pbf(path: Path) -> None:
    data = bytearray(PBF.read_bytes())
    rng = np.random.default_rng(1)
    for k in rng.integers(100, len(data), 200):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


# -- CSV instances and distance matrices (siting solve)
DEMAND = "id,x,y,weight\n1,0,0,3\n2,10,0,2\n3,0,10,1\n"
SITES = "id,x,y,cost\n10,0,0,1\n11,10,10,1\n"


def solve_with(
    matrix: Callable[[Path], None] | None = None, *extra: str, demand: str = DEMAND, model: str = "pmedian"
) -> Setup:
    def setup(folder: Path) -> list[str]:
        (folder / "demand.csv").write_text(demand, encoding="utf-8")
        (folder / "sites.csv").write_text(SITES, encoding="utf-8")
        args = ["solve", "--demand", str(folder / "demand.csv"), "--sites", str(folder / "sites.csv")]
        args += ["--model", model, "--p", "1", "--quiet"]
        if matrix is not None:
            target = folder / "d.npz"
            matrix(target)
            args += ["--distances", str(target)]
        return args + list(extra)

    return setup


def sparse_npz(**arrays: object) -> Callable[[Path], None]:
    """A scipy-style sparse .npz of a valid 3 x 2 CSR matrix with some arrays replaced."""

    def make(path: Path) -> None:
        good = sp.csr_array(np.array([[1.0, 5.0], [2.0, 0.0], [0.0, 3.0]]))
        base: dict[str, object] = {
            "format": np.array(b"csr"),
            "shape": np.array(good.shape),
            "data": good.data,
            "indices": good.indices,
            "indptr": good.indptr,
        }
        base.update(arrays)
        np.savez(path, **{k: v for k, v in base.items() if v is not None})

    return make


def npy_member(name: str, header: dict[str, object], payload: bytes, sparse: bool = False) -> Callable[[Path], None]:
    """An .npz whose member ``name`` carries a hand-written .npy header (e.g. a huge declared shape).

    With ``sparse``, the other members of a valid sparse matrix are written beside it.
    """

    def make(path: Path) -> None:
        text = repr(header).encode("latin1")
        pad = 64 - (10 + len(text) + 1) % 64
        blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text + b" " * pad + b"\n" + payload
        if sparse:
            sparse_npz()(path)
            with zipfile.ZipFile(path) as zf:
                members = {n: zf.read(n) for n in zf.namelist() if n != f"{name}.npy"}
        else:
            members = {}
        with zipfile.ZipFile(path, "w") as zf:
            for n, data in members.items():
                zf.writestr(n, data)
            zf.writestr(f"{name}.npy", blob)

    return make


def object_array(path: Path) -> None:
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("distances.npy", buf.getvalue())


def single_npy(path: Path) -> None:
    """A plain .npy file given the .npz suffix."""
    buf = io.BytesIO()
    np.save(buf, np.ones((3, 2)))
    path.write_bytes(buf.getvalue())


def dense_npz(values: np.ndarray) -> Callable[[Path], None]:
    return lambda path: np.savez(path, distances=values)


# -- run folders (siting report)
def report_on(change: Callable[[Path], None]) -> Setup:
    """``siting report`` on a copy of a finished run, after ``change`` broke one of its files."""

    def setup(folder: Path) -> list[str]:
        target = folder / "run"
        shutil.copytree(FINISHED["path"], target)
        change(target)
        return ["report", str(target)]

    return setup


def write(name: str, data: str | bytes) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        target = folder / name
        if target.is_dir():
            shutil.rmtree(target)
        target.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    return change


def remove(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).unlink()


def as_folder(name: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return change


def as_fifo(name: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        (folder / name).unlink()
        os.mkfifo(folder / name)

    return change


def truncate(name: str, size: int) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[:size])

    return change


# -- OpenStreetMap extracts (siting prepare osm)
def prepare(make: Callable[[Path], None], name: str = "city.osm.pbf") -> Setup:
    def setup(folder: Path) -> list[str]:
        src = folder / name
        make(src)
        return ["prepare", "osm", str(src), "--out", str(folder / "out"), "--quiet"]

    return setup


DEEP_MAPPING = (
    "name: deep\n"
    + "".join("  " * k + f"k{k}:\n" for k in range(MAX_YAML_DEPTH + 5))
    + "  " * (MAX_YAML_DEPTH + 5)
    + "end: 1\n"
)
BOMB = "".join(
    f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10 if p else ['"x"'] * 10) + "]\n"
    for p, c in zip(["", "a", "b", "c", "d", "e", "f"], ["a", "b", "c", "d", "e", "f", "g"])
)
TOO_MANY_THREADS = machine_cores() + 1
_TINY_LINES = (TINY / "scenario.yaml").read_text(encoding="utf-8").splitlines()
BUDGET_LINE = _TINY_LINES.index("budget:") + 1  # 1-based, as in the messages
APPENDED_LINE = len(_TINY_LINES) + 1
MAX_SITES_2_LINE = _TINY_LINES.index("    max_sites: 2") + 1

# ------------------------------------------------------------------------------------ catalogue
CASES = [
    # -- the scenario argument is not a regular file
    Case("scenario_is_a_folder", special_scenario("folder"), ("is a folder, expected a file",)),
    Case("scenario_is_a_fifo", special_scenario("fifo"), ("fifo.yaml is a named pipe (FIFO)",)),
    Case("scenario_is_a_device", special_scenario("device", "validate"), ("/dev/zero is a device",)),
    Case("sweep_scenario_is_a_folder", special_scenario("folder", "sweep"), ("is a folder",)),
    Case("compare_scenario_is_a_fifo", special_scenario("fifo", "compare"), ("named pipe (FIFO)",)),
    Case(
        "scenario_tilde_unknown_user",
        lambda f: ["validate", "~nosuchuser_siting/scenario.yaml", "--quiet"],
        ("no user 'nosuchuser_siting'", "give the full path"),
    ),
    # -- YAML traps
    Case(
        "duplicate_top_level_key",
        run_yaml(lambda t: t + "budget:\n  total: 5000000\n"),
        ("key 'budget' appears twice", f"lines {BUDGET_LINE} and {APPENDED_LINE}", "merge them"),
    ),
    Case(
        "duplicate_nested_key",
        run_yaml(replace("    max_sites: 2\n", "    max_sites: 2\n    max_sites: 5\n")),
        ("key 'max_sites' appears twice", f"lines {MAX_SITES_2_LINE} and {MAX_SITES_2_LINE + 1}"),
    ),
    Case(
        "duplicate_key_in_flow_mapping",
        run_yaml(replace("{idle_land: 300000,", "{idle_land: 1, idle_land: 300000,"), command="validate"),
        ("key 'idle_land' appears twice",),
    ),
    Case(
        "duplicate_key_in_override",
        run_yaml(replace("  low_budget:\n", "  low_budget:\n    name: a\n    name: b\n")),
        ("key 'name' appears twice",),
    ),
    Case("complex_key_list", raw_yaml("? [a, b]\n: 1\nname: x\n"), ("line 1: a list is used as a key",)),
    Case("complex_key_mapping", raw_yaml("name: x\n? {a: 1}\n: 2\n"), ("line 2: a mapping is used as a key",)),
    Case("extreme_nesting", raw_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n"), ("nested too deeply",)),
    Case("deep_mapping", raw_yaml(DEEP_MAPPING), (f"nested more than {MAX_YAML_DEPTH} levels deep",)),
    Case("alias_bomb", raw_yaml(BOMB), ("once its aliases (*name) are expanded",)),
    Case("python_tag", raw_yaml("name: !!python/object/apply:os.system ['echo hi']\n"), ("YAML syntax error",)),
    Case("not_utf8", raw_yaml(b"name: \xff\xfe caf\xe9\n"), ("not UTF-8 text", "save the file as UTF-8")),
    Case("top_level_list", raw_yaml("- name: x\n- layers: {}\n"), ("must be a YAML mapping", "got list")),
    Case("empty_file", raw_yaml(""), ("must be a YAML mapping", "got NoneType")),
    Case(
        "sweep_duplicate_key",
        run_yaml(lambda t: t + "objective: max_coverage\n", command="sweep"),
        ("key 'objective' appears twice",),
    ),
    # -- numbers that are not finite
    Case(
        "reach_m_inf",
        run_yaml(replace("reach_m: 400", "reach_m: .inf")),
        ("services.elderly_care.reach_m", "finite number"),
    ),
    Case(
        "reach_minutes_nan",
        run_yaml(replace("reach_minutes: 4", "reach_minutes: .nan")),
        ("services.public_toilet.reach_minutes", "finite number"),
    ),
    Case("budget_total_inf", run_yaml(replace("total: 6000000", "total: .inf")), ("budget.total", "finite number")),
    Case(
        "cost_inf",
        run_yaml(replace("{idle_land: 300000", "{idle_land: .inf")),
        ("cost_by_land_type.idle_land", "finite number"),
    ),
    Case(
        "walking_speed_nan",
        run_yaml(replace("walking_speed_kmh: 4.0", "walking_speed_kmh: .nan")),
        ("distance.walking_speed_kmh", "finite number"),
    ),
    # -- resource caps
    Case(
        "threads_beyond_cores",
        run_yaml(replace("  time_limit: 30\n", "  time_limit: 30\n  threads: 1000000\n")),
        ("solver.threads", f"cores of this machine; use at most {machine_cores()}"),
    ),
    Case(
        "seed_beyond_int32",
        run_yaml(replace("  time_limit: 30\n", "  time_limit: 30\n  seed: 99999999999999999999\n")),
        ("solver.seed", "less than or equal to 2147483647"),
    ),
    Case(
        "layer_is_a_device",
        run_yaml(replace("path: demand.csv", "path: /dev/urandom"), command="validate"),
        ("layers.demand.path: /dev/urandom is a device",),
    ),
    Case("too_many_alternatives", run_yaml(None, "--alternatives", "51"), ("--alternatives 51", "from 0 to 50")),
    Case(
        "solve_threads_beyond_cores",
        solve_with(None, "--threads", str(TOO_MANY_THREADS)),
        (f"--threads {TOO_MANY_THREADS} is more than the",),
    ),
    # -- layers that are not regular files, ~user paths, damaged extracts
    Case("layer_is_a_fifo", layer_swap("demand.csv", os.mkfifo), ("layers.demand.path", "named pipe (FIFO)")),
    Case(
        "layer_is_a_folder",
        layer_swap("existing.geojson", lambda p: p.mkdir()),
        ("layers.existing.path", "is a folder"),
    ),
    Case(
        "layer_tilde_unknown_user",
        run_yaml(replace("path: demand.csv", "path: ~nosuchuser_siting/demand.csv"), command="validate"),
        ("no user 'nosuchuser_siting'",),
    ),
    Case(
        "layer_gpkg_garbage",
        layer_swap("sites.gpkg", lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)),
        ("layers.sites", "cannot open the file"),
    ),
    Case("streets_pbf_truncated", pbf_streets(truncated_pbf), ("damaged or truncated",)),
    Case("streets_pbf_fifo", pbf_streets(os.mkfifo), ("layers.streets.path", "named pipe (FIFO)")),
    # -- CSV instances and crafted .npz matrices
    Case(
        "solve_demand_is_a_fifo",
        lambda f: _swap_arg(solve_with()(f), "--demand", _fifo(f / "fifo.csv")),
        ("demand", "named pipe (FIFO)"),
    ),
    Case(
        "solve_sites_is_a_folder",
        lambda f: _swap_arg(solve_with()(f), "--sites", _mkdir(f / "sites_dir")),
        ("sites", "is a folder"),
    ),
    Case(
        "solve_distances_is_dev_null",
        lambda f: [*solve_with()(f), "--distances", "/dev/null"],
        ("/dev/null is a device",),
    ),
    Case(
        "pmedian_all_zero_weights",
        solve_with(demand="id,x,y,weight\n1,0,0,0\n2,10,0,0\n3,0,10,0\n"),
        ("every demand weight is 0", "give positive weights"),
    ),
    Case("npz_object_array", solve_with(object_array), ("holds Python objects", "never loaded")),
    Case(
        "npz_sparse_index_out_of_range",
        solve_with(sparse_npz(indices=np.array([0, 7, 0, 1], dtype=np.int32))),
        ("sparse 'indices' value(s) lie outside 0..1",),
    ),
    Case(
        "npz_sparse_negative_index",
        solve_with(sparse_npz(indices=np.array([0, -1, 0, 1], dtype=np.int32))),
        ("lie outside 0..1",),
    ),
    Case(
        "npz_sparse_indptr_decreasing",
        solve_with(sparse_npz(indptr=np.array([0, 3, 1, 4], dtype=np.int32))),
        ("sparse 'indptr' is not a valid index",),
    ),
    Case(
        "npz_sparse_indptr_past_data",
        solve_with(sparse_npz(indptr=np.array([0, 2, 3, 900], dtype=np.int32))),
        ("sparse 'indptr' is not a valid index",),
    ),
    Case(
        "npz_sparse_indptr_wrong_length",
        solve_with(sparse_npz(indptr=np.array([0, 4], dtype=np.int32))),
        ("sparse 'indptr' has 2 entries, expected 4",),
    ),
    Case(
        "npz_sparse_float_indices",
        solve_with(sparse_npz(indices=np.array([0.0, 1.0, 0.0, 1.0]))),
        ("sparse array 'indices' has dtype float64, expected integers",),
    ),
    Case("npz_sparse_unknown_format", solve_with(sparse_npz(format=np.array(b"dia"))), ("sparse format 'dia'",)),
    Case("npz_sparse_missing_indptr", solve_with(sparse_npz(indptr=None)), ("lacks its 'indptr' array",)),
    Case(
        "npz_sparse_wrong_shape", solve_with(sparse_npz(shape=np.array([2, 3]))), ("shape 2 x 3", "it looks transposed")
    ),
    Case(
        "npz_dense_huge_declared_shape",
        solve_with(
            npy_member("distances", {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}, b"\0" * 64)
        ),
        ("shape 1000000 x 1000000", "it must be 3 x 2"),
    ),
    Case(
        "npz_sparse_huge_declared_data",
        solve_with(npy_member("data", {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}, b"\0" * 64, True)),
        ("sparse array 'data' declares 1000000000000 entries",),
    ),
    Case("npz_dense_complex", solve_with(dense_npz(np.ones((3, 2), dtype=complex))), ("expected real numbers",)),
    Case("npz_dense_beyond_float32", solve_with(dense_npz(np.full((3, 2), 1e300))), ("larger than 3.4e+38",)),
    Case(
        "npz_is_a_single_npy",
        solve_with(single_npy),
        ("holds a single .npy array",),
    ),
    Case(
        "npz_not_a_zip",
        solve_with(lambda p: p.write_bytes(b"PK\x03\x04 not really a zip")),
        ("not a readable .npz file",),
    ),
    # -- siting report on a broken run folder
    Case("report_summary_missing", report_on(remove("summary.json")), ("holds no summary.json",)),
    Case("report_summary_not_json", report_on(write("summary.json", "{bad")), ("summary.json is not valid JSON",)),
    Case("report_summary_is_a_list", report_on(write("summary.json", "[1, 2]")), ("holds a JSON list",)),
    Case(
        "report_summary_wrong_types",
        report_on(write("summary.json", '{"services": "x"}')),
        ("summary.json: field scenario: field required",),
    ),
    Case(
        "report_summary_not_utf8",
        report_on(write("summary.json", b'{"name": "\xff\xfe"}')),
        ("summary.json: not UTF-8 text",),
    ),
    Case("report_summary_is_a_folder", report_on(as_folder("summary.json")), ("summary.json is a folder",)),
    Case("report_summary_is_a_fifo", report_on(as_fifo("summary.json")), ("summary.json is a named pipe (FIFO)",)),
    Case("report_plan_missing", report_on(remove("plan.csv")), ("holds no plan.csv",)),
    Case("report_plan_empty", report_on(write("plan.csv", "")), ("plan.csv is empty",)),
    Case(
        "report_plan_broken_quotes",
        report_on(write("plan.csv", 'site_id,service\n"x,1\n')),
        ("plan.csv: not a readable CSV",),
    ),
    Case(
        "report_plan_wrong_columns",
        report_on(write("plan.csv", "foo,bar\n1,2\n")),
        ("plan.csv: missing column(s) site_id, service",),
    ),
    Case(
        "report_plan_not_utf8",
        report_on(write("plan.csv", b"site_id,service\n\xff\xfe,x\n")),
        ("plan.csv: not UTF-8 text",),
    ),
    Case(
        "report_uncovered_not_utf8",
        report_on(write("uncovered.csv", b"\xff\xfe\x00")),
        ("uncovered.csv: not UTF-8 text",),
    ),
    Case("report_uncovered_is_a_folder", report_on(as_folder("uncovered.csv")), ("uncovered.csv is a folder",)),
    Case("report_gpkg_garbage", report_on(write("plan.gpkg", "junk")), ("plan.gpkg: not a readable GeoPackage",)),
    Case("report_gpkg_truncated", report_on(truncate("plan.gpkg", 5000)), ("plan.gpkg: not a readable GeoPackage",)),
    Case("report_on_a_file", lambda f: ["report", str(_touch(f / "notes.txt"))], ("is a file, not a folder",)),
    # -- siting prepare osm on damaged extracts
    Case("osm_truncated", prepare(truncated_pbf), ("damaged or truncated",)),
    Case("osm_corrupt_blocks", prepare(corrupt_pbf), ("cannot read OpenStreetMap extract",)),
    Case(
        "osm_random_bytes",
        prepare(lambda p: p.write_bytes(bytes(range(256)) * 4)),
        ("cannot read OpenStreetMap extract", "not a valid OSM PBF file"),
    ),
    Case("osm_empty", prepare(lambda p: p.write_bytes(b"")), ("the file is empty",)),
    Case("osm_fifo", prepare(os.mkfifo), ("named pipe (FIFO)",)),
    Case("osm_folder", prepare(lambda p: p.mkdir()), ("is a folder",)),
]


def _swap_arg(args: list[str], option: str, value: Path) -> list[str]:
    args = list(args)
    args[args.index(option) + 1] = str(value)
    return args


def _fifo(path: Path) -> Path:
    if not path.exists():
        os.mkfifo(path)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def _touch(path: Path) -> Path:
    path.write_text("my notes\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ running
FINISHED: dict[str, Path] = {}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One real run of the tiny scenario (Euclidean distances): the folder `siting report` cases break."""
    folder = tmp_path_factory.mktemp("finished")
    shutil.copytree(TINY, folder / "s", ignore=shutil.ignore_patterns("out", ".*"))
    out = folder / "run"
    result = runner.invoke(
        app, ["run", str(folder / "s" / "scenario.yaml"), "--scenario", "euclidean", "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    FINISHED["path"] = out


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under ``root``: bytes of regular files, the kind of anything else (never opened)."""
    out: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        mode = os.lstat(p).st_mode
        out[str(p.relative_to(root))] = p.read_bytes() if stat.S_ISREG(mode) else stat.S_IFMT(mode)
    return out


def test_catalogue_is_large_and_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_fails_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, case: Case
) -> None:
    if case.id.startswith("report_"):
        request.getfixturevalue("finished_run")
    user = tmp_path / "user"
    user.mkdir()
    args = case.setup(user)
    before = snapshot(user)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("TMPDIR", str(temp))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, args)
    assert result.exit_code == case.code, (result.exit_code, result.output, result.exception)
    err = result.stderr
    assert "Traceback" not in result.output and not isinstance(result.exception, (AssertionError, TypeError))
    lines = err.splitlines()
    assert sum(line.startswith("error:") for line in lines) == 1, err
    assert lines[0].startswith("error: "), f"something precedes the error line:\n{err}"
    for text in case.expect:
        assert text in err, f"{text!r} not in:\n{err}"
    noisy = [str(w.message) for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]
    assert noisy == [], noisy
    assert list(temp.iterdir()) == [], "temporary files left behind"
    assert not (user / "out").exists()
    assert snapshot(user) == before, "the user's files changed"


# ------------------------------------------------------------------------------------ accepted
def test_ids_beyond_int64_are_kept_as_text(tmp_path: Path) -> None:
    """A 20-digit id is not an error (and not an overflow): it stays text, exactly as written."""
    (tmp_path / "d.csv").write_text("id,x,y\n99999999999999999999,0,0\n2,10,0\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("id,x,y\n18446744073709551617,0,0\n11,10,0\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "solve",
            "--demand",
            str(tmp_path / "d.csv"),
            "--sites",
            str(tmp_path / "s.csv"),
            "--model",
            "pmedian",
            "--p",
            "1",
            "--solver",
            "greedy",
            "--json",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "18446744073709551617" in result.stdout or '"11"' in result.stdout


def test_valid_sparse_npz_still_reads(tmp_path: Path) -> None:
    """The checks refuse crafted files only: a matrix saved by scipy (csr, csc or coo) reads as before."""
    from siting.scenarios.research.readers import read_csv_instance

    (tmp_path / "d.csv").write_text(DEMAND, encoding="utf-8")
    (tmp_path / "s.csv").write_text(SITES, encoding="utf-8")
    dense = np.array([[1.0, 5.0], [2.0, 0.0], [0.0, 3.0]])
    results = []
    for fmt in ("csr", "csc", "coo"):
        sp.save_npz(tmp_path / f"{fmt}.npz", sp.csr_array(dense).asformat(fmt))
        inst = read_csv_instance(tmp_path / "d.csv", tmp_path / "s.csv", tmp_path / f"{fmt}.npz")
        results.append(sp.csr_array(inst.distances).toarray())
    for r in results:
        np.testing.assert_array_equal(r, results[0])
    np.testing.assert_array_equal(results[0], dense.astype(np.float32))


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    """Duplicate-key checking leaves YAML anchors and merge keys (<<: *base) usable."""
    text = (TINY / "scenario.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  childcare:\n    demand_group: infants\n", "  childcare:\n    <<: &infant {demand_group: infants}\n"
    )
    path = scenario(tmp_path, lambda _t: text)
    result = runner.invoke(app, ["validate", str(path), "--quiet", "--scenario", "euclidean"])
    assert result.exit_code == 0, result.output


def test_float_ids_beyond_2_pow_53_do_not_collapse(tmp_path: Path) -> None:
    """Site ids stored as huge floats stay distinct (they once overflowed int64 into one repeated id)."""
    import geopandas as gpd

    path = scenario(tmp_path)
    sites = gpd.read_file(path.parent / "sites.gpkg", layer="candidate_sites")
    sites["site_id"] = [1e25 + k * 1e12 for k in range(len(sites))]
    sites.to_file(path.parent / "sites.gpkg", layer="candidate_sites", driver="GPKG")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, ["validate", str(path), "--quiet", "--scenario", "euclidean"])
    assert result.exit_code == 0, result.output
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
