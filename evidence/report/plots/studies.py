"""The forest of an analysis that pooled nothing overall: its studies, and no overall diamond.

An analysis with too few independent samples (status ``insufficient-evidence``) still shows
its studies, each with its 95% CI, so a reader sees what the evidence looks like and why it
was not pooled. An analysis that keeps outcome families apart (``by-family``) lists the
studies under each family, with that family's own diamond when it was pooled and a note
when it was not; no estimate is drawn across families (issue 13).
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from evidence.report.plots.common import MUTED, POOLED, SUBGROUP, safe_text
from evidence.report.plots.data import EffectRow, pooled_from
from evidence.report.plots.scale import Scale
from evidence.report.plots.table import Column, Layout, Row, draw_rows
from evidence.report.values import as_dict, as_float


def _samples_note(block: dict[str, Any], minimum: Any) -> str:
    samples, needed = as_float(block.get("samples")), as_float(minimum)
    if samples is None or needed is None:
        return "not pooled"
    plural = "" if samples == 1 else "s"
    return f"not pooled: {int(samples)} independent sample{plural}, {int(needed)} needed"


def _study_row(row: EffectRow, scale: Scale, badge: tuple[str, str] | None) -> Row:
    return Row(
        "effect",
        row.label,
        row.yi,
        row.lo,
        row.hi,
        0.5,
        (scale.interval_text(row.yi, row.lo, row.hi),),
        badge=badge,
    )


def studies_forest(
    result: dict[str, Any],
    rows: list[EffectRow],
    scale: Scale,
    families: list[str] | None,
    badges: list[tuple[str, str] | None],
    directions: tuple[str, str] | None,
) -> Figure:
    """Forest of the usable studies of an analysis that has no overall estimate.

    ``families`` gives the outcome family of each row (``by-family`` analyses), else None;
    ``badges`` the risk-of-bias disc of each row (or None).
    """
    minimum = as_dict(result.get("eligibility")).get("min_samples")
    table: list[Row] = []
    footnotes: list[str] = []
    if families is None:
        table.append(Row("heading", "Study (not pooled)"))
        table += [_study_row(r, scale, b) for r, b in zip(rows, badges, strict=True)]
        footnotes.append(
            "No pooled estimate: "
            + _samples_note(as_dict(result.get("eligibility")), minimum).removeprefix(
                "not pooled: "
            )
            + "."
        )
    else:
        blocks = [b for b in result.get("by_family") or [] if isinstance(b, dict)]
        order = [str(b.get("family")) for b in blocks]
        order += sorted(set(families) - set(order))
        for family in order:
            members = [
                (r, b) for r, b, f in zip(rows, badges, families, strict=True) if f == family
            ]
            if not members:
                continue
            name = safe_text(family, 60) or "outcome not stated"
            table.append(Row("heading", name[:1].upper() + name[1:], color=SUBGROUP))
            table += [_study_row(r, scale, b) for r, b in members]
            block = next((b for b in blocks if str(b.get("family")) == family), {})
            pooled = pooled_from(block.get("pooled")) if block.get("status") == "ok" else None
            if pooled is not None and pooled.estimable:
                table.append(
                    Row(
                        "diamond",
                        f"{name[:1].upper() + name[1:]} pooled (k = {len(members)})",
                        pooled.estimate,
                        pooled.lo,
                        pooled.hi,
                        texts=(scale.interval_text(pooled.estimate, pooled.lo, pooled.hi),),
                        color=POOLED,
                    )
                )
            else:
                table.append(Row("text", _samples_note(block, minimum), color=MUTED))
            table.append(Row("blank"))
        footnotes.append("Each kind of outcome on its own: no estimate across them.")
    if any(badges):
        footnotes.append(
            "Risk of bias (discs on the right): L low, M some concerns or moderate, "
            "H high, very high or serious, ? not assessed or unclear."
        )
    layout = Layout(
        safe_text(result.get("title"), None) or "Studies",
        scale,
        (Column(f"{scale.abbreviation} [95% CI]"),),
        footnotes=tuple(footnotes),
        axes_right=0.9 if any(badges) else 0.95,
        directions=directions,
    )
    return draw_rows(table, layout)
