"""Analysis specifications: ``analyses/<id>.yaml`` -> :class:`Analysis`.

An analysis asks one question of the study records once (see "An analysis spec" in
ARCHITECTURE.md). :func:`load_analyses` reads every spec with the safe loader
(:mod:`evidence.records.yamlio`), checks it against ``evidence/schema/analysis.schema.json`` and
against the rules below, and reports every problem at once as
``analyses/x.yaml:LINE:COL: message [rule-id]``:

============================  ================================================================
rule                          meaning
============================  ================================================================
``id-file-name``              ``id`` differs from the file name without ``.yaml``
``unknown-field-path``        a ``select``/``subgroups``/``moderators`` path names no record field
``unknown-term``              a ``select`` value is not a term of that field's vocabulary
``moderator-not-numeric``     a moderator path names a field that is not a number
``rho-required``              ``dependence: aggregate`` without a stated ``rho``
``rho-unused``                ``rho`` given with another dependence rule (warning)
``duplicate-override``        two certainty overrides for one domain
``justification-too-short``   an override's justification under 20 characters
``compare-no-match``          a ``compare_with`` item matches no row of the headline table
``multiverse-prespecified``   a ``multiverse`` option list leaves out the spec's own setting
``multiverse-rho``            ``multiverse.rho`` given without the ``aggregate`` option (warning)
``duplicate-id``              two specs share an id
``families-unjustified``      several measure families without ``measure_families_justification``
``rare-outcome-required``     ratio families combined without ``assume_rare_outcome: true``
``failsafe-discouraged``      ``bias: [failsafe]`` (warning: fail-safe N is not evidence)
``duplicate-upgrade``         two certainty upgrades for one domain
============================  ================================================================

Schema problems (unknown fields with a did-you-mean, wrong types, values outside a
vocabulary) come from :func:`evidence.records.yamlio.check_schema`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from evidence.analyses.choices import (
    DEFAULT_RHO,
    default_options,
    listed_choices,
    prespecified,
)
from evidence.analyses.published import headline_rows, match_rows
from evidence.errors import Problem, Severity
from evidence.records import model as records
from evidence.records.safefs import input_problem
from evidence.records.yamlio import Positions, check_schema, did_you_mean, load_yaml
from evidence.stats.tau2 import METHODS

#: Ranked adjustment levels, most adjusted first (``not-reported`` is ranked last).
ADJUSTMENT_ORDER = ("fully-adjusted", "minimally-adjusted", "unadjusted", "not-reported")
#: Shortest written justification accepted for a certainty override (characters).
MIN_JUSTIFICATION = 20
#: Effect-measure families (``eligibility.measure_families``): reported measure -> family.
MEASURE_FAMILIES = {
    "HR": "hazard",
    "log-HR": "hazard",
    "RR": "risk",
    "log-RR": "risk",
    "OR": "odds",
    "log-OR": "odds",
    "IRR": "rate",
    "MRR": "rate",
    "percent-increase": "percent-change",
    "percent-decrease": "percent-change",
    "ratio-of-means": "means-ratio",
    "ROM": "means-ratio",
    "SMD": "mean-difference",
    "MD": "mean-difference",
    "r": "correlation",
    "b": "coefficient",
    "beta": "coefficient",
    "RD": "risk-difference",
}
#: The family each metric pools when the spec names none.
METRIC_FAMILY = {
    "log-risk-ratio": "risk",
    "log-odds-ratio": "odds",
    "smd": "mean-difference",
    "fisher-z": "correlation",
    "correlation": "correlation",
}
#: Ratio families whose combination needs the rare-outcome assumption.
RATIO_FAMILIES = frozenset({"hazard", "risk", "odds", "rate"})
#: Contrast types pooled by default: category contrasts (and records that do not say).
DEFAULT_CONTRASTS = ("binary", "extreme-categories", "category-vs-reference", "not-stated")
#: Independent samples needed to pool by default.
DEFAULT_MIN_SAMPLES = 3


@dataclass(frozen=True)
class Eligibility:
    """The pooling rules of one analysis (``eligibility`` in the spec; defaults filled in).

    ``outcome_families`` maps a family label to select-style filters (empty: one family
    per ``outcome.domain``); ``measure_families`` are the effect families pooled.
    """

    measure_families: tuple[str, ...]
    min_samples: int = DEFAULT_MIN_SAMPLES
    outcome_families: tuple[tuple[str, Mapping[str, tuple[Any, ...]]], ...] = ()
    across_families: str = "separate"
    measure_families_justification: str | None = None
    contrasts: tuple[str, ...] = DEFAULT_CONTRASTS


@dataclass(frozen=True)
class Exclusion:
    """A study (or one of its effects) left out on purpose, with the reason."""

    study: str
    reason: str
    effect: str | None = None
    #: Where the item is in the spec (1-based; 0 when not loaded from a file).
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    def matches(self, study_id: str, effect_id: str) -> bool:
        """Return True when this exclusion covers ``study_id/effect_id``."""
        return self.study == study_id and self.effect in (None, effect_id)


@dataclass(frozen=True)
class Override:
    """A reviewer's certainty judgement for one GRADE domain (downgrade 0, 1 or 2).

    For an upgrade domain (``large-effect``, ``dose-response``, ``plausible-confounding``)
    ``downgrade`` holds the levels rated *up*.
    """

    domain: str
    downgrade: int
    justification: str


@dataclass(frozen=True)
class Multiverse:
    """The choices of an analysis's multiverse (:mod:`evidence.analyses.choices`).

    ``options`` gives, per listed choice in registry order, the options to run;
    ``leave_one_sample_out`` adds each sample left out in turn; ``rho`` is the correlation
    the ``aggregate`` option assumes.
    """

    options: tuple[tuple[str, tuple[str, ...]], ...]
    leave_one_sample_out: bool = True
    rho: float = DEFAULT_RHO

    def of(self, choice: str) -> tuple[str, ...]:
        """Options of ``choice``."""
        return dict(self.options)[choice]


@dataclass(frozen=True)
class Analysis:
    """One loaded, validated analysis spec (field names as in the YAML)."""

    id: str
    title: str
    question: Mapping[str, str]
    select: tuple[Mapping[str, tuple[Any, ...]], ...]
    metric: str
    orient: str
    adjustment: str
    dependence: str
    method: str
    test: str
    exclude: tuple[Exclusion, ...] = ()
    rho: float | None = None
    assume_rare_outcome: bool = False
    subgroups: tuple[str, ...] = ()
    moderators: tuple[str, ...] = ()
    sensitivity: tuple[str, ...] = ()
    bias: tuple[str, ...] = ()
    compare_with: tuple[Mapping[str, str], ...] = ()
    overrides: tuple[Override, ...] = ()
    upgrades: tuple[Override, ...] = ()
    kind: str = "finding"
    eligibility: Eligibility | None = None
    question_fields: tuple[tuple[str, Mapping[str, tuple[Any, ...]]], ...] = ()
    notes: str | None = None
    multiverse: Multiverse | None = None
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False)
    path: str | None = field(default=None, compare=False)

    @property
    def rules(self) -> Eligibility:
        """The eligibility rules, with the defaults for the metric when the spec gives none."""
        if self.eligibility is not None:
            return self.eligibility
        return Eligibility(measure_families=(METRIC_FAMILY[self.metric],))


@cache
def analysis_schema() -> dict[str, Any]:
    """Return the analysis JSON Schema shipped as package data, with the method enum.

    ``model.method`` takes the names of the tau^2 estimator registry
    (:data:`evidence.stats.tau2.ESTIMATORS`), so that adding an estimator is one change.
    """
    text = (
        resources.files("evidence")
        .joinpath("schema/analysis.schema.json")
        .read_text(encoding="utf-8")
    )
    schema = json.loads(text)
    schema["properties"]["model"]["properties"]["method"]["enum"] = list(METHODS)
    block = schema["properties"]["multiverse"]["properties"]
    for choice in listed_choices():
        block[choice.key]["items"]["enum"] = list(choice.names)
    return schema


def load_analyses(
    directory: str | Path, ids: Iterable[str] | None = None
) -> tuple[list[Analysis], list[Problem]]:
    """Load every ``*.yaml`` spec in ``directory`` (sorted by file name).

    Parameters
    ----------
    directory : str or Path
        The ``analyses/`` folder.
    ids : iterable of str, optional
        Only these analyses; an id with no file is reported (rule ``unknown-analysis``).

    Returns
    -------
    (list of Analysis, list of Problem)
        The specs that loaded without an error, and every problem found in any spec. A
        spec that is not a regular file inside ``directory`` (a symbolic link out of it, a
        loop, a FIFO) is one problem naming the link and is never read.
    """
    folder = Path(directory)
    paths = sorted(folder.glob("*.yaml"))
    problems: list[Problem] = []
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        stems = {p.stem for p in paths}
        for name in wanted:
            if name not in stems:
                problems.append(
                    Problem(
                        str(folder),
                        0,
                        0,
                        f"no analysis '{name}' in {folder}{did_you_mean(name, stems)}",
                        "unknown-analysis",
                    )
                )
        paths = [p for p in paths if p.stem in wanted]
    loaded: list[Analysis] = []
    seen: dict[str, str] = {}
    for path in paths:
        unsafe = input_problem(path, folder)  # a link out, a FIFO, ...
        if unsafe is not None:
            problems.append(unsafe)
            continue
        analysis, found = load_analysis(path)
        problems.extend(found)
        if analysis is None:
            continue
        if analysis.id in seen:
            problems.append(
                Problem(
                    str(analysis.path),
                    1,
                    1,
                    f"id '{analysis.id}' is also used by {seen[analysis.id]}",
                    "duplicate-id",
                )
            )
            continue
        seen[analysis.id] = str(analysis.path)
        loaded.append(analysis)
    return loaded, problems


def load_analysis(
    path: str | Path, text: str | None = None
) -> tuple[Analysis | None, list[Problem]]:
    """Load and check one spec; return ``(None, problems)`` when it has an error.

    Parameters
    ----------
    path : str or Path
        ``analyses/<id>.yaml`` (the name problems are reported under).
    text : str, optional
        Content to parse instead of reading the file (editors, tests).
    """
    document = load_yaml(path, text=text)
    problems = list(document.problems)
    if document.data is None:
        return None, problems
    data = document.data
    problems.extend(check_schema(data, document.positions, analysis_schema(), document.path))
    if not any(p.severity == "error" for p in problems):
        problems.extend(check_rules(data, document.positions, document.path, Path(path).stem))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return _build(data, document.path, document.positions), problems


class _Reporter:
    """Collects the problems of one spec, each placed at a node of the YAML."""

    def __init__(self, positions: Positions, shown: str) -> None:
        self.positions = positions
        self.shown = shown
        self.problems: list[Problem] = []

    def at(
        self,
        where: tuple[str | int, ...],
        message: str,
        rule: str,
        key: bool = False,
        severity: Severity = "error",
    ) -> None:
        """Report ``message`` at the node (or, with ``key``, the key) ``where``."""
        line, column = self.positions.of(where, key=key)
        self.problems.append(Problem(self.shown, line, column, message, rule, severity))


def check_rules(
    data: Mapping[str, Any], positions: Positions, shown: str, stem: str
) -> list[Problem]:
    """Rules the schema cannot express (see the module docstring for the rule ids)."""
    report = _Reporter(positions, shown)
    if data["id"] != stem:
        report.at(("id",), f"id '{data['id']}' must equal the file name '{stem}'", "id-file-name")
    for check in _RULE_CHECKS:
        check(data, report)
    return report.problems


def _check_select(data: Mapping[str, Any], report: _Reporter) -> None:
    """Every ``select`` path names a record field and every value is a vocabulary term."""
    listed = isinstance(data["select"], list)
    alternatives = data["select"] if listed else [data["select"]]
    for index, filters in enumerate(alternatives):
        _check_filters(filters, ("select", index) if listed else ("select",), "select", report)


def _check_filters(
    filters: Mapping[str, Any], where: tuple[str | int, ...], label: str, report: _Reporter
) -> None:
    """One mapping of path -> accepted value(s): known paths, known terms (null allowed)."""
    for path, accepted in filters.items():
        message = path_problem(path)
        if message:
            report.at((*where, path), f"{label}: {message}", "unknown-field-path", key=True)
            continue
        terms = vocabulary_terms(path)
        if terms is None:
            continue
        several = isinstance(accepted, list)
        for position, value in enumerate(accepted if several else [accepted]):
            if value is not None and str(value) not in terms:
                report.at(
                    (*where, path, position) if several else (*where, path),
                    f"{label}: '{value}' is not a term of {path} (vocabulary "
                    f"'{vocabulary_name(path)}'){did_you_mean(str(value), terms)}",
                    "unknown-term",
                )


def _check_eligibility(data: Mapping[str, Any], report: _Reporter) -> None:
    """Outcome-family filters name record fields; combined families are justified."""
    rules = data.get("eligibility", {})
    for label, filters in rules.get("outcome_families", {}).items():
        _check_filters(
            filters, ("eligibility", "outcome_families", label), "outcome_families", report
        )
    families = rules.get("measure_families", [])
    if len(families) > 1:
        justification = rules.get("measure_families_justification", "")
        if not justification:
            report.at(
                ("eligibility", "measure_families"),
                f"measure_families combines {', '.join(families)}: say why they are "
                "comparable in measure_families_justification (e.g. the rare-outcome "
                "assumption that lets hazard ratios be read as risk ratios)",
                "families-unjustified",
            )
        elif len(justification.strip()) < MIN_JUSTIFICATION:
            report.at(
                ("eligibility", "measure_families_justification"),
                "measure_families_justification is too short to tell readers why "
                f"(at least {MIN_JUSTIFICATION} characters)",
                "justification-too-short",
            )
    ratios = sorted(RATIO_FAMILIES.intersection(families))
    if len(ratios) > 1 and not data.get("assume_rare_outcome", False):
        report.at(
            ("eligibility", "measure_families"),
            f"combining {' and '.join(ratios)} ratios reads them as one another, which holds "
            "only for a rare outcome: state it with assume_rare_outcome: true",
            "rare-outcome-required",
        )
    for element, filters in data.get("question_fields", {}).items():
        _check_filters(filters, ("question_fields", element), "question_fields", report)
    if "failsafe" in data.get("bias", []):
        report.at(
            ("bias", data["bias"].index("failsafe")),
            "fail-safe N is not evidence about publication bias (Cochrane Handbook 5.1, "
            "10.4.4.3: not recommended); it is computed but marked discouraged",
            "failsafe-discouraged",
            severity="warning",
        )


def _check_field_lists(data: Mapping[str, Any], report: _Reporter) -> None:
    """Subgroup and moderator paths name record fields; moderators name numeric ones."""
    for section in ("subgroups", "moderators"):
        for index, path in enumerate(data.get(section, [])):
            message = path_problem(path)
            if message:
                report.at((section, index), f"{section}: {message}", "unknown-field-path")
            elif section == "moderators" and not is_numeric_path(path):
                report.at(
                    (section, index),
                    f"moderators: '{path}' is not a numeric field; use it as a subgroup instead",
                    "moderator-not-numeric",
                )


def _check_rho(data: Mapping[str, Any], report: _Reporter) -> None:
    """``rho`` is required with, and only used by, ``dependence: aggregate``."""
    if data["dependence"] == "aggregate" and "rho" not in data:
        report.at(
            ("dependence",),
            "dependence: aggregate needs a stated rho (the assumed correlation "
            "of effects within a cluster), e.g. rho: 0.5",
            "rho-required",
        )
    if data["dependence"] != "aggregate" and "rho" in data:
        report.at(
            ("rho",),
            "rho is used only with dependence: aggregate",
            "rho-unused",
            key=True,
            severity="warning",
        )


def _check_overrides(data: Mapping[str, Any], report: _Reporter) -> None:
    """One override (and one upgrade) per domain, each with a justification readers follow."""
    for section, word in (("overrides", "override"), ("upgrades", "upgrade")):
        domains: set[str] = set()
        for index, item in enumerate(data.get("certainty", {}).get(section, [])):
            if item["domain"] in domains:
                report.at(
                    ("certainty", section, index, "domain"),
                    f"a second {word} for '{item['domain']}'",
                    f"duplicate-{word}",
                )
            domains.add(item["domain"])
            if len(item["justification"].strip()) < MIN_JUSTIFICATION:
                report.at(
                    ("certainty", section, index, "justification"),
                    f"the justification of the {item['domain']} {word} is too short to tell "
                    f"readers why (at least {MIN_JUSTIFICATION} characters)",
                    "justification-too-short",
                )


def _check_compare_with(data: Mapping[str, Any], report: _Reporter) -> None:
    """Every ``compare_with`` item matches a row of the headline table."""
    rows = headline_rows()
    for index, selector in enumerate(data.get("compare_with", [])):
        if not match_rows(rows, selector):
            report.at(
                ("compare_with", index),
                "compare_with: no row of the headline table has "
                + ", ".join(f"{k} = '{v}'" for k, v in selector.items()),
                "compare-no-match",
            )


def _check_multiverse(data: Mapping[str, Any], report: _Reporter) -> None:
    """Each option list holds the spec's own setting; ``rho`` goes with ``aggregate``."""
    block = data.get("multiverse")
    if not isinstance(block, Mapping):
        return
    own = prespecified(data)
    for choice in listed_choices():
        listed = block.get(str(choice.key))
        if listed is not None and own[choice.name] not in listed:
            report.at(
                ("multiverse", str(choice.key)),
                f"multiverse.{choice.key} leaves out the analysis's own setting "
                f"'{own[choice.name]}'; add it, so that the pre-specified analysis is one "
                "of the specifications",
                "multiverse-prespecified",
            )
    if "rho" in block and "aggregate" not in block.get("dependence", ("aggregate",)):
        report.at(
            ("multiverse", "rho"),
            "multiverse.rho is used only by the aggregate dependence option",
            "multiverse-rho",
            key=True,
            severity="warning",
        )


