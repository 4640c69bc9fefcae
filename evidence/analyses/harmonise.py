"""Selected study records -> an effect table on the analysis metric.

Pure functions, no I/O. :func:`harmonise` takes the loaded studies and one
:class:`~evidence.analyses.spec.Analysis` and returns an :class:`EffectTable`: one
:class:`EffectRow` per selected effect, each either included (with ``yi``, ``vi``, the
conversion in words and its orientation flip) or excluded with a reason. Steps, in order:

1. **select**: effects matching every ``select`` filter; ``exclude`` entries keep their reason;
2. **convert** to the metric (:func:`evidence.effects.conversions.to_metric`), e.g. "HR treated as
   RR; ratio and 95% CI to log scale"; "no CI or SE reported" otherwise;
3. **eligibility** (:func:`eligibility_reason`): an effect whose measure family is not among
   ``eligibility.measure_families`` (a hazard ratio in a risk-ratio analysis that does not
   say why the two may be combined), whose contrast type is kept apart (per-SD, per-unit)
   or whose outcome is in no declared outcome family is excluded with the reason;
   each row also records its outcome family and the question elements it does not match
   (``question_fields``: indirect evidence);
4. **orient** (:func:`orientation`) so that a value above the null means what ``orient`` says;
5. **adjustment rule** among effects of the same study, exposure, outcome and subgroup
   (:func:`apply_adjustment_rule`); :func:`adjustment_variants` gives the tables of the
   adjustment sensitivity analysis (most adjusted, least adjusted, fully adjusted only);
6. **dependence** (:func:`apply_dependence`): effects are grouped into clusters (the
   record's cohort key, else its study id). ``multilevel`` keeps every effect with its
   cluster for the three-level model; ``aggregate`` combines each cluster's effects under
   the stated ``rho`` (:func:`aggregate_cluster`); ``one-per-cohort`` keeps the most
   precise effect of each cluster (smallest variance; ties by study id, then effect id).
   A shared cohort is never counted twice without the model knowing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from evidence.analyses.spec import (
    ADJUSTMENT_ORDER,
    MEASURE_FAMILIES,
    Analysis,
    getter,
    resolve,
)
from evidence.effects.conversions import SYMMETRIC_MEASURES, Converted, to_metric
from evidence.records.model import Effect, Study

#: Which side of the contrast and which outcome direction each orientation puts above null.
ORIENTATIONS = {
    "fewer-ties-harmful": ("fewer-ties", "harmful"),
    "more-ties-beneficial": ("more-ties", "beneficial"),
    "fewer-ties-beneficial": ("fewer-ties", "beneficial"),
    "more-ties-harmful": ("more-ties", "harmful"),
}


@dataclass(frozen=True)
class EffectRow:
    """One selected effect (or one aggregated cluster) of an analysis.

    ``yi``/``vi`` are on the analysis metric and orientation (``None`` when excluded
    before conversion). ``fields`` holds the values of the analysis's subgroup and
    moderator paths.
    """

    study: str
    effect: str
    label: str
    cohort: str | None
    cluster: str
    included: bool
    reason: str | None
    measure_reported: str
    value: float | None
    lo: float | None
    hi: float | None
    yi: float | None
    vi: float | None
    conversion: str
    flipped: bool
    adjustment: str
    risk_of_bias: str
    year: int | None
    design: str
    n: int | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    group: tuple[Any, ...] = ()
    measure_family: str = ""
    contrast_type: str | None = None
    outcome_family: str = ""
    indirect: tuple[tuple[str, str], ...] = ()
    rob_tool: str = "not-assessed"
    rob_domains: tuple[tuple[str, str, str | None], ...] = ()

    def exclude(self, reason: str) -> EffectRow:
        """Return this row excluded with ``reason``."""
        return replace(self, included=False, reason=reason)


@dataclass(frozen=True)
class EffectTable:
    """Every selected effect of one analysis; ``included`` rows are the ones pooled."""

    rows: tuple[EffectRow, ...]
    dependence_note: str | None = None

    @property
    def included(self) -> tuple[EffectRow, ...]:
        """Rows that enter the model, in table order."""
        return tuple(r for r in self.rows if r.included)

    @property
    def excluded(self) -> tuple[EffectRow, ...]:
        """Rows left out, each with its reason."""
        return tuple(r for r in self.rows if not r.included)


def adjustment_variants(studies: Sequence[Study], analysis: Analysis) -> dict[str, EffectTable]:
    """Harmonise the tables of the adjustment sensitivity analysis, by rule.

    ``most-adjusted`` and ``least-adjusted`` apply that rule to every study;
    ``fully-adjusted-only`` keeps the most adjusted estimate of each study and then drops
    those not fully adjusted (crude, minimally adjusted or adjustment not reported).
    """
    most = harmonise(studies, replace(analysis, adjustment="most-adjusted"))
    least = harmonise(studies, replace(analysis, adjustment="least-adjusted"))
    fully = _fully_adjusted_only(studies, analysis)
    return {"most-adjusted": most, "least-adjusted": least, "fully-adjusted-only": fully}


def _fully_adjusted_only(studies: Sequence[Study], analysis: Analysis) -> EffectTable:
    rows = [build_row(study, effect, analysis) for study, effect in select(studies, analysis)]
    rows = apply_adjustment_rule(rows, "most-adjusted")
    rows = [
        r.exclude(f"not fully adjusted ({r.adjustment.replace('-', ' ')})")
        if r.included and r.adjustment != "fully-adjusted"
        else r
        for r in rows
    ]
    rows, note = apply_dependence(rows, analysis.dependence, analysis.rho, _apart(analysis))
    ordered = sorted(rows, key=lambda r: (not r.included, r.study, r.effect))
    return EffectTable(tuple(ordered), note)


def _apart(analysis: Analysis) -> bool:
    """Whether the analysis keeps outcome families apart (never combines across them)."""
    return analysis.rules.across_families == "separate"


def harmonise(studies: Sequence[Study], analysis: Analysis) -> EffectTable:
    """Select, convert, orient and pick effects for ``analysis`` (steps in the module doc).

    Parameters
    ----------
    studies : sequence of Study
        The validated records.
    analysis : Analysis
        The loaded spec.

    Returns
    -------
    EffectTable
        Included rows first (study id, effect id order), then excluded rows.
    """
    rows = [build_row(study, effect, analysis) for study, effect in select(studies, analysis)]
    rows = apply_adjustment_rule(rows, analysis.adjustment)
    rows, note = apply_dependence(rows, analysis.dependence, analysis.rho, _apart(analysis))
    ordered = sorted(rows, key=lambda r: (not r.included, r.study, r.effect))
    return EffectTable(tuple(ordered), note)


def matches(value: Any, accepted: Iterable[Any]) -> bool:
    """Return True when a field value (or any item of a list-valued field) is accepted."""
    allowed = set(accepted)
    if isinstance(value, tuple | list):
        return any(item in allowed for item in value)
    return value in allowed


def select(studies: Sequence[Study], analysis: Analysis) -> list[tuple[Study, Effect]]:
    """Every ``(study, effect)`` that matches all filters of any ``select`` alternative."""
    alternatives = [
        [(getter(path), frozenset(accepted)) for path, accepted in filters.items()]
        for filters in analysis.select
    ]
    chosen = []
    for study in sorted(studies, key=lambda s: s.id):
        for effect in study.effects:
            if any(
                all(_accepts(read(study, effect), allowed) for read, allowed in filters)
                for filters in alternatives
            ):
                chosen.append((study, effect))
    return chosen


def _accepts(value: Any, allowed: frozenset[Any]) -> bool:
    if isinstance(value, tuple | list):
        return any(item in allowed for item in value)
    return value in allowed


def build_row(study: Study, effect: Effect, analysis: Analysis) -> EffectRow:
    """Convert and orient one selected effect, or exclude it with the reason."""
    s = effect.statistic
    lo, hi = s.ci if s.ci is not None else (None, None)
    label = effect.id if not effect.subgroup else effect.subgroup.label
    row = EffectRow(
        study=study.id,
        effect=effect.id,
        label=f"{study.id}: {label}",
        cohort=study.cohort,
        cluster=study.cluster,
        included=True,
        reason=None,
        measure_reported=s.measure,
        value=s.value,
        lo=lo,
        hi=hi,
        yi=None,
        vi=None,
        conversion="",
        flipped=False,
        adjustment=effect.adjustment,
        risk_of_bias=study.risk_of_bias.judgement,
        year=study.year,
        design=study.design,
        # A subgroup's size is not the record's n (the whole sample): unknown, not summed.
        n=study.population.n if effect.subgroup is None else None,
        fields={
            path: _plain(resolve(study, effect, path))
            for path in (*analysis.subgroups, *analysis.moderators)
        },
        group=(
            study.id,
            effect.exposure.construct,
            effect.exposure.tie_types,
            effect.outcome.domain,
            effect.outcome.name,
            effect.subgroup.label if effect.subgroup else None,
        ),
        measure_family=MEASURE_FAMILIES.get(s.measure, s.measure),
        contrast_type=effect.exposure.contrast_type,
        outcome_family=outcome_family(study, effect, analysis) or "",
        indirect=indirectness(study, effect, analysis),
        rob_tool=study.risk_of_bias.tool,
        rob_domains=tuple((d.name, d.judgement, d.support) for d in study.risk_of_bias.domains),
    )
    for exclusion in analysis.exclude:
        if exclusion.matches(study.id, effect.id):
            return row.exclude(f"excluded by the analysis: {exclusion.reason}")
    converted = to_metric(s, analysis.metric, analysis.assume_rare_outcome)
    if not isinstance(converted, Converted):
        return row.exclude(reader_reason(converted.reason))
    ineligible = eligibility_reason(row, analysis)
    if ineligible:
        return row.exclude(ineligible)
    if not (math.isfinite(converted.yi) and math.isfinite(converted.vi) and converted.vi > 0):
        if "two-sided p" in converted.conversion:
            return row.exclude(
                f"no usable precision: variance {converted.vi:g} from the "
                f"p-value (p = {s.p:g} with an estimate at or near the null "
                "gives no SE)"
            )
        return row.exclude(
            f"no usable precision: variance {converted.vi:g} from the reported "
            "CI or SE (a zero-width interval?)"
        )
    sign, words = orientation(effect, analysis.orient)
    conversion = converted.conversion if not words else f"{converted.conversion}; {words}"
    return replace(
        row, yi=sign * converted.yi, vi=converted.vi, conversion=conversion, flipped=sign < 0
    )


#: Reader words for measure families and contrast types.
FAMILY_WORDS = {
    "hazard": "hazard ratio",
    "risk": "risk ratio",
    "odds": "odds ratio",
    "rate": "rate ratio",
    "percent-change": "percent change",
    "means-ratio": "ratio of means",
    "mean-difference": "mean difference",
    "correlation": "correlation",
    "coefficient": "regression coefficient",
    "risk-difference": "risk difference",
}
CONTRAST_WORDS = {
    "binary": "exposed versus unexposed",
    "extreme-categories": "highest versus lowest category",
    "category-vs-reference": "a category versus a reference category",
    "per-sd": "per standard deviation",
    "per-unit": "per unit of a score or count",
    "not-stated": "comparison not stated",
}


def eligibility_reason(row: EffectRow, analysis: Analysis) -> str | None:
    """Why a converted effect may not be pooled here (``eligibility``), or ``None``."""
    rules = analysis.rules
    if row.measure_family not in rules.measure_families:
        allowed = " and ".join(FAMILY_WORDS.get(f, f) + "s" for f in rules.measure_families)
        found = FAMILY_WORDS.get(row.measure_family, row.measure_family)
        return f"{_a(found)}: this analysis pools {allowed} only"
    if row.measure_family != "correlation":
        kind = row.contrast_type or "not-stated"
        if kind not in rules.contrasts:
            return (
                f"{_a(CONTRAST_WORDS.get(kind, kind))} estimate, kept apart from the "
                "category contrasts this analysis pools"
                if kind in ("per-sd", "per-unit")
                else f"{_a(CONTRAST_WORDS.get(kind, kind))} estimate: this analysis pools "
                + ", ".join(CONTRAST_WORDS.get(c, c) for c in rules.contrasts)
                + " estimates only"
            )
    if rules.outcome_families and not row.outcome_family:
        labels = ", ".join(label for label, _ in rules.outcome_families)
        return f"outcome in none of the declared outcome families ({labels})"
    return None


#: Conversion messages of the effects layer -> reader words (field names left out).
_READER_REASONS = (
    (
        " (set assume_rare_outcome to accept it)",
        ": an odds ratio is read as a risk ratio only when the outcome is rare",
    ),
    ("measure b not convertible", "an unstandardised regression coefficient is not convertible"),
    ("measure beta not convertible", "a standardised regression coefficient is not convertible"),
)


def reader_reason(reason: str) -> str:
    """Put a conversion failure in reader words (no spec field names)."""
    for old, new in _READER_REASONS:
        reason = reason.replace(old, new)
    for metric, words in (("log-risk-ratio", "risk-ratio"), ("log-odds-ratio", "odds-ratio")):
        reason = reason.replace(f"the {metric} scale", f"the {words} scale")  # not "the the"
        reason = reason.replace(metric, f"the {words} scale")
    return reason


def _a(words: str) -> str:
    """``words`` with its indefinite article."""
    return ("an " if words[:1] in "aeiou" else "a ") + words


def outcome_family(study: Study, effect: Effect, analysis: Analysis) -> str | None:
    """Name the outcome family of an effect: the first declared one it matches, else its domain.

    ``None`` when families are declared and the effect matches none of them.
    """
    declared = analysis.rules.outcome_families
    if not declared:
        return effect.outcome.domain
    for label, filters in declared:
        if all(
            _accepts(getter(path)(study, effect), frozenset(accepted))
            for path, accepted in filters.items()
        ):
            return label
    return None


def indirectness(study: Study, effect: Effect, analysis: Analysis) -> tuple[tuple[str, str], ...]:
    """Question elements (population, exposure, outcome) the effect does not match, in words.

    Each element of ``question_fields`` maps field paths to accepted values (``None``
    accepts an unset field); the words say what the effect has instead.
    """
    found = []
    for element, filters in analysis.question_fields:
        for path, accepted in filters.items():
            value = getter(path)(study, effect)
            ok = ((value is None or value == ()) and None in accepted) or _accepts(
                value, frozenset(a for a in accepted if a is not None)
            )
            if not ok:
                found.append((element, f"{_field_words(path)} is {_value_words(value)}"))
                break
    return tuple(found)


def _field_words(path: str) -> str:
    return path.rsplit(".", 1)[-1].replace("_", " ")


def _value_words(value: Any) -> str:
    if value is None or value == ():
        return "not stated"
    if isinstance(value, tuple | list):
        return " and ".join(str(v).replace("-", " ") for v in value)
    return str(value).replace("-", " ")


def _plain(value: Any) -> Any:
    """Field values as CSV/JSON-friendly scalars (lists joined with ``;``).

    An empty list (a list-valued field such as ``exposure.tie_types`` left out of the
    record) is ``None``, like any field that is not set, so that a subgroup analysis puts
    it in the level "not reported" instead of a level named by the empty string.
    """
    if isinstance(value, tuple | list):
        return ";".join(str(v) for v in value) or None
    return value


def orientation(effect: Effect, orient: str) -> tuple[int, str]:
    r"""Sign that puts ``effect`` on the analysis orientation, and the flip in words.

    A statistic above its null points to ``exposure.higher_means`` (fewer-ties or more-ties)
    with a higher outcome, which is ``outcome.higher_is`` (harmful or beneficial). Reversing
    the contrast (reference group) inverts any ratio exactly (:math:`1/RR`, sign of the log)
    and negates a difference or correlation. Reversing the outcome (death -> survival) is
    exact for odds ratios (:math:`OR_{survival} = 1/OR_{death}`), differences and
    correlations, but only approximate for risk and hazard ratios, where
    :math:`RR_{survival} \ne 1/RR_{death}` (Deeks 2002, Stat Med 21:1575-1600).

    Returns
    -------
    (int, str)
        ``+1`` or ``-1``, and ``""`` when nothing was reversed.
    """
    side, direction = ORIENTATIONS[orient]
    contrast_reversed = effect.exposure.higher_means != side
    outcome_reversed = effect.outcome.higher_is != direction
    sign = -1 if contrast_reversed != outcome_reversed else 1
    parts = []
    if contrast_reversed:
        parts.append(
            f"contrast reversed (statistic points to {effect.exposure.higher_means}; exact)"
        )
    if outcome_reversed:
        exact = effect.statistic.measure in SYMMETRIC_MEASURES
        parts.append(
            f"outcome reversed ({effect.outcome.higher_is} -> {direction}; "
            + (
                "exact for this measure)"
                if exact
                else f"exact only for odds ratios, an approximation for {effect.statistic.measure})"
            )
        )
    if not parts:
        return sign, ""
    verb = "sign flipped" if sign < 0 else "signs cancel, not flipped"
    return sign, f"{verb}: " + " and ".join(parts)


def apply_adjustment_rule(rows: list[EffectRow], rule: str) -> list[EffectRow]:
    """Keep the most (or least) adjusted usable estimate of each effect.

    Ranks ``fully-adjusted`` > ``minimally-adjusted`` > ``unadjusted`` for ``most-adjusted``
    and the reverse for ``least-adjusted``; ``not-reported`` ranks last in both. Only rows
    still included compete, so a fully adjusted estimate without a CI does not remove a
    usable minimally adjusted one. Rows of one group share
    ``(study, exposure construct, tie types, outcome domain, outcome name, subgroup label)``
    (:attr:`EffectRow.group`).
    """
    if rule == "all":
        return rows
    order = list(ADJUSTMENT_ORDER[:3])
    if rule == "least-adjusted":
        order.reverse()
    order.append("not-reported")
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, row in enumerate(rows):
        if row.included:
            groups.setdefault(row.group, []).append(index)
    result = list(rows)
    for members in groups.values():
        if len(members) < 2:
            continue
        best = min(members, key=lambda i: (order.index(rows[i].adjustment), rows[i].effect))
        best_rank = order.index(rows[best].adjustment)
        for i in members:
            if order.index(rows[i].adjustment) > best_rank:
                kept = rows[best]
                word = "less" if rule == "most-adjusted" else "more"
                result[i] = rows[i].exclude(
                    f"{word} adjusted estimate of the same effect (kept {kept.effect}, "
                    f"{kept.adjustment})"
                )
    return result


def apply_dependence(
    rows: list[EffectRow], rule: str, rho: float | None, apart: bool = False
) -> tuple[list[EffectRow], str | None]:
    """Apply the dependence rule to the included rows (see the module docstring).

    With ``apart`` (the analysis keeps outcome families apart) ``aggregate`` and
    ``one-per-cohort`` act within each outcome family of a cluster, so a coronary and a
    stroke estimate of one cohort are never averaged into one row nor compete for one place.

    Returns
    -------
    (list of EffectRow, str or None)
        The rows and a sentence describing what was done with shared clusters.
    """
    families = {row.outcome_family for row in rows if row.included}
    within = apart and rule != "multilevel" and len(families) > 1
    clusters: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        if row.included:
            key = f"{row.cluster}, {row.outcome_family}" if within else row.cluster
            clusters.setdefault(key, []).append(index)
    shared = {c: m for c, m in clusters.items() if len(m) > 1}
    if not shared:
        return rows, None
    names = ", ".join(f"{c} ({len(m)} effects)" for c, m in sorted(shared.items()))
    if rule == "multilevel":
        return rows, (f"effects nested in clusters (three-level model): {names}")
    result = list(rows)
    if rule == "one-per-cohort":
        for cluster, members in shared.items():
            best = min(members, key=lambda i: (rows[i].vi, rows[i].study, rows[i].effect))
            kept = rows[best]
            for i in members:
                if i != best:
                    result[i] = rows[i].exclude(
                        f"other cohort member chosen ({kept.study}/{kept.effect}: same sample "
                        f"'{cluster}', smallest variance kept)"
                    )
        return result, f"one effect per cluster, the most precise: {names}"
    if rho is None:  # the spec loader requires rho with dependence: aggregate
        raise ValueError("dependence: aggregate needs rho")
    for cluster, members in sorted(shared.items()):
        yi, vi = aggregate_cluster(
            [_number(rows[i].yi) for i in members],
            [_number(rows[i].vi) for i in members],
            float(rho),
        )
        first = rows[members[0]]
        parts = [f"{rows[i].study}/{rows[i].effect}" for i in members]
        for i in members:
            result[i] = rows[i].exclude(
                f"combined into the cluster row '{cluster}' (aggregate, rho = {rho:g})"
            )
        result.append(
            replace(
                first,
                study=first.cluster,
                effect="aggregate",
                label=f"{cluster} (aggregate of {len(members)})",
                included=True,
                reason=None,
                measure_reported="aggregate",
                value=None,
                lo=None,
                hi=None,
                yi=yi,
                vi=vi,
                flipped=False,
                conversion=f"inverse-variance aggregate of {', '.join(parts)} with rho = {rho:g} "
                "(metafor aggregate.escalc, struct CS)",
                year=min((y for i in members if (y := rows[i].year)), default=None),
                n=max((n for i in members if (n := rows[i].n)), default=None),
                fields={k: v for k, v in first.fields.items()},
            )
        )
    return result, f"effects aggregated within clusters (rho = {rho:g}): {names}"


def _number(value: float | None) -> float:
    """Return an included row's ``yi`` or ``vi`` (never ``None`` once included)."""
    if value is None:
        raise ValueError("an included effect has no yi/vi")
    return value


def aggregate_cluster(yi: Sequence[float], vi: Sequence[float], rho: float) -> tuple[float, float]:
    r"""Combine dependent effects of one cluster into one (compound symmetry).

    With :math:`V_{ij} = \rho\sqrt{v_i v_j}` (:math:`i \ne j`), :math:`V_{ii} = v_i` and
    :math:`W = V^{-1}`: :math:`\bar y = \mathbf 1' W y / \mathbf 1' W \mathbf 1`,
    :math:`\bar v = 1 / \mathbf 1' W \mathbf 1` (metafor ``aggregate.escalc`` with
    ``struct = "CS"``; Borenstein et al. 2009, chapter 24).

    Examples
    --------
    Two effects with equal variance v and correlation rho give the mean with variance
    :math:`v(1+\rho)/2`:

    >>> y, v = aggregate_cluster([0.1, 0.3], [0.04, 0.04], 0.5)
    >>> round(y, 10), round(v, 10)
    (0.2, 0.03)
    """
    from evidence.stats.dependence import aggregate  # on use: harmonising loads no models

    combined = aggregate(yi, vi, ["cluster"] * len(yi), rho)
    return float(combined.yi[0]), float(combined.vi[0])
