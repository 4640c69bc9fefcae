"""Generalised linear mixed models for sparse binary and count data, as R metafor 3.8 ``rma.glmm``.

Public API
----------
``glmm_tables(ai, bi, ci, di, *, model="UM.FS", method="ML", level=95, ...) -> GLMMResult``
    Log odds ratio from k 2x2 tables: ``model="UM.FS"`` (unconditional model with fixed
    study effects, binomial-normal), ``"CM.EL"`` (conditional model, exact likelihood:
    non-central hypergeometric-normal) or ``"CM.AL"`` (its binomial approximation).
``glmm_rates(x1i, t1i, x2i, t2i, *, model="UM.FS", method="ML", ...) -> GLMMResult``
    Log incidence rate ratio: UM.FS (Poisson-normal with log person-time offsets) or CM.EL
    (conditional binomial-normal).
``glmm_rate(xi, ti, *, method="ML", ...) -> GLMMResult``
    Log incidence rate (measure IRLN): Poisson-normal model.
``glmm_proportions(xi, ni, *, method="ML", level=95, ...) -> GLMMResult``
    Logit of a proportion (measure PLO): random-intercept logistic model.

``method="EE"`` fits each model without its random effect (tau2 = 0; metafor
``method = "EE"``): a GLM for UM.FS, CM.AL, the CM.EL of rates, IRLN and PLO, the
conditional maximum-likelihood odds ratio for CM.EL (exact non-central hypergeometric
moments). Heterogeneity is tested by the Wald test of the raw study estimates and the
likelihood-ratio test of the equal-effects model against the saturated one (for CM.EL of
OR: against study-specific conditional MLEs).

Models (Stijnen, Hamza & Ozdemir 2010; Turner et al. 2000), with ``u_i ~ N(0, 1)``:

- UM.FS (OR): ``logit p_i1 = alpha_i + beta + tau u_i/2``,
  ``logit p_i2 = alpha_i - tau u_i/2``; ``a_i ~ Bin(n1_i, p_i1)``, ``c_i ~ Bin(n2_i, p_i2)``;
  so the study log odds ratios are ``N(beta, tau^2)`` around fixed study intercepts.
- UM.FS (IRR): the same with ``x_ij ~ Poisson(t_ij exp(eta_ij))`` and the log link.
- PLO: ``logit p_i = beta + tau u_i``, ``x_i ~ Bin(n_i, p_i)``.
- CM.EL (OR): conditional on the table margins, ``a_i`` follows Fisher's non-central
  hypergeometric distribution with odds ratio ``psi_i``, ``log psi_i ~ N(beta, tau^2)``.
- CM.AL (OR): ``a_i ~ Bin(a_i + c_i, p_i)``, ``logit p_i = log(n1_i/n2_i) + beta + tau u_i``
  (rare events: the binomial approximation of CM.EL); CM.EL (IRR): ``x1_i ~ Bin(x1_i +
  x2_i, p_i)``, ``logit p_i = log(t1_i/t2_i) + beta + tau u_i`` (exact for Poisson counts).
- IRLN: ``x_i ~ Poisson(t_i exp(beta + tau u_i))``.

Estimation is by maximum likelihood, as metafor's defaults (``method="ML"``):

- UM.FS, PLO, CM.AL, CM.EL of rates and IRLN: metafor calls ``lme4::glmer`` with
  ``nAGQ = 7``: the marginal likelihood of each study is approximated by adaptive
  Gauss-Hermite quadrature with 7 nodes, centred at the conditional mode ``u_hat`` of the
  random effect and scaled by ``s = (-h''(u_hat))^(-1/2)``, where ``h(u) = log f(y | u) - u^2/2``::

      L_i ~ exp(h(u_hat + s z_k) + z_k^2/2) weighted by the normal-density GH weights w_k,
      log L_i = log s + log sum_k w_k exp(h(u_hat + s z_k) + z_k^2/2) + log binomial coef.

  This module maximises exactly that function over ``(alpha, beta, tau >= 0)`` with its
  analytic gradient (L-BFGS-B, then Newton steps on a finite-difference Hessian of the
  gradient). The standard error of ``beta`` comes from the inverse of the Hessian over
  all parameters (lme4's ``vcov``, which inverts its finite-difference Hessian over
  ``(tau, alpha, beta)``).
- CM.EL: metafor maximises ``sum log integral dFNCH(a_i; exp(theta)) N(theta; beta, tau^2)``
  (R ``integrate`` over the real line, QUADPACK QAGI, with relative and absolute
  tolerances ``eps^(1/4)``) by ``nlminb`` over ``(beta, log tau^2)``, and takes the
  standard errors from a Richardson-extrapolated numerical Hessian
  (``numDeriv::hessian``). With those tolerances the integrals carry relative errors up to
  ~1e-4, so the likelihood surface has bumps an optimiser can stop on (integrating the
  same way, dat.collins1985a has a spurious maximum 1e-3 above the true one, with a
  curvature that gives a standard error 10 times too small). This module integrates each
  table by adaptive Gauss-Hermite quadrature with 40 nodes (the integrands are
  log-concave; agreement with QUADPACK at 1e-12 is 1e-10 or better in the log-likelihood) and
  maximises that likelihood: the true maximum, which metafor's estimate reaches to the
  precision of its optimiser (see below). The standard errors come from a
  Richardson-extrapolated central-difference Hessian on the same ``(beta, log tau^2)``
  scale.

Heterogeneity (UM.FS, PLO): ``q_lrt = 2 (l_saturated - l_fixed)`` (the fixed-effects GLM
without ``tau``) and ``q_wald``, the Wald test of the study-specific effects of the
saturated model, on ``k - 1`` df; ``I2 = 100 tau^2/(v + tau^2)`` and ``H2 = tau^2/v + 1``
with metafor's "typical" within-study variance ``v = (k - 1) sum w / ((sum w)^2 - sum w^2)``
of the ``escalc`` sampling variances (with ``add``/``to``/``drop00``).

Agreement with metafor 3.8.1
----------------------------
Measured on the fixtures of ``tests/reference/make_binary_fixtures.R`` (max relative
difference; tested in ``tests/test_binary_models.py`` at the named tolerances there).
The 1e-6 criterion is met for CM.EL's estimate (and its tau2 on two of three datasets),
and for the heterogeneity LRT; it cannot be met for the rest, for reasons on R's side:

=====================  ===========  ==========  ===========  ==================
model, dataset         estimate     se          tau2         q_lrt / q_wald
=====================  ===========  ==========  ===========  ==================
UM.FS nielweise2007    3.7e-7       2.5e-7      1.8e-6       2e-11 / 3e-8
UM.FS bcg              4.0e-6       6.8e-5      4.6e-6       <1e-9 / <1e-7
UM.FS li2007           4.7e-6       1.1e-5      3.4e-6       <1e-9 / <1e-7
IRR hart1999           <1e-7        <1e-7       0 (both)     <1e-9 / <1e-7
IRR nielweise2008      1.3e-7       1.5e-7      1.0e-6       <1e-9 / 2.1e-6
PLO pritz1997          <1e-7        <1e-7       <1e-7        <1e-9 / <1e-7
PLO nielweise2007 (1)  <1e-7        1.2e-6      <1e-7        <1e-9 / <1e-7
CM.EL nielweise2007    1.1e-7       7.9e-5      2.1e-6       not offered
CM.EL bcg              1.7e-8       2.1e-5      2.5e-8       not offered
CM.EL li2007           6.1e-8       1.2e-4      2.0e-7       not offered
=====================  ===========  ==========  ===========  ==================

- UM.FS/PLO estimates and tau2: lme4 computes its deviance only to ~1e-10 (PIRLS), and
  its optimisers stop where that noise hides the slope. The fixtures already use a
  tightened BOBYQA; metafor's default (Nelder-Mead, ``FtolAbs = 1e-5``) stops much
  further away (dat.nielweise2007: log OR off by 3.4e-4, with a convergence warning; the
  fixture records it as ``default``). Ours is the maximum: lme4's own deviance function
  is lower at our solution than at glmer's (dat.bcg: 38.9337006383562 against
  38.9337006387954).
- UM.FS/PLO standard errors: lme4 inverts a central-difference Hessian (step 1e-4) of
  that deviance; at our optimum it gives 0.1755565 for dat.bcg where the exact Hessian
  gives 0.1755622 (the value returned here).
- CM.EL: the likelihood is flat in tau2 near the maximum; metafor's ``nlminb`` stops up to
  2.1e-6 (relative) away in tau2 (dat.nielweise2007), where the accurately integrated
  log-likelihood is 3e-12 below ours. Standard errors: numDeriv's Richardson
  extrapolation down to steps of ~4e-9 amplifies the rounding noise of metafor's
  integrals (its Hessian entries are off by up to 3e-4); ours is the curvature of the
  accurately integrated likelihood.
- ``loglik`` of UM.FS/PLO is the AGQ marginal log-likelihood with all constants; metafor's
  ``logLik`` for these models (the saturated GLM's log-likelihood minus half of lme4's
  ``deviance()``) is on another footing and is not compared. CM.EL's agrees to 2e-12.
- The Wald test is the closed form (Cochran's Q of the raw study estimates, zero-cell
  studies with weight 0); R's ``glm`` stops IRLS at a 1e-8 relative deviance change.
- CM.EL with ``method="EE"`` (OR): the estimate and the likelihood-ratio test agree with
  metafor to 1e-6; its standard error (0.13%) and Wald test (0.5%) do not, because metafor
  differentiates numerically (numDeriv, Richardson to steps of ~1e-9) a likelihood that
  BiasedUrn computes to 1e-7, where ours are the exact hypergeometric variances (BiasedUrn's
  own ``varFNCHypergeo`` at metafor's estimate gives our standard error to 7 digits).
- Not offered: metafor's CM.EL heterogeneity tests of the random-effects model
  (conditional saturated model fits), model UM.RS, moderators, and measures RR, RD, PR,
  PLN.

References
----------
Stijnen, T., Hamza, T. H. & Ozdemir, P. (2010). Random effects meta-analysis of event
outcome in the framework of the generalized linear mixed model with applications in sparse
data. *Statistics in Medicine* 29, 3046-3067.
Turner, R. M., Omar, R. Z., Yang, M., Goldstein, H. & Thompson, S. G. (2000). A multilevel
model framework for meta-analysis of clinical trials with binary outcomes. *Statistics in
Medicine* 19, 3417-3432.
Pinheiro, J. C. & Bates, D. M. (1995). Approximations to the log-likelihood function in the
nonlinear mixed-effects model. *Journal of Computational and Graphical Statistics* 4,
12-35 (adaptive Gauss-Hermite quadrature).
Bates, D., Maechler, M., Bolker, B. & Walker, S. (2015). Fitting linear mixed-effects
models using lme4. *Journal of Statistical Software* 67(1), 1-48.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal of
Statistical Software* 36(3), 1-48 (``rma.glmm``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from evidence.stats._binary import (
    FloatArray,
    add_to_cells,
    as_counts,
    check_options,
    json_float,
    proportion_effects,
    rate_effects,
    same_length,
    table_effects,
    typical_variance,
    zero_zero,
)
from evidence.stats.errors import InputError

__all__ = ["GLMMResult", "N_AGQ", "glmm_proportions", "glmm_rates", "glmm_tables"]

#: Quadrature nodes of metafor's default (``nAGQ = 7``).
N_AGQ = 7
#: metafor clips the log odds ratio inside the CM.EL integrand to +/- log(1e12).
_LOG_OR_CLIP = 12 * math.log(10)


@dataclass(frozen=True)
class GLMMResult:
    """A GLMM meta-analysis (metafor ``rma.glmm``, ``method="ML"``).

    ``estimate`` is on the model's scale (log OR, log IRR, logit proportion). ``se_tau2``
    is given for CM.EL only (metafor gives it there). Undefined values are NaN here and None
    in :meth:`to_dict`.
    """

    measure: str
    model: str
    k: int
    estimate: float
    se: float
    statistic: float
    p: float
    ci_lower: float
    ci_upper: float
    level: float
    tau2: float
    se_tau2: float
    loglik: float
    q_wald: float
    q_wald_p: float
    q_lrt: float
    q_lrt_p: float
    q_df: int
    i2: float
    h2: float
    n_agq: int | None
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: plain floats, None for undefined values."""
        return {
            "model": "glmm",
            "glmm_model": self.model,
            "measure": self.measure,
            "k": self.k,
            "estimate": json_float(self.estimate),
            "se": json_float(self.se),
            "statistic": json_float(self.statistic),
            "p": json_float(self.p),
            "ci": [json_float(self.ci_lower), json_float(self.ci_upper)],
            "level": self.level,
            "tau2": json_float(self.tau2),
            "se_tau2": json_float(self.se_tau2),
            "loglik": json_float(self.loglik),
            "q_wald": json_float(self.q_wald),
            "q_wald_p": json_float(self.q_wald_p),
            "q_lrt": json_float(self.q_lrt),
            "q_lrt_p": json_float(self.q_lrt_p),
            "q_df": self.q_df,
            "i2": json_float(self.i2),
            "h2": json_float(self.h2),
            "n_agq": self.n_agq,
            "converged": self.converged,
        }


