"""van Houwelingen, Arends & Stijnen (2002), Stat Med 21, 589-624: advanced methods in
meta-analysis on the BCG vaccine trials (Colditz et al. 1994).

Expected values (pages 596-609) from metafor 3.8.1's
tests/testthat/test_analysis_example_vanhouwelingen2002.r (metafor's values at
.tol = .01; the older version of the file, 01464f3, with the paper's rounded digits, is
checked too); data dat.colditz1994 with year minus 1900; and the bivariate rma.mv models of
the arms' log odds (unstructured covariance, ML). Out of scope (tests/published/README.md):
the ``expect_equivalent(TRUE, TRUE)`` placeholders of the three plot tests and the four
``matreg`` checks (regression on the estimated between-trial covariance matrix, not
offered).
"""

import numpy as np
from _published import assert_rounded, assert_tol, metadat
from scipy import stats

from evidence.effects.escalc import escalc
from evidence.stats.multivariate import rma_mv
from evidence.stats.prediction import predict
from evidence.stats.tau2_intervals import confint_tau2
from evidence.stats.uni import fit_uni, pseudo_r2

DATA = metadat("colditz1994")
EFFECTS = escalc("OR", ai=DATA["tpos"], bi=DATA["tneg"], ci=DATA["cpos"], di=DATA["cneg"])
YI, VI = EFFECTS.yi, EFFECTS.vi


def _back(fit):
    found = predict(fit, transform="exp")
    return found.pred[0], found.ci_lower[0], found.ci_upper[0]


def test_fixed_effects_model():
    assert_rounded(_back(fit_uni(YI, VI, method="FE")), [0.647, 0.595, 0.702], 3)


def test_random_effects_model():
    fit = fit_uni(YI, VI, method="ML")
    pred, lower, upper = _back(fit)
    assert_rounded(pred, 0.476, 3)
    assert_rounded(lower, 0.336, 3)
    assert_rounded(upper, 0.675, 3)
    assert_rounded(fit.tau2, 0.302, 3)
    interval = confint_tau2(fit)  # metafor confint(res): Q-profile
    assert_rounded(interval.lower, 0.130, 3)
    assert_rounded(interval.upper, 1.181, 3)
    _, lower, upper = _back(fit_uni(YI, VI, method="ML", test="knha"))
    assert_rounded(lower, 0.318, 3)
    assert_rounded(upper, 0.714, 3)


def test_credibility_interval():
    fit = fit_uni(YI, VI, method="ML")
    # As the paper computes it: b -/+ z sqrt(tau2), without the se of b.
    z = stats.norm.ppf(0.975)
    assert_rounded(fit.beta[0] + np.array([-1, 1]) * z * np.sqrt(fit.tau2), [-1.820, 0.336], 3)
    found = predict(fit)
    assert_rounded(found.pi_lower, [-1.875], 3)
    assert_rounded(found.pi_upper, [0.391], 3)


def test_meta_regression_on_latitude():
    design = np.column_stack([np.ones(len(YI)), DATA["ablat"]])
    fit = fit_uni(YI, VI, design, method="ML")
    assert_rounded(fit.beta, [0.371, -0.033], 3)
    assert_rounded(fit.se, [0.106, 0.003], 3)
    assert_rounded(fit.tau2, 0.004, 3)
    assert_rounded(pseudo_r2(fit), 98.7, 1)


# ---------------------------------------------------------------- bivariate models
#: Long format (metafor to.long + escalc PLO): per trial the vaccinated (EXP) and the
#: control (CON) arm's log odds. Groups are labelled 1 (EXP) and 2 (CON) so that sorting
#: them keeps R's factor order (EXP, CON) for tau2.
LOG_ODDS = np.ravel(
    np.column_stack([np.log(DATA["tpos"] / DATA["tneg"]), np.log(DATA["cpos"] / DATA["cneg"])])
)
VARIANCES = np.ravel(
    np.column_stack([1 / DATA["tpos"] + 1 / DATA["tneg"], 1 / DATA["cpos"] + 1 / DATA["cneg"]])
)
GROUP = np.tile(["1", "2"], len(YI))
TRIAL = np.repeat(np.arange(1, len(YI) + 1), 2)
EXP, CON = (GROUP == "1").astype(float), (GROUP == "2").astype(float)
LATITUDE = np.repeat(DATA["ablat"], 2) - 33


def _bivariate(design):
    return rma_mv(LOG_ODDS, VARIANCES, X=design, inner=GROUP, outer=TRIAL, struct="UN", method="ML")


def test_bivariate_model():
    fit = _bivariate(np.column_stack([EXP, CON]))
    assert_rounded(fit.beta, [-4.834, -4.096], 3)
    assert_rounded(fit.tau2, [1.431, 2.407], 3)
    assert_rounded(fit.rho, [0.947], 3)
    fit = _bivariate(np.column_stack([np.ones(len(GROUP)), EXP]))  # relevel(group, "CON")
    assert_rounded(fit.beta, [-4.096, -0.738], 3)
    assert_rounded(fit.se, [0.435, 0.180], 3)
    # predict(res, newmods = 1, intercept = FALSE, transf = exp): the odds ratio
    assert_rounded(np.exp(fit.beta[1]), 0.478, 3)
    assert_rounded(np.exp(fit.ci_lower[1]), 0.336, 3)
    assert_rounded(np.exp(fit.ci_upper[1]), 0.680, 3)
    t1, t2 = fit.tau2
    assert_rounded(t1 + t2 - 2 * fit.rho[0] * np.sqrt(t1 * t2), 0.324, 3)


