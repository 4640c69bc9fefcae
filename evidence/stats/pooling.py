"""Common-effect and random-effects pooling that agrees with R metafor 3.8 ``rma.uni``.

Public API
----------
``pool(yi, vi=None, *, sei=None, method="REML", test="z", level=95, measure=None,
transform=None, n_studies=None, n_participants=None, labels=None, drop_missing=False)
-> PooledResult``
    One meta-analysis: estimate, se, z or t statistic, p, CI and prediction interval
    (metafor ``predict()``), Q test, tau2/tau/I2/H2 with Q-profile CIs (metafor
    ``confint()``), and ``back_transformed`` values when a back-transform is named.
``estimate_tau2(yi, vi, method, mask=None, design=None)``
    tau2 for a 2-D batch of meta-analyses (rows) in one vectorised call
    (re-exported from :mod:`evidence.stats.tau2`).
``fit_batch(yi, vi, *, mask=None, design=None, method="REML", test="z", level=95) -> BatchFit``
    The full model (coefficients, covariance, tests, heterogeneity) for many meta-analyses
    at once; :func:`pool`, :mod:`evidence.stats.moderators` and the diagnostics build on it.
``check_inputs(yi, vi=None, sei=None, labels=None, drop_missing=False)``
    Input validation (from :mod:`evidence.stats.inputs`); back-transforms are named in
    :mod:`evidence.stats.transforms`.
``METHODS``, ``TESTS``, ``TauConvergenceWarning``.

Modules underneath: :mod:`evidence.stats.batch` (masked batches and quadratic forms),
:mod:`evidence.stats.tau2` (estimators), :mod:`evidence.stats.heterogeneity` (Q, I2, H2, Q-profile).

Conventions (metafor 3.8)
-------------------------
- ``method="FE"`` is the common-effect (inverse-variance) model; every other method is a
  random-effects model with that tau2 estimator (DL, HE, HS, SJ, PM, EB, ML, REML).
- ``test="knha"`` (Knapp & Hartung 2003): ``Var(b) = s2 (X'WX)^-1`` with
  ``s2 = sum w (y - Xb)^2 / (k - p)``, *not* truncated at 1 (metafor's default; its
  ``test="adhoc"`` truncates), t distribution with ``k - p`` df.
- Prediction interval ``b +/- crit sqrt(se^2 + tau2)`` with the same critical value as
  the CI (t(k - p) under knha, z otherwise), none for a common-effect model.
- k = 1: the study's own estimate and standard error; heterogeneity is undefined (None)
  and a note says so; under knha there is no test (0 df): se, statistic, p, CI are None.
- Knapp-Hartung when the effects fit exactly (e.g. all identical): the scale factor
  ``s2`` is 0, so se = 0, the statistic is infinite (reported as None in JSON), p = 0 and
  the CI and PI have zero width, exactly as metafor 3.8; a note says so.

PyMARE (pinned 0.0.13) was meant to be the engine where it agrees with metafor; it is not
used for the fit itself, a deliberate deviation, for measured reasons:

- accuracy: its likelihood estimators stop at ``xtol=1e-6`` on a transformed scale.
  Measured on the 17 fixtures of ``tests/reference/pooling_fixtures.json`` (z test,
  ``small_sample_correction="wald"``, 2026-11-25): REML tau2 differs from metafor by up to
  4.6e-6 relative (dat.nielweise2007 OR; median 1e-7), which fails the 1e-6 criterion;
  ML up to 4.9e-7; DL (``DerSimonianLaird``) and HE (``Hedges``) agree to 5e-15. Ours
  agrees with metafor to 1e-6 on all of them.
- coverage: no HS, SJ, PM or EB estimators, no prediction intervals, no Q-profile CIs,
  no masks for leave-one-out batches.
- speed: it is 2-6x slower than :func:`fit_batch` (``benchmarks/pooling.py``).

It remains the speed reference in ``benchmarks/pooling.py`` and the DerSimonian-Laird
cross-check in ``tests/test_pooling_edge.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from evidence.stats.batch import Batch, safe_inverse
from evidence.stats.errors import InputError
from evidence.stats.heterogeneity import Heterogeneity, heterogeneity, q_profile_intervals
from evidence.stats.inputs import check_inputs
from evidence.stats.results import BackTransformed, PooledResult
from evidence.stats.tau2 import METHODS, TauConvergenceWarning, estimate_tau2, make_batch
from evidence.stats.transforms import ArrayFunction, transform_function

__all__ = [
    "METHODS",
    "TESTS",
    "BatchFit",
    "TauConvergenceWarning",
    "check_inputs",
    "estimate_tau2",
    "fit_batch",
    "pool",
]

TESTS = ("z", "knha")


@dataclass(frozen=True)
class BatchFit:
    """A fitted (mixed-effects) model for each row of a batch; arrays have leading dim n.

    Attributes
    ----------
    beta, se, statistic, p_value, ci_lower, ci_upper : (n, p)
    covariance : (n, p, p), the covariance of ``beta`` (scaled by s2 under knha).
    tau2, df, crit, knha_scale : (n,); ``df`` is NaN under z; ``crit`` is the critical
        value for CIs and PIs.
    k : (n,) number of studies; ``heterogeneity`` the Q test and I2/H2 per row.
    """

    beta: NDArray[np.float64]
    covariance: NDArray[np.float64]
    se: NDArray[np.float64]
    statistic: NDArray[np.float64]
    p_value: NDArray[np.float64]
    ci_lower: NDArray[np.float64]
    ci_upper: NDArray[np.float64]
    tau2: NDArray[np.float64]
    df: NDArray[np.float64]
    crit: NDArray[np.float64]
    knha_scale: NDArray[np.float64]
    k: NDArray[np.float64]
    heterogeneity: Heterogeneity


def _normalise_level(level: float) -> float:
    """Accept 95 or 0.95 (as metafor does) and return the fraction; refuse 0, 1, 100."""
    fraction = level / 100 if level > 1 else level
    if not (math.isfinite(fraction) and 0 < fraction < 1):
        raise InputError(
            f"confidence level {level!r} is not between 0 and 100 (exclusive); give e.g. "
            "95 or 0.95",
            "pool-level",
        )
    return fraction


def _normalise_method(method: str, test: str) -> tuple[str, str]:
    name = method.upper()
    if name in ("EE", "CE"):
        name = "FE"
    if name not in METHODS:
        raise InputError(
            f"unknown method {method!r}; expected one of {', '.join(METHODS)}", "pool-method"
        )
    if test not in TESTS:
        raise InputError(f"unknown test {test!r}; expected z or knha", "pool-test")
    return name, test


def fit_batch(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    mask: ArrayLike | None = None,
    design: ArrayLike | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
) -> BatchFit:
    """Fit ``yi = X beta + u + e`` (u ~ N(0, tau2), e ~ N(0, vi)) to every row at once.

    ``beta = (X'WX)^-1 X'Wy`` with ``W = diag(1/(vi + tau2))``; ``Var(beta) = (X'WX)^-1``
    (z) or ``s2 (X'WX)^-1`` with ``s2 = y'Py/(k - p)`` (knha; Knapp & Hartung 2003,
    Stat Med 22, 2693-2710); Wald z or t(k - p) tests and CIs
    (Viechtbauer 2010, J Stat Softw 36(3); metafor 3.8 ``rma.uni``).

    Inputs are not validated here (see :func:`check_inputs`); masked or non-finite entries
    simply do not take part. Rows with ``k <= p`` give NaN where a quantity is undefined.
    """
    method, test = _normalise_method(method, test)
    batch = make_batch(yi, vi, mask, design)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _fit(batch, method, test, level)


def _fit(batch: Batch, method: str, test: str, level: float) -> BatchFit:
    """Fit every row of a prepared batch (see :func:`fit_batch`)."""
    tau2 = np.asarray(estimate_tau2(batch, None, method))
    n, p = len(batch.yi), batch.p
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    xtwx = np.einsum("nk,kp,kq->npq", w, batch.X, batch.X)
    covariance = safe_inverse(xtwx)
    beta = np.einsum("npq,nq->np", covariance, np.einsum("nk,kp->np", w * batch.yi, batch.X))
    residual = np.where(batch.mask, batch.yi - beta @ batch.X.T, 0.0)
    df = batch.k - p
    scale = np.ones(n)
    if test == "knha":
        rss = (w * residual * residual).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(rss <= np.finfo(float).eps, 0.0, rss / df)
        covariance = covariance * scale[:, None, None]
    se = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
    alpha = 1 - _normalise_level(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = beta / se
        if test == "knha":
            positive = df > 0
            safe_df = np.where(positive, df, 1.0)[:, None]
            two_sided = 2 * special.stdtr(safe_df, -np.abs(statistic))
            p_value = np.where(positive[:, None], two_sided, np.nan)
            crit = np.where(positive, special.stdtrit(safe_df[:, 0], 1 - alpha / 2), np.nan)
            df_out = np.where(positive, df, np.nan)
        else:
            p_value = 2 * special.ndtr(-np.abs(statistic))
            crit = np.full(n, -special.ndtri(alpha / 2))
            df_out = np.full(n, np.nan)
    return BatchFit(
        beta=beta,
        covariance=covariance,
        se=se,
        statistic=statistic,
        p_value=p_value,
        ci_lower=beta - crit[:, None] * se,
        ci_upper=beta + crit[:, None] * se,
        tau2=tau2,
        df=df_out,
        crit=crit,
        knha_scale=scale,
        k=batch.k,
        heterogeneity=heterogeneity(batch, tau2, common_effect=method == "FE"),
    )


def _pair(lower: float, upper: float) -> tuple[float, float] | None:
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    return (float(lower), float(upper))


def pool(
    yi: ArrayLike,
    vi: ArrayLike | None = None,
    *,
    sei: ArrayLike | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    measure: str | None = None,
    transform: str | ArrayFunction | None = None,
    n_studies: int | None = None,
    n_participants: int | None = None,
    labels: Sequence[str] | None = None,
    drop_missing: bool = False,
) -> PooledResult:
    """Pool effect sizes with a common-effect or random-effects model (metafor ``rma``).

    Parameters
    ----------
    yi : array_like
        Effect sizes on the pooling scale (log ratios, z, SMD, ...).
    vi, sei : array_like
        Sampling variances, or standard errors (``vi = sei^2``).
    method : str
        ``"FE"`` (common effect) or a tau2 estimator: DL, HE, HS, SJ, PM, EB, ML, REML.
    test : {"z", "knha"}
        Wald z, or Knapp-Hartung t with ``k - 1`` df (not truncated, as metafor).
    level : float
        Confidence level, 95 or 0.95.
    measure : str, optional
        metafor measure name (e.g. "RR", "OR", "ZCOR"), recorded in the result.
    transform : str or callable, optional
        Back-transform to the natural scale: a name in
        :data:`evidence.stats.transforms.TRANSFORMS` ("exp", "tanh", "ilogit",
        "identity") or a function; none by default. The measure registry
        (:mod:`evidence.effects.escalc`) names the one that belongs to each measure.
    n_studies, n_participants : int, optional
        Recorded in the result (``n_studies`` defaults to k).
    labels : sequence of str, optional
        Row labels used in problem messages.
    drop_missing : bool
        Drop rows with missing yi/vi (noted) instead of raising.

    Returns
    -------
    PooledResult
        Estimate ``mu = sum w y / sum w``, ``se = sqrt(1/sum w)`` (times ``sqrt(s2)``
        under knha), ``ci = mu +/- crit se``, ``pi = mu +/- crit sqrt(se^2 + tau2)``
        (metafor ``predict``), Q with ``k - 1`` df, ``I2 = 100 tau2/(s2 + tau2)``,
        ``H2 = tau2/s2 + 1`` with ``s2 = (k - 1)/(sum w - sum w^2/sum w)``, Q-profile
        CIs (Viechtbauer 2007). References: DerSimonian & Laird 1986; Viechtbauer 2005,
        2010; Higgins & Thompson 2002; Knapp & Hartung 2003.

    Raises
    ------
    InputError
        Missing values (unless ``drop_missing``), ``vi <= 0``, unknown method or test.
    """
    method_name, test = _normalise_method(method, test)
    y, v, kept, notes = check_inputs(yi, vi, sei, labels, drop_missing)
    y, v = y[kept], v[kept]
    fit = fit_batch(y, v, method=method_name, test=test, level=level)
    k = int(fit.k[0])
    het = fit.heterogeneity
    estimate, se, crit = float(fit.beta[0, 0]), float(fit.se[0, 0]), float(fit.crit[0])
    # Knapp-Hartung with k = 1 has 0 df: metafor reports se = 0 and no test; we report none.
    no_test = test == "knha" and k == 1
    tau2 = float(fit.tau2[0])
    random = method_name != "FE"
    notes = list(notes)
    if k == 1:
        notes.append(
            "k = 1: the pooled estimate is the single study's; heterogeneity "
            "(tau2, I2, H2, Q) is undefined"
        )
    elif np.ptp(y) == 0:
        notes.append("all effect sizes are identical: Q = 0 and tau2 = 0")
    if test == "knha" and k > 1 and float(fit.knha_scale[0]) == 0.0:
        notes.append(
            "Knapp-Hartung scale factor s2 = 0 (the effects fit the model exactly): "
            "se = 0 and the confidence interval has zero width, as metafor test='knha' "
            "gives; the z test (test='z') gives a non-degenerate interval"
        )
    if method_name == "FE" and test == "knha":
        notes.append(
            "the Knapp-Hartung method is not meant for a common-effect model "
            "(metafor warns likewise)"
        )
    heterogeneity_defined = k > 1
    tau2_ci = tau_ci = i2_ci = h2_ci = None
    if random and heterogeneity_defined:
        batch = make_batch(y, v)
        intervals = q_profile_intervals(
            batch, fit.tau2, het.typical_variance, _normalise_level(level)
        )
        tau2_ci, tau_ci = tuple(intervals.tau2[0]), tuple(intervals.tau[0])
        i2_ci, h2_ci = tuple(intervals.i2[0]), tuple(intervals.h2[0])
        search_limit = max(100.0, 10 * tau2)
        if tau2_ci[1] >= search_limit * (1 - 1e-12):
            notes.append(
                f"the upper Q-profile bound of tau2 lies beyond the search limit "
                f"max(100, 10 tau2) = {search_limit:.6g} and is reported as that limit, as "
                "metafor confint() does (it prints '>' before the tau2, tau, I2 and H2 "
                "upper bounds)"
            )
    ci = _pair(estimate - crit * se, estimate + crit * se)
    pi = None
    if random:
        half = crit * math.sqrt(se * se + tau2)
        pi = _pair(estimate - half, estimate + half)
    function = transform_function(transform)
    back = None if function is None else BackTransformed.of(function, estimate, ci, pi)

    def defined(value: float) -> float | None:
        return float(value) if heterogeneity_defined else None

    return PooledResult(
        k=k,
        n_studies=k if n_studies is None else n_studies,
        n_participants=n_participants,
        measure=measure,
        method=method_name,
        test=test,
        estimate=estimate,
        se=None if no_test else se,
        statistic=None if no_test else float(fit.statistic[0, 0]),
        df=float(fit.df[0]) if test == "knha" else None,
        p=float(fit.p_value[0, 0]),
        ci=ci,
        pi=pi,
        tau2=defined(tau2) if random else 0.0,
        tau2_ci=tau2_ci,
        tau=defined(math.sqrt(tau2)) if random else 0.0,
        tau_ci=tau_ci,
        i2=defined(het.i2[0]),
        i2_ci=i2_ci,
        h2=defined(het.h2[0]),
        h2_ci=h2_ci,
        q=defined(het.q[0]),
        q_df=defined(het.q_df[0]),
        q_p=defined(het.q_p[0]),
        back_transformed=back,
        notes=tuple(notes),
    )
