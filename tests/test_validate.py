"""Validation of whole directories, record building and the `evidence validate` command."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

import evidence
from evidence.cli import main
from evidence.records.model import Position, Statistic, Study, TwoByTwo, TwoGroups
from evidence.records.validate import load_studies, validate_paths
from evidence.records.yamlio import load_yaml

FIXTURES = Path(__file__).parent / "fixtures"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"


def test_valid_fixture_set_has_no_problem():
    assert validate_paths([VALID]) == []


def test_load_studies_is_exported_from_the_package():
    studies, problems = evidence.load_studies(VALID)
    assert problems == []
    assert [s.id for s in studies] == ["cohortstudy2010", "forms2015"]


def plain(value):
    """Dataclasses and tuples as the dicts and lists a YAML file holds, defaults left out."""
    if dataclasses.is_dataclass(value):
        value = {
            f.name: getattr(value, f.name)
            for f in dataclasses.fields(value)
            if f.name not in ("path", "position")
        }
    if isinstance(value, dict):
        return {
            k: plain(v)
            for k, v in value.items()
            if v is not None and v != () and not (k == "ci_level" and v == 0.95)
        }
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["cohortstudy2010", "forms2015"])
def test_records_round_trip_field_for_field(name):
    path = VALID / f"{name}.yaml"
    studies, _ = load_studies(path)
    (study,) = studies
    data = load_yaml(path).data
    assert plain(study) == plain(data)


def test_built_records_have_typed_fields_and_positions():
    studies, _ = load_studies(VALID)
    by_id = {s.id: s for s in studies}
    cohort = by_id["cohortstudy2010"]
    assert isinstance(cohort, Study)
    assert cohort.countries == ("GB", "NO")
    assert cohort.cluster == "fixture-cohort"
    first, second = cohort.effects
    assert first.statistic == Statistic("HR", 1.26, (1.08, 1.48), 0.95, p=0.003)
    assert first.exposure.tie_types == ("family", "friend")
    assert first.subgroup is not None and first.subgroup.sex == "female"
    # effects[0] starts at its `id` on line 21, column 5 (after "  - ")
    assert first.position == Position(cohort.path, 21, 5)
    assert second.position == Position(cohort.path, 39, 5)
    assert second.statistic.se_log == 0.08
    forms = {e.id: e for e in by_id["forms2015"].effects}
    assert forms["two-by-two"].statistic.table == TwoByTwo(12, 100, 30, 400)
    assert forms["two-groups"].statistic.groups == TwoGroups(14.2, 3.1, 42, 12.9, 2.8, 40)
    assert forms["percent"].statistic.value == 57.0
    assert isinstance(forms["percent"].statistic.value, float)
    assert forms["only-range"].statistic.range == (1.5, 2.1)
    assert forms["log-or"].source.citation == "review2012"


def test_same_doi_with_one_cohort_and_different_effects_is_allowed():
    # both valid records cite doi 10.1000/fixture.2010 and declare cohort fixture-cohort
    assert [p.rule for p in validate_paths([VALID]) if p.rule == "duplicate-doi"] == []


def test_records_with_errors_are_not_built():
    studies, problems = load_studies(INVALID / "ci-order.yaml")
    assert studies == []
    assert [p.rule for p in problems] == ["ci-order"]


def test_problems_from_several_files_come_sorted():
    paths = [INVALID / "year-range.yaml", INVALID / "ci-order.yaml", INVALID / "id-mismatch.yaml"]
    problems = validate_paths(paths)
    assert problems == sorted(problems, key=lambda p: (p.path, p.line, p.column))
    # each file's own rule; the fixtures also share one DOI and one effect (duplicate-doi)
    assert {(Path(p.path).name, p.rule) for p in problems} == {
        ("ci-order.yaml", "ci-order"),
        ("id-mismatch.yaml", "id-mismatch"),
        ("year-range.yaml", "year-range"),
        ("id-mismatch.yaml", "duplicate-doi"),
    }


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["validate", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_exit_status_zero_when_clean(capsys):
    status, out, _ = run_cli(capsys, str(VALID))
    assert status == 0
    assert out.strip() == "0 errors, 0 warnings"


def test_cli_warnings_do_not_fail(capsys):
    status, out, _ = run_cli(capsys, str(INVALID / "ci-asymmetric.yaml"))
    assert status == 0
    assert out.strip().endswith("0 errors, 1 warning")


def test_cli_text_format_lists_every_problem_then_a_count(capsys):
    status, out, _ = run_cli(capsys, str(INVALID / "ci-order.yaml"), str(INVALID / "p-range.yaml"))
    assert status == 1
    lines = out.strip().splitlines()
    assert lines[0].endswith(
        "ci-order.yaml:27:47: ci [1.48, 1.08] is reversed; expected lower <= upper [ci-order]"
    )
    assert lines[1].endswith("p-range.yaml:27:64: p must be in (0, 1], found 1.5 [p-range]")
    assert lines[2] == "2 errors, 0 warnings"


def test_cli_json_format(capsys):
    status, out, _ = run_cli(capsys, "--format", "json", str(INVALID / "unknown-term.yaml"))
    assert status == 1
    (item,) = json.loads(out)
    assert (item["rule"], item["line"], item["column"], item["severity"]) == (
        "unknown-term",
        7,
        9,
        "error",
    )
    assert "did you mean 'prospective-cohort'?" in item["message"]


def test_cli_github_format(capsys):
    status, out, err = run_cli(capsys, "--format", "github", str(INVALID / "yaml-tag.yaml"))
    assert status == 1
    assert out.startswith("::error file=")
    assert ",line=6,col=7,title=yaml-tag::" in out
    assert err.strip() == "1 error, 0 warnings"


@pytest.mark.parametrize(
    "name", ["yaml-tag", "yaml-alias", "not-utf8", "empty-file", "not-a-mapping", "duplicate-key"]
)
def test_cli_hostile_files_give_one_clear_problem(capsys, name):
    status, out, err = run_cli(capsys, str(INVALID / f"{name}.yaml"))
    assert status == 1
    assert "Traceback" not in out + err
    assert out.strip().splitlines()[-1] == "1 error, 0 warnings"
    assert f"[{name}]" in out


def test_cli_default_path_is_studies(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run_cli(capsys)
    assert status == 1
    assert "studies:0:0:" in out


def test_a_bibliography_given_alone_is_checked_for_syntax_only():
    assert validate_paths([VALID / "references.bib"]) == []
    broken = INVALID / "bib-syntax" / "references.bib"
    assert [p.rule for p in validate_paths([broken])] == ["bib-syntax"]


def test_a_directory_given_twice_is_checked_once():
    twice = validate_paths([INVALID / "bib-unused", (INVALID / "bib-unused").resolve()])
    # expect.txt beside the fixture is a file no command reads: a warning
    assert [p.rule for p in twice] == ["file-not-loaded", "bib-unused"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_bibliography_that_is_a_named_pipe_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "references.bib"
    os.mkfifo(fifo)
    assert [(p.rule, p.message) for p in validate_paths([fifo])] == [
        ("bib-unreadable", "is a FIFO (named pipe), not a regular file")
    ]
