"""evidence run on a small temporary corpus written by the tests."""

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from evidence.analyses.runner import run_analyses
from evidence.cli import main
from evidence.errors import EvidenceError
from evidence.stats.errors import InputError
from evidence.stats.pooling import pool

RTOL_ESTIMATE = 1e-10
Z = 1.959963984540054

# (id, cohort, measure, value, lo, hi, higher_means, n)
STUDIES = [
    ("alpha2001", None, "HR", 1.26, 1.08, 1.48, "fewer-ties", 6500),
    ("beta2005", None, "RR", 1.19, 1.06, 1.34, "fewer-ties", 28369),
    ("gamma2010", None, "HR", 0.55, 0.41, 0.73, "more-ties", 76362),
    ("delta2015", None, "HR", 1.45, 1.11, 1.88, "fewer-ties", 1604),
    ("epsilon2019", None, "MRR", 1.7, 1.1, 2.6, "fewer-ties", 9288),
]

RECORD = """\
id: {id}
citation: {id}
year: {year}
design: prospective-cohort
{cohort}population: {{description: adults, sex: mixed, n: {n}}}
follow_up_years: {follow_up}
risk_of_bias: {{tool: not-assessed, judgement: not-assessed}}
extraction: {{status: needs-verification, source_type: abstract}}
effects:
  - id: isolation-mortality
    exposure:
      construct: social-isolation
      dimension: structural
      contrast: isolated vs not
      higher_means: {higher_means}
    outcome: {{domain: mortality, name: all-cause mortality, higher_is: harmful}}
    adjustment: fully-adjusted
    statistic: {{measure: {measure}, value: {value}, ci: [{lo}, {hi}]}}
    source: {{locator: abstract, quote: "hazard ratio {value} ({lo} to {hi})"}}
"""

SPEC = """\
id: {id}
title: Isolation and mortality
question: {{population: adults, exposure: isolation, comparator: integrated, outcome: death}}
select: {select}
metric: log-risk-ratio
eligibility:
  min_samples: 2
  measure_families: [hazard, risk, rate]
  measure_families_justification: "test corpus: hazard, risk and rate ratios read as risk ratios"
assume_rare_outcome: true
orient: fewer-ties-harmful
adjustment: most-adjusted
dependence: {dependence}
model: {{method: REML, test: knha}}
subgroups: [exposure.construct]
moderators: [follow_up_years]
sensitivity: [leave-one-out, influence, cumulative]
bias: [funnel, egger]
compare_with:
  - {{doi: 10.1371/journal.pone.0280308, exposure: social isolation}}
"""


def write_corpus(root: Path, studies=STUDIES) -> tuple[Path, Path]:
    studies_dir, analyses_dir = root / "studies", root / "analyses"
    studies_dir.mkdir()
    analyses_dir.mkdir()
    bib = []
    for index, (sid, cohort, measure, value, lo, hi, higher, n) in enumerate(studies):
        (studies_dir / f"{sid}.yaml").write_text(
            RECORD.format(
                id=sid,
                year=int(sid[-4:]),
                cohort=f"cohort: {cohort}\n" if cohort else "",
                n=n,
                follow_up=5 + index,
                higher_means=higher,
                measure=measure,
                value=value,
                lo=lo,
                hi=hi,
            ),
            encoding="utf-8",
        )
        bib.append(f"@misc{{{sid},\n  author = {{Author}},\n  year = {{{sid[-4:]}}}\n}}\n")
    (studies_dir / "references.bib").write_text("\n".join(bib), encoding="utf-8")
    spec = SPEC.format(
        id="isolation", select="{outcome.domain: mortality}", dependence="multilevel"
    )
    (analyses_dir / "isolation.yaml").write_text(spec, encoding="utf-8")
    few = SPEC.format(id="few", select="{study.id: alpha2001}", dependence="multilevel")
    (analyses_dir / "few.yaml").write_text(few, encoding="utf-8")
    return studies_dir, analyses_dir


