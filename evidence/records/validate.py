"""Validate study records and load them as typed, immutable :class:`~evidence.records.model.Study`.

:func:`validate_paths` checks files and directories and returns every problem found;
:func:`load_studies` does the same for one directory and also builds the records of every
file that has no error. The checks, in order:

1. safe loading (:mod:`evidence.records.yamlio`): hostile or broken files stop here;
2. the JSON Schema ``evidence/schema/study.schema.json`` (types, required and unknown fields);
3. per-record rules (:mod:`evidence.records.rules`): vocabulary terms, ids, numbers,
   statistic forms;
4. rules across files: ids unique (``duplicate-id``), one DOI per article unless the records
   share a cohort and report different effects (``duplicate-doi``), citation keys present in
   ``references.bib`` (``citation-missing``), bibliography entries without a record
   (``bib-unused``, a warning) and no bibliography at all (``bib-missing``).
"""

from __future__ import annotations

import datetime
import gc
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from evidence.errors import Problem, errors_in
from evidence.records.bib import BIB_NAME, Bibliography, load_bibliography
from evidence.records.model import (
    ROB_DOMAINS,
    Effect,
    Exposure,
    Extraction,
    Outcome,
    Population,
    Position,
    RiskOfBias,
    RobDomain,
    Source,
    Statistic,
    Study,
    Subgroup,
    TwoByTwo,
    TwoGroups,
)
from evidence.records.rules import RecordChecker
from evidence.records.safefs import input_problem, safe_resolve
from evidence.records.vocabulary import (
    Vocabulary,
    default_vocabulary,
    study_schema,
    vocabulary_fields,
)
from evidence.records.yamlio import (
    LoadedYaml,
    check_schema,
    compile_schema,
    did_you_mean,
    display_path,
    load_yaml,
)

#: Rules checked across files, with what each one means.
CROSS_FILE_RULES = {
    "duplicate-id": "two records share an id",
    "duplicate-doi": "two records cite one DOI without sharing a cohort, or repeat an effect",
    "citation-missing": "the citation key is not in references.bib",
    "bib-unused": "a bibliography entry that no record cites (warning)",
    "bib-missing": "a studies directory without references.bib",
    "no-records": "a directory given to check holds no record files (warning)",
    "wrong-extension": "a record file ending in .yml, which the loader never reads",
    "link-outside": "a record or references.bib that is a symbolic link out of its directory "
    "(never read)",
    "bib-empty": "references.bib holds no entry (or is not BibTeX) while records cite keys",
}


@dataclass(frozen=True)
class CheckedFile:
    """One record file after loading and checking.

    Only what the rules across files need is kept (the YAML nodes are dropped once the
    file is checked): the data, the problems, the positions of the fields those rules
    report on, and the built record when asked for and valid.
    """

    path: str
    data: dict[str, Any] | None
    problems: tuple[Problem, ...]
    anchors: dict[tuple[str | int, ...], tuple[int, int]]
    study: Study | None = None


#: The search record of the review in a studies directory: YAML, but not a study record.
SCREENING_NAME = "screening.yaml"


def validate_paths(
    paths: Iterable[str | os.PathLike[str]] = ("studies",), today: datetime.date | None = None
) -> list[Problem]:
    """Check record files and directories; return every problem, sorted.

    Parameters
    ----------
    paths : iterable of str or path-like
        Record files (``*.yaml``), bibliographies (``*.bib``) or directories. A directory
        stands for every ``*.yaml`` in it plus its ``references.bib``. A file is checked
        against the ``references.bib`` beside it, when there is one.
    today : datetime.date, optional
        The date "year in the future" is judged against (today by default).

    Returns
    -------
    list of Problem
        Errors and warnings, sorted by file, line and column.

    Examples
    --------
    >>> validate_paths(["no/such/dir"])[0].rule
    'file-unreadable'
    """
    checked, problems = _check(paths, today, build=False)
    return sorted(problems + [p for c in checked for p in c.problems])


def load_studies(
    path: str | os.PathLike[str] = "studies", today: datetime.date | None = None
) -> tuple[list[Study], list[Problem]]:
    """Validate a studies directory (or file) and build the records that are valid.

    Parameters
    ----------
    path : str or path-like
        A directory of ``*.yaml`` records with its ``references.bib``, or one record file.
    today : datetime.date, optional
        Reference date for the ``year-range`` rule.

    Returns
    -------
    studies : list of Study
        One record per file without an error of its own, in file-name order. Each effect
        carries its :class:`~evidence.records.model.Position` in the file.
    problems : list of Problem
        Every problem found, sorted; check ``evidence.errors.errors_in(problems)`` before
        trusting the set of studies as complete.

    Examples
    --------
    >>> studies, problems = load_studies("no/such/dir")
    >>> studies, [p.rule for p in problems]
    ([], ['file-unreadable'])
    """
    checked, problems = _check([path], today, build=True)
    studies = [c.study for c in checked if c.study is not None]
    return studies, sorted(problems + [p for c in checked for p in c.problems])