# --------------------------------------------------------------------------- design


@dataclass(frozen=True)
class _Design:
    """Observations (rows) of a GLMM with one scalar random effect per study."""

    y: FloatArray  # events
    trials: FloatArray | None  # binomial trials, None for Poisson
    offset: FloatArray
    x: FloatArray  # fixed-effects design, the coefficient of interest in column 0
    c: FloatArray  # coefficient of the random effect u_s in the linear predictor
    study: NDArray[np.intp]
    n_studies: int
    constant: float  # log binomial coefficients / -log y!

    @property
    def indicator(self) -> FloatArray:
        m = np.zeros((self.n_studies, len(self.y)))
        m[self.study, np.arange(len(self.y))] = 1.0
        return m


def _moments(design: _Design, eta: FloatArray) -> tuple[FloatArray, ...]:
    """Log-likelihood kernel, mean, variance and third cumulant at linear predictors ``eta``.

    ``eta`` has the rows of ``design`` as its first axis (any trailing axes).
    """
    y = design.y.reshape((-1,) + (1,) * (eta.ndim - 1))
    if design.trials is None:
        mu = np.exp(eta)
        return y * eta - mu, mu, mu, mu
    n = design.trials.reshape(y.shape)
    prob = special.expit(eta)
    var = n * prob * (1 - prob)
    return y * eta - n * np.logaddexp(0.0, eta), n * prob, var, var * (1 - 2 * prob)


