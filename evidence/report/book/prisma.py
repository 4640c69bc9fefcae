"""The PRISMA 2020 page: the sources searched and the flow diagram, as HTML boxes.

Boxes follow the PRISMA 2020 flow diagram for new systematic reviews that searched
databases, registers and other sources (Page et al. 2021, BMJ 372:n71, figure 1):
identification (by kind of source), screening, and the studies included. Counts of records
identified and screened come from the search record ``studies/screening.yaml``
(:mod:`evidence.report.book.search`); the numbers of studies and effects included come from
the records and the analyses' effects tables. A count that nobody recorded is said to be
"not recorded", never guessed. Every text placed in the HTML is passed through
:func:`_html_text` (:func:`html.escape`, backticks as entities, white space collapsed).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from evidence.records.model import Study
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.markdown import cite, join_blocks, table
from evidence.report.book.search import Screening, Source

NOT_RECORDED = "not recorded"
_SPACE = re.compile(r"\s+")


def _html_text(value: object) -> str:
    """Escape text for the raw HTML block (markup characters and backticks as entities).

    All white space becomes one space, so no line of the block can close its fence.
    """
    text = _SPACE.sub(" ", str(value)).strip()
    return html.escape(text).replace("`", "&#96;")


def _number(value: int | None) -> str:
    return NOT_RECORDED if value is None else f"{value:,}"


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


def _identified(screening: Screening | None) -> list[str]:
    """Lines of the identification box: each kind of source and what it gave."""
    if screening is None:
        return [f"Records identified: {NOT_RECORDED}"]
    lines = ["Records identified from:"]
    for kind, words in (("database", "Databases"), ("register", "Registers")):
        sources = screening.of_kind(kind)
        lines.append(
            f"{words}: {_number(screening.total('identified', sources))} ({len(sources)} searched)"
            if sources
            else f"{words}: no search recorded"
        )
    for source in screening.of_kind("other"):
        lines.append(f"{source.name}: {_number(source.identified)}")
    return lines


def prisma_html(
    studies: Sequence[Study], studies_in_analyses: int, screening: Screening | None
) -> str:
    """Return the diagram as one HTML block (all text escaped)."""
    screened = screening.total("screened") if screening else None
    excluded = screening.total("excluded") if screening else None
    waiting = [s.not_yet_screened for s in screening.sources] if screening else []
    known_waiting = sum(n for n in waiting if n is not None)
    waiting_text = (
        NOT_RECORDED
        if not waiting or all(n is None for n in waiting)
        else f"{known_waiting:,}"
        + ("" if all(n is not None for n in waiting) else " (at least; not recorded for all)")
    )
    reasons = [
        f"{reason}: {count:,}"
        for reason, count in (screening.excluded_at_eligibility if screening else ())
    ]
    full_text = sum(1 for s in studies if s.extraction.source_type == "full-text")
    n_effects = sum(len(study.effects) for study in studies)
    rows = [
        _box("Identification", _identified(screening)),
        _box(
            "Screening",
            [f"Records screened: {_number(screened)}"],
            [
                f"Records excluded: {_number(excluded)}",
                f"Not yet screened: {waiting_text}",
            ],
        ),
        _box(
            "Eligibility",
            [
                f"Study records made: {len(studies):,}",
                f"Read from the full text: {full_text:,} of {len(studies):,}",
            ],
            ["Reports excluded:", *reasons] if reasons else [],
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


def sources_table(screening: Screening, known_keys: frozenset[str]) -> str:
    """Return one row per source: what it is, when it was screened and what came of it."""
    rows = []
    for source in screening.sources:
        name = f"**{esc(source.name)}**"
        if source.citation:
            cited = cite(source.citation, known_keys)
            name += f" {cited}" if cited.startswith("{cite") else ""
        rows.append(
            [
                name + "<br>" + esc(source.what) if source.what else name,
                esc(source.kind if source.kind != "other" else "other methods"),
                esc(source.searched),
                esc(_number(source.identified)),
                esc(_number(source.screened)),
                esc(_count_or_blank(source)),
                esc(f"{len(source.records):,}"),
            ]
        )
    return table(
        [
            "Source",
            "Kind",
            "Screened on",
            "Records listed",
            "Read",
            "Not yet read",
            "Study records",
        ],
        rows,
        "cards",
    )


def _count_or_blank(source: Source) -> str:
    waiting = source.not_yet_screened
    return NOT_RECORDED if waiting is None else f"{waiting:,}"


def prisma_page(
    studies: Sequence[Study],
    studies_in_analyses: int,
    screening: Screening | None,
    known_keys: frozenset[str] = frozenset(),
    updated: str = "",
) -> str:
    """Return the PRISMA page: how studies reached the review, the sources and the diagram."""
    blocks = [
        "# PRISMA 2020: how studies reached this review",
        f"*{esc(updated)}*" if updated else "",
        esc(
            "Where the study records come from, following the PRISMA 2020 statement (Page et "
            "al. 2021, BMJ 372:n71). This is a living review: sources are added as they are "
            "screened, and every count below comes from the review's search record or from "
            "the study records themselves."
        ),
    ]
    if screening is None or not screening.sources:
        blocks.append(
            esc(
                "No search has been recorded yet, so the number of records identified and "
                "screened is not known; the included counts come from the study records."
            )
        )
    else:
        traced = {record for source in screening.sources for record in source.records}
        untraced = [s for s in studies if s.id not in traced]
        none_searched = not screening.of_kind("database") and not screening.of_kind("register")
        summary = (
            f"{len(screening.sources)} sources screened so far, the latest on "
            f"{max(s.searched for s in screening.sources)}."
        )
        if none_searched:
            summary += (
                " No search of a bibliographic database or register is recorded yet: the "
                "records come from the tables and compilations listed here, so the review "
                "is not yet a systematic search of the literature."
            )
        if untraced:
            summary += (
                f" {len(untraced)} of {len(studies)} study records are not yet traced to a source."
            )
        blocks += [esc(summary), "## Sources", sources_table(screening, known_keys)]
    blocks += [
        "## Flow diagram",
        "```{raw} html\n" + prisma_html(studies, studies_in_analyses, screening) + "\n```",
    ]
    return join_blocks(blocks)
