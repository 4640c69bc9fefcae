"""Leave-one-out fits by closed-form deletion updates: O(k) memory, near O(k) time.

The k leave-one-out fits of an intercept-only random-effects model differ from the full
data by one study. Every quantity they need is a weighted sum over the studies,
``S_pj(tau2) = sum_l y_l^j / (v_l + tau2)^p`` (``p`` = 1, 2; ``j`` = 0, 1, 2) and
``sum_l log(v_l + tau2)``, and the sum without study ``i`` is the full sum minus study
``i``'s own term. The full sums are needed at each deletion's own tau2, so two devices keep
the cost near O(k):

- **Shared nodes.** On the grid of tau2 values that brackets the likelihood's maxima
  (:mod:`evidence.stats.likelihood`), the full sums are computed once per node (O(k)
  each), and the score of every deletion at every node follows in O(1).
- **Taylor expansion.** Between nodes, the full sums are expanded about a few centres
  ``c``: ``sum_l y^j/(v + c + d)^p = sum_n C(n + p - 1, n) (-d)^n M_(p+n),j(c)`` with the
  moments ``M_q,j(c) = sum_l y^j/(v_l + c)^q``, and
  ``sum_l log(v_l + c + d) = sum_l log(v_l + c) + sum_(n>=1) (-1)^(n+1) d^n M_n,0(c)/n``.
  The series converges for ``|d| < v_min + c``; centres are spaced so that
  ``|d| <= (v_min + c)/4``, and 40 terms leave a relative error below 1e-20.

The search is the same as for one fit (global maximum over the grid of nodes with the
same refinement of dips; roots refined by regula falsi), so the deletion fits equal the
masked-batch fits (``tests/test_deletion.py`` checks 1e-9 relative). Rows whose root or
interval bound is not covered by a centre are recomputed exactly on the masked batch,
in chunks that keep memory O(k).

Supported tau2 estimators: FE, DL, HE, HS, HSK (closed forms from downdated sums), PM,
EB (the root of ``Q_(i)(tau2) = k - 2``) and ML, REML (global likelihood maximum); any
other estimator is fitted exactly in chunks of rows (O(k) memory, O(k^2) time).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import special

from evidence.stats.batch import Sums, bracketed_root, make_batch
from evidence.stats.heterogeneity import Heterogeneity, HeterogeneityIntervals, tau2_intervals
from evidence.stats.likelihood import GRID_FLOOR, POINTS_PER_DECADE, REFINEMENTS, Maxima

if TYPE_CHECKING:
    from evidence.stats.pooling import BatchFit

Array = NDArray[np.float64]

#: Taylor terms of the expansion about each centre.
TERMS = 40
#: Largest ``|tau2 - c| / (v_min + c)`` served by a centre (the series ratio).
RADIUS = 0.25
#: Rows per chunk of the exact fallback (bounds memory at CHUNK_ELEMENTS floats a chunk).
CHUNK_ELEMENTS = 2_000_000
#: Methods with a closed-form or expansion-based deletion path.
FAST_METHODS = ("FE", "DL", "HE", "HS", "HSK", "PM", "EB", "ML", "REML")


class Expansion:
    """Full-data weighted sums about a growing set of centres (see the module docstring)."""

    def __init__(self, y: Array, v: Array) -> None:
        self.y, self.v = y, v
        self.v_min = float(v.min())
        self.centres: list[float] = []
        #: per centre, (TERMS + 1, 7): the series coefficients of S1, Sy, Syy, S2, S2y,
        #: S2yy and of the log sum, so that the sums are one product with (-d)^n
        self.coefficients: list[Array] = []
        self.logs: list[float] = []
        self._powers = np.stack([np.ones_like(y), y, y * y])  # (3, k)

    def radius(self, centre: float) -> float:
        """Largest distance from ``centre`` the series serves."""
        return RADIUS * (self.v_min + centre)

    def cover(self, low: float, high: float) -> None:
        """Add centres until every tau2 in ``[low, high]`` is within a radius of one."""
        point = max(low, 0.0)
        while True:
            index = int(self._covered(np.array([point]))[0])
            if index < 0:
                # the centre whose reach starts just below ``point``: c - R (v_min + c) = point
                self._add((point + RADIUS * self.v_min) / (1 - RADIUS) * (1 - 1e-9))
                index = len(self.centres) - 1
            nearest = self.centres[index]
            reach = nearest + self.radius(nearest)
            if reach >= high:
                return
            point = reach * (1 + 1e-12)

    def _add(self, centre: float) -> None:
        w = 1.0 / (self.v + centre)
        moments = np.empty((TERMS + 2, 3))  # M_q,j for q = 1 .. TERMS + 2
        power = w.copy()
        for q in range(TERMS + 2):
            moments[q] = np.einsum("jk,k->j", self._powers, power)
            power *= w
        n = np.arange(TERMS + 1)
        coefficients = np.zeros((TERMS + 1, 7))
        coefficients[:, 0:3] = moments[0 : TERMS + 1]  # p = 1: C(n, n) = 1
        coefficients[:, 3:6] = (n + 1)[:, None] * moments[1 : TERMS + 2]  # p = 2: n + 1
        # log(v + c + d) - log(v + c) = -sum_(n>=1) (-d)^n / (n (v + c)^n)
        coefficients[1:, 6] = -moments[0:TERMS, 0] / n[1:]
        self.centres.append(centre)
        self.coefficients.append(coefficients)
        self.logs.append(float(np.log(self.v + centre).sum()))

    def _covered(self, tau2: Array) -> NDArray[np.intp]:
        """Index of a centre serving each tau2, or -1."""
        if not self.centres:
            return np.full(tau2.shape, -1, dtype=np.intp)
        centres = np.asarray(self.centres)
        distance = np.abs(tau2[:, None] - centres[None, :]) / (RADIUS * (self.v_min + centres))
        best = np.argmin(distance, axis=1)
        return np.where(distance[np.arange(tau2.size), best] <= 1.0, best, -1)

    def full_sums(self, tau2: Array) -> tuple[Array, Array, NDArray[np.bool_]]:
        """Full-data sums at each tau2: (n, 6) [S1, Sy, Syy, S2, S2y, S2yy], log sums, ok."""
        index = self._covered(tau2)
        out = np.full((tau2.size, 6), np.nan)
        logs = np.full(tau2.size, np.nan)
        for c in np.unique(index[index >= 0]):
            rows = np.flatnonzero(index == c)
            delta = tau2[rows] - self.centres[c]
            powers = np.empty((rows.size, TERMS + 1))  # (-delta)^n by running products
            powers[:, 0] = 1.0
            powers[:, 1:] = -delta[:, None]
            np.cumprod(powers, axis=1, out=powers)
            series = powers @ self.coefficients[c]
            out[rows] = series[:, :6]
            logs[rows] = self.logs[c] + series[:, 6]
        return out, logs, index >= 0


def own_terms(y: Array, v: Array, tau2: Array) -> Array:
    """Study ``i``'s own terms at tau2 (per row i): (n, 6) as :meth:`Expansion.full_sums`."""
    w = 1.0 / (v + tau2)
    w2 = w * w
    return np.column_stack([w, w * y, w * y * y, w2, w2 * y, w2 * y * y])


