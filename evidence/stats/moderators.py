"""Subgroup analyses and mixed-effects meta-regression (metafor 3.8 conventions).

Public API
----------
``meta_regression(yi, vi, mods, *, method="REML", test="z", level=95, intercept=True,
labels=None) -> MetaRegressionResult``
    ``mods`` is a dict ``{name: values}`` (numeric values are used as they are; text or
    boolean values become dummy variables against their first sorted level, named
    ``<name><level>`` as R does), or an array (k,) / (k, m) of numeric moderators
    (named ``mod1``, ``mod2``, ...). Coefficients in model order, intercept first; the
    omnibus test of every coefficient except the intercept (QM, chi-square with m df
    under z, F(m, k - p) under knha, where metafor reports QM/m); pseudo-R^2 as metafor
    (``100 max(0, (tau2_RE - tau2_ME) / tau2_RE)``, the adjusted weighted R^2 of ``lm``
    for a common-effect model); residual tau2, I2, H2 and QE.
``subgroups(yi, vi, groups, *, method="REML", test="z", level=95, measure=None)
-> SubgroupResult``
    A separate fit per level (sorted), then the test for subgroup differences: Cochran's
    Q over the subgroup estimates with their standard errors (a common-effect ``rma`` on
    the subgroup estimates, metafor's recommended "separate tau2" approach), with
    ``levels - 1`` df. The common-tau2 alternative is ``meta_regression`` with the
    grouping as a text moderator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.stats.errors import InputError
from evidence.stats.pooling import check_inputs, fit_batch, pool
from evidence.stats.results import Coefficient, MetaRegressionResult, PooledResult, SubgroupResult
from evidence.stats.transforms import ArrayFunction

__all__ = ["design_matrix", "meta_regression", "subgroups"]


def _is_numeric(values: NDArray) -> bool:
    return values.dtype.kind in "iuf"


def design_matrix(
    mods: Mapping[str, ArrayLike] | ArrayLike, k: int, intercept: bool = True
) -> tuple[NDArray[np.float64], list[str]]:
    """Build the model matrix and its column names from moderators.

    Numeric moderators enter as they are; text/boolean ones as treatment-coded dummies
    against the first sorted level (R's ``factor`` default), named ``<name><level>``.

    Parameters
    ----------
    mods : dict or array_like
        ``{name: values}``, or a numeric array (k,) or (k, m).
    k : int
        Number of studies (rows).
    intercept : bool
        Prepend a column of ones named ``intrcpt`` (metafor's name).
    """
    columns: list[NDArray[np.float64]] = []
    names: list[str] = []
    if isinstance(mods, Mapping):
        items = list(mods.items())
    else:
        array = np.asarray(mods, dtype=float)
        array = array[:, None] if array.ndim == 1 else array
        items = [(f"mod{j + 1}", array[:, j]) for j in range(array.shape[1])]
    for name, raw in items:
        values = np.asarray(raw)
        if values.shape != (k,):
            raise InputError(
                f"moderator {name!r} has {values.size} values for {k} studies", "mods-length"
            )
        if _is_numeric(values):
            columns.append(values.astype(float))
            names.append(str(name))
            continue
        text = values.astype(str)
        levels = sorted(set(text))
        if len(levels) < 2:
            # metafor (R model.matrix) refuses too: contrasts need two or more levels.
            raise InputError(
                f"moderator {name!r} has a single level ({str(levels[0])!r}) in these studies, "
                "so it cannot explain any difference",
                "mods-one-level",
            )
        for level in levels[1:]:
            columns.append((text == level).astype(float))
            names.append(f"{name}{level}")
    if intercept:
        columns.insert(0, np.ones(k))
        names.insert(0, "intrcpt")
    if not columns:
        raise InputError("the model has no coefficients", "mods-empty")
    return np.column_stack(columns), names


def _check_design(design: NDArray[np.float64], names: list[str]) -> None:
    k, p = design.shape
    if not np.all(np.isfinite(design)):
        rows = sorted({int(i) + 1 for i in np.argwhere(~np.isfinite(design))[:, 0]})
        raise InputError(f"moderator values are missing in rows {rows}", "mods-missing")
    if k <= p:
        raise InputError(
            f"{k} studies cannot estimate {p} coefficients ({', '.join(names)}) plus "
            "residual heterogeneity",
            "mods-too-few",
        )
    if np.linalg.matrix_rank(design) < p:
        raise InputError(
            f"the moderators are collinear ({', '.join(names)}); the model matrix is "
            "not of full rank",
            "mods-collinear",
        )


def pseudo_r2(
    y: NDArray, v: NDArray, design: NDArray, method: str, tau2: float, beta: NDArray
) -> float:
    """Pseudo-R^2 as metafor (``r2def="1"``), or adjusted weighted R^2 for FE.

    ``R2 = max(0, 100 (tau2_RE - tau2_ME)/tau2_RE)`` with ``tau2_RE`` of the
    intercept-only model fitted by the same estimator (Raudenbush 2009; metafor 3.8
    ``rma.uni``); 0 when ``tau2_RE = 0``.
    """
    if method == "FE":
        if np.var(y) == 0:
            return 0.0
        w = 1 / v
        fitted = design @ beta
        mean = np.sum(w * y) / np.sum(w)
        residual_ss = np.sum(w * (y - fitted) ** 2)
        total_ss = np.sum(w * (y - mean) ** 2)
        k, p = design.shape
        adjusted = 1 - (residual_ss / total_ss) * (k - 1) / (k - p)
        return max(0.0, 100 * adjusted)
    tau2_random = float(fit_batch(y, v, method=method).tau2[0])
    if tau2_random == 0:
        return 0.0
    return max(0.0, 100 * (tau2_random - tau2) / tau2_random)


def meta_regression(
    yi: ArrayLike,
    vi: ArrayLike,
    mods: Mapping[str, ArrayLike] | ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    intercept: bool = True,
    labels: Sequence[str] | None = None,
) -> MetaRegressionResult:
    """Fit a mixed-effects meta-regression ``yi = X beta + u + e`` (metafor ``rma(mods=)``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    mods : dict or array_like
        Moderators (see :func:`design_matrix`).
    method : str
        "FE" or a tau2 estimator (DL, HE, HS, SJ, PM, EB, ML, REML), on the residuals.
    test : {"z", "knha", "adhoc"}
        Wald z / chi-square, or Knapp-Hartung t(k - p) / F(m, k - p) (``adhoc``: its
        scale factor truncated below at 1, as metafor).
    level : float
        Confidence level (95 or 0.95).
    intercept : bool
        Include an intercept (first coefficient).
    labels : sequence of str, optional
        Row labels for problem messages.

    Returns
    -------
    MetaRegressionResult
        ``b = (X'WX)^-1 X'Wy``, ``QM = b_m' Var(b_m)^-1 b_m`` (divided by m under knha),
        ``R2 = 100 max(0, (tau2_0 - tau2)/tau2_0)`` (Raudenbush 2009; Viechtbauer 2010;
        Knapp & Hartung 2003).
    """
    y, v, _kept, _ = check_inputs(yi, vi, labels=labels)
    design, names = design_matrix(mods, len(y), intercept)
    _check_design(design, names)
    fit = fit_batch(y, v, design=design, method=method, test=test, level=level)
    method_name = method.upper() if method.upper() not in ("EE", "CE") else "FE"
    tested = list(range(1, len(names))) if intercept else list(range(len(names)))
    beta, covariance = fit.beta[0], fit.covariance[0]
    qm = qm_p = qm_df2 = None
    notes: list[str] = []
    zero_scale = test == "knha" and float(fit.knha_scale[0]) == 0.0
    if zero_scale:
        notes.append(
            "Knapp-Hartung scale factor s2 = 0 (the model fits the effects exactly): every "
            "se is 0, confidence intervals have zero width and the omnibus test QM is "
            "undefined, as metafor test='knha' gives; the modified Knapp-Hartung method "
            "(test='adhoc') avoids this"
        )
    t_based = test in ("knha", "adhoc")
    if tested:
        m = len(tested)
        if t_based:
            qm_df2 = float(fit.df[0])
        if not zero_scale:
            b = beta[tested]
            block = covariance[np.ix_(tested, tested)]
            qm = float(b @ np.linalg.solve(block, b))
            if t_based:
                qm = qm / m
                qm_p = float(stats.f.sf(qm, m, qm_df2))
            else:
                qm_p = float(stats.chi2.sf(qm, m))
    coefficients = tuple(
        Coefficient(
            name,
            float(beta[j]),
            float(fit.se[0, j]),
            float(fit.statistic[0, j]),
            float(fit.p_value[0, j]),
            (float(fit.ci_lower[0, j]), float(fit.ci_upper[0, j])),
        )
        for j, name in enumerate(names)
    )
    tau2 = float(fit.tau2[0])
    r2 = pseudo_r2(y, v, design, method_name, tau2, beta) if intercept and tested else None
    het = fit.heterogeneity
    return MetaRegressionResult(
        k=len(y),
        method=method_name,
        test=test,
        coefficients=coefficients,
        qm=qm,
        qm_df=float(len(tested)) if tested else None,
        qm_df_denominator=qm_df2,
        qm_p=qm_p,
        r2=r2,
        tau2=tau2,
        i2=float(het.i2[0]),
        h2=float(het.h2[0]),
        qe=float(het.q[0]),
        qe_df=float(het.q_df[0]),
        qe_p=float(het.q_p[0]),
        notes=tuple(notes),
    )


def subgroups(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: Sequence[object] | ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    measure: str | None = None,
    labels: Sequence[str] | None = None,
    transform: str | ArrayFunction | None = None,
) -> SubgroupResult:
    """Pool each subgroup separately and test whether the subgroup estimates differ.

    Each level is fitted on its own, as :func:`evidence.stats.pooling.pool` with the same
    ``method`` and ``test`` (a one-study level is the study itself, with se ``sqrt(vi)``
    and a z interval, as metafor's ``rma``). The test for subgroup differences is
    ``Q_between = sum_g w_g (b_g - b_w)^2`` with ``w_g = 1/se_g^2`` and
    ``b_w = sum w_g b_g / sum w_g``, chi-square with ``G - 1`` df: metafor's "separate
    tau2" convention, ``rma(estimate, sei = se, method = "FE")`` on the separate fits
    (Borenstein et al. 2009, Introduction to Meta-Analysis, ch. 19; Cochrane Handbook
    10.11.3.1). The standard errors are those of the fits as asked for, so under plain
    ``knha`` a level whose scale factor s2 < 1 has a standard error below its model-based
    one and weighs more (a note names it); ``adhoc`` truncates s2 at 1.

    Beside it, ``moderator_test`` is metafor's other route: one meta-regression with the
    level as a factor (a common tau2) and its omnibus test under the same ``test``
    (chi-square QM under z, F(G - 1, k - G) under knha/adhoc), as
    ``rma(yi, vi, mods = ~ factor(group), test = ...)``. With few studies the two can
    disagree, and a note says so when one is below 0.05 and the other is not.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    groups : sequence
        Subgroup label of each study (compared as text, sorted).
    method, test, level, measure :
        As for :func:`evidence.stats.pooling.pool`, applied within each subgroup.
    labels : sequence of str, optional
        Row labels for problem messages.
    transform : str, optional
        Back-transformation name for each subgroup (see :func:`evidence.stats.pooling.pool`).
    """
    y, v, _kept, _ = check_inputs(yi, vi, labels=labels)
    text = np.asarray(groups).astype(str)
    if text.shape != y.shape:
        raise InputError(f"{text.size} group labels for {y.size} studies", "subgroup-length")
    results: dict[str, PooledResult] = {}
    for level_name in sorted(set(text)):
        chosen = text == level_name
        results[level_name] = pool(
            y[chosen],
            v[chosen],
            method=method,
            test=test,
            level=level,
            measure=measure,
            transform=transform,
        )
    notes = _shrunk_levels(results, y, v, text) if test == "knha" else []
    estimates = np.array([r.estimate for r in results.values()], dtype=float)
    errors = np.array([np.nan if r.se is None else r.se for r in results.values()])
    usable = np.isfinite(estimates) & np.isfinite(errors) & (errors > 0)
    left_out = [name for name, ok in zip(results, usable, strict=True) if not ok]
    if left_out:
        notes.append(
            "left out of the test of differences (no positive, finite standard "
            f"error): {', '.join(left_out)}"
        )
    moderator = _moderator_test(y, v, text, method, test, level)
    if usable.sum() < 2:
        notes.append("fewer than two subgroups with an estimate: no test of differences")
        return SubgroupResult(results, None, None, None, tuple(notes), moderator)
    w = 1 / errors[usable] ** 2
    b = estimates[usable]
    q = float(np.sum(w * (b - np.sum(w * b) / np.sum(w)) ** 2))
    df = float(usable.sum() - 1)
    q_p = float(stats.chi2.sf(q, df))
    if (
        moderator is not None
        and moderator["p"] is not None
        and (q_p < 0.05) != (moderator["p"] < 0.05)
    ):
        name = "F" if moderator["df_denominator"] is not None else "QM"
        denominator = moderator["df_denominator"]
        dfs = f"{moderator['df']:g}" + ("" if denominator is None else f", {denominator:g}")
        notes.append(
            f"the test of subgroup differences over separate fits (Q = {q:.4g}, df = {df:g}, "
            f"p = {q_p:.2g}) and the moderator test of one model with a common tau2 "
            f"({name}({dfs}) = {moderator['statistic']:.4g}, p = {moderator['p']:.2g}) "
            "disagree at the 5% level: with few studies per subgroup the difference is "
            "uncertain"
        )
    return SubgroupResult(results, q, df, q_p, tuple(notes), moderator)


def _shrunk_levels(
    results: Mapping[str, PooledResult], y: NDArray, v: NDArray, text: NDArray
) -> list[str]:
    """Name levels whose Knapp-Hartung se is below the model-based se (s2 < 1)."""
    shrunk = []
    for name, result in results.items():
        if result.test != "knha" or result.se is None or result.tau2 is None:
            continue
        chosen = text == name
        model_se = float(np.sqrt(1 / np.sum(1 / (v[chosen] + result.tau2))))
        if result.se < model_se * (1 - 1e-9):
            shrunk.append(
                f"{name} (se {result.se:.4g}, model-based {model_se:.4g}, "
                f"s2 = {(result.se / model_se) ** 2:.3g})"
            )
    if not shrunk:
        return []
    return [
        "Knapp-Hartung standard errors below the model-based ones (scale factor s2 < 1) "
        f"give these subgroups more weight in the test of differences: {'; '.join(shrunk)}; "
        "the modified Knapp-Hartung method (test 'adhoc') truncates s2 at 1"
    ]


def _moderator_test(
    y: NDArray, v: NDArray, text: NDArray, method: str, test: str, level: float
) -> dict[str, Any] | None:
    """Return the omnibus test of the level as a factor in one meta-regression, or None."""
    try:
        fit = meta_regression(y, v, {"group": text}, method=method, test=test, level=level)
    except InputError:
        return None
    return {
        "method": fit.method,
        "test": fit.test,
        "statistic": fit.qm,
        "df": fit.qm_df,
        "df_denominator": fit.qm_df_denominator,
        "p": fit.qm_p,
        "tau2": fit.tau2,
    }
