"""User input files and ids, shared by the layers, the readers and the outputs: files checked before
anything opens them, ids parsed and shown in messages, blockwise Euclidean distances, SHA-256 of inputs,
and the atomic writes of files that are not a run's output folder (``pipeline/output_folder.py`` owns those)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from siting.models.checks import show_ids  # noqa: F401  (re-exported: the readers show ids through here)
from siting.models.errors import DataError

# A dense float32 distance matrix larger than this is refused (bytes); callers may raise it.
DENSE_LIMIT_BYTES = 2_000_000_000
# Rows per block are chosen so that one float64 block stays near this many bytes.
_BLOCK_BYTES = 64_000_000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def user_path(path: str | Path, what: str, error: type[Exception] = DataError) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; an unknown user is an ``error``, not a traceback."""
    p = Path(path)
    try:
        return p.expanduser()
    except RuntimeError:  # "~nobody/x": no such user (pathlib cannot expand it)
        raise error(
            f"{what} {str(p)!r}: there is no user {p.parts[0][1:]!r} to expand {p.parts[0]!r} for; give the full path"
        ) from None


def user_file(path: str | Path, what: str, error: type[Exception] = DataError) -> Path:
    """A user-given input file, checked before anything opens it.

    ``~`` is expanded; the file must exist and be a regular file. A folder, a FIFO, a socket or a
    device (``/dev/zero``, ``/dev/stdin``) is refused with ``error`` instead of being read, which
    would wait forever (a FIFO) or never end (a device). Only ``stat`` is called: nothing is opened.
    """
    p = user_path(path, what, error)
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        where = "" if p.is_absolute() else f" (it is relative to {Path.cwd()})"
        raise error(f"{what} file not found: {p}; check the path{where}") from None
    except PermissionError:
        raise error(f"{what} {p}: permission denied; make the file readable (chmod +r) or copy it") from None
    except OSError as exc:  # a name too long, a symlink loop, ...
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        raise error(f"{what} {p}: cannot be read ({reason}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {p} is a folder, expected a file; give the path of the file inside it")
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file"
        )
        raise error(f"{what} {p} is {kind}, not a regular file; save the data to a file and give its path")
    return p


def existing_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or a DataError when it is missing, a folder, a pipe or a device (see :func:`user_file`)."""
    return user_file(path, what, DataError)


def read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM dropped), or a DataError for binary or undecodable files."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


def parse_ids(raw: list[str]) -> NDArray[Any]:
    """Ids as int64 when every one is a canonical integer (``'12'``, not ``'012'``), else as str."""
    try:
        ints = [int(s) for s in raw]
    except ValueError:
        return np.asarray(raw, dtype=object).astype(str)
    # ids beyond int64 (a 20-digit cadastral number) stay text instead of overflowing
    if all(str(i) == s and _INT64_MIN <= i <= _INT64_MAX for i, s in zip(ints, raw)):
        return np.asarray(ints, dtype=np.int64)
    return np.asarray(raw, dtype=object).astype(str)


def check_dense_size(n: int, m: int, what: str, max_bytes: float, advice: str) -> None:
    """Refuse a dense float32 (n, m) matrix over ``max_bytes``."""
    need = 4.0 * n * m
    if need > max_bytes:
        raise DataError(
            f"{what}: a dense {n} x {m} float32 distance matrix needs {need / 1e9:.1f} GB, more than the "
            f"{max_bytes / 1e9:.1f} GB limit; {advice}"
        )


def euclidean(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    rounding: Literal["none", "floor"] = "none",
) -> NDArray[np.float32]:
    """Dense float32 (len(a), len(b)) Euclidean distances, computed block of rows by block.

    ``d_ij = sqrt((x_i - x_j)^2 + (y_i - y_j)^2)``, optionally floored (TSPLIB p-median rule).
    Each block is computed in float64 and only then cast, so no float64 intermediate is larger than
    one block (about 64 MB).
    """
    n, m = len(a), len(b)
    out = np.empty((n, m), dtype=np.float32)
    rows = max(1, _BLOCK_BYTES // (8 * max(m, 1)))
    bx, by = b[:, 0][None, :], b[:, 1][None, :]
    for start in range(0, n, rows):  # loop over row blocks, each block vectorized
        stop = min(n, start + rows)
        dx = a[start:stop, 0][:, None] - bx
        dy = a[start:stop, 1][:, None] - by
        d = np.sqrt(dx * dx + dy * dy)  # the literal formula, as the C codes of the literature
        if rounding == "floor":
            np.floor(d, out=d)
        out[start:stop] = d
    return out


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (input provenance in summaries and READMEs)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------ atomic writes
def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never a part.

    The bytes go to a hidden temporary file in the same folder (so the final move stays on one
    file system), which is then moved over ``path`` with ``os.replace``; on any failure the
    temporary file is removed and ``path`` is untouched. Text is written as UTF-8, unchanged
    (line ends included).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def staged_files(folder: str | Path, prefix: str) -> Iterator[Path]:
    """A fresh hidden folder inside ``folder`` to write several files into before they are moved
    into place with :func:`move_into_place`; it is removed afterwards, whatever happened."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(staging: Path, folder: str | Path, names: Mapping[str, str]) -> dict[str, Path]:
    """Move each written file ``staging / name`` to ``folder / name`` (``os.replace``, atomic per
    file); returns role -> final path for ``names`` (role -> file name)."""
    final: dict[str, Path] = {}
    for role, name in names.items():
        dest = Path(folder) / name
        os.replace(staging / name, dest)
        final[role] = dest
    return final
