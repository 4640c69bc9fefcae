"""Build the site incrementally beside the published one, and swap it in only when complete.

``evidence book`` used to delete the site and rebuild every page into it: a build killed
half-way left no ``index.html`` until the next one, and a build with nothing to do took as
long as a first one. Here, for the site directory ``SITE`` (``build/site``):

- ``.SITE.work/`` (beside it) keeps Sphinx's working copy: the HTML and the doctrees of the
  last successful build, and ``state.json`` (what it was built from, and the sha256 of
  every published file). Sphinx reads and writes again only the pages whose source
  changed. The working copy starts afresh when the structure changed (the table of
  contents, the bibliography, ``_config.yml``, templates and static files, the package
  code, the site toolchain's versions, or any page's headings and link targets, which
  other pages show in their navigation and links) and after any build that did not
  finish, so warnings of unchanged pages are never lost;
- ``.SITE.new/`` receives a copy of the HTML; the search index is made safe and the link
  check runs there (pages unchanged since the last check are not parsed again, see
  :class:`~evidence.report.book.sitecheck.PageCache`); then the published site is moved to
  ``.SITE.old/``, the new one renamed into its place and the old one deleted. Readers see
  the old site or the new one, never half of one;
- with nothing changed (same sources, same structure, and every published file still has
  its recorded sha256) nothing is built, copied or checked.

Each of these directories holds the ``.evidence-site`` marker; one that exists without
it is never deleted (the build stops with a problem instead).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError
from evidence.records.safefs import atomic_write, claim_output_dir, output_dir_problem

#: Marker file of every directory the site build owns (the site and its siblings below).
SITE_MARKER = ".evidence-site"
#: Suffixes of the sibling directories (``.site.work`` beside ``site``).
WORK, NEW, OLD = ".work", ".new", ".old"
#: Files of the book source whose change makes the next build start from a fresh Sphinx
#: environment (relative to the book directory); besides these, every file under
#: ``_templates/`` and ``_static/``.
STRUCTURE_FILES = ("_config.yml", "_generated/_toc.yml", "_generated/references.bib")
#: Packages whose version is part of the structure (a new Sphinx or theme rebuilds all).
TOOLCHAIN = (
    "sphinx",
    "jupyter-book",
    "myst-parser",
    "myst-nb",
    "sphinxcontrib-bibtex",
    "pydata-sphinx-theme",
    "sphinx-book-theme",
)
#: Files of a Sphinx working copy that are not published.
UNPUBLISHED = frozenset({".buildinfo", SITE_MARKER})

SITE_NOTE = (
    "This directory is the site `evidence book` built. The next build replaces it:\n"
    "keep nothing else here.\n"
)
WORK_NOTE = (
    "This directory is the working copy of `evidence book` (Sphinx's HTML and doctrees of\n"
    "the last build): it is deleted and rebuilt when needed. Keep nothing else here.\n"
)


def sibling(site: Path, suffix: str) -> Path:
    """``.SITE<suffix>`` beside the site directory ``SITE``."""
    return site.parent / f".{site.name}{suffix}"


def _files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _digest(paths: Iterable[tuple[str, Path]], extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode("utf-8"))
    for name, path in paths:
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def toolchain() -> str:
    """Return the site toolchain's package versions as one string (part of a build key)."""
    versions = []
    for name in TOOLCHAIN:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return ";".join(versions)


#: A MyST target line, ``(label)=``: other pages link to it by name.
_LABEL = re.compile(r"^\([^)\s]+\)=\s*$")


def source_digests(book_dir: Path, code: str) -> tuple[str, str]:
    """Return ``(structure, sources)`` digests of the book source directory.

    ``sources`` covers every file under ``book_dir`` (but ``_build``); ``structure`` the
    :data:`STRUCTURE_FILES`, templates and static files, ``code`` (a fingerprint of the
    package), the site toolchain's versions and the outline of every page (its heading
    and target lines: what other pages show of it, in navigation and link texts). While
    the structure stays the same, a page's change shows on that page only, so Sphinx
    reads and writes just the pages whose source changed.
    """
    book_dir = Path(book_dir)
    every = [
        (path.relative_to(book_dir).as_posix(), path)
        for path in _files(book_dir)
        if path.relative_to(book_dir).parts[0] != "_build"
    ]
    structural = [
        (name, path)
        for name, path in every
        if name in STRUCTURE_FILES or name.split("/")[0] in ("_templates", "_static")
    ]
    outline = "\n".join(
        f"{name}: {line}"
        for name, path in every
        if path.suffix == ".md"
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.startswith("#") or _LABEL.match(line)
    )
    return _digest(structural, f"{code}\n{toolchain()}\n{outline}"), _digest(every)


