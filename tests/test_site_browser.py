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


def _open(page: Path) -> dict:
    probe_page = page.with_name(f"probe-{page.name}")
    text = page.read_text(encoding="utf-8")
    probe_page.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        completed = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
             probe_page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
    probe_page.unlink()
    # The theme adds attributes (tabindex) to every <pre>.
    match = re.search(r'<pre id="browser-probe"[^>]*>(.*?)</pre>', completed.stdout, re.DOTALL)
    assert match, f"the probe did not report; chromium said: {completed.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture(scope="module")
def site():
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`; "
                    ".ci/run installs it)")
    return hostile_site()


@pytest.mark.parametrize("page", ["index.html", "_generated/analyses/isolation-mortality.html"])
def test_page_figures_load_without_errors(site, page):
    report = _open(site / page)
    assert report["problems"] == []
    assert report["images"], "expected at least one figure"
    for image in report["images"]:
        assert image["width"] > 0, image
        assert image["alt"], image
