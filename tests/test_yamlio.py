"""Safe YAML loading (evidence.records.yamlio): values, positions, hostile files, schema errors."""

from __future__ import annotations

import math
import os

import pytest

from evidence.records.yamlio import MAX_BYTES, check_schema, compile_schema, load_yaml


def load(text: str, **kwargs):
    return load_yaml("doc.yaml", text=text, **kwargs)


def rules_of(loaded) -> list[str]:
    return [p.rule for p in loaded.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML 1.2 core schema: no yes/no booleans, no sexagesimal numbers, no dates
        ("a: NO", "NO"),
        ("a: yes", "yes"),
        ("a: 1:30", "1:30"),
        ("a: 2013-01-01", "2013-01-01"),
        ("a: true", True),
        ("a: False", False),
        ("a: ~", None),
        ("a:", None),
        ("a: 12", 12),
        ("a: -3", -3),
        ("a: 0x1F", 31),
        ("a: 0o17", 15),
        ("a: 1.5e3", 1500.0),
        ("a: .5", 0.5),
        ("a: '12'", "12"),
        ("a: 10.1073/pnas.1219686110", "10.1073/pnas.1219686110"),
    ],
)
def test_scalars_follow_the_core_schema(text, expected):
    loaded = load(text)
    assert loaded.problems == ()
    assert loaded.data["a"] == expected
    assert type(loaded.data["a"]) is type(expected)


def test_positions_of_values_and_keys():
    text = "id: x\nouter:\n  inner:\n    - 1\n    - {c: 2}\n"
    loaded = load(text)
    positions = loaded.positions
    assert positions.of(("id",)) == (1, 5)
    assert positions.of(("outer", "inner"), key=True) == (3, 3)
    assert positions.of(("outer", "inner", 0)) == (4, 7)
    assert positions.of(("outer", "inner", 1, "c")) == (5, 11)
    # a path that does not exist falls back to its nearest ancestor
    assert positions.of(("outer", "inner", 1, "missing")) == (5, 7)
    assert loaded.first_line == "id: x"


@pytest.mark.parametrize(
    ("text", "rule", "line", "column"),
    [
        ("a: !!python/object/apply:os.system ['ls']\n", "yaml-tag", 1, 4),
        ("a: !!python/name:os.system\n", "yaml-tag", 1, 4),
        ("a: !custom value\n", "yaml-tag", 1, 4),
        ("a: !!binary aGVsbG8=\n", "yaml-tag", 1, 4),
        ("a: !!set {x, y}\n", "yaml-tag", 1, 4),
        ("a: &x [1, 2]\nb: *x\n", "yaml-alias", 2, 4),
        ("a: 1\nb: 2\na: 3\n", "duplicate-key", 3, 1),
        ("- a\n- b\n", "not-a-mapping", 1, 1),
        ("just text\n", "not-a-mapping", 1, 1),
        ("# a comment\n\n", "empty-file", 0, 0),
        ("", "empty-file", 0, 0),
        ("a: 1\n---\nb: 2\n", "yaml-multiple-documents", 2, 1),
        ("a: [1, 2\nb: 3\n", "yaml-syntax", 2, 2),
        ("a: b\x07c\n", "yaml-syntax", 1, 5),
        ("? [a]\n: 1\n", "yaml-complex-key", 1, 3),
        ("a: .nan\n", "non-finite-number", 1, 4),
        ("a: -.inf\n", "non-finite-number", 1, 4),
        ("a: " + "[" * 70 + "]" * 70 + "\n", "yaml-too-deep", 1, 4 + 64),
    ],
)
def test_hostile_or_broken_text_gives_one_problem(text, rule, line, column):
    loaded = load(text)
    assert [(p.rule, p.line, p.column) for p in loaded.problems] == [(rule, line, column)]
    assert not loaded.ok


def test_alias_bomb_is_refused_without_expanding():
    # "billion laughs": nine levels of nine aliases would build 9**9 items
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    loaded = load("\n".join(lines) + "\n")
    assert [(p.rule, p.line, p.column) for p in loaded.problems] == [("yaml-alias", 2, 10)]
    assert loaded.data is None


def test_file_over_the_size_limit_is_not_parsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * (2 * 1024 * 1024) + "\n")
    loaded = load_yaml(path)
    assert [(p.rule, p.line) for p in loaded.problems] == [("file-too-large", 0)]
    assert f"{MAX_BYTES:,}" in loaded.problems[0].message


def test_latin1_bytes_point_at_the_first_bad_byte(tmp_path):
    path = tmp_path / "latin.yaml"
    # line 2: "name: Malm" is 10 characters, the byte 0xf6 is character 11
    path.write_bytes("id: x\nname: Malm\xf6\n".encode("latin-1"))
    loaded = load_yaml(path)
    assert [(p.rule, p.line, p.column) for p in loaded.problems] == [("not-utf8", 2, 11)]