def _modes(design: _Design, eta0: FloatArray, tau: float, m: FloatArray) -> FloatArray:
    """Conditional modes of the random effects (safeguarded Newton on a concave function)."""
    u = np.zeros(design.n_studies)
    if tau == 0:
        return u
    c = design.c

    def objective(u: FloatArray) -> FloatArray:
        ll = _moments(design, eta0 + tau * c * u[design.study])[0]
        return m @ ll - u**2 / 2

    current = objective(u)
    for _ in range(200):
        _, mean, var, _ = _moments(design, eta0 + tau * c * u[design.study])
        grad = tau * (m @ (c * (design.y - mean))) - u
        hess = -(tau**2) * (m @ (c**2 * var)) - 1
        step = -grad / hess
        new_u = u + step
        new = objective(new_u)
        for _ in range(60):
            worse = new < current - 1e-12 * (1 + np.abs(current))
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
            new_u = u + step
            new = objective(new_u)
        u, current = new_u, new
        if np.max(np.abs(step)) < 1e-14 * (1 + np.max(np.abs(u))):
            break
    return u


def _agq(
    design: _Design, theta: FloatArray, n_agq: int, gradient: bool
) -> tuple[float, FloatArray | None]:
    """AGQ marginal log-likelihood (lme4 ``glmer`` with ``nAGQ``) and its exact gradient.

    ``theta`` = (fixed effects..., tau). The gradient accounts for the dependence of the
    mode and of the quadrature scale on the parameters (implicit differentiation).
    """
    beta, tau = theta[:-1], float(theta[-1])
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_agq)
    log_w = np.log(weights / math.sqrt(2 * math.pi))
    m = design.indicator
    x, c, s = design.x, design.c, design.study
    eta0 = x @ beta + design.offset
    u_hat = _modes(design, eta0, tau, m)
    _, mean0, var0, third0 = _moments(design, eta0 + tau * c * u_hat[s])
    h_uu = -(tau**2) * (m @ (c**2 * var0)) - 1
    sd = 1 / np.sqrt(-h_uu)
    v = u_hat[:, None] + sd[:, None] * nodes[None, :]  # studies x nodes
    eta = eta0[:, None] + tau * c[:, None] * v[s]  # rows x nodes
    ll, mean, _, _ = _moments(design, eta)
    h = m @ ll - v**2 / 2
    terms = log_w[None, :] + h + nodes[None, :] ** 2 / 2
    log_sum = special.logsumexp(terms, axis=1)
    loglik = float(np.sum(np.log(sd) + log_sum)) + design.constant
    if not gradient:
        return loglik, None
    weight = np.exp(terms - log_sum[:, None])  # studies x nodes, rows sum to 1
    resid = design.y[:, None] - mean  # rows x nodes
    c_resid = m @ (c[:, None] * resid)  # studies x nodes
    h_u = tau * c_resid - v
    h_uuu = -(tau**3) * (m @ (c**3 * third0))
    resid0 = design.y - mean0
    n_par = len(theta)
    grad = np.empty(n_par)
    # fixed effects
    dh = np.einsum("sr,rk,rj->skj", m, resid, x)  # studies x nodes x p
    h_ub = -tau * (m @ (c[:, None] * var0[:, None] * x))  # studies x p
    h_uub = -(tau**2) * (m @ (c[:, None] ** 2 * third0[:, None] * x))
    du = -h_ub / h_uu[:, None]
    dsd = 0.5 * sd[:, None] ** 3 * (h_uub + h_uuu[:, None] * du)
    total = (
        dsd / sd[:, None]
        + np.einsum("sk,skj->sj", weight, dh)
        + np.einsum(
            "sk,sk,skj->sj", weight, h_u, du[:, None, :] + dsd[:, None, :] * nodes[None, :, None]
        )
    )
    grad[:-1] = total.sum(axis=0)
    # tau
    dh_tau = v * c_resid
    sum_c2v = m @ (c**2 * var0)
    h_ut = m @ (c * resid0) - tau * u_hat * sum_c2v
    h_uut = -2 * tau * sum_c2v - tau**2 * u_hat * (m @ (c**3 * third0))
    du_t = -h_ut / h_uu
    dsd_t = 0.5 * sd**3 * (h_uut + h_uuu * du_t)
    total_t = dsd_t / sd + np.sum(
        weight * (dh_tau + h_u * (du_t[:, None] + dsd_t[:, None] * nodes[None, :])), axis=1
    )
    grad[-1] = float(total_t.sum())
    return loglik, grad


