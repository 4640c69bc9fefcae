r"""Many intercept-only three-level meta-analyses fitted together by REML.

The model of :func:`evidence.stats.dependence.three_level` (metafor
``rma.mv(yi, vi, random = ~ 1 | cluster/effect)``) without moderators,
:math:`y_{cj} = \mu + u_c + w_{cj} + e_{cj}`, for n meta-analyses at once. Each is given as
padded cluster blocks: arrays of shape ``(n, m, s)`` (meta-analyses x clusters x effects
of a cluster) with a mask of the positions that hold an effect.

With :math:`d_{cj} = v_{cj} + \sigma^2_w`, :math:`e = 1/d`, :math:`t_c = \sum_j e_{cj}`,
:math:`g_c = 1/(1 + \sigma^2_b t_c)` and :math:`a_c = g_c t_c`, the inverse of each block
:math:`V_c = \operatorname{diag}(d_c) + \sigma^2_b \mathbf 1\mathbf 1'` is
:math:`W_c = \operatorname{diag}(e_c) - \sigma^2_b g_c e_c e_c'` (Sherman-Morrison), so
:math:`\mathbf 1'W_c\mathbf 1 = a_c`, :math:`W_c\mathbf 1 = g_c e_c` and every quantity of
the REML fit is a sum over blocks of closed forms in :math:`E_2 = \sum e^2`,
:math:`E_3 = \sum e^3`, :math:`e'r` and :math:`\sum e r^2`: with
:math:`S = \sum_c a_c`, :math:`\hat\mu = \sum_c g_c e_c'y_c / S`, :math:`r = y - \hat\mu`,
:math:`b_c = g_c^2 E_{2c}` and :math:`P = W - W\mathbf 1\mathbf 1'W/S`,

- restricted log-likelihood (up to a constant)
  :math:`-\tfrac12[\sum_c(\sum_j\log d_{cj} + \log(1+\sigma^2_b t_c)) + \log S + r'Wr]`,
  :math:`r'Wr = \sum_c(\sum_j e r^2 - \sigma^2_b g_c (e'r)^2)`;
- scores :math:`U_k = -\tfrac12\operatorname{tr}(PV_k) + \tfrac12 r'WV_kWr` with
  :math:`V_b = \operatorname{blockdiag}(\mathbf 1\mathbf 1')`, :math:`V_w = I`:
  :math:`\operatorname{tr}(PV_b) = \sum a - \sum a^2/S`,
  :math:`\operatorname{tr}(PV_w) = \sum_c(t_c - \sigma^2_b g_c E_{2c}) - \sum b/S`,
  :math:`r'WV_bWr = \sum_c g_c^2(e'r)^2`, :math:`r'WWr = \sum_c |W_c r_c|^2`;
- expected information :math:`I_{kl} = \tfrac12\operatorname{tr}(PV_kPV_l)`, from
  :math:`\operatorname{tr}(PAPB) = \operatorname{tr}(WAWB) - \tfrac2S u'AWBu +
  \tfrac1{S^2}(u'Au)(u'Bu)`, :math:`u = W\mathbf 1`:
  :math:`I_{bb} = \tfrac12[\sum a^2 - 2\sum a^3/S + (\sum a^2)^2/S^2]`,
  :math:`I_{bw} = \tfrac12[\sum b - 2\sum ab/S + \sum a^2 \sum b/S^2]`,
  :math:`I_{ww} = \tfrac12[\sum_c(E_2 - 2\sigma^2_b g E_3 + \sigma^4_b g^2E_2^2) -
  \tfrac2S\sum_c g^2(E_3 - \sigma^2_b g E_2^2) + (\sum b)^2/S^2]`.

Fisher scoring follows :func:`evidence.stats.multilevel.fit_variance_components` step for
step (same start, active-set step at the boundary, step halving while the likelihood falls,
the same stopping rule), row by row in one array; :math:`\operatorname{Var}(\hat\mu) = 1/S`.

References
----------
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods 2, 61-76.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
related problems. JASA 72, 320-338.

Public API: ``BatchThreeLevel``, ``fit_three_level_batch``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.multilevel import MAX_ITERATIONS, THRESHOLD

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BatchThreeLevel:
    """Three-level REML fits of n meta-analyses (arrays of length n).

    ``between``, ``within``: the variance components; ``estimate`` and ``se`` of the
    pooled effect; ``k`` effects and ``clusters`` per fit; ``converged`` is False where
    Fisher scoring did not converge (the other fields are NaN there).
    """

    estimate: Array
    se: Array
    between: Array
    within: Array
    k: Array
    clusters: Array
    converged: NDArray[np.bool_]


@dataclass(frozen=True)
class _Sums:
    """Per-block sums at one (between, within), shapes (n, m) unless noted."""

    d_log: Array  # sum log d over the block
    t: Array  # sum e
    e2: Array  # sum e^2
    e3: Array  # sum e^3
    ey: Array  # sum e y
    e: Array  # (n, m, s) the weights e
    g: Array  # 1 / (1 + between t)


def _sums(y: Array, v: Array, mask: NDArray[np.bool_], between: Array, within: Array) -> _Sums:
    d = v + within[:, None, None]
    e = np.where(mask, 1.0 / d, 0.0)
    t = e.sum(axis=2)
    e_sq = e * e
    return _Sums(
        d_log=np.where(mask, np.log(np.where(mask, d, 1.0)), 0.0).sum(axis=2),
        t=t,
        e2=e_sq.sum(axis=2),
        e3=(e_sq * e).sum(axis=2),
        ey=(e * y).sum(axis=2),
        e=e,
        g=1.0 / (1.0 + between[:, None] * t),
    )


def _take(sums: _Sums, rows: NDArray) -> _Sums:
    """Return the sums of some rows (a boolean mask or indices)."""
    return _Sums(*(getattr(sums, f.name)[rows] for f in fields(_Sums)))


def _assign(sums: _Sums, rows: NDArray, values: _Sums) -> None:
    """Overwrite the sums of ``rows`` (indices) with ``values``, in place."""
    for item in fields(_Sums):
        getattr(sums, item.name)[rows] = getattr(values, item.name)


def _mean(sums: _Sums) -> tuple[Array, Array]:
    """``(mu, S)``: the GLS mean and ``S = 1'V^{-1}1``."""
    a = sums.g * sums.t
    total = a.sum(axis=1)
    return (sums.g * sums.ey).sum(axis=1) / total, total