def _check(
    paths: Iterable[str | os.PathLike[str]], today: datetime.date | None, build: bool
) -> tuple[list[CheckedFile], list[Problem]]:
    """Check each record, then the rules across records; return files and other problems."""
    today = today or datetime.date.today()
    records, bibliographies, problems = _collect(paths)
    schema = study_schema()
    validator = compile_schema(schema)
    vocabulary, fields = default_vocabulary(), vocabulary_fields(schema)
    checked = []
    with _gc_paused():
        for record_path in records:
            checked.append(_check_file(record_path, validator, vocabulary, fields, today, build))
    problems += _check_across(checked)
    problems += _check_bibliographies(checked, bibliographies)
    return checked, problems


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while records are loaded.

    Loading builds many small acyclic containers that all stay alive, so the collector's
    generation passes find nothing to free; pausing it saves about a quarter of the time
    of loading thousands of records (benchmarks/validate_records.py). Reference counting
    still frees everything as usual, and the collector runs again afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_file(
    record_path: Path,
    validator: Draft202012Validator,
    vocabulary: Vocabulary,
    fields: dict[tuple[str, ...], str],
    today: datetime.date,
    build: bool,
) -> CheckedFile:
    """Load and check one record; build its Study when asked and free of errors."""
    loaded = load_yaml(record_path)
    found = list(loaded.problems)
    data = loaded.data if isinstance(loaded.data, dict) else None
    anchors = {}
    study = None
    if data is not None:
        found += check_schema(data, loaded.positions, validator, loaded.path)
        found += RecordChecker(loaded, vocabulary, fields, today).run()
        anchors = {where: loaded.positions.of(where) for where in _anchor_paths(data)}
        if build and not errors_in(found):
            study = build_study(loaded)
    return CheckedFile(loaded.path, data, tuple(found), anchors, study)


def _anchor_paths(data: dict[str, Any]) -> list[tuple[str | int, ...]]:
    """Fields the rules across files report on: id, doi and every citation."""
    return [("id",), ("doi",), *(where for where, _ in _citations(data))]


def _collect(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Path], dict[Path, bool], list[Problem]]:
    """Expand paths into record files and bibliographies (resolved; ``True``: check unused).

    Entries no record cites are reported only for a directory's own bibliography, where the
    set of records is complete.
    """
    records: list[Path] = []
    bibliographies: dict[Path, bool] = {}
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            problems.append(
                Problem(display_path(path), 0, 0, "no such file or directory", "file-unreadable")
            )
        elif path.is_dir():
            # screening.yaml is the review's search record (read by the site), not a record
            found = sorted(p for p in path.glob("*.yaml") if p.name != SCREENING_NAME)
            problems += [_wrong_extension(p) for p in sorted(path.glob("*.yml"))]
            if not found:
                problems.append(
                    Problem(
                        display_path(path),
                        0,
                        0,
                        "no record files (*.yaml) in this directory",
                        "no-records",
                        "warning",
                    )
                )
            records += _inside(found, path, problems)
            bib = path / BIB_NAME
            if bib.exists() or bib.is_symlink():
                if _inside([bib], path, problems, "bib-unreadable"):
                    bibliographies[bib.resolve()] = True
            elif found:
                problems.append(
                    Problem(
                        display_path(bib),
                        0,
                        0,
                        f"no {BIB_NAME} beside the "
                        "records; every citation key must be defined there",
                        "bib-missing",
                    )
                )
        elif path.suffix == ".bib":  # syntax only: which records cite it is not known
            if _inside([path], path.parent, problems, "bib-unreadable"):
                bibliographies.setdefault(path.resolve(), False)
        elif path.suffix == ".yml":
            problems.append(_wrong_extension(path))
        elif path.suffix == ".yaml":
            if not _inside([path], path.parent, problems):
                continue
            records.append(path)
            sibling = path.parent / BIB_NAME
            if sibling.is_file() and _inside([sibling], path.parent, problems, "bib-unreadable"):
                bibliographies.setdefault(sibling.resolve(), False)
        else:
            problems.append(
                Problem(
                    display_path(path),
                    0,
                    0,
                    "not a record file (*.yaml), a bibliography (*.bib) or a directory",
                    "file-unreadable",
                )
            )
    unique = list(dict.fromkeys(p.resolve() for p in records))
    by_resolved = {p.resolve(): p for p in records}
    return [by_resolved[p] for p in unique], bibliographies, list(dict.fromkeys(problems))


