"""Summary forest plot of every analysis for the landing page."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from evidence.report.plots.common import MUTED, POOLED, finite, finite_pair, safe_text
from evidence.report.plots.scale import Scale
from evidence.report.plots.table import Block, Column, Layout, Row, draw_blocks
from evidence.report.values import as_float

#: Panel of each back-transform: ratios, correlations and identity-scale metrics each get
#: their own axis, because their numbers are not comparable.
PANELS = (
    ("exp", "Ratio (risk, odds or hazard)"),
    ("tanh", "Correlation (r)"),
    (None, "Difference (identity scale)"),
)


def row_numbers(
    row: dict[str, Any], scale: Scale
) -> tuple[float, float, float, tuple[float, float] | None] | None:
    """Model-scale estimate, CI and PI of one ``index.json`` row, or None.

    A whole results document (with ``pooled``) is read through its ``pooled`` section.
    When the row carries ``back_transformed`` (``estimate``, ``ci``, ``pi`` on the natural
    scale) those are used and transformed back to the model scale; otherwise ``estimate``,
    ``ci`` and ``pi`` are read as model-scale numbers, as in the results JSON ``pooled``.
    """
    if not finite(row.get("estimate")) and isinstance(row.get("pooled"), dict):
        row = row["pooled"]  # a whole results document rather than an index row
    source = row.get("back_transformed") if isinstance(row.get("back_transformed"), dict) else None
    numbers = source or row
    ci, pi = finite_pair(numbers.get("ci")), finite_pair(numbers.get("pi"))
    if not finite(numbers.get("estimate")) or ci is None:
        return None
    estimate = float(numbers["estimate"])
    if source is not None:
        try:
            estimate, ci = scale.model(estimate), (scale.model(ci[0]), scale.model(ci[1]))
            pi = (scale.model(pi[0]), scale.model(pi[1])) if pi is not None else None
        except ValueError:  # a ratio <= 0 or |r| >= 1 cannot be drawn
            return None
    return estimate, ci[0], ci[1], pi


def summary_scale(row: dict[str, Any]) -> Scale:
    """Return the scale of an index row from ``back_transform`` (or ``scale``) and ``metric``."""
    back = row.get("back_transform")
    if back not in ("exp", "tanh") and row.get("scale") == "log":
        back = "exp"
    return Scale.from_result({"metric": row.get("metric"), "back_transform": back})


def summary_rows(rows: list[dict[str, Any]], back: str | None) -> list[Row]:
    """Table rows of the analyses whose scale uses back-transform ``back``."""
    table: list[Row] = []
    for row in rows:
        scale = summary_scale(row)
        if scale.back_transform != back:
            continue
        label = safe_text(row.get("title"), None) or safe_text(row.get("id"), None)
        k_value = as_float(row.get("k", (row.get("pooled") or {}).get("k")))
        k = f"{int(k_value)}" if k_value is not None else ""
        numbers = row_numbers(row, scale) if row.get("status", "ok") == "ok" else None
        if numbers is None:
            text = safe_text(row.get("status"), 24).replace("-", " ") or "not estimable"
            table.append(Row("text", label, texts=(text, k), color=MUTED))
            continue
        estimate, lo, hi, pi = numbers
        table.append(
            Row(
                "diamond",
                label,
                estimate,
                lo,
                hi,
                texts=(scale.interval_text(estimate, lo, hi), k),
                color=POOLED,
                pi=pi,
            )
        )
    return table


def summary_figure(rows: list[dict[str, Any]]) -> Figure | None:
    """One diamond (and prediction-interval bar) per analysis, one panel per scale."""
    blocks = []
    for back, label in PANELS:
        table = summary_rows(rows, back)
        if table:
            labels = {
                summary_scale(r).label for r in rows if summary_scale(r).back_transform == back
            }
            label = labels.pop() if len(labels) == 1 else label
            blocks.append(Block((Row("heading", label), *table), Scale(back, label, "")))
    if not blocks:
        return None
    layout = Layout(
        "Pooled estimates of every analysis",
        blocks[0].scale,
        (Column("Estimate [95% CI]", 0.925), Column("k", 0.985)),
        footnotes=(
            "Diamonds: pooled estimate and 95% CI (a bar with a small "
            "diamond when the CI runs past the axis).",
            "Grey lines: 95% prediction intervals; arrows: interval "
            "continues; k: effects included.",
        ),
        axes_left=0.48,
        axes_right=0.72,
    )
    return draw_blocks(blocks, layout)


def summary_description(rows: list[dict[str, Any]]) -> str:
    """Alt text of the summary forest: how many analyses and which were estimable."""
    parts = []
    for row in rows:
        scale = summary_scale(row)
        numbers = row_numbers(row, scale) if row.get("status", "ok") == "ok" else None
        title = safe_text(row.get("title"), None) or safe_text(row.get("id"), None)
        if numbers is None:
            parts.append(f"{title}: not estimable")
        else:
            estimate, lo, hi, _pi = numbers
            parts.append(f"{title}: {scale.describe(estimate, lo, hi)}")
    return f"Summary forest plot of {len(rows)} analyses. " + "; ".join(parts) + "."
