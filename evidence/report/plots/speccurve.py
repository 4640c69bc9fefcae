"""Specification curve of an analysis's multiverse (Simonsohn, Simmons & Nelson 2020).

Top panel: every specification's estimate, sorted, with its 95% CI (shaded; the axis
spans the central 96% of the CI bounds, so a few very wide intervals are cut), the null
and the pre-specified analysis marked. Bottom panel: the choices as a dot matrix, one row
per option, a dot where the specification (column) takes that option. With more
specifications than :data:`MAX_COLUMNS` the sorted specifications are cut into that many
consecutive groups: the curve shows each group's median estimate and median CI bounds,
and a dot's shade the share of the group's specifications that take the option. The
sample-left-out choice is shown as two rows (none, one left out).

The data are the ``results/<id>-multiverse.parquet`` table the runner wrote
(:class:`~evidence.report.plots.registry.FigureInput`'s ``multiverse``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas
from matplotlib.figure import Figure

from evidence.analyses.choices import CHOICES
from evidence.report.plots.common import (
    INK,
    MUTED,
    POOLED,
    PREDICTION,
    SMALL_TEXT,
    TEXT,
    fit_text,
    new_figure,
    safe_text,
)
from evidence.report.plots.registry import Drawing, FigureInput, FigureKind, register
from evidence.report.plots.scale import Scale, set_natural_axis

#: Most columns drawn; more specifications are grouped (see the module docstring).
MAX_COLUMNS = 240
#: Height of one row of the dot matrix (an option, or a choice's heading), in inches.
OPTION_ROW = 1.35 * SMALL_TEXT / 72.0
#: Width of the label column left of the panels, in inches.
LABEL_WIDTH = 1.7
#: Choice columns of the table, in order, with the words readers see.
CHOICE_LABELS = {
    "adjustment": "Adjustment",
    "dependence": "Dependence",
    "inclusion": "Inclusion",
    "families": "Ratio families",
    "leave_out": "Left out",
    "estimator": "\u03c4\u00b2 estimator",
    "inference": "Inference",
}


def _option_rows(table: pandas.DataFrame) -> list[tuple[str, np.ndarray | None]]:
    """Rows of the dot matrix: a heading ``(choice, None)``, then ``(option, indicator)``s.

    Choices that take one option only are left out (they do not vary).
    """
    rows: list[tuple[str, np.ndarray | None]] = []
    for column, label in CHOICE_LABELS.items():
        if column not in table:
            continue
        values = table[column].astype(str).to_numpy()
        if column == "leave_out":
            options = [("none", values == "none"), ("one left out", values != "none")]
        else:
            present = (
                list(table[column].cat.categories)
                if isinstance(table[column].dtype, pandas.CategoricalDtype)
                else sorted(set(values))
            )
            choice = CHOICES.get(column)
            options = [
                (choice.option(str(o)).brief if choice else str(o), values == str(o))
                for o in present
            ]
        kept = [(name, flags) for name, flags in options if flags.any()]
        if len(kept) > 1:
            rows.append((label, None))
            rows.extend(kept)
    return rows


def _groups(n: int) -> np.ndarray:
    """Group index of each sorted specification (one group each up to MAX_COLUMNS)."""
    columns = min(n, MAX_COLUMNS)
    return (np.arange(n) * columns) // n


def spec_curve(table: pandas.DataFrame, scale: Scale, prespecified: int | None) -> Figure | None:
    """Draw the specification curve and its dot matrix (module docstring)."""
    table = table[np.isfinite(table["estimate"].to_numpy(dtype=float))]
    if len(table) < 2:
        return None
    order = np.argsort(table["estimate"].to_numpy(dtype=float), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    group = _groups(len(table))
    columns = int(group.max()) + 1
    medians = (
        pandas.DataFrame(
            {
                "group": group,
                "estimate": table["estimate"].to_numpy(dtype=float),
                "lower": table["ci_lower"].to_numpy(dtype=float),
                "upper": table["ci_upper"].to_numpy(dtype=float),
            }
        )
        .groupby("group")
        .median()
    )
    rows = _option_rows(table)
    curve_height, bottom = 2.4, 0.55
    height = 0.2 + curve_height + 0.25 + OPTION_ROW * len(rows) + bottom
    figure = new_figure(height)
    left = LABEL_WIDTH / figure.get_figwidth()
    width = 0.97 - left
    matrix_height = OPTION_ROW * len(rows)
    curve = figure.add_axes(
        (left, (bottom + matrix_height + 0.25) / height, width, curve_height / height)
    )
    matrix = figure.add_axes((left, bottom / height, width, matrix_height / height), sharex=curve)
    _curve(curve, medians, scale)
    _mark_prespecified(curve, table, group, prespecified)
    curve.tick_params(axis="x", labelbottom=False, length=0)
    _dot_matrix(matrix, rows, group, columns)
    matrix.set_xlim(-0.5, columns - 0.5)
    # Under the matrix, from the label column's left edge: centred on the panel, a long
    # line would run past the figure's right edge on a phone.
    figure.text(
        0.03,
        0.12 / height,
        fit_text(
            f"{len(table):,} specifications by estimate"
            + ("" if columns == len(table) else f" ({columns} groups)"),
            0.94 * figure.get_figwidth() * 72,
            SMALL_TEXT,
        ),
        fontsize=SMALL_TEXT,
        ha="left",
        va="bottom",
    )
    return figure


def _curve(axes: Any, medians: pandas.DataFrame, scale: Scale) -> None:
    """Estimates (blue where the CI excludes the null) over their shaded CIs, and the null."""
    x = np.arange(len(medians))
    lower, upper = medians["lower"].to_numpy(), medians["upper"].to_numpy()
    estimate = medians["estimate"].to_numpy()
    axes.fill_between(x, lower, upper, step="mid", color=POOLED, alpha=0.22, linewidth=0)
    excludes = (lower > scale.null) | (upper < scale.null)
    for flags, color in ((excludes, POOLED), (~excludes, MUTED)):
        axes.plot(x[flags], estimate[flags], "o", markersize=2.6, color=color, linewidth=0)
    axes.axhline(scale.null, color=INK, linewidth=0.8, linestyle="--")
    # Very wide CIs (k = 2 under a t test) would flatten the curve: the axis spans the
    # estimates, the null and the central 96% of the CI bounds; wider bands are cut.
    span = [
        float(np.nanmin(estimate)),
        float(np.nanmax(estimate)),
        float(np.nanpercentile(lower, 2)),
        float(np.nanpercentile(upper, 98)),
        scale.null,
    ]
    pad = 0.05 * (max(span) - min(span) or 1.0)
    set_natural_axis(axes, scale, min(span) - pad, max(span) + pad, which="y")
    axes.set_ylabel(fit_text(scale.axis_label(), 2.3 * 72, TEXT), fontsize=TEXT)


def _mark_prespecified(
    axes: Any, table: pandas.DataFrame, group: np.ndarray, prespecified: int | None
) -> None:
    """Mark the pre-specified analysis's place on the curve with a diamond."""
    if prespecified is None:
        return
    at = np.flatnonzero(table["spec"].to_numpy() == prespecified)
    if not len(at):
        return
    where, value = int(group[at[0]]), float(table["estimate"].iloc[at[0]])
    axes.plot([where], [value], "D", color=PREDICTION, markersize=6)
    right = where < 0.6 * (group.max() + 1)
    axes.annotate(
        "pre-specified",
        (where, value),
        xytext=(6 if right else -6, 8),
        textcoords="offset points",
        ha="left" if right else "right",
        fontsize=SMALL_TEXT,
        color=PREDICTION,
    )


