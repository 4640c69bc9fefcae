r"""The quote is evidence: every number of a statistic must be printed in its quote.

A study record copies each statistic from its source and keeps the sentence (or the table
cells) it was read from in ``source.quote``. :func:`missing_numbers` lists the numbers of a
statistic (value, CI bounds, SE, p, n, t/F, the counts of a 2x2 table, group means, SDs and
sizes, a range) that the quote does not print, so that a typo (1.39 for 1.38), a
percentage typed as a ratio (117 for 1.17) or a number from somewhere else is caught
before it is pooled.

A number counts as printed when the quote holds it in any of the usual printed forms:

=============================  ===========================================================
printed                        matches
=============================  ===========================================================
``1.38``, ``1.380``            1.38 (numbers compare as decimals, not as text)
``1·38`` (middle dot)          1.38 (the Lancet's decimal point)
``.38``, ``P=.03``             0.38, 0.03 (no leading zero)
``3,138``, ``12 675``          3138, 12675 (thousands separators: comma, space, thin space)
``−0.03``, ``-0.03``           -0.03 (U+2212 minus, hyphen-minus, dashes)
``1.21–1.57``, ``1.21-1.57``   1.21 and 1.57 (a dash between two numbers is a range)
``2.1 × 10−5``, ``2.1e-5``     0.000021 (scientific notation)
``1,38``                       1.38 (a decimal comma), as well as 1 and 38
=============================  ===========================================================

Numbers compare exactly as decimals: the record's number is read back from its shortest
decimal form (``repr``), so ``value: 1.38`` matches ``1.380`` but not ``1.4``. A positive
number matches a printed number whatever precedes it (a dash may separate a range); a
negative number must be printed after a minus sign or a dash (``-0.03``, ``−0.03``,
``(−0.5 to −0.2)``), so a sign typed by mistake is caught too.

A number that the reviewer had to compute (a group total summed from two table cells, a
standard error from a printed CI on another scale) is declared in ``source.computed`` with
how it was computed; the rule then leaves it alone (:func:`computed_fields`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

#: Characters read as a minus sign or a range dash before a number.
DASHES = "-\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d"

#: Characters printed as a decimal point: full stop, middle dot, dot operators.
_POINTS = ".\u00b7\u2219\u22c5"

_SPACE_GROUP = "[ \u00a0\u2009\u202f]"

# A plain number: digits with an optional decimal part, or a decimal part alone (.38).
_PLAIN = re.compile(rf"(?<![\d{_POINTS}])(\d+(?:[{_POINTS}]\d+)?)|(?<!\d)[{_POINTS}](\d+)")
# Thousands grouped with commas or spaces: 3,138 / 12 675 / 1,234,567.5
_GROUPED = re.compile(
    rf"(?<![\d{_POINTS},])(\d{{1,3}}(?:(?:,|{_SPACE_GROUP})\d{{3}})+)(?:[{_POINTS}](\d+))?(?![\d,])"
)
# A decimal comma: 1,38 (European printing).
_DECIMAL_COMMA = re.compile(r"(?<![\d,])(\d+),(\d+)(?![\d,])")
# Scientific notation: 2.1 x 10-5, 2.1 × 10^-5, 2.1×10(−5), 2.1e-5, and 10−5 alone.
_TIMES_TEN = re.compile(
    rf"(\d+(?:[{_POINTS}]\d+)?)\s*[×xX*·]\s*10\s*(?:\^|\*\*)?\s*[(\[{{]?\s*([{DASHES}+]?)\s*(\d+)"
)
_E_NOTATION = re.compile(rf"(\d+(?:[{_POINTS}]\d+)?)[eE]([{DASHES}+]?)(\d+)")
_TEN_TO = re.compile(rf"(?<![\d{_POINTS}])10\s*(?:\^|\*\*)?\s*([{DASHES}])\s*(\d+)")
_SIGN_BEFORE = re.compile(rf"[{DASHES}]\s?$")


@dataclass(frozen=True)
class PrintedNumbers:
    """The numbers a quote prints: absolute values, and those printed after a minus or dash."""

    unsigned: frozenset[Decimal]
    after_dash: frozenset[Decimal]

    def has(self, number: int | float) -> bool:
        """Whether ``number`` is printed (a negative one after a minus sign or a dash)."""
        wanted = as_decimal(number)
        if wanted is None:
            return False
        if wanted < 0:
            return -wanted in self.after_dash
        return wanted in self.unsigned


def as_decimal(number: int | float) -> Decimal | None:
    """Return the decimal a number stands for (1.38 -> Decimal('1.38')), None if not finite.

    Examples
    --------
    >>> as_decimal(1.38), as_decimal(3138), as_decimal(2.1e-05)
    (Decimal('1.38'), Decimal('3138'), Decimal('0.000021'))
    """
    if isinstance(number, bool):
        return None
    if isinstance(number, float):
        if not math.isfinite(number):
            return None
        return Decimal(repr(number)).normalize()
    return Decimal(number)


def _decimal(integer: str, fraction: str | None = None) -> Decimal | None:
    text = re.sub(r"\D", "", integer) or "0"
    if fraction:
        text += "." + fraction
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the patterns give digits only
        return None


def printed_numbers(quote: str) -> PrintedNumbers:
    """Read every number a quote prints, in every form the module docstring lists.

    Examples
    --------
    >>> found = printed_numbers("HR 1·38 (95% CI 1.21–1.57); n = 3,138; β = −0.03, P=.004")
    >>> [found.has(x) for x in (1.38, 1.21, 1.57, 3138, -0.03, 0.004, 1.39, 0.03)]
    [True, True, True, True, True, True, False, True]
    >>> found.has(-1.38)
    False
    """
    unsigned: set[Decimal] = set()
    after_dash: set[Decimal] = set()

    def add(value: Decimal | None, start: int) -> None:
        if value is None:
            return
        unsigned.add(value)
        if _SIGN_BEFORE.search(quote, max(0, start - 2), start):
            after_dash.add(value)

    for match in _PLAIN.finditer(quote):
        if match.group(1) is not None:
            add(_decimal(*_split_point(match.group(1))), match.start())
        else:
            add(_decimal("0", match.group(2)), match.start())
    for match in _GROUPED.finditer(quote):
        add(_decimal(match.group(1), match.group(2)), match.start())
    for match in _DECIMAL_COMMA.finditer(quote):
        add(_decimal(match.group(1), match.group(2)), match.start())
    for pattern in (_TIMES_TEN, _E_NOTATION):
        for match in pattern.finditer(quote):
            mantissa = _decimal(*_split_point(match.group(1)))
            exponent = int(match.group(3)) * (-1 if match.group(2) in DASHES else 1)
            if mantissa is not None and abs(exponent) < 400:
                add(mantissa.scaleb(exponent).normalize(), match.start())
    for match in _TEN_TO.finditer(quote):
        if int(match.group(2)) < 400:
            add(Decimal(1).scaleb(-int(match.group(2))), match.start())
    return PrintedNumbers(
        frozenset(v.normalize() for v in unsigned), frozenset(v.normalize() for v in after_dash)
    )


def _split_point(text: str) -> tuple[str, str | None]:
    parts = re.split(f"[{_POINTS}]", text, maxsplit=1)
    return parts[0], (parts[1] if len(parts) > 1 else None)


#: Fields of a statistic whose numbers must be printed in the quote, in report order.
_SCALARS = ("value", "se", "se_log", "p", "n", "t", "f", "n1", "n2")
_PAIRS = ("ci", "range")
_TABLE = ("exposed_events", "exposed_total", "unexposed_events", "unexposed_total")
_GROUPS = (
    "exposed_mean",
    "exposed_sd",
    "exposed_n",
    "unexposed_mean",
    "unexposed_sd",
    "unexposed_n",
)


def statistic_numbers(statistic: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Yield ``(path within the statistic, number)`` for every number a quote must print.

    Examples
    --------
    >>> list(statistic_numbers({"measure": "HR", "value": 1.26, "ci": [1.08, 1.48]}))
    [(('value',), 1.26), (('ci', 0), 1.08), (('ci', 1), 1.48)]
    """
    for name in _SCALARS[:1]:
        if _is_number(statistic.get(name)):
            yield (name,), statistic[name]
    for name in _PAIRS:
        pair = statistic.get(name)
        if isinstance(pair, list):
            for index, item in enumerate(pair[:2]):
                if _is_number(item):
                    yield (name, index), item
    for name in _SCALARS[1:]:
        if _is_number(statistic.get(name)):
            yield (name,), statistic[name]
    for block, names in (("table", _TABLE), ("groups", _GROUPS)):
        values = statistic.get(block)
        if isinstance(values, dict):
            for name in names:
                if _is_number(values.get(name)):
                    yield (block, name), values[name]


