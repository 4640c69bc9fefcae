"""Berkey et al. (1995), Stat Med 14, 395-411: BCG vaccine trials, empirical Bayes fits.

Expected values from metafor 3.8.1's tests/testthat/test_analysis_example_berkey1995.r
(page 408 of the paper; metafor's values at .tol = .01); data dat.bcg with the paper's
smoothed sampling variances. Out of scope (tests/published/README.md): the R warning that
``anova`` gives for the two EB fits. The older version of the file (0d03774) compared the
paper's rounded digits, which are checked too.
"""

import numpy as np
from _published import assert_rounded, assert_tol, metadat

from evidence.effects.escalc import escalc
from evidence.stats.prediction import predict
from evidence.stats.uni import fit_uni

BCG = metadat("bcg")
EFFECTS = escalc("RR", ai=BCG["tpos"], bi=BCG["tneg"], ci=BCG["cpos"], di=BCG["cneg"])
#: The paper's "smoothed" sampling variance, common to every trial.
VI = np.sum(BCG["tneg"] / BCG["tpos"]) / (13 * (BCG["tneg"] + BCG["tpos"])) + np.sum(
    BCG["cneg"] / BCG["cpos"]
) / (13 * (BCG["cneg"] + BCG["cpos"]))
X = np.column_stack([np.ones(13), BCG["ablat"] - 33.46])


def test_random_effects_model():
    fit = fit_uni(EFFECTS.yi, VI, method="EB")
    assert_rounded(fit.beta, [-0.5429], 4)
    assert_rounded(fit.se, [0.1842], 4)
    assert_rounded(fit.tau2, 0.268, 3)


def test_mixed_effects_meta_regression():
    fit = fit_uni(EFFECTS.yi, VI, X, method="EB")
    assert_rounded(fit.beta, [-0.6303, -0.0268], 4)
    assert_rounded(fit.se, [0.1591, 0.0110], 4)
    assert_rounded(fit.tau2, 0.157, 3)
    tau2_re = fit_uni(EFFECTS.yi, VI, method="EB").tau2
    assert_rounded(100 * (tau2_re - fit.tau2) / tau2_re, 41, 0)  # anova(res.RE, res.ME)$R2
    found = predict(fit, np.array([33.46, 42]) - 33.46, transform="exp")
    assert_rounded(found.pred, [0.53, 0.42], 2)


def test_fixed_effects_meta_regression():
    fit = fit_uni(EFFECTS.yi, VI, X, method="FE")
    assert_rounded(fit.beta, [-0.5949, -0.0282], 4)
    assert_rounded(fit.se, [0.0696, 0.0040], 4)
    found = predict(fit, np.array([33.46, 42]) - 33.46, transform="exp")
    assert_rounded(found.pred, [0.55, 0.43], 2)


def test_metafor_381_expectations():
    """The eleven value checks of metafor 3.8.1's file, at .tol = .01."""
    re = fit_uni(EFFECTS.yi, VI, method="EB")
    for value, expected in ((re.beta, -0.5429), (re.se, 0.1842), (re.tau2, 0.2682)):
        assert_tol(value, expected)
    me = fit_uni(EFFECTS.yi, VI, X, method="EB")
    assert_tol(me.beta, [-0.6303, -0.0268])
    assert_tol(me.se, [0.1591, 0.0110])
    assert_tol(me.tau2, 0.1572)
    assert_tol(100 * (re.tau2 - me.tau2) / re.tau2, 41.3844)  # anova(res.RE, res.ME)$R2
    at = np.array([33.46, 42]) - 33.46
    assert_tol(predict(me, at, transform="exp").pred, [0.5324, 0.4236])
    fe = fit_uni(EFFECTS.yi, VI, X, method="FE")
    assert_tol(fe.beta, [-0.5949, -0.0282])
    assert_tol(fe.se, [0.0696, 0.0040])
    assert_tol(predict(fe, at, transform="exp").pred, [0.5516, 0.4336])
