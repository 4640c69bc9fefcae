"""The fast path of :func:`evidence.effects.csvinput.read_table`: large clean CSVs in C++.

At 10^6 rows the csv module and ``float`` took most of ``evidence pool``'s time (issue 17).
Here pyarrow's CSV parser splits the file, and its compute kernels unquote, strip and
convert the cells, column by column. It only reads files that the csv module path would
read *the same way without a problem*: anything unusual makes :func:`read_columns` return
``None`` and the caller reads the file with the csv module, which names every problem
exactly as before. Unusual is: a byte-order mark after the first, a NUL byte, text that is
not UTF-8, a header that is blank or repeats a name, a row of another width (ragged, a blank
line, a quoted field spanning lines), a quote anywhere but around a whole field, a row
whose first cell is blank, a row longer than pyarrow's block, no data row.

Cells are parsed with the quote character off, so each row is one line and each raw field
lies between two commas; a field holding a quote must then be a whole quoted field
(``"..."`` with inner quotes doubled), which is what the csv module makes of it too.
Numbers (:func:`numbers`) are parsed by pyarrow (fast_float, correctly rounded, so the same
double as Python's ``float``) only when every cell is missing or an ASCII decimal number;
a column with anything else (``inf``, ``1_000``, a word) is left to ``float``.

Imported only for files of at least :data:`evidence.effects.csvinput.FAST_READ_BYTES`
bytes: importing pyarrow costs ~0.05 s, more than reading a small file. Nothing here uses
``pa.array``, ``pa.scalar`` or ``to_numpy``: pyarrow then imports pandas, another ~0.3 s;
arrays are made from and read through their buffers instead.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: The characters ``str.strip()`` removes (``str.isspace``), for pyarrow's ``utf8_trim``;
#: a test checks them against Python.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: The ASCII ones a cell may hold (CR and LF end rows).
_ASCII_SPACES = tuple(c.encode() for c in WHITESPACE[:10] if c not in "\r\n")
#: A whole quoted field as the csv module reads it (excel dialect: inner quotes doubled).
QUOTED = r'^"(?:[^"]|"")*"$'
_QUOTED = re.compile(QUOTED[1:-1])  # for fullmatch
#: Numbers pyarrow converts: ASCII decimals (Python's ``float`` reads them the same).
NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


class ArrowCells(Mapping[str, list[str]]):
    """Cells by column, as the csv module path gives them, converted on first access.

    Parameters
    ----------
    arrays : mapping of str to pyarrow.StringArray
        The unquoted, stripped cells of each column (header order).
    """

    def __init__(self, arrays: Mapping[str, Any]) -> None:
        self._arrays = arrays
        self._lists: dict[str, list[str]] = {}

    def __getitem__(self, name: str) -> list[str]:
        if name not in self._lists:
            self._lists[name] = self._arrays[name].to_pylist()
        return self._lists[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __contains__(self, name: object) -> bool:
        return name in self._arrays


def read_columns(data: bytes) -> tuple[tuple[str, ...], dict[str, Any]] | None:
    """Split a CSV file's bytes into its header and cells, or ``None`` if anything is unusual.

    Parameters
    ----------
    data : bytes
        The whole file.

    Returns
    -------
    tuple of (tuple of str, dict of str to pyarrow.StringArray) or None
        The header (stripped names) and each column's unquoted, stripped cells, one per
        line after the header (row ``i`` is on line ``i + 2``); ``None`` when the csv
        module path must read the file (see the module docstring).
    """
    if data.startswith(codecs.BOM_UTF8):  # what the "utf-8-sig" codec drops (once)
        data = data[len(codecs.BOM_UTF8) :]
    if data.startswith(codecs.BOM_UTF8) or b"\x00" in data or not _is_utf8(data):
        return None
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    if not ends:
        return None  # a header alone: no data rows
    header = _header(data[: min(ends)].decode("utf-8"))
    if header is None:
        return None
    table = _parse(data, len(header))
    if table is None or table.num_rows == 0:
        return None
    quotes = b'"' in data
    spaces = not data.isascii() or any(c in data for c in _ASCII_SPACES)
    arrays = {}
    for index, name in enumerate(header):
        cells = _cells(table.column(index).combine_chunks(), quotes, spaces)
        if cells is None or (index == 0 and pc.min(pc.binary_length(cells)).as_py() == 0):
            return None  # a blank first cell: a blank line, or a row the csv path reports
        arrays[name] = cells
    return header, arrays


def _is_utf8(data: bytes) -> bool:
    """Whether Python decodes ``data`` as UTF-8 (in slices: no copy of a large file's text)."""
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view, step = memoryview(data), 1 << 24
    try:
        for start in range(0, len(data), step):
            decoder.decode(view[start : start + step], final=start + step >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def _header(line: str) -> tuple[str, ...] | None:
    """Return the header's names, or ``None`` if blank, repeated or oddly quoted."""
    names = []
    for field in line.split(","):
        if '"' in field:
            if not _QUOTED.fullmatch(field):
                return None
            field = field[1:-1].replace('""', '"')
        names.append(field.strip())
    if not any(names) or len(set(names)) != len(names):
        return None
    return tuple(names)


def _parse(data: bytes, width: int) -> Any:
    """Rows after the header as text columns, quotes kept; ``None`` if pyarrow refuses."""
    names = [str(j) for j in range(width)]
    try:
        return pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=",",
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                check_utf8=True,
            ),
        )
    except pa.ArrowException:  # a row of another width, a row longer than a block, ...
        return None


