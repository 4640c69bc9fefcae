"""Small-study effects and publication bias, as R metafor 3.8 computes them.

``egger`` (metafor ``regtest``), ``begg`` (``ranktest``), ``trimfill`` (``trimfill``, L0
and R0 estimators), ``failsafe_n`` (``fsn``: Rosenthal and Orwin) and ``pet_peese``
(Stanley & Doucouliagos 2014). Every result is a frozen dataclass whose ``to_dict()``
gives the JSON keys of DESIGN.md: ``egger`` {statistic, p, limit_estimate, limit_ci},
``begg`` {tau, p}, ``trimfill`` {k0, side, estimate, ci}, ``failsafe_n`` {rosenthal,
orwin}. With fewer than ``MIN_STUDIES`` studies the tests still run, but the result carries
``underpowered: true`` and a message saying why it should not be relied on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.errors import EvidenceError
from evidence.pooling import check_inputs, fit_batch
from evidence.results import finite, finite_interval

#: Below this many studies the tests have little power (Sterne et al. 2011, BMJ 343:d4002).
MIN_STUDIES = 10
#: Trim-and-fill iteration limit (metafor's ``maxiter``).
MAX_TRIMFILL_ITERATIONS = 100

Array = NDArray[np.float64]


def _power_note(k: int) -> tuple[bool, str | None]:
    if k >= MIN_STUDIES:
        return False, None
    return True, (
        f"only {k} studies: tests for funnel-plot asymmetry have too little power "
        f"below {MIN_STUDIES} studies to tell chance from small-study effects"
    )


@dataclass(frozen=True)
class EggerResult:
    """Regression test for funnel-plot asymmetry with its limit estimate (as ``sei -> 0``)."""

    statistic: float
    p: float
    df: float | None
    limit_estimate: float
    limit_ci: tuple[float, float]
    k: int
    underpowered: bool
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{statistic, p, limit_estimate, limit_ci}`` plus df, k and the power note."""
        return {
            "statistic": finite(self.statistic),
            "p": finite(self.p),
            "df": finite(self.df),
            "limit_estimate": finite(self.limit_estimate),
            "limit_ci": finite_interval(self.limit_ci),
            "k": self.k,
            "underpowered": self.underpowered,
            "message": self.message,
        }


