"""Which covering formulation a MCLP / LSCP solve runs: the user's choice checked, or ``auto``'s.

``auto`` picks by the number of demand-site pairs within the radius (sizes measured with
benchmarks/bench_city_scale.py): the compact MILP on small instances; on highs the MCLP's reduced
path (window search, LP and fixing) from :data:`COVERAGE_REDUCED_PAIRS`, the decomposition from
:data:`COVERAGE_AUTO_PAIRS`, and the LSCP's reduced-rows path (:mod:`optimizer.coverage_lscp`) from
:data:`LSCP_REDUCED_PAIRS`, also on scip, which then runs that path's last branch and bound. Both
reduced paths run on scip when the user asks for them (``--formulation reduced``); the
decompositions are HiGHS's alone.

The default solver ``auto`` is HiGHS with one exception (:func:`coverage_prover`): the reduced
paths of the LSCP and the MCLP give their last branch and bound to SCIP when SCIP is installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siting.models.errors import BackendUnavailableError, ScenarioError
from siting.models.instance import SitingInstance

if TYPE_CHECKING:
    from siting.optimizer.solve import ModelSpec

#: Solvers that can run a reduced coverage path's last branch and bound (``--solver``), with their names for
#: progress lines. LSCP (the MCLP's figures are at :func:`coverage_prover`):
#: SCIP's root cuts lift the bound of these covers well past HiGHS's and past the block bound: at
#: 100,000 x 2,000, r = 800 m, seed 2, on the problem left after fixing (13,447 rows, 1,926 sites,
#: from the optimal cover 64.191) SCIP's root reached 63.10 in 74 s and proved the optimum in 312 s,
#: where HiGHS's bound was 62.87 after 400 s; with 120 s for the whole run, 63.03 against 62.44
#: (block bound then HiGHS); benchmarks/bench_city_scale.py --methods auto,highs gives the seeds side by side.
PROVERS: dict[str, str] = {"highs": "HiGHS", "scip": "SCIP"}


def one_thread_note(prover: str, threads: int) -> str:
    """What the user is told when SCIP proves with more threads given: SCIP in OR-Tools is
    sequential, so say so rather than let the threads look used ("" otherwise)."""
    if prover != "scip" or threads <= 1:
        return ""
    return (
        "the last branch and bound runs on SCIP on one thread (SCIP in OR-Tools is sequential); the LPs and "
        f"MILPs before it use {threads} threads"
    )


#: ``--formulation auto`` for MCLP / LSCP on highs: the decomposition from this many pairs within the radius
COVERAGE_AUTO_PAIRS = 500_000
#: ``--formulation auto`` for MCLP on highs: the reduced path (window search first) from this many pairs
COVERAGE_REDUCED_PAIRS = 20_000
#: ``--formulation auto`` for LSCP on highs and scip: the reduced-rows path (optimizer/coverage_lscp.py) from this many pairs
LSCP_REDUCED_PAIRS = 500_000


def coverage_formulation(spec: ModelSpec, backend: str, instance: SitingInstance) -> str:
    """``benders``, ``reduced`` or ``compact`` for MCLP / LSCP; an option the model cannot honour is an error.

    Raises
    ------
    ScenarioError : a p-median formulation, or a formulation the solver cannot run.
    """
    form = spec.formulation
    if form == "classic":
        return "compact"  # the textbook covering model as a peer builds it
    if form == "radius":
        raise ScenarioError(
            f"formulation {form!r} is a p-median formulation; {spec.model} takes auto, compact (classic), reduced "
            "or benders"
        )
    # the reduced paths also run on the other provers (SCIP for their last branch and bound); the rest is HiGHS's
    able = tuple(PROVERS)
    runs_on = able if form == "reduced" else ("highs",)
    if form in ("reduced", "benders") and backend not in runs_on:
        raise ScenarioError(
            f"the {form} formulation runs on the {' or '.join(runs_on)} solver only, not {backend!r}; "
            "use --formulation compact with this solver"
        )
    if form == "auto":
        # Small instances: the compact MILP (with its tie-break by cost). From COVERAGE_AUTO_PAIRS
        # pairs within the radius on, the decomposition: its master does not grow with the demand
        # rows, and it gave the better proven bound at 100,000 x 2,000 (benchmarks/bench_city_scale.py).
        if backend in able and spec.radius is not None and spec.radius > 0:
            from siting.models.formulations.lscp import coverage_matrix

            pairs = coverage_matrix(instance, float(spec.radius)).nnz
            if spec.model == "lscp" and pairs >= LSCP_REDUCED_PAIRS:
                # city-sized LSCP: dominated rows and sites, LP bound, core MILP, fixing
                # (optimizer/coverage_lscp.py); at 100,000 x 2,000, r = 800 m, 120 s it proved a gap
                # of 2.7 % where the row generation reached 4.8 % (benchmarks/bench_city_scale.py)
                return "reduced"
            if backend != "highs":
                return "compact"
            if pairs >= COVERAGE_AUTO_PAIRS:
                return "benders"
            if spec.model == "mclp" and pairs >= COVERAGE_REDUCED_PAIRS:
                # city-sized MCLP: window search, LP and fixing before the MILP (a better plan and
                # bound at 10,000 x 1,000 than the compact MILP in the same time)
                return "reduced"
        return "compact"
    return form


def coverage_prover(requested: str, backend: str) -> str:
    """The solver of a reduced coverage path's last branch and bound (the LSCP's and the MCLP's): the
    ``backend`` the user named, or for the default ``auto`` solver SCIP when it is installed (HiGHS
    otherwise).

    Why SCIP: on the problems left after fixing, its root cuts reach a higher bound than HiGHS's
    branch and bound does in the same time. MCLP 10,000 x 1,000, p = 50, r = 500 m (the reduced
    path, one thread, each seed's two runs one after the other): SCIP proved seed 1 optimal in
    134 s where HiGHS took 269 s, and seed 2 in 286 s where HiGHS ended at 0.76 % after 300 s;
    on seed 3 both stopped at 300 s, SCIP at 0.67 % (bound 625,168), HiGHS at 0.82 % (626,407).
    LSCP, measured side by side (benchmarks/bench_city_scale.py
    ``--methods auto,highs``, 100,000 x 2,000, r = 800 m, 120 s, one thread, seeds 1-6): SCIP
    proved seeds 1, 4 and 6 optimal (93 s, 77 s, 117 s) and ended seeds 2, 3 and 5 at 1.37 %,
    0.43 % and 2.65 %; HiGHS proved seed 4 (109 s) and ended the others at 1.50 %, 2.72 %, 1.84 %,
    3.51 % and 2.00 % (benchmarks/results/lscp_seeds.csv). At 60,000 x 3,000, r = 400 m SCIP
    proved the optimum in 15 s and HiGHS in 24 s. SCIP's peak memory was higher (590-990 MB
    against 380-470 MB).
    """
    if requested.strip().lower() != "auto":
        return backend
    from siting.optimizer.registry import make_backend

    try:
        installed = bool(make_backend("scip").available())
    except (ImportError, BackendUnavailableError):
        installed = False
    return "scip" if installed else backend
