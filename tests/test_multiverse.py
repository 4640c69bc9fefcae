"""Multiverse analysis (issue 16): spec block, batched three-level fits, the table, Dask.

The numbers of a specification must be those of ``evidence pool`` on the same selection:
the selection is rebuilt here by another route (effects dropped from the records before
harmonising, the sample left out dropped with its studies) and pooled through the CLI.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas
import pytest
from conftest import effects_table, make_analysis, make_effect, make_record
from numpy.testing import assert_allclose

from evidence.analyses import multiverse
from evidence.analyses.choices import CHOICES, DEFAULTS
from evidence.analyses.harmonise import adjustment_variants, harmonise
from evidence.analyses.spec import Eligibility, Multiverse, analysis_schema, load_analysis
from evidence.cli import main
from evidence.report.book.multiverse import multiverse_section
from evidence.report.plots import figure_description, render_all
from evidence.stats import dependence
from evidence.stats.multilevel import make_blocks
from evidence.stats.multilevel_batch import fit_three_level_batch

#: Agreement with metafor (ARCHITECTURE.md) and between two routes to the same fit.
RTOL_ESTIMATE = 1e-6
#: Two computations of the same numbers in a different order of summation.
RTOL_SAME = 1e-9
#: sigma2 at its zero boundary (metafor stops at ~6e-12; see tests/test_dependence.py).
ATOL_SIGMA2 = 1e-9

#: A phone's figure width and the smallest text a reader should get (tests/test_plots.py).
PHONE_FIGURE_PX = 327.0
SMALLEST_TEXT_PX = 11.0

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "diagnostics_dependence.json").read_text()
)["datasets"]

SPEC = """\
id: m
title: M
question: {{population: adults, exposure: isolation, comparator: not, outcome: death}}
select: {{outcome.domain: mortality}}
metric: log-risk-ratio
orient: fewer-ties-harmful
adjustment: most-adjusted
dependence: multilevel
model: {{method: REML, test: knha}}
{extra}"""


def _load(extra: str = ""):
    return load_analysis("analyses/m.yaml", text=SPEC.format(extra=extra))


# --------------------------------------------------------------------------- the spec block


def test_a_spec_without_a_block_gets_the_default_multiverse_with_its_own_settings():
    analysis, problems = _load()
    assert problems == []
    chosen = analysis.multiverse
    assert chosen.leave_one_sample_out and chosen.rho == 0.5
    for name, options in chosen.options:
        assert set(DEFAULTS[name]) <= set(options)
    assert "knha" in chosen.of("inference") and "most-adjusted" in chosen.of("adjustment")


def test_multiverse_false_turns_it_off():
    analysis, problems = _load("multiverse: false\n")
    assert problems == [] and analysis.multiverse is None


def test_a_block_lists_options_and_the_rest_take_defaults():
    analysis, problems = _load(
        "multiverse:\n  estimator: [REML, HS]\n  leave_one_sample_out: false\n  rho: 0.8\n"
    )
    assert problems == []
    assert analysis.multiverse.of("estimator") == ("REML", "HS")
    assert analysis.multiverse.of("dependence") == DEFAULTS["dependence"]
    assert not analysis.multiverse.leave_one_sample_out and analysis.multiverse.rho == 0.8


def test_a_list_without_the_specs_own_setting_is_a_problem_at_its_line():
    analysis, problems = _load("multiverse:\n  inference: [z]\n")
    assert analysis is None
    [problem] = problems
    assert (problem.rule, problem.line) == ("multiverse-prespecified", 11)
    assert "'knha'" in problem.message


def test_an_unknown_option_is_a_schema_problem():
    analysis, problems = _load("multiverse:\n  estimator: [REML, XX]\n")
    assert analysis is None and problems and problems[0].line == 11


def test_the_schema_enums_are_the_registry_options():
    block = analysis_schema()["properties"]["multiverse"]["properties"]
    for choice in CHOICES.values():
        if choice.key is not None:
            assert block[choice.key]["items"]["enum"] == list(choice.names)


# --------------------------------------------------------------------------- three-level batch


def _padded(datasets):
    """Pad per-dataset cluster blocks to one (n, m, s) batch."""
    blocks = [make_blocks(y, v, c) for y, v, c in datasets]
    m = max(b.mask.shape[0] for b in blocks)
    s = max(b.mask.shape[1] for b in blocks)
    y, v, held = (
        np.zeros((len(blocks), m, s)),
        np.ones((len(blocks), m, s)),
        np.zeros((len(blocks), m, s), dtype=bool),
    )
    for i, b in enumerate(blocks):
        rows, cols = b.mask.shape
        y[i, :rows, :cols], v[i, :rows, :cols], held[i, :rows, :cols] = b.yi, b.vi, b.mask
    return y, v, held


def test_batched_three_level_matches_rma_mv_on_every_fixture_at_once():
    names = ("konstantopoulos2011", "assink2016", "simulated_boundary")
    fit = fit_three_level_batch(
        *_padded([(REFERENCE[n]["yi"], REFERENCE[n]["vi"], REFERENCE[n]["cluster"]) for n in names])
    )
    assert fit.converged.all()
    for i, name in enumerate(names):
        ref = REFERENCE[name]["intercept_only"]
        assert_allclose(
            [fit.between[i], fit.within[i]], ref["sigma2"], rtol=RTOL_ESTIMATE, atol=ATOL_SIGMA2
        )
        assert_allclose(fit.estimate[i], ref["beta"], rtol=RTOL_ESTIMATE)
        assert_allclose(fit.se[i], ref["se"], rtol=RTOL_ESTIMATE)


def test_batched_three_level_equals_the_single_fit_row_by_row():
    """Each cluster of each fixture left out in turn: the batch against three_level()."""
    datasets = []
    for name in ("konstantopoulos2011", "assink2016"):
        data = REFERENCE[name]
        clusters = np.asarray(data["cluster"])
        for left in sorted(set(data["cluster"]))[:12]:
            keep = clusters != left
            datasets.append(
                (np.asarray(data["yi"])[keep], np.asarray(data["vi"])[keep], clusters[keep])
            )
    fit = fit_three_level_batch(*_padded(datasets))
    for i, (y, v, c) in enumerate(datasets):
        single = dependence.three_level(y, v, c)
        assert_allclose(fit.estimate[i], single.coefficients[0], rtol=RTOL_SAME)
        assert_allclose(fit.se[i], single.se[0], rtol=RTOL_SAME)
        assert_allclose([fit.between[i], fit.within[i]], single.sigma2, rtol=1e-8, atol=1e-12)


def test_a_row_with_one_cluster_is_not_fitted():
    fit = fit_three_level_batch([[[0.1, 0.2]]], [[[0.01, 0.02]]], [[[True, True]]])
    assert not fit.converged[0] and np.isnan(fit.estimate[0])


# --------------------------------------------------------------------------- a small corpus


def corpus(verified=("s1", "s3", "s5", "s6", "s7"), low_risk=("s2", "s3", "s4", "s6", "s7")):
    """Seven studies: a shared cohort, two adjustment levels, a review-table source; some
    verified, some judged at low risk of bias."""

    def record(study_id, *effects, **kw):
        status = "verified" if study_id in verified else "single"
        judgement = "low" if study_id in low_risk else "not-assessed"
        return make_record(study_id, *effects, status=status, judgement=judgement, **kw)

    return [
        record(
            "s1",
            make_effect("a", value=1.30, ci=(1.10, 1.54)),
            make_effect("b", value=1.45, ci=(1.20, 1.75), adjustment="unadjusted"),
            cohort="c1",
        ),
        record("s2", make_effect("a", value=1.12, ci=(0.95, 1.32)), cohort="c1"),
        record(
            "s3",
            make_effect("a", value=1.60, ci=(1.15, 2.23), outcome_name="cardiovascular death"),
            make_effect("b", value=1.25, ci=(1.02, 1.53)),
        ),
        record("s4", make_effect("a", value=0.98, ci=(0.80, 1.20)), source_type="review-table"),
        record("s5", make_effect("a", value=1.40, ci=(1.05, 1.87), adjustment="not-reported")),
        record(
            "s6",
            make_effect("a", value=1.22, ci=(1.01, 1.47)),
            make_effect("b", value=1.10, ci=(0.90, 1.34), adjustment="minimally-adjusted"),
        ),
        record("s7", make_effect("a", value=1.75, ci=(1.20, 2.55)), cohort="c7"),
    ]


def analysis(**options):
    chosen = {name: DEFAULTS[name] for name in DEFAULTS}
    chosen.update(options)
    block = Multiverse(tuple((name, tuple(chosen[name])) for name in DEFAULTS))
    return make_analysis(test="knha", multiverse=block)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """The small corpus's multiverse, computed once, as written to Parquet."""
    out = tmp_path_factory.mktemp("mv")
    design = multiverse.build_design(corpus(), analysis())
    parquet, csv = multiverse.table_paths(out, "m")
    data = multiverse.compute(design, parquet, csv, block_specifications=97)
    return design, data, pandas.read_parquet(parquet), pandas.read_csv(csv)


