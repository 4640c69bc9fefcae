"""Miller (1978), Am Stat 32, 138: the inverse of the Freeman-Tukey double arcsine
transformation, with the harmonic-mean sample size for a pooled estimate.

Expected values (page 138) from metafor's tests/testthat/test_analysis_example_miller1978.r.
metafor's PFT is half of Miller's transformation (hence the factors 2 and 4). Its forest
plot image comparisons are out of scope.
"""

import numpy as np
from _published import assert_tol

from evidence.effects.escalc import escalc
from evidence.stats.prediction import predict
from evidence.stats.transforms import ipft
from evidence.stats.uni import fit_uni

XI, NI = np.array([3, 6, 10, 1]), np.array([11, 17, 21, 6])
EFFECTS = escalc("PFT", xi=XI, ni=NI)
#: testthat's default tolerance of expect_equivalent (sqrt of double epsilon).
TOL_DEFAULT = 1.5e-8


def test_double_arcsine_values_and_variances():
    assert_tol(EFFECTS.yi * 2, [1.1391, 1.2888, 1.5253, 0.9515])
    assert_tol(EFFECTS.vi * 4, [0.0870, 0.0571, 0.0465, 0.1538])


def test_unweighted_equal_effects_model():
    fit = fit_uni(EFFECTS.yi, EFFECTS.vi, method="FE", weighted=False)
    assert_tol(predict(fit).pred * 2, [1.2262])
    assert_tol(predict(fit, transform="ipft.hm", ni=NI).pred, [0.3164])


def test_weighted_equal_effects_model():
    fit = fit_uni(EFFECTS.yi, EFFECTS.vi, method="FE")
    assert_tol(predict(fit).pred * 2, [1.3093])
    assert_tol(predict(fit, transform="ipft.hm", ni=NI).pred, [0.3595])


def test_proportions_of_zero_and_one_back_transform_exactly():
    ni = np.array([10, 10])
    effects = escalc("PFT", xi=[0, 10], ni=ni, add=0)
    assert_tol(ipft(effects.yi, ni), [0, 1], TOL_DEFAULT)


def test_back_transformation_of_studies_and_the_model_estimate():
    xi, ni = np.array([0, 4, 9, 16, 20]), np.array([10, 10, 15, 20, 20])
    effects = escalc("PFT", xi=xi, ni=ni, add=0)
    assert_tol(ipft(effects.yi, ni), [0.0, 0.4, 0.6, 0.8, 1.0], TOL_DEFAULT)
    found = predict(fit_uni(effects.yi, effects.vi, method="FE"), transform="ipft.hm", ni=ni)
    assert_tol(found.pred, [0.6886])
    assert_tol(found.ci_lower, [0.5734])
    assert_tol(found.ci_upper, [0.7943])
