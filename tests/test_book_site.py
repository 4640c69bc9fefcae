"""End to end: build the site of a hostile corpus and read the HTML a browser would get.

Marked slow (one Sphinx build, shared with the browser test through
``test_book_fixtures.hostile_site``).
"""

from __future__ import annotations

import html
import json
import re

import pytest
from test_book_fixtures import hostile_site

from evidence.report.book.sitecheck import broken_links, external_assets, unsafe_links

pytestmark = pytest.mark.slow

#: Every alert() the hostile record tries to run, by where it was planted.
PLANTED = ["population", "contrast", "locator", "quote", "notes", "title", "bib"]


@pytest.fixture(scope="module")
def site():
    return hostile_site()


def _pages(site):
    return {
        path.relative_to(site).as_posix(): path.read_text(encoding="utf-8")
        for path in site.rglob("*.html")
        if "_static" not in path.parts
    }


def test_site_has_every_kind_of_page(site):
    for name in (
        "index.html",
        "methods.html",
        "contributing.html",
        "_generated/catalogue.html",
        "_generated/prisma.html",
        "_generated/bibliography.html",
        "_generated/studies/hostile2001.html",
        "_generated/analyses/isolation-mortality.html",
    ):
        assert (site / name).is_file(), name
    assert list((site / "_downloads").rglob("isolation-mortality.json"))
    assert list((site / "_downloads").rglob("isolation-mortality-effects.csv"))


def test_no_script_from_data_reaches_any_page(site):
    for name, text in _pages(site).items():
        assert "<script>alert" not in text, name
        assert not re.search(r"<img[^>]*onerror", text), name
        assert "evil.example" not in text or "<img" not in text.split("evil.example")[0][-200:]


@pytest.mark.parametrize("planted", ["population", "contrast", "locator", "quote", "notes"])
def test_hostile_record_text_shows_as_literal_text_on_the_study_page(site, planted):
    text = (site / "_generated/studies/hostile2001.html").read_text(encoding="utf-8")
    assert f"<script>alert('{planted}')</script>" in html.unescape(text)
    assert f"<script>alert('{planted}')</script>" not in text


def test_roles_math_and_links_from_data_stay_literal(site):
    text = html.unescape((site / "_generated/studies/hostile2001.html").read_text("utf-8"))
    for literal in (
        "{eval-rst}",
        "$x$",
        "|sub|",
        "{{ sub }}",
        "`code`",
        "**bold**",
        "[link](javascript:alert(1))",
        "![img](https://evil.example/x.png)",
        "$$y$$",
        "{raw}`html`<b>raw</b>`",
        ":::{note} :::",
        "&lt;b&gt;",
    ):
        assert literal in text, literal


def test_hostile_analysis_title_is_literal_on_landing_and_analysis_pages(site):
    for name in ("index.html", "_generated/analyses/isolation-mortality.html"):
        text = (site / name).read_text(encoding="utf-8")
        assert "<script>alert('title')</script>" in html.unescape(text)
        assert "<script>alert('title')</script>" not in text


def test_no_unsafe_link_external_asset_or_broken_link(site):
    assert unsafe_links(site) == []
    assert external_assets(site) == []
    assert broken_links(site) == []


def test_no_mathjax_or_cdn_anywhere(site):
    for name, text in _pages(site).items():
        assert "mathjax" not in text.lower(), name
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", text):
            assert "https://" not in tag and 'src="//' not in tag, (name, tag)


def test_search_index_titles_are_escaped(site):
    # Sphinx's searchtools.js shows matching section titles with innerHTML.
    text = (site / "searchindex.js").read_text("utf-8")
    index = json.loads(text[len("Search.setIndex(") : -1])
    assert any("&lt;script&gt;alert('title')" in title for title in index["alltitles"])
    assert not any("<" in title for title in index["alltitles"])
    assert not any("<" in title for title in index["titles"])


def test_figures_have_alt_text_and_captions(site):
    text = (site / "_generated/analyses/isolation-mortality.html").read_text("utf-8")
    image = re.search(r'<img[^>]*src="[^"]*isolation-mortality-forest\.svg"[^>]*>', text)
    assert image and 'alt="Forest plot of 2 effects"' in image.group(0)
    assert "figcaption" in text


