"""Make record and spec text safe to place in a generated MyST page.

Every piece of text that comes from a study record, the bibliography, an analysis spec or a
results file goes through :func:`escape_markdown` before it reaches a page. Directive
options (figure ``alt`` text) go through :func:`option_text`, link destinations through
:func:`safe_url`, file and document names through :func:`slug`, and text inside a raw HTML
block (the PRISMA diagram) through :func:`html.escape` in :mod:`evidence.report.book.prisma`.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from typing import Any
from urllib.parse import quote, urlsplit

#: Every ASCII punctuation character: CommonMark lets each be escaped with a backslash.
_PUNCTUATION = frozenset(string.punctuation)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"\s+")
_OPTION_UNSAFE = re.compile(
    r"[^\w .,;:()%=+/'\"<>&?!\[\]"
    r"\u00b2\u00b7\u2190\u2192\u2212\u2013\u2014\u2018\u2019\u2264\u2265-]"
)
_SLUG_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def escape_markdown(value: Any) -> str:
    r"""Return ``value`` as one line of MyST Markdown that renders as exactly its literal text.

    What it neutralises:

    - raw HTML and HTML entities (``<script>``, ``<img onerror=...>``, ``&lt;``): ``<``,
      ``>`` and ``&`` are backslash-escaped, so they render as characters, never as markup;
    - MyST roles and directives (``{eval-rst}``, ``{raw}`html` ``), substitutions
      (``{{ x }}``, ``|x|``), targets ``(x)=``, comments ``% ...``, colon and backtick
      fences, code spans, emphasis, Markdown links and images ``[t](u)`` / ``![a](u)``,
      footnotes ``[^1]``, dollar math ``$x$`` and ``$$x$$``, headings, block quotes, lists,
      tables (``|``) and thematic breaks: every ASCII punctuation character is escaped with
      a backslash (CommonMark section 2.4 allows this for all of them);
    - layout: control and bidirectional-override characters are removed and every run of
      white space (including newlines, so no block can start inside the text) becomes one
      space; an indented code block cannot start because leading space is stripped.

    ``None`` becomes the empty string. Letters, digits and non-ASCII characters are kept
    as they are (Unicode normalised to NFC).

    Examples
    --------
    >>> escape_markdown("<script>alert(1)</script>")
    '\\<script\\>alert\\(1\\)\\<\\/script\\>'
    >>> escape_markdown("{raw}`html` $x$")
    '\\{raw\\}\\`html\\` \\$x\\$'
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = _SPACE.sub(" ", _CONTROL.sub("", text)).strip()
    return "".join("\\" + char if char in _PUNCTUATION else char for char in text)


def escape_paragraphs(value: Any) -> list[str]:
    """Split free text on blank lines and escape each paragraph with :func:`escape_markdown`."""
    if value is None:
        return []
    parts = re.split(r"\n\s*\n", str(value))
    return [escaped for escaped in (escape_markdown(part) for part in parts) if escaped]


def option_text(value: Any, limit: int = 400) -> str:
    """Return text safe as a directive option value (e.g. a figure's ``:alt:``).

    Directive options are not parsed as Markdown (docutils escapes the value when it writes
    the ``alt`` attribute), so the text is kept as written, apostrophes, quotes, ``<`` and
    ``>`` included; only what could end the option or reach a parser is removed: line
    breaks (white space is collapsed to one line, so no second option can start), control
    characters, braces, backticks, ``#``, ``$``, ``|``, ``*`` and backslashes. The
    text is cut to ``limit`` characters.
    """
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = _OPTION_UNSAFE.sub(" ", _CONTROL.sub("", text))
    text = _SPACE.sub(" ", text).strip()
    return text[:limit].rstrip()


def safe_url(value: Any) -> str | None:
    r"""Return an ``http``/``https`` URL percent-encoded for a Markdown link, else None.

    Any other scheme (``javascript:``, ``data:``, ``file:``, relative paths) is refused.
    Characters that could end or bend a link destination (spaces, ``( ) < > \ [ ] `` `` `
    ``"`` ``'``) and non-ASCII characters are percent-encoded.
    """
    if value is None:
        return None
    text = _CONTROL.sub("", str(value)).strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(text, safe=":/?#@!$&*+,;=%-._~")


def doi_url(doi: Any) -> str | None:
    """Return ``https://doi.org/<doi>`` for a DOI string (percent-encoded), else None."""
    if not doi:
        return None
    return safe_url("https://doi.org/" + str(doi).strip())


def slug(value: Any) -> str:
    """Return a file and document name for an identifier: ``[a-z0-9_-]`` only.

    Identifiers that are already safe are kept; any other gets its unsafe runs replaced by
    ``-`` and a short hash suffix, so two different identifiers never share a page.
    """
    text = str(value)
    cleaned = _SLUG_UNSAFE.sub("-", text.lower()).strip("-_") or "item"
    if cleaned == text:
        return cleaned
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:60]}-{digest}"
