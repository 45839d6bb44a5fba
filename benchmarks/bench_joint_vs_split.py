"""The joint multi-service model against solving each service alone with the budget split in advance.

On demand, not part of the test suite. From the repository root::

    PYTHONPATH=. python benchmarks/bench_joint_vs_split.py                  # Wuhai and Helsinki, base + low_budget
    PYTHONPATH=. python benchmarks/bench_joint_vs_split.py --example kotka --override straight_line

For each (example, override) the scenario is run twice in-process with ``scenarios.pipeline.run.run_scenario``:

* **split** (``split=True``): every service on its own, one MCLP each, ``budget.total`` split in
  advance in proportion to weight x people of the group (``scenarios.build.resolve_budgets``);
  phases and plot room are ignored by that path;
* **joint**: all services in one model on the shared plots, one total budget, the phase budgets
  with carry-over and the plot room (``optimizer.joint.solve_joint``).

Both plans are re-evaluated on the same joint instance by ``models.multiservice.evaluate_joint``
(the split plan with every site in the last phase, which the cumulative phase budgets allow
whenever the total does), so the coverage figures are counted the same way, and the split plan's
violations of the joint constraints (a plot hosting more than its room) are shown. Reported: people
covered per service, the weighted total ``sum_s weight_s x covered_s`` (the objective both
optimise), cost, solve seconds and run seconds. The joint plan must cover at least as many weighted
people as the split plan (exit code 1 otherwise).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from siting.models.multiservice import evaluate_joint
from siting.scenarios.joint_build import build_joint, to_multiservice
from siting.scenarios.pipeline.run import run_scenario
from siting.scenarios.schema import load_scenario

EXAMPLES = ROOT / "scenarios" / "examples"
DEFAULT = [("wuhai", None), ("wuhai", "low_budget"), ("helsinki", None), ("helsinki", "low_budget")]


def split_plan_on_joint(inst, res) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The split run's plan as an (S, m) open_phase array, every site in the last phase."""
    op = np.full((inst.S, inst.m), -1, dtype=np.int8)
    sites = list(inst.site_ids.astype(str))
    for row in res.plan.itertuples():
        op[inst.service_index(row.service), sites.index(str(row.site_id))] = inst.T - 1
    return op


def compare(example: str, override: str | None) -> dict[str, object]:
    path = EXAMPLES / example / "scenario.yaml"
    with tempfile.TemporaryDirectory(prefix="bench_joint_") as tmp:
        t0 = time.perf_counter()
        split = run_scenario(path, override, out=Path(tmp) / "split", split=True)
        split_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        joint = run_scenario(path, override, out=Path(tmp) / "joint")
        joint_s = time.perf_counter() - t0
    body, base = load_scenario(path, override)
    inst, _ = to_multiservice(build_joint(body, base))
    assert joint.joint is not None
    jm = joint.joint.metrics
    sm = evaluate_joint(inst, split_plan_on_joint(inst, split))
    return {
        "name": f"{example}" + (f"/{override}" if override else ""),
        "services": [svc.name for svc in inst.services],
        "weights": [svc.weight for svc in inst.services],
        "people": [float(svc.weights.sum()) for svc in inst.services],
        "split_cov": sm.covered_people.tolist(),
        "joint_cov": jm.covered_people.tolist(),
        "split_w": sm.weighted_coverage,
        "joint_w": jm.weighted_coverage,
        "split_cost": sm.total_cost,
        "joint_cost": jm.total_cost,
        "split_cost_by_service": sm.cost_by_service.tolist(),
        "joint_cost_by_service": jm.cost_by_service.tolist(),
        "budget": body.budget.total,
        "split_violations": sm.violations,
        "joint_violations": jm.violations,
        "split_solve_s": split.summary["seconds"]["solve"],
        "joint_solve_s": joint.summary["seconds"]["solve"],
        "split_run_s": split_s,
        "joint_run_s": joint_s,
        "joint_status": joint.summary["solve"]["status"],
        "split_status": sorted({rec["solve"]["status"] for rec in split.summary["services"].values() if rec["solve"]}),
    }


def report(r: dict[str, object]) -> bool:
    print(f"\n== {r['name']}  (budget.total {r['budget']:,.0f})")
    print(
        f"{'service':<15} {'weight':>6} {'people':>10} {'split':>10} {'joint':>10} {'joint-split':>12}   cost split -> joint"
    )
    for k, name in enumerate(r["services"]):  # type: ignore[arg-type]
        sc, jc = r["split_cov"][k], r["joint_cov"][k]  # type: ignore[index]
        print(
            f"{name:<15} {r['weights'][k]:>6g} {r['people'][k]:>10,.0f} {sc:>10,.1f} {jc:>10,.1f} {jc - sc:>+12,.1f}"  # type: ignore[index]
            f"   {r['split_cost_by_service'][k]:>11,.0f} -> {r['joint_cost_by_service'][k]:,.0f}"  # type: ignore[index]
        )
    sw, jw = float(r["split_w"]), float(r["joint_w"])  # type: ignore[arg-type]
    gain = jw - sw
    print(
        f"{'weighted total':<15} {'':>6} {'':>10} {sw:>10,.1f} {jw:>10,.1f} {gain:>+12,.1f}"
        f"   ({100 * gain / sw if sw else 0:+.2f} %)"
    )
    print(f"cost            split {r['split_cost']:,.0f}   joint {r['joint_cost']:,.0f}")
    print(
        f"seconds         split solve {r['split_solve_s']:.2f} (run {r['split_run_s']:.2f})   "
        f"joint solve {r['joint_solve_s']:.2f} (run {r['joint_run_s']:.2f})"
    )
    print(f"status          split {', '.join(r['split_status'])}   joint {r['joint_status']}")  # type: ignore[arg-type]
    if r["split_violations"]:
        print(f"split plan under the joint constraints: {'; '.join(r['split_violations'])}")  # type: ignore[arg-type]
    if r["joint_violations"]:
        print(f"JOINT PLAN VIOLATES: {'; '.join(r['joint_violations'])}")  # type: ignore[arg-type]
    ok = jw >= sw - 1e-6 * max(1.0, sw) and not r["joint_violations"]
    print("joint covers at least as many weighted people: " + ("yes" if ok else "NO"))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--example", action="append", help="example folder name (repeatable; default wuhai, helsinki)")
    parser.add_argument("--override", action="append", help="named override (repeatable; 'base' = none)")
    args = parser.parse_args()
    if args.example:
        overrides = [None if o in (None, "base") else o for o in (args.override or ["base"])]
        cases = [(e, o) for e in args.example for o in overrides]
    else:
        cases = DEFAULT
    ok = True
    for example, override in cases:
        ok &= report(compare(example, override))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
