"""Controlled vocabularies of the study records (``evidence/schema/vocabulary.yaml``).

The schema says *which* fields take a vocabulary term (the ``x-vocabulary`` annotation on a
property); the vocabulary file says *which terms* exist. Keeping the terms out of the schema
lets reviewers add a term by pull request without touching the schema, and lets the
validator suggest the nearest term (``unknown-term``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError, Problem
from evidence.records.yamlio import PathKey, load_yaml

SCHEMA_DIR = Path(__file__).parents[1] / "schema"
STUDY_SCHEMA_PATH = SCHEMA_DIR / "study.schema.json"
VOCABULARY_PATH = SCHEMA_DIR / "vocabulary.yaml"

#: Kinds of measure; they decide which statistic forms a measure accepts.
MEASURE_KINDS = ("ratio", "log-ratio", "percent", "correlation", "difference", "coefficient")


@dataclass(frozen=True)
class Vocabulary:
    """Every controlled list: ``lists[name][term]`` is the term's one-line description.

    ``measure_kinds[term]`` is the kind (one of :data:`MEASURE_KINDS`) of each measure.
    """

    lists: Mapping[str, Mapping[str, str]]
    measure_kinds: Mapping[str, str]

    def terms(self, name: str) -> Mapping[str, str]:
        """Return the terms of list ``name`` with their descriptions."""
        return self.lists.get(name, {})


def parse_vocabulary(data: Any, path: str = str(VOCABULARY_PATH)) -> Vocabulary:
    """Build a :class:`Vocabulary` from loaded YAML, raising on a malformed file.

    Each top-level key names a list; each list maps a term to its description, or (for
    ``measures``) to ``{kind, description}``.
    """
    problems: list[Problem] = []
    lists: dict[str, dict[str, str]] = {}
    kinds: dict[str, str] = {}
    if not isinstance(data, dict):
        raise EvidenceError([Problem(path, 0, 0, "vocabulary must be a mapping", "vocabulary")])
    for name, terms in data.items():
        if not isinstance(terms, dict):
            problems.append(
                Problem(path, 0, 0, f"list '{name}' must map terms to descriptions", "vocabulary")
            )
            continue
        lists[name] = {}
        for term, entry in terms.items():
            if isinstance(entry, dict):
                kind = entry.get("kind")
                if name == "measures" and kind not in MEASURE_KINDS:
                    problems.append(
                        Problem(
                            path,
                            0,
                            0,
                            f"measure '{term}' needs a kind, one of {', '.join(MEASURE_KINDS)}",
                            "vocabulary",
                        )
                    )
                kinds[str(term)] = str(kind)
                entry = entry.get("description")
            if not isinstance(entry, str) or not entry.strip():
                problems.append(
                    Problem(
                        path,
                        0,
                        0,
                        f"term '{term}' in '{name}' needs a one-line description",
                        "vocabulary",
                    )
                )
                continue
            lists[name][str(term)] = entry
    if problems:
        raise EvidenceError(problems)
    return Vocabulary(lists, kinds)


@cache
def default_vocabulary() -> Vocabulary:
    """Load the vocabulary shipped with the package (once per process)."""
    loaded = load_yaml(VOCABULARY_PATH)
    if loaded.problems:
        raise EvidenceError(list(loaded.problems))
    return parse_vocabulary(loaded.data)


@cache
def study_schema() -> dict[str, Any]:
    """Load the study-record JSON Schema shipped with the package (once per process)."""
    with open(STUDY_SCHEMA_PATH, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def vocabulary_fields(schema: Mapping[str, Any]) -> dict[tuple[str, ...], str]:
    """Map each field path that takes a vocabulary term to the list's name.

    Paths use ``"*"`` for "every item of a list", e.g.
    ``("effects", "*", "exposure", "tie_types", "*") -> "tie_types"``.
    """
    found: dict[tuple[str, ...], str] = {}
    for path, node in _walk_schema(schema, schema, ()):
        if "x-vocabulary" in node:
            found[path] = node["x-vocabulary"]
    return found


def _walk_schema(
    root: Mapping[str, Any], node: Mapping[str, Any], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    """Yield ``(field path, subschema)`` for every property, following local ``$ref``."""
    node = resolve_ref(root, node)
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _walk_schema(root, child, (*path, name))
    if isinstance(node.get("items"), Mapping):
        yield from _walk_schema(root, node["items"], (*path, "*"))


def resolve_ref(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow a local ``{"$ref": "#/$defs/name"}`` to the schema it names."""
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def matching_nodes(data: Any, pattern: tuple[str, ...]) -> Iterator[tuple[PathKey, Any]]:
    """Yield ``(path, value)`` for every node of ``data`` matching a ``"*"`` field path."""
    nodes: list[tuple[PathKey, Any]] = [((), data)]
    for part in pattern:
        following: list[tuple[PathKey, Any]] = []
        for path, value in nodes:
            if part == "*" and isinstance(value, list):
                following.extend(((*path, i), item) for i, item in enumerate(value))
            elif isinstance(value, dict) and part in value:
                following.append(((*path, part), value[part]))
        nodes = following
    yield from nodes
