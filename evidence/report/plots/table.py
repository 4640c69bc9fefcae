"""The table-and-intervals layout shared by every forest-style figure.

A figure is a list of :class:`Row` objects drawn top to bottom: a label on the left, an
interval (square with whiskers, diamond or bar) in the middle on the model scale with
natural-scale tick labels, and text columns on the right. Row heights are fixed, so the
figure grows with the number of rows and text never overlaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from evidence.report.plots.common import (
    FIGURE_WIDTH,
    INK,
    MUTED,
    POOLED,
    PREDICTION,
    ROW_HEIGHT,
    draw_diamond,
    finite,
    fit_text,
    new_figure,
    safe_text,
)
from evidence.report.plots.scale import Scale, set_natural_axis

#: Row kinds: an effect (square + CI), a pooled diamond, a prediction/reference bar, a
#: bold heading, plain text without a mark, a small note spanning the row, an empty spacer.
ROW_KINDS = ("effect", "diamond", "bar", "heading", "text", "note", "blank")

_TOP_INCHES = 0.42
_LABEL_X = 0.012


@dataclass(frozen=True)
class Row:
    """One line of a forest-style figure (model-scale numbers; see :data:`ROW_KINDS`)."""

    kind: str
    label: str = ""
    estimate: float = float("nan")
    lo: float = float("nan")
    hi: float = float("nan")
    size: float = 1.0  # relative marker area for effects, 0..1
    texts: tuple[str, ...] = ()
    color: str = INK
    bold: bool = False
    pi: tuple[float, float] | None = None  # drawn as a thin line behind a diamond


@dataclass(frozen=True)
class Column:
    """A right-hand text column: header, right edge (figure fraction) and alignment."""

    header: str
    x: float
    align: str = "right"


@dataclass(frozen=True)
class Layout:
    """Everything a forest-style figure needs besides its rows."""

    title: str
    scale: Scale
    columns: tuple[Column, ...]
    reference: float | None = None  # model-scale value of a dashed vertical line
    band: tuple[float, float] | None = None  # model-scale shaded band (e.g. overall CI)
    orient_note: str = ""
    footnotes: tuple[str, ...] = field(default_factory=tuple)
    axes_left: float = 0.37  # figure fractions: labels left of it, text columns right
    axes_right: float = 0.655


def axis_limits(rows: Sequence[Row]) -> tuple[float, float]:
    """Model-scale x limits: every estimate, and intervals within reason.

    The core range covers the point estimates of effects and diamonds and the null (0).
    Intervals (CIs, diamonds, prediction bars) may extend it by at most one core span
    (at least 0.4 model units) on each side; longer ones are cut and end in an arrow, so
    that one imprecise estimate cannot squash the others.
    """
    core = [0.0]
    extents: list[float] = []
    for row in rows:
        if row.kind in ("effect", "diamond") and finite(row.estimate):
            core.append(row.estimate)
        if row.kind in ("effect", "diamond", "bar"):
            extents += [v for v in (row.lo, row.hi, *(row.pi or ())) if finite(v)]
    lo, hi = min(core), max(core)
    span = max(hi - lo, 0.4)
    if extents:
        lo = max(min([lo, *extents]), lo - span)
        hi = min(max([hi, *extents]), hi + span)
    margin = 0.05 * (hi - lo)
    return lo - margin, hi + margin


@dataclass(frozen=True)
class Block:
    """Rows that share one x axis (one scale); a figure stacks one or more blocks."""

    rows: tuple[Row, ...]
    scale: Scale
    reference: float | None = None
    band: tuple[float, float] | None = None


_AXIS_INCHES = 0.5  # room for tick labels and the axis label under each block


def draw_rows(rows: Sequence[Row], layout: Layout) -> Figure:
    """Draw ``rows`` on one axis with ``layout`` and return the figure (not yet saved)."""
    block = Block(tuple(rows), layout.scale, layout.reference, layout.band)
    return draw_blocks([block], layout)


def draw_blocks(blocks: Sequence[Block], layout: Layout) -> Figure:
    """Stack ``blocks`` top to bottom, each with its own natural-scale x axis."""
    footer_lines = len(layout.footnotes) + (1 if layout.orient_note else 0)
    footer = 0.16 + 0.17 * footer_lines
    body = sum(ROW_HEIGHT * max(len(b.rows), 1) + _AXIS_INCHES for b in blocks)
    height = _TOP_INCHES + body + footer
    figure = new_figure(height, FIGURE_WIDTH)
    top = height - _TOP_INCHES
    first_axes = None
    for block in blocks:
        rows_inches = ROW_HEIGHT * max(len(block.rows), 1)
        bottom = top - rows_inches
        axes = figure.add_axes(
            (
                layout.axes_left,
                bottom / height,
                layout.axes_right - layout.axes_left,
                rows_inches / height,
            )
        )
        _draw_block(figure, axes, block, layout)
        first_axes = first_axes or axes
        top = bottom - _AXIS_INCHES
    _draw_headers(figure, first_axes, layout, height)
    _draw_footer(figure, layout, footer, height)
    return figure


def _draw_block(figure: Figure, axes: Any, block: Block, layout: Layout) -> None:
    """Axis, guides and rows of one block."""
    lo, hi = axis_limits(block.rows)
    set_natural_axis(axes, block.scale, lo, hi)
    axes.set_ylim(len(block.rows) - 0.5, -0.5)
    axes.set_yticks([])
    for side in ("left", "top", "right"):
        axes.spines[side].set_visible(False)
    axes.set_xlabel(block.scale.axis_label(), labelpad=2)
    _draw_guides(axes, block, lo, hi)
    text_transform = blended_transform_factory(figure.transFigure, axes.transData)
    for y, row in enumerate(block.rows):
        _draw_row(axes, text_transform, y, row, layout, lo, hi)
    _draw_effects(
        axes,
        [
            (y, row)
            for y, row in enumerate(block.rows)
            if row.kind == "effect" and finite(row.estimate)
        ],
        lo,
        hi,
    )


def _draw_guides(axes: Any, block: Block, lo: float, hi: float) -> None:
    """Draw the null line and the optional reference line and band of ``block``."""
    null = block.scale.null
    if lo <= null <= hi:
        axes.axvline(null, color=INK, linewidth=0.8, zorder=1)
    if block.band is not None:
        axes.axvspan(block.band[0], block.band[1], color=POOLED, alpha=0.10, linewidth=0, zorder=0)
    if block.reference is not None and finite(block.reference):
        axes.axvline(block.reference, color=POOLED, linewidth=0.8, linestyle=(0, (4, 3)), zorder=1)


def _draw_row(
    axes: Any, transform: Any, y: float, row: Row, layout: Layout, lo: float, hi: float
) -> None:
    """Draw one row: its label, its mark and its text columns."""
    weight = "bold" if row.bold or row.kind == "heading" else "normal"
    if row.kind == "note":
        axes.text(
            _LABEL_X,
            y,
            row.label,
            transform=transform,
            ha="left",
            va="center",
            fontsize=7.5,
            color=MUTED,
            style="italic",
            clip_on=False,
            zorder=4,
            bbox={"facecolor": "#FFFFFF", "edgecolor": "none", "pad": 1.0},
        )
        return
    if row.label:
        indent = 0.008 if row.kind in ("effect", "bar") else 0.0
        room = (layout.axes_left - _LABEL_X - indent - 0.012) * FIGURE_WIDTH * 72.0
        label = fit_text(row.label, room, matplotlib.rcParams["font.size"], weight == "bold")
        axes.text(
            _LABEL_X + indent,
            y,
            label,
            transform=transform,
            ha="left",
            va="center",
            fontweight=weight,
            clip_on=False,
        )
    for column, text in zip(layout.columns, row.texts, strict=False):
        if text:
            axes.text(
                column.x,
                y,
                text,
                transform=transform,
                ha=column.align,
                va="center",
                fontweight=weight,
                clip_on=False,
                color=row.color if row.kind != "effect" else INK,
            )
    if row.kind == "diamond" and finite(row.estimate):
        if row.pi is not None:
            _draw_bar(axes, y, row.pi[0], row.pi[1], MUTED, 1.0, 0.18)
            _draw_arrows(axes, y, row.pi[0], row.pi[1], lo, hi, MUTED)
        if row.lo < lo or row.hi > hi:
            # A diamond cut by the axis would read as a solid block: show the CI as a bar
            # running off the axis (with arrows) and the estimate as a small diamond.
            _draw_bar(axes, y, row.lo, row.hi, row.color, 2.2, 0.22)
            half = 0.025 * (hi - lo)
            draw_diamond(axes, y, row.estimate, row.estimate - half, row.estimate + half, row.color)
        else:
            draw_diamond(axes, y, row.estimate, row.lo, row.hi, row.color)
        _draw_arrows(axes, y, row.lo, row.hi, lo, hi, row.color)
    elif row.kind == "bar" and finite(row.lo) and finite(row.hi):
        _draw_bar(axes, y, row.lo, row.hi, row.color, 2.2, 0.22)
        _draw_arrows(axes, y, row.lo, row.hi, lo, hi, row.color)


def _draw_arrows(
    axes: Any, y: float, left: float, right: float, lo: float, hi: float, color: str
) -> None:
    """Mark an interval that runs past the axis with an arrow whose tip is the axis end."""
    for outside, x, marker in ((left < lo, lo, "<"), (right > hi, hi, ">")):
        if outside:
            axes.plot(
                [x],
                [y],
                marker=marker,
                markersize=_ARROW_POINTS,
                color=color,
                linestyle="none",
                clip_on=False,
                zorder=4,
                transform=_inward(axes, 1 if marker == "<" else -1),
            )


#: Size of the arrow marking a cut interval, in points.
_ARROW_POINTS = 4.5


def _inward(axes: Any, direction: int) -> Any:
    """Return the data transform shifted half an arrow inward (arrows stay in the axis)."""
    from matplotlib.transforms import offset_copy

    return offset_copy(
        axes.transData, fig=axes.figure, x=direction * _ARROW_POINTS / 2, units="points"
    )


def _draw_bar(
    axes: Any, y: float, lo: float, hi: float, color: str, width: float, cap: float
) -> None:
    """Draw a horizontal interval from ``lo`` to ``hi`` with end caps ``cap`` rows high."""
    axes.plot([lo, hi], [y, y], color=color, linewidth=width, solid_capstyle="butt", zorder=2)
    axes.plot([lo, lo], [y - cap, y + cap], color=color, linewidth=1.2, zorder=2)
    axes.plot([hi, hi], [y - cap, y + cap], color=color, linewidth=1.2, zorder=2)


def _draw_effects(axes: Any, effects: list[tuple[int, Row]], lo: float, hi: float) -> None:
    """Draw every effect's square (area by weight) and CI in one collection each.

    Whiskers past the axis end in an arrow; one collection per kind of mark keeps large
    forests fast and their SVG small.
    """
    from matplotlib.collections import LineCollection

    if not effects:
        return
    segments = [((max(r.lo, lo), y), (min(r.hi, hi), y)) for y, r in effects]
    axes.add_collection(
        LineCollection(segments, colors=[r.color for _y, r in effects], linewidths=1.0, zorder=2)
    )
    for marker, (y_values, x_value) in (
        ("<", ([y for y, r in effects if r.lo < lo], lo)),
        (">", ([y for y, r in effects if r.hi > hi], hi)),
    ):
        if y_values:
            axes.plot(
                [x_value] * len(y_values),
                y_values,
                marker=marker,
                markersize=_ARROW_POINTS,
                color=INK,
                linestyle="none",
                clip_on=False,
                transform=_inward(axes, 1 if marker == "<" else -1),
            )
    inside = [(y, r) for y, r in effects if lo <= r.estimate <= hi]
    if inside:
        axes.scatter(
            [r.estimate for _y, r in inside],
            [y for y, _r in inside],
            s=[12.0 + 70.0 * max(min(r.size, 1.0), 0.0) for _y, r in inside],
            marker="s",
            c=[r.color for _y, r in inside],
            zorder=3,
            linewidths=0,
        )


def _draw_headers(figure: Figure, axes: Any, layout: Layout, height: float) -> None:
    """Draw the title, and the column headers on the first row (a heading row)."""
    top = 1.0 - 0.1 / height
    figure.text(
        _LABEL_X,
        top,
        safe_text(layout.title, 80),
        ha="left",
        va="top",
        fontsize=10,
        fontweight="bold",
    )
    transform = blended_transform_factory(figure.transFigure, axes.transData)
    for column in layout.columns:
        axes.text(
            column.x,
            0,
            column.header,
            transform=transform,
            ha=column.align,
            va="center",
            fontsize=8,
            fontweight="bold",
            color=MUTED,
            clip_on=False,
        )


def _draw_footer(figure: Figure, layout: Layout, footer: float, height: float) -> None:
    """Orientation note (under the axis label) and footnotes, one line each."""
    lines = ([layout.orient_note] if layout.orient_note else []) + list(layout.footnotes)
    y = 0.08 / height
    for line in reversed(lines):
        figure.text(_LABEL_X, y, line, ha="left", va="bottom", fontsize=7.5, color=MUTED)
        y += 0.17 / height


#: What an estimate right of the null means, per analysis ``orient`` (analysis schema).
ORIENTATION_NOTES = {
    "fewer-ties-harmful": "Right of the null line: worse health with fewer or weaker ties.",
    "more-ties-beneficial": "Right of the null line: better health with more or stronger ties.",
    "fewer-ties-beneficial": "Right of the null line: better health with fewer or weaker ties.",
    "more-ties-harmful": "Right of the null line: worse health with more or stronger ties.",
}


def orientation_note(orient: Any) -> str:
    """Say which side of the null means what, from the analysis ``orient`` field."""
    text = safe_text(orient, 60)
    if not text:
        return ""
    return ORIENTATION_NOTES.get(text, f"Orientation: {text.replace('-', ' ')}.")


def prediction_row(pi: tuple[float, float] | None, scale: Scale) -> Row | None:
    """Return a bar row for the 95% prediction interval, or None when there is none."""
    if pi is None:
        return None
    text = f"[{scale.interval_text(0.0, pi[0], pi[1]).split('[', 1)[1]}"
    return Row(
        "bar", "95% prediction interval", lo=pi[0], hi=pi[1], texts=(text,), color=PREDICTION
    )
