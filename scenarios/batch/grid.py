"""Variants of a scenario: ``--grid KEY=VALUES`` cross products, ``--variants`` CSV rows, stable ids.

A *variant* is the scenario file with a few settings changed. A setting is ``KEY=VALUE`` where KEY is

* a dotted path into the resolved scenario: ``budget.total``, ``services.public_toilet.reach_minutes``,
  ``services.childcare.weight``, ``solver.name``; ``services.*.X`` sets X on every service. Setting
  ``reach_minutes`` clears ``reach_m`` of the same service and the other way round (one reach each);
* ``scenario``: a named override under ``scenarios:`` merged first (``base`` = none);
* a transform (see :func:`apply_settings`): ``reach_factor`` (every reach times the factor),
  ``cost_factor`` (every cost times the factor), ``population_seed`` / ``population_spread``
  (every demand point's people times an independent factor drawn uniformly from
  ``[1 - spread, 1 + spread]``, seeded), ``close`` (existing facility ids, ``;``-separated, closed),
  ``open`` / ``force`` (``SITE:SERVICE`` entries, ``;``-separated: a facility on the plot outside
  the budget / paid from it; see :mod:`scenarios.batch.whatif`).

VALUES of ``--grid`` is ``a,b,c`` or ``start:stop:count`` (``count`` evenly spaced values, both ends
included). Several ``--grid`` make the cross product, in the order given (the last key varies
fastest). ``--variants FILE.csv`` gives the rows explicitly: one column per KEY.

The id of a variant is the first 12 hex digits of the SHA-256 of its settings (canonical JSON,
keys sorted): the same settings get the same id in every run, which is what makes a batch resumable.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from siting.models.errors import ScenarioError
from siting.scenarios.schema import ScenarioBody, load_scenario

#: Keys that are not dotted paths into the scenario but transforms applied to it or to its layers.
TRANSFORMS = (
    "scenario",
    "reach_factor",
    "cost_factor",
    "population_seed",
    "population_spread",
    "close",
    "open",
    "force",
)
#: Most variants one batch may hold (each is a full solve).
MAX_VARIANTS = 100_000


@dataclass(frozen=True)
class Variant:
    """One variant: its stable id and its settings (KEY -> value, in the order the keys were given)."""

    id: str
    settings: dict[str, Any]

    def label(self) -> str:
        """``key=value, ...`` for messages."""
        return ", ".join(f"{k}={v}" for k, v in self.settings.items()) or "(the scenario as written)"


def parse_value(text: str) -> Any:
    """A grid value: int, float, true / false, null, else the text itself."""
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none", ""):
        return None
    try:
        return canonical(int(t))
    except ValueError:
        pass
    try:
        return canonical(float(t))
    except ValueError:
        return t


def canonical(v: Any) -> Any:
    """Whole floats as ints (``8e6`` and ``8000000`` are one setting, so one id)."""
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


def parse_grid(option: str) -> tuple[str, list[Any]]:
    """``KEY=a,b,c`` or ``KEY=start:stop:count`` -> (KEY, values)."""
    key, sep, spec = option.partition("=")
    key = key.strip()
    if not sep or not key or not spec.strip():
        raise ScenarioError(
            f"--grid {option!r}: write KEY=a,b,c or KEY=start:stop:count, e.g. budget.total=6e6:1.2e7:4"
        )
    parts = spec.split(":")
    if len(parts) == 3 and "," not in spec and key not in ("open", "force"):
        try:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ScenarioError(
                f"--grid {option!r}: start:stop:count needs two numbers and a whole count, e.g. 333:1000:3"
            ) from None
        if count < 1:
            raise ScenarioError(f"--grid {option!r}: count must be at least 1")
        if count == 1:
            return key, [canonical(start)]
        step = (stop - start) / (count - 1)
        return key, [canonical(round(start + k * step, 10)) for k in range(count)]
    values = [parse_value(v) for v in spec.split(",")]
    if len(set(map(json.dumps, values))) != len(values):
        raise ScenarioError(f"--grid {option!r}: a value is repeated; give each value once")
    return key, values


def variant_id(settings: dict[str, Any]) -> str:
    """The stable id of a variant: SHA-256 of its settings as canonical JSON, 12 hex digits."""
    doc = json.dumps({k: canonical(v) for k, v in settings.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()[:12]


def make_variants(grids: list[str], variants_csv: str | Path | None = None) -> list[Variant]:
    """The variants of ``--grid`` options (cross product) or of a ``--variants`` CSV file.

    Without either, one variant: the scenario as written.
    """
    if grids and variants_csv is not None:
        raise ScenarioError("give either --grid options or --variants FILE.csv, not both")
    rows: list[dict[str, Any]] = []
    if variants_csv is not None:
        rows = read_variants_csv(Path(variants_csv))
    else:
        axes = [parse_grid(g) for g in grids]
        keys = [k for k, _ in axes]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ScenarioError(f"--grid {dup[0]} is given twice; put all its values in one --grid {dup[0]}=a,b,c")
        n = math.prod(len(v) for _, v in axes) if axes else 1
        if n > MAX_VARIANTS:
            raise ScenarioError(f"the grid makes {n:,} variants, more than {MAX_VARIANTS:,}; use fewer values")
        rows = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]
    out: list[Variant] = []
    seen: dict[str, int] = {}
    for k, row in enumerate(rows):
        settings = {key: canonical(v) for key, v in row.items()}
        vid = variant_id(settings)
        if vid in seen:
            raise ScenarioError(
                f"variants {seen[vid] + 1} and {k + 1} have the same settings ({Variant(vid, settings).label()}); "
                "give each variant once"
            )
        seen[vid] = k
        out.append(Variant(vid, settings))
    return out


def read_variants_csv(path: Path) -> list[dict[str, Any]]:
    """Rows of a variants file: a header of KEYs, one variant per row (empty cell = not set)."""
    from siting.scenarios.files import user_file

    path = user_file(path, "--variants", ScenarioError)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = [
                {k.strip(): parse_value(v) for k, v in r.items() if k is not None and v not in (None, "")}
                for r in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ScenarioError(
            f"--variants {path}: cannot read it as CSV ({exc}); save it as UTF-8 CSV with a header row"
        ) from None
    if not header or not rows:
        raise ScenarioError(
            f"--variants {path}: no rows; write a header of keys (e.g. budget.total) and one row per variant"
        )
    if len(rows) > MAX_VARIANTS:
        raise ScenarioError(f"--variants {path}: {len(rows):,} rows, more than {MAX_VARIANTS:,}")
    return rows


# ------------------------------------------------------------------------------ applying
def resolve(file: str | Path, settings: dict[str, Any], where: str) -> tuple[ScenarioBody, Path]:
    """The scenario of one variant: the file (and its override), with the dotted settings set, validated.

    ``where`` names the variant in messages. Transforms other than ``scenario`` are checked for
    type here and applied later (:func:`apply_settings`, :mod:`scenarios.batch.inputs`).
    """
    override = settings.get("scenario")
    if override == "base":
        override = None
    if override is not None and not isinstance(override, str):
        raise ScenarioError(f"{where}: scenario={override!r} must be the name of an override under scenarios:")
    try:
        base, base_dir = _loaded(Path(file), override)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    doc = copy.deepcopy(base)
    for key, value in settings.items():
        if key in TRANSFORMS:
            _check_transform(key, value, where)
            continue
        set_path(doc, key, value, where)
    apply_factors(doc, settings)
    try:
        return ScenarioBody.model_validate(doc), base_dir
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(f"{where}: {loc}: {first['msg']}") from None


_LOADED: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}


def _loaded(path: Path, override: str | None) -> tuple[dict[str, Any], Path]:
    """The resolved scenario as a dict, read once per file version and override (many variants share it)."""
    try:
        st = path.stat()
    except OSError:  # load_scenario says what is wrong with the path
        body, base_dir = load_scenario(path, override)
        return body.model_dump(mode="json"), base_dir
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, override)
    if key not in _LOADED:
        body, base_dir = load_scenario(path, override)
        if len(_LOADED) > 64:
            _LOADED.clear()
        _LOADED[key] = (body.model_dump(mode="json"), base_dir)
    return _LOADED[key]


def set_path(doc: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set ``doc[a][b][c] = value`` for ``key`` ``a.b.c``; ``*`` means every entry of a mapping."""
    parts = key.split(".")
    targets = [doc]
    for depth, part in enumerate(parts[:-1]):
        nxt = []
        for t in targets:
            keys = list(t) if part == "*" else [part]
            for k in keys:
                if not isinstance(t.get(k), dict):
                    fields = ", ".join(sorted(t)) if isinstance(t, dict) else ""
                    raise ScenarioError(
                        f"{where}: {key}: the scenario has no section {'.'.join(parts[: depth + 1])}"
                        + (f" (there: {fields})" if fields else "")
                        + "; check the key's spelling"
                    )
                nxt.append(t[k])
        targets = nxt
    last = parts[-1]
    for t in targets:
        t[last] = copy.deepcopy(value)
        if last == "reach_minutes" and "reach_m" in t:
            t["reach_m"] = None
        elif last == "reach_m" and "reach_minutes" in t:
            t["reach_minutes"] = None


