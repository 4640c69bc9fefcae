"""The in-scope count of metafor's published-example assertions (README.md) adds up.

Each row of the first table of ``README.md`` splits one metafor test file's ``expect_*``
calls into: tested here, implemented but not yet tested, needing ``rma.mv``, and out of
scope (reasons in the second table). This test checks the arithmetic, the totals row and
that every example with tested assertions has its ``test_<example>.py``.
"""

from pathlib import Path

HERE = Path(__file__).parent


def _rows():
    lines = (HERE / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| example | commit"))
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
    for example, (assertions, tested, untested, mv, out) in body:
        assert assertions == tested + untested + mv + out, example
    sums = [sum(row[1][j] for row in body) for j in range(5)]
    assert sums == total


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
