"""The build directory of ``evidence run``: the marker it leaves and the check before writing.

Kept apart from :mod:`evidence.analyses.runner` so that commands that only check or
claim the directory (``history``, ``multiverse``, the whole-run stamp) do not import the
statistics.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from evidence.errors import EvidenceError, Problem, display_path, read_error
from evidence.records.safefs import claim_output_dir, output_dir_problem

#: Marker file ``evidence run`` leaves in its build directory (see
#: :func:`claim_build_dir`).
BUILD_MARKER = ".evidence-build"
#: What the evidence commands write into a build directory: an unmarked directory holding
#: nothing else was made by a version from before the marker, and is adopted.
BUILD_NAMES = frozenset(
    {
        "results",
        "figures",
        "history",
        "site",
        ".site.work",
        ".site.new",
        ".site.old",
        ".book-doctrees",
        ".evidence-book.lock",
        ".run-stamp.json",
    }
)


def claim_build_dir(out_dir: Path, sources: Sequence[Path]) -> None:
    """Check that ``out_dir`` is a build directory to write into, and mark it as one.

    Raises
    ------
    EvidenceError
        ``output-dir-unsafe`` (nothing written) when ``out_dir`` is the working directory
        or contains it, is or contains ``sources``, is a git repository, holds records or
        specs, or holds anything but earlier output without the ``.evidence-build`` marker.
    """
    problem = output_dir_problem(
        out_dir, BUILD_MARKER, "evidence run", inputs=sources, owned=BUILD_NAMES
    )
    if problem is not None:
        raise EvidenceError([problem])
    try:
        claim_output_dir(
            out_dir,
            BUILD_MARKER,
            "This is a build directory of `evidence run`: it rewrites results/ and figures/ "
            "here.\n",
        )
        for name in ("results", "figures"):  # fail once, here, not once per analysis
            (out_dir / name).mkdir(exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=out_dir / name, prefix=".evidence-probe-"):
                pass
    except OSError as exc:
        failed = Path(exc.filename) if exc.filename else out_dir
        if failed.name.startswith("."):  # our marker's or probe's temporary file
            failed = failed.parent
        where = display_path(failed)
        raise EvidenceError(
            [
                Problem(
                    display_path(out_dir),
                    0,
                    0,
                    f"evidence run cannot write into {where}: {read_error(exc)}; make it "
                    "writable or pass another directory with --out",
                    "output-dir-unwritable",
                )
            ]
        ) from None
