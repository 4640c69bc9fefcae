"""Harmonisation onto the analysis metric: every expected number is derived by hand here."""

import math
from dataclasses import replace

import pytest
from conftest import ANALYSIS, PERMISSIVE
from conftest import make_effect as effect
from conftest import make_record as study
from numpy.testing import assert_allclose

from evidence.analyses.harmonise import aggregate_cluster, harmonise, orientation
from evidence.analyses.spec import Exclusion
from evidence.effects.conversions import Converted, Unusable, to_metric
from evidence.records.model import (
    Statistic,
    Subgroup,
    TwoByTwo,
    TwoGroups,
)

RTOL = 1e-12
Z = 1.959963984540054  # qnorm(0.975)


def se_from_ci(lower, upper):
    return (math.log(upper) - math.log(lower)) / (2 * Z)


def test_hazard_ratio_with_ci_to_log_risk_ratio():
    # HR 1.26 (1.08, 1.48): yi = ln 1.26, sei = (ln 1.48 - ln 1.08) / (2 * 1.959964)
    result = to_metric(Statistic("HR", 1.26, (1.08, 1.48)), "log-risk-ratio")
    assert isinstance(result, Converted)
    assert_allclose(result.yi, math.log(1.26), rtol=RTOL)
    assert_allclose(result.vi, se_from_ci(1.08, 1.48) ** 2, rtol=1e-9)
    assert result.conversion.startswith("HR treated as RR")
    assert "ratio and 95% CI to log scale" in result.conversion


@pytest.mark.parametrize(
    ("measure", "value", "ci", "ratio", "lower", "upper", "words"),
    [
        # 57% (6, 123) increase -> ratio 1.57 (1.06, 2.23)
        ("percent-increase", 57, (6, 123), 1.57, 1.06, 2.23, "ratio 1 + p/100"),
        # 67% (59, 73) decrease -> ratio 0.33 with CI (1 - 0.73, 1 - 0.59) = (0.27, 0.41)
        ("percent-decrease", 67, (59, 73), 0.33, 0.27, 0.41, "ratio 1 - p/100"),
    ],
)
def test_percent_changes_become_ratios(measure, value, ci, ratio, lower, upper, words):
    result = to_metric(Statistic(measure, value, ci), "log-risk-ratio")
    assert_allclose(result.yi, math.log(ratio), rtol=1e-9)
    assert_allclose(result.vi, se_from_ci(lower, upper) ** 2, rtol=1e-9)
    assert words in result.conversion


def test_odds_ratio_to_smd_by_the_logit_method():
    # d = ln(OR) sqrt(3)/pi; v_d = v_lnOR 3/pi^2 (Chinn 2000)
    result = to_metric(Statistic("OR", 1.99, (1.47, 2.70)), "smd")
    assert_allclose(result.yi, math.log(1.99) * math.sqrt(3) / math.pi, rtol=1e-12)
    assert_allclose(result.vi, se_from_ci(1.47, 2.70) ** 2 * 3 / math.pi**2, rtol=1e-9)
    assert "OR to SMD by the logit method (Chinn 2000)" in result.conversion


def test_correlation_to_smd_and_fisher_z():
    # r = 0.28, se 0.07: d = 2r/sqrt(1-r^2); v_d = 4 se^2/(1-r^2)^3
    statistic = Statistic("r", 0.28, se=0.07)
    smd = to_metric(statistic, "smd")
    assert_allclose(smd.yi, 0.56 / math.sqrt(1 - 0.0784), rtol=1e-12)
    assert_allclose(smd.vi, 4 * 0.0049 / (1 - 0.0784) ** 3, rtol=1e-12)
    # z = atanh(r); v_z = se^2/(1-r^2)^2 (delta method)
    z = to_metric(statistic, "fisher-z")
    assert_allclose(z.yi, 0.5 * math.log(1.28 / 0.72), rtol=1e-12)
    assert_allclose(z.vi, 0.0049 / (1 - 0.0784) ** 2, rtol=1e-12)
    assert z.conversion.startswith("r to Fisher z")
    # from n = 103: v_z = 1/(n - 3) = 0.01
    assert_allclose(to_metric(Statistic("r", 0.3, n=103), "fisher-z").vi, 0.01, rtol=1e-12)


