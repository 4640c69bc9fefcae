"""One reported statistic -> ``(yi, vi)`` on an analysis metric, with the conversion in words.

Pure functions, no I/O (used by :mod:`evidence.analyses.harmonise`). :func:`to_metric` returns a
:class:`Converted` (``yi``, ``vi`` and the conversion as a sentence) or an
:class:`Unusable` (the reason, in words). Orientation is not handled here: values keep the
statistic's own direction.

Metrics and what they accept
----------------------------
``log-risk-ratio``
    HR, RR, IRR, MRR (ratios treated as risk ratios, said so), log-HR, log-RR,
    ``percent-increase`` p (ratio ``1 + p/100``), ``percent-decrease`` p (``1 - p/100``),
    a 2x2 table; OR and log-OR only with ``assume_rare_outcome``.
``log-odds-ratio``
    OR, log-OR, a 2x2 table; HR/RR/IRR/MRR/percent changes only with
    ``assume_rare_outcome``.
``smd``
    SMD with CI, SE or p; two groups' means, SDs and ns (Hedges' g, as metafor ``escalc``
    ``"SMD"``); a two-sample t or one-df F with n1 and n2 (d from t, then Hedges' g);
    OR/log-OR by the logit method (Chinn 2000); r by ``d = 2r / sqrt(1 - r^2)``
    (Borenstein et al. 2009, eq. 7.5).

An estimate with a two-sided p but no CI or SE gets ``SE = |estimate| / z_{1-p/2}`` on the
scale the test was done on (the log scale for ratios; Altman & Bland 2011, BMJ 343:d2090).
``fisher-z``
    r with SE, CI or n: ``z = atanh(r)``.
``correlation``
    r with SE, CI or n.

References: Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009) *Introduction to
Meta-Analysis*, Wiley, chapters 5-7; Chinn S (2000) Stat Med 19:3127-3131; Hasselblad V,
Hedges LV (1995) Psychol Bull 117:167-178; metafor ``escalc`` documentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from evidence.effects import reported
from evidence.effects.escalc import escalc, hedges_correction
from evidence.effects.reported import (
    d_from_f,
    d_from_t,
    log_odds_ratio_to_smd,
    r_to_d,
    se_from_ci,
    se_from_p,
    z_critical,
)
from evidence.records.model import Statistic, TwoByTwo

#: Ratio measures pooled as risk ratios, and how that is said.
RISK_RATIOS = {
    "RR": "RR",
    "HR": "HR treated as RR",
    "IRR": "IRR treated as RR",
    "MRR": "mortality rate ratio treated as RR",
}
#: Log-scale measures and the ratio they are the log of.
LOG_MEASURES = {"log-HR": "HR", "log-RR": "RR", "log-OR": "OR"}
PERCENT = ("percent-increase", "percent-decrease")
#: Measures whose direction can be reversed exactly by changing the sign (for the outcome
#: as well as the exposure): odds ratios, differences and correlations.
SYMMETRIC_MEASURES = frozenset({"OR", "log-OR", "r", "SMD", "MD", "RD", "b", "beta"})


_T = TypeVar("_T")


def _given(value: _T | None) -> _T:
    """Return a field the statistic's form guarantees (the record schema requires it)."""
    if value is None:  # pragma: no cover - the schema and _precision rule this out
        raise ValueError("a statistic field its form requires is missing")
    return value


@dataclass(frozen=True)
class Converted:
    """An effect on the analysis metric: estimate ``yi``, variance ``vi``, how it was made."""

    yi: float
    vi: float
    conversion: str


@dataclass(frozen=True)
class Unusable:
    """A statistic that cannot enter the analysis, and why."""

    reason: str


def log_ratio_from_ci(
    value: float, lower: float, upper: float, level: float = 0.95
) -> tuple[float, float]:
    r"""Return the log ratio and its variance from a ratio and its confidence interval.

    :math:`y = \ln(\text{ratio})`, :math:`s = (\ln u - \ln l) / (2 z_{(1+\text{level})/2})`,
    :math:`v = s^2` (Borenstein et al. 2009, section 5.3; Cochrane Handbook 6.3.2).

    Examples
    --------
    >>> y, v = log_ratio_from_ci(1.26, 1.08, 1.48)
    >>> round(y, 4), round(v ** 0.5, 4)
    (0.2311, 0.0804)
    """
    y, se = reported.log_ratio_from_ci(value, lower, upper, level)
    return float(y), float(se) * float(se)


