"""Golden LP files: each formulation on one tiny instance, written by :func:`models.lp_format.to_lp`
and compared with ``tests/models/golden/<name>.lp`` (as Calliope keeps golden LP files per constraint).

A change to a formulation shows here as a readable diff of the LP text. When the change is meant,
regenerate the files and review the diff in version control::

    SITING_UPDATE_GOLDEN=1 python -m pytest tests/models/test_golden_lp.py

The files are also solved by HiGHS straight from the LP text, and must give the optimum the
MilpProblem gives: the writer is checked, not only its output kept.
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from siting.models.formulations import lscp, mclp, pmedian_capacitated, pmedian_classic, pmedian_radius
from siting.models.formulations.joint import joint_milp
from siting.models.instance import SitingInstance
from siting.models.lp_format import column_names, number, to_lp
from siting.models.milp import MilpProblem
from siting.models.multiservice import MultiServiceInstance, ServiceData
from siting.optimizer.registry import get_backend
from siting.optimizer.result import SolveParams, Status

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SITING_UPDATE_GOLDEN") == "1"

# 5 demand points x 4 sites: walking distances (inf = unreachable), weights; s0 is an existing
# facility, the others are new candidates with a cost and a capacity.
TINY = """\
demand,weight,s0,s1,s2,s3
d0,3,2,5,9,inf
d1,1,6,1,4,8
d2,4,9,3,2,6
d3,2,inf,7,3,1
d4,5,4,8,6,2
"""
SITES = """\
site,cost,capacity,existing
s0,0,8,1
s1,3,6,0
s2,2,7,0
s3,4,9,0
"""


def tiny() -> SitingInstance:
    table = np.genfromtxt(io.StringIO(TINY), delimiter=",", skip_header=1, dtype=float)[:, 1:]
    sites = np.genfromtxt(io.StringIO(SITES), delimiter=",", skip_header=1, dtype=float)[:, 1:]
    return SitingInstance(
        table[:, 1:],
        weights=table[:, 0],
        cost=sites[:, 0],
        capacity=sites[:, 1],
        existing=sites[:, 2] == 1,
        demand_ids=np.array([f"d{i}" for i in range(table.shape[0])]),
        site_ids=np.array([f"s{j}" for j in range(sites.shape[0])]),
        name="tiny",
    )


def tiny_joint() -> MultiServiceInstance:
    """Two services on the same 4 plots: elderly care within 4, childcare within 3 (of TINY)."""
    inst = tiny()
    d = inst.dense_distances()
    services = []
    for name, radius, eligible, cost in (
        ("elderly_care", 4.0, [False, True, True, True], [np.nan, 3.0, 2.0, 4.0]),
        ("childcare", 3.0, [False, True, True, False], [np.nan, 2.0, 2.0, np.nan]),
    ):
        near = np.where(d <= radius, d, 0.0)
        services.append(
            ServiceData(
                name=name,
                weights=inst.weights.copy(),
                coverage=sp.csr_array(d <= radius),
                distances=sp.csr_array(near),
                cost=np.array(cost),
                eligible=np.array(eligible),
                area=1.0,
                existing_covered=np.zeros(inst.n, dtype=bool),
                existing_distance=np.full(inst.n, np.inf),
            )
        )
    return MultiServiceInstance(
        demand_ids=inst.demand_ids,
        site_ids=inst.site_ids,
        room=np.array([1.0, 2.0, 1.0, 1.0]),
        services=tuple(services),
        total_budget=6.0,
        phases=("t0",),
    )


FORMULATIONS: dict[str, Callable[[], MilpProblem]] = {
    "mclp": lambda: mclp(tiny(), 4.0, p=1),
    "mclp_budget": lambda: mclp(tiny(), 4.0, budget=5.0),
    "lscp_cost": lambda: lscp(tiny(), 4.0, objective="cost"),
    "lscp_count": lambda: lscp(tiny(), 4.0, objective="count"),
    "pmedian_classic": lambda: pmedian_classic(tiny(), p=2),
    "pmedian_radius": lambda: pmedian_radius(tiny(), p=2),
    "pmedian_capacitated": lambda: pmedian_capacitated(tiny(), p=2),
    "joint": lambda: joint_milp(tiny_joint(), "max_coverage")[0],
}


@pytest.mark.parametrize("name", FORMULATIONS)
def test_formulation_matches_its_golden_lp(name: str) -> None:
    text = to_lp(FORMULATIONS[name]())
    path = GOLDEN / f"{name}.lp"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"{path} is missing: run SITING_UPDATE_GOLDEN=1 python -m pytest tests/models/test_golden_lp.py")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), text.splitlines(keepends=True), f"golden/{name}.lp", "now"
            )
        )
        pytest.fail(
            f"formulation {name} changed against tests/models/golden/{name}.lp; if the change is meant, rerun with "
            f"SITING_UPDATE_GOLDEN=1 and review the diff:\n{diff}"
        )


@pytest.mark.parametrize("name", FORMULATIONS)
def test_the_lp_file_solves_to_the_problems_optimum(name: str, tmp_path: Path) -> None:
    """HiGHS reads the LP text and finds the optimum the MilpProblem has (offset added back)."""
    highspy = pytest.importorskip("highspy")
    problem = FORMULATIONS[name]()
    direct = get_backend("highs").solve(problem, SolveParams(mip_gap=0.0))
    assert direct.status == Status.OPTIMAL and direct.objective is not None
    path = tmp_path / f"{name}.lp"
    path.write_text(to_lp(problem), encoding="utf-8")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value + problem.offset == pytest.approx(direct.objective, abs=1e-6)


def test_the_writer_spells_every_kind_of_row_and_bound() -> None:
    """A hand-made MILP with each case: equality, ranged, one-sided and free rows; free, bounded and
    half-bounded columns; an empty row; an offset."""
    problem = MilpProblem(
        c=np.array([1.0, -2.0, 0.5, 0.0]),
        A=sp.csc_array(np.array([[1.0, 1.0, 0, 0], [0, -1.0, 3.0, 0], [2.0, 0, 0, 1.0], [0, 0, 0, 0], [1.0, 0, 0, 0]])),
        row_lower=np.array([2.0, -1.0, -np.inf, 0.0, -np.inf]),
        row_upper=np.array([2.0, 4.0, 5.0, np.inf, np.inf]),
        col_lower=np.array([0.0, -np.inf, 1.0, -np.inf]),
        col_upper=np.array([1.0, np.inf, np.inf, 3.0]),
        integrality=np.array([True, False, False, True]),
        sense="max",
        offset=7.0,
        blocks={"y": (0, 2)},
        name="hand-made",
    )
    assert column_names(problem) == ["y_0", "y_1", "v2", "v3"]
    text = to_lp(problem)
    lines = text.splitlines()
    assert lines[:4] == ["\\ hand-made", "\\ objective offset: 7", "Maximize", " obj: y_0 - 2 y_1 + 0.5 v2"]
    assert " r0: y_0 + y_1 = 2" in lines
    assert " r1_lo: -y_1 + 3 v2 >= -1" in lines and " r1_hi: -y_1 + 3 v2 <= 4" in lines
    assert " r2: 2 y_0 + v3 <= 5" in lines
    assert " r3: 0 y_0 >= 0" in lines
    assert not any(line.startswith(" r4") for line in lines)  # no finite bound: constrains nothing
    assert [" 0 <= y_0 <= 1", " y_1 free", " v2 >= 1", " -inf <= v3 <= 3"] == lines[
        lines.index("Bounds") + 1 : lines.index("Bounds") + 5
    ]
    assert lines[-3:] == ["Generals", " y_0 v3", "End"]
    assert to_lp(problem) == text  # deterministic


@pytest.mark.parametrize("value, text", [(3.0, "3"), (-0.5, "-0.5"), (0.1, "0.1"), (1e20, "1e+20"), (np.inf, "inf")])
def test_numbers_read_back_to_the_same_float(value: float, text: str) -> None:
    assert number(value) == text
    assert float(number(value)) == value
