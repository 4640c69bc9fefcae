"""Fit one analysis: pooled model, dependence, subgroups, moderators, diagnostics, certainty.

:func:`fit_analysis` takes an :class:`~evidence.analyses.harmonise.EffectTable` and its
:class:`~evidence.analyses.spec.Analysis` and returns the sections of the results JSON (see
"Results files" in ARCHITECTURE.md) as plain data. It reads no files.

The pooled model is :func:`evidence.stats.pooling.pool` on the included rows. With
``dependence: multilevel`` and a cluster holding more than one effect, the headline
``pooled`` section comes from the three-level model (:func:`evidence.stats.dependence.three_level`,
metafor ``rma.mv(yi, vi, random = ~ 1 | cluster/effect)``) so that a shared cohort is not
counted as independent samples; the univariate fit is kept beside it
(``dependence.univariate``). A diagnostic that cannot be computed on these data is ``null``
and the reason goes into ``notes``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from evidence.analyses.certainty import CertaintyInputs, assess
from evidence.analyses.harmonise import EffectRow, EffectTable
from evidence.analyses.spec import Analysis
from evidence.effects.escalc import MEASURE_REGISTRY
from evidence.stats import bias, dependence, sensitivity
from evidence.stats.errors import InputError
from evidence.stats.pooling import pool
from evidence.stats.transforms import TRANSFORMS

#: Analysis metric -> the effect measure it pools (metafor name, see the measure registry).
METRIC_MEASURES = {
    "log-risk-ratio": "RR",
    "log-odds-ratio": "OR",
    "smd": "SMD",
    "fisher-z": "ZCOR",
    "correlation": "COR",
}


def _metric_info(measure: str) -> tuple[str, str, str | None]:
    """``(measure, scale, back-transform)`` as the results JSON names them.

    The results contract knows two scales, ``"log"`` and ``"identity"``; the back-transform
    is the measure registry's (``exp``, ``tanh`` or none).
    """
    entry = MEASURE_REGISTRY[measure]
    return measure, "log" if entry.scale == "log" else "identity", entry.back_transform


#: Metric -> (pooling measure name, scale, back-transform), read from the measure registry.
METRIC_INFO = {metric: _metric_info(measure) for metric, measure in METRIC_MEASURES.items()}


def fit_analysis(table: EffectTable, analysis: Analysis) -> dict[str, Any]:
    """Every fitted section of one analysis as plain data (see the module docstring).

    Returns
    -------
    dict
        Keys ``status``, ``message``, ``pooled``, ``weights`` (percent, per included row),
        ``subgroups``, ``meta_regression``, ``leave_one_out``, ``influence``,
        ``cumulative``, ``low_risk_of_bias_only``, ``egger``, ``begg``, ``trimfill``,
        ``failsafe_n``, ``pet_peese``, ``dependence``, ``certainty`` and ``notes``.
        Warnings raised while fitting (e.g. a tau2 estimator that needed a fallback) are
        not lost: each distinct message becomes a note.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sections = _fit_sections(table, analysis)
    for message in dict.fromkeys(str(w.message) for w in caught):
        sections["notes"].append(f"warning while fitting: {message}")
    return sections


