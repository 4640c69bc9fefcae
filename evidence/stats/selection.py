r"""Selection models for publication bias (metafor ``selmodel``).

A selection model says that a study with one-sided p-value ``p_i`` is published with
relative probability ``w(p_i)``, so the density of a published effect is

.. math::

    f(y_i) = \frac{w(p_i)\, \phi(y_i; \mu_i, v_i + \tau^2)}{A_i}, \qquad
    A_i = \int w(p(y))\, \phi(y; \mu_i, v_i + \tau^2)\, dy,

with ``mu_i = x_i' beta`` the random-effects model's mean. The parameters
``(beta, tau2, delta)`` maximise ``sum log f(y_i)`` (Vevea & Hedges 1995; Iyengar &
Greenhouse 1988; Citkowicz & Vevea 2017 for the beta model).

``type="stepfun"``: ``w`` is a step function with cut points ``alpha_1 < ... <
alpha_J = 1`` on the p-value scale: ``w(p) = delta_j`` for ``alpha_{j-1} < p <=
alpha_j``, ``delta_1 = 1`` (the studies with the smallest p-values are the reference).
Then ``A_i = sum_j delta_j P(alpha_{j-1} < p <= alpha_j)``, a sum of normal
probabilities between the effect sizes at which ``p`` crosses the cut points
(``c_j = sqrt(v_i) Phi^{-1}(1 - alpha_j)`` for one-sided p-values of
``alternative="greater"``). One cut at 0.025 is the three-parameter selection model
(3PSM; ``beta``, ``tau2`` and one ``delta``). Weights are estimated in ``[0, 100]``
as metafor bounds them.

``type="beta"``: ``w(p) = p^(delta_1 - 1) (1 - p)^(delta_2 - 1)`` with ``p`` clipped to
``[1e-5, 1 - 1e-5]``, both ``delta`` in ``[1e-5, 100]``; ``A_i`` by Gauss-Legendre
quadrature where ``p`` is not clipped and normal probabilities where it is.

As in metafor, the standard errors come from the inverse Hessian of the negative
log-likelihood on the natural scale of ``(beta, tau2, delta)`` (the weight fixed at 1
excluded); CIs are Wald intervals (``tau2`` and ``delta`` truncated at 0); the
likelihood-ratio test of selection compares ``ll`` with the maximised log-likelihood
``ll0`` of the random-effects model without selection (fitted by ML: metafor refits a
REML or other input model by ML first), on as many df as weights estimated. ``LRT_tau2`` tests
``tau2 = 0`` within the selection model.

References
----------
Vevea JL, Hedges LV (1995). A general linear model for estimating effect size in the
presence of publication bias. Psychometrika 60, 419-435.
Iyengar S, Greenhouse JB (1988). Selection models and the file drawer problem.
Statistical Science 3, 109-117.
Citkowicz M, Vevea JL (2017). A parsimonious weight function for modeling publication
bias. Psychological Methods 22, 28-41.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software 36(3), 1-48 (metafor 3.8 ``selmodel.rma.uni``).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> vi = rng.uniform(0.01, 0.2, 30)
>>> yi = rng.normal(0.2, np.sqrt(vi + 0.02))
>>> fit = selmodel(yi, vi, steps=[0.025])
>>> fit.steps, len(fit.delta)
((0.025, 1.0), 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from evidence.stats.errors import InputError
from evidence.stats.results import coefficient_rows, finite

__all__ = ["SelectionError", "SelectionResult", "selmodel"]

Array = NDArray[np.float64]

#: Bounds of the estimated weights of the step function (metafor delta.min / delta.max).
STEP_DELTA_BOUNDS = (0.0, 100.0)
#: Bounds of the beta model's parameters.
BETA_DELTA_BOUNDS = (1e-5, 100.0)
#: p-values of the beta model are clipped to [PVAL_MIN, 1 - PVAL_MIN].
PVAL_MIN = 1e-5
#: The weights' z tests are against 1 (no selection).
DELTA_NULL = 1.0


class SelectionError(InputError):
    """Invalid input to, or failure of, a selection model fit."""


def _floats(values: Any) -> list[float | None]:
    return [finite(v) for v in np.asarray(values, dtype=float).ravel()]


def _norm_pdf(z: Array) -> Array:
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def one_sided_p(yi: Array, vi: Array, alternative: str) -> Array:
    """p-values of ``yi / sqrt(vi)`` as metafor's selection models compute them."""
    z = yi / np.sqrt(vi)
    if alternative == "two.sided":
        return 2 * special.ndtr(-np.abs(z))
    if alternative == "less":
        return special.ndtr(z)
    return special.ndtr(-z)


# ---------------------------------------------------------------------------------------
# Random-effects model without selection (the base fit)
# ---------------------------------------------------------------------------------------