def expected_effects():
    yi, vi = [], []
    for _sid, _cohort, _measure, value, lo, hi, higher, _n in STUDIES:
        sign = 1 if higher == "fewer-ties" else -1  # flip "most vs least integrated"
        yi.append(sign * math.log(value))
        vi.append(((math.log(hi) - math.log(lo)) / (2 * Z)) ** 2)
    return np.array(yi), np.array(vi)


@pytest.fixture
def corpus(tmp_path):
    studies_dir, analyses_dir = write_corpus(tmp_path)
    return studies_dir, analyses_dir, tmp_path / "build"


def run(corpus, **options):
    studies_dir, analyses_dir, out = corpus
    return run_analyses(studies_dir, analyses_dir, out, figures=False, **options)


def test_pooled_numbers_equal_calling_pooling_directly(corpus, capsys):
    documents = {d["id"]: d for d in run(corpus)}
    yi, vi = expected_effects()
    direct = pool(yi, vi, method="REML", test="knha", measure="RR", transform="exp").to_dict()
    pooled = documents["isolation"]["pooled"]
    for key in ("estimate", "se", "tau2", "i2", "q", "p"):
        assert_allclose(pooled[key], direct[key], rtol=RTOL_ESTIMATE)
    assert_allclose(pooled["ci"], direct["ci"], rtol=RTOL_ESTIMATE)
    assert_allclose(
        pooled["back_transformed"]["estimate"], math.exp(direct["estimate"]), rtol=RTOL_ESTIMATE
    )
    assert documents["isolation"]["published"][0]["pooled"] == "1.33"
    assert "[2/2] isolation: k = 5" in capsys.readouterr().err


def test_effects_csv_has_weights_and_reasons(corpus):
    run(corpus)
    out = corpus[2] / "results"
    text = (out / "isolation-effects.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["study"] for r in rows] == [
        "alpha2001",
        "beta2005",
        "delta2015",
        "epsilon2019",
        "gamma2010",
    ]
    yi, vi = expected_effects()
    tau2 = json.loads((out / "isolation.json").read_text())["pooled"]["tau2"]
    weights = 100 * (1 / (vi + tau2)) / np.sum(1 / (vi + tau2))
    order = [0, 1, 3, 4, 2]
    assert_allclose([float(r["weight"]) for r in rows], weights[order], rtol=1e-9)
    assert rows[-1]["flipped"] == "true"
    assert "follow_up_years" in rows[0]


def test_insufficient_evidence_is_said_plainly_and_the_run_goes_on(corpus):
    documents = {d["id"]: d for d in run(corpus)}
    few = documents["few"]
    assert few["status"] == "insufficient-evidence"
    assert few["message"] == (
        "Not pooled: 1 usable estimate from 1 independent sample; this analysis pools at "
        "least 2 independent samples (none excluded). The studies are listed below."
    )
    assert few["pooled"] is None
    assert documents["isolation"]["status"] == "ok"
    index = json.loads((corpus[2] / "results" / "index.json").read_text())
    assert [row["id"] for row in index] == ["few", "isolation"]


def test_outputs_are_byte_identical_and_unchanged_analyses_are_skipped(corpus, capsys):
    run(corpus)
    results = corpus[2] / "results"
    first = {p.name: p.read_bytes() for p in results.iterdir()}
    stamps = {p.name: p.stat().st_mtime_ns for p in results.iterdir()}
    run(corpus, force=True)
    assert {p.name: p.read_bytes() for p in results.iterdir()} == first
    assert {p.name: p.stat().st_mtime_ns for p in results.iterdir()} == stamps
    capsys.readouterr()
    run(corpus)
    assert capsys.readouterr().err.count("unchanged, skipped") == 2
    record = corpus[0] / "beta2005.yaml"
    record.write_text(
        record.read_text().replace("value: 1.19", "value: 1.2").replace("ratio 1.19", "ratio 1.2")
    )
    run(corpus)
    err = capsys.readouterr().err
    assert "isolation: k = 5" in err
    assert "few: unchanged, skipped" in err


