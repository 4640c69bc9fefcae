"""Scales: model-scale numbers (log ratio, Fisher z, identity) shown on the natural scale.

Figures are drawn on the model scale so that confidence intervals are symmetric; axes are
labelled with round natural-scale values (ratios 0.5, 1, 2; correlations 0, 0.2, 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidence.report.plots.common import finite, number, safe_text
from evidence.stats.transforms import TRANSFORMS

METRIC_LABELS = {
    "log-risk-ratio": "Risk ratio",
    "log-odds-ratio": "Odds ratio",
    "log-hazard-ratio": "Hazard ratio",
    "log-ratio-of-means": "Ratio of means",
    "smd": "Standardised mean difference",
    "fisher-z": "Correlation (r)",
    "correlation": "Correlation (r)",
}
METRIC_ABBREVIATIONS = {
    "log-risk-ratio": "RR",
    "log-odds-ratio": "OR",
    "log-hazard-ratio": "HR",
    "log-ratio-of-means": "ROM",
    "smd": "SMD",
    "fisher-z": "r",
    "correlation": "r",
}


@dataclass(frozen=True)
class Scale:
    r"""How model-scale numbers (``yi``) map to the natural scale shown to readers.

    Figures are drawn on the model scale (log ratio, Fisher z or identity) so that
    intervals are symmetric, and the axis is labelled on the natural scale:
    :math:`\exp(y)` for log metrics and :math:`\tanh(y)` for Fisher z.

    Parameters
    ----------
    back_transform : {"exp", "tanh", None}
        The results file's ``back_transform`` field.
    label : str
        Axis label on the natural scale, e.g. ``"Risk ratio"``.
    abbreviation : str
        Short name used in alt text, e.g. ``"RR"``.
    """

    back_transform: str | None
    label: str
    abbreviation: str

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> Scale:
        """Build the scale from a results-JSON dict (``back_transform`` and ``metric``)."""
        metric = str(result.get("metric") or "")
        back = result.get("back_transform")
        if "back_transform" not in result:  # older files: infer from the scale and metric
            back = (
                "exp"
                if result.get("scale") == "log"
                else ("tanh" if metric == "fisher-z" else None)
            )
        if back not in ("exp", "tanh"):
            back = None
        label = METRIC_LABELS.get(metric, safe_text(metric, 40) or "Effect size")
        return cls(back, label, METRIC_ABBREVIATIONS.get(metric, "estimate"))

    @property
    def null(self) -> float:
        """Model-scale value of no effect (0 for every supported metric)."""
        return 0.0

    def natural(self, value: float) -> float:
        """Back-transform one model-scale value to the natural scale."""
        known = TRANSFORMS.get(self.back_transform or "")
        return value if known is None else known.scalar(value)

    def model(self, value: float) -> float:
        """Transform one natural-scale value to the model scale (inverse of :meth:`natural`)."""
        known = TRANSFORMS.get(self.back_transform or "")
        return value if known is None else known.inverse(value)

    def axis_label(self) -> str:
        """Axis label, saying when the axis is logarithmic."""
        return f"{self.label} (log scale)" if self.back_transform == "exp" else self.label

    def interval_text(self, estimate: float, lo: float, hi: float, digits: int = 2) -> str:
        """``"1.29 [1.13, 1.47]"`` on the natural scale from model-scale numbers."""
        if not (finite(estimate) and finite(lo) and finite(hi)):
            return "NA"
        return (
            f"{number(self.natural(estimate), digits)} "
            f"[{number(self.natural(lo), digits)}, {number(self.natural(hi), digits)}]"
        )

    def describe(self, estimate: float, lo: float, hi: float) -> str:
        """``"RR 1.29 (1.13 to 1.47)"`` for alt text."""
        if not (finite(estimate) and finite(lo) and finite(hi)):
            return f"{self.abbreviation} not available"
        return (
            f"{self.abbreviation} {number(self.natural(estimate))} "
            f"({number(self.natural(lo))} to {number(self.natural(hi))})"
        )


#: Natural-scale tick candidates, most wanted first (1-2-5 steps before finer values).
_NATURAL_RATIO_TICKS = (
    1.0, 2.0, 0.5, 5.0, 0.2, 10.0, 0.1, 1.5, 0.67, 3.0, 0.33, 20.0, 0.05, 50.0, 0.02,
    100.0, 0.01, 1.25, 0.8, 4.0, 0.25, 1.75, 1.1, 0.9, 1.4, 0.7, 1.2, 0.85, 1.3, 0.6, 1.05,
    0.95,
)  # fmt: skip
_NATURAL_CORRELATION_TICKS = (
    0.0, 0.5, -0.5, 0.2, -0.2, 0.1, -0.1, 0.3, -0.3, 0.75, -0.75, 0.05, -0.05, 0.4, -0.4,
    0.9, -0.9, 0.02, -0.02,
)  # fmt: skip
#: Smallest distance between two tick labels, in inches (a four-digit label is ~0.3 in).
TICK_GAP_INCHES = 0.42


def natural_ticks(scale: Scale, lo: float, hi: float, length_inches: float = 2.0) -> list[float]:
    """Choose model-scale tick positions whose natural-scale values are round numbers.

    Candidates are taken in order of preference (the null first, then 1-2-5 steps) and kept
    when at least :data:`TICK_GAP_INCHES` from every kept tick on an axis ``length_inches``
    long, so labels never collide. Returns ``[]`` for identity scales (matplotlib decides).
    """
    if scale.back_transform is None:
        return []
    candidates = (
        _NATURAL_RATIO_TICKS if scale.back_transform == "exp" else (_NATURAL_CORRELATION_TICKS)
    )
    gap = TICK_GAP_INCHES / max(length_inches, 0.5) * (hi - lo)
    kept: list[float] = []
    for value in candidates:
        position = scale.model(value)
        if lo <= position <= hi and all(abs(position - k) >= gap for k in kept):
            kept.append(position)
    if len(kept) < 3:  # a very narrow axis: evenly spaced natural values instead
        kept = _even_ticks(scale, lo, hi, gap)
    return sorted(kept)


def _even_ticks(scale: Scale, lo: float, hi: float, gap: float) -> list[float]:
    """Evenly spaced natural-scale ticks for a narrow axis, at least ``gap`` apart."""
    from matplotlib.ticker import MaxNLocator

    natural_lo, natural_hi = scale.natural(lo), scale.natural(hi)
    fallback: list[float] = []
    for bins in (6, 5, 4, 3, 2):
        values = MaxNLocator(nbins=bins).tick_values(natural_lo, natural_hi)
        positions = [
            scale.model(v)
            for v in values
            if natural_lo <= v <= natural_hi and (scale.back_transform != "exp" or v > 0)
        ]
        if all(b - a >= gap for a, b in zip(positions, positions[1:], strict=False)):
            if not lo <= scale.null <= hi or any(abs(p) < 1e-12 for p in positions):
                return positions
            fallback = fallback or positions
    return fallback or positions


def tick_text(scale: Scale, position: float) -> str:
    """Natural-scale tick label of a model-scale position (``%g`` style, minus sign)."""
    value = round(scale.natural(position), 10)
    text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:.0f}"
    if text in ("-0", ""):
        text = "0"
    return text.replace("-", "\u2212")


def set_natural_axis(axes: Any, scale: Scale, lo: float, hi: float, which: str = "x") -> None:
    """Set limits on the model scale and natural-scale tick labels on one axis of ``axes``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    axis = axes.xaxis if which == "x" else axes.yaxis
    (axes.set_xlim if which == "x" else axes.set_ylim)(lo, hi)
    box = axes.get_position()
    length = (
        box.width * axes.figure.get_figwidth()
        if which == "x"
        else box.height * axes.figure.get_figheight()
    )
    ticks = natural_ticks(scale, min(lo, hi), max(lo, hi), length)
    if ticks:
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: tick_text(scale, value)))
