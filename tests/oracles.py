"""Brute-force oracles shared by the tests: every plan of a tiny instance, enumerated."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from siting.models.instance import SitingInstance


def all_plans(inst: SitingInstance) -> Iterator[NDArray[np.bool_]]:
    """Every plan: the existing sites plus any subset of the new eligible sites (2^m at most)."""
    free = np.flatnonzero(inst.eligible & ~inst.existing)
    for r in range(len(free) + 1):
        for combo in itertools.combinations(free, r):
            mask = inst.existing.copy()
            mask[list(combo)] = True
            yield mask
