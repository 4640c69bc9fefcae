"""Input checks and back-transformations shared by the pooling layer.

``check_inputs(yi, vi=None, sei=None, labels=None, drop_missing=False, path="<input>")``
validates effect sizes and variances (missing values name the row, ``vi <= 0`` is a
problem); ``back_transform_function(measure, transform)`` maps the pooling scale to the
natural scale (exp for log ratios, tanh for Fisher's z, inverse logit for PLO, identity
for COR). Both are re-exported by :mod:`evidence.stats.pooling`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from evidence.errors import EvidenceError, Problem

#: Measures pooled on the log scale (back-transformed with exp).
LOG_MEASURES = frozenset(
    {"OR", "RR", "HR", "IRR", "ROM", "MRR", "log-risk-ratio", "log-odds-ratio", "log-HR"}
)
#: Measures pooled as Fisher's z (back-transformed with tanh).
FISHER_Z_MEASURES = frozenset({"ZCOR", "fisher-z"})
#: Measures pooled on the logit scale (back-transformed with the inverse logit).
LOGIT_MEASURES = frozenset({"PLO"})
#: Correlation measures already on the natural scale (back-transformed with the identity).
CORRELATION_MEASURES = frozenset({"COR", "correlation"})

TRANSFORMS: dict[str, Callable[[NDArray], NDArray]] = {
    "exp": np.exp,
    "tanh": np.tanh,
    "ilogit": lambda x: 1 / (1 + np.exp(-x)),
    "identity": lambda x: np.asarray(x, dtype=float),
}


def input_error(message: str) -> EvidenceError:
    """Return an :class:`EvidenceError` for API input whose message ends in ``[rule-id]``.

    The rule id becomes the problem's rule (``<input>:0:0: message [rule-id]``) instead of
    being printed twice beside the generic ``invalid-input``.

    >>> print(input_error("unknown test 'q'; expected z or knha [pool-test]"))
    <input>:0:0: unknown test 'q'; expected z or knha [pool-test]
    """
    match = re.fullmatch(r"(?s)(.*?)\s*\[([a-z0-9-]+)\]", message)
    if match is None:
        return EvidenceError(message)
    return EvidenceError([Problem("<input>", 0, 0, match.group(1), match.group(2))])


def check_inputs(
    yi: ArrayLike,
    vi: ArrayLike | None = None,
    sei: ArrayLike | None = None,
    labels: Sequence[str] | None = None,
    drop_missing: bool = False,
    path: str = "<input>",
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], list[str]]:
    """Validate effect sizes and variances; return ``(yi, vi, kept, notes)``.

    ``vi = sei**2`` when only standard errors are given. Missing or non-finite values are
    problems naming the row (``row 3 (Smith 2001): vi is missing``) unless
    ``drop_missing``, which drops them and says so in ``notes``. ``vi <= 0`` is always
    a problem: the inverse-variance weight ``1/vi`` is undefined.

    Raises
    ------
    EvidenceError
        With one :class:`~evidence.errors.Problem` per bad row.
    """
    y = np.atleast_1d(np.asarray(yi, dtype=float))
    if vi is None and sei is None:
        raise input_error("give the sampling variances (vi) or standard errors (sei) [pool-vi]")
    v = np.asarray(vi, dtype=float) if vi is not None else np.asarray(sei, dtype=float) ** 2
    v = np.atleast_1d(v)
    if v.shape != y.shape:
        raise input_error(
            f"yi has {y.size} values but vi/sei has {v.size}; they must match [pool-length]"
        )
    names = [str(label) for label in labels] if labels is not None else None
    problems: list[Problem] = []
    missing = ~(np.isfinite(y) & np.isfinite(v))
    notes: list[str] = []

    def where(i: int) -> str:
        return f"row {i + 1}" + (f" ({names[i]})" if names else "")

    for i in np.flatnonzero(missing):
        field = "yi" if not np.isfinite(y[i]) else ("vi" if vi is not None else "sei")
        if drop_missing:
            notes.append(f"{where(i)} dropped: {field} is missing")
        else:
            problems.append(
                Problem(
                    path,
                    int(i) + 1,
                    0,
                    f"{where(i)}: {field} is missing or not finite (drop such rows explicitly)",
                    "pool-missing",
                )
            )
    if vi is None:
        # sei**2 would silently turn a negative standard error into a valid variance.
        se = np.atleast_1d(np.asarray(sei, dtype=float))
        for i in np.flatnonzero(~missing & (se < 0)):
            problems.append(
                Problem(
                    path,
                    int(i) + 1,
                    0,
                    f"{where(i)}: standard error {se[i]:g} is negative",
                    "pool-variance",
                )
            )
    for i in np.flatnonzero(~missing & (v <= 0)):
        problems.append(
            Problem(
                path,
                int(i) + 1,
                0,
                f"{where(i)}: sampling variance {v[i]:g} is not "
                "positive; weights 1/vi are undefined",
                "pool-variance",
            )
        )
    if problems:
        raise EvidenceError(problems)
    kept = ~missing
    if not kept.any():
        raise input_error("no study has both an effect size and a variance [pool-empty]")
    return y, v, kept, notes


def back_transform_function(
    measure: str | None, transform: str | Callable[[NDArray], NDArray] | None
) -> Callable[[NDArray], NDArray] | None:
    """Return the function mapping the pooling scale to the natural scale, or None.

    ``exp`` for log ratios (OR, RR, HR, IRR, ROM), ``tanh`` for Fisher's z (ZCOR),
    inverse logit for PLO, the identity for COR; ``transform`` (a name in
    ``TRANSFORMS`` or a callable) wins.
    """
    if callable(transform):
        return transform
    if isinstance(transform, str):
        if transform not in TRANSFORMS:
            raise EvidenceError(
                f"unknown transform {transform!r}; expected one of {', '.join(TRANSFORMS)}"
            )
        return TRANSFORMS[transform]
    if measure in LOG_MEASURES:
        return TRANSFORMS["exp"]
    if measure in FISHER_Z_MEASURES:
        return TRANSFORMS["tanh"]
    if measure in LOGIT_MEASURES:
        return TRANSFORMS["ilogit"]
    if measure in CORRELATION_MEASURES:
        return TRANSFORMS["identity"]
    return None
