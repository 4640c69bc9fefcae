"""Effect sizes from what papers report: ratios with CIs, p-values, t/F, conversions.

Every function is vectorised (scalars or arrays) and returns plain floats/arrays.

- :func:`log_ratio_from_ci`: ratio with CI -> ``log(ratio)``, ``SE = (ln hi - ln lo)/(2 z)``;
- :func:`se_from_ci`: estimate on any additive scale with CI -> SE;
- :func:`se_from_p`: estimate with two-sided p -> ``SE = |est| / z_{1 - p/2}``;
- :func:`d_from_t`, :func:`d_from_f`: t or F (1 numerator df) with group sizes -> Cohen's d
  and its variance;
- :func:`log_odds_ratio_to_smd`: the logit method (Hasselblad & Hedges 1995), factor
  ``sqrt(3)/pi``;
- :func:`r_to_d`: correlation -> standardised mean difference;
- :func:`z_critical`: the two-sided normal critical value of a confidence level.

:mod:`evidence.effects.conversions` calls these for one recorded statistic.

Reference for the formulas: Borenstein, Hedges, Higgins & Rothstein (2009),
Introduction to Meta-Analysis, chapters 4-7; Altman & Bland (2011), BMJ 343:d2090
(SE from a p-value).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # ndtri is the normal quantile (scipy.stats.norm.ppf)

Array = NDArray[np.float64]


def z_critical(level: float) -> float:
    r"""Return the two-sided normal critical value :math:`z_{(1+\text{level})/2}`.

    ``level`` as a fraction (0.95) or a percentage (95).

    Examples
    --------
    >>> round(z_critical(0.95), 6), z_critical(95) == z_critical(0.95)
    (1.959964, True)
    """
    level = level / 100 if level > 1 else level
    return float(special.ndtri(0.5 + level / 2))


def log_ratio_from_ci(
    ratio: ArrayLike, lower: ArrayLike, upper: ArrayLike, level: float = 0.95
) -> tuple[Array, Array]:
    """Return ``(log(ratio), SE)`` with ``SE = (ln(upper) - ln(lower)) / (2 z_{1-a/2})``.

    Borenstein et al. (2009), ch. 5 (eq. 5.5 and following); the CI is assumed
    symmetric on the log scale.
    """
    log_lower, log_upper = np.log(np.asarray(lower, float)), np.log(np.asarray(upper, float))
    return np.log(np.asarray(ratio, float)), (log_upper - log_lower) / (2 * z_critical(level))


def se_from_ci(lower: ArrayLike, upper: ArrayLike, level: float = 0.95) -> Array:
    """``SE = (upper - lower) / (2 z_{1-a/2})`` for a CI symmetric on the analysis scale."""
    return (np.asarray(upper, float) - np.asarray(lower, float)) / (2 * z_critical(level))


def se_from_p(estimate: ArrayLike, p: ArrayLike) -> Array:
    """``SE = |estimate| / z_{1 - p/2}`` from a two-sided Wald p-value (Altman & Bland 2011).

    ``estimate`` must be on the scale the test was done on (e.g. log HR).
    """
    upper = -special.ndtri(np.asarray(p, float) / 2) + 0.0  # norm.isf(p/2), with +0 at p = 1
    return np.abs(np.asarray(estimate, float)) / upper


def d_from_t(t: ArrayLike, n1: ArrayLike, n2: ArrayLike) -> tuple[Array, Array]:
    """Cohen's d from an independent-groups t: ``d = t sqrt(1/n1 + 1/n2)``.

    ``Var(d) = (n1 + n2)/(n1 n2) + d^2/(2 (n1 + n2))`` (Borenstein et al. 2009, eq. 4.20).
    """
    n1, n2 = np.asarray(n1, float), np.asarray(n2, float)
    d = np.asarray(t, float) * np.sqrt(1 / n1 + 1 / n2)
    return d, (n1 + n2) / (n1 * n2) + d**2 / (2 * (n1 + n2))


def d_from_f(
    f: ArrayLike, n1: ArrayLike, n2: ArrayLike, sign: ArrayLike = 1
) -> tuple[Array, Array]:
    """Cohen's d from a two-group F (1 numerator df): ``|d| = sqrt(F (1/n1 + 1/n2))``.

    F has no sign; give ``sign`` (+1/-1) from the reported direction. Variance as
    :func:`d_from_t` (``t^2 = F``).
    """
    t = np.sign(np.asarray(sign, float)) * np.sqrt(np.asarray(f, float))
    return d_from_t(t, n1, n2)


def log_odds_ratio_to_smd(log_or: ArrayLike, variance: ArrayLike) -> tuple[Array, Array]:
    """Logit method: ``d = log(OR) sqrt(3)/pi``, ``Var(d) = Var(log OR) 3/pi^2``.

    Hasselblad & Hedges (1995), Psychol Bull 117, 167-178; Borenstein et al. (2009), ch. 7.
    """
    factor = math.sqrt(3) / math.pi
    return np.asarray(log_or, float) * factor, np.asarray(variance, float) * factor**2


def r_to_d(r: ArrayLike, variance: ArrayLike) -> tuple[Array, Array]:
    """``d = 2r/sqrt(1 - r^2)``, ``Var(d) = 4 Var(r)/(1 - r^2)^3`` (Borenstein 2009, eq. 7.5)."""
    r = np.asarray(r, float)
    return 2 * r / np.sqrt(1 - r**2), 4 * np.asarray(variance, float) / (1 - r**2) ** 3
