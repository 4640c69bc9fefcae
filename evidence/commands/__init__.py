"""Sub-commands of the ``evidence`` command line, one module each (see :mod:`evidence.cli`).

Each module has ``register(subparsers)`` and imports what its command needs only when it
runs or when its parser is built: ``evidence`` builds the full parser of the one command
it was given (``evidence --version`` and ``evidence --help`` import none of them), so a
command starts without loading the others' libraries.
"""

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import overload


class LazyChoices(Sequence[str]):
    """An argparse ``choices`` read from a registry only when argparse looks at it.

    argparse tests ``value in choices`` when the option is given and lists the choices in
    ``--help`` and in errors; a command that never sees the option never imports the
    module holding them.
    """

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load

    @cached_property
    def _items(self) -> tuple[str, ...]:
        return tuple(self._load())

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __contains__(self, value: object) -> bool:
        return value in self._items


#: Every sub-command and its one-line summary, in the order ``evidence --help`` lists them
#: (the one place the summaries live: each module's parser takes its own from here).
SUMMARIES = {
    "validate": "check study records and references.bib",
    "new": "scaffold a new study record (never overwrites)",
    "show": "show a study's effects, the analyses that use them and its influence",
    "effects": "compute effect sizes (metafor escalc) for every row of a CSV",
    "pool": "random-effects meta-analysis of a CSV (metafor rma conventions)",
    "run": "run analyses (only those whose inputs changed)",
    "history": "the pooled estimate of each analysis after each change to its inputs (git)",
    "multiverse": "fit every specification of an analysis's multiverse",
    "book": "build the evidence site into build/site/",
    "diff": "compare the analyses at a git ref with the working tree",
}
