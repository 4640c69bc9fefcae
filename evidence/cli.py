"""The ``evidence`` command.

Each sub-command lives in its own module under :mod:`evidence.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (taking the parsed
arguments, returning the exit status). Exit status: 0 success, 1 problems in the input,
2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from evidence import __version__
from evidence.commands import SUMMARIES

#: Sub-command modules, in the order ``evidence --help`` lists them.
COMMANDS = tuple(SUMMARIES)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the top-level parser.

    Parameters
    ----------
    command : str, optional
        The sub-command the arguments name: only its module is imported and its full
        parser built; the others are listed by their summary (enough for ``--help`` and
        for argparse to reject an unknown name). By default every parser is built.
    """
    parser = argparse.ArgumentParser(
        prog="evidence",
        description="Validate study records, pool them and build the evidence site.",
    )
    parser.add_argument("--version", action="version", version=f"evidence {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if command is not None and name != command:
            subparsers.add_parser(name, help=SUMMARIES[name], add_help=False)
            continue
        module = importlib.import_module(f"evidence.commands.{name}")
        module.register(subparsers)
    return parser


def _command_named(argv: Sequence[str]) -> str:
    """Return the sub-command the arguments name, or ``""`` when they name none.

    The top-level parser has no option taking a value, so the first argument that is not
    an option is the command.
    """
    first = next((arg for arg in argv if not arg.startswith("-")), "")
    return first if first in SUMMARIES else ""


#: Environment variables that set how many threads numpy's BLAS (OpenBLAS, MKL, OpenMP) uses.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Run numpy's BLAS on one thread unless the user chose a number (or numpy is loaded).

    The engine's sums are single dot products over one array at a time: a BLAS thread pool
    only adds its start-up (about 0.08 s of ``evidence pool`` on 10 rows, on a loaded
    2-CPU machine) and, at k = 10^6, twice the CPU time for the same wall time. The
    multiverse's Dask workers inherit the setting, as Dask recommends for numpy work.
    Setting any of :data:`BLAS_THREAD_VARIABLES` keeps the user's choice.
    """
    if "numpy" in sys.modules or any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    one_blas_thread()
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_named(arguments))
    args = parser.parse_args(arguments)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from evidence.errors import EvidenceError, format_problems

    try:
        return int(args.func(args) or 0)
    except EvidenceError as exc:
        print(format_problems(exc.problems), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
