"""The options of the capacity, equity, gradual-reach and robust models: which model takes them,
their command-line spelling, and the combinations that cannot be honoured (an error, never ignored).

Combinations that are exact and solved: an equity floor (``--min-group-share``) with capacities (the
floor on served demand), with gradual reach (on decayed credit) and with a robust plan (on the
nominal covered demand); each is one linear row per group on the other model (see
:func:`models.formulations.equity.floor_rows`). The max-min share combines with none of them, and
capacity, gradual reach and robust plans do not combine with each other.
"""

from __future__ import annotations

from typing import Any

#: Model(s) each option applies to (merged into ``optimizer.solve.OPTION_MODELS``).
EXTRA_OPTION_MODELS: dict[str, tuple[str, ...]] = {
    "min_group_share": ("mclp",),
    "maxmin_groups": ("mclp",),
    "reach_full": ("mclp",),
    "reach_max": ("mclp",),
    "decay_steps": ("mclp",),
    "robust_samples": ("mclp",),
    "robust_noise": ("mclp",),
    "robust_seed": ("mclp",),
    "robust_objective": ("mclp",),
}
#: Command-line spelling of each option, for messages.
EXTRA_FLAGS = {
    "min_group_share": "--min-group-share",
    "maxmin_groups": "--max-min-groups",
    "reach_full": "--reach-full",
    "reach_max": "--reach-max",
    "decay_steps": "--decay-steps",
    "robust_samples": "--robust-samples",
    "robust_noise": "--population-noise",
    "robust_seed": "--robust-seed",
    "robust_objective": "--robust-objective",
}
FLAGS = {**EXTRA_FLAGS, "capacitated": "--capacitated", "formulation": "--formulation"}


def extension_conflicts(model: str, given: dict[str, Any]) -> list[str]:
    """Why the options ``given`` (name -> value, only those set) do not fit together; empty if they do."""
    return equity_conflicts(model, given) + decay_conflicts(model, given) + robust_conflicts(model, given)


def equity_conflicts(model: str, given: dict[str, Any]) -> list[str]:
    """Equity options that cannot be honoured together with the others."""
    if model != "mclp" or not ({"min_group_share", "maxmin_groups"} & set(given)):
        return []
    out: list[str] = []
    if "min_group_share" in given and "maxmin_groups" in given:
        out.append("--min-group-share and --max-min-groups are two objectives: give one of them")
    if "maxmin_groups" in given:
        clash = [
            FLAGS[k] for k in ("capacitated", "reach_full", "reach_max", "decay_steps", "robust_samples") if k in given
        ]
        if clash:
            out.append(
                f"--max-min-groups does not combine with {', '.join(clash)} yet: remove one, "
                "or give a floor with --min-group-share instead (it combines with each)"
            )
    if given.get("formulation") not in (None, "auto"):
        out.append("--formulation does not apply to the equity models (they have one formulation): remove it")
    return out


def decay_conflicts(model: str, given: dict[str, Any]) -> list[str]:
    """Gradual-reach options that cannot be honoured together with the others."""
    decay = {"reach_full", "reach_max"} & set(given)
    steps = "decay_steps" in given
    if model != "mclp" or not (decay or steps):
        return []
    out: list[str] = []
    if steps and decay:
        out.append(
            "--decay-steps and --reach-full / --reach-max are two decay rules (a step table, a linear fall): give one"
        )
    elif len(decay) == 1:
        out.append(
            "--reach-full and --reach-max go together (coverage 1 up to the first, 0 from the second): give both"
        )
    if "radius" in given:
        out.append(
            "--radius and --decay-steps both set how far coverage reaches: give --decay-steps only"
            if steps
            else "--radius and --reach-full both set how far coverage is full: give --reach-full and --reach-max only"
        )
    clash = [FLAGS[k] for k in ("capacitated", "formulation") if k in given]
    if clash:
        out.append(f"gradual reach does not combine with {', '.join(clash)} yet: remove one")
    return out


