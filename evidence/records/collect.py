"""Which files a validation reads: record files, bibliography files, and what is never loaded.

A studies directory holds one record per study, ``<id>.yaml``, usually with its own
BibTeX entry ``<id>.bib`` beside it, the shared ``references.bib``, the generated field
reference ``README.md`` and, optionally, the PRISMA counts ``screening.yaml`` (read by the
site, never as a record). Everything else is never loaded, and a reviewer should know:
a record in ``studies/drafts/`` or saved as ``steptoe2013.YAML`` is silently absent from
every analysis. :func:`collect` lists what is read and reports the rest:

- ``wrong-extension`` (error): a file that looks like a record but is not named
  ``*.yaml`` (``.yml``, ``.YAML``, ``.Yaml``), so the loader never reads it;
- ``file-not-loaded`` (warning): any other file or subdirectory that is never read;
- ``no-records`` (warning), ``bib-missing`` (error), ``file-unreadable`` and
  ``link-outside`` (errors) as before.

Only names and file metadata are read here (one ``scandir`` per directory); the content
is read by the loaders.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evidence.errors import Problem
from evidence.records.bib import BIB_NAME
from evidence.records.safefs import input_problem
from evidence.records.yamlio import display_path

#: The site's PRISMA counts: a YAML file in the studies directory that is not a record.
SCREENING_NAME = "screening.yaml"

#: Files of a studies directory that are expected and not records.
EXPECTED_NAMES = frozenset({"README.md", SCREENING_NAME})

#: Rules reported here, with what each one means.
COLLECT_RULES = {
    "wrong-extension": "a record file named *.yml or *.YAML, which the loader never reads",
    "file-not-loaded": "a file or subdirectory of the studies directory that is never read "
    "(warning)",
    "no-records": "a directory given to check holds no record files (warning)",
    "bib-missing": "a studies directory without any bibliography file",
    "link-outside": "a record or bibliography that is a symbolic link out of its directory "
    "(never read)",
}


@dataclass
class BibGroup:
    """The bibliography files records of one directory resolve their citations against.

    ``check_unused`` is true when the whole directory was given, so that an entry no record
    cites can be reported (with a single record file the set of records is not complete).
    """

    directory: Path
    files: list[Path] = field(default_factory=list)
    check_unused: bool = False


@dataclass
class Collected:
    """Everything one validation reads, and the problems found while listing it."""

    records: list[Path] = field(default_factory=list)
    groups: dict[Path, BibGroup] = field(default_factory=dict)
    lone_bibs: list[Path] = field(default_factory=list)
    others: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _problem(path: Path, message: str, rule: str, severity: str = "error") -> Problem:
    return Problem(display_path(path), 0, 0, message, rule, severity)  # type: ignore[arg-type]


def wrong_extension(path: Path) -> Problem:
    """Report a record saved under an extension the loader does not read."""
    return _problem(
        path,
        f"record files end in .yaml (lowercase); rename it to {path.stem}.yaml "
        f"(a {path.suffix} file is never loaded)",
        "wrong-extension",
    )


def _looks_like_record(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml") and path.suffix != ".yaml"


def collect(paths: Iterable[str | os.PathLike[str]]) -> Collected:
    """Expand the paths given to ``evidence validate`` into the files to read.

    A directory stands for every ``*.yaml`` in it (but ``screening.yaml``) and every
    ``*.bib``; a record file for itself, checked against the bibliography files beside it;
    a ``.bib`` file for a syntax check of itself.
    """
    found = Collected()
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            found.problems.append(_problem(path, "no such file or directory", "file-unreadable"))
        elif path.is_dir():
            _collect_directory(path, found)
        elif path.suffix == ".bib":  # syntax only: which records cite it is not known
            if _kept(path, path.parent, found, "bib-unreadable"):
                found.lone_bibs.append(path)
        elif _looks_like_record(path):
            found.problems.append(wrong_extension(path))
        elif path.suffix == ".yaml":
            if path.name == SCREENING_NAME:
                continue  # the site's PRISMA counts, not a record
            if not _kept(path, path.parent, found):
                continue
            found.records.append(path)
            group = _group(found, path.parent)
            if not group.files:
                group.files = _bib_files(path.parent, found)
        else:
            found.problems.append(
                _problem(
                    path,
                    "not a record file (*.yaml), a bibliography (*.bib) or a directory",
                    "file-unreadable",
                )
            )
    folders: dict[Path, Path] = {}
    by_resolved: dict[Path, Path] = {}
    for record in found.records:  # the first name of each file, in order
        by_resolved.setdefault(_resolved(record, folders), record)
    found.records = list(by_resolved.values())
    found.problems = list(dict.fromkeys(found.problems))
    return found


def _resolved(path: Path, folders: dict[Path, Path]) -> Path:
    """``path.resolve()``, resolving each folder once (a file that is a link: in full)."""
    if path.is_symlink():
        return path.resolve()
    if path.parent not in folders:
        folders[path.parent] = path.parent.resolve()
    return folders[path.parent] / path.name


def _group(found: Collected, directory: Path) -> BibGroup:
    key = directory.resolve()
    if key not in found.groups:
        found.groups[key] = BibGroup(directory)
    return found.groups[key]


def _kept(path: Path, root: Path, found: Collected, rule: str = "file-unreadable") -> bool:
    """Whether ``path`` is a regular file inside ``root``; otherwise report it."""
    problem = input_problem(path, root, rule)
    if problem is not None:
        found.problems.append(problem)
    return problem is None


def _bib_files(directory: Path, found: Collected) -> list[Path]:
    """List the readable bibliography files of ``directory`` (references.bib first)."""
    names = []
    try:
        with os.scandir(directory) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(".bib"))
    except OSError:
        return []
    ordered = [BIB_NAME] if BIB_NAME in names else []
    ordered += [name for name in names if name != BIB_NAME]
    return [
        p for p in (directory / n for n in ordered) if _kept(p, directory, found, "bib-unreadable")
    ]


def _collect_directory(directory: Path, found: Collected) -> None:
    """Sort the entries of a studies directory into records, bibliographies and the rest."""
    records, bibs, not_loaded = [], [], []
    try:
        with os.scandir(directory) as scanned:
            entries = sorted(scanned, key=lambda e: e.name)
    except OSError as exc:
        found.problems.append(
            _problem(
                directory, f"cannot list: {(exc.strerror or str(exc)).lower()}", "file-unreadable"
            )
        )
        return
    for entry in entries:
        path = directory / entry.name
        if entry.name.startswith("."):
            continue
        if entry.name.endswith(".yaml") and entry.name != SCREENING_NAME:
            records.append(path)
        elif entry.name.endswith(".bib"):
            bibs.append(entry.name)
        elif _looks_like_record(path) and not entry.is_dir(follow_symlinks=False):
            found.problems.append(wrong_extension(path))
        elif entry.name in EXPECTED_NAMES:
            found.others.append(path)
        else:
            not_loaded.append((path, entry.is_dir(follow_symlinks=False)))
    found.problems += [_not_loaded(path, is_dir) for path, is_dir in not_loaded]
    if not records:
        found.problems.append(
            _problem(
                directory,
                "no record files (*.yaml) in this directory",
                "no-records",
                "warning",
            )
        )
    found.records += [p for p in records if _kept(p, directory, found)]
    group = _group(found, directory)
    group.check_unused = True
    ordered = ([BIB_NAME] if BIB_NAME in bibs else []) + [b for b in bibs if b != BIB_NAME]
    group.files = [
        p for p in (directory / b for b in ordered) if _kept(p, directory, found, "bib-unreadable")
    ]
    for path, is_dir in not_loaded:
        found.others += _files_under(path) if is_dir else [path]
    if not bibs and records:
        found.problems.append(
            _problem(
                directory / BIB_NAME,
                f"no bibliography beside the records; give each study's BibTeX entry as "
                f"{display_path(directory)}/<id>.bib (evidence new --bib writes it) or add it "
                f"to {BIB_NAME}",
                "bib-missing",
            )
        )


#: Most files under one subdirectory that are scanned for conflict markers.
_MAX_SCANNED = 1000


def _files_under(directory: Path) -> list[Path]:
    """Files under ``directory`` (not following links), at most :data:`_MAX_SCANNED`."""
    found: list[Path] = []
    for root, _dirs, files in os.walk(directory):
        found += [Path(root) / name for name in sorted(files)]
        if len(found) >= _MAX_SCANNED:
            break
    return found[:_MAX_SCANNED]


def _not_loaded(path: Path, is_dir: bool) -> Problem:
    """Report a file or subdirectory of the studies directory that no command reads."""
    if is_dir:
        names = []
        for root, _dirs, files in os.walk(path):
            names += [os.path.relpath(os.path.join(root, f), path) for f in sorted(files)]
            if len(names) > 3:
                break
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        holding = f" (it holds {shown})" if names else ""
        message = (
            f"subdirectory {path.name}/ is never read{holding}: records are read from "
            f"{display_path(path.parent)}/*.yaml only, so nothing in it is validated or "
            "pooled; move a record up when it is ready"
        )
    else:
        message = (
            f"never loaded: records are {display_path(path.parent)}/<id>.yaml and "
            "bibliographies *.bib; rename or move this file if it is meant as one"
        )
    return _problem(path, message, "file-not-loaded", "warning")
