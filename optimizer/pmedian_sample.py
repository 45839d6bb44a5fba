"""Start plans for a very large p-median at small p: the exact optimum of random samples.

At small p every median serves thousands of clients, and the swap search (fast interchange) has
deep local optima: at usa13509, p = 10 it ended at 401.87 million from the greedy plan and from
six different starts alike, 0.83 % above the optimum (398,561,730). The plans that lead out of
that basin come from the problem's global shape, which a sample keeps.

For a sample of ``K`` clients ``S`` (uniform, without replacement) and ``K`` eligible sites ``T``
(plus every existing site), the sample problem ``min_{Y in T, |Y| = p} sum_{i in S} w_i d(i, Y)``
is, up to the factor ``n / K``, an unbiased estimate of the full objective of every plan inside
``T``; its optimum is a plan of the full instance (existing sites open, p new ones). The sample is
solved exactly by the p-median path of :func:`optimizer.solve.solve` (HiGHS, K x K dense: seconds),
each sample's plan is measured on the whole instance, and the caller improves the best by swaps on
every site. At usa13509, p = 10, K = 2,000: three samples in 20-61 s each, the best measured at
404.68 million, which the swap search took to the optimum, 398,561,730, in 31 swaps and 112 s
(from the greedy plan it stopped at 401.87 million after 34 swaps).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from siting.models.evaluate import evaluate
from siting.models.instance import SitingInstance

#: clients (and sites) in each sample: a 2,000 x 2,000 p-median is solved exactly in seconds at small p
SAMPLE_SIZE = 2000
#: samples drawn (each a different seed); the best measured plan is kept
SAMPLES = 3


def sample_instance(
    instance: SitingInstance, size: int, rng: np.random.Generator
) -> tuple[SitingInstance | None, NDArray[np.int64]]:
    """A sample of ``size`` clients of positive weight and ``size`` eligible sites of the dense
    ``instance`` (every existing site kept), as an instance of its own, and the sampled sites'
    indices in ``instance``. When the instance has as many sites as clients (the research
    instances, where every point is both) the sites are first the sampled clients' own indices,
    where eligible (each sampled client keeps the site under it, as in the whole instance), then
    others at random up to ``size``. None (and no sites) when no sampled site reaches any sampled
    client."""
    clients = np.flatnonzero(instance.weights > 0)
    rows = np.sort(rng.choice(clients, min(size, clients.size), replace=False))
    free = instance.eligible & ~instance.existing
    picked = np.zeros(instance.m, dtype=bool)
    if instance.n == instance.m:
        picked[rows] = True
        picked &= free
    # (the rest of) the sites at random among the free ones
    rest = np.flatnonzero(free & ~picked)
    picked[rng.choice(rest, min(rest.size, max(0, size - int(picked.sum()))), replace=False)] = True
    picked |= instance.existing & instance.eligible
    cols = np.flatnonzero(picked)
    block = np.ascontiguousarray(instance.distances[np.ix_(rows, cols)])
    reach = np.isfinite(block).any(axis=1)  # a client no sampled site reaches says nothing of the plans
    if not reach.any():
        return None, cols[:0]
    sub = SitingInstance(
        block[reach],
        weights=instance.weights[rows[reach]],
        cost=instance.cost[cols],
        existing=instance.existing[cols],
        name=f"{instance.name} sample",
    )
    return sub, cols


def sample_plans(
    instance: SitingInstance,
    p: int,
    stop_at: float | None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    size: int | None = None,
    samples: int | None = None,
) -> list[NDArray[np.bool_]]:
    """The exact optima of up to ``samples`` random samples (:func:`sample_instance`) of ``size``
    clients and sites (default :data:`SAMPLES` and :data:`SAMPLE_SIZE`, read at call time), as
    plans of ``instance``, best measured first; each sample gets an equal part of the time to
    ``stop_at`` (a sample stopped by it still gives its best plan). Empty when there is no time."""
    from siting.optimizer.result import SolveParams
    from siting.optimizer.solve import ModelSpec, solve

    say = progress or (lambda _msg: None)
    size = SAMPLE_SIZE if size is None else size
    samples = SAMPLES if samples is None else samples
    rng = np.random.default_rng(seed)
    found: list[tuple[float, NDArray[np.bool_]]] = []
    for s in range(samples):
        left = None if stop_at is None else (stop_at - time.monotonic()) / (samples - s)
        if left is not None and left <= 1.0:
            break
        t0 = time.monotonic()
        sub, cols = sample_instance(instance, size, rng)
        if sub is None or int((sub.eligible & ~sub.existing).sum()) < p:
            break  # fewer sampled sites than medians: the sample cannot stand for the instance
        res = solve(
            sub, ModelSpec("pmedian", p=p), solver="highs", params=SolveParams(time_limit=left, mip_gap=0.0, seed=seed)
        )
        if not res.status.has_solution:
            continue
        plan = np.zeros(instance.m, dtype=bool)
        plan[cols[np.asarray(res.open_sites, dtype=bool)]] = True
        plan |= instance.existing
        value = float(evaluate(instance, plan).weighted_distance)
        found.append((value, plan))
        say(
            f"sample {s + 1} of {samples} ({sub.n:,} demand points x {sub.m:,} sites): "
            f"{res.status.value.lower()} there, {value:.10g} on every site, {time.monotonic() - t0:.0f} s"
        )
    found.sort(key=lambda vp: vp[0])
    return [plan for _value, plan in found]
