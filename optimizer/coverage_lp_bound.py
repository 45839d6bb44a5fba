"""The MCLP's LP bound at city scale: a first-order LP solve made rigorous by the Lagrangian dual.

The compact MCLP LP over merged demand rows i (weights w_i, 0/1 covering rows a_i of the sites)::

    max  sum_i w_i z_i   s.t.  z_i - a_i y <= 0 (lambda_i),  0 <= z_i <= 1,
                               sum_{j free} y_j <= p (mu),  cost y <= B (nu),  lo <= y <= up

Relaxing the coverage rows with multipliers ``lambda >= 0`` and the site rows with ``mu, nu >= 0``
leaves a problem that separates by variable. Its value::

    L(lambda, mu, nu) = sum_i max(0, w_i - lambda_i) + mu p + nu B
                        + sum_j max(d_j lo_j, d_j up_j),      d_j = (A^T lambda)_j - mu - nu cost_j   (L)

is at least the value of every feasible (z, y), fractional or integer, for *any* multipliers of
those signs: a bound that no solver tolerance can invalidate, since it is evaluated here in numpy
from whatever multipliers the LP solver returns (clipped to their signs). Clipping ``lambda_i`` to
``w_i`` never raises L (the row term is already 0 beyond it, and ``A^T lambda`` only falls), so the
multipliers used are ``lambda in [0, w]``. With no budget row, the best ``mu`` for a given lambda is
the k-th largest ``g_j = (A^T lambda)_j`` over the free sites (k = p minus the sites fixed open;
``mu = 0`` when fewer are positive), and L becomes ``sum_i (w_i - lambda_i)`` + the k largest
positive ``g_j`` + the fixed-open sites' ``g_j``: the bound of :func:`dual_bound`, and
``min_lambda L`` is exactly the LP optimum (the site polytope is integral).

Forcing one site ``y_j = v`` changes only its own term, so ``L_j(v) = L - max(d_j lo_j, d_j up_j)
+ d_j v`` bounds every plan with ``y_j = v``: the reduced-cost fixing of
:func:`coverage_exact.lagrangian_bound`, here with the exact multipliers.

The multipliers come from HiGHS's first-order solver (``solver="pdlp"``: primal-dual hybrid
gradient with restarts and scaling) on the compact LP, stopped at a time share: no simplex basis is
built, so the 52,761 merged rows x 2,000 sites of the 100,000 x 2,000, r = 800 m city take seconds
per percent of gap where the simplex did not finish in minutes. Its primal point y (clipped into
the site polytope) gives ``f(y) = sum_i w_i min(1, a_i y)``, a value the LP attains: the LP optimum
lies between ``f(y)`` and L, and y ranks the sites for the LP-guided plans.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from siting.optimizer.result import SolveParams

# PDLP's own stopping tolerance (relative): far below the 2 % the bound is needed for
_PDLP_TOL = 1e-5


@dataclass
class CompactMclp:
    """The compact MCLP of the module docstring over merged rows: what its LP, the bound (L) and the
    Benders master (:class:`optimizer.coverage_benders.CoverageMaster`, which extends it) share.

    Attributes
    ----------
    A : (R, m) CSR 0/1 float covering matrix of the merged rows (open question rows only).
    w : (R,) weight of each merged row.
    lower, upper : (m,) site bounds (fixings; a forbidden or existing site has upper 0).
    p : number of new sites allowed (None: no cardinality row).
    cost, budget : budget row ``cost y <= budget`` when budget is not None.
    offset : weight already covered (by existing and fixed-open sites), added to every value.
    """

    A: sp.csr_array
    w: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    p: int | None
    cost: NDArray[np.float64]
    budget: float | None
    offset: float

    @property
    def counted(self) -> NDArray[np.bool_]:
        """The sites the p and budget rows count: every site that may open (upper > 0)."""
        return self.upper > 0


@dataclass
class DualBound:
    """A rigorous bound (L) with its multipliers and, per site, the bound with y_j forced to 0 / 1."""

    bound: float
    lam: NDArray[np.float64]
    mu: float
    nu: float
    at0: NDArray[np.float64]
    at1: NDArray[np.float64]


@dataclass
class LpBound:
    """The outcome of :func:`coverage_lp`: the rigorous dual bound (None when the solver gave no
    multipliers), the clipped primal sites ``y`` and ``point`` = f(y) + offset (the LP attains it)."""

    dual: DualBound | None
    y: NDArray[np.float64] | None
    point: float
    seconds: float
    status: str

    @property
    def bound(self) -> float:
        return math.inf if self.dual is None else self.dual.bound


def _site_terms(d: NDArray[np.float64], lower: NDArray[np.float64], upper: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.maximum(d * lower, d * upper)


def dual_bound(
    mclp: CompactMclp,
    lam: NDArray[np.float64],
    mu: float = 0.0,
    nu: float = 0.0,
) -> DualBound:
    """Bound (L) of the module docstring at ``lam`` (clipped to [0, w]) and the given ``mu``, ``nu``
    (clipped to >= 0; ignored for a missing row). With a cardinality row the best ``mu`` for this
    lambda and nu is also tried, with a budget row ``nu = 0`` too; the least bound is returned."""
    w, lower, upper, p, cost, budget = mclp.w, mclp.lower, mclp.upper, mclp.p, mclp.cost, mclp.budget
    lam = np.clip(np.asarray(lam, dtype=np.float64), 0.0, w)
    g = np.asarray(mclp.A.T @ lam, dtype=np.float64)
    rows = float(np.sum(w - lam))
    # the p row counts every site that may open (upper > 0), as CoverageMaster.problem builds it
    counted = mclp.counted
    choices: list[tuple[float, float]] = []
    mu_in = max(float(mu), 0.0) if p is not None else 0.0
    nu_in = max(float(nu), 0.0) if budget is not None else 0.0
    for nu_c in (nu_in, 0.0) if budget is not None else (0.0,):
        choices.append((mu_in, nu_c))
        if p is not None:
            choices.append((_best_mu(g - nu_c * cost, lower, upper, counted, p), nu_c))
    best: DualBound | None = None
    for mu_c, nu_c in choices:
        d = g - nu_c * cost - mu_c * counted
        terms = _site_terms(d, lower, upper)
        total = rows + mclp.offset + float(terms.sum())
        total += mu_c * float(p or 0) + nu_c * float(budget or 0.0)
        if best is None or total < best.bound:
            best = DualBound(total, lam, mu_c, nu_c, total - terms, total - terms + d)
    assert best is not None
    return best


def _best_mu(
    g: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    counted: NDArray[np.bool_],
    p: int,
) -> float:
    """The mu >= 0 minimising ``mu p + sum_{counted} max((g_j - mu) lo_j, (g_j - mu) up_j)`` for 0/1
    bounds: sites fixed open take ``g_j - mu`` whatever mu, so mu is the k-th largest g of the
    free sites (k = p - fixed open), or 0 when fewer than k are positive."""
    free = counted & (upper > lower)
    k = p - int((counted & (lower > 0)).sum())
    gf = np.sort(g[free])[::-1]
    if k <= 0:
        return float(max(gf[0], 0.0)) if gf.size else 0.0
    if gf.size < k:
        return 0.0
    return float(max(gf[k - 1], 0.0))


def compact_lp(mclp: CompactMclp) -> tuple[Any, int]:
    """The compact LP of the module docstring as a ``highspy.HighsLp`` (columns: y then z; rows:
    the R coverage rows, then the p row, then the budget row). Returns the LP and R."""
    import highspy

    A, p, budget = sp.csr_array(mclp.A, dtype=np.float64), mclp.p, mclp.budget
    R, m = A.shape
    counted = mclp.counted.astype(np.float64)
    blocks = [[-A, sp.identity(R, format="csr")]]
    rhs = [np.zeros(R)]
    if p is not None:
        blocks.append([sp.csr_array(counted[None, :]), sp.csr_array((1, R))])
        rhs.append(np.array([float(p)]))
    if budget is not None:
        blocks.append([sp.csr_array((counted * mclp.cost)[None, :]), sp.csr_array((1, R))])
        rhs.append(np.array([float(budget)]))
    M = sp.csc_array(sp.block_array(blocks))
    M.eliminate_zeros()
    lp = highspy.HighsLp()
    lp.num_col_ = m + R
    lp.num_row_ = int(M.shape[0])
    lp.col_cost_ = np.concatenate([np.zeros(m), mclp.w])
    lp.col_lower_ = np.concatenate([mclp.lower, np.zeros(R)])
    lp.col_upper_ = np.concatenate([mclp.upper, np.ones(R)])
    lp.row_lower_ = np.full(lp.num_row_, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate(rhs)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize
    return lp, R


def clip_to_sites(
    y: NDArray[np.float64], lower: NDArray[np.float64], upper: NDArray[np.float64], p: int | None
) -> NDArray[np.float64]:
    """``y`` clipped into its bounds, the free part scaled down to respect the p row (a point of the
    site polytope without budget; with a budget the caller checks it)."""
    y = np.clip(np.asarray(y, dtype=np.float64), lower, upper)
    if p is not None:
        free = (upper > lower) & (upper > 0)
        room = p - float(y[~free & (upper > 0)].sum())
        used = float(y[free].sum())
        if used > room > 0:
            y[free] *= room / used
        elif room <= 0:
            y[free] = 0.0
    return y


def coverage_lp(mclp: CompactMclp, seconds: float, params: SolveParams) -> LpBound:
    """The compact LP by HiGHS's PDLP within ``seconds`` (and the deadline of ``params``), turned
    into the rigorous bound (L) and a feasible LP point (see the module docstring)."""
    from siting.optimizer.backends.highs import new_highs, run_within

    t0 = time.monotonic()
    lp, R = compact_lp(mclp)
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "pdlp")
    h.setOptionValue("presolve", "off")  # nothing to remove on merged rows; saves a pass
    h.setOptionValue("pdlp_optimality_tolerance", _PDLP_TOL)
    h.setOptionValue("random_seed", int(params.seed or 0))
    h.setOptionValue("threads", int(params.threads))
    left = params.remaining()
    limit = seconds if left is None else min(seconds, left)
    h.setOptionValue("time_limit", max(float(limit), 0.05))
    h.passModel(lp)
    if not run_within(h, params):  # overran the deadline and was abandoned: nothing to read
        return LpBound(None, None, -math.inf, time.monotonic() - t0, "abandoned")
    status = str(h.getModelStatus()).split(".")[-1]
    sol = h.getSolution()
    col = np.asarray(sol.col_value, dtype=np.float64)
    dual = np.asarray(sol.row_dual, dtype=np.float64)
    m, p, budget = mclp.A.shape[1], mclp.p, mclp.budget
    if col.size < m or dual.size < R:
        return LpBound(None, None, -math.inf, time.monotonic() - t0, status)
    y = clip_to_sites(col[:m], mclp.lower, mclp.upper, p)
    counted = mclp.counted
    if budget is not None and float(mclp.cost[counted] @ y[counted]) > budget:
        point = -math.inf  # not a point of the site polytope: no LP value claimed
    else:
        point = float(mclp.w @ np.minimum(mclp.A @ y, 1.0)) + mclp.offset
    extra = dual[R:]
    # the solver's sign convention for a maximisation is not assumed: both signs give valid
    # multipliers once clipped, the least bound is kept
    best: DualBound | None = None
    for s in (1.0, -1.0):
        mu = s * float(extra[0]) if p is not None and extra.size else 0.0
        nu = s * float(extra[-1]) if budget is not None and extra.size else 0.0
        got = dual_bound(mclp, s * dual[:R], mu=mu, nu=nu)
        if best is None or got.bound < best.bound:
            best = got
    return LpBound(best, y, point, time.monotonic() - t0, status)