def manifest(site: Path) -> dict[str, str]:
    """sha256 of every published file of ``site`` (relative path -> hex digest)."""
    return {
        path.relative_to(site).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in _files(site)
        if path.relative_to(site).as_posix() not in UNPUBLISHED
    }


def _read_state(work: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((work / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _refuse_foreign(*directories: Path) -> None:
    """Stop when a sibling directory exists that this build did not create."""
    problems = [
        problem
        for directory in directories
        if (problem := output_dir_problem(directory, SITE_MARKER, "evidence book", replace=True))
        is not None
    ]
    if problems:
        raise EvidenceError(problems)


def _remove(directory: Path) -> None:
    """Delete a directory this build owns (checked by :func:`_refuse_foreign` first)."""
    if directory.is_dir() and not directory.is_symlink():
        shutil.rmtree(directory)


def up_to_date(site: Path, book_dir: Path, code: str) -> bool:
    """Whether the published ``site`` is the build of the current sources, intact."""
    state = _read_state(sibling(site, WORK))
    if state is None or not (site / SITE_MARKER).is_file():
        return False
    structure, sources = source_digests(book_dir, code)
    if state.get("structure") != structure or state.get("sources") != sources:
        return False
    return state.get("site") == manifest(site)


def build_site(
    book_dir: Path,
    site: Path,
    code: str,
    build_html: Callable[..., None],
    publish: Callable[[Path, Path], None],
) -> str:
    """Build ``book_dir`` into ``site`` as the module docstring says; return what was done.

    Parameters
    ----------
    book_dir, site : pathlib.Path
        The Jupyter Book source (pages already generated) and the published directory.
    code : str
        Fingerprint of the package code (a change rebuilds from a fresh environment).
    build_html : callable
        :func:`evidence.report.book.build.build_html`.
    publish : callable
        ``publish(new_site, cache_file)``: make the copy safe and check it (the search
        index, the link check with its page cache); raises EvidenceError to stop.

    Returns
    -------
    str
        ``"unchanged"``, ``"incremental"`` or ``"full"``.
    """
    site, book_dir = Path(site), Path(book_dir)
    work, new, old = sibling(site, WORK), sibling(site, NEW), sibling(site, OLD)
    _refuse_foreign(work, new, old)
    if up_to_date(site, book_dir, code):
        return "unchanged"
    structure, sources = source_digests(book_dir, code)
    state = _read_state(work)
    fresh = state is None or state.get("structure") != structure
    if fresh:
        _remove(work)
    claim_output_dir(work, SITE_MARKER, WORK_NOTE)
    (work / "state.json").unlink(missing_ok=True)  # a build that does not finish: fresh next
    try:
        build_html(book_dir, work / "html", work / "doctrees", fresh=fresh, working_copy=True)
    except BaseException:
        _remove(work)
        raise
    _remove(new)
    shutil.copytree(work / "html", new, ignore=lambda _dir, names: UNPUBLISHED & set(names))
    claim_output_dir(new, SITE_MARKER, SITE_NOTE)
    try:
        publish(new, work / "pages.json")
    except BaseException:
        _remove(new)
        raise
    published = manifest(new)
    _swap(new, site, old)
    atomic_write(
        work / "state.json",
        json.dumps({"structure": structure, "sources": sources, "site": published}, indent=1),
    )
    return "full" if fresh else "incremental"


def _swap(new: Path, site: Path, old: Path) -> None:
    """Put ``new`` in the place of ``site`` (two renames; the old site is then deleted)."""
    _remove(old)
    if site.is_dir() and not site.is_symlink():
        os.rename(site, old)
    os.rename(new, site)
    _remove(old)
