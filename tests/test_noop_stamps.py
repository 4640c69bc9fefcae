"""A ``make`` with nothing changed answers from stamps; any change to an input or output runs.

Issue 17 ("a no-op ``make`` finishes in under 2 s"): ``evidence run`` and ``evidence
history`` keep stamps of what they last made (:mod:`evidence.analyses.runstamp`,
:func:`evidence.commands.history._draw_stale_figures`); ``evidence book`` its own
(:mod:`evidence.report.book.noop`, tested with the Sphinx corpus in
``test_book_incremental.py``). A stamp only ever saves time: these tests check that each
kind of change (a byte of a record, a spec, an output edited or removed, other options, a
failed run) falls through to the usual run, and that a stamped answer prints what an
unchanged run prints.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from test_runner import write_corpus

from evidence.analyses import runstamp
from evidence.analyses.runner import run_analyses
from evidence.cli import main
from evidence.errors import EvidenceError

OPTIONS = runstamp.run_options(figures=False, summary=False)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The test_runner corpus, run once completely (so a stamp exists)."""
    studies, analyses = write_corpus(tmp_path)
    out = tmp_path / "build"
    run_analyses(studies, analyses, out, figures=False, progress=io.StringIO())
    return studies, analyses, out


def replayed(project) -> str | None:
    """What a replay printed, or None when it fell through to a run."""
    studies, analyses, out = project
    stream = io.StringIO()
    return stream.getvalue() if runstamp.replay(studies, analyses, out, OPTIONS, stream) else None


def test_a_complete_run_is_replayed_as_unchanged_lines(project):
    printed = replayed(project)
    assert printed is not None
    assert printed.endswith("[1/2] few: unchanged, skipped\n[2/2] isolation: unchanged, skipped\n")
    assert "[schema-comment]" in printed  # the records' warnings, as a run prints them


def test_another_working_directory_does_not_use_the_stamp(project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path / "studies")  # warnings name files relative to it
    assert replayed(project) is None


def test_the_replay_prints_what_a_run_with_nothing_changed_prints(project):
    studies, analyses, out = project
    stream = io.StringIO()
    run_analyses(studies, analyses, out, figures=False, progress=stream)
    assert replayed(project) == stream.getvalue()


@pytest.mark.parametrize(
    "change",
    [
        "a byte of a record",
        "a spec",
        "a new file in studies",
        "an output edited",
        "an output removed",
        "the stamp edited",
        "a link among the inputs",
    ],
)
def test_any_change_falls_through_to_a_run(project, change):
    studies, analyses, out = project
    if change == "a byte of a record":
        record = studies / "beta2005.yaml"
        record.write_text(record.read_text() + "\n")
    elif change == "a spec":
        spec = next(analyses.glob("*.yaml"))
        spec.write_text(spec.read_text() + "# a comment\n")
    elif change == "a new file in studies":
        (studies / "notes.txt").write_text("x")
    elif change == "an output edited":
        effects = out / "results" / "isolation-effects.csv"
        effects.write_text(effects.read_text() + "\n")
    elif change == "an output removed":
        (out / "results" / "few.json").unlink()
    elif change == "the stamp edited":
        stamp = out / runstamp.STAMP_NAME
        stamp.write_text(stamp.read_text().replace("unchanged", "changed"))
        assert replayed(project) is not None  # the transcript is not part of the key
        stamp.write_text(stamp.read_text().replace('"key": "', '"key": "0'))
    else:
        os.symlink(studies / "beta2005.yaml", studies / "zeta.yaml.bak")
    assert replayed(project) is None


def test_other_options_or_a_partial_run_do_not_use_the_stamp(project):
    studies, analyses, out = project
    with_figures = runstamp.run_options(figures=True, summary=True)
    assert not runstamp.replay(studies, analyses, out, with_figures, io.StringIO())
    run_analyses(studies, analyses, out, ids=["few"], figures=False, progress=io.StringIO())
    assert replayed(project) is not None  # a partial run with nothing changed keeps it


def test_a_failed_run_removes_the_stamp(project, monkeypatch):
    studies, analyses, out = project
    import evidence.analyses.runner as runner

    def broken(*args, **kwargs):
        raise FloatingPointError("overflow")

    monkeypatch.setattr(runner, "run_one", broken)
    with pytest.raises(EvidenceError):
        run_analyses(studies, analyses, out, figures=False, force=True, progress=io.StringIO())
    assert not (out / runstamp.STAMP_NAME).exists()
    assert replayed(project) is None


def test_the_command_replays_without_importing_the_statistics(project, monkeypatch, capsys):
    studies, analyses, out = project
    # the stamp was made without figures; the command's default draws them: stamp again
    main(["run", "--studies", str(studies), "--analyses", str(analyses), "--out", str(out)])
    capsys.readouterr()
    monkeypatch.delitem(sys.modules, "evidence.analyses.runner", raising=False)
    monkeypatch.setitem(sys.modules, "evidence.analyses.runner", None)  # import fails
    argv = ["run", "--studies", str(studies), "--analyses", str(analyses), "--out", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().err.count("unchanged, skipped") == 2


def test_history_figures_are_drawn_once_per_history(tmp_path, monkeypatch):
    from evidence.commands import history

    folder = tmp_path / "history"
    folder.mkdir()
    written = {"a": folder / "a.json"}
    written["a"].write_text('{"id": "a", "points": []}\n')
    drawn: list[Path] = []

    def draw(document, target):
        drawn.append(target)
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(f"<svg>{len(drawn)}</svg>")

    import evidence.report.plots as plots

    monkeypatch.setattr(plots, "history_forest", draw)
    figures = tmp_path / "figures"
    history._draw_stale_figures(written, figures)
    history._draw_stale_figures(written, figures)
    assert len(drawn) == 1
    (figures / "a-history.svg").write_text("<svg>edited</svg>")
    history._draw_stale_figures(written, figures)
    assert len(drawn) == 2
    written["a"].write_text('{"id": "a", "points": [], "title": "new"}\n')
    history._draw_stale_figures(written, figures)
    assert len(drawn) == 3
