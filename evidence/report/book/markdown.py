"""Small builders for the MyST Markdown the generated pages are made of.

Every builder here takes text that is already safe (escaped with
:func:`evidence.report.book.escape.escape_markdown`, or written by this package) and only adds
structure: tables, links, figures, citations. Names of documents and files go through
:func:`evidence.report.book.escape.slug` before they get here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from evidence.report.book.escape import escape_markdown, option_text, safe_url

#: A citation key that may be placed inside a ``{cite}`` role as it is.
_CITATION_KEY = re.compile(r"^[A-Za-z0-9_.:+-]{1,100}$")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], css_class: str = "") -> str:
    r"""Return a pipe table; ``css_class`` wraps it in a container div with that class.

    Cells must already be escaped (a ``|`` in data is ``\|`` after escaping). Every table
    is wrapped in a ``table-scroll`` container so it scrolls sideways on a phone instead of
    overflowing the page.
    """
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [cell if cell else " " for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    classes = " ".join(part for part in ("table-scroll", css_class) if part)
    return f":::{{container}} {classes}\n\n" + "\n".join(lines) + "\n\n:::\n"


def external_link(text: str, url: object) -> str:
    """Return ``[text](url)`` for a safe http(s) URL, else just the (escaped) text."""
    target = safe_url(url)
    if target is None:
        return text
    return f"[{text}]({target})"


def document_link(text: str, target: str) -> str:
    """Return a link to another generated document (``target`` is a relative .md path)."""
    return f"[{text}]({target})"


def cite(key: object, known_keys: frozenset[str], mode: str = "p") -> str:
    """Return a ``{cite:p}`` role when ``key`` is a safe key found in the bibliography.

    Otherwise the key is shown as escaped text, so an unknown or hostile key can neither
    break the build nor inject markup.
    """
    text = str(key) if key is not None else ""
    if _CITATION_KEY.match(text) and text in known_keys:
        return f"{{cite:{mode}}}`{text}`"
    return escape_markdown(text)


def cite_many(keys: Iterable[object], known_keys: frozenset[str]) -> str:
    """Return one ``{cite:p}`` role citing every safe, known key (in order, each once).

    Unknown or unsafe keys are left out (their studies are still linked by id elsewhere);
    an empty string when none is left.
    """
    cited: list[str] = []
    for key in keys:
        text = str(key) if key is not None else ""
        if _CITATION_KEY.match(text) and text in known_keys and text not in cited:
            cited.append(text)
    return f"{{cite:p}}`{','.join(cited)}`" if cited else ""


def figure(path: str, alt: object, caption: str, name: str = "") -> str:
    """Return a ``{figure}`` directive with option-safe ``alt`` and an escaped caption."""
    options = [f":alt: {option_text(alt) or 'Figure'}", ":width: 100%"]
    if name:
        options.append(f":name: {name}")
    return "```{figure} " + path + "\n" + "\n".join(options) + "\n\n" + caption + "\n```\n"


def heading(level: int, text: str) -> str:
    """Return a Markdown heading of ``level`` (1-6) for already escaped ``text``."""
    return "#" * level + " " + text + "\n"


def bullets(items: Iterable[str]) -> str:
    """Return a bullet list of already escaped items (empty string for no items)."""
    lines = [f"- {item}" for item in items if item]
    return "\n".join(lines) + "\n" if lines else ""


def field_list(pairs: Iterable[tuple[str, str]]) -> str:
    """Return a two-column 'what / value' table for already escaped pairs, skipping blanks."""
    rows = [(name, value) for name, value in pairs if value]
    if not rows:
        return ""
    return table(["Field", "Value"], rows, "field-table")


def quote_block(text: str) -> str:
    """Return an escaped text as a block quote (one paragraph)."""
    return "> " + text + "\n" if text else ""


def join_blocks(blocks: Iterable[str]) -> str:
    """Join Markdown blocks with one blank line between them, skipping empty blocks."""
    return "\n\n".join(block.strip("\n") for block in blocks if block) + "\n"
