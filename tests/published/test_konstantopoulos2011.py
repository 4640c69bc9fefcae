"""Konstantopoulos (2011), Res Synth Methods 2, 61-76: school-calendar effects in 56 studies
from 11 districts; the two-level models fitted with rma() (Table 4).

Expected values from metafor 3.8.1's
tests/testthat/test_analysis_example_konstantopoulos2011.r (the same values as its 4.x
version, 0aecc95, apart from the restart block); data dat.konstantopoulos2011; and the
rma.mv models (two and three levels, ML and REML, profile-likelihood CIs, the multivariate
parameterisation, a tau2 per district).
"""

import numpy as np
import pytest
from _published import assert_tol, metadat

from evidence.stats.multivariate import nested, profile_ci, rma_mv
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


# ---------------------------------------------------------------- rma.mv models
DISTRICT, STUDY = DATA["district"], DATA["study"]
THREE_LEVEL = nested(DISTRICT, STUDY, names=["district", "study"])
WITH_YEAR = np.column_stack([np.ones(len(YI)), YEAR])


def test_two_level_model_fitted_with_rma_mv():
    fit = rma_mv(YI, VI, random={"study": STUDY})
    assert_tol(fit.beta, [0.1279])
    assert_tol(fit.se, [0.0439])
    assert_tol(fit.sigma2, [0.0884])


def test_three_level_models_by_maximum_likelihood():
    fit = rma_mv(YI, VI, random=THREE_LEVEL, method="ML")
    assert_tol(fit.beta, [0.1845])
    assert_tol(fit.se, [0.0805])
    assert_tol(fit.sigma2, [0.0577, 0.0329])
    fit = rma_mv(YI, VI, X=WITH_YEAR, random=THREE_LEVEL, method="ML")
    assert_tol(fit.beta, [0.1780, 0.0051])
    assert_tol(fit.se, [0.0805, 0.0085])
    assert_tol(fit.sigma2, [0.0565, 0.0329])


def test_three_level_model_by_restricted_maximum_likelihood():
    fit = rma_mv(YI, VI, random=THREE_LEVEL)
    assert_tol(fit.beta, [0.1847])
    assert_tol(fit.se, [0.0846])
    assert_tol(fit.sigma2, [0.0651, 0.0327])
    assert_tol(fit.sigma2[0] / sum(fit.sigma2), 0.6653)  # ICC
    assert_tol(sum(fit.sigma2), 0.0978)
    assert_tol(fit.fit_reml.loglik, -7.9587)
    rows = []
    for interval in profile_ci(fit).intervals:
        bounds = [interval.estimate, interval.lower, interval.upper]
        rows += [bounds, list(np.sqrt(bounds))]  # sigma^2.j and sigma.j
    expected = [
        [0.0651, 0.0222, 0.2072],
        [0.2551, 0.1491, 0.4552],
        [0.0327, 0.0163, 0.0628],
        [0.1809, 0.1276, 0.2507],
    ]
    assert_tol(np.round(rows, 4), expected)
    # The restart block as the 4.x file (0aecc95) has it: the REML optimum again. metafor
    # 3.8.1's file expects where its optimiser ends after maxiter = 4 with restart = TRUE
    # (se 0.0805), out of scope (tests/published/README.md).
    assert_tol(fit.beta, [0.1847132])
    assert_tol(fit.se, [0.08455592])
    assert_tol(fit.sigma2, [0.06506194, 0.03273652])


def test_three_level_model_in_its_multivariate_parameterisation():
    fit = rma_mv(YI, VI, inner=STUDY, outer=DISTRICT, struct="CS")
    assert_tol(fit.beta, [0.1847])
    assert_tol(fit.se, [0.0846])
    assert_tol(fit.tau2, [0.0978])
    assert_tol(fit.rho, [0.6653])
    assert_tol(fit.fit_reml.loglik, -7.9587)


def test_a_tau2_per_district():
    # random = list(~ 1 | district, ~ factor(district) | study), struct = "DIAG"
    fit = rma_mv(YI, VI, random={"district": DISTRICT}, inner=DISTRICT, outer=STUDY, struct="DIAG")
    tau2 = [0.0000, 0.0402, 0.0000, 0.0582, 0.0082, 0.0000, 0.5380, 0.0008, 0.0606, 0.1803, 0.0]
    assert_tol(fit.beta, [0.1270])
    assert_tol(fit.se, [0.0588])
    assert_tol(fit.tau2, tau2)
    assert_tol(fit.tau2, tau2)  # the file checks res$tau2 a second time after printing
