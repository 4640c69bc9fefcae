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
==========================  ==============================================================

:func:`check_schema` validates loaded data against a JSON Schema (Draft 2020-12) and maps
each error to the line and column of the offending node, with a readable message.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from evidence.errors import Problem


class _PureParser(Reader, Scanner, Parser, Composer):
    """PyYAML's pure-Python reader, scanner, parser and composer (when libyaml is absent)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)


try:  # libyaml bindings
    from yaml._yaml import CParser as _Parser

    HAS_LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _Parser = _PureParser  # type: ignore[misc, assignment]
    HAS_LIBYAML = False

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
}

#: Rules :func:`check_schema` reports, with what each one means.
SCHEMA_RULES = {
    "unknown-field": "a field the schema does not define (with a did-you-mean suggestion)",
    "missing-field": "a required field is absent",
    "wrong-type": "a value of the wrong type (the expected type is named)",
    "invalid-value": "a value outside a small fixed set (with a suggestion)",
    "invalid-format": "a value of the wrong form (a DOI, a URL, an id, a country code)",
    "wrong-length": "a list with too few or too many items (e.g. a ci that is not [lower, upper])",
    "empty-value": "an empty text",
    "duplicate-item": "a list item given twice",
    "out-of-range": "a number outside the schema's bounds",
    "schema": "any other schema violation",
}

#: Largest file accepted, in bytes (1 MiB).
MAX_BYTES = 1024 * 1024
#: Deepest nesting of lists and mappings accepted.
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]
"""Where a node sits in the data: mapping keys and list indices from the root."""

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + t for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = _TAG + "seq", _TAG + "map"


class _CoreResolver(yaml.resolver.BaseResolver):
    """Implicit scalar types of the YAML 1.2 core schema (no yes/no/on/off, no dates)."""


_CoreResolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(
    _NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class _CoreLoader(_CoreResolver):
    """The core-schema resolver, cut to the least work per node (mixed into a parser)."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        """Tag a node while composing: plain scalars are resolved later, by the builder.

        libyaml calls this for every node, so it does the least work possible; the builder
        then applies the core-schema resolvers above to plain scalars only.
        """
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


class _Loader(_Parser, _CoreLoader):  # type: ignore[misc, valid-type]
    """libyaml's parser and composer (when available) with the core-schema resolver."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _CoreLoader.__init__(self)


class _PureLoader(_PureParser, _CoreLoader):
    """PyYAML's pure-Python parser and composer with the core-schema resolver."""

    def __init__(self, stream: str) -> None:
        _PureParser.__init__(self, stream)
        _CoreLoader.__init__(self)


#: Placeholder tag of a plain (unquoted, untagged) scalar until the builder resolves it.
_PLAIN = "!plain"
_FIRST_CHARACTER = {
    first: tuple(entries) for first, entries in _CoreResolver.yaml_implicit_resolvers.items()
}


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


class _AbortError(Exception):
    """Stop building a document (a problem that makes the rest meaningless)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def display_path(path: str | os.PathLike[str]) -> str:
    """Return ``path`` relative to the working directory when inside it, with ``/``."""
    text = os.fspath(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:  # pragma: no cover - other drive on Windows
        return Path(text).as_posix()
    return Path(relative if not relative.startswith("..") else text).as_posix()


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
    return _parse(text, shown, require_mapping)


def _read_bytes(path: str | os.PathLike[str], shown: str, max_bytes: int) -> bytes | Problem:
    """Read the file's bytes, refusing unreadable and oversize files."""
    try:
        size = os.stat(path).st_size
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


def _decode(raw: bytes, shown: str) -> str | Problem:
    """Decode UTF-8 (a leading byte-order mark is dropped); point at the first bad byte."""
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
            f"byte 0x{raw[start]:02x} is not valid UTF-8; save the file as UTF-8",
            "not-utf8",
        )


def _parse(text: str, shown: str, require_mapping: bool) -> LoadedYaml:
    """Compose the text with libyaml and build plain data; positions stay in the nodes."""
    if not text.strip():
        return LoadedYaml(shown, None, Positions(), (_empty(shown),))
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return LoadedYaml(shown, None, Positions(), (_syntax_problem(exc, shown),))
    except yaml.YAMLError as exc:  # reader errors (e.g. control characters) carry no mark
        return LoadedYaml(shown, None, Positions(), (_reader_problem(exc, text, shown),))
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return LoadedYaml(shown, None, Positions(), (_empty(shown),))
    positions = Positions(node)
    # an alias needs an anchor, and an anchor needs '&': without one, no node can repeat
    builder = _Builder(shown, text, track_nodes="&" in text)
    try:
        data = builder.build(node, 0)
    except _AbortError as stop:
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


