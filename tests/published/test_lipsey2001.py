"""Lipsey & Wilson (2001), Practical Meta-Analysis, ch. 7: common-effect and DL fits, an
ANOVA-type analysis, meta-regressions and R^2.

Expected values (Exhibits 7.3-7.7) from metafor 3.8.1's
tests/testthat/test_analysis_example_lipsey2001.r, whose values are those of the older
version (0d03774) to four digits: each is checked both ways, at .tol = .01 (3.8.1) and
rounded (0d03774). Out of scope (tests/published/README.md): the R warning of ``anova``
on the DL fits (the R^2 it returns is checked).
"""

import numpy as np
from _published import assert_rounded, assert_tol

from evidence.stats.prediction import predict
from evidence.stats.uni import fit_uni

Y = np.array([-0.33, 0.32, 0.39, 0.31, 0.17, 0.64, -0.33, 0.15, -0.02, 0.00])
V = np.array([0.084, 0.035, 0.017, 0.034, 0.072, 0.117, 0.102, 0.093, 0.012, 0.067])
RANDOM = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1.0])
INTENSITY = np.array([7, 3, 7, 5, 7, 7, 4, 4, 5, 6.0])


def _both(actual, expected, digits):
    """metafor 3.8.1's ``expect_equivalent(x, value, tolerance = .01)`` and the older
    file's ``round(x, digits) == value`` on the same value."""
    assert_tol(actual, expected)
    assert_rounded(actual, expected, digits)


def _table(fit):
    return np.column_stack(
        [fit.beta, fit.se, fit.statistic, fit.p_value, fit.ci_lower, fit.ci_upper]
    )


def test_common_and_random_effects_models():
    fe = fit_uni(Y, V, method="FE")
    _both(_table(fe).reshape(-1), [0.1549, 0.0609, 2.5450, 0.0109, 0.0356, 0.2742], 4)
    _both(fe.qe, 14.7640, 4)
    _both(fe.qe_p, 0.0976, 4)
    dl = fit_uni(Y, V, method="DL")
    _both(_table(dl).reshape(-1), [0.1534, 0.0858, 1.7893, 0.0736, -0.0146, 0.3215], 4)
    _both(dl.tau2, 0.025955, 6)


def test_anova_type_analysis():
    fit = fit_uni(Y, V, np.column_stack([np.ones(10), RANDOM]), method="FE")
    found = predict(fit, [0, 1])
    rows = np.column_stack([found.pred, found.se, found.ci_lower, found.ci_upper])
    _both(rows[0], [0.2984, 0.0813, 0.1390, 0.4578], 4)
    _both(rows[1], [-0.0277, 0.0917, -0.2075, 0.1521], 4)
    _both(fit.qm, 7.0739, 4)
    _both(fit.qm_p, 0.0078, 4)
    _both(fit.qe, 7.6901, 4)
    _both(fit.qe_p, 0.4643, 4)
    for group, (q, p) in ((0, (6.4382, 0.2659)), (1, (1.2519, 0.7406))):
        sub = fit_uni(Y[RANDOM == group], V[RANDOM == group], method="FE")
        _both(sub.qe, q, 4)
        _both(sub.qe_p, p, 4)


X2 = np.column_stack([np.ones(10), RANDOM, INTENSITY])


def test_common_effect_meta_regression():
    fit = fit_uni(Y, V, X2, method="FE")
    expected = np.array(
        [
            [0.3223, -0.3298, -0.0041],
            [0.2998, 0.1304, 0.0493],
            [1.0752, -2.5286, -0.0829],
            [0.2823, 0.0115, 0.9339],
            [-0.2652, -0.5854, -0.1007],
            [0.9099, -0.0742, 0.0925],
        ]
    ).T
    _both(_table(fit), expected, 4)
    _both(fit.qm, 7.0807, 4)
    _both(fit.qm_p, 0.0290, 4)
    _both(fit.qe, 7.6832, 4)
    _both(fit.qe_p, 0.3614, 4)


def test_mixed_effects_meta_regression_and_r2():
    fit = fit_uni(Y, V, X2, method="DL")
    expected = np.array(
        [
            [0.3311, -0.3269, -0.0068],
            [0.3198, 0.1439, 0.0528],
            [1.0351, -2.2712, -0.1292],
            [0.3006, 0.0231, 0.8972],
            [-0.2958, -0.609, -0.1103],
            [0.9579, -0.0448, 0.0967],
        ]
    ).T
    _both(_table(fit), expected, 4)
    _both(fit.qm, 5.5711, 4)
    _both(fit.qm_p, 0.0617, 4)
    _both(fit.tau2, 0.00488, 5)
    tau2_re = fit_uni(Y, V, method="DL").tau2
    r2 = 100 * (tau2_re - fit.tau2) / tau2_re  # anova(RE, ME)$R2
    assert round(r2, 1) == 81.2
    assert_tol(r2, 81.2023)
