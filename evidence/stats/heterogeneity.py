"""Heterogeneity statistics computed from tau^2 as metafor 3.8 does.

- Cochran's Q at ``w = 1/vi`` with ``k - p`` df (``QE``, ``QEp``);
- the "typical" within-study variance ``s2 = (k - p) / tr(P)`` (Higgins & Thompson 2002,
  generalised by metafor), ``I2 = 100 tau2 / (s2 + tau2)``, ``H2 = tau2 / s2 + 1``; for a
  common-effect model ``I2 = max(0, 100 (Q - df) / Q)`` and ``H2 = Q / df``;
- confidence intervals for tau^2, transformed to tau, I2 and H2 (metafor
  ``confint.rma.uni``): for ML and REML the profile-likelihood interval (``type = "PL"``;
  Hardy & Thompson 1996), which is built from the likelihood the estimate maximises and so
  always contains it; for every other estimator the Q-profile interval (``type = "QP"``,
  Viechtbauer 2007, Stat Med 26, 37-52), which inverts the generalised Q statistic and
  contains the Paule-Mandel (and EB) estimate. A Q-profile interval need not contain an
  ML or REML estimate: the two solve different equations, and when the data stray from
  the model (or just by chance) they differ by more than the interval is wide, which at
  k = 10,000 and above is common (issue 18 item 11). As in metafor the search runs over
  ``[0, max(100, 10 tau2)]``; a bound beyond it is reported as the search limit.

Everything is vectorised over rows (see :mod:`evidence.stats.tau2`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from evidence.stats.batch import (
    Batch,
    bracketed_root,
    intercept_sums,
    log_likelihood,
    log_likelihood_and_score,
    solve_generalised_q,
)
from evidence.stats.unimodal import score_from_sums, score_slope

#: A single row of at least this many studies starts its interval searches near the bounds
#: (one pass at the estimate); below it a pass is cheaper than the bookkeeping.
START_MIN_K = 1000


@dataclass(frozen=True)
class Heterogeneity:
    """Per-row Q test, typical within-study variance, I2 and H2 (arrays of shape (n,))."""

    q: NDArray[np.float64]
    q_df: NDArray[np.float64]
    q_p: NDArray[np.float64]
    typical_variance: NDArray[np.float64]
    i2: NDArray[np.float64]
    h2: NDArray[np.float64]


@dataclass(frozen=True)
class HeterogeneityIntervals:
    """Per-row confidence bounds, shape (n, 2) each; ``kind`` is "QP" or "PL"."""

    tau2: NDArray[np.float64]
    tau: NDArray[np.float64]
    i2: NDArray[np.float64]
    h2: NDArray[np.float64]
    kind: str = "QP"


def heterogeneity(batch: Batch, tau2: NDArray[np.float64], common_effect: bool) -> Heterogeneity:
    """Cochran's Q, its p-value, and I2/H2 from tau2.

    ``Q = y'Py`` with ``P = W - WX(X'WX)^-1X'W``, ``W = diag(1/vi)``, on ``yi`` centred as
    metafor does; ``s2 = (k - p)/tr(P)``; ``I2 = 100 tau2/(s2 + tau2)``;
    ``H2 = tau2/s2 + 1`` (Higgins & Thompson 2002, Stat Med 21, 1539-1558; metafor 3.8
    ``rma.uni``). Undefined (NaN) when ``k <= p``.
    """
    forms = batch.zero_forms
    df = batch.k - batch.p
    defined = df > 0
    q = np.where(defined, np.maximum(forms.rss, 0.0), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_p = np.where(defined, special.chdtrc(np.maximum(df, 1), q), np.nan)
        typical = np.where(defined, df / forms.trace_p, np.nan)
        if common_effect:
            i2 = np.maximum(0.0, 100 * (q - df) / q)
            h2 = q / df
        else:
            i2 = 100 * tau2 / (typical + tau2)
            h2 = tau2 / typical + 1
    return Heterogeneity(q, np.where(defined, df, np.nan), q_p, typical, i2, h2)


def q_profile_intervals(
    batch: Batch,
    tau2: NDArray[np.float64],
    typical_variance: NDArray[np.float64],
    level: float,
) -> HeterogeneityIntervals:
    """Q-profile confidence intervals for tau2, tau, I2 and H2.

    The package's one Q-profile solver: pooled results, leave-one-out rows and
    :func:`evidence.stats.tau2_intervals.confint_tau2` (``"QP"``, any design) use it.

    The lower bound solves ``Q(tau2) = chi2_{df, 1 - alpha/2}`` and the upper bound
    ``Q(tau2) = chi2_{df, alpha/2}`` with the generalised ``Q(tau2) = y'P(tau2)y`` and
    ``df = k - p`` (Viechtbauer 2007); a bound is 0 when ``Q(0)`` is already below its
    target and capped at ``max(100, 10 tau2)`` as metafor's ``tau2.max``.

    Parameters
    ----------
    batch : Batch
        The data (uncentred ``yi`` is used, as metafor ``confint`` does).
    tau2 : ndarray (n,)
        The fitted tau2 (sets the search limit).
    typical_variance : ndarray (n,)
        metafor's ``vt``, to turn tau2 bounds into I2 and H2 bounds.
    level : float
        Confidence level as a fraction (e.g. 0.95).
    """
    alpha = 1 - level
    df = np.maximum(batch.k - batch.p, 1)
    upper_target = special.chdtri(df, 1 - alpha / 2)
    lower_target = special.chdtri(df, alpha / 2)
    limit = np.maximum(100.0, 10 * tau2)
    starts = _q_starts(batch, tau2, (lower_target, upper_target))
    lower = np.minimum(solve_generalised_q(batch, target=lower_target, start=starts[0]), limit)
    upper = np.minimum(solve_generalised_q(batch, target=upper_target, start=starts[1]), limit)
    return _derived(np.column_stack([lower, upper]), typical_variance, "QP")


def _q_starts(
    batch: Batch, tau2: NDArray[np.float64], targets: tuple[NDArray, NDArray]
) -> tuple[NDArray | None, NDArray | None]:
    """Return starts for the Q-profile bounds of one large meta-analysis (Newton on ``1/Q``).

    ``Q(t)`` behaves like ``c/(a + t)``, so ``1/Q`` is nearly linear and one Newton step
    from the estimate, ``t + Q (Q - target)/(target y'PPy)`` (``Q' = -y'PPy``), lands close
    to each bound: a search from there takes about half the passes of one from 0. Batches
    of several rows, small k or ``tau2 = 0`` start at 0 as before (None).
    """
    if len(batch.yi) != 1 or not batch.intercept_only or batch.k[0] < START_MIN_K:
        return None, None
    if not tau2[0] > 0:
        return None, None
    sums = intercept_sums(batch, tau2)
    q, slope = sums.q, sums.q_weighted
    with np.errstate(divide="ignore", invalid="ignore"):
        found = tuple(tau2 + q * (q - target) / (target * slope) for target in targets)
    return found[0], found[1]


def _derived(bounds: NDArray, typical_variance: NDArray, kind: str) -> HeterogeneityIntervals:
    """tau, I2 and H2 bounds from the tau2 bounds (metafor's ``vt`` for I2 and H2)."""
    vt = typical_variance[:, None]
    return HeterogeneityIntervals(
        tau2=bounds,
        tau=np.sqrt(bounds),
        i2=100 * bounds / (vt + bounds),
        h2=bounds / vt + 1,
        kind=kind,
    )


def profile_likelihood_intervals(
    batch: Batch,
    tau2: NDArray[np.float64],
    method: str,
    typical_variance: NDArray[np.float64],
    level: float,
) -> HeterogeneityIntervals:
    """Profile-likelihood confidence intervals for tau2 (metafor ``confint(type = "PL")``).

    The bounds solve ``-2 (ll(t) - ll(tau2_hat)) = chi2_1(level)`` with the ML or REML
    log-likelihood, below and above the estimate (Hardy & Thompson 1996): the lower bound
    is 0 when the likelihood at 0 is within the threshold, the upper bound the search limit
    ``max(100, 10 tau2)`` when the likelihood there still is. Every row's interval contains
    its estimate. Vectorised over rows (regula falsi on sign-changing brackets).

    Parameters
    ----------
    batch : Batch
        The data.
    tau2 : ndarray (n,)
        The ML or REML estimates (the global maxima).
    method : {"ML", "REML"}
        Which likelihood.
    typical_variance : ndarray (n,)
        metafor's ``vt``, to turn tau2 bounds into I2 and H2 bounds.
    level : float
        Confidence level as a fraction (e.g. 0.95).
    """
    crit = float(special.chdtri(1, 1 - level))
    best = log_likelihood(batch, tau2, method)
    last: dict[str, NDArray[np.float64]] = {}

    def excess(rows: NDArray[np.intp], at: NDArray[np.float64]) -> NDArray[np.float64]:
        sub = batch.take(rows)
        if sub.intercept_only:  # the score comes with it: Newton steps (slope below)
            loglik, last["score"] = log_likelihood_and_score(sub, at, method)
        else:
            loglik = log_likelihood(sub, at, method)
        return -2 * (loglik - best[rows]) - crit

    def slope(rows: NDArray[np.intp], at: NDArray[np.float64]) -> NDArray[np.float64]:
        return -last["score"]  # d/dtau2 of -2 ll is -(2 dll/dtau2), the score

    everyone = np.arange(len(tau2))
    limit = np.maximum(100.0, 10 * tau2)
    at_zero, at_limit = excess(everyone, np.zeros_like(tau2)), excess(everyone, limit)
    lower, upper = np.zeros_like(tau2), limit.copy()
    starts = _profile_starts(batch, tau2, method, crit)
    for bounds, inside, low, high, f_low, f_high, start in (
        (
            lower,
            at_zero > 0,
            np.zeros_like(tau2),
            tau2,
            at_zero,
            np.full_like(tau2, -crit),
            starts[0],
        ),
        (upper, at_limit > 0, tau2, limit, np.full_like(tau2, -crit), at_limit, starts[1]),
    ):
        rows = np.flatnonzero(inside & np.isfinite(best))
        if rows.size:

            def restricted(
                r: NDArray[np.intp], x: NDArray[np.float64], rows: NDArray[np.intp] = rows
            ) -> NDArray[np.float64]:
                return excess(rows[r], x)

            found, _ = bracketed_root(
                restricted,
                low[rows],
                high[rows],
                f_low[rows],
                f_high[rows],
                slope=slope if batch.intercept_only else None,
                start=None if start is None else start[rows],
            )
            bounds[rows] = found
    return _derived(np.column_stack([lower, upper]), typical_variance, "PL")


def _profile_starts(
    batch: Batch, tau2: NDArray[np.float64], method: str, crit: float
) -> tuple[NDArray | None, NDArray | None]:
    """Return starts for the profile-likelihood bounds of one large meta-analysis.

    With the score ``S`` (``2 dll/dtau2``) and its slope ``S'`` at the estimate (the root
    search has just found them, the slope at most a step of 1e-6 away: no pass),
    ``-2 (ll(t) - ll(t_hat)) ~ -S d - S' d^2 / 2`` with ``d = t - t_hat``; equated to
    ``crit`` its roots ``d = (S +/- sqrt(S^2 - 2 S' crit)) / (-S')`` start the two
    searches, which at large k (a nearly quadratic log-likelihood) then take three passes
    each instead of ten.
    Batches of several rows, small k or ``S' >= 0`` start as before (None).
    """
    if len(batch.yi) != 1 or not batch.intercept_only or batch.k[0] < START_MIN_K:
        return None, None
    sums = intercept_sums(batch, tau2)
    # the slope where the root search last found one (a step away), else a pass for it
    near = batch.row.nearest(float(tau2[0]), 3, 1e-6 * float(tau2[0] + batch.variance_range[0][0]))
    cubes = near if near is not None else intercept_sums(batch, tau2, third=True)
    value, slope = score_from_sums(sums, method), score_slope(cubes, method)
    if not slope[0] < 0:
        return None, None
    root = np.sqrt(value * value - 2 * slope * crit)
    return tau2 + (value - root) / -slope, tau2 + (value + root) / -slope


def tau2_intervals(
    batch: Batch,
    tau2: NDArray[np.float64],
    method: str,
    typical_variance: NDArray[np.float64],
    level: float,
) -> HeterogeneityIntervals:
    """Return the tau2 interval that belongs to ``method``: PL for ML/REML, else QP.

    See the module docstring for why (an interval should contain its own estimate).
    """
    if method.upper() in ("ML", "REML"):
        return profile_likelihood_intervals(batch, tau2, method.upper(), typical_variance, level)
    return q_profile_intervals(batch, tau2, typical_variance, level)
