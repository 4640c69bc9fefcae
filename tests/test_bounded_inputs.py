"""Issue 18 item 7: what validates is bounded, and what is not bounded does not validate.

A BibTeX ``@string`` doubling chain of a kilobyte asks pybtex for terabytes (it expands
every macro as it parses: the hostile-input campaign's chain to ``s39`` took 23 GB before
the kernel killed ``evidence validate``). The bibliography reader sizes the macros without
expanding them (:func:`evidence.records.bib.expansion_problems`) and refuses a file whose
text, as written or expanded, is over :data:`~evidence.records.bib.MAX_BIB_CHARS`, in
``evidence validate`` and again in ``evidence book`` before pybtex sees the file. The
validator's own cases (line, column, message) are in tests/test_validate_messages.py
(``string-doubling-chain``, ``repeated-macro``); the effects-per-record limit is the
``too-many-effects`` fixture; the per-analysis limit and the deletion diagnostics' bound
are in tests/test_runner_hostile.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.records.bib import MAX_BIB_CHARS, expansion_problems, load_bibliography
from evidence.report.book.inputs import load_bibliography as site_bibliography

#: 100 characters doubled 20 times: 100 x (2^21 - 1) characters once expanded (200 MB);
#: the file passes the bound once s13 is defined (100 x (2^14 - 1) > 2^20), on line 14.
CHAIN = '@string{s0 = "' + "x" * 100 + '"}\n'
CHAIN += "".join(f"@string{{s{i} = s{i - 1} # s{i - 1}}}\n" for i in range(1, 21))
ENTRY = "@misc{ok2000, title = {A title}, month = jan}\n"


def test_a_macro_chain_is_sized_without_expanding_it() -> None:
    (problem,) = expansion_problems(CHAIN, "refs.bib")
    assert (problem.path, problem.line, problem.column, problem.rule) == (
        "refs.bib",
        14,
        1,
        "bib-too-large",
    )
    assert problem.message == (
        f"the file reaches {100 * (2**14 - 1):,} characters once its @string macros are "
        f"expanded, over the {MAX_BIB_CHARS:,} a bibliography file may hold; write the text "
        "out instead of building it from macros that repeat each other"
    )


def test_a_bibliography_within_the_bound_is_read_as_before(tmp_path: Path) -> None:
    # jan is BibTeX's own macro (January, 7 characters); an undefined macro counts as its
    # name and is pybtex's to report
    assert expansion_problems(ENTRY, "refs.bib") == []
    path = tmp_path / "refs.bib"
    path.write_text(ENTRY + '@string{a = "' + "y" * 1000 + '"}\n', encoding="utf-8")
    bibliography = load_bibliography(path)
    assert bibliography.problems == () and bibliography.keys == {"ok2000"}


@pytest.mark.parametrize("text", ["%" + "x" * MAX_BIB_CHARS, "@comment{" + "x" * MAX_BIB_CHARS])
def test_a_bibliography_longer_than_the_bound_as_written_is_refused(tmp_path, text) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(text + "\n", encoding="utf-8")
    (problem,) = load_bibliography(path).problems
    assert (problem.line, problem.rule) == (0, "bib-too-large")
    assert problem.message.startswith(f"the file is over {MAX_BIB_CHARS:,} characters long")


def test_the_site_build_never_hands_a_macro_chain_to_pybtex(tmp_path, monkeypatch) -> None:
    from pybtex.database.input.bibtex import Parser

    parsed: list[int] = []
    original = Parser.parse_string

    def spy(self, text):  # type: ignore[no-untyped-def]
        parsed.append(len(text))
        return original(self, text)

    monkeypatch.setattr(Parser, "parse_string", spy)
    (tmp_path / "references.bib").write_text(ENTRY, encoding="utf-8")
    (tmp_path / "chain2000.bib").write_text(CHAIN, encoding="utf-8")
    bibliography, problems = site_bibliography(tmp_path)
    assert [(Path(p.path).name, p.line, p.rule) for p in problems] == [
        ("chain2000.bib", 14, "bib-too-large")
    ]
    assert parsed == [len(ENTRY)]  # references.bib only
    assert bibliography.labels.keys() == {"ok2000"}
