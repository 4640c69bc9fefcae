"""``evidence show STUDY``: the study's effects, which analyses use them, and its weight.

Prints each effect as recorded, every analysis that selects it (pooled, or why it is left
out; "selected by no analysis" otherwise), and for each analysis the study enters, the
pooled estimate with and without the study. Exit status: 0, or 1 when records or specs are
invalid or there is no such study (problems printed as ``file:line:col: message [rule]``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evidence.commands import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``show`` sub-command."""
    parser = subparsers.add_parser(
        "show",
        help=SUMMARIES["show"],
        description=(
            "Print the study's effects as recorded; for each, the analyses that select it "
            "and whether each pools it or why it is left out; and for every analysis the "
            "study enters, the pooled estimate with and without the study."
        ),
    )
    parser.add_argument("study_id", metavar="STUDY", help="the study's id (its file name)")
    parser.add_argument("--studies", type=Path, default=Path("studies"), metavar="DIR")
    parser.add_argument("--analyses", type=Path, default=Path("analyses"), metavar="DIR")
    parser.add_argument(
        "--format", choices=("text", "markdown"), default="text", help="text (default) or markdown"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the study's view."""
    from evidence.analyses.show import render_show, show_study

    view = show_study(args.study_id, args.studies, args.analyses)
    print(render_show(view, markdown=args.format == "markdown"))
    return 0