def test_two_by_two_table_with_a_zero_cell():
    # a=0, n1=10, c=5, n2=10 -> add 1/2: a=.5, b=10.5, c=5.5, d=5.5
    table = Statistic("RR", table=TwoByTwo(0, 10, 5, 10))
    rr = to_metric(table, "log-risk-ratio")
    assert_allclose(rr.yi, math.log((0.5 / 11) / (5.5 / 11)), rtol=1e-12)
    assert_allclose(rr.vi, 1 / 0.5 - 1 / 11 + 1 / 5.5 - 1 / 11, rtol=1e-12)
    odds = to_metric(replace(table, measure="OR"), "log-odds-ratio")
    assert_allclose(odds.yi, math.log(0.5 * 5.5 / (10.5 * 5.5)), rtol=1e-12)
    assert_allclose(odds.vi, 1 / 0.5 + 1 / 10.5 + 1 / 5.5 + 1 / 5.5, rtol=1e-12)


@pytest.mark.parametrize(
    ("statistic", "metric", "reason"),
    [
        (Statistic("RR", 2.3), "log-risk-ratio", "no CI or SE reported"),
        (Statistic("HR", range=(1.74, 2.39)), "log-risk-ratio", "only a range of estimates"),
        (
            Statistic("b", 0.16, (0.13, 0.19)),
            "log-risk-ratio",
            "measure b not convertible to log-risk-ratio",
        ),
        (Statistic("OR", 2.25, (1.51, 3.35)), "log-risk-ratio", "without the baseline risk"),
        (Statistic("HR", 1.2, (1.0, 1.44)), "log-odds-ratio", "without the baseline risk"),
        (Statistic("HR", 1.2, (1.0, 1.44)), "fisher-z", "measure HR not convertible to fisher-z"),
        (
            Statistic("SMD", groups=TwoGroups(5.0, 1.0, 20, 4.0, 1.0, 20)),
            "log-risk-ratio",
            "group means and SDs convert to smd only, not to log-risk-ratio",
        ),
        (
            Statistic("SMD", t=2.41, n1=42, n2=40),
            "fisher-z",
            "a t or F statistic convert to smd only",
        ),
        (Statistic("SMD", groups=TwoGroups(5.0, 0.0, 1, 4.0, 0.0, 1)), "smd", "give no SMD"),
        (Statistic("r", 0.2, p=0.01), "fisher-z", "no CI or SE reported"),
    ],
)
def test_unusable_statistics_keep_a_reason(statistic, metric, reason):
    result = to_metric(statistic, metric)
    assert isinstance(result, Unusable)
    assert reason in result.reason


def test_zero_width_interval_is_excluded_not_pooled():
    table = harmonise([study("flat", effect(value=1.2, ci=(1.2, 1.2)))], ANALYSIS)
    assert table.excluded[0].reason.startswith("no usable precision: variance 0")


def test_rare_outcome_assumption_admits_odds_ratios_and_says_so():
    result = to_metric(
        Statistic("OR", 2.25, (1.51, 3.35)), "log-risk-ratio", assume_rare_outcome=True
    )
    assert_allclose(result.yi, math.log(2.25), rtol=RTOL)
    assert "OR treated as RR (rare-outcome assumption)" in result.conversion


@pytest.mark.parametrize(
    ("higher_means", "higher_is", "measure", "sign", "words"),
    [
        ("fewer-ties", "harmful", "HR", 1, ""),
        ("more-ties", "harmful", "HR", -1, "contrast reversed"),
        (
            "fewer-ties",
            "beneficial",
            "HR",
            -1,
            "exact only for odds ratios, an approximation for HR",
        ),
        ("fewer-ties", "beneficial", "OR", -1, "exact for this measure"),
        ("more-ties", "beneficial", "log-OR", 1, "signs cancel, not flipped"),
    ],
)
def test_orientation_flips(higher_means, higher_is, measure, sign, words):
    item = effect(measure=measure, higher_means=higher_means, higher_is=higher_is)
    found_sign, found_words = orientation(item, "fewer-ties-harmful")
    assert found_sign == sign
    assert words in found_words


