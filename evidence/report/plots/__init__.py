"""Figures of an analysis as deterministic, accessible SVG files.

This package is the only place that imports matplotlib. The runner calls
:func:`render_all` once per analysis; the book calls :func:`summary_forest` for the
landing page. Both read only results-file data (see "Results files" in ARCHITECTURE.md).

Every SVG is byte-identical for identical input (fixed hash salt, no date, no version),
keeps its text as XML-escaped text, and starts with a ``<title>`` and a ``<desc>`` that
describe what it shows (read them back with :func:`figure_description`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pandas

from evidence.report.plots.common import figure_style, file_stem, safe_text, save_svg
from evidence.report.plots.data import included_effects, pooled_from
from evidence.report.plots.registry import FigureInput, figure_kinds, is_figure_name
from evidence.report.plots.scale import Scale
from evidence.report.plots.summary import summary_description, summary_figure

__all__ = ["figure_description", "render_all", "summary_forest"]

_SVG = "{http://www.w3.org/2000/svg}"

# Every module of this package that draws a figure registers its kind on import
# (see evidence.report.plots.registry): import them all, so a new module is enough.
for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")


def render_all(
    result: dict[str, Any],
    effects: pandas.DataFrame,
    figures_dir: Path,
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    r"""Write every figure that applies to one analysis and return their relative paths.

    Figures (file ``figures_dir/<id>-<name>.svg``) are the registered figure kinds
    (:mod:`evidence.report.plots.registry`), in their order: ``forest``, ``funnel``,
    ``cumulative``, ``leave-one-out``, ``influence``, ``baujat`` and ``bubble-<moderator>``
    for each meta-regression moderator that has a column in ``effects``. A figure is
    skipped when its section is missing or null, or when fewer than two effects can be
    drawn (k < 2); an analysis that pooled nothing gets only the kinds marked ``unpooled``
    (the forest of its studies, with each outcome family's estimate when it has one). This
    analysis's stale figures are removed, known exactly: ``<id>-<kind>.svg`` of every
    registered kind and the figures ``previous`` lists that were not drawn again; a file of
    another analysis whose id starts with this one (``x`` and ``x-bubble-y``) is never
    touched.

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
    previous : mapping, optional
        The ``figures`` of this analysis's previous results file; only entries
        ``{name: "figures/<id>-<name>.svg"}`` whose name a registered kind writes count.

    Returns
    -------
    dict[str, str]
        ``{name: "figures/<id>-<name>.svg"}`` for the figures written, in a fixed order.
    """
    identifier = file_stem(result.get("id"))
    figures_dir = Path(figures_dir)
    written = _draw(identifier, result, effects, figures_dir)
    keep = {Path(p).name for p in written.values()}
    own = {f"{identifier}-{kind.name}.svg" for kind in figure_kinds() if not kind.suffixed}
    own |= {
        f"{identifier}-{name}.svg"
        for name, relative in (previous or {}).items()
        if relative == f"figures/{identifier}-{name}.svg" and is_figure_name(name)
    }
    for name in sorted(own - keep):
        stale = figures_dir / name
        if stale.is_file() or stale.is_symlink():
            stale.unlink()
    return written


def _draw(
    identifier: str, result: dict[str, Any], effects: pandas.DataFrame, figures_dir: Path
) -> dict[str, str]:
    """Draw every registered figure kind that applies; return ``{name: relative path}``."""
    rows = included_effects(effects)
    written: dict[str, str] = {}
    pooled = result.get("status", "ok") == "ok"
    if len(rows) < (2 if pooled else 1):
        return written
    source = FigureInput(
        result,
        effects,
        rows,
        Scale.from_result(result),
        pooled_from(result.get("pooled")),
        multiverse_table(result, figures_dir.parent),
        family_multiverse_tables(result, figures_dir.parent),
    )
    title = safe_text(result.get("title"), None) or identifier
    for kind in figure_kinds():
        if not (pooled or kind.unpooled) or not kind.applies(source):
            continue
        for drawing in kind.render(source):
            with figure_style():
                figure = drawing.build()
                if figure is None:
                    continue
                save_svg(
                    figure,
                    figures_dir / f"{identifier}-{drawing.name}.svg",
                    f"{drawing.title}: {title}",
                    drawing.description,
                )
            written[drawing.name] = f"figures/{identifier}-{drawing.name}.svg"
    return written


def multiverse_table(result: dict[str, Any], build_dir: Path) -> pandas.DataFrame | None:
    """Read the multiverse table a results document names (relative to the build directory).

    ``None`` when the document names none or the file is not a readable table inside
    ``build_dir`` (a results file cannot make a figure read any other file).
    """
    return _table_of(result.get("multiverse"), build_dir)


def family_multiverse_tables(
    result: dict[str, Any], build_dir: Path
) -> dict[str, pandas.DataFrame]:
    """Read each outcome family's multiverse table of a by-family result, by its slug."""
    tables: dict[str, pandas.DataFrame] = {}
    for block in result.get("by_family") or []:
        section = block.get("multiverse") if isinstance(block, dict) else None
        slug = section.get("slug") if isinstance(section, dict) else None
        table = _table_of(section, build_dir)
        if isinstance(slug, str) and table is not None:
            tables[slug] = table
    return tables


def _table_of(section: Any, build_dir: Path) -> pandas.DataFrame | None:
    """Read the Parquet table a multiverse section names, if a readable file in ``build_dir``."""
    files = section.get("files") if isinstance(section, dict) else None
    relative = files.get("parquet") if isinstance(files, dict) else None
    if not isinstance(relative, str):
        return None
    path = (build_dir / relative).resolve()
    root = build_dir.resolve()
    if root not in path.parents or not path.is_file():
        return None
    try:
        return pandas.read_parquet(path)
    except (OSError, ValueError):
        return None


def summary_forest(rows: list[dict[str, Any]], path: Path) -> None:
    r"""Write the landing page's summary forest plot of every analysis to ``path``.

    Parameters
    ----------
    rows : list of dict
        ``build/results/index.json`` rows: ``id``, ``title``, ``status``, ``k``,
        ``estimate``, ``ci``, ``pi``, ``i2``, ``certainty``, ``metric`` and
        ``back_transform`` (or ``scale``). ``estimate``/``ci``/``pi`` are on the model scale
        unless the row has ``back_transformed`` {``estimate``, ``ci``, ``pi``}, which is then
        used. Analyses share an axis only when they share scale, metric, orientation and
        outcome (:func:`~evidence.report.plots.summary.summary_groups`), and each axis says
        what its sides mean; checks (``kind: check``) and analyses not pooled are left
        out. Each line shows the title, the diamond (95% CI), the prediction interval,
        the estimate and k; certainty and I² belong to the summary-of-findings table.
    path : pathlib.Path
        The SVG file to write. With no rows nothing is written.
    """
    with figure_style():
        figure = summary_figure(rows)
        if figure is None:
            return
        save_svg(figure, Path(path), "Summary of pooled estimates", summary_description(rows))


def history_forest(history: dict[str, Any], path: Path) -> bool:
    """Write the evidence history of one analysis to ``path``; return whether it was drawn.

    ``history`` is a ``build/history/<id>.json`` document
    (:mod:`evidence.analyses.history`). Nothing is written (and a stale file is removed)
    when no state of the analysis was ever pooled.
    """
    from evidence.report.plots.history import history_description, history_figure

    with figure_style():
        figure = history_figure(history)
        if figure is None:
            Path(path).unlink(missing_ok=True)
            return False
        save_svg(figure, Path(path), "Evidence history", history_description(history))
    return True


def figure_description(path: Path) -> tuple[str, str]:
    """Return ``(title, description)`` of an SVG written here (for the book's alt text)."""
    root = ElementTree.parse(path).getroot()
    title = root.find(f"{_SVG}title")
    desc = root.find(f"{_SVG}desc")
    return (
        title.text or "" if title is not None else "",
        desc.text or "" if desc is not None else "",
    )
