"""Finding sentences and plain-language summaries (GRADE informative statements).

Wording rules from Santesso et al. 2020 (GRADE guidelines 26): high certainty states the
association, moderate says "probably", low says "may", very low says the evidence is
very uncertain. Numbers are constructed; each expected phrase follows from the rule.
"""

import pytest

from evidence.analyses.summary import (
    above_null_means,
    adjustment_note,
    finding,
    measure_label,
    plain_language,
)

QUESTION = {
    "population": "adults",
    "exposure": "social isolation",
    "comparator": "socially integrated",
    "outcome": "all-cause mortality",
}


def sentence(level, estimate, ci, adjustments=("fully-adjusted",) * 3, provisional=False):
    certainty = {"level": level, "provisional": provisional}
    return finding(
        QUESTION,
        "log-risk-ratio",
        "fewer-ties-harmful",
        ["hazard"] * 3,
        {"estimate": estimate, "ci": ci, "pi": None},
        certainty,
        list(adjustments),
        3,
        3,
    )


@pytest.mark.parametrize(
    ("level", "start"),
    [
        ("high", "Social isolation is associated with a higher risk of all-cause mortality"),
        (
            "moderate",
            "Social isolation is probably associated with a higher risk of all-cause mortality",
        ),
        ("low", "Social isolation may be associated with a higher risk of all-cause mortality"),
        (
            "very low",
            "The evidence is very uncertain about the association between social isolation "
            "and all-cause mortality",
        ),
    ],
)
def test_statement_wording_follows_the_certainty(level, start):
    found = sentence(level, 1.43, [1.04, 1.97])
    assert found["statement"].startswith(start)
    assert "hazard ratio 1.43, 95% CI 1.04 to 1.97; 3 studies" in found["statement"]
    assert found["direction"] == "higher"


def test_an_interval_across_the_null_keeps_the_exposure_and_says_so():
    found = sentence("low", 1.16, [0.92, 1.46])
    assert found["statement"].startswith("Social isolation may be associated with a higher risk")
    assert "also includes no association" in found["statement"]
    assert found["direction"] == "unclear"


def test_a_precise_null_is_little_or_no_difference():
    # 0.95 to 1.08 lies inside the appreciable bounds 0.75 and 1.25
    found = sentence("moderate", 1.01, [0.95, 1.08])
    assert found["direction"] == "little-or-no-difference"
    assert (
        "probably associated with little or no difference in all-cause mortality"
        in (found["statement"])
    )


def test_crude_and_unreported_adjustment_are_said():
    found = sentence("low", 1.4, [1.1, 1.8], ("unadjusted", "not-reported", "fully-adjusted"))
    assert (found["crude"], found["not_reported"]) == (1, 1)
    assert (
        "The 3 pooled estimates include 1 crude (unadjusted) estimate and 1 estimate whose "
        "adjustment was not reported."
    ) in found["statement"]
    assert adjustment_note(["fully-adjusted"]) is None


def test_provisional_ratings_say_risk_of_bias_was_not_assessed():
    found = sentence("low", 1.4, [1.1, 1.8], provisional=True)
    assert found["statement"].endswith(
        "Risk of bias has not been assessed, so certainty may be lower."
    )


@pytest.mark.parametrize(
    ("metric", "families", "label"),
    [
        ("log-risk-ratio", ["hazard"], "hazard ratio"),
        ("log-risk-ratio", ["hazard", "risk"], "risk ratio (hazard and risk ratios combined)"),
        (
            "smd",
            ["correlation", "odds"],
            "standardised mean difference (converted from correlations and odds ratios)",
        ),
        ("fisher-z", ["correlation"], "correlation"),
    ],
)
def test_measure_label(metric, families, label):
    assert measure_label(metric, families) == label


def test_direction_labels_never_mix_survival_and_death():
    assert above_null_means("fewer-ties-harmful", "death") == (
        "higher risk of death with fewer or weaker ties"
    )
    assert above_null_means("more-ties-beneficial", "survival", "log-odds-ratio") == (
        "higher odds of survival with more or stronger ties"
    )


def test_plain_language_summary_has_the_five_parts_and_the_numbers():
    found = sentence("low", 1.43, [1.04, 1.97])
    certainty = {
        "level": "low",
        "symbol": "⊕⊕⊝⊝",
        "definition": "Our confidence in the effect estimate is limited.",
        "start": "low",
        "domains": [{"label": "Imprecision", "final": 1}],
        "upgrades": [],
        "provisional": True,
    }
    summary = plain_language(QUESTION, "ok", None, found, certainty, 6, 3)
    assert summary["who"] == "Adults."
    assert summary["exposure"] == "Social isolation, compared with socially integrated."
    assert "gave a hazard ratio of 1.43 (95% CI 1.04 to 1.97)" in summary["what_we_found"]
    assert "about 43% higher risk of all-cause mortality" in summary["what_we_found"]
    assert summary["how_sure"].startswith("Low certainty (⊕⊕⊝⊝).")
    assert "rated down for imprecision" in summary["how_sure"]
    assert "not been assessed yet" in summary["how_sure"]
    unpooled = plain_language(
        QUESTION, "insufficient-evidence", "Not pooled: ...", None, None, 2, 2
    )
    assert unpooled["what_we_found"] == "Not pooled: ..."
    assert unpooled["how_sure"].startswith("Not rated")
