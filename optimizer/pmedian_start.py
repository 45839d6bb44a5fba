"""The heuristic start of a very large dense p-median, on each client's nearest sites only.

The heuristics keep dense (n, m) working copies (sorted rows, gains), fine up to a few thousand
points but not at 13,509 x 13,509 (usa13509), where they peaked at 11 GB. The start only has to
give the Benders path a plan and Lagrangian multipliers (levels for its first cuts), so it runs
on a *truncated* instance: client ``i`` keeps its ``width`` nearest eligible sites, and every
other pair is treated as unreachable.

What stays valid: the plan is a plan of the full instance (its true value is measured there);
any multiplier is a valid cut level for the Benders master (the master caps levels at each
client's stored sites). What does not: the heuristic's Lagrangian *bound* on the truncated
instance bounds a different problem (unstored pairs cost more there than in truth), so it is
never used as a bound.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from siting.models.instance import SitingInstance

#: rows per block when selecting each client's nearest sites (keeps temporaries near 100 MB)
_BLOCK_ENTRIES = 12_000_000


def truncated_instance(instance: SitingInstance, width: int) -> SitingInstance:
    """The instance with only each client's ``width`` nearest eligible sites stored (sparse CSR).

    Forbidden sites are dropped from the stored pairs (they can never open). Rows are handled in
    blocks so that no (n, m) temporary is made; the result holds ``n * width`` pairs.
    """
    # the instance's own float32 matrix (dense_distances() would be a float64 copy of it)
    d = instance.dense_distances() if instance.is_sparse else instance.distances
    n, m = d.shape
    cols = np.flatnonzero(instance.eligible)
    width = int(max(1, min(width, cols.size)))
    step = max(1, _BLOCK_ENTRIES // max(1, cols.size))
    idx_parts, val_parts = [], []
    for r0 in range(0, n, step):
        block = np.asarray(d[r0 : r0 + step][:, cols] if cols.size < m else d[r0 : r0 + step], dtype=np.float32)
        if width < cols.size:
            part = np.argpartition(block, width - 1, axis=1)[:, :width]
        else:
            part = np.broadcast_to(np.arange(cols.size), block.shape)
        vals = np.take_along_axis(block, part, axis=1)
        idx_parts.append(cols[part].astype(np.int32))
        val_parts.append(vals)
    idx = np.concatenate(idx_parts).ravel()
    val = np.concatenate(val_parts).ravel()
    keep = np.isfinite(val)
    rows = np.repeat(np.arange(n, dtype=np.int32), width)[keep]
    csr = sp.csr_array((val[keep], (rows, idx[keep])), shape=(n, m), dtype=np.float32)
    return dataclasses.replace(instance, distances=csr)
