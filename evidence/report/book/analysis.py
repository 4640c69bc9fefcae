"""One page per analysis: question, selection, forest plot, diagnostics, certainty.

The page is written from the results document and effects table only (never re-fitted).
Section order follows PRISMA 2020 items 13-22 (Page et al. 2021, BMJ 372:n71): synthesis
methods, results of syntheses, heterogeneity, sensitivity, reporting biases, certainty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.report.book import appraisal, sections
from evidence.report.book.context import SiteContext, is_included
from evidence.report.book.dates import updated_line
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.findings import participants_text, plain_sentence
from evidence.report.book.inputs import AnalysisResults
from evidence.report.book.markdown import bullets, cite_many, figure, heading, join_blocks, table
from evidence.report.book.multiverse import CAPTION as MULTIVERSE_CAPTION
from evidence.report.book.multiverse import family_multiverse_blocks, multiverse_section
from evidence.report.book.numbers import MISSING, finite, integer, number
from evidence.report.wording import (
    METRIC_NAMES,
    ORIENT_WORDS,
    code_words,
    field_words,
    reason_words,
)

#: Figures shown on an analysis page, in order, with their caption.
FIGURE_CAPTIONS = {
    "forest": "Forest plot: each included effect with its 95% CI and weight, and the pooled "
    "estimate with its confidence and prediction intervals.",
    "funnel": "Contour-enhanced funnel plot: effect against its standard error.",
    "cumulative": "Cumulative meta-analysis: the pooled estimate as effects are added.",
    "leave-one-out": "Leave-one-out: the pooled estimate with each effect omitted in turn.",
    "influence": "Influence diagnostics for each effect.",
    "baujat": "Baujat plot: contribution to heterogeneity against influence on the result.",
    "spec-curve": MULTIVERSE_CAPTION,
    "history": "The pooled estimate with the records and plan as they were after each "
    "change, oldest first.",
}

_SPEC_WORDS = {
    "leave-one-out": "leave one out",
    "low-risk-of-bias-only": "studies at low risk of bias only",
    "trimfill": "trim and fill",
    "failsafe": "fail-safe N",
    "egger": "Egger's test",
    "begg": "Begg's test",
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
    "adhoc": "modified Hartung-Knapp-Sidik-Jonkman (t, scale factor at least 1)",
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
    shown = row.get("value") if finite(values[0]) else ""
    reported = esc(f"{row.get('measure_reported', '')} {shown}".strip())
    if finite(values[1]) and finite(values[2]):
        reported += " " + esc(f"({row.get('lo')} to {row.get('hi')})")
    return [
        context.named_link(study),
        esc(row.get("effect")),
        reported,
        esc(code_words(row.get("adjustment"))),
        esc(f"{number(row.get('weight'), 1)}%" if finite(row.get("weight")) else ""),
        esc(number(row.get("yi"), 3)) + "<br>" + esc(f"SE {number(row.get('sei'), 3)}"),
        esc(reason_words(row.get("conversion")))
        + (esc(" (direction flipped)") if is_included(row.get("flipped")) else ""),
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
        f"({participants_text(analysis.result)}); "
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
                    "Weight",
                    _pooling_scale_header(analysis.result.get("metric"), pooled),
                    "How it was converted",
                ],
                [_effect_row(row, context) for row in included],
                "effects-table cards",
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
                        context.named_link(str(row.get("study", ""))),
                        esc(row.get("effect")),
                        esc(reason_words(row.get("reason")) or MISSING),
                    ]
                    for row in excluded
                ],
                "cards",
            )
        )
    return join_blocks(blocks)


def _plural(value: Any, singular: str, plural: str | None = None) -> str:
    """Return ``'1 study'``, ``'3 studies'``, or the missing marker with the plural noun."""
    if not finite(value):
        return f"{MISSING} {plural or singular + 's'}"
    return f"{integer(value)} {singular if float(value) == 1 else (plural or singular + 's')}"


def _values(value: Any) -> str:
    """Return selected record values as recorded (``a or b``)."""
    if isinstance(value, list | tuple):
        return " or ".join(str(item) for item in value) if value else "none"
    return str(value) if value is not None else MISSING


def _words(value: Any, joiner: str = ", ") -> str:
    if isinstance(value, list | tuple):
        words = [_SPEC_WORDS.get(str(item), code_words(item)) for item in value]
        return joiner.join(words) if value else "none"
    if value is None:
        return MISSING
    return _SPEC_WORDS.get(str(value), code_words(value))


def _metric_name(result: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    metric = str(result.get("metric") or spec.get("metric") or "")
    return METRIC_NAMES.get(metric, code_words(metric) or MISSING)


def _orient_words(result: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    orient = str(result.get("orient") or spec.get("orient") or "")
    return ORIENT_WORDS.get(orient, code_words(orient) or MISSING)


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
        "; ".join(f"the {field_words(key)} is {_values(value)}" for key, value in filters.items())
        for filters in alternatives
        if filters
    )
    parts = [
        f"Effects were selected where {criteria or 'the spec gives no filter'}.",
        f"Each effect was converted to the {_metric_name(result, spec)} scale and oriented "
        f"so that {_orient_words(result, spec)}.",
        f"Where a study gave more than one adjustment level, {_words(spec.get('adjustment'))} "
        "was used.",
        f"Dependent effects were handled by {_words(spec.get('dependence'))}.",
        _model_sentence(result, model),
        f"Subgroups: {_words([field_words(f) for f in spec.get('subgroups', [])])}. "
        f"Moderators: {_words([field_words(f) for f in spec.get('moderators', [])])}. "
        f"Sensitivity analyses: {_words(spec.get('sensitivity', []))}. Small-study effects: "
        f"{_words(spec.get('bias', []))}.",
    ]
    if spec.get("notes"):
        parts.append(f"Notes of the analysis plan: {spec['notes']}")
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


#: The forest of an analysis with no overall estimate (too few samples; by outcome).
UNPOOLED_FOREST = "Forest plot: each usable study's estimate with its 95% CI; not pooled."
BY_OUTCOME_FOREST = (
    "Forest plot: each usable study's estimate with its 95% CI, by kind of outcome; an "
    "outcome pooled on its own has its own diamond, and there is no estimate across them."
)


#: The scale effects are pooled on, by metric, for the effects table's header.
_POOLING_SCALES = {
    "log-risk-ratio": "log scale",
    "log-odds-ratio": "log scale",
    "log-hazard-ratio": "log scale",
    "fisher-z": "Fisher's z scale",
}


def _pooling_scale_header(metric: Any, pooled: bool) -> str:
    """Header of the effects table's value column: on which scale, and whether it was pooled."""
    scale = _POOLING_SCALES.get(str(metric))
    what = "Value pooled" if pooled else "Value on the pooling scale"
    if scale and pooled:
        what += f" ({scale})"
    elif scale:
        what = f"Value on the pooling scale ({scale})"
    return f"{what} and SE"


