"""The review's search record, ``studies/screening.yaml``: sources, dates, records.

Which sources were screened, when, what was read from each and which study records came
from it.

It feeds the PRISMA 2020 flow diagram and the table of sources on the PRISMA page (Page et
al. 2021, BMJ 372:n71, items 6-7 and 16a: every source, the date it was searched and the
number of records from each). The file looks like::

    sources:
      - name: Holt-Lunstad, Smith and Layton (2010), Table 1
        kind: other              # database | register | other (PRISMA's "other methods")
        citation: holtlunstad2010  # optional: a key of references.bib
        searched: 2026-11-25     # the date it was screened (YYYY-MM-DD)
        what: rows 1 to 21 of the 148 studies in Table 1
        identified: 148          # records this source lists (optional)
        screened: 21             # of those, read so far (optional)
        excluded: 0              # excluded at screening, with no record made (optional)
        records: [ahern1990, alter2006]   # the study records (file stems) it gave
    excluded_at_eligibility: {wrong design: 2}   # optional: reason -> count

How many records came from each source is counted from ``records``, so it cannot drift
from the study files. The file is read with the project's safe YAML loader; every problem
(an unknown field, a count that is not a whole number, a date that is not a date) is
reported at its line, and the rest of the file is still used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.errors import Problem
from evidence.records.safefs import input_problem

#: Kinds of source, as PRISMA 2020 sorts them.
KINDS = {
    "database": "bibliographic database",
    "register": "trial or study register",
    "other": "other methods (review tables, citation searching, websites, compiled tables)",
}
#: Whole-number fields of a source, in flow order.
COUNTS = ("identified", "screened", "excluded")
_TEXT = ("name", "kind", "citation", "searched", "what", "url")
_FIELDS = (*_TEXT, *COUNTS, "records")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_RULE = "book-screening"


@dataclass(frozen=True)
class Source:
    """One source screened for the review and what came of it."""

    name: str
    kind: str
    searched: str
    what: str = ""
    citation: str | None = None
    url: str | None = None
    identified: int | None = None
    screened: int | None = None
    excluded: int | None = None
    records: tuple[str, ...] = ()
    line: int = 0

    @property
    def not_yet_screened(self) -> int | None:
        """Records the source lists that nobody has read yet, when both counts are known."""
        if self.identified is None or self.screened is None:
            return None
        return max(self.identified - self.screened, 0)


@dataclass(frozen=True)
class Screening:
    """The whole search record: its sources and the reasons for exclusion at eligibility."""

    sources: tuple[Source, ...]
    excluded_at_eligibility: tuple[tuple[str, int], ...] = ()
    path: str | None = None

    def of_kind(self, kind: str) -> list[Source]:
        """Return the sources of one PRISMA kind (``database``, ``register``, ``other``)."""
        return [source for source in self.sources if source.kind == kind]

    def total(self, count: str, sources: Sequence[Source] | None = None) -> int | None:
        """Sum one count over ``sources`` (default: all); None when any source lacks it."""
        chosen = self.sources if sources is None else sources
        values = [getattr(source, count) for source in chosen]
        if not values or any(value is None for value in values):
            return None
        return sum(values)

    def record_sources(self) -> dict[str, list[str]]:
        """Return, for every record id listed, the names of the sources that list it."""
        found: dict[str, list[str]] = {}
        for source in self.sources:
            for record in source.records:
                found.setdefault(record, []).append(source.name)
        return found


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Reader:
    """Build sources from the loaded YAML, collecting problems at their lines."""

    def __init__(self, loaded: Any):
        self.loaded = loaded
        self.problems: list[Problem] = list(loaded.problems)

    def problem(self, keys: tuple[Any, ...], message: str) -> None:
        line, column = self.loaded.positions.of(keys) or (0, 0)
        self.problems.append(Problem(self.loaded.path, line, column, message, _RULE))

    def source(self, index: int, data: Any) -> Source | None:
        keys: tuple[Any, ...] = ("sources", index)
        if not isinstance(data, dict):
            self.problem(keys, "each source is a mapping with name, kind, searched and records")
            return None
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in _FIELDS:
                self.problem(
                    (*keys, key),
                    f"unknown field {key!r} of a source; expected one of {', '.join(_FIELDS)}",
                )
            elif key in COUNTS and not _is_count(value):
                self.problem((*keys, key), f"{key} must be a non-negative whole number")
            elif key == "records":
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    values[key] = tuple(value)
                else:
                    self.problem((*keys, key), "records is a list of study ids (file stems)")
            elif key in COUNTS:
                values[key] = value
            elif not isinstance(value, str) or not value.strip():
                self.problem((*keys, key), f"{key} must be text")
            else:
                values[key] = value.strip()
        return self._checked(keys, values)

    def _checked(self, keys: tuple[Any, ...], values: dict[str, Any]) -> Source | None:
        missing = [key for key in ("name", "kind", "searched") if key not in values]
        if missing:
            self.problem(keys, f"a source needs {', '.join(missing)}")
            return None
        if values["kind"] not in KINDS:
            self.problem((*keys, "kind"), f"kind is one of {', '.join(KINDS)}")
            return None
        if not _DATE.match(values["searched"]):
            self.problem((*keys, "searched"), "searched is a date written YYYY-MM-DD")
            return None
        screened, identified = values.get("screened"), values.get("identified")
        if screened is not None and identified is not None and screened > identified:
            self.problem((*keys, "screened"), "screened is more than identified")
        excluded = values.get("excluded")
        if excluded is not None and screened is not None and excluded > screened:
            self.problem((*keys, "excluded"), "excluded is more than screened")
        line = (self.loaded.positions.of(keys) or (0, 0))[0]
        return Source(**values, line=line)


def load_screening(path: Path) -> tuple[Screening | None, list[Problem]]:
    """Read the search record (no file: ``None``, and the PRISMA page says so).

    A file that is not a regular file inside its directory is a problem and is not read.
    """
    from evidence.records.yamlio import load_yaml

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return None, []
    unsafe = input_problem(path, path.parent)
    if unsafe is not None:  # a link out of studies/, a FIFO, ...: never read
        return None, [unsafe]
    loaded = load_yaml(path)
    reader = _Reader(loaded)
    if not isinstance(loaded.data, dict):
        if loaded.data is not None and not reader.problems:
            reader.problem((), "the search record is a mapping with a list of sources")
        return None, reader.problems
    sources: list[Source] = []
    reasons: list[tuple[str, int]] = []
    for key, value in loaded.data.items():
        if key == "sources" and isinstance(value, list):
            sources += [s for i, item in enumerate(value) if (s := reader.source(i, item))]
        elif key == "excluded_at_eligibility" and isinstance(value, dict):
            for reason, count in value.items():
                if _is_count(count):
                    reasons.append((str(reason), int(count)))
                else:
                    reader.problem((key, reason), f"{reason!r} needs a non-negative whole number")
        else:
            reader.problem(
                (key,),
                f"unknown field {key!r}; the search record has sources (a list) and "
                "excluded_at_eligibility (reason: count)",
            )
    return Screening(tuple(sources), tuple(reasons), loaded.path), reader.problems


def coverage_problems(screening: Screening, study_ids: Sequence[str]) -> list[Problem]:
    """Warn about records no source lists, listed twice, or listed but not in studies/."""
    problems = []
    listed = screening.record_sources()
    known = set(study_ids)
    path = screening.path or "studies/screening.yaml"
    for study_id in sorted(known - set(listed)):
        problems.append(
            Problem(
                path,
                0,
                0,
                f"record {study_id} is in no source: add it to the records of the source "
                "it came from",
                _RULE,
                "warning",
            )
        )
    for study_id, names in sorted(listed.items()):
        if study_id not in known:
            problems.append(
                Problem(path, 0, 0, f"{study_id} is listed but has no record", _RULE, "warning")
            )
        elif len(names) > 1:
            problems.append(
                Problem(
                    path,
                    0,
                    0,
                    f"record {study_id} is listed by {len(names)} sources ({'; '.join(names)})",
                    _RULE,
                    "warning",
                )
            )
    return problems
