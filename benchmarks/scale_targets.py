"""The city-scale target table, read back from the results of the three scale benchmarks.

Each row of the table names a case, what it must reach, what it aims at, what was measured and whether
the must line holds. The figures come from the CSV files the benchmarks write (run them first; a row
whose run is missing says so instead of guessing)::

    python benchmarks/bench_city_scale.py --out benchmarks/results/city_scale.csv
    python benchmarks/bench_pmedian_scale.py --out benchmarks/results/pmedian_scale.csv
    python benchmarks/bench_city_run.py --out benchmarks/results/city_run.csv
    python benchmarks/scale_targets.py                      # the table, as Markdown

``bench_city_scale.py --everything`` runs all three and then prints this table.

Times are wall seconds of the solve on the machine the benchmark ran on: read them with the load the
benchmark's own notes give (the CSVs carry CPU seconds next to wall seconds where the run measured them).
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: seconds of slack allowed past a time limit (process start-up and the final evaluation)
LIMIT_SLACK = 5.0


def _f(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Verdict:
    case: str
    must: str
    aim: str
    measured: str
    met: str  # "yes", "no" or "not run"


def _pct(gap: float | None) -> str:
    return "-" if gap is None else f"{100 * gap:.2f} %"


def _coverage(rows: list[dict[str, str]], case: str, must: str, aim: str, test: Callable[..., bool]) -> Verdict:
    """A city_scale.csv case: the default (``auto``) row, with the heuristic's objective beside it."""
    auto = next((r for r in rows if r["case"] == case and r["method"] == "auto"), None)
    if auto is None or auto.get("status") in (None, "", "ERROR"):
        why = "not run" if auto is None else f"error: {auto.get('message', '')[:80]}"
        return Verdict(case, must, aim, why, "not run" if auto is None else "no")
    heur = next((r for r in rows if r["case"] == case and r["method"] == "heuristic"), None)
    gap, secs, mb = _f(auto["gap"]), _f(auto["seconds"]), _f(auto["peak_mb"])
    obj, limit = _f(auto["objective"]), _f(auto["time_limit"])
    h_obj = _f(heur["objective"]) if heur else None
    text = f"{auto['status']}, gap {_pct(gap)}, {secs} s, {mb} MB"
    if h_obj is not None:
        text += f"; heuristic {h_obj:,.10g}"
    ok = test(
        status=auto["status"],
        gap=gap if gap is not None else float("inf"),
        seconds=secs if secs is not None else float("inf"),
        mb=mb if mb is not None else float("inf"),
        not_worse=h_obj is None or (obj is not None and (obj >= h_obj if auto.get("p") else True)),
        within_limit=limit is None or (secs is not None and secs <= limit + LIMIT_SLACK),
    )
    return Verdict(case, must, aim, text, "yes" if ok else "no")


def _across_seeds(verdict: Verdict, rows: list[dict[str, str]], test: Callable[..., bool]) -> Verdict:
    """The verdict of one seed widened to the seeds of the newest run in ``rows`` (lscp_seeds.csv:
    one ``code`` per run of the seeds): met only when every seed meets the must line."""
    runs = [r for r in rows if r.get("case") == verdict.case and r.get("method") == "auto"]
    if not runs:
        return verdict
    newest = [r for r in runs if r["code"] == runs[-1]["code"]]
    met = []
    for r in newest:
        gap, secs, limit = _f(r["gap"]), _f(r["seconds"]), _f(r["time_limit"])
        within = limit is None or (secs is not None and secs <= limit + LIMIT_SLACK)
        met.append(test(gap=gap if gap is not None else float("inf"), within_limit=within))
    each = ", ".join(f"seed {r['seed']}: {r['status']} {_pct(_f(r['gap']))}" for r in newest)
    text = f"{verdict.measured}; {sum(met)} of {len(met)} seeds met ({each})"
    return Verdict(
        verdict.case, verdict.must, verdict.aim, text, "yes" if all(met) else f"no ({sum(met)} of {len(met)} seeds)"
    )


def _pmedian(
    rows: list[dict[str, str]], instance: str, ps: list[int], must: str, aim: str, ok_all: Callable[..., bool]
) -> Verdict:
    """A pmedian_scale.csv group: every p must be OPTIMAL and match the published optimum."""
    got = {int(r["p"]): r for r in rows if r["instance"] == instance}
    if not got:
        return Verdict(instance, must, aim, "not run", "not run")
    missing = [p for p in ps if p not in got]
    proven = [p for p in ps if p in got and got[p]["status"] == "OPTIMAL" and got[p].get("matches") in ("yes", "")]
    total = sum(_f(got[p]["seconds"]) or 0.0 for p in ps if p in got)
    peak = max((_f(got[p]["peak_mb"]) or 0.0) for p in ps if p in got)
    text = f"{len(proven)}/{len(ps)} proven, {total:.1f} s in total, peak {peak:.0f} MB"
    if missing:
        text += f"; not run: p = {', '.join(map(str, missing))}"
    times = {p: _f(got[p]["seconds"]) for p in ps if p in got}
    ok = not missing and len(proven) == len(ps) and ok_all(total=total, peak=peak, times=times)
    return Verdict(instance, must, aim, text, "yes" if ok else "no")


