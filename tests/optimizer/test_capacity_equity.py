"""Capacitated coverage (MCLP split / unsplit, LSCP) against brute force, on every exact backend.

Instances are tiny (n <= 5 demand points, m <= 4 sites, integer distances, some unreachable pairs,
integer weights and capacities, some unlimited), drawn from seeds hypothesis generates
deterministically. The oracle enumerates every plan (``tests/oracles.all_plans``) and, per plan,
the best assignment: unsplit by trying every choice of serving site (or none) for every point,
split by a dense LP written from the definition (``scipy.optimize.linprog``; both in
``tests/oracles.best_served_load``), so it shares no
code with the formulation. Every solve is also re-checked by the capacity evaluator.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from oracles import best_served_load
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.evaluate_capacity import evaluate_capacity
from siting.models.instance import SitingInstance
from siting.optimizer.registry import installed_backends
from siting.optimizer.result import SolveParams
from siting.optimizer.solve import ModelSpec, solve
from tests.oracles import all_plans

RADIUS = 6.0
PARAMS = SolveParams(mip_gap=0.0)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
FEW = settings(max_examples=12, deadline=None, derandomize=True)
BACKENDS = [b.name for b in installed_backends() if not b.name.startswith("pulp:")]


def random_instance(seed: int) -> SitingInstance:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    d = rng.integers(0, 12, size=(n, m)).astype(float)
    d[rng.random((n, m)) < 0.2] = np.inf
    cap = rng.integers(0, 10, size=m).astype(float)
    cap[rng.random(m) < 0.25] = np.inf
    existing = rng.random(m) < 0.2
    forbidden = ~existing & (rng.random(m) < 0.15)
    return SitingInstance(
        d,
        weights=rng.integers(0, 6, size=n).astype(float),
        cost=rng.integers(1, 5, size=m).astype(float),
        capacity=cap,
        existing=existing,
        forbidden=forbidden,
    )


def reach(inst: SitingInstance, mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(n, m) True where open site j may serve point i (within the radius, weight > 0)."""
    d = inst.dense_distances()
    return (d <= RADIUS) & mask[None, :] & (inst.weights[:, None] > 0)


def best_served(inst: SitingInstance, mask: NDArray[np.bool_], split: bool) -> float:
    """Most weight the open sites ``mask`` can serve within the radius and the capacities."""
    return best_served_load(inst, reach(inst, mask), split)[0]


def oracle_mclp(inst: SitingInstance, p: int, split: bool) -> float:
    return max(best_served(inst, mask, split) for mask in all_plans(inst) if (mask & ~inst.existing).sum() <= p)


def oracle_lscp(inst: SitingInstance, split: bool) -> float | None:
    """Least cost of new sites serving every coverable point; None if no plan can."""
    coverable = reach(inst, inst.eligible).any(axis=1)
    need = float(inst.weights[coverable].sum())
    costs = [
        float(inst.cost[mask & ~inst.existing].sum())
        for mask in all_plans(inst)
        if best_served(inst, mask, split) >= need - 1e-9
    ]
    return min(costs) if costs else None


def has_capacity(inst: SitingInstance) -> bool:
    return bool(np.isfinite(inst.capacity[inst.eligible]).any()) and bool(reach(inst, inst.eligible).any())


def backends_for(split: bool) -> list[str]:
    return [b for b in BACKENDS if not (split and b == "cpsat")]


def check_plan(inst: SitingInstance, r: object, split: bool, require_all: bool) -> None:
    """The capacity evaluator, run again here, agrees with the result and finds nothing wrong."""
    assert r.verified, r.message  # type: ignore[attr-defined]
    cap = r.capacity  # type: ignore[attr-defined]
    assert cap is not None and not cap.violations
    a = np.zeros((inst.n, inst.m))
    a[np.flatnonzero(cap.served_by >= 0), cap.served_by[cap.served_by >= 0]] = 1.0
    if not split:  # unsplit: the served-by table is the whole assignment
        again = evaluate_capacity(inst, r.open_sites, a, RADIUS, require_all=require_all)  # type: ignore[attr-defined]
        assert not again.violations and again.served_weight == pytest.approx(cap.served_weight)


