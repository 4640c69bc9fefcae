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
``duplicate-id``              two specs share an id
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


#: GRADE domains an override may name.
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
    """A reviewer's certainty judgement for one GRADE domain (downgrade 0, 1 or 2)."""

    domain: str
    downgrade: int
    justification: str


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
    notes: str | None = None
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False)
    path: str | None = field(default=None, compare=False)


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
        where: tuple[str | int, ...] = ("select", index) if listed else ("select",)
        for path, accepted in filters.items():
            message = path_problem(path)
            if message:
                report.at((*where, path), f"select: {message}", "unknown-field-path", key=True)
                continue
            terms = vocabulary_terms(path)
            if terms is None:
                continue
            several = isinstance(accepted, list)
            for position, value in enumerate(accepted if several else [accepted]):
                if str(value) not in terms:
                    report.at(
                        (*where, path, position) if several else (*where, path),
                        f"select: '{value}' is not a term of {path} (vocabulary "
                        f"'{vocabulary_name(path)}'){did_you_mean(str(value), terms)}",
                        "unknown-term",
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
    """One override per domain, each with a justification readers can follow."""
    domains: set[str] = set()
    for index, item in enumerate(data.get("certainty", {}).get("overrides", [])):
        if item["domain"] in domains:
            report.at(
                ("certainty", "overrides", index, "domain"),
                f"a second override for '{item['domain']}'",
                "duplicate-override",
            )
        domains.add(item["domain"])
        if len(item["justification"].strip()) < MIN_JUSTIFICATION:
            report.at(
                ("certainty", "overrides", index, "justification"),
                f"the justification of the {item['domain']} override is too short to tell "
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


#: The rule checks :func:`check_rules` runs, in order (each reports through the reporter).
_RULE_CHECKS: tuple[Callable[[Mapping[str, Any], _Reporter], None], ...] = (
    _check_select,
    _check_field_lists,
    _check_rho,
    _check_overrides,
    _check_compare_with,
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
        notes=data.get("notes"),
        spec=data,
        path=shown,
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
        if item.name in ("position", "path", "effects"):
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
