"""Forest plots: the main forest, cumulative and leave-one-out forests.

Every estimate is drawn on the model scale (log ratio, Fisher z, or identity) so that
intervals are symmetric, with natural-scale tick labels and natural-scale numbers in the
text columns (Borenstein et al. 2009, *Introduction to Meta-Analysis*, ch. 5;
Viechtbauer 2010, metafor ``forest.rma``).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from evidence.report.plots.common import (
    MUTED,
    POOLED,
    SUBGROUP,
    figure_title,
    finite,
    number,
    p_value,
    safe_text,
)
from evidence.report.plots.data import EffectRow, Pooled, level_values, pooled_from, section_list
from evidence.report.plots.registry import Drawing, FigureInput, FigureKind, register
from evidence.report.plots.scale import Scale
from evidence.report.plots.table import (
    Column,
    Layout,
    Row,
    draw_rows,
    orientation_note,
    prediction_row,
)
from evidence.report.values import as_dict, as_float
from evidence.report.wording import code_words, direction_labels, field_words
from evidence.stats.tau2 import ESTIMATORS

#: Risk-of-bias judgements as a letter and a colour (Okabe-Ito; letters carry the meaning).
RISK_OF_BIAS_MARKS = {
    "low": ("L", "#009E73"),
    "some": ("M", "#E69F00"),
    "moderate": ("M", "#E69F00"),
    "high": ("H", "#D55E00"),
    "serious": ("H", "#D55E00"),
    "critical": ("H", "#D55E00"),
    "very": ("H", "#D55E00"),
}
UNKNOWN_RISK_OF_BIAS = ("?", "#8C8C8C")

_TEST_NAMES = {"knha": "Knapp-Hartung", "adhoc": "modified Knapp-Hartung", "z": "z", "t": "t"}


def risk_of_bias_mark(judgement: str) -> tuple[str, str]:
    """Letter and colour for a risk-of-bias judgement (``low``, ``some-concerns``, ...)."""
    text = judgement.lower()
    for key, mark in RISK_OF_BIAS_MARKS.items():
        if text.startswith(key):
            return mark
    return UNKNOWN_RISK_OF_BIAS


def model_label(pooled: Pooled) -> str:
    """``"Random effects (REML, Knapp-Hartung)"`` from a pooled result's method and test."""
    method = safe_text(pooled.raw.get("method"), 20)
    test = safe_text(pooled.raw.get("test"), 20)
    estimator = ESTIMATORS.get(method)
    details = ", ".join(
        x for x in (estimator.label if estimator else method, _TEST_NAMES.get(test, test)) if x
    )
    kind = "Fixed-effect model" if method in ("FE", "EE", "CE") else "Random-effects model"
    return f"{kind} ({details})" if details else kind


def pooled_label(pooled: Pooled) -> str:
    """``"Pooled estimate (k = 12)"``, or ``"Pooled (12 effects, 9 studies)"`` if they differ."""
    studies = as_float(pooled.raw.get("n_studies"))
    if pooled.k is None:
        return "Pooled estimate"
    if studies is not None and int(studies) != pooled.k:
        return f"Pooled ({pooled.k} effects, {int(studies)} studies)"
    return f"Pooled estimate (k = {pooled.k})"


def heterogeneity_note(pooled: Pooled) -> str:
    """``"Heterogeneity: τ² = 0.012; I² = 45%; Q = 20.1 (df = 11), p = 0.040"``."""
    raw = pooled.raw
    parts = []
    if finite(raw.get("tau2")):
        parts.append(f"\u03c4\u00b2 = {number(raw['tau2'], 3)}")
    if finite(raw.get("i2")):
        parts.append(f"I\u00b2 = {float(raw['i2']):.0f}%")
    if finite(raw.get("q")):
        df = f" (df = {int(raw['q_df'])})" if finite(raw.get("q_df")) else ""
        p = f", {p_value(raw['q_p'])}" if finite(raw.get("q_p")) else ""
        parts.append(f"Q = {number(raw['q'], 1)}{df}{p}")
    return "Heterogeneity: " + "; ".join(parts) if parts else ""


