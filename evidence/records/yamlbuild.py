"""Compose YAML with libyaml and build plain Python values from the nodes.

The low-level half of :mod:`evidence.records.yamlio`: a parser (libyaml's when PyYAML was built with
it, else PyYAML's pure-Python one) with a YAML 1.2 core-schema resolver, and a builder that
turns composed nodes into ``dict``, ``list``, ``str``, ``int``, ``float``, ``bool`` and
``None``, refusing tags, aliases, complex keys, duplicate keys and deep nesting.
"""

from __future__ import annotations

import math
import re
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

#: Deepest nesting of lists and mappings accepted.
MAX_DEPTH = 64

#: Largest integer accepted: 2**53, the largest that every float holds exactly (a count,
#: a year or a sample size beyond it is a typo, and would overflow float conversions).
MAX_INT = 2**53
_MAX_INT_DIGITS = 40

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


class Loader(_Parser, _CoreLoader):
    """libyaml's parser and composer (when available) with the core-schema resolver."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _CoreLoader.__init__(self)


class PureLoader(_PureParser, _CoreLoader):
    """PyYAML's pure-Python parser and composer with the core-schema resolver."""

    def __init__(self, stream: str) -> None:
        _PureParser.__init__(self, stream)
        _CoreLoader.__init__(self)


#: Placeholder tag of a plain (unquoted, untagged) scalar until the builder resolves it.
_PLAIN = "!plain"
_FIRST_CHARACTER = {
    first: tuple(entries) for first, entries in _CoreResolver.yaml_implicit_resolvers.items()
}


class AbortError(Exception):
    """Stop building a document (a problem that makes the rest meaningless)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


class Builder:
    """Builds plain Python values from composed nodes and collects problems."""

    def __init__(self, shown: str, text: str, track_nodes: bool):
        self.shown = shown
        self.text = text
        self.problems: list[Problem] = []
        self.seen: set[int] | None = set() if track_nodes else None

    def problem(self, node: yaml.Node, message: str, rule: str) -> Problem:
        """Make a problem at ``node``."""
        mark = node.start_mark
        return Problem(self.shown, mark.line + 1, mark.column + 1, message, rule)

    def build(self, node: yaml.Node, depth: int) -> Any:
        """Build the plain value of ``node`` (``depth`` levels below the root)."""
        if self.seen is not None:
            if id(node) in self.seen:
                raise AbortError(self._alias_problem())
            self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise AbortError(
                self.problem(node, f"nesting deeper than {MAX_DEPTH} levels", "yaml-too-deep")
            )
        cls = node.__class__
        if isinstance(node, yaml.ScalarNode):
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
            raise AbortError(self._tag_problem(node))
        if cls is yaml.SequenceNode:
            return [self.build(item, depth + 1) for item in node.value]
        assert isinstance(node, yaml.MappingNode)
        return self.mapping(node, depth)

    def mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        """Build a dict, reporting complex and duplicate keys."""
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
                    raise AbortError(self._alias_problem())
                self.seen.add(id(key_node))
            if key_node.tag != _PLAIN and key_node.tag != _STR:
                raise AbortError(self._tag_problem(key_node))
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
        """Convert a scalar of a core-schema tag; refuse any other tag."""
        value = node.value
        try:
            if tag == _INT:
                number = _to_int(value) if len(value) <= _MAX_INT_DIGITS else None
                if number is None or abs(number) > MAX_INT:
                    self.problems.append(
                        self.problem(
                            node,
                            f"'{value[:20]}{'...' if len(value) > 20 else ''}' "
                            f"({len(value.lstrip('+-'))} digits) is too large for a number "
                            f"here (at most {MAX_INT:,}); check for a typo",
                            "number-too-large",
                        )
                    )
                    return None
                return number
            if tag == _FLOAT:
                real = _to_float(value)
                if not math.isfinite(real):
                    self.problems.append(
                        self.problem(node, f"'{value}' is not a finite number", "non-finite-number")
                    )
                return real
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
        raise AbortError(self._tag_problem(node))

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
            for event in yaml.parse(self.text, Loader=Loader):  # type: ignore[arg-type]
                if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
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


def compose(text: str) -> yaml.Node | None:
    """Compose one YAML document into nodes with :data:`Loader`.

    Raises PyYAML's errors (``MarkedYAMLError`` with a mark, ``ReaderError`` with an
    offset); :func:`evidence.records.yamlio.load_yaml` turns them into problems.
    """
    loader = Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()
