"""``siting run`` in joint mode: the Wuhai pilot and Helsinki examples end to end.

Every plan is re-checked here from the written files, independently of the run's own checks: the
plan.csv pairs are put back on the joint instance and recounted by ``evaluate_joint`` (budgets
total / per service / per phase, room, eligibility), the ranked table's cumulative columns must add
up, alternatives must be distinct and within the tolerance, a phased run must use its phases, and
the joint plan must cover at least as many weighted people as the per-service split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from paths import DATA, REPO
from typer.testing import CliRunner

from siting.cli import app
from siting.models.multiservice import evaluate_joint, objective_value
from siting.scenarios.joint_build import build_joint, to_multiservice
from siting.scenarios.outputs import i18n
from siting.scenarios.pipeline.run import run_scenario
from siting.scenarios.schema import load_scenario

ROOT = REPO
EXAMPLES = ROOT / "scenarios" / "examples"
WUHAI = EXAMPLES / "wuhai" / "scenario.yaml"
HELSINKI = EXAMPLES / "helsinki" / "scenario.yaml"
TINY = DATA / "scenarios" / "tiny"
runner = CliRunner()


def _read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    plan = pd.read_csv(out / "plan.csv", dtype={"site_id": str, "phase": str, "best_substitute": str})
    unc = pd.read_csv(out / "uncovered.csv", dtype={"demand_id": str})
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return plan, unc, summary


def _plan_array(inst, plan: pd.DataFrame) -> np.ndarray:  # type: ignore[no-untyped-def]
    """plan.csv back to an (S, m) open_phase array of the joint instance."""
    op = np.full((inst.S, inst.m), -1, dtype=np.int8)
    sites = pd.Index(inst.site_ids.astype(str))
    for row in plan.itertuples():
        op[inst.service_index(row.service), sites.get_loc(row.site_id)] = list(inst.phases).index(str(row.phase))
    return op


def _wuhai_copy(tmp_path: Path, **changes: object) -> Path:
    folder = tmp_path / "wuhai"
    shutil.copytree(WUHAI.parent, folder, ignore=shutil.ignore_patterns("out*", ".*"))
    path = folder / "scenario.yaml"
    if changes:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc.update(changes)
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def check_joint_outputs(scenario: Path, out: Path, override: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Every check of the joint model on a joint run's files; returns plan.csv and summary.json."""
    plan, unc, summary = _read(out)
    assert summary["mode"] == "joint"
    assert summary["solve"]["status"] == "OPTIMAL" and summary["solve"]["verified"]
    checks = summary["checks"]
    assert checks["all_ok"], checks
    body, base = load_scenario(scenario, override)
    inst, _ = to_multiservice(build_joint(body, base, source=scenario.name))

    # independent recount of the written plan
    op = _plan_array(inst, plan)
    met = evaluate_joint(inst, op)
    assert met.violations == []
    assert objective_value(met, body.objective) == pytest.approx(summary["joint"]["value"])
    assert met.total_cost == pytest.approx(summary["joint"]["total_cost"])
    if body.budget.total is not None:
        assert met.total_cost <= body.budget.total + 1e-6
    for name, limit in body.budget.per_service.items():
        assert met.cost_by_service[inst.service_index(name)] <= limit + 1e-6
    if body.budget.phases:
        budgets = np.array(list(body.budget.phases.values()))
        spent = met.cost_by_phase
        if body.budget.carry_over:
            assert (np.cumsum(spent) <= np.cumsum(budgets) + 1e-6).all()
        else:
            assert (spent <= budgets + 1e-6).all()
        assert [p["spent"] for p in checks["budget_per_phase"]] == pytest.approx(spent.tolist())
    room = np.asarray(inst.room)
    assert (met.room_used <= room + 1e-6).all(), "no plot hosts more than its room"
    for row in plan.itertuples():
        svc = inst.services[inst.service_index(row.service)]
        assert svc.eligible[list(inst.site_ids.astype(str)).index(row.site_id)], (row.service, row.site_id)

    # the ranked table: ranks, phases in order, cumulative columns add up
    assert plan["rank"].tolist() == list(range(1, len(plan) + 1))
    phase_pos = plan["phase"].map({p: k for k, p in enumerate(inst.phases)}).to_numpy()
    assert (np.diff(phase_pos) >= 0).all(), "ranked by phase first"
    np.testing.assert_allclose(plan["cumulative_cost"], plan["cost"].fillna(0).cumsum())
    assert plan["cumulative_cost"].iloc[-1] == pytest.approx(met.total_cost)
    for name, rec in summary["services"].items():
        s = inst.service_index(name)
        rows = plan[plan.service == name]
        group = rec["demand_group"]
        own = rows[f"new_{group}"]
        np.testing.assert_allclose(rows["covered_after"], rec["coverage"]["before"] + own.cumsum())
        assert rec["coverage"]["before"] + own.sum() == pytest.approx(met.covered_people[s])
        assert rec["coverage"]["after"] == pytest.approx(met.covered_people[s])
        np.testing.assert_allclose(rows["cumulative_coverage_share"], rows["covered_after"] / rec["people"])
        assert ((rows["weighted_gain"] - inst.services[s].weight * own).abs() < 1e-6).all()
        assert (rows["drop_one_loss"] >= 0).all() and (
            rows["substitute_recovers"] <= rows["drop_one_loss"] + 1e-9
        ).all()
        assert rec["plan_check"]["violations"] == []
        # uncovered.csv lists exactly the people not covered
        assert rec["coverage"]["after"] + unc[unc.service == name]["people"].sum() == pytest.approx(rec["people"])
    assert plan["reason"].str.len().gt(0).all()
    return plan, summary


