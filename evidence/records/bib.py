r"""The bibliography of the study records: ``studies/<id>.bib`` and ``studies/references.bib``.

Each study's own entry lives in a file beside its record, ``studies/<id>.bib``, so two pull
requests that add different studies never touch the same file and never conflict.
``studies/references.bib`` holds the shared sources: reviews whose tables several records
copy numbers from (``source.citation``), and entries written before per-study files. Keys
are global: a record may cite an entry of any bibliography file in its directory, and a
key may be defined once only (:func:`bibliography_files` lists the files, in the order
they are read).

:func:`load_bibliography` reads one file and reports every problem at its line, without
raising: text that is not UTF-8 (line and column of the first bad byte), a leftover git
conflict marker, a malformed entry header (``@article{key`` without the comma), an entry
type the site's citation style cannot render (``@evilentry``), a field value ending in a
backslash (LaTeX reads it as escaping the closing brace; the site build would crash), a
link that is not an ``http``/``https`` address (``url``, ``\url{...}``, ``\href{...}``)
and a DOI that is not a bare ``10.NNNN/suffix``. pybtex then parses the text in strict
mode and remains the referee of what BibTeX is (Patashnik, *BibTeXing*, 1988).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evidence.errors import Problem, read_error
from evidence.records.yamlio import conflict_problems, decode_utf8, display_path

#: Rules this module reports, with what each one means.
BIB_RULES = {
    "bib-unreadable": "a bibliography file cannot be read (not UTF-8, not a regular file)",
    "bib-syntax": "a bibliography file is not valid BibTeX (at the line of the fault)",
    "bib-duplicate": "two bibliography entries share a key (at the second)",
    "bib-entry-type": "an entry type the site's citation style cannot render (@evilentry)",
    "bib-field-backslash": "a field value ending in a backslash (it breaks the site build)",
    "bib-unsafe-link": "a url, DOI or \\url/\\href link that is not an http(s) address",
    "bib-too-large": "a bibliography file over 1 MiB, as written or once @string macros expand",
    "merge-conflict": "a leftover git conflict marker (<<<<<<<, =======, >>>>>>>)",
}

#: The shared bibliography's file name inside a studies directory.
BIB_NAME = "references.bib"

#: Entry types the site's citation style (pybtex ``plain``, used by sphinxcontrib-bibtex)
#: has a template for; any other type validates in pybtex but stops the site build.
ENTRY_TYPES = frozenset(
    {
        "article",
        "book",
        "booklet",
        "dataset",
        "inbook",
        "incollection",
        "inproceedings",
        "manual",
        "mastersthesis",
        "misc",
        "online",
        "patent",
        "phdthesis",
        "proceedings",
        "software",
        "techreport",
        "unpublished",
    }
)
_SPECIAL_TYPES = frozenset({"comment", "preamble", "string"})

#: Fields whose whole value is a link, and the LaTeX commands that make a link.
_LINK_FIELDS = ("url", "howpublished")
_LINK_COMMAND = re.compile(r"\\(?:url|href)\s*\{([^{}]*)\}")
_SAFE_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_DOI = re.compile(r"10\.[0-9]{4,9}/\S+")
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:")

#: Most characters a bibliography file may hold, as written and once its ``@string``
#: macros are expanded (what pybtex builds in memory and the site publishes). A doubling
#: chain of macros (``@string{s1 = s0 # s0}``, ...) would otherwise grow without bound: 40
#: lines of it ask for a terabyte.
MAX_BIB_CHARS = 1024 * 1024

#: BibTeX's predefined macros (the month names) and the lengths of their text.
_MONTHS = {
    m[:3]: len(m)
    for m in (
        "January February March April May June July August September October November December"
    ).split()
}

_HEADER = re.compile(r"@[ \t]*([A-Za-z][\w-]*)\s*([{(])")
_NAME = re.compile(r"[A-Za-z][\w:.+/-]*")


@dataclass(frozen=True)
class BibField:
    """One ``name = value`` of an entry: the value's text as written and its line."""

    name: str
    value: str
    line: int
    column: int
    braced: bool


@dataclass(frozen=True)
class BibEntry:
    """An entry as written: type, key, the line and column it starts on, its fields."""

    type: str
    key: str
    line: int
    column: int
    fields: tuple[BibField, ...] = ()

    def get(self, name: str) -> BibField | None:
        """Return the field called ``name`` (case-insensitive), or ``None``."""
        for item in self.fields:
            if item.name.lower() == name:
                return item
        return None


