"""Common-effect and random-effects pooling that agrees with R metafor 3.8 ``rma.uni``.

Public API
----------
``pool(yi, vi=None, *, sei=None, method="REML", test="z", level=95, measure=None,
transform=None, n_studies=None, n_participants=None, labels=None, drop_missing=False)
-> PooledResult``
    One meta-analysis: estimate, se, z or t statistic, p, CI and prediction interval
    (metafor ``predict()``), Q test, tau2/tau/I2/H2 with their CIs (profile likelihood
    for ML/REML, Q-profile otherwise; metafor
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
:mod:`evidence.stats.tau2` (estimators), :mod:`evidence.stats.heterogeneity` (Q, I2, H2,
tau2 intervals).

Conventions (metafor 3.8)
-------------------------
- ``method="FE"`` is the common-effect (inverse-variance) model; every other method is a
  random-effects model with that tau2 estimator (DL, HE, HS, SJ, PM, EB, ML, REML).
- ``test="knha"`` (Knapp & Hartung 2003): ``Var(b) = s2 (X'WX)^-1`` with
  ``s2 = sum w (y - Xb)^2 / (k - p)``, *not* truncated at 1 (metafor's ``knha``), t
  distribution with ``k - p`` df; ``test="adhoc"`` is the modified Knapp-Hartung method,
  ``s2`` truncated below at 1 (metafor's ``adhoc``; Roever, Knapp & Friede 2015).
- Prediction interval ``b +/- crit sqrt(se^2 + tau2)`` with the same critical value as
  the CI (t(k - p) under knha/adhoc, z otherwise), none for a common-effect model.
- k = 1: the study itself, as metafor's ``rma`` returns it: estimate ``yi``, se
  ``sqrt(vi)`` and a z test and CI whatever test was asked for (metafor sets
  ``test = "z"`` for k = 1, with a warning); heterogeneity (tau2, I2, H2, Q) is undefined
  (None) and a note says so; the prediction interval takes tau2 = 0 (metafor's
  ``predict``), so it equals the CI.
- Knapp-Hartung when the effects fit exactly (e.g. all identical): the scale factor
  ``s2`` is 0, so se = 0, the statistic is infinite (reported as None in JSON), p = 0 and
  the CI and PI have zero width, exactly as metafor 3.8; a note says so and points to
  ``adhoc``, where ``s2`` is 1.

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

from evidence.stats.batch import Batch, intercept_sums, safe_inverse
from evidence.stats.errors import InputError
from evidence.stats.heterogeneity import Heterogeneity, heterogeneity, tau2_intervals
from evidence.stats.inputs import check_inputs
from evidence.stats.likelihood import Maxima, peaks_note
from evidence.stats.results import BackTransformed, PooledResult
from evidence.stats.tau2 import METHODS, TauConvergenceWarning, estimate_tau2, fit_tau2, make_batch
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

#: Inference for the coefficients: Wald z; Knapp-Hartung t (metafor ``test = "knha"``,
#: scale factor not truncated); the modified Knapp-Hartung (``"adhoc"``: the scale factor
#: truncated below at 1, so the interval is never narrower than the z interval's t
#: counterpart; Knapp & Hartung 2003, Roever et al. 2015, Cochrane Handbook 10.10.4.2).
TESTS = ("z", "knha", "adhoc")


@dataclass(frozen=True)
class BatchFit:
    """A fitted (mixed-effects) model for each row of a batch; arrays have leading dim n.

    Attributes
    ----------
    beta, se, statistic, p_value, ci_lower, ci_upper : (n, p)
    covariance : (n, p, p), the covariance of ``beta`` (scaled by s2 under knha/adhoc).
    tau2, df, crit, knha_scale : (n,); ``df`` is NaN where a z test is used; ``crit`` is
        the critical value for CIs and PIs; ``knha_scale`` the scale factor applied (1
        under z; ``max(1, s2)`` under adhoc).
    t_test : (n,) bool, rows tested with t (knha/adhoc and ``k > p``; metafor uses z for
        ``k = p``, e.g. one study).
    k : (n,) number of studies; ``heterogeneity`` the Q test and I2/H2 per row.
    maxima : for ML and REML, the likelihood maxima found per row (rows with several
        local maxima list them all), else None.
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
    maxima: Maxima | None = None
    t_test: NDArray[np.bool_] | None = None


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
        raise InputError(f"unknown test {test!r}; expected z, knha or adhoc", "pool-test")
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
    tau2: ArrayLike | None = None,
) -> BatchFit:
    """Fit ``yi = X beta + u + e`` (u ~ N(0, tau2), e ~ N(0, vi)) to every row at once.

    ``beta = (X'WX)^-1 X'Wy`` with ``W = diag(1/(vi + tau2))``; ``Var(beta) = (X'WX)^-1``
    (z) or ``s2 (X'WX)^-1`` with ``s2 = y'Py/(k - p)`` (knha; Knapp & Hartung 2003,
    Stat Med 22, 2693-2710); Wald z or t(k - p) tests and CIs
    (Viechtbauer 2010, J Stat Softw 36(3); metafor 3.8 ``rma.uni``).

    Inputs are not validated here (see :func:`check_inputs`); masked or non-finite entries
    simply do not take part. Rows with ``k <= p`` give NaN where a quantity is undefined.
    ``tau2`` (n,) takes tau^2 as already estimated with ``method`` (a z and a knha fit of the
    same rows share it) instead of estimating it again.
    """
    method, test = _normalise_method(method, test)
    batch = make_batch(yi, vi, mask, design)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _fit(batch, method, test, level, tau2)


