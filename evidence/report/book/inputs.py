"""Read what the site is made from: results files, the bibliography and screening counts.

The book never re-fits. It reads ``build/results/index.json``, ``<id>.json`` and
``<id>-effects.csv`` (the "Results files" contract in ARCHITECTURE.md), the figures the
runner wrote under ``build/figures/``, ``studies/references.bib`` and, when supplied,
``studies/screening.yaml``. A file that cannot be read becomes a
:class:`~evidence.errors.Problem`, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.errors import Problem, unescape_spreadsheet
from evidence.records.safefs import input_problem
from evidence.report.book.escape import slug

#: Largest results or screening file read, in bytes (a guard against runaway inputs).
MAX_FILE_BYTES = 50_000_000


@dataclass(frozen=True)
class AnalysisResults:
    """One analysis as the runner left it: its results document and effects table."""

    id: str
    page: str
    result: Mapping[str, Any]
    effects: tuple[Mapping[str, str], ...]
    json_path: Path | None = None
    csv_path: Path | None = None
    history: Mapping[str, Any] | None = None  # build/history/<id>.json (evidence history)


@dataclass(frozen=True)
class Bibliography:
    """Keys and short labels of the entries in ``references.bib``."""

    path: Path | None
    keys: frozenset[str]
    labels: Mapping[str, str] = field(default_factory=dict)
    titles: Mapping[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(
                Problem(str(path), 0, 0, "file is too large to read", "book-input-size")
            )
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(path), 0, 0, f"cannot read: {exc}", "book-input-read"))
        return None


def _read_json(path: Path, problems: list[Problem]) -> Any:
    text = _read_text(path, problems)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(
            Problem(str(path), exc.lineno, exc.colno, f"invalid JSON: {exc.msg}", "book-input-json")
        )
        return None


def _read_effects(path: Path, problems: list[Problem]) -> tuple[Mapping[str, str], ...]:
    text = _read_text(path, problems) if path.exists() else None
    if text is None:
        return ()
    # Rows end at CR/LF only (not at U+2028 and the other breaks str.splitlines knows),
    # a newline inside a quoted field stays in it, and a long free-text cell (the csv
    # module stops at 131,072 characters by default) is no reason to fail.
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(max(limit, len(text)))
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        problems.append(Problem(str(path), 0, 0, f"unreadable CSV: {exc}", "book-input-csv"))
        return ()
    finally:
        csv.field_size_limit(limit)
    return tuple(
        {
            key: unescape_spreadsheet(value) if isinstance(value, str) else value
            for key, value in row.items()
        }
        for row in rows
    )


def _analysis_ids(results_dir: Path, problems: list[Problem]) -> list[str]:
    """Analysis ids in ``index.json`` order, then any other ``<id>.json`` by file name."""
    ordered: list[str] = []
    index_path = results_dir / "index.json"
    if index_path.exists():
        index = _read_json(index_path, problems)
        if isinstance(index, list):
            ordered = [str(row["id"]) for row in index if isinstance(row, dict) and "id" in row]
    others = sorted(p.stem for p in results_dir.glob("*.json") if p.name != "index.json")
    return ordered + [name for name in others if name not in ordered]


def load_results(results_dir: Path) -> tuple[list[AnalysisResults], list[Problem]]:
    """Read every analysis in ``results_dir`` (missing directory: no analyses, no problem).

    Returns
    -------
    (analyses, problems)
        Analyses in ``index.json`` order; a problem for each unreadable file.
    """
    problems: list[Problem] = []
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return [], problems
    analyses: list[AnalysisResults] = []
    pages: set[str] = set()
    for identifier in _analysis_ids(results_dir, problems):
        json_path = results_dir / f"{identifier}.json"
        if not json_path.exists():
            problems.append(
                Problem(
                    str(results_dir / "index.json"),
                    0,
                    0,
                    f"analysis {identifier!r} has no results file",
                    "book-missing-results",
                )
            )
            continue
        result = _read_json(json_path, problems)
        if not isinstance(result, dict):
            if result is not None:
                problems.append(
                    Problem(str(json_path), 1, 1, "expected a JSON object", "book-input-json")
                )
            continue
        csv_path = results_dir / f"{identifier}-effects.csv"
        page = slug(identifier)
        if page in pages:
            continue
        pages.add(page)
        history_path = results_dir.parent / "history" / f"{identifier}.json"
        history = _read_json(history_path, problems) if history_path.is_file() else None
        analyses.append(
            AnalysisResults(
                identifier,
                page,
                result,
                _read_effects(csv_path, problems),
                json_path,
                csv_path if csv_path.exists() else None,
                history if isinstance(history, dict) else None,
            )
        )
    return analyses, problems


def load_bibliography(path: Path) -> tuple[Bibliography, list[Problem]]:
    """Read the citation keys of a bibliography with pybtex (no file: empty).

    ``path`` is one ``.bib`` file, or a studies directory: then every bibliography file
    in it is read, ``references.bib`` and the per-study ``<id>.bib``
    (:func:`evidence.records.bib.bibliography_files`). A file that is not a regular file
    inside its directory (a symbolic link out of it, a FIFO) is a problem and is never read.
    """
    from pybtex.database import BibliographyData
    from pybtex.database.input.bibtex import Parser  # not parse_string: no plugin lookup
    from pybtex.scanner import PybtexError

    from evidence.records.bib import bibliography_files, expansion_problems
    from evidence.report.book.bibfile import described_title

    problems: list[Problem] = []
    path = Path(path)
    paths = bibliography_files(path) if path.is_dir() else [path]
    merged = BibliographyData()
    files: list[Path] = []
    for one in paths:
        if not one.exists() and not one.is_symlink():
            continue
        unsafe = input_problem(one, one.parent, "bib-unreadable")
        if unsafe is not None:  # a link out of studies/, a FIFO, ...: never read
            problems.append(unsafe)
            continue
        text = _read_text(one, problems)
        if text is None:
            continue
        too_large = expansion_problems(text.removeprefix("\ufeff"), one)
        if too_large:  # pybtex would expand every macro in memory
            problems += too_large
            continue
        try:
            data = Parser().parse_string(text.removeprefix("\ufeff"))
        except PybtexError as exc:
            problems.append(Problem(str(one), 0, 0, f"cannot parse: {exc}", "book-bibtex"))
            continue
        files.append(one)
        for key, entry in data.entries.items():
            if key not in merged.entries:
                merged.entries[key] = entry
    if not files:
        return Bibliography(None, frozenset()), problems
    data = merged
    labels, titles = {}, {}
    for key, entry in data.entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        surname = (
            " ".join(people[0].last_names).replace("{", "").replace("}", "") if (people) else ""
        )
        if len(people) > 2 or any(p.last_names == ["others"] for p in people):
            surname += " et al."
        elif len(people) == 2:
            surname += " and " + " ".join(people[1].last_names).replace("{", "").replace("}", "")
        year = entry.fields.get("year", "")
        title = str(entry.fields.get("title", "")).replace("{", "").replace("}", "")
        if not surname and not title:
            title = described_title(entry) or ""
        name = surname or title
        if name:
            labels[key] = f"{name} ({year})" if year else name
        titles[key] = title
    return (
        Bibliography(files[0], frozenset(data.entries.keys()), labels, titles, tuple(files)),
        problems,
    )
