"""Read what the figures need from a results dict and its effects table, tolerantly.

The results files are written by the runner (see "Results files" in ARCHITECTURE.md). A
figure never fails on a missing or odd value: rows without a finite ``yi`` and ``sei`` are
left out, missing sections return ``None`` and the caller skips the figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas

from evidence.report.plots.common import Z_95, finite, finite_pair, safe_text
from evidence.report.values import as_float

_TRUE = {"true", "1", "yes", "y", "t"}


@dataclass(frozen=True)
class EffectRow:
    """One included effect as drawn: model-scale estimate, standard error and weight."""

    label: str
    yi: float
    sei: float
    weight: float  # percent of the total weight; NaN when the table gives none
    risk_of_bias: str

    @property
    def lo(self) -> float:
        """Lower 95% confidence limit on the model scale, :math:`y_i - z_{0.975} s_i`."""
        return self.yi - Z_95 * self.sei

    @property
    def hi(self) -> float:
        """Upper 95% confidence limit on the model scale, :math:`y_i + z_{0.975} s_i`."""
        return self.yi + Z_95 * self.sei


@dataclass(frozen=True)
class Pooled:
    """A pooled estimate on the model scale with its CI and (optional) prediction interval."""

    estimate: float
    lo: float
    hi: float
    pi: tuple[float, float] | None
    k: int | None
    raw: dict[str, Any]

    @property
    def estimable(self) -> bool:
        """False when the interval is degenerate (a standard error of 0, or lo == hi).

        Knapp-Hartung with identical estimates gives SE 0 and an interval of zero width:
        not a real certainty, so no interval is drawn (the site's table says "not
        estimable").
        """
        se = as_float(self.raw.get("se"))
        return not (se is not None and se <= 0) and self.hi > self.lo


def is_included(value: Any) -> bool:
    """Interpret an ``included`` cell (bool, 0/1 or text such as ``"True"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return bool(value)
    return str(value).strip().lower() in _TRUE


def included_effects(effects: pandas.DataFrame | None) -> list[EffectRow]:
    r"""Included rows with finite ``yi`` and positive ``sei`` (or ``vi``), in table order.

    Weights are shown in percent: :math:`100 w_i / \sum_j w_j` when the ``weight`` column
    does not already sum to 100.
    """
    rows: list[EffectRow] = []
    for record in _kept_records(effects):
        sei = as_float(record.get("sei"))
        if sei is None or sei <= 0:
            sei = math.sqrt(float(record["vi"]))
        label = safe_text(record.get("label")) or safe_text(record.get("study")) or "?"
        weight = as_float(record.get("weight"))
        rows.append(
            EffectRow(
                label,
                float(record["yi"]),
                float(sei),
                math.nan if weight is None else weight,
                safe_text(record.get("risk_of_bias"), 40),
            )
        )
    return _as_percent(rows)


def _as_percent(rows: list[EffectRow]) -> list[EffectRow]:
    """Rescale weights to percent when they do not already sum to about 100."""
    weights = [row.weight for row in rows if finite(row.weight)]
    if len(weights) != len(rows) or not weights:
        return rows
    total = sum(weights)
    if total <= 0 or abs(total - 100.0) < 0.5:
        return rows
    return [EffectRow(r.label, r.yi, r.sei, 100.0 * r.weight / total, r.risk_of_bias) for r in rows]


def pooled_from(section: Any) -> Pooled | None:
    """Read a pooled-result dict (``estimate``, ``ci``, optional ``pi`` and ``k``)."""
    if not isinstance(section, dict):
        return None
    ci = finite_pair(section.get("ci"))
    if not finite(section.get("estimate")) or ci is None:
        return None
    k = as_float(section.get("k"))
    return Pooled(
        float(section["estimate"]),
        ci[0],
        ci[1],
        finite_pair(section.get("pi")),
        int(k) if k is not None else None,
        section,
    )


def section_list(result: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Return a list section (``leave_one_out``, ``cumulative``, ``influence``) or ``[]``."""
    value = result.get(key)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, dict)]


def _kept_records(effects: pandas.DataFrame | None) -> list[dict[str, Any]]:
    """Return the records of the rows :func:`included_effects` keeps, in the same order."""
    if effects is None or len(effects) == 0:
        return []
    kept = []
    for record in effects.to_dict(orient="records"):
        if "included" in record and not is_included(record["included"]):
            continue
        yi, sei = record.get("yi"), record.get("sei")
        if not finite(sei) and finite(record.get("vi")) and float(record["vi"]) > 0:
            sei = math.sqrt(float(record["vi"]))
        if not (finite(yi) and finite(sei)) or float(sei) <= 0:
            continue
        kept.append(record)
    return kept


def moderator_values(effects: pandas.DataFrame | None, moderator: str) -> list[float] | None:
    """Values of a moderator column for the included rows that :func:`included_effects` keeps.

    Returns ``None`` when the column is absent. Non-numeric cells become NaN.
    """
    if effects is None or moderator not in effects.columns:
        return None
    return [
        float(r[moderator]) if finite(r.get(moderator)) else math.nan
        for r in _kept_records(effects)
    ]


def level_values(effects: pandas.DataFrame | None, field: str) -> list[str] | None:
    """Return the subgroup level of each row that :func:`included_effects` keeps.

    Levels are text (``""`` when missing); ``None`` when the table has no ``field`` column.
    """
    if effects is None or field not in effects.columns:
        return None
    return [level_text(r.get(field)) for r in _kept_records(effects)]


def level_text(value: Any) -> str:
    """Spell a level as the results JSON does (``2.0`` read from CSV -> ``"2"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return safe_text(value, None)
