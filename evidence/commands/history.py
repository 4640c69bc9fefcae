"""``evidence history``: each analysis's pooled estimate after each change to its inputs.

Reads the analyses ``evidence run`` wrote (``build/results/index.json``), follows the git
history of ``studies/`` and ``analyses/`` (:mod:`evidence.analyses.history`), and writes
``build/history/<id>.json`` and the figure ``build/figures/<id>-history.svg`` that the
site shows under "How the evidence changed". States already computed are cached by
commit, so a run with nothing new is quick. Outside a git repository it says so and
writes nothing (exit 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evidence.commands import SUMMARIES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``history`` sub-command."""
    parser = subparsers.add_parser(
        "history",
        help=SUMMARIES["history"],
        description="Follow the git history of studies/ and analyses/ and write "
        "build/history/<id>.json and build/figures/<id>-history.svg for every analysis "
        "in build/results/index.json (run `evidence run` first).",
    )
    parser.add_argument("--studies", default="studies", type=Path, help="(default: studies)")
    parser.add_argument("--out", default="build", type=Path, help="build directory (build)")
    parser.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the histories; a missing results index is a problem (exit 1)."""
    from evidence.analyses.history import HistoryUnavailableError, write_histories
    from evidence.analyses.runner import claim_build_dir
    from evidence.errors import EvidenceError, Problem

    index = args.out / "results" / "index.json"
    if not index.is_file():
        raise EvidenceError(
            [Problem(str(index), 0, 0, "no results: run `evidence run` first", "no-results")]
        )
    root = args.studies.resolve().parent
    claim_build_dir(args.out, [args.studies, root / "analyses"])
    documents = []
    for row in json.loads(index.read_text("utf-8")):
        path = args.out / "results" / f"{row['id']}.json"
        if path.is_file():
            documents.append(json.loads(path.read_text("utf-8")))
    try:
        written = write_histories(root, args.out, documents, sys.stderr)
    except HistoryUnavailableError as exc:
        print(f"evidence history: no history ({exc})", file=sys.stderr)
        return 0
    if not args.no_figures:
        from evidence.report.plots import history_forest

        for identifier, path in written.items():
            history = json.loads(path.read_text("utf-8"))
            history_forest(history, args.out / "figures" / f"{identifier}-history.svg")
    print(f"Evidence history written for {len(written)} analyses: {args.out / 'history'}")
    return 0
