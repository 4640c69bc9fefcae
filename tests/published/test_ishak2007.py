"""Ishak, Platt, Joseph, Hanley & Caro (2007), Clin Trials 4, 14-24: meta-analysis of
longitudinal studies (deep-brain stimulation in Parkinson's disease, outcomes at up to four
time points), with time-specific random effects and an AR(1) within-study correlation of
0.97 between the sampling errors.

Expected values (Table 1) from metafor 3.8.1's
tests/testthat/test_analysis_example_ishak2007.r (metafor's values at .tol = .01; the
older version of the file, 05f449f, with the table's one-decimal values, is checked too);
data dat.ishak2007. Out of scope (tests/published/README.md): the structures HAR, AR and
CAR, which evidence.stats.multivariate does not offer.
"""

import numpy as np
import pytest
from _published import assert_rounded, assert_tol, metadat
from scipy.linalg import block_diag, toeplitz

from evidence.stats.multivariate import rma_mv

DATA = metadat("ishak2007")
TIMES = 4
#: Long format, by study then time, without the missing occasions.
Y_WIDE = np.column_stack([DATA[f"y{t}i"] for t in range(1, TIMES + 1)])
V_WIDE = np.column_stack([DATA[f"v{t}i"] for t in range(1, TIMES + 1)])
PRESENT = np.isfinite(Y_WIDE).ravel()
YI = Y_WIDE.ravel()[PRESENT]
VI = V_WIDE.ravel()[PRESENT]
STUDY = np.repeat(DATA["study"], TIMES)[PRESENT]
TIME = np.tile(np.arange(1, TIMES + 1), len(DATA["study"]))[PRESENT]
#: The full V: per study sqrt(v) AR1(0.97) sqrt(v), missing occasions then removed.
AR1 = toeplitz(0.97 ** np.arange(TIMES))
V_FULL = block_diag(
    *[np.sqrt(np.nan_to_num(v))[:, None] * AR1 * np.sqrt(np.nan_to_num(v))[None, :] for v in V_WIDE]
)[np.ix_(PRESENT, PRESENT)]
TIME_DUMMIES = np.column_stack([(TIME == t).astype(float) for t in range(1, TIMES + 1)])


@pytest.mark.parametrize(
    ("random", "expected_beta", "expected_variances"),
    [
        ("DIAG", [-24.9, -27.5, -28.5, -24.1], [23.1, 27.8, 27.7, 29.9]),
        ("study", [-26.2, -27.2, -28.5, -25.6], [26.7]),
        ("ID", [-24.9, -27.5, -28.5, -24.2], [26.7]),
    ],
)
def test_independent_sampling_errors(random, expected_beta, expected_variances):
    if random == "DIAG":
        fit = rma_mv(YI, VI, X=TIME_DUMMIES, inner=TIME, outer=STUDY, struct="DIAG")
        variances = fit.tau2
    elif random == "study":
        fit = rma_mv(YI, VI, X=TIME_DUMMIES, random={"study": STUDY})
        variances = fit.sigma2
    else:
        # struct = "ID" (one tau2 for every time point, uncorrelated): the same model as a
        # random effect per study and time point, i.e. per row.
        fit = rma_mv(YI, VI, X=TIME_DUMMIES, random={"study:time": np.arange(len(YI))})
        variances = fit.sigma2
    assert_rounded(fit.beta, expected_beta, 1)
    assert_rounded(variances, expected_variances, 1)


def test_heteroscedastic_compound_symmetry_with_correlated_errors():
    fit = rma_mv(YI, V_FULL, X=TIME_DUMMIES, inner=TIME, outer=STUDY, struct="HCS")
    assert_rounded(fit.beta, [-25.9, -27.3, -28.7, -26.7], 1)
    assert_rounded(fit.tau2, [20.9, 32.7, 27.7, 32.2], 1)


@pytest.mark.parametrize(
    ("random", "expected_beta", "expected_variances"),
    [
        ("DIAG", [-24.8686, -27.4728, -28.5239, -24.1415], [23.0537, 27.8113, 27.6767, 29.9405]),
        ("study", [-26.2127, -27.1916, -28.5464, -25.6339], [26.6829]),
        ("ID", [-24.8792, -27.4670, -28.5185, -24.1502], [26.6847]),
        ("HCS", [-25.8814, -27.3293, -28.6510, -26.6631], [20.8629, 32.7429, 27.6593, 32.1908]),
    ],
)
def test_metafor_381_expectations(random, expected_beta, expected_variances):
    if random == "DIAG":
        fit = rma_mv(YI, VI, X=TIME_DUMMIES, inner=TIME, outer=STUDY, struct="DIAG")
        variances = fit.tau2
    elif random == "HCS":
        fit = rma_mv(YI, V_FULL, X=TIME_DUMMIES, inner=TIME, outer=STUDY, struct="HCS")
        variances = fit.tau2
    else:
        rows = STUDY if random == "study" else np.arange(len(YI))
        fit = rma_mv(YI, VI, X=TIME_DUMMIES, random={random: rows})
        variances = fit.sigma2
    assert_tol(fit.beta, expected_beta)
    assert_tol(variances, expected_variances)