def _dot_matrix(
    axes: Any, rows: list[tuple[str, np.ndarray | None]], group: np.ndarray, columns: int
) -> None:
    """One row per option, one cell per column, shaded by the share of the column taking it.

    Drawn as one small image (nearest-neighbour, so cells stay sharp), which keeps the SVG
    small however many specifications there are; a choice's heading row stays blank.
    """
    counts = np.bincount(group, minlength=columns).astype(float)
    shares = np.array(
        [
            np.zeros(columns)
            if flags is None
            else np.bincount(group, weights=flags.astype(float), minlength=columns) / counts
            for _label, flags in rows
        ]
    )
    axes.imshow(
        shares,
        cmap="Greys",
        vmin=0.0,
        vmax=1.0,
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, columns - 0.5, -len(rows) + 0.5, 0.5),
    )
    room = (LABEL_WIDTH - 0.12) * 72
    labels = [
        fit_text(safe_text(label, None), room, SMALL_TEXT, bold=flags is None)
        for label, flags in rows
    ]
    axes.set_yticks([-i for i in range(len(rows))], labels, fontsize=SMALL_TEXT)
    for tick, (_label, flags) in zip(axes.get_yticklabels(), rows, strict=True):
        if flags is None:
            tick.set_fontweight("bold")
    for index, (_label, flags) in enumerate(rows):
        if flags is None and index:
            axes.axhline(-index + 0.5, color=MUTED, linewidth=0.6)
    axes.set_ylim(-len(rows) + 0.5, 0.5)
    axes.tick_params(axis="y", length=0)
    axes.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("left", "bottom"):
        axes.spines[side].set_visible(False)


