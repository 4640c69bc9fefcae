"""Mantel-Haenszel pooling of 2x2 tables and of incidence rates, as R metafor 3.8 ``rma.mh``.

Public API
----------
``mantel_haenszel(ai, bi, ci, di, *, measure="OR", add=0.5, to="only0", drop00=True,
correct=True, level=95) -> MantelHaenszelResult``
    OR, RR or RD from k 2x2 tables (``ai``/``bi`` events/non-events in group 1,
    ``ci``/``di`` in group 2), with Cochran's test, the Cochran-Mantel-Haenszel test and the
    Breslow-Day and Tarone tests of homogeneity of odds ratios (OR only).
``mantel_haenszel_rates(x1i, t1i, x2i, t2i, *, measure="IRR", ...) -> MantelHaenszelResult``
    IRR or IRD from events and person-time, with the Mantel-Haenszel test (IRR only).

Estimators (Mantel & Haenszel 1959; Greenland & Robins 1985), with ``N`` the table total:

- OR: ``R/S``, ``R = sum a d/N``, ``S = sum b c/N``; variance of its log from Robins,
  Breslow & Greenland (1986)::

      sum P R/(2 R^2) + sum (P S + Q R)/(2 R S) + sum Q S/(2 S^2),
      P = (a + d)/N, Q = (b + c)/N (per table; R, S the sums);

- RR: ``sum a n2/N / sum c n1/N``; ``Var(log RR) = sum (n1 n2 (a + c)/N^2 - a c/N)/(R S)``
  (Greenland & Robins 1985);
- RD: ``sum (a n2 - c n1)/N / sum n1 n2/N`` with the variance of Sato, Greenland & Robins
  (1989) as metafor gives it;
- IRR: ``sum x1 t2/T / sum x2 t1/T`` (``T = t1 + t2``),
  ``Var(log IRR) = sum t1 t2 (x1 + x2)/T^2 / (R S)``; IRD:
  ``sum (x1 t2 - x2 t1)/T / sum t1 t2/T`` with the variance
  ``sum (t1 t2/T)^2 (x1/t1^2 + x2/t2^2) / (sum t1 t2/T)^2`` (Greenland & Robins 1985).

Tests:

- Cochran (1954) (OR, metafor ``CO``): ``(|sum (a - n1 m1/N)| - c)^2 / sum n1 n2 m1 m2/N^3``
  (binomial rather than hypergeometric variances); chi-square with 1 df.
- Cochran-Mantel-Haenszel (OR): ``(|sum (a - n1 m1/N)| - c)^2 / sum n1 n2 m1 m2/(N^2 (N - 1))``
  with ``m1 = a + c``, ``m2 = b + d`` and the continuity correction ``c = 1/2`` when
  ``correct`` (else 0); chi-square with 1 df. For IRR the Mantel-Haenszel test
  ``(|sum (x1 - m t1/T)| - c)^2 / sum m t1 t2/T^2`` with ``m = x1 + x2``.
- Breslow-Day (OR): ``sum (a - e)^2 / V(e)``, where ``e`` is the expected count under the
  common Mantel-Haenszel odds ratio ``psi`` (the root in range of
  ``e (n2 - m1 + e) = psi (n1 - e)(m1 - e)``) and
  ``V(e) = (1/e + 1/(n1 - e) + 1/(m1 - e) + 1/(n2 - m1 + e))^-1``; Tarone's (1985)
  corrected statistic subtracts ``(sum (a - e))^2 / sum V(e)``. Both chi-square with
  ``k_pos - 1`` df over the tables with ``e > 0`` and events and non-events.
- Heterogeneity: ``Q = sum w (y - b)^2`` around the Mantel-Haenszel estimate ``b``, with the
  per-study ``y``, ``w = 1/v`` of metafor ``escalc`` (k_yi - 1 df);
  ``I2 = max(0, 100 (Q - (k_yi - 1))/Q)`` and ``H2 = Q/(k_yi - 1)``, as ``rma.mh`` prints them.

Zero cells (metafor's defaults): ``add``, ``to`` and ``drop00`` take one value or a pair.
The first value applies to the per-study effects used by the Q test (default: add 1/2 to
tables with a zero cell, drop tables with no events, or only events, in both groups); the
second to the Mantel-Haenszel computation itself (default ``0``, ``"none"``, ``False``: the
raw counts, where tables without events simply contribute nothing).

References
----------
Mantel, N. & Haenszel, W. (1959). Statistical aspects of the analysis of data from
retrospective studies of disease. *JNCI* 22, 719-748.
Greenland, S. & Robins, J. M. (1985). Estimation of a common effect parameter from sparse
follow-up data. *Biometrics* 41, 55-68.
Robins, J., Breslow, N. & Greenland, S. (1986). Estimators of the Mantel-Haenszel variance
consistent in both sparse data and large-strata limiting models. *Biometrics* 42, 311-323.
Sato, T., Greenland, S. & Robins, J. M. (1989). On the variance estimator for the
Mantel-Haenszel risk difference. *Biometrics* 45, 1323-1324.
Tarone, R. E. (1985). On heterogeneity tests based on efficient scores. *Biometrika* 72,
91-95.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal of
Statistical Software* 36(3), 1-48 (``rma.mh``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from evidence.stats._binary import (
    FloatArray,
    add_to_cells,
    as_counts,
    check_options,
    json_float,
    pair,
    rate_effects,
    same_length,
    table_effects,
    zero_zero,
)
from evidence.stats.errors import InputError

__all__ = [
    "MEASURES",
    "RATE_MEASURES",
    "MantelHaenszelResult",
    "mantel_haenszel",
    "mantel_haenszel_rates",
]

#: Measures of :func:`mantel_haenszel` (2x2 tables).
MEASURES = ("OR", "RR", "RD")
#: Measures of :func:`mantel_haenszel_rates` (events and person-time).
RATE_MEASURES = ("IRR", "IRD")


@dataclass(frozen=True)
class MantelHaenszelResult:
    """A Mantel-Haenszel pooled estimate (log scale for OR, RR, IRR) and its tests.

    ``k`` counts the tables in the Mantel-Haenszel computation, ``k_yi`` the studies with
    a defined per-study effect (the Q test). ``cochran`` is Cochran's test (OR only),
    ``cmh`` the Cochran-Mantel-Haenszel test (OR) or the Mantel-Haenszel test (IRR);
    ``breslow_day`` and ``tarone`` are for OR only, on ``k_pos - 1`` df. Undefined values
    are NaN here and None in :meth:`to_dict`.
    """

    measure: str
    k: int
    k_yi: int
    estimate: float
    se: float
    statistic: float
    p: float
    ci_lower: float
    ci_upper: float
    level: float
    q: float
    q_df: int
    q_p: float
    i2: float
    h2: float
    cmh: float = math.nan
    cmh_p: float = math.nan
    cochran: float = math.nan
    cochran_p: float = math.nan
    breslow_day: float = math.nan
    breslow_day_p: float = math.nan
    tarone: float = math.nan
    tarone_p: float = math.nan
    k_pos: int | None = None
    correct: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: plain floats, None for undefined values."""
        return {
            "model": "mantel-haenszel",
            "measure": self.measure,
            "k": self.k,
            "k_yi": self.k_yi,
            "estimate": json_float(self.estimate),
            "se": json_float(self.se),
            "statistic": json_float(self.statistic),
            "p": json_float(self.p),
            "ci": [json_float(self.ci_lower), json_float(self.ci_upper)],
            "level": self.level,
            "q": json_float(self.q),
            "q_df": self.q_df,
            "q_p": json_float(self.q_p),
            "i2": json_float(self.i2),
            "h2": json_float(self.h2),
            "cmh": json_float(self.cmh),
            "cmh_p": json_float(self.cmh_p),
            "cmh_correct": self.correct,
            "cochran": json_float(self.cochran),
            "cochran_p": json_float(self.cochran_p),
            "breslow_day": json_float(self.breslow_day),
            "breslow_day_p": json_float(self.breslow_day_p),
            "tarone": json_float(self.tarone),
            "tarone_p": json_float(self.tarone_p),
            "k_pos": self.k_pos,
        }


