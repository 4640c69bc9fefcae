"""Result dataclasses of the pooling layer and their JSON form.

Every result is a frozen dataclass whose ``to_dict()`` returns the keys listed under
under "Results files" in ARCHITECTURE.md, in that order:

- pooled result (:class:`PooledResult`): ``k``, ``n_studies``, ``n_participants``,
  ``measure``, ``method``, ``test``, ``estimate``, ``se``, ``statistic`` (z or t), ``df``
  (t only), ``p``, ``ci``, ``pi``, ``tau2``, ``tau2_ci``, ``tau``, ``tau_ci``, ``i2``
  (percent, from tau2), ``i2_ci``, ``h2``, ``h2_ci``, ``q``, ``q_df``, ``q_p``,
  ``back_transformed`` {``estimate``, ``ci``, ``pi``} (null unless the metric is a ratio
  or a correlation);
- subgroups (:class:`SubgroupResult`): ``subgroups`` {level: pooled}, ``q_between``,
  ``q_between_df``, ``q_between_p``;
- meta-regression (:class:`MetaRegressionResult`): ``coefficients`` [{``name``,
  ``estimate``, ``se``, ``statistic``, ``p``, ``ci``}], ``qm``, ``qm_df``, ``qm_p``,
  ``r2`` (percent), ``tau2``, ``k``.

Numbers are plain Python floats; anything undefined or non-finite is ``None`` (JSON
``null``), never NaN. :func:`dumps` writes byte-stable JSON (indent 2, trailing newline).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

Interval = tuple[float | None, float | None] | None


def finite(value: Any) -> float | None:
    """Return ``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def coefficient_rows(names: Sequence[str], *columns: ArrayLike) -> list[dict[str, Any]]:
    """JSON rows of a coefficient table (metafor's ``coef(summary(fit))``), finite or None.

    ``columns`` are, in this order, the estimates, standard errors, test statistics,
    p-values and the lower and upper confidence bounds, one value per name.

    >>> coefficient_rows(["intrcpt"], [0.5], [0.1], [5.0], [1e-6], [0.3], [0.7])[0]["ci"]
    [0.3, 0.7]
    """
    beta, se, statistic, p, lower, upper = (np.asarray(c, dtype=float) for c in columns)
    return [
        {
            "name": name,
            "estimate": finite(beta[i]),
            "se": finite(se[i]),
            "statistic": finite(statistic[i]),
            "p": finite(p[i]),
            "ci": [finite(lower[i]), finite(upper[i])],
        }
        for i, name in enumerate(names)
    ]


def finite_interval(values: Sequence[Any] | None) -> list[float | None] | None:
    """Return a ``[lower, upper]`` list of finite floats (or None) or None."""
    if values is None:
        return None
    lower, upper = finite(values[0]), finite(values[1])
    if lower is None and upper is None:
        return None
    return [lower, upper]


def dumps(data: Any) -> str:
    """Serialise to deterministic JSON: indent 2, keys in insertion order, final newline."""
    return json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n"