#: The rule checks :func:`check_rules` runs, in order (each reports through the reporter).
_RULE_CHECKS: tuple[Callable[[Mapping[str, Any], _Reporter], None], ...] = (
    _check_select,
    _check_field_lists,
    _check_rho,
    _check_eligibility,
    _check_overrides,
    _check_compare_with,
    _check_multiverse,
)


def _multiverse(data: Mapping[str, Any]) -> Multiverse | None:
    """Return the multiverse of a checked spec (defaults filled in), or ``None`` when off."""
    block = data.get("multiverse", True)
    if block is False:
        return None
    block = block if isinstance(block, Mapping) else {}
    options = tuple(
        (
            choice.name,
            tuple(block[choice.key]) if choice.key in block else default_options(choice.name, data),
        )
        for choice in listed_choices()
    )
    return Multiverse(
        options=options,
        leave_one_sample_out=bool(block.get("leave_one_sample_out", True)),
        rho=float(block.get("rho", data.get("rho", DEFAULT_RHO))),
    )


def _build(data: Mapping[str, Any], shown: str, positions: Positions | None = None) -> Analysis:
    """Turn checked plain data into an :class:`Analysis`."""
    alternatives = data["select"] if isinstance(data["select"], list) else [data["select"]]
    select = tuple(
        {
            key: tuple(value) if isinstance(value, list) else (value,)
            for key, value in filters.items()
        }
        for filters in alternatives
    )
    return Analysis(
        id=data["id"],
        title=data["title"],
        question=dict(data["question"]),
        select=select,
        metric=data["metric"],
        orient=data["orient"],
        adjustment=data["adjustment"],
        dependence=data["dependence"],
        method=data["model"]["method"],
        test=data["model"].get("test", "z"),
        exclude=tuple(
            Exclusion(
                e["study"],
                e["reason"],
                e.get("effect"),
                *(positions.of(("exclude", i)) if positions is not None else (0, 0)),
            )
            for i, e in enumerate(data.get("exclude", []))
        ),
        rho=data.get("rho"),
        assume_rare_outcome=bool(data.get("assume_rare_outcome", False)),
        subgroups=tuple(data.get("subgroups", [])),
        moderators=tuple(data.get("moderators", [])),
        sensitivity=tuple(data.get("sensitivity", [])),
        bias=tuple(data.get("bias", [])),
        compare_with=tuple(dict(c) for c in data.get("compare_with", [])),
        overrides=tuple(
            Override(o["domain"], o["downgrade"], o["justification"])
            for o in data.get("certainty", {}).get("overrides", [])
        ),
        upgrades=tuple(
            Override(o["domain"], o["upgrade"], o["justification"])
            for o in data.get("certainty", {}).get("upgrades", [])
        ),
        kind=data.get("kind", "finding"),
        eligibility=_eligibility(data),
        question_fields=tuple(
            (element, _as_tuples(filters))
            for element, filters in data.get("question_fields", {}).items()
        ),
        notes=data.get("notes"),
        multiverse=_multiverse(data),
        spec=data,
        path=shown,
    )


