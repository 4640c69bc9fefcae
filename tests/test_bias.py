"""Small-study-effect tests against R metafor 3.8 and R lm()
(tests/reference/make_diagnostics_fixtures.R -> diagnostics_bias.json).

Datasets (metafor names): dat.bcg (Colditz 1994), dat.hackshaw1998 (passive smoking and
lung cancer; the regtest/trimfill example of the metafor documentation), dat.molloy2014,
dat.normand1999 (k = 9: underpowered), dat.raudenbush1985, dat.bangertdrowns2004.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats import bias
from evidence.stats.errors import InputError

RTOL = 1e-6
FIXTURES = json.loads((Path(__file__).parent / "reference" / "diagnostics_bias.json").read_text())[
    "datasets"
]
NAMES = sorted(FIXTURES)


@pytest.mark.parametrize("name", NAMES)
def test_egger_matches_regtest(name):
    data, ref = FIXTURES[name], FIXTURES[name]["regtest"]
    result = bias.egger(data["yi"], data["vi"])
    assert_allclose(result.statistic, ref["statistic"], rtol=RTOL)
    assert_allclose(result.p, ref["p"], rtol=RTOL)
    assert_allclose(result.limit_estimate, ref["limit_estimate"], rtol=RTOL)
    assert_allclose(result.limit_ci, [ref["limit_ci_lb"], ref["limit_ci_ub"]], rtol=RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_egger_knapp_hartung_matches_regtest(name):
    data, ref = FIXTURES[name], FIXTURES[name]["regtest_knha"]
    result = bias.egger(data["yi"], data["vi"], test="knha")
    assert_allclose(result.statistic, ref["statistic"], rtol=RTOL)
    assert_allclose(result.p, ref["p"], rtol=RTOL)
    assert result.df == ref["df"]
    assert_allclose(result.limit_estimate, ref["limit_estimate"], rtol=RTOL)
    assert_allclose(result.limit_ci, [ref["limit_ci_lb"], ref["limit_ci_ub"]], rtol=RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_begg_matches_ranktest(name):
    data, ref = FIXTURES[name], FIXTURES[name]["ranktest"]
    result = bias.begg(data["yi"], data["vi"])
    assert_allclose(result.tau, ref["tau"], rtol=RTOL)
    assert_allclose(result.p, ref["p"], rtol=RTOL)


@pytest.mark.parametrize("estimator", ["L0", "R0"])
@pytest.mark.parametrize("name", NAMES)
def test_trimfill_matches_metafor_trimfill(name, estimator):
    data, ref = FIXTURES[name], FIXTURES[name][f"trimfill_{estimator}"]
    result = bias.trimfill(data["yi"], data["vi"], estimator=estimator)
    assert result.k0 == ref["k0"]
    assert result.side == ref["side"]
    assert_allclose(result.estimate, ref["estimate"], rtol=RTOL)
    assert_allclose(result.se, ref["se"], rtol=RTOL)
    assert_allclose(result.ci, [ref["ci_lb"], ref["ci_ub"]], rtol=RTOL)
    assert_allclose(result.tau2, ref["tau2"], rtol=RTOL, atol=1e-9)
    assert_allclose(result.filled_yi, np.atleast_1d(ref["filled_yi"]), rtol=RTOL)
    assert_allclose(result.filled_vi, np.atleast_1d(ref["filled_vi"]), rtol=RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_failsafe_n_matches_fsn(name):
    data = FIXTURES[name]
    result = bias.failsafe_n(data["yi"], data["vi"])
    assert result.rosenthal == data["fsn_rosenthal"]
    assert result.orwin == data["fsn_orwin"]
    assert (
        bias.failsafe_n(data["yi"], data["vi"], weighted=True).orwin == data["fsn_orwin_weighted"]
    )


def test_orwin_with_a_target_by_hand():
    # Hand derivation: unweighted mean of (0.2, 0.4, 0.6) is 0.4; with target 0.1,
    # N = k (mean - target) / target = 3 * 0.3 / 0.1 = 9.
    assert bias.failsafe_n([0.2, 0.4, 0.6], [0.01, 0.02, 0.03], target=0.1).orwin == 9


@pytest.mark.parametrize("name", NAMES)
def test_pet_and_peese_match_weighted_lm(name):
    data = FIXTURES[name]
    result = bias.pet_peese(data["yi"], data["vi"])
    for fit, ref in ((result.pet, data["pet"]), (result.peese, data["peese"])):
        assert_allclose(fit.intercept, ref["intercept"], rtol=RTOL)
        assert_allclose(fit.se, ref["se"], rtol=RTOL)
        assert_allclose(fit.statistic, ref["t"], rtol=RTOL)
        assert_allclose(fit.p, ref["p"], rtol=RTOL)
        assert_allclose(fit.ci, [ref["ci_lb"], ref["ci_ub"]], rtol=RTOL)
    expected = "PEESE" if data["pet"]["p"] < 0.10 else "PET"
    assert result.chosen == expected


def test_fewer_than_ten_studies_are_flagged_underpowered_normand1999():
    data = FIXTURES["normand1999"]
    result = bias.small_study_tests(data["yi"], data["vi"])
    for key in ("egger", "begg", "trimfill", "pet_peese"):
        assert result[key]["underpowered"] is True
        assert "9 estimates" in result[key]["message"]
    assert bias.egger(FIXTURES["bcg"]["yi"], FIXTURES["bcg"]["vi"]).underpowered is False


def test_json_keys_follow_the_design():
    data = FIXTURES["hackshaw1998"]
    result = bias.small_study_tests(data["yi"], data["vi"])
    assert {"statistic", "p", "limit_estimate", "limit_ci"} <= set(result["egger"])
    assert {"tau", "p"} <= set(result["begg"])
    assert {"k0", "side", "estimate", "ci"} <= set(result["trimfill"])
    assert {"rosenthal", "orwin"} <= set(result["failsafe_n"])
    text = json.dumps(result, allow_nan=False)
    assert not math.isnan(json.loads(text)["egger"]["p"])


def test_bad_input_is_a_problem_not_a_traceback():
    with pytest.raises(InputError):
        bias.egger([0.1, 0.2], [0.01, 0.02])
    with pytest.raises(InputError, match="estimator"):
        bias.trimfill([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], estimator="Q9")


def test_equal_standard_errors_leave_regression_tests_undefined_not_a_traceback():
    result = bias.small_study_tests([0.2, 0.3, 0.4, 0.1], [0.05] * 4)
    assert result["egger"] is None and result["pet_peese"] is None
    assert result["trimfill"] is None and result["begg"] is None
    assert result["failsafe_n"]["rosenthal"] >= 0
    assert any("same standard error" in note for note in result["bias_notes"])
    with pytest.raises(InputError, match="same standard error"):
        bias.egger([0.2, 0.3, 0.4], [0.05] * 3)


POOLING = json.loads((Path(__file__).parent / "reference" / "pooling_fixtures.json").read_text())[
    "datasets"
]


def _pooling_cases(key):
    # k = 2 (dat.bcg[1:2]) is left out: metafor's ranktest() still returns a tau there;
    # ours refuses below 3 studies (test_begg_refuses_two_studies).
    return [
        pytest.param(d, id=f"{d['name']}-{d['measure']}")
        for d in POOLING
        if d["bias"][key] is not None and len(d["escalc"]["yi"]) > 2
    ]


# The 17 dataset/measure combinations of tests/reference/make_fixtures.R (dat.bcg RR/OR,
# dat.normand1999 MD/SMD, dat.molloy2014 ZCOR/COR, dat.nielweise2007 and dat.yusuf1985 zero
# cells, dat.hine1989 tau2 = 0, dat.curtis1998 k = 102, dat.pritz1997 PR/PLO, dat.hart1999
# IRR, dat.raudenbush1985): regtest (z and knha), ranktest and trimfill (L0, R0) as metafor.
@pytest.mark.parametrize("test", ["z", "knha"])
@pytest.mark.parametrize("dataset", _pooling_cases("regtest"))
def test_egger_matches_regtest_on_every_pooling_dataset(dataset, test):
    ref = dataset["bias"]["regtest" if test == "z" else "regtest_knha"]
    result = bias.egger(dataset["escalc"]["yi"], dataset["escalc"]["vi"], test=test)
    assert_allclose(result.statistic, ref["statistic"], rtol=RTOL)
    assert_allclose(result.p, ref["p"], rtol=RTOL)
    if test == "knha":
        assert result.df == ref["df"]
    assert_allclose(result.limit_estimate, ref["limit_estimate"], rtol=RTOL, atol=1e-12)
    assert_allclose(result.limit_ci, ref["limit_ci"], rtol=RTOL)


@pytest.mark.parametrize("dataset", _pooling_cases("ranktest"))
def test_begg_matches_ranktest_on_every_pooling_dataset(dataset):
    ref = dataset["bias"]["ranktest"]
    result = bias.begg(dataset["escalc"]["yi"], dataset["escalc"]["vi"])
    assert_allclose(result.tau, ref["tau"], rtol=RTOL, atol=1e-12)
    assert_allclose(result.p, ref["p"], rtol=RTOL)


@pytest.mark.parametrize("estimator", ["L0", "R0"])
@pytest.mark.parametrize("dataset", _pooling_cases("trimfill_L0"))
def test_trimfill_matches_metafor_on_every_pooling_dataset(dataset, estimator):
    ref = dataset["bias"][f"trimfill_{estimator}"]
    result = bias.trimfill(dataset["escalc"]["yi"], dataset["escalc"]["vi"], estimator=estimator)
    assert result.k0 == ref["k0"]
    assert result.side == ref["side"]
    assert_allclose(result.estimate, ref["estimate"], rtol=RTOL)
    assert_allclose(result.se, ref["se"], rtol=RTOL)
    assert_allclose(result.ci, ref["ci"], rtol=RTOL)
    assert_allclose(result.tau2, ref["tau2"], rtol=RTOL, atol=1e-9)
    filled_yi = [] if ref["filled_yi"] is None else np.atleast_1d(ref["filled_yi"])
    filled_vi = [] if ref["filled_vi"] is None else np.atleast_1d(ref["filled_vi"])
    assert_allclose(result.filled_yi, filled_yi, rtol=RTOL)
    assert_allclose(result.filled_vi, filled_vi, rtol=RTOL)


def test_begg_refuses_two_studies():
    data = next(d for d in POOLING if d["name"] == "dat.bcg[1:2]")
    with pytest.raises(InputError, match="at least 3 studies"):
        bias.begg(data["escalc"]["yi"], data["escalc"]["vi"])


def test_begg_is_exact_without_ties_up_to_the_limit_then_normal():
    # dat.curtis1998 (k = 102, no ties) is exact as metafor's cor.test(exact = TRUE): checked
    # above against ranktest(). Past BEGG_EXACT_LIMIT the normal approximation is used.
    curtis = next(d for d in POOLING if d["name"] == "dat.curtis1998")
    assert bias.begg(curtis["escalc"]["yi"], curtis["escalc"]["vi"]).exact is True
    rng = np.random.default_rng(7)
    k = bias.BEGG_EXACT_LIMIT + 1
    vi = rng.uniform(0.01, 0.3, k)
    assert bias.begg(rng.normal(0.2, np.sqrt(vi + 0.05)), vi).exact is False
