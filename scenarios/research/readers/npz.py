"""Reading untrusted ``.npz`` files: every array's header is checked before its data is read.

An ``.npz`` is a zip of ``.npy`` files, and a crafted one can do harm when it is trusted:

* an object array unpickles arbitrary code (``allow_pickle`` is never on here, and an object
  dtype is refused from its header, before numpy would raise);
* a compressed member can declare terabytes (a 10 GB zero array compresses to 10 MB): the shape in
  the header is checked against what the caller expects before the data is read;
* a scipy sparse matrix with ``indices`` outside its shape or a non-monotone ``indptr`` makes scipy
  read and write out of bounds (a segfault, not an exception): :func:`read_sparse` checks
  ``0 <= indices < n_cols``, ``indptr[0] = 0``, ``indptr[k] <= indptr[k+1]`` and
  ``indptr[-1] = nnz`` in numpy, and builds the matrix from checked (row, column, value) triples.

Every problem is a :class:`models.errors.DataError` naming the file, the array and the fix.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import DataError

#: Sparse layouts accepted (as written by ``scipy.sparse.save_npz``).
SPARSE_FORMATS = ("csr", "csc", "coo")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class ArrayHeader:
    """What an ``.npy`` member declares about itself, read without reading its data."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.float64)) if self.shape else 1


