"""Gleser & Olkin (2009), in The Handbook of Research Synthesis and Meta-Analysis (2nd ed.),
ch. 19: stochastically dependent effect sizes; the effect sizes of the multiple-treatment
studies example (risk differences, log odds ratios, log risk ratios, arcsine differences).

Expected values (pages 360-364) from metafor's
tests/testthat/test_analysis_example_gleser2009.r (the data are printed there). The
multivariate models of that file (rma.mv with the chapter's covariance matrices) are counted
in tests/published/README.md.
"""

import numpy as np
import pytest
from _published import assert_tol
from scipy.linalg import block_diag

from evidence.effects.escalc import escalc
from evidence.stats.multivariate import rma_mv

#: Three studies with one control and one to three treatment groups (the control's counts
#: repeated on each row).
TABLE = {
    "ai": [40, 40, 10, 150, 150, 150],
    "n1i": [1000, 1000, 200, 2000, 2000, 2000],
    "ci": [100, 150, 15, 40, 80, 50],
    "n2i": [4000, 4000, 400, 1000, 1000, 1000],
}

EXPECTED = {
    "RD": [0.0150, 0.0025, 0.0125, 0.0350, -0.0050, 0.0250],
    "OR": [0.4855, 0.0671, 0.3008, 0.6657, -0.0700, 0.4321],
    "RR": [0.4700, 0.0645, 0.2877, 0.6286, -0.0645, 0.4055],
    "AS": [0.0852, 0.0130, 0.0613, 0.1521, -0.0187, 0.1038],
}


@pytest.mark.parametrize("measure", EXPECTED)
def test_effect_sizes_of_the_multiple_treatment_studies(measure):
    yi = escalc(measure, **TABLE).yi
    # metafor's AS is half of the chapter's arcsine difference (the test compares yi * 2).
    assert_tol(yi * 2 if measure == "AS" else yi, EXPECTED[measure])


# ---------------------------------------------------------------- multivariate models
# The chapter's sampling covariance of effects sharing a control group, per measure: the
# diagonal holds vi, the off-diagonal of a study the covariance named below (p = ai/n1i of
# the shared group, n = its size).
SHARED = {
    "RD": lambda p, n: p * (1 - p) / n,
    "OR": lambda p, n: 1 / (n * p * (1 - p)),
    "RR": lambda p, n: (1 - p) / (n * p),
    "AS": lambda p, n: 1 / (4 * n),
}
STUDY = np.array([1, 1, 2, 3, 3, 3])
TRT = np.array([1, 2, 1, 1, 2, 3])
TREATMENTS = np.column_stack([(TRT == t).astype(float) for t in (1, 2, 3)])


def _covariance(vi, shared):
    v = np.diag(vi)
    for study in np.unique(STUDY):
        rows = np.flatnonzero(STUDY == study)
        for i in rows:
            for j in rows:
                if i != j:
                    v[i, j] = shared[i]
    return v


MULTIVARIATE = {
    "RD": (
        [0.0200, 0.0043, 0.0211],
        np.array([24.612, 19.954, 13.323, 28.538, 13.255, 69.806]) / 1e6,
        7.1907,
    ),
    "OR": (
        [0.5099, 0.0044, 0.4301],
        [0.01412, 0.00712, 0.00425, 0.01178, 0.00455, 0.02703],
        2.0563,
    ),
    "RR": (
        [0.4875, 0.0006, 0.4047],
        [0.01287, 0.00623, 0.00371, 0.01037, 0.00399, 0.02416],
        1.8954,
    ),
    # AS: the chapter's coefficients are twice metafor's and its covariances four times.
    "AS": (
        np.array([0.1010, 0.0102, 0.0982]) / 2,
        np.array([0.00058, 4e-04, 0.00024, 0.00061, 0.00025, 0.00137]) / 4,
        4.2634,
    ),
}


def _symmetric(upper):
    """The 3 x 3 matrix from its entries (1,1), (1,2), (1,3), (2,2), (2,3), (3,3)."""
    a, b, c, d, e, f = upper
    return np.array([[a, b, c], [b, d, e], [c, e, f]])


