"""``evidence show STUDY`` and the new-study section of ``evidence diff``'s comment.

Run on a copy of the repository with two real studies added (tests/fixtures/new-studies):
giles2005 joins isolation-mortality, anderson2024 is selected by no analysis. The
asserted relations (one more effect with the study than without; the study's effect
pooled) hold whatever else the corpus holds.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evidence.analyses.show import render_show, show_study
from evidence.cli import main
from evidence.commands.diff import _new_studies

REPO = Path(__file__).resolve().parents[1]
NEW_STUDIES = Path(__file__).parent / "fixtures" / "new-studies"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for name in ("studies", "analyses"):
        shutil.copytree(REPO / name, root / name)
    for path in NEW_STUDIES.iterdir():
        shutil.copy(path, root / "studies" / path.name)
    return root


def test_a_study_in_a_pooled_analysis_shows_its_use_and_its_weight(corpus):
    view = show_study("giles2005", corpus / "studies", corpus / "analyses")
    friends, confidants = view.effects
    assert friends.statistic == "HR 0.78 [0.65, 0.92]"
    assert [(u.analysis, u.included) for u in friends.uses] == [("isolation-mortality", True)]
    assert confidants.uses == ()
    (joined,) = view.influence
    assert joined.analysis == "isolation-mortality"
    assert joined.k_with == joined.k_without + 1
    assert joined.with_study is not None and joined.without_study is not None
    assert joined.with_study != joined.without_study
    text = render_show(view)
    assert "isolation-mortality: included" in text and "selected by no analysis" in text
    assert "without it (k = " in text


def test_a_study_no_analysis_selects_says_so(corpus):
    view = show_study("anderson2024", corpus / "studies", corpus / "analyses")
    assert view.effects and all(effect.uses == () for effect in view.effects)
    assert view.influence == ()
    assert "selected by no analysis" in render_show(view)


def test_unknown_study_is_a_problem_with_a_suggestion(corpus, monkeypatch, capsys):
    monkeypatch.chdir(corpus)
    assert main(["show", "giles2050"]) == 1
    assert "no study with the id 'giles2050'; did you mean 'giles2005'?" in capsys.readouterr().err


def test_the_pull_request_comment_shows_each_new_study(corpus):
    text = _new_studies(("giles2005", "anderson2024"), corpus / "studies", corpus / "analyses")
    assert text.startswith("### New studies")
    assert "#### giles2005: prospective-cohort" in text
    assert "- isolation-mortality: " in text and "without it (k = " in text
    assert "#### anderson2024" in text and "selected by no analysis" in text
