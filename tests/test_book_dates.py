"""Each page's "Last updated" date comes from the git history of its inputs.

A throwaway repository (the fixture of tests/test_diff_git.py) gets commits with fixed
committer dates (GIT_COMMITTER_DATE) later than the fixture's first commit; the
expected dates are those dates.
"""

from __future__ import annotations

import datetime
import os
import subprocess

from test_diff_git import ADDED_STUDY, repository, write_study  # noqa: F401 (fixture)

from evidence.report.book.dates import ChangeDates, change_dates, date_words, updated_line


def _commit(root, message, date):
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{date}T12:00:00+00:00"}
    env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"]
    for command in (["add", "studies", "analyses"], ["commit", "--quiet", "-m", message]):
        subprocess.run(["git", "-C", str(root), *command], check=True, env=env)


def test_each_file_is_dated_by_its_latest_commit(repository):  # noqa: F811
    (repository / "studies" / "alpha2001.yaml").write_text(
        (repository / "studies" / "alpha2001.yaml").read_text() + "notes: checked\n"
    )
    _commit(repository, "alpha notes", "2099-01-05")
    write_study(repository, ADDED_STUDY)
    _commit(repository, "gamma", "2099-02-10")
    dates = change_dates(repository)
    assert dates.dates["studies/alpha2001.yaml"] == "2099-01-05"
    assert dates.dates["studies/gamma2003.yaml"] == "2099-02-10"
    assert dates.latest(["analyses/tiny-mortality.yaml", "studies/alpha2001.yaml"]) == (
        "2099-01-05",
        False,
    )
    assert dates.everything() == ("2099-02-10", False)
    assert dates.latest(["studies/unknown.yaml"]) is None


def test_uncommitted_changes_are_dated_today_and_said_so(repository):  # noqa: F811
    path = repository / "studies" / "beta2002.yaml"
    path.write_text(path.read_text() + "notes: changed\n")
    today = datetime.date(2099, 3, 1)
    dates = change_dates(repository, today=today)
    found = dates.latest(["studies/beta2002.yaml", "studies/alpha2001.yaml"])
    assert found == ("2099-03-01", True)
    assert updated_line(found, "its records") == (
        "Last updated 1 March 2099 (including changes not yet committed): the latest "
        "change to its records."
    )


def test_outside_a_repository_no_page_is_dated(tmp_path):
    (tmp_path / "studies").mkdir()
    assert change_dates(tmp_path) == ChangeDates()
    assert updated_line(None, "anything") == ""


def test_date_words():
    assert date_words("2026-11-25") == "25 November 2026"


def test_the_shipped_site_dates_its_pages():
    from test_book_fixtures import shipped_site

    site, documents = shipped_site()
    assert "Last updated " in (site / "index.html").read_text("utf-8")
    page = site / "_generated" / "analyses" / f"{documents[0]['id']}.html"
    assert "Last updated " in page.read_text("utf-8")
