"""Step-table gradual reach, and the equity floor combined with capacities, gradual reach and robust
plans, against brute force on every exact backend.

Tiny seeded instances (n <= 5, m <= 4, integer distances, some unreachable pairs, up to three
groups). The oracles enumerate every plan (``tests/oracles.all_plans``) and score it from the
definitions written here: a step table's credit by a loop over the steps, the served demand of an
unsplit plan by trying every choice of serving site, of a split plan by a dense LP
(``scipy.optimize.linprog``) with the floor rows written out; nothing is shared with the formulations.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import linprog
from typer.testing import CliRunner

from siting.cli import app
from siting.models.errors import InfeasibleError, ScenarioError
from siting.models.formulations.decay import check_steps, parse_steps, step_decay
from siting.models.instance import SitingInstance
from siting.optimizer.registry import installed_backends
from siting.optimizer.result import SolveParams
from siting.optimizer.solve import ModelSpec, solve
from tests.oracles import all_plans

RADIUS = 6.0
STEPS = ((3.0, 1.0), (6.0, 0.6), (9.0, 0.3))
PARAMS = SolveParams(mip_gap=0.0)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
FEW = settings(max_examples=10, deadline=None, derandomize=True)
BACKENDS = [b.name for b in installed_backends() if not b.name.startswith("pulp:")]
GROUPS = np.array(["east", "north", "south"])


def grouped(seed: int) -> SitingInstance:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 6)), int(rng.integers(1, 5))
    d = rng.integers(0, 12, size=(n, m)).astype(float)
    d[rng.random((n, m)) < 0.2] = np.inf
    cap = rng.integers(0, 10, size=m).astype(float)
    cap[rng.random(m) < 0.25] = np.inf
    existing = rng.random(m) < 0.2
    return SitingInstance(
        d,
        weights=rng.integers(0, 6, size=n).astype(float),
        cost=rng.integers(1, 5, size=m).astype(float),
        capacity=cap,
        existing=existing,
        forbidden=~existing & (rng.random(m) < 0.15),
        groups=rng.choice(GROUPS, size=n),
    )


def plans(inst: SitingInstance, p: int) -> list[NDArray[np.bool_]]:
    return [mask for mask in all_plans(inst) if (mask & ~inst.existing).sum() <= p]


def draw_p(inst: SitingInstance, seed: int) -> int:
    return int(np.random.default_rng(seed + 9).integers(0, int((inst.eligible & ~inst.existing).sum()) + 1))


def steps_credit(inst: SitingInstance, mask: NDArray[np.bool_], steps: tuple[tuple[float, float], ...]) -> NDArray:
    """Per point, the best credit of an open site: c_k of the first step r_k >= d, 0 beyond (a loop)."""
    d = inst.dense_distances()
    out = np.zeros(inst.n)
    for i in range(inst.n):
        for j in np.flatnonzero(mask):
            for r, c in steps:
                if d[i, j] <= r:
                    out[i] = max(out[i], c)
                    break
    return out


def shares(inst: SitingInstance, credit: NDArray) -> dict[str, float]:
    out = {}
    for g in np.unique(inst.groups):
        wg = inst.weights[inst.groups == g]
        out[str(g)] = float(np.dot(wg, credit[inst.groups == g]) / wg.sum()) if wg.sum() > 0 else 1.0
    return out


def meets(sh: dict[str, float], floor: float, tol: float = 1e-9) -> bool:
    """Every group at the floor (a solver's plan may miss it by the floor rows' slack, 1e-7 of the demand)."""
    return min(sh.values()) >= floor - tol


# ------------------------------------------------------------------------------ step table
def test_step_credit_and_table_checks() -> None:
    d = np.array([0.0, 3.0, 3.5, 6.0, 8.9, 9.0, 9.01, np.inf])
    assert step_decay(d, STEPS).tolist() == [1.0, 1.0, 0.6, 0.6, 0.3, 0.3, 0.0, 0.0]
    assert parse_steps("500:1, 1000:0.6,1500:0.3") == ((500.0, 1.0), (1000.0, 0.6), (1500.0, 0.3))
    for bad, match in (
        ([(5, 1.0), (5, 0.5)], "strictly increasing"),
        ([(5, 0.5), (10, 0.6)], "not increase"),
        ([(5, 1.2)], r"\(0, 1\]"),
        ([(5, 0.0)], r"\(0, 1\]"),
        ([], "empty"),
    ):
        with pytest.raises(ScenarioError, match=match):
            check_steps(bad)
    with pytest.raises(ScenarioError, match="is not distance:credit"):
        parse_steps("500-1")


@FEW
@given(seed=SEEDS)
def test_step_table_equals_brute_force_on_every_backend(seed: int) -> None:
    inst = grouped(seed)
    if not ((inst.dense_distances() <= STEPS[-1][0]) & inst.eligible[None, :] & (inst.weights[:, None] > 0)).any():
        return
    p = draw_p(inst, seed)
    want = max(float(inst.weights @ steps_credit(inst, mask, STEPS)) for mask in plans(inst, p))
    for name in BACKENDS:
        r = solve(inst, ModelSpec("mclp", p=p, decay_steps=STEPS), name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(want, abs=1e-6), (name, seed)
        assert r.stats["decayed_coverage"] == pytest.approx(want, abs=1e-6)
        assert r.stats["decay"]["kind"] == "steps"


def test_step_table_refused_where_it_cannot_be_honoured() -> None:
    inst = grouped(1)
    for solver in ("greedy",):
        with pytest.raises(ScenarioError):
            solve(inst, ModelSpec("mclp", p=1, decay_steps=STEPS), solver)
    with pytest.raises(ScenarioError, match="two decay rules"):
        solve(inst, ModelSpec("mclp", p=1, decay_steps=STEPS, reach_full=1, reach_max=5), "highs")
    with pytest.raises(ScenarioError, match="give --decay-steps only"):
        solve(inst, ModelSpec("mclp", p=1, decay_steps=STEPS, radius=5), "highs")
    with pytest.raises(ScenarioError, match="--decay-steps does not apply to model pmedian"):
        solve(inst, ModelSpec("pmedian", p=1, decay_steps=STEPS), "highs")


def _files(tmp_path: Path) -> list[str]:
    demand = tmp_path / "demand.csv"
    sites = tmp_path / "sites.csv"
    demand.write_text("id,x,y,weight,group\na,0,0,3,n\nb,10,0,2,n\nc,20,0,4,s\nd,30,0,5,s\n", encoding="utf-8")
    sites.write_text("id,x,y,cost,capacity\ns1,5,0,1,4\ns2,15,0,1,5\ns3,30,0,1,20\n", encoding="utf-8")
    return ["solve", "--demand", str(demand), "--sites", str(sites), "--model", "mclp", "--quiet"]


def test_cli_decay_steps_names_the_table(tmp_path: Path) -> None:
    args = [*_files(tmp_path), "--p", "1", "--decay-steps", "5:1,12:0.5"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    # s2 at 15: b (5 away) and c (5 away) full, a and d (15 away) nothing -> 6; s1: a, b full = 5, c at 15: 0
    # s3 at 30: d full (5), c at 10 -> 0.5 * 4 = 2 -> 7, the best
    assert "gradual coverage 7 of 14" in res.stdout and "1 within 5, 0.5 within 12, 0 beyond" in res.stdout
    rec = json.loads(CliRunner().invoke(app, [*args, "--json"]).stdout)
    assert rec["objective"] == 7.0 and rec["decay"]["steps"] == [[5.0, 1.0], [12.0, 0.5]]
    bad = CliRunner().invoke(app, [*_files(tmp_path), "--p", "1", "--decay-steps", "12:0.5,5:1"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: decay steps") and "Traceback" not in bad.output


# ------------------------------------------------------------------------- floor + capacity
def served_with_floor(inst: SitingInstance, mask: NDArray[np.bool_], split: bool, floor: float) -> float | None:
    """Most demand the open sites serve within reach and capacities with every group served >= floor
    of its demand; None when no assignment meets the floor."""
    d = inst.dense_distances()
    ok = (d <= RADIUS) & mask[None, :] & (inst.weights[:, None] > 0)
    w = inst.weights
    labels = np.unique(inst.groups)
    total = {g: float(w[inst.groups == g].sum()) for g in labels}
    if not split:
        best = None
        for pick in itertools.product(*[[-1, *np.flatnonzero(ok[i])] for i in range(inst.n)]):
            load = np.zeros(inst.m)
            served = np.zeros(inst.n)
            for i, j in enumerate(pick):
                if j >= 0:
                    load[j] += w[i]
                    served[i] = 1.0
            if (load <= inst.capacity + 1e-9).all() and meets(shares(inst, served), floor):
                best = max(best or 0.0, float(w @ served))
        return best
    pairs = np.argwhere(ok)
    k = len(pairs)
    if k == 0:
        return 0.0 if all(t == 0 or floor == 0 for t in total.values()) else None
    a_rows = np.zeros((inst.n, k))
    a_rows[pairs[:, 0], np.arange(k)] = 1.0
    a_cap = np.zeros((inst.m, k))
    a_cap[pairs[:, 1], np.arange(k)] = w[pairs[:, 0]]
    a_floor = np.array([[-w[i] if inst.groups[i] == g else 0.0 for i, _ in pairs] for g in labels])
    b_floor = np.array([-floor * total[g] for g in labels])
    cap = np.where(np.isfinite(inst.capacity), inst.capacity, 1e9)
    res = linprog(
        -w[pairs[:, 0]],
        A_ub=np.vstack([a_rows, a_cap, a_floor]),
        b_ub=np.concatenate([np.ones(inst.n), cap, b_floor]),
        bounds=(0, 1),
    )
    return float(-res.fun) if res.status == 0 else None


@pytest.mark.parametrize("split", [False, True], ids=["unsplit", "split"])
@FEW
@given(seed=SEEDS)
def test_capacity_with_floor_equals_brute_force_on_every_backend(split: bool, seed: int) -> None:
    inst = grouped(seed)
    if not np.isfinite(inst.capacity[inst.eligible]).any():
        return
    if not ((inst.dense_distances() <= RADIUS) & inst.eligible[None, :] & (inst.weights[:, None] > 0)).any():
        return
    p = draw_p(inst, seed)
    floor = float(np.random.default_rng(seed + 2).choice([0.2, 0.4, 0.5]))
    values = [v for mask in plans(inst, p) if (v := served_with_floor(inst, mask, split, floor)) is not None]
    spec = ModelSpec("mclp", radius=RADIUS, p=p, capacitated=True, allow_split=split, min_group_share=floor)
    for name in [b for b in BACKENDS if not (split and b == "cpsat")]:
        if not values:
            with pytest.raises(InfeasibleError, match="is infeasible"):
                solve(inst, spec, name, PARAMS)
            continue
        r = solve(inst, spec, name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(max(values), abs=1e-6), (name, seed)
        assert r.capacity is not None and not r.capacity.violations
        got = shares(inst, r.capacity.served_share)
        assert meets(got, floor, tol=1e-6)
        assert {g["group"]: g["share_after"] for g in r.stats["equity"]["groups"]} == pytest.approx(got)


# ---------------------------------------------------------------------------- floor + decay
@FEW
@given(seed=SEEDS)
def test_step_table_with_floor_equals_brute_force_on_every_backend(seed: int) -> None:
    inst = grouped(seed)
    if not ((inst.dense_distances() <= STEPS[-1][0]) & inst.eligible[None, :] & (inst.weights[:, None] > 0)).any():
        return
    p = draw_p(inst, seed)
    floor = float(np.random.default_rng(seed + 2).choice([0.2, 0.4, 0.5]))
    scored = [
        (float(inst.weights @ c), shares(inst, c)) for c in (steps_credit(inst, m, STEPS) for m in plans(inst, p))
    ]
    ok = [v for v, sh in scored if meets(sh, floor)]
    spec = ModelSpec("mclp", p=p, decay_steps=STEPS, min_group_share=floor)
    for name in BACKENDS:
        if not ok:
            with pytest.raises(InfeasibleError, match="is infeasible") as err:
                solve(inst, spec, name, PARAMS)
            for g in np.unique(inst.groups):  # the best decayed share each group reaches alone
                best = max(sh[str(g)] for _, sh in scored)
                assert f"{g} {100 * best:.1f} %" in str(err.value)
            continue
        r = solve(inst, spec, name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(max(ok), abs=1e-6), (name, seed)
        assert r.stats["equity"]["floor_cost"] == pytest.approx(max(v for v, _ in scored) - max(ok), abs=1e-6)


def test_linear_decay_with_floor_raises_the_poor_group() -> None:
    # the rich group (weight 10) at s1, 3 from s2; the poor one (weight 1) 20 from s1, 4 from s2; p = 1
    d = np.array([[0.0, 3.0], [20.0, 4.0]])
    inst = SitingInstance(d, weights=[10.0, 1.0], groups=["rich", "poor"])
    free = solve(inst, ModelSpec("mclp", p=1, reach_full=2, reach_max=6), "highs")
    assert free.objective == pytest.approx(10.0)  # s1: the rich group in full, the poor one nothing
    r = solve(inst, ModelSpec("mclp", p=1, reach_full=2, reach_max=6, min_group_share=0.5), "highs")
    # s2: rich (6 - 3) / 4 = 0.75, poor (6 - 4) / 4 = 0.5 -> 7.5 + 0.5
    assert r.verified and r.open_site_ids == [1] and r.objective == pytest.approx(8.0)
    assert r.stats["equity"]["floor_cost"] == pytest.approx(2.0)
    assert r.stats["equity"]["worst_share_before"] == 0.0
    with pytest.raises(InfeasibleError, match=r"groups poor cannot reach it even .* poor 50.0 %, rich 100.0 %"):
        solve(inst, ModelSpec("mclp", p=1, reach_full=2, reach_max=6, min_group_share=0.6), "highs")


# --------------------------------------------------------------------------- floor + robust
@pytest.mark.parametrize("objective", ["worst", "mean"])
@FEW
@given(seed=SEEDS)
def test_robust_with_floor_equals_brute_force_on_every_backend(objective: str, seed: int) -> None:
    inst = grouped(seed)
    d = inst.dense_distances()
    if not ((d <= RADIUS) & inst.eligible[None, :]).any():
        return
    p = draw_p(inst, seed)
    floor = float(np.random.default_rng(seed + 2).choice([0.2, 0.4, 0.5]))
    k, noise = 4, 0.3
    scen = np.maximum(0.0, inst.weights * (1 + noise * np.random.default_rng(7).standard_normal((k, inst.n))))
    best = None
    for mask in plans(inst, p):
        cov = ((d <= RADIUS) & mask[None, :]).any(axis=1)
        if meets(shares(inst, cov.astype(float)), floor):  # the floor holds on the nominal weights
            val = scen @ cov
            v = float(val.min() if objective == "worst" else val.mean())
            best = v if best is None else max(best, v)
    spec = ModelSpec(
        "mclp", radius=RADIUS, p=p, robust_samples=k, robust_noise=noise, robust_seed=7,
        robust_objective=objective, min_group_share=floor,  # type: ignore[arg-type]
    )  # fmt: skip
    for name in [b for b in BACKENDS if not (objective == "worst" and b == "cpsat")]:
        if best is None:
            with pytest.raises(InfeasibleError, match="is infeasible"):
                solve(inst, spec, name, PARAMS)
            continue
        r = solve(inst, spec, name, PARAMS)
        assert r.verified, r.message
        assert r.objective == pytest.approx(best, abs=1e-6), (name, seed)
        assert min(g["share_after"] for g in r.stats["equity"]["groups"]) >= floor - 1e-6


# ------------------------------------------------------------------ combinations still refused
@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (
            ["--radius", "12", "--capacitated", "--max-min-groups"],
            "--max-min-groups does not combine with --capacitated",
        ),
        (["--decay-steps", "5:1,12:0.5", "--capacitated"], "gradual reach does not combine with --capacitated"),
        (
            ["--radius", "12", "--robust-samples", "3", "--capacitated"],
            "robust plans do not combine with --capacitated",
        ),
        (["--decay-steps", "5:1", "--robust-samples", "3"], "robust plans do not combine with --decay-steps"),
        (["--decay-steps", "5:1", "--max-min-groups"], "--max-min-groups does not combine with --decay-steps"),
    ],
    ids=["maxmin-capacity", "decay-capacity", "robust-capacity", "robust-decay", "maxmin-decay"],
)
def test_cli_combinations_that_do_not_compose_name_both(tmp_path: Path, extra: list[str], match: str) -> None:
    res = CliRunner().invoke(app, [*_files(tmp_path), "--p", "1", *extra])
    assert res.exit_code == 2, res.output
    assert match in res.stderr


def test_cli_capacity_with_floor(tmp_path: Path) -> None:
    # radius 12, p = 1: s1 (room 4) reaches a, b (group n); s2 (room 5) reaches b (2) and c (4);
    # s3 (room 20) reaches c, d (group s, 9). Every group at 30 %: only s2 reaches both groups,
    # and it has room for both b and c only when c may be split
    args = [*_files(tmp_path), "--radius", "12", "--p", "1", "--capacitated", "--min-group-share", "0.3"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 3 and "each group can reach it alone (best share alone: n 60.0 %, s 100.0 %)" in res.stderr
    res = CliRunner().invoke(app, [*args, "--allow-split", "--json"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert rec["objective"] == pytest.approx(5.0) and rec["capacity"]["served_weight"] == pytest.approx(5.0)
    eq = rec["equity"]
    assert {g["group"]: g["share_after"] for g in eq["groups"]} == pytest.approx({"n": 0.4, "s": 3 / 9})
    assert eq["worst_share_before"] == 0.0 and eq["floor_cost"] == pytest.approx(9.0 - 5.0)
