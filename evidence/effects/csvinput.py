"""Read a metafor-style effect-size CSV for ``evidence pool`` and ``evidence effects``.

Columns use metafor's names: ``yi`` with ``vi`` or ``sei`` (precomputed), or the raw
``escalc`` columns of a measure (``ai bi ci di n1i n2i m1i m2i sd1i sd2i ri ni xi ti x1i
x2i t1i t2i``, see :data:`evidence.effects.escalc.REQUIRED_COLUMNS`). A label column (the first
of ``label``, ``study``, ``slab``, ``author``, ``id``) names the rows. Empty cells and
``NA`` are missing values. Moderator and subgroup columns may hold text.

Problems are reported as ``file.csv:LINE:COL: message [rule]`` (LINE counts the header as
line 1; COL is the 1-based field number of the cell at fault, 0 when the problem is
about the whole line or file), all at once.

Files of :data:`FAST_READ_BYTES` or more are first tried by :mod:`evidence.effects.csvfast`
(pyarrow, imported only then), which reads a clean file to the same table and numbers and
leaves any file with something unusual to the csv module path here, so every problem is
named as for a small file.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from evidence.effects.escalc import MEASURES, REQUIRED_COLUMNS, EffectSizes, escalc
from evidence.errors import EvidenceError, Problem, read_error
from evidence.records.safefs import input_problem

LABEL_COLUMNS = ("label", "study", "slab", "author", "id")
MISSING = ("", "NA", "na", "NaN", "nan", "null")
_MISSING = frozenset(MISSING)


@dataclass(frozen=True)
class EffectTable:
    """The parsed CSV: raw cells by column, the data line of each row, and row labels.

    ``arrays`` holds the same cells as pyarrow string arrays when the fast path read the
    file (``cells`` then converts a column to Python strings on first use, and
    :func:`numeric_column` parses numbers from the arrays); ``None`` otherwise.
    """

    path: str
    header: tuple[str, ...]
    cells: Mapping[str, list[str]]
    lines: tuple[int, ...]
    labels: tuple[str, ...]
    arrays: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def column(self, name: str) -> int:
        """1-based field number of a column."""
        return self.header.index(name) + 1


#: Largest CSV file read (bytes): every command stays bounded in memory whatever it is given.
MAX_CSV_BYTES = 1 << 30
#: Smallest file (bytes) tried by the fast reader (:mod:`evidence.effects.csvfast`). Below
#: it the csv module is quicker than importing pyarrow (~0.05 s, about 1 MB of csv module
#: reading), and ``evidence pool`` on a small file starts as fast as it did.
FAST_READ_BYTES = 1 << 20


def read_table(path: str) -> EffectTable:
    """Read the CSV into text cells, checking its shape; raise EvidenceError on problems.

    Rows end at a line break (CR, LF or CRLF) outside quotes: a quoted field keeps its
    newlines, and Unicode line separators (U+2028, ...) are text. A field may be of any
    length the file allows. LINE in problems is the line a row starts on.
    """
    file = Path(path)
    if not file.exists() and not file.is_symlink():
        raise EvidenceError([Problem(path, 0, 0, "no such file", "csv-file")]) from None
    unsafe = input_problem(file)  # a FIFO would block the read, a device never end
    if unsafe is not None:
        hint = "; save the table to a CSV file and give its path"
        problem = replace(unsafe, path=path, rule="csv-file", message=unsafe.message + hint)
        raise EvidenceError([problem]) from None
    fast = _read_fast(file, path)
    if fast is not None:
        return fast
    text = _read_text(file, path)
    rows, starts = _parse_rows(text, path)
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise EvidenceError([Problem(path, 1, 1, "the file has no header row", "csv-header")])
    header = tuple(cell.strip() for cell in rows[0])
    problems = [
        Problem(path, 1, j + 1, f"column {name!r} appears more than once", "csv-header")
        for j, name in enumerate(header)
        if name in header[:j]
    ]
    width = len(header)
    data, kept = [], []
    for index in range(1, len(rows)):
        row = rows[index]
        if len(row) != width or not row[0].strip():  # the common case is one test away
            if not any(cell.strip() for cell in row):  # a blank line (or only commas)
                continue
            if len(row) != width:
                problems.append(
                    Problem(
                        path,
                        starts[index],
                        min(len(row), width) + 1,
                        f"{len(row)} fields, but the header has {width}",
                        "csv-fields",
                    )
                )
                continue
        data.append(row)
        kept.append(index)
    lines = [starts[index] for index in kept]
    if problems:
        raise EvidenceError(problems)
    if not data:
        raise EvidenceError([Problem(path, 1, 0, "the file has no data rows", "csv-empty")])
    cells = {name: [row[j].strip() for row in data] for j, name in enumerate(header)}
    label_column = next((c for c in LABEL_COLUMNS if c in cells), None)
    labels = cells[label_column] if label_column else [f"row {i + 1}" for i in range(len(data))]
    return EffectTable(path, header, cells, tuple(lines), tuple(labels))


def _read_fast(file: Path, path: str) -> EffectTable | None:
    """Read a large, clean file with pyarrow; ``None`` leaves it to the csv module path.

    Small files, files over :data:`MAX_CSV_BYTES`, unreadable ones and any file in which
    :func:`evidence.effects.csvfast.read_columns` finds something unusual are left to the
    csv module path, which reports their problems.
    """
    try:
        size = file.stat().st_size
        if not FAST_READ_BYTES <= size <= MAX_CSV_BYTES:
            return None
        with file.open("rb") as handle:
            data = handle.read(MAX_CSV_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_CSV_BYTES:  # it grew since stat: the csv module path says so
        return None
    from evidence.effects import csvfast  # pyarrow: imported for large files only

    columns = csvfast.read_columns(data)
    del data
    if columns is None:
        return None
    header, arrays = columns
    cells = csvfast.ArrowCells(arrays)
    rows = len(arrays[header[0]])
    label_column = next((c for c in LABEL_COLUMNS if c in cells), None)
    labels = cells[label_column] if label_column else [f"row {i + 1}" for i in range(rows)]
    lines = tuple(range(2, rows + 2))  # one row a line, after the header
    return EffectTable(path, header, cells, lines, tuple(labels), arrays)


def _read_text(file: Path, path: str) -> str:
    """Return the file's text (UTF-8, a byte-order mark dropped); raise for size, encoding."""
    try:
        size = file.stat().st_size
        if size > MAX_CSV_BYTES:
            message = f"the file is {size:,} bytes; at most {MAX_CSV_BYTES:,} are read"
            raise EvidenceError([Problem(path, 0, 0, message, "csv-file")])
        with file.open(encoding="utf-8-sig", newline="") as handle:
            return handle.read(MAX_CSV_BYTES + 1)
    except UnicodeDecodeError as exc:
        problem = Problem(path, 0, 0, f"not UTF-8 text ({exc.reason})", "csv-file")
        raise EvidenceError([problem]) from None
    except OSError as exc:
        problem = Problem(path, 0, 0, f"cannot read: {read_error(exc)}", "csv-file")
        raise EvidenceError([problem]) from None


