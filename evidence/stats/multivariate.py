r"""Multivariate and multilevel meta-analysis models (metafor ``rma.mv``).

The model for ``N`` effect sizes ``y`` with a known sampling covariance matrix ``V``
(block diagonal by study; see :mod:`evidence.stats.vcalc`) is

.. math::

    y = X\beta + \sum_j Z_j u_j + w + e, \qquad u_j \sim N(0, \sigma^2_j I),
    \quad w \sim N(0, (Z_{in} G Z_{in}') \circ (Z_{out} Z_{out}')),
    \quad e \sim N(0, V),

so that the marginal covariance is

.. math::

    M = V + \sum_j \sigma^2_j Z_j Z_j' + (Z_{in} G Z_{in}') \circ (Z_{out} Z_{out}').

Each ``sigma2_j`` is the variance of a random intercept ``~ 1 | f_j`` (``Z_j`` the
indicator matrix of factor ``f_j``); nested factors ``~ 1 | a/b/c`` are the intercepts of
``a``, ``a/b`` and ``a/b/c`` (see :func:`nested`) and crossed factors are simply several
factors. The term ``~ inner | outer`` gives correlated random effects for the levels of
``inner`` (e.g. outcome) within each level of ``outer`` (e.g. study), with ``q x q``
covariance ``G`` of structure

- ``CS``: ``G = tau2 ((1 - rho) I + rho 11')``;
- ``HCS``: ``G_ab = rho sqrt(tau2_a tau2_b)``, ``G_aa = tau2_a``;
- ``UN``: ``G_ab = rho_ab sqrt(tau2_a tau2_b)`` (``rho`` in metafor's order, the lower
  triangle by columns: ``rho_21, rho_31, ..., rho_32, ...``);
- ``DIAG``: ``G = diag(tau2)``.

Estimation (Harville 1977; Viechtbauer 2010) maximises the log-likelihood

.. math::

    \ell_{ML} = -\tfrac{N}{2}\log 2\pi - \tfrac12\log|M| - \tfrac12 r'M^{-1}r

or the restricted log-likelihood (with metafor's constant ``+ 1/2 log|X'X|``)

.. math::

    \ell_{REML} = -\tfrac{N-p}{2}\log 2\pi + \tfrac12\log|X'X| - \tfrac12\log|M|
    - \tfrac12\log|X'M^{-1}X| - \tfrac12 r'M^{-1}r,

``r = y - X b`` with the GLS estimate ``b = (X'M^{-1}X)^{-1} X'M^{-1}y``. ``M`` is block
diagonal over the connected groups of rows (rows sharing a study in ``V``, a level of any
random factor or of ``outer``), so every quantity is a sum over blocks: blocks of equal
size are stacked and inverted together, and no ``N x N`` matrix is formed unless the
random effects connect all rows (fully crossed factors). The score

.. math::

    \partial(-2\ell)/\partial\theta_k = \operatorname{tr}(P\,\partial M_k)
    - u'\,\partial M_k\,u, \quad u = M^{-1}r,

(``P = M^{-1} - M^{-1}X(X'M^{-1}X)^{-1}X'M^{-1}`` for REML, ``M^{-1}`` for ML) is exact;
the optimiser is Newton's method on log variances, Fisher-z correlations (a log-Cholesky
factor of ``G`` for ``UN``) with a finite-difference Hessian of the exact score, started
where metafor starts. Components whose likelihood keeps rising towards the edge of the
parameter space are set to the edge (a variance to exactly 0, a correlation to +-1, an
unstructured ``G`` to a singular one), where metafor's optimiser stops just short.

Inference matches ``rma.mv``: Wald z (or t with ``N - p`` df and an F test for the
moderators, ``test="t"``) tests, ``QE`` (the fixed-effects residual heterogeneity
statistic ``r_FE' V^{-1} r_FE`` on ``N - p`` df) and ``QM``; fit statistics as metafor's
``fitstats`` (log-likelihood, deviance, AIC, BIC, AICc for ML and REML, with ``parms`` =
coefficients + estimated variance components, BIC and AICc on ``N - p`` observations for
REML and the ML deviance relative to the saturated model ``-2(ll - ll_sat)``,
``ll_sat = -N/2 log 2 pi - 1/2 log|V|``). :func:`profile_ci` gives profile-likelihood
CIs of the variance components (``confint.rma.mv``), :func:`anova` the likelihood-ratio
test of two nested models (``anova.rma``).

References
----------
Berkey CS, Hoaglin DC, Antczak-Bouckoms A, Mosteller F, Colditz GA (1998). Meta-analysis
of multiple outcomes by regression with random effects. Statistics in Medicine 17,
2537-2550.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
related problems. JASA 72, 320-338.
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods 2, 61-76.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software 36(3), 1-48 (metafor 3.8: ``rma.mv``, ``confint.rma.mv``,
``anova.rma``, ``fitstats``).
Pinheiro JC, Bates DM (1996). Unconstrained parametrizations for variance-covariance
matrices. Statistics and Computing 6, 289-296.

Examples
--------
>>> import numpy as np
>>> from scipy.linalg import block_diag
>>> y = [0.47, -0.32, 0.20, -0.60, 0.40, -0.12, 0.26, -0.31, 0.56, -0.39]
>>> V = block_diag([[0.0075, 0.0030], [0.0030, 0.0077]], [[0.0057, 0.0009], [0.0009, 0.0008]],
...                [[0.0021, 0.0007], [0.0007, 0.0014]], [[0.0029, 0.0009], [0.0009, 0.0015]],
...                [[0.0148, 0.0072], [0.0072, 0.0304]])
>>> outcome = ["PD", "AL"] * 5
>>> X = np.column_stack([np.array(outcome) == "AL", np.array(outcome) == "PD"]) * 1.0
>>> fit = rma_mv(y, V, X=X, inner=outcome, outer=np.repeat(np.arange(5), 2), struct="UN")
>>> [round(float(b), 4) for b in fit.beta], [round(t, 4) for t in fit.tau2 + fit.rho]
([-0.3392, 0.3534], [0.0327, 0.0117, 0.6088])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, sparse, stats
from scipy.sparse import csgraph

from evidence.stats.errors import InputError
from evidence.stats.results import coefficient_rows, finite

__all__ = [
    "AnovaResult",
    "FitStatistics",
    "MultivariateError",
    "MultivariateResult",
    "ProfileInterval",
    "ProfileResult",
    "STRUCTURES",
    "anova",
    "nested",
    "profile_ci",
    "rma_mv",
]

Array = NDArray[np.float64]

#: Variance structures of the ``~ inner | outer`` term.
STRUCTURES = ("CS", "HCS", "UN", "DIAG")
#: Newton iterations at most per fit.
MAX_ITERATIONS = 300
#: Convergence: largest Newton step (log / Fisher-z scale) below this.
STEP_TOLERANCE = 1e-11
#: A variance below this fraction of var(y) whose score points to 0 is set to 0.
BOUNDARY = 1e-7
#: A correlation whose Fisher z exceeds this (|rho| > 1 - 3e-8) is set to +-1.
RHO_EDGE = 9.0


class MultivariateError(InputError):
    """Invalid input to, or failure of, a multivariate model fit."""


def _floats(values: Any) -> list[float | None]:
    return [finite(v) for v in np.asarray(values, dtype=float).ravel()]


def nested(*factors: ArrayLike, names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Random intercepts of nested factors, ``~ 1 | a/b/c`` as metafor expands it.

    Parameters
    ----------
    *factors : array_like, shape (N,)
        Factors from outermost to innermost.
    names : sequence of str, optional
        Factor names (default ``f1``, ``f2``, ...).

    Returns
    -------
    dict
        ``{"a": labels, "a/b": labels, "a/b/c": labels}``: one random intercept per
        level of each prefix of the factors (levels joined with ``/``).

    Examples
    --------
    >>> nested(["d1", "d1", "d2"], [1, 2, 1], names=["district", "school"])
    {'district': ['d1', 'd1', 'd2'], 'district/school': ['d1/1', 'd1/2', 'd2/1']}
    """
    if not factors:
        raise MultivariateError("nested() needs at least one factor", "mv-nested")
    columns = [[str(v) for v in np.asarray(f, dtype=object).ravel()] for f in factors]
    if len({len(c) for c in columns}) != 1:
        raise MultivariateError("nested factors must have equal length", "mv-nested")
    names = list(names) if names is not None else [f"f{i + 1}" for i in range(len(factors))]
    if len(names) != len(factors):
        raise MultivariateError("names must have one entry per factor", "mv-nested")
    out: dict[str, list[str]] = {}
    labels = columns[0]
    out[names[0]] = list(labels)
    for depth in range(1, len(columns)):
        labels = [f"{a}/{b}" for a, b in zip(labels, columns[depth], strict=True)]
        out["/".join(names[: depth + 1])] = labels
    return out


