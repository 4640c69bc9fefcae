"""``evidence validate``: check study records and the bibliography.

Prints every problem at once, sorted, as ``file:line:col: message [rule-id]`` and then a
count (``--format text``), as a JSON list (``--format json``) or as GitHub Actions
annotations (``--format github``, the count going to stderr). Exit status: 1 when any
error was found, 0 otherwise (warnings do not fail).
"""

from __future__ import annotations

import argparse
import sys

from evidence.commands import SUMMARIES
from evidence.errors import errors_in, format_problems, summary_line
from evidence.records.validate import validate_paths


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help=SUMMARIES["validate"],
        description=(
            "Check study records against the schema (evidence/schema/study.schema.json), "
            "the controlled vocabularies and the record rules, and the bibliography with "
            "pybtex. A directory stands for every *.yaml in it plus its references.bib. "
            "Exit status 1 when any error is found; warnings do not fail."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=["studies"],
        metavar="PATH",
        help="record files, .bib files or directories (default: studies)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text (default), json (for tools) or github (Actions annotations)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the paths, print the problems; return 1 when any is an error."""
    problems = validate_paths(args.paths)
    output = format_problems(problems, args.format)
    if output:
        print(output)
    if args.format == "github":
        print(summary_line(problems), file=sys.stderr)
    return 1 if errors_in(problems) else 0