def _fit_sections(table: EffectTable, analysis: Analysis) -> dict[str, Any]:
    """Fit every section (see :func:`fit_analysis`)."""
    rows = table.included
    measure, _scale, back = METRIC_INFO[analysis.metric]
    sections: dict[str, Any] = {
        key: None
        for key in (
            "pooled",
            "subgroups",
            "meta_regression",
            "leave_one_out",
            "influence",
            "baujat",
            "cumulative",
            "egger",
            "begg",
            "trimfill",
            "failsafe_n",
            "pet_peese",
            "dependence",
            "certainty",
            "low_risk_of_bias_only",
        )
    }
    sections.update(status="ok", message=None, weights=[], notes=[])
    if len(rows) < 2:
        sections["status"] = "insufficient-evidence"
        n_out = len(table.excluded)
        excluded = (
            "none excluded"
            if n_out == 0
            else f"{n_out} excluded, each with its reason in the effects table"
        )
        sections["message"] = (
            f"Too little evidence to pool: {len(rows)} usable effect"
            f"{'s' * (len(rows) != 1)} after selection ({excluded}); "
            "pooling needs at least two."
        )
        return sections
    clusters = sorted({r.cluster for r in rows})
    if len(clusters) < 2:
        sections["status"] = "insufficient-evidence"
        sections["message"] = (
            f"Too little evidence to pool: the {len(rows)} usable effects "
            f"all come from one sample ('{clusters[0]}'); pooling needs at "
            "least two independent samples."
        )
        return sections
    yi = np.array([r.yi for r in rows], dtype=float)
    vi = np.array([r.vi for r in rows], dtype=float)
    labels = [r.label for r in rows]
    n_clusters = len({r.cluster for r in rows})
    n_studies = len({r.study for r in rows})
    univariate = pool(
        yi,
        vi,
        measure=measure,
        transform=back,
        labels=labels,
        n_studies=n_studies,
        n_participants=participants(rows),
        method=analysis.method,
        test=analysis.test,
    )
    pooled = univariate.to_dict()
    tau2 = univariate.tau2 or 0.0
    weights = [float(w) for w in 100 * (1 / (vi + tau2)) / np.sum(1 / (vi + tau2))]
    shared = n_clusters < len(rows)
    if analysis.dependence == "multilevel" and shared:
        multilevel, ml_weights, note = _multilevel(rows, yi, vi, pooled, back, analysis.test)
        sections["dependence"] = multilevel
        if multilevel is not None and multilevel.get("pooled") is not None:
            pooled = multilevel.pop("pooled")
            weights = ml_weights
        sections["notes"].append(note)
    else:
        sections["dependence"] = {
            "rule": analysis.dependence,
            "n_clusters": n_clusters,
            "note": table.dependence_note,
            "sigma2": None,
            "robust": None,
        }
    if table.dependence_note:
        sections["notes"].append(table.dependence_note)
    sections["pooled"] = pooled
    sections["weights"] = [float(w) for w in weights]
    sections["subgroups"] = _subgroups(rows, yi, vi, analysis, measure, back, sections["notes"])
    sections["meta_regression"] = _moderators(rows, yi, vi, analysis, sections["notes"])
    sections["low_risk_of_bias_only"] = _low_risk_only(
        rows, yi, vi, analysis, measure, back, sections["notes"]
    )
    order = sorted(range(len(rows)), key=lambda i: (rows[i].year or 0, rows[i].label))
    _diagnostics(sections, yi, vi, labels, analysis, order)
    egger_p = (sections["egger"] or {}).get("p")
    sections["certainty"] = assess(
        CertaintyInputs(
            metric=analysis.metric,
            k=len(rows),
            designs=[r.design for r in rows],
            judgements=[r.risk_of_bias for r in rows],
            weights=list(weights),
            ci=pooled["ci"],
            pi=pooled["pi"],
            i2=pooled["i2"],
            egger_p=egger_p,
        ),
        analysis.overrides,
    ).to_dict()
    return sections


def participants(rows: Sequence[EffectRow]) -> int | None:
    """Participants counted once per cluster (the largest n reported in it), or ``None``.

    An upper bound when effects come from subgroups of a larger recorded sample.
    """
    largest: dict[str, int] = {}
    for row in rows:
        if row.n:
            largest[row.cluster] = max(largest.get(row.cluster, 0), int(row.n))
    return sum(largest.values()) if largest else None


