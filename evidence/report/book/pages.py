"""Write every generated page of the site into ``book/_generated/``.

The pages are registered in one place, :data:`SITE_PAGES` (name, generator, sidebar part
and files); :func:`generate_pages` writes them in that order and builds the sidebar
(``_toc.yml``) from it.

Generated files are written only when their content changed (their timestamps then say
when they last moved); files left over from an earlier run are removed. Figures,
results files and the bibliography are copied next to the pages that use them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError, Problem
from evidence.records.model import Study
from evidence.records.safefs import atomic_write
from evidence.records.yamlio import display_path
from evidence.report.book.analysis import FigureFile, analysis_page, is_check
from evidence.report.book.bibfile import site_bibtex
from evidence.report.book.catalogue import catalogue_page, study_page
from evidence.report.book.context import SiteContext, build_context
from evidence.report.book.dates import ChangeDates, updated_line
from evidence.report.book.escape import slug
from evidence.report.book.inputs import AnalysisResults, Bibliography
from evidence.report.book.landing import landing_fragment
from evidence.report.book.prisma import prisma_page
from evidence.report.book.search import Screening, coverage_problems
from evidence.report.book.toc import toc_yaml

GENERATED = "_generated"
_SVG_TEXT = re.compile(r"<(title|desc)\b[^>]*>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class SiteInputs:
    """Everything a site is generated from."""

    studies: Sequence[Study]
    bibliography: Bibliography
    analyses: Sequence[AnalysisResults]
    screening: Screening | None
    build_dir: Path
    contributing: Path | None = None
    dates: ChangeDates = field(default_factory=ChangeDates)


class _Writer:
    """Write files under one directory only when their content changed; track them."""

    def __init__(self, root: Path):
        self.root = root
        self.written: set[Path] = set()

    def text(self, relative: str, content: str) -> None:
        path = self.root / relative
        data = content.encode("utf-8")
        if path.is_symlink() or not path.is_file() or path.read_bytes() != data:
            atomic_write(path, data)  # renamed into place: never half a page, never via a link
        self.written.add(path)

    def copy(self, source: Path, relative: str) -> None:
        path = self.root / relative
        data = source.read_bytes()
        if path.is_symlink() or not path.is_file() or path.read_bytes() != data:
            atomic_write(path, data)
        self.written.add(path)

    def remove_stale(self) -> None:
        for path in sorted(self.root.rglob("*"), reverse=True):
            if path.is_file() and path not in self.written:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def svg_text(path: Path) -> tuple[str, str]:
    """Return the ``<title>`` and ``<desc>`` text of an SVG (read with a regex, unescaped)."""
    head = path.read_text(encoding="utf-8", errors="replace")[:200_000]
    found = {match.group(1): unescape(match.group(2)) for match in _SVG_TEXT.finditer(head)}
    return found.get("title", ""), found.get("desc", "")


def _inside(base: Path, relative: object) -> Path | None:
    """Resolve ``relative`` under ``base``; None when it escapes ``base`` or is not an SVG."""
    if not isinstance(relative, str) or not relative.endswith(".svg"):
        return None
    path = (base / relative).resolve()
    if base.resolve() not in path.parents or not path.is_file():
        return None
    return path


def _figures(
    analysis: AnalysisResults, build_dir: Path, writer: _Writer, problems: list[Problem]
) -> dict[str, FigureFile]:
    figures = analysis.result.get("figures")
    copied: dict[str, FigureFile] = {}
    for name, relative in figures.items() if isinstance(figures, dict) else ():
        source = _inside(build_dir, relative)
        if source is None:
            problems.append(
                Problem(
                    str(analysis.json_path),
                    0,
                    0,
                    f"figure {name!r} ({relative!r}) is not an SVG file under {build_dir}",
                    "book-missing-figure",
                    "warning",
                )
            )
            continue
        target = f"figures/{slug(source.stem)}.svg"
        writer.copy(source, target)
        title, description = svg_text(source)
        copied[str(name)] = FigureFile(f"../{target}", title, description)
    history = build_dir / "figures" / f"{analysis.id}-history.svg"
    if analysis.history is not None and _inside(build_dir, f"figures/{history.name}"):
        target = f"figures/{slug(history.stem)}.svg"
        writer.copy(history, target)
        title, description = svg_text(history)
        copied["history"] = FigureFile(f"../{target}", title, description)
    return copied


def _downloads(analysis: AnalysisResults, writer: _Writer) -> list[tuple[str, str]]:
    downloads = []
    if analysis.json_path is not None:
        writer.copy(analysis.json_path, f"results/{analysis.page}.json")
        downloads.append(("Results (JSON)", f"../results/{analysis.page}.json"))
    if analysis.csv_path is not None:
        writer.copy(analysis.csv_path, f"results/{analysis.page}-effects.csv")
        downloads.append(("Effects table (CSV)", f"../results/{analysis.page}-effects.csv"))
    table = _multiverse_csv(analysis, analysis.result.get("multiverse"))
    if table is not None:
        writer.copy(table, f"results/{analysis.page}-multiverse.csv")
        downloads.append(
            (
                "Multiverse, one row per specification (CSV)",
                f"../results/{analysis.page}-multiverse.csv",
            )
        )
    for block in analysis.result.get("by_family") or []:
        section = block.get("multiverse") if isinstance(block, dict) else None
        table = _multiverse_csv(analysis, section)
        if table is None or not isinstance(section, dict):
            continue
        target = f"results/{analysis.page}-multiverse-family-{slug(str(section.get('slug')))}.csv"
        writer.copy(table, target)
        downloads.append(
            (
                f"Multiverse of {block.get('family')}, one row per specification (CSV)",
                f"../{target}",
            )
        )
    return downloads


def _multiverse_csv(analysis: AnalysisResults, section: Any) -> Path | None:
    """Return the multiverse table a section names, when it is a file beside the JSON."""
    files = section.get("files") if isinstance(section, dict) else None
    name = files.get("csv") if isinstance(files, dict) else None
    if analysis.json_path is None or not isinstance(name, str):
        return None
    path = analysis.json_path.parent / Path(name).name
    return path if path.is_file() and not path.is_symlink() else None


def _summary_figure(build_dir: Path, writer: _Writer) -> FigureFile | None:
    source = build_dir / "figures" / "summary-forest.svg"
    if not source.is_file():
        return None
    writer.copy(source, "figures/summary-forest.svg")
    title, description = svg_text(source)
    return FigureFile(f"{GENERATED}/figures/summary-forest.svg", title, description)


def _bibliography_page(writer: _Writer, bibliography: Bibliography) -> None:
    if bibliography.path is not None and bibliography.keys:
        writer.text("references.bib", site_bibtex(bibliography.files or bibliography.path))
        body = (
            "Every reference in the bibliography (`studies/*.bib`: each study's own "
            "entry and the shared `references.bib`), each cited on the study pages.\n\n"
            "```{bibliography}\n:all:\n```\n"
        )
    else:
        writer.text("references.bib", "% no references.bib was supplied\n")
        body = "No bibliography (studies/*.bib) was supplied.\n"
    writer.text("bibliography.md", "# Bibliography\n\n" + body)


def contributing_guide(path: Path | None) -> str:
    """Return the text of ``CONTRIBUTING.md`` for the contributing page, or a placeholder.

    Its first line, the ``# Contributing`` heading, is skipped by the include. The guide
    is project documentation written by maintainers, not record data, so it is included
    as Markdown; the Sphinx build (warnings as errors) checks its links.
    """
    if path is not None and Path(path).is_file():
        return Path(path).read_text(encoding="utf-8")
    return (
        "# Contributing\n\nThe contributing guide (CONTRIBUTING.md at the top of the "
        "repository) was not found when this site was built.\n"
    )


@dataclass(frozen=True)
class PageInput:
    """What a page generator gets: the site inputs, the cross-references, the writer."""

    inputs: SiteInputs
    context: SiteContext
    writer: _Writer
    problems: list[Problem]


@dataclass(frozen=True)
class SitePage:
    """A generator of site pages, registered in :data:`SITE_PAGES`.

    ``write`` writes its file(s) under ``_generated/``; ``toc_part`` is the sidebar
    caption its pages are listed under (None: not in the sidebar, e.g. a fragment a
    hand-written page includes, or orphan pages reached by links) and ``toc_files`` the
    files listed there (without ``.md``, relative to ``_generated/``).
    """

    name: str
    write: Callable[[PageInput], None]
    toc_part: str | None = None
    toc_files: Callable[[SiteInputs], Sequence[str]] = lambda inputs: ()


def _analysis_pages(page: PageInput) -> None:
    for analysis in page.inputs.analyses:
        figures = _figures(analysis, page.inputs.build_dir, page.writer, page.problems)
        page.writer.text(
            f"analyses/{analysis.page}.md",
            analysis_page(analysis, page.context, figures, _downloads(analysis, page.writer)),
        )


def _study_pages(page: PageInput) -> None:
    for study in page.inputs.studies:
        name = page.context.study_pages.get(study.id)
        if name is not None:
            page.writer.text(f"studies/{name}.md", study_page(study, page.context))


def _catalogue(page: PageInput) -> None:
    page.writer.text("catalogue.md", catalogue_page(page.inputs.studies, page.context))


def _prisma(page: PageInput) -> None:
    inputs, context = page.inputs, page.context
    pooled = {a.id for a in inputs.analyses if a.result.get("status") == "ok"}
    in_analyses = sum(
        1
        for study in inputs.studies
        if any(use.included and use.analysis_id in pooled for use in context.uses.get(study.id, ()))
    )
    page.writer.text(
        "prisma.md",
        prisma_page(
            inputs.studies,
            in_analyses,
            inputs.screening,
            inputs.bibliography.keys,
            updated_line(inputs.dates.everything(), "the study records or the search record"),
        ),
    )
    if inputs.screening is not None:
        page.problems.extend(
            coverage_problems(inputs.screening, [study.id for study in inputs.studies])
        )


def _bibliography(page: PageInput) -> None:
    _bibliography_page(page.writer, page.inputs.bibliography)


def _contributing(page: PageInput) -> None:
    page.writer.text("contributing-guide.md", contributing_guide(page.inputs.contributing))


def _landing(page: PageInput) -> None:
    inputs = page.inputs
    n_effects = sum(len(study.effects) for study in inputs.studies)
    page.writer.text(
        "landing.md",
        landing_fragment(
            inputs.analyses,
            _summary_figure(inputs.build_dir, page.writer),
            len(inputs.studies),
            n_effects,
            inputs.studies,
            updated_line(
                inputs.dates.everything(),
                "the study records, the analysis plans or the search record",
            ),
        ),
    )


#: Every generated page of the site, in the order they are written and listed in the
#: sidebar (``_generated/_toc.yml``; the hand-written methods and contributing pages
#: follow under "About"). Add a site page by writing its generator (a module of
#: ``report/book/`` for the Markdown) and registering it here, with its test.
SITE_PAGES: tuple[SitePage, ...] = (
    SitePage(
        "analyses",
        _analysis_pages,
        "Findings",
        lambda inputs: [f"analyses/{a.page}" for a in inputs.analyses if not is_check(a.result)],
    ),
    # Checks of the pipeline are not findings: listed apart, as on the landing page (their
    # pages are written with the analyses).
    SitePage(
        "checks",
        lambda page: None,
        "Checks of the pipeline",
        lambda inputs: [f"analyses/{a.page}" for a in inputs.analyses if is_check(a.result)],
    ),
    SitePage("studies", _study_pages),  # orphans, reached from the catalogue
    SitePage("catalogue", _catalogue, "Studies", lambda inputs: ["catalogue"]),
    SitePage("prisma", _prisma, "Studies", lambda inputs: ["prisma"]),
    SitePage("bibliography", _bibliography, "Studies", lambda inputs: ["bibliography"]),
    SitePage("contributing-guide", _contributing),  # included by book/contributing.md
    SitePage("landing", _landing),  # included by book/index.md
)


def generate_pages(inputs: SiteInputs, book_dir: Path) -> list[Problem]:
    """Write every generated page, figure, results file and the table of contents.

    Parameters
    ----------
    inputs : SiteInputs
        Study records, bibliography, analyses' results, screening counts, and the build
        directory the results' figure paths are relative to.
    book_dir : pathlib.Path
        The Jupyter Book source directory; pages go to ``book_dir / "_generated"``.

    Returns
    -------
    list of Problem
        Warnings about inputs that could not be shown (e.g. a missing figure).

    Raises
    ------
    EvidenceError
        When ``book_dir/_generated`` is a symbolic link or a file: stale files are deleted
        there, so it must be a directory of its own.
    """
    problems: list[Problem] = []
    generated = Path(book_dir) / GENERATED
    if generated.is_symlink() or (generated.exists() and not generated.is_dir()):
        what = (
            f"a symbolic link to {os.readlink(generated)}"
            if generated.is_symlink()
            else "not a directory"
        )
        raise EvidenceError(
            [
                Problem(
                    display_path(generated),
                    0,
                    0,
                    f"is {what}; generated "
                    "pages go here and files left from earlier builds are "
                    "deleted, so it must be a plain directory (remove it and "
                    "build again)",
                    "output-dir-unsafe",
                )
            ]
        )
    writer = _Writer(generated)
    context: SiteContext = build_context(
        inputs.studies, inputs.bibliography, inputs.analyses, inputs.dates
    )
    page_input = PageInput(inputs, context, writer, problems)
    parts: dict[str, list[str]] = {}
    for page in SITE_PAGES:
        page.write(page_input)
        if page.toc_part is not None:
            parts.setdefault(page.toc_part, []).extend(
                f"{GENERATED}/{name}" for name in page.toc_files(inputs)
            )
    writer.text(
        "_toc.yml", toc_yaml([(caption, files) for caption, files in parts.items() if files])
    )
    writer.remove_stale()
    return problems