def as_sums(table: Array) -> Sums:
    """Wrap an (n, 6) table of sums as :class:`~evidence.stats.batch.Sums`."""
    return Sums(*(np.ascontiguousarray(table[:, j]) for j in range(6)))


def exact_full_sums(y: Array, v: Array, tau2: float) -> tuple[Array, float]:
    """Full-data sums at one tau2, exactly: (6,) and the log sum."""
    w = 1.0 / (v + tau2)
    wy = w * y
    dot = "i,i->"
    values = np.array(
        [
            w.sum(),
            wy.sum(),
            np.einsum(dot, wy, y),
            np.einsum(dot, w, w),
            np.einsum(dot, wy, w),
            np.einsum(dot, wy, wy),
        ]
    )
    return values, float(np.log(v + tau2).sum())


@dataclass(frozen=True)
class DeletionSolution:
    """tau2 of every deletion fit, and the rows that need the exact fallback."""

    tau2: Array
    fallback: NDArray[np.bool_]
    count: NDArray[np.int64]
    interior: NDArray[np.int64]


def _score(sums: Sums, method: str) -> Array:
    value = sums.q_weighted - sums.s1
    if method == "REML":
        value = value + sums.s2 / sums.s1
    return value


def _loglik(sums: Sums, logs: Array, method: str) -> Array:
    value = -0.5 * logs - 0.5 * sums.q
    return value - 0.5 * np.log(sums.s1) if method == "REML" else value


