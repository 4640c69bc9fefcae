"""meta_regression() and subgroups() against R metafor 3.8 (tests/reference/make_fixtures.R).

Meta-regressions (all nine estimators x z, knha): dat.bcg Colditz 1994 (log RR ~ ablat +
alloc, a numeric and a categorical moderator; log OR ~ ablat); dat.molloy2014 Molloy 2014
(z ~ meanage); dat.curtis1998 Curtis 1998 (log ROM ~ time + fungrp); dat.raudenbush1985
Raudenbush 1985 (d ~ weeks). Subgroups: dat.bcg by alloc, dat.curtis1998 by fungrp.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats.moderators import meta_regression, subgroups

FIXTURES = json.loads((Path(__file__).parent / "reference" / "pooling_fixtures.json").read_text())
RTOL = 1e-6
ATOL = 1e-12


def _cases(kind: str) -> list:
    return [
        pytest.param(
            d, case, id=f"{d['name']}-{d['measure']}-{case.get('method')}-{case.get('test')}"
        )
        for d in FIXTURES["datasets"]
        for case in d.get(kind, [])
    ]


@pytest.mark.parametrize(("dataset", "expected"), _cases("regressions"))
def test_meta_regression_matches_metafor(dataset: dict, expected: dict) -> None:
    # jsonlite writes a one-element vector as a scalar.
    names = [expected["mods"]] if isinstance(expected["mods"], str) else expected["mods"]
    mods = {name: np.asarray(dataset["moderators"][name]) for name in names}
    result = meta_regression(
        dataset["escalc"]["yi"],
        dataset["escalc"]["vi"],
        mods,
        method=expected["method"],
        test=expected["test"],
    )
    got = result.to_dict()
    assert [c["name"] for c in got["coefficients"]] == expected["names"]
    for key in ("estimate", "se", "statistic", "p"):
        assert_allclose([c[key] for c in got["coefficients"]], expected[key], rtol=RTOL, atol=ATOL)
    assert_allclose([c["ci"][0] for c in got["coefficients"]], expected["ci_lower"], rtol=RTOL)
    assert_allclose([c["ci"][1] for c in got["coefficients"]], expected["ci_upper"], rtol=RTOL)
    for key in ("qm", "qm_df", "qm_p", "r2", "tau2", "i2", "h2", "qe", "qe_p", "qm_df_denominator"):
        if expected.get(key) is None:
            assert got[key] is None, key
        else:
            assert_allclose(got[key], expected[key], rtol=RTOL, atol=ATOL, err_msg=key)


@pytest.mark.parametrize(("dataset", "expected"), _cases("subgroups"))
def test_subgroups_match_metafor(dataset: dict, expected: dict) -> None:
    groups = dataset["moderators"][expected["group"]]
    result = subgroups(
        dataset["escalc"]["yi"],
        dataset["escalc"]["vi"],
        groups,
        method=expected["method"],
        test=expected["test"],
    )
    assert list(result.subgroups) == expected["levels"]
    fits = list(result.subgroups.values())
    assert_allclose([f.estimate for f in fits], expected["estimate"], rtol=RTOL)
    assert_allclose([f.se for f in fits], expected["se"], rtol=RTOL)
    assert_allclose([f.tau2 for f in fits], expected["tau2"], rtol=RTOL, atol=ATOL)
    # Each level's own fit: k, p, CI, predict() PI, Q and I2 (k = 2 levels included).
    assert [f.k for f in fits] == expected["k"]
    assert_allclose([f.p for f in fits], expected["p"], rtol=RTOL)
    assert_allclose([f.ci[0] for f in fits], expected["ci_lb"], rtol=RTOL)
    assert_allclose([f.ci[1] for f in fits], expected["ci_ub"], rtol=RTOL)
    assert_allclose([f.pi[0] for f in fits], expected["pi_lb"], rtol=RTOL)
    assert_allclose([f.pi[1] for f in fits], expected["pi_ub"], rtol=RTOL)
    assert_allclose([f.q for f in fits], expected["q"], rtol=RTOL)
    assert_allclose([f.i2 for f in fits], expected["i2"], rtol=RTOL, atol=1e-9)
    assert_allclose(result.q_between, expected["q_between"], rtol=RTOL)
    assert result.q_between_df == expected["q_between_df"]
    assert_allclose(result.q_between_p, expected["q_between_p"], rtol=RTOL)


def test_exact_fit_under_knapp_hartung_gives_zero_se_and_no_qm_with_a_note() -> None:
    # Hand derivation: yi = 0.1 x exactly, so every residual is 0 and the Knapp-Hartung
    # s2 = sum w e^2 / (k - p) = 0: se = 0 and QM = b' (s2 V)^-1 b / m is undefined.
    # metafor 3.8 rma(c(.1, .2, .3, .4), c(.01, .02, .03, .01), mods = ~ c(1, 2, 3, 4),
    # test = "knha") gives se 0 0 and QM NA likewise.
    result = meta_regression(
        [0.1, 0.2, 0.3, 0.4], [0.01, 0.02, 0.03, 0.01], {"x": [1, 2, 3, 4]}, test="knha"
    )
    got = result.to_dict()
    assert [c["se"] for c in got["coefficients"]] == [0.0, 0.0]
    assert_allclose(got["coefficients"][1]["estimate"], 0.1, rtol=1e-12)
    assert got["qm"] is None and got["qm_p"] is None
    assert got["qm_df"] == 1 and got["qm_df_denominator"] == 2
    assert any("scale factor s2 = 0" in note for note in result.notes)
    assert meta_regression([0.1, 0.2, 0.3, 0.4], [0.01] * 4, {"x": [1, 2, 3, 5]}).notes == ()
