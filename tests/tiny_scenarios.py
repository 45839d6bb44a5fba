"""Copies of the tiny scenario (``tests/data/scenarios/tiny``) with settings merged in, for run tests."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import yaml
from paths import DATA

TINY = DATA / "scenarios" / "tiny"


def tiny(tmp_path: Path, services: dict[str, dict[str, Any]], **top: Any) -> Path:
    """A copy of the tiny scenario (straight-line distances) with a ``district`` per block (the first
    half ``north``, the rest ``south``) and the given per-service and top-level settings merged in."""
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    rows = list(csv.DictReader((folder / "demand.csv").open(encoding="utf-8")))
    with (folder / "demand.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=[*rows[0], "district"])
        w.writeheader()
        for k, row in enumerate(rows):
            w.writerow(row | {"district": "north" if k < len(rows) // 2 else "south"})
    doc = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
    doc["distance"] = {"method": "euclidean"}
    for name, extra in services.items():
        doc["services"][name].update(extra)
    doc.update(top)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path
