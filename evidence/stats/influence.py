"""Case-deletion influence statistics and Baujat coordinates (metafor ``influence``).

Closed-form functions of the full random-effects fit and the k leave-one-out fits, which
:mod:`evidence.stats.sensitivity` computes as one vectorised batch; nothing here refits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from evidence.stats.pooling import BatchFit
from evidence.stats.results import finite


@dataclass(frozen=True)
class InfluenceRow:
    """Case-deletion diagnostics of one study (metafor ``influence``)."""

    study: str
    rstudent: float
    dffits: float
    cook_d: float
    cov_r: float
    tau2_del: float
    q_del: float
    hat: float
    weight: float
    dfbetas: float
    influential: bool

    def to_dict(self) -> dict[str, Any]:
        """Results-file ``influence`` keys (``dfbetas`` is extra)."""
        data: dict[str, Any] = {"study": self.study}
        for name in (
            "rstudent",
            "dffits",
            "cook_d",
            "cov_r",
            "tau2_del",
            "q_del",
            "hat",
            "weight",
            "dfbetas",
        ):
            data[name] = finite(getattr(self, name))
        data["influential"] = bool(self.influential)
        return data


@dataclass(frozen=True)
class BaujatPoint:
    """One study's Baujat coordinates: contribution to Q (x), influence on the result (y)."""

    study: str
    x: float
    y: float

    def to_dict(self) -> dict[str, Any]:
        """``{"study", "x", "y"}``."""
        return {"study": self.study, "x": finite(self.x), "y": finite(self.y)}


def case_deletion(
    y: np.ndarray,
    v: np.ndarray,
    names: Sequence[str],
    full: BatchFit,
    deleted: BatchFit,
    var_all: np.ndarray | None = None,
) -> tuple[tuple[InfluenceRow, ...], tuple[BaujatPoint, ...]]:
    """Influence statistics and Baujat coordinates of every study.

    With the full fit (``tau2``, ``w_i = 1/(v_i + tau2)``, ``mu``, ``Var(mu)``), the
    deletion fits (``mu_(i)``, ``Var(mu_(i))``, ``tau2_(i)``, Knapp-Hartung scale
    ``s2_(i)``, 1 under z) and ``h_i = w_i / sum w`` (metafor ``influence.rma.uni``):

    - ``rstudent_i = (y_i - mu_(i)) / sqrt(s2_(i) (v_i + tau2_(i)) + Var(mu_(i)))``
    - ``dffits_i = (mu - mu_(i)) / sqrt(s2_(i) h_i (tau2_(i) + v_i))``
    - ``cook_d_i = (mu - mu_(i))^2 / Var(mu)``; ``cov_r_i = Var(mu_(i)) / Var(mu)``
    - ``dfbetas_i = (mu - mu_(i)) / sqrt(s2_(i) / sum_j 1/(v_j + tau2_(i)))``
    - ``tau2_del``, ``q_del`` (Cochran's Q without study i), ``hat = h_i``,
      ``weight = 100 h_i``
    - influential when ``|dffits| > 3 sqrt(p/(k-p))``, ``P(chi2_1 <= cook_d) > 0.5``,
      ``hat > 3p/k`` or ``|dfbetas| > 1`` (metafor's rule, p = 1)
    - Baujat: ``x_i = (y_i - mu)^2 / (tau2 + v_i)``, ``y_i = (mu_(i) - mu)^2 / Var(mu_(i))``.

    Parameters
    ----------
    y, v : ndarray, shape (k,)
        Effect sizes and sampling variances.
    names : sequence of str
        Study labels.
    full : BatchFit
        The fit to all k studies (one row).
    deleted : BatchFit
        The k leave-one-out fits (row i leaves out study i).
    var_all : ndarray (k,), optional
        ``1 / sum_j 1/(v_j + tau2_(i))`` over all k studies when already known (else
        computed here, k x k).

    Returns
    -------
    tuple
        ``(influence rows, Baujat points)`` in input order.

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods 1, 112-125.
    Baujat B, Mahe C, Pignon J-P, Hill C (2002). A graphical method for exploring
    heterogeneity in meta-analyses. Statistics in Medicine 21, 2641-2652.
    """
    k, p = y.size, 1
    tau2 = float(full.tau2[0])
    mu, var_mu = float(full.beta[0, 0]), float(full.covariance[0, 0, 0])
    w = 1 / (v + tau2)
    hat = w / w.sum()
    mu_del = deleted.beta[:, 0]
    var_del = deleted.covariance[:, 0, 0]
    tau2_del = deleted.tau2
    scale = deleted.knha_scale
    change = mu - mu_del
    residual = np.where(np.abs(y - mu_del) < 100 * np.finfo(float).eps, 0.0, y - mu_del)
    rstudent = residual / np.sqrt(v * scale + var_del + tau2_del * scale)
    dffits = change / np.sqrt(scale * hat * (tau2_del + v))
    if var_all is None:
        var_all = 1 / np.sum(1 / (v[None, :] + tau2_del[:, None]), axis=1)
    dfbetas = change / np.sqrt(scale * var_all)
    cook = change**2 / var_mu
    influential = (
        (np.abs(dffits) > 3 * math.sqrt(p / (k - p)))
        | (stats.chi2.cdf(cook, p) > 0.5)
        | (hat > 3 * p / k)
        | (np.abs(dfbetas) > 1)
    )
    q_del = deleted.heterogeneity.q
    influence = tuple(
        InfluenceRow(
            names[i],
            float(rstudent[i]),
            float(dffits[i]),
            float(cook[i]),
            float(var_del[i] / var_mu),
            float(tau2_del[i]),
            float(q_del[i]),
            float(hat[i]),
            float(100 * hat[i]),
            float(dfbetas[i]),
            bool(influential[i]),
        )
        for i in range(k)
    )
    baujat_x = (y - mu) ** 2 / (tau2 + v)
    baujat_y = change**2 / var_del
    points = tuple(BaujatPoint(names[i], float(baujat_x[i]), float(baujat_y[i])) for i in range(k))
    return influence, points
