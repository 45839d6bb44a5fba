"""Test-wide setup: the tests folder is importable, so shared oracles live in one module (oracles.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