def test_citation_links_to_the_bibliography(site):
    text = (site / "_generated/studies/hostile2001.html").read_text("utf-8")
    assert "bibliography.html#id" in text or "bibliography.html#" in text
    bibliography = (site / "_generated/bibliography.html").read_text("utf-8")
    assert "Hostile and Other 2001" in bibliography
    assert "javascript:alert(3)" not in bibliography  # the bib's unsafe url was dropped


def test_shipped_corpus_through_the_real_pipeline():
    """studies/ + analyses/ -> `evidence run` -> `evidence book` (the command)."""
    from test_book_fixtures import REPOSITORY, shipped_site

    site, documents = shipped_site()
    for document in documents:
        assert (site / "_generated" / "analyses" / f"{document['id']}.html").is_file()
    studies = [p for p in (REPOSITORY / "studies").glob("*.yaml") if p.name != "screening.yaml"]
    assert len(list((site / "_generated" / "studies").glob("*.html"))) == len(studies)
    landing = (site / "index.html").read_text("utf-8")
    assert landing.count('href="_generated/analyses/') >= len(documents)
    assert broken_links(site) == [] and external_assets(site) == []


def test_every_pooled_analysis_page_shows_its_multiverse():
    """Live corpus, invariant only: a pooled headline's page has the multiverse section,
    its specification curve (a drawn figure) and the pre-specified analysis among them."""
    from test_book_fixtures import shipped_site

    site, documents = shipped_site()
    pooled = [d for d in documents if d["status"] == "ok"]
    assert pooled  # the shipped analyses pool at least one question
    for document in pooled:
        page = site / "_generated" / "analyses" / f"{document['id']}.html"
        text = page.read_text("utf-8")
        assert 'id="multiverse-every-defensible-analysis"' in text, document["id"]
        figure = re.search(r'src="([^"]*-spec-curve\.svg)"', text)
        assert figure, document["id"]
        assert (page.parent / figure.group(1)).resolve().is_file(), document["id"]
        words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
        assert "The pre-specified analysis" in words, document["id"]
        assert "The headline above stays the pre-specified analysis." in words


def test_every_pooled_outcome_family_page_shows_its_own_multiverse():
    """Live corpus, invariant only: on a by-family page every pooled outcome family has
    its own multiverse, with its curve drawn; a family not pooled says why it has none."""
    from test_book_fixtures import shipped_site

    site, documents = shipped_site()
    for document in documents:
        if document["status"] != "by-family":
            continue
        page = site / "_generated" / "analyses" / f"{document['id']}.html"
        text = page.read_text("utf-8")
        words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
        for block in document["by_family"]:
            section = block.get("multiverse")
            if block["status"] != "ok":
                assert section is None, (document["id"], block["family"])
                continue
            assert section["specifications"] > 0, (document["id"], block["family"])
            name = f"{document['id']}-family-spec-curve-{section['slug']}.svg"
            figure = re.search(rf'src="([^"]*{re.escape(name)})"', text)
            assert figure, (document["id"], block["family"])
            assert (page.parent / figure.group(1)).resolve().is_file()
        pooled = sum(block["status"] == "ok" for block in document["by_family"])
        unpooled = len(document["by_family"]) - pooled
        phrase = "stays the pre-specified analysis; every specification pools this kind"
        assert words.count(phrase) == pooled, document["id"]
        assert words.count("No multiverse for this kind of outcome") == unpooled


def test_the_sidebar_lists_checks_of_the_pipeline_apart_from_the_findings():
    """Live corpus: an analysis of ``kind: check`` is never listed among the findings."""
    import yaml
    from test_book_fixtures import shipped_site

    site, documents = shipped_site()
    toc = yaml.safe_load((site.parents[1] / "book" / "_generated" / "_toc.yml").read_text("utf-8"))
    parts = {p["caption"]: [c["file"] for c in p["chapters"]] for p in toc["parts"]}
    for document in documents:
        listed = f"_generated/analyses/{document['id']}"
        where = "Checks of the pipeline" if document.get("kind") == "check" else "Findings"
        assert listed in parts[where], (document["id"], where)
        assert sum(listed in files for files in parts.values()) == 1, document["id"]