def figure_block(name: str, figures: Mapping[str, FigureFile], status: str = "ok") -> str:
    """Return a figure directive for ``name`` when the runner drew it, else ''.

    ``status`` is the analysis's: the forest of one that pooled nothing overall says so.
    """
    entry = figures.get(name)
    if entry is None:
        return ""
    explanation = FIGURE_CAPTIONS.get(name)
    if name == "forest" and status != "ok":
        explanation = BY_OUTCOME_FOREST if status == "by-family" else UNPOOLED_FOREST
    if explanation is None and name.startswith("family-spec-curve-"):
        explanation = MULTIVERSE_CAPTION
    if explanation is None and name.startswith("bubble-"):
        explanation = (
            "Bubble plot: each effect against the moderator, bubble area by weight, "
            "with the meta-regression line (exploratory: see the caution above)."
        )
    caption = esc(_caption(entry.title, explanation, name).rstrip(".") + ".")
    return figure(entry.path, entry.description or entry.title or name, caption)


def _caption(title: str | None, explanation: str | None, name: str) -> str:
    """Return a figure's caption: what it shows, without the page's title or a repeated kind.

    A drawing's title is ``"<kind>: <analysis title>"``; the analysis title is the page's
    heading, so the caption keeps the kind only, and only when the explanation does not
    already name it ("Funnel plot" beside "Contour-enhanced funnel plot: ...").
    """
    kind = (title or "").split(": ", 1)[0].strip()
    if not explanation:
        return kind or name
    said = explanation.lower()
    first = said.split()[0].rstrip(":") if said.split() else ""
    if not kind or kind.lower() in said or kind.lower().split()[0] == first:
        return explanation
    return f"{kind.rstrip('.')}. {explanation}"


def _with_note(result: Mapping[str, Any], blocks: list[str]) -> list[str]:
    """Put the 'effects treated as independent' note before ``blocks`` when any is shown."""
    return [sections.independent_effects_note(result), *blocks] if any(blocks) else blocks


def _family_multiverses(result: Mapping[str, Any], figures: Mapping[str, FigureFile]) -> list[str]:
    """One sub-section per outcome family of a by-family result: its multiverse and curve."""
    blocks = family_multiverse_blocks(result)
    if not blocks:
        return []
    out = [
        esc(
            "There is no overall estimate, so each kind of outcome that is pooled has a "
            "multiverse of its own: every defensible combination of the choices below, "
            "fitted to that kind of outcome only."
        )
    ]
    for family, text in blocks:
        name = str(family.get("family") or "outcome")
        slug = (family.get("multiverse") or {}).get("slug")
        out += [heading(3, esc(name[:1].upper() + name[1:])), text]
        if slug:
            out.append(figure_block(f"family-spec-curve-{slug}", figures))
    return out


