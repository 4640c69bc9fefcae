"""Viechtbauer (2007), Z Psychol 215, 104-121: St John's wort versus placebo for depression
(17 trials of Linde et al. 2005), relative rates with equal-, random- and mixed-effects
models and the residual tau^2 of the meta-regression under eleven estimators.

Expected values (pages 106-113) from metafor 3.8.1's
tests/testthat/test_analysis_example_viechtbauer2007b.r (its 4.x version, 0aecc95, adds
regplot image comparisons and expects DLIT at the PM value); data dat.linde2005 (rows 7-10
and 13-25, as the test selects).
"""

import numpy as np
from _published import assert_tol, metadat

from evidence.effects.escalc import escalc
from evidence.stats.prediction import predict
from evidence.stats.uni import fit_uni, pseudo_r2

LINDE = metadat("linde2005")
ROWS = np.r_[6:10, 12:25]  # R's c(7:10, 13:25)
DATA = {key: values[ROWS] for key, values in LINDE.items()}
EFFECTS = escalc("RR", ai=DATA["ai"], ci=DATA["ci"], n1i=DATA["n1i"], n2i=DATA["n2i"])
YI, VI = EFFECTS.yi, EFFECTS.vi
Z95 = 1.959963984540054
#: Weekly dose in grams times weeks of treatment, and the baseline HRSD score, centred as
#: the test centres them; the model is ~ dose * baseline.
DOSE = DATA["dosage"] * 7 / 1000 * DATA["duration"] - 34
BASELINE = DATA["baseline"] - 20
X = np.column_stack([np.ones(len(YI)), DOSE, BASELINE, DOSE * BASELINE])


def test_study_confidence_intervals():
    # summary(dat, transf = exp)[c(13, 17), ]: exp(yi -/+ z sqrt(vi)) of two trials.
    pick = [12, 16]
    lower = np.exp(YI[pick] - Z95 * np.sqrt(VI[pick]))
    upper = np.exp(YI[pick] + Z95 * np.sqrt(VI[pick]))
    assert_tol(lower, [0.7397, 1.0039])
    assert_tol(upper, [1.2793, 1.5434])


def test_equal_effects_model():
    fit = fit_uni(YI, VI, method="FE")
    found = predict(fit, transform="exp")
    assert_tol([found.pred[0], found.ci_lower[0], found.ci_upper[0]], [1.3840, 1.2599, 1.5204])
    assert_tol(fit.qe, 51.5454)


def test_random_effects_model():
    fit = fit_uni(YI, VI, method="DL")
    found = predict(fit, transform="exp")
    assert_tol([found.pred[0], found.ci_lower[0], found.ci_upper[0]], [1.5722, 1.3103, 1.8864])
    assert_tol([found.pi_lower[0], found.pi_upper[0]], [0.8488, 2.9120])
    assert_tol(fit.tau2, 0.0903)


def test_mixed_effects_model():
    names = ("intrcpt", "dose", "baseline", "dose:baseline")
    fit = fit_uni(YI, VI, X, names=names, method="DL")
    assert_tol(fit.tau2, 0.0475)
    assert_tol(pseudo_r2(fit), 47.3778)
    table = np.column_stack([fit.beta, fit.se, fit.statistic, fit.p_value])
    expected = [
        [0.47625885, 0.08764097, 5.43420301, 6e-08],
        [-0.0058448, 0.00999872, -0.58455444, 0.55884735],
        [-0.06722782, 0.03522283, -1.9086436, 0.05630808],
        [-0.00156996, 0.00344659, -0.45551255, 0.64874054],
    ]
    # coef(summary(res))[, 1:4], compared column-wise as R compares data frames.
    for column in range(4):
        assert_tol(table[:, column], np.asarray(expected)[:, column])
    for baseline, values in ((12.5, [2.6657, 1.4560, 4.8806]), (23.6, [1.2639, 0.9923, 1.6099])):
        found = predict(fit, [0.0, baseline - 20, 0.0], transform="exp")
        assert_tol([found.pred[0], found.ci_lower[0], found.ci_upper[0]], values)


ESTIMATORS = {
    # method: (tau2, se(tau2)) from the test's table
    "HS": (0.0253, 0.0197),
    "HE": (0.0388, 0.0764),
    "DL": (0.0475, 0.0376),
    "GENQ": (0.06, 0.0528),
    "SJ": (0.0912, 0.0436),
    "SJIT": (0.0633, 0.046),
    "PM": (0.0633, 0.046),
    "ML": (0.024, 0.0222),
    "REML": (0.0558, 0.0409),
    "EB": (0.0633, 0.046),
}


def test_residual_tau2_and_its_standard_error_under_every_estimator():
    """The test's table without its DLIT row: those two assertions compare all eleven
    values at once and are out of scope, because the test file (written for a later
    metafor) expects DLIT to reach the PM value 0.0633, while metafor 3.8.1's DLIT (and
    ours, checked against it in tests/test_metafor15.py) reaches 0.0299 (se 0.0437) on
    these data."""
    tau2, se = [], []
    for method in ESTIMATORS:
        weights = DATA["n1i"] + DATA["n2i"] if method == "GENQ" else None
        fit = fit_uni(YI, VI, X, method=method, weights=weights)
        tau2.append(fit.tau2)
        se.append(fit.se_tau2)
    assert_tol(tau2, [value[0] for value in ESTIMATORS.values()])
    assert_tol(se, [value[1] for value in ESTIMATORS.values()])


def test_metafor_381_table_with_dlit():
    """metafor 3.8.1's file expects DLIT (run with maxiter = 500) at 0.0299 (se 0.0437),
    the value metafor 3.8.1 reaches, so there both vectors are in scope and checked whole,
    in the file's order."""
    order = ("HS", "HE", "DL", "GENQ", "SJ", "DLIT", "SJIT", "PM", "ML", "REML", "EB")
    fits = [
        fit_uni(YI, VI, X, method=m, weights=DATA["n1i"] + DATA["n2i"] if m == "GENQ" else None)
        for m in order
    ]
    expected_tau2 = [
        0.0253,
        0.0388,
        0.0475,
        0.06,
        0.0912,
        0.0299,
        0.0633,
        0.0633,
        0.024,
        0.0558,
        0.0633,
    ]
    expected_se = [
        0.0197,
        0.0764,
        0.0376,
        0.0528,
        0.0436,
        0.0437,
        0.046,
        0.046,
        0.0222,
        0.0409,
        0.046,
    ]
    assert_tol([f.tau2 for f in fits], expected_tau2)
    assert_tol([f.se_tau2 for f in fits], expected_se)
