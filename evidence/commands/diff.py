"""``evidence diff``: how the working tree moves the evidence compared with a git ref.

Exit status: 0 on success (changes are not errors), 1 when records are invalid (each
problem printed as ``file:line:col: message [rule]``), 2 on git usage errors (not a
repository, unknown ref), with a one-line message.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from evidence.analyses.compare import compare_results, render
from evidence.analyses.gitdiff import GitUsageError, diff_sides
from evidence.commands import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``diff`` sub-command."""
    parser = subparsers.add_parser(
        "diff",
        help=SUMMARIES["diff"],
        description=(
            "Run every analysis at a git ref (in a temporary worktree) and on the working "
            "tree, without figures, and report per analysis what changed: k, pooled "
            "estimate, CI, prediction interval, tau^2, I^2 and certainty. Changed "
            "conclusions (CI now includes or excludes the null, certainty moved, analysis "
            "added or removed, status changed) are listed first. Prints 'no change' when "
            "nothing moved. With --format markdown (the pull-request comment) each study the "
            "branch adds is shown as `evidence show` shows it. Exit status: 0 (changes are "
            "not errors), 1 invalid records, 2 git usage errors."
        ),
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        default=None,
        help="git ref to compare with (default: merge base of HEAD with main; HEAD on main)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text (default), markdown (a pull-request comment) or json",
    )
    parser.add_argument(
        "--studies",
        type=Path,
        default=Path("studies"),
        metavar="DIR",
        help="records directory (default: studies)",
    )
    parser.add_argument(
        "--analyses",
        type=Path,
        default=Path("analyses"),
        metavar="DIR",
        help="analysis specs directory (default: analyses)",
    )
    parser.set_defaults(func=run)


def _new_studies(study_ids: tuple[str, ...], studies: Path, analyses: Path) -> str:
    """``evidence show`` of each study the branch adds, for the pull-request comment."""
    from evidence.analyses.show import render_show, show_study

    parts = ["### New studies", ""]
    for study_id in study_ids:
        parts += [render_show(show_study(study_id, studies, analyses), markdown=True), ""]
    return "\n".join(parts).rstrip()


def run(args: argparse.Namespace) -> int:
    """Run the comparison and print it; see the module docstring for exit statuses."""
    try:
        sides = diff_sides(Path.cwd(), args.base, args.studies, args.analyses)
    except GitUsageError as exc:
        print(f"evidence diff: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"evidence diff: the analysis runner is not available ({exc})", file=sys.stderr)
        return 2
    base = f"{sides.base_ref} (commit {sides.base_commit[:7]})"
    text = render(compare_results(sides.base, sides.head), args.format, base=base)
    if args.format == "markdown" and sides.new_studies:
        text += "\n\n" + _new_studies(sides.new_studies, args.studies, args.analyses)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. `evidence diff | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
