"""The ranked plan of a capacitated covering service: each site's gain and drop-one loss in *served*
demand, what it takes within its capacity, not the people it merely reaches.

For a set S of open sites (existing facilities always among them) let ``F(S)`` be the most demand
the sites of S can serve within reach and capacities: the capacitated MCLP of
:mod:`models.formulations.capacitated_cover` with ``y`` fixed to S (unsplit or split, as the
service). For the plan's new sites in rank order ``j_1, ..., j_K`` (``S_k`` = the existing
facilities and the first k of them)::

    gain_k = F(S_k) - F(S_{k-1})                      what j_k adds to the demand served
    loss_k = F(S_K) - F(S_K \\ {j_k})                  what is lost if j_k alone falls through

The gains add up to ``F(S_K) - F(S_0)``, the plan's served demand beyond the existing facilities.
Next to them, for the reason text: ``reach_k``, the demand within reach of j_k (its
``W_j``), and ``load_k`` / ``full_k``, what j_k serves in the plan's optimal assignment and
whether that fills its capacity. ``2K + 1`` assignment solves with the sites fixed (HiGHS removes
the site columns in presolve), one per ranked site and one per drop; the loop runs over sites.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from siting.models.formulations.capacitated_cover import capacitated_mclp, serving_pairs
from siting.models.instance import SitingInstance
from siting.models.milp import MilpProblem
from siting.optimizer.ranking import RankedRow
from siting.optimizer.registry import get_backend
from siting.optimizer.result import SolveParams

#: Load within this share of the capacity counts as full.
FULL_TOL = 1e-6


@dataclass(frozen=True)
class ServedSteps:
    """Per ranked new site (in the order given): served-demand gain, drop-one loss, demand within
    reach, load in the plan's assignment and whether that fills the site; ``base`` = F(S_0)."""

    gain: NDArray[np.float64]
    loss: NDArray[np.float64]
    reach: NDArray[np.float64]
    load: NDArray[np.float64]
    full: NDArray[np.bool_]
    base: float
    served: float


def _fixed(problem: MilpProblem, m: int, open_mask: NDArray[np.bool_]) -> MilpProblem:
    lower, upper = problem.col_lower.copy(), problem.col_upper.copy()
    lower[:m] = upper[:m] = open_mask.astype(np.float64)
    return replace(problem, col_lower=lower, col_upper=upper)


def served_steps(
    instance: SitingInstance,
    radius: float,
    order: NDArray[np.int64],
    allow_split: bool,
    params: SolveParams | None = None,
) -> ServedSteps:
    """``F`` along the rank order ``order`` (indices of new sites) and with each one dropped; see the
    module docstring. Solved exactly (gap 0) on HiGHS."""
    order = np.asarray(order, dtype=np.int64)
    m = instance.m
    problem = capacitated_mclp(instance, radius, p=max(1, order.size), allow_split=allow_split)
    backend = get_backend("highs")
    par = params if params is not None else SolveParams(mip_gap=0.0)
    rows, cols = serving_pairs(instance, radius)
    reach_all = np.bincount(cols, weights=instance.weights[rows], minlength=m).astype(np.float64)

    def best(open_mask: NDArray[np.bool_]) -> tuple[float, NDArray[np.float64]]:
        res = backend.solve(_fixed(problem, m, open_mask), par)
        if res.x is None or res.objective is None:
            raise RuntimeError(f"the served demand of a fixed plan was not found ({res.status.value})")
        a = problem.assignment_matrix(res.x, (instance.n, m))
        assert a is not None
        load = np.bincount(
            a.indices, weights=instance.weights[np.repeat(np.arange(instance.n), np.diff(a.indptr))] * a.data,
            minlength=m,
        ).astype(np.float64)  # fmt: skip
        return float(res.objective), load

    mask = instance.existing.copy()
    prefix = [best(mask)[0]]
    for j in order:
        mask[j] = True
        prefix.append(best(mask)[0])
    served, load = best(mask)
    loss = np.empty(order.size)
    for k, j in enumerate(order):
        mask[j] = False
        loss[k] = served - best(mask)[0]
        mask[j] = True
    cap = instance.capacity[order]
    ld = load[order]
    full = np.isfinite(cap) & (ld >= cap * (1 - FULL_TOL) - FULL_TOL)
    return ServedSteps(
        gain=np.diff(np.asarray(prefix)), loss=np.maximum(loss, 0.0), reach=reach_all[order], load=ld, full=full,
        base=prefix[0], served=served,
    )  # fmt: skip


def served_rows(
    rows: list[RankedRow],
    service: int,
    columns: NDArray[np.int64],
    instance: SitingInstance,
    radius: float,
    allow_split: bool,
    weight: float = 1.0,
) -> list[RankedRow]:
    """The ranked rows with service ``service``'s figures recounted in served demand: ``columns[k]`` is
    the column of ``instance`` (the service solved alone) of that service's k-th row in rank order.
    Its rows get ``basis="served"``, the gain, cumulative served demand and drop-one loss of
    :func:`served_steps`, the demand within reach and whether the site is full; the others are kept."""
    mine = [k for k, r in enumerate(rows) if r.service == service]
    if not mine:
        return rows
    steps = served_steps(instance, radius, np.asarray(columns, dtype=np.int64), allow_split)
    total = float(instance.weights.sum())
    after = steps.base + np.cumsum(steps.gain)
    out = list(rows)
    for q, k in enumerate(mine):
        out[k] = replace(
            rows[k],
            gain_people=float(steps.gain[q]),
            gain_weighted=float(weight * steps.gain[q]),
            covered_after=float(after[q]),
            coverage_share=float(after[q] / total) if total > 0 else float("nan"),
            drop_one_loss=float(steps.loss[q]),
            basis="served",
            within_reach=float(steps.reach[q]),
            full=bool(steps.full[q]),
        )
    return out
