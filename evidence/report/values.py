"""Reading numbers back from results JSON: finite values and (lo, hi) pairs.

Results files write undefined statistics as ``null``; the plots and the book both read
them and must treat ``null``, booleans, NaN and infinities alike as "no number".

Examples
--------
>>> finite(1.5), finite(None), finite(float("nan")), finite(True)
(True, False, False, False)
>>> finite_pair([0.9, 1.2]), finite_pair([0.9, None])
((0.9, 1.2), None)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def finite(value: Any) -> bool:
    """Return True when ``value`` is a real, finite number (not None, bool, NaN or inf)."""
    if value is None or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past 1e308
        return False


def as_float(value: Any) -> float | None:
    """Return ``value`` as a float when it is a real, finite number, else None.

    Examples
    --------
    >>> as_float("1.5"), as_float(None), as_float(float("inf"))
    (1.5, None, None)
    """
    return float(value) if finite(value) else None


def as_dict(value: Any) -> dict[str, Any]:
    """Return ``value`` when it is a dict (a section of a results file), else ``{}``."""
    return value if isinstance(value, dict) else {}


def finite_pair(value: Any) -> tuple[float, float] | None:
    """Return ``(lo, hi)`` as floats when ``value`` is a pair of finite numbers, else None."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        if finite(value[0]) and finite(value[1]):
            return float(value[0]), float(value[1])
    return None


def format_number(value: Any, digits: int = 2, missing: str = "NA") -> str:
    """Format a number with ``digits`` decimals and a true minus sign; ``missing`` if none.

    A value that rounds to zero is shown without a sign.

    Examples
    --------
    >>> format_number(-0.0004, 3), format_number(-1.5, 1), format_number(None, missing="-")
    ('0.000', '\u22121.5', '-')
    """
    if not finite(value):
        return missing
    text = f"{float(value):.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace("-", "\u2212")
