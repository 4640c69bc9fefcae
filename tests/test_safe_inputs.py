"""Inputs are regular files inside the repository; nothing is written through a link.

Issue 18, item 2: a record, spec, bibliography, screening file or guide that is a symbolic
link out of its directory, a link loop, a FIFO, a device or a directory is one problem
naming the link and its target (never the file's content), never a traceback; an empty
or non-BibTeX bibliography is an error; `evidence new` does not write through links.
Every test also checks that nothing outside the intended output changed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fs_snapshot import changed, make_project, make_sentinel, snapshot
from test_diff_git import repository as repository  # the fixture

from evidence.cli import main
from evidence.records.validate import validate_paths

SECRET = "ghp_not_a_real_token_0123456789"
ENTRY = "@article{fresh2020,\n  author = {Fresh, A.},\n  title = {T},\n  year = {2020}\n}\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """tmp_path/repo (the working directory) and tmp_path/sentinel (someone's files)."""
    root = make_project(tmp_path / "repo")
    sentinel = make_sentinel(tmp_path / "sentinel")
    (sentinel / "secret.txt").write_text(f"token: {SECRET}\n", encoding="utf-8")
    shutil.copyfile(root / "studies" / "alpha2001.yaml", sentinel / "alpha2001.yaml")
    monkeypatch.chdir(root)
    return root


def lines_about(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{name}:")]


def test_validate_names_each_unsafe_record_once_and_never_its_content(project, capsys):
    studies = project / "studies"
    (studies / "evil.yaml").symlink_to("../../sentinel/secret.txt")
    (studies / "outside.yaml").symlink_to(project.parent / "sentinel" / "alpha2001.yaml")
    (studies / "loop-a.yaml").symlink_to("loop-b.yaml")
    (studies / "loop-b.yaml").symlink_to("loop-a.yaml")
    (studies / "zero.yaml").symlink_to("/dev/zero")
    (studies / "gone.yaml").symlink_to("nowhere.yaml")
    (studies / "folder.yaml").mkdir()
    os.mkfifo(studies / "pipe.yaml")
    before = snapshot(project.parent)
    assert main(["validate", "studies"]) == 1
    out, err = capsys.readouterr()
    text = out + err
    expected = {
        "evil.yaml": "is a symbolic link to ../../sentinel/secret.txt, outside studies; input "
        "files must be regular files inside studies (copy the file there instead "
        "of linking to it) [link-outside]",
        "outside.yaml": f"is a symbolic link to {project.parent}/sentinel/alpha2001.yaml, "
        "outside studies",
        "loop-a.yaml": "is a symbolic link to loop-b.yaml, which never reaches a file (a loop "
        "of links); replace the link with the file itself [file-unreadable]",
        "zero.yaml": "is a symbolic link to /dev/zero, outside studies",
        "gone.yaml": "is a symbolic link to nowhere.yaml, which does not exist",
        "folder.yaml": "is a directory, not a regular file [file-unreadable]",
        "pipe.yaml": "is a FIFO (named pipe), not a regular file [file-unreadable]",
    }
    for name, message in expected.items():
        found = lines_about(text, f"studies/{name}")
        assert len(found) == 1 and message in found[0], (name, found)
    assert SECRET not in text and "Traceback" not in text
    assert changed(before, snapshot(project.parent)) == set()


def test_a_valid_record_outside_the_repository_is_never_pooled(project, capsys):
    (project / "studies" / "outside.yaml").symlink_to("../../sentinel/alpha2001.yaml")
    (project / "studies" / "alpha2001.yaml").unlink()
    before = snapshot(project.parent)
    assert main(["run", "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert (
        "studies/outside.yaml:0:0: is a symbolic link to ../../sentinel/alpha2001.yaml, "
        "outside studies" in err
    )
    assert changed(before, snapshot(project.parent)) == set()  # nothing fitted or written


def test_link_loops_in_studies_and_analyses_are_problems_not_tracebacks(project, capsys):
    (project / "studies" / "loop.yaml").symlink_to("loop.yaml")
    (project / "studies" / "references.bib").unlink()
    (project / "studies" / "references.bib").symlink_to("references.bib")
    (project / "analyses" / "spec.yaml").symlink_to("../../sentinel/secret.txt")
    before = snapshot(project.parent)
    assert main(["run", "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and SECRET not in err
    assert len(lines_about(err, "studies/loop.yaml")) == 1
    assert (
        "studies/references.bib:0:0: is a symbolic link to references.bib, which never "
        "reaches a file (a loop of links)" in err
    )
    assert (
        "analyses/spec.yaml:0:0: is a symbolic link to ../../sentinel/secret.txt, outside "
        "analyses; input files must be regular files inside analyses" in err
    )
    assert changed(before, snapshot(project.parent)) == set()


@pytest.mark.parametrize(
    "content", ["", f"{SECRET}\nnot BibTeX at all\n"], ids=["empty", "not-bibtex"]
)
def test_a_bibliography_without_entries_is_an_error_when_records_cite_keys(project, content):
    (project / "studies" / "references.bib").write_text(content, encoding="utf-8")
    problems = validate_paths(["studies"])
    empty = [p for p in problems if p.rule == "bib-empty"]
    assert [(p.path, p.severity) for p in empty] == [("studies/references.bib", "error")]
    assert "holds no BibTeX entry, but records cite 5 keys (e.g. 'alpha2001')" in empty[0].message
    assert all(SECRET not in p.message for p in problems)


def test_a_bibliography_linked_out_of_the_repository_is_not_read(project, capsys):
    bib = project / "studies" / "references.bib"
    bib.unlink()
    bib.symlink_to("../../sentinel/secret.txt")
    before = snapshot(project.parent)
    assert main(["validate", "studies"]) == 1
    out = capsys.readouterr().out
    assert (
        "studies/references.bib:0:0: is a symbolic link to ../../sentinel/secret.txt, "
        "outside studies"
        in out
        and "[link-outside]" in out
    )
    assert SECRET not in out
    assert changed(before, snapshot(project.parent)) == set()


def test_new_never_writes_a_bibliography_through_a_link(project, capsys):
    # the study's entry goes to studies/<id>.bib: a link there is refused, never written
    outside = project.parent / "sentinel" / "shared.bib"
    shutil.copyfile(project / "studies" / "references.bib", outside)
    (project / "studies" / "fresh2020.bib").symlink_to(outside)
    entry = project.parent / "entry.bib"
    entry.write_text(ENTRY, encoding="utf-8")
    before = snapshot(project.parent)
    assert main(["new", "fresh2020", "--bib", str(entry)]) == 1
    err = capsys.readouterr().err
    assert (
        f"studies/fresh2020.bib:0:0: is a symbolic link to {outside}; evidence new does "
        "not write the BibTeX entry through a link (replace the link with a regular "
        "file, or remove it) [file-is-link]" in err
    )
    assert changed(before, snapshot(project.parent)) == set()


def test_new_never_reads_a_linked_shared_bibliography(project, capsys):
    outside = project.parent / "sentinel" / "shared.bib"
    shutil.copyfile(project / "studies" / "references.bib", outside)
    bib = project / "studies" / "references.bib"
    bib.unlink()
    bib.symlink_to(outside)
    entry = project.parent / "entry.bib"
    entry.write_text(ENTRY, encoding="utf-8")
    before = snapshot(project.parent)
    assert main(["new", "fresh2020", "--bib", str(entry)]) == 1
    err = capsys.readouterr().err
    assert f"studies/references.bib:0:0: is a symbolic link to {outside}, outside studies" in err
    assert "[link-outside]" in err
    assert changed(before, snapshot(project.parent)) == set()


def test_new_never_creates_a_record_through_a_dangling_link(project, capsys):
    (project / "studies" / "fresh2020.yaml").symlink_to("../../sentinel/planted.yaml")
    before = snapshot(project.parent)
    assert main(["new", "fresh2020"]) == 1
    err = capsys.readouterr().err
    assert (
        "studies/fresh2020.yaml:0:0: is a symbolic link to ../../sentinel/planted.yaml; "
        "evidence new does not write the record through a link" in err
    )
    assert changed(before, snapshot(project.parent)) == set()


def test_new_skips_a_record_linked_to_a_device_when_listing_cohorts(project, capsys):
    (project / "studies" / "zero.yaml").symlink_to("/dev/zero")
    before = snapshot(project.parent)
    assert main(["new", "fresh2020"]) == 0
    assert changed(before, snapshot(project.parent)) == {"repo/studies/fresh2020.yaml"}


def test_book_refuses_a_guide_or_screening_file_linked_out_of_the_repository(project, capsys):
    (project / "CONTRIBUTING.md").unlink()
    (project / "CONTRIBUTING.md").symlink_to("../sentinel/secret.txt")
    (project / "studies" / "screening.yaml").symlink_to("../../sentinel/secret.txt")
    before = snapshot(project.parent)
    assert main(["book", "--out", "site"]) == 1
    err = capsys.readouterr().err
    assert (
        "CONTRIBUTING.md:0:0: is a symbolic link to ../sentinel/secret.txt, outside the "
        "working directory; input files must be regular files inside the working "
        "directory" in err
    )
    assert len(lines_about(err, "studies/screening.yaml")) == 1
    assert "[link-outside]" in lines_about(err, "studies/screening.yaml")[0]
    assert SECRET not in err
    assert changed(before, snapshot(project.parent)) == set()


@pytest.mark.parametrize("command", ["effects", "pool"])
def test_a_csv_that_is_a_fifo_or_a_device_is_named_as_such(project, capsys, command):
    os.mkfifo(project / "pipe.csv")
    (project / "zero.csv").symlink_to("/dev/zero")
    assert main([command, "pipe.csv"]) == 1
    assert (
        "pipe.csv:0:0: is a FIFO (named pipe), not a regular file; save the table to a CSV "
        "file and give its path [csv-file]" in capsys.readouterr().err
    )
    assert main([command, "zero.csv"]) == 1
    assert (
        "zero.csv:0:0: is a symbolic link to /dev/zero, which is a character device, not "
        "a regular file; save the table to a CSV file and give its path [csv-file]"
        in capsys.readouterr().err
    )


def test_new_with_a_bib_file_that_is_a_fifo_does_not_hang(project, capsys):
    os.mkfifo(project / "entry.bib")
    assert main(["new", "fresh2020", "--bib", "entry.bib"]) == 1
    assert (
        "entry.bib:0:0: is a FIFO (named pipe), not a regular file [bib-unreadable]"
        in capsys.readouterr().err
    )
    assert not Path("studies/fresh2020.yaml").exists()


def test_diff_with_a_link_loop_for_a_directory_is_a_problem_not_a_traceback(repository, capsys):
    (repository / "loop").symlink_to("loop")
    assert main(["diff", "--studies", "loop"]) == 1
    assert (
        "loop:0:0: no such directory in the working tree [file-unreadable]"
        in capsys.readouterr().err
    )
