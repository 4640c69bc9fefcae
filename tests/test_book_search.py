"""The review's search record (studies/screening.yaml) and the PRISMA page built from it.

Counts in the expected diagrams are derived from the fixture files written here (for
example 148 listed - 21 read = 127 not yet read). The live-corpus test asserts invariants
only: every study record is traced to exactly one source.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_book_fixtures import make_study

from evidence.records.validate import load_studies
from evidence.report.book.prisma import prisma_html, prisma_page
from evidence.report.book.search import coverage_problems, load_screening

REPOSITORY = Path(__file__).resolve().parents[1]

RECORD = """\
sources:
  - name: A review's Table 1
    kind: other
    citation: review2010
    searched: 2026-11-25
    what: rows 1 to 2 of 148
    identified: 148
    screened: 21
    excluded: 0
    records: [alpha2001, beta2002]
  - name: MEDLINE
    kind: database
    searched: 2026-12-01
    identified: 400
    screened: 400
    excluded: 390
    records: [gamma2003]
excluded_at_eligibility: {"<b>wrong design</b>": 7}
"""


def _load(tmp_path: Path, text: str = RECORD):
    path = tmp_path / "screening.yaml"
    path.write_text(text, encoding="utf-8")
    return load_screening(path)


def test_a_search_record_loads_with_counts_and_records(tmp_path):
    screening, problems = _load(tmp_path)
    assert problems == []
    table, medline = screening.sources
    assert table.records == ("alpha2001", "beta2002") and table.not_yet_screened == 148 - 21
    assert medline.kind == "database" and medline.line == 11
    assert screening.total("screened") == 21 + 400
    assert screening.total("identified", screening.of_kind("database")) == 400
    assert screening.excluded_at_eligibility == (("<b>wrong design</b>", 7),)


def test_the_diagram_counts_each_kind_of_source_and_escapes_text(tmp_path):
    screening, _ = _load(tmp_path)
    studies = [make_study("alpha2001"), make_study("beta2002"), make_study("gamma2003")]
    diagram = prisma_html(studies, 2, screening)
    assert "Databases: 400 (1 searched)" in diagram
    assert "Registers: no search recorded" in diagram
    assert "A review&#x27;s Table 1: 148" in diagram
    assert "Records screened: 421" in diagram  # 21 + 400
    assert "Records excluded: 390" in diagram  # 0 + 390
    assert "Not yet screened: 127" in diagram  # 148 - 21; MEDLINE: 400 - 400 = 0
    assert "&lt;b&gt;wrong design&lt;/b&gt;: 7" in diagram
    assert "Studies included in the review: 3" in diagram
    assert "Read from the full text: 0 of 3" in diagram  # make_study reads the abstract


def test_counts_nobody_recorded_are_said_so(tmp_path):
    screening, problems = _load(
        tmp_path,
        "sources:\n  - {name: Table 4, kind: other, searched: 2026-11-25, screened: 8,"
        " records: []}\n",
    )
    assert problems == []
    diagram = prisma_html([], 0, screening)
    assert "Table 4: not recorded" in diagram and "Not yet screened: not recorded" in diagram
    assert "Records identified: not recorded" in prisma_html([], 0, None)


def test_the_page_lists_the_sources_and_says_when_no_database_was_searched(tmp_path):
    screening, _ = _load(
        tmp_path,
        "sources:\n  - {name: Table 4, kind: other, searched: 2026-11-25, screened: 8,"
        " records: [alpha2001]}\n",
    )
    page = prisma_page([make_study("alpha2001"), make_study("beta2002")], 1, screening)
    text = page.replace("\\", "")
    assert "No search of a bibliographic database or register is recorded yet" in text
    assert "1 of 2 study records are not yet traced to a source" in text
    assert (
        "| **Table 4** | other methods | 2026-11-25 | not recorded | 8 | not recorded | 1 |" in text
    )
    assert "studies/screening.yaml" not in text  # no file instructions for readers
    no_record = prisma_page([], 0, None).replace("\\", "")
    assert "No search has been recorded yet" in no_record


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("sources:\n  - {name: X, kind: web, searched: 2026-11-25}\n", 2, "kind is one of"),
        ("sources:\n  - {name: X, kind: other, searched: 25/11/2026}\n", 2, "YYYY-MM-DD"),
        ("sources:\n  - {name: X, kind: other, searched: 2026-11-25, screened: -1}\n", 2, "whole"),
        ("sources:\n  - {name: X, kind: other, searched: 2026-11-25, scren: 1}\n", 2, "unknown"),
        ("sources:\n  - {name: X, kind: other}\n", 2, "needs searched"),
        (
            "sources:\n  - {name: X, kind: other, searched: 2026-11-25, identified: 2,"
            " screened: 3}\n",
            2,
            "screened is more than identified",
        ),
        ("databases: 10\n", 1, "unknown field 'databases'"),
    ],
)
def test_problems_point_at_their_line(tmp_path, text, line, words):
    _, problems = _load(tmp_path, text)
    assert len(problems) == 1, problems
    assert problems[0].line == line and words in problems[0].message
    assert problems[0].rule == "book-screening"


def test_the_raw_html_block_cannot_be_closed_by_a_source_name(tmp_path):
    screening, problems = _load(
        tmp_path,
        'sources:\n  - {name: "x\\n```\\n<script>alert(1)</script>", kind: other,'
        " searched: 2026-11-25, records: []}\n",
    )
    assert problems == []
    diagram = prisma_html([], 0, screening)
    assert "\n" not in diagram and "`" not in diagram and "<script>" not in diagram


def test_coverage_warns_about_untraced_doubled_and_unknown_records(tmp_path):
    screening, _ = _load(
        tmp_path,
        "sources:\n"
        "  - {name: A, kind: other, searched: 2026-11-25, records: [alpha2001, ghost2000]}\n"
        "  - {name: B, kind: other, searched: 2026-11-25, records: [alpha2001]}\n",
    )
    messages = [p.message for p in coverage_problems(screening, ["alpha2001", "beta2002"])]
    assert messages == [
        "record beta2002 is in no source: add it to the records of the source it came from",
        "record alpha2001 is listed by 2 sources (A; B)",
        "ghost2000 is listed but has no record",
    ]


def test_the_shipped_search_record_traces_every_record_to_one_source():
    screening, problems = load_screening(REPOSITORY / "studies" / "screening.yaml")
    assert problems == []
    studies, _ = load_studies(REPOSITORY / "studies")
    assert studies
    assert coverage_problems(screening, [study.id for study in studies]) == []
    for source in screening.sources:
        if source.screened is not None:
            assert len(source.records) <= source.screened  # a record comes from a read row
