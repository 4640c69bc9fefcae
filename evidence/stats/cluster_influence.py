"""Cluster-wise deletion diagnostics of a three-level model (metafor 3.8.1 ``rma.mv``).

For ``rma.mv(yi, vi, random = ~ 1 | cluster/effect)`` (:func:`evidence.stats.dependence.
three_level`), each cluster (study, cohort) in turn is left out and the model refitted,
variance components included (metafor's ``reestimate = TRUE``), as metafor's
``cooks.distance``, ``dfbetas`` and ``rstudent`` with ``cluster =`` do.

Public API
----------
``cluster_deletion(yi, vi, cluster, moderators=None, names=None, level=0.95)
-> ClusterDeletion``
    With the full fit (``b``, ``Var(b)``) and the fit without cluster ``c`` (``b_(c)``,
    ``Var(b_(c))``, ``sigma2_(c)``):

    - ``cook_d_c = (b - b_(c))' Var(b)^-1 (b - b_(c))``;
    - ``dfbetas_cj = (b_j - b_(c)j)/sqrt([(X'M_(c)^-1 X)^-1]_jj)``, ``M_(c)`` the marginal
      covariance of all effects at the variance components ``sigma2_(c)``;
    - deleted residuals ``e_c = y_c - X_c b_(c)`` with covariance
      ``S_c = V_c + sigma2_between,(c) 11' + sigma2_within,(c) I + X_c Var(b_(c)) X_c'``:
      per effect ``z = e/sqrt(diag S_c)`` (``rstudent``), per cluster
      ``X2_c = e_c' S_c^-1 e_c`` on ``k_c`` (the cluster's number of effects) df;
    - the refits: coefficients, se, CI and both variance components without each cluster
      (the leave-one-cluster-out table).

References
----------
Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for meta-analysis.
Research Synthesis Methods 1, 112-125.
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods 2, 61-76.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.stats.dependence import ThreeLevelResult, three_level
from evidence.stats.errors import InputError
from evidence.stats.multilevel import gls, weight_blocks
from evidence.stats.results import finite

__all__ = ["ClusterDeletion", "cluster_deletion"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ClusterDeletion:
    """Deletion diagnostics per cluster (and deleted residuals per effect)."""

    clusters: tuple[str, ...]
    names: tuple[str, ...]
    cook_d: FloatArray
    dfbetas: FloatArray
    x2: FloatArray
    x2_df: NDArray[np.int64]
    x2_p: FloatArray
    residual: FloatArray
    residual_se: FloatArray
    rstudent: FloatArray
    beta: FloatArray
    se: FloatArray
    ci_lower: FloatArray
    ci_upper: FloatArray
    sigma2: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """``{"clusters": [...], "effects": [...]}`` (one row per cluster, per effect)."""
        rows = []
        for c, label in enumerate(self.clusters):
            rows.append(
                {
                    "cluster": label,
                    "cook_d": finite(self.cook_d[c]),
                    "dfbetas": {n: finite(self.dfbetas[c, j]) for j, n in enumerate(self.names)},
                    "x2": finite(self.x2[c]),
                    "x2_df": int(self.x2_df[c]),
                    "x2_p": finite(self.x2_p[c]),
                    "estimate": finite(self.beta[c, 0]),
                    "se": finite(self.se[c, 0]),
                    "ci": [finite(self.ci_lower[c, 0]), finite(self.ci_upper[c, 0])],
                    "sigma2": [finite(self.sigma2[c, 0]), finite(self.sigma2[c, 1])],
                    "coefficients": [
                        {
                            "name": n,
                            "estimate": finite(self.beta[c, j]),
                            "se": finite(self.se[c, j]),
                        }
                        for j, n in enumerate(self.names)
                    ],
                }
            )
        effects = [
            {
                "residual": finite(self.residual[i]),
                "se": finite(self.residual_se[i]),
                "rstudent": finite(self.rstudent[i]),
            }
            for i in range(len(self.residual))
        ]
        return {"clusters": rows, "effects": effects}


def cluster_deletion(
    yi: ArrayLike,
    vi: ArrayLike,
    cluster: ArrayLike,
    moderators: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    level: float = 0.95,
) -> ClusterDeletion:
    """Leave each cluster out of the three-level model in turn (module docstring)."""
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    labels = np.asarray([str(c) for c in np.asarray(cluster, dtype=object).ravel()])
    mods = None if moderators is None else np.asarray(moderators, dtype=float)
    if mods is not None and mods.ndim == 1:
        mods = mods[:, None]
    chosen = None if names is None else tuple(names)
    full = three_level(y, v, labels, mods, chosen, level)
    order = full.blocks.labels
    if len(order) < 3:
        raise InputError(
            "cluster-wise deletion needs at least three clusters (two remain in each refit)",
            "influence-too-few",
        )
    p = len(full.names)
    m = len(order)
    design = np.column_stack([np.ones(y.size), mods]) if mods is not None else np.ones((y.size, 1))
    vb_inv = np.linalg.inv(full.vcov)
    cook, x2 = np.empty(m), np.empty(m)
    x2_df = np.empty(m, dtype=np.int64)
    dfbetas, beta, se = np.empty((m, p)), np.empty((m, p)), np.empty((m, p))
    lower, upper = np.empty((m, p)), np.empty((m, p))
    sigma2 = np.empty((m, 2))
    residual, residual_se = np.empty(y.size), np.empty(y.size)
    for c, label in enumerate(order):
        inside = labels == label
        deleted = _refit(y, v, labels, mods, chosen, level, ~inside)
        change = full.coefficients - deleted.coefficients
        cook[c] = float(change @ vb_inv @ change)
        weights, _ = weight_blocks(full.blocks, *deleted.sigma2)
        dfbetas[c] = change / np.sqrt(np.diag(gls(full.blocks, weights)[1]))
        beta[c], se[c] = deleted.coefficients, deleted.se
        lower[c], upper[c] = deleted.ci_lower, deleted.ci_upper
        sigma2[c] = deleted.sigma2
        xc = design[inside]
        e = y[inside] - xc @ deleted.coefficients
        between, within = deleted.sigma2
        size = int(inside.sum())
        cov = (
            np.diag(v[inside] + within) + between * np.ones((size, size)) + xc @ deleted.vcov @ xc.T
        )
        residual[inside] = e
        residual_se[inside] = np.sqrt(np.diag(cov))
        x2[c] = float(e @ np.linalg.solve(cov, e))
        x2_df[c] = size
    return ClusterDeletion(
        clusters=order,
        names=full.names,
        cook_d=cook,
        dfbetas=dfbetas,
        x2=x2,
        x2_df=x2_df,
        x2_p=stats.chi2.sf(x2, x2_df),
        residual=residual,
        residual_se=residual_se,
        rstudent=residual / residual_se,
        beta=beta,
        se=se,
        ci_lower=lower,
        ci_upper=upper,
        sigma2=sigma2,
    )


def _refit(
    y: FloatArray,
    v: FloatArray,
    labels: NDArray[np.str_],
    mods: FloatArray | None,
    names: tuple[str, ...] | None,
    level: float,
    keep: NDArray[np.bool_],
) -> ThreeLevelResult:
    return three_level(
        y[keep], v[keep], labels[keep], None if mods is None else mods[keep], names, level
    )
