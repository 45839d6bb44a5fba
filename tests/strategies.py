"""Hypothesis strategies that draw the instance itself, so a failing case shrinks to a small one.

Every number of an instance (distances, weights, costs, which sites exist or are forbidden, which
pairs are unreachable) is drawn by hypothesis, not made by a seeded generator: when a property
fails, hypothesis shrinks towards fewer demand points and sites, distances and weights near 0, all
sites new and every pair reachable, and reports that smallest instance.

* :func:`instances` - a small :class:`SitingInstance` (dense or CSR distances);
* :func:`limits` - ``(p, budget)`` for an instance: a count, a budget, or both;
* :func:`radii` - a service radius among the instance's own distances (so coverage changes at it);
* :func:`joint_instances` - a small :class:`MultiServiceInstance` (services on shared plots);
* :class:`NumpySource` / :class:`DrawSource` - one interface for random choices, backed by a seeded
  numpy generator or by hypothesis, so one instance generator serves fixed examples and shrinking
  property tests alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from siting.models.instance import SitingInstance
from siting.models.multiservice import MultiServiceInstance, ServiceData

#: Site roles as drawn: 0 new (what shrinking goes to), 1 existing, 2 forbidden.
NEW, EXISTING, FORBIDDEN = 0, 1, 2


@st.composite
def instances(
    draw: st.DrawFn,
    *,
    n: tuple[int, int] = (2, 8),
    m: tuple[int, int] = (2, 6),
    max_distance: int = 20,
    weights: tuple[int, int] = (1, 9),
    costs: tuple[int, int] = (1, 5),
    roles: bool = True,
    min_new: int = 1,
    unreachable: bool = False,
    sparse: bool | None = False,
    fractional: bool = False,
    capacities: tuple[int, int] | None = None,
) -> SitingInstance:
    """A small instance with every entry drawn.

    Parameters
    ----------
    n, m : ranges of the number of demand points and sites.
    max_distance : distances are whole numbers in ``[0, max_distance]`` (plus a fraction if
        ``fractional``), so ties are common, as on real rounded walking distances.
    weights, costs : ranges of the whole-number demand weights and site costs.
    roles : some sites may be existing or forbidden (never both); the first ``min_new`` sites are
        always new candidates, so a model with ``p >= 1`` has something to open.
    unreachable : some demand-site pairs may be unreachable (``inf``, or not stored if sparse).
    sparse : CSR distances (True), dense (False), or drawn (None).
    fractional : weights and distances get a drawn fractional part.
    capacities : range of whole-number site capacities, some of them unlimited (``inf``); None
        for no capacities (every site unlimited).
    """
    n_ = draw(st.integers(*n), label="n")
    m_ = draw(st.integers(*m), label="m")
    d = draw(hnp.arrays(np.int64, (n_, m_), elements=st.integers(0, max_distance)), label="distances").astype(float)
    w = draw(hnp.arrays(np.int64, n_, elements=st.integers(*weights)), label="weights").astype(float)
    if fractional:
        d += draw(hnp.arrays(np.float64, (n_, m_), elements=st.floats(0.0, 0.875, width=16)), label="fractions")
        w *= draw(hnp.arrays(np.float64, n_, elements=st.floats(0.125, 1.0, width=16)), label="weight scale")
    cost = draw(hnp.arrays(np.int64, m_, elements=st.integers(*costs)), label="costs").astype(float)
    role = np.zeros(m_, dtype=np.int8)
    fixed = min(min_new, m_)
    if roles and m_ > fixed:
        role[fixed:] = draw(
            hnp.arrays(np.int8, m_ - fixed, elements=st.sampled_from([NEW, EXISTING, FORBIDDEN])), label="roles"
        )
    if unreachable:
        d[draw(hnp.arrays(np.bool_, (n_, m_)), label="unreachable")] = np.inf
    cap = None
    if capacities is not None:
        cap = draw(hnp.arrays(np.int64, m_, elements=st.integers(*capacities)), label="capacities").astype(float)
        cap[draw(hnp.arrays(np.bool_, m_), label="unlimited")] = np.inf
    as_sparse = draw(st.booleans(), label="sparse") if sparse is None else sparse
    dist: np.ndarray | sp.csr_array = d.astype(np.float32) if not unreachable and not as_sparse else d
    if as_sparse:
        rows, cols = np.nonzero(np.isfinite(d))
        dist = sp.csr_array((d[rows, cols], (rows, cols)), shape=(n_, m_))
    return SitingInstance(
        dist, weights=w, cost=cost, capacity=cap, existing=role == EXISTING, forbidden=role == FORBIDDEN, name="drawn"
    )


@st.composite
def limits(
    draw: st.DrawFn, inst: SitingInstance, *, min_p: int = 0, max_budget: int = 12
) -> tuple[int | None, float | None]:
    """``(p, budget)`` for ``inst``: p alone, a budget alone, or both (never neither)."""
    free = int((inst.eligible & ~inst.existing).sum())
    mode = draw(st.sampled_from(["p", "budget", "both"]), label="limit")
    p = draw(st.integers(min(min_p, free), free), label="p") if mode != "budget" else None
    budget = float(draw(st.integers(0, max_budget), label="budget")) if mode != "p" else None
    return p, budget


def radii(inst: SitingInstance) -> st.SearchStrategy[float]:
    """A radius equal to one of the instance's finite distances (1.0 if it has none)."""
    dist = inst.distinct_distances()
    return st.sampled_from([float(v) for v in dist]) if dist.size else st.just(1.0)


