"""Package exports resolved on first use (PEP 562).

The scenarios packages re-export their public names without importing every submodule up front:
``import siting.scenarios.research.readers`` must not load geopandas just because the package's
``__init__`` names ``compare_solvers``. Each package hands its name -> module table to
:func:`lazy_exports` and uses the two functions it returns as its module-level ``__getattr__`` and
``__dir__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps each public name to the module
    that defines it; a name is imported when first asked for, then kept in the package namespace."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