def _multilevel(
    rows: Sequence[EffectRow],
    yi: np.ndarray,
    vi: np.ndarray,
    univariate: dict[str, Any],
    back: str | None,
    test: str = "z",
) -> tuple[dict[str, Any] | None, list[float], str]:
    r"""Three-level fit and CR2 robust test; the pooled section built from the fit.

    With ``test`` ``"z"`` the CI, test and prediction interval use the normal distribution.
    With ``"knha"`` or ``"t"`` they use a t distribution with :math:`k - 1` df, as metafor
    ``rma.mv(test = "t")`` does (rma.mv has no Knapp-Hartung adjustment; this is its
    small-sample option): :math:`\hat\mu \pm t_{k-1,0.975} SE`, prediction interval
    :math:`\hat\mu \pm t_{k-1,0.975}\sqrt{SE^2 + \sigma^2_1 + \sigma^2_2}`
    (Viechtbauer 2010; checked in tests/reference/make_analyses_fixtures.R).
    """
    clusters = [r.cluster for r in rows]
    try:
        fit = dependence.three_level(yi, vi, clusters)
        robust = dependence.robust_cr2(fit).to_dict()
    except (InputError, ValueError, np.linalg.LinAlgError) as exc:
        note = (
            f"three-level model unavailable ({_reason(exc)}); pooled treats the {len(rows)} "
            f"effects in {len(set(clusters))} clusters as independent"
        )
        return (
            {
                "rule": "multilevel",
                "n_clusters": len(set(clusters)),
                "sigma2": None,
                "robust": None,
                "note": note,
            },
            [],
            note,
        )
    between, within = (float(s) for s in fit.sigma2)
    estimate, se = float(fit.coefficients[0]), float(fit.se[0])
    use_t = test in ("knha", "t")
    df = len(rows) - 1 if use_t else None
    crit = float(stats.t.ppf(0.975, df)) if use_t else float(stats.norm.ppf(0.975))
    half = crit * math.sqrt(se * se + between + within)
    pooled = dict(univariate)
    weights = 1 / np.asarray(vi)  # typical within-study variance as metafor's I2 for rma.mv
    typical = (len(yi) - 1) * weights.sum() / (weights.sum() ** 2 - (weights**2).sum())
    total = between + within
    statistic = float(fit.statistic[0])
    if use_t:
        ci = [estimate - crit * se, estimate + crit * se]
        p = float(2 * stats.t.sf(abs(statistic), df))
    else:
        ci, p = [float(fit.ci_lower[0]), float(fit.ci_upper[0])], float(fit.p[0])
    pi = [estimate - half, estimate + half]
    pooled.update(
        method="REML (three-level)",
        test="t" if use_t else "z",
        estimate=estimate,
        se=se,
        statistic=statistic,
        df=df,
        p=p,
        ci=ci,
        pi=pi,
        tau2=total,
        tau2_ci=None,
        tau=math.sqrt(total),
        tau_ci=None,
        i2=100 * total / (total + typical),
        i2_ci=None,
        h2=(total + typical) / typical,
        h2_ci=None,
        q=float(fit.q),
        q_df=float(fit.q_df),
        q_p=float(fit.q_p),
        back_transformed=_back(back, estimate, ci, pi),
    )
    section = {
        "rule": "multilevel",
        "n_clusters": fit.n_clusters,
        "sigma2": [between, within],
        "robust": robust,
        "three_level": fit.to_dict(),
        "univariate": univariate,
        "pooled": pooled,
    }
    note = (
        f"{len(rows)} effects in {fit.n_clusters} clusters: pooled from the three-level "
        f"model (effects nested in clusters, {'t test with k - 1 df' if use_t else 'z test'}"
        "; I2 is the total of both levels, Cheung "
        "2014; cluster-robust CR2 inference under dependence.robust); "
        "the univariate fit is kept under dependence.univariate; subgroup, moderator, "
        "sensitivity and bias analyses treat effects as independent"
    )
    return section, _three_level_weights(rows, vi, between, within), note


