"""Generic CSV input: a demand table, a sites table and, optionally, a distance matrix.

``demand.csv``: columns ``id``, ``x``, ``y`` and optionally ``weight`` (default 1) and ``group`` (a
community or district label for equity floors; every row needs one when the column is there).
``sites.csv``: columns ``id``, ``x``, ``y`` and optionally ``cost`` (default 1), ``capacity``
(default unlimited; an empty cell is unlimited), ``existing`` and ``forbidden`` (0/1, true/false,
yes/no; an empty cell is false). Other columns are ignored; column names are matched without regard
to case or surrounding spaces.

Distances are Euclidean in the units of x and y (use a projected CRS in metres, e.g. EPSG:3067 or
a UTM zone, never longitude/latitude) unless a matrix is given. Instead of ``x``, ``y`` both tables
may give ``lon``, ``lat`` in degrees (WGS-84, or the geographic CRS ``input_crs``): they are projected
to the UTM zone of the points' centre (:func:`scenarios.geodata.coords.utm_crs_for`), so distances are in
metres. Both tables must use the same kind of coordinates.

* ``.npz`` holding a dense (n, m) array ``distances`` (``inf`` = unreachable; optional arrays
  ``demand_ids`` and ``site_ids`` are checked against the tables), or a scipy sparse matrix saved
  with ``scipy.sparse.save_npz`` (stored pairs are reachable, the rest are not);
* ``.csv`` with a header row of site ids (the first cell is a label and is ignored) and one row per
  demand point, its id in the first column (``inf`` = unreachable).

Rows and columns of a matrix that carries ids are matched to the tables by id, so their order may
differ; without ids (a plain ``.npz``), row i is the i-th demand point and column j the j-th site.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.errors import DataError
from siting.models.instance import SitingInstance
from siting.scenarios.files import (
    DENSE_LIMIT_BYTES,
    check_dense_size,
    euclidean,
    existing_file,
    parse_ids,
    show_ids,
)
from siting.scenarios.research.readers.npz import numeric_values, open_npz, read_sparse, sparse_matrix

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


@dataclass
class _Table:
    """A CSV table as columns of strings; ``lines[k]`` is the file line of row k."""

    path: Path
    what: str
    columns: dict[str, list[str]]
    lines: list[int]

    @property
    def name(self) -> str:
        return self.path.name

    def __len__(self) -> int:
        return len(self.lines)

    def has(self, column: str) -> bool:
        return column in self.columns


def _read_table(path: str | Path, what: str, required: tuple[str, ...]) -> _Table:
    p = existing_file(path, what)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            # (line number in the file, fields) of the non-blank rows; line_num counts quoted newlines too
            numbered = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{p.name}: not a UTF-8 text CSV ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from None
    except csv.Error as exc:
        raise DataError(f"{p.name}: not a readable CSV file ({exc})") from None
    if not numbered:
        raise DataError(f"{what} file {p.name} is empty: expected a header row with columns {', '.join(required)}")
    head_line, head = numbered[0]
    header = [c.strip().lower() for c in head]
    seen: set[str] = set()
    for c in header:
        if c in seen and c:
            raise DataError(f"{p.name} line {head_line}: column {c!r} appears twice in the header")
        seen.add(c)
    missing = [c for c in required if c not in seen]
    if missing:
        raise DataError(
            f"{what} file {p.name}: missing column(s) {', '.join(repr(c) for c in missing)}; columns found: "
            f"{', '.join(repr(c) for c in header)}; the header row must name {', '.join(required)}"
        )
    body = numbered[1:]
    if not body:
        raise DataError(f"{what} file {p.name} has a header but no rows")
    for line_no, r in body:
        if len(r) != len(header):
            raise DataError(
                f"{p.name} line {line_no}: {len(r)} fields but the header has {len(header)}; "
                f"check for a missing or extra comma"
            )
    columns = {c: [r[k].strip() for _, r in body] for k, c in enumerate(header) if c}
    return _Table(p, what, columns, [ln for ln, _ in body])


def _ids(table: _Table) -> tuple[NDArray[Any], list[str]]:
    raw = table.columns["id"]
    empty = [table.lines[k] for k, v in enumerate(raw) if not v]
    if empty:
        raise DataError(f"{table.name}: empty id on line(s) {show_ids(empty)}; every row needs an id")
    lines_of: dict[str, list[int]] = {}
    for v, line_no in zip(raw, table.lines):  # one pass over the rows
        lines_of.setdefault(v, []).append(line_no)
    dup = [f"{v!r} (lines {', '.join(map(str, ls))})" for v, ls in lines_of.items() if len(ls) > 1]
    if dup:
        raise DataError(f"{table.name}: duplicate id(s) {show_ids(dup)}; every row needs a unique id")
    return parse_ids(raw), raw


def _numbers(table: _Table, column: str, ids: list[str], *, empty: float | None = None) -> NDArray[np.float64]:
    """Column as float64; a non-number names its line; ``empty`` replaces empty cells if given."""
    raw = table.columns[column]
    if empty is not None:
        raw = [v if v else repr(empty) for v in raw]
    try:
        return np.asarray(raw, dtype=np.float64)
    except ValueError:
        pass
    for k, v in enumerate(raw):  # find the first bad cell, for the message
        try:
            float(v)
        except ValueError:
            shown = "empty" if not v else f"{v!r}, not a number"
            raise DataError(
                f"{table.name} line {table.lines[k]} (id {ids[k]!r}): column {column!r} is {shown}; "
                f"give a number in every row"
            ) from None
    raise DataError(f"{table.name}: column {column!r} holds values that are not numbers")  # pragma: no cover


def _flags(table: _Table, column: str, ids: list[str]) -> NDArray[np.bool_]:
    out = np.zeros(len(table), dtype=bool)
    for k, v in enumerate(table.columns[column]):  # one pass over the rows of the table
        low = v.lower()
        if low in _TRUE:
            out[k] = True
        elif low not in _FALSE:
            raise DataError(
                f"{table.name} line {table.lines[k]} (id {ids[k]!r}): column {column!r} is {v!r}; "
                f"use 1/0, true/false or yes/no"
            )
    return out


def _check(
    table: _Table, column: str, values: NDArray[np.float64], bad: NDArray[np.bool_], rule: str, ids: list[str]
) -> None:
    if bad.any():
        shown = show_ids(f"{ids[k]} ({values[k]:g})" for k in np.flatnonzero(bad))
        raise DataError(f"{table.name}: column {column!r} must be {rule}; bad at id(s) {shown}")


def _coordinates(table: _Table, ids: list[str]) -> NDArray[np.float64]:
    xy = np.column_stack([_numbers(table, "x", ids), _numbers(table, "y", ids)])
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        shown = show_ids(f"{ids[k]} ({xy[k, 0]:g}, {xy[k, 1]:g})" for k in np.flatnonzero(bad))
        raise DataError(f"{table.name}: x and y must be finite numbers; bad at id(s) {shown}")
    return xy


def _kind(table: _Table) -> str:
    """Which coordinates a table gives: ``"xy"``, ``"lonlat"`` or ``""`` (neither pair complete)."""
    if table.has("x") and table.has("y"):
        return "xy"
    if table.has("lon") and table.has("lat"):
        return "lonlat"
    return ""


def _lonlat(table: _Table, ids: list[str]) -> NDArray[np.float64]:
    ll = np.column_stack([_numbers(table, "lon", ids), _numbers(table, "lat", ids)])
    bad = ~np.isfinite(ll).all(axis=1)
    if bad.any():
        shown = show_ids(f"{ids[k]} ({ll[k, 0]:g}, {ll[k, 1]:g})" for k in np.flatnonzero(bad))
        raise DataError(f"{table.name}: lon and lat must be finite numbers; bad at id(s) {shown}")
    return ll


def _projected(tables: list[tuple[_Table, list[str]]], input_crs: str | None) -> list[NDArray[np.float64]]:
    """lon/lat of every table, projected to the UTM zone of their common centre (metres)."""
    import pyproj

    from siting.scenarios.geodata.coords import utm_crs_for

    raw = [_lonlat(t, ids) for t, ids in tables]
    src = "EPSG:4326" if input_crs is None else input_crs
    try:
        crs = pyproj.CRS.from_user_input(src)
    except pyproj.exceptions.CRSError as exc:
        raise DataError(
            f"--input-crs {src!r} is not a coordinate reference system ({exc}); give e.g. EPSG:4326"
        ) from None
    if not crs.is_geographic:
        raise DataError(
            f"--input-crs {src!r} is a projected CRS ({crs.name}); lon, lat columns need a geographic CRS such as "
            "EPSG:4326, or give the projected coordinates as x, y columns"
        )
    to_wgs = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    wgs = []
    for (table, ids), ll in zip(tables, raw):
        bad = (np.abs(ll[:, 0]) > 180) | (np.abs(ll[:, 1]) > 90)
        if bad.any():
            shown = show_ids(f"{ids[k]} ({ll[k, 0]:g}, {ll[k, 1]:g})" for k in np.flatnonzero(bad))
            raise DataError(
                f"{table.name}: lon must lie in [-180, 180] and lat in [-90, 90] degrees; bad at id(s) {shown}; "
                "check that the columns are not swapped, or give projected coordinates as x, y"
            )
        lon, lat = to_wgs.transform(ll[:, 0], ll[:, 1])
        wgs.append(np.column_stack([lon, lat]))
    every = np.vstack(wgs)
    utm = utm_crs_for(float(np.median(every[:, 0])), float(np.median(every[:, 1])))
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", utm, always_xy=True)
    return [np.column_stack(to_utm.transform(w[:, 0], w[:, 1])) for w in wgs]


def read_csv_instance(
    demand_csv: str | Path,
    sites_csv: str | Path,
    distances: str | Path | None = None,
    *,
    name: str | None = None,
    max_bytes: float = DENSE_LIMIT_BYTES,
    input_crs: str | None = None,
    cutoff: float | None = None,
) -> SitingInstance:
    """Build an instance from a demand CSV, a sites CSV and optionally a distance matrix.

    Parameters
    ----------
    demand_csv : columns id, x, y (or lon, lat)[, weight]. Coordinates are only needed without
        ``distances``.
    sites_csv : columns id, x, y (or lon, lat)[, cost, capacity, existing, forbidden].
    distances : optional ``.npz`` (dense ``distances`` array or scipy sparse) or ``.csv`` matrix,
        demand points as rows and sites as columns.
    name : the instance's label (default: the demand file's folder name).
    max_bytes : refuse Euclidean distances whose dense float32 matrix would exceed this.
    input_crs : geographic CRS of ``lon``, ``lat`` columns (default WGS-84, EPSG:4326).
    cutoff : store only the Euclidean pairs within this distance (a sparse instance built with a
        KD-tree, never the dense matrix): exact for coverage models whose radius is at most
        ``cutoff``. Ignored when ``distances`` is given.

    Returns
    -------
    SitingInstance with ``d_ij = sqrt((x_i - x_j)^2 + (y_i - y_j)^2)`` (float32) or the given
    matrix; ids are int64 when every id is an integer, else strings.

    Raises
    ------
    DataError : naming the file, the line/column/ids and the fix for a missing file or column, a
        non-numeric value, a NaN/negative/infinite weight or cost, duplicate ids, a matrix of the
        wrong shape or with ids that do not match the tables, and NaN or negative distances.
    """
    need_xy = distances is None
    demand = _read_table(demand_csv, "demand", ("id",))
    sites = _read_table(sites_csv, "sites", ("id",))
    if need_xy:
        kinds = (_kind(demand), _kind(sites))
        for table, kind in ((demand, kinds[0]), (sites, kinds[1])):
            if not kind:
                pair = ("lon", "lat") if (table.has("lon") or table.has("lat")) and not table.has("x") else ("x", "y")
                missing = ", ".join(repr(c) for c in pair if not table.has(c))
                raise DataError(
                    f"{table.what} file {table.name}: missing column(s) {missing}; columns found: "
                    f"{', '.join(repr(c) for c in table.columns)}; give x, y (projected, metres) or lon, lat (degrees)"
                )
        if kinds[0] != kinds[1]:
            raise DataError(
                f"{demand.name} gives {'x, y' if kinds[0] == 'xy' else 'lon, lat'} but {sites.name} gives "
                f"{'x, y' if kinds[1] == 'xy' else 'lon, lat'}: use the same kind of coordinates in both files"
            )
        if input_crs is not None and kinds[0] == "xy":
            raise DataError(
                f"--input-crs applies to lon, lat columns, but {demand.name} and {sites.name} give x, y: remove "
                "--input-crs (x, y are used as they are)"
            )
    d_ids, d_raw = _ids(demand)
    s_ids, s_raw = _ids(sites)

    weights = None
    if demand.has("weight"):
        weights = _numbers(demand, "weight", d_raw)
        _check(demand, "weight", weights, ~np.isfinite(weights) | (weights < 0), "a finite number >= 0", d_raw)
    cost = None
    if sites.has("cost"):
        cost = _numbers(sites, "cost", s_raw)
        _check(sites, "cost", cost, ~np.isfinite(cost) | (cost < 0), "a finite number >= 0", s_raw)
    capacity = None
    if sites.has("capacity"):
        capacity = _numbers(sites, "capacity", s_raw, empty=np.inf)
        _check(
            sites, "capacity", capacity, np.isnan(capacity) | (capacity < 0), "a number >= 0 (empty = unlimited)", s_raw
        )
    groups = _groups(demand, d_raw) if demand.has("group") else None
    existing = _flags(sites, "existing", s_raw) if sites.has("existing") else None
    forbidden = _flags(sites, "forbidden", s_raw) if sites.has("forbidden") else None

    if distances is None:
        if _kind(demand) == "lonlat":
            d_xy, s_xy = _projected([(demand, d_raw), (sites, s_raw)], input_crs)
        else:
            d_xy, s_xy = _coordinates(demand, d_raw), _coordinates(sites, s_raw)
    if distances is None and cutoff is not None:
        from siting.models.sparse_distances import within_radius

        dist: NDArray[np.float32] | sp.csr_array = within_radius(d_xy, s_xy, cutoff)
    elif distances is None:
        check_dense_size(
            len(demand),
            len(sites),
            f"{demand.name} x {sites.name}",
            max_bytes,
            "give a sparse distance matrix (.npz saved with scipy.sparse.save_npz) holding only the pairs within reach",
        )
        dist = euclidean(d_xy, s_xy)
    else:
        dist = read_distance_matrix(distances, d_raw, s_raw)

    optional: dict[str, Any] = {  # None = the instance's default
        "weights": weights,
        "cost": cost,
        "capacity": capacity,
        "existing": existing,
        "forbidden": forbidden,
    }
    return SitingInstance(
        distances=dist,
        demand_ids=d_ids,
        site_ids=s_ids,
        name=name or demand.path.resolve().parent.name,
        groups=groups,
        **optional,
    )


def _groups(table: _Table, ids: list[str]) -> NDArray[Any]:
    """The demand ``group`` column as strings; an empty cell is an error naming the rows."""
    values = [v.strip() for v in table.columns["group"]]
    empty = [k for k, v in enumerate(values) if not v]
    if empty:
        shown = show_ids(f"{ids[k]} (line {table.lines[k]})" for k in empty)
        raise DataError(f"{table.name}: column 'group' is empty at id(s) {shown}; give every demand point a group")
    return np.asarray(values, dtype=object)


# ---------------------------------------------------------------------------- distance matrices
def _order(found: list[str], expected: list[str], fname: str, axis: str, source: str) -> NDArray[np.int64] | None:
    """Index putting ``found`` ids into the ``expected`` order (None if already in order)."""
    if found == expected:
        return None
    pos = {v: k for k, v in enumerate(found)}
    missing = [v for v in expected if v not in pos]
    extra = sorted(set(found) - set(expected))
    if len(pos) != len(found):
        uniq, counts = np.unique(np.asarray(found, dtype=str), return_counts=True)
        raise DataError(f"{fname}: duplicate {axis} id(s) {show_ids(uniq[counts > 1])} in the matrix")
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"ids missing from the matrix: {show_ids(missing)}")
        if extra:
            parts.append(f"ids not in {source}: {show_ids(extra)}")
        raise DataError(f"{fname}: the matrix {axis} ids do not match {source}; {'; '.join(parts)}")
    return np.asarray([pos[v] for v in expected], dtype=np.int64)


def _check_shape(shape: tuple[int, ...], n: int, m: int, fname: str) -> None:
    if len(shape) != 2:
        raise DataError(f"{fname}: the distance matrix has {len(shape)} dimension(s), expected 2 (demand x sites)")
    if tuple(shape) != (n, m):
        hint = " (it looks transposed: rows must be demand points, columns sites)" if tuple(shape) == (m, n) else ""
        raise DataError(
            f"{fname}: the distance matrix has shape {shape[0]} x {shape[1]} but there are {n} demand points and "
            f"{m} sites; it must be {n} x {m}{hint}"
        )


def _check_values(
    values: NDArray[Any],
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    fname: str,
    d_ids: list[str],
    s_ids: list[str],
) -> None:
    """NaN or negative distances -> DataError naming the first pairs."""
    for bad, what, fix in (
        (np.isnan(values), "NaN", "give a number for every pair, inf where a site cannot be reached"),
        (values < 0, "negative", "distances must be >= 0"),
    ):
        if bad.any():
            k = np.flatnonzero(bad)
            pairs = show_ids(f"({d_ids[rows[i]]}, {s_ids[cols[i]]}) = {values[i]:g}" for i in k)
            raise DataError(f"{fname}: {len(k)} {what} distance(s), at (demand, site) {pairs}; {fix}")


def read_distance_matrix(
    path: str | Path, demand_ids: list[str], site_ids: list[str]
) -> NDArray[np.float32] | sp.csr_array:
    """A demand x sites distance matrix from ``.npz`` or ``.csv``, checked against the tables' ids.

    Parameters
    ----------
    path : the matrix file (see the module docstring for the layouts).
    demand_ids, site_ids : the ids of the tables, as written there (strings).

    Returns
    -------
    Dense float32 (n, m) with ``inf`` = unreachable, or CSR (n, m) float32 whose stored pairs are
    the reachable ones (stored ``inf`` entries are dropped).
    """
    p = existing_file(path, "distance matrix")
    n, m = len(demand_ids), len(site_ids)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return _read_npz(p, demand_ids, site_ids)
    if suffix == ".csv":
        return _read_matrix_csv(p, demand_ids, site_ids)
    raise DataError(
        f"distance matrix {p.name}: unknown format {suffix or '(no extension)'!r}; use .npz or .csv ({n} x {m})"
    )


def _read_npz(p: Path, demand_ids: list[str], site_ids: list[str]) -> NDArray[np.float32] | sp.csr_array:
    """A dense ``distances`` array or a scipy sparse matrix, read through :mod:`.npz` (headers checked first)."""
    n, m = len(demand_ids), len(site_ids)
    with open_npz(p) as archive:
        keys = set(archive.files)
        if "distances" in keys:
            head = archive.header("distances")
            _check_shape(head.shape, n, m, p.name)
            d = numeric_values(archive.array("distances", head), p.name, "distances")
            rorder = corder = None
            for key, expected, axis, source in (
                ("demand_ids", demand_ids, "row (demand)", "the demand file"),
                ("site_ids", site_ids, "column (site)", "the sites file"),
            ):
                if key not in keys:
                    continue
                ids_head = archive.header(key)
                if len(ids_head.shape) != 1 or ids_head.shape[0] > len(expected) + 1_000_000:
                    raise DataError(f"{p.name}: {key!r} must be a 1-D list of ids, got shape {ids_head.shape}")
                order = _order(list(archive.array(key, ids_head).astype(str)), expected, p.name, axis, source)
                if key == "demand_ids":
                    rorder = order
                else:
                    corder = order
            if rorder is not None:
                d = d[rorder]
            if corder is not None:
                d = d[:, corder]
            bad = np.isnan(d) | (d < 0)
            if bad.any():
                rows, cols = np.nonzero(bad)
                _check_values(d[rows, cols], rows, cols, p.name, demand_ids, site_ids)
            return d
        if not {"format", "shape", "data"} <= keys:
            raise DataError(
                f"{p.name}: expected an array named 'distances' (np.savez(path, distances=D)) or a scipy sparse "
                f"matrix (scipy.sparse.save_npz); arrays found: {', '.join(sorted(keys)) or '(none)'}"
            )
        rows, cols, raw = read_sparse(archive, n, m)
    values = numeric_values(raw, p.name, "data")
    _check_values(values, rows, cols, p.name, demand_ids, site_ids)
    finite = np.isfinite(values)  # a stored inf means "unreachable": drop it
    return sparse_matrix(rows[finite], cols[finite], values[finite], n, m)


def _read_matrix_csv(p: Path, demand_ids: list[str], site_ids: list[str]) -> NDArray[np.float32]:
    n, m = len(demand_ids), len(site_ids)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{p.name}: not a readable UTF-8 CSV ({exc})") from None
    if not rows:
        raise DataError(f"{p.name} is empty: expected a header row of site ids and one row per demand point")
    _, head = rows[0]
    col_ids = [c.strip() for c in head[1:]]
    body = rows[1:]
    if len(body) != n or len(col_ids) != m:
        hint = (
            " (it looks transposed: rows must be demand points, columns sites)"
            if (len(body), len(col_ids)) == (m, n)
            else ""
        )
        raise DataError(
            f"{p.name}: the matrix has {len(body)} rows and {len(col_ids)} site columns but there are {n} demand points "
            f"and {m} sites; it must have a header row of the {m} site ids and then {n} rows 'demand id, "
            f"{m} distances'{hint}"
        )
    out = np.empty((n, m), dtype=np.float32)
    row_ids = []
    for k, (line_no, r) in enumerate(body):  # one pass over the demand rows
        if len(r) != m + 1:
            raise DataError(
                f"{p.name} line {line_no}: {len(r) - 1} distances but the header names {m} sites; "
                f"every row must be 'demand id' then one distance per site"
            )
        row_ids.append(r[0].strip())
        try:
            out[k] = np.asarray([c.strip() for c in r[1:]], dtype=np.float64)
        except ValueError:
            for j, c in enumerate(r[1:]):
                try:
                    float(c)
                except ValueError:
                    raise DataError(
                        f"{p.name} line {line_no} (demand {r[0].strip()!r}, site {col_ids[j]!r}): {c.strip()!r} is not "
                        f"a number; write inf for an unreachable pair"
                    ) from None
    rorder = _order(row_ids, demand_ids, p.name, "row (demand)", "the demand file")
    corder = _order(col_ids, site_ids, p.name, "column (site)", "the sites file")
    if rorder is not None:
        out = out[rorder]
        row_ids = [row_ids[k] for k in rorder]
    if corder is not None:
        out = out[:, corder]
    bad = np.isnan(out) | (out < 0)
    if bad.any():
        r_, c_ = np.nonzero(bad)
        _check_values(out[r_, c_], r_, c_, p.name, demand_ids, site_ids)
    return out
