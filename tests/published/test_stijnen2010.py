"""Stijnen, Hamza & Ozdemir (2010), Stat Med 29, 3046-3067: random-effects meta-analysis of
event outcome with the normal-normal model and with exact likelihood (binomial-normal,
conditional logistic); catheter-related infections (Niel-Weise 2007, 2008).

Expected values (Tables II, III, VII and VIII) from metafor 3.8.1's
tests/testthat/test_analysis_example_stijnen2010.r (metafor's values at .tol = .01; the
older version of the file, 01464f3, with the paper's rounded digits, is checked too); data
dat.nielweise2007 and dat.nielweise2008 (person-time in 1000 days). Out of scope
(tests/published/README.md): the expected R warnings.
"""

import numpy as np
import pytest
from _published import assert_rounded, assert_tol, metadat
from scipy.special import expit

from evidence.effects.escalc import escalc
from evidence.stats.glmm import glmm_proportions, glmm_rate, glmm_rates, glmm_tables
from evidence.stats.prediction import predict
from evidence.stats.uni import fit_uni

N2007 = metadat("nielweise2007")
N2008 = metadat("nielweise2008")
T1, T2 = N2008["t1i"] / 1000, N2008["t2i"] / 1000
Z95 = 1.959963984540054
#: The 2x2 tables of dat.nielweise2007 for log odds ratios (double-zero trials dropped).
OR_COLUMNS = {
    "ai": N2007["ai"],
    "n1i": N2007["n1i"],
    "ci": N2007["ci"],
    "n2i": N2007["n2i"],
    "drop00": True,
}


def _assert_model(estimate, se, heterogeneity, back, digits):
    """The four assertions on coefficient, se, tau2 (or tau) and the back-transformed
    prediction with its CI, each rounded as the test rounds it."""
    expected, (d_est, d_se, d_het, d_back) = digits
    assert_rounded(estimate, expected[0], d_est)
    assert_rounded(se, expected[1], d_se)
    assert_rounded(heterogeneity, expected[2], d_het)
    for value, target in zip(back, expected[3:], strict=True):
        assert_rounded(value, target, d_back)


def _normal_normal(measure, transform, **columns):
    effects = escalc(measure, **columns)
    keep = np.isfinite(effects.yi)
    fit = fit_uni(effects.yi[keep], effects.vi[keep])
    found = predict(fit, transform=transform)
    back = (found.pred[0], found.ci_lower[0], found.ci_upper[0])
    return fit, back


@pytest.mark.parametrize(
    ("arm", "expected"),
    [
        ("control", (-3.30, 0.24, 0.663, 0.036, 0.023, 0.055)),
        ("treated", (-4.26, 0.26, 0.393, 0.014, 0.008, 0.023)),
    ],
)
def test_normal_normal_model_for_logit_proportions(arm, expected):
    xi, ni = (N2007["ci"], N2007["n2i"]) if arm == "control" else (N2007["ai"], N2007["n1i"])
    fit, back = _normal_normal("PLO", "ilogit", xi=xi, ni=ni)
    _assert_model(fit.beta[0], fit.se[0], fit.tau2, back, (expected, (2, 2, 3, 3)))


@pytest.mark.parametrize(
    ("arm", "expected"),
    [
        ("control", (-3.50, 0.26, 0.81, 0.029, 0.018, 0.048)),
        ("treated", (-4.81, 0.36, 0.83, 0.008, 0.004, 0.016)),
    ],
)
def test_binomial_normal_model_for_logit_proportions(arm, expected):
    xi, ni = (N2007["ci"], N2007["n2i"]) if arm == "control" else (N2007["ai"], N2007["n1i"])
    res = glmm_proportions(xi, ni)
    back = expit([res.estimate, res.ci_lower, res.ci_upper])
    _assert_model(res.estimate, res.se, res.tau2, back, (expected, (2, 2, 2, 3)))