def _parse_rows(text: str, path: str) -> tuple[list[list[str]], Sequence[int]]:
    """Split CSV text into rows; return them and the line each row starts on.

    Without a quote character every row is one line (row ``i`` starts on line ``i + 1``);
    with quotes, a row may span lines and each row's first line is recorded.
    """
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))  # a long cell is no reason to fail
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        if '"' not in text:
            rows = list(reader)
            return rows, range(1, len(rows) + 1)
        rows, first_lines, last = [], [], 0
        for row in reader:
            rows.append(row)
            first_lines.append(last + 1)
            last = reader.line_num
        return rows, first_lines
    except csv.Error as exc:
        line = reader.line_num
        raise EvidenceError(
            [Problem(path, line, 0, f"not a readable CSV row: {exc}", "csv-syntax")]
        ) from None
    finally:
        csv.field_size_limit(limit)


def numeric_column(table: EffectTable, name: str) -> np.ndarray:
    """Convert a column to floats (missing -> NaN); non-numbers are problems.

    A number is what Python's ``float`` reads. The column is converted in one pass and,
    only when a cell is not a number, again cell by cell to name every such cell. A column
    of the fast reader is converted by pyarrow when every cell is missing or an ASCII
    decimal number (to the same doubles as ``float``), else here.
    """
    if table.arrays is not None:
        from evidence.effects import csvfast

        values = csvfast.numbers(table.arrays[name], MISSING)
        if values is not None:
            return values
    try:
        return np.array(
            [math.nan if cell in _MISSING else float(cell) for cell in table.cells[name]],
            dtype=float,
        )
    except ValueError:
        return _numbers_one_by_one(table, name)


