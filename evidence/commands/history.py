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
import hashlib
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
    from evidence.analyses.builddir import claim_build_dir
    from evidence.analyses.history import HistoryUnavailableError, write_histories
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
        _draw_stale_figures(written, args.out / "figures")
    print(f"Evidence history written for {len(written)} analyses: {args.out / 'history'}")
    return 0


#: Which history each figure was drawn from, in ``build/history``.
FIGURES_STAMP = ".figures.json"


def _draw_stale_figures(written: dict[str, Path], figures: Path) -> None:
    """Draw ``figures/<id>-history.svg`` unless it was drawn from this history and code.

    ``build/history/.figures.json`` keeps, per analysis, the sha256 of the history JSON and
    the code it was drawn from and of the SVG drawn; a figure whose entry still matches is
    not drawn again (matplotlib is not even imported when none is stale).
    """
    from evidence import code_fingerprint
    from evidence.records.safefs import sha256_of

    if not written:
        return
    stamp_path = next(iter(written.values())).parent / FIGURES_STAMP
    try:
        stamp = json.loads(stamp_path.read_text("utf-8"))
    except (OSError, ValueError):
        stamp = {}
    stamp = stamp if isinstance(stamp, dict) else {}
    code = code_fingerprint()
    drawn = {}
    for identifier, path in written.items():
        text = path.read_text("utf-8")
        source = hashlib.sha256((code + text).encode("utf-8")).hexdigest()
        target = figures / f"{identifier}-history.svg"
        if stamp.get(identifier) == [source, sha256_of(target)]:  # None when none drawn
            drawn[identifier] = stamp[identifier]
            continue
        from evidence.report.plots import history_forest

        history_forest(json.loads(text), target)
        drawn[identifier] = [source, sha256_of(target)]
    if drawn != stamp:
        scratch = stamp_path.with_suffix(".tmp")
        scratch.write_text(json.dumps(drawn, indent=1, sort_keys=True) + "\n", "utf-8")
        scratch.replace(stamp_path)
