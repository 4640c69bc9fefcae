"""One meta-analysis at a time: its weighted sums in a few passes over reused buffers.

Every quantity an intercept-only random-effects fit needs at a given tau2 is a weighted sum
over the studies, with ``w = 1/(v + tau2)`` and ``y`` centred at its unweighted mean
(metafor's ``Ymc``):

``S_pj = sum w^p y^j`` (``p`` = 1, 2, 3; ``j`` = 0, 1, 2) and ``L = sum log(v + tau2)``.

At k = 10^6 one pass over the data costs about 0.2 ms but a fresh 8 MB array costs about
2.5 ms of page faults, so the cost of a fit is the number of full-length temporaries, not
the arithmetic (issue 17). :class:`RowSums` therefore works on a handful of buffers of
length k that it leases from a small process-wide pool and gives back when it is
collected: ``w`` is one division into a buffer, ``w y`` one product, and every sum one
reduction or dot product of two buffers (``S_3 = w^2 . w``, ``S_3y = w^2 y . w``,
``S_3yy = w^2 y . w y``). It also bins the studies by their sampling variance
(:meth:`RowSums.bins`) for the bounds of :mod:`evidence.stats.unimodal`.

Public API: ``Sums`` (re-exported by :mod:`evidence.stats.batch`), ``RowSums``, ``Bins``,
``dot``, ``POOL_BYTES``.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Length of the pieces :func:`dot` hands to BLAS (OpenBLAS threads a ddot above 10,000).
DOT_PIECE = 8192
#: Most bytes of idle buffers the pool keeps for the next fit (one length at a time).
POOL_BYTES = 64 * 2**20
#: Mantissa bits that name a variance bin (2^-8: bins 0.4 % wide) ...
BIN_BITS = 8
#: ... unless the variances span so many binades that there would be more bins than this.
MAX_BINS = 2048


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


def dot(a: Array, b: Array) -> float:
    """Dot product of two long 1-D arrays, in pieces of DOT_PIECE, each on one thread.

    A single ``np.dot`` of 10^6 entries starts a second BLAS thread that doubles the CPU
    time for little gain in wall time and loses on a busy machine; the pieces run one
    after another (``np.vecdot`` over the rows of a reshaped view) and their partial sums
    are added, as blocked summation would.
    """
    body = a.size - a.size % DOT_PIECE
    total = 0.0
    if body:
        pieces = np.vecdot(a[:body].reshape(-1, DOT_PIECE), b[:body].reshape(-1, DOT_PIECE))
        total = float(pieces.sum())
    if body < a.size:
        total += float(np.vecdot(a[body:], b[body:]))
    return total


class _Pool:
    """Idle float buffers of one length, lent out whole (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.free: list[Array] = []

    def lease(self, k: int) -> Array:
        with self.lock:
            if self.free and self.free[0].size == k:
                return self.free.pop()
        return np.empty(k)

    def give_back(self, buffers: list[Array]) -> None:
        with self.lock:
            for buffer in buffers:
                if self.free and self.free[0].size != buffer.size:
                    self.free = []  # keep the length last used
                if (len(self.free) + 1) * buffer.nbytes <= POOL_BYTES:
                    self.free.append(buffer)


_POOL = _Pool()


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


class RowSums:
    """The weighted sums of one row (one meta-analysis) on leased buffers.

    Parameters
    ----------
    y, v : ndarray (k,)
        Effects and sampling variances (masked entries hold 0 and 1, as in a Batch).
    mean : float
        The unweighted mean of the included effects (the centring).
    mask : ndarray of bool (k,), optional
        Which studies take part (None: all).

    The centred effects are computed once, into a leased buffer; the arrays are treated as
    read-only, like the Batch they come from.
    """

    def __init__(self, y: Array, v: Array, mean: float, mask: NDArray[np.bool_] | None) -> None:
        self.y, self.v, self.mean, self.mask = y, v, mean, mask
        self.buffers: list[Array] = []
        self.centred_ready = False
        self.last: tuple[float, int, Sums] | None = None
        weakref.finalize(self, _POOL.give_back, self.buffers)

    def _buffer(self, index: int) -> Array:
        while len(self.buffers) <= index:
            self.buffers.append(_POOL.lease(self.y.size))
        return self.buffers[index]

    @property
    def centred(self) -> Array:
        """``y`` minus its mean, 0 where masked (bitwise as :attr:`Batch.centred`)."""
        centred = self._buffer(0)
        if not self.centred_ready:
            np.subtract(self.y, self.mean, out=centred)
            if self.mask is not None:
                centred *= self.mask
            self.centred_ready = True
        return centred

    def squares(self) -> float:
        """``sum (y - mean)^2`` over the included studies."""
        centred = self.centred
        return dot(centred, centred)

    def sums(self, tau2: float, order: int, log: bool = False) -> tuple[Sums, float]:
        """Return :class:`Sums` at ``tau2`` and, with ``log``, ``sum log(v + tau2)``.

        ``order`` 1 gives s1, sy, syy (the squares NaN), 2 adds the squares, 3 the cubes;
        the log sum is NaN without ``log``. A repeated call at the same tau2 and at most
        the same order (and no log) returns the last result without a pass over the data.
        """
        last = self.last
        if not log and last is not None and last[0] == tau2 and last[1] >= order:
            return last[2], math.nan
        y = self.centred
        w, wy = self._buffer(1), self._buffer(2)
        log_sum = math.nan
        if tau2 == 0.0 and not log:
            np.divide(1.0, self.v, out=w)
        else:
            np.add(self.v, tau2, out=w)
            if log:
                np.log(w, out=wy)
                if self.mask is not None:
                    wy *= self.mask
                log_sum = float(wy.sum())
            np.divide(1.0, w, out=w)
        if self.mask is not None:
            w *= self.mask
        np.multiply(w, y, out=wy)
        values = [w.sum(), wy.sum(), dot(wy, y)]
        if order == 1:
            values += [math.nan] * 3
        else:
            values += [dot(w, w), dot(w, wy), dot(wy, wy)]
        if order == 3:
            square, square_y = self._buffer(3), self._buffer(4)
            np.multiply(w, w, out=square)
            np.multiply(w, wy, out=square_y)
            values += [dot(square, w), dot(square_y, w), dot(square_y, wy)]
        sums = Sums(*(np.array([x], dtype=float) for x in values))
        self.last = (tau2, order, sums)
        return sums, log_sum

    def bins(self) -> Bins:
        """Group the included studies by ``v`` into bins at most 2^-BIN_BITS wide (relative).

        A positive double's bit pattern, read as an integer, increases with its value and
        its top bits are the binade and the leading mantissa bits, so shifting it right
        names a bin whose edges are exact doubles: ``[b << s, (b + 1) << s)`` read back as
        doubles. Three ``np.add.at`` passes sum the counts, effects and squared effects.
        """
        v = self.v if self.mask is None else self.v[self.mask]
        y = self.centred if self.mask is None else self.centred[self.mask]
        bits = v.view(np.int64)
        low, high = int(bits.min()), int(bits.max())
        binades = (high >> 52) - (low >> 52) + 1
        keep = max(0, min(BIN_BITS, int(math.log2(MAX_BINS / binades))))
        shift = 52 - keep
        first = low >> shift
        size = (high >> shift) - first + 1
        index = self._buffer(3).view(np.int64)[: v.size]
        np.right_shift(bits, shift, out=index)
        index -= first
        square = self._buffer(4)[: v.size]
        np.multiply(y, y, out=square)
        count, total, squares = np.zeros(size), np.zeros(size), np.zeros(size)
        np.add.at(count, index, 1.0)
        np.add.at(total, index, y)
        np.add.at(squares, index, square)
        used = np.flatnonzero(count)
        edges = ((first + used) << shift).astype(np.int64).view(np.float64)
        upper = ((first + used + 1) << shift).astype(np.int64).view(np.float64)
        return Bins(edges, upper, count[used], total[used], squares[used])
