"""The site's copy of the bibliography (``studies/*.bib``): complete enough to render, safe to link.

sphinxcontrib-bibtex formats entries with a pybtex style and labels citations by author and
year; an entry missing a field the style needs stops the build. The site copy therefore
fills what the source does not give with a visible placeholder (``[title not recorded]``,
``n.d.`` for no date) instead of inventing it, and drops ``url`` fields that are not
``http``/``https`` (so a ``javascript:`` address in a record cannot become a link).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evidence.report.book.escape import safe_url

#: Placeholder for a field the source does not give (shown in the bibliography as is).
NOT_RECORDED = "[{0} not recorded]"

#: Upper bound on fields filled per entry (each round fills one missing field).
_MAX_ROUNDS = 12


def _fill_missing(entry: Any, style: Any) -> None:
    """Format ``entry`` with ``style``, filling each field it reports missing."""
    from pybtex.style.template import FieldIsMissing

    for _ in range(_MAX_ROUNDS):
        try:
            style.format_entry("label", entry)
            return
        except FieldIsMissing as missing:
            entry.fields[missing.field_name] = NOT_RECORDED.format(missing.field_name)


#: The record's own description of a study in a bibliography note (how the corpus
#: records a source whose authors or title the excerpt did not show).
_DESCRIBED = re.compile(
    r"Study as given in the data:\s*(?P<what>[^;]+?)\s*(?:\(authors[^)]*\))?\s*$"
)


def described_title(entry: Any) -> str | None:
    """Return the study as the entry's own note describes it, or None.

    ``note = {...; Study as given in the data: Swedish Lundby Study (authors not shown in
    excerpt)}`` gives ``Swedish Lundby Study``: a title read from the record, not invented.
    """
    match = _DESCRIBED.search(str(entry.fields.get("note", "")))
    return match.group("what").strip() if match else None


def sort_key(key: str, entry: Any) -> tuple[str, str, str]:
    """Order of the site's bibliography: first author's surname (or title), year, key.

    One A to Z run whatever the order of ``references.bib``; braces and case are ignored.
    """
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    first = " ".join(people[0].last_names) if people else ""
    name = first or str(entry.fields.get("title", "")) or key
    return (re.sub(r"[{}\\]", "", name).lower(), str(entry.fields.get("year", "")), key)


def site_bibtex(path: Path | Sequence[Path]) -> str:
    """Return a BibTeX text of ``path`` that the site's citation style can always render.

    ``path`` may be several files (``references.bib`` and the per-study ``<id>.bib``):
    their entries are read into one bibliography, the first definition of a key winning.

    For each entry with no author, editor or title, the title is the study as its note
    describes it (:func:`described_title`), else a placeholder (the author-year label
    falls back to the title); ``year = {n.d.}`` when it has no year; then every field the
    pybtex ``plain`` style requires and the entry lacks gets a placeholder. Non-http(s)
    ``url`` fields are removed. Entries are written in one A to Z order (:func:`sort_key`).
    """
    from pybtex.database import BibliographyData
    from pybtex.database.input.bibtex import Parser  # not parse_file: no plugin lookup
    from pybtex.style.formatting.plain import Style

    data = BibliographyData()
    for one in [path] if isinstance(path, Path) else list(path):
        text = Path(one).read_text(encoding="utf-8").removeprefix("\ufeff")
        for key, entry in Parser().parse_string(text).entries.items():
            if key not in data.entries:
                data.entries[key] = entry
    style = Style()
    for entry in data.entries.values():
        if "url" in entry.fields and safe_url(entry.fields["url"]) is None:
            del entry.fields["url"]
        if (
            not entry.persons.get("author")
            and not entry.persons.get("editor")
            and ("title" not in entry.fields)
        ):
            entry.fields["title"] = described_title(entry) or NOT_RECORDED.format("title")
        if "year" not in entry.fields:
            entry.fields["year"] = "n.d."
        _fill_missing(entry, style)
    ordered = sorted(data.entries.items(), key=lambda item: sort_key(*item))
    return "\n".join(_entry_text(key, entry) for key, entry in ordered)


def _names(people: list[Any]) -> str:
    """Return a BibTeX name list; ``X and others`` -> ``{X et al.}`` (one literal name)."""
    named = [person for person in people if str(person) != "others"]
    if len(named) == len(people) or not named:
        return " and ".join(str(person) for person in people)
    surnames = ", ".join(" ".join(person.last_names) for person in named)
    return "{" + surnames + " et al.}"


def _entry_text(key: str, entry: Any) -> str:
    r"""Write one entry back as BibTeX, keeping field values exactly as parsed.

    pybtex's own writer LaTeX-encodes values again (``\&`` becomes ``\\&``), so
    entries are written here with their raw values in braces. A name list ending in
    ``and others`` becomes one literal name ``{Surname et al.}``: both the citation style
    and the bibliography style would otherwise print "Surname and others".
    """
    lines = [f"@{entry.type}{{{key},"]
    for role, people in entry.persons.items():
        lines.append(f"  {role} = {{{_names(people)}}},")
    for name, value in entry.fields.items():
        lines.append(f"  {name} = {{{value}}},")
    lines.append("}")
    return "\n".join(lines) + "\n"
