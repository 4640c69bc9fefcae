"""Small-study effects and publication bias, as R metafor 3.8 computes them.

``egger`` (metafor ``regtest``), ``begg`` (``ranktest``), ``trimfill`` (``trimfill``, L0
and R0 estimators), ``failsafe_n`` (``fsn``: Rosenthal and Orwin) and ``pet_peese``
(Stanley & Doucouliagos 2014). Every result is a frozen dataclass whose ``to_dict()``
gives the results-file keys (ARCHITECTURE.md, "Results files"): ``egger`` {statistic, p,
limit_estimate, limit_ci}, ``begg`` {tau, p}, ``trimfill`` {k0, side, estimate, ci},
``failsafe_n`` {rosenthal, orwin}. With fewer than ``MIN_STUDIES`` studies the tests still
run, but the result carries ``underpowered: true`` and a message saying why it should not
be relied on. ``trimfill`` and ``failsafe_n`` live in :mod:`evidence.stats.missing_studies`
and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.stats.errors import InputError
from evidence.stats.missing_studies import (
    MIN_STUDIES,
    FailSafeResult,
    TrimFillResult,
    checked_inputs,
    failsafe_n,
    power_note,
    require_spread,
    trimfill,
)
from evidence.stats.pooling import fit_batch
from evidence.stats.results import finite, finite_interval

__all__ = [
    "BEGG_EXACT_LIMIT",
    "MIN_STUDIES",
    "BeggResult",
    "EggerResult",
    "FailSafeResult",
    "PetPeeseResult",
    "TrimFillResult",
    "WlsFit",
    "begg",
    "egger",
    "failsafe_n",
    "pet_peese",
    "small_study_tests",
    "trimfill",
]

Array = NDArray[np.float64]


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
        As :func:`evidence.stats.pooling.pool`.

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
    y, v = checked_inputs(yi, vi)
    require_spread(v, "Egger's regression test")
    design = np.column_stack([np.ones(y.size), np.sqrt(v)])
    fit = fit_batch(y, v, design=design, method=method, test=test, level=level)
    underpowered, message = power_note(y.size)
    return EggerResult(
        statistic=float(fit.statistic[0, 1]),
        p=float(fit.p_value[0, 1]),
        df=float(fit.df[0]) if test in ("knha", "adhoc") else None,
        limit_estimate=float(fit.beta[0, 0]),
        limit_ci=(float(fit.ci_lower[0, 0]), float(fit.ci_upper[0, 0])),
        k=y.size,
        underpowered=underpowered,
        message=message,
    )


#: Largest k for which Begg's test uses the exact null distribution of Kendall's tau.
BEGG_EXACT_LIMIT = 500


def begg(yi: ArrayLike, vi: ArrayLike) -> BeggResult:
    """Begg and Mazumdar's rank correlation test as metafor ``ranktest()``.

    Standardised deviates ``y*_i = (y_i - mu_FE) / sqrt(v_i - 1/sum w)`` (``w = 1/v``) are
    correlated with ``v_i`` by Kendall's tau; as metafor 3.8, which calls R
    ``cor.test(..., method = "kendall", exact = TRUE)``, the p-value is exact whenever there
    are no ties (for k >= 50 too, not only below R's own default of 50), otherwise the
    normal approximation with the tie-corrected variance of S. Above
    ``BEGG_EXACT_LIMIT`` = 500 studies the normal approximation is used: the exact
    distribution costs O(k^3) (0.1 s at k = 500, 27 s at k = 3,000), and R's exact p-value
    there is not a reference anyway: measured with R 4 / metafor 3.8, ``cor.test`` returns
    NaN for the exact p from between 150 and 200 pairs on (and takes 13 s at 500). The
    approximation differs from the exact p by about 1e-3 relative at k = 500-1,000.

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
    y, v = checked_inputs(yi, vi)
    require_spread(v, "Begg's rank correlation test")
    w = 1 / v
    mean = np.sum(w * y) / np.sum(w)
    standardised = (y - mean) / np.sqrt(v - 1 / np.sum(w))
    if np.ptp(standardised) == 0:
        raise InputError("Begg's rank correlation test is undefined: all effects are equal")
    ties = len(np.unique(standardised)) < y.size or len(np.unique(v)) < y.size
    exact = not ties and y.size <= BEGG_EXACT_LIMIT
    result = stats.kendalltau(standardised, v, method="exact" if exact else "asymptotic")
    underpowered, message = power_note(y.size)
    return BeggResult(
        float(result.statistic), float(result.pvalue), exact, y.size, underpowered, message
    )


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
    y, v = checked_inputs(yi, vi)
    require_spread(v, "PET-PEESE")
    fraction = level / 100 if level > 1 else level
    pet = _wls_intercept(y, v, np.sqrt(v), fraction)
    peese = _wls_intercept(y, v, v, fraction)
    chosen = "PEESE" if pet.p < alpha else "PET"
    underpowered, message = power_note(y.size)
    return PetPeeseResult(pet, peese, chosen, alpha, y.size, underpowered, message)


def small_study_tests(
    yi: ArrayLike, vi: ArrayLike, *, method: str = "REML", test: str = "z"
) -> dict[str, Any]:
    """Run every test in this module and return the results-file bias keys.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).
    method, test
        Model of the pooled analysis (trim-and-fill refits with z when it imputes studies,
        and keeps the pooled model and its test when it imputes none, as metafor).

    Returns
    -------
    dict
        ``{"egger", "begg", "trimfill", "failsafe_n", "pet_peese"}``, each a dict, or None
        when that test is undefined for the data (the reason is in ``bias_notes``).
    """
    tests: dict[str, Callable[[], Any]] = {
        "egger": lambda: egger(yi, vi, method=method, test=test),
        "begg": lambda: begg(yi, vi),
        "trimfill": lambda: trimfill(yi, vi, method=method, test=test),
        "failsafe_n": lambda: failsafe_n(yi, vi),
        "pet_peese": lambda: pet_peese(yi, vi),
    }
    results: dict[str, Any] = {}
    notes: list[str] = []
    for name, run in tests.items():
        try:
            results[name] = run().to_dict()
        except InputError as error:
            results[name] = None
            notes += [f"{name}: not computed ({issue.message})" for issue in error.issues]
    results["bias_notes"] = notes
    return results