def test_flip_is_applied_to_yi():
    # Chang 2017 style: most vs least integrated HR 0.55 (0.41, 0.73) -> yi = -ln 0.55
    studies = [study("chang", effect(value=0.55, ci=(0.41, 0.73), higher_means="more-ties"))]
    row = harmonise(studies, ANALYSIS).rows[0]
    assert row.flipped
    assert_allclose(row.yi, -math.log(0.55), rtol=RTOL)


def test_adjustment_rule_keeps_the_most_adjusted_and_says_why():
    minimal = effect("minimal", value=1.73, ci=(1.65, 1.82), adjustment="minimally-adjusted")
    full = effect("full", value=1.26, ci=(1.20, 1.33))
    table = harmonise([study("elovainio", minimal, full)], ANALYSIS)
    kept = {r.effect: r for r in table.rows}
    assert kept["full"].included
    assert not kept["minimal"].included
    assert kept["minimal"].reason == (
        "less adjusted estimate of the same effect (kept full, fully-adjusted)"
    )
    least = harmonise(
        [study("elovainio", minimal, full)], replace(ANALYSIS, adjustment="least-adjusted")
    )
    assert [r.effect for r in least.included] == ["minimal"]
    assert (
        len(harmonise([study("x", minimal, full)], replace(ANALYSIS, adjustment="all")).included)
        == 2
    )


def test_adjustment_rule_only_compares_the_same_subgroup():
    men = effect("men", subgroup=Subgroup("men", "male"), adjustment="minimally-adjusted")
    women = effect("women", subgroup=Subgroup("women", "female"))
    assert len(harmonise([study("s", men, women)], ANALYSIS).included) == 2


def test_spec_exclusions_and_missing_ci_keep_reasons():
    studies = [study("a", effect()), study("b", effect(value=2.3, ci=None)), study("c", effect())]
    analysis = replace(ANALYSIS, exclude=(Exclusion("c", "patients with cancer"),))
    table = harmonise(studies, analysis)
    reasons = {r.study: r.reason for r in table.excluded}
    assert reasons == {
        "b": "no CI or SE reported",
        "c": "excluded by the analysis: patients with cancer",
    }
    assert [r.study for r in table.rows] == ["a", "b", "c"]  # included first


def test_one_per_cohort_keeps_the_most_precise():
    wide = study("wide", effect(value=1.5, ci=(1.0, 2.25)), cohort="biobank")
    narrow = study("narrow", effect(value=1.26, ci=(1.2, 1.33)), cohort="biobank")
    other = study("other", effect())
    table = harmonise([wide, narrow, other], replace(ANALYSIS, dependence="one-per-cohort"))
    assert sorted(r.study for r in table.included) == ["narrow", "other"]
    (dropped,) = table.excluded
    assert dropped.reason.startswith("other cohort member chosen (narrow/e: same sample 'biobank'")


@pytest.mark.parametrize("rule", ["aggregate", "one-per-cohort"])
def test_outcome_families_kept_apart_are_never_combined_within_a_cohort(rule):
    # One cohort reports a coronary and a stroke estimate: an analysis that keeps outcome
    # families apart (the default) keeps one row of each, never their average or the more
    # precise of the two.
    coronary = effect("chd", value=1.5, ci=(1.0, 2.25), domain="cardiovascular")
    stroke = effect("stroke", value=1.2, ci=(1.1, 1.3), domain="cerebrovascular")
    analysis = replace(
        ANALYSIS,
        select=({"outcome.domain": ("cardiovascular", "cerebrovascular")},),
        dependence=rule,
        rho=0.5,
    )
    table = harmonise([study("s", coronary, stroke, cohort="biobank")], analysis)
    assert sorted(r.outcome_family for r in table.included) == ["cardiovascular", "cerebrovascular"]
    together = replace(analysis, eligibility=replace(PERMISSIVE, across_families="subgroups"))
    assert len(harmonise([study("s", coronary, stroke, cohort="biobank")], together).included) == 1


