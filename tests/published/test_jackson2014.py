"""Jackson, Turner, Rhodes & Viechtbauer (2014), BMC Med Res Methodol 14, 103: intervals
for the residual tau^2 of meta-regressions (Wald on the log scale, generalised Q with
inverse-variance and inverse-SE weights, Paule-Mandel Q-profile).

Expected values from metafor's tests/testthat/test_analysis_example_jackson2014.r.
"""

import math

import numpy as np
import pytest
from _published import assert_tol

from evidence.stats.tau2_intervals import confint_tau2
from evidence.stats.uni import fit_uni

EXAMPLES = {
    1: (
        [
            0.0267,
            0.8242,
            0.3930,
            2.4405,
            2.1401,
            1.2528,
            2.4849,
            0.3087,
            1.4246,
            0.1823,
            1.1378,
            1.2321,
            2.0695,
            4.0237,
            1.4383,
            1.6021,
        ],
        [
            0.1285,
            0.0315,
            0.0931,
            2.0967,
            1.0539,
            0.1602,
            1.0235,
            0.0218,
            0.5277,
            0.0556,
            0.3304,
            0.1721,
            0.4901,
            2.0200,
            0.3399,
            0.1830,
        ],
        [0] * 10 + [1] * 6,
        {
            "wald": (0.0110, 0.6330),
            "genq_v": (0.0029, 0.6907),
            "genq_se": (0.0, 1.1245),
            "pm": (0.0023, 1.4871),
        },
    ),
    2: (
        [
            0.54,
            0.4,
            0.64,
            0.365,
            0.835,
            0.02,
            0.12,
            0.085,
            1.18,
            0.08,
            0.18,
            0.325,
            0.06,
            0.715,
            0.065,
            0.245,
            0.24,
            0.06,
            0.19,
        ],
        [
            0.0176,
            0.019,
            0.0906,
            0.0861,
            0.0063,
            0.0126,
            0.0126,
            0.0041,
            0.0759,
            0.0126,
            0.0104,
            0.0242,
            0.0026,
            0.2629,
            0.0169,
            0.0156,
            0.0481,
            0.0084,
            0.0044,
        ],
        [
            1986,
            1987,
            1988,
            1988,
            1998,
            1999,
            2000,
            2000,
            2000,
            2001,
            2001,
            2001,
            2002,
            2002,
            2002,
            2002,
            2003,
            2003,
            2003,
        ],
        {
            "wald": (0.0163, 0.1108),
            "genq_v": (0.0170, 0.1393),
            "genq_se": (0.0180, 0.1375),
            "pm": (0.0178, 0.1564),
        },
    ),
}


@pytest.mark.parametrize("example", EXAMPLES)
def test_intervals_for_the_residual_tau2(example):
    yi, vi, xi, expected = EXAMPLES[example]
    y, v = np.array(yi), np.array(vi)
    x = np.column_stack([np.ones(len(y)), xi])
    reml = fit_uni(y, v, x, method="REML")
    spread = 1.96 * reml.se_tau2 / reml.tau2  # the paper's approximate interval
    wald = [math.exp(math.log(reml.tau2) - spread), math.exp(math.log(reml.tau2) + spread)]
    assert_tol(wald[0], expected["wald"][0])
    assert_tol(wald[1], expected["wald"][1])
    for key, weights in (("genq_v", 1 / v), ("genq_se", 1 / np.sqrt(v))):
        interval = confint_tau2(fit_uni(y, v, x, method="GENQ", weights=weights), "GENQ")
        assert_tol(interval.lower, expected[key][0])
        assert_tol(interval.upper, expected[key][1])
    interval = confint_tau2(fit_uni(y, v, x, method="PM"), "QP")
    assert_tol(interval.lower, expected["pm"][0])
    assert_tol(interval.upper, expected["pm"][1])
