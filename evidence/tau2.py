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
  step halving at zero;
- DL, HS, HE and SJ are truncated at zero; PM and the Q-profile bounds solve
  ``Q(tau2) = target`` on [0, inf).

Public API
----------
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
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: tau^2 estimators, with metafor's names.
METHODS = ("FE", "DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML")

#: Convergence threshold on the change in tau^2 between Fisher-scoring iterations.
THRESHOLD = 1e-12
#: Maximum number of Fisher-scoring iterations (metafor's ``maxiter`` default is 100).
MAX_ITERATIONS = 100
#: Maximum number of root-finding iterations (PM, Q-profile, score-equation fallback).
MAX_ROOT_ITERATIONS = 1000


class TauConvergenceWarning(UserWarning):
    """Fisher scoring did not converge; the message names the fallback used."""


@dataclass(frozen=True)
class Batch:
    """Validated, masked arrays for a batch of meta-analyses.

    Attributes
    ----------
    yi, vi : ndarray, shape (n, k)
        Effect sizes and sampling variances; masked entries hold 0 and 1.
    mask : ndarray of bool, shape (n, k)
        Which studies take part in which meta-analysis.
    X : ndarray, shape (k, p)
        Design matrix shared by every row.
    """

    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    mask: NDArray[np.bool_]
    X: NDArray[np.float64]

    @property
    def k(self) -> NDArray[np.float64]:
        """Number of studies in each row."""
        return self.mask.sum(axis=1).astype(float)

    @property
    def p(self) -> int:
        """Number of model coefficients."""
        return self.X.shape[1]

    @cached_property
    def intercept_only(self) -> bool:
        """Whether the design is a single column of ones."""
        return self.X.shape[1] == 1 and bool(np.all(self.X == 1.0))

    @property
    def centred(self) -> NDArray[np.float64]:
        """``yi`` minus its unweighted mean over the included studies (metafor's ``Ymc``)."""
        mean = (self.yi * self.mask).sum(axis=1) / np.maximum(self.k, 1)
        return np.where(self.mask, self.yi - mean[:, None], 0.0)