@dataclass(frozen=True)
class BeggResult:
    """Rank correlation between standardised effects and their variances."""

    tau: float
    p: float
    exact: bool
    k: int
    underpowered: bool
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{tau, p}`` plus whether the p-value is exact, k and the power note."""
        return {
            "tau": finite(self.tau),
            "p": finite(self.p),
            "exact": self.exact,
            "k": self.k,
            "underpowered": self.underpowered,
            "message": self.message,
        }


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill: number of imputed studies, their side, and the filled-in estimate."""

    k0: int
    side: str
    estimator: str
    estimate: float
    se: float
    ci: tuple[float, float]
    tau2: float
    filled_yi: tuple[float, ...]
    filled_vi: tuple[float, ...]
    k: int
    underpowered: bool
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{k0, side, estimate, ci}`` plus se, tau2, the filled studies and the note."""
        return {
            "k0": self.k0,
            "side": self.side,
            "estimator": self.estimator,
            "estimate": finite(self.estimate),
            "se": finite(self.se),
            "ci": finite_interval(self.ci),
            "tau2": finite(self.tau2),
            "filled": [
                {"yi": finite(y), "vi": finite(v)}
                for y, v in zip(self.filled_yi, self.filled_vi, strict=True)
            ],
            "k": self.k,
            "underpowered": self.underpowered,
            "message": self.message,
        }


@dataclass(frozen=True)
class FailSafeResult:
    """Fail-safe N: Rosenthal's (Stouffer) and Orwin's."""

    rosenthal: int
    orwin: float
    orwin_target: float
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        """``{rosenthal, orwin}`` plus Orwin's target and Rosenthal's alpha."""
        return {
            "rosenthal": self.rosenthal,
            "orwin": self.orwin if isinstance(self.orwin, int) else finite(self.orwin),
            "orwin_target": finite(self.orwin_target),
            "alpha": self.alpha,
        }


@dataclass(frozen=True)
class WlsFit:
    """Intercept of a weighted least-squares meta-regression with multiplicative error."""

    intercept: float
    se: float
    statistic: float
    p: float
    ci: tuple[float, float]
    df: int

    def to_dict(self) -> dict[str, Any]:
        """``{estimate, se, statistic, p, ci, df}``."""
        return {
            "estimate": finite(self.intercept),
            "se": finite(self.se),
            "statistic": finite(self.statistic),
            "p": finite(self.p),
            "ci": finite_interval(self.ci),
            "df": self.df,
        }


@dataclass(frozen=True)
class PetPeeseResult:
    """PET and PEESE fits and the conditional choice between them."""

    pet: WlsFit
    peese: WlsFit
    chosen: str
    alpha: float
    k: int
    underpowered: bool
    message: str | None
    rule: str = field(default="PEESE if PET's intercept has two-sided p < alpha, else PET")

    def to_dict(self) -> dict[str, Any]:
        """``{chosen, estimate, ci, pet, peese, rule, ...}``."""
        chosen = self.peese if self.chosen == "PEESE" else self.pet
        return {
            "chosen": self.chosen,
            "estimate": finite(chosen.intercept),
            "ci": finite_interval(chosen.ci),
            "pet": self.pet.to_dict(),
            "peese": self.peese.to_dict(),
            "alpha": self.alpha,
            "rule": self.rule,
            "k": self.k,
            "underpowered": self.underpowered,
            "message": self.message,
        }


def _inputs(yi: ArrayLike, vi: ArrayLike, minimum: int = 3) -> tuple[Array, Array]:
    y, v, kept, _ = check_inputs(yi, vi, None, None, False)
    y, v = y[kept], v[kept]
    if y.size < minimum:
        raise EvidenceError(f"this test needs at least {minimum} studies, got {y.size}")
    return y, v


def egger(
    yi: ArrayLike, vi: ArrayLike, *, method: str = "REML", test: str = "z", level: float = 95
) -> EggerResult:
    """Egger's regression test as metafor ``regtest()`` (mixed-effects, SE as predictor).

    Fits ``y_i = b0 + b1 sqrt(v_i) + u_i + e_i`` (``u_i ~ N(0, tau2)`` with tau2 by
    ``method``, ``e_i ~ N(0, v_i)``); the test of asymmetry is the Wald (or Knapp-Hartung)
    test of ``b1 = 0`` and ``b0`` is the limit estimate, the effect of a study with
    ``se -> 0``, with its CI.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).
    method, test, level
        As :func:`evidence.pooling.pool`.

    Returns
    -------
    EggerResult

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by
    a simple, graphical test. BMJ 315, 629-634.
    Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias in
    meta-analysis. In: Publication Bias in Meta-Analysis, Wiley, 99-110.
    """
    y, v = _inputs(yi, vi)
    design = np.column_stack([np.ones(y.size), np.sqrt(v)])
    fit = fit_batch(y, v, design=design, method=method, test=test, level=level)
    underpowered, message = _power_note(y.size)
    return EggerResult(
        statistic=float(fit.statistic[0, 1]),
        p=float(fit.p_value[0, 1]),
        df=float(fit.df[0]) if test == "knha" else None,
        limit_estimate=float(fit.beta[0, 0]),
        limit_ci=(float(fit.ci_lower[0, 0]), float(fit.ci_upper[0, 0])),
        k=y.size,
        underpowered=underpowered,
        message=message,
    )


def begg(yi: ArrayLike, vi: ArrayLike) -> BeggResult:
    """Begg and Mazumdar's rank correlation test as metafor ``ranktest()``.

    Standardised deviates ``y*_i = (y_i - mu_FE) / sqrt(v_i - 1/sum w)`` (``w = 1/v``) are
    correlated with ``v_i`` by Kendall's tau; as R ``cor.test``, the p-value is exact when
    k < 50 and there are no ties, otherwise the normal approximation (tau-b variance).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).

    Returns
    -------
    BeggResult

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. Biometrics 50, 1088-1101.
    """
    y, v = _inputs(yi, vi)
    w = 1 / v
    mean = np.sum(w * y) / np.sum(w)
    standardised = (y - mean) / np.sqrt(v - 1 / np.sum(w))
    ties = len(np.unique(standardised)) < y.size or len(np.unique(v)) < y.size
    exact = y.size < 50 and not ties
    result = stats.kendalltau(standardised, v, method="exact" if exact else "asymptotic")
    underpowered, message = _power_note(y.size)
    return BeggResult(
        float(result.statistic), float(result.pvalue), exact, y.size, underpowered, message
    )


def _pooled_estimate(
    y: Array, v: Array, method: str, test: str = "z", level: float = 95
) -> tuple[float, float, tuple[float, float], float]:
    fit = fit_batch(y, v, method=method, test=test, level=level)
    return (
        float(fit.beta[0, 0]),
        float(fit.se[0, 0]),
        (float(fit.ci_lower[0, 0]), float(fit.ci_upper[0, 0])),
        float(fit.tau2[0]),
    )


def _missing_count(centred: Array, estimator: str) -> int:
    """L0 or R0 estimate of the number of missing studies from signed ranks."""
    k = centred.size
    ranks = np.empty(k)
    ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
    signed = np.sign(centred) * ranks
    if estimator == "R0":
        negative = signed[signed < 0]
        count = (k - np.max(-negative)) - 1 if negative.size else -math.inf
    else:
        positive_sum = np.sum(signed[signed > 0])
        count = (4 * positive_sum - k * (k + 1)) / (2 * k - 1)
    return int(max(0, round(count))) if math.isfinite(count) else 0


def trimfill(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    estimator: str = "L0",
    side: str | None = None,
    level: float = 95,
) -> TrimFillResult:
    """Duval and Tweedie's trim-and-fill as metafor ``trimfill()``.

    The side of the missing studies is chosen as metafor does: the sign of the slope in
    the regression of ``y`` on ``sqrt(v)`` (negative slope: missing on the right). On the
    side-flipped, sorted data, the ``k0`` most extreme studies are trimmed, the pooled
    estimate ``mu`` recomputed, and ``k0`` re-estimated from the signed ranks of
    ``y - mu`` (``L0 = [4 S_r - k(k+1)] / (2k - 1)``; ``R0 = k - r* - 1`` with ``r*`` the
    longest run of positive ranks) until it no longer changes. The trimmed studies are then
    mirrored about ``mu`` (``2 mu - y``) and the model is refitted to all ``k + k0``.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).
    method : str
        tau2 estimator for every fit (as the original model).
    estimator : {"L0", "R0"}
        Estimator of the number of missing studies.
    side : {"left", "right"}, optional
        Side of the missing studies; chosen from the data when omitted.
    level : float
        Confidence level of the final fit (Wald z, as metafor).

    Returns
    -------
    TrimFillResult

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing
    and adjusting for publication bias in meta-analysis. Biometrics 56, 455-463.
    Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. JASA 95, 89-98.
    """
    if estimator not in ("L0", "R0"):
        raise EvidenceError(f"unknown trim-and-fill estimator {estimator!r}; expected L0 or R0")
    if side not in (None, "left", "right"):
        raise EvidenceError(f"side must be 'left' or 'right', not {side!r}")
    y, v = _inputs(yi, vi)
    if side is None:
        design = np.column_stack([np.ones(y.size), np.sqrt(v)])
        slope = fit_batch(y, v, design=design, method=method).beta[0, 1]
        side = "right" if slope < 0 else "left"
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y, kind="stable")
    flipped, variances = sign * y[order], v[order]
    k = y.size
    k0, previous, mu = 0, -1, 0.0
    for _ in range(MAX_TRIMFILL_ITERATIONS):
        if k0 == previous:
            break
        previous = k0
        mu = _pooled_estimate(flipped[: k - k0], variances[: k - k0], method)[0]
        k0 = _missing_count(flipped - mu, estimator)
    else:
        raise EvidenceError("trim-and-fill did not converge")
    filled_y = sign * (2 * mu - flipped[k - k0 :]) if k0 else np.empty(0)
    filled_v = variances[k - k0 :] if k0 else np.empty(0)
    estimate, se, ci, tau2 = _pooled_estimate(
        np.concatenate([y, filled_y]), np.concatenate([v, filled_v]), method, level=level
    )
    underpowered, message = _power_note(k)
    return TrimFillResult(
        k0,
        side,
        estimator,
        estimate,
        se,
        ci,
        tau2,
        tuple(float(x) for x in filled_y),
        tuple(float(x) for x in filled_v),
        k,
        underpowered,
        message,
    )


def failsafe_n(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    alpha: float = 0.05,
    target: float | None = None,
    weighted: bool = False,
) -> FailSafeResult:
    """Rosenthal's and Orwin's fail-safe N as metafor ``fsn()``.

    Rosenthal (Stouffer): ``N = max(0, k (z_bar / z_alpha)^2 - k)`` with
    ``z_bar = |sum y_i/sqrt(v_i)| / sqrt(k)`` and ``z_alpha`` the one-sided normal quantile,
    the number of null studies that would make the combined one-sided p exceed alpha.
    Orwin: ``N = max(0, k (m - target) / target)`` with ``m`` the (unweighted, or
    inverse-variance weighted) mean effect and ``target`` half of ``m`` unless given; the
    number of null studies that would bring the mean down to the target. Both rounded up
    as metafor does.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    alpha : float
        One-sided significance level for Rosenthal's N.
    target : float, optional
        Orwin's target mean effect (default: half the observed mean).
    weighted : bool
        Use the inverse-variance weighted mean for Orwin's N.

    Returns
    -------
    FailSafeResult

    References
    ----------
    Rosenthal R (1979). The "file drawer problem" and tolerance for null results.
    Psychological Bulletin 86, 638-641.
    Orwin RG (1983). A fail-safe N for effect size in meta-analysis. Journal of
    Educational Statistics 8, 157-159.
    """
    y, v = _inputs(yi, vi, minimum=1)
    k = y.size
    z_bar = abs(np.sum(y / np.sqrt(v)) / math.sqrt(k))
    rosenthal = max(0.0, k * (z_bar / stats.norm.isf(alpha)) ** 2 - k)
    mean = float(np.sum(y / v) / np.sum(1 / v)) if weighted else float(np.mean(y))
    goal = mean / 2 if target is None else float(target)
    if goal == 0:
        orwin = math.inf
    else:
        goal = abs(goal) * (1 if mean >= 0 else -1)
        orwin = max(0.0, k * (mean - goal) / goal)
    return FailSafeResult(_round_up(rosenthal), _round_up(orwin), goal, alpha)


def _round_up(value: float) -> Any:
    if math.isinf(value):
        return value
    if abs(value - round(value)) >= math.sqrt(np.finfo(float).eps):
        return math.ceil(value)
    return round(value)


def _wls_intercept(y: Array, v: Array, predictor: Array, level: float) -> WlsFit:
    """Intercept of ``lm(y ~ predictor, weights = 1/v)`` (residual-variance scaled)."""
    design = np.column_stack([np.ones(y.size), predictor])
    w = 1 / v
    inverse = np.linalg.inv(design.T @ (w[:, None] * design))
    beta = inverse @ design.T @ (w * y)
    df = y.size - 2
    sigma2 = float(np.sum(w * (y - design @ beta) ** 2) / df)
    se = math.sqrt(sigma2 * inverse[0, 0])
    statistic = float(beta[0]) / se
    crit = stats.t.isf((1 - level) / 2, df)
    return WlsFit(
        float(beta[0]),
        se,
        statistic,
        float(2 * stats.t.sf(abs(statistic), df)),
        (float(beta[0]) - crit * se, float(beta[0]) + crit * se),
        df,
    )


def pet_peese(
    yi: ArrayLike, vi: ArrayLike, *, alpha: float = 0.10, level: float = 95
) -> PetPeeseResult:
    """PET-PEESE: precision-effect test and precision-effect estimate with standard error.

    PET is the weighted least-squares regression ``y_i = b0 + b1 se_i`` and PEESE
    ``y_i = b0 + b1 v_i``, both with weights ``1/v_i`` and a multiplicative error variance
    (R ``lm(yi ~ sei, weights = 1/vi)``); ``b0`` estimates the effect of a study with
    ``se -> 0``, with a t test on ``k - 2`` df. Conditional rule (Stanley & Doucouliagos
    2014): if PET rejects ``b0 = 0`` there is a genuine effect and PEESE's ``b0`` is
    reported, otherwise PET's. We reject when PET's two-sided p < ``alpha`` (default 0.10,
    i.e. a one-sided 5% test in the direction of the estimate).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).
    alpha : float
        Two-sided level of PET's test of ``b0 = 0``.
    level : float
        Confidence level of the intervals (95 or 0.95).

    Returns
    -------
    PetPeeseResult

    References
    ----------
    Stanley TD, Doucouliagos H (2014). Meta-regression approximations to reduce
    publication selection bias. Research Synthesis Methods 5, 60-78.
    """
    y, v = _inputs(yi, vi)
    fraction = level / 100 if level > 1 else level
    pet = _wls_intercept(y, v, np.sqrt(v), fraction)
    peese = _wls_intercept(y, v, v, fraction)
    chosen = "PEESE" if pet.p < alpha else "PET"
    underpowered, message = _power_note(y.size)
    return PetPeeseResult(pet, peese, chosen, alpha, y.size, underpowered, message)


def small_study_tests(
    yi: ArrayLike, vi: ArrayLike, *, method: str = "REML", test: str = "z"
) -> dict[str, Any]:
    """Run every test in this module and return the DESIGN.md bias keys.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).
    method, test
        Model of the pooled analysis (trim-and-fill always reports a z interval).

    Returns
    -------
    dict
        ``{"egger", "begg", "trimfill", "failsafe_n", "pet_peese"}``, each a dict.
    """
    return {
        "egger": egger(yi, vi, method=method, test=test).to_dict(),
        "begg": begg(yi, vi).to_dict(),
        "trimfill": trimfill(yi, vi, method=method).to_dict(),
        "failsafe_n": failsafe_n(yi, vi).to_dict(),
        "pet_peese": pet_peese(yi, vi).to_dict(),
    }
