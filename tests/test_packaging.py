"""The install: one import name (``siting``), the facade, the command, and the shipped data.

These tests run against the installed package (CI installs it with ``pip install ".[test]"``, not
editable), so a subpackage or a data file missing from pyproject.toml fails here.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata, resources
from pathlib import Path

import siting

REPO = Path(__file__).resolve().parents[1]
TOP_FOLDERS = ("models", "optimizer", "scenarios")


def test_facade_exports_the_documented_api() -> None:
    for name in (
        "solve",
        "SitingInstance",
        "ModelSpec",
        "SolveParams",
        "load_scenario",
        "validate_scenario",
        "run_scenario",
        "evaluate",
    ):
        assert callable(getattr(siting, name)), name
    assert siting.__version__ == metadata.version("siting")


def test_solving_does_not_load_the_scenario_layer() -> None:
    # a benchmark or a batch worker that only solves models must not carry pandas, geopandas and
    # pydantic (about 140 MB resident); the facade's scenario functions still load when asked for
    code = (
        "import sys, siting\n"
        "from siting.optimizer.solve import solve\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'geopandas', 'pyproj', 'pydantic'})\n"
        "assert not heavy, heavy\n"
        "assert callable(siting.run_scenario) and 'pandas' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_install_adds_one_top_level_name() -> None:
    # The installed distribution, not the build's siting.egg-info that pip may leave in this folder.
    site = [p for p in sys.path if p and Path(p).resolve() != REPO]
    dist = next(iter(metadata.distributions(name="siting", path=site)))
    top_level = (dist.read_text("top_level.txt") or "").split()
    assert top_level == ["siting"]
    files = [str(f) for f in dist.files or []]
    if any("__editable__" in f for f in files):  # a contributor's editable install: no copies to inspect
        return
    generic = sorted(
        {f.split("/")[0] for f in files} - {"siting", f"siting-{dist.version}.dist-info", "..", "__pycache__"}
    )
    assert generic == [], f"the install puts {generic} at the top of site-packages"


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"siting"} | {
        "siting." + ".".join(init.parent.relative_to(REPO).parts)
        for top in TOP_FOLDERS
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found == listed


def test_example_data_ships_with_the_package() -> None:
    examples = resources.files("siting.scenarios") / "examples"
    for rel in (
        "helsinki/scenario.yaml",
        "helsinki/helsinki.gpkg",
        "wuhai/scenario.yaml",
        "kotka/kotka.gpkg",
        "helsinki_csv/demand.csv",
    ):
        assert (examples / rel).is_file(), rel
    assert (resources.files("siting.scenarios") / "scenario.schema.json").is_file()


def test_version_and_short_help_from_the_command() -> None:
    exe = Path(sys.executable).with_name("siting")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "siting.cli"]
    out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == f"siting {siting.__version__}"
    out = subprocess.run([*cmd, "-h"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and "Usage: siting" in out.stdout


def _declared_distributions() -> set[str]:
    """Distribution names in pyproject.toml's dependencies, normalised (lower case, '-'); an extra
    such as ``dask[distributed]`` counts as its own distribution too (it installs ``distributed``)."""
    import re

    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = set()
    for dep in deps:
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?", dep)
        assert m is not None, dep
        names.add(m.group(1))
        names.update(e.strip() for e in (m.group(2) or "").split(",") if e.strip())
    return {n.lower().replace("_", "-") for n in names}


def test_every_library_the_code_imports_is_a_declared_dependency() -> None:
    # a library installed on the developer's machine but missing from pyproject.toml breaks a fresh install
    import ast

    owners = metadata.packages_distributions()
    declared = _declared_distributions()
    missing = set()
    files = [REPO / "cli.py", REPO / "__init__.py"]
    files += [p for folder in TOP_FOLDERS for p in (REPO / folder).rglob("*.py") if "examples" not in p.parts]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "siting":
                    continue
                dists = {d.lower().replace("_", "-") for d in owners.get(top, [])}
                if not dists & declared:
                    missing.add(f"{top} ({path.relative_to(REPO)}; installed by {sorted(dists) or 'nothing'})")
    assert missing == set(), "add to pyproject.toml's dependencies: " + ", ".join(sorted(missing))
