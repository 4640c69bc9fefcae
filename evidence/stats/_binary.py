"""Shared input checks, zero-cell rules and per-study effect sizes for the sparse-data models.

Private helper of :mod:`evidence.stats.mantel_haenszel`, :mod:`evidence.stats.peto` and
:mod:`evidence.stats.glmm`; it imports only numpy and the standard library.

The zero-cell rules are those of R metafor 3.8 ``escalc`` (Viechtbauer 2010):

- ``drop00``: a table with no events in both groups (or only events in both groups) gives
  no information about an odds or risk ratio; its per-study estimate is undefined;
- ``to="only0"`` adds ``add`` to every cell of a table with a zero cell; ``"all"`` to every
  table; ``"if0all"`` to every table when any table has a zero cell; ``"none"`` never.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError

TO_OPTIONS = ("all", "only0", "if0all", "none")

FloatArray = NDArray[np.float64]


def as_counts(name: str, values: ArrayLike, *, positive: bool = False) -> FloatArray:
    """Return a 1-D float array of finite non-negative numbers (positive when asked)."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a sequence of numbers") from exc
    if array.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got {array.ndim} dimensions")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{name} has missing or infinite values")
    if positive and np.any(array <= 0):
        raise InputError(f"{name} must be positive")
    if np.any(array < 0):
        raise InputError(f"{name} has negative values")
    return array


def same_length(**arrays: FloatArray) -> int:
    """Return the arrays' common length; InputError naming them if they differ or are empty."""
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        described = ", ".join(f"{name} ({len(a)})" for name, a in arrays.items())
        raise InputError(f"inputs differ in length: {described}")
    (k,) = lengths
    if k == 0:
        raise InputError("no studies given")
    return k


def pair(name: str, value: Any, second_default: Any) -> tuple[Any, Any]:
    """Metafor's one-or-two-value options: a scalar applies to the per-study effects only."""
    if isinstance(value, (str, bool, int, float)):
        return value, second_default
    if isinstance(value, Sequence) and len(value) == 2:
        return value[0], value[1]
    raise InputError(f"{name} must be one value or a pair of values, got {value!r}")


def check_options(add: tuple[Any, Any], to: tuple[Any, Any], drop00: tuple[Any, Any]) -> None:
    for value in add:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (math.isfinite(value) and value >= 0)
        ):
            raise InputError(f"add must be a non-negative number, got {value!r}")
    for value in to:
        if value not in TO_OPTIONS:
            raise InputError(f"to must be one of {', '.join(TO_OPTIONS)}, got {value!r}")
    for value in drop00:
        if not isinstance(value, (bool, np.bool_)):
            raise InputError(f"drop00 must be True or False, got {value!r}")


def add_to_cells(cells: Sequence[FloatArray], add: float, to: str) -> list[FloatArray]:
    """Add ``add`` to the cells of the tables chosen by ``to`` (NaN rows are left alone)."""
    cells = [c.astype(float, copy=True) for c in cells]
    if to == "none" or add == 0:
        return cells
    if to == "all":
        chosen = np.ones(len(cells[0]), dtype=bool)
    else:
        with np.errstate(invalid="ignore"):
            chosen = np.zeros(len(cells[0]), dtype=bool)
            for c in cells:
                chosen |= c == 0
        if to == "if0all":
            chosen[:] = bool(chosen.any())
    for c in cells:
        c[chosen] += add
    return cells


def zero_zero(ai: FloatArray, bi: FloatArray, ci: FloatArray, di: FloatArray) -> NDArray[np.bool_]:
    """Tables with no events in both groups, or with only events in both groups."""
    return ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))


