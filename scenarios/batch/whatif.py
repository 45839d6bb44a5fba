"""What if an existing facility closes, or a plot is given a facility? (``siting whatif``)

Three changes, each a setting of a batch variant (:mod:`scenarios.batch.grid`):

* ``close``: existing facilities removed from ``layers.existing`` before distances are measured;
  the people they reached count as uncovered unless the new plan reaches them;
* ``open`` (``--add SITE[:SERVICE]``): a facility of SERVICE on candidate plot SITE, decided
  outside this plan and its budget (it counts like an existing facility: fixed open, cost 0);
* ``force`` (``--force SITE[:SERVICE]``): the same facility, but paid from the plan's budget: its
  cost (the plot's ``cost`` value, else the service's ``cost_by_land_type``, else ``default_cost``)
  is taken off ``budget.total``, off the service's ``budget.per_service`` entry, and off the first
  phase of ``budget.phases`` (the plot opens first). A budget that cannot pay for it is an error.

:func:`whatif` solves the base scenario and the changed one (one batch of two variants, through
the same engine) and compares them: objective, cost, coverage per service, sites gained and lost.
SERVICE may be left out when the scenario has one service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from siting.models.errors import ScenarioError


def opened_pairs(body: Any, settings: dict[str, Any], where: str) -> list[tuple[str, str]]:
    """(site, service) of every ``open`` and ``force`` entry, services checked."""
    from siting.scenarios.batch.grid import id_list

    pairs: list[tuple[str, str]] = []
    for key in ("open", "force"):
        for entry in id_list(settings.get(key)):
            site, _, service = entry.partition(":")
            if not service:
                if len(body.services) != 1:
                    raise ScenarioError(
                        f"{where}: {key} {site}: say which service the plot gets, e.g. {site}:{next(iter(body.services))} "
                        f"(services: {', '.join(body.services)})"
                    )
                service = next(iter(body.services))
            if service not in body.services:
                raise ScenarioError(
                    f"{where}: {key} {entry}: no service {service!r}; services: {', '.join(body.services)}"
                )
            pairs.append((site, service))
    return pairs


def forced_budget(body: Any, base_dir: Path, inputs: Any, settings: dict[str, Any], where: str) -> Any:
    """``body`` with the cost of every forced facility taken off its budgets (module docstring)."""
    import math

    forced = opened_pairs(body, {"force": settings.get("force")}, where)
    layers = inputs.base_layers(body, base_dir, where, None)
    sites = layers.sites
    ids = sites.index.astype(str)
    budget = body.budget.model_copy(deep=True)
    for site, service in forced:
        if site not in set(ids):
            raise ScenarioError(f"{where}: force {site}: no candidate site {site!r} in layers.sites")
        row = sites.iloc[int(ids.get_indexer([site])[0])]
        svc = body.services[service]
        cost = float(row["site_cost"])
        if math.isnan(cost):
            c = svc.cost_by_land_type.get(str(row["land_type"]), svc.default_cost)
            cost = float(c) if c is not None else 0.0
        if budget.total is not None:
            if cost > budget.total:
                raise ScenarioError(
                    f"{where}: force {site}:{service}: it costs {cost:,.0f}, more than budget.total {budget.total:,.0f}"
                )
            budget.total -= cost
        if service in budget.per_service:
            budget.per_service[service] = max(budget.per_service[service] - cost, 0.0)
        if budget.phases:
            first = next(iter(budget.phases))
            if cost > budget.phases[first]:
                raise ScenarioError(
                    f"{where}: force {site}:{service}: it costs {cost:,.0f}, more than the first phase's budget "
                    f"({first}: {budget.phases[first]:,.0f})"
                )
            budget.phases[first] -= cost
    return body.model_copy(update={"budget": budget})


def whatif_variants(close: list[str], add: list[str], force: list[str]) -> list[Any]:
    """The base variant and the changed one."""
    from siting.scenarios.batch.grid import Variant, variant_id

    if not (close or add or force):
        raise ScenarioError("say what changes: --close FACILITY, --add SITE[:SERVICE] or --force SITE[:SERVICE]")
    settings: dict[str, Any] = {}
    for key, ids in (("close", close), ("open", add), ("force", force)):
        if ids:
            settings[key] = ";".join(ids)
    return [Variant(variant_id({}), {}), Variant(variant_id(settings), settings)]


def compare_table(base: dict[str, Any], other: dict[str, Any]) -> Any:
    """What changes from the base plan: one row per measure (base, what-if, change)."""
    import pandas as pd

    rows = []
    keys = ["status", "objective", "cost", "new_sites"] + sorted(
        k for k in base if k.startswith(("covered.", "coverage."))
    )
    for k in keys:
        b, o = base.get(k), other.get(k)
        change: Any = ""
        if isinstance(b, int | float) and isinstance(o, int | float) and not isinstance(b, bool):
            change = o - b
        rows.append({"measure": k, "base": b, "what_if": o, "change": change})
    bs = set(filter(None, str(base.get("sites") or "").split(";")))
    os_ = set(filter(None, str(other.get("sites") or "").split(";")))
    rows.append({"measure": "sites added", "base": "", "what_if": "; ".join(sorted(os_ - bs)), "change": len(os_ - bs)})
    rows.append(
        {"measure": "sites dropped", "base": "; ".join(sorted(bs - os_)), "what_if": "", "change": -len(bs - os_)}
    )
    if other.get("error"):
        rows.append({"measure": "error", "base": "", "what_if": other["error"], "change": ""})
    return pd.DataFrame(rows)


def run_whatif(
    file: str | Path,
    out: str | Path | None = None,
    *,
    close: list[str] | None = None,
    add: list[str] | None = None,
    force: list[str] | None = None,
    engine: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    time_limit: float | None = None,
    quiet: bool = True,
) -> tuple[Any, Any]:
    """Solve the base scenario and the changed one; returns (comparison table, BatchResult).

    Writes ``whatif.csv`` (the table) into the batch folder ``out`` (default: the scenario's
    ``output.folder`` with ``_whatif`` appended).
    """
    from siting.scenarios.batch.run import run_batch
    from siting.scenarios.pipeline.output_folder import output_dir
    from siting.scenarios.pipeline.tables import csv_bytes
    from siting.scenarios.schema import load_scenario

    vs = whatif_variants(list(close or []), list(add or []), list(force or []))
    if out is None:
        body, base_dir = load_scenario(file)
        target = output_dir(body, base_dir, None, Path(file).name)
        out = target.with_name(target.name + "_whatif")
    holder: dict[str, Any] = {}

    def finish(folder: Any, table: Any) -> None:
        rows = {r["variant_id"]: r for r in table.to_dict("records")}
        holder["table"] = compare_table(rows[vs[0].id], rows[vs[1].id])
        folder.add_files({"whatif.csv": csv_bytes(holder["table"])})

    res = run_batch(
        file,
        out,
        variants=vs,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        time_limit=time_limit,
        quiet=quiet,
        kind="whatif",
        extra_names=("whatif.csv",),
        on_folder=finish,
    )
    return holder["table"], res
