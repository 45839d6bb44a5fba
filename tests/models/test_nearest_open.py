"""Each demand point's nearest open site on stored (sparse) distances, read block by block, against
the dense definition: least distance, ties to the lowest site index, -1 / inf where none is stored."""

from __future__ import annotations

from unittest import mock

import numpy as np
import strategies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siting.models import evaluate as evaluate_module
from siting.models.evaluate import nearest_open
from siting.models.instance import SitingInstance

HYP = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _dense_nearest(inst: SitingInstance, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.where(mask[None, :], inst.dense_distances(), np.inf)
    k = np.argmin(d, axis=1)  # the first least entry: the lowest site index among ties
    dist = d[np.arange(inst.n), k]
    return np.where(np.isfinite(dist), k, -1), dist


@HYP
@given(
    strategies.instances(n=(1, 12), m=(1, 8), max_distance=4, unreachable=True, sparse=True),
    st.data(),
    st.integers(1, 25),
)
def test_sparse_nearest_open_equals_the_dense_rule(inst: SitingInstance, data: st.DataObject, block: int) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=inst.m, max_size=inst.m)), dtype=bool)
    want_site, want_dist = _dense_nearest(inst, mask)
    with mock.patch.object(evaluate_module, "NEAREST_BLOCK", block):  # blocks of a few rows, or one
        got_site, got_dist = nearest_open(inst, mask)
    np.testing.assert_array_equal(got_site, want_site)
    np.testing.assert_array_equal(got_dist, want_dist)
