"""Batches of meta-analyses and the quadratic forms every estimator is built from.

A :class:`Batch` holds n meta-analyses as the rows of 2-D arrays ``yi`` and ``vi`` with a
boolean ``mask`` of which studies take part, and a design matrix ``X`` (k x p) shared by
all rows. With ``W = diag(1/(vi + tau2))`` and ``P = W - W X (X'WX)^-1 X'W`` (Viechtbauer
2005, J Educ Behav Stat 30, 261-293; metafor 3.8 ``rma.uni``), :func:`quadratic_forms`
returns ``y'Py``, ``y'PPy``, ``tr(P)``, ``tr(PP)`` without ever forming the k x k matrix P
(closed forms for intercept-only models, p x p solves otherwise), so the cost is
O(n k p^2).

Public API: ``Batch``, ``make_batch``, ``safe_inverse``, ``weighted_fit``, ``QuadraticForms``,
``quadratic_forms``, ``generalised_q``, ``solve_generalised_q``, ``log_likelihood``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.onepass import RowSums, Sums, all_finite

#: Maximum number of root-finding iterations (PM, Q-profile, score-equation fallback).
MAX_ROOT_ITERATIONS = 1000


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

    @cached_property
    def k(self) -> NDArray[np.float64]:
        """Number of studies in each row (computed once; read-only)."""
        if self.full:
            return _read_only(np.full(len(self.mask), float(self.mask.shape[1])))
        return _read_only(self.mask.sum(axis=1).astype(float))

    @property
    def p(self) -> int:
        """Number of model coefficients."""
        return self.X.shape[1]

    @cached_property
    def full(self) -> bool:
        """Whether every study takes part in every row (no mask to apply)."""
        return bool(self.mask.all())

    @cached_property
    def intercept_only(self) -> bool:
        """Whether the design is a single column of ones."""
        return self.X.shape[1] == 1 and bool(np.all(self.X == 1.0))

    @cached_property
    def mean(self) -> NDArray[np.float64]:
        """Unweighted mean of ``yi`` over the included studies, per row (computed once)."""
        return _read_only(np.einsum("nk->n", self.yi) / np.maximum(self.k, 1))  # masked hold 0

    @cached_property
    def variance_range(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The smallest and largest ``vi`` of the included studies, per row."""
        if self.full:
            return _read_only(self.vi.min(axis=1)), _read_only(self.vi.max(axis=1))
        low = np.where(self.mask, self.vi, np.inf).min(axis=1)
        return _read_only(low), _read_only(np.where(self.mask, self.vi, -np.inf).max(axis=1))

    @cached_property
    def centred(self) -> NDArray[np.float64]:
        """``yi`` minus its unweighted mean over the included studies (metafor's ``Ymc``)."""
        centred = self.yi - self.mean[:, None]
        return _read_only(centred if self.full else np.where(self.mask, centred, 0.0))

    @cached_property
    def workspace(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Two (n, k) scratch arrays reused by :func:`intercept_sums` (no page faults)."""
        return np.empty(self.yi.shape), np.empty(self.yi.shape)

    @cached_property
    def row(self) -> RowSums:
        """The one-pass sums of a single-row batch (:class:`~evidence.stats.onepass.RowSums`)."""
        if len(self.yi) != 1:
            raise ValueError("RowSums serve a batch of one row")
        mask = None if self.full else self.mask[0]
        return RowSums(self.yi[0], self.vi[0], float(self.mean[0]), mask)

    @cached_property
    def zero_sums(self) -> Sums:
        """:func:`intercept_sums` of ``centred`` at tau2 = 0 (``w = 1/vi``), computed once."""
        return intercept_sums(self, np.zeros(len(self.yi)))

    @cached_property
    def zero_forms(self) -> QuadraticForms:
        """:func:`quadratic_forms` of ``centred`` at tau2 = 0 (Q, tr P, ...), computed once."""
        if self.intercept_only:
            sums = self.zero_sums
            return QuadraticForms(
                rss=sums.q,
                rss_pp=sums.q_weighted,
                trace_p=sums.s1 - sums.s2 / sums.s1,
                trace_pp=np.full(len(sums.s1), np.nan),  # not needed at tau2 = 0
                sum_w=sums.s1,
                sum_w2=sums.s2,
            )
        return quadratic_forms(self, self.centred, np.zeros(len(self.yi)))

    def take(self, rows: NDArray[np.intp]) -> Batch:
        """Return the sub-batch of ``rows`` (repeats allowed), keeping what is already known.

        The design, whether it is intercept-only, and the centred effects of the rows are
        carried over rather than recomputed; the identity selection returns ``self``.
        """
        n = len(self.yi)
        if rows.size == n and (n == 1 or np.array_equal(rows, np.arange(n))):
            return self
        sub = Batch(self.yi[rows], self.vi[rows], self.mask[rows], self.X)
        known = self.__dict__
        if "intercept_only" in known:
            sub.__dict__["intercept_only"] = known["intercept_only"]
        if known.get("full"):
            sub.__dict__["full"] = True
        if "centred" in known:
            sub.__dict__["centred"] = known["centred"][rows]
        if "variance_range" in known:
            sub.__dict__["variance_range"] = tuple(x[rows] for x in known["variance_range"])
        return sub


def _read_only(array: NDArray) -> NDArray:
    array.flags.writeable = False
    return array


def make_batch(
    yi: ArrayLike, vi: ArrayLike, mask: ArrayLike | None = None, design: ArrayLike | None = None
) -> Batch:
    """Broadcast inputs to 2-D, zero the masked entries and attach the design matrix."""
    y = np.atleast_2d(np.asarray(yi, dtype=float))
    v = np.broadcast_to(np.atleast_2d(np.asarray(vi, dtype=float)), y.shape)
    if mask is None and all_finite(y) and all_finite(v):
        m, full = np.broadcast_to(np.True_, y.shape), True  # read-only, no memory to fill
    else:
        m = np.ones(y.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        m = np.broadcast_to(np.atleast_2d(m), y.shape) & np.isfinite(y) & np.isfinite(v)
        full = bool(m.all())
    if design is None:  # intercept only: a read-only column of ones that takes no memory
        matrix = np.broadcast_to(np.float64(1.0), (y.shape[1], 1))
    else:
        matrix = np.asarray(design, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if full:
        batch = Batch(np.ascontiguousarray(y), np.ascontiguousarray(v), m, matrix)
    else:
        batch = Batch(np.where(m, y, 0.0), np.where(m, v, 1.0), m, matrix)
    batch.__dict__["full"] = full
    if design is None:
        batch.__dict__["intercept_only"] = True
    return batch


def as_batch(
    yi: ArrayLike | Batch,
    vi: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    design: ArrayLike | None = None,
) -> Batch:
    """Return ``yi`` when it is already a :class:`Batch`, else :func:`make_batch` of the arrays."""
    if isinstance(yi, Batch):
        return yi
    if vi is None:
        raise TypeError("vi is required unless yi is a prepared Batch")
    return make_batch(yi, vi, mask, design)


def safe_inverse(matrices: NDArray[np.float64]) -> NDArray[np.float64]:
    """Invert a stack of p x p matrices; singular ones (e.g. a row with no studies) give NaN."""
    singular = np.abs(np.linalg.det(matrices)) <= 1e-300
    if not singular.any():
        return np.asarray(np.linalg.inv(matrices), dtype=float)
    eye = np.broadcast_to(np.eye(matrices.shape[-1]), matrices.shape)
    inverse = np.linalg.inv(np.where(singular[:, None, None], eye, matrices))
    inverse[singular] = np.nan
    return inverse


def weighted_fit(
    batch: Batch, y: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Weighted least squares per row.

    Returns the residuals ``y - X b``, the inverse ``(X'WX)^-1`` (n, p, p) and ``X'W^2X``
    (n, p, p), where ``b = (X'WX)^-1 X'Wy``.
    """
    matrix = batch.X
    xtwx = np.einsum("nk,kp,kq->npq", w, matrix, matrix)
    inverse = safe_inverse(xtwx)
    xtwy = np.einsum("nk,kp->np", w * y, matrix)
    beta = np.einsum("npq,nq->np", inverse, xtwy)
    residual = np.where(batch.mask, y - beta @ matrix.T, 0.0)
    xtw2x = np.einsum("nk,kp,kq->npq", w * w, matrix, matrix)
    return residual, inverse, xtw2x


def intercept_sums(
    batch: Batch,
    tau2: NDArray[np.float64],
    y: NDArray[np.float64] | None = None,
    third: bool = False,
    second: bool = True,
    order: int | None = None,
) -> Sums:
    """Compute :class:`Sums` at ``w = 1/(vi + tau2)`` in a few passes over the data.

    ``order`` 0 gives ``s1``, ``sy``; 1 adds ``syy``; 2 (the default) the squares
    ``s2``, ``s2y``, ``s2yy``; 3 (``third``) the cubes, for the score's derivative;
    ``second=False`` means order 1. Sums not asked for are NaN (the coefficients need
    ``s1`` and ``sy``, their Knapp-Hartung scale also ``syy``). One division pass for
    ``w``, one product for ``w y`` and a reduction per sum. A single row of centred
    effects goes through :attr:`Batch.row` (blocked passes that make no full-length array;
    the sums of its last tau2 values kept).
    """
    if order is None:
        order = 3 if third else 2 if second else 1
    if len(batch.yi) == 1 and (y is None or y is batch.__dict__.get("centred")):
        return batch.row.sums(float(tau2[0]), order)[0]
    y = batch.centred if y is None else y
    w, wy = batch.workspace
    np.add(batch.vi, tau2[:, None], out=w)
    np.divide(1.0, w, out=w)
    if not batch.full:
        w *= batch.mask
    np.multiply(w, y, out=wy)
    values = [np.einsum("nk->n", w), np.einsum("nk->n", wy)]
    if order >= 1:
        values.append(np.einsum("nk,nk->n", wy, y))
    if order >= 2:
        values += [
            np.einsum("nk,nk->n", w, w),
            np.einsum("nk,nk->n", wy, w),
            np.einsum("nk,nk->n", wy, wy),
        ]
    if order >= 3:
        values += [
            np.einsum("nk,nk,nk->n", w, w, w),
            np.einsum("nk,nk,nk->n", w, w, wy),
            np.einsum("nk,nk,nk->n", w, wy, wy),
        ]
    missing = np.full(len(w), np.nan)
    values += [missing] * (6 - len(values))
    return Sums(*values)


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
    residual, inverse, xtw2x = weighted_fit(batch, y, w)
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


def _row_sum(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum over studies (axis 1) without ``ndarray.sum``'s Python-level wrapper."""
    return np.add.reduce(values, axis=1)


def _intercept_forms(y: NDArray[np.float64], w: NDArray[np.float64]) -> QuadraticForms:
    """Compute :func:`quadratic_forms` in closed form for an intercept-only model.

    With ``S_j = sum w^j``: ``tr(P) = S1 - S2/S1``, ``tr(PP) = S2 - 2 S3/S1 + (S2/S1)^2``.
    """
    sum_w = _row_sum(w)
    mean = _row_sum(w * y) / sum_w
    weighted_residual = w * (y - mean[:, None])
    w2 = w * w
    sum_w2 = _row_sum(w2)
    ratio = sum_w2 / sum_w
    second = weighted_residual - (_row_sum(w * weighted_residual) / sum_w)[:, None]
    return QuadraticForms(
        rss=(weighted_residual * (y - mean[:, None])).sum(axis=1),
        rss_pp=_row_sum(weighted_residual * weighted_residual),
        trace_p=sum_w - ratio,
        trace_pp=sum_w2 - 2 * _row_sum(w2 * w) / sum_w + ratio * ratio,
        sum_w=sum_w,
        sum_w2=sum_w2,
        rss_ppp=_row_sum(w * second * second),
    )


def generalised_q(batch: Batch, tau2: NDArray, y: NDArray | None = None) -> NDArray:
    """Generalised Q: ``sum w (y - X b)^2`` at ``w = 1/(vi + tau2)``."""
    if batch.intercept_only:
        return intercept_sums(batch, tau2, y).q  # y None: the centred effects
    y = batch.yi if y is None else y
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    residual, _, _ = weighted_fit(batch, y, w)
    return (w * residual * residual).sum(axis=1)


def solve_generalised_q(
    yi: ArrayLike | Batch,
    vi: ArrayLike | None = None,
    target: ArrayLike = 0.0,
    mask: ArrayLike | None = None,
    design: ArrayLike | None = None,
    centred: bool = False,
    start: NDArray[np.float64] | None = None,
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
    start : array (n,), optional
        Where to begin the search instead of 0 (NaN: at 0); the bracket of known signs
        starts as ``[0, inf)`` either way, so the root found is the same.

    Returns
    -------
    ndarray (n,)
        The root; ``inf`` where Q stays above target for every tau2 (cannot happen when
        the model has an intercept and target > 0 is below k - p... in practice rare).
    """
    batch = as_batch(yi, vi, mask, design)
    # Q is invariant to shifting y when the model has an intercept: centre for accuracy
    # (None: the centred effects, which a single row never builds as an array of its own).
    y = None if batch.intercept_only else batch.centred if centred else batch.yi
    n = len(batch.yi)
    goal = np.broadcast_to(np.asarray(target, dtype=float), (n,)).copy()
    x, low, high = np.zeros(n), np.zeros(n), np.full(n, np.inf)
    active = generalised_q(batch, x, y) > goal
    if start is not None:
        x = np.where(active & (start > 0), start, 0.0)
    largest = batch.variance_range[1] if batch.full else batch.vi.max(axis=1)  # masked: 1
    ceiling = 1e12 * (1.0 + largest)  # beyond it Q never reaches the target: inf
    for _ in range(MAX_ROOT_ITERATIONS):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        sub = batch.take(rows)
        y_sub = y if sub is batch or y is None else y[rows]
        current, target_rows = x[rows], goal[rows]
        forms = _q_and_slope(sub, y_sub, current)
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
        diverging = proposal > ceiling[rows]
        x[rows[diverging]] = np.inf
        active[rows[done | diverging]] = False
    return x


def _q_and_slope(batch: Batch, y: NDArray | None, tau2: NDArray) -> QuadraticForms:
    """``y'Py`` and ``y'PPy`` (minus the slope of Q in tau2) at ``tau2``, per row.

    ``y`` None: the centred effects of an intercept-only batch.
    """
    if not batch.intercept_only:
        return quadratic_forms(batch, batch.centred if y is None else y, tau2)
    sums = intercept_sums(batch, tau2, y)
    q, slope = sums.q, sums.q_weighted
    return QuadraticForms(q, slope, sums.s1, sums.s2, sums.s1, sums.s2)


def _sums_and_logs(batch: Batch, tau2: NDArray, order: int) -> tuple[Sums, NDArray]:
    """:func:`intercept_sums` (of the centred effects) and ``sum log(vi + tau2)`` per row.

    A single row gets both from one pass of :meth:`RowSums.sums` (the log taken of the
    buffer that then becomes ``w``).
    """
    if len(batch.yi) == 1:
        sums, log_sum = batch.row.sums(float(tau2[0]), order, log=True)
        return sums, np.array([log_sum])
    logs = np.log(batch.vi + tau2[:, None])
    log_variance = np.einsum("nk->n", logs if batch.full else logs * batch.mask)
    return intercept_sums(batch, tau2, third=order == 3), log_variance


def log_likelihood(batch: Batch, tau2: NDArray, method: str) -> NDArray:
    """ML or REML log-likelihood per row, up to a constant (metafor ``ll.ML``/``ll.REML``).

    ``-1/2 sum log(vi + tau2) - 1/2 y'Py`` plus, for REML, ``-1/2 log|X'WX|``; on ``yi``
    centred as metafor's estimator does.
    """
    if batch.intercept_only:
        sums, log_variance = _sums_and_logs(batch, tau2, 2)
        value = -0.5 * log_variance - 0.5 * sums.q
        return value - 0.5 * np.log(sums.s1) if method == "REML" else value
    logs = np.log(batch.vi + tau2[:, None])
    log_variance = np.einsum("nk->n", logs if batch.full else logs * batch.mask)
    w = np.where(batch.mask, 1.0 / (batch.vi + tau2[:, None]), 0.0)
    value = -0.5 * log_variance - 0.5 * generalised_q(batch, tau2, batch.centred)
    if method == "REML":
        xtwx = np.einsum("nk,kp,kq->npq", w, batch.X, batch.X)
        value = value - 0.5 * np.linalg.slogdet(xtwx)[1]
    return value


def log_likelihood_and_score(batch: Batch, tau2: NDArray, method: str) -> tuple[NDArray, NDArray]:
    """Intercept-only ML/REML log-likelihood (as :func:`log_likelihood`) and score, at once.

    The score is ``2 dll/dtau2``: ``sum w^2 (y - mu)^2 - sum w`` (ML), plus
    ``sum w^2 / sum w`` (REML); both come from one :func:`intercept_sums`.
    """
    sums, log_variance = _sums_and_logs(batch, tau2, 2)
    value = -0.5 * log_variance - 0.5 * sums.q
    score = sums.q_weighted - sums.s1
    if method == "REML":
        value = value - 0.5 * np.log(sums.s1)
        score = score + sums.s2 / sums.s1
    return value, score


def bracketed_root(
    function: Callable[[NDArray[np.intp], NDArray[np.float64]], NDArray[np.float64]],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
    f_low: NDArray[np.float64],
    f_high: NDArray[np.float64],
    tolerance: float = 1e-12,
    max_iterations: int = MAX_ROOT_ITERATIONS,
    slope: Callable[[NDArray[np.intp], NDArray[np.float64]], NDArray[np.float64]] | None = None,
    floor: NDArray[np.float64] | float | None = None,
    start: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Roots of ``function`` in brackets ``[low, high]`` over which it changes sign, per row.

    ``function(rows, x)`` evaluates the rows ``rows`` at ``x`` (vectorised). Regula falsi
    with the Illinois modification (a retained end's value is halved), and bisection
    whenever two steps have not halved the bracket; stops when the bracket is narrower
    than ``tolerance * max(|x|, tiny)`` or the value is exactly 0 (Dowell & Jarratt 1971).
    With ``slope(rows, x)``, the derivative at the point just evaluated (called right
    after ``function`` on the same rows and points, so it may reuse that evaluation), a
    Newton step is taken whenever it stays inside the bracket, and a Newton step smaller
    than the tolerance also ends the search. Returns the roots and whether each reached
    the tolerance. ``floor`` (per row) is added to ``|x|`` in the tolerance, so roots near 0
    stop at an absolute precision. ``start`` (per row) is the first point tried where it
    lies inside the bracket.
    """
    sign = np.where(f_low > 0, 1.0, -1.0)
    a, b = low.astype(float).copy(), high.astype(float).copy()
    fa, fb = f_low * sign, f_high * sign  # now fa > 0 >= fb
    x = np.where(fa == 0, a, b).astype(float)
    done = (fa == 0) | (fb == 0)
    retained = np.zeros(a.size, dtype=np.int8)
    width_before = b - a
    width_two_ago = np.full(a.size, np.inf)
    tiny = np.finfo(float).tiny
    # the Newton point from the last evaluation (first: the start, if any)
    newton = np.full(a.size, np.nan) if start is None else start.astype(float).copy()
    offsets = np.broadcast_to(np.asarray(0.0 if floor is None else floor, dtype=float), a.shape)
    for _ in range(max_iterations):
        active = np.flatnonzero(~done)
        if active.size == 0:
            break
        aa, bb, ffa, ffb = a[active], b[active], fa[active], fb[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            secant = bb - ffb * (bb - aa) / (ffb - ffa)
        halve = (bb - aa) > 0.5 * width_two_ago[active]
        inside = np.isfinite(secant) & (secant > aa) & (secant < bb)
        trial = np.where(halve | ~inside, 0.5 * (aa + bb), secant)
        jump = newton[active]
        usable = np.isfinite(jump) & (jump > aa) & (jump < bb)
        trial = np.where(usable, jump, trial)
        value = function(active, trial) * sign[active]
        small_step = np.zeros(active.size, dtype=bool)
        if slope is not None:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                step = value / (slope(active, trial) * sign[active])
            newton[active] = trial - step
            small_step = np.abs(step) <= tolerance * (
                np.maximum(np.abs(trial), tiny) + offsets[active]
            )
        width_two_ago[active] = width_before[active]
        width_before[active] = bb - aa
        positive = value > 0
        new_a, new_b = np.where(positive, trial, aa), np.where(positive, bb, trial)
        new_fa, new_fb = np.where(positive, value, ffa), np.where(positive, ffb, value)
        kept = np.where(positive, -1, 1).astype(np.int8)
        twice = kept == retained[active]
        new_fa = np.where(twice & (kept == 1), new_fa / 2, new_fa)
        new_fb = np.where(twice & (kept == -1), new_fb / 2, new_fb)
        retained[active] = kept
        a[active], b[active], fa[active], fb[active] = new_a, new_b, new_fa, new_fb
        x[active] = trial
        narrow = (new_b - new_a) <= tolerance * (np.maximum(np.abs(trial), tiny) + offsets[active])
        done[active[(value == 0) | narrow | small_step]] = True
    return x, done
