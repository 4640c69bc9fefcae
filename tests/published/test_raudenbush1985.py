"""Raudenbush (1984/1985): teacher expectancy and pupil IQ (dat.raudenbush1985); random-
and mixed-effects models with empirical Bayes estimates (BLUPs), random effects and fitted
values.

Expected values (pages 83-92, Figure 2) from metafor's
tests/testthat/test_analysis_example_raudenbush1985.r. Its profile and scatter plots
(image comparisons) are out of scope (tests/published/README.md).
"""

import numpy as np
from _published import assert_tol, metadat

from evidence.stats.prediction import blup, predict, ranef
from evidence.stats.uni import fit_uni

D = metadat("raudenbush1985")


def test_random_effects_model_blups_and_random_effects():
    fit = fit_uni(D["yi"], D["vi"])
    assert_tol(fit.tau2, 0.0188)
    assert_tol(fit.beta, 0.0837)
    assert_tol(fit.qe, 35.8295)
    assert_tol(fit.statistic, 1.6208)
    b = blup(fit)
    assert_tol(
        b.pred,
        [
            0.0543,
            0.1006,
            -0.0064,
            0.2144,
            0.1051,
            -0.0082,
            0.0174,
            -0.0293,
            0.1604,
            0.2485,
            0.1618,
            0.1102,
            0.0646,
            0.1105,
            -0.0288,
            0.0258,
            0.1905,
            0.0744,
            0.0248,
        ],
    )
    assert_tol(
        b.pi_lower,
        [
            -0.1324,
            -0.1033,
            -0.2228,
            -0.0533,
            -0.1622,
            -0.1737,
            -0.1481,
            -0.2689,
            -0.0543,
            0,
            -0.097,
            -0.1303,
            -0.192,
            -0.1463,
            -0.2405,
            -0.1906,
            -0.0076,
            -0.0808,
            -0.1954,
        ],
    )
    assert_tol(
        b.pi_upper,
        [
            0.2411,
            0.3045,
            0.21,
            0.4821,
            0.3724,
            0.1572,
            0.1828,
            0.2102,
            0.3751,
            0.497,
            0.4206,
            0.3507,
            0.3212,
            0.3672,
            0.1829,
            0.2422,
            0.3886,
            0.2295,
            0.245,
        ],
    )
    u = ranef(fit)
    assert_tol(
        u.pred,
        [
            -0.0294,
            0.0169,
            -0.0901,
            0.1307,
            0.0214,
            -0.0919,
            -0.0664,
            -0.1131,
            0.0767,
            0.1648,
            0.0781,
            0.0265,
            -0.0191,
            0.0268,
            -0.1125,
            -0.0579,
            0.1068,
            -0.0093,
            -0.0589,
        ],
    )
    assert_tol(
        u.pi_lower,
        [
            -0.2187,
            -0.1852,
            -0.3019,
            -0.122,
            -0.231,
            -0.2659,
            -0.2403,
            -0.343,
            -0.1337,
            -0.0723,
            -0.1674,
            -0.2043,
            -0.2627,
            -0.217,
            -0.3207,
            -0.2697,
            -0.091,
            -0.1761,
            -0.2736,
        ],
    )
    assert_tol(
        u.pi_upper,
        [
            0.1599,
            0.219,
            0.1216,
            0.3834,
            0.2738,
            0.082,
            0.1076,
            0.1169,
            0.2871,
            0.4019,
            0.3235,
            0.2572,
            0.2246,
            0.2706,
            0.0956,
            0.1539,
            0.3046,
            0.1574,
            0.1558,
        ],
    )


FITTED_HI = [
    0.0927,
    -0.0645,
    -0.0646,
    0.4072,
    0.4072,
    -0.0645,
    -0.0645,
    -0.0646,
    0.4072,
    0.2499,
    0.4072,
    0.4072,
    0.2499,
    0.0927,
    -0.0646,
    -0.0645,
    0.2499,
    0.0927,
    -0.0645,
]
LOWER = [
    0.0198,
    -0.1552,
    -0.1552,
    0.2366,
    0.2366,
    -0.1552,
    -0.1552,
    -0.1552,
    0.2366,
    0.1391,
    0.2366,
    0.2366,
    0.1391,
    0.0198,
    -0.1552,
    -0.1552,
    0.1391,
    0.0198,
    -0.1552,
]
UPPER = [
    0.1656,
    0.0261,
    0.0261,
    0.5778,
    0.5778,
    0.0261,
    0.0261,
    0.0261,
    0.5778,
    0.3608,
    0.5778,
    0.5778,
    0.3608,
    0.1656,
    0.0261,
    0.0261,
    0.3608,
    0.1656,
    0.0261,
]


def test_mixed_effects_model():
    weeks = np.minimum(D["weeks"], 3)
    fit = fit_uni(D["yi"], D["vi"], np.column_stack([np.ones(19), weeks]))
    assert_tol(fit.tau2, 0.0)
    assert_tol(fit.beta, [0.4072, -0.1572])
    assert_tol(fit.qe, 16.5708)
    assert_tol(fit.statistic, [4.6782, -4.3884])
    b = blup(fit)
    assert_tol(b.pred, FITTED_HI)
    assert_tol(b.pi_lower, LOWER)
    assert_tol(b.pi_upper, UPPER)
    u = ranef(fit)
    assert_tol(u.pred, np.zeros(19))
    assert_tol(u.pi_lower, np.full(19, -0.0016))
    assert_tol(u.pi_upper, np.full(19, 0.0016))
    p = predict(fit)
    assert_tol(p.pred, FITTED_HI)
    assert_tol(p.ci_lower, LOWER)
    assert_tol(p.ci_upper, [x if x != 0.3608 else 0.3607 for x in UPPER])
