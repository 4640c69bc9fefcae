"""van Houwelingen, Arends & Stijnen (2002), Stat Med 21, 589-624: advanced methods in
meta-analysis on the BCG vaccine trials (Colditz et al. 1994), the univariate models.

Expected values (pages 596-609) from metafor's
tests/testthat/test_analysis_example_vanhouwelingen2002.r; data dat.colditz1994 with year
minus 1900. The bivariate rma.mv models of that file are counted in
tests/published/README.md.
"""

import numpy as np
from _published import assert_rounded, metadat
from scipy import stats

from evidence.effects.escalc import escalc
from evidence.stats.prediction import predict
from evidence.stats.tau2_intervals import confint_tau2
from evidence.stats.uni import fit_uni, pseudo_r2

DATA = metadat("colditz1994")
EFFECTS = escalc("OR", ai=DATA["tpos"], bi=DATA["tneg"], ci=DATA["cpos"], di=DATA["cneg"])
YI, VI = EFFECTS.yi, EFFECTS.vi


def _back(fit):
    found = predict(fit, transform="exp")
    return found.pred[0], found.ci_lower[0], found.ci_upper[0]


def test_fixed_effects_model():
    assert_rounded(_back(fit_uni(YI, VI, method="FE")), [0.647, 0.595, 0.702], 3)


def test_random_effects_model():
    fit = fit_uni(YI, VI, method="ML")
    pred, lower, upper = _back(fit)
    assert_rounded(pred, 0.476, 3)
    assert_rounded(lower, 0.336, 3)
    assert_rounded(upper, 0.675, 3)
    assert_rounded(fit.tau2, 0.302, 3)
    interval = confint_tau2(fit)  # metafor confint(res): Q-profile
    assert_rounded(interval.lower, 0.130, 3)
    assert_rounded(interval.upper, 1.181, 3)
    _, lower, upper = _back(fit_uni(YI, VI, method="ML", test="knha"))
    assert_rounded(lower, 0.318, 3)
    assert_rounded(upper, 0.714, 3)


def test_credibility_interval():
    fit = fit_uni(YI, VI, method="ML")
    # As the paper computes it: b -/+ z sqrt(tau2), without the se of b.
    z = stats.norm.ppf(0.975)
    assert_rounded(fit.beta[0] + np.array([-1, 1]) * z * np.sqrt(fit.tau2), [-1.820, 0.336], 3)
    found = predict(fit)
    assert_rounded(found.pi_lower, [-1.875], 3)
    assert_rounded(found.pi_upper, [0.391], 3)


def test_meta_regression_on_latitude():
    design = np.column_stack([np.ones(len(YI)), DATA["ablat"]])
    fit = fit_uni(YI, VI, design, method="ML")
    assert_rounded(fit.beta, [0.371, -0.033], 3)
    assert_rounded(fit.se, [0.106, 0.003], 3)
    assert_rounded(fit.tau2, 0.004, 3)
    assert_rounded(pseudo_r2(fit), 98.7, 1)
