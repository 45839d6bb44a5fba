"""A :class:`models.milp.MilpProblem` written as text in the CPLEX LP format, deterministically.

The same problem always gives the same bytes: columns are named from ``problem.blocks``
(``y_0``, ``y_1``, ..., ``x_0``, ...; ``v<j>`` for a column no block names), rows ``r<i>``, terms
in column order, numbers in the shortest form that reads back to the same float (``repr``). That
makes the file fit for golden tests (a formulation change shows as a readable diff) and for
handing a model to any solver that reads LP files.

The layout::

    \\ <name>
    \\ objective offset: <offset>         (only when it is not 0; LP files have no constant)
    Minimize | Maximize
     obj: c_j x_j ...
    Subject To
     r<i>: a_ij x_j ... <= | >= | = <bound>
     r<i>_lo: ... >= <lower>               (a row with two finite, different bounds: two rows)
     r<i>_hi: ... <= <upper>
    Bounds
     <lower> <= x_j <= <upper> | x_j free | x_j >= <lower> | -inf <= x_j <= <upper>
    Generals
     <integer columns>
    End

A row with no finite bound is left out (it constrains nothing); a row with no entries is kept,
written ``0 x_0``, so a formulation that builds an empty row still shows it.
"""

from __future__ import annotations

import math
import re

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.models.milp import MilpProblem

#: Terms written on one line before it is wrapped (LP readers limit line length).
TERMS_PER_LINE = 8


def number(v: float) -> str:
    """``v`` in the shortest text that reads back to the same float: ``3``, ``0.5``, ``1e+30``."""
    v = float(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def column_names(problem: MilpProblem) -> list[str]:
    """One name per column: ``<block>_<k>`` from ``problem.blocks`` (characters an LP reader does
    not take replaced by ``_``), ``v<j>`` elsewhere."""
    names = [f"v{j}" for j in range(problem.num_vars)]
    for block, (start, stop) in sorted(problem.blocks.items(), key=lambda kv: (kv[1][0], kv[0])):
        # LP readers take letters, digits, "_" and "." in names: "z[childcare]" becomes "z_childcare"
        stem = re.sub(r"[^A-Za-z0-9_.]+", "_", block).strip("_") or "v"
        for k, j in enumerate(range(int(start), min(int(stop), problem.num_vars))):
            names[j] = f"{stem}_{k}"
    return names


def _terms(coefs: NDArray[np.float64], cols: NDArray[np.int64], names: list[str]) -> list[str]:
    """``+ 3 x_1``, ``- y_0``, ... in column order; ``0 <first name>`` for an empty expression."""
    order = np.argsort(cols, kind="stable")
    out: list[str] = []
    for a, j in zip(coefs[order], cols[order], strict=True):
        sign = "-" if a < 0 else "+"
        mag = abs(float(a))
        out.append(f"{sign} {names[j]}" if mag == 1.0 else f"{sign} {number(mag)} {names[j]}")
    if not out:
        return [f"0 {names[0]}"] if names else ["0"]
    first = out[0]
    out[0] = first[2:] if first.startswith("+ ") else "-" + first[2:]
    return out


def _wrap(label: str, terms: list[str], tail: str = "") -> list[str]:
    lines = []
    for k in range(0, len(terms), TERMS_PER_LINE):
        chunk = " ".join(terms[k : k + TERMS_PER_LINE])
        lines.append((f" {label}: " if k == 0 else "   ") + chunk)
    if tail:
        lines[-1] += f" {tail}"
    return lines


def to_lp(problem: MilpProblem) -> str:
    """The problem as CPLEX LP text (see the module docstring); ends with a newline."""
    names = column_names(problem)
    lines = [f"\\ {problem.name}"]
    if problem.offset != 0:
        lines.append(f"\\ objective offset: {number(problem.offset)}")
    lines.append("Maximize" if problem.sense == "max" else "Minimize")
    c = np.asarray(problem.c, dtype=np.float64)
    nz = np.flatnonzero(c)
    lines += _wrap("obj", _terms(c[nz], nz, names))

    lines.append("Subject To")
    a = sp.csr_array(problem.A)
    a.sort_indices()
    for i in range(problem.num_rows):
        lo, up = float(problem.row_lower[i]), float(problem.row_upper[i])
        start, stop = a.indptr[i], a.indptr[i + 1]
        terms = _terms(np.asarray(a.data[start:stop], dtype=np.float64), a.indices[start:stop].astype(np.int64), names)
        if math.isfinite(lo) and math.isfinite(up):
            if lo == up:
                lines += _wrap(f"r{i}", terms, f"= {number(up)}")
            else:
                lines += _wrap(f"r{i}_lo", terms, f">= {number(lo)}")
                lines += _wrap(f"r{i}_hi", terms, f"<= {number(up)}")
        elif math.isfinite(up):
            lines += _wrap(f"r{i}", terms, f"<= {number(up)}")
        elif math.isfinite(lo):
            lines += _wrap(f"r{i}", terms, f">= {number(lo)}")

    lines.append("Bounds")
    for j, name in enumerate(names):
        lo, up = float(problem.col_lower[j]), float(problem.col_upper[j])
        if math.isinf(lo) and lo < 0 and math.isinf(up):
            lines.append(f" {name} free")
        elif math.isinf(up):
            lines.append(f" {name} >= {number(lo)}")
        else:
            lines.append(f" {number(lo)} <= {name} <= {number(up)}")
    ints = np.flatnonzero(problem.integrality)
    if ints.size:
        lines.append("Generals")
        for k in range(0, ints.size, TERMS_PER_LINE):
            lines.append(" " + " ".join(names[j] for j in ints[k : k + TERMS_PER_LINE]))
    lines.append("End")
    return "\n".join(lines) + "\n"
