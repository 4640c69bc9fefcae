"""Bad input a reviewer or a hostile pull request gives: rule, line and how to fix it.

Issue 12 (messages that say how to fix it, the quote is evidence, plausibility), issue 17
(hostile bibliography and numbers) and issue 18 items 5, 6 and 10. Each case is a small
record (the base record of tests/fixtures/invalid/make_fixtures.py with one change) or a
bibliography written to a temporary directory, validated as `evidence validate` does; the
test asserts the rule id, the line and column, and the part of the message that says what
to do. Positions are read off the text (the marker « before the offending node).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from evidence.records.validate import load_studies, validate_paths

_spec = importlib.util.spec_from_file_location(
    "make_fixtures", Path(__file__).parent / "fixtures" / "invalid" / "make_fixtures.py"
)
assert _spec is not None and _spec.loader is not None
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)
MARK, STATISTIC = make_fixtures.MARK, make_fixtures.STATISTIC
BIB = make_fixtures.BIB


def record(*changes: tuple[str, str]) -> str:
    return make_fixtures.record("study", *changes)


def locate(text: str) -> tuple[str, int, int]:
    return make_fixtures.locate(text)


def write(directory: Path, text: str, bib: str = BIB, name: str = "study") -> tuple[Path, int, int]:
    directory.mkdir(parents=True, exist_ok=True)
    text, line, column = locate(text) if MARK in text else (text, 0, 0)
    (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    (directory / "references.bib").write_text(bib, encoding="utf-8")
    return directory / f"{name}.yaml", line, column


def problems_of(directory: Path, rule: str) -> list:
    return [p for p in validate_paths([directory]) if p.rule == rule]


RECORD_CASES = {
    # issue 12: a hazard ratio typed as a percentage, HR 1.17 [1.02, 1.33] in the quote
    "percentage-as-ratio": (
        [
            (STATISTIC, "statistic: {measure: HR, value: «117, ci: [102, 133]}"),
            ('quote: "HR 1.26 (1.08-1.48)"', 'quote: "HR 1.17 (95% CI 1.02-1.33)"'),
        ],
        "number-not-in-quote",
        'is not printed in the quote "HR 1.17 (95% CI 1.02-1.33)"',
    ),
    "percentage-as-ratio-plausibility": (
        [
            (STATISTIC, "statistic: {measure: HR, value: «117, ci: [102, 133]}"),
            ('quote: "HR 1.26 (1.08-1.48)"', 'quote: "HR 117 (102-133)"'),
        ],
        "ratio-implausible",
        "a percentage typed as a ratio (117 for 1.17)",
    ),
    "a-digit-off": (
        [
            (STATISTIC, "statistic: {measure: HR, value: «1.39, ci: [1.21, 1.57]}"),
            ('quote: "HR 1.26 (1.08-1.48)"', 'quote: "HR 1·38 (95% CI 1·21–1·57)"'),
        ],
        "number-not-in-quote",
        "1.39 is not printed in the quote",
    ),
    "ratio-as-percent-increase": (
        [
            (STATISTIC, "statistic: {measure: percent-increase, value: «1.38, ci: [1.21, 1.57]}"),
            ('quote: "HR 1.26 (1.08-1.48)"', 'quote: "HR 1.38 (1.21-1.57)"'),
        ],
        "percent-looks-like-ratio",
        "is it a ratio (HR, RR or OR 1.38)?",
    ),
    "colon-in-a-value": (
        [("  description: adults in a fixture", "  description: adults«: aged 70 and over")],
        "yaml-syntax",
        "put the whole value in double quotes",
    ),
    "unclosed-quote": (
        [("  description: adults in a fixture", '  description: «"adults in a fixture')],
        "yaml-syntax",
        "the quoted text that starts here (line 10) runs on to line 27",
    ),
    "comma-in-a-flow-mapping": (
        [
            (
                "outcome: {domain: mortality, name: all-cause mortality, higher_is: harmful}",
                "outcome: {domain: mortality, name: stroke, «or CVD death, higher_is: harmful}",
            )
        ],
        "unknown-field",
        'quote that text: name: "stroke, or CVD death"',
    ),
    "country-name": (
        [("countries: [GB]", "countries: [«Finland]")],
        "invalid-format",
        "not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. GB, US, FI); "
        "did you mean 'FI' (Finland)?",
    ),
    "doi-as-a-link": (
        [("doi: 10.1000/fixture.1", "doi: «https://doi.org/10.1000/fixture.1")],
        "invalid-format",
        "drop the prefix: doi: 10.1000/fixture.1",
    ),
    "measure-in-words": (
        [(STATISTIC, "statistic: {measure: «hazard ratio, value: 1.26, ci: [1.08, 1.48]}")],
        "unknown-term",
        "did you mean 'HR'?",
    ),
    "relative-risk": (
        [(STATISTIC, "statistic: {measure: «relative risk, value: 1.26, ci: [1.08, 1.48]}")],
        "unknown-term",
        "did you mean 'RR'?",
    ),
    "cohort-with-a-line-break": (
        [("cohort: fixture-cohort", 'cohort: «"fixture-cohort\\n"')],
        "invalid-format",
        "contains a line break",
    ),
    "country-with-a-line-break": (
        [("countries: [GB]", 'countries: [«"GB\\n"]')],
        "invalid-format",
        "contains a line break",
    ),
    "effect-id-with-a-line-break": (
        [("  - id: main", '  - id: «"main\\n"')],
        "invalid-format",
        "contains a line break",
    ),
    "follow-up-in-months-as-years": (
        [("follow_up_years: 5", "follow_up_years: «57\nnotes: a 57-month follow-up")],
        "follow-up-unit",
        "write follow_up: 57 months",
    ),
    "400-digit-integer": (
        [("  n: 500", "  n: «" + "1" * 400)],
        "number-too-large",
        "is too large for a number here",
    ),
    "all-zero-table": (
        [
            (
                STATISTIC,
                "statistic: {measure: OR, table: {exposed_events: 0, exposed_total: «0, "
                "unexposed_events: 0, unexposed_total: 0}}",
            ),
            ('quote: "HR 1.26 (1.08-1.48)"', 'quote: "0/0 vs 0/0"'),
        ],
        "table-empty-group",
        "exposed_total is 0: a 2x2 table needs people in both groups",
    ),
}


@pytest.mark.parametrize("case", sorted(RECORD_CASES))
def test_record_case_reports_rule_line_and_fix(tmp_path, case):
    changes, rule, message = RECORD_CASES[case]
    path, line, column = write(tmp_path, record(*changes))
    found = [(p.line, p.column, p.message) for p in problems_of(tmp_path, rule)]
    assert any((ln, col) == (line, column) and message in text for ln, col, text in found), found


def test_follow_up_with_a_unit_is_read_in_years(tmp_path):
    write(tmp_path, record(("follow_up_years: 5", "follow_up: 57 months")))
    studies, problems = load_studies(tmp_path)
    assert [p for p in problems if p.severity == "error"] == []
    assert (studies[0].follow_up, studies[0].follow_up_years) == ("57 months", 4.75)


def test_a_double_zero_table_is_a_warning_and_left_out_of_analyses(tmp_path):
    from evidence.effects.conversions import to_metric

    write(
        tmp_path,
        record(
            (
                STATISTIC,
                "statistic: {measure: OR, table: {exposed_events: 0, exposed_total: 100, "
                "unexposed_events: 0, unexposed_total: 400}}",
            ),
            ('quote: "HR 1.26 (1.08-1.48)"', 'quote: "0/100 vs 0/400"'),
        ),
    )
    studies, problems = load_studies(tmp_path)
    assert [(p.rule, p.severity) for p in problems] == [("table-double-zero", "warning")]
    converted = to_metric(studies[0].effects[0].statistic, "log-odds-ratio")
    assert "double-zero" in converted.reason and "drop00" in converted.reason


def test_a_copied_record_is_named_not_the_original(tmp_path):
    write(tmp_path, record(), name="study")
    (tmp_path / "study-copy.yaml").write_text(record(), encoding="utf-8")  # sorts first
    duplicate = problems_of(tmp_path, "duplicate-id")
    assert [Path(p.path).name for p in duplicate] == ["study-copy.yaml"]
    assert "is also the id of" in duplicate[0].message and "study.yaml" in duplicate[0].message


def test_a_record_named_yaml_in_capitals_is_reported(tmp_path):
    write(tmp_path, record())
    (tmp_path / "other.YAML").write_text(record(), encoding="utf-8")
    (found,) = problems_of(tmp_path, "wrong-extension")
    assert Path(found.path).name == "other.YAML" and "rename it to other.yaml" in found.message


def test_drafts_and_other_files_are_listed_as_never_loaded(tmp_path):
    write(tmp_path, record())
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "smith2024.yaml").write_text(record(), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("to do\n", encoding="utf-8")
    found = {Path(p.path).name: p for p in problems_of(tmp_path, "file-not-loaded")}
    assert set(found) == {"drafts", "notes.txt"}
    assert all(p.severity == "warning" for p in found.values())
    assert "it holds smith2024.yaml" in found["drafts"].message


def test_screening_counts_are_not_read_as_a_study_record(tmp_path):
    write(tmp_path, record())
    (tmp_path / "screening.yaml").write_text("records_identified: 120\n", encoding="utf-8")
    studies, problems = load_studies(tmp_path)
    assert problems == [] and [s.id for s in studies] == ["study"]


def test_conflict_markers_anywhere_under_studies_are_found(tmp_path):
    write(tmp_path, record())
    (tmp_path / "README.md").write_text("a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> x\n")
    found = [(Path(p.path).name, p.line) for p in problems_of(tmp_path, "merge-conflict")]
    assert found == [("README.md", 2), ("README.md", 4), ("README.md", 6)]


# ------------------------------------------------------------------ bibliography

ENTRY = BIB.rstrip("\n")
BIB_CASES = {
    "missing-comma-after-key": (
        ENTRY.replace("@article{fixture,", "@article{fixture«"),
        "bib-syntax",
        "expected ',' after the key 'fixture' of the entry on line 1; write @article{fixture,",
    ),
    "unknown-entry-type": (
        ENTRY.replace("@article{fixture,", "«@evilentry{fixture,"),
        "bib-entry-type",
        "entry type '@evilentry' cannot be rendered",
    ),
    "field-ending-in-a-backslash": (
        ENTRY.replace("  title = {A fixture study},", "«  title = {A fixture study\\},").replace(
            "«  ", "  «"
        ),
        "bib-field-backslash",
        "ends in a backslash",
    ),
    "javascript-url": (
        ENTRY.replace("  year = {2001},", "  year = {2001},\n  «url = {javascript:alert(1)},"),
        "bib-unsafe-link",
        "is not an http:// or https:// address",
    ),
    "data-url": (
        ENTRY.replace("  year = {2001},", "  year = {2001},\n  «url = {data:text/html,x},"),
        "bib-unsafe-link",
        "links to 'data:text/html,x'",
    ),
    "vbscript-url": (
        ENTRY.replace("  year = {2001},", "  year = {2001},\n  «url = {vbscript:msgbox(1)},"),
        "bib-unsafe-link",
        "links to 'vbscript:msgbox(1)'",
    ),
    "file-url": (
        ENTRY.replace("  year = {2001},", "  year = {2001},\n  «url = {file:///etc/passwd},"),
        "bib-unsafe-link",
        "links to 'file:///etc/passwd'",
    ),
    "relative-path-url": (
        ENTRY.replace("  year = {2001},", "  year = {2001},\n  «url = {../../../../etc/passwd},"),
        "bib-unsafe-link",
        "links to '../../../../etc/passwd'",
    ),
    "title-link": (
        ENTRY.replace(
            "  title = {A fixture study},", "  «title = {A \\href{javascript:alert(1)}{study}},"
        ),
        "bib-unsafe-link",
        "links to 'javascript:alert(1)'",
    ),
    "javascript-doi": (
        ENTRY.replace("  year = {2001},", "  year = {2001},\n  «doi = {javascript:alert(1)},"),
        "bib-unsafe-link",
        "not a bare DOI",
    ),
    "doi-with-its-prefix": (
        ENTRY.replace(
            "  year = {2001},", "  year = {2001},\n  «doi = {https://doi.org/10.1000/x},"
        ),
        "bib-unsafe-link",
        "drop the prefix: doi = {10.1000/x}",
    ),
    "unclosed-brace": (
        ENTRY.replace("  title = {A fixture study},", "  «title = {A fixture study,"),
        "bib-syntax",
        "the value of 'title' opens a brace here that is not closed before the next field",
    ),
    # a doubling chain of 100 characters: once s13 is defined the file holds 100 x
    # (2^14 - 1) characters, over the bound of 2^20 (s20 alone would be 100 MB; the
    # campaign's chain to s39 asked pybtex for 50 TB)
    "string-doubling-chain": (
        ENTRY
        + '\n@string{s0 = "'
        + "x" * 100
        + '"}\n'
        + "".join(
            ("«" if i == 13 else "") + f"@string{{s{i} = s{i - 1} # s{i - 1}}}\n"
            for i in range(1, 21)
        ),
        "bib-too-large",
        "the file reaches 1,638,",
    ),
    # one macro of 1,000 characters repeated 1,100 times in a field
    "repeated-macro": (
        ENTRY
        + '\n@string{a = "'
        + "x" * 1000
        + '"}\n«@misc{other2000, title = {x}, note = '
        + " # ".join(["a"] * 1100)
        + "}",
        "bib-too-large",
        "characters once its @string macros are expanded, over the 1,048,576 a "
        "bibliography file may hold; write the text out",
    ),
    "conflict-markers": (
        "«<<<<<<< HEAD\n" + ENTRY + "\n=======\n" + ENTRY + "\n>>>>>>> other\n",
        "merge-conflict",
        "unresolved git merge conflict marker '<<<<<<<'",
    ),
}


@pytest.mark.parametrize("case", sorted(BIB_CASES))
def test_bibliography_case_reports_rule_line_and_fix(tmp_path, case):
    text, rule, message = BIB_CASES[case]
    bib, line, column = locate(text + "\n")
    write(tmp_path, record(), bib=bib)
    found = [(p.line, p.column, p.message) for p in problems_of(tmp_path, rule)]
    assert all(Path(p.path).name == "references.bib" for p in problems_of(tmp_path, rule))
    assert any((ln, col) == (line, column) and message in text for ln, col, text in found), found
    # the cited key is not reported as missing because of a fault in the bibliography
    assert problems_of(tmp_path, "citation-missing") == []


def test_a_byte_order_mark_does_not_hide_the_first_entry(tmp_path):
    write(tmp_path, record(), bib="\ufeff" + BIB)
    assert validate_paths([tmp_path]) == []


def test_a_windows_1252_bibliography_is_reported_at_its_line(tmp_path):
    write(tmp_path, record())
    (tmp_path / "references.bib").write_bytes(
        BIB.replace("Doe, Jane", "Doe, Jos\u00e9").encode("cp1252")
    )
    (found,) = problems_of(tmp_path, "bib-unreadable")
    assert (found.line, found.column) == (2, 21)  # the é of "  author = {Doe, José"
    assert "Windows-1252" in found.message and "save the file as UTF-8" in found.message


def test_each_study_may_keep_its_entry_in_its_own_file(tmp_path):
    write(tmp_path, record(), bib="")
    (tmp_path / "references.bib").unlink()
    (tmp_path / "study.bib").write_text(BIB, encoding="utf-8")
    assert validate_paths([tmp_path]) == []
    (tmp_path / "references.bib").write_text(BIB, encoding="utf-8")  # the key twice
    (found,) = problems_of(tmp_path, "bib-duplicate")
    assert Path(found.path).name == "study.bib" and "also defined in" in found.message


def test_record_and_bib_entry_disagreeing_is_a_warning(tmp_path):
    write(tmp_path, record(("year: 2001", "year: 2002")))
    (found,) = problems_of(tmp_path, "bib-mismatch")
    assert found.severity == "warning" and "year = {2001}" in found.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_a_named_pipe_given_as_the_bibliography_is_named_as_such(tmp_path):
    write(tmp_path, record())
    (tmp_path / "references.bib").unlink()
    os.mkfifo(tmp_path / "references.bib")
    (found,) = problems_of(tmp_path, "bib-unreadable")
    assert "FIFO" in found.message


def test_a_short_exclusion_reason_says_how_long_it_must_be(tmp_path):
    from evidence.analyses.spec import load_analysis

    spec = (Path(__file__).parents[1] / "analyses" / "isolation-mortality.yaml").read_text()
    text = spec.replace("  - study: kroenke2006\n", "  - study: kroenke2006\n    reason: ab\n", 1)
    text = text.split("\n")
    # drop the original multi-line reason of that exclusion, keep the short one
    _, problems = load_analysis(tmp_path / "isolation-mortality.yaml", text="\n".join(text))
    short = [p for p in problems if "too short" in p.message]
    assert short and "at least 3 characters" in short[0].message


# Issue 17: an id that `evidence validate` accepts must not be refused by `evidence run`.
# Study ids (records) and analysis ids (specs) follow the same ASCII rule, checked by the
# same full-match patterns of their JSON Schemas: neither accepts a letter outside a-z, a
# digit outside 0-9 (Arabic-Indic, full-width) or a trailing line break.
NOT_ASCII_IDS = ["isolatión2013", "ｍortality2013", "mortality٢٠١٣", "Mortality2013"]


@pytest.mark.parametrize("identifier", NOT_ASCII_IDS)
def test_a_non_ascii_id_is_refused_alike_by_validate_and_by_run(tmp_path, identifier):
    from evidence.analyses.spec import load_analysis

    text = record().replace("id: study", f"id: {identifier}")
    write(tmp_path / "studies", text, name=identifier)
    found = [p for p in validate_paths([str(tmp_path / "studies")]) if p.rule == "invalid-format"]
    assert [(p.line, p.column) for p in found] == [(2, 5)]
    assert f"id: '{identifier}' has the wrong form; expected something like" in found[0].message

    spec = (Path(__file__).parent / "test_analyses.py").read_text(encoding="utf-8")
    good = spec[spec.index('GOOD = """\\\n') + 12 : spec.index('"""\n', spec.index("GOOD = "))]
    path = tmp_path / "analyses" / f"{identifier}.yaml"
    path.parent.mkdir()
    path.write_text(good.replace("id: good", f"id: {identifier}"), encoding="utf-8")
    _analysis, problems = load_analysis(path)
    refused = [p for p in problems if p.rule == "invalid-format"]
    assert [(p.line, p.column) for p in refused] == [(1, 5)]
    assert f"id: '{identifier}' has the wrong form" in refused[0].message
