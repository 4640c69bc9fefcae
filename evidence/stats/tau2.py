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
- ML and REML return the **global** maximum of the (restricted) log-likelihood over
  tau2 >= 0 (:mod:`evidence.stats.likelihood`: every local maximum is bracketed on a grid
  bounded by a closed-form upper limit and refined to 1e-12; the highest wins). metafor's
  Fisher scoring returns the same number wherever it reaches the global maximum; where
  the likelihood has two peaks it can stop at the lower one (issue 11), and ours does not;
- EB and PM solve ``y'P(tau2)y = k - p`` (the generalised Q decreases in tau2, so the root
  is unique), DL, HS, HE and SJ are truncated at zero, and the Q-profile bounds solve
  ``Q(tau2) = target`` on [0, inf).

The batch arrays and quadratic forms live in :mod:`evidence.stats.batch` (re-exported here).

Public API
----------
``ESTIMATORS``
    The one registry of estimators (:class:`Estimator`: metafor name, display label,
    reference, function, whether iterative); ``METHODS`` are its keys.
``estimate_tau2(yi, vi, method, mask=None, design=None)``
    tau^2 per row for method in ``METHODS``.
``fit_tau2(batch, method)``
    tau^2 per row and, for ML and REML, the :class:`~evidence.stats.likelihood.Maxima`
    found (every local maximum of rows that have several).
``solve_generalised_q(yi, vi, target, mask=None, design=None)``
    the tau^2 at which the generalised Q statistic equals ``target`` (Paule-Mandel and
    Q-profile confidence intervals).
``TauConvergenceWarning``
    warned when an ML or REML root bracket did not narrow to the tolerance (1e-12
    relative) within the iteration cap; the message says how many rows and that the
    midpoint of the bracket is used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from evidence.stats.batch import (
    Batch,
    as_batch,
    generalised_q,
    make_batch,
    quadratic_forms,
    solve_generalised_q,
    weighted_fit,
)
from evidence.stats.errors import InputError
from evidence.stats.likelihood import TOLERANCE, Maxima, likelihood_maxima

__all__ = [
    "ESTIMATORS",
    "METHODS",
    "Batch",
    "Estimator",
    "TauConvergenceWarning",
    "estimate_tau2",
    "fit_tau2",
    "generalised_q",
    "make_batch",
    "quadratic_forms",
    "solve_generalised_q",
]

#: Methods whose estimate maximises a likelihood (the global maximum is returned).
LIKELIHOOD_METHODS = ("ML", "REML")
#: Convergence threshold (relative change of tau^2) of the fixed-point estimators.
THRESHOLD = 1e-12


class TauConvergenceWarning(UserWarning):
    """A tau^2 root search stopped short of its tolerance; the message says what was used."""


def _dersimonian_laird(batch: Batch) -> NDArray[np.float64]:
    """DL: ``(Q - (k - p)) / tr(P)`` at ``w = 1/vi`` (DerSimonian & Laird 1986)."""
    forms = batch.zero_forms
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
    forms = batch.zero_forms
    return np.maximum(0.0, (forms.rss - batch.k) / forms.sum_w)


