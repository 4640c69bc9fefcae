"""Rules a single study record must satisfy beyond its JSON Schema.

Each rule has a stable id (listed in :data:`RULES`) and points at the offending node. Rules
read the plain data built by :func:`evidence.records.yamlio.load_yaml` defensively: a value of the
wrong type was already reported by the schema check, so here it is skipped, never trusted.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.errors import Problem, Severity
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
}

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

    def run(self) -> list[Problem]:
        """Apply every rule to the record; return the problems found."""
        data = self.loaded.data
        if not isinstance(data, dict):
            return []
        self.check_header()
        self.check_id(data)
        self.check_terms(data)
        self.check_study_numbers(data)
        seen: dict[str, int] = {}
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
            if isinstance(statistic, dict):
                StatisticChecker(self, ("effects", index, "statistic"), statistic).run()
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
        """Check that vocabulary-controlled fields hold listed terms (``unknown-term``)."""
        for pattern, name in self.vocabulary_fields.items():
            terms = self.vocabulary.terms(name)
            for path, value in matching_nodes(data, pattern):
                if isinstance(value, str) and value not in terms:
                    self.report(
                        path,
                        f"{dotted(path)}: '{value}' is not a term of the vocabulary "
                        f"'{name}'{did_you_mean(value, terms)} (add new terms to "
                        "evidence/schema/vocabulary.yaml)",
                        "unknown-term",
                    )

    def check_study_numbers(self, data: dict[str, Any]) -> None:
        """Check year, follow-up and population size."""
        year = _integer(data.get("year"))
        if year is not None and not 1800 <= year <= self.today.year:
            self.report(("year",), f"year {year} is outside 1800-{self.today.year}", "year-range")
        follow_up = _number(data.get("follow_up_years"))
        if follow_up is not None and follow_up <= 0:
            self.report(
                ("follow_up_years",),
                f"follow_up_years {follow_up:g} must be above 0",
                "follow-up-range",
            )
        population = data.get("population")
        if isinstance(population, dict):
            self.check_n(("population", "n"), population.get("n"))

    def check_n(self, path: PathKey, value: Any) -> None:
        """Check that a sample size is at least 2 (``n-too-small``)."""
        n = _integer(value)
        if n is not None and n < 2:
            self.report(
                path, f"{dotted(path)} is {n}; a sample size must be at least 2", "n-too-small"
            )


class StatisticChecker:
    """Rules for one ``statistic`` mapping."""

    def __init__(self, parent: RecordChecker, path: PathKey, statistic: dict[str, Any]):
        self.parent = parent
        self.path = path
        self.statistic = statistic
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

    def run(self) -> None:
        """Check the input form, then every number in it."""
        self.check_form()
        self.check_interval()
        self.check_ratio()
        self.check_scalars()
        self.check_table()
        self.check_groups()

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
        """Check 2x2 counts: non-negative, events <= total."""
        table = self.statistic.get("table")
        if not isinstance(table, dict):
            return
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
