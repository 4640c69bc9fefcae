"""Open the built site in headless Chromium as a reader would.

The landing page and an analysis page are copied beside themselves with a small probe
script injected first in ``<head>``: it records script errors, failed resource loads,
``console.error`` calls and unhandled promise rejections, and at ``load`` writes every
image's natural width into the DOM, which ``chromium --dump-dom`` returns. No remote
debugging, no extra package. Skipped, with the reason, when Chromium is not installed.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from test_book_fixtures import hostile_site

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PROBE = """<script>
window.__problems = [];
window.addEventListener("error", function (event) {
  var target = event.target || {};
  window.__problems.push(event.message || ("failed to load " + (target.src || target.href)));
}, true);
window.addEventListener("unhandledrejection", function (event) {
  window.__problems.push("unhandled rejection: " + event.reason);
});
var __consoleError = console.error;
console.error = function () {
  window.__problems.push("console.error: " + Array.prototype.join.call(arguments, " "));
  return __consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  // The load event waits for every image; the report is written at once (a timer may
  // not fire before --dump-dom serialises the page).
  var images = Array.prototype.map.call(document.images, function (image) {
    return {src: image.getAttribute("src"), width: image.naturalWidth, alt: image.alt,
            complete: image.complete};
  });
  var report = document.createElement("pre");
  report.id = "browser-probe";
  report.textContent = JSON.stringify({images: images, problems: window.__problems});
  document.body.appendChild(report);
});
</script>"""


#: Added to the catalogue probe: filter the table, then sort it by the first column twice.
CATALOGUE_PROBE = """<script>
window.addEventListener("load", function () {
  var input = document.querySelector("input.catalogue-filter");
  var rows = function () {
    return Array.prototype.filter.call(
      document.querySelectorAll("div.sortable-table tbody tr"),
      function (row) { return !row.hidden; }).map(function (row) {
        return row.cells[0].textContent.trim(); });
  };
  var result = {filter: input !== null, all: rows()};
  if (input) {
    input.value = "zzz-no-such-study";
    input.dispatchEvent(new Event("input"));
    result.none = rows();
    input.value = "BENIGN";
    input.dispatchEvent(new Event("input"));
    result.benign = rows();
    input.value = "";
    input.dispatchEvent(new Event("input"));
  }
  var button = document.querySelector("div.sortable-table th button.sort-button");
  if (button) {
    button.click();
    result.ascending = rows();
    button.click();
    result.descending = rows();
  }
  var report = document.createElement("pre");
  report.id = "catalogue-probe";
  report.textContent = JSON.stringify(result);
  document.body.appendChild(report);
});
</script>"""


def _open(page: Path, extra: str = "") -> dict:
    probe_page = page.with_name(f"probe-{page.name}")
    text = page.read_text(encoding="utf-8")
    probe_page.write_text(text.replace("<head>", "<head>" + PROBE + extra, 1), encoding="utf-8")
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
                "--virtual-time-budget=5000",
                "--dump-dom",
                probe_page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    probe_page.unlink()
    # The theme adds attributes (tabindex) to every <pre>.
    found = dict(
        re.findall(r'<pre id="([a-z-]+-probe)"[^>]*>(.*?)</pre>', completed.stdout, re.DOTALL)
    )
    assert "browser-probe" in found, (
        f"the probe did not report; chromium said: {completed.stderr[-2000:]}"
    )
    report = json.loads(html.unescape(found["browser-probe"]))
    if "catalogue-probe" in found:
        report["catalogue"] = json.loads(html.unescape(found["catalogue-probe"]))
    return report


@pytest.fixture(scope="module")
def site():
    if CHROMIUM is None:
        pytest.skip(
            "headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)"
        )
    return hostile_site()


@pytest.mark.parametrize("page", ["index.html", "_generated/analyses/isolation-mortality.html"])
def test_page_figures_load_without_errors(site, page):
    report = _open(site / page)
    assert report["problems"] == []
    assert report["images"], "expected at least one figure"
    for image in report["images"]:
        assert image["width"] > 0, image
        assert image["alt"], image


def test_catalogue_filters_and_sorts_in_the_browser(site):
    report = _open(site / "_generated" / "catalogue.html", CATALOGUE_PROBE)
    assert report["problems"] == []
    catalogue = report["catalogue"]
    assert catalogue["filter"] is True
    assert catalogue["all"] == ["benign1999", "hostile2001"]
    assert catalogue["none"] == []
    assert catalogue["benign"] == ["benign1999"]
    assert catalogue["ascending"] == ["benign1999", "hostile2001"]
    assert catalogue["descending"] == ["hostile2001", "benign1999"]
