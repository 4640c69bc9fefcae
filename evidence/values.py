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
    except (TypeError, ValueError):
        return False


def finite_pair(value: Any) -> tuple[float, float] | None:
    """Return ``(lo, hi)`` as floats when ``value`` is a pair of finite numbers, else None."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        if finite(value[0]) and finite(value[1]):
            return float(value[0]), float(value[1])
    return None