def _cells(raw: Any, quotes: bool, spaces: bool) -> Any:
    """Unquote (``"a""b"`` -> ``a"b``) and strip a column; ``None`` if a quote is misplaced.

    ``quotes`` and ``spaces`` say whether the file holds a quote and whitespace that may
    be stripped (without them the cells are as they are).
    """
    quoted = pc.match_substring(raw, '"') if quotes else None
    if quoted is not None and pc.any(quoted).as_py():
        whole = pc.match_substring_regex(raw, QUOTED)
        if not pc.all(pc.or_(pc.invert(quoted), whole)).as_py():
            return None
        raw = pc.replace_substring_regex(raw, r'(?s)^"(.*)"$', r"\1")
        raw = pc.replace_substring(raw, '""', '"')
    return pc.utf8_trim(raw, characters=WHITESPACE) if spaces else raw


def numbers(cells: Any, missing: Sequence[str]) -> np.ndarray | None:
    """Convert a column to floats (missing -> NaN), or ``None`` when ``float`` must do it.

    Parameters
    ----------
    cells : pyarrow.StringArray
        A column of :func:`read_columns`.
    missing : sequence of str
        The cells that are missing values.

    Returns
    -------
    numpy.ndarray or None
        The numbers (a new, writable array), or ``None`` when a cell is neither missing nor
        an ASCII decimal number (``inf``, ``1_000``, text): the csv module path's Python
        conversion then reads them or names each cell that is not a number.
    """
    absent = pc.is_in(cells, value_set=_strings(missing))
    if not pc.all(pc.or_(absent, pc.match_substring_regex(cells, NUMBER))).as_py():
        return None
    try:
        if not pc.any(absent).as_py():
            return _floats(pc.cast(cells, pa.float64()))
        present = pc.invert(absent)
        values = np.full(len(cells), math.nan)
        values[_bools(present)] = _floats(pc.cast(pc.filter(cells, present), pa.float64()))
    except pa.ArrowException:  # pragma: no cover - each such cell is a number to pyarrow
        return None
    return values


# pa.array, pa.scalar and Array.to_numpy import pandas (~0.3 s): arrays go by their buffers.


def _strings(values: Sequence[str]) -> Any:
    """Build a pyarrow string array of ``values``."""
    encoded = [value.encode() for value in values]
    offsets = np.cumsum([0, *map(len, encoded)], dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _floats(values: Any) -> np.ndarray:
    """Copy a pyarrow double array without nulls into a new numpy array."""
    return np.frombuffer(values.buffers()[1], np.float64, len(values), values.offset * 8).copy()


def _bools(mask: Any) -> np.ndarray:
    """Return a pyarrow boolean array without nulls as numpy booleans."""
    bits = np.unpackbits(np.frombuffer(mask.buffers()[1], np.uint8), bitorder="little")
    return bits[mask.offset : mask.offset + len(mask)].astype(bool)
