"""The PRISMA 2020 flow diagram, drawn as HTML boxes (no image, no script, no network).

Boxes follow the PRISMA 2020 flow diagram for new systematic reviews (Page et al. 2021,
BMJ 372:n71, figure 1): identification, screening, included. Counts of records
identified and screened come from ``studies/screening.yaml`` when supplied; the numbers of
studies and reports included come from the records and the analyses' effects tables.
Every text placed in the HTML is passed through :func:`_html_text` (:func:`html.escape`,
backticks as entities, white space collapsed).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from evidence.records.model import Study
from evidence.report.book.escape import escape_markdown
from evidence.report.book.inputs import SCREENING_FIELDS, Screening
from evidence.report.book.markdown import join_blocks

NOT_RECORDED = "not recorded"
_SPACE = re.compile(r"\s+")


def _html_text(value: object) -> str:
    """Escape text for the raw HTML block (markup characters and backticks as entities).

    All white space becomes one space, so no line of the block can close its fence.
    """
    text = _SPACE.sub(" ", str(value)).strip()
    return html.escape(text).replace("`", "&#96;")


def _count(screening: Screening | None, key: str) -> str:
    if screening is None or screening.counts.get(key) is None:
        return NOT_RECORDED
    return f"{screening.counts[key]:,}"


def _box(stage: str, lines: Sequence[str], side: Sequence[str] = ()) -> str:
    """One row of the diagram: a stage label, a main box and an optional side box."""
    main = "".join(f"<p>{_html_text(line)}</p>" for line in lines)
    aside = "".join(f"<p>{_html_text(line)}</p>" for line in side)
    side_html = (
        f'<div class="prisma-box prisma-side">{aside}</div>'
        if side
        else ('<div class="prisma-spacer"></div>')
    )
    return (
        f'<div class="prisma-row"><div class="prisma-stage">{_html_text(stage)}</div>'
        f'<div class="prisma-box">{main}</div>{side_html}</div>'
    )


def prisma_html(
    studies: Sequence[Study], studies_in_analyses: int, screening: Screening | None
) -> str:
    """Return the diagram as one HTML block (all text escaped)."""
    excluded = [
        f"{reason}: {count:,}"
        for reason, count in (screening.excluded_at_eligibility if screening else ())
    ]
    identified = [
        f"Databases: {_count(screening, 'databases')}",
        f"Registers: {_count(screening, 'registers')}",
        f"Other sources: {_count(screening, 'other_sources')}",
    ]
    removed = [
        f"Duplicates removed: {_count(screening, 'duplicates_removed')}",
        f"Removed by automation tools: {_count(screening, 'automation_removed')}",
        f"Removed for other reasons: {_count(screening, 'other_removed')}",
    ]
    n_effects = sum(len(study.effects) for study in studies)
    rows = [
        _box("Identification", ["Records identified", *identified], removed),
        _box(
            "Screening",
            [f"Records screened: {_count(screening, 'screened')}"],
            [f"Records excluded: {_count(screening, 'excluded_at_screening')}"],
        ),
        _box(
            "Retrieval",
            [f"Reports sought for retrieval: {_count(screening, 'sought_for_retrieval')}"],
            [f"Reports not retrieved: {_count(screening, 'not_retrieved')}"],
        ),
        _box(
            "Eligibility",
            [f"Reports assessed for eligibility: {_count(screening, 'assessed_for_eligibility')}"],
            ["Reports excluded:", *(excluded or [NOT_RECORDED])],
        ),
        _box(
            "Included",
            [
                f"Studies included in the review: {len(studies):,}",
                f"Effects extracted: {n_effects:,}",
                f"Studies pooled in at least one meta-analysis: {studies_in_analyses:,}",
            ],
        ),
    ]
    return (
        '<div class="prisma" role="img" aria-label="PRISMA 2020 flow diagram">'
        + "".join(rows)
        + "</div>"
    )


def prisma_page(
    studies: Sequence[Study], studies_in_analyses: int, screening: Screening | None
) -> str:
    """Return the PRISMA page: an explanation and the diagram in a raw HTML block."""
    if screening is None:
        note = (
            "Screening counts are not recorded: the project has no "
            "studies/screening.yaml yet, so the identification and screening boxes say "
            '"not recorded". The included counts come from the study records. To '
            "fill the diagram, add studies/screening.yaml with whole-number counts "
            "under any of: " + ", ".join(SCREENING_FIELDS) + ", and "
            "excluded_at_eligibility (a mapping of reason to count)."
        )
    else:
        note = (
            "Identification and screening counts come from studies/screening.yaml; the "
            "included counts come from the study records and the analyses."
        )
    return join_blocks(
        [
            "# PRISMA 2020 flow diagram",
            escape_markdown(
                "How studies reached this review, following the PRISMA 2020 "
                "statement (Page et al. 2021, BMJ 372:n71)."
            ),
            escape_markdown(note),
            "```{raw} html\n" + prisma_html(studies, studies_in_analyses, screening) + "\n```",
        ]
    )