@st.composite
def joint_instances(
    draw: st.DrawFn,
    *,
    services: int = 2,
    n: tuple[int, int] = (4, 8),
    m: tuple[int, int] = (3, 4),
    phases: int = 1,
    total_budget: float = 10.0,
) -> MultiServiceInstance:
    """A small joint instance with every entry drawn: per service the weights (1..19), which plots
    reach which demand points, which plots are eligible (plot ``s`` always is, for service ``s``),
    costs 1..4, a service weight 1 or 2; the plots' room 1..2. The total budget is split evenly
    over ``phases`` phases."""
    n_ = draw(st.integers(*n), label="n")
    m_ = draw(st.integers(max(m[0], services), max(m[1], services)), label="m")
    data = []
    for s in range(services):
        eligible = draw(hnp.arrays(np.bool_, m_), label=f"eligible {s}") | (np.arange(m_) == s)
        cost = draw(hnp.arrays(np.int64, m_, elements=st.integers(1, 4)), label=f"cost {s}").astype(float)
        data.append(
            ServiceData(
                name=f"svc{s}",
                weights=draw(hnp.arrays(np.int64, n_, elements=st.integers(1, 19)), label=f"weights {s}").astype(float),
                coverage=sp.csr_array(draw(hnp.arrays(np.bool_, (n_, m_)), label=f"coverage {s}")),
                distances=None,
                cost=np.where(eligible, cost, np.nan),
                eligible=eligible,
                area=1.0,
                existing_covered=np.zeros(n_, dtype=bool),
                existing_distance=np.full(n_, np.inf),
                weight=float(draw(st.sampled_from([1.0, 2.0]), label=f"weight {s}")),
            )
        )
    room = draw(hnp.arrays(np.int64, m_, elements=st.integers(1, 2)), label="room").astype(float)
    return MultiServiceInstance(
        demand_ids=np.arange(n_),
        site_ids=np.array([f"p{j}" for j in range(m_)], dtype=object),
        room=room,
        services=tuple(data),
        total_budget=total_budget,
        phases=tuple(f"t{t}" for t in range(phases)),
        phase_budgets=np.full(phases, total_budget / phases) if phases > 1 else None,
    )


class NumpySource:
    """Random choices from a seeded numpy generator: a generator written against this interface
    makes the same instance for the same seed (fixed examples in tests)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def choice(self, options: list[Any], size: int | None = None) -> Any:
        return self.rng.choice(options, size=size)

    def ints(self, lo: int, hi: int, size: int | tuple[int, ...] | None = None) -> Any:
        """Whole numbers in ``[lo, hi)``."""
        return self.rng.integers(lo, hi, size=size)

    def mask(self, shape: int | tuple[int, ...], p: float) -> NDArray[np.bool_]:
        """True with probability ``p``, elementwise."""
        return np.asarray(self.rng.random(shape) < p)

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


class DrawSource:
    """The same interface with every choice drawn by hypothesis, so the instance shrinks: choices
    towards the first option, numbers towards ``lo``, masks and chances towards False."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def choice(self, options: list[Any], size: int | None = None) -> Any:
        if size is None:
            return self.draw(st.sampled_from(options))
        return np.array([self.draw(st.sampled_from(options)) for _ in range(size)])

    def ints(self, lo: int, hi: int, size: int | tuple[int, ...] | None = None) -> Any:
        if size is None:
            return self.draw(st.integers(lo, hi - 1))
        return self.draw(hnp.arrays(np.int64, size, elements=st.integers(lo, hi - 1)))

    def mask(self, shape: int | tuple[int, ...], p: float) -> NDArray[np.bool_]:
        return np.asarray(self.draw(hnp.arrays(np.bool_, shape)))

    def chance(self, p: float) -> bool:
        return bool(self.draw(st.booleans()))


def coverage_instances() -> st.SearchStrategy[SitingInstance]:
    """2-10 demand points (weights 0-9), 2-7 sites, distances 0-20, costs 1-5, some sites existing
    or forbidden: the coverage paths' brute-force checks."""
    return instances(n=(2, 10), m=(2, 7), weights=(0, 9), costs=(1, 5))
