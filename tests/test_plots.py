"""Figures: files written, byte-identical reruns, valid accessible SVG, natural scales, safety.

The inputs are written by hand below. No statistics are checked here (the pooled numbers
in the results dicts are stated, not fitted): these tests check what the figures show and
how they are written. Hand derivations are given in comments where a number is expected.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas
import pytest
from conftest import HAZARD_RATIOS, effects_table
from numpy.testing import assert_allclose

from evidence.report.plots import figure_description, render_all, summary_forest
from evidence.report.plots.common import fit_text, safe_text
from evidence.report.plots.data import included_effects
from evidence.report.plots.diagnostics import baujat_points, reference_lines
from evidence.report.plots.funnel import FEW_STUDIES_NOTE
from evidence.report.plots.scale import TICK_GAP_INCHES, Scale, natural_ticks
from evidence.report.plots.summary import summary_groups
from evidence.report.plots.table import Row, axis_limits

SVG = "{http://www.w3.org/2000/svg}"
RTOL = 1e-12
Z = 1.959963984540054

HOSTILE = HAZARD_RATIOS[-1][0]


def pooled(estimate: float, lo: float, hi: float, k: int = 5) -> dict:
    """A pooled result on the log scale from natural-scale numbers."""
    return {
        "k": k,
        "estimate": math.log(estimate),
        "ci": [math.log(lo), math.log(hi)],
        "pi": [math.log(0.9), math.log(1.8)],
        "tau2": 0.012,
        "i2": 45.0,
        "q": 7.3,
        "q_df": k - 1,
        "q_p": 0.12,
        "method": "REML",
        "test": "knha",
    }


def full_result() -> dict:
    labels = [row[0] for row in HAZARD_RATIOS]
    return {
        "id": "isolation-mortality",
        "title": "Social isolation and all-cause mortality",
        "status": "ok",
        "metric": "log-risk-ratio",
        "orient": "fewer-ties-harmful",
        "scale": "log",
        "back_transform": "exp",
        "pooled": pooled(1.29, 1.13, 1.47),
        "subgroups": {
            "population.sex": {
                "subgroups": {"male": pooled(1.3, 1.1, 1.5, 2), "mixed": pooled(1.2, 1.0, 1.4, 3)},
                "q_between": 0.4,
                "q_between_df": 1,
                "q_between_p": 0.53,
            }
        },
        "meta_regression": {
            "follow_up_years": {
                "coefficients": [
                    {"name": "intrcpt", "estimate": 0.3},
                    {"name": "follow_up_years", "estimate": -0.01},
                ],
                "qm": 1.0,
                "qm_df": 1,
                "qm_p": 0.3,
                "r2": 0.0,
                "tau2": 0.01,
                "k": 5,
            }
        },
        "leave_one_out": [
            {"omitted": label, **pooled(1.25 + 0.01 * i, 1.1, 1.45, 4)}
            for i, label in enumerate(labels)
        ],
        "cumulative": [
            {"added": label, **pooled(1.2 + 0.02 * i, 1.0, 1.5, i + 1)}
            for i, label in enumerate(labels)
        ],
        "influence": [
            {
                "study": label,
                "rstudent": 0.1 * i,
                "dffits": 0.05 * i,
                "cook_d": 0.02 * i,
                "cov_r": 1.0,
                "tau2_del": 0.01,
                "q_del": 6.0,
                "hat": 0.2,
                "weight": 20.0,
                "influential": i == 2,
                "baujat_x": 0.5 * i,
                "baujat_y": 0.1 * i,
            }
            for i, label in enumerate(labels)
        ],
        "egger": {"p": 0.21},
    }


EXPECTED_FIGURES = {
    "forest",
    "funnel",
    "cumulative",
    "leave-one-out",
    "influence",
    "baujat",
    "bubble-follow-up-years",
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    directory = tmp_path_factory.mktemp("figures")
    return render_all(full_result(), effects_table(), directory), directory


def svg_texts(path: Path) -> list[str]:
    root = ElementTree.parse(path).getroot()
    return [element.text for element in root.iter(f"{SVG}text") if element.text]


def svg_words(path: Path) -> str:
    """Every text of an SVG joined by spaces (labels wrap over several text lines)."""
    return " ".join(svg_texts(path))


def test_render_all_writes_every_applicable_figure(rendered):
    figures, directory = rendered
    assert set(figures) == EXPECTED_FIGURES
    for name, relative in figures.items():
        assert relative == f"figures/isolation-mortality-{name}.svg"
        assert (directory / f"isolation-mortality-{name}.svg").stat().st_size > 1000


def test_rendering_twice_gives_byte_identical_files(rendered, tmp_path):
    figures, directory = rendered
    again = render_all(full_result(), effects_table(), tmp_path)
    assert again == figures
    for name in figures:
        first = (directory / f"isolation-mortality-{name}.svg").read_bytes()
        second = (tmp_path / f"isolation-mortality-{name}.svg").read_bytes()
        assert first == second, name


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_every_svg_is_valid_xml_with_title_and_description(rendered, name):
    _figures, directory = rendered
    path = directory / f"isolation-mortality-{name}.svg"
    root = ElementTree.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    first, second = list(root)[:2]
    assert first.tag == f"{SVG}title" and "Social isolation" in first.text
    assert second.tag == f"{SVG}desc" and len(second.text) > 40
    text = path.read_text(encoding="utf-8")
    assert "Date" not in text and "Matplotlib v" not in text


def test_forest_description_gives_the_pooled_estimate_on_the_natural_scale(rendered):
    _figures, directory = rendered
    title, description = figure_description(directory / "isolation-mortality-forest.svg")
    assert title == "Forest plot: Social isolation and all-cause mortality"
    # exp(ln 1.29) = 1.29 and so on: the description back-transforms the log-scale numbers.
    assert "Forest plot of 5 effects; pooled RR 1.29 (1.13 to 1.47)" in description
    assert "95% prediction interval 0.90 to 1.80" in description
    assert "I2 = 45%" in description


def test_forest_of_a_log_metric_has_natural_scale_ticks(rendered):
    _figures, directory = rendered
    texts = svg_texts(directory / "isolation-mortality-forest.svg")
    assert "1" in texts  # the null of a ratio, at log position 0
    assert "0" not in texts  # no log-scale label
    assert "Risk ratio (log scale)" in texts
    # Eng 2002, HR 1.19 (1.06 to 1.34): the CI drawn is exp(yi -/+ 1.96 sei), symmetric on
    # the log scale: 1.19 * sqrt(1.34 / 1.06) = 1.3380 and 1.19 / sqrt(1.34 / 1.06) = 1.0584.
    words = svg_words(directory / "isolation-mortality-forest.svg")
    assert "1.19 [1.06, 1.34]" in words
    assert "1.29 [1.13, 1.47]" in words  # the pooled row
    assert "Pooled estimate (k = 5)" in words
    assert "[0.90, 1.80]" in words  # the prediction interval row
    assert {"men (k = 2)", "women and men (k = 3)"} <= set(texts)  # subgroup diamonds
    # each axis says what its sides mean, from the metric, orientation and outcome
    assert "\u2190 lower risk of" in words and "with fewer ties \u2192" in words
    assert {"L", "M", "H", "?"} <= set(texts)  # risk-of-bias column
    assert "Excluded 2020" not in texts


def test_hostile_labels_stay_literal_and_escaped(rendered):
    _figures, directory = rendered
    raw = (directory / "isolation-mortality-forest.svg").read_text(encoding="utf-8")
    assert "<script" not in raw
    assert "A&amp;B $x^2$" in raw and "&lt;script&gt;alert(1)" in raw
    # Mathtext is off, so "$x^2$" stays as typed; a label too wide for its column wraps
    # onto more lines (and only past four lines is cut with an ellipsis).
    words = svg_words(directory / "isolation-mortality-forest.svg")
    assert "A&B $x^2$ <script>alert(1)" in words


def test_control_characters_are_removed_so_the_xml_stays_valid(tmp_path):
    effects = effects_table()
    effects.loc[0, "label"] = "Bell\x07 and\nnewline\x00"
    figures = render_all(full_result(), effects, tmp_path)
    texts = svg_texts(tmp_path / "isolation-mortality-forest.svg")
    assert "Bell and newline" in texts
    assert set(figures) == EXPECTED_FIGURES


@pytest.mark.parametrize(
    "missing, gone",
    [
        ("cumulative", {"cumulative"}),
        ("leave_one_out", {"leave-one-out"}),
        ("influence", {"influence", "baujat"}),
        ("meta_regression", {"bubble-follow-up-years"}),
    ],
)
def test_a_missing_section_skips_its_figure(tmp_path, missing, gone):
    result = full_result()
    result[missing] = None
    assert set(render_all(result, effects_table(), tmp_path)) == EXPECTED_FIGURES - gone


def test_a_moderator_without_a_column_gets_no_bubble_plot(tmp_path):
    effects = effects_table().drop(columns=["follow_up_years"])
    assert "bubble-follow-up-years" not in render_all(full_result(), effects, tmp_path)


def test_fewer_than_two_effects_draw_nothing(tmp_path):
    effects = effects_table().iloc[[0, 5]]  # one included effect, one excluded
    assert render_all(full_result(), effects, tmp_path) == {}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "back_transform, metric, null_label, data_label",
    [
        # tanh(atanh(0.2)) = 0.2: a Fisher-z analysis is labelled in correlations.
        ("tanh", "fisher-z", "0", "0.20 [0.10, 0.29]"),
        # identity: an SMD of 0.2 with SE 0.05 has CI 0.2 -/+ 1.96 * 0.05 = [0.10, 0.30].
        (None, "smd", "0", "0.20 [0.10, 0.30]"),
    ],
)
def test_other_scales(tmp_path, back_transform, metric, null_label, data_label):
    effects = pandas.DataFrame(
        {
            "label": ["A", "B", "C"],
            "included": [True, True, True],
            "yi": [math.atanh(0.2) if back_transform else 0.2, 0.1, 0.3],
            "sei": [
                (math.atanh(0.29) - math.atanh(0.1)) / (2 * Z) if back_transform else 0.05,
                0.05,
                0.05,
            ],
        }
    )
    result = {
        "id": "x",
        "title": "T",
        "metric": metric,
        "back_transform": back_transform,
        "pooled": {"estimate": 0.2, "ci": [0.1, 0.3], "pi": None, "k": 3},
    }
    assert set(render_all(result, effects, tmp_path)) == {"forest", "funnel"}
    texts = svg_texts(tmp_path / "x-forest.svg")
    assert null_label in texts
    assert data_label in texts


def test_summary_forest_puts_ratios_and_correlations_on_separate_axes(tmp_path):
    rows = [
        {
            "id": "a",
            "title": "Isolation and mortality",
            "status": "ok",
            "k": 12,
            "estimate": math.log(1.29),
            "ci": [math.log(1.13), math.log(1.47)],
            "pi": [math.log(0.9), math.log(1.8)],
            "i2": 45.0,
            "certainty": "moderate",
            "metric": "log-risk-ratio",
            "back_transform": "exp",
        },
        {
            "id": "b",
            "title": "Marital quality <b>& health</b>",
            "status": "ok",
            "k": 8,
            "back_transformed": {"estimate": 0.07, "ci": [0.03, 0.11], "pi": None},
            "estimate": math.atanh(0.07),
            "ci": [0.0, 0.1],
            "pi": None,
            "certainty": "low",
            "metric": "fisher-z",
            "back_transform": "tanh",
        },
        {
            "id": "c",
            "title": "Depression",
            "status": "insufficient-evidence",
            "k": 1,
            "estimate": None,
            "ci": None,
            "pi": None,
            "back_transform": "exp",
        },
    ]
    first, second = tmp_path / "one.svg", tmp_path / "two.svg"
    summary_forest(rows, first)
    summary_forest(rows, second)
    assert first.read_bytes() == second.read_bytes()
    words = svg_words(first)
    assert "1.29 [1.13, 1.47]" in words
    assert "0.07 [0.03, 0.11]" in words  # the back_transformed numbers are used as given
    assert "Depression" not in words  # not pooled: left to the table, counted in a footnote
    assert "1 question with too little evidence to pool" in words
    assert "Marital quality <b>& health</b> (k = 8)" in words
    assert "&lt;b&gt;&amp; health" in first.read_text(encoding="utf-8")
    assert len(ElementTree.parse(first).getroot().findall(f".//{SVG}g[@id='axes_2']")) == 1
    _title, description = figure_description(first)
    assert description.startswith("Summary forest plot of 2 pooled findings of 3.")


def _index_row(identifier, metric, orient, outcome, ratio, kind="finding"):
    return {
        "id": identifier,
        "title": f"{identifier} title",
        "status": "ok",
        "k": 4,
        "estimate": math.log(ratio),
        "ci": [math.log(ratio) - 0.2, math.log(ratio) + 0.2],
        "pi": None,
        "metric": metric,
        "back_transform": "exp",
        "orient": orient,
        "outcome": outcome,
        "kind": kind,
    }


def test_summary_forest_never_puts_two_outcome_directions_on_one_axis(tmp_path):
    # An odds ratio of survival (more ties beneficial) and risk ratios of death (fewer ties
    # harmful): right of 1 means opposite things, so they get separate axes, each labelled.
    rows = [
        _index_row("death-a", "log-risk-ratio", "fewer-ties-harmful", "all-cause mortality", 1.4),
        _index_row("death-b", "log-risk-ratio", "fewer-ties-harmful", "all-cause mortality", 1.2),
        _index_row("survival", "log-odds-ratio", "more-ties-beneficial", "survival", 1.5),
        _index_row(
            "pipeline", "log-risk-ratio", "fewer-ties-harmful", "all-cause mortality", 2.0, "check"
        ),
    ]
    path = tmp_path / "summary.svg"
    summary_forest(rows, path)
    words = svg_words(path)
    assert "higher risk of all-cause mortality with fewer ties \u2192" in words
    assert "higher odds of survival with more ties \u2192" in words
    assert "pipeline title" not in words  # a check is not a finding
    groups = summary_groups(rows)
    assert [[row["id"] for row in members] for _key, members in groups] == [
        ["death-a", "death-b"],
        ["survival"],
    ]


def test_summary_forest_with_no_rows_writes_nothing(tmp_path):
    summary_forest([], tmp_path / "none.svg")
    assert not (tmp_path / "none.svg").exists()


@pytest.mark.parametrize(
    "lo, hi, length", [(-0.5, 1.8, 1.8), (-0.05, 0.4, 1.8), (-2.0, 2.0, 5.4), (0.02, 0.08, 1.8)]
)
def test_ratio_ticks_are_round_natural_values_that_do_not_collide(lo, hi, length):
    scale = Scale("exp", "Risk ratio", "RR")
    ticks = natural_ticks(scale, lo, hi, length)
    assert len(ticks) >= 2
    assert all(lo <= t <= hi for t in ticks)
    gap = TICK_GAP_INCHES / length * (hi - lo)
    assert all(b - a >= gap - 1e-12 for a, b in zip(ticks, ticks[1:], strict=False))
    if lo <= 0 <= hi:
        assert 0.0 in ticks  # ratio 1, the null, is always labelled
    # every tick is a round natural value: exp(t) has at most two decimals
    naturals = [math.exp(t) for t in ticks]
    assert_allclose(naturals, [round(v, 2) for v in naturals], rtol=1e-9)


def test_weights_are_shown_in_percent():
    # weights 1, 1, 2 sum to 4: 100 * 1 / 4 = 25% and 100 * 2 / 4 = 50%.
    table = pandas.DataFrame(
        {
            "label": ["a", "b", "c"],
            "included": [True, True, True],
            "yi": [0.1, 0.2, 0.3],
            "vi": [0.01, 0.01, 0.005],
            "weight": [1.0, 1.0, 2.0],
        }
    )
    rows = included_effects(table)
    assert_allclose([r.weight for r in rows], [25.0, 25.0, 50.0], rtol=RTOL)
    # sei from vi when sei is absent: sqrt(0.01) = 0.1
    assert_allclose(rows[0].sei, 0.1, rtol=RTOL)


def test_file_names_are_safe(tmp_path):
    result = full_result()
    result["id"] = "../../Evil id"
    figures = render_all(result, effects_table(), tmp_path)
    assert all(re.fullmatch(r"figures/evil-id-[a-z0-9-]+\.svg", path) for path in figures.values())
    assert sorted(p.name for p in tmp_path.iterdir())[0].startswith("evil-id-")


def test_funnel_of_few_effects_says_asymmetry_cannot_be_judged(rendered):
    _figures, directory = rendered
    texts = svg_texts(directory / "isolation-mortality-funnel.svg")
    assert FEW_STUDIES_NOTE in " ".join(" ".join(texts).split())  # k = 5 < 10 (Sterne et al. 2011)
    assert {"p < 0.01", "p \u2265 0.10"} <= set(texts)  # the contour legend
    _title, description = figure_description(directory / "isolation-mortality-funnel.svg")
    assert "Egger's regression test p = 0.210" in description


def test_influence_reference_lines_follow_metafor():
    # k = 5, intercept-only (p = 1): DFFITS cut-off 3 * sqrt(1 / 4) = 1.5; hat 1/5 and 3/5;
    # weight 100/5 = 20; Cook's distance qchisq(0.5, 1) = 0.4549364 (R); tau2 and Q of
    # the full model.
    result = full_result()
    assert reference_lines("dffits", 5, result) == [
        (0.0, "dashed"),
        (-1.5, "dotted"),
        (1.5, "dotted"),
    ]
    assert_allclose([v for v, _ in reference_lines("hat", 5, result)], [0.2, 0.6], rtol=RTOL)
    assert reference_lines("weight", 5, result) == [(20.0, "dashed")]
    assert_allclose(reference_lines("cook_d", 5, result)[0][0], 0.4549364, rtol=1e-6)
    assert reference_lines("tau2_del", 5, result) == [(0.012, "dashed")]
    assert reference_lines("q_del", 5, result) == [(7.3, "dashed")]


@pytest.mark.parametrize(
    "section",
    [
        {"x": [0.1, 0.5, 2.0, 0.3, 0.2], "y": [0.01, 0.2, 0.4, 0.05, 0.1]},
        [{"study": f"S{i}", "x": 0.1 * i, "y": 0.01 * i} for i in range(5)],
    ],
)
def test_baujat_reads_columns_or_rows(tmp_path, section):
    result = full_result()
    result["baujat"] = section
    assert len(baujat_points(result, result["influence"])) == 5
    assert "baujat" in render_all(result, effects_table(), tmp_path)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Bell\x07 and\n  newline\x00", "Bell and newline"),
        (None, ""),
        (math.nan, ""),
        ("x" * 130, "x" * 119 + "\u2026"),  # 120 characters at most (longer ones wrap)
        ("$\\alpha$ <b>", "$\\alpha$ <b>"),  # markup is left to the SVG writer to escape
    ],
)
def test_safe_text(value, expected):
    assert safe_text(value) == expected


def test_fit_text_cuts_to_the_measured_width():
    wide = "W" * 60
    cut = fit_text(wide, 100.0, 9.0)
    assert cut.endswith("\u2026") and len(cut) < len(wide)
    assert fit_text("Eng 2002", 100.0, 9.0) == "Eng 2002"


def test_pooled_label_says_effects_and_studies_when_they_differ(tmp_path):
    result = full_result()
    result["pooled"]["n_studies"] = 4  # five effects from four studies (dependent effects)
    render_all(result, effects_table(), tmp_path)
    assert "Pooled (5 effects, 4 studies)" in svg_words(tmp_path / "isolation-mortality-forest.svg")


def test_forest_groups_effects_under_their_subgroup_with_subtotals(tmp_path):
    effects = effects_table()
    effects["population.sex"] = ["male", "mixed", "male", "mixed", None, "female"]
    render_all(full_result(), effects, tmp_path)
    texts = svg_texts(tmp_path / "isolation-mortality-forest.svg")
    words = svg_words(tmp_path / "isolation-mortality-forest.svg")
    assert "Study, by sex" in words  # field paths are named in words
    assert texts.count("Subtotal (k = 2)") == 1 and texts.count("Subtotal (k = 3)") == 1
    assert "not reported" in texts  # the fifth effect has no level; no subtotal is drawn
    assert "women" not in texts  # "female", only the excluded row has it
    assert "Test for subgroup differences (sex): Q = 0.40, df = 1, p = 0.530" in words
    assert "By sex" not in texts  # not drawn a second time
    assert sum(texts.count(letter) for letter in "LMH?") == 5  # one RoB mark per effect


def test_bubble_plot_states_the_slope(rendered):
    _figures, directory = rendered
    texts = svg_texts(directory / "isolation-mortality-bubble-follow-up-years.svg")
    # slope -0.01 on the log scale: exp(-0.01) = 0.99005, a ratio of 0.990 per year.
    assert (
        "Slope \u22120.010 (\u00d70.990 per unit); k = 5; R\u00b2 = 0%. "
        "Bubble area: inverse-variance weight."
    ) in svg_words(directory / "isolation-mortality-bubble-follow-up-years.svg")
    assert "length of follow-up (years)" in texts  # the axis label, in words


def test_axis_limits_cap_long_intervals():
    # Estimates 0.0, 0.2 and 0.1: core range [0, 0.2], span max(0.2, 0.4) = 0.4, so the
    # diamond's CI [-3, 3] is cut at [0 - 0.4, 0.2 + 0.4] = [-0.4, 0.6], plus a 5% margin
    # of the 1.0 width on each side: (-0.45, 0.65).
    rows = [
        Row("effect", "a", 0.0, -0.1, 0.1),
        Row("effect", "b", 0.2, 0.1, 0.3),
        Row("diamond", "pooled", 0.1, -3.0, 3.0),
    ]
    assert_allclose(axis_limits(rows), (-0.45, 0.65), rtol=RTOL)


@pytest.mark.parametrize("k0, shown", [(2, True), (0, False)])
def test_funnel_shows_trim_and_fill_only_when_studies_were_imputed(tmp_path, k0, shown):
    result = full_result()
    filled = [{"yi": math.log(0.8), "vi": 0.01}, {"yi": math.log(0.9), "vi": 0.04}][:k0]
    result["trimfill"] = {
        "k0": k0,
        "side": "left",
        "estimate": math.log(1.2),
        "ci": [0.0, 0.4],
        "filled": filled,
    }
    render_all(result, effects_table(), tmp_path)
    texts = svg_texts(tmp_path / "isolation-mortality-funnel.svg")
    assert ("Imputed study" in texts) is shown
    assert ("Trim and fill" in texts) is shown
    _title, description = figure_description(tmp_path / "isolation-mortality-funnel.svg")
    assert f"Trim and fill imputes {k0} studies." in description


def test_summary_diamond_cut_by_the_axis_becomes_a_bar_with_a_small_diamond():
    # k = 2 with a t(1) interval: CI 0.06 to 36.7 runs past both ends of the axis, so a
    # diamond cut to the axis would be a solid block; the estimate is drawn as a diamond
    # 2 x 2.5% of the axis width wide, and the CI as a bar. The narrow row keeps its diamond.
    from matplotlib.patches import Polygon

    from evidence.report.plots.summary import summary_figure

    rows = [
        {
            "id": "wide",
            "title": "Wide",
            "status": "ok",
            "k": 2,
            "estimate": math.log(1.49),
            "ci": [math.log(0.06), math.log(36.67)],
            "pi": None,
            "metric": "log-risk-ratio",
            "back_transform": "exp",
        },
        {
            "id": "narrow",
            "title": "Narrow",
            "status": "ok",
            "k": 9,
            "estimate": math.log(1.4),
            "ci": [math.log(1.18), math.log(1.67)],
            "pi": None,
            "metric": "log-risk-ratio",
            "back_transform": "exp",
        },
    ]
    figure = summary_figure(rows)
    (axes,) = [a for a in figure.axes if any(isinstance(p, Polygon) for p in a.patches)]
    lo, hi = axes.get_xlim()
    widths = sorted(float(np.ptp(p.get_xy()[:, 0])) for p in axes.patches if isinstance(p, Polygon))
    assert_allclose(widths, sorted([0.05 * (hi - lo), math.log(1.67) - math.log(1.18)]), rtol=1e-9)


#: The narrowest width a figure is shown at on a 390 px phone (the text column of the site
#: at that width, measured in headless Chromium), and the smallest text a reader should get.
PHONE_FIGURE_PX = 327.0
SMALLEST_TEXT_PX = 11.0


def test_every_figure_is_readable_at_a_phone_width(rendered, tmp_path):
    # An SVG scaled to PHONE_FIGURE_PX draws a font-size of s user units at
    # s * PHONE_FIGURE_PX / viewBox width pixels; every text must reach SMALLEST_TEXT_PX.
    _figures, directory = rendered
    summary_forest(
        [_index_row("a", "log-risk-ratio", "fewer-ties-harmful", "death", 1.3)],
        tmp_path / "summary.svg",
    )
    paths = [*directory.glob("*.svg"), tmp_path / "summary.svg"]
    assert len(paths) >= 8
    for path in paths:
        root = ElementTree.parse(path).getroot()
        width = float(root.get("viewBox").split()[2])
        sizes = [float(s) for s in re.findall(r"font-size: ([0-9.]+)px", path.read_text())]
        sizes += [
            float(s) for s in re.findall(r"font: (?:bold |italic )*([0-9.]+)px", path.read_text())
        ]
        assert sizes, path
        assert min(sizes) * PHONE_FIGURE_PX / width >= SMALLEST_TEXT_PX, (path.name, min(sizes))


def _unpooled(status: str) -> dict:
    result = full_result()
    result.update(status=status, pooled=None, subgroups=None, meta_regression=None)
    result["eligibility"] = {"min_samples": 3, "samples": 2}
    return result


def test_an_analysis_with_too_few_samples_shows_its_studies_without_a_diamond(tmp_path):
    written = render_all(_unpooled("insufficient-evidence"), effects_table(), tmp_path)
    assert set(written) == {"forest"}  # no funnel, cumulative, ... without a pooled fit
    texts = svg_texts(tmp_path / "isolation-mortality-forest.svg")
    words = svg_words(tmp_path / "isolation-mortality-forest.svg")
    assert "Study (not pooled)" in words
    # footnotes wrap over text lines: check the words of each line
    assert "No pooled estimate: 2 independent samples, 3" in words and "needed." in texts
    assert "Pooled" not in words and "prediction interval" not in words
    # each study's 95% CI from its SE, as in the pooled forest: the interval is symmetric
    # on the log scale, ratio / sqrt(hi / lo) to ratio * sqrt(hi / lo)
    _label, ratio, lo, hi, _bias = HAZARD_RATIOS[0]
    half = math.sqrt(hi / lo)
    assert f"{ratio:.2f} [{ratio / half:.2f}, {ratio * half:.2f}]" in words


def test_outcome_families_each_get_their_studies_and_own_diamond_but_no_overall(tmp_path):
    result = _unpooled("by-family")
    result["by_family"] = [
        {
            "family": "coronary heart disease",
            "status": "ok",
            "samples": 3,
            "pooled": pooled(1.45, 0.65, 3.22, 3),
        },
        {"family": "stroke", "status": "insufficient-evidence", "samples": 2, "pooled": None},
    ]
    effects = effects_table()
    effects["outcome_family"] = ["coronary heart disease"] * 3 + ["stroke"] * 3  # 6th excluded
    render_all(result, effects, tmp_path)
    texts = svg_texts(tmp_path / "isolation-mortality-forest.svg")
    words = svg_words(tmp_path / "isolation-mortality-forest.svg")
    assert "Coronary heart disease" in texts and "Stroke" in texts
    assert "Coronary heart disease pooled (k = 3)" in words
    assert "1.45 [0.65, 3.22]" in words
    assert "not pooled: 2 independent samples, 3 needed" in words
    assert "Each kind of outcome on its own: no estimate across" in words
    assert "higher risk of the outcome with fewer ties" in words
