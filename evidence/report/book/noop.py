"""``evidence book`` with nothing changed: answered from a stamp, before any page is made.

Knowing that nothing changed used to cost a full read of the records and a regeneration
of every page (about a second) before :func:`~evidence.report.book.incremental.up_to_date`
could say so. After each complete build, ``.SITE.work/noop.json`` (beside the site, in
the working copy the build owns) keeps

- ``key``: sha256 over the package code and data tables, the site toolchain's versions,
  the working directory, the four directories as given and resolved, the name and bytes
  of every file in the studies, results, figures and history directories and in the
  book source (but the
  pages it generates and Sphinx's ``_build``), ``CONTRIBUTING.md``, and the change dates
  the pages print (from git, as :func:`~evidence.report.book.dates.change_dates` reads
  them, which name today for a file not yet committed);
- ``site``: the size and modification time of every file of the published site;
- ``warnings`` and the counts the build printed.

When the key and the site are as recorded, the command prints the warnings and "is up to
date" and does nothing else. In any other case (including a link or special file among
the inputs) the usual build runs, which finds what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evidence.analyses.runstamp import code_key, directory_key, file_digest
from evidence.report.book.dates import change_dates
from evidence.report.book.incremental import WORK, sibling, toolchain

#: Stamp file in the site's working copy (``.SITE.work``).
STAMP_NAME = "noop.json"
#: Folders of the book source that the build writes (left out of the key).
GENERATED = ("_generated", "_build")


def book_key(results_dir: Path, studies_dir: Path, site: Path, book_dir: Path) -> str | None:
    """sha256 of everything a build reads; ``None`` when it cannot be computed safely."""
    build = Path(results_dir).parent
    root = Path(studies_dir).resolve().parent
    directories = [
        directory_key(Path(results_dir)),
        directory_key(build / "figures"),
        directory_key(build / "history"),
        directory_key(Path(studies_dir)),
        directory_key(Path(book_dir), GENERATED),
    ]
    if any(entry is None for entry in directories):
        return None
    contributing = root / "CONTRIBUTING.md"
    if contributing.is_symlink():
        return None
    dates = change_dates(root)
    described = {
        "code": code_key(),
        "toolchain": toolchain(),
        "site": [os.fspath(site), str(Path(site).resolve())],
        "cwd": os.getcwd(),  # warnings name files relative to it
        "directories": directories,
        "contributing": file_digest(os.fspath(contributing)),
        "dates": [sorted(dates.dates.items()), sorted(dates.uncommitted)],
    }
    text = json.dumps(described, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def site_listing(site: Path) -> dict[str, list[int]] | None:
    """``{relative path: [size, mtime_ns]}`` of every file of the site (``None``: no site)."""
    if not Path(site).is_dir() or Path(site).is_symlink():
        return None
    found = {}
    top = os.fspath(site)
    for current, _, files in os.walk(top):
        for name in files:
            path = os.path.join(current, name)
            with contextlib.suppress(OSError):
                info = os.lstat(path)
                found[os.path.relpath(path, top)] = [info.st_size, info.st_mtime_ns]
    return found


def record(
    site: Path, key: str | None, warnings: Sequence[str], analyses: int, studies: int
) -> None:
    """Keep what a complete build was made from (nothing when ``key`` is ``None``)."""
    path = sibling(Path(site), WORK) / STAMP_NAME
    with contextlib.suppress(OSError):  # the stamp only saves time
        if key is None or not path.parent.is_dir():
            path.unlink(missing_ok=True)
            return
        stamp = {
            "key": key,
            "site": site_listing(Path(site)),
            "warnings": list(warnings),
            "analyses": analyses,
            "studies": studies,
        }
        scratch = path.with_name(f"{STAMP_NAME}.{os.getpid()}.tmp")
        scratch.write_text(json.dumps(stamp, sort_keys=True) + "\n", "utf-8")
        scratch.replace(path)


def unchanged(site: Path, key: str | None) -> dict[str, Any] | None:
    """Return the stamp when the site is the build of these inputs, untouched; else ``None``."""
    if key is None:
        return None
    try:
        stamp = json.loads((sibling(Path(site), WORK) / STAMP_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("key") != key:
        return None
    if not isinstance(stamp.get("warnings"), list) or stamp.get("site") is None:
        return None
    if stamp["site"] != site_listing(Path(site)):
        return None
    return stamp
