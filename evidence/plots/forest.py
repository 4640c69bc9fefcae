"""Forest plots: the main forest, cumulative and leave-one-out forests.

Every estimate is drawn on the model scale (log ratio, Fisher z, or identity) so that
intervals are symmetric, with natural-scale tick labels and natural-scale numbers in the
text columns (Borenstein et al. 2009, *Introduction to Meta-Analysis*, ch. 5;
Viechtbauer 2010, metafor ``forest.rma``).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from evidence.plots.common import (
    MUTED,
    POOLED,
    SUBGROUP,
    Scale,
    figure_title,
    finite,
    number,
    p_value,
    safe_text,
)
from evidence.plots.data import EffectRow, Pooled, pooled_from
from evidence.plots.table import (
    Column,
    Layout,
    Row,
    draw_rows,
    orientation_note,
    prediction_row,
)

#: Risk-of-bias judgements as a letter and a colour (Okabe-Ito; letters carry the meaning).
RISK_OF_BIAS_MARKS = {
    "low": ("L", "#009E73"),
    "some": ("M", "#E69F00"),
    "moderate": ("M", "#E69F00"),
    "high": ("H", "#D55E00"),
    "serious": ("H", "#D55E00"),
    "critical": ("H", "#D55E00"),
}
UNKNOWN_RISK_OF_BIAS = ("?", "#8C8C8C")

_METHOD_NAMES = {"REML": "REML", "DL": "DerSimonian-Laird", "ML": "ML", "PM": "Paule-Mandel",
                 "SJ": "Sidik-Jonkman", "HE": "Hedges", "EB": "empirical Bayes",
                 "FE": "fixed-effect", "EE": "equal-effects"}
_TEST_NAMES = {"knha": "Knapp-Hartung", "z": "z", "t": "t"}


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
    details = ", ".join(x for x in (_METHOD_NAMES.get(method, method),
                                    _TEST_NAMES.get(test, test)) if x)
    kind = "Fixed-effect model" if method in ("FE", "EE", "CE") else "Random-effects model"
    return f"{kind} ({details})" if details else kind


def pooled_label(pooled: Pooled) -> str:
    """``"Pooled estimate (k = 12)"``, or ``"Pooled (12 effects, 9 studies)"`` if they differ."""
    studies = pooled.raw.get("n_studies")
    if pooled.k is None:
        return "Pooled estimate"
    if finite(studies) and int(studies) != pooled.k:
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


def main_forest(result: dict[str, Any], rows: list[EffectRow], scale: Scale) -> Figure:
    r"""Forest plot of the included effects, the pooled diamond, PI and subgroup diamonds.

    Squares have area proportional to the inverse-variance weight
    :math:`w_i / \sum_j w_j`; whiskers are :math:`y_i \pm 1.96\,s_i`; the diamond spans
    the pooled CI and the bar below it the 95% prediction interval
    :math:`\hat\mu \pm t_{k-2}\sqrt{\tau^2 + SE^2}` (Riley et al. 2011, BMJ 342:d549).
    """
    pooled = pooled_from(result.get("pooled"))
    show_bias = any(row.risk_of_bias for row in rows)
    columns = [Column(f"{scale.abbreviation} [95% CI]", 0.86), Column("Weight", 0.945)]
    if show_bias:
        columns.append(Column("RoB", 0.978, "center"))
    max_weight = max((r.weight for r in rows if finite(r.weight)), default=1.0) or 1.0
    table = [Row("heading", "Study")]
    for row in rows:
        weight = f"{row.weight:.1f}%" if finite(row.weight) else ""
        size = row.weight / max_weight if finite(row.weight) else 0.5
        table.append(Row("effect", row.label, row.yi, row.lo, row.hi, size,
                         (scale.interval_text(row.yi, row.lo, row.hi), weight)))
    table.append(Row("blank"))
    footnotes: list[str] = []
    if pooled is not None:
        table.append(Row("diamond", pooled_label(pooled), pooled.estimate, pooled.lo, pooled.hi,
                         texts=(scale.interval_text(pooled.estimate, pooled.lo, pooled.hi),
                                "100%"), color=POOLED, bold=True))
        pi_row = prediction_row(pooled.pi, scale)
        if pi_row is not None:
            table.append(pi_row)
        table.append(Row("note", model_label(pooled)))
        note = heterogeneity_note(pooled)
        if note:
            table.append(Row("note", note))
    table += subgroup_rows(result, scale)
    if show_bias:
        footnotes.append("Risk of bias (RoB): L low, M some concerns or moderate, "
                         "H high or serious, ? unclear or not assessed.")
    layout = Layout(safe_text(result.get("title"), 72) or "Forest plot", scale,
                    tuple(columns), orient_note=orientation_note(result.get("orient")),
                    footnotes=tuple(footnotes))
    figure = draw_rows(table, layout)
    if show_bias:
        _draw_risk_of_bias(figure, rows, columns[-1].x)
    return figure


def _draw_risk_of_bias(figure: Figure, rows: list[EffectRow], x: float) -> None:
    """Draw a coloured disc with a letter for each study's risk-of-bias judgement."""
    from matplotlib.transforms import blended_transform_factory

    axes = figure.axes[0]
    transform = blended_transform_factory(figure.transFigure, axes.transData)
    for y, row in enumerate(rows, start=1):
        letter, colour = risk_of_bias_mark(row.risk_of_bias)
        axes.plot([x], [y], marker="o", markersize=10, color=colour, transform=transform,
                  clip_on=False, linestyle="none")
        axes.text(x, y, letter, transform=transform, ha="center", va="center",
                  fontsize=7, fontweight="bold", color="#FFFFFF", clip_on=False)


