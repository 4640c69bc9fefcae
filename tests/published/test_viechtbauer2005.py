"""Viechtbauer (2005), J Educ Behav Stat 30, 261-293: tau2, I2 and H2 under seven
estimators in two examples.

Expected values (pages 271-272) from metafor 3.8.1's
tests/testthat/test_analysis_example_viechtbauer2005.r (metafor's values at .tol = .01,
with se(tau2)); the older version of the file (0d03774) compared the paper's rounded
tau2, I2 and H2, which are checked too.
"""

import numpy as np
import pytest
from _published import assert_rounded, assert_tol

from evidence.stats.uni import fit_uni

METHODS = ("HS", "HE", "DL", "ML", "REML", "EB", "SJ")
EXAMPLES = {
    1: (
        [-0.581, 0.530, 0.771, 1.031, 0.553, 0.295, 0.078, 0.573, -0.176, -0.232],
        [0.023, 0.052, 0.060, 0.115, 0.095, 0.203, 0.200, 0.211, 0.051, 0.040],
        [0.228, 0.148, 0.277, 0.197, 0.223, 0.192, 0.199],
        [77.23, 68.80, 80.44, 74.51, 76.84, 74.05, 74.75],
        [4.39, 3.21, 5.11, 3.92, 4.32, 3.85, 3.96],
    ),
    2: (
        [
            0.100,
            -0.162,
            -0.090,
            -0.049,
            -0.046,
            -0.010,
            -0.431,
            -0.261,
            0.134,
            0.019,
            0.175,
            0.056,
            0.045,
            0.103,
            0.121,
            -0.482,
            0.290,
            0.342,
        ],
        [
            0.016,
            0.015,
            0.050,
            0.050,
            0.032,
            0.052,
            0.036,
            0.024,
            0.034,
            0.033,
            0.031,
            0.034,
            0.039,
            0.167,
            0.134,
            0.096,
            0.016,
            0.035,
        ],
        [0.010, 0.000, 0.013, 0.013, 0.016, 0.010, 0.025],
        [22.93, 0.00, 27.53, 28.45, 32.02, 23.72, 42.67],
        [1.30, 1.00, 1.38, 1.40, 1.47, 1.31, 1.74],
    ),
}


@pytest.mark.parametrize("example", EXAMPLES)
def test_seven_estimators(example):
    yi, vi, tau2, i2, h2 = EXAMPLES[example]
    fits = [fit_uni(np.array(yi), np.array(vi), method=m) for m in METHODS]
    assert_rounded([f.tau2 for f in fits], tau2, 3)
    assert_rounded([f.i2 for f in fits], i2, 2)
    assert_rounded([f.h2 for f in fits], h2, 2)


#: metafor 3.8.1's file (metafor's own values at .tol = .01), with se(tau2), which the
#: older version of the file did not check: tau2, I2, H2, se(tau2) per example.
EXPECTED_381 = {
    1: (
        [0.2282, 0.1484, 0.2768, 0.1967, 0.2232, 0.192, 0.1992],
        [77.2284, 68.7988, 80.4447, 74.5098, 76.8399, 74.0511, 74.7545],
        [4.3914, 3.205, 5.1137, 3.9231, 4.3178, 3.8537, 3.9611],
        [0.1328, 0.1234, 0.1841, 0.1255, 0.1464, 0.133, 0.0979],
    ),
    2: (
        [0.0099, 0, 0.0126, 0.0132, 0.0157, 0.0104, 0.0248],
        [22.9266, 0, 27.5275, 28.4505, 32.0203, 23.7198, 42.6734],
        [1.2975, 1, 1.3798, 1.3976, 1.471, 1.311, 1.7444],
        [0.0138, 0.0217, 0.0159, 0.0151, 0.0167, 0.0156, 0.0118],
    ),
}


@pytest.mark.parametrize("example", EXPECTED_381)
def test_metafor_381_expectations(example):
    yi, vi = EXAMPLES[example][:2]
    fits = [fit_uni(np.array(yi), np.array(vi), method=m) for m in METHODS]
    found = [[getattr(f, key) for f in fits] for key in ("tau2", "i2", "h2", "se_tau2")]
    for values, expected in zip(found, EXPECTED_381[example], strict=True):
        assert_tol(values, expected)