def _fit_fixed(design: _Design) -> tuple[FloatArray, float, FloatArray]:
    """Maximum likelihood GLM without the random effect (Newton-Raphson, exact Hessian)."""
    x = design.x
    beta = np.zeros(x.shape[1])
    if design.trials is not None:
        # start at the empirical logits of each study's pooled proportion (all rows)
        pooled = (design.indicator @ design.y + 0.5) / (design.indicator @ design.trials + 1)
        start = special.logit(pooled)[design.study]
    else:
        rate = (design.indicator @ design.y + 0.5) / (design.indicator @ np.exp(design.offset))
        start = np.log(rate)[design.study] - 0 * design.offset
    beta = np.linalg.lstsq(x, start, rcond=None)[0]
    loglik = -math.inf
    for _ in range(200):
        eta = x @ beta + design.offset
        ll, mean, var, _ = _moments(design, eta)
        current = float(ll.sum())
        info = x.T @ (var[:, None] * x)
        step = np.linalg.solve(info, x.T @ (design.y - mean))
        for _ in range(60):
            new = float(_moments(design, x @ (beta + step) + design.offset)[0].sum())
            if new >= current - 1e-10 * abs(current):
                break
            step = step / 2
        beta = beta + step
        if abs(new - loglik) < 1e-13 * (1 + abs(new)) and np.max(np.abs(step)) < 1e-10:
            loglik = new
            break
        loglik = new
    eta = x @ beta + design.offset
    _, _, var, _ = _moments(design, eta)
    info = x.T @ (var[:, None] * x)
    return beta, loglik + design.constant, np.asarray(np.linalg.inv(info), dtype=float)


def _saturated_loglik(design: _Design) -> float:
    y = design.y
    with np.errstate(divide="ignore", invalid="ignore"):
        if design.trials is None:
            ll = np.where(y > 0, y * np.log(y) - y, 0.0)
        else:
            n = design.trials
            ll = np.where(y > 0, y * np.log(y / n), 0.0) + np.where(
                n - y > 0, (n - y) * np.log((n - y) / n), 0.0
            )
    return float(ll.sum()) + design.constant


def _numeric_hessian(grad_fn, theta: FloatArray, lower: FloatArray | None = None) -> FloatArray:
    """Central differences of an analytic gradient (one-sided at a lower bound)."""
    n = len(theta)
    hess = np.empty((n, n))
    for j in range(n):
        step = 1e-5 * max(1.0, abs(theta[j]))
        up = theta.copy()
        up[j] += step
        down = theta.copy()
        down[j] -= step
        if lower is not None and down[j] < lower[j]:
            hess[:, j] = (grad_fn(up) - grad_fn(theta)) / step
        else:
            hess[:, j] = (grad_fn(up) - grad_fn(down)) / (2 * step)
    return (hess + hess.T) / 2


def _fit_agq(design: _Design, n_agq: int) -> dict[str, Any]:
    """ML fit of the AGQ likelihood over (fixed effects, tau >= 0)."""
    beta_fe, loglik_fe, vcov_fe = _fit_fixed(design)

    def negative(theta: FloatArray) -> tuple[float, FloatArray]:
        loglik, grad = _agq(design, theta, n_agq, True)
        assert grad is not None  # asked for
        return -loglik, -grad

    def gradient(theta: FloatArray) -> FloatArray:
        return negative(theta)[1]

    best = None
    for tau_start in (0.5, 1.0, 0.1):
        start = np.append(beta_fe, tau_start)
        res = optimize.minimize(
            negative,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(None, None)] * len(beta_fe) + [(0.0, None)],
            options={"maxiter": 20000, "ftol": 1e-16, "gtol": 1e-10, "maxcor": 30},
        )
        if best is None or res.fun < best.fun - 1e-10:
            best = res
    assert best is not None  # the loop ran
    theta = best.x.copy()
    value = best.fun
    lower = np.append(np.full(len(beta_fe), -np.inf), 0.0)
    # Newton polishing (interior optimum)
    for _ in range(20):
        if theta[-1] <= 1e-8:
            break
        grad = gradient(theta)
        hess = _numeric_hessian(gradient, theta)
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        for _ in range(30):
            candidate = theta + step
            if candidate[-1] > 0:
                new_value = negative(candidate)[0]
                if new_value <= value + 1e-12 * abs(value):
                    break
            step = step / 2
        else:
            break
        theta, value = candidate, new_value
        if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(theta))):
            break
    if theta[-1] <= 1e-8:
        theta[-1] = 0.0
        theta[:-1] = beta_fe
        value = -loglik_fe
        vcov = vcov_fe
    else:
        vcov = np.asarray(np.linalg.inv(_numeric_hessian(gradient, theta, lower)), dtype=float)
    grad = gradient(theta)
    converged = bool(np.max(np.abs(grad[:-1] if theta[-1] == 0 else grad)) < 1e-5)
    return {
        "theta": theta,
        "loglik": -value,
        "vcov": vcov,
        "loglik_fe": loglik_fe,
        "loglik_saturated": _saturated_loglik(design),
        "converged": converged,
    }


# --------------------------------------------------------------------------- public API


