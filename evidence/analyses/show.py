"""``evidence show STUDY``: one study as reviewers need to see it.

For each of the study's effects: the statistic as recorded, and for every analysis whether
it selects the effect and, if it does, whether the effect is pooled or why it is left out.
For every analysis that pools one of the study's effects: the pooled estimate with the
study and without it (the study's records left out and the analysis harmonised and fitted
again), back-transformed as the analysis reports it. Nothing is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evidence.analyses.fit import fit_analysis
from evidence.analyses.harmonise import EffectTable, harmonise
from evidence.analyses.spec import Analysis, load_analyses
from evidence.errors import EvidenceError, Problem, errors_in
from evidence.records.model import Statistic, Study
from evidence.records.validate import load_studies


@dataclass(frozen=True)
class EffectUse:
    """How one analysis treats one effect: ``included``, or the reason it is left out."""

    analysis: str
    included: bool
    reason: str | None


@dataclass(frozen=True)
class EffectView:
    """One effect of the study with the analyses that select it."""

    id: str
    statistic: str
    uses: tuple[EffectUse, ...]


@dataclass(frozen=True)
class Influence:
    """An analysis the study contributes to: pooled with and without the study."""

    analysis: str
    title: str
    k_with: int
    k_without: int
    with_study: tuple[float, float, float] | None
    without_study: tuple[float, float, float] | None
    scale: str
    note: str | None = None


@dataclass(frozen=True)
class StudyView:
    """Everything ``evidence show`` prints about one study."""

    study: Study
    effects: tuple[EffectView, ...]
    influence: tuple[Influence, ...] = field(default_factory=tuple)


def describe_statistic(statistic: Statistic) -> str:
    """Write the statistic in one line as recorded: ``HR 1.26 [1.08, 1.48]``."""
    s, parts = statistic, [statistic.measure]
    if s.value is not None:
        parts.append(f"{s.value:g}")
    if s.ci is not None:
        parts.append(f"[{s.ci[0]:g}, {s.ci[1]:g}]")
    if s.range is not None:
        parts.append(f"range {s.range[0]:g} to {s.range[1]:g}")
    extras = [
        f"{name} {getattr(s, name):g}"
        for name in ("se", "se_log", "p", "t", "f")
        if getattr(s, name) is not None
    ]
    extras += [f"{name} {getattr(s, name)}" for name in ("n", "n1", "n2") if getattr(s, name)]
    if s.table is not None:
        t = s.table
        extras.append(
            f"table {t.exposed_events}/{t.exposed_total} vs "
            f"{t.unexposed_events}/{t.unexposed_total}"
        )
    if s.groups is not None:
        g = s.groups
        extras.append(
            f"means {g.exposed_mean:g} (SD {g.exposed_sd:g}, n {g.exposed_n}) vs "
            f"{g.unexposed_mean:g} (SD {g.unexposed_sd:g}, n {g.unexposed_n})"
        )
    return " ".join(parts) + (f" ({'; '.join(extras)})" if extras else "")


def _pooled(
    table: EffectTable, analysis: Analysis
) -> dict[str, tuple[tuple[float, float, float] | None, str]]:
    """Pooled estimate and CI as the analysis reports them, per outcome family if it splits.

    Returns ``{label: (numbers or None, scale or the reason it is not pooled)}``; the label
    is ``""`` for an analysis pooled as a whole, the family's name otherwise.
    """
    fitted = fit_analysis(table, analysis)
    blocks = [("", fitted)] if fitted.get("pooled") or not fitted.get("by_family") else []
    blocks += [(str(b.get("family")), b) for b in fitted.get("by_family") or []]
    found: dict[str, tuple[tuple[float, float, float] | None, str]] = {}
    for label, block in blocks:
        pooled = block.get("pooled")
        if not pooled:
            found[label] = (None, str(block.get("message") or "not pooled"))
            continue
        back = pooled.get("back_transformed")
        if back:
            found[label] = ((back["estimate"], back["ci"][0], back["ci"][1]), "ratio")
        else:
            found[label] = ((pooled["estimate"], pooled["ci"][0], pooled["ci"][1]), analysis.metric)
    return found


def show_study(
    study_id: str, studies_dir: Path = Path("studies"), analyses_dir: Path = Path("analyses")
) -> StudyView:
    """Build the view of one study (see the module docstring).

    Raises
    ------
    EvidenceError
        When records or specs are invalid, or no record has the id ``study_id``.
    """
    studies, problems = load_studies(studies_dir)
    analyses, spec_problems = load_analyses(analyses_dir)
    errors = errors_in(problems + spec_problems)
    if errors:
        raise EvidenceError(errors)
    study = next((s for s in studies if s.id == study_id), None)
    if study is None:
        from evidence.records.yamlio import did_you_mean

        hint = did_you_mean(study_id, [s.id for s in studies])
        raise EvidenceError(
            [
                Problem(
                    str(Path(studies_dir) / f"{study_id}.yaml"),
                    0,
                    0,
                    f"no study with the id '{study_id}'{hint}",
                    "unknown-study",
                )
            ]
        )
    others = [s for s in studies if s.id != study_id]
    uses: dict[str, list[EffectUse]] = {e.id: [] for e in study.effects}
    influence = []
    for analysis in analyses:
        table = harmonise(studies, analysis)
        mine = [r for r in table.rows if r.study == study_id]
        for row in mine:
            if row.effect in uses:
                uses[row.effect].append(EffectUse(analysis.id, row.included, row.reason))
        if not any(r.included for r in mine):
            continue
        with_study = _pooled(table, analysis)
        without_table = harmonise(others, analysis)
        without_study = _pooled(without_table, analysis)
        for label, (numbers, scale) in with_study.items():
            before, note = without_study.get(label, (None, "not in the analysis without it"))
            if label and (numbers, scale) == (before, note):
                continue  # an outcome family the study has no estimate in
            influence.append(
                Influence(
                    analysis.id + (f" ({label})" if label else ""),
                    analysis.title,
                    len(table.included),
                    len(without_table.included),
                    numbers,
                    before,
                    scale,
                    None if before is not None else note,
                )
            )
    effects = tuple(
        EffectView(e.id, describe_statistic(e.statistic), tuple(uses[e.id])) for e in study.effects
    )
    return StudyView(study, effects, tuple(influence))


def _interval(numbers: tuple[float, float, float] | None) -> str:
    if numbers is None:
        return "not pooled"
    estimate, low, high = numbers
    return f"{estimate:.3g} [{low:.3g}, {high:.3g}]"


def _scale(item: Influence) -> str:
    if item.with_study is None or item.scale == "ratio":
        return ""
    return f"{item.scale} "


def _change(item: Influence) -> str:
    if item.with_study is None or item.without_study is None:
        return ""
    before, after = item.without_study[0], item.with_study[0]
    if item.scale == "ratio" and before > 0:
        return f"; the study moves the estimate by {100 * (after / before - 1):+.1f}%"
    return f"; the study moves the estimate by {after - before:+.3g}"


def render_show(view: StudyView, markdown: bool = False) -> str:
    """Write a :class:`StudyView` as text (``evidence show``) or Markdown (``evidence diff``).

    In Markdown every text that comes from a record or a spec is escaped (no markup, no
    ``@mention``), as in the rest of the pull-request comment.
    """
    from evidence.analyses.compare import _escape_markdown

    def esc(text: str) -> str:
        return _escape_markdown(text).replace("@", "@\u200b") if markdown else text

    study = view.study
    lines = []
    heading = f"{study.id}: {study.design}"
    details = [str(study.year) if study.year else None, study.cohort and f"cohort {study.cohort}"]
    if study.population.n:
        details.append(f"n {study.population.n:,}")
    heading += "".join(f", {d}" for d in details if d)
    lines.append(f"#### {heading}" if markdown else heading)
    if markdown:
        lines.append("")
    for effect in view.effects:
        bullet = "- " if markdown else "  "
        lines.append(f"{bullet}effect {esc(effect.id)}: {esc(effect.statistic)}")
        if not effect.uses:
            lines.append(f"{'  - ' if markdown else '      '}selected by no analysis")
        for use in effect.uses:
            state = "included" if use.included else f"left out: {esc(use.reason or '')}"
            lines.append(f"{'  - ' if markdown else '      '}{use.analysis}: {state}")
    if view.influence:
        lines.append("" if markdown else "  pooled with and without the study:")
    for item in view.influence:
        if item.with_study is None and item.without_study is None:
            text = f"{item.analysis}: not pooled, with it or without it ({esc(item.scale)})"
            lines.append(f"- {text}" if markdown else f"    {text}")
            continue
        text = (
            f"{item.analysis}: {_scale(item)}{_interval(item.with_study)} with it "
            f"(k = {item.k_with}), {_interval(item.without_study)} without it "
            f"(k = {item.k_without})"
            f"{_change(item)}{f' ({esc(item.note)})' if item.note else ''}"
        )
        lines.append(f"- {text}" if markdown else f"    {text}")
    return "\n".join(lines)
