"""What every page generator needs to know about the rest of the site.

A :class:`SiteContext` maps study ids to their pages, knows the bibliography keys (so a
citation is only emitted when it resolves), and records which analyses use which effect
(read from each analysis's effects table, never re-derived).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evidence.records.model import Study
from evidence.report.book.dates import ChangeDates
from evidence.report.book.escape import escape_markdown, slug
from evidence.report.book.inputs import AnalysisResults, Bibliography
from evidence.report.book.markdown import document_link


@dataclass(frozen=True)
class EffectUse:
    """One row of an analysis's effects table that names a study's effect."""

    analysis_id: str
    analysis_page: str
    analysis_title: str
    effect: str
    included: bool
    reason: str
    pooled: bool = True  # False when the analysis had too little evidence to pool


@dataclass(frozen=True)
class SiteContext:
    """Cross-page facts: study pages, bibliography and which analyses use which effect."""

    study_pages: Mapping[str, str]
    bibliography: Bibliography
    uses: Mapping[str, tuple[EffectUse, ...]] = field(default_factory=dict)
    shared_labels: frozenset[str] = frozenset()
    citations: Mapping[str, str] = field(default_factory=dict)
    dates: ChangeDates = field(default_factory=ChangeDates)

    def study_link(
        self, study_id: str, text: str | None = None, prefix: str = "../studies/"
    ) -> str:
        """Link to a study page when the study has one, else its escaped id."""
        label = escape_markdown(text if text is not None else study_id)
        page = self.study_pages.get(study_id)
        if page is None:
            return label
        return document_link(label, f"{prefix}{page}.md")

    def named_link(self, study_id: str, prefix: str = "../studies/") -> str:
        """Link to a study page with its author-year name (``Steptoe et al. (2013)``).

        The name is the bibliography label of the study's citation (the study id is added
        when two studies share it); without a label the id is shown.
        """
        label = self.bibliography.labels.get(self.citations.get(study_id, ""), "")
        if label and label in self.shared_labels:
            label = f"{label}, {study_id}"
        return self.study_link(study_id, label or study_id, prefix)

    def study_label(self, study: Study) -> str:
        """Return a short label for a study: ``Surname et al. (year)`` from the bib, or id.

        A label shared by two studies gets the study id appended, so the sidebar and the
        catalogue never show two identical names.
        """
        label = self.bibliography.labels.get(study.citation)
        if not label:
            return study.id
        return f"{label}, {study.id}" if label in self.shared_labels else label


def is_included(value: object) -> bool:
    """Read the ``included`` column of an effects CSV (``true``/``True``/``1``)."""
    return str(value).strip().lower() in ("true", "1", "yes")


def build_context(
    studies: Sequence[Study],
    bibliography: Bibliography,
    analyses: Sequence[AnalysisResults],
    dates: ChangeDates | None = None,
) -> SiteContext:
    """Collect study pages and effect uses over every analysis's effects table."""
    pages: dict[str, str] = {}
    for study in studies:
        page = slug(study.id)
        if page not in pages.values():
            pages[study.id] = page
    uses: dict[str, list[EffectUse]] = {}
    for analysis in analyses:
        title = str(analysis.result.get("title") or analysis.id)
        for row in analysis.effects:
            study_id = str(row.get("study", ""))
            uses.setdefault(study_id, []).append(
                EffectUse(
                    analysis.id,
                    analysis.page,
                    title,
                    str(row.get("effect", "")),
                    is_included(row.get("included")),
                    str(row.get("reason") or ""),
                    analysis.result.get("status", "ok") == "ok",
                )
            )
    seen: dict[str, int] = {}
    for study in studies:
        label = bibliography.labels.get(study.citation)
        if label:
            seen[label] = seen.get(label, 0) + 1
    shared = frozenset(label for label, count in seen.items() if count > 1)
    citations = {study.id: study.citation for study in studies}
    return SiteContext(
        pages,
        bibliography,
        {key: tuple(value) for key, value in uses.items()},
        shared,
        citations,
        dates or ChangeDates(),
    )
