"""Law, Jackson, Turner, Rhodes & Viechtbauer (2016), BMC Med Res Methodol 16, 87: two
network meta-analyses fitted as multivariate models; the consistency model (random
contrast effects within studies, correlation 1/2).

Expected values from metafor's tests/testthat/test_analysis_example_law2016.r (its data
and covariance matrices are printed there). Out of scope (tests/published/README.md):
Jackson's design-by-treatment model, which needs two ``~ inner | outer`` terms, and the
predictions and BLUPs of rma.mv models.
"""

import numpy as np
import pytest
from _published import assert_tol

from evidence.stats.multivariate import profile_ci, rma_mv

# Example 1: study, y, ref, trt (contrast = ref + trt)
EG1 = [
    (1, -0.16561092, "C", "D"),
    (2, -0.13597406, "C", "D"),
    (3, -0.08012604, "C", "E"),
    (4, -0.14746890, "C", "F"),
    (5, 0.09316853, "E", "F"),
    (6, -0.15859403, "E", "F"),
    (7, -0.22314355, "E", "F"),
    (8, -0.06744128, "F", "G"),
    (9, -0.11888254, "C", "H"),
    (10, -0.06899287, "C", "H"),
    (11, 0.26917860, "B", "C"),
    (12, -0.33160986, "A", "B"),
    (13, -0.26236426, "A", "B"),
    (14, -0.39319502, "F", "G"),
    (15, -0.11557703, "A", "B"),
    (16, 0.00000000, "E", "F"),
    (17, -0.40987456, "A", "E"),
]
S1 = np.diag(
    [
        0.0294183340466069,
        0.147112449467866,
        0.0780588660166125,
        0.140361934247383,
        0.0479709251030665,
        0.0506583523716436,
        0.235695187165775,
        2.04499494438827,
        0.17968120987923,
        0.735714285714286,
        0.184889643463497,
        0.0294022652280727,
        0.232478632478632,
        0.857874134296899,
        0.0219285638496459,
        0.168131868131868,
        0.0826973577700322,
    ]
)
EG2 = [
    (1, -3.61988658, "A", "B"),
    (2, 0.00000000, "B", "C"),
    (3, 0.19342045, "B", "C"),
    (4, 2.79320801, "B", "C"),
    (5, 0.24512246, "B", "C"),
    (6, 0.03748309, "B", "C"),
    (7, 0.86020127, "B", "D"),
    (8, 0.14310084, "B", "D"),
    (9, 0.07598591, "C", "D"),
    (10, -0.99039870, "C", "D"),
    (11, -1.74085310, "A", "B"),
    (11, 0.34830670, "A", "D"),
    (12, 0.40546510, "B", "C"),
    (12, 1.91692260, "B", "D"),
    (13, -0.32850410, "B", "C"),
    (13, 1.07329450, "B", "D"),
]
S2 = np.diag(
    [
        0.9672619,
        0.4,
        0.24987648,
        0.61904762,
        0.27958937,
        0.23845689,
        0.04321419,
        0.47692308,
        0.18416468,
        0.61978022,
        0.12650164,
        0.1583906,
        0.389881,
        0.5151261,
        0.4361111,
        0.5380342,
    ]
)
for first, second, value in ((10, 11, 0.07397504), (12, 13, 0.2857143), (14, 15, 0.2111111)):
    S2[first, second] = S2[second, first] = value


def _contrasts(rows):
    """metafor's contrmat(): +1 for the treatment, -1 for the reference, first level out."""
    levels = sorted({r[2] for r in rows} | {r[3] for r in rows})
    x = np.array([[(t == lv) - (ref == lv) for lv in levels] for _, _, ref, t in rows], float)
    return x[:, 1:]


@pytest.mark.parametrize(
    ("rows", "s", "tau2", "beta", "interval"),
    [
        (
            EG1,
            S1,
            0.0,
            [-0.2243, -0.1667, -0.3274, -0.3152, -0.3520, -0.6489, -0.2758],
            [0.0, 0.0708],
        ),
        (EG2, S2, 0.5482, [-1.8847, -1.3366, -0.7402], [0.0788, 2.0156]),
    ],
)
def test_consistency_model(rows, s, tau2, beta, interval):
    study = [r[0] for r in rows]
    contrast = [r[2] + r[3] for r in rows]
    y = [r[1] for r in rows]
    fit = rma_mv(y, s, X=_contrasts(rows), inner=contrast, outer=study, struct="CS", rho=0.5)
    assert_tol(fit.tau2, [tau2])
    assert_tol(fit.beta, beta)
    (found,) = profile_ci(fit).intervals
    assert_tol([found.lower, found.upper], interval)
