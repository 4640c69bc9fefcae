"""Typed, immutable study records.

A :class:`Study` mirrors one ``studies/<id>.yaml`` file field for field (the JSON Schema in
``evidence/schema/study.schema.json`` is the reference for every field). Records are built
by :func:`evidence.records.validate.load_studies` only after validation, so code downstream may rely
on the types declared here. Optional fields are ``None`` (or an empty tuple) when a record
does not give them: a missing author, year, CI or N stays missing.

Dotted paths such as ``"outcome.domain"`` or ``"population.sex"`` (used by analysis
selection filters) resolve with :func:`field_value`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Position:
    """Where a node sits in its source file (1-based line and column)."""

    path: str
    line: int
    column: int


@dataclass(frozen=True)
class Computed:
    """A number of a statistic that is not printed in the quote: which field, and how.

    ``field`` names it as ``value``, ``ci`` (both bounds), ``ci[0]``, ``se``,
    ``table.exposed_total``, ``groups`` (every number in it), ...; ``how`` says how it was
    computed from what the quote prints.
    """

    field: str
    how: str


@dataclass(frozen=True)
class Acknowledgement:
    """A plausibility rule that a true outlier breaks on purpose: its id and why."""

    rule: str
    reason: str


@dataclass(frozen=True)
class Source:
    """Where a number was read: a locator (``"Table 1"``), a URL and a verbatim quote.

    ``citation`` is the bibliography key of a secondary source (a review table) the
    number was copied from, when it was not read from the study's own article.
    ``computed`` lists the statistic's numbers that are computed from the quote rather
    than printed in it.
    """

    locator: str
    quote: str
    url: str | None = None
    citation: str | None = None
    computed: tuple[Computed, ...] = ()


@dataclass(frozen=True)
class Statistic:
    """A reported statistic in one of the supported input forms.

    ``measure`` names what was reported (vocabulary ``measures``: ``HR``, ``RR``, ``OR``,
    ``log-OR``, ``r``, ``SMD``, ``percent-increase``, ...). Which other fields are present
    decides the input form: ratio or estimate with ``ci`` (at ``ci_level``) or ``se``;
    ``se_log`` for a ratio's standard error on the log scale; ``p``; ``n`` for a correlation;
    ``table`` (2x2 counts); ``groups`` (means, SDs and ns); ``t`` or ``f`` with ``n1``/``n2``;
    ``range`` when only a range of estimates was printed.
    """

    measure: str
    value: float | None = None
    ci: tuple[float, float] | None = None
    ci_level: float = 0.95
    se: float | None = None
    se_log: float | None = None
    p: float | None = None
    n: int | None = None
    table: TwoByTwo | None = None
    groups: TwoGroups | None = None
    t: float | None = None
    f: float | None = None
    n1: int | None = None
    n2: int | None = None
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class TwoByTwo:
    """Counts of a 2x2 table: events and totals in the exposed and unexposed groups."""

    exposed_events: int
    exposed_total: int
    unexposed_events: int
    unexposed_total: int


@dataclass(frozen=True)
class TwoGroups:
    """Means, standard deviations and sizes of two groups (exposed first)."""

    exposed_mean: float
    exposed_sd: float
    exposed_n: int
    unexposed_mean: float
    unexposed_sd: float
    unexposed_n: int


@dataclass(frozen=True)
class Exposure:
    """The social-tie exposure and the contrast the statistic compares.

    ``higher_means`` says which side a statistic above its null value (ratio > 1,
    difference or correlation > 0) points to: ``"fewer-ties"`` when the outcome is higher
    or more frequent with fewer/weaker ties, ``"more-ties"`` when with more/stronger ties.
    ``contrast_type`` (vocabulary ``contrast_types``: ``binary``, ``extreme-categories``,
    ``category-vs-reference``, ``per-sd``, ``per-unit``, ``not-stated``) says what kind of
    comparison ``contrast`` describes; ``None`` when the record does not say.
    """

    construct: str
    contrast: str
    higher_means: str
    dimension: str | None = None
    tie_types: tuple[str, ...] = ()
    valence: str | None = None
    contrast_type: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The health outcome; ``higher_is`` is ``"harmful"`` (e.g. death) or ``"beneficial"``."""

    domain: str
    name: str
    higher_is: str
    measurement: str | None = None


@dataclass(frozen=True)
class Subgroup:
    """The subgroup an effect was estimated in (``label`` in words; ``sex`` when by sex)."""

    label: str
    sex: str | None = None


