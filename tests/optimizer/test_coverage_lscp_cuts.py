"""The LSCP path's block cuts and cost grid (optimizer.coverage_blocks.block_cuts,
optimizer.coverage_lscp.on_grid).

Every cover of a tiny covering problem is enumerated: each block cut must hold at each of them,
and the LP with the cuts must lie between the block bound and the least cost.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from oracles import cover_problem

from siting.models.milp import MilpProblem
from siting.optimizer.coverage_blocks import block_cuts, bound_margin
from siting.optimizer.coverage_lscp import lp_solve, on_grid
from siting.optimizer.result import SolveParams


def _with_cuts(problem: MilpProblem, cuts: sp.csr_array, rhs: NDArray[np.float64]) -> MilpProblem:
    """``problem`` with the rows ``cuts @ y >= rhs`` appended (valid inequalities: same plans)."""
    k = cuts.shape[0]
    return replace(
        problem,
        A=sp.csc_array(sp.vstack([sp.csr_array(problem.A), sp.csr_array(cuts, dtype=np.float64)])),
        row_lower=np.concatenate([problem.row_lower, rhs]),
        row_upper=np.concatenate([problem.row_upper, np.full(k, np.inf)]),
    )


def _covers(b: NDArray[np.bool_]) -> list[NDArray[np.bool_]]:
    """Every 0/1 vector covering all rows of b (brute force)."""
    m = b.shape[1]
    out = []
    for bits in itertools.product((False, True), repeat=m):
        y = np.array(bits, dtype=bool)
        if b[:, y].any(axis=1).all():
            out.append(y)
    return out


def _odd_cycles(seed: int, m: int = 12, extra: int = 4) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Rows: the edges of a 5-cycle and a 7-cycle over shuffled sites, and a few rows of three
    sites; costs 1-1.5. Odd cycles keep the LP fractional (small random covering LPs rarely are)."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(m)
    rows: list[list[int]] = []
    for start, length in ((0, 5), (5, 7)):
        ids = perm[start : start + length]
        rows += [[int(ids[i]), int(ids[(i + 1) % length])] for i in range(length)]
    rows += [rng.choice(m, 3, replace=False).tolist() for _ in range(extra)]
    b = np.zeros((len(rows), m), dtype=bool)
    for i, r in enumerate(rows):
        b[i, r] = True
    return np.unique(b, axis=0), np.round(rng.uniform(1.0, 1.5, size=m), 3)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10_000), size=st.sampled_from([3, 4, 6, 12]), warm=st.booleans())
def test_block_cuts_hold_at_every_cover_and_lift_the_lp(seed: int, size: int, warm: bool) -> None:
    b, cost = _odd_cycles(seed)
    problem = cover_problem(b, cost)
    lp = lp_solve(problem, SolveParams(time_limit=10))
    assert lp is not None
    y, duals = lp
    start = np.ones(b.shape[1], dtype=bool) if warm else None  # every site: a cover
    free = np.ones(b.shape[1], dtype=bool)
    got = block_cuts(problem, duals, free, SolveParams(time_limit=10), lambda _m: None, size, start)
    covers = np.array(_covers(b), dtype=np.float64)
    best = float((covers @ cost).min())
    assert float(cost @ y) - 1e-6 <= got.bound <= best + 1e-9
    assert got.cuts.shape == (got.rhs.size, b.shape[1])
    if got.rhs.size:
        # valid: every cover satisfies every cut
        assert (covers @ got.cuts.toarray().T >= got.rhs[None, :] - 1e-12).all()
        # and the LP with the cuts is at least the block bound, at most the least cost
        lp2 = lp_solve(_with_cuts(problem, got.cuts, got.rhs), SolveParams(time_limit=10))
        assert lp2 is not None
        assert got.bound - 1e-6 <= float(cost @ lp2[0]) <= best + 1e-6


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 10_000), shut=st.integers(1, 3))
def test_block_cuts_with_closed_sites_bound_the_covers_without_them(seed: int, shut: int) -> None:
    """Sites kept out of the blocks: the bound and the cuts hold for every cover avoiding them
    (the least such cover, inf when none: then no block may claim a bound above the LP share)."""
    b, cost = _odd_cycles(seed)
    m = b.shape[1]
    closed = np.zeros(m, dtype=bool)
    closed[np.random.default_rng(seed).choice(m, shut, replace=False)] = True
    problem = cover_problem(b, cost)
    lp = lp_solve(problem, SolveParams(time_limit=10))
    assert lp is not None
    free = np.ones(m, dtype=bool)
    got = block_cuts(problem, lp[1], free, SolveParams(time_limit=10), lambda _m: None, 6, None, closed)
    covers = np.array([y for y in _covers(b) if not (y & closed).any()], dtype=np.float64).reshape(-1, m)
    if covers.shape[0]:
        assert got.bound <= float((covers @ cost).min()) + 1e-9
        assert (covers @ got.cuts.toarray().T >= got.rhs[None, :] - 1e-12).all()
    assert got.bound >= float(cost @ lp[0]) - 1e-6  # never below the LP
    assert not got.cuts.toarray()[:, closed].any()


def test_block_cuts_lift_a_fractional_lp_on_an_odd_cycle() -> None:
    """Rows {i, i+1 mod 5} of a 5-cycle, unit costs: LP 2.5, least cover 3. One block holds all
    rows, so its cut proves 3 (less the tolerance margin)."""
    b = np.zeros((5, 5), dtype=bool)
    for i in range(5):
        b[i, [i, (i + 1) % 5]] = True
    problem = cover_problem(b, np.ones(5))
    lp = lp_solve(problem, SolveParams(time_limit=10))
    assert lp is not None and float(lp[0].sum()) == pytest.approx(2.5)
    got = block_cuts(problem, lp[1], np.ones(5, dtype=bool), SolveParams(time_limit=10), lambda _m: None, 10)
    assert got.bound == pytest.approx(3.0 - bound_margin(3.0, 5), abs=1e-9)
    assert got.rhs.size == 1 and got.bound < 3.0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    units=st.lists(st.integers(1, 3000), min_size=1, max_size=8),
    q=st.sampled_from([1.0, 0.1, 0.01, 0.001]),
    below=st.floats(0.0, 0.999),
)
def test_the_bound_raised_to_the_grid_never_passes_a_plan(units: list[int], q: float, below: float) -> None:
    """Plan values are sums of costs on the grid q: a bound less than one grid step below the
    least value (or exactly at it) is raised to it, never past it."""
    cost = np.array(units, dtype=np.float64) * q
    least = float(cost.min())
    bound = least - below * q
    raised = on_grid(bound, q)
    assert raised <= least + 1e-9 * max(1.0, least)
    assert raised >= bound - 1e-6 * q  # a millionth of q is left for rounding
    assert math.isclose(raised, least, rel_tol=1e-9)
