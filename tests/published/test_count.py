"""The in-scope count of metafor's published-example assertions (README.md) adds up.

Each row of the first table of ``README.md`` splits one metafor test file's ``expect_*``
calls into: tested here, implemented but not yet tested, needing ``rma.mv``, and out of
scope (reasons in the second table); its last column is the number of assertions of the
same file in metafor 3.8.1, counted by ``count_assertions.py`` into
``assertions-metafor-3.8.1.json``. This test checks the arithmetic, the totals row, that
column against the JSON and that every example with tested assertions has its
``test_<example>.py``.
"""

import json
from pathlib import Path

from count_assertions import count

HERE = Path(__file__).parent
COUNTS_381 = json.loads((HERE / "assertions-metafor-3.8.1.json").read_text())


def _rows():
    lines = (HERE / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| example | file"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        rows.append((cells[0], [int(c) for c in cells[2:]]))
    return rows


def test_rows_add_up_and_totals_match():
    rows = _rows()
    body, (name, total) = rows[:-1], rows[-1]
    assert name == "total"
    for example, (assertions, tested, untested, mv, out, _) in body:
        assert assertions == tested + untested + mv + out, example
    sums = [sum(row[1][j] for row in body) for j in range(6)]
    assert sums == total


def test_metafor_381_column_is_the_mechanical_count():
    rows = dict(_rows()[:-1])
    assert sorted(rows) == sorted(COUNTS_381)
    for example, counts in rows.items():
        assert counts[5] == COUNTS_381[example]["assertions"], example
        assert counts[0] == counts[5], example  # every row is read at metafor 3.8.1
        kinds = ("warning", "error", "image", "placeholder", "value")
        assert sum(COUNTS_381[example][k] for k in kinds) == counts[5], example


def test_the_counter_counts_calls_not_comments():
    text = """
    ### expect_equivalent(x, 1) in a comment is not an assertion
    expect_equivalent(coef(res), 0.1216, tolerance=.tol[["coef"]]) # expect_true(y)
    expect_warning(res <- rma.glmm(ai=ai, data=dat))
    expect_true(.vistest("a.png", "b.png"))
    expect_equivalent(TRUE, TRUE)
    expect_true(TRUE)
    out <- "expect_equal(#)"; expect_error(rma(yi))
    """
    assert count(text) == {
        "assertions": 6,
        "warning": 1,
        "error": 1,
        "image": 1,
        "placeholder": 2,
        "value": 1,
    }


def test_every_tested_example_has_its_test_file():
    for example, counts in _rows()[:-1]:
        if counts[1]:
            assert (HERE / f"test_{example}.py").exists(), example


def test_out_of_scope_groups_account_for_the_out_of_scope_column():
    text = (HERE / "README.md").read_text().split("## Out of scope, by assertion group")[1]
    listed: dict[str, int] = {}
    for line in text.splitlines()[4:]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            listed[cells[0]] = listed.get(cells[0], 0) + int(cells[2])
    for example, counts in _rows()[:-1]:
        assert listed.get(example, 0) == counts[4], example
