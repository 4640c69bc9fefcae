"""Yusuf et al. (1985), Prog Cardiovasc Dis 27, 335-371: beta blockade after myocardial
infarction (Table 6 trials), Peto's one-step odds ratio and the inverse-variance model on
Peto log odds ratios.

Expected values (page 107) from metafor 3.8.1's
tests/testthat/test_analysis_example_yusuf1985.r (metafor's values at .tol = .01; the
paper's two-digit values of the older version, 01464f3, are checked too); data
dat.yusuf1985 (table 6). Out of scope (tests/published/README.md): the log-likelihood
plots and the expected R warnings.
"""

import numpy as np
from _published import assert_rounded, assert_tol, metadat

from evidence.effects.escalc import escalc
from evidence.stats.peto import peto
from evidence.stats.prediction import predict
from evidence.stats.uni import fit_uni

DATA = metadat("yusuf1985")
#: Trials without counts are left out (metafor leaves them out with a warning).
KEEP = np.isfinite(DATA["ai"]) & np.isfinite(DATA["ci"])
A, N1, C, N2 = (DATA[key][KEEP] for key in ("ai", "n1i", "ci", "n2i"))


def test_peto_method():
    res = peto(A, N1 - A, C, N2 - C)
    values = np.exp([res.estimate, res.ci_lower, res.ci_upper])
    assert_rounded(values, [0.93, 0.74, 1.18], 2)
    assert_tol(values, [0.9332, 0.7385, 1.1792])


def test_inverse_variance_model_on_peto_log_odds_ratios():
    effects = escalc("PETO", ai=A, n1i=N1, ci=C, n2i=N2, add=0)
    keep = np.isfinite(effects.yi)
    found = predict(fit_uni(effects.yi[keep], effects.vi[keep], method="FE"), transform="exp")
    values = [found.pred[0], found.ci_lower[0], found.ci_upper[0]]
    assert_rounded(values, [0.93, 0.74, 1.18], 2)
    assert_tol(values, [0.9332, 0.7385, 1.1792])
