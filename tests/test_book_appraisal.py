"""Pages render what the runner judged (issue 13): pooling rules, adjustment sensitivity,
risk of bias, GRADE certainty with a footnote per domain, plain language, outcome families.

The results documents are hand-built in the shape of the "Results files" contract
(ARCHITECTURE.md); every expected string is either the runner's text passed through or
fixed words of the page generator, and every number is derived here: ln(1.43) and its
interval on the model scale show as 1.43 and "1.04 to 1.97" on the natural scale.
"""

from __future__ import annotations

import math
import re

import pytest
from test_book_fixtures import make_result, make_study
from test_book_pages import _analysis, _context

from evidence.report.book.analysis import analysis_page
from evidence.report.book.appraisal import (
    adjustment_section,
    by_family_section,
    certainty_badge,
    certainty_section,
    eligibility_section,
    judgement_cell,
    plain_language_box,
    risk_of_bias_section,
)
from evidence.report.book.findings import plain_sentence, summary_row
from evidence.report.book.landing import landing_fragment
from evidence.report.plots.summary import family_rows, summary_groups

DEFINITION_LOW = (
    "Our confidence in the effect estimate is limited: the true effect may be substantially "
    "different from the estimate of the effect."
)


def _plain(markdown: str) -> str:
    """Drop Markdown escapes and link targets, keep the text."""
    return re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", markdown.replace("\\", ""))


def _domain(domain, label, rating, final, mark, footnote, override=None):
    return {
        "domain": domain,
        "label": label,
        "proposed": final,
        "final": final,
        "rating": rating,
        "reason": "technical reason",
        "footnote": footnote,
        "mark": mark,
        "override": override,
    }


def appraised_result(status: str = "ok") -> dict:
    """A results document with every issue-13 section, as the runner writes them."""
    result = make_result()
    result["status"] = status
    result["kind"] = "finding"
    result["certainty"] = {
        "level": "low",
        "symbol": "\u2295\u2295\u229d\u229d",
        "definition": DEFINITION_LOW,
        "start": "low",
        "start_reason": "observational studies start at low certainty",
        "proposed_level": "low",
        "provisional": True,
        "provisional_reason": "Risk of bias has not been assessed for most of the weight.",
        "domains": [
            _domain("risk-of-bias", "Risk of bias", "not assessed", 0, "a", "Not assessed."),
            _domain(
                "inconsistency",
                "Inconsistency",
                "not serious",
                0,
                "b",
                "All estimates lie on the same side of no association.",
                {"justification": "checked by hand"},
            ),
            _domain("imprecision", "Imprecision", "serious", 1, "c", "The CI crosses 1."),
        ],
        "upgrades": [
            _domain("large-effect", "Large effect", "not rated up", 0, "d", "Not considered.")
        ],
    }
    result["finding"] = {
        "statement": "Isolation may be associated with a higher risk of death (low certainty).",
        "certainty": "low",
        "adjustment_note": "The 2 pooled estimates include 1 crude (unadjusted) estimate.",
    }
    result["plain_language"] = {
        "who": "Adults.",
        "exposure": "Isolation.",
        "outcome": "Death.",
        "what_we_found": "About 43% higher risk.",
        "how_sure": "Low certainty.",
    }
    result["eligibility"] = {
        "checks": [
            {"rule": "min-samples", "passed": True, "message": "3 independent samples"},
            {"rule": "one-measure-family", "passed": False, "message": "hazard and odds"},
        ],
        "measure_families": {"justification": "the outcome is rare in every study"},
    }
    result["adjustment"] = {
        "rule": "most-adjusted",
        "included": {"fully-adjusted": 1, "unadjusted": 1, "not-reported": 0},
        "sensitivity": [
            {
                "rule": "most-adjusted",
                "label": "Most adjusted estimate of each study",
                "k": 2,
                "samples": 2,
                "estimate": math.log(1.43),
                "ci": [math.log(1.04), math.log(1.97)],
                "pi": None,
                "estimable": True,
            },
            {
                "rule": "fully-adjusted-only",
                "label": "Fully adjusted estimates only",
                "k": 1,
                "samples": 1,
                "estimate": None,
                "ci": None,
                "pi": None,
                "estimable": False,
            },
        ],
    }
    result["risk_of_bias"] = {
        "tool": "ROBINS-E",
        "domains": [
            {"name": "confounding", "label": "Confounding"},
            {"name": "missing-data", "label": "Missing data"},
        ],
        "studies": [
            {
                "study": "alpha2001",
                "overall": "high",
                "weight": 60.0,
                "domains": {"confounding": "high", "missing-data": "not-assessed"},
                "support": {"confounding": "the only estimate is crude", "missing-data": None},
            }
        ],
        "summary": {"studies": 1, "assessed": 1, "weight_not_assessed": 40.0},
    }
    return result


