"""Effect sizes and their sampling variances with metafor ``escalc`` names and conventions.

Public API
----------
``escalc(measure, *, add=0.5, to="only0", drop00=False, **columns) -> EffectSizes``
    Vectorised effect sizes for every row, with metafor's measure and column names:

    ============  ==========================================  ===========================
    measure       columns                                     yi
    ============  ==========================================  ===========================
    OR, RR, RD    ai, bi, ci, di (or ai, ci, n1i, n2i)        log odds/risk ratio, diff.
    MD, SMD, ROM  m1i, m2i, sd1i, sd2i, n1i, n2i              mean diff., Hedges' g, log
                                                              ratio of means
    COR, ZCOR     ri, ni                                      r, Fisher's z
    PR, PLO       xi, ni                                      proportion, logit
    IR, IRLN      xi, ti                                      rate, log rate
    IRR           x1i, x2i, t1i, t2i                          log incidence rate ratio
    GEN           yi with vi or sei                           as given
    ============  ==========================================  ===========================

    A row that cannot be computed gets ``yi = vi = NaN`` and a reason.
``MEASURE_REGISTRY``
    The one registry of effect measures (:class:`Measure`: name, columns, function, scale
    and the name of its back-transform); ``MEASURES`` and ``REQUIRED_COLUMNS`` are read
    from it, and :func:`back_transform` names a measure's back-transform.

The conversions for what papers report are in :mod:`evidence.effects.reported`.

Conventions (metafor 3.8 ``escalc`` defaults): ``add=1/2, to="only0"`` adds 1/2 to every
cell of a 2x2 table (or to events and non-events of a proportion, or to the counts of a
rate ratio) that has a zero; ``drop00=False`` keeps studies with no events (or only
events) in both groups (set ``drop00=True`` to drop them, with that reason); variances
are the large-sample (``vtype="LS"``) ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy.special import gammaln

__all__ = [
    "MEASURES",
    "MEASURE_REGISTRY",
    "REQUIRED_COLUMNS",
    "EffectSizes",
    "Measure",
    "back_transform",
    "escalc",
    "hedges_correction",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class EffectSizes:
    """Effect sizes of every input row.

    Attributes
    ----------
    measure : str
    yi, vi : ndarray
        NaN where the row cannot be computed.
    reasons : tuple of (str or None)
        Why a row could not be computed (None when it could).
    notes : tuple of str
        Remarks on the whole computation (e.g. continuity corrections applied).
    """

    measure: str
    yi: Array
    vi: Array
    reasons: tuple[str | None, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def sei(self) -> Array:
        """Standard errors ``sqrt(vi)``."""
        return np.sqrt(self.vi)


class _Rows:
    """Collect per-row reasons while computing."""

    def __init__(self, k: int):
        self.reasons: list[str | None] = [None] * k

    def flag(self, condition: NDArray[np.bool_], reason: str) -> None:
        for i in np.flatnonzero(condition):
            if self.reasons[i] is None:
                self.reasons[i] = reason

    @property
    def bad(self) -> NDArray[np.bool_]:
        return np.array([r is not None for r in self.reasons], dtype=bool)


def hedges_correction(m: ArrayLike) -> Array:
    """Exact small-sample correction ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``.

    Hedges (1981), J Educ Stat 6, 107-128; metafor ``.cmicalc``; undefined (NaN) for
    ``m <= 1``. With ``m = n1 + n2 - 2``, Hedges' ``g = c(m) d``.
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m > 1, value, np.nan)


def _column(columns: dict[str, ArrayLike], name: str, k: int) -> Array:
    value = columns.get(name)
    if value is None:
        return np.full(k, np.nan)
    return np.asarray(value, dtype=float).reshape(-1) * np.ones(k)


class _Columns(dict[str, Array]):
    """The columns escalc was given; one it was not is all NaN, made when a measure reads it.

    (Making all 19 of them up front cost 0.2 s and 150 MB at k = 10^6, issue 17.)
    """

    def __init__(self, columns: dict[str, ArrayLike], k: int) -> None:
        super().__init__()
        self.k = k
        self.update({n: _column(columns, n, k) for n, v in columns.items() if v is not None})

    def __missing__(self, name: str) -> Array:
        self[name] = np.full(self.k, np.nan)
        return self[name]