def subgroup_rows(result: dict[str, Any], scale: Scale) -> list[Row]:
    """Rows for every subgroup analysis: a heading, one diamond per level, the Q-between test."""
    sections = result.get("subgroups")
    if not isinstance(sections, dict):
        return []
    rows: list[Row] = []
    for name, section in sections.items():
        levels = section.get("subgroups") if isinstance(section, dict) else None
        if not isinstance(levels, dict) or not levels:
            continue
        rows += [Row("blank"), Row("heading", f"By {safe_text(name, 30)}")]
        for level, level_result in levels.items():
            pooled = pooled_from(level_result)
            k = f" (k = {pooled.k})" if pooled is not None and pooled.k is not None else ""
            label = safe_text(level, 28) + k
            if pooled is None:
                rows.append(Row("text", label, texts=("NA",), color=MUTED))
                continue
            rows.append(Row("diamond", label, pooled.estimate, pooled.lo, pooled.hi,
                            texts=(scale.interval_text(pooled.estimate, pooled.lo,
                                                       pooled.hi),), color=SUBGROUP))
        if finite(section.get("q_between")):
            df = section.get("q_between_df")
            df_text = f", df = {int(df)}" if finite(df) else ""
            rows.append(Row("note", f"Test for subgroup differences: Q = "
                                    f"{number(section['q_between'])}{df_text}, "
                                    f"{p_value(section.get('q_between_p'))}"))
    return rows


def sequence_forest(result: dict[str, Any], entries: list[dict[str, Any]], scale: Scale,
                    kind: str) -> Figure | None:
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
        label = prefix + safe_text(entry.get(key), 30)
        if estimate is None:
            table.append(Row("text", label, texts=("NA",), color=MUTED))
            continue
        i2 = f"{float(entry['i2']):.0f}%" if finite(entry.get("i2")) else ""
        k = str(estimate.k) if estimate.k is not None else ""
        table.append(Row("effect", label, estimate.estimate, estimate.lo, estimate.hi, 0.35,
                         (scale.interval_text(estimate.estimate, estimate.lo, estimate.hi), k,
                          i2),
                         color=POOLED if kind == "cumulative" else "#000000"))
    if len(table) < 3:
        return None
    title = "Cumulative meta-analysis" if kind == "cumulative" else "Leave-one-out analysis"
    layout = Layout(figure_title(title, result.get("title")), scale,
                    (Column(f"{scale.abbreviation} [95% CI]", 0.84), Column("k", 0.895),
                     Column("I\u00b2", 0.97)),
                    reference=pooled.estimate if pooled else None,
                    band=(pooled.lo, pooled.hi) if pooled else None,
                    orient_note=orientation_note(result.get("orient")),
                    footnotes=("Dashed line and band: estimate and 95% CI with every study.",)
                    if pooled else ())
    return draw_rows(table, layout)
