"""The one-pass sums of a single row and the proof of a single likelihood maximum (issue 17).

- ``RowSums`` (blocked passes, no full-length temporaries) gives the same sums as the
  batch path, masked or not, at any length (blocks, pieces and the padded last block);
- the bins hold every study inside their edges and their sums are exact;
- the bounds of ``unimodal`` enclose the exact score and slope on every cell tried,
  including data with outliers and two peaks;
- forced onto the 3,006 fixture datasets (``PROOF_MIN_K = 2``), the proof never holds where
  the grid reference has two peaks, and every fit reaches the reference's global maximum;
- at k = 20,000-60,000 the proved fit equals the grid's, and a two-peak dataset falls back
  to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.stats import likelihood, onepass, unimodal
from evidence.stats.batch import intercept_sums, make_batch
from evidence.stats.pooling import fit_batch

REFERENCE = Path(__file__).parent / "reference"


def _data(k: int, seed: int, outliers: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.lognormal(-3, 1.2, k)
    y = rng.normal(0.2, np.sqrt(v + 0.03))
    if outliers:
        v[:outliers] = rng.uniform(2, 4, outliers)
        y[:outliers] = rng.normal(4, 1, outliers)
    return y, v


def _two_peaks(k1: int = 10_000, k2: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Precise studies near 0 and as many imprecise ones near 6: REML peaks at ~3e-5 and ~7."""
    rng = np.random.default_rng(5)
    v1 = rng.uniform(0.001, 0.002, k1)
    v2 = rng.uniform(5.5, 6.05, k2)
    y = np.concatenate([rng.normal(0, np.sqrt(v1)), rng.normal(6, np.sqrt(v2))])
    return y, np.concatenate([v1, v2])


@pytest.mark.parametrize("k", [1, 7, onepass.DOT_PIECE, onepass.BLOCK + 3, 3 * onepass.BLOCK])
@pytest.mark.parametrize("masked", [False, True])
def test_row_sums_equal_the_batch_sums(k: int, masked: bool) -> None:
    y, v = _data(k, k)
    mask = None
    if masked:
        mask = np.random.default_rng(1).random(k) > 0.3
        mask[0] = True
    one = make_batch(y, v, None if mask is None else mask[None, :])
    two = make_batch(np.vstack([y, y]), np.vstack([v, v]), None if mask is None else [mask, mask])
    for tau2 in (0.0, 0.01, 3.0):
        ours = intercept_sums(one, np.array([tau2]), third=True)
        theirs = intercept_sums(two, np.array([tau2, tau2]), third=True)
        for even, odd, square in (
            ("s1", "sy", "syy"),
            ("s2", "s2y", "s2yy"),
            ("s3", "s3y", "s3yy"),
        ):
            for name in (even, square):
                assert_allclose(getattr(ours, name)[0], getattr(theirs, name)[0], rtol=1e-12)
            # sum w^p y of centred y cancels: compare on the scale of sqrt(S_p S_pyy)
            scale = np.sqrt(getattr(theirs, even)[0] * getattr(theirs, square)[0])
            assert_allclose(getattr(ours, odd)[0], getattr(theirs, odd)[0], atol=1e-12 * scale)
        _, log_sum = one.row.sums(tau2, 1, log=True)
        keep = np.ones(k, bool) if mask is None else mask
        assert_allclose(log_sum, np.log(v[keep] + tau2).sum(), rtol=1e-12)
    assert_allclose(one.row.squares(), (one.centred**2).sum(), rtol=1e-12)


def test_a_repeated_call_reuses_the_last_sums() -> None:
    y, v = _data(1000, 3)
    row = make_batch(y, v).row
    first, _ = row.sums(0.5, 3)
    assert row.sums(0.5, 1)[0] is first  # lower order at the same tau2: no pass
    assert row.sums(0.25, 1)[0] is not first
    assert np.isnan(row.sums(0.25, 1)[0].s2[0])  # order 1 leaves the squares out
    assert row.sums(0.5, 2)[0] is first  # still known
    again, log_sum = row.sums(0.5, 2, log=True)  # a pass of logs only
    assert again is first and log_sum == pytest.approx(np.log(v + 0.5).sum(), rel=1e-13)


def test_bins_hold_every_study_within_their_edges() -> None:
    y, v = _data(50_000, 8, outliers=30)
    batch = make_batch(y, v)
    bins = batch.row.bins()
    centred = batch.centred[0]
    where = np.searchsorted(bins.lower, v, side="right") - 1
    assert (bins.lower[where] <= v).all() and (v < bins.upper[where]).all()
    assert_allclose(np.bincount(where, minlength=bins.count.size), bins.count)
    assert_allclose(np.bincount(where, centred, bins.count.size), bins.total, atol=1e-9)
    assert_allclose(np.bincount(where, centred**2, bins.count.size), bins.square, rtol=1e-12)
    assert ((bins.upper - bins.lower) / bins.lower <= 2.0**-onepass.BIN_BITS * 1.000001).all()
    coarse = bins.coarsen(unimodal.BIN_BITS, unimodal.MAX_BINS)
    assert coarse.count.sum() == 50_000 and coarse.count.size <= unimodal.MAX_BINS
    where = np.searchsorted(coarse.lower, v, side="right") - 1
    assert (coarse.lower[where] <= v).all() and (v < coarse.upper[where]).all()
    assert_allclose(coarse.square.sum(), (centred**2).sum(), rtol=1e-12)


