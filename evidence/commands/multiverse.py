"""``evidence multiverse ID...``: every specification of an analysis's multiverse.

Fits every specification of the ``multiverse:`` block of ``analyses/<id>.yaml`` (defaults
when the spec has none) and writes ``build/results/<id>-multiverse.parquet`` and ``.csv``
(for a by-family analysis, one multiverse per pooled outcome family,
``<id>-multiverse-family-<slug>.*``, as ``evidence run`` does), one row per specification,
streaming blocks of specifications so that memory stays bounded for millions of them.
``--scheduler local`` starts a Dask cluster on this machine, ``--scheduler ADDRESS``
(``tcp://host:8786``) uses a running one, whose workers need this package installed
(``pip install 'evidence[cluster]'``); the tables are identical to a run in one process.
A progress bar goes to stderr; a summary of each multiverse to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.commands import SUMMARIES
from evidence.errors import EvidenceError, Problem


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``multiverse`` sub-command."""
    parser = subparsers.add_parser(
        "multiverse",
        help=SUMMARIES["multiverse"],
        description="Fit every specification of the multiverse of each analysis named and "
        "write build/results/<id>-multiverse.parquet and .csv (one row per specification).",
    )
    parser.add_argument("ids", nargs="+", metavar="ID", help="analysis ids")
    parser.add_argument("--studies", default="studies", type=Path, help="(default: studies)")
    parser.add_argument("--analyses", default="analyses", type=Path, help="(default: analyses)")
    parser.add_argument("--out", default="build", type=Path, help="build directory (build)")
    parser.add_argument(
        "--scheduler",
        metavar="local|ADDRESS",
        help="fit on Dask: 'local' starts a cluster here, an address uses a running one",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="workers of --scheduler local (default: CPUs)"
    )
    parser.add_argument(
        "--block-size",
        type=int,
        default=None,
        metavar="N",
        help="specifications fitted together (default 65536); the same N gives the same table "
        "on every scheduler",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the multiverses; problems in records or specs raise EvidenceError (exit 1)."""
    from evidence.analyses.builddir import claim_build_dir
    from evidence.analyses.multiverse import (
        BLOCK_SPECIFICATIONS,
        multiverse_section,
        pooled_families,
    )
    from evidence.analyses.spec import load_analyses
    from evidence.errors import errors_in
    from evidence.records.validate import load_studies

    block = BLOCK_SPECIFICATIONS if args.block_size is None else args.block_size
    if block < 1:
        raise EvidenceError([Problem("--block-size", 0, 0, "must be at least 1", "cli-option")])
    studies, problems = load_studies(args.studies)
    analyses, found = load_analyses(args.analyses, args.ids)
    problems += found
    for analysis in analyses:
        if analysis.multiverse is None:
            problems.append(
                Problem(
                    str(analysis.path),
                    0,
                    0,
                    f"{analysis.id}: the spec turns its multiverse off (multiverse: false)",
                    "multiverse-off",
                )
            )
    if errors_in(problems):
        raise EvidenceError(problems)
    claim_build_dir(args.out, [args.studies, args.analyses])
    summaries: dict[str, Any] = {}
    with _client(args.scheduler, args.workers) as client:
        for analysis in analyses:
            families = pooled_families(studies, analysis)
            if families is not None:  # by-family: one multiverse per pooled family
                summaries[analysis.id] = {"by_family": {}}
                if not families and not args.json:
                    print(f"{analysis.id}: no outcome family is pooled, so no multiverse")
            for family in [None] if families is None else families:
                label = analysis.id if family is None else f"{analysis.id} ({family})"
                with _progress_bar(label, args.no_progress) as progress:
                    section = multiverse_section(
                        studies, analysis, args.out, block, client, progress, family
                    )
                if family is None:
                    summaries[analysis.id] = section
                else:
                    summaries[analysis.id]["by_family"][family] = section
                if not args.json:
                    print(_summary_text(label, section, args.out))
    if args.json:
        print(json.dumps(summaries, indent=2))
    return 0


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """Yield a Dask client for ``--scheduler`` (a LocalCluster for 'local'), or None."""
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise EvidenceError(
            [
                Problem(
                    "--scheduler",
                    0,
                    0,
                    f"Dask is not installed ({exc.name}); pip install 'evidence[cluster]'",
                    "cli-option",
                )
            ]
        ) from exc
    if scheduler == "local":
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise EvidenceError(
            [Problem("--scheduler", 0, 0, f"cannot reach {scheduler}: {exc}", "cli-option")]
        ) from exc
    with client:
        yield client


@contextlib.contextmanager
def _progress_bar(identifier: str, off: bool) -> Iterator[Any]:
    """Yield a progress callback drawing a rich bar on stderr (None with ``off``)."""
    if off:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(file=sys.stderr)
    with Progress(
        f"{identifier}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(identifier, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _summary_text(identifier: str, section: dict[str, Any], out: Path) -> str:
    """Say in a few lines what one multiverse gave (for the terminal)."""
    shown = section.get("back_transformed") or section
    lines = [
        f"{identifier}: {section['specifications']} specifications fitted "
        f"({section['candidates'] - section['specifications']} pruned); "
        f"tables: {out / section['files']['parquet']}, {out / section['files']['csv']}"
    ]
    if section["specifications"]:
        low, high = shown["range"]
        lines.append(
            f"  median estimate {shown['median']:.4g} (range {low:.4g} to {high:.4g}); "
            f"CI excludes the null in {100 * section['share_ci_excludes_null']:.1f}%; "
            f"the choice that moves it most: {_label(section)}"
        )
    return "\n".join(lines)


def _label(section: dict[str, Any]) -> str:
    """Name the choice that explains most of the variance of the estimates, in words."""
    for choice in section["choices"]:
        if choice["name"] == section["most_influential"]:
            share = choice["variance_explained"]
            return f"{choice['label'].lower()} ({100 * share:.0f}% of the variance)"
    return "none (every specification gives the same estimate)"
