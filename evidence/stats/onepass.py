"""One meta-analysis at a time: its weighted sums in one pass over the data, in blocks.

Every quantity an intercept-only random-effects fit needs at a given tau2 is a weighted sum
over the studies, with ``w = 1/(v + tau2)`` and ``y`` centred at its unweighted mean
(metafor's ``Ymc``):

``S_pj = sum w^p y^j`` (``p`` = 1, 2, 3; ``j`` = 0, 1, 2) and ``L = sum log(v + tau2)``.

At k = 10^6 one pass over an array costs about 0.15 ms, but a fresh 8 MB temporary costs
about 2.5 ms of page faults, and a handful of 8 MB arrays no longer fit the shared cache,
so what a fit costs is its full-length temporaries, not its arithmetic (issue 17).
:class:`RowSums` therefore never makes one: it walks the data in blocks of BLOCK studies,
and within a block centres ``y``, divides for ``w``, multiplies for ``w y`` (and ``w^2``,
``w^2 y`` for the cubes) into five small scratch arrays that stay in cache, and adds each
sum's block total (one reduction or dot product: ``S_3 = w^2 . w``, ``S_3y = w^2 y . w``,
``S_3yy = w^2 y . w y``). Each of ``y`` and ``v`` is read once per evaluation. It also bins
the studies by their sampling variance (:meth:`RowSums.bins`) for the bounds of
:mod:`evidence.stats.unimodal`.

Public API: ``Sums`` (re-exported by :mod:`evidence.stats.batch`), ``RowSums``, ``Bins``,
``all_finite``, ``BLOCK``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Length of the pieces a dot product hands to BLAS (OpenBLAS threads a ddot above 10,000).
DOT_PIECE = 8192
#: Studies per block of a pass (a multiple of DOT_PIECE; five scratch arrays of 512 KB).
BLOCK = 8 * DOT_PIECE
#: Mantissa bits that name a variance bin (2^-12: bins at most 0.025 % wide) ...
BIN_BITS = 12
#: ... unless the variances span so many binades that there would be more bins than this.
MAX_BINS = 2**16


@dataclass(frozen=True)
class Sums:
    """Weighted sums of an intercept-only batch at ``w = 1/(vi + tau2)``, per row.

    ``s1 = sum w``, ``sy = sum w y``, ``syy = sum w y^2``, ``s2 = sum w^2``,
    ``s2y = sum w^2 y``, ``s2yy = sum w^2 y^2`` with ``y`` centred (:attr:`Batch.centred`).
    From them: ``mu = sy/s1`` (plus the centring offset), ``Q = syy - sy^2/s1``,
    ``sum w^2 (y - mu)^2 = s2yy - 2 mu s2y + mu^2 s2``, ``tr(P) = s1 - s2/s1``.
    """

    s1: Array
    sy: Array
    syy: Array
    s2: Array
    s2y: Array
    s2yy: Array
    #: ``sum w^3``, ``sum w^3 y``, ``sum w^3 y^2`` when asked for (slopes of the score)
    s3: Array | None = None
    s3y: Array | None = None
    s3yy: Array | None = None

    @property
    def mean(self) -> Array:
        """Weighted mean of the centred effects, ``sy / s1``."""
        return self.sy / self.s1

    @property
    def q(self) -> Array:
        """Generalised Q, ``sum w (y - mu)^2 = syy - sy^2/s1`` (at least 0)."""
        return np.maximum(self.syy - self.sy * self.mean, 0.0)

    @property
    def q_weighted(self) -> Array:
        """``sum w^2 (y - mu)^2`` (y'PPy), at least 0."""
        mean = self.mean
        return np.maximum(self.s2yy - 2 * mean * self.s2y + mean * mean * self.s2, 0.0)


def all_finite(values: NDArray[np.float64]) -> bool:
    """Whether every entry is finite, in one summing pass when it is.

    A NaN or an infinity makes the sum non-finite, so a finite sum proves every entry
    finite; a non-finite sum (a bad entry, or finite entries whose sum overflows) is
    settled entry by entry. (``einsum``: numpy's plain loop, faster than the pairwise sum.)
    """
    if np.isfinite(np.einsum("abcdefgh"[: values.ndim] + "->", values)):
        return True
    return bool(np.isfinite(values).all())


_SCRATCH = threading.local()
#: Values of tau2 whose sums (and log sums) a RowSums keeps.
MEMORY = 8


def _scratch() -> Array:
    """Return this thread's (5, BLOCK) scratch array (made once, reused by every pass)."""
    arrays: Array | None = getattr(_SCRATCH, "arrays", None)
    if arrays is None:
        arrays = np.empty((5, BLOCK))
        _SCRATCH.arrays = arrays
    return arrays


def _dot_pieces(a: Array, b: Array) -> float:
    """Dot product of two arrays whose length is a multiple of DOT_PIECE, piece by piece.

    A single ``np.dot`` of more than 10,000 entries starts a second BLAS thread that
    doubles the CPU time for little gain in wall time and loses on a busy machine; the
    pieces (``np.vecdot`` over the rows of a reshaped view) run one after another, and
    their partial sums are added as blocked summation would.
    """
    return float(np.vecdot(a.reshape(-1, DOT_PIECE), b.reshape(-1, DOT_PIECE)).sum())


def _remember(memory: dict[float, Any], tau2: float, value: Any) -> None:
    """Keep ``value`` for ``tau2``, forgetting the oldest beyond MEMORY."""
    memory.pop(tau2, None)
    memory[tau2] = value
    if len(memory) > MEMORY:
        del memory[next(iter(memory))]


@dataclass(frozen=True)
class Bins:
    """Studies grouped by sampling variance (see :meth:`RowSums.bins`).

    Per non-empty bin ``j``, whose studies have ``v`` in ``[lower_j, upper_j)``: the count
    ``n_j`` and the sums of the centred effects ``total_j = sum y`` and
    ``square_j = sum y^2``.
    """

    lower: Array
    upper: Array
    count: Array
    total: Array
    square: Array
    #: each bin's code: its lower edge's bit pattern shifted right by ``shift``
    code: NDArray[np.int64]
    shift: int

    def coarsen(self, bits: int, most: int) -> Bins:
        """Merge into bins of ``bits`` mantissa bits (fewer if there would be over ``most``).

        Bins are merged whole, so every study stays inside its bin's edges.
        """
        first, last = int(self.code[0]) << self.shift, int(self.code[-1]) << self.shift
        binades = (last >> 52) - (first >> 52) + 1
        keep = max(0, min(bits, 52 - self.shift, int(math.log2(most / binades))))
        shift = 52 - keep
        code = self.code >> (shift - self.shift)
        code, start = np.unique(code, return_index=True)
        lower, upper = _edges(code, shift)
        count, total, square = (
            np.add.reduceat(x, start) for x in (self.count, self.total, self.square)
        )
        return Bins(lower, upper, count, total, square, code, shift)


def _edges(code: NDArray[np.int64], shift: int) -> tuple[Array, Array]:
    """Return the lower and upper edges of the bins ``code`` (bit patterns as doubles)."""
    return (code << shift).view(np.float64), ((code + 1) << shift).view(np.float64)


class RowSums:
    """The weighted sums of one row (one meta-analysis), one blocked pass per evaluation.

    Parameters
    ----------
    y, v : ndarray (k,)
        Effects and sampling variances (masked entries hold 0 and 1, as in a Batch).
    mean : float
        The unweighted mean of the included effects (the centring).
    mask : ndarray of bool (k,), optional
        Which studies take part (None: all).

    The centred effects are made block by block as ``y - mean`` (0 where masked), bitwise
    the entries of :attr:`Batch.centred`, which is never built for a single row. The
    arrays are treated as read-only, like the Batch they come from.
    """

    def __init__(self, y: Array, v: Array, mean: float, mask: NDArray[np.bool_] | None) -> None:
        self.y, self.v, self.mean, self.mask = y, v, mean, mask
        #: sums already found, by tau2: (order, sums); and log sums (the last MEMORY each)
        self.known: dict[float, tuple[int, Sums]] = {}
        self.logs: dict[float, float] = {}
        self.square_sum: float | None = None

    def _blocks(self) -> Iterator[tuple[Array, NDArray[np.bool_] | None, Array, Array]]:
        """Yield each block's variances, mask, scratch rows and whole-piece scratch rows.

        Row 0 of the scratch holds the block's centred effects. The scratch rows are as
        long as the block; the whole-piece rows extend them to a multiple of DOT_PIECE
        with zeros, which add nothing to any sum or dot product.
        """
        scratch = _scratch()
        k = self.y.size
        for start in range(0, k, BLOCK):
            stop = min(start + BLOCK, k)
            size = stop - start
            whole = -(-size // DOT_PIECE) * DOT_PIECE
            scratch[:, size:whole] = 0.0
            rows = scratch[:, :size]
            np.subtract(self.y[start:stop], self.mean, out=rows[0])
            mask = None if self.mask is None else self.mask[start:stop]
            if mask is not None:
                rows[0] *= mask
            yield self.v[start:stop], mask, rows, scratch[:, :whole]

    def squares(self) -> float:
        """``sum (y - mean)^2`` over the included studies (one pass, then kept)."""
        if self.square_sum is None:
            self.square_sum = sum(_dot_pieces(whole[0], whole[0]) for *_, whole in self._blocks())
        return self.square_sum

    def sums(self, tau2: float, order: int, log: bool = False) -> tuple[Sums, float]:
        """Return :class:`Sums` at ``tau2`` and, with ``log``, ``sum log(v + tau2)``.

        ``order`` 0 gives s1, sy (the rest NaN), 1 adds syy, 2 the squares, 3 the cubes;
        the log sum is NaN without ``log``. Sums and log sums found at the last MEMORY
        values of tau2 are kept: asking again (at most the same order) costs no pass, and
        asking for the log sum where the sums are known costs a pass of logs only.
        """
        known = self.known.get(tau2)
        if known is not None and known[0] >= order:
            if not log:
                return known[1], math.nan
            if tau2 not in self.logs:
                _remember(self.logs, tau2, self._log_sum(tau2))
            return known[1], self.logs[tau2]
        totals = np.full(10, np.nan)
        totals[: max(2, 3 * order)] = 0.0
        totals[9] = 0.0
        for v, mask, rows, whole in self._blocks():
            _add_block(totals, tau2, order, log, v, mask, rows, whole)
        return self._keep(tau2, order, totals, log), (float(totals[9]) if log else math.nan)

    def nearest(self, tau2: float, order: int, within: float) -> Sums | None:
        """Return the kept sums of at least ``order`` nearest ``tau2``, if within ``within``."""
        found = [(abs(t - tau2), sums) for t, (o, sums) in self.known.items() if o >= order]
        if not found:
            return None
        distance, sums = min(found, key=lambda pair: pair[0])
        return sums if distance <= within else None

    def _keep(self, tau2: float, order: int, totals: Array, log: bool) -> Sums:
        """Remember the sums (and the log sum) found at ``tau2`` and return the sums."""
        sums = Sums(*(np.array([x]) for x in totals[: 6 if order < 3 else 9]))
        _remember(self.known, tau2, (order, sums))
        if log:
            _remember(self.logs, tau2, float(totals[9]))
        return sums

    def _log_sum(self, tau2: float) -> float:
        """``sum log(v + tau2)`` over the included studies, in one pass."""
        total = 0.0
        for v, mask, rows, _ in self._blocks():
            logs = np.log(np.add(v, tau2, out=rows[1]), out=rows[1])
            total += float((logs if mask is None else logs * mask).sum())
        return total

    def bins(self, v_range: tuple[float, float] | None = None) -> Bins:
        """Group the included studies by ``v`` into bins at most 2^-BIN_BITS wide (relative).

        A positive double's bit pattern, read as an integer, increases with its value and
        its top bits are the binade and the leading mantissa bits, so shifting it right
        names a bin whose edges are exact doubles: ``[b << s, (b + 1) << s)`` read back as
        doubles. ``np.add.at`` sums the counts, effects and squared effects of each block.
        The same pass finds the sums at tau2 = 0 (kept, as :meth:`sums` would) and
        ``sum (y - mean)^2`` (:meth:`squares`). ``v_range``: the smallest and largest ``v``
        when already known.
        """
        if v_range is None:
            v = self.v if self.mask is None else self.v[self.mask]
            v_range = (float(v.min()), float(v.max()))
        low, high = (int(np.float64(x).view(np.int64)) for x in v_range)
        binades = (high >> 52) - (low >> 52) + 1
        keep = max(0, min(BIN_BITS, int(math.log2(MAX_BINS / binades))))
        shift = 52 - keep
        first = low >> shift
        size = (high >> shift) - first + 1
        count, total, squares = np.zeros(size), np.zeros(size), np.zeros(size)
        totals = np.zeros(10)  # the sums at tau2 = 0, order 2
        square_sum = 0.0
        for block_v, mask, rows, whole in self._blocks():
            _add_block(totals, 0.0, 2, False, block_v, mask, rows, whole)
            y = rows[0]
            index = rows[3].view(np.int64)
            np.right_shift(block_v.view(np.int64), shift, out=index)
            index -= first
            square = np.multiply(y, y, out=rows[4])
            square_sum += float(square.sum())
            if mask is not None:
                index, y, square = index[mask], y[mask], square[mask]
            np.add.at(count, index, 1.0)
            np.add.at(total, index, y)
            np.add.at(squares, index, square)
        self._keep(0.0, 2, totals, False)
        self.square_sum = square_sum  # masked entries are 0: sum (y - mean)^2, for free
        used = np.flatnonzero(count)
        code = (first + used).astype(np.int64)
        lower, upper = _edges(code, shift)
        return Bins(lower, upper, count[used], total[used], squares[used], code, shift)


#: The dot products of :func:`_add_block`: (row, row) of the scratch, in the order of Sums.
_PAIRS = ((2, 0), (1, 1), (1, 2), (2, 2), (1, 3), (2, 3), (2, 4))


def _add_block(
    totals: Array,
    tau2: float,
    order: int,
    log: bool,
    v: Array,
    mask: NDArray[np.bool_] | None,
    rows: Array,
    whole: Array,
) -> None:
    """Add one block's sums at ``tau2`` to ``totals`` (the nine of Sums, then the log sum).

    With scratch rows ``y, w, wy, w^2, w^2 y``: ``s1``, ``sy`` are row sums, the rest dot
    products: ``syy = wy.y``, ``s2 = w.w``, ``s2y = w.wy``, ``s2yy = wy.wy``,
    ``s3 = w.w^2``, ``s3y = wy.w^2``, ``s3yy = wy.w^2y``. Row 0 holds the centred effects.
    Order 0 takes ``sy = w.y`` and makes no ``wy``.
    """
    y, w, wy = rows[0], rows[1], rows[2]
    if tau2 == 0.0 and not log:
        np.divide(1.0, v, out=w)
    else:
        np.add(v, tau2, out=w)
        if log:
            np.log(w, out=wy)
            totals[9] += float((wy if mask is None else wy * mask).sum())
        np.divide(1.0, w, out=w)
    if mask is not None:
        w *= mask
    if order == 0:
        totals[0] += w.sum()
        totals[1] += _dot_pieces(whole[1], whole[0])
        return
    np.multiply(w, y, out=wy)
    if order == 3:
        np.multiply(w, w, out=rows[3])
        np.multiply(w, wy, out=rows[4])
    totals[:2] += rows[1:3].sum(axis=1)
    for slot, (i, j) in enumerate(_PAIRS[: 3 * order - 2], start=2):
        totals[slot] += _dot_pieces(whole[i], whole[j])