def _precision(statistic: Statistic) -> str | None:
    """Say why the statistic has no usable precision, or return ``None`` when it has one."""
    s = statistic
    if s.range is not None and s.value is None:
        return (
            f"only a range of estimates reported ({s.range[0]:g} to {s.range[1]:g}), "
            "no single estimate with a CI or SE"
        )
    if s.table is not None:
        return _table_problem(s.table)
    if s.groups is not None or s.t is not None or s.f is not None:
        return None
    if s.value is None:
        return "no estimate reported"
    if s.ci is None and s.se is None and s.se_log is None and not (s.measure == "r" and s.n):
        if s.p is not None and s.measure != "r":
            return None if s.p < 1 else "p = 1 gives no standard error; no CI or SE reported"
        return "no CI or SE reported"
    return None


def _table_problem(table: TwoByTwo) -> str | None:
    """Why a 2x2 table gives no ratio: an empty group, or no (or only) events in both groups.

    A double-zero table carries no information on the odds or risk ratio; it is left out
    as metafor's ``escalc(..., drop00 = TRUE)`` and ``rma.mh``/``rma.peto`` do, rather
    than pooled as a ratio of 1 made up by the 1/2 continuity correction.
    """
    a, n1 = table.exposed_events, table.exposed_total
    c, n2 = table.unexposed_events, table.unexposed_total
    if n1 <= 0 or n2 <= 0:
        return "a 2x2 table with an empty group (a total of 0): no ratio can be computed"
    if (a == 0 and c == 0) or (a == n1 and c == n2):
        what = "no events" if a == 0 else "only events"
        return (
            f"a double-zero 2x2 table ({what} in both groups) carries no information on the "
            "ratio; left out as metafor does (drop00 = TRUE)"
        )
    return None


def to_metric(
    statistic: Statistic, metric: str, assume_rare_outcome: bool = False
) -> Converted | Unusable:
    """Put one reported statistic on ``metric`` (rules in the module docstring).

    Parameters
    ----------
    statistic : Statistic
        As recorded (value with CI at ``ci_level``, ``se``/``se_log``, 2x2 table, r with n).
    metric : str
        One of :data:`METRICS`.
    assume_rare_outcome : bool
        Accept odds ratios as risk ratios and the reverse (rare-outcome approximation).

    Returns
    -------
    Converted or Unusable
    """
    missing = _precision(statistic) or _outside_domain(statistic, metric)
    if missing:
        return Unusable(missing)
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            converted = _convert(statistic, metric, assume_rare_outcome)
    except (ArithmeticError, ValueError) as exc:  # overflow, division by zero, math domain
        return Unusable(
            f"the conversion to {metric} is undefined for these numbers: {_arithmetic(exc)}"
        )
    if isinstance(converted, Converted):
        return _checked(converted, metric)
    return converted


#: Smallest variance accepted on an analysis scale: an SE under 1e-6 (a 95% CI under
#: 4e-6 wide on the log or SMD scale) is what a CI printed as zero-width, or an estimate
#: at the null with a p-value, gives; no study measures that precisely, and such a weight
#: (1e12 times the others') leaves the pooled estimate to rounding.
MIN_VARIANCE = 1e-12


def _checked(converted: Converted, metric: str) -> Converted | Unusable:
    """Refuse a conversion whose estimate or variance is not a usable finite number.

    A variance of 0 (or one that is not finite) is left to the caller, which says where it
    came from; an estimate that overflowed, or a positive variance below
    :data:`MIN_VARIANCE`, is unusable here.
    """
    if not math.isfinite(converted.yi):
        return Unusable(
            f"the conversion to {metric} gives an estimate that is not finite "
            f"({converted.yi}): the reported numbers are out of range"
        )
    if 0 < converted.vi < MIN_VARIANCE:
        return Unusable(
            f"implausibly precise: SE {math.sqrt(converted.vi):.3g} on the {metric} scale "
            "(below 1e-6: a CI printed as zero-width, or an estimate at the null with a "
            "p-value, gives no usable SE)"
        )
    return converted


def _arithmetic(error: ArithmeticError | ValueError) -> str:
    """Say in words what went wrong in a conversion's arithmetic."""
    if isinstance(error, ZeroDivisionError):
        return "a division by zero"
    if isinstance(error, OverflowError):
        return "a number too large for floating point (overflow)"
    text = str(error)
    if "overflow" in text:
        return "a number too large for floating point (overflow)"
    if "divide by zero" in text:
        return "a division by zero"
    return "a value outside the domain of a log, square root or atanh"


