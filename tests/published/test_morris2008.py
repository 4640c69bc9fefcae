"""Morris (2008), Organ Res Methods 11, 364-386: standardised mean changes of a treatment
and a control group (raw-score SMCR and change-score SMCC standardisation) and their
differences (Table 1, p. 368).

Expected values from metafor 3.8.1's tests/testthat/test_analysis_example_morris2008.r
(the data are printed there and in the paper; metafor's values at .tol = .01, and the
older version of the file, 0d03774, with the paper's two-digit differences, is checked
too). Out of scope (tests/published/README.md): the two checks of a difference
standardised by the pooled pre-test SD, which that file computes itself (with metafor's
internal ``.cmicalc``) rather than with a metafor function.
"""

import numpy as np
import pytest
from _published import assert_rounded, assert_tol

from evidence.effects.escalc import escalc

TREATED = {
    "m_pre": [30.6, 23.5, 0.5, 53.4, 35.6],
    "m_post": [38.5, 26.8, 0.7, 75.9, 36.0],
    "sd_pre": [15.0, 3.1, 0.1, 14.5, 4.7],
    "sd_post": [11.6, 4.1, 0.1, 4.4, 4.6],
    "ni": [20, 50, 9, 10, 14],
    "ri": [0.47, 0.64, 0.77, 0.89, 0.44],
}
CONTROL = {
    "m_pre": [23.1, 24.9, 0.6, 55.7, 34.8],
    "m_post": [19.7, 25.3, 0.6, 60.7, 33.4],
    "sd_pre": [13.8, 4.1, 0.2, 17.3, 3.1],
    "sd_post": [14.8, 3.3, 0.2, 17.9, 6.9],
    "ni": [20, 42, 9, 11, 14],
    "ri": [0.47, 0.64, 0.77, 0.89, 0.44],
}

EXPECTED = {
    "SMCR": {
        "treated": (
            [0.5056, 1.0481, 1.8054, 1.4181, 0.0801],
            [0.0594, 0.0254, 0.2322, 0.1225, 0.0802],
        ),
        "control": (
            [-0.2365, 0.0958, 0.0000, 0.2667, -0.4250],
            [0.0544, 0.0173, 0.0511, 0.0232, 0.0864],
        ),
        "difference": ([0.74, 0.95, 1.81, 1.15, 0.51], [0.1138, 0.0426, 0.2833, 0.1458, 0.1667]),
    },
    "SMCC": {
        "treated": (
            [0.5417, 1.0198, 2.6619, 1.9088, 0.0765],
            [0.0573, 0.0304, 0.5048, 0.2822, 0.0716],
        ),
        "control": (
            [-0.2213, 0.1219, 0.0000, 0.5575, -0.2126],
            [0.0512, 0.0240, 0.1111, 0.1050, 0.0730],
        ),
        "difference": ([0.76, 0.90, 2.66, 1.35, 0.29], [0.1086, 0.0544, 0.6159, 0.3872, 0.1447]),
    },
}


def _change(measure: str, group: dict) -> tuple[np.ndarray, np.ndarray]:
    """metafor ``escalc(m1i = m_post, m2i = m_pre, sd1i = ..., ni, ri)``: SMCR
    standardises by the pre-test SD, SMCC by the SD of the change (both SDs given)."""
    extra = {"sd1i": group["sd_pre"]}
    if measure == "SMCC":
        extra = {"sd1i": group["sd_post"], "sd2i": group["sd_pre"]}
    out = escalc(
        measure,
        m1i=group["m_post"],
        m2i=group["m_pre"],
        ni=group["ni"],
        ri=group["ri"],
        **extra,
    )
    return out.yi, out.vi


@pytest.mark.parametrize("measure", ["SMCR", "SMCC"])
def test_standardised_mean_changes_and_their_differences(measure):
    expected = EXPECTED[measure]
    yt, vt = _change(measure, TREATED)
    yc, vc = _change(measure, CONTROL)
    assert_rounded(yt, expected["treated"][0], 4)
    assert_rounded(vt, expected["treated"][1], 4)
    assert_rounded(yc, expected["control"][0], 4)
    assert_rounded(vc, expected["control"][1], 4)
    assert_rounded(yt - yc, expected["difference"][0], 2)
    assert_rounded(vt + vc, expected["difference"][1], 4)


#: metafor 3.8.1's differences (treated - control) to four digits.
DIFFERENCES_381 = {
    "SMCR": ([0.7421, 0.9524, 1.8054, 1.1514, 0.5050], [0.1138, 0.0426, 0.2833, 0.1458, 0.1667]),
    "SMCC": ([0.7630, 0.8979, 2.6619, 1.3513, 0.2891], [0.1086, 0.0544, 0.6159, 0.3872, 0.1447]),
}


@pytest.mark.parametrize("measure", ["SMCR", "SMCC"])
def test_metafor_381_expectations(measure):
    expected = EXPECTED[measure]
    yt, vt = _change(measure, TREATED)
    yc, vc = _change(measure, CONTROL)
    for found, target in (
        (yt, expected["treated"][0]),
        (vt, expected["treated"][1]),
        (yc, expected["control"][0]),
        (vc, expected["control"][1]),
        (yt - yc, DIFFERENCES_381[measure][0]),
        (vt + vc, DIFFERENCES_381[measure][1]),
    ):
        assert_tol(found, target)
