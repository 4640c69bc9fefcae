"""DerSimonian & Kacker (2007), Contemp Clin Trials 28, 105-114: the CLASP example.

Expected values (Tables 3 and 4, pages 111-112) from metafor's
tests/testthat/test_analysis_example_dersimonian2007.r: tau, mu and se under PM, HE (CA),
DL, two-step GENQ (CA2, DL2, refitted at that tau2), EB, ML, REML, HS, SJ and SJ started
at the HE estimate.
"""

import numpy as np
from _published import assert_rounded

from evidence.effects.escalc import escalc
from evidence.stats.uni import fit_uni

N1 = np.array([156, 303, 565, 1570, 103, 4659.0])
N2 = np.array([74, 303, 477, 1565, 105, 4650.0])
AI = np.array([5, 5, 12, 69, 9, 313.0])
CI = np.array([8, 17, 9, 94, 11, 352.0])


#: Row of the ML fit. metafor 3.8.1's Fisher scoring stops (threshold 1e-5) at tau2 =
#: 5.2e-6, i.e. tau = 0.0023 as printed; with threshold 1e-13 it reaches tau2 = 7e-15 and a
#: higher log-likelihood (-3.268071 against -3.268181): the ML maximum is at 0, where we are.
#: That assertion is therefore out of scope (tests/published/README.md); the other ten rows
#: are checked as printed and the ML row at the optimum.
ML_ROW = 6


def test_tau_mu_and_se_under_eleven_estimators():
    e = escalc("OR", ai=AI, n1i=N1, ci=CI, n2i=N2)
    y, v = e.yi, e.vi
    ca = fit_uni(y, v, method="HE")
    dl = fit_uni(y, v, method="DL")
    ca2 = fit_uni(y, v, method="GENQ", weights=1 / (v + ca.tau2))
    dl2 = fit_uni(y, v, method="GENQ", weights=1 / (v + dl.tau2))
    fits = [
        fit_uni(y, v, method="PM"),
        ca,
        dl,
        fit_uni(y, v, tau2=ca2.tau2),
        fit_uni(y, v, tau2=dl2.tau2),
        fit_uni(y, v, method="EB"),
        fit_uni(y, v, method="ML"),
        fit_uni(y, v, method="REML"),
        fit_uni(y, v, method="HS"),
        fit_uni(y, v, method="SJ"),
        fit_uni(y, v, method="SJ", tau2_init=ca.tau2),
    ]
    table = np.array([[np.sqrt(f.tau2), f.beta[0], f.se[0]] for f in fits])
    expected = np.array(
        [
            [0.3681, 0.441, 0.2323, 0.3831, 0.3254, 0.3681, 0.0023, 0.1843, 0.1330, 0.4572, 0.4084],
            [
                -0.3811,
                -0.4035,
                -0.3240,
                -0.3861,
                -0.3655,
                -0.3811,
                -0.1974,
                -0.2980,
                -0.2666,
                -0.4079,
                -0.3941,
            ],
            [
                0.2060,
                0.2327,
                0.1540,
                0.2115,
                0.1901,
                0.2060,
                0.0694,
                0.1343,
                0.1125,
                0.2386,
                0.2208,
            ],
        ]
    ).T
    others = np.arange(11) != ML_ROW
    assert_rounded(table[others], expected[others], 4)
    assert table[ML_ROW, 0] < 1e-4
    assert_rounded(table[ML_ROW, 2], expected[ML_ROW, 2], 4)
