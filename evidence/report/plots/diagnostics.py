"""Influence diagnostics, Baujat plot and meta-regression bubble plots."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from evidence.report.plots.common import (
    FIGURE_WIDTH,
    HIGHLIGHT,
    INK,
    MUTED,
    POOLED,
    SMALL_TEXT,
    TITLE_TEXT,
    Z_95,
    figure_title,
    file_stem,
    finite,
    finite_pair,
    new_figure,
    number,
    p_value,
    safe_text,
    wrap_text,
)
from evidence.report.plots.data import EffectRow, moderator_values, section_list
from evidence.report.plots.registry import Drawing, FigureInput, FigureKind, register
from evidence.report.plots.scale import Scale, set_natural_axis
from evidence.report.wording import field_words

#: Influence statistics drawn, in metafor's ``plot.infl.rma.uni`` order, with their labels.
INFLUENCE_PANELS = (
    ("rstudent", "Studentised residual"),
    ("dffits", "DFFITS"),
    ("cook_d", "Cook's distance"),
    ("cov_r", "Covariance ratio"),
    ("tau2_del", "\u03c4\u00b2 without the study"),
    ("q_del", "Q without the study"),
    ("hat", "Hat value"),
    ("weight", "Weight (%)"),
)


def influence(result: dict[str, Any], entries: list[dict[str, Any]]) -> Figure | None:
    """Eight panels of leave-one-out influence statistics by study number.

    The statistics are those of Viechtbauer & Cheung (2010, Res Synth Methods 1:112-125),
    as computed by metafor ``influence.rma.uni``; studies flagged ``influential`` are
    drawn in a contrasting colour and named in the key.
    """
    panels = [
        (key, label)
        for key, label in INFLUENCE_PANELS
        if any(finite(entry.get(key)) for entry in entries)
    ]
    if not panels:
        return None
    columns = 2
    rows = math.ceil(len(panels) / columns)
    key_lines = study_key(entries, "study")
    height = 0.8 + 1.9 * rows + 0.22 * len(key_lines)
    figure = new_figure(height)
    bottom = (0.45 + 0.22 * len(key_lines)) / height
    grid = figure.add_gridspec(
        rows,
        columns,
        left=0.14,
        right=0.97,
        top=1 - 0.7 / height,
        bottom=bottom,
        hspace=0.85,
        wspace=0.45,
    )
    index = list(range(1, len(entries) + 1))
    flagged = [bool(entry.get("influential")) for entry in entries]
    for position, (key, label) in enumerate(panels):
        axes = figure.add_subplot(grid[position // columns, position % columns])
        values = [float(e[key]) if finite(e.get(key)) else math.nan for e in entries]
        axes.plot(index, values, color=MUTED, linewidth=0.8, zorder=1)
        colours = [HIGHLIGHT if flag else INK for flag in flagged]
        axes.scatter(index, values, s=16, c=colours, zorder=2, linewidths=0)
        for level, style in reference_lines(key, len(entries), result):
            axes.axhline(
                level,
                color=MUTED,
                linewidth=0.7,
                zorder=0,
                linestyle=(0, (4, 3)) if style == "dashed" else (0, (1, 2)),
            )
        axes.set_title(label, fontsize=SMALL_TEXT, loc="left")
        axes.set_xlim(0.5, len(entries) + 0.5)
        axes.xaxis.set_major_locator(_integer_locator(len(entries)))
        axes.tick_params(labelsize=SMALL_TEXT)
        axes.yaxis.set_major_locator(MaxNLocator(nbins=3))
    figure.text(
        0.012,
        1 - 0.1 / height,
        figure_title("Influence diagnostics", result.get("title")),
        ha="left",
        va="top",
        fontsize=TITLE_TEXT,
        fontweight="bold",
    )
    _draw_key(figure, key_lines, height)
    return figure


#: Median of the chi-square distribution with 1 df, :math:`\chi^2_{1;0.5}`
#: (metafor's Cook's distance cut-off for an intercept-only model).
CHI2_1_MEDIAN = 0.454936423119572


def reference_lines(key: str, k: int, result: dict[str, Any]) -> list[tuple[float, str]]:
    r"""Return the reference lines of an influence panel, as metafor ``plot.infl.rma.uni``.

    For an intercept-only model (:math:`p = 1`) with :math:`k` studies: studentised
    residuals 0 and :math:`\pm z_{0.975}`; DFFITS 0 and :math:`\pm 3\sqrt{p/(k-p)}`;
    Cook's distance :math:`\chi^2_{p;0.5}`; covariance ratio 1; :math:`\tau^2` and
    :math:`Q` of the full model; hat values :math:`p/k` and :math:`3p/k`; weights
    :math:`100/k` (Viechtbauer & Cheung 2010). Returns ``(level, "dashed"|"dotted")`` pairs.
    """
    given = result.get("pooled")
    pooled: dict[str, Any] = given if isinstance(given, dict) else {}
    lines: dict[str, list[tuple[float, str]]] = {
        "rstudent": [(0.0, "dashed"), (-Z_95, "dotted"), (Z_95, "dotted")],
        "cook_d": [(CHI2_1_MEDIAN, "dotted")],
        "cov_r": [(1.0, "dashed")],
        "hat": [(1.0 / k, "dashed"), (3.0 / k, "dotted")],
        "weight": [(100.0 / k, "dashed")],
    }
    if k > 1:
        cut = 3.0 * math.sqrt(1.0 / (k - 1))
        lines["dffits"] = [(0.0, "dashed"), (-cut, "dotted"), (cut, "dotted")]
    if finite(pooled.get("tau2")):
        lines["tau2_del"] = [(float(pooled["tau2"]), "dashed")]
    if finite(pooled.get("q")):
        lines["q_del"] = [(float(pooled["q"]), "dashed")]
    return lines.get(key, [])


def baujat(result: dict[str, Any], points: list[tuple[str, float, float]]) -> Figure | None:
    r"""Baujat plot: contribution to Cochran's Q (x) against influence on the estimate (y).

    For study *i*, :math:`x_i = w_i (y_i - \hat\mu)^2` with fixed-effect weights and
    :math:`y_i = (\hat\mu - \hat\mu_{(-i)})^2 / \mathrm{Var}(\hat\mu_{(-i)})`
    (Baujat et al. 2002, Stat Med 21:2641-2652); studies are numbered as in the key.
    """
    if len(points) < 2:
        return None
    key_lines = study_key([{"study": label} for label, _x, _y in points], "study")
    height = 4.3 + 0.22 * len(key_lines)
    figure = new_figure(height)
    bottom = (0.75 + 0.22 * len(key_lines)) / height
    axes = figure.add_axes((0.17, bottom, 0.78, 1 - bottom - 0.5 / height))
    xs = [x for _label, x, _y in points]
    ys = [y for _label, _x, y in points]
    axes.scatter(xs, ys, s=26, color=POOLED, zorder=2, linewidths=0)
    for index_number, (x, y) in enumerate(zip(xs, ys, strict=True), start=1):
        axes.annotate(
            str(index_number),
            (x, y),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=SMALL_TEXT,
        )
    axes.set_xlabel("Contribution to overall heterogeneity (Q)")
    axes.set_ylabel("Influence on the pooled estimate")
    axes.margins(0.12)
    figure.text(
        0.012,
        1 - 0.1 / height,
        figure_title("Baujat plot", result.get("title")),
        ha="left",
        va="top",
        fontsize=TITLE_TEXT,
        fontweight="bold",
    )
    _draw_key(figure, key_lines, height)
    return figure


def baujat_points(
    result: dict[str, Any], entries: list[dict[str, Any]]
) -> list[tuple[str, float, float]]:
    """Return Baujat coordinates as ``(label, x, y)`` tuples.

    Read from ``result["baujat"]``, either a list of {``study``, ``x``, ``y``} or columns
    {``x``: [...], ``y``: [...]} (metafor ``baujat()`` order, labelled by the influence
    entries' ``study``), or else from the influence entries' ``baujat_x`` / ``baujat_y``;
    ``[]`` when none is present.
    """
    section = result.get("baujat")
    source: list[tuple[Any, Any, Any]] = []
    if (
        isinstance(section, dict)
        and isinstance(section.get("x"), list)
        and isinstance(section.get("y"), list)
        and len(section["x"]) == len(section["y"])
    ):
        labels = section.get("study") or section.get("studies") or [e.get("study") for e in entries]
        if not isinstance(labels, list) or len(labels) != len(section["x"]):
            labels = [str(i) for i in range(1, len(section["x"]) + 1)]
        source = list(zip(labels, section["x"], section["y"], strict=True))
    elif isinstance(section, list):
        source = [(e.get("study"), e.get("x"), e.get("y")) for e in section if isinstance(e, dict)]
    elif entries:
        source = [(e.get("study"), e.get("baujat_x"), e.get("baujat_y")) for e in entries]
    return [
        (safe_text(label, 40), float(x), float(y))
        for label, x, y in source
        if finite(x) and finite(y)
    ]


def bubble(
    result: dict[str, Any],
    moderator: str,
    section: dict[str, Any],
    rows: list[EffectRow],
    values: list[float],
    scale: Scale,
) -> Figure | None:
    r"""Bubble plot of effects against a continuous moderator with the fitted line.

    Bubble area is proportional to the inverse-variance weight :math:`1/v_i`; the line is
    the meta-regression :math:`\hat y = b_0 + b_1 x` when the model has exactly one slope
    (Thompson & Higgins 2002, Stat Med 21:1559-1573).
    """
    pairs = [(x, row) for x, row in zip(values, rows, strict=False) if finite(x)]
    if len(pairs) < 2:
        return None
    figure = new_figure(4.6)
    axes = figure.add_axes((0.17, 0.27, 0.78, 0.63))
    xs = [x for x, _row in pairs]
    ys = [row.yi for _x, row in pairs]
    inverse = [1.0 / row.sei**2 for _x, row in pairs]
    largest = max(inverse)
    sizes = [20.0 + 380.0 * w / largest for w in inverse]
    axes.scatter(
        xs, ys, s=sizes, facecolor=POOLED, alpha=0.45, edgecolors=POOLED, linewidths=0.8, zorder=2
    )
    coefficients = [c for c in section.get("coefficients") or [] if isinstance(c, dict)]
    if len(coefficients) == 2 and all(finite(c.get("estimate")) for c in coefficients):
        intercept, slope = (float(c["estimate"]) for c in coefficients)
        line_x = [min(xs), max(xs)]
        axes.plot(
            line_x, [intercept + slope * x for x in line_x], color=INK, linewidth=1.2, zorder=3
        )
    axes.axhline(scale.null, color=MUTED, linewidth=0.8, zorder=1)
    lo, hi = min([*ys, scale.null]), max([*ys, scale.null])
    margin = 0.1 * (hi - lo or 1.0)
    set_natural_axis(axes, scale, lo - margin, hi + margin, which="y")
    axes.set_ylabel(scale.axis_label())
    axes.set_xlabel(moderator_name(moderator))
    axes.margins(x=0.08)
    if all(float(x).is_integer() for x in xs):  # years, counts: no "2002.5" ticks
        axes.xaxis.set_major_locator(_integer_locator(8))
    figure.text(
        0.012,
        0.985,
        figure_title("Meta-regression (bubble plot)", result.get("title")),
        ha="left",
        va="top",
        fontsize=TITLE_TEXT,
        fontweight="bold",
    )
    summary = slope_summary(section, scale)
    lines = wrap_text(summary, 0.96 * FIGURE_WIDTH * 72.0, SMALL_TEXT, max_lines=3)
    shown = lines if summary else []
    for index, line in enumerate(shown):  # top line first: the SVG reads in order
        figure.text(
            0.012,
            0.02 + (len(shown) - 1 - index) * 0.2 / 4.6,
            line,
            ha="left",
            va="bottom",
            fontsize=SMALL_TEXT,
            color=MUTED,
        )
    return figure


def slope_summary(section: dict[str, Any], scale: Scale) -> str:
    r"""Describe the slope in one line: estimate, CI, p, k and R² (model scale).

    For log metrics the slope is also given as a ratio per unit, :math:`\exp(b_1)`.
    """
    coefficients = [c for c in section.get("coefficients") or [] if isinstance(c, dict)]
    if len(coefficients) != 2 or not finite(coefficients[1].get("estimate")):
        return ""
    slope = coefficients[1]
    text = f"Slope {number(slope['estimate'], 3)}"
    ci = finite_pair(slope.get("ci"))
    if ci is not None:
        text += f" [{number(ci[0], 3)}, {number(ci[1], 3)}]"
    if scale.back_transform == "exp":
        text += f" (\u00d7{number(math.exp(float(slope['estimate'])), 3)} per unit)"
    if finite(slope.get("p")):
        text += f", {p_value(slope['p'])}"
    if finite(section.get("k")):
        text += f"; k = {int(section['k'])}"
    if finite(section.get("r2")):
        text += f"; R\u00b2 = {float(section['r2']):.0f}%"
    return text + ". Bubble area: inverse-variance weight."


def study_key(entries: list[dict[str, Any]], key: str) -> list[str]:
    """``["1 Steptoe 2013; 2 Eng 2002; ..."]`` wrapped to lines of at most 50 characters."""
    names = [
        f"{number} {safe_text(entry.get(key), 48) or '?'}"
        for number, entry in enumerate(entries, start=1)
    ]
    flagged = [
        name for name, entry in zip(names, entries, strict=True) if entry.get("influential") is True
    ]
    lines: list[str] = []
    for name in names:  # wrap between entries, never inside one
        if lines and len(lines[-1]) + len(name) + 2 <= 50:
            lines[-1] += "; " + name
        else:
            lines.append(name)
    if flagged:  # on lines of their own, wrapped between words to the same 50 characters
        current = ""
        for word in ("Influential (highlighted): " + "; ".join(flagged)).split():
            if current and len(current) + 1 + len(word) > 50:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}".strip()
        lines.append(current)
    return lines


def moderator_name(moderator: Any) -> str:
    """Readable moderator name: ``"follow_up_years"`` -> ``"length of follow-up (years)"``."""
    return safe_text(field_words(str(moderator)), 40)


def _draw_key(figure: Figure, lines: list[str], height: float) -> None:
    """Write the study-number key at the bottom of ``figure``."""
    y = 0.08 / height
    for line in reversed(lines):
        figure.text(0.012, y, line, ha="left", va="bottom", fontsize=SMALL_TEXT, color=MUTED)
        y += 0.22 / height


def _integer_locator(count: int) -> Any:
    """Integer ticks, at most about eight of them."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=min(count, 8), integer=True)


def influential_text(entries: list[dict[str, Any]]) -> str:
    """``"2 flagged as influential: A, B"`` or ``"none flagged as influential"``."""
    flagged = [safe_text(e.get("study"), 40) for e in entries if e.get("influential") is True]
    if not flagged:
        return "none flagged as influential"
    return f"{len(flagged)} flagged as influential: " + ", ".join(flagged)


def _influence(source: FigureInput) -> list[Drawing]:
    entries = section_list(source.result, "influence")
    return [
        Drawing(
            "influence",
            "Influence diagnostics",
            f"Influence diagnostics of {len(entries)} studies (studentised "
            f"residuals, DFFITS, Cook's distances, covariance ratios, leave-one-out "
            f"tau2 and Q, hat values, weights); {influential_text(entries)}.",
            lambda: influence(source.result, entries),
        )
    ]


def _baujat_points(source: FigureInput) -> list[tuple[str, float, float]]:
    return baujat_points(source.result, section_list(source.result, "influence"))


def _baujat(source: FigureInput) -> list[Drawing]:
    points = _baujat_points(source)
    return [
        Drawing(
            "baujat",
            "Baujat plot",
            f"Baujat plot of {len(points)} studies: contribution to heterogeneity "
            f"against influence on the pooled estimate.",
            lambda: baujat(source.result, points),
        )
    ]


def _bubbles(source: FigureInput) -> list[Drawing]:
    """One bubble plot per meta-regression moderator that has a column in the effects."""
    sections = source.result.get("meta_regression")
    if not isinstance(sections, dict):
        return []
    drawings = []
    for moderator, section in sections.items():
        values = moderator_values(source.effects, str(moderator))
        if not isinstance(section, dict) or values is None:
            continue
        if sum(finite(v) for v in values) < 2:
            continue
        description = (
            f"Bubble plot of {sum(finite(v) for v in values)} effects against "
            f"{safe_text(moderator, 60)}, bubble area by weight, with the "
            f"meta-regression line."
        )
        name = f"bubble-{file_stem(moderator)}"
        drawings.append(
            Drawing(
                name,
                f"Meta-regression on {moderator_name(moderator)}",
                description,
                partial(
                    bubble,
                    source.result,
                    str(moderator),
                    section,
                    source.rows,
                    values,
                    source.scale,
                ),
            )
        )
    return drawings


register(
    FigureKind(
        "influence",
        50,
        lambda source: len(section_list(source.result, "influence")) >= 2,
        _influence,
    )
)
register(FigureKind("baujat", 60, lambda source: len(_baujat_points(source)) >= 2, _baujat))
register(FigureKind("bubble", 70, lambda source: True, _bubbles, suffixed=True))
