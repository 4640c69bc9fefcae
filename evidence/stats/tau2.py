"""Between-study variance (tau^2) estimators, vectorised over many meta-analyses at once.

Every function here works on *batches*: ``yi`` and ``vi`` are 2-D arrays whose rows are
separate meta-analyses and whose columns are studies, with a boolean ``mask`` saying which
entries take part (a 1-D input is one meta-analysis). The design matrix ``X`` (k x p) is
shared by all rows; masked-out studies get weight zero. No k-by-k matrix is ever built:
every trace and quadratic form is reduced to sums over studies and p-by-p solves, so the
cost is O(n k p^2).

The formulas are those of metafor 3.8 ``rma.uni`` (Viechtbauer 2010, J Stat Softw 36(3);
Viechtbauer 2005, J Educ Behav Stat 30, 261-293), including its conventions:

- the moment and likelihood estimators work on ``yi`` centred at its unweighted mean
  (this changes nothing when the model has an intercept);
- ML, REML and EB start from the (truncated) Hedges estimate and use Fisher scoring with
  step halving at zero (for intercept-only ML/REML a Newton step where the likelihood is
  locally concave: same fixed point, fewer iterations); ML/REML then apply metafor's
  ``ll0check`` (tau2 = 0 when the likelihood there is higher);
- DL, HS, HE and SJ are truncated at zero; PM and the Q-profile bounds solve
  ``Q(tau2) = target`` on [0, inf).

The batch arrays and quadratic forms live in :mod:`evidence.stats.batch` (re-exported here).

Public API
----------
``ESTIMATORS``
    The one registry of estimators (:class:`Estimator`: metafor name, display label,
    reference, function, whether iterative); ``METHODS`` are its keys.
``estimate_tau2(yi, vi, method, mask=None, design=None)``
    tau^2 per row for method in ``METHODS``.
``solve_generalised_q(yi, vi, target, mask=None, design=None)``
    the tau^2 at which the generalised Q statistic equals ``target`` (Paule-Mandel and
    Q-profile confidence intervals).
``TauConvergenceWarning``
    warned when Fisher scoring does not converge; such rows are solved by bisection on
    the score equation (or fall back to DL when no root is bracketed), and the warning
    says which.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from evidence.stats.batch import (
    MAX_ROOT_ITERATIONS,
    Batch,
    as_batch,
    generalised_q,
    log_likelihood,
    make_batch,
    quadratic_forms,
    solve_generalised_q,
    weighted_fit,
)
from evidence.stats.errors import InputError

__all__ = [
    "ESTIMATORS",
    "METHODS",
    "Batch",
    "Estimator",
    "TauConvergenceWarning",
    "estimate_tau2",
    "generalised_q",
    "make_batch",
    "quadratic_forms",
    "solve_generalised_q",
]

#: Convergence threshold on the change in tau^2 between Fisher-scoring iterations.
THRESHOLD = 1e-12
#: Maximum number of Fisher-scoring iterations (metafor's ``maxiter`` default is 100).
MAX_ITERATIONS = 100


class TauConvergenceWarning(UserWarning):
    """Fisher scoring did not converge; the message names the fallback used."""


def _dersimonian_laird(batch: Batch) -> NDArray[np.float64]:
    """DL: ``(Q - (k - p)) / tr(P)`` at ``w = 1/vi`` (DerSimonian & Laird 1986)."""
    forms = quadratic_forms(batch, batch.centred, np.zeros(len(batch.yi)))
    return np.maximum(0.0, (forms.rss - (batch.k - batch.p)) / forms.trace_p)


def _hedges(batch: Batch) -> NDArray[np.float64]:
    """HE: ``(RSS_OLS - tr(P_OLS V)) / (k - p)``, untruncated (Hedges 1983)."""
    if batch.intercept_only:
        centred = batch.centred
        sum_v = np.where(batch.mask, batch.vi, 0.0).sum(axis=1)
        return ((centred * centred).sum(axis=1) - sum_v * (1 - 1 / batch.k)) / (batch.k - 1)
    ones = batch.mask.astype(float)
    residual, inverse, _ = weighted_fit(batch, batch.centred, ones)
    xtvx = np.einsum("nk,kp,kq->npq", ones * batch.vi, batch.X, batch.X)
    trace_pv = (ones * batch.vi).sum(axis=1) - np.trace(inverse @ xtvx, axis1=1, axis2=2)
    return ((residual**2).sum(axis=1) - trace_pv) / (batch.k - batch.p)


def _hunter_schmidt(batch: Batch) -> NDArray[np.float64]:
    """HS: ``(Q - k) / sum(w)`` at ``w = 1/vi`` (Hunter & Schmidt 2004)."""
    forms = quadratic_forms(batch, batch.centred, np.zeros(len(batch.yi)))
    return np.maximum(0.0, (forms.rss - batch.k) / forms.sum_w)


def _sidik_jonkman(batch: Batch) -> NDArray[np.float64]:
    """SJ: ``tau0 Q(tau0) / (k - p)``, ``tau0 = sum((y - ybar)^2) / k`` (Sidik & Jonkman 2005)."""
    y = batch.centred
    tau2_start = (y * y).sum(axis=1) / batch.k
    forms = quadratic_forms(batch, y, tau2_start)
    return np.maximum(0.0, tau2_start * forms.rss / (batch.k - batch.p))


def _fisher_step(batch: Batch, y: NDArray, tau2: NDArray, method: str) -> NDArray:
    """One scoring adjustment for ML, REML or EB (metafor's ``adj``).

    Fisher scoring: REML ``(y'PPy - tr P)/tr PP``, ML ``(y'PPy - tr W)/tr W^2``, EB
    ``(k/(k-p) y'Py - k)/tr W``. For intercept-only ML/REML, where the log-likelihood is
    locally concave the Newton step (observed information ``y'PPPy - tr(PP)/2``, resp.
    ``y'PPPy - tr(W^2)/2``) is taken instead: same fixed point, fewer iterations.
    """
    forms = quadratic_forms(batch, y, tau2)
    if method == "EB":
        k = batch.k
        return (forms.rss * k / (k - batch.p) - k) / forms.sum_w
    if method == "ML":
        score, information = forms.rss_pp - forms.sum_w, forms.sum_w2
    else:
        score, information = forms.rss_pp - forms.trace_p, forms.trace_pp
    fisher = score / information
    if forms.rss_ppp is None:
        return fisher
    observed = 2 * forms.rss_ppp - information
    with np.errstate(divide="ignore", invalid="ignore"):
        newton = score / observed
    usable = (observed > 0) & (np.abs(newton) <= 4 * np.abs(fisher))
    return np.where(usable, newton, fisher)


def _fisher_scoring(batch: Batch, method: str) -> tuple[NDArray, NDArray[np.bool_]]:
    """Iterate Fisher scoring from the truncated HE estimate; return (tau2, converged)."""
    y = batch.centred
    tau2 = np.maximum(0.0, _hedges(batch))
    active = np.ones(len(tau2), dtype=bool)
    for _ in range(MAX_ITERATIONS):
        if not active.any():
            break
        if active.all():
            sub, y_sub, current = batch, y, tau2
        else:
            sub = Batch(batch.yi[active], batch.vi[active], batch.mask[active], batch.X)
            y_sub, current = y[active], tau2[active]
        step = _fisher_step(sub, y_sub, current, method)
        step[~np.isfinite(step)] = 0.0
        for _halving in range(60):
            negative = current + step < 0
            if not negative.any():
                break
            step = np.where(negative, step / 2, step)
        updated = np.maximum(current + step, 0.0)
        change = np.abs(updated - current)
        tau2 = tau2.copy()
        tau2[active] = updated
        still = change > THRESHOLD * np.maximum(1.0, updated)
        active[np.flatnonzero(active)[~still]] = False
    return tau2, ~active


def _score(batch: Batch, y: NDArray, tau2: NDArray, method: str) -> NDArray:
    """Score-equation value whose root is the estimate (decreasing near the root).

    REML ``y'PPy - tr(P)``; ML ``y'PPy - tr(W)``; EB ``k/(k-p) y'Py - k``.
    """
    forms = quadratic_forms(batch, y, tau2)
    if method == "ML":
        return forms.rss_pp - forms.sum_w
    if method == "REML":
        return forms.rss_pp - forms.trace_p
    return forms.rss * batch.k / (batch.k - batch.p) - batch.k


def _score_root(batch: Batch, method: str) -> tuple[NDArray, NDArray[np.bool_]]:
    """Bracketed bisection for the root of the score equation; (tau2, found) per row.

    0 where the score at 0 is already <= 0 (the likelihood decreases from the boundary).
    """
    y = batch.centred
    n = len(batch.yi)
    low, high = np.zeros(n), np.ones(n) * max(1.0, float(np.nanmax(batch.vi)))
    at_zero = _score(batch, y, low, method) <= 0
    for _ in range(200):
        expand = ~at_zero & (_score(batch, y, high, method) > 0)
        if not expand.any():
            break
        low, high = np.where(expand, high, low), np.where(expand, high * 4, high)
    for _ in range(MAX_ROOT_ITERATIONS):
        middle = (low + high) / 2
        positive = _score(batch, y, middle, method) > 0
        low, high = np.where(positive, middle, low), np.where(positive, high, middle)
        if np.all(high - low <= 1e-15 * np.maximum(1.0, high)):
            break
    found = at_zero | (high - low <= 1e-12 * np.maximum(1.0, high))
    return np.where(at_zero, 0.0, (low + high) / 2), found


def _fallback(batch: Batch, method: str, tau2: NDArray, converged: NDArray) -> NDArray:
    """Rows where Fisher scoring failed: bisection on the score equation, else DL; warn."""
    rows = np.flatnonzero(~converged)
    sub = Batch(batch.yi[rows], batch.vi[rows], batch.mask[rows], batch.X)
    root, found = _score_root(sub, method)
    fallback = np.where(found, root, _dersimonian_laird(sub))
    warnings.warn(
        f"{method} Fisher scoring did not converge for {len(rows)} meta-analysis(es) "
        "(metafor stops with an error there); used bisection on the "
        f"{method} score equation for {int(found.sum())} and the DerSimonian-Laird "
        f"estimate for {int((~found).sum())}",
        TauConvergenceWarning,
        stacklevel=4,
    )
    result = tau2.copy()
    result[rows] = fallback
    return result


#: metafor's ``tol`` default (``.Machine$double.eps^0.25``) for its ``ll0check``.
LL0_TOLERANCE = np.finfo(float).eps ** 0.25


def _boundary_check(batch: Batch, method: str, tau2: NDArray) -> NDArray:
    """Set tau2 to 0 where the likelihood at 0 beats the converged value (metafor ``ll0check``)."""
    positive = tau2 > THRESHOLD
    if not positive.any():
        return tau2
    worse = positive & (
        log_likelihood(batch, np.zeros_like(tau2), method) - log_likelihood(batch, tau2, method)
        > LL0_TOLERANCE
    )
    if worse.any():
        warnings.warn(
            f"{method} converged to a local maximum for {int(worse.sum())} meta-analysis(es); "
            "the likelihood is higher at tau2 = 0, which is used (as metafor does)",
            TauConvergenceWarning,
            stacklevel=4,
        )
    return np.where(worse, 0.0, tau2)


def estimate_tau2(
    yi: ArrayLike | Batch,
    vi: ArrayLike | None,
    method: str = "REML",
    mask: ArrayLike | None = None,
    design: ArrayLike | None = None,
) -> NDArray[np.float64] | float:
    """Estimate tau^2 for one or many meta-analyses (rows) at once.

    Parameters
    ----------
    yi, vi : array_like, shape (k,) or (n, k)
        Effect sizes and sampling variances; rows are separate meta-analyses
        (or a prepared :class:`Batch` as ``yi`` and None as ``vi``).
    method : str
        Estimator, named as in metafor ``rma(method=)``: a key of :data:`ESTIMATORS`
        (FE, DL, HE, HS, SJ, PM, EB, ML, REML).
    mask : array_like of bool, shape (n, k), optional
        Which studies take part in each row (e.g. leave-one-out: ``~eye(k, dtype=bool)``).
        Non-finite entries are always excluded.
    design : array_like, shape (k, p), optional
        Design matrix X (default: intercept only).

    Returns
    -------
    float or ndarray (n,)
        A float for 1-D input, otherwise one value per row.

    Warns
    -----
    TauConvergenceWarning
        When Fisher scoring (ML, REML, EB) does not converge within ``MAX_ITERATIONS``
        (it can oscillate where metafor also fails); those rows are solved by bisection
        on the score equation, or, if no root is bracketed, fall back to DL.

    Notes
    -----
    Formulas (Viechtbauer 2005; metafor 3.8 ``rma.uni``), with ``P = W - WX(X'WX)^-1X'W``:
    DL ``(y'P y - (k-p))/tr(P)`` at W = V^-1; HE ``(RSS_OLS - tr(P_OLS V))/(k-p)``;
    HS ``(y'Py - k)/sum(1/vi)``; SJ ``tau0 y'P(tau0)y/(k-p)``; PM root of
    ``y'P(tau2)y = k-p``; Fisher scoring ML ``(y'PPy - tr W)/tr W^2``,
    REML ``(y'PPy - tr P)/tr PP``, EB ``(k/(k-p) y'Py - k)/tr W``.
    """
    one_dimensional = not isinstance(yi, Batch) and np.ndim(yi) == 1
    batch = as_batch(yi, vi, mask, design)
    estimator = ESTIMATORS.get(method.upper())
    if estimator is None:
        raise InputError(
            f"unknown tau2 method {method!r}; expected one of {', '.join(METHODS)}", "pool-method"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        tau2 = estimator.estimate(batch)
    tau2 = np.where(batch.k > batch.p, tau2, 0.0)
    return float(tau2[0]) if one_dimensional else tau2


def _common_effect(batch: Batch) -> NDArray[np.float64]:
    """FE: no between-study variance (the common-effect model)."""
    return np.zeros(len(batch.yi))


def _hedges_truncated(batch: Batch) -> NDArray[np.float64]:
    """HE truncated at zero."""
    return np.maximum(0.0, _hedges(batch))


def _paule_mandel(batch: Batch) -> NDArray[np.float64]:
    """PM: the root of ``y'P(tau2)y = k - p`` on [0, inf) (Paule & Mandel 1982)."""
    return solve_generalised_q(batch, target=batch.k - batch.p, centred=True)


def _hunter_schmidt_k(batch: Batch) -> NDArray[np.float64]:
    """HSk: ``(k/(k - p) Q - k)/sum(w)`` at ``w = 1/vi``, truncated at 0 (Brannick et al. 2019)."""
    forms = quadratic_forms(batch, batch.centred, np.zeros(len(batch.yi)))
    return np.maximum(0.0, (batch.k / (batch.k - batch.p) * forms.rss - batch.k) / forms.sum_w)


#: Iterations of the fixed-point estimators DLIT and SJIT (linear convergence).
FIXED_POINT_ITERATIONS = 100_000


def _fixed_point(batch: Batch, start: NDArray, update: Callable[..., NDArray]) -> NDArray:
    """Iterate ``tau2 <- update(tau2, forms)`` to a relative change below THRESHOLD."""
    tau2 = start.copy()
    active = np.ones(len(tau2), dtype=bool)
    y = batch.centred
    for _ in range(FIXED_POINT_ITERATIONS):
        if not active.any():
            break
        sub = (
            batch
            if active.all()
            else Batch(batch.yi[active], batch.vi[active], batch.mask[active], batch.X)
        )
        y_sub = y if active.all() else y[active]
        forms = quadratic_forms(sub, y_sub, tau2[active])
        updated = np.maximum(0.0, update(tau2[active], forms, sub))
        still = np.abs(updated - tau2[active]) > THRESHOLD * np.maximum(1.0, updated)
        tau2[active] = updated
        active[np.flatnonzero(active)[~still]] = False
    return tau2


def _dersimonian_laird_iterated(batch: Batch) -> NDArray[np.float64]:
    """DLIT: DL re-evaluated at its own estimate, from 0 to its fixed point.

    DerSimonian & Kacker (2007), Contemp Clin Trials 28, 105-114.

    ``tau2 <- max(0, (y'P(tau2)y - (k - p))/tr P(tau2))`` (metafor ``"DLIT"``).
    """
    return _fixed_point(
        batch,
        np.zeros(len(batch.yi)),
        lambda t, f, b: (f.rss - (b.k - b.p)) / f.trace_p,
    )


def _sidik_jonkman_iterated(batch: Batch) -> NDArray[np.float64]:
    """SJIT: SJ re-evaluated at its own estimate, ``tau2 <- tau2 y'P(tau2)y/(k - p)``.

    Starts at ``sum((y - ybar)^2)/k`` as SJ (Sidik & Jonkman 2007; metafor ``"SJIT"``).
    """
    y = batch.centred
    return _fixed_point(
        batch, (y * y).sum(axis=1) / batch.k, lambda t, f, b: t * f.rss / (b.k - b.p)
    )


def _paule_mandel_median(batch: Batch) -> NDArray[np.float64]:
    """PMM: the root of ``y'P(tau2)y = chi2_{k-p}(0.5)``, the median-unbiased PM."""
    target = special.chdtri(np.maximum(batch.k - batch.p, 1), 0.5)
    return solve_generalised_q(batch, target=target, centred=True)


def _iterative(method: str) -> Callable[[Batch], NDArray[np.float64]]:
    """Fisher scoring for ML, REML or EB, with the fallback and (ML, REML) ``ll0check``."""

    def estimate(batch: Batch) -> NDArray[np.float64]:
        tau2, converged = _fisher_scoring(batch, method)
        if not converged.all():
            tau2 = _fallback(batch, method, tau2, converged)
        if method in ("ML", "REML"):
            tau2 = _boundary_check(batch, method, tau2)
        return tau2

    return estimate


@dataclass(frozen=True)
class Estimator:
    """One tau^2 estimator: metafor's name, the label readers see, its reference, how.

    ``estimate(batch)`` returns tau^2 per row (rows with k <= p are zeroed by
    :func:`estimate_tau2`); ``iterative`` says whether the estimate is found iteratively
    (PM by root finding; EB, ML and REML by Fisher scoring, which may warn
    :class:`TauConvergenceWarning`) rather than in closed form.
    """

    name: str
    label: str
    reference: str
    estimate: Callable[[Batch], NDArray[np.float64]]
    iterative: bool


#: Every tau^2 estimator by metafor name, in the order ``--method`` lists them. The
#: analysis schema's ``model.method`` enum and the forest plot's labels are read from
#: here: adding an estimator is one :class:`Estimator` here and its test.
ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator(
            "FE", "fixed-effect", "common-effect (inverse-variance) model", _common_effect, False
        ),
        Estimator("DL", "DerSimonian-Laird", "DerSimonian & Laird 1986", _dersimonian_laird, False),
        Estimator("HE", "Hedges", "Hedges 1983", _hedges_truncated, False),
        Estimator("HS", "Hunter-Schmidt", "Hunter & Schmidt 2004", _hunter_schmidt, False),
        Estimator("SJ", "Sidik-Jonkman", "Sidik & Jonkman 2005", _sidik_jonkman, False),
        Estimator("PM", "Paule-Mandel", "Paule & Mandel 1982", _paule_mandel, True),
        Estimator(
            "PMM",
            "median-unbiased Paule-Mandel",
            "Viechtbauer 2021; metafor method PMM",
            _paule_mandel_median,
            True,
        ),
        Estimator(
            "HSK",
            "Hunter-Schmidt (k-corrected)",
            "Brannick et al. 2019",
            _hunter_schmidt_k,
            False,
        ),
        Estimator(
            "DLIT",
            "iterated DerSimonian-Laird",
            "DerSimonian & Kacker 2007",
            _dersimonian_laird_iterated,
            True,
        ),
        Estimator(
            "SJIT",
            "iterated Sidik-Jonkman",
            "Sidik & Jonkman 2007",
            _sidik_jonkman_iterated,
            True,
        ),
        Estimator(
            "EB", "empirical Bayes", "Morris 1983; Berkey et al. 1995", _iterative("EB"), True
        ),
        Estimator("ML", "ML", "maximum likelihood (Viechtbauer 2005)", _iterative("ML"), True),
        Estimator(
            "REML",
            "REML",
            "restricted maximum likelihood (Viechtbauer 2005)",
            _iterative("REML"),
            True,
        ),
    )
}
#: tau^2 estimators, with metafor's names (the keys of :data:`ESTIMATORS`).
METHODS = tuple(ESTIMATORS)
