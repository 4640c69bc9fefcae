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

import difflib
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from evidence.errors import Problem

try:  # libyaml bindings
    from yaml._yaml import CParser as _Parser

    HAS_LIBYAML = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

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


class _Loader(_Parser, _CoreResolver):  # type: ignore[misc, valid-type]
    """Parser and composer (libyaml when available) with the core-schema resolver."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _CoreResolver.__init__(self)


@dataclass(frozen=True)
class Positions:
    """Line and column (1-based) of every value and every mapping key of one document.

    ``values[path]`` is where the node at ``path`` starts; ``keys[path]`` is where the key
    that names it starts (only for entries of a mapping).
    """

    values: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def of(self, path: Iterable[str | int], *, key: bool = False) -> tuple[int, int]:
        """Return ``(line, column)`` of the node at ``path``, or of its nearest ancestor.

        With ``key=True`` the position of the mapping key is preferred (for problems about
        a field itself, such as an unknown field name).
        """
        parts = tuple(path)
        if key and parts in self.keys:
            return self.keys[parts]
        while parts:
            if parts in self.values:
                return self.values[parts]
            parts = parts[:-1]
        return self.values.get((), (1, 1))


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
                shown, 0, 0,
                f"file is {size:,} bytes; the limit is {max_bytes:,} bytes "
                "(split it, or check it is the file you meant)",
                "file-too-large",
            )
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        return Problem(shown, 0, 0, f"cannot read the file: {exc.strerror or exc}",
                       "file-unreadable")
    if len(raw) > max_bytes:  # grew while reading
        return Problem(shown, 0, 0, f"file is over the limit of {max_bytes:,} bytes",
                       "file-too-large")
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
            shown, line, column,
            f"byte 0x{raw[start]:02x} is not valid UTF-8; save the file as UTF-8",
            "not-utf8",
        )


def _parse(text: str, shown: str, require_mapping: bool) -> LoadedYaml:
    """Compose the text with libyaml and build plain data with positions."""
    positions = Positions()
    if not text.strip():
        return LoadedYaml(shown, None, positions, (_empty(shown),))
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return LoadedYaml(shown, None, positions, (_syntax_problem(exc, shown),))
    except yaml.YAMLError as exc:  # reader errors (e.g. control characters) carry no mark
        return LoadedYaml(shown, None, positions, (_reader_problem(exc, text, shown),))
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return LoadedYaml(shown, None, positions, (_empty(shown),))
    builder = _Builder(shown, text, positions)
    try:
        data = builder.build(node, (), 0)
    except _AbortError as stop:
        return LoadedYaml(shown, None, positions, (*builder.problems, stop.problem))
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops this first
        problem = Problem(shown, 0, 0, "nesting is too deep", "yaml-too-deep")
        return LoadedYaml(shown, None, positions, (problem,))
    problems = list(builder.problems)
    if require_mapping and not isinstance(data, dict):
        line, column = positions.of(())
        problems.append(Problem(
            shown, line, column,
            f"expected a mapping of field: value at the top level, found {describe(data)}",
            "not-a-mapping",
        ))
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
        return Problem(shown, line, column,
                       "only one YAML document per file; remove the second '---'",
                       "yaml-multiple-documents")
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
    return Problem(shown, line, column,
                   f"{what} is not allowed in YAML (control characters cannot appear in records)",
                   "yaml-syntax")


class _Builder:
    """Builds plain Python values from composed nodes, recording positions and problems."""

    def __init__(self, shown: str, text: str, positions: Positions):
        self.shown = shown
        self.text = text
        self.positions = positions
        self.problems: list[Problem] = []
        self.seen: set[int] = set()

    def problem(self, node: yaml.Node, message: str, rule: str) -> Problem:
        mark = node.start_mark
        return Problem(self.shown, mark.line + 1, mark.column + 1, message, rule)

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        if id(node) in self.seen:
            raise _AbortError(self._alias_problem())
        self.seen.add(id(node))
        mark = node.start_mark
        self.positions.values[path] = (mark.line + 1, mark.column + 1)
        if depth > MAX_DEPTH:
            raise _AbortError(self.problem(node, f"nesting deeper than {MAX_DEPTH} levels",
                                      "yaml-too-deep"))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self.check_tag(node, _SEQ)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        self.check_tag(node, _MAP)
        return self.mapping(node, path, depth)

    def mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(self.problem(
                    key_node, "a mapping key must be a plain word, not a list or mapping",
                    "yaml-complex-key"))
                continue
            if id(key_node) in self.seen:
                raise _AbortError(self._alias_problem())
            self.seen.add(id(key_node))
            key = key_node.value
            key_mark = key_node.start_mark
            if key in result:
                first = self.positions.keys[(*path, key)]
                self.problems.append(self.problem(
                    key_node,
                    f"duplicate key '{key}' (first given on line {first[0]}); "
                    "a later value would silently replace the earlier one",
                    "duplicate-key"))
                continue
            self.positions.keys[(*path, key)] = (key_mark.line + 1, key_mark.column + 1)
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result

    def check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            raise _AbortError(self._tag_problem(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag, value = node.tag, node.value
        try:
            if tag == _STR:
                return value
            if tag == _INT:
                return _to_int(value)
            if tag == _FLOAT:
                number = _to_float(value)
                if not math.isfinite(number):
                    self.problems.append(self.problem(
                        node, f"'{value}' is not a finite number", "non-finite-number"))
                return number
            if tag == _BOOL:
                return {"true": True, "false": False}[value.lower()]
            if tag == _NULL:
                return None
        except (ValueError, KeyError):
            self.problems.append(self.problem(
                node, f"'{value}' cannot be read as {tag.removeprefix(_TAG)}", "yaml-tag"))
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
            self.shown, line, column,
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


# --------------------------------------------------------------------------- schema checks

_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "nothing (null)",
}

_VALIDATORS: dict[int, tuple[Mapping[str, Any], Draft202012Validator]] = {}


def compile_schema(schema: Mapping[str, Any]) -> Draft202012Validator:
    """Return a Draft 2020-12 validator for ``schema``, built once per schema object."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def describe(value: Any) -> str:
    """Name a value's type in words, with a short preview: ``text ('abc')``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int):
        return f"a whole number ({value})"
    if isinstance(value, float):
        return f"a number ({value:g})"
    if isinstance(value, str):
        preview = value if len(value) <= 40 else value[:37] + "..."
        return f"text ('{preview}')"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def dotted(path: Iterable[str | int]) -> str:
    """Write a node path as people read it: ``effects[0].statistic.ci``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    pool = list(candidates)
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f"; did you mean '{match[0]}'?" if match else ""


