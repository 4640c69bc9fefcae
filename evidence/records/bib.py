"""The bibliography of the study records, ``studies/references.bib``, read with pybtex.

Parsing problems become :class:`~evidence.errors.Problem` objects with the line pybtex
reports (rules ``bib-syntax``, ``bib-duplicate``, ``bib-unreadable``) rather than exceptions.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pybtex.database import BibliographyData, BibliographyDataError
from pybtex.database.input.bibtex import Parser
from pybtex.scanner import PybtexSyntaxError

from evidence.errors import Problem, read_error
from evidence.records.yamlio import display_path

#: Rules this module reports, with what each one means.
BIB_RULES = {
    "bib-unreadable": "references.bib cannot be read as UTF-8 text",
    "bib-syntax": "references.bib is not valid BibTeX (at the line pybtex names)",
    "bib-duplicate": "two bibliography entries share a key (at the second)",
}

#: The bibliography's file name inside a studies directory.
BIB_NAME = "references.bib"

_ENTRY_START = re.compile(r"^\s*@\s*([A-Za-z]+)\s*[({]\s*([^,\s]+)\s*,", re.MULTILINE)


@dataclass(frozen=True)
class Bibliography:
    """Entry keys of one ``.bib`` file with the line each entry starts on."""

    path: str
    lines: dict[str, int] = field(default_factory=dict)
    data: BibliographyData | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def keys(self) -> set[str]:
        """Every entry key (case as written)."""
        return set(self.lines)

    def has(self, key: str) -> bool:
        """Whether ``key`` names an entry (BibTeX keys compare case-insensitively)."""
        lowered = self.__dict__.get("_lowered")
        if lowered is None:
            lowered = frozenset(k.lower() for k in self.lines)
            object.__setattr__(self, "_lowered", lowered)
        return key.lower() in lowered


def load_bibliography(path: str | os.PathLike[str]) -> Bibliography:
    """Parse a BibTeX file with pybtex and record where each entry starts.

    Parameters
    ----------
    path : str or path-like
        The ``.bib`` file.

    Returns
    -------
    Bibliography
        Entry keys with their 1-based line numbers; problems for unreadable files, syntax
        errors (``bib-syntax``, at the line pybtex names) and repeated keys
        (``bib-duplicate``, at the second entry).

    Notes
    -----
    Entry lines come from a scan for ``@type{key,`` because pybtex does not keep positions;
    pybtex itself decides what is valid BibTeX (Patashnik, *BibTeXing*, 1988).
    """
    shown = display_path(path)
    if Path(path).exists() and not Path(path).is_file():  # a FIFO would block the read
        return Bibliography(
            shown,
            problems=(Problem(shown, 0, 0, "cannot read: not a regular file", "bib-unreadable"),),
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Bibliography(
            shown,
            problems=(Problem(shown, 0, 0, f"cannot read: {read_error(exc)}", "bib-unreadable"),),
        )
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    seen_lower: dict[str, int] = {}
    line, counted_to = 1, 0
    for match in _ENTRY_START.finditer(text):
        if match.group(1).lower() in ("comment", "preamble", "string"):
            continue
        key = match.group(2)
        line += text.count("\n", counted_to, match.start(2))
        counted_to = match.start(2)
        if key.lower() in seen_lower:
            problems.append(
                Problem(
                    shown,
                    line,
                    1,
                    f"entry key '{key}' repeats the entry on line {seen_lower[key.lower()]}",
                    "bib-duplicate",
                )
            )
            continue
        seen_lower[key.lower()] = line
        lines[key] = line
    data = None
    if not problems:
        data, parse_problem = _parse(text, shown)
        if parse_problem is not None:
            problems.append(parse_problem)
    return Bibliography(shown, lines, data, tuple(problems))


def _parse(text: str, shown: str) -> tuple[BibliographyData | None, Problem | None]:
    """Run pybtex in strict mode; turn its exceptions into a problem with a line."""
    try:
        # The BibTeX parser itself, not parse_string(text, "bibtex"): that looks the
        # parser up among every installed package's entry points on each call.
        return Parser().parse_string(text), None
    except PybtexSyntaxError as exc:
        line = int(getattr(exc, "lineno", 0) or 0)
        message = str(exc).split(": ", 1)[-1]
        return None, Problem(shown, line, 1, f"BibTeX syntax: {message}", "bib-syntax")
    except BibliographyDataError as exc:
        return None, Problem(shown, 0, 0, f"BibTeX: {exc}", "bib-syntax")
    except Exception as exc:  # pybtex raises assorted errors on malformed input
        return None, Problem(shown, 0, 0, f"BibTeX: {exc}", "bib-syntax")
