"""The fast schema pre-check never calls an invalid document valid (jsonschema is the referee)."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from evidence.records.schemacheck import fast_check
from evidence.records.vocabulary import study_schema
from evidence.records.yamlio import load_yaml

FIXTURES = Path(__file__).parent / "fixtures"
SEED = 20261125
MUTATIONS = 400

REPLACEMENTS = [
    None,
    True,
    0,
    -1,
    1.5,
    "",
    "text",
    "10.1/x",
    [],
    [1],
    [1, 2],
    [1, 2, 3],
    ["GB", "GB"],
    {},
    {"x": 1},
]


def documents():
    for path in sorted(FIXTURES.rglob("*.yaml")):
        data = load_yaml(path).data
        if isinstance(data, dict):
            yield path.name, data


def nodes(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nodes(item, (*path, index))


def mutate(data, rng):
    mutated = copy.deepcopy(data)
    path, _ = rng.choice(list(nodes(mutated))[1:])
    parent = mutated
    for part in path[:-1]:
        parent = parent[part]
    action = rng.random()
    if action < 0.2 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action < 0.3 and isinstance(parent, dict):
        parent[path[-1] + "x"] = parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return mutated


def test_fast_check_agrees_with_jsonschema_on_every_fixture():
    schema = study_schema()
    predicate = fast_check(schema)
    assert predicate is not None
    validator = Draft202012Validator(schema)
    for name, data in documents():
        assert predicate(data) == validator.is_valid(data), name


def test_fast_check_never_passes_a_document_jsonschema_rejects():
    schema = study_schema()
    predicate = fast_check(schema)
    validator = Draft202012Validator(schema)
    rng = random.Random(SEED)
    valid = [d for _, d in documents() if validator.is_valid(d)]
    rejected = 0
    for _ in range(MUTATIONS):
        data = mutate(rng.choice(valid), rng)
        if not validator.is_valid(data):
            rejected += 1
            assert not predicate(data), data
    assert rejected > MUTATIONS // 4  # the mutations do exercise invalid documents


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "patternProperties": {"^x": {"type": "string"}}},
        {"anyOf": [{"type": "string"}, {"type": "number"}]},
        {"type": "object", "additionalProperties": {"type": "string"}},
    ],
)
def test_unsupported_keywords_leave_the_work_to_jsonschema(schema):
    assert fast_check(schema) is None


def test_broken_records_give_problems_never_exceptions(tmp_path):
    import yaml

    from evidence.records.validate import load_studies, validate_paths

    (tmp_path / "references.bib").write_text("@article{fixture, title = {x}}\n")
    record = tmp_path / "record.yaml"
    rng = random.Random(SEED + 1)
    valid = [d for _, d in documents()]
    for _ in range(150):
        data = rng.choice(valid)
        for _ in range(rng.randint(1, 3)):
            data = mutate(data, rng)
        record.write_text(yaml.safe_dump(data, sort_keys=False))
        validate_paths([record])  # must not raise
        studies, problems = load_studies(record)
        assert studies or problems