def test_provenance_hashes_every_input(corpus):
    (document, *_rest) = [d for d in run(corpus) if d["id"] == "isolation"]
    inputs = document["provenance"]["inputs"]
    assert "analyses/isolation.yaml" in inputs
    assert "studies/references.bib" not in inputs  # the cited entries, not the whole file
    assert sum(key.startswith("bib:") for key in inputs) == 5
    assert "evidence/data/headline_pooled_results.tsv" in inputs
    assert sum(key.startswith("studies/") and key.endswith(".yaml") for key in inputs) == 5


def test_multilevel_pool_matches_the_three_level_model(tmp_path):
    from evidence.stats.dependence import three_level

    shared = [
        (sid, "shared" if sid in ("alpha2001", "delta2015") else None, *rest)
        for sid, _c, *rest in STUDIES
    ]
    studies_dir, analyses_dir = write_corpus(tmp_path, shared)
    (document, *_rest) = [
        d
        for d in run_analyses(
            studies_dir, analyses_dir, tmp_path / "b", ids=["isolation"], figures=False
        )
    ]
    yi, vi = expected_effects()
    fit = three_level(yi, vi, ["shared", "beta2005", "gamma2010", "shared", "epsilon2019"])
    assert_allclose(document["pooled"]["estimate"], fit.coefficients[0], rtol=RTOL_ESTIMATE)
    assert_allclose(document["dependence"]["sigma2"], fit.sigma2, rtol=RTOL_ESTIMATE)
    assert document["effects"]["clusters"] == 4
    # five studies (two of them share a cohort) in four independent samples
    assert document["effects"]["studies"] == 5
    assert document["pooled"]["n_studies"] == 5


def test_study_count_is_of_included_studies_only(corpus):
    # "few" selects alpha2001 only; "isolation" excludes nothing, so both count what is used
    documents = {d["id"]: d for d in run(corpus)}
    assert documents["few"]["effects"] == {
        "included": 1,
        "excluded": 0,
        "studies": 1,
        "clusters": 1,
        "participants": 6500,
        "samples_without_n": 0,
    }
    assert documents["isolation"]["effects"]["studies"] == 5


def test_invalid_spec_stops_the_run_before_fitting(corpus, capsys):
    studies_dir, analyses_dir, out = corpus
    (analyses_dir / "bad.yaml").write_text(
        SPEC.format(id="bad", select="{outcome.domian: mortality}", dependence="multilevel")
    )
    with pytest.raises(EvidenceError) as caught:
        run(corpus)
    assert any(p.rule == "unknown-field-path" and p.line == 4 for p in caught.value.problems)
    assert not out.exists()
    status = main(
        [
            "run",
            "--studies",
            str(studies_dir),
            "--analyses",
            str(analyses_dir),
            "--out",
            str(out),
            "--no-figures",
        ]
    )
    assert status == 1
    assert "bad.yaml:4:10:" in capsys.readouterr().err


def test_an_analysis_that_cannot_be_fitted_does_not_stop_the_others(corpus, monkeypatch):
    import evidence.analyses.runner as runner

    real = runner.fit_analysis

    def failing(table, analysis, variants=None):
        if analysis.id == "few":
            raise InputError("the model could not be fitted")
        return real(table, analysis)

    monkeypatch.setattr(runner, "fit_analysis", failing)
    with pytest.raises(EvidenceError) as caught:
        run(corpus)
    (problem,) = caught.value.problems
    assert problem.path.endswith("few.yaml")
    assert problem.message == "few: the model could not be fitted"
    assert (corpus[2] / "results" / "isolation.json").is_file()