def test_multilevel_keeps_every_effect_with_its_cluster():
    a = study("a", effect(), cohort="biobank")
    b = study("b", effect(), cohort="biobank")
    table = harmonise([a, b, study("c", effect())], ANALYSIS)
    assert [r.cluster for r in table.included] == ["biobank", "biobank", "c"]
    assert "biobank (2 effects)" in table.dependence_note


def test_aggregate_two_effects_by_hand():
    # V = [[v1, r s1 s2], [r s1 s2, v2]]; W 1 is proportional to (v2 - c, v1 - c), c = r s1 s2;
    # ybar = ((v2 - c) y1 + (v1 - c) y2) / (v1 + v2 - 2c); vbar = v1 v2 (1 - r^2)/(v1 + v2 - 2c)
    y1, y2, v1, v2, rho = 0.2, 0.5, 0.01, 0.04, 0.5
    c = rho * math.sqrt(v1 * v2)
    expected_y = ((v2 - c) * y1 + (v1 - c) * y2) / (v1 + v2 - 2 * c)
    expected_v = v1 * v2 * (1 - rho**2) / (v1 + v2 - 2 * c)
    assert_allclose(
        aggregate_cluster([y1, y2], [v1, v2], rho), (expected_y, expected_v), rtol=1e-12
    )


def test_aggregate_rule_replaces_a_cluster_by_one_row():
    a = study("a", effect(value=1.2, ci=(1.0, 1.44)), cohort="k")
    b = study("b", effect(value=1.5, ci=(1.1, 2.05)), cohort="k")
    table = harmonise(
        [a, b, study("c", effect())], replace(ANALYSIS, dependence="aggregate", rho=0.5)
    )
    assert sorted(r.study for r in table.included) == ["c", "k"]
    aggregate = next(r for r in table.included if r.study == "k")
    ya, va = math.log(1.2), se_from_ci(1.0, 1.44) ** 2
    yb, vb = math.log(1.5), se_from_ci(1.1, 2.05) ** 2
    assert_allclose(
        (aggregate.yi, aggregate.vi), aggregate_cluster([ya, yb], [va, vb], 0.5), rtol=1e-9
    )
    assert all("combined into the cluster row 'k'" in r.reason for r in table.excluded)


def test_select_alternatives_and_list_valued_fields():
    plain = study("plain", effect())
    other = study("other", effect(outcome_name="cancer death"))
    analysis = replace(
        ANALYSIS, select=({"outcome.name": ("all-cause mortality",)}, {"study.id": ("other",)})
    )
    assert len(harmonise([plain, other], analysis).included) == 2
    only = replace(ANALYSIS, select=({"study.id": ("other",)},))
    assert [r.study for r in harmonise([plain, other], only).rows] == ["other"]


def test_a_subgroup_does_not_carry_the_whole_samples_n():
    """The record's n is the whole sample; a subgroup's own size is unknown, not summed."""
    from evidence.analyses.fit import participants, samples_without_n

    whole = study("cohort2001", effect("all"), n=5000)
    post_mi = study(
        "biobank2018", effect("post-mi", subgroup=Subgroup("people after a heart attack")), n=479054
    )
    table = harmonise([whole, post_mi], ANALYSIS)
    assert {row.study: row.n for row in table.rows} == {"cohort2001": 5000, "biobank2018": None}
    assert participants(table.included) == 5000  # not 484,054
    assert samples_without_n(table.included) == 1


def test_an_unset_list_field_is_not_reported_not_an_empty_level():
    """exposure.tie_types left out of a record is a missing value (None), never ''."""
    from evidence.records.model import Exposure

    def with_ties(effect_id, ties):
        plain = effect(effect_id)
        return replace(plain, exposure=replace(plain.exposure, tie_types=ties))

    records = [
        study("a", with_ties("family", ("family",))),
        study("b", with_ties("both", ("family", "friend"))),
        study("c", with_ties("unset", ())),
    ]
    assert Exposure.__dataclass_fields__["tie_types"].default == ()
    table = harmonise(records, replace(ANALYSIS, subgroups=("exposure.tie_types",)))
    levels = {row.study: row.fields["exposure.tie_types"] for row in table.rows}
    assert levels == {"a": "family", "b": "family;friend", "c": None}