def _three_level_weights(
    rows: Sequence[EffectRow], vi: np.ndarray, between: float, within: float
) -> list[float]:
    r"""Percent weights :math:`\operatorname{diag}(V^{-1})` as metafor ``weights.rma.mv``.

    Per cluster :math:`V = D + \sigma^2_b \mathbf 1 \mathbf 1'`, :math:`D = \operatorname
    {diag}(v_j + \sigma^2_w)`, so by Sherman-Morrison
    :math:`(V^{-1})_{jj} = 1/d_j - \sigma^2_b d_j^{-2} / (1 + \sigma^2_b \sum_l 1/d_l)`.
    """
    d = np.asarray(vi) + within
    inverse_sum: dict[str, float] = {}
    for row, value in zip(rows, d, strict=True):
        inverse_sum[row.cluster] = inverse_sum.get(row.cluster, 0.0) + 1 / value
    diagonal = np.array(
        [
            1 / value - between / value**2 / (1 + between * inverse_sum[r.cluster])
            for r, value in zip(rows, d, strict=True)
        ]
    )
    return [float(w) for w in 100 * diagonal / diagonal.sum()]


def _back(
    back: str | None, estimate: float, ci: list[float], pi: list[float]
) -> dict[str, Any] | None:
    """Back-transform the three-level pooled numbers (the registry's one-number form)."""
    if back is None:
        return None
    array = TRANSFORMS[back].array  # overflow gives inf (and a note), never an exception

    def function(value: float) -> float:
        return float(array(value))

    return {
        "estimate": function(estimate),
        "ci": [function(c) for c in ci],
        "pi": [function(p) for p in pi],
    }


def _low_risk_only(
    rows: Sequence[EffectRow],
    yi: np.ndarray,
    vi: np.ndarray,
    analysis: Analysis,
    measure: str,
    back: str | None,
    notes: list[str],
) -> dict[str, Any] | None:
    """Pool only the effects of studies judged at low risk of bias (a sensitivity analysis)."""
    if "low-risk-of-bias-only" not in analysis.sensitivity:
        return None
    keep = [i for i, r in enumerate(rows) if r.risk_of_bias == "low"]
    if len(keep) < 2:
        notes.append(
            f"low-risk-of-bias-only: {len(keep)} included effects come from studies "
            "judged at low risk of bias; not pooled"
        )
        return None
    return pool(
        yi[keep],
        vi[keep],
        method=analysis.method,
        test=analysis.test,
        measure=measure,
        transform=back,
    ).to_dict()


def _subgroups(
    rows: Sequence[EffectRow],
    yi: np.ndarray,
    vi: np.ndarray,
    analysis: Analysis,
    measure: str,
    back: str | None,
    notes: list[str],
) -> dict[str, Any] | None:
    if not analysis.subgroups:
        return None
    from evidence.stats.moderators import subgroups

    result: dict[str, Any] = {}
    for path in analysis.subgroups:
        groups = [
            str(r.fields.get(path)) if r.fields.get(path) is not None else "not reported"
            for r in rows
        ]
        if len(set(groups)) < 2:
            notes.append(f"subgroups by {path}: only one level ({groups[0]}); not analysed")
            result[path] = None
            continue
        try:
            fitted = subgroups(
                yi,
                vi,
                groups,
                method=analysis.method,
                test=analysis.test,
                measure=measure,
                transform=back,
            )
            notes.extend(f"subgroups by {path}: {note}" for note in fitted.notes)
            result[path] = fitted.to_dict()
        except InputError as exc:
            notes.append(f"subgroups by {path}: {_reason(exc)}")
            result[path] = None
    return result


def _moderators(
    rows: Sequence[EffectRow], yi: np.ndarray, vi: np.ndarray, analysis: Analysis, notes: list[str]
) -> dict[str, Any] | None:
    if not analysis.moderators:
        return None
    from evidence.stats.moderators import meta_regression

    result: dict[str, Any] = {}
    for path in analysis.moderators:
        values = [r.fields.get(path) for r in rows]
        known = [i for i, v in enumerate(values) if isinstance(v, int | float)]
        if len(known) < 3 or len({values[i] for i in known}) < 2:
            notes.append(
                f"meta-regression on {path}: fewer than 3 effects with distinct values; not fitted"
            )
            result[path] = None
            continue
        if len(known) < len(rows):
            notes.append(
                f"meta-regression on {path}: {len(rows) - len(known)} effects without "
                "a value left out"
            )
        try:
            fit = meta_regression(
                yi[known],
                vi[known],
                {path: np.array([values[i] for i in known], dtype=float)},
                method=analysis.method,
                test=analysis.test,
            )
            result[path] = {**fit.to_dict(), "k": len(known)}
        except InputError as exc:
            notes.append(f"meta-regression on {path}: {_reason(exc)}")
            result[path] = None
    return result