def _pick(frame, **options):
    options.setdefault("families", "as-specified")
    chosen = frame
    for name, value in options.items():
        chosen = chosen[chosen[name].astype(str) == value]
    [row] = chosen.itertuples()
    return row


def _selection(inclusion, leave_out):
    """The corpus with the inclusion's effects and the left-out sample's studies removed."""
    drop = {
        "all": lambda s, e: False,
        "primary-sources": lambda s, e: s.extraction.source_type == "review-table",
        "adjusted-only": lambda s, e: e.adjustment in ("unadjusted", "not-reported"),
        "verified-only": lambda s, e: s.extraction.status != "verified",
        "low-risk-of-bias": lambda s, e: s.risk_of_bias.judgement != "low",
    }[inclusion]
    kept = []
    for study in corpus():
        if study.cluster == leave_out:
            continue
        effects = tuple(e for e in study.effects if not drop(study, e))
        if effects:
            kept.append(replace(study, effects=effects))
    return kept


def _pool(tmp_path, rows, *options):
    path = tmp_path / "sel.csv"
    lines = ["yi,vi,cluster"] + [f"{r.yi!r},{r.vi!r},{r.cluster}" for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path, options


HAND_PICKED = [
    # (choices, spec dependence rule, pool options)
    (
        dict(
            adjustment="most-adjusted",
            dependence="two-level",
            inclusion="all",
            leave_out="none",
            estimator="REML",
            inference="knha",
        ),
        "multilevel",
        ("--method", "REML", "--test", "knha"),
    ),
    (
        dict(
            adjustment="least-adjusted",
            dependence="one-per-cohort",
            inclusion="adjusted-only",
            leave_out="c7",
            estimator="DL",
            inference="z",
        ),
        "one-per-cohort",
        ("--method", "DL", "--test", "z"),
    ),
    (
        dict(
            adjustment="all",
            dependence="aggregate",
            inclusion="primary-sources",
            leave_out="s3",
            estimator="PM",
            inference="knha",
        ),
        "aggregate",
        ("--method", "PM", "--test", "knha"),
    ),
    (
        dict(
            adjustment="most-adjusted",
            dependence="two-level",
            inclusion="verified-only",
            leave_out="none",
            estimator="REML",
            inference="z",
        ),
        "multilevel",
        ("--method", "REML", "--test", "z"),
    ),
    (
        dict(
            adjustment="least-adjusted",
            dependence="aggregate",
            inclusion="low-risk-of-bias",
            leave_out="s6",
            estimator="DL",
            inference="knha",
        ),
        "aggregate",
        ("--method", "DL", "--test", "knha"),
    ),
]


@pytest.mark.parametrize(("choices", "rule", "options"), HAND_PICKED)
def test_three_hand_picked_specifications_equal_evidence_pool(
    table, tmp_path, capsys, choices, rule, options
):
    _design, _data, frame, _csv = table
    row = _pick(frame, **choices)
    spec = make_analysis(adjustment=choices["adjustment"], dependence=rule, rho=0.5)
    left = None if choices["leave_out"] == "none" else choices["leave_out"]
    rows = harmonise(_selection(choices["inclusion"], left), spec).included
    path, flags = _pool(tmp_path, rows, *options)
    assert main(["pool", str(path), *flags, "--json"]) == 0
    pooled = json.loads(capsys.readouterr().out)["pooled"]
    assert row.k == pooled["k"] == len(rows)
    assert_allclose(row.estimate, pooled["estimate"], rtol=RTOL_SAME)
    assert_allclose([row.ci_lower, row.ci_upper], pooled["ci"], rtol=RTOL_SAME)
    assert_allclose([row.pi_lower, row.pi_upper], pooled["pi"], rtol=RTOL_SAME)
    assert_allclose(row.tau2, pooled["tau2"], rtol=RTOL_SAME, atol=1e-15)
    assert_allclose(row.i2, pooled["i2"], rtol=RTOL_SAME, atol=1e-12)
    assert_allclose(row.p, pooled["p"], rtol=RTOL_SAME)


def test_a_three_level_specification_equals_evidence_pool_with_cluster(table, tmp_path, capsys):
    _design, _data, frame, _csv = table
    choices = dict(
        adjustment="all",
        dependence="three-level",
        inclusion="all",
        leave_out="none",
        estimator="REML",
        inference="z",
    )
    row = _pick(frame, **choices)
    assert row.model == "three-level"
    rows = harmonise(corpus(), make_analysis(adjustment="all")).included
    path, flags = _pool(tmp_path, rows, "--cluster", "cluster")
    assert main(["pool", str(path), *flags, "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)["dependence"]
    assert_allclose(row.estimate, fit["estimate"], rtol=RTOL_ESTIMATE)
    assert_allclose(row.se, fit["se"], rtol=RTOL_ESTIMATE)
    assert_allclose([row.ci_lower, row.ci_upper], fit["ci"], rtol=RTOL_ESTIMATE)
    assert_allclose(row.p, fit["p"], rtol=RTOL_ESTIMATE)
    assert_allclose(row.tau2, sum(fit["sigma2"]), rtol=RTOL_ESTIMATE, atol=ATOL_SIGMA2)


def test_every_candidate_is_fitted_or_pruned_with_a_reason(table):
    design, data, frame, csv = table
    section = multiverse.summarise(design, data, "exp")
    pruned = {item["reason"]: item["specifications"] for item in section["pruned"]}
    assert section["specifications"] + sum(pruned.values()) == design.specifications
    assert len(frame) == len(csv) == section["specifications"]
    assert frame["spec"].is_monotonic_increasing and frame["spec"].is_unique
    # The three-level model is fitted by REML only: no other estimator beside it.
    assert set(frame.loc[frame["model"] == "three-level", "estimator"].astype(str)) == {"REML"}
    assert pruned["the three-level model is fitted by REML only"] > 0
    # s4 is a review-table study: leaving it out of primary-sources is no new specification.
    absent = frame[(frame["inclusion"] == "primary-sources") & (frame["leave_out"] == "s4")]
    assert absent.empty


@pytest.mark.parametrize("inclusion", ["verified-only", "low-risk-of-bias"])
def test_a_quality_inclusion_no_record_meets_is_pruned_with_its_reason(inclusion, tmp_path):
    """Nothing verified, nothing at low risk of bias (today's corpus): those selections
    are pruned with the reason, not fitted and not reported as merely too few effects."""
    design = multiverse.build_design(corpus(verified=(), low_risk=()), analysis())
    parquet, csv = multiverse.table_paths(tmp_path, "m")
    data = multiverse.compute(design, parquet, csv)
    section = multiverse.summarise(design, data, "exp")
    frame = pandas.read_parquet(parquet)
    assert not (frame["inclusion"].astype(str) == inclusion).any()
    reason = multiverse.PRUNE_REASONS[-1]
    assert "inclusion rule" in reason
    pruned = {item["reason"]: item["specifications"] for item in section["pruned"]}
    # Both quality tables are empty: the selection keeping every sample is pruned with the
    # reason; leaving out a sample the empty table does not hold is no new specification.
    assert not design.tables[design.quality].any()
    assert pruned[reason] == int(design.quality.sum()) * design.per_selection


def test_the_prespecified_row_is_flagged_and_summarised(table):
    design, data, frame, _csv = table
    [row] = frame[frame["prespecified"]].itertuples()
    assert (row.adjustment, row.dependence, row.inclusion, row.leave_out) == (
        "most-adjusted",
        "three-level",
        "all",
        "none",
    )
    assert (row.estimator, row.inference) == ("REML", "knha")
    section = multiverse.summarise(design, data, "exp")
    assert section["prespecified"]["estimate"] == row.estimate
    assert_allclose(section["back_transformed"]["prespecified"]["estimate"], np.exp(row.estimate))
    assert section["most_influential"] in CHOICES


def test_variance_explained_is_eta_squared():
    # Two options: means 1 and 3, grand mean 2; SS between 4 * 1 = 4, SS total 4 + 2 * 0.5 * 2.
    estimate = np.array([0.5, 1.5, 2.5, 3.5])
    codes = np.array([0, 0, 1, 1])
    assert_allclose(multiverse.variance_explained(estimate, codes), 4 / 5)


def test_block_size_does_not_change_which_specifications_there_are(tmp_path, table):
    design, _data, frame, _csv = table
    parquet, csv = multiverse.table_paths(tmp_path, "m")
    multiverse.compute(design, parquet, csv, block_specifications=10_000)
    other = pandas.read_parquet(parquet)
    assert other["spec"].tolist() == frame["spec"].tolist()
    assert_allclose(other["estimate"], frame["estimate"], rtol=RTOL_SAME)


@pytest.mark.slow
def test_a_dask_local_cluster_writes_the_identical_table(tmp_path, table):
    distributed = pytest.importorskip("distributed")
    design, _data, _frame, _csv = table
    single = multiverse.table_paths(tmp_path / "single", "m")
    multiverse.compute(design, *single, block_specifications=97)
    spread = multiverse.table_paths(tmp_path / "dask", "m")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        multiverse.compute(design, *spread, block_specifications=97, client=client)
    for one, other in zip(single, spread, strict=True):
        assert one.read_bytes() == other.read_bytes()


# --------------------------------------------------------------------------- figure and page


@pytest.fixture(scope="module")
def document(table, tmp_path_factory):
    """A results document whose multiverse names the small corpus's table in a build dir."""
    design, data, _frame, _csv = table
    build = tmp_path_factory.mktemp("build")
    parquet, csv = multiverse.table_paths(build / "results", "m")
    multiverse.compute(design, parquet, csv, block_specifications=97)
    section = multiverse.summarise(design, data, "exp")
    section["files"] = {
        "parquet": "results/m-multiverse.parquet",
        "csv": "results/m-multiverse.csv",
    }
    result = {
        "id": "m",
        "title": "M",
        "status": "ok",
        "metric": "log-risk-ratio",
        "back_transform": "exp",
        "multiverse": section,
    }
    return result, build


def test_the_spec_curve_is_drawn_from_the_table_and_readable_on_a_phone(document):
    result, build = document
    written = render_all(result, effects_table(), build / "figures")
    assert written["spec-curve"] == "figures/m-spec-curve.svg"
    path = build / written["spec-curve"]
    title, description = figure_description(path)
    assert title.startswith("Specification curve")
    assert f"{result['multiverse']['specifications']} specifications" in description
    root = ElementTree.parse(path).getroot()
    width = float(root.get("viewBox").split()[2])
    sizes = [float(s) for s in re.findall(r"font-size: ([0-9.]+)px", path.read_text())]
    sizes += [
        float(s) for s in re.findall(r"font: (?:bold |italic )*([0-9.]+)px", path.read_text())
    ]
    assert min(sizes) * PHONE_FIGURE_PX / width >= SMALLEST_TEXT_PX


def test_no_table_no_spec_curve(document, tmp_path):
    result, _build = document
    written = render_all(result, effects_table(), tmp_path / "figures")
    assert "spec-curve" not in written


def test_the_page_section_says_how_robust_the_headline_is_in_words(document):
    result, _build = document
    text = multiverse_section(result).replace("\\", "")  # Markdown escapes aside
    section = result["multiverse"]
    assert f"{section['specifications']:,} of {section['candidates']:,}" in text
    assert "pre-specified analysis" in text and "Variance of the estimates it explains" in text
    assert "NA" not in text.split() and "leave_out" not in text and "None" not in text
    assert multiverse_section({**result, "multiverse": None}) == ""


def test_fully_adjusted_only_is_the_adjustment_sensitivity_table_of_evidence_run(
    table, tmp_path, capsys
):
    _design, _data, frame, _csv = table
    row = _pick(
        frame,
        adjustment="fully-adjusted-only",
        dependence="two-level",
        inclusion="all",
        leave_out="none",
        estimator="REML",
        inference="knha",
    )
    rows = adjustment_variants(corpus(), make_analysis())["fully-adjusted-only"].included
    path, flags = _pool(tmp_path, rows, "--method", "REML", "--test", "knha")
    assert main(["pool", str(path), *flags, "--json"]) == 0
    pooled = json.loads(capsys.readouterr().out)["pooled"]
    assert row.k == pooled["k"]
    assert_allclose(
        [row.estimate, row.ci_lower, row.ci_upper],
        [pooled["estimate"], *pooled["ci"]],
        rtol=RTOL_SAME,
    )


def test_without_leave_one_sample_out_every_sample_is_kept(table):
    design, _data, frame, _csv = table
    block = replace(analysis().multiverse, leave_one_sample_out=False)
    kept = multiverse.build_design(corpus(), make_analysis(test="knha", multiverse=block))
    assert kept.choice("leave_out") == ("none",)
    assert kept.specifications * len(design.choice("leave_out")) == design.specifications
    fitted = multiverse.fit_block(kept, range(kept.selections))
    whole = frame[frame["leave_out"] == "none"]
    assert_allclose(np.sort(fitted.numbers["estimate"]), np.sort(whole["estimate"]), rtol=RTOL_SAME)


def test_equal_estimates_leave_no_variance_to_explain():
    assert (
        multiverse.variance_explained(np.full(6, 0.2401088937), np.array([0, 0, 1, 1, 2, 2]))
        is None
    )


def test_all_ratio_families_let_the_odds_ratios_in_that_the_spec_leaves_out():
    studies = [
        *corpus(),
        make_record(  # verified and at low risk of bias: in every inclusion's table
            "s8",
            make_effect("a", measure="OR", value=1.9, ci=(1.3, 2.8)),
            status="verified",
            judgement="low",
        ),
    ]
    spec = replace(
        analysis(families=("as-specified", "all-ratios")),
        eligibility=Eligibility(measure_families=("hazard",)),
    )
    design = multiverse.build_design(studies, spec)
    families = multiverse.decode(design, np.arange(design.specifications))["families"]
    per_table = design.per_table * design.per_selection
    odds = design.cluster == design.samples.index("s8")
    for table, holds in enumerate(design.tables):
        option = design.choice("families")[families[table * per_table]]
        assert holds[odds].any() == (option == "all-ratios")


# --------------------------------------------------------------------------- by family


def test_a_by_family_analysis_has_one_multiverse_per_pooled_outcome_family(tmp_path):
    """No overall estimate, so no overall multiverse: the pooled family gets its own, whose
    pre-specified row is that family's headline; the family not pooled gets none."""
    from evidence.analyses.runner import run_one
    from evidence.report.book.multiverse import family_multiverse_blocks

    def heart(name, value, ci, **kw):
        return make_effect(name, value=value, ci=ci, domain="cardiovascular", **kw)

    studies = [
        make_record("h1", heart("a", 1.30, (1.10, 1.54))),
        make_record("h2", heart("a", 1.12, (0.95, 1.32)), cohort="c2"),
        make_record("h3", heart("a", 1.60, (1.15, 2.23)), cohort="c2"),
        make_record("h4", heart("a", 1.40, (1.05, 1.87), adjustment="unadjusted")),
        make_record("b1", make_effect("a", value=1.2, ci=(1.1, 1.3), domain="cerebrovascular")),
    ]
    spec = replace(analysis(), select=({"outcome.domain": ("cardiovascular", "cerebrovascular")},))
    document = run_one(spec, harmonise(studies, spec), {"inputs": {}}, tmp_path, studies=studies)
    assert document["status"] == "by-family" and document["multiverse"] is None
    blocks = {b["family"]: b for b in document["by_family"]}
    assert blocks["cerebrovascular"]["multiverse"] is None
    heart_block = blocks["cardiovascular"]
    section = heart_block["multiverse"]
    frame = pandas.read_parquet(tmp_path / section["files"]["parquet"])
    design = multiverse.build_design(studies, spec, "cardiovascular")
    assert "b1" not in design.samples and design.family is None  # no stroke effect at all
    [row] = frame[frame["prespecified"]].itertuples()
    pooled = heart_block["pooled"]
    assert row.k == pooled["k"] == 4
    assert_allclose(row.estimate, pooled["estimate"], rtol=RTOL_SAME)
    assert_allclose([row.ci_lower, row.ci_upper], pooled["ci"], rtol=RTOL_SAME)
    assert_allclose(row.p, pooled["p"], rtol=RTOL_SAME)
    assert sorted(p.name for p in (tmp_path / "results").glob("a-multiverse*")) == sorted(
        Path(f).name for f in section["files"].values()
    )
    texts = dict((b["family"], text) for b, text in family_multiverse_blocks(document))
    assert "every specification pools this kind of outcome only" in texts["cardiovascular"]
    assert texts["cerebrovascular"].startswith("No multiverse for this kind of outcome")
