"""pool() against R metafor 3.8 on metadat datasets (tests/reference/make_fixtures.R).

Every tau2 estimator (FE, DL, HE, HS, SJ, PM, EB, ML, REML) x {z, knha} on 16
dataset/measure combinations: estimate, se, statistic, df, p, CI, PI (predict()), tau2,
I2, H2, Q, and the Q-profile CIs of tau2, tau, I2, H2 (confint()).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.effects.escalc import back_transform
from evidence.stats.pooling import pool

FIXTURES = json.loads((Path(__file__).parent / "reference" / "pooling_fixtures.json").read_text())
#: Relative tolerance for every statistic (issue 3).
RTOL = 1e-6
#: Absolute floor for values that are exactly 0 in metafor (tau2 = 0, a null estimate):
#: both sides are then zero up to floating-point noise (~1e-17).
ATOL = 1e-12

SCALARS = ("estimate", "se", "statistic", "df", "p", "tau2", "i2", "h2", "q", "q_df", "q_p")
INTERVALS = ("ci", "pi", "tau2_ci", "tau_ci", "i2_ci", "h2_ci")


def _cases() -> list:
    cases = []
    for dataset in FIXTURES["datasets"]:
        for fit in dataset["fits"]:
            name = f"{dataset['name']}-{dataset['measure']}-{fit['method']}-{fit['test']}"
            cases.append(pytest.param(dataset, fit, id=name))
    return cases


# Datasets and papers (metadat): dat.bcg Colditz 1994 (RR, OR; k = 2 subset);
# dat.normand1999 Normand 1999 (MD, SMD); dat.molloy2014 Molloy 2014 (ZCOR, COR);
# dat.nielweise2007 Niel-Weise 2007 and dat.yusuf1985 Yusuf 1985 (zero cells);
# dat.hine1989 Hine 1989 (RD, tau2 = 0); dat.curtis1998 Curtis 1998 (ROM, k = 102);
# dat.pritz1997 Pritz 1997 (PR, PLO); dat.hart1999 Hart 1999 (IRR);
# dat.raudenbush1985 Raudenbush 1985 (precomputed yi, vi).
@pytest.mark.parametrize(("dataset", "expected"), _cases())
def test_pool_matches_metafor(dataset: dict, expected: dict) -> None:
    result = pool(
        dataset["escalc"]["yi"],
        dataset["escalc"]["vi"],
        method=expected["method"],
        test=expected["test"],
        measure=dataset["measure"],
    ).to_dict()
    assert result["k"] == expected["k"]
    for key in SCALARS:
        if expected.get(key) is None:
            assert result[key] is None, key
        else:
            assert_allclose(result[key], expected[key], rtol=RTOL, atol=ATOL, err_msg=key)
    for key in INTERVALS:
        if expected.get(key) is None:
            assert result[key] is None, key
        else:
            assert_allclose(result[key], expected[key], rtol=RTOL, atol=ATOL, err_msg=key)


def test_back_transformed_ratio_uses_exp() -> None:
    # dat.bcg (Colditz 1994), RR, REML: back-transformed values are exp() of the log scale,
    # as metafor predict(res, transf = exp).
    dataset = FIXTURES["datasets"][0]
    result = pool(
        dataset["escalc"]["yi"],
        dataset["escalc"]["vi"],
        measure="RR",
        transform=back_transform("RR"),
    )
    back = result.to_dict()["back_transformed"]
    assert_allclose(back["estimate"], np.exp(result.estimate), rtol=1e-15)
    assert_allclose(back["ci"], np.exp(result.ci), rtol=1e-15)
    assert_allclose(back["pi"], np.exp(result.pi), rtol=1e-15)


def test_to_dict_keys_are_the_design_keys_in_order() -> None:
    dataset = FIXTURES["datasets"][0]
    keys = list(pool(dataset["escalc"]["yi"], dataset["escalc"]["vi"]).to_dict())
    assert keys == [
        "k",
        "n_studies",
        "n_participants",
        "measure",
        "method",
        "test",
        "estimate",
        "se",
        "statistic",
        "df",
        "p",
        "ci",
        "pi",
        "tau2",
        "tau2_ci",
        "tau",
        "tau_ci",
        "i2",
        "i2_ci",
        "h2",
        "h2_ci",
        "q",
        "q_df",
        "q_p",
        "back_transformed",
    ]


@pytest.mark.parametrize(
    "expected", FIXTURES["level90"], ids=lambda e: f"{e['method']}-{e['test']}-90"
)
def test_level_90_matches_metafor(expected: dict) -> None:
    # dat.bcg (Colditz 1994), log RR, every tau2 estimator x {z, knha}: rma(level = 90),
    # predict() and confint(level = 90).
    dataset = FIXTURES["datasets"][0]
    result = pool(
        dataset["escalc"]["yi"],
        dataset["escalc"]["vi"],
        method=expected["method"],
        test=expected["test"],
        level=expected["level"],
    )
    for key in ("ci", "pi", "tau2_ci", "i2_ci"):
        assert_allclose(getattr(result, key), expected[key], rtol=RTOL, err_msg=key)