def test_figures_are_written_and_listed(corpus, draw_figures):
    studies_dir, analyses_dir, out = corpus
    (document,) = run_analyses(
        studies_dir, analyses_dir, out, ids=["isolation"], progress=io.StringIO(), **draw_figures
    )
    assert document["figures"]["forest"] == "figures/isolation-forest.svg"
    for relative in document["figures"].values():
        assert (out / relative).is_file()
    stale = out / "figures" / "isolation-baujat.svg"
    if "baujat" not in document["figures"]:
        stale.write_text("<svg/>")
    run_analyses(
        studies_dir,
        analyses_dir,
        out,
        ids=["isolation"],
        force=True,
        progress=io.StringIO(),
        **draw_figures,
    )
    assert stale.exists() == ("baujat" in document["figures"])


def test_unused_exclusion_is_a_warning(corpus):
    studies_dir, analyses_dir, out = corpus
    spec = analyses_dir / "isolation.yaml"
    spec.write_text(spec.read_text() + "exclude:\n  - {study: nosuch2000, reason: not here}\n")
    progress = io.StringIO()
    run_analyses(studies_dir, analyses_dir, out, figures=False, progress=progress)
    # at the line and column of the exclude item (issue 18 item 10), not 0:0
    line = spec.read_text().splitlines().index("  - {study: nosuch2000, reason: not here}") + 1
    assert (
        f"isolation.yaml:{line}:5: warning: exclude names nosuch2000, which is not among the "
        "selected effects [exclusion-unused]"
    ) in progress.getvalue()


def test_three_level_failure_falls_back_and_says_so(tmp_path, monkeypatch):
    import evidence.stats.dependence

    def fail(*_args, **_kwargs):
        raise InputError("the three-level REML fit did not converge")

    monkeypatch.setattr(evidence.stats.dependence, "three_level", fail)
    shared = [
        (sid, "shared" if sid in ("alpha2001", "delta2015") else None, *rest)
        for sid, _c, *rest in STUDIES
    ]
    studies_dir, analyses_dir = write_corpus(tmp_path, shared)
    (document,) = run_analyses(
        studies_dir,
        analyses_dir,
        tmp_path / "b",
        ids=["isolation"],
        figures=False,
        progress=io.StringIO(),
    )
    assert document["pooled"]["method"] == "REML"
    assert document["dependence"]["sigma2"] is None
    assert "treats the 5 effects in 4 clusters as independent" in document["notes"][0]


def test_adding_a_study_reruns_only_the_analyses_that_select_it(corpus, capsys):
    """Issue 12: a new study and its BibTeX entry do not rerun the analyses it is not in."""
    studies_dir, _analyses_dir, _out = corpus
    run(corpus)
    capsys.readouterr()
    record = (studies_dir / "beta2005.yaml").read_text()
    (studies_dir / "zeta2020.yaml").write_text(
        record.replace("beta2005", "zeta2020").replace("year: 2005", "year: 2020")
    )
    bib = studies_dir / "references.bib"
    bib.write_text(
        bib.read_text() + "\n@misc{zeta2020,\n  author = {Author},\n  year = {2020}\n}\n"
    )
    run(corpus)
    err = capsys.readouterr().err
    assert "few: unchanged, skipped" in err  # selects alpha2001 only
    assert "isolation: k = 6" in err
    # the bibliography reformatted and reordered: no analysis reruns
    entries = [e for e in bib.read_text().split("@") if e.strip()]
    bib.write_text("\n\n".join("@" + e.strip().replace("\n  ", "\n\t") for e in entries[::-1]))
    run(corpus)
    err = capsys.readouterr().err
    assert "few: unchanged, skipped" in err and "isolation: unchanged, skipped" in err
    # the entry of a cited study changes: the analyses citing it rerun
    bib.write_text(
        bib.read_text().replace("{zeta2020,\n\tauthor = {Author}", "{zeta2020,\n\tauthor = {Other}")
    )
    run(corpus)
    err = capsys.readouterr().err
    assert "few: unchanged, skipped" in err and "isolation: k = 6" in err