def _city(rows: list[dict[str, str]]) -> list[Verdict]:
    must, aim = "<= 600 s wall, <= 4 GB, gap <= 2 %, every check ok", "<= 120 s, gap <= 0.5 %"
    totals = [r for r in rows if r["stage"] == "total" and r["case"].startswith("city_560000_2000")]
    if not totals:
        return [
            Verdict("make_city 560,000 / 2,000, --time-limit 300", must, aim, "not run", "not run"),
            Verdict("walking distances in make_city", "<= 60 s", "10 s", "not run", "not run"),
        ]
    # the row is judged on the newest run at the table's --time-limit 300; the newest at another limit
    # is quoted beside it (the aim's 120 s wall needs a shorter limit)
    at_300 = [r for r in totals if "_t300" in r["case"]]
    t = (at_300 or totals)[-1]
    other = [r for r in totals if "_t300" not in r["case"]]
    wall, mb, gap = _f(t["wall_s"]), _f(t["peak_mb"]), _f(t["gap"])
    beside = ""
    if other:
        o = other[-1]
        limit = o["case"].split("_t", 1)[-1].split(",")[0]
        beside = f"; --time-limit {limit}: {o['wall_s']} s wall, {o['peak_mb']} MB, gap {_pct(_f(o['gap']))}"
    checks_ok = "verified True" in t.get("note", "") and "checks not ok: none" in t.get("note", "")
    ok = (
        wall is not None
        and wall <= 600
        and mb is not None
        and mb <= 4096
        and gap is not None
        and gap <= 0.02
        and checks_ok
    )
    verdicts = [
        Verdict(
            "make_city 560,000 / 2,000, --time-limit 300",
            must,
            aim,
            f"{t['status']}, {wall} s wall, {mb} MB, gap {_pct(gap)}, checks {'ok' if checks_ok else 'NOT ok'}{beside}",
            "yes" if ok else "no",
        )
    ]
    dist = [r for r in rows if r["case"] == t["case"] and r["stage"] == "walking distances"]
    net = [r for r in rows if r["case"] == t["case"] and r["stage"] == "building the street network"]
    if dist:
        secs = (_f(dist[-1]["wall_s"]) or 0.0) + (_f(net[-1]["wall_s"]) or 0.0 if net else 0.0)
        verdicts.append(
            Verdict(
                "walking distances in make_city (network + distances)",
                "<= 60 s",
                "10 s",
                f"{secs:.1f} s",
                "yes" if secs <= 60 else "no",
            )
        )
    return verdicts


def table(results: Path = RESULTS) -> list[Verdict]:
    """Every target of the city-scale table, judged from the CSVs in ``results``."""
    cov = _rows(results / "city_scale.csv")
    pm = _rows(results / "pmedian_scale.csv")

    def lscp_ok(gap: float, within_limit: bool, **_: object) -> bool:
        return gap <= 0.01 and within_limit

    out = [
        _coverage(cov, "mclp10k", "OPTIMAL within 15 s", "3 s",
                  lambda status, seconds, **_: status == "OPTIMAL" and seconds <= 15),
        _coverage(cov, "mclp100k", "gap <= 2 % in 120 s, <= 2 GB, no worse than the heuristic", "<= 0.5 %",
                  lambda gap, mb, not_worse, within_limit, **_: gap <= 0.02 and mb <= 2048 and not_worse and within_limit),
        _across_seeds(_coverage(cov, "lscp100k", "gap <= 1 % within 120 s", "optimal", lscp_ok),
                      _rows(results / "lscp_seeds.csv"), lscp_ok),
        _coverage(cov, "mclp1m", "gap <= 5 % in 300 s, <= 6 GB", "<= 1 %",
                  lambda gap, mb, within_limit, **_: gap <= 0.05 and mb <= 6144 and within_limit),
        _pmedian(pm, "random5000x1000", [30], "OPTIMAL within 120 s, <= 2 GB", "30 s",
                 lambda total, peak, **_: total <= 120 and peak <= 2048),
        _pmedian(pm, "rl1304", [5, 10, 20, 50, 100, 200, 300, 400, 500], "9/9 proven, <= 40 s in total", "26 s",
                 lambda total, **_: total <= 40),
        _pmedian(pm, "pcb3038", [5, 10, 20, 50, 100, 150, 200, 300, 400, 500], "10/10 proven, <= 1,560 s, <= 1 GB",
                 "780 s", lambda total, peak, **_: total <= 1560 and peak <= 1024),
        _pmedian(pm, "usa13509", [10, 2000], "both proven, <= 2,265 s and <= 375 s, <= 3 GB", "755 s, 125 s",
                 lambda times, peak, **_: (times.get(10) or 1e9) <= 2265 and (times.get(2000) or 1e9) <= 375
                 and peak <= 3072),
    ]  # fmt: skip
    return out + _city(_rows(results / "city_run.csv"))


def markdown(verdicts: list[Verdict]) -> str:
    lines = ["| case | must | aim | measured | must met |", "|---|---|---|---|---|"]
    lines += [f"| {v.case} | {v.must} | {v.aim} | {v.measured} | {v.met} |" for v in verdicts]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder with the benchmarks' CSV files")
    args = ap.parse_args()
    print(markdown(table(args.results)))


if __name__ == "__main__":
    main()