# ------------------------------------------------------------------------------- brute force
@pytest.mark.parametrize("split", [False, True], ids=["unsplit", "split"])
@FEW
@given(seed=SEEDS)
def test_capacitated_mclp_equals_brute_force_on_every_backend(split: bool, seed: int) -> None:
    inst = random_instance(seed)
    if not has_capacity(inst):
        return
    n_new = int((inst.eligible & ~inst.existing).sum())
    p = int(np.random.default_rng(seed).integers(0, n_new + 1))
    want = oracle_mclp(inst, p, split)
    for name in backends_for(split):
        r = solve(inst, ModelSpec("mclp", radius=RADIUS, p=p, capacitated=True, allow_split=split), name, PARAMS)
        assert r.objective == pytest.approx(want, abs=1e-6), (name, seed)
        check_plan(inst, r, split, require_all=False)


@pytest.mark.parametrize("split", [False, True], ids=["unsplit", "split"])
@FEW
@given(seed=SEEDS)
def test_capacitated_lscp_equals_brute_force_on_every_backend(split: bool, seed: int) -> None:
    inst = random_instance(seed)
    if not has_capacity(inst):
        return
    want = oracle_lscp(inst, split)
    for name in backends_for(split):
        spec = ModelSpec("lscp", radius=RADIUS, capacitated=True, allow_split=split)
        if want is None:
            with pytest.raises(InfeasibleError, match="capacitated lscp is infeasible"):
                solve(inst, spec, name, PARAMS)
            continue
        r = solve(inst, spec, name, PARAMS)
        assert r.objective == pytest.approx(want, abs=1e-6), (name, seed)
        check_plan(inst, r, split, require_all=True)


def test_capacity_binds_where_plain_coverage_would_not() -> None:
    """Two points of weight 3 next to one site of capacity 4: coverage 6, service 3 (unsplit) or 4 (split)."""
    inst = SitingInstance(np.array([[1.0], [1.0]]), weights=[3, 3], capacity=[4])
    plain = solve(inst, ModelSpec("mclp", radius=RADIUS, p=1), "highs", PARAMS)
    unsplit = solve(inst, ModelSpec("mclp", radius=RADIUS, p=1, capacitated=True), "highs", PARAMS)
    split = solve(inst, ModelSpec("mclp", radius=RADIUS, p=1, capacitated=True, allow_split=True), "highs", PARAMS)
    assert (plain.objective, unsplit.objective, split.objective) == (6.0, 3.0, 4.0)
    assert unsplit.capacity.covered_unserved_weight == 3.0 and split.capacity.covered_unserved_weight == 2.0
    assert unsplit.capacity.utilisation[0] == pytest.approx(0.75)


def test_evaluator_flags_every_broken_rule() -> None:
    inst = SitingInstance(np.array([[1.0, 9.0], [1.0, 1.0]]), weights=[3, 3], capacity=[4, 2])
    a = np.array([[0.5, 0.5], [1.0, 1.0]])
    out = evaluate_capacity(inst, np.array([True, False]), a, RADIUS)
    text = "; ".join(out.violations)
    for phrase in (
        "beyond the radius",
        "closed sites 1",
        "served more than once",
        "capacity exceeded at sites 0",
        "split",
    ):
        assert phrase in text


def test_capacitated_without_capacities_is_refused() -> None:
    inst = SitingInstance(np.array([[1.0]]), weights=[1])
    with pytest.raises(ScenarioError, match="needs site capacities"):
        solve(inst, ModelSpec("mclp", radius=RADIUS, p=1, capacitated=True), "highs")


# ------------------------------------------------------------------------------------ the CLI
def _files(tmp_path: Path, caps: str) -> list[str]:
    demand = tmp_path / "demand.csv"
    sites = tmp_path / "sites.csv"
    demand.write_text("id,x,y,weight\na,0,0,3\nb,10,0,2\nc,20,0,4\nd,30,0,5\n", encoding="utf-8")
    rows = "".join(f"s{k + 1},{x},0,1,{c}\n" for k, (x, c) in enumerate(zip((5, 15, 30), caps.split(","))))
    sites.write_text("id,x,y,cost,capacity\n" + rows, encoding="utf-8")
    return ["solve", "--demand", str(demand), "--sites", str(sites), "--radius", "12", "--quiet"]