def main_forest(
    result: dict[str, Any],
    rows: list[EffectRow],
    scale: Scale,
    grouping: tuple[str, list[str]] | None = None,
) -> Figure:
    r"""Forest plot of the included effects, the pooled diamond, PI and subgroup diamonds.

    Squares have area proportional to the inverse-variance weight
    :math:`w_i / \sum_j w_j`; whiskers are :math:`y_i \pm 1.96\,s_i`; the diamond spans
    the pooled CI and the bar below it the 95% prediction interval
    :math:`\hat\mu \pm t_{k-2}\sqrt{\tau^2 + SE^2}` (Riley et al. 2011, BMJ 342:d549).
    With ``grouping`` = (field, level of each row), effects are listed under their level
    with that level's diamond (metafor ``forest`` with subgroups); other subgroup fields
    follow the overall estimate as diamonds only.
    """
    pooled = pooled_from(result.get("pooled"))
    show_bias = any(row.risk_of_bias for row in rows)
    columns = [Column(f"{scale.abbreviation} [95% CI]"), Column("weight")]
    table = _effect_rows(result, rows, scale, grouping, show_bias)
    if pooled is not None:
        table.append(
            Row(
                "diamond",
                pooled_label(pooled),
                pooled.estimate,
                pooled.lo,
                pooled.hi,
                texts=(scale.interval_text(pooled.estimate, pooled.lo, pooled.hi), "100%")
                if pooled.estimable
                else ("not estimable",),
                color=POOLED,
                bold=True,
            )
        )
        pi_row = prediction_row(pooled.pi, scale)
        if pi_row is not None:
            table.append(pi_row)
        table.append(Row("note", model_label(pooled)))
        note = heterogeneity_note(pooled)
        if note:
            table.append(Row("note", note))
    table += subgroup_rows(result, scale, grouping[0] if grouping else None)
    footnotes: list[str] = []
    if show_bias:
        footnotes.append(
            "Risk of bias (discs on the right): L low, M some concerns or moderate, "
            "H high, very high or serious, ? not assessed or unclear."
        )
    directions = result_directions(result)
    layout = Layout(
        safe_text(result.get("title"), None) or "Forest plot",
        scale,
        tuple(columns),
        orient_note="" if directions else orientation_note(result.get("orient")),
        footnotes=tuple(footnotes),
        axes_right=0.9 if show_bias else 0.95,
        directions=directions,
    )
    return draw_rows(table, layout)


def result_directions(result: dict[str, Any]) -> tuple[str, str] | None:
    """Return what left and right of the null mean (from metric, orient and outcome)."""
    question = as_dict(result.get("question"))
    return direction_labels(result.get("metric"), result.get("orient"), question.get("outcome"))


def _effect_rows(
    result: dict[str, Any],
    rows: list[EffectRow],
    scale: Scale,
    grouping: tuple[str, list[str]] | None,
    show_bias: bool = False,
) -> list[Row]:
    """Rows of the study part of the forest (with a risk-of-bias badge when ``show_bias``)."""
    max_weight = max((r.weight for r in rows if finite(r.weight)), default=1.0) or 1.0
    table: list[Row] = []

    def add(row: EffectRow) -> None:
        weight = f"{row.weight:.1f}%" if finite(row.weight) else ""
        size = row.weight / max_weight if finite(row.weight) else 0.5
        table.append(
            Row(
                "effect",
                row.label,
                row.yi,
                row.lo,
                row.hi,
                size,
                (scale.interval_text(row.yi, row.lo, row.hi), weight),
                badge=risk_of_bias_mark(row.risk_of_bias) if show_bias else None,
            )
        )

    if grouping is None:
        table.append(Row("heading", "Study"))
        for row in rows:
            add(row)
        table.append(Row("blank"))
        return table
    field, levels = grouping
    fitted = result["subgroups"][field]["subgroups"]
    table.append(Row("heading", f"Study, by {field_words(safe_text(field, 40))}"))
    for level in [*fitted, *sorted(set(levels) - set(fitted))]:
        members = [row for row, value in zip(rows, levels, strict=True) if value == level]
        if not members:
            continue
        table.append(
            Row("heading", code_words(safe_text(level, 60)) or "not reported", color=SUBGROUP)
        )
        for row in members:
            add(row)
        subtotal = pooled_from(fitted.get(level))
        if subtotal is not None and not subtotal.estimable:
            k = f" (k = {subtotal.k})" if subtotal.k is not None else ""
            table.append(Row("text", f"Subtotal{k}", texts=("not estimable",), color=MUTED))
        elif subtotal is not None:
            k = f" (k = {subtotal.k})" if subtotal.k is not None else ""
            table.append(
                Row(
                    "diamond",
                    f"Subtotal{k}",
                    subtotal.estimate,
                    subtotal.lo,
                    subtotal.hi,
                    texts=(scale.interval_text(subtotal.estimate, subtotal.lo, subtotal.hi),),
                    color=SUBGROUP,
                )
            )
        table.append(Row("blank"))
    return table


