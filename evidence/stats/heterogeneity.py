"""Heterogeneity statistics computed from tau^2 as metafor 3.8 does.

- Cochran's Q at ``w = 1/vi`` with ``k - p`` df (``QE``, ``QEp``);
- the "typical" within-study variance ``s2 = (k - p) / tr(P)`` (Higgins & Thompson 2002,
  generalised by metafor), ``I2 = 100 tau2 / (s2 + tau2)``, ``H2 = tau2 / s2 + 1``; for a
  common-effect model ``I2 = max(0, 100 (Q - df) / Q)`` and ``H2 = Q / df``;
- Q-profile confidence intervals for tau^2 (Viechtbauer 2007, Stat Med 26, 37-52;
  metafor ``confint.rma.uni``, ``type="QP"``), transformed to tau, I2 and H2. As in
  metafor the search runs over ``[0, max(100, 10 tau2)]``; a bound beyond it is reported
  as the search limit.

Everything is vectorised over rows (see :mod:`evidence.stats.tau2`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from evidence.stats.batch import Batch, quadratic_forms, solve_generalised_q


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
    """Per-row Q-profile confidence bounds, shape (n, 2) each."""

    tau2: NDArray[np.float64]
    tau: NDArray[np.float64]
    i2: NDArray[np.float64]
    h2: NDArray[np.float64]


def heterogeneity(batch: Batch, tau2: NDArray[np.float64], common_effect: bool) -> Heterogeneity:
    """Cochran's Q, its p-value, and I2/H2 from tau2.

    ``Q = y'Py`` with ``P = W - WX(X'WX)^-1X'W``, ``W = diag(1/vi)``, on ``yi`` centred as
    metafor does; ``s2 = (k - p)/tr(P)``; ``I2 = 100 tau2/(s2 + tau2)``;
    ``H2 = tau2/s2 + 1`` (Higgins & Thompson 2002, Stat Med 21, 1539-1558; metafor 3.8
    ``rma.uni``). Undefined (NaN) when ``k <= p``.
    """
    forms = quadratic_forms(batch, batch.centred, np.zeros(len(batch.yi)))
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
    lower = np.minimum(solve_generalised_q(batch, target=lower_target), limit)
    upper = np.minimum(solve_generalised_q(batch, target=upper_target), limit)
    bounds = np.column_stack([lower, upper])
    vt = typical_variance[:, None]
    return HeterogeneityIntervals(
        tau2=bounds,
        tau=np.sqrt(bounds),
        i2=100 * bounds / (vt + bounds),
        h2=bounds / vt + 1,
    )
