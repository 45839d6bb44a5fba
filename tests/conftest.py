"""Test-wide setup.

* The tests folder is importable, so the shared brute-force oracles (``oracles.py``) and the
  hypothesis strategies that draw whole instances (``strategies.py``) live in one module each.
* Hypothesis runs under the ``ci`` profile unless ``SITING_HYPOTHESIS_PROFILE`` names another:
  ``derandomize=True`` makes every run draw the same examples (a suite that passes stays passing on
  every machine), no per-example deadline (solver start-up times vary on a loaded machine).
  ``SITING_HYPOTHESIS_PROFILE=explore`` draws fresh random examples, more of them, to look for bugs.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import oracles  # after the path is set

settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=300)
settings.load_profile(os.environ.get("SITING_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def oracle():
    """The shared brute-force oracles (``oracle.brute_optimum(...)``, ``oracle.all_plans(...)``)."""
    return oracles
