"""The shipped analyses: metafor agreement on frozen inputs, invariants on the live corpus.

Numbers are checked against metafor on the frozen effect tables of the shipped analyses
(tests/reference/snapshots/<id>-effects.csv with the frozen specs in
snapshots/analyses/<id>.yaml); reference values in tests/reference/analyses_fixtures.json,
written by tests/reference/make_analyses_fixtures.R (metafor 3.8) from the same snapshots.
The live corpus (studies/, analyses/) grows with every pull request, so the tests over it
assert invariants only: every analysis runs, and its results are internally consistent.
"""

import csv
import io
import json
import math
from pathlib import Path

import pandas
import pytest
from numpy.testing import assert_allclose

from evidence.analyses.fit import fit_analysis
from evidence.analyses.harmonise import EffectRow, EffectTable
from evidence.analyses.runner import run_analyses
from evidence.analyses.spec import load_analysis
from evidence.records.safefs import sha256_of
from evidence.stats.pooling import pool

ROOT = Path(__file__).parents[1]
SNAPSHOTS = ROOT / "tests" / "reference" / "snapshots"
RTOL_ESTIMATE = 1e-6
#: A variance component at its boundary: metafor's optimiser stops a little above 0
#: (isolation-chd-stroke's within-cohort sigma2: 8.3e-13 in R, exactly 0 here).
ATOL_BOUNDARY_VARIANCE = 1e-9
FIXTURES = json.loads((ROOT / "tests" / "reference" / "analyses_fixtures.json").read_text())


