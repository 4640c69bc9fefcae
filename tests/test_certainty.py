"""GRADE certainty rules on constructed inputs (thresholds in evidence.analyses.certainty).

Every expected judgement is derived in the comment beside its case from the documented
rule; the weights and intervals are chosen so that each case sits on one side of a
threshold.
"""

import math

import pytest

from evidence.analyses.certainty import (
    DEFINITIONS,
    SYMBOLS,
    CertaintyInputs,
    assess,
    imprecision,
    inconsistency_full,
    indirectness,
    large_effect,
    risk_of_bias,
    small_study_effects,
    starting_level,
)
from evidence.analyses.spec import Override

LOG = math.log


def inputs(**changes):
    base = {
        "metric": "log-risk-ratio",
        "k": 12,
        "designs": ["prospective-cohort"] * 2,
        "judgements": ["low", "low"],
        "weights": [1.0, 1.0],
        "ci": [LOG(1.1), LOG(1.3)],
        "pi": [LOG(1.05), LOG(1.4)],
        "i2": 10.0,
        "egger_p": 0.5,
        "yi": [LOG(1.15), LOG(1.25)],
        "vi": [0.01, 0.01],
        "estimate": LOG(1.2),
        "indirect": [(), ()],
        "direct_judged": True,
    }
    base.update(changes)
    return CertaintyInputs(**base)


@pytest.mark.parametrize(
    ("designs", "level"),
    [
        (["rct", "cluster-rct"], "high"),
        (["rct", "prospective-cohort"], "low"),
        (["prospective-cohort"], "low"),
    ],
)
def test_starting_level_from_designs(designs, level):
    assert starting_level(designs)[0] == level


@pytest.mark.parametrize(
    ("judgements", "weights", "downgrade"),
    [
        (["low", "low"], [1, 1], 0),
        (["high", "low", "low"], [3, 5, 2], 0),  # high 30% <= 50%
        (["high", "low"], [6, 4], 1),  # high or worse 60% > 50%
        (["very-high", "low"], [6, 4], 2),  # very high 60% > 50%
        (["critical", "high"], [4, 6], 1),  # very high 40%; high or worse 100%
        (["unclear", "low"], [4, 6], 0),  # unclear is assessed, not high
        (["not-assessed", "low"], [6, 4], 0),  # not assessed is never a downgrade
    ],
)
def test_risk_of_bias_by_weight_share(judgements, weights, downgrade):
    assert risk_of_bias(judgements, weights)[0] == downgrade


def test_risk_of_bias_not_assessed_makes_the_rating_provisional_not_lower():
    result = assess(inputs(judgements=["not-assessed"] * 2))
    domain = result.domains[0]
    assert (domain.proposed, domain.rating) == (0, "not assessed")
    assert result.provisional
    assert "may be lower" in domain.footnote
    # low start, nothing rated down: still low, but flagged
    assert result.level == "low"
    assert "may be too high" in result.provisional_reason


@pytest.mark.parametrize(
    ("yi", "vi", "weights", "i2", "pi", "downgrade"),
    [
        # all above the null, I2 90%: differ in size, not direction -> not serious
        ([0.1, 0.3, 0.6], [0.01] * 3, [1, 1, 1], 90.0, [-0.3, 0.9], 0),
        # one small estimate below (weight 10% < 25%, not clearly: |-0.05| < 1.96 * 0.1)
        ([-0.05, 0.3, 0.4], [0.01] * 3, [1, 4.5, 4.5], 60.0, [-0.2, 0.8], 0),
        # 40% of the weight below, PI crosses, CIs [-0.6,-0.2] and [0.2,0.6] do not overlap
        # and one is clearly opposite ... but the other side is also clear -> 2
        ([-0.4, 0.4, 0.45], [0.01] * 3, [4, 3, 3], 80.0, [-0.9, 1.0], 2),
        # 40% of the weight below but not clearly (|-0.1| < 0.196), CIs [-0.296, 0.096]
        # and [0.104, 0.496] do not overlap, PI crosses -> serious
        ([-0.1, 0.3, 0.3], [0.01] * 3, [4, 3, 3], 55.0, [-0.5, 0.7], 1),
        # same, but the PI excludes the null -> not serious
        ([-0.1, 0.3, 0.3], [0.01] * 3, [4, 3, 3], 55.0, [0.01, 0.7], 0),
    ],
)
def test_inconsistency_from_direction_overlap_and_prediction_interval(
    yi, vi, weights, i2, pi, downgrade
):
    estimate = sum(w * y for w, y in zip(weights, yi, strict=True)) / sum(weights)
    found = inconsistency_full(
        inputs(k=3, yi=yi, vi=vi, weights=weights, i2=i2, pi=pi, estimate=estimate)
    )
    assert found[0] == downgrade


def test_inconsistency_same_direction_footnote_names_it():
    _down, _reason, note = inconsistency_full(
        inputs(k=3, yi=[0.1, 0.3, 0.6], vi=[0.01] * 3, weights=[1, 1, 1], i2=90.0)
    )
    assert note.startswith("All 3 estimates lie on the same side of no association")
    assert "not in direction" in note


def test_inconsistency_single_estimate_not_judged():
    assert inconsistency_full(inputs(k=1, yi=[0.2], vi=[0.01], weights=[1]))[0] == 0


