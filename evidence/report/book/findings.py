"""The summary of findings: one row and one plain-language sentence per analysis.

The sentence is written from the numbers by fixed rules (never by hand), following the
GRADE guidance on communicating findings (Santesso et al. 2020, J Clin Epidemiol
119:126-135): say the direction only when the confidence interval excludes no effect, say
whether the prediction interval does too, and end with the certainty of the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.report.book.appraisal import certainty_badge
from evidence.report.book.numbers import (
    MISSING,
    finite,
    integer,
    interval,
    metric_words,
    natural,
    number,
    percent,
)
from evidence.report.values import as_float

#: How the two sides of an ``orient`` value read in a sentence.
_SIDES = {"fewer-ties": "fewer or weaker social ties", "more-ties": "more or stronger social ties"}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pooled_of(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the pooled section of a results document (an empty mapping when absent)."""
    pooled = result.get("pooled")
    return pooled if isinstance(pooled, Mapping) else {}


def certainty_level(result: Mapping[str, Any]) -> str:
    """Return the final GRADE certainty level in words, or MISSING."""
    certainty = result.get("certainty")
    if isinstance(certainty, Mapping) and certainty.get("level"):
        return str(certainty["level"])
    return "not rated"


def certainty_reasons(result: Mapping[str, Any]) -> list[str]:
    """Return ``domain (down n): reason`` for every GRADE domain that moved the certainty.

    A domain's ``final`` (else ``proposed``) is the number of levels it downgrades
    (``evidence.analyses.certainty``: 0, 1 or 2); a negative number would be an upgrade.
    """
    certainty = result.get("certainty")
    domains = certainty.get("domains") if isinstance(certainty, Mapping) else None
    reasons = []
    for domain in domains if isinstance(domains, list) else []:
        if not isinstance(domain, Mapping):
            continue
        level = domain.get("final", domain.get("proposed"))
        if finite(level) and float(level) != 0:
            step = "down" if float(level) > 0 else "up"
            text = f"{domain.get('domain', 'domain')} ({step} {abs(int(float(level)))})"
            if domain.get("reason"):
                text += f": {domain['reason']}"
            reasons.append(text)
    return reasons


def certainty_domains(result: Mapping[str, Any]) -> list[str]:
    """Return the names of the GRADE domains that moved the certainty (``risk of bias``)."""
    return [reason.split(" (")[0].replace("-", " ") for reason in certainty_reasons(result)]


def _orientation(orient: Any) -> tuple[str, str] | None:
    """Split ``"fewer-ties-harmful"`` into (side words, 'harmful' or 'beneficial')."""
    text = str(orient or "")
    for side, words in _SIDES.items():
        for effect in ("harmful", "beneficial"):
            if text == f"{side}-{effect}":
                return words, effect
    return None


def _size_words(estimate: float, metric: Any) -> str:
    """Describe a natural-scale estimate: '29% higher' for ratios, the value otherwise."""
    name, abbreviation, null = metric_words(metric)
    if null == 1.0:
        change = (estimate - 1.0) * 100.0
        side = "higher" if change > 0 else "lower"
        what = {"log-odds-ratio": " odds", "log-risk-ratio": " risk"}.get(str(metric), "")
        return f"{abbreviation} {number(estimate)}, {abs(change):.0f}% {side}{what}"
    return f"{abbreviation} {number(estimate)}"


def plain_sentence(result: Mapping[str, Any]) -> str:
    """Write the one-sentence finding of an analysis from its numbers (plain text).

    Rules: (1) not pooled -> say so with the runner's message; (2) the 95% CI excludes the
    null (1 for ratios, 0 otherwise) -> name the direction from ``orient`` (an estimate above
    the null means the orientation's side goes with the harmful or beneficial outcome); the
    side is named by the question's ``exposure`` (and ``comparator``), which the analysis
    schema defines as the side ``orient`` puts above the null, else by the orientation,
    else say the data are compatible with no association; (3) say whether the 95%
    prediction interval also excludes the null; (4) end with the certainty level.
    """
    question = _mapping(result.get("question"))
    outcome = str(question.get("outcome") or result.get("title") or "the outcome")
    found = _mapping(result.get("finding"))
    if found.get("statement") and found.get("certainty") and result.get("status") == "ok":
        return str(found["statement"])  # the runner's sentence (Santesso et al. 2020 wording)
    if result.get("status") == "by-family":
        return by_family_sentence(result)
    if result.get("status") != "ok":
        message = str(result.get("message") or "too few usable effects").rstrip(". ")
        if message.lower().startswith(("too little evidence to pool", "not pooled")):
            return f"{message}."  # the runner's message already says it was not pooled
        return f"Not pooled: {message}."
    numbers = natural(result)
    estimate, ci, pi = numbers["estimate"], numbers["ci"], numbers["pi"]
    _, abbreviation, null = metric_words(result.get("metric"))
    k = pooled_of(result).get("k")
    if estimate is None or ci is None:
        return f"Pooled from {integer(k)} effects, but no confidence interval was reported."
    numbers_text = f"{_size_words(estimate, result.get('metric'))}; 95% CI {interval(ci)}"
    oriented = _orientation(result.get("orient"))
    if ci[0] > null or ci[1] < null:
        above = estimate > null
        if oriented is None:
            direction = f"the pooled {abbreviation} was {'above' if above else 'below'} {null:g}"
        else:
            words, effect = oriented
            exposure, comparator = question.get("exposure"), question.get("comparator")
            if exposure:
                words = str(exposure) + (f", compared with {comparator}," if comparator else "")
            good = (effect == "beneficial") == above
            direction = f"{words} went with {'better' if good else 'worse'} {outcome}"
        sentence = f"Across {integer(k)} effects, {direction} ({numbers_text})"
        if pi is not None:
            excludes = pi[0] > null or pi[1] < null
            sentence += f"; the 95% prediction interval ({interval(pi)}) " + (
                "also excludes no effect"
                if excludes
                else "includes no effect, so a new setting could show none"
            )
    else:
        sentence = (
            f"Across {integer(k)} effects, the data are compatible with no association "
            f"with {outcome} ({numbers_text})"
        )
    return f"{sentence}. Certainty of the evidence: {certainty_level(result)}."


