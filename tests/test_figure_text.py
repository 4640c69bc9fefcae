"""Every figure of the shipped analyses keeps its text inside the drawing.

A label that runs past the edge of the SVG is cut off on the page (the site shows the
figure at the width it was drawn for), and no font-size check sees it. Each figure the
runner draws for the live corpus is laid out with matplotlib's renderer before it is
saved, and the box of every visible text must lie inside the figure. Invariant only: the
corpus grows, the rule holds for whatever it draws.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

import evidence.report.plots as plots
from evidence.analyses.runner import run_analyses

ROOT = Path(__file__).parents[1]
#: Text may touch the edge by anti-aliasing, never by a character: one point of slack.
SLACK_POINTS = 1.0


def text_outside(figure) -> list[str]:
    """Return the visible texts of ``figure`` whose box leaves the figure, with the box."""
    before = figure.canvas
    canvas = FigureCanvasAgg(figure)  # lay out every artist as saving would
    canvas.draw()
    renderer = canvas.get_renderer()
    width, height = figure.bbox.width, figure.bbox.height
    slack = SLACK_POINTS * figure.dpi / 72.0
    # An axis keeps label objects for ticks outside its view limits; they are not drawn.
    hidden = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = 1e-9 * max(abs(low), abs(high), 1.0)
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not low - span <= tick.get_loc() <= high + span:
                    hidden.update({id(tick.label1), id(tick.label2)})
    outside = []
    for text in figure.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < -slack or box.y0 < -slack or box.x1 > width + slack or box.y1 > height + slack:
            outside.append(f"{text.get_text()!r} at {box.bounds} in {width:.0f}x{height:.0f}")
    figure.set_canvas(before)
    return outside


@pytest.mark.slow
def test_no_figure_text_runs_off_the_drawing(tmp_path, monkeypatch):
    problems: list[str] = []
    saved = plots.save_svg

    def checked(figure, path, title, description):
        problems.extend(f"{Path(path).name}: {p}" for p in text_outside(figure))
        saved(figure, path, title, description)

    monkeypatch.setattr(plots, "save_svg", checked)
    run_analyses(
        ROOT / "studies",
        ROOT / "analyses",
        tmp_path,
        progress=io.StringIO(),
        render=plots.render_all,
        render_summary=plots.summary_forest,
    )
    assert sorted((tmp_path / "figures").glob("*.svg")), "the run drew no figure"
    assert problems == [], "\n".join(problems)
    # The landing page's summary forest wraps every title and outcome, never cuts one.
    summary = (tmp_path / "figures" / "summary-forest.svg").read_text(encoding="utf-8")
    assert "\u2026" not in summary