def field_name(path: tuple[str | int, ...]) -> str:
    """Name a statistic's field as ``source.computed`` does: ``ci[0]``, ``table.exposed_total``.

    Examples
    --------
    >>> field_name(("ci", 1)), field_name(("groups", "exposed_sd")), field_name(("value",))
    ('ci[1]', 'groups.exposed_sd', 'value')
    """
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def computed_fields(source: dict[str, Any]) -> dict[str, int]:
    """Fields ``source.computed`` declares as computed, with the index of each entry.

    ``ci`` stands for both bounds (``ci[0]`` and ``ci[1]``), likewise ``range``; ``table``
    and ``groups`` for every number in them.
    """
    found: dict[str, int] = {}
    computed = source.get("computed")
    if not isinstance(computed, list):
        return found
    for index, entry in enumerate(computed):
        if isinstance(entry, dict) and isinstance(entry.get("field"), str):
            found.setdefault(entry["field"], index)
    return found


def covered_by(name: str, declared: dict[str, int]) -> int | None:
    """Index of the ``source.computed`` entry that covers field ``name``, if any."""
    for candidate in (name, name.split("[", 1)[0], name.split(".", 1)[0]):
        if candidate in declared:
            return declared[candidate]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def missing_numbers(
    statistic: dict[str, Any], quote: str
) -> list[tuple[tuple[str | int, ...], int | float]]:
    """List the numbers of ``statistic`` that ``quote`` does not print, with their paths.

    Examples
    --------
    >>> statistic = {"measure": "HR", "value": 1.39, "ci": [1.21, 1.57]}
    >>> missing_numbers(statistic, "HR 1.38 (95% CI 1.21-1.57)")
    [(('value',), 1.39)]
    """
    printed = printed_numbers(quote)
    return [
        (path, number) for path, number in statistic_numbers(statistic) if not printed.has(number)
    ]
