"""Rules a single study record must satisfy beyond its JSON Schema.

Each rule has a stable id (listed in :data:`RULES`) and points at the offending node. Rules
read the plain data built by :func:`evidence.records.yamlio.load_yaml` defensively: a value of the
wrong type was already reported by the schema check, so here it is skipped, never trusted.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.errors import Problem, Severity
from evidence.records.countries import country_hint, country_table
from evidence.records.quotes import (
    covered_by,
    field_name,
    printed_numbers,
    statistic_numbers,
)
from evidence.records.units import follow_up_in_years
from evidence.records.vocabulary import Vocabulary, matching_nodes
from evidence.records.yamlio import LoadedYaml, PathKey, did_you_mean, dotted

#: Rule ids checked here, with what each one means.
RULES = {
    "id-mismatch": "the record's id differs from its file name",
    "schema-comment": "the first line does not point editors at the schema (warning)",
    "unknown-term": "a term that is not in the controlled vocabulary",
    "duplicate-effect-id": "two effects of one study share an id",
    "year-range": "year before 1800 or in the future",
    "follow-up-range": "follow-up of zero or fewer years",
    "statistic-form": "the statistic's fields do not form an input form its measure accepts",
    "ci-order": "confidence limits in the wrong order",
    "value-outside-ci": "the estimate lies outside its confidence interval",
    "ratio-positive": "a ratio, or its confidence limit, of zero or below",
    "ci-asymmetric": "a ratio's CI is far from symmetric on the log scale: a likely typo (warning)",
    "se-positive": "a standard error of zero or below",
    "p-range": "a p-value outside (0, 1]",
    "ci-level": "a CI level outside (0, 1)",
    "correlation-range": "a correlation outside [-1, 1]",
    "percent-range": "a percentage change beyond -100%",
    "range-order": "a range of estimates in the wrong order",
    "n-too-small": "a sample size below 2",
    "negative-count": "a negative count",
    "events-exceed-total": "more events than people in a group",
    "sd-positive": "a standard deviation of zero or below",
    "number-not-in-quote": "a number of the statistic that its source.quote does not print",
    "computed-field": "source.computed names a field the statistic does not give",
    "computed-unneeded": "source.computed declares a number the quote prints after all (warning)",
    "ratio-implausible": "a ratio or its CI bound above 20 or below 0.05: a percentage or a "
    "typo? (acknowledge a true outlier)",
    "percent-looks-like-ratio": "a percentage change between 0 and 5 not printed as a "
    "percentage: a ratio typed as a percent? (acknowledge a true one)",
    "ci-too-narrow": "a CI narrower than the sample size allows: a typo in the CI or in n? "
    "(acknowledge a true one)",
    "se-implausible": "a standard error larger than the measure's scale allows (acknowledge "
    "a true one)",
    "follow-up-implausible": "follow-up over 80 years (acknowledge a true one)",
    "n-implausible": "a sample size over 10 million (acknowledge a true one)",
    "acknowledge-unused": "an acknowledged plausibility rule that no number breaks (warning)",
    "follow-up-both": "follow_up and follow_up_years both given",
    "follow-up-unit": "follow_up_years equals a follow-up printed in months or weeks (warning)",
    "country-code": "a two-letter country code that ISO 3166-1 does not define",
    "table-empty-group": "a 2x2 table with a group of no participants (a total of 0)",
    "table-double-zero": "a 2x2 table with no events (or only events) in both groups: left "
    "out of analyses (warning)",
    "too-many-effects": "a record with more than 100 effects (a table, not a study's report)",
}

#: Most effects one record may hold. The largest shipped record has 10; a record of
#: hundreds is a machine-generated table, and the analyses and site grow with the number
#: of effects (each analysis pools at most ``MAX_EFFECTS_PER_ANALYSIS`` of the runner).
MAX_EFFECTS_PER_RECORD = 100

#: Rules a record may acknowledge (``acknowledge: [{rule, reason}]``) for a true outlier.
PLAUSIBILITY_RULES = (
    "ratio-implausible",
    "percent-looks-like-ratio",
    "ci-too-narrow",
    "se-implausible",
    "follow-up-implausible",
    "n-implausible",
)

#: Bounds of the plausibility rules (Issue 12): ratios, percentages, follow-up, sizes.
RATIO_RANGE = (0.05, 20.0)
PERCENT_AS_RATIO = 5.0
MAX_FOLLOW_UP_YEARS = 80.0
MAX_N = 10_000_000
#: Smallest plausible SE x sqrt(n) of a log ratio (HR/RR/OR), of Fisher's z and of an SMD.
#: For two equal groups and a binary exposure the floor is 2 for a log HR (1/d1 + 1/d2
#: with d1 + d2 <= n events), 4 for a log OR (16/n) and 2 for an SMD (4/n); a
#: per-standard-deviation exposure halves the log-HR floor. Half of those floors (and 1/2
#: for z, whose SE is 1/sqrt(n - 3)) leave room for every ordinary design.
MIN_SE_ROOT_N = {"ratio": 0.5, "correlation": 0.5, "SMD": 1.0}
#: Largest plausible SE on each scale (a 95% CI wider than exp(+-7.8) for a log ratio).
MAX_SE = {"log-ratio": 2.0, "ratio": 2.0, "correlation": 0.5, "SMD": 2.0, "beta": 1.0}

SCHEMA_COMMENT = "# yaml-language-server: $schema="
_TABLE_MEASURES = ("OR", "RR", "RD")
_GROUP_MEASURES = ("MD", "SMD", "ROM")
_TEST_MEASURES = ("SMD",)
_ASYMMETRY_FACTOR = 2.0


class RecordChecker:
    """Collects rule problems for one loaded record."""

    def __init__(
        self,
        loaded: LoadedYaml,
        vocabulary: Vocabulary,
        vocabulary_fields: dict[tuple[str, ...], str],
        today: datetime.date,
    ):
        self.loaded = loaded
        self.vocabulary = vocabulary
        self.vocabulary_fields = vocabulary_fields
        self.today = today
        self.problems: list[Problem] = []
        # acknowledged plausibility rules in force: rule -> path of the acknowledge entry
        self.scope: dict[str, PathKey] = {}
        self.used: set[PathKey] = set()

    def report(
        self,
        path: PathKey,
        message: str,
        rule: str,
        severity: Severity = "error",
        key: bool = False,
    ) -> None:
        """Add a problem at the node at ``path``."""
        line, column = self.loaded.positions.of(path, key=key)
        self.problems.append(Problem(self.loaded.path, line, column, message, rule, severity))

    def flag(self, path: PathKey, message: str, rule: str) -> None:
        """Report a plausibility rule unless the record acknowledges it for this node."""
        if rule in self.scope:
            self.used.add(self.scope[rule])
            return
        self.report(
            path,
            f"{message}; if the number is right, acknowledge it in the record: "
            f"acknowledge: [{{rule: {rule}, reason: <where the source confirms it>}}]",
            rule,
        )

    def acknowledgements(self, path: PathKey, entries: Any) -> dict[str, PathKey]:
        """Return the rules acknowledged by an ``acknowledge`` list, with each entry's path."""
        found: dict[str, PathKey] = {}
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("rule"), str):
                found.setdefault(entry["rule"], (*path, index))
        return found

    def run(self) -> list[Problem]:
        """Apply every rule to the record; return the problems found."""
        data = self.loaded.data
        if not isinstance(data, dict):
            return []
        study_scope = self.acknowledgements(("acknowledge",), data.get("acknowledge"))
        self.scope = dict(study_scope)
        self.check_header()
        self.check_id(data)
        self.check_terms(data)
        self.check_countries(data)
        self.check_study_numbers(data)
        effects = data.get("effects")
        if isinstance(effects, list) and len(effects) > MAX_EFFECTS_PER_RECORD:
            self.report(
                ("effects",),
                f"the record has {len(effects):,} effects, more than the "
                f"{MAX_EFFECTS_PER_RECORD} one record may hold; keep the effects the "
                "review's analyses need (one per exposure contrast, outcome and adjustment), "
                "or split a pooled report into one record per study",
                "too-many-effects",
                key=True,
            )
        population = data.get("population")
        population_n = _integer(population.get("n")) if isinstance(population, dict) else None
        seen: dict[str, int] = {}
        declared = [study_scope]
        for index, effect in _effects(data):
            effect_id = effect.get("id")
            if isinstance(effect_id, str):
                if effect_id in seen:
                    self.report(
                        ("effects", index, "id"),
                        f"effect id '{effect_id}' is already used by effects[{seen[effect_id]}]",
                        "duplicate-effect-id",
                    )
                else:
                    seen[effect_id] = index
            statistic = effect.get("statistic")
            effect_scope = self.acknowledgements(
                ("effects", index, "acknowledge"), effect.get("acknowledge")
            )
            declared.append(effect_scope)
            self.scope = {**study_scope, **effect_scope}
            if isinstance(statistic, dict):
                source = effect.get("source")
                StatisticChecker(
                    self,
                    ("effects", index, "statistic"),
                    statistic,
                    source if isinstance(source, dict) else {},
                    population_n,
                ).run()
        self.scope = {}
        for scope in declared:
            for rule, where in scope.items():
                if where not in self.used:
                    self.report(
                        where,
                        f"acknowledges {rule}, but no number here breaks that rule; remove "
                        "the entry",
                        "acknowledge-unused",
                        "warning",
                    )
        return self.problems

    def check_header(self) -> None:
        """Warn when the first line does not point editors at the schema."""
        first = self.loaded.first_line.rstrip()
        if not (first.startswith(SCHEMA_COMMENT) and first.endswith("study.schema.json")):
            self.problems.append(
                Problem(
                    self.loaded.path,
                    1,
                    1,
                    "first line should be '# yaml-language-server: "
                    "$schema=../evidence/schema/study.schema.json' so editors check the record",
                    "schema-comment",
                    "warning",
                )
            )

    def check_id(self, data: dict[str, Any]) -> None:
        """Check that the id equals the file stem (``id-mismatch``)."""
        record_id = data.get("id")
        stem = Path(self.loaded.path).stem
        if isinstance(record_id, str) and record_id != stem:
            self.report(
                ("id",),
                f"id '{record_id}' must equal the file name '{stem}' "
                f"(rename the file or set id: {stem})",
                "id-mismatch",
            )

    def check_terms(self, data: dict[str, Any]) -> None:
        """Check that vocabulary-controlled fields hold listed terms (``unknown-term``).

        A term written out in words (``hazard ratio``) or under another name (``relative
        risk``) is answered with the term it stands for, found among the terms'
        descriptions and synonyms; only a word that matches nothing is invited into the
        vocabulary.
        """
        for pattern, name in self.vocabulary_fields.items():
            terms = self.vocabulary.terms(name)
            for path, value in matching_nodes(data, pattern):
                if isinstance(value, str) and value not in terms:
                    term = self.vocabulary.suggest(name, value)
                    if term is not None:
                        hint = f"; did you mean '{term}'? ({term}: {terms[term]})"
                    else:
                        hint = (
                            f"{did_you_mean(value, terms)}; if no listed term fits, add one "
                            "to evidence/schema/vocabulary.yaml with a one-line description"
                        )
                    self.report(
                        path,
                        f"{dotted(path)}: '{value}' is not a term of the vocabulary '{name}'{hint}",
                        "unknown-term",
                    )

    def check_countries(self, data: dict[str, Any]) -> None:
        """Check that each two-letter code is an ISO 3166-1 alpha-2 code (``country-code``)."""
        countries = data.get("countries")
        table = country_table()
        for index, code in enumerate(countries if isinstance(countries, list) else []):
            if isinstance(code, str) and re.fullmatch("[A-Z]{2}", code) and code not in table:
                self.report(
                    ("countries", index),
                    f"countries[{index}]: '{code}' is not an ISO 3166-1 alpha-2 country "
                    f"code{country_hint(code) or ' (see evidence/data/iso3166.tsv)'}",
                    "country-code",
                )

    def check_study_numbers(self, data: dict[str, Any]) -> None:
        """Check year, follow-up and population size."""
        year = _integer(data.get("year"))
        if year is not None and not 1800 <= year <= self.today.year:
            self.report(("year",), f"year {year} is outside 1800-{self.today.year}", "year-range")
        self.check_follow_up(data)
        population = data.get("population")
        if isinstance(population, dict):
            self.check_n(("population", "n"), population.get("n"))

    def check_follow_up(self, data: dict[str, Any]) -> None:
        """Check ``follow_up_years`` / ``follow_up``: one of them, above 0, at most 80 years."""
        years = _number(data.get("follow_up_years"))
        text = data.get("follow_up")
        where: PathKey = ("follow_up_years",)
        if isinstance(text, str):
            if years is not None:
                self.report(
                    ("follow_up",),
                    "give follow_up (the printed value with its unit) or follow_up_years, not both",
                    "follow-up-both",
                )
                return
            years, where = follow_up_in_years(text), ("follow_up",)
        if years is None:
            return
        shown = f"{dotted(where)} {text if where == ('follow_up',) else format(years, 'g')}"
        if years <= 0:
            self.report(where, f"{shown} must be above 0", "follow-up-range")
        elif years > MAX_FOLLOW_UP_YEARS:
            self.flag(
                where,
                f"{shown} is over {MAX_FOLLOW_UP_YEARS:g} years: a follow-up in months or "
                "weeks typed as years? (write follow_up: 57 months)",
                "follow-up-implausible",
            )
        if where == ("follow_up_years",):
            self.check_follow_up_unit(data, years)

    def check_follow_up_unit(self, data: dict[str, Any], years: float) -> None:
        """Warn when ``follow_up_years`` is a number the record prints in months or weeks."""
        texts = [data.get("notes")]
        for _, effect in _effects(data):
            source = effect.get("source")
            texts += [
                effect.get("notes"),
                source.get("quote") if isinstance(source, dict) else None,
            ]
        number = format(years, "g")
        unit = re.compile(rf"(?<![\d.]){re.escape(number)}[\s-]*(months?|weeks?|days?)\b")
        for text in texts:
            match = unit.search(text) if isinstance(text, str) else None
            if match is not None:
                self.report(
                    ("follow_up_years",),
                    f"follow_up_years is {number}, but the record prints '{match.group(0)}'; "
                    f"write follow_up: {number} {match.group(1).rstrip('s')}s (converted to "
                    "years for analyses)",
                    "follow-up-unit",
                    "warning",
                )
                return

    def check_n(self, path: PathKey, value: Any) -> None:
        """Check that a sample size is at least 2 and at most 10 million."""
        n = _integer(value)
        if n is not None and n < 2:
            self.report(
                path, f"{dotted(path)} is {n}; a sample size must be at least 2", "n-too-small"
            )
        elif n is not None and n > MAX_N:
            self.flag(
                path,
                f"{dotted(path)} is {n:,}, over {MAX_N:,}: a typo (an extra digit, a "
                "population count instead of the sample)?",
                "n-implausible",
            )


