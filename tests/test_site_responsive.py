"""The shipped site read on a phone (390 px) and a desktop (1280 px) in headless Chromium.

Each page is opened inside an ``<iframe>`` of the exact width (a headless window cannot be
narrower than about 500 px); a probe injected into the page reports, at ``load``, through
``postMessage`` to the host page, whose DOM ``chromium --dump-dom`` returns: the page's
scroll width, every table (its width, its scroller's width, whether it was turned into
cards or given a scroll cue), every image's rendered width, the page text and any script
error or ``console.error``. Figure text is then checked from the SVG files: a font-size of
``s`` units in an SVG ``viewBox`` ``w`` wide drawn ``r`` px wide renders at ``s * r / w`` px.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SMALLEST_TEXT_PX = 11.0

PROBE = """<script>
window.__problems = [];
window.addEventListener("error", function (event) {
  var target = event.target || {};
  window.__problems.push(event.message || ("failed to load " + (target.src || target.href)));
}, true);
var __consoleError = console.error;
console.error = function () {
  window.__problems.push("console.error: " + Array.prototype.join.call(arguments, " "));
  return __consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  setTimeout(function () {
    var root = document.documentElement;
    var article = document.querySelector("article") || document.body;
    var report = {
      scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
      text: article.innerText,
      problems: window.__problems,
      images: Array.prototype.map.call(document.images, function (image) {
        return {src: image.getAttribute("src"), width: image.getBoundingClientRect().width,
                natural: image.naturalWidth, alt: image.alt};
      }),
      tables: Array.prototype.map.call(article.querySelectorAll("table"), function (table) {
        var box = table.closest("div.table-scroll");
        var scroller = table.parentElement;
        return {width: table.getBoundingClientRect().width, scroller: scroller.clientWidth,
                scrolls: getComputedStyle(scroller).overflowX !== "visible" ||
                         (box !== null && getComputedStyle(box).overflowX !== "visible"),
                cards: box !== null && box.classList.contains("labelled") &&
                       getComputedStyle(table.tBodies[0].rows[0]).display === "block",
                cue: box !== null && box.querySelector("p.scroll-cue") !== null};
      })
    };
    parent.postMessage(JSON.stringify(report), "*");
  }, 0);
});
</script>"""


def _open(page: Path, width: int) -> dict:
    probe = page.with_name(f"probe-{width}-{page.name}")
    probe.write_text(
        page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8"
    )
    host = page.with_name(f"host-{width}-{page.name}")
    host.write_text(
        "<!DOCTYPE html><html><head><title>host</title></head><body style='margin:0'>"
        "<script>window.addEventListener('message', function (e) {"
        "var p = document.createElement('pre'); p.id = 'probe'; p.textContent = e.data;"
        "document.body.appendChild(p);});</script>"
        f"<iframe src='{probe.name}' style='border:0;width:{width}px;height:2400px'>"
        "</iframe></body></html>",
        encoding="utf-8",
    )
    try:
        with tempfile.TemporaryDirectory() as profile:
            completed = subprocess.run(
                [
                    CHROMIUM,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-extensions",
                    f"--user-data-dir={profile}",
                    f"--window-size={max(width, 800)},2400",
                    "--virtual-time-budget=5000",
                    "--dump-dom",
                    host.as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
    finally:
        probe.unlink()
        host.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', completed.stdout, re.DOTALL)
    assert found, f"the probe did not report; chromium said: {completed.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def _smallest_font(svg: Path) -> tuple[float, float]:
    """Return (smallest font-size, viewBox width) of an SVG written by report.plots."""
    text = svg.read_text(encoding="utf-8")
    sizes = [float(s) for s in re.findall(r"font-size: ([0-9.]+)px", text)]
    sizes += [float(s) for s in re.findall(r"font: (?:bold |italic )*([0-9.]+)px", text)]
    width = float(ElementTree.fromstring(text.encode()).get("viewBox").split()[2])
    return min(sizes), width


@pytest.fixture(scope="module")
def site():
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`)")
    from test_book_fixtures import shipped_site

    built, documents = shipped_site()
    pooled = next(d["id"] for d in documents if d["status"] == "ok")
    not_pooled = next(d["id"] for d in documents if d["status"] == "insufficient-evidence")
    by_outcome = next((d["id"] for d in documents if d["status"] == "by-family"), not_pooled)
    study = sorted((built / "_generated" / "studies").glob("*.html"))[0]
    pages = {
        "landing": built / "index.html",
        "pooled": built / "_generated" / "analyses" / f"{pooled}.html",
        "not pooled": built / "_generated" / "analyses" / f"{not_pooled}.html",
        "by outcome": built / "_generated" / "analyses" / f"{by_outcome}.html",
        "study": study,
    }
    return built, pages


#: A field path of a record or spec (``exposure.construct``) or a snake-case field name
#: (``follow_up_years``, ``assume_rare_outcome``) that is not part of a file name.
FIELD_PATH = re.compile(
    r"\b(?:exposure|outcome|population|source|effect|subgroup|extraction|dependence|pooled)"
    r"\.[a-z_]+\b|\b[a-z]+(?:_[a-z]+)+\b(?![./\w])"
)


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("name", ["landing", "pooled", "not pooled", "by outcome", "study"])
def test_page_reads_well_on_a_phone_and_a_desktop(site, name, width):
    _built, pages = site
    page = pages[name]
    report = _open(page, width)
    assert report["problems"] == [], report["problems"]
    # no sideways scrolling of the page itself
    assert report["scrollWidth"] <= report["clientWidth"], (name, width)
    # every table fits, scrolls with a visible cue, or is shown as cards
    for table in report["tables"]:
        fits = table["width"] <= table["scroller"] + 1
        assert fits or table["cards"] or (table["scrolls"] and table["cue"]), (name, width, table)
    # reader words only: no "NA", no field paths
    text = report["text"]
    assert not re.search(r"\bNA\b", text), (name, re.findall(r".{30}\bNA\b.{30}", text)[:3])
    assert not FIELD_PATH.findall(text), (name, FIELD_PATH.findall(text)[:5])
    assert "follow_up_years" not in text and "Status: insufficient" not in text
    # figure text at least 11 px as drawn
    for image in report["images"]:
        assert image["alt"], image
        if not image["src"].endswith(".svg") or image["width"] <= 0:
            continue
        svg = (page.parent / image["src"]).resolve()
        smallest, view_width = _smallest_font(svg)
        if width == 390:
            assert smallest * image["width"] / view_width >= SMALLEST_TEXT_PX, (svg.name, image)
