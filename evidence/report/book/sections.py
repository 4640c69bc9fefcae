"""Sections of an analysis page built from one results document's numbers.

Each function takes the results document (the "Results files" contract in
ARCHITECTURE.md) and returns a Markdown block, or an empty string when the section is
absent. Numbers are shown on the natural scale (ratios, correlations) with
:func:`evidence.report.book.numbers.natural`; heterogeneity stays on the model scale.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from evidence.report.book.escape import doi_url
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.findings import participants_text, pooled_of
from evidence.report.book.markdown import bullets, external_link, heading, join_blocks, table
from evidence.report.book.numbers import (
    MISSING,
    integer,
    interval,
    metric_words,
    natural,
    number,
    p_phrase,
    p_value,
    percent,
)
from evidence.report.values import as_float
from evidence.report.wording import code_words, field_words, reason_words


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def pooled_table(result: Mapping[str, Any]) -> str:
    """Return the pooled estimate, its CI and PI on the natural scale, and its test."""
    pooled = pooled_of(result)
    if not pooled:
        return ""
    numbers = natural(result)
    name, abbreviation, _ = metric_words(result.get("metric"))
    statistic = "t" if pooled.get("df") is not None else "z"
    rows = [
        (
            "Effects (k) and studies",
            f"{integer(pooled.get('k'))} effects, {integer(pooled.get('n_studies'))} studies",
        ),
        ("Participants", participants_text(result)),
        (f"Pooled {name} ({abbreviation})", number(numbers["estimate"])),
        ("95% confidence interval", interval(numbers["ci"])),
        ("95% prediction interval", interval(numbers["pi"])),
        (
            "Test of no effect",
            f"{statistic} = {number(pooled.get('statistic'))}"
            + (f" (df {number(pooled.get('df'), 0)})" if pooled.get("df") is not None else "")
            + f", {p_phrase(pooled.get('p'))}",
        ),
        ("Estimator and test", f"{pooled.get('method', MISSING)}, {pooled.get('test', MISSING)}"),
    ]
    return table(["Quantity", "Value"], [(esc(a), esc(b)) for a, b in rows])


def heterogeneity(result: Mapping[str, Any]) -> str:
    """Return tau-squared, tau, I-squared, H-squared and Cochran's Q with their intervals."""
    pooled = pooled_of(result)
    if not pooled:
        return ""
    rows = [
        (
            "tau\u00b2 (between-study variance, model scale)",
            f"{number(pooled.get('tau2'), 4)} (95% CI {interval(pooled.get('tau2_ci'), 4)})",
        ),
        ("tau", f"{number(pooled.get('tau'), 4)} (95% CI {interval(pooled.get('tau_ci'), 4)})"),
        ("I\u00b2", f"{percent(pooled.get('i2'), 1)} (95% CI {interval(pooled.get('i2_ci'), 1)})"),
        ("H\u00b2", f"{number(pooled.get('h2'))} (95% CI {interval(pooled.get('h2_ci'))})"),
        (
            "Cochran's Q",
            f"{number(pooled.get('q'))} on {number(pooled.get('q_df'), 0)} df, "
            f"{p_phrase(pooled.get('q_p'))}",
        ),
    ]
    return table(["Quantity", "Value"], [(esc(a), esc(b)) for a, b in rows])


def _pooled_row(label: str, result: Mapping[str, Any], pooled: Mapping[str, Any]) -> list[str]:
    numbers = natural(result, pooled)
    ci = interval(numbers["ci"])
    if pooled.get("se") == 0:
        # Knapp-Hartung with identical estimates (Q = 0) gives SE 0: not a real certainty
        ci = "not estimable (SE of 0: identical estimates)"
    return [
        esc(label),
        esc(integer(pooled.get("k"))),
        esc(number(numbers["estimate"])),
        esc(ci),
        esc(percent(pooled.get("i2"))),
    ]


