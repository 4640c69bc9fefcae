"""Back-transforms from the pooling scale to the natural scale: one registry by name.

Each :class:`Transform` has a name (``exp``, ``tanh``, ``ilogit``, ``identity``), the
vectorised (numpy) and the one-number (``math``) form of the same function, and its
inverse. Which measure is back-transformed how is a property of the measure: it is named
in the effect-measure registry (:mod:`evidence.effects.escalc`), as metafor leaves it to
``predict(res, transf = ...)``: ``exp`` for log ratios, ``tanh`` (``transf.ztor``) for
Fisher's z, ``ilogit`` for logits; a raw correlation (COR) is already on its natural
scale and is not back-transformed.

Both forms are kept because numpy's vectorised ``exp`` and ``tanh`` and libm's may differ
in the last bit: pooled results have always used the vectorised form and the three-level
pooled section and the figures the ``math`` form, and results files are byte-stable.

Add a back-transform by adding one :class:`Transform` to :data:`TRANSFORMS`.

Examples
--------
>>> float(TRANSFORMS["exp"].array(0.0)), TRANSFORMS["tanh"].scalar(0.0)
(1.0, 0.0)
>>> transform_function(None) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError

ArrayFunction = Callable[[ArrayLike], NDArray]


@dataclass(frozen=True)
class Transform:
    """A named back-transform: vectorised and one-number forms, and the inverse."""

    name: str
    description: str
    array: ArrayFunction
    scalar: Callable[[float], float]
    inverse: Callable[[float], float]


def _exp(x: float) -> float:
    """``math.exp`` that gives ``inf`` where the ratio is too large for a float (x > 709.78)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _ilogit_scalar(x: float) -> float:
    """``1 / (1 + exp(-x))`` without overflow for very negative ``x`` (0 there)."""
    return 1 / (1 + _exp(-x))


def _ilogit(x: ArrayLike) -> NDArray:
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def _identity(x: ArrayLike) -> NDArray:
    return np.asarray(x, dtype=float)


#: Every back-transform by name, in the order ``evidence pool --transform`` lists them.
TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("exp", "log ratio -> ratio", np.exp, _exp, math.log),
        Transform(
            "tanh",
            "Fisher's z -> correlation r (metafor transf.ztor)",
            np.tanh,
            math.tanh,
            math.atanh,
        ),
        Transform(
            "ilogit",
            "logit -> proportion (metafor transf.ilogit)",
            _ilogit,
            _ilogit_scalar,
            lambda p: math.log(p / (1 - p)),
        ),
        Transform("identity", "no change", _identity, float, float),
    )
}


def pft(p: ArrayLike, n: ArrayLike) -> NDArray:
    """Freeman-Tukey double arcsine of a proportion ``p`` out of ``n`` (metafor ``transf.pft``).

    ``1/2 (asin(sqrt(x/(n + 1))) + asin(sqrt((x + 1)/(n + 1))))`` with ``x = p n``
    (Freeman & Tukey 1950).
    """
    n = np.asarray(n, dtype=float)
    x = np.asarray(p, dtype=float) * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def ipft(z: ArrayLike, n: ArrayLike) -> NDArray:
    """Inverse of the Freeman-Tukey double arcsine for sample size ``n`` (Miller 1978).

    ``p = 1/2 (1 - sgn(cos 2z) sqrt(1 - (sin 2z + (sin 2z - 1/sin 2z)/n)^2))``, set to 0
    below ``pft(0, n)`` and to 1 above ``pft(1, n)`` (metafor ``transf.ipft``).
    """
    z = np.asarray(z, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * z)
        inner = 1 - (s + (s - 1 / s) / n) ** 2
        p = 0.5 * (1 - np.sign(np.cos(2 * z)) * np.sqrt(inner))
    p = np.where(np.isnan(p), np.nan, p)
    p = np.where(z > pft(1.0, n), 1.0, p)
    return np.where(z < pft(0.0, n), 0.0, p)


def ipft_hm(z: ArrayLike, ni: ArrayLike) -> NDArray:
    """``ipft`` at the harmonic mean of the studies' sample sizes (metafor ``transf.ipft.hm``).

    ``n_hm = 1/mean(1/n_i)`` (Miller 1978, Am Stat 32, 138).
    """
    sizes = np.asarray(ni, dtype=float)
    harmonic = 1 / np.mean(1 / sizes[np.isfinite(sizes)])
    return ipft(z, harmonic)


@dataclass(frozen=True)
class ParameterisedTransform:
    """A back-transform that also needs the studies' sample sizes ``ni``."""

    name: str
    description: str
    array: Callable[[ArrayLike, ArrayLike], NDArray]


#: Back-transforms that need the sample sizes (``ni``) as well as the values.
PARAMETERISED_TRANSFORMS: dict[str, ParameterisedTransform] = {
    t.name: t
    for t in (
        ParameterisedTransform(
            "ipft.hm",
            "Freeman-Tukey double arcsine -> proportion at the harmonic mean n "
            "(metafor transf.ipft.hm)",
            ipft_hm,
        ),
    )
}


def transform_function(
    transform: str | ArrayFunction | None, ni: ArrayLike | None = None
) -> ArrayFunction | None:
    """Return the vectorised back-transform named ``transform`` (or the callable given).

    None means no back-transform. A name of :data:`PARAMETERISED_TRANSFORMS` needs the
    sample sizes ``ni``. An unknown name raises :class:`InputError` (rule
    ``pool-transform``).
    """
    if transform is None or callable(transform):
        return transform
    if transform in PARAMETERISED_TRANSFORMS:
        if ni is None:
            raise InputError(
                f"the back-transform {transform!r} needs the studies' sample sizes (ni)",
                "pool-transform",
            )
        sizes = np.asarray(ni, dtype=float)
        function = PARAMETERISED_TRANSFORMS[transform].array
        return lambda values: function(values, sizes)
    if transform not in TRANSFORMS:
        known = ", ".join((*TRANSFORMS, *PARAMETERISED_TRANSFORMS))
        raise InputError(
            f"unknown transform {transform!r}; expected one of {known}",
            "pool-transform",
        )
    return TRANSFORMS[transform].array
