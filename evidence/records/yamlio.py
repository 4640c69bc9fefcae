"""Safe YAML loading that remembers where every node is.

Records and analysis specs are plain data. :func:`load_yaml` reads one file with the
C-accelerated libyaml composer (pure-Python PyYAML when libyaml is absent), builds plain
Python values itself and keeps the 1-based line and column of every value and every mapping
key, so that later checks can point at the offending node. Nothing in a file can construct an
object: any tag other than the plain YAML ones is refused.

Scalars resolve with the YAML 1.2 core schema rather than PyYAML's YAML 1.1 defaults, so
``NO`` (Norway) stays a string, ``1:30`` is not sexagesimal 90 and dates stay strings.

Every way a file can be broken or hostile becomes one :class:`~evidence.errors.Problem` with
a stable rule id; none raises:

==========================  ==============================================================
rule                        meaning
==========================  ==============================================================
``file-unreadable``         the file cannot be read (missing, a directory, no permission)
``file-too-large``          the file is larger than :data:`MAX_BYTES`
``not-utf8``                bytes that are not UTF-8 (line:col of the first bad byte)
``empty-file``              nothing but whitespace or comments
``yaml-syntax``             libyaml cannot parse the text
``yaml-multiple-documents`` more than one ``---`` document
``yaml-tag``                a tag that would construct an object (``!!python/...``, ``!x``)
``yaml-alias``              an anchor/alias (``&a`` / ``*a``); refused to stop alias bombs
``yaml-complex-key``        a list or mapping used as a mapping key
``yaml-too-deep``           nesting deeper than :data:`MAX_DEPTH`
``non-finite-number``       ``.nan`` or ``.inf``
``duplicate-key``           a key given twice in one mapping (at the second one)
``not-a-mapping``           a list or scalar where the top-level mapping belongs
``merge-conflict``          a leftover git conflict marker (``<<<<<<<``, ``=======``, ...)
``number-too-large``        an integer beyond 2**53 (e.g. 400 digits)
==========================  ==============================================================

:func:`check_schema` validates loaded data against a JSON Schema (Draft 2020-12) and maps
each error to the line and column of the offending node, with a readable message.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from evidence.errors import Problem, display_path
from evidence.records.yamlbuild import HAS_LIBYAML, MAX_DEPTH, AbortError, Builder, compose

#: Rules :func:`load_yaml` reports, with what each one means.
LOAD_RULES = {
    "file-unreadable": "the file cannot be read (missing, a directory, no permission)",
    "file-too-large": "the file is larger than 1 MiB",
    "not-utf8": "bytes that are not UTF-8 (at the first bad byte)",
    "empty-file": "nothing but whitespace or comments",
    "yaml-syntax": "the text is not valid YAML",
    "yaml-multiple-documents": "more than one YAML document (a second ---)",
    "yaml-tag": "a tag that would construct an object (!!python/..., !custom)",
    "yaml-alias": "an anchor or alias (&name, *name); refused to stop alias bombs",
    "yaml-complex-key": "a list or mapping used as a mapping key",
    "yaml-too-deep": "lists and mappings nested more than 64 levels deep",
    "non-finite-number": ".nan or .inf",
    "duplicate-key": "a key given twice in one mapping (reported at the second)",
    "not-a-mapping": "a list or a scalar where the top-level mapping belongs",
    "merge-conflict": "a leftover git conflict marker (<<<<<<<, =======, >>>>>>>)",
    "number-too-large": "an integer beyond 2**53 (a 400-digit number): a typo",
}

#: A git conflict marker at the start of a line.
CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7}|\|{7})(?:[ \t].*)?\r?$", re.MULTILINE)


def conflict_problems(text: str, shown: str) -> list[Problem]:
    r"""One ``merge-conflict`` problem per git conflict marker line (``<<<<<<< HEAD``, ...).

    Examples
    --------
    >>> [p.line for p in conflict_problems("a: 1\n<<<<<<< HEAD\nb: 2\n=======\n", "x.yaml")]
    [2, 4]
    """
    if "<<<<<<<" not in text and "=======" not in text and ">>>>>>>" not in text:
        return []
    problems = []
    for match in CONFLICT_MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        problems.append(
            Problem(
                shown,
                line,
                1,
                f"unresolved git merge conflict marker '{match.group(1)}'; keep what both "
                "sides meant (for two added entries or effects, usually both) and delete "
                "the marker lines",
                "merge-conflict",
            )
        )
    return problems


#: Largest file accepted, in bytes (1 MiB).
MAX_BYTES = 1024 * 1024
PathKey = tuple[str | int, ...]
"""Where a node sits in the data: mapping keys and list indices from the root."""


class Positions:
    """Line and column (1-based) of every value and every mapping key of one document.

    Positions are read from the composed YAML nodes on demand, so loading pays nothing for
    them until a problem needs one.
    """

    __slots__ = ("_root",)

    def __init__(self, root: yaml.Node | None = None):
        self._root = root

    def of(self, path: Iterable[str | int], *, key: bool = False) -> tuple[int, int]:
        """Return ``(line, column)`` of the node at ``path``, or of its nearest ancestor.

        With ``key=True`` the position of the mapping key is preferred (for problems about
        a field itself, such as an unknown field name).
        """
        node = self._root
        if node is None:
            return (1, 1)
        key_node = None
        for part in path:
            child, child_key = _child(node, part)
            if child is None:
                key_node = None
                break
            node, key_node = child, child_key
        mark = (key_node if key and key_node is not None else node).start_mark
        return (mark.line + 1, mark.column + 1)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """Return the value node (and key node) under ``node`` for a key or an index."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                return value_node, key_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return node.value[part], None
    return None, None


