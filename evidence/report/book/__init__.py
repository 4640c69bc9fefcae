"""The evidence site: generated MyST pages from ``build/results/`` and the study records.

The book reads results files and never re-fits (no pooling, no matplotlib here). Public
entry points:

- :func:`build_book` generates every page into ``book/_generated/`` and builds the site
  with Jupyter Book (Sphinx warnings are errors) into the output directory;
- :func:`generate_pages` writes the pages only (used by the tests);
- :func:`escape_markdown` is the one function every record text passes through.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence import code_fingerprint
from evidence.errors import EvidenceError, Problem, display_path, errors_in
from evidence.records.model import Study
from evidence.records.safefs import (
    exclusive_lock,
    input_problem,
    output_dir_problem,
    safe_resolve,
)
from evidence.report.book import sitecheck
from evidence.report.book.build import build_html
from evidence.report.book.incremental import SITE_MARKER, build_site
from evidence.report.book.inputs import load_bibliography, load_results
from evidence.report.book.search import load_screening
from evidence.report.book.searchindex import escape_search_titles
from evidence.report.book.sitecheck import PageCache, broken_links, external_assets, unsafe_links

if TYPE_CHECKING:
    from evidence.report.book.pages import SiteInputs


def __getattr__(name: str) -> Any:
    """Import the page generators on first use (a build with nothing changed never does)."""
    if name == "generate_pages":
        from evidence.report.book.pages import generate_pages

        return generate_pages
    if name == "escape_markdown":
        from evidence.report.book.escape import escape_markdown

        return escape_markdown
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BookSummary",
    "build_book",
    "check_site",
    "escape_markdown",
    "generate_pages",
    "read_inputs",
]


@dataclass(frozen=True)
class BookSummary:
    """What a build produced: counts of pages by kind and where the site is."""

    site: Path
    analyses: int
    studies: int
    warnings: tuple[Problem, ...]
    #: ``"unchanged"`` (nothing to do), ``"incremental"`` or ``"full"``.
    build: str = "full"


def check_site(site: Path, cache: Path | None = None) -> None:
    """Raise EvidenceError for broken internal links, external assets or unsafe links.

    With ``cache`` (a file kept between builds) pages whose bytes did not change since the
    last check are not parsed again; every link is still resolved against the whole site.
    """
    parse = PageCache(cache) if cache is not None else sitecheck._parse
    found = [(ref, "broken internal link", "book-broken-link") for ref in broken_links(site, parse)]
    found += [
        (ref, "asset loaded from another host (the site must work offline)", "book-external-asset")
        for ref in external_assets(site, parse)
    ]
    found += [
        (ref, "link with an unsafe scheme", "book-unsafe-link") for ref in unsafe_links(site, parse)
    ]
    if isinstance(parse, PageCache) and not found:
        parse.save()
    if found:
        raise EvidenceError(
            [
                Problem(
                    str(ref.page),
                    0,
                    0,
                    f"{message}: <{ref.tag} {ref.attribute}={ref.value!r}>",
                    rule,
                )
                for ref, message, rule in found
            ]
        )


def read_inputs(
    results_dir: Path, studies_dir: Path, studies: list[Study] | None = None
) -> tuple[SiteInputs, list[Problem]]:
    """Read results, records, bibliography and screening counts into :class:`SiteInputs`.

    When ``studies`` is None the records are loaded (and validated) from ``studies_dir``
    with :func:`evidence.records.validate.load_studies`.
    """
    problems: list[Problem] = []
    if studies is None:
        from evidence.records.validate import load_studies

        studies, found = load_studies(studies_dir)
        problems += found
    analyses, found = load_results(Path(results_dir))
    problems += found
    bibliography, found = load_bibliography(Path(studies_dir))
    problems += found
    screening, found = load_screening(Path(studies_dir) / "screening.yaml")
    problems += found
    contributing = safe_resolve(studies_dir).parent / "CONTRIBUTING.md"
    if contributing.exists() or contributing.is_symlink():
        unsafe = input_problem(contributing, contributing.parent)
        if unsafe is not None:  # published on the site: never through a link out
            problems.append(unsafe)
    from evidence.report.book.dates import change_dates
    from evidence.report.book.pages import SiteInputs

    inputs = SiteInputs(
        studies,
        bibliography,
        analyses,
        screening,
        Path(results_dir).parent,
        contributing,
        change_dates(safe_resolve(studies_dir).parent),
    )
    return inputs, list(dict.fromkeys(problems))


#: ``SITE_MARKER`` (``.evidence-site``, see :mod:`evidence.report.book.incremental`) is the
#: marker ``evidence book`` leaves in the site directory: only a directory holding it (or
#: an empty or new one) is ever replaced.
#: Lock file, beside the site directory, held while a build writes pages and the site.
BOOK_LOCK = ".evidence-book.lock"


def _check_out_dir(out_dir: Path, sources: list[Path]) -> None:
    """Refuse a site directory that ``evidence book`` did not create (nothing is written)."""
    problem = output_dir_problem(
        out_dir, SITE_MARKER, "evidence book", inputs=sources, replace=True
    )
    if problem is not None:
        raise EvidenceError([problem])


def build_book(
    results_dir: Path,
    studies_dir: Path,
    out_dir: Path,
    book_dir: Path = Path("book"),
    studies: list[Study] | None = None,
) -> BookSummary:
    """Generate the pages and build the site; raise EvidenceError on any input error.

    Parameters
    ----------
    results_dir : pathlib.Path
        ``build/results`` (figures are read from its parent's ``figures/``).
    studies_dir : pathlib.Path
        ``studies`` with the records, ``references.bib`` and optional ``screening.yaml``.
    out_dir : pathlib.Path
        Where the HTML site goes; ``out_dir/index.html`` is the landing page. It is deleted
        and rebuilt only when it is new, empty or holds the ``.evidence-site`` marker of an
        earlier build, and never when it is (or contains) the working directory, an input,
        a git repository or a directory of records; otherwise nothing is written and
        EvidenceError says why. A lock file ``.evidence-book.lock`` beside it keeps a
        second build from running at the same time.
    book_dir : pathlib.Path
        The Jupyter Book source (``_config.yml``, hand-written pages, ``_static``).
    studies : list of Study, optional
        Records already loaded (skips loading ``studies_dir``).
    """
    config = Path(book_dir) / "_config.yml"
    if not config.is_file():  # checked first: generating pages writes under book_dir
        raise EvidenceError(
            [
                Problem(
                    str(config),
                    0,
                    0,
                    "no Jupyter Book configuration: run from the project folder or pass --book DIR",
                    "book-config-missing",
                )
            ]
        )
    out_dir = Path(out_dir)
    sources = [
        Path(results_dir),
        Path(results_dir).parent / "figures",
        Path(studies_dir),
        Path(book_dir),
    ]
    _check_out_dir(out_dir, sources)
    inputs, problems = read_inputs(results_dir, studies_dir, studies)
    if errors_in(problems):
        raise EvidenceError(errors_in(problems))
    busy = (
        f"another evidence book is running with its site in {display_path(out_dir)} "
        "(it holds this lock file); wait for it to finish, then run again"
    )
    with exclusive_lock(out_dir.parent / BOOK_LOCK, busy):
        _check_out_dir(out_dir, sources)  # again: another build may have finished meanwhile
        from evidence.report.book.pages import generate_pages

        problems += generate_pages(inputs, Path(book_dir))
        done = build_site(Path(book_dir), out_dir, code_fingerprint(), build_html, _publish)
    for warning in problems:
        print(warning, file=sys.stderr)
    return BookSummary(out_dir, len(inputs.analyses), len(inputs.studies), tuple(problems), done)


def _publish(site: Path, cache: Path) -> None:
    """Make a freshly copied site safe to publish: search titles escaped, links checked."""
    escape_search_titles(site)
    check_site(site, cache)
