"""Eligibility rules for pooling (issue 13): declared in the spec, enforced by the runner.

Constructed records and specs; every expected count follows from the rule named in the
test. Pooled numbers are not asserted here (they are the pooling tests' business), only
what is pooled, what is kept apart and what the results say about it.
"""

import math
from dataclasses import replace

import pytest
from conftest import make_analysis, make_effect, make_record

from evidence.analyses.fit import estimable, fit_analysis
from evidence.analyses.harmonise import adjustment_variants, harmonise
from evidence.analyses.spec import Eligibility, load_analysis
from evidence.records.model import Exposure, RiskOfBias, RobDomain

HAZARD = Eligibility(measure_families=("hazard",))


def with_contrast(effect, contrast_type):
    exposure = effect.exposure
    return replace(
        effect,
        exposure=Exposure(
            exposure.construct,
            exposure.contrast,
            exposure.higher_means,
            contrast_type=contrast_type,
        ),
    )


def cohort_records(n, measure="HR", **effect):
    """``n`` independent samples, one hazard (or other) ratio each."""
    values = [1.2, 1.4, 1.1, 1.6, 1.3]
    return [
        make_record(
            f"s{i}",
            make_effect(
                measure=measure, value=values[i], ci=(values[i] - 0.1, values[i] + 0.3), **effect
            ),
        )
        for i in range(n)
    ]


def test_default_family_is_the_metric_s_own():
    analysis = make_analysis(eligibility=None)
    assert analysis.rules.measure_families == ("risk",)
    assert make_analysis(eligibility=None, metric="smd").rules.measure_families == (
        "mean-difference",
    )


def test_other_measure_families_are_excluded_with_the_reason():
    studies = [*cohort_records(3), make_record("rr", make_effect(measure="RR"))]
    table = harmonise(studies, make_analysis(eligibility=HAZARD))
    assert len(table.included) == 3
    (out,) = table.excluded
    assert out.reason == "a risk ratio: this analysis pools hazard ratios only"


def test_per_sd_estimates_are_kept_apart_from_category_contrasts():
    per_sd = with_contrast(make_effect(), "per-sd")
    studies = [*cohort_records(3), make_record("sd", per_sd)]
    table = harmonise(studies, make_analysis(eligibility=HAZARD))
    (out,) = table.excluded
    assert out.study == "sd"
    assert "per standard deviation estimate, kept apart" in out.reason
    only_sd = replace(HAZARD, contrasts=("per-sd",))
    kept = harmonise(studies, make_analysis(eligibility=only_sd))
    assert [r.study for r in kept.included] == ["sd"]


def test_fewer_independent_samples_than_the_minimum_are_not_pooled_but_listed():
    studies = cohort_records(2)
    table = harmonise(studies, make_analysis(eligibility=HAZARD))
    sections = fit_analysis(table, make_analysis(eligibility=HAZARD))
    assert sections["status"] == "insufficient-evidence"
    assert sections["pooled"] is None and sections["certainty"] is None
    assert "2 independent samples" in sections["message"]
    assert "at least 3" in sections["message"]
    assert "The studies are listed below." in sections["message"]
    check = next(c for c in sections["eligibility"]["checks"] if c["rule"] == "min-samples")
    assert check["passed"] is False
    assert len(sections["risk_of_bias"]["studies"]) == 2  # still listed


def test_a_shared_cohort_counts_once():
    # three effects, two of them from one cohort: two independent samples < 3
    studies = [
        make_record("a", make_effect(value=1.2, ci=(1.0, 1.5)), cohort="c1"),
        make_record("b", make_effect(value=1.3, ci=(1.1, 1.6)), cohort="c1"),
        make_record("c", make_effect(value=1.1, ci=(0.9, 1.4))),
    ]
    analysis = make_analysis(eligibility=HAZARD)
    sections = fit_analysis(harmonise(studies, analysis), analysis)
    assert sections["status"] == "insufficient-evidence"
    assert sections["eligibility"]["samples"] == 2


def outcome_family_studies():
    deaths = cohort_records(3)
    strokes = [
        make_record(
            f"t{i}",
            make_effect(
                domain="cardiovascular", outcome_name="stroke", value=v, ci=(v - 0.2, v + 0.4)
            ),
        )
        for i, v in enumerate((1.5, 1.7, 1.6))
    ]
    return deaths + strokes


@pytest.mark.parametrize("across", ["separate", "subgroups"])
def test_several_outcome_families_give_one_block_each(across):
    rules = replace(HAZARD, across_families=across)
    analysis = make_analysis(
        eligibility=rules, select=({"outcome.domain": ("mortality", "cardiovascular")},)
    )
    sections = fit_analysis(harmonise(outcome_family_studies(), analysis), analysis)
    assert [b["family"] for b in sections["by_family"]] == ["mortality", "cardiovascular"]
    assert all(b["status"] == "ok" and b["pooled"] for b in sections["by_family"])
    assert all(b["certainty"]["level"] for b in sections["by_family"])
    if across == "separate":
        assert sections["status"] == "by-family"
        assert sections["pooled"] is None
        assert "No overall estimate" in sections["message"]
    else:
        # the subgroup test decides: an overall diamond only when it does not reject
        p = sections["subgroups"]["outcome family"]["q_between_p"]
        assert (sections["status"] == "ok") == (p >= 0.10)
        assert (sections["pooled"] is not None) == (p >= 0.10)


