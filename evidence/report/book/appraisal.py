"""How far an analysis can be trusted, shown from what the runner judged (issue 13).

The runner writes the pooling rules it applied (``eligibility``), the adjustment
sensitivity analysis (``adjustment``), the risk of bias of every study (``risk_of_bias``,
ROBINS-E domains), the GRADE certainty with a footnote per domain (``certainty``), the
finding sentence (``finding``), the plain-language summary (``plain_language``) and, for
an analysis that keeps outcome families apart, one block per family (``by_family``): the
"Results files" contract in ARCHITECTURE.md. This module lays them out for readers and
never recomputes them; every string it shows is the runner's reader-facing text or fixed
words written here.

GRADE evidence profiles put each domain's judgement in a row with a lettered footnote
that says why (Guyatt et al. 2011, J Clin Epidemiol 64:383-394, "GRADE guidelines 1");
risk-of-bias tables follow the robvis traffic-light layout (McGuinness and Higgins 2021,
Res Synth Methods 12:55-61): a symbol and a word in each cell, so colour is never the only
carrier of meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.report.book.context import SiteContext
from evidence.report.book.dates import date_words
from evidence.report.book.escape import escape_markdown as esc
from evidence.report.book.markdown import bullets, heading, join_blocks, table
from evidence.report.book.numbers import (
    integer,
    interval,
    metric_words,
    natural,
    number,
    percent,
)
from evidence.report.values import finite
from evidence.report.wording import code_words

#: A risk-of-bias judgement as (symbol, words, CSS class): robvis symbols and colours.
JUDGEMENT_MARKS = {
    "low": ("+", "low", "rob-low"),
    "some-concerns": ("\u2212", "some concerns", "rob-some"),
    "moderate": ("\u2212", "moderate", "rob-some"),
    "high": ("\u00d7", "high", "rob-high"),
    "serious": ("\u00d7", "serious", "rob-high"),
    "very-high": ("\u00d7\u00d7", "very high", "rob-very-high"),
    "critical": ("\u00d7\u00d7", "critical", "rob-very-high"),
    "unclear": ("?", "unclear", "rob-none"),
    "not-assessed": ("?", "not assessed", "rob-none"),
}

#: Where the GRADE levels are defined (a label on book/methods.md).
LEVELS_REF = "{ref}`What the certainty levels mean <certainty-levels>`"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def judgement_cell(judgement: Any) -> str:
    """Return a traffic-light cell: a coloured symbol and the judgement in words."""
    symbol, words, css = JUDGEMENT_MARKS.get(
        str(judgement or "not-assessed"), ("?", code_words(judgement) or "not assessed", "rob-none")
    )
    return f'<span class="rob {css}" aria-hidden="true">{symbol}</span> {esc(words)}'


def certainty_badge(certainty: Mapping[str, Any]) -> str:
    """Return ``⊕⊕⊝⊝ low`` (plain text) with ``(provisional)`` when the runner says so."""
    level = str(certainty.get("level") or "")
    if not level:
        return "not rated"
    symbol = str(certainty.get("symbol") or "")
    text = f"{symbol} {level}".strip()
    return text + (" (provisional)" if certainty.get("provisional") else "")


def finding_statement(result: Mapping[str, Any]) -> str:
    """Return the runner's finding sentence (Santesso wording), or '' when it gave none."""
    return str(_mapping(result.get("finding")).get("statement") or "")


def not_pooled_message(result: Mapping[str, Any]) -> str:
    """Return why nothing was pooled, said once ("Not pooled: ..." is not repeated)."""
    message = str(result.get("message") or "too few usable effects").strip()
    return (
        message
        if message.lower().startswith(("not pooled", "no overall"))
        else (f"Not pooled: {message.rstrip('.')}.")
    )


