"""Viechtbauer (2007), Stat Med 26, 37-52: confidence intervals for tau^2 (Collins et al.
1985 trials of diuretics in pregnancy, dat.collins1985b).

Expected values (Table II, page 44) from metafor 3.8.1's
tests/testthat/test_analysis_example_viechtbauer2007a.r (metafor's values at .tol = .01;
the older version of the file, 06f4298, compared the paper's rounded digits, which are
checked too). The profile-likelihood bounds,
there from the equivalent ``rma.mv(random = ~ 1 | id)``, are those of the same model fitted
as ``rma.uni``. The two bootstrap intervals depend on R's random number stream and are out
of scope, with the ``expect_true(TRUE)`` placeholders of their else branches
(tests/published/README.md).
"""

import numpy as np
from _published import assert_rounded, assert_tol, metadat

from evidence.effects.escalc import escalc
from evidence.stats.tau2_intervals import biggerstaff_tweedie, confint_tau2
from evidence.stats.uni import fit_uni

D = metadat("collins1985b")
E = escalc("OR", ai=D["pre.xti"], n1i=D["pre.nti"], ci=D["pre.xci"], n2i=D["pre.nci"])


def test_heterogeneity_estimates():
    found = [fit_uni(E.yi, E.vi, method=m).tau2 for m in ("DL", "ML", "REML", "SJ")]
    assert_rounded(found, [0.230, 0.239, 0.301, 0.456], 3)


def test_q_profile_biggerstaff_tweedie_and_profile_likelihood():
    qp = confint_tau2(fit_uni(E.yi, E.vi, method="DL"), "QP")
    assert_rounded([qp.lower, qp.upper], [0.072, 2.203], 3)
    bt = biggerstaff_tweedie(E.yi, E.vi)
    assert_rounded([bt.lower, bt.upper], [0.048, 2.355], 3)
    ml = confint_tau2(fit_uni(E.yi, E.vi, method="ML"), "PL")
    assert_rounded([ml.lower, ml.upper], [0.027, 1.131], 3)
    reml = confint_tau2(fit_uni(E.yi, E.vi, method="REML"), "PL")
    assert_rounded([reml.lower, reml.upper], [0.043, 1.475], 3)


def test_wald_and_sidik_jonkman_intervals():
    for method, expected in (("ML", [-0.101, 0.578]), ("REML", [-0.131, 0.732])):
        fit = fit_uni(E.yi, E.vi, method=method)
        found = [fit.tau2 - 1.96 * fit.se_tau2, fit.tau2 + 1.96 * fit.se_tau2]
        assert_rounded(found, expected, 3)
    sj = confint_tau2(fit_uni(E.yi, E.vi, method="SJ"), "SJ")
    assert_rounded([sj.lower, sj.upper], [0.208, 1.675], 3)
    assert np.isfinite(sj.tau2)


def test_metafor_381_expectations():
    """The eight value checks of metafor 3.8.1's file outside the bootstraps, at .tol."""
    fits = {m: fit_uni(E.yi, E.vi, method=m) for m in ("DL", "ML", "REML", "SJ")}
    assert_tol([fits[m].tau2 for m in ("DL", "ML", "REML", "SJ")], [0.2297, 0.2386, 0.3008, 0.4563])
    qp = confint_tau2(fits["DL"], "QP")
    assert_tol([qp.lower, qp.upper], [0.0723, 2.2027])
    bt = biggerstaff_tweedie(E.yi, E.vi)
    assert_tol([bt.lower, bt.upper], [0.0481, 2.3551])
    for method, expected in (("ML", [0.0266, 1.1308]), ("REML", [0.0427, 1.4747])):
        pl = confint_tau2(fits[method], "PL")
        assert_tol([pl.lower, pl.upper], expected)
    for method, expected in (("ML", [-0.1011, 0.5782]), ("REML", [-0.1306, 0.7322])):
        fit = fits[method]
        assert_tol([fit.tau2 - 1.96 * fit.se_tau2, fit.tau2 + 1.96 * fit.se_tau2], expected)
    sj = confint_tau2(fits["SJ"], "SJ")
    assert_tol([sj.lower, sj.upper], [0.2082, 1.6748])