def table_effects(
    measure: str,
    ai: FloatArray,
    bi: FloatArray,
    ci: FloatArray,
    di: FloatArray,
    *,
    add: float,
    to: str,
    drop00: bool,
) -> tuple[FloatArray, FloatArray]:
    """Per-study ``yi, vi`` of a 2x2 table as metafor ``escalc`` (NaN where undefined).

    OR: ``log(a d / (b c))``, ``1/a + 1/b + 1/c + 1/d``; RR: ``log(a/n1) - log(c/n2)``,
    ``1/a - 1/n1 + 1/c - 1/n2``; RD: ``a/n1 - c/n2``, ``p1 q1/n1 + p2 q2/n2``; PETO:
    ``(a - E)/V``, ``1/V`` with ``E = (a + c) n1/N`` and
    ``V = (a + c)(b + d) n1 n2 / (N^2 (N - 1))``; all after the zero-cell rule.
    """
    dropped = zero_zero(ai, bi, ci, di) if drop00 else np.zeros(len(ai), dtype=bool)
    cells = [np.where(dropped, np.nan, c) for c in (ai, bi, ci, di)]
    a, b, c, d = add_to_cells(cells, add, to)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a / n1, c / n2
        if measure == "OR":
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "RD":
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        elif measure == "PETO":
            n = n1 + n2
            events, non_events = a + c, b + d
            expected = events * n1 / n
            variance = events * non_events * (n1 / n) * (n2 / n) / (n - 1)
            yi = (a - expected) / variance
            vi = 1 / variance
        else:  # pragma: no cover - callers pass a checked measure
            raise InputError(f"unknown measure {measure!r}")
    return _finite_or_nan(yi, vi)


def rate_effects(
    measure: str,
    x1i: FloatArray,
    t1i: FloatArray,
    x2i: FloatArray,
    t2i: FloatArray,
    *,
    add: float,
    to: str,
    drop00: bool,
) -> tuple[FloatArray, FloatArray]:
    """Per-study ``yi, vi`` for incidence rates (metafor ``escalc`` IRR and IRD).

    IRR: ``log(x1/t1) - log(x2/t2)``, ``1/x1 + 1/x2``; IRD: ``x1/t1 - x2/t2``,
    ``x1/t1^2 + x2/t2^2``; ``drop00`` drops studies with no events in either group.
    """
    dropped = ((x1i == 0) & (x2i == 0)) if drop00 else np.zeros(len(x1i), dtype=bool)
    cells = [np.where(dropped, np.nan, c) for c in (x1i, x2i)]
    x1, x2 = add_to_cells(cells, add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "IRR":
            yi = np.log(x1 / t1i) - np.log(x2 / t2i)
            vi = 1 / x1 + 1 / x2
        elif measure == "IRD":
            yi = x1 / t1i - x2 / t2i
            vi = x1 / t1i**2 + x2 / t2i**2
        else:  # pragma: no cover
            raise InputError(f"unknown measure {measure!r}")
    return _finite_or_nan(yi, vi)


def proportion_effects(
    xi: FloatArray, ni: FloatArray, *, add: float, to: str
) -> tuple[FloatArray, FloatArray]:
    """Per-study logit proportion ``log(x/(n - x))`` and ``1/x + 1/(n - x)`` (escalc PLO)."""
    x, m = add_to_cells([xi, ni - xi], add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.log(x / m)
        vi = 1 / x + 1 / m
    return _finite_or_nan(yi, vi)


def _finite_or_nan(yi: FloatArray, vi: FloatArray) -> tuple[FloatArray, FloatArray]:
    bad = ~(np.isfinite(yi) & np.isfinite(vi))
    yi = np.where(bad, np.nan, yi)
    vi = np.where(bad, np.nan, vi)
    return yi, vi


def heterogeneity_q(yi: FloatArray, vi: FloatArray) -> tuple[float, int]:
    """Cochran's ``Q = sum w (y - ybar_w)^2`` (``w = 1/v``) over the defined effects, and k."""
    keep = np.isfinite(yi) & np.isfinite(vi)
    y, w = yi[keep], 1 / vi[keep]
    k = int(keep.sum())
    if k == 0:
        return math.nan, 0
    mean = float(np.sum(w * y) / np.sum(w))
    return max(0.0, float(np.sum(w * (y - mean) ** 2))), k


def typical_variance(vi: FloatArray) -> float:
    """Metafor's "typical" sampling variance ``(k - 1) sum w / ((sum w)^2 - sum w^2)``."""
    w = 1 / vi[np.isfinite(vi)]
    k = len(w)
    if k < 2:
        return math.nan
    return float((k - 1) * w.sum() / (w.sum() ** 2 - np.sum(w**2)))


def json_float(value: float | None) -> float | None:
    """Return a plain float for JSON, ``None`` for missing, NaN or infinite values."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