class StatisticChecker:
    """Rules for one ``statistic`` mapping."""

    def __init__(
        self,
        parent: RecordChecker,
        path: PathKey,
        statistic: dict[str, Any],
        source: dict[str, Any] | None = None,
        population_n: int | None = None,
    ):
        self.parent = parent
        self.path = path
        self.statistic = statistic
        self.source = source or {}
        self.population_n = population_n
        measure = statistic.get("measure")
        self.measure = measure if isinstance(measure, str) else ""
        self.kind = parent.vocabulary.measure_kinds.get(self.measure)

    def report(
        self,
        field: str | tuple[str | int, ...],
        message: str,
        rule: str,
        severity: Severity = "error",
    ) -> None:
        """Add a problem at a field of this statistic."""
        parts = (field,) if isinstance(field, str) else field
        self.parent.report((*self.path, *parts), message, rule, severity)

    def flag(self, field: str | tuple[str | int, ...], message: str, rule: str) -> None:
        """Report a plausibility rule at a field unless the record acknowledges it."""
        parts = (field,) if isinstance(field, str) else field
        self.parent.flag((*self.path, *parts), message, rule)

    def run(self) -> None:
        """Check the input form, then every number in it."""
        self.check_form()
        self.check_interval()
        self.check_ratio()
        self.check_scalars()
        self.check_table()
        self.check_groups()
        self.check_quote()
        self.check_plausible()

    def check_quote(self) -> None:
        """Every number of the statistic is printed in ``source.quote`` (or declared computed).

        See :mod:`evidence.records.quotes` for the printed forms recognised.
        """
        quote = self.source.get("quote")
        if not isinstance(quote, str):
            return
        source_path = (*self.path[:-1], "source")
        computed = self.source.get("computed")
        declared: dict[str, int] = {}
        for index, entry in enumerate(computed if isinstance(computed, list) else []):
            if isinstance(entry, dict) and isinstance(entry.get("field"), str):
                declared.setdefault(entry["field"], index)
        printed = printed_numbers(quote)
        needed: set[int] = set()
        covered: set[int] = set()
        numbers = list(statistic_numbers(self.statistic))
        near = next(
            (quote.find(_show(n)) for _, n in numbers if printed.has(n) and _show(n) in quote), 0
        )
        for path, number in numbers:
            name = field_name(path)
            entry = covered_by(name, declared)
            shown_in_quote = printed.has(number)
            if entry is not None:
                covered.add(entry)
                if not shown_in_quote:
                    needed.add(entry)
            elif not shown_in_quote:
                self.report(
                    path,
                    f"{dotted((*self.path, *path))}: {_show(number)} is not printed in the "
                    f'quote "{_preview(quote, near)}"; copy the number exactly as printed, or, if '
                    f"you computed it from the quote, say how: source.computed: "
                    f"[{{field: {name}, how: ...}}]",
                    "number-not-in-quote",
                )
        for name, index in declared.items():
            where = (*source_path, "computed", index, "field")
            if index not in covered:
                self.parent.report(
                    where,
                    f"source.computed names '{name}', which this statistic does not give",
                    "computed-field",
                )
            elif index not in needed:
                self.parent.report(
                    where,
                    f"'{name}' is printed in the quote as it is; remove it from source.computed",
                    "computed-unneeded",
                    "warning",
                )

    def check_plausible(self) -> None:
        """Plausibility of ratios, percentages, CI width and SE (acknowledgeable)."""
        s, m = self.statistic, self.measure
        if self.kind == "ratio":
            low, high = RATIO_RANGE
            for where, number in _numbers_of(s, ("value", "ci", "range")):
                if number > 0 and not low <= number <= high:
                    side = f"above {high:g}" if number > high else f"below {low:g}"
                    guess = f" ({number:g} for {number / 100:g})" if 50 < number < 1000 else ""
                    self.flag(
                        where,
                        f"{m} {number:g} is {side}: ratios this far from 1 are rare, and a "
                        f"percentage typed as a ratio{guess} or a slipped decimal point looks "
                        "like this; record the ratio as printed",
                        "ratio-implausible",
                    )
                    break
        value = _number(s.get("value"))
        if self.kind == "percent" and value is not None and 0 < abs(value) < PERCENT_AS_RATIO:
            quote = self.source.get("quote")
            if not (isinstance(quote, str) and _printed_as_percent(value, quote)):
                self.flag(
                    "value",
                    f"{m} {value:g} is between 0 and {PERCENT_AS_RATIO:g} and the quote does "
                    f"not print it as a percentage ({value:g}%): is it a ratio (HR, RR or OR "
                    f"{value:g})? Then give that measure",
                    "percent-looks-like-ratio",
                )
        self.check_precision()

    def check_precision(self) -> None:
        """Check for a CI narrower than n allows and an SE too large for the scale."""
        s = self.statistic
        scale = self.measure if self.measure in ("SMD", "beta") else self.kind
        se, where = _standard_error(s, self.kind)
        if se is not None and scale in MAX_SE and se > MAX_SE[scale]:
            self.flag(
                where,
                f"{dotted((*self.path, where))} {_show(_number(s.get(where)) or se)} gives a "
                f"standard error of {se:.3g}, more than {MAX_SE[scale]:g} on the "
                f"{self.measure} scale: a variance, an SD or an SE on another scale?",
                "se-implausible",
            )
        n = _integer(s.get("n")) or self.population_n
        floor = MIN_SE_ROOT_N.get(scale or "")
        ci = _pair(s.get("ci"))
        if n is None or floor is None or ci is None or se is None or where != "ci" or n < 4:
            return
        root_n = math.sqrt(n - 3) if scale == "correlation" else math.sqrt(n)
        if se * root_n < floor:
            self.flag(
                "ci",
                f"ci [{ci[0]:g}, {ci[1]:g}] is narrower than n = {n:,} allows (a standard "
                f"error of {se:.3g} on the analysis scale; at least {floor / root_n:.3g} "
                "expected): check the CI and the sample size for a typo",
                "ci-too-narrow",
            )

    def has(self, name: str) -> bool:
        """Tell whether the statistic gives field ``name``."""
        return self.statistic.get(name) is not None

    def check_form(self) -> None:
        """Check that the fields given form an input form the measure accepts."""
        if self.kind is None:  # unknown measure: reported as unknown-term already
            return
        m, form = self.measure, "statistic-form"
        if self.has("table") and m not in _TABLE_MEASURES:
            self.report("table", f"a 2x2 table gives {', '.join(_TABLE_MEASURES)}, not '{m}'", form)
        if self.has("groups") and m not in _GROUP_MEASURES:
            self.report(
                "groups", f"group means and SDs give {', '.join(_GROUP_MEASURES)}, not '{m}'", form
            )
        for test in ("t", "f"):
            if self.has(test):
                if m not in _TEST_MEASURES:
                    self.report(test, f"a {test} statistic converts to SMD, not '{m}'", form)
                if not (self.has("n1") and self.has("n2")):
                    self.report(test, f"a {test} statistic needs n1 and n2 (the group sizes)", form)
        if self.has("t") and self.has("f"):
            self.report("f", "give t or f, not both", form)
        if (self.has("n1") or self.has("n2")) and not (self.has("t") or self.has("f")):
            self.report("n1" if self.has("n1") else "n2", "n1 and n2 go with t or f", form)
        if self.has("range") and self.has("value"):
            self.report(
                "range",
                "range is for when no single value was printed; remove value or range",
                form,
            )
        if self.has("se_log") and self.kind != "ratio":
            self.report(
                "se_log", f"se_log is the SE of a log ratio; '{m}' is not a ratio, use se", form
            )
        if self.has("se") and self.kind == "ratio":
            self.report("se", f"for a ratio ('{m}') give se_log, the SE of its natural log", form)
        if (
            self.kind == "correlation"
            and self.has("value")
            and not (self.has("n") or self.has("se"))
        ):
            self.report("measure", "a correlation needs n or se to be weighted", form)
        if not self.has("value") and not any(
            self.has(k) for k in ("table", "groups", "t", "f", "range")
        ):
            self.report(
                "measure",
                f"statistic '{m}' needs a value (or table, groups, t/f with n1 and n2, or range)",
                form,
            )

    def check_interval(self) -> None:
        """Check lower <= value <= upper, and the order of a range."""
        ci = _pair(self.statistic.get("ci"))
        value = _number(self.statistic.get("value"))
        if ci is not None:
            low, high = ci
            if low > high:
                self.report(
                    "ci", f"ci [{low:g}, {high:g}] is reversed; expected lower <= upper", "ci-order"
                )
            elif value is not None and not low <= value <= high:
                self.report(
                    "value",
                    f"value {value:g} lies outside its ci [{low:g}, {high:g}]",
                    "value-outside-ci",
                )
        spread = _pair(self.statistic.get("range"))
        if spread is not None and spread[0] > spread[1]:
            self.report("range", f"range [{spread[0]:g}, {spread[1]:g}] is reversed", "range-order")

    def check_ratio(self) -> None:
        r"""Check a ratio: positive, and a CI roughly symmetric on the log scale.

        A ratio's Wald CI is symmetric in :math:`\log`: with
        :math:`b = \log v - \log l` and :math:`a = \log u - \log v`, a printed CI whose
        larger side exceeds twice the smaller (and whose difference is beyond what rounding
        the printed digits explains, :math:`\sum_x \tfrac12 10^{-d_x} / x`) is flagged as a
        likely typo (``ci-asymmetric``, a warning). See Altman & Bland (2011), "How to
        obtain the confidence interval from a P value", BMJ 343:d2090.
        """
        if self.kind != "ratio":
            return
        for field, number in _numbers_of(self.statistic, ("value", "ci", "range")):
            if number <= 0:
                self.report(
                    field,
                    f"a ratio ('{self.measure}') must be above 0, found {number:g}",
                    "ratio-positive",
                )
        value, ci = _number(self.statistic.get("value")), _pair(self.statistic.get("ci"))
        if value is None or ci is None or not 0 < ci[0] <= value <= ci[1]:
            return
        below, above = math.log(value) - math.log(ci[0]), math.log(ci[1]) - math.log(value)
        slack = sum(_rounding(x) / x for x in (ci[0], value, value, ci[1]))
        small, large = sorted((below, above))
        if large - small > slack and large > _ASYMMETRY_FACTOR * max(small, 1e-12):
            self.report(
                "ci",
                f"ci [{ci[0]:g}, {ci[1]:g}] around {value:g} is lopsided on the log "
                f"scale ({below:.3f} below, {above:.3f} above); check for a typo",
                "ci-asymmetric",
                "warning",
            )

    def check_scalars(self) -> None:
        """Check SEs, p, CI level, correlation and percentage bounds, and sizes."""
        s = self.statistic
        for field in ("se", "se_log"):
            se = _number(s.get(field))
            if se is not None and se <= 0:
                self.report(field, f"{field} must be above 0, found {se:g}", "se-positive")
        p = _number(s.get("p"))
        if p is not None and not 0 < p <= 1:
            self.report("p", f"p must be in (0, 1], found {p:g}", "p-range")
        level = _number(s.get("ci_level"))
        if level is not None and not 0 < level < 1:
            hint = f" (write {level / 100:g} for {level:g}%)" if 1 < level < 100 else ""
            self.report(
                "ci_level",
                f"ci_level must be a fraction in (0, 1), found {level:g}{hint}",
                "ci-level",
            )
        if self.kind == "correlation":
            for where, number in _numbers_of(s, ("value", "ci", "range")):
                if not -1 <= number <= 1:
                    self.report(
                        where,
                        f"a correlation must be in [-1, 1], found {number:g}",
                        "correlation-range",
                    )
        if self.kind == "percent":
            for where, number in _numbers_of(s, ("value", "ci", "range")):
                change = -number if self.measure == "percent-decrease" else number
                if change < -100:
                    self.report(where, f"a change of {change:g}% is below -100%", "percent-range")
        for field in ("n", "n1", "n2"):
            self.parent.check_n((*self.path, field), s.get(field))

    def check_table(self) -> None:
        """Check 2x2 counts: non-negative, events <= total, no empty group, not double-zero."""
        table = self.statistic.get("table")
        if not isinstance(table, dict):
            return
        counts = {k: _integer(table.get(k)) for k in _TABLE_FIELDS}
        for group in ("exposed", "unexposed"):
            if counts[f"{group}_total"] == 0:
                self.report(
                    ("table", f"{group}_total"),
                    f"{group}_total is 0: a 2x2 table needs people in both groups (check "
                    "the counts against the source)",
                    "table-empty-group",
                )
            total = counts[f"{group}_total"]
            if total is not None and total > MAX_N:
                self.flag(
                    ("table", f"{group}_total"),
                    f"{group}_total is {total:,}, over {MAX_N:,}: a typo?",
                    "n-implausible",
                )
        a, n1, c, n2 = (counts[k] for k in _TABLE_FIELDS)
        if None not in (a, n1, c, n2) and n1 and n2 and ((a == c == 0) or (a == n1 and c == n2)):
            self.report(
                "table",
                "no events (or only events) in both groups: the table carries no information "
                "on the ratio, so analyses leave it out (metafor's drop00 = TRUE)",
                "table-double-zero",
                "warning",
            )
        for group in ("exposed", "unexposed"):
            events = _integer(table.get(f"{group}_events"))
            total = _integer(table.get(f"{group}_total"))
            for field, count in ((f"{group}_events", events), (f"{group}_total", total)):
                if count is not None and count < 0:
                    self.report(
                        ("table", field),
                        f"{field} must not be negative, found {count}",
                        "negative-count",
                    )
            if events is not None and total is not None and 0 <= total < events:
                self.report(
                    ("table", f"{group}_events"),
                    f"{group}_events ({events}) exceeds {group}_total ({total})",
                    "events-exceed-total",
                )

    def check_groups(self) -> None:
        """Check group SDs > 0 and group sizes >= 2."""
        groups = self.statistic.get("groups")
        if not isinstance(groups, dict):
            return
        for group in ("exposed", "unexposed"):
            sd = _number(groups.get(f"{group}_sd"))
            if sd is not None and sd <= 0:
                self.report(
                    ("groups", f"{group}_sd"),
                    f"{group}_sd must be above 0, found {sd:g}",
                    "sd-positive",
                )
            self.parent.check_n((*self.path, "groups", f"{group}_n"), groups.get(f"{group}_n"))


