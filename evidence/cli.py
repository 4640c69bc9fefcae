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
from evidence.errors import EvidenceError, format_problems

#: Sub-command modules, in the order ``evidence --help`` lists them.
COMMANDS = ("validate", "new", "effects", "pool", "run", "multiverse", "book", "diff")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="evidence",
        description="Validate study records, pool them and build the evidence site.",
    )
    parser.add_argument("--version", action="version", version=f"evidence {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"evidence.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name != f"evidence.commands.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
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