def _as_tuples(filters: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Return the filters with every accepted value list as a tuple."""
    return {
        key: tuple(value) if isinstance(value, list) else (value,) for key, value in filters.items()
    }


def _eligibility(data: Mapping[str, Any]) -> Eligibility:
    """Build the ``eligibility`` block with its defaults (the metric's own family)."""
    rules = data.get("eligibility", {})
    return Eligibility(
        measure_families=tuple(rules.get("measure_families", [METRIC_FAMILY[data["metric"]]])),
        min_samples=int(rules.get("min_samples", DEFAULT_MIN_SAMPLES)),
        outcome_families=tuple(
            (label, _as_tuples(filters))
            for label, filters in rules.get("outcome_families", {}).items()
        ),
        across_families=rules.get("across_families", "separate"),
        measure_families_justification=rules.get("measure_families_justification"),
        contrasts=tuple(rules.get("contrasts", DEFAULT_CONTRASTS)),
    )


# --------------------------------------------------------------------------- field paths

_ROOTS = {"effect": records.Effect, "study": records.Study}


@cache
def field_paths() -> dict[str, type]:
    """Every dotted path a filter may name, with the Python type of its leaf.

    Paths of an effect (``outcome.domain``) and of its study (``population.sex``), the same
    with an explicit ``effect.``/``study.`` prefix, and ``sex`` (the subgroup's sex, else the
    population's; see :func:`evidence.records.model.field_value`).
    """
    paths: dict[str, type] = {"sex": str}
    for root_name, root in (("study", records.Study), ("effect", records.Effect)):
        for path, leaf in _walk(root, ""):
            paths.setdefault(path, leaf)
            paths[f"{root_name}.{path}"] = leaf
    return paths


def _walk(cls: type, prefix: str) -> Iterable[tuple[str, type]]:
    """Yield ``(dotted path, leaf type)`` for every field of a records dataclass."""
    hints = typing.get_type_hints(cls, vars(records))
    for item in dataclasses.fields(cls):
        if item.name in ("position", "path", "effects", "domains"):
            continue
        leaf = _unwrap(hints[item.name])
        path = f"{prefix}{item.name}"
        if dataclasses.is_dataclass(leaf):
            yield from _walk(leaf, path + ".")  # type: ignore[arg-type]
        else:
            yield path, leaf


def _unwrap(hint: Any) -> Any:
    """``X | None`` -> ``X``; ``tuple[str, ...]`` -> ``str``; others unchanged."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _unwrap(options[0]) if len(options) == 1 else hint
    if origin is tuple:
        return _unwrap(typing.get_args(hint)[0])
    return hint


@cache
def _vocabulary_paths() -> dict[str, str]:
    """Dotted record path -> name of its controlled vocabulary (from the study schema)."""
    from evidence.records.vocabulary import study_schema, vocabulary_fields

    found: dict[str, str] = {"sex": "sexes"}
    for parts, name in vocabulary_fields(study_schema()).items():
        if parts[:2] == ("effects", "*"):
            dotted_path = ".".join(p for p in parts[2:] if p != "*")
            found.setdefault(dotted_path, name)
            found[f"effect.{dotted_path}"] = name
        else:
            dotted_path = ".".join(p for p in parts if p != "*")
            found.setdefault(dotted_path, name)
            found[f"study.{dotted_path}"] = name
    return found


def vocabulary_name(path: str) -> str | None:
    """Name of the controlled vocabulary a record path takes its values from, or ``None``."""
    return _vocabulary_paths().get(path)


@cache
def vocabulary_terms(path: str) -> tuple[str, ...] | None:
    """Terms a select filter on ``path`` may name, or ``None`` for a free-text field."""
    from evidence.records.vocabulary import default_vocabulary

    name = vocabulary_name(path)
    return None if name is None else tuple(default_vocabulary().terms(name))


def path_problem(path: str) -> str | None:
    """Say why ``path`` names no record field (with a did-you-mean), or ``None``."""
    known = field_paths()
    if path in known:
        return None
    return f"'{path}' is not a field of a study record or its effects{did_you_mean(path, known)}"


def is_numeric_path(path: str) -> bool:
    """Return True when ``path`` ends in a numeric field (``year``, ``follow_up_years``, ...)."""
    return field_paths().get(path) in (int, float)


def resolve(study: records.Study, effect: records.Effect, path: str) -> Any:
    """Return the value of ``path`` for one effect, honouring ``study.``/``effect.`` prefixes.

    ``study.id`` is the study's id and ``effect.id`` the effect's; without a prefix the
    effect is read first, then the study, as :func:`evidence.records.model.field_value` does
    (``sex``: the subgroup's sex, else the population's). ``None`` when the path is unset.
    """
    return getter(path)(study, effect)


@cache
def getter(path: str) -> Callable[[records.Study, records.Effect], Any]:
    """Compile ``path`` once into a function ``(study, effect) -> value`` (see :func:`resolve`)."""
    if path == "sex":
        return lambda study, effect: records.field_value(study, effect, "sex")
    head, _, rest = path.partition(".")
    if head in _ROOTS and rest:
        on_study, parts = head == "study", tuple(rest.split("."))
    else:
        effect_paths = {p for p in field_paths() if p.startswith("effect.")}
        on_study, parts = f"effect.{path}" not in effect_paths, tuple(path.split("."))

    def read(study: records.Study, effect: records.Effect) -> Any:
        value: Any = study if on_study else effect
        for part in parts:
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    return read