def _check_transform(key: str, value: Any, where: str) -> None:
    if key in ("reach_factor", "cost_factor", "population_spread"):
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0 or not math.isfinite(value):
            raise ScenarioError(f"{where}: {key}={value!r} must be a positive number")
        if key == "population_spread" and value >= 1:
            raise ScenarioError(f"{where}: population_spread={value!r} must be below 1 (e.g. 0.15 for ±15 %)")
    elif key == "population_seed":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ScenarioError(f"{where}: population_seed={value!r} must be a whole number >= 0")
    elif key in ("close", "open", "force") and not isinstance(value, str):
        raise ScenarioError(f"{where}: {key}={value!r} must be ids separated by ';'")


def apply_factors(doc: dict[str, Any], settings: dict[str, Any]) -> None:
    """``reach_factor`` and ``cost_factor`` on a scenario dict (in place)."""
    rf = settings.get("reach_factor")
    cf = settings.get("cost_factor")
    for svc in doc.get("services", {}).values():
        if rf is not None:
            for k in ("reach_minutes", "reach_m"):
                if svc.get(k) is not None:
                    svc[k] = svc[k] * rf
        if cf is not None:
            svc["cost_by_land_type"] = {t: c * cf for t, c in (svc.get("cost_by_land_type") or {}).items()}
            if svc.get("default_cost") is not None:
                svc["default_cost"] = svc["default_cost"] * cf


def id_list(value: Any) -> list[str]:
    """``a;b;c`` -> ``[a, b, c]`` (empty entries dropped)."""
    if value is None:
        return []
    return [p.strip() for p in str(value).split(";") if p.strip()]


def validate_all(file: str | Path, variants: list[Variant]) -> None:
    """Resolve every variant before anything is solved; all problems in one error (one line each)."""
    problems: list[str] = []
    for k, v in enumerate(variants):
        try:
            resolve(file, v.settings, f"variant {k + 1} ({v.id}: {v.label()})")
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        head = f"{len(problems)} of {len(variants)} variants are not valid scenarios; nothing was solved"
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise ScenarioError(head + ":\n" + "\n".join(f"  - {p}" for p in shown))
