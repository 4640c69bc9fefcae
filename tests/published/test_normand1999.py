"""Normand (1999), Stat Med 18, 321-359: risk differences (dat.hine1989) and mean
differences (dat.normand1999) with common-effect, REML and DL fits.

Expected values (Tables III, VII, VIII, IX) from metafor 3.8.1's
tests/testthat/test_analysis_example_normand1999.r (metafor's values at .tol = .01); the
older version of the file (0d03774), with the paper's rounded digits, is checked too. The
per-study intervals are metafor's ``summary.escalc``: ``yi -/+ z sqrt(vi)``.
"""

import numpy as np
from _published import assert_rounded, assert_tol, metadat

from evidence.effects.escalc import escalc
from evidence.stats.uni import fit_uni

Z95 = 1.959963984540054


def _fits(y, v, digits_ci, expected):
    for method, (estimate, lower, upper, tau2) in expected.items():
        fit = fit_uni(y, v, method=method)
        assert_rounded(fit.beta, [estimate], 2)
        assert_rounded(fit.ci_lower, [lower], digits_ci)
        assert_rounded(fit.ci_upper, [upper], digits_ci)
        if tau2 is not None:
            assert_rounded(fit.tau2, tau2, 3 if digits_ci == 1 else 2)


def test_first_example_risk_differences():
    d = metadat("hine1989")
    e = escalc("RD", n1i=d["n1i"], n2i=d["n2i"], ai=d["ai"], ci=d["ci"])
    y, v = e.yi * 100, e.vi * 100**2
    assert_rounded(y, [2.8026, 0.0000, 1.9711, 1.7961, 3.5334, 4.4031], 4)
    assert_rounded(v, [17.7575, 37.5657, 8.1323, 10.8998, 8.0114, 6.1320], 4)
    assert_rounded(y - Z95 * np.sqrt(v), [-5.5, -12.0, -3.6, -4.7, -2.0, -0.5], 1)
    assert_rounded(y + Z95 * np.sqrt(v), [11.1, 12.0, 7.6, 8.3, 9.1, 9.3], 1)
    expected = {
        "FE": (2.94, 0.4, 5.5, None),
        "REML": (2.94, 0.4, 5.5, 0.0),
        "DL": (2.94, 0.4, 5.5, 0.0),
    }
    _fits(y, v, 1, expected)


def _mean_differences():
    """Mean differences of dat.normand1999 with the pooled SD in both groups, as the test."""
    d = metadat("normand1999")
    pooled = np.sqrt(
        ((d["n1i"] - 1) * d["sd1i"] ** 2 + (d["n2i"] - 1) * d["sd2i"] ** 2)
        / (d["n1i"] + d["n2i"] - 2)
    )
    return escalc(
        "MD", m1i=d["m1i"], sd1i=pooled, n1i=d["n1i"], m2i=d["m2i"], sd2i=pooled, n2i=d["n2i"]
    )


def test_second_example_mean_differences():
    e = _mean_differences()
    assert_rounded(e.yi, [-20, -2, -55, -71, -4, 1, 11, -10, 7], 6)
    assert_rounded(e.vi, [40.59, 2.05, 15.28, 150.22, 20.19, 1.22, 95.38, 8.03, 20.69], 2)
    assert_rounded(
        e.yi - Z95 * np.sqrt(e.vi), [-32.5, -4.8, -62.7, -95.0, -12.8, -1.2, -8.1, -15.6, -1.9], 1
    )
    assert_rounded(
        e.yi + Z95 * np.sqrt(e.vi), [-7.5, 0.8, -47.3, -47.0, 4.8, 3.2, 30.1, -4.4, 15.9], 1
    )
    expected = {
        "FE": (-3.49, -5.03, -1.96, None),
        "DL": (-14.10, -24.45, -3.75, 218.72),
        "REML": (-15.12, -32.67, 2.43, 685.20),
    }
    _fits(e.yi, e.vi, 2, expected)


def _check_381(y, v, lower, upper, fits):
    assert_tol(y - Z95 * np.sqrt(v), lower)
    assert_tol(y + Z95 * np.sqrt(v), upper)
    for method, expected in fits:
        fit = fit_uni(y, v, method=method)
        found = [fit.beta[0], fit.ci_lower[0], fit.ci_upper[0], fit.tau2]
        for value, target in zip(found, expected, strict=False):
            assert_tol(value, target)


def test_metafor_381_first_example():
    d = metadat("hine1989")
    e = escalc("RD", n1i=d["n1i"], n2i=d["n2i"], ai=d["ai"], ci=d["ci"])
    y, v = e.yi * 100, e.vi * 100**2
    assert_tol(y, [2.8026, 0.0000, 1.9711, 1.7961, 3.5334, 4.4031])
    assert_tol(v, [17.7575, 37.5657, 8.1323, 10.8998, 8.0114, 6.1320])
    fits = [
        ("FE", [2.9444, 0.3831, 5.5058]),
        ("REML", [2.9444, 0.3831, 5.5058, 0.0]),
        ("DL", [2.9444, 0.3831, 5.5058, 0.0]),
    ]
    _check_381(
        y,
        v,
        [-5.4566, -12.0128, -3.6182, -4.6747, -2.0141, -0.4503],
        [11.0618, 12.0128, 7.5604, 8.2669, 9.0810, 9.2566],
        fits,
    )


def test_metafor_381_second_example():
    e = _mean_differences()
    # expect_equivalent without a tolerance: testthat's default, 1.5e-8.
    assert_tol(e.yi, [-20, -2, -55, -71, -4, 1, 11, -10, 7], tol=1.5e-8)
    assert_tol(
        e.vi, [40.5863, 2.0468, 15.2809, 150.2222, 20.1923, 1.2235, 95.3756, 8.0321, 20.6936]
    )
    fits = [
        ("FE", [-3.4939, -5.0265, -1.9613]),
        ("DL", [-14.0972, -24.4454, -3.7490, 218.7216]),
        ("REML", [-15.1217, -32.6716, 2.4282, 685.1965]),
    ]
    _check_381(
        e.yi,
        e.vi,
        [-32.4864, -4.8041, -62.6616, -95.0223, -12.8073, -1.168, -8.1411, -15.5547, -1.9159],
        [-7.5136, 0.8041, -47.3384, -46.9777, 4.8073, 3.168, 30.1411, -4.4453, 15.9159],
        fits,
    )
