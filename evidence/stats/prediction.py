"""Predicted values, BLUPs and random effects of a fitted model.

metafor ``predict``, ``blup``, ``ranef`` and ``fitted`` for :class:`UniFit` models.

Public API
----------
``predict(fit, newmods=None, *, intercept=True, transform=None, ni=None) -> Prediction``
    ``pred = x'b``, ``se = sqrt(x' Var(b) x)``, CI ``pred +/- crit se`` and prediction
    interval ``pred +/- crit sqrt(se^2 + tau2)`` at each row of ``newmods`` (moderator
    values without the intercept, which is added when the model has one), or the fitted
    values per study when ``newmods`` is None; back-transformed when ``transform`` names
    one of :data:`evidence.stats.transforms.TRANSFORMS` (``ipft.hm`` needs ``ni``).
``blup(fit, transform=None) -> Prediction``
    Best linear unbiased predictions of the study effects
    ``lambda_i y_i + (1 - lambda_i) x_i'b``, ``lambda_i = tau2/(tau2 + v_i)``, with
    ``Var = lambda_i v_i + (1 - lambda_i)^2 x_i' Var(b) x_i`` (Raudenbush & Bryk 1985;
    metafor ``blup.rma.uni``).
``ranef(fit) -> Prediction``
    The predicted random effects ``lambda_i (y_i - x_i'b)`` with
    ``Var = lambda_i v_i + lambda_i^2 x_i' Var(b) x_i`` (metafor ``ranef.rma.uni``, whose
    intervals are named ``pi``); zero for a common-effect model.

The critical value is the model's: t(k - p) under Knapp-Hartung, z otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError
from evidence.stats.transforms import transform_function
from evidence.stats.uni import UniFit

__all__ = ["Prediction", "blup", "predict", "ranef"]

FloatArray = NDArray[np.float64]


def _floats(values: FloatArray | None) -> list[float | None] | None:
    if values is None:
        return None
    return [float(x) if np.isfinite(x) else None for x in values]


@dataclass(frozen=True)
class Prediction:
    """Predicted values with their se and intervals (arrays over rows).

    ``se`` is None after a back-transform (as metafor, which reports NA); ``pi_lower`` and
    ``pi_upper`` are None for a common-effect model's predictions.
    """

    pred: FloatArray
    se: FloatArray | None
    ci_lower: FloatArray | None
    ci_upper: FloatArray | None
    pi_lower: FloatArray | None
    pi_upper: FloatArray | None
    transform: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, None for undefined (the keys of metafor's ``predict`` output)."""
        return {
            "pred": _floats(self.pred),
            "se": _floats(self.se),
            "ci_lb": _floats(self.ci_lower),
            "ci_ub": _floats(self.ci_upper),
            "pi_lb": _floats(self.pi_lower),
            "pi_ub": _floats(self.pi_upper),
            "transform": self.transform,
        }


def _back(prediction: Prediction, transform: str | None, ni: ArrayLike | None) -> Prediction:
    """Apply the named back-transform to every value (se becomes None), sorting bounds."""
    if transform is None:
        return prediction
    function = transform_function(transform, ni=ni)
    assert function is not None

    def apply(values: FloatArray | None) -> FloatArray | None:
        return None if values is None else np.asarray(function(values), dtype=float)

    lower, upper = apply(prediction.ci_lower), apply(prediction.ci_upper)
    pi_lower, pi_upper = apply(prediction.pi_lower), apply(prediction.pi_upper)
    if lower is not None and upper is not None:
        lower, upper = np.minimum(lower, upper), np.maximum(lower, upper)
    if pi_lower is not None and pi_upper is not None:
        pi_lower, pi_upper = np.minimum(pi_lower, pi_upper), np.maximum(pi_lower, pi_upper)
    return Prediction(
        np.asarray(function(prediction.pred), dtype=float),
        None,
        lower,
        upper,
        pi_lower,
        pi_upper,
        transform,
    )


