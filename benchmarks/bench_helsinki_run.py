"""Time ``siting run`` end to end on the bundled Helsinki example, with walking-network distances.

On demand, not part of the test suite. From the repository root::

    PYTHONPATH=. python benchmarks/bench_helsinki_run.py                 # median of 3 CLI runs
    PYTHONPATH=. python benchmarks/bench_helsinki_run.py --repeat 5 --scenario low_budget

Each repetition starts a fresh ``python -m cli run scenarios/examples/helsinki/scenario.yaml
--out TMP --quiet`` process, so the wall time is what a planner waits for: interpreter start-up,
imports, reading the layers, building the street network, walking distances, solving every service,
writing the outputs. Per-step seconds are read from the run's ``summary.json`` (``seconds``: the
pipeline's own timers; ``distances`` includes building the network). The script prints the median
of every column and whether the median wall time meets the target of 60 s (exit code 1 if not).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "examples" / "helsinki" / "scenario.yaml"
TARGET_S = 60.0


def run_once(scenario: Path, override: str | None) -> tuple[float, dict[str, float]]:
    """One ``siting run`` in a fresh process: (wall seconds, the pipeline's per-step seconds)."""
    with tempfile.TemporaryDirectory(prefix="bench_helsinki_") as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "cli", "run", str(scenario), "--out", str(out), "--quiet"]
        if override:
            cmd += ["--scenario", override]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"siting run failed with exit code {proc.returncode}:\n{proc.stderr}")
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    steps = {k: float(v) for k, v in (summary.get("seconds") or {}).items() if isinstance(v, (int, float))}
    distance = summary.get("distance") or {}
    if distance.get("method") != "network":
        print(f"note: this run measured {distance.get('method')!r} distances, not walking distances", file=sys.stderr)
    return wall, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="number of runs (default 3; the median is reported)")
    parser.add_argument("--scenario", default=None, help="named override to run (default: the base scenario)")
    parser.add_argument("--file", type=Path, default=SCENARIO, help="scenario file (default: the Helsinki example)")
    args = parser.parse_args()

    walls: list[float] = []
    steps: list[dict[str, float]] = []
    for k in range(args.repeat):
        wall, st = run_once(args.file, args.scenario)
        walls.append(wall)
        steps.append(st)
        detail = "  ".join(f"{name} {sec:.2f}" for name, sec in st.items())
        print(f"run {k + 1}: wall {wall:.2f} s  |  pipeline: {detail}")
    names = sorted({n for st in steps for n in st}, key=lambda n: list(steps[0]).index(n) if n in steps[0] else 99)
    medians = {n: statistics.median(st[n] for st in steps if n in st) for n in names}
    wall_median = statistics.median(walls)
    print(
        f"\nsiting run {args.file.relative_to(ROOT) if args.file.is_relative_to(ROOT) else args.file}"
        + (f" --scenario {args.scenario}" if args.scenario else "")
    )
    print(f"median of {args.repeat}: wall {wall_median:.2f} s (min {min(walls):.2f}, max {max(walls):.2f})")
    for n, sec in medians.items():
        print(f"  {n:<10} {sec:7.3f} s")
    ok = wall_median < TARGET_S
    print(f"target < {TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