_TABLE_FIELDS = ("exposed_events", "exposed_total", "unexposed_events", "unexposed_total")


def _show(number: float | int | None) -> str:
    """Write a record's number as it reads in YAML: 1.39, 117, 2.1e-05."""
    if number is None:
        return "?"
    return repr(number) if isinstance(number, float) else str(number)


def _preview(quote: str, near: int = 0, width: int = 240) -> str:
    """Return the quote on one line, cut to ``width`` characters around offset ``near``.

    ``near`` is where the statistic's other numbers are printed, so that a long quote is
    shown where the number was expected, not only from its start.
    """
    if len(quote) <= width:
        return " ".join(quote.split())
    start = max(0, min(near - width // 2, len(quote) - width))
    text = quote[start : start + width]
    text = ("..." if start else "") + text + ("..." if start + width < len(quote) else "")
    return " ".join(text.split())


def _printed_as_percent(value: float, quote: str) -> bool:
    """Whether ``quote`` prints ``value`` followed by ``%`` or "percent"."""
    for match in re.finditer(r"([\d.,·]+)\s*(?:%|per\s?cent)", quote):
        if printed_numbers(match.group(1)).has(abs(value)):
            return True
    return False


def _standard_error(statistic: dict[str, Any], kind: str | None) -> tuple[float | None, str]:
    r"""Return the statistic's standard error on its analysis scale, and the field it comes from.

    A ratio's CI gives :math:`(\log u - \log l) / (2 z)`; a correlation's CI the same on
    Fisher's z; other CIs :math:`(u - l) / (2 z)`, with :math:`z` the normal quantile of
    ``ci_level``.
    """
    for name in ("se_log", "se"):
        se = _number(statistic.get(name))
        if se is not None and se > 0:
            return se, name
    ci = _pair(statistic.get("ci"))
    level = _number(statistic.get("ci_level")) or 0.95
    if ci is None or not 0 < level < 1 or ci[0] >= ci[1]:
        return None, "ci"
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    low, high = ci
    if kind == "ratio":
        if low <= 0:
            return None, "ci"
        return (math.log(high) - math.log(low)) / (2 * z), "ci"
    if kind == "correlation":
        if not -1 < low < high < 1:
            return None, "ci"
        return (math.atanh(high) - math.atanh(low)) / (2 * z), "ci"
    return (high - low) / (2 * z), "ci"


def _effects(data: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    effects = data.get("effects")
    if isinstance(effects, list):
        for index, effect in enumerate(effects):
            if isinstance(effect, dict):
                yield index, effect


def _number(value: Any) -> float | None:
    """Return a finite int or float (not a bool) as float, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return low, high
    return None


def _numbers_of(
    statistic: dict[str, Any], fields: tuple[str, ...]
) -> Iterator[tuple[str | tuple[str | int, ...], float]]:
    """Yield ``(field path, number)`` for scalar fields and both ends of pairs."""
    for field in fields:
        value = statistic.get(field)
        if isinstance(value, list):
            for index, item in enumerate(value):
                number = _number(item)
                if number is not None:
                    yield (field, index), number
        else:
            number = _number(value)
            if number is not None:
                yield field, number


def _rounding(x: float) -> float:
    """Half a unit in the last printed decimal of ``x`` (0.005 for 1.26, 0.05 for 1.7)."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        return 0.0
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0**-decimals
