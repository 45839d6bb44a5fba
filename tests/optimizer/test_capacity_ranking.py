"""The ranked plan of a capacitated service counts served demand: gains and drop-one losses against
brute force.

``F(S)``, the most demand the open sites S serve within reach and capacities, is computed by ``tests/oracles.best_served_load`` from
the definition: unsplit by trying every choice of serving site (or none) for every point, split by
a dense LP (``scipy.optimize.linprog``). Tiny seeded instances, the plan and its order drawn too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from oracles import best_served_load

from siting.models.instance import SitingInstance
from siting.optimizer.capacity_ranking import served_steps

RADIUS = 6.0


def draw(seed: int) -> tuple[SitingInstance, NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    d = rng.integers(0, 12, size=(n, m)).astype(float)
    d[rng.random((n, m)) < 0.2] = np.inf
    cap = rng.integers(1, 10, size=m).astype(float)
    cap[rng.random(m) < 0.25] = np.inf
    existing = rng.random(m) < 0.2
    inst = SitingInstance(
        d, weights=rng.integers(0, 6, size=n).astype(float), capacity=cap, existing=existing,
        forbidden=~existing & (rng.random(m) < 0.15),
    )  # fmt: skip
    new = np.flatnonzero(inst.eligible & ~inst.existing)
    chosen = new[rng.random(new.size) < 0.7]
    return inst, rng.permutation(chosen).astype(np.int64)


def served(inst: SitingInstance, mask: NDArray[np.bool_], split: bool) -> tuple[float, NDArray[np.float64]]:
    """F(mask) and one optimal load per site."""
    ok = (inst.dense_distances() <= RADIUS) & mask[None, :] & (inst.weights[:, None] > 0)
    return best_served_load(inst, ok, split)


@pytest.mark.parametrize("split", [False, True], ids=["unsplit", "split"])
@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_served_gains_and_losses_equal_brute_force(split: bool, seed: int) -> None:
    inst, order = draw(seed)
    if order.size == 0 or not ((inst.dense_distances() <= RADIUS) & (inst.weights[:, None] > 0)).any():
        return
    got = served_steps(inst, RADIUS, order, split)
    mask = inst.existing.copy()
    prefix = [served(inst, mask, split)[0]]
    for j in order:
        mask[j] = True
        prefix.append(served(inst, mask, split)[0])
    assert got.gain == pytest.approx(np.diff(prefix), abs=1e-6)
    assert got.base == pytest.approx(prefix[0], abs=1e-6) and got.served == pytest.approx(prefix[-1], abs=1e-6)
    for k, j in enumerate(order):
        mask[j] = False
        assert got.loss[k] == pytest.approx(prefix[-1] - served(inst, mask, split)[0], abs=1e-6)
        mask[j] = True
    reach = ((inst.dense_distances() <= RADIUS) * inst.weights[:, None]).sum(axis=0)
    assert got.reach == pytest.approx(reach[order])
    assert (got.load <= inst.capacity[order] + 1e-6).all() and got.load.sum() <= prefix[-1] + 1e-6
    # a site is full exactly when its load reaches its capacity
    assert (got.full == (np.isfinite(inst.capacity[order]) & (got.load >= inst.capacity[order] - 1e-6))).all()


def test_a_full_site_adds_only_its_capacity() -> None:
    # 10 people 1 from s0 (room 3), 4 people 1 from s1 (unlimited); plain coverage would credit s0 with 10
    inst = SitingInstance(np.array([[1.0, 9.0], [9.0, 1.0]]), weights=[10.0, 4.0], capacity=[3.0, np.inf])
    got = served_steps(inst, RADIUS, np.array([0, 1]), allow_split=True)
    assert got.gain.tolist() == [3.0, 4.0] and got.full.tolist() == [True, False]
    assert got.reach.tolist() == [10.0, 4.0] and got.loss.tolist() == [3.0, 4.0]