def _new_design(fit: UniFit, newmods: ArrayLike | None, intercept: bool) -> FloatArray:
    if newmods is None:
        return fit.design
    values = np.asarray(newmods, dtype=float)
    has_intercept = fit.intercept
    slopes = fit.p - 1 if has_intercept else fit.p
    if values.ndim == 0:
        values = values.reshape(1, 1)
    elif values.ndim == 1:
        # One moderator: one prediction per value; several: one row of values.
        values = values[:, None] if slopes == 1 else values[None, :]
    if values.shape[1] == fit.p and not has_intercept:
        return values
    if values.shape[1] != slopes:
        raise InputError(
            f"newmods gives {values.shape[1]} moderator values per row; the model has "
            f"{slopes} moderator(s) ({', '.join(fit.names[1:] if has_intercept else fit.names)})",
            "predict-newmods",
        )
    if not np.all(np.isfinite(values)):
        raise InputError("newmods values must be finite numbers", "predict-newmods")
    if has_intercept:
        column = np.ones(len(values)) if intercept else np.zeros(len(values))
        return np.column_stack([column, values])
    return values


def predict(
    fit: UniFit,
    newmods: ArrayLike | None = None,
    *,
    intercept: bool = True,
    transform: str | None = None,
    ni: ArrayLike | None = None,
) -> Prediction:
    """Predicted average effects (metafor ``predict.rma``), see the module docstring.

    Parameters
    ----------
    fit : UniFit
        A fitted model (:func:`evidence.stats.uni.fit_uni`).
    newmods : array_like, optional
        Moderator values (no intercept column): a number or vector for a model with one
        moderator (one prediction each), a vector of all moderators (one prediction) or a
        matrix with a row per prediction. None: the fitted values of the studies, or for
        an intercept-only model the pooled estimate.
    intercept : bool
        Whether the intercept enters the prediction (metafor ``intercept=FALSE``: no).
    transform : str, optional
        Back-transform name (``exp``, ``tanh``, ``ilogit``, ``ipft.hm``, ...).
    ni : array_like, optional
        The studies' sample sizes for ``ipft.hm`` (their harmonic mean is used).
    """
    if newmods is None and fit.p == 1 and fit.intercept:
        design = np.ones((1, 1))
    else:
        design = _new_design(fit, newmods, intercept)
    pred = design @ fit.beta
    variance = np.einsum("ij,jk,ik->i", design, fit.vb, design)
    se = np.sqrt(np.maximum(variance, 0.0))
    lower, upper = pred - fit.crit * se, pred + fit.crit * se
    pi_lower = pi_upper = None
    if fit.random:
        half = fit.crit * np.sqrt(se * se + fit.tau2)
        pi_lower, pi_upper = pred - half, pred + half
    result = Prediction(pred, se, lower, upper, pi_lower, pi_upper)
    return _back(result, transform, ni)


def _shrinkage(fit: UniFit) -> FloatArray:
    if fit.weights is not None:
        raise InputError(
            "BLUPs are not available for models with non-standard weights (as metafor)",
            "blup-weights",
        )
    return fit.tau2 / (fit.tau2 + fit.vi)


def blup(fit: UniFit, transform: str | None = None, ni: ArrayLike | None = None) -> Prediction:
    """Best linear unbiased predictions of the study effects (metafor ``blup``)."""
    shrink = _shrinkage(fit)
    fitted = fit.design @ fit.beta
    pred = shrink * fit.yi + (1 - shrink) * fitted
    xvx = np.einsum("ij,jk,ik->i", fit.design, fit.vb, fit.design)
    se = np.sqrt(shrink * fit.vi + (1 - shrink) ** 2 * xvx)
    result = Prediction(pred, se, None, None, pred - fit.crit * se, pred + fit.crit * se)
    return _back(result, transform, ni)


def ranef(fit: UniFit) -> Prediction:
    """Predicted random effects ``u_i`` (metafor ``ranef``; intervals in ``pi``)."""
    if not fit.random:
        zeros = np.zeros(fit.k)
        return Prediction(zeros, zeros, None, None, zeros, zeros)
    shrink = _shrinkage(fit)
    pred = shrink * (fit.yi - fit.design @ fit.beta)
    xvx = np.einsum("ij,jk,ik->i", fit.design, fit.vb, fit.design)
    se = np.sqrt(shrink * fit.vi + shrink**2 * xvx)
    return Prediction(pred, se, None, None, pred - fit.crit * se, pred + fit.crit * se)
