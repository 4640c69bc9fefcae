"""The fast CSV reader (issue 17): large files read by pyarrow give what the csv module gives.

Every case is read twice, by the csv module path (threshold out of reach) and with the fast
reader tried first (threshold 0), and everything a command uses is compared: header, cells,
lines, labels, each column's numbers (or the problems naming its non-numbers), the effect
sizes and the row problems, and the output of ``evidence pool``. Clean files must be read by
the fast reader; files with anything unusual must fall back to the csv module path, whose
messages are then the same by construction (and checked).
"""

from __future__ import annotations

import codecs
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evidence.cli import main
from evidence.effects import csvfast, csvinput
from evidence.effects.csvinput import compute_effects, numeric_column, read_table, row_problems
from evidence.errors import EvidenceError

ROOT = Path(__file__).resolve().parents[1]
ROWS = 3000  # ~70 KB: "large" once the threshold is lowered, quick to read both ways


def outcome(path: Path, threshold: int, measure: str | None = None) -> tuple[Any, bool]:
    """Everything read from ``path`` with the fast reader tried from ``threshold`` bytes on.

    Returns the comparable outcome and whether the fast reader read the file.
    """
    saved = csvinput.FAST_READ_BYTES
    csvinput.FAST_READ_BYTES = threshold
    try:
        try:
            table = read_table(str(path))
        except EvidenceError as error:
            return ("read", [str(p) for p in error.problems]), False
        numbers = {}
        for name in table.header:
            try:
                numbers[name] = [repr(x) for x in numeric_column(table, name).tolist()]
            except EvidenceError as error:
                numbers[name] = [str(p) for p in error.problems]
        try:
            effects = compute_effects(table, measure)
            computed: Any = (
                [repr(x) for x in effects.yi.tolist()],
                [repr(x) for x in effects.vi.tolist()],
                effects.reasons,
                effects.notes,
                [str(p) for p in row_problems(table, effects)],
            )
        except EvidenceError as error:
            computed = [str(p) for p in error.problems]
        cells = {name: list(column) for name, column in table.cells.items()}
        read = (table.header, cells, table.lines, table.labels, numbers, computed)
        return read, table.arrays is not None
    finally:
        csvinput.FAST_READ_BYTES = saved


def pool_output(path: Path, threshold: int, capsys: pytest.CaptureFixture[str], *args: str):
    """Exit status, stdout and stderr of ``evidence pool PATH ARGS`` (``effects`` if first)."""
    command = ["effects", *args[1:]] if args[:1] == ("effects",) else ["pool", *args]
    saved = csvinput.FAST_READ_BYTES
    csvinput.FAST_READ_BYTES = threshold
    try:
        status = main([command[0], str(path), *command[1:]])
    finally:
        csvinput.FAST_READ_BYTES = saved
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def effects_rows(rows: int = ROWS, sep: str = ",", end: str = "\n") -> list[str]:
    """Seeded ``study,yi,vi`` rows as a program would write them."""
    rng = np.random.default_rng(17)
    vi = rng.uniform(0.01, 0.3, rows)
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    return [f"s{i}{sep}{float(yi[i])!r}{sep}{vi[i]:.6f}{end}" for i in range(rows)]


def plain() -> str:
    return "study,yi,vi\n" + "".join(effects_rows())


def with_row(row: str, at: int = 1234) -> str:
    lines = effects_rows()
    lines.insert(at, row)
    return "study,yi,vi\n" + "".join(lines)


def r_write_csv() -> str:
    """R's ``write.csv``: quoted names and labels, row names in a first unnamed column."""
    rows = [line.rstrip("\n").split(",") for line in effects_rows()]
    body = "".join(f'"{i + 1}","{s}",{y},{v}\n' for i, (s, y, v) in enumerate(rows))
    return '"","study","yi","vi"\n' + body


def excel_utf8() -> str:
    """Excel's "CSV UTF-8": a byte-order mark, CRLF line ends, non-ASCII labels."""
    rows = [line.replace("s", "Müller ", 1) for line in effects_rows(end="\r\n")]
    return "\ufeffstudy,yi,vi\r\n" + "".join(rows)


