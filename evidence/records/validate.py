"""Validate study records and load them as typed, immutable :class:`~evidence.records.model.Study`.

:func:`validate_paths` checks files and directories and returns every problem found;
:func:`load_studies` does the same for one directory and also builds the records of every
file that has no error. The checks, in order:

1. which files are read (:mod:`evidence.records.collect`): records ``*.yaml``, the
   bibliography files ``*.bib``; records under another extension, files and
   subdirectories that are never loaded are reported;
2. safe loading (:mod:`evidence.records.yamlio`): hostile or broken files stop here;
3. the JSON Schema ``evidence/schema/study.schema.json`` (types, required and unknown fields);
4. per-record rules (:mod:`evidence.records.rules`): vocabulary terms, ids, numbers,
   statistic forms, the numbers printed in the quote, plausibility;
5. rules across files: ids unique (``duplicate-id``, reported at the copy), one DOI per
   article unless the records share a cohort and report different effects
   (``duplicate-doi``), citation keys present in a bibliography file
   (``citation-missing``), bibliography entries without a record (``bib-unused``, a
   warning), record fields that disagree with the cited entry (``bib-mismatch``, a
   warning), keys defined twice across files (``bib-duplicate``), no bibliography at all
   (``bib-missing``) and git conflict markers in any file of the directory
   (``merge-conflict``).
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from evidence.errors import Problem, errors_in
from evidence.records.bib import BIB_NAME, BibEntry, Bibliography, load_bibliography, plain_text
from evidence.records.build import build_study
from evidence.records.collect import COLLECT_RULES, SCREENING_NAME, BibGroup, collect
from evidence.records.model import Study
from evidence.records.rules import RecordChecker
from evidence.records.vocabulary import (
    Vocabulary,
    default_vocabulary,
    study_schema,
    vocabulary_fields,
)
from evidence.records.yamlio import (
    MAX_BYTES,
    check_schema,
    compile_schema,
    conflict_problems,
    did_you_mean,
    display_path,
    load_yaml,
)

__all__ = ["CROSS_FILE_RULES", "SCREENING_NAME", "build_study", "load_studies", "validate_paths"]

#: Rules checked across files, with what each one means.
CROSS_FILE_RULES = {
    "duplicate-id": "two records share an id (reported at the copy)",
    "duplicate-doi": "two records cite one DOI without sharing a cohort, or repeat an effect",
    "citation-missing": "the citation key is in no bibliography file of the directory",
    "bib-unused": "a bibliography entry that no record cites (warning)",
    "bib-empty": "the bibliography files hold no entry (or are not BibTeX) while records cite keys",
    "bib-mismatch": "the record's year, DOI, title or authors differ from its bibliography "
    "entry (warning)",
    "merge-conflict": "a leftover git conflict marker in any file of the studies directory",
    **COLLECT_RULES,
}

#: Problems in a bibliography that may hide an entry: citations are not checked then.
_BIB_UNSURE = frozenset({"bib-syntax", "bib-unreadable", "merge-conflict"})


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

    @property
    def stem(self) -> str:
        """The file name without ``.yaml``: a record's id should equal it."""
        return Path(self.path).stem