def test_normal_normal_model_for_odds_ratios():
    fit, back = _normal_normal("OR", "exp", **OR_COLUMNS)
    expected = (-0.980, 0.243, 0.19, 0.38, 0.23, 0.60)
    _assert_model(fit.beta[0], fit.se[0], np.sqrt(fit.tau2), back, (expected, (3, 3, 2, 2)))


def test_conditional_logistic_model_with_exact_likelihood():
    a, c = N2007["ai"], N2007["ci"]
    res = glmm_tables(a, N2007["n1i"] - a, c, N2007["n2i"] - c, model="CM.EL")
    back = np.exp([res.estimate, res.ci_lower, res.ci_upper])
    expected = (-1.353, 0.351, 0.83, 0.26, 0.13, 0.51)
    _assert_model(res.estimate, res.se, np.sqrt(res.tau2), back, (expected, (3, 3, 2, 2)))


@pytest.mark.parametrize(
    ("arm", "expected"),
    [
        ("control", (1.468, 0.243, 0.370, 4.34, 2.70, 6.98)),
        ("treated", (0.981, 0.326, 0.639, 2.67, 1.41, 5.05)),
    ],
)
def test_normal_normal_model_for_log_incidence_rates(arm, expected):
    xi, ti = (N2008["x2i"], T2) if arm == "control" else (N2008["x1i"], T1)
    fit, back = _normal_normal("IRLN", "exp", xi=xi, ti=ti)
    _assert_model(fit.beta[0], fit.se[0], fit.tau2, back, (expected, (3, 3, 3, 2)))


def test_normal_normal_model_for_incidence_rate_ratios():
    fit, back = _normal_normal("IRR", "exp", x1i=N2008["x1i"], t1i=T1, x2i=N2008["x2i"], t2i=T2)
    expected = (-0.396, 0.227, 0.31, 0.67, 0.43, 1.05)
    _assert_model(fit.beta[0], fit.se[0], np.sqrt(fit.tau2), back, (expected, (3, 3, 2, 2)))


def test_conditional_logistic_model_with_approximate_likelihood():
    a, c = N2007["ai"], N2007["ci"]
    res = glmm_tables(a, N2007["n1i"] - a, c, N2007["n2i"] - c, model="CM.AL")
    back = np.exp([res.estimate, res.ci_lower, res.ci_upper])
    expected = (-1.303, 0.339, 0.78, 0.27, 0.14, 0.53)
    _assert_model(res.estimate, res.se, np.sqrt(res.tau2), back, (expected, (3, 3, 2, 2)))


@pytest.mark.parametrize(
    ("arm", "expected"),
    [
        ("control", (1.401, 0.231, 0.317, 4.06, 2.58, 6.38)),
        ("treated", (0.849, 0.330, 0.654, 2.34, 1.22, 4.47)),
    ],
)
def test_poisson_normal_model_for_log_incidence_rates(arm, expected):
    xi, ti = (N2008["x2i"], T2) if arm == "control" else (N2008["x1i"], T1)
    res = glmm_rate(xi, ti)
    back = np.exp([res.estimate, res.ci_lower, res.ci_upper])
    _assert_model(res.estimate, res.se, res.tau2, back, (expected, (3, 3, 3, 2)))


def test_conditional_binomial_normal_model_for_incidence_rate_ratios():
    res = glmm_rates(N2008["x1i"], T1, N2008["x2i"], T2, model="CM.EL")
    back = np.exp([res.estimate, res.ci_lower, res.ci_upper])
    expected = (-0.476, 0.238, 0.35, 0.62, 0.39, 0.99)
    _assert_model(res.estimate, res.se, np.sqrt(res.tau2), back, (expected, (3, 3, 2, 2)))


# ---------------------------------------------------------------- metafor 3.8.1's file
def _glmm_back(res, transform):
    back = transform(np.array([res.estimate, res.ci_lower, res.ci_upper]))
    return res.estimate, res.se, res.tau2, back


def _nn_back(measure, transform, **columns):
    fit, back = _normal_normal(measure, transform, **columns)
    return fit.beta[0], fit.se[0], fit.tau2, back


