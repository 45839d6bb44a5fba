"""How firm is the plan? ``siting sensitivity``: one batch of perturbed variants, one at a time.

Variants (each changes one thing from the scenario as written; :mod:`scenarios.batch.grid`):

* the base (nothing changed);
* every service's reach times each of ``reach_factors`` (default 0.67 and 1.33: 10 and 20 minutes
  for a 15-minute reach);
* ``samples`` population draws: every demand point's people times ``u_i ~ U[1 - spread, 1 + spread]``
  (default ±15 %), seeds ``seed, seed + 1, ...``;
* every cost times each of ``cost_factors`` (default 0.8 and 1.2).

Outputs, in the batch folder: ``sensitivity.csv`` (one row per variant: what was perturbed, status,
objective, cost, coverage per service), ``stability.csv`` (per (service, site) chosen by any
solved variant: the share of solved variants that choose it, and whether the base plan does),
``sensitivity.png`` (objective per variant; the stability of the sites), plus the batch's own files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from siting.scenarios.batch.grid import Variant, variant_id

FILES = ("sensitivity.csv", "stability.csv", "sensitivity.png")
SOLVED = ("OPTIMAL", "FEASIBLE")


def sensitivity_variants(
    samples: int = 10,
    seed: int = 0,
    spread: float = 0.15,
    reach_factors: tuple[float, ...] = (0.67, 1.33),
    cost_factors: tuple[float, ...] = (0.8, 1.2),
) -> list[Variant]:
    """The base, then one variant per reach factor, population draw and cost factor."""
    settings: list[dict[str, Any]] = [{}]
    settings += [{"reach_factor": f} for f in reach_factors if f != 1]
    settings += [{"population_seed": seed + k, "population_spread": spread} for k in range(samples)]
    settings += [{"cost_factor": f} for f in cost_factors if f != 1]
    return [Variant(variant_id(s), s) for s in settings]


def describe(settings: dict[str, Any]) -> str:
    """What a variant perturbs, in words."""
    if "reach_factor" in settings:
        return f"reach x{settings['reach_factor']:g}"
    if "population_seed" in settings:
        return f"population ±{settings.get('population_spread', 0.15) * 100:g} % (seed {settings['population_seed']})"
    if "cost_factor" in settings:
        return f"cost x{settings['cost_factor']:g}"
    return "base"


def stability_table(table: pd.DataFrame, base_id: str) -> pd.DataFrame:
    """Per (service, site): the share of solved variants choosing it; chosen by the base plan or not."""
    solved = table[table["status"].isin(SOLVED)]
    counts: dict[tuple[str, str], int] = {}
    for sites in solved["sites"].fillna(""):
        for entry in filter(None, str(sites).split(";")):
            svc, _, site = entry.partition(":")
            counts[(svc, site)] = counts.get((svc, site), 0) + 1
    base = table.loc[table["variant_id"] == base_id, "sites"]
    base_set = set(filter(None, str(base.iloc[0]).split(";"))) if len(base) and isinstance(base.iloc[0], str) else set()
    n = max(len(solved), 1)
    rows = [
        {
            "service": s,
            "site_id": i,
            "share": c / n,
            "variants": c,
            "of": len(solved),
            "in_base_plan": f"{s}:{i}" in base_set,
        }
        for (s, i), c in counts.items()
    ]
    df = pd.DataFrame(rows, columns=["service", "site_id", "share", "variants", "of", "in_base_plan"])
    return df.sort_values(["service", "share", "site_id"], ascending=[True, False, True]).reset_index(drop=True)


def figure(sens: pd.DataFrame, stab: pd.DataFrame) -> bytes:
    """Objective per variant (left) and the most often chosen sites' stability (right), as PNG."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = stab.sort_values("share", ascending=False).head(30).iloc[::-1]
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, max(4.0, 0.25 * len(top) + 1.5)))
    obj = pd.to_numeric(sens["objective"], errors="coerce")
    a.barh(sens["perturbation"], obj, color=["#444" if p == "base" else "#7aa6c2" for p in sens["perturbation"]])
    a.invert_yaxis()
    a.set_xlabel("objective")
    a.set_title("objective per variant")
    b.barh(
        [f"{s}:{i}" for s, i in zip(top["service"], top["site_id"], strict=True)],
        top["share"],
        color=["#2a7f3f" if x else "#c9a227" for x in top["in_base_plan"]],
    )
    b.set_xlim(0, 1)
    b.set_xlabel("share of variants choosing the site (green: in the base plan)")
    b.set_title("stability of the sites")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def run_sensitivity(
    file: str | Path,
    out: str | Path,
    *,
    samples: int = 10,
    seed: int = 0,
    spread: float = 0.15,
    engine: str = "dask",
    workers: int | None = None,
    scheduler: str | None = None,
    time_limit: float | None = None,
    quiet: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """Run the sensitivity batch into ``out``; returns (sensitivity table, stability table, BatchResult)."""
    from siting.models.errors import ScenarioError
    from siting.scenarios.batch.run import run_batch
    from siting.scenarios.pipeline.tables import csv_bytes

    if samples < 0 or samples > 1000:
        raise ScenarioError(f"--samples {samples} must be from 0 to 1000")
    if not 0 < spread < 1:
        raise ScenarioError(f"--spread {spread} must be a fraction in (0, 1), e.g. 0.15 for ±15 %")
    vs = sensitivity_variants(samples, seed, spread)
    holder: dict[str, Any] = {}

    def finish(folder: Any, table: pd.DataFrame) -> None:
        sens = table.copy()
        labels = {v.id: describe(v.settings) for v in vs}
        sens.insert(1, "perturbation", sens["variant_id"].map(labels))
        keep = ["variant_id", "perturbation", "status", "objective", "bound", "gap", "cost", "new_sites"]
        keep += [c for c in sens.columns if c.startswith(("covered.", "coverage."))] + ["error"]
        sens = sens[[c for c in keep if c in sens.columns]]
        stab = stability_table(table, vs[0].id)
        holder.update(sens=sens, stab=stab)
        folder.add_files(
            {
                "sensitivity.csv": csv_bytes(sens),
                "stability.csv": csv_bytes(stab),
                "sensitivity.png": figure(sens, stab),
            }
        )

    res = run_batch(
        file,
        out,
        variants=vs,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        time_limit=time_limit,
        quiet=quiet,
        kind="sensitivity",
        extra_names=FILES,
        on_folder=finish,
    )
    return holder["sens"], holder["stab"], res


def summary_text(sens: pd.DataFrame, stab: pd.DataFrame, out_dir: Path) -> str:
    """What ``siting sensitivity`` prints: the variants, how many base sites are firm, where the files are."""
    base = stab[stab["in_base_plan"]]
    firm = int((base["share"] >= 0.8).sum())
    return "\n".join(
        [
            sens[["perturbation", "status", "objective", "cost"]].to_string(index=False),
            f"{firm} of the base plan's {len(base)} sites are chosen in at least 80 % of the solved variants",
            f"written to {out_dir} (sensitivity.csv, stability.csv, sensitivity.png)",
        ]
    )
