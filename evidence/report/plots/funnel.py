"""Contour-enhanced funnel plot (Peters et al. 2008, J Clin Epidemiol 61:991-996)."""

from __future__ import annotations

import math
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon

from evidence.report.plots.common import (
    FIGURE_WIDTH,
    INK,
    MUTED,
    POOLED,
    PREDICTION,
    SMALL_TEXT,
    TITLE_TEXT,
    figure_title,
    finite,
    new_figure,
    p_value,
    wrap_text,
)
from evidence.report.plots.data import EffectRow, pooled_from
from evidence.report.plots.registry import Drawing, FigureInput, FigureKind, register
from evidence.report.plots.scale import Scale, set_natural_axis

#: Two-sided significance contours: (z quantile, fill colour, legend text), widest first.
#: :math:`z_{1-\alpha/2}` for :math:`\alpha` = 0.01, 0.05, 0.10.
CONTOURS = (
    (2.5758293035489004, "#BDBDBD", "0.01 \u2264 p < 0.05"),
    (1.959963984540054, "#DCDCDC", "0.05 \u2264 p < 0.10"),
    (1.6448536269514722, "#FFFFFF", "p \u2265 0.10"),
)
OUTSIDE = ("#9E9E9E", "p < 0.01")
#: Below this many effects, asymmetry tests and funnel plots are not advised
#: (Sterne et al. 2011, BMJ 343:d4002, recommendation 1).
FEW_STUDIES = 10
FEW_STUDIES_NOTE = (
    "Fewer than 10 effects: funnel asymmetry cannot be judged reliably (Sterne et al. 2011)."
)


def funnel(result: dict[str, Any], rows: list[EffectRow], scale: Scale) -> Figure:
    r"""Draw each effect's estimate :math:`y_i` against its standard error :math:`s_i`.

    The shaded regions are where a study's own two-sided test against the null would give
    :math:`p < 0.01`, :math:`0.01 \le p < 0.05`, :math:`0.05 \le p < 0.10` (edges at
    :math:`|y| = z_{1-\alpha/2}\, s`, centred on the null, Peters et al. 2008). Dashed
    lines are the pseudo 95% confidence limits :math:`\hat\mu \pm 1.96\, s` around the
    pooled estimate (Sterne & Egger 2001, J Clin Epidemiol 54:1046).
    """
    pooled = pooled_from(result.get("pooled"))
    adjusted, filled = trim_and_fill(result)
    figure = new_figure(5.6)
    # Room above the axes for the title and a two-line note; left of it for the tick
    # labels and the axis label.
    axes = figure.add_axes((0.19, 0.4, 0.76, 0.44))
    se_max = max([row.sei for row in rows] + [se for _y, se in filled]) * 1.08
    centre = pooled.estimate if pooled is not None else 0.0
    values = [row.yi for row in rows] + [y for y, _se in filled]
    values += [centre - 1.96 * se_max, centre + 1.96 * se_max, 0.0]
    lo, hi = min(values), max(values)
    margin = 0.05 * (hi - lo)
    lo, hi = lo - margin, hi + margin
    axes.set_facecolor(OUTSIDE[0])
    for z, colour, _label in CONTOURS:
        axes.add_patch(
            Polygon(
                [(-z * se_max, se_max), (0.0, 0.0), (z * se_max, se_max)],
                closed=True,
                facecolor=colour,
                edgecolor="none",
                zorder=0,
            )
        )
    handles: list[Any] = [Patch(facecolor=OUTSIDE[0], label=OUTSIDE[1])]
    handles += [
        Patch(facecolor=c, edgecolor="#9E9E9E", linewidth=0.5, label=t) for _z, c, t in CONTOURS
    ]
    if pooled is not None:
        axes.plot([centre, centre], [0, se_max], color=POOLED, linewidth=1.0, zorder=1)
        axes.plot(
            [centre - 1.96 * se_max, centre, centre + 1.96 * se_max],
            [se_max, 0, se_max],
            color=POOLED,
            linewidth=0.8,
            linestyle=(0, (4, 3)),
            zorder=1,
        )
        handles.append(Line2D([], [], color=POOLED, linewidth=1.0, label="Pooled, pseudo 95% CI"))
    if adjusted is not None:
        axes.plot(
            [adjusted, adjusted],
            [0, se_max],
            color=PREDICTION,
            linewidth=1.0,
            linestyle=(0, (1, 2)),
            zorder=1,
        )
        handles.append(
            Line2D(
                [],
                [],
                color=PREDICTION,
                linewidth=1.0,
                linestyle=(0, (1, 2)),
                label="Trim and fill",
            )
        )
    if filled:
        axes.scatter(
            [y for y, _se in filled],
            [se for _y, se in filled],
            s=22,
            facecolors="#FFFFFF",
            edgecolors=INK,
            linewidths=0.8,
            zorder=3,
        )
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                markerfacecolor="#FFFFFF",
                color=INK,
                linestyle="none",
                markersize=4.5,
                label="Imputed study",
            )
        )
    axes.scatter(
        [row.yi for row in rows],
        [row.sei for row in rows],
        s=22,
        color=INK,
        zorder=3,
        linewidths=0.5,
        edgecolors="#FFFFFF",
    )
    set_natural_axis(axes, scale, lo, hi)
    axes.set_ylim(se_max, 0.0)
    axes.set_ylabel("Standard error")
    axes.set_xlabel(scale.axis_label())
    title = figure_title("Funnel plot", result.get("title"))
    figure.text(0.012, 0.985, title, ha="left", va="top", fontsize=TITLE_TEXT, fontweight="bold")
    if len(rows) < FEW_STUDIES:
        figure.text(
            0.012,
            0.94,
            "\n".join(wrap_text(FEW_STUDIES_NOTE, 0.96 * FIGURE_WIDTH * 72.0, SMALL_TEXT)),
            ha="left",
            va="top",
            fontsize=SMALL_TEXT,
            color=MUTED,
            style="italic",
        )
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=2,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        fontsize=SMALL_TEXT,
        handlelength=1.0,
        columnspacing=0.8,
        handletextpad=0.4,
    )
    return figure


