"""Numbers as a reader sees them: natural scale, fixed digits, intervals and missing values.

Results files keep numbers on the model scale (log ratio, Fisher's z, SMD). A reader sees
ratios and correlations: :func:`natural` applies the results file's ``back_transform``
(``exp`` for log ratios, ``tanh`` for Fisher's z; Borenstein et al. 2009, *Introduction to
Meta-Analysis*, ch. 2 and 6) or takes ``back_transformed`` when the runner gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.report.values import as_float, format_number
from evidence.report.values import finite as finite
from evidence.report.values import finite_pair as pair
from evidence.stats.transforms import TRANSFORMS

#: Shown wherever a number is missing or undefined.
MISSING = "not reported"

#: Words for each metric: (name of the natural-scale statistic, abbreviation, null value).
METRIC_WORDS: dict[str, tuple[str, str, float]] = {
    "log-risk-ratio": ("risk ratio", "RR", 1.0),
    "log-odds-ratio": ("odds ratio", "OR", 1.0),
    "log-hazard-ratio": ("hazard ratio", "HR", 1.0),
    "log-ratio-of-means": ("ratio of means", "ROM", 1.0),
    "smd": ("standardised mean difference", "SMD", 0.0),
    "fisher-z": ("correlation", "r", 0.0),
    "correlation": ("correlation", "r", 0.0),
}


def back_transform(value: float, transform: str | None) -> float:
    r"""Map a model-scale number to the natural scale.

    :math:`\exp(y)` for ``"exp"`` (log ratios), :math:`\tanh(z)` for ``"tanh"`` (Fisher's
    z to r; Borenstein et al. 2009, eq. 6.3): the back-transform registry
    (:data:`evidence.stats.transforms.TRANSFORMS`); unchanged for none or an unknown name.
    """
    known = TRANSFORMS.get(transform or "")
    return value if known is None else known.scalar(value)


def natural(result: Mapping[str, Any], pooled: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return ``{estimate, ci, pi}`` of a pooled result on the natural scale.

    Uses ``pooled["back_transformed"]`` when present, else back-transforms ``estimate``,
    ``ci`` and ``pi`` with ``result["back_transform"]``. Missing numbers stay None.
    """
    pooled = pooled if pooled is not None else result.get("pooled")
    if not isinstance(pooled, Mapping):
        return {"estimate": None, "ci": None, "pi": None}
    given = pooled.get("back_transformed")
    if isinstance(given, Mapping):
        estimate = given.get("estimate")
        return {
            "estimate": as_float(estimate),
            "ci": pair(given.get("ci")),
            "pi": pair(given.get("pi")),
        }
    transform = result.get("back_transform")
    estimate = as_float(pooled.get("estimate"))
    ci, pi = pair(pooled.get("ci")), pair(pooled.get("pi"))
    return {
        "estimate": back_transform(estimate, transform) if estimate is not None else None,
        "ci": tuple(back_transform(v, transform) for v in ci) if ci else None,
        "pi": tuple(back_transform(v, transform) for v in pi) if pi else None,
    }


def number(value: Any, digits: int = 2) -> str:
    """Format a number with ``digits`` decimals (a true minus sign); missing -> MISSING."""
    return format_number(value, digits, MISSING)


def integer(value: Any) -> str:
    """Format a count with thousands separators; missing -> MISSING."""
    if not finite(value):
        return MISSING
    return f"{round(float(value)):,}"


def interval(value: Any, digits: int = 2) -> str:
    """Format ``[lo, hi]`` as ``lo to hi`` (the word avoids a dash read as a minus sign)."""
    bounds = pair(value)
    if bounds is None:
        return MISSING
    return f"{number(bounds[0], digits)} to {number(bounds[1], digits)}"


def p_value(value: Any) -> str:
    """Format a p-value: three significant digits, ``< 0.001`` below one in a thousand."""
    if not finite(value):
        return MISSING
    value = float(value)
    if value < 0.001:
        return "< 0.001"
    return f"{value:.3f}"


def p_phrase(value: Any) -> str:
    """Return ``p = 0.031``, ``p < 0.001`` or ``p not reported``."""
    text = p_value(value)
    if text == MISSING:
        return f"p {MISSING}"
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def percent(value: Any, digits: int = 0) -> str:
    """Format a percentage (already in percent, e.g. I-squared) as ``63%``."""
    if not finite(value):
        return MISSING
    return f"{float(value):.{digits}f}%"


def metric_words(metric: Any) -> tuple[str, str, float]:
    """Return (name, abbreviation, null value) of a metric; unknown metrics read as 'effect'."""
    return METRIC_WORDS.get(str(metric), ("effect", "effect", 0.0))
