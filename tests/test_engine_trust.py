"""Issue 11 ("Engine trust"): each defect against R metafor 3.8 and clubSandwich.

Every reference number is in tests/reference/engine_trust.json, written by
tests/reference/make_engine_trust_fixtures.R from the frozen effect tables in
tests/reference/snapshots/ (never the live corpus). Where metafor's Fisher scoring stops
at a lower likelihood peak, the fixture also holds the global maximum (``global``, from
global_max_helpers.R) and the engine is compared with that.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats import sensitivity
from evidence.stats.pooling import pool

RTOL = 1e-6
#: metafor stops at e.g. 3e-14 where the optimum is tau2 = 0.
ATOL_TAU2 = 1e-9
TRUST = json.loads((Path(__file__).parent / "reference" / "engine_trust.json").read_text())


def assert_fit(result: dict, expected: dict, keys: tuple[str, ...]) -> None:
    """Compare pooled keys with a metafor record (``ci`` as a pair)."""
    for key in keys:
        if key == "tau2":
            assert_allclose(result["tau2"], expected["tau2"], rtol=RTOL, atol=ATOL_TAU2)
        elif key in ("ci", "pi"):
            assert_allclose(result[key], expected[key], rtol=RTOL, err_msg=key)
        else:
            assert_allclose(result[key], expected[key], rtol=RTOL, err_msg=key)


# --- 1. REML settles on the lower of two likelihood peaks ------------------------------


def test_reml_returns_the_global_of_two_peaks() -> None:
    # ties-mi-survival without Hakulinen 2018: REML peaks at tau2 = 0 (logLik 0.22907) and
    # at tau2 = 0.011066 (0.23467). metafor (at_global) and the grid agree on the second.
    case = TRUST["ties_subset"]
    expected = case["reml_knha"]
    assert expected["at_global"]
    assert expected["global"]["boundary_is_local_max"]
    result = pool(case["yi"], case["vi"], method="REML", test="knha")
    assert_fit(
        result.to_dict(),
        expected,
        ("tau2", "estimate", "se", "statistic", "p", "ci", "pi", "i2", "h2", "q"),
    )
    assert_allclose(result.tau2, expected["global"]["tau2"], rtol=RTOL)


def test_two_peaks_are_named_in_a_note_with_their_log_likelihoods() -> None:
    case = TRUST["ties_subset"]
    result = pool(case["yi"], case["vi"], method="REML", test="knha")
    (note,) = [n for n in result.notes if "local maxima" in n]
    assert "2 local maxima" in note
    assert f"log-likelihood {case['reml_knha']['loglik']:.6g}" in note  # 0.234669
    assert f"log-likelihood {case['loglik_reml_at_tau2_0']:.6g}" in note  # 0.229075
    assert "metafor" not in note  # metafor reaches the global maximum here
    # ML has a single (boundary) maximum on the same data: no note.
    ml = pool(case["yi"], case["vi"], method="ML", test="knha")
    assert not [n for n in ml.notes if "local maxima" in n]
    assert_allclose(ml.tau2, case["ml_knha"]["global"]["tau2"], atol=ATOL_TAU2)


def test_leave_one_out_and_influence_follow_the_global_maximum() -> None:
    # Full ties-mi-survival table: without Hakulinen 2018 the deletion fit is the two-peak
    # subset above (I2 49.8%, not 0), and dffits of that row is negative as in metafor.
    case = TRUST["ties_full"]
    data, l1o, inf = case["inputs"], case["leave1out"], case["influence"]
    assert all(l1o["at_global"])
    found = sensitivity.diagnostics(
        data["yi"], data["vi"], data["label"], method="REML", test="knha"
    ).to_dict()
    rows = found["leave_one_out"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("p", "p"), ("i2", "i2")):
        assert_allclose([r[ours] for r in rows], l1o[theirs], rtol=RTOL, atol=1e-9)
    assert_allclose([r["tau2"] for r in rows], l1o["tau2"], rtol=RTOL, atol=ATOL_TAU2)
    assert_allclose([r["ci"][0] for r in rows], l1o["ci_lb"], rtol=RTOL)
    assert_allclose([r["ci"][1] for r in rows], l1o["ci_ub"], rtol=RTOL)
    influence = found["influence"]
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "hat", "weight"):
        assert_allclose([r[key] for r in influence], inf[key], rtol=RTOL, err_msg=key)
    assert_allclose([r["tau2_del"] for r in influence], inf["tau2_del"], atol=ATOL_TAU2)
    assert [r["influential"] for r in influence] == inf["influential"]
    assert rows[2]["i2"] == pytest.approx(49.7671258, rel=1e-6)
    assert influence[2]["dffits"] < 0


# --- 2. One-study subgroups, cumulative step 1, leave-one-out at k = 2 -----------------


@pytest.mark.parametrize("requested", ["z", "knha", "adhoc"])
def test_one_study_is_the_study_itself_with_a_z_interval(requested: str) -> None:
    # metafor's rma() on one study returns the study itself, se = sqrt(vi), and a z test
    # and CI even when test = "knha" is asked for (it warns and sets test = "z").
    case = TRUST["single_study"]
    expected = case["fits"][1]
    assert expected["test_requested"] == "knha" and expected["test_used"] == "z"
    result = pool([case["yi"]], [case["vi"]], method="REML", test=requested)
    assert_fit(result.to_dict(), expected, ("estimate", "se", "statistic", "p", "ci"))
    assert result.test == "z" and result.df is None
    # heterogeneity is undefined with one study (metafor prints tau2 = 0, Q = 0): said so
    assert result.tau2 is None and result.i2 is None and result.q is None
    assert_allclose(result.pi, expected["pi"], rtol=RTOL)  # tau2 = 0 there, as metafor
    assert any("k = 1" in note and "undefined" in note for note in result.notes)


SUBGROUP_CASES = [name for name in TRUST["subgroups"] if name != "note"]


@pytest.mark.parametrize("name", SUBGROUP_CASES)
@pytest.mark.parametrize("test", ["knha", "adhoc", "z"])
def test_subgroup_test_keeps_one_study_levels(name: str, test: str) -> None:
    # isolation-chd-stroke by construct: Q_between 13.93 (df 2) under knha, not 0.24 (df 1)
    # with the one-study level dropped; loneliness-mortality by sex and ties-mi-survival by
    # construct now have a test at all. Per-level fits as metafor's separate rma() fits.
    from evidence.stats.moderators import subgroups

    case = TRUST["subgroups"][name]
    expected = case[test]
    data = case["inputs"]
    result = subgroups(data["yi"], data["vi"], data[expected["column"]], test=test)
    assert list(result.subgroups) == expected["levels"]
    assert [r.k for r in result.subgroups.values()] == expected["k"]
    assert_allclose(
        [r.estimate for r in result.subgroups.values()], expected["estimate"], rtol=RTOL
    )
    assert_allclose([r.se for r in result.subgroups.values()], expected["se"], rtol=RTOL)
    for level, fit in zip(result.subgroups.values(), expected["fits"], strict=True):
        assert level.test == fit["test_used"]
        assert_allclose(level.ci, fit["ci"], rtol=RTOL)
    assert result.q_between_df == expected["q_between_df"]
    assert_allclose(result.q_between, expected["q_between"], rtol=RTOL)
    assert_allclose(result.q_between_p, expected["q_between_p"], rtol=RTOL)
    # metafor's other route: the level as a factor in one model with a common tau2
    moderator, theirs = result.moderator_test, expected["moderator_test"]
    assert moderator is not None
    assert_allclose(moderator["statistic"], theirs["statistic"], rtol=RTOL)
    assert_allclose(moderator["p"], theirs["p"], rtol=RTOL)
    assert moderator["df"] == theirs["df"]
    assert moderator["df_denominator"] == theirs.get("df_denominator")
    assert_allclose(moderator["tau2"], theirs["tau2"], rtol=RTOL, atol=ATOL_TAU2)


def test_shrunk_knha_standard_errors_and_disagreeing_tests_are_noted() -> None:
    # isolation-chd-stroke by construct under knha: the two-study loneliness level has
    # s2 = 0.05, so its Knapp-Hartung se (0.0091) is far below the model-based one (0.0406)
    # and inflates Q_between (13.93 vs 12.84 under adhoc, 12.87 under z); and the common-tau2
    # moderator test F(2, 4) = 3.37, p = 0.14 disagrees with Q_between (p = 0.0009).
    from evidence.stats.moderators import subgroups

    case = TRUST["subgroups"]["isolation-chd-stroke"]
    data = case["inputs"]
    knha = subgroups(data["yi"], data["vi"], data["exposure.construct"], test="knha")
    (shrunk,) = [n for n in knha.notes if "below the model-based" in n]
    assert "loneliness" in shrunk and "social-isolation" not in shrunk
    assert any("disagree at the 5% level" in n for n in knha.notes)
    adhoc = subgroups(data["yi"], data["vi"], data["exposure.construct"], test="adhoc")
    assert not [n for n in adhoc.notes if "below the model-based" in n]


CUMULATIVE_CASES = [name for name in TRUST["cumulative"] if name != "note"]


@pytest.mark.parametrize("name", CUMULATIVE_CASES)
def test_cumulative_step_one_is_one_study_with_a_z_test(name: str) -> None:
    case = TRUST["cumulative"][name]
    data, order, cumul = case["inputs"], case["order"], case["cumul"]
    rows = sensitivity.cumulative(
        data["yi"], data["vi"], order=order, labels=data["label"], method="REML", test="knha"
    )
    assert rows[0]["added"] == data["label"][order[0]]
    assert rows[0]["test"] == "z" and rows[0]["df"] is None
    assert_fit(rows[0], case["step1"], ("estimate", "se", "statistic", "p", "ci"))
    assert rows[0]["tau2"] is None and rows[0]["q"] is None
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("p", "p")):
        assert_allclose([r[ours] for r in rows], cumul[theirs], rtol=RTOL, err_msg=ours)
    assert_allclose([r["ci"][0] for r in rows], cumul["ci_lb"], rtol=RTOL)
    assert_allclose([r["ci"][1] for r in rows], cumul["ci_ub"], rtol=RTOL)
    assert_allclose([r["tau2"] for r in rows[1:]], cumul["tau2"][1:], rtol=RTOL, atol=ATOL_TAU2)
    # every step is the separate rma() fit of the first j studies
    for row, step in zip(rows, case["steps"], strict=True):
        assert_allclose(row["estimate"], step["estimate"], rtol=RTOL)


K2_CASES = [name for name in TRUST["leave1out_k2"] if name != "note"]


@pytest.mark.parametrize("name", K2_CASES)
def test_leave_one_out_at_k_two_fits_one_study_each(name: str) -> None:
    case = TRUST["leave1out_k2"][name]
    data, l1o, inf = case["inputs"], case["leave1out"], case["influence"]
    found = sensitivity.diagnostics(
        data["yi"], data["vi"], data["label"], method="REML", test="knha"
    ).to_dict()
    rows = found["leave_one_out"]
    assert [r["test"] for r in rows] == ["z", "z"]
    for ours, theirs in (("estimate", "estimate"), ("se", "se"), ("statistic", "statistic")):
        assert_allclose([r[ours] for r in rows], l1o[theirs], rtol=RTOL, err_msg=ours)
    assert_allclose([r["p"] for r in rows], l1o["p"], rtol=RTOL)
    assert_allclose([r["ci"][0] for r in rows], l1o["ci_lb"], rtol=RTOL)
    assert_allclose([r["ci"][1] for r in rows], l1o["ci_ub"], rtol=RTOL)
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "hat", "weight"):
        assert_allclose([r[key] for r in found["influence"]], inf[key], rtol=RTOL, err_msg=key)


# --- 3. Trim-and-fill under Knapp-Hartung with nothing imputed -------------------------


@pytest.mark.parametrize("test", ["knha", "adhoc"])
def test_trimfill_without_imputation_is_the_original_fit(test: str) -> None:
    # relationship-quality-health: k0 = 0, so metafor's trimfill() returns the model itself
    # (knha: se 0.08116, CI 0.108-0.465), not a z refit (se 0.08172, CI 0.127-0.447).
    from evidence.stats.bias import trimfill

    case = TRUST["trimfill_knha"]
    expected = case["trimfill" if test == "knha" else "trimfill_adhoc"]
    assert expected["k0"] == 0 and expected["test"] == test
    result = trimfill(case["inputs"]["yi"], case["inputs"]["vi"], method="REML", test=test)
    assert result.k0 == 0 and result.side == expected["side"] and result.test == test
    assert_allclose(result.estimate, expected["estimate"], rtol=RTOL)
    assert_allclose(result.se, expected["se"], rtol=RTOL)
    assert_allclose(result.ci, expected["ci"], rtol=RTOL)
    assert_allclose(result.tau2, expected["tau2"], rtol=RTOL)


# --- 6. The modified Knapp-Hartung method (test = "adhoc") -----------------------------

ADHOC_CASES = [name for name in TRUST["adhoc"] if name != "note"]


@pytest.mark.parametrize("name", ADHOC_CASES)
@pytest.mark.parametrize("test", ["knha", "adhoc", "z"])
def test_adhoc_and_knha_match_metafor(name: str, test: str) -> None:
    case = TRUST["adhoc"][name]
    expected = case["reml"][test]
    result = pool(case["yi"], case["vi"], method="REML", test=test).to_dict()
    keys = ("estimate", "se", "p", "ci", "pi")
    assert_fit(result, expected, keys)
    if expected["statistic"] is None:  # knha with s2 = 0: metafor's statistic is Inf
        assert result["statistic"] is None
    else:
        assert_allclose(result["statistic"], expected["statistic"], rtol=RTOL)
    assert result["df"] == expected["df"]


def test_adhoc_gives_identical_effects_a_real_interval() -> None:
    # isolation-mortality, "mixed" subgroup: two identical log ratios. knha (metafor-exact)
    # has s2 = 0: se 0 and a zero-width CI; adhoc truncates s2 at 1: se 0.02494 and the
    # t(1) interval -0.086 to 0.548.
    case = TRUST["adhoc"]["isolation-mortality mixed"]
    knha = pool(case["yi"], case["vi"], method="REML", test="knha")
    assert knha.se == 0 and knha.ci is not None and knha.ci[0] == knha.ci[1]
    assert any("test='adhoc'" in note for note in knha.notes)
    adhoc = pool(case["yi"], case["vi"], method="REML", test="adhoc")
    assert adhoc.se == pytest.approx(0.0249441299491683, rel=RTOL)
    assert adhoc.ci == pytest.approx((-0.0858335011364933, 0.548056943063266), rel=RTOL)


# --- 4. Row-sum weights of three-level models; 5. few clusters -------------------------

THREE_LEVEL = [name for name in TRUST["three_level"] if name != "note"]


@pytest.mark.parametrize("name", THREE_LEVEL)
def test_three_level_weights_are_metafor_row_sums(name: str) -> None:
    # isolation-chd-stroke: Chang 2017 33.2%, UK Biobank's four effects 39.6% together
    # (diagonal weights: 0.68% and 98.2%); the row sums are what the estimate is made of.
    from evidence.stats import dependence

    case = TRUST["three_level"][name]
    fit = dependence.three_level(case["yi"], case["vi"], case["cluster"])
    weights = case["weights"]
    assert_allclose(fit.weights("rowsum"), weights["rowsum"], rtol=1e-6)
    assert_allclose(fit.weights("diagonal"), weights["diagonal"], rtol=1e-6)
    assert_allclose(
        np.dot(fit.weights("rowsum"), case["yi"]) / 100, case["check_rowsum_estimate"], rtol=RTOL
    )


@pytest.mark.parametrize("name", THREE_LEVEL)
@pytest.mark.parametrize(
    ("key", "test", "dfs"),
    [("t_contain", "t", "contain"), ("t_residual", "t", "residual"), ("z", "z", "contain")],
)
def test_three_level_inference_by_df_rule(name: str, key: str, test: str, dfs: str) -> None:
    # isolation-chd-stroke (7 effects, 3 clusters): t with k - 1 = 6 df gives 0.90-2.50 on
    # the ratio scale; containment df 2 gives 0.61-3.68; CR2 (Satterthwaite df 1.95)
    # 0.59-3.84.
    from evidence.stats import dependence

    case = TRUST["three_level"][name]
    expected = case[key]
    fit = dependence.three_level(case["yi"], case["vi"], case["cluster"], test=test, dfs=dfs)
    assert_allclose(fit.coefficients[0], expected["estimate"], rtol=RTOL)
    assert_allclose(fit.se[0], expected["se"], rtol=RTOL)
    assert_allclose(fit.p[0], expected["p"], rtol=RTOL)
    assert_allclose([fit.ci_lower[0], fit.ci_upper[0]], expected["ci"], rtol=RTOL, atol=1e-8)
    pooled = dependence.pooled_section(fit)
    assert_allclose(pooled["pi"], expected["pi"], rtol=RTOL)
    assert pooled["df"] == expected["df"]
    cr2 = dependence.robust_cr2(fit)
    assert_allclose(cr2.se[0], case["cr2"]["se"], rtol=RTOL)
    assert_allclose(cr2.df[0], case["cr2"]["df"], rtol=RTOL)
    assert_allclose([cr2.ci_lower[0], cr2.ci_upper[0]], case["cr2"]["ci"], rtol=RTOL)


def _chd_rows() -> tuple[list, dict]:
    from evidence.analyses.harmonise import EffectRow

    case = TRUST["three_level"]["isolation-chd-stroke"]
    rows = [
        EffectRow(
            study=label.split(":")[0],
            effect=label.split(": ")[1],
            label=label,
            cohort=cluster,
            cluster=cluster,
            included=True,
            reason=None,
            measure_reported="HR",
            value=None,
            lo=None,
            hi=None,
            yi=y,
            vi=v,
            conversion="",
            flipped=False,
            adjustment="fully-adjusted",
            risk_of_bias="not-assessed",
            year=None,
            design="prospective-cohort",
            n=None,
        )
        for label, y, v, cluster in zip(
            case["label"], case["yi"], case["vi"], case["cluster"], strict=True
        )
    ]
    return rows, case


@pytest.mark.parametrize("test", ["adhoc", "knha"])
def test_cli_and_runner_give_the_same_three_level_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture, test: str
) -> None:
    # The same data and spec through `evidence pool --cluster COL --test ...` and through
    # the runner's pooling: both the containment-df t interval of rma.mv(dfs = "contain"),
    # CR2 beside it, row-sum weights, and a note that 3 clusters are too few.
    from conftest import make_analysis

    from evidence.analyses.fit import pool_rows
    from evidence.cli import main

    rows, case = _chd_rows()
    path = tmp_path / "chd.csv"
    lines = ["yi,vi,cluster"] + [f"{r.yi!r},{r.vi!r},{r.cluster}" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    args = ["--cluster", "cluster", "--test", test, "--transform", "exp", "--json"]
    assert main(["pool", str(path), *args]) == 0
    cli = json.loads(capsys.readouterr().out)
    runner = pool_rows(rows, make_analysis(dependence="multilevel", test=test))
    expected, cr2 = case["t_contain"], case["cr2"]
    for pooled in (cli["pooled"], runner["pooled"]):
        assert pooled["method"] == "REML (three-level)" and pooled["test"] == "t"
        assert pooled["df"] == expected["df"] == 2
        assert_allclose(pooled["estimate"], expected["estimate"], rtol=RTOL)
        assert_allclose(pooled["ci"], expected["ci"], rtol=RTOL)
        assert_allclose(pooled["pi"], expected["pi"], rtol=RTOL)
        assert_allclose(pooled["back_transformed"]["ci"], np.exp(expected["ci"]), rtol=RTOL)
    for section in (cli["dependence"], runner["dependence"]):
        assert_allclose(section["robust"]["df"], cr2["df"], rtol=RTOL)
        assert_allclose(section["robust"]["ci"], cr2["ci"], rtol=RTOL)
    assert_allclose(runner["weights"], case["weights"]["rowsum"], rtol=1e-6)
    assert_allclose(cli["dependence"]["weights"], case["weights"]["rowsum"], rtol=1e-6)
    for notes in (cli["notes"], runner["notes"]):
        assert any("only 3 clusters" in n and "unreliable" in n for n in notes)