def _outside_domain(statistic: Statistic, metric: str) -> str | None:
    """Say why a correlation at its bounds has no conversion, or return ``None``.

    r = +-1 (or a CI bound there) has an infinite Fisher z and SMD, and a variance of 0
    from n, so no metric takes it.
    """
    s = statistic
    if s.measure != "r":
        return None
    values = [v for v in (s.value, *(s.ci or ())) if v is not None]
    if any(abs(v) >= 1 for v in values):
        shown = ", ".join(f"{v:g}" for v in values)
        return (
            f"r ({shown}) reaches the bound of a correlation (-1 or 1): "
            f"its {metric} is infinite or its variance 0"
        )
    return None


def _convert(statistic: Statistic, metric: str, assume_rare_outcome: bool) -> Converted | Unusable:
    """Dispatch on the statistic's form and the metric (see :func:`to_metric`)."""
    two_groups = statistic.groups is not None or statistic.t is not None or statistic.f is not None
    if two_groups and metric == "smd":
        return (
            _smd_from_groups(statistic)
            if statistic.groups is not None
            else _smd_from_test(statistic)
        )
    if two_groups:
        form = "group means and SDs" if statistic.groups is not None else "a t or F statistic"
        return Unusable(f"{form} convert to smd only, not to {metric}")
    if metric in ("log-risk-ratio", "log-odds-ratio"):
        return _to_log_ratio(statistic, metric, assume_rare_outcome)
    if metric == "smd":
        return _to_smd(statistic)
    if statistic.measure == "r" and statistic.value is not None:
        return _correlation(statistic, metric)
    return Unusable(f"measure {statistic.measure} not convertible to {metric}")


def _percent_sign(measure: str) -> tuple[int, str]:
    return (1, "increase") if measure == "percent-increase" else (-1, "decrease")


def _log_ratio(statistic: Statistic) -> tuple[float, float, str]:
    """Return ``(ln ratio, variance, words)`` of a ratio, log-ratio or percent statistic."""
    s = statistic
    value = float(_given(s.value))
    if s.ci is None and s.se is None and s.se_log is None:
        y = (
            math.log(1 + _percent_sign(s.measure)[0] * value / 100)
            if s.measure in PERCENT
            else value
            if s.measure in LOG_MEASURES
            else math.log(value)
        )
        se = float(se_from_p(y, _given(s.p)))
        return y, se * se, (f"SE of the log from the two-sided p = {s.p:g} (Altman & Bland 2011)")
    if s.measure in PERCENT:
        sign, word = _percent_sign(s.measure)
        rule = f"percent {word} p -> ratio 1 {'+' if sign > 0 else '-'} p/100"
        ratio = 1 + sign * value / 100
        if s.se_log is not None:
            return math.log(ratio), s.se_log**2, rule
        if s.ci is None:
            se_log = float(_given(s.se)) / 100 / ratio
            return (
                math.log(ratio),
                se_log**2,
                f"{rule}; SE of the log by the delta method, (SE/100)/ratio",
            )
        lo, hi = sorted(1 + sign * c / 100 for c in s.ci)
        y, v = log_ratio_from_ci(ratio, lo, hi, s.ci_level)
        return y, v, f"{rule} (CI likewise), ratio and CI to log scale"
    if s.measure in LOG_MEASURES:
        if s.se is not None:
            return value, s.se**2, "log scale with SE as reported"
        lo, hi = _given(s.ci)
        se = float(se_from_ci(lo, hi, s.ci_level))
        return value, se * se, "log scale; SE from the CI width"
    if s.se_log is not None:
        return math.log(value), s.se_log**2, "ratio to log scale, SE of the log as reported"
    if s.ci is None:
        se = float(_given(s.se)) / value
        return math.log(value), se * se, "ratio to log scale; SE by the delta method"
    y, v = log_ratio_from_ci(value, s.ci[0], s.ci[1], s.ci_level)
    return y, v, f"ratio and {100 * s.ci_level:g}% CI to log scale"


def _to_log_ratio(statistic: Statistic, metric: str, rare: bool) -> Converted | Unusable:
    """Put ratios, log ratios, percent changes and 2x2 tables on the log RR or log OR scale."""
    measure = statistic.measure
    if statistic.table is not None:
        return _from_table(statistic, metric)
    base = "RR" if measure in PERCENT else LOG_MEASURES.get(measure, measure)
    odds = base == "OR"
    risk = base in RISK_RATIOS
    if not (odds or risk) or statistic.value is None:
        return Unusable(f"measure {measure} not convertible to {metric}")
    y, v, words = _log_ratio(statistic)
    if metric == "log-risk-ratio":
        if odds and not rare:
            return Unusable(
                f"measure {measure} not convertible to log-risk-ratio without the "
                "baseline risk (set assume_rare_outcome to accept it)"
            )
        label = (
            "OR treated as RR (rare-outcome assumption)"
            if odds
            else "percent change treated as RR"
            if measure in PERCENT
            else RISK_RATIOS[base]
        )
    else:
        if risk and not rare:
            return Unusable(
                f"measure {measure} not convertible to log-odds-ratio without the "
                "baseline risk (set assume_rare_outcome to accept it)"
            )
        label = f"{base} treated as OR (rare-outcome assumption)" if risk else "OR"
    return Converted(y, v, f"{label}; {words}")


