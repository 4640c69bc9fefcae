"""The global maximum of the ML and REML (restricted) likelihood over tau^2 >= 0.

For the random-effects model ``y = X beta + u + e`` (``u ~ N(0, tau2)``, ``e ~ N(0, vi)``)
the profile log-likelihood of tau2 can have more than one local maximum: an imprecise
study far from the others adds a second peak (issue 11; 298 of 3,000 random datasets of
``tests/reference/global_max.json`` have two REML peaks, 134 of them both interior).
Fisher scoring, metafor's algorithm, stops at whichever peak its start leads to. Here every
local maximum is bracketed and refined, and the highest is returned:

1. **Bounds.** With ``w = 1/(vi + tau2)``, ``P = W - WX(X'WX)^-1X'W`` and ``r = Py/w``
   the score (twice the derivative of the log-likelihood) is ``S = y'PPy - tr(P)`` for
   REML and ``S = y'PPy - sum(w)`` for ML. Since ``y'PPy <= max(w)^2 RSS`` (``RSS`` the
   unweighted least-squares residual sum of squares), ``tr(P) >= sum(w) - p max(w)`` and
   ``sum(w) >= k/(v_max + tau2)``, ``S < 0`` for every tau2 above the largest root ``U``
   of ``(k - p) t^2 + (2k v_min - p (v_min + v_max) - RSS) t + k v_min^2 - p v_min v_max
   - RSS v_max`` (``p = 0`` for ML): no maximum lies above ``U``.
2. **Bracketing.** The score is evaluated at tau2 = 0 and on a grid of two points per
   decade from ``v_min / 10`` to ``1.01 U``. Where the scaled score
   ``S (tau2 + v_min)^2`` keeps its sign but dips towards zero between neighbours (a
   maximum and a minimum may hide in between), those cells are split in four, up to three
   times. Every cell where the score turns from positive to non-positive holds a local
   maximum; ``tau2 = 0`` is one when ``S(0) <= 0``.
3. **Refinement.** Each bracketed root of the score is found by regula falsi with the
   Illinois modification (bisection when a step does not halve the bracket) until the
   bracket is narrower than ``1e-12 (tau2 + v_min / 1000)``.
4. **Choice.** The local maximum with the highest log-likelihood is the estimate.

The grid and its refinement find every peak of the 3,006 datasets and 3,930 leave-one-out
fits of ``tests/reference/global_max*.json`` (found there by a grid of 400 points per decade
and refined to the score root), and the tests check that they still do.

**A single large meta-analysis** (one intercept-only row of at least PROOF_MIN_K studies)
first tries to *prove* that the score falls through zero at most once on ``[0, 1.01 U]``
(:mod:`evidence.stats.unimodal`: interval bounds of the score and its slope over cells of
tau2, from the studies binned by sampling variance). Where the proof holds, the only local
maximum is the global one, so steps 2 and 4 are not needed: the estimate is 0 when the
exact ``S(0) <= 0``, and otherwise the one root, found by step 3 (with Newton steps) inside
the bracket the proof leaves, started at the zero of the bins' estimate of the score. That
is two passes over the data instead of the grid's ten or more. Where the proof fails (two
peaks, or bounds too loose) the grid runs as above. The proof is stricter than the grid (it
covers every tau2, not only the nodes): on the 3,006 datasets it holds for 2,634 (REML)
and 2,558 (ML), never where the grid finds two peaks, and gives the same maxima
(``tests/test_unimodal.py``).

References
----------
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. Journal of Educational and Behavioral Statistics 30, 261-293.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
related problems. JASA 72, 320-338.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from evidence.stats.batch import (
    Batch,
    bracketed_root,
    intercept_sums,
    log_likelihood,
    quadratic_forms,
    weighted_fit,
)
from evidence.stats.unimodal import score_from_sums, score_slope, single_maximum

Array = NDArray[np.float64]

#: Grid points per decade of tau2 for bracketing the local maxima.
POINTS_PER_DECADE = 2
#: Lowest positive grid point, as a fraction of the smallest sampling variance.
GRID_FLOOR = 1e-1
#: Times a cell whose scaled score dips towards zero is split in four.
REFINEMENTS = 3
#: Root brackets are refined until narrower than TOLERANCE * (tau2 + v_min / 1000).
TOLERANCE = 1e-12
#: Iteration cap of the root refinement (it converges in about ten).
MAX_ITERATIONS = 200
#: Relative distance within which the root search of a single row reuses the slope ``S'``.
CHORD = 1e-6
#: Single intercept-only rows from this many studies first try the proof of one maximum
#: (:mod:`evidence.stats.unimodal`); below it the grid is cheaper.
PROOF_MIN_K = 50_000


@dataclass(frozen=True)
class Maxima:
    """The global maximum of the (restricted) likelihood per row and what else was found.

    Attributes
    ----------
    tau2 : (n,)
        The global maximum over tau2 >= 0.
    converged : (n,) bool
        Whether its root bracket reached the tolerance.
    count : (n,) int
        Number of local maxima found (the boundary tau2 = 0 counts when it is one).
    interior : (n,) int
        How many of them are interior (tau2 > 0).
    peaks : dict
        Row -> ``((tau2, loglik), ...)`` of every local maximum, highest first, for rows
        with more than one (log-likelihoods in metafor's convention).
    """

    tau2: Array
    converged: NDArray[np.bool_]
    count: NDArray[np.int64]
    interior: NDArray[np.int64]
    peaks: dict[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)


def score(batch: Batch, tau2: Array, method: str) -> Array:
    """Twice the derivative of the ML or REML log-likelihood in tau2, per row.

    REML ``y'PPy - tr(P)``; ML ``y'PPy - sum(w)``, at ``w = 1/(vi + tau2)``, on ``yi``
    centred at its unweighted mean (as metafor). Intercept-only rows use the closed form
    ``sum w^2 (y - mu)^2 - sum w (+ sum w^2 / sum w)`` with ``mu = sum w y / sum w``.
    """
    if not batch.intercept_only:
        forms = quadratic_forms(batch, batch.centred, tau2)
        return forms.rss_pp - (forms.trace_p if method == "REML" else forms.sum_w)
    sums = batch.zero_sums if not tau2.any() else intercept_sums(batch, tau2)
    return score_from_sums(sums, method)


def _variance_range(batch: Batch) -> tuple[Array, Array]:
    return batch.variance_range


def upper_bound(batch: Batch, method: str) -> Array:
    """Return a tau2 above which the score is negative (module docstring, step 1)."""
    if batch.intercept_only and len(batch.yi) == 1:
        rss = np.array([batch.row.squares()])
    elif batch.intercept_only:
        rss = np.einsum("nk,nk->n", batch.centred, batch.centred)
    else:
        residual, _, _ = weighted_fit(batch, batch.centred, batch.mask.astype(float))
        rss = np.einsum("nk,nk->n", residual, residual)
    v_min, v_max = _variance_range(batch)
    k, p = batch.k, (batch.p if method == "REML" else 0)
    a = k - p
    b = 2 * k * v_min - p * (v_min + v_max) - rss
    c = k * v_min**2 - p * v_min * v_max - rss * v_max
    root = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    return np.maximum(root, 0.0)


def _grid(batch: Batch, method: str) -> tuple[Array, Array]:
    """Nodes (n, G): 0, then two per decade from v_min/100 to 1.01 U."""
    v_min, _ = _variance_range(batch)
    low = GRID_FLOOR * v_min
    high = np.maximum(1.01 * upper_bound(batch, method), low)
    decades = float(np.max(np.log10(high / low)))
    count = 2 + math.ceil(POINTS_PER_DECADE * decades)
    fraction = np.linspace(0.0, 1.0, count)
    nodes = low[:, None] * (high / low)[:, None] ** fraction[None, :]
    return np.column_stack([np.zeros(len(low)), nodes]), v_min


def _evaluate(batch: Batch, rows: NDArray[np.intp], tau2: Array, method: str) -> Array:
    if rows.size == 0:
        return np.empty(0)
    return score(batch.take(rows), tau2, method)


def _refine_grid(
    batch: Batch, method: str, nodes: Array, values: Array, v_min: Array
) -> tuple[Array, Array]:
    """Split cells where the scaled score keeps its sign but dips towards zero (step 2)."""
    for _ in range(REFINEMENTS):
        scaled = values * (nodes + v_min[:, None]) ** 2
        sign = np.sign(scaled)
        magnitude = np.abs(scaled)
        middle = slice(1, -1)
        same = (sign[:, :-2] == sign[:, middle]) & (sign[:, middle] == sign[:, 2:])
        dip = (magnitude[:, middle] < magnitude[:, :-2]) & (magnitude[:, middle] < magnitude[:, 2:])
        flagged = same & dip & (sign[:, middle] != 0)
        if not flagged.any():
            break
        cells = np.zeros(nodes.shape, dtype=bool)  # cell j is (node j, node j + 1)
        cells[:, :-2] |= flagged
        cells[:, 1:-1] |= flagged
        row, cell = np.nonzero(cells)
        a, b = nodes[row, cell], nodes[row, cell + 1]
        quarters = np.array([0.25, 0.5, 0.75])
        geometric = a[:, None] * (b / np.where(a > 0, a, 1.0))[:, None] ** quarters
        linear = a[:, None] + (b - a)[:, None] * quarters
        new = np.where((a > 0)[:, None], geometric, linear)
        new_rows = np.repeat(row, 3)
        new_values = _evaluate(batch, new_rows, new.ravel(), method)
        per_row = np.bincount(new_rows, minlength=len(nodes))
        width = nodes.shape[1] + int(per_row.max())
        grown = np.full((len(nodes), width), np.inf)
        grown_values = np.full((len(nodes), width), np.nan)
        grown[:, : nodes.shape[1]] = nodes
        grown_values[:, : nodes.shape[1]] = values
        order = np.argsort(new_rows, kind="stable")
        slot = nodes.shape[1] + (
            np.arange(new_rows.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        )
        grown[new_rows[order], slot] = new.ravel()[order]
        grown_values[new_rows[order], slot] = new_values[order]
        sort = np.argsort(grown, axis=1, kind="stable")
        nodes = np.take_along_axis(grown, sort, axis=1)
        values = np.take_along_axis(grown_values, sort, axis=1)
    return nodes, values


def _refine_roots(
    batch: Batch,
    method: str,
    rows: NDArray[np.intp],
    low: Array,
    high: Array,
    f_low: Array,
    f_high: Array,
    v_min: Array,
    start: Array | None = None,
    chord: bool = False,
) -> tuple[Array, NDArray[np.bool_]]:
    """Roots of the score in brackets with ``f(low) > 0 >= f(high)`` (step 3).

    Works on the scaled score ``S (tau2 + v_min)^2`` (nearly linear in tau2 for large
    tau2): regula falsi with the Illinois modification and bisection safeguards
    (:func:`evidence.stats.batch.bracketed_root`), with Newton steps for intercept-only
    models, whose score derivative comes from the same sums (``f_low``, ``f_high`` are
    already scaled). ``start``: the first point to try in each bracket. ``chord``: a
    point within CHORD (relative) of the last one where the slope ``S'`` was found reuses
    it (the sums then stop at the squares): near the root, where the search confirms a
    step of 1e-12, ``S'`` changes by about the step and the confirmation stays exact.
    """
    last: dict[str, Array] = {}

    def evaluate(active: NDArray[np.intp], at: Array) -> Array:
        sub = batch.take(rows[active])
        scale = at + v_min[active]
        if sub.intercept_only:
            near = chord and "at" in last and last["at"].shape == at.shape
            near = near and bool(np.all(np.abs(at - last["at"]) <= CHORD * scale))
            sums = intercept_sums(sub, at, third=not near)
            value = score_from_sums(sums, method)
            if not near:
                last["at"], last["derivative"] = at, score_slope(sums, method)
            last["slope"] = last["derivative"] * scale**2 + 2 * value * scale
        else:
            value = score(sub, at, method)
        return value * scale**2

    def slope(active: NDArray[np.intp], at: Array) -> Array:
        return last["slope"]

    return bracketed_root(
        evaluate,
        low,
        high,
        f_low,
        f_high,
        tolerance=TOLERANCE,
        max_iterations=MAX_ITERATIONS,
        slope=slope if batch.intercept_only else None,
        floor=1e-3 * v_min,
        start=start,
    )


def likelihood_maxima(batch: Batch, method: str) -> Maxima:
    """Find the global maximum of the ML or REML log-likelihood over tau2 >= 0, per row.

    Rows need ``k > p`` (others are not searched and get tau2 = 0). See the module
    docstring for the algorithm.
    """
    n = len(batch.yi)
    tau2 = np.zeros(n)
    converged = np.ones(n, dtype=bool)
    count = np.ones(n, dtype=np.int64)
    interior = np.zeros(n, dtype=np.int64)
    searched = np.flatnonzero(batch.k > batch.p)
    if searched.size == 0:
        return Maxima(tau2, converged, count, interior)
    sub = batch if searched.size == n else batch.take(searched)
    if n == 1 and sub.intercept_only and sub.k[0] >= PROOF_MIN_K:
        single = _single_maximum(sub, method)
        if single is not None:
            return single
    nodes, v_min = _grid(sub, method)
    values = np.column_stack(
        [score(sub, np.ascontiguousarray(nodes[:, j]), method) for j in range(nodes.shape[1])]
    )
    nodes, values = _refine_grid(sub, method, nodes, values, v_min)
    scale = (nodes + v_min[:, None]) ** 2
    with np.errstate(invalid="ignore"):
        turns = (values[:, :-1] > 0) & (values[:, 1:] <= 0)
    row, cell = np.nonzero(turns)
    roots, done = _refine_roots(
        sub,
        method,
        row,
        nodes[row, cell],
        nodes[row, cell + 1],
        values[row, cell] * scale[row, cell],
        values[row, cell + 1] * scale[row, cell + 1],
        v_min[row],
    )
    boundary = np.flatnonzero(values[:, 0] <= 0)
    candidate_rows = np.concatenate([boundary, row])
    candidates = np.concatenate([np.zeros(boundary.size), roots])
    finished = np.concatenate([np.ones(boundary.size, dtype=bool), done])
    found = np.bincount(candidate_rows, minlength=searched.size)
    best = _choose(sub, method, candidate_rows, candidates, finished, found)
    tau2[searched], converged[searched] = best[0], best[1]
    count[searched] = found
    interior[searched] = np.bincount(row, minlength=searched.size)
    peaks = {int(searched[r]): p for r, p in best[2].items()}
    return Maxima(tau2, converged, count, interior, peaks)


def _single_maximum(batch: Batch, method: str) -> Maxima | None:
    """Return the maximum of one intercept-only row where it is proved the only one.

    :mod:`evidence.stats.unimodal` proves that the score falls through 0 at most once
    (step 0 of the module docstring); None where the proof fails.
    """
    v_range = _variance_range(batch)
    v_min = float(v_range[0][0])
    if not (v_min > 0 and math.isfinite(float(v_range[1][0]))):  # bins need 0 < v < inf
        return None
    # first: the same pass sums the squares upper_bound needs and the sums at tau2 = 0
    bins = batch.row.bins((v_min, float(v_range[1][0])))
    top = float(1.01 * upper_bound(batch, method)[0])
    proof = single_maximum(bins, method, v_min, top)
    if proof is None:
        return None
    at_zero = float(score_from_sums(batch.zero_sums, method)[0])
    one, yes = np.ones(1, dtype=np.int64), np.ones(1, dtype=bool)
    if at_zero <= 0:  # the score falls through 0 at most once: the maximum is tau2 = 0
        if proof.low > 0:  # a proved-positive cell after S(0) <= 0 contradicts the proof
            return None
        return Maxima(np.zeros(1), yes, one, np.zeros(1, dtype=np.int64))
    low, high = proof.low, proof.high
    if low == 0.0:
        value_low = at_zero
    else:  # only its sign matters to the search; the sign is proved
        value_low = max(proof.value_low, np.finfo(float).tiny)
    value_high = min(proof.value_high, -np.finfo(float).tiny)
    root, done = _refine_roots(
        batch,
        method,
        np.zeros(1, dtype=np.intp),
        np.array([low]),
        np.array([high]),
        np.array([value_low * (low + v_min) ** 2]),
        np.array([value_high * (high + v_min) ** 2]),
        np.array([v_min]),
        start=np.array([proof.start]),
        chord=True,
    )
    return Maxima(root, done, one, one.copy())


def _constant(batch: Batch, method: str) -> Array:
    """Return what metafor adds to :func:`evidence.stats.batch.log_likelihood` (per row).

    ML ``-k/2 log(2 pi)``; REML ``-(k - p)/2 log(2 pi) + 1/2 log|X'X|`` (metafor's
    ``REMLf = TRUE``), with X restricted to the row's studies.
    """
    if method == "ML":
        return -0.5 * batch.k * math.log(2 * math.pi)
    ones = batch.mask.astype(float)
    xtx = np.einsum("nk,kp,kq->npq", ones, batch.X, batch.X)
    return -0.5 * (batch.k - batch.p) * math.log(2 * math.pi) + 0.5 * np.linalg.slogdet(xtx)[1]


def _choose(
    batch: Batch,
    method: str,
    rows: NDArray[np.intp],
    candidates: Array,
    finished: NDArray[np.bool_],
    found: NDArray[np.int64],
) -> tuple[Array, NDArray[np.bool_], dict[int, tuple[tuple[float, float], ...]]]:
    """Pick the candidate with the highest log-likelihood per row (one candidate: itself)."""
    n = found.size
    tau2 = np.zeros(n)
    converged = np.ones(n, dtype=bool)
    single = found[rows] == 1
    tau2[rows[single]] = candidates[single]
    converged[rows[single]] = finished[single]
    peaks: dict[int, tuple[tuple[float, float], ...]] = {}
    several = np.flatnonzero(~single)
    if several.size:
        chosen = batch.take(rows[several])
        loglik = log_likelihood(chosen, candidates[several], method) + _constant(chosen, method)
        for r in np.unique(rows[several]):
            mine = several[rows[several] == r]
            order = np.argsort(-loglik[np.searchsorted(several, mine)], kind="stable")
            ranked = mine[order]
            tau2[r] = candidates[ranked[0]]
            converged[r] = bool(finished[ranked[0]])
            values = loglik[np.searchsorted(several, ranked)]
            peaks[int(r)] = tuple(
                (float(t), float(v)) for t, v in zip(candidates[ranked], values, strict=True)
            )
    return tau2, converged, peaks


def peaks_note(method: str, peaks: tuple[tuple[float, float], ...]) -> str:
    """Say that the (restricted) likelihood has several local maxima and which is used.

    ``peaks`` are ``(tau2, loglik)`` pairs, highest first (:attr:`Maxima.peaks`).
    """
    name = "restricted log-likelihood (REML)" if method == "REML" else "log-likelihood (ML)"
    interior = sum(1 for tau2, _ in peaks if tau2 > 0)
    where = (
        f"{interior} of them interior"
        if interior > 1
        else "one at the boundary tau2 = 0 and one interior"
        if len(peaks) == 2
        else f"{interior} interior"
    )
    listed = "; ".join(f"tau2 = {tau2:.6g}, log-likelihood {ll:.6g}" for tau2, ll in peaks)
    return (
        f"the {name} has {len(peaks)} local maxima over tau2 >= 0 ({where}: {listed}); "
        f"the estimate uses the global maximum, tau2 = {peaks[0][0]:.6g}. An iterative fit "
        "started elsewhere can stop at a lower maximum"
    )
