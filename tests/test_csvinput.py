"""Reading metafor-style CSV files (``evidence pool`` / ``evidence effects``): hostile shapes.

Issue 18 item 9 (rows split on U+2028, a newline inside a quoted field dropped), item 8
(a cell over 131,072 characters) and issue 17 (a FIFO, a directory, ``/dev/zero``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from evidence.cli import main
from evidence.effects.csvinput import read_table


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "x.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def test_a_unicode_line_separator_is_text_not_a_new_row(tmp_path):
    table = read_table(_write(tmp_path, "study,yi,vi\nA\u2028B,0.1,0.01\nC\u0085D,0.2,0.02\n"))
    assert table.labels == ("A\u2028B", "C\u0085D")
    assert table.lines == (2, 3)


def test_a_quoted_newline_stays_in_its_field_and_lines_count_from_the_row_start(tmp_path):
    text = 'study,yi,vi\n"two\nline label",0.1,0.01\n"three\r\nline\nlabel",0.2,0.02\nz,0.3,0.1\n'
    table = read_table(_write(tmp_path, text))
    assert table.labels == ("two\nline label", "three\r\nline\nlabel", "z")
    assert table.lines == (2, 4, 7)


def test_problem_lines_are_where_the_row_starts(tmp_path, capsys):
    text = 'study,yi,vi\n"a\nb",0.1,0.01\nc,oops,0.02\n"d",0.1\n'
    assert main(["pool", _write(tmp_path, text)]) == 1
    err = capsys.readouterr().err
    assert "x.csv:5:3: 2 fields, but the header has 3 [csv-fields]" in err
    path = _write(tmp_path, 'study,yi,vi\n"a\nb",0.1,0.01\nc,oops,0.02\n')
    assert main(["pool", path]) == 1
    assert "x.csv:4:2: yi 'oops' is not a number [csv-number]" in capsys.readouterr().err


def test_a_cell_over_the_csv_modules_field_limit_is_read(tmp_path):
    label = "L" * 200_000
    table = read_table(_write(tmp_path, f"study,yi,vi\n{label},0.1,0.01\nb,0.2,0.02\n"))
    assert table.labels[0] == label


def test_a_number_too_long_for_a_float_is_a_row_problem_not_a_traceback(tmp_path, capsys):
    path = _write(tmp_path, "study,yi,vi\na," + "1" * 200_000 + ",0.01\nb,0.2,0.02\n")
    assert main(["pool", path]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "x.csv:2:2: a: yi" in err and "[effect-not-computable]" in err


def test_numbers_are_read_as_python_reads_them(tmp_path):
    text = "study,yi,vi\na, 1.5 ,1e-2\nb,-.5,NA\nc,1_000,inf\nd,,null\n"
    table = read_table(_write(tmp_path, text))
    from evidence.effects.csvinput import numeric_column

    np.testing.assert_array_equal(numeric_column(table, "yi"), [1.5, -0.5, 1000.0, np.nan])
    np.testing.assert_array_equal(numeric_column(table, "vi"), [0.01, np.nan, np.inf, np.nan])


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: os.mkfifo(p), "is a FIFO (named pipe), not a regular file"),
        (lambda p: p.mkdir(), "is a directory, not a regular file"),
        (None, "is a character device, not a regular file"),
    ],
)
def test_a_fifo_a_directory_or_a_device_is_named_as_such(tmp_path, capsys, make, words):
    if make is None:
        path = Path("/dev/zero")
    else:
        path = tmp_path / "x.csv"
        make(path)
    assert main(["pool", str(path)]) == 1
    hint = "save the table to a CSV file and give its path"
    assert f"{path}:0:0: {words}; {hint} [csv-file]" in capsys.readouterr().err


def test_pool_sensitivity_above_the_k_bound_is_skipped_with_a_note(tmp_path, capsys, monkeypatch):
    """Issue 18 item 7: --sensitivity on a huge file must not allocate k x k batches."""
    import json

    import evidence.commands.pool as pool_command

    monkeypatch.setattr(pool_command, "MAX_K_DELETION_DIAGNOSTICS", 5)
    rows = "".join(f"s{i},{0.1 * (i % 4)},0.0{i % 9 + 1}\n" for i in range(8))
    path = _write(tmp_path, "study,yi,vi\n" + rows)
    assert main(["pool", path, "--sensitivity", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert "leave_one_out" not in output
    assert (
        "leave-one-out, influence and cumulative analyses not computed: k = 8 is above 5, "
        "where refitting once per effect takes too much time and memory"
    ) in output["notes"]
