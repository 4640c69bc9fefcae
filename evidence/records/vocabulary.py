"""Controlled vocabularies of the study records (``evidence/schema/vocabulary.yaml``).

The schema says *which* fields take a vocabulary term (the ``x-vocabulary`` annotation on a
property); the vocabulary file says *which terms* exist. Keeping the terms out of the schema
lets reviewers add a term by pull request without touching the schema, and lets the
validator suggest the nearest term (``unknown-term``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
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
    synonyms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def terms(self, name: str) -> Mapping[str, str]:
        """Return the terms of list ``name`` with their descriptions."""
        return self.lists.get(name, {})

    def suggest(self, name: str, word: str) -> str | None:
        """Return the term of list ``name`` that ``word`` names in other words, or ``None``.

        ``word`` is compared, ignoring case, spaces, hyphens and a trailing plural ``s``,
        with each term, its synonyms (``synonyms`` in the vocabulary file) and its
        description, and then by closeness (difflib) with all of those.

        Examples
        --------
        >>> vocabulary = default_vocabulary()
        >>> [vocabulary.suggest("measures", w) for w in ("hazard ratio", "Relative risk", "hr")]
        ['HR', 'RR', 'HR']
        """
        terms = self.terms(name)
        names: dict[str, str] = {}
        for term, description in terms.items():
            for text in (term, *self.synonyms.get(name, {}).get(term, "").split("|"), description):
                if text:
                    names.setdefault(_normal(text), term)
        wanted = _normal(word)
        if wanted in names:
            return names[wanted]
        close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.8)
        return names[close[0]] if close else None


def _normal(text: str) -> str:
    """Lower case, without spaces, hyphens, underscores or a final plural ``s``."""
    flat = re.sub(r"[\s_-]+", "", text.casefold())
    return flat[:-1] if flat.endswith("s") and len(flat) > 3 else flat


def parse_vocabulary(data: Any, path: str = str(VOCABULARY_PATH)) -> Vocabulary:
    """Build a :class:`Vocabulary` from loaded YAML, raising on a malformed file.

    Each top-level key names a list; each list maps a term to its description, or (for
    ``measures``) to ``{kind, description}``.
    """
    problems: list[Problem] = []
    lists: dict[str, dict[str, str]] = {}
    kinds: dict[str, str] = {}
    synonyms: dict[str, dict[str, str]] = {}
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
                if name == "measures":
                    kinds[str(term)] = str(kind)
                others = entry.get("synonyms", [])
                if isinstance(others, list):
                    synonyms.setdefault(name, {})[str(term)] = "|".join(map(str, others))
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
    return Vocabulary(lists, kinds, synonyms)


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