def _gls(y: Array, v: Array, X: Array, tau2: float) -> tuple[Array, Array, Array]:
    w = 1.0 / (v + tau2)
    F = X.T @ (w[:, None] * X)
    Finv = np.asarray(np.linalg.inv(F), dtype=np.float64)
    beta = Finv @ (X.T @ (w * y))
    return beta, Finv, w


def _re_score(y: Array, v: Array, X: Array, tau2: float, reml: bool) -> float:
    """Return the derivative of the (restricted) log-likelihood in tau2."""
    beta, Finv, w = _gls(y, v, X, tau2)
    u = w * (y - X @ beta)
    trace = float(np.sum(w))
    if reml:
        trace -= float(np.trace(Finv @ (X.T @ ((w * w)[:, None] * X))))
    return 0.5 * (float(u @ u) - trace)


def _re_tau2(y: Array, v: Array, X: Array, reml: bool) -> float:
    """ML or REML estimate of tau2 (root of the score equation, 0 if it is negative)."""
    if _re_score(y, v, X, 0.0, reml) <= 0:
        return 0.0
    upper = max(float(np.var(y)), 1e-4)
    while _re_score(y, v, X, upper, reml) > 0:
        upper *= 2
        if upper > 1e12:
            raise SelectionError("tau2 of the random-effects model is unbounded", "selmodel-fit")
    return float(
        optimize.brentq(
            lambda t: _re_score(y, v, X, t, reml),
            0.0,
            upper,
            xtol=1e-15,
            rtol=4 * np.finfo(float).eps,
            maxiter=500,
        )
    )


def _ml_loglik(y: Array, v: Array, X: Array, tau2: float) -> float:
    beta, _, w = _gls(y, v, X, tau2)
    r = y - X @ beta
    return float(-0.5 * np.sum(np.log(2 * math.pi / w) + w * r * r))


# ---------------------------------------------------------------------------------------
# Selection likelihoods
# ---------------------------------------------------------------------------------------


