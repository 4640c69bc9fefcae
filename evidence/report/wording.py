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
    "subgroup.label": "subgroup",
    "effect.subgroup.label": "subgroup",
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


#: Record field names that contributors' notes mention, as a reader reads them. A note
#: such as "higher_means: more-ties reads the exposed side ..." says which way the record
#: points; "follow_up_years is that length in years" names the follow-up field.
_NOTE_FIELDS = {
    "higher_means": "the direction recorded",
    "higher_is": "whether higher is harmful",
    "follow_up_years": "the follow-up in years",
    "source_type": "the kind of source",
    "risk_of_bias": "the risk of bias",
    "age_group": "the age group",
    "tie_types": "the tie types",
    "assume_rare_outcome": "the rare-outcome assumption",
}
_SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")


def note_words(text: Any) -> str:
    """Rewrite record field names inside a contributor's free-text note in words.

    ``higher_means: more-ties`` becomes "the direction recorded (more or stronger ties)";
    other known fields take their words from ``_NOTE_FIELDS``; any other snake-case name
    (a source table's column such as ``r_min``) is shown with spaces. Everything else is
    kept as written.

    >>> note_words("higher_means: fewer-ties reads more criticism as weaker ties")
    'the direction recorded (fewer or weaker ties) reads more criticism as weaker ties'
    >>> note_words("Study length as printed: 9 y; follow_up_years is that length in years.")
    'Study length as printed: 9 y; the follow-up in years is that length in years.'
    """
    result = re.sub(
        r"\bhigher_means: (fewer-ties|more-ties)\b",
        lambda m: f"{_NOTE_FIELDS['higher_means']} ({CODE_WORDS[m.group(1)]})",
        str(text or ""),
    )
    return _SNAKE.sub(lambda m: _NOTE_FIELDS.get(m.group(0), m.group(0).replace("_", " ")), result)


#: Runner and harmonise phrases rewritten for readers, in order (regex, replacement).
_REASON_WORDS: tuple[tuple[str, str], ...] = (
    (
        r"measure (\w[\w-]*) not convertible to ([\w-]+) without the baseline risk "
        r"\(set assume_rare_outcome to accept it\)",
        r"an \1 cannot be put on the \2 scale without the baseline risk (the analysis does "
        r"not assume the outcome is rare)",
    ),
    (
        r"measure b not convertible to ([\w-]+)",
        r"an unstandardised coefficient cannot be put on the \1 scale",
    ),
    (r"measure (\w[\w-]*) not convertible to ([\w-]+)", r"an \1 cannot be put on the \2 scale"),
    (r"no CI or SE reported", "no confidence interval or standard error was reported"),
    (r"excluded by the analysis: ", "excluded by the analysis plan: "),
    (
        r"less adjusted estimate of the same effect \(kept ([^,]+), ([\w-]+)\)",
        r"a less adjusted estimate of the same effect (the \2 one, \1, is used)",
    ),
    (r"\blog-risk-ratio\b", "risk ratio"),
    (r"\blog-odds-ratio\b", "odds ratio"),
    (r"\blog-hazard-ratio\b", "hazard ratio"),
    (r"\bsmd\b", "standardised mean difference"),
    (r"\bfisher-z\b", "correlation"),
    (r"\bfully-adjusted\b", "fully adjusted"),
    (r"\bminimally-adjusted\b", "minimally adjusted"),
    (r"\bnot-reported\b", "adjustment not reported"),
    (r"low-risk-of-bias-only: ", "studies at low risk of bias only: "),
    (r"\bI2\b", "I\u00b2"),
    (r"\bcluster(s?)\b(?!-)", r"independent sample\1"),
)


#: Results-file sections a runner note points to, as the page section a reader sees.
_SECTION_WORDS = {
    "dependence.robust": "Dependent effects",
    "dependence.univariate": "Dependent effects",
}
#: A field path (``exposure.construct``) or a snake-case field (``follow_up_years``).
_PATH_IN_TEXT = re.compile(
    r"\b(?:dependence|exposure|outcome|population|effect|subgroup|source|extraction)"
    r"(?:\.[a-z_]+)+\b|\b[a-z]+(?:_[a-z]+)+\b"
)


def _path_words(match: re.Match[str]) -> str:
    path = match.group(0)
    if path in _SECTION_WORDS:
        return f'"{_SECTION_WORDS[path]}"'
    return field_words(path)


def reason_words(text: Any) -> str:
    """Rewrite a runner message (an exclusion reason, a note) in a reader's words.

    Field paths and snake-case field names become their words (:func:`field_words`).

    >>> reason_words("measure b not convertible to log-odds-ratio")
    'an unstandardised coefficient cannot be put on the odds ratio scale'
    >>> reason_words("meta-regression on follow_up_years: not run")
    'meta-regression on length of follow-up (years): not run'
    """
    result = str(text or "")
    for pattern, replacement in _REASON_WORDS:
        result = re.sub(pattern, replacement, result)
    result = re.sub(
        r"subgroups by ([\w.]+): only one level \(([^)]*)\); not analysed",
        lambda m: (
            f"subgroups by {m.group(1)}: only one level ({code_words(m.group(2))}), "
            "so no comparison"
        ),
        result,
    )
    result = re.sub(
        r"(left out of the test of differences \([^)]*\)): ([\w, -]+)$",
        lambda m: (
            f"{m.group(1)}: "
            + ", ".join(code_words(code.strip()) for code in m.group(2).split(","))
        ),
        result,
    )
    return _PATH_IN_TEXT.sub(_path_words, result)


#: Metric codes as the name of the scale a reader sees.
METRIC_NAMES = {
    "log-risk-ratio": "risk ratio (log scale for pooling)",
    "log-odds-ratio": "odds ratio (log scale for pooling)",
    "log-hazard-ratio": "hazard ratio (log scale for pooling)",
    "smd": "standardised mean difference",
    "fisher-z": "correlation (Fisher's z for pooling)",
    "correlation": "correlation",
}

#: Orientation codes as a sentence part: what an estimate above the null means.
_ABOVE = "an estimate above the null means"
ORIENT_WORDS = {
    "fewer-ties-harmful": f"{_ABOVE} worse health with fewer or weaker ties",
    "more-ties-harmful": f"{_ABOVE} worse health with more ties (or with the exposure)",
    "fewer-ties-beneficial": f"{_ABOVE} better health with fewer or weaker ties",
    "more-ties-beneficial": f"{_ABOVE} better health with more or stronger ties",
}
