"""Check a built site as a reader's browser would load it: links resolve, nothing fetches.

:func:`broken_links` follows every internal ``href``/``src`` (with its ``#fragment``) in
every HTML page; :func:`external_assets` lists every script, stylesheet, image or frame
loaded from another host (the site must render offline, without a CDN). Links *to* other
sites (``<a href="https://...">``) are fine: they are navigation, not assets.
"""

from __future__ import annotations

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


@cache
def _parse(path: Path) -> tuple[tuple[tuple[str, str, str], ...], frozenset[str]]:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8", errors="replace"))
    return tuple(collector.references), frozenset(collector.ids)


def references(site: Path) -> list[Reference]:
    """Return every link and asset reference of every HTML page under ``site``.

    Files under ``_static/`` are theme assets (some are Jinja macro templates the theme
    ships as ``.html``), not pages, and are skipped.
    """
    found = []
    site = Path(site)
    for page in sorted(site.rglob("*.html")):
        if page.relative_to(site).parts[0] == "_static":
            continue
        for tag, attribute, value in _parse(page.resolve())[0]:
            found.append(Reference(page, tag, attribute, value))
    return found


def _is_external(value: str) -> bool:
    parts = urlsplit(value.strip())
    return bool(parts.scheme) or value.strip().startswith("//")


def external_assets(site: Path) -> list[Reference]:
    """Return the references that load a script, style, image or frame from another host."""
    return [
        ref
        for ref in references(site)
        if (ref.tag, ref.attribute) in _ASSET_ATTRIBUTES
        and _is_external(ref.value)
        and not ref.value.strip().lower().startswith("data:")
    ]


def unsafe_links(site: Path) -> list[Reference]:
    """Return links whose scheme is neither http(s) nor mailto (e.g. ``javascript:``)."""
    unsafe = []
    for ref in references(site):
        scheme = urlsplit(ref.value.strip()).scheme.lower()
        if scheme and scheme not in ("http", "https", "mailto", "data"):
            unsafe.append(ref)
        elif scheme == "data" and ref.tag == "a":
            unsafe.append(ref)
    return unsafe


def broken_links(site: Path) -> list[Reference]:
    """Return internal references whose file (or ``#fragment`` in it) does not exist."""
    site = Path(site).resolve()
    broken = []
    for ref in references(site):
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
        if fragment and target.suffix == ".html" and fragment not in _parse(target)[1]:
            broken.append(ref)
    return broken