def test_declared_outcome_families_exclude_what_matches_none():
    rules = replace(
        HAZARD,
        outcome_families=(("stroke", {"outcome.name": ("stroke",)}),),
    )
    analysis = make_analysis(
        eligibility=rules, select=({"outcome.domain": ("mortality", "cardiovascular")},)
    )
    table = harmonise(outcome_family_studies(), analysis)
    assert {r.outcome_family for r in table.included} == {"stroke"}
    assert all("none of the declared outcome families" in r.reason for r in table.excluded)


def test_adjustment_sensitivity_pools_most_least_and_fully_adjusted_only():
    studies = [
        make_record(
            "a",
            make_effect("full", value=1.2, ci=(1.0, 1.5)),
            make_effect("crude", value=1.6, ci=(1.3, 2.0), adjustment="unadjusted"),
        ),
        make_record("b", make_effect(value=1.3, ci=(1.1, 1.6), adjustment="not-reported")),
        make_record("c", make_effect(value=1.1, ci=(0.9, 1.4))),
        make_record("d", make_effect(value=1.4, ci=(1.1, 1.8))),
    ]
    analysis = make_analysis(eligibility=HAZARD)
    table = harmonise(studies, analysis)
    sections = fit_analysis(table, analysis, adjustment_variants(studies, analysis))
    rows = {r["rule"]: r for r in sections["adjustment"]["sensitivity"]}
    assert list(rows) == ["most-adjusted", "least-adjusted", "fully-adjusted-only"]
    assert rows["most-adjusted"]["k"] == 4
    assert rows["least-adjusted"]["k"] == 4
    assert rows["fully-adjusted-only"]["k"] == 3  # b's adjustment is not reported
    # least adjusted keeps a's crude 1.6 instead of its adjusted 1.2: a larger estimate
    assert rows["least-adjusted"]["estimate"] > rows["most-adjusted"]["estimate"]
    assert all(r["estimable"] for r in rows.values())
    assert sections["adjustment"]["included"]["not-reported"] == 1
    assert "1 estimate whose adjustment was not reported" in sections["finding"]["statement"]


def test_risk_of_bias_domains_feed_the_traffic_light_table():
    rob = RiskOfBias(
        "ROBINS-E", "high", domains=(RobDomain("confounding", "high", "crude estimate"),)
    )
    studies = cohort_records(3)
    studies[0] = replace(studies[0], risk_of_bias=rob)
    analysis = make_analysis(eligibility=HAZARD)
    sections = fit_analysis(harmonise(studies, analysis), analysis)
    table = sections["risk_of_bias"]
    assert [d["name"] for d in table["domains"]][0] == "confounding"
    first = table["studies"][0]
    assert first["domains"]["confounding"] == "high"
    assert first["support"]["confounding"] == "crude estimate"
    assert first["domains"]["missing-data"] == "not-assessed"  # never guessed
    assert table["summary"]["assessed"] == 1
    assert math.isclose(sum(s["weight"] for s in table["studies"]), 100.0)


@pytest.mark.parametrize(
    ("pooled", "ok"),
    [
        ({"estimate": 0.23, "ci": [0.23, 0.23], "se": 0.0}, False),  # "1.26 [1.26, 1.26]"
        ({"estimate": 0.0, "ci": [0.0, 0.0], "se": 0.0}, False),
        ({"estimate": 0.2, "ci": None}, False),
        ({"estimate": 0.2, "ci": [0.1, 0.3], "se": 0.05}, True),
    ],
)
def test_a_zero_width_interval_is_never_estimable(pooled, ok):
    assert estimable(pooled)[0] is ok


def test_check_analyses_are_not_rated():
    analysis = make_analysis(eligibility=HAZARD, kind="check")
    sections = fit_analysis(harmonise(cohort_records(3), analysis), analysis)
    assert sections["status"] == "ok"
    assert sections["certainty"] is None


SPEC = """\
id: x
title: X
question: {population: adults, exposure: isolation, comparator: integrated, outcome: death}
select: {outcome.domain: mortality}
metric: log-risk-ratio
orient: fewer-ties-harmful
adjustment: most-adjusted
dependence: multilevel
model: {method: REML}
"""


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        ("eligibility: {measure_families: [hazard, risk]}\n", "families-unjustified"),
        (
            "eligibility: {measure_families: [hazard, risk], "
            "measure_families_justification: rare outcome over follow-up}\n",
            "rare-outcome-required",
        ),
        (
            "eligibility: {outcome_families: {chd: {outcome.nme: [x]}}}\n",
            "unknown-field-path",
        ),
        ("question_fields: {exposure: {exposure.construct: [isolation]}}\n", "unknown-term"),
        ("bias: [funnel, failsafe]\n", "failsafe-discouraged"),
    ],
)
def test_spec_rules_of_the_eligibility_block(tmp_path, extra, rule):
    path = tmp_path / "x.yaml"
    _analysis, problems = load_analysis(path, text=SPEC + extra)
    assert rule in [p.rule for p in problems]


def test_a_justified_rare_outcome_combination_loads():
    extra = (
        "assume_rare_outcome: true\n"
        "eligibility: {measure_families: [hazard, risk], "
        "measure_families_justification: a first stroke is rare over these follow-ups}\n"
        "question_fields: {population: {population.condition: [null]}}\n"
        "kind: check\n"
    )
    analysis, problems = load_analysis("x.yaml", text=SPEC + extra)
    assert not [p for p in problems if p.severity == "error"], problems
    assert analysis.rules.measure_families == ("hazard", "risk")
    assert analysis.kind == "check"
    assert analysis.question_fields == (("population", {"population.condition": (None,)}),)
