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
