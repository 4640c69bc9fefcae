"""Peto's one-step odds ratio for k 2x2 tables, as R metafor 3.8 ``rma.peto``.

Public API
----------
``peto(ai, bi, ci, di, *, add=0.5, to="only0", drop00=True, level=95) -> PetoResult``

For table i with group sizes ``n1 = a + b``, ``n2 = c + d``, total ``N``, events
``m1 = a + c`` and non-events ``m2 = b + d`` (Yusuf et al. 1985)::

    E = m1 n1 / N,     V = m1 m2 n1 n2 / (N^2 (N - 1))
    log OR = sum (a - E) / sum V,    se = 1 / sqrt(sum V)
    Q = sum (a - E)^2 / V - (sum (a - E))^2 / sum V      (tables with V > 0)

with ``k_yi - 1`` df, ``k_yi`` the tables whose per-study Peto log odds ratio is defined,
and ``I2 = max(0, 100 (Q - (k_yi - 1))/Q)``, ``H2 = Q/(k_yi - 1)`` (both only when more than
one table has ``V > 0``; otherwise Q's p is 1, I2 0 and H2 1, as metafor reports them).

``add``, ``to`` and ``drop00`` take one value or a pair as in
:func:`evidence.stats.mantel_haenszel.mantel_haenszel`: the first value for the per-study
estimates, the second (default ``0``, ``"none"``, ``False``) for the pooled computation,
where tables without events contribute ``V = 0``.

References
----------
Yusuf, S., Peto, R., Lewis, J., Collins, R. & Sleight, P. (1985). Beta blockade during and
after myocardial infarction: an overview of the randomized trials. *Progress in
Cardiovascular Diseases* 27, 335-371.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. *Journal of
Statistical Software* 36(3), 1-48 (``rma.peto``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from evidence.stats._binary import (
    add_to_cells,
    as_counts,
    check_options,
    json_float,
    pair,
    same_length,
    table_effects,
    zero_zero,
)
from evidence.stats.errors import InputError

__all__ = ["PetoResult", "peto"]


@dataclass(frozen=True)
class PetoResult:
    """Peto's pooled log odds ratio with its Q test (NaN here, None in JSON, if undefined)."""

    k: int
    k_yi: int
    k_pos: int
    estimate: float
    se: float
    statistic: float
    p: float
    ci_lower: float
    ci_upper: float
    level: float
    q: float
    q_df: int
    q_p: float
    i2: float
    h2: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: plain floats, None for undefined values."""
        return {
            "model": "peto",
            "measure": "OR",
            "k": self.k,
            "k_yi": self.k_yi,
            "k_pos": self.k_pos,
            "estimate": json_float(self.estimate),
            "se": json_float(self.se),
            "statistic": json_float(self.statistic),
            "p": json_float(self.p),
            "ci": [json_float(self.ci_lower), json_float(self.ci_upper)],
            "level": self.level,
            "q": json_float(self.q),
            "q_df": self.q_df,
            "q_p": json_float(self.q_p),
            "i2": json_float(self.i2),
            "h2": json_float(self.h2),
        }


def peto(
    ai: ArrayLike,
    bi: ArrayLike,
    ci: ArrayLike,
    di: ArrayLike,
    *,
    add: float | tuple[float, float] = 0.5,
    to: str | tuple[str, str] = "only0",
    drop00: bool | tuple[bool, bool] = True,
    level: float = 95,
) -> PetoResult:
    """Pool 2x2 tables with Peto's one-step odds ratio (metafor ``rma.peto``).

    Parameters
    ----------
    ai, bi, ci, di : array_like
        Events and non-events in group 1 (``ai``, ``bi``) and group 2 (``ci``, ``di``).
    add, to, drop00 : one value or a pair
        Zero-cell rules (see the module docstring).
    level : float
        Confidence level in percent.

    Returns
    -------
    PetoResult
        ``estimate`` is the log odds ratio.

    Raises
    ------
    ValueError
        For malformed counts, or when no table has both events and non-events.

    Examples
    --------
    >>> res = peto([10, 4, 0], [90, 46, 50], [5, 2, 1], [95, 48, 49])
    >>> round(math.exp(res.estimate), 4), res.k_pos, round(res.q, 4)
    (1.7884, 3, 1.7509)
    """
    cells = [
        as_counts(n, v) for n, v in zip(("ai", "bi", "ci", "di"), (ai, bi, ci, di), strict=True)
    ]
    same_length(ai=cells[0], bi=cells[1], ci=cells[2], di=cells[3])
    adds, tos, drops = pair("add", add, 0.0), pair("to", to, "none"), pair("drop00", drop00, False)
    check_options(adds, tos, drops)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 100:
        raise InputError(f"level must be a percentage between 0 and 100, got {level!r}")
    yi, vi = table_effects(
        "PETO", *cells, add=float(adds[0]), to=str(tos[0]), drop00=bool(drops[0])
    )
    keep = ~zero_zero(*cells) if drops[1] else np.ones(len(cells[0]), dtype=bool)
    a, b, c, d = add_to_cells([x[keep] for x in cells], float(adds[1]), str(tos[1]))
    k = len(a)
    if k == 0:
        raise InputError("no tables left after dropping those without events in both groups")
    n1, n2 = a + b, c + d
    n = n1 + n2
    if np.any(n < 2):
        raise InputError("every table needs at least two participants")
    events, non_events = a + c, b + d
    expected = events * n1 / n
    variance = events * non_events * (n1 / n) * (n2 / n) / (n - 1)
    total_variance = float(variance.sum())
    if total_variance == 0:
        raise InputError(
            "one of the two outcomes never occurred in any table: Peto's method cannot be used"
        )
    residual = a - expected
    estimate = float(residual.sum()) / total_variance
    se = 1 / math.sqrt(total_variance)
    statistic = estimate / se
    crit = float(stats.norm.isf((1 - level / 100) / 2))
    positive = variance > 0
    k_pos = int(positive.sum())
    k_yi = int(np.sum(np.isfinite(yi) & np.isfinite(vi)))
    q = max(
        0.0,
        float(np.sum(residual[positive] ** 2 / variance[positive]))
        - float(residual.sum()) ** 2 / total_variance,
    )
    if k_pos > 1:
        q_p = float(stats.chi2.sf(q, k_yi - 1))
        i2 = max(0.0, 100 * (q - (k_yi - 1)) / q) if q > 0 else math.nan
        h2 = q / (k_yi - 1)
    else:
        q_p, i2, h2 = 1.0, 0.0, 1.0
    return PetoResult(
        k=k,
        k_yi=k_yi,
        k_pos=k_pos,
        estimate=estimate,
        se=se,
        statistic=statistic,
        p=float(2 * stats.norm.sf(abs(statistic))),
        ci_lower=estimate - crit * se,
        ci_upper=estimate + crit * se,
        level=float(level),
        q=q,
        q_df=max(k_yi - 1, 0),
        q_p=q_p,
        i2=i2,
        h2=h2,
    )
