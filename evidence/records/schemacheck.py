"""Check loaded YAML against a JSON Schema and point each error at its node.

:func:`check_schema` runs `jsonschema <https://python-jsonschema.readthedocs.io>`_ (Draft
2020-12) and turns each error into a :class:`~evidence.errors.Problem` at the line and column
of the offending node, with a message for people: the expected type named, a did-you-mean
suggestion for an unknown field or value, an example for a value of the wrong form.

Most files are valid, so a document first goes through a *fast check* compiled from the
schema into plain Python predicates (for the keywords the record schemas use). Only when the
fast check fails, or the schema uses a keyword it does not know, does jsonschema walk the
document to explain why; jsonschema stays the referee of what is valid.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from evidence.errors import Problem

if TYPE_CHECKING:
    from evidence.records.yamlio import PathKey, Positions

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


def ecma_pattern(pattern: str) -> re.Pattern[str]:
    r"""Compile a JSON Schema ``pattern`` with its own (ECMA-262) meaning of a final ``$``.

    In JSON Schema, as in ECMA-262 without the multiline flag, ``$`` matches only at the
    very end of the text; Python's ``$`` also matches before a final newline, so
    ``^[a-z]+$`` would accept ``"elsa\n"``. A final unescaped ``$`` becomes ``\Z``.

    Examples
    --------
    >>> pattern = ecma_pattern("^[a-z]+$")
    >>> bool(pattern.search("elsa\n")), bool(pattern.search("elsa"))
    (False, True)
    """
    cached = _PATTERNS.get(pattern)
    if cached is None:
        text = pattern
        if text.endswith("$") and not text.endswith("\\$"):
            text = text[:-1] + "\\Z"
        cached = _PATTERNS[pattern] = re.compile(text)
    return cached


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterable[Any]:
    """Jsonschema's ``pattern`` keyword with :func:`ecma_pattern`'s meaning of ``$``."""
    if validator.is_type(instance, "string") and not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


#: Draft 2020-12 with JSON Schema's own meaning of ``pattern`` (a final ``$`` is the end).
SchemaValidator = validators.extend(Draft202012Validator, {"pattern": _pattern_keyword})


def compile_schema(schema: Mapping[str, Any]) -> Draft202012Validator:
    """Return a Draft 2020-12 validator for ``schema``, built once per schema object."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    Draft202012Validator.check_schema(schema)
    validator = SchemaValidator(schema)
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
    validator = (
        schema
        if isinstance(schema, Draft202012Validator | SchemaValidator)
        else compile_schema(schema)
    )
    root = validator.schema
    predicate = fast_check(root) if isinstance(root, Mapping) else None
    if predicate is not None and predicate(data):
        return []
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
    expected: Any = error.validator_value

    def at(message: str, rule: str, target: PathKey = node_path, key: bool = False) -> Problem:
        line, column = positions.of(target, key=key)
        return Problem(shown, line, column, message, rule)

    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extras = [
            k for k in error.instance if k not in allowed and not any(p.search(k) for p in patterns)
        ]
        return [
            at(
                f"unknown field '{k}' in {where}{_unknown_field_hint(k, error.instance, allowed)}",
                "unknown-field",
                (*node_path, k),
                True,
            )
            for k in extras
        ]
    if kind == "required" and isinstance(error.instance, dict):
        return [
            at(f"{where}: missing required field '{name}'", "missing-field", node_path, True)
            for name in expected
            if name not in error.instance
        ]
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return [at(f"{where}: expected {wanted}, found {describe(error.instance)}", "wrong-type")]
    if kind in ("enum", "const"):
        if _fails_declared_type(error.instance, schema):
            return []  # the ``type`` error names what was expected; one problem is enough
        options = [expected] if kind == "const" else list(expected)
        hint = did_you_mean(str(error.instance), [str(o) for o in options])
        return [
            at(
                f"{where}: '{error.instance}' is not allowed; expected one of "
                f"{', '.join(str(o) for o in options)}{hint}",
                "invalid-value",
            )
        ]
    if kind == "pattern":
        return [
            at(f"{where}: {pattern_message(node_path, error.instance, schema)}", "invalid-format")
        ]
    if kind in ("minItems", "maxItems") and isinstance(error.instance, list):
        return [at(f"{where}: {error.message}", "wrong-length")]
    if kind == "minLength":
        if error.instance == "" or expected <= 1:
            return [at(f"{where}: must not be empty", "empty-value")]
        return [
            at(
                f"{where}: '{error.instance}' is too short: give at least {expected} characters "
                f"(found {len(str(error.instance))})",
                "empty-value",
            )
        ]
    if kind == "uniqueItems":
        return [at(f"{where}: items must not repeat", "duplicate-item")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [at(f"{where}: {error.message}", "out-of-range")]
    return [at(f"{where}: {error.message}", "schema")]


_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:", "doi.org/")


def pattern_message(node_path: tuple[Any, ...], instance: Any, schema: Mapping[str, Any]) -> str:
    """Say what is wrong with a value that does not match its pattern, and how to fix it.

    A line break or a leading or trailing space is named; a DOI given as a link is shown
    without its prefix; a country name is answered with its ISO 3166-1 alpha-2 code.
    """
    from evidence.records.countries import country_hint

    text = str(instance)
    field = next((p for p in reversed(node_path) if isinstance(p, str)), "")
    if "\n" in text or "\r" in text:
        return (
            f"{text!r} contains a line break; write it on one line (a value that ends in a "
            "line break usually comes from a '|' block or a quoted '\\n')"
        )
    if text != text.strip():
        return f"{text!r} starts or ends with spaces; remove them"
    if field == "doi":
        bare = next((text[len(p) :] for p in _DOI_PREFIXES if text.lower().startswith(p)), None)
        if bare:
            return f"'{text}' is a link, not a DOI; drop the prefix: doi: {bare}"
        return f"'{text}' is not a DOI; a DOI is 10.NNNN/suffix (e.g. 10.1073/pnas.1219686110)"
    if field == "countries":
        return (
            f"'{text}' is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. "
            f"GB, US, FI){country_hint(text)}"
        )
    examples = schema.get("examples") or []
    like = f"; expected something like '{examples[0]}'" if examples else ""
    return f"'{text}' has the wrong form{like}"


def _unknown_field_hint(key: str, mapping: Mapping[str, Any], allowed: list[str]) -> str:
    """Say what an unknown field most likely is: a typo, or text cut off at a comma."""
    if mapping.get(key) is None and (" " in key or key not in allowed):
        keys = list(mapping)
        before = keys[keys.index(key) - 1] if keys.index(key) > 0 else None
        if before is not None and " " in key:
            return (
                f": it has no value, so it is probably the rest of the text of '{before}' cut "
                f'at a comma; quote that text: {before}: "{mapping.get(before)}, {key}"'
            )
    return f"{did_you_mean(key, allowed)} (allowed: {', '.join(allowed)})"


def _fails_declared_type(instance: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``instance`` is not of the ``type`` the (sub)schema declares, if it declares one."""
    declared = schema.get("type")
    if declared is None:
        return False
    names = [declared] if isinstance(declared, str) else list(declared)
    checker = Draft202012Validator.TYPE_CHECKER
    return not any(checker.is_type(instance, name) for name in names)


# --------------------------------------------------------------------------- fast check

Predicate = Callable[[Any], bool]

#: Keywords that never make a document invalid.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)

_FAST: dict[int, tuple[Mapping[str, Any], Predicate | None]] = {}


class _UnsupportedError(Exception):
    """The schema uses a keyword the fast check does not implement."""


def fast_check(schema: Mapping[str, Any]) -> Predicate | None:
    """Compile ``schema`` into a predicate that is True only for valid documents.

    Returns ``None`` when the schema uses a keyword outside the supported subset (``type``,
    ``properties``, ``required``, ``additionalProperties: false``, ``items``, ``enum`` of
    strings, ``pattern``, ``minLength``, ``minItems``, ``maxItems``, ``uniqueItems``, local
    ``$ref``); callers then rely on jsonschema alone. The predicate may call a valid document
    invalid only in corner cases (never the reverse), which costs a jsonschema pass, not a
    wrong answer.
    """
    cached = _FAST.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    try:
        predicate: Predicate | None = _compile(schema, schema, {})
    except _UnsupportedError:
        predicate = None
    _FAST[id(schema)] = (schema, predicate)
    return predicate


def _compile(root: Mapping[str, Any], node: Any, memo: dict[int, Predicate]) -> Predicate:
    if node is True or node == {}:
        return _always
    if not isinstance(node, Mapping):
        raise _UnsupportedError(str(node))
    if "$ref" in node:
        if set(node) - _ANNOTATIONS - {"$ref"}:
            raise _UnsupportedError("$ref with siblings")
        return _compile(root, _resolve(root, node["$ref"]), memo)
    if id(node) in memo:
        return memo[id(node)]
    checks: list[Predicate] = []
    object_keywords = {
        k: node[k] for k in ("properties", "required", "additionalProperties") if k in node
    }
    if object_keywords:
        checks.append(_object_check(root, object_keywords, memo))
    for keyword, value in node.items():
        if keyword in _ANNOTATIONS or keyword in object_keywords or keyword.startswith("x-"):
            continue
        checks.append(_keyword_check(root, keyword, value, memo))
    predicate = _all_of(checks)
    memo[id(node)] = predicate
    return predicate


def _keyword_check(
    root: Mapping[str, Any], keyword: str, value: Any, memo: dict[int, Predicate]
) -> Predicate:
    if keyword == "type":
        return _type_check(value)
    if keyword == "items":
        item = _compile(root, value, memo)
        return lambda v: not isinstance(v, list) or all(item(x) for x in v)
    if keyword == "enum" and all(isinstance(x, str) for x in value):
        allowed = frozenset(value)
        return lambda v: type(v) is str and v in allowed
    if keyword == "pattern":
        search = ecma_pattern(value).search
        return lambda v: not isinstance(v, str) or search(v) is not None
    if keyword == "minLength":
        return lambda v: not isinstance(v, str) or len(v) >= value
    if keyword == "minItems":
        return lambda v: not isinstance(v, list) or len(v) >= value
    if keyword == "maxItems":
        return lambda v: not isinstance(v, list) or len(v) <= value
    if keyword == "uniqueItems" and value is True:
        return _unique
    raise _UnsupportedError(keyword)


def _object_check(
    root: Mapping[str, Any], keywords: Mapping[str, Any], memo: dict[int, Predicate]
) -> Predicate:
    properties = {k: _compile(root, v, memo) for k, v in keywords.get("properties", {}).items()}
    required = tuple(keywords.get("required", ()))
    additional = keywords.get("additionalProperties", True)
    if additional not in (True, False):
        raise _UnsupportedError("additionalProperties schema")

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            predicate = properties.get(name)
            if predicate is None:
                if additional is False:
                    return False
            elif not predicate(item):
                return False
        return True

    return check


_TYPE_TESTS: dict[str, Predicate] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _type_check(value: str | list[str]) -> Predicate:
    names = [value] if isinstance(value, str) else list(value)
    if any(name not in _TYPE_TESTS for name in names):
        raise _UnsupportedError(f"type {value}")
    tests = [_TYPE_TESTS[name] for name in names]
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(test(v) for test in tests)


def _unique(value: Any) -> bool:
    if not isinstance(value, list):
        return True
    try:
        return len(set(value)) == len(value)
    except TypeError:  # unhashable items: let jsonschema decide
        return False


def _all_of(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def _always(value: Any) -> bool:
    return True


def _resolve(root: Mapping[str, Any], reference: str) -> Any:
    if not reference.startswith("#/"):
        raise _UnsupportedError(reference)
    target: Any = root
    for part in reference[2:].split("/"):
        target = target[part]
    return target