def _syntax_problem(exc: yaml.MarkedYAMLError, shown: str) -> Problem:
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
    return Problem(shown, line, column, f"YAML syntax: {what}", "yaml-syntax")


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


class _Builder:
    """Builds plain Python values from composed nodes and collects problems."""

    def __init__(self, shown: str, text: str, track_nodes: bool):
        self.shown = shown
        self.text = text
        self.problems: list[Problem] = []
        self.seen: set[int] | None = set() if track_nodes else None

    def problem(self, node: yaml.Node, message: str, rule: str) -> Problem:
        mark = node.start_mark
        return Problem(self.shown, mark.line + 1, mark.column + 1, message, rule)

    def build(self, node: yaml.Node, depth: int) -> Any:
        if self.seen is not None:
            if id(node) in self.seen:
                raise _AbortError(self._alias_problem())
            self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _AbortError(
                self.problem(node, f"nesting deeper than {MAX_DEPTH} levels", "yaml-too-deep")
            )
        cls = node.__class__
        if cls is yaml.ScalarNode:
            tag = node.tag
            if tag == _PLAIN:
                value = node.value
                for implicit_tag, regexp in _FIRST_CHARACTER.get(value[:1], ()):
                    if regexp.match(value):
                        return self.scalar(node, implicit_tag)
                return value
            if tag == _STR:
                return node.value
            return self.scalar(node, tag)
        if node.tag != (_SEQ if cls is yaml.SequenceNode else _MAP):
            raise _AbortError(self._tag_problem(node))
        if cls is yaml.SequenceNode:
            return [self.build(item, depth + 1) for item in node.value]
        return self.mapping(node, depth)

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_keys: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode:
                self.problems.append(
                    self.problem(
                        key_node,
                        "a mapping key must be a plain word, not a list or mapping",
                        "yaml-complex-key",
                    )
                )
                continue
            if self.seen is not None:
                if id(key_node) in self.seen:
                    raise _AbortError(self._alias_problem())
                self.seen.add(id(key_node))
            if key_node.tag != _PLAIN and key_node.tag != _STR:
                raise _AbortError(self._tag_problem(key_node))
            key = key_node.value
            if key in first_keys:
                first = first_keys[key].start_mark.line + 1
                self.problems.append(
                    self.problem(
                        key_node,
                        f"duplicate key '{key}' (first given on line {first}); "
                        "a later value would silently replace the earlier one",
                        "duplicate-key",
                    )
                )
                continue
            first_keys[key] = key_node
            result[key] = self.build(value_node, depth + 1)
        return result

    def scalar(self, node: yaml.ScalarNode, tag: str) -> Any:
        value = node.value
        try:
            if tag == _INT:
                return _to_int(value)
            if tag == _FLOAT:
                number = _to_float(value)
                if not math.isfinite(number):
                    self.problems.append(
                        self.problem(node, f"'{value}' is not a finite number", "non-finite-number")
                    )
                return number
            if tag == _BOOL:
                return {"true": True, "false": False}[value.lower()]
            if tag == _STR:
                return value
            if tag == _NULL:
                return None
        except (ValueError, KeyError):
            self.problems.append(
                self.problem(
                    node, f"'{value}' cannot be read as {tag.removeprefix(_TAG)}", "yaml-tag"
                )
            )
            return value
        raise _AbortError(self._tag_problem(node))

    def _tag_problem(self, node: yaml.Node) -> Problem:
        return self.problem(
            node,
            f"YAML tag '{node.tag}' is not allowed; records hold plain values only "
            "(text, numbers, true/false, lists, mappings)",
            "yaml-tag",
        )

    def _alias_problem(self) -> Problem:
        """Find the first alias in the text (only on this failure path) and report it."""
        line, column = 0, 0
        try:
            for event in yaml.parse(self.text, Loader=_Loader):
                if isinstance(event, yaml.AliasEvent):
                    line, column = event.start_mark.line + 1, event.start_mark.column + 1
                    break
        except yaml.YAMLError:  # pragma: no cover - the text composed once already
            pass
        return Problem(
            self.shown,
            line,
            column,
            "anchors and aliases (&name, *name) are not allowed; write the value out in full",
            "yaml-alias",
        )


def _to_int(text: str) -> int:
    if text.startswith("0x"):
        return int(text[2:], 16)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 10)


def _to_float(text: str) -> float:
    lowered = text.lower()
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


# Schema checks live in evidence.schemacheck; they are re-exported here for the loaders of
# records and analysis specs, which import both from this module.
from evidence.schemacheck import (  # noqa: E402
    check_schema,
    compile_schema,
    describe,
    did_you_mean,
    dotted,
)

__all__ = [
    "LOAD_RULES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "LoadedYaml",
    "PathKey",
    "Positions",
    "check_schema",
    "compile_schema",
    "describe",
    "did_you_mean",
    "display_path",
    "dotted",
    "load_yaml",
]
