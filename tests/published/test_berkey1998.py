"""Berkey, Hoaglin, Antczak-Bouckoms, Mosteller & Colditz (1998), Stat Med 17, 2537-2550:
multiple outcomes (probing depth and attachment level) of periodontal surgery trials, with
the trials' known within-trial covariance matrices; bivariate random effects (UN), ML.

Expected values (page 2545, Table II) from metafor's
tests/testthat/test_analysis_example_berkey1998.r; data dat.berkey1998.
"""

import numpy as np
from _published import assert_tol, metadat
from scipy.linalg import block_diag

from evidence.stats.multivariate import anova, rma_mv

DATA = metadat("berkey1998")
YI = DATA["yi"]
TRIAL, OUTCOME = DATA["trial"], DATA["outcome"]
#: V: per trial, the 2 x 2 block of (v1i, v2i) of its two rows (metafor's bldiag).
V = block_diag(
    *[
        np.column_stack([DATA["v1i"][TRIAL == t], DATA["v2i"][TRIAL == t]])
        for t in dict.fromkeys(TRIAL)
    ]
)
#: ~ 0 + outcome: indicator columns of AL and PD (R's sorted factor levels).
AL, PD = (OUTCOME == "AL").astype(float), (OUTCOME == "PD").astype(float)
YEAR = DATA["year"] - 1983


def _fit(design, **options):
    return rma_mv(YI, V, X=design, inner=OUTCOME, outer=TRIAL, struct="UN", method="ML", **options)


def test_multiple_outcomes_random_effects_model():
    fit = _fit(np.column_stack([AL, PD]))
    assert fit.inner_levels == ("AL", "PD")
    assert_tol(fit.beta, [-0.3379, 0.3448])
    assert_tol(fit.se, [0.0798, 0.0495])
    assert_tol(fit.tau2, [0.0261, 0.0070])
    assert_tol(fit.rho, [0.6992])


def test_multiple_outcomes_meta_regression():
    fit = _fit(np.column_stack([AL, PD, AL * YEAR, PD * YEAR]))
    assert_tol(fit.beta, [-0.3351, 0.3479, -0.0108, 0.0010])
    assert_tol(fit.se, [0.0787, 0.0520, 0.0243, 0.0154])
    assert_tol(fit.tau2, [0.0250, 0.0080])
    assert_tol(fit.rho, [0.6587])
    assert_tol(fit.rho[0] * np.sqrt(fit.tau2[0] * fit.tau2[1]), 0.0093)  # the covariance
    # ~ 0 + outcome * I(year - 1983): AL, PD, year (slope of AL), PD:year (the difference)
    fit = _fit(np.column_stack([AL, PD, YEAR, PD * YEAR]))
    assert_tol(fit.beta, [-0.3351, 0.3479, -0.0108, 0.0118])
    assert_tol(fit.se, [0.0787, 0.0520, 0.0243, 0.0199])
    assert_tol(fit.p, [0.0000, 0.0000, 0.6563, 0.5534])


def test_likelihood_ratio_tests_of_the_covariance_structure():
    design = np.column_stack([AL, PD])
    unstructured = _fit(design)
    compound = rma_mv(YI, V, X=design, inner=OUTCOME, outer=TRIAL, struct="CS", method="ML")
    assert_tol(anova(unstructured, compound).p, 0.2597)
    assert_tol(anova(unstructured, _fit(design, rho=0)).p, 0.2452)
