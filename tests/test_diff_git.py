"""`evidence diff` on a throwaway git repository.

Each test builds a repository in ``tmp_path`` (``git init``, a local user name and email,
a few records, one analysis and references.bib), commits it, changes the working tree and
runs ``evidence diff``. The expected pooled numbers are derived by hand below (fixed-effect
inverse-variance weights with the DerSimonian-Laird tau^2, which is 0 for these inputs).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from evidence.cli import main

RTOL_ESTIMATE = 1e-6
Z_975 = 1.959963984540054

#: (study id, cohort, HR, CI lower, CI upper): abstract-style numbers for the fixture.
BASE_STUDIES = [
    ("alpha2001", "cohort-a", 1.20, 1.00, 1.44),
    ("beta2002", "cohort-b", 1.30, 1.10, 1.54),
]
ADDED_STUDY = ("gamma2003", "cohort-c", 1.25, 1.05, 1.49)

ANALYSIS = """\
id: tiny-mortality
title: Tiny fixture analysis
question: {population: adults, exposure: social isolation, comparator: integrated,
           outcome: all-cause mortality}
select: {outcome.domain: mortality}
metric: log-risk-ratio
eligibility: {min_samples: 2, measure_families: [hazard]}
orient: fewer-ties-harmful
adjustment: most-adjusted
dependence: one-per-cohort
model: {method: DL, test: z}
"""

STUDY = """\
# yaml-language-server: $schema=../evidence/schema/study.schema.json
id: {id}
citation: {id}
year: {year}
design: prospective-cohort
cohort: {cohort}
countries: [US]
population:
  description: adults in a fixture cohort
  age_group: adult
  sex: mixed
  n: 1000
follow_up_years: 10
risk_of_bias: {{tool: not-assessed, judgement: not-assessed}}
extraction: {{status: needs-verification, source_type: abstract}}
effects:
  - id: mortality
    exposure:
      construct: social-isolation
      dimension: structural
      contrast: isolated vs not isolated
      higher_means: fewer-ties
    outcome: {{domain: mortality, name: all-cause mortality, higher_is: harmful}}
    adjustment: fully-adjusted
    statistic: {{measure: HR, value: {hr}, ci: [{lo}, {hi}]}}
    source: {{locator: abstract, quote: "HR {hr} ({lo}-{hi})"}}
