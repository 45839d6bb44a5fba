"""``--split``: the joint model with the budget divided per service in advance.

``MultiServiceInstance.split`` gives each service its own budget and removes everything the
services share (total and phase budgets, plot room), so the joint optimum must equal the sum of the
per-service optima, found here by enumerating every plan of each service alone. The per-service
view (``MultiServiceInstance.service``) must count coverage like the joint evaluator, and a
``siting run --split`` of the tiny scenario must give each service what its own single-service
model (MCLP on its budget share) gives.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from paths import DATA

from siting.models.evaluate import evaluate
from siting.models.multiservice import MultiServiceInstance, ServiceData, evaluate_joint
from siting.optimizer.joint import solve_joint
from siting.optimizer.solve import ModelSpec, solve
from siting.scenarios.build import build
from siting.scenarios.pipeline.run import run_scenario
from siting.scenarios.schema import load_scenario

TINY = DATA / "scenarios" / "tiny"
TOL = 1e-6


def shared_instance(seed: int) -> tuple[MultiServiceInstance, dict[str, float], dict[str, float]]:
    """A tiny joint instance whose services compete (tight room, total and phase budgets), with a
    budget per service for the split and each service's reach (for the per-service view)."""
    rng = np.random.default_rng(seed)
    n, m, S = int(rng.integers(3, 7)), int(rng.integers(2, 5)), int(rng.integers(2, 4))
    services, budgets, reach = [], {}, {}
    for s in range(S):
        D = rng.integers(0, 11, size=(n, m)).astype(float)
        stored = (rng.random((n, m)) < 0.8) & (D <= 8)
        r_s = float(rng.integers(2, 8))
        r, c = np.nonzero(stored)
        ex_d = np.where(rng.random(n) < 0.3, rng.integers(0, 10, size=n).astype(float), np.inf)
        elig = rng.random(m) < 0.85
        name = f"svc{s}"
        services.append(
            ServiceData(
                name=name,
                weights=rng.integers(0, 6, size=n).astype(float),
                coverage=sp.csr_array(stored & (D <= r_s)),
                distances=sp.csr_array((D[r, c], (r, c)), shape=(n, m)),
                cost=np.where(elig, rng.integers(1, 6, size=m).astype(float), np.nan),
                eligible=elig,
                area=1.0,
                existing_covered=ex_d <= r_s,
                existing_distance=ex_d,
                max_sites=None if rng.random() < 0.5 else int(rng.integers(1, 3)),
                weight=float(rng.choice([1.0, 2.0])),
            )
        )
        budgets[name] = float(rng.integers(1, 9))
        reach[name] = r_s
    inst = MultiServiceInstance(
        demand_ids=np.arange(n),
        site_ids=np.array([f"p{j}" for j in range(m)]),
        room=np.ones(m),  # one facility per plot: the services compete for plots
        services=tuple(services),
        total_budget=float(rng.integers(1, 6)),
        phases=("2024", "2025"),
        phase_budgets=np.array([2.0, 2.0]),
        name=f"shared{seed}",
    )
    return inst, budgets, reach