@dataclass(frozen=True)
class Bibliography:
    """One ``.bib`` file: its entries as written (with lines) and the problems found."""

    path: str
    entries: tuple[BibEntry, ...] = ()
    problems: tuple[Problem, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)

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

    def entry(self, key: str) -> BibEntry | None:
        """Return the entry called ``key`` (case-insensitive), or ``None``."""
        for item in self.entries:
            if item.key.lower() == key.lower():
                return item
        return None


def plain_text(value: str) -> str:
    r"""Return a BibTeX value as text: LaTeX decoded, protecting braces dropped, spaces collapsed.

    Examples
    --------
    >>> plain_text("Brolin L{\\aa}ftman, Sara"), plain_text("Parent--youth {UK}")
    ('Brolin Låftman, Sara', 'Parent–youth UK')
    """
    import codecs

    import latexcodec  # noqa: F401  (registers the "ulatex" codec)

    try:
        decoded = codecs.decode(value, "ulatex")  # type: ignore[call-overload]
    except (UnicodeDecodeError, ValueError):  # a malformed value: compare it as written
        decoded = value
    return " ".join(decoded.replace("{", "").replace("}", "").split())


def bibliography_files(studies_dir: str | os.PathLike[str]) -> list[Path]:
    """List the bibliography files of a studies directory: ``references.bib``, then ``*.bib``.

    Only names are listed (nothing is read); whether each is a regular file inside the
    directory is for the reader to check (:func:`evidence.records.safefs.input_problem`).
    """
    directory = Path(studies_dir)
    shared = directory / BIB_NAME
    found = [shared] if (shared.exists() or shared.is_symlink()) else []
    found += sorted(p for p in directory.glob("*.bib") if p.name != BIB_NAME)
    return found


def load_bibliography(path: str | os.PathLike[str], text: str | None = None) -> Bibliography:
    """Read one ``.bib`` file and report every problem at its line.

    Parameters
    ----------
    path : str or path-like
        The ``.bib`` file (also the name problems are reported under).
    text : str, optional
        Its decoded content, when already read.

    Returns
    -------
    Bibliography
        Entries with their lines and fields; problems with rules ``bib-unreadable``,
        ``bib-syntax``, ``bib-duplicate`` (at the second entry), ``bib-entry-type``,
        ``bib-field-backslash``, ``bib-unsafe-link`` and ``merge-conflict``.
    """
    shown = display_path(path)
    if text is None:
        if Path(path).exists() and not Path(path).is_file():  # a FIFO would block the read
            problem = Problem(shown, 0, 0, "cannot read: not a regular file", "bib-unreadable")
            return Bibliography(shown, problems=(problem,))
        try:
            with Path(path).open("rb") as handle:
                raw = handle.read(MAX_BIB_CHARS * 4 + 1)  # UTF-8: at most 4 bytes a character
        except OSError as exc:
            problem = Problem(shown, 0, 0, f"cannot read: {read_error(exc)}", "bib-unreadable")
            return Bibliography(shown, problems=(problem,))
        if len(raw) > MAX_BIB_CHARS * 4:
            return Bibliography(shown, problems=(_too_large(shown, 0, ""),))
        decoded = decode_utf8(
            raw, shown, "bib-unreadable", " (the file looks like Windows-1252 or Latin-1)"
        )
        if isinstance(decoded, Problem):
            return Bibliography(shown, problems=(decoded,))
        text = decoded
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_BIB_CHARS:
        return Bibliography(shown, problems=(_too_large(shown, 0, ""),))
    conflicts = conflict_problems(text, shown)
    if conflicts:  # the text between markers is two versions at once: nothing more to say
        return Bibliography(shown, problems=tuple(conflicts))
    scanner = _Scanner(text, shown)
    entries = list(scanner.entries())
    problems = list(scanner.problems)
    lines: dict[str, int] = {}
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.key.lower() in seen:
            problems.append(
                Problem(
                    shown,
                    entry.line,
                    entry.column,
                    f"entry key '{entry.key}' repeats the entry on line {seen[entry.key.lower()]}",
                    "bib-duplicate",
                )
            )
            continue
        seen[entry.key.lower()] = entry.line
        lines[entry.key] = entry.line
        problems += _entry_problems(entry, shown)
    if not problems:  # pybtex expands every macro in memory: only within the bound
        problems += _pybtex_problems(text, shown)
    return Bibliography(shown, tuple(entries), tuple(problems), lines)


