"""The evidence history: each analysis's pooled estimate after each change to its inputs.

A throwaway repository (the fixture of tests/test_diff_git.py: two studies and one
analysis pooled with DerSimonian-Laird, fixed effect here because tau^2 = 0) gets more
commits; the expected estimates are derived by hand with ``hand_pooled`` of that module
(inverse-variance weights, z intervals).
"""

from __future__ import annotations

import json
import math

import pytest
from numpy.testing import assert_allclose
from test_diff_git import (  # noqa: F401 (repository is a fixture)
    ADDED_STUDY,
    BASE_STUDIES,
    git,
    hand_pooled,
    repository,
    write_study,
)

from evidence.analyses import history as history_module
from evidence.analyses.history import HistoryUnavailableError, histories
from evidence.cli import main
from evidence.report.book.appraisal import history_section
from evidence.report.plots.history import history_description, history_figure, history_rows
from evidence.report.plots.scale import Scale

RTOL_ESTIMATE = 1e-6
ID = "tiny-mortality"


def _commit(root, message):
    git(root, "add", "studies", "analyses")
    git(root, "commit", "--quiet", "-m", message)


@pytest.fixture
def grown(repository):  # noqa: F811
    """Commit 2 adds a study; commit 3 only asks for a funnel plot (a diagnostic)."""
    write_study(repository, ADDED_STUDY)
    _commit(repository, "add gamma2003")
    spec = repository / "analyses" / f"{ID}.yaml"
    spec.write_text(spec.read_text() + "bias: [funnel]\n")
    _commit(repository, "ask for a funnel plot")
    return repository


def test_one_point_per_change_to_the_inputs_with_the_estimate_of_the_time(grown, tmp_path):
    points = histories(grown, tmp_path / "build", [ID])[ID]
    # the funnel-only commit does not change what is pooled: no third point
    assert [p["k"] for p in points] == [2, 3]
    commits = git(grown, "log", "--first-parent", "--reverse", "--format=%H").split()
    assert [p["commit"] for p in points] == commits[:2]
    for point, studies in zip(points, (BASE_STUDIES, [*BASE_STUDIES, ADDED_STUDY]), strict=True):
        mu, (lower, upper) = hand_pooled(studies)
        overall = point["series"]["overall"]
        assert overall["status"] == "ok"
        assert_allclose(overall["estimate"], math.exp(mu), rtol=RTOL_ESTIMATE)
        assert_allclose(overall["ci"], [math.exp(lower), math.exp(upper)], rtol=RTOL_ESTIMATE)


def test_states_are_cached_by_commit(grown, tmp_path, monkeypatch):
    first = histories(grown, tmp_path / "build", [ID])
    assert len(list((tmp_path / "build" / "history" / "cache").glob("*.json"))) == 3

    def refit(*_arguments):
        raise AssertionError("a cached commit was fitted again")

    monkeypatch.setattr(history_module, "_run_commit", refit)
    assert histories(grown, tmp_path / "build", [ID]) == first


def test_the_working_tree_is_never_touched(grown, tmp_path):
    before = git(grown, "status", "--porcelain=v1", "--untracked-files=all")
    histories(grown, tmp_path / "build", [ID])
    assert git(grown, "status", "--porcelain=v1", "--untracked-files=all") == before
    assert git(grown, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_outside_a_repository_there_is_no_history(tmp_path):
    (tmp_path / "studies").mkdir()
    with pytest.raises(HistoryUnavailableError):
        histories(tmp_path, tmp_path / "build", [ID])


def test_the_command_writes_the_history_and_its_figure(grown, capsys):
    assert main(["history"]) == 1  # nothing run yet
    assert "run `evidence run` first" in capsys.readouterr().err
    assert main(["run", "--no-figures"]) == 0
    assert main(["history"]) == 0
    written = json.loads((grown / "build" / "history" / f"{ID}.json").read_text("utf-8"))
    assert [p["k"] for p in written["points"]] == [2, 3]
    assert written["title"] == "Tiny fixture analysis" and written["metric"] == "log-risk-ratio"
    svg = (grown / "build" / "figures" / f"{ID}-history.svg").read_text("utf-8")
    assert ">Evidence history</title>" in svg and "over 2 changes" in svg
    # the second run reads the cache: the same bytes (the first wrote keys in the order
    # it computed them, the cache sorted) and no figure drawn again, so `make` stays a no-op
    outputs = [grown / "build" / "history" / f"{ID}.json", grown / "build" / "figures"]
    outputs[1] = outputs[1] / f"{ID}-history.svg"
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in outputs}
    assert main(["history"]) == 0
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in outputs} == before


def _history(points):
    return {
        "id": ID,
        "title": "Tiny",
        "metric": "log-risk-ratio",
        "back_transform": "exp",
        "orient": "fewer-ties-harmful",
        "outcome": "death",
        "points": points,
    }


POINTS = [
    {
        "commit": "a" * 40,
        "date": "2026-11-25",
        "status": "insufficient-evidence",
        "k": 1,
        "samples": 1,
        "series": {"overall": {"status": "insufficient-evidence", "estimate": None}},
    },
    {
        "commit": "b" * 40,
        "date": "2026-12-02",
        "status": "ok",
        "k": 3,
        "samples": 3,
        "series": {"overall": {"status": "ok", "k": 3, "estimate": 1.43, "ci": [1.04, 1.97]}},
    },
]


def test_the_history_figure_has_a_row_per_change():
    scale = Scale.from_result({"metric": "log-risk-ratio", "back_transform": "exp"})
    rows = history_rows(_history(POINTS), scale)
    assert [(row.kind, row.label) for row in rows[1:3]] == [
        ("text", "25 Nov 2026, aaaaaaa"),
        ("effect", "2 Dec 2026, bbbbbbb (k = 3)"),
    ]
    assert rows[1].texts == ("not pooled",)
    assert_allclose(rows[2].estimate, math.log(1.43), rtol=RTOL_ESTIMATE)
    assert history_description(_history(POINTS)) == (
        "Evidence history over 2 changes to the analysis's inputs; first pooled 2 Dec 2026: "
        "1.43; latest 2 Dec 2026: 1.43."
    )
    assert history_figure(_history(POINTS[:1])) is None  # never pooled: nothing to draw


def test_the_history_table_on_the_analysis_page():
    text = history_section({"metric": "log-risk-ratio"}, _history(POINTS)).replace("\\", "")
    assert "| 25 November 2026 | 1 (1) | not pooled | aaaaaaaaaa |" in text
    assert "| 2 December 2026 | 3 (3) | RR 1.43 (1.04 to 1.97) | bbbbbbbbbb |" in text
    assert history_section({}, None) == ""