def make_batch(
    yi: ArrayLike, vi: ArrayLike, mask: ArrayLike | None = None, design: ArrayLike | None = None
) -> Batch:
    """Broadcast inputs to 2-D, zero the masked entries and attach the design matrix."""
    y = np.atleast_2d(np.asarray(yi, dtype=float))
    v = np.broadcast_to(np.atleast_2d(np.asarray(vi, dtype=float)), y.shape)
    m = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    m = np.broadcast_to(np.atleast_2d(m), y.shape) & np.isfinite(y) & np.isfinite(v)
    matrix = np.ones((y.shape[1], 1)) if design is None else np.asarray(design, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    return Batch(np.where(m, y, 0.0), np.where(m, v, 1.0), m, matrix)


def _weighted_fit(
    batch: Batch, y: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted least squares per row.

    Returns the residuals ``y - X b``, the inverse ``(X'WX)^-1`` (n, p, p) and ``X'W^2X``
    (n, p, p), where ``b = (X'WX)^-1 X'Wy``.
    """
    matrix = batch.X
    xtwx = np.einsum("nk,kp,kq->npq", w, matrix, matrix)
    inverse = np.linalg.inv(xtwx)
    xtwy = np.einsum("nk,kp->np", w * y, matrix)
    beta = np.einsum("npq,nq->np", inverse, xtwy)
    residual = np.where(batch.mask, y - beta @ matrix.T, 0.0)
    xtw2x = np.einsum("nk,kp,kq->npq", w * w, matrix, matrix)
    return residual, inverse, xtw2x


@dataclass(frozen=True)
class QuadraticForms:
    """Traces and quadratic forms of P = W - W X (X'WX)^-1 X'W at given weights.

    Attributes
    ----------
    rss : y'Py, the weighted residual sum of squares (the generalised Q).
    rss_pp : y'PPy.
    trace_p : tr(P) = sum(w) - tr((X'WX)^-1 X'W^2X).
    trace_pp : tr(PP).
    sum_w, sum_w2 : sums of the weights and of their squares.
    rss_ppp : y'PPPy (intercept-only models only; enables Newton steps).
    """

    rss: NDArray[np.float64]
    rss_pp: NDArray[np.float64]
    trace_p: NDArray[np.float64]
    trace_pp: NDArray[np.float64]
    sum_w: NDArray[np.float64]
    sum_w2: NDArray[np.float64]
    rss_ppp: NDArray[np.float64] | None = None


def quadratic_forms(
    batch: Batch, y: NDArray[np.float64], tau2: NDArray[np.float64]
) -> QuadraticForms:
    """Compute the P-matrix quantities at ``w = 1 / (vi + tau2)`` without forming P.

    ``tr(PP) = tr(W^2) - 2 tr(A X'W^3X) + tr(A X'W^2X A X'W^2X)`` with ``A = (X'WX)^-1``.
    """
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    if batch.intercept_only:
        return _intercept_forms(y, w)
    residual, inverse, xtw2x = _weighted_fit(batch, y, w)
    weighted_residual = w * residual
    xtw3x = np.einsum("nk,kp,kq->npq", w**3, batch.X, batch.X)
    a_w2 = inverse @ xtw2x
    sum_w2 = (w * w).sum(axis=1)
    return QuadraticForms(
        rss=(w * residual * residual).sum(axis=1),
        rss_pp=(weighted_residual**2).sum(axis=1),
        trace_p=w.sum(axis=1) - np.trace(a_w2, axis1=1, axis2=2),
        trace_pp=sum_w2
        - 2 * np.trace(inverse @ xtw3x, axis1=1, axis2=2)
        + np.einsum("npq,nqp->n", a_w2, a_w2),
        sum_w=w.sum(axis=1),
        sum_w2=sum_w2,
    )


def _intercept_forms(y: NDArray[np.float64], w: NDArray[np.float64]) -> QuadraticForms:
    """Compute :func:`quadratic_forms` in closed form for an intercept-only model.

    With ``S_j = sum w^j``: ``tr(P) = S1 - S2/S1``, ``tr(PP) = S2 - 2 S3/S1 + (S2/S1)^2``.
    """
    sum_w = w.sum(axis=1)
    mean = (w * y).sum(axis=1) / sum_w
    weighted_residual = w * (y - mean[:, None])
    w2 = w * w
    sum_w2 = w2.sum(axis=1)
    ratio = sum_w2 / sum_w
    second = weighted_residual - ((w * weighted_residual).sum(axis=1) / sum_w)[:, None]
    return QuadraticForms(
        rss=(weighted_residual * (y - mean[:, None])).sum(axis=1),
        rss_pp=(weighted_residual * weighted_residual).sum(axis=1),
        trace_p=sum_w - ratio,
        trace_pp=sum_w2 - 2 * (w2 * w).sum(axis=1) / sum_w + ratio * ratio,
        sum_w=sum_w,
        sum_w2=sum_w2,
        rss_ppp=(w * second * second).sum(axis=1),
    )


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
    residual, inverse, _ = _weighted_fit(batch, batch.centred, ones)
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


def log_likelihood(batch: Batch, tau2: NDArray, method: str) -> NDArray:
    """ML or REML log-likelihood per row, up to a constant (metafor ``ll.ML``/``ll.REML``).

    ``-1/2 sum log(vi + tau2) - 1/2 y'Py`` plus, for REML, ``-1/2 log|X'WX|``; on ``yi``
    centred as metafor's estimator does.
    """
    y = batch.centred
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    log_variance = np.where(batch.mask, np.log(batch.vi + tau2[:, None]), 0.0).sum(axis=1)
    value = -0.5 * log_variance - 0.5 * generalised_q(batch, tau2, y)
    if method == "REML" and batch.intercept_only:
        value = value - 0.5 * np.log(w.sum(axis=1))
    elif method == "REML":
        xtwx = np.einsum("nk,kp,kq->npq", w, batch.X, batch.X)
        value = value - 0.5 * np.linalg.slogdet(xtwx)[1]
    return value


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


def generalised_q(batch: Batch, tau2: NDArray, y: NDArray | None = None) -> NDArray:
    """Generalised Q: ``sum w (y - X b)^2`` at ``w = 1/(vi + tau2)``."""
    y = batch.yi if y is None else y
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    if batch.intercept_only:
        mean = (w * y).sum(axis=1) / w.sum(axis=1)
        residual = y - mean[:, None]
        return (w * residual * residual).sum(axis=1)
    residual, _, _ = _weighted_fit(batch, y, w)
    return (w * residual * residual).sum(axis=1)


def solve_generalised_q(
    yi: ArrayLike | Batch,
    vi: ArrayLike | None = None,
    target: ArrayLike = 0.0,
    mask: ArrayLike | None = None,
    design: ArrayLike | None = None,
    centred: bool = False,
) -> NDArray[np.float64]:
    """Solve ``Q(tau2) = target`` for tau2 >= 0, row by row, vectorised.

    Q(tau2) is decreasing and convex in tau2 (``Q' = -y'PPy``, ``Q'' = 2 y'PPPy >= 0``),
    so Newton's method started at 0 increases monotonically to the root. Because Q
    behaves like ``c/(a + tau2)``, Newton on ``1/Q`` (nearly linear) is tried first and
    kept when it stays inside the bracket of known signs; otherwise the plain Newton step
    or bisection is used. Rows with ``Q(0) <= target`` get 0 (Paule & Mandel 1982;
    Viechtbauer 2007, Stat Med 26, 37-52).

    Parameters
    ----------
    yi : array_like or Batch
        Effect sizes (see :func:`estimate_tau2`), or a prepared :class:`Batch`.
    vi : array_like, optional
        Sampling variances (not needed with a Batch).
    target : float or array (n,)
        Value of Q to reach (``k - p`` for Paule-Mandel, chi-square quantiles for the
        Q-profile interval).
    mask : array_like of bool, optional
        Which studies take part in each row.
    design : array_like (k, p), optional
        Design matrix (default: intercept only).
    centred : bool
        Use ``yi`` centred at its mean (metafor does for PM, not for ``confint``).

    Returns
    -------
    ndarray (n,)
        The root; ``inf`` where Q stays above target for every tau2 (cannot happen when
        the model has an intercept and target > 0 is below k - p... in practice rare).
    """
    batch = yi if isinstance(yi, Batch) else make_batch(yi, vi, mask, design)
    y = batch.centred if centred else batch.yi
    n = len(batch.yi)
    goal = np.broadcast_to(np.asarray(target, dtype=float), (n,)).copy()
    x, low, high = np.zeros(n), np.zeros(n), np.full(n, np.inf)
    active = generalised_q(batch, x, y) > goal
    for _ in range(MAX_ROOT_ITERATIONS):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        if rows.size == n:
            sub, y_sub = batch, y
        else:
            sub = Batch(batch.yi[rows], batch.vi[rows], batch.mask[rows], batch.X)
            y_sub = y[rows]
        current, target_rows = x[rows], goal[rows]
        forms = quadratic_forms(sub, y_sub, current)
        above = forms.rss > target_rows
        low[rows] = np.where(above, current, low[rows])
        high[rows] = np.where(above, high[rows], current)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = current + (forms.rss - target_rows) / forms.rss_pp
            reciprocal = current + forms.rss * (forms.rss - target_rows) / (
                target_rows * forms.rss_pp
            )
        lo, hi = low[rows], high[rows]
        proposal = np.where((reciprocal > lo) & (reciprocal < hi), reciprocal, newton)
        inside = (proposal > lo) & (proposal < hi) & np.isfinite(proposal)
        proposal = np.where(inside, proposal, np.where(np.isfinite(hi), (lo + hi) / 2, lo))
        x[rows] = proposal
        done = (np.abs(proposal - current) <= 1e-14 * np.maximum(1.0, proposal)) | (
            np.isfinite(hi) & (hi - lo <= 1e-14 * np.maximum(1.0, hi))
        )
        diverging = proposal > 1e12 * (1.0 + batch.vi[rows].max(axis=1))
        x[rows[diverging]] = np.inf
        active[rows[done | diverging]] = False
    return x


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
    method : {"FE", "DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML"}
        Estimator, named as in metafor ``rma(method=)``.
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
    batch = yi if isinstance(yi, Batch) else make_batch(yi, vi, mask, design)
    name = method.upper()
    if name not in METHODS:
        raise ValueError(f"unknown tau2 method {method!r}; expected one of {', '.join(METHODS)}")
    with np.errstate(divide="ignore", invalid="ignore"):
        tau2 = _dispatch(batch, name)
    tau2 = np.where(batch.k > batch.p, tau2, 0.0)
    return float(tau2[0]) if one_dimensional else tau2


def _dispatch(batch: Batch, name: str) -> NDArray[np.float64]:
    """Run the named estimator on every row (rows with k <= p are zeroed by the caller)."""
    if name == "FE":
        tau2 = np.zeros(len(batch.yi))
    elif name == "DL":
        tau2 = _dersimonian_laird(batch)
    elif name == "HE":
        tau2 = np.maximum(0.0, _hedges(batch))
    elif name == "HS":
        tau2 = _hunter_schmidt(batch)
    elif name == "SJ":
        tau2 = _sidik_jonkman(batch)
    elif name == "PM":
        tau2 = solve_generalised_q(batch, target=batch.k - batch.p, centred=True)
    else:
        tau2, converged = _fisher_scoring(batch, name)
        if not converged.all():
            tau2 = _fallback(batch, name, tau2, converged)
        if name in ("ML", "REML"):
            tau2 = _boundary_check(batch, name, tau2)
    return tau2