@pytest.mark.parametrize("scenario", [WUHAI, HELSINKI], ids=["wuhai", "helsinki"])
def test_joint_run_end_to_end(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # speed is measured in benchmarks/bench_helsinki_run.py, not here (a shared machine is noisy)
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    # no --lang: the console speaks the scenario's output.lang (Wuhai: zh), like the report
    lang = "zh" if scenario == WUHAI else "en"
    assert i18n.text(lang, "con_checks_passed") in result.stdout
    assert i18n.TEXT[lang]["con_joint"].split("{")[0] in result.stdout
    assert {"plan.csv", "summary.json", "uncovered.csv", "plan.gpkg", "map.png", "report.html"} <= {
        p.name for p in out.iterdir()
    }
    plan, summary = check_joint_outputs(scenario, out)
    body, _ = load_scenario(scenario)
    assert set(plan["service"]) == set(body.services)
    if body.budget.phases:
        # the Wuhai pilot's phases are used: the most valuable sites first, every phase buys something
        assert summary["phasing"].startswith("each site opens in the earliest phase")
        assert set(plan["phase"]) == set(body.budget.phases)


def test_joint_plan_covers_at_least_the_split(tmp_path: Path) -> None:
    joint = run_scenario(WUHAI, out=tmp_path / "joint")
    split = run_scenario(WUHAI, out=tmp_path / "split", split=True)
    assert joint.mode == "joint" and split.mode == "split"
    weights = {n: s.weight for n, s in joint.built.scenario.services.items()}

    def weighted(summary: dict) -> float:
        return sum(weights[n] * rec["coverage"]["after"] for n, rec in summary["services"].items())

    assert weighted(joint.summary) >= weighted(split.summary) - 1e-6
    assert joint.summary["joint"]["weighted_coverage"] == pytest.approx(weighted(joint.summary))
    assert "joint multi-service model (siting run without --split)" in split.summary["budget_split"]


def test_alternatives_are_distinct_and_within_tolerance(tmp_path: Path) -> None:
    out = tmp_path / "alt"
    k, tol = 4, 0.02
    result = runner.invoke(
        app, ["run", str(WUHAI), "--out", str(out), "--quiet", "--alternatives", str(k), "--tolerance", str(tol)]
    )
    assert result.exit_code == 0, result.output
    assert {"alternatives.csv", "site_frequency.csv"} <= {p.name for p in out.iterdir()}
    plan, summary = check_joint_outputs(WUHAI, out)
    alt = pd.read_csv(out / "alternatives.csv")
    freq = pd.read_csv(out / "site_frequency.csv", dtype={"site_id": str})
    assert 1 <= len(alt) <= k and summary["alternatives"]["found"] == len(alt)
    assert alt["plan"].tolist() == list(range(1, len(alt) + 1))
    best = alt["objective"].iloc[0]
    assert (alt["objective"] >= (1 - tol) * best - 1e-6).all()
    assert (alt["below_best"] <= tol + 1e-9).all() and alt["verified"].all()

    def pairs(text: str) -> frozenset[str]:
        return frozenset(p.split("@")[0] for p in text.split("; "))

    sets = [pairs(t) for t in alt["sites"]]
    assert len(set(sets)) == len(sets), "the plans are distinct"
    assert sets[0] == frozenset(f"{r.service}:{r.site_id}" for r in plan.itertuples()), "plan 1 is the plan written"
    # every alternative, recounted by the evaluator, has the objective written
    body, base = load_scenario(WUHAI)
    inst, _ = to_multiservice(build_joint(body, base))
    sites = list(inst.site_ids.astype(str))
    for text, value in zip(alt["sites"], alt["objective"]):
        op = np.full((inst.S, inst.m), -1, dtype=np.int8)
        for p in text.split("; "):
            pair, phase = p.split("@")
            service, site = pair.split(":")
            op[inst.service_index(service), sites.index(site)] = list(inst.phases).index(phase)
        met = evaluate_joint(inst, op)
        assert met.violations == [] and met.weighted_coverage == pytest.approx(value)
    # site frequency: counts add up; firm = in every plan
    assert freq["plans"].sum() == sum(len(s) for s in sets)
    n = len(alt)
    assert ((freq["role"] == "firm") == (freq["plans"] == n)).all()
    assert ((freq["role"] == "unused") == (freq["plans"] == 0)).all()
    for row in freq[freq.plans > 0].itertuples():
        assert row.plans == sum(f"{row.service}:{row.site_id}" in s for s in sets)


def test_phased_objective_uses_phases(tmp_path: Path) -> None:
    phased = _wuhai_copy(tmp_path, objective="phased")
    res = run_scenario(phased, out=tmp_path / "phased")
    plan, summary = check_joint_outputs(phased, tmp_path / "phased")
    assert summary["phasing"] == "as solved"
    assert plan["phase"].nunique() >= 2, "a phased plan builds in more than one phase"
    # the phased plan is worth at least as much, phase by phase, as the max_coverage plan re-phased
    cover = run_scenario(WUHAI, out=tmp_path / "cover")
    assert res.joint is not None and cover.joint is not None
    assert res.joint.metrics.phased_value >= cover.joint.metrics.phased_value - 1e-6
    assert cover.joint.metrics.weighted_coverage >= res.joint.metrics.weighted_coverage - 1e-6


def test_tiny_joint_objectives_and_reproducibility(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("out", ".*"))
    path = folder / "scenario.yaml"
    a = run_scenario(path, out=tmp_path / "a")
    run_scenario(path, out=tmp_path / "b")
    assert a.mode == "joint"
    assert (tmp_path / "a" / "plan.csv").read_bytes() == (tmp_path / "b" / "plan.csv").read_bytes()
    # min_cost: everyone coverable is covered; budgets do not bind but are compared
    res = run_scenario(path, "min_cost", out=tmp_path / "mc")
    assert res.summary["checks"]["all_ok"]
    assert set(res.uncovered["reason"]) <= {"no_site_in_reach", "off_network"}
    assert "least cost of covering everyone" in res.summary["joint"]["note"]
    # complete_circle runs jointly; --split refuses it
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["objective"] = "complete_circle"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    ok = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "cc"), "--quiet"])
    assert ok.exit_code == 0, ok.output
    cc = json.loads((tmp_path / "cc" / "summary.json").read_text(encoding="utf-8"))
    assert cc["objective"] == "complete_circle" and cc["checks"]["all_ok"]
    assert cc["joint"]["value"] == pytest.approx(cc["joint"]["complete_circle_people"])
    bad = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "x"), "--quiet", "--split"])
    assert bad.exit_code == 1 and "needs the joint multi-service model" in bad.stderr
    assert not (tmp_path / "x").exists()
    heur = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "y"), "--quiet", "--solver", "greedy"])
    assert heur.exit_code == 1 and "needs an exact solver" in heur.stderr


def test_validate_describes_the_joint_mode() -> None:
    result = runner.invoke(app, ["validate", str(WUHAI), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "mode        joint" in result.stdout and "phases 2022 4,000,000" in result.stdout
