"""Reader-facing words shared by the figures and the site: one place for every label.

Results files and specs use field paths and codes (``exposure.construct``,
``follow_up_years``, ``insufficient-evidence``, ``fewer-ties-harmful``); a reader is shown
words. :func:`field_words` names a spec field, :func:`code_words` a vocabulary code,
:func:`status_words` an analysis status, and :func:`direction_labels` says what each side of
a forest plot's axis means ("higher risk of all-cause mortality with fewer ties").

Examples
--------
>>> field_words("exposure.construct"), field_words("follow_up_years")
('kind of social tie measure', 'length of follow-up (years)')
>>> direction_labels("log-risk-ratio", "fewer-ties-harmful", "death")
('lower risk of death with fewer ties', 'higher risk of death with fewer ties')
"""

from __future__ import annotations

import re
from typing import Any

#: Spec and record field paths as a reader reads them (subgroups, moderators, selection).
FIELD_WORDS = {
    "exposure.construct": "kind of social tie measure",
    "exposure.dimension": "dimension of social ties (structural, functional, quality)",
    "exposure.tie_types": "type of tie",
    "exposure.valence": "supportive or strained ties",
    "exposure.higher_means": "direction of the reported statistic",
    "outcome.domain": "outcome area",
    "outcome.name": "outcome",
    "outcome.higher_is": "whether a higher outcome is harmful",
    "population.age_group": "age group",
    "population.sex": "sex",
    "population.condition": "health condition of the participants",
    "population.n": "number of participants",
    "follow_up_years": "length of follow-up (years)",
    "year": "publication year",
    "design": "study design",
    "cohort": "cohort",
    "countries": "country",
    "adjustment": "adjustment for confounders",
    "risk_of_bias": "risk of bias",
    "risk_of_bias.judgement": "risk of bias",
    "sex": "sex",
    "subgroup.sex": "sex",
    "source.url": "source",
    "source.citation": "review the numbers were copied from",
    "measure": "reported measure",
}

#: Vocabulary codes as words (adjustment levels, designs, dependence rules, statuses).
CODE_WORDS = {
    "unadjusted": "unadjusted (crude)",
    "minimally-adjusted": "minimally adjusted (e.g. age and sex)",
    "fully-adjusted": "fully adjusted",
    "not-reported": "adjustment not reported",
    "not-assessed": "not assessed",
    "needs-verification": "not yet checked against the full text",
    "verified": "checked against the full text",
    "prospective-cohort": "prospective cohort",
    "retrospective-cohort": "retrospective cohort",
    "case-control": "case-control",
    "cross-sectional": "cross-sectional",
    "rct": "randomised trial",
    "meta-analysis": "meta-analysis",
    "older-adult": "older adults",
    "adult": "adults",
    "child": "children",
    "adolescent": "adolescents",
    "mixed": "women and men",
    "male": "men",
    "female": "women",
    "fewer-ties": "fewer or weaker ties",
    "more-ties": "more or stronger ties",
    "ok": "pooled",
    "insufficient-evidence": "not pooled: too little evidence",
}

#: An analysis status as a reader reads it.
STATUS_WORDS = {
    "ok": "pooled",
    "insufficient-evidence": "not pooled (too little evidence)",
}

_SIDES = {"fewer-ties": "fewer ties", "more-ties": "more ties"}
_RATIO_NOUNS = {
    "log-risk-ratio": "risk",
    "log-hazard-ratio": "risk",
    "log-odds-ratio": "odds",
    "log-ratio-of-means": "mean",
}
_FIELD_PATH = re.compile(r"^[a-z_]+(\.[a-z_]+)+$|^[a-z]+_[a-z_]+$")


def field_words(field: Any) -> str:
    """Name a spec field in words (``exposure.construct`` -> kind of social tie measure).

    An unknown dotted or snake-case path becomes its last part with spaces
    (``population.smoking_status`` -> ``smoking status``); anything else is returned as is.
    """
    text = str(field or "")
    if text in FIELD_WORDS:
        return FIELD_WORDS[text]
    if _FIELD_PATH.match(text):
        return text.rsplit(".", 1)[-1].replace("_", " ")
    return text


def code_words(code: Any) -> str:
    """Say a vocabulary code in words (``fully-adjusted`` -> fully adjusted); None -> ''."""
    if code is None:
        return ""
    text = str(code)
    return CODE_WORDS.get(text, text.replace("-", " ") if re.fullmatch(r"[a-z-]+", text) else text)


def status_words(status: Any) -> str:
    """Say an analysis status in words (``insufficient-evidence`` -> not pooled ...)."""
    return STATUS_WORDS.get(str(status), code_words(status))


def orientation_parts(orient: Any) -> tuple[str, str] | None:
    """Split ``"fewer-ties-harmful"`` into (``"fewer ties"``, ``"harmful"``), else None."""
    text = str(orient or "")
    for side, words in _SIDES.items():
        for effect in ("harmful", "beneficial"):
            if text == f"{side}-{effect}":
                return words, effect
    return None


def direction_labels(metric: Any, orient: Any, outcome: Any) -> tuple[str, str] | None:
    """Say what the left and the right of the null line mean, as (left, right).

    The right side is the one ``orient`` puts above the null. For ratios, the outcome is
    read as the event the ratio counts (death, disease, or survival when the orientation
    is "beneficial"): above 1 is a higher risk (odds) of it with the oriented side of
    ties. For differences and correlations the words are "worse" and "better". None when
    the orientation is not one of the four known values.
    """
    parts = orientation_parts(orient)
    if parts is None:
        return None
    side, effect = parts
    what = str(outcome or "").strip() or "the outcome"
    noun = _RATIO_NOUNS.get(str(metric))
    if noun is not None:
        return (f"lower {noun} of {what} with {side}", f"higher {noun} of {what} with {side}")
    worse, better = f"worse {what} with {side}", f"better {what} with {side}"
    return (better, worse) if effect == "harmful" else (worse, better)