def two_by_two() -> str:
    rng = np.random.default_rng(3)
    rows = [
        f"trial {i},{a},{20 + b},{c},{20 + d},{'ab'[i % 2]},{i % 7 * 0.5}\n"
        for i, (a, b, c, d) in enumerate(rng.integers(0, 20, (ROWS, 4)))
    ]
    return "study,ai,bi,ci,di,arm,dose\n" + "".join(rows)


def sei_not_vi() -> str:
    rows = [line.replace(",0.", ",0.0", 1) for line in effects_rows()]
    return "id,yi,sei,n\n" + "".join(f"{r.rstrip()},{40 + i % 9}\n" for i, r in enumerate(rows))


def unlabelled() -> str:
    return "yi,vi\n" + "".join(line.split(",", 1)[1] for line in effects_rows())


#: Files the fast reader reads: (name, text or bytes, measure).
CLEAN: list[tuple[str, Callable[[], str | bytes], str | None]] = [
    ("plain", plain, None),
    ("CRLF line ends", lambda: plain().replace("\n", "\r\n"), None),
    ("CR line ends", lambda: plain().replace("\n", "\r"), None),
    ("no final line end", lambda: plain().rstrip("\n"), None),
    ("R write.csv (quoted)", r_write_csv, None),
    ("Excel CSV UTF-8 (BOM, CRLF)", excel_utf8, None),
    ("spaces around cells", lambda: "study , yi, vi \n" + "".join(effects_rows(sep=" , ")), None),
    ("tabs and NBSP at the edges", lambda: with_row("\t s\xa0,\u3000 0.1\t,0.01 \u2028\n"), None),
    ("missing values", lambda: with_row("m1,NA,0.1\n") + "m2,,\nm3,0.2,null\nm4,nan,NaN\n", None),
    ("quoted missing and numbers", lambda: with_row('"q","","0.5"\n'), None),
    ("a doubled quote in a quoted label", lambda: with_row('"say ""hi""",0.1,0.01\n'), None),
    ("U+2028, NEL and ANSI in labels", lambda: with_row("a\u2028b\x85c\x1b[2J,0.1,0.01\n"), None),
    ("byte-order marks on data rows", lambda: plain().replace("\ns", "\n\ufeffs", 2), None),
    ("Python-only numbers (inf, 1_000)", lambda: with_row("x,1_000,inf\n"), None),
    ("numbers at the edges of double", lambda: with_row("x,2.4703282292062328e-324,1e400\n"), None),
    ("a number of 400 digits", lambda: with_row("x," + "9" * 400 + ",0.1\n"), None),
    ("a non-numeric cell", lambda: with_row("x,oops,0.1\ny,0.2,\u0661\n"), None),
    ("non-positive variances", lambda: with_row("x,0.1,-1\ny,0.1,0\n"), None),
    ("2x2 counts with a text column", two_by_two, "OR"),
    ("sei and an id label", sei_not_vi, None),
    ("no label column", unlabelled, None),
    ("a blank header name", lambda: "study,yi,vi,\n" + "".join(effects_rows(end=",\n")), None),
    ("a cell of 200,000 characters", lambda: with_row("L" * 200_000 + ",0.1,0.01\n"), None),
]

