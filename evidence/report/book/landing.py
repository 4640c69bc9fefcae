"""The landing page's generated part: the summary of findings over every analysis.

``book/index.md`` (hand-written) includes ``_generated/landing.md`` written here. Links are
relative to ``book/`` because the fragment is included into ``book/index.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from evidence.report.book.analysis import FigureFile
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.findings import summary_row
from evidence.report.book.inputs import AnalysisResults
from evidence.report.book.markdown import document_link, figure, heading, join_blocks, table
from evidence.report.book.numbers import MISSING


def summary_table(analyses: Sequence[AnalysisResults]) -> str:
    """Return the summary-of-findings table (natural-scale numbers, one row per analysis)."""
    rows = []
    for analysis in analyses:
        cells = summary_row(analysis.result)
        link = document_link(esc(cells["question"]), f"_generated/analyses/{analysis.page}.md")
        people = (
            f"{cells['participants']} participants"
            if cells["participants"] != MISSING
            else "participants not reported"
        )
        evidence = esc(cells["k"]) + "<br>" + esc(people)
        if analysis.result.get("status") != "ok":
            rows.append(
                [link, evidence, "not pooled", "", esc(cells["certainty"]), esc(cells["sentence"])]
            )
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


def landing_fragment(
    analyses: Sequence[AnalysisResults], summary: FigureFile | None, n_studies: int, n_effects: int
) -> str:
    """Return the generated part of the landing page."""
    if not analyses:
        return join_blocks(
            [
                heading(2, "Summary of findings"),
                f"No analysis results were found ({n_studies:d} study records, {n_effects:d} "
                "effects). Run `evidence run` and then `evidence book` to fill this page.",
            ]
        )
    blocks = [
        heading(2, "Summary of findings"),
        esc(
            f"{len(analyses)} {'analysis' if len(analyses) == 1 else 'analyses'} over "
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
                "Pooled estimate of every analysis with its 95% confidence interval; ratio, "
                "correlation and difference scales are drawn in separate panels."
            )
        )
        blocks += [
            heading(2, "All pooled estimates"),
            figure(summary.path, summary.description or summary.title, caption),
        ]
    return join_blocks(blocks)