def _fit(
    batch: Batch, method: str, test: str, level: float, given: ArrayLike | None = None
) -> BatchFit:
    """Fit every row of a prepared batch (see :func:`fit_batch`); ``given``: known tau^2.

    With ``given`` no likelihood maxima are searched (``maxima`` is None).
    """
    if given is None:
        tau2, maxima = fit_tau2(batch, method)
    else:
        tau2, maxima = np.asarray(given, dtype=float), None
    n, p = len(batch.yi), batch.p
    beta, covariance, rss = _coefficients(batch, tau2, rss_needed=test in ("knha", "adhoc"))
    df = batch.k - p
    # Knapp-Hartung needs k > p; metafor uses z for k = p (one study), as here.
    t_test = (df > 0) if test in ("knha", "adhoc") else np.zeros(n, dtype=bool)
    scale = np.ones(n)
    if t_test.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            s2 = np.where(rss <= np.finfo(float).eps, 0.0, rss / df)
        if test == "adhoc":
            s2 = np.maximum(s2, 1.0)
        scale = np.where(t_test, s2, 1.0)
        covariance = covariance * scale[:, None, None]
    se = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
    alpha = 1 - _normalise_level(level)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = beta / se
        safe_df = np.where(t_test, df, 1.0)
        two_sided_t = 2 * special.stdtr(safe_df[:, None], -np.abs(statistic))
        two_sided_z = 2 * special.ndtr(-np.abs(statistic))
        p_value = np.where(t_test[:, None], two_sided_t, two_sided_z)
        crit = np.where(t_test, special.stdtrit(safe_df, 1 - alpha / 2), -special.ndtri(alpha / 2))
        df_out = np.where(t_test, df, np.nan)
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
        maxima=maxima,
        t_test=t_test,
    )


