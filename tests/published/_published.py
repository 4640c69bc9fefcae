"""Shared helpers of the published-example tests: the metadat data and metafor's two kinds
of assertion (``round(x, d) == value`` and ``expect_equivalent(x, value, tolerance = .01)``).

``metadat.json`` is written by ``tests/reference/make_published_data.R`` (public data from
the metadat package). ``TOL_METAFOR`` is the tolerance metafor's own tests use
(``settings.r``: ``.tol[...] <- .01``) with testthat's ``all.equal`` semantics: relative to
the mean absolute value of the object tested, absolute when that mean is at most the
tolerance).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

#: metafor's tests/testthat/settings.r tolerance (relative; absolute where the target is 0).
TOL_METAFOR = 0.01

_DATA = json.loads((Path(__file__).parent / "metadat.json").read_text())


def metadat(name: str) -> dict[str, np.ndarray]:
    """A metadat dataset as columns: numbers (NaN where R has NA) or text."""

    def column(values: list) -> np.ndarray:
        if any(isinstance(x, str) for x in values):
            return np.asarray(values, dtype=str)
        return np.asarray([np.nan if x is None else x for x in values], dtype=float)

    return {key: column(values) for key, values in _DATA[name].items()}


def assert_rounded(actual: ArrayLike, expected: ArrayLike, digits: int) -> None:
    """metafor's ``expect_equivalent(round(x, digits), value)``."""
    rounded = np.round(np.asarray(actual, dtype=float), digits)
    target = np.asarray(expected, dtype=float)
    assert rounded.shape == target.shape or target.size == rounded.size
    np.testing.assert_allclose(rounded.reshape(target.shape), target, rtol=0, atol=1e-9)


def assert_tol(actual: ArrayLike, expected: ArrayLike, tol: float = TOL_METAFOR) -> None:
    """metafor's ``expect_equivalent(x, value, tolerance = tol)`` (testthat all.equal).

    testthat ``compare`` calls ``all.equal(x, value, tolerance = tol)``, whose target is
    ``x``: ``mean|x - value|`` relative to ``mean|x|`` must not exceed ``tol``; when
    ``mean|x| <= tol`` the absolute mean difference is compared instead.
    """
    x = np.asarray(actual, dtype=float).reshape(-1)
    target = np.asarray(expected, dtype=float).reshape(-1)
    assert x.shape == target.shape
    scale = np.mean(np.abs(x))
    difference = np.mean(np.abs(x - target))
    assert (difference / scale if scale > tol else difference) <= tol, (x, target)
