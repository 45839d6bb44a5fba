"""Row helpers for CSR arrays, shared by the formulations, the instance, the evaluator and the heuristics.

A CSR array stores row ``i``'s entries at ``data[indptr[i]:indptr[i+1]]``; the helpers here turn
that layout into flat index arrays, so callers work on all rows at once instead of looping.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray


def csr_rows(a: sp.csr_array | sp.csr_matrix) -> NDArray[np.int64]:
    """Row index of every stored entry of a CSR array (entries in storage order).

    ``csr_rows(a)[k]`` is the row of ``a.data[k]`` and ``a.indices[k]`` its column, so
    ``(csr_rows(a), a.indices, a.data)`` is the array in coordinate form.
    """
    return np.repeat(np.arange(a.shape[0], dtype=np.int64), np.diff(a.indptr))


def row_lengths(a: sp.csr_array | sp.csr_matrix) -> NDArray[np.int64]:
    """Number of stored entries in each row (``indptr[i+1] - indptr[i]``)."""
    return np.diff(a.indptr).astype(np.int64)