def subgroup_grouping(result: dict[str, Any], levels_of: Any) -> tuple[str, list[str]] | None:
    """Return the first subgroup field with fitted levels and a column in the effects table.

    ``levels_of(field)`` returns the level of each drawn effect, or None when the effects
    table has no such column.
    """
    sections = result.get("subgroups")
    if not isinstance(sections, dict):
        return None
    for field, section in sections.items():
        fitted = section.get("subgroups") if isinstance(section, dict) else None
        if isinstance(fitted, dict) and fitted:
            levels = levels_of(str(field))
            if levels is not None:
                return str(field), levels
    return None


def subgroup_rows(result: dict[str, Any], scale: Scale, grouped: str | None = None) -> list[Row]:
    """Rows for every subgroup analysis: a heading, one diamond per level, the Q-between test.

    The ``grouped`` field (already drawn with its studies) contributes only its test.
    """
    sections = result.get("subgroups")
    if not isinstance(sections, dict):
        return []
    rows: list[Row] = []
    for name, section in sections.items():
        levels = section.get("subgroups") if isinstance(section, dict) else None
        if not isinstance(levels, dict) or not levels:
            continue
        if name == grouped:
            rows += _q_between_rows(section, name)
            continue
        rows += [Row("blank"), Row("heading", f"By {field_words(safe_text(name, 40))}")]
        for level, level_result in levels.items():
            pooled = pooled_from(level_result)
            k = f" (k = {pooled.k})" if pooled is not None and pooled.k is not None else ""
            label = code_words(safe_text(level, 60)) + k
            if pooled is None or not pooled.estimable:
                rows.append(Row("text", label, texts=("not estimable",), color=MUTED))
                continue
            rows.append(
                Row(
                    "diamond",
                    label,
                    pooled.estimate,
                    pooled.lo,
                    pooled.hi,
                    texts=(scale.interval_text(pooled.estimate, pooled.lo, pooled.hi),),
                    color=SUBGROUP,
                )
            )
        rows += _q_between_rows(section)
    return rows


def _q_between_rows(section: dict[str, Any], name: str | None = None) -> list[Row]:
    """Return a note with the test for subgroup differences, when the results give it."""
    if not finite(section.get("q_between")):
        return []
    df = as_float(section.get("q_between_df"))
    df_text = f", df = {int(df)}" if df is not None else ""
    which = f" ({field_words(safe_text(name, 40))})" if name else ""
    return [
        Row(
            "note",
            f"Test for subgroup differences{which}: Q = "
            f"{number(section['q_between'])}{df_text}, "
            f"{p_value(section.get('q_between_p'))}",
        )
    ]


def sequence_forest(
    result: dict[str, Any], entries: list[dict[str, Any]], scale: Scale, kind: str
) -> Figure | None:
    """Cumulative (``kind="cumulative"``) or leave-one-out (``"leave-one-out"``) forest.

    Each row is the random-effects estimate after adding one study in order (cumulative,
    Lau et al. 1992, NEJM 327:248) or with one study omitted (leave-one-out); the dashed
    line and shaded band are the overall estimate and its CI.
    """
    key, prefix = ("added", "+ ") if kind == "cumulative" else ("omitted", "")
    pooled = pooled_from(result.get("pooled"))
    table = [Row("heading", "Study added" if kind == "cumulative" else "Study omitted")]
    for entry in entries:
        estimate = pooled_from(entry)
        label = prefix + safe_text(entry.get(key), None)
        if estimate is None or not estimate.estimable:
            table.append(Row("text", label, texts=("not estimable",), color=MUTED))
            continue
        i2 = f"{float(entry['i2']):.0f}%" if finite(entry.get("i2")) else ""
        if estimate.k is not None:
            label += f" (k = {estimate.k})"
        table.append(
            Row(
                "effect",
                label,
                estimate.estimate,
                estimate.lo,
                estimate.hi,
                0.35,
                (scale.interval_text(estimate.estimate, estimate.lo, estimate.hi), i2),
                color=POOLED if kind == "cumulative" else "#000000",
            )
        )
    if len(table) < 3:
        return None
    title = "Cumulative meta-analysis" if kind == "cumulative" else "Leave-one-out analysis"
    layout = Layout(
        figure_title(title, result.get("title")),
        scale,
        (
            Column(f"{scale.abbreviation} [95% CI]"),
            Column("I\u00b2", prefix="I\u00b2 "),
        ),
        axes_left=0.56,
        reference=pooled.estimate if pooled else None,
        band=(pooled.lo, pooled.hi) if pooled else None,
        directions=result_directions(result),
        footnotes=("Dashed line and band: estimate and 95% CI with every study.",)
        if pooled
        else (),
    )
    return draw_rows(table, layout)


