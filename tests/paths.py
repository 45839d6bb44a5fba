"""Where the repository and the test data are, for test modules at any depth under tests/."""

from pathlib import Path

#: the repository root (the `siting` package folder)
REPO = Path(__file__).resolve().parents[1]
#: the test fixtures (tests/data: OR-Library, TSPLIB, street network clips, tiny scenarios)
DATA = Path(__file__).resolve().parent / "data"
