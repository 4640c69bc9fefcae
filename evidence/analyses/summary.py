"""The finding sentence and the plain-language summary of one analysis, as data.

Both are generated from the pooled numbers and the certainty rating, never written by
hand, so they cannot drift from the results. The wording follows the GRADE informative
statements of Santesso et al. (GRADE guidelines 26, J Clin Epidemiol 2020;119:126-135),
adapted from interventions to associations: high certainty states the association,
moderate says "probably", low says "may", and very low says that "the evidence is very
uncertain". The exposure and the outcome are always named, whatever the interval.

:func:`finding` returns the ``finding`` section of the results JSON and
:func:`plain_language` the ``plain_language`` section ("Results files" in ARCHITECTURE.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from evidence.analyses.harmonise import FAMILY_WORDS, ORIENTATIONS

#: GRADE qualifier per certainty level (Santesso et al. 2020).
QUALIFIERS = {"high": "", "moderate": "probably", "low": "may", "very low": "very uncertain"}
#: Verb phrase per level: "<exposure> <verb> associated with ...".
_VERBS = {"high": "is", "moderate": "is probably", "low": "may be"}
#: Appreciable effects on the natural scale (GRADE guidelines 6): inside them a CI that
#: includes the null shows little or no difference.
_APPRECIABLE = {"ratio": (0.75, 1.25), "smd": (-0.2, 0.2), "r": (-0.1, 0.1)}
_ADJUSTMENT_WORDS = {
    "unadjusted": "crude (unadjusted)",
    "not-reported": "whose adjustment was not reported",
    "minimally-adjusted": "minimally adjusted",
}


def measure_label(metric: str, families: Sequence[str]) -> str:
    """Say what the pooled number is ("hazard ratio", "risk ratio (hazard and ...)")."""
    kinds = list(dict.fromkeys(families))
    if metric in ("log-risk-ratio", "log-odds-ratio"):
        if len(kinds) == 1:
            return FAMILY_WORDS.get(kinds[0], kinds[0])
        read_as = "risk ratio" if metric == "log-risk-ratio" else "odds ratio"
        names = [FAMILY_WORDS.get(k, k).removesuffix(" ratio") for k in kinds]
        return f"{read_as} ({', '.join(names[:-1])} and {names[-1]} ratios combined)"
    if metric == "smd":
        others = [FAMILY_WORDS.get(k, k) + "s" for k in kinds if k != "mean-difference"]
        converted = f" (converted from {' and '.join(others)})" if others else ""
        return "standardised mean difference" + converted
    return "correlation"


def _scale(metric: str) -> str:
    return (
        "ratio"
        if metric in ("log-risk-ratio", "log-odds-ratio")
        else "smd"
        if metric == "smd"
        else "r"
    )


def _noun(families: Sequence[str], metric: str) -> str:
    """Name the quantity that is higher or lower: risk, odds, or none (continuous)."""
    if _scale(metric) != "ratio":
        return ""
    return "odds" if set(families) == {"odds"} else "risk"


def number(value: float | None) -> str:
    """Format a pooled number: two decimals, three significant digits beyond 0.1-10."""
    if value is None or not math.isfinite(value):
        return "not estimable"
    if value != 0 and not 0.1 <= abs(value) < 10:
        return f"{value:.3g}"
    return f"{value:.2f}"


def above_null_means(orient: str, outcome: str, metric: str = "log-risk-ratio") -> str:
    """Say what an estimate above the null means (for axes and footnotes).

    >>> above_null_means("fewer-ties-harmful", "all-cause mortality")
    'higher risk of all-cause mortality with fewer or weaker ties'
    >>> above_null_means("more-ties-beneficial", "survival", "log-odds-ratio")
    'higher odds of survival with more or stronger ties'
    """
    side, direction = ORIENTATIONS[orient]
    ties = "fewer or weaker ties" if side == "fewer-ties" else "more or stronger ties"
    if _scale(metric) == "ratio":
        noun = "odds" if metric == "log-odds-ratio" else "risk"
        return f"higher {noun} of {outcome} with {ties}"
    return f"{'worse' if direction == 'harmful' else 'better'} {outcome} with {ties}"


def finding(
    analysis_question: Mapping[str, str],
    metric: str,
    orient: str,
    families: Sequence[str],
    natural: Mapping[str, Any] | None,
    certainty: Mapping[str, Any] | None,
    adjustments: Sequence[str],
    studies: int,
    samples: int,
) -> dict[str, Any]:
    """Build the finding sentence of one pooled estimate, as data and as a sentence.

    Parameters
    ----------
    analysis_question : mapping
        The spec's ``question`` (population, exposure, comparator, outcome in words).
    metric, orient : str
        As in the spec.
    families : sequence of str
        Measure family of each included effect.
    natural : mapping or None
        ``{"estimate", "ci", "pi"}`` on the natural scale (ratios back-transformed).
    certainty : mapping or None
        The ``certainty`` section (``level``; ``provisional``).
    adjustments : sequence of str
        Adjustment level of each included effect.
    studies, samples : int
        Studies and independent samples pooled.
    """
    question = dict(analysis_question)
    scale = _scale(metric)
    null = 1.0 if scale == "ratio" else 0.0
    estimate = ci = pi = None
    if natural:
        estimate = natural.get("estimate")
        ci = natural.get("ci")
        pi = natural.get("pi")
    level = (certainty or {}).get("level")
    direction = _direction(scale, estimate, ci)
    crude = sum(a == "unadjusted" for a in adjustments)
    unreported = sum(a == "not-reported" for a in adjustments)
    label = measure_label(metric, families)
    data: dict[str, Any] = {
        "population": question.get("population"),
        "exposure": question.get("exposure"),
        "comparator": question.get("comparator"),
        "outcome": question.get("outcome"),
        "measure": {"ratio": "RR" if metric == "log-risk-ratio" else "OR"}.get(scale, scale)
        if scale == "ratio"
        else ("SMD" if scale == "smd" else "COR"),
        "measure_label": label,
        "estimate": estimate,
        "ci": ci,
        "pi": pi,
        "null": null,
        "direction": direction,
        "above_null_means": above_null_means(orient, str(question.get("outcome")), metric),
        "percent_change": (
            100 * (estimate - 1) if scale == "ratio" and estimate is not None else None
        ),
        "certainty": level,
        "qualifier": QUALIFIERS.get(level, "") if level else None,
        "adjustment_note": adjustment_note(adjustments),
        "crude": crude,
        "not_reported": unreported,
        "studies": studies,
        "samples": samples,
    }
    data["statement"] = statement(data, metric, orient, families, certainty)
    return data


def _direction(scale: str, estimate: float | None, ci: Sequence[float] | None) -> str:
    """Higher / lower (CI on one side of the null), little-or-no-difference, or unclear."""
    if estimate is None or not ci or ci[0] is None or ci[1] is None:
        return "unclear"
    null = 1.0 if scale == "ratio" else 0.0
    if ci[0] > null:
        return "higher"
    if ci[1] < null:
        return "lower"
    low, high = _APPRECIABLE[scale]
    if low < ci[0] and ci[1] < high:
        return "little-or-no-difference"
    return "unclear"


def adjustment_note(adjustments: Sequence[str]) -> str | None:
    """Say when crude, minimally adjusted or unreported-adjustment estimates are included.

    >>> print(adjustment_note(["fully-adjusted", "unadjusted", "not-reported"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    The 3 pooled estimates include 1 crude (unadjusted) estimate and 1 estimate whose
    adjustment was not reported.
    """
    parts = []
    for level in ("unadjusted", "not-reported", "minimally-adjusted"):
        n = sum(a == level for a in adjustments)
        if n:
            words = _ADJUSTMENT_WORDS[level]
            noun = "estimate" if n == 1 else "estimates"
            parts.append(
                f"{n} {noun} {words}" if level == "not-reported" else f"{n} {words} {noun}"
            )
    if not parts:
        return None
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"The {len(adjustments)} pooled estimates include {joined}."


def _relation(
    data: Mapping[str, Any], metric: str, orient: str, families: Sequence[str], side: str
) -> str:
    """Phrase the relation: "a higher risk of <outcome>" or "worse <outcome>"."""
    outcome = str(data["outcome"])
    noun = _noun(families, metric)
    if noun:
        word = "higher" if side == "higher" else "lower"
        return f"a {word} {noun} of {outcome}"
    harmful = ORIENTATIONS[orient][1] == "harmful"
    worse = (side == "higher") == harmful
    return f"{'worse' if worse else 'better'} {outcome}"


def statement(
    data: Mapping[str, Any],
    metric: str,
    orient: str,
    families: Sequence[str],
    certainty: Mapping[str, Any] | None,
) -> str:
    """Write the GRADE informative statement (Santesso et al. 2020) with its numbers."""
    exposure = str(data["exposure"])
    subject = exposure[:1].upper() + exposure[1:]
    outcome = str(data["outcome"])
    level = data["certainty"]
    numbers = _numbers(data)
    if data["estimate"] is None:
        return f"No pooled estimate for {exposure} and {outcome}."
    if level == "very low":
        sentence = (
            f"The evidence is very uncertain about the association between {exposure} and "
            f"{outcome} ({numbers}; very low certainty)."
        )
    else:
        verb = _VERBS.get(str(level), "may be")
        direction = data["direction"]
        tail = f" ({numbers}; {level} certainty)."
        if direction in ("higher", "lower"):
            relation = _relation(data, metric, orient, families, direction)
            sentence = f"{subject} {verb} associated with {relation}{tail}"
        elif direction == "little-or-no-difference":
            sentence = (
                f"{subject} {verb} associated with little or no difference in {outcome}{tail}"
            )
        else:
            side = "higher" if data["estimate"] >= data["null"] else "lower"
            relation = _relation(data, metric, orient, families, side)
            sentence = (
                f"{subject} {verb} associated with {relation}, but the 95% confidence "
                f"interval also includes no association{tail}"
            )
    extra = []
    if data.get("adjustment_note"):
        extra.append(str(data["adjustment_note"]))
    if certainty and certainty.get("provisional"):
        extra.append("Risk of bias has not been assessed, so certainty may be lower.")
    return " ".join([sentence, *extra])


def _numbers(data: Mapping[str, Any]) -> str:
    ci = data.get("ci") or [None, None]
    return (
        f"{data['measure_label']} {number(data['estimate'])}, 95% CI {number(ci[0])} to "
        f"{number(ci[1])}; {data['studies']} stud{'y' if data['studies'] == 1 else 'ies'}"
    )


def plain_language(
    question: Mapping[str, str],
    status: str,
    message: str | None,
    found: Mapping[str, Any] | None,
    certainty: Mapping[str, Any] | None,
    k: int,
    samples: int,
    families: Sequence[str] = (),
) -> dict[str, Any]:
    """Who, exposure, outcome, what we found and how sure we are, for one analysis."""
    who = _sentence(question.get("population", ""))
    exposure = _sentence(
        f"{question.get('exposure', '')}, compared with {question.get('comparator', '')}"
    )
    outcome = _sentence(question.get("outcome", ""))
    if status == "ok" and found and found.get("estimate") is not None:
        what = _what_we_found(found, k, samples)
    elif status == "by-family":
        listed = ", ".join(families) if families else "several outcomes"
        what = (
            f"The studies measure different kinds of outcome ({listed}), so they are not "
            "pooled into one number; each kind of outcome is summarised on its own."
        )
    else:
        what = message or "Nothing was pooled."
    if status == "ok" and certainty:
        how = _how_sure(certainty)
    elif status == "by-family":
        how = (
            "Not rated as a whole: each kind of outcome pooled on its own has its own "
            "rating below; one with too little evidence to pool is not rated."
        )
    else:
        how = "Not rated: there is no pooled estimate to rate."
    text = " ".join(
        [
            f"Who: {who}",
            f"Exposure: {exposure}",
            f"Outcome: {outcome}",
            f"What we found: {what}",
            f"How sure we are: {how}",
        ]
    )
    return {
        "who": who,
        "exposure": exposure,
        "outcome": outcome,
        "what_we_found": what,
        "how_sure": how,
        "text": text,
    }


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _what_we_found(found: Mapping[str, Any], k: int, samples: int) -> str:
    ci = found.get("ci") or [None, None]
    pooled = (
        f"Pooling {k} estimate{'s' * (k != 1)} from {samples} independent "
        f"sample{'s' * (samples != 1)} gave {_article(found['measure_label'])} of "
        f"{number(found['estimate'])} (95% CI {number(ci[0])} to {number(ci[1])})."
    )
    percent = found.get("percent_change")
    direction = found.get("direction")
    outcome = found.get("outcome")
    if percent is not None and found.get("measure_label") != "odds ratio":
        size = f"about {abs(percent):.0f}% {'higher' if percent >= 0 else 'lower'}"
        pooled += f" That is {size} risk of {outcome} with {found.get('exposure')}."
    if direction in ("unclear", "little-or-no-difference"):
        pooled += " The interval includes no association."
    note = found.get("adjustment_note")
    return f"{pooled} {note}" if note else pooled


def _article(words: str) -> str:
    return ("an " if words[:1] in "aeiou" else "a ") + words


def _how_sure(certainty: Mapping[str, Any]) -> str:
    level = certainty["level"]
    reasons = [
        f"rated down for {str(d['label']).lower()}"
        for d in certainty.get("domains", [])
        if d.get("final")
    ] + [
        f"rated up for {str(u['label']).lower()}"
        for u in certainty.get("upgrades", [])
        if u.get("final")
    ]
    said = (
        f"{level[:1].upper()}{level[1:]} certainty ({certainty['symbol']}). "
        f"{certainty['definition']}"
    )
    start = "Observational studies start at low certainty"
    if certainty.get("start") == "high":
        start = "Randomised trials start at high certainty"
    said += f" {start}" + (f"; {', '.join(reasons)}." if reasons else "; nothing was changed.")
    if certainty.get("provisional"):
        said += " Risk of bias has not been assessed yet, so certainty may be lower."
    return said
