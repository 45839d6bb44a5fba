"""Researchers' rough edges: JSON records on every outcome, new vs existing sites, options that do
not apply to a model, the same tie-break on every exact solver, ``--p 0`` baselines, lon/lat
input, ``--quiet`` keeping warnings, the binding cause of an infeasible min_cost plan, and the
"checks passed" line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from oracles import brute_optimum
from paths import REPO
from typer.testing import CliRunner

from siting.cli import _progress_for, app
from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.instance import SitingInstance
from siting.models.multiservice import MultiServiceInstance, ServiceData
from siting.optimizer.joint import solve_joint
from siting.optimizer.registry import installed_backends
from siting.optimizer.result import SolveParams
from siting.optimizer.solve import OPTION_MODELS, ModelSpec, solve
from siting.scenarios.pipeline.summary import failed_checks

ROOT = REPO
TINY = ROOT / "tests" / "data" / "scenarios" / "tiny"
EXACT = [b.name for b in installed_backends() if ":" not in b.name]
PARAMS = SolveParams(mip_gap=0.0)

runner = CliRunner()


def run(*args: Any):
    return runner.invoke(app, [str(a) for a in args])


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """Three demand points, four sites (one existing) on a line; distances in metres."""
    return (
        write(tmp_path, "demand.csv", "id,x,y,weight\nd1,0,0,10\nd2,100,0,5\nd3,5000,0,7\n"),
        write(tmp_path, "sites.csv", "id,x,y,cost,existing\na,0,0,3,0\nb,50,0,1,0\nc,100,0,2,0\ne,5000,0,0,1\n"),
    )


def solve_args(small: tuple[Path, Path], *extra: Any) -> list[Any]:
    return ["solve", "--demand", small[0], "--sites", small[1], *extra]


def one_error_line(result: Any, code: int, match: str) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], result.stderr
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------------- --json records
def test_json_record_on_success_lists_new_and_existing_sites_apart(small: tuple[Path, Path]) -> None:
    result = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", 1, "--json", "--quiet"))
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)
    assert rec["status"] == "OPTIMAL" and rec["exit_code"] == 0
    assert set(rec["open_site_ids"]) == set(rec["new_site_ids"]) | set(rec["existing_site_ids"])
    assert rec["existing_site_ids"] == ["e"] and len(rec["new_site_ids"]) == 1
    assert not set(rec["new_site_ids"]) & set(rec["existing_site_ids"])
    text = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", 1, "--quiet"))
    assert f"new sites   1: {rec['new_site_ids'][0]}" in text.stdout
    assert "existing    1 open: e" in text.stdout


@pytest.mark.parametrize(
    ("extra", "code", "status", "match"),
    [
        (["--model", "pmedian", "--budget", 0.5], 3, "INFEASIBLE", "is infeasible"),
        (["--model", "pcenter", "--p", 1, "--capacitated"], 2, "ERROR", "--capacitated does not apply"),
        (["--model", "mclp", "--radius", -1, "--p", 1], 1, "ERROR", "radius = -1.0 must be a positive number"),
        (["--model", "mclp", "--radius", 200, "--p", 1, "--solver", "hihgs"], 1, "ERROR", "unknown solver 'hihgs'"),
    ],
    ids=["infeasible", "inapplicable-option", "bad-value", "unknown-solver"],
)
def test_json_record_on_every_failure(
    small: tuple[Path, Path], tmp_path: Path, extra: list[Any], code: int, status: str, match: str
) -> None:
    if status == "INFEASIBLE":  # no existing site: a budget below every cost leaves d1..d3 unserved
        small = (small[0], write(tmp_path, "new_only.csv", "id,x,y,cost\na,0,0,3\nb,50,0,1\n"))
    result = run(*solve_args(small, *extra, "--json", "--quiet"))
    one_error_line(result, code, match)
    rec = json.loads(result.stdout)
    assert rec["status"] == status and rec["exit_code"] == code and match in rec["message"]
    assert rec["objective"] is None and rec["new_site_ids"] == []


def test_json_record_when_the_options_do_not_parse(small: tuple[Path, Path]) -> None:
    result = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", "one", "--json"))
    assert result.exit_code == 2
    rec = json.loads(result.stdout)
    assert rec["status"] == "ERROR" and rec["exit_code"] == 2 and "--p" in rec["message"]
    assert "Traceback" not in result.output


def test_json_record_for_a_missing_file(small: tuple[Path, Path], tmp_path: Path) -> None:
    result = run(
        "solve", "--demand", tmp_path / "nope.csv", "--sites", small[1], "--model", "pcenter", "--p", 1, "--json"
    )
    one_error_line(result, 1, "demand file not found")
    assert json.loads(result.stdout)["exit_code"] == 1


# -------------------------------------------------------------- options that do not fit the model
CASES = [
    (["--model", "pcenter", "--p", 1, "--capacitated"], "--capacitated does not apply to model pcenter"),
    (["--model", "pmedian", "--p", 1, "--radius", 200], "--radius does not apply to model pmedian"),
    (["--model", "pcenter", "--p", 1, "--radius", 200], "--radius does not apply to model pcenter"),
    (["--model", "pcenter", "--p", 1, "--budget", 5], "--budget does not apply to model pcenter"),
    (["--model", "lscp", "--radius", 200, "--budget", 5], "--budget does not apply to model lscp"),
    (["--model", "lscp", "--radius", 200, "--p", 1], "--p does not apply to model lscp"),
    (
        ["--model", "mclp", "--radius", 200, "--p", 1, "--objective", "count"],
        "--objective does not apply to model mclp",
    ),
    (
        ["--model", "mclp", "--radius", 200, "--p", 1, "--formulation", "radius"],
        "--formulation radius is a p-median formulation; mclp takes auto, compact, reduced or benders",
    ),
    (["--model", "pmedian", "--p", 1, "--allow-split"], "--allow-split applies to the capacitated p-median only"),
    (
        ["--model", "pmedian", "--p", 1, "--capacitated", "--formulation", "classic"],
        "does not apply to the capacitated",
    ),
    (
        ["--model", "pmedian", "--budget", 5, "--formulation", "benders"],
        "--formulation benders takes --p, not --budget",
    ),
    (
        ["--model", "pmedian", "--p", 1, "--formulation", "radius", "--solver", "greedy"],
        "not to the heuristic 'greedy'",
    ),
]


@pytest.mark.parametrize(("extra", "match"), CASES, ids=[f"{c[0][1]}-{c[0][-1]}" for c in CASES])
def test_an_option_the_model_cannot_honour_is_a_usage_error(
    small: tuple[Path, Path], extra: list[Any], match: str
) -> None:
    one_error_line(run(*solve_args(small, *extra)), 2, match)


def test_every_option_model_pair_is_either_used_or_refused(small: tuple[Path, Path]) -> None:
    """The library refuses the same pairs (API users cannot slip an ignored option through either)."""
    inst = _line_instance()
    values = {
        "p": 1,
        "radius": 200.0,
        "budget": 5.0,
        "capacitated": True,
        "allow_split": True,
        "lscp_objective": "count",
        "formulation": "radius",
    }
    for model in ("mclp", "lscp", "pmedian", "pcenter"):
        for option, value in values.items():
            key = "objective" if option == "lscp_objective" else option
            if model in OPTION_MODELS[key]:
                continue
            spec = ModelSpec(model=model, **{option: value})  # type: ignore[arg-type]
            with pytest.raises(ScenarioError, match="does not apply"):
                solve(inst, spec)


# ------------------------------------------------------------------------------------ --p 0
def test_p_zero_is_the_existing_network_baseline(small: tuple[Path, Path]) -> None:
    result = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", 0, "--json", "--quiet"))
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)
    assert rec["new_site_ids"] == [] and rec["existing_site_ids"] == ["e"]
    assert rec["objective"] == 7.0  # only d3 (weight 7) stands within 200 m of the existing site e
    text = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", 0, "--quiet"))
    assert "nothing to build" in text.stdout
    one_error_line(
        run(*solve_args(small, "--model", "pmedian", "--p", 0)),
        1,
        "--p 0, the existing network alone, is for --model mclp",
    )


# --------------------------------------------------------------------------------- tie-break
def _line_instance(seed: int = 0, n: int = 14, m: int = 8, existing: bool = False) -> SitingInstance:
    """Seeded points on a 1 km square, integer weights and distinct integer costs (many coverage ties)."""
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 1000, size=(n, 2)).astype(float)
    s = rng.integers(0, 1000, size=(m, 2)).astype(float)
    dist = np.sqrt(((d[:, None, :] - s[None, :, :]) ** 2).sum(-1)).astype(np.float32)
    ex = np.zeros(m, dtype=bool)
    ex[0] = existing
    return SitingInstance(
        distances=dist,
        weights=rng.integers(1, 4, size=n).astype(float),
        cost=rng.permutation(m).astype(float) + 1,
        existing=ex,
        demand_ids=np.arange(n),
        site_ids=np.arange(m),
    )


SPECS = [
    ModelSpec("mclp", radius=250.0, p=4),
    ModelSpec("mclp", radius=300.0, budget=9.0),
    ModelSpec("lscp", radius=450.0, lscp_objective="count"),
    ModelSpec("pcenter", p=3),
    ModelSpec("pmedian", p=3, formulation="radius"),
]


@pytest.mark.parametrize("solver", EXACT)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.model}-{s.p}-{s.budget}-{s.lscp_objective}")
def test_every_exact_solver_returns_the_cheapest_optimal_plan(solver: str, spec: ModelSpec) -> None:
    inst = _line_instance(seed=3)
    best = brute_optimum(
        inst,
        spec.model,
        p=spec.p,
        budget=spec.budget,
        radius=spec.radius,
        lscp_objective=spec.lscp_objective,
        exact_p=True,
        rel=1e-6,
    )
    value, cost = best.value, best.cost
    res = solve(inst, spec, solver=solver, params=PARAMS)
    assert res.status.value == "OPTIMAL"
    assert res.objective == pytest.approx(value, rel=1e-6, abs=1e-6)
    assert res.metrics is not None and res.metrics.cost == pytest.approx(cost), res.stats.get("tie_break")


def test_tie_break_keeps_a_useless_site_closed_on_every_solver() -> None:
    """Two sites cover the same demand and p = 2: the second site adds nothing and must stay closed."""
    dist = np.array([[0.0, 10.0], [5.0, 5.0]], dtype=np.float32)
    inst = SitingInstance(
        distances=dist, weights=np.array([3.0, 2.0]), demand_ids=np.arange(2), site_ids=np.array(["a", "b"])
    )
    for solver in EXACT:
        res = solve(inst, ModelSpec("mclp", radius=20.0, p=2), solver=solver, params=PARAMS)
        assert res.objective == 5.0 and len(res.new_site_ids) == 1, (solver, res.new_site_ids)
        assert res.stats["tie_break"]["cost_before"] >= res.stats["tie_break"]["cost_after"]


def test_tie_break_respects_the_time_limit() -> None:
    """With no time left after the first stage the second stage is skipped, never overrun.

    The shared budget runs on a fake clock that jumps past the deadline as soon as the first
    stage has returned; the same solve with time to spare does run its tie-break (the control).
    """
    from siting.optimizer.deadline import Deadline

    inst = _line_instance(seed=5)
    spec = ModelSpec("mclp", radius=250.0, p=4)
    control = solve(inst, spec, params=SolveParams(mip_gap=0.0, time_limit=60.0))
    assert control.stats["tie_break"]["status"] != "skipped"

    now = [0.0]
    from siting.optimizer import tiebreak

    real = tiebreak.cheapest_stage

    def late(*args: Any, **kwargs: Any) -> Any:
        now[0] = 1e6  # the first stage has used the whole budget
        return real(*args, **kwargs)

    params = SolveParams(mip_gap=0.0, time_limit=60.0, deadline=Deadline.after(60.0, clock=lambda: now[0]))
    tiebreak.cheapest_stage = late
    try:
        res = solve(inst, spec, params=params)
    finally:
        tiebreak.cheapest_stage = real
    rec = res.stats["tie_break"]
    assert rec["status"] == "skipped" and rec["message"] == "time limit reached"
    assert res.verified and res.objective == control.objective


# ------------------------------------------------------------------------------------ lon/lat
def test_lon_lat_columns_are_projected_to_utm(tmp_path: Path) -> None:
    """Helsinki: 0.01 degree of latitude is 1,113 m; of longitude at 60.17 N about 555 m."""
    demand = write(tmp_path, "d.csv", "id,lon,lat,weight\n1,24.94,60.17,1\n2,24.95,60.17,1\n3,24.94,60.18,1\n")
    sites = write(tmp_path, "s.csv", "id,lon,lat\nA,24.94,60.17\n")
    from siting.scenarios.research.readers import read_csv_instance

    inst = read_csv_instance(demand, sites)
    d = np.asarray(inst.distances).ravel()
    assert d[0] == pytest.approx(0.0, abs=1e-3)
    assert d[1] == pytest.approx(555.0, rel=0.01)
    assert d[2] == pytest.approx(1113.0, rel=0.01)
    # the same points given in CGCS2000 (a geographic CRS within a metre of WGS-84 here)
    inst2 = read_csv_instance(demand, sites, input_crs="EPSG:4490")
    np.testing.assert_allclose(np.asarray(inst2.distances).ravel(), d, atol=2.0)


@pytest.mark.parametrize(
    ("sites", "extra", "code", "match"),
    [
        ("id,lon,lat\nA,24.94,160.17\n", [], 1, "lat in [-90, 90] degrees; bad at id(s) A (24.94, 160.17)"),
        ("id,x,y\nA,0,0\n", [], 1, "d.csv gives lon, lat but s.csv gives x, y"),
        ("id,lon,lat\nA,24.94,60.17\n", ["--input-crs", "EPSG:3067"], 1, "is a projected CRS"),
        ("id,lon,lat\nA,24.94,60.17\n", ["--input-crs", "nonsense"], 1, "is not a coordinate reference system"),
    ],
    ids=["out-of-range", "mixed", "projected-crs", "unknown-crs"],
)
def test_lon_lat_errors(tmp_path: Path, sites: str, extra: list[str], code: int, match: str) -> None:
    demand = write(tmp_path, "d.csv", "id,lon,lat\n1,24.94,60.17\n")
    s = write(tmp_path, "s.csv", sites)
    result = run("solve", "--demand", demand, "--sites", s, "--model", "pcenter", "--p", 1, *extra)
    one_error_line(result, code, match)


def test_lon_lat_from_the_command_line(tmp_path: Path) -> None:
    demand = write(tmp_path, "d.csv", "id,lon,lat,weight\n1,24.94,60.17,1\n2,24.95,60.17,1\n3,24.94,60.18,1\n")
    sites = write(tmp_path, "s.csv", "id,lon,lat\nA,24.94,60.17\nB,24.95,60.175\n")
    result = run("solve", "--demand", demand, "--sites", sites, "--model", "mclp", "--radius", 600, "--p", 1, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["objective"] == 2.0  # A reaches 1 (0 m) and 2 (555 m), not 3 (1,113 m)


# ------------------------------------------------------------------------- --quiet and notes
def test_quiet_hides_progress_but_not_notes(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _progress_for(True)
    with progress.step("reading layers"):
        pass
    progress.note("3 demand points lie outside the street network")
    err = capsys.readouterr().err
    assert "note: 3 demand points lie outside the street network" in err and "reading layers" not in err


def test_solve_quiet_prints_nothing_on_stderr(small: tuple[Path, Path]) -> None:
    loud = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", 1))
    quiet = run(*solve_args(small, "--model", "mclp", "--radius", 200, "--p", 1, "--quiet"))
    assert "MCLP:" in loud.stderr and quiet.stderr == ""


def test_a_run_that_builds_nothing_says_so_and_keeps_warnings_when_quiet(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    yaml = folder / "scenario.yaml"
    text = yaml.read_text(encoding="utf-8").replace(
        "  total: 6000000\n  per_service: {elderly_care: 2500000}\n", "  total: 0\n"
    )
    yaml.write_text(text, encoding="utf-8")
    result = run("run", yaml, "--scenario", "euclidean", "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    assert "nothing to build: the plan opens no new facility" in result.stdout
    assert "more than budget.total 0" in result.stderr  # the warning survives --quiet


# ------------------------------------------------------------------------------ checks passed
def test_checks_passed_only_when_every_check_passed() -> None:
    good = {
        "checks": {"budget_total": {"ok": True}, "counts": {"a": {"ok": True}}, "all_ok": True},
        "solve": {"verified": True},
        "services": {"a": {"solve": {"verified": True}}},
    }
    assert failed_checks(good) == []
    bad = json.loads(json.dumps(good))
    bad["checks"]["counts"]["a"]["ok"] = False  # all_ok left True: the line must not trust it
    assert failed_checks(bad) == ["checks.counts.a"]
    bad2 = json.loads(json.dumps(good))
    bad2["checks"]["budget_per_phase"] = [{"phase": "2023", "ok": False}]
    bad2["services"]["a"]["solve"]["verified"] = False
    assert failed_checks(bad2) == ["checks.budget_per_phase[2023]", "services.a.solve.verified"]


# ------------------------------------------------------------------- min_cost infeasibility
def _two_plots(
    *, budget: float | None = None, max_sites: int | None = None, room: float = 10.0, two_services: bool = False
) -> MultiServiceInstance:
    """Two demand points, each reached by one plot only (cost 3 each); full coverage needs both plots."""

    def svc(name: str) -> ServiceData:
        return ServiceData(
            name=name,
            weights=np.array([1.0, 1.0]),
            coverage=sp.csr_array(np.eye(2, dtype=bool)),
            distances=sp.csr_array(np.eye(2)),
            cost=np.array([3.0, 3.0]),
            eligible=np.array([True, True]),
            area=1.0,
            existing_covered=np.zeros(2, dtype=bool),
            existing_distance=np.full(2, np.inf),
            max_sites=max_sites,
        )

    services = (svc("care"), svc("kids")) if two_services else (svc("care"),)
    return MultiServiceInstance(
        demand_ids=np.arange(2),
        site_ids=np.array(["a", "b"]),
        room=np.full(2, room),
        services=services,
        total_budget=budget,
    )


@pytest.mark.parametrize(
    ("inst", "match"),
    [
        (
            _two_plots(budget=5.0),
            r"binding: the budget \(covering every coverable demand point costs at least 6 .*budget\.total is 5\).*raise the budget",
        ),
        (_two_plots(max_sites=1), r"binding: the count limits: care \(min 0, max 1\).*relax min_sites / max_sites"),
        (_two_plots(room=1.5, two_services=True), r"binding: the plots' room.*add plots or lower the services' area"),
    ],
    ids=["budget", "count", "room"],
)
def test_min_cost_infeasibility_names_the_binding_cause(inst: MultiServiceInstance, match: str) -> None:
    with pytest.raises(InfeasibleError, match=match):
        solve_joint(inst, "min_cost", params=PARAMS)