def best_alone(inst: MultiServiceInstance, s: int, objective: str) -> float:
    """Brute force: the best value of service s alone (every other service closed), every plan enumerated."""
    svc = inst.services[s]
    free = np.flatnonzero(svc.eligible)
    best = -np.inf if objective == "max_coverage" else np.inf
    for k in range(free.size + 1):
        for combo in itertools.combinations(free, k):
            plan = np.full((inst.S, inst.m), -1, dtype=np.int8)
            plan[s, list(combo)] = 0
            met = evaluate_joint(inst, plan)
            if met.violations:
                continue
            if objective == "max_coverage":
                best = max(best, svc.weight * float(met.covered_people[s]))
            else:  # min_cost: every coverable person of s covered, at least cost
                ok = bool(np.all(met.covered[s] | met.uncoverable[s] | ~met.positive[s]))
                if ok:
                    best = min(best, float(met.cost_by_service[s]))
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("objective", ["max_coverage", "min_cost"])
def test_split_optimum_is_the_sum_of_the_per_service_optima(seed: int, objective: str) -> None:
    inst, budgets, _ = shared_instance(seed)
    if objective == "min_cost":  # as siting run sets it up: what full coverage costs, no budget or count binds
        budgets = dict.fromkeys(budgets, None)  # type: ignore[arg-type]
        inst = dataclasses.replace(inst, services=tuple(dataclasses.replace(s, max_sites=None) for s in inst.services))
    split = inst.split(budgets)
    # nothing is shared any more; each service has exactly its own budget
    assert split.total_budget is None and split.phase_budgets is None and split.T == 1
    assert np.isinf(split.room).all()
    assert [s.budget for s in split.services] == [budgets[s.name] for s in inst.services]
    res = solve_joint(split, objective=objective, solver="highs")
    want = sum(best_alone(split, s, objective) for s in range(split.S))
    assert res.status.value == "OPTIMAL" and res.verified
    assert res.objective == pytest.approx(want, abs=TOL)
    met = evaluate_joint(split, res.open_phase)
    assert not met.violations
    for s, svc in enumerate(split.services):
        assert objective == "min_cost" or met.cost_by_service[s] <= budgets[svc.name] + TOL


@pytest.mark.parametrize("seed", range(10))
def test_service_view_counts_like_the_joint_evaluator(seed: int) -> None:
    inst, _, reach = shared_instance(seed)
    rng = np.random.default_rng(100 + seed)
    for s, svc in enumerate(inst.services):
        view = inst.service(svc.name)
        assert view.m == inst.m + int(np.isfinite(svc.existing_distance).any())
        assert not (view.eligible[: inst.m] & ~svc.eligible).any()
        plan = np.full((inst.S, inst.m), -1, dtype=np.int8)
        plan[s] = np.where(svc.eligible & (rng.random(inst.m) < 0.5), 0, -1)
        mask = view.existing.copy()
        mask[: inst.m] = plan[s] >= 0
        met = evaluate(view, mask, radius=reach[svc.name])
        joint = evaluate_joint(inst, plan)
        assert met.covered_weight == pytest.approx(float(joint.covered_people[s]))
        np.testing.assert_array_equal(met.covered, joint.covered[s])


def test_run_split_gives_each_service_its_own_optimum(tmp_path: Path) -> None:
    """``--split`` on the tiny scenario: every service gets its advance share of budget.total and
    covers what its own maximal covering model on that share covers (the single-service MCLP)."""
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    path = folder / "scenario.yaml"
    res = run_scenario(path, "euclidean", out=tmp_path / "o", split=True)
    assert res.mode == "split" and res.summary["mode"] == "split"
    built = build(*load_scenario(path, "euclidean"), source=path.name)
    for name, pb in built.services.items():
        rec = res.summary["services"][name]
        assert rec["budget"] == pytest.approx(pb.budget) and rec["budget_source"] == pb.budget_source
        check = res.summary["checks"]["budget_per_service"][name]
        assert check["ok"] and check["spent"] <= pb.budget + TOL
        alone = solve(pb.instance, ModelSpec("mclp", p=pb.max_sites, radius=pb.reach_m, budget=pb.budget), "highs")
        assert rec["coverage"]["after"] == pytest.approx(alone.objective, abs=TOL)
    assert res.summary["checks"]["budget_total"]["limit"] is None


def test_a_capacity_the_model_cannot_honour_is_an_error(tmp_path: Path) -> None:
    """The scenario model has no facility capacities: a pmedian scenario with one is refused, in one line."""
    import yaml
    from typer.testing import CliRunner

    from siting.cli import app

    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    path = folder / "scenario.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["objective"] = "pmedian"
    doc["services"]["public_toilet"]["capacity"] = 500
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    for extra in ([], ["--split"]):
        result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "o"), "--quiet", *extra])
        err = result.stderr.strip()
        assert result.exit_code == 1 and len(err.splitlines()) == 1, result.output
        assert "services.public_toilet.capacity" in err and "remove capacity" in err
        assert not (tmp_path / "o").exists()
