"""Gleser & Olkin (2009), in The Handbook of Research Synthesis and Meta-Analysis (2nd ed.),
ch. 19: stochastically dependent effect sizes; the effect sizes of the multiple-treatment
studies example (risk differences, log odds ratios, log risk ratios, arcsine differences).

Expected values (pages 360-364) from metafor's
tests/testthat/test_analysis_example_gleser2009.r (the data are printed there). The
multivariate models of that file (rma.mv with the chapter's covariance matrices) are counted
in tests/published/README.md.
"""

import pytest
from _published import assert_tol

from evidence.effects.escalc import escalc

#: Three studies with one control and one to three treatment groups (the control's counts
#: repeated on each row).
TABLE = {
    "ai": [40, 40, 10, 150, 150, 150],
    "n1i": [1000, 1000, 200, 2000, 2000, 2000],
    "ci": [100, 150, 15, 40, 80, 50],
    "n2i": [4000, 4000, 400, 1000, 1000, 1000],
}

EXPECTED = {
    "RD": [0.0150, 0.0025, 0.0125, 0.0350, -0.0050, 0.0250],
    "OR": [0.4855, 0.0671, 0.3008, 0.6657, -0.0700, 0.4321],
    "RR": [0.4700, 0.0645, 0.2877, 0.6286, -0.0645, 0.4055],
    "AS": [0.0852, 0.0130, 0.0613, 0.1521, -0.0187, 0.1038],
}


@pytest.mark.parametrize("measure", EXPECTED)
def test_effect_sizes_of_the_multiple_treatment_studies(measure):
    yi = escalc(measure, **TABLE).yi
    # metafor's AS is half of the chapter's arcsine difference (the test compares yi * 2).
    assert_tol(yi * 2 if measure == "AS" else yi, EXPECTED[measure])
