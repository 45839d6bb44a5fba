"""Seeded joint instances of medium size (and tiny ones), shared by the joint greedy and bound tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from siting.models.multiservice import MultiServiceInstance, ServiceData


def medium_instance(seed: int, tiny: bool = False) -> MultiServiceInstance:
    """A seeded joint instance: demand and plots in a 3 km square, reach by service (``tiny``: a
    handful of points and plots)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12)) if tiny else int(rng.integers(150, 400))
    m0 = int(rng.integers(2, 7)) if tiny else int(rng.integers(25, 50))
    S = int(rng.integers(1, 4))
    T = int(rng.choice([1, 2, 3]))
    side = 900.0 if tiny else 3000.0
    demand = rng.uniform(0, side, size=(n, 2))
    plots = rng.uniform(0, side, size=(m0, 2))
    dup = rng.choice(m0, size=max(1, m0 // 5), replace=False)  # identical columns: equal gains, ties
    plots = np.vstack([plots, plots[dup]])
    m = plots.shape[0]
    D = np.hypot(*(demand[:, None, :] - plots[None, :, :]).transpose(2, 0, 1))
    services = []
    for s in range(S):
        reach = float(rng.choice([400.0, 600.0, 900.0]))
        stored = D <= 1.5 * reach
        r, c = np.nonzero(stored)
        dist = sp.csr_array((D[r, c], (r, c)), shape=(n, m))
        cost0 = rng.integers(1, 6, size=m0).astype(float)
        cost = np.concatenate([cost0, cost0[dup]])
        elig = rng.random(m) < 0.85
        ex_d = np.where(rng.random(n) < 0.15, rng.uniform(0, 2 * reach, size=n), np.inf)
        services.append(
            ServiceData(
                name=f"svc{s}",
                weights=rng.integers(0, 40, size=n).astype(float) * rng.choice([1.0, 0.2]),
                coverage=sp.csr_array(stored & (D <= reach)),
                distances=dist,
                cost=np.where(elig, cost, np.nan),
                eligible=elig,
                area=float(rng.integers(1, 3)),
                existing_covered=ex_d <= reach,
                existing_distance=ex_d,
                min_sites=int(rng.random() < 0.2),
                max_sites=None if rng.random() < 0.5 else int(rng.integers(3, 12)),
                weight=float(rng.choice([1.0, 8.0, 0.2])),
                budget=None if rng.random() < 0.6 else float(rng.integers(8, 30)),
                group=f"group{s}",
            )
        )
    pb = rng.integers(5, 20, size=T).astype(float) if rng.random() < 0.7 else None
    return MultiServiceInstance(
        demand_ids=np.arange(n),
        site_ids=np.array([f"p{j}" for j in range(m)]),
        room=rng.choice([np.inf, 1.0, 2.0, 3.0], size=m),
        services=tuple(services),
        total_budget=None if rng.random() < 0.4 else float(rng.integers(15, 60)),
        phases=tuple(str(2022 + t) for t in range(T)),
        phase_budgets=pb,
        carry_over=bool(rng.random() < 0.5),
        phase_weights=rng.uniform(0.5, 2.0, size=T),
        name=f"medium{seed}",
    )
