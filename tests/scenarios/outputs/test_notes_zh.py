"""The notes and warnings of a run in Chinese: every catalogue pattern translates a note the code writes,
keeps its numbers and ids, and summary.json carries a ``*_zh`` twin of every human-readable field."""

from __future__ import annotations

import re

import pytest

from siting.scenarios.outputs import i18n
from siting.scenarios.outputs.note_text import FIELD_WORDS, PATTERNS, chinese_fields, field_text, translated

#: One note per catalogue entry, written the way the code writes it (f-strings filled in).
SAMPLES = {
    "phasing_rephased": "each site opens in the earliest phase whose budgets allow it, most valuable first (the "
    "objective values only the end state, so the solver's phases were arbitrary)",
    "phasing_as_solved": "as solved",
    "decay_rule": "childcare: gradual reach by step table: 1 within 400, 0.5 within 800, 0 beyond (metres)",
    "budget_shared": "none (shared budgets only)",
    "budget_own": "budget.per_service.toilet",
    "budget_none": "none",
    "budget_split_share": "37.5 % of budget.total 1,200,000 after the per-service budgets (split in proportion to "
    "weight x people served)",
    "budget_share": "37.5 % of budget.total 1,200,000 (split in proportion to weight x people served)",
    "max_sites_zero": "max_sites is 0: no new site is planned",
    "needs_more_sites": "covering everything coverable needs 7 new sites, more than max_sites = 4",
    "costs_more_than_own": "covering everything coverable costs 810,000, more than budget.per_service 500,000",
    "costs_more_than_share": "covering everything coverable costs 810,000, more than its share of budget.total 400,000",
    "no_cost_min_cost": "some eligible sites have no cost: costs are not reported; min_cost finds the fewest sites "
    "instead",
    "no_cost": "some eligible sites have no cost: costs are not reported",
    "max_sites_capped": "max_sites = 12 exceeds the 9 eligible sites: at most 9",
    "capacity_ignored": "capacity is used by the pmedian objective only; ignored",
    "least_cost_short": "least cost of covering everyone coverable is 2,345,000; budget.total is 2,000,000 (not enough)",
    "least_cost": "least cost of covering everyone coverable is 1,345,000; budget.total is 2,000,000",
    "few_alternatives": "only 3 distinct plans lie within the tolerance",
    "gap_open": "stopped before the gap closed",
    "not_proven": "stopped before optimality was proven",
    "no_time_to_build": "the time limit was used up before the model could be built",
    "greedy_kept": "the time limit stopped the solver; the greedy start is kept",
    "highs_warm_start": "HiGHS refused the warm start",
    "phases_ignored": "budget.phases is used by the joint multi-service model (siting run without --split); it is "
    "ignored here",
    "unknown_service_value": "layers.existing.service_values.sauna: no service of that name; it is ignored",
    "no_existing_match": "layers.existing: no facility matches a service (values of column 'kind' found: wc 3, "
    "school 2); name them like the services or map them with service_values",
    "unknown_cost_types": "services.toilet.cost_by_land_type: land types farm, port do not occur in the sites layer "
    "(land types there: park 4, street 9)",
    "unknown_eligible_types": "services.toilet.eligible_land_types: farm do not occur in the sites layer",
    "repaired_geometries": "layers.sites (wuhai.gpkg): repaired invalid geometries at ids P7, P9",
    "converted_crs": "layers.demand (blocks.gpkg): converted 120 features from GCJ-02 to WGS 84",
    "demand_off_streets": "10 demand points are farther than 250 m from any street and count as unreachable: "
    "way/1, way/2",
    "sites_off_streets": "5 sites are farther than 250 m from any street and cannot serve anyone: way/3",
    "empty_geometries": "3 empty or missing geometries skipped",
    "labels_dropped": "map.png: no free place for the rank label(s) 12, 7; see the plan table for every rank",
    "no_cjk_font": "map.png: no CJK font found (reinstall siting with its dependencies, which bring the font "
    "pylopdf-fonts-zh-cn, or install fonts-noto-cjk); the map's labels are written in English",
    "gpkg_no_geometry": "plan.gpkg: chosen sites without a geometry in the sites layer: P1, P2",
    "gpkg_pbf_streets": "plan.gpkg: the streets come from an .osm.pbf extract and are not copied into the streets layer",
    "gpkg_missing": "out/plan.gpkg not found: the map shows the chosen sites only; rerun `siting run` for the full map",
    # progress lines of a run
    "step_reading_layers": "reading layers",
    "step_network": "building the street network",
    "step_walking": "walking distances",
    "step_straight": "straight-line distances",
    "step_ranking": "ranking the plan",
    "step_reading_extract": "reading kotka_karhula.osm.pbf",
    "step_solving_alts": "solving jointly (max_coverage, 4 services, 30 demand x 40 plots, phases 2022, 2023, 2024) "
    "and 4 alternatives within 2 %",
    "step_solving": "solving each service on its own (min_cost, 2 services, 300 demand x 40 plots)",
    "step_solving_alone": "solving elderly_care alone (capacity, equity, 30 demand x 40 sites)",
    "step_solving_rest": "solving the other 3 service(s) (max_coverage, 30 demand x 40 plots)",
    "status_joint_model": "joint model: 224 rows, 490 columns, 2,704 nonzeros",
    "status_greedy": "greedy start: max_coverage 37,401 in 0.0 s",
    "status_stage": "cost stage: FEASIBLE, objective 11,470,000, bound 11,000,000, gap 4.1 %, 60.0 s",
    "status_tiles": "walking distances: 12 of 40 tiles, 123,456 pairs within 1,000 m",
    "stage_stopped": "primary stage stopped by the time limit",
    "stage_ended": "cost stage ended FEASIBLE (time limit)",
    "stage_skipped": "distance stage skipped: time limit reached",
    "stage_skipped_unproven": "distance stage skipped: the cost stage stopped before its proof, and the "
    "walking-distance model is larger still",
    "solver_overran_presolve": "HiGHS did not stop at its time limit (it checks the clock rarely in presolve)",
    "solver_overran": "SCIP did not stop at its time limit",
    "run_abandoned": "its run was abandoned",
    "start_kept": "the plan kept is the start it was given",
    "gdal_while_reading": "wuhai.yaml: layers.demand (blocks.gpkg): reading the file: Measured (M) geometry types are "
    "not supported. Original type 'Measured 3D Polygon' is converted to 'Polygon Z'",
}

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_pattern_has_a_sample_matched_by_it_alone() -> None:
    assert set(SAMPLES) == set(PATTERNS)
    for key, sample in SAMPLES.items():
        hits = [k for k, (en, _) in PATTERNS.items() if re.fullmatch(en, sample)]
        assert hits == [key], (key, hits)


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_translation_is_chinese_and_keeps_every_captured_part(key: str) -> None:
    sample = SAMPLES[key]
    zh = i18n.note("zh", sample)
    assert zh != sample and CJK.search(zh), zh
    hit = re.fullmatch(PATTERNS[key][0], sample)
    assert hit is not None
    for name, part in hit.groupdict().items():
        if part is None:
            continue
        # codes the catalogue says in words (a status, an objective, a service) appear as those words
        shown = field_text(name, part) if name in FIELD_WORDS else part
        assert shown in zh, (part, shown, zh)
    assert i18n.note("en", sample) == sample


