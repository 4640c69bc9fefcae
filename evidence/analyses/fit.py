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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from evidence.analyses.certainty import HIGH_RISK, CertaintyInputs, assess
from evidence.analyses.harmonise import CONTRAST_WORDS, FAMILY_WORDS, EffectRow, EffectTable
from evidence.analyses.spec import ADJUSTMENT_ORDER, Analysis
from evidence.analyses.summary import above_null_means, finding, plain_language
from evidence.effects.escalc import MEASURE_REGISTRY
from evidence.records.model import ROB_DOMAINS
from evidence.stats import bias, dependence, sensitivity
from evidence.stats.errors import InputError
from evidence.stats.pooling import pool
from evidence.stats.tau2_intervals import henmi_copas

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


#: Every section :func:`fit_analysis` returns besides ``status``, ``message``, ``weights``
#: and ``notes`` (``null`` when not requested or not computable), in the order of the
#: results JSON.
SECTION_KEYS = (
    "pooled",
    "subgroups",
    "meta_regression",
    "leave_one_out",
    "influence",
    "baujat",
    "cumulative",
    "low_risk_of_bias_only",
    "egger",
    "begg",
    "trimfill",
    "failsafe_n",
    "pet_peese",
    "henmi_copas",
    "dependence",
    "certainty",
    "eligibility",
    "by_family",
    "adjustment",
    "risk_of_bias",
    "finding",
    "plain_language",
)
#: Independent samples a meta-regression needs (Cochrane Handbook 10.11.5.1: about ten
#: studies per characteristic modelled).
MIN_META_REGRESSION = 10
#: The test for subgroup differences across outcome families rejects below this p
#: (the Cochrane Handbook's 0.10 for heterogeneity tests of low power, 10.10.2).
FAMILY_TEST_ALPHA = 0.10
#: Reader labels of the adjustment sensitivity analysis.
ADJUSTMENT_LABELS = {
    "most-adjusted": "Most adjusted estimate of each study",
    "least-adjusted": "Least adjusted estimate of each study",
    "fully-adjusted-only": "Fully adjusted estimates only",
}