def by_family_sentence(result: Mapping[str, Any]) -> str:
    """Say what an analysis kept apart by outcome found: each pooled family, then the rest."""
    pooled, too_few = [], []
    for family in result.get("by_family") or []:
        if not isinstance(family, Mapping):
            continue
        name = str(family.get("family") or "outcome")
        statement = _mapping(family.get("finding")).get("statement")
        if family.get("status") == "ok" and statement:
            pooled.append(f"{name[:1].upper() + name[1:]}: {statement}")
        else:
            samples = family.get("samples")
            too_few.append(f"{name} ({_count(samples, 'sample')})" if finite(samples) else name)
    message = str(result.get("message") or "No overall estimate.").strip()
    parts = [message.split(". Each kind")[0].rstrip(".") + "."]
    parts += pooled
    if too_few:
        parts.append(f"Too little evidence to pool: {', '.join(too_few)}.")
    return " ".join(parts)


def participants_text(result: Mapping[str, Any]) -> str:
    """Say how many people the included samples hold ("12,067 participants").

    When some samples' analysed size is not known (a subgroup of a larger recorded sample),
    the count is of the others and says so: "at least 5,000 participants (the number
    analysed is not known for 1 of 2 samples)"; with no count, "participants not reported".
    """
    counts = _mapping(result.get("effects"))
    total = counts.get("participants")
    if total is None:
        total = pooled_of(result).get("n_participants")
    unknown = as_float(counts.get("samples_without_n")) or 0
    samples = as_float(counts.get("clusters"))
    if not finite(total):
        return "participants not reported"  # by the records, or not known for a subgroup
    if not unknown:
        return f"{integer(total)} participants"
    of = f" of {integer(samples)}" if samples is not None else ""
    noun = "sample" if (samples if samples is not None else unknown) == 1 else "samples"
    return (
        f"at least {integer(total)} participants (the number analysed is not known for "
        f"{integer(unknown)}{of} {noun})"
    )


def summary_row(result: Mapping[str, Any]) -> dict[str, str]:
    """Return the plain-text cells of one summary-of-findings row.

    Keys: ``question``, ``k``, ``participants``, ``estimate``, ``ci``, ``pi``, ``i2``,
    ``certainty``, ``sentence``. Numbers are on the natural scale.
    """
    pooled = pooled_of(result)
    counts = _mapping(result.get("effects"))
    numbers = natural(result)
    _, abbreviation, _ = metric_words(result.get("metric"))
    domains = certainty_domains(result)
    given = _mapping(result.get("certainty"))
    certainty = certainty_badge(given) if given.get("level") else certainty_level(result)
    if domains:
        certainty += " (rated down for " + ", ".join(domains) + ")"
    participants = pooled.get("n_participants", counts.get("participants"))
    studies = pooled.get("n_studies", counts.get("studies"))
    k = pooled.get("k", counts.get("included"))
    k_text = _count(k, "effect")
    if finite(studies):
        k_text += ", " + _count(studies, "study", "studies")
    clusters = counts.get("clusters")
    n_clusters, n_studies = as_float(clusters), as_float(studies)
    if n_clusters is not None and n_studies is not None and n_clusters < n_studies:
        k_text += " in " + _count(clusters, "independent sample")
    return {
        "question": _question_text(result),
        "k": k_text,
        "participants": integer(participants),
        "people": participants_text(result),
        "estimate": (
            f"{abbreviation} {number(numbers['estimate'])}"
            if numbers["estimate"] is not None
            else MISSING
        ),
        "ci": interval(numbers["ci"]),
        "pi": interval(numbers["pi"]),
        "i2": percent(pooled.get("i2")),
        "certainty": certainty,
        "sentence": plain_sentence(result),
    }


def _count(value: Any, singular: str, plural: str | None = None) -> str:
    """Return ``'1 study'``, ``'3 studies'`` or ``'not reported'``."""
    if not finite(value):
        return f"{singular if plural is None else plural}: {MISSING}"
    word = singular if float(value) == 1 else (plural or singular + "s")
    return f"{integer(value)} {word}"


def _question_text(result: Mapping[str, Any]) -> str:
    """Return the question in words: the title, else ``exposure and outcome`` from the PICO."""
    if result.get("title"):
        return str(result["title"])
    question = result.get("question")
    if isinstance(question, Mapping):
        return f"{question.get('exposure', '')} and {question.get('outcome', '')}".strip()
    return str(result.get("id", ""))