def expansion_problems(text: str, path: str | os.PathLike[str]) -> list[Problem]:
    """Return the ``bib-too-large`` problem of ``text`` if it is over :data:`MAX_BIB_CHARS`.

    As written or once its ``@string`` macros are expanded (sized without expanding them):
    the check to make before handing a file to pybtex, which expands every macro in memory.
    """
    shown = display_path(path)
    if len(text) > MAX_BIB_CHARS:
        return [_too_large(shown, 0, "")]
    scanner = _Scanner(text, shown)
    for _entry in scanner.entries():
        pass
    return [p for p in scanner.problems if p.rule == "bib-too-large"]


def _too_large(shown: str, line: int, what: str, size: int | None = None) -> Problem:
    """Return the ``bib-too-large`` problem of ``what`` (a file, a macro) over the bound.

    ``size`` is the expanded length of ``what``; without it, the file as written is too long.
    """
    if size is None:
        message = (
            f"the file is over {MAX_BIB_CHARS:,} characters long, more than a bibliography "
            "file may hold; keep one study's entries per file (studies/<id>.bib)"
        )
    else:
        message = (
            f"{what} {size:,} characters once its @string macros are expanded, over the "
            f"{MAX_BIB_CHARS:,} a bibliography file may hold; write the text out instead of "
            "building it from macros that repeat each other"
        )
    return Problem(shown, line, 1 if line else 0, message, "bib-too-large")


def _entry_problems(entry: BibEntry, shown: str) -> list[Problem]:
    """Entry type, trailing backslashes and links of one entry."""
    problems = []
    if entry.type not in ENTRY_TYPES:
        problems.append(
            Problem(
                shown,
                entry.line,
                entry.column,
                f"entry type '@{entry.type}' cannot be rendered by the site's citation style; "
                f"use one of {', '.join('@' + t for t in sorted(ENTRY_TYPES))} "
                "(@misc for anything else)",
                "bib-entry-type",
            )
        )
    for item in entry.fields:
        problems += _field_problems(entry, item, shown)
    return problems


def _field_problems(entry: BibEntry, item: BibField, shown: str) -> list[Problem]:
    problems = []
    stripped = item.value.rstrip()
    if (len(stripped) - len(stripped.rstrip("\\"))) % 2 == 1:
        problems.append(
            Problem(
                shown,
                item.line,
                item.column,
                f"field '{item.name}' of '{entry.key}' ends in a backslash, which LaTeX reads "
                "as the start of a command (the site build stops on it); delete it, or write "
                "\\textbackslash{} for a literal backslash",
                "bib-field-backslash",
            )
        )
    name = item.name.lower()
    links = [item.value.strip()] if name in _LINK_FIELDS and item.value.strip() else []
    if name == "howpublished" and not item.value.strip().lower().startswith(("http", "\\url")):
        links = []
    links += _LINK_COMMAND.findall(item.value)
    for link in links:
        target = _LINK_COMMAND.sub(lambda m: m.group(1), link).strip()
        if not _SAFE_URL.fullmatch(target):
            problems.append(
                Problem(
                    shown,
                    item.line,
                    item.column,
                    f"field '{item.name}' of '{entry.key}' links to '{_preview(target)}', which "
                    "is not an http:// or https:// address; give the full web address of the "
                    "page (links to javascript:, data:, file: or relative paths are refused)",
                    "bib-unsafe-link",
                )
            )
    if name == "doi":
        problems += _doi_problems(entry, item, shown)
    return problems


def _doi_problems(entry: BibEntry, item: BibField, shown: str) -> list[Problem]:
    doi = item.value.strip()
    if _DOI.fullmatch(doi):
        return []
    bare = next((doi[len(p) :] for p in _DOI_PREFIXES if doi.lower().startswith(p)), None)
    if bare is not None and _DOI.fullmatch(bare.strip()):
        hint = f"drop the prefix: doi = {{{bare.strip()}}}"
    else:
        hint = "a DOI is 10.NNNN/suffix, as printed on the article (e.g. 10.1073/pnas.1219686110)"
    return [
        Problem(
            shown,
            item.line,
            item.column,
            f"doi of '{entry.key}' is '{_preview(doi)}', not a bare DOI; {hint}",
            "bib-unsafe-link",
        )
    ]


