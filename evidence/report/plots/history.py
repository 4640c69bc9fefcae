"""The evidence history of an analysis: its pooled estimate after each change to its inputs.

Drawn like a cumulative meta-analysis (Lau et al. 1992, NEJM 327:248), one row per change
in date order: the estimate and its 95% CI with the records and plan as they were then
(``build/history/<id>.json``, written by :mod:`evidence.analyses.history`), or "not
pooled" when the rules for pooling were not met. An analysis kept apart by outcome has one
group of rows per outcome family. The last row is the evidence as of the latest commit.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from evidence.report.plots.common import MUTED, POOLED, SUBGROUP, finite_pair, safe_text
from evidence.report.plots.scale import Scale
from evidence.report.plots.table import Column, Layout, Row, draw_rows
from evidence.report.values import as_float
from evidence.report.wording import direction_labels

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_STATUS = {"insufficient-evidence": "not pooled", "by-family": "no overall estimate"}


def short_date(date: Any) -> str:
    """``2026-11-25`` -> ``25 Nov 2026`` (anything else as it is)."""
    parts = str(date or "").split("-")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return safe_text(date, 20)
    return f"{int(parts[2])} {_MONTHS[int(parts[1]) - 1]} {parts[0]}"


def series_names(history: dict[str, Any]) -> list[str]:
    """Every series (``overall`` or outcome families) in the order they first appear."""
    names: list[str] = []
    for point in history.get("points") or []:
        for name in point.get("series") or {}:
            if name not in names:
                names.append(str(name))
    return names


def _row(point: dict[str, Any], entry: dict[str, Any] | None, scale: Scale) -> Row:
    k = as_float((entry or {}).get("k"))
    commit = safe_text(point.get("commit"), None)[:7]
    label = short_date(point.get("date")) + (f", {commit}" if commit else "")
    label += f" (k = {int(k)})" if k is not None else ""
    estimate = as_float((entry or {}).get("estimate"))
    ci = finite_pair((entry or {}).get("ci"))
    if entry is None or estimate is None or ci is None:
        status = str((entry or {}).get("status") or point.get("status") or "")
        words = _STATUS.get(status, "not pooled" if entry is not None else "not in the analysis")
        return Row("text", label, texts=(words,), color=MUTED)
    try:
        y, lo, hi = scale.model(estimate), scale.model(ci[0]), scale.model(ci[1])
    except ValueError:
        return Row("text", label, texts=("not estimable",), color=MUTED)
    return Row("effect", label, y, lo, hi, 0.35, (scale.interval_text(y, lo, hi),), color=POOLED)


def history_rows(history: dict[str, Any], scale: Scale) -> list[Row]:
    """One row per point (and per series when the analysis is kept apart by outcome)."""
    points = [p for p in history.get("points") or [] if isinstance(p, dict)]
    names = series_names(history)
    rows: list[Row] = [Row("heading", "After the change of")]
    for name in names:
        if name != "overall":
            rows.append(Row("heading", safe_text(name, 60).capitalize(), color=SUBGROUP))
        for point in points:
            series = point.get("series") or {}
            entry = series.get(name) if isinstance(series, dict) else None
            rows.append(_row(point, entry if isinstance(entry, dict) else None, scale))
        rows.append(Row("blank"))
    return rows


def history_figure(history: dict[str, Any]) -> Figure | None:
    """Draw the evidence history, or None when there is no point to draw."""
    points = history.get("points") or []
    if not points:
        return None
    scale = Scale.from_result(
        {"metric": history.get("metric"), "back_transform": history.get("back_transform")}
    )
    rows = history_rows(history, scale)
    if not any(row.kind == "effect" for row in rows):
        return None  # nothing was ever pooled: the page says so in words
    title = safe_text(history.get("title"), None) or "Evidence history"
    layout = Layout(
        f"How the evidence changed: {title}",
        scale,
        (Column(f"{scale.abbreviation} [95% CI]"),),
        axes_left=0.56,
        directions=direction_labels(
            history.get("metric"), history.get("orient"), history.get("outcome")
        ),
        footnotes=(
            "Each row: the pooled estimate with the study records and the analysis plan as "
            "they were after that change (date and commit from the git history), fitted "
            "with today's code; not pooled: the rules for pooling were not met.",
        ),
    )
    return draw_rows(rows, layout)


def history_description(history: dict[str, Any]) -> str:
    """Alt text: how many changes, and the first and last pooled estimates."""
    points = [p for p in history.get("points") or [] if isinstance(p, dict)]
    pooled = []
    for point in points:
        for name, entry in (point.get("series") or {}).items():
            if isinstance(entry, dict) and as_float(entry.get("estimate")) is not None:
                family = "" if name == "overall" else f" ({name})"
                pooled.append(
                    f"{short_date(point.get('date'))}{family}: {as_float(entry['estimate']):.2f}"
                )
    text = f"Evidence history over {len(points)} changes to the analysis's inputs"
    if pooled:
        text += f"; first pooled {pooled[0]}; latest {pooled[-1]}"
    return text + "."