def glmm_tables(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    *,
    model: str = "UM.FS",
    method: str = "ML",
    add: float = 0.5,
    to: str = "only0",
    drop00: bool = True,
    level: float = 95,
    n_agq: int = N_AGQ,
) -> GLMMResult:
    """Log odds ratio from 2x2 tables by a GLMM (metafor ``rma.glmm``, measure OR).

    Parameters
    ----------
    ai, bi, ci, di : array_like
        Events and non-events in group 1 (``ai``, ``bi``) and group 2 (``ci``, ``di``).
    model : {"UM.FS", "CM.EL", "CM.AL"}
        Unconditional binomial-normal model with fixed study effects, the conditional
        non-central hypergeometric-normal model (exact likelihood), or its binomial
        approximation (``a_i`` of ``a_i + c_i`` events, offset ``log(n1_i/n2_i)``).
    method : {"ML", "EE"}
        Random-effects (maximum likelihood) or equal-effects (tau2 = 0) model.
    add, to : float, str
        Zero-cell rule for the per-study log odds ratios behind I2 and H2 (metafor's
        ``escalc`` defaults).
    drop00 : bool
        Leave out tables without events (or with only events) in both groups, from the
        model too (metafor's default).
    level : float
        Confidence level in percent.
    n_agq : int
        Adaptive Gauss-Hermite nodes for UM.FS (metafor's default 7; 1 is the Laplace
        approximation).

    Returns
    -------
    GLMMResult

    Examples
    --------
    >>> res = glmm_tables([3, 10, 0, 6], [97, 90, 50, 94], [8, 12, 2, 15],
    ...                   [92, 88, 48, 85])
    >>> round(res.estimate, 4), res.tau2, round(res.se, 4)
    (-0.7334, 0.0, 0.2952)
    """
    a, b, c, d = (
        as_counts(n, v) for n, v in zip(("ai", "bi", "ci", "di"), (ai, bi, ci, di), strict=True)
    )
    same_length(ai=a, bi=b, ci=c, di=d)
    check_options((add, 0.0), (to, "none"), (drop00, False))
    _check_level(level)
    if model not in ("UM.FS", "CM.EL", "CM.AL"):
        raise InputError(f"model must be 'UM.FS', 'CM.EL' or 'CM.AL', got {model!r}")
    _check_method(method)
    _check_n_agq(n_agq)
    yi, vi = table_effects("OR", a, b, c, d, add=add, to=to, drop00=drop00)
    keep = ~zero_zero(a, b, c, d) if drop00 else np.ones(len(a), dtype=bool)
    a, b, c, d = a[keep], b[keep], c[keep], d[keep]
    k = len(a)
    if k < 2:
        raise InputError("a GLMM needs at least two tables with events")
    if np.any(a + b == 0) or np.any(c + d == 0):
        raise InputError("every table needs at least one participant in each group")
    if model == "CM.EL":
        if method == "EE":
            fit, q_wald, q_lrt = _fit_conditional_fixed(a, b, c, d)
        else:
            fit = _fit_conditional(a, b, c, d)
            q_wald = q_lrt = math.nan
        return _result("OR", model, k, fit, q_wald, q_lrt, vi, level, None)
    if model == "CM.AL":
        events = a + c
        if np.any(events == 0):
            raise InputError("CM.AL needs events in every table (use drop00)")
        design = _one_row_design(a, events, np.log((a + b) / (c + d)))
        raw_y, raw_v = _raw_logits(a, events)
        raw_y = raw_y - np.log((a + b) / (c + d))
    else:
        rows_y = np.column_stack([a, c]).ravel()
        rows_n = np.column_stack([a + b, c + d]).ravel()
        design = _two_group_design(rows_y, rows_n, np.zeros(2 * k), k, binomial=True)
        raw_y, raw_v = table_effects("OR", a, b, c, d, add=0.0, to="none", drop00=False)
    return _fit_and_test("OR", model, method, design, raw_y, raw_v, vi, level, n_agq)


def glmm_rates(
    x1i: ArrayLike,
    t1i: ArrayLike,
    x2i: ArrayLike,
    t2i: ArrayLike,
    *,
    model: str = "UM.FS",
    method: str = "ML",
    add: float = 0.5,
    to: str = "only0",
    drop00: bool = True,
    level: float = 95,
    n_agq: int = N_AGQ,
) -> GLMMResult:
    """Log incidence rate ratio by a GLMM (metafor ``rma.glmm``, measure IRR).

    Parameters
    ----------
    x1i, t1i, x2i, t2i : array_like
        Events and person-time in group 1 and group 2.
    model : {"UM.FS", "CM.EL"}
        Poisson-normal model with fixed study effects, or the conditional binomial-normal
        model (``x1_i`` of ``x1_i + x2_i`` events, offset ``log(t1_i/t2_i)``).
    method : {"ML", "EE"}
        Random-effects or equal-effects model.
    add, to, drop00, level, n_agq
        As for :func:`glmm_tables`; ``drop00`` leaves out studies without events.

    Returns
    -------
    GLMMResult

    Examples
    --------
    >>> res = glmm_rates([4, 6, 12], [1000.0, 1500.0, 900.0], [9, 10, 11],
    ...                  [1100.0, 1400.0, 950.0])
    >>> round(res.estimate, 4), res.tau2
    (-0.284, 0.0)
    """
    x1, x2 = as_counts("x1i", x1i), as_counts("x2i", x2i)
    t1, t2 = as_counts("t1i", t1i, positive=True), as_counts("t2i", t2i, positive=True)
    same_length(x1i=x1, t1i=t1, x2i=x2, t2i=t2)
    check_options((add, 0.0), (to, "none"), (drop00, False))
    _check_level(level)
    _check_n_agq(n_agq)
    if model not in ("UM.FS", "CM.EL"):
        raise InputError(f"model must be 'UM.FS' or 'CM.EL', got {model!r}")
    _check_method(method)
    yi, vi = rate_effects("IRR", x1, t1, x2, t2, add=add, to=to, drop00=drop00)
    keep = ~((x1 == 0) & (x2 == 0)) if drop00 else np.ones(len(x1), dtype=bool)
    x1, t1, x2, t2 = x1[keep], t1[keep], x2[keep], t2[keep]
    k = len(x1)
    if k < 2:
        raise InputError("a GLMM needs at least two studies with events")
    raw_y, raw_v = rate_effects("IRR", x1, t1, x2, t2, add=0.0, to="none", drop00=False)
    if model == "CM.EL":
        if np.any(x1 + x2 == 0):
            raise InputError("the conditional model needs events in every study (use drop00)")
        design = _one_row_design(x1, x1 + x2, np.log(t1 / t2))
    else:
        rows_y = np.column_stack([x1, x2]).ravel()
        offset = np.log(np.column_stack([t1, t2]).ravel())
        design = _two_group_design(rows_y, None, offset, k, binomial=False)
    return _fit_and_test("IRR", model, method, design, raw_y, raw_v, vi, level, n_agq)


def glmm_rate(
    xi: ArrayLike,
    ti: ArrayLike,
    *,
    method: str = "ML",
    add: float = 0.5,
    to: str = "only0",
    level: float = 95,
    n_agq: int = N_AGQ,
) -> GLMMResult:
    """Log incidence rate by the Poisson-normal model (metafor ``rma.glmm``, IRLN).

    ``x_i ~ Poisson(t_i exp(beta + tau u_i))``, ``u_i ~ N(0, 1)`` (Stijnen et al. 2010).

    Parameters
    ----------
    xi, ti : array_like
        Events and person-time.
    method, add, to, level, n_agq
        As for :func:`glmm_tables` (``add``/``to`` only for I2 and H2).
    """
    x, t = as_counts("xi", xi), as_counts("ti", ti, positive=True)
    same_length(xi=x, ti=t)
    check_options((add, 0.0), (to, "none"), (False, False))
    _check_level(level)
    _check_n_agq(n_agq)
    _check_method(method)
    k = len(x)
    if k < 2:
        raise InputError("a GLMM needs at least two studies")
    (corrected,) = add_to_cells([x], add, to)
    with np.errstate(divide="ignore", invalid="ignore"):
        vi = 1 / corrected
        raw_y, raw_v = np.log(x / t), 1 / x
    design = _Design(
        y=x,
        trials=None,
        offset=np.log(t),
        x=np.ones((k, 1)),
        c=np.ones(k),
        study=np.arange(k),
        n_studies=k,
        constant=float(-np.sum(special.gammaln(x + 1))),
    )
    return _fit_and_test("IRLN", "UM.FS", method, design, raw_y, raw_v, vi, level, n_agq)


