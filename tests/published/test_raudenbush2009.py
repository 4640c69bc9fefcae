"""Raudenbush (2009), in The Handbook of Research Synthesis and Meta-Analysis (2nd ed.),
ch. 16: teacher expectancy (Raudenbush 1985 data), equal-, random- and mixed-effects models,
the conventional and Knapp-Hartung tables of five estimators (Table 16.3).

Expected values (pages 301-309) from metafor 3.8.1's
tests/testthat/test_analysis_example_raudenbush2009.r (metafor's values at .tol = .01;
the older version of the file, 01464f3, with the chapter's rounded digits, is checked
too); data dat.raudenbush1985. Out of scope (tests/published/README.md): the R warning of
the equal-effects fit under knha and the Huber-White table (``robust(adjust = FALSE)``).
"""

import numpy as np
import pytest
from _published import assert_rounded, assert_tol, metadat

from evidence.stats.prediction import blup, predict
from evidence.stats.uni import fit_uni

DATA = metadat("raudenbush1985")
YI, VI = DATA["yi"], DATA["vi"]
WEEKS = np.minimum(DATA["weeks"], 3)  # weeks.c: 0, 1, 2, 3 or more weeks of contact
METHODS = ("FE", "ML", "REML", "DL", "HE")


def test_fixed_effects_model():
    fit = fit_uni(YI, VI, method="FE")
    assert_rounded(fit.beta, [0.060], 3)
    assert_rounded(fit.qe, 35.83, 2)
    assert_rounded(fit.statistic, [1.66], 2)


def test_random_effects_model():
    fit = fit_uni(YI, VI)
    assert_rounded(fit.beta, [0.084], 3)
    assert_rounded(fit.statistic, [1.62], 2)
    assert_rounded(fit.tau2, 0.019, 3)
    found = predict(fit)
    assert_rounded(found.pi_lower, [-0.204], 3)
    assert_rounded(found.pi_upper, [0.371], 3)
    blups = blup(fit).pred
    assert_rounded([blups.min(), blups.max()], [-0.03, 0.25], 2)


def test_mixed_effects_model():
    fit = fit_uni(YI, VI, np.column_stack([np.ones(len(YI)), WEEKS]))
    assert_rounded(fit.tau2, 0, 3)
    assert_rounded(fit.beta, [0.407, -0.157], 3)
    assert_rounded(fit.qe, 16.57, 2)
    assert_rounded(fit.statistic, [4.68, -4.39], 2)
    blups = blup(fit).pred
    assert_rounded([blups.min(), blups.max()], [-0.06, 0.41], 2)


def _table(test: str) -> np.ndarray:
    rows = []
    for method in METHODS:
        fit = fit_uni(YI, VI, method=method, test=test)
        rows.append(
            [
                fit.tau2,
                fit.beta[0],
                fit.se[0],
                fit.statistic[0],
                fit.ci_lower[0],
                fit.ci_upper[0],
            ]
        )
    return np.asarray(rows)


# Table 16.3 (rows FE, ML, REML, DL, HE; columns tau2, mu, se, z or t, ci.lb, ci.ub).
TABLES = {
    "z": [
        [0, 0.06, 0.036, 1.655, -0.011, 0.132],
        [0.013, 0.078, 0.047, 1.637, -0.015, 0.171],
        [0.019, 0.084, 0.052, 1.621, -0.018, 0.185],
        [0.026, 0.089, 0.056, 1.601, -0.02, 0.199],
        [0.08, 0.114, 0.079, 1.443, -0.041, 0.27],
    ],
    "knha": [
        [0, 0.06, 0.051, 1.173, -0.048, 0.168],
        [0.013, 0.078, 0.059, 1.311, -0.047, 0.202],
        [0.019, 0.084, 0.062, 1.359, -0.046, 0.213],
        [0.026, 0.089, 0.064, 1.405, -0.044, 0.223],
        [0.08, 0.114, 0.071, 1.608, -0.035, 0.264],
    ],
}


@pytest.mark.parametrize("test", ["z", "knha"])
def test_table_16_3(test):
    assert_rounded(_table(test), TABLES[test], 3)


#: metafor 3.8.1's Table 16.3, as its file gives it (R's column-major order: the five
#: values of tau2, then of mu, se, z or t, ci.lb and ci.ub for EE, ML, REML, DL, HE).
#: tau2 and mu do not depend on the test: the first two columns of both tables.
TAU2_MU_381 = [0, 0.0126, 0.0188, 0.0259, 0.0804, 0.0604, 0.0777, 0.0837, 0.0893, 0.1143]
TABLES_381 = {
    "z": TAU2_MU_381
    + [
        0.0365,
        0.0475,
        0.0516,
        0.0558,
        0.0792,
        1.6553,
        1.6368,
        1.6208,
        1.6009,
        1.4432,
        -0.0111,
        -0.0153,
        -0.0175,
        -0.02,
        -0.0409,
        0.1318,
        0.1708,
        0.1849,
        0.1987,
        0.2696,
    ],
    "knha": TAU2_MU_381
    + [
        0.0515,
        0.0593,
        0.0616,
        0.0636,
        0.0711,
        1.1733,
        1.311,
        1.3593,
        1.405,
        1.6078,
        -0.0477,
        -0.0468,
        -0.0457,
        -0.0442,
        -0.0351,
        0.1685,
        0.2023,
        0.2131,
        0.2229,
        0.2637,
    ],
}


def test_metafor_381_expectations():
    """The 16 value checks of metafor 3.8.1's file outside the Huber-White table."""
    fe = fit_uni(YI, VI, method="FE")
    for value, expected in ((fe.beta, 0.0604), (fe.qe, 35.8295), (fe.statistic, 1.6553)):
        assert_tol(value, expected)
    re = fit_uni(YI, VI)
    found = predict(re)
    blups = blup(re).pred
    for value, expected in (
        (re.beta, 0.0837),
        (re.statistic, 1.6208),
        (re.tau2, 0.0188),
        (found.pi_lower, -0.2036),
        (found.pi_upper, 0.3711),
        ([blups.min(), blups.max()], [-0.0293, 0.2485]),
    ):
        assert_tol(value, expected)
    me = fit_uni(YI, VI, np.column_stack([np.ones(len(YI)), WEEKS]))
    blups = blup(me).pred
    for value, expected in (
        (me.tau2, 0.0),
        (me.beta, [0.4072, -0.1572]),
        (me.qe, 16.5708),
        (me.statistic, [4.6782, -4.3884]),
        ([blups.min(), blups.max()], [-0.0646, 0.4072]),
    ):
        assert_tol(value, expected)
    for test, expected in TABLES_381.items():
        assert_tol(_table(test), np.reshape(expected, (6, 5)).T)
