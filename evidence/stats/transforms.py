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


def _ilogit(x: ArrayLike) -> NDArray:
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def _identity(x: ArrayLike) -> NDArray:
    return np.asarray(x, dtype=float)


#: Every back-transform by name, in the order ``evidence pool --transform`` lists them.
TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("exp", "log ratio -> ratio", np.exp, math.exp, math.log),
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
            lambda x: 1 / (1 + math.exp(-x)),
            lambda p: math.log(p / (1 - p)),
        ),
        Transform("identity", "no change", _identity, float, float),
    )
}


def transform_function(transform: str | ArrayFunction | None) -> ArrayFunction | None:
    """Return the vectorised back-transform named ``transform`` (or the callable given).

    None means no back-transform. An unknown name raises :class:`InputError`
    (rule ``pool-transform``).
    """
    if transform is None or callable(transform):
        return transform
    if transform not in TRANSFORMS:
        raise InputError(
            f"unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}",
            "pool-transform",
        )
    return TRANSFORMS[transform].array