def by_family_result() -> dict:
    result = appraised_result("by-family")
    result["message"] = (
        "No overall estimate: the studies measure 2 different kinds of outcome. Each kind of "
        "outcome is summarised on its own."
    )
    pooled = {
        "estimate": math.log(1.45),
        "ci": [math.log(0.65), math.log(3.22)],
        "pi": None,
        "i2": 83.0,
        "estimable": True,
    }
    result["by_family"] = [
        {
            "family": "coronary heart disease",
            "status": "ok",
            "k": 3,
            "samples": 3,
            "pooled": pooled,
            "certainty": {"level": "very low", "symbol": "\u2295\u229d\u229d\u229d"},
            "finding": {"statement": "The evidence is very uncertain about CHD."},
        },
        {
            "family": "stroke",
            "status": "insufficient-evidence",
            "k": 2,
            "samples": 2,
            "message": "Not pooled: 2 usable estimates from 2 independent samples.",
            "pooled": None,
            "certainty": None,
            "finding": None,
        },
    ]
    result["pooled"] = None
    return result


def test_certainty_shows_level_symbol_definition_and_a_footnote_per_domain():
    text = _plain(certainty_section(appraised_result()))
    assert "\u2295\u2295\u229d\u229d Low certainty** (provisional). " + DEFINITION_LOW in text
    for label, mark in [
        ("Risk of bias", "a"),
        ("Inconsistency", "b"),
        ("Imprecision", "c"),
        ("Large effect", "d"),
    ]:
        assert f"{label}{{sup}}`{mark}`" in text  # the mark beside the domain ...
        assert f"- {{sup}}`{mark}` " in text  # ... and its footnote below the table
    assert "| Imprecision{sup}`c` | serious | down 1 level |" in text
    assert "| Large effect{sup}`d` | not rated up | none |" in text
    assert "All estimates lie on the same side of no association. Reviewer's judgement: " in text
    assert "Risk of bias has not been assessed for most of the weight." in text  # provisional
    assert "{ref}`What the certainty levels mean <certainty-levels>`" in text


@pytest.mark.parametrize(
    ("kind", "words"),
    [("check", "A check of the pipeline is not a finding"), ("finding", "Not rated: there is")],
)
def test_no_rating_says_why(kind, words):
    assert words in _plain(certainty_section({"kind": kind, "certainty": None}))


def test_certainty_badge():
    assert certainty_badge({"level": "low", "symbol": "\u2295\u2295\u229d\u229d"}) == (
        "\u2295\u2295\u229d\u229d low"
    )
    assert certainty_badge({"level": "very low", "provisional": True}) == "very low (provisional)"
    assert certainty_badge({}) == "not rated"


def test_the_finding_sentence_is_the_runners():
    result = appraised_result()
    assert plain_sentence(result) == result["finding"]["statement"]
    row = summary_row(result)
    assert (
        row["certainty"]
        == "\u2295\u2295\u229d\u229d low (provisional) (rated down for imprecision)"
    )


def test_a_check_keeps_the_numbers_sentence_without_a_certainty():
    result = appraised_result()
    result["finding"]["certainty"] = None  # checks are never rated
    assert plain_sentence(result) != result["finding"]["statement"]
    assert "RR 1.50" in plain_sentence(result)


def test_plain_language_box_lists_the_five_parts_in_order():
    text = plain_language_box(appraised_result())
    parts = ["Who", "Exposure", "Outcome", "What we found", "How sure we are"]
    positions = [text.index(f"**{part}:**") for part in parts]
    assert positions == sorted(positions)
    assert text.startswith(":::{admonition} In plain language")


def test_eligibility_rules_met_and_not_met_in_words():
    text = _plain(eligibility_section(appraised_result()))
    assert "| Enough independent samples | met | 3 independent samples |" in text
    assert "| One kind of effect measure | **not met** | hazard and odds |" in text
    assert "Why different kinds of ratio are combined: the outcome is rare in every study" in text


def test_adjustment_table_marks_the_main_rule_and_says_what_was_pooled():
    text = _plain(adjustment_section(appraised_result()))
    # exp(ln 1.43) = 1.43 and so on: the table shows the natural scale
    assert (
        "| Most adjusted estimate of each study (the main analysis) | 2 (2) | 1.43 | "
        "1.04 to 1.97 | not reported |"
    ) in text
    assert "| Fully adjusted estimates only | 1 (1) | not pooled |" in text
    assert "1 fully adjusted, 1 unadjusted (crude)" in text
    assert "include 1 crude (unadjusted) estimate" in text  # the finding's note, as a caution


def test_risk_of_bias_traffic_lights_show_symbol_and_word():
    study = make_study()
    text = risk_of_bias_section(appraised_result(), _context([study], []))
    assert "D1 Confounding" in text and "D2 Missing data" in text
    assert judgement_cell("high") in text and judgement_cell("not-assessed") in text
    assert '<span class="rob rob-high" aria-hidden="true">\u00d7</span> high' in text
    assert "D1: the only estimate is crude" in _plain(text)
    assert "60.0%" in _plain(text)
    assert "studies not assessed carry 40% of the weight" in _plain(text)