#: Files with something unusual, left to the csv module path.
FALLBACK: list[tuple[str, Callable[[], str | bytes]]] = [
    ("a short row", lambda: with_row("x,0.1\n")),
    ("a long row", lambda: with_row("x,0.1,0.01,4\n")),
    ("a blank line", lambda: with_row("\n")),
    ("a blank line at the end", lambda: plain() + "\n"),
    ("a line of commas", lambda: with_row(",,\n")),
    ("a blank first cell", lambda: with_row(" ,0.1,0.01\n")),
    ("a quoted newline", lambda: with_row('"two\nlines",0.1,0.01\n')),
    ("a quoted comma", lambda: with_row('"Smith, 2001",0.1,0.01\n')),
    ("a quote inside a field", lambda: with_row('5" tall,0.1,0.01\n')),
    ("text after a closing quote", lambda: with_row('"a"b,0.1,0.01\n')),
    ("a space before a quote", lambda: with_row(' "a",0.1,0.01\n')),
    ("an unclosed quote", lambda: with_row('"a,0.1,0.01\n')),
    ("a NUL byte", lambda: with_row("a\x00b,0.1,0.01\n")),
    ("two byte-order marks", lambda: "\ufeff\ufeff" + plain()),
    ("not UTF-8", lambda: plain().encode() + b"x\xff,0.1,0.01\n"),
    ("an encoded surrogate", lambda: plain().encode() + b"\xed\xa0\x80,0.1,0.01\n"),
    ("a repeated column", lambda: "study,yi,yi\n" + "".join(effects_rows())),
    ("a blank header", lambda: " , ,\n" + "".join(effects_rows())),
    ("a header alone", lambda: "study,yi,vi\n" + " " * 5000),
    ("a quoted header name", lambda: '"study,x",yi,vi\n' + "".join(effects_rows())),
    ("a row longer than a block", lambda: with_row("L" * (3 << 20) + ",0.1,0.01\n")),
]


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "big.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(("name", "make", "measure"), CLEAN, ids=[c[0] for c in CLEAN])
def test_the_fast_reader_reads_a_clean_file_as_the_csv_module_does(
    tmp_path, capsys, name, make, measure
):
    path = _write(tmp_path, make())
    slow, slow_fast = outcome(path, 1 << 40, measure)
    fast, used_fast = outcome(path, 0, measure)
    assert not slow_fast and used_fast, name
    assert fast == slow
    args = ("--measure", measure) if measure else ()
    assert pool_output(path, 0, capsys, *args) == pool_output(path, 1 << 40, capsys, *args)
    args = ("effects", "--json", *args)
    assert pool_output(path, 0, capsys, *args) == pool_output(path, 1 << 40, capsys, *args)


@pytest.mark.parametrize(("name", "make"), FALLBACK, ids=[c[0] for c in FALLBACK])
def test_an_unusual_file_falls_back_with_the_same_messages(tmp_path, capsys, name, make):
    path = _write(tmp_path, make())
    assert csvfast.read_columns(path.read_bytes()) is None, name
    slow, _ = outcome(path, 1 << 40)
    fast, used_fast = outcome(path, 0)
    assert not used_fast
    assert fast == slow
    assert pool_output(path, 0, capsys) == pool_output(path, 1 << 40, capsys)
    args = ("effects", "--json")  # (the table pads every label to the longest: 3 MB x 3000)
    assert pool_output(path, 0, capsys, *args) == pool_output(path, 1 << 40, capsys, *args)


def test_messages_of_a_fallback_name_their_rows(tmp_path, capsys):
    path = _write(tmp_path, with_row("x,0.1\n", at=10) + "y,oops,0.1\n")
    status, _out, err = pool_output(path, 0, capsys)
    assert status == 1
    assert "big.csv:12:3: 2 fields, but the header has 3 [csv-fields]" in err
    path = _write(tmp_path, with_row("y,oops,0.1\n", at=10))
    status, _out, err = pool_output(path, 0, capsys)
    assert "big.csv:12:2: yi 'oops' is not a number [csv-number]" in err


def test_whitespace_is_what_str_strip_removes():
    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert csvfast.WHITESPACE == spaces
    assert b"".join(csvfast._ASCII_SPACES) == b"\t\x0b\x0c\x1c\x1d\x1e\x1f "