def subgroups(result: Mapping[str, Any]) -> str:
    """Return one table per subgroup field, with the test of subgroup differences."""
    blocks = []
    for field, section in _mapping(result.get("subgroups")).items():
        section = _mapping(section)
        levels = _mapping(section.get("subgroups"))
        rows = [
            _pooled_row(code_words(level), result, _mapping(pooled))
            for level, pooled in levels.items()
        ]
        if not rows:
            continue
        blocks.append(heading(3, f"By {esc(field_words(field))}"))
        blocks.append(table(["Subgroup", "k", "Estimate", "95% CI", "I\u00b2"], rows))
        blocks.append(
            esc(
                f"Test of subgroup differences: Q = {number(section.get('q_between'))}"
                f" on {number(section.get('q_between_df'), 0)} df, "
                f"{p_phrase(section.get('q_between_p'))}."
            )
        )
    return join_blocks(blocks) if blocks else ""


def meta_regression(result: Mapping[str, Any]) -> str:
    """Return one coefficient table per moderator, with the omnibus test and R-squared."""
    blocks = []
    for moderator, section in _mapping(result.get("meta_regression")).items():
        section = _mapping(section)
        rows = [
            [
                esc(field_words(c.get("name"))),
                esc(number(c.get("estimate"), 3)),
                esc(number(c.get("se"), 3)),
                esc(interval(c.get("ci"), 3)),
                esc(p_value(c.get("p"))),
            ]
            for c in _list(section.get("coefficients"))
        ]
        if not rows:
            continue
        blocks.append(heading(3, f"Moderator: {esc(field_words(moderator))}"))
        blocks.append(table(["Term", "Coefficient (model scale)", "SE", "95% CI", "p"], rows))
        blocks.append(
            esc(
                f"Omnibus test: QM = {number(section.get('qm'))} on "
                f"{number(section.get('qm_df'), 0)} df, "
                f"{p_phrase(section.get('qm_p'))}; "
                f"R\u00b2 = {percent(section.get('r2'), 1)}; k = "
                f"{integer(section.get('k'))}."
            )
        )
        k = as_float(section.get("k"))
        if k is None or k < 10:
            blocks.append(
                ":::{caution}\n"
                + esc(
                    "Fewer than 10 effects: a meta-regression this small is unreliable and "
                    "easily finds chance patterns (Cochrane Handbook, section 10.11.5.1). "
                    "Read it as exploratory, not as evidence that the association changes "
                    "with this moderator."
                )
                + "\n:::\n"
            )
    return join_blocks(blocks) if blocks else ""


def independent_effects_note(result: Mapping[str, Any]) -> str:
    """Say, when the pooled result is three-level, that these analyses are univariate.

    Subgroups, meta-regression, sensitivity and small-study analyses treat effects as
    independent; beside a three-level pooled estimate their numbers differ from it, so the
    reader is given the univariate estimate they should be compared with.
    """
    univariate = _mapping(_mapping(result.get("dependence")).get("univariate"))
    if not univariate:
        return ""
    numbers = natural(result, univariate)
    return esc(
        f"These analyses treat the effects as independent (a univariate "
        f"random-effects model): compare them with its estimate, "
        f"{number(numbers['estimate'])} (95% CI {interval(numbers['ci'])}), not with "
        "the three-level pooled estimate above."
    )


def leave_one_out(result: Mapping[str, Any]) -> str:
    """Return the pooled estimate with each study left out in turn."""
    rows = [
        _pooled_row(f"without {entry.get('omitted', '?')}", result, entry)
        for entry in _list(result.get("leave_one_out"))
    ]
    if not rows:
        return ""
    return table(["Omitted", "k", "Estimate", "95% CI", "I\u00b2"], rows)


def influence(result: Mapping[str, Any]) -> str:
    """Return the studies flagged as influential (Viechtbauer and Cheung 2010)."""
    entries = _list(result.get("influence"))
    if not entries:
        return ""
    flagged = [entry for entry in entries if entry.get("influential") is True]
    if not flagged:
        return esc(
            f"No study of {len(entries)} was flagged as influential "
            "(Viechtbauer and Cheung 2010 criteria)."
        )
    rows = [
        [
            esc(e.get("study")),
            esc(number(e.get("rstudent"))),
            esc(number(e.get("dffits"))),
            esc(number(e.get("cook_d"))),
            esc(number(e.get("hat"), 3)),
        ]
        for e in flagged
    ]
    return join_blocks(
        [
            esc(
                f"{len(flagged)} of {len(entries)} studies flagged as influential "
                "(Viechtbauer and Cheung 2010 criteria):"
            ),
            table(["Study", "Studentised residual", "DFFITS", "Cook's distance", "Hat"], rows),
        ]
    )


