"""Figures of an analysis as deterministic, accessible SVG files.

This package is the only place that imports matplotlib. The runner calls
:func:`render_all` once per analysis; the book calls :func:`summary_forest` for the
landing page. Both read only results-file data (see "Results files" in ARCHITECTURE.md).

Every SVG is byte-identical for identical input (fixed hash salt, no date, no version),
keeps its text as XML-escaped text, and starts with a ``<title>`` and a ``<desc>`` that
describe what it shows (read them back with :func:`figure_description`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pandas

from evidence.report.plots.common import figure_style, finite, number, safe_text, save_svg
from evidence.report.plots.data import (
    included_effects,
    level_values,
    moderator_values,
    pooled_from,
    section_list,
)
from evidence.report.plots.diagnostics import baujat, baujat_points, bubble, influence
from evidence.report.plots.forest import main_forest, sequence_forest, subgroup_grouping
from evidence.report.plots.funnel import funnel, funnel_description
from evidence.report.plots.scale import Scale
from evidence.report.plots.summary import summary_description, summary_figure

__all__ = ["figure_description", "render_all", "summary_forest"]

_SVG = "{http://www.w3.org/2000/svg}"


def render_all(result: dict[str, Any], effects: pandas.DataFrame,
               figures_dir: Path) -> dict[str, str]:
    r"""Write every figure that applies to one analysis and return their relative paths.

    Figures (file ``figures_dir/<id>-<name>.svg``): ``forest``, ``funnel``, ``cumulative``,
    ``leave-one-out``, ``influence``, ``baujat`` and ``bubble-<moderator>`` for each
    meta-regression moderator that has a column in ``effects``. A figure is skipped when its
    section is missing or null, or when fewer than two effects can be drawn (k < 2).

    Parameters
    ----------
    result : dict
        One ``build/results/<id>.json`` document. Numbers are on the model scale;
        ``back_transform`` (``"exp"``, ``"tanh"`` or null) says how to show them.
    effects : pandas.DataFrame
        The ``<id>-effects.csv`` table; rows with ``included`` true are drawn, each with
        :math:`y_i \pm 1.96\, s_i` as its 95% CI (Borenstein et al. 2009, eq. 8.6).
    figures_dir : pathlib.Path
        Directory the SVG files are written to (created if needed).

    Returns
    -------
    dict[str, str]
        ``{name: "figures/<id>-<name>.svg"}`` for the figures written, in a fixed order.
    """
    identifier = _file_stem(result.get("id"))
    rows = included_effects(effects)
    scale = Scale.from_result(result)
    written: dict[str, str] = {}
    if len(rows) < 2:
        return written
    pooled = pooled_from(result.get("pooled"))
    title = safe_text(result.get("title"), None) or identifier
    figures_dir = Path(figures_dir)

    def write(name: str, build: Callable[[], Any], description: str) -> None:
        with figure_style():
            figure = build()
            if figure is None:
                return
            save_svg(figure, figures_dir / f"{identifier}-{name}.svg",
                     f"{_FIGURE_NAMES.get(name, name)}: {title}", description)
        written[name] = f"figures/{identifier}-{name}.svg"

    grouping = subgroup_grouping(result, lambda field: level_values(effects, field))
    write("forest", lambda: main_forest(result, rows, scale, grouping),
          _forest_description(rows, pooled, scale))
    write("funnel", lambda: funnel(result, rows, scale), funnel_description(result, rows, scale))
    for kind in ("cumulative", "leave-one-out"):
        entries = section_list(result, kind.replace("-", "_"))
        if len(entries) >= 2:
            write(kind, lambda entries=entries, kind=kind: sequence_forest(
                result, entries, scale, kind), _sequence_description(kind, entries, scale))
    influence_entries = section_list(result, "influence")
    if len(influence_entries) >= 2:
        write("influence", lambda: influence(result, influence_entries),
              f"Influence diagnostics of {len(influence_entries)} studies (studentised "
              f"residuals, DFFITS, Cook's distances, covariance ratios, leave-one-out tau2 "
              f"and Q, hat values, weights); {_influential_text(influence_entries)}.")
    points = baujat_points(result, influence_entries)
    if len(points) >= 2:
        write("baujat", lambda: baujat(result, points),
              f"Baujat plot of {len(points)} studies: contribution to heterogeneity against "
              f"influence on the pooled estimate.")
    _write_bubbles(result, effects, rows, scale, write)
    return written


def _write_bubbles(result: dict[str, Any], effects: pandas.DataFrame, rows: list[Any],
                   scale: Scale, write: Callable[[str, Callable[[], Any], str], None]) -> None:
    """One bubble plot per meta-regression moderator that has a column in ``effects``."""
    sections = result.get("meta_regression")
    if not isinstance(sections, dict):
        return
    for moderator, section in sections.items():
        values = moderator_values(effects, str(moderator))
        if not isinstance(section, dict) or values is None:
            continue
        if sum(finite(v) for v in values) < 2:
            continue
        description = (f"Bubble plot of {sum(finite(v) for v in values)} effects against "
                       f"{safe_text(moderator, 60)}, bubble area by weight, with the "
                       f"meta-regression line.")
        write(f"bubble-{_file_stem(moderator)}", lambda moderator=moderator, section=section,
              values=values: bubble(result, str(moderator), section, rows, values, scale),
              description)


def summary_forest(rows: list[dict[str, Any]], path: Path) -> None:
    r"""Write the landing page's summary forest plot of every analysis to ``path``.

    Parameters
    ----------
    rows : list of dict
        ``build/results/index.json`` rows: ``id``, ``title``, ``status``, ``k``,
        ``estimate``, ``ci``, ``pi``, ``i2``, ``certainty``, ``metric`` and
        ``back_transform`` (or ``scale``). ``estimate``/``ci``/``pi`` are on the model scale
        unless the row has ``back_transformed`` {``estimate``, ``ci``, ``pi``}, which is then
        used. Ratios (:math:`\exp`), correlations (:math:`\tanh`) and identity-scale
        metrics are drawn in separate panels, because their numbers are not comparable.
        Each line shows the title, the diamond (95% CI), the prediction interval, the
        estimate in words and k; certainty and I² belong to the summary-of-findings table.
    path : pathlib.Path
        The SVG file to write. With no rows nothing is written.
    """
    with figure_style():
        figure = summary_figure(rows)
        if figure is None:
            return
        save_svg(figure, Path(path), "Summary of pooled estimates", summary_description(rows))


def figure_description(path: Path) -> tuple[str, str]:
    """Return ``(title, description)`` of an SVG written here (for the book's alt text)."""
    root = ElementTree.parse(path).getroot()
    title = root.find(f"{_SVG}title")
    desc = root.find(f"{_SVG}desc")
    return (title.text or "" if title is not None else "",
            desc.text or "" if desc is not None else "")


_FIGURE_NAMES = {"forest": "Forest plot", "funnel": "Funnel plot",
                 "cumulative": "Cumulative forest plot", "leave-one-out": "Leave-one-out plot",
                 "influence": "Influence diagnostics", "baujat": "Baujat plot"}


def _file_stem(value: Any) -> str:
    """Make a safe file-name part: lower-case letters, digits and hyphens."""
    stem = re.sub(r"[^a-z0-9]+", "-", safe_text(value, None).lower()).strip("-")
    return stem or "analysis"


def _forest_description(rows: list[Any], pooled: Any, scale: Scale) -> str:
    """``"Forest plot of 12 effects; pooled RR 1.29 (1.13 to 1.47); ..."``."""
    text = f"Forest plot of {len(rows)} effects"
    if pooled is None:
        return text + "; no pooled estimate."
    text += f"; pooled {scale.describe(pooled.estimate, pooled.lo, pooled.hi)}"
    if pooled.pi is not None:
        text += (f"; 95% prediction interval {number(scale.natural(pooled.pi[0]))} to "
                 f"{number(scale.natural(pooled.pi[1]))}")
    if finite(pooled.raw.get("i2")):
        text += f"; I2 = {float(pooled.raw['i2']):.0f}%"
    return text + "."


def _sequence_description(kind: str, entries: list[dict[str, Any]], scale: Scale) -> str:
    """Alt text of a cumulative or leave-one-out forest: the range of estimates."""
    estimates = [float(e["estimate"]) for e in entries if finite(e.get("estimate"))]
    span = ""
    if estimates:
        span = (f"; estimates range from {number(scale.natural(min(estimates)))} to "
                f"{number(scale.natural(max(estimates)))} ({scale.abbreviation})")
    what = "adding one study at a time" if kind == "cumulative" else "omitting each study"
    return f"{kind.capitalize()} forest plot of {len(entries)} fits {what}{span}."


def _influential_text(entries: list[dict[str, Any]]) -> str:
    """``"2 flagged as influential: A, B"`` or ``"none flagged as influential"``."""
    flagged = [safe_text(e.get("study"), 40) for e in entries if e.get("influential") is True]
    if not flagged:
        return "none flagged as influential"
    return f"{len(flagged)} flagged as influential: " + ", ".join(flagged)
