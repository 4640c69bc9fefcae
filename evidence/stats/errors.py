"""The one error type of the numeric core: :class:`InputError`, a ``ValueError`` with a rule.

The statistics know nothing about files. When their input cannot be used they raise
:class:`InputError`, which carries the rule id (``pool-variance``, ``mods-collinear``,
...) and the message in words, and, when the problem is about one row of the input, its
1-based row number. The layers that know where the numbers came from (records, analyses,
commands) turn each issue into ``file:line:col: message [rule-id]``.

Examples
--------
>>> error = InputError("unknown test 'q'; expected z or knha", "pool-test")
>>> error.rule, str(error)
('pool-test', "unknown test 'q'; expected z or knha")
>>> both = InputError.collect([Issue("row 1: yi is missing", "pool-missing", row=1),
...                            Issue("row 3: vi is missing", "pool-missing", row=3)])
>>> [issue.row for issue in both.issues], both.rule
([1, 3], 'pool-missing')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Rule id of an issue that names no rule of its own.
DEFAULT_RULE = "invalid-input"


@dataclass(frozen=True)
class Issue:
    """One thing wrong with the input: message, rule id and (0 = none) the 1-based row."""

    message: str
    rule: str = DEFAULT_RULE
    row: int = 0


class InputError(ValueError):
    """Input the numeric core cannot use; ``.rule``, ``.message``, ``.row`` and ``.issues``.

    ``issues`` holds every issue found (checks collect them all before raising); ``rule``,
    ``message`` and ``row`` are those of the first. ``str()`` gives the messages, joined
    by ``"; "``, without rule ids or positions.
    """

    def __init__(self, message: str, rule: str = DEFAULT_RULE, *, row: int = 0) -> None:
        self.issues: tuple[Issue, ...] = (Issue(message, rule, row),)
        self.message, self.rule, self.row = message, rule, row
        super().__init__(message)

    @classmethod
    def collect(cls, issues: Sequence[Issue]) -> InputError:
        """One error carrying several issues (at least one), the first as its own."""
        first = issues[0]
        error = cls(first.message, first.rule, row=first.row)
        error.issues = tuple(issues)
        error.args = ("; ".join(issue.message for issue in issues),)
        return error