def _preview(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _pybtex_problems(text: str, shown: str) -> list[Problem]:
    """Run pybtex in strict mode; turn its exceptions into a problem with a line."""
    from pybtex.database import BibliographyDataError
    from pybtex.database.input.bibtex import Parser
    from pybtex.scanner import PybtexSyntaxError

    try:  # the parser class itself: parse_string looks the plugin up on every call (slow)
        Parser().parse_string(text)
    except PybtexSyntaxError as exc:
        line = int(getattr(exc, "lineno", 0) or 0)
        message = str(exc).split(": ", 1)[-1]
        return [Problem(shown, line, 1 if line else 0, f"BibTeX syntax: {message}", "bib-syntax")]
    except BibliographyDataError as exc:
        return [Problem(shown, 0, 0, f"BibTeX: {exc}", "bib-syntax")]
    except Exception as exc:  # pybtex raises assorted errors on malformed input
        return [Problem(shown, 0, 0, f"BibTeX: {exc or type(exc).__name__}", "bib-syntax")]
    return []


class _Scanner:
    """Find entries and their fields with line and column (pybtex keeps no positions).

    A small reading of BibTeX's grammar: ``@type{key, name = value # value, ...}`` with
    values in braces (nested), in double quotes, numbers or macro names; ``@comment``,
    ``@preamble`` and ``@string`` are skipped. Problems it is sure of (a missing comma after
    the key, an unclosed entry) are reported here, at their line; anything subtler is left
    to pybtex.
    """

    def __init__(self, text: str, shown: str):
        self.text = text
        self.shown = shown
        self.problems: list[Problem] = []
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        #: Length of each ``@string`` macro's text once expanded (capped just above the
        #: bound, so a doubling chain never makes huge numbers), and the expanded length
        #: of the whole file so far.
        self.macros: dict[str, int] = dict(_MONTHS)
        self.expanded = 0
        self.too_large = False

    def where(self, offset: int) -> tuple[int, int]:
        """1-based line and column of ``offset``."""
        from bisect import bisect_left

        line = bisect_left(self._newlines, offset)
        start = self._newlines[line - 1] + 1 if line else 0
        return line + 1, offset - start + 1

    def problem(self, offset: int, message: str) -> None:
        line, column = self.where(offset)
        self.problems.append(Problem(self.shown, line, column, message, "bib-syntax"))

    def entries(self) -> Iterator[BibEntry]:
        text, position = self.text, 0
        while True:
            at = text.find("@", position)
            if at < 0:
                return
            header = _HEADER.match(text, at)
            if header is None:
                position = at + 1
                continue
            kind = header.group(1).lower()
            closing = "}" if header.group(2) == "{" else ")"
            end = self._closing(header.end(), closing)
            if end is None:
                self._unclosed(at, header, closing)
                return
            position = end + 1
            if kind in ("string", "preamble"):
                self._expand(kind, at, header.end(), end)
            if self.too_large:
                return
            if kind in _SPECIAL_TYPES:
                continue
            entry = self._entry(kind, at, header.end(), end)
            if entry is not None:
                yield entry
            if self.expanded > MAX_BIB_CHARS and not self.too_large:
                self.too_large = True
                line, _column = self.where(at)
                self.problems.append(
                    _too_large(self.shown, line, "the file reaches", self.expanded)
                )
                return

    def _expand(self, kind: str, at: int, start: int, end: int) -> None:
        """Size a ``@string`` macro (or a ``@preamble``) once expanded; stop past the bound."""
        name = None
        if kind == "string":
            name = re.compile(r"\s*([A-Za-z][\w:.+/-]*)\s*=").match(self.text, start, end)
            if name is None:
                return  # malformed: pybtex says so
            start = name.end()
        parsed = self._value(start, end)
        if parsed is None:
            return
        size = parsed[3]
        self.expanded += size
        if name is not None:
            self.macros[name.group(1).lower()] = min(size, MAX_BIB_CHARS + 1)
        if size > MAX_BIB_CHARS or self.expanded > MAX_BIB_CHARS:
            self.too_large = True
            line, _column = self.where(at)
            if name is not None and size > MAX_BIB_CHARS:
                found = _too_large(self.shown, line, f"@string '{name.group(1)}' is", size)
            else:
                found = _too_large(self.shown, line, "the file reaches", self.expanded)
            self.problems.append(found)

    def _unclosed(self, at: int, header: re.Match[str], closing: str) -> None:
        """Say why an entry never closes: usually a field value whose brace is not closed."""
        text = self.text
        swallowed = re.compile(r"\n[ \t]*([A-Za-z][\w-]*)[ \t]*=[ \t]*[{\"]")
        for value in re.finditer(r"([A-Za-z][\w-]*)\s*=\s*\{", text[at:]):
            start = at + value.end() - 1
            close = self._delimited(start, len(text))
            inside = text[start : close if close is not None else len(text)]
            taken = swallowed.search(inside)
            if taken is not None:
                end_line = self.where(close)[0] if close is not None else self.where(len(text))[0]
                self.problem(
                    at + value.start(),
                    f"the value of '{value.group(1)}' opens a brace here that is not closed "
                    f"before the next field '{taken.group(1)}' (it runs on to line {end_line}); "
                    "close it with '}' where the value ends",
                )
                return
        self.problem(at, f"entry '@{header.group(1)}' is never closed with '{closing}'")

    def _closing(self, start: int, closing: str) -> int | None:
        """Offset of the brace (or parenthesis) closing an entry body starting at ``start``."""
        depth, text = 0, self.text
        for index in range(start, len(text)):
            char = text[index]
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    return index if closing == "}" else None
                depth -= 1
            elif char == ")" and closing == ")" and depth == 0:
                return index
            elif char == "@" and depth == 0 and _HEADER.match(text, index):
                return None  # the next entry starts before this one closed
        return None

    def _entry(self, kind: str, at: int, start: int, end: int) -> BibEntry | None:
        text = self.text
        key_match = re.compile(r"\s*([^,\s{}()=\"#]*)\s*").match(text, start, end)
        assert key_match is not None  # the pattern matches the empty string
        key = key_match.group(1)
        after = key_match.end()
        line, column = self.where(at)
        if not key:
            self.problem(start, f"entry '@{kind}' has no key; write @{kind}{{key, ...}}")
            return None
        if after < end and text[after] != ",":
            key_line, _ = self.where(key_match.start(1))
            self.problem(
                key_match.end(1),
                f"expected ',' after the key '{key}' of the entry on line {key_line}; "
                f"write @{kind}{{{key},",
            )
            return None
        fields = self._fields(after + 1, end, key)
        return BibEntry(kind, key, line, column, tuple(fields) if fields is not None else ())

    def _fields(self, start: int, end: int, key: str) -> list[BibField] | None:
        text, position = self.text, start
        found: list[BibField] = []
        while True:
            while position < end and (text[position].isspace() or text[position] == ","):
                position += 1
            if position >= end:
                return found
            name = _NAME.match(text, position, end)
            if name is None:
                self.problem(position, f"expected a field name in the entry '{key}'")
                return None
            equals = re.compile(r"\s*=\s*").match(text, name.end(), end)
            if equals is None:
                self.problem(name.end(), f"expected '=' after the field '{name.group()}'")
                return None
            value_start = equals.end()
            parsed = self._value(value_start, end)
            if parsed is None:
                self.problem(value_start, f"cannot read the value of the field '{name.group()}'")
                return None
            value, braced, position, size = parsed
            self.expanded += size
            line, column = self.where(name.start())
            found.append(BibField(name.group(), value, line, column, braced))

    def _value(self, start: int, end: int) -> tuple[str, bool, int, int] | None:
        """Read ``part # part ...``.

        Returns the joined text as written, whether braced, the next offset and the length
        of the text once macros are expanded (an unknown macro counts as its name).
        """
        text, parts, position, braced, size = self.text, [], start, False, 0
        while True:
            while position < end and text[position].isspace():
                position += 1
            if position >= end:
                return None
            char = text[position]
            if char in '{"':
                closing = self._delimited(position, end)
                if closing is None:
                    return None
                parts.append(text[position + 1 : closing])
                size += closing - position - 1
                braced = braced or char == "{"
                position = closing + 1
            else:
                word = re.compile(r"[\w:.+/-]+").match(text, position, end)
                if word is None:
                    return None
                parts.append(word.group())
                size += self.macros.get(word.group().lower(), len(word.group()))
                position = word.end()
            while position < end and text[position].isspace():
                position += 1
            if position < end and text[position] == "#":
                position += 1
                continue
            return "".join(parts), braced, position, size

    def _delimited(self, start: int, end: int) -> int | None:
        """Offset of the character closing a ``{...}`` or ``"..."`` value opened at ``start``."""
        text, depth = self.text, 0
        quoted = text[start] == '"'
        for index in range(start + 1, end):
            char = text[index]
            if char == "{":
                depth += 1
            elif char == "}":
                if depth == 0:
                    return None if quoted else index
                depth -= 1
            elif char == '"' and quoted and depth == 0:
                return index
        return None