@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("case", ["plain", "outliers", "two peaks"])
def test_bounds_enclose_the_exact_score_and_slope(method: str, case: str) -> None:
    y, v = _two_peaks(300, 300) if case == "two peaks" else _data(600, 11, 40 * (case != "plain"))
    batch = make_batch(y, v)
    bins = batch.row.bins().coarsen(unimodal.BIN_BITS, unimodal.MAX_BINS)
    rng = np.random.default_rng(4)
    t0 = np.concatenate([[0.0], 10 ** rng.uniform(-5, 1, 40)])
    t1 = t0 + np.concatenate([[1e-4], t0[1:] * 10 ** rng.uniform(-4, 0, 40)])
    bounds = unimodal._cell_bounds(bins, t0, t1, method)
    for c in range(t0.size):
        for tau2 in np.linspace(t0[c], t1[c], 7):
            sums, _ = batch.row.sums(float(tau2), 3)
            score = float(unimodal.score_from_sums(sums, method)[0])
            slope = float(unimodal.score_slope(sums, method)[0])
            slack = 1e-9 * float(bounds.scale[c])
            assert bounds.lower[c] - slack <= score <= bounds.upper[c] + slack
            assert slope <= bounds.slope_upper[c] + 1e-9 * float(bounds.slope_scale[c])


def _fixture_rows() -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(REFERENCE / "global_max_inputs.csv", delimiter=",", skiprows=1)
    return table[:, 0].astype(int) - 1, table[:, 1:3]


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_forced_proof_never_holds_where_there_are_two_peaks(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, table = _fixture_rows()
    expected = json.loads((REFERENCE / "global_max.json").read_text())[method]
    monkeypatch.setattr(likelihood, "PROOF_MIN_K", 2)
    proved = 0
    original = likelihood._single_maximum

    def counting(batch: object, name: str) -> likelihood.Maxima | None:
        nonlocal proved
        found = original(batch, name)  # type: ignore[arg-type]
        proved += found is not None
        return found

    monkeypatch.setattr(likelihood, "_single_maximum", counting)
    for d in range(ids.max() + 1):
        y, v = table[ids == d].T
        fit = fit_batch(y, v, method=method)
        assert fit.maxima is not None
        ours, theirs = float(fit.tau2[0]), expected["tau2"][d]
        if max(ours, theirs) >= 1e-8:
            assert ours == pytest.approx(theirs, rel=1e-6), d
        assert fit.beta[0, 0] == pytest.approx(expected["estimate"][d], rel=1e-6, abs=1e-12)
        assert int(fit.maxima.count[0]) == expected["n_peaks"][d], d
        assert int(fit.maxima.interior[0]) == expected["n_interior"][d], d
    assert proved == {"REML": 2634, "ML": 2558}[method]


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_large_k_proof_equals_the_grid(method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert likelihood.PROOF_MIN_K <= 60_000  # the first dataset takes the proof unforced
    for y, v in (_data(60_000, 21), _data(40_000, 22, outliers=200), _two_peaks()):
        if y.size < likelihood.PROOF_MIN_K:
            monkeypatch.setattr(likelihood, "PROOF_MIN_K", 2)
        proved = fit_batch(y, v, method=method)
        monkeypatch.setattr(likelihood, "PROOF_MIN_K", 10**9)
        grid = fit_batch(y, v, method=method)
        monkeypatch.undo()
        assert proved.maxima is not None and grid.maxima is not None
        assert_allclose(proved.tau2, grid.tau2, rtol=1e-10)
        assert_allclose(proved.beta, grid.beta, rtol=1e-10)
        assert proved.maxima.count.tolist() == grid.maxima.count.tolist()
        assert proved.maxima.peaks.keys() == grid.maxima.peaks.keys()
    assert grid.maxima.count[0] == 2  # the last dataset: two peaks, found by the grid


def test_two_peaks_are_not_proved_one() -> None:
    y, v = _two_peaks()
    batch = make_batch(y, v)
    top = float(1.01 * likelihood.upper_bound(batch, "REML")[0])
    assert unimodal.single_maximum(batch.row.bins(), "REML", float(v.min()), top) is None


def test_make_batch_checks_finiteness_in_one_sum_when_it_can() -> None:
    y = np.array([[1.0, np.nan, 2.0, 3.0]])
    v = np.array([[0.1, 0.2, np.inf, 0.4]])
    batch = make_batch(y, v)
    assert batch.mask.tolist() == [[True, False, False, True]] and not batch.full
    huge = np.array([[1e308, 1e308, -1e308]])  # the sum overflows; every entry is finite
    batch = make_batch(huge, np.ones((1, 3)))
    assert batch.full and batch.mask.all()


def test_a_masked_row_is_proved_as_its_included_studies() -> None:
    y, v = _data(70_000, 31)
    keep = np.random.default_rng(2).random(y.size) > 0.2
    masked = fit_batch(y[None, :], v[None, :], mask=keep[None, :], method="REML")
    alone = fit_batch(y[keep], v[keep], method="REML")
    assert_allclose(masked.tau2, alone.tau2, rtol=1e-10)
    assert_allclose(masked.beta, alone.beta, rtol=1e-10)


def test_variances_the_bins_cannot_take_are_left_to_the_grid() -> None:
    y, v = _data(300, 41)
    v[3] = 0.0  # fit_batch does not validate; bins of bit patterns need 0 < v < inf
    assert likelihood._single_maximum(make_batch(y, v), "REML") is None