@dataclass(frozen=True)
class LoadedYaml:
    """One loaded file: its data (``None`` when unusable), node positions and problems.

    ``first_line`` is the file's first line (where a ``# yaml-language-server`` comment
    points editors at the schema).
    """

    path: str
    data: Any
    positions: Positions
    problems: tuple[Problem, ...] = ()
    first_line: str = ""

    @property
    def ok(self) -> bool:
        """True when the file loaded without an error."""
        return not any(p.severity == "error" for p in self.problems)


def load_yaml(
    path: str | os.PathLike[str],
    *,
    require_mapping: bool = True,
    max_bytes: int = MAX_BYTES,
    text: str | None = None,
) -> LoadedYaml:
    r"""Load one YAML file safely, keeping the line and column of every node.

    Parameters
    ----------
    path : str or path-like
        The file to read. It is also the name problems are reported under.
    require_mapping : bool
        Report ``not-a-mapping`` unless the document is a mapping (the default).
    max_bytes : int
        Size limit; larger files give ``file-too-large`` without being read.
    text : str, optional
        Already-decoded content to parse instead of reading ``path`` (for editors, tests).

    Returns
    -------
    LoadedYaml
        ``data`` is the plain Python value (``dict``, ``list``, ``str``, ``int``, ``float``,
        ``bool`` or ``None``), or ``None`` when a problem made the file unusable.

    Notes
    -----
    Scalars follow the YAML 1.2 core schema (YAML 1.2.2 specification, section 10.3).
    Anchors and aliases are refused outright: an alias bomb ("billion laughs") expands
    exponentially once built into plain data, and records never need them.

    Examples
    --------
    >>> doc = load_yaml("x.yaml", text="id: x\ncountries: [NO]\n")
    >>> doc.data, doc.positions.of(("countries", 0))
    ({'id': 'x', 'countries': ['NO']}, (2, 13))
    """
    shown = display_path(path)
    if text is None:
        raw_or_problem = _read_bytes(path, shown, max_bytes)
        if isinstance(raw_or_problem, Problem):
            return LoadedYaml(shown, None, Positions(), (raw_or_problem,))
        decoded = _decode(raw_or_problem, shown)
        if isinstance(decoded, Problem):
            return LoadedYaml(shown, None, Positions(), (decoded,))
        text = decoded
    conflicts = conflict_problems(text, shown)
    if conflicts:  # two versions of the text at once: any YAML message would mislead
        return LoadedYaml(shown, None, Positions(), tuple(conflicts))
    return _parse(text, shown, require_mapping)


