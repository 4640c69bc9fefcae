"""Confidence intervals for tau^2 of any rma.uni model, and the Henmi-Copas interval.

The Q-profile bounds are those of :func:`evidence.stats.heterogeneity.q_profile_intervals`
(the one Q-profile solver, used by the pooled results too); this module adds the other
interval types and the notes.

Public API
----------
``confint_tau2(fit, method="QP") -> Tau2Interval``
    metafor ``confint.rma.uni`` for the (residual) tau^2 of a fitted model
    (:func:`evidence.stats.uni.fit_uni`, with or without moderators), with the tau, I2
    and H2 bounds it implies:

    - ``"QP"``, Q-profile (Viechtbauer 2007): ``y'P(tau2)y`` equals the chi2(k - p)
      quantiles ``1 - alpha/2`` (lower bound) and ``alpha/2`` (upper bound);
    - ``"PL"``, profile likelihood (Hardy & Thompson 1996): the bounds where
      ``-2 (ll(tau2) - ll(tau2_hat)) = chi2_1(1 - alpha)``, with the ML or REML
      log-likelihood the model was fitted with;
    - ``"GENQ"``, generalised Q (Jackson 2013; Jackson et al. 2014): for a model fitted
      with ``method="GENQ"`` and weights ``a``, ``Q_a = y'P_a y`` is distributed as
      ``sum lambda_j chi2_1`` with ``lambda`` the non-zero eigenvalues of
      ``S P_a S``, ``S = diag(sqrt(vi + tau2))``; its exact tail probability (Imhof 1961,
      by numerical integration) equals ``alpha/2`` at the bounds;
    - ``"Wald"``: ``tau2 +/- z se(tau2)`` with the lower bound truncated at 0, as metafor
      ``confint(type = "Wald")`` (Viechtbauer 2007 prints the untruncated bound);
      ``"Wald-log"``: ``exp(log tau2 +/- z se(tau2)/tau2)`` (Jackson et al. 2014), and
      ``"Wald-sqrt"``: ``(max(0, tau -/+ z se(tau2)/(2 tau)))^2`` (metafor ``Wald.sqrt``);
    - ``"SJ"``, Sidik-Jonkman: ``(k - p) tau2/chi2_{k-p}(1 - alpha/2, alpha/2)`` for an SJ fit.

    As metafor, bounds are searched on ``[0, max(100, 10 tau2)]``; a bound beyond is
    reported as that limit with a note, and one at 0 as 0.
``biggerstaff_tweedie(yi, vi, level=95) -> Tau2Interval``
    The Biggerstaff & Tweedie (1997) interval around the DerSimonian-Laird estimate:
    Q's distribution approximated by a gamma with ``E Q = (k-1) + s1 tau2`` and
    ``Var Q = 2 (k-1) + 4 s1 tau2 + 2 s2 tau2^2`` (``s1 = sum w - sum w^2/sum w``,
    ``s2 = sum w^2 - 2 sum w^3/sum w + (sum w^2)^2/(sum w)^2``), whose upper and lower
    ``alpha/2`` tails at the observed Q give the bounds (as in metafor's
    viechtbauer2007a example).
``henmi_copas(yi, vi, level=95) -> HenmiCopas``
    Henmi & Copas (2010) confidence interval: the common-effect estimate with a standard
    error under the random-effects model (DL tau2) and a critical value from the
    approximate distribution of ``(b - mu)/se`` given Q (metafor ``hc.rma.uni``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, optimize, stats

from evidence.stats.batch import make_batch
from evidence.stats.errors import InputError
from evidence.stats.heterogeneity import q_profile_intervals
from evidence.stats.uni import UniFit, fit_uni, log_likelihood_at, projection

__all__ = [
    "INTERVAL_METHODS",
    "HenmiCopas",
    "Tau2Interval",
    "biggerstaff_tweedie",
    "confint_tau2",
    "henmi_copas",
    "q_tail_probability",
]

FloatArray = NDArray[np.float64]
INTERVAL_METHODS = ("QP", "PL", "GENQ", "Wald", "Wald-log", "Wald-sqrt", "SJ")
#: Root-finding tolerance (metafor's uniroot default is .Machine$double.eps^0.25; the
#: fixtures are written with a tighter one so that both sides are at the root).
ROOT_TOLERANCE = 1e-13


@dataclass(frozen=True)
class Tau2Interval:
    """A confidence interval for tau^2 and the tau, I2 (percent) and H2 bounds it implies."""

    method: str
    level: float
    tau2: float
    lower: float
    upper: float
    tau: tuple[float, float] | None = None
    i2: tuple[float, float] | None = None
    h2: tuple[float, float] | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready keys (None for an undefined bound)."""

        def number(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        def pair(values: tuple[float, float] | None) -> list[float | None] | None:
            return None if values is None else [number(values[0]), number(values[1])]

        return {
            "method": self.method,
            "level": self.level,
            "tau2": number(self.tau2),
            "tau2_ci": [number(self.lower), number(self.upper)],
            "tau_ci": pair(self.tau),
            "i2_ci": pair(self.i2),
            "h2_ci": pair(self.h2),
            "notes": list(self.notes),
        }


def _with_bounds(
    fit: UniFit, method: str, lower: float, upper: float, notes: list[str]
) -> Tau2Interval:
    vt = fit.typical_variance

    def derived(function: Callable[[float], float]) -> tuple[float, float]:
        return (function(lower), function(upper))

    sqrt = derived(lambda t: math.sqrt(t) if t >= 0 else math.nan)
    return Tau2Interval(
        method=method,
        level=fit.level,
        tau2=fit.tau2,
        lower=lower,
        upper=upper,
        tau=sqrt,
        i2=derived(lambda t: 100 * t / (vt + t)),
        h2=derived(lambda t: t / vt + 1),
        notes=tuple(notes),
    )


def _root(function: Callable[[float], float], low: float, high: float) -> float:
    return float(
        optimize.brentq(function, low, high, xtol=ROOT_TOLERANCE, rtol=1e-15, maxiter=1000)
    )


def _q_profile(fit: UniFit) -> tuple[float, float, list[str]]:
    """Q-profile bounds (metafor ``confint(type = "QP")``) with their notes.

    The bounds come from the one Q-profile solver,
    :func:`evidence.stats.heterogeneity.q_profile_intervals` (with the model's design).
    """
    batch = make_batch(fit.yi, fit.vi, design=fit.design)
    intervals = q_profile_intervals(
        batch, np.array([fit.tau2]), np.array([fit.typical_variance]), fit.level
    )
    lower, upper = (float(x) for x in intervals.tau2[0])
    limit = max(100.0, 10 * fit.tau2)
    notes: list[str] = []
    if upper == 0.0:
        notes.append("Q(0) is below both chi-square quantiles: the interval is {0}")
    elif lower >= limit:
        notes.append(f"both bounds lie beyond the search limit {limit:g}")
    elif upper >= limit:
        notes.append(f"the upper bound lies beyond the search limit {limit:g}")
    return lower, upper, notes


def _profile_likelihood(fit: UniFit) -> tuple[float, float, list[str]]:
    """Profile-likelihood bounds (metafor ``confint(type = "PL")`` for ``rma.uni``)."""
    if fit.method not in ("ML", "REML"):
        raise InputError(
            "profile-likelihood intervals need a model fitted by ML or REML", "confint-method"
        )
    crit = float(stats.chi2.ppf(fit.level, 1))
    best = log_likelihood_at(fit, fit.tau2)

    def excess(tau2: float) -> float:
        return -2 * (log_likelihood_at(fit, tau2) - best) - crit

    limit = max(100.0, 10 * fit.tau2)
    notes: list[str] = []
    lower = 0.0 if excess(0.0) < 0 else _root(excess, 0.0, fit.tau2)
    if excess(limit) < 0:
        upper = limit
        notes.append(f"the upper bound lies beyond the search limit {limit:g}")
    else:
        upper = _root(excess, fit.tau2, limit)
    return lower, upper, notes


def q_tail_probability(q: float, weights: ArrayLike) -> float:
    """``P(sum_j lambda_j chi2_1 > q)`` for positive ``lambda`` (Imhof 1961).

    ``1/2 + 1/pi int_0^inf sin(theta(u))/(u rho(u)) du`` with
    ``theta(u) = 1/2 sum atan(lambda_j u) - q u/2`` and
    ``rho(u) = prod (1 + lambda_j^2 u^2)^(1/4)``.
    """
    lam = np.asarray(weights, dtype=float)

    def integrand(u: float) -> float:
        if u == 0:
            return 0.5 * (float(np.sum(lam)) - q)
        theta = 0.5 * float(np.sum(np.arctan(lam * u))) - 0.5 * q * u
        rho = float(np.exp(0.25 * np.sum(np.log1p((lam * u) ** 2))))
        return math.sin(theta) / (u * rho)

    with warnings.catch_warnings():
        # Roundoff in the oscillating tail bounds the accuracy at about 1e-10, far below
        # the 1e-6 the bounds are compared at; quad warns of it.
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value, _ = integrate.quad(integrand, 0, np.inf, limit=1000, epsabs=1e-12, epsrel=1e-10)
    return min(1.0, max(0.0, 0.5 + value / math.pi))


def _generalised_q(fit: UniFit) -> tuple[float, float, list[str]]:
    """Generalised-Q bounds (Jackson et al. 2014; metafor ``confint(type = "GENQ")``)."""
    if fit.method != "GENQ" or fit.weights is None:
        raise InputError(
            "generalised Q intervals need a model fitted with method GENQ and weights",
            "confint-method",
        )
    alpha = 1 - fit.level
    y, v, xm = fit.yi, fit.vi, fit.design
    proj = projection(xm, fit.weights)
    q = float(y @ proj @ y)
    df = fit.k - fit.p

    def upper_tail(tau2: float) -> float:
        s = np.sqrt(v + tau2)
        lam = np.sort(np.linalg.eigvalsh(s[:, None] * proj * s[None, :]))[::-1][:df]
        return q_tail_probability(q, lam)

    limit = max(100.0, 10 * fit.tau2)
    notes: list[str] = []
    at_zero, at_limit = upper_tail(0.0), upper_tail(limit)
    if at_zero > 1 - alpha / 2:
        return 0.0, 0.0, ["the interval is {0}: Q is small even without heterogeneity"]
    if at_limit < 1 - alpha / 2:
        upper = limit
        notes.append(f"the upper bound lies beyond the search limit {limit:g}")
    else:
        upper = _root(lambda t: (1 - upper_tail(t)) - alpha / 2, 0.0, limit)
    if at_limit < alpha / 2:
        return limit, limit, [f"both bounds lie beyond the search limit {limit:g}"]
    lower = 0.0 if at_zero > alpha / 2 else _root(lambda t: upper_tail(t) - alpha / 2, 0.0, limit)
    return lower, upper, notes


def _wald(tau2: float, se: float, z: float, method: str) -> tuple[float, float]:
    """Return Wald-type bounds for tau^2 on its own, the log or the square-root scale.

    metafor ``confint.rma.uni`` types ``Wald``, ``Wald.log`` and ``Wald.sqrt``.
    """
    if method == "Wald":
        return max(0.0, tau2 - z * se), tau2 + z * se
    if method == "Wald-log":
        spread = z * se / tau2
        return tau2 * math.exp(-spread), tau2 * math.exp(spread)
    tau = math.sqrt(tau2)
    spread = z * se / (2 * tau)
    return max(0.0, tau - spread) ** 2, (tau + spread) ** 2


def confint_tau2(fit: UniFit, method: str = "QP") -> Tau2Interval:
    """Confidence interval for the (residual) tau^2 of ``fit`` (see the module docstring)."""
    if not fit.random or fit.tau2_fixed:
        raise InputError("the model has no estimated tau2 to give an interval for", "confint-fe")
    z = float(stats.norm.ppf(1 - (1 - fit.level) / 2))
    if method in ("Wald", "Wald-log", "Wald-sqrt"):
        if fit.se_tau2 is None:
            raise InputError(f"no standard error of tau2 under {fit.method}", "confint-method")
        if method != "Wald" and not fit.tau2 > 0:
            raise InputError(
                f"the {method} interval is undefined at tau2 = 0 (use Wald, QP or PL)",
                "confint-method",
            )
        lower, upper = _wald(fit.tau2, fit.se_tau2, z, method)
        return _with_bounds(fit, method, lower, upper, [])
    if method == "SJ":
        if fit.method != "SJ":
            raise InputError("Sidik-Jonkman intervals need an SJ fit", "confint-method")
        df = fit.k - fit.p
        alpha = 1 - fit.level
        lower = df * fit.tau2 / stats.chi2.ppf(1 - alpha / 2, df)
        upper = df * fit.tau2 / stats.chi2.ppf(alpha / 2, df)
        return _with_bounds(fit, method, lower, upper, [])
    solvers = {"QP": _q_profile, "PL": _profile_likelihood, "GENQ": _generalised_q}
    if method not in solvers:
        raise InputError(
            f"unknown interval method {method!r}; expected one of {', '.join(INTERVAL_METHODS)}",
            "confint-method",
        )
    lower, upper, notes = solvers[method](fit)
    return _with_bounds(fit, method, lower, upper, notes)


def biggerstaff_tweedie(yi: ArrayLike, vi: ArrayLike, level: float = 95) -> Tau2Interval:
    """Biggerstaff-Tweedie interval for tau^2 around the DL estimate (module docstring)."""
    fit = fit_uni(yi, vi, method="DL", level=level)
    w = 1 / fit.vi
    s1 = np.sum(w) - np.sum(w**2) / np.sum(w)
    s2 = np.sum(w**2) - 2 * np.sum(w**3) / np.sum(w) + np.sum(w**2) ** 2 / np.sum(w) ** 2
    k, q, alpha = fit.k, fit.qe, 1 - fit.level

    def tail(tau2: float, upper: bool) -> float:
        mean = (k - 1) + s1 * tau2
        var = 2 * (k - 1) + 4 * s1 * tau2 + 2 * s2 * tau2**2
        shape, scale = mean**2 / var, var / mean
        distribution = stats.gamma(shape, scale=scale)
        return float(distribution.sf(q) if upper else distribution.cdf(q)) - alpha / 2

    def bound(upper: bool) -> float:
        # Lower bound: P(Q >= q) rises with tau2; upper bound: P(Q <= q) falls.
        sign = 1.0 if upper else -1.0
        if sign * tail(0.0, upper) > 0:
            return 0.0
        high = 10.0
        while sign * tail(high, upper) < 0 and high < 1e12:
            high *= 10
        return _root(lambda t: tail(t, upper), 0.0, high)

    return _with_bounds(fit, "BT", bound(True), bound(False), [])


@dataclass(frozen=True)
class HenmiCopas:
    """Henmi-Copas estimate, se and CI beside the DL random-effects ones."""

    estimate: float
    se: float
    ci: tuple[float, float]
    tau2: float
    estimate_re: float
    se_re: float
    ci_re: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready keys."""
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci": list(self.ci),
            "tau2": self.tau2,
            "estimate_re": self.estimate_re,
            "se_re": self.se_re,
            "ci_re": list(self.ci_re),
        }


def henmi_copas(yi: ArrayLike, vi: ArrayLike, level: float = 95) -> HenmiCopas:
    """Henmi & Copas (2010, Stat Med 29, 2969-2983) interval (metafor ``hc.rma.uni``).

    With ``W_j = sum w^j / sum w`` (``W1 = sum w``), ``b = sum w y/W1``, DL ``tau2``,
    ``se = sqrt((tau2 W2 + 1)/W1)``, the half-width is ``u0 se`` where ``u0 = sqrt(1 +
    tau2 W2) t0`` and ``t0`` solves ``int_t0^inf G(f^-1(r/t0); r) phi(r) dr = alpha/2``,
    ``G`` the gamma approximation to Q given ``r`` and ``f^-1(f) = (W1/W2 - 1)(f^2 - 1) +
    (k - 1)``.
    """
    re = fit_uni(yi, vi, method="DL", level=level)
    y, v = re.yi, re.vi
    k, alpha = re.k, 1 - re.level
    w = 1 / v
    w1 = float(np.sum(w))
    w2, w3, w4 = (float(np.sum(w**j)) / w1 for j in (2, 3, 4))
    beta = float(np.sum(w * y)) / w1
    q = float(np.sum(w * (y - beta) ** 2))
    tau2 = max(0.0, (q - (k - 1)) / (w1 - w2))
    se = math.sqrt((tau2 * w2 + 1) / w1)
    vr = 1 + tau2 * w2
    sdr = math.sqrt(vr)

    def mean_q(r: float) -> float:
        return (k - 1) + tau2 * (w1 - w2) + tau2**2 * (r * r / vr**2 - 1 / vr) * (w3 - w2**2)

    def var_q(r: float) -> float:
        rsq, inv2 = r * r, 1 / vr**2
        return (
            2 * (k - 1)
            + 4 * tau2 * (w1 - w2)
            + 2 * tau2**2 * (w1 * w2 - 2 * w3 + w2**2)
            + 4 * tau2**2 * (inv2 * rsq - 1 / vr) * (w3 - w2**2)
            + 4 * tau2**3 * (inv2 * rsq - 1 / vr) * (w4 - 2 * w2 * w3 + w2**3)
            + 2 * tau2**4 * (inv2 - 2 * rsq / vr**3) * (w3 - w2**2) ** 2
        )

    def equation(t: float) -> float:
        def integrand(r: float) -> float:
            m, s2 = mean_q(sdr * r), var_q(sdr * r)
            f = (w1 / w2 - 1) * ((r / t) ** 2 - 1) + (k - 1)
            return float(stats.gamma.cdf(f, m * m / s2, scale=s2 / m) * stats.norm.pdf(r))

        value, _ = integrate.quad(integrand, t, np.inf, epsabs=1e-13, epsrel=1e-11, limit=200)
        return value - alpha / 2

    t0 = _root(equation, 1e-8, 2.0)
    u0 = sdr * t0
    return HenmiCopas(
        estimate=beta,
        se=se,
        ci=(beta - u0 * se, beta + u0 * se),
        tau2=tau2,
        estimate_re=float(re.beta[0]),
        se_re=float(re.se[0]),
        ci_re=(float(re.ci_lower[0]), float(re.ci_upper[0])),
    )
