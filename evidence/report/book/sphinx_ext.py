"""A Sphinx extension for the evidence site: author-year labels in the bibliography.

sphinxcontrib-bibtex cites by author and year (``bibtex_reference_style: author_year``) but
numbers the bibliography by default, so a reader sees "(Steptoe et al., 2013)" on a study
page and "[57]" in the list. This extension registers the pybtex formatting style
``evidence-author-year``: the ``plain`` style with labels ``Steptoe et al. 2013`` (a, b, ...
appended when two entries share a label). Loaded through ``sphinx.extra_extensions`` in
``book/_config.yml``.

It also undoes MyST-Parser's double escaping of ``&`` in link targets (MyST escapes ``&``
to ``&amp;`` in the doctree and the HTML writer escapes it again, so a source link
``...?a=1&b=2`` became ``...?a=1&amp;amp;b=2`` and broke its query; MyST-Parser issues
760 and 1116): :func:`unescape_link_targets` runs on every doctree as it is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle

STYLE_NAME = "evidence-author-year"


def _label(entry: Any) -> str:
    """Return ``Surname 2013``, ``Surname and Other 2013`` or ``Surname et al. 2013``."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [" ".join(person.last_names).replace("{", "").replace("}", "") for person in people]
    others = "others" in names
    names = [name for name in names if name and name != "others"]
    if not names:
        who = str(entry.fields.get("title") or entry.key).replace("{", "").replace("}", "")
    elif others or len(names) > 2:
        who = f"{names[0]} et al."
    elif len(names) == 1:
        who = names[0]
    else:
        who = f"{names[0]} and {names[1]}"
    year = entry.fields.get("year", "n.d.")
    return f"{who} {year}"


def _suffix(index: int) -> str:
    """Return ``a``, ``b``, ..., ``z``, ``aa``, ``ab``, ... for 0, 1, ..., 25, 26, 27, ..."""
    letters = ""
    index += 1
    while index > 0:
        index, remainder = divmod(index - 1, 26)
        letters = "abcdefghijklmnopqrstuvwxyz"[remainder] + letters
    return letters


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels ``Surname et al. year``; repeated labels get ``a``, ``b``, ... appended."""

    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        """Yield one label per entry, in the order given."""
        entries = list(sorted_entries)
        labels = [_label(entry) for entry in entries]
        counts = Counter(labels)
        seen: Counter[str] = Counter()
        for label in labels:
            if counts[label] > 1:
                yield label + _suffix(seen[label])
                seen[label] += 1
            else:
                yield label


class AuthorYearSortingStyle(BaseSortingStyle):
    """One A-Z run by the label a reader sees (``Steptoe et al.``), then year and title.

    The ``plain`` style sorts by the BibTeX name: a literal name ``{Ahern et al.}`` (how
    :func:`evidence.report.book.bibfile.site_bibtex` writes ``Ahern and others``) sorted
    after ``z`` and an entry without authors before ``a``, so the list ran A-Z twice.
    """

    def sorting_key(self, entry: Any) -> tuple[str, str, str, str]:
        """Return (who, year, title, key), lower-case and without braces."""
        who = _label(entry).rsplit(" ", 1)[0]
        title = str(entry.fields.get("title", ""))
        return (
            who.replace("{", "").replace("}", "").lower(),
            str(entry.fields.get("year", "")),
            title.replace("{", "").replace("}", "").lower(),
            str(entry.key),
        )


class AuthorYearStyle(PlainStyle):
    """The pybtex ``plain`` style with :class:`AuthorYearLabelStyle` labels, sorted A-Z."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearSortingStyle


def unescape_link_targets(app: Any, doctree: nodes.document) -> None:
    """Turn MyST's ``&amp;`` back into ``&`` in every external link target.

    The HTML writer escapes ``&`` once more, so the page gets the single ``&amp;`` that
    HTML requires and the browser follows the URL as written in the record.
    """
    for reference in doctree.findall(nodes.reference):
        target = reference.get("refuri")
        if target and "&amp;" in target:
            reference["refuri"] = target.replace("&amp;", "&")


def setup(app: Any) -> dict[str, Any]:
    """Register the pybtex style and the link fix with Sphinx (parallel-safe, no state)."""
    register_plugin("pybtex.style.formatting", STYLE_NAME, AuthorYearStyle, force=True)
    app.connect("doctree-read", unescape_link_targets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
