"""Shared test helpers: builders of study records, analysis specs and effects tables, and
the figure callbacks the runner needs to draw figures.

Builders are plain functions (``from conftest import make_record``) so a test states only
what differs from a typical record: a hazard ratio of all-cause mortality for social
isolation, fully adjusted, from the abstract.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas
import pytest

from evidence.analyses.spec import MEASURE_FAMILIES, Analysis, Eligibility
from evidence.records.model import (
    Effect,
    Exposure,
    Extraction,
    Outcome,
    Population,
    RiskOfBias,
    Source,
    Statistic,
    Study,
)
from evidence.report.plots import render_all, summary_forest

#: qnorm(0.975)
Z_975 = 1.959963984540054


def make_effect(
    effect_id: str = "e",
    measure: str = "HR",
    value: float | None = 1.26,
    ci: tuple[float, float] | None = (1.08, 1.48),
    higher_means: str = "fewer-ties",
    higher_is: str = "harmful",
    construct: str = "social-isolation",
    adjustment: str = "fully-adjusted",
    outcome_name: str = "all-cause mortality",
    subgroup: Any = None,
    domain: str = "mortality",
    contrast: str = "isolated vs not",
    locator: str = "abstract",
    **statistic: Any,
) -> Effect:
    """One recorded effect; ``statistic`` adds fields of the :class:`Statistic`."""
    return Effect(
        effect_id,
        Exposure(construct, contrast, higher_means),
        Outcome(domain, outcome_name, higher_is),
        adjustment,
        Statistic(measure, value, ci, **statistic),
        Source(locator, "quote"),
        subgroup=subgroup,
    )


def make_record(
    study_id: str,
    *effects: Effect,
    cohort: str | None = None,
    n: int = 100,
    year: int | None = 2000,
    judgement: str = "not-assessed",
    design: str = "prospective-cohort",
    source_type: str = "abstract",
    status: str = "single",
) -> Study:
    """One study record holding ``effects``."""
    return Study(
        study_id,
        study_id,
        design,
        Population("adults", n=n),
        RiskOfBias("not-assessed", judgement),
        Extraction(status, source_type),
        tuple(effects),
        cohort=cohort,
        year=year,
    )


#: Eligibility that lets every measure family and contrast in and pools from two samples:
#: the mechanics tests use it; tests of the eligibility rules set their own.
PERMISSIVE = Eligibility(
    measure_families=tuple(dict.fromkeys(MEASURE_FAMILIES.values())),
    min_samples=2,
    contrasts=(
        "binary",
        "extreme-categories",
        "category-vs-reference",
        "per-sd",
        "per-unit",
        "not-stated",
    ),
    measure_families_justification="mechanics tests: every family is let in",
)

#: The analysis most harmonisation tests use: mortality on the log risk ratio scale.
ANALYSIS = Analysis(
    id="a",
    title="A",
    question={},
    select=({"outcome.domain": ("mortality",)},),
    metric="log-risk-ratio",
    orient="fewer-ties-harmful",
    adjustment="most-adjusted",
    dependence="multilevel",
    method="REML",
    test="z",
    eligibility=PERMISSIVE,
)


def make_analysis(**changes: Any) -> Analysis:
    """:data:`ANALYSIS` with ``changes`` (e.g. ``metric="smd"``)."""
    return replace(ANALYSIS, **changes)


#: Five hazard ratios with 95% CIs, as a runner would give them: yi = ln(HR),
#: sei = (ln(hi) - ln(lo)) / (2 * 1.959964). The last label is hostile on purpose.
HAZARD_RATIOS = [
    ("Steptoe 2013", 1.26, 1.08, 1.48, "low"),
    ("Eng 2002", 1.19, 1.06, 1.34, "some-concerns"),
    ("Kawachi 1996", 1.90, 1.07, 3.37, "high"),
    ("Pantell 2011", 1.14, 0.82, 1.58, "not-assessed"),
    ("A&B $x^2$ <script>alert(1)</script>", 0.95, 0.70, 1.29, ""),
]


def effects_table() -> pandas.DataFrame:
    """An ``<id>-effects.csv`` table: the five :data:`HAZARD_RATIOS` and one excluded row."""
    rows = []
    for label, ratio, lo, hi, bias in HAZARD_RATIOS:
        sei = (math.log(hi) - math.log(lo)) / (2 * Z_975)
        rows.append(
            {
                "study": label,
                "effect": "e1",
                "label": label,
                "included": True,
                "yi": math.log(ratio),
                "vi": sei**2,
                "sei": sei,
                "weight": 20.0,
                "risk_of_bias": bias,
                "follow_up_years": 5.0 + len(rows),
            }
        )
    rows.append(
        {
            "study": "excluded2020",
            "effect": "e1",
            "label": "Excluded 2020",
            "included": False,
            "reason": "no CI",
            "yi": math.nan,
            "vi": math.nan,
            "sei": math.nan,
            "weight": math.nan,
            "risk_of_bias": "low",
            "follow_up_years": 3.0,
        }
    )
    return pandas.DataFrame(rows)


@pytest.fixture
def draw_figures() -> dict[str, Any]:
    """Keyword arguments that make ``run_analyses`` draw figures, as ``evidence run`` does."""
    return {"render": render_all, "render_summary": summary_forest}
