"""Make Sphinx's search index safe to display: section titles as escaped HTML.

Sphinx 7.4's ``searchtools.js`` shows a matching section title with ``innerHTML``, taking
it from the ``alltitles`` keys of ``searchindex.js``, which are plain text. A section
title from a record containing markup would run as HTML when a reader searches for it.
``titles`` (document titles) are already escaped HTML; this rewrites the ``alltitles`` keys
the same way (with :func:`html.escape`), so search results show the literal text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from evidence.errors import EvidenceError

_PREFIX = "Search.setIndex("
_SUFFIX = ")"


def escape_search_titles(site: Path) -> None:
    """Rewrite ``site/searchindex.js`` with HTML-escaped ``alltitles`` keys (if present)."""
    path = Path(site) / "searchindex.js"
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8").strip()
    if not (text.startswith(_PREFIX) and text.endswith(_SUFFIX)):
        raise EvidenceError(f"{path}: unexpected search index format; cannot make it safe")
    index = json.loads(text[len(_PREFIX) : -len(_SUFFIX)])
    titles = index.get("alltitles")
    if isinstance(titles, dict):
        escaped: dict[str, list] = {}
        for title, places in titles.items():
            escaped.setdefault(html.escape(title, quote=False), []).extend(places)
        index["alltitles"] = escaped
    path.write_text(
        _PREFIX + json.dumps(index, separators=(",", ":"), sort_keys=True) + _SUFFIX,
        encoding="utf-8",
    )
