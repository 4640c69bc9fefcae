"""ISO 3166-1 alpha-2 country codes, for ``countries`` and its did-you-mean hints.

The table (``evidence/data/iso3166.tsv``) lists each code with its English short name and
other names in use (``UK``, ``Holland``, ``Ivory Coast``), so that ``countries: [Finland]``
or ``[UK]`` is answered with the code to write (``FI``, ``GB``).
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources


@cache
def country_table() -> dict[str, list[str]]:
    """Map each alpha-2 code to its names (the short name first)."""
    text = resources.files("evidence").joinpath("data/iso3166.tsv").read_text("utf-8")
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, names = line.split("\t", 1)
            table[code] = names.split(";")
    return table


def suggest_country(text: str) -> str | None:
    """Return the code a country name, an old code or a near miss stands for, or ``None``.

    Examples
    --------
    >>> suggest_country("Finland"), suggest_country("UK"), suggest_country("fi")
    ('FI', 'GB', 'FI')
    >>> suggest_country("Swedn"), suggest_country("Atlantis")
    ('SE', None)
    """
    table = country_table()
    wanted = " ".join(text.split()).casefold()
    if wanted.upper() in table:
        return wanted.upper()
    names = {name.casefold(): code for code, all_names in table.items() for name in all_names}
    if wanted in names:
        return names[wanted]
    close = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.8)
    return names[close[0]] if close else None


def country_hint(text: str) -> str:
    """``"; did you mean 'FI' (Finland)?"`` for :func:`suggest_country`'s answer, or ``""``."""
    code = suggest_country(text)
    if code is None or code == text:
        return ""
    return f"; did you mean '{code}' ({country_table()[code][0]})?"