class SafeNpz:
    """An open ``.npz`` archive whose members are checked from their headers before being read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        try:
            self._zip = zipfile.ZipFile(path)
            names = self._zip.namelist()
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise DataError(
                f"{self.name}: not a readable .npz file ({exc}); save it with np.savez(path, distances=D) "
                "or scipy.sparse.save_npz(path, matrix)"
            ) from None
        self.files = sorted(n[: -len(".npy")] for n in names if n.endswith(".npy"))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def header(self, key: str) -> ArrayHeader:
        """Shape and dtype of member ``key``; an object dtype is refused here."""
        try:
            with self._zip.open(f"{key}.npy") as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    shape, _fortran, dtype = np.lib.format._read_array_header(fh, version)  # type: ignore[attr-defined]  # no public reader for 3.0
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, SyntaxError, TypeError) as exc:
            raise DataError(
                f"{self.name}: array {key!r} is not a readable .npy member ({exc}); save the file again"
            ) from None
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            raise DataError(
                f"{self.name}: array {key!r} holds Python objects (dtype {dtype}); they are never loaded, because "
                "loading them can run code: save plain numbers (np.asarray(D, dtype=float)) or text ids (dtype str)"
            )
        return ArrayHeader(tuple(int(v) for v in shape), dtype)

    def array(self, key: str, header: ArrayHeader | None = None) -> NDArray[Any]:
        """Member ``key`` as an array (pickles never allowed); call after checking :meth:`header`."""
        try:
            with self._zip.open(f"{key}.npy") as fh:
                out = np.lib.format.read_array(fh, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise DataError(
                f"{self.name}: array {key!r} cannot be read ({exc}); the file is damaged: save it again"
            ) from None
        if header is not None and (tuple(out.shape) != header.shape or out.dtype != header.dtype):
            raise DataError(
                f"{self.name}: array {key!r} does not match its own header; the file is damaged: save it again"
            )
        return np.asarray(out)


def open_npz(path: Path) -> SafeNpz:
    """Open ``path`` as an ``.npz`` archive (a plain ``.npy`` file is refused with a hint)."""
    with path.open("rb") as fh:
        magic = fh.read(6)
    if magic == b"\x93NUMPY":
        raise DataError(
            f"{path.name} holds a single .npy array, not an .npz archive; save it with np.savez(path, distances=D)"
        )
    return SafeNpz(path)


def numeric_values(values: NDArray[Any], fname: str, key: str) -> NDArray[np.float32]:
    """Real numbers as float32; booleans, text, complex numbers and values beyond float32 are refused."""
    if values.dtype == np.bool_ or not (
        np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)
    ):
        raise DataError(f"{fname}: {key!r} has dtype {values.dtype}, expected real numbers (float or int)")
    with np.errstate(invalid="ignore", over="ignore"):
        big = np.isfinite(values) & (np.abs(values) > _FLOAT32_MAX)
        if big.any():
            raise DataError(
                f"{fname}: {int(big.sum())} value(s) of {key!r} are larger than {_FLOAT32_MAX:.3g} (float32); "
                "give distances in metres, inf where a pair is unreachable"
            )
        return values.astype(np.float32)


def _expect(npz: SafeNpz, key: str, ndim: int, integer: bool, max_size: int) -> ArrayHeader:
    if key not in npz.files:
        raise DataError(f"{npz.name}: the sparse matrix lacks its {key!r} array; save it with scipy.sparse.save_npz")
    h = npz.header(key)
    if len(h.shape) != ndim:
        raise DataError(f"{npz.name}: sparse array {key!r} has {len(h.shape)} dimension(s), expected {ndim}")
    if integer and not np.issubdtype(h.dtype, np.integer):
        raise DataError(f"{npz.name}: sparse array {key!r} has dtype {h.dtype}, expected integers")
    if h.size > max_size:
        raise DataError(
            f"{npz.name}: sparse array {key!r} declares {h.size} entries, more than the {max_size} a matrix of this shape can hold"
        )
    return h


def read_sparse(npz: SafeNpz, n: int, m: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[Any]]:
    """(rows, cols, values) of a scipy sparse ``.npz`` of shape (n, m), every index checked.

    Parameters
    ----------
    npz : the open archive (holding ``format``, ``shape``, ``data`` and ``indices``/``indptr`` or
        ``row``/``col``).
    n, m : the shape the matrix must have (demand points x sites).

    Returns
    -------
    Row and column index of every stored entry, in ``[0, n)`` and ``[0, m)``, and its value (the
    file's dtype, not yet converted).
    """
    name = npz.name
    fmt_h = _expect(npz, "format", 0, False, 1)
    if fmt_h.dtype.kind not in "SU":
        raise DataError(f"{name}: sparse 'format' must be text (csr, csc or coo), got dtype {fmt_h.dtype}")
    fmt = npz.array("format", fmt_h).item()
    fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else str(fmt)
    if fmt not in SPARSE_FORMATS:
        raise DataError(
            f"{name}: sparse format {fmt!r} is not supported; convert it first: scipy.sparse.save_npz(path, matrix.tocsr())"
        )
    shape_h = _expect(npz, "shape", 1, True, 2)
    shape = tuple(int(v) for v in npz.array("shape", shape_h))
    if len(shape) != 2:
        raise DataError(f"{name}: the distance matrix has {len(shape)} dimension(s), expected 2 (demand x sites)")
    if shape != (n, m):
        hint = " (it looks transposed: rows must be demand points, columns sites)" if shape == (m, n) else ""
        raise DataError(
            f"{name}: the distance matrix has shape {shape[0]} x {shape[1]} but there are {n} demand points and "
            f"{m} sites; it must be {n} x {m}{hint}"
        )
    cap = n * m
    data_h = _expect(npz, "data", 1, False, cap)
    data = npz.array("data", data_h)
    nnz = len(data)
    if fmt == "coo":
        rows = _indices(npz, "row", nnz, n, cap)
        cols = _indices(npz, "col", nnz, m, cap)
        return rows, cols, data
    major, minor = (n, m) if fmt == "csr" else (m, n)
    indices = _indices(npz, "indices", nnz, minor, cap)
    ptr_h = _expect(npz, "indptr", 1, True, major + 1)
    if ptr_h.shape[0] != major + 1:
        raise DataError(
            f"{name}: sparse 'indptr' has {ptr_h.shape[0]} entries, expected {major + 1} for a {fmt} matrix of shape {n} x {m}"
        )
    indptr = npz.array("indptr", ptr_h).astype(np.int64)
    if indptr[0] != 0 or indptr[-1] != nnz or (np.diff(indptr) < 0).any():
        raise DataError(
            f"{name}: sparse 'indptr' is not a valid index (it must start at 0, never decrease and end at the "
            f"{nnz} stored values); the file is damaged or was not written by scipy.sparse.save_npz"
        )
    outer = np.repeat(np.arange(major, dtype=np.int64), np.diff(indptr))
    return (outer, indices, data) if fmt == "csr" else (indices, outer, data)


def _indices(npz: SafeNpz, key: str, nnz: int, bound: int, cap: int) -> NDArray[np.int64]:
    h = _expect(npz, key, 1, True, cap)
    if h.shape[0] != nnz:
        raise DataError(
            f"{npz.name}: sparse {key!r} has {h.shape[0]} entries but 'data' has {nnz}; the file is damaged"
        )
    idx = npz.array(key, h).astype(np.int64)
    bad = (idx < 0) | (idx >= bound)
    if bad.any():
        raise DataError(
            f"{npz.name}: {int(bad.sum())} sparse {key!r} value(s) lie outside 0..{bound - 1} (e.g. {int(idx[bad][0])}); "
            "the file is damaged or was not written by scipy.sparse.save_npz"
        )
    return idx


def sparse_matrix(
    rows: NDArray[np.int64], cols: NDArray[np.int64], values: NDArray[np.float32], n: int, m: int
) -> sp.csr_array:
    """CSR (n, m) from checked triples; duplicate pairs are summed, as scipy does."""
    return sp.csr_array((values, (rows, cols)), shape=(n, m), dtype=np.float32)
