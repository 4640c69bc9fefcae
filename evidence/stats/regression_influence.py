"""Case-deletion diagnostics of one meta-regression, as metafor 3.8.1 ``influence.rma.uni``.

:mod:`evidence.stats.sensitivity` covers intercept-only models as one vectorised batch; this
module covers any :class:`evidence.stats.uni.UniFit` (moderators, any tau2 estimator, z or
Knapp-Hartung) by refitting it without each study in turn.

Public API
----------
``regression_influence(fit, labels=None) -> RegressionInfluence``
    With the full fit (``b``, ``Var(b)``, ``W = diag(1/(v_i + tau2))``) and the fit without
    study ``i`` (``b_(i)``, ``Var(b_(i))``, ``tau2_(i)``, Knapp-Hartung scale ``s2_(i)``,
    1 under z):

    - ``hat_i = w_i x_i' (X'WX)^-1 x_i``, ``weight_i = 100 w_i/sum w``;
    - ``rstudent_i = (y_i - x_i'b_(i))/sqrt(s2_(i) (v_i + tau2_(i)) + x_i' Var(b_(i)) x_i)``;
    - ``dffits_i = (x_i'b - x_i'b_(i))/sqrt(s2_(i) hat_i (tau2_(i) + v_i))``;
    - ``cook_d_i = (b - b_(i))' Var(b)^-1 (b - b_(i))``;
      ``cov_r_i = det Var(b_(i))/det Var(b)``;
    - ``dfbetas_ij = (b_j - b_(i)j)/sqrt(s2_(i) [(X'W_(i)X)^-1]_jj)`` with
      ``W_(i) = diag(1/(v + tau2_(i)))`` over all k studies;
    - ``tau2_del``, ``qe_del`` (Cochran's QE without study i);
    - influential when ``|dffits| > 3 sqrt(p/(k - p))``, ``P(chi2_p <= cook_d) > 0.5``,
      ``hat > 3p/k`` or any ``|dfbetas| > 1`` (metafor's rule).

    Also the leave-one-out refits themselves (coefficients and se, tau2, QE, QM and its
    p-value without each study), which metafor 3.8.1 ``leave1out`` refuses for models with
    moderators but ``influence`` computes.

References
----------
Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for meta-analysis.
Research Synthesis Methods 1, 112-125.
Belsley DA, Kuh E, Welsch RE (1980). Regression diagnostics. Wiley.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from evidence.stats.errors import InputError
from evidence.stats.results import finite
from evidence.stats.uni import UniFit, fit_uni

__all__ = ["RegressionInfluence", "regression_influence"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RegressionInfluence:
    """Case-deletion diagnostics per study (arrays over studies; ``(k, p)`` per coefficient)."""

    labels: tuple[str, ...]
    names: tuple[str, ...]
    rstudent: FloatArray
    dffits: FloatArray
    cook_d: FloatArray
    cov_r: FloatArray
    tau2_del: FloatArray
    qe_del: FloatArray
    hat: FloatArray
    weight: FloatArray
    dfbetas: FloatArray
    influential: NDArray[np.bool_]
    loo_beta: FloatArray
    loo_se: FloatArray
    loo_qm: FloatArray
    loo_qm_p: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """``{"influence": [...], "leave_one_out": [...]}``, one row per study."""
        influence = []
        leave_one_out = []
        for i, label in enumerate(self.labels):
            influence.append(
                {
                    "study": label,
                    "rstudent": finite(self.rstudent[i]),
                    "dffits": finite(self.dffits[i]),
                    "cook_d": finite(self.cook_d[i]),
                    "cov_r": finite(self.cov_r[i]),
                    "tau2_del": finite(self.tau2_del[i]),
                    "q_del": finite(self.qe_del[i]),
                    "hat": finite(self.hat[i]),
                    "weight": finite(self.weight[i]),
                    "dfbetas": {
                        name: finite(self.dfbetas[i, j]) for j, name in enumerate(self.names)
                    },
                    "influential": bool(self.influential[i]),
                }
            )
            leave_one_out.append(
                {
                    "study": label,
                    "coefficients": [
                        {
                            "name": name,
                            "estimate": finite(self.loo_beta[i, j]),
                            "se": finite(self.loo_se[i, j]),
                        }
                        for j, name in enumerate(self.names)
                    ],
                    "tau2": finite(self.tau2_del[i]),
                    "qe": finite(self.qe_del[i]),
                    "qm": finite(self.loo_qm[i]),
                    "qm_p": finite(self.loo_qm_p[i]),
                }
            )
        return {"influence": influence, "leave_one_out": leave_one_out}


def _knha_scale(fit: UniFit) -> float:
    """``s2 = sum w (y - Xb)^2/(k - p)`` under Knapp-Hartung, 1 under z."""
    if fit.test != "knha":
        return 1.0
    w = 1 / (fit.vi + fit.tau2)
    residual = fit.yi - fit.design @ fit.beta
    return float(np.sum(w * residual**2)) / (fit.k - fit.p)


def _refit(fit: UniFit, keep: NDArray[np.bool_]) -> UniFit:
    return fit_uni(
        fit.yi[keep],
        fit.vi[keep],
        fit.design[keep],
        names=fit.names,
        method=fit.method,
        test=fit.test,
        level=fit.level,
        tau2=fit.tau2 if fit.tau2_fixed else None,
    )


def regression_influence(fit: UniFit, labels: Sequence[str] | None = None) -> RegressionInfluence:
    """Case-deletion diagnostics of ``fit`` (module docstring; metafor ``influence``)."""
    if fit.weights is not None:
        raise InputError(
            "influence diagnostics of models with user weights (GENQ, unweighted) are not offered",
            "influence-weights",
        )
    k, p = fit.k, fit.p
    if k - 1 <= p:
        raise InputError(
            f"{k} studies leave too few to refit {p} coefficients without one of them",
            "influence-too-few",
        )
    names = tuple(labels) if labels is not None else tuple(str(i + 1) for i in range(k))
    x, y, v = fit.design, fit.yi, fit.vi
    w = 1 / (v + fit.tau2)
    xtwx_inv = np.linalg.inv(x.T @ (x * w[:, None]))
    hat = w * np.einsum("ij,jk,ik->i", x, xtwx_inv, x)
    vb_inv = np.linalg.inv(fit.vb)
    det_vb = float(np.linalg.det(fit.vb))
    shape = (k,)
    rstudent, dffits, cook, cov_r = (np.empty(shape) for _ in range(4))
    tau2_del, qe_del, qm, qm_p = (np.empty(shape) for _ in range(4))
    loo_beta, loo_se, dfbetas = np.empty((k, p)), np.empty((k, p)), np.empty((k, p))
    for i in range(k):
        keep = np.arange(k) != i
        deleted = _refit(fit, keep)
        s2 = _knha_scale(deleted)
        change = fit.beta - deleted.beta
        xi = x[i]
        residual = y[i] - xi @ deleted.beta
        rstudent[i] = residual / math.sqrt(s2 * (v[i] + deleted.tau2) + float(xi @ deleted.vb @ xi))
        dffits[i] = float(xi @ change) / math.sqrt(s2 * hat[i] * (deleted.tau2 + v[i]))
        cook[i] = float(change @ vb_inv @ change)
        cov_r[i] = float(np.linalg.det(deleted.vb)) / det_vb
        w_del = 1 / (v + deleted.tau2)
        var_all = np.diag(np.linalg.inv(x.T @ (x * w_del[:, None])))
        dfbetas[i] = change / np.sqrt(s2 * var_all)
        tau2_del[i], qe_del[i] = deleted.tau2, deleted.qe
        loo_beta[i], loo_se[i] = deleted.beta, deleted.se
        qm[i] = math.nan if deleted.qm is None else deleted.qm
        qm_p[i] = math.nan if deleted.qm_p is None else deleted.qm_p
    influential = (
        (np.abs(dffits) > 3 * math.sqrt(p / (k - p)))
        | (stats.chi2.cdf(cook, p) > 0.5)
        | (hat > 3 * p / k)
        | np.any(np.abs(dfbetas) > 1, axis=1)
    )
    return RegressionInfluence(
        labels=names,
        names=fit.names,
        rstudent=rstudent,
        dffits=dffits,
        cook_d=cook,
        cov_r=cov_r,
        tau2_del=tau2_del,
        qe_del=qe_del,
        hat=hat,
        weight=100 * w / np.sum(w),
        dfbetas=dfbetas,
        influential=influential,
        loo_beta=loo_beta,
        loo_se=loo_se,
        loo_qm=qm,
        loo_qm_p=qm_p,
    )