def _missing(rows: _Rows, columns: dict[str, Array], names: tuple[str, ...]) -> None:
    for name in names:
        rows.flag(~np.isfinite(columns[name]), f"{name} is missing")


def _corrected_rows(has_zero: NDArray[np.bool_], to: str, rows: _Rows) -> NDArray[np.bool_]:
    """Rows that receive the continuity correction under metafor's ``to`` option.

    ``"only0"``: rows with a zero; ``"all"``: every row; ``"if0all"``: every row when any
    has a zero; ``"none"``: no row. Rows that cannot be computed are left alone.
    """
    if to == "all":
        chosen = np.ones_like(has_zero)
    elif to == "if0all":
        chosen = np.full_like(has_zero, bool(has_zero[~rows.bad].any()))
    elif to == "none":
        chosen = np.zeros_like(has_zero)
    else:
        chosen = has_zero.copy()
    return chosen & ~rows.bad


def _two_by_two(
    measure: str, c: dict[str, Array], rows: _Rows, add: float, to: str, drop00: bool
) -> tuple[Array, Array, list[str]]:
    """OR, RR, RD from a 2x2 table (Borenstein et al. 2009, ch. 5; metafor ``escalc``).

    ``log OR = log(ai di / (bi ci))``, ``v = 1/ai + 1/bi + 1/ci + 1/di``;
    ``log RR = log((ai/n1)/(ci/n2))``, ``v = 1/ai - 1/n1 + 1/ci - 1/n2``;
    ``RD = ai/n1 - ci/n2``, ``v = p1(1-p1)/n1 + p2(1-p2)/n2``.
    """
    ai, ci = c["ai"], c["ci"]
    bi = np.where(np.isfinite(c["bi"]), c["bi"], c["n1i"] - ai)
    di = np.where(np.isfinite(c["di"]), c["di"], c["n2i"] - ci)
    cells = {"ai": ai, "bi": bi, "ci": ci, "di": di}
    for name, cell in cells.items():
        rows.flag(~np.isfinite(cell), f"{name} is missing")
        rows.flag(cell < 0, f"{name} is negative (or an event count exceeds its group size)")
    rows.flag((ai + bi <= 0) | (ci + di <= 0), "a group has no participants")
    notes: list[str] = []
    if drop00:
        rows.flag(
            ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0)),
            "no events (or only events) in both groups (drop00)",
        )
    zero = _corrected_rows((ai == 0) | (bi == 0) | (ci == 0) | (di == 0), to, rows)
    if zero.any() and add:
        notes.append(
            f"added {add:g} to every cell of row(s) "
            f"{', '.join(str(i + 1) for i in np.flatnonzero(zero))}"
        )
    a, b, cc, d = (x + add * zero for x in (ai, bi, ci, di))
    n1, n2 = a + b, cc + d
    if measure in _PAIRED or measure in ("AS", "PHI", "PETO"):
        yi, vi = _more_two_by_two(measure, a, b, cc, d)
        return yi, vi, notes
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            return np.log(a * d / (b * cc)), 1 / a + 1 / b + 1 / cc + 1 / d, notes
        if measure == "RR":
            return np.log((a / n1) / (cc / n2)), 1 / a - 1 / n1 + 1 / cc - 1 / n2, notes
        p1, p2 = a / n1, cc / n2
        return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, notes


_PAIRED = ("MPRD", "MPRR", "MPOR", "MPORC", "MPPETO")