# ---------------------------------------------------------------------------------------
# Data in blocks
# ---------------------------------------------------------------------------------------


@dataclass
class _Bucket:
    """Blocks of one size ``s``: ``m`` independent groups of rows."""

    rows: NDArray[np.int64]  # (m, s)
    y: Array  # (m, s)
    X: Array  # (m, s, p)
    V: Array  # (m, s, s)
    D: Array  # (n_sigma2, m, s, s)
    pair: NDArray[np.int64] | None  # (m, s, s) index inner_i * q + inner_k into G.ravel()
    O: Array | None  # (m, s, s) same outer level  # noqa: E741


def _codes(labels: ArrayLike, n: int, what: str) -> tuple[NDArray[np.int64], list[str]]:
    array = np.asarray(labels, dtype=object).ravel()
    if array.size != n:
        raise MultivariateError(f"{what} has {array.size} values but yi has {n}", "mv-length")
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in array):
        raise MultivariateError(f"{what} has missing values", "mv-missing")
    text = np.asarray([str(v) for v in array])
    try:
        numeric = np.asarray([float(v) for v in array])
        keys = np.unique(numeric)
        codes = np.searchsorted(keys, numeric)
        levels = [text[np.flatnonzero(numeric == k)[0]] for k in keys]
    except (TypeError, ValueError):
        levels_arr, codes = np.unique(text, return_inverse=True)
        levels = [str(x) for x in levels_arr]
    return codes.astype(np.int64), levels


class _Model:
    """Data of one model arranged in blocks, with likelihood and score evaluation."""

    def __init__(
        self,
        y: Array,
        V_rows: tuple[tuple[NDArray[np.int64], Array], ...] | Array,
        X: Array,
        factors: list[NDArray[np.int64]],
        inner: NDArray[np.int64] | None,
        outer: NDArray[np.int64] | None,
        q: int,
        struct: str | None,
    ) -> None:
        n, p = X.shape
        self.n, self.p, self.q, self.struct = n, p, q, struct
        self.n_sigma2 = len(factors)
        self.y, self.X = y, X
        # Connected groups of rows: V, every random factor and the outer factor link rows.
        heads, tails = [np.arange(n)], [np.arange(n)]
        if isinstance(V_rows, tuple):
            for rows, _block in V_rows:
                heads.append(rows)
                tails.append(np.full(rows.size, rows[0]))
        else:
            i, j = np.nonzero(V_rows)
            heads.append(i)
            tails.append(j)
        for codes in [*factors, *([outer] if outer is not None else [])]:
            first = np.full(codes.max() + 1, -1)
            first[codes[::-1]] = np.arange(n)[::-1]
            heads.append(np.arange(n))
            tails.append(first[codes])
        graph = sparse.coo_matrix(
            (np.ones(sum(h.size for h in heads)), (np.concatenate(heads), np.concatenate(tails))),
            shape=(n, n),
        )
        n_groups, group = csgraph.connected_components(graph, directed=False)
        self.n_groups = int(n_groups)
        order = np.argsort(group, kind="stable")
        sizes = np.bincount(group, minlength=n_groups)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        members = [order[starts[g] : starts[g + 1]] for g in range(n_groups)]
        dense = None if isinstance(V_rows, tuple) else V_rows
        # Where every row sits: its bucket (blocks of one size), block and position.
        position = np.empty(n, dtype=np.int64)
        for g_rows in members:
            position[g_rows] = np.arange(g_rows.size)
        bucket_sizes = np.unique(sizes)
        bucket_of_group = np.searchsorted(bucket_sizes, sizes)
        block_of_group = np.zeros(n_groups, dtype=np.int64)
        for bucket in range(bucket_sizes.size):
            in_bucket = np.flatnonzero(bucket_of_group == bucket)
            block_of_group[in_bucket] = np.arange(in_bucket.size)
        V_buckets = [np.zeros((int(np.sum(sizes == s)), s, s)) for s in bucket_sizes]
        if dense is None:
            for rows, block in V_rows:
                g = group[rows[0]]
                pos = position[rows]
                V_buckets[bucket_of_group[g]][block_of_group[g]][np.ix_(pos, pos)] = block
        self.buckets: list[_Bucket] = []
        for bucket, s in enumerate(bucket_sizes):
            groups = np.flatnonzero(bucket_of_group == bucket)
            idx = np.array([members[g] for g in groups])
            m = idx.shape[0]
            Vb = dense[idx[:, :, None], idx[:, None, :]] if dense is not None else V_buckets[bucket]
            D = (
                np.stack(
                    [(f[idx][:, :, None] == f[idx][:, None, :]).astype(float) for f in factors]
                )
                if factors
                else np.zeros((0, m, s, s))
            )
            pair = O = None  # noqa: E741
            if inner is not None and outer is not None:
                pair = inner[idx][:, :, None] * q + inner[idx][:, None, :]
                O = (outer[idx][:, :, None] == outer[idx][:, None, :]).astype(float)  # noqa: E741
            self.buckets.append(_Bucket(idx, y[idx], X[idx], Vb, D, pair, O))
        self.logdet_xtx = float(np.linalg.slogdet(X.T @ X)[1])

    # -- likelihood -------------------------------------------------------------------

    def evaluate(self, sigma2: Array, G: Array | None, reml: bool, score: bool = True):
        """-2 log-likelihood, GLS fit and the score with respect to sigma2 and G.

        Returns ``None`` when the marginal covariance is not positive definite.
        """
        p = self.p
        F = np.zeros((p, p))
        xwy = np.zeros(p)
        logdet = 0.0
        cache = []
        for bk in self.buckets:
            M = bk.V.copy()
            for j in range(self.n_sigma2):
                M += sigma2[j] * bk.D[j]
            if G is not None and bk.pair is not None and bk.O is not None:
                M += G.ravel()[bk.pair] * bk.O
            try:
                L = np.linalg.cholesky(M)
            except np.linalg.LinAlgError:
                return None
            diag = np.diagonal(L, axis1=1, axis2=2)
            if np.any(diag <= 0) or not np.all(np.isfinite(diag)):
                return None
            logdet += 2.0 * float(np.sum(np.log(diag)))
            W = np.linalg.inv(M)
            WX = W @ bk.X
            F += bk.X.reshape(-1, p).T @ WX.reshape(-1, p)
            xwy += WX.reshape(-1, p).T @ bk.y.ravel()
            cache.append((W, WX))
        try:
            cf = np.linalg.cholesky(F)
        except np.linalg.LinAlgError:
            return None
        Finv = np.linalg.inv(F)
        beta = Finv @ xwy
        rss = 0.0
        us = []
        for bk, (W, _WX) in zip(self.buckets, cache, strict=True):
            r = bk.y - bk.X @ beta
            u = (W @ r[:, :, None])[:, :, 0]
            rss += float(np.sum(r * u))
            us.append(u)
        logdet_f = 2.0 * float(np.sum(np.log(np.diag(cf))))
        ll_ml = -0.5 * self.n * math.log(2 * math.pi) - 0.5 * logdet - 0.5 * rss
        ll_reml = (
            -0.5 * (self.n - p) * math.log(2 * math.pi)
            + 0.5 * self.logdet_xtx
            - 0.5 * logdet
            - 0.5 * logdet_f
            - 0.5 * rss
        )
        out = {"beta": beta, "vcov": Finv, "ll_ml": ll_ml, "ll_reml": ll_reml, "rss": rss}
        out["f"] = -2.0 * (ll_reml if reml else ll_ml)
        if score:
            g_sigma2 = np.zeros(self.n_sigma2)
            B = np.zeros((self.q, self.q))
            for bk, (W, WX), u in zip(self.buckets, cache, us, strict=True):
                A = W - u[:, :, None] * u[:, None, :]
                if reml:
                    A = A - (WX @ Finv) @ WX.transpose(0, 2, 1)
                for j in range(self.n_sigma2):
                    g_sigma2[j] += float(np.sum(A * bk.D[j]))
                if bk.pair is not None and bk.O is not None:
                    B += np.bincount(
                        bk.pair.ravel(), weights=(A * bk.O).ravel(), minlength=self.q * self.q
                    ).reshape(self.q, self.q)
            out["g_sigma2"] = g_sigma2
            out["B"] = B
        return out

    def fixed_effects(self) -> tuple[float, Array]:
        """``QE = r' V^{-1} r`` at the fixed-effects (``M = V``) GLS fit, and that fit."""
        res = self.evaluate(np.zeros(self.n_sigma2), None, reml=False, score=False)
        if res is None:
            raise MultivariateError("V is not positive definite", "mv-covariance")
        return float(res["rss"]), res["beta"]

    def saturated_loglik(self) -> float:
        """``-N/2 log 2 pi - 1/2 log|V|`` (metafor's ``ll.QE``)."""
        logdet = 0.0
        for bk in self.buckets:
            logdet += float(np.sum(np.linalg.slogdet(bk.V)[1]))
        return -0.5 * self.n * math.log(2 * math.pi) - 0.5 * logdet