def _from_table(statistic: Statistic, metric: str) -> Converted:
    r"""Compute a log RR or log OR from a 2x2 table (1/2 added to every cell if one is zero).

    :math:`\ln RR = \ln\frac{a/n_1}{c/n_2}`, :math:`v = 1/a - 1/n_1 + 1/c - 1/n_2`;
    :math:`\ln OR = \ln\frac{ad}{bc}`, :math:`v = 1/a + 1/b + 1/c + 1/d`
    (Borenstein et al. 2009, chapter 5; metafor ``escalc`` with ``add = 1/2, to = "only0"``).
    """
    t = _given(statistic.table)
    a, n1 = float(t.exposed_events), float(t.exposed_total)
    c, n2 = float(t.unexposed_events), float(t.unexposed_total)
    b, d = n1 - a, n2 - c
    added = ""
    if 0 in (a, b, c, d):
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
        n1, n2 = a + b, c + d
        added = " (1/2 added to each cell: a zero cell)"
    if metric == "log-risk-ratio":
        return Converted(
            math.log((a / n1) / (c / n2)),
            1 / a - 1 / n1 + 1 / c - 1 / n2,
            f"log RR from the 2x2 table{added}",
        )
    return Converted(
        math.log(a * d / (b * c)),
        1 / a + 1 / b + 1 / c + 1 / d,
        f"log OR from the 2x2 table{added}",
    )


def _to_smd(statistic: Statistic) -> Converted | Unusable:
    r"""Return an SMD as reported, from an odds ratio (logit method) or from r.

    Logit method (Chinn 2000; Hasselblad & Hedges 1995): :math:`d = \ln(OR)\sqrt{3}/\pi`,
    :math:`v_d = v_{\ln OR}\, 3/\pi^2`. From r (Borenstein et al. 2009, eq. 7.5-7.6):
    :math:`d = 2r/\sqrt{1-r^2}`, :math:`v_d = 4 v_r / (1-r^2)^3`.
    """
    s = statistic
    if s.value is None:
        return Unusable(f"measure {s.measure} not convertible to smd")
    if s.measure in ("OR", "log-OR"):
        y, v, words = _log_ratio(s)
        d, v_d = log_odds_ratio_to_smd(y, v)
        return Converted(
            float(d), float(v_d), f"OR to SMD by the logit method (Chinn 2000); {words}"
        )
    if s.measure == "SMD":
        if s.se is not None:
            return Converted(float(s.value), s.se**2, "SMD with SE as reported")
        if s.ci is None:
            se = float(se_from_p(s.value, _given(s.p)))
            return Converted(
                float(s.value),
                se * se,
                f"SMD; SE from the two-sided p = {s.p:g} (Altman & Bland 2011)",
            )
        lo, hi = s.ci
        se = float(se_from_ci(lo, hi, s.ci_level))
        return Converted(float(s.value), se * se, "SMD; SE from the CI width")
    if s.measure == "r":
        d, v_d = r_to_d(float(s.value), _correlation_variance(s))
        return Converted(
            float(d), float(v_d), "r to SMD: d = 2r/sqrt(1 - r^2) (Borenstein 2009, eq. 7.5)"
        )
    return Unusable(f"measure {s.measure} not convertible to smd")