def _tables(model):
    a, c = N2007["ai"], N2007["ci"]
    return glmm_tables(a, N2007["n1i"] - a, c, N2007["n2i"] - c, model=model)


MODELS_381 = {
    "PLO control": (
        lambda: _nn_back("PLO", "ilogit", xi=N2007["ci"], ni=N2007["n2i"]),
        [-3.3018, 0.2378, 0.6629, 0.0355, 0.0226, 0.0554],
    ),
    "PLO treated": (
        lambda: _nn_back("PLO", "ilogit", xi=N2007["ai"], ni=N2007["n1i"]),
        [-4.2604, 0.2589, 0.3928, 0.0139, 0.0084, 0.0229],
    ),
    "binomial-normal control": (
        lambda: _glmm_back(glmm_proportions(N2007["ci"], N2007["n2i"]), expit),
        [-3.4964, 0.2570, 0.8124, 0.0294, 0.0180, 0.0478],
    ),
    "binomial-normal treated": (
        lambda: _glmm_back(glmm_proportions(N2007["ai"], N2007["n1i"]), expit),
        [-4.8121, 0.3555, 0.8265, 0.0081, 0.0040, 0.0161],
    ),
    "OR normal-normal (tau)": (
        lambda: _nn_back("OR", "exp", **OR_COLUMNS),
        [-0.9804, 0.2435, 0.1886, 0.3752, 0.2328, 0.6046],
    ),
    "CM.EL (tau)": (
        lambda: _glmm_back(_tables("CM.EL"), np.exp),
        [-1.3532, 0.3511, 0.8327, 0.2584, 0.1299, 0.5142],
    ),
    "CM.AL (tau)": (
        lambda: _glmm_back(_tables("CM.AL"), np.exp),
        [-1.3027, 0.3386, 0.7750, 0.2718, 0.1400, 0.5279],
    ),
    "IRLN control": (
        lambda: _nn_back("IRLN", "exp", xi=N2008["x2i"], ti=T2),
        [1.4676, 0.2425, 0.3699, 4.3389, 2.6973, 6.9795],
    ),
    "IRLN treated": (
        lambda: _nn_back("IRLN", "exp", xi=N2008["x1i"], ti=T1),
        [0.9808, 0.3259, 0.6393, 2.6667, 1.4078, 5.0513],
    ),
    "Poisson-normal control": (
        lambda: _glmm_back(glmm_rate(N2008["x2i"], T2), np.exp),
        [1.4007, 0.2310, 0.3165, 4.0580, 2.5803, 6.3819],
    ),
    "Poisson-normal treated": (
        lambda: _glmm_back(glmm_rate(N2008["x1i"], T1), np.exp),
        [0.8494, 0.3303, 0.6543, 2.3383, 1.2240, 4.4670],
    ),
    "IRR normal-normal (tau)": (
        lambda: _nn_back("IRR", "exp", x1i=N2008["x1i"], t1i=T1, x2i=N2008["x2i"], t2i=T2),
        [-0.3963, 0.2268, 0.3060, 0.6728, 0.4314, 1.0494],
    ),
    "IRR CM.EL (tau)": (
        lambda: _glmm_back(glmm_rates(N2008["x1i"], T1, N2008["x2i"], T2, model="CM.EL"), np.exp),
        [-0.4762, 0.2377, 0.3501, 0.6211, 0.3898, 0.9897],
    ),
}


@pytest.mark.parametrize("name", MODELS_381)
def test_metafor_381_expectations(name):
    """Coefficient, se, tau2 (tau where the name says so) and the back-transformed
    prediction with its CI: six assertions of metafor 3.8.1's file per model."""
    compute, expected = MODELS_381[name]
    estimate, se, tau2, back = compute()
    heterogeneity = np.sqrt(tau2) if name.endswith("(tau)") else tau2
    for value, target in zip([estimate, se, heterogeneity, *back], expected, strict=True):
        assert_tol(value, target)
