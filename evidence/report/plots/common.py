"""Shared pieces of every figure: style, scales, safe text and deterministic SVG output.

Only the :mod:`evidence.report.plots` package imports matplotlib. Figures are built on
:class:`matplotlib.figure.Figure` objects directly (never through ``pyplot``), inside an
``rc_context`` so that the global matplotlib state of the caller is left alone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from evidence.records.safefs import atomic_write
from evidence.report.values import finite as finite
from evidence.report.values import finite_pair as finite_pair
from evidence.report.values import format_number

#: z quantile of a two-sided 95% interval, :math:`\Phi^{-1}(0.975)`.
Z_95 = 1.959963984540054

#: Width of every figure in inches (346 SVG units). Figures are drawn for a phone first:
#: shown at the width of a 390 px screen's text column (about 330 px), the smallest text
#: (:data:`SMALL_TEXT`, 12 units) renders at 11 px or more; on a desktop the site caps
#: their width (``book/_static/evidence.css``) so text stays at a reading size.
FIGURE_WIDTH = 4.8
#: Font sizes in points (1 point = 1 SVG unit at 72 dpi): body text, the smallest text
#: (ticks, notes, footnotes) and titles. No text in a figure is smaller than SMALL_TEXT.
TEXT = 12.5
SMALL_TEXT = 12.0
TITLE_TEXT = 13.5
#: Height of one line of text in a forest-style figure, in inches.
LINE_HEIGHT = 1.3 * TEXT / 72.0
#: Height of one table row of a forest plot, in inches (a label line and a number line).
ROW_HEIGHT = 2 * LINE_HEIGHT
#: Longest label kept whole before wrapping; longer record text is cut with an ellipsis.
LABEL_CHARACTERS = 120

STYLE: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays text: searchable, accessible, escaped XML
    "svg.hashsalt": "evidence",
    "svg.id": None,
    "text.usetex": False,
    "text.parse_math": False,  # a `$` in a record label is a dollar sign, never mathtext
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": TEXT,
    "axes.titlesize": TITLE_TEXT,
    "axes.labelsize": TEXT,
    "xtick.labelsize": SMALL_TEXT,
    "ytick.labelsize": SMALL_TEXT,
    "legend.fontsize": SMALL_TEXT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": False,
    "figure.dpi": 72,
    "savefig.dpi": 72,
}

#: Colours (colour-blind safe, Okabe-Ito) used across figures.
INK = "#000000"
POOLED = "#0072B2"
PREDICTION = "#D55E00"
SUBGROUP = "#009E73"
MUTED = "#6E6E6E"
HIGHLIGHT = "#CC79A7"

#: Removed from figure text: controls (invalid in XML), bidirectional controls (U+202E
#: and friends would make a label read backwards or reorder its neighbours) and
#: non-characters.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    r"\ud800-\udfff\ufffe\uffff]"
)
_SPACE = re.compile(r"\s+")
_SVG_OPEN = re.compile(r"<svg\b[^>]*>")


@contextmanager
def figure_style() -> Iterator[None]:
    """Apply :data:`STYLE` for the duration of one figure."""
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def new_figure(height: float, width: float = FIGURE_WIDTH) -> Figure:
    """Return a figure of the project's width and the given height (inches)."""
    return Figure(figsize=(width, max(height, 1.6)))


