"""Wald-type intervals for tau^2 against R metafor 3.8.1 ``confint(type = "Wald" |
"Wald.log" | "Wald.sqrt")`` (tests/reference/make_tau2_wald_fixtures.R): dat.bcg (log risk
ratios; REML and ML meta-regressions on absolute latitude, DL without moderators) and
dat.raudenbush1985 (REML and EB). Every lower ``Wald`` bound there is below 0 before
metafor truncates it, so the truncation is checked too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats.errors import InputError
from evidence.stats.tau2_intervals import confint_tau2
from evidence.stats.uni import fit_uni

FIXTURES = json.loads((Path(__file__).parent / "reference" / "tau2_wald_fixtures.json").read_text())
#: Closed forms of tau2 and se(tau2) at metafor's optimum (its fits at threshold 1e-13).
RTOL = 1e-6
#: Bounds truncated at exactly 0 on both sides.
ATOL_ZERO = 1e-12
TYPES = {"Wald": "Wald", "Wald-log": "Wald.log", "Wald-sqrt": "Wald.sqrt"}


def _fit(entry: dict):
    y, v = np.asarray(entry["yi"]), np.asarray(entry["vi"])
    design = None
    if entry["mod"] is not None:
        design = np.column_stack([np.ones_like(y), np.asarray(entry["mod"], dtype=float)])
    return fit_uni(y, v, design, method=entry["method"])


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_wald_intervals_match_metafor(name, kind):
    entry = FIXTURES[name]
    fit = _fit(entry)
    assert_allclose([fit.tau2, fit.se_tau2], [entry["tau2"], entry["se_tau2"]], rtol=RTOL)
    expected = entry[TYPES[kind]]
    interval = confint_tau2(fit, kind)
    found = [interval.tau2, interval.lower, interval.upper]
    assert_allclose(found, expected["tau2"], rtol=RTOL, atol=ATOL_ZERO)
    assert_allclose([fit.i2, *interval.i2], expected["i2"], rtol=RTOL, atol=ATOL_ZERO)
    assert_allclose([fit.h2, *interval.h2], expected["h2"], rtol=RTOL, atol=ATOL_ZERO)


@pytest.mark.parametrize("kind", ["Wald-log", "Wald-sqrt"])
def test_log_and_sqrt_scales_need_a_positive_tau2(kind):
    # Five identical effects: every estimator gives tau2 = 0.
    fit = fit_uni([0.1] * 5, [0.04, 0.05, 0.06, 0.07, 0.08], method="REML")
    assert fit.tau2 == 0
    with pytest.raises(InputError, match="undefined at tau2 = 0") as raised:
        confint_tau2(fit, kind)
    assert raised.value.rule == "confint-method"