@dataclass(frozen=True)
class Effect:
    """One reported estimate of one exposure-outcome association."""

    id: str
    exposure: Exposure
    outcome: Outcome
    adjustment: str
    statistic: Statistic
    source: Source
    covariates: tuple[str, ...] = ()
    subgroup: Subgroup | None = None
    notes: str | None = None
    acknowledge: tuple[Acknowledgement, ...] = ()
    position: Position | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Population:
    """Who was studied."""

    description: str
    age_group: str | None = None
    sex: str | None = None
    condition: str | None = None
    n: int | None = None


#: ROBINS-E domains in the tool's order (Higgins JPT et al. Environ Int 2024;186:108602).
ROB_DOMAINS = (
    "confounding",
    "exposure-measurement",
    "selection",
    "post-exposure-interventions",
    "missing-data",
    "outcome-measurement",
    "reported-result",
)


@dataclass(frozen=True)
class RobDomain:
    """One risk-of-bias domain: its name (:data:`ROB_DOMAINS`), judgement and support."""

    name: str
    judgement: str
    support: str | None = None


@dataclass(frozen=True)
class RiskOfBias:
    """Risk-of-bias judgement: ``tool`` (e.g. NOS, ROB2), ``judgement``, ``notes``.

    ``domains`` holds the domain-level judgements that were made (ROBINS-E order); a
    domain not listed was not assessed.
    """

    tool: str
    judgement: str
    notes: str | None = None
    domains: tuple[RobDomain, ...] = ()

    def domain(self, name: str) -> str:
        """Return the judgement of one domain, ``"not-assessed"`` when it was not judged."""
        for item in self.domains:
            if item.name == name:
                return item.judgement
        return "not-assessed"


@dataclass(frozen=True)
class Extraction:
    """How the numbers were extracted and how far they are checked.

    ``status``: ``needs-verification``, ``single``, ``double`` or ``verified``;
    ``source_type``: ``abstract``, ``full-text``, ``review-table``, ``conference-abstract``
    or ``secondary-copy``.
    """

    status: str
    source_type: str
    notes: str | None = None


@dataclass(frozen=True)
class Study:
    """One study record (one ``studies/<id>.yaml``).

    ``follow_up_years`` is the record's own, or its ``follow_up`` (printed value and unit,
    ``"57 months"``) converted to years; ``follow_up`` keeps the printed text.
    """

    id: str
    citation: str
    design: str
    population: Population
    risk_of_bias: RiskOfBias
    extraction: Extraction
    effects: tuple[Effect, ...]
    cohort: str | None = None
    doi: str | None = None
    url: str | None = None
    year: int | None = None
    countries: tuple[str, ...] = ()
    follow_up_years: float | None = None
    notes: str | None = None
    title: str | None = None
    authors: tuple[str, ...] = ()
    follow_up: str | None = None
    acknowledge: tuple[Acknowledgement, ...] = ()
    path: str | None = field(default=None, compare=False)

    @property
    def cluster(self) -> str:
        """The sample this study belongs to: its cohort key, or its own id when it has none."""
        return self.cohort or self.id


def field_value(study: Study, effect: Effect, dotted: str) -> Any:
    """Resolve a dotted field path against an effect first, then its study.

    ``"outcome.domain"`` reads the effect; ``"population.sex"`` and ``"design"`` read the
    study; ``"sex"`` gives the effect's subgroup sex when set, else the population's.

    Examples
    --------
    >>> s = Study("x", "x", "prospective-cohort", Population("adults", sex="mixed"),
    ...           RiskOfBias("NOS", "low"), Extraction("single", "abstract"), ())
    >>> e = Effect("e", Exposure("loneliness", "lonely vs not", "fewer-ties"),
    ...            Outcome("mortality", "all-cause mortality", "harmful"), "fully-adjusted",
    ...            Statistic("HR", 1.2, (1.0, 1.44)), Source("abstract", "..."),
    ...            subgroup=Subgroup("women", "female"))
    >>> field_value(s, e, "outcome.domain"), field_value(s, e, "sex")
    ('mortality', 'female')
    """
    if dotted == "sex":
        if effect.subgroup is not None and effect.subgroup.sex:
            return effect.subgroup.sex
        return study.population.sex
    for root in (effect, study):
        value: Any = root
        for part in dotted.split("."):
            if value is None or not hasattr(value, part):
                value = _MISSING
                break
            value = getattr(value, part)
        if value is not _MISSING:
            return value
    raise KeyError(f"no field {dotted!r} on a study record or its effects")


_MISSING = object()
