"""Scaffold a new study record: ``evidence new ID``.

The skeleton is generated from ``evidence/schema/study.schema.json`` (titles, descriptions,
``required`` and ``examples`` of every field), so it cannot drift from the schema. Every
field comes with its description as a comment. Required fields are written with an empty
value, so the record fails validation until a reviewer fills them in; optional fields are
commented out with their example value, ready to uncomment.

With ``--bib FILE`` the single BibTeX entry in FILE is checked (pybtex and the validator's
bibliography rules) and written, verbatim, to ``studies/<id>.bib`` beside the record (one
file per study: two pull requests adding different studies never conflict); its key
becomes the record's ``citation``, and its year, title, authors and DOI fill the record's
fields. Nothing is downloaded: ``--doi`` only fills the ``doi`` field.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evidence.errors import EvidenceError, Problem, read_error
from evidence.records.safefs import check_input, input_problem

#: First line of every record: lets editors (yaml-language-server) check and complete it.
SCHEMA_HEADER = "# yaml-language-server: $schema=../evidence/schema/study.schema.json"

#: Width the comment lines are wrapped to.
COMMENT_WIDTH = 96

#: A top-level ``cohort: key`` line of a record.
COHORT_LINE = re.compile(r"^cohort:[ \t]*([^\s#]+)", re.MULTILINE)

INTRODUCTION = """\
# New study record. Fill in every field, then check it with `evidence validate studies`.
# Required fields have an empty value: replace it with the study's own value.
# Optional fields are commented out with an example value: uncomment and edit the ones the
# source gives, delete the others. Copy numbers exactly as printed and quote the source.
# Field reference: studies/README.md. Vocabularies: evidence/schema/vocabulary.yaml."""


@dataclass(frozen=True)
class FieldLine:
    """One field of the skeleton, in schema order.

    ``depth`` counts nesting levels; ``list_item`` marks the first field of an item of a
    list of objects (written after ``- ``); ``example`` is ``None`` for a field that opens
    a nested mapping or list; ``in_example`` marks an optional field that the enclosing
    object's own schema example uses.
    """

    depth: int
    key: str
    required: bool
    description: str
    example: Any
    opens_block: bool
    list_item: bool = False
    in_example: bool = False


@cache
def study_schema() -> dict[str, Any]:
    """Load the study record's JSON Schema shipped with the package."""
    text = resources.files("evidence").joinpath("schema/study.schema.json").read_text("utf-8")
    return json.loads(text)


def id_pattern() -> re.Pattern[str]:
    """Return the pattern a study id must match (the schema's ``id.pattern``)."""
    return re.compile(study_schema()["properties"]["id"]["pattern"])


def skeleton_fields(schema: Mapping[str, Any] | None = None) -> list[FieldLine]:
    """Walk the schema and list the skeleton's fields in schema order.

    Objects recurse into their ``properties`` (``$ref`` to ``#/$defs/...`` resolved);
    a list of objects contributes one item whose first field is marked ``list_item``;
    every other field is a leaf with its first ``examples`` value.
    """
    root = dict(schema or study_schema())
    return list(_walk(root, root, depth=0, required_here=True))


def render_skeleton(
    study_id: str,
    citation: str | None = None,
    doi: str | None = None,
    *,
    fill_examples: bool = False,
    cohorts: Sequence[str] = (),
    filled: Mapping[str, Any] | None = None,
) -> str:
    """Render the commented record skeleton for ``study_id``.

    Parameters
    ----------
    study_id : str
        The record id (and file stem).
    citation, doi : str, optional
        Pre-filled values; ``citation`` defaults to ``study_id``.
    fill_examples : bool
        Write every required field, and every optional field that its object's schema
        example uses (e.g. ``value`` and ``ci`` of a statistic), with its schema example
        instead of an empty value or a comment (used to check that the skeleton, once
        filled, is a valid record).
    cohorts : sequence of str
        Cohort keys already used by other records, listed above the ``cohort`` field so
        that a study of a known sample reuses its key.
    filled : mapping, optional
        Top-level fields taken from the BibTeX entry (``year``, ``title``, ``authors``,
        ``doi``; :func:`fields_from_entry`), written as values rather than left empty.

    Returns
    -------
    str
        YAML text starting with :data:`SCHEMA_HEADER`, ending with a newline.
    """
    known: dict[str, Any] = {"id": study_id, "citation": citation or study_id, "doi": doi}
    known.update({k: v for k, v in (filled or {}).items() if v is not None and k not in known})
    if doi is None and (filled or {}).get("doi"):
        known["doi"] = filled["doi"]  # type: ignore[index]
    lines = [SCHEMA_HEADER, INTRODUCTION]
    commented_depth: int | None = None
    for field in skeleton_fields():
        if commented_depth is not None and field.depth > commented_depth:
            lines.append(_field_text(field, commented=True, value=field.example))
            continue
        commented_depth = None
        if field.depth == 0 and field.key == "cohort" and cohorts:
            lines.append(_wrap_comment("Cohort keys in use: " + ", ".join(cohorts) + ".", ""))
        value = known.get(field.key) if field.depth == 0 else None
        if value is not None:
            lines.append(_field_text(field, commented=False, value=value))
        elif fill_examples and (field.required or field.in_example):
            lines.append(_field_text(field, commented=False, value=field.example))
        elif field.required:
            lines.append(_field_text(field, commented=False, value=None))
        else:
            lines.append(_field_text(field, commented=True, value=field.example))
            commented_depth = field.depth if field.opens_block else None
    return "\n".join(lines) + "\n"