@pytest.mark.parametrize("measure", MULTIVARIATE)
def test_multiple_treatment_studies_multivariate_model(measure):
    effects = escalc(measure, **TABLE)
    p = np.asarray(TABLE["ai"], dtype=float) / np.asarray(TABLE["n1i"], dtype=float)
    shared = SHARED[measure](p, np.asarray(TABLE["n1i"], dtype=float))
    fit = rma_mv(effects.yi, _covariance(effects.vi, shared), X=TREATMENTS)
    beta, vcov, qe = MULTIVARIATE[measure]
    assert_tol(fit.beta, beta)
    assert_tol(fit.vcov, _symmetric(vcov))
    assert_tol(fit.qe, qe)


def test_multiple_treatment_studies_standardised_mean_differences():
    study = np.array([1, 1, 2, 3, 4, 4])
    trt = np.array([1, 2, 1, 1, 1, 2])
    m1 = np.array([7.87, 4.35, 9.32, 8.08, 7.44, 5.34])
    m2 = np.array([-1.36, -1.36, 0.98, 1.17, 0.45, 0.45])
    sdp = np.array([4.2593, 4.2593, 2.8831, 3.1764, 2.9344, 2.9344])
    n1 = np.array([25, 22, 38, 50, 30, 30])
    n2 = np.array([25, 25, 40, 50, 30, 30])
    total = np.array([sum(n1[study == s]) + n2[study == s][0] for s in study])
    yi = (m1 - m2) / sdp
    vi = 1 / n1 + 1 / n2 + yi**2 / (2 * total)
    assert_tol(yi, [2.1670, 1.3406, 2.8927, 2.1754, 2.3821, 1.6664])
    v = np.diag(vi)
    for i in range(6):
        for j in range(6):
            if i != j and study[i] == study[j]:
                v[i, j] = 1 / n2[i] + yi[i] * yi[j] / (2 * total[i])
    fit = rma_mv(yi, v, X=np.column_stack([(trt == t).astype(float) for t in (1, 2)]))
    assert_tol(fit.beta, [2.3743, 1.5702])
    assert_tol(fit.vcov, [[0.02257, 0.01244], [0.01244, 0.03554]])
    assert_tol(fit.qe, 3.9447)


def test_multiple_endpoint_studies():
    m1 = np.array([2.3, 2.5, 2.4, 1.3, 2.5, 2.4, 3.3, 1.7, 1.1, 2.0, 2.8, 2.1, 1.7, 0.6])
    m2 = np.array([10.3, 6.6, 9.7, 3.1, 8.7, 3.7, 7.5, 8.5, 2.2, 2.1, 3.8, 1.4, 1.8, 3.9])
    sdp = np.array([8.2, 7.3, 8.3, 8.9, 8.5, 8.3, 7.7, 9.8, 9.1, 10.4, 9.6, 7.9, 9.2, 10.2])
    ri = np.repeat([0.55, 0.43, 0.57, 0.66, 0.51, 0.59, 0.49], 2)
    n1 = np.repeat([22, 21, 26, 18, 38, 42, 39], 2)
    n2 = np.repeat([24, 21, 23, 18, 36, 42, 38], 2)
    # As the test rounds them: yi to 3, vi and the covariances to 4 decimals.
    yi = np.round((m2 - m1) / sdp, 3)
    vi = np.round(1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2)), 4)
    products = np.repeat(yi[0::2] * yi[1::2], 2)
    covi = np.round((1 / n1 + 1 / n2) * ri + products / (2 * (n1 + n2)) * ri**2, 4)
    v = block_diag(*[[[vi[i], covi[i + 1]], [covi[i], vi[i + 1]]] for i in range(0, 14, 2)])
    math_, reading = (np.arange(14) % 2 == 0).astype(float), (np.arange(14) % 2 == 1).astype(float)
    fit = rma_mv(yi, v, X=np.column_stack([math_, reading]))
    assert_tol(fit.beta, [0.3617, 0.2051])
    assert_tol(fit.vcov, [[0.01008, 0.00537], [0.00537, 0.00989]])
    assert_tol(fit.qe, 19.6264)