def family_statements(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (family, sentence) for each outcome family of a ``by-family`` analysis."""
    found = []
    for family in _list(result.get("by_family")):
        name = str(family.get("family") or "outcome")
        sentence = finding_statement(family) or not_pooled_message(family)
        found.append((name[:1].upper() + name[1:], sentence))
    return found


def plain_language_box(result: Mapping[str, Any]) -> str:
    """Return the plain-language summary (who, exposure, outcome, found, how sure) as a box."""
    summary = _mapping(result.get("plain_language"))
    parts = [
        ("Who", summary.get("who")),
        ("Exposure", summary.get("exposure")),
        ("Outcome", summary.get("outcome")),
        ("What we found", summary.get("what_we_found")),
        ("How sure we are", summary.get("how_sure")),
    ]
    lines = [f"**{name}:** {esc(text)}" for name, text in parts if text]
    if not lines:
        return ""
    return (
        ":::{admonition} In plain language\n:class: note plain-language\n\n"
        + "\n\n".join(lines)
        + "\n:::\n"
    )


def eligibility_section(result: Mapping[str, Any]) -> str:
    """Return the pooling rules the runner applied and whether each was met."""
    section = _mapping(result.get("eligibility"))
    rows = [
        [
            esc(_RULE_WORDS.get(str(check.get("rule")), code_words(check.get("rule")))),
            "met" if check.get("passed") else "**not met**",
            esc(check.get("message")),
        ]
        for check in _list(section.get("checks"))
    ]
    if not rows:
        return ""
    blocks = [
        esc(
            "Before anything is pooled, the analysis plan's rules are checked: enough "
            "independent samples, one kind of outcome, one kind of ratio (unless the plan "
            "justifies combining them) and comparable contrasts."
        ),
        table(["Rule", "Met?", "What the data show"], rows, "cards"),
    ]
    justification = _mapping(section.get("measure_families")).get("justification")
    if justification:
        blocks.append(esc(f"Why different kinds of ratio are combined: {justification}"))
    return join_blocks(blocks)


_RULE_WORDS = {
    "min-samples": "Enough independent samples",
    "one-outcome-family": "One kind of outcome",
    "one-measure-family": "One kind of effect measure",
    "contrast-types": "Comparable contrasts",
}


def adjustment_section(result: Mapping[str, Any]) -> str:
    """Return the adjustment sensitivity table (most, least, fully adjusted only)."""
    section = _mapping(result.get("adjustment"))
    rows = []
    for row in _list(section.get("sensitivity")):
        if row.get("estimable"):
            numbers = natural(result, row)
            estimate = number(numbers["estimate"])
            ci, pi = interval(numbers["ci"]), interval(numbers["pi"])
        else:
            estimate, ci, pi = "not pooled", "", ""
        chosen = row.get("rule") == section.get("rule")
        label = str(row.get("label") or code_words(row.get("rule")))
        rows.append(
            [
                esc(label) + (" (the main analysis)" if chosen else ""),
                esc(f"{integer(row.get('k'))} ({integer(row.get('samples'))})"),
                esc(estimate),
                esc(ci),
                esc(pi),
            ]
        )
    if not rows:
        return ""
    counts = _mapping(section.get("included"))
    used = [
        f"{integer(n)} {code_words(level)}"
        for level, n in counts.items()
        if isinstance(n, int | float) and n
    ]
    intro = (
        "Studies often report several models with more or fewer confounders. The main "
        "analysis uses the rule in the first row marked as such; the other rows show how "
        "much the answer depends on that choice."
    )
    if used:
        intro += f" Estimates in the main analysis: {', '.join(used)}."
    note = _mapping(result.get("finding")).get("adjustment_note")
    blocks = [esc(intro)]
    if note:
        blocks.append(":::{caution}\n" + esc(str(note)) + "\n:::\n")
    blocks.append(
        table(
            ["Which estimate of each study", "Effects (samples)", "Estimate", "95% CI", "95% PI"],
            rows,
            "cards",
        )
    )
    return join_blocks(blocks)


def risk_of_bias_section(result: Mapping[str, Any], context: SiteContext) -> str:
    """Return the traffic-light table: one row per study, one column per ROBINS-E domain."""
    section = _mapping(result.get("risk_of_bias"))
    domains = _list(section.get("domains"))
    studies = _list(section.get("studies"))
    if not domains or not studies:
        return ""
    headers = [
        "Study",
        *(f"D{i} {esc(d.get('label') or d.get('name'))}" for i, d in enumerate(domains, 1)),
        "Overall",
        "Weight",
    ]
    pooled = result.get("status") == "ok"
    rows, reasons = [], []
    for entry in studies:
        judged = _mapping(entry.get("domains"))
        support = _mapping(entry.get("support"))
        study = str(entry.get("study") or "")
        rows.append(
            [
                context.named_link(study),
                *(judgement_cell(judged.get(str(d.get("name")))) for d in domains),
                judgement_cell(entry.get("overall")),
                esc(percent(entry.get("weight"), 1) if pooled else "not pooled"),
            ]
        )
        for i, d in enumerate(domains, 1):
            text = support.get(str(d.get("name")))
            if text:
                reasons.append(f"{context.named_link(study)}, D{i}: {esc(text)}")
    summary = _mapping(section.get("summary"))
    tool = str(section.get("tool") or "ROBINS-E")
    intro = (
        f"Risk of bias per study, by {tool} domain (Higgins et al. 2024). A domain is judged "
        'only from what a record\'s quotes and sources support; "not assessed" means nobody '
        "has judged it yet, never that it is fine."
    )
    if summary:
        intro += (
            f" {integer(summary.get('assessed'))} of {integer(summary.get('studies'))} studies "
            "have any judgement"
            + (
                f"; studies not assessed carry {percent(summary.get('weight_not_assessed'))} "
                "of the weight."
                if pooled and finite(summary.get("weight_not_assessed"))
                else "."
            )
        )
    blocks = [esc(intro), table(headers, rows, "rob-table cards")]
    if reasons:
        blocks += ["Why each judged domain was judged so:", bullets(reasons)]
    blocks.append(
        esc(
            "Symbols: + low; \u2212 some concerns; \u00d7 high; \u00d7\u00d7 very high; "
            "? not assessed or unclear."
        )
    )
    return join_blocks(blocks)


def _mark(mark: Any) -> str:
    return f"{{sup}}`{esc(mark)}`" if mark else ""


def _change(final: Any, up: bool = False) -> str:
    steps = int(final) if isinstance(final, int | float) and not isinstance(final, bool) else 0
    if steps == 0:
        return "none"
    word = "up" if up else "down"
    return f"{word} {steps} level{'s' if steps != 1 else ''}"


def certainty_section(result: Mapping[str, Any], title: str = "") -> str:
    """Return the GRADE evidence profile of one estimate: level, domains, footnotes.

    Each domain (and each reason to rate up) is a row with its judgement, the change it made
    and a lettered footnote saying why in words; the level is shown with its symbol and the
    GRADE definition; a provisional rating says why.
    """
    certainty = _mapping(result.get("certainty"))
    if not certainty.get("level"):
        if str(result.get("kind") or "") == "check":
            return esc("A check of the pipeline is not a finding, so it is not rated.")
        return esc("Not rated: there is no pooled estimate to rate.")
    rows, notes = [], []
    for domain in _list(certainty.get("domains")):
        rows.append(
            [
                esc(domain.get("label") or code_words(domain.get("domain")))
                + _mark(domain.get("mark")),
                esc(domain.get("rating")),
                esc(_change(domain.get("final"))),
            ]
        )
        notes.append(_footnote(domain))
    for upgrade in _list(certainty.get("upgrades")):
        rows.append(
            [
                esc(upgrade.get("label") or code_words(upgrade.get("domain")))
                + _mark(upgrade.get("mark")),
                esc(upgrade.get("rating")),
                esc(_change(upgrade.get("final"), up=True)),
            ]
        )
        notes.append(_footnote(upgrade))
    level = str(certainty.get("level"))
    head = f"**{esc(certainty.get('symbol') or '')} {esc(level.capitalize())} certainty**"
    if title:
        head = f"{esc(title)}: " + head
    blocks = [
        head
        + (" " + esc("(provisional)") if certainty.get("provisional") else "")
        + ". "
        + esc(certainty.get("definition") or ""),
    ]
    start = certainty.get("start")
    if start:
        blocks.append(
            esc(
                f"Starting level: {start}"
                + (f" ({certainty['start_reason']})" if certainty.get("start_reason") else "")
                + "."
            )
        )
    if rows:
        blocks.append(
            table(["GRADE domain", "Judgement", "Change to the certainty"], rows, "grade-table")
        )
        blocks.append(bullets(note for note in notes if note))
    if certainty.get("provisional") and certainty.get("provisional_reason"):
        blocks.append(":::{caution}\n" + esc(str(certainty["provisional_reason"])) + "\n:::\n")
    blocks.append(LEVELS_REF + esc("; they follow GRADE (Balshem et al. 2011)."))
    return join_blocks(blocks)


def _footnote(domain: Mapping[str, Any]) -> str:
    text = str(domain.get("footnote") or domain.get("reason") or "")
    if not text:
        return ""
    override = domain.get("override")
    if isinstance(override, Mapping) and override.get("justification"):
        text += f" Reviewer's judgement: {override['justification']}"
    mark = domain.get("mark")
    return (f"{{sup}}`{esc(mark)}` " if mark else "") + esc(text)


def history_section(result: Mapping[str, Any], history: Mapping[str, Any] | None) -> str:
    """Return the evidence history as a table: date, effects, samples, estimate per series.

    ``history`` is ``build/history/<id>.json`` (``evidence history``); without it the
    section is empty.
    """
    points = _list((history or {}).get("points"))
    if not points:
        return ""
    _, abbreviation, _ = metric_words(result.get("metric"))
    rows = []
    for point in points:
        series = _mapping(point.get("series"))
        shown = []
        for name, entry in series.items():
            entry = _mapping(entry)
            estimate, ci = entry.get("estimate"), entry.get("ci")
            prefix = "" if name == "overall" else f"{name}: "
            if isinstance(estimate, int | float) and isinstance(ci, list) and len(ci) == 2:
                shown.append(f"{prefix}{abbreviation} {number(estimate)} ({interval(tuple(ci))})")
            else:
                shown.append(f"{prefix}not pooled")
        rows.append(
            [
                esc(date_words(str(point.get("date")))),
                esc(f"{integer(point.get('k'))} ({integer(point.get('samples'))})"),
                "<br>".join(esc(text) for text in shown),
                esc(str(point.get("commit") or "")[:10]),
            ]
        )
    return join_blocks(
        [
            esc(
                "The pooled estimate after each change to this analysis's plan or to the "
                "records it selects, from the project's git history (oldest first), each "
                "fitted with today's code and rules. The last row is the evidence as of "
                "the latest commit."
            ),
            table(["After the change of", "Effects (samples)", "Result", "Commit"], rows, "cards"),
        ]
    )


def by_family_section(result: Mapping[str, Any]) -> str:
    """Return one block per outcome family: its sentence, numbers and certainty."""
    families = _list(result.get("by_family"))
    if not families:
        return ""
    blocks = [
        esc(
            "Each kind of outcome is summarised on its own; no overall estimate is given "
            "across them."
        )
    ]
    for family in families:
        name = str(family.get("family") or "outcome")
        blocks.append(heading(3, esc(name[:1].upper() + name[1:])))
        statement = finding_statement(family)
        blocks.append(esc(statement or not_pooled_message(family)))
        pooled = _mapping(family.get("pooled"))
        if pooled.get("estimable"):
            numbers = natural(result, pooled)
            blocks.append(
                table(
                    ["Effects (samples)", "Estimate", "95% CI", "95% PI", "I\u00b2"],
                    [
                        [
                            esc(f"{integer(family.get('k'))} ({integer(family.get('samples'))})"),
                            esc(number(numbers["estimate"])),
                            esc(interval(numbers["ci"])),
                            esc(interval(numbers["pi"])),
                            esc(f"{number(pooled.get('i2'), 0)}%"),
                        ]
                    ],
                )
            )
            blocks.append(certainty_section({"certainty": family.get("certainty")}))
        plain = plain_language_box(family)
        if plain and statement:
            blocks.append(plain)
    return join_blocks(blocks)