class _StepFunction:
    """Negative log-likelihood of the step-function model and its exact gradient."""

    def __init__(self, y: Array, v: Array, X: Array, steps: Array, alternative: str):
        self.y, self.v, self.X = y, v, X
        self.steps = steps
        self.alternative = alternative
        sd = np.sqrt(v)
        pvals = one_sided_p(y, v, alternative)
        self.group = np.array([int(np.flatnonzero(p <= steps)[0]) for p in pvals])
        # Each interval j as thresholds t (effect-size scale) with signs:
        # P_ij = sum_t sign * Phi((t - mu_i) / s_i).
        J = steps.size
        inf = np.full_like(v, np.inf)
        if alternative == "two.sided":
            cut = [inf] + [sd * special.ndtri(1 - a / 2) if a < 1 else 0 * sd for a in steps]
        elif alternative == "less":
            cut = [-inf] + [sd * special.ndtri(a) if a < 1 else inf for a in steps]
        else:
            cut = [inf] + [sd * special.ndtri(1 - a) if a < 1 else -inf for a in steps]
        self.terms: list[list[tuple[Array, float]]] = []
        for j in range(J):
            hi, lo = cut[j], cut[j + 1]
            if alternative == "less":
                terms = [(lo, 1.0), (hi, -1.0)]
            elif alternative == "two.sided":
                terms = [(hi, 1.0), (lo, -1.0), (-lo, 1.0), (-hi, -1.0)]
            else:
                terms = [(hi, 1.0), (lo, -1.0)]
            self.terms.append(terms)

    def probabilities(self, mu: Array, s: Array, derivatives: bool) -> tuple[Array, Array, Array]:
        J = len(self.terms)
        P = np.zeros((J, mu.size))
        dmu = np.zeros_like(P)
        ds = np.zeros_like(P)
        for j, terms in enumerate(self.terms):
            for t, sign in terms:
                with np.errstate(invalid="ignore"):
                    z = (t - mu) / s
                P[j] += sign * special.ndtr(z)
                if derivatives:
                    finite = np.isfinite(z)
                    dens = np.where(finite, _norm_pdf(np.where(finite, z, 0.0)), 0.0)
                    dmu[j] += sign * (-dens / s)
                    ds[j] += sign * np.where(finite, -dens * np.where(finite, z, 0.0) / s, 0.0)
        return P, dmu, ds

    def nll(
        self, beta: Array, tau2: float, delta: Array, gradient: bool = True
    ) -> tuple[float, Array | None]:
        mu = self.X @ beta
        s2 = self.v + tau2
        if np.any(s2 <= 0):
            return math.inf, None
        s = np.sqrt(s2)
        P, dmu, ds = self.probabilities(mu, s, gradient)
        A = delta @ P
        if np.any(A <= 0) or np.any(delta[self.group] <= 0):
            return math.inf, None
        r = self.y - mu
        ll = np.sum(
            np.log(delta[self.group])
            - 0.5 * math.log(2 * math.pi)
            - np.log(s)
            - r * r / (2 * s2)
            - np.log(A)
        )
        if not gradient:
            return -float(ll), None
        A_mu = delta @ dmu
        A_s = delta @ ds
        g_mu = r / s2 - A_mu / A
        g_s = -1 / s + r * r / (s2 * s) - A_s / A
        g_beta = self.X.T @ g_mu
        g_tau2 = float(np.sum(g_s / (2 * s)))
        counts = np.bincount(self.group, minlength=delta.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            g_delta = np.where(counts > 0, counts / delta, 0.0) - (P / A).sum(axis=1)
        return -float(ll), -np.concatenate([g_beta, [g_tau2], g_delta])


class _Beta:
    """Negative log-likelihood of the beta selection model.

    Where ``p`` is clipped (``|y| > c sqrt(v)``, ``c = Phi^{-1}(1 - 1e-5)``, one-sided
    p-values of either direction) the weight is constant and that part of ``A_i`` is a
    normal probability; the rest is integrated by Gauss-Legendre quadrature (split at 0
    for two-sided p-values), smooth in the parameters so that finite differences of the
    likelihood are accurate.
    """

    NODES = 256

    def __init__(self, y: Array, v: Array, X: Array, alternative: str):
        self.y, self.v, self.X = y, v, X
        self.alternative = alternative
        self.pvals = np.clip(one_sided_p(y, v, alternative), PVAL_MIN, 1 - PVAL_MIN)
        sd = np.sqrt(v)
        clip = float(special.ndtri(1 - PVAL_MIN))
        if alternative == "two.sided":
            clip = float(special.ndtri(1 - PVAL_MIN / 2))
        self.clip = clip * sd
        nodes, weights = np.polynomial.legendre.leggauss(self.NODES)
        if alternative == "two.sided":
            # [-c, 0] and [0, c]: half the nodes on each side.
            half_nodes, half_weights = np.polynomial.legendre.leggauss(self.NODES // 2)
            t = np.concatenate([(half_nodes - 1) / 2, (half_nodes + 1) / 2])
            w = np.concatenate([half_weights, half_weights]) / 2
        else:
            t, w = nodes, weights
        self.points = self.clip[:, None] * t[None, :]  # (k, nodes) on the effect scale
        self.point_weights = self.clip[:, None] * w[None, :]
        self.point_p = np.clip(
            one_sided_p(self.points, np.broadcast_to(v[:, None], self.points.shape), alternative),
            PVAL_MIN,
            1 - PVAL_MIN,
        )
        self.log_p = np.log(self.point_p)
        self.log_q = np.log1p(-self.point_p)

    @staticmethod
    def weight(p: Array, delta: Array) -> Array:
        return p ** (delta[0] - 1) * (1 - p) ** (delta[1] - 1)

    def nll(
        self, beta: Array, tau2: float, delta: Array, gradient: bool = False
    ) -> tuple[float, Array | None]:
        mu = self.X @ beta
        s2 = self.v + tau2
        if np.any(s2 <= 0) or np.any(delta <= 0):
            return math.inf, None
        s = np.sqrt(s2)
        z = (self.points - mu[:, None]) / s[:, None]
        dens = _norm_pdf(z) / s[:, None]
        weights = np.exp((delta[0] - 1) * self.log_p + (delta[1] - 1) * self.log_q)
        middle = np.sum(self.point_weights * weights * dens, axis=1)
        upper = special.ndtr((mu - self.clip) / s)  # P(y > c)
        lower = special.ndtr((-self.clip - mu) / s)  # P(y < -c)
        w_small = self.weight(np.array(PVAL_MIN), delta)
        w_large = self.weight(np.array(1 - PVAL_MIN), delta)
        if self.alternative == "two.sided":
            A = middle + w_small * (upper + lower)
        elif self.alternative == "less":
            A = middle + w_large * upper + w_small * lower
        else:
            A = middle + w_small * upper + w_large * lower
        if np.any(A <= 0) or not np.all(np.isfinite(A)):
            return math.inf, None
        r = self.y - mu
        ll = np.sum(
            np.log(self.weight(self.pvals, delta))
            - 0.5 * math.log(2 * math.pi)
            - np.log(s)
            - r * r / (2 * s2)
            - np.log(A)
        )
        return -float(ll), None


# ---------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------


def _numeric_gradient(fun: Callable[[Array], float], x: Array) -> Array:
    g = np.zeros_like(x)
    for i in range(x.size):
        h = 1e-6 * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (fun(up) - fun(down)) / (2 * h)
    return g


def _hessian_from_gradient(grad: Callable[[Array], Array], x: Array) -> Array:
    """Central differences of a gradient, Richardson-extrapolated (two step sizes)."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        h = 1e-4 * max(1.0, abs(x[i]))
        cols = []
        for step in (h, h / 2):
            up, down = x.copy(), x.copy()
            up[i] += step
            down[i] -= step
            cols.append((grad(up) - grad(down)) / (2 * step))
        H[:, i] = (4 * cols[1] - cols[0]) / 3
    return 0.5 * (H + H.T)


def _hessian_from_function(fun: Callable[[Array], float], x: Array) -> Array:
    """Central second differences of a function, Richardson-extrapolated."""
    n = x.size
    f0 = fun(x)

    def second(h: Array) -> Array:
        H = np.zeros((n, n))
        for i in range(n):
            for j in range(i, n):
                ei = np.zeros(n)
                ej = np.zeros(n)
                ei[i] = h[i]
                ej[j] = h[j]
                if i == j:
                    H[i, i] = (fun(x + ei) - 2 * f0 + fun(x - ei)) / h[i] ** 2
                else:
                    H[i, j] = H[j, i] = (
                        fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej) + fun(x - ei - ej)
                    ) / (4 * h[i] * h[j])
        return H

    h = 1e-3 * np.maximum(1.0, np.abs(x))
    return (4 * second(h / 2) - second(h)) / 3


@dataclass(frozen=True)
class SelectionResult:
    """A selection model fitted by maximum likelihood (metafor ``selmodel``).

    Attributes
    ----------
    type, alternative, steps : str, str, tuple
        Weight function, direction of the p-values, cut points (``stepfun``).
    names, beta, se, statistic, p, ci_lower, ci_upper, vcov :
        Adjusted coefficients with Wald z inference.
    tau2, se_tau2, tau2_ci : float, float, tuple
        Residual heterogeneity, its standard error and Wald CI (lower bound >= 0).
    delta, se_delta, statistic_delta, p_delta, delta_ci_lower, delta_ci_upper : ndarray
        Selection weights (for ``stepfun`` the first is fixed at 1 and has no se), their
        standard errors, z tests against 1 and Wald CIs (lower bound >= 0).
    loglik, loglik0 : float
        Log-likelihood with selection and of the model without selection.
    lrt, lrt_df, lrt_p : float, int, float
        Likelihood-ratio test of selection.
    lrt_tau2, lrt_tau2_p : float
        Likelihood-ratio test of ``tau2 = 0`` in the selection model.
    qm, qm_df, qm_p : float, int, float
        Omnibus Wald test of the moderators (None without moderators).
    parms : int
        Estimated parameters; ``aic``, ``bic``, ``aicc`` and ``deviance`` as metafor's
        ML ``fitstats``.
    counts : tuple of int
        Number of p-values in each interval of the step function.
    """

    type: str
    alternative: str
    steps: tuple[float, ...]
    names: tuple[str, ...]
    beta: Array
    se: Array
    statistic: Array
    p: Array
    ci_lower: Array
    ci_upper: Array
    vcov: Array
    tau2: float
    se_tau2: float
    tau2_ci: tuple[float, float]
    delta: Array
    se_delta: Array
    statistic_delta: Array
    p_delta: Array
    delta_ci_lower: Array
    delta_ci_upper: Array
    loglik: float
    loglik0: float
    lrt: float
    lrt_df: int
    lrt_p: float
    lrt_tau2: float
    lrt_tau2_p: float
    qm: float | None
    qm_df: int | None
    qm_p: float | None
    parms: int
    deviance: float
    aic: float
    bic: float
    aicc: float
    counts: tuple[int, ...]
    k: int
    level: float

    def to_dict(self) -> dict[str, object]:
        """JSON form: adjusted coefficients, tau2, weights, tests and fit statistics."""
        return {
            "type": self.type,
            "alternative": self.alternative,
            "steps": list(self.steps),
            "k": self.k,
            "coefficients": coefficient_rows(
                self.names,
                self.beta,
                self.se,
                self.statistic,
                self.p,
                self.ci_lower,
                self.ci_upper,
            ),
            "tau2": finite(self.tau2),
            "se_tau2": finite(self.se_tau2),
            "tau2_ci": [finite(self.tau2_ci[0]), finite(self.tau2_ci[1])],
            "delta": _floats(self.delta),
            "se_delta": _floats(self.se_delta),
            "statistic_delta": _floats(self.statistic_delta),
            "p_delta": _floats(self.p_delta),
            "delta_ci": [
                [finite(lo), finite(hi)]
                for lo, hi in zip(self.delta_ci_lower, self.delta_ci_upper, strict=True)
            ],
            "counts": list(self.counts),
            "loglik": finite(self.loglik),
            "loglik0": finite(self.loglik0),
            "lrt": finite(self.lrt),
            "lrt_df": self.lrt_df,
            "lrt_p": finite(self.lrt_p),
            "lrt_tau2": finite(self.lrt_tau2),
            "lrt_tau2_p": finite(self.lrt_tau2_p),
            "qm": finite(self.qm),
            "qm_df": self.qm_df,
            "qm_p": finite(self.qm_p),
            "parms": self.parms,
            "fitstats": {
                "loglik": finite(self.loglik),
                "deviance": finite(self.deviance),
                "aic": finite(self.aic),
                "bic": finite(self.bic),
                "aicc": finite(self.aicc),
            },
        }


class _Likelihood(Protocol):
    """A selection model's negative log-likelihood (with its gradient where it is exact)."""

    def nll(
        self, beta: Array, tau2: float, delta: Array, gradient: bool = ...
    ) -> tuple[float, Array | None]: ...


@dataclass(frozen=True)
class _WeightFunction:
    """One weight function: its likelihood, which weights are estimated and within what.

    ``free_delta`` marks the estimated weights (the others are held at 1); ``exact``
    says whether the likelihood gives its exact gradient (else finite differences).
    """

    likelihood: _Likelihood
    n_delta: int
    free_delta: NDArray[np.bool_]
    bounds: tuple[float, float]
    exact: bool
    steps: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def n_free(self) -> int:
        """Number of estimated weights."""
        return int(self.free_delta.sum())

    def delta(self, free: Array) -> Array:
        """Every weight, from the estimated ones (the others are 1)."""
        delta = np.ones(self.n_delta)
        delta[self.free_delta] = free
        return delta


class _Objective:
    """``-ll`` as a function of ``x = (beta, tau2, estimated deltas)``.

    With ``tau2_fixed`` the gradient in ``tau2`` is reported as 0, so that the optimiser
    leaves ``tau2`` where it starts (the fit under ``tau2 = 0``).
    """

    def __init__(self, weights: _WeightFunction, p: int, tau2_fixed: bool = False) -> None:
        self.weights, self.p, self.tau2_fixed = weights, p, tau2_fixed

    def unpack(self, x: Array) -> tuple[Array, float, Array]:
        """``(beta, tau2, delta)`` of ``x``."""
        return x[: self.p], float(x[self.p]), self.weights.delta(x[self.p + 1 :])

    def value(self, x: Array) -> float:
        """``-ll`` at ``x``."""
        beta, tau2, delta = self.unpack(x)
        return self.weights.likelihood.nll(beta, tau2, delta, gradient=False)[0]

    def _estimated(self, grad: Array) -> Array:
        """Keep the gradient entries of ``x`` (drop those of weights held at 1)."""
        p = self.p
        return np.concatenate([grad[: p + 1], grad[p + 1 :][self.weights.free_delta]])

    def score(self, x: Array) -> Array:
        """Exact gradient of ``-ll`` at ``x`` (step functions only)."""
        beta, tau2, delta = self.unpack(x)
        grad = self.weights.likelihood.nll(beta, tau2, delta, gradient=True)[1]
        if grad is None:
            raise SelectionError(
                "the standard errors of this fit cannot be computed yet: tau2 or a weight "
                "lies within the numerical Hessian's step (1e-4) of its lower bound, where "
                "the likelihood is undefined",
                "selmodel-fit",
            )
        return self._estimated(grad)

    def value_and_gradient(self, x: Array) -> tuple[float, Array]:
        """``-ll`` and its gradient at ``x`` (exact, or by central differences)."""
        beta, tau2, delta = self.unpack(x)
        value, grad = self.weights.likelihood.nll(beta, tau2, delta, gradient=self.weights.exact)
        if not math.isfinite(value):
            return 1e300, np.zeros_like(x)
        if grad is None:
            grad = _numeric_gradient(self.value, x)
        else:
            grad = self._estimated(grad)
        if self.tau2_fixed:
            grad[self.p] = 0.0
        return value, grad


Bounds = Sequence[tuple[float | None, float | None]]


def _maximise(objective: _Objective, x0: Array, bounds: Bounds) -> tuple[Array, float]:
    """Maximise the likelihood over ``(beta, tau2, free deltas)`` within bounds.

    L-BFGS-B within the bounds, then Newton steps on the parameters not at a bound
    (:func:`_polish`).
    """
    result = optimize.minimize(
        objective.value_and_gradient,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-12},
    )
    lower = np.array([b[0] if b[0] is not None else -np.inf for b in bounds])
    upper = np.array([b[1] if b[1] is not None else np.inf for b in bounds])
    x = np.clip(result.x, lower, upper)
    return _polish(objective, x, objective.value(x), lower, upper)


def _polish(
    objective: _Objective, x: Array, value: float, lower: Array, upper: Array
) -> tuple[Array, float]:
    """Newton steps on the parameters not at a bound (finite-difference Hessian).

    Stops when the step is below 1e-13 relative or the likelihood no longer rises beyond
    rounding. A parameter at a bound whose gradient points out of the region stays there.
    """
    for _ in range(200):
        _, grad = objective.value_and_gradient(x)
        free = (x > lower + 1e-12) & (x < upper - 1e-12)
        if objective.tau2_fixed:
            free[objective.p] = False
        if not free.any():
            break
        idx = np.flatnonzero(free)
        H = _hessian_from_gradient(lambda z: objective.value_and_gradient(z)[1], x)
        H = H[np.ix_(idx, idx)]
        if not np.all(np.isfinite(H)):
            break
        step = _newton_direction(H, grad[idx])
        found = _line_search(objective, x, idx, step, value, (lower, upper))
        if found is None:
            break
        candidate, new_value = found
        change = float(np.max(np.abs(candidate - x) / np.maximum(1.0, np.abs(x))))
        gain = value - new_value
        x, value = candidate, min(value, new_value)
        if change < 1e-13 or gain <= 1e-15 * abs(value):
            break
    return x, value


def _newton_direction(H: Array, grad: Array) -> Array:
    """Eigenvalue-modified Newton step: a descent direction even where H is indefinite."""
    w, U = np.linalg.eigh(H)
    w = np.maximum(np.abs(w), 1e-10 * max(1.0, float(np.abs(w).max())))
    return -U @ ((U.T @ grad) / w)


def _line_search(
    objective: _Objective,
    x: Array,
    idx: NDArray[np.intp],
    step: Array,
    value: float,
    bounds: tuple[Array, Array],
) -> tuple[Array, float] | None:
    """Halve the step on ``x[idx]`` (clipped to the bounds) until ``-ll`` does not rise."""
    lower, upper = bounds
    t = 1.0
    while t > 1e-8:
        candidate = x.copy()
        candidate[idx] += t * step
        candidate = np.clip(candidate, lower, upper)
        new_value = objective.value(candidate)
        if new_value <= value + 1e-13 * abs(value):
            return candidate, new_value
        t /= 2
    return None


def selmodel(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    X: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    type: str = "stepfun",  # noqa: A002 - metafor's argument name
    steps: Sequence[float] | None = None,
    alternative: str = "greater",
    level: float = 0.95,
) -> SelectionResult:
    """Fit a selection model to a random-effects meta-analysis (metafor ``selmodel``).

    Parameters
    ----------
    yi, vi : array_like, shape (k,)
        Effect sizes and sampling variances (``vi > 0``).
    X : array_like, shape (k, p), optional
        Design matrix (intercept only when omitted); a column of ones is the intercept
        and is left out of the ``QM`` test.
    names : sequence of str, optional
        Coefficient names.
    type : {"stepfun", "beta"}
        Step-function (Vevea & Hedges) or beta (Citkowicz & Vevea) weight function.
    steps : sequence of float
        Cut points on the p-value scale for ``stepfun`` (1 is added if missing); one cut
        at 0.025 gives the three-parameter selection model.
    alternative : {"greater", "less", "two.sided"}
        Direction of the p-values that drive selection.
    level : float
        Confidence level.

    Returns
    -------
    SelectionResult

    Raises
    ------
    SelectionError
        For bad inputs, an interval of the step function that holds no p-value, too few
        studies, or a failed fit.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> vi = rng.uniform(0.01, 0.2, 30)
    >>> yi = rng.normal(0.2, np.sqrt(vi + 0.02))
    >>> fit = selmodel(yi, vi, steps=[0.025])  # three-parameter selection model
    >>> fit.counts, round(float(fit.beta[0]), 3), round(float(fit.delta[1]), 2), fit.lrt_df
    ((2, 28), 0.221, 2.04, 1)
    """
    y, v, Xm = _check_data(yi, vi, X, type, alternative, level)
    k, p = Xm.shape
    names = _coefficient_names(names, X is None, p)
    if type == "stepfun":
        weights = _step_function(y, v, Xm, steps, alternative)
    else:
        weights = _beta_function(y, v, Xm, alternative)
    n_free = weights.n_free
    if k < p + 1 + n_free:
        raise SelectionError(
            f"too few studies (k = {k}) to fit this selection model", "selmodel-too-few"
        )

    base_tau2 = _re_tau2(y, v, Xm, reml=False)
    base_beta, _, _ = _gls(y, v, Xm, base_tau2)
    ll0 = _ml_loglik(y, v, Xm, base_tau2)
    x0 = np.concatenate([base_beta, [base_tau2 + 0.001], np.ones(n_free)])
    bounds = [(None, None)] * p + [(0.0, None)] + [weights.bounds] * n_free
    objective = _Objective(weights, p)
    x, value = _maximise(objective, x0, bounds)
    if x[p] < 10 * np.finfo(float).eps:
        x[p] = 0.0
    cov = _covariance(objective, x)
    lrt_tau2 = _lrt_tau2(weights, p, x, bounds, -value)
    return _result(
        _Fit(type, alternative, names, Xm, weights, x, cov, -value, ll0, lrt_tau2), level
    )


def _check_data(
    yi: ArrayLike, vi: ArrayLike, X: ArrayLike | None, kind: str, alternative: str, level: float
) -> tuple[Array, Array, Array]:
    """Effect sizes, variances and design matrix, checked (intercept only without ``X``)."""
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    k = y.size
    if v.shape != y.shape:
        raise SelectionError("yi and vi must have equal length", "selmodel-length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        raise SelectionError("yi must be finite and vi finite and positive", "selmodel-values")
    if kind not in ("stepfun", "beta"):
        raise SelectionError("type must be 'stepfun' or 'beta'", "selmodel-type")
    if alternative not in ("greater", "less", "two.sided"):
        raise SelectionError(
            "alternative must be 'greater', 'less' or 'two.sided'", "selmodel-alternative"
        )
    if not 0 < level < 1:
        raise SelectionError("level must lie strictly between 0 and 1", "selmodel-level")
    Xm = np.ones((k, 1)) if X is None else np.asarray(X, dtype=float)
    if Xm.ndim == 1:
        Xm = Xm[:, None]
    if Xm.shape[0] != k or not np.all(np.isfinite(Xm)):
        raise SelectionError("X must be finite with one row per effect", "selmodel-mods")
    if np.linalg.matrix_rank(Xm) < Xm.shape[1]:
        raise SelectionError("X is not of full column rank", "selmodel-collinear")
    return y, v, Xm


def _coefficient_names(
    names: Sequence[str] | None, intercept_only: bool, p: int
) -> tuple[str, ...]:
    """Return the names given, or ``intrcpt`` / ``X1, X2, ...``; one per column of ``X``."""
    if names is None:
        names = ["intrcpt"] if intercept_only else [f"X{i + 1}" for i in range(p)]
    out = tuple(str(n) for n in names)
    if len(out) != p:
        raise SelectionError("names must have one entry per column of X", "selmodel-names")
    return out


def _step_function(
    y: Array, v: Array, Xm: Array, steps: Sequence[float] | None, alternative: str
) -> _WeightFunction:
    """Build the step function with cut points ``steps`` (1 added), checked on the data."""
    if steps is None:
        raise SelectionError(
            "the step function needs steps (cut points of the p-values)", "selmodel-steps"
        )
    cuts = np.unique(np.asarray(steps, dtype=float))
    if cuts.size == 0 or np.any(~np.isfinite(cuts)) or np.any((cuts < 0) | (cuts > 1)):
        raise SelectionError("steps must lie between 0 and 1", "selmodel-steps")
    if cuts[-1] != 1:
        cuts = np.append(cuts, 1.0)
    likelihood = _StepFunction(y, v, Xm, cuts, alternative)
    n_delta = cuts.size
    counts = tuple(int(c) for c in np.bincount(likelihood.group, minlength=n_delta))
    k, p = Xm.shape
    if k < p + n_delta:
        raise SelectionError(
            f"too few studies (k = {k}) to fit this selection model", "selmodel-too-few"
        )
    empty = [j for j in range(n_delta) if counts[j] == 0]
    if empty:
        raise SelectionError(
            "one or more intervals of the step function hold no p-value: "
            + ", ".join(f"({0 if j == 0 else cuts[j - 1]:g}, {cuts[j]:g}]" for j in empty),
            "selmodel-empty-interval",
        )
    return _WeightFunction(
        likelihood=likelihood,
        n_delta=n_delta,
        free_delta=np.arange(n_delta) > 0,
        bounds=STEP_DELTA_BOUNDS,
        exact=True,
        steps=tuple(float(c) for c in cuts),
        counts=counts,
    )


def _beta_function(y: Array, v: Array, Xm: Array, alternative: str) -> _WeightFunction:
    """Build the beta weight function (both parameters estimated)."""
    return _WeightFunction(
        likelihood=_Beta(y, v, Xm, alternative),
        n_delta=2,
        free_delta=np.array([True, True]),
        bounds=BETA_DELTA_BOUNDS,
        exact=False,
        steps=(),
        counts=(),
    )


def _covariance(objective: _Objective, x: Array) -> Array:
    """Inverse Hessian of ``-ll`` on the natural scale (beta, tau2, free deltas), as metafor.

    NaN throughout when the Hessian is singular or its inverse has a negative variance.
    """
    if objective.weights.exact:
        H = _hessian_from_gradient(objective.score, x)
    else:
        H = _hessian_from_function(objective.value, x)
    try:
        cov = np.asarray(np.linalg.inv(H), dtype=np.float64)
        if np.any(np.diag(cov) < 0) or not np.all(np.isfinite(cov)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.full_like(H, np.nan)
    return cov


def _lrt_tau2(
    weights: _WeightFunction, p: int, x: Array, bounds: Bounds, ll: float
) -> tuple[float, float]:
    """Likelihood-ratio test of ``tau2 = 0`` within the selection model (statistic, p)."""
    x0_fixed = x.copy()
    x0_fixed[p] = 0.0
    bounds_fixed = list(bounds)
    bounds_fixed[p] = (0.0, 0.0)
    _, value0 = _maximise(_Objective(weights, p, tau2_fixed=True), x0_fixed, bounds_fixed)
    lrt_tau2 = max(0.0, -2 * (-value0 - ll))
    return lrt_tau2, float(stats.chi2.sf(lrt_tau2, 1))


@dataclass(frozen=True)
class _Fit:
    """What the fit found, before inference: the maximum, its covariance, the tests."""

    type: str
    alternative: str
    names: tuple[str, ...]
    Xm: Array
    weights: _WeightFunction
    x: Array
    cov: Array
    ll: float
    ll0: float
    lrt_tau2: tuple[float, float]


def _moderator_test(
    beta: Array, vcov: Array, Xm: Array
) -> tuple[float | None, int | None, float | None]:
    """Wald test of every coefficient but the intercept (None without moderators)."""
    p = Xm.shape[1]
    intercept = [j for j in range(p) if np.all(Xm[:, j] == 1.0)]
    btt = [j for j in range(p) if j not in intercept[:1]]
    if not btt:
        return None, None, None
    qm = float(beta[btt] @ np.linalg.solve(vcov[np.ix_(btt, btt)], beta[btt]))
    return qm, len(btt), float(stats.chi2.sf(qm, len(btt)))


def _result(fit: _Fit, level: float) -> SelectionResult:
    """Wald inference, the tests of selection and the fit statistics."""
    weights, x, cov = fit.weights, fit.x, fit.cov
    k, p = fit.Xm.shape
    beta = x[:p]
    tau2 = float(x[p])
    delta = weights.delta(x[p + 1 :])
    vcov = cov[:p, :p]
    se = np.sqrt(np.diag(vcov))
    se_tau2 = float(np.sqrt(cov[p, p]))
    vd = np.full((weights.n_delta, weights.n_delta), np.nan)
    idx = np.flatnonzero(weights.free_delta)
    vd[np.ix_(idx, idx)] = cov[p + 1 :, p + 1 :]
    se_delta = np.sqrt(np.diag(vd))
    crit = float(stats.norm.ppf(0.5 + level / 2))
    stat = beta / se
    with np.errstate(invalid="ignore"):
        stat_delta = (delta - DELTA_NULL) / se_delta
    qm, qm_df, qm_p = _moderator_test(beta, vcov, fit.Xm)
    ll = fit.ll
    lrt = max(0.0, -2 * (fit.ll0 - ll))
    n_free = weights.n_free
    parms = p + 1 + n_free
    big = max(k, parms + 2)
    return SelectionResult(
        type=fit.type,
        alternative=fit.alternative,
        steps=weights.steps,
        names=fit.names,
        beta=beta,
        se=se,
        statistic=stat,
        p=2 * stats.norm.sf(np.abs(stat)),
        ci_lower=beta - crit * se,
        ci_upper=beta + crit * se,
        vcov=vcov,
        tau2=tau2,
        se_tau2=se_tau2,
        tau2_ci=(max(tau2 - crit * se_tau2, 0.0), tau2 + crit * se_tau2),
        delta=delta,
        se_delta=se_delta,
        statistic_delta=stat_delta,
        p_delta=2 * stats.norm.sf(np.abs(stat_delta)),
        delta_ci_lower=np.maximum(delta - crit * se_delta, 0.0),
        delta_ci_upper=delta + crit * se_delta,
        loglik=ll,
        loglik0=fit.ll0,
        lrt=lrt,
        lrt_df=n_free,
        lrt_p=float(stats.chi2.sf(lrt, n_free)),
        lrt_tau2=fit.lrt_tau2[0],
        lrt_tau2_p=fit.lrt_tau2[1],
        qm=qm,
        qm_df=qm_df,
        qm_p=qm_p,
        parms=parms,
        deviance=-2 * ll,
        aic=-2 * ll + 2 * parms,
        bic=-2 * ll + parms * math.log(k),
        aicc=-2 * ll + 2 * parms * big / (big - parms - 1),
        counts=weights.counts,
        k=k,
        level=level,
    )