def _more_two_by_two(measure: str, a: Array, b: Array, c: Array, d: Array) -> tuple[Array, Array]:
    """AS, PHI, PETO and the paired measures from a 2x2 table (metafor 3.8 ``escalc``).

    PETO (Yusuf et al. 1985): ``(a - E)/V`` with ``E = n1 (a + c)/n`` and the
    hypergeometric variance ``V = n1 n2 (a + c)(b + d)/(n^2 (n - 1))``, ``v = 1/V``.

    AS: ``asin(sqrt(p1)) - asin(sqrt(p2))``, ``v = 1/(4 n1) + 1/(4 n2)`` (Rucker et al.
    2009). PHI: ``(ad - bc)/sqrt((a+b)(c+d)(a+c)(b+d))`` with the large-sample variance
    ``(1 - phi^2 + phi (1 + phi^2/2) (p1. - p2.)(p.1 - p.2)/sqrt(p1. p2. p.1 p.2)
    - 3/4 phi^2 ((p1. - p2.)^2/(p1. p2.) + (p.1 - p.2)^2/(p.1 p.2)))/n`` (Yule 1912;
    Bishop, Fienberg & Holland 1975). Paired tables (``a`` both events, ``b`` event
    only under the first condition, ``c`` only under the second, ``d`` neither; ``n`` the
    pairs; Zhou et al. 2008): MPRD ``p1. - p.1``, ``v = (p12 (1 - p12) + 2 p12 p21 +
    p21 (1 - p21))/n``; MPRR ``log(p1./p.1)``, ``v = (p12 + p21)/(n p1. p.1)``; MPOR
    ``logit(p1.) - logit(p.1)``, ``v = (p12 (1-p12) + p21 (1-p21) + 2 p12 p21)/(n p1.
    (1-p1.) p.1 (1-p.1))``; MPORC ``log(b/c)``, ``v = 1/b + 1/c``; MPPETO
    ``(b - (b+c)/2)/((b+c)/4)``, ``v = 4/(b + c)``.
    """
    n1, n2 = a + b, c + d
    n = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "AS":
            return (
                np.arcsin(np.sqrt(a / n1)) - np.arcsin(np.sqrt(c / n2)),
                1 / (4 * n1) + 1 / (4 * n2),
            )
        if measure == "PETO":
            variance = n1 * n2 * (a + c) * (b + d) / (n * n * (n - 1))
            return (a - n1 * (a + c) / n) / variance, 1 / variance
        if measure == "PHI":
            phi = (a * d - b * c) / np.sqrt((a + b) * (c + d) * (a + c) * (b + d))
            r1, r2, c1, c2 = (a + b) / n, (c + d) / n, (a + c) / n, (b + d) / n
            vi = (
                1
                - phi**2
                + phi * (1 + phi**2 / 2) * (r1 - r2) * (c1 - c2) / np.sqrt(r1 * r2 * c1 * c2)
                - 0.75 * phi**2 * ((r1 - r2) ** 2 / (r1 * r2) + (c1 - c2) ** 2 / (c1 * c2))
            ) / n
            return phi, vi
        p12, p21, p1_, p_1 = b / n, c / n, (a + b) / n, (a + c) / n
        if measure == "MPRD":
            return p1_ - p_1, (p12 * (1 - p12) + 2 * p12 * p21 + p21 * (1 - p21)) / n
        if measure == "MPRR":
            return np.log(p1_) - np.log(p_1), (p12 + p21) / (n * p1_ * p_1)
        if measure == "MPOR":
            yi = np.log(p1_ / (1 - p1_)) - np.log(p_1 / (1 - p_1))
            vi = (p12 * (1 - p12) + p21 * (1 - p21) + 2 * p12 * p21) / (
                n * p1_ * (1 - p1_) * p_1 * (1 - p_1)
            )
            return yi, vi
        if measure == "MPORC":
            return np.log(b) - np.log(c), 1 / b + 1 / c
        expected, variance = (b + c) / 2, (b + c) / 4
        return (b - expected) / variance, 1 / variance


