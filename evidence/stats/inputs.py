"""Input checks shared by the pooling layer.

``check_inputs(yi, vi=None, sei=None, labels=None, drop_missing=False)`` validates effect
sizes and variances (missing values name the row, ``vi <= 0`` is a problem); it is
re-exported by :mod:`evidence.stats.pooling`. Back-transforms are in
:mod:`evidence.stats.transforms`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.stats.errors import InputError, Issue
from evidence.stats.onepass import all_finite


def check_inputs(
    yi: ArrayLike,
    vi: ArrayLike | None = None,
    sei: ArrayLike | None = None,
    labels: Sequence[str] | None = None,
    drop_missing: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], list[str]]:
    """Validate effect sizes and variances; return ``(yi, vi, kept, notes)``.

    ``vi = sei**2`` when only standard errors are given. Missing or non-finite values are
    problems naming the row (``row 3 (Smith 2001): vi is missing``) unless
    ``drop_missing``, which drops them and says so in ``notes``. ``vi <= 0`` is always
    a problem: the inverse-variance weight ``1/vi`` is undefined.

    Raises
    ------
    InputError
        With one :class:`~evidence.stats.errors.Issue` per bad row (``row`` is 1-based).
    """
    y = np.atleast_1d(np.asarray(yi, dtype=float))
    if vi is None and sei is None:
        raise InputError("give the sampling variances (vi) or standard errors (sei)", "pool-vi")
    v = np.asarray(vi, dtype=float) if vi is not None else np.asarray(sei, dtype=float) ** 2
    v = np.atleast_1d(v)
    if v.shape != y.shape:
        raise InputError(
            f"yi has {y.size} values but vi/sei has {v.size}; they must match", "pool-length"
        )
    names = [str(label) for label in labels] if labels is not None else None

    def where(i: int) -> str:
        return f"row {i + 1}" + (f" ({names[i]})" if names else "")

    if _all_valid(y, v, sei if vi is None else None):  # one pass each, no per-row work
        return y, v, np.ones(y.shape, dtype=bool), []
    problems: list[Issue] = []
    missing = ~(np.isfinite(y) & np.isfinite(v))
    notes: list[str] = []

    for i in (int(j) for j in np.flatnonzero(missing)):
        field = "yi" if not np.isfinite(y[i]) else ("vi" if vi is not None else "sei")
        if drop_missing:
            notes.append(f"{where(i)} dropped: {field} is missing")
        else:
            problems.append(
                Issue(
                    f"{where(i)}: {field} is missing or not finite (drop such rows explicitly)",
                    "pool-missing",
                    row=int(i) + 1,
                )
            )
    if vi is None:
        # sei**2 would silently turn a negative standard error into a valid variance.
        se = np.atleast_1d(np.asarray(sei, dtype=float))
        for i in (int(j) for j in np.flatnonzero(~missing & (se < 0))):
            problems.append(
                Issue(
                    f"{where(i)}: standard error {se[i]:g} is negative",
                    "pool-variance",
                    row=int(i) + 1,
                )
            )
    for i in (int(j) for j in np.flatnonzero(~missing & (v <= 0))):
        problems.append(
            Issue(
                f"{where(i)}: sampling variance {v[i]:g} is not "
                "positive; weights 1/vi are undefined",
                "pool-variance",
                row=int(i) + 1,
            )
        )
    if problems:
        raise InputError.collect(problems)
    kept = ~missing
    if not kept.any():
        raise InputError("no study has both an effect size and a variance", "pool-empty")
    _check_variance_range(v, kept, where)
    return y, v, kept, notes


#: Smallest sampling variance accepted: the fits sum powers of the weights up to
#: ``w^3 = vi^-3``, which overflow double precision (about 1.8e308) for smaller variances.
MIN_VARIANCE = 1e-100


def _check_variance_range(
    v: NDArray[np.float64], kept: NDArray[np.bool_], where: Callable[[int], str]
) -> None:
    """Refuse a variance too small for double precision (its weight's powers overflow).

    Raises
    ------
    InputError
        ``pool-variance`` for the smallest variance when it is below :data:`MIN_VARIANCE`.
    """
    used = np.flatnonzero(kept)
    smallest = used[np.argmin(v[used])]
    if v[smallest] < MIN_VARIANCE:
        raise InputError(
            f"{where(int(smallest))}: sampling variance {v[smallest]:g} is below "
            f"{MIN_VARIANCE:g}; its weight 1/vi and the sums of its powers overflow double "
            "precision (check the value, or rescale the outcome)",
            "pool-variance",
            row=int(smallest) + 1,
        )


def _all_valid(y: NDArray[np.float64], v: NDArray[np.float64], sei: ArrayLike | None) -> bool:
    """Whether every row is valid: finite ``yi`` and ``vi``, ``vi >= MIN_VARIANCE``, ``sei >= 0``.

    A finite sum proves every entry finite (:func:`evidence.stats.onepass.all_finite`);
    then a minimum settles the signs and the smallest variance. False sends the inputs to
    the row-by-row checks, which name the bad rows.
    """
    if y.size == 0 or not (all_finite(y) and all_finite(v)) or not v.min() >= MIN_VARIANCE:
        return False
    return sei is None or bool(np.min(sei) >= 0)
