"""The stability of each chosen site in report.html, from a ``siting sensitivity`` folder.

``siting sensitivity FILE --out DIR`` writes ``DIR/stability.csv``: per (service, site) chosen by
any solved variant, ``variants`` (how many chose it), ``of`` (how many were solved) and ``share =
variants / of``. :func:`read_stability` reads it (one clear error when DIR is not such a folder);
:func:`with_stability` adds to the plan table shown in the report the columns ``stability`` (the
share), ``stability_variants`` and ``stability_of`` for every row. A chosen (service, site) absent
from stability.csv was chosen by none of the variants: share 0 of ``of``. plan.csv itself is not
changed: the stability belongs to the sensitivity run, not to the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from siting.models.errors import ScenarioError

COLUMNS = ("service", "site_id", "share", "variants", "of")


@dataclass(frozen=True, eq=False)
class Stability:
    """stability.csv of one sensitivity folder: the table and how many variants were solved."""

    folder: Path
    table: pd.DataFrame
    solved: int


def read_stability(folder: str | Path, option: str = "--stability") -> Stability:
    """``folder/stability.csv`` as a :class:`Stability`; a :class:`ScenarioError` naming the fix otherwise."""
    path = Path(folder).expanduser()
    fix = f"give the output folder of `siting sensitivity FILE --out {path}`"
    csv = path / "stability.csv"
    if not csv.is_file():
        raise ScenarioError(f"{option} {path}: no stability.csv there; {fix}")
    try:
        table = pd.read_csv(csv, dtype={"service": str, "site_id": str}, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScenarioError(f"{option} {csv}: cannot read it ({type(exc).__name__}: {exc}); {fix}") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ScenarioError(f"{option} {csv}: no column {missing[0]}; {fix}")
    try:
        table = table.assign(
            share=pd.to_numeric(table["share"]),
            variants=pd.to_numeric(table["variants"]).astype(int),
            of=pd.to_numeric(table["of"]).astype(int),
        )
    except (TypeError, ValueError):
        raise ScenarioError(f"{option} {csv}: share, variants and of must be numbers; {fix}") from None
    solved = int(table["of"].max()) if len(table) else 0
    return Stability(folder=path, table=table[list(COLUMNS)], solved=solved)


def with_stability(plan: pd.DataFrame, stability: Stability | None) -> pd.DataFrame:
    """The plan with ``stability``, ``stability_variants``, ``stability_of`` (module docstring); as is without one."""
    if stability is None or "site_id" not in plan.columns or "service" not in plan.columns:
        return plan
    t = stability.table
    by_pair = {
        (s, i): (float(sh), int(v))
        for s, i, sh, v in zip(t["service"], t["site_id"], t["share"], t["variants"], strict=True)
    }
    keys = list(zip(plan["service"].astype(str), plan["site_id"].astype(str), strict=True))
    found = [by_pair.get(k, (0.0, 0)) for k in keys]
    return plan.assign(
        stability=[f[0] for f in found],
        stability_variants=[f[1] for f in found],
        stability_of=stability.solved,
    )


__all__ = ["Stability", "read_stability", "with_stability"]
