"""A whole synthetic city through ``siting run``: where the time goes, the bound, the gap, the memory.

On demand, not part of the test suite. From the repository root (``siting`` importable)::

    python benchmarks/bench_city_run.py                                   # 560,000 residents, 2,000 plots
    python benchmarks/bench_city_run.py --residents 100000 --plots 500 --seed 3 --time-limit 120

Each case runs ``benchmarks/make_city.py`` (SYNTHETIC data), then ``python -m siting.cli run
DIR/scenario.yaml --time-limit T`` in a fresh process under ``/usr/bin/time -v`` (peak resident
memory, user + system CPU seconds; without it only the wall time and the run's own
``peak_memory_mb``). Every progress line the run prints on stderr is stamped with the seconds since
the process started, so the stages (reading layers, network, distances, joint model, greedy, LP
bound, each lexicographic stage, ranking, writing the outputs) can be told apart; the solve record of
``summary.json`` gives status, objective, bound and gap of every stage and whether every check passed.

Writes one row per stage and one ``total`` row per case to ``benchmarks/results/city_run.csv``
(``--out`` to change): case, stage, wall_s (from the stamps), cpu_s (total row only), peak_mb,
status, objective, bound, gap, note. Wall seconds depend on the machine's load: say how loaded it was.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "city_run.csv"
COLUMNS = ("case", "stage", "wall_s", "cpu_s", "peak_mb", "status", "objective", "bound", "gap", "note")
#: Progress lines that end a stage: ``<label>: done in X s`` (steps) and the solver's stage lines.
DONE = re.compile(r"^\s*(?P<label>.+?): done in (?P<sec>[0-9.]+) s")


#: progress lines whose text up to the first colon is long, and the stage name a row gives them
LABELS = {"LP-guided MILP": "LP-guided MILP", "reduced costs fix": "reduced-cost fixing"}


def stamped_run(cmd: list[str], cwd: Path) -> tuple[int, list[tuple[float, str]], str]:
    """Run ``cmd``; return its exit code, its stderr lines stamped with seconds since start, and stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: list[tuple[float, str]] = []
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
    reader.start()
    assert proc.stderr is not None
    for line in proc.stderr:  # a loop over the run's progress lines
        lines.append((time.perf_counter() - t0, line.rstrip("\n")))
        print(f"{lines[-1][0]:8.1f} s  {lines[-1][1]}", flush=True)
    code = proc.wait()
    reader.join()
    return code, lines, "".join(out)


def time_v(lines: list[tuple[float, str]]) -> tuple[float | None, float | None]:
    """(CPU seconds, peak MB) from ``/usr/bin/time -v``'s report among the stderr lines."""
    user = system = peak = None
    for _, line in lines:
        text = line.strip()
        if text.startswith("User time (seconds):"):
            user = float(text.split(":")[1])
        elif text.startswith("System time (seconds):"):
            system = float(text.split(":")[1])
        elif text.startswith("Maximum resident set size (kbytes):"):
            peak = float(text.split(":")[1]) / 1024.0
    cpu = None if user is None or system is None else user + system
    return cpu, peak


def run_case(residents: int, plots: int, seed: int, time_limit: float, keep: Path | None) -> list[dict[str, object]]:
    """make_city + siting run for one city: the rows of the CSV."""
    case = f"city_{residents}_{plots}_s{seed}_t{time_limit:g}"
    tmp = Path(tempfile.mkdtemp(prefix="bench_city_"))
    try:
        city = tmp / "city"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "make_city.py"), "--residents", str(residents),
             "--plots", str(plots), "--seed", str(seed), "--out", str(city)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        print(f"{case}: make_city in {time.perf_counter() - t0:.1f} s", flush=True)
        out = city / "out"
        cmd = [sys.executable, "-m", "siting.cli", "run", str(city / "scenario.yaml"), "--time-limit", str(time_limit)]
        cmd += ["--out", str(out)]
        timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
        if timer:
            cmd = [timer, "-v", *cmd]
        t0 = time.perf_counter()
        code, lines, _ = stamped_run(cmd, ROOT)
        wall = time.perf_counter() - t0
        if code != 0:
            raise SystemExit(f"siting run failed with exit code {code}:\n" + "\n".join(t for _, t in lines[-20:]))
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        if keep is not None:
            shutil.copytree(out, keep / case, dirs_exist_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cpu, peak = time_v(lines)
    rows: list[dict[str, object]] = []
    last = 0.0
    for at, text in lines:  # one row per finished step, and per solver progress line
        m = DONE.match(text)
        if m or text.strip().startswith(("joint model", "greedy start", "LP bound", "LP-guided MILP", "reduced costs fix",
                                         "primary stage", "cost stage", "distance stage", "walking distances:")):  # fmt: skip
            label = m.group("label") if m else text.strip().split(":")[0]
            label = next((short for long_, short in LABELS.items() if label.startswith(long_)), label)
            rows.append({"case": case, "stage": label[:60], "wall_s": round(at - last, 1), "note": text.strip()[:200]})
            last = at
    rows.append({"case": case, "stage": "writing outputs (after ranking)", "wall_s": round(wall - last, 1)})
    solve = summary.get("solve") or {}
    for st in solve.get("stages") or []:
        rows.append(
            {
                "case": case,
                "stage": f"solver stage {st.get('name')}",
                "wall_s": None if st.get("seconds") is None else round(float(st["seconds"]), 1),
                "status": st.get("status"),
                "objective": st.get("objective"),
                "bound": st.get("bound"),
                "gap": st.get("gap"),
                "note": "; ".join(
                    f"{k} {st[k]:.6g}" if isinstance(st[k], float) else f"{k} {st[k]}"
                    for k in ("lp_bound", "lp_seconds", "incumbent", "fixed")
                    if k in st
                ),
            }
        )
    checks = summary.get("checks") or {}
    bad = [k for k, v in checks.items() if isinstance(v, dict) and v.get("ok") is False]
    rows.append(
        {
            "case": case,
            "stage": "total",
            "wall_s": round(wall, 1),
            "cpu_s": None if cpu is None else round(cpu, 1),
            "peak_mb": round(peak, 0) if peak is not None else summary.get("peak_memory_mb"),
            "status": solve.get("status"),
            "objective": solve.get("objective"),
            "bound": solve.get("bound"),
            "gap": solve.get("gap"),
            "note": f"verified {solve.get('verified')}; checks not ok: {', '.join(bad) or 'none'}; "
            f"run peak_memory_mb {summary.get('peak_memory_mb')}",
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, nargs="+", default=[560_000])
    parser.add_argument("--plots", type=int, nargs="+", default=[2_000], help="one per --residents value")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", type=Path, default=None, help="copy each run's output folder here")
    args = parser.parse_args()
    if len(args.plots) != len(args.residents):
        raise SystemExit("error: give one --plots value per --residents value")
    rows: list[dict[str, object]] = []
    for residents, plots in zip(args.residents, args.plots):
        rows += run_case(residents, plots, args.seed, args.time_limit, args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for r in rows:
        print("  ".join(f"{k}={r[k]}" for k in COLUMNS if r.get(k) not in (None, "")))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
