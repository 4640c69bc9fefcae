"""Comparison of two sets of results dictionaries (the results JSON contract).

The dictionaries are built here by hand; the comparison only reads and compares them, so
every expected value below is one of the inputs or a flag derived from them by the rule in
the test name (e.g. a CI [-0.05, 0.30] on the log scale includes 0; [0.02, 0.30] does not).
"""

import json

import pytest

from evidence.analyses.compare import (
    NO_CHANGE,
    compare_results,
    format_value,
    has_changes,
    render,
    summarise,
)


def results(
    analysis_id="isolation-mortality",
    *,
    k=4,
    estimate=0.1,
    ci=(0.02, 0.18),
    pi=(-0.1, 0.3),
    tau2=0.01,
    i2=35.0,
    certainty="low",
    status="ok",
    title="Social isolation and all-cause mortality",
):
    """A results document with only the keys `evidence diff` reads (ARCHITECTURE.md)."""
    return {
        "id": analysis_id,
        "title": title,
        "status": status,
        "message": None,
        "metric": "log-risk-ratio",
        "scale": "log",
        "back_transform": "exp",
        "pooled": {
            "k": k,
            "estimate": estimate,
            "ci": list(ci),
            "pi": list(pi),
            "tau2": tau2,
            "i2": i2,
            "back_transformed": {
                "estimate": 1.0 + estimate,  # any number: the comparison only reads it
                "ci": [1.0 + ci[0], 1.0 + ci[1]],
                "pi": [1.0 + pi[0], 1.0 + pi[1]],
            },
        },
        "certainty": {"start": "high", "level": certainty, "domains": []},
    }


def test_identical_results_render_no_change_in_text_and_markdown():
    changes = compare_results([results(), results("b")], [results(), results("b")])
    assert not has_changes(changes)
    assert render(changes, "text") == NO_CHANGE == "no change"
    assert render(changes, "markdown") == "no change"
    assert json.loads(render(changes, "json"))["changed"] is False


def test_summary_reports_the_back_transformed_scale_and_model_scale_null():
    summary = summarise(results(estimate=0.2, ci=(0.1, 0.3)))
    assert summary.estimate == 1.2
    assert summary.ci == (1.1, 1.3)
    assert summary.ci_model == (0.1, 0.3)
    assert summary.k == 4
    assert summary.certainty == "low"


def test_changed_numbers_are_listed_field_by_field():
    changes = compare_results([results()], [results(k=5, estimate=0.12, tau2=0.02)])
    (change,) = changes
    assert change.kind == "changed"
    assert [f.field for f in change.fields] == ["k", "estimate", "tau2"]
    assert change.flags == ()
    text = render(changes, "text")
    assert "isolation-mortality (changed)" in text
    assert "4  ->  5" in text


@pytest.mark.parametrize(
    ("before_ci", "after_ci", "rule"),
    [
        ((0.02, 0.18), (-0.05, 0.30), "ci-includes-null"),
        ((-0.05, 0.30), (0.02, 0.18), "ci-excludes-null"),
    ],
)
def test_ci_crossing_the_null_is_flagged(before_ci, after_ci, rule):
    (change,) = compare_results([results(ci=before_ci)], [results(ci=after_ci)])
    assert [flag.rule for flag in change.flags] == [rule]


@pytest.mark.parametrize(
    ("before", "after", "rule"),
    [("low", "moderate", "certainty-up"), ("moderate", "very low", "certainty-down")],
)
def test_certainty_moves_are_flagged_with_their_direction(before, after, rule):
    (change,) = compare_results([results(certainty=before)], [results(certainty=after)])
    assert [flag.rule for flag in change.flags] == [rule]


def test_estimate_changing_side_of_the_null_is_flagged():
    (change,) = compare_results(
        [results(estimate=0.1, ci=(-0.1, 0.3))], [results(estimate=-0.1, ci=(-0.3, 0.1))]
    )
    assert [flag.rule for flag in change.flags] == ["direction-changed"]


def test_added_removed_and_status_changes_are_flagged():
    base = [results("kept"), results("gone")]
    head = [results("kept", status="insufficient-evidence"), results("new")]
    changes = compare_results(base, head)
    assert [(c.id, c.kind) for c in changes] == [
        ("kept", "changed"),
        ("new", "added"),
        ("gone", "removed"),
    ]
    assert [[f.rule for f in c.flags] for c in changes] == [
        ["status-changed"],
        ["analysis-added"],
        ["analysis-removed"],
    ]


def test_insufficient_evidence_without_pooled_falls_back_to_included_count():
    document = results(status="insufficient-evidence")
    document["pooled"] = None
    document["effects"] = {"included": 1, "excluded": 3, "studies": 1, "participants": None}
    summary = summarise(document)
    assert summary.k == 1
    assert summary.estimate is None
    assert summary.ci_model is None


def test_markdown_puts_flagged_conclusions_before_the_tables():
    base = [results("steady"), results("moved")]
    head = [results("steady", k=5), results("moved", ci=(-0.05, 0.3))]
    markdown = render(compare_results(base, head), "markdown")
    assert markdown.index("Changed conclusions") < markdown.index("### `moved`")
    assert markdown.index("### `moved`") < markdown.index("### `steady`")
    assert "| **k (effects)** | 4 | 5 |" in markdown


def test_markdown_escapes_titles_from_analysis_files():
    head = [results(title="a | b <script>")]
    markdown = render(compare_results([], head), "markdown")
    assert "a \\| b &lt;script&gt;" in markdown
    assert "<script>" not in markdown


def test_format_value_adds_digits_until_a_change_is_visible():
    assert format_value(1.19012, 1.19015) != format_value(1.19015, 1.19012)
    assert format_value(1.190012, 1.190011) == "1.190012"
    assert format_value(1.19012, 1.19012) == "1.19"
    assert format_value((0.5, 1.25)) == "[0.5, 1.25]"
    assert format_value(None) == "-"


def test_unknown_format_is_a_value_error():
    with pytest.raises(ValueError, match="unknown format"):
        render(compare_results([], [results()]), "html")


def test_markdown_neutralises_mentions_and_text_escapes_control_characters():
    """Issue 18 item 9: no @mention in the pull-request comment, no ANSI in the terminal."""
    import re

    head = [results(title="ping @octocat and @org/team \x1b[2J")]
    markdown = render(compare_results([], head), "markdown")
    assert re.search(r"@[A-Za-z0-9]", markdown) is None  # GitHub's mention pattern
    assert "@\u200boctocat and @\u200borg/team" in markdown
    text = render(compare_results([], head), "text")
    assert "\x1b" not in text and "\\x1b[2J" in text
