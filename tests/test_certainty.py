"""GRADE-style certainty rules on constructed inputs (thresholds in evidence.analyses.certainty)."""

import math

import pytest

from evidence.analyses.certainty import (
    CertaintyInputs,
    assess,
    imprecision,
    inconsistency,
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
    ("judgements", "weights", "downgrade", "words"),
    [
        (["low", "low"], [1, 1], 0, "0% of the weight from high-risk"),
        (["high", "low", "low"], [3, 5, 2], 1, "30% of the weight from high-risk"),  # 30% > 25%
        (["high", "low"], [6, 4], 2, "60% of the weight"),  # 60% > 50%
        (["not-assessed", "low"], [6, 4], 1, "60% from studies whose risk of bias was not"),
        (["not-assessed", "not-assessed"], [1, 1], 1, "not assessed for any included study"),
        (["unclear", "low"], [4, 6], 0, "40% from studies"),  # 40% <= 50%
    ],
)
def test_risk_of_bias_by_weight_share(judgements, weights, downgrade, words):
    found, reason = risk_of_bias(judgements, weights)
    assert found == downgrade
    assert words in reason


@pytest.mark.parametrize(
    ("k", "i2", "ci", "pi", "downgrade"),
    [
        (2, 80.0, [0.1, 0.3], [-0.5, 0.9], 0),  # too few to judge
        (5, 30.0, [0.1, 0.3], [0.05, 0.35], 0),
        (5, 55.0, [0.1, 0.3], [0.02, 0.38], 1),  # I2 >= 50
        (5, 40.0, [0.1, 0.3], [-0.1, 0.5], 1),  # PI crosses the null, CI does not
        (5, 80.0, [0.1, 0.3], [-0.2, 0.6], 2),  # I2 >= 75 and PI crosses
        (5, 80.0, [0.1, 0.3], [0.05, 0.35], 1),  # I2 >= 75 but PI does not cross
    ],
)
def test_inconsistency(k, i2, ci, pi, downgrade):
    assert inconsistency(k, i2, ci, pi)[0] == downgrade


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


def test_levels_add_up_and_never_drop_below_very_low():
    # low start (2) - 1 (not assessed) - 2 (I2 80, PI crosses) -> 0 floor -> very low
    result = assess(inputs(judgements=["not-assessed"] * 2, i2=80.0, pi=[LOG(0.8), LOG(1.8)]))
    assert (result.start, result.proposed_level, result.level) == ("low", "very low", "very low")
    clean = assess(inputs(designs=["rct", "rct"]))
    assert (clean.start, clean.level) == ("high", "high")


def test_overrides_keep_the_proposal():
    justification = "heterogeneity explained by the follow-up length subgroups"
    result = assess(
        inputs(designs=["rct", "rct"], i2=60.0), [Override("inconsistency", 0, justification)]
    )
    domain = next(d for d in result.domains if d.domain == "inconsistency")
    assert (domain.proposed, domain.final) == (1, 0)
    assert domain.to_dict()["override"] == {"downgrade": 0, "justification": justification}
    assert (result.proposed_level, result.level) == ("moderate", "high")
    names = [d["domain"] for d in result.to_dict()["domains"]]
    assert names == [
        "risk-of-bias",
        "inconsistency",
        "indirectness",
        "imprecision",
        "publication-bias",
    ]
