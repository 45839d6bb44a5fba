"""The layout rules of docs/architecture.md, checked by reading every module's imports with ``ast``.

* one import direction: ``cli -> scenarios -> optimizer -> models`` (a layer imports its own or a
  lower layer only; models/ and optimizer/ never import pandas, geopandas or other GIS libraries);
* no module imports another module's private names (``_x``) or a private module;
* no import cycle among module-level imports (imports inside functions and under
  ``TYPE_CHECKING`` run later or never, so they cannot deadlock an import);
* every package's ``__init__`` declares its public API in ``__all__``, and every name resolves;
* module sizes: no module over 900 lines (example-data generators aside), at most 8 modules
  directly inside scenarios/, the run orchestration about 300 lines.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"models": 0, "optimizer": 1, "scenarios": 2, "cli": 3}
#: Libraries models/ and optimizer/ must not import (files, tables and geometry stay at the edge).
EDGE_LIBRARIES = ("pandas", "geopandas", "pyogrio", "shapely", "pyproj", "fiona", "matplotlib", "yaml", "pydantic")
MAX_LINES = 900
MAX_SCENARIOS_MODULES = 8
RUN_ORCHESTRATION_LINES = 330


@dataclass
class Module:
    name: str  # siting.scenarios.pipeline.run
    path: Path
    is_package: bool
    lines: int
    #: (imported module, imported names, at module level, line)
    imports: list[tuple[str, tuple[str, ...], bool, int]] = field(default_factory=list)


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(["siting", *parts]), is_package


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _collect(mod: Module, tree: ast.Module) -> None:
    """Every import of ``tree``; module level = not inside a function, class body or TYPE_CHECKING block."""

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    mod.imports.append((alias.name, (), top, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:  # relative: resolve against this module's package
                    base = mod.name.split(".") if mod.is_package else mod.name.split(".")[:-1]
                    base = base[: len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                mod.imports.append((target, tuple(a.name for a in child.names), top, child.lineno))
            elif isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
            ) or _type_checking_block(child):
                visit(child, False)
            else:
                visit(child, top)

    visit(tree, True)


def _modules() -> dict[str, Module]:
    files = [REPO / "cli.py", REPO / "__init__.py"]
    for top in ("models", "optimizer", "scenarios"):
        files += [p for p in (REPO / top).rglob("*.py") if "examples" not in p.relative_to(REPO).parts]
    out: dict[str, Module] = {}
    for path in files:
        name, is_package = _module_name(path)
        text = path.read_text(encoding="utf-8")
        mod = Module(name, path, is_package, text.count("\n"))
        _collect(mod, ast.parse(text, filename=str(path)))
        out[name] = mod
    return out


MODULES = _modules()


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def _targets(target: str, names: tuple[str, ...]) -> list[str]:
    """The siting modules an import statement loads: the module, or submodules named in ``from X import a``."""
    found = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
    if target in MODULES:
        found.append(target)
    elif not found:
        # an attribute of a module that does not exist would fail at import; keep the nearest module
        parts = target.split(".")
        while parts and ".".join(parts) not in MODULES:
            parts.pop()
        if parts:
            found.append(".".join(parts))
    return found


def test_the_tree_is_read() -> None:
    # a wrong REPO or glob would make every rule below pass vacuously
    assert {"siting.cli", "siting.models.instance", "siting.optimizer.solve", "siting.scenarios.pipeline.run"} <= set(
        MODULES
    )
    assert sum(len(m.imports) for m in MODULES.values()) > 300


def test_imports_point_one_way() -> None:
    bad = []
    for mod in MODULES.values():
        own = _layer(mod.name)
        if own is None:  # the facade siting/__init__.py may import every layer
            continue
        for target, _, _, line in mod.imports:
            if not target.startswith("siting."):
                root = target.split(".")[0]
                if own <= LAYERS["optimizer"] and root in EDGE_LIBRARIES:
                    bad.append(f"{mod.path.relative_to(REPO)}:{line} imports {target}")
                continue
            their = _layer(target)
            if their is not None and their > own:
                bad.append(f"{mod.path.relative_to(REPO)}:{line} imports {target} (a higher layer)")
    assert bad == [], "imports must point cli -> scenarios -> optimizer -> models:\n" + "\n".join(bad)


def test_no_private_name_crosses_a_module() -> None:
    bad = []
    for mod in MODULES.values():
        for target, names, _, line in mod.imports:
            if not target.startswith("siting"):
                continue
            private_module = [p for p in target.split(".") if p.startswith("_") and not p.startswith("__")]
            private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if (private_module or private_names) and target != mod.name:
                bad.append(f"{mod.path.relative_to(REPO)}:{line} from {target} import {', '.join(names)}")
    assert bad == [], "make these public (or move them) instead:\n" + "\n".join(bad)


def _graph() -> dict[str, set[str]]:
    """Module-level import edges, including the package ``__init__`` each import runs first."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for mod in MODULES.values():
        own_packages = {".".join(mod.name.split(".")[:k]) for k in range(1, mod.name.count(".") + 2)}
        for target, names, top, _ in mod.imports:
            if not top or not target.startswith("siting"):
                continue
            for t in _targets(target, names):
                parts = t.split(".")
                # siting/__init__ is always imported first; the packages a module sits in are already loading
                chain = [".".join(parts[:k]) for k in range(2, len(parts) + 1)]
                graph[mod.name] |= {c for c in chain if c in MODULES and c not in own_packages and c != mod.name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_build_and_layers_do_not_import_each_other() -> None:
    # the builder reads layers; layers know nothing of the builder (not even inside a function)
    layers = MODULES["siting.scenarios.geodata.layers"]
    assert not [
        t for t, *_ in layers.imports if t.startswith(("siting.scenarios.build", "siting.scenarios.joint_build"))
    ]


#: Known exports named like their submodule (the formulation functions ``mclp`` and ``lscp`` live in
#: ``mclp.py`` and ``lscp.py``): import them with ``from ... import``, never ``import ...mclp as m``.
SHADOWED = {"siting.models.formulations": {"lscp", "mclp"}}
PACKAGES = sorted(name for name, mod in MODULES.items() if mod.is_package)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_declares_its_public_api(package: str) -> None:
    mod = importlib.import_module(package)
    names = getattr(mod, "__all__", None)
    assert names, f"{package} has no __all__"
    submodules = {m.rsplit(".", 1)[1] for m in MODULES if "." in m and m.rsplit(".", 1)[0] == package}
    submodules -= SHADOWED.get(package, set())
    for name in names:
        assert not name.startswith("_") or name == "__version__", f"{package}.__all__ lists the private {name}"
        # importing the submodule would rebind the package attribute (or the export would hide the module)
        assert name not in submodules, f"{package}.{name} is also the name of a submodule"
        assert getattr(mod, name) is not None, f"{package}.{name}"


def test_module_sizes() -> None:
    big = [
        f"{m.path.relative_to(REPO)}: {m.lines} lines"
        for m in MODULES.values()
        if m.lines > MAX_LINES and m.name != "siting.cli"
    ]
    assert big == [], f"split these modules (at most {MAX_LINES} lines):\n" + "\n".join(big)
    assert MODULES["siting.cli"].lines <= MAX_LINES
    assert MODULES["siting.scenarios.pipeline.run"].lines <= RUN_ORCHESTRATION_LINES


def test_scenarios_is_grouped_by_role() -> None:
    flat = sorted(p.name for p in (REPO / "scenarios").glob("*.py"))
    assert len(flat) <= MAX_SCENARIOS_MODULES, flat
    assert {"geodata", "pipeline", "outputs", "research"} <= {p.name for p in (REPO / "scenarios").iterdir()}


def test_messages_speak_to_users_not_to_the_tracker() -> None:
    # "issue 4" means nothing to a planner reading an error or summary.json
    tracker = re.compile(r"\bissues? #?\d+", re.IGNORECASE)
    hits = [
        f"{m.path.relative_to(REPO)}:{i}"
        for m in MODULES.values()
        for i, line in enumerate(m.path.read_text(encoding="utf-8").splitlines(), 1)
        if tracker.search(line)
    ]
    assert hits == []


#: test modules about the project as a whole (packaging, this file) stay at the top of tests/
PROJECT_WIDE_TESTS = {"test_layout.py", "test_packaging.py"}


def test_tests_mirror_the_layout() -> None:
    # tests/optimizer/test_x.py tests something in optimizer/, tests/scenarios/geodata/... in scenarios/geodata/
    tests = REPO / "tests"
    misplaced = []
    for path in sorted(tests.rglob("test_*.py")):
        folder = path.parent.relative_to(tests)
        if folder.parts and folder.parts[0] == "data":
            continue
        if folder == Path("."):
            ok = path.name in PROJECT_WIDE_TESTS
        elif folder == Path("cli"):
            ok = (REPO / "cli.py").is_file()
        else:
            ok = (REPO / folder / "__init__.py").is_file()
        if not ok:
            misplaced.append(str(path.relative_to(REPO)))
    assert misplaced == [], "put each test module in the tests/ folder that mirrors what it tests: " + ", ".join(
        misplaced
    )