# ---------------------------------------------------------------------------------------
# Variance structures
# ---------------------------------------------------------------------------------------


def _n_g_params(struct: str | None, q: int) -> tuple[int, int]:
    """Numbers of tau2 and rho parameters of a structure with ``q`` levels."""
    if struct is None:
        return 0, 0
    return {"CS": (1, 1), "HCS": (q, 1), "UN": (q, q * (q - 1) // 2), "DIAG": (q, 0)}[struct]


def _pairs(q: int) -> list[tuple[int, int]]:
    """Lower-triangle index pairs in metafor's (column-major) order."""
    return [(a, b) for b in range(q) for a in range(b + 1, q)]


def _g_matrix(struct: str, q: int, theta: Array) -> tuple[Array, list[Array]]:
    """``G`` and its derivatives with respect to the natural parameters (tau2, rho)."""
    n_tau, n_rho = _n_g_params(struct, q)
    tau2, rho = theta[:n_tau], theta[n_tau:]
    eye, ones = np.eye(q), np.ones((q, q))
    if struct == "CS":
        G = tau2[0] * ((1 - rho[0]) * eye + rho[0] * ones)
        return G, [(1 - rho[0]) * eye + rho[0] * ones, tau2[0] * (ones - eye)]
    if struct == "DIAG":
        return np.diag(tau2), [np.diag(eye[a]) for a in range(q)]
    root = np.sqrt(np.maximum(tau2, 0.0))
    R = np.eye(q)
    pairs = _pairs(q)
    if struct == "HCS":
        R = R + rho[0] * (ones - eye)
    else:
        for r, (a, b) in zip(rho, pairs, strict=True):
            R[a, b] = R[b, a] = r
    G = R * np.outer(root, root)
    derivs = []
    safe = np.maximum(root, 1e-150)
    for a in range(q):
        d = np.zeros((q, q))
        d[a, :] = R[a, :] * root / (2 * safe[a])
        d[:, a] += R[:, a] * root / (2 * safe[a])
        d[a, a] = 1.0
        derivs.append(d)
    if struct == "HCS":
        derivs.append(np.outer(root, root) * (ones - eye))
    else:
        for a, b in pairs:
            d = np.zeros((q, q))
            d[a, b] = d[b, a] = root[a] * root[b]
            derivs.append(d)
    return G, derivs


# ---------------------------------------------------------------------------------------
# The optimisation problem: natural parameters, fixed values, internal parametrisation
# ---------------------------------------------------------------------------------------


class _Problem:
    """-2 log-likelihood as a function of the free parameters on an unconstrained scale.

    Natural parameters ``theta = (sigma2..., tau2..., rho...)``. Free variances enter
    as logs and correlations as Fisher z; for an unstructured ``G`` with nothing fixed
    the ``G`` block is a log-Cholesky factor instead (always positive semi-definite).
    """

    def __init__(
        self, model: _Model, reml: bool, fixed: Array, zero_diag: frozenset[int] = frozenset()
    ) -> None:
        self.model, self.reml = model, reml
        self.zero_diag = zero_diag  # Cholesky diagonal entries held at 0 (singular G)
        self.n_s = model.n_sigma2
        self.n_tau, self.n_rho = _n_g_params(model.struct, model.q)
        self.n_theta = self.n_s + self.n_tau + self.n_rho
        self.fixed = fixed  # NaN where free
        self.free = np.isnan(fixed)
        g_free = self.free[self.n_s :]
        self.cholesky = model.struct == "UN" and model.q > 1 and bool(np.all(g_free))
        self.kinds = ["var"] * (self.n_s + self.n_tau) + ["cor"] * self.n_rho
        # Positions in the internal vector of log-variances that may reach 0.
        slots, k = [], 0
        for i in range(self.n_theta):
            if not self.free[i] or (self.cholesky and i >= self.n_s):
                continue
            if i < self.n_s + self.n_tau:
                slots.append(k)
            k += 1
        self.boundary_slots = np.asarray(slots, dtype=np.int64)
        # Fisher-z correlations (|rho| -> 1) and log-Cholesky diagonals (singular G).
        rho_slots, k = [], 0
        for i in range(self.n_theta):
            if self.free[i] and not (self.cholesky and i >= self.n_s):
                if self.kinds[i] == "cor":
                    rho_slots.append(k)
                k += 1
        self.rho_slots = np.asarray(rho_slots, dtype=np.int64)
        self.diag_slots = (
            np.arange(k, k + self.model.q - len(zero_diag))
            if self.cholesky
            else (np.zeros(0, dtype=np.int64))
        )
        self.live_diag = [i for i in range(self.model.q) if i not in zero_diag]

    # natural <-> internal
    def to_internal(self, theta: Array) -> Array:
        out = []
        for i in range(self.n_s):
            if self.free[i]:
                out.append(math.log(max(theta[i], 1e-300)))
        if self.cholesky:
            G, _ = _g_matrix("UN", self.model.q, theta[self.n_s :])
            w, U = np.linalg.eigh(G)
            G = (U * np.maximum(w, 1e-8 * max(w.max(), 1e-12))) @ U.T
            L = np.linalg.cholesky(G)
            q = self.model.q
            out.extend(np.log(np.diag(L))[self.live_diag])
            out.extend(L[a, b] for a, b in _pairs(q))
        else:
            for i in range(self.n_s, self.n_theta):
                if self.free[i]:
                    if self.kinds[i] == "var":
                        out.append(math.log(max(theta[i], 1e-300)))
                    else:
                        out.append(math.atanh(min(max(theta[i], -1 + 1e-12), 1 - 1e-12)))
        return np.asarray(out, dtype=float)

    def natural(self, phi: Array) -> tuple[Array, Array | None]:
        """Natural parameters and (for Cholesky) the lower-triangular factor."""
        theta = self.fixed.copy()
        k = 0
        with np.errstate(over="ignore"):
            for i in range(self.n_s):
                if self.free[i]:
                    theta[i] = math.exp(min(phi[k], 700.0))
                    k += 1
            if self.cholesky:
                q = self.model.q
                n_live = len(self.live_diag)
                L = np.zeros((q, q))
                L[self.live_diag, self.live_diag] = np.exp(np.minimum(phi[k : k + n_live], 700.0))
                for (a, b), value in zip(_pairs(q), phi[k + n_live :], strict=True):
                    L[a, b] = value
                G = L @ L.T
                tau2 = np.diag(G).copy()
                root = np.sqrt(tau2)
                theta[self.n_s : self.n_s + q] = tau2
                theta[self.n_s + q :] = [
                    G[a, b] / (root[a] * root[b]) if root[a] * root[b] > 0 else math.nan
                    for a, b in _pairs(q)
                ]
                return theta, L
            for i in range(self.n_s, self.n_theta):
                if self.free[i]:
                    if self.kinds[i] == "var":
                        theta[i] = math.exp(min(phi[k], 700.0))
                    else:
                        theta[i] = math.tanh(phi[k])
                    k += 1
        return theta, None

    def g_of(self, theta: Array, L: Array | None) -> tuple[Array | None, list[Array]]:
        if self.model.struct is None:
            return None, []
        if L is not None:
            return L @ L.T, []
        return _g_matrix(self.model.struct, self.model.q, theta[self.n_s :])

    def value(self, phi: Array, score: bool = True):
        theta, L = self.natural(phi)
        G, dG = self.g_of(theta, L)
        res = self.model.evaluate(theta[: self.n_s], G, self.reml, score=score)
        if res is None or not math.isfinite(res["f"]):
            return math.inf, None, theta
        if not score:
            return res["f"], None, theta
        grad = []
        for i in range(self.n_s):
            if self.free[i]:
                grad.append(res["g_sigma2"][i] * theta[i])
        if L is not None:
            dL = 2.0 * res["B"] @ L
            q = self.model.q
            grad.extend((np.diag(dL) * np.diag(L))[self.live_diag])
            grad.extend(dL[a, b] for a, b in _pairs(q))
        else:
            for j, i in enumerate(range(self.n_s, self.n_theta)):
                if self.free[i]:
                    g = float(np.sum(res["B"] * dG[j]))
                    grad.append(g * theta[i] if self.kinds[i] == "var" else g * (1 - theta[i] ** 2))
        return res["f"], np.asarray(grad, dtype=float), theta

    def natural_score(self, theta: Array) -> Array:
        """Score of -2 log-likelihood with respect to every natural parameter."""
        G, dG = self.g_of(theta, None)
        res = self.model.evaluate(theta[: self.n_s], G, self.reml)
        if res is None:
            return np.full(self.n_theta, np.nan)
        out = list(res["g_sigma2"])
        out.extend(float(np.sum(res["B"] * d)) for d in dG)
        return np.asarray(out)


def _hessian(problem: _Problem, phi: Array, grad: Array) -> Array:
    """Forward-difference Hessian of the exact score (backward where forward is undefined).

    Only the Newton direction depends on it, not the optimum, which is where the exact
    score vanishes.
    """
    n = phi.size
    H = np.zeros((n, n))
    for i in range(n):
        h = 1e-6 * max(1.0, abs(phi[i]))
        for sign in (1.0, -1.0):
            moved = phi.copy()
            moved[i] += sign * h
            _, g_moved, _ = problem.value(moved)
            if g_moved is not None:
                H[:, i] = sign * (g_moved - grad) / h
                break
        else:
            H[i, i] = 1.0
    return 0.5 * (H + H.T)


def _newton(problem: _Problem, phi: Array, floor: float = -math.inf) -> tuple[Array, float, int]:
    """Minimise -2 log-likelihood by damped, eigenvalue-modified Newton steps.

    Stops early when a log-variance that may sit on the boundary falls below ``floor``
    (the caller then decides whether that component is 0).
    """
    f, grad, _ = problem.value(phi)
    if grad is None:
        raise MultivariateError(
            "the starting values give a covariance that is not positive definite", "mv-fit"
        )
    for iteration in range(1, MAX_ITERATIONS + 1):
        if phi.size == 0:
            return phi, f, iteration
        H = _hessian(problem, phi, grad)
        w, U = np.linalg.eigh(H)
        smallest = 1e-10 * max(1.0, float(np.abs(w).max()))
        w = np.maximum(np.abs(w), smallest)
        step = -U @ ((U.T @ grad) / w)
        largest = float(np.abs(step).max())
        if largest > 5.0:
            step *= 5.0 / largest
        t = 1.0
        improved = False
        while t > 1e-12:
            candidate = phi + t * step
            f_new, g_new, _ = problem.value(candidate)
            if g_new is not None and f_new <= f + 1e-4 * t * float(grad @ step):
                improved = True
                break
            if g_new is not None and f_new <= f and t < 1e-3:
                improved = True
                break
            t /= 2
        if not improved:
            # No descent along the Newton direction: at the optimum to machine precision.
            return phi, f, iteration
        moved = float(np.abs(candidate - phi).max())
        phi, f, grad = candidate, f_new, g_new
        if moved < STEP_TOLERANCE:
            return phi, f, iteration
        if problem.boundary_slots.size and np.any(phi[problem.boundary_slots] < floor):
            return phi, f, iteration
        if problem.diag_slots.size and np.any(phi[problem.diag_slots] < 0.5 * floor):
            return phi, f, iteration
        if problem.rho_slots.size and np.any(np.abs(phi[problem.rho_slots]) > RHO_EDGE):
            return phi, f, iteration
    raise MultivariateError("the variance components did not converge", "mv-fit")


def _optimise(model: _Model, reml: bool, fixed: Array, start: Array) -> tuple[Array, int]:
    """Optimum of the (restricted) likelihood over the free natural parameters.

    Components that run to the edge of the parameter space are held there and the others
    re-optimised: a variance below ``BOUNDARY`` x var(y) whose score at 0 points below
    zero (the likelihood falls as it leaves 0) is set to 0; a correlation within 3e-8 of
    +-1 is set to +-1; an unstructured ``G`` whose Cholesky factor loses a diagonal entry
    becomes singular (a correlation of +-1). Such a move is kept only if the likelihood
    does not fall.
    """
    fixed = fixed.copy()
    zero_diag: frozenset[int] = frozenset()
    total_iterations = 0
    scale = max(float(np.var(model.y)), 1e-12)
    floor = math.log(BOUNDARY * scale)
    best: tuple[float, Array] | None = None
    # Start inside the parameter space: a variance at 0 or a correlation at +-1 would
    # leave the log / Fisher-z scale with no gradient to follow.
    start = start.copy()
    n_var = model.n_sigma2 + _n_g_params(model.struct, model.q)[0]
    start[:n_var] = np.maximum(start[:n_var], 1e-3 * scale)
    start[n_var:] = np.clip(start[n_var:], -0.99, 0.99)
    for _ in range(2 * fixed.size + 2):
        problem = _Problem(model, reml, fixed, zero_diag)
        theta0 = np.where(problem.free, start, fixed)
        phi, f, iterations = _newton(problem, problem.to_internal(theta0), floor)
        total_iterations += iterations
        theta, L = problem.natural(phi)
        if best is not None and f > best[0] + 1e-9 * max(1.0, abs(best[0])):
            return best[1], total_iterations
        best = (f, theta)
        slots = set(problem.boundary_slots.tolist())
        candidates, k = [], 0
        for i in range(problem.n_theta):
            if problem.free[i] and not (problem.cholesky and i >= problem.n_s):
                if k in slots and theta[i] < BOUNDARY * scale:
                    candidates.append(i)
                k += 1
        newly = []
        if candidates:
            # The score at 0 decides for sigma2 and the tau2 of CS and DIAG; for HCS and
            # UN it is infinite there (d sqrt(tau2)), and the likelihood check decides.
            at_zero = theta.copy()
            at_zero[candidates] = 0.0
            score = problem.natural_score(at_zero)
            plain = problem.n_s + (problem.n_tau if model.struct in ("CS", "DIAG") else 0)
            newly = [i for i in candidates if i >= plain or score[i] >= 0]
        edges = [
            i
            for i in range(problem.n_s + problem.n_tau, problem.n_theta)
            if problem.free[i] and not problem.cholesky and abs(theta[i]) > math.tanh(RHO_EDGE)
        ]
        singular = set()
        if problem.cholesky and L is not None:
            singular = {i for i in problem.live_diag if L[i, i] ** 2 < BOUNDARY * scale and i > 0}
        if not newly and not edges and not singular:
            if candidates:
                # A small but positive optimum: finish without the early stop.
                phi, f, iterations = _newton(problem, phi)
                theta, _ = problem.natural(phi)
                total_iterations += iterations
            return theta, total_iterations
        fixed[newly] = 0.0
        for i in edges:
            fixed[i] = math.copysign(1.0, theta[i])
        zero_diag = zero_diag | frozenset(singular)
        start = theta
    return theta, total_iterations


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitStatistics:
    """metafor ``fitstats``: log-likelihood, deviance, AIC, BIC and AICc."""

    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float

    def to_dict(self) -> dict[str, float | None]:
        """``{"loglik", "deviance", "aic", "bic", "aicc"}``."""
        return {
            "loglik": finite(self.loglik),
            "deviance": finite(self.deviance),
            "aic": finite(self.aic),
            "bic": finite(self.bic),
            "aicc": finite(self.aicc),
        }


def _fit_statistics(ll: float, deviance: float, parms: int, n: int) -> FitStatistics:
    big = max(n, parms + 2)
    return FitStatistics(
        ll,
        deviance,
        -2 * ll + 2 * parms,
        -2 * ll + parms * math.log(n),
        -2 * ll + 2 * parms * big / (big - parms - 1),
    )


@dataclass(frozen=True)
class MultivariateResult:
    """A fitted multivariate / multilevel model (metafor ``rma.mv``).

    Attributes
    ----------
    names : tuple of str
        Coefficient names (columns of ``X``).
    beta, se, statistic, p, ci_lower, ci_upper : ndarray
        Coefficients, standard errors, z (or t) statistics, p-values and CIs.
    vcov : ndarray
        Covariance matrix of the coefficients, ``(X'M^{-1}X)^{-1}``.
    df : int or None
        Residual df ``N - p`` of the t tests (None for z tests).
    sigma2, sigma2_names : tuple
        Variances of the random intercepts and the factor names.
    struct, inner_levels, tau2, rho : ...
        Structure of the ``~ inner | outer`` term, the levels of ``inner`` (sorted as R
        sorts factor levels), its variances and correlations (empty without the term).
    fixed : tuple of bool
        For each of ``sigma2 + tau2 + rho``: held fixed (given, or by the structure).
    qe, qe_df, qe_p : float, int, float
        Test of residual heterogeneity.
    qm, qm_df, qm_p : float, tuple, float
        Omnibus test of the moderators (F with ``(m, N - p)`` df for t tests).
    parms : int
        Number of estimated parameters (coefficients + free variance components).
    fit_ml, fit_reml : FitStatistics
        metafor ``fitstats`` columns ML and REML at the fitted parameters.
    k, n_groups : int
        Number of effects and of independent groups of rows.
    """

    names: tuple[str, ...]
    beta: Array
    se: Array
    statistic: Array
    p: Array
    ci_lower: Array
    ci_upper: Array
    vcov: Array
    df: int | None
    method: str
    test: str
    level: float
    sigma2: tuple[float, ...]
    sigma2_names: tuple[str, ...]
    struct: str | None
    inner_levels: tuple[str, ...]
    tau2: tuple[float, ...]
    rho: tuple[float, ...]
    fixed: tuple[bool, ...]
    qe: float
    qe_df: int
    qe_p: float
    qm: float
    qm_df: tuple[int, int | None]
    qm_p: float
    parms: int
    fit_ml: FitStatistics
    fit_reml: FitStatistics
    k: int
    n_groups: int
    iterations: int
    _model: Any = field(default=None, repr=False, compare=False)
    _theta: Any = field(default=None, repr=False, compare=False)
    _user_fixed: Any = field(default=None, repr=False, compare=False)

    @property
    def loglik(self) -> float:
        """Log-likelihood of the fitting method (restricted for REML)."""
        return self.fit_reml.loglik if self.method == "REML" else self.fit_ml.loglik

    def fitstats(self) -> FitStatistics:
        """Return the fit statistics of the fitting method (metafor ``fitstats(fit)``)."""
        return self.fit_reml if self.method == "REML" else self.fit_ml

    def to_dict(self) -> dict[str, object]:
        """JSON form: coefficients, variance components, tests and fit statistics."""
        return {
            "k": self.k,
            "method": self.method,
            "test": self.test,
            "df": self.df,
            "coefficients": coefficient_rows(
                self.names,
                self.beta,
                self.se,
                self.statistic,
                self.p,
                self.ci_lower,
                self.ci_upper,
            ),
            "sigma2": {
                name: finite(v) for name, v in zip(self.sigma2_names, self.sigma2, strict=True)
            },
            "struct": self.struct,
            "inner_levels": list(self.inner_levels),
            "tau2": _floats(self.tau2),
            "rho": _floats(self.rho),
            "qe": finite(self.qe),
            "qe_df": self.qe_df,
            "qe_p": finite(self.qe_p),
            "qm": finite(self.qm),
            "qm_df": list(self.qm_df),
            "qm_p": finite(self.qm_p),
            "parms": self.parms,
            "fitstats": {"ML": self.fit_ml.to_dict(), "REML": self.fit_reml.to_dict()},
            "n_groups": self.n_groups,
        }


def _as_matrix(X: ArrayLike | None, n: int) -> Array:
    if X is None:
        return np.ones((n, 1))
    matrix = np.asarray(X, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] != n:
        raise MultivariateError(f"X must have one row per effect ({n})", "mv-length")
    if not np.all(np.isfinite(matrix)):
        raise MultivariateError("X must be finite", "mv-missing")
    if np.linalg.matrix_rank(matrix) < matrix.shape[1]:
        raise MultivariateError("X is not of full column rank", "mv-collinear")
    return matrix


def _sampling_covariance(V: Any, n: int):
    """Dense ``V`` or a tuple of ``(rows, block)`` from 1-D ``vi``, 2-D ``V`` or blocks."""
    if hasattr(V, "rows") and hasattr(V, "blocks"):
        if int(V.n) != n:
            raise MultivariateError(f"V has {V.n} rows but yi has {n}", "mv-length")
        pairs = tuple(
            (np.asarray(r, dtype=np.int64), np.asarray(b, dtype=float))
            for r, b in zip(V.rows, V.blocks, strict=True)
        )
        diag = np.zeros(n)
        for rows, block in pairs:
            diag[rows] = np.diag(block)
        if not all(np.all(np.isfinite(b)) and np.array_equal(b, b.T) for _, b in pairs):
            raise MultivariateError(
                "every block of V must be finite and symmetric", "mv-covariance"
            )
        return pairs, diag
    array = np.asarray(V, dtype=float)
    if array.ndim == 1:
        if array.size != n:
            raise MultivariateError(f"vi has {array.size} values but yi has {n}", "mv-length")
        if not np.all(np.isfinite(array)) or np.any(array <= 0):
            raise MultivariateError("vi must be finite and positive", "mv-variance")
        return tuple((np.array([i]), np.array([[v]])) for i, v in enumerate(array)), array
    if array.shape != (n, n):
        raise MultivariateError(f"V must be {n} x {n}", "mv-length")
    if not np.all(np.isfinite(array)) or not np.allclose(array, array.T):
        raise MultivariateError("V must be finite and symmetric", "mv-covariance")
    return array, np.diag(array).copy()


def _fixed_values(values: Any, n: int, what: str) -> Array:
    if values is None:
        return np.full(n, np.nan)
    array = np.atleast_1d(
        np.asarray([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)
    )
    if array.size == 1 and n > 1:
        array = np.full(n, array[0])
    if array.size != n:
        raise MultivariateError(
            f"{what} must have {n} values (None or NaN where estimated)", "mv-fixed"
        )
    return array


def rma_mv(
    yi: ArrayLike,
    V: Any,
    *,
    X: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    random: Mapping[str, ArrayLike] | Sequence[ArrayLike] | None = None,
    inner: ArrayLike | None = None,
    outer: ArrayLike | None = None,
    struct: str = "CS",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    sigma2: Sequence[float | None] | float | None = None,
    tau2: Sequence[float | None] | float | None = None,
    rho: Sequence[float | None] | float | None = None,
) -> MultivariateResult:
    """Fit a multivariate / multilevel meta-analysis model (metafor ``rma.mv``).

    Parameters
    ----------
    yi : array_like, shape (N,)
        Effect sizes.
    V : array_like or SamplingCovariance
        Sampling variances (shape (N,)), the sampling covariance matrix (N x N), or the
        blocks returned by :func:`evidence.stats.vcalc.vcalc`.
    X : array_like, shape (N, p), optional
        Design matrix, used as given (an intercept-only model when omitted). A column of
        ones is taken as the intercept and left out of the ``QM`` test.
    names : sequence of str, optional
        Coefficient names (default ``intrcpt`` / ``X1``, ``X2``, ...).
    random : mapping or sequence of array_like, optional
        Random intercepts ``~ 1 | f`` (one variance each): ``{name: labels}``; use
        :func:`nested` for ``~ 1 | a/b/c``, several factors for crossed effects. Without
        any random effect the model is the generalised least-squares fit with the known V.
    inner, outer : array_like, shape (N,), optional
        The ``~ inner | outer`` term (e.g. outcome within study) with covariance
        structure ``struct``. The levels of ``inner`` are sorted (numerically when all
        are numbers, else by code point, which for mixed-case labels can differ from
        R's locale order); ``tau2`` and ``rho`` follow that order.
    struct : {"CS", "HCS", "UN", "DIAG"}
        Covariance structure of the ``~ inner | outer`` term.
    method : {"REML", "ML"}
        Restricted or full maximum likelihood.
    test : {"z", "t"}
        Wald z tests, or t tests on ``N - p`` df with an F test for the moderators.
    level : float
        Confidence level of the CIs.
    sigma2, tau2, rho : optional
        Values at which to hold components fixed (None or NaN: estimated), as metafor's
        arguments of the same names.

    Returns
    -------
    MultivariateResult

    Raises
    ------
    MultivariateError
        For inputs of the wrong shape, non-finite values, a rank-deficient ``X``, an
        unknown structure or method, or a fit that does not converge.

    Examples
    --------
    >>> fit = rma_mv([0.1, 0.3, 0.2, 0.5, 0.4, 0.0], [0.01, 0.02, 0.015, 0.01, 0.02, 0.03],
    ...              random=nested([1, 1, 2, 2, 3, 3], [1, 2, 1, 2, 1, 2]))
    >>> round(float(fit.beta[0]), 4), [round(s, 5) for s in fit.sigma2], fit.sigma2_names
    (0.2616, [0.0, 0.01969], ('f1', 'f1/f2'))
    """
    y = np.asarray(yi, dtype=float).ravel()
    n = y.size
    if n < 2:
        raise MultivariateError("at least two effects are needed", "mv-too-few")
    if not np.all(np.isfinite(y)):
        raise MultivariateError("yi must be finite", "mv-missing")
    _check_options(method, test, level)
    V_struct, vdiag = _sampling_covariance(V, n)
    Xm = _as_matrix(X, n)
    p = Xm.shape[1]
    if n <= p:
        raise MultivariateError("more effects than coefficients are needed", "mv-too-few")
    names = _coefficient_names(names, X is None, p)
    terms = _random_terms(random, inner, outer, struct, n)
    model = _Model(y, V_struct, Xm, terms.factors, terms.inner, terms.outer, terms.q, terms.struct)
    user_fixed = _user_fixed(model, sigma2, tau2, rho)
    qe, beta_fe = model.fixed_effects()
    if user_fixed.size == 0:  # no random effects: nothing to estimate
        theta, iterations = np.empty(0), 0
    else:
        start = _start_values(model, y - Xm @ beta_fe, vdiag)
        theta, iterations = _optimise(model, method == "REML", user_fixed, start)
    return _result(
        model,
        theta,
        user_fixed,
        names,
        method,
        test,
        level,
        qe,
        terms.items,
        terms.inner_levels,
        iterations,
    )


def _check_options(method: str, test: str, level: float) -> None:
    """Check that the fitting method, test and confidence level are ones rma_mv knows."""
    if method not in ("REML", "ML"):
        raise MultivariateError(f"method must be 'REML' or 'ML', not {method!r}", "mv-method")
    if test not in ("z", "t"):
        raise MultivariateError(f"test must be 'z' or 't', not {test!r}", "mv-test")
    if not 0 < level < 1:
        raise MultivariateError("level must lie strictly between 0 and 1", "mv-level")


def _coefficient_names(
    names: Sequence[str] | None, intercept_only: bool, p: int
) -> tuple[str, ...]:
    """Return the names given, or ``intrcpt`` / ``X1, X2, ...``; one per column of ``X``."""
    if names is None:
        names = ["intrcpt"] if intercept_only else [f"X{i + 1}" for i in range(p)]
    out = tuple(str(x) for x in names)
    if len(out) != p:
        raise MultivariateError("names must have one entry per column of X", "mv-names")
    return out


@dataclass(frozen=True)
class _RandomTerms:
    """The random effects of a model: intercepts ``~ 1 | f`` and ``~ inner | outer``."""

    items: list[tuple[str, ArrayLike]]  # (name, labels) of each random intercept
    factors: list[NDArray[np.int64]]  # their level codes
    inner: NDArray[np.int64] | None
    outer: NDArray[np.int64] | None
    inner_levels: list[str]
    q: int  # levels of inner (0 without the term)
    struct: str | None  # None without the term


def _random_terms(
    random: Mapping[str, ArrayLike] | Sequence[ArrayLike] | None,
    inner: ArrayLike | None,
    outer: ArrayLike | None,
    struct: str,
    n: int,
) -> _RandomTerms:
    """Check the random effects and code their factors' levels."""
    if random is None:
        items: list[tuple[str, ArrayLike]] = []
    elif isinstance(random, Mapping):
        items = [(str(k), v) for k, v in random.items()]
    else:
        items = [(f"f{i + 1}", v) for i, v in enumerate(random)]
    factors = [_codes(v, n, f"random factor {k!r}")[0] for k, v in items]
    if (inner is None) != (outer is None):
        raise MultivariateError("give both inner and outer (or neither)", "mv-struct")
    if inner is None or outer is None:
        # No random effect at all: the fixed-effects (GLS) model with known V, as metafor
        # rma.mv fits it without ``random``.
        return _RandomTerms(items, factors, None, None, [], 0, None)
    if struct not in STRUCTURES:
        raise MultivariateError(f"struct must be one of {', '.join(STRUCTURES)}", "mv-struct")
    inner_codes, inner_levels = _codes(inner, n, "inner")
    outer_codes, _ = _codes(outer, n, "outer")
    return _RandomTerms(
        items, factors, inner_codes, outer_codes, inner_levels, len(inner_levels), struct
    )


def _user_fixed(model: _Model, sigma2: Any, tau2: Any, rho: Any) -> Array:
    """Return the values held fixed (NaN where estimated); CS with one level has no rho."""
    n_s = model.n_sigma2
    n_tau, n_rho = _n_g_params(model.struct, model.q)
    user_fixed = np.concatenate(
        [
            _fixed_values(sigma2, n_s, "sigma2"),
            _fixed_values(tau2, n_tau, "tau2"),
            _fixed_values(rho, n_rho, "rho"),
        ]
    )
    if model.struct == "CS" and model.q == 1:
        user_fixed[n_s + 1] = 0.0 if np.isnan(user_fixed[n_s + 1]) else user_fixed[n_s + 1]
    return user_fixed


def _start_values(model: _Model, resid: Array, vdiag: Array) -> Array:
    """Start where metafor starts.

    The residual variance of the fixed-effects fit beyond the typical sampling variance,
    shared equally among the variance components; correlations 0.5.
    """
    n_var = model.n_sigma2 + _n_g_params(model.struct, model.q)[0]
    n_rho = _n_g_params(model.struct, model.q)[1]
    total = max(0.001 * n_var, float(np.var(resid, ddof=1)) - 1 / float(np.mean(1 / vdiag)))
    return np.concatenate([np.full(n_var, total / max(n_var, 1)), np.full(n_rho, 0.5)])


def _result(
    model, theta, user_fixed, names, method, test, level, qe, items, inner_levels, iterations
):
    n, p = model.n, model.p
    n_s = model.n_sigma2
    n_tau, n_rho = _n_g_params(model.struct, model.q)
    G = None
    if model.struct is not None:
        G, _ = _g_matrix(model.struct, model.q, theta[n_s:])
    res = model.evaluate(theta[:n_s], G, method == "REML", score=False)
    if res is None:
        raise MultivariateError("the fitted marginal covariance is not positive definite", "mv-fit")
    beta, vcov = res["beta"], res["vcov"]
    se = np.sqrt(np.diag(vcov))
    stat = beta / se
    df = n - p if test == "t" else None
    intercept = [j for j in range(p) if np.all(model.X[:, j] == 1.0)]
    btt = [j for j in range(p) if j not in intercept[:1]] or list(range(p))
    m = len(btt)
    sub = vcov[np.ix_(btt, btt)]
    qm = float(beta[btt] @ np.linalg.solve(sub, beta[btt]))
    if test == "t":
        crit = stats.t.ppf(0.5 + level / 2, df)
        pvals = 2 * stats.t.sf(np.abs(stat), df)
        qm = qm / m
        qm_df: tuple[int, int | None] = (m, df)
        qm_p = float(stats.f.sf(qm, m, df))
    else:
        crit = stats.norm.ppf(0.5 + level / 2)
        pvals = 2 * stats.norm.sf(np.abs(stat))
        qm_df = (m, None)
        qm_p = float(stats.chi2.sf(qm, m))
    qe_df = n - p
    qe_p = float(stats.chi2.sf(qe, qe_df)) if qe_df > 0 else 1.0
    fixed = ~np.isnan(user_fixed)
    parms = p + int(np.sum(~fixed))
    ll_sat = model.saturated_loglik()
    fit_ml = _fit_statistics(res["ll_ml"], -2 * (res["ll_ml"] - ll_sat), parms, n)
    fit_reml = _fit_statistics(res["ll_reml"], -2 * res["ll_reml"], parms, n - p)
    return MultivariateResult(
        names=tuple(names),
        beta=beta,
        se=se,
        statistic=stat,
        p=pvals,
        ci_lower=beta - crit * se,
        ci_upper=beta + crit * se,
        vcov=vcov,
        df=df,
        method=method,
        test=test,
        level=level,
        sigma2=tuple(float(x) for x in theta[:n_s]),
        sigma2_names=tuple(k for k, _ in items),
        struct=model.struct,
        inner_levels=tuple(inner_levels),
        tau2=tuple(float(x) for x in theta[n_s : n_s + n_tau]),
        rho=tuple(float(x) for x in theta[n_s + n_tau :]),
        fixed=tuple(bool(x) for x in fixed),
        qe=qe,
        qe_df=qe_df,
        qe_p=qe_p,
        qm=qm,
        qm_df=qm_df,
        qm_p=qm_p,
        parms=parms,
        fit_ml=fit_ml,
        fit_reml=fit_reml,
        k=n,
        n_groups=model.n_groups,
        iterations=iterations,
        _model=model,
        _theta=theta,
        _user_fixed=user_fixed,
    )


# ---------------------------------------------------------------------------------------
# Profile-likelihood CIs and likelihood-ratio tests
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileInterval:
    """Profile-likelihood CI of one variance component.

    ``lower_at_bound`` / ``upper_at_bound`` are true when the likelihood does not drop far
    enough before the end of the search interval (0 or -1 below; ``max(10, 100 x
    estimate)`` or 1 above), which is then reported as the bound (metafor does the same).
    """

    component: str
    kind: str
    estimate: float
    lower: float | None
    upper: float | None
    lower_at_bound: bool
    upper_at_bound: bool

    def to_dict(self) -> dict[str, object]:
        """``{"component", "kind", "estimate", "ci", "lower_at_bound", "upper_at_bound"}``."""
        return {
            "component": self.component,
            "kind": self.kind,
            "estimate": finite(self.estimate),
            "ci": [finite(self.lower), finite(self.upper)],
            "lower_at_bound": self.lower_at_bound,
            "upper_at_bound": self.upper_at_bound,
        }


@dataclass(frozen=True)
class ProfileResult:
    """Profile-likelihood CIs of every estimated variance component."""

    level: float
    intervals: tuple[ProfileInterval, ...]

    def to_dict(self) -> dict[str, object]:
        """``{"level", "intervals": [...]}``."""
        return {"level": self.level, "intervals": [i.to_dict() for i in self.intervals]}


def _component_labels(fit: MultivariateResult) -> list[tuple[str, str]]:
    labels = [("sigma2", f"sigma2[{name}]") for name in fit.sigma2_names]
    levels = fit.inner_levels
    if fit.struct == "CS":
        labels += [("tau2", "tau2"), ("rho", "rho")]
    elif fit.struct in ("HCS", "UN", "DIAG"):
        labels += [("tau2", f"tau2[{lv}]") for lv in levels]
        if fit.struct == "HCS":
            labels.append(("rho", "rho"))
        elif fit.struct == "UN":
            labels += [("rho", f"rho[{levels[a]},{levels[b]}]") for a, b in _pairs(len(levels))]
    return labels


def profile_ci(fit: MultivariateResult, level: float = 0.95) -> ProfileResult:
    """Profile-likelihood CIs of the variance components (metafor ``confint.rma.mv``).

    For each estimated component ``theta_k`` the bounds solve
    ``-2 (l_p(theta_k) - l_hat) = chi2_{1, level}``, where ``l_p`` is the (restricted)
    log-likelihood maximised over the other components with ``theta_k`` held fixed
    (Brent's method to 1e-13). Variances are searched in ``[0, max(10, 100 theta_k)]``
    (``[0, 10]`` for an estimate of 0) and correlations in ``[-1, 1]``; where the
    likelihood has not dropped enough at an end, that end is the bound.

    Parameters
    ----------
    fit : MultivariateResult
        A fit of :func:`rma_mv`.
    level : float
        Confidence level.

    Returns
    -------
    ProfileResult

    Examples
    --------
    >>> fit = rma_mv([0.1, 0.3, 0.2, 0.5, 0.4, 0.0], [0.01, 0.02, 0.015, 0.01, 0.02, 0.03],
    ...              random={"study": [1, 1, 2, 2, 3, 3]})
    >>> ci = profile_ci(fit).intervals[0]
    >>> ci.component, round(ci.lower, 4), ci.lower_at_bound
    ('sigma2[study]', 0.0, True)
    """
    if not isinstance(fit, MultivariateResult) or fit._model is None:
        raise MultivariateError("profile_ci needs a result of rma_mv", "mv-profile")
    if not 0 < level < 1:
        raise MultivariateError("level must lie strictly between 0 and 1", "mv-level")
    model: _Model = fit._model
    reml = fit.method == "REML"
    crit = float(stats.chi2.ppf(level, 1))
    f_hat = -2 * fit.loglik
    labels = _component_labels(fit)
    intervals = []
    for index, (kind, label) in enumerate(labels):
        if not np.isnan(fit._user_fixed[index]):
            continue
        estimate = float(fit._theta[index])
        start = fit._theta.copy()

        def objective(value: float, index: int = index, start: Array = start) -> float:
            fixed = fit._user_fixed.copy()
            fixed[index] = value
            theta, _ = _optimise(model, reml, fixed, start)
            G = None
            if model.struct is not None:
                G, _ = _g_matrix(model.struct, model.q, theta[model.n_sigma2 :])
            res = model.evaluate(theta[: model.n_sigma2], G, reml, score=False)
            if res is None:
                raise MultivariateError("not positive definite", "mv-fit")
            return res["f"] - f_hat - crit

        if kind == "rho":
            low, high = -1.0, 1.0
        else:
            low = 0.0
            high = 10.0 if estimate <= math.sqrt(np.finfo(float).eps) else max(10.0, 100 * estimate)
        bounds = []
        for end in (low, high):
            # As metafor: where the fit fails at the end of the search interval, step
            # towards the estimate (ten tries); where the likelihood has not dropped by
            # the critical value at the end, the end is the bound.
            step = (end - estimate) / 10
            value = None
            at_bound = False
            for _ in range(10):
                try:
                    h_end = objective(end)
                except MultivariateError:
                    end -= step
                    continue
                if h_end < 0:
                    value, at_bound = end, True
                else:
                    a, b = sorted((end, estimate))
                    try:
                        value = optimize.brentq(
                            objective, a, b, xtol=1e-14, rtol=1e-13, maxiter=500
                        )
                    except (MultivariateError, ValueError, RuntimeError):
                        value = None
                break
            bounds.append((value, at_bound))
        intervals.append(
            ProfileInterval(
                label, kind, estimate, bounds[0][0], bounds[1][0], bounds[0][1], bounds[1][1]
            )
        )
    return ProfileResult(level, tuple(intervals))


@dataclass(frozen=True)
class AnovaResult:
    """Likelihood-ratio test of two nested models (metafor ``anova.rma``)."""

    method: str
    parms_full: int
    parms_reduced: int
    df: int
    lrt: float
    p: float
    fit_full: FitStatistics
    fit_reduced: FitStatistics
    qe_full: float
    qe_reduced: float

    def to_dict(self) -> dict[str, object]:
        """Return ``{"method", "df", "lrt", "p", "full": {...}, "reduced": {...}}``."""
        return {
            "method": self.method,
            "df": self.df,
            "lrt": finite(self.lrt),
            "p": finite(self.p),
            "full": {
                "parms": self.parms_full,
                "qe": finite(self.qe_full),
                **self.fit_full.to_dict(),
            },
            "reduced": {
                "parms": self.parms_reduced,
                "qe": finite(self.qe_reduced),
                **self.fit_reduced.to_dict(),
            },
        }


def anova(full: MultivariateResult, reduced: MultivariateResult) -> AnovaResult:
    """Likelihood-ratio test of a reduced model against a fuller one.

    ``LRT = deviance_reduced - deviance_full`` (0 if negative) on
    ``parms_full - parms_reduced`` df, with the fit statistics of both models (metafor
    ``anova(full, reduced)``; the models are swapped if given the other way round).
    REML fits must share the fixed effects (compare models with different moderators by
    ML).

    Parameters
    ----------
    full, reduced : MultivariateResult
        Fits of :func:`rma_mv` to the same data, the reduced one nested in the full one.

    Returns
    -------
    AnovaResult

    Examples
    --------
    >>> y, v = [0.1, 0.3, 0.2, 0.5, 0.4, 0.0], [0.01, 0.02, 0.015, 0.01, 0.02, 0.03]
    >>> two = rma_mv(y, v, random=nested([1, 1, 2, 2, 3, 3], range(6)))
    >>> one = rma_mv(y, v, random=nested([1, 1, 2, 2, 3, 3], range(6)), sigma2=[0, None])
    >>> anova(two, one).df
    1
    """
    for fit in (full, reduced):
        if not isinstance(fit, MultivariateResult):
            raise MultivariateError("anova needs two results of rma_mv", "mv-anova")
    if full.parms == reduced.parms:
        raise MultivariateError("the models have the same number of parameters", "mv-anova")
    if full.parms < reduced.parms:
        full, reduced = reduced, full
    if full.method != reduced.method:
        raise MultivariateError("the models must be fitted by the same method", "mv-anova")
    if not np.array_equal(full._model.y, reduced._model.y):
        raise MultivariateError("the models were not fitted to the same data", "mv-anova")
    if full.method == "REML" and not (
        full._model.X.shape == reduced._model.X.shape
        and np.array_equal(full._model.X, reduced._model.X)
    ):
        raise MultivariateError(
            "REML fits with different fixed effects cannot be compared; refit both by ML",
            "mv-anova",
        )
    f_full, f_red = full.fitstats(), reduced.fitstats()
    lrt = max(0.0, f_red.deviance - f_full.deviance)
    df = full.parms - reduced.parms
    return AnovaResult(
        full.method,
        full.parms,
        reduced.parms,
        df,
        lrt,
        float(stats.chi2.sf(lrt, df)),
        f_full,
        f_red,
        full.qe,
        reduced.qe,
    )
