"""Group means, t/F and estimate-with-p onto the analysis metric; numbers derived by hand."""

import math

import pytest
from conftest import make_analysis, make_effect, make_record
from numpy.testing import assert_allclose

from evidence.analyses.harmonise import harmonise
from evidence.effects.conversions import Converted, to_metric
from evidence.records.model import (
    Statistic,
    TwoGroups,
)

RTOL = 1e-12
Z_995 = 2.5758293035489004  # qnorm(0.995): the z of a two-sided p = 0.01
Z_98 = 2.0537489106318225  # qnorm(0.98): the z of a two-sided p = 0.04


def hedges_j(m):
    """Exact J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)) (Hedges 1981)."""
    return math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2)) / math.sqrt(m / 2)


def test_hedges_j_matches_the_usual_approximation():
    # J(m) ~ 1 - 3/(4m - 1) (Borenstein 2009, eq. 4.22): J(38) = 0.980132 to 5 decimals
    assert_allclose(hedges_j(38), 1 - 3 / (4 * 38 - 1), atol=1e-4)


@pytest.mark.parametrize(
    ("groups", "pooled_sd"),
    [
        # equal SDs of 1: pooled SD 1, d = 5 - 4 = 1
        (TwoGroups(5.0, 1.0, 20, 4.0, 1.0, 20), 1.0),
        # sp^2 = (9 * 2^2 + 14 * 3^2) / 23 = 162/23
        (TwoGroups(10.0, 2.0, 10, 8.0, 3.0, 15), math.sqrt(162 / 23)),
        # exposed group lower: a negative g
        (TwoGroups(3.0, 2.0, 12, 4.0, 2.0, 12), 2.0),
    ],
)
def test_group_means_give_hedges_g(groups, pooled_sd):
    n1, n2 = groups.exposed_n, groups.unexposed_n
    g = hedges_j(n1 + n2 - 2) * (groups.exposed_mean - groups.unexposed_mean) / pooled_sd
    v = 1 / n1 + 1 / n2 + g * g / (2 * (n1 + n2))
    result = to_metric(Statistic("SMD", groups=groups), "smd")
    assert isinstance(result, Converted)
    assert_allclose([result.yi, result.vi], [g, v], rtol=RTOL)
    assert "Hedges' g from the group means" in result.conversion


def test_group_means_recorded_as_md_also_give_an_smd():
    result = to_metric(Statistic("MD", groups=TwoGroups(5.0, 1.0, 20, 4.0, 1.0, 20)), "smd")
    assert_allclose(result.yi, hedges_j(38), rtol=RTOL)


def test_t_with_group_sizes_gives_hedges_g():
    # t = 2.41, n1 = 42, n2 = 40: d = 2.41 sqrt(1/42 + 1/40), v_d = 82/1680 + d^2/164,
    # g = J(80) d, v_g = J(80)^2 v_d (Borenstein 2009, eqs. 4.20-4.24)
    d = 2.41 * math.sqrt(1 / 42 + 1 / 40)
    v = 82 / (42 * 40) + d * d / (2 * 82)
    j = hedges_j(80)
    result = to_metric(Statistic("SMD", t=2.41, n1=42, n2=40), "smd")
    assert_allclose([result.yi, result.vi], [j * d, j * j * v], rtol=RTOL)
    assert "t = 2.41" in result.conversion


@pytest.mark.parametrize(
    ("value", "sign", "words"),
    [
        (None, 1, "sign taken from exposure.higher_means"),
        (-0.6, -1, "sign from the recorded value"),
    ],
)
def test_f_with_group_sizes_gives_hedges_g_with_a_stated_sign(value, sign, words):
    # F = 5.8 (1 df) is t^2: |d| = sqrt(5.8 (1/30 + 1/30)), v_d = 60/900 + d^2/120
    d = sign * math.sqrt(5.8 * 2 / 30)
    v = 60 / 900 + d * d / 120
    j = hedges_j(58)
    result = to_metric(Statistic("SMD", value, f=5.8, n1=30, n2=30), "smd")
    assert_allclose([result.yi, result.vi], [j * d, j * j * v], rtol=RTOL)
    assert words in result.conversion


@pytest.mark.parametrize(
    ("statistic", "metric", "yi", "se"),
    [
        # ratio with p: SE of the log = |ln 1.5| / z_{1 - 0.01/2} (Altman & Bland 2011)
        (Statistic("HR", 1.5, p=0.01), "log-risk-ratio", math.log(1.5), math.log(1.5) / Z_995),
        # a log ratio with p: the estimate is already on the tested scale
        (Statistic("log-OR", -0.4, p=0.04), "log-odds-ratio", -0.4, 0.4 / Z_98),
        # percent increase 50% is a ratio of 1.5
        (
            Statistic("percent-increase", 50.0, p=0.01),
            "log-risk-ratio",
            math.log(1.5),
            math.log(1.5) / Z_995,
        ),
        (Statistic("SMD", 0.3, p=0.04), "smd", 0.3, 0.3 / Z_98),
    ],
)
def test_estimate_with_p_gets_its_se_from_the_p_value(statistic, metric, yi, se):
    result = to_metric(statistic, metric)
    assert_allclose([result.yi, result.vi], [yi, se * se], rtol=RTOL)
    assert "two-sided p" in result.conversion


def test_confidence_interval_wins_over_p():
    with_ci = to_metric(Statistic("HR", 1.5, (1.2, 1.875), p=0.5), "log-risk-ratio")
    assert "CI to log scale" in with_ci.conversion


def test_group_means_are_oriented_like_any_difference():
    # exposed (more ties) has the higher depression score (harmful): flipped for
    # fewer-ties-harmful, exactly (a difference), so g becomes negative of g(5, 4)
    item = make_effect(
        measure="SMD",
        value=None,
        ci=None,
        construct="social-support",
        contrast="high vs low support",
        higher_means="more-ties",
        domain="depression",
        outcome_name="depressive symptoms",
        adjustment="unadjusted",
        locator="table 2",
        groups=TwoGroups(5.0, 1.0, 20, 4.0, 1.0, 20),
    )
    record = make_record("s", item, n=40, year=None, design="cross-sectional", source_type="table")
    analysis = make_analysis(select=({"outcome.domain": ("depression",)},), metric="smd")
    row = harmonise([record], analysis).included[0]
    assert_allclose(row.yi, -hedges_j(38), rtol=RTOL)
    assert row.flipped and "contrast reversed" in row.conversion


def test_percent_change_with_se_uses_the_delta_method():
    # 20% increase, SE 5 percentage points: ratio 1.2, SE(ln ratio) = 0.05 / 1.2
    result = to_metric(Statistic("percent-increase", 20.0, se=5.0), "log-risk-ratio")
    assert_allclose([result.yi, result.vi], [math.log(1.2), (0.05 / 1.2) ** 2], rtol=RTOL)


@pytest.mark.parametrize(
    ("value", "p", "words"),
    [
        (1.0, 0.5, "variance 0 from the p-value (p = 0.5"),  # ln 1 = 0: SE = 0 / z = 0
        (1.2, 1.0, "p = 1 gives no standard error"),  # z_{1 - 1/2} = 0: no finite SE
    ],
)
def test_estimate_at_the_null_with_p_is_excluded_with_the_reason(value, p, words):
    item = make_effect(value=value, ci=None, p=p)
    record = make_record("s", item, year=None)
    analysis = make_analysis()
    (row,) = harmonise([record], analysis).excluded
    assert words in row.reason