def fit_analysis(
    table: EffectTable,
    analysis: Analysis,
    variants: Mapping[str, EffectTable] | None = None,
) -> dict[str, Any]:
    """Every fitted section of one analysis as plain data (see the module docstring).

    Parameters
    ----------
    table : EffectTable
        The harmonised effects (the spec's adjustment rule).
    analysis : Analysis
        The spec.
    variants : mapping of str to EffectTable, optional
        The tables of the adjustment sensitivity analysis
        (:func:`evidence.analyses.harmonise.adjustment_variants`); without them the
        ``adjustment.sensitivity`` list is empty.

    Returns
    -------
    dict
        ``status``, ``message``, ``weights`` (percent, per included row), ``notes`` and
        every key of :data:`SECTION_KEYS`. Warnings raised while fitting (e.g. a tau2
        estimator that needed a fallback) are not lost: each distinct message becomes a
        note.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sections = _fit_sections(table, analysis, variants or {})
    for message in dict.fromkeys(str(w.message) for w in caught):
        sections["notes"].append(f"warning while fitting: {message}")
    mark_estimable(sections)
    return sections


def _fit_sections(
    table: EffectTable, analysis: Analysis, variants: Mapping[str, EffectTable]
) -> dict[str, Any]:
    """Fit every section (see :func:`fit_analysis`)."""
    rows = table.included
    sections: dict[str, Any] = dict.fromkeys(SECTION_KEYS)
    sections.update(status="ok", message=None, weights=[], notes=[])
    sections["eligibility"] = eligibility_summary(table, analysis)
    sections["adjustment"] = adjustment_section(analysis, table, variants)
    sections["risk_of_bias"] = risk_of_bias_table(rows, None)
    families = list(dict.fromkeys(r.outcome_family for r in rows))
    if len(families) > 1 and _by_family(sections, table, analysis, variants, families):
        _summaries(sections, analysis, rows)
        return sections
    unpooled = _too_few(rows, analysis.rules.min_samples, len(table.excluded))
    if unpooled:
        sections["status"], sections["message"] = "insufficient-evidence", unpooled
        _summaries(sections, analysis, rows)
        return sections
    fitted = pool_rows(rows, analysis, table.dependence_note)
    pooled, weights = fitted["pooled"], fitted["weights"]
    sections["dependence"] = fitted["dependence"]
    sections["notes"].extend(fitted["notes"])
    sections["pooled"] = pooled
    sections["weights"] = weights
    yi = np.array([r.yi for r in rows], dtype=float)
    vi = np.array([r.vi for r in rows], dtype=float)
    labels = [r.label for r in rows]
    measure, _scale, back = METRIC_INFO[analysis.metric]
    by_spec = _subgroups(rows, yi, vi, analysis, measure, back, sections["notes"])
    if sections["subgroups"] or by_spec:  # keep the outcome-family test beside them
        sections["subgroups"] = {**(sections["subgroups"] or {}), **(by_spec or {})}
    sections["meta_regression"] = _moderators(rows, yi, vi, analysis, sections["notes"])
    sections["low_risk_of_bias_only"] = _low_risk_only(
        rows, yi, vi, analysis, measure, back, sections["notes"]
    )
    order = sorted(range(len(rows)), key=lambda i: (rows[i].year or 0, rows[i].label))
    _diagnostics(sections, yi, vi, labels, analysis, order)
    egger_p = (sections["egger"] or {}).get("p")
    sections["risk_of_bias"] = risk_of_bias_table(rows, weights)
    if analysis.kind != "check":
        sections["certainty"] = rate(rows, pooled, weights, analysis, egger_p)
    _summaries(sections, analysis, rows)
    return sections


def _too_few(rows: Sequence[EffectRow], min_samples: int, n_out: int) -> str | None:
    """Why these rows are not pooled (fewer independent samples than needed), or ``None``."""
    samples = sorted({r.cluster for r in rows})
    if len(rows) >= 2 and len(samples) >= min_samples:
        return None
    excluded = (
        "none excluded"
        if n_out == 0
        else f"{n_out} excluded, each with its reason in the effects table"
    )
    if not rows:
        return f"Not pooled: no usable estimate after selection ({excluded})."
    shared = (
        f" (all from one sample, '{samples[0]}')" if len(samples) == 1 and len(rows) > 1 else ""
    )
    return (
        f"Not pooled: {len(rows)} usable estimate{'s' * (len(rows) != 1)} from "
        f"{len(samples)} independent sample{'s' * (len(samples) != 1)}{shared}; "
        f"this analysis pools at least {min_samples} independent samples ({excluded}). "
        "The studies are listed below."
    )


def pool_rows(
    rows: Sequence[EffectRow], analysis: Analysis, dependence_note: str | None = None
) -> dict[str, Any]:
    """Pool included rows: univariate, or three-level when clusters hold several effects.

    Returns
    -------
    dict
        ``pooled`` (the headline pooled section), ``weights`` (percent per row),
        ``dependence`` (the results' dependence section) and ``notes``.
    """
    measure, _scale, back = METRIC_INFO[analysis.metric]
    yi = np.array([r.yi for r in rows], dtype=float)
    vi = np.array([r.vi for r in rows], dtype=float)
    n_clusters = len({r.cluster for r in rows})
    univariate = pool(
        yi,
        vi,
        measure=measure,
        transform=back,
        labels=[r.label for r in rows],
        n_studies=len({r.study for r in rows}),
        n_participants=participants(rows),
        method=analysis.method,
        test=analysis.test,
    )
    pooled = univariate.to_dict()
    tau2 = univariate.tau2 or 0.0
    weights = [float(w) for w in 100 * (1 / (vi + tau2)) / np.sum(1 / (vi + tau2))]
    notes: list[str] = []
    section: dict[str, Any] | None
    if analysis.dependence == "multilevel" and n_clusters < len(rows):
        section, ml_weights, found = _multilevel(rows, yi, vi, pooled, back, analysis.test)
        if section is not None and section.get("pooled") is not None:
            pooled = section.pop("pooled")
            weights = ml_weights
        notes.extend(found)
    else:
        section = {
            "rule": analysis.dependence,
            "n_clusters": n_clusters,
            "note": dependence_note,
            "sigma2": None,
            "robust": None,
        }
    if dependence_note:
        notes.append(dependence_note)
    return {"pooled": pooled, "weights": weights, "dependence": section, "notes": notes}


def rate(
    rows: Sequence[EffectRow],
    pooled: Mapping[str, Any],
    weights: Sequence[float],
    analysis: Analysis,
    egger_p: float | None = None,
) -> dict[str, Any]:
    """Rate one pooled estimate: the ``certainty`` section (:mod:`evidence.analyses.certainty`)."""
    return assess(
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
            yi=[float(r.yi) for r in rows if r.yi is not None],
            vi=[float(r.vi) for r in rows if r.vi is not None],
            estimate=pooled["estimate"],
            indirect=[r.indirect for r in rows],
            direct_judged=bool(analysis.question_fields),
            above_null=above_null_means(
                analysis.orient, str(analysis.question.get("outcome")), analysis.metric
            ),
        ),
        analysis.overrides,
        analysis.upgrades,
    ).to_dict()


def _natural(pooled: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Estimate, CI and PI on the natural scale (back-transformed when there is one)."""
    if not pooled:
        return None
    shown = pooled.get("back_transformed") or pooled
    return {"estimate": shown.get("estimate"), "ci": shown.get("ci"), "pi": shown.get("pi")}


def _summaries(sections: dict[str, Any], analysis: Analysis, rows: Sequence[EffectRow]) -> None:
    """Add the finding sentence data and the plain-language summary of the analysis."""
    families = [r.measure_family for r in rows]
    samples = len({r.cluster for r in rows})
    found = None
    if sections["status"] == "ok" and sections["pooled"] is not None:
        found = finding(
            analysis.question,
            analysis.metric,
            analysis.orient,
            families,
            _natural(sections["pooled"]),
            sections["certainty"],
            [r.adjustment for r in rows],
            len({r.study for r in rows}),
            samples,
        )
    sections["finding"] = found
    by_family = [b["family"] for b in sections["by_family"] or []]
    sections["plain_language"] = plain_language(
        analysis.question,
        sections["status"],
        sections["message"],
        found,
        sections["certainty"],
        len(rows),
        samples,
        by_family,
    )


def _by_family(
    sections: dict[str, Any],
    table: EffectTable,
    analysis: Analysis,
    variants: Mapping[str, EffectTable],
    families: Sequence[str],
) -> bool:
    """One block per outcome family; return True when there is no overall estimate.

    With ``across_families: subgroups`` the families are also a subgroup analysis, and the
    overall estimate is kept (False) when the test for subgroup differences does not
    reject at :data:`FAMILY_TEST_ALPHA`.
    """
    rows = table.included
    blocks = [family_block(family, table, analysis, variants) for family in families]
    sections["by_family"] = blocks
    counts = ", ".join(f"{b['family']} ({b['k']})" for b in blocks)
    if analysis.rules.across_families == "subgroups":
        measure, _scale, back = METRIC_INFO[analysis.metric]
        yi = np.array([r.yi for r in rows], dtype=float)
        vi = np.array([r.vi for r in rows], dtype=float)
        test = _family_test(rows, yi, vi, analysis, measure, back, sections["notes"])
        sections["subgroups"] = {"outcome family": test} if test else None
        p = (test or {}).get("q_between_p")
        if p is not None and p >= FAMILY_TEST_ALPHA:
            sections["notes"].append(
                f"outcome families ({counts}) do not differ by the test for subgroup "
                f"differences (p = {p:.3g}): the overall estimate is shown with them"
            )
            return False
        why = (
            f"the test for subgroup differences shows they differ (p = {p:.2g})"
            if p is not None
            else "the test for subgroup differences could not be computed"
        )
    else:
        why = "this analysis keeps outcome families apart"
    sections["status"] = "by-family"
    sections["message"] = (
        f"No overall estimate: the studies measure {len(blocks)} different kinds of outcome "
        f"({counts} estimates) and {why}. Each kind of outcome is summarised on its own."
    )
    return True


def family_block(
    family: str,
    table: EffectTable,
    analysis: Analysis,
    variants: Mapping[str, EffectTable],
) -> dict[str, Any]:
    """Pool one outcome family on its own: status, pooled, certainty, finding, summary."""
    rows = [r for r in table.included if r.outcome_family == family]
    samples = len({r.cluster for r in rows})
    block: dict[str, Any] = {
        "family": family,
        "status": "ok",
        "message": None,
        "k": len(rows),
        "samples": samples,
        "pooled": None,
        "certainty": None,
        "finding": None,
        "plain_language": None,
        "adjustment": adjustment_section(analysis, table, variants, family),
    }
    unpooled = _too_few(rows, analysis.rules.min_samples, 0)
    if unpooled:
        block["status"], block["message"] = "insufficient-evidence", unpooled
    else:
        fitted = pool_rows(rows, analysis)
        block["pooled"] = fitted["pooled"]
        if analysis.kind != "check":
            block["certainty"] = rate(rows, fitted["pooled"], fitted["weights"], analysis)
        block["finding"] = finding(
            {**analysis.question, "outcome": family},
            analysis.metric,
            analysis.orient,
            [r.measure_family for r in rows],
            _natural(fitted["pooled"]),
            block["certainty"],
            [r.adjustment for r in rows],
            len({r.study for r in rows}),
            samples,
        )
    block["plain_language"] = plain_language(
        {**analysis.question, "outcome": family},
        block["status"],
        block["message"],
        block["finding"],
        block["certainty"],
        len(rows),
        samples,
    )
    return block


def _family_test(
    rows: Sequence[EffectRow],
    yi: np.ndarray,
    vi: np.ndarray,
    analysis: Analysis,
    measure: str,
    back: str | None,
    notes: list[str],
) -> dict[str, Any] | None:
    """Test for subgroup differences across outcome families (``None`` when impossible)."""
    from evidence.stats.moderators import subgroups

    try:
        fitted = subgroups(
            yi,
            vi,
            [r.outcome_family for r in rows],
            method=analysis.method,
            test=analysis.test,
            measure=measure,
            transform=back,
        )
    except InputError as exc:
        notes.append(f"subgroups by outcome family: {_reason(exc)}")
        return None
    notes.extend(f"subgroups by outcome family: {note}" for note in fitted.notes)
    return dict(fitted.to_dict())


def eligibility_summary(table: EffectTable, analysis: Analysis) -> dict[str, Any]:
    """Summarise the eligibility rules: what they let in and what they kept out."""
    rules = analysis.rules
    rows, out = table.included, table.excluded
    samples = len({r.cluster for r in rows})
    families = _counts(r.outcome_family for r in rows)
    measures = _counts(r.measure_family for r in rows)
    contrasts = _counts(r.contrast_type or "not-stated" for r in rows)
    measures_out = _counts(
        r.measure_family for r in out if r.measure_family not in rules.measure_families
    )
    contrasts_out = _counts(
        r.contrast_type or "not-stated"
        for r in out
        if r.measure_family != "correlation"
        and (r.contrast_type or "not-stated") not in rules.contrasts
    )
    named = [FAMILY_WORDS.get(f, f) + "s" for f in measures]
    checks = [
        {
            "rule": "min-samples",
            "passed": samples >= rules.min_samples,
            "message": f"{samples} independent sample{'s' * (samples != 1)} "
            f"(at least {rules.min_samples} needed to pool)",
        },
        {
            "rule": "one-outcome-family",
            "passed": len(families) <= 1,
            "message": (
                f"one kind of outcome: {next(iter(families))}"
                if len(families) == 1
                else "no estimate included"
                if not families
                else f"{len(families)} kinds of outcome: {', '.join(families)}; "
                "each is summarised on its own"
            ),
        },
        {
            "rule": "one-measure-family",
            "passed": len(measures) <= 1 or rules.measure_families_justification is not None,
            "message": (
                f"{' and '.join(named)} combined: {rules.measure_families_justification}"
                if len(measures) > 1
                else f"{named[0]} only"
                if named
                else "no estimate included"
            ),
        },
        {
            "rule": "contrast-types",
            "passed": True,
            "message": "; ".join(f"{CONTRAST_WORDS.get(c, c)} ({n})" for c, n in contrasts.items())
            + (
                "; not pooled with them: "
                + "; ".join(f"{CONTRAST_WORDS.get(c, c)} ({n})" for c, n in contrasts_out.items())
                if contrasts_out
                else ""
            ),
        },
    ]
    return {
        "min_samples": rules.min_samples,
        "samples": samples,
        "outcome_families": {
            "rule": "declared" if rules.outcome_families else "outcome.domain",
            "across": rules.across_families,
            "included": families,
        },
        "measure_families": {
            "allowed": list(rules.measure_families),
            "included": measures,
            "excluded": measures_out,
            "justification": rules.measure_families_justification,
        },
        "contrasts": {
            "allowed": list(rules.contrasts),
            "included": contrasts,
            "excluded": contrasts_out,
        },
        "checks": checks,
    }


def _counts(values: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in values:
        found[str(value)] = found.get(str(value), 0) + 1
    return found


def adjustment_section(
    analysis: Analysis,
    table: EffectTable,
    variants: Mapping[str, EffectTable],
    family: str | None = None,
) -> dict[str, Any]:
    """Build the ``adjustment`` section: levels included and the sensitivity analysis.

    Each variant is pooled as the main analysis is (same model and dependence rule), on the
    rows of ``family`` when given.
    """
    rows = [r for r in table.included if family is None or r.outcome_family == family]
    levels = {level: sum(r.adjustment == level for r in rows) for level in ADJUSTMENT_ORDER}
    sensitivity = []
    for rule, variant in variants.items():
        chosen = [r for r in variant.included if family is None or r.outcome_family == family]
        row: dict[str, Any] = {
            "rule": rule,
            "label": ADJUSTMENT_LABELS.get(rule, rule),
            "status": "ok",
            "message": None,
            "k": len(chosen),
            "samples": len({r.cluster for r in chosen}),
            "estimate": None,
            "ci": None,
            "pi": None,
            "back_transformed": None,
        }
        unpooled = _too_few(chosen, analysis.rules.min_samples, 0)
        if unpooled or len({r.outcome_family for r in chosen}) > 1:
            row["status"] = "insufficient-evidence" if unpooled else "by-family"
            row["message"] = unpooled or "several kinds of outcome: not pooled together"
        else:
            try:
                pooled = pool_rows(chosen, analysis)["pooled"]
            except (InputError, ValueError, np.linalg.LinAlgError) as exc:
                row["status"], row["message"] = "not-computed", _reason(exc)
            else:
                row.update(
                    estimate=pooled["estimate"],
                    ci=pooled["ci"],
                    pi=pooled["pi"],
                    back_transformed=pooled.get("back_transformed"),
                )
        sensitivity.append(row)
    return {"rule": analysis.adjustment, "included": levels, "sensitivity": sensitivity}


#: Reader labels of the ROBINS-E domains.
ROB_LABELS = {
    "confounding": "Confounding",
    "exposure-measurement": "Measurement of the exposure",
    "selection": "Selection of participants",
    "post-exposure-interventions": "Post-exposure interventions",
    "missing-data": "Missing data",
    "outcome-measurement": "Measurement of the outcome",
    "reported-result": "Selection of the reported result",
}


def risk_of_bias_table(
    rows: Sequence[EffectRow], weights: Sequence[float] | None
) -> dict[str, Any]:
    """Build the traffic-light data: a row per included study, a judgement per domain.

    A domain the record does not judge is ``not-assessed``; ``weight`` is the study's share
    of the model weight in percent (``None`` when nothing was pooled).
    """
    studies: dict[str, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        entry = studies.setdefault(
            row.study,
            {
                "study": row.study,
                "label": row.study,
                "tool": row.rob_tool,
                "overall": row.risk_of_bias,
                "weight": 0.0 if weights is not None else None,
                "domains": dict.fromkeys(ROB_DOMAINS, "not-assessed"),
                "support": dict.fromkeys(ROB_DOMAINS),
            },
        )
        for name, judgement, support in row.rob_domains:
            entry["domains"][name] = judgement
            entry["support"][name] = support
        if weights is not None:
            entry["weight"] += float(weights[index])
    listed = [studies[k] for k in sorted(studies)]
    assessed = [s for s in listed if s["overall"] != "not-assessed"]
    total = sum(s["weight"] or 0.0 for s in listed) or 1.0
    return {
        "tool": "ROBINS-E",
        "domains": [{"name": name, "label": ROB_LABELS[name]} for name in ROB_DOMAINS],
        "studies": listed,
        "summary": {
            "studies": len(listed),
            "assessed": len(assessed),
            "not_assessed": len(listed) - len(assessed),
            "weight_not_assessed": (
                None
                if weights is None
                else 100 * sum(s["weight"] for s in listed if s not in assessed) / total
            ),
            "weight_high": (
                None
                if weights is None
                else 100 * sum(s["weight"] for s in listed if s["overall"] in HIGH_RISK) / total
            ),
        },
    }


def estimable(pooled: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Whether a pooled object is an estimate to show, and why not.

    A missing, non-finite or zero-width confidence interval (or a zero standard error) is
    never estimable: "1.26 [1.26, 1.26]" would present an unknown precision as certainty.
    """
    estimate, ci, se = pooled.get("estimate"), pooled.get("ci"), pooled.get("se")
    if estimate is None or not ci or ci[0] is None or ci[1] is None:
        return False, "no confidence interval could be computed"
    if not all(math.isfinite(float(v)) for v in (estimate, ci[0], ci[1])):
        return False, "the confidence interval is not finite"
    if se == 0 or float(ci[1]) - float(ci[0]) <= 1e-12 * max(1.0, abs(float(estimate))):
        return False, "the confidence interval has zero width (its variance is not estimable)"
    return True, None


def mark_estimable(sections: dict[str, Any]) -> None:
    """Add ``estimable`` and ``not_estimable_reason`` to every pooled-like object."""
    targets: list[dict[str, Any]] = []
    for key in ("pooled", "low_risk_of_bias_only"):
        if isinstance(sections.get(key), dict):
            targets.append(sections[key])
    for fitted in (sections.get("subgroups") or {}).values():
        if isinstance(fitted, dict):
            targets.extend(v for v in (fitted.get("subgroups") or {}).values() if v)
    for block in sections.get("by_family") or []:
        if block.get("pooled"):
            targets.append(block["pooled"])
        targets.extend(block["adjustment"]["sensitivity"])
    targets.extend((sections.get("adjustment") or {}).get("sensitivity", []))
    for target in targets:
        if target.get("estimate") is None and target.get("status") not in (None, "ok"):
            target["estimable"], target["not_estimable_reason"] = False, target.get("message")
            continue
        target["estimable"], target["not_estimable_reason"] = estimable(target)


def participants(rows: Sequence[EffectRow]) -> int | None:
    """Participants counted once per cluster (the largest n reported in it), or ``None``.

    A subgroup effect carries no n (harmonise: the record's n is the whole sample, not the
    subgroup analysed), so a cluster whose effects are all subgroups counts nothing here
    and :func:`samples_without_n` says how many such clusters there are: the sum is then
    the participants of the samples whose analysed size is known.
    """
    largest: dict[str, int] = {}
    for row in rows:
        if row.n:
            largest[row.cluster] = max(largest.get(row.cluster, 0), int(row.n))
    return sum(largest.values()) if largest else None


def samples_without_n(rows: Sequence[EffectRow]) -> int:
    """Return how many clusters of ``rows`` have no effect with a known n."""
    known = {row.cluster for row in rows if row.n}
    return len({row.cluster for row in rows} - known)


def _multilevel(
    rows: Sequence[EffectRow],
    yi: np.ndarray,
    vi: np.ndarray,
    univariate: dict[str, Any],
    back: str | None,
    test: str = "z",
) -> tuple[dict[str, Any] | None, list[float], list[str]]:
    r"""Three-level fit and CR2 robust test; the pooled section built from the fit.

    With ``test`` ``"z"`` the CI, test and prediction interval use the normal distribution.
    With ``"knha"``, ``"adhoc"`` or ``"t"`` they use a t distribution (metafor
    ``rma.mv(test = "t")``; rma.mv has no Knapp-Hartung adjustment, this is its
    small-sample option) with the containment degrees of freedom, clusters - 1 for the
    pooled effect (metafor ``dfs = "contain"``): :math:`\hat\mu \pm t_{m-1,0.975} SE` and
    the prediction interval :math:`\hat\mu \pm t_{m-1,0.975}\sqrt{SE^2 + \sigma^2_1 +
    \sigma^2_2}` (:func:`evidence.stats.dependence.pooled_section`). CR2 cluster-robust
    inference with Satterthwaite df is reported beside it (``dependence.robust``), and a
    note says when fewer than five clusters make either interval unreliable. The weights
    are metafor's row-sum weights, the ones the estimate is made of.
    """
    clusters = [r.cluster for r in rows]
    use_t = test in ("knha", "adhoc", "t")
    try:
        fit = dependence.three_level(yi, vi, clusters, test="t" if use_t else "z")
        cr2 = dependence.robust_cr2(fit)
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
            [note],
        )
    pooled = dependence.pooled_section(fit, univariate, back)
    section = {
        "rule": "multilevel",
        "n_clusters": fit.n_clusters,
        "sigma2": [float(s) for s in fit.sigma2],
        "robust": cr2.to_dict(),
        "three_level": fit.to_dict(),
        "univariate": univariate,
        "pooled": pooled,
    }
    inference = (
        f't test with containment df, clusters - 1 = {fit.n_clusters - 1} (metafor dfs = "contain")'
        if use_t
        else "z test"
    )
    note = (
        f"{len(rows)} effects in {fit.n_clusters} clusters: pooled from the three-level "
        f"model (effects nested in clusters, {inference}; I2 is the total of both levels, "
        "Cheung 2014; weights are metafor's row-sum weights; cluster-robust CR2 inference "
        f"with Satterthwaite df beside it: se {cr2.se[0]:.4g}, df {cr2.df[0]:.3g}, CI "
        f"{cr2.ci_lower[0]:.4g} to {cr2.ci_upper[0]:.4g} on the analysis scale); the "
        "univariate fit is kept under "
        "dependence.univariate; subgroup, moderator, sensitivity and bias analyses treat "
        "effects as independent"
    )
    few = dependence.few_clusters_note(fit.n_clusters)
    notes = [note] if few is None else [note, few]
    return section, [float(w) for w in fit.weights("rowsum")], notes


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
        samples = len({rows[i].cluster for i in known})
        if samples < MIN_META_REGRESSION:
            notes.append(
                f"meta-regression on {path}: not run: {samples} independent samples have a "
                f"value, and a meta-regression needs at least {MIN_META_REGRESSION} "
                "(Cochrane Handbook 10.11.5.1)"
            )
            result[path] = None
            continue
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
        lambda yi, vi, labels, a, order: bias.trimfill(yi, vi, method=a.method, test=a.test),
    ),
    ("failsafe_n", "bias", "failsafe", lambda yi, vi, labels, a, order: bias.failsafe_n(yi, vi)),
    ("pet_peese", "bias", "pet-peese", lambda yi, vi, labels, a, order: bias.pet_peese(yi, vi)),
    (
        "henmi_copas",
        "bias",
        "henmi-copas",
        lambda yi, vi, labels, a, order: henmi_copas(yi, vi).to_dict(),
    ),
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
    if isinstance(sections.get("failsafe_n"), dict):
        sections["failsafe_n"].update(
            discouraged=True,
            why="Fail-safe N asks how many null studies would make the result "
            "non-significant; it says nothing about the size of the bias and is not "
            "recommended (Cochrane Handbook 5.1, section 10.4.4.3).",
        )


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
