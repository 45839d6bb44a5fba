"""Input readers: benchmark files (OR-Library, TSPLIB), known optima, and generic CSV instances.

Every reader returns a :class:`models.instance.SitingInstance` (arrays only) and raises
:class:`models.errors.DataError` naming the file, the line or ids, and the fix for bad input.
"""

from siting.scenarios.files import DENSE_LIMIT_BYTES
from siting.scenarios.research.readers.csv_instance import read_csv_instance, read_distance_matrix
from siting.scenarios.research.readers.optima import KnownValue, read_optimal_values
from siting.scenarios.research.readers.orlib import read_orlib_pmed
from siting.scenarios.research.readers.tsplib import read_tsplib, read_tsplib_points

__all__ = [
    "DENSE_LIMIT_BYTES",
    "KnownValue",
    "read_csv_instance",
    "read_distance_matrix",
    "read_optimal_values",
    "read_orlib_pmed",
    "read_tsplib",
    "read_tsplib_points",
]