def test_multibyte_characters_before_the_bad_byte_count_once(tmp_path):
    path = tmp_path / "mixed.yaml"
    # "q: é" is 4 characters (5 bytes); the stray byte is character 5
    path.write_bytes("q: é".encode() + b"\xff\n")
    loaded = load_yaml(path)
    assert [(p.rule, p.line, p.column) for p in loaded.problems] == [("not-utf8", 1, 5)]


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffid: x\n".encode())
    assert load_yaml(path).data == {"id": "x"}


def test_missing_file_and_directory(tmp_path):
    assert rules_of(load_yaml(tmp_path / "missing.yaml")) == ["file-unreadable"]
    assert rules_of(load_yaml(tmp_path)) == ["file-unreadable"]


def test_a_list_is_accepted_when_no_mapping_is_required():
    loaded = load("- 1\n- 2\n", require_mapping=False)
    assert loaded.data == [1, 2]
    assert loaded.problems == ()


def test_non_finite_value_is_kept_for_later_checks():
    loaded = load("a: .inf\n")
    assert math.isinf(loaded.data["a"])


SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "size"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z]+$", "examples": ["alpha"]},
        "size": {"type": "integer"},
        "colour": {"enum": ["red", "green", "blue"]},
        "pair": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
        "inner": {
            "type": "object",
            "additionalProperties": False,
            "required": ["x"],
            "properties": {"x": {"type": "number"}},
        },
    },
}


def schema_problems(text: str):
    loaded = load(text)
    return check_schema(loaded.data, loaded.positions, SCHEMA, loaded.path)


def test_schema_unknown_field_suggests_the_nearest_name():
    (problem,) = schema_problems("name: a\nsize: 1\ncolor: red\n")
    assert (problem.rule, problem.line, problem.column) == ("unknown-field", 3, 1)
    assert "did you mean 'colour'?" in problem.message


def test_schema_wrong_type_names_the_expected_type():
    (problem,) = schema_problems("name: a\nsize: '12 people'\n")
    assert (problem.rule, problem.line, problem.column) == ("wrong-type", 2, 7)
    assert "expected a whole number, found text ('12 people')" in problem.message


def test_schema_enum_suggests_a_value():
    (problem,) = schema_problems("name: a\nsize: 1\ncolour: gren\n")
    assert (problem.rule, problem.line, problem.column) == ("invalid-value", 3, 9)
    assert "did you mean 'green'?" in problem.message


def test_schema_missing_fields_pattern_and_length():
    problems = schema_problems("name: Alpha\npair: [1]\ninner: {}\n")
    found = {(p.rule, p.line, p.column) for p in problems}
    assert found == {
        ("missing-field", 1, 1),  # size, at the top-level mapping
        ("invalid-format", 1, 7),  # name
        ("wrong-length", 2, 7),  # pair
        ("missing-field", 3, 1),  # inner.x, at the key 'inner'
    }
    assert any("expected something like 'alpha'" in p.message for p in problems)


def test_schema_validator_is_compiled_once():
    assert compile_schema(SCHEMA) is compile_schema(SCHEMA)


@pytest.mark.parametrize(
    "text",
    [
        "id: x\ncountries: [NO, GB]\nn: 12\nf: 1.5e3\nd: 2013-01-01\nq: '7'\nz: ~\n",
        "a: !!python/object/apply:os.system ['ls']\n",
        "a: &x [1, 2]\nb: *x\n",
        "a: 1\nb: 2\na: 3\n",
        "a: [1, 2\nb: 3\n",
        "a: 1\n---\nb: 2\n",
        "a: b\x07c\n",
        "- a\n",
    ],
)
def test_pure_python_parser_gives_the_same_result(text, monkeypatch):
    from evidence.records import yamlbuild

    with_libyaml = load(text)
    monkeypatch.setattr(yamlbuild, "Loader", yamlbuild.PureLoader)
    pure = load(text)
    assert pure.data == with_libyaml.data
    assert [(p.rule, p.line, p.column) for p in pure.problems] == [
        (p.rule, p.line, p.column) for p in with_libyaml.problems
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_or_device_is_refused_without_reading_it(tmp_path):
    # a FIFO named *.yaml used to block `evidence validate` forever; /dev/zero never ends
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert [(p.rule, p.message) for p in load_yaml(fifo).problems] == [
        ("file-unreadable", "cannot read the file: not a regular file")
    ]
    if os.path.exists("/dev/zero"):
        device = tmp_path / "zero.yaml"
        device.symlink_to("/dev/zero")
        assert rules_of(load_yaml(device)) == ["file-unreadable"]
