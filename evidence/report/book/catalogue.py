"""The study catalogue: a searchable, sortable index table and one page per study.

A study page shows the record as extracted (design, population, cohort, risk of bias,
extraction status) and every effect with its source link, its verbatim quote and the
analyses that use it, so each number on the site traces back to a quoted source.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evidence.records.model import Effect, Statistic, Study
from evidence.report.book.context import SiteContext
from evidence.report.book.dates import updated_line
from evidence.report.book.escape import doi_url, escape_paragraphs
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.markdown import (
    bullets,
    cite,
    document_link,
    external_link,
    field_list,
    heading,
    join_blocks,
    quote_block,
    table,
)
from evidence.report.book.numbers import MISSING, integer
from evidence.report.wording import code_words, note_words

#: Front matter of a study page: reached from the catalogue, not listed in the sidebar
#: (with hundreds of studies, a sidebar entry per study made every page of the site heavy
#: and the build quadratic in the number of studies).
ORPHAN = "---\norphan: true\n---\n"


def statistic_text(statistic: Statistic) -> str:
    """Describe a reported statistic as printed: ``HR 1.26 (95% CI 1.08 to 1.48)``."""
    parts = [statistic.measure]
    if statistic.value is not None:
        parts.append(f"{statistic.value:g}")
    if statistic.ci is not None:
        parts.append(
            f"({statistic.ci_level * 100:g}% CI {statistic.ci[0]:g} to {statistic.ci[1]:g})"
        )
    for name in ("se", "se_log", "p", "n", "t", "f", "n1", "n2"):
        value = getattr(statistic, name)
        if value is not None:
            parts.append(f"{name.replace('_', ' ')} {value:g}")
    if statistic.range is not None:
        parts.append(f"range {statistic.range[0]:g} to {statistic.range[1]:g}")
    if statistic.table is not None:
        t = statistic.table
        parts.append(
            f"events {t.exposed_events}/{t.exposed_total} exposed vs "
            f"{t.unexposed_events}/{t.unexposed_total} unexposed"
        )
    if statistic.groups is not None:
        g = statistic.groups
        parts.append(
            f"mean (SD, n) {g.exposed_mean:g} ({g.exposed_sd:g}, {g.exposed_n}) "
            f"exposed vs {g.unexposed_mean:g} ({g.unexposed_sd:g}, {g.unexposed_n})"
        )
    return " ".join(parts)


def _effect_section(study: Study, effect: Effect, context: SiteContext) -> str:
    exposure, outcome = effect.exposure, effect.outcome
    pairs = [
        (
            "Exposure",
            esc(
                f"{code_words(exposure.construct)}"
                f" ({code_words(exposure.dimension) or 'dimension not given'})"
                f"; contrast: {note_words(exposure.contrast)}"
            ),
        ),
        ("A value above the null points to", esc(code_words(exposure.higher_means))),
        ("Tie types", esc(", ".join(code_words(t) for t in exposure.tie_types))),
        ("Valence", esc(code_words(exposure.valence))),
        (
            "Outcome",
            esc(
                f"{outcome.name} ({code_words(outcome.domain)}; a higher value is "
                f"{code_words(outcome.higher_is)})"
            ),
        ),
        ("Adjustment", esc(code_words(effect.adjustment))),
        ("Covariates", esc(", ".join(effect.covariates))),
        ("Subgroup", esc(effect.subgroup.label) if effect.subgroup else ""),
        ("Statistic as reported", esc(statistic_text(effect.statistic))),
        ("Source", external_link(esc(effect.source.locator), effect.source.url)),
        (
            "Copied from",
            cite(effect.source.citation, context.bibliography.keys)
            if effect.source.citation
            else "",
        ),
    ]
    uses = [use for use in context.uses.get(study.id, ()) if use.effect == effect.id]
    use_items = [
        document_link(esc(use.analysis_title), f"../analyses/{use.analysis_page}.md")
        + esc(
            (
                ": included"
                if use.pooled
                else ": usable, but the analysis was not pooled (too little evidence)"
            )
            if use.included
            else f": excluded ({use.reason or MISSING})"
        )
        for use in uses
    ]
    return join_blocks(
        [
            heading(3, esc(f"Effect {effect.id}")),
            field_list(pairs),
            "Quoted from the source:",
            quote_block(esc(effect.source.quote)),
            *(escape_paragraphs(note_words(effect.notes)) if effect.notes else []),
            "Used in: " + (esc("no analysis") if not use_items else ""),
            bullets(use_items),
        ]
    )


def _updated(study: Study, context: SiteContext) -> str:
    """Say when the study's record last changed (from the git history), or ''."""
    if not study.path:
        return ""
    found = context.dates.latest([f"studies/{Path(str(study.path)).name}"])
    line = updated_line(found, "this study record")
    return f"*{esc(line)}*" if line else ""