def trim_and_fill(result: dict[str, Any]) -> tuple[float | None, list[tuple[float, float]]]:
    """Return the trim-and-fill estimate and imputed ``(yi, sei)`` when studies were filled.

    Nothing is returned when no study was imputed (:math:`k_0 = 0`): the adjusted estimate
    is then the pooled one (Duval & Tweedie 2000, Biometrics 56:455-463).
    """
    section = result.get("trimfill")
    if not isinstance(section, dict) or not finite(section.get("k0")) or section["k0"] < 1:
        return None, []
    estimate = float(section["estimate"]) if finite(section.get("estimate")) else None
    filled = [
        (float(f["yi"]), math.sqrt(float(f["vi"])))
        for f in section.get("filled") or []
        if isinstance(f, dict)
        and finite(f.get("yi"))
        and finite(f.get("vi"))
        and float(f["vi"]) > 0
    ]
    return estimate, filled


def funnel_description(result: dict[str, Any], rows: list[EffectRow], scale: Scale) -> str:
    """Alt text of the funnel plot, with Egger's test when the results give it."""
    text = (
        f"Contour-enhanced funnel plot of {len(rows)} effects: each estimate "
        f"({scale.label.lower()}) against its standard error, shaded where a study's own "
        f"test gives p < 0.01, p < 0.05 and p < 0.10."
    )
    egger = result.get("egger")
    if isinstance(egger, dict) and finite(egger.get("p")):
        text += f" Egger's regression test {p_value(egger['p'])}."
    if len(rows) < FEW_STUDIES:
        text += " " + FEW_STUDIES_NOTE
    trimfill = result.get("trimfill")
    if isinstance(trimfill, dict) and finite(trimfill.get("k0")):
        k0 = int(trimfill["k0"])
        text += f" Trim and fill imputes {k0} stud{'y' if k0 == 1 else 'ies'}."
    return text


def _funnel(source: FigureInput) -> list[Drawing]:
    return [
        Drawing(
            "funnel",
            "Funnel plot",
            funnel_description(source.result, source.rows, source.scale),
            lambda: funnel(source.result, source.rows, source.scale),
        )
    ]


register(FigureKind("funnel", 20, lambda source: True, _funnel))
