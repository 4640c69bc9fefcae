"""One mixed-effects meta-regression with what metafor ``rma.uni`` keeps on the fit.

:func:`evidence.stats.pooling.fit_batch` fits many meta-analyses at once and never forms a
k x k matrix. The follow-up functions of metafor (``predict``, ``blup``, ``ranef``,
``confint(type = "PL")``, ``se.tau2``, the generalised-Q and fixed-tau2 fits, ``hc``) work
on one fitted model and need its k x k pieces: :func:`fit_uni` builds them for a single
model, with the tau2 estimator taken from the registry in :mod:`evidence.stats.tau2` (so
its convergence and global-maximum rules are the engine's), plus what the registry cannot
take (user weights for GENQ, a fixed tau2, unweighted estimation).

Public API
----------
``fit_uni(yi, vi, X=None, *, method="REML", test="z", level=95, tau2=None, weights=None,
weighted=True, tau2_init=None) -> UniFit``
    The model ``yi = X beta + u + e``, ``u ~ N(0, tau2)``, ``e ~ N(0, vi)`` as metafor 3.8
    ``rma.uni`` fits it, with ``se_tau2`` (its formula per estimator), Cochran's QE, the
    omnibus QM, I2, H2 and the (restricted) log-likelihood.
``log_likelihood_at(fit, tau2)``
    The ML or REML log-likelihood at another tau2 (profile likelihood).
``SE_TAU2_FORMULAS``
    Which sampling-variance formula metafor uses for ``se.tau2`` under each estimator.
``pseudo_r2(fit)``
    metafor's ``R2`` of a mixed-effects meta-regression (None for a common-effect model,
    an intercept-only model, user weights or a fixed tau2, as metafor leaves it out).

Conventions (metafor 3.8.1 ``rma.uni``):

- ``weights`` (GENQ, or any user weights ``a_i``): ``b = (X'AX)^-1 X'Ay`` with
  ``Var(b) = (X'AX)^-1 X'AMAX (X'AX)^-1``, ``M = diag(vi + tau2)``; ``weighted=False`` is
  the same with ``a_i = 1``.
- ``test="knha"``: ``Var(b)`` times ``s2 = y'Py/(k - p)`` (at ``W = M^-1``), t(k - p).
- ``se.tau2`` (Viechtbauer 2005; metafor's code): ML ``sqrt(2/sum w^2)``, REML
  ``sqrt(2/tr(PP))``; DL/DLIT ``sqrt((2(k-p) + 4 tau2 tr P + 2 tau2^2 tr PP))/tr P`` at
  ``W = V^-1`` (DLIT: at its converged tau2); HS as DL over ``sum(1/vi)``; HSk
  ``k/(k-p)`` times that; HE
  ``sqrt(2 tr(PVPV) + 4 tau2 tr(PV) + 2 tau2^2 (k-p))/(k-p)`` with the OLS P; GENQ
  ``sqrt(2 tr(PVPV) + 4 tau2 tr(PVP) + 2 tau2^2 tr(PP))/tr P`` with ``P`` of ``A``; SJ as
  GENQ scaled by ``tau0/(k - p)`` with ``P`` at ``tau0``; EB, PM, PMM and SJIT
  ``sqrt(2 k^2/(k-p))/sum w`` at ``w = 1/(vi + tau2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.stats.errors import InputError
from evidence.stats.moderators import pseudo_r2 as moderators_r2
from evidence.stats.tau2 import ESTIMATORS, estimate_tau2

__all__ = [
    "SE_TAU2_FORMULAS",
    "UniFit",
    "fit_uni",
    "log_likelihood_at",
    "projection",
    "pseudo_r2",
]

FloatArray = NDArray[np.float64]

#: The estimators fitted here beyond the registry: GENQ needs the user's weights.
WEIGHTED_METHODS = ("GENQ",)

#: Which ``se.tau2`` formula applies to which estimator (see the module docstring).
SE_TAU2_FORMULAS: dict[str, str] = {
    "HS": "HS",
    "HSK": "HSk",
    "HE": "HE",
    "DL": "DL",
    "DLIT": "DLIT",
    "GENQ": "GENQ",
    "SJ": "SJ",
    "ML": "ML",
    "REML": "REML",
    "EB": "EB",
    "PM": "EB",
    "PMM": "EB",
    "SJIT": "EB",
}


@dataclass(frozen=True)
class UniFit:
    """A fitted ``rma.uni`` model (arrays over studies or coefficients).

    Attributes
    ----------
    yi, vi : (k,)
    design : (k, p) design matrix X; ``names`` its column names.
    method, test, level : the fit's options (level as a fraction, e.g. 0.95).
    tau2, se_tau2 : tau^2 and its standard error (None for FE or a fixed tau2).
    tau2_fixed : whether tau2 was given rather than estimated.
    beta, vb, se, statistic, p_value, ci_lower, ci_upper : coefficients and their tests.
    df : residual df ``k - p`` for t tests (None under z); ``crit`` the critical value.
    qe, qe_df, qe_p : Cochran's Q test of residual heterogeneity (at ``w = 1/vi``).
    qm, qm_df, qm_p : omnibus test of the coefficients other than the intercept.
    i2, h2 : residual I2 (percent) and H2; ``typical_variance`` metafor's ``vt``.
    weights : the weights used for ``beta`` (None: ``1/(vi + tau2)``).
    loglik : ML or REML log-likelihood (None for other estimators).
    """

    yi: FloatArray
    vi: FloatArray
    design: FloatArray
    names: tuple[str, ...]
    method: str
    test: str
    level: float
    tau2: float
    se_tau2: float | None
    tau2_fixed: bool
    beta: FloatArray
    vb: FloatArray
    se: FloatArray
    statistic: FloatArray
    p_value: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    df: float | None
    crit: float
    qe: float
    qe_df: float
    qe_p: float
    qm: float | None
    qm_df: float | None
    qm_p: float | None
    i2: float
    h2: float
    typical_variance: float
    weights: FloatArray | None
    loglik: float | None

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.yi)

    @property
    def p(self) -> int:
        """Number of coefficients."""
        return self.design.shape[1]

    @property
    def random(self) -> bool:
        """Whether the model has a random effect (not a common-effect model)."""
        return self.method != "FE"

    @property
    def intercept(self) -> bool:
        """Whether the first column of xm is an intercept."""
        return bool(np.all(self.design[:, 0] == 1.0))

    def fitted(self) -> FloatArray:
        """Fitted values ``xm b`` per study (metafor ``fitted``)."""
        return self.design @ self.beta


def projection(xm: FloatArray, w: FloatArray) -> FloatArray:
    """``P = W - W xm (xm'WX)^-1 xm'W`` for ``W = diag(w)`` (k x k)."""
    wx = xm * w[:, None]
    return np.diag(w) - wx @ np.linalg.solve(xm.T @ wx, wx.T)


def _level(level: float) -> float:
    fraction = level / 100 if level > 1 else level
    if not (math.isfinite(fraction) and 0 < fraction < 1):
        raise InputError(f"confidence level {level!r} is not between 0 and 100", "pool-level")
    return fraction


def _check(yi: ArrayLike, vi: ArrayLike, xm: ArrayLike | None) -> tuple[FloatArray, ...]:
    y = np.asarray(yi, dtype=float).reshape(-1)
    v = np.asarray(vi, dtype=float).reshape(-1)
    if y.shape != v.shape:
        raise InputError(f"{y.size} effect sizes but {v.size} variances", "pool-length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
        raise InputError("effect sizes and variances must be finite", "pool-missing")
    if np.any(v <= 0):
        raise InputError("sampling variances must be positive", "pool-variance")
    design = np.ones((y.size, 1)) if xm is None else np.asarray(xm, dtype=float)
    design = design[:, None] if design.ndim == 1 else design
    if design.shape[0] != y.size:
        raise InputError(f"the design has {design.shape[0]} rows for {y.size} studies", "mods")
    if y.size <= design.shape[1]:
        raise InputError(
            f"{y.size} studies cannot estimate {design.shape[1]} coefficients and tau2",
            "mods-too-few",
        )
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise InputError("the model matrix is not of full rank", "mods-collinear")
    return y, v, design


def _genq_tau2(y: FloatArray, v: FloatArray, xm: FloatArray, a: FloatArray) -> float:
    """GENQ: ``(y'P_A y - tr(P_A V))/tr(P_A)``, truncated at 0 (DerSimonian & Kacker 2007)."""
    proj = projection(xm, a)
    centred = y - y.mean()
    value = (centred @ proj @ centred - np.trace(proj * v[None, :])) / np.trace(proj)
    return max(0.0, float(value))


def _sj_start(y: FloatArray) -> float:
    """Sidik-Jonkman starting value of metafor, ``var(y) (k - 1)/k``."""
    return float(np.mean((y - y.mean()) ** 2))


def _se_tau2(
    method: str, y: FloatArray, v: FloatArray, xm: FloatArray, tau2: float, extra: dict
) -> float | None:
    """``se.tau2`` by metafor's formula for ``method`` (None where it has none)."""
    formula = SE_TAU2_FORMULAS.get(method)
    if formula is None:
        return None
    k, p = xm.shape
    t = max(tau2, 0.0)
    v_mat = np.diag(v)
    if formula in ("HS", "HSk", "DL", "DLIT"):
        # DLIT: metafor keeps the proj of its last iteration, at the converged tau2.
        proj = projection(xm, 1 / (v + t) if formula == "DLIT" else 1 / v)
        core = 2 * (k - p) + 4 * t * np.trace(proj) + 2 * t * t * np.sum(proj * proj)
        scale = np.trace(proj) if formula in ("DL", "DLIT") else np.sum(1 / v)
        value = math.sqrt(core) / scale
        return value * k / (k - p) if formula == "HSk" else value
    if formula == "HE":
        proj = np.eye(k) - xm @ np.linalg.solve(xm.T @ xm, xm.T)
        pv = proj @ v_mat
        core = 2 * np.sum(pv * pv.T) + 4 * t * np.trace(pv) + 2 * t * t * (k - p)
        return math.sqrt(core) / (k - p)
    if formula in ("GENQ", "SJ"):
        weights = extra["weights"] if formula == "GENQ" else 1 / (v + extra["tau2_start"])
        proj = projection(xm, weights)
        pv = proj @ v_mat
        core = 2 * np.sum(pv * pv.T) + 4 * t * np.sum(pv * proj) + 2 * t * t * np.sum(proj * proj)
        if formula == "GENQ":
            return math.sqrt(core) / np.trace(proj)
        return math.sqrt(extra["tau2_start"] ** 2 / (k - p) ** 2 * core)
    w = 1 / (v + tau2)
    if formula == "ML":
        return math.sqrt(2 / np.sum(w * w))
    if formula == "REML":
        proj = projection(xm, w)
        return math.sqrt(2 / np.sum(proj * proj))
    return math.sqrt(2 * k * k / (k - p)) / np.sum(w)


def log_likelihood_at(fit: UniFit, tau2: float, method: str | None = None) -> float:
    """(Restricted) log-likelihood of ``fit``'s data at ``tau2`` (metafor ``logLik``).

    ML ``-k/2 log(2 pi) - 1/2 sum log(vi + tau2) - 1/2 RSS``; REML
    ``-(k-p)/2 log(2 pi) - 1/2 sum log(vi + tau2) - 1/2 log|xm'WX| - 1/2 RSS``
    (metafor 3.8 ``rma.uni``, without its constant ``1/2 log|xm'xm|``, which cancels in
    every likelihood ratio), ``RSS = y'Py`` at ``W = diag(1/(vi + tau2))``.
    """
    kind = method or fit.method
    y, v, xm = fit.yi, fit.vi, fit.design
    k, p = xm.shape
    w = 1 / (v + tau2)
    wx = xm * w[:, None]
    xtwx = xm.T @ wx
    b = np.linalg.solve(xtwx, wx.T @ y)
    rss = float(np.sum(w * (y - xm @ b) ** 2))
    if kind == "ML":
        return -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * rss
    logdet = float(np.linalg.slogdet(xtwx)[1])
    return (
        -0.5 * (k - p) * math.log(2 * math.pi)
        + 0.5 * float(np.linalg.slogdet(xm.T @ xm)[1])
        - 0.5 * float(np.sum(np.log(v + tau2)))
        - 0.5 * logdet
        - 0.5 * rss
    )


def _estimate(
    method: str,
    y: FloatArray,
    v: FloatArray,
    xm: FloatArray,
    weights: FloatArray | None,
    tau2_init: float | None,
) -> tuple[float, dict]:
    """tau2 by ``method`` (registry, GENQ with weights, or SJ from a given start)."""
    extra: dict = {}
    if method == "GENQ":
        if weights is None:
            raise InputError("method GENQ needs weights (metafor: weights=)", "pool-genq-weights")
        extra["weights"] = weights
        return _genq_tau2(y, v, xm, weights), extra
    if method == "SJ":
        start = _sj_start(y) if tau2_init is None else float(tau2_init)
        extra["tau2_start"] = start
        proj = projection(xm, 1 / (v + start))
        centred = y - y.mean()
        return max(0.0, start * float(centred @ proj @ centred) / (len(y) - xm.shape[1])), extra
    if method not in ESTIMATORS:
        known = ", ".join((*ESTIMATORS, *WEIGHTED_METHODS))
        raise InputError(f"unknown tau2 method {method!r}; expected one of {known}", "pool-method")
    design = None if xm.shape[1] == 1 and np.all(xm == 1) else xm
    return float(estimate_tau2(y, v, method, design=design)), extra


def _coefficients(
    y: FloatArray, v: FloatArray, xm: FloatArray, tau2: float, a: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """``b`` and ``Var(b)`` with inverse-variance or user weights (sandwich for the latter)."""
    m = v + tau2
    if a is None:
        w = 1 / m
        wx = xm * w[:, None]
        vb = np.asarray(np.linalg.inv(xm.T @ wx), dtype=float)
        return vb @ (wx.T @ y), vb
    ax = xm * a[:, None]
    bread = np.asarray(np.linalg.inv(xm.T @ ax), dtype=float)
    vb = bread @ (ax.T * m) @ ax @ bread
    return bread @ (ax.T @ y), vb


def _tests(
    y: FloatArray,
    v: FloatArray,
    design: FloatArray,
    t2: float,
    test: str,
    fraction: float,
    beta: FloatArray,
    vb: FloatArray,
) -> dict:
    """se, statistics, p-values, critical value and the omnibus test QM."""
    k, p = design.shape
    w = 1 / (v + t2)
    df = None
    if test == "knha":
        resid = y - design @ beta
        vb = vb * float(np.sum(w * resid**2)) / (k - p)
        df = float(k - p)
    se = np.sqrt(np.diag(vb))
    statistic = beta / se
    if df is None:
        crit = float(stats.norm.ppf(1 - (1 - fraction) / 2))
        p_value = 2 * stats.norm.sf(np.abs(statistic))
    else:
        crit = float(stats.t.ppf(1 - (1 - fraction) / 2, df))
        p_value = 2 * stats.t.sf(np.abs(statistic), df)
    intercept = bool(np.all(design[:, 0] == 1.0))
    tested = list(range(1, p)) if intercept else list(range(p))
    qm = qm_p = qm_df = None
    if tested:
        block = vb[np.ix_(tested, tested)]
        qm = float(beta[tested] @ np.linalg.solve(block, beta[tested]))
        qm_df = float(len(tested))
        if df is None:
            qm_p = float(stats.chi2.sf(qm, qm_df))
        else:
            qm = qm / qm_df
            qm_p = float(stats.f.sf(qm, qm_df, df))
    return {
        "vb": vb,
        "se": se,
        "statistic": statistic,
        "p_value": np.asarray(p_value, dtype=float),
        "ci_lower": beta - crit * se,
        "ci_upper": beta + crit * se,
        "df": df,
        "crit": crit,
        "qm": qm,
        "qm_df": qm_df,
        "qm_p": qm_p,
    }


def _heterogeneity(y: FloatArray, v: FloatArray, design: FloatArray, t2: float, fe: bool) -> dict:
    """Cochran's QE at ``w = 1/vi``, metafor's typical variance ``vt``, I2 and H2."""
    k, p = design.shape
    p_fe = projection(design, 1 / v)
    qe = float(y @ p_fe @ y)
    typical = (k - p) / float(np.trace(p_fe))
    if fe:
        i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
        h2 = qe / (k - p)
    else:
        i2 = 100 * t2 / (typical + t2)
        h2 = t2 / typical + 1
    return {
        "qe": qe,
        "qe_df": float(k - p),
        "qe_p": float(stats.chi2.sf(qe, k - p)),
        "i2": i2,
        "h2": h2,
        "typical_variance": typical,
    }


def fit_uni(
    yi: ArrayLike,
    vi: ArrayLike,
    design: ArrayLike | None = None,
    *,
    names: tuple[str, ...] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2: float | None = None,
    weights: ArrayLike | None = None,
    weighted: bool = True,
    tau2_init: float | None = None,
) -> UniFit:
    """Fit one (mixed-effects) meta-regression as metafor 3.8.1 ``rma.uni``.

    Parameters
    ----------
    yi, vi : array_like (k,)
        Effect sizes and sampling variances (positive).
    design : array_like (k, p), optional
        Design matrix X (default: intercept only).
    names : tuple of str, optional
        Its column names (default ``intrcpt``, ``mod1``, ...).
    method : str
        "FE" (also EE, CE) or a tau2 estimator of :data:`evidence.stats.tau2.ESTIMATORS`,
        or "GENQ" with ``weights`` (generalised Q; DerSimonian & Kacker 2007).
    test : {"z", "knha"}
        Wald z or Knapp-Hartung t(k - p) (not truncated, as metafor ``test="knha"``).
    level : float
        Confidence level (95 or 0.95).
    tau2 : float, optional
        Fix tau2 at this value instead of estimating it (metafor ``rma(tau2 = )``).
    weights : array_like (k,), optional
        User weights for the coefficients (and the GENQ estimator).
    weighted : bool
        False: unweighted estimation (metafor ``weighted = FALSE``), i.e. unit weights.
    tau2_init : float, optional
        Starting value of SJ (metafor ``control = list(tau2.init = )``).

    Returns
    -------
    UniFit
        See the module docstring for the formulas (Viechtbauer 2005, 2010; Knapp &
        Hartung 2003; DerSimonian & Kacker 2007).
    """
    y, v, design = _check(yi, vi, design)
    k, p = design.shape
    method = method.upper()
    method = "FE" if method in ("EE", "CE") else method
    if test not in ("z", "knha"):
        raise InputError(f"unknown test {test!r}; expected z or knha", "pool-test")
    fraction = _level(level)
    user = None if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if user is not None and (user.shape != y.shape or np.any(user <= 0)):
        raise InputError("weights must be positive, one per study", "pool-weights")
    if not weighted and user is None:
        user = np.ones(k)
    extra: dict = {}
    fixed = tau2 is not None and method != "FE"
    if method == "FE":
        t2 = 0.0
    elif tau2 is not None:
        t2 = float(tau2)
    else:
        t2, extra = _estimate(method, y, v, design, user, tau2_init)
    beta, vb = _coefficients(y, v, design, t2, user)
    tests = _tests(y, v, design, t2, test, fraction, beta, vb)
    het = _heterogeneity(y, v, design, t2, method == "FE")
    se_tau2 = None
    if method != "FE" and not fixed:
        se_tau2 = _se_tau2(method, y, v, design, t2, extra)
    fit = UniFit(
        yi=y,
        vi=v,
        design=design,
        names=names or tuple(["intrcpt"] + [f"mod{j}" for j in range(1, p)]),
        method=method,
        test=test,
        level=fraction,
        tau2=t2,
        se_tau2=se_tau2,
        tau2_fixed=fixed,
        beta=beta,
        weights=user,
        loglik=None,
        **tests,
        **het,
    )
    if method in ("ML", "REML"):
        object.__setattr__(fit, "loglik", log_likelihood_at(fit, t2))
    return fit


def pseudo_r2(fit: UniFit) -> float | None:
    """Proportion of heterogeneity accounted for by the moderators, in percent.

    ``R2 = max(0, 100 (tau2_RE - tau2_ME)/tau2_RE)``, ``tau2_RE`` from the intercept-only
    model with the same estimator (Raudenbush 2009; metafor 3.8 ``rma.uni`` ``R2``), via
    :func:`evidence.stats.moderators.pseudo_r2`. None where metafor gives none: common-effect
    models, models without moderators or without an intercept, user weights (GENQ) and a
    fixed tau2.
    """
    if not fit.random or fit.p == 1 or not fit.intercept or fit.weights is not None:
        return None
    if fit.tau2_fixed or fit.method not in ESTIMATORS:
        return None
    return moderators_r2(fit.yi, fit.vi, fit.design, fit.method, fit.tau2, fit.beta)
