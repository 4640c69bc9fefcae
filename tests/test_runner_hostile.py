"""Records that validate must run (issue 18 items 4, 7, 8, 10; issue 17's non-finite JSON).

Each case crashed ``evidence run`` before (a traceback part-way through the analyses,
leaving stale results): now the effect is excluded with its reason, or a number that
cannot be written is ``null`` with a note, or the one analysis fails with a message while
the others are written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_analysis, make_effect, make_record
from test_runner import write_corpus

from evidence.analyses import builddir, runner
from evidence.analyses.harmonise import harmonise
from evidence.analyses.runner import run_analyses, run_one
from evidence.effects.conversions import Converted, Unusable, to_metric
from evidence.errors import EvidenceError
from evidence.records.model import Statistic
from evidence.records.yamlio import display_path


@pytest.mark.parametrize(
    ("statistic", "metric", "reason"),
    [
        (Statistic("r", 1.0, n=189), "smd", "r (1) reaches the bound of a correlation"),
        (Statistic("r", -1.0, n=189), "smd", "r (-1) reaches the bound of a correlation"),
        (Statistic("r", 1.0, n=189), "fisher-z", "its fisher-z is infinite or its variance 0"),
        (Statistic("r", 0.4, ci=(0.1, 1.0)), "fisher-z", "r (0.4, 0.1, 1) reaches the bound"),
        (
            Statistic("OR", 1e200, se_log=1e199),
            "log-odds-ratio",
            "the conversion to log-odds-ratio is undefined for these numbers: a number too "
            "large for floating point (overflow)",
        ),
        (
            Statistic("HR", 0.999999999999, p=0.5),
            "log-risk-ratio",
            "implausibly precise: SE 1.48e-12 on the log-risk-ratio scale",
        ),
        (
            Statistic("HR", 1.0, ci=(1.0, 1.0000000000000004)),
            "log-risk-ratio",
            "implausibly precise: SE 1.13e-16 on the log-risk-ratio scale",
        ),
    ],
)
def test_undefined_or_overflowing_conversions_are_unusable_with_a_reason(
    statistic: Statistic, metric: str, reason: str
) -> None:
    converted = to_metric(statistic, metric)
    assert isinstance(converted, Unusable)
    assert reason in converted.reason


def test_the_reader_words_of_a_reason_name_the_scale_once() -> None:
    from evidence.analyses.harmonise import reader_reason

    found = reader_reason("implausibly precise: SE 1.48e-12 on the log-risk-ratio scale (x)")
    assert found == "implausibly precise: SE 1.48e-12 on the risk-ratio scale (x)"
    assert reader_reason("the conversion to log-odds-ratio gives") == (
        "the conversion to the odds-ratio scale gives"
    )


def test_an_ordinary_precise_estimate_is_still_converted() -> None:
    # SE of the log ratio 0.0014 (a 10-million-person cohort): far above the floor
    converted = to_metric(Statistic("HR", 1.01, se_log=0.0014), "log-risk-ratio")
    assert isinstance(converted, Converted) and converted.vi == pytest.approx(0.0014**2)


def _run_one(tmp_path: Path, *studies, **changes) -> dict:
    analysis = make_analysis(**changes)
    table = harmonise(list(studies), analysis)
    return run_one(analysis, table, {"inputs": {}}, tmp_path / "build")


def test_an_estimate_at_the_null_with_a_p_value_is_excluded_and_the_run_writes(tmp_path):
    studies = [
        make_record("a2000", make_effect(value=0.999999999999, ci=None, p=0.5)),
        make_record("b2001", make_effect(value=1.3, ci=(1.1, 1.6))),
        make_record("c2002", make_effect(value=1.1, ci=(0.9, 1.4))),
    ]
    document = _run_one(tmp_path, *studies)
    assert document["effects"]["included"] == 2 and document["effects"]["excluded"] == 1
    text = (tmp_path / "build" / "results" / "a-effects.csv").read_text()
    assert "implausibly precise: SE 1.48e-12" in text
    json.loads((tmp_path / "build" / "results" / "a.json").read_text())  # valid JSON


def test_non_finite_numbers_are_written_as_null_with_a_note(tmp_path):
    # HR 1e300: a finite log ratio (690.8), but the prediction interval of a pool that
    # holds it overflows when back-transformed (exp > 1.8e308)
    studies = [
        make_record("a2000", make_effect(value=1e300, ci=(1e299, 1e301)), cohort="x"),
        make_record("b2001", make_effect("e1", value=1.3, ci=(1.1, 1.6)), cohort="x"),
        make_record("c2002", make_effect(value=1.1, ci=(0.9, 1.4))),
        make_record("d2003", make_effect(value=1.2, ci=(1.0, 1.5))),
    ]
    document = _run_one(tmp_path, *studies)
    written = (tmp_path / "build" / "results" / "a.json").read_text()
    assert "Infinity" not in written and "NaN" not in written
    assert document["pooled"]["back_transformed"]["pi"][1] is None
    # the note says so: the results writer's (naming the place) or the fit's own warning
    assert [
        n
        for n in document["notes"]
        if "pooled.back_transformed.pi[]" in n or n.endswith("overflow encountered in exp")
    ]


def test_the_results_writer_writes_non_finite_numbers_as_null_and_says_where():
    from evidence.analyses.runner import _numbers_in_range

    found: list[str] = []
    document = {
        "pooled": {"h2": float("inf"), "ci": [float("-inf"), 1.0], "k": 3},
        "leave_one_out": [{"tau2": float("nan")}, {"tau2": 0.1}],
        "effects": {"participants": int("9" * 400), "included": True},
    }
    assert _numbers_in_range(document, "", found) == {
        "pooled": {"h2": None, "ci": [None, 1.0], "k": 3},
        "leave_one_out": [{"tau2": None}, {"tau2": 0.1}],
        "effects": {"participants": None, "included": True},
    }
    assert found == [
        "pooled.h2",
        "pooled.ci[]",
        "leave_one_out[].tau2",
        "effects.participants",
    ]


def test_a_400_digit_population_size_is_null_in_the_results(tmp_path):
    huge = int("9" * 400)
    studies = [
        make_record("a2000", make_effect(value=1.2, ci=(1.0, 1.5)), n=huge),
        make_record("b2001", make_effect(value=1.3, ci=(1.1, 1.6))),
    ]
    document = _run_one(tmp_path, *studies)
    assert document["effects"]["participants"] is None
    assert any("effects.participants" in n for n in document["notes"])


# ------------------------------------------------------------ one failure, not all


@pytest.fixture
def corpus(tmp_path):
    studies_dir, analyses_dir = write_corpus(tmp_path)
    return studies_dir, analyses_dir, tmp_path / "build"


def _run(corpus, **options):
    studies_dir, analyses_dir, out = corpus
    progress = io.StringIO()
    try:
        run_analyses(studies_dir, analyses_dir, out, figures=False, progress=progress, **options)
    except EvidenceError as error:
        return progress.getvalue(), error.problems
    return progress.getvalue(), []


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (OverflowError("math range error"), "a number went out of range while fitting"),
        (ValueError("math domain error"), "a number went out of range while fitting"),
        (MemoryError(), "it ran out of memory"),
        (KeyError("pooled"), "an internal error (KeyError: 'pooled'); please report it"),
    ],
)
def test_a_failing_analysis_is_reported_and_its_stale_results_removed(
    corpus, monkeypatch, error, words
):
    out = corpus[2]
    assert _run(corpus)[1] == []
    assert (out / "results" / "few.json").is_file()
    real = runner.fit_analysis

    def failing(table, analysis, variants=None):
        if analysis.id == "few":
            raise error
        return real(table, analysis, variants)

    monkeypatch.setattr(runner, "fit_analysis", failing)
    progress, problems = _run(corpus, force=True)
    (problem,) = problems
    assert problem.rule == "analysis-failed" and problem.path.endswith("few.yaml")
    assert problem.message.startswith(f"few: could not be run: {words}")
    assert problem.message.endswith(
        "its previous results were removed so that nothing stale looks current"
    )
    assert "[1/2] few: failed (1 problem); its previous results were removed" in progress
    assert "[2/2] isolation: k = 5" in progress  # the next analysis still ran
    assert not (out / "results" / "few.json").exists()
    assert not (out / "results" / "few-effects.csv").exists()
    index = json.loads((out / "results" / "index.json").read_text())
    assert [row["id"] for row in index] == ["isolation"]


def test_an_analysis_over_the_effect_limit_is_refused(corpus, monkeypatch):
    monkeypatch.setattr(runner, "MAX_EFFECTS_PER_ANALYSIS", 3)
    _progress, problems = _run(corpus)
    (problem,) = problems
    assert problem.rule == "analysis-too-large"
    assert problem.message == (
        "isolation: selects 5 effects; an analysis pools at most 3 (narrow its select "
        "filters or split it)"
    )


def test_deletion_diagnostics_are_skipped_above_their_k_with_a_note(corpus, monkeypatch):
    monkeypatch.setattr(runner, "MAX_K_DELETION_DIAGNOSTICS", 4)
    _run(corpus)
    document = json.loads((corpus[2] / "results" / "isolation.json").read_text())
    assert document["leave_one_out"] is None and document["cumulative"] is None
    assert document["egger"] is not None  # O(k) diagnostics still run
    assert (
        "leave-one-out, influence, cumulative not computed: k = 5 is above 4, where "
        "refitting once per effect takes too much time and memory"
    ) in document["notes"]


# --------------------------------------------------------------- the build directory


def test_build_being_a_file_is_one_problem(corpus):
    corpus[2].write_text("not a directory")
    _progress, problems = _run(corpus)
    (problem,) = problems
    assert problem.rule == "output-dir-unsafe"
    assert "it is a file, not a directory" in problem.message


def test_an_unwritable_build_directory_is_one_problem(corpus, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(corpus[2] / "results"))

    monkeypatch.setattr(runner.tempfile, "NamedTemporaryFile", refuse)
    _progress, problems = _run(corpus)
    (problem,) = problems
    assert problem.rule == "output-dir-unwritable"
    assert problem.message.endswith(
        "results: permission denied; make it writable or pass another directory with --out"
    )


def test_a_read_only_build_directory_is_named_not_our_temporary_file(corpus, monkeypatch):
    """As root, a read-only mount (EROFS) is what stops the run: say so of build/ itself."""
    import errno

    def refuse(directory, *args, **kwargs):
        name = directory / "..evidence-build.4e44fbb8.tmp"
        raise OSError(errno.EROFS, "Read-only file system", str(name))

    monkeypatch.setattr(builddir, "claim_output_dir", refuse)
    _progress, problems = _run(corpus)
    (problem,) = problems
    assert problem.rule == "output-dir-unwritable"
    assert problem.message == (
        f"evidence run cannot write into {display_path(corpus[2])}: read-only file system; "
        "make it writable or pass another directory with --out"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anyway")
def test_a_read_only_build_directory(corpus):
    studies_dir, analyses_dir, build = corpus
    build.mkdir()
    build.chmod(0o555)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "evidence", "run", "--no-figures", "--out", str(build)],
            cwd=studies_dir.parent,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        build.chmod(0o755)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "permission denied; make it writable" in done.stderr


# ------------------------------------------------------------------- output hygiene


def test_published_effects_csv_cannot_carry_a_spreadsheet_formula(tmp_path):
    from dataclasses import replace

    from evidence.records.model import Population
    from evidence.report.book.inputs import _read_effects

    payload = '=HYPERLINK("http://evil.example", "click")'
    first = make_record("a2000", make_effect(value=1.2, ci=(1.0, 1.5)))
    studies = [
        replace(first, population=Population(payload, n=100)),
        make_record("b2001", make_effect(value=0.8, ci=(0.6, 1.1))),
        replace(
            make_record("c2002", make_effect(value=1.3, ci=(1.1, 1.6))),
            population=Population("-2 SD and below, +1 @home", n=50),
        ),
    ]
    _run_one(tmp_path, *studies, subgroups=("population.description",))
    path = tmp_path / "build" / "results" / "a-effects.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    by_study = {row["study"]: row for row in rows}
    assert by_study["a2000"]["population.description"] == "'" + payload
    assert by_study["c2002"]["population.description"] == "'-2 SD and below, +1 @home"
    assert by_study["b2001"]["population.description"] == "adults"
    # numbers are never prefixed: a negative log ratio stays a number
    assert float(by_study["b2001"]["yi"]) < 0 and not by_study["b2001"]["yi"].startswith("'")
    # the site reads the text back as it was written in the record
    problems: list = []
    read = {row["study"]: row for row in _read_effects(path, problems)}
    assert read["a2000"]["population.description"] == payload and problems == []


def test_the_site_reads_effects_csv_rows_at_line_breaks_only(tmp_path):
    from evidence.report.book.inputs import _read_effects

    path = tmp_path / "x-effects.csv"
    long_text = "x" * 200_000  # over the csv module's 131,072-character default
    path.write_text(
        'study,label,note\na,"two\nlines","sep\u2028arated"\nb,' + long_text + ",plain\n",
        encoding="utf-8",
    )
    problems: list = []
    rows = _read_effects(path, problems)
    assert problems == []
    assert [row["study"] for row in rows] == ["a", "b"]
    assert rows[0]["label"] == "two\nlines" and rows[0]["note"] == "sep\u2028arated"
    assert rows[1]["label"] == long_text


def test_bidirectional_controls_never_reach_a_figure(tmp_path, draw_figures):
    """Issue 18 item 9: U+202E in a record's text would make an SVG label read backwards."""
    from evidence.records.model import Subgroup

    studies = [
        make_record(
            f"s{i}x200{i}",
            make_effect(
                value=1.1 + 0.1 * i,
                ci=(1.0, 1.5 + 0.1 * i),
                subgroup=Subgroup(f"evil\u202etxt.exe \u2066{i}\u2069"),
            ),
        )
        for i in range(4)
    ]
    analysis = make_analysis(sensitivity=("leave-one-out", "influence", "cumulative"))
    table = harmonise(studies, analysis)
    document = run_one(analysis, table, {"inputs": {}}, tmp_path / "build", draw_figures["render"])
    assert "forest" in document["figures"]
    for relative in document["figures"].values():
        svg = (tmp_path / "build" / relative).read_text(encoding="utf-8")
        assert not {"\u202e", "\u2066", "\u2069"} & set(svg), relative
    forest = (tmp_path / "build" / document["figures"]["forest"]).read_text(encoding="utf-8")
    assert "eviltxt.exe" in forest  # the label is shown, without its controls