"""

#: Line (1-based) of the ``statistic`` mapping in STUDY.
STATISTIC_LINE = (
    STUDY.splitlines().index("    statistic: {{measure: HR, value: {hr}, ci: [{lo}, {hi}]}}") + 1
)

BIB_ENTRY = """\
@article{{{id},
  author = {{Fixture, Anne}},
  title = {{A fixture study}},
  journal = {{Journal of Fixtures}},
  year = {{{year}}}
}}
"""


def hand_pooled(studies):
    """Inverse-variance pooled log HR with DerSimonian-Laird tau^2 (here 0).

    se_i = (ln hi - ln lo) / (2 z_0.975);  w_i = 1 / se_i^2;  mu = sum w y / sum w;
    Q = sum w (y - mu)^2;  tau2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w)).
    """
    y = [math.log(hr) for _, _, hr, _, _ in studies]
    se = [(math.log(hi) - math.log(lo)) / (2 * Z_975) for *_, lo, hi in studies]
    w = [1 / s**2 for s in se]
    mu = sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)
    q = sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True))
    c = sum(w) - sum(wi**2 for wi in w) / sum(w)
    tau2 = max(0.0, (q - (len(y) - 1)) / c)
    assert tau2 == 0.0  # the fixture is chosen so; the weights above are then final
    se_mu = math.sqrt(1 / sum(w))
    return mu, (mu - Z_975 * se_mu, mu + Z_975 * se_mu)


def git(repository: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *arguments], check=True, capture_output=True, text=True
    ).stdout


def write_study(root: Path, study) -> Path:
    study_id, cohort, hr, lo, hi = study
    year = study_id[-4:]
    path = root / "studies" / f"{study_id}.yaml"
    path.write_text(STUDY.format(id=study_id, year=year, cohort=cohort, hr=hr, lo=lo, hi=hi))
    with (root / "studies" / "references.bib").open("a") as bib:
        bib.write(BIB_ENTRY.format(id=study_id, year=year))
    return path


@pytest.fixture
def repository(tmp_path, monkeypatch):
    """A committed repository with two studies and one analysis, on branch main."""
    root = tmp_path / "repo"
    (root / "studies").mkdir(parents=True)
    (root / "analyses").mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "config", "user.name", "Test Reviewer")
    git(root, "config", "user.email", "reviewer@example.org")
    git(root, "config", "commit.gpgsign", "false")
    (root / "studies" / "references.bib").write_text("")
    for study in BASE_STUDIES:
        write_study(root, study)
    (root / "analyses" / "tiny-mortality.yaml").write_text(ANALYSIS)
    git(root, "add", "studies", "analyses")
    git(root, "commit", "--quiet", "-m", "fixture records")
    monkeypatch.chdir(root)
    return root


def repository_state(root: Path) -> tuple[str, str, str, str]:
    """Everything `evidence diff` must leave alone: status, branch, HEAD, worktrees."""
    return (
        git(root, "status", "--porcelain=v1", "--untracked-files=all"),
        git(root, "rev-parse", "--abbrev-ref", "HEAD"),
        git(root, "rev-parse", "HEAD"),
        git(root, "worktree", "list", "--porcelain"),
    )


# --- git handling (no runner needed) ---------------------------------------------------


def test_not_a_repository_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["diff"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("evidence diff: not a git repository")
    assert len(error.strip().splitlines()) == 1


def test_a_repository_without_commits_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys):
    git(tmp_path, "init", "--quiet")
    monkeypatch.chdir(tmp_path)
    assert main(["diff"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("evidence diff: no commit to compare with")
    assert len(error.strip().splitlines()) == 1


def test_unknown_ref_is_a_one_line_usage_error(repository, capsys):
    assert main(["diff", "--base", "no-such-branch"]) == 2
    error = capsys.readouterr().err
    assert error.strip() == "evidence diff: unknown git ref: no-such-branch"


def test_temporary_worktree_is_removed_even_on_error(repository):
    from evidence.analyses.gitdiff import temporary_worktree

    before = repository_state(repository)
    with pytest.raises(RuntimeError), temporary_worktree(repository, "HEAD") as worktree:
        assert (worktree / "studies" / "alpha2001.yaml").is_file()
        raise RuntimeError("the run failed")
    assert not worktree.exists()
    assert repository_state(repository) == before


def test_default_base_is_the_merge_base_with_main(repository):
    from evidence.analyses.gitdiff import default_base

    main_commit = git(repository, "rev-parse", "HEAD").strip()
    assert default_base(repository) == "HEAD"
    git(repository, "checkout", "--quiet", "-b", "add-gamma")
    write_study(repository, ADDED_STUDY)
    git(repository, "add", "studies")
    git(repository, "commit", "--quiet", "-m", "add gamma")
    assert default_base(repository) == main_commit


# --- full runs (need the analysis runner) ----------------------------------------------


@pytest.fixture
def runner():
    return pytest.importorskip(
        "evidence.analyses.runner",
        reason="evidence.analyses.runner (run_analyses) is not written yet",
    )


def test_no_op_reports_no_change(repository, runner, capsys):
    before = repository_state(repository)
    assert main(["diff"]) == 0
    assert capsys.readouterr().out == "no change\n"
    assert repository_state(repository) == before


def test_diff_from_a_subdirectory_finds_the_records_at_the_root(
    repository, runner, monkeypatch, capsys
):
    monkeypatch.chdir(repository / "analyses")
    assert main(["diff"]) == 0
    assert capsys.readouterr().out == "no change\n"


def test_adding_a_study_reports_k_and_estimate(repository, runner, capsys):
    write_study(repository, ADDED_STUDY)
    before = repository_state(repository)
    assert main(["diff", "--format", "json"]) == 0
    assert repository_state(repository) == before
    (analysis,) = json.loads(capsys.readouterr().out)["analyses"]
    assert analysis["kind"] == "changed"
    assert analysis["before"]["k"] == 2
    assert analysis["after"]["k"] == 3
    for side, studies in (("before", BASE_STUDIES), ("after", [*BASE_STUDIES, ADDED_STUDY])):
        mu, (lower, upper) = hand_pooled(studies)
        assert_allclose(analysis[side]["estimate"], math.exp(mu), rtol=RTOL_ESTIMATE)
        assert_allclose(
            analysis[side]["ci"], [math.exp(lower), math.exp(upper)], rtol=RTOL_ESTIMATE
        )


def test_a_study_that_moves_the_ci_off_the_null_is_flagged_first(repository, runner, capsys):
    for path in (repository / "studies").glob("*.yaml"):
        path.unlink()
    (repository / "studies" / "references.bib").write_text("")
    null_straddling = [
        ("delta2004", "cohort-d", 1.10, 0.90, 1.34),
        ("epsilon2005", "cohort-e", 1.05, 0.85, 1.30),
    ]
    for study in null_straddling:
        write_study(repository, study)
    git(repository, "add", "--all", "studies")
    git(repository, "commit", "--quiet", "-m", "two studies whose pooled CI includes 1")
    precise = ("zeta2006", "cohort-f", 1.20, 1.10, 1.31)
    write_study(repository, precise)
    _, (lower_before, upper_before) = hand_pooled(null_straddling)
    _, (lower_after, upper_after) = hand_pooled([*null_straddling, precise])
    assert lower_before < 0 < upper_before and 0 < lower_after  # the hand-derived premise
    assert main(["diff", "--format", "json"]) == 0
    (analysis,) = json.loads(capsys.readouterr().out)["analyses"]
    assert "ci-excludes-null" in [flag["rule"] for flag in analysis["flags"]]
    assert_allclose(
        analysis["after"]["ci"], [math.exp(lower_after), math.exp(upper_after)], rtol=RTOL_ESTIMATE
    )
    assert main(["diff"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Changed conclusions:\n  ! tiny-mortality: the CI now excludes the null")


def test_adding_a_study_renders_a_markdown_table(repository, runner, capsys):
    write_study(repository, ADDED_STUDY)
    assert main(["diff", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "### `tiny-mortality`" in markdown
    assert "| **k (effects)** | 2 | 3 |" in markdown


def test_broken_record_fails_with_its_file_and_line(repository, runner, capsys):
    path = write_study(repository, ("broken2004", "cohort-d", 1.2, 1.44, 1.0))
    before = repository_state(repository)
    assert main(["diff"]) == 1
    error = capsys.readouterr().err
    relative = path.relative_to(repository)
    assert f"{relative}:{STATISTIC_LINE}:" in error
    assert "Traceback" not in error
    assert repository_state(repository) == before


def test_invalid_records_at_the_base_are_reported_with_the_ref(repository, runner, capsys):
    broken = write_study(repository, ("broken2004", "cohort-d", 1.2, 1.44, 1.0))
    git(repository, "add", "studies")
    git(repository, "commit", "--quiet", "-m", "a broken record on main")
    broken.write_text(broken.read_text().replace("ci: [1.44, 1.0]", "ci: [1.0, 1.44]"))
    assert main(["diff"]) == 1
    error = capsys.readouterr().err
    assert f"HEAD: studies/broken2004.yaml:{STATISTIC_LINE}:" in error
    assert "Traceback" not in error
    assert len(git(repository, "worktree", "list").splitlines()) == 1  # removed on error too


@pytest.mark.parametrize("option", ["--analyses", "--studies"])
@pytest.mark.parametrize("given", ["no-such-dir", "README.md"])
def test_a_missing_directory_is_an_error_not_no_change(repository, runner, capsys, option, given):
    # with no analyses directory both sides ran nothing and the diff said "no change"
    (repository / "README.md").write_text("not a directory\n")
    assert main(["diff", option, given]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{given}:0:0: no such directory in the working tree")
    assert "Traceback" not in captured.err
