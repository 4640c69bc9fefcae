"""Missing-study methods: trim-and-fill and fail-safe N, as R metafor 3.8 computes them.

``trimfill`` (metafor ``trimfill``, L0 and R0 estimators, side chosen as metafor does) and
``failsafe_n`` (``fsn``: Rosenthal and Orwin). Re-exported by :mod:`evidence.stats.bias`, which
also holds the asymmetry tests; the helpers shared by both (input checks, the k < 10 power
note) live here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from evidence.stats.errors import InputError
from evidence.stats.pooling import check_inputs, fit_batch
from evidence.stats.results import finite, finite_interval

#: Below this many studies the tests have little power (Sterne et al. 2011, BMJ 343:d4002).
MIN_STUDIES = 10
#: Trim-and-fill iteration limit (metafor's ``maxiter``).
MAX_TRIMFILL_ITERATIONS = 100

Array = NDArray[np.float64]


def power_note(k: int) -> tuple[bool, str | None]:
    """Return ``(underpowered, message)``: underpowered when ``k < MIN_STUDIES``."""
    if k >= MIN_STUDIES:
        return False, None
    return True, (
        f"only {k} estimates: tests for funnel-plot asymmetry have too little power "
        f"below {MIN_STUDIES} estimates to tell chance from small-study effects"
    )


def require_spread(v: Array, what: str) -> None:
    """Raise when every study has the same standard error (a regression on it is undefined)."""
    se = np.sqrt(v)
    if np.ptp(se) <= 1e-12 * np.max(se):
        raise InputError(
            f"{what} needs studies of different precision; all {v.size} studies have the "
            "same standard error"
        )


def checked_inputs(yi: ArrayLike, vi: ArrayLike, minimum: int = 3) -> tuple[Array, Array]:
    """Return validated ``yi``, ``vi`` (see ``inputs.check_inputs``) with k >= minimum."""
    y, v, kept, _ = check_inputs(yi, vi, None, None, False)
    y, v = y[kept], v[kept]
    if y.size < minimum:
        raise InputError(f"this test needs at least {minimum} studies, got {y.size}")
    return y, v


@dataclass(frozen=True)
class TrimFillResult:
    """Trim-and-fill: number of imputed studies, their side, and the filled-in estimate."""

    k0: int
    side: str
    estimator: str
    estimate: float
    se: float
    ci: tuple[float, float]
    tau2: float
    test: str
    filled_yi: tuple[float, ...]
    filled_vi: tuple[float, ...]
    k: int
    underpowered: bool
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        """``{k0, side, estimate, ci}`` plus se, tau2, the filled studies and the note."""
        return {
            "k0": self.k0,
            "side": self.side,
            "estimator": self.estimator,
            "estimate": finite(self.estimate),
            "se": finite(self.se),
            "ci": finite_interval(self.ci),
            "tau2": finite(self.tau2),
            "test": self.test,
            "filled": [
                {"yi": finite(y), "vi": finite(v)}
                for y, v in zip(self.filled_yi, self.filled_vi, strict=True)
            ],
            "k": self.k,
            "underpowered": self.underpowered,
            "message": self.message,
        }


@dataclass(frozen=True)
class FailSafeResult:
    """Fail-safe N: Rosenthal's (Stouffer) and Orwin's."""

    rosenthal: int
    orwin: float
    orwin_target: float
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        """``{rosenthal, orwin}`` plus Orwin's target and Rosenthal's alpha."""
        return {
            "rosenthal": self.rosenthal,
            "orwin": self.orwin if isinstance(self.orwin, int) else finite(self.orwin),
            "orwin_target": finite(self.orwin_target),
            "alpha": self.alpha,
        }


def _pooled_estimate(
    y: Array, v: Array, method: str, test: str = "z", level: float = 95
) -> tuple[float, float, tuple[float, float], float]:
    fit = fit_batch(y, v, method=method, test=test, level=level)
    return (
        float(fit.beta[0, 0]),
        float(fit.se[0, 0]),
        (float(fit.ci_lower[0, 0]), float(fit.ci_upper[0, 0])),
        float(fit.tau2[0]),
    )


def _missing_count(centred: Array, estimator: str) -> int:
    """L0 or R0 estimate of the number of missing studies from signed ranks."""
    k = centred.size
    ranks = np.empty(k)
    ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
    signed = np.sign(centred) * ranks
    if estimator == "R0":
        negative = signed[signed < 0]
        count = (k - np.max(-negative)) - 1 if negative.size else -math.inf
    else:
        positive_sum = np.sum(signed[signed > 0])
        count = (4 * positive_sum - k * (k + 1)) / (2 * k - 1)
    return int(max(0, round(count))) if math.isfinite(count) else 0


def trimfill(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    estimator: str = "L0",
    side: str | None = None,
    level: float = 95,
    test: str = "z",
) -> TrimFillResult:
    """Duval and Tweedie's trim-and-fill as metafor ``trimfill()``.

    The side of the missing studies is chosen as metafor does: the sign of the slope in
    the regression of ``y`` on ``sqrt(v)`` (negative slope: missing on the right). On the
    side-flipped, sorted data, the ``k0`` most extreme studies are trimmed, the pooled
    estimate ``mu`` recomputed, and ``k0`` re-estimated from the signed ranks of
    ``y - mu`` (``L0 = [4 S_r - k(k+1)] / (2k - 1)``; ``R0 = k - r* - 1`` with ``r*`` the
    longest run of positive ranks) until it no longer changes. The trimmed studies are then
    mirrored about ``mu`` (``2 mu - y``) and the model is refitted to all ``k + k0`` with a
    z test (metafor refits with ``rma.uni``'s default test). With nothing imputed
    (``k0 = 0``) the result is the original model, under the test it was fitted with
    (metafor returns the model object itself: a Knapp-Hartung fit stays one).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (k >= 3).
    method : str
        tau2 estimator for every fit (as the original model).
    estimator : {"L0", "R0"}
        Estimator of the number of missing studies.
    side : {"left", "right"}, optional
        Side of the missing studies; chosen from the data when omitted.
    level : float
        Confidence level of the final fit.
    test : {"z", "knha", "adhoc"}
        The test of the original model: used for the result when ``k0 = 0``.

    Returns
    -------
    TrimFillResult

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing
    and adjusting for publication bias in meta-analysis. Biometrics 56, 455-463.
    Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. JASA 95, 89-98.
    """
    if estimator not in ("L0", "R0"):
        raise InputError(f"unknown trim-and-fill estimator {estimator!r}; expected L0 or R0")
    if side not in (None, "left", "right"):
        raise InputError(f"side must be 'left' or 'right', not {side!r}")
    y, v = checked_inputs(yi, vi)
    if side is None:
        require_spread(v, "choosing the trim-and-fill side")
        design = np.column_stack([np.ones(y.size), np.sqrt(v)])
        slope = fit_batch(y, v, design=design, method=method).beta[0, 1]
        side = "right" if slope < 0 else "left"
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * y, kind="stable")
    flipped, variances = sign * y[order], v[order]
    k = y.size
    k0, previous, mu = 0, -1, 0.0
    for _ in range(MAX_TRIMFILL_ITERATIONS):
        if k0 == previous:
            break
        previous = k0
        mu = _pooled_estimate(flipped[: k - k0], variances[: k - k0], method)[0]
        k0 = _missing_count(flipped - mu, estimator)
    else:
        raise InputError("trim-and-fill did not converge")
    filled_y = sign * (2 * mu - flipped[k - k0 :]) if k0 else np.empty(0)
    filled_v = variances[k - k0 :] if k0 else np.empty(0)
    used = test if k0 == 0 else "z"
    estimate, se, ci, tau2 = _pooled_estimate(
        np.concatenate([y, filled_y]), np.concatenate([v, filled_v]), method, used, level
    )
    underpowered, message = power_note(k)
    return TrimFillResult(
        k0,
        side,
        estimator,
        estimate,
        se,
        ci,
        tau2,
        used,
        tuple(float(x) for x in filled_y),
        tuple(float(x) for x in filled_v),
        k,
        underpowered,
        message,
    )


def failsafe_n(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    alpha: float = 0.05,
    target: float | None = None,
    weighted: bool = False,
) -> FailSafeResult:
    """Rosenthal's and Orwin's fail-safe N as metafor ``fsn()``.

    Rosenthal (Stouffer): ``N = max(0, k (z_bar / z_alpha)^2 - k)`` with
    ``z_bar = |sum y_i/sqrt(v_i)| / sqrt(k)`` and ``z_alpha`` the one-sided normal quantile,
    the number of null studies that would make the combined one-sided p exceed alpha.
    Orwin: ``N = max(0, k (m - target) / target)`` with ``m`` the (unweighted, or
    inverse-variance weighted) mean effect and ``target`` half of ``m`` unless given; the
    number of null studies that would bring the mean down to the target. Both rounded up
    as metafor does.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    alpha : float
        One-sided significance level for Rosenthal's N.
    target : float, optional
        Orwin's target mean effect (default: half the observed mean).
    weighted : bool
        Use the inverse-variance weighted mean for Orwin's N.

    Returns
    -------
    FailSafeResult

    References
    ----------
    Rosenthal R (1979). The "file drawer problem" and tolerance for null results.
    Psychological Bulletin 86, 638-641.
    Orwin RG (1983). A fail-safe N for effect size in meta-analysis. Journal of
    Educational Statistics 8, 157-159.
    """
    y, v = checked_inputs(yi, vi, minimum=1)
    k = y.size
    z_bar = abs(np.sum(y / np.sqrt(v)) / math.sqrt(k))
    rosenthal = max(0.0, k * (z_bar / stats.norm.isf(alpha)) ** 2 - k)
    mean = float(np.sum(y / v) / np.sum(1 / v)) if weighted else float(np.mean(y))
    goal = mean / 2 if target is None else float(target)
    if goal == 0:
        orwin = math.inf
    else:
        goal = abs(goal) * (1 if mean >= 0 else -1)
        orwin = max(0.0, k * (mean - goal) / goal)
    return FailSafeResult(_round_up(rosenthal), _round_up(orwin), goal, alpha)


def _round_up(value: float) -> Any:
    if math.isinf(value):
        return value
    if abs(value - round(value)) >= math.sqrt(np.finfo(float).eps):
        return math.ceil(value)
    return round(value)