def _read_bytes(path: str | os.PathLike[str], shown: str, max_bytes: int) -> bytes | Problem:
    """Read the file's bytes, refusing unreadable and oversize files."""
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode):  # a FIFO or a device would block or never end
            kind = "a directory" if stat.S_ISDIR(status.st_mode) else "not a regular file"
            return Problem(shown, 0, 0, f"cannot read the file: {kind}", "file-unreadable")
        size = status.st_size
        if size > max_bytes:
            return Problem(
                shown,
                0,
                0,
                f"file is {size:,} bytes; the limit is {max_bytes:,} bytes "
                "(split it, or check it is the file you meant)",
                "file-too-large",
            )
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        return Problem(
            shown, 0, 0, f"cannot read the file: {exc.strerror or exc}", "file-unreadable"
        )
    if len(raw) > max_bytes:  # grew while reading
        return Problem(
            shown, 0, 0, f"file is over the limit of {max_bytes:,} bytes", "file-too-large"
        )
    return raw


def decode_utf8(raw: bytes, shown: str, rule: str = "not-utf8", hint: str = "") -> str | Problem:
    """Decode UTF-8 (a leading byte-order mark is dropped); point at the first bad byte.

    The problem gives the line and column of the first byte that is not UTF-8 (``rule``,
    with ``hint`` after the byte, e.g. what encoding the file looks like).
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = raw.rfind(b"\n", 0, start) + 1
        line = raw.count(b"\n", 0, start) + 1
        column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
        return Problem(
            shown,
            line,
            column,
            f"byte 0x{raw[start]:02x} is not valid UTF-8{hint}; save the file as UTF-8",
            rule,
        )


def _decode(raw: bytes, shown: str) -> str | Problem:
    return decode_utf8(raw, shown)


def _parse(text: str, shown: str, require_mapping: bool) -> LoadedYaml:
    """Compose the text with libyaml and build plain data; positions stay in the nodes."""
    if not text.strip():
        return LoadedYaml(shown, None, Positions(), (_empty(shown),))
    try:
        node = compose(text)
    except yaml.MarkedYAMLError as exc:
        return LoadedYaml(shown, None, Positions(), (_syntax_problem(exc, shown, text),))
    except yaml.YAMLError as exc:  # reader errors (e.g. control characters) carry no mark
        return LoadedYaml(shown, None, Positions(), (_reader_problem(exc, text, shown),))
    if node is None:
        return LoadedYaml(shown, None, Positions(), (_empty(shown),))
    positions = Positions(node)
    # an alias needs an anchor, and an anchor needs '&': without one, no node can repeat
    builder = Builder(shown, text, track_nodes="&" in text)
    try:
        data = builder.build(node, 0)
    except AbortError as stop:
        return LoadedYaml(shown, None, positions, (*builder.problems, stop.problem))
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops this first
        problem = Problem(shown, 0, 0, "nesting is too deep", "yaml-too-deep")
        return LoadedYaml(shown, None, positions, (problem,))
    problems = builder.problems
    if require_mapping and not isinstance(data, dict):
        line, column = positions.of(())
        problems.append(
            Problem(
                shown,
                line,
                column,
                f"expected a mapping of field: value at the top level, found {describe(data)}",
                "not-a-mapping",
            )
        )
        data = None
    first_line = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    return LoadedYaml(shown, data, positions, tuple(problems), first_line)


def _empty(shown: str) -> Problem:
    return Problem(shown, 0, 0, "file is empty (only whitespace or comments)", "empty-file")


def _open_quote_before(text: str, line: int) -> tuple[yaml.Mark, yaml.Mark] | None:
    """Find the start and end of a quoted value spanning lines and ending by ``line``, if any.

    A missing closing quote makes libyaml read on to the next quote, often many lines
    later, and fail there; a record's quoted values are single lines, so a quoted value
    that spans lines before the failure is most likely where the quote is missing.
    """
    found = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.line > line:
                break
            if (
                isinstance(token, yaml.ScalarToken)
                and token.style in ('"', "'")
                and token.end_mark.line > token.start_mark.line
            ):
                found = (token.start_mark, token.end_mark)
    except yaml.YAMLError:
        pass
    return found


def _syntax_problem(exc: yaml.MarkedYAMLError, shown: str, text: str | None = None) -> Problem:
    """Turn a libyaml error into a problem at its mark."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    if "expected a single document" in what:
        return Problem(
            shown,
            line,
            column,
            "only one YAML document per file; remove the second '---'",
            "yaml-multiple-documents",
        )
    start = exc.context_mark
    if exc.context and "quoted scalar" in exc.context and start is not None:
        # libyaml notices an unclosed quote only where the text ends: point at the opening
        return Problem(
            shown,
            start.line + 1,
            start.column + 1,
            f"YAML syntax: the quoted text that starts here (line {start.line + 1}) is never "
            "closed; add the closing quote at the end of the value",
            "yaml-syntax",
        )
    opened = _open_quote_before(text, mark.line if mark else 0) if text is not None else None
    if opened is not None:
        begin, end = opened
        return Problem(
            shown,
            begin.line + 1,
            begin.column + 1,
            f"YAML syntax: {what}; the quoted text that starts here (line {begin.line + 1}) "
            f"runs on to line {end.line + 1}: is its closing quote missing?",
            "yaml-syntax",
        )
    hint = ""
    if exc.problem and "mapping values are not allowed" in exc.problem:
        hint = (
            "; a ': ' inside a value starts a new field: put the whole value in double quotes "
            '(notes: "ratio: 1.2 in men")'
        )
    elif exc.problem and "found character '\\t'" in exc.problem:
        hint = "; indent with spaces, not tabs"
    elif exc.problem and (
        "expected ',' or '}'" in exc.problem or "expected ',' or ']'" in exc.problem
    ):
        hint = "; a ',' or ':' inside a value in {...} or [...] must be quoted: name: \"a, b\""
    return Problem(shown, line, column, f"YAML syntax: {what}{hint}", "yaml-syntax")


def _reader_problem(exc: yaml.YAMLError, text: str, shown: str) -> Problem:
    """Locate a reader error (a character YAML does not allow) by its offset."""
    offset = getattr(exc, "position", None)
    if isinstance(offset, int) and 0 <= offset <= len(text):
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    else:
        line, column = 0, 0
    character = getattr(exc, "character", None)
    what = f"character U+{character:04X}" if isinstance(character, int) else "a character"
    return Problem(
        shown,
        line,
        column,
        f"{what} is not allowed in YAML (control characters cannot appear in records)",
        "yaml-syntax",
    )


# Schema checks live in evidence.records.schemacheck; they are re-exported here for the loaders of
# records and analysis specs, which import both from this module.
from evidence.records.schemacheck import (  # noqa: E402
    check_schema,
    compile_schema,
    describe,
    did_you_mean,
    dotted,
)

__all__ = [
    "CONFLICT_MARKER",
    "HAS_LIBYAML",
    "LOAD_RULES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "LoadedYaml",
    "PathKey",
    "Positions",
    "check_schema",
    "compile_schema",
    "conflict_problems",
    "decode_utf8",
    "describe",
    "did_you_mean",
    "display_path",
    "dotted",
    "load_yaml",
]
