"""A proof, from bounds on binned data, that a (restricted) likelihood has one local maximum.

:mod:`evidence.stats.likelihood` finds the global maximum of the ML or REML likelihood of
tau2 by evaluating the score at every node of a grid and refining every bracketed root
(issue 11). At k = 10^6 each node is a pass over the data, and a grid of ten or more nodes
costs more than everything else in the fit together. For one large intercept-only
meta-analysis this module proves instead, in O(k) once plus O(bins x cells), that the
score has at most one root on ``[0, top]`` (``top`` beyond the closed-form bound above which
the score is negative), so that the only local maximum is the global one and a single
root search finds it. When the proof does not go through the grid is used, unchanged.

**Bounds on a cell.** The studies are grouped by sampling variance into bins
(:meth:`evidence.stats.onepass.RowSums.bins`: bin ``j`` holds ``n_j`` studies with ``v`` in
``[a_j, b_j)``, relative width at most 2^-6, and the exact sums ``Y_j = sum y`` and
``Z_j = sum y^2`` of their centred effects). For every tau2 in a cell ``[t0, t1]`` every
weight ``w = 1/(v + tau2)`` of bin ``j`` lies in ``[l_j, h_j] = [1/(b_j + t1), 1/(a_j + t0)]``;
write ``c_j``, ``r_j`` for the centre and half-width of that interval and
``R_j(m) = sum_j (y - m)^2 = Z_j - 2 m Y_j + m^2 n_j``. Then, with ``S_p = sum w^p``:

- ``sum n l^p <= S_p <= sum n h^p``;
- ``sum w y`` lies within ``sum c Y +/- sum r sqrt(n Z)`` (``sum_j |y| <= sqrt(n_j Z_j)``), so
  the weighted mean ``mu = sum w y / S_1`` lies in an interval ``[mu_lo, mu_hi]``;
- ``A = sum w^2 (y - mu)^2`` lies between ``min_m sum l^2 R(m)`` and ``max_m sum h^2 R(m)``
  over ``m`` in ``[mu_lo, mu_hi]`` (convex quadratics in ``m``: the maximum is at an end,
  the minimum at the clipped vertex), and likewise ``a3 = sum w^3 (y - mu)^2 >=
  min_m sum l^3 R(m)``;
- ``|b2| = |sum w^2 (y - mu)| <= max over the two ends of
  |sum c2 (Y - m n)| + sum r2 sqrt(n R(m))``, with ``c2``, ``r2`` the centre and half-width
  of ``[l^2, h^2]`` (a convex function of ``m``).

The score (twice the derivative of the log-likelihood) is ``S = A - S_1 (+ S_2/S_1`` for
REML) and its derivative ``S' = -2 a3 + 2 b2^2/S_1 + S_2 (+ (S_2^2 - 2 S_3 S_1)/S_1^2``
for REML; Viechtbauer 2005), so each cell gets a lower and an upper bound of ``S`` and an
upper bound of ``S'``. A cell is *positive* when the lower bound of ``S`` is above 0,
*negative* when the upper bound is below 0, *decreasing* when the bound of ``S'`` is below
0; every bound must clear a relative margin of ``max(MARGIN, 4 n_max eps)``, which covers
the rounding of the bounds (sums of at most MAX_BINS terms) and of the binned sums (each
a running sum of up to ``n_max`` studies). The bin edges are exact doubles, so every
study lies inside its bin's edges exactly.

**Why one root.** Cells start at two per decade from ``v_min / 10`` (and ``[0, v_min/10]``)
to ``top`` and are halved until each is positive, negative or decreasing. If every cell is,
``S`` has at most one zero on ``[0, top]``, where it falls through 0: a zero ``z`` can lie
only in decreasing cells (the others keep their sign), where ``S`` falls strictly, so just
after ``z`` it is negative; a second zero would need ``S`` to rise back through 0, and the
first point where it does would again be a zero in a decreasing cell, just after which
``S`` would be negative, not positive. So the likelihood rises to its one maximum and falls
after it (or falls from tau2 = 0 on, when the exact ``S(0) <= 0``): that maximum is global.
All positive cells lie below all negative cells, and the zero, if any, lies between the
last positive and the first negative cell (:class:`Unimodal`), where the root search
starts from the zero of the bins' central estimate of ``S``.

References
----------
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. Journal of Educational and Behavioral Statistics 30, 261-293.
Moore RE, Kearfott RB, Cloud MJ (2009). Introduction to Interval Analysis. SIAM (the
enclosure of a function's range over a box by bounding each term).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from evidence.stats.onepass import Bins, Sums

Array = NDArray[np.float64]

#: Cells per decade of tau2 to start with (unsettled cells are then halved).
CELLS_PER_DECADE = 2
#: Rounds of halving the cells no bound settles before the proof is abandoned.
MAX_ROUNDS = 16
#: Most unsettled cells in a round before the proof is abandoned.
MAX_OPEN_CELLS = 64
#: Relative margin a bound must clear to settle a cell (at least 4 n_j eps, see below).
MARGIN = 1e-8
#: Lowest positive cell edge, as a fraction of the smallest sampling variance.
FLOOR = 1e-1
#: Mantissa bits of the bins the bounds use (2^-6: at most 1.6 % wide; finer bins prove a
#: few more fixtures but cost more per cell than the grid saves below k ~ 10^5) ...
BIN_BITS = 6
#: ... unless the variances span so many binades that there would be more bins than this.
MAX_BINS = 2048
#: Points at which the bins' estimate of the score is scanned for its zero, ...
SCAN = 9
#: ... and the Newton steps on it before a last one on the fine bins' estimate.
START_STEPS = 3


def score_from_sums(sums: Sums, method: str) -> Array:
    """Return the ML or REML score ``2 dll/dtau2`` of an intercept-only model from its sums.

    ``sum w^2 (y - mu)^2 - sum w``, plus ``sum w^2 / sum w`` for REML (Viechtbauer 2005).
    """
    value = sums.q_weighted - sums.s1
    if method == "REML":
        value = value + sums.s2 / sums.s1
    return value


def score_slope(sums: Sums, method: str) -> Array:
    """Return the derivative in tau2 of :func:`score_from_sums` (the sums need the cubes).

    With ``mu = sy/s1``, ``a3 = sum w^3 (y - mu)^2``, ``b2 = sum w^2 (y - mu)``:
    ML ``-2 a3 + 2 b2^2/s1 + s2``; REML adds ``(s2^2 - 2 s3 s1)/s1^2``.
    """
    assert sums.s3 is not None and sums.s3y is not None and sums.s3yy is not None
    mean = sums.mean
    a3 = sums.s3yy - 2 * mean * sums.s3y + mean * mean * sums.s3
    b2 = sums.s2y - mean * sums.s2
    value = -2 * a3 + 2 * b2 * b2 / sums.s1 + sums.s2
    if method == "REML":
        value = value + (sums.s2 * sums.s2 - 2 * sums.s3 * sums.s1) / (sums.s1 * sums.s1)
    return value


@dataclass(frozen=True)
class Unimodal:
    """What the proof established: the score has at most one zero on ``[0, top]``.

    Attributes
    ----------
    low : float
        ``S > 0`` on ``[0, low]`` (0 when no cell was proved positive).
    high : float
        ``S < 0`` on ``[high, top]`` (``top`` when no cell was proved negative); the
        score falls strictly on ``[low, high]``.
    start : float
        The zero of the bins' central estimate of ``S`` in ``[low, high]`` (a start for
        the root search; ``low`` or ``high`` when the estimate keeps its sign).
    value_low, value_high : float
        The central estimate at ``low`` and ``high``.
    """

    low: float
    high: float
    start: float
    value_low: float
    value_high: float


@dataclass(frozen=True)
class _CellBounds:
    lower: Array
    upper: Array
    slope_upper: Array
    scale: Array
    slope_scale: Array


def _quadratic(a: Array, b: Array, g: Array, m: Array) -> Array:
    """Return ``a - 2 b m + g m^2``: ``sum x R_j(m)`` for ``a = x.Z``, ``b = x.Y``, ``g = x.n``."""
    return a - 2 * b * m + g * m * m


def _least(a: Array, b: Array, g: Array, low: Array, high: Array) -> Array:
    """Minimum over ``m`` in ``[low, high]`` of the convex :func:`_quadratic` (at least 0)."""
    vertex = np.clip(b / g, low, high)
    return np.maximum(_quadratic(a, b, g, vertex), 0.0)


def _against(weights: Array, columns: Array) -> Array:
    """``weights (cells, bins) @ columns (bins, m)`` in numpy's own loop.

    Not BLAS: a threaded gemv on a busy two-CPU machine can wait a scheduler tick.
    """
    return np.einsum("cj,jm->cm", weights, columns)


def _cell_bounds(bins: Bins, t0: Array, t1: Array, method: str) -> _CellBounds:
    """Bounds of the score and of its slope over each cell ``[t0, t1]`` (module docstring)."""
    n, total, square = bins.count, bins.total, bins.square
    columns = np.column_stack([n, total, square, np.sqrt(n * square)])
    low = 1.0 / (bins.upper[None, :] + t1[:, None])  # (cells, bins): the least weights
    high = 1.0 / (bins.lower[None, :] + t0[:, None])  # the greatest
    low2, high2 = low * low, high * high
    s1_lo, s1_hi = _against(low, columns[:, :1])[:, 0], _against(high, columns[:, :1])[:, 0]
    l2, h2 = _against(low2, columns[:, :3]), _against(high2, columns[:, :3])  # n, Y, Z
    l3 = _against(low2 * low, columns[:, :3])
    middle = _against((low + high) / 2, columns[:, 1:2])[:, 0]
    slack = _against((high - low) / 2, columns[:, 3:])[:, 0]
    most, least = middle + slack, middle - slack  # bounds of sum w y
    mu_hi = np.where(most >= 0, most / s1_lo, most / s1_hi)
    mu_lo = np.where(least >= 0, least / s1_hi, least / s1_lo)
    s2_lo, s2_hi, s3_lo = l2[:, 0], h2[:, 0], l3[:, 0]
    a_upper = np.maximum(
        _quadratic(h2[:, 2], h2[:, 1], s2_hi, mu_lo), _quadratic(h2[:, 2], h2[:, 1], s2_hi, mu_hi)
    )
    a_lower = _least(l2[:, 2], l2[:, 1], s2_lo, mu_lo, mu_hi)
    a3_lower = _least(l3[:, 2], l3[:, 1], s3_lo, mu_lo, mu_hi)
    centre2 = _against((low2 + high2) / 2, columns[:, :2])  # n, Y
    spread2 = (high2 - low2) / 2
    b2 = np.zeros_like(s1_lo)
    for m in (mu_lo, mu_hi):
        within = np.maximum(square - 2 * m[:, None] * total + (m * m)[:, None] * n, 0.0)
        bound = np.abs(centre2[:, 1] - m * centre2[:, 0]) + np.einsum(
            "cj,cj->c", spread2, np.sqrt(n * within)
        )
        b2 = np.maximum(b2, bound)
    lower = a_lower - s1_hi
    upper = a_upper - s1_lo
    slope = -2 * a3_lower + 2 * b2 * b2 / s1_lo + s2_hi
    scale = a_upper + s1_hi
    slope_scale = 2 * a3_lower + 2 * b2 * b2 / s1_lo + s2_hi
    if method == "REML":
        lower = lower + s2_lo / s1_hi
        upper = upper + s2_hi / s1_lo
        scale = scale + s2_hi / s1_lo
        slope = slope + (s2_hi / s1_lo) ** 2 - 2 * s3_lo / s1_hi
        slope_scale = slope_scale + (s2_hi / s1_lo) ** 2 + 2 * s3_lo / s1_hi
    return _CellBounds(lower, upper, slope, scale, slope_scale)


def _central(bins: Bins, at: Array, method: str) -> tuple[Array, Array]:
    """Return the bins' central estimate of the score and its slope at each ``at``.

    Each bin's studies get the weight of its midpoint.
    """
    middle = (bins.lower + bins.upper) / 2
    w = 1.0 / (middle[None, :] + at[:, None])
    columns = np.column_stack([bins.count, bins.total, bins.square])
    w2 = w * w
    one, two, three = _against(w, columns), _against(w2, columns), _against(w2 * w, columns)
    sums = Sums(*one.T, *two.T, *three.T)
    return score_from_sums(sums, method), score_slope(sums, method)


def single_maximum(fine: Bins, method: str, v_min: float, top: float) -> Unimodal | None:
    """Prove that the ML or REML score has at most one zero on ``[0, top]``, or return None.

    Parameters
    ----------
    fine : Bins
        The studies binned by sampling variance (centred effects), finely: the bounds use
        bins of BIN_BITS (at most MAX_BINS of them), the start of the root search these.
    method : {"ML", "REML"}
        Which likelihood.
    v_min : float
        The smallest sampling variance (sets the first cell edge, ``FLOOR v_min``).
    top : float
        A tau2 above which the score is known to be negative
        (:func:`evidence.stats.likelihood.upper_bound`).

    Returns
    -------
    Unimodal or None
        None when some cell stays unsettled after MAX_ROUNDS halvings or more than
        MAX_OPEN_CELLS cells are unsettled at once (two maxima, or bounds too loose).
    """
    bins = fine.coarsen(BIN_BITS, MAX_BINS)
    floor = FLOOR * v_min
    top = max(top, floor)
    count = 2 + math.ceil(CELLS_PER_DECADE * math.log10(top / floor))
    nodes = np.concatenate([[0.0], floor * (top / floor) ** np.linspace(0.0, 1.0, count)])
    t0, t1 = nodes[:-1], nodes[1:]
    low, high = 0.0, top
    # a bin's sums add up to n_j terms one by one: relative rounding up to n_j eps
    margin = max(MARGIN, 4 * float(bins.count.max()) * np.finfo(float).eps)
    for _ in range(MAX_ROUNDS):
        bounds = _cell_bounds(bins, t0, t1, method)
        positive = bounds.lower > margin * bounds.scale
        negative = bounds.upper < -margin * bounds.scale
        falling = bounds.slope_upper < -margin * bounds.slope_scale
        if positive.any():
            low = max(low, float(t1[positive].max()))
        if negative.any():
            high = min(high, float(t0[negative].min()))
        open_cells = ~(positive | negative | falling)
        if not open_cells.any():
            break
        if open_cells.sum() > MAX_OPEN_CELLS:
            return None
        a, b = t0[open_cells], t1[open_cells]
        middle = np.where(a > 0, np.sqrt(a * b), b / 2)
        t0, t1 = np.concatenate([a, middle]), np.concatenate([middle, b])
    else:
        return None
    if low > high:  # a positive cell above a negative one: the bounds contradict each other
        return None
    return _start(bins, fine, method, low, high)


def _start(bins: Bins, fine: Bins, method: str, low: float, high: float) -> Unimodal:
    """Where the central estimate of the score crosses 0 in ``[low, high]``.

    Located on SCAN points with the coarse bins and refined by Newton steps on their
    estimate, then by one on the fine bins' (a bin 2^-12 wide moves the zero by about 1e-8
    relative), always kept inside the located cell.
    """
    at = np.linspace(low, high, SCAN)
    values, _ = _central(bins, at, method)
    falls = np.flatnonzero((values[:-1] > 0) & (values[1:] <= 0))
    if falls.size == 0:
        start = low if values[0] <= 0 else high
    else:
        i = int(falls[0])
        a, b, fa, fb = at[i], at[i + 1], values[i], values[i + 1]
        start = float(a - fa * (b - a) / (fb - fa))
        for estimate in [bins] * START_STEPS + [fine]:
            value, slope = _central(estimate, np.array([start]), method)
            step = float(value[0] / slope[0])
            if not (math.isfinite(step) and a <= start - step <= b):
                break
            start -= step
    return Unimodal(low, high, start, float(values[0]), float(values[-1]))
