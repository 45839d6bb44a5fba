"""Closed-form separation of the radius-formulation cuts (B) of the p-median, for all clients at once.

Used by :mod:`optimizer.benders_pmedian` (its docstring states the cuts and the master problem).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

__all__ = ["RadiusSeparator"]


class RadiusSeparator:
    """Closed-form separation of cuts (B) for all clients at once.

    Holds, for each client, the ``width`` nearest ``active`` candidate columns sorted by distance
    (``order``, global column numbers) and their distances (``dist``), both (n, width) arrays,
    built in row blocks from ``d`` (never copied whole). Sites fixed to 0 can be left out
    (``restrict``): they add nothing to a cut or to the open mass. ``k`` is the number of all
    candidate columns; theta_i is column ``k + i``.

    Truncation (``width`` < active columns) keeps the optimum: ``cap_i = dist[i, -1]`` is the
    largest stored distance, every column left out has ``d_ij >= cap_i``, so the cut (B) at any
    level ``L <= cap_i`` is written exactly from the stored columns, and levels are never above
    ``cap_i``. Every cut stays valid; a capped cut is only weaker. The master's optimum is taken
    as proven only when it equals the true value of its plan, with ``d`` in full (see
    :func:`solve_pmedian_benders`), and the width doubles whenever a plan's nearest open site lies
    beyond a client's cap.
    """

    #: Entries of (clients x width) handled at once by the row-block loops.
    BLOCK = 2_000_000

    def __init__(
        self, d: NDArray[np.floating], active: NDArray[np.bool_] | None = None, width: int | None = None
    ) -> None:
        self.d = d
        self.k = d.shape[1]
        self.active = np.ones(self.k, dtype=bool) if active is None else active.copy()
        cols = np.flatnonzero(self.active)
        self.width = cols.size if width is None else max(1, min(int(width), cols.size))
        self.truncated = self.width < cols.size
        n = d.shape[0]
        self.order = np.empty((n, self.width), dtype=np.int32)
        self.dist = np.empty((n, self.width), dtype=d.dtype)
        rows = max(1, self.BLOCK // max(1, cols.size))
        for r0 in range(0, n, rows):
            sub = d[r0 : r0 + rows][:, cols]
            if self.truncated:
                part = np.argpartition(sub, self.width - 1, axis=1)[:, : self.width]
                vals = np.take_along_axis(sub, part, axis=1)
                # by distance, ties by column number (as the full stable sort orders them)
                local = np.take_along_axis(part, np.lexsort((part, vals), axis=1), axis=1)
            else:
                local = np.argsort(sub, axis=1, kind="stable")
            self.order[r0 : r0 + rows] = cols[local]
            self.dist[r0 : r0 + rows] = np.take_along_axis(sub, local, axis=1)
        self.cap = self.dist[:, -1]

    def restrict(self, active: NDArray[np.bool_]) -> RadiusSeparator:
        """The separator over the ``active`` columns only (same width)."""
        return RadiusSeparator(self.d, active, self.width if self.truncated else None)

    def widen(self) -> RadiusSeparator:
        """The separator over the same columns with twice the width."""
        return RadiusSeparator(self.d, self.active, 2 * self.width)

    def _blocks(self) -> Iterator[slice]:
        rows = max(1, self.BLOCK // max(1, self.width))
        for r0 in range(0, self.dist.shape[0], rows):
            yield slice(r0, r0 + rows)

    def levels(self, y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per client, the level L_i of the deepest cut (B) at ``y`` (at most ``cap_i``)."""
        out = np.empty(self.dist.shape[0])
        for b in self._blocks():
            mass = np.cumsum(y[self.order[b]], axis=1)
            # first sorted position whose cumulative open mass reaches 1 (the last if none does)
            reached = mass >= 1.0 - 1e-9
            t = np.where(reached[:, -1], np.argmax(reached, axis=1), self.width - 1)
            out[b] = self.dist[b][np.arange(t.size), t]
        return out

    def rhs(self, level: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Right side of the cuts (B) at ``level`` (one per client), evaluated at ``y``."""
        out = np.empty(self.dist.shape[0])
        for b in self._blocks():
            gain = np.clip(level[b, None] - self.dist[b], 0.0, None)
            out[b] = level[b] - np.sum(gain * y[self.order[b]], axis=1)
        return out

    def cut_rows(
        self, clients: NDArray[np.int64], level: NDArray[np.float64], closed: NDArray[np.bool_]
    ) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float64]]:
        """CSR rows (starts, columns, values) of cuts (B) for ``clients`` at ``level``.

        Row r is ``theta_i + sum_{j : d_ij < L, j not closed} (L - d_ij) y_j``; columns fixed
        to 0 contribute nothing and are left out.
        """
        dist = self.dist[clients]
        below = (dist < level[:, None]) & ~closed[self.order[clients]]
        # prepend the theta column to every row: a leading True column in the pattern
        pattern = np.concatenate([np.ones((len(clients), 1), dtype=bool), below], axis=1)
        r, c = np.nonzero(pattern)
        is_theta = c == 0
        site = self.order[clients[r], np.maximum(c - 1, 0)]
        cols = np.where(is_theta, self.k + clients[r], site).astype(np.int32)
        vals = np.where(is_theta, 1.0, level[r] - dist[r, np.maximum(c - 1, 0)])
        starts = np.concatenate([[0], np.cumsum(pattern.sum(axis=1))[:-1]]).astype(np.int32)
        return starts, cols, vals
