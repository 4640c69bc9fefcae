"""Dependent effect sizes: three-level model, CR2 cluster-robust inference, aggregation.

Studies in this field often report several effects from one sample, and several papers
share a cohort. Three tools handle that dependence, each matching R metafor 3.8 (and
clubSandwich for the robust tests):

``three_level(yi, vi, cluster, moderators=None)``
    REML fit of the model ``rma.mv(yi, vi, random = ~ 1 | cluster/effect)``.
``robust_cr2(fit)``
    CR2 sandwich variance with Satterthwaite degrees of freedom, as
    ``robust(fit, cluster = cluster, clubSandwich = TRUE)``.
``aggregate(yi, vi, cluster, rho)``
    one inverse-variance weighted effect per cluster under a compound-symmetric
    correlation ``rho``, as ``aggregate(escalc, cluster, rho, struct = "CS")``.

The marginal covariance of the three-level model is block diagonal, one block per cluster,
and each block is compound symmetric plus a diagonal:
``V_c = diag(v_cj + sigma2_within) + sigma2_between * 1 1'``. Everything is computed on
padded per-cluster blocks (clusters x largest cluster x largest cluster) with the
Sherman-Morrison inverse of each block, so no N x N matrix is ever formed (the REML
machinery is in :mod:`evidence.stats.multilevel`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.stats.errors import InputError
from evidence.stats.multilevel import (
    Blocks,
    fit_variance_components,
    fixed_effects_q,
    gls,
    make_blocks,
    reml_loglik,
    weight_blocks,
)
from evidence.stats.results import BackTransformed, finite
from evidence.stats.transforms import ArrayFunction, transform_function

__all__ = [
    "FEW_CLUSTERS",
    "AggregateResult",
    "Blocks",
    "RobustResult",
    "ThreeLevelResult",
    "aggregate",
    "few_clusters_note",
    "make_blocks",
    "pooled_section",
    "robust_cr2",
    "three_level",
]

#: Eigenvalues at or below this are treated as zero in matrix powers (as clubSandwich).
EIGEN_TOLERANCE = 1e-12

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ThreeLevelResult:
    """A three-level random-effects model fitted by REML (metafor ``rma.mv``).

    ``sigma2`` is ``(between-cluster, within-cluster)``; the coefficient arrays follow the
    columns of the design matrix (intercept first). ``test`` is ``"z"`` or ``"t"``; under
    t, ``df`` holds each coefficient's degrees of freedom by the rule ``dfs``
    (``"contain"`` or ``"residual"``, metafor's names), NaN under z. ``crit`` is each
    coefficient's critical value (also used for the prediction interval).
    """

    names: tuple[str, ...]
    coefficients: Array
    se: Array
    statistic: Array
    p: Array
    ci_lower: Array
    ci_upper: Array
    sigma2: tuple[float, float]
    q: float
    q_df: int
    q_p: float
    loglik: float
    k: int
    n_clusters: int
    vcov: Array
    blocks: Blocks
    level: float
    test: str = "z"
    df: Array | None = None
    dfs: str | None = None
    crit: Array | None = None

    def weights(self, kind: str = "rowsum") -> Array:
        """Percent weight of every effect, in input order (metafor ``weights.rma.mv``).

        ``"rowsum"``: the row sums of ``W = V^-1`` over their total, i.e. the entries of
        ``(1'W1)^-1 1'W``, the weights that make the intercept-only estimate
        (``estimate = sum(weight * yi) / 100``); per cluster, by Sherman-Morrison,
        ``(W 1)_j = 1 / (d_j (1 + sigma2_between sum_l 1/d_l))`` with
        ``d_j = v_j + sigma2_within``. ``"diagonal"``: ``diag(W)`` over its total, which is
        not what the estimate is made of (one study of a large cluster can get little
        diagonal weight and much row-sum weight). Row sums are defined for the
        intercept-only model only.
        """
        blocks = self.blocks
        between, within = self.sigma2
        d = np.where(blocks.mask, blocks.vi + within, 1.0)
        inverse = np.where(blocks.mask, 1.0 / d, 0.0)
        total = inverse.sum(axis=1, keepdims=True)
        if kind == "rowsum":
            if self.coefficients.size != 1:
                raise InputError("row-sum weights are defined for the intercept-only model")
            values = inverse / (1.0 + between * total)
        elif kind == "diagonal":
            values = inverse - between * inverse**2 / (1.0 + between * total)
        else:
            raise InputError(f"unknown weight type {kind!r}; expected rowsum or diagonal")
        out = np.empty(int(blocks.mask.sum()))
        out[blocks.index[blocks.mask]] = values[blocks.mask]
        return 100 * out / out.sum()

    def to_dict(self) -> dict[str, object]:
        """Results-file keys: pooled keys of the first coefficient, plus ``sigma2``."""
        return {
            "k": self.k,
            "n_clusters": self.n_clusters,
            "method": "REML",
            "test": self.test,
            "df": None if self.df is None else finite(self.df[0]),
            "dfs": self.dfs,
            "estimate": float(self.coefficients[0]),
            "se": float(self.se[0]),
            "statistic": float(self.statistic[0]),
            "p": float(self.p[0]),
            "ci": [float(self.ci_lower[0]), float(self.ci_upper[0])],
            "sigma2": [float(self.sigma2[0]), float(self.sigma2[1])],
            "q": float(self.q),
            "q_df": self.q_df,
            "q_p": float(self.q_p),
            "coefficients": _coefficient_rows(
                self.names,
                self.coefficients,
                self.se,
                self.statistic,
                self.p,
                self.ci_lower,
                self.ci_upper,
            ),
        }


@dataclass(frozen=True)
class RobustResult:
    """CR2 cluster-robust inference with Satterthwaite degrees of freedom."""

    names: tuple[str, ...]
    coefficients: Array
    se: Array
    statistic: Array
    df: Array
    p: Array
    ci_lower: Array
    ci_upper: Array
    n_clusters: int

    def to_dict(self) -> dict[str, object]:
        """``robust`` results-file keys for the first coefficient, plus every coefficient."""
        rows = _coefficient_rows(
            self.names,
            self.coefficients,
            self.se,
            self.statistic,
            self.p,
            self.ci_lower,
            self.ci_upper,
        )
        for row, df in zip(rows, self.df, strict=True):
            row["df"] = finite(df)
        return {
            "estimate": finite(self.coefficients[0]),
            "se": finite(self.se[0]),
            "statistic": finite(self.statistic[0]),
            "df": finite(self.df[0]),
            "p": finite(self.p[0]),
            "ci": [finite(self.ci_lower[0]), finite(self.ci_upper[0])],
            "n_clusters": self.n_clusters,
            "coefficients": rows,
        }


@dataclass(frozen=True)
class AggregateResult:
    """One effect per cluster (metafor ``aggregate.escalc``), in order of first appearance."""

    clusters: tuple[str, ...]
    yi: Array
    vi: Array
    rho: float


def _coefficient_rows(names, estimate, se, statistic, p, lower, upper) -> list[dict]:
    return [
        {
            "name": n,
            "estimate": finite(b),
            "se": finite(s),
            "statistic": finite(z),
            "p": finite(pv),
            "ci": [finite(lo), finite(hi)],
        }
        for n, b, s, z, pv, lo, hi in zip(
            names, estimate, se, statistic, p, lower, upper, strict=True
        )
    ]


def three_level(
    yi: ArrayLike,
    vi: ArrayLike,
    cluster: ArrayLike,
    moderators: ArrayLike | None = None,
    names: tuple[str, ...] | None = None,
    level: float = 0.95,
    test: str = "z",
    dfs: str = "contain",
) -> ThreeLevelResult:
    """Fit the three-level random-effects model by REML (metafor ``rma.mv``).

    Model: ``y_cj = x_cj' beta + u_c + w_cj + e_cj`` with ``u_c ~ N(0, sigma2_between)``
    (clusters), ``w_cj ~ N(0, sigma2_within)`` (effects within clusters) and
    ``e_cj ~ N(0, v_cj)``, i.e. ``random = ~ 1 | cluster/effect`` with every row its own
    effect. The variance components maximise the restricted log-likelihood
    ``-1/2 [log|V| + log|X'V^{-1}X| + r'V^{-1}r]`` (Fisher scoring); then
    ``beta = (X'V^{-1}X)^{-1} X'V^{-1}y`` with Wald z tests, or t tests (metafor
    ``test = "t"``) whose degrees of freedom follow ``dfs``: ``"residual"`` gives every
    coefficient ``N - p``; ``"contain"`` (the default, metafor's ``dfs = "contain"``) gives
    a coefficient that is constant within every cluster (the intercept, cluster-level
    moderators) ``clusters - p`` and one that varies within clusters ``N - p``. With few
    clusters the containment rule is the honest one: the intercept is estimated from
    ``clusters`` independent units, not ``N`` effects. ``q`` is the test of residual
    heterogeneity ``sum (y - X b_FE)^2 / v`` on ``N - p`` degrees of freedom.

    Parameters
    ----------
    yi, vi : array_like, shape (N,)
        Effect sizes and sampling variances.
    cluster : array_like, shape (N,)
        Cluster (study or cohort) of each effect.
    moderators : array_like, shape (N,) or (N, q), optional
        Moderators; an intercept is always added as the first column.
    names : tuple of str, optional
        Names of the moderator columns.
    level : float
        Confidence level, 0.95 or 95.
    test : {"z", "t"}
        Normal or t inference for the coefficients (and the prediction interval).
    dfs : {"contain", "residual"}
        The degrees-of-freedom rule of the t tests (metafor's ``dfs``).

    Returns
    -------
    ThreeLevelResult

    References
    ----------
    Konstantopoulos S (2011). Fixed effects and variance components estimation in
    three-level meta-analysis. Research Synthesis Methods 2, 61-76.
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    Journal of Statistical Software 36(3).
    """
    y = np.asarray(yi, dtype=float)
    xm, names = _design(y.size, moderators, names)
    blocks = make_blocks(y, vi, cluster, xm)
    k, p = blocks.design[blocks.mask].shape
    if blocks.mask.shape[0] < 2 or k <= p:
        raise InputError("a three-level model needs at least two clusters and k > p")
    if test not in ("z", "t") or dfs not in ("contain", "residual"):
        raise InputError(f"unknown test {test!r} or df rule {dfs!r} for the three-level model")
    between, within = fit_variance_components(blocks)
    w, _ = weight_blocks(blocks, between, within)
    beta, vcov, _ = gls(blocks, w)
    se = np.sqrt(np.diag(vcov))
    z = beta / se
    level = level / 100 if level > 1 else level
    df = None
    if test == "t":
        df = _degrees_of_freedom(blocks, dfs)
        crit = stats.t.isf((1 - level) / 2, df)
        p_value = 2 * stats.t.sf(np.abs(z), df)
    else:
        crit = np.full(beta.size, stats.norm.isf((1 - level) / 2))
        p_value = 2 * stats.norm.sf(np.abs(z))
    q = fixed_effects_q(blocks)
    return ThreeLevelResult(
        names=names,
        coefficients=beta,
        se=se,
        statistic=z,
        p=p_value,
        ci_lower=beta - crit * se,
        ci_upper=beta + crit * se,
        sigma2=(between, within),
        q=q,
        q_df=k - p,
        q_p=float(stats.chi2.sf(q, k - p)),
        loglik=reml_loglik(blocks, between, within),
        k=k,
        n_clusters=blocks.mask.shape[0],
        vcov=vcov,
        blocks=blocks,
        level=level,
        test=test,
        df=df,
        dfs=dfs if test == "t" else None,
        crit=crit,
    )


def _degrees_of_freedom(blocks: Blocks, dfs: str) -> Array:
    """Degrees of freedom per coefficient (metafor ``rma.mv(test = "t", dfs = ...)``).

    ``residual``: ``N - p``. ``contain``: ``clusters - p`` for a coefficient whose column is
    constant within every cluster, ``N - p`` otherwise (metafor 3.8 gives, on
    dat.konstantopoulos2011 with a district-level and a school-level moderator, 8, 8 and
    53 = 11 - 3, 11 - 3, 56 - 3).
    """
    n_effects, p = blocks.design[blocks.mask].shape
    if dfs == "residual":
        return np.full(p, float(n_effects - p))
    first = blocks.design[:, :1, :]
    constant = np.all(np.where(blocks.mask[:, :, None], blocks.design == first, True), axis=(0, 1))
    n_clusters = blocks.mask.shape[0]
    return np.where(constant, n_clusters - p, n_effects - p).astype(float)


def _design(
    k: int, moderators: ArrayLike | None, names: tuple[str, ...] | None
) -> tuple[Array, tuple[str, ...]]:
    if moderators is None:
        return np.ones((k, 1)), ("intercept",)
    mods = np.asarray(moderators, dtype=float)
    mods = mods[:, None] if mods.ndim == 1 else mods
    labels = names or tuple(f"x{j + 1}" for j in range(mods.shape[1]))
    return np.column_stack([np.ones(k), mods]), ("intercept", *labels)


def _matrix_power(matrix: Array, power: float) -> Array:
    values, vectors = np.linalg.eigh(matrix)
    scaled = np.where(values > EIGEN_TOLERANCE, np.abs(values) ** power, 0.0)
    return (vectors * scaled) @ vectors.T


def robust_cr2(fit: ThreeLevelResult) -> RobustResult:
    """CR2 cluster-robust variance with Satterthwaite degrees of freedom (clubSandwich).

    With working weights ``W_c = V_c^{-1}`` and ``M = (X'WX)^{-1}``, the bias-reduced
    sandwich is ``V_R = M [sum_c X_c'W_c A_c r_c r_c' A_c W_c X_c] M`` where
    ``A_c = R_c' (R_c (I - X_c M X_c'W_c) V_c R_c')^{-1/2} R_c`` and ``R_c'R_c = V_c``.
    The degrees of freedom of coefficient i are ``2 E^2 / Var`` with ``E = tr(P_i)`` and
    ``Var = 2 sum(P_i^2)``, where ``P_i`` is clubSandwich's ``P_array`` for the
    coefficient; tests use ``t = b / se`` on those df.

    Parameters
    ----------
    fit : ThreeLevelResult
        Fitted three-level model; clusters are its clusters.

    Returns
    -------
    RobustResult

    References
    ----------
    Pustejovsky JE, Tipton E (2018). Small-sample methods for cluster-robust variance
    estimation and hypothesis testing in fixed effects models. Journal of Business and
    Economic Statistics 36(4), 672-683.
    Tipton E (2015). Small sample adjustments for robust variance estimation with
    meta-regression. Psychological Methods 20(3), 375-393.
    """
    blocks = fit.blocks
    bread = fit.vcov
    between, within = fit.sigma2
    bread_chol = np.linalg.cholesky(bread)
    p = bread.shape[0]
    meat = np.zeros((p, p))
    g_rows, h_rows = [], []
    for c in range(blocks.mask.shape[0]):
        keep = blocks.mask[c]
        xm = blocks.design[c][keep]
        cov = np.diag(blocks.vi[c][keep] + within) + between
        w = np.linalg.inv(cov)
        chol = np.linalg.cholesky(cov)
        residual = blocks.yi[c][keep] - xm @ fit.coefficients
        complement = np.eye(xm.shape[0]) - xm @ bread @ xm.T @ w
        g_mat = chol.T @ complement @ cov @ chol
        adjust = chol @ _matrix_power((g_mat + g_mat.T) / 2, -0.5) @ chol.T
        est = xm.T @ w @ adjust
        component = est @ residual
        meat += np.outer(component, component)
        bread_est = bread @ est
        g_rows.append(np.sum((bread_est @ chol) ** 2, axis=1))
        h_rows.append(bread_est @ xm @ bread_chol)
    vcov = bread @ meat @ bread
    se = np.sqrt(np.diag(vcov))
    g = np.array(g_rows)  # (J, p)
    h_arr = np.array(h_rows)  # (J, p, p)
    df = np.empty(p)
    for i in range(p):
        p_mat = -h_arr[:, i, :] @ h_arr[:, i, :].T + np.diag(g[:, i])
        df[i] = 2 * np.trace(p_mat) ** 2 / (2 * np.sum(p_mat**2))
    with np.errstate(divide="ignore", invalid="ignore"):  # se = 0 when every residual is 0
        t = fit.coefficients / se
    crit = stats.t.isf((1 - fit.level) / 2, df)
    return RobustResult(
        names=fit.names,
        coefficients=fit.coefficients,
        se=se,
        statistic=t,
        df=df,
        p=2 * stats.t.sf(np.abs(t), df),
        ci_lower=fit.coefficients - crit * se,
        ci_upper=fit.coefficients + crit * se,
        n_clusters=blocks.mask.shape[0],
    )


def aggregate(yi: ArrayLike, vi: ArrayLike, cluster: ArrayLike, rho: float) -> AggregateResult:
    """Combine dependent effects within each cluster (metafor ``aggregate``, ``struct="CS"``).

    Within a cluster the effects are assumed correlated with ``rho``:
    ``V = S R S`` with ``S = diag(sqrt(v))`` and ``R = (1 - rho) I + rho 1 1'``. The
    aggregate is the generalised least squares mean ``y_c = 1'V^{-1}y / 1'V^{-1}1`` with
    variance ``1 / 1'V^{-1}1``. With ``u = 1/sqrt(v)`` and ``n`` effects the inverse of
    the compound-symmetric ``R`` is closed-form, so
    ``1'V^{-1}1 = [sum u^2 - c (sum u)^2] / (1 - rho)`` and
    ``1'V^{-1}y = [sum u^2 y - c (sum u)(sum u y)] / (1 - rho)`` with
    ``c = rho / (1 + (n - 1) rho)``.

    Parameters
    ----------
    yi, vi : array_like, shape (N,)
        Effect sizes and sampling variances.
    cluster : array_like, shape (N,)
        Cluster of each effect; results follow the order of first appearance.
    rho : float
        Assumed within-cluster correlation, in (-1, 1).

    Returns
    -------
    AggregateResult

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    Journal of Statistical Software 36(3); metafor ``aggregate.escalc``.
    """
    if not -1 < rho < 1:
        raise InputError(f"rho must lie strictly between -1 and 1, not {rho}")
    blocks = make_blocks(yi, vi, cluster)
    u = np.where(blocks.mask, 1 / np.sqrt(blocks.vi), 0.0)
    n = blocks.mask.sum(axis=1)
    shrink = rho / (1 + (n - 1) * rho)
    sum_w = (np.sum(u**2, axis=1) - shrink * u.sum(axis=1) ** 2) / (1 - rho)
    sum_wy = (
        np.sum(u**2 * blocks.yi, axis=1) - shrink * u.sum(axis=1) * np.sum(u * blocks.yi, axis=1)
    ) / (1 - rho)
    if np.any(sum_w <= 0):
        raise InputError(f"rho = {rho} makes a cluster's covariance matrix singular")
    return AggregateResult(clusters=blocks.labels, yi=sum_wy / sum_w, vi=1 / sum_w, rho=rho)


#: With fewer clusters than this, cluster-based inference (t with containment df, CR2) is
#: unreliable: the Satterthwaite df fall below 4 and the robust variance is too unstable
#: (Tipton 2015; Pustejovsky & Tipton 2018).
FEW_CLUSTERS = 5


def few_clusters_note(n_clusters: int) -> str | None:
    """Say that a CI from fewer than :data:`FEW_CLUSTERS` clusters is unreliable, or None."""
    if n_clusters >= FEW_CLUSTERS:
        return None
    return (
        f"only {n_clusters} clusters: with fewer than {FEW_CLUSTERS} the three-level "
        "confidence interval is unreliable, whether model-based (t with clusters - 1 = "
        f"{n_clusters - 1} df) or cluster-robust (CR2, Satterthwaite df); read it as a rough "
        "guide only (Tipton 2015; Pustejovsky and Tipton 2018)"
    )


def pooled_section(
    fit: ThreeLevelResult,
    base: Mapping[str, Any] | None = None,
    transform: str | ArrayFunction | None = None,
) -> dict[str, Any]:
    """Return the results file's pooled keys from an intercept-only three-level fit.

    ``estimate``, ``se``, ``statistic``, ``p``, ``ci`` and ``df`` are the fit's (z, or t
    with the df of its rule, ``fit.dfs``); ``pi = mu +/- crit sqrt(se^2 + sigma2_1 +
    sigma2_2)`` with the same critical value (metafor ``predict.rma``); ``tau2`` is
    ``sigma2_1 + sigma2_2`` and ``I2 = 100 tau2 / (tau2 + s2)`` with the typical
    within-study variance ``s2 = (k - 1) sum w / ((sum w)^2 - sum w^2)``, ``w = 1/v``
    (Cheung 2014); Q is the fit's test of residual heterogeneity. Keys of ``base`` (e.g.
    ``k``, ``n_studies``, ``measure`` of the univariate fit) are kept where not replaced;
    ``transform`` names the back-transform (:data:`evidence.stats.transforms.TRANSFORMS`).
    """
    if fit.coefficients.size != 1:
        raise InputError("the pooled section needs the intercept-only three-level model")
    between, within = fit.sigma2
    estimate, se = float(fit.coefficients[0]), float(fit.se[0])
    crit = float(fit.crit[0]) if fit.crit is not None else float(stats.norm.isf(0.025))
    total = between + within
    half = crit * math.sqrt(se * se + total)
    w = 1 / fit.blocks.vi[fit.blocks.mask]
    typical = (w.size - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())
    ci = [float(fit.ci_lower[0]), float(fit.ci_upper[0])]
    pi = [estimate - half, estimate + half]
    function = transform_function(transform)
    back = None if function is None else BackTransformed.of(function, estimate, ci, pi).to_dict()
    pooled = dict(base or {})
    pooled.update(
        k=fit.k,
        method="REML (three-level)",
        test=fit.test,
        estimate=estimate,
        se=se,
        statistic=float(fit.statistic[0]),
        df=None if fit.df is None else float(fit.df[0]),
        p=float(fit.p[0]),
        ci=ci,
        pi=pi,
        tau2=total,
        tau2_ci=None,
        tau=math.sqrt(total),
        tau_ci=None,
        i2=100 * total / (total + typical),
        i2_ci=None,
        h2=(total + typical) / typical,
        h2_ci=None,
        q=float(fit.q),
        q_df=float(fit.q_df),
        q_p=float(fit.q_p),
        back_transformed=back,
    )
    return pooled