@pytest.mark.parametrize(
    ("marks", "weights", "downgrade"),
    [
        ([(), ()], [1, 1], 0),
        ([(("exposure", "construct is loneliness"),), ()], [4, 6], 0),  # 40% indirect
        ([(("exposure", "construct is loneliness"),), ()], [6, 4], 1),  # 60% > 50%
        # 60% of the weight indirect in two elements
        ([(("exposure", "x"), ("population", "y")), ()], [6, 4], 2),
    ],
)
def test_indirectness_from_question_fields(marks, weights, downgrade):
    assert indirectness(inputs(indirect=marks, weights=weights))[0] == downgrade


def test_indirectness_not_judged_without_question_fields():
    found = indirectness(inputs(direct_judged=False))
    assert found[0] == 0
    assert found[1].startswith("not judged")


@pytest.mark.parametrize(
    ("metric", "ci", "downgrade", "words"),
    [
        ("log-risk-ratio", [LOG(1.1), LOG(1.3)], 0, "1.10 to 1.30 excludes the null"),
        ("log-risk-ratio", [LOG(0.9), LOG(1.2)], 1, "crosses the null"),
        # 0.70 <= 0.75 and 1.40 >= 1.25: appreciable benefit and harm
        ("log-risk-ratio", [LOG(0.7), LOG(1.4)], 2, "appreciable benefit and appreciable harm"),
        # 1.1 to 3.5: width ln 3.5 - ln 1.1 = ln 3.18 > ln 3
        ("log-odds-ratio", [LOG(1.1), LOG(3.5)], 1, "very wide"),
        ("smd", [-0.3, 0.25], 2, "-0.30 to 0.25"),
        ("smd", [0.1, 1.2], 1, "very wide"),
    ],
)
def test_imprecision(metric, ci, downgrade, words):
    found, reason = imprecision(metric, ci)
    assert found == downgrade
    assert words in reason


@pytest.mark.parametrize(
    ("k", "p", "downgrade", "words"),
    [
        (9, 0.01, 0, "need at least 10 studies (k = 9)"),
        (10, 0.05, 1, "p = 0.050"),
        (10, 0.2, 0, "no sign"),
        (12, None, 0, "not run"),
    ],
)
def test_small_study_effects_only_from_ten_studies(k, p, downgrade, words):
    found, reason = small_study_effects(k, p)
    assert found == downgrade
    assert words in reason


@pytest.mark.parametrize(
    ("ci", "upgrade"),
    [
        ([LOG(1.5), LOG(3.0)], 0),  # lower limit 1.5 <= 2
        ([LOG(2.1), LOG(4.0)], 1),  # whole CI beyond 2
        ([LOG(5.5), LOG(9.0)], 2),  # whole CI beyond 5
        ([LOG(0.1), LOG(0.4)], 1),  # whole CI below 0.5, not below 0.2
    ],
)
def test_large_effect_from_the_whole_interval(ci, upgrade):
    assert large_effect("log-risk-ratio", ci)[0] == upgrade


def test_large_effect_rates_up_only_clean_assessed_evidence():
    ci = [LOG(2.5), LOG(4.0)]
    yi, est = [LOG(3.0), LOG(3.3)], LOG(3.15)
    clean = assess(inputs(ci=ci, pi=ci, yi=yi, estimate=est))
    assert (clean.start, clean.level) == ("low", "moderate")  # low + 1
    assert clean.upgrades[0].final == 1
    unassessed = assess(inputs(ci=ci, pi=ci, yi=yi, estimate=est, judgements=["not-assessed"] * 2))
    assert unassessed.level == "low"
    assert unassessed.upgrades[0].reason.startswith("not considered")


def test_levels_add_up_and_never_drop_below_very_low():
    # low start (1) - 2 (CI 0.7 to 1.4: benefit and harm) - 1 (Egger p 0.01, k 12) -> 0
    result = assess(inputs(ci=[LOG(0.7), LOG(1.4)], egger_p=0.01))
    assert (result.start, result.proposed_level, result.level) == ("low", "very low", "very low")
    clean = assess(inputs(designs=["rct", "rct"]))
    assert (clean.start, clean.level) == ("high", "high")


def test_overrides_keep_the_proposal_and_explain_it():
    justification = "heterogeneity explained by the follow-up length subgroups"
    result = assess(
        inputs(designs=["rct", "rct"], ci=[LOG(0.9), LOG(1.2)]),
        [Override("imprecision", 0, justification)],
    )
    domain = next(d for d in result.domains if d.domain == "imprecision")
    assert (domain.proposed, domain.final) == (1, 0)
    assert domain.to_dict()["override"] == {"downgrade": 0, "justification": justification}
    assert justification in domain.footnote
    assert (result.proposed_level, result.level) == ("moderate", "high")


def test_results_section_has_levels_symbols_and_a_footnote_per_domain():
    section = assess(inputs()).to_dict()
    names = [d["domain"] for d in section["domains"]]
    assert names == [
        "risk-of-bias",
        "inconsistency",
        "indirectness",
        "imprecision",
        "publication-bias",
    ]
    assert [f["mark"] for f in section["footnotes"]] == list("abcdefgh")
    assert all(d["footnote"] for d in section["domains"] + section["upgrades"])
    assert section["symbol"] == SYMBOLS[section["level"]]
    assert [lv["level"] for lv in section["levels"]] == ["high", "moderate", "low", "very low"]
    assert section["definition"] == DEFINITIONS[section["level"]]
