"""escalc() against R metafor 3.8 ``escalc`` (tests/reference/make_fixtures.R).

Datasets (metadat): dat.bcg Colditz 1994 (RR, OR); dat.normand1999 Normand 1999 (MD,
SMD with the exact Hedges correction); dat.molloy2014 Molloy 2014 (COR, ZCOR);
dat.nielweise2007 Niel-Weise 2007 and dat.yusuf1985 Yusuf 1985 table 6 (zero and
double-zero cells, add = 1/2 to = "only0", drop00 both ways); dat.hine1989 Hine 1989 (RD);
dat.curtis1998 Curtis 1998 (ROM); dat.pritz1997 Pritz 1997 (PR, PLO); dat.hart1999
Hart 1999 (IRR); dat.raudenbush1985 Raudenbush 1985 (precomputed yi, vi).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.effects import reported
from evidence.effects.escalc import escalc, hedges_correction

FIXTURES = json.loads((Path(__file__).parent / "reference" / "pooling_fixtures.json").read_text())
RTOL = 1e-6
#: dat.bcg names its 2x2 cells tpos/tneg/cpos/cneg; metafor's are ai/bi/ci/di.
RENAME = {"tpos": "ai", "tneg": "bi", "cpos": "ci", "cneg": "di"}


@pytest.mark.parametrize(
    "dataset",
    [pytest.param(d, id=f"{d['name']}-{d['measure']}") for d in FIXTURES["datasets"]],
)
def test_escalc_matches_metafor(dataset: dict) -> None:
    columns = {RENAME.get(name, name): values for name, values in dataset["inputs"].items()}
    columns = {
        name: [math.nan if v is None else v for v in values] for name, values in columns.items()
    }
    result = escalc(
        dataset["measure"],
        drop00=dataset.get("drop00", False),
        to=dataset.get("to", "only0"),
        **columns,
    )
    kept = np.asarray(dataset["kept"]) - 1
    assert_allclose(result.yi[kept], dataset["escalc"]["yi"], rtol=RTOL, atol=1e-14)
    assert_allclose(result.vi[kept], dataset["escalc"]["vi"], rtol=RTOL)
    dropped = np.setdiff1d(np.arange(len(result.yi)), kept)
    assert np.isnan(result.yi[dropped]).all()
    assert all(result.reasons[i] for i in dropped)
    assert all(result.reasons[i] is None for i in kept)


def test_hedges_correction_by_hand() -> None:
    # Hand derivation: m = 4: Gamma(2) / (sqrt(2) Gamma(1.5)) = 1 / (sqrt(2) * sqrt(pi)/2).
    assert_allclose(hedges_correction(4), 2 / (math.sqrt(2) * math.sqrt(math.pi)), rtol=1e-14)
    # The common approximation 1 - 3/(4m - 1) agrees to O(m^-2) for large m.
    assert_allclose(hedges_correction(200), 1 - 3 / 799, rtol=1e-5)
    assert np.isnan(hedges_correction(1))


def test_row_that_cannot_be_computed_says_why() -> None:
    result = escalc("ZCOR", ri=[0.3, 1.5, 0.2], ni=[50, 40, 3])
    assert result.reasons[0] is None
    assert "[-1, 1]" in result.reasons[1]
    assert "ni > 3" in result.reasons[2]
    assert np.isnan(result.yi[1:]).all()


def test_zero_cell_note_names_rows() -> None:
    # Hand derivation: row 2 has a zero cell, so 1/2 is added to all four cells:
    # log OR = log(0.5 * 10.5 / (10.5 * 5.5)), vi = 1/0.5 + 1/10.5 + 1/5.5 + 1/10.5.
    result = escalc("OR", ai=[5, 0], bi=[5, 10], ci=[5, 5], di=[5, 10])
    assert_allclose(result.yi[1], math.log(0.5 * 10.5 / (10.5 * 5.5)), rtol=1e-14)
    assert_allclose(result.vi[1], 1 / 0.5 + 2 / 10.5 + 1 / 5.5, rtol=1e-14)
    assert result.notes == ("added 0.5 to every cell of row(s) 2",)


def test_log_ratio_from_ci_by_hand() -> None:
    # Hand derivation: RR 1.19 (1.06 to 1.34): log RR = ln 1.19,
    # SE = (ln 1.34 - ln 1.06) / (2 x 1.959964).
    log_rr, se = reported.log_ratio_from_ci(1.19, 1.06, 1.34)
    assert_allclose(log_rr, math.log(1.19), rtol=1e-14)
    assert_allclose(se, (math.log(1.34) - math.log(1.06)) / (2 * 1.959963984540054), rtol=1e-12)


def test_se_from_p_by_hand() -> None:
    # Hand derivation: estimate 0.5 with two-sided p = 0.05 -> z = 1.959964, SE = 0.5 / z.
    assert_allclose(reported.se_from_p(0.5, 0.05), 0.5 / 1.959963984540054, rtol=1e-12)


def test_d_from_t_and_f_by_hand() -> None:
    # Hand derivation: t = 2, n1 = n2 = 20: d = 2 sqrt(1/10) = 0.632456;
    # Var(d) = 40/400 + d^2/80. F = t^2 = 4 gives the same |d|.
    d, variance = reported.d_from_t(2.0, 20, 20)
    assert_allclose(d, 2 * math.sqrt(0.1), rtol=1e-14)
    assert_allclose(variance, 0.1 + 0.4 / 80, rtol=1e-14)
    d_f, _ = reported.d_from_f(4.0, 20, 20, sign=-1)
    assert_allclose(d_f, -d, rtol=1e-14)


def test_logit_and_correlation_conversions_by_hand() -> None:
    # Hasselblad & Hedges (1995): d = ln(OR) sqrt(3)/pi, Var(d) = Var(ln OR) 3/pi^2.
    d, v = reported.log_odds_ratio_to_smd(math.log(2.0), 0.04)
    assert_allclose(d, math.log(2.0) * math.sqrt(3) / math.pi, rtol=1e-14)
    assert_allclose(v, 0.04 * 3 / math.pi**2, rtol=1e-14)
    # Borenstein (2009) eqs. 7.5-7.6: d = 2r/sqrt(1 - r^2), Var(d) = 4 Var(r)/(1 - r^2)^3.
    d, v = reported.r_to_d(0.3, 0.01)
    assert_allclose(d, 0.6 / math.sqrt(0.91), rtol=1e-14)
    assert_allclose(v, 0.04 / 0.91**3, rtol=1e-14)


def test_se_from_ci_and_the_critical_value() -> None:
    # SE = (hi - lo) / (2 z), z = 1.959964 at 95% (Borenstein 2009, eq. 8.3).
    assert_allclose(reported.se_from_ci(0.1, 0.5), 0.4 / (2 * 1.959963984540054), rtol=1e-15)
    assert reported.z_critical(95) == reported.z_critical(0.95)


def test_incidence_rate_ratio_zero_count_by_hand() -> None:
    # Hand derivation (metafor escalc, add = 1/2 to both counts when either is 0):
    # x1 = 0, t1 = 100, x2 = 4, t2 = 200: yi = log((0.5/100)/(4.5/200)), vi = 1/0.5 + 1/4.5.
    result = escalc("IRR", x1i=[0], t1i=[100], x2i=[4], t2i=[200])
    assert_allclose(result.yi[0], math.log((0.5 / 100) / (4.5 / 200)), rtol=1e-14)
    assert_allclose(result.vi[0], 1 / 0.5 + 1 / 4.5, rtol=1e-14)
    dropped = escalc("IRR", x1i=[0], t1i=[100], x2i=[0], t2i=[200], drop00=True)
    assert "drop00" in dropped.reasons[0]
