"""Summary forest plot of every analysis for the landing page."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from evidence.report.plots.common import POOLED, finite, finite_pair, safe_text
from evidence.report.plots.scale import Scale
from evidence.report.plots.table import Block, Column, Layout, Row, draw_blocks
from evidence.report.values import as_dict, as_float
from evidence.report.wording import direction_labels


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


def is_check(row: dict[str, Any]) -> bool:
    """Return True for an analysis that checks the pipeline rather than answers a question."""
    spec = as_dict(row.get("spec"))
    return str(row.get("kind") or spec.get("kind") or "finding") == "check"


def _outcome(row: dict[str, Any]) -> str:
    question = as_dict(row.get("question"))
    return safe_text(row.get("outcome") or question.get("outcome"), None)


def family_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Split an analysis kept apart by outcome into one row per pooled outcome family.

    Each family row is the analysis row with the family's numbers, its outcome (the
    family's name, so it gets an axis of its own) and ``"<title>: <family>"`` as its title.
    Rows of other analyses are returned as they are.
    """
    if row.get("status") != "by-family":
        return [row]
    found = []
    for family in row.get("families") or []:
        if not isinstance(family, dict) or family.get("status") != "ok":
            continue
        if family.get("estimable") is False:
            continue
        name = safe_text(family.get("family"), None) or "outcome"
        exposure = safe_text(family.get("exposure"), None)
        title = exposure[:1].upper() + exposure[1:] if exposure else safe_text(row.get("title"))
        found.append(
            {
                **row,
                **{key: family.get(key) for key in ("k", "estimate", "ci", "pi")},
                "back_transformed": family.get("back_transformed"),
                "status": "ok",
                "title": title,
                "outcome": name,
                "family": name,
            }
        )
    return found


def summary_groups(
    rows: list[dict[str, Any]],
) -> list[tuple[tuple[Any, ...], list[dict[str, Any]]]]:
    """Group the pooled findings that can share an axis: same scale, metric, direction, outcome.

    Two analyses share an axis only when right of the null means the same thing for both
    (the same metric, orientation and outcome), so an odds ratio of survival is never
    drawn beside risk ratios of death. Checks and analyses that were not pooled are left
    out. Groups keep the order of their first analysis.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in (split for given in rows for split in family_rows(given)):
        if is_check(row) or row.get("status", "ok") != "ok":
            continue
        scale = summary_scale(row)
        if row_numbers(row, scale) is None:
            continue
        key = (
            scale.back_transform,
            str(row.get("metric") or ""),
            str(row.get("orient") or ""),
            _outcome(row).lower(),
        )
        groups.setdefault(key, []).append(row)
    return list(groups.items())


def summary_rows(rows: list[dict[str, Any]], scale: Scale) -> list[Row]:
    """Table rows (one diamond each) of analyses that share ``scale``'s axis."""
    table: list[Row] = []
    for row in rows:
        label = safe_text(row.get("title"), None) or safe_text(row.get("id"), None)
        k_value = as_float(row.get("k", (row.get("pooled") or {}).get("k")))
        if k_value is not None:
            label += f" (k = {int(k_value)})"
        numbers = row_numbers(row, scale)
        if numbers is None:
            continue
        estimate, lo, hi, pi = numbers
        table.append(
            Row(
                "diamond",
                label,
                estimate,
                lo,
                hi,
                texts=(scale.interval_text(estimate, lo, hi),),
                color=POOLED,
                pi=pi,
            )
        )
    return table


def _heading(row: dict[str, Any], scale: Scale) -> str:
    outcome = _outcome(row)
    what = outcome[:1].upper() + outcome[1:] if outcome else "Outcome not stated"
    return f"{what} ({scale.label.lower()})"


def summary_figure(rows: list[dict[str, Any]]) -> Figure | None:
    """One diamond (and prediction-interval bar) per finding; one axis per outcome and scale.

    Each axis says under it what left and right of the null line mean ("higher risk of
    all-cause mortality with fewer ties").
    """
    blocks = []
    for _key, members in summary_groups(rows):
        scale = summary_scale(members[0])
        table = summary_rows(members, scale)
        if not table:
            continue
        directions = direction_labels(
            members[0].get("metric"), members[0].get("orient"), _outcome(members[0])
        )
        blocks.append(
            Block(
                (Row("heading", _heading(members[0], scale)), *table), scale, directions=directions
            )
        )
    if not blocks:
        return None
    findings = [row for row in rows if not is_check(row)]
    not_pooled = sum(1 for row in findings if row.get("status", "ok") not in ("ok", "by-family"))
    by_outcome = sum(1 for row in findings if row.get("status") == "by-family")
    footnotes = [
        "Diamonds: pooled estimate and 95% CI; grey lines: 95% prediction intervals; "
        "arrows: the interval runs past the axis."
    ]
    if not_pooled:
        footnotes.append(
            f"Not drawn: {not_pooled} question{'s' if not_pooled != 1 else ''} with too "
            "little evidence to pool (listed in the summary of findings)."
        )
    if by_outcome:
        footnotes.append(
            f"{by_outcome} question{'s' if by_outcome != 1 else ''} kept apart by kind of "
            "outcome: each outcome pooled on its own is drawn on its own axis; no overall "
            "estimate is given across outcomes."
        )
    layout = Layout(
        "Pooled estimates, one axis per outcome and measure",
        blocks[0].scale,
        (Column("Estimate [95% CI] under each title; k: effects pooled"),),
        footnotes=tuple(footnotes),
    )
    return draw_blocks(blocks, layout)


def summary_description(rows: list[dict[str, Any]]) -> str:
    """Alt text of the summary forest: each finding's estimate, grouped as drawn."""
    parts = []
    for _key, members in summary_groups(rows):
        scale = summary_scale(members[0])
        for row in members:
            numbers = row_numbers(row, scale)
            if numbers is None:
                continue
            title = safe_text(row.get("title"), None) or safe_text(row.get("id"), None)
            estimate, lo, hi, _pi = numbers
            parts.append(f"{title}: {scale.describe(estimate, lo, hi)}")
    findings = [row for row in rows if not is_check(row)]
    return f"Summary forest plot of {len(parts)} pooled findings of {len(findings)}. " + (
        "; ".join(parts) + "." if parts else ""
    )