def _loglik(y: Array, mask: NDArray[np.bool_], sums: _Sums, between: Array) -> Array:
    """Restricted log-likelihood with metafor's constants (module docstring).

    The constants ``-(k - 1)/2 log(2 pi) + 1/2 log k`` (``log|X'X|`` of the intercept) do not
    move the maximum, but the step-halving test is relative to the likelihood's size, so
    they are kept as in :func:`evidence.stats.multilevel.reml_loglik`.
    """
    mu, total = _mean(sums)
    k = mask.sum(axis=(1, 2))
    r = np.where(mask, y - mu[:, None, None], 0.0)
    er = (sums.e * r).sum(axis=2)
    quadratic = (sums.e * r * r).sum(axis=2) - between[:, None] * sums.g * er * er
    log_det = sums.d_log + np.log1p(between[:, None] * sums.t)
    constant = -0.5 * (k - 1) * np.log(2 * np.pi) + 0.5 * np.log(k)
    return constant - 0.5 * (log_det.sum(axis=1) + np.log(total) + quadratic.sum(axis=1))


def _score_information(
    y: Array, mask: NDArray[np.bool_], sums: _Sums, between: Array
) -> tuple[Array, Array]:
    """Scores (n, 2) and expected information (n, 2, 2) for (between, within)."""
    mu, total = _mean(sums)
    r = np.where(mask, y - mu[:, None, None], 0.0)
    g, t, e2, e3 = sums.g, sums.t, sums.e2, sums.e3
    sb = between[:, None]
    a = g * t
    b = g * g * e2
    er = (sums.e * r).sum(axis=2)
    wr = sums.e * r - (sb * g * er)[:, :, None] * sums.e  # W_c r_c
    sum_a, sum_a2, sum_a3 = total, (a * a).sum(axis=1), (a**3).sum(axis=1)
    sum_b, sum_ab = b.sum(axis=1), (a * b).sum(axis=1)
    trace_b = sum_a - sum_a2 / total
    trace_w = (t - sb * g * e2).sum(axis=1) - sum_b / total
    score = np.stack(
        [
            -0.5 * trace_b + 0.5 * (g * g * er * er).sum(axis=1),
            -0.5 * trace_w + 0.5 * (wr * wr).sum(axis=(1, 2)),
        ],
        axis=1,
    )
    i_bb = sum_a2 - 2 * sum_a3 / total + sum_a2**2 / total**2
    i_bw = sum_b - 2 * sum_ab / total + sum_a2 * sum_b / total**2
    trace_ww = (e2 - 2 * sb * g * e3 + sb * sb * g * g * e2 * e2).sum(axis=1)
    u_w_u = (g * g * (e3 - sb * g * e2 * e2)).sum(axis=1)
    i_ww = trace_ww - 2 * u_w_u / total + sum_b**2 / total**2
    information = 0.5 * np.stack([np.stack([i_bb, i_bw], 1), np.stack([i_bw, i_ww], 1)], 1)
    return score, information