def small_study_effects(result: Mapping[str, Any]) -> str:
    """Return Egger's and Begg's tests, trim-and-fill, Henmi-Copas and fail-safe N if present."""
    egger, begg = _mapping(result.get("egger")), _mapping(result.get("begg"))
    trimfill, failsafe = _mapping(result.get("trimfill")), _mapping(result.get("failsafe_n"))
    items = []
    if egger:
        limit = natural(result, {"estimate": egger.get("limit_estimate")})["estimate"]
        items.append(
            f"Egger's regression test: statistic {number(egger.get('statistic'))}, "
            f"{p_phrase(egger.get('p'))}; the estimate it projects for a study of unlimited "
            f"size (limit estimate) {number(limit)}."
        )
    pet_peese = _mapping(result.get("pet_peese"))
    if pet_peese:
        items.append(
            "PET-PEESE: "
            + "; ".join(
                f"{key.replace('_', ' ')} {number(value, 3)}"
                for key, value in pet_peese.items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            )
            + "."
        )
    if begg:
        items.append(
            f"Begg's rank correlation: Kendall's tau {number(begg.get('tau'))}, "
            f"{p_phrase(begg.get('p'))}."
        )
    if trimfill:
        filled = natural(result, {"estimate": trimfill.get("estimate"), "ci": trimfill.get("ci")})
        items.append(
            f"Trim-and-fill: {integer(trimfill.get('k0'))} "
            f"{'study' if trimfill.get('k0') == 1 else 'studies'} imputed on the "
            f"{trimfill.get('side', MISSING)} side; adjusted estimate "
            f"{number(filled['estimate'])} (95% CI {interval(filled['ci'])})."
        )
    henmi = _mapping(result.get("henmi_copas"))
    if henmi:
        robust = natural(result, {"estimate": henmi.get("estimate"), "ci": henmi.get("ci")})
        items.append(
            f"Henmi-Copas interval (robust to publication bias): "
            f"{number(robust['estimate'])} (95% CI {interval(robust['ci'])})."
        )
    if failsafe:
        items.append(
            "Fail-safe N is not shown: it assumes unpublished studies average no effect and "
            "ignores heterogeneity, and the Cochrane Handbook (section 13.3.5.3) advises "
            "against it (the number is in the results file)."
        )
    warnings = sorted(
        {
            str(section.get("message"))
            for section in (egger, begg, trimfill)
            if section.get("underpowered") and section.get("message")
        }
    )
    blocks = [bullets(esc(item) for item in items)]
    blocks += [":::{note}\n" + esc(message) + "\n:::\n" for message in warnings]
    return join_blocks(blocks) if items else ""


def low_risk_of_bias_only(result: Mapping[str, Any]) -> str:
    """Return the fit restricted to studies at low risk of bias, when the runner made it."""
    if "low_risk_of_bias_only" not in result or result.get("status") != "ok":
        return ""
    section = result.get("low_risk_of_bias_only")
    if not isinstance(section, Mapping):
        return esc(
            "Restricted to studies at low risk of bias: not estimable (too few such studies)."
        )
    return join_blocks(
        [
            esc("Restricted to studies at low risk of bias:"),
            table(
                ["Fit", "k", "Estimate", "95% CI", "I\u00b2"],
                [_pooled_row("low risk of bias only", result, section)],
            ),
        ]
    )


def notes(result: Mapping[str, Any]) -> str:
    """Return the runner's notes on how the analysis was fitted (one bullet each)."""
    given = result.get("notes")
    if isinstance(given, str):
        given = [given]
    return bullets(esc(reason_words(note)) for note in given) if isinstance(given, list) else ""


