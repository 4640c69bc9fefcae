"""``evidence book``: generate the site pages and build the evidence site offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from evidence.commands import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``book`` sub-command."""
    parser = subparsers.add_parser(
        "book",
        help=SUMMARIES["book"],
        description="Generate the site pages from build/results/ and the study records into "
        "book/_generated/, then build them with Jupyter Book (Sphinx warnings are "
        "errors) into the output directory. Nothing is downloaded.",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("build/results"),
        help="results directory written by `evidence run` (default: %(default)s)",
    )
    parser.add_argument(
        "--studies",
        type=Path,
        default=Path("studies"),
        help="study records and references.bib (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("build/site"),
        help="output directory of the HTML site (default: %(default)s)",
    )
    parser.add_argument(
        "--book",
        type=Path,
        default=Path("book"),
        help="Jupyter Book source directory (default: %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the site and say where it is."""
    from evidence.report.book import build_book

    summary = build_book(args.results, args.studies, args.out, args.book)
    done = "is up to date (nothing changed)" if summary.build == "unchanged" else "built"
    print(
        f"Site {done} from {summary.analyses} analyses and {summary.studies} studies: "
        f"open {summary.site / 'index.html'}"
    )
    return 0