def forest_description(rows: list[Any], pooled: Any, scale: Scale) -> str:
    """``"Forest plot of 12 effects; pooled RR 1.29 (1.13 to 1.47); ..."``."""
    text = f"Forest plot of {len(rows)} effects"
    if pooled is None:
        return text + "; no pooled estimate."
    text += f"; pooled {scale.describe(pooled.estimate, pooled.lo, pooled.hi)}"
    if pooled.pi is not None:
        text += (
            f"; 95% prediction interval {number(scale.natural(pooled.pi[0]))} to "
            f"{number(scale.natural(pooled.pi[1]))}"
        )
    if finite(pooled.raw.get("i2")):
        text += f"; I2 = {float(pooled.raw['i2']):.0f}%"
    return text + "."


def sequence_description(kind: str, entries: list[dict[str, Any]], scale: Scale) -> str:
    """Alt text of a cumulative or leave-one-out forest: the range of estimates."""
    estimates = [float(e["estimate"]) for e in entries if finite(e.get("estimate"))]
    span = ""
    if estimates:
        span = (
            f"; estimates range from {number(scale.natural(min(estimates)))} to "
            f"{number(scale.natural(max(estimates)))} ({scale.abbreviation})"
        )
    what = "adding one study at a time" if kind == "cumulative" else "omitting each study"
    return f"{kind.capitalize()} forest plot of {len(entries)} fits {what}{span}."


def _forest(source: FigureInput) -> list[Drawing]:
    if source.result.get("status", "ok") != "ok":
        return _studies_forest(source)
    grouping = subgroup_grouping(source.result, lambda field: level_values(source.effects, field))
    return [
        Drawing(
            "forest",
            "Forest plot",
            forest_description(source.rows, source.pooled, source.scale),
            lambda: main_forest(source.result, source.rows, source.scale, grouping),
        )
    ]


def _sequence(kind: str, title: str) -> FigureKind:
    """Register the cumulative or leave-one-out forest (drawn from two fits or more)."""
    key = kind.replace("-", "_")

    def render(source: FigureInput) -> list[Drawing]:
        entries = section_list(source.result, key)
        return [
            Drawing(
                kind,
                title,
                sequence_description(kind, entries, source.scale),
                lambda: sequence_forest(source.result, entries, source.scale, kind),
            )
        ]

    return FigureKind(
        kind,
        30 if kind == "cumulative" else 40,
        lambda source: len(section_list(source.result, key)) >= 2,
        render,
    )


def _studies_forest(source: FigureInput) -> list[Drawing]:
    """Draw the forest of an analysis that pooled nothing overall (see ``plots.studies``)."""
    from evidence.report.plots.studies import studies_forest

    families = (
        level_values(source.effects, "outcome_family")
        if source.result.get("status") == "by-family"
        else None
    )
    show_bias = any(row.risk_of_bias for row in source.rows)
    badges = [risk_of_bias_mark(row.risk_of_bias) if show_bias else None for row in source.rows]
    described = f"Forest plot of {len(source.rows)} effects; no overall pooled estimate."
    return [
        Drawing(
            "forest",
            "Forest plot",
            described,
            lambda: studies_forest(
                source.result,
                source.rows,
                source.scale,
                families,
                badges,
                direction_labels(
                    source.result.get("metric"), source.result.get("orient"), "the outcome"
                )
                if families is not None
                else result_directions(source.result),
            ),
        )
    ]


register(FigureKind("forest", 10, lambda source: True, _forest, unpooled=True))
register(_sequence("cumulative", "Cumulative forest plot"))
register(_sequence("leave-one-out", "Leave-one-out plot"))
