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

from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from evidence.report.plots.common import (
    FIGURE_WIDTH,
    HINTING_MARGIN,
    INK,
    LINE_HEIGHT,
    MUTED,
    POOLED,
    PREDICTION,
    SMALL_TEXT,
    TEXT,
    TITLE_TEXT,
    draw_diamond,
    finite,
    fit_text,
    new_figure,
    safe_text,
    text_width,
    wrap_text,
)
from evidence.report.plots.scale import Scale, set_natural_axis

#: Row kinds: an effect (square + CI), a pooled diamond, a prediction/reference bar, a
#: bold heading, plain text without a mark, a small note spanning the row, an empty spacer.
ROW_KINDS = ("effect", "diamond", "bar", "heading", "text", "note", "blank")

_LABEL_X = 0.025
_RIGHT_X = 0.975
#: Lines of text under each block's axis: tick labels and the axis label.
_AXIS_LINES = 2.5
#: Gap between a row's lines and the next row, in lines.
_ROW_GAP = 0.35


@dataclass(frozen=True)
class Row:
    """One line of a forest-style figure (model-scale numbers; see :data:`ROW_KINDS`).

    ``texts`` are the numbers of the row, shown under its label in the order of the
    layout's columns (each with its column's ``prefix``), so that a figure is readable at a
    phone's width without a row of narrow columns.
    """

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
    badge: tuple[str, str] | None = None  # (letter, colour) of a disc at the layout's badge_x


@dataclass(frozen=True)
class Column:
    """A number shown under each row's label: its header and the prefix of its value.

    ``x`` and ``align`` are kept for marks drawn at a fixed place on the right (the
    risk-of-bias disc is drawn at ``x``, a figure fraction).
    """

    header: str
    x: float = _RIGHT_X
    align: str = "right"
    prefix: str = ""


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
    axes_left: float = 0.5  # figure fractions: labels left of it, the intervals right
    axes_right: float = 0.95
    directions: tuple[str, str] | None = None  # what left and right of the null mean
    badge_x: float = 0.955  # figure fraction of the centre of each row's badge


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
    """Rows that share one x axis (one scale); a figure stacks one or more blocks.

    ``directions`` says what left and right of the null line mean on this axis (drawn
    under it); None uses the layout's.
    """

    rows: tuple[Row, ...]
    scale: Scale
    reference: float | None = None
    band: tuple[float, float] | None = None
    directions: tuple[str, str] | None = None


@dataclass(frozen=True)
class _Placed:
    """A row with its text broken into lines and its place (in lines from the block top)."""

    row: Row
    top: float
    lines: tuple[str, ...]
    detail: str
    height: float

    @property
    def middle(self) -> float:
        """Where the row's mark is drawn: the middle of its text lines."""
        return self.top + (self.height - _ROW_GAP) / 2


def _points(fraction: float) -> float:
    return fraction * FIGURE_WIDTH * 72.0


def _detail(row: Row, columns: Sequence[Column]) -> str:
    """Return the numbers of a row as one line: ``1.26 [1.08, 1.48] · weight 12.3%``."""
    parts = [
        f"{column.prefix}{text}" if column.prefix else text
        for column, text in zip(columns, row.texts, strict=False)
        if text
    ]
    parts += [text for text in row.texts[len(columns) :] if text]
    return " \u00b7 ".join(parts)


#: Most lines of a row's label and of a heading before the rest is cut with an ellipsis:
#: long analysis titles and outcome names wrap rather than lose their end (the "(k = n)").
LABEL_LINES = 10
HEADING_LINES = 6


def _place(rows: Sequence[Row], layout: Layout) -> tuple[list[_Placed], float]:
    """Break every row's text into lines; return the placed rows and the block height."""
    label_room = _points(layout.axes_left - _LABEL_X - 0.02)
    full_room = _points(_RIGHT_X - _LABEL_X)
    placed: list[_Placed] = []
    top = 0.0
    for row in rows:
        if row.kind == "blank":
            placed.append(_Placed(row, top, (), "", 0.5))
            top += 0.5
            continue
        bold = row.bold or row.kind == "heading"
        if row.kind == "note":
            lines = wrap_text(row.label, full_room, SMALL_TEXT)
        elif row.kind == "heading":
            lines = wrap_text(row.label, full_room, TEXT, True, HEADING_LINES)
        else:
            lines = wrap_text(row.label, label_room, TEXT, bold, LABEL_LINES) if row.label else []
        detail = _detail(row, layout.columns) if row.kind not in ("heading", "note") else ""
        if detail:
            detail = fit_text(detail, label_room, SMALL_TEXT)
        count = len(lines) + (1 if detail else 0)
        height = max(count, 1) + _ROW_GAP
        placed.append(_Placed(row, top, tuple(lines), detail, height))
        top += height
    return placed, top


def _direction_lines(directions: tuple[str, str] | None) -> list[tuple[str, str]]:
    """Return the direction labels under an axis as (text, alignment) lines, wrapped."""
    if directions is None:
        return []
    left, right = directions
    room = _points(_RIGHT_X - _LABEL_X)
    lines = [(line, "left") for line in wrap_text(f"\u2190 {left}", room, SMALL_TEXT)]
    lines += [(line, "right") for line in wrap_text(f"{right} \u2192", room, SMALL_TEXT)]
    return lines


