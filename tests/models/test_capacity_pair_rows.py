"""The pair rows x_ij <= y_j of the capacitated MCLP: valid (the integer optimum is unchanged, and the
LP bound stays above the brute-force optimum) and never weaker than the model's own LP. (On these
tiny instances the two LP bounds mostly coincide; the tightening shows at city scale, see
benchmarks/bench_capacity_equity.py.)"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siting.models.formulations.capacitated_cover import capacitated_mclp, with_pair_rows
from siting.models.instance import SitingInstance
from siting.optimizer.registry import get_backend
from siting.optimizer.result import SolveParams
from tests.oracles import all_plans

RADIUS = 6.0
EXACT = SolveParams(mip_gap=0.0)


def draw(seed: int) -> tuple[SitingInstance, int]:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 6)), int(rng.integers(2, 5))
    d = rng.integers(0, 12, size=(n, m)).astype(float)
    d[rng.random((n, m)) < 0.2] = np.inf
    cap = rng.integers(1, 12, size=m).astype(float)
    inst = SitingInstance(d, weights=rng.integers(1, 8, size=n).astype(float), capacity=cap)
    return inst, int(rng.integers(1, m + 1))


def unsplit_optimum(inst: SitingInstance, p: int) -> float:
    ok = inst.dense_distances() <= RADIUS
    best = 0.0
    for mask in all_plans(inst):
        if mask.sum() > p:
            continue
        for pick in itertools.product(*[[-1, *np.flatnonzero(ok[i] & mask)] for i in range(inst.n)]):
            load = np.zeros(inst.m)
            for i, j in enumerate(pick):
                if j >= 0:
                    load[j] += inst.weights[i]
            if (load <= inst.capacity).all():
                best = max(best, float(load.sum()))
    return best


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_pair_rows_keep_the_optimum_and_tighten_the_lp(seed: int) -> None:
    inst, p = draw(seed)
    if not (inst.dense_distances() <= RADIUS).any():
        return
    highs = get_backend("highs")
    want = unsplit_optimum(inst, p)
    weak = capacitated_mclp(inst, RADIUS, p=p)
    strong = with_pair_rows(weak, inst)
    assert highs.solve(strong, EXACT).objective == pytest.approx(want, abs=1e-6)

    assert want - 1e-6 <= relaxed_bound(strong) <= relaxed_bound(weak) + 1e-6


def relaxed_bound(problem: object) -> float:
    relaxed = replace(problem, integrality=np.zeros(problem.num_vars, dtype=bool))  # type: ignore[type-var]
    return float(get_backend("highs").solve(relaxed, EXACT).objective)
