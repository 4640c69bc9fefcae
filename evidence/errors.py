"""Problems found in user input, and how they are reported.

Every command that reads user files collects *all* problems before it reports, and prints
each one as ``path:line:col: message [rule-id]`` (the format compilers and editors
understand). Bad input never produces a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in one input file.

    Parameters
    ----------
    path : str
        File the problem is in, relative to the working directory where possible.
    line, column : int
        1-based position of the offending node (0 when the whole file is concerned).
    message : str
        What is wrong and, where possible, what was expected.
    rule : str
        Stable kebab-case identifier of the rule (e.g. ``ci-order``); tests and
        documentation refer to rules by this id.
    severity : {"error", "warning"}
        Errors make a command fail; warnings are reported but do not.

    Examples
    --------
    >>> str(Problem("studies/eng2002.yaml", 14, 7, "ci is reversed", "ci-order"))
    'studies/eng2002.yaml:14:7: ci is reversed [ci-order]'
    """

    path: str
    line: int
    column: int
    message: str
    rule: str
    severity: Severity = "error"

    def __str__(self) -> str:
        """One line for a terminal or log: control characters in any part are escaped.

        A record's text echoed in a message (a key, a value) can hold a newline or an ANSI
        escape sequence; printed raw it would forge a problem line or rewrite the screen
        (see :func:`escape_terminal`).
        """
        prefix = "" if self.severity == "error" else "warning: "
        return escape_terminal(
            f"{self.path}:{self.line}:{self.column}: {prefix}{self.message} [{self.rule}]"
        )

    def to_github(self) -> str:
        """Format as a GitHub Actions workflow annotation.

        The message is escaped as the Actions toolkit does (``%``, CR, LF) and the file
        name and title as properties (also ``:`` and ``,``), so a file name with a comma
        cannot cut the annotation short.
        """
        level = "error" if self.severity == "error" else "warning"
        message = _escape_data(self.message)
        return (
            f"::{level} file={_escape_property(self.path)},line={max(self.line, 1)},"
            f"col={max(self.column, 1)},title={_escape_property(self.rule)}::{message}"
        )


def _control_escape(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    if code in named:
        return named[code]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


#: Characters a terminal acts on instead of printing, or that reorder the text shown:
#: C0 and C1 controls (ESC starts ANSI sequences; CR and LF start a new line), DEL, the
#: Unicode line and paragraph separators and the bidirectional controls (U+202E and
#: friends, which make text read differently from what it is).
TERMINAL_CONTROLS = (
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    0x2028,
    0x2029,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_TERMINAL_TABLE = {code: _control_escape(code) for code in TERMINAL_CONTROLS}


def escape_terminal(text: str) -> str:
    r"""Return ``text`` with every control character written as a visible escape.

    Everything a command prints that came from a user's file goes through this, so that
    a label, a key or a value can neither clear the screen, recolour the output nor start
    a line that looks like another message. Printable text (any script) is unchanged.

    Examples
    --------
    >>> escape_terminal("plain text, \u00e9t\u00e9 \u4e2d")
    'plain text, été 中'
    >>> print(escape_terminal("red \x1b[31mflag\x1b[0m\nnext"))
    red \x1b[31mflag\x1b[0m\nnext
    >>> print(escape_terminal("abc\u202edef"))
    abc\u202edef
    """
    return text.translate(_TERMINAL_TABLE)


#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
#: Injection"): ``=``, ``+``, ``-``, ``@``, tab and carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_spreadsheet(text: str) -> str:
    """Return a free-text CSV cell that a spreadsheet shows as text, never runs as a formula.

    A cell starting with one of :data:`FORMULA_STARTS` gets a leading ``'`` (as OWASP
    recommends), and so does one that already starts with quotes before such a character,
    so that :func:`unescape_spreadsheet` gives back exactly the text. Only text cells go
    through this; numbers (``-0.25``) are written as they are.

    Examples
    --------
    >>> print(escape_spreadsheet('=HYPERLINK("http://x", "click")'))
    '=HYPERLINK("http://x", "click")
    >>> escape_spreadsheet("women aged 50-70"), escape_spreadsheet("'quoted'")
    ('women aged 50-70', "'quoted'")
    >>> unescape_spreadsheet(escape_spreadsheet("''@sum"))
    "''@sum"
    """
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def unescape_spreadsheet(text: str) -> str:
    """Undo :func:`escape_spreadsheet` (for readers of the published CSV)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text


def _escape_data(text: str) -> str:
    """Escape a workflow command's message (actions/toolkit ``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """Escape a workflow command's property value (actions/toolkit ``escapeProperty``)."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class EvidenceError(Exception):
    """Raised when input cannot be used; carries every problem found.

    The command-line layer catches it, prints the problems and exits with status 1.
    """

    def __init__(self, problems: Sequence[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem("<input>", 0, 0, problems, "invalid-input")]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def display_path(path: str | os.PathLike[str]) -> str:
    """Return ``path`` relative to the working directory when inside it, with ``/``."""
    text = os.fspath(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:  # pragma: no cover - other drive on Windows
        return Path(text).as_posix()
    return Path(relative if not relative.startswith("..") else text).as_posix()


def errors_in(problems: Iterable[Problem]) -> list[Problem]:
    """Return only the problems of severity ``"error"``."""
    return [p for p in problems if p.severity == "error"]


def format_problems(problems: Sequence[Problem], fmt: str = "text") -> str:
    """Render problems for people (``text``), tools (``json``) or GitHub (``github``).

    The text format ends with a count line, e.g. ``2 errors, 1 warning``.
    """
    ordered = sorted(problems, key=lambda p: (p.path, p.line, p.column, p.rule))
    if fmt == "json":
        return json.dumps([asdict(p) for p in ordered], indent=2)
    if fmt == "github":
        return "\n".join(p.to_github() for p in ordered)
    lines = [str(p) for p in ordered]
    lines.append(summary_line(problems))
    return "\n".join(lines)


def summary_line(problems: Sequence[Problem]) -> str:
    """Count errors and warnings in words: ``'1 error, 2 warnings'``."""
    n_errors = len(errors_in(problems))
    n_warnings = len(problems) - n_errors
    return f"{n_errors} error{'s' * (n_errors != 1)}, {n_warnings} warning{'s' * (n_warnings != 1)}"


def read_error(exc: OSError | UnicodeDecodeError) -> str:
    r"""Say in words why a file could not be read (no Python exception text).

    Examples
    --------
    >>> read_error(FileNotFoundError(2, "No such file or directory"))
    'no such file or directory'
    >>> read_error(UnicodeDecodeError("utf-8", b"ab\xd0", 2, 3, "invalid start byte"))
    'byte 0xd0 (at offset 2) is not valid UTF-8; save the file as UTF-8'
    """
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start]
        return (
            f"byte 0x{byte:02x} (at offset {exc.start}) is not valid UTF-8; save the file as UTF-8"
        )
    return (exc.strerror or str(exc)).lower()
