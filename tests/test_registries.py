"""One registry per extension point: what reads the registries agrees with them.

tau^2 estimators (stats/tau2.py), effect measures (effects/escalc.py), back-transforms
(stats/transforms.py), figure kinds (report/plots) and site pages (report/book).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from evidence.analyses import fit
from evidence.analyses.spec import analysis_schema
from evidence.cli import build_parser
from evidence.effects.escalc import MEASURE_REGISTRY, MEASURES, REQUIRED_COLUMNS, back_transform
from evidence.report.plots.data import pooled_from
from evidence.report.plots.forest import model_label
from evidence.stats import dependence
from evidence.stats.pooling import pool
from evidence.stats.tau2 import ESTIMATORS, METHODS, estimate_tau2
from evidence.stats.transforms import PARAMETERISED_TRANSFORMS, TRANSFORMS

# dat.bcg (Colditz 1994), log risk ratios and variances (metafor escalc "RR").
BCG_YI = [
    -0.8893,
    -1.5854,
    -1.3481,
    -1.4416,
    -0.2175,
    -0.7861,
    -1.6209,
    0.0120,
    -0.4694,
    -1.3713,
    -0.3394,
    0.4459,
    -0.0173,
]
BCG_VI = [
    0.3256,
    0.1946,
    0.4154,
    0.0200,
    0.0512,
    0.0069,
    0.2230,
    0.0040,
    0.0564,
    0.0730,
    0.0124,
    0.5325,
    0.0714,
]


def _choices(command: str, option: str) -> tuple[str, ...]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return tuple(next(a for a in sub._actions if option in a.option_strings).choices)


# --------------------------------------------------------------------- tau^2 estimators


def test_methods_are_the_estimator_registry():
    assert METHODS == tuple(ESTIMATORS)
    assert _choices("pool", "--method") == METHODS


def test_analysis_schema_method_enum_is_the_registry():
    method = analysis_schema()["properties"]["model"]["properties"]["method"]
    assert method["enum"] == list(METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_every_estimator_has_a_label_a_reference_and_runs(name):
    estimator = ESTIMATORS[name]
    assert estimator.name == name and estimator.label and estimator.reference
    tau2 = estimate_tau2(BCG_YI, BCG_VI, name)
    assert math.isfinite(tau2) and tau2 >= 0
    assert (name == "FE") == (tau2 == 0)


@pytest.mark.parametrize("name", METHODS)
def test_forest_plot_names_every_estimator_by_its_label(name):
    label = model_label(
        pooled_from({"method": name, "test": "z", "estimate": 0.1, "ci": [0.0, 0.2]})
    )
    assert f"({ESTIMATORS[name].label}, z)" in label


def test_hunter_schmidt_has_its_name_on_the_forest_plot():
    label = model_label(
        pooled_from({"method": "HS", "test": "knha", "estimate": 0.1, "ci": [0.0, 0.2]})
    )
    assert label == "Random-effects model (Hunter-Schmidt, Knapp-Hartung)"


# ---------------------------------------------------------------------- effect measures


def test_measures_and_columns_are_the_measure_registry():
    assert MEASURES == tuple(MEASURE_REGISTRY)
    assert REQUIRED_COLUMNS == {m.name: m.columns for m in MEASURE_REGISTRY.values()}
    assert _choices("pool", "--measure") == MEASURES
    assert _choices("effects", "--measure") == MEASURES


@pytest.mark.parametrize("name", MEASURES)
def test_every_measure_names_a_registered_back_transform(name):
    measure = MEASURE_REGISTRY[name]
    assert (
        measure.back_transform is None
        or measure.back_transform in TRANSFORMS
        or measure.back_transform in PARAMETERISED_TRANSFORMS
    )
    assert measure.scale in ("log", "logit", "fisher-z", "arcsine", "identity")


def test_metric_info_is_read_from_the_measure_registry():
    assert fit.METRIC_INFO == {
        "log-risk-ratio": ("RR", "log", "exp"),
        "log-odds-ratio": ("OR", "log", "exp"),
        "smd": ("SMD", "identity", None),
        "fisher-z": ("ZCOR", "identity", "tanh"),
        "correlation": ("COR", "identity", None),
    }


# ---------------------------------------------------------------------- back-transforms


def test_transform_choices_are_the_registry():
    assert _choices("pool", "--transform") == tuple(TRANSFORMS)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_both_forms_of_a_transform_agree_and_invert(name):
    transform = TRANSFORMS[name]
    for x in (-1.3, -0.2, 0.0, 0.4, 1.7):
        assert transform.scalar(x) == pytest.approx(float(transform.array(x)), rel=1e-15)
        assert transform.inverse(transform.scalar(x)) == pytest.approx(x, abs=1e-12)


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        ("ZCOR", "tanh"),
        ("COR", None),
        ("RR", "exp"),
        ("OR", "exp"),
        ("SMD", None),
        ("PLO", "ilogit"),
    ],
)
def test_back_transform_per_measure_as_metafor(measure, expected):
    # metafor leaves back-transforms to predict(res, transf = ...): transf.ztor (tanh) for
    # Fisher's z, exp for log ratios, transf.ilogit for logits; a raw correlation (COR)
    # is pooled on its own scale and printed as it is (no transf).
    assert back_transform(measure) == expected


@pytest.mark.parametrize("measure", ["ZCOR", "COR", "RR"])
def test_pool_and_the_three_level_section_back_transform_alike(measure):
    # pool() and the three-level pooled section both apply the registry's back-transform
    # (BackTransformed.of) to their own estimate and intervals.
    yi = np.array([0.12, 0.31, 0.05, 0.22, 0.18, 0.02])
    vi = np.array([0.010, 0.020, 0.015, 0.012, 0.011, 0.018])
    name = back_transform(measure)
    result = pool(yi, vi, measure=measure, transform=name)
    fitted = dependence.three_level(yi, vi, ["a", "a", "b", "b", "c", "c"])
    section = dependence.pooled_section(fitted, transform=name)
    if name is None:
        assert result.back_transformed is None and section["back_transformed"] is None
        return
    function = TRANSFORMS[name].array
    back = result.back_transformed
    assert back.estimate == float(function(result.estimate))
    assert list(back.ci) == [float(x) for x in function(list(result.ci))]
    shown = section["back_transformed"]
    assert shown["estimate"] == float(function(section["estimate"]))
    assert shown["ci"] == [float(x) for x in function(section["ci"])]
    if measure == "ZCOR":
        assert back.estimate == pytest.approx(math.tanh(result.estimate), rel=1e-15)


# ---------------------------------------------------------------------- figure kinds


def test_figure_kinds_are_registered_by_their_modules_in_order():
    from evidence.report.plots.registry import figure_kinds

    kinds = {kind.name: kind.__module__ for kind in figure_kinds()}
    assert list(kinds) == [
        "forest",
        "funnel",
        "cumulative",
        "leave-one-out",
        "influence",
        "baujat",
        "bubble",
        "spec-curve",
        "family-spec-curve",
    ]


def test_figure_names_are_those_of_registered_kinds():
    from evidence.report.plots.registry import is_figure_name

    assert is_figure_name("forest") and is_figure_name("bubble-follow-up-years")
    assert is_figure_name("family-spec-curve-stroke-1a2b3c")
    assert not is_figure_name("family-spec-curve") and not is_figure_name("family-spec-curve-")
    assert not is_figure_name("bubble-") and not is_figure_name("bubble-../x")
    assert not is_figure_name("notes") and not is_figure_name("smoking-forest")


def test_a_new_figure_kind_is_drawn_and_its_stale_file_removed(tmp_path, monkeypatch):
    import pandas
    from matplotlib.figure import Figure

    from evidence.report.plots import registry, render_all
    from evidence.report.plots.registry import Drawing, FigureKind

    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))

    def draw(source):
        return [Drawing("dots", "Dot plot", f"{len(source.rows)} dots", Figure)]

    registry.register(FigureKind("dots", 99, lambda source: True, draw))
    result = {"id": "a", "title": "A", "status": "ok", "metric": "smd", "pooled": None}
    effects = pandas.DataFrame(
        {"label": ["x", "y"], "included": [True, True], "yi": [0.1, 0.2], "sei": [0.1, 0.1]}
    )
    written = render_all(result, effects, tmp_path)
    assert list(written)[-1] == "dots" and (tmp_path / "a-dots.svg").is_file()
    # not pooled: only the kinds marked `unpooled` (the forest of the studies) are drawn
    unpooled = render_all({**result, "status": "insufficient-evidence"}, effects, tmp_path)
    assert set(unpooled) == {"forest"}
    assert not (tmp_path / "a-dots.svg").exists()


# ---------------------------------------------------------------------- site pages


def _site_inputs(tmp_path):
    from test_book_fixtures import make_result, make_study, write_results

    from evidence.report.book.inputs import Bibliography, load_results
    from evidence.report.book.pages import SiteInputs

    build = tmp_path / "build"
    result = make_result()
    write_results(build / "results", [result], {result["id"]: []})
    analyses, _ = load_results(build / "results")
    return SiteInputs([make_study()], Bibliography(None, frozenset()), analyses, None, build)


def test_every_registered_site_page_is_written_and_the_sidebar_follows_the_registry(tmp_path):
    import yaml

    from evidence.report.book.pages import SITE_PAGES, generate_pages

    inputs = _site_inputs(tmp_path)
    generate_pages(inputs, tmp_path / "book")
    generated = tmp_path / "book" / "_generated"
    for name in ("catalogue", "prisma", "bibliography", "contributing-guide", "landing"):
        assert (generated / f"{name}.md").is_file()
    toc = yaml.safe_load((generated / "_toc.yml").read_text(encoding="utf-8"))
    listed = [(part["caption"], [c["file"] for c in part["chapters"]]) for part in toc["parts"]]
    expected: dict[str, list[str]] = {}
    for page in SITE_PAGES:
        if page.toc_part:
            expected.setdefault(page.toc_part, []).extend(
                f"_generated/{f}" for f in page.toc_files(inputs)
            )
    shown = [(caption, files) for caption, files in expected.items() if files]  # empty: none
    assert listed == [*shown, ("About", ["methods", "contributing"])]


def test_a_registered_site_page_is_generated_and_listed(tmp_path, monkeypatch):
    from evidence.report.book import pages

    def write(page):
        page.writer.text("glossary.md", "# Glossary\n")

    glossary = pages.SitePage("glossary", write, "About the evidence", lambda i: ["glossary"])
    monkeypatch.setattr(pages, "SITE_PAGES", (*pages.SITE_PAGES, glossary))
    pages.generate_pages(_site_inputs(tmp_path), tmp_path / "book")
    generated = tmp_path / "book" / "_generated"
    assert (generated / "glossary.md").read_text(encoding="utf-8") == "# Glossary\n"
    assert "_generated/glossary" in (generated / "_toc.yml").read_text(encoding="utf-8")
