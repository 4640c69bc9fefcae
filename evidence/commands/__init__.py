"""Sub-commands of the ``evidence`` command line, one module each (see :mod:`evidence.cli`).

Each module has ``register(subparsers)`` and imports what its command needs only when it
runs or when its parser is built: ``evidence`` builds the full parser of the one command
it was given (``evidence --version`` and ``evidence --help`` import none of them), so a
command starts without loading the others' libraries.
"""

#: Every sub-command and its one-line summary, in the order ``evidence --help`` lists them
#: (the one place the summaries live: each module's parser takes its own from here).
SUMMARIES = {
    "validate": "check study records and references.bib",
    "new": "scaffold a new study record (never overwrites)",
    "effects": "compute effect sizes (metafor escalc) for every row of a CSV",
    "pool": "random-effects meta-analysis of a CSV (metafor rma conventions)",
    "run": "run analyses (only those whose inputs changed)",
    "multiverse": "fit every specification of an analysis's multiverse",
    "book": "build the evidence site into build/site/",
    "diff": "compare the analyses at a git ref with the working tree",
}