def test_numbers_are_the_doubles_float_reads(tmp_path):
    """pyarrow's parser rounds as ``float`` does: hard cases, halfway points, subnormals."""
    rng = np.random.default_rng(2028)
    bits = rng.integers(0, 0x7FEFFFFFFFFFFFFF, 20_000, dtype=np.int64)
    doubles = bits.view(np.float64)
    halfway = []
    with localcontext(prec=800):  # the exact midpoint of two neighbours, or a hair above
        for i, (a, b) in enumerate(zip(doubles, np.nextafter(doubles, np.inf), strict=True)):
            digits, exponent = f"{(Decimal(a) + Decimal(b)) / 2:e}".split("e")
            halfway.append(f"{digits}{'0001' if i % 2 else ''}e{exponent}")
    digits = [f"{rng.integers(1, 10)}.{rng.integers(0, 10**18)}e{rng.integers(-330, 310)}"]
    cells = [*map(repr, doubles.tolist()), *halfway, *digits, "4.9406564584124654e-324"]
    path = _write(tmp_path, "label,yi\n" + "".join(f"c{i},{c}\n" for i, c in enumerate(cells)))
    fast, used_fast = outcome(path, 0, "GEN")
    assert used_fast
    expected = [repr(float(c)) for c in cells]
    assert fast[4]["yi"] == expected


def test_a_clean_megabyte_is_read_fast_at_the_default_threshold(tmp_path):
    rows = effects_rows(rows=60_000)
    path = _write(tmp_path, "study,yi,vi\n" + "".join(rows))
    assert path.stat().st_size >= csvinput.FAST_READ_BYTES
    table = read_table(str(path))
    assert table.arrays is not None
    assert table.lines[-1] == 60_001 and table.labels[-1] == "s59999"
    assert csvfast.numbers(table.arrays["yi"], csvinput.MISSING) is not None  # by pyarrow
    yi = numeric_column(table, "yi")
    assert yi.flags.writeable and yi[-1] == float(rows[-1].split(",")[1])


def test_a_small_file_never_imports_pyarrow_and_a_large_one_never_pandas(tmp_path):
    small = _write(tmp_path, "study,yi,vi\n" + "".join(effects_rows(rows=10)))
    large = tmp_path / "large.csv"
    large.write_text("study,yi,vi\n" + "".join(effects_rows(rows=60_000)), encoding="utf-8")
    script = (
        "import json, sys\n"
        "from evidence.effects.csvinput import read_table, compute_effects\n"
        "table = read_table(sys.argv[1]); compute_effects(table, None)\n"
        "list(table.cells['study'])\n"
        "print(json.dumps(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules)))\n"
    )
    loaded = []
    for path in (small, large):
        done = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        loaded.append(json.loads(done.stdout))
    assert loaded == [[], ["pyarrow"]]


def test_the_cells_of_a_fast_table_are_a_mapping_of_lists(tmp_path):
    path = _write(tmp_path, plain())
    fast, _ = outcome(path, 0)
    saved = csvinput.FAST_READ_BYTES
    csvinput.FAST_READ_BYTES = 0
    try:
        table = read_table(str(path))
    finally:
        csvinput.FAST_READ_BYTES = saved
    assert list(table.cells) == ["study", "yi", "vi"] and len(table.cells) == 3
    assert "yi" in table.cells and "ni" not in table.cells
    assert table.cells["study"] is table.cells["study"]  # converted once
    with pytest.raises(KeyError):
        table.cells["ni"]
    assert table.cells == fast[1]


def test_a_file_that_grows_past_the_limit_is_left_to_the_csv_module_path(tmp_path, monkeypatch):
    path = _write(tmp_path, plain())
    monkeypatch.setattr(csvinput, "FAST_READ_BYTES", 0)
    monkeypatch.setattr(csvinput, "MAX_CSV_BYTES", 100)
    with pytest.raises(EvidenceError) as error:
        read_table(str(path))
    assert "at most 100 are read [csv-file]" in str(error.value.problems[0])


def test_a_byte_order_mark_is_dropped_once():
    header, arrays = csvfast.read_columns(codecs.BOM_UTF8 + b"a,b\n1,2\n")  # type: ignore[misc]
    assert header == ("a", "b") and arrays["a"].to_pylist() == ["1"]
