"""Issue 15 against R metafor 3.8.1 at its optimum (tests/reference/make_metafor15_fixtures.R).

Two metadat datasets (dat.bcg with absolute latitude, dat.raudenbush1985 with weeks of
prior contact) for every tau2 estimator's tau2 and se(tau2) in a meta-regression,
predictions at new moderator values, fitted values, BLUPs, random effects, Q-profile and
profile-likelihood intervals for the residual tau2 (ML and REML), Knapp-Hartung
predictions and the Henmi-Copas interval; and the new escalc measures on metadat data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.effects.escalc import escalc
from evidence.stats.pooling import pool
from evidence.stats.prediction import blup, predict, ranef
from evidence.stats.tau2_intervals import confint_tau2, henmi_copas
from evidence.stats.uni import fit_uni

FIXTURES = json.loads((Path(__file__).parent / "reference" / "metafor15_fixtures.json").read_text())
#: metafor at its optimum (R run with threshold/tol 1e-13).
RTOL_ESTIMATE = 1e-6
#: Intervals found by root finding on both sides (R uniroot at tol 1e-13).
RTOL_BOUND = 1e-6
#: Where tau2 sits at (or converges geometrically to) the boundary 0 (dat.raudenbush1985
#: with weeks: SJIT, ML, REML), both programs stop at their own tiny positive tau2; values
#: that scale with tau2 or its square root (the random effects' se) agree to this much.
ATOL_BOUNDARY = 1e-9
ATOL_BOUNDARY_SE = 1e-6
DATASETS = ("bcg", "raudenbush")
ESTIMATORS = ("HS", "HSk", "HE", "DL", "DLIT", "SJ", "SJIT", "PM", "PMM", "ML", "REML", "EB")


def _data(name):
    entry = FIXTURES[name]
    y, v, mod = (np.array(entry[key], dtype=float) for key in ("yi", "vi", "mod"))
    return y, v, np.column_stack([np.ones_like(mod), mod])


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("method", ESTIMATORS)
def test_estimator_tau2_se_and_coefficients(name, method):
    y, v, x = _data(name)
    expected = FIXTURES[name]["estimators"][method]
    fit = fit_uni(y, v, x, method=method.upper())
    assert_allclose(fit.tau2, expected["tau2"], rtol=RTOL_ESTIMATE, atol=ATOL_BOUNDARY)
    assert_allclose(fit.se_tau2, expected["se_tau2"], rtol=RTOL_ESTIMATE)
    assert_allclose(fit.beta, expected["beta"], rtol=RTOL_ESTIMATE)
    assert_allclose(fit.se, expected["se"], rtol=RTOL_ESTIMATE)


@pytest.mark.parametrize("name", DATASETS)
def test_generalised_q_with_weights(name):
    y, v, x = _data(name)
    expected = FIXTURES[name]["estimators"]["GENQ"]
    fit = fit_uni(y, v, x, method="GENQ", weights=1 / np.sqrt(v))
    assert_allclose(fit.tau2, expected["tau2"], rtol=RTOL_ESTIMATE)
    assert_allclose(fit.se_tau2, expected["se_tau2"], rtol=RTOL_ESTIMATE)
    assert_allclose(fit.beta, expected["beta"], rtol=RTOL_ESTIMATE)
    assert_allclose(fit.se, expected["se"], rtol=RTOL_ESTIMATE)


def _compare(ours, expected, keys, atol=1e-10):
    mapping = {"pred": "pred", "se": "se", "ci_lb": "ci_lower", "ci_ub": "ci_upper"}
    mapping |= {"pi_lb": "pi_lower", "pi_ub": "pi_upper"}
    for key in keys:
        assert_allclose(getattr(ours, mapping[key]), expected[key], rtol=RTOL_ESTIMATE, atol=atol)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_predict_blup_ranef_fitted(name, method):
    y, v, x = _data(name)
    expected = FIXTURES[name][method]
    fit = fit_uni(y, v, x, method=method)
    assert_allclose(fit.tau2, expected["tau2"], rtol=RTOL_ESTIMATE, atol=ATOL_BOUNDARY)
    assert_allclose(fit.loglik, expected["loglik"], rtol=RTOL_ESTIMATE)
    keys = ("pred", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub")
    _compare(predict(fit, expected["newmods"]), expected["predict"], keys)
    assert_allclose(fit.fitted(), expected["fitted"], rtol=RTOL_ESTIMATE)
    _compare(blup(fit), expected["blup"], ("pred", "se", "pi_lb", "pi_ub"))
    _compare(ranef(fit), expected["ranef"], ("pred", "se", "pi_lb", "pi_ub"), ATOL_BOUNDARY_SE)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("kind", ["QP", "PL"])
def test_residual_tau2_intervals(name, method, kind):
    y, v, x = _data(name)
    expected = FIXTURES[name][method][kind.lower()]
    interval = confint_tau2(fit_uni(y, v, x, method=method), kind)
    assert_allclose(
        [interval.tau2, interval.lower, interval.upper], expected, rtol=RTOL_BOUND, atol=1e-10
    )


@pytest.mark.parametrize("name", DATASETS)
def test_knha_predictions(name):
    y, v, x = _data(name)
    fit = fit_uni(y, v, x, method="REML", test="knha")
    expected = FIXTURES[name]["knha_predict"]
    _compare(predict(fit, FIXTURES[name]["REML"]["newmods"]), expected, tuple(expected))


@pytest.mark.parametrize("name", DATASETS)
def test_henmi_copas(name):
    y, v, _ = _data(name)
    expected = FIXTURES[name]["hc"]
    found = henmi_copas(y, v)
    assert_allclose(
        [found.estimate, found.se, *found.ci, found.tau2],
        [expected[k] for k in ("beta", "se", "ci_lb", "ci_ub", "tau2")],
        rtol=RTOL_BOUND,
    )


def _inputs(name):
    return {key: np.array(values, dtype=float) for key, values in FIXTURES["inputs"][name].items()}


def _measure_columns(measure):
    if measure == "PETO_zero":
        return _inputs("nielweise2007")
    if measure in ("AS", "PHI", "MPRD", "MPRR", "MPOR", "MPORC", "MPPETO", "PETO"):
        b = _inputs("bcg")
        return {"ai": b["tpos"], "bi": b["tneg"], "ci": b["cpos"], "di": b["cneg"]}
    if measure in ("RPB", "RBIS"):
        return _inputs("normand")
    if measure == "UCOR":
        return _inputs("molloy")
    if measure == "PFT":
        return _inputs("pritz")
    if measure == "IRD":
        return _inputs("nielweise")
    m = _inputs("morris")
    columns = {"m1i": m["m_post"], "m2i": m["m_pre"], "ni": m["ni"], "ri": m["ri"]}
    if measure == "SMCR":
        return columns | {"sd1i": m["sd_pre"]}
    return columns | {"sd1i": m["sd_post"], "sd2i": m["sd_pre"]}


MEASURES = ("AS", "PHI", "MPRD", "MPRR", "MPOR", "MPORC", "MPPETO", "PETO", "PETO_zero")
MEASURES += ("RPB", "RBIS", "UCOR")
MEASURES += ("PFT", "IRD", "SMCR", "SMCC")


@pytest.mark.parametrize("measure", MEASURES)
def test_new_measures(measure):
    # PETO_zero: PETO on dat.nielweise2007, whose zero cells get metafor's default 1/2.
    effects = escalc(measure.removesuffix("_zero"), **_measure_columns(measure))
    expected = FIXTURES["measures"][measure]
    assert_allclose(effects.yi, expected["yi"], rtol=RTOL_ESTIMATE, atol=1e-14)
    assert_allclose(effects.vi, expected["vi"], rtol=RTOL_ESTIMATE)


def test_pft_pooled_back_transformed_with_harmonic_mean_n():
    columns = _measure_columns("PFT")
    effects = escalc("PFT", **columns)
    fit = fit_uni(effects.yi, effects.vi, method="REML")
    found = predict(fit, transform="ipft.hm", ni=columns["ni"])
    expected = FIXTURES["measures"]["PFT_pooled"]
    _compare(found, expected, ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub"))


#: Two root finders of the same profile equation (brentq on different brackets).
SAME_ROOT = 1e-9


@pytest.mark.parametrize(
    ("method", "kind"), [("DL", "QP"), ("PM", "QP"), ("REML", "PL"), ("ML", "PL")]
)
def test_tau2_interval_of_a_fit_is_the_pooled_interval(method, kind):
    """confint_tau2 and pool()'s tau2_ci give the same interval: Q-profile for moment
    estimators, profile likelihood for ML/REML (whose estimate it always contains)."""
    data = _inputs("bcg")
    effects = escalc("RR", ai=data["tpos"], bi=data["tneg"], ci=data["cpos"], di=data["cneg"])
    found = confint_tau2(fit_uni(effects.yi, effects.vi, method=method), kind)
    pooled = pool(effects.yi, effects.vi, method=method)
    assert_allclose((found.lower, found.upper), pooled.tau2_ci, rtol=SAME_ROOT)


def test_q_profile_interval_of_homogeneous_effects_is_zero_with_a_note():
    found = confint_tau2(fit_uni([0.1, 0.1, 0.1, 0.1], [0.02, 0.03, 0.04, 0.05], method="DL"))
    assert (found.lower, found.upper) == (0.0, 0.0)
    assert "the interval is {0}" in found.notes[0]