def _point_biserial(measure: str, c: dict[str, Array], rows: _Rows) -> tuple[Array, Array]:
    """RPB and RBIS from two groups' means, SDs and sizes (metafor 3.8 ``escalc``).

    ``d = (m1 - m2)/s_pooled`` (uncorrected), ``h = m/n1 + m/n2`` with ``m = n - 2``,
    ``r_pb = d/sqrt(d^2 + h)``, ``v = h^2/(h + d^2)^3 (1/n1 + 1/n2 + d^2/(2n))``
    (Jacobs & Viechtbauer 2017); biserial ``r_b = sqrt(p1 p2)/phi(z) r_pb`` with
    ``p1 = n1/n``, ``z = Phi^-1(1 - p1)``, ``v = (p1 p2/phi(z)^2 - (3/2 + (1 - p1 z/phi(z))
    (1 + p2 z/phi(z))) r^2 + r^4)/(n - 1)`` (Soper 1914), ``r`` truncated to [-1, 1] there.
    """
    m1, m2, sd1, sd2, n1, n2 = (c[x] for x in ("m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i"))
    n = n1 + n2
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n - 2))
        rows.flag(pooled == 0, "the pooled standard deviation is 0")
        d = (m1 - m2) / pooled
        h = (n - 2) / n1 + (n - 2) / n2
        r = d / np.sqrt(d * d + h)
        if measure == "RPB":
            return r, h**2 / (h + d * d) ** 3 * (1 / n1 + 1 / n2 + d * d / (2 * n))
        p1, p2 = n1 / n, n2 / n
        # scipy.stats.norm.isf and .pdf, as scipy computes them (scipy.stats is not
        # imported here: it costs every command that reads effect sizes its start-up time)
        z = -special.ndtri(p1)
        density = np.exp(-(z**2) / 2.0) / np.sqrt(2 * np.pi)
        rb = np.sqrt(p1 * p2) / density * r
        rt = np.clip(rb, -1, 1)
        vi = (
            p1 * p2 / density**2
            - (1.5 + (1 - p1 * z / density) * (1 + p2 * z / density)) * rt**2
            + rt**4
        ) / (n - 1)
        return rb, vi


def _mean_change(measure: str, c: dict[str, Array], rows: _Rows) -> tuple[Array, Array]:
    """SMCR, SMCC: standardised mean change of one group measured twice (metafor ``escalc``).

    ``c(m)`` the Hedges correction with ``m = n - 1``. SMCR (raw-score standardisation,
    Becker 1988): ``g = c(m) (m1 - m2)/sd1``, ``v = 2 (1 - r)/n + g^2/(2 n)``. SMCC
    (change-score standardisation, Gibbons et al. 1993): ``g = c(m) (m1 - m2)/sd_d`` with
    ``sd_d = sqrt(sd1^2 + sd2^2 - 2 r sd1 sd2)``, ``v = 1/n + g^2/(2 n)``.
    """
    m1, m2, sd1, n, r = (c[x] for x in ("m1i", "m2i", "sd1i", "ni", "ri"))
    names = ("m1i", "m2i", "sd1i", "ni", "ri") + (("sd2i",) if measure == "SMCC" else ())
    _missing(rows, c, names)
    rows.flag(np.abs(r) > 1, "a correlation must lie in [-1, 1]")
    rows.flag(n <= 2, f"{measure} needs ni > 2")
    correction = hedges_correction(n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "SMCR":
            rows.flag(sd1 <= 0, "sd1i must be positive")
            g = correction * (m1 - m2) / sd1
            return g, 2 * (1 - r) / n + g * g / (2 * n)
        sd2 = c["sd2i"]
        change_sd = np.sqrt(sd1**2 + sd2**2 - 2 * r * sd1 * sd2)
        rows.flag(change_sd <= 0, "the SD of the change is 0")
        g = correction * (m1 - m2) / change_sd
        return g, 1 / n + g * g / (2 * n)


def _hyp2f1_half(n: Array, x: Array) -> Array:
    """``2F1(1/2, 1/2; (n - 2)/2; x)`` as GSL ``hyperg_2F1`` (metafor ``.Fcalc``).

    scipy's ``hyp2f1`` returns NaN for large ``c`` with ``x`` near 1; those values are
    summed from the series ``sum_j ((1/2)_j)^2/((c)_j j!) x^j`` until a term is below
    1e-17 of the sum (the terms decrease monotonically here).
    """
    c = (n - 2) / 2
    value = np.asarray(special.hyp2f1(0.5, 0.5, c, x), dtype=float)
    for i in np.flatnonzero(~np.isfinite(value) & np.isfinite(x) & (c > 1)):
        j = np.arange(200_000, dtype=float)
        ratios = (j + 0.5) ** 2 / ((c[i] + j) * (j + 1)) * x[i]
        terms = np.concatenate([[1.0], np.cumprod(ratios)])
        value[i] = float(np.sum(terms[terms > 1e-17 * terms[0]]))
    return value


def _means(measure: str, c: dict[str, Array], rows: _Rows) -> tuple[Array, Array, list[str]]:
    """MD, SMD (Hedges' g), ROM from two groups' means, SDs and sizes.

    ``MD = m1 - m2``, ``v = sd1^2/n1 + sd2^2/n2``; ``g = c(n1+n2-2) (m1 - m2)/s_pooled``,
    ``v = 1/n1 + 1/n2 + g^2/(2(n1+n2))`` (Hedges 1981; metafor ``vtype="LS"``);
    ``ROM = log(m1/m2)``, ``v = sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2)`` (Hedges et al. 1999).
    """
    m1, m2, sd1, sd2, n1, n2 = (c[x] for x in ("m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i"))
    _missing(rows, c, ("m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i"))
    rows.flag((sd1 < 0) | (sd2 < 0), "a standard deviation is negative")
    rows.flag((n1 < 1) | (n2 < 1), "a group size is below 1")
    if measure in ("RPB", "RBIS"):
        yi, vi = _point_biserial(measure, c, rows)
        return yi, vi, []
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            return m1 - m2, sd1**2 / n1 + sd2**2 / n2, []
        if measure == "ROM":
            rows.flag((m1 <= 0) | (m2 <= 0), "ROM needs positive means")
            return np.log(m1 / m2), sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2), []
        rows.flag(n1 + n2 - 2 <= 1, "SMD needs n1i + n2i > 3")
        pooled = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
        rows.flag(pooled == 0, "the pooled standard deviation is 0")
        g = hedges_correction(n1 + n2 - 2) * (m1 - m2) / pooled
        return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)), []