def check_schema(
    data: Any,
    positions: Positions,
    schema: Mapping[str, Any] | Draft202012Validator,
    path: str,
) -> list[Problem]:
    """Validate ``data`` against a JSON Schema and point each error at its node.

    Parameters
    ----------
    data : Any
        Plain data as built by :func:`load_yaml`.
    positions : Positions
        The positions recorded while loading ``data``.
    schema : mapping or Draft202012Validator
        A JSON Schema (Draft 2020-12) or a validator compiled by :func:`compile_schema`.
    path : str
        File name to report problems under.

    Returns
    -------
    list of Problem
        Sorted by position. Rules: ``unknown-field`` (with a did-you-mean suggestion),
        ``missing-field``, ``wrong-type`` (naming the expected type), ``invalid-value``
        (enum or const, with a suggestion), ``invalid-format`` (pattern; quoting the
        property's first example), ``wrong-length``, ``empty-value``, ``duplicate-item``,
        ``out-of-range`` and ``schema`` for anything else.
    """
    validator = schema if isinstance(schema, Draft202012Validator) else compile_schema(schema)
    found: set[Problem] = set()
    for error in validator.iter_errors(data):
        found.update(_problems_for(error, positions, path))
    return sorted(found)


def _problems_for(error: ValidationError, positions: Positions, shown: str) -> list[Problem]:
    """Translate one jsonschema error into problems at the offending nodes."""
    node_path = tuple(error.absolute_path)
    where = dotted(node_path)
    kind = error.validator
    schema = error.schema if isinstance(error.schema, Mapping) else {}

    def at(message: str, rule: str, target: PathKey = node_path, key: bool = False) -> Problem:
        line, column = positions.of(target, key=key)
        return Problem(shown, line, column, message, rule)

    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extras = [k for k in error.instance
                  if k not in allowed and not any(p.search(k) for p in patterns)]
        return [
            at(f"unknown field '{k}' in {where}{did_you_mean(k, allowed)}"
               f" (allowed: {', '.join(allowed)})", "unknown-field", (*node_path, k), True)
            for k in extras
        ]
    if kind == "required" and isinstance(error.instance, dict):
        return [at(f"{where}: missing required field '{name}'", "missing-field", node_path,
                   True)
                for name in error.validator_value if name not in error.instance]
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return [at(f"{where}: expected {wanted}, found {describe(error.instance)}",
                   "wrong-type")]
    if kind in ("enum", "const"):
        options = [error.validator_value] if kind == "const" else list(error.validator_value)
        hint = did_you_mean(str(error.instance), [str(o) for o in options])
        return [at(f"{where}: '{error.instance}' is not allowed; expected one of "
                   f"{', '.join(str(o) for o in options)}{hint}", "invalid-value")]
    if kind == "pattern":
        examples = schema.get("examples") or []
        like = f"; expected something like '{examples[0]}'" if examples else ""
        return [at(f"{where}: '{error.instance}' has the wrong form{like}", "invalid-format")]
    if kind in ("minItems", "maxItems") and isinstance(error.instance, list):
        return [at(f"{where}: {error.message}", "wrong-length")]
    if kind == "minLength":
        return [at(f"{where}: must not be empty", "empty-value")]
    if kind == "uniqueItems":
        return [at(f"{where}: items must not repeat", "duplicate-item")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [at(f"{where}: {error.message}", "out-of-range")]
    return [at(f"{where}: {error.message}", "schema")]
