"""``evidence pool`` beyond rma (issue 15): the binary models, predictions, BLUPs, tau2
intervals, Henmi-Copas, permutation tests, PFT back-transformation and the deletion
diagnostics of meta-regressions and three-level models, end to end on CSV files.

Expected numbers come from R metafor 3.8.1 (tests/reference/make_metafor15_fixtures.R,
make_diagnostics15_fixtures.R, make_binary_fixtures.R) or, for the Mantel-Haenszel rows,
from Rothman et al. (2008) as metafor's published-example test gives them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.cli import main

REFERENCE = Path(__file__).parent / "reference"
FIXTURES = json.loads((REFERENCE / "metafor15_fixtures.json").read_text())
DIAGNOSTICS = json.loads((REFERENCE / "diagnostics15.json").read_text())
RTOL = 1e-6
#: metafor's published-example tolerance (tests/testthat/settings.r).
TOL_PUBLISHED = 0.01


def _write(path: Path, columns: dict[str, list]) -> Path:
    names = list(columns)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in zip(*(columns[name] for name in names), strict=True):
            writer.writerow(row)
    return path


def _pool(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["pool", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def bcg(tmp_path: Path) -> Path:
    return _write(tmp_path / "bcg.csv", FIXTURES["cli_bcg"]["data"])


def test_predictions_at_numeric_and_text_moderator_values(bcg, capsys):
    output = _pool(
        capsys,
        str(bcg),
        "--measure",
        "OR",
        "--mods",
        "ablat,alloc",
        "--predict",
        "ablat=20,alloc=random",
        "--predict",
        "alloc=systematic,ablat=50",
    )
    expected, back = FIXTURES["cli_bcg"]["predict"], FIXTURES["cli_bcg"]["predict_exp"]
    rows = output["predictions"]
    assert rows[0]["at"] == {"ablat": "20", "alloc": "random"}
    assert_allclose([r["pred"] for r in rows], expected["pred"], rtol=RTOL)
    assert_allclose([r["se"] for r in rows], expected["se"], rtol=RTOL)
    assert_allclose([r["ci"] for r in rows], np.c_[expected["ci_lb"], expected["ci_ub"]], rtol=RTOL)
    assert_allclose([r["pi"] for r in rows], np.c_[expected["pi_lb"], expected["pi_ub"]], rtol=RTOL)
    found = [r["back_transformed"] for r in rows]
    assert_allclose([r["pred"] for r in found], back["pred"], rtol=RTOL)
    assert_allclose([r["pi"] for r in found], np.c_[back["pi_lb"], back["pi_ub"]], rtol=RTOL)


def test_profile_likelihood_interval_of_the_residual_tau2(bcg, capsys):
    output = _pool(capsys, str(bcg), "--measure", "OR", "--mods", "ablat,alloc", "--confint", "PL")
    assert output["tau2_interval"]["method"] == "PL"
    assert_allclose(
        output["tau2_interval"]["tau2_ci"], FIXTURES["cli_bcg"]["confint_pl"], rtol=RTOL
    )


def test_meta_regression_case_deletion(bcg, capsys):
    output = _pool(capsys, str(bcg), "--measure", "OR", "--mods", "ablat,alloc", "--sensitivity")
    section = output["meta_regression"]["ablat,alloc"]
    flags = [row["influential"] for row in section["influence"]]
    assert flags == FIXTURES["cli_bcg"]["influential"]
    assert set(section["influence"][0]["dfbetas"]) == {
        "intrcpt",
        "ablat",
        "allocrandom",
        "allocsystematic",
    }
    assert len(section["leave_one_out"]) == 13


def test_blups_per_study(bcg, capsys):
    output = _pool(capsys, str(bcg), "--measure", "OR", "--blup")
    rows = output["blup"]
    assert [row["study"] for row in rows] == FIXTURES["cli_bcg"]["data"]["study"]
    # Intercept-only model: every fitted value is the pooled estimate.
    assert_allclose([row["fitted"] for row in rows], output["pooled"]["estimate"], rtol=1e-12)
    for row in rows:  # blup = fitted + ranef
        assert row["blup"]["pred"] == pytest.approx(row["fitted"] + row["ranef"]["pred"])


def test_henmi_copas_and_biggerstaff_tweedie(tmp_path, capsys):
    name = next(n for n in FIXTURES if isinstance(FIXTURES[n], dict) and "hc" in FIXTURES[n])
    entry = FIXTURES[name]
    path = _write(tmp_path / "hc.csv", {"yi": entry["yi"], "vi": entry["vi"]})
    output = _pool(capsys, str(path), "--henmi-copas", "--confint", "BT")
    assert_allclose(output["henmi_copas"]["estimate"], entry["hc"]["beta"], rtol=RTOL)
    assert_allclose(
        output["henmi_copas"]["ci"], [entry["hc"]["ci_lb"], entry["hc"]["ci_ub"]], rtol=RTOL
    )
    assert output["tau2_interval"]["method"] == "BT"


def test_permutation_test_is_reproducible_for_a_seed(bcg, capsys):
    args = [str(bcg), "--measure", "OR", "--mods", "ablat", "--permutation", "50", "--seed", "7"]
    first, second = _pool(capsys, *args), _pool(capsys, *args)
    assert first["permutation"] == second["permutation"]
    assert first["permutation"]["seed"] == 7 and first["permutation"]["iterations"] == 50


def test_pft_pools_with_the_harmonic_mean_back_transform(tmp_path, capsys):
    columns = FIXTURES["inputs"]["pritz"]
    path = _write(tmp_path / "pritz.csv", {"xi": columns["xi"], "ni": columns["ni"]})
    output = _pool(capsys, str(path), "--measure", "PFT")
    expected = FIXTURES["measures"]["PFT_pooled"]
    back = output["pooled"]["back_transformed"]
    assert_allclose(back["estimate"], expected["pred"], rtol=RTOL)
    assert_allclose(back["ci"], [expected["ci_lb"], expected["ci_ub"]], rtol=RTOL)


ROTHMAN_15_1 = {"ai": [8, 22], "bi": [98, 76], "ci": [5, 16], "di": [115, 69]}


@pytest.mark.parametrize(
    ("measure", "expected"),
    [("RD", (0.0349, -0.0176, 0.0874)), ("RR", (0.2818, -0.1442, 0.7078))],
)
def test_mantel_haenszel_model(tmp_path, capsys, measure, expected):
    path = _write(tmp_path / "t.csv", ROTHMAN_15_1)
    output = _pool(capsys, str(path), "--measure", measure, "--model", "mh", "--level", "90")
    pooled = output["pooled"]
    assert pooled["model"] == "mantel-haenszel"
    found = [pooled["estimate"], *pooled["ci"]]
    assert_allclose(found, expected, rtol=TOL_PUBLISHED)


def test_peto_and_glmm_models(tmp_path, capsys):
    path = _write(tmp_path / "t.csv", ROTHMAN_15_1)
    peto = _pool(capsys, str(path), "--measure", "OR", "--model", "peto")["pooled"]
    assert peto["model"] == "peto"
    assert peto["back_transformed"]["estimate"] == pytest.approx(np.exp(peto["estimate"]))
    glmm = _pool(capsys, str(path), "--measure", "OR", "--model", "glmm", "--glmm-model", "CM.EL")
    assert glmm["pooled"]["glmm_model"] == "CM.EL"
    assert main(["pool", str(path), "--measure", "OR", "--model", "mh"]) == 0
    assert "Mantel-Haenszel model (k = 2; measure OR)" in capsys.readouterr().out


def test_cluster_deletion_of_the_three_level_model(tmp_path, capsys):
    entry = DIAGNOSTICS["multilevel"]["konstantopoulos"]
    path = _write(
        tmp_path / "k.csv", {"district": entry["cluster"], "yi": entry["yi"], "vi": entry["vi"]}
    )
    output = _pool(capsys, str(path), "--cluster", "district", "--sensitivity")
    rows = output["dependence"]["cluster_deletion"]["clusters"]
    assert [row["cluster"] for row in rows] == entry["clusters"]
    assert_allclose([row["cook_d"] for row in rows], entry["cook_d"], rtol=RTOL, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "mh", "--mods", "ablat"], "--mods work with --model rma only"),
        (["--predict", "ablat=3"], "--predict needs --mods"),
        (["--mods", "ablat,alloc", "--predict", "ablat=3"], "gives no value for alloc"),
        (["--mods", "alloc", "--predict", "alloc=none"], "has no level 'none'"),
        (["--mods", "ablat", "--predict", "ablat=x"], "is not a finite number"),
        (["--mods", "ablat", "--confint", "BT"], "for models without moderators"),
        (["--model", "peto", "--measure", "RR"], "--model peto pools the measures OR, PETO"),
        (["--model", "mv"], "--model mv needs --outer COL"),
        (["--outer", "alloc"], "work with --model mv only"),
        (["--model", "mv", "--outer", "alloc", "--confint", "QP"], "profile-likelihood"),
        (["--model", "mv", "--outer", "alloc", "--struct", "UN"], "give --inner COL"),
        (["--struct", "UN"], "--struct and --rho work with --model mv only"),
        (["--model", "glmm", "--method", "DL"], "maximum likelihood (--method ML"),
    ],
)
def test_bad_options_are_problems(bcg, capsys, args, message):
    measure = [] if "--measure" in args else ["--measure", "OR"]
    assert main(["pool", str(bcg), *measure, *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_multilevel_model_from_the_command_line(tmp_path, capsys):
    entry = DIAGNOSTICS["multilevel"]["konstantopoulos"]
    path = _write(
        tmp_path / "k.csv", {"district": entry["cluster"], "yi": entry["yi"], "vi": entry["vi"]}
    )
    output = _pool(capsys, str(path), "--model", "mv", "--outer", "district", "--confint", "PL")
    pooled = output["pooled"]
    assert pooled["model"] == "mv"
    assert_allclose(pooled["coefficients"][0]["estimate"], entry["full"]["beta"], rtol=RTOL)
    # rma.mv's nlminb stops within 5e-6 of the variance components (tests/test_diagnostics15)
    assert_allclose(list(pooled["sigma2"].values()), entry["full"]["sigma2"], rtol=5e-6)
    assert len(pooled["profile_ci"]["intervals"]) == 2
    assert main(["pool", str(path), "--model", "mv", "--outer", "district", "--confint", "PL"]) == 0
    text = capsys.readouterr().out
    assert "sigma^2 (district): 0.0651" in text
    # The printed summary carries what the JSON does: Q tests, fit statistics, profile CIs.
    assert f"QE(df = {pooled['qe_df']}) = {pooled['qe']:.4f}" in text
    assert f"AIC {pooled['fitstats']['REML']['aic']:.4f}" in text
    for row in pooled["profile_ci"]["intervals"]:
        low, high = row["ci"]
        assert f"{row['component']}: {row['estimate']:.4f} [{low:.4f}, {high:.4f}]" in text


def test_selection_model_from_the_command_line(tmp_path, capsys):
    model = json.loads((REFERENCE / "selection_fixtures.json").read_text())["models"][
        "hackshaw1998_3psm"
    ]
    path = _write(tmp_path / "h.csv", {"yi": model["yi"], "vi": model["vi"]})
    output = _pool(capsys, str(path), "--method", "ML", "--selection", "stepfun")
    found, expected = output["selection"], model["fit"]
    assert found["steps"] == [0.025, 1.0]
    # metafor's fit with tightened optim control (tests/test_selection_models.py)
    assert_allclose(found["coefficients"][0]["estimate"], expected["beta"], rtol=RTOL)
    assert_allclose(found["delta"], expected["delta"], rtol=RTOL)
    assert main(["pool", str(path), "--method", "ML", "--selection", "stepfun"]) == 0
    text = capsys.readouterr().out
    assert "Selection model (step function; k = 37" in text
    assert f"0.025 < p <= 1: {expected['delta'][1]:.4f}" in text
    assert f"(LRT, df = 1): {found['lrt']:.4f}" in text
    assert main(["pool", str(path), "--selection", "stepfun", "--steps", "x"]) == 1
    assert "--steps 'x'" in capsys.readouterr().err


def test_an_analysis_spec_can_ask_for_the_henmi_copas_interval():
    """``bias: [henmi-copas]`` in an analysis spec gives the results file a henmi_copas
    section: the interval of evidence.stats.tau2_intervals.henmi_copas on the pooled rows."""
    from conftest import make_analysis, make_effect, make_record

    from evidence.analyses.fit import fit_analysis
    from evidence.analyses.harmonise import harmonise
    from evidence.analyses.spec import Eligibility
    from evidence.stats.tau2_intervals import henmi_copas

    values = [1.2, 1.4, 1.1, 1.6, 1.3]
    studies = [
        make_record(f"s{i}", make_effect(measure="HR", value=v, ci=(v - 0.1, v + 0.3)))
        for i, v in enumerate(values)
    ]
    analysis = make_analysis(
        eligibility=Eligibility(measure_families=("hazard",)), bias=("henmi-copas",)
    )
    table = harmonise(studies, analysis)
    sections = fit_analysis(table, analysis)
    rows = table.included
    expected = henmi_copas([r.yi for r in rows], [r.vi for r in rows]).to_dict()
    assert sections["henmi_copas"] == expected


def test_the_site_shows_the_henmi_copas_interval_on_the_natural_scale():
    from evidence.report.book.sections import small_study_effects

    result = {
        "back_transform": "exp",
        "henmi_copas": {"estimate": 0.3010, "ci": [0.1264, 0.4756]},
    }
    text = small_study_effects(result).replace("\\", "")  # Markdown escapes aside
    assert "Henmi-Copas interval" in text
    assert f"{np.exp(0.3010):.2f} (95% CI {np.exp(0.1264):.2f} to {np.exp(0.4756):.2f})" in text
