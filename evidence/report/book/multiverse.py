"""The multiverse section of an analysis page: how robust the pre-specified result is.

Built from the results document's ``multiverse`` summary only (the table itself is offered
for download): how many specifications were fitted and pruned, the share whose 95% CI
excludes the null, the median and range of the estimates on the natural scale, where the
pre-specified analysis falls among them, and how much of the variance of the estimates
each choice explains (Simonsohn, Simmons & Nelson 2020; Voracek, Kossmeier & Tran 2019).
The headline stays the pre-specified analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.markdown import join_blocks, table
from evidence.report.book.numbers import integer, interval, metric_words, number, percent

#: What the specification curve shows, for its caption.
CAPTION = (
    "Specification curve: every specification's estimate, sorted, with its 95% CI (blue "
    "where the CI excludes the null, grey where it does not; the diamond is the "
    "pre-specified analysis), and beneath it which option of each choice each specification "
    "takes (darker: more of the specifications at that place take it)."
)


def _share(value: Any) -> str:
    return percent(100 * value, 0) if isinstance(value, int | float) else percent(None)


def multiverse_section(result: Mapping[str, Any], family: Mapping[str, Any] | None = None) -> str:
    """Return the multiverse summary of one analysis page ('' when it has none).

    With ``family`` (a ``by_family`` block of a by-family result), that outcome family's
    own multiverse, whose pre-specified specification is the family's estimate.
    """
    section = (family or result).get("multiverse")
    if not isinstance(section, Mapping) or not section.get("candidates"):
        return ""
    reasons = [
        f"{item.get('reason')} ({integer(item.get('specifications'))})"
        for item in section.get("pruned") or []
        if isinstance(item, Mapping)
    ]
    if not section.get("specifications"):
        return esc(
            f"None of the {integer(section.get('candidates'))} specifications of the multiverse "
            "could be fitted, with the number of specifications: " + "; ".join(reasons) + "."
        )
    shown = section.get("back_transformed") or section
    name, abbreviation, _null = metric_words(result.get("metric"))
    pruned = sum(int(item.get("specifications", 0)) for item in section.get("pruned") or [])
    pre = (shown.get("prespecified") or {}) if isinstance(shown, Mapping) else {}
    where = (section.get("prespecified") or {}).get("percentile")
    rows = [
        (
            "Specifications fitted",
            f"{integer(section['specifications'])} of {integer(section.get('candidates'))}"
            + (f" ({integer(pruned)} could not be fitted)" if pruned else ""),
        ),
        ("Share whose 95% CI excludes the null", _share(section.get("share_ci_excludes_null"))),
        ("Share above the null", _share(section.get("share_above_null"))),
        (f"Median {name} ({abbreviation})", number(shown.get("median"))),
        ("Range", interval(shown.get("range"))),
        ("Middle half (interquartile range)", interval(shown.get("quartiles"))),
    ]
    if pre:
        rows.append(
            (
                "The pre-specified analysis",
                f"{number(pre.get('estimate'))} (95% CI {interval(pre.get('ci'))})"
                + (
                    f", above {number(where, 0)}% of the specifications"
                    if where is not None
                    else ""
                ),
            )
        )
    headline = (
        "The estimate of this kind of outcome above stays the pre-specified analysis; "
        "every specification pools this kind of outcome only."
        if family is not None
        else "The headline above stays the pre-specified analysis."
        if result.get("status") == "ok"
        else "This analysis gives no overall estimate under its own rules (see above), so "
        "none of these numbers is a finding: they show what choices that relax those rules "
        "would give."
    )
    families = ((result.get("eligibility") or {}).get("outcome_families") or {}).get("across")
    if family is None and result.get("status") == "by-family" and families == "separate":
        headline += " Each specification pools one kind of outcome only, as the analysis does."
    blocks = [
        esc(
            "Every defensible combination of the choices below was fitted: the multiverse shows "
            f"how far the result depends on them. {headline}"
        ),
        table(["Quantity", "Value"], [(esc(a), esc(b)) for a, b in rows]),
        _choices_table(section),
    ]
    if reasons:
        blocks.append(
            esc("Not fitted, with the number of specifications: " + "; ".join(reasons) + ".")
        )
    return join_blocks(blocks)


def _choices_table(section: Mapping[str, Any]) -> str:
    """One row per choice: its options and the share of variance it explains, largest first."""
    choices = [c for c in section.get("choices") or [] if isinstance(c, Mapping)]
    varied = [c for c in choices if isinstance(c.get("variance_explained"), int | float)]
    if not varied:
        return ""
    varied.sort(key=lambda c: -float(c["variance_explained"]))
    rows = []
    for choice in varied:
        options = [o for o in choice.get("options") or [] if o.get("specifications")]
        listed = (
            "; ".join(str(o.get("label")) for o in options)
            if len(options) <= 6
            else f"none, or one of {len(options) - 1} samples left out"
        )
        rows.append(
            (
                esc(str(choice.get("label"))),
                esc(listed),
                esc(percent(100 * float(choice["variance_explained"]), 0)),
            )
        )
    return table(["Choice", "Options", "Variance of the estimates it explains"], rows)


def family_multiverse_blocks(result: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], str]]:
    """Each outcome family of a by-family result with its multiverse text (or why none).

    A family that is not pooled has no multiverse: its text says so, with the reason.
    """
    blocks: list[tuple[Mapping[str, Any], str]] = []
    for family in result.get("by_family") or []:
        if not isinstance(family, Mapping) or "multiverse" not in family:
            continue
        text = multiverse_section(result, family)
        if not text and family.get("status") != "ok":
            why = str(family.get("message") or "")
            why = why.removeprefix("Not pooled: ").replace(" The studies are listed below.", "")
            why = why.rstrip(".") or "too few samples"
            text = esc(f"No multiverse for this kind of outcome: it is not pooled ({why}).")
        blocks.append((family, text))
    return blocks
