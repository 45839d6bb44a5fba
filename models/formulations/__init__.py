"""Siting models as solver-neutral sparse MILPs (:class:`models.milp.MilpProblem`).

* :func:`mclp`: maximal covering (max covered weight within a radius, p and/or budget),
* :func:`lscp`: location set covering (cheapest or fewest sites covering all coverable demand),
  :func:`uncoverable` reports the demand no eligible site can cover,
* :func:`pmedian_classic`, :func:`pmedian_radius`, :func:`pmedian_capacitated`: p-median in the
  assignment form, the radius form of Elloumi (2010), and with capacities.

p-center is solved by a search over LSCP problems: :func:`optimizer.pcenter.solve_pcenter`.
"""

from siting.models.formulations.lscp import lscp, merge_identical_rows, uncoverable
from siting.models.formulations.mclp import mclp
from siting.models.formulations.pmedian import pmedian_capacitated, pmedian_classic, pmedian_radius

__all__ = [
    "lscp",
    "mclp",
    "merge_identical_rows",
    "pmedian_capacitated",
    "pmedian_classic",
    "pmedian_radius",
    "uncoverable",
]
