"""``evidence effects FILE.csv --measure M``: the effect size and variance of every row.

Reads metafor-style columns (see :mod:`evidence.effects.csvinput`) and prints ``yi`` and ``vi``
per input row, in input order, with the row label; a row that cannot be computed says why.
``--json`` prints one object per input row: ``{"line", "label", "yi", "vi", "reason"}``.
Exit status 0 (rows that cannot be computed are reported, not failures); 1 when the file
itself has problems.
"""

from __future__ import annotations

import argparse

from evidence.commands import SUMMARIES
from evidence.effects.csvinput import compute_effects, read_table
from evidence.effects.escalc import MEASURES
from evidence.errors import escape_terminal
from evidence.stats.results import dumps, finite


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``effects`` sub-command."""
    parser = subparsers.add_parser(
        "effects",
        help=SUMMARIES["effects"],
        description=(
            "Compute yi and vi for every row of a CSV with metafor escalc column names "
            "(yi with vi or sei; or ai bi ci di n1i n2i m1i m2i sd1i sd2i ri ni xi ti "
            "x1i x2i t1i t2i)."
        ),
    )
    parser.add_argument("file", metavar="FILE.csv")
    parser.add_argument(
        "--measure",
        type=str.upper,
        choices=MEASURES,
        help="effect measure (metafor name); default: GEN when the file has yi",
    )
    parser.add_argument(
        "--drop00", action="store_true", help="drop 2x2 studies with no events in both groups"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per input row")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the effect sizes; return 0, or raise EvidenceError for a bad file."""
    table = read_table(args.file)
    effects = compute_effects(table, args.measure, args.drop00)
    rows = [
        {"line": line, "label": label, "yi": finite(y), "vi": finite(v), "reason": reason}
        for line, label, y, v, reason in zip(
            table.lines, table.labels, effects.yi, effects.vi, effects.reasons, strict=True
        )
    ]
    if args.json:
        print(dumps(rows), end="")
        return 0
    labels = [_shown(escape_terminal(label)) for label in table.labels]  # a CSV's text
    width = max(len("label"), *(len(label) for label in labels))
    print(f"{'label':<{width}}  {'yi':>12}  {'vi':>12}")
    for label, row in zip(labels, rows, strict=True):
        if row["reason"] is not None:
            reason = escape_terminal(str(row["reason"]))
            print(f"{label:<{width}}  {'-':>12}  {'-':>12}  not computed: {reason}")
        else:
            print(f"{label:<{width}}  {row['yi']:>12.6g}  {row['vi']:>12.6g}")
    for note in effects.notes:
        print(f"note: {escape_terminal(note)}")
    return 0


#: Widest label the plain table shows; longer ones end in "..." (``--json`` has them whole).
#: Without it every row was padded to the longest label: a 3 MB label over 3,000 rows
#: printed about 9 GB.
LABEL_WIDTH = 40


def _shown(label: str) -> str:
    """Return ``label`` cut to :data:`LABEL_WIDTH` characters, marked with ``...``."""
    return label if len(label) <= LABEL_WIDTH else label[: LABEL_WIDTH - 3] + "..."
