"""Page generation from hand-built results files (fast; no Sphinx build).

Every expected number is derived by hand in the test: the fixtures put ln(1.5), ln(1.2),
ln(1.9) on the model scale, so the natural scale shows exp(ln 1.5) = 1.50 and so on.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml
from test_book_fixtures import HOSTILE, make_result, make_study, write_results, write_svg

from evidence.report.book.analysis import FigureFile, analysis_page, methods_paragraph
from evidence.report.book.bibfile import site_bibtex
from evidence.report.book.catalogue import catalogue_page, study_page
from evidence.report.book.context import build_context
from evidence.report.book.findings import plain_sentence, summary_row
from evidence.report.book.inputs import (
    AnalysisResults,
    Bibliography,
    load_bibliography,
    load_results,
)
from evidence.report.book.landing import landing_fragment
from evidence.report.book.numbers import interval, natural, number, p_value
from evidence.report.book.pages import SiteInputs, generate_pages
from evidence.report.book.sections import subgroups
from evidence.report.book.toc import toc_yaml

EFFECT_ROWS = [
    "alpha2001,isolation-mortality,Alpha 2001,,alpha2001,true,,HR,1.5,1.2,1.9,0.405,0.0142,"
    "0.119,100.0,log-ratio,false,fully-adjusted,low,2001",
    "alpha2001,other,Alpha 2001,,alpha2001,false,no confidence interval,HR,1.1,,,,,,,,false,"
    "unadjusted,low,2001",
]


def _analysis(result=None, rows=EFFECT_ROWS):
    result = result or make_result()
    rows = tuple(
        dict(
            zip(
                "study effect label cohort cluster included reason measure_reported value lo hi "
                "yi vi sei weight conversion flipped adjustment risk_of_bias year".split(),
                row.split(","),
                strict=True,
            )
        )
        for row in rows
    )
    return AnalysisResults(result["id"], result["id"], result, rows)


def _context(studies, analyses, keys=frozenset()):
    return build_context(studies, Bibliography(None, frozenset(keys)), analyses)


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (1.5, 2, "1.50"),
        (-1.5, 2, "\u22121.50"),
        (-0.001, 2, "0.00"),
        (None, 2, "not reported"),
        (float("nan"), 2, "not reported"),
        (True, 2, "not reported"),
        (0.12345, 3, "0.123"),
    ],
)
def test_number_formats(value, digits, expected):
    assert number(value, digits) == expected


def test_interval_and_p_value():
    assert interval([1.2, 1.9]) == "1.20 to 1.90"
    assert interval(None) == "not reported"
    assert p_value(0.0004) == "< 0.001"
    assert p_value(0.0312) == "0.031"


def test_natural_scale_back_transforms_log_and_fisher_z():
    numbers = natural(make_result())
    assert number(numbers["estimate"]) == "1.50"  # exp(ln 1.5)
    assert interval(numbers["ci"]) == "1.20 to 1.90"
    assert interval(numbers["pi"]) == "0.90 to 2.50"
    fisher = make_result(estimate=math.atanh(0.3), ci=(math.atanh(0.1), math.atanh(0.5)))
    fisher.update(metric="fisher-z", back_transform="tanh")
    numbers = natural(fisher)
    assert number(numbers["estimate"]) == "0.30"  # tanh(atanh 0.3)
    assert interval(numbers["ci"]) == "0.10 to 0.50"


def test_natural_scale_prefers_back_transformed_when_given():
    result = make_result()
    result["pooled"]["back_transformed"] = {"estimate": 2.0, "ci": [1.0, 4.0], "pi": None}
    assert natural(result) == {"estimate": 2.0, "ci": (1.0, 4.0), "pi": None}


def test_sentence_when_ci_excludes_null_and_pi_includes_it():
    # CI exp(ln 1.2..ln 1.9) = 1.20..1.90 excludes 1; PI 0.90..2.50 includes it;
    # (1.5 - 1) x 100 = 50% higher.
    assert plain_sentence(make_result()) == (
        "Across 2 effects, social isolation, compared with integrated, went with worse "
        "all-cause mortality "
        "(RR 1.50, 50% higher risk; 95% CI 1.20 to 1.90); the 95% prediction interval (0.90 to "
        "2.50) includes no effect, so a new setting could show none. Certainty of the "
        "evidence: very low."
    )


def test_sentence_when_ci_includes_null():
    result = make_result(estimate=math.log(1.1), ci=(math.log(0.9), math.log(1.3)))
    assert plain_sentence(result).startswith(
        "Across 2 effects, the data are compatible with no association with all-cause "
        "mortality (RR 1.10, 10% higher risk; 95% CI 0.90 to 1.30)."
    )


@pytest.mark.parametrize(
    ("orient", "estimate", "words"),
    [
        ("fewer-ties-harmful", 0.5, "fewer or weaker social ties went with better"),
        ("more-ties-beneficial", 2.0, "more or stronger social ties went with better"),
        ("more-ties-harmful", 2.0, "more or stronger social ties went with worse"),
        ("fewer-ties-beneficial", 0.5, "fewer or weaker social ties went with worse"),
    ],
)
def test_sentence_direction_follows_orientation(orient, estimate, words):
    result = make_result(
        estimate=math.log(estimate),
        ci=(math.log(estimate * 0.9), math.log(estimate * 1.1)),
        pi=None,
    )
    result["orient"] = orient
    del result["question"]["exposure"]
    assert words in plain_sentence(result)


def test_sentence_names_the_question_exposure_as_the_oriented_side():
    result = make_result(estimate=math.log(0.5), ci=(math.log(0.4), math.log(0.6)), pi=None)
    result["question"].update(exposure="poor relationship quality", comparator="good quality")
    assert (
        "poor relationship quality, compared with good quality, went with better "
        "all-cause mortality"
    ) in plain_sentence(result)


def test_sentence_when_not_pooled():
    result = make_result()
    result.update(status="insufficient-evidence", message="only 1 usable effect")
    assert plain_sentence(result) == "Not pooled: only 1 usable effect."
    result["message"] = "Too little evidence to pool: 1 usable effect."
    assert plain_sentence(result) == "Too little evidence to pool: 1 usable effect."


def test_summary_row_cells():
    row = summary_row(make_result())
    assert row["k"] == "2 effects, 2 studies"
    assert row["participants"] == "3,000"
    assert row["estimate"] == "RR 1.50"
    assert row["ci"] == "1.20 to 1.90"
    assert row["pi"] == "0.90 to 2.50"
    assert row["i2"] == "40%"
    assert row["certainty"] == "very low (rated down for imprecision)"


def test_summary_row_says_when_studies_share_samples():
    result = make_result()
    result["pooled"]["k"], result["pooled"]["n_studies"] = 4, 3
    result["effects"] = {"included": 4, "excluded": 0, "studies": 3, "clusters": 2}
    assert summary_row(result)["k"] == "4 effects, 3 studies in 2 independent samples"


def test_summary_row_of_an_unpooled_analysis_counts_what_was_included():
    result = make_result()
    result.update(
        status="insufficient-evidence",
        pooled=None,
        effects={"included": 3, "excluded": 2, "studies": 1, "clusters": 1},
    )
    assert summary_row(result)["k"] == "3 effects, 1 study"


def test_analysis_page_sections_and_escaping():
    result = make_result(title=HOSTILE)
    result["published"] = [
        {
            "meta_analysis": "Holt-Lunstad <b>",
            "year": 2010,
            "source": "javascript:alert(1)",
            "quote": HOSTILE,
            "measure": "OR",
            "pooled": 1.5,
            "lo": 1.42,
            "hi": 1.59,
        }
    ]
    analysis = _analysis(result)
    figures = {
        "forest": FigureFile(
            "../figures/x-forest.svg", "Forest plot: <t>", "desc with :colon: and {role}`x`"
        )
    }
    page = analysis_page(
        analysis,
        _context([make_study()], [analysis], {"alpha2001"}),
        figures,
        [("Results (JSON)", "../results/x.json")],
    )
    assert page.startswith("# \\<script\\>")
    assert "<script>" not in page and "javascript:" not in page
    assert "{download}`Results (JSON) <../results/x.json>`" in page
    assert ":alt: desc with :colon: and role x\n" in page  # one line: no second option
    assert "| 1\\.20 to 1\\.90 |" in page  # natural-scale CI of exp(ln 1.2), exp(ln 1.9)
    assert "no confidence interval" in page  # the excluded effect keeps its reason
    assert "[alpha2001](../studies/alpha2001.md)" in page
    assert "Included studies: {cite:p}`alpha2001`." in page
    for section in (
        "## Heterogeneity",
        "## Certainty of the evidence",
        "## Methods",
        "## Published meta-analyses beside ours",
        "## What was selected",
    ):
        assert section in page


def test_methods_paragraph_is_written_from_the_spec():
    text = methods_paragraph(make_result())
    assert "the outcome area is mortality" in text  # field paths in words
    assert "outcome.domain" not in text
    assert "the most adjusted estimate" in text
    assert "REML estimator" in text
    assert "Hartung-Knapp-Sidik-Jonkman (t) inference." in text


@pytest.mark.parametrize(
    ("test", "words", "reason"),
    [
        ("z", "normal-theory (z)", "the three-level model gives a z test"),
        ("t", "t-distribution", "so a t distribution with k - 1 df is used"),
    ],
)
def test_methods_paragraph_says_what_the_three_level_model_did(test, words, reason):
    # the spec asks for knha; the pooled numbers come from the three-level model
    result = make_result()
    result["pooled"].update(method="REML (three-level)", test=test)
    text = methods_paragraph(result)
    assert (
        f"REML (three-level) estimator of tau\u00b2 and {words} inference (the "
        "specification asks for Hartung-Knapp-Sidik-Jonkman (t)"
    ) in text
    assert reason in text
    assert "cluster-robust (CR2)" not in text.split("(the specification")[0]


def test_methods_paragraph_reads_alternative_selections():
    result = make_result()
    result["spec"]["select"] = [
        {"population.condition": "post-mi", "outcome.domain": "mortality"},
        {"effect.subgroup.label": "history of MI"},
    ]
    assert (
        "Effects were selected where the health condition of the participants is post-mi; "
        "the outcome area is mortality or where the subgroup is history of MI."
    ) in methods_paragraph(result)


def test_methods_paragraph_of_an_unpooled_analysis_says_nothing_was_pooled():
    result = make_result()
    result.update(status="insufficient-evidence", pooled=None)
    assert "nothing was pooled" in methods_paragraph(result)


def test_subgroup_with_a_zero_standard_error_is_not_given_a_zero_width_interval():
    # two identical estimates under Knapp-Hartung: Q = 0, so SE = 0 and CI [y, y]
    result = make_result()
    level = dict(result["pooled"], k=2, se=0.0, ci=[0.2311, 0.2311], pi=None, back_transformed=None)
    result["subgroups"] = {
        "sex": {
            "subgroups": {"mixed": level},
            "q_between": 1.0,
            "q_between_df": 1,
            "q_between_p": 0.3,
        }
    }
    text = subgroups(result)
    assert r"not estimable \(SE of 0\: identical estimates\)" in text  # Markdown-escaped
    assert "1.26 to 1.26" not in text


def test_study_page_cites_known_keys_and_escapes_everything_else():
    study = make_study(text=HOSTILE, quote=HOSTILE, url="javascript:alert(1)")
    analysis = _analysis()
    page = study_page(study, _context([study], [analysis], {"alpha2001"}))
    assert "{cite:p}`alpha2001`" in page
    assert "<script>" not in page and "javascript:" not in page
    assert "> \\<script\\>" in page  # the quote, as a block quote of escaped text
    assert "- [Isolation and death](../analyses/isolation-mortality.md)\\: included" in page
    hostile_key = make_study("beta{raw}`x`")
    page = study_page(hostile_key, _context([hostile_key], [], {"beta{raw}`x`"}))
    assert "{cite:p}" not in page


def test_study_page_says_codes_and_field_names_in_words():
    note = "higher_means: fewer-ties reads more strain as weaker ties; follow_up_years as printed"
    study = make_study(text=note)
    page = study_page(study, _context([study], [_analysis()])).replace("\\", "")
    assert "higher_means" not in page and "follow_up_years" not in page
    assert "the direction recorded (fewer or weaker ties) reads more strain" in page
    assert "the follow-up in years as printed" in page
    assert "prospective cohort" in page and "prospective-cohort" not in page
    assert "social isolation (structural)" in page
    assert "not yet checked against the full text; read from the abstract" in page


def test_catalogue_lists_every_study_with_a_link():
    studies = [make_study("alpha2001"), make_study("beta2002", text="<i>x</i>")]
    page = catalogue_page(studies, _context(studies, [_analysis()]))
    assert "[alpha2001](studies/alpha2001.md)" in page
    assert "[beta2002](studies/beta2002.md)" in page
    assert ":::{container} table-scroll sortable-table" in page
    assert "<i>" not in page


def test_landing_lists_each_analysis_and_the_summary_figure():
    summary = FigureFile("_generated/figures/summary-forest.svg", "Summary", "All estimates")
    page = landing_fragment([_analysis()], summary, 1, 1)
    assert "[Isolation and death](_generated/analyses/isolation-mortality.md)" in page
    assert "```{figure} _generated/figures/summary-forest.svg" in page
    assert "No analysis results were found (3 study records, 5 effects)" in landing_fragment(
        [], None, 3, 5
    )


def test_load_results_order_and_problems(tmp_path):
    results = tmp_path / "results"
    write_results(
        results, [make_result("b-analysis"), make_result("a-analysis")], {"b-analysis": EFFECT_ROWS}
    )
    (results / "broken.json").write_text("{not json")
    analyses, problems = load_results(results)
    assert [a.id for a in analyses] == ["b-analysis", "a-analysis"]  # index.json order
    assert len(analyses[0].effects) == 2
    assert [(p.rule, p.line) for p in problems] == [("book-input-json", 1)]
    assert load_results(tmp_path / "missing") == ([], [])


def test_site_bibtex_fills_missing_fields_and_drops_unsafe_urls(tmp_path):
    bib = tmp_path / "references.bib"
    bib.write_text(
        "@misc{anon, note = {no author}}\n"
        "@article{x2001, author = {Smith, A. and others}, title = {T \\& U},"
        " journal = {J}, year = {2001}, url = {javascript:alert(1)}}\n"
    )
    text = site_bibtex(bib)
    assert "title = {[title not recorded]}" in text and "year = {n.d.}" in text
    assert "javascript" not in text
    assert "title = {T \\& U}" in text  # values kept as written, not re-encoded
    assert "author = {{Smith et al.}}" in text  # not "Smith and others" on the site
    bibliography, problems = load_bibliography(bib)
    assert problems == [] and bibliography.labels["x2001"] == "Smith et al. (2001)"


def test_toc_lists_generated_and_hand_written_pages():
    toc = yaml.safe_load(
        toc_yaml(
            [
                ("Findings", ["_generated/analyses/a"]),
                ("Studies", ["_generated/prisma", "_generated/bibliography"]),
            ]
        )
    )
    assert toc["root"] == "index"
    files = json.dumps(toc)
    assert "_generated/studies" not in files  # study pages are orphans (see catalogue)
    for name in (
        "_generated/analyses/a",
        "methods",
        "contributing",
        "_generated/prisma",
        "_generated/bibliography",
    ):
        assert f'"{name}"' in files


def test_generate_pages_copies_figures_and_refuses_paths_outside_build(tmp_path):
    build = tmp_path / "build"
    write_svg(build / "figures" / "isolation-mortality-forest.svg", "Forest", "A forest")
    outside = write_svg(tmp_path / "secret.svg", "x", "y")
    result = make_result(
        figures={"forest": "figures/isolation-mortality-forest.svg", "funnel": f"../{outside.name}"}
    )
    write_results(build / "results", [result], {result["id"]: EFFECT_ROWS})
    analyses, _ = load_results(build / "results")
    book = tmp_path / "book"
    stale = book / "_generated" / "studies" / "gone.md"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    inputs = SiteInputs([make_study()], Bibliography(None, frozenset()), analyses, None, build)
    problems = generate_pages(inputs, book)
    assert [p.rule for p in problems] == ["book-missing-figure"]
    generated = book / "_generated"
    assert (generated / "figures" / "isolation-mortality-forest.svg").exists()
    assert not (generated / "figures" / "secret.svg").exists()
    assert (generated / "results" / "isolation-mortality.json").exists()
    assert (generated / "studies" / "alpha2001.md").exists()
    assert not stale.exists()
    page = (generated / "analyses" / "isolation-mortality.md").read_text()
    assert "```{figure} ../figures/isolation-mortality-forest.svg" in page
    assert ":alt: A forest" in page
    assert Path(generated / "_toc.yml").exists()


@pytest.mark.parametrize(
    ("status", "counts", "expected"),
    [
        (
            "ok",
            {"included": 2, "excluded": 1, "studies": 2, "clusters": 2, "participants": 3000},
            "2 effects included from 2 studies in 2 independent samples (clusters) (3,000 "
            "participants); 1 selected effect excluded.",
        ),
        (
            "insufficient-evidence",
            {"included": 3, "excluded": 2, "studies": 1, "clusters": 1, "participants": 4642},
            "3 effects usable (not pooled) from 1 study in 1 independent sample (cluster) (4,642 "
            "participants); 2 selected effects excluded.",
        ),
    ],
)
def test_selection_summary_counts_with_singular_and_plural(status, counts, expected):
    from evidence.report.book.analysis import selection

    result = make_result()
    result.update(status=status, effects=counts)
    text = selection(_analysis(result), _context([], []))
    plain = text.replace("\\", "")
    assert expected in plain
    assert ("Usable effects (not pooled)" in plain) == (status != "ok")


def test_link_with_a_query_keeps_a_single_escaped_ampersand():
    # MyST-Parser escapes & in link targets and the HTML writer escapes it again
    # (MyST-Parser issue 760): the extension undoes the first escape as each doctree is read.
    from docutils.core import publish_doctree, publish_from_doctree
    from myst_parser.parsers.docutils_ import Parser

    from evidence.report.book.sphinx_ext import unescape_link_targets

    doctree = publish_doctree("[source](http://x.dk/s?p=1&q=2)\n", parser=Parser())
    unescape_link_targets(None, doctree)
    html = publish_from_doctree(doctree, writer_name="html5").decode()
    assert 'href="http://x.dk/s?p=1&amp;q=2"' in html


def test_the_bibliography_runs_a_to_z_once_by_the_label_a_reader_sees():
    # "Ahern and others" is written as the literal name {Ahern et al.}; an entry without
    # authors is labelled by its title. Both used to sort outside the A-Z run.
    from pybtex.database import Entry, Person

    from evidence.report.book.sphinx_ext import AuthorYearStyle

    def entry(key, author=None, year="2001", title=None):
        fields = {"year": year, **({"title": title} if title else {})}
        persons = {"author": [Person(author)]} if author else {}
        made = Entry("misc", fields=fields, persons=persons)
        made.key = key
        return made

    entries = [
        entry("teo", "Teo"),
        entry("ahern", "{Ahern et al.}"),
        entry("lundby", title="Swedish Lundby Study", year="n.d."),
        entry("add", title="Add Health study", year="n.d."),
        entry("berkman", "Berkman"),
    ]
    ordered = [e.key for e in AuthorYearStyle().sort(entries)]
    assert ordered == ["add", "ahern", "berkman", "lundby", "teo"]


@pytest.mark.parametrize(("status", "pooled_count"), [("ok", 1), ("insufficient-evidence", 0)])
def test_prisma_counts_studies_pooled_in_an_analysis_that_was_pooled(
    tmp_path, status, pooled_count
):
    # alpha2001 has an included effect; it counts only when its analysis was pooled
    build = tmp_path / "build"
    result = make_result()
    result["status"] = status
    write_results(build / "results", [result], {result["id"]: EFFECT_ROWS})
    analyses, _ = load_results(build / "results")
    inputs = SiteInputs([make_study()], Bibliography(None, frozenset()), analyses, None, build)
    generate_pages(inputs, tmp_path / "book")
    page = (tmp_path / "book" / "_generated" / "prisma.md").read_text(encoding="utf-8")
    assert f"Studies pooled in at least one meta-analysis: {pooled_count}" in page


def test_univariate_sections_beside_a_three_level_estimate_say_what_to_compare_with():
    # exp(ln 1.55) = 1.55 and exp of the CI (ln 1.29, ln 1.85): the univariate estimate
    result = make_result()
    result["leave_one_out"] = [dict(result["pooled"], omitted="alpha2001", k=1)]
    result["dependence"] = {
        "rule": "multilevel",
        "univariate": dict(
            result["pooled"],
            estimate=math.log(1.55),
            ci=[math.log(1.29), math.log(1.85)],
            back_transformed=None,
        ),
    }
    page = analysis_page(_analysis(result), _context([], [_analysis(result)]), {}, [])
    note = "compare them with its estimate, 1.55 (95% CI 1.29 to 1.85)"
    assert page.replace("\\", "").count(note) == 1  # sensitivity only: no subgroups here
    del result["dependence"]
    page = analysis_page(_analysis(result), _context([], [_analysis(result)]), {}, [])
    assert "compare them with its estimate" not in page.replace("\\", "")


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("ok", "Isolation and death: included"),
        ("insufficient-evidence", "Isolation and death: usable, but the analysis was not pooled"),
    ],
)
def test_study_page_says_when_the_analysis_using_it_was_not_pooled(status, words):
    result = make_result()
    result["status"] = status
    study = make_study()
    page = study_page(study, _context([study], [_analysis(result)]))
    plain = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", page.replace("\\", ""))
    assert words in plain


def test_landing_says_participants_not_reported_in_that_order():
    result = make_result()
    result["pooled"]["n_participants"] = None
    result["effects"] = {"included": 2, "excluded": 0, "studies": 2, "clusters": 2}
    page = landing_fragment([_analysis(result)], None, 1, 1).replace("\\", "")
    assert "participants not reported" in page
    assert "not reported participants" not in page


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ("log-risk-ratio", "RR 1.50, 50% higher risk"),
        ("log-odds-ratio", "OR 1.50, 50% higher odds"),  # (1.5 - 1) x 100 = 50%
    ],
)
def test_sentence_names_what_the_percent_change_is_of(metric, words):
    result = make_result()
    result["metric"] = metric
    assert words in plain_sentence(result)


def test_build_without_a_book_configuration_is_a_problem_and_writes_nothing(tmp_path):
    from evidence.errors import EvidenceError
    from evidence.report.book import build_book

    with pytest.raises(EvidenceError) as raised:
        build_book(tmp_path / "results", tmp_path / "studies", tmp_path / "site", tmp_path / "book")
    assert [p.rule for p in raised.value.problems] == ["book-config-missing"]
    assert list(tmp_path.iterdir()) == []