def validate_paths(
    paths: Iterable[str | os.PathLike[str]] = ("studies",), today: datetime.date | None = None
) -> list[Problem]:
    """Check record files and directories; return every problem, sorted.

    Parameters
    ----------
    paths : iterable of str or path-like
        Record files (``*.yaml``), bibliographies (``*.bib``) or directories. A directory
        stands for every ``*.yaml`` in it plus its bibliography files (``*.bib``). A
        record file is checked against the bibliography files beside it.
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
        A directory of ``*.yaml`` records with its bibliography files, or one record file.
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
    found = collect(paths)
    problems = found.problems
    workers = _workers(len(found.records))
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # the records are checked in worker processes while this one reads the
        # bibliographies; the results come back in file order
        size = -(-len(found.records) // (4 * workers))
        chunks = [found.records[i : i + size] for i in range(0, len(found.records), size)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_check_files, chunk, today, build) for chunk in chunks]
            bibs = _load_bibliographies(list(found.groups.values()), found.lone_bibs)
            checked = [item for future in futures for item in future.result()]
    else:
        bibs = {}
        checked = _check_files(found.records, today, build)
    problems += _check_across(checked)
    groups = list(found.groups.values())
    problems += _check_bibliographies(checked, groups, found.lone_bibs, bibs)
    problems += _check_other_files(found.others)
    return checked, problems


#: Fewest record files worth checking in worker processes: below it, starting them costs
#: more than it saves (benchmarks/validate_records.py).
PARALLEL_MIN_RECORDS = 400
#: Most worker processes (each holds its share of the records until they are sent back).
MAX_WORKERS = 4


def _workers(records: int) -> int:
    """How many processes check ``records`` files: 1 below :data:`PARALLEL_MIN_RECORDS`."""
    if records < PARALLEL_MIN_RECORDS or os.name != "posix":
        return 1
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_WORKERS, records // (PARALLEL_MIN_RECORDS // 2)))


def _check_files(records: Sequence[Path], today: datetime.date, build: bool) -> list[CheckedFile]:
    """Check record files one by one in this process (a worker's share, or all of them)."""
    schema = study_schema()
    validator = compiled_study_schema()
    vocabulary, fields = default_vocabulary(), vocabulary_fields(schema)
    with _gc_paused():
        return [
            _check_file(record_path, validator, vocabulary, fields, today, build)
            for record_path in records
        ]


@cache
def compiled_study_schema() -> Draft202012Validator:
    """Return the record schema's validator, compiled once per process."""
    return compile_schema(study_schema())


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
        loaded_at = {(p.line, p.column) for p in found}  # one problem per node is enough
        found += [
            p
            for p in check_schema(data, loaded.positions, validator, loaded.path)
            if (p.line, p.column) not in loaded_at
        ]
        found += RecordChecker(loaded, vocabulary, fields, today).run()
        anchors = {where: loaded.positions.of(where) for where in _anchor_paths(data)}
        if build and not errors_in(found):
            study = build_study(loaded)
    return CheckedFile(loaded.path, data, tuple(found), anchors, study)


#: Top-level fields compared with the bibliography entry (``bib-mismatch``).
_BIB_FIELDS = ("year", "doi", "title", "authors")


def _anchor_paths(data: dict[str, Any]) -> list[tuple[str | int, ...]]:
    """Fields the rules across files report on: id, the bibliographic fields, citations."""
    return [
        ("id",),
        *((name,) for name in _BIB_FIELDS if name in data),
        *(where for where, _ in _citations(data)),
    ]


def _check_other_files(paths: Sequence[Path]) -> list[Problem]:
    """Conflict markers in the files of a studies directory that are not records or bibs."""
    problems: list[Problem] = []
    for path in paths:
        try:
            if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_BYTES:
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        problems += conflict_problems(text, display_path(path))
    return problems


# ------------------------------------------------------------------------ across records


def _check_across(checked: Sequence[CheckedFile]) -> list[Problem]:
    """``duplicate-id`` and ``duplicate-doi`` across record files, reported at the copy.

    Of the files sharing an id (or a DOI), the original is the first whose file name is
    its id; every other one is reported, naming the original. A record copied to
    ``steptoe2013-copy.yaml`` is the one blamed, wherever it sorts.
    """
    problems: list[Problem] = []
    by_id: dict[str, list[CheckedFile]] = {}
    by_doi: dict[str, list[CheckedFile]] = {}
    for item in checked:
        data = item.data
        if data is None:
            continue
        if isinstance(data.get("id"), str):
            by_id.setdefault(data["id"], []).append(item)
        if isinstance(data.get("doi"), str):
            by_doi.setdefault(data["doi"].lower(), []).append(item)
    for record_id, items in by_id.items():
        if len(items) < 2:
            continue
        original, *copies = _originals_first(items)
        for copy in copies:
            problems.append(
                _at(
                    copy,
                    ("id",),
                    f"id '{record_id}' is also the id of {original.path}; give this record "
                    f"its own id (a copy of a record needs a new id and file name)",
                    "duplicate-id",
                )
            )
    for items in by_doi.values():
        ordered = _originals_first(items)
        for index, item in enumerate(ordered[1:], start=1):
            problems += _doi_problems(item, ordered[:index], (item.data or {})["doi"])
    return problems


def _originals_first(items: list[CheckedFile]) -> list[CheckedFile]:
    """Files whose name is their id first (in file order), then the others."""
    return sorted(items, key=lambda c: (c.stem != (c.data or {}).get("id"), c.path))


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


# ------------------------------------------------------------------------ bibliography


def _load_bibliographies(groups: list[BibGroup], lone: list[Path]) -> dict[Path, Bibliography]:
    """Read every bibliography file named by ``groups`` and ``lone``, by path."""
    paths = [*lone, *(path for group in groups for path in group.files)]
    return {path: load_bibliography(path) for path in dict.fromkeys(paths)}


def _check_bibliographies(
    checked: Sequence[CheckedFile],
    groups: list[BibGroup],
    lone: list[Path],
    read: dict[Path, Bibliography] | None = None,
) -> list[Problem]:
    """Read each directory's bibliography files; check citations, unused entries, mismatches.

    ``read`` holds bibliographies already read (by path); the others are read here.
    """
    read = {} if read is None else read
    problems: list[Problem] = []
    for path in lone:
        problems += (read.get(path) or load_bibliography(path)).problems
    by_directory: dict[Path, list[CheckedFile]] = {}
    folders: dict[Path, Path] = {}
    for item in checked:
        folder = Path(item.path).parent
        if folder not in folders:
            folders[folder] = folder.resolve()
        by_directory.setdefault(folders[folder], []).append(item)
    for group in groups:
        records = by_directory.get(group.directory.resolve(), [])
        problems += _check_group(group, records, read)
    return problems


def _check_group(
    group: BibGroup, records: list[CheckedFile], read: dict[Path, Bibliography]
) -> list[Problem]:
    """Apply the rules of one directory's bibliography against the records in it."""
    bibs = [read.get(path) or load_bibliography(path) for path in group.files]
    problems = [p for bib in bibs for p in bib.problems]
    entries: dict[str, tuple[Bibliography, BibEntry]] = {}
    for bib in bibs:
        for entry in bib.entries:
            first = entries.get(entry.key.lower())
            if first is not None and first[0] is not bib:
                problems.append(
                    Problem(
                        bib.path,
                        entry.line,
                        entry.column,
                        f"entry key '{entry.key}' is also defined in {first[0].path} "
                        f"(line {first[1].line}); keep one of them",
                        "bib-duplicate",
                    )
                )
            elif first is None:
                entries[entry.key.lower()] = (bib, entry)
    unsure = any(p.rule in _BIB_UNSURE for p in problems)
    cited: set[str] = set()
    unread = False
    for item in records:
        if item.data is None:
            unread = True  # a record that could not be read may cite any entry
            continue
        for node_path, citation in _citations(item.data):
            cited.add(citation.lower())
            found = entries.get(citation.lower())
            if found is None and entries and not unsure:
                problems.append(_missing_citation(item, node_path, citation, group, entries))
            elif found is not None and node_path == ("citation",):
                problems += _mismatches(item, found[1])
    if not entries and not unsure and cited and group.files:
        example = sorted(cited)[0]
        problems.append(
            Problem(
                bibs[0].path,
                0,
                0,
                f"holds no BibTeX entry, but records cite {len(cited)} key"
                f"{'s' * (len(cited) != 1)} (e.g. '{example}'); add an entry for each "
                "(is it the bibliography you meant?)",
                "bib-empty",
            )
        )
    if group.check_unused and not unread:
        for bib, entry in entries.values():
            if entry.key.lower() not in cited:
                problems.append(
                    Problem(
                        bib.path,
                        entry.line,
                        1,
                        f"entry '{entry.key}' is cited by no record",
                        "bib-unused",
                        "warning",
                    )
                )
    return problems


def _missing_citation(
    item: CheckedFile,
    node_path: tuple[str | int, ...],
    citation: str,
    group: BibGroup,
    entries: dict[str, tuple[Bibliography, BibEntry]],
) -> Problem:
    own = display_path(Path(item.path).with_suffix(".bib"))
    shared = display_path(group.directory / BIB_NAME)
    hint = did_you_mean(citation, [e.key for _, e in entries.values()])
    return _at(
        item,
        node_path,
        f"citation key '{citation}' is in no bibliography file ({own}, {shared}, ...){hint}; "
        f"add the study's BibTeX entry as {own}",
        "citation-missing",
    )


def _mismatches(item: CheckedFile, entry: BibEntry) -> list[Problem]:
    """Warn where the record's year, DOI, title or authors differ from its bib entry."""
    data = item.data or {}
    problems = []
    wrong = {(p.line, p.column) for p in item.problems if p.severity == "error"}
    for name in _BIB_FIELDS:
        mine = data.get(name)
        bib_field = entry.get("author" if name == "authors" else name)
        if mine is None or bib_field is None or item.anchors.get((name,)) in wrong:
            continue
        theirs: Any = bib_field.value
        if name == "authors":
            same = [_plain(a) for a in mine if isinstance(a, str)] == [
                _plain(a) for a in re.split(r"\s+and\s+", theirs)
            ]
        elif name == "year":
            same = str(mine) == _plain(theirs)
        else:
            same = _plain(str(mine)) == _plain(theirs)
        if not same:
            shown = theirs if len(theirs) <= 80 else theirs[:77] + "..."
            problems.append(
                Problem(
                    item.path,
                    *item.anchors.get((name,), (1, 1)),
                    f"{name} differs from the bibliography entry '{entry.key}' "
                    f"({name if name != 'authors' else 'author'} = {{{shown}}}); correct "
                    "whichever is wrong",
                    "bib-mismatch",
                    "warning",
                )
            )
    return problems


def _plain(text: str) -> str:
    """Text as BibTeX means it, without case or a final full stop, for comparisons."""
    return plain_text(text).lower().rstrip(".")


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