def dependence(result: Mapping[str, Any]) -> str:
    """Return how dependent effects were handled, with robust (CR2) inference if given."""
    section = _mapping(result.get("dependence"))
    if not section:
        return ""
    rules = {
        "multilevel": "a three-level model (effects within independent samples)",
        "aggregate": "effects combined within each independent sample",
        "one-per-cohort": "one effect per cohort",
    }
    rule = section.get("rule")
    items = [
        f"How dependent effects were handled: {rules.get(str(rule), code_words(rule) or MISSING)}; "
        f"independent samples: {integer(section.get('n_clusters'))}."
    ]
    sigma2 = section.get("sigma2")
    if isinstance(sigma2, list) and len(sigma2) == 2:
        items.append(
            f"Variance components: between clusters {number(sigma2[0], 4)}, within "
            f"clusters {number(sigma2[1], 4)}."
        )
    univariate = _mapping(section.get("univariate"))
    if univariate:
        numbers = natural(result, univariate)
        items.append(
            f"Ignoring the clustering (every effect independent): estimate "
            f"{number(numbers['estimate'])}, 95% CI {interval(numbers['ci'])}."
        )
    robust = _mapping(section.get("robust"))
    if robust:
        numbers = natural(result, robust)
        items.append(
            f"Cluster-robust (CR2) estimate {number(numbers['estimate'])}, 95% CI "
            f"{interval(numbers['ci'])}, {p_phrase(robust.get('p'))} "
            f"(df {number(robust.get('df'), 1)})."
        )
    return bullets(esc(item) for item in items)


def published(result: Mapping[str, Any]) -> str:
    """Return the published meta-analyses that answer the same question, beside ours.

    A table of the numbers (ours first), then each source's quoted sentence with its link,
    so every published number can be checked against its source.
    """
    entries = _list(result.get("published"))
    if not entries:
        return esc("No published meta-analysis was listed for comparison in the spec.")
    rows = []
    ours = natural(result)
    _, abbreviation, _ = metric_words(result.get("metric"))
    if ours["estimate"] is not None:
        pooled = pooled_of(result)
        rows.append(
            [
                "**This review**",
                esc(result.get("title")),
                esc(integer(pooled.get("k"))),
                esc(integer(pooled.get("n_participants"))),
                esc(f"{abbreviation} {number(ours['estimate'])} ({interval(ours['ci'])})"),
                esc(f"I\u00b2 {percent(pooled.get('i2'))}"),
            ]
        )
    quotes = []
    for entry in entries:
        year = str(entry.get("year") or "")
        year = year if re.fullmatch(r"\d{4}", year) else "year not reported"
        name = esc(f"{entry.get('meta_analysis', '')} {year}".strip())
        link = external_link(name, entry.get("source") or doi_url(entry.get("doi")))
        pooled_text = f"{entry.get('measure', '')} {given(entry.get('pooled'))}"
        if given(entry.get("lo")) != MISSING and given(entry.get("hi")) != MISSING:
            pooled_text += f" ({entry.get('lo')} to {entry.get('hi')})"
        rows.append(
            [
                link,
                esc(f"{entry.get('exposure', '')}; {entry.get('outcome', '')}"),
                esc(given(entry.get("k_studies"))),
                esc(given(entry.get("n_participants"))),
                esc(pooled_text.strip()),
                esc(given(entry.get("heterogeneity"))),
            ]
        )
        if entry.get("quote"):
            quotes.append(f"{link}: {esc(entry['quote'])}")
    return join_blocks(
        [
            table(
                [
                    "Meta-analysis",
                    "Exposure; outcome",
                    "k",
                    "N",
                    "Pooled (95% CI)",
                    "Heterogeneity",
                ],
                rows,
            ),
            esc("As quoted from each source:") if quotes else "",
            bullets(quotes),
        ]
    )


def given(value: Any) -> str:
    """Return a cell of a copied table, with "NA" (and empty cells) said as "not reported".

    >>> given("NA (16 datasets)"), given(None), given(12)
    ('not reported (16 datasets)', 'not reported', '12')
    """
    text = "" if value is None else str(value).strip()
    if not text or text.upper() in ("NA", "N/A", "NAN"):
        return MISSING
    return re.sub(r"\bNA\b", MISSING, text)


def provenance(result: Mapping[str, Any]) -> str:
    """Return which version of the toolkit computed the results, from which input files."""
    section = _mapping(result.get("provenance"))
    inputs = _mapping(section.get("inputs"))
    if not section:
        return ""
    intro = esc(
        f"Computed by evidence {section.get('evidence_version', MISSING)} from "
        f"{len(inputs)} input files (SHA-256 of each, shortened):"
    )
    return join_blocks(
        [intro, bullets(esc(f"{path}: {str(digest)[:16]}") for path, digest in inputs.items())]
    )