def test_bivariate_meta_regressions_on_latitude():
    fit = _bivariate(np.column_stack([EXP, CON, EXP * LATITUDE, CON * LATITUDE]))
    assert_rounded(fit.beta, [-4.826, -4.117, 0.039, 0.072], 3)
    assert_rounded(fit.se, [0.313, 0.306, 0.022, 0.022], 3)
    assert_rounded(fit.tau2, [1.23, 1.18], 2)
    assert_rounded(fit.rho, [1], 3)
    ones = np.ones(len(GROUP))
    fit = _bivariate(np.column_stack([ones, EXP, LATITUDE, EXP * LATITUDE]))
    assert_rounded(fit.beta, [-4.117, -0.708, 0.072, -0.033], 3)
    assert_rounded(fit.se, [0.306, 0.048, 0.022, 0.003], 3)
    assert_rounded(fit.tau2, [1.23, 1.18], 2)
    assert_rounded(fit.rho, [1], 3)


def test_metafor_381_univariate_expectations():
    """The 20 value checks of metafor 3.8.1's file on the log odds ratios."""
    for value, target in zip(
        _back(fit_uni(YI, VI, method="FE")), [0.6465, 0.5951, 0.7024], strict=True
    ):
        assert_tol(value, target)
    fit = fit_uni(YI, VI, method="ML")
    for value, target in zip(_back(fit), [0.4762, 0.3360, 0.6749], strict=True):
        assert_tol(value, target)
    assert_tol(fit.tau2, 0.3025)
    for kind, bounds in (("PL", [0.1151, 0.8937]), ("QP", [0.1302, 1.1812])):
        interval = confint_tau2(fit, kind)
        assert_tol(interval.lower, bounds[0])
        assert_tol(interval.upper, bounds[1])
    _, lower, upper = _back(fit_uni(YI, VI, method="ML", test="knha"))
    assert_tol(lower, 0.3175)
    assert_tol(upper, 0.7141)
    z = stats.norm.ppf(0.975)
    assert_tol(fit.beta[0] + np.array([-1, 1]) * z * np.sqrt(fit.tau2), [-1.8199, 0.3359])
    found = predict(fit)
    assert_tol(found.pi_lower, -1.875)
    assert_tol(found.pi_upper, 0.391)
    design = np.column_stack([np.ones(len(YI)), DATA["ablat"]])
    reg = fit_uni(YI, VI, design, method="ML")
    assert_tol(reg.beta, [0.3710, -0.0327])
    assert_tol(reg.se, [0.1061, 0.0034])
    assert_tol(reg.tau2, 0.0040)
    assert_tol(pseudo_r2(reg), 98.6691)


def test_metafor_381_bivariate_expectations():
    """The 17 value checks of the bivariate models outside ``matreg``; metafor orders the
    arms CON, EXP (our tau2 are EXP, CON, hence the reversal)."""
    ones = np.ones(len(GROUP))
    fit = _bivariate(np.column_stack([CON, EXP]))
    assert_tol(fit.beta, [-4.0960, -4.8337])
    assert_tol(fit.tau2[::-1], [2.4073, 1.4314])
    assert_tol(fit.rho, 0.9467)
    fit = _bivariate(np.column_stack([ones, EXP]))
    assert_tol(fit.beta, [-4.0960, -0.7378])
    assert_tol(fit.se, [0.4347, 0.1797])
    # predict(res, newmods = 1, intercept = FALSE, transf = exp)
    assert_tol(np.exp(fit.beta[1]), 0.4782)
    assert_tol(np.exp(fit.ci_lower[1]), 0.3362)
    assert_tol(np.exp(fit.ci_upper[1]), 0.6801)
    t1, t2 = fit.tau2
    assert_tol(t1 + t2 - 2 * fit.rho[0] * np.sqrt(t1 * t2), 0.3241)
    fit = _bivariate(np.column_stack([CON, EXP, CON * LATITUDE, EXP * LATITUDE]))
    assert_tol(fit.beta, [-4.1174, -4.8257, 0.0725, 0.0391])
    assert_tol(fit.se, [0.3061, 0.3129, 0.0219, 0.0224])
    assert_tol(fit.tau2[::-1], [1.1819, 1.2262])
    assert_tol(fit.rho, 1.0)
    fit = _bivariate(np.column_stack([ones, EXP, LATITUDE, EXP * LATITUDE]))
    assert_tol(fit.beta, [-4.1174, -0.7083, 0.0725, -0.0333])
    assert_tol(fit.se, [0.3061, 0.0481, 0.0219, 0.0028])
    assert_tol(fit.tau2[::-1], [1.1819, 1.2262])
    assert_tol(fit.rho, 1.0)