def test_cli_capacitated_mclp_reports_utilisation(tmp_path: Path) -> None:
    args = _files(tmp_path, "4,5,")
    res = CliRunner().invoke(app, [*args, "--model", "mclp", "--p", "2", "--capacitated", "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    cap = rec["capacity"]
    assert rec["objective"] == cap["served_weight"] == 12.0  # s1 serves a (b has no room), s3 serves c and d
    assert cap["covered_unserved_weight"] == 2.0
    assert {f["site_id"]: f["load"] for f in cap["facilities"]} == {"s1": 3.0, "s3": 9.0}
    assert {s["demand_id"]: s["site_id"] for s in cap["served_by"]} == {"a": "s1", "c": "s3", "d": "s3"}
    text = CliRunner().invoke(app, [*args, "--model", "mclp", "--p", "2", "--capacitated"])
    assert "facility    s1: load 3 of 4 (75 % used)" in text.stdout


def test_cli_infeasible_capacities_exit_3_with_names(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [*_files(tmp_path, "4,5,3"), "--model", "lscp", "--capacitated"])
    assert res.exit_code == 3
    err = res.stderr.strip()
    assert err.startswith("error: capacitated lscp is infeasible") and len(err.splitlines()) == 1
    assert "larger than any facility within reach (unsplit): d" in err and "s3 (0 / 3)" in err


@pytest.mark.parametrize(
    ("extra", "code", "match"),
    [
        (["--model", "mclp", "--p", "1", "--allow-split"], 2, "--allow-split applies to the capacitated mclp only"),
        (["--model", "lscp", "--capacitated", "--formulation", "reduced"], 2, "does not apply to the capacitated lscp"),
        (["--model", "mclp", "--p", "1", "--capacitated", "--allow-split", "--solver", "cpsat"], 1, "CP-SAT"),
        (["--model", "mclp", "--p", "1", "--capacitated", "--solver", "greedy"], 1, "use an exact solver"),
    ],
    ids=["split-without-capacity", "formulation", "cpsat-split", "heuristic"],
)
def test_cli_capacity_options_that_cannot_be_honoured(tmp_path: Path, extra: list[str], code: int, match: str) -> None:
    res = CliRunner().invoke(app, [*_files(tmp_path, "4,5,"), *extra])
    assert res.exit_code == code, res.output
    assert match in res.stderr


# ------------------------------------------------------------------------------------- equity
def grouped_instance(seed: int) -> SitingInstance:
    """A random instance whose demand points fall into up to three groups."""
    base = random_instance(seed)
    rng = np.random.default_rng(seed + 1)
    groups = rng.choice(np.array(["east", "north", "south"]), size=base.n)
    return SitingInstance(
        base.distances,
        weights=base.weights,
        cost=base.cost,
        existing=base.existing,
        forbidden=base.forbidden,
        groups=groups,
    )


def plan_shares(inst: SitingInstance, mask: NDArray[np.bool_]) -> tuple[float, dict[str, float]]:
    """Covered weight and each group's covered share, counted from the definition."""
    cov = ((inst.dense_distances() <= RADIUS) & mask[None, :]).any(axis=1)
    shares = {}
    for g in np.unique(inst.groups):
        wg = inst.weights[inst.groups == g]
        shares[str(g)] = float(wg[cov[inst.groups == g]].sum() / wg.sum()) if wg.sum() > 0 else 1.0
    return float(inst.weights[cov].sum()), shares


def limited_plans(inst: SitingInstance, p: int) -> list[NDArray[np.bool_]]:
    return [mask for mask in all_plans(inst) if (mask & ~inst.existing).sum() <= p]


def reachable_somewhere(inst: SitingInstance) -> bool:
    return bool(((inst.dense_distances() <= RADIUS) & inst.eligible[None, :]).any())


@FEW
@given(seed=SEEDS)
def test_equity_floor_equals_brute_force_on_every_backend(seed: int) -> None:
    inst = grouped_instance(seed)
    if not reachable_somewhere(inst):
        return
    rng = np.random.default_rng(seed + 2)
    n_new = int((inst.eligible & ~inst.existing).sum())
    p = int(rng.integers(0, n_new + 1))
    share = float(rng.choice([0.2, 0.4, 0.5, 0.75]))
    scored = [plan_shares(inst, mask) for mask in limited_plans(inst, p)]
    ok = [cov for cov, sh in scored if min(sh.values()) >= share - 1e-9]
    for name in BACKENDS:
        spec = ModelSpec("mclp", radius=RADIUS, p=p, min_group_share=share)
        if not ok:
            with pytest.raises(InfeasibleError, match="is infeasible") as err:
                solve(inst, spec, name, PARAMS)
            # the best share each group reaches alone, by brute force, is in the message
            for g in np.unique(inst.groups):
                best = max(sh[str(g)] for _, sh in scored)
                assert f"{g} {100 * best:.1f} %" in str(err.value)
            continue
        r = solve(inst, spec, name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(max(ok), abs=1e-6), (name, seed)
        eq = r.stats["equity"]
        assert min(g["share_after"] for g in eq["groups"]) >= share - 1e-9
        unconstrained = max(cov for cov, _ in scored)
        assert eq["floor_cost"] == pytest.approx(unconstrained - max(ok), abs=1e-6)


@FEW
@given(seed=SEEDS)
def test_max_min_share_equals_brute_force_on_every_backend(seed: int) -> None:
    inst = grouped_instance(seed)
    if not reachable_somewhere(inst):
        return
    n_new = int((inst.eligible & ~inst.existing).sum())
    p = int(np.random.default_rng(seed + 3).integers(0, n_new + 1))
    scored = [plan_shares(inst, mask) for mask in limited_plans(inst, p)]
    worst = max(min(sh.values()) for _, sh in scored)
    best_cov = max(cov for cov, sh in scored if min(sh.values()) >= worst - 1e-9)
    for name in [b for b in BACKENDS if b != "cpsat"]:
        r = solve(inst, ModelSpec("mclp", radius=RADIUS, p=p, maxmin_groups=True), name, PARAMS)
        assert r.verified, r.message
        assert r.stats["equity"]["worst_share_after"] == pytest.approx(worst, abs=1e-7), (name, seed)
        assert r.objective == pytest.approx(best_cov, abs=1e-6), (name, seed)


def test_equity_needs_groups_and_one_objective() -> None:
    inst = SitingInstance(np.array([[1.0]]), weights=[1])
    with pytest.raises(Exception, match="no demand groups"):
        solve(inst, ModelSpec("mclp", radius=RADIUS, p=1, min_group_share=0.5), "highs")
    grouped = SitingInstance(np.array([[1.0]]), weights=[1], groups=["a"])
    with pytest.raises(ScenarioError, match="give one of them"):
        solve(grouped, ModelSpec("mclp", radius=RADIUS, p=1, min_group_share=0.5, maxmin_groups=True), "highs")
    with pytest.raises(ScenarioError, match="CP-SAT"):
        solve(grouped, ModelSpec("mclp", radius=RADIUS, p=1, maxmin_groups=True), "cpsat")


def test_cli_floor_infeasible_names_groups_and_reports_shares(tmp_path: Path) -> None:
    demand = tmp_path / "demand.csv"
    sites = tmp_path / "sites.csv"
    demand.write_text(
        "id,x,y,weight,group\na,0,0,3,north\nb,10,0,2,north\nc,20,0,4,south\nd,30,0,5,south\ne,60,0,2,east\n",
        encoding="utf-8",
    )
    sites.write_text("id,x,y\ns1,5,0\ns2,15,0\ns3,30,0\ns4,60,0\n", encoding="utf-8")
    args = ["solve", "--demand", str(demand), "--sites", str(sites), "--model", "mclp", "--radius", "12", "--quiet"]
    res = CliRunner().invoke(app, [*args, "--p", "2", "--min-group-share", "0.5"])
    assert res.exit_code == 3 and "east 100.0 %, north 100.0 %, south 100.0 %" in res.stderr
    far = tmp_path / "far.csv"  # one more group, 140 beyond the last site: no plan reaches it
    far.write_text(demand.read_text(encoding="utf-8") + "f,200,0,1,west\n", encoding="utf-8")
    res = CliRunner().invoke(app, [*args, "--p", "2", "--min-group-share", "0.5", "--demand", str(far)])
    assert res.exit_code == 3 and "groups west cannot reach it even if the plan served them alone" in res.stderr
    assert "west 0.0 %" in res.stderr
    res = CliRunner().invoke(app, [*args, "--p", "2", "--max-min-groups", "--json"])
    assert res.exit_code == 0, res.output
    eq = json.loads(res.stdout)["equity"]
    # s2 + s4: north 2 of 5, south 4 of 9, east all; the unconstrained optimum (s1 + s3) leaves east out
    assert eq["worst_group"] == "north" and eq["worst_share_after"] == pytest.approx(0.4)
    assert eq["worst_share_before"] == 0.0 and eq["floor_cost"] == pytest.approx(6.0)


# ------------------------------------------------------------------------------ gradual reach
def gradual_oracle(inst: SitingInstance, p: int, full: float, far: float) -> float:
    """Best sum_i w_i max_{j open} a(d_ij), a linear from 1 at ``full`` to 0 at ``far``, over every plan."""
    d = inst.dense_distances()
    a = np.where(d <= full, 1.0, np.where(d >= far, 0.0, (far - d) / (far - full)))
    return max(float(inst.weights @ np.where(mask[None, :], a, 0.0).max(axis=1)) for mask in limited_plans(inst, p))


@FEW
@given(seed=SEEDS)
def test_gradual_reach_equals_brute_force_on_every_backend(seed: int) -> None:
    inst = random_instance(seed)
    full, far = 3.0, 9.5
    if not ((inst.dense_distances() < far) & inst.eligible[None, :] & (inst.weights[:, None] > 0)).any():
        return
    n_new = int((inst.eligible & ~inst.existing).sum())
    p = int(np.random.default_rng(seed + 4).integers(0, n_new + 1))
    want = gradual_oracle(inst, p, full, far)
    for name in BACKENDS:
        r = solve(inst, ModelSpec("mclp", p=p, reach_full=full, reach_max=far), name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(want, abs=1e-6), (name, seed)


def test_gradual_reach_options_go_together(tmp_path: Path) -> None:
    base = _files(tmp_path, "4,5,")
    base = [a for a in base if a not in ("--radius", "12")]
    for extra, match in (
        (["--reach-full", "5"], "give both"),
        (["--reach-full", "5", "--reach-max", "15", "--radius", "12"], "give --reach-full and --reach-max only"),
        (["--reach-full", "15", "--reach-max", "5"], "0 <= --reach-full < --reach-max"),
        (["--reach-full", "5", "--reach-max", "15", "--capacitated"], "does not combine with --capacitated"),
    ):
        res = CliRunner().invoke(app, [*base, "--model", "mclp", "--p", "1", *extra])
        assert res.exit_code in (1, 2) and match in res.stderr, (extra, res.output)


# ------------------------------------------------------------------------------------- robust
@pytest.mark.parametrize("objective", ["worst", "mean"])
@FEW
@given(seed=SEEDS)
def test_robust_plan_equals_brute_force_on_every_backend(objective: str, seed: int) -> None:
    inst = random_instance(seed)
    if not reachable_somewhere(inst):
        return
    n_new = int((inst.eligible & ~inst.existing).sum())
    p = int(np.random.default_rng(seed + 5).integers(0, n_new + 1))
    k, noise = 4, 0.3
    # the scenarios from the definition: w (1 + noise N(0, 1)) clipped at 0, one generator seeded 7
    scen = np.maximum(0.0, inst.weights * (1 + noise * np.random.default_rng(7).standard_normal((k, inst.n))))
    d = inst.dense_distances()
    best = -np.inf
    for mask in limited_plans(inst, p):
        cov = scen @ ((d <= RADIUS) & mask[None, :]).any(axis=1)
        best = max(best, float(cov.min() if objective == "worst" else cov.mean()))
    spec = ModelSpec(
        "mclp", radius=RADIUS, p=p, robust_samples=k, robust_noise=noise, robust_seed=7, robust_objective=objective
    )  # type: ignore[arg-type]
    for name in [b for b in BACKENDS if not (objective == "worst" and b == "cpsat")]:
        r = solve(inst, spec, name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(best, abs=1e-6), (name, seed)
        rb = r.stats["robust"]
        assert rb[f"robust_{'worst_case' if objective == 'worst' else 'mean'}"] >= (
            rb[f"nominal_{'worst_case' if objective == 'worst' else 'mean'}"] - 1e-6
        )


def test_cli_robust_compares_with_the_nominal_plan(tmp_path: Path) -> None:
    args = [*_files(tmp_path, "4,5,"), "--model", "mclp", "--p", "1", "--robust-samples", "6", "--seed", "3"]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    rb = json.loads(res.stdout)["robust"]
    assert rb["samples"] == 6 and rb["seed"] == 3 and rb["robust_worst_case"] >= rb["nominal_worst_case"] - 1e-9
    bad = CliRunner().invoke(
        app, [*_files(tmp_path, "4,5,"), "--model", "mclp", "--p", "1", "--population-noise", "0.2"]
    )
    assert bad.exit_code == 2 and "need --robust-samples" in bad.stderr