def _description(source: FigureInput, table: pandas.DataFrame) -> str:
    """Alt text: how many specifications, their range and how many CIs exclude the null."""
    scale = source.scale
    estimate = table["estimate"].to_numpy(dtype=float)
    lower, upper = table["ci_lower"].to_numpy(dtype=float), table["ci_upper"].to_numpy(dtype=float)
    share = float(((lower > scale.null) | (upper < scale.null)).mean())
    return (
        f"Specification curve of {len(table)} specifications: {scale.abbreviation} from "
        f"{scale.natural(float(np.nanmin(estimate))):.2f} to "
        f"{scale.natural(float(np.nanmax(estimate))):.2f} (median "
        f"{scale.natural(float(np.nanmedian(estimate))):.2f}); the 95% CI excludes the null "
        f"in {100 * share:.0f}% of them. Below, which option of each choice each "
        "specification takes."
    )


def _render(source: FigureInput) -> list[Drawing]:
    table = source.multiverse
    if table is None:
        return []
    section = source.result.get("multiverse")
    prespecified = (
        (section.get("prespecified") or {}).get("spec") if isinstance(section, dict) else None
    )
    return [
        Drawing(
            "spec-curve",
            "Specification curve",
            _description(source, table),
            lambda: spec_curve(table, source.scale, prespecified),
        )
    ]


def _render_families(source: FigureInput) -> list[Drawing]:
    """One curve per pooled outcome family of a by-family result (its own multiverse)."""
    drawings = []
    for block in source.result.get("by_family") or []:
        section = block.get("multiverse") if isinstance(block, dict) else None
        if not isinstance(section, dict):
            continue
        table = source.families.get(str(section.get("slug")))
        if table is None or len(table) < 2:
            continue
        prespecified = (section.get("prespecified") or {}).get("spec")
        drawings.append(
            Drawing(
                f"family-spec-curve-{section['slug']}",
                f"Specification curve ({block.get('family')})",
                _description(source, table),
                functools.partial(spec_curve, table, source.scale, prespecified),
            )
        )
    return drawings


register(
    FigureKind(
        "spec-curve",
        80,
        lambda source: source.multiverse is not None and len(source.multiverse) >= 2,
        _render,
    )
)
register(
    FigureKind(
        "family-spec-curve",
        81,
        lambda source: bool(source.families),
        _render_families,
        suffixed=True,
        unpooled=True,
    )
)