#: Inputs of one diagnostic: yi, vi, labels, the analysis and the cumulative order.
_Call = Callable[[np.ndarray, np.ndarray, list[str], Analysis, list[int]], Any]

#: (results key, spec list, spec item, call). Leave-one-out, influence and Baujat come
#: from one batch of deletion fits (:func:`_case_deletion`); the rest are listed here,
#: each with the arguments it takes. Cumulative adds studies by publication year, then label.
_DIAGNOSTICS: tuple[tuple[str, str, str, _Call], ...] = (
    (
        "cumulative",
        "sensitivity",
        "cumulative",
        lambda yi, vi, labels, a, order: sensitivity.cumulative(
            yi, vi, order=order, labels=labels, method=a.method, test=a.test
        ),
    ),
    (
        "egger",
        "bias",
        "egger",
        lambda yi, vi, labels, a, order: bias.egger(yi, vi, method=a.method, test=a.test),
    ),
    ("begg", "bias", "begg", lambda yi, vi, labels, a, order: bias.begg(yi, vi)),
    (
        "trimfill",
        "bias",
        "trimfill",
        lambda yi, vi, labels, a, order: bias.trimfill(yi, vi, method=a.method),
    ),
    ("failsafe_n", "bias", "failsafe", lambda yi, vi, labels, a, order: bias.failsafe_n(yi, vi)),
    ("pet_peese", "bias", "pet-peese", lambda yi, vi, labels, a, order: bias.pet_peese(yi, vi)),
)


def _diagnostics(
    sections: dict[str, Any],
    yi: np.ndarray,
    vi: np.ndarray,
    labels: list[str],
    analysis: Analysis,
    order: list[int],
) -> None:
    """Run the requested sensitivity and bias analyses; a failure becomes a note."""
    _case_deletion(sections, yi, vi, labels, analysis)
    for key, spec_list, item, call in _DIAGNOSTICS:
        if item not in getattr(analysis, spec_list):
            continue
        try:
            value = call(yi, vi, labels, analysis, order)
        except (InputError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
            sections["notes"].append(f"{key.replace('_', '-')}: not computed ({_reason(exc)})")
            continue
        sections[key] = _plain(value)


def _case_deletion(
    sections: dict[str, Any], yi: np.ndarray, vi: np.ndarray, labels: list[str], analysis: Analysis
) -> None:
    """Leave-one-out, influence and Baujat sections from one batch of k deletion fits.

    A failure (e.g. fewer than three effects) leaves the sections empty with a note.
    """
    wanted = [
        key
        for item, keys in (
            ("leave-one-out", ("leave_one_out",)),
            ("influence", ("influence", "baujat")),
        )
        if item in analysis.sensitivity
        for key in keys
    ]
    if not wanted:
        return
    try:
        found = sensitivity.diagnostics(
            yi, vi, labels, method=analysis.method, test=analysis.test
        ).to_dict()
    except (InputError, ValueError, np.linalg.LinAlgError) as exc:
        names = " and ".join(key.replace("_", "-") for key in wanted)
        sections["notes"].append(f"{names}: not computed ({_reason(exc)})")
        return
    for key in wanted:
        sections[key] = found[key]


def _reason(exc: Exception) -> str:
    """Give the words of an error for a results note (an InputError's messages, no rule)."""
    return str(exc)


def _plain(value: Any) -> Any:
    """Turn result objects into plain data via their ``to_dict()``."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
