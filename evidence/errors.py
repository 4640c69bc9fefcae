"""Problems found in user input, and how they are reported.

Every command that reads user files collects *all* problems before it reports, and prints
each one as ``path:line:col: message [rule-id]`` (the format compilers and editors
understand). Bad input never produces a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
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
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}:{self.column}: {prefix}{self.message} [{self.rule}]"

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
