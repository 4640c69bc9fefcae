"""``evidence new ID``: scaffold a study record (and add its BibTeX entry).

Exit status: 0 when the record was written, 1 when it was not (bad id, the record exists,
an unreadable or duplicate BibTeX entry), with every problem printed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evidence.commands import SUMMARIES
from evidence.records.scaffold import create_record


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``new`` sub-command."""
    parser = subparsers.add_parser(
        "new",
        help=SUMMARIES["new"],
        description=(
            "Write STUDIES/ID.yaml: the schema header and every field of a study record with "
            "its description, required fields empty, optional ones commented out with an "
            "example. With --bib, the single BibTeX entry in FILE is checked and written to "
            "STUDIES/ID.bib beside the record; its key becomes the citation and its year, "
            "title, authors and DOI fill the record. Nothing is downloaded."
        ),
    )
    parser.add_argument("study_id", metavar="ID", help="record id, a lowercase slug (smith2024)")
    parser.add_argument(
        "--bib", type=Path, metavar="FILE", help="a .bib file holding the study's one entry"
    )
    parser.add_argument("--doi", metavar="DOI", help="fill the doi field (no lookup is made)")
    parser.add_argument(
        "--studies",
        type=Path,
        default=Path("studies"),
        metavar="DIR",
        help="records directory (default: studies)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the record and report what to do next."""
    path = create_record(args.study_id, args.studies, bib_file=args.bib, doi=args.doi)
    print(f"wrote {path}")
    own_bib = args.studies / f"{args.study_id}.bib"
    if args.bib is not None:
        print(f"wrote {own_bib} (the BibTeX entry from {args.bib}; year, title, authors and DOI")
        print("  are filled in the record from it)")
    else:
        print(f"add the study's BibTeX entry, with key {args.study_id!r}, as {own_bib}")
    print(f"next: fill in {path}, then run: evidence validate {args.studies}")
    return 0