def mantel_haenszel(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    *,
    measure: str = "OR",
    add: float | tuple[float, float] = 0.5,
    to: str | tuple[str, str] = "only0",
    drop00: bool | tuple[bool, bool] = True,
    correct: bool = True,
    level: float = 95,
) -> MantelHaenszelResult:
    """Pool k 2x2 tables with the Mantel-Haenszel method (metafor ``rma.mh``).

    Parameters
    ----------
    ai, bi, ci, di : array_like
        Events and non-events in group 1 (``ai``, ``bi``) and group 2 (``ci``, ``di``).
    measure : {"OR", "RR", "RD"}
        Odds ratio, risk ratio (both pooled on the log scale) or risk difference.
    add, to, drop00 : one value or a pair
        Zero-cell rules (see the module docstring): the first value for the per-study
        effects of the Q test, the second (default ``0``, ``"none"``, ``False``) for the
        Mantel-Haenszel computation.
    correct : bool
        Continuity correction of the Cochran-Mantel-Haenszel test.
    level : float
        Confidence level in percent.

    Returns
    -------
    MantelHaenszelResult

    Examples
    --------
    Two tables (Mantel & Haenszel's estimator ``sum a d/N / sum b c/N``):

    >>> res = mantel_haenszel([10, 4], [90, 46], [5, 2], [95, 48])
    >>> round(math.exp(res.estimate), 4), res.k
    (2.1041, 2)
    >>> round(res.cmh, 4), round(res.tarone, 6)
    (1.8328, 0.000119)
    """
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    cells = {name: as_counts(name, v) for name, v in zip("abcd", (ai, bi, ci, di), strict=True)}
    same_length(ai=cells["a"], bi=cells["b"], ci=cells["c"], di=cells["d"])
    adds, tos, drops = _options(add, to, drop00)
    level_fraction = _level(level)
    a0, b0, c0, d0 = cells["a"], cells["b"], cells["c"], cells["d"]
    yi, vi = table_effects(measure, a0, b0, c0, d0, add=adds[0], to=tos[0], drop00=drops[0])

    keep = ~zero_zero(a0, b0, c0, d0) if drops[1] else np.ones(len(a0), dtype=bool)
    a, b, c, d = add_to_cells([x[keep] for x in (a0, b0, c0, d0)], adds[1], tos[1])
    k = len(a)
    if k == 0:
        raise InputError("no tables left after dropping those without events in both groups")
    n1, n2 = a + b, c + d
    n = n1 + n2
    if np.any(n1 == 0) or np.any(n2 == 0):
        raise InputError("every table needs at least one participant in each group")

    extra: dict[str, Any] = {}
    if measure == "OR":
        r_i, s_i = a * d / n, b * c / n
        r, s = float(r_i.sum()), float(s_i.sum())
        if r == 0 or s == 0:
            estimate = se = math.nan
        else:
            estimate = math.log(r / s)
            p_i, q_i = (a + d) / n, (b + c) / n
            variance = (
                np.sum(p_i * r_i) / (2 * r**2)
                + np.sum(p_i * s_i + q_i * r_i) / (2 * r * s)
                + np.sum(q_i * s_i) / (2 * s**2)
            )
            se = math.sqrt(variance)
        extra.update(_cmh(a, b, c, d, correct))
        extra.update(_breslow_day_tarone(a, b, c, d, estimate))
    elif measure == "RR":
        r, s = float(np.sum(a * n2 / n)), float(np.sum(c * n1 / n))
        if a.sum() == 0 or c.sum() == 0:
            estimate = se = math.nan
        else:
            estimate = math.log(r / s)
            se = math.sqrt(float(np.sum((n1 / n) * (n2 / n) * (a + c) - (a / n) * c)) / (r * s))
    else:  # RD
        weight = float(np.sum(n1 * n2 / n))
        estimate = float(np.sum(a * (n2 / n) - c * (n1 / n))) / weight
        numerator = (
            estimate
            * np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + (n1 / n) * (n2 / n) * (n2 - n1) / 2)
            + np.sum(a * (n2 - c) / n + c * (n1 - a) / n) / 2
        )
        se = math.sqrt(float(numerator)) / weight if numerator >= 0 else math.nan
    return _finish(measure, k, yi, vi, estimate, se, level, level_fraction, correct, extra)