def _deleted(
    expansion: Expansion, y: Array, v: Array, rows: NDArray[np.intp], tau2: Array
) -> tuple[Sums, Array, NDArray[np.bool_]]:
    """Return deletion sums of ``rows`` at their ``tau2`` via the expansion (sums, logs, ok)."""
    full, logs, ok = expansion.full_sums(tau2)
    own = own_terms(y[rows], v[rows], tau2)
    return as_sums(full - own), logs - np.log(v[rows] + tau2), ok


def _upper_bounds(y: Array, v: Array, method: str) -> Array:
    """Return the likelihood module's upper bound U for every deletion (O(k) downdates)."""
    k = y.size
    mean = y.mean()
    rss = ((y - mean) ** 2).sum() - (y - mean) ** 2 * k / (k - 1)
    order = np.argsort(v)
    v_min = np.where(np.arange(k) == order[0], v[order[1]], v[order[0]])
    v_max = np.where(np.arange(k) == order[-1], v[order[-2]], v[order[-1]])
    kk, p = k - 1.0, (1 if method == "REML" else 0)
    a = kk - p
    b = 2 * kk * v_min - p * (v_min + v_max) - rss
    c = kk * v_min**2 - p * v_min * v_max - rss * v_max
    root = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    return np.maximum(root, 0.0)


def _node_values(y: Array, v: Array, nodes: Array, function: Callable[..., Array]) -> Array:
    """Evaluate ``function`` on every deletion's exact sums at every node: (k, G)."""
    values = np.empty((y.size, nodes.size))
    for g, node in enumerate(nodes):
        full, log_full = exact_full_sums(y, v, float(node))
        own = own_terms(y, v, np.full(y.size, node))
        logs = log_full - np.log(v + node)
        values[:, g] = function(as_sums(full[None, :] - own), logs)
    return values


def _refine_nodes(
    y: Array, v: Array, nodes: Array, values: Array, v_min: float, function: Callable
) -> tuple[Array, Array]:
    """Insert quarter points of cells where a deletion's scaled score dips towards zero."""
    for _ in range(REFINEMENTS):
        scaled = values * (nodes[None, :] + v_min) ** 2
        sign, magnitude = np.sign(scaled), np.abs(scaled)
        same = (sign[:, :-2] == sign[:, 1:-1]) & (sign[:, 1:-1] == sign[:, 2:])
        dip = (magnitude[:, 1:-1] < magnitude[:, :-2]) & (magnitude[:, 1:-1] < magnitude[:, 2:])
        flagged = (same & dip & (sign[:, 1:-1] != 0)).any(axis=0)
        if not flagged.any():
            break
        cells = np.zeros(nodes.size - 1, dtype=bool)
        cells[:-1] |= flagged
        cells[1:] |= flagged
        new = []
        for j in np.flatnonzero(cells):
            a, b = nodes[j], nodes[j + 1]
            quarters = np.array([0.25, 0.5, 0.75])
            new.extend(a * (b / a) ** quarters if a > 0 else a + (b - a) * quarters)
        added = np.asarray(new)
        nodes = np.concatenate([nodes, added])
        values = np.concatenate([values, _node_values(y, v, added, function)], axis=1)
        order = np.argsort(nodes, kind="stable")
        nodes, values = nodes[order], values[:, order]
    return nodes, values


