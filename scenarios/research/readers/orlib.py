"""OR-Library uncapacitated p-median files (``pmed1.txt`` ... ``pmed40.txt``, Beasley 1985).

Format::

    n m p          # vertices, edges, number of medians
    i j c          # m lines: an undirected edge between 1-based vertices i and j, cost c

The distance matrix is the all-pairs shortest-path matrix of the graph. When an edge appears more
than once (in either direction), the LAST occurrence wins, as OR-Library's note of 1995 prescribes
("set c(i,j)=k and c(j,i)=k for each line in turn"); taking the minimum instead gives wrong optima
(pmed1: 5718 instead of 5819). Clients = candidate sites = all n vertices, each of weight 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

from siting.models.errors import DataError
from siting.models.instance import SitingInstance
from siting.scenarios.files import DENSE_LIMIT_BYTES, check_dense_size, existing_file, read_text, show_ids


def _ints(tokens: list[str]) -> list[int] | None:
    try:
        return [int(t) for t in tokens]
    except ValueError:
        return None


def read_orlib_pmed(path: str | Path, *, max_bytes: float = DENSE_LIMIT_BYTES) -> tuple[SitingInstance, int]:
    """Read an OR-Library p-median file into an instance and its p.

    Parameters
    ----------
    path : the ``pmedN.txt`` file.
    max_bytes : refuse when the dense float32 (n, n) shortest-path matrix would exceed this.

    Returns
    -------
    (instance, p) : ``instance.distances[i, j]`` = shortest-path length between vertices ``i+1``
        and ``j+1`` (float32, exact for these integer lengths); demand and site ids are the
        1-based vertex numbers; all weights 1.

    Raises
    ------
    DataError : naming the file and line for a malformed header or edge line, a vertex id out of
        range, a negative cost, the wrong number of edge lines, or a disconnected graph.
    """
    p_path = existing_file(path, "OR-Library p-median")
    name = p_path.name
    lines = read_text(p_path).splitlines()
    # (line number, tokens) of the non-blank lines
    rows = [(k + 1, line.split()) for k, line in enumerate(lines) if line.strip()]
    if not rows:
        raise DataError(f"{name} is empty: expected a first line 'n m p' and then m edge lines 'i j cost'")

    head_no, head = rows[0]
    header = _ints(head) if len(head) == 3 else None
    if header is None:
        raise DataError(
            f"{name} line {head_no}: expected 3 integers 'n m p' (vertices, edges, medians), got {' '.join(head)!r}"
        )
    n, m_edges, p = header
    if n < 1 or m_edges < 0:
        raise DataError(f"{name} line {head_no}: n = {n} vertices and m = {m_edges} edges; need n >= 1 and m >= 0")
    if not 1 <= p <= n:
        raise DataError(f"{name} line {head_no}: p = {p} medians is not between 1 and n = {n}")

    edges = rows[1:]
    if len(edges) != m_edges:
        raise DataError(
            f"{name}: the header (line {head_no}) declares m = {m_edges} edges but the file has "
            f"{len(edges)} edge lines; the file is truncated or the header is wrong"
        )
    check_dense_size(n, n, name, max_bytes, "this graph is too large for a dense shortest-path matrix")

    ii = np.empty(m_edges, dtype=np.int64)
    jj = np.empty(m_edges, dtype=np.int64)
    cc = np.empty(m_edges, dtype=np.float64)
    for k, (line_no, tokens) in enumerate(edges):  # one pass over the edge lines of the file
        vals = _ints(tokens) if len(tokens) == 3 else None
        if vals is None:
            raise DataError(f"{name} line {line_no}: expected 3 integers 'i j cost', got {' '.join(tokens)!r}")
        i, j, c = vals
        if not (1 <= i <= n and 1 <= j <= n):
            raise DataError(
                f"{name} line {line_no}: edge ({i}, {j}) names a vertex outside 1..{n}; vertex ids are 1-based"
            )
        if c < 0:
            raise DataError(f"{name} line {line_no}: edge ({i}, {j}) has negative cost {c}; costs must be >= 0")
        ii[k], jj[k], cc[k] = i - 1, j - 1, c

    # Last occurrence wins: key each undirected edge by (min, max) and keep its last line.
    lo, hi = np.minimum(ii, jj), np.maximum(ii, jj)
    key = lo * n + hi
    _, first_in_reversed = np.unique(key[::-1], return_index=True)
    last = m_edges - 1 - first_in_reversed
    keep = last[lo[last] != hi[last]]  # a self-loop never shortens a path
    graph = sp.csr_array((cc[keep], (lo[keep], hi[keep])), shape=(n, n))  # explicit zeros are edges

    n_comp, labels = connected_components(graph, directed=False)
    if n_comp > 1:
        main = np.bincount(labels).argmax()
        cut = np.flatnonzero(labels != main) + 1
        raise DataError(
            f"{name}: the graph is disconnected ({n_comp} components); vertices {show_ids(cut)} cannot reach "
            f"the rest, so no p-median plan can serve every vertex; check the edge lines"
        )
    dist = shortest_path(graph, method="D", directed=False)
    instance = SitingInstance(
        distances=dist.astype(np.float32),
        demand_ids=np.arange(1, n + 1),
        site_ids=np.arange(1, n + 1),
        name=p_path.stem,
    )
    return instance, p