def _numbers_one_by_one(table: EffectTable, name: str) -> np.ndarray:
    values, problems = [], []
    for line, cell in zip(table.lines, table.cells[name], strict=True):
        if cell in MISSING:
            values.append(math.nan)
            continue
        try:
            values.append(float(cell))
        except ValueError:
            problems.append(
                Problem(
                    table.path,
                    line,
                    table.column(name),
                    f"{name} {cell!r} is not a number",
                    "csv-number",
                )
            )
    if problems:
        raise EvidenceError(problems)
    return np.asarray(values, dtype=float)


def infer_measure(table: EffectTable, measure: str | None) -> str:
    """Return the measure: as given, or GEN when the file has ``yi``."""
    if measure is not None:
        name = measure.upper()
        if name not in MEASURES:
            raise EvidenceError(
                [
                    Problem(
                        table.path,
                        0,
                        0,
                        f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}",
                        "csv-measure",
                    )
                ]
            )
        return name
    if "yi" in table.cells:
        return "GEN"
    raise EvidenceError(
        [
            Problem(
                table.path,
                1,
                0,
                "no yi column: give --measure and the escalc columns it needs",
                "csv-measure",
            )
        ]
    )


def compute_effects(table: EffectTable, measure: str | None, drop00: bool = False) -> EffectSizes:
    """Effect sizes for every row with :func:`evidence.effects.escalc.escalc`."""
    name = infer_measure(table, measure)
    problems = []
    for alternatives in REQUIRED_COLUMNS[name]:
        options = alternatives.split("|")
        if not any(option in table.cells for option in options):
            problems.append(
                Problem(
                    table.path,
                    1,
                    0,
                    f"measure {name} needs a column {' or '.join(options)}",
                    "csv-column",
                )
            )
    if problems:
        raise EvidenceError(problems)
    wanted = {c for spec in REQUIRED_COLUMNS[name] for c in spec.split("|")}
    columns: dict[str, Any] = {
        c: numeric_column(table, c) for c in sorted(wanted) if c in table.cells
    }
    return escalc(name, drop00=drop00, **columns)


def reason_column(table: EffectTable, reason: str) -> int:
    """1-based field of the column a reason names first (``"vi (or sei) ..."``), else 0.

    A reason from :func:`evidence.effects.escalc.escalc` starts with the column it is about
    ("ai is missing", "vi must be positive"); for ``vi (or sei)`` the column present in the
    file is pointed at. Reasons about several columns ("a standard deviation is
    negative") point at the whole line (0).
    """
    words = reason.replace("(", " ").replace(")", " ").split()
    candidates = [words[0], *words[1:3]] if words and words[0] == "vi" else words[:1]
    for name in candidates:
        if name in table.header:
            return table.column(name)
    return 0


def row_problems(table: EffectTable, effects: EffectSizes) -> list[Problem]:
    """One problem per row whose effect size could not be computed, at the cell named."""
    if effects.reasons.count(None) == len(effects.reasons) == len(table.lines):
        return []  # every row computed: no loop over 10^6 rows (0.1 s)
    return [
        Problem(
            table.path,
            line,
            reason_column(table, reason),
            f"{label}: {reason}",
            "effect-not-computable",
        )
        for line, label, reason in zip(table.lines, table.labels, effects.reasons, strict=True)
        if reason is not None
    ]
