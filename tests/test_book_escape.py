"""The one escaping function and its helpers: hostile text renders as literal text.

Rendering goes through the MyST parser with every syntax extension switched ON (more than
the site enables), so the escaping is shown to hold even if the configuration changes.
"""

from __future__ import annotations

import html
import re

import pytest
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from test_book_fixtures import HOSTILE

from evidence.report.book.escape import (
    doi_url,
    escape_markdown,
    escape_paragraphs,
    option_text,
    safe_url,
    slug,
)

EXTENSIONS = {
    "colon_fence",
    "dollarmath",
    "substitution",
    "amsmath",
    "deflist",
    "html_image",
    "html_admonition",
    "linkify",
    "tasklist",
    "fieldlist",
    "attrs_inline",
    "strikethrough",
    "smartquotes",
    "replacements",
}

HOSTILE_TEXTS = [
    HOSTILE,
    "<script>alert(1)</script>",
    "```{eval-rst}\n.. raw:: html\n\n   <script>x</script>\n```",
    "{raw}`html`<b>bold</b>`",
    "[click](javascript:alert(1)) and ![x](https://evil.example/x.png)",
    "www.evil.example and https://evil.example/path",
    "$$\\int x$$ and $y$",
    "|sub| and {{ sub }}",
    "# heading\n> quote\n- item\n1. item\n---\n% comment\n(label)=\n+++",
    "a | b | c\n---|---|---",
    "&lt;script&gt; &#60;script&#62; &amp;",
    "[^1] footnote and [ref][] and <https://evil.example>",
    "~~strike~~ *em* _em_ __strong__ \\*already escaped\\*",
    "    indented code\n\ttabbed",
    "line one\u2028line two \u202e reversed \x00 null",
    "",
]


def _parser():
    return create_md_parser(MdParserConfig(enable_extensions=EXTENSIONS), RendererHTML)


def _visible(text: str) -> str:
    """What a reader should see: the input with white space collapsed, controls removed."""
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e]", "", text)
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_escaped_text_renders_as_one_plain_paragraph(text):
    parser = _parser()
    tokens = parser.parse(escape_markdown(text))
    if not _visible(text):
        assert tokens == []
        return
    assert [token.type for token in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    children = {child.type for child in tokens[1].children}
    assert children <= {"text", "text_special"}
    rendered = parser.render(escape_markdown(text))
    assert rendered.startswith("<p>") and rendered.endswith("</p>\n")
    assert html.unescape(rendered[3:-5]) == _visible(text)


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_escaped_text_is_inert_inside_a_table_cell(text):
    parser = _parser()
    cell = escape_markdown(text)
    tokens = parser.parse(f"| a | b |\n|---|---|\n| {cell} | x |\n")
    types = [token.type for token in tokens]
    assert types.count("td_open") == 2
    inline = [token for token in tokens if token.type == "inline"]
    assert all({c.type for c in token.children} <= {"text", "text_special"} for token in inline)


def test_escape_markdown_examples():
    assert escape_markdown("<b>") == "\\<b\\>"
    assert escape_markdown(None) == ""
    assert escape_markdown(1.5) == "1\\.5"
    assert escape_markdown("a\n\nb") == "a b"
    assert escape_markdown("café") == "café"


def test_escape_paragraphs_keeps_paragraph_breaks_only():
    assert escape_paragraphs("one\ntwo\n\n<three>") == ["one two", "\\<three\\>"]
    assert escape_paragraphs(None) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Forest plot: 3 effects <b>", "Forest plot: 3 effects <b>"),
        ("a\n:alt: x {raw}`y`", "a :alt: x raw y"),  # one line: no second option
        ("Steptoe's cohort: p < 0.001", "Steptoe's cohort: p < 0.001"),
        ("ratio 1.5 (95% CI 1.2 to 1.9)", "ratio 1.5 (95% CI 1.2 to 1.9)"),
        (None, ""),
    ],
)
def test_option_text_keeps_only_plain_characters(text, expected):
    assert option_text(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://pmc.ncbi.nlm.nih.gov/articles/PMC3625264",
            "https://pmc.ncbi.nlm.nih.gov/articles/PMC3625264",
        ),
        ("http://example.org/a b(c)", "http://example.org/a%20b%28c%29"),
        ("https://example.org/x?a=1&b=2#f", "https://example.org/x?a=1&b=2#f"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>", None),
        ("file:///etc/passwd", None),
        ("//evil.example/x", None),
        ("relative/path", None),
        ("https://", None),
        (None, None),
    ],
)
def test_safe_url_accepts_only_http_and_encodes(url, expected):
    assert safe_url(url) == expected


def test_doi_url():
    assert doi_url("10.1073/pnas.1219686110") == "https://doi.org/10.1073/pnas.1219686110"
    assert doi_url("10.1000/a(b)") == "https://doi.org/10.1000/a%28b%29"
    assert doi_url(None) is None


def test_slug_keeps_safe_ids_and_separates_unsafe_ones():
    assert slug("steptoe2013") == "steptoe2013"
    assert slug("berkman1979-hl2010") == "berkman1979-hl2010"
    hostile = slug("../../<script>")
    assert re.fullmatch(r"[a-z0-9_-]+", hostile)
    assert slug("A B") != slug("a-b")
    assert slug("A B") != slug("a b")