@dataclass(frozen=True)
class BackTransformed:
    """Estimate and intervals on the natural scale (exp for log ratios, tanh for z)."""

    estimate: float | None
    ci: Interval
    pi: Interval

    @classmethod
    def of(
        cls,
        function: Callable[[Any], Any],
        estimate: float,
        ci: Sequence[float] | None,
        pi: Sequence[float] | None,
    ) -> BackTransformed:
        """Apply a vectorised back-transform to an estimate and its (optional) intervals."""

        def interval(values: Sequence[float] | None) -> Interval:
            if values is None:
                return None
            lower, upper = (float(x) for x in function(list(values)))
            return (lower, upper)

        return cls(float(function(estimate)), interval(ci), interval(pi))

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"estimate", "ci", "pi"}`` with finite floats or None."""
        return {
            "estimate": finite(self.estimate),
            "ci": finite_interval(self.ci),
            "pi": finite_interval(self.pi),
        }


@dataclass(frozen=True)
class PooledResult:
    """A common-effect or random-effects pooled estimate with its heterogeneity.

    Attributes follow the pooled keys of "Results files" (ARCHITECTURE.md). ``notes``
    holds human-readable remarks (e.g. why heterogeneity is undefined at k = 1); it is
    not part of ``to_dict()`` unless asked for.
    """

    k: int
    n_studies: int
    n_participants: int | None
    measure: str | None
    method: str
    test: str
    estimate: float | None
    se: float | None
    statistic: float | None
    df: float | None
    p: float | None
    ci: Interval
    pi: Interval
    tau2: float | None
    tau2_ci: Interval
    tau: float | None
    tau_ci: Interval
    i2: float | None
    i2_ci: Interval
    h2: float | None
    h2_ci: Interval
    q: float | None
    q_df: float | None
    q_p: float | None
    back_transformed: BackTransformed | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self, include_notes: bool = False) -> dict[str, Any]:
        """Return the pooled keys of the results contract in order (plus ``notes`` when asked)."""
        data: dict[str, Any] = {
            "k": int(self.k),
            "n_studies": int(self.n_studies),
            "n_participants": None if self.n_participants is None else int(self.n_participants),
            "measure": self.measure,
            "method": self.method,
            "test": self.test,
        }
        for name in ("estimate", "se", "statistic", "df", "p"):
            data[name] = finite(getattr(self, name))
        data["ci"] = finite_interval(self.ci)
        data["pi"] = finite_interval(self.pi)
        for name in ("tau2", "tau", "i2", "h2"):
            data[name] = finite(getattr(self, name))
            data[f"{name}_ci"] = finite_interval(getattr(self, f"{name}_ci"))
        data["q"] = finite(self.q)
        data["q_df"] = finite(self.q_df)
        data["q_p"] = finite(self.q_p)
        data["back_transformed"] = (
            None if self.back_transformed is None else self.back_transformed.to_dict()
        )
        if include_notes:
            data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class Coefficient:
    """One meta-regression coefficient."""

    name: str
    estimate: float | None
    se: float | None
    statistic: float | None
    p: float | None
    ci: Interval

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"name", "estimate", "se", "statistic", "p", "ci"}``."""
        return {
            "name": self.name,
            "estimate": finite(self.estimate),
            "se": finite(self.se),
            "statistic": finite(self.statistic),
            "p": finite(self.p),
            "ci": finite_interval(self.ci),
        }


@dataclass(frozen=True)
class MetaRegressionResult:
    """A mixed-effects meta-regression (metafor ``rma(yi, vi, mods=...)``).

    ``qm_df`` is the numerator df (chi-square under z); under Knapp-Hartung the omnibus
    test is F with ``(qm_df, qm_df_denominator)`` degrees of freedom.
    """

    k: int
    method: str
    test: str
    coefficients: tuple[Coefficient, ...]
    qm: float | None
    qm_df: float | None
    qm_df_denominator: float | None
    qm_p: float | None
    r2: float | None
    tau2: float | None
    i2: float | None
    h2: float | None
    qe: float | None
    qe_df: float | None
    qe_p: float | None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return the results contract's meta-regression keys, then the residual heterogeneity."""
        return {
            "coefficients": [c.to_dict() for c in self.coefficients],
            "qm": finite(self.qm),
            "qm_df": finite(self.qm_df),
            "qm_p": finite(self.qm_p),
            "r2": finite(self.r2),
            "tau2": finite(self.tau2),
            "k": int(self.k),
            "method": self.method,
            "test": self.test,
            "qm_df_denominator": finite(self.qm_df_denominator),
            "i2": finite(self.i2),
            "h2": finite(self.h2),
            "qe": finite(self.qe),
            "qe_df": finite(self.qe_df),
            "qe_p": finite(self.qe_p),
        }


@dataclass(frozen=True)
class SubgroupResult:
    """Separate random-effects fits per level and the test for subgroup differences.

    ``q_between`` is the Wald-type Q over the subgroup estimates (metafor: a
    common-effect ``rma`` on the subgroup estimates, ``QE`` with ``levels - 1`` df);
    ``moderator_test`` the omnibus test of the level as a factor in one meta-regression
    with a common tau2 (``{"method", "test", "statistic", "df", "df_denominator", "p",
    "tau2"}``; the statistic is QM under z, F under knha/adhoc), or None.
    """

    subgroups: dict[str, PooledResult]
    q_between: float | None
    q_between_df: float | None
    q_between_p: float | None
    notes: tuple[str, ...] = field(default=())
    moderator_test: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"subgroups": {level: pooled}, "q_between", "q_between_df", ...}``."""
        moderator = None
        if self.moderator_test is not None:
            moderator = {
                key: value if isinstance(value, str) else finite(value)
                for key, value in self.moderator_test.items()
            }
        return {
            "subgroups": {level: r.to_dict() for level, r in self.subgroups.items()},
            "q_between": finite(self.q_between),
            "q_between_df": finite(self.q_between_df),
            "q_between_p": finite(self.q_between_p),
            "moderator_test": moderator,
        }