def _union(low: Array, high: Array) -> list[tuple[float, float]]:
    """Merge the intervals ``[low_i, high_i]`` into disjoint ones (sorted)."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted(zip(low.tolist(), high.tolist(), strict=True)):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _roots(
    expansion: Expansion,
    y: Array,
    v: Array,
    rows: NDArray[np.intp],
    low: Array,
    high: Array,
    f_low: Array,
    f_high: Array,
    function: Callable[[Sums, Array, NDArray[np.intp]], Array],
    scaled: bool = False,
) -> tuple[Array, NDArray[np.bool_]]:
    """Roots of ``function`` of deletion ``rows`` in brackets, via the expansion.

    With ``scaled`` the function is multiplied by ``(tau2 + v_min)^2`` (the likelihood
    score, nearly linear in tau2 so scaled; ``f_low``, ``f_high`` are unscaled).
    """
    for a, b in _union(low, high):
        expansion.cover(a, b)
    failed = np.zeros(rows.size, dtype=bool)
    v_min = expansion.v_min

    def factor(at: Array) -> Array:
        return (at + v_min) ** 2 if scaled else np.ones_like(at)

    def evaluate(active: NDArray[np.intp], at: Array) -> Array:
        sums, logs, ok = _deleted(expansion, y, v, rows[active], at)
        failed[active[~ok]] = True
        value = function(sums, logs, rows[active]) * factor(at)
        return np.where(ok, value, 0.0)  # a failed row stops at once (value 0)

    found, done = bracketed_root(evaluate, low, high, f_low * factor(low), f_high * factor(high))
    return found, done & ~failed


def deletion_tau2(y: Array, v: Array, method: str) -> DeletionSolution:
    """tau2 of the k leave-one-out fits (``FAST_METHODS``); see the module docstring."""
    k = y.size
    if method == "FE":
        zero = np.zeros(k)
        return DeletionSolution(
            zero, np.zeros(k, bool), np.ones(k, np.int64), np.zeros(k, np.int64)
        )
    if k - 1 <= 1:  # one study left: tau2 = 0 (k <= p)
        zero = np.zeros(k)
        return DeletionSolution(
            zero, np.zeros(k, bool), np.ones(k, np.int64), np.zeros(k, np.int64)
        )
    full0, _ = exact_full_sums(y, v, 0.0)
    zero_sums = as_sums(full0[None, :] - own_terms(y, v, np.zeros(k)))
    kk = k - 1.0
    counts = np.ones(k, dtype=np.int64)
    interior = np.zeros(k, dtype=np.int64)
    none = np.zeros(k, dtype=bool)
    if method in ("DL", "HS", "HSK"):
        q, s1 = zero_sums.q, zero_sums.s1
        if method == "DL":
            value = (q - (kk - 1)) / (s1 - zero_sums.s2 / s1)
        elif method == "HS":
            value = (q - kk) / s1
        else:
            value = (kk / (kk - 1) * q - kk) / s1
        return DeletionSolution(np.maximum(value, 0.0), none, counts, interior)
    if method == "HE":
        mean_all = y.mean()
        ss = ((y - mean_all) ** 2).sum() - (y - mean_all) ** 2 * k / (k - 1)
        sum_v = v.sum() - v
        value = (ss - sum_v * (1 - 1 / kk)) / (kk - 1)
        return DeletionSolution(np.maximum(value, 0.0), none, counts, interior)
    return _search(y, v, method, zero_sums)


def _search(y: Array, v: Array, method: str, zero_sums: Sums) -> DeletionSolution:
    """PM/EB: root of Q_(i) = k - 2; ML/REML: global likelihood maximum (as one fit)."""
    k = y.size
    expansion = Expansion(y, v)
    v_min = expansion.v_min
    likelihood = method in ("ML", "REML")
    if likelihood:

        def function(sums: Sums, logs: Array, rows: NDArray[np.intp] | None = None) -> Array:
            return _score(sums, method)

        high = float(np.max(1.01 * _upper_bounds(y, v, method)))
    else:

        def function(sums: Sums, logs: Array, rows: NDArray[np.intp] | None = None) -> Array:
            return sums.q - (k - 2.0)

        # Q_(i)(t) <= SS/(v_min + t) < k - 2 above SS/(k - 2) - v_min (SS about the mean)
        ss = float(((y - y.mean()) ** 2).sum())
        high = 1.01 * (ss / (k - 2.0) - v_min)
    low = GRID_FLOOR * v_min
    high = max(high, low)
    count = 2 + math.ceil(POINTS_PER_DECADE * math.log10(high / low))
    nodes = np.concatenate([[0.0], low * (high / low) ** np.linspace(0, 1, count)])
    values = _node_values(y, v, nodes, function)
    if likelihood:
        nodes, values = _refine_nodes(y, v, nodes, values, v_min, function)
    with np.errstate(invalid="ignore"):
        turns = (values[:, :-1] > 0) & (values[:, 1:] <= 0)
    row, cell = np.nonzero(turns)
    roots, done = _roots(
        expansion,
        y,
        v,
        row,
        nodes[cell],
        nodes[cell + 1],
        values[row, cell],
        values[row, cell + 1],
        function,
        scaled=likelihood,
    )
    tau2 = np.zeros(k)
    fallback = np.zeros(k, dtype=bool)
    np.logical_or.at(fallback, row, ~done)
    found = np.bincount(row, minlength=k)
    boundary = values[:, 0] <= 0
    counts = found + boundary
    if not likelihood:
        tau2[row] = roots  # one root per row (Q decreases); 0 where Q(0) <= k - 2
        return DeletionSolution(tau2, fallback, np.ones(k, np.int64), np.zeros(k, np.int64))
    # the best candidate per deletion by its log-likelihood
    cand_rows = np.concatenate([np.flatnonzero(boundary), row])
    cand_tau2 = np.concatenate([np.zeros(int(boundary.sum())), roots])
    several = counts[cand_rows] > 1
    best = np.full(k, -np.inf)
    if several.any():
        sums, logs, ok = _deleted(expansion, y, v, cand_rows[several], cand_tau2[several])
        loglik = np.where(ok, _loglik(sums, logs, method), np.nan)
        fallback[cand_rows[several][~ok]] = True
    for r, t, is_several, index in zip(
        cand_rows, cand_tau2, several, np.cumsum(several) - 1, strict=True
    ):
        if not is_several:
            tau2[r] = t
        elif loglik[index] > best[r]:
            best[r], tau2[r] = loglik[index], t
    return DeletionSolution(tau2, fallback, counts.astype(np.int64), found.astype(np.int64))


def chunks(rows: NDArray[np.intp], k: int) -> list[NDArray[np.intp]]:
    """Split ``rows`` so that a chunk's masked batch holds at most CHUNK_ELEMENTS entries."""
    size = max(1, CHUNK_ELEMENTS // max(k, 1))
    return [rows[i : i + size] for i in range(0, rows.size, size)]


def chi2_crit(level: float) -> float:
    """``chi2_1`` quantile at ``level`` (the profile-likelihood threshold)."""
    return float(special.chdtri(1, 1 - level))


@dataclass(frozen=True)
class DeletionFits:
    """The k leave-one-out fits as a batch fit, their tau2 intervals, and helpers.

    ``fit`` has the fields of :class:`evidence.stats.pooling.BatchFit` (row i leaves out
    study i); ``var_all`` is ``1 / sum_j w_j(tau2_(i))`` over all k studies (influence's
    DFBETAS); ``intervals`` the tau2 bounds when asked for.
    """

    fit: BatchFit
    var_all: Array
    intervals: HeterogeneityIntervals | None
    exact_rows: int


def _deletion_sums(
    expansion: Expansion, y: Array, v: Array, tau2: Array
) -> tuple[Array, Array, Array, NDArray[np.bool_]]:
    """Return deletion sums (k, 6), log sums, full-data S1 at tau2_(i), and which are ok."""
    k = y.size
    table = np.empty((k, 6))
    logs = np.empty(k)
    full_s1 = np.empty(k)
    ok = np.ones(k, dtype=bool)
    at_zero = tau2 == 0
    if at_zero.any():
        full0, log0 = exact_full_sums(y, v, 0.0)
        rows = np.flatnonzero(at_zero)
        table[rows] = full0[None, :] - own_terms(y[rows], v[rows], np.zeros(rows.size))
        logs[rows] = log0 - np.log(v[rows])
        full_s1[rows] = full0[0]
    rows = np.flatnonzero(~at_zero)
    if rows.size:
        expansion.cover(float(tau2[rows].min()), float(tau2[rows].max()))
        full, log_full, fine = expansion.full_sums(tau2[rows])
        table[rows] = full - own_terms(y[rows], v[rows], tau2[rows])
        logs[rows] = log_full - np.log(v[rows] + tau2[rows])
        full_s1[rows] = full[:, 0]
        ok[rows] = fine
    return table, logs, full_s1, ok


def _node_tables(y: Array, v: Array, nodes: Array) -> tuple[Array, Array]:
    """Return deletion sums (k, G, 6) and log sums (k, G) at every node, exactly."""
    k = y.size
    tables = np.empty((k, nodes.size, 6))
    logs = np.empty((k, nodes.size))
    for g, node in enumerate(nodes):
        full, log_full = exact_full_sums(y, v, float(node))
        tables[:, g] = full[None, :] - own_terms(y, v, np.full(k, node))
        logs[:, g] = log_full - np.log(v + node)
    return tables, logs


def interval_bounds(
    y: Array,
    v: Array,
    expansion: Expansion,
    tau2: Array,
    method: str,
    level: float,
    best: Array,
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """tau2 bounds of every deletion fit: PL for ML/REML, QP otherwise; and which are ok.

    As :func:`evidence.stats.heterogeneity.tau2_intervals` row by row: shared nodes up
    to the search limit give each bound's bracket (the crossing nearest the estimate for
    PL), refined through the expansion. ``best`` is each deletion's log-likelihood at its
    estimate (PL only). Rows with a search limit other than the shared one are not ok.
    """
    k = y.size
    limit = np.maximum(100.0, 10 * tau2)
    shared_limit = float(limit.min())
    ok = limit == shared_limit
    low = GRID_FLOOR * expansion.v_min
    count = 2 + math.ceil(POINTS_PER_DECADE * math.log10(shared_limit / low))
    nodes = np.concatenate([[0.0], low * (shared_limit / low) ** np.linspace(0, 1, count)])
    tables, logs = _node_tables(y, v, nodes)
    sums = Sums(*(tables[:, :, j] for j in range(6)))
    if method in ("ML", "REML"):
        crit = chi2_crit(level)
        ll = -0.5 * logs - 0.5 * sums.q
        if method == "REML":
            ll = ll - 0.5 * np.log(sums.s1)
        below_values = -2 * (ll - best[:, None]) - crit  # excess: > 0 outside the interval

        def below(s: Sums, lg: Array, rows: NDArray[np.intp]) -> Array:
            return -2 * (_loglik(s, lg, method) - best[rows]) - crit

        above, above_values = below, below_values
        lower_side = nodes[None, :] < tau2[:, None]
        upper_side = nodes[None, :] > tau2[:, None]
    else:
        df = k - 2.0
        alpha = 1 - level
        t_high, t_low = special.chdtri(df, alpha / 2), special.chdtri(df, 1 - alpha / 2)
        q = sums.q
        below_values, above_values = q - t_high, q - t_low  # decreasing in tau2

        def below(s: Sums, lg: Array, rows: NDArray[np.intp]) -> Array:
            return s.q - t_high

        def above(s: Sums, lg: Array, rows: NDArray[np.intp]) -> Array:
            return s.q - t_low

        lower_side = upper_side = np.ones((k, nodes.size), dtype=bool)
    at_estimate = -chi2_crit(level) if method in ("ML", "REML") else 0.0
    lower = _bound(
        y, v, expansion, nodes, below_values, lower_side, below, tau2, "lower", method, at_estimate
    )
    upper = _bound(
        y, v, expansion, nodes, above_values, upper_side, above, tau2, "upper", method, at_estimate
    )
    lower_value, lower_ok = lower
    upper_value, upper_ok = upper
    return lower_value, np.minimum(upper_value, limit), ok & lower_ok & upper_ok


def _bound(
    y: Array,
    v: Array,
    expansion: Expansion,
    nodes: Array,
    values: Array,
    side: NDArray[np.bool_],
    function: Callable[[Sums, Array, NDArray[np.intp]], Array],
    tau2: Array,
    which: str,
    method: str,
    at_estimate: float,
) -> tuple[Array, NDArray[np.bool_]]:
    """Return one bound per deletion from node values and a crossing bracket."""
    k = y.size
    likelihood = method in ("ML", "REML")
    result = np.zeros(k)
    ok = np.ones(k, dtype=bool)
    rows = np.arange(k)
    if likelihood and which == "lower":
        # 0 when the likelihood at 0 is within the threshold; else the largest node below
        # the estimate where it is not, up to the next node or the estimate itself
        outside = (values > 0) & side
        has = outside.any(axis=1)
        j = np.where(has, side.shape[1] - 1 - np.argmax(outside[:, ::-1], axis=1), 0)
        a = nodes[j]
        nxt = np.minimum(j + 1, nodes.size - 1)
        b = np.minimum(nodes[nxt], tau2)
        f_a = values[rows, j]
        f_b = np.where(nodes[nxt] < tau2, values[rows, nxt], at_estimate)
        need = np.asarray(has & (values[:, 0] > 0), dtype=bool)
    elif likelihood:
        outside = (values > 0) & side
        has = outside.any(axis=1)
        j = np.argmax(outside, axis=1)
        prv = np.maximum(j - 1, 0)
        a = np.maximum(nodes[prv], tau2)
        b = nodes[j]
        f_a = np.where(nodes[prv] > tau2, values[rows, prv], at_estimate)
        f_b = values[rows, j]
        result = np.where(has, 0.0, nodes[-1])  # within the threshold up to the limit
        need = np.asarray(has, dtype=bool)
    else:
        # decreasing: 0 where the value at 0 is already <= 0; the limit where it stays > 0
        turns = (values[:, :-1] > 0) & (values[:, 1:] <= 0)
        has = turns.any(axis=1)
        j = np.argmax(turns, axis=1)
        a, b = nodes[j], nodes[j + 1]
        f_a, f_b = values[rows, j], values[rows, j + 1]
        result = np.where(values[:, -1] > 0, nodes[-1], 0.0)
        need = np.asarray(has, dtype=bool)
    if likelihood and which == "upper":
        f_a, f_b = f_b, f_a  # the excess rises from the estimate: positive at b
        a, b = b, a
    chosen = np.flatnonzero(need & (f_a > 0) & (f_b <= 0))
    odd = np.flatnonzero(need & ~((f_a > 0) & (f_b <= 0)))
    ok[odd] = False
    if chosen.size:
        low, high = np.minimum(a, b)[chosen], np.maximum(a, b)[chosen]
        f_low = np.where(a <= b, f_a, f_b)[chosen]
        f_high = np.where(a <= b, f_b, f_a)[chosen]
        found, done = _roots(expansion, y, v, chosen, low, high, f_low, f_high, function)
        result[chosen] = found
        ok[chosen] &= done
    return result, ok


def deletion_fits(
    y: Array, v: Array, method: str, test: str, level: float, intervals: bool
) -> DeletionFits:
    """Fit the k leave-one-out models of an intercept-only model (row i leaves out i).

    ``method`` in :data:`FAST_METHODS` uses the deletion updates; any other estimator is
    fitted exactly on the masked batch, in chunks. Equal to
    :func:`evidence.stats.pooling.fit_batch` on the k x k mask (and
    :func:`evidence.stats.heterogeneity.tau2_intervals`) up to rounding; rows that the
    expansion does not cover are computed exactly that way, in chunks.
    """
    from evidence.stats.pooling import _normalise_level

    k = y.size
    offset = float(y.mean())
    yc = y - offset
    fraction = _normalise_level(level)
    if method in FAST_METHODS:
        solution = deletion_tau2(yc, v, method)
    else:
        ones = np.ones(k, np.int64)
        solution = DeletionSolution(np.zeros(k), np.ones(k, bool), ones, 0 * ones)
    expansion = Expansion(yc, v)
    full0, _ = exact_full_sums(yc, v, 0.0)
    zero = as_sums(full0[None, :] - own_terms(yc, v, np.zeros(k)))
    table, logs, full_s1, ok = _deletion_sums(expansion, yc, v, solution.tau2)
    sums = as_sums(table)
    fit = _assemble(sums, zero, solution, offset, method, test, fraction)
    exact = solution.fallback | ~ok
    bounds = None
    if intervals and method != "FE" and k > 2:
        best = _loglik(sums, logs, method) if method in ("ML", "REML") else np.zeros(k)
        lower, upper, fine = interval_bounds(
            yc, v, expansion, solution.tau2, method, fraction, best
        )
        exact = exact | ~fine
        bounds = _derived(np.column_stack([lower, upper]), fit, method)
    rows = np.flatnonzero(exact)
    var_all = 1.0 / full_s1
    if rows.size:
        fit, bounds = _exact_rows(y, v, rows, method, test, level, fit, bounds)
        for chunk in chunks(rows, y.size):
            var_all[chunk] = 1 / np.sum(1 / (v[None, :] + fit.tau2[chunk, None]), axis=1)
    return DeletionFits(fit, var_all, bounds, int(rows.size))


def _derived(bounds: Array, fit: BatchFit, method: str) -> HeterogeneityIntervals:
    """tau, I2 and H2 bounds from the tau2 bounds (as the heterogeneity module)."""
    vt = fit.heterogeneity.typical_variance[:, None]
    return HeterogeneityIntervals(
        tau2=bounds,
        tau=np.sqrt(bounds),
        i2=100 * bounds / (vt + bounds),
        h2=bounds / vt + 1,
        kind="PL" if method in ("ML", "REML") else "QP",
    )


def _assemble(
    sums: Sums,
    zero: Sums,
    solution: DeletionSolution,
    offset: float,
    method: str,
    test: str,
    fraction: float,
) -> BatchFit:
    """Build the batch fit of the deletions from their sums (as ``pooling._fit``)."""
    from evidence.stats.pooling import BatchFit

    k = solution.tau2.size
    tau2 = solution.tau2
    df = k - 2.0
    t_based = test in ("knha", "adhoc") and df > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = sums.mean + offset
        scale = np.ones(k)
        if t_based:
            s2 = np.where(sums.q <= np.finfo(float).eps, 0.0, sums.q / df)
            scale = np.maximum(s2, 1.0) if test == "adhoc" else s2
        se = np.sqrt(scale / sums.s1)
        statistic = beta / se
        alpha = 1 - fraction
        if t_based:
            crit = np.full(k, special.stdtrit(df, 1 - alpha / 2))
            p_value = 2 * special.stdtr(df, -np.abs(statistic))
        else:
            crit = np.full(k, -special.ndtri(alpha / 2))
            p_value = 2 * special.ndtr(-np.abs(statistic))
        heterogeneity = _heterogeneity(zero, tau2, df, method)
    return BatchFit(
        beta=beta[:, None],
        covariance=(scale / sums.s1)[:, None, None],
        se=se[:, None],
        statistic=statistic[:, None],
        p_value=p_value[:, None],
        ci_lower=(beta - crit * se)[:, None],
        ci_upper=(beta + crit * se)[:, None],
        tau2=tau2,
        df=np.full(k, df if t_based else np.nan),
        crit=crit,
        knha_scale=scale,
        k=np.full(k, k - 1.0),
        heterogeneity=heterogeneity,
        maxima=(
            Maxima(tau2, ~solution.fallback, solution.count, solution.interior)
            if method in ("ML", "REML")
            else None
        ),
        t_test=np.full(k, t_based),
    )


def _heterogeneity(zero: Sums, tau2: Array, df: float, method: str) -> Heterogeneity:
    """Q at tau2 = 0, typical variance, I2 and H2 of every deletion (as heterogeneity())."""
    k = tau2.size
    if df <= 0:
        nan = np.full(k, np.nan)
        return Heterogeneity(nan, nan, nan, nan, nan, nan)
    q = np.maximum(zero.q, 0.0)
    typical = df / (zero.s1 - zero.s2 / zero.s1)
    if method == "FE":
        i2, h2 = np.maximum(0.0, 100 * (q - df) / q), q / df
    else:
        i2, h2 = 100 * tau2 / (typical + tau2), tau2 / typical + 1
    return Heterogeneity(q, np.full(k, df), special.chdtrc(df, q), typical, i2, h2)


def _exact_rows(
    y: Array,
    v: Array,
    rows: NDArray[np.intp],
    method: str,
    test: str,
    level: float,
    fit: BatchFit,
    bounds: HeterogeneityIntervals | None,
) -> tuple[BatchFit, HeterogeneityIntervals | None]:
    """Refit ``rows`` on the masked batch, in chunks, and put them into ``fit``/``bounds``."""
    from evidence.stats.pooling import _normalise_level, fit_batch

    names = (
        *("beta", "covariance", "se", "statistic", "p_value", "ci_lower", "ci_upper"),
        *("tau2", "df", "crit", "knha_scale", "t_test"),
    )
    arrays = {name: np.array(getattr(fit, name), copy=True) for name in names}
    het_names = ("q", "q_df", "q_p", "typical_variance", "i2", "h2")
    het = {name: getattr(fit.heterogeneity, name).copy() for name in het_names}
    tau2_bounds = None if bounds is None else bounds.tau2.copy()
    for chunk in chunks(rows, y.size):
        mask = np.ones((chunk.size, y.size), dtype=bool)
        mask[np.arange(chunk.size), chunk] = False
        wide, many = np.broadcast_to(y, mask.shape), np.broadcast_to(v, mask.shape)
        part = fit_batch(wide, many, mask=mask, method=method, test=test, level=level)
        for name in names:
            arrays[name][chunk] = getattr(part, name)
        for name in het_names:
            het[name][chunk] = getattr(part.heterogeneity, name)
        if tau2_bounds is not None:
            found = tau2_intervals(
                make_batch(wide, many, mask),
                part.tau2,
                method,
                part.heterogeneity.typical_variance,
                _normalise_level(level),
            )
            tau2_bounds[chunk] = found.tau2
    fit = replace(fit, heterogeneity=Heterogeneity(**het))
    for name, values in arrays.items():
        object.__setattr__(fit, name, values)
    if tau2_bounds is not None:
        bounds = _derived(tau2_bounds, fit, method)
    return fit, bounds
