"""Edge cases of the pooling engine: each expected value is derived by hand in the test."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats import likelihood
from evidence.stats.errors import InputError
from evidence.stats.pooling import TauConvergenceWarning, estimate_tau2, fit_batch, pool

FIXTURES = json.loads((Path(__file__).parent / "reference" / "pooling_fixtures.json").read_text())
RTOL = 1e-6


def test_single_study_returns_its_own_estimate() -> None:
    # k = 1: estimate = yi, se = sqrt(vi), z = yi/se; heterogeneity undefined.
    result = pool([0.4], [0.04], method="REML")
    assert result.estimate == pytest.approx(0.4)
    assert result.se == pytest.approx(0.2)
    assert result.statistic == pytest.approx(2.0)
    data = result.to_dict()
    for key in ("tau2", "tau", "i2", "h2", "q", "q_df", "q_p", "tau2_ci", "i2_ci"):
        assert data[key] is None, key
    assert "k = 1" in result.notes[0]
    assert result.pi is not None  # tau2 undefined is taken as 0 in the interval, as metafor


def test_single_study_knha_falls_back_to_z_as_metafor() -> None:
    # k - p = 0 degrees of freedom: metafor sets test = "z" for k = 1 (issue 11), so the
    # study's own se 0.2, z = 2, p = 2 (1 - pnorm(2)) and the z interval.
    data = pool([0.4], [0.04], test="knha").to_dict()
    assert data["test"] == "z" and data["df"] is None
    assert data["se"] == pytest.approx(0.2) and data["statistic"] == pytest.approx(2.0)
    assert data["p"] == pytest.approx(0.04550026389635839, rel=1e-12)
    assert data["ci"] == pytest.approx(
        [0.4 - 1.959963984540054 * 0.2, 0.4 + 1.959963984540054 * 0.2]
    )


def test_identical_effects() -> None:
    # All yi equal: Q = 0, every estimator gives tau2 = 0, I2 = 0, H2 = 1, estimate = yi.
    result = pool([0.5, 0.5, 0.5], [0.1, 0.2, 0.3], method="REML")
    assert result.estimate == pytest.approx(0.5)
    assert result.tau2 == 0 and result.q == pytest.approx(0) and result.i2 == 0
    assert result.h2 == 1
    # se = sqrt(1 / (10 + 5 + 10/3))
    assert result.se == pytest.approx(math.sqrt(1 / (10 + 5 + 10 / 3)))
    assert any("identical" in note for note in result.notes)


@pytest.mark.parametrize("method", ["REML", "DL", "PM"])
def test_identical_effects_knapp_hartung_zero_width_interval_with_a_note(method: str) -> None:
    # Hand derivation: every residual is 0, so s2 = sum w (y - mu)^2 / (k - 1) = 0 and
    # se = sqrt(s2 / sum w) = 0; the CI and PI collapse to mu. metafor 3.8
    # rma(c(.3, .3, .3), c(.01, .02, .03), test = "knha") prints the same: se 0, zval Inf,
    # pval 0, ci.lb = ci.ub = pi.lb = pi.ub = 0.3.
    result = pool([0.3, 0.3, 0.3], [0.01, 0.02, 0.03], method=method, test="knha")
    assert result.estimate == 0.3 and result.se == 0.0 and result.p == 0.0
    assert result.ci == (0.3, 0.3) and result.pi == (0.3, 0.3)
    assert any("scale factor s2 = 0" in note and "zero width" in note for note in result.notes)
    assert not any("scale factor" in note for note in pool([0.3, 0.3], [0.01, 0.02]).notes)


@pytest.mark.parametrize("bad", [0.0, -0.1])
def test_non_positive_variance_is_a_problem(bad: float) -> None:
    with pytest.raises(InputError) as caught:
        pool([0.1, 0.2, 0.3], [0.1, bad, 0.1], labels=["a", "b", "c"])
    error = caught.value
    assert error.rule == "pool-variance" and error.row == 2 and "(b)" in error.message


@pytest.mark.parametrize(
    ("variances", "rule", "row"),
    [
        # 1e-320 is subnormal: 1/vi overflows to inf (found by the CSV fuzzing of issue 17:
        # an OverflowError traceback from the likelihood grid)
        ([1e-320, 0.01, 0.02], "pool-variance", 1),
        # above 1/vi, the fits sum w^3 = vi^-3: 1e-150 gives 1e450, beyond 1.8e308
        ([0.01, 1e-150, 1e-150], "pool-variance", 2),
    ],
)
def test_variances_beyond_double_precision_are_problems(variances, rule, row) -> None:
    with pytest.raises(InputError) as caught:
        pool([0.1, 0.2, 0.3], variances, labels=["a", "b", "c"])
    assert (caught.value.rule, caught.value.row) == (rule, row)
    assert "double precision" in caught.value.message
    # the derivation of the bound: (1e-100)^-3 = 1e300 still fits, (1e-150)^-3 does not
    assert math.isfinite(1e100 * 1e100 * 1e100) and 1e150 * 1e150 * 1e150 == math.inf


def test_variances_within_double_precision_still_pool() -> None:
    # a variance ratio of 1e-12 is an extreme but usable weighting: with
    # w = (1e14, 100, 50) the common-effect estimate is (1e13 + 20 + 15) / (1e14 + 150)
    result = pool([0.1, 0.2, 0.3], [1e-14, 0.01, 0.02], method="FE")
    assert_allclose(result.estimate, (1e13 + 20 + 15) / (1e14 + 150), rtol=1e-12)


def test_missing_values_name_the_row_unless_dropped() -> None:
    with pytest.raises(InputError) as caught:
        pool([0.1, math.nan, 0.3, 0.2], [0.1, 0.1, 0.1, 0.2])
    assert "row 2" in caught.value.message
    result = pool([0.1, math.nan, 0.3, 0.2], [0.1, 0.1, 0.1, 0.2], drop_missing=True)
    assert result.k == 3 and "row 2 dropped" in result.notes[0]


def test_unknown_method_is_a_problem() -> None:
    with pytest.raises(InputError):
        pool([0.1, 0.2], [0.1, 0.1], method="XYZ")


def test_non_convergence_warns_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    # dat.bcg (Colditz 1994), log RR. With the root refinement cut to one step the REML
    # bracket cannot reach its tolerance: a warning says so (and says nothing about metafor,
    # which converges here), and the value is still inside the grid cell of metafor's tau2.
    dataset = FIXTURES["datasets"][0]
    yi, vi = dataset["escalc"]["yi"], dataset["escalc"]["vi"]
    expected = next(f["tau2"] for f in dataset["fits"] if f["method"] == "REML")
    monkeypatch.setattr(likelihood, "MAX_ITERATIONS", 1)
    with pytest.warns(TauConvergenceWarning, match="stopped short of its tolerance") as caught:
        value = estimate_tau2(yi, vi, "REML")
    assert "metafor" not in str(caught[0].message)
    assert 10**-0.5 < value / expected < 10**0.5  # the grid has two points per decade


def test_oscillating_fisher_scoring_is_solved() -> None:
    # tests/reference/oscillating_reml.csv (row 78 of the seed-2024 simulation in
    # benchmarks/pooling.py): metafor 3.8's Fisher scoring oscillates and stops with an
    # error at its default maxiter; with stepadj = 0.5 it converges (oscillating_reml.json).
    reference = Path(__file__).parent / "reference"
    data = np.loadtxt(reference / "oscillating_reml.csv", delimiter=",", skiprows=1)
    expected = json.loads((reference / "oscillating_reml.json").read_text())
    assert expected["default_fails"]
    with warnings.catch_warnings():  # Newton steps usually avoid the fallback (and warning)
        warnings.simplefilter("ignore", TauConvergenceWarning)
        result = pool(data[:, 0], data[:, 1], method="REML")
    assert_allclose(result.tau2, expected["tau2"], rtol=RTOL)
    assert_allclose(result.estimate, expected["estimate"], rtol=RTOL)
    assert_allclose(result.se, expected["se"], rtol=RTOL)


@pytest.mark.parametrize("method", ["DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML"])
def test_batch_leave_one_out_equals_separate_fits(method: str) -> None:
    # dat.curtis1998 (Curtis 1998), k = 102: a 102 x 102 leave-one-out mask in one call
    # gives the same tau2 as fitting each subset on its own.
    dataset = next(d for d in FIXTURES["datasets"] if d["name"] == "dat.curtis1998")
    yi, vi = np.asarray(dataset["escalc"]["yi"]), np.asarray(dataset["escalc"]["vi"])
    k = len(yi)
    mask = ~np.eye(k, dtype=bool)
    batch = estimate_tau2(np.tile(yi, (k, 1)), np.tile(vi, (k, 1)), method, mask=mask)
    separate = [estimate_tau2(np.delete(yi, i), np.delete(vi, i), method) for i in range(0, k, 17)]
    assert_allclose(batch[::17], separate, rtol=1e-9, atol=1e-14)


def test_fit_batch_rows_match_pool() -> None:
    # dat.bcg (Colditz 1994): row i of a leave-one-out batch equals pool() without study i.
    dataset = FIXTURES["datasets"][0]
    yi, vi = np.asarray(dataset["escalc"]["yi"]), np.asarray(dataset["escalc"]["vi"])
    k = len(yi)
    fit = fit_batch(
        np.tile(yi, (k, 1)), np.tile(vi, (k, 1)), mask=~np.eye(k, dtype=bool), test="knha"
    )
    single = pool(np.delete(yi, 3), np.delete(vi, 3), test="knha")
    assert_allclose(fit.beta[3, 0], single.estimate, rtol=1e-12)
    assert_allclose(fit.se[3, 0], single.se, rtol=1e-12)


def test_pymare_dersimonian_laird_agrees() -> None:
    # Cross-check with PyMARE 0.0.13 where it agrees with metafor: DL tau2 and the Wald fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        from pymare.estimators import DerSimonianLaird
    dataset = FIXTURES["datasets"][0]
    yi = np.asarray(dataset["escalc"]["yi"])[:, None]
    vi = np.asarray(dataset["escalc"]["vi"])[:, None]
    estimator = DerSimonianLaird(small_sample_correction="wald").fit(
        y=yi, v=vi, X=np.ones((len(yi), 1))
    )
    theirs = estimator.summary()
    ours = pool(yi[:, 0], vi[:, 0], method="DL")
    assert_allclose(float(np.ravel(theirs.tau2)[0]), ours.tau2, rtol=RTOL)
    assert_allclose(float(np.ravel(theirs.fe_params)[0]), ours.estimate, rtol=RTOL)


def test_boundary_maximum_is_zero_when_its_likelihood_is_highest() -> None:
    # dat.hine1989 (Hine 1989), RD: metafor's REML tau2 is 0 (its ll0check keeps the
    # boundary); the global search finds the boundary maximum without a warning.
    dataset = next(d for d in FIXTURES["datasets"] if d["name"] == "dat.hine1989")
    expected = next(f["tau2"] for f in dataset["fits"] if f["method"] == "REML")
    assert expected == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", TauConvergenceWarning)
        value = estimate_tau2(dataset["escalc"]["yi"], dataset["escalc"]["vi"], "REML")
    assert value == 0.0


def test_fit_batch_rows_without_studies_give_nan_not_errors() -> None:
    # A leave-one-out of k = 1 leaves an empty row: it must come back as NaN, not raise.
    yi = np.array([[0.1, 0.2, 0.3]] * 3)
    vi = np.full((3, 3), 0.1)
    mask = np.array([[True, True, True], [False, False, False], [True, False, False]])
    fit = fit_batch(yi, vi, mask=mask, method="REML")
    # Row 1 by hand: equal variances, so the estimate is the plain mean 0.2.
    assert_allclose(fit.beta[:, 0], [0.2, np.nan, 0.1], rtol=1e-12)
    assert np.isnan(fit.se[1, 0]) and np.isnan(fit.heterogeneity.q[1])


def test_q_profile_upper_bound_at_the_search_limit_is_noted() -> None:
    # metafor 3.8: rma(y, v, method = "HS") then confint(res, control = list(tol = 1e-12))
    # prints tau^2 626.5668220199725 [493.7427728959296, >6265.6682201997246] and
    # I^2 98.7618711443157 [98.4340122297986, >99.8747919005839]: the upper bound is the
    # search limit tau2.max = max(100, 10 tau2), flagged with '>'.
    y, v = [10, -20, 35, 5, -40, 60], [4, 9, 16, 4, 25, 9]
    result = pool(y, v, method="HS")
    assert_allclose(result.tau2, 626.5668220199725, rtol=RTOL)
    assert_allclose(result.tau2_ci, [493.7427728959296, 6265.6682201997246], rtol=RTOL)
    assert_allclose(result.i2_ci, [98.4340122297986, 99.8747919005839], rtol=RTOL)
    assert any("beyond the search limit" in note for note in result.notes)
    assert not any("search limit" in note for note in pool(y, v, method="REML").notes)


def test_negative_standard_error_is_a_problem_not_squared_away() -> None:
    # metafor 3.8 rma(yi, sei = c(.1, -.1, .2)) squares sei silently; a negative standard
    # error is an input error, so we refuse it and name the row.
    with pytest.raises(InputError, match=r"row 2 \(b\): standard error -0.1 is negative"):
        pool([0.1, 0.2, 0.3], sei=[0.1, -0.1, 0.2], labels=["a", "b", "c"])
    assert pool([0.1, 0.2, 0.3], sei=[0.1, 0.1, 0.2]).k == 3