def draw_rows(rows: Sequence[Row], layout: Layout) -> Figure:
    """Draw ``rows`` on one axis with ``layout`` and return the figure (not yet saved)."""
    block = Block(tuple(rows), layout.scale, layout.reference, layout.band, layout.directions)
    return draw_blocks([block], layout)


def draw_blocks(blocks: Sequence[Block], layout: Layout) -> Figure:
    """Stack ``blocks`` top to bottom, each with its own natural-scale x axis.

    Heights are counted in lines of text (:data:`~evidence.report.plots.common.LINE_HEIGHT`):
    the title, a header line, each block's rows (a row is as tall as its wrapped label
    and its line of numbers), the block's axis and direction labels, then the notes and
    footnotes of the layout, wrapped to the figure's width.
    """
    full_room = _points(_RIGHT_X - _LABEL_X)
    title = wrap_text(layout.title, full_room, TITLE_TEXT, True, 3)
    notes = [layout.orient_note] if layout.orient_note else []
    footer = [
        line
        for note in (*notes, *layout.footnotes)
        for line in wrap_text(note, full_room, SMALL_TEXT, max_lines=6)
    ]
    placed = [_place(block.rows, layout) for block in blocks]
    directions = [_direction_lines(block.directions or layout.directions) for block in blocks]
    header_lines = len(title) * TITLE_TEXT / TEXT + 2.3
    body_lines = sum(
        height + _AXIS_LINES + len(lines) + 1.2
        for (_rows, height), lines in zip(placed, directions, strict=True)
    )
    footer_lines = len(footer) + (0.6 if footer else 0.2)
    height = (header_lines + body_lines + footer_lines) * LINE_HEIGHT
    figure = new_figure(height, FIGURE_WIDTH)
    cursor = header_lines * LINE_HEIGHT  # inches from the top
    for index, (block, (rows, rows_lines), lines) in enumerate(
        zip(blocks, placed, directions, strict=True)
    ):
        rows_inches = max(rows_lines, 1.0) * LINE_HEIGHT
        bottom = height - cursor - rows_inches
        axes = figure.add_axes(
            (
                layout.axes_left,
                bottom / height,
                layout.axes_right - layout.axes_left,
                rows_inches / height,
            )
        )
        axes.set_ylim(max(rows_lines, 1.0), 0)
        _draw_block(figure, axes, block, rows, layout)
        if index == 0:
            _draw_headers(figure, axes, layout, title, height)
        cursor += rows_inches + _AXIS_LINES * LINE_HEIGHT
        for text, align in lines:
            cursor += LINE_HEIGHT
            figure.text(
                _LABEL_X if align == "left" else _RIGHT_X,
                1.0 - cursor / height,
                text,
                ha=align,
                va="baseline",
                fontsize=SMALL_TEXT,
                color=INK,
            )
        cursor += 1.2 * LINE_HEIGHT
    _draw_footer(figure, footer, height)
    return figure


def _draw_block(
    figure: Figure, axes: Any, block: Block, placed: Sequence[_Placed], layout: Layout
) -> None:
    """Axis, guides and rows of one block."""
    lo, hi = axis_limits(block.rows)
    set_natural_axis(axes, block.scale, lo, hi)
    axes.set_yticks([])
    for side in ("left", "top", "right"):
        axes.spines[side].set_visible(False)
    label = block.scale.axis_label()
    room = _points(layout.axes_right - layout.axes_left)
    # centred under a narrow axis a long label would run off the right edge: end it there
    wide = text_width(label, TEXT) > HINTING_MARGIN * room
    axes.set_xlabel(label, labelpad=3, loc="right" if wide else "center")
    _draw_guides(axes, block, lo, hi, placed)
    text_transform = blended_transform_factory(figure.transFigure, axes.transData)
    for item in placed:
        _draw_row(axes, text_transform, item, lo, hi, layout.badge_x)
    _draw_effects(
        axes,
        [
            (item.middle, item.row)
            for item in placed
            if item.row.kind == "effect" and finite(item.row.estimate)
        ],
        lo,
        hi,
    )


def _draw_guides(axes: Any, block: Block, lo: float, hi: float, placed: Sequence[_Placed]) -> None:
    """Draw the null line and the optional reference line and band of ``block``.

    The null line starts below the first row when that row is a heading, so a heading
    spanning the figure is never crossed by it.
    """
    null = block.scale.null
    start = placed[0].top + placed[0].height if placed and placed[0].row.kind == "heading" else 0
    end = placed[-1].top + placed[-1].height if placed else 1
    if lo <= null <= hi:
        axes.plot([null, null], [start, end], color=INK, linewidth=0.8, zorder=1)
    if block.band is not None:
        axes.axvspan(block.band[0], block.band[1], color=POOLED, alpha=0.10, linewidth=0, zorder=0)
    if block.reference is not None and finite(block.reference):
        axes.plot(
            [block.reference, block.reference],
            [start, end],
            color=POOLED,
            linewidth=0.8,
            linestyle=(0, (4, 3)),
            zorder=1,
        )


