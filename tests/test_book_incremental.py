"""The site is built beside the published one and swapped in whole; only changes are rebuilt.

Issue 17 (incremental site, a killed build) and issue 12 (a no-op ``make`` rebuilds
nothing). One small corpus is built once (a full Sphinx build); the tests then change it
step by step, in order.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_book_fixtures import (
    BENIGN_RECORD,
    REPOSITORY,
    make_result,
    write_results,
    write_svg,
)

import evidence.report.book as book_module
from evidence.errors import EvidenceError
from evidence.report.book import build_book
from evidence.report.book.incremental import manifest, sibling

pytestmark = pytest.mark.slow

BIB = (
    "@article{benign1999,\n  author = {Benign, Ann},\n  title = {A benign study},\n"
    "  year = {1999}\n}\n"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("incremental")
    studies = root / "studies"
    studies.mkdir()
    (studies / "benign1999.yaml").write_text(BENIGN_RECORD)
    (studies / "references.bib").write_text(BIB)
    build = root / "build"
    write_svg(build / "figures" / "isolation-mortality-forest.svg", "Forest plot", "Forest")
    write_svg(build / "figures" / "summary-forest.svg", "Summary", "Pooled estimates")
    result = make_result(figures={"forest": "figures/isolation-mortality-forest.svg"})
    write_results(
        build / "results",
        [result],
        {
            result["id"]: [
                "benign1999,isolation-mortality,Benign,,benign1999,true,,HR,1.5,1.2,1.9,"
                "0.405,0.0142,0.119,100.0,log-ratio,false,fully-adjusted,low,1999"
            ]
        },
    )
    book = root / "book"
    shutil.copytree(
        REPOSITORY / "book", book, ignore=shutil.ignore_patterns("_generated", "_build")
    )
    paths = {"results": build / "results", "studies": studies, "site": build / "site"}
    paths["book"] = book
    summary = build_book(paths["results"], studies, paths["site"], book)
    assert summary.build == "full"
    return paths


def _build(corpus: dict[str, Path]):
    return build_book(corpus["results"], corpus["studies"], corpus["site"], corpus["book"])


def _study_page(corpus: dict[str, Path]) -> Path:
    return corpus["site"] / "_generated" / "studies" / "benign1999.html"


def test_1_nothing_changed_builds_nothing(corpus):
    before = manifest(corpus["site"])
    times = {p: p.stat().st_mtime_ns for p in corpus["site"].rglob("*") if p.is_file()}
    assert _build(corpus).build == "unchanged"
    assert manifest(corpus["site"]) == before
    assert {p: p.stat().st_mtime_ns for p in corpus["site"].rglob("*") if p.is_file()} == times
    # beside the site: only the working copy (no staging or old copy left behind)
    names = {p.name for p in corpus["site"].parent.iterdir()}
    assert ".site.work" in names and ".site.new" not in names and ".site.old" not in names


def _book_command(corpus: dict[str, Path]) -> list[str]:
    return [
        "book",
        *("--results", str(corpus["results"]), "--studies", str(corpus["studies"])),
        *("--out", str(corpus["site"]), "--book", str(corpus["book"])),
    ]


def test_1b_the_command_answers_a_no_op_from_its_stamp(corpus, monkeypatch, capsys):
    from evidence.cli import main
    from evidence.report.book import noop

    assert main(_book_command(corpus)) == 0  # nothing changed: records the stamp
    first = capsys.readouterr().out

    def must_not_build(*args, **kwargs):
        raise AssertionError("built although nothing changed")

    monkeypatch.setattr(book_module, "build_book", must_not_build)
    assert main(_book_command(corpus)) == 0
    assert capsys.readouterr().out == first
    assert "is up to date (nothing changed)" in first
    key = noop.book_key(corpus["results"], corpus["studies"], corpus["site"], corpus["book"])
    assert noop.unchanged(corpus["site"], key) is not None
    # a byte of a record, a result, the book source, a published file: no stamped answer
    record = corpus["studies"] / "benign1999.yaml"
    text = record.read_text()
    for path in (record, corpus["results"] / "index.json", corpus["book"] / "methods.md"):
        original, times = path.read_bytes(), path.stat()
        path.write_bytes(original + b"\n")
        changed = noop.book_key(
            corpus["results"], corpus["studies"], corpus["site"], corpus["book"]
        )
        assert noop.unchanged(corpus["site"], changed) is None, path.name
        path.write_bytes(original)
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))  # Sphinx reads mtimes
    assert record.read_text() == text
    assert noop.unchanged(corpus["site"], key) is not None
    page = corpus["site"] / "index.html"
    page.write_bytes(page.read_bytes())  # same bytes, new time: not the site we built
    assert noop.unchanged(corpus["site"], key) is None
    monkeypatch.undo()
    assert _build(corpus).build == "unchanged"  # restores nothing: the site is intact


def test_2_one_changed_record_rebuilds_its_page_only(corpus):
    unrelated = corpus["site"] / "methods.html"
    written = unrelated.stat().st_mtime_ns
    record = corpus["studies"] / "benign1999.yaml"
    record.write_text(record.read_text().replace("description: ", "description: CHANGED "))
    assert _build(corpus).build == "incremental"
    assert "CHANGED" in _study_page(corpus).read_text("utf-8")
    assert unrelated.stat().st_mtime_ns == written  # not rewritten
    assert _build(corpus).build == "unchanged"


def test_3_a_truncated_published_file_is_noticed_and_restored(corpus):
    page = _study_page(corpus)
    whole = page.read_bytes()
    page.write_bytes(whole[:100])
    assert _build(corpus).build == "incremental"
    assert page.read_bytes() == whole


def test_4_a_build_killed_midway_leaves_the_published_site_whole(corpus, monkeypatch):
    before = manifest(corpus["site"])
    record = corpus["studies"] / "benign1999.yaml"
    record.write_text(record.read_text().replace("CHANGED", "CHANGED AGAIN"))

    def killed(book_dir, out_dir, *args, **kwargs):
        (out_dir / "index.html").parent.mkdir(parents=True, exist_ok=True)
        (out_dir / "index.html").write_text("half a page")
        raise KeyboardInterrupt  # as a SIGINT would, half-way through Sphinx

    monkeypatch.setattr(book_module, "build_html", killed)
    with pytest.raises(KeyboardInterrupt):
        _build(corpus)
    assert manifest(corpus["site"]) == before  # the published site is untouched
    work = sibling(corpus["site"], ".work")
    assert not (work / "state.json").exists()  # the next build starts from a fresh env
    monkeypatch.undo()
    assert _build(corpus).build == "full"
    assert "CHANGED AGAIN" in _study_page(corpus).read_text("utf-8")


def test_5_a_foreign_directory_beside_the_site_is_never_deleted(corpus):
    foreign = sibling(corpus["site"], ".new")
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    try:
        with pytest.raises(EvidenceError) as caught:
            _build(corpus)
        (problem,) = caught.value.problems
        assert problem.rule == "output-dir-unsafe"
        assert "already holds files evidence book did not write (notes.txt)" in problem.message
        assert (foreign / "notes.txt").read_text() == "mine"
    finally:
        shutil.rmtree(foreign)