def test_by_family_blocks_and_summary_sentence():
    result = by_family_result()
    text = _plain(by_family_section(result))
    assert "### Coronary heart disease" in text and "### Stroke" in text
    assert "The evidence is very uncertain about CHD." in text
    assert "| 3 (3) | 1.45 | 0.65 to 3.22 | not reported | 83% |" in text
    assert "Not pooled: 2 usable estimates from 2 independent samples." in text
    sentence = plain_sentence(result)
    assert sentence.startswith("No overall estimate: the studies measure 2 different kinds")
    assert "Coronary heart disease: The evidence is very uncertain about CHD." in sentence
    assert sentence.endswith("Too little evidence to pool: stroke (2 samples).")
    assert "Each kind of outcome" not in sentence


def test_landing_lists_pooled_findings_first_and_family_estimates():
    pooled, families = appraised_result(), by_family_result()
    families["id"], families["title"] = "chd-stroke", "Isolation and CHD or stroke"
    not_pooled = make_result("zzz-none", "Nothing pooled")
    not_pooled["status"] = "insufficient-evidence"
    not_pooled["message"] = "Not pooled: 1 usable estimate. The studies are listed below."
    page = _plain(
        landing_fragment(
            [_analysis(not_pooled), _analysis(families), _analysis(pooled)], None, 1, 1
        )
    )
    rows = [page.index(title) for title in ("Isolation and death", "CHD or stroke", "Nothing")]
    assert rows == sorted(rows)
    assert "Coronary heart disease: **RR 1.45**<br>95% CI 0.65 to 3.22" in page
    assert "coronary heart disease: \u2295\u229d\u229d\u229d very low" in page
    assert "Not pooled: 1 usable estimate." in page and "listed below" not in page


def test_analysis_page_puts_the_judgements_in_order():
    result = appraised_result()
    page = analysis_page(_analysis(result), _context([], [_analysis(result)]), {}, [])
    order = [
        "Finding",
        "In plain language",
        "## Rules for pooling",
        "## How much adjustment matters",
        "## What was selected",
        "## Risk of bias",
        "## Certainty of the evidence",
    ]
    positions = [page.index(title) for title in order]
    assert positions == sorted(positions)


def test_summary_forest_gives_each_outcome_family_its_own_row():
    row = {
        "id": "chd-stroke",
        "title": "Isolation and CHD or stroke, by outcome",
        "status": "by-family",
        "metric": "log-risk-ratio",
        "back_transform": "exp",
        "orient": "fewer-ties-harmful",
        "outcome": "coronary heart disease or stroke",
        "families": [
            {
                "family": "coronary heart disease",
                "exposure": "social isolation",
                "status": "ok",
                "k": 3,
                "back_transformed": {"estimate": 1.45, "ci": [0.65, 3.22], "pi": None},
                "estimable": True,
            },
            {"family": "stroke", "status": "insufficient-evidence", "k": 2},
        ],
    }
    split = family_rows(row)
    assert [r["outcome"] for r in split] == ["coronary heart disease"]
    assert split[0]["title"] == "Social isolation" and split[0]["k"] == 3
    groups = summary_groups([row])
    assert len(groups) == 1 and groups[0][0][3] == "coronary heart disease"


def test_methods_page_defines_every_certainty_level_with_its_symbol():
    from pathlib import Path

    from evidence.analyses.certainty import DEFINITIONS, SYMBOLS

    text = (Path(__file__).resolve().parents[1] / "book" / "methods.md").read_text("utf-8")
    assert "(certainty-levels)=" in text  # the target every certainty section links to
    for level, definition in DEFINITIONS.items():
        assert f"| {level.capitalize()} | {SYMBOLS[level]} | {definition} |" in text


@pytest.mark.parametrize(
    ("effects", "expected"),
    [
        ({"participants": 12067, "clusters": 1, "samples_without_n": 0}, "12,067 participants"),
        (
            {"participants": 5000, "clusters": 2, "samples_without_n": 1},
            "at least 5,000 participants (the number analysed is not known for 1 of 2 samples)",
        ),
        ({"participants": None, "clusters": 1}, "participants not reported"),
    ],
)
def test_participants_never_count_a_whole_cohort_for_its_subgroup(effects, expected):
    from evidence.report.book.findings import participants_text

    result = make_result()
    result["effects"] = effects
    result["pooled"]["n_participants"] = None
    assert participants_text(result) == expected


def test_every_rating_on_the_shipped_site_has_a_footnote_per_domain():
    """Live corpus, invariant only: each rated estimate's page carries every footnote."""
    import html

    from test_book_fixtures import shipped_site

    site, documents = shipped_site()
    rated = 0
    for document in documents:
        page = site / "_generated" / "analyses" / f"{document['id']}.html"
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text("utf-8"))).split())
        blocks = [document, *(document.get("by_family") or [])]
        for block in blocks:
            certainty = block.get("certainty") or {}
            if not certainty.get("level"):
                continue
            rated += 1
            assert certainty["symbol"] in text
            for domain in [*certainty["domains"], *certainty.get("upgrades", [])]:
                assert domain["footnote"] and " ".join(domain["footnote"].split()) in text
    assert rated  # the shipped analyses rate at least one estimate
