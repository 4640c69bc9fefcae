"""Outputs are written whole, checked by hash, and only an analysis's own (issue 18, item 3).

- every output goes to a temporary file renamed into place (never half a file, never
  through a link);
- the sha256 of the effects CSV and of every figure is in the results' provenance, and a
  truncated or edited output makes the analysis run again instead of "unchanged, skipped";
- analysis ``x`` removes only its own stale figures, never those of ``x-bubble-y``;
- ``evidence diff`` removes the worktrees that killed runs left behind, and only those.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile

import pytest
from fs_snapshot import make_sentinel, snapshot
from test_diff_git import git
from test_diff_git import repository as repository  # the fixture
from test_runner import SPEC, STUDIES, write_corpus

from evidence.analyses.runner import write_if_changed
from evidence.cli import main

#: Ten independent samples: a meta-regression (and so its bubble plot) needs at least ten.
TEN_STUDIES = STUDIES + [
    (f"{sid[:-4]}x{int(sid[-4:]) + 1}", cohort, measure, value, lo, hi, higher, n)
    for sid, cohort, measure, value, lo, hi, higher, n in STUDIES
]


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """Ten records and two analyses in tmp_path/repo, the working directory."""
    root = tmp_path / "repo"
    root.mkdir()
    write_corpus(root, studies=TEN_STUDIES)
    monkeypatch.chdir(root)
    return root


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_truncated_effects_csv_or_figure_is_noticed_and_written_again(corpus, capsys):
    assert main(["run"]) == 0
    build = corpus / "build"
    document = json.loads((build / "results" / "isolation.json").read_text("utf-8"))
    outputs = document["provenance"]["outputs"]
    assert set(outputs) == {
        "results/isolation-effects.csv",
        *document["figures"].values(),
        *document["multiverse"]["files"].values(),
    }
    assert "figures/isolation-forest.svg" in outputs
    assert all(sha256(build / relative) == digest for relative, digest in outputs.items())
    whole = snapshot(build)
    effects = build / "results" / "isolation-effects.csv"
    effects.write_bytes(effects.read_bytes()[:40])
    forest = build / "figures" / "isolation-forest.svg"
    forest.write_bytes(forest.read_bytes()[:200])
    capsys.readouterr()
    assert main(["run"]) == 0
    progress = capsys.readouterr().err
    assert "isolation: unchanged, skipped" not in progress
    assert "few: unchanged, skipped" in progress
    assert snapshot(build) == whole


def test_an_analysis_never_deletes_the_figures_of_one_whose_id_extends_its_own(corpus):
    longer = SPEC.format(
        id="isolation-bubble-y", select="{outcome.domain: mortality}", dependence="multilevel"
    )
    (corpus / "analyses" / "isolation-bubble-y.yaml").write_text(longer, encoding="utf-8")
    assert main(["run"]) == 0
    build = corpus / "build"
    figures = json.loads((build / "results" / "isolation-bubble-y.json").read_text("utf-8"))[
        "figures"
    ]
    assert "bubble-follow-up-years" in figures
    assert all((build / relative).is_file() for relative in figures.values())
    spec = corpus / "analyses" / "isolation.yaml"  # drop the moderator: its bubble is stale
    spec.write_text(
        spec.read_text("utf-8").replace("moderators: [follow_up_years]\n", ""), encoding="utf-8"
    )
    assert main(["run", "isolation"]) == 0
    assert not (build / "figures" / "isolation-bubble-follow-up-years.svg").exists()
    assert (build / "figures" / "isolation-forest.svg").is_file()
    assert all((build / relative).is_file() for relative in figures.values())


def test_outputs_replace_a_symbolic_link_instead_of_writing_through_it(corpus, tmp_path):
    sentinel = make_sentinel(tmp_path / "sentinel")
    results = corpus / "build" / "results"
    results.mkdir(parents=True)
    (results / "index.json").symlink_to(sentinel / "precious.txt")
    (results / "isolation-effects.csv").symlink_to(sentinel / "sub" / "notes.md")
    before = snapshot(sentinel)
    assert main(["run", "--no-figures"]) == 0
    assert snapshot(sentinel) == before
    assert not (results / "index.json").is_symlink()
    assert [row["id"] for row in json.loads((results / "index.json").read_text("utf-8"))] == [
        "few",
        "isolation",
    ]
    assert (results / "isolation-effects.csv").read_text("utf-8").startswith("study,effect,")


def test_a_write_that_fails_leaves_the_old_file_whole_and_no_leftovers(tmp_path, monkeypatch):
    target = tmp_path / "index.json"
    target.write_text("[]\n", encoding="utf-8")

    def disk_full(*_arguments):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        write_if_changed(target, '[{"id": "new"}]\n')
    assert target.read_text("utf-8") == "[]\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json"]


def test_diff_removes_worktrees_left_by_killed_runs_and_only_those(
    repository, tmp_path, monkeypatch, capsys
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    dead = temporary / "evidence-diff-dead" / "base"  # its run was killed: no lock held
    live = temporary / "evidence-diff-live" / "base"  # another diff, still running
    mine = tmp_path / "my-worktree"  # the user's own
    for worktree in (dead, live, mine):
        git(repository, "worktree", "add", "--detach", "--quiet", str(worktree), "HEAD")
    (dead.parent / ".lock").touch()
    descriptor = os.open(live.parent / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        assert main(["diff"]) == 0
    finally:
        os.close(descriptor)
    listed = git(repository, "worktree", "list", "--porcelain")
    assert f"worktree {dead}\n" not in listed and not dead.parent.exists()
    assert f"worktree {live}\n" in listed and f"worktree {mine}\n" in listed
    assert sorted(p.name for p in temporary.iterdir()) == ["evidence-diff-live"]  # own: gone
