"""The landing page's generated part: the summary of findings over every analysis.

``book/index.md`` (hand-written) includes ``_generated/landing.md`` written here. Links are
relative to ``book/`` because the fragment is included into ``book/index.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from evidence.records.model import ROB_DOMAINS, Study
from evidence.report.book.analysis import FigureFile, is_check
from evidence.report.book.appraisal import certainty_badge
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.findings import plain_sentence, summary_row
from evidence.report.book.inputs import AnalysisResults
from evidence.report.book.markdown import (
    bullets,
    document_link,
    figure,
    heading,
    join_blocks,
    table,
)
from evidence.report.book.numbers import interval, metric_words, natural, number
from evidence.report.wording import code_words

#: Where the numbers of a record were read, as a reader would say it.
SOURCE_WORDS = {
    "abstract": "the abstract",
    "full-text": "the full text",
    "review-table": "a table of a published review",
    "secondary-copy": "a secondary copy of the paper",
    "conference-abstract": "a conference abstract",
}


def _count_words(counts: Counter[str], words: Mapping[str, str]) -> str:
    parts = [f"{n} from {words.get(key, code_words(key))}" for key, n in counts.most_common()]
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] if parts else ""


def _all_domains_judged(study: Study) -> bool:
    """Return True when a record judges every ROBINS-E domain (none left not assessed)."""
    bias = study.risk_of_bias
    return all(bias.domain(name) not in ("not-assessed", "") for name in ROB_DOMAINS)


def trust_box(studies: Sequence[Study]) -> str:
    """Return the "How far to trust these numbers" box, counted from the records.

    Every fact in it is a count over the study records: how many were checked against
    the full text (``extraction.status``), where their numbers were read
    (``extraction.source_type``) and how many have a risk-of-bias judgement.
    """
    total = len(studies)
    if not total:
        return ""
    unchecked = sum(1 for s in studies if s.extraction.status != "verified")
    sources = Counter(s.extraction.source_type for s in studies)
    rated = sum(1 for s in studies if s.risk_of_bias.judgement not in ("not-assessed", None, ""))
    complete = sum(1 for s in studies if _all_domains_judged(s))
    checked = (
        f"None of the {total} study records has been checked against the full text yet"
        if unchecked == total
        else f"{unchecked} of the {total} study records have not yet been checked against "
        "the full text"
    )
    if rated == 0:
        bias = 'none has a risk-of-bias rating of its own (every record says "not assessed")'
    else:
        bias = f"{rated} {'has' if rated == 1 else 'have'} a risk-of-bias rating"
        if complete < rated:
            bias += f", {complete} of them for every domain"
    text = (
        f"{checked} (each study page says so). Their numbers were read from: "
        f"{_count_words(sources, SOURCE_WORDS)}. Of the {total} records, {bias}. "
        "Observational associations are not causal effects. Where the certainty of the "
        "evidence is low or very low, the true association may be substantially different "
        "from the pooled estimate."
    )
    return (
        ":::{admonition} How far to trust these numbers\n:class: warning\n\n"
        + esc(text)
        + "\n:::\n"
    )


def family_cells(result: Mapping[str, Any]) -> tuple[str, str]:
    """Return the estimate and certainty cells of an analysis kept apart by outcome.

    One line per pooled outcome family ("Coronary heart disease: RR 1.45, 95% CI ...");
    families with too little evidence are named in the sentence, not here.
    """
    estimates, ratings = [], []
    _, abbreviation, _ = metric_words(result.get("metric"))
    for family in result.get("by_family") or []:
        if not isinstance(family, Mapping) or family.get("status") != "ok":
            continue
        pooled = family.get("pooled")
        if not isinstance(pooled, Mapping) or not pooled.get("estimable"):
            continue
        name = str(family.get("family") or "outcome")
        numbers = natural(result, pooled)
        estimates.append(
            f"{esc(name[:1].upper() + name[1:])}: **{esc(abbreviation)} "
            f"{esc(number(numbers['estimate']))}**<br>{esc('95% CI ' + interval(numbers['ci']))}"
        )
        certainty = family.get("certainty")
        badge = certainty_badge(certainty) if isinstance(certainty, Mapping) else "not rated"
        ratings.append(f"{esc(name)}: {esc(badge)}")
    return "<br>".join(estimates), "<br>".join(ratings)


def _finding_order(analysis: AnalysisResults) -> int:
    """Pooled findings first, then those pooled by kind of outcome, then the rest."""
    return {"ok": 0, "by-family": 1}.get(str(analysis.result.get("status")), 2)


def summary_table(analyses: Sequence[AnalysisResults]) -> str:
    """Return the summary-of-findings table (natural-scale numbers, one row per finding).

    Checks of the pipeline (``kind: check``) are not findings: see :func:`checks_section`.
    """
    rows = []
    for analysis in sorted(analyses, key=_finding_order):
        if is_check(analysis.result):
            continue
        cells = summary_row(analysis.result)
        link = document_link(esc(cells["question"]), f"_generated/analyses/{analysis.page}.md")
        people = cells["people"]
        evidence = esc(cells["k"]) + "<br>" + esc(people)
        if analysis.result.get("status") == "by-family":
            estimates, ratings = family_cells(analysis.result)
            rows.append(
                [
                    link,
                    evidence,
                    estimates or "not pooled",
                    "",
                    ratings or "not rated",
                    esc(cells["sentence"]),
                ]
            )
            continue
        if analysis.result.get("status") != "ok":
            sentence = cells["sentence"].replace(" The studies are listed below.", "")
            rows.append([link, evidence, "not pooled", "", esc("not rated"), esc(sentence)])
            continue
        estimate = (
            "**"
            + esc(cells["estimate"])
            + "**<br>"
            + esc(f"95% CI {cells['ci']}")
            + "<br>"
            + esc(f"95% PI {cells['pi']}")
        )
        rows.append(
            [
                link,
                evidence,
                estimate,
                esc(cells["i2"]),
                esc(cells["certainty"]),
                esc(cells["sentence"]),
            ]
        )
    return table(
        ["Question", "Evidence", "Pooled estimate", "I\u00b2", "Certainty", "In plain language"],
        rows,
        "summary-of-findings",
    )


def checks_section(analyses: Sequence[AnalysisResults]) -> str:
    """Return the "Checks" section: analyses that test the pipeline, kept out of findings."""
    checks = [a for a in analyses if is_check(a.result)]
    if not checks:
        return ""
    items = [
        document_link(esc(a.result.get("title") or a.id), f"_generated/analyses/{a.page}.md")
        + esc(": " + plain_sentence(a.result).split(". Certainty")[0] + ".")
        for a in checks
    ]
    return join_blocks(
        [
            heading(2, "Checks of the pipeline"),
            esc(
                "These analyses re-run part of a published meta-analysis to check the "
                "software end to end. They are not findings and carry no certainty rating."
            ),
            bullets(items),
        ]
    )


def landing_fragment(
    analyses: Sequence[AnalysisResults],
    summary: FigureFile | None,
    n_studies: int,
    n_effects: int,
    studies: Sequence[Study] = (),
    updated: str = "",
) -> str:
    """Return the generated part of the landing page (``updated``: its "Last updated")."""
    if not analyses:
        return join_blocks(
            [
                heading(2, "Summary of findings"),
                f"No analysis results were found ({n_studies:d} study records, {n_effects:d} "
                "effects). Run `evidence run` and then `evidence book` to fill this page.",
            ]
        )
    findings = [a for a in analyses if not is_check(a.result)]
    blocks = [
        f"*{esc(updated)}*" if updated else "",
        trust_box(studies),
        heading(2, "Summary of findings"),
        esc(
            f"{len(findings)} {'question' if len(findings) == 1 else 'questions'} over "
            f"{n_studies} study records ({n_effects} extracted "
            "effects). Estimates are on the natural scale (ratios, correlations) with 95% "
            "confidence (CI) and prediction (PI) intervals; each plain-language sentence is "
            "written from the numbers by a fixed rule described in the methods."
        ),
        summary_table(analyses),
    ]
    if summary is not None:
        caption = (
            esc((summary.title or "Summary of pooled estimates").rstrip(".") + ".")
            + " "
            + esc(
                "Pooled estimate of every finding with its 95% confidence interval. Findings "
                "share an axis only when they share the outcome, the measure and the "
                "direction; under each axis it says what each side means."
            )
        )
        blocks += [
            heading(2, "All pooled estimates"),
            figure(summary.path, summary.description or summary.title, caption),
        ]
    blocks.append(checks_section(analyses))
    return join_blocks(blocks)
