"""``evidence book``: generate the site pages and build the evidence site offline."""

from __future__ import annotations

import argparse
import sys
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
    """Build the site and say where it is.

    With nothing changed since the last complete build the answer comes from its stamp
    (:mod:`evidence.report.book.noop`), before any record is read or page made.
    """
    from evidence.report.book import noop

    key = noop.book_key(args.results, args.studies, args.out, args.book)
    stamp = noop.unchanged(args.out, key)
    if stamp is not None:
        for warning in stamp["warnings"]:
            print(warning, file=sys.stderr)
        _say("is up to date (nothing changed)", stamp["analyses"], stamp["studies"], args.out)
        return 0
    from evidence.report.book import build_book

    summary = build_book(args.results, args.studies, args.out, args.book)
    warnings = [str(warning) for warning in summary.warnings]
    noop.record(summary.site, key, warnings, summary.analyses, summary.studies)
    done = "is up to date (nothing changed)" if summary.build == "unchanged" else "built"
    _say(done, summary.analyses, summary.studies, summary.site)
    return 0


def _say(done: str, analyses: int, studies: int, site: Path) -> None:
    print(f"Site {done} from {analyses} analyses and {studies} studies: open {site / 'index.html'}")