def _smd_from_groups(statistic: Statistic) -> Converted | Unusable:
    r"""Return Hedges' g from two groups' means, SDs and sizes (exposed minus unexposed).

    :math:`s_p = \sqrt{((n_1-1)s_1^2 + (n_2-1)s_2^2)/(n_1+n_2-2)}`,
    :math:`g = J(n_1+n_2-2)(m_1-m_2)/s_p` with the exact correction
    :math:`J(m) = \Gamma(m/2)/(\sqrt{m/2}\,\Gamma((m-1)/2))`,
    :math:`v = 1/n_1 + 1/n_2 + g^2/(2(n_1+n_2))` (Hedges 1981; metafor ``escalc("SMD")``,
    ``vtype = "LS"``; computed by :func:`evidence.effects.escalc.escalc`).
    """
    g = _given(statistic.groups)
    sizes = escalc(
        "SMD",
        m1i=[g.exposed_mean],
        sd1i=[g.exposed_sd],
        n1i=[g.exposed_n],
        m2i=[g.unexposed_mean],
        sd2i=[g.unexposed_sd],
        n2i=[g.unexposed_n],
    )
    yi, vi = float(sizes.yi[0]), float(sizes.vi[0])
    if not (math.isfinite(yi) and math.isfinite(vi)):
        return Unusable("group means and SDs give no SMD (pooled SD of 0 or groups too small)")
    return Converted(
        yi,
        vi,
        "Hedges' g from the group means, SDs and ns (exposed minus "
        "unexposed; Hedges 1981, metafor escalc SMD)",
    )


def _smd_from_test(statistic: Statistic) -> Converted | Unusable:
    r"""Return Hedges' g from a two-sample t, or a one-df F, and the group sizes.

    :math:`d = t\sqrt{1/n_1 + 1/n_2}`, :math:`v_d = (n_1+n_2)/(n_1 n_2) + d^2/(2(n_1+n_2))`
    (Borenstein et al. 2009, eqs. 4.20 and 7.x; :func:`evidence.effects.reported.d_from_t`); an F
    with one numerator df is :math:`t^2`, so :math:`|t| = \sqrt F`
    (:func:`evidence.effects.reported.d_from_f`). Then :math:`g = J d`, :math:`v_g = J^2 v_d` with
    :math:`J` as in :func:`_smd_from_groups` (Borenstein et al. 2009, eqs. 4.22-4.24).
    F has no sign: it takes the sign of ``value`` when one is recorded, else it is taken
    as positive, i.e. pointing to the side the record's ``exposure.higher_means`` names.
    """
    s = statistic
    n1, n2 = float(_given(s.n1)), float(_given(s.n2))
    if n1 + n2 - 2 <= 1:
        return Unusable(f"group sizes n1 = {n1:g}, n2 = {n2:g} too small for an SMD")
    j = float(hedges_correction(n1 + n2 - 2))
    if s.t is not None:
        d, v = d_from_t(s.t, n1, n2)
        words = f"t = {s.t:g}"
    else:
        sign = -1.0 if s.value is not None and s.value < 0 else 1.0
        d, v = d_from_f(_given(s.f), n1, n2, sign)
        words = f"F = {s.f:g}, sign " + (
            "from the recorded value"
            if s.value is not None
            else "taken from exposure.higher_means (F has none)"
        )
    return Converted(
        j * float(d),
        j * j * float(v),
        f"Hedges' g from {words} with n1 = {n1:g}, n2 = {n2:g}: "
        "d = t sqrt(1/n1 + 1/n2), g = J d (Borenstein 2009, eqs. 4.20-4.24)",
    )


def _correlation_variance(statistic: Statistic) -> float:
    r"""Return the variance of r: :math:`SE^2` when reported, else :math:`(1-r^2)^2/(n-1)`."""
    r = float(_given(statistic.value))
    if statistic.se is not None:
        return statistic.se**2
    if statistic.ci is not None:
        lo, hi = statistic.ci
        se = (math.atanh(hi) - math.atanh(lo)) / (2 * z_critical(statistic.ci_level))
        return (se * (1 - r * r)) ** 2
    return (1 - r * r) ** 2 / (_given(statistic.n) - 1)


def _correlation(statistic: Statistic, metric: str) -> Converted:
    r"""Put a correlation r on the Fisher z or the raw r scale.

    Fisher z: :math:`z = \operatorname{atanh}(r)`, :math:`v_z = 1/(n-3)` from n, or by the
    delta method :math:`v_z = SE_r^2/(1-r^2)^2` from a reported SE (Borenstein et al. 2009,
    eq. 6.2-6.3). Raw r: :math:`v_r = SE_r^2` or :math:`(1-r^2)^2/(n-1)`.
    """
    r = float(_given(statistic.value))
    if metric == "correlation":
        return Converted(r, _correlation_variance(statistic), "r as reported")
    if statistic.se is None and statistic.ci is None:
        return Converted(
            math.atanh(r),
            1 / (_given(statistic.n) - 3),
            "r to Fisher z; variance 1/(n - 3)",
        )
    v = _correlation_variance(statistic) / (1 - r * r) ** 2
    return Converted(math.atanh(r), v, "r to Fisher z; variance SE_r^2/(1 - r^2)^2 (delta method)")
