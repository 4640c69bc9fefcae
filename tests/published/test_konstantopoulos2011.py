"""Konstantopoulos (2011), Res Synth Methods 2, 61-76: school-calendar effects in 56 studies
from 11 districts; the two-level models fitted with rma() (Table 4).

Expected values from metafor's tests/testthat/test_analysis_example_konstantopoulos2011.r;
data dat.konstantopoulos2011. The three-level rma.mv parts of that file are counted in
tests/published/README.md.
"""

import numpy as np
import pytest
from _published import assert_tol, metadat

from evidence.stats.tau2_intervals import confint_tau2
from evidence.stats.uni import fit_uni

DATA = metadat("konstantopoulos2011")
YI, VI = DATA["yi"], DATA["vi"]
YEAR = DATA["year"] - DATA["year"].mean()

CASES = {
    # model: (design, coefficients, se, tau2, se(tau2), Q-profile CI of tau2)
    "random": (None, [0.1279], [0.0439], 0.0884, 0.0202, (0.0564, 0.1388)),
    "mixed": (
        np.column_stack([np.ones(len(YI)), YEAR]),
        [0.1258, 0.0052],
        [0.0440, 0.0044],
        0.0889,
        0.0205,
        (0.0560, 0.1376),
    ),
}


@pytest.mark.parametrize("model", CASES)
def test_two_level_models_fitted_with_rma(model):
    design, beta, se, tau2, se_tau2, interval = CASES[model]
    fit = fit_uni(YI, VI, design)
    assert_tol(fit.beta, beta)
    assert_tol(fit.se, se)
    assert_tol(fit.tau2, tau2)
    assert_tol(fit.se_tau2, se_tau2)
    found = confint_tau2(fit, "QP")
    assert_tol(found.lower, interval[0])
    assert_tol(found.upper, interval[1])