def _walk(
    node: Mapping[str, Any], root: Mapping[str, Any], depth: int, required_here: bool
) -> Iterator[FieldLine]:
    required = set(node.get("required", ()))
    examples = node.get("examples") or [{}]
    example_keys = set(examples[0]) if isinstance(examples[0], Mapping) else set()
    for key, raw in node.get("properties", {}).items():
        spec = _resolve(raw, root)
        is_required = key in required and required_here
        in_example = key in example_keys and required_here
        description = _describe(spec, is_required)
        items = _resolve(spec.get("items", {}), root)
        if spec.get("type") == "object" and "properties" in spec:
            yield FieldLine(depth, key, is_required, description, None, True)
            yield from _walk(spec, root, depth + 1, is_required)
        elif spec.get("type") == "array" and items.get("type") == "object":
            yield FieldLine(depth, key, is_required, description, None, True)
            for index, child in enumerate(_walk(items, root, depth + 1, is_required)):
                yield dataclasses.replace(child, list_item=True) if index == 0 else child
        else:
            example = _example(spec)
            yield FieldLine(depth, key, is_required, description, example, False, False, in_example)


def _resolve(spec: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/name``) once, keeping sibling keywords."""
    reference = spec.get("$ref")
    if not reference:
        return dict(spec)
    target: Any = root
    for part in reference.removeprefix("#/").split("/"):
        target = target[part]
    return {**target, **{k: v for k, v in spec.items() if k != "$ref"}}


def _describe(spec: Mapping[str, Any], required: bool) -> str:
    title = spec.get("title", "") + (" (required)" if required else "")
    description = spec.get("description", "")
    return f"{title}: {description}" if title and description else title or description


def _example(spec: Mapping[str, Any]) -> Any:
    examples = spec.get("examples") or []
    if examples:
        return examples[0]
    if "enum" in spec:
        return spec["enum"][0]
    return None


def _field_text(field: FieldLine, *, commented: bool, value: Any) -> str:
    """Render one field: its wrapped description comment, then ``key: value``."""
    indent = "  " * field.depth
    lines = [_wrap_comment(field.description, indent)]
    key = field.key
    if field.list_item:
        # the dash sits one level up: "  - id:" opens the first item of the list
        indent = "  " * (field.depth - 1) + "- "
    text = f"{indent}{key}:"
    if not field.opens_block and value is not None:
        text += " " + _yaml_scalar(value)
    if commented:
        text = _comment_out(text)
    lines.append(text)
    return "\n".join(lines)


def _wrap_comment(text: str, indent: str) -> str:
    prefix = f"{indent}# "
    wrapped = textwrap.wrap(text, width=COMMENT_WIDTH - len(prefix), break_on_hyphens=False)
    return "\n".join(prefix + line for line in wrapped)


def existing_cohorts(studies_dir: Path) -> list[str]:
    """Return the sorted ``cohort:`` keys of the records in ``studies_dir`` (top level only)."""
    keys = set()
    for path in studies_dir.glob("*.yaml"):
        if input_problem(path, studies_dir) is not None:  # e.g. a link to /dev/zero
            continue
        with contextlib.suppress(OSError, UnicodeDecodeError):
            keys.update(COHORT_LINE.findall(path.read_text(encoding="utf-8")))
    return sorted(key.strip("'\"") for key in keys)


def _comment_out(text: str) -> str:
    stripped = text.lstrip(" ")
    return text[: len(text) - len(stripped)] + "# " + stripped


def _yaml_scalar(value: Any) -> str:
    """Dump a value on one line in flow style (``[GB]``, ``{a: 1}``, quoted when needed)."""
    dumped = yaml.safe_dump(
        value, default_flow_style=True, width=10_000, allow_unicode=True, sort_keys=False
    )
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


# --- writing the record and the bibliography entry ------------------------------------


@dataclass(frozen=True)
class BibEntry:
    """A BibTeX entry read from a file: its key, its text verbatim, the fields it fills."""

    key: str
    text: str
    fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def fields_from_entry(text: str, shown: str = "<entry>") -> dict[str, Any]:
    """Return the record fields a BibTeX entry gives: ``year``, ``title``, ``authors``, ``doi``.

    Values are taken as written, without the braces that only protect capitals
    (``{UK}`` -> ``UK``); authors are split at ``and`` and kept as written
    (``Steptoe, Andrew``); a DOI loses a ``https://doi.org/`` prefix. A field the entry
    does not give is left out (never guessed).

    Examples
    --------
    >>> fields_from_entry("@article{x, author = {Doe, Jane and Roe, R.}, year = 2001, "
    ...                   "title = {Ties in the {UK}}, doi = {https://doi.org/10.1/x}}")
    {'year': 2001, 'title': 'Ties in the UK', 'authors': ['Doe, Jane', 'Roe, R.'], 'doi': '10.1/x'}
    """
    from evidence.records.bib import load_bibliography
    from evidence.records.bib import plain_text as plain

    bibliography = load_bibliography(shown, text=text)
    if not bibliography.entries:
        return {}
    entry = bibliography.entries[0]
    found: dict[str, Any] = {}

    year = entry.get("year")
    if year is not None and re.fullmatch(r"\d{4}", plain(year.value)):
        found["year"] = int(plain(year.value))
    title = entry.get("title")
    if title is not None and plain(title.value):
        found["title"] = plain(title.value)
    author = entry.get("author")
    if author is not None and plain(author.value):
        found["authors"] = [plain(a) for a in re.split(r"\s+and\s+", author.value) if plain(a)]
    doi = entry.get("doi")
    if doi is not None and plain(doi.value):
        found["doi"] = normalise_doi(plain(doi.value))
    return found


def check_study_id(study_id: str, shown: str) -> list[Problem]:
    """Return a problem unless ``study_id`` is a lowercase slug (the schema's ``id`` pattern)."""
    if id_pattern().fullmatch(study_id):
        return []
    message = (
        f"study id {study_id!r} is not a lowercase slug; use lowercase letters, digits, '-' "
        "and '_', starting with a letter or digit (e.g. steptoe2013)"
    )
    return [Problem(shown, 0, 0, message, "bad-study-id")]


def normalise_doi(doi: str) -> str:
    """Strip a ``https://doi.org/`` or ``doi:`` prefix: records keep the bare DOI.

    Examples
    --------
    >>> normalise_doi("https://doi.org/10.1073/pnas.1219686110")
    '10.1073/pnas.1219686110'
    """
    bare = doi.strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if bare.lower().startswith(prefix):
            return bare[len(prefix) :].strip()
    return bare


def check_doi(doi: str, shown: str) -> list[Problem]:
    """Return a problem unless ``doi`` matches the schema's ``doi`` pattern (``10.NNNN/...``)."""
    if re.fullmatch(study_schema()["properties"]["doi"]["pattern"], doi):
        return []
    message = f"DOI {doi!r} does not look like a DOI (10.NNNN/suffix, without https://doi.org/)"
    return [Problem(shown, 0, 0, message, "bad-doi")]


def read_bib_entry(path: Path) -> BibEntry:
    """Parse ``path`` with pybtex and return its single entry.

    Raises
    ------
    EvidenceError
        When the file cannot be read or parsed, or holds no entry or several entries.
    """
    from pybtex.database import parse_string
    from pybtex.exceptions import PybtexError

    shown = str(path)
    if path.exists() or path.is_symlink():
        check_input(path, rule="bib-unreadable")  # a FIFO would block, a device never end
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(
            [Problem(shown, 0, 0, f"cannot read: {read_error(exc)}", "bib-unreadable")]
        ) from exc
    try:
        data = parse_string(text, "bibtex")
    except PybtexError as exc:  # syntax errors carry a line; duplicate keys do not
        line = getattr(exc, "lineno", None) or 0
        message = f"not a valid BibTeX entry: {exc.args[0] if exc.args else exc}"
        raise EvidenceError(
            [Problem(shown, line, 1 if line else 0, message, "bib-syntax")]
        ) from exc
    keys = list(data.entries.keys())
    if len(keys) != 1:
        message = f"expected exactly one BibTeX entry, found {len(keys)}"
        raise EvidenceError([Problem(shown, 0, 0, message, "bib-entry-count")])
    from evidence.records.bib import load_bibliography

    checked = load_bibliography(shown, text=text)  # the validator's rules, at their lines
    if checked.problems:
        raise EvidenceError(list(checked.problems))
    return BibEntry(keys[0], text.strip() + "\n", fields_from_entry(text, shown))


def existing_bib_keys(path: Path) -> dict[str, Path]:
    """Return the keys of every bibliography file of ``path``'s directory, lower-cased.

    ``path`` is ``references.bib`` (or any file) in the studies directory; keys map to the
    file that defines them (BibTeX keys ignore case).

    Raises
    ------
    EvidenceError
        When a bibliography file cannot be read as UTF-8 text, or is not a regular file
        inside its directory (a symbolic link out of it, a FIFO).
    """
    from evidence.records.bib import bibliography_files

    found: dict[str, Path] = {}
    if not path.parent.is_dir():
        return found
    for bib in bibliography_files(path.parent):
        check_input(bib, bib.parent, "bib-unreadable")
        try:
            text = bib.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise EvidenceError(
                [Problem(str(bib), 0, 0, f"cannot read: {read_error(exc)}", "bib-unreadable")]
            ) from exc
        for key in re.findall(r"@\s*\w+\s*[{(]\s*([^,\s]+)\s*,", text):
            found.setdefault(key.lower(), bib)
    return found


def create_record(
    study_id: str,
    studies_dir: Path,
    bib_file: Path | None = None,
    doi: str | None = None,
) -> Path:
    """Write ``studies_dir/<study_id>.yaml`` and, with a BibTeX entry, ``<study_id>.bib``.

    The study's entry goes into its own file beside the record, so that two pull requests
    adding different studies never touch the same file. The record's ``year``, ``title``,
    ``authors`` and ``doi`` are filled from the entry (``--doi`` wins over the entry's).

    Every check runs before anything is written: the id is a lowercase slug, the record
    and its ``.bib`` do not exist yet, the BibTeX file holds exactly one entry that pybtex
    parses and the validator's bibliography rules accept, and its key is in no
    bibliography file of the directory yet. Nothing is written through a symbolic link: a
    link (even a dangling one) where the record or its ``.bib`` would go is refused (rule
    ``file-is-link``).

    Returns
    -------
    Path
        The record written.

    Raises
    ------
    EvidenceError
        With every problem found; nothing is written then.
    """
    target = studies_dir / f"{study_id}.yaml"
    references = studies_dir / f"{study_id}.bib"
    problems = check_study_id(study_id, str(target))
    if doi is not None:
        doi = normalise_doi(doi)
        problems += check_doi(doi, str(target))
    if studies_dir.exists() and not studies_dir.is_dir():
        problems.append(
            Problem(
                str(studies_dir),
                0,
                0,
                "not a directory; --studies names the directory of records",
                "not-a-directory",
            )
        )
    elif target.is_symlink():
        problems.append(_link_problem(target, "the record"))
    elif target.exists():
        problems.append(
            Problem(str(target), 0, 0, "already exists; edit it instead", "record-exists")
        )
    entry = None
    if bib_file is not None and references.is_symlink():
        problems.append(_link_problem(references, "the BibTeX entry"))
    elif bib_file is not None and references.exists():
        problems.append(
            Problem(str(references), 0, 0, "already exists; edit it instead", "record-exists")
        )
    elif bib_file is not None:
        try:
            entry = read_bib_entry(bib_file)
            known = existing_bib_keys(references) if studies_dir.is_dir() else {}
        except EvidenceError as exc:
            problems.extend(exc.problems)
        else:
            if entry.key.lower() in known:
                where = known[entry.key.lower()]
                message = f"BibTeX key {entry.key!r} is already in {where}; cite it instead"
                problems.append(Problem(str(bib_file), 0, 0, message, "bib-duplicate-key"))
    if problems:
        raise EvidenceError(problems)
    citation = entry.key if entry else study_id
    try:
        studies_dir.mkdir(parents=True, exist_ok=True)
        text = render_skeleton(
            study_id,
            citation=citation,
            doi=doi,
            cohorts=existing_cohorts(studies_dir),
            filled=entry.fields if entry else None,
        )
        with target.open("x", encoding="utf-8") as record:  # "x": never over a file or link
            record.write(text)
        if entry is not None:
            with references.open("x", encoding="utf-8") as bib:
                bib.write(entry.text)
    except OSError as exc:  # e.g. a read-only directory: say so, never a traceback
        where = exc.filename or target
        raise EvidenceError(
            [Problem(str(where), 0, 0, f"cannot write: {read_error(exc)}", "file-unwritable")]
        ) from exc
    return target


def _link_problem(path: Path, what: str) -> Problem:
    """``evidence new`` never writes through a symbolic link: say which link and where to."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return Problem(
        str(path),
        0,
        0,
        f"is a symbolic link to {target}; evidence new does not "
        f"write {what} through a link (replace the link with a regular file, or "
        "remove it)",
        "file-is-link",
    )
