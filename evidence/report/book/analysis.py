"""One page per analysis: question, selection, forest plot, diagnostics, certainty.

The page is written from the results document and effects table only (never re-fitted).
Section order follows PRISMA 2020 items 13-22 (Page et al. 2021, BMJ 372:n71): synthesis
methods, results of syntheses, heterogeneity, sensitivity, reporting biases, certainty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.report.book import sections
from evidence.report.book.context import SiteContext, is_included
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.findings import plain_sentence
from evidence.report.book.inputs import AnalysisResults
from evidence.report.book.markdown import bullets, cite_many, figure, heading, join_blocks, table
from evidence.report.book.numbers import MISSING, finite, integer, number

#: Figures shown on an analysis page, in order, with their caption.
FIGURE_CAPTIONS = {
    "forest": "Forest plot: each included effect with its 95% CI and weight, and the pooled "
    "estimate with its confidence and prediction intervals.",
    "funnel": "Contour-enhanced funnel plot: effect against its standard error.",
    "cumulative": "Cumulative meta-analysis: the pooled estimate as effects are added.",
    "leave-one-out": "Leave-one-out: the pooled estimate with each effect omitted in turn.",
    "influence": "Influence diagnostics for each effect.",
    "baujat": "Baujat plot: contribution to heterogeneity against influence on the result.",
}

_SPEC_WORDS = {
    "most-adjusted": "the most adjusted estimate",
    "least-adjusted": "the least adjusted estimate",
    "all": "every adjustment level",
    "multilevel": "a three-level model (effects within clusters) where a cluster holds "
    "more than one effect",
    "aggregate": "aggregating effects within each cluster before pooling",
    "one-per-cohort": "keeping one effect per cohort",
}
#: Inference named in words.
_TEST_WORDS = {
    "z": "normal-theory (z)",
    "knha": "Hartung-Knapp-Sidik-Jonkman (t)",
    "t": "t-distribution",
}


@dataclass(frozen=True)
class FigureFile:
    """A figure copied into the site: its path from the page and its SVG title and desc."""

    path: str
    title: str
    description: str


def _spec(result: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = result.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def question_block(result: Mapping[str, Any]) -> str:
    """Return the PICO question as a list (population, exposure, comparator, outcome)."""
    question = result.get("question")
    if not isinstance(question, Mapping):
        return ""
    return bullets(
        f"**{esc(key.capitalize())}:** {esc(value)}" for key, value in question.items() if value
    )


def _effect_row(row: Mapping[str, str], context: SiteContext) -> list[str]:
    study = str(row.get("study", ""))
    values = [row.get("value"), row.get("lo"), row.get("hi")]
    reported = esc(f"{row.get('measure_reported', '')} {row.get('value', '')}".strip())
    if finite(values[1]) and finite(values[2]):
        reported += " " + esc(f"({row.get('lo')} to {row.get('hi')})")
    return [
        context.study_link(study),
        esc(row.get("effect")),
        reported,
        esc(row.get("adjustment")),
        esc(number(row.get("yi"), 3)),
        esc(number(row.get("sei"), 3)),
        esc(f"{number(row.get('weight'), 1)}%" if finite(row.get("weight")) else ""),
        esc(row.get("conversion")),
        esc("yes" if is_included(row.get("flipped")) else ""),
    ]


def selection(analysis: AnalysisResults, context: SiteContext) -> str:
    """Return what was selected, what was included and what was excluded and why."""
    counts = analysis.result.get("effects")
    counts = counts if isinstance(counts, Mapping) else {}
    included = [row for row in analysis.effects if is_included(row.get("included"))]
    excluded = [row for row in analysis.effects if not is_included(row.get("included"))]
    clusters = ""
    if finite(counts.get("clusters")):
        one = float(counts["clusters"]) == 1
        clusters = (
            f" in {integer(counts['clusters'])} independent "
            f"{'sample (cluster)' if one else 'samples (clusters)'}"
        )
    pooled = analysis.result.get("status") == "ok"
    n_included = counts.get("included", len(included))
    n_studies = counts.get("studies")
    n_excluded = counts.get("excluded", len(excluded))
    summary = esc(
        f"{_plural(n_included, 'effect')} {'included' if pooled else 'usable (not pooled)'} "
        f"from {_plural(n_studies, 'study', 'studies')}{clusters} "
        f"({integer(counts.get('participants'))} participants); "
        f"{_plural(n_excluded, 'selected effect')} excluded."
    )
    blocks = [summary]
    if included:
        blocks.append(heading(3, "Included effects" if pooled else "Usable effects (not pooled)"))
        blocks.append(
            table(
                [
                    "Study",
                    "Effect",
                    "As reported",
                    "Adjustment",
                    "yi",
                    "SE",
                    "Weight",
                    "Conversion",
                    "Flipped",
                ],
                [_effect_row(row, context) for row in included],
            )
        )
    if included:
        sources = cite_many(
            (context.citations.get(str(row.get("study", ""))) for row in included),
            context.bibliography.keys,
        )
        if sources:
            blocks.append("Included studies: " + sources + ".")
    if excluded:
        blocks.append(heading(3, "Excluded effects and why"))
        blocks.append(
            table(
                ["Study", "Effect", "Reason"],
                [
                    [
                        context.study_link(str(row.get("study", ""))),
                        esc(row.get("effect")),
                        esc(row.get("reason") or MISSING),
                    ]
                    for row in excluded
                ],
            )
        )
    return join_blocks(blocks)


def _plural(value: Any, singular: str, plural: str | None = None) -> str:
    """Return ``'1 study'``, ``'3 studies'``, or the missing marker with the plural noun."""
    if not finite(value):
        return f"{MISSING} {plural or singular + 's'}"
    return f"{integer(value)} {singular if float(value) == 1 else (plural or singular + 's')}"


def _words(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value) if value else "none"
    return _SPEC_WORDS.get(str(value), str(value)) if value is not None else MISSING


def methods_paragraph(result: Mapping[str, Any]) -> str:
    """Write the synthesis methods of one analysis from its spec (plain text)."""
    spec = _spec(result)
    given = spec.get("model")
    model: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    select = spec.get("select")
    alternatives = (
        [select]
        if isinstance(select, Mapping)
        else [
            item
            for item in (select if isinstance(select, list) else [])
            if isinstance(item, Mapping)
        ]
    )
    criteria = " or where ".join(
        "; ".join(f"{key} in {_words(value)}" for key, value in filters.items())
        for filters in alternatives
        if filters
    )
    parts = [
        f"Effects were selected where {criteria or 'the spec gives no filter'}.",
        f"Each effect was converted to the {result.get('metric', spec.get('metric', MISSING))} "
        f"scale and oriented by the rule {result.get('orient', spec.get('orient', MISSING))}.",
        f"Where a study gave more than one adjustment level, {_words(spec.get('adjustment'))} "
        "was used.",
        f"Dependent effects were handled by {_words(spec.get('dependence'))}.",
        _model_sentence(result, model),
        f"Subgroups: {_words(spec.get('subgroups', []))}. Moderators: "
        f"{_words(spec.get('moderators', []))}. Sensitivity analyses: "
        f"{_words(spec.get('sensitivity', []))}. Small-study effects: "
        f"{_words(spec.get('bias', []))}.",
    ]
    if spec.get("notes"):
        parts.append(f"Notes of the spec: {spec['notes']}")
    return " ".join(parts)


def _model_sentence(result: Mapping[str, Any], model: Mapping[str, Any]) -> str:
    """Say which model and inference produced the pooled numbers (not only what was asked)."""
    asked_method, asked_test = model.get("method", MISSING), model.get("test", MISSING)
    if result.get("status") != "ok":
        return (
            f"The specification asks for a random-effects model with the {asked_method} "
            f"estimator of tau\u00b2 and {_TEST_WORDS.get(str(asked_test), asked_test)} "
            "inference; nothing was pooled."
        )
    given = result.get("pooled")
    pooled: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    method, test = pooled.get("method", asked_method), pooled.get("test", asked_test)
    sentence = (
        f"Effects were pooled in a random-effects model with the {method} estimator "
        f"of tau\u00b2 and {_TEST_WORDS.get(str(test), test)} inference"
    )
    if test != asked_test:
        reason = (
            "a three-level model has no Knapp-Hartung adjustment, so a t distribution "
            'with k - 1 df is used, as metafor rma.mv(test = "t")'
            if test == "t"
            else "the three-level model gives a z test"
        )
        sentence += (
            f" (the specification asks for {_TEST_WORDS.get(str(asked_test), asked_test)}"
            f"; {reason}; the cluster-robust CR2 interval is shown under Dependent "
            "effects)"
        )
    return sentence + "."


def figure_block(name: str, figures: Mapping[str, FigureFile]) -> str:
    """Return a figure directive for ``name`` when the runner drew it, else ''."""
    entry = figures.get(name)
    if entry is None:
        return ""
    explanation = FIGURE_CAPTIONS.get(name)
    if explanation is None and name.startswith("bubble-"):
        explanation = (
            "Bubble plot: each effect against the moderator, bubble area by weight, "
            "with the meta-regression line."
        )
    parts = [entry.title, explanation] if entry.title else [explanation or name]
    caption = " ".join(esc(part.rstrip(".") + ".") for part in parts if part)
    return figure(entry.path, entry.description or entry.title or name, caption)


def _with_note(result: Mapping[str, Any], blocks: list[str]) -> list[str]:
    """Put the 'effects treated as independent' note before ``blocks`` when any is shown."""
    return [sections.independent_effects_note(result), *blocks] if any(blocks) else blocks


def _section(title: str, *blocks: str) -> str:
    body = [block for block in blocks if block]
    return join_blocks([heading(2, title), *body]) if body else ""


def analysis_page(
    analysis: AnalysisResults,
    context: SiteContext,
    figures: Mapping[str, FigureFile],
    downloads: Sequence[tuple[str, str]],
) -> str:
    """Return the Markdown of one analysis page.

    Parameters
    ----------
    analysis : AnalysisResults
        The results document and effects table of the analysis.
    context : SiteContext
        Study pages and bibliography for links.
    figures : mapping of str to FigureFile
        Figures copied into the site, by name (``forest``, ``funnel``, ``bubble-<m>``...).
    downloads : sequence of (label, path)
        Files offered for download, paths relative to the page. Labels are fixed words
        written by the generator (never record text): they go into a role unescaped.
    """
    result = analysis.result
    bubbles = [
        figure_block(name, figures) for name in sorted(figures) if name.startswith("bubble-")
    ]
    status = result.get("status")
    note = "" if status == "ok" else esc(f"Status: {status}.")
    return join_blocks(
        [
            heading(1, esc(result.get("title") or analysis.id)),
            question_block(result),
            ":::{admonition} Finding\n:class: tip\n\n" + esc(plain_sentence(result)) + "\n:::\n",
            note,
            _section("Pooled estimate", sections.pooled_table(result), sections.notes(result)),
            _section("What was selected", selection(analysis, context)),
            _section("Forest plot", figure_block("forest", figures)),
            _section("Heterogeneity", sections.heterogeneity(result)),
            _section("Dependent effects", sections.dependence(result)),
            _section(
                "Subgroups and meta-regression",
                *_with_note(
                    result, [sections.subgroups(result), sections.meta_regression(result), *bubbles]
                ),
            ),
            _section(
                "Sensitivity",
                *_with_note(result, [sections.leave_one_out(result)]),
                sections.low_risk_of_bias_only(result),
                sections.influence(result),
                figure_block("leave-one-out", figures),
                figure_block("cumulative", figures),
                figure_block("influence", figures),
                figure_block("baujat", figures),
            ),
            _section(
                "Small-study effects",
                sections.small_study_effects(result),
                figure_block("funnel", figures),
            ),
            _section("Certainty of the evidence", sections.certainty(result)),
            _section("Published meta-analyses beside ours", sections.published(result)),
            _section("Methods", esc(methods_paragraph(result))),
            _section("Provenance", sections.provenance(result)),
            _section(
                "Downloads", bullets(f"{{download}}`{label} <{path}>`" for label, path in downloads)
            ),
        ]
    )
