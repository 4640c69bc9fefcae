"""``evidence run [ID...]``: run analyses and write build/results and build/figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from evidence.commands import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser(
        "run",
        help=SUMMARIES["run"],
        description="Run the analyses in analyses/ on the records in studies/ and write "
        "build/results/<id>.json, <id>-effects.csv, index.json and "
        "build/figures/. Analyses whose inputs are unchanged are skipped.",
    )
    parser.add_argument("ids", nargs="*", metavar="ID", help="analysis ids (default: all)")
    parser.add_argument(
        "--studies",
        default="studies",
        type=Path,
        help="directory of study records (default: studies)",
    )
    parser.add_argument(
        "--analyses",
        default="analyses",
        type=Path,
        help="directory of analysis specs (default: analyses)",
    )
    parser.add_argument(
        "--out", default="build", type=Path, help="build directory (default: build)"
    )
    parser.add_argument("--no-figures", action="store_true", help="do not render figures")
    parser.add_argument("--force", action="store_true", help="refit even when nothing changed")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the analyses; problems in records or specs raise EvidenceError (exit 1).

    A complete run with nothing changed since the last one is answered from its stamp
    (:mod:`evidence.analyses.runstamp`) before the statistics are imported.
    """
    from evidence.analyses import runstamp

    if not args.ids and not args.force:
        options = runstamp.run_options(not args.no_figures, True)
        if runstamp.replay(args.studies, args.analyses, args.out, options, sys.stderr):
            return 0
    from evidence.analyses.runner import run_analyses

    run_analyses(
        args.studies,
        args.analyses,
        args.out,
        ids=args.ids or None,
        figures=not args.no_figures,
        force=args.force,
        render=_render_all,
        render_summary=_summary_forest,
    )
    return 0


# The figure code (matplotlib) is imported only when a figure is drawn: a run in which
# every analysis is unchanged draws none.


def _render_all(*args: Any) -> Any:
    from evidence.report.plots import render_all

    return render_all(*args)


def _summary_forest(*args: Any) -> Any:
    from evidence.report.plots import summary_forest

    return summary_forest(*args)