def mantel_haenszel_rates(
    x1i: ArrayLike,
    t1i: ArrayLike,
    x2i: ArrayLike,
    t2i: ArrayLike,
    *,
    measure: str = "IRR",
    add: float | tuple[float, float] = 0.5,
    to: str | tuple[str, str] = "only0",
    drop00: bool | tuple[bool, bool] = True,
    correct: bool = True,
    level: float = 95,
) -> MantelHaenszelResult:
    """Pool incidence rates (events ``x``, person-time ``t``) by Mantel-Haenszel (``rma.mh``).

    Parameters
    ----------
    x1i, t1i, x2i, t2i : array_like
        Events and person-time in group 1 and group 2.
    measure : {"IRR", "IRD"}
        Incidence rate ratio (pooled on the log scale) or incidence rate difference.
    add, to, drop00, correct, level
        As for :func:`mantel_haenszel`; ``drop00`` drops studies without events.

    Returns
    -------
    MantelHaenszelResult

    Examples
    --------
    >>> res = mantel_haenszel_rates([4, 6], [1000.0, 1500.0], [9, 10], [1100.0, 1400.0])
    >>> round(math.exp(res.estimate), 4), round(res.cmh, 4)
    (0.5278, 2.1735)
    """
    if measure not in RATE_MEASURES:
        raise InputError(f"measure must be one of {', '.join(RATE_MEASURES)}, got {measure!r}")
    x1, x2 = as_counts("x1i", x1i), as_counts("x2i", x2i)
    t1, t2 = as_counts("t1i", t1i, positive=True), as_counts("t2i", t2i, positive=True)
    same_length(x1i=x1, t1i=t1, x2i=x2, t2i=t2)
    adds, tos, drops = _options(add, to, drop00)
    level_fraction = _level(level)
    yi, vi = rate_effects(measure, x1, t1, x2, t2, add=adds[0], to=tos[0], drop00=drops[0])
    keep = ~((x1 == 0) & (x2 == 0)) if drops[1] else np.ones(len(x1), dtype=bool)
    x1, x2 = add_to_cells([x1[keep], x2[keep]], adds[1], tos[1])
    t1, t2 = t1[keep], t2[keep]
    k = len(x1)
    if k == 0:
        raise InputError("no studies left after dropping those without events")
    total = t1 + t2
    extra: dict[str, Any] = {}
    if measure == "IRR":
        r, s = float(np.sum(x1 * t2 / total)), float(np.sum(x2 * t1 / total))
        if x1.sum() == 0 or x2.sum() == 0:
            estimate = se = math.nan
        else:
            estimate = math.log(r / s)
            se = math.sqrt(float(np.sum((t1 / total) * (t2 / total) * (x1 + x2))) / (r * s))
        events = x1 + x2
        if events.sum() > 0:
            deviation = abs(float(np.sum(x1 - events * t1 / total))) - (0.5 if correct else 0.0)
            variance = float(np.sum(events * (t1 / total) * (t2 / total)))
            statistic = deviation**2 / variance
            extra["cmh"] = statistic
            extra["cmh_p"] = float(stats.chi2.sf(statistic, 1))
    else:  # IRD
        weight_i = t1 * t2 / total
        weight = float(weight_i.sum())
        estimate = float(np.sum((x1 * t2 - x2 * t1) / total)) / weight
        se = math.sqrt(float(np.sum(weight_i**2 * (x1 / t1**2 + x2 / t2**2)))) / weight
    return _finish(measure, k, yi, vi, estimate, se, level, level_fraction, correct, extra)