def glmm_proportions(
    xi: ArrayLike,
    ni: ArrayLike,
    *,
    method: str = "ML",
    add: float = 0.5,
    to: str = "only0",
    level: float = 95,
    n_agq: int = N_AGQ,
) -> GLMMResult:
    """Logit proportion by the random-intercept logistic model (PLO; ``method="EE"``: GLM).

    Parameters
    ----------
    xi, ni : array_like
        Events and sample sizes.
    method, add, to, level, n_agq
        As for :func:`glmm_tables` (``add``/``to`` only for I2 and H2).

    Returns
    -------
    GLMMResult

    Examples
    --------
    >>> res = glmm_proportions([3, 10, 0, 6], [100, 100, 50, 100])
    >>> round(float(special.expit(res.estimate)), 4), round(res.tau2, 4)
    (0.0454, 0.3058)
    """
    x, n = as_counts("xi", xi), as_counts("ni", ni)
    same_length(xi=x, ni=n)
    if np.any(x > n):
        raise InputError("xi must not exceed ni")
    if np.any(n == 0):
        raise InputError("ni must be positive")
    check_options((add, 0.0), (to, "none"), (False, False))
    _check_level(level)
    _check_n_agq(n_agq)
    _check_method(method)
    k = len(x)
    if k < 2:
        raise InputError("a random-effects GLMM needs at least two studies")
    yi, vi = proportion_effects(x, n, add=add, to=to)
    raw_y, raw_v = proportion_effects(x, n, add=0.0, to="none")
    design = _Design(
        y=x,
        trials=n,
        offset=np.zeros(k),
        x=np.ones((k, 1)),
        c=np.ones(k),
        study=np.arange(k),
        n_studies=k,
        constant=float(np.sum(_log_choose(n, x))),
    )
    return _fit_and_test("PLO", "UM.FS", method, design, raw_y, raw_v, vi, level, n_agq)


# --------------------------------------------------------------------------- helpers


def _check_method(method: str) -> None:
    if method not in ("ML", "EE"):
        raise InputError(f"method must be 'ML' (random effects) or 'EE', got {method!r}")


def _one_row_design(events: FloatArray, trials: FloatArray, offset: FloatArray) -> _Design:
    """Binomial design with one row per study: ``logit p_i = offset_i + beta + tau u_i``."""
    k = len(events)
    return _Design(
        y=events,
        trials=trials,
        offset=offset,
        x=np.ones((k, 1)),
        c=np.ones(k),
        study=np.arange(k),
        n_studies=k,
        constant=float(np.sum(_log_choose(trials, events))),
    )