def test_a_shortened_id_list_reads_in_chinese() -> None:
    zh = i18n.note("zh", "layers.sites (a.gpkg): repaired invalid geometries at ids P1, P2 (and 7 more)")
    assert zh == "layers.sites（a.gpkg）：已修复编号为 P1, P2（另有 7 个） 的无效几何"


def test_joined_notes_translate_part_by_part_and_unknown_parts_stay() -> None:
    a, b, unknown = SAMPLES["gap_open"], SAMPLES["highs_warm_start"], "a note nobody catalogued"
    zh = translated("zh", f"{a}; {unknown}; {b}")
    assert zh.split("；") == [i18n.note("zh", a), unknown, i18n.note("zh", b)]
    assert translated("zh", unknown) == unknown and translated("zh", "") == ""


def test_chinese_fields_twin_every_human_readable_field() -> None:
    summary = {
        "budget_split": SAMPLES["phases_ignored"],
        "phasing": None,
        "warnings": [SAMPLES["repaired_geometries"], "something new"],
        "solve": {"notes": [SAMPLES["gap_open"]], "message": SAMPLES["not_proven"]},
        "joint": {"note": SAMPLES["least_cost"]},
        "distance": {"network": {"notes": [SAMPLES["empty_geometries"]]}},
        "services": {
            "toilet": {"budget_source": SAMPLES["budget_shared"], "notes": [], "solve": {"message": ""}},
            "care": {"budget_source": SAMPLES["budget_own"], "notes": [SAMPLES["max_sites_zero"]], "solve": None},
        },
    }
    english = repr(summary)
    out = chinese_fields(summary)
    assert out is summary
    assert "phasing_zh" not in out  # None stays without a twin
    assert out["budget_split_zh"] == i18n.note("zh", SAMPLES["phases_ignored"])
    assert out["warnings_zh"] == [i18n.note("zh", SAMPLES["repaired_geometries"]), "something new"]
    assert out["solve"]["notes_zh"] == [i18n.note("zh", SAMPLES["gap_open"])]
    assert out["solve"]["message_zh"] == i18n.note("zh", SAMPLES["not_proven"])
    assert out["joint"]["note_zh"] == i18n.note("zh", SAMPLES["least_cost"])
    assert out["distance"]["network"]["notes_zh"] == [i18n.note("zh", SAMPLES["empty_geometries"])]
    assert out["services"]["toilet"]["budget_source_zh"] == i18n.note("zh", SAMPLES["budget_shared"])
    assert out["services"]["toilet"]["notes_zh"] == [] and out["services"]["toilet"]["solve"]["message_zh"] == ""
    assert out["services"]["care"]["notes_zh"] == [i18n.note("zh", SAMPLES["max_sites_zero"])]
    # the English fields are untouched: dropping the twins gives the input back
    for rec in [out, out["solve"], out["joint"], out["distance"]["network"], *out["services"].values()]:
        for key in [k for k in rec if k.endswith("_zh")]:
            del rec[key]
    out["services"]["toilet"]["solve"].pop("message_zh", None)
    assert repr(out) == english
