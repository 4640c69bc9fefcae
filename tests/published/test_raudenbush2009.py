"""Raudenbush (2009), in The Handbook of Research Synthesis and Meta-Analysis (2nd ed.),
ch. 16: teacher expectancy (Raudenbush 1985 data), equal-, random- and mixed-effects models,
the conventional and Knapp-Hartung tables of five estimators (Table 16.3).

Expected values (pages 301-309) from metafor's
tests/testthat/test_analysis_example_raudenbush2009.r; data dat.raudenbush1985.
"""

import numpy as np
import pytest
from _published import assert_rounded, metadat

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