def robust_conflicts(model: str, given: dict[str, Any]) -> list[str]:
    """Robust-plan options that cannot be honoured together with the others."""
    rob = {"robust_samples", "robust_noise", "robust_seed", "robust_objective"} & set(given)
    if model != "mclp" or not rob:
        return []
    if "robust_samples" not in given:
        return [f"{', '.join(FLAGS[k] for k in sorted(rob))} need --robust-samples K (the number of scenarios)"]
    other = ("capacitated", "reach_full", "reach_max", "decay_steps", "formulation")
    clash = [FLAGS[k] for k in other if k in given]
    return [f"robust plans do not combine with {', '.join(clash)} yet: remove one"] if clash else []


#: The models each option applies to; giving an option to any other model is an error, never
#: silently ignored. ``allow_split`` also needs ``capacitated``.
OPTION_MODELS: dict[str, tuple[str, ...]] = {
    "p": ("mclp", "pmedian", "pcenter"),
    "radius": ("mclp", "lscp"),
    "budget": ("mclp", "pmedian"),
    "capacitated": ("pmedian", "mclp", "lscp"),
    "allow_split": ("pmedian", "mclp", "lscp"),
    "objective": ("lscp",),
    "formulation": ("pmedian", "mclp", "lscp"),
    **EXTRA_OPTION_MODELS,
}
#: Command-line spelling of each option, for messages.
OPTION_FLAGS = {
    "p": "--p",
    "radius": "--radius",
    "budget": "--budget",
    "capacitated": "--capacitated",
    "allow_split": "--allow-split",
    "objective": "--objective",
    "formulation": "--formulation",
    **EXTRA_FLAGS,
}


def option_conflicts(model: str, given: dict[str, Any], solver: str | None = None) -> list[str]:
    """Why the options ``given`` (name -> value, only those the user set) do not fit ``model``
    (and ``solver``, if given).

    Returns one plain sentence per conflict (empty when everything applies).
    """
    from siting.optimizer.registry import solver_kind

    out: list[str] = []
    if solver is not None and solver_kind(solver) == "heuristic" and "formulation" in given:
        out.append(f"--formulation applies to exact solvers, not to the heuristic {solver.strip()!r}: remove it")
    for name in given:
        models = OPTION_MODELS.get(name)
        if models is not None and model not in models:
            out.append(f"{OPTION_FLAGS[name]} does not apply to model {model} (only to {', '.join(models)}): remove it")
    if "allow_split" in given and "capacitated" not in given and model == "pmedian":
        out.append("--allow-split applies to the capacitated p-median only: add --capacitated or remove --allow-split")
    elif "allow_split" in given and "capacitated" not in given and model in ("mclp", "lscp"):
        out.append(f"--allow-split applies to the capacitated {model} only: add --capacitated or remove --allow-split")
    if "capacitated" in given and model in ("mclp", "lscp") and given.get("formulation") not in (None, "auto"):
        out.append(f"--formulation does not apply to the capacitated {model} (it has one formulation): remove it")
    out += extension_conflicts(model, given)
    covering_forms = ("compact", "reduced")
    if model in ("mclp", "lscp") and given.get("formulation") not in (
        None,
        "auto",
        "classic",
        "benders",
        *covering_forms,
    ):
        out.append(
            f"--formulation {given['formulation']} is a p-median formulation; {model} takes auto, compact, reduced or benders"
        )
    if model == "pmedian" and given.get("formulation") in covering_forms:
        out.append(
            f"--formulation {given['formulation']} is a covering formulation; pmedian takes auto, classic, radius or benders"
        )
    if model == "pmedian" and "formulation" in given:
        form = given["formulation"]
        if "capacitated" in given:
            out.append(
                f"--formulation {form} does not apply to the capacitated p-median (it has one formulation): remove it"
            )
        elif form == "benders" and "budget" in given:
            out.append(
                "--formulation benders takes --p, not --budget: use --formulation radius or classic with --budget"
            )
        elif form == "benders" and "p" not in given:
            out.append("--formulation benders needs --p")
    return out