def _options(
    add: Any, to: Any, drop00: Any
) -> tuple[tuple[float, float], tuple[str, str], tuple[bool, bool]]:
    adds = pair("add", add, 0.0)
    tos = pair("to", to, "none")
    drops = pair("drop00", drop00, False)
    check_options(adds, tos, drops)
    return (
        (float(adds[0]), float(adds[1])),
        (str(tos[0]), str(tos[1])),
        (
            bool(drops[0]),
            bool(drops[1]),
        ),
    )


def _level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 100:
        raise InputError(f"level must be a percentage between 0 and 100, got {level!r}")
    return float(level) / 100


def _cmh(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, correct: bool) -> dict:
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, non_events = a + c, b + d
    if events.sum() == 0 or non_events.sum() == 0:
        return {}
    deviation = abs(float(np.sum(a - (n1 / n) * events))) - (0.5 if correct else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (n1 / n) * (n2 / n) * events * (non_events / (n - 1))
    variance = float(np.sum(np.where(n > 1, terms, 0.0)))
    statistic = deviation**2 / variance
    cochran = deviation**2 / float(np.sum(n1 * n2 * events * non_events / n**3))
    return {
        "cmh": statistic,
        "cmh_p": float(stats.chi2.sf(statistic, 1)),
        "cochran": cochran,
        "cochran_p": float(stats.chi2.sf(cochran, 1)),
    }


def _breslow_day_tarone(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, log_or: float
) -> dict:
    if not math.isfinite(log_or):
        return {"k_pos": 0}
    psi = math.exp(log_or)
    n1, n2 = a + b, c + d
    events, non_events = a + c, b + d
    if psi == 1:
        expected = n1 * events / (n1 + n2)
    else:
        linear = psi * (n1 + events) + (n2 - events)
        with np.errstate(invalid="ignore"):
            root = np.sqrt(linear**2 - 4 * n1 * events * psi * (psi - 1))
        expected = (linear - root) / (2 * (psi - 1))
    use = (expected > 0) & (events > 0) & (non_events > 0)
    k_pos = int(use.sum())
    e = expected[use]
    cells = (e, n1[use] - e, events[use] - e, n2[use] - events[use] + e)
    variance = 1 / np.sum([1 / x for x in cells], axis=0)
    residual = a[use] - e
    breslow_day = max(0.0, float(np.sum(residual**2 / variance)))
    tarone = max(0.0, breslow_day - float(residual.sum()) ** 2 / float(variance.sum()))
    out: dict[str, Any] = {"breslow_day": breslow_day, "tarone": tarone, "k_pos": k_pos}
    if k_pos > 1:
        out["breslow_day_p"] = float(stats.chi2.sf(breslow_day, k_pos - 1))
        out["tarone_p"] = float(stats.chi2.sf(tarone, k_pos - 1))
    return out


def _finish(
    measure: str,
    k: int,
    yi: FloatArray,
    vi: FloatArray,
    estimate: float,
    se: float,
    level: float,
    level_fraction: float,
    correct: bool,
    extra: dict,
) -> MantelHaenszelResult:
    crit = float(stats.norm.isf((1 - level_fraction) / 2))
    statistic = estimate / se if se > 0 else math.nan
    p = float(2 * stats.norm.sf(abs(statistic))) if math.isfinite(statistic) else math.nan
    defined = np.isfinite(yi) & np.isfinite(vi)
    k_yi = int(defined.sum())
    if k_yi > 1 and math.isfinite(estimate):
        w = 1 / vi[defined]
        q = max(0.0, float(np.sum(w * (yi[defined] - estimate) ** 2)))
        q_p = float(stats.chi2.sf(q, k_yi - 1))
        i2 = max(0.0, 100 * (q - (k_yi - 1)) / q) if q > 0 else math.nan
        h2 = q / (k_yi - 1)
    elif k_yi > 1:
        q = q_p = i2 = h2 = math.nan
    else:
        q, q_p, i2, h2 = 0.0, 1.0, 0.0, 1.0
    return MantelHaenszelResult(
        measure=measure,
        k=k,
        k_yi=k_yi,
        estimate=estimate,
        se=se,
        statistic=statistic,
        p=p,
        ci_lower=estimate - crit * se,
        ci_upper=estimate + crit * se,
        level=level,
        q=q,
        q_df=max(k_yi - 1, 0),
        q_p=q_p,
        i2=i2,
        h2=h2,
        correct=correct,
        **extra,
    )
