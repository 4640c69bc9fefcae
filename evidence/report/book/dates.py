"""When each page's inputs last changed, read from the git history of studies/ and analyses/.

A living review says how current it is. Each page is dated by the latest commit that changed
one of its inputs: an analysis page by its specification and the records it selects (the
``provenance.inputs`` of its results), a study page by its record, the landing and PRISMA
pages by every record, specification and the search record. One ``git log`` over the two
folders gives every date; a file changed in the working tree but not committed is dated
today and said so. Without git, or outside a repository, no page shows a date.
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: Folders whose history dates the pages (relative to the folder holding studies/).
TRACKED = ("studies", "analyses")
_MONTHS = (
    "January February March April May June July August September October November December"
).split()


@dataclass(frozen=True)
class ChangeDates:
    """The date (YYYY-MM-DD) each input file last changed, and which are not committed."""

    dates: Mapping[str, str] = field(default_factory=dict)
    uncommitted: frozenset[str] = frozenset()

    def latest(self, paths: Iterable[str]) -> tuple[str, bool] | None:
        """Return (latest date, whether any of ``paths`` is uncommitted), or None."""
        known = [(self.dates[p], p in self.uncommitted) for p in paths if p in self.dates]
        if not known:
            return None
        latest = max(date for date, _ in known)
        return latest, any(pending for _, pending in known)

    def everything(self) -> tuple[str, bool] | None:
        """Return the latest change to any record, specification or the search record."""
        return self.latest(name for name in self.dates if name.endswith(".yaml"))


def _git(root: Path, *arguments: str) -> str | None:
    executable = shutil.which("git")
    if executable is None:
        return None
    try:
        completed = subprocess.run(
            [executable, "-C", str(root), *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout if completed.returncode == 0 else None


def change_dates(root: Path, today: datetime.date | None = None) -> ChangeDates:
    """Read when every file under ``root``'s studies/ and analyses/ last changed.

    Paths are relative to ``root`` (``studies/steptoe2013.yaml``). Committed files take
    the committer date of the newest commit that touched them (``git log``, newest
    first); files modified or added but not committed take ``today`` (UTC).
    """
    log = _git(root, "log", "--format=%x00%cs", "--name-only", "--relative", "--", *TRACKED)
    if log is None:
        return ChangeDates()
    dates: dict[str, str] = {}
    for entry in log.split("\x00")[1:]:
        lines = [line.strip() for line in entry.splitlines() if line.strip()]
        if not lines:
            continue
        date, files = lines[0], lines[1:]
        for name in files:
            dates.setdefault(name, date)
    pending: set[str] = set()
    for listing in (
        _git(root, "diff", "--name-only", "--relative", "HEAD", "--", *TRACKED),
        _git(root, "ls-files", "--others", "--exclude-standard", "--", *TRACKED),
    ):
        pending |= {line.strip() for line in (listing or "").splitlines() if line.strip()}
    stamp = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    for name in pending:
        dates[name] = stamp
    existing = {name: date for name, date in dates.items() if (root / name).is_file()}
    return ChangeDates(existing, frozenset(pending & set(existing)))


def date_words(date: str) -> str:
    """``2026-11-25`` -> ``25 November 2026``."""
    year, month, day = (int(part) for part in date.split("-"))
    return f"{day} {_MONTHS[month - 1]} {year}"


def updated_line(found: tuple[str, bool] | None, what: str) -> str:
    """Return the plain-text "Last updated" sentence of a page, or '' without a date.

    ``what`` names the inputs ("its analysis plan or study records").
    """
    if found is None:
        return ""
    date, pending = found
    note = " (including changes not yet committed)" if pending else ""
    return f"Last updated {date_words(date)}{note}: the latest change to {what}."
