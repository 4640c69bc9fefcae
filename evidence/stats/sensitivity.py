"""Sensitivity and influence diagnostics that agree with R metafor 3.8.

``leave_one_out`` (metafor ``leave1out``), ``cumulative`` (``cumul``), ``influence``
(``influence.rma.uni``) and ``baujat`` (``baujat``) for a random-effects (or
common-effect) model without moderators.

None of them refits in a Python loop: the k leave-one-out models (and the k cumulative
models) are one batch of k meta-analyses, fitted at once by :func:`evidence.stats.pooling.fit_batch`
on a k x k masked array (row i leaves out study i). Influence and Baujat statistics are
closed-form functions of the full fit and that batch, so ``diagnostics`` computes
leave-one-out, influence and Baujat together from a single batch.

Results are lists of dicts in input row order (cumulative: in the order used), with the
keys of the results files (ARCHITECTURE.md): ``leave_one_out`` [{``omitted``, ...pooled
keys}], ``influence`` [{``study``, ``rstudent``, ``dffits``, ``cook_d``, ``cov_r``,
``tau2_del``, ``q_del``, ``hat``, ``weight``, ``influential``}], ``cumulative``
[{``added``, ...pooled keys}].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.deletion import deletion_fits
from evidence.stats.errors import InputError
from evidence.stats.heterogeneity import HeterogeneityIntervals, tau2_intervals
from evidence.stats.influence import BaujatPoint, InfluenceRow, case_deletion
from evidence.stats.pooling import BatchFit, check_inputs, fit_batch
from evidence.stats.results import BackTransformed, PooledResult
from evidence.stats.tau2 import make_batch
from evidence.stats.transforms import ArrayFunction, transform_function

Array = NDArray[np.float64]

#: Up to this many studies the k leave-one-out fits are one k x k masked batch; above it
#: they come from closed-form deletion updates (:mod:`evidence.stats.deletion`, O(k)
#: memory), which agree with the masked batch to rounding (tests/test_deletion.py).
MASKED_LIMIT = 200


@dataclass(frozen=True)
class Diagnostics:
    """Leave-one-out fits, influence and Baujat statistics from one batch of k fits."""

    leave_one_out: tuple[PooledResult, ...]
    influence: tuple[InfluenceRow, ...]
    baujat: tuple[BaujatPoint, ...]
    labels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """``leave_one_out``, ``influence`` and ``baujat`` lists in input row order."""
        return {
            "leave_one_out": [
                {"omitted": label, **row.to_dict()}
                for label, row in zip(self.labels, self.leave_one_out, strict=True)
            ],
            "influence": [row.to_dict() for row in self.influence],
            "baujat": [point.to_dict() for point in self.baujat],
        }


def _prepare(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: Sequence[str] | None,
    minimum: int,
    what: str = "this diagnostic",
) -> tuple[Array, Array, tuple[str, ...]]:
    y, v, kept, _ = check_inputs(yi, vi, None, labels, False)
    y, v = y[kept], v[kept]
    if y.size < minimum:
        raise InputError(
            f"{what}: at least {minimum} studies are needed, got {y.size}",
            "sensitivity-too-few",
        )
    names = (
        tuple(str(x) for x in labels)
        if labels is not None
        else tuple(str(i + 1) for i in range(y.size))
    )
    return y, v, names


def _pooled_rows(
    y: Array,
    v: Array,
    mask: NDArray[np.bool_] | None,
    fit: BatchFit,
    method: str,
    test: str,
    level: float,
    intervals: bool,
    measure: str | None = None,
    transform: str | ArrayFunction | None = None,
    bounds: HeterogeneityIntervals | None = None,
) -> tuple[PooledResult, ...]:
    """Turn a batch fit into one :class:`PooledResult` per row (metafor conventions).

    ``bounds`` are the rows' tau2 intervals when already computed (the deletion path);
    otherwise they are computed on the masked batch.
    """
    het = fit.heterogeneity
    function = transform_function(transform)
    k = fit.k.astype(int)
    random = method.upper() not in ("FE", "EE", "CE")
    if bounds is None and intervals and random and mask is not None:
        fraction = level / 100 if level > 1 else level
        batch = make_batch(np.broadcast_to(y, mask.shape), np.broadcast_to(v, mask.shape), mask)
        bounds = tau2_intervals(batch, fit.tau2, method, het.typical_variance, fraction)

    def pair(lo: float, hi: float) -> tuple[float, float] | None:
        return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None

    def back(estimate: float, ci: Any, pi: Any) -> BackTransformed | None:
        return None if function is None else BackTransformed.of(function, estimate, ci, pi)

    if not intervals:
        bounds = None
    rows = []
    for i in range(len(k)):
        defined = bool(k[i] > 1)
        # one study: its own se and a z test (fit_batch uses z where k = p, as metafor)
        estimate, se = float(fit.beta[i, 0]), float(fit.se[i, 0])
        used = test if fit.t_test is not None and fit.t_test[i] else "z"
        crit, tau2 = float(fit.crit[i]), float(fit.tau2[i])
        half_pi = crit * math.sqrt(se * se + tau2) if random else math.nan

        def interval(
            values: Array | None, row: int = i, ok: bool = defined and random
        ) -> tuple[float, float] | None:
            if values is None or not ok:
                return None
            return pair(float(values[row, 0]), float(values[row, 1]))

        def het_value(value: float, ok: bool = defined) -> float | None:
            return float(value) if ok else None

        ci = pair(estimate - crit * se, estimate + crit * se)
        pi = pair(estimate - half_pi, estimate + half_pi) if random else None
        rows.append(
            PooledResult(
                k=int(k[i]),
                n_studies=int(k[i]),
                n_participants=None,
                measure=measure,
                method=method.upper(),
                test=used,
                estimate=estimate,
                se=se,
                statistic=float(fit.statistic[i, 0]),
                df=float(fit.df[i]) if used != "z" else None,
                p=float(fit.p_value[i, 0]),
                ci=ci,
                pi=pi,
                tau2=het_value(tau2) if random else 0.0,
                tau2_ci=interval(None if bounds is None else bounds.tau2),
                tau=het_value(math.sqrt(tau2)) if random else 0.0,
                tau_ci=interval(None if bounds is None else bounds.tau),
                i2=het_value(het.i2[i]),
                i2_ci=interval(None if bounds is None else bounds.i2),
                h2=het_value(het.h2[i]),
                h2_ci=interval(None if bounds is None else bounds.h2),
                q=het_value(het.q[i]),
                q_df=het_value(het.q_df[i]),
                q_p=het_value(het.q_p[i]),
                back_transformed=back(estimate, ci, pi),
            )
        )
    return tuple(rows)


def _leave_one_out_batch(
    y: Array, v: Array, method: str, test: str, level: float
) -> tuple[NDArray[np.bool_], BatchFit]:
    k = y.size
    mask = ~np.eye(k, dtype=bool)
    return mask, fit_batch(
        np.broadcast_to(y, (k, k)),
        np.broadcast_to(v, (k, k)),
        mask=mask,
        method=method,
        test=test,
        level=level,
    )


def leave_one_out(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    intervals: bool = True,
    measure: str | None = None,
    transform: str | ArrayFunction | None = None,
) -> list[dict[str, Any]]:
    """Pooled result with each study left out in turn (metafor ``leave1out``).

    Row i is the model fitted to all studies but i: ``mu_(i) = sum_{j != i} w_j y_j /
    sum_{j != i} w_j`` with ``w_j = 1/(v_j + tau2_(i))`` and ``tau2_(i)`` re-estimated
    by ``method``; all k fits run as one vectorised batch.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 2; at k = 2 each deletion fit is one
        study, with a z test, as metafor).
    labels : sequence of str, optional
        Study labels (``omitted`` values); "1", "2", ... when omitted.
    method, test, level
        As :func:`evidence.stats.pooling.pool`.
    intervals : bool
        Also compute the intervals for tau2, tau, I2 and H2 in every row (profile
        likelihood for ML/REML, Q-profile otherwise, as :func:`evidence.stats.pooling.pool`).
    measure : str, optional
        metafor measure name (e.g. "RR", "ZCOR"), recorded in each row.
    transform : str, optional
        Back-transform name (:data:`evidence.stats.transforms.TRANSFORMS`): adds the
        ``back_transformed`` estimate, CI and PI (as :func:`evidence.stats.pooling.pool`).

    Returns
    -------
    list of dict
        ``[{"omitted": label, ...pooled keys}]`` in input row order.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods 1, 112-125.
    """
    return diagnostics(
        yi,
        vi,
        labels,
        method=method,
        test=test,
        level=level,
        intervals=intervals,
        measure=measure,
        transform=transform,
    ).to_dict()["leave_one_out"]


def cumulative(
    yi: ArrayLike,
    vi: ArrayLike,
    order: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    intervals: bool = True,
    measure: str | None = None,
    transform: str | ArrayFunction | None = None,
) -> list[dict[str, Any]]:
    """Cumulative meta-analysis: studies added one at a time (metafor ``cumul``).

    Row j pools the first ``j + 1`` studies of ``order`` (e.g. by publication year); all k
    fits run as one batch with a lower-triangular mask. Row 1 is a single study, whose
    heterogeneity is undefined (None); metafor reports Q = 0, tau2 = 0 there.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    order : sequence of int, optional
        Zero-based row indices in the order to add them; input order when omitted.
    labels : sequence of str, optional
        Study labels (``added`` values).
    method, test, level, intervals, measure, transform
        As :func:`leave_one_out`.

    Returns
    -------
    list of dict
        ``[{"added": label, ...pooled keys}]`` in the order used.

    References
    ----------
    Lau J, Antman EM, Jimenez-Silva J, et al. (1992). Cumulative meta-analysis of
    therapeutic trials for myocardial infarction. N Engl J Med 327, 248-254.
    """
    y, v, names = _prepare(yi, vi, labels, 1)
    sequence = np.arange(y.size) if order is None else np.asarray(order, dtype=int)
    if sorted(sequence.tolist()) != list(range(y.size)):
        raise InputError("order must be a permutation of the row indices 0..k-1")
    y, v = y[sequence], v[sequence]
    k = y.size
    mask = np.tril(np.ones((k, k), dtype=bool))
    with np.errstate(divide="ignore", invalid="ignore"):  # row 1 has k = 1: 0 df
        fit = fit_batch(
            np.broadcast_to(y, (k, k)),
            np.broadcast_to(v, (k, k)),
            mask=mask,
            method=method,
            test=test,
            level=level,
        )
        rows = _pooled_rows(y, v, mask, fit, method, test, level, intervals, measure, transform)
    return [{"added": names[j], **row.to_dict()} for j, row in zip(sequence, rows, strict=True)]


def diagnostics(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    intervals: bool = True,
    measure: str | None = None,
    transform: str | ArrayFunction | None = None,
) -> Diagnostics:
    """Leave-one-out, influence and Baujat diagnostics from one batch of k deletion fits.

    Fits all k studies once and the k leave-one-out models as one batch; the influence
    statistics (rstudent, DFFITS, Cook's distance, covariance ratio, tau2 and Q when
    deleted, hat, weight, DFBETAS, metafor's influential flag) and Baujat coordinates are
    closed-form functions of those fits: see :func:`evidence.stats.influence.case_deletion` for
    every formula.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 2; at k = 2 each deletion fit is one
        study, with a z test, as metafor).
    labels : sequence of str, optional
        Study labels.
    method, test, level, intervals, measure, transform
        As :func:`leave_one_out`.

    Returns
    -------
    Diagnostics

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods 1, 112-125.
    Baujat B, Mahe C, Pignon J-P, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses. Statistics in Medicine 21, 2641-2652.
    """
    y, v, names = _prepare(yi, vi, labels, 2, "leave-one-out, influence and Baujat diagnostics")
    full = fit_batch(y, v, method=method, test=test, level=level)
    bounds = var_all = None
    mask: NDArray[np.bool_] | None = None
    if y.size > MASKED_LIMIT:
        fits = deletion_fits(y, v, method.upper(), test, level, intervals)
        deleted, bounds, var_all = fits.fit, fits.intervals, fits.var_all
    else:
        mask, deleted = _leave_one_out_batch(y, v, method, test, level)
    with np.errstate(divide="ignore", invalid="ignore"):  # e.g. Knapp-Hartung scale 0
        influence, points = case_deletion(y, v, names, full, deleted, var_all)
    rows = _pooled_rows(
        y, v, mask, deleted, method, test, level, intervals, measure, transform, bounds
    )
    return Diagnostics(rows, influence, points, names)


def influence(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
) -> list[dict[str, Any]]:
    """Influence diagnostics of every study (metafor ``influence``); see :func:`diagnostics`.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 2; at k = 2 each deletion fit is one
        study, with a z test, as metafor).
    labels : sequence of str, optional
        Study labels.
    method, test
        As :func:`evidence.stats.pooling.pool`.

    Returns
    -------
    list of dict
        The results files' ``influence`` rows in input order.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods 1, 112-125.
    """
    result = diagnostics(yi, vi, labels, method=method, test=test, intervals=False)
    return [row.to_dict() for row in result.influence]


def baujat(
    yi: ArrayLike,
    vi: ArrayLike,
    labels: Sequence[str] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
) -> list[dict[str, Any]]:
    """Baujat plot coordinates (metafor ``baujat``); see :func:`diagnostics`.

    ``x_i = (y_i - mu)^2 / (tau2 + v_i)`` is study i's contribution to the (weighted)
    heterogeneity, ``y_i = (mu_(i) - mu)^2 / Var(mu_(i))`` its influence on the result.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 2; at k = 2 each deletion fit is one
        study, with a z test, as metafor).
    labels : sequence of str, optional
        Study labels.
    method, test
        As :func:`evidence.stats.pooling.pool`.

    Returns
    -------
    list of dict
        ``[{"study", "x", "y"}]`` in input order.

    References
    ----------
    Baujat B, Mahe C, Pignon J-P, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses. Statistics in Medicine 21, 2641-2652.
    """
    result = diagnostics(yi, vi, labels, method=method, test=test, intervals=False)
    return [point.to_dict() for point in result.baujat]
