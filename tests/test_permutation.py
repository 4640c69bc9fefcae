"""Permutation tests for meta-regression moderators against R metafor 3.8
``permutest(..., exact = TRUE)`` (tests/reference/make_diagnostics_fixtures.R ->
diagnostics_permutation.json).

Datasets: dat.bcg (Colditz 1994, BCG vaccine) trials 1-7 with absolute latitude (z test)
and with latitude and year (Knapp-Hartung F); dat.normand1999 intercept only (sign flips).
Exact p-values are ratios of counts, so they must agree to the last digit.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats import permutation
from evidence.stats.errors import InputError

RTOL = 1e-6
FIXTURES = json.loads(
    (Path(__file__).parent / "reference" / "diagnostics_permutation.json").read_text()
)["datasets"]
NAMES = sorted(FIXTURES)


def moderators(data):
    return np.column_stack(list(data["mods"].values())) if data["mods"] else None


@pytest.mark.parametrize("name", NAMES)
def test_exact_permutation_p_values_match_permutest(name):
    data = FIXTURES[name]
    result = permutation.permutation_test(
        data["yi"], data["vi"], moderators(data), test=data["test"], exact=True
    )
    assert_allclose(result.statistic, np.atleast_1d(data["zval"]), rtol=RTOL)
    assert_allclose(result.qm, data["qm"], rtol=RTOL)
    assert_allclose(result.p, np.atleast_1d(data["p"]), rtol=1e-12)
    assert_allclose(result.qm_p, data["qm_p"], rtol=1e-12)


def test_random_permutations_are_reproducible_for_a_seed():
    data = FIXTURES["bcg_first7_ablat"]
    runs = [
        permutation.permutation_test(
            data["yi"], data["vi"], moderators(data), exact=False, iterations=400, seed=seed
        )
        for seed in (11, 11, 12)
    ]
    assert runs[0] == runs[1]
    assert runs[0].iterations == 400 and runs[0].seed == 11
    assert runs[0].to_dict()["coefficients"][1]["name"] == "x1"


def test_random_permutation_p_is_close_to_the_exact_one():
    # 2,000 draws: the Monte Carlo standard error of p = 0.184 is about 0.009.
    data = FIXTURES["bcg_first7_ablat"]
    result = permutation.permutation_test(
        data["yi"], data["vi"], moderators(data), exact=False, iterations=2000, seed=1
    )
    assert abs(result.qm_p - data["qm_p"]) < 4 * 0.009


def test_exact_is_chosen_when_it_needs_no_more_fits_than_iterations():
    data = FIXTURES["normand1999_intercept"]
    result = permutation.permutation_test(data["yi"], data["vi"], iterations=1000)
    assert result.exact and result.iterations == 2**9


def test_too_few_studies_is_a_problem():
    with pytest.raises(InputError):
        permutation.permutation_test([0.1, 0.2], [0.01, 0.02], [1.0, 2.0])