def _correlation(measure: str, c: dict[str, Array], rows: _Rows) -> tuple[Array, Array, list]:
    """COR: ``r``, ``v = (1 - r^2)^2/(n - 1)``; ZCOR: ``atanh(r)``, ``v = 1/(n - 3)``.

    Borenstein et al. (2009), ch. 6; metafor ``escalc`` (``vtype="LS"``).
    """
    r, n = c["ri"], c["ni"]
    _missing(rows, c, ("ri", "ni"))
    rows.flag(np.abs(r) > 1, "a correlation must lie in [-1, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "COR":
            rows.flag(n <= 1, "COR needs ni > 1")
            return r, (1 - r**2) ** 2 / (n - 1), []
        if measure == "UCOR":
            # Olkin & Pratt (1958): r 2F1(1/2, 1/2; (n - 2)/2; 1 - r^2).
            rows.flag(n <= 4, "UCOR needs ni > 4")
            unbiased = r * _hyp2f1_half(n, 1 - r**2)
            return unbiased, (1 - unbiased**2) ** 2 / (n - 1), []
        rows.flag(n <= 3, "ZCOR needs ni > 3")
        rows.flag(np.abs(r) == 1, "Fisher's z is infinite at |r| = 1")
        return np.arctanh(r), 1 / (n - 3), []


def _proportion(
    measure: str, c: dict[str, Array], rows: _Rows, add: float, to: str
) -> tuple[Array, Array, list[str]]:
    """PR: ``p = x/n``, ``v = p(1-p)/n``; PLO: ``log(p/(1-p))``, ``v = 1/x + 1/(n-x)``.

    metafor ``escalc`` adds ``add`` to events and non-events of rows with a zero (PLO
    and PR alike, ``to="only0"``).
    """
    x, n = c["xi"], c["ni"]
    _missing(rows, c, ("xi", "ni"))
    rows.flag((x < 0) | (x > n), "xi must lie between 0 and ni")
    rows.flag(n <= 0, "ni must be positive")
    non_events = n - x
    zero = _corrected_rows((x == 0) | (non_events == 0), to, rows)
    notes = (
        [
            f"added {add:g} to events and non-events of row(s) "
            f"{', '.join(str(i + 1) for i in np.flatnonzero(zero))}"
        ]
        if zero.any() and add
        else []
    )
    x, non_events = x + add * zero, non_events + add * zero
    n = x + non_events
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PFT":
            # Freeman & Tukey (1950) double arcsine; Miller (1978).
            yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
            return yi, 1 / (4 * n + 2), notes
        if measure == "PR":
            return p, p * (1 - p) / n, notes
        return np.log(p / (1 - p)), 1 / x + 1 / non_events, notes


def _rates(
    measure: str, c: dict[str, Array], rows: _Rows, add: float, to: str, drop00: bool = False
) -> tuple[Array, Array, list[str]]:
    """IR ``x/t`` (v = x/t^2); IRLN ``log(x/t)`` (v = 1/x); IRR ``log((x1/t1)/(x2/t2))``.

    IRR variance ``1/x1 + 1/x2``; ``add`` to the counts of rows with a zero count
    (metafor ``escalc``); ``drop00`` drops IRR rows with no events in either group.
    """
    if measure in ("IRR", "IRD"):
        names = ("x1i", "x2i", "t1i", "t2i")
        _missing(rows, c, names)
        x1, x2, t1, t2 = (c[n] for n in names)
        rows.flag((x1 < 0) | (x2 < 0), "an event count is negative")
        rows.flag((t1 <= 0) | (t2 <= 0), "a person-time is not positive")
        if drop00:
            rows.flag((x1 == 0) & (x2 == 0), "no events in both groups (drop00)")
        zero = _corrected_rows((x1 == 0) | (x2 == 0), to, rows)
        x1, x2 = x1 + add * zero, x2 + add * zero
        notes = (
            [
                f"added {add:g} to the counts of row(s) "
                f"{', '.join(str(i + 1) for i in np.flatnonzero(zero))}"
            ]
            if zero.any()
            else []
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            if measure == "IRD":
                return x1 / t1 - x2 / t2, x1 / t1**2 + x2 / t2**2, notes
            return np.log((x1 / t1) / (x2 / t2)), 1 / x1 + 1 / x2, notes
    _missing(rows, c, ("xi", "ti"))
    x, t = c["xi"], c["ti"]
    rows.flag(x < 0, "xi is negative")
    rows.flag(t <= 0, "ti must be positive")
    zero = _corrected_rows(x == 0, to, rows)
    x = x + add * zero
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "IR":
            return x / t, x / t**2, []
        return np.log(x / t), 1 / x, []


def _given(c: dict[str, Array], rows: _Rows) -> tuple[Array, Array, list[str]]:
    """Precomputed ``yi`` with ``vi`` or ``sei`` (``vi = sei^2``)."""
    vi = np.where(np.isfinite(c["vi"]), c["vi"], c["sei"] ** 2)
    rows.flag(~np.isfinite(c["yi"]), "yi is missing")
    rows.flag(~np.isfinite(vi), "vi (or sei) is missing")
    used_sei = ~np.isfinite(c["vi"]) & np.isfinite(c["sei"])
    rows.flag(used_sei & (c["sei"] <= 0), "sei must be positive")
    rows.flag(vi <= 0, "vi must be positive")
    return c["yi"], vi, []


@dataclass(frozen=True)
class _Options:
    """escalc's options that some measure families use."""

    add: float
    to: str
    drop00: bool


Compute = Callable[[str, dict[str, Array], _Rows, _Options], tuple[Array, Array, list[str]]]


@dataclass(frozen=True)
class Measure:
    """One effect measure (metafor ``escalc`` name) and everything the package knows of it.

    Attributes
    ----------
    name : str
        metafor's name (``"OR"``, ``"SMD"``, ...).
    description : str
        What ``yi`` is, in words.
    columns : tuple of str
        Columns the measure needs (alternatives separated by ``|``).
    compute : callable
        ``(name, columns, rows, options) -> (yi, vi, notes)``; flags rows it cannot compute.
    scale : str
        Scale ``yi`` is on: ``"log"``, ``"logit"``, ``"fisher-z"`` or ``"identity"``.
    back_transform : str or None
        Name of the back-transform to the natural scale in
        :data:`evidence.stats.transforms.TRANSFORMS` (``None``: already natural), as
        metafor ``predict(res, transf = ...)`` would be asked for.
    """

    name: str
    description: str
    columns: tuple[str, ...]
    compute: Compute
    scale: str
    back_transform: str | None


def _table(name: str, c: dict[str, Array], rows: _Rows, o: _Options) -> tuple[Array, Array, list]:
    return _two_by_two(name, c, rows, o.add, o.to, o.drop00)


def _groups(name: str, c: dict[str, Array], rows: _Rows, o: _Options) -> tuple[Array, Array, list]:
    return _means(name, c, rows)


def _r(name: str, c: dict[str, Array], rows: _Rows, o: _Options) -> tuple[Array, Array, list]:
    return _correlation(name, c, rows)


def _events(name: str, c: dict[str, Array], rows: _Rows, o: _Options) -> tuple[Array, Array, list]:
    return _proportion(name, c, rows, o.add, o.to)


def _counts(name: str, c: dict[str, Array], rows: _Rows, o: _Options) -> tuple[Array, Array, list]:
    return _rates(name, c, rows, o.add, o.to, o.drop00)


def _change(name: str, c: dict[str, Array], rows: _Rows, o: _Options) -> tuple[Array, Array, list]:
    yi, vi = _mean_change(name, c, rows)
    return yi, vi, []


def _as_given(
    name: str, c: dict[str, Array], rows: _Rows, o: _Options
) -> tuple[Array, Array, list]:
    return _given(c, rows)


_TABLE = ("ai", "bi|n1i", "ci", "di|n2i")
_GROUPS = ("m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i")

#: Every effect measure, by metafor name, in the order ``--measure`` lists them. Add a
#: measure by adding one :class:`Measure` here (and its test against metafor).
MEASURE_REGISTRY: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("OR", "log odds ratio", _TABLE, _table, "log", "exp"),
        Measure("RR", "log risk ratio", _TABLE, _table, "log", "exp"),
        Measure("RD", "risk difference", _TABLE, _table, "identity", None),
        Measure("MD", "mean difference", _GROUPS, _groups, "identity", None),
        Measure(
            "SMD", "standardised mean difference (Hedges' g)", _GROUPS, _groups, "identity", None
        ),
        Measure("ROM", "log ratio of means", _GROUPS, _groups, "log", "exp"),
        Measure("COR", "correlation r", ("ri", "ni"), _r, "identity", None),
        Measure("ZCOR", "Fisher's z of r", ("ri", "ni"), _r, "fisher-z", "tanh"),
        Measure("PR", "proportion", ("xi", "ni"), _events, "identity", None),
        Measure("PLO", "logit of a proportion", ("xi", "ni"), _events, "logit", "ilogit"),
        Measure("IR", "incidence rate", ("xi", "ti"), _counts, "identity", None),
        Measure("IRLN", "log incidence rate", ("xi", "ti"), _counts, "log", None),
        Measure(
            "IRR", "log incidence rate ratio", ("x1i", "x2i", "t1i", "t2i"), _counts, "log", "exp"
        ),
        Measure("AS", "arcsine square-root risk difference", _TABLE, _table, "arcsine", None),
        Measure("PETO", "log odds ratio (Peto's one-step)", _TABLE, _table, "log", "exp"),
        Measure("PHI", "phi coefficient", _TABLE, _table, "identity", None),
        Measure("MPRD", "risk difference, paired", _TABLE, _table, "identity", None),
        Measure("MPRR", "log risk ratio, paired", _TABLE, _table, "log", "exp"),
        Measure("MPOR", "log odds ratio, paired (marginal)", _TABLE, _table, "log", "exp"),
        Measure("MPORC", "log odds ratio, paired (conditional)", _TABLE, _table, "log", "exp"),
        Measure("MPPETO", "log odds ratio, paired (Peto)", _TABLE, _table, "log", "exp"),
        Measure("RPB", "point-biserial correlation", _GROUPS, _groups, "identity", None),
        Measure("RBIS", "biserial correlation", _GROUPS, _groups, "identity", None),
        Measure("UCOR", "bias-corrected correlation", ("ri", "ni"), _r, "identity", None),
        Measure(
            "PFT",
            "Freeman-Tukey double arcsine of a proportion",
            ("xi", "ni"),
            _events,
            "arcsine",
            "ipft.hm",
        ),
        Measure(
            "IRD",
            "incidence rate difference",
            ("x1i", "x2i", "t1i", "t2i"),
            _counts,
            "identity",
            None,
        ),
        Measure(
            "SMCR",
            "standardised mean change (raw-score standardisation)",
            ("m1i", "m2i", "sd1i", "ni", "ri"),
            _change,
            "identity",
            None,
        ),
        Measure(
            "SMCC",
            "standardised mean change (change-score standardisation)",
            ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri"),
            _change,
            "identity",
            None,
        ),
        Measure(
            "GEN", "as given (yi with vi or sei)", ("yi", "vi|sei"), _as_given, "identity", None
        ),
    )
}
MEASURES = tuple(MEASURE_REGISTRY)
#: Columns each measure needs (alternatives separated by ``|``).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    m.name: m.columns for m in MEASURE_REGISTRY.values()
}


