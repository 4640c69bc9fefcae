"""Run the Jupyter Book (Sphinx) build of ``book/`` into the site directory, offline.

Jupyter Book 1.x turns ``book/_config.yml`` into a Sphinx configuration; Sphinx then runs
with warnings as errors, so a broken cross-reference, a missing citation or a malformed
generated page stops the build instead of shipping a broken site.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
import warnings as python_warnings
from pathlib import Path

from evidence.errors import EvidenceError, Problem
from evidence.report.book.searchindex import escape_search_titles

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def build_html(
    book_dir: Path,
    out_dir: Path,
    doctree_dir: Path | None = None,
    *,
    quiet: bool = True,
    fresh: bool = True,
    working_copy: bool = False,
) -> None:
    """Build ``book_dir`` into ``out_dir`` (HTML) with Sphinx warnings as errors.

    The table of contents is ``book_dir/_generated/_toc.yml`` (written by
    :func:`evidence.report.book.pages.generate_pages`). Every build starts from a fresh Sphinx
    environment; the caller empties ``out_dir`` first (see
    :func:`evidence.records.safefs.claim_output_dir`): incremental builds kept stale citation
    caches and pages of removed studies. The doctrees go to ``doctree_dir`` or, by default,
    to a temporary directory removed afterwards (nothing beside the site is deleted or
    left behind). Raises :class:`EvidenceError` carrying the Sphinx warnings when the
    build fails.

    With ``fresh=False`` (and a ``doctree_dir`` kept from an earlier build into the same
    ``out_dir``) Sphinx reads and writes again only the pages whose source changed
    (:mod:`evidence.report.book.incremental` decides when that is safe). A
    ``working_copy`` is left as Sphinx wrote it (its ``.buildinfo`` tells the next build
    what changed); the caller makes the search index safe in the copy it publishes.
    """
    if doctree_dir is None:
        with tempfile.TemporaryDirectory(prefix="evidence-doctrees-") as scratch:
            build_html(book_dir, out_dir, Path(scratch), quiet=quiet, fresh=True)
        return
    try:
        from jupyter_book.sphinx import build_sphinx
    except ModuleNotFoundError:  # the `site` extra is not installed
        raise EvidenceError(
            [
                Problem(
                    str(book_dir),
                    0,
                    0,
                    "the site toolchain (Jupyter Book) "
                    "is not installed: pip install 'evidence[site]' (make "
                    "setup installs it)",
                    "book-toolchain-missing",
                )
            ]
        ) from None

    book_dir, out_dir = Path(book_dir), Path(out_dir)
    warnings = io.StringIO()
    status = io.StringIO()
    with (
        contextlib.redirect_stderr(warnings),
        contextlib.redirect_stdout(status),
        python_warnings.catch_warnings(),
    ):
        # Deprecation notices between the installed Sphinx extensions (e.g. docutils'
        # Node.traverse) are about library code, not the site: they must not fail a build
        # (under pytest, where warnings are errors, they would).
        python_warnings.simplefilter("ignore", DeprecationWarning)
        python_warnings.simplefilter("ignore", PendingDeprecationWarning)
        outcome = build_sphinx(
            str(book_dir),
            str(out_dir),
            path_config=str(book_dir / "_config.yml"),
            confoverrides={
                "external_toc_path": "_generated/_toc.yml",
                "latex_individualpages": False,
            },
            doctreedir=str(doctree_dir),
            noconfig=True,
            warningiserror=True,
            quiet=quiet,
            keep_going=True,
            freshenv=fresh,
        )
    if outcome != 0:
        text = _ANSI.sub("", warnings.getvalue())
        lines = [line for line in text.splitlines() if line.strip()]
        problems = [Problem(str(book_dir), 0, 0, line, "book-build") for line in lines[-40:]]
        if not problems:
            problems = [
                Problem(str(book_dir), 0, 0, f"Sphinx build failed: {outcome}", "book-build")
            ]
        raise EvidenceError(problems)
    if working_copy:  # Sphinx reads it again next time; the caller publishes a copy
        return
    escape_search_titles(out_dir)
    for leftover in (".buildinfo",):
        path = out_dir / leftover
        if path.exists():
            path.unlink()