def _projected_steps(theta: Array, score: Array, information: Array) -> Array:
    """Fisher-scoring steps, a component at 0 whose step points below 0 held there.

    Row by row the same active-set rule as :func:`evidence.stats.multilevel._projected_step`:
    the full step; else with one component fixed the other's step ``U_f / I_ff``; else none.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        det = information[:, 0, 0] * information[:, 1, 1] - information[:, 0, 1] ** 2
        full = np.stack(
            [
                (information[:, 1, 1] * score[:, 0] - information[:, 0, 1] * score[:, 1]) / det,
                (information[:, 0, 0] * score[:, 1] - information[:, 0, 1] * score[:, 0]) / det,
            ],
            axis=1,
        )
        single = score / np.stack([information[:, 0, 0], information[:, 1, 1]], axis=1)
    at_zero: NDArray[np.bool_] = np.asarray(theta <= THRESHOLD)
    blocked: NDArray[np.bool_] = np.asarray(at_zero & (theta + full < 0))
    step = np.where(np.asarray(blocked.any(axis=1))[:, None], 0.0, full)
    for fixed in (0, 1):
        free = 1 - fixed
        only = blocked[:, fixed] & ~blocked[:, free]
        reduced = single[:, free]
        still = at_zero[:, free] & (theta[:, free] + reduced < 0)
        step[only & ~still, free] = reduced[only & ~still]
    return np.where(np.isfinite(step), step, 0.0)


def fit_three_level_batch(yi: ArrayLike, vi: ArrayLike, mask: ArrayLike) -> BatchThreeLevel:
    """Fit the intercept-only three-level model to every row of a padded batch by REML.

    Parameters
    ----------
    yi, vi : array_like, shape (n, m, s)
        Effects and sampling variances in padded cluster blocks (any value where masked).
    mask : array_like of bool, shape (n, m, s)
        Positions holding an effect; a cluster of a row may be empty.

    Returns
    -------
    BatchThreeLevel
        Agrees with :func:`evidence.stats.dependence.three_level` (itself checked against
        metafor ``rma.mv``) row by row: the same Fisher scoring on the same likelihood.
        Rows need at least two clusters and two effects (NaN otherwise).
    """
    held = np.asarray(mask, dtype=bool)
    y = np.where(held, np.asarray(yi, dtype=float), 0.0)
    v = np.where(held, np.asarray(vi, dtype=float), 1.0)
    n = y.shape[0]
    k = held.sum(axis=(1, 2)).astype(float)
    clusters = held.any(axis=2).sum(axis=1).astype(float)
    counts = np.maximum(k, 1)
    mean = y.sum(axis=(1, 2)) / counts
    spread = np.where(held, (y - mean[:, None, None]) ** 2, 0.0).sum(axis=(1, 2)) / counts
    theta = np.stack([spread / 4 + 1e-4, spread / 4 + 1e-4], axis=1)
    converged = np.zeros(n, dtype=bool)
    rows = np.flatnonzero((k >= 2) & (clusters >= 2))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Only the rows still iterating are carried, with their sums at the current theta
        # (the accepted candidate's sums of the step before: one set of sums per step).
        yr, vr, mr, th = y[rows], v[rows], held[rows], theta[rows]
        sums = _sums(yr, vr, mr, th[:, 0], th[:, 1])
        current = _loglik(yr, mr, sums, th[:, 0])
        for _ in range(MAX_ITERATIONS):
            if rows.size == 0:
                break
            score, information = _score_information(yr, mr, sums, th[:, 0])
            step = _projected_steps(th, score, information)
            candidate = np.maximum(th + step, 0.0)
            moved = _sums(yr, vr, mr, candidate[:, 0], candidate[:, 1])
            value = _loglik(yr, mr, moved, candidate[:, 0])
            for _halving in range(60):
                falling = value < current - 1e-12 * np.abs(current)
                if not falling.any():
                    break
                step[falling] /= 2
                candidate[falling] = np.maximum(th[falling] + step[falling], 0.0)
                sub = np.flatnonzero(falling)
                halved = _sums(yr[sub], vr[sub], mr[sub], candidate[sub, 0], candidate[sub, 1])
                value[sub] = _loglik(yr[sub], mr[sub], halved, candidate[sub, 0])
                _assign(moved, sub, halved)
            change = np.abs(candidate - th)
            theta[rows] = candidate
            done = np.all(change <= THRESHOLD * np.maximum(1.0, candidate), axis=1)
            converged[rows[done]] = True
            keep = ~done
            rows, yr, vr, mr = rows[keep], yr[keep], vr[keep], mr[keep]
            th, current, sums = candidate[keep], value[keep], _take(moved, keep)
        final = _sums(y, v, held, theta[:, 0], theta[:, 1])
        mu, total = _mean(final)
    bad = ~converged
    nan = np.full(n, np.nan)
    return BatchThreeLevel(
        estimate=np.where(bad, nan, mu),
        se=np.where(bad, nan, np.sqrt(1.0 / total)),
        between=np.where(bad, nan, theta[:, 0]),
        within=np.where(bad, nan, theta[:, 1]),
        k=k,
        clusters=clusters,
        converged=converged,
    )
