"""TSPLIB coordinate files (``NODE_COORD_SECTION``) as p-median instances.

Clients = candidate sites = all points, weight 1, and ``d_ij = floor(sqrt((x_i-x_j)^2 + (y_i-y_j)^2))``:
the rule of Duran-Mateluna, Ales & Elloumi (2023, EJOR 308:84-96) for every instance, whatever the
file's ``EDGE_WEIGHT_TYPE`` says (pla85900 says CEIL_2D; the published optima use the floor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from siting.models.errors import DataError
from siting.models.instance import SitingInstance
from siting.scenarios.files import (
    DENSE_LIMIT_BYTES,
    check_dense_size,
    euclidean,
    existing_file,
    read_text,
    show_ids,
)

# Euclidean plane coordinate types; GEO (lat/lon), ATT, MAN_2D, MAX_2D and EXPLICIT use other
# distance functions and are refused rather than silently measured with the wrong one.
_PLANE_TYPES = {"EUC_2D", "CEIL_2D"}


def read_tsplib_points(
    path: str | Path, *, max_bytes: float = DENSE_LIMIT_BYTES
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Parse and check a TSPLIB file without building its distance matrix.

    Returns the point ids (n,) and coordinates (n, 2). Raises the same DataErrors as
    :func:`read_tsplib`, including the refusal of a dense matrix over ``max_bytes``, so it can
    validate a file cheaply before an expensive run.
    """
    t_path = existing_file(path, "TSPLIB")
    name = t_path.name
    lines = read_text(t_path).splitlines()
    header: dict[str, str] = {}
    start = None
    for k, line in enumerate(lines):  # header lines only
        text = line.strip()
        if not text:
            continue
        if text.upper().startswith("NODE_COORD_SECTION"):
            start = k + 1
            break
        if text.upper() == "EOF":
            break
        key, sep, value = text.partition(":")
        if not sep:
            raise DataError(
                f"{name} line {k + 1}: expected a header line 'KEY : VALUE' or NODE_COORD_SECTION, got {text!r}"
            )
        header[key.strip().upper()] = value.strip()
    if start is None:
        raise DataError(f"{name}: no NODE_COORD_SECTION; only TSPLIB files with point coordinates can be read")
    if "DIMENSION" not in header:
        raise DataError(f"{name}: the header has no 'DIMENSION : n' line; add it")
    try:
        n = int(header["DIMENSION"])
    except ValueError:
        raise DataError(f"{name}: DIMENSION {header['DIMENSION']!r} is not an integer") from None
    if n < 1:
        raise DataError(f"{name}: DIMENSION {n} must be >= 1")
    wtype = header.get("EDGE_WEIGHT_TYPE", "EUC_2D").upper()
    if wtype not in _PLANE_TYPES:
        raise DataError(
            f"{name}: EDGE_WEIGHT_TYPE {wtype} is not supported; only {' and '.join(sorted(_PLANE_TYPES))} "
            f"files (Euclidean plane coordinates, measured as floor(Euclidean)) can be read"
        )
    check_dense_size(
        n,
        n,
        name,
        max_bytes,
        "pass a larger max_bytes to read_tsplib if the machine has the memory, or pick a smaller instance",
    )

    ids = np.empty(n, dtype=np.int64)
    xy = np.empty((n, 2), dtype=np.float64)
    count = 0
    for k in range(start, len(lines)):  # one pass over the coordinate lines
        tokens = lines[k].split()
        if not tokens:
            continue
        if tokens[0].upper() == "EOF" or tokens[0].upper().endswith("_SECTION"):
            break  # the end, or a following section (e.g. DISPLAY_DATA_SECTION) that is not needed
        if len(tokens) != 3:
            raise DataError(f"{name} line {k + 1}: expected 'id x y', got {lines[k].strip()!r}")
        if count >= n:
            raise DataError(f"{name} line {k + 1}: more coordinate lines than DIMENSION = {n}")
        try:
            ids[count] = int(tokens[0])
            xy[count] = float(tokens[1]), float(tokens[2])
        except ValueError:
            raise DataError(
                f"{name} line {k + 1}: expected an integer id and two numbers 'id x y', got {lines[k].strip()!r}"
            ) from None
        count += 1
    if count != n:
        raise DataError(
            f"{name}: DIMENSION is {n} but NODE_COORD_SECTION has {count} points; fix the header or the data"
        )
    if not np.isfinite(xy).all():
        bad = ids[~np.isfinite(xy).all(axis=1)]
        raise DataError(f"{name}: points {show_ids(bad)} have non-finite coordinates")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{name}: duplicate point ids {show_ids(uniq[counts > 1])}; every point needs its own id")
    return ids, xy


def read_tsplib(
    path: str | Path,
    *,
    rounding: Literal["floor", "none"] = "floor",
    max_bytes: float = DENSE_LIMIT_BYTES,
) -> SitingInstance:
    """Read a TSPLIB ``.tsp`` file into a dense p-median instance.

    Parameters
    ----------
    path : the ``.tsp`` file (header lines ``KEY : VALUE``, ``NODE_COORD_SECTION``, lines
        ``id x y``, optional ``EOF``).
    rounding : ``"floor"`` (the literature rule, default) or ``"none"`` (plain Euclidean).
    max_bytes : refuse when the dense float32 (n, n) matrix would exceed this (default 2 GB).

    Returns
    -------
    SitingInstance with n = m = DIMENSION, ids = the file's point ids, all weights 1, float32
    distances (integers up to 2^24 are exact).

    Raises
    ------
    DataError : naming the file and line for a missing DIMENSION or NODE_COORD_SECTION, a
        non-Euclidean EDGE_WEIGHT_TYPE, a malformed coordinate line, a wrong point count, duplicate
        ids, or a matrix over ``max_bytes``.
    """
    ids, xy = read_tsplib_points(path, max_bytes=max_bytes)
    dist = euclidean(xy, xy, rounding="floor" if rounding == "floor" else "none")
    return SitingInstance(distances=dist, demand_ids=ids, site_ids=ids.copy(), name=Path(path).stem)
