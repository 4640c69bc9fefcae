"""A published worked example: the BCG vaccine meta-analysis of Viechtbauer (2010).

Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software 36(3), 1-48. doi:10.18637/jss.v036.i03. The paper ships with metafor as
its vignette (``doc/metafor.pdf`` in the installed R package), where these numbers were
read. Page 14 fits ``rma(ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat,
measure = "RR")`` (REML) and prints:

    tau^2 (estimate of total amount of heterogeneity): 0.3132 (SE = 0.1664)
    tau (sqrt of the estimate of total heterogeneity): 0.5597
    I^2 (% of total variability due to heterogeneity): 92.22%
    H^2 (total variability / within-study variance):   12.86
    Q(df = 12) = 152.2330, p-val < .0001
    estimate  se      zval     pval    ci.lb    ci.ub
    -0.7145   0.1798  -3.9744  <.0001  -1.0669  -0.3622

and page 21 prints ``predict(res, transf = exp, digits = 2)``:

    pred  se  ci.lb  ci.ub  cr.lb  cr.ub
    0.49  NA  0.34   0.70   0.15   1.55

The input is the 2x2 table of Colditz et al. (1994) JAMA 271:698-702, as printed in the
paper (metafor ``dat.bcg``). Values are compared at half a unit in the last printed digit,
so this test checks the whole path from raw counts (``escalc``) to printed output against
the publication, independently of the committed R fixtures.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.effects.escalc import escalc
from evidence.stats.pooling import pool

#: Colditz 1994 / dat.bcg: vaccinated TB+ (tpos), TB- (tneg); control TB+ (cpos), TB- (cneg).
BCG = np.array(
    [
        [4, 119, 11, 128],
        [6, 300, 29, 274],
        [3, 228, 11, 209],
        [62, 13536, 248, 12619],
        [33, 5036, 47, 5761],
        [180, 1361, 372, 1079],
        [8, 2537, 10, 619],
        [505, 87886, 499, 87892],
        [29, 7470, 45, 7232],
        [17, 1699, 65, 1600],
        [186, 50448, 141, 27197],
        [5, 2493, 3, 2338],
        [27, 16886, 29, 17825],
    ],
    dtype=float,
)

#: Half a unit in the 4th decimal (estimates, se, z, CIs, tau2, tau, Q).
HALF_4 = 5e-5
#: Half a unit in the 2nd decimal (I2 in percent, H2, and predict(digits = 2)).
HALF_2 = 5e-3


@pytest.fixture(scope="module")
def result():
    effects = escalc("RR", ai=BCG[:, 0], bi=BCG[:, 1], ci=BCG[:, 2], di=BCG[:, 3])
    return pool(effects.yi, effects.vi, method="REML", test="z", measure="RR", transform="exp")


@pytest.mark.parametrize(
    ("key", "printed", "tolerance"),
    [
        ("estimate", -0.7145, HALF_4),
        ("se", 0.1798, HALF_4),
        ("statistic", -3.9744, HALF_4),
        ("tau2", 0.3132, HALF_4),
        ("tau", 0.5597, HALF_4),
        ("i2", 92.22, HALF_2),
        ("h2", 12.86, HALF_2),
        ("q", 152.2330, HALF_4),
        ("q_df", 12, 0),
    ],
)
def test_random_effects_model_as_printed(result, key, printed, tolerance):
    assert_allclose(getattr(result, key), printed, rtol=0, atol=tolerance)


def test_p_values_as_printed(result):
    # Both printed as "< .0001".
    assert result.p < 1e-4 and result.q_p < 1e-4


def test_confidence_interval_as_printed(result):
    assert_allclose(result.ci, [-1.0669, -0.3622], rtol=0, atol=HALF_4)


def test_predict_transf_exp_as_printed(result):
    back = result.back_transformed
    assert_allclose(back.estimate, 0.49, rtol=0, atol=HALF_2)
    assert_allclose(back.ci, [0.34, 0.70], rtol=0, atol=HALF_2)
    assert_allclose(back.pi, [0.15, 1.55], rtol=0, atol=HALF_2)