def _sidik_jonkman(batch: Batch) -> NDArray[np.float64]:
    """SJ: ``tau0 Q(tau0) / (k - p)``, ``tau0 = sum((y - ybar)^2) / k`` (Sidik & Jonkman 2005)."""
    y = batch.centred
    tau2_start = (y * y).sum(axis=1) / batch.k
    forms = quadratic_forms(batch, y, tau2_start)
    return np.maximum(0.0, tau2_start * forms.rss / (batch.k - batch.p))


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
        When an ML or REML root bracket did not narrow to the tolerance (see
        :func:`fit_tau2`).

    Notes
    -----
    Formulas (Viechtbauer 2005; metafor 3.8 ``rma.uni``), with ``P = W - WX(X'WX)^-1X'W``:
    DL ``(y'P y - (k-p))/tr(P)`` at W = V^-1; HE ``(RSS_OLS - tr(P_OLS V))/(k-p)``;
    HS ``(y'Py - k)/sum(1/vi)``; SJ ``tau0 y'P(tau0)y/(k-p)``; PM root of
    ``y'P(tau2)y = k-p``; EB the same root (metafor's fixed point of
    ``k/(k-p) y'Py = k``); ML and REML the global maximiser over tau2 >= 0 of
    ``-1/2 [sum log(vi + tau2) + y'Py]`` (REML also ``- 1/2 log|X'WX|``), whose score is
    ``y'PPy - tr W`` (ML), ``y'PPy - tr P`` (REML).
    """
    one_dimensional = not isinstance(yi, Batch) and np.ndim(yi) == 1
    tau2, _ = fit_tau2(as_batch(yi, vi, mask, design), method)
    return float(tau2[0]) if one_dimensional else tau2


def fit_tau2(batch: Batch, method: str) -> tuple[NDArray[np.float64], Maxima | None]:
    """Estimate tau^2 per row; for ML and REML also return the likelihood maxima found.

    Rows with ``k <= p`` get 0. For ML and REML a row whose root bracket did not narrow
    to the tolerance warns :class:`TauConvergenceWarning` (the bracket's last point is
    used); it has never happened on the reference data.
    """
    estimator = ESTIMATORS.get(method.upper())
    if estimator is None:
        raise InputError(
            f"unknown tau2 method {method!r}; expected one of {', '.join(METHODS)}", "pool-method"
        )
    name = estimator.name
    maxima = None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if name in LIKELIHOOD_METHODS:
            maxima = likelihood_maxima(batch, name)
            tau2 = maxima.tau2
            if not maxima.converged.all():
                warnings.warn(
                    f"{name}: the root search for tau2 stopped short of its tolerance "
                    f"({TOLERANCE:g} relative) in {int((~maxima.converged).sum())} "
                    "meta-analysis(es); the last point of the bracket is used",
                    TauConvergenceWarning,
                    stacklevel=3,
                )
        else:
            tau2 = estimator.estimate(batch)
    return np.where(batch.k > batch.p, tau2, 0.0), maxima


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
    forms = batch.zero_forms
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
        sub = batch.take(np.flatnonzero(active))
        y_sub = y if sub is batch else y[active]
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


def _empirical_bayes(batch: Batch) -> NDArray[np.float64]:
    """EB: the root of ``k/(k-p) y'P(tau2)y = k`` (Morris 1983), i.e. ``y'Py = k - p``.

    metafor iterates ``tau2 += (k/(k-p) y'Py - k) / sum(w)`` to this fixed point; the
    generalised Q decreases in tau2, so the root is unique and is found directly (the
    same equation as Paule-Mandel's, on ``yi`` centred as metafor does).
    """
    return solve_generalised_q(batch, target=batch.k - batch.p, centred=True)


def _likelihood(method: str) -> Callable[[Batch], NDArray[np.float64]]:
    """Return the global maximum of the ML or REML likelihood (:mod:`evidence.stats.likelihood`)."""

    def estimate(batch: Batch) -> NDArray[np.float64]:
        return fit_tau2(batch, method)[0]

    return estimate


@dataclass(frozen=True)
class Estimator:
    """One tau^2 estimator: metafor's name, the label readers see, its reference, how.

    ``estimate(batch)`` returns tau^2 per row (rows with k <= p are zeroed by
    :func:`fit_tau2`); ``iterative`` says whether the estimate is found iteratively
    (PM and EB by root finding, ML and REML by a bracketed search for the global maximum
    of the likelihood) rather than in closed form.
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
            "EB", "empirical Bayes", "Morris 1983; Berkey et al. 1995", _empirical_bayes, True
        ),
        Estimator("ML", "ML", "maximum likelihood (Viechtbauer 2005)", _likelihood("ML"), True),
        Estimator(
            "REML",
            "REML",
            "restricted maximum likelihood (Viechtbauer 2005)",
            _likelihood("REML"),
            True,
        ),
    )
}
#: tau^2 estimators, with metafor's names (the keys of :data:`ESTIMATORS`).
METHODS = tuple(ESTIMATORS)
