"""The options of the capacity, equity, gradual-reach and robust models: which model takes them,
their command-line spelling, and the combinations that cannot be honoured (an error, never ignored).
"""

from __future__ import annotations

from typing import Any

#: Model(s) each option applies to (merged into ``optimizer.solve.OPTION_MODELS``).
EXTRA_OPTION_MODELS: dict[str, tuple[str, ...]] = {
    "min_group_share": ("mclp",),
    "maxmin_groups": ("mclp",),
    "reach_full": ("mclp",),
    "reach_max": ("mclp",),
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
    if "capacitated" in given:
        out.append("equity floors and the max-min share do not combine with --capacitated yet: remove one")
    if given.get("formulation") not in (None, "auto"):
        out.append("--formulation does not apply to the equity models (they have one formulation): remove it")
    return out


def decay_conflicts(model: str, given: dict[str, Any]) -> list[str]:
    """Gradual-reach options that cannot be honoured together with the others."""
    decay = {"reach_full", "reach_max"} & set(given)
    if model != "mclp" or not decay:
        return []
    if len(decay) == 1:
        return ["--reach-full and --reach-max go together (coverage 1 up to the first, 0 from the second): give both"]
    out: list[str] = []
    if "radius" in given:
        out.append(
            "--radius and --reach-full both set how far coverage is full: give --reach-full and --reach-max only"
        )
    clash = [FLAGS[k] for k in ("capacitated", "min_group_share", "maxmin_groups", "formulation") if k in given]
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
    other = ("capacitated", "min_group_share", "maxmin_groups", "reach_full", "reach_max", "formulation")
    clash = [FLAGS[k] for k in other if k in given]
    return [f"robust plans do not combine with {', '.join(clash)} yet: remove one"] if clash else []
