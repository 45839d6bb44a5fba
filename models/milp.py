"""A solver-neutral mixed-integer linear program in sparse matrix form.

The problem is::

    min/max  c @ x + offset
    s.t.     row_lower <= A @ x <= row_upper
             col_lower <=   x   <= col_upper
             x[j] integer where integrality[j]

Formulations build it with vectorized numpy/scipy; backends translate it into their solver's
API and never mutate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

INF = float("inf")


@dataclass(frozen=True, eq=False)
class MilpProblem:
    """A MILP in column-major sparse form.

    Attributes
    ----------
    c : (nvar,) float64 objective coefficients.
    A : (ncon, nvar) scipy.sparse CSC matrix of constraint coefficients.
    row_lower, row_upper : (ncon,) float64 row bounds (``-inf`` / ``inf`` for open sides).
    col_lower, col_upper : (nvar,) float64 column bounds.
    integrality : (nvar,) bool, True for integer columns.
    sense : ``"min"`` or ``"max"``.
    offset : constant added to the objective.
    site_cols : (m,) int64 column index of each site's open/close variable ``y_j``.
    name : a label for logs and LP files.
    blocks : names of column ranges, e.g. ``{"y": (0, m), "x": (m, m + nnz)}``, for humans.
    implied_integer : (nvar,) bool, continuous columns that take integer values at an optimum
        once the integer columns are integral (assignment and coverage variables). A backend
        that cannot handle continuous columns (CP-SAT) may declare these integer.
    assignment : ``(demand_index, site_index, column)`` int arrays for assignment variables
        ``x_ij`` (p-median, capacitated models), so a solution can be read back as an (n, m)
        assignment matrix; ``None`` when the model has none.
    """

    c: NDArray[np.float64]
    A: sp.csc_array
    row_lower: NDArray[np.float64]
    row_upper: NDArray[np.float64]
    col_lower: NDArray[np.float64]
    col_upper: NDArray[np.float64]
    integrality: NDArray[np.bool_]
    sense: Literal["min", "max"] = "min"
    offset: float = 0.0
    site_cols: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name: str = "siting"
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)
    implied_integer: NDArray[np.bool_] | None = None
    assignment: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]] | None = None

    def __post_init__(self) -> None:
        nvar = self.c.shape[0]
        ncon = self.A.shape[0]
        if self.A.shape[1] != nvar:
            raise ValueError(f"A has {self.A.shape[1]} columns but c has {nvar} entries")
        for nm, arr, size in (
            ("row_lower", self.row_lower, ncon),
            ("row_upper", self.row_upper, ncon),
            ("col_lower", self.col_lower, nvar),
            ("col_upper", self.col_upper, nvar),
            ("integrality", self.integrality, nvar),
        ):
            if arr.shape != (size,):
                raise ValueError(f"{nm} has shape {arr.shape}, expected ({size},)")
        if self.implied_integer is None:
            object.__setattr__(self, "implied_integer", np.zeros(nvar, dtype=bool))
        if self.sense not in ("min", "max"):
            raise ValueError(f"sense must be 'min' or 'max', got {self.sense!r}")

    @property
    def num_vars(self) -> int:
        return int(self.c.shape[0])

    @property
    def num_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def is_mip(self) -> bool:
        return bool(self.integrality.any())

    def objective_value(self, x: NDArray[np.float64]) -> float:
        """``c @ x + offset``."""
        return float(self.c @ x + self.offset)

    def max_violation(self, x: NDArray[np.float64]) -> float:
        """Largest violation of a row bound, column bound or integrality by ``x``."""
        ax = self.A @ x
        v = [
            np.max(self.row_lower - ax, initial=0.0),
            np.max(ax - self.row_upper, initial=0.0),
            np.max(self.col_lower - x, initial=0.0),
            np.max(x - self.col_upper, initial=0.0),
        ]
        if self.integrality.any():
            xi = x[self.integrality]
            v.append(float(np.max(np.abs(xi - np.round(xi)), initial=0.0)))
        return float(max(v))

    def assignment_matrix(self, x: NDArray[np.float64], shape: tuple[int, int]) -> sp.csr_array | None:
        """The (n, m) assignment fractions ``x_ij`` of a solution, or None if the model has none."""
        if self.assignment is None:
            return None
        rows, cols, idx = self.assignment
        vals = np.clip(x[idx], 0.0, 1.0)
        return sp.csr_array((vals, (rows, cols)), shape=shape)

    def open_sites(self, x: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Boolean mask of open sites read from a solution (binaries read as ``x > 0.5``)."""
        return np.asarray(x[self.site_cols] > 0.5)


def stack_rows(
    blocks: list[tuple[sp.spmatrix | sp.sparray, NDArray[np.float64], NDArray[np.float64]]],
    nvar: int,
) -> tuple[sp.csc_array, NDArray[np.float64], NDArray[np.float64]]:
    """Stack row blocks ``(A_k, lower_k, upper_k)`` into one CSC matrix and bound vectors."""
    mats = [sp.csr_array(a) for a, _, _ in blocks if a.shape[0] > 0]
    if mats:
        A = sp.csc_array(sp.vstack(mats, format="csc"))
    else:
        A = sp.csc_array((0, nvar))
    lo = np.concatenate([np.asarray(lo, dtype=np.float64) for a, lo, _ in blocks if a.shape[0] > 0] or [np.zeros(0)])
    up = np.concatenate([np.asarray(up, dtype=np.float64) for a, _, up in blocks if a.shape[0] > 0] or [np.zeros(0)])
    return A, lo, up