def _inside(
    paths: Iterable[Path], root: Path, problems: list[Problem], rule: str = "file-unreadable"
) -> list[Path]:
    """Keep the regular files inside ``root``; one problem for each link out, FIFO, ....

    A record or bibliography that is a symbolic link out of its directory (or a loop, a
    device, a directory named ``*.yaml``) is never read: its problem names the link and
    its target, not the content (:func:`evidence.records.safefs.input_problem`).
    """
    kept = []
    for path in paths:
        problem = input_problem(path, root, rule)
        if problem is None:
            kept.append(path)
        else:
            problems.append(problem)
    return kept


def _wrong_extension(path: Path) -> Problem:
    """Report a ``*.yml`` record: the loader reads ``*.yaml`` only and would skip it."""
    return Problem(
        display_path(path),
        0,
        0,
        f"record files end in .yaml; rename it to {path.stem}.yaml (a .yml file is never loaded)",
        "wrong-extension",
    )


def _check_across(checked: Sequence[CheckedFile]) -> list[Problem]:
    """``duplicate-id`` and ``duplicate-doi`` across record files."""
    problems: list[Problem] = []
    first_id: dict[str, CheckedFile] = {}
    first_doi: dict[str, list[CheckedFile]] = {}
    for item in checked:
        data = item.data
        if data is None:
            continue
        record_id = data.get("id")
        if isinstance(record_id, str):
            if record_id in first_id:
                problems.append(
                    _at(
                        item,
                        ("id",),
                        f"id '{record_id}' is also the id of {first_id[record_id].path}",
                        "duplicate-id",
                    )
                )
            else:
                first_id[record_id] = item
        doi = data.get("doi")
        if isinstance(doi, str):
            earlier = first_doi.setdefault(doi.lower(), [])
            problems += _doi_problems(item, earlier, doi)
            earlier.append(item)
    return problems


def _doi_problems(item: CheckedFile, earlier: list[CheckedFile], doi: str) -> list[Problem]:
    """Check that records of one article share a cohort key and repeat no effect."""
    problems = []
    data = item.data or {}
    cohort = data.get("cohort")
    mine = _statistics(data)
    for other in earlier:
        other_data = other.data or {}
        if cohort is None or other_data.get("cohort") != cohort:
            problems.append(
                _at(
                    item,
                    ("doi",),
                    f"DOI {doi} is also cited by {other.path}; "
                    "two records of one article must declare the same cohort "
                    "(or merge them into one record)",
                    "duplicate-doi",
                )
            )
        elif mine & _statistics(other_data):
            problems.append(
                _at(
                    item,
                    ("doi",),
                    f"DOI {doi}: this record repeats an effect of {other.path}",
                    "duplicate-doi",
                )
            )
    return problems


def _statistics(data: dict[str, Any]) -> set[str]:
    """Canonical text of each effect's statistic, to spot an effect entered twice."""
    effects = data.get("effects")
    if not isinstance(effects, list):
        return set()
    return {json.dumps(e.get("statistic"), sort_keys=True) for e in effects if isinstance(e, dict)}


def _check_bibliographies(
    checked: Sequence[CheckedFile], bibliographies: dict[Path, bool]
) -> list[Problem]:
    """Parse each bibliography; check citation keys and entries no record cites."""
    problems: list[Problem] = []
    loaded: dict[Path, Bibliography] = {}
    for path in bibliographies:
        loaded[path.resolve()] = parsed = load_bibliography(path)
        problems += parsed.problems
    cited: dict[Path, set[str]] = {p: set() for p in loaded}
    unread: set[Path] = set()  # a record that could not be read may cite any entry
    empty = {
        path
        for path, bib in loaded.items()
        if not bib.lines and not bib.problems and not (bib.data and bib.data.entries)
    }
    for item in checked:
        bib_path = safe_resolve(Path(item.path).parent / BIB_NAME)
        bib = loaded.get(bib_path)
        if bib is None:
            continue
        if item.data is None:
            unread.add(bib_path)
            continue
        for node_path, citation in _citations(item.data):
            cited[bib_path].add(citation.lower())
            if bib.lines and not bib.has(citation):
                hint = did_you_mean(citation, bib.keys)
                problems.append(
                    _at(
                        item,
                        node_path,
                        f"citation key '{citation}' is not in {bib.path}{hint}",
                        "citation-missing",
                    )
                )
    for path in sorted(empty):
        if cited[path]:  # an empty bibliography must not switch the citation check off
            example = sorted(cited[path])[0]
            problems.append(
                Problem(
                    loaded[path].path,
                    0,
                    0,
                    f"holds no BibTeX entry, but "
                    f"records cite {len(cited[path])} key"
                    f"{'s' * (len(cited[path]) != 1)} (e.g. '{example}'); add "
                    "an entry for each (is it the bibliography you meant?)",
                    "bib-empty",
                )
            )
    for path, check_unused in bibliographies.items():
        bib = loaded[path.resolve()]
        if not check_unused or path.resolve() in unread:
            continue
        for key, line in bib.lines.items():
            if key.lower() not in cited[path.resolve()]:
                problems.append(
                    Problem(
                        bib.path,
                        line,
                        1,
                        f"entry '{key}' is cited by no record",
                        "bib-unused",
                        "warning",
                    )
                )
    return problems


