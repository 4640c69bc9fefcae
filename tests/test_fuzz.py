"""Property-based fuzzing (hypothesis): a list of problems or a result, never an exception.

Issue 17 asks for it over the YAML loader and validator, the BibTeX reader, the CSV reader
and ``pool()``; issue 18 adds "validates implies runs and builds" over ``evidence run``
and ``evidence book``. Inputs are mutations of real records and random text, numbers
(finite and not), shapes and sizes.

CI runs the ``ci`` profile: a fixed seed (``derandomize``) and a bounded number of
examples, no example database. ``EVIDENCE_FUZZ=long`` runs many more examples with random
seeds (``benchmarks/README.md`` records such a run): ``EVIDENCE_FUZZ=long .venv/bin/pytest
tests/test_fuzz.py -p no:cacheprovider``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_csvfast import outcome
from test_runner import RECORD, SPEC

from evidence.effects.csvinput import compute_effects, read_table, row_problems
from evidence.errors import EvidenceError, Problem
from evidence.records.bib import load_bibliography
from evidence.records.validate import validate_paths
from evidence.stats.errors import InputError
from evidence.stats.pooling import METHODS, pool

settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("EVIDENCE_FUZZ", "ci"))
LONG = os.environ.get("EVIDENCE_FUZZ") == "long"

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "studies").glob("*.yaml"))
BIB = (ROOT / "studies" / "references.bib").read_text(encoding="utf-8")

#: Characters that break parsers: quotes, brackets, YAML indicators, controls, BOM,
#: line and paragraph separators, bidi overrides, surrogates' neighbours.
NASTY = list("\"'{}[]:,#&*!|>%@`\\\n\r\t\x00\x1b\x7f\ufeff\u2028\u2029\u202e\u0085 -?=+$^~")
text_bits = st.one_of(
    st.text(max_size=20),
    st.sampled_from(NASTY),
    st.sampled_from(["1e400", "-0", "nan", ".inf", "0x1F", "1_000", "9" * 400, "~", "null"]),
)


def _mutate(data: st.DataObject, text: str, edits: int = 6) -> str:
    """Apply a few random insertions, deletions and replacements to ``text``."""
    for _ in range(data.draw(st.integers(1, edits))):
        if not text:
            text = data.draw(text_bits)
            continue
        at = data.draw(st.integers(0, len(text) - 1))
        span = data.draw(st.integers(0, 12))
        how = data.draw(st.sampled_from(("insert", "delete", "replace", "duplicate")))
        if how == "insert":
            text = text[:at] + data.draw(text_bits) + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + span :]
        elif how == "replace":
            text = text[:at] + data.draw(text_bits) + text[at + span :]
        else:
            text = text[:at] + text[at : at + span] * 2 + text[at + span :]
    return text


def _only_problems(problems: object) -> None:
    assert isinstance(problems, list)
    assert all(isinstance(p, Problem) for p in problems)
    for problem in problems:
        assert "\n" not in str(problem) and "\x1b" not in str(problem)  # one safe line each


# ------------------------------------------------------------------ YAML and validator


@given(data=st.data())
def test_mutated_records_give_problems_never_an_exception(data):
    source = data.draw(st.sampled_from(RECORDS))
    text = _mutate(data, source.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "studies"
        folder.mkdir()
        (folder / source.name).write_text(text, encoding="utf-8", errors="surrogatepass")
        (folder / "references.bib").write_text(BIB, encoding="utf-8")
        _only_problems(validate_paths([str(folder)]))


yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


@given(document=st.dictionaries(st.text(max_size=12), yaml_values, max_size=8))
def test_random_yaml_documents_give_problems_never_an_exception(document):
    import yaml

    text = yaml.safe_dump(document, allow_unicode=True)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "random2000.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _only_problems(validate_paths([str(path)]))


# ------------------------------------------------------------------------------ BibTeX


@given(data=st.data())
def test_mutated_bibtex_gives_problems_never_an_exception(data):
    entries = BIB.split("\n@")
    start = data.draw(st.integers(0, max(0, len(entries) - 3)))
    text = _mutate(data, "\n@".join(entries[start : start + 3]), edits=8)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "references.bib"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        bibliography = load_bibliography(path)
    _only_problems(list(bibliography.problems))


# --------------------------------------------------------------------------------- CSV

csv_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.sampled_from(["", "NA", "nan", "null", " 0.5 ", "1e400", "-inf", "1_0", "x"]),
    st.text(max_size=12),
    st.sampled_from(["two\nlines", "a\u2028b", "\x1b[2J", '"quoted"', "=SUM(A1)", "a,b"]),
)


def _written_csv(folder: Path, columns, rows, quoting) -> Path:
    """Write ``columns`` and ``rows`` to ``folder/x.csv`` (lone surrogates as raw bytes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path = folder / "x.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
    return path


@given(
    columns=st.lists(
        st.sampled_from(["study", "yi", "vi", "sei", "ai", "bi", "ci", "di", "n1i", "group"]),
        min_size=1,
        max_size=6,
    ),
    rows=st.lists(st.lists(csv_cells, min_size=0, max_size=7), max_size=12),
    measure=st.sampled_from([None, "OR", "RR", "SMD", "ZCOR", "GEN"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_random_csv_gives_problems_or_effects_never_an_exception(columns, rows, measure, quoting):
    with tempfile.TemporaryDirectory() as scratch:
        path = _written_csv(Path(scratch), columns, rows, quoting)
        try:
            table = read_table(str(path))
            effects = compute_effects(table, measure)
            _only_problems(row_problems(table, effects))
        except EvidenceError as error:
            _only_problems(error.problems)


@given(
    rows=st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_characters='"\r\n'), max_size=8),
            st.floats(-1e6, 1e6),
            st.floats(1e-6, 1e6),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_quoted_and_unquoted_csv_read_alike(rows):
    """The two reading paths (rows of one line, rows with quotes) give the same table."""
    assume(all(label.strip() for label, _y, _v in rows))
    tables = []
    for quoting in (csv.QUOTE_MINIMAL, csv.QUOTE_ALL):
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=quoting, lineterminator="\n")
        writer.writerow(["study", "yi", "vi"])
        writer.writerows([(label, repr(y), repr(v)) for label, y, v in rows])
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "x.csv"
            # a lone surrogate is written as the invalid bytes it stands for (both reading
            # paths then report the same "not UTF-8" problem), as in the YAML cases above
            path.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
            try:
                table = read_table(str(path))
            except EvidenceError as error:
                tables.append([str(p).split(":", 1)[1] for p in error.problems])
                continue
            tables.append((table.header, table.cells, table.lines, table.labels))
    assert tables[0] == tables[1]


csv_bits = st.one_of(
    st.sampled_from(list(',,,"\r\n\n \t\x00\ufeff\u2028\x85\xa0\u3000') + ['""', "\r\n"]),
    st.sampled_from(["study", "yi", "vi", "NA", "", "0.5", "-1e-3", "inf", "1_0", "\u0661"]),
    st.text(max_size=6),
)


@given(
    head=st.sampled_from(
        ["study,yi,vi\n", "yi,vi\r\n", '"study","yi","vi"\n', "\ufeffyi,vi\n", ""]
    ),
    parts=st.lists(csv_bits, max_size=60),
)
def test_the_fast_csv_reader_reads_any_text_as_the_csv_module_does(head, parts):
    """Issue 17: pyarrow reads a file to the same table, or leaves it to the csv module."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "x.csv"
        path.write_text(head + "".join(parts), encoding="utf-8", errors="surrogatepass")
        assert outcome(path, 0)[0] == outcome(path, 1 << 40)[0]


@given(
    columns=st.lists(st.sampled_from(["study", "yi", "vi", "sei", "n", "group"]), min_size=1),
    rows=st.lists(st.lists(csv_cells, min_size=0, max_size=4), max_size=12),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_the_fast_csv_reader_reads_written_csv_as_the_csv_module_does(columns, rows, quoting):
    with tempfile.TemporaryDirectory() as scratch:
        path = _written_csv(Path(scratch), columns, rows, quoting)
        assert outcome(path, 0)[0] == outcome(path, 1 << 40)[0]


# -------------------------------------------------------------------------------- pool

finite_or_not = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-50, 50),
    st.sampled_from([0.0, -0.0, 1e-300, 1e300, -1e300, 5e-324]),
)


@given(
    yi=st.lists(finite_or_not, max_size=40),
    vi=st.lists(finite_or_not, max_size=40),
    method=st.sampled_from(METHODS),
    test=st.sampled_from(["z", "knha"]),
    level=st.sampled_from([95.0, 90.0, 0.5, 99.9, 100.0, 0.0, -5.0, float("nan")]),
    shape=st.sampled_from(["1d", "2d", "scalar"]),
)
def test_pool_gives_a_result_or_input_problems_never_an_exception(
    yi, vi, method, test, level, shape
):
    y, v = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    if shape == "2d" and y.size:
        y = y.reshape(1, -1)
    if shape == "scalar":
        y = y[0] if y.size else 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes are results, not failures
        try:
            result = pool(y, v, method=method, test=test, level=level)
        except InputError as error:
            assert error.issues and all(issue.message for issue in error.issues)
            return
    data = result.to_dict()
    for key in ("estimate", "se", "tau2"):
        value = data[key]
        assert value is None or math.isfinite(value)


# ------------------------------------------------ validates implies runs and builds

ratio = st.floats(1e-300, 1e300, allow_nan=False, allow_infinity=False)


def _ci_form(t: tuple[float, float, float]) -> str:
    lo, hi = sorted((t[0], t[2]))
    return f"{{measure: HR, value: {t[1]!r}, ci: [{lo!r}, {hi!r}]}}"


statistics = st.one_of(
    st.tuples(ratio, ratio, ratio).map(_ci_form),
    st.tuples(ratio, st.floats(1e-9, 1.0)).map(
        lambda t: f"{{measure: HR, value: {t[0]!r}, p: {t[1]!r}}}"
    ),
    st.tuples(ratio, st.floats(1e-300, 1e300)).map(
        lambda t: f"{{measure: OR, value: {t[0]!r}, se_log: {t[1]!r}}}"
    ),
    st.tuples(st.floats(-1.0, 1.0), st.integers(4, 10**9)).map(
        lambda t: f"{{measure: r, value: {t[0]!r}, n: {t[1]}}}"
    ),
)


#: Every plausibility rule, acknowledged (records and effects of the fuzz corpus).
ACKNOWLEDGED = (
    "["
    + ", ".join(
        f"{{rule: {rule}, reason: fuzz test of extreme numbers}}"
        for rule in (
            "ratio-implausible",
            "percent-looks-like-ratio",
            "ci-too-narrow",
            "se-implausible",
            "follow-up-implausible",
            "n-implausible",
        )
    )
    + "]"
)


def _write_corpus(root: Path, chosen: list[str], n: int) -> tuple[Path, Path]:
    """Records with the ``chosen`` statistics and three analyses (three metrics) under root."""
    studies, analyses = root / "studies", root / "analyses"
    studies.mkdir()
    analyses.mkdir()
    bib = []
    for index, statistic in enumerate(chosen):
        sid = f"s{index}x{2000 + index}"
        text = RECORD.format(
            id=sid,
            year=2000 + index,
            cohort="",
            n=n,
            follow_up=5,
            higher_means="fewer-ties",
            measure="HR",
            value=1.2,
            lo=1.0,
            hi=1.5,
        )
        # The quote prints the statistic (the validator finds each number in it).
        text = text.replace("{measure: HR, value: 1.2, ci: [1.0, 1.5]}", statistic)
        text = text.replace("hazard ratio 1.2 (1.0 to 1.5)", f"reported as {statistic}")
        # Extreme numbers are the point here: every plausibility rule is acknowledged.
        text = text.replace("effects:\n", f"acknowledge: {ACKNOWLEDGED}\neffects:\n")
        text += f"    acknowledge: {ACKNOWLEDGED}\n"
        (studies / f"{sid}.yaml").write_text(text, encoding="utf-8")
        bib.append(f"@misc{{{sid},\n  author = {{A}},\n  year = {{{2000 + index}}}\n}}\n")
    (studies / "references.bib").write_text("\n".join(bib), encoding="utf-8")
    for metric in ("log-risk-ratio", "smd", "fisher-z"):
        spec = SPEC.format(id=metric, select="{outcome.domain: mortality}", dependence="multilevel")
        spec = spec.replace("metric: log-risk-ratio", f"metric: {metric}")
        (analyses / f"{metric}.yaml").write_text(spec, encoding="utf-8")
    return studies, analyses


@pytest.mark.slow
@settings(max_examples=200 if LONG else 12)
@given(
    chosen=st.lists(statistics, min_size=2, max_size=5),
    n=st.one_of(st.integers(1, 10**7), st.just(int("9" * 400))),
)
def test_records_that_validate_run_and_generate_every_page(chosen, n, tmp_path_factory):
    from evidence.analyses.runner import run_analyses
    from evidence.report.book import read_inputs
    from evidence.report.book.pages import generate_pages

    root = tmp_path_factory.mktemp("validates")
    studies, analyses = _write_corpus(root, chosen, n)
    problems = validate_paths([str(studies)])
    assume(not [p for p in problems if p.severity == "error"])
    build = root / "build"
    documents = run_analyses(studies, analyses, build, figures=False, progress=io.StringIO())
    assert len(documents) == 3
    inputs, found = read_inputs(build / "results", studies)
    assert not [p for p in found if p.severity == "error"]
    generate_pages(inputs, root / "book")


#: Records the property above found crashing run or book before they were fixed (a
#: 400-digit population, ratios near 1e300 and 1e-45, an OR of 1e-25): the whole site is
#: built from them, figures and Sphinx included.
EXTREME = [
    "{measure: HR, value: 3.2454710197901123e+299, p: 0.3837490972682349}",
    "{measure: HR, value: 1.401298464324817e-45, p: 0.7535376884510384}",
    "{measure: OR, value: 5.585939606896652e-25, se_log: 0.19560245738667165}",
    "{measure: HR, value: 0.56, p: 0.6910065864720369}",
    "{measure: r, value: 0.999999, n: 1000000000}",
]


@pytest.mark.slow
def test_extreme_records_that_validate_run_and_build_the_site(tmp_path):
    import shutil

    from evidence.analyses.runner import run_analyses
    from evidence.report.book import build_book
    from evidence.report.plots import render_all, summary_forest

    # (a 400-digit population is now refused by the validator: number-too-large)
    studies, analyses = _write_corpus(tmp_path, EXTREME, 10**6)
    problems = validate_paths([str(studies)])
    assert not [p for p in problems if p.severity == "error"]
    build = tmp_path / "build"
    run_analyses(
        studies,
        analyses,
        build,
        progress=io.StringIO(),
        render=render_all,
        render_summary=summary_forest,
    )
    book = tmp_path / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_generated", "_build"))
    summary = build_book(build / "results", studies, build / "site", book)
    assert (summary.site / "index.html").is_file()
