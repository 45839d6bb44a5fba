"""The coverage pattern of a sparse instance (filtered in place) and the row / column submatrix
(running counts) against their dense definitions."""

from __future__ import annotations

import importlib
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.models.formulations.lscp import coverage_matrix, merge_identical_rows, submatrix
from siting.models.instance import SitingInstance

HYP = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@HYP
@given(strategies.instances(n=(1, 9), m=(1, 7), unreachable=True, sparse=True, fractional=True), st.data())
def test_sparse_coverage_equals_dense_rule(inst: SitingInstance, data: st.DataObject) -> None:
    radius = data.draw(st.sampled_from([0.0, 3.5, 10.0, 20.0, float(np.inf)]))
    d = inst.dense_distances()
    want = np.isfinite(d) & (d <= radius + 1e-6)
    got = coverage_matrix(inst, radius).toarray()
    np.testing.assert_array_equal(got, want)
    if np.isfinite(radius):
        cov = inst.coverage(radius)
        assert cov.has_sorted_indices
        np.testing.assert_array_equal(cov.toarray(), want)
        rows = data.draw(st.lists(st.booleans(), min_size=inst.n, max_size=inst.n))
        cols = data.draw(st.lists(st.booleans(), min_size=inst.m, max_size=inst.m))
        keep_r, keep_c = np.array(rows, dtype=bool), np.array(cols, dtype=bool)
        sub = submatrix(sp.csr_array(cov), keep_r, keep_c).toarray()
        np.testing.assert_array_equal(sub, want[keep_r] & keep_c[None, :])


@pytest.mark.parametrize("seed", range(6))
def test_row_merging_in_small_chunks_is_exact(seed: int) -> None:
    """Rows hashed and checked a few entries at a time (as at city scale, in chunks): the same
    groups as in one chunk, and exactly one group per distinct covering set."""
    lscp_module = importlib.import_module("siting.models.formulations.lscp")
    rng = np.random.default_rng(seed)
    k, m = int(rng.integers(1, 400)), int(rng.integers(1, 12))
    a = sp.csr_array(sp.random(k, m, density=rng.uniform(0.05, 0.6), format="csr", random_state=seed) > 0)
    a.sort_indices()
    group, first = merge_identical_rows(a)
    chunks = lscp_module._row_chunks
    with mock.patch.object(lscp_module, "_row_chunks", lambda b: chunks(b, entries=7)):
        group2, first2 = merge_identical_rows(a)
    np.testing.assert_array_equal(group, group2)
    np.testing.assert_array_equal(first, first2)
    dense = a.toarray()
    np.testing.assert_array_equal(dense, dense[first[group]])
    assert len({r.tobytes() for r in dense}) == first.size
