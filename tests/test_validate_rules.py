"""One invalid fixture per rule: each reports its rule at the line (and column) expected.

The fixtures in tests/fixtures/invalid/ are written by make_fixtures.py there: a small valid
record with one change, whose position is read off the text (a marker the script removes)
and stored in the fixture's `# expect: <rule> <line>:<col>` comment. Cross-file rules have a
directory each with `expect.txt`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evidence.errors import errors_in
from evidence.records.rules import RULES
from evidence.records.validate import CROSS_FILE_RULES, validate_paths

INVALID = Path(__file__).parent / "fixtures" / "invalid"
EXPECT = re.compile(rb"# expect: ([a-z0-9-]+) (\d+):(\d+)")

RECORD_FIXTURES = sorted(INVALID.glob("*.yaml"))
DIRECTORY_FIXTURES = sorted(p for p in INVALID.iterdir() if (p / "expect.txt").is_file())


def expectation(path: Path) -> tuple[str, int, int]:
    match = EXPECT.search(path.read_bytes())
    assert match, f"{path.name} has no '# expect:' comment"
    return match.group(1).decode(), int(match.group(2)), int(match.group(3))


def test_there_is_at_least_one_fixture_per_rule_and_thirty_in_all():
    covered = {expectation(p)[0] for p in RECORD_FIXTURES} | {p.name for p in DIRECTORY_FIXTURES}
    assert len(covered) >= 30
    assert set(RULES) <= covered
    assert set(CROSS_FILE_RULES) <= covered


@pytest.mark.parametrize("fixture", RECORD_FIXTURES, ids=lambda p: p.stem)
def test_record_fixture_reports_its_rule_at_its_position(fixture):
    rule, line, column = expectation(fixture)
    assert fixture.stem == rule
    problems = validate_paths([fixture])
    assert (rule, line, column) in [(p.rule, p.line, p.column) for p in problems]
    # the change breaks only its own rule
    assert {p.rule for p in problems} == {rule}
    assert all(p.path.endswith(fixture.name) for p in problems)


@pytest.mark.parametrize("fixture", DIRECTORY_FIXTURES, ids=lambda p: p.name)
def test_directory_fixture_reports_its_rule_at_its_position(fixture):
    rule, file_name, position = (fixture / "expect.txt").read_text().split()
    line, column = (int(x) for x in position.split(":"))
    subdirectories = sorted(p for p in fixture.iterdir() if p.is_dir())
    problems = validate_paths(subdirectories or [fixture])
    expected_path = (fixture / file_name).as_posix()
    found = [(Path(p.path).resolve().as_posix(), p.rule, p.line, p.column) for p in problems]
    assert (Path(expected_path).resolve().as_posix(), rule, line, column) in found


@pytest.mark.parametrize(
    ("rule", "severity"),
    [
        ("ci-asymmetric", "warning"),
        ("schema-comment", "warning"),
        ("ci-order", "error"),
        ("duplicate-key", "error"),
    ],
)
def test_warnings_do_not_count_as_errors(rule, severity):
    problems = validate_paths([INVALID / f"{rule}.yaml"])
    assert {p.severity for p in problems} == {severity}
    assert bool(errors_in(problems)) == (severity == "error")


def test_file_too_large_and_unreadable_paths(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("id: big\nnotes: " + "x" * (2 * 1024 * 1024) + "\n")
    assert [(p.rule, p.line, p.column) for p in validate_paths([big])] == [("file-too-large", 0, 0)]
    missing = tmp_path / "missing.yaml"
    assert [p.rule for p in validate_paths([missing])] == ["file-unreadable"]


def test_year_in_the_future_is_judged_against_the_given_date():
    import datetime

    fixture = INVALID / "year-range.yaml"  # year: 2999
    assert [p.rule for p in validate_paths([fixture], today=datetime.date(2026, 1, 1))] == [
        "year-range"
    ]
    # in the year 3000 it is valid; it still differs from its bibliography entry (2001)
    later = validate_paths([fixture], today=datetime.date(3000, 1, 1))
    assert [(p.rule, p.severity) for p in later] == [("bib-mismatch", "warning")]


def test_a_path_that_does_not_exist_is_named_as_missing(tmp_path):
    for missing in (tmp_path / "studeis", tmp_path / "nope.bib", tmp_path / "x.yaml"):
        problems = validate_paths([missing])
        assert [(p.rule, p.message) for p in problems] == [
            ("file-unreadable", "no such file or directory")
        ]


def test_an_empty_directory_is_a_warning_not_a_silent_pass(tmp_path):
    problems = validate_paths([tmp_path])
    assert [(p.rule, p.severity) for p in problems] == [("no-records", "warning")]
    assert not errors_in(problems)


def test_an_unreadable_record_does_not_make_its_citation_look_unused(tmp_path):
    # bib-unused is skipped for a bibliography beside a record that could not be read:
    # that record's citations are unknown, so "cited by no record" would be a guess.
    fixture = INVALID / "bib-unused"
    for name in ("a.yaml", "references.bib"):
        (tmp_path / name).write_bytes((fixture / name).read_bytes())
    (tmp_path / "broken.yaml").write_text("id: [broken\n", encoding="utf-8")
    rules = [p.rule for p in validate_paths([tmp_path])]
    assert "yaml-syntax" in rules
    assert "bib-unused" not in rules


@pytest.mark.parametrize("value", ["null", "3", "[fewer-ties]"])
def test_a_vocabulary_field_of_the_wrong_type_is_one_problem(tmp_path, value):
    # an empty `higher_means:` (as `evidence new` writes it) used to give a wrong-type
    # and an "'None' is not allowed" invalid-value problem at the same place
    valid = next((Path(__file__).parent / "fixtures" / "valid").glob("*.yaml"))
    text = valid.read_text(encoding="utf-8")
    assert "higher_means: fewer-ties" in text
    record = tmp_path / valid.name
    record.write_text(
        text.replace("higher_means: fewer-ties", f"higher_means: {value}", 1), encoding="utf-8"
    )
    problems = [p for p in validate_paths([record]) if "higher_means" in p.message]
    assert [p.rule for p in problems] == ["wrong-type"]
