"""Follow-up as printed, with its unit: ``follow_up: 57 months`` -> 4.75 years.

Papers print follow-up in days, weeks, months or years. A record gives the printed value
and unit in ``follow_up`` (or the value in years in ``follow_up_years``); analyses read
``follow_up_years``, which for a ``follow_up`` is the printed value converted with a year
of 365.25 days (12 months, 365.25 / 7 weeks).
"""

from __future__ import annotations

import re

#: Days, weeks or months per year for each unit (singular and plural spellings).
PER_YEAR = {
    "day": 365.25,
    "days": 365.25,
    "week": 365.25 / 7,
    "weeks": 365.25 / 7,
    "month": 12.0,
    "months": 12.0,
    "year": 1.0,
    "years": 1.0,
}

#: The form of ``follow_up``: a positive number, one space, a unit.
FOLLOW_UP = re.compile(r"([0-9]+(?:\.[0-9]+)?) (days?|weeks?|months?|years?)")


def follow_up_in_years(text: str) -> float | None:
    """Convert ``'57 months'`` to years (4.75); ``None`` when ``text`` is not of that form.

    Examples
    --------
    >>> follow_up_in_years("57 months"), follow_up_in_years("2 years"), follow_up_in_years("57")
    (4.75, 2.0, None)
    """
    match = FOLLOW_UP.fullmatch(text.strip())
    if match is None:
        return None
    return float(match.group(1)) / PER_YEAR[match.group(2)]
