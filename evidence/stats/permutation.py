"""Permutation tests for meta-regression moderators, as R metafor 3.8 ``permutest()``.

With moderators, the rows of the design matrix are permuted against the (y, v) pairs and
the model is refitted; without moderators (intercept only) the signs of the effects are
flipped. The p-value of each coefficient is the share of permutations whose ``|z|`` (or
``|t|``) is at least the observed one, and the omnibus p-value the share whose ``QM`` is
at least the observed ``QM`` (both with metafor's tolerance ``sqrt(machine eps)``).

Every permuted model is one row of a batch fitted at once (tau2 by
:func:`evidence.stats.tau2.estimate_tau2`, vectorised over rows): permuting the design rows
against (y, v) is the same model as permuting (y, v) against the design, so the design
stays shared. Exact tests
enumerate every permutation (or sign pattern); approximate tests draw them from a seeded
:class:`numpy.random.Generator` and count the observed data as the first draw, as metafor
does, so results are reproducible for a given seed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError
from evidence.stats.pooling import check_inputs
from evidence.stats.results import finite
from evidence.stats.tau2 import estimate_tau2

#: metafor's ``comptol``: observed statistics are lowered by this before comparing.
COMPARISON_TOLERANCE = math.sqrt(np.finfo(float).eps)
#: Refuse exact enumeration beyond this many permutations.
MAX_EXACT = 2_000_000
#: Rows fitted per batch (bounds memory).
CHUNK = 20_000

Array = NDArray[np.float64]


@dataclass(frozen=True)
class PermutationResult:
    """Permutation p-values of every coefficient and of the omnibus moderator test."""

    names: tuple[str, ...]
    statistic: tuple[float, ...]
    p: tuple[float, ...]
    qm: float
    qm_p: float
    iterations: int
    exact: bool
    seed: int | None

    def to_dict(self) -> dict[str, Any]:
        """``{coefficients: [{name, statistic, p}], qm, qm_p, iterations, exact, seed}``."""
        return {
            "coefficients": [
                {"name": n, "statistic": finite(s), "p": finite(p)}
                for n, s, p in zip(self.names, self.statistic, self.p, strict=True)
            ],
            "qm": finite(self.qm),
            "qm_p": finite(self.qm_p),
            "iterations": self.iterations,
            "exact": self.exact,
            "seed": self.seed,
        }


def _tau2(y: Array, v: Array, design: Array, method: str) -> Array:
    """tau2 per permuted row: for ML and REML the global likelihood maximum.

    metafor's ``permutest`` refits each permutation with ``rma.uni`` (Fisher scoring, then
    its ``ll0check``); the engine returns the global maximum over tau2 >= 0 instead, which
    is what Fisher scoring finds wherever it does not stop at a lower peak (issue 11).
    """
    return np.atleast_1d(np.asarray(estimate_tau2(y, v, method, design=design), dtype=float))


def _statistics(y: Array, v: Array, design: Array, method: str, test: str) -> tuple[Array, Array]:
    """Coefficient z (or t) values and QM (chi-square, or F under knha) for each row.

    ``b = (X'WX)^{-1} X'Wy``, ``Var(b) = (X'WX)^{-1}`` (times ``s2 = sum w r^2/(k-p)``
    under Knapp-Hartung, ``max(1, s2)`` under adhoc), ``W = diag(1/(v + tau2))``, as
    metafor ``rma.uni``.
    """
    z_rows, qm_rows = [], []
    k, p = design.shape
    tested = slice(1, p) if p > 1 else slice(0, 1)
    m = max(p - 1, 1)
    for start in range(0, y.shape[0], CHUNK):
        yc, vc = y[start : start + CHUNK], v[start : start + CHUNK]
        w = 1 / (vc + _tau2(yc, vc, design, method)[:, None])
        covariance = np.linalg.inv(np.einsum("nk,kp,kq->npq", w, design, design))
        beta = np.einsum("npq,nq->np", covariance, np.einsum("nk,kp->np", w * yc, design))
        if test in ("knha", "adhoc"):
            scale = np.sum(w * (yc - beta @ design.T) ** 2, axis=1) / (k - p)
            if test == "adhoc":
                scale = np.maximum(scale, 1.0)
            covariance = covariance * scale[:, None, None]
        z_rows.append(beta / np.sqrt(np.diagonal(covariance, axis1=1, axis2=2)))
        tested_beta = beta[:, tested]
        solved = np.linalg.solve(covariance[:, tested, tested], tested_beta[..., None])[..., 0]
        qm = np.einsum("np,np->n", tested_beta, solved)
        qm_rows.append(qm / m if test in ("knha", "adhoc") else qm)
    return np.concatenate(z_rows), np.concatenate(qm_rows)


def _permutations(
    k: int, iterations: int, exact: bool, rng: np.random.Generator
) -> NDArray[np.int64]:
    if exact:
        return np.array(list(itertools.permutations(range(k))), dtype=np.int64)
    draws = rng.permuted(np.tile(np.arange(k), (iterations, 1)), axis=1)
    draws[0] = np.arange(k)
    return draws


def _sign_patterns(k: int, iterations: int, exact: bool, rng: np.random.Generator) -> Array:
    if exact:
        codes = np.arange(2**k)[:, None] >> np.arange(k)[None, :] & 1
        return np.where(codes == 1, -1.0, 1.0)
    draws = rng.choice([-1.0, 1.0], size=(iterations, k))
    draws[0] = 1.0
    return draws


def permutation_test(
    yi: ArrayLike,
    vi: ArrayLike,
    moderators: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    iterations: int = 1000,
    exact: bool | None = None,
    seed: int | None = 0,
) -> PermutationResult:
    """Permutation test of meta-regression coefficients (metafor ``permutest``).

    For the model ``y = X b + u + e`` with statistics ``z_j = b_j / se_j`` and
    ``QM = b' Var(b)^{-1} b`` over the moderators (divided by their number under
    Knapp-Hartung, an F statistic), the permutation p-values are
    ``p_j = #{|z_j*| >= |z_j| - tol} / N`` and ``p_QM = #{QM* >= QM - tol} / N`` over the
    N permuted fits (rows of X permuted; signs of y flipped for an intercept-only model).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    moderators : array_like, shape (k,) or (k, q), optional
        Moderator columns (an intercept is added); intercept-only when omitted.
    names : sequence of str, optional
        Moderator names.
    method, test
        As :func:`evidence.stats.pooling.pool`.
    iterations : int
        Number of random permutations (the observed data count as the first).
    exact : bool, optional
        Enumerate every permutation; by default exact when that needs no more fits than
        ``iterations`` (as metafor).
    seed : int, optional
        Seed of the :class:`numpy.random.Generator` for random permutations.

    Returns
    -------
    PermutationResult

    References
    ----------
    Higgins JPT, Thompson SG (2004). Controlling the risk of spurious findings from
    meta-regression. Statistics in Medicine 23, 1663-1682.
    Viechtbauer W, Lopez-Lopez JA, Sanchez-Meca J, Marin-Martinez F (2015). A comparison
    of procedures to test for moderators in mixed-effects meta-regression models.
    Psychological Methods 20, 360-374.
    """
    y, v, kept, _ = check_inputs(yi, vi, None, None, False)
    y, v = y[kept], v[kept]
    k = y.size
    if moderators is None:
        design = np.ones((k, 1))
        labels: tuple[str, ...] = ("intercept",)
        total = 2**k
    else:
        mods = np.asarray(moderators, dtype=float)
        mods = (mods[:, None] if mods.ndim == 1 else mods)[kept]
        design = np.column_stack([np.ones(k), mods])
        labels = ("intercept", *(names or [f"x{j + 1}" for j in range(mods.shape[1])]))
        total = math.factorial(k)
    if k <= design.shape[1] or iterations < 2:
        raise InputError("a permutation test needs k > p studies and at least 2 iterations")
    exact = total <= iterations if exact is None else exact
    if exact and total > MAX_EXACT:
        raise InputError(
            f"exact enumeration would need {total} fits; use random "
            f"permutations (exact=False) instead"
        )
    rng = np.random.default_rng(seed)
    z_obs, qm_obs = _statistics(y[None, :], v[None, :], design, method, test)
    if moderators is None:
        signs = _sign_patterns(k, iterations, exact, rng)
        z_perm, qm_perm = _statistics(
            signs * y, np.broadcast_to(v, signs.shape), design, method, test
        )
    else:
        order = _permutations(k, iterations, exact, rng)
        inverse = np.argsort(order, axis=1)
        z_perm, qm_perm = _statistics(y[inverse], v[inverse], design, method, test)
    p = np.mean(np.abs(z_perm) >= np.abs(z_obs) - COMPARISON_TOLERANCE, axis=0)
    qm_p = float(np.mean(qm_perm >= qm_obs[0] - COMPARISON_TOLERANCE))
    return PermutationResult(
        labels,
        tuple(float(x) for x in z_obs[0]),
        tuple(float(x) for x in p),
        float(qm_obs[0]),
        qm_p,
        int(z_perm.shape[0]),
        bool(exact),
        None if exact else seed,
    )
