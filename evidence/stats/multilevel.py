"""REML machinery for the three-level model on padded, compound-symmetric cluster blocks.

The marginal covariance of ``rma.mv(yi, vi, random = ~ 1 | cluster/effect)`` is block
diagonal, one block per cluster, each block compound symmetric plus a diagonal:
``V_c = diag(v_cj + sigma2_within) + sigma2_between * 1 1'``. Data are rearranged into
padded blocks (clusters x largest cluster) and every block is inverted in closed form
(Sherman-Morrison), so no N x N matrix is formed. The variance components maximise the
restricted log-likelihood by Fisher scoring; :mod:`evidence.stats.dependence` builds the public
API on top.

References
----------
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods 2, 61-76.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
related problems. JASA 72, 320-338.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError

#: Convergence threshold on the change in each variance component (Fisher scoring).
THRESHOLD = 1e-12
#: Maximum number of Fisher-scoring iterations.
MAX_ITERATIONS = 500

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Blocks:
    """Data rearranged into padded per-cluster blocks.

    Attributes
    ----------
    labels : tuple of str
        Cluster labels in order of first appearance.
    index : ndarray of int, shape (m, n)
        Row of the input in each block position (-1 where padded).
    mask : ndarray of bool, shape (m, n)
        True where a block position holds an effect.
    yi, vi : ndarray, shape (m, n)
        Effects and sampling variances (0 and 1 where padded).
    design : ndarray, shape (m, n, p)
        Design matrix (0 where padded).
    """

    labels: tuple[str, ...]
    index: NDArray[np.int64]
    mask: NDArray[np.bool_]
    yi: Array
    vi: Array
    design: Array


def make_blocks(
    yi: ArrayLike, vi: ArrayLike, cluster: ArrayLike, design: ArrayLike | None = None
) -> Blocks:
    """Validate the inputs and arrange them in padded per-cluster blocks.

    Parameters
    ----------
    yi, vi : array_like, shape (N,)
        Effect sizes and their sampling variances (all finite, ``vi > 0``).
    cluster : array_like, shape (N,)
        Cluster label of each effect (e.g. study or cohort).
    design : array_like, shape (N, p), optional
        Design matrix; an intercept-only model when omitted.

    Returns
    -------
    Blocks
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    labels = np.asarray([str(c) for c in np.asarray(cluster, dtype=object).ravel()])
    matrix = np.ones((y.size, 1)) if design is None else np.asarray(design, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    problems = []
    if y.ndim != 1 or v.shape != y.shape or labels.shape != y.shape:
        problems.append("yi, vi and cluster must be 1-D and of equal length")
    elif not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        problems.append("yi must be finite and vi finite and positive")
    if matrix.shape[0] != y.size or not np.all(np.isfinite(matrix)):
        problems.append("the design matrix must be finite with one row per effect")
    if problems:
        raise InputError("; ".join(problems))
    unique, first, codes = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    codes = rank[codes]
    sizes = np.bincount(codes)
    m, n = sizes.size, int(sizes.max())
    position = np.zeros(y.size, dtype=np.int64)
    sorted_rows = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position[sorted_rows] = np.arange(y.size) - np.repeat(starts, sizes)
    index = np.full((m, n), -1, dtype=np.int64)
    index[codes, position] = np.arange(y.size)
    mask = index >= 0
    yb = np.where(mask, y[index], 0.0)
    vb = np.where(mask, v[index], 1.0)
    xb = np.where(mask[:, :, None], matrix[index], 0.0)
    return Blocks(tuple(unique[order]), index, mask, yb, vb, xb)


def weight_blocks(blocks: Blocks, between: float, within: float) -> tuple[Array, float]:
    """Inverse covariance blocks by Sherman-Morrison, and log|V| summed over blocks.

    ``V_c = D_c + s 1 1'`` with ``D_c = diag(v + within)`` gives
    ``V_c^{-1} = D^{-1} - s D^{-1} 1 1' D^{-1} / (1 + s 1' D^{-1} 1)`` and
    ``log|V_c| = sum log d + log(1 + s 1' D^{-1} 1)``.
    """
    d = blocks.vi + within
    e = np.where(blocks.mask, 1.0 / d, 0.0)
    total = e.sum(axis=1)
    factor = between / (1.0 + between * total)
    w = e[:, :, None] * np.eye(e.shape[1]) - factor[:, None, None] * e[:, :, None] * e[:, None, :]
    logdet = float(np.sum(np.log(d[blocks.mask])) + np.sum(np.log1p(between * total)))
    return w, logdet


def gls(blocks: Blocks, w: Array) -> tuple[Array, Array, Array]:
    """Generalised least squares: coefficients, their covariance and block residuals.

    ``b = (X'WX)^{-1} X'Wy`` and ``Var(b) = (X'WX)^{-1}`` with ``W`` the block-diagonal
    inverse covariance (Aitken 1935); residuals ``y - Xb`` are 0 where padded.
    """
    wx = w @ blocks.design
    xtwx = np.einsum("cnp,cnq->pq", blocks.design, wx)
    vcov = np.linalg.inv(xtwx)
    beta = vcov @ np.einsum("cnp,cn->p", wx, blocks.yi)
    residuals = np.where(blocks.mask, blocks.yi - blocks.design @ beta, 0.0)
    return beta, vcov, residuals


def reml_loglik(blocks: Blocks, between: float, within: float) -> float:
    """Restricted log-likelihood with metafor's constants.

    ``-(N - p)/2 log(2 pi) + 1/2 log|X'X| - 1/2 log|V| - 1/2 log|X'V^{-1}X|
    - 1/2 r'V^{-1}r`` (Harville 1977; metafor ``rma.mv`` ``logLik``).
    """
    w, logdet = weight_blocks(blocks, between, within)
    beta, vcov, residuals = gls(blocks, w)
    xm = blocks.design[blocks.mask]
    k, p = xm.shape
    quadratic = float(np.einsum("cn,cnm,cm->", residuals, w, residuals))
    return float(
        -0.5 * (k - p) * np.log(2 * np.pi)
        + 0.5 * np.linalg.slogdet(xm.T @ xm)[1]
        - 0.5 * logdet
        + 0.5 * np.linalg.slogdet(vcov)[1]
        - 0.5 * quadratic
    )


def score_information(blocks: Blocks, between: float, within: float) -> tuple[Array, Array]:
    """REML score and expected information for (between, within).

    ``U_k = -tr(P V_k)/2 + r'W V_k W r/2`` and ``I_kl = tr(P V_k P V_l)/2`` with
    ``V_between = blockdiag(1 1')``, ``V_within = I`` and
    ``P = W - W X (X'WX)^{-1} X'W``; every trace is a sum over blocks.
    """
    w, _ = weight_blocks(blocks, between, within)
    beta, vcov, residuals = gls(blocks, w)
    mask = blocks.mask.astype(float)
    structures = (mask[:, :, None] * mask[:, None, :], mask[:, :, None] * np.eye(mask.shape[1]))
    # P V_k restricted to blocks plus the low-rank correction through X.
    wx = w @ blocks.design
    wr = np.einsum("cnm,cm->cn", w, residuals)
    parts = []
    for structure in structures:
        ws = w @ structure
        parts.append((ws, np.einsum("cnp,cnm->cpm", wx, structure)))
    score = np.zeros(2)
    info = np.zeros((2, 2))
    for a, (ws_a, xws_a) in enumerate(parts):
        s_a = structures[a]
        trace = np.trace(ws_a, axis1=1, axis2=2).sum() - np.trace(
            vcov @ np.einsum("cpm,cmq->pq", xws_a, wx)
        )
        score[a] = -0.5 * trace + 0.5 * np.einsum("cn,cnm,cm->", wr, s_a, wr)
        for b in range(a, 2):
            ws_b, xws_b = parts[b]
            term1 = np.einsum("cij,cji->", ws_a, ws_b)
            term2 = np.trace(vcov @ np.einsum("cpm,cmn,cnq->pq", xws_b, ws_a, wx))
            term3 = np.trace(vcov @ np.einsum("cpm,cmn,cnq->pq", xws_a, ws_b, wx))
            f_a = vcov @ np.einsum("cpm,cmq->pq", xws_a, wx)
            f_b = vcov @ np.einsum("cpm,cmq->pq", xws_b, wx)
            info[a, b] = info[b, a] = 0.5 * (term1 - term2 - term3 + np.trace(f_a @ f_b))
    return score, info


def _projected_step(theta: Array, score: Array, info: Array) -> Array:
    """Fisher-scoring step with components at zero held there when their score is negative.

    A component at the boundary whose score points below zero is fixed at 0 and the step
    of the others solves the reduced system ``I_ff step_f = U_f`` (an active-set step, so
    the coupling with the fixed component does not bias the free ones).
    """
    free = np.ones(theta.size, dtype=bool)
    for _ in range(theta.size):
        step = np.zeros_like(theta)
        if free.any():
            sub = np.ix_(free, free)
            step[free] = np.linalg.lstsq(info[sub], score[free], rcond=None)[0]
        blocked = free & (theta + step < 0) & (theta <= THRESHOLD)
        if not blocked.any():
            return step
        free &= ~blocked
    return np.zeros_like(theta)


def fit_variance_components(blocks: Blocks) -> tuple[float, float]:
    """Maximise the restricted likelihood by Fisher scoring with step halving on [0, inf).

    ``theta <- theta + I(theta)^{-1} U(theta)`` (see :func:`score_information`), halving
    the step while the likelihood falls, components kept non-negative (a component on the
    boundary whose score is negative stays at 0 and the others take the reduced step),
    until every component changes by less than ``THRESHOLD`` (relative above 1).
    """
    spread = float(np.var(blocks.yi[blocks.mask]))
    theta = np.array([spread / 4 + 1e-4, spread / 4 + 1e-4])
    current = reml_loglik(blocks, *theta)
    for _ in range(MAX_ITERATIONS):
        score, info = score_information(blocks, *theta)
        step = _projected_step(theta, score, info)
        candidate = np.maximum(theta + step, 0.0)
        value = reml_loglik(blocks, *candidate)
        halvings = 0
        while value < current - 1e-12 * abs(current) and halvings < 60:
            step /= 2
            candidate = np.maximum(theta + step, 0.0)
            value = reml_loglik(blocks, *candidate)
            halvings += 1
        change = np.abs(candidate - theta)
        theta, current = candidate, value
        if np.all(change <= THRESHOLD * np.maximum(1.0, theta)):
            return float(theta[0]), float(theta[1])
    raise InputError("the three-level REML fit did not converge")


def fixed_effects_q(blocks: Blocks) -> float:
    """Test statistic for residual heterogeneity, ``Q = sum (y - X b_FE)^2 / v``.

    ``b_FE`` is the fixed-effect (weights ``1/v``) estimate; Q has ``N - p`` df
    (Cochran 1954; metafor ``rma.mv`` ``QE``).
    """
    xm, y, v = blocks.design[blocks.mask], blocks.yi[blocks.mask], blocks.vi[blocks.mask]
    w = 1 / v
    beta = np.linalg.solve(xm.T @ (w[:, None] * xm), xm.T @ (w * y))
    return float(np.sum(w * (y - xm @ beta) ** 2))