def _citations(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every bibliography key a record cites: its own and its effects' secondary sources."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(data.get("citation"), str):
        found.append((("citation",), data["citation"]))
    effects = data.get("effects")
    for index, effect in enumerate(effects if isinstance(effects, list) else []):
        source = effect.get("source") if isinstance(effect, dict) else None
        if isinstance(source, dict) and isinstance(source.get("citation"), str):
            found.append((("effects", index, "source", "citation"), source["citation"]))
    return found


def _at(item: CheckedFile, path: tuple[str | int, ...], message: str, rule: str) -> Problem:
    line, column = item.anchors.get(path, (1, 1))
    return Problem(item.path, line, column, message, rule)


# ------------------------------------------------------------------------------ records


def build_study(loaded: LoadedYaml) -> Study:
    """Build a :class:`Study` from a loaded record that passed validation.

    Lists become tuples, absent optional fields ``None``, numbers of statistics ``float``
    (counts and sizes stay ``int``), and each effect records where it starts in the file.
    """
    data = loaded.data
    population = data["population"]
    return Study(
        id=data["id"],
        citation=data["citation"],
        design=data["design"],
        population=Population(
            population["description"],
            population.get("age_group"),
            population.get("sex"),
            population.get("condition"),
            population.get("n"),
        ),
        risk_of_bias=_risk_of_bias(data["risk_of_bias"]),
        extraction=Extraction(**data["extraction"]),
        effects=tuple(_effect(e, loaded, i) for i, e in enumerate(data["effects"])),
        cohort=data.get("cohort"),
        doi=data.get("doi"),
        url=data.get("url"),
        year=data.get("year"),
        countries=tuple(data.get("countries", ())),
        follow_up_years=_float(data.get("follow_up_years")),
        notes=data.get("notes"),
        path=loaded.path,
    )


def _risk_of_bias(data: dict[str, Any]) -> RiskOfBias:
    """Build the risk-of-bias block, its domains in ROBINS-E order."""
    values = dict(data)
    domains = values.pop("domains", {}) or {}
    return RiskOfBias(
        **values,
        domains=tuple(
            RobDomain(name, domains[name]["judgement"], domains[name].get("support"))
            for name in ROB_DOMAINS
            if name in domains
        ),
    )


def _effect(data: dict[str, Any], loaded: LoadedYaml, index: int) -> Effect:
    exposure = dict(data["exposure"])
    exposure["tie_types"] = tuple(exposure.get("tie_types", ()))
    subgroup = data.get("subgroup")
    line, column = loaded.positions.of(("effects", index))
    return Effect(
        id=data["id"],
        exposure=Exposure(**exposure),
        outcome=Outcome(**data["outcome"]),
        adjustment=data["adjustment"],
        statistic=_statistic(data["statistic"]),
        source=Source(**data["source"]),
        covariates=tuple(data.get("covariates", ())),
        subgroup=Subgroup(**subgroup) if subgroup else None,
        notes=data.get("notes"),
        position=Position(loaded.path, line, column),
    )


def _statistic(data: dict[str, Any]) -> Statistic:
    values: dict[str, Any] = dict(data)
    for name in ("value", "se", "se_log", "p", "t", "f", "ci_level"):
        if name in values:
            values[name] = _float(values[name])
    for name in ("ci", "range"):
        if name in values:
            values[name] = (float(values[name][0]), float(values[name][1]))
    if "table" in values:
        values["table"] = TwoByTwo(**values["table"])
    if "groups" in values:
        groups = dict(values["groups"])
        for name in ("exposed_mean", "exposed_sd", "unexposed_mean", "unexposed_sd"):
            groups[name] = float(groups[name])
        values["groups"] = TwoGroups(**groups)
    return Statistic(**values)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