def _section(title: str, *blocks: str) -> str:
    body = [block for block in blocks if block]
    return join_blocks([heading(2, title), *body]) if body else ""


def is_check(result: Mapping[str, Any]) -> bool:
    """Return True when the spec marks the analysis ``kind: check`` (a pipeline check)."""
    return str(result.get("kind") or _spec(result).get("kind") or "finding") == "check"


def check_notice(result: Mapping[str, Any]) -> str:
    """Say, on a check's page, that it checks the pipeline and is not a finding."""
    if not is_check(result):
        return ""
    return (
        ":::{important}\n"
        + esc(
            "This page checks the pipeline against a published analysis; it is not a "
            "finding of this review and is not listed among the findings."
        )
        + "\n:::\n"
    )


#: Constructs whose associations are between connected people's behaviours.
PEER_CONSTRUCTS = frozenset({"peer-behaviour", "peer-influence", "social-contagion"})


def _selected_constructs(result: Mapping[str, Any]) -> set[str]:
    select = _spec(result).get("select")
    filters = [select] if isinstance(select, Mapping) else (select or [])
    found: set[str] = set()
    for item in filters if isinstance(filters, list) else []:
        if isinstance(item, Mapping):
            value = item.get("exposure.construct")
            found |= {str(v) for v in (value if isinstance(value, list) else [value]) if v}
    return found


def peer_influence_note(result: Mapping[str, Any]) -> str:
    """Explain homophily and shared environment on pages about peers' behaviour.

    An association between a person's behaviour and their contacts' behaviour need not be
    influence: people choose similar friends (homophily) and share surroundings (shared
    environment, confounding); Shalizi and Thomas (2011, Sociol Methods Res 40:211-239)
    show the three cannot be told apart in observational network data without strong
    assumptions, and Cohen-Cole and Fletcher (2008, BMJ 337:a2533) found similar
    "contagion" for acne, height and headaches.
    """
    if not _selected_constructs(result) & PEER_CONSTRUCTS:
        return ""
    text = (
        "When a person's behaviour follows their contacts' behaviour, that is not by itself "
        "evidence of influence. People choose friends who are like them (homophily), and "
        "connected people share neighbourhoods, workplaces, incomes and habits (shared "
        "environment), which can produce the same pattern without anyone influencing "
        "anyone. Shalizi and Thomas (2011) show that in observational network data these "
        "explanations cannot be separated without strong assumptions; Cohen-Cole and "
        'Fletcher (2008) found the same kind of "spread" for acne, height and headaches. '
        "Read the estimates here as associations between connected people."
    )
    return (
        ":::{admonition} Influence, homophily or shared environment?\n:class: note\n\n"
        + esc(text)
        + "\n:::\n"
    )


def _updated(result: Mapping[str, Any], context: SiteContext) -> str:
    """Say when the analysis's plan or one of its selected records last changed."""
    provenance = result.get("provenance")
    given = provenance.get("inputs") if isinstance(provenance, Mapping) else None
    inputs = [
        str(path)
        for path in (given if isinstance(given, Mapping) else {})
        if str(path).endswith(".yaml") and str(path).startswith(("analyses/", "studies/"))
    ]
    line = updated_line(context.dates.latest(inputs), "its analysis plan or study records")
    return f"*{esc(line)}*" if line else ""


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
    return join_blocks(
        [
            heading(1, esc(result.get("title") or analysis.id)),
            _updated(result, context),
            check_notice(result),
            question_block(result),
            ":::{admonition} Finding\n:class: tip\n\n" + esc(plain_sentence(result)) + "\n:::\n",
            figure_block("forest", figures, str(result.get("status", "ok"))),
            "" if is_check(result) else appraisal.plain_language_box(result),
            peer_influence_note(result),
            _section("Pooled estimate", sections.pooled_table(result), sections.notes(result)),
            _section("By kind of outcome", appraisal.by_family_section(result)),
            _section("Rules for pooling", appraisal.eligibility_section(result)),
            _section("How much adjustment matters", appraisal.adjustment_section(result)),
            _section("What was selected", selection(analysis, context)),
            _section("Risk of bias", appraisal.risk_of_bias_section(result, context)),
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
            _section(
                "Multiverse: every defensible analysis",
                multiverse_section(result),
                figure_block("spec-curve", figures),
                *_family_multiverses(result, figures),
            ),
            _section("Certainty of the evidence", appraisal.certainty_section(result)),
            _section(
                "How the evidence changed",
                figure_block("history", figures),
                appraisal.history_section(result, analysis.history),
            ),
            _section("Published meta-analyses beside ours", sections.published(result)),
            _section("Methods", esc(methods_paragraph(result))),
            _section("Provenance", sections.provenance(result)),
            _section(
                "Downloads", bullets(f"{{download}}`{label} <{path}>`" for label, path in downloads)
            ),
        ]
    )