def _raw_logits(events: FloatArray, trials: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``logit(x/n)`` and ``1/x + 1/(n - x)`` (infinite for 0 or n events: weight 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(events / (trials - events))
        v = 1 / events + 1 / (trials - events)
    return y, v


def _fit_and_test(
    measure: str,
    model: str,
    method: str,
    design: _Design,
    raw_y: FloatArray,
    raw_v: FloatArray,
    vi: FloatArray,
    level: float,
    n_agq: int,
) -> GLMMResult:
    """Fit ``design`` (random effects by AGQ, or the equal-effects GLM) and test it.

    Heterogeneity: the Wald test of the raw study estimates and the likelihood-ratio test
    of the equal-effects model against the saturated one.
    """
    if method == "EE":
        beta, loglik, vcov = _fit_fixed(design)
        fit: dict[str, Any] = {
            "theta": beta,
            "tau2": 0.0,
            "loglik": loglik,
            "vcov": vcov,
            "loglik_fe": loglik,
            "loglik_saturated": _saturated_loglik(design),
            "converged": True,
        }
    else:
        fit = _fit_agq(design, n_agq)
    q_wald = _wald_homogeneity(raw_y, raw_v)
    q_lrt = 2 * (fit["loglik_saturated"] - fit["loglik_fe"])
    return _result(measure, model, design.n_studies, fit, q_wald, q_lrt, vi, level, n_agq)


def _check_level(level: float) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 100:
        raise InputError(f"level must be a percentage between 0 and 100, got {level!r}")


def _check_n_agq(n_agq: int) -> None:
    if isinstance(n_agq, bool) or not isinstance(n_agq, int) or not 1 <= n_agq <= 25:
        raise InputError(f"n_agq must be an integer from 1 to 25, got {n_agq!r}")


def _log_choose(n: FloatArray | float, x: FloatArray | float) -> FloatArray:
    return special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1)


def _two_group_design(
    rows_y: FloatArray, rows_n: FloatArray | None, offset: FloatArray, k: int, *, binomial: bool
) -> _Design:
    """Build the two-group design: rows study 1 group 1, study 1 group 2, and so on.

    Column 0 is the group-1 effect, then one intercept per study; the random effect is
    coded +1/2, -1/2 (metafor's ``coding = 1/2``).
    """
    study = np.repeat(np.arange(k), 2)
    group1 = np.tile([1.0, 0.0], k)
    x = np.column_stack([group1, np.eye(k)[study]])
    if binomial:
        assert rows_n is not None
        constant = float(np.sum(_log_choose(rows_n, rows_y)))
    else:
        constant = float(-np.sum(special.gammaln(rows_y + 1)))
    return _Design(
        y=rows_y,
        trials=rows_n if binomial else None,
        offset=offset,
        x=x,
        c=np.tile([0.5, -0.5], k),
        study=study,
        n_studies=k,
        constant=constant,
    )


def _wald_homogeneity(yi: FloatArray, vi: FloatArray) -> float:
    """Wald test that the saturated model's study effects are equal.

    Equals Cochran's Q of the raw (uncorrected) study estimates; a study with a zero cell
    has an infinite raw estimate and variance and so weight 0, which is the limit that R's
    ``glm`` approaches for the saturated model.
    """
    ok = np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    if ok.sum() < 1:
        return math.nan
    w, y = 1 / vi[ok], yi[ok]
    mean = np.sum(w * y) / np.sum(w)
    return max(0.0, float(np.sum(w * (y - mean) ** 2)))


def _result(
    measure: str,
    model: str,
    k: int,
    fit: dict[str, Any],
    q_wald: float,
    q_lrt: float,
    vi: FloatArray,
    level: float,
    n_agq: int | None,
) -> GLMMResult:
    estimate = float(fit["theta"][0])
    se = math.sqrt(fit["vcov"][0, 0]) if fit["vcov"][0, 0] > 0 else math.nan
    tau2 = fit["tau2"] if "tau2" in fit else float(fit["theta"][-1]) ** 2
    statistic = estimate / se
    crit = float(stats.norm.isf((1 - level / 100) / 2))
    q_df = k - 1
    vt = typical_variance(vi)
    q_lrt = max(0.0, q_lrt) if math.isfinite(q_lrt) else math.nan
    return GLMMResult(
        measure=measure,
        model=model,
        k=k,
        estimate=estimate,
        se=se,
        statistic=statistic,
        p=float(2 * stats.norm.sf(abs(statistic))),
        ci_lower=estimate - crit * se,
        ci_upper=estimate + crit * se,
        level=float(level),
        tau2=tau2,
        se_tau2=fit.get("se_tau2", math.nan),
        loglik=fit["loglik"],
        q_wald=q_wald,
        q_wald_p=float(stats.chi2.sf(q_wald, q_df)) if math.isfinite(q_wald) else math.nan,
        q_lrt=q_lrt,
        q_lrt_p=float(stats.chi2.sf(q_lrt, q_df)) if math.isfinite(q_lrt) else math.nan,
        q_df=q_df,
        i2=100 * tau2 / (vt + tau2),
        h2=tau2 / vt + 1,
        n_agq=n_agq,
        converged=fit["converged"],
    )


# --------------------------------------------------------------------------- CM.EL


@dataclass(frozen=True)
class _Tables:
    """2x2 tables conditioned on their margins, their supports laid end to end.

    ``support`` holds the possible values of each table's ``a`` (table ``i`` in rows
    ``starts[i]`` to ``starts[i + 1] - 1``, ``index`` the table of each row), ``base`` the
    log base measure ``log C(n1, x) + log C(n2, m1 - x)`` and ``own`` that of the observed
    ``a``: the log probability of ``a`` under log odds ratio ``t`` is
    ``own + t a - logsumexp(base + t support)`` (Fisher's non-central hypergeometric).
    """

    a: FloatArray
    support: FloatArray
    base: FloatArray
    own: FloatArray
    starts: NDArray[np.intp]
    index: NDArray[np.intp]


def _fnch_tables(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> _Tables:
    n1, n2, m1 = a + b, c + d, a + c
    low, high = np.maximum(0.0, m1 - n2), np.minimum(n1, m1)
    sizes = (high - low).astype(np.intp) + 1
    index = np.repeat(np.arange(len(a)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    support = low[index] + (np.arange(len(index)) - starts[index])
    base = _log_choose(n1[index], support) + _log_choose(n2[index], m1[index] - support)
    own = _log_choose(n1, a) + _log_choose(n2, m1 - a)
    return _Tables(a=a, support=support, base=base, own=own, starts=starts, index=index)


def _segment_logsumexp(values: FloatArray, tables: _Tables) -> FloatArray:
    """``logsumexp`` of each table's rows of ``values`` (shape (M, ...) -> (k, ...))."""
    top = np.maximum.reduceat(values, tables.starts, axis=0)
    total = np.add.reduceat(np.exp(values - top[tables.index]), tables.starts, axis=0)
    return np.asarray(top + np.log(total), dtype=float)


def _log_fnch(tables: _Tables, t: FloatArray) -> FloatArray:
    """Log probability of each observed ``a`` at log odds ratios ``t`` (shape (k, n)).

    As metafor, the log odds ratio is clipped to +/- log(1e12).
    """
    clipped = np.clip(t, -_LOG_OR_CLIP, _LOG_OR_CLIP)
    terms = tables.base[:, None] + clipped[tables.index] * tables.support[:, None]
    return np.asarray(
        tables.own[:, None] + clipped * tables.a[:, None] - _segment_logsumexp(terms, tables),
        dtype=float,
    )


#: Adaptive Gauss-Hermite nodes per table for the CM.EL integrals (the integrands are
#: log-concave; 40 nodes integrate them to ~1e-13, against QUADPACK at 1e-10).
_CMEL_NODES = 40
_GH_X, _GH_W = np.polynomial.hermite.hermgauss(_CMEL_NODES)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _conditional_loglik(params: FloatArray, tables: _Tables) -> float:
    """Marginal log-likelihood of CM.EL at ``(beta, log tau^2)``.

    Each table's ``int f(a; exp(t)) N(t; beta, tau^2) dt`` by adaptive Gauss-Hermite
    quadrature: centred at the mode ``t_i`` of the log integrand ``h`` (Newton's method:
    ``h' = a - E_t[x] - (t - beta)/tau^2``, ``h'' = -Var_t[x] - 1/tau^2``) and scaled by
    ``s_i = (-h''(t_i))^(-1/2)``, ``log I_i = log(sqrt(2) s_i) + log sum_j w_j
    exp(h(t_i + sqrt(2) s_i x_j) + x_j^2)`` (Liu & Pierce 1994).
    """
    beta, log_tau2 = float(params[0]), float(params[1])
    tau2 = math.exp(log_tau2)
    mode = np.full(len(tables.a), beta)
    curvature = np.full(len(tables.a), 1 / tau2)
    x = tables.support
    for _ in range(100):
        clipped = np.clip(mode, -_LOG_OR_CLIP, _LOG_OR_CLIP)
        logits = tables.base + clipped[tables.index] * x
        prob = np.exp(logits - _segment_logsumexp(logits, tables)[tables.index])
        mean = np.add.reduceat(prob * x, tables.starts)
        var = np.maximum(np.add.reduceat(prob * x * x, tables.starts) - mean**2, 0.0)
        curvature = var + 1 / tau2
        step = (tables.a - mean - (mode - beta) / tau2) / curvature
        step = np.clip(step, -5.0, 5.0)
        mode = mode + step
        if np.max(np.abs(step)) <= 1e-12 * (1 + np.max(np.abs(mode))):
            break
    scale = math.sqrt(2) / np.sqrt(curvature)
    nodes = mode[:, None] + scale[:, None] * _GH_X[None, :]
    z = (nodes - beta) / math.sqrt(tau2)
    h = _log_fnch(tables, nodes) - 0.5 * z * z - 0.5 * log_tau2 - _HALF_LOG_2PI
    log_integral = np.log(scale) + special.logsumexp(h + _GH_X**2 + np.log(_GH_W), axis=1)
    return float(np.sum(log_integral))


def _local_hessian(fn, x: FloatArray, step: float = 1e-3) -> FloatArray:
    """Central-difference Hessian with one Richardson step (steps ``h`` and ``h/2``).

    The CM.EL likelihood is integrated to ~1e-13, so steps of 1e-3 and 5e-4 measure its
    curvature to about 1e-8 without amplifying the quadrature error.
    """
    n = len(x)
    f0 = fn(x)

    def at(h: float) -> FloatArray:
        hess = np.empty((n, n))
        for i in range(n):
            e = np.eye(n)[i] * h
            hess[i, i] = (fn(x + e) - 2 * f0 + fn(x - e)) / h**2
            for j in range(i):
                f = np.eye(n)[j] * h
                hess[i, j] = hess[j, i] = (
                    fn(x + e + f) - fn(x + e - f) - fn(x - e + f) + fn(x - e - f)
                ) / (4 * h**2)
        return hess

    return (4 * at(step / 2) - at(step)) / 3


def _fit_conditional(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> dict[str, Any]:
    tables = _fnch_tables(a, b, c, d)

    def fixed_negative(beta: float) -> float:
        return -float(np.sum(_log_fnch(tables, np.full((len(a), 1), beta))))

    beta_fe = optimize.minimize_scalar(fixed_negative, bracket=(-1.0, 1.0), tol=1e-12).x

    def negative(params: FloatArray) -> float:
        return -_conditional_loglik(params, tables)

    start = np.array([beta_fe, math.log(0.01)])
    res = optimize.minimize(
        negative,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 5000, "maxfev": 10000},
    )
    params = res.x
    hess = _local_hessian(negative, params)
    vcov = np.linalg.inv(hess)
    tau2 = math.exp(params[1])
    se_tau2 = math.sqrt(vcov[1, 1]) * tau2 if vcov[1, 1] >= 0 else math.nan
    return {
        "theta": np.array([params[0], math.sqrt(tau2)]),
        "tau2": tau2,
        "se_tau2": se_tau2,
        "loglik": -res.fun,
        "vcov": vcov,
        "converged": bool(res.success),
    }


def _fnch_moments(tables: _Tables, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Mean and variance of each table's ``a`` at log odds ratios ``t`` (shape (k,))."""
    x = tables.support
    clipped = np.clip(t, -_LOG_OR_CLIP, _LOG_OR_CLIP)
    logits = tables.base + clipped[tables.index] * x
    prob = np.exp(logits - _segment_logsumexp(logits, tables)[tables.index])
    mean = np.add.reduceat(prob * x, tables.starts)
    var = np.maximum(np.add.reduceat(prob * x * x, tables.starts) - mean**2, 0.0)
    return mean, var


def _conditional_roots(tables: _Tables, start: FloatArray) -> FloatArray:
    """Solve ``E_t[x] = a`` per table (vectorised Newton on the concave log-likelihood)."""
    t = start.copy()
    for _ in range(200):
        mean, var = _fnch_moments(tables, t)
        step = np.clip((tables.a - mean) / np.maximum(var, 1e-300), -2.0, 2.0)
        t = t + step
        if np.max(np.abs(step)) <= 1e-13 * (1 + np.max(np.abs(t))):
            break
    return t


def _fit_conditional_fixed(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray
) -> tuple[dict[str, Any], float, float]:
    """CM.EL with ``method = "EE"``: the conditional maximum-likelihood common odds ratio.

    ``beta`` solves ``sum (a_i - E_beta[a_i]) = 0`` with variance ``1/sum Var_beta(a_i)``
    (Fisher's non-central hypergeometric moments). Heterogeneity: the likelihood-ratio test
    against study-specific odds ratios ``2 sum (l_i(t_i) - l_i(beta))`` (``t_i`` the
    conditional MLE of table i; a table whose ``a`` is at the end of its support has its
    supremum 0 at ``t = -/+inf``) and the Wald test ``sum w_i (t_i - t_w)^2`` over the
    tables with a finite ``t_i``, ``w_i = Var_{t_i}(a_i)``, ``t_w`` their weighted mean
    (Cochran 1954; metafor 3.8 ``rma.glmm(model = "CM.EL", method = "EE")``).
    """
    tables = _fnch_tables(a, b, c, d)
    beta = float(_conditional_roots_common(tables))
    _, var = _fnch_moments(tables, np.full(len(a), beta))
    info = float(np.sum(var))
    loglik = float(np.sum(_log_fnch(tables, np.full((len(a), 1), beta))))
    low = np.minimum.reduceat(tables.support, tables.starts)
    high = np.maximum.reduceat(tables.support, tables.starts)
    interior = (tables.a > low) & (tables.a < high)
    start = np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5)))
    roots = _conditional_roots(tables, start)
    saturated = np.where(interior, _log_fnch(tables, roots[:, None])[:, 0], 0.0)
    q_lrt = 2 * (float(np.sum(saturated)) - loglik)
    w = _fnch_moments(tables, roots)[1][interior]
    t = roots[interior]
    q_wald = float(np.sum(w * (t - np.sum(w * t) / np.sum(w)) ** 2)) if w.size else math.nan
    fit = {
        "theta": np.array([beta]),
        "tau2": 0.0,
        "loglik": loglik,
        "vcov": np.array([[1 / info]]),
        "converged": True,
    }
    return fit, q_wald, q_lrt


def _conditional_roots_common(tables: _Tables) -> float:
    """Solve ``sum (a_i - E_beta[a_i]) = 0`` for the common log odds ratio (Newton)."""
    beta = 0.0
    for _ in range(200):
        mean, var = _fnch_moments(tables, np.full(len(tables.a), beta))
        step = float(np.clip(np.sum(tables.a - mean) / np.sum(var), -2.0, 2.0))
        beta += step
        if abs(step) <= 1e-14 * (1 + abs(beta)):
            break
    return beta