def back_transform(measure: str | None) -> str | None:
    """Name of the back-transform of ``measure`` (None for none or an unknown measure).

    >>> back_transform("OR"), back_transform("ZCOR"), back_transform("COR")
    ('exp', 'tanh', None)
    """
    entry = MEASURE_REGISTRY.get(measure or "")
    return None if entry is None else entry.back_transform


#: Measures whose continuity correction is 0 unless one is asked for (metafor ``escalc``).
NO_CORRECTION = ("AS", "PHI", "PFT")


def escalc(
    measure: str,
    *,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
    **columns: ArrayLike,
) -> EffectSizes:
    """Compute effect sizes and sampling variances as metafor ``escalc`` does.

    Parameters
    ----------
    measure : str
        One of ``MEASURES`` (metafor names).
    add : float, optional
        Continuity correction (metafor's default: 1/2, but 0 for AS, PHI and PFT).
    to : {"only0", "all", "if0all", "none"}
        Which rows receive ``add`` (default: rows with a zero cell).
    drop00 : bool
        Drop 2x2 studies with no events (or only events) in both groups.
    **columns : array_like
        metafor column names (see :data:`REQUIRED_COLUMNS`).

    Returns
    -------
    EffectSizes
        Formulas per measure are in the helper docstrings; references: metafor
        ``escalc`` documentation; Borenstein et al. (2009) Introduction to
        Meta-Analysis, chs. 4-6; Hedges (1981).
    """
    name = measure.upper() if measure.upper() in MEASURES else measure
    if name not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")
    if to not in ("only0", "all", "if0all", "none"):
        raise ValueError(f"unknown to={to!r}; expected only0, all, if0all or none")
    lengths = {np.size(v) for v in columns.values() if v is not None}
    k = max(lengths) if lengths else 0
    all_names = {n for spec in REQUIRED_COLUMNS.values() for alt in spec for n in alt.split("|")}
    data = _Columns({n: v for n, v in columns.items() if n in all_names}, k)
    rows = _Rows(k)
    if add is None:
        add = 0.0 if name in NO_CORRECTION else 0.5
    yi, vi, notes = MEASURE_REGISTRY[name].compute(name, data, rows, _Options(add, to, drop00))
    rows.flag(~(np.isfinite(yi) & np.isfinite(vi)), "the effect size is not finite")
    bad = rows.bad
    return EffectSizes(
        measure=name,
        yi=np.where(bad, np.nan, yi),
        vi=np.where(bad, np.nan, vi),
        reasons=tuple(rows.reasons),
        notes=tuple(notes),
    )