def safe_text(value: Any, limit: int | None = LABEL_CHARACTERS) -> str:
    """Turn any record value into one line of plain text that is safe in SVG.

    Control characters (invalid in XML) and bidirectional controls (U+202E, ...) are
    removed, whitespace runs (line separators too) become one space and
    text longer than ``limit`` characters is cut with an ellipsis. Markup is *not* escaped
    here: matplotlib's SVG writer escapes ``<``, ``>`` and ``&``; mathtext is off
    (``text.parse_math = False``), so ``$`` is literal.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = _SPACE.sub(" ", _CONTROL.sub("", text)).strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


def fit_text(text: str, width_points: float, size: float, bold: bool = False) -> str:
    """Cut ``text`` with an ellipsis so that it is at most ``width_points`` wide.

    Widths are measured with the font matplotlib lays the figure out with (DejaVu Sans),
    so a label never runs into the plot area next to it.
    """
    if not text or text_width(text, size, bold) <= width_points:
        return text
    low, high = 0, len(text)
    while low < high:  # longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + "\u2026", size, bold) <= width_points:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "\u2026"


@lru_cache(maxsize=8192)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in points when drawn in the figures' font (DejaVu Sans) at ``size``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    properties = FontProperties(
        family="DejaVu Sans", size=size, weight="bold" if bold else "normal"
    )
    return TextToPath().get_text_width_height_descent(text, properties, ismath=False)[0]


#: Share of the room a wrapped line may fill as :func:`text_width` measures it.
HINTING_MARGIN = 0.94


def wrap_text(
    text: str, width_points: float, size: float, bold: bool = False, max_lines: int = 4
) -> list[str]:
    """Break ``text`` at spaces into lines at most ``width_points`` wide (never cut a word).

    A single word wider than the line is cut with an ellipsis (:func:`fit_text`); text
    that needs more than ``max_lines`` lines ends its last line with an ellipsis. Bold lines
    are broken at :data:`HINTING_MARGIN` of the room: :func:`text_width` measures the glyph
    outlines, and the renderer's hinted advances of bold text run a few percent wider (a
    bold title measured at 325 points was drawn 341 points wide), so a bold line filling
    the room would run off the drawing.
    """
    if bold:
        width_points *= HINTING_MARGIN
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if not current or text_width(candidate, size, bold) <= width_points:
            current = candidate
            continue
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    lines = [fit_text(line, width_points, size, bold) for line in lines]
    if len(lines) > max_lines:
        lines = [
            *lines[: max_lines - 1],
            fit_text(" ".join(lines[max_lines - 1 :]), width_points, size, bold),
        ]
    return lines or [""]


def figure_title(kind: str, title: Any = None, limit: int = 40) -> str:
    """Return the heading drawn on a figure: its kind (``"Funnel plot"``), cut to fit.

    The analysis title is the page's heading and the SVG's ``<title>`` (see
    :func:`save_svg`); repeating it in the drawing would not fit a phone's width.
    """
    return safe_text(kind, limit)


def number(value: float, digits: int = 2) -> str:
    """Format a number for a figure (``digits`` decimals; a minus sign, not a hyphen)."""
    return format_number(value, digits, "not estimable")


def p_value(value: Any) -> str:
    """Format a p value as ``p = 0.032`` or ``p < 0.001``."""
    if not finite(value):
        return "p not estimable"
    return "p < 0.001" if float(value) < 0.001 else f"p = {float(value):.3f}"


def save_svg(figure: Figure, path: Path, title: str, description: str) -> None:
    """Write ``figure`` to ``path`` as a byte-reproducible SVG with a title and description.

    Determinism: a fixed ``svg.hashsalt`` (see :data:`STYLE`), no date and no creator
    version in the metadata, text as text. Accessibility: an SVG ``<title>`` and ``<desc>``
    are inserted as the first children of the root element, and the root gets
    ``role="img"`` and ``aria-labelledby``; both texts are XML-escaped here. The file is
    written to a temporary file beside ``path`` and renamed into place.
    """
    import io

    buffer = io.StringIO()
    figure.savefig(
        buffer,
        format="svg",
        metadata={"Date": None, "Creator": None},
    )
    svg = add_title_and_description(buffer.getvalue(), title, description)
    atomic_write(path, svg)  # a reader never sees half a figure


def add_title_and_description(svg: str, title: str, description: str) -> str:
    """Insert ``<title>`` and ``<desc>`` after the opening ``<svg>`` tag of ``svg``."""
    match = _SVG_OPEN.search(svg)
    if match is None:
        return svg
    identifier = "figure-" + re.sub(r"[^a-z0-9]+", "-", safe_text(title, 60).lower()).strip("-")
    opening = match.group(0)[:-1].rstrip("/")
    opening += f' role="img" aria-labelledby={quoteattr(identifier + "-title")}'
    opening += f" aria-describedby={quoteattr(identifier + '-desc')}>"
    inserted = (
        f'\n <title id="{identifier}-title">{escape(safe_text(title, None))}</title>'
        f'\n <desc id="{identifier}-desc">{escape(safe_text(description, None))}</desc>'
    )
    return svg[: match.start()] + opening + inserted + svg[match.end() :]


def draw_diamond(
    axes: Any,
    y: float,
    estimate: float,
    lo: float,
    hi: float,
    color: str,
    half_height: float = 0.32,
) -> None:
    """Draw a pooled-estimate diamond spanning ``[lo, hi]`` centred on ``estimate`` at ``y``."""
    from matplotlib.patches import Polygon

    corners = [(lo, y), (estimate, y + half_height), (hi, y), (estimate, y - half_height)]
    axes.add_patch(
        Polygon(corners, closed=True, facecolor=color, edgecolor=color, linewidth=0.8, zorder=3)
    )


def file_stem(value: Any) -> str:
    """Make a safe file-name part: lower-case letters, digits and hyphens."""
    stem = re.sub(r"[^a-z0-9]+", "-", safe_text(value, None).lower()).strip("-")
    return stem or "analysis"