def _draw_row(
    axes: Any, transform: Any, item: _Placed, lo: float, hi: float, badge_x: float
) -> None:
    """Draw one row: its label lines, its line of numbers and its mark."""
    row = item.row
    weight = "bold" if row.bold or row.kind == "heading" else "normal"
    size = SMALL_TEXT if row.kind == "note" else TEXT
    indent = 0.015 if row.kind in ("effect", "bar") else 0.0
    background = (
        {"facecolor": "#FFFFFF", "edgecolor": "none", "pad": 0.5}
        if row.kind in ("note", "heading")
        else None
    )
    y = item.top + 0.5
    for line in item.lines:
        axes.text(
            _LABEL_X + indent,
            y,
            line,
            transform=transform,
            ha="left",
            va="center",
            fontsize=size,
            fontweight=weight,
            color=MUTED if row.kind == "note" else (row.color if row.kind == "heading" else INK),
            style="italic" if row.kind == "note" else "normal",
            clip_on=False,
            zorder=4,
            bbox=background,
        )
        y += 1.0
    if item.detail:
        axes.text(
            _LABEL_X + indent,
            y,
            item.detail,
            transform=transform,
            ha="left",
            va="center",
            fontsize=SMALL_TEXT,
            fontweight=weight,
            color=row.color if row.kind in ("diamond", "bar", "text") else INK,
            clip_on=False,
        )
    _draw_mark(axes, item.middle, row, lo, hi)
    if row.badge is not None:
        _draw_badge(axes, transform, item.middle, row.badge, badge_x)


def _draw_badge(axes: Any, transform: Any, y: float, badge: tuple[str, str], x: float) -> None:
    """Draw a coloured disc with a white letter (a risk-of-bias judgement, say) at ``x``."""
    letter, colour = badge
    axes.plot(
        [x],
        [y],
        marker="o",
        markersize=15,
        color=colour,
        transform=transform,
        clip_on=False,
        linestyle="none",
    )
    axes.text(
        x,
        y,
        letter,
        transform=transform,
        ha="center",
        va="center",
        fontsize=SMALL_TEXT,
        fontweight="bold",
        color="#FFFFFF",
        clip_on=False,
    )


def _draw_mark(axes: Any, y: float, row: Row, lo: float, hi: float) -> None:
    """Draw a diamond (with its prediction interval) or a bar at ``y``."""
    if row.kind == "diamond" and finite(row.estimate):
        if row.pi is not None:
            _draw_bar(axes, y, row.pi[0], row.pi[1], MUTED, 1.0, 0.25)
            _draw_arrows(axes, y, row.pi[0], row.pi[1], lo, hi, MUTED)
        if row.lo < lo or row.hi > hi:
            # A diamond cut by the axis would read as a solid block: show the CI as a bar
            # running off the axis (with arrows) and the estimate as a small diamond.
            _draw_bar(axes, y, row.lo, row.hi, row.color, 2.2, 0.3)
            half = 0.025 * (hi - lo)
            draw_diamond(
                axes, y, row.estimate, row.estimate - half, row.estimate + half, row.color, 0.45
            )
        else:
            draw_diamond(axes, y, row.estimate, row.lo, row.hi, row.color, 0.45)
        _draw_arrows(axes, y, row.lo, row.hi, lo, hi, row.color)
    elif row.kind == "bar" and finite(row.lo) and finite(row.hi):
        _draw_bar(axes, y, row.lo, row.hi, row.color, 2.2, 0.3)
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


def _draw_effects(axes: Any, effects: list[tuple[float, Row]], lo: float, hi: float) -> None:
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
            s=[20.0 + 110.0 * max(min(r.size, 1.0), 0.0) for _y, r in inside],
            marker="s",
            c=[r.color for _y, r in inside],
            zorder=3,
            linewidths=0,
        )


def _draw_headers(
    figure: Figure, axes: Any, layout: Layout, title: Sequence[str], height: float
) -> None:
    """Draw the title (wrapped) and the header line naming the numbers under each label."""
    y = height - 0.12
    for line in title:
        figure.text(
            _LABEL_X,
            y / height,
            line,
            ha="left",
            va="top",
            fontsize=TITLE_TEXT,
            fontweight="bold",
        )
        y -= LINE_HEIGHT * TITLE_TEXT / TEXT
    headers = " \u00b7 ".join(column.header for column in layout.columns if column.header)
    if headers:
        figure.text(
            _LABEL_X,
            (y - 0.1) / height,
            fit_text(headers, _points(_RIGHT_X - _LABEL_X), SMALL_TEXT),
            ha="left",
            va="top",
            fontsize=SMALL_TEXT,
            color=MUTED,
        )


def _draw_footer(figure: Figure, lines: Sequence[str], height: float) -> None:
    """Draw notes and footnotes under the last axis, one wrapped line after another."""
    y = 0.1
    for line in reversed(lines):
        figure.text(
            _LABEL_X, y / height, line, ha="left", va="bottom", fontsize=SMALL_TEXT, color=MUTED
        )
        y += LINE_HEIGHT


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
