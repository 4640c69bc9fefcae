"""The site's copy of ``studies/references.bib``: complete enough to render, safe to link.

sphinxcontrib-bibtex formats entries with a pybtex style and labels citations by author and
year; an entry missing a field the style needs stops the build. The site copy therefore
fills what the source does not give with a visible placeholder (``[title not recorded]``,
``n.d.`` for no date) instead of inventing it, and drops ``url`` fields that are not
``http``/``https`` (so a ``javascript:`` address in a record cannot become a link).
"""

from __future__ import annotations

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


def site_bibtex(path: Path) -> str:
    """Return a BibTeX text of ``path`` that the site's citation style can always render.

    For each entry: a ``title`` placeholder when it has no author, editor or title (the
    author-year label falls back to the title); ``year = {n.d.}`` when it has no year; then
    every field the pybtex ``plain`` style requires and the entry lacks gets a placeholder.
    Non-http(s) ``url`` fields are removed.
    """
    from pybtex.database import parse_file
    from pybtex.style.formatting.plain import Style

    data = parse_file(str(path), "bibtex")
    style = Style()
    for entry in data.entries.values():
        if "url" in entry.fields and safe_url(entry.fields["url"]) is None:
            del entry.fields["url"]
        if (
            not entry.persons.get("author")
            and not entry.persons.get("editor")
            and ("title" not in entry.fields)
        ):
            entry.fields["title"] = NOT_RECORDED.format("title")
        if "year" not in entry.fields:
            entry.fields["year"] = "n.d."
        _fill_missing(entry, style)
    return "\n".join(_entry_text(key, entry) for key, entry in data.entries.items())


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