def study_page(study: Study, context: SiteContext) -> str:
    """Return the Markdown of one study page."""
    population, bias, extraction = study.population, study.risk_of_bias, study.extraction
    links = [
        external_link(esc(f"doi:{study.doi}"), doi_url(study.doi)) if study.doi else "",
        external_link(esc("record page"), study.url) if study.url else "",
    ]
    pairs = [
        ("Reference", cite(study.citation, context.bibliography.keys)),
        ("Links", " · ".join(link for link in links if link)),
        ("Design", esc(code_words(study.design))),
        ("Year", esc(study.year)),
        ("Cohort (shared-sample key)", esc(study.cohort or "none: an independent sample")),
        ("Countries", esc(", ".join(study.countries))),
        ("Population", esc(note_words(population.description))),
        (
            "Age group; sex",
            esc(
                f"{code_words(population.age_group) or MISSING}; "
                f"{code_words(population.sex) or MISSING}"
            ),
        ),
        ("Condition", esc(code_words(population.condition))),
        ("Participants", esc(integer(population.n))),
        (
            "Follow-up (years)",
            esc(f"{study.follow_up_years:g}") if study.follow_up_years is not None else "",
        ),
        (
            "Risk of bias",
            esc(
                code_words(bias.judgement)
                if bias.judgement == bias.tool
                else f"{code_words(bias.judgement)} ({bias.tool})"
            ),
        ),
        ("Risk-of-bias notes", esc(note_words(bias.notes))),
        (
            "Extraction",
            esc(
                f"{code_words(extraction.status)}; read from the "
                f"{code_words(extraction.source_type)}"
            ),
        ),
        ("Extraction notes", esc(note_words(extraction.notes))),
    ]
    title = context.bibliography.titles.get(study.citation, "")
    return join_blocks(
        [
            ORPHAN,
            heading(1, esc(context.study_label(study))),
            _updated(study, context),
            "[\u2190 Study catalogue](../catalogue.md)",
            esc(title) if title and title != context.study_label(study) else "",
            field_list(pairs),
            *escape_paragraphs(note_words(study.notes)),
            heading(2, esc(f"Effects ({len(study.effects)})")),
            *(_effect_section(study, effect, context) for effect in study.effects),
        ]
    )


def catalogue_page(studies: Sequence[Study], context: SiteContext) -> str:
    """Return the catalogue: one sortable, searchable row per study, linked to its page."""
    rows = []
    for study in sorted(studies, key=lambda s: s.id):
        if study.id not in context.study_pages:
            continue
        used = {use.analysis_id for use in context.uses.get(study.id, ()) if use.included}
        rows.append(
            [
                context.study_link(study.id, prefix="studies/"),
                esc(context.study_label(study)),
                esc(study.year if study.year is not None else ""),
                esc(study.design),
                esc(study.cohort or ""),
                esc(integer(study.population.n) if study.population.n is not None else ""),
                esc(len(study.effects)),
                esc(study.risk_of_bias.judgement),
                esc(study.extraction.status),
                esc(len(used)),
            ]
        )
    intro = esc(
        f"{len(rows)} studies with "
        f"{sum(len(s.effects) for s in studies)} extracted effects. Type in the box "
        "to filter the table; select a column heading to sort by it."
    )
    return join_blocks(
        [
            heading(1, "Study catalogue"),
            intro,
            table(
                [
                    "Study",
                    "Reference",
                    "Year",
                    "Design",
                    "Cohort",
                    "N",
                    "Effects",
                    "Risk of bias",
                    "Extraction",
                    "Analyses",
                ],
                rows,
                "sortable-table",
            ),
        ]
    )
