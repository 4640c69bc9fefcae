"""Output directories: a command only deletes or rewrites what it created (issue 18, item 1).

Every refusal is one ``output-dir-unsafe`` problem, exit status 1, and leaves every file of
the project and of a sentinel directory as it was (compared by hash).
"""

from __future__ import annotations

import fcntl
import os

import pytest
from fs_snapshot import changed, make_project, make_sentinel, snapshot

from evidence.cli import main
from evidence.records.safefs import output_dir_problem


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project in tmp_path/repo (the working directory) and tmp_path/sentinel beside it."""
    root = make_project(tmp_path / "repo")
    make_sentinel(tmp_path / "sentinel")
    monkeypatch.chdir(root)
    return root


BOOK_REFUSALS = [
    (".", "it is the working directory"),
    ("..", "it contains the working directory"),
    ("studies", "it is studies, an input of evidence book"),
    ("analyses", "it holds few.yaml (records, analysis specs or a bibliography)"),
    ("book", "it is book, an input of evidence book"),
    ("build", "it contains build/results, an input of evidence book"),
    ("../sentinel", "it already holds files evidence book did not write (precious.txt, sub)"),
    ("CONTRIBUTING.md", "it is a file, not a directory"),
    ("CONTRIBUTING.md/site", "CONTRIBUTING.md is a file, not a directory"),
]


def test_book_with_build_being_a_file_is_one_problem(project, capsys):
    """Issue 18 item 8 for ``evidence book``: it crashed making its lock in build/."""
    import shutil

    shutil.rmtree(project / "build", ignore_errors=True)
    (project / "build").write_text("not a directory\n")
    before = snapshot(project.parent)
    assert main(["book"]) == 1
    error = capsys.readouterr().err
    assert (
        "build/site:0:0: evidence book will not write here: build is a file, not a directory; "
        "pass a new or empty directory with --out [output-dir-unsafe]"
    ) in error
    assert "Traceback" not in error
    assert changed(before, snapshot(project.parent)) == set()


@pytest.mark.parametrize(("out", "why"), BOOK_REFUSALS)
def test_book_refuses_an_output_directory_it_did_not_create(project, capsys, out, why):
    before = snapshot(project.parent)
    assert main(["book", "--out", out]) == 1
    error = capsys.readouterr().err
    assert f"evidence book will not write here: {why}" in error
    assert "[output-dir-unsafe]" in error and "Traceback" not in error
    assert changed(before, snapshot(project.parent)) == set()


def test_book_refuses_a_symbolic_link_as_its_output_directory(project, capsys):
    (project / "site").symlink_to(project.parent / "sentinel")
    before = snapshot(project.parent)
    assert main(["book", "--out", "site"]) == 1
    error = capsys.readouterr().err
    assert "it is a symbolic link to" in error and "[output-dir-unsafe]" in error
    assert changed(before, snapshot(project.parent)) == set()


def test_a_git_repository_is_never_an_output_directory(project, monkeypatch):
    monkeypatch.chdir(project.parent / "sentinel")
    problem = output_dir_problem(project, ".marker", "evidence book")
    assert problem is not None and "it is a git repository" in problem.message


RUN_REFUSALS = [
    (".", "it is the working directory"),
    ("..", "it contains the working directory"),
    ("studies", "it is studies, an input of evidence run"),
    ("analyses", "it is analyses, an input of evidence run"),
    ("../sentinel", "it already holds files evidence run did not write (precious.txt, sub)"),
]


@pytest.mark.parametrize(("out", "why"), RUN_REFUSALS)
def test_run_refuses_a_build_directory_it_did_not_create(project, capsys, out, why):
    before = snapshot(project.parent)
    assert main(["run", "--no-figures", "--out", out]) == 1
    error = capsys.readouterr().err
    assert f"evidence run will not write here: {why}" in error
    assert "[output-dir-unsafe]" in error and "Traceback" not in error
    assert changed(before, snapshot(project.parent)) == set()


def test_run_adopts_a_build_directory_from_before_markers(project, capsys):
    for name in ("results", "figures", "site"):
        (project / "build" / name).mkdir(parents=True)
    assert main(["run", "--no-figures"]) == 0
    assert (project / "build" / ".evidence-build").is_file()
    assert (project / "build" / "results" / "isolation.json").is_file()


@pytest.mark.slow
def test_book_replaces_only_its_own_site_and_leaves_the_doctree_neighbour(project, capsys):
    """`--out ../x/site` rebuilds a marked site; ../x/.book-doctrees (not ours) stays."""
    outside = project.parent / "x"
    (outside / ".book-doctrees").mkdir(parents=True)
    (outside / ".book-doctrees" / "data.bin").write_bytes(b"someone's doctrees\n")
    site = outside / "site"
    site.mkdir()
    (site / ".evidence-site").write_text("built earlier\n", encoding="utf-8")
    (site / "stale.html").write_text("<p>from an earlier build</p>\n", encoding="utf-8")
    before = snapshot(project.parent)
    assert main(["book", "--out", "../x/site"]) == 0
    changes = changed(before, snapshot(project.parent))
    # beside the site: the lock and the build's marked working copy (.site.work), nothing else
    assert {
        path
        for path in changes
        if not path.startswith(("repo/book/_generated", "x/site", "x/.site.work"))
    } == {"x/.evidence-book.lock"}
    assert (outside / ".site.work" / ".evidence-site").is_file()
    assert (site / "index.html").is_file() and not (site / "stale.html").exists()
    assert (site / ".evidence-site").is_file()
    assert (outside / ".book-doctrees" / "data.bin").read_bytes() == b"someone's doctrees\n"


def test_a_second_book_build_at_the_same_time_is_told_to_wait(project, capsys):
    lock = project / "build" / ".evidence-book.lock"
    lock.parent.mkdir()
    lock.touch()
    before = snapshot(project.parent)
    descriptor = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the first build
        assert main(["book"]) == 1
    finally:
        os.close(descriptor)
    error = capsys.readouterr().err
    assert "another evidence book is running with its site in build/site" in error
    assert "[output-locked]" in error
    assert changed(before, snapshot(project.parent)) == set()


def test_book_will_not_clean_generated_pages_through_a_symbolic_link(project, capsys):
    (project / "book" / "_generated").symlink_to(project.parent / "sentinel")
    before = snapshot(project.parent)
    assert main(["book", "--out", "site"]) == 1
    error = capsys.readouterr().err
    assert "book/_generated:0:0: is a symbolic link to" in error
    assert changed(before, snapshot(project.parent)) == {"repo/.evidence-book.lock"}


def test_a_lock_file_that_cannot_be_opened_says_why_and_what_to_do(tmp_path, monkeypatch):
    import errno

    from evidence.errors import EvidenceError
    from evidence.records.safefs import exclusive_lock

    lock = tmp_path / "site.lock"
    lock.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(EvidenceError) as caught, exclusive_lock(lock, "busy"):
        pass
    (problem,) = caught.value.problems
    assert problem.rule == "output-locked"
    assert problem.message.endswith("remove the link (the lock file is never written through one)")
    assert not (tmp_path / "elsewhere").exists()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("evidence.records.safefs.os.open", read_only)
    with pytest.raises(EvidenceError) as caught, exclusive_lock(tmp_path / "b.lock", "busy"):
        pass
    (problem,) = caught.value.problems
    assert problem.message == (
        f"cannot open the lock file: read-only file system; make {tmp_path} writable or pass "
        "another directory with --out"
    )
