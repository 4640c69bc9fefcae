"""Published pooled results shown beside the project's own.

``evidence/data/headline_pooled_results.tsv`` is an unchanged copy of the shared headline
table (provenance in ``evidence/data/README.md``). An analysis names the rows answering its
question in ``compare_with``: each item is a set of ``column: value`` pairs that must all
match a row's cells exactly. Matching rows are copied unchanged (cells as printed, ``NA``
kept as printed) into the result's ``published`` list.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources

#: The headline table inside the package.
HEADLINE_FILE = "data/headline_pooled_results.tsv"
#: Columns copied into the results JSON, in this order.
COLUMNS = (
    "meta_analysis",
    "year",
    "doi",
    "exposure",
    "outcome",
    "k_studies",
    "n_participants",
    "measure",
    "pooled",
    "lo",
    "hi",
    "heterogeneity",
    "model",
    "source",
    "quote",
)


@cache
def headline_bytes() -> bytes:
    """Return the raw bytes of the shipped headline table."""
    return resources.files("evidence").joinpath(HEADLINE_FILE).read_bytes()


def headline_sha256() -> str:
    """sha256 of the shipped headline table (recorded in every result's provenance)."""
    return hashlib.sha256(headline_bytes()).hexdigest()


@cache
def headline_rows() -> tuple[dict[str, str], ...]:
    """Every row of the headline table as ``{column: cell}`` (cells as printed)."""
    reader = csv.DictReader(
        io.StringIO(headline_bytes().decode("utf-8")), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    return tuple({column: row.get(column, "") for column in COLUMNS} for row in reader)


def match_rows(
    rows: Iterable[Mapping[str, str]], selector: Mapping[str, str]
) -> list[dict[str, str]]:
    """Rows whose cells equal every ``column: value`` of ``selector`` (exact match).

    Examples
    --------
    >>> rows = [{"doi": "a", "exposure": "x"}, {"doi": "a", "exposure": "y"}]
    >>> match_rows(rows, {"doi": "a", "exposure": "y"})
    [{'doi': 'a', 'exposure': 'y'}]
    """
    return [
        dict(row)
        for row in rows
        if all(row.get(column) == value for column, value in selector.items())
    ]


def published_for(selectors: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """Return the rows named by an analysis's ``compare_with``, in selector then table order.

    A row named by two selectors is listed once.
    """
    chosen: list[dict[str, str]] = []
    for selector in selectors:
        for row in match_rows(headline_rows(), selector):
            if row not in chosen:
                chosen.append(row)
    return chosen