def _coefficients(
    batch: Batch, tau2: NDArray[np.float64], rss_needed: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``beta = (X'WX)^-1 X'Wy``, ``(X'WX)^-1`` and ``sum w (y - Xb)^2`` per row.

    An intercept-only batch needs two weighted sums (:func:`intercept_sums`):
    ``beta = sum w y / sum w`` and ``1 / sum w``, and a third for Q when ``rss_needed``
    (the Knapp-Hartung scale; else NaN); a design matrix, p x p solves.
    """
    if batch.intercept_only:
        sums = intercept_sums(batch, tau2, order=1 if rss_needed else 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(sums.s1 > 0, 1.0 / sums.s1, np.nan)
            beta = sums.mean + batch.mean  # undo the centring of y
        return beta[:, None], variance[:, None, None], sums.q
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    xtwx = np.einsum("nk,kp,kq->npq", w, batch.X, batch.X)
    covariance = safe_inverse(xtwx)
    beta = np.einsum("npq,nq->np", covariance, np.einsum("nk,kp->np", w * batch.yi, batch.X))
    residual = np.where(batch.mask, batch.yi - beta @ batch.X.T, 0.0)
    return beta, covariance, (w * residual * residual).sum(axis=1)


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
    test : {"z", "knha", "adhoc"}
        Wald z; Knapp-Hartung t with ``k - 1`` df (scale factor not truncated, as metafor
        ``knha``); or the modified Knapp-Hartung (scale factor truncated below at 1, as
        metafor ``adhoc``). With one study z is used, as metafor does.
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
        under knha, ``sqrt(max(1, s2))`` under adhoc), ``ci = mu +/- crit se``,
        ``pi = mu +/- crit sqrt(se^2 + tau2)`` (metafor ``predict``), Q with ``k - 1`` df,
        ``I2 = 100 tau2/(s2 + tau2)``, ``H2 = tau2/s2 + 1`` with
        ``s2 = (k - 1)/(sum w - sum w^2/sum w)``, CIs of tau2 (and tau, I2, H2): profile
        likelihood for ML and REML (Hardy & Thompson 1996), Q-profile otherwise (Viechtbauer
        2007).
        References: DerSimonian & Laird 1986; Viechtbauer 2005, 2010; Higgins & Thompson
        2002; Knapp & Hartung 2003; Roever, Knapp & Friede 2015.

    Raises
    ------
    InputError
        Missing values (unless ``drop_missing``), ``vi <= 0``, unknown method or test.
    """
    method_name, test = _normalise_method(method, test)
    y, v, kept, notes = check_inputs(yi, vi, sei, labels, drop_missing)
    if not kept.all():
        y, v = y[kept], v[kept]
    batch = make_batch(y, v)  # one batch for the fit and the intervals: sums are shared
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = _fit(batch, method_name, test, level)
    k = int(fit.k[0])
    het = fit.heterogeneity
    estimate, se, crit = float(fit.beta[0, 0]), float(fit.se[0, 0]), float(fit.crit[0])
    tau2 = float(fit.tau2[0])
    random = method_name != "FE"
    used = test if fit.t_test is not None and fit.t_test[0] else "z"
    notes = list(notes)
    if k == 1:
        notes.append(
            "k = 1: the pooled estimate is the single study's, with its own standard error "
            "and a z test and interval (as metafor, which uses z for one study"
            + (f" even when test = '{test}' is asked for" if test != "z" else "")
            + "); heterogeneity (tau2, I2, H2, Q) is undefined (the prediction interval "
            "takes tau2 = 0, as metafor's predict())"
        )
    elif np.ptp(y) == 0:
        notes.append("all effect sizes are identical: Q = 0 and tau2 = 0")
    if used == "knha" and float(fit.knha_scale[0]) == 0.0:
        notes.append(
            "Knapp-Hartung scale factor s2 = 0 (the effects fit the model exactly): "
            "se = 0 and the confidence interval has zero width, as metafor test='knha' "
            "gives; the modified Knapp-Hartung method (test='adhoc', s2 truncated at 1) "
            "gives a non-degenerate interval"
        )
    if fit.maxima is not None and 0 in fit.maxima.peaks:
        notes.append(peaks_note(method_name, fit.maxima.peaks[0]))
    if method_name == "FE" and test in ("knha", "adhoc"):
        notes.append(
            "the Knapp-Hartung method is not meant for a common-effect model "
            "(metafor warns likewise)"
        )
    heterogeneity_defined = k > 1
    tau2_ci = tau_ci = i2_ci = h2_ci = None
    if random and heterogeneity_defined:
        intervals = tau2_intervals(
            batch, fit.tau2, method_name, het.typical_variance, _normalise_level(level)
        )
        tau2_ci, tau_ci = tuple(intervals.tau2[0]), tuple(intervals.tau[0])
        i2_ci, h2_ci = tuple(intervals.i2[0]), tuple(intervals.h2[0])
        search_limit = max(100.0, 10 * tau2)
        if tau2_ci[1] >= search_limit * (1 - 1e-12):
            notes.append(
                f"the upper bound of tau2 lies beyond the search limit "
                f"max(100, 10 tau2) = {search_limit:.6g} and is reported as that limit, as "
                "metafor confint() does (it prints '>' before the tau2, tau, I2 and H2 "
                "upper bounds)"
            )
        if not tau2_ci[0] <= tau2 <= tau2_ci[1]:
            notes.append(
                f"the {method_name} estimate of tau2 ({tau2:.6g}) lies outside the Q-profile "
                f"interval ({tau2_ci[0]:.6g} to {tau2_ci[1]:.6g}), which inverts the "
                "generalised Q statistic (the Paule-Mandel equation): the two estimators "
                "differ by more than the interval is wide (REML and ML use the "
                "profile-likelihood interval, which always contains their estimate)"
            )
    ci = _pair(estimate - crit * se, estimate + crit * se)
    pi = None
    if random:  # k = 1: tau2 = 0 in the interval, as metafor's predict()
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
        test=used,
        estimate=estimate,
        se=se,
        statistic=float(fit.statistic[0, 0]),
        df=float(fit.df[0]) if used != "z" else None,
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