def _number(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def snapshot_table(analysis_id: str) -> EffectTable:
    """The frozen effect table of a shipped analysis (included rows), as harmonise built it."""
    path = SNAPSHOTS / f"{analysis_id}-effects.csv"
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["included"] != "true":
                continue
            fields = {k: v for k, v in row.items() if "." in k or k in ("sex", "follow_up_years")}
            rows.append(
                EffectRow(
                    study=row["study"],
                    effect=row["effect"],
                    label=row["label"],
                    cohort=row["cohort"] or None,
                    cluster=row["cluster"],
                    included=True,
                    reason=None,
                    measure_reported=row["measure_reported"],
                    value=_number(row["value"]),
                    lo=_number(row["lo"]),
                    hi=_number(row["hi"]),
                    yi=float(row["yi"]),
                    vi=float(row["vi"]),
                    conversion=row["conversion"],
                    flipped=row["flipped"] == "true",
                    adjustment=row["adjustment"],
                    risk_of_bias=row["risk_of_bias"],
                    year=int(row["year"]) if row["year"] else None,
                    design="not-reported",
                    n=None,
                    fields={k: (v or None) for k, v in fields.items()},
                )
            )
    return EffectTable(tuple(rows))


def frozen_fit(analysis_id: str) -> tuple[EffectTable, dict]:
    analysis, problems = load_analysis(SNAPSHOTS / "analyses" / f"{analysis_id}.yaml")
    assert analysis is not None, problems
    table = snapshot_table(analysis_id)
    return table, fit_analysis(table, analysis)


@pytest.mark.parametrize(
    "analysis_id",
    [
        "holtlunstad2010-partial",
        "isolation-cancer-mortality",
        "isolation-mortality",
        "isolation-chd-stroke",
        "loneliness-mortality",
    ],
)
def test_frozen_effects_equal_metafor_recomputed_from_the_printed_numbers(analysis_id):
    table = snapshot_table(analysis_id)
    expected = FIXTURES[analysis_id]
    assert [f"{r.study} {r.effect}" for r in table.included] == expected["effects"]
    assert_allclose([r.yi for r in table.included], expected["yi"], rtol=RTOL_ESTIMATE)
    assert_allclose([r.vi for r in table.included], expected["vi"], rtol=RTOL_ESTIMATE)


@pytest.mark.parametrize(
    ("analysis_id", "test"),
    [("holtlunstad2010-partial", "z"), ("isolation-cancer-mortality", "knha")],
)
def test_pooled_matches_metafor(analysis_id, test):
    # the engine on the frozen table, with the frozen spec's model (REML, its test); the
    # runner's eligibility rules (which may decline to pool two studies) are not asked here
    expected = FIXTURES[analysis_id]
    table = snapshot_table(analysis_id)
    yi, vi = [r.yi for r in table.included], [r.vi for r in table.included]
    pooled = pool(yi, vi, method="REML", test=test).to_dict()
    assert pooled["k"] == expected["k"]
    for key in ("estimate", "se", "tau2", "i2", "q"):
        assert_allclose(pooled[key], expected[key], rtol=RTOL_ESTIMATE)
    for key in ("ci", "pi"):
        assert_allclose(pooled[key], expected[key], rtol=RTOL_ESTIMATE)


@pytest.mark.parametrize(
    "analysis_id", ["isolation-mortality", "isolation-chd-stroke", "loneliness-mortality"]
)
def test_three_level_pooled_matches_metafor_rma_mv(analysis_id):
    # rma.mv(yi, vi, random = ~ 1 | cluster/effect), REML (make_analyses_fixtures.R)
    expected = FIXTURES[analysis_id]
    _, fitted = frozen_fit(analysis_id)
    pooled, dependence = fitted["pooled"], fitted["dependence"]
    assert pooled["method"] == "REML (three-level)"
    assert pooled["k"] == expected["k"]
    for key in ("estimate", "se", "q"):
        assert_allclose(pooled[key], expected[key], rtol=RTOL_ESTIMATE)
    three_level = dependence["three_level"]
    assert three_level["test"] == "t" and three_level["dfs"] == "contain"
    assert_allclose(three_level["ci"], expected["t_test"]["ci"], rtol=RTOL_ESTIMATE)
    assert_allclose(
        dependence["sigma2"], expected["sigma2"], rtol=RTOL_ESTIMATE, atol=ATOL_BOUNDARY_VARIANCE
    )
    # the spec asks for knha: rma.mv(test = "t", dfs = "contain"), t with clusters - 1 df
    # for CI, p and PI (issue 11)
    t_test = expected["t_test"]
    assert pooled["test"] == "t" and pooled["df"] == t_test["df"]
    assert_allclose(pooled["statistic"], t_test["statistic"], rtol=RTOL_ESTIMATE)
    for key in ("ci", "pi", "p"):
        assert_allclose(pooled[key], t_test[key], rtol=RTOL_ESTIMATE)


@pytest.mark.parametrize(
    "analysis_id", ["isolation-mortality", "isolation-chd-stroke", "loneliness-mortality"]
)
def test_three_level_weights_match_metafor(analysis_id):
    # weights(rma.mv, type = "rowsum") in percent (the weights that make the estimate;
    # issue 11), effects in the snapshot's order
    _, fitted = frozen_fit(analysis_id)
    assert_allclose(fitted["weights"], FIXTURES[analysis_id]["weights"], rtol=RTOL_ESTIMATE)


# ------------------------------------------------------------------ the live corpus


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    documents = run_analyses(
        ROOT / "studies", ROOT / "analyses", out, figures=False, progress=io.StringIO()
    )
    return {d["id"]: {**d, "_out": out} for d in documents}


def test_every_shipped_analysis_runs(results):
    specs = sorted(p.stem for p in (ROOT / "analyses").glob("*.yaml"))
    assert sorted(results) == specs
    for analysis_id, document in results.items():
        assert document["status"] in ("ok", "insufficient-evidence", "by-family"), analysis_id


def test_results_are_consistent_with_their_effect_tables(results):
    for analysis_id, document in results.items():
        out = document["_out"]
        text = (out / "results" / f"{analysis_id}-effects.csv").read_text(encoding="utf-8")
        rows = list(csv.DictReader(text.splitlines()))
        included = [r for r in rows if r["included"] == "true"]
        assert document["effects"]["included"] == len(included), analysis_id
        assert document["effects"]["excluded"] == len(rows) - len(included), analysis_id
        assert all(r["reason"] for r in rows if r["included"] != "true"), analysis_id
        if document["status"] == "insufficient-evidence":
            assert document["pooled"] is None, analysis_id
            assert document["message"].startswith("Not pooled: "), analysis_id
            continue
        if document["status"] == "by-family":  # pooled per outcome family only
            assert document["pooled"] is None and document["by_family"], analysis_id
            continue
        pooled = document["pooled"]
        assert pooled["k"] == len(included), analysis_id
        low, high = pooled["ci"]
        assert low <= pooled["estimate"] <= high, analysis_id
        assert all(math.isfinite(x) for x in (pooled["estimate"], pooled["se"], low, high))
        assert pooled["tau2"] >= 0 and 0 <= pooled["i2"] <= 100, analysis_id
        assert_allclose(sum(float(r["weight"]) for r in included), 100, rtol=1e-6)


def test_holt_lunstad_check_is_labelled_and_shown_beside_the_published_values(results):
    document = results["holtlunstad2010-partial"]
    assert "of the 148" in document["title"]
    assert "not a reproduction" in document["title"]
    overall = [row for row in document["published"] if row["k_studies"] == "148"]
    assert [(r["pooled"], r["lo"], r["hi"]) for r in overall] == [("1.50", "1.42", "1.59")]


@pytest.mark.slow
def test_full_run_with_figures_is_byte_identical(tmp_path, draw_figures):
    first, second = tmp_path / "one", tmp_path / "two"
    for out in (first, second):
        run_analyses(
            ROOT / "studies", ROOT / "analyses", out, progress=io.StringIO(), **draw_figures
        )
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert any(p.suffix == ".svg" for p in files)
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


def _pooled_multiverses(results):
    """(label, results document, multiverse section, pooled) of every pooled headline:
    an ``ok`` analysis's own, and each pooled outcome family's of a by-family analysis."""
    for identifier, document in results.items():
        if document["status"] == "ok":
            yield identifier, document, document["multiverse"], document["pooled"]
        if document["status"] == "by-family":
            for block in document["by_family"]:
                if block["status"] == "ok":
                    label = f"{identifier}/{block['family']}"
                    yield label, document, block["multiverse"], block["pooled"]


def test_every_pooled_analysis_has_a_multiverse_whose_prespecified_row_is_the_headline(results):
    """Invariant: the multiverse row of the analysis as specified equals its pooled result
    (for a by-family analysis: each pooled outcome family's own multiverse and headline)."""
    for label, document, section, pooled in _pooled_multiverses(results):
        assert section["specifications"] > 0, label
        out = document["_out"]
        for relative in section["files"].values():
            assert document["provenance"]["outputs"][relative] == sha256_of(out / relative)
        table = pandas.read_parquet(out / section["files"]["parquet"])
        [row] = table[table["prespecified"]].itertuples()
        assert row.k == pooled["k"], label
        assert_allclose(row.estimate, pooled["estimate"], rtol=1e-9)
        assert_allclose([row.ci_lower, row.ci_upper], pooled["ci"], rtol=1e-9)
        assert_allclose([row.pi_lower, row.pi_upper], pooled["pi"], rtol=1e-9)
        assert_allclose(row.tau2, pooled["tau2"], rtol=1e-8, atol=1e-12)
        assert_allclose(row.p, pooled["p"], rtol=1e-8)
        assert_allclose(section["prespecified"]["estimate"], row.estimate)


def test_a_by_family_analysis_has_no_overall_multiverse_and_none_for_unpooled_families(results):
    """Invariant: with no overall estimate there is no overall multiverse; a family that is
    not pooled has none (its block says why); the files on disk are exactly those named."""
    for identifier, document in results.items():
        if document["status"] != "by-family" or "multiverse" not in document["by_family"][0]:
            continue
        assert document["multiverse"] is None, identifier
        named = set()
        for block in document["by_family"]:
            if block["status"] != "ok":
                assert block["multiverse"] is None and block["message"], identifier
                continue
            assert block["multiverse"]["family"] == block["family"], identifier
            named |= set(block["multiverse"]["files"].values())
        on_disk = {
            f"results/{p.name}"
            for p in (document["_out"] / "results").glob(f"{identifier}-multiverse*")
        }
        assert on_disk == named, identifier


def test_evidence_multiverse_runs_the_same_per_family_multiverses_as_evidence_run(
    results, tmp_path, capsys
):
    """Invariant: the command fits one multiverse per pooled family of a by-family analysis,
    the same as ``evidence run`` wrote (its pre-specified estimate and counts)."""
    from evidence.cli import main

    by_family = [i for i, d in results.items() if d["status"] == "by-family"]
    if not by_family:
        pytest.skip("no by-family analysis in the corpus")
    arguments = ["multiverse", "--studies", str(ROOT / "studies"), "--analyses"]
    arguments += [str(ROOT / "analyses"), "--out", str(tmp_path), "--json", "--no-progress"]
    assert main([*arguments, *by_family]) == 0
    summaries = json.loads(capsys.readouterr().out)
    for identifier in by_family:
        blocks = [b for b in results[identifier]["by_family"] if b["status"] == "ok"]
        assert sorted(summaries[identifier]["by_family"]) == sorted(b["family"] for b in blocks)
        for block in blocks:
            ran = summaries[identifier]["by_family"][block["family"]]
            assert ran["specifications"] == block["multiverse"]["specifications"]
            assert ran["prespecified"] == block["multiverse"]["prespecified"]


# --------------------------------------------------------------------------- issue 13
# Invariants over the live corpus (no counts, no pooled values): every pooled headline
# obeys the eligibility rules, and the sentences and summaries say what the numbers say.


def _headlines(results):
    """(analysis id, label, pooled, certainty, finding, plain language) of every estimate."""
    for analysis, document in results.items():
        if document["status"] == "ok":
            yield (
                analysis,
                analysis,
                document["pooled"],
                document["certainty"],
                document["finding"],
                document["plain_language"],
            )
        for block in document["by_family"] or []:
            if block["status"] == "ok":
                yield (
                    analysis,
                    f"{analysis}/{block['family']}",
                    block["pooled"],
                    block["certainty"],
                    block["finding"],
                    block["plain_language"],
                )


def test_every_pooled_headline_satisfies_the_eligibility_rules(results):
    for analysis, document in results.items():
        if document["status"] != "ok":
            continue
        rules = document["eligibility"]
        assert rules["samples"] >= rules["min_samples"], analysis
        assert len(rules["outcome_families"]["included"]) == 1 or (
            rules["outcome_families"]["across"] == "subgroups"
        ), analysis
        families = rules["measure_families"]["included"]
        assert set(families) <= set(rules["measure_families"]["allowed"]), analysis
        if len(families) > 1:
            assert rules["measure_families"]["justification"], analysis
        contrasts = set(rules["contrasts"]["included"])
        assert contrasts <= set(rules["contrasts"]["allowed"]), analysis
        assert not ({"per-sd", "per-unit"} & contrasts) or contrasts <= {"per-sd", "per-unit"}
        assert document["pooled"]["estimable"], analysis


def test_findings_and_summaries_say_what_the_numbers_say(results):
    from evidence.analyses.summary import QUALIFIERS, number

    for analysis, label, pooled, certainty, found, plain in _headlines(results):
        shown = pooled.get("back_transformed") or pooled
        assert found["estimate"] == shown["estimate"], label
        assert found["ci"] == shown["ci"], label
        numbers = f"{number(shown['estimate'])}, 95% CI {number(shown['ci'][0])} to"
        assert numbers in found["statement"], label
        assert (
            f"{number(shown['estimate'])} (95% CI {number(shown['ci'][0])} to "
            in (plain["what_we_found"])
        ), label
        if results[analysis]["kind"] == "check":
            assert certainty is None
            continue
        level = certainty["level"]
        assert found["certainty"] == level
        assert f"{level} certainty" in found["statement"], label
        assert found["qualifier"] == QUALIFIERS[level]
        if level == "very low":
            assert found["statement"].startswith("The evidence is very uncertain"), label
        else:
            assert found["exposure"][1:] in found["statement"], label
        assert found["outcome"] in found["statement"], label
        assert certainty["symbol"] in plain["how_sure"], label
        assert certainty["definition"] in plain["how_sure"], label
        assert all(plain[key] for key in ("who", "exposure", "outcome", "text")), label


def test_every_rating_has_a_footnote_per_domain_and_says_when_risk_of_bias_is_unknown(results):
    for _analysis, label, _pooled, certainty, found, _plain in _headlines(results):
        if certainty is None:
            continue
        assert [d["domain"] for d in certainty["domains"]] == [
            "risk-of-bias",
            "inconsistency",
            "indirectness",
            "imprecision",
            "publication-bias",
        ]
        assert all(d["footnote"] and d["mark"] for d in certainty["domains"]), label
        assert len(certainty["levels"]) == 4
        if certainty["provisional"]:
            assert "not been assessed" in found["statement"], label


def test_checks_are_marked_and_never_rated(results):
    document = results["holtlunstad2010-partial"]
    assert document["kind"] == "check"
    assert document["certainty"] is None


def test_no_headline_presents_a_zero_width_interval(results):
    for analysis, document in results.items():
        for fitted in (document["subgroups"] or {}).values():
            for level in ((fitted or {}).get("subgroups") or {}).values():
                if level and level["ci"] and level["ci"][0] == level["ci"][1]:
                    assert level["estimable"] is False, analysis
        for row in document["adjustment"]["sensitivity"]:
            assert "estimable" in row, analysis


def test_meta_regression_is_not_run_on_fewer_than_ten_samples(results):
    for analysis, document in results.items():
        for moderator, fitted in (document["meta_regression"] or {}).items():
            if fitted is not None:
                assert document["eligibility"]["samples"] >= 10, (analysis, moderator)


def test_every_pooled_outcome_block_satisfies_the_eligibility_rules(results):
    """Invariant: an outcome family pooled on its own has the samples the analysis asks for."""
    for analysis, document in results.items():
        for block in document["by_family"] or []:
            if block["status"] != "ok":
                continue
            assert block["samples"] >= document["eligibility"]["min_samples"], analysis
            assert block["pooled"]["estimable"], (analysis, block["family"])


def test_the_summary_forest_never_shows_two_outcome_directions_on_one_axis(results):
    """Live corpus: the landing page's axes each hold one metric, direction and outcome.

    Every pooled finding (and every outcome family pooled on its own) is drawn exactly once;
    checks and unpooled analyses are not drawn.
    """
    from evidence.analyses.runner import index_rows
    from evidence.report.plots.summary import summary_groups

    rows = index_rows(list(results.values()))
    drawn = [
        (row["id"], row.get("family")) for _key, members in summary_groups(rows) for row in members
    ]
    for key, members in summary_groups(rows):
        assert {(r["metric"], r["orient"], r["outcome"].lower()) for r in members} == {key[1:]}
        assert all(r["kind"] != "check" for r in members), key
    expected = []
    for document in results.values():
        if document["kind"] == "check":
            continue
        if document["status"] == "ok":
            expected.append((document["id"], None))
        for block in document["by_family"] or []:
            if block["status"] == "ok" and block["pooled"]["estimable"]:
                expected.append((document["id"], block["family"]))
    assert sorted(drawn, key=str) == sorted(expected, key=str)


def test_no_multiverse_specification_pools_outcome_families_the_analysis_keeps_apart(results):
    """Live corpus: with ``across_families: separate`` every fitted specification holds one."""
    from evidence.analyses import multiverse
    from evidence.records.validate import load_studies

    studies, _problems = load_studies(ROOT / "studies")
    for identifier, document in results.items():
        section = document["multiverse"]
        rules = document["eligibility"] or {}
        families = (rules.get("outcome_families") or {}).get("included") or {}
        if not section or rules["outcome_families"]["across"] != "separate" or len(families) < 2:
            continue
        analysis, problems = load_analysis(ROOT / "analyses" / f"{identifier}.yaml")
        assert analysis is not None, problems
        design = multiverse.build_design(studies, analysis)
        assert design.family is not None, identifier
        table = pandas.read_parquet(document["_out"] / section["files"]["parquet"])
        chosen = table["spec"].to_numpy() // design.per_selection
        masks, _tables = multiverse._selection_masks(design, chosen)
        for mask in masks:
            assert len(set(design.family[mask].tolist())) == 1, identifier
