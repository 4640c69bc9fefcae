"""Problem formatting: the one format every command reports input problems in."""

import json

from evidence.errors import Problem, format_problems


def test_problem_formats_as_path_line_col_message_rule():
    problem = Problem("studies/eng2002.yaml", 14, 7, "ci [1.34, 1.06] is reversed", "ci-order")
    assert str(problem) == "studies/eng2002.yaml:14:7: ci [1.34, 1.06] is reversed [ci-order]"


def test_format_problems_counts_errors_and_warnings():
    problems = [
        Problem("b.yaml", 2, 1, "unused entry", "bib-unused", "warning"),
        Problem("a.yaml", 1, 1, "bad", "x"),
    ]
    text = format_problems(problems)
    assert text.splitlines() == [
        "a.yaml:1:1: bad [x]",
        "b.yaml:2:1: warning: unused entry [bib-unused]",
        "1 error, 1 warning",
    ]
    assert [p["rule"] for p in json.loads(format_problems(problems, "json"))] == ["x", "bib-unused"]
    assert format_problems(problems, "github").startswith("::error file=a.yaml,line=1,col=1")


def test_github_annotation_escapes_the_file_name_and_the_message():
    # actions/toolkit escapeProperty / escapeData: a comma or colon in the file name would
    # otherwise end the property, a newline in a quoted value would end the command
    problem = Problem("studies/a,b:c.yaml", 3, 7, "50% of\nit", "ci-order")
    assert problem.to_github() == (
        "::error file=studies/a%2Cb%3Ac.yaml,line=3,col=7,title=ci-order::50%25 of%0Ait"
    )
