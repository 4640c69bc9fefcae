"""Check a built site as a reader's browser would load it: links resolve, nothing fetches.

:func:`broken_links` follows every internal ``href``/``src`` (with its ``#fragment``) in
every HTML page; :func:`external_assets` lists every script, stylesheet, image or frame
loaded from another host (the site must render offline, without a CDN). Links *to* other
sites (``<a href="https://...">``) are fine: they are navigation, not assets.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: (tag, attribute) pairs that make the browser fetch something when the page loads.
_ASSET_ATTRIBUTES = {
    ("script", "src"),
    ("link", "href"),
    ("img", "src"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
    ("embed", "src"),
    ("object", "data"),
}
_LINK_ATTRIBUTES = _ASSET_ATTRIBUTES | {("a", "href")}


@dataclass(frozen=True)
class Reference:
    """One ``href``/``src`` in one page."""

    page: Path
    tag: str
    attribute: str
    value: str


class _Collector(HTMLParser):
    """Collect references and element ids of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.references: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            if (tag, name) in _LINK_ATTRIBUTES:
                self.references.append((tag, name, value))


Parsed = tuple[tuple[tuple[str, str, str], ...], frozenset[str]]
#: Reads one page's references and element ids (:func:`_parse`, or a :class:`PageCache`).
Parser = Callable[[Path], Parsed]


def _parse_text(text: str) -> Parsed:
    collector = _Collector()
    collector.feed(text)
    return tuple(collector.references), frozenset(collector.ids)


@cache
def _parse(path: Path) -> Parsed:
    return _parse_text(path.read_text(encoding="utf-8", errors="replace"))


class PageCache:
    """Parsed pages kept between builds, keyed by the sha256 of each page's bytes.

    Parsing every page is what a link check costs; a page whose bytes did not change since
    the last build is not parsed again (its links are still all resolved against the
    whole site). ``save`` keeps only the pages asked for in this run.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.parsed: dict[str, tuple[str, Parsed]] = {}
        self.used: dict[str, tuple[str, Parsed]] = {}
        self.hits = 0
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            for name, (digest, refs, ids) in stored.items():
                refs_tuple = tuple((str(t), str(a), str(v)) for t, a, v in refs)
                self.parsed[name] = (str(digest), (refs_tuple, frozenset(map(str, ids))))
        except (OSError, ValueError, TypeError, AttributeError):
            self.parsed = {}

    def __call__(self, path: Path) -> Parsed:
        """Return the references and ids of the page at ``path`` (parsed if new or changed)."""
        name = path.resolve().as_posix()
        if name in self.used:
            return self.used[name][1]
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        known = self.parsed.get(name)
        if known is not None and known[0] == digest:
            self.hits += 1
            parsed = known[1]
        else:
            parsed = _parse_text(data.decode("utf-8", errors="replace"))
        self.used[name] = (digest, parsed)
        return parsed

    def save(self) -> None:
        """Write the pages parsed or reused in this run (temporary file renamed into place)."""
        stored = {
            name: [digest, [list(ref) for ref in refs], sorted(ids)]
            for name, (digest, (refs, ids)) in sorted(self.used.items())
        }
        scratch = self.path.with_name(self.path.name + ".tmp")
        scratch.write_text(json.dumps(stored), encoding="utf-8")
        os.replace(scratch, self.path)


def references(site: Path, parse: Parser = _parse) -> list[Reference]:
    """Return every link and asset reference of every HTML page under ``site``.

    Files under ``_static/`` are theme assets (some are Jinja macro templates the theme
    ships as ``.html``), not pages, and are skipped.
    """
    found = []
    site = Path(site)
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] == "_static":
            continue
        for tag, attribute, value in parse(page.resolve())[0]:
            found.append(Reference(page, tag, attribute, value))
    return found


def _is_external(value: str) -> bool:
    parts = urlsplit(value.strip())
    return bool(parts.scheme) or value.strip().startswith("//")


def external_assets(site: Path, parse: Parser = _parse) -> list[Reference]:
    """Return the references that load a script, style, image or frame from another host."""
    return [
        ref
        for ref in references(site, parse)
        if (ref.tag, ref.attribute) in _ASSET_ATTRIBUTES
        and _is_external(ref.value)
        and not ref.value.strip().lower().startswith("data:")
    ]


def unsafe_links(site: Path, parse: Parser = _parse) -> list[Reference]:
    """Return links whose scheme is neither http(s) nor mailto (e.g. ``javascript:``)."""
    unsafe = []
    for ref in references(site, parse):
        scheme = urlsplit(ref.value.strip()).scheme.lower()
        if scheme and scheme not in ("http", "https", "mailto", "data"):
            unsafe.append(ref)
        elif scheme == "data" and ref.tag == "a":
            unsafe.append(ref)
    return unsafe


def broken_links(site: Path, parse: Parser = _parse) -> list[Reference]:
    """Return internal references whose file (or ``#fragment`` in it) does not exist."""
    site = Path(site).resolve()
    broken = []
    for ref in references(site, parse):
        value = ref.value.strip()
        if not value or _is_external(value):
            continue
        parts = urlsplit(value)
        target = (
            ref.page.resolve()
            if not parts.path
            else (ref.page.resolve().parent / unquote(parts.path)).resolve()
        )
        if target.is_dir():
            target = target / "index.html"
        if site not in (target, *target.parents) or not target.is_file():
            broken.append(ref)
            continue
        fragment = unquote(parts.fragment)
        if fragment and target.suffix == ".html" and fragment not in parse(target)[1]:
            broken.append(ref)
    return broken
