"""Henmi & Copas (2010), Stat Med 29, 2969-2983: the Lee & Done (2004) example.

Expected values (page 2978) from metafor's tests/testthat/test_analysis_example_henmi2010.r.
"""

from _published import assert_tol, metadat

from evidence.effects.escalc import escalc
from evidence.stats.tau2_intervals import henmi_copas
from evidence.stats.uni import fit_uni

LEE = metadat("lee2004")
E = escalc("OR", ai=LEE["ai"], n1i=LEE["n1i"], ci=LEE["ci"], n2i=LEE["n2i"])


def test_random_effects_model():
    fit = fit_uni(E.yi, E.vi, method="DL")
    assert_tol(fit.tau2, 0.3325)
    assert_tol(fit.beta, -0.6787)
    assert_tol(fit.ci_lower, -1.0664)
    assert_tol(fit.ci_upper, -0.2911)


def test_henmi_copas_interval():
    found = henmi_copas(E.yi, E.vi)
    assert_tol(found.estimate, -0.5145)
    assert_tol(found.ci[0], -0.9994)
    assert_tol(found.ci[1], -0.0295)
